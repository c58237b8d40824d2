"""Configuration jobs end to end, on SQLite and PostgreSQL: `dsm bios|boot|media|scp ...` create the jobs, one
real `dsm worker` runs them against a simulated fleet of every generation over HTTPS.

The fleet: an iDRAC 9 on 6.00 (virtual media under Systems), an iDRAC 9 on 4.40 (under the Manager), an
iDRAC 8 (Manager path, no SettingsApplyTime: the classic BIOS job) and an iDRAC 10 (boot PATCHed at
System/Settings, SCP through OemManager). ISO images come from a loopback HTTP share."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from dsm_core.models import (
    IdracCommand,
    Job,
    ScpBackup,
    Server,
    ServerBootConfigHistory,
    VirtualMediaSession,
    WorkflowExecution,
)
from dsm_sim.fleet import FleetThread
from dsm_sim.repository import Repo, serve_repo
from dsm_sim.spec import FleetSpec
from tests.conftest import Templates
from tests.sim.conftest import client as sim_client
from tests.sim.conftest import fleet_spec
from tests.worker.conftest import Install, block_of, drain, make_install

FAST = ("--dell-job-poll", "0.2", "--scheduled-settle", "1")


@pytest.fixture
def cfg_fleet() -> Iterator[FleetThread]:
    spec: FleetSpec = fleet_spec(count=4, models=("R750", "R640", "R630", "R770"), time_scale=600,
                                 firmware={"R640": "4.40.00.00"})
    with FleetThread(spec) as f:
        yield f


@pytest.fixture
def share(cfg_fleet: FleetThread, tmp_path: Path) -> Iterator[Repo]:
    host = cfg_fleet.endpoints[0].split(":")[0].rsplit(".", 1)[0] + ".250"
    with serve_repo(tmp_path / "share", host, []) as r:
        (r.root / "images").mkdir()
        (r.root / "images" / "esxi-8.0u3.iso").write_bytes(b"\0" * 4096)
        yield r


@pytest.fixture
def cfg_install(templates: Templates, backend: str, tmp_path: Path, cfg_fleet: FleetThread) -> Iterator[Install]:
    inst = make_install(templates, backend, tmp_path, [block_of(cfg_fleet)])
    worker = inst.start_worker(*FAST)
    try:
        yield inst
    finally:
        worker.terminate()
        assert worker.wait(60) == 0
        inst.engine.dispose()


def run(install: Install, *args: str) -> subprocess.CompletedProcess[str]:
    return install.home.run(*args)


def js(install: Install, *args: str) -> Any:
    proc = install.home.run(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def waited(install: Install, *args: str) -> dict[str, Any]:
    """A job-creating command with --wait --json: the ended job (exit 1 when it failed, so not checked)."""
    proc = install.home.run(*args, "--wait", "--json", "--timeout", "240")
    assert proc.stdout, proc.stderr
    job: dict[str, Any] = json.loads(proc.stdout)
    return job


def create(install: Install, *args: str) -> str:
    """A job-creating command with --json: the new job's id (the worker runs it in the background)."""
    return str(js(install, *args)["id"])


def job_count(install: Install) -> int:
    with Session(install.engine) as s:
        return len(s.exec(select(Job.id)).all())


def media_rows(install: Install, endpoint: str) -> list[tuple[str, bool, str]]:
    address, port = endpoint.rsplit(":", 1)
    with Session(install.engine) as s:
        rows = s.exec(select(VirtualMediaSession).join(Server, col(Server.id) == col(VirtualMediaSession.server_id))
                      .where(Server.ip_address == address, Server.port == int(port))).all()
        return [(r.remote_image_url, r.is_mounted, r.media_type) for r in rows]


def ended(install: Install, job_id: str) -> Job:
    with Session(install.engine) as s:
        job = s.get(Job, uuid.UUID(job_id))
        assert job is not None
        s.expunge(job)
        return job


def result(job: Job, endpoint: str) -> dict[str, Any]:
    found: dict[str, Any] = (job.details or {})["result"][endpoint]
    return found


def sim(fleet: FleetThread, endpoint: str) -> dict[str, Any]:
    return next(s for s in fleet.servers() if s["endpoint"] == endpoint)


def steps(install: Install, job_id: str) -> dict[str, WorkflowExecution]:
    with Session(install.engine) as s:
        rows = s.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == uuid.UUID(job_id))).all()
        return {r.step_name: r for r in rows}


def backup_of(install: Install, job_id: str) -> ScpBackup:
    with Session(install.engine) as s:
        found = s.exec(select(ScpBackup).where(ScpBackup.export_job_id == uuid.UUID(job_id))).one()
        s.expunge(found)
        return found


def test_every_configuration_job_end_to_end(cfg_install: Install, cfg_fleet: FleetThread, share: Repo,
                                           backend: str) -> None:
    """Every job type on both databases; the refusals, the second-change conflict, one-time boots, the share
    test, the refresh of ejected media and the failing import (none of which depends on the database beyond
    what the rest shows) run on SQLite only, to keep ``make test`` inside its budget."""
    install = cfg_install
    full = backend == "sqlite"
    r750, r640, r630, r770 = cfg_fleet.endpoints
    for ep in cfg_fleet.endpoints:
        assert run(install, "servers", "add", ep).returncode == 0
    assert waited(install, "servers", "refresh", *cfg_fleet.endpoints)["status"] == "completed"

    # bios_config_read: attributes and the registry they are checked against
    job = waited(install, "bios", "read", *cfg_fleet.endpoints)
    assert job["status"] == "completed", job["targets"]
    shown = js(install, "bios", "show", r750)
    attrs = {a["attribute"]: a for a in shown["attributes"]}
    assert attrs["ProcVirtualization"]["value"] == "Enabled" and attrs["ProcVirtualization"]["type"] == "Enumeration"
    assert attrs["AcPwrRcvryUserDelay"]["lower"] == 60 and attrs["SystemServiceTag"]["read_only"] is True

    if full:
        # refused when created, the attribute named, nothing sent to the iDRAC and nothing queued
        requests_before = sim(cfg_fleet, r750)["counters"]["requests"]
        jobs_before = job_count(install)
        for pair, words in (("AcPwrRcvryUserDelay=soon", ("AcPwrRcvryUserDelay", "integer")),
                            ("SystemServiceTag=ABC1234", ("SystemServiceTag", "read-only")),
                            ("AcPwrRcvryUserDelay=5", ("AcPwrRcvryUserDelay", "out of range", "60 to 600")),
                            ("NoSuchSetting=1", ("NoSuchSetting", "not an attribute")),
                            ("ProcVirtualization=Maybe", ("ProcVirtualization", "Enabled, Disabled"))):
            proc = run(install, "bios", "set", r750, pair)
            assert proc.returncode == 2, (pair, proc.stdout, proc.stderr)
            assert all(w in proc.stderr for w in words), (pair, proc.stderr)
            assert "Traceback" not in proc.stderr
        assert job_count(install) == jobs_before
        assert sim(cfg_fleet, r750)["counters"]["requests"] == requests_before  # not one request

    # side by side: bios_config_write applied now (iDRAC 9: SettingsApplyTime; iDRAC 8: PATCH and a
    # configuration job), one staged for the next reboot (iDRAC 10), and a persistent boot order (iDRAC 9 4.40)
    order = sim(cfg_fleet, r640)["boot"]["order"]
    new_order = [order[-1], *order[:-1]]
    bios_now = create(install, "bios", "set", r750, "ProcVirtualization=Disabled", "AcPwrRcvryUserDelay=300",
                      "--reboot")
    bios_old = create(install, "bios", "set", r630, "NumLock=Off", "--reboot")
    bios_staged = create(install, "bios", "set", r770, "MemTest=Enabled")
    boot_order = create(install, "boot", "order", r640, "--set", ",".join(new_order), "--reboot")
    drain(install)
    job = ended(install, bios_now)
    assert job.status == "completed", job.error
    assert result(job, r750)["outcome"] == "applied"
    assert sim(cfg_fleet, r750)["bios"]["ProcVirtualization"] == "Disabled"
    assert sim(cfg_fleet, r750)["bios"]["AcPwrRcvryUserDelay"] == 300
    backup = backup_of(install, bios_now)  # every change has its undo, linked to the job
    assert backup.id == uuid.UUID(result(job, r750)["backup_id"]) and backup.include_bios and backup.is_valid
    assert backup.profile_text and 'Name="ProcVirtualization">Enabled<' in backup.profile_text  # before it
    job = ended(install, bios_old)
    assert job.status == "completed", job.error
    assert sim(cfg_fleet, r630)["bios"]["NumLock"] == "Off"
    assert backup_of(install, bios_old).export_job_id == job.id
    with Session(install.engine) as s:
        posted = s.exec(select(IdracCommand).where(IdracCommand.job_id == job.id,
                                                   IdracCommand.command_type == "POST",
                                                   col(IdracCommand.endpoint).endswith("/Jobs"))).all()
    assert len(posted) == 1  # the classic configuration job (no SettingsApplyTime on iDRAC 8)
    job = ended(install, bios_staged)
    assert job.status == "completed" and result(job, r770)["outcome"] == "staged", job.error
    assert sim(cfg_fleet, r770)["bios_pending"] == {"MemTest": "Enabled"}
    assert steps(install, bios_staged)["reboot"].step_status == "skipped"
    assert backup_of(install, bios_staged).export_job_id == job.id
    job = ended(install, boot_order)
    assert job.status == "completed", job.error
    assert sim(cfg_fleet, r640)["boot"]["order"] == new_order
    assert backup_of(install, boot_order).export_job_id == job.id
    with Session(install.engine) as s:
        history = s.exec(select(ServerBootConfigHistory).where(ServerBootConfigHistory.job_id == job.id)).one()
        assert history.boot_order == new_order and history.previous and history.previous["boot_order"] == order
        assert history.changed_by is not None

    if full:
        # a second BIOS change finds the pending job and reports it, never clobbers it; a one-time PXE boot (no
        # backup: nothing persistent); a one-time boot on iDRAC 10, PATCHed at System/Settings (refused at
        # System); a mount whose image is not on the share, stopped by the worker's share test
        clobber = create(install, "bios", "set", r770, "NumLock=Off")
        pxe = create(install, "boot", "once", r750, "--target", "pxe")
        cd = create(install, "boot", "once", r770, "--target", "Cd")
        missing = create(install, "media", "mount", r630, "--image", f"{share.url}/images/nope.iso")
        drain(install)
        job = ended(install, clobber)
        assert job.status == "failed" and "already has a pending BIOS job" in (job.error or ""), job.error
        assert sim(cfg_fleet, r770)["bios_pending"] == {"MemTest": "Enabled"}
        assert ended(install, pxe).status == "completed"
        assert sim(cfg_fleet, r750)["boot"]["override_target"] == "Pxe"
        assert sim(cfg_fleet, r750)["boot"]["override_enabled"] == "Once"
        assert steps(install, pxe)["backup"].step_status == "skipped"
        assert ended(install, cd).status == "completed"
        assert sim(cfg_fleet, r770)["boot"]["override_target"] == "Cd"
        job = ended(install, missing)
        assert job.status == "failed" and "not on the share" in (job.error or ""), job.error
        assert sim(cfg_fleet, r630)["virtual_media"] == {}
        proc = run(install, "boot", "order", r770, "--set", "Boot0001,Boot0002")
        assert proc.returncode == 2 and "boot_order" in proc.stderr and "Boot0000" in proc.stderr, proc.stderr

    # virtual media: Systems path (iDRAC 9 6.00, iDRAC 10), Manager path (iDRAC 9 4.40, VRM0021 recovered by an
    # eject and one retry, and iDRAC 8); beside them, SCP exports: XML of the BIOS, JSON through OemManager on iDRAC 10
    iso = f"{share.url}/images/esxi-8.0u3.iso"
    cfg_fleet.set_faults([r640], media_attached_elsewhere=True)
    mount = create(install, "media", "mount", r750, r640, r630, r770, "--image", iso, "--boot-once")
    export = create(install, "scp", "export", r750, "--target", "BIOS", "--name", "r750 bios")
    export_json = create(install, "scp", "export", r770, "--format", "JSON")
    drain(install)
    job = ended(install, mount)
    assert job.status == "completed", job.error
    assert sim(cfg_fleet, r750)["virtual_media"] == {"1": iso}  # slots as each iDRAC names them
    assert sim(cfg_fleet, r640)["virtual_media"] == {"CD": iso}
    assert sim(cfg_fleet, r630)["virtual_media"] == {"CD": iso}
    assert sim(cfg_fleet, r770)["virtual_media"] == {"1": iso}
    assert result(job, r640)["retried"] == "VRM0021"
    assert all("/Systems/" in result(job, ep)["slot"]["uri"] for ep in (r750, r770))
    assert all("/Managers/" in result(job, ep)["slot"]["uri"] for ep in (r640, r630))
    assert sim(cfg_fleet, r750)["boot"]["override_target"] == "Cd"
    listed = js(install, "media", "list")
    assert sorted(m["server"] for m in listed if m["is_mounted"]) == sorted([r750, r640, r630, r770])
    if full:
        # a health check keeps the sessions current: what the iDRAC shows inserted is recorded even if DSM did not
        # mount it (a refresh reads the slots only while DSM records a mount, to stay at six requests)
        with Session(install.engine) as s:
            for row in s.exec(select(VirtualMediaSession)).all():
                s.delete(row)
            s.commit()
        assert waited(install, "servers", "health", r750)["status"] == "completed"
        assert media_rows(install, r750) == [(iso, True, "CD")]
        # ejected at the iDRAC itself, not through DSM: the next refresh sees it
        with sim_client(r750) as http:
            http.post("/redfish/v1/Systems/System.Embedded.1/VirtualMedia/1/Actions/VirtualMedia.EjectMedia",
                      json={}).raise_for_status()
        assert waited(install, "servers", "refresh", r750)["status"] == "completed"
        assert media_rows(install, r750) == [(iso, False, "CD")]
    job = waited(install, "media", "eject", r640, r630, r770, *([] if full else [r750]))
    assert job["status"] == "completed", job["targets"]
    assert all(sim(cfg_fleet, ep)["virtual_media"] == {} for ep in (r750, r640, r630, r770))
    with Session(install.engine) as s:
        assert not s.exec(select(VirtualMediaSession).where(col(VirtualMediaSession.is_mounted).is_(True))).all()

    job = ended(install, export_json)
    assert job.status == "completed", job.error
    stored = js(install, "scp", "show", result(job, r770)["backup_id"])
    assert stored["export_format"] == "JSON" and stored["is_valid"]
    assert json.loads(stored["profile_text"])["SystemConfiguration"]["Components"]
    with Session(install.engine) as s:
        sent = s.exec(select(IdracCommand.endpoint).where(IdracCommand.job_id == job.id,
                                                          IdracCommand.command_type == "POST")).all()
    assert any("OemManager.ExportSystemConfiguration" in e for e in sent), sent

    # SCP round trip: the export's size and SHA-256 are of exactly the bytes the iDRAC sent; a BIOS value is
    # changed in the stored profile, it is imported, and a BIOS read shows the change
    job = ended(install, export)
    assert job.status == "completed", job.error
    exported = result(job, r750)
    stored = js(install, "scp", "show", exported["backup_id"])
    assert stored["scp_file_size_bytes"] == len(stored["profile_text"].encode()) == exported["size"]
    assert stored["checksum"] == hashlib.sha256(stored["profile_text"].encode()).hexdigest()
    assert stored["include_bios"] and not stored["include_raid"]
    listed = js(install, "scp", "list", r750)
    assert exported["backup_id"] in [b["id"] for b in listed] and "profile_text" not in listed[0]
    preview = create(install, "scp", "import", r750, "--backup", exported["backup_id"][-8:], "--preview")
    restore = create(install, "scp", "import", r750, "--backup", exported["backup_id"], "--set",
                     "ProcTurboMode=Disabled")
    drain(install)
    job = ended(install, preview)
    assert job.status == "completed" and result(job, r750)["outcome"] == "previewed", job.error
    job = ended(install, restore)
    assert job.status == "completed", job.error
    applied = result(job, r750)["results"]
    assert {(r["attribute"], r["new"], r["status"]) for r in applied} == {("ProcTurboMode", "Disabled", "Success")}
    read = js(install, "bios", "show", r750, "--refresh", "--attribute", "ProcTurboMode")
    assert read["attributes"][0]["value"] == "Disabled"
    if full:
        # a bad attribute: CompletedWithErrors, the attribute named, the good one applied, never a success
        job = waited(install, "scp", "import", r750, "--backup", exported["backup_id"], "--set", "NumLock=Off",
                     "--set", "BogusKnob=On")
        assert job["status"] == "failed", job["targets"]
        assert "CompletedWithErrors" in job["error"] and "BogusKnob" in job["error"], job["error"]
        assert job["details"]["result"][r750]["failed"] == ["BogusKnob"]
        assert sim(cfg_fleet, r750)["bios"]["NumLock"] == "Off"

    # nothing left behind: no job pending or running
    with Session(install.engine) as s:
        assert not s.exec(select(Job).where(col(Job.status).in_(("pending", "running")))).all()
