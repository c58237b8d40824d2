"""Firmware end to end, on SQLite and PostgreSQL: `dsm firmware ...` creates the jobs, a real `dsm worker` runs
them against the simulated fleet over HTTPS, with the catalog and DUPs on a loopback HTTP repository.

Each update method is shown: a DUP pushed (multipart on iDRAC 9, HttpPushUri and SimpleUpdate on iDRAC 8), a
DUP the iDRAC pulls (SimpleUpdate), packages DSM picks from the catalog, and InstallFromRepository (apply and
compare only). A BIOS update waits for the reboot DSM sends and is verified after; the iDRAC's own update
takes it off the network and it comes back; SUP029 is "already compliant"; CompletedWithErrors fails the job
and says so."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from dsm_core.models import FirmwareRepository, IdracCommand, Job, ScpBackup, Server, WorkflowExecution
from dsm_sim.fleet import FleetThread
from dsm_sim.repository import Repo, serve_repo
from tests.conftest import Templates
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, block_of, drain, make_install
from tests.worker.firmware_repo import BIOS_R630, BIOS_R750, IDRAC, NIC, PACKAGES

FAST = ("--dell-job-poll", "0.2", "--scheduled-settle", "1")
STEPS = ["backup", "plan", "lc_ready", "install", "reboot", "apply", "verify"]


@pytest.fixture
def fw_fleet() -> Iterator[FleetThread]:
    # Time runs 300 times faster: a firmware job takes 4 s, the iDRAC's own restart 1 s.
    with FleetThread(fleet_spec(count=2, models=("R750", "R630"), time_scale=300)) as f:
        yield f


@pytest.fixture
def repo(fw_fleet: FleetThread, tmp_path: Path) -> Iterator[Repo]:
    host = fw_fleet.endpoints[0].split(":")[0].rsplit(".", 1)[0] + ".250"
    with serve_repo(tmp_path / "repo", host, PACKAGES) as r:
        yield r


@pytest.fixture
def fw_install(templates: Templates, backend: str, tmp_path: Path, fw_fleet: FleetThread) -> Iterator[Install]:
    """An installation with one real `dsm worker` running in the background for the whole test."""
    inst = make_install(templates, backend, tmp_path, [block_of(fw_fleet)])
    worker = inst.start_worker(*FAST)
    try:
        yield inst
    finally:
        worker.terminate()
        assert worker.wait(60) == 0
        inst.engine.dispose()


def _json(install: Install, *args: str) -> Any:
    proc = install.home.run(*args, "--json", check=True)
    return json.loads(proc.stdout)


def _job(install: Install, job_id: str) -> Job:
    with Session(install.engine) as s:
        job = s.get(Job, uuid.UUID(job_id))
        assert job is not None
        return job


def _create(install: Install, *args: str) -> str:
    """`dsm firmware update ARGS --json`: the new job's id."""
    return str(_json(install, "firmware", "update", *args)["id"])


def _steps(install: Install, job: Job) -> dict[str, WorkflowExecution]:
    with Session(install.engine) as s:
        return {r.step_name: r for r in s.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == job.id))}


def _sim(fleet: FleetThread, endpoint: str) -> dict[str, Any]:
    return next(s for s in fleet.servers() if s["endpoint"] == endpoint)


def _update(install: Install, *args: str) -> str:
    job_id = _create(install, *args)
    drain(install)
    return job_id


def test_every_update_method_end_to_end(fw_install: Install, fw_fleet: FleetThread, repo: Repo) -> None:
    install, home = fw_install, fw_install.home
    r750, r630 = fw_fleet.endpoints
    home.run("servers", "add", r750, check=True)
    home.run("servers", "add", r630, check=True)
    home.run("servers", "refresh", r750, r630, check=True)
    home.run("firmware", "repo", "add", "drm", "--url", repo.url, check=True)
    home.run("firmware", "repo", "sync", "drm", check=True)
    home.run("settings", "set", "activity.package_dirs", str(repo.root), check=True)  # DUPs pushed from there
    drain(install)
    repos = _json(install, "firmware", "repo", "list")
    assert repos[0]["package_count"] == 6 and repos[0]["last_status"] == "synced", repos

    # compliance, as the catalog sync computed it: the R750's BIOS, iDRAC, NIC, CPLD have upgrades; the PSU
    # package is for an R660 and does not apply
    rows = _json(install, "firmware", "compliance", "--server", r750)
    by_id = {r["component_id"]: r for r in rows}
    assert {k: by_id[k]["state"] for k in ("159", "25227", "108255", "27763", "108076")} == {
        "159": "upgrade", "25227": "upgrade", "108255": "upgrade", "27763": "upgrade", "108076": "not_in_catalog"}
    bios_row = by_id["159"]
    assert (bios_row["installed"], bios_row["available"], bios_row["criticality"], bios_row["reboot_required"],
            bios_row["package_path"]) == ("1.8.2", "1.13.2", "Urgent", True, BIOS_R750.path)
    assert {"server_id", "ip_address", "service_tag", "component"} <= set(bios_row)
    assert {r["state"] for r in _json(install, "firmware", "compliance", "--state", "upgrade")} == {"upgrade"}

    # a catalog that goes bad on the share: the sync fails and says why; the last good catalog stays whole
    good = (repo.root / "Catalog.xml").read_bytes()
    (repo.root / "Catalog.xml").write_bytes(good[: len(good) // 2])
    home.run("firmware", "repo", "sync", "drm", check=True)
    drain(install)
    repos = _json(install, "firmware", "repo", "list")
    assert repos[0]["last_status"] == "failed" and "not well-formed" in repos[0]["last_error"], repos
    assert repos[0]["package_count"] == 6 and repos[0]["catalog_version"] == "24.05.00"
    assert _json(install, "firmware", "compliance", "--server", r750) == rows
    (repo.root / "Catalog.xml").write_bytes(good)

    # Two servers, two jobs per worker run where they do not depend on each other.
    # A. a DUP file pushed (multipart, iDRAC 9): BIOS waits for the reboot DSM sends, then is verified;
    #    iDRAC 8 has no MultipartHttpPushUri: the DUP goes to HttpPushUri, then SimpleUpdate installs it
    bios = _create(install, r750, "--file", str(repo.file(BIOS_R750)))
    old = _create(install, r630, "--file", str(repo.file(BIOS_R630)))
    drain(install)
    job = _job(install, bios)
    assert job.status == "completed", job.error
    steps = _steps(install, job)
    assert [n for n in STEPS if steps[n].step_status == "completed"] == STEPS, {n: s.step_status for n, s in
                                                                               steps.items()}
    install_step = steps["install"].step_details or {}
    assert install_step["updates"][0]["outcome"] == "scheduled"  # staged: waiting for the host to reboot
    assert steps["reboot"].step_details["reset"]["type"] == "GracefulRestart"
    assert steps["verify"].step_details["results"][0]["installed"] == "1.13.2"
    assert _sim(fw_fleet, r750)["bios_version"] == "1.13.2"
    with Session(install.engine) as s:
        server = s.exec(select(Server).where(Server.port == int(r750.split(":")[1]),
                                             Server.ip_address == r750.split(":")[0])).one()
        assert server.bios_version == "1.13.2"
    assert job.details["result"][r750]["outcome"] == "updated"
    # the change has its undo: an SCP export taken first, stored and linked to this job
    with Session(install.engine) as s:
        backup = s.get(ScpBackup, uuid.UUID(job.details["result"][r750]["backup_id"]))
        assert backup is not None and backup.export_job_id == job.id and backup.scp_file_size_bytes
        assert backup.profile_text and "<SystemConfiguration" in backup.profile_text
        assert backup.checksum == hashlib.sha256(backup.profile_text.encode()).hexdigest()
    with Session(install.engine) as s:
        pushed = s.exec(select(IdracCommand).where(IdracCommand.job_id == job.id,
                                                   col(IdracCommand.endpoint).contains("MultipartUpload"))).all()
    assert len(pushed) == 1 and pushed[0].status_code == 202
    job = _job(install, old)
    assert job.status == "completed", job.error
    assert _steps(install, job)["plan"].step_details["push"]["kind"] == "http_push"
    assert _sim(fw_fleet, r630)["bios_version"] == "2.19.1"

    # B. an image the iDRAC pulls: its own firmware; it restarts, drops every session, and comes back.
    #    Beside it, CompletedWithErrors on the other server is shown as such and fails that job.
    logins_before = _sim(fw_fleet, r750)["counters"]["logins"]
    fw_fleet.set_faults([r630], job_completed_with_errors=True)
    idrac = _create(install, r750, "--image-uri", repo.uri(IDRAC))
    cwe = _create(install, r630, "--file", str(repo.file(NIC)))
    drain(install)
    job = _job(install, idrac)
    assert job.status == "completed", job.error
    assert _sim(fw_fleet, r750)["idrac_firmware"] == "7.10.30.00"
    assert _sim(fw_fleet, r750)["counters"]["logins"] > logins_before  # the old session died with the restart
    notes = " ".join(_steps(install, job)["install"].step_details["notes"])
    assert "restarts to finish its own update" in notes and "back, firmware 7.10.30.00" in notes
    assert _steps(install, job)["reboot"].step_status == "skipped"  # the host never needed a reboot
    job = _job(install, cwe)
    assert job.status == "failed"
    assert "completed with errors" in (job.error or "").lower(), job.error
    assert _steps(install, job)["install"].step_status == "failed"
    shown = install.home.run("jobs", "show", str(job.id), check=True).stdout
    assert "CompletedWithErrors" in shown
    assert _sim(fw_fleet, r630)["firmware"]["108255"] == "21.80.9"  # the old version stays

    # C. packages DSM picks from its compliance (the NIC), pulled by the iDRAC from the repository
    job = _job(install, _update(install, r750, "--repository", "drm", "--component", "ethernet"))
    assert job.status == "completed", job.error
    assert _sim(fw_fleet, r750)["firmware"]["108255"] == "22.00.6"
    order = _steps(install, job)["plan"].step_details["component_order"]
    assert len(order) == 1 and "Ethernet" in order[0], order

    # D. compare only: the iDRAC says what it would do (the CPLD), nothing is installed
    job = _job(install, _update(install, r750, "--repository", "drm", "--compare-only"))
    assert job.status == "completed", job.error
    would = job.details["result"][r750]["would_update"]
    assert [(w["component_id"], w["version"]) for w in would] == [("27763", "1.1.1")]
    assert _sim(fw_fleet, r750)["firmware"]["27763"] == "1.0.5"

    # D. InstallFromRepository applies it (after the reboot DSM sends), and DSM verifies the version
    job = _job(install, _update(install, r750, "--repository", "drm"))
    assert job.status == "completed", job.error
    assert _sim(fw_fleet, r750)["firmware"]["27763"] == "1.1.1"
    assert job.details["result"][r750]["results"][0]["installed"] == "1.1.1"

    # and again: the iDRAC answers SUP029, "already compliant", which is an outcome, not a failure
    job = _job(install, _update(install, r750, "--repository", "drm"))
    assert job.status == "completed", job.error
    assert job.details["result"][r750]["outcome"] == "already_compliant"
    rows = _json(install, "firmware", "compliance", "--server", r750, "--state", "upgrade")
    assert rows == [], rows  # refreshed after each update: nothing left to upgrade
    with Session(install.engine) as s:
        repo_row = s.exec(select(FirmwareRepository)).one()
        assert repo_row.catalog_version == "24.05.00"
