"""What a viewer's database login may not read (sealed secrets' blobs, users' private fields; dsm_core.db.roles)
is never selected for it: entity loads on such a connection defer those columns, and whether a secret is set is
read from the owner's ``dsm_secrets_<table>`` views instead. Without this, every ``select(Server)`` of a viewer
would fail on PostgreSQL with "permission denied for table servers" (a column grant leaves the rest readable)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, defer
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel

HIDDEN = "dsm_hidden_columns"
PRESENCE_PREFIX = "dsm_secrets_"


def _hidden(table: sa.Table) -> frozenset[str]:
    from dsm_core.db.roles import hidden_columns

    return hidden_columns(table)


def watch_postgres(engine: sa.Engine) -> None:
    """Ask each new PostgreSQL connection once whether its login may read the hidden columns."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SELECT to_regclass('public.users') IS NOT NULL "
                        "AND NOT has_column_privilege('public.users', 'full_name', 'SELECT')")
            row = cur.fetchone()
        dbapi_conn.rollback()  # the probe must leave no transaction open behind the pool
        record.info[HIDDEN] = bool(row and row[0])


def hides(session: OrmSession) -> bool:
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bool(session.connection().info.get(HIDDEN))


@event.listens_for(Session, "do_orm_execute")
def _defer_hidden(state: ORMExecuteState) -> None:
    if not state.is_select or not hides(state.session):
        return
    options: list[Any] = []
    statement = state.statement
    if not isinstance(statement, sa.Select):
        return
    for description in statement.column_descriptions:
        entity = description.get("entity")
        if entity is None or description.get("expr") is not entity or not hasattr(entity, "__table__"):
            continue  # a column or an expression, not a whole row: it names its columns itself
        options.extend(defer(getattr(entity, name)) for name in _hidden(entity.__table__))
    if options:
        state.statement = statement.options(*options)


def is_hidden(obj: SQLModel, name: str) -> bool:
    """The attribute was not loaded because this login may not read it (or the row left its session unloaded)."""
    state = sa.inspect(obj)
    if name not in state.unloaded:
        return False
    return state.session is None or hides(state.session)


def secret_set(obj: SQLModel, column: str) -> bool | None:
    """Whether a sealed column holds a secret, without reading it when this login may not (None: unknown, the
    row was read by a login that may not and has left its session)."""
    if not is_hidden(obj, column):
        return getattr(obj, column) is not None
    state = sa.inspect(obj)
    if state.session is None or state.identity is None:
        return None
    table = str(obj.__tablename__)
    flag = column.removesuffix("_sealed") + "_set"
    value = state.session.execute(sa.text(f'SELECT "{flag}" FROM public."{PRESENCE_PREFIX}{table}" WHERE id = :id'),
                                  {"id": state.identity[0]}).scalar()
    return bool(value)


SEALED_PLACEHOLDER = "sealed (not readable by this login)"


def sealed_or_marker(obj: SQLModel, column: str) -> str | None:
    """The sealed value for logins that may read it; for one that may not, a marker when a secret is set (enough
    to explain which credential applies, never the blob)."""
    if not is_hidden(obj, column):
        value = getattr(obj, column)
        return value if value is None else str(value)
    return SEALED_PLACEHOLDER if secret_set(obj, column) else None
