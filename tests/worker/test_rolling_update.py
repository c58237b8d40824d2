"""The rolling cluster update end to end: vcsim (real pyvmomi), a `dsm_sim` fleet whose iDRACs carry the hosts'
service tags, a local firmware repository, real workers, and an independent observer polling vcsim throughout.

What must hold: every host goes through the eight recorded steps in plan order; the observer never sees two hosts
in maintenance at once nor fewer healthy hosts than the minimum; each iDRAC receives its update and its reset
exactly once; a worker killed at any step is replaced and the run completes with the same guarantees; a failed
firmware step stops the run with its host in maintenance, and retry (same job) or cancel (host back in service)
ends it cleanly.
"""

from __future__ import annotations

import json
import signal
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from dsm_cli.main import os_username
from dsm_core.models import AuditLog, Job, JobTask, WorkflowExecution
from dsm_core.services import jobs, settings
from dsm_sim.fleet import FleetThread
from dsm_sim.repository import Pkg, Repo, serve_repo
from tests.conftest import Templates, ctx_for
from tests.latency_proxy import LatencyProxy, latency_proxy
from tests.sim.conftest import fleet_spec
from tests.vcsim import Vcsim, running
from tests.worker.conftest import Install, block_of, make_install, wait_until
from tests.worker.firmware_repo import BIOS_R750, NIC, PACKAGES

FAST = ("--dell-job-poll", "0.2", "--scheduled-settle", "1")
HOST_STEPS = ("safety_check", "enter_maintenance_mode", "firmware_update", "reboot_server", "wait_for_online",
              "verify_health", "exit_maintenance_mode", "verify_cluster_health")


@dataclass
class Observer:
    """Polls vcsim on its own pyvmomi session (not DSM's) and keeps the worst it saw."""

    vc: Vcsim
    min_healthy: int = 1 << 30
    max_in_maintenance: int = 0
    samples: int = 0
    in_maintenance_seen: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        from pyVim.connect import Disconnect, SmartConnect
        from pyVmomi import vim

        context = ssl._create_unverified_context()  # the observer is the test's own eye, not DSM
        si = SmartConnect(host=self.vc.host, port=self.vc.port, user=self.vc.username, pwd=self.vc.password,
                          sslContext=context)
        try:
            content = si.RetrieveContent()
            view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
            while not self._stop.is_set():
                hosts = [(h.name, h.runtime.connectionState, h.runtime.inMaintenanceMode) for h in view.view]
                down = [n for n, _, m in hosts if m]
                healthy = sum(1 for _, c, m in hosts if c == "connected" and not m)
                self.max_in_maintenance = max(self.max_in_maintenance, len(down))
                self.min_healthy = min(self.min_healthy, healthy)
                self.in_maintenance_seen.update(down)
                self.samples += 1
                time.sleep(0.05)
        finally:
            Disconnect(si)

    def __enter__(self) -> Observer:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@dataclass
class Bed:
    install: Install
    fleet: FleetThread
    repo: Repo
    vc: Vcsim
    hosts: list[str]
    proxy: LatencyProxy
    """DSM reaches vcsim through it: a slow vCenter on cue (the kill tests)."""
    """vcsim's host names, in name order (= plan order: no priorities set)."""


@pytest.fixture
def bed(templates: Templates, tmp_path: Path) -> Iterator[Bed]:
    with running("-cluster", "1", "-host", "4") as vc, latency_proxy(vc.host, vc.port) as proxy, \
            FleetThread(fleet_spec(count=4, models=("R750",), tag_scheme="vcsim", time_scale=600)) as fleet:
        host = fleet.endpoints[0].split(":")[0].rsplit(".", 1)[0] + ".250"
        with serve_repo(tmp_path / "repo", host, PACKAGES) as repo:
            install = make_install(templates, "sqlite", tmp_path, [block_of(fleet)])
            admin = ctx_for(install.engine, os_username())
            # the SCP backup before each update is shown by the firmware tests; here it would only add minutes
            settings.set_setting(admin, "activity.scp_backup_before_change", "false")
            csv = tmp_path / "fleet.csv"
            csv.write_text("ip_address\n" + "".join(f"{ep}\n" for ep in fleet.endpoints))
            install.home.run("servers", "import", str(csv), check=True)
            jobs.create_job(admin, "refresh_server_info", servers=list(fleet.endpoints))
            install.worker(*FAST)  # service tags first: a sync links hosts to the servers it knows then
            install.home.run("vcenter", "add", "vc1", "--url", f"https://127.0.0.1:{proxy.port}", "--username",
                             vc.username,
                             "--password-stdin", stdin=vc.password + "\n", check=True)
            install.home.run("vcenter", "sync", check=True)
            install.worker(*FAST)
            try:
                yield Bed(install, fleet, repo, vc, [f"DC0_C0_H{i}" for i in range(4)], proxy)
            finally:
                install.engine.dispose()


def _json(install: Install, *args: str, code: int = 0) -> Any:
    proc = install.home.run(*args, "--json")
    assert proc.returncode == code, (args, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    return json.loads(proc.stdout)


def _job(install: Install) -> Job:
    with Session(install.engine) as s:
        return s.exec(select(Job).where(Job.job_type == "rolling_cluster_update")).one()


def _rows(install: Install, job_id: uuid.UUID) -> list[WorkflowExecution]:
    with Session(install.engine) as s:
        return list(s.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == job_id)
                           .order_by(col(WorkflowExecution.created_at))).all())


def _host_steps(install: Install, job_id: uuid.UUID) -> dict[str, dict[str, WorkflowExecution]]:
    by_task: dict[str, dict[str, WorkflowExecution]] = {}
    with Session(install.engine) as s:
        tasks = {t.server_id: (t.target or "").split(" ")[0] for t in s.exec(select(JobTask).where(
            JobTask.job_id == job_id)).all()}
    for r in _rows(install, job_id):
        if r.workflow_type == "rolling_cluster_update":
            by_task.setdefault(tasks[r.server_id], {})[r.step_name] = r
    return by_task


def _start(bed: Bed, *extra: str, package: Pkg = BIOS_R750) -> uuid.UUID:
    proc = bed.install.home.run("rolling-update", "DC0_C0", "--image-uri", bed.repo.uri(package), "--min-hosts",
                                "2", "--yes", *extra)
    assert proc.returncode == 0, proc.stderr
    return _job(bed.install).id


def _maintenance(bed: Bed) -> dict[str, bool]:
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim

    si = SmartConnect(host=bed.vc.host, port=bed.vc.port, user=bed.vc.username, pwd=bed.vc.password,
                      sslContext=ssl._create_unverified_context())
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
        return {h.name: bool(h.runtime.inMaintenanceMode) for h in view.view}
    finally:
        Disconnect(si)


def _assert_done_once(bed: Bed, before: list[dict[str, int]]) -> None:
    for server, counters in zip(bed.fleet.servers(), before, strict=True):
        assert server["bios_version"] == BIOS_R750.version, server["address"]
        assert server["counters"]["updates_received"] - counters["updates_received"] == 1, server["address"]
        assert server["counters"]["resets_received"] - counters["resets_received"] == 1, server["address"]


def _counters(bed: Bed) -> list[dict[str, int]]:
    return [dict(s["counters"]) for s in bed.fleet.servers()]


def test_a_rolling_update_of_four_hosts_completes_in_plan_order_and_never_breaks_the_safety_rule(bed: Bed) -> None:
    plan = _json(bed.install, "rolling-update", "DC0_C0", "--image-uri", bed.repo.uri(BIOS_R750), "--min-hosts", "2",
                 "--plan")
    assert [h["host"] for h in plan["hosts"]] == bed.hosts and plan["safe"] is True
    assert [h["margin"] for h in plan["hosts"]] == [1, 1, 1, 1]  # 4 healthy - 1 down - minimum 2
    assert all(h["server"] and h["estimate_basis"] == "default" for h in plan["hosts"])
    unsafe = _json(bed.install, "rolling-update", "DC0_C0", "--image-uri", bed.repo.uri(BIOS_R750),
                   "--min-hosts", "4", "--plan", code=4)
    assert unsafe["safe"] is False and "below the minimum of 4" in unsafe["problems"][0]
    refused = bed.install.home.run("rolling-update", "DC0_C0", "--image-uri", bed.repo.uri(BIOS_R750))
    assert refused.returncode != 0 and "--yes" in refused.stderr  # no terminal to type the name on

    before = _counters(bed)
    job_id = _start(bed)
    with Observer(bed.vc) as observer:
        worker = bed.install.start_worker(*FAST)
        try:
            wait_until(lambda: _job(bed.install).status in ("completed", "failed", "cancelled"), timeout=300,
                       what="the rolling update to end")
        finally:
            worker.terminate()
            worker.wait(60)
    job = _job(bed.install)
    assert job.status == "completed", job.error
    assert observer.samples > 20
    assert observer.max_in_maintenance == 1 and observer.in_maintenance_seen == set(bed.hosts)
    assert observer.min_healthy >= 2
    steps = _host_steps(bed.install, job_id)
    assert sorted(steps) == bed.hosts
    for host in bed.hosts:
        assert set(steps[host]) == set(HOST_STEPS), host
        assert all(r.step_status == "completed" for r in steps[host].values()), {
            n: (r.step_status, r.step_error) for n, r in steps[host].items()}
    entered = [steps[h]["enter_maintenance_mode"].step_started_at for h in bed.hosts]
    assert entered == sorted(entered)  # plan order
    # one host at a time: a host enters maintenance only after the one before it was verified back
    for previous, host in zip(bed.hosts, bed.hosts[1:], strict=False):
        assert steps[previous]["verify_cluster_health"].step_completed_at <= steps[host]["safety_check"].step_started_at
    _assert_done_once(bed, before)
    assert not any(_maintenance(bed).values())
    with Session(bed.install.engine) as s:  # every maintenance change is the system's act, audited
        audit = s.exec(select(AuditLog).where(AuditLog.action == "vcenter.maintenance")).all()
    assert {a.username for a in audit} == {"system"}
    assert sorted((a.details or {})["host"] + ":" + (a.details or {})["maintenance"] for a in audit) == sorted(
        f"{h}:{m}" for h in bed.hosts for m in ("entered", "exited"))
    again = _json(bed.install, "clusters", "show", "DC0_C0")
    assert again["last_safety"]["verdict"] == "safe"


@pytest.mark.parametrize("step", HOST_STEPS)
def test_kill_9_of_the_worker_at_each_step_resumes_and_completes_without_sending_anything_twice(
        bed: Bed, step: str) -> None:
    before = _counters(bed)
    job_id = _start(bed)
    victim = bed.hosts[0]  # killed on the first host: the resumed run then does every host, the victim included
    bed.fleet.set_faults("all", latency_ms=150)  # each step runs long enough to be caught running:
    bed.proxy.delay = 0.15  # the iDRACs' steps and vCenter's alike
    first = bed.install.start_worker("--lease", "5", *FAST)
    try:
        deadline = time.monotonic() + 180
        while True:
            row = _host_steps(bed.install, job_id).get(victim, {}).get(step)
            if row is not None and row.step_status == "running":
                break
            assert time.monotonic() < deadline and first.poll() is None, f"{step} of {victim} never seen running"
            time.sleep(0.02)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    bed.fleet.clear_faults("all")
    bed.proxy.delay = 0.0
    assert _host_steps(bed.install, job_id)[victim][step].step_status == "running"
    with Observer(bed.vc) as observer:
        second = bed.install.start_worker(*FAST)
        try:
            wait_until(lambda: _job(bed.install).status in ("completed", "failed", "cancelled"), timeout=300,
                       what="the resumed rolling update to end")
        finally:
            second.terminate()
            second.wait(60)
    job = _job(bed.install)
    assert job.status == "completed", job.error
    assert job.attempts == 2
    assert observer.max_in_maintenance <= 1 and observer.min_healthy >= 2
    steps = _host_steps(bed.install, job_id)
    assert steps[victim][step].attempt == 2, "the step left running was re-checked by the new worker"
    for host in bed.hosts:
        assert {n: r.step_status for n, r in steps[host].items()} == dict.fromkeys(HOST_STEPS, "completed") or all(
            r.step_status in ("completed", "skipped") for r in steps[host].values()), host
    _assert_done_once(bed, before)
    assert not any(_maintenance(bed).values()), "a host was left in maintenance"


def _fail_firmware_on(bed: Bed, host: str) -> None:
    endpoint = bed.fleet.endpoints[bed.hosts.index(host)]
    bed.fleet.set_faults([endpoint], job_failure=True)


def test_a_firmware_failure_stops_at_that_host_in_maintenance_and_retry_completes_the_same_job(bed: Bed) -> None:
    before = _counters(bed)
    _fail_firmware_on(bed, bed.hosts[1])  # the iDRAC fails the NIC update job (RED007) while it installs
    job_id = _start(bed, package=NIC)
    bed.install.worker(*FAST)
    job = _job(bed.install)
    assert job.status == "failed"
    assert bed.hosts[1] in (job.error or "") and "step firmware_update failed" in (job.error or ""), job.error
    assert "RED007" in (job.error or "")
    steps = _host_steps(bed.install, job_id)
    assert steps[bed.hosts[1]]["firmware_update"].step_status == "failed"
    assert set(steps) == set(bed.hosts[:2]), "no host after the failed one was touched"
    assert _maintenance(bed) == {h: h == bed.hosts[1] for h in bed.hosts}  # its last safe state
    with Session(bed.install.engine) as s:
        tasks = {t.target.split(" ")[0]: t for t in s.exec(select(JobTask).where(JobTask.job_id == job_id)).all()
                 if t.target}
    assert tasks[bed.hosts[2]].status == "cancelled" and "not started" in (tasks[bed.hosts[2]].error or "")

    bed.fleet.clear_faults("all")
    proc = bed.install.home.run("jobs", "retry", str(job_id), check=True)
    assert "resumed" in proc.stdout
    bed.install.worker(*FAST)
    job = _job(bed.install)
    assert job.status == "completed", job.error
    with Session(bed.install.engine) as s:
        assert len(s.exec(select(Job).where(Job.job_type == "rolling_cluster_update")).all()) == 1
    steps = _host_steps(bed.install, job_id)
    assert steps[bed.hosts[1]]["firmware_update"].attempt == 2
    assert steps[bed.hosts[0]]["firmware_update"].attempt == 1  # the first host was not done again
    assert all(r.step_status in ("completed", "skipped") for h in bed.hosts for r in steps[h].values())
    assert not any(_maintenance(bed).values())
    for i, server in enumerate(bed.fleet.servers()):
        assert server["firmware"]["108255"] == NIC.version, bed.hosts[i]
        sent = server["counters"]["updates_received"] - before[i]["updates_received"]
        assert sent == (2 if i == 1 else 1), (bed.hosts[i], sent)  # host 2: the failed attempt and the retry


def test_cancel_after_a_firmware_failure_returns_the_host_to_service(bed: Bed) -> None:
    _fail_firmware_on(bed, bed.hosts[1])
    job_id = _start(bed, package=NIC)
    bed.install.worker(*FAST)
    assert _job(bed.install).status == "failed"
    assert _maintenance(bed)[bed.hosts[1]] is True
    bed.fleet.clear_faults("all")
    proc = bed.install.home.run("jobs", "cancel", str(job_id))
    assert proc.returncode == 0, proc.stderr
    bed.install.worker(*FAST)
    job = _job(bed.install)
    assert job.status == "cancelled", job.error
    assert not any(_maintenance(bed).values()), "the host was not returned to service"
    result = (job.details or {}).get("result", {})
    assert result["hosts"][bed.hosts[1]]["returned_to_service"] is True
    steps = _host_steps(bed.install, job_id)
    assert set(steps) == set(bed.hosts[:2])
    assert steps[bed.hosts[1]]["firmware_update"].step_status == "failed"  # cancel ran the clean-up, not the rest
    with Session(bed.install.engine) as s:
        task = next(t for t in s.exec(select(JobTask).where(JobTask.job_id == job_id)).all()
                    if (t.target or "").startswith(bed.hosts[1]))
    assert task.status == "cancelled" and "returned to service" in (task.log or "")


def _job_of(install: Install, job_type: str) -> Job:
    with Session(install.engine) as s:
        return s.exec(select(Job).where(Job.job_type == job_type)).one()


def test_prepare_verify_and_full_update_of_one_server_go_through_vcenter_when_it_is_a_host(bed: Bed) -> None:
    home, host = bed.install.home, bed.hosts[1]
    endpoint = bed.fleet.endpoints[1]
    home.run("jobs", "create", "prepare_host_for_update", "--server", endpoint, check=True)
    bed.install.worker(*FAST)
    job = _job_of(bed.install, "prepare_host_for_update")
    assert job.status == "completed", job.error
    assert _maintenance(bed) == {h: h == host for h in bed.hosts}
    home.run("jobs", "create", "verify_host_after_update", "--server", endpoint, check=True)
    bed.install.worker(*FAST)
    job = _job_of(bed.install, "verify_host_after_update")
    assert job.status == "completed", job.error
    assert not any(_maintenance(bed).values())
    with Session(bed.install.engine) as s:
        rows = s.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == job.id)).all()
    assert sorted(r.step_name for r in rows) == ["exit_maintenance_mode", "verify_cluster_health", "verify_health"]

    before = _counters(bed)
    home.run("jobs", "create", "full_server_update", "--server", bed.fleet.endpoints[2], "--detail",
             f"image_uri={bed.repo.uri(BIOS_R750)}", check=True)
    with Observer(bed.vc) as observer:
        bed.install.worker(*FAST)
    job = _job_of(bed.install, "full_server_update")
    assert job.status == "completed", job.error
    assert observer.in_maintenance_seen == {bed.hosts[2]} and observer.max_in_maintenance == 1
    steps = _host_steps(bed.install, job.id)
    assert set(steps[bed.hosts[2]]) == set(HOST_STEPS)
    after = _counters(bed)
    assert after[2]["updates_received"] - before[2]["updates_received"] == 1
    assert bed.fleet.servers()[2]["bios_version"] == BIOS_R750.version
    assert not any(_maintenance(bed).values())

    # a server that is no ESXi host DSM knows: the firmware steps alone, no maintenance mode
    with Session(bed.install.engine) as s:
        from dsm_core.models import VcenterHost

        row = s.exec(select(VcenterHost).where(VcenterHost.name == bed.hosts[3])).one()
        row.server_id, row.link_source = None, None
        s.add(row)
        s.commit()
    refused = home.run("jobs", "create", "prepare_host_for_update", "--server", bed.fleet.endpoints[3])
    assert refused.returncode == 0
    home.run("jobs", "create", "full_server_update", "--server", bed.fleet.endpoints[3], "--detail",
             f"image_uri={bed.repo.uri(BIOS_R750)}", check=True)
    with Observer(bed.vc) as observer:
        bed.install.worker(*FAST)
    with Session(bed.install.engine) as s:
        ended = {j.job_type: j for j in s.exec(select(Job).where(col(Job.created_at) > job.created_at)).all()}
        plain = s.exec(select(WorkflowExecution).where(
            WorkflowExecution.job_id == ended["full_server_update"].id)).all()
    assert ended["prepare_host_for_update"].status == "failed"
    assert "not an ESXi host" in (ended["prepare_host_for_update"].error or "")
    assert ended["full_server_update"].status == "completed", ended["full_server_update"].error
    assert {r.workflow_type for r in plain} == {"firmware_update"}
    assert observer.max_in_maintenance == 0
    assert bed.fleet.servers()[3]["bios_version"] == BIOS_R750.version


def test_a_host_linked_to_another_machine_is_never_evacuated_for_it_nor_reset(bed: Bed) -> None:
    """The review's swap (issue 26, deliver 9), by three `dsm vcenter link` calls: the first two hosts' servers
    exchanged. An operator's link that contradicts vCenter's serial number is refused; an admin's (with a reason)
    is made, and then (1) a run planned before the links changed stops before anything, and (2) a run planned after
    stops at its first host's safety check: the iDRAC of the other machine gets no update and no reset, and vCenter
    never puts a host in maintenance."""
    home = bed.install.home
    servers = {h["name"]: h["server"] for h in _json(bed.install, "clusters", "show", "DC0_C0")["host_list"]}
    h0, h1 = bed.hosts[0], bed.hosts[1]
    before = _counters(bed)
    planned = _start(bed)  # the plan pairs each host with its own server
    home.run("servers", "add", "127.0.99.9:8443", check=True)  # a spare, no tag known
    home.run("vcenter", "link", h1, "127.0.99.9:8443", check=True)
    refused = home.run("vcenter", "link", h0, servers[h1])
    assert refused.returncode == 2 and "they are different machines" in refused.stderr, refused.stderr
    home.run("vcenter", "link", h0, servers[h1], "--despite-service-tag", "test: the review's swap", check=True)
    home.run("vcenter", "link", h1, servers[h0], "--despite-service-tag", "test: the review's swap", check=True)
    with Observer(bed.vc) as observer:
        bed.install.worker(*FAST)
        job = _job(bed.install)
        assert job.id == planned and job.status == "failed"
        assert "the plan no longer pairs each host with its server; nothing was done" in (job.error or ""), job.error
        home.run("rolling-update", "DC0_C0", "--image-uri", bed.repo.uri(BIOS_R750), "--min-hosts", "2", "--yes",
                 check=True)
        bed.install.worker(*FAST)
    with Session(bed.install.engine) as s:
        job = s.exec(select(Job).where(Job.job_type == "rolling_cluster_update", Job.id != planned)).one()
    assert job.status == "failed" and f"is not host {h0}" in (job.error or ""), job.error
    assert observer.samples > 5 and observer.max_in_maintenance == 0
    assert _counters(bed) == before  # neither iDRAC got an update or a reset
    assert not any(_maintenance(bed).values())
