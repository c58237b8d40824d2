"""Operating the worker: drain on SIGTERM, cancellation, the emergency pause, heartbeats, pinned certificates."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from sqlmodel import Session, select

from dsm_core.models import Job, JobTask, Server, WorkerHeartbeat
from dsm_sim.fleet import FleetThread
from tests.conftest import Templates
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, block_of, make_install, wait_until


def _job(install: Install) -> Job:
    with Session(install.engine) as s:
        return s.exec(select(Job).order_by(Job.created_at.desc())).first()


def _slow_install(templates: Templates, tmp_path: Path, fleet: FleetThread) -> Install:
    install = make_install(templates, "sqlite", tmp_path, [block_of(fleet)])
    install.home.run("servers", "import", "-", stdin="ip_address\n" + "\n".join(fleet.endpoints) + "\n", check=True)
    return install


def test_sigterm_drains_and_hands_back(templates: Templates, tmp_path: Path) -> None:
    with FleetThread(fleet_spec(count=60, time_scale=600, faults={"all": {"latency_ms": 400}})) as fleet:
        install = _slow_install(templates, tmp_path, fleet)
        install.home.run("servers", "refresh", *fleet.endpoints, check=True)
        worker = install.start_worker("--grace", "1", "--concurrency", "1")
        wait_until(lambda: _job(install).status == "running")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        job = _job(install)
        assert job.status == "pending" and job.claimed_by is None  # handed back, claimable at once
        with Session(install.engine) as s:
            tasks = s.exec(select(JobTask)).all()
            beat = s.exec(select(WorkerHeartbeat)).one()
        assert not any(t.status == "running" for t in tasks)
        assert beat.status == "stopped"
        assert fleet.open_sessions() == 0  # the drain logged out of every iDRAC
        install.worker()  # another worker finishes it
        assert _job(install).status == "completed"
        install.engine.dispose()


def test_cancel_a_running_job(templates: Templates, tmp_path: Path) -> None:
    with FleetThread(fleet_spec(count=40, time_scale=600, faults={"all": {"latency_ms": 400}})) as fleet:
        install = _slow_install(templates, tmp_path, fleet)
        install.home.run("settings", "set", "activity.global_max_concurrent", "4", check=True)  # targets queue
        install.home.run("servers", "health", *fleet.endpoints, check=True)
        worker = install.start_worker("--concurrency", "1")
        try:
            wait_until(lambda: _job(install).status == "running")
            out = install.home.run("jobs", "cancel", str(_job(install).id), check=True)
            assert "cancellation requested" in out.stdout
            wait_until(lambda: _job(install).status == "cancelled", 60)
        finally:
            worker.terminate()
            worker.wait(30)
        with Session(install.engine) as s:
            tasks = s.exec(select(JobTask)).all()
        assert {t.status for t in tasks} <= {"completed", "cancelled"} and any(t.status == "cancelled" for t in tasks)
        assert fleet.open_sessions() == 0
        install.engine.dispose()


def test_pause_stops_new_idrac_work(templates: Templates, tmp_path: Path) -> None:
    with FleetThread(fleet_spec(count=2, time_scale=600)) as fleet:
        install = _slow_install(templates, tmp_path, fleet)
        install.home.run("settings", "set", "activity.pause_idrac_operations", "true", check=True)
        install.home.run("servers", "refresh", *fleet.endpoints, check=True)
        worker = install.start_worker()
        try:
            time.sleep(4)
            assert _job(install).status == "pending"  # not claimed while paused
            assert sum(s["counters"]["requests"] for s in fleet.servers()) == 0
            with Session(install.engine) as s:
                beat = s.exec(select(WorkerHeartbeat)).one()
            assert beat.status == "running" and beat.pid == worker.pid
            install.home.run("settings", "set", "activity.pause_idrac_operations", "false", check=True)
            wait_until(lambda: _job(install).status == "completed", 60)
        finally:
            worker.terminate()
            worker.wait(30)
        install.engine.dispose()


def test_changed_certificate_fails_loudly_until_forgotten(templates: Templates, tmp_path: Path) -> None:
    spec = fleet_spec(count=1, time_scale=600)
    with FleetThread(spec) as fleet:
        install = _slow_install(templates, tmp_path, fleet)
        install.home.run("servers", "refresh", fleet.endpoints[0], check=True)
        install.worker()
        with Session(install.engine) as s:
            pinned = s.exec(select(Server)).one().tls_fingerprint_sha256
        assert pinned
    with FleetThread(spec) as fleet:  # same address, new certificate (an impostor, or a replaced iDRAC)
        install.home.run("servers", "refresh", fleet.endpoints[0], check=True)
        install.worker()
        job = _job(install)
        assert job.status == "failed" and "certificate" in (job.error or "") and "changed" in (job.error or "")
        assert fleet.servers()[0]["counters"]["logins"] == 0  # the password was never sent
        install.home.run("servers", "update", fleet.endpoints[0], "--forget-certificate", check=True)
        install.home.run("servers", "refresh", fleet.endpoints[0], check=True)
        install.worker()
        assert _job(install).status == "completed"
        with Session(install.engine) as s:
            assert s.exec(select(Server)).one().tls_fingerprint_sha256 not in (None, pinned)
        install.engine.dispose()


def test_activity_log_level_is_honoured(templates: Templates, tmp_path: Path) -> None:
    from dsm_core.models import IdracCommand

    with FleetThread(fleet_spec(count=1, time_scale=600)) as fleet:
        install = _slow_install(templates, tmp_path, fleet)
        install.home.run("servers", "add", "127.0.0.1:9", "--username", "root", "--password-stdin",
                         stdin="calvin\n", check=True)  # nothing listens: its calls are errors
        counts = {}
        for level in ("all", "errors_only", "none"):
            install.home.run("settings", "set", "activity.log_level", level, check=True)
            install.home.run("servers", "refresh", fleet.endpoints[0], "127.0.0.1:9", check=True)
            def totals() -> tuple[int, int]:
                with Session(install.engine) as s:
                    rows = s.exec(select(IdracCommand)).all()
                return sum(r.success for r in rows), sum(not r.success for r in rows)
            ok_before, bad_before = totals()
            install.worker()
            ok_after, bad_after = totals()
            counts[level] = (ok_after - ok_before, bad_after - bad_before)
        assert counts["all"][0] > 5 and counts["all"][1] >= 1
        assert counts["errors_only"][0] == 0 and counts["errors_only"][1] >= 1
        assert counts["none"] == (0, 0)
        install.engine.dispose()


def test_rate_limit_and_caps_change_while_the_worker_runs(templates: Templates, tmp_path: Path) -> None:
    """network.max_requests_per_minute throttles each iDRAC, and a new value reaches the running worker."""
    from dsm_core.models import IdracCommand

    with FleetThread(fleet_spec(count=1, time_scale=600)) as fleet:
        install = _slow_install(templates, tmp_path, fleet)
        install.home.run("settings", "set", "network.max_requests_per_minute", "2", check=True)
        worker = install.start_worker()
        try:
            install.home.run("servers", "refresh", fleet.endpoints[0], check=True)
            wait_until(lambda: _job(install).status == "running", what="the refresh to start")

            def calls() -> int:
                with Session(install.engine) as s:
                    return len(s.exec(select(IdracCommand).where(IdracCommand.job_id == _job(install).id)).all())

            time.sleep(6)  # unthrottled, a refresh takes well under a second against the simulator
            assert calls() <= 2 and _job(install).status == "running", "two requests a minute: the rest wait"
            install.home.run("settings", "set", "network.max_requests_per_minute", "6000", check=True)
            job = wait_until(lambda: (j := _job(install)).status in ("completed", "failed") and j, timeout=30,
                             what="the refresh to finish once the limit is raised")
            assert job.status == "completed", job.error
            wait_until(lambda: calls() > 2, what="the rest of the refresh's calls in the activity log")
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        install.engine.dispose()
