"""The worker service on PostgreSQL with DSM's roles: a real `dsm worker` process run by its own OS account,
connected over the socket as `dsm_worker` (peer authentication mapped by pg_ident), claims an operator's jobs,
unseals the credential set it may read, writes what it observes, and audits as the system — on grants alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from dsm_core.services import jobs
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates, ctx_for
from tests.pgroles import PeerLogins
from tests.worker.conftest import block_of, make_install

pytestmark = pytest.mark.timeout(300)


def test_the_worker_runs_an_operators_jobs_with_its_own_login(
        templates: Templates, tmp_path: Path, fleet: FleetThread, peer_logins: PeerLogins,
        request: pytest.FixtureRequest) -> None:
    install = make_install(templates, "postgresql", tmp_path, [block_of(fleet)])
    request.addfinalizer(install.engine.dispose)
    provisioned = install.home.run("db", "provision-roles", "--worker-os-user", peer_logins.name("worker"), "--json")
    assert provisioned.returncode == 0, provisioned.stderr
    admin = ctx_for(install.engine, "root")  # `dsm init` made the OS user running the tests the first admin
    from dsm_core.services import users

    users.add_user(admin, peer_logins.name("operator"), "operator")
    database = str(install.engine.url.database)
    operator_engine = peer_logins.engine(database, "operator")
    operator = ctx_for(operator_engine, peer_logins.name("operator"))
    net = block_of(fleet).replace(".0/24", ".0/29")
    job = jobs.create_job(operator, "discovery_scan", details={"ranges": [net], "port": 8443})

    # The worker's own home: its key, readable by its account alone.
    svc = peer_logins.users["worker"]
    home = tempfile.mkdtemp(prefix="dsm-worker-")
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    shutil.copy(install.home.home / "worker.key", Path(home) / "worker.key")
    for path in (home, str(Path(home) / "worker.key")):
        os.chown(path, svc.pw_uid, svc.pw_gid)
    os.chmod(Path(home) / "worker.key", 0o600)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "DSM_HOME": home, "LANG": "C.UTF-8",
           "DSM_DATABASE_URL": peer_logins.socket_url(database, "dsm_worker")}
    ran = subprocess.run(["runuser", "-u", svc.pw_name, "--", sys.executable, "-m", "dsm_cli.main", "worker",
                          "--exit-when-idle"], env=env, capture_output=True, text=True, timeout=240, check=False,
                         cwd=str(Path(__file__).resolve().parents[2]))
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "permission denied" not in ran.stderr.lower(), ran.stderr[-3000:]

    with install.engine.connect() as conn:
        status, error = conn.execute(sa.text("SELECT status, error FROM jobs WHERE id = :id"),
                                     {"id": job["id"]}).one()
        assert status == "completed", error
        found = conn.execute(sa.text("SELECT count(*) FROM servers WHERE service_tag IS NOT NULL")).scalar()
        assert found == len(fleet.endpoints)
    # Then what an operator runs every day: inventory, health, logs — every observation table the worker writes.
    for job_type in ("refresh_server_info", "health_check", "fetch_event_logs"):
        jobs.create_job(operator, job_type, servers=list(fleet.endpoints))
    ran = subprocess.run(["runuser", "-u", svc.pw_name, "--", sys.executable, "-m", "dsm_cli.main", "worker",
                          "--exit-when-idle"], env=env, capture_output=True, text=True, timeout=240, check=False,
                         cwd=str(Path(__file__).resolve().parents[2]))
    assert ran.returncode == 0, ran.stderr[-3000:]
    with install.engine.connect() as conn:
        ended = dict(conn.execute(sa.text("SELECT job_type, status FROM jobs")).all())
        assert set(ended.values()) == {"completed"}, conn.execute(sa.text("SELECT job_type, error FROM jobs")).all()
        for table in ("firmware_inventory", "server_health", "server_event_logs"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar(), table
        calls = conn.execute(sa.text("SELECT count(*) FROM idrac_commands")).scalar()
        assert calls and calls > 0
        # Whatever the worker audits, it audits as the system, with its real login.
        audited = conn.execute(sa.text("SELECT username, action FROM audit_logs WHERE db_user = 'dsm_worker'")).all()
        logins = set(conn.execute(sa.text("SELECT DISTINCT db_user FROM audit_logs WHERE action = 'jobs.create'"))
                     .scalars())
    assert logins == {peer_logins.name("operator")}
    assert {username for username, _ in audited} <= {"system"}, audited  # never in a person's name
