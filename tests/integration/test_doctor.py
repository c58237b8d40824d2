"""`dsm doctor` on a real installation: healthy with a worker beating, then one clear line (and its fix) for each
thing an on-call admin must hear about, and a non-zero exit while any is an error."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dsm_cli.main import os_username
from dsm_core.db import make_engine, migrate
from dsm_core.timeutil import utcnow
from tests.conftest import Templates, fresh_database
from tests.integration.cli import DsmHome, dsm_executable
from tests.worker.conftest import wait_until

pytestmark = pytest.mark.timeout(180)


def _doctor(home: DsmHome, *, also_json: bool = False) -> tuple[int, list[str], dict[str, Any]]:
    text = home.run("doctor")
    report: dict[str, Any] = {}
    if also_json:
        as_json = home.run("doctor", "--json")
        assert as_json.returncode == text.returncode  # the same verdict for monitoring
        report = json.loads(as_json.stdout)
    return text.returncode, [line for line in text.stdout.splitlines() if line.startswith("error")], report


@pytest.mark.parametrize("backend", ["sqlite"])
def test_doctor_is_quiet_on_a_healthy_install_and_names_each_problem_with_its_fix(
        templates: Templates, backend: str, tmp_path: Path) -> None:
    url = None if backend == "sqlite" else fresh_database(templates, backend, tmp_path, empty=True)
    home = DsmHome(tmp_path / "home", url, {})
    home.run("init", check=True)
    engine = make_engine(url or f"sqlite:///{home.home / 'dsm.db'}")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([*dsm_executable(), "worker"], stdout=subprocess.DEVNULL, stderr=log, text=True,
                              env=home.env())
    try:
        def beating() -> bool:
            with engine.connect() as conn:
                return bool(conn.execute(sa.text("SELECT count(*) FROM worker_heartbeats")).scalar())

        wait_until(beating, 60, "the worker's first heartbeat")
        code, errors, report = _doctor(home, also_json=True)
        assert (code, errors) == (0, []), home.run("doctor", "-v").stdout
        assert report["ok"] is True and report["errors"] == 0
        checks = {c["check"]: c["level"] for c in report["checks"]}
        assert checks["worker key"] == checks["schema"] == checks["worker"] == checks["jobs"] == "ok"
        if backend == "postgresql":  # the doctor says the database enforces nothing until roles are provisioned
            assert checks["roles"] == "warning"

        # 1. a world-readable key file
        key = home.home / "worker.key"
        key.chmod(0o644)
        code, errors, report = _doctor(home, also_json=True)
        assert report["errors"] == 1 and report["ok"] is False
        assert code == 1 and errors == [f"error   worker key: {key} is readable or writable by group or others "
                                         f"(mode 0644); the worker refuses to start; fix: chmod 600 {key}"]
        key.chmod(0o600)

        # 2. no worker heartbeat in the last minute (the worker stopped)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        code, errors, _ = _doctor(home)
        assert code == 1 and len(errors) == 1
        assert errors[0].startswith("error   worker: no worker heartbeat in the last minute")
        assert "fix: start it" in errors[0]

        # 3. a stale pending job (created 25 hours ago; activity.stale_pending_hours is 24): one more line
        from dsm_core.services import jobs
        from dsm_core.services.context import ServiceContext, actor_for

        admin = ServiceContext(engine, actor_for(engine, os_username()))
        jobs.create_job(admin, "discovery_scan", details={"ranges": ["127.0.99.1"]})
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE jobs SET created_at = :t"), {"t": utcnow() - timedelta(hours=25)})
        code, errors, _ = _doctor(home)
        assert code == 1 and len(errors) == 2 and errors[0].startswith("error   worker: ")
        assert errors[1].startswith("error   jobs: 1 pending job(s) older than activity.stale_pending_hours (24 h)")
        assert "fix: `dsm jobs list --status pending`" in errors[1]
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM jobs"))

        # 3b. a running job whose worker died: its lease ran out 5 minutes ago and no worker took it over
        made = jobs.create_job(admin, "discovery_scan", details={"ranges": ["127.0.99.1"]})
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE jobs SET status = 'running', lease_expires_at = :t"),
                         {"t": utcnow() - timedelta(minutes=5)})
        code, errors, _ = _doctor(home)
        assert code == 1 and len(errors) == 2, errors
        assert errors[1].startswith("error   jobs: 1 running job(s) whose worker's lease ran out and no worker took "
                                    "them over (the oldest 30"), errors[1]
        assert f"{str(made['id'])[:8]} (discovery_scan)" in errors[1] and "`dsm jobs show ID`" in errors[1]
        with engine.begin() as conn:  # a lease that ran out a moment ago is a takeover still to come, not a finding
            conn.execute(sa.text("UPDATE jobs SET lease_expires_at = :t"), {"t": utcnow() - timedelta(seconds=30)})
        assert len(_doctor(home)[1]) == 1
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM jobs"))

        # 4. an unmigrated database (an older revision): the schema line, and nothing read from its rows
        downgraded = home.run("db", "downgrade", "0009", "--yes-destroy-data")
        assert downgraded.returncode == 0, downgraded.stderr
        code, errors, _ = _doctor(home)
        assert code == 1 and errors == [f"error   schema: the database is at revision 0009, not {migrate.head_revision()}; fix: "
                                        "`dsm db upgrade` (an existing install) or `dsm init` (a new one)"]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
        engine.dispose()


def test_doctor_reports_a_bad_config_and_a_missing_database_as_findings(tmp_path: Path) -> None:
    home = DsmHome(tmp_path / "home", None, {"DSM_DATABASE_SQLITE_BUSY_TIMEOUT_MS": "soon"})
    bad = home.run("doctor", "--json")
    assert bad.returncode == 1
    found = json.loads(bad.stdout)
    assert found["ok"] is False and found["checks"][0]["check"] == "config"
    assert "sqlite_busy_timeout_ms" in found["checks"][0]["message"]
    empty = DsmHome(tmp_path / "empty", None, {}).run("doctor")
    assert empty.returncode == 1
    assert any(line.startswith("error   database: no DSM database at ") and "fix: `dsm init`" in line
               for line in empty.stdout.splitlines())


def test_doctor_exits_0_on_a_healthy_demo_install(tmp_path: Path) -> None:
    """`dsm demo --no-console`: a simulated fleet, vcsim, a repository, a worker and a discovery, as `make demo`."""
    import os
    import re
    import sys
    import time

    demo = subprocess.Popen([sys.executable, "-m", "dsm_cli.main", "demo", "--no-console", "--count", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        home = None
        assert demo.stdout is not None
        for line in demo.stdout:
            found = re.search(r"temporary DSM_HOME (\S+)", line)
            home = found.group(1) if found else home
            if "ready" in line:
                break
        assert home is not None, "the demo did not say where its DSM_HOME is"
        env = {**os.environ, "DSM_HOME": home}
        env.pop("DSM_CONFIG", None)
        deadline = time.monotonic() + 90
        while True:  # until the discovery the demo queued has found its servers
            done = subprocess.run([sys.executable, "-m", "dsm_cli.main", "doctor", "--json"], capture_output=True,
                                  text=True, env=env, timeout=120)
            report = json.loads(done.stdout)
            levels = {c["check"]: c["level"] for c in report["checks"]}
            if (done.returncode == 0 and levels.get("iDRACs") == "ok") or time.monotonic() > deadline:
                break
            time.sleep(2)
        # The demo's lab set is first-use (its simulated iDRACs are pinned on first sight): the one warning.
        assert done.returncode == 0 and report["errors"] == 0 and report["warnings"] == 1, report
        assert levels["credential trust"] == "warning"
        assert levels["worker"] == levels["schema"] == levels["iDRACs"] == "ok"
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()


def test_on_postgresql_the_doctor_says_whether_the_database_enforces_the_roles(
        templates: Templates, tmp_path: Path) -> None:
    """The file and row checks are the same on both databases (above); what PostgreSQL adds is the roles line."""
    from dsm_core.services import doctor

    for empty, expected in ((True, "warning"), (False, "ok")):  # a bare install; a copy of the provisioned template
        engine = make_engine(fresh_database(templates, "postgresql", tmp_path, empty=empty))
        try:
            if empty:
                migrate.upgrade(engine)
            found = {f.check: f for f in doctor.check_database(engine, utcnow(), str)}
        finally:
            engine.dispose()
        assert found["schema"].level == "ok" and found["roles"].level == expected, found["roles"]
        if expected == "warning":
            assert found["roles"].fix == "`sudo -u postgres dsm db provision-roles` (README, Deploy)"


def test_a_config_readable_by_others_is_an_error_only_when_its_url_holds_a_password(tmp_path: Path) -> None:
    from dsm_core.config import load_config
    from dsm_core.services import doctor

    for url, expected in (("postgresql+psycopg://dsm_worker@/dsm?host=/run/postgresql", "ok"),
                          ("postgresql+psycopg://dsm:s3cret@db.example/dsm", "error")):
        path = tmp_path / "config.toml"
        path.write_text(f'[database]\nurl = "{url}"\n[paths]\ndata_dir = "{tmp_path}"\n')
        path.chmod(0o644)
        found = {f.check: f for f in doctor.check_files(load_config(path, {}))}
        assert found["config"].level == expected, found["config"]
        assert "s3cret" not in found["config"].line()


def test_an_operators_doctor_judges_the_worker_key_from_the_config_and_the_database(tmp_path: Path) -> None:
    """Not from the operator's own home: a key registered in the database and held elsewhere is fine; a key file
    that does not match the database, or no key registered at all, is an error naming what to run."""
    home = DsmHome(tmp_path / "home", None, {})
    assert home.run("init").returncode == 0
    key = tmp_path / "home" / "worker.key"
    elsewhere = DsmHome(tmp_path / "home", None, {"DSM_PATHS_WORKER_KEY_FILE": str(tmp_path / "nowhere" / "k")})
    found = {c["check"]: c for c in json.loads(elsewhere.run("doctor", "--json").stdout)["checks"]}
    assert found["worker key"]["level"] == "ok", found["worker key"]
    assert "registered in the database" in found["worker key"]["message"]
    assert "only the worker's account needs it" in found["worker key"]["message"]

    other = tmp_path / "other.key"  # a key the database was never told of
    from dsm_core.credentials.sealing import create_key_file

    create_key_file(other)
    wrong = DsmHome(tmp_path / "home", None, {"DSM_PATHS_WORKER_KEY_FILE": str(other)})
    found = {c["check"]: c for c in json.loads(wrong.run("doctor", "--json").stdout)["checks"]}
    assert found["worker key"]["level"] == "error" and "does not match" in found["worker key"]["message"]

    engine = make_engine(f"sqlite:///{tmp_path / 'home' / 'dsm.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE activity_settings SET sealing_public_key = NULL"))
    engine.dispose()
    key.unlink()
    found = {c["check"]: c for c in json.loads(home.run("doctor", "--json").stdout)["checks"]}
    assert found["worker key"]["level"] == "error"
    assert "dsm init --worker" in found["worker key"]["fix"]
