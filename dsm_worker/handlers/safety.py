"""cluster_safety_check and server_group_safety_check: read the real state, judge it, store the verdict.

A cluster check syncs its vCenter first (one PropertyCollector pass per object type) and judges the fresh
inventory, never the stored rows; a group check reads each member's power state and health from its iDRAC.
A verdict of ``unsafe`` is a result, not a failure: the job completes and the reasons are stored with it. The job
fails only when the state could not be read (the vCenter unreachable, the cluster gone).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from dsm_core.db.engine import read_scope, session_scope
from dsm_core.jobtypes import ClusterSafetyDetails, GroupSafetyDetails
from dsm_core.models import JobTask, Server, VcenterCluster
from dsm_core.redfish import dell
from dsm_core.redfish.models import dig
from dsm_core.safety import cluster_verdict, group_verdict
from dsm_core.services.safety import (
    cluster_facts_from,
    group_members,
    record_cluster_check,
    record_group_check,
    resolve_scope_clusters,
    resolve_scope_groups,
    server_facts,
)
from dsm_worker.handlers.inventory import CONNECTION_ERRORS, mark_connection
from dsm_worker.handlers.vcenter import load_vcenter, sync_one
from dsm_worker.runtime import JobContext, Outcome, TaskFailed, TaskLog


def _clusters(engine: Any, names: list[str]) -> list[VcenterCluster]:
    with read_scope(engine) as s:
        try:
            return resolve_scope_clusters(s, names)
        except LookupError as exc:
            raise TaskFailed(str(exc)) from None


def _store_cluster(engine: Any, cluster_id: uuid.UUID, verdict: Any, job_id: uuid.UUID,
                   scheduled: uuid.UUID | None) -> dict[str, Any]:
    with session_scope(engine) as s:
        return record_cluster_check(s, cluster_id, verdict, job_id=job_id, scheduled_check_id=scheduled)


async def cluster_safety_check(ctx: JobContext) -> Outcome:
    details = ctx.details(ClusterSafetyDetails)
    clusters = await ctx.db(_clusters, ctx.engine, list(ctx.job.target_scope.get("clusters", [])))
    by_label = {f"cluster {c.name}": c for c in clusters}
    ctx.result["checks"] = []
    syncs: dict[uuid.UUID, asyncio.Task[Any]] = {}  # one read of each vCenter per job, shared by its clusters

    async def read(vcenter_id: uuid.UUID, task_id: uuid.UUID) -> Any:
        return await sync_one(ctx, await ctx.db(load_vcenter, ctx.engine, vcenter_id), task_id)

    async def work(task: JobTask, log: TaskLog) -> None:
        cluster = by_label[task.target or ""]
        if cluster.vcenter_id not in syncs:  # set before any await: a second cluster waits for the same read
            syncs[cluster.vcenter_id] = asyncio.ensure_future(read(cluster.vcenter_id, task.id))
        inventory, _ = await asyncio.shield(syncs[cluster.vcenter_id])
        facts = cluster_facts_from(inventory, cluster.moref)
        if facts is None:
            raise TaskFailed(f"cluster {cluster.name} is no longer in its vCenter (removed since the last sync)")
        verdict = cluster_verdict(facts, details.min_required_hosts)
        view = await ctx.db(_store_cluster, ctx.engine, cluster.id, verdict, ctx.job.id, details.scheduled_check_id)
        log.add(f"{verdict.status}: {verdict.healthy} of {verdict.total} host(s) healthy, minimum "
                f"{verdict.minimum}" + "".join(f"; {r.message}" for r in verdict.reasons))
        ctx.result["checks"].append(view)

    outcome = await ctx.run_targets([(None, label) for label in by_label], work, 2, 600.0)
    checks = ctx.result["checks"]
    ctx.result["verdict"] = "safe" if checks and all(c["verdict"] == "safe" for c in checks) else "unsafe"
    return outcome


# --- server groups ------------------------------------------------------------------------------------------------


def _groups(engine: Any, ids: list[str]) -> list[tuple[uuid.UUID, str, int, list[Server]]]:
    with read_scope(engine) as s:
        try:
            groups = resolve_scope_groups(s, ids)
        except LookupError as exc:
            raise TaskFailed(str(exc)) from None
        return [(g.id, g.name, g.min_healthy_servers, group_members(s, g.id)) for g in groups]


def _observe(engine: Any, server_id: uuid.UUID, power: str | None, health: str | None, error: str | None) -> None:
    """Reachability as every job records it; on success the power state and health just read, too."""
    mark_connection(engine, server_id, error)
    if error is not None:
        return
    with session_scope(engine) as s:
        server = s.get(Server, server_id)
        if server is not None:
            server.power_state, server.overall_health = power, health
            s.add(server)


def _fresh(engine: Any, server_ids: list[uuid.UUID]) -> list[Server]:
    with read_scope(engine) as s:
        rows = {srv.id: srv for srv in (s.get(Server, i) for i in server_ids) if srv is not None}
    return [rows[i] for i in server_ids if i in rows]


def _store_group(engine: Any, group_id: uuid.UUID, verdict: Any, job_id: uuid.UUID,
                 scheduled: uuid.UUID | None) -> dict[str, Any]:
    with session_scope(engine) as s:
        return record_group_check(s, group_id, verdict, job_id=job_id, scheduled_check_id=scheduled)


async def server_group_safety_check(ctx: JobContext) -> Outcome:
    details = ctx.details(GroupSafetyDetails)
    groups = await ctx.db(_groups, ctx.engine, list(ctx.job.target_scope.get("groups", [])))
    servers = {srv.id: srv for _, _, _, members in groups for srv in members}
    labels = {f"{srv.hostname or srv.ip_address}:{srv.port} ({srv.id.hex[-8:]})": srv for srv in servers.values()}

    async def observe(task: JobTask, log: TaskLog) -> None:
        server = labels[task.target or ""]
        try:
            async with ctx.idrac(server, task.id) as client:
                body = await client.get(dell.SYSTEM, {"$select": "PowerState,Status"})
        except CONNECTION_ERRORS as exc:
            await ctx.db(_observe, ctx.engine, server.id, None, None, str(exc))
            log.add(f"unreachable: {exc}")  # a finding of the check, not a failure of the job
            return
        power = dig(body, "PowerState")
        health = dig(body, "Status", "HealthRollup") or dig(body, "Status", "Health")
        power_text = power if isinstance(power, str) else None
        health_text = health if isinstance(health, str) else None
        await ctx.db(_observe, ctx.engine, server.id, power_text, health_text, None)
        log.add(f"power {power_text}, health {health_text}")

    targets: list[tuple[uuid.UUID | None, str]] = [(srv.id, label) for label, srv in labels.items()]
    outcome = await ctx.run_targets(targets, observe, ctx.worker.global_cap, 120.0)
    ctx.result["checks"] = []
    for group_id, name, stored_minimum, members in groups:
        minimum = stored_minimum if details.min_healthy_servers is None else details.min_healthy_servers
        fresh = await ctx.db(_fresh, ctx.engine, [m.id for m in members])
        verdict = group_verdict(name, [server_facts(s) for s in fresh], minimum)
        ctx.result["checks"].append(await ctx.db(_store_group, ctx.engine, group_id, verdict, ctx.job.id,
                                                  details.scheduled_check_id))
    checks = ctx.result["checks"]
    ctx.result["verdict"] = "safe" if checks and all(c["verdict"] == "safe" for c in checks) else "unsafe"
    return outcome
