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
    stored = stored_public_key(engine)
    key_path = config.worker_key_file
    if stored is None:
        key, report.key_created = create_key_file(key_path)
        report.key_id = key_id(key.public_key())
        register_worker_key(ctx, encode_public_key(key.public_key()), report.key_id)
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
    if initialised:
        report.notes.append(f"admin {admin}: already admin (users are managed with `dsm users`)")
    else:
        report.notes.append(f"admin {admin}: {ensure_admin(ctx, admin)}")
    return report
