"""Schema changes as use cases: who may move the database between revisions, and the audit of it.

A downgrade to base drops every table, the audit log included, so it is the most destructive thing DSM
can do. It is admin-only, needs an explicit ``--yes-destroy-data`` at the CLI, and is audited *before* it
runs (in its own committed transaction, so the record exists while the audit table does) and, where the
audit table survives the downgrade, afterwards too.

Before the first user exists nobody can be checked: an empty database (no revision, or no users yet) may
be migrated by whoever can reach it, exactly as ``dsm init`` may create it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.db import migrate, read_scope
from dsm_core.models import User
from dsm_core.services.context import Tx, mutation


def has_users(engine: Engine) -> bool:
    """True once the database holds at least one DSM user: from then on every schema change needs an admin."""
    if migrate.current_revision(engine) is None:
        return False
    if not sa.inspect(engine).has_table(User.__tablename__):
        return False
    with read_scope(engine) as session:
        return session.execute(sa.select(sa.literal(1)).select_from(User).limit(1)).first() is not None


def audit_table_exists(engine: Engine) -> bool:
    return bool(sa.inspect(engine).has_table("audit_logs"))


@mutation("db.upgrade", "admin")
def record_upgrade(tx: Tx, /, from_revision: str | None, to_revision: str | None) -> None:
    tx.audit("database", to_revision, from_revision=from_revision, to_revision=to_revision)


@mutation("db.downgrade", "admin")
def record_downgrade(tx: Tx, /, from_revision: str | None, to_revision: str, phase: str) -> None:
    """``phase`` is "requested" (written before the downgrade runs) or "done" (after, if the table is left)."""
    tx.audit("database", to_revision, from_revision=from_revision, to_revision=to_revision, phase=phase)
