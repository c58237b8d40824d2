"""Migrations: the first revision is the whole schema, it round-trips, and models and migrations agree."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import dsm_core.models  # noqa: F401
from dsm_core.db import make_engine, migrate
from dsm_core.db.migrate import include_object


def _drift(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
            return list(compare_metadata(mc, SQLModel.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_creates_every_model_table_and_no_drift(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()
    assert _tables(empty_db_url) == set(SQLModel.metadata.tables)
    assert _drift(empty_db_url) == []


def test_downgrade_to_base_and_upgrade_round_trips(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    engine.dispose()
    assert _tables(empty_db_url) == set()
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    engine.dispose()
    assert _drift(empty_db_url) == []


def test_drift_detection_is_not_blind(empty_db_url: str) -> None:
    """The no-drift check must see a difference when there is one, or it proves nothing."""
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE servers ADD COLUMN stray_column INTEGER")
    engine.dispose()
    diffs = _drift(empty_db_url)
    assert any("stray_column" in repr(d) for d in diffs)


def test_hot_read_indexes_exist(db_url: str) -> None:
    engine = make_engine(db_url)
    inspector = sa.inspect(engine)
    def cols(table: str) -> list[list[str]]:
        return [list(ix["column_names"]) for ix in inspector.get_indexes(table)]
    assert ["status", "created_at"] in cols("jobs")
    assert ["timestamp", "id"] in cols("idrac_commands")
    assert ["server_id", "timestamp"] in cols("idrac_commands")
    assert ["job_id"] in cols("idrac_commands")
    assert ["ip_address"] in cols("servers")
    assert ["service_tag"] in cols("servers")
    engine.dispose()
