"""Schema changes as use cases: who may move the database between revisions, and the audit of it.

A downgrade to base drops every table, the audit log included, so it is the most destructive thing DSM
can do. It is admin-only, needs an explicit ``--yes-destroy-data`` at the CLI, and is audited *before* it
runs (in its own committed transaction, so the record exists while the audit table does) and, where the
audit table survives the downgrade, afterwards too.

Before the first user exists nobody can be checked: an empty database (no revision, or no users yet) may
be migrated by whoever can reach it, exactly as ``dsm init`` may create it.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.db import migrate, read_scope, roles
from dsm_core.models import User
from dsm_core.services.context import Actor, Tx, mutation
from dsm_core.services.errors import ValidationError


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


def audit_table_usable(engine: Engine) -> bool:
    """The audit table is there with every column this version writes: not so after a downgrade past the
    revision that added one (audit_logs.db_user, 0010), where the "done" record of the downgrade cannot be written
    (the "requested" record, written before, stands)."""
    from sqlmodel import SQLModel

    if not audit_table_exists(engine):
        return False
    present = {c["name"] for c in sa.inspect(engine).get_columns("audit_logs")}
    return {c.name for c in SQLModel.metadata.tables["audit_logs"].columns} <= present


def owner_actor(engine: Engine) -> Actor | None:
    """On PostgreSQL, a login the database itself trusts with the schema (a superuser, or a DBA login granted
    dsm_owner) acts as an admin under its own login name, whether or not it is a DSM user: it could change
    anything anyway, and the audit row records it. On SQLite the same holds for the OS account that owns the
    database file (the service account: it runs the nightly backup and the upgrades). None for everyone else."""
    if engine.dialect.name == "sqlite":
        return _file_owner_actor(engine)
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        if not roles.may_own(connection):
            return None
        login = str(connection.execute(sa.text("SELECT session_user")).scalar())
    return Actor(username=login, role="admin")


def user_or_dba(engine: Engine, os_user: str, ip_address: str | None = None) -> Actor:
    """A DSM user acts as themselves (their role is checked as always); someone who is not a DSM user but whom the
    database trusts with everything (``owner_actor``: a PostgreSQL superuser or DBA, SQLite's file owner) acts as
    an admin under their own name, audited. Anyone else is refused as before."""
    from dsm_core.services.context import actor_for
    from dsm_core.services.errors import PermissionDenied

    try:
        return actor_for(engine, os_user, ip_address)
    except PermissionDenied:
        owner = owner_actor(engine)
        if owner is None:
            raise
        return owner


def _file_owner_actor(engine: Engine) -> Actor | None:
    import os
    import pwd
    from pathlib import Path

    database = engine.url.database
    if not database or database == ":memory:":
        return None
    try:
        owner = Path(database).stat().st_uid
    except OSError:
        return None
    if owner != os.geteuid():
        return None
    try:
        return Actor(username=pwd.getpwuid(owner).pw_name, role="admin")
    except KeyError:  # an account with no name cannot be audited by name
        return None


@mutation("db.provision_roles", "admin")
def provision_roles(tx: Tx, /, worker_os_user: str = "dsm") -> dict[str, Any]:
    """Create DSM's PostgreSQL roles, hand the schema to dsm_owner, set grants and policies, give every DSM user
    its login (dsm_core.db.roles.provision); returns the pg_hba.conf/pg_ident.conf lines to add."""
    if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,31}$", worker_os_user):
        raise ValidationError("worker_os_user", f"{worker_os_user!r} is not an OS user name",
                              "give the OS account the worker service runs as (default dsm)")
    done = roles.provision(tx.session.connection())
    tx.audit("database", done.database, created_roles=done.created_roles, objects_moved=done.objects_moved,
             logins=[name for name, _ in done.logins])
    return {"database": done.database, "created_roles": done.created_roles, "objects_moved": done.objects_moved,
            "logins": [{"login": name, "group": roles.GROUPS[role]} for name, role in done.logins],
            "pg_hba": roles.hba_lines(done.database, worker_os_user)}


@mutation("db.backup", "admin")
def record_backup(tx: Tx, /, path: str, revision: str | None) -> None:
    """Written before the copy is taken, so the backup holds the record of itself."""
    tx.audit("database", revision, path=path)


@mutation("db.restore", "admin")
def record_restore(tx: Tx, /, path: str, restored_revision: str | None, revision: str | None) -> None:
    """Written into the restored database, after its migrations: who replaced the data, from which file."""
    tx.audit("database", revision, path=path, restored_revision=restored_revision, revision=revision)


@mutation("db.upgrade", "admin")
def record_upgrade(tx: Tx, /, from_revision: str | None, to_revision: str | None) -> None:
    tx.audit("database", to_revision, from_revision=from_revision, to_revision=to_revision)


@mutation("db.downgrade", "admin")
def record_downgrade(tx: Tx, /, from_revision: str | None, to_revision: str, phase: str) -> None:
    """``phase`` is "requested" (written before the downgrade runs) or "done" (after, if the table is left)."""
    tx.audit("database", to_revision, from_revision=from_revision, to_revision=to_revision, phase=phase)
