"""A firmware workflow survives its worker's kill -9 at every step, and a failed step is retried in the same job.

Each test kills the worker while one step is running (every request to the simulated iDRAC is slowed so the
step is caught in the act), lets the dead worker's lease lapse, and has a new worker finish the job. What must
hold: the new worker resumes from the step's record (the step ran twice, once per worker), the update reached
the iDRAC exactly once, the host was reset exactly once, the BIOS is at the new version, the job completed.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from dsm_cli.main import os_username
from dsm_core.models import Job, WorkflowExecution
from dsm_core.services import settings
from dsm_core.timeutil import utcnow
from dsm_sim.fleet import FleetThread
from dsm_sim.repository import Repo, serve_repo
from tests.conftest import Templates, ctx_for
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, block_of, make_install, wait_until
from tests.worker.firmware_repo import BIOS_R750, NIC, PACKAGES

FAST = ("--dell-job-poll", "0.2", "--scheduled-settle", "1")
STEPS = ("plan", "lc_ready", "install", "reboot", "apply", "verify")


@pytest.fixture
def one(tmp_path: Path, templates: Templates) -> Iterator[tuple[Install, FleetThread, Repo]]:
    with FleetThread(fleet_spec(count=1, models=("R750",), time_scale=600)) as fleet:
        host = fleet.endpoints[0].split(":")[0].rsplit(".", 1)[0] + ".250"
        with serve_repo(tmp_path / "repo", host, PACKAGES) as repo:
            install = make_install(templates, "sqlite", tmp_path, [block_of(fleet)])
            # These tests kill the worker inside the update's own steps; the SCP backup before it (shown in
            # test_firmware_e2e) would only make each run longer.
            settings.set_setting(ctx_for(install.engine, os_username()), "activity.scp_backup_before_change", "false")
            # The DUPs are pushed from the repository's directory: the admin lets jobs name files there.
            settings.set_setting(ctx_for(install.engine, os_username()), "activity.package_dirs", str(repo.root))
            install.home.run("servers", "add", fleet.endpoints[0], check=True)  # the workflow reads the rest live
            try:
                yield install, fleet, repo
            finally:
                install.engine.dispose()


def _job(install: Install) -> Job:
    with Session(install.engine) as s:
        job = s.exec(select(Job).where(Job.job_type == "firmware_update")).one()
        return job


def _steps(install: Install, job_id: uuid.UUID) -> dict[str, WorkflowExecution]:
    with Session(install.engine) as s:
        rows = s.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == job_id)).all()
        return {r.step_name: r for r in rows}


def _counters(fleet: FleetThread) -> dict[str, int]:
    return dict(fleet.servers()[0]["counters"])


def _lease_lapsed(install: Install, job_id: uuid.UUID) -> bool:
    with Session(install.engine) as s:
        job = s.get(Job, job_id)
        return job is not None and job.lease_expires_at is not None and job.lease_expires_at < utcnow()


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_during_each_step_resumes_and_sends_the_update_once(
    one: tuple[Install, FleetThread, Repo], step: str
) -> None:
    install, fleet, repo = one
    endpoint = fleet.endpoints[0]
    before = _counters(fleet)
    install.home.run("firmware", "update", endpoint, "--file", str(repo.file(BIOS_R750)), check=True)
    job_id = _job(install).id
    fleet.set_faults("all", latency_ms=200)  # every request takes 0.2 s: each step runs long enough to be caught
    first = install.start_worker("--lease", "5", *FAST)
    try:
        deadline = time.monotonic() + 120
        while (row := _steps(install, job_id).get(step)) is None or row.step_status != "running":
            assert time.monotonic() < deadline and first.poll() is None, f"step {step} never seen running"
            time.sleep(0.03)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    fleet.clear_faults("all")
    assert _steps(install, job_id)[step].step_status == "running"  # the dead worker's record, as it left it
    assert not _lease_lapsed(install, job_id)  # the dead worker's lease still stands: nobody may take it yet
    second = install.start_worker(*FAST)  # claims the job once that lease lapses
    try:
        wait_until(lambda: _job(install).status not in ("pending", "running"), timeout=120, what="the job to end")
    finally:
        second.terminate()
        assert second.wait(60) == 0

    job = _job(install)
    assert job.status == "completed", job.error
    assert job.attempts == 2  # claimed by the dead worker, then by the new one: the same job
    steps = _steps(install, job_id)
    assert steps[step].attempt == 2, "the step left running was re-checked and run again by the new worker"
    assert all(steps[n].step_status in ("completed", "skipped") for n in STEPS), {
        n: r.step_status for n, r in steps.items()}
    after = _counters(fleet)
    assert after["updates_received"] - before["updates_received"] == 1, "the update was sent more than once"
    assert after["resets_received"] - before["resets_received"] == 1, "the host was reset more than once"
    assert fleet.servers()[0]["bios_version"] == BIOS_R750.version


def test_retry_resumes_the_same_job_from_the_failed_step(one: tuple[Install, FleetThread, Repo]) -> None:
    install, fleet, repo = one
    endpoint = fleet.endpoints[0]
    fleet.set_faults("all", job_failure=True)  # the iDRAC fails the update job (RED007)
    install.home.run("firmware", "update", endpoint, "--file", str(repo.file(NIC)), check=True)
    install.worker(*FAST)
    job = _job(install)
    assert job.status == "failed" and "RED007" in (job.error or ""), job.error
    steps = _steps(install, job.id)
    assert steps["install"].step_status == "failed" and steps["plan"].step_status == "completed"
    assert "reboot" not in steps  # it stopped at the first failure
    plan_done_at = steps["plan"].step_completed_at

    fleet.clear_faults("all")
    proc = install.home.run("jobs", "retry", str(job.id), check=True)
    assert "resumed from its failed step" in proc.stdout
    install.worker(*FAST)
    with Session(install.engine) as s:
        assert len(s.exec(select(Job).where(Job.job_type == "firmware_update")).all()) == 1  # no new job
    job = _job(install)
    assert job.status == "completed", job.error
    steps = _steps(install, job.id)
    assert steps["plan"].attempt == 1 and steps["plan"].step_completed_at == plan_done_at  # not run again
    assert steps["install"].attempt == 2
    assert fleet.servers()[0]["firmware"]["108255"] == NIC.version

    # --from-step runs that step and every later one again, still as the same job
    proc = install.home.run("jobs", "retry", str(job.id)[-8:], "--from-step", "verify", check=True)
    install.worker(*FAST)
    steps = _steps(install, job.id)
    assert steps["verify"].attempt == 2 and steps["install"].attempt == 2
    bad = install.home.run("jobs", "retry", str(job.id), "--from-step", "nonsense")
    assert bad.returncode == 2 and "steps recorded: backup, plan" in bad.stderr
    with Session(install.engine) as s:
        assert s.exec(select(col(Job.status)).where(Job.id == job.id)).one() == "completed"


def test_cancel_while_waiting_for_the_reboot_time_cleans_up_the_staged_update(
    one: tuple[Install, FleetThread, Repo]
) -> None:
    """The BIOS update is staged and the reboot is for tomorrow: a cancel stops the wait, records the step as
    cancelled, and the clean-up deletes the staged Dell job, so it never applies itself at the next reboot."""
    install, fleet, repo = one
    endpoint = fleet.endpoints[0]
    tomorrow = (utcnow() + timedelta(days=1)).isoformat(timespec="seconds")
    install.home.run("firmware", "update", endpoint, "--file", str(repo.file(BIOS_R750)), "--reboot",
                     f"at:{tomorrow}", check=True)
    job_id = _job(install).id
    worker = install.start_worker(*FAST)
    try:
        wait_until(lambda: (r := _steps(install, job_id).get("reboot")) is not None and r.step_status == "running",
                   timeout=60, what="the reboot step waiting for its time")
        staged = _steps(install, job_id)["install"].step_details["updates"][0]["job_id"]
        assert fleet.servers()[0]["jobs"][staged] == "Scheduled"
        install.home.run("jobs", "cancel", str(job_id), check=True)
        wait_until(lambda: _job(install).status == "cancelled", timeout=60, what="the job cancelled")
    finally:
        worker.terminate()
        worker.wait(60)
    steps = _steps(install, job_id)
    assert steps["reboot"].step_status == "failed" and steps["reboot"].step_error == "cancelled by request"
    assert "apply" not in steps and "verify" not in steps
    assert staged not in fleet.servers()[0]["jobs"], "the staged update was left to apply at the next reboot"
    assert fleet.servers()[0]["counters"]["resets_received"] == 0
    assert fleet.servers()[0]["bios_version"] == "1.8.2"


def test_reboot_none_leaves_the_update_staged_and_says_so(one: tuple[Install, FleetThread, Repo]) -> None:
    """--reboot none: the BIOS update is staged for the server's next reboot; DSM does not reboot, does not
    pretend to have verified anything, and the job says "staged"."""
    install, fleet, repo = one
    endpoint = fleet.endpoints[0]
    install.home.run("firmware", "update", endpoint, "--file", str(repo.file(BIOS_R750)), "--reboot", "none",
                     check=True)
    install.worker(*FAST)
    job = _job(install)
    assert job.status == "completed", job.error
    assert job.details is not None and job.details["result"][endpoint]["outcome"] == "staged"
    steps = _steps(install, job.id)
    assert steps["reboot"].step_details["staged"] is True and steps["apply"].step_status == "skipped"
    assert "not verified" in " ".join(steps["verify"].step_details["notes"])
    staged = steps["install"].step_details["updates"][0]["job_id"]
    sim = fleet.servers()[0]
    assert sim["jobs"][staged] == "Scheduled" and sim["counters"]["resets_received"] == 0
    assert sim["bios_version"] == "1.8.2"
