"""`dsm backup create|restore` round trips, run as commands on real installations (SQLite's online backup API;
pg_dump and psql from Debian's PostgreSQL binaries): every table's rows come back, a restore over data needs
--force, and a backup from an older schema is migrated when restored."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from dsm_core.db import make_engine, migrate
from tests.conftest import Templates, fresh_database
from tests.integration.cli import DsmHome
from tests.tui.seed import seed

pytestmark = pytest.mark.timeout(300)


def _snapshot(engine: Engine) -> dict[str, tuple[int, list[tuple[str, ...]]]]:
    """Each table's row count and its first rows by primary key, as text."""
    import dsm_core.models  # noqa: F401

    out = {}
    with engine.connect() as conn:
        for name, table in sorted(SQLModel.metadata.tables.items()):
            count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns).limit(5)).all()
            out[name] = (count, [tuple(str(v) for v in row) for row in rows])
    return out


def _install(templates: Templates, backend: str, tmp_path: Path, name: str) -> tuple[DsmHome, str]:
    url = None if backend == "sqlite" else fresh_database(templates, backend, tmp_path / name, empty=True)
    home = DsmHome(tmp_path / name / "home", url, {})
    return home, url or f"sqlite:///{home.home / 'dsm.db'}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_backup_brings_back_every_row_and_a_restore_over_data_needs_force(
        templates: Templates, backend: str, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    home, url = _install(templates, backend, tmp_path, "a")
    home.run("init", check=True)
    engine = make_engine(url)
    try:
        seed(engine, 40, activity=200)
        target = tmp_path / "backups" / "dsm.bak"
        made = home.run("backup", "create", "--to", str(target), "--json")
        assert made.returncode == 0, made.stderr
        assert "worker.key is NOT in this backup" in made.stderr  # the loud reminder, every time
        assert json.loads(made.stdout)["revision"] == migrate.head_revision()
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        before = _snapshot(engine)
        assert before["servers"][0] == 40 and before["idrac_commands"][0] >= 200

        with engine.begin() as conn:  # what a bad day does
            conn.execute(sa.text("DELETE FROM idrac_commands"))
            conn.execute(sa.text("UPDATE servers SET hostname = 'wrong'"))
        refused = home.run("backup", "restore", str(target))
        assert refused.returncode == 2 and "--force" in refused.stderr, refused.stderr
        assert _snapshot(engine)["idrac_commands"][0] == 0  # refused: nothing changed

        restored = home.run("backup", "restore", str(target), "--force", "--json")
        assert restored.returncode == 0, restored.stderr
        after = _snapshot(engine)
        # Every table as it was; the audit log has one row more, the restore's own, written after it.
        for name, (count, rows) in before.items():
            if name == "audit_logs":
                assert after[name][0] == count + 1
                continue
            assert after[name] == (count, rows), name
        with engine.connect() as conn:
            last = conn.execute(sa.text("SELECT action FROM audit_logs ORDER BY timestamp DESC LIMIT 1")).scalar()
        assert last == "db.restore"
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_backup_of_an_older_schema_is_migrated_when_restored(
        templates: Templates, backend: str, tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old_home, old_url = _install(templates, backend, tmp_path, "old")
    old_home.home.mkdir(parents=True)
    old = make_engine(old_url)
    try:
        migrate.upgrade(old, "0009")  # what the previous DSM left
        with old.begin() as conn:
            conn.execute(sa.text("INSERT INTO users (id, username, role, created_at, updated_at) "
                                 "VALUES (:id, 'alice', 'admin', :t, :t)"),
                         {"id": _uuid(conn, "01a23100-0000-7000-8000-000000000001"), "t": "2026-11-01 00:00:00+00"})
            conn.execute(sa.text("INSERT INTO audit_logs (id, username, action, timestamp, created_at) "
                                 "VALUES (:id, 'alice', 'users.add', :t, :t)"),
                         {"id": _uuid(conn, "01a23100-0000-7000-8000-000000000002"), "t": "2026-11-01 00:00:00+00"})
        from dsm_core import backup

        info = backup.create(old, tmp_path / "old.bak")
        assert info.revision == "0009"
    finally:
        old.dispose()

    new_home, new_url = _install(templates, backend, tmp_path, "new")
    restored = new_home.run("backup", "restore", str(tmp_path / "old.bak"), "--json")
    assert restored.returncode == 0, restored.stderr
    view: dict[str, Any] = json.loads(restored.stdout)
    assert (view["restored_revision"], view["revision"]) == ("0009", migrate.head_revision())
    new = make_engine(new_url)
    try:
        assert migrate.is_current(new)
        with new.connect() as conn:
            assert conn.execute(sa.text("SELECT username, role FROM users")).one() == ("alice", "admin")
            assert conn.execute(sa.text("SELECT count(*) FROM audit_logs WHERE action = 'users.add'")).scalar() == 1
            # a column the newer schema added, with its default
            assert conn.execute(sa.text("SELECT count(*) FROM activity_settings")).scalar() in (0, 1)
    finally:
        new.dispose()


def _uuid(conn: sa.Connection, text: str) -> str:
    return text if conn.dialect.name == "postgresql" else text.replace("-", "")


def test_restore_refuses_a_file_that_is_not_a_backup_and_a_backup_from_a_newer_dsm(tmp_path: Path) -> None:
    import sqlite3

    home = DsmHome(tmp_path / "home", None, {})
    home.run("init", check=True)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01binary\xff" * 100)
    refused = home.run("backup", "restore", str(junk), "--force")
    assert refused.returncode == 2 and "neither a SQLite database nor a pg_dump" in refused.stderr
    future = tmp_path / "future.sqlite"
    conn = sqlite3.connect(future)
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    conn.execute("INSERT INTO alembic_version VALUES ('0099')")
    conn.commit()
    conn.close()
    refused = home.run("backup", "restore", str(future), "--force")
    assert refused.returncode == 2 and "comes from a newer DSM (schema revision 0099" in refused.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_backup_with_a_foreign_trigger_is_refused_and_nothing_is_restored(
        templates: Templates, backend: str, tmp_path: Path) -> None:
    """A backup someone edited to hold a trigger that silently drops every later audit row (and a function of its
    own): the restore names them and changes nothing; the audit log goes on recording."""
    import sqlite3

    (tmp_path / "a").mkdir()
    home, url = _install(templates, backend, tmp_path, "a")
    home.run("init", check=True)
    engine = make_engine(url)
    target = tmp_path / "backups" / "dsm.bak"
    drop_it = ("CREATE FUNCTION public.quiet() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$; "
               "CREATE TRIGGER quiet_audit BEFORE INSERT ON public.audit_logs FOR EACH ROW EXECUTE FUNCTION "
               "public.quiet()")
    try:
        if backend == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql(drop_it)
        assert home.run("backup", "create", "--to", str(target)).returncode == 0
        if backend == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TRIGGER quiet_audit ON public.audit_logs; DROP FUNCTION public.quiet()")
        else:
            conn3 = sqlite3.connect(target)
            conn3.execute("CREATE TRIGGER quiet_audit BEFORE INSERT ON audit_logs BEGIN SELECT RAISE(IGNORE); END")
            conn3.commit()
            conn3.close()
        with engine.connect() as conn:
            audit_rows = conn.execute(sa.text("SELECT count(*) FROM audit_logs")).scalar_one()
        refused = home.run("backup", "restore", str(target), "--force")
        assert refused.returncode == 2, refused.stderr
        assert "trigger" in refused.stderr and "quiet_audit" in refused.stderr, refused.stderr
        if backend == "postgresql":
            assert "function public.quiet()" in refused.stderr, refused.stderr
        with engine.connect() as conn:  # nothing restored, no trigger here, and the audit log still records
            assert conn.execute(sa.text("SELECT count(*) FROM audit_logs")).scalar_one() >= audit_rows
        assert home.run("users", "add", "zed", "--role", "viewer").returncode == 0
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM audit_logs WHERE action = 'users.add'")).scalar_one() == 1
    finally:
        engine.dispose()
