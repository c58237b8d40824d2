"""Plain, JSON-ready views of rows: what the CLI prints with --json and what screens display.

Sealed secrets never leave the service layer: a ``*_sealed`` column becomes ``*_set: true/false``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from dsm_core.db.hidden import is_hidden, secret_set


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
        if name.endswith("_sealed"):
            out[name.removesuffix("_sealed") + "_set"] = secret_set(obj, name)
            continue
        if is_hidden(obj, name):  # a private field this login may not read (PostgreSQL roles)
            out[name] = None
            continue
        out[name] = jsonable(getattr(obj, name))
    return out


def by_id_or_prefix(session: Session, model: Any, ref: object) -> Any:
    """A row by its UUID, or by a unique prefix or suffix of 6 or more characters of it: operators copy a short
    id (the CLI shows a prefix, the console the last 8 hex digits, the random part of a UUIDv7). None if
    nothing, or more than one row, matches."""
    try:
        key = ref if isinstance(ref, uuid.UUID) else uuid.UUID(str(ref).strip())
    except ValueError:
        key = None
    row = session.get(model, key) if key else None
    text = str(ref).strip().lower()
    if row is None and len(text) >= 6:
        as_text = sa.cast(model.id, sa.String)
        matches = session.exec(select(model).where(
            as_text.like(text.replace("-", "") + "%") | as_text.like(text + "%") | as_text.like("%" + text)
        ).limit(2)).all()
        if len(matches) == 1:
            row = matches[0]
    return row
