"""The disruption rule at creation: a job that takes servers down (``JobTypeSpec.disrupts``) is checked where every
job is made (``new_job``: the CLI's commands and ``dsm jobs create``, the console, windows, retries), against the
clusters and groups its servers belong to.

Two rules, each refused with exit 4 (``Unsafe``) and the reason:

- **ESXi hosts go down only through vCenter.** A server that is a host of a cluster DSM knows, and is not in
  maintenance mode (as vCenter last reported it), is not restarted or powered off by a job that would do it with
  its VMs running and its cluster's safety unchecked. The ways that are safe: the full server update and the
  rolling update (maintenance mode and the live safety check around each host), or ``prepare_host_for_update``
  first (the host evacuated, checked safe), then the change, then ``verify_host_after_update``.
- **A group keeps its minimum** (a cluster's own group excepted: the host rule speaks for it). Counting the members
  healthy now (reachable, powered on, iDRAC health OK or Warning), those that jobs already pending or running will
  take down, and this job's targets (all at once: a job's targets run side by side), at least the group's
  ``min_healthy_servers`` must remain. A job that takes down only members already out of service (a dead server to
  power-cycle) takes nothing from the group and is not refused by it.

An admin may override both with a reason (``--disruption-override "REASON"``, e.g. a dead host that must be
power-cycled): the job records it in its details, the audit row with it. Operators may not.

This is the creation-time half of the disruption budget. A job that passes is still checked where it runs: the
rolling steps re-check the live cluster before each host goes down.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from dsm_core.jobtypes import JOB_TYPE_SPECS, disruption
from dsm_core.models import Job, Server, ServerGroup, ServerGroupMember, VcenterCluster, VcenterHost
from dsm_core.netaddr import format_endpoint
from dsm_core.services.context import Tx
from dsm_core.services.errors import Unsafe, ValidationError

HEALTHY_IDRAC = ("OK", "Warning")
ACTIVE = ("pending", "running")


@dataclass
class Impact:
    """What a disruptive job would take down: per server, the cluster it is a host of and the groups it is in."""

    why: str
    lines: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def _servers(session: Session, scope: dict[str, Any]) -> list[Server]:
    ids = {uuid.UUID(s) for s in scope.get("servers", [])}
    if scope.get("groups"):
        ids |= set(session.exec(select(col(ServerGroupMember.server_id)).where(
            col(ServerGroupMember.server_group_id).in_([uuid.UUID(g) for g in scope["groups"]]))).all())
    if scope.get("clusters"):
        ids |= {i for i in session.exec(select(col(VcenterHost.server_id)).where(
            col(VcenterHost.cluster).in_(scope["clusters"]))).all() if i is not None}
    if not ids:
        return []
    return list(session.exec(select(Server).where(col(Server.id).in_(ids))).all())


def _label(server: Server) -> str:
    return server.hostname or format_endpoint(server.ip_address, server.port)


def _healthy(server: Server) -> bool:
    return (server.connection_status == "connected" and (server.power_state or "").lower() == "on"
            and server.overall_health in HEALTHY_IDRAC)


def _taken_by_others(session: Session, exclude: uuid.UUID | None) -> dict[uuid.UUID, str]:
    """Servers that disruptive jobs already pending or running will take down: server id → the job's short id."""
    taken: dict[uuid.UUID, str] = {}
    for job in session.exec(select(Job).where(col(Job.status).in_(ACTIVE))).all():
        if job.id == exclude or job.job_type not in JOB_TYPE_SPECS:
            continue
        try:
            if disruption(job.job_type, job.details) is None:
                continue
        except ValueError:  # a row written past DSM: it counts as disruptive
            pass
        for server in _servers(session, job.target_scope or {}):
            taken.setdefault(server.id, str(job.id)[-8:])
    return taken


def impact(session: Session, /, job_type: str, scope: dict[str, Any], details: dict[str, Any],
           job_id: uuid.UUID | None = None) -> Impact | None:
    """None when the job takes nothing down; else what it would, and why each rule refuses it (if one does)."""
    why = disruption(job_type, details)
    if why is None:
        return None
    spec = JOB_TYPE_SPECS[job_type]
    found = Impact(why)
    targets = _servers(session, scope)
    hosts = {h.server_id: h for h in session.exec(select(VcenterHost).where(
        col(VcenterHost.server_id).in_([s.id for s in targets]))).all()} if targets else {}
    for server in targets:
        host = hosts.get(server.id)
        if host is None or host.cluster_id is None:
            continue
        cluster = session.get(VcenterCluster, host.cluster_id)
        name = cluster.name if cluster else host.cluster or "?"
        state = "in maintenance mode" if host.maintenance_mode else "in service"
        found.lines.append(f"{_label(server)} is ESXi host {host.name} of cluster {name} ({state})")
        if not spec.safe_path and not host.maintenance_mode:
            fix = ("update it with a full_server_update job (maintenance mode and the cluster's safety around it)"
                   if job_type == "firmware_update" else
                   f"put it in maintenance first (`dsm jobs create prepare_host_for_update --server {server.id}`), "
                   "then run this, then verify_host_after_update")
            found.refusals.append(f"{_label(server)} is ESXi host {host.name} of cluster {name} and is not in "
                                  f"maintenance mode: {why} would stop its running VMs outside vCenter's control; "
                                  f"{fix}")
    if spec.safe_path or not targets:
        return found
    target_ids = {s.id for s in targets}
    memberships = list(session.exec(select(ServerGroupMember).where(
        col(ServerGroupMember.server_id).in_(target_ids))).all())
    group_ids = sorted({m.server_group_id for m in memberships})
    if not group_ids:
        return found
    others = _taken_by_others(session, job_id)
    # a cluster's own group is the cluster's: vCenter's state and the host rule above speak for it
    for group in session.exec(select(ServerGroup).where(col(ServerGroup.id).in_(group_ids),
                                                        ServerGroup.group_type != "vcenter_cluster")
                              .order_by(col(ServerGroup.name))).all():
        members = list(session.exec(select(Server).join(ServerGroupMember, col(ServerGroupMember.server_id) ==
                                                        col(Server.id))
                                    .where(ServerGroupMember.server_group_id == group.id)).all())
        healthy = {m.id for m in members if _healthy(m)}
        theirs = {m.id for m in members if m.id in others} & healthy
        ours = (target_ids & healthy) - theirs
        remaining = len(healthy) - len(theirs) - len(ours)
        line = (f"group {group.name}: {len(healthy)} of {len(members)} member(s) healthy, minimum "
                f"{group.min_healthy_servers}; this job takes {len(target_ids & {m.id for m in members})} down")
        if theirs:
            line += f", job(s) {', '.join(sorted({others[i] for i in theirs}))} {len(theirs)} more"
        found.lines.append(f"{line}: {remaining} would remain")
        if ours and remaining < group.min_healthy_servers:  # taking down members already out counts nothing
            found.refusals.append(f"{line}, leaving {remaining}, below the minimum of {group.min_healthy_servers}; "
                                  "target fewer of its members at once, or wait for the other jobs")
    return found


def check(tx: Tx, /, job_type: str, scope: dict[str, Any], details: dict[str, Any], override: str | None,
          job_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Refuses (``Unsafe``) a disruptive job the rules refuse, unless an admin overrides them with a reason; returns
    the details to store (with the override's reason, when there is one)."""
    clean = {k: v for k, v in details.items() if k != "disruption_override"}
    override = tx.admin_reason("disruption_override", override, "--disruption-override")
    if disruption(job_type, clean) is None:  # most jobs: nothing to count, nothing to lock
        if override is not None:
            raise ValidationError("disruption_override", f"{job_type} with these details takes nothing down",
                                  "leave out --disruption-override")
        return clean
    if override is not None:
        return {**clean, "disruption_override": override}
    if not JOB_TYPE_SPECS[job_type].safe_path:  # only the group rule counts across jobs
        _count_alone(tx.session)
    found = impact(tx.session, job_type, scope, clean, job_id)
    assert found is not None
    if found.refusals:
        raise Unsafe("not created: " + "; ".join(found.refusals) + " (an admin may override with "
                     "--disruption-override REASON)")
    return clean


DISRUPTION_LOCK = 0x44534D5F44495352
"""The PostgreSQL advisory lock key ("DSM_DISR") that orders the counting of disruptive jobs being created."""


def _count_alone(session: Session) -> None:
    """PostgreSQL: one transaction-scoped advisory lock, so two disruptive jobs created at once are counted one after
    the other. (On SQLite two creations at one instant can both count before either writes: the run-time half of
    the budget is to close that.) An advisory lock needs no table privilege:
    the worker's login, which makes a window's jobs, may not UPDATE the group rows a FOR UPDATE would lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": DISRUPTION_LOCK})
