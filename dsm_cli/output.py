"""How the CLI prints: JSON for scripts (--json), aligned columns for people.

Values may come from an iDRAC or a CSV: in text output every control character is made visible
(``dsm_core.text.visible``); JSON escapes them itself (``ensure_ascii``), which is kept on on purpose."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from dsm_core.text import visible


def print_json(data: Any, out: TextIO | None = None) -> None:
    """``out`` defaults to sys.stdout as it is when called (not when this module was imported)."""
    out = out or sys.stdout
    json.dump(data, out, indent=2, sort_keys=True, default=str, ensure_ascii=True)
    out.write("\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return visible(",".join(str(v) for v in value)) or "-"
    return visible(str(value))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]],
                out: TextIO | None = None, empty: str = "(none)") -> None:
    """``columns`` is (key, header) pairs; long cells are shown whole, the terminal wraps."""
    out = out or sys.stdout
    if not rows:
        out.write(empty + "\n")
        return
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(len(header), *(len(r[i]) for r in cells)) for i, (_, header) in enumerate(columns)]
    out.write("  ".join(h.upper().ljust(w) for (_, h), w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def print_record(record: dict[str, Any], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            out.write(f"{key}:\n")
            for item in value:
                out.write("  - " + ", ".join(f"{visible(str(k))}={_cell(v)}" for k, v in item.items()) + "\n")
        elif isinstance(value, dict):
            out.write(f"{key.ljust(width)}  {json.dumps(value, sort_keys=True, default=str, ensure_ascii=True)}\n")
        else:
            out.write(f"{key.ljust(width)}  {_cell(value)}\n")


def say(text: str, out: TextIO | None = None) -> None:
    """A line for people that may quote outside data (a target, an error): shown as text."""
    print(visible(text, multiline=True), file=out or sys.stdout)
