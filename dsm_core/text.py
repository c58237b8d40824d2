"""Outside text shown as text: control characters made visible, never sent to the terminal.

An iDRAC's model, a hostname from a CSV, an SEL message or a job error may hold ESC/CSI/OSC sequences, BEL,
DEL, C1 controls (``\\x9b`` is a one-byte CSI) or bidirectional overrides. Printed as they are, they clear
the operator's screen, retitle the window, plant a hyperlink or hide text. ``visible`` maps each to a
printable stand-in (C0 to the Unicode control pictures, ``␛`` for ESC; C1 and bidi controls to ``\\x9b`` /
``\\u202e``). ``control_characters`` is the check for operator input, which is refused instead.
"""

from __future__ import annotations

_TABLE: dict[int, str] = {i: chr(0x2400 + i) for i in range(0x20)}
_TABLE[0x7F] = "\u2421"  # ␡
_TABLE.update({i: f"\\x{i:02x}" for i in range(0x80, 0xA0)})
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_TABLE.update({i: f"\\u{i:04x}" for i in _BIDI})
_MULTILINE = {k: v for k, v in _TABLE.items() if k not in (0x0A,)}
_MULTILINE[0x09] = "    "
_FORBIDDEN = frozenset(_TABLE)
_ALLOWED_IN_MULTILINE = frozenset({0x09, 0x0A, 0x0D})


def visible(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control character replaced by a visible stand-in; newlines kept if ``multiline``."""
    if text.isprintable():  # the usual case, at C speed: nothing to do
        return text
    return text.translate(_MULTILINE if multiline else _TABLE)


def control_characters(text: str, *, multiline: bool = False) -> list[str]:
    """The control characters in ``text``, spelled as ``visible`` would show them (empty when clean)."""
    if text.isprintable():
        return []
    allowed = _ALLOWED_IN_MULTILINE if multiline else frozenset()
    return sorted({_TABLE[ord(c)] for c in text if ord(c) in _FORBIDDEN and ord(c) not in allowed})



SHELL_SPECIAL = frozenset("$`;&|<>(){}[]*?!~#'\"\\")


def identifier_problem(name: str) -> str | None:
    """Why an operator-typed name (a group, a credential set, a firmware repository) cannot be one: such names
    are completed into shells (dsm completion) and pasted into commands, so none may carry a character a
    shell acts on, or a control character. None when the name is fine."""
    bad = sorted({c for c in name if c in SHELL_SPECIAL})
    if bad:
        return "holds " + " ".join(repr(c) for c in bad) + ": a name may not carry characters a shell acts on"
    if control_characters(name) or any(c in name for c in "\t\n\r"):
        return "holds a control character"
    return None
