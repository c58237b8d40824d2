"""Stored safety checks: each verdict with its inputs, reasons, ``status_changed`` and ``previous_status``.

The verdicts themselves are pure (``dsm_core.safety``); this module turns rows into their facts and stores the
outcome, for the worker (jobs, the scheduler, the rolling update's pre-flight) and the reads of the console.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from dsm_core.models import (
    ClusterSafetyCheck,
    ScheduledSafetyCheck,
    Server,
    ServerGroup,
    ServerGroupMember,
    ServerGroupSafetyCheck,
    VcenterCluster,
)
from dsm_core.netaddr import format_endpoint
from dsm_core.safety import ClusterFacts, HostFacts, ServerFacts, Verdict, status_change
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.groups import get_group
from dsm_core.services.vcenter import find_cluster, latest_checks
from dsm_core.vcenter.model import Inventory


def cluster_facts_from(inventory: Inventory, moref: str) -> ClusterFacts | None:
    """The cluster as a fresh inventory shows it (never the stored rows: a check reads the real state)."""
    cluster = next((c for c in inventory.clusters if c.moref == moref), None)
    if cluster is None:
        return None
    members = set(cluster.hosts)
    hosts = tuple(HostFacts(h.name, h.connection_state, h.maintenance_mode, h.overall_status, h.power_state)
                  for h in inventory.hosts if h.moref in members or h.cluster == moref)
    return ClusterFacts(cluster.name, cluster.drs_enabled, cluster.drs_automation, cluster.ha_enabled, hosts)


def record_cluster_check(
    session: Session,
    /,
    cluster_id: uuid.UUID,
    verdict: Verdict,
    *,
    job_id: uuid.UUID | None = None,
    scheduled_check_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    cluster = session.get(VcenterCluster, cluster_id)
    if cluster is None:
        raise LookupError(f"cluster {cluster_id} was removed")
    last = latest_checks(session, cluster, 1)
    previous = ("safe" if last[0].safe_to_proceed else "unsafe") if last else None
    row = ClusterSafetyCheck(
        cluster_id=cluster.name, vcenter_id=cluster.vcenter_id, job_id=job_id, total_hosts=verdict.total,
        healthy_hosts=verdict.healthy, min_required_hosts=verdict.minimum, safe_to_proceed=verdict.safe,
        details=verdict.details(), is_scheduled=scheduled_check_id is not None,
        scheduled_check_id=scheduled_check_id, status_changed=status_change(previous, verdict.status),
        previous_status=previous,
    )
    session.add(row)
    session.flush()
    return check_view(cluster.name, row.id, verdict, previous)


def check_view(subject: str, check_id: uuid.UUID, verdict: Verdict, previous: str | None) -> dict[str, Any]:
    """What ``dsm safety check --json`` prints per cluster or group."""
    return {
        "name": subject, "check_id": str(check_id), "verdict": verdict.status,
        "reasons": [r.message for r in verdict.reasons], "codes": [r.code for r in verdict.reasons],
        "warnings": [w.message for w in verdict.warnings], "healthy": verdict.healthy, "total": verdict.total,
        "minimum": verdict.minimum, "margin": verdict.margin, "previous_status": previous,
        "status_changed": status_change(previous, verdict.status),
    }


def group_members(session: Session, /, group_id: uuid.UUID) -> list[Server]:
    ids = list(session.exec(select(col(ServerGroupMember.server_id)).where(
        ServerGroupMember.server_group_id == group_id).order_by(col(ServerGroupMember.priority))).all())
    rows = {s.id: s for s in session.exec(select(Server).where(col(Server.id).in_(ids))).all()}
    return [rows[i] for i in ids if i in rows]


def server_facts(server: Server) -> ServerFacts:
    name = server.hostname or format_endpoint(server.ip_address, server.port)
    return ServerFacts(name, server.connection_status, server.power_state, server.overall_health)


def record_group_check(
    session: Session,
    /,
    group_id: uuid.UUID,
    verdict: Verdict,
    *,
    job_id: uuid.UUID | None = None,
    scheduled_check_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    group = session.get(ServerGroup, group_id)
    if group is None:
        raise LookupError(f"group {group_id} was removed")
    last = session.exec(select(ServerGroupSafetyCheck).where(ServerGroupSafetyCheck.server_group_id == group_id)
                        .order_by(col(ServerGroupSafetyCheck.check_timestamp).desc(),
                                  col(ServerGroupSafetyCheck.id).desc())).first()
    previous = ("safe" if last.safe_to_proceed else "unsafe") if last else None
    row = ServerGroupSafetyCheck(
        server_group_id=group_id, job_id=job_id, total_servers=verdict.total, healthy_servers=verdict.healthy,
        min_required_servers=verdict.minimum, safe_to_proceed=verdict.safe, details=verdict.details(),
        warnings=[w.message for w in verdict.warnings], is_scheduled=scheduled_check_id is not None,
        scheduled_check_id=scheduled_check_id, status_changed=status_change(previous, verdict.status),
        previous_status=previous,
    )
    session.add(row)
    session.flush()
    return check_view(group.name, row.id, verdict, previous)


def resolve_scope_clusters(session: Session, /, names: list[str]) -> list[VcenterCluster]:
    return [find_cluster(session, name) for name in names]


def resolve_scope_groups(session: Session, /, ids: list[str]) -> list[ServerGroup]:
    groups = []
    for ref in ids:
        try:
            group = session.get(ServerGroup, uuid.UUID(ref))
        except ValueError:
            group = get_group(session, ref)
        if group is None:
            raise LookupError(f"group {ref} was removed")
        groups.append(group)
    return groups


def scheduled_targets(session: Session, /, config: ScheduledSafetyCheck) -> tuple[list[str], list[str]]:
    """The clusters (names) and groups (names) a scheduled check covers now."""
    clusters = sorted(set(session.exec(select(VcenterCluster.name)).all()))
    if not config.check_all_clusters:
        wanted = set(config.specific_clusters)
        clusters = [c for c in clusters if c in wanted]
    groups = sorted(session.exec(select(ServerGroup.name)).all()) if config.check_all_groups else []
    return clusters, groups


@mutation("safety.scheduled_run", "admin")
def run_scheduled_check(tx: Tx, /, config_id: uuid.UUID, *, now: datetime) -> list[str]:
    """The scheduler's run of one scheduled_safety_checks row: one cluster check job for its clusters, one group
    check job for its groups (each check row records the schedule it came from), and last_run_at."""
    from dsm_core.services.jobs import new_job

    config = tx.session.get(ScheduledSafetyCheck, config_id)
    if config is None:
        raise LookupError(f"scheduled safety check {config_id} was removed")
    clusters, groups = scheduled_targets(tx.session, config)
    made = []
    if clusters:
        job = new_job(tx, "cluster_safety_check", clusters=clusters,
                      details={"min_required_hosts": config.min_required_hosts, "scheduled_check_id": str(config.id)})
        job.created_at = job.updated_at = now
        tx.session.flush()
        made.append(str(job.id))
    if groups:
        job = new_job(tx, "server_group_safety_check", groups=groups, details={"scheduled_check_id": str(config.id)})
        job.created_at = job.updated_at = now
        tx.session.flush()
        made.append(str(job.id))
    config.last_run_at = now
    tx.session.add(config)
    tx.audit("scheduled_safety_check", config.id, jobs=made, clusters=len(clusters), groups=len(groups))
    return made


@mutation("safety.schedule", "admin")
def set_schedule(tx: Tx, /, *, enabled: bool | None = None, cron: str | None = None,
                 clusters: list[str] | None = None, all_clusters: bool | None = None, groups: bool | None = None,
                 min_required_hosts: int | None = None) -> dict[str, Any]:
    """The scheduled safety check (one schedule: the specification's scheduled_safety_checks row), created on
    first use. ``clusters`` names the clusters to check (and turns off "all"); ``all_clusters`` turns it back on."""
    from dsm_core.scheduling import ScheduleError, check_cron
    from dsm_core.services.errors import ValidationError

    row = tx.session.exec(select(ScheduledSafetyCheck).order_by(col(ScheduledSafetyCheck.created_at))).first()
    if row is None:
        row = ScheduledSafetyCheck()
    before = {"enabled": row.enabled, "cron": row.schedule_cron}
    if cron is not None:
        try:
            row.schedule_cron = check_cron(cron)
        except ScheduleError as exc:
            raise ValidationError(exc.field, exc.problem, exc.fix) from None
    if clusters:
        row.specific_clusters = [find_cluster(tx.session, name).name for name in clusters]
        row.check_all_clusters = False
    if all_clusters:
        row.check_all_clusters, row.specific_clusters = True, []
    if groups is not None:
        row.check_all_groups = groups
    if min_required_hosts is not None:
        if not 1 <= min_required_hosts <= 1000:
            raise ValidationError("min_hosts", f"{min_required_hosts} is out of range", "give 1 to 1000")
        row.min_required_hosts = min_required_hosts
    if enabled is not None:
        row.enabled = enabled
    tx.session.add(row)
    tx.session.flush()
    view = schedule_view(row)
    tx.audit("scheduled_safety_check", row.id, before=before, after={"enabled": row.enabled,
                                                                      "cron": row.schedule_cron})
    return view


def schedule_view(row: ScheduledSafetyCheck | None) -> dict[str, Any]:
    if row is None:
        return {"enabled": False, "configured": False}
    return {"configured": True, "enabled": row.enabled, "cron": row.schedule_cron,
            "clusters": "all" if row.check_all_clusters else list(row.specific_clusters),
            "groups": row.check_all_groups, "min_required_hosts": row.min_required_hosts,
            "last_run_at": row.last_run_at.isoformat() if row.last_run_at else None}


@query("viewer")
def show_schedule(session: Session, /) -> dict[str, Any]:
    return schedule_view(session.exec(select(ScheduledSafetyCheck).order_by(
        col(ScheduledSafetyCheck.created_at))).first())
