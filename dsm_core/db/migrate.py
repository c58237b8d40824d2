"""Schema migrations (Alembic) driven from code: ``dsm db upgrade|downgrade|current`` and ``dsm init``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["engine"] = engine
    return cfg


def _run(engine: Engine, fn: Any, *args: Any, keep_roles: bool = False) -> None:
    """One transaction. On a PostgreSQL database whose roles were provisioned, the schema belongs to dsm_owner:
    the migration runs as it (a superuser or a DBA login may), and an upgrade ends by setting the grants and
    policies of whatever tables it added, in the same transaction (dsm_core.db.roles)."""
    from dsm_core.db import roles

    cfg = alembic_config(engine)
    with engine.begin() as connection:
        provisioned = roles.is_provisioned(connection)
        if provisioned:
            roles.act_as_owner(connection)
        cfg.attributes["connection"] = connection
        fn(cfg, *args)
        if provisioned and keep_roles:
            roles.sync(connection)
        if provisioned:
            connection.exec_driver_sql("RESET ROLE")


def upgrade(engine: Engine, revision: str = "head") -> None:
    from dsm_core.db import roles

    if revision == "head" and is_current(engine):
        with engine.connect() as connection:
            if roles.is_provisioned(connection) and not roles.may_own(connection):
                return  # nothing to migrate, and a login that may not own the schema may not re-set its grants
    _run(engine, command.upgrade, revision, keep_roles=True)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, command.downgrade, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def known_revisions() -> set[str]:
    """Every revision this version of DSM can migrate from (a backup from a later one is not among them)."""
    return {script.revision for script in ScriptDirectory.from_config(alembic_config_for_scripts()).walk_revisions()}


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config_for_scripts()).get_current_head()


def alembic_config_for_scripts() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's own bookkeeping table is not part of DSM's model."""
    return not (type_ == "table" and name == "alembic_version")


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render DSM's portable types by their import path, and SQLModel's AutoString as plain sa.String,
    so revisions depend on neither reprs nor SQLModel internals."""
    from sqlmodel.sql.sqltypes import AutoString

    from dsm_core.db.types import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "dsm_core.db.types.UTCDateTime()"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False
