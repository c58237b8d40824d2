"""Nested data (sensor readings, storage, rollups) as small aligned tables and ``name value`` lines.

What the worker stores from an iDRAC is lists of records and records of records; printing them with
``str()`` would show Python reprs (``[{'name': …}]``) to an operator. Every value is shown as Text (never
markup), with its key as a column header or a label.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from dsm_core.timeutil import humanize_bytes, humanize_duration

MAX_ROWS = 24


def inline(value: Any) -> str:
    """One value on one line: lists joined, records as `key value` pairs, never a Python repr."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(inline(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {inline(v)}" for k, v in value.items())
    return str(value)


def _label(key: Any) -> str:
    text = str(key)
    for suffix in ("_bytes", "_seconds", "Bytes", "Seconds"):
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]  # the unit is in the value: "capacity 960 GB", not "capacity bytes"
    return text.replace("_", " ")


def value_for(key: Any, value: Any) -> str:
    """``inline``, with sizes and durations humanised by what the key says they are."""
    name = str(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if name.endswith(("_bytes", "Bytes")):
            return humanize_bytes(value)
        if name.endswith(("_seconds", "Seconds")):
            return humanize_duration(value)
    return inline(value)


def render_nested(name: str, value: Any, indent: int = 2) -> list[RenderableType]:
    """Renderables for ``value`` under the heading ``name``."""
    pad = " " * indent
    if isinstance(value, dict):
        flat = {k: v for k, v in value.items() if not isinstance(v, dict | list)}
        out: list[RenderableType] = []
        if flat:
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True, style="dim")
            grid.add_column()
            for k, v in flat.items():
                grid.add_row(Text(pad + _label(k)), Text(value_for(k, v)))
            out += [Text(pad + _label(name), style="bold"), grid]
        else:
            out.append(Text(pad + _label(name), style="bold"))
        for k, v in value.items():
            if isinstance(v, dict | list):
                out += render_nested(str(k), v, indent + 2)
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns: list[str] = []
        for row in value:
            columns += [str(k) for k in row if str(k) not in columns]
        table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="dim")
        table.add_column(Text(pad), no_wrap=True)
        for column in columns:
            table.add_column(Text(_label(column)), no_wrap=True, overflow="ellipsis")
        for row in value[:MAX_ROWS]:
            table.add_row(Text(pad), *(Text(value_for(c, row.get(c))) for c in columns))
        more = [Text(f"{pad}… and {len(value) - MAX_ROWS} more", style="dim")] if len(value) > MAX_ROWS else []
        return [Text(pad + _label(name), style="bold"), table, *more]
    return [Text(f"{pad}{_label(name)}  {value_for(name, value)}")]
