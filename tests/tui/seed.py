"""A seeded, deterministic database for the console tests, snapshots and benchmarks.

Fixed ids and a fixed clock, so a snapshot taken today matches one taken next year. Rows go in
through SQLAlchemy Core in bulk: 50,000 servers in a couple of seconds.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.models import (
    FirmwareInventory,
    IdracCommand,
    Job,
    JobTask,
    Server,
    ServerEventLog,
    ServerGroup,
    ServerGroupMember,
    ServerHealth,
    User,
    WorkerHeartbeat,
)

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
MODELS = ("PowerEdge R750", "PowerEdge R650", "PowerEdge R760", "PowerEdge R640", "PowerEdge R7625")
HEALTH = ("OK",) * 14 + ("Warning", "Critical")


def sid(i: int, kind: int = 1) -> uuid.UUID:
    return uuid.UUID(int=(kind << 96) | i)


def server_values(i: int) -> dict[str, Any]:
    health = HEALTH[i % len(HEALTH)]
    return {
        "id": sid(i),
        "ip_address": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
        "port": 443,
        "hostname": f"esx-{i:05d}",
        "service_tag": f"{(i * 7919) % 36**7:07X}"[-7:].replace("0", "Q"),
        "model": MODELS[i % len(MODELS)],
        "manufacturer": "Dell",
        "idrac_firmware": ("7.00.00.171", "6.10.30.00", "7.10.50.00")[i % 3],
        "idrac_generation": 15 + i % 2,
        "bios_version": ("1.13.2", "2.2.8", "1.5.4")[i % 3],
        "power_state": "Off" if i % 23 == 5 else "On",
        "overall_health": health,
        "connection_status": "failed" if i % 37 == 11 else "connected",
        "tls_verify_mode": "pin",
        "cpu_count": 2,
        "memory_gb": 512.0,
        "last_seen": NOW - timedelta(minutes=i % 90),
        "created_at": NOW - timedelta(days=30),
        "updated_at": NOW - timedelta(minutes=i % 90),
    }


def seed(engine: Engine, servers: int = 40, *, activity: int = 300, jobs: bool = True) -> None:
    with engine.begin() as conn:
        batch = 5000
        for start in range(0, servers, batch):
            conn.execute(sa.insert(Server.__table__), [server_values(i) for i in range(start, min(servers, start + batch))])
        groups = [("web", 0), ("db", 1), ("vdi", 2)]
        for name, g in groups:
            conn.execute(sa.insert(ServerGroup.__table__), [{
                "id": sid(g, 2), "name": name, "group_type": "application", "color": "#3b82f6", "icon": "Server",
                "min_healthy_servers": 1, "created_at": NOW, "updated_at": NOW}])
        conn.execute(sa.insert(ServerGroupMember.__table__), [
            {"id": sid(i, 3), "server_group_id": sid(i % 3, 2), "server_id": sid(i), "priority": 100, "added_at": NOW}
            for i in range(min(servers, 30))
        ])
        if servers:
            conn.execute(sa.insert(ServerHealth.__table__), [
                {"id": sid(k, 4), "server_id": sid(0), "timestamp": NOW - timedelta(hours=k), "created_at": NOW,
                 "overall_health": "OK" if k else "Warning", "power_state": "On", "cpu_health": "OK",
                 "memory_health": "OK", "fan_health": "OK", "psu_health": "Warning" if k == 0 else "OK",
                 "temperature_celsius": 24.0, "sensors": {"System Board Inlet Temp": "24 C", "PSU2": "Warning"}}
                for k in range(5)
            ])
            conn.execute(sa.insert(FirmwareInventory.__table__), [
                {"id": sid(k, 5), "server_id": sid(0), "inventory_id": f"Installed-{k}", "name": name,
                 "version": version, "status": "Installed", "updateable": True, "collected_at": NOW,
                 "created_at": NOW}
                for k, (name, version) in enumerate((("Integrated Dell Remote Access Controller", "7.00.00.171"),
                                                     ("BIOS", "1.13.2"), ("PERC H755 Front", "52.26.0-5179"),
                                                     ("Broadcom NetXtreme", "22.71.3")))
            ])
            conn.execute(sa.insert(ServerEventLog.__table__), [
                {"id": sid(k, 6), "server_id": sid(0), "log_type": "sel", "timestamp": NOW - timedelta(hours=k),
                 "created_at": NOW, "event_id": str(k), "message_id": "PSU0003" if k == 0 else "SYS1003",
                 "severity": "Warning" if k == 0 else "OK",
                 "message": "Power supply 2 lost AC input." if k == 0 else "System CPU Resetting."}
                for k in range(4)
            ])
        alice = conn.execute(sa.select(User.id).where(User.username == "alice")).scalar()
        if jobs:
            specs = [
                ("refresh_server_info", "completed", 100, [0, 1, 2], None),
                ("health_check", "failed", 100, [3], "esx-00003: 401 Unauthorized with every credential set"),
                ("power_action", "running", 50, [4, 5], None),
                ("fetch_event_logs", "pending", 0, [6], None),
                ("discovery_scan", "completed", 100, [], None),
            ]
            for n, (job_type, status, progress, targets, error) in enumerate(specs):
                jid = sid(n, 7)
                created = NOW - timedelta(minutes=50 - n * 10)
                conn.execute(sa.insert(Job.__table__), [{
                    "id": jid, "job_type": job_type, "status": status, "progress": progress,
                    "target_scope": {"servers": [str(sid(t)) for t in targets if t < servers]} if targets else {},
                    "details": {"ranges": ["10.0.0.0/24"]} if job_type == "discovery_scan" else
                    ({"action": "GracefulShutdown"} if job_type == "power_action" else {}),
                    "created_by": alice, "created_at": created, "updated_at": created + timedelta(minutes=2),
                    "started_at": created if status != "pending" else None,
                    "completed_at": created + timedelta(minutes=2) if status in ("completed", "failed") else None,
                    "error": error, "auto_select_latest": True, "cancel_requested": False, "attempts": 1}])
                tasks = []
                for k, t in enumerate(t for t in targets if t < servers):
                    tstatus = status if status != "running" else ("completed" if k == 0 else "running")
                    tasks.append({
                        "id": sid(n * 100 + k, 8), "job_id": jid, "server_id": sid(t), "status": tstatus,
                        "progress": 100 if tstatus == "completed" else (40 if tstatus == "running" else 0),
                        "attempts": 1, "log": f"{created:%H:%M:%S} logged in (session)\n{created:%H:%M:%S} read "
                        "/redfish/v1/Systems/System.Embedded.1\n", "error": error,
                        "created_at": created, "updated_at": created})
                if tasks:
                    conn.execute(sa.insert(JobTask.__table__), tasks)
            # 24 h of completed jobs for the sparkline.
            conn.execute(sa.insert(Job.__table__), [{
                "id": sid(1000 + k, 7), "job_type": "health_check", "status": "completed", "progress": 100,
                "target_scope": {}, "details": {}, "created_by": None,
                "created_at": NOW - timedelta(hours=k % 24, minutes=5), "updated_at": NOW - timedelta(hours=k % 24),
                "completed_at": NOW - timedelta(hours=k % 24, minutes=1), "auto_select_latest": True,
                "cancel_requested": False, "attempts": 1} for k in range(0, 60, 1) if (k * 7) % 5 != 0])
        conn.execute(sa.insert(WorkerHeartbeat.__table__), [{
            "id": sid(1, 9), "hostname": "jump01", "pid": 4242, "version": "0.1.0", "status": "running",
            "started_at": NOW - timedelta(hours=3), "last_beat_at": NOW - timedelta(seconds=2),
            "running_jobs": [str(sid(2, 7))], "max_concurrent_jobs": 4}])
        if activity:
            rows = []
            for k in range(activity):
                ok = k % 17 != 3
                rows.append({
                    "id": sid(k, 10), "timestamp": NOW - timedelta(seconds=activity - k), "created_at": NOW,
                    "server_id": sid(k % max(1, min(servers, 40))) if servers else None, "job_id": sid(0, 7),
                    "command_type": "GET", "operation_type": "idrac_api",
                    "endpoint": "/redfish/v1/Systems/System.Embedded.1" if k % 2 else "/redfish/v1/Managers/iDRAC.Embedded.1",
                    "full_url": "https://10.0.0.1/redfish/v1/Systems/System.Embedded.1",
                    "request_headers": {"Authorization": "[REDACTED]"}, "response_body": {"PowerState": "On"},
                    "status_code": 200 if ok else 503, "response_time_ms": 1500 if k % 29 == 0 else 40 + k % 50,
                    "success": ok, "error_message": None if ok else "503 Service Unavailable (RAC0218)",
                    "source": "refresh_server_info"})
            for start in range(0, len(rows), 10000):
                conn.execute(sa.insert(IdracCommand.__table__), rows[start:start + 10000])


COMPONENTS = (("BIOS", "159"), ("Integrated Dell Remote Access Controller", "25227"), ("PERC H755 Front", "107649"),
              ("Broadcom NetXtreme Gigabit Ethernet", "108255"), ("System CPLD", "27763"))
CRITICALITIES = ("Urgent", "Recommended", "Optional")


def compliance_values(i: int, repo_id: uuid.UUID, components: int = 25) -> dict[str, Any]:
    """Server ``i`` against the seeded catalog: ``i % 4`` upgrades, a downgrade on every 7th, 2 not in catalog."""
    upgrades, downgrades, missing = i % 4, 1 if i % 7 == 0 else 0, 2
    rows = []
    for k in range(components):
        name, cid = COMPONENTS[k] if k < len(COMPONENTS) else (f"Disk.Bay.{k}", "0")
        state = ("upgrade" if k < upgrades else "downgrade" if k < upgrades + downgrades
                 else "not_in_catalog" if k >= components - missing else "compliant")
        rows.append({"inventory_id": f"Installed-{cid}-1.0.{k}__X.{k}", "fqdd": f"X.{k}", "component": name,
                     "component_id": cid, "installed": f"1.0.{k}",
                     "available": None if state == "not_in_catalog" else (f"1.1.{k}" if state == "upgrade" else
                                                                          f"0.9.{k}" if state == "downgrade" else
                                                                          f"1.0.{k}"),
                     "state": state, "criticality": None if state == "not_in_catalog" else CRITICALITIES[(i + k) % 3],
                     "reboot_required": k == 0, "package_path": None if state == "not_in_catalog" else f"F/{k}.EXE",
                     "package_id": None, "matched_by": "component_id"})
    pending = [r for r in rows if r["state"] == "upgrade"]
    rank = {"Urgent": 3, "Recommended": 2, "Optional": 1}
    top = max(pending, key=lambda r: rank[r["criticality"]]) if pending else None
    return {"id": sid(i, 12), "server_id": sid(i), "repository_id": repo_id, "catalog_version": "24.05.00",
            "upgrades": upgrades, "downgrades": downgrades, "not_in_catalog": missing,
            "compliant": components - upgrades - downgrades - missing,
            "top_criticality": top["criticality"] if top else None, "top_component": top["component"] if top else None,
            "components": rows, "computed_at": NOW - timedelta(minutes=5)}


def seed_firmware(engine: Engine, servers: int = 40, components: int = 25) -> uuid.UUID:
    """A synced repository "drm" and the compliance of servers 0..servers-1 against it."""
    from dsm_core.models import FirmwareCompliance, FirmwareRepository

    repo_id = sid(1, 11)
    with engine.begin() as conn:
        conn.execute(sa.insert(FirmwareRepository.__table__), [{
            "id": repo_id, "name": "drm", "url": "http://10.0.0.5/dell-repo", "share_type": "http",
            "host": "10.0.0.5", "share_path": "/dell-repo", "catalog_file": "Catalog.xml", "verify_tls": True,
            "enabled": True, "catalog_version": "24.05.00", "package_count": 2000, "last_status": "synced",
            "last_checked_at": NOW - timedelta(minutes=5), "created_at": NOW, "updated_at": NOW}])
        for start in range(0, servers, 2000):
            conn.execute(sa.insert(FirmwareCompliance.__table__),
                         [compliance_values(i, repo_id, components) for i in range(start, min(servers, start + 2000))])
    return repo_id


def seed_workflow_job(engine: Engine, job_n: int = 77) -> uuid.UUID:
    """A running firmware_update on esx-00000: plan and lc_ready done, install following a Dell job at 45%."""
    from dsm_core.models import WorkflowExecution

    job_id, server = sid(job_n, 7), sid(0)
    with engine.begin() as conn:
        conn.execute(sa.insert(Job.__table__), [{
            "id": job_id, "job_type": "firmware_update", "status": "running", "progress": 0,
            "target_scope": {"servers": [str(server)]},
            "details": {"repository": "drm", "reboot": "now", "components": [], "compare_only": False,
                        "job_timeout_seconds": 7200}, "created_at": NOW - timedelta(minutes=3),
            "updated_at": NOW, "started_at": NOW - timedelta(minutes=3), "auto_select_latest": True,
            "cancel_requested": False, "attempts": 1}])
        conn.execute(sa.insert(JobTask.__table__), [{
            "id": sid(job_n, 8), "job_id": job_id, "server_id": server, "status": "running", "progress": 0,
            "attempts": 1, "created_at": NOW, "updated_at": NOW,
            "log": "plan: order: BIOS 1.13.2 → 1.15.2\nlc_ready: Lifecycle Controller ready\n"
                   "install: BIOS: Dell job JID_724411870233"}])
        conn.execute(sa.insert(WorkflowExecution.__table__), [
            {"id": sid(n, 13), "job_id": job_id, "server_id": server, "workflow_type": "firmware_update",
             "step_number": n, "step_name": name, "step_status": status, "attempt": 1, "created_at": NOW,
             "updated_at": NOW, "step_details": details}
            for n, name, status, details in (
                (1, "plan", "completed", {"notes": ["order: BIOS 1.13.2 → 1.15.2"]}),
                (2, "lc_ready", "completed", {"notes": ["Lifecycle Controller ready"]}),
                (3, "install", "running", {"updates": [{"name": "BIOS", "job_id": "JID_724411870233", "dell_job": {
                    "job_id": "JID_724411870233", "state": "Running", "percent": 45, "message": "Job in progress.",
                    "outcome": "running"}}]}),
            )])
    return job_id
