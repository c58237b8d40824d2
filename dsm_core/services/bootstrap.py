"""`dsm init`: config, migrated database, worker key pair, first admin. Safe to run again, by an admin.

The first admin is created only on an empty database (no DSM user yet): that is the one moment nobody can
be asked for a role. Once users exist, init is an admin's command (checked before anything is written)
and never changes a role: admins are added through `dsm users`, audited as the admin who did it.

The private key is created only where no key exists and the database holds no public key yet; on a second
host of a shared PostgreSQL deployment the key is copied from the first worker host, never regenerated
(a new key would make every sealed password unreadable).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from dsm_core.config import Config, render_default_config, writable_config_location
from dsm_core.credentials.sealing import SealingError, create_key_file, encode_public_key, key_id, load_private_key
from dsm_core.db import migrate
from dsm_core.models import ActivitySettings, User
from dsm_core.services.context import SYSTEM, Actor, ServiceContext, Tx, actor_for, mutation
from dsm_core.services.database import has_users, record_upgrade
from dsm_core.services.errors import Conflict, ServiceError, ValidationError
from dsm_core.services.settings import singleton
from dsm_core.services.users import validate_username


@dataclass
class InitReport:
    config_path: Path | None
    config_created: bool
    database: str
    revision: str | None
    key_file: Path
    key_created: bool
    key_id: str | None
    admin: str
    notes: list[str] = field(default_factory=list)


@mutation("system.register_worker_key", "admin")
def register_worker_key(tx: Tx, /, public_key_b64: str, kid: str) -> None:
    row = singleton(tx.session, ActivitySettings)
    if row.sealing_public_key and row.sealing_public_key != public_key_b64:
        raise Conflict(
            "a different worker key is already registered; replacing it would make every sealed "
            "password unreadable (key rotation is not supported)"
        )
    row.sealing_public_key = public_key_b64
    tx.session.add(row)
    tx.audit("worker_key", kid)


@mutation("users.ensure_admin", "admin")
def ensure_admin(tx: Tx, /, username: str) -> str:
    from sqlmodel import select

    user = tx.session.exec(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, role="admin")
        outcome = "created"
    elif user.role != "admin":
        outcome = f"promoted from {user.role}"
        user.role = "admin"
    else:
        outcome = "already admin"
    tx.session.add(user)
    from dsm_core.services.users import sync_login

    sync_login(tx.session, username, "admin")
    tx.audit("user", user.id, username=username, role="admin", outcome=outcome)
    return outcome


def stored_public_key(engine: Engine) -> str | None:
    from dsm_core.db import read_scope
    from dsm_core.models import SINGLETON_ID

    with read_scope(engine) as session:
        row = session.get(ActivitySettings, SINGLETON_ID)
        return row.sealing_public_key if row else None


def _is_admin(engine: Engine, username: str) -> bool:
    from sqlmodel import select

    from dsm_core.db import read_scope

    with read_scope(engine) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        return user is not None and user.role == "admin"


def initialize(config: Config, engine: Engine, os_user: str, requested_admin: str | None = None,
               ip_address: str | None = None, config_target: str | Path | None = None) -> InitReport:
    """``os_user`` runs the command; ``requested_admin`` (``--admin``) is honoured only on an empty database."""
    admin = validate_username(requested_admin or os_user)
    acting: Actor = SYSTEM
    initialised = has_users(engine)
    if initialised:
        # Checked before anything is written: an unknown user or a non-admin changes nothing.
        acting = actor_for(engine, os_user, ip_address)
        ServiceContext(engine, acting).require("admin", "dsm init on a database that has users")
        if requested_admin and not _is_admin(engine, admin):
            raise ValidationError(
                "--admin", f"{admin} is not an admin, and this database already has users",
                f"an admin adds admins with `dsm users add {admin} --role admin` or `dsm users set-role {admin} admin`",
            )
    config_path, config_created = config.source, False
    if config_path is None:
        config_path = writable_config_location(os.environ, config_target)
        config_path.parent.mkdir(parents=True, exist_ok=True)
        if not config_path.exists():
            config_path.write_text(render_default_config())
            config_created = True
    config.data_dir.mkdir(parents=True, exist_ok=True)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    _share_with_group(config)
    report = InitReport(
        config_path,
        config_created,
        config.redacted_database_url(),
        migrate.current_revision(engine),
        config.worker_key_file,
        False,
        None,
        admin,
    )
    ctx = ServiceContext(engine, acting)
    if initialised and before != report.revision:
        record_upgrade(ctx, before, report.revision)
    if _roles_enforced(engine) and not _worker_login(engine):
        # The key belongs to the worker's account, under its own login: a DBA's or an admin's `dsm init` would
        # leave it in their home and register it for a worker that cannot read it.
        report.notes.append("worker key: made by the worker's account with its own login: "
                            "`dsm init --worker` as that account (docs/deployment.md)")
    else:
        _ensure_key(ctx, config, engine, report)
    if initialised:
        report.notes.append(f"admin {admin}: already admin (users are managed with `dsm users`)")
    else:
        report.notes.append(f"admin {admin}: {ensure_admin(ctx, admin)}")
    return report


def _share_with_group(config: Config) -> None:
    """SQLite creates a database file 0644 less the umask, so its group could only read it. In a directory that is
    shared through its group (setgid: the documented /var/lib/dsm, mode 2770) the DSM group, the operators, must
    write it; its -wal and -shm files take the database file's mode. A personal database elsewhere keeps what
    SQLite and the umask gave it: a primary group shared by every user of a host must not get write access."""
    import stat

    path = config.sqlite_path
    if path is None or not path.exists() or path.stat().st_uid != os.geteuid():
        return
    if path.parent.stat().st_mode & stat.S_ISGID:
        path.chmod(0o660)


def _ensure_key(ctx: ServiceContext, config: Config, engine: Engine, report: InitReport) -> None:
    """Create and register the worker key, or check the one here against the database's. A key file created now
    whose public half cannot be registered (the login may not, another key won) is removed again: never a key on
    disk that nothing is sealed for."""
    stored = stored_public_key(engine)
    key_path = config.worker_key_file
    if stored is None:
        key, report.key_created = create_key_file(key_path)
        report.key_id = key_id(key.public_key())
        try:
            register_worker_key(ctx, encode_public_key(key.public_key()), report.key_id)
        except BaseException:
            if report.key_created:
                key_path.unlink(missing_ok=True)
                report.key_created = False
            raise
    elif key_path.exists():
        try:
            key = load_private_key(key_path)
        except SealingError as exc:
            raise ServiceError(str(exc)) from None
        if encode_public_key(key.public_key()) != stored:
            raise ServiceError(
                f"worker key {key_path} does not match the public key in the database; passwords sealed "
                "there cannot be opened with it. Copy the key of the first worker host here (mode 0600)."
            )
        report.key_id = key_id(key.public_key())
    else:
        report.notes.append(
            f"this database already has a worker key; no key file at {key_path}. "
            "The TUI and CLI do not need it; copy it from the first worker host only "
            "to run `dsm worker` here."
        )


def _roles_enforced(engine: Engine) -> bool:
    from dsm_core.db import roles

    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return roles.is_provisioned(conn)


def _worker_login(engine: Engine) -> bool:
    """PostgreSQL with DSM's roles: the session's login is the worker's (dsm_worker, by the peer map)."""
    import sqlalchemy as sa

    from dsm_core.db import roles

    with engine.connect() as conn:
        if not roles.is_provisioned(conn):
            return False
        # A superuser is a member of every role to pg_has_role: the worker's login is one that is not.
        return bool(conn.execute(sa.text(
            "SELECT NOT r.rolsuper AND pg_has_role(session_user, 'dsm_worker', 'MEMBER') FROM pg_roles r "
            "WHERE r.rolname = session_user")).scalar())


def initialize_worker(config: Config, engine: Engine, os_user: str) -> InitReport:
    """`dsm init --worker`: the worker's service account makes its key on a database a DBA already created and
    migrated, and registers the public half under its own login (PostgreSQL lets dsm_worker set it once, never
    replace it). Nothing else: no config, no migration, no user. On SQLite, or PostgreSQL without DSM's roles,
    the database has no worker login to recognise: an admin (or anyone, while it has no user) may do it."""
    if not migrate.is_current(engine):
        raise ServiceError(
            f"the database is at revision {migrate.current_revision(engine) or 'none (empty)'}, not "
            f"{migrate.head_revision()}: the worker's account does not migrate it; the DBA runs `dsm db upgrade` "
            "(and on PostgreSQL `dsm db provision-roles`) first (docs/deployment.md)")
    acting: Actor = SYSTEM
    if not _worker_login(engine) and has_users(engine):
        from dsm_core.services.database import user_or_dba

        # SQLite: the service account owns the database file and is no DSM user (README, Permissions).
        acting = user_or_dba(engine, os_user)
        ServiceContext(engine, acting).require("admin", "dsm init --worker without the worker's database login")
    report = InitReport(config.source, False, config.redacted_database_url(), migrate.current_revision(engine),
                        config.worker_key_file, False, None, "")
    _ensure_key(ServiceContext(engine, acting), config, engine, report)
    if report.key_id is None:
        raise ServiceError(f"no key file at {config.worker_key_file} and the database already has a worker key: copy "
                           "the first worker host's key here (mode 0600, owned by this account); a new one would "
                           "make every sealed password unreadable")
    return report
