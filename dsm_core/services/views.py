"""Plain, JSON-ready views of rows: what the CLI prints with --json and what screens display.

Sealed secrets never leave the service layer: a ``*_sealed`` column becomes ``*_set: true/false``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import SQLModel


def jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def row_view(obj: SQLModel, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in obj.__table__.columns:  # type: ignore[attr-defined]
        name = column.name
        if name in exclude:
            continue
        value = getattr(obj, name)
        if name.endswith("_sealed"):
            out[name.removesuffix("_sealed") + "_set"] = value is not None
            continue
        out[name] = jsonable(value)
    return out
