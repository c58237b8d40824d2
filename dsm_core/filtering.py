"""The `/` filter language: free words and `field:value` terms, as operators type them.

``health:critical model:R750 web`` keeps rows whose health contains "critical", whose model contains
"R750" and which mention "web" anywhere. ``!power:on`` negates a term. Matching is case-insensitive
substring matching, the same on every screen and in ``dsm servers list --filter``; each names its fields.
A count (``drift``) takes a comparison (``drift:>0``). An address field (``ip``) also takes a CIDR or a
range (``ip:10.1.0.0/22``, ``ip:10.0.0.5-10.0.0.9``),
parsed by the same parser as discovery ranges. A misspelt field, or a CIDR that is not one, is an error
that names the fix, never a filter that silently matches nothing.
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


ADDRESS_FIELDS = frozenset({"ip"})
NUMERIC_FIELDS = frozenset({"drift"})
"""Counts: ``drift:>0``, ``drift:>=3``, ``drift:<2``, ``drift:0`` (equal) compare numbers, not text."""
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
    "=": lambda a, b: a == b, "": lambda a, b: a == b,
}


def _number(name: str, value: str, getter: Callable[[Any], str]) -> Callable[[Any], bool]:
    op = next(o for o in (">=", "<=", ">", "<", "=", "") if value.startswith(o))
    try:
        wanted = float(value[len(op):])
    except ValueError:
        raise FilterError(f"filter: {name}:{value} is not a comparison; write {name}:>0, {name}:>=3, {name}:<2 "
                          f"or {name}:0") from None
    compare = _COMPARE[op]

    def check(row: Any) -> bool:
        try:
            return compare(float(getter(row) or 0), wanted)
        except ValueError:
            return False

    return check


def _address(value: str, getter: Callable[[Any], str]) -> Callable[[Any], bool] | None:
    """A membership test when ``value`` is a CIDR or a range; None when it is a plain substring."""
    if "/" not in value and "-" not in value:
        return None
    from dsm_core.jobtypes import parse_address_spec
    from dsm_core.netaddr import AddressError, parse_endpoint

    try:
        networks = parse_address_spec(value)
    except (AddressError, ValueError) as exc:
        raise FilterError(f"filter: ip:{value} is not a CIDR or range ({exc}); write ip:10.1.0.0/22, "
                          "ip:10.0.0.5-10.0.0.9 or part of an address") from None

    def check(row: Any) -> bool:
        try:
            ip, _ = parse_endpoint(getter(row))
        except (AddressError, ValueError):
            return False
        return any(ip.version == net.version and ip in net for net in networks)

    return check


def compile_filter(text: str, fields: Mapping[str, Callable[[Any], str]]) -> Predicate | None:
    """A predicate over rows with a ``haystack`` attribute, or None for "no filter"."""
    terms = parse(text, fields)
    if not terms:
        return None
    checks: list[Callable[[Any], bool]] = []
    for term in terms:
        check: Callable[[Any], bool] | None = None
        if term.field in ADDRESS_FIELDS:
            check = _address(term.value, fields[term.field])
        elif term.field in NUMERIC_FIELDS:
            check = _number(term.field, term.value, fields[term.field])
        if check is None:
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
