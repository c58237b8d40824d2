"""The rolling cluster update, from the operator's side: the plan shown before anything runs, and the start.

The plan is built from what DSM knows now (the last vCenter sync, the firmware compliance of each linked server,
the durations of earlier runs) and says so. Per host, in the order the update will take (the cluster group's
member ``priority``, then the name): the components that would change, an estimated duration, and the safety
margin (healthy hosts - hosts down at that step - minimum). Starting the update stores the accepted plan with the
job; the worker takes exactly those hosts in that order and re-checks the live state before each one, so a host
that became unsafe since stops the run with the reason instead of being taken silently.

``start_rolling_update`` refuses a plan that changed since it was shown (``accepted_digest``), a plan that is unsafe
now, and a host no server is linked to (DSM could not update its firmware).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import Session, col, select

from dsm_core.firmware.compliance import decode_components
from dsm_core.models import (
    FirmwareCompliance,
    FirmwareRepository,
    Job,
    Server,
    ServerGroupMember,
    Vcenter,
    VcenterHost,
    WorkflowExecution,
)
from dsm_core.netaddr import format_endpoint
from dsm_core.safety import ClusterFacts, HostFacts, cluster_verdict
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import Conflict, ValidationError
from dsm_core.services.jobs import audit_details, new_job
from dsm_core.services.vcenter import find_cluster
from dsm_core.services.views import row_view
from dsm_core.timeutil import utcnow

HOST_STEPS = ("safety_check", "enter_maintenance_mode", "firmware_update", "reboot_server", "wait_for_online",
              "verify_health", "exit_maintenance_mode", "verify_cluster_health")
DEFAULT_STEP_SECONDS = {"safety_check": 10, "enter_maintenance_mode": 300, "firmware_update": 900,
                        "reboot_server": 120, "wait_for_online": 900, "verify_health": 60,
                        "exit_maintenance_mode": 60, "verify_cluster_health": 30}
"""Stated defaults when DSM has no history of the step (an evacuation of a loaded host and a BIOS update's POST
dominate; the real figures replace these after the first run)."""


def _step_history(session: Session) -> dict[str, tuple[float, int]]:
    """Mean seconds and run count of each completed rolling-update step so far."""
    rows = session.exec(select(WorkflowExecution.step_name, WorkflowExecution.step_started_at,
                               WorkflowExecution.step_completed_at).where(
        WorkflowExecution.workflow_type == "rolling_cluster_update", WorkflowExecution.step_status == "completed",
        col(WorkflowExecution.step_started_at).is_not(None), col(WorkflowExecution.step_completed_at).is_not(None),
    ).order_by(col(WorkflowExecution.created_at).desc()).limit(5000)).all()
    sums: dict[str, list[float]] = {}
    for name, started, ended in rows:
        if started and ended:
            sums.setdefault(name, []).append(max(0.0, (ended - started).total_seconds()))
    return {name: (sum(v) / len(v), len(v)) for name, v in sums.items()}


def _components(session: Session, server_id: Any, repository: str | None) -> tuple[list[dict[str, Any]], str]:
    if repository is None:
        return [], "the image decides (an image URI names one package; the iDRAC checks it applies)"
    repo = session.exec(select(FirmwareRepository).where(FirmwareRepository.name == repository)).first()
    if repo is None:
        raise ValidationError("repository", f"firmware repository {repository!r} does not exist",
                              "`dsm firmware repo list` shows them")
    row = session.exec(select(FirmwareCompliance).where(FirmwareCompliance.server_id == server_id,
                                                        FirmwareCompliance.repository_id == repo.id)).first()
    if row is None:
        return [], (f"unknown: no compliance of this server against {repository} yet (sync the repository and "
                    "refresh the server); the iDRAC will pick from the catalog")
    changes = [{"component": c.get("component"), "from": c.get("installed"), "to": c.get("available"),
                "state": c.get("state")} for c in decode_components(row.components)
               if c.get("state") in ("upgrade", "downgrade")]
    return changes, f"from compliance against {repository} ({row.catalog_version or 'catalog'})"


def _digest(plan: dict[str, Any]) -> str:
    body = {k: v for k, v in plan.items() if k not in ("digest", "built_at")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def build_plan(session: Session, /, cluster_ref: str, *, repository: str | None = None, image_uri: str | None = None,
               max_concurrent: int = 1, min_required_hosts: int = 2) -> dict[str, Any]:
    """The plan as the operator reads it (and as the job stores it)."""
    if bool(repository) == bool(image_uri):
        raise ValidationError("source", "needs exactly one firmware source",
                              "give --repository NAME (a local repository) or --image-uri URI")
    if not 1 <= max_concurrent <= 64:
        raise ValidationError("max_concurrent", f"{max_concurrent} is out of range", "give 1 to 64")
    if not 1 <= min_required_hosts <= 1000:
        raise ValidationError("min_required_hosts", f"{min_required_hosts} is out of range", "give 1 to 1000")
    cluster = find_cluster(session, cluster_ref)
    vc = session.get(Vcenter, cluster.vcenter_id)
    hosts = list(session.exec(select(VcenterHost).where(VcenterHost.cluster_id == cluster.id)).all())
    priorities: dict[Any, int] = {}
    if cluster.server_group_id:
        priorities = {m.server_id: m.priority for m in session.exec(select(ServerGroupMember).where(
            ServerGroupMember.server_group_id == cluster.server_group_id)).all()}
    hosts.sort(key=lambda h: (priorities.get(h.server_id, 1 << 30), h.name))
    facts = ClusterFacts(cluster.name, cluster.drs_enabled, cluster.drs_automation, cluster.ha_enabled,
                         tuple(HostFacts(h.name, h.connection_state or "unknown", h.maintenance_mode, h.status,
                                         h.power_state) for h in hosts))
    verdict = cluster_verdict(facts, min_required_hosts, going_down=min(max_concurrent, max(1, len(hosts))))
    history = _step_history(session)
    problems = [r.message for r in verdict.reasons]
    entries: list[dict[str, Any]] = []
    for index, host in enumerate(hosts):
        server = session.get(Server, host.server_id) if host.server_id else None
        if server is None:
            problems.append(f"host {host.name} is not linked to a server: DSM cannot update its firmware "
                            f"(`dsm vcenter link {host.name} SERVER`)")
        components, basis = _components(session, host.server_id, repository) if server else ([], "-")
        seconds, sources = 0.0, list[int]()
        for step in HOST_STEPS:
            mean, runs = history.get(step, (float(DEFAULT_STEP_SECONDS[step]), 0))
            seconds += mean
            sources.append(runs)
        down = min(max_concurrent, len(hosts))  # up to max_concurrent hosts are down while this one is
        entries.append({
            "order": index + 1, "host": host.name, "moref": host.moref,
            "server_id": str(server.id) if server else None,
            "server": format_endpoint(server.ip_address, server.port) if server else None,
            "priority": priorities.get(host.server_id) if host.server_id else None,
            "components": components, "components_basis": basis,
            "estimated_seconds": int(seconds),
            "estimate_basis": ("history" if all(n > 0 for n in sources) else
                               "default" if not any(n > 0 for n in sources) else "history and defaults"),
            "margin": verdict.healthy - down - min_required_hosts,
        })
    wave = max(1, max_concurrent)
    waves = (len(entries) + wave - 1) // wave
    plan: dict[str, Any] = {
        "cluster": cluster.name, "cluster_moref": cluster.moref, "vcenter": vc.name if vc else None,
        "as_of": cluster.last_sync.isoformat() if cluster.last_sync else None,
        "source": {"repository": repository} if repository else {"image_uri": image_uri},
        "max_concurrent": max_concurrent, "min_required_hosts": min_required_hosts,
        "healthy_hosts": verdict.healthy, "total_hosts": verdict.total,
        "hosts": entries,
        "estimated_total_seconds": sum(e["estimated_seconds"] for e in entries[::wave]) if waves else 0,
        "safe": not problems, "problems": problems,
    }
    plan["digest"] = _digest(plan)
    plan["built_at"] = utcnow().isoformat()
    return plan


@query("operator")
def plan_rolling_update(session: Session, /, cluster: str, *, repository: str | None = None,
                        image_uri: str | None = None, max_concurrent: int = 1,
                        min_required_hosts: int = 2) -> dict[str, Any]:
    return build_plan(session, cluster, repository=repository, image_uri=image_uri, max_concurrent=max_concurrent,
                      min_required_hosts=min_required_hosts)


@mutation("rolling.start", "operator")
def start_rolling_update(tx: Tx, /, cluster: str, *, repository: str | None = None, image_uri: str | None = None,
                         max_concurrent: int = 1, min_required_hosts: int = 2,
                         accepted_digest: str | None = None, maintenance_timeout_seconds: int = 1800,
                         online_timeout_seconds: int = 3600) -> dict[str, Any]:
    """Creates the job with the accepted plan. ``accepted_digest``: the plan's digest as the operator read it;
    when the plan is no longer that one (a sync, a link, a compliance change in between), nothing is created."""
    plan = build_plan(tx.session, cluster, repository=repository, image_uri=image_uri,
                      max_concurrent=max_concurrent, min_required_hosts=min_required_hosts)
    if accepted_digest is not None and accepted_digest != plan["digest"]:
        raise Conflict(f"the plan of {plan['cluster']} changed since it was shown (digest {accepted_digest} → "
                       f"{plan['digest']}); read it again with --plan")
    if not plan["safe"]:
        raise Conflict(f"the plan of {plan['cluster']} is not safe: " + "; ".join(plan["problems"]))
    active = tx.session.exec(select(Job).where(Job.job_type == "rolling_cluster_update",
                                               col(Job.status).in_(("pending", "running")))).all()
    for other in active:
        if (other.target_scope or {}).get("clusters") == [plan["cluster"]]:
            raise Conflict(f"a rolling update of {plan['cluster']} is already {other.status} (job {other.id})")
    details: dict[str, Any] = {"max_concurrent": max_concurrent, "min_required_hosts": min_required_hosts,
                               "maintenance_timeout_seconds": maintenance_timeout_seconds,
                               "online_timeout_seconds": online_timeout_seconds,
                               "plan": {k: v for k, v in plan.items() if k != "problems"}}
    if repository:
        details["repository"] = repository
    else:
        details["image_uri"] = image_uri
    job = new_job(tx, "rolling_cluster_update", clusters=[plan["cluster"]], details=details)
    tx.session.flush()
    tx.audit("job", job.id, job_type=job.job_type, cluster=plan["cluster"], plan_digest=plan["digest"],
             hosts=[h["host"] for h in plan["hosts"]], **audit_details({k: v for k, v in details.items()
                                                                         if k != "plan"}))
    return {**row_view(job), "plan": plan}
