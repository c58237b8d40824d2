"""Plain, JSON-ready views of rows: what the CLI prints with --json and what screens display.

Sealed secrets never leave the service layer: a ``*_sealed`` column becomes ``*_set: true/false``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from dsm_core.db.hidden import is_hidden, secret_set
from dsm_core.services.context import query


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


COMPLETION_KINDS = ("servers", "jobs", "windows", "groups", "clusters", "credential_sets", "users", "vcenters")


@query("viewer")
def completions(session: Session, /, kind: str, prefix: str = "", limit: int = 200) -> list[str]:
    """Words for the shell's tab completion (`dsm completion`): references a command accepts, starting with what was
    typed, newest first for jobs and windows. Read in SQL with a LIKE on the prefix (escaped), at most ``limit``."""
    from dsm_core.models import (
        CredentialSet,
        Job,
        MaintenanceWindow,
        Server,
        ServerGroup,
        User,
        Vcenter,
        VcenterCluster,
    )

    if kind not in COMPLETION_KINDS:
        raise ValueError(f"no completion for {kind!r}")
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    limit = max(1, min(limit, 1000))

    def names(attribute: Any) -> list[str]:
        column = col(attribute)
        stmt = sa.select(column).where(column.is_not(None), column.like(like, escape="\\")).distinct()
        return [str(v) for v in session.execute(stmt.order_by(column).limit(limit)).scalars()]

    if kind == "servers":
        found: list[str] = []
        for column in (Server.hostname, Server.ip_address, Server.service_tag):
            found += names(column)
        return sorted(set(found))[:limit]
    if kind in ("jobs", "windows"):
        # Ids are UUIDv7 (time-ordered): the newest first, as an operator usually wants the last one.
        key = col(Job.id) if kind == "jobs" else col(MaintenanceWindow.id)
        ids = [str(v) for v in session.execute(sa.select(key).order_by(key.desc()).limit(limit)).scalars()]
        return [i for i in ids if i.startswith(prefix)]
    column = {"groups": ServerGroup.name, "clusters": VcenterCluster.name, "credential_sets": CredentialSet.name,
              "users": User.username, "vcenters": Vcenter.name}[kind]
    return names(column)
