"""The `/` filter language: free words and `field:value` terms, as operators type them.

``health:critical model:R750 web`` keeps rows whose health contains "critical", whose model contains
"R750" and which mention "web" anywhere. ``!power:on`` negates a term. Matching is case-insensitive
substring matching, the same on every screen; each screen names its fields. A misspelt field is an
error that lists the fields, never a filter that silently matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[Any], bool]


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class Term:
    field: str | None
    value: str
    negate: bool = False


def parse(text: str, fields: Mapping[str, Callable[[Any], str]]) -> list[Term]:
    terms = []
    for word in text.split():
        negate = word.startswith("!")
        word = word[1:] if negate else word
        name, sep, value = word.partition(":")
        if sep and name:
            key = name.lower()
            if key not in fields:
                raise FilterError(f"filter: {name!r} is not a field here; use one of " + ", ".join(sorted(fields)))
            terms.append(Term(key, value.lower(), negate))
        elif word:
            terms.append(Term(None, word.lower(), negate))
    return terms


def _free_text(value: str) -> Callable[[Any], bool]:
    def check(row: Any) -> bool:
        return value in row.haystack

    return check


def _field(value: str, getter: Callable[[Any], str]) -> Callable[[Any], bool]:
    def check(row: Any) -> bool:
        return value in getter(row).lower()

    return check


def compile_filter(text: str, fields: Mapping[str, Callable[[Any], str]]) -> Predicate | None:
    """A predicate over rows with a ``haystack`` attribute, or None for "no filter"."""
    terms = parse(text, fields)
    if not terms:
        return None
    checks: list[Callable[[Any], bool]] = []
    for term in terms:
        check = _free_text(term.value) if term.field is None else _field(term.value, fields[term.field])
        if term.negate:
            def negated(row: Any, c: Callable[[Any], bool] = check) -> bool:
                return not c(row)
            checks.append(negated)
        else:
            checks.append(check)
    if len(checks) == 1:
        return checks[0]
    return lambda row: all(c(row) for c in checks)
