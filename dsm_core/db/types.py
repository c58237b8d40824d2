"""Column types that mean the same thing on SQLite and PostgreSQL.

- ``UTCDateTime``: always stored and returned as timezone-aware UTC (SQLite has no time zones and
  would otherwise hand back naive values that compare wrongly with aware ones).
- ``JSONType``: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
- ``checked_enum``: a VARCHAR with a named CHECK constraint, never a native PostgreSQL ENUM, so that
  adding a value is a plain migration on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where UTC is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def __repr__(self) -> str:
        return "UTCDateTime()"


# none_as_null: a Python None is SQL NULL (not the JSON literal null), so "IS NULL" means "no value".
JSONType: sa.types.TypeEngine[Any] = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def checked_enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(v) for v in values),
        validate_strings=True,
    )
