"""Maximum lengths of stored text, enforced in one place for every ORM write.

Text that came from outside (an iDRAC's model or serial, an SEL message, a task log, a job error) is cut at
its column's length with a visible marker, so a hostile device cannot fill the database or the screen and
PostgreSQL never refuses a row for an over-long value. Text an operator typed (any write of a service
mutation, whose session carries REFUSE_LONG_TEXT) is refused instead, naming the field: nothing typed is
silently cut. ``check_length`` does the same for a CSV's cells before anything is written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import AutoString, Session

from dsm_core.services.errors import ValidationError

TRUNCATED = "…[truncated]"
REFUSE_LONG_TEXT = "dsm_refuse_long_text"
"""Session.info key set by the service layer's mutations: there, text is an operator's, refused when too long."""
# Columns declared without a length still get one: generous, but finite.
UNBOUNDED_CAPS: dict[str, int] = {
    "log": 1024 * 1024,
    "error": 8192,
    "error_message": 8192,
    "connection_error": 2048,
    "notes": 8192,
    "description": 4096,
    "endpoint": 4096,
    "full_url": 4096,
    "message": 8192,
}
DEFAULT_UNBOUNDED = 64 * 1024


def clip(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, the last ones saying that it was cut."""
    if len(value) <= limit:
        return value
    if limit <= len(TRUNCATED):
        return value[:limit]
    return value[: limit - len(TRUNCATED)] + TRUNCATED


def column_limit(column: sa.Column[Any]) -> int | None:
    """The most characters ``column`` keeps, or None when it holds no free text (numbers, enums, JSON)."""
    kind = column.type
    if isinstance(kind, sa.Enum) or not isinstance(kind, sa.String | AutoString):
        return None
    return kind.length or UNBOUNDED_CAPS.get(column.name, DEFAULT_UNBOUNDED)


def clip_row(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """The same for a Core insert's row dict (the activity log writes in bulk, past the ORM)."""
    for column in table.columns:
        value = row.get(column.key)
        limit = column_limit(column) if isinstance(value, str) else None
        if limit is not None and isinstance(value, str) and len(value) > limit:
            row[column.key] = clip(value, limit)
    return row


def check_length(field: str, value: str | None, table: sa.Table, column: str) -> None:
    """Refuse operator input longer than its column, naming the field (nothing typed is silently cut)."""
    if value is None:
        return
    limit = column_limit(table.columns[column])
    if limit is not None and len(value) > limit:
        raise ValidationError(field, f"is {len(value)} characters long; at most {limit} are kept",
                              "shorten it")


@event.listens_for(Session, "before_flush")
def _clip_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    refuse = bool(session.info.get(REFUSE_LONG_TEXT))
    for obj in (*session.new, *session.dirty):
        table = getattr(obj, "__table__", None)
        if table is None:
            continue
        for column in table.columns:
            limit = column_limit(column)
            if limit is None:
                continue
            value = getattr(obj, column.key, None)
            if isinstance(value, str) and len(value) > limit:
                if refuse:
                    raise ValidationError(column.key, f"is {len(value)} characters long; at most {limit} are kept",
                                          "shorten it")
                setattr(obj, column.key, clip(value, limit))
