"""A maintenance window end to end against vcsim and a `dsm_sim` fleet: planned with `dsm windows create`, refused
to its creator (four-eyes), approved by another operator, due on a controlled clock (not a second early), run by
a real worker (safety check, then the rolling update of four hosts), completed with its jobs linked; its change
record (`dsm windows report`, json and md) lists every step of every host."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from dsm_cli.main import os_username
from dsm_core.models import Job, MaintenanceWindow
from dsm_core.services import users, windows
from dsm_worker.scheduler import Scheduler
from tests.conftest import ctx_for
from tests.worker.firmware_repo import BIOS_R750
from tests.worker.test_rolling_update import FAST, HOST_STEPS, Bed, Observer, _assert_done_once, _counters
from tests.worker.test_rolling_update import bed as bed

pytestmark = pytest.mark.timeout(600)


def _window(bed: Bed, wid: str) -> MaintenanceWindow:
    with Session(bed.install.engine) as s:
        row = s.get(MaintenanceWindow, uuid.UUID(wid))
        assert row is not None
        return row


def _jobs(bed: Bed) -> list[Job]:
    with Session(bed.install.engine) as s:
        return list(s.exec(select(Job)).all())


def test_an_approved_rolling_update_window_runs_on_time_and_its_change_record_lists_every_step(bed: Bed) -> None:
    install = bed.install
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    created = install.home.run(
        "windows", "create", "--title", "BIOS 2.19 on DC0_C0", "--cluster", "DC0_C0", "--type",
        "rolling_cluster_update", "--start", start.isoformat(), "--end", (start + timedelta(hours=4)).isoformat(),
        "--requires-approval", "--detail", f"image_uri={bed.repo.uri(BIOS_R750)}", "--detail", "min_required_hosts=2",
        "--json")
    assert created.returncode == 0, created.stderr
    wid = json.loads(created.stdout)["id"]
    refused = install.home.run("windows", "approve", wid)
    assert refused.returncode == 3 and "four-eyes rule (maintenance.four_eyes)" in refused.stderr

    users.add_user(ctx_for(install.engine, os_username()), "carol", "operator")
    approved = windows.approve_window(ctx_for(install.engine, "carol"), wid)
    assert approved["approval"]["plans"][0]["hosts"] == bed.hosts

    scheduler = Scheduler(install.engine)
    scheduler.tick(start - timedelta(seconds=1))
    assert _window(bed, wid).status == "planned" and not [j for j in _jobs(bed) if j.job_type != "vcenter_sync"
                                                           and j.job_type != "refresh_server_info"]
    before = _counters(bed)
    with Observer(bed.vc) as observer:
        worker = install.start_worker("--no-scheduler", *FAST)
        try:
            began = time.monotonic()
            scheduler.tick(start)  # due now: the controlled clock stands at the planned start
            assert _window(bed, wid).status == "in_progress"
            while time.monotonic() - began < 400:
                scheduler.tick(start + timedelta(seconds=time.monotonic() - began))
                if _window(bed, wid).status not in ("planned", "in_progress"):
                    break
                time.sleep(0.5)
        finally:
            worker.terminate()
            worker.wait(60)
    row = _window(bed, wid)
    assert row.status == "completed", (row.status, row.status_reason)
    assert observer.max_in_maintenance == 1 and observer.min_healthy >= 2
    _assert_done_once(bed, before)
    by_id = {str(j.id): j for j in _jobs(bed)}
    linked = [by_id[j] for j in row.job_ids]
    assert [j.job_type for j in linked] == ["cluster_safety_check", "rolling_cluster_update"]
    assert all(j.status == "completed" and j.created_by is None for j in linked)
    assert row.safety_check_snapshot and row.safety_check_snapshot["checks"][0]["verdict"] == "safe"

    doc = json.loads(install.home.run("windows", "report", wid, "--format", "json", check=True).stdout)
    assert doc["outcome"]["status"] == "completed" and doc["approval"]["approved_by"] == "carol"
    update = next(j for j in doc["jobs"] if j["type"] == "rolling_cluster_update")
    rolled = [s for s in update["steps"] if s["step"] in HOST_STEPS]
    for host in bed.hosts:
        assert sorted(s["step"] for s in rolled if s["host"] == host) == sorted(HOST_STEPS), host
    assert all(s["status"] == "completed" and s["started_at"] and s["completed_at"] for s in rolled)
    assert doc["plans"][0]["hosts"][0]["host"] == bed.hosts[0]
    assert doc["safety_checks"] and doc["safety_checks"][0]["verdict"] == "safe"
    calls = {c["host"]: c for c in doc["api_calls"]}
    assert "vCenter" in calls and all(c["calls"] > 0 for c in calls.values())
    assert [h["action"] for h in doc["history"]][:2] == ["windows.create", "windows.approve"]
    md = install.home.run("windows", "report", wid, "--format", "md", check=True).stdout
    for host in bed.hosts:
        for step in HOST_STEPS:
            assert f"| {host} | {step} | completed |" in md, (host, step)
    html = install.home.run("windows", "report", wid, "--format", "html", check=True).stdout
    assert "<script" not in html and "http://" not in html.split("<body>")[1].replace(bed.repo.uri(BIOS_R750), "")
