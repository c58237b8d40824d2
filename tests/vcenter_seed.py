"""A vCenter inventory recorded without a vCenter: for service, RBAC and console tests (the sync itself is tested
against vcsim). Servers get the hosts' service tags so that the recorded sync links them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.credentials.secret import Secret
from dsm_core.db import session_scope
from dsm_core.models import Job, JobTask, Server, VcenterCluster, WorkflowExecution
from dsm_core.services import servers, vcenter
from dsm_core.services.context import SYSTEM, ServiceContext, actor_for
from dsm_core.vcenter.model import ClusterInfo, HostInfo, Inventory


def inventory(clusters: int = 1, hosts: int = 3, *, maintenance: tuple[str, ...] = (),
              disconnected: tuple[str, ...] = (), drs: bool = True) -> Inventory:
    cluster_rows, host_rows = [], []
    n = 0
    for c in range(clusters):
        morefs = []
        for h in range(hosts):
            name = f"esx-{c}-{h}"
            moref = f"host-{c}{h:02d}"
            morefs.append(moref)
            host_rows.append(HostInfo(
                moref=moref, name=name, datacenter="DC0", cluster=f"domain-c{c}",
                connection_state="disconnected" if name in disconnected else "connected",
                maintenance_mode=name in maintenance, power_state="poweredOn", overall_status="green",
                esxi_version="8.0.2", esxi_build="22380479", service_tag=f"VCS{n:04d}", vm_count=4))
            n += 1
        cluster_rows.append(ClusterInfo(f"domain-c{c}", f"prod-{c}", "DC0", drs, "fullyAutomated", True, True,
                                        tuple(morefs)))
    return Inventory({"name": "VMware vCenter Server 8.0.2", "instance_uuid": "seed"}, ("DC0",),
                     tuple(cluster_rows), tuple(host_rows), calls=5)


def seed_vcenter(admin: ServiceContext, inv: Inventory | None = None, *, servers_for_hosts: bool = True,
                 name: str = "vc1") -> uuid.UUID:
    """A vCenter ``name`` whose last sync recorded ``inv``; with ``servers_for_hosts``, a server per host first."""
    inv = inv or inventory()
    if servers_for_hosts:
        for i, host in enumerate(inv.hosts):
            view = servers.add_server(admin, f"127.0.20.{i + 1}:8443", hostname=host.name.replace("esx", "idrac"))
            with session_scope(admin.engine) as s:
                row = s.get(Server, uuid.UUID(str(view["id"])))
                assert row is not None
                row.service_tag = host.service_tag
                row.connection_status, row.power_state, row.overall_health = "connected", "On", "OK"
                s.add(row)
    added = vcenter.add_vcenter(admin, name, "https://127.0.0.1:8989", "administrator@vsphere.local", Secret("pw"))
    vc_id = uuid.UUID(str(added["id"]))
    vcenter.record_sync(ServiceContext(admin.engine, SYSTEM), vc_id, inv)
    return vc_id


def seed_console(engine: Engine) -> ServiceContext:
    """Two clusters for the console: prod-0 healthy and never checked, prod-1 with a disconnected host and three
    stored verdicts (safe, safe, unsafe)."""
    from dsm_core.safety import ClusterFacts, HostFacts, cluster_verdict
    from dsm_core.services.safety import record_cluster_check

    admin = ServiceContext(engine, actor_for(engine, "alice"))
    seed_vcenter(admin, inventory(clusters=2, hosts=3, disconnected=("esx-1-1",)))
    with session_scope(engine) as s:
        cluster = s.execute(sa.select(VcenterCluster).where(VcenterCluster.name == "prod-1")).scalar_one()
        hosts = (HostFacts("esx-1-0", "connected", False, "green"),
                 HostFacts("esx-1-1", "disconnected", False, "gray"))
        for ok in (True, True, False):
            facts = ClusterFacts("prod-1", True, "fullyAutomated", True, hosts if not ok else hosts[:1] * 3)
            record_cluster_check(s, cluster.id, cluster_verdict(facts, 1))
    return admin


STEPS = ("safety_check", "enter_maintenance_mode", "firmware_update", "reboot_server", "wait_for_online",
         "verify_health", "exit_maintenance_mode", "verify_cluster_health")


def seed_rolling_job(admin: ServiceContext, now: datetime) -> uuid.UUID:
    """A rolling update of prod-0 under way: the first host done, the second in firmware_update (a Dell job at 45%),
    the third not started."""
    from dsm_core.services.rolling import start_rolling_update

    view = start_rolling_update(admin, "prod-0", image_uri="http://127.0.10.250/BIOS.EXE", min_required_hosts=1)
    job_id = uuid.UUID(view["id"])
    plan = view["plan"]["hosts"]
    with session_scope(admin.engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.status, job.started_at = "running", now - timedelta(minutes=5)
        first, second = uuid.UUID(plan[0]["server_id"]), uuid.UUID(plan[1]["server_id"])
        for server_id in (first, second):
            s.add(JobTask(job_id=job_id, server_id=server_id, target="t", status="running"))
        for n, name in enumerate(STEPS, start=1):
            s.add(WorkflowExecution(job_id=job_id, server_id=first, workflow_type="rolling_cluster_update",
                                    step_number=n, step_name=name, step_status="completed",
                                    step_started_at=now - timedelta(seconds=300 - 30 * n),
                                    step_completed_at=now - timedelta(seconds=290 - 30 * n)))
        for n, name in enumerate(STEPS[:3], start=1):
            s.add(WorkflowExecution(job_id=job_id, server_id=second, workflow_type="rolling_cluster_update",
                                    step_number=n, step_name=name,
                                    step_status="running" if name == "firmware_update" else "completed",
                                    step_started_at=now - timedelta(seconds=40)))
        s.add(WorkflowExecution(job_id=job_id, server_id=second, workflow_type="firmware_update", step_number=4,
                                step_name="install", step_status="running", step_started_at=now,
                                step_details={"updates": [{"name": "BIOS", "dell_job": {
                                    "job_id": "JID_1", "state": "Running", "percent": 45, "message": "Downloading",
                                    "outcome": "running"}}]}))
    return job_id


def seed_calendar(engine: Engine, now: datetime) -> dict[str, str]:
    """November 2026 for the calendar: two clusters of four hosts checked every morning and evening (prod-0 unsafe
    all of the 10th, unsafe then safe on the 12th; prod-1 unchecked on weekends), and windows: one awaiting
    approval on the 28th (a rolling update of prod-0 requested by carol), one completed on the 14th, four on the
    20th (more than a cell shows)."""
    from dsm_core.models import ClusterSafetyCheck, MaintenanceWindow
    from dsm_core.services import users, windows

    admin = ServiceContext(engine, actor_for(engine, "alice"))
    seed_vcenter(admin, inventory(clusters=2, hosts=4))
    users.add_user(admin, "carol", "operator")
    carol = ServiceContext(engine, actor_for(engine, "carol"))
    with session_scope(engine) as s:
        clusters = {c.name: c for c in s.execute(sa.select(VcenterCluster)).scalars()}
        for day in range(1, 27):
            for hour, name in ((6, "prod-0"), (18, "prod-0"), (6, "prod-1"), (18, "prod-1")):
                at = datetime(2026, 11, day, hour, tzinfo=UTC)
                if name == "prod-1" and at.weekday() >= 5:
                    continue
                safe = not (name == "prod-0" and (day == 10 or (day == 12 and hour == 6)))
                s.add(ClusterSafetyCheck(cluster_id=name, vcenter_id=clusters[name].vcenter_id, total_hosts=4,
                                         healthy_hosts=4 if safe else 3, min_required_hosts=2, safe_to_proceed=safe,
                                         check_timestamp=at, created_at=at))
    before = now - timedelta(days=30)
    image = {"image_uri": "http://127.0.10.250/BIOS.EXE"}
    awaiting = windows.create_window(carol, "BIOS 2.19 prod-0", maintenance_type="rolling_cluster_update",
                                     start=datetime(2026, 11, 28, 2, tzinfo=UTC),
                                     end=datetime(2026, 11, 28, 6, tzinfo=UTC), clusters=["prod-0"],
                                     requires_approval=True, details=image, now=before)
    done = windows.create_window(carol, "health prod-1", maintenance_type="health_check",
                                 start=datetime(2026, 11, 14, 2, tzinfo=UTC), end=datetime(2026, 11, 14, 3, tzinfo=UTC),
                                 clusters=["prod-1"], now=before)
    for n in range(4):
        windows.create_window(carol, f"patch rack {n + 1}", maintenance_type="patch",
                              start=datetime(2026, 11, 20, 1 + n, tzinfo=UTC),
                              end=datetime(2026, 11, 20, 2 + n, tzinfo=UTC), clusters=["prod-1"], now=before)
    with session_scope(engine) as s:
        row = s.get(MaintenanceWindow, uuid.UUID(done["id"]))
        assert row is not None
        row.status, row.status_reason = "completed", "1 job(s) completed"
    return {"awaiting": awaiting["id"], "done": done["id"]}
