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


def test_0004_seals_a_stored_webhook_url_and_keeps_event_entries(empty_db_url: str, worker_key_path: object) -> None:
    """An existing plain webhook URL (it carries its token) is sealed by the upgrade with the worker's public
    key, so the worker can still use it; nothing else in the row changes."""
    from pathlib import Path

    from sqlmodel import Session

    from dsm_core.credentials.sealing import encode_public_key, load_private_key, unseal
    from dsm_core.models import SINGLETON_ID, ActivitySettings, NotificationSettings

    key = load_private_key(Path(str(worker_key_path)))
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    with Session(engine) as session:  # the rows as `dsm init` and the settings leave them
        session.add(ActivitySettings(id=SINGLETON_ID, sealing_public_key=encode_public_key(key.public_key())))
        session.add(NotificationSettings(id=SINGLETON_ID))
        session.commit()
    migrate.downgrade(engine, "0003")  # a database from before the webhook was a secret
    url = "https://teams.lab.local/webhookb2/x/IncomingWebhook/TOKEN-4711"
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE notification_settings SET teams_webhook_url = :u"), {"u": url})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        sealed = conn.execute(sa.text("SELECT teams_webhook_url_sealed FROM notification_settings")).scalar_one()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("notification_settings")}
    assert "teams_webhook_url" not in columns and "TOKEN" not in sealed
    assert unseal(sealed, key).reveal() == url
    migrate.downgrade(engine, "0003")  # and back: the URL cannot be unsealed there, so it is forgotten
    migrate.upgrade(engine)
    engine.dispose()
