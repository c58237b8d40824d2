"""rolling_cluster_update (the accepted plan's hosts, in its order, each through the eight host steps), and the
one-server jobs on the same steps: prepare_host_for_update, verify_host_after_update, full_server_update.

One host at a time unless ``max_concurrent`` allows more (each still passes the live safety check first). The first
failure stops the run: hosts not started stay untouched (their tasks end ``cancelled``, "not started"), the failed
host stays where its step left it, and the job's error names the host and the step. A retry resumes the same job;
a resumed job (its worker died) rebuilds which hosts it had down from its records.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlmodel import col, select

from dsm_core.db.engine import read_scope, session_scope
from dsm_core.jobtypes import FullUpdateDetails, HostStepDetails, RollingUpdateDetails
from dsm_core.models import Job, JobTask, Server, VcenterCluster, VcenterHost, WorkflowExecution
from dsm_core.services.rolling import build_plan
from dsm_core.services.vcenter import find_cluster
from dsm_worker import store
from dsm_worker.handlers.firmware import firmware_shared
from dsm_worker.handlers.steps import capabilities
from dsm_worker.handlers.vcenter import load_vcenter, open_vcenter
from dsm_worker.runtime import JobCancelled, JobContext, Outcome, TaskFailed, TaskLog
from dsm_worker.workflows.engine import Workflow, run_workflow
from dsm_worker.workflows.rolling import PREPARE_HOST, ROLLING_HOST, VERIFY_HOST, Run

FINISHED = ("completed",)


def _setup(engine: Any, job_id: uuid.UUID, scope: dict[str, Any], details: RollingUpdateDetails
           ) -> tuple[VcenterCluster, dict[str, Any], bool, bool]:
    """(cluster, plan, plan built now?, cancel requested?)"""
    with read_scope(engine) as s:
        job = s.get(Job, job_id)
        cancel = bool(job and job.cancel_requested)
        try:
            if scope.get("clusters"):
                cluster = find_cluster(s, scope["clusters"][0])
            else:
                group_id = uuid.UUID(scope["groups"][0])
                found = s.exec(select(VcenterCluster).where(VcenterCluster.server_group_id == group_id)).first()
                if found is None:
                    raise TaskFailed("the group is not a vCenter cluster's group: a rolling update goes through "
                                     "vCenter (give --cluster)")
                cluster = found
        except LookupError as exc:
            raise TaskFailed(str(exc)) from None
        if details.plan is not None:
            return cluster, details.plan, False, cancel
        source = details.repository, details.image_uri
        plan = build_plan(s, cluster.name, repository=source[0], image_uri=source[1],
                          max_concurrent=details.max_concurrent, min_required_hosts=details.min_required_hosts)
        return cluster, plan, True, cancel


def _servers(engine: Any, ids: list[str]) -> dict[str, Server]:
    with read_scope(engine) as s:
        found = {str(srv.id): srv for srv in s.exec(select(Server).where(
            col(Server.id).in_([uuid.UUID(i) for i in ids]))).all()}
    return found


def _plan_links(engine: Any, cluster_id: uuid.UUID, entries: list[dict[str, Any]]) -> list[str]:
    """Entries whose host is no longer linked to the server the plan names (a link changed since, or a plan DSM did
    not make): the run must not evacuate one machine and update another."""
    with read_scope(engine) as s:
        hosts = {h.moref: h for h in s.exec(select(VcenterHost).where(VcenterHost.cluster_id == cluster_id)).all()}
    wrong = []
    for e in entries:
        host = hosts.get(e["moref"])
        if host is None or str(host.server_id) != e["server_id"]:
            wrong.append(f"{e['host']} ({e['moref']}): the plan names server {e['server_id']}, DSM links "
                         f"{host.server_id if host is not None else 'no host of that moref in the cluster'}")
    return wrong


def _down_by_records(engine: Any, job_id: uuid.UUID, names: dict[uuid.UUID, str]) -> set[str]:
    """Hosts this job put in maintenance and has not taken out yet, from its step records (a resumed run)."""
    with read_scope(engine) as s:
        rows = s.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == job_id,
                                                      col(WorkflowExecution.step_name).in_(
                                                          ("enter_maintenance_mode", "exit_maintenance_mode")))).all()
    entered = {r.server_id for r in rows if r.step_name == "enter_maintenance_mode" and r.step_details
               and (r.step_details.get("task") or r.step_details.get("entering"))}
    left = {r.server_id for r in rows if r.step_name == "exit_maintenance_mode"
            and r.step_status in ("completed", "skipped")}
    return {names[sid] for sid in entered - left if sid in names}


REWOUND = ("firmware_update", "reboot_server", "wait_for_online", "install", "reboot", "apply")


def _rewind_failed_update(engine: Any, job_id: uuid.UUID, server_id: uuid.UUID) -> bool:
    """An operator's retry after the iDRAC failed the update job itself (it ran at POST, in ``apply``): following that
    job again could only fail again, so the host's update is installed anew, from ``firmware_update``. Returns whether
    it did.

    Only a retry rewinds (it set the failed ``apply`` back to pending): a worker taking the job over after a death
    finds ``apply`` still failed, and the failure stands. A rewind happens once per failure: it takes the failed Dell
    job out of ``apply``'s record, so a worker that dies after the new install and before ``apply`` runs again does not
    rewind (and install) a second time on resume."""
    with session_scope(engine) as s:
        rows = {r.step_name: r for r in s.exec(select(WorkflowExecution).where(
            WorkflowExecution.job_id == job_id, WorkflowExecution.server_id == server_id)).all()}
        apply_ = rows.get("apply")
        if apply_ is None or apply_.step_status != "pending":
            return False
        updates = (apply_.step_details or {}).get("updates", [])
        failed = [u.get("job_id") for u in updates if isinstance(u, dict)
                  and (u.get("dell_job") or {}).get("outcome") in ("failed", "reboot_failed")]
        if not failed:
            return False
        for name in REWOUND:
            row = rows.get(name)
            if row is not None:
                row.step_status, row.step_error = "pending", None
                details = {k: v for k, v in (row.step_details or {}).items() if name != "apply" or k != "updates"}
                row.step_details = {**details, "rewound": "the update job failed; installing again",
                                    "failed_jobs": failed}
                s.add(row)
        return True


def _touched(engine: Any, job_id: uuid.UUID) -> set[uuid.UUID]:
    with read_scope(engine) as s:
        return {sid for sid in s.exec(select(col(WorkflowExecution.server_id)).where(
            WorkflowExecution.job_id == job_id)).all() if sid}


def _tasks(engine: Any, job_id: uuid.UUID) -> list[JobTask]:
    with read_scope(engine) as s:
        return list(s.exec(select(JobTask).where(JobTask.job_id == job_id)).all())


async def rolling_cluster_update(ctx: JobContext) -> Outcome:
    details = ctx.details(RollingUpdateDetails)
    cluster, plan, built, cancel = await ctx.db(_setup, ctx.engine, ctx.job.id, ctx.job.target_scope, details)
    if cancel:
        ctx.cancel.set()
    ctx.result["plan_digest"] = plan.get("digest")
    if built:
        ctx.result["plan"] = plan
        if not plan.get("safe") and not cancel:
            raise TaskFailed(f"the plan of {cluster.name} is not safe: " + "; ".join(plan.get("problems", [])))
    entries: list[dict[str, Any]] = list(plan.get("hosts", []))
    missing = [e["host"] for e in entries if not e.get("server_id")]
    if missing:
        raise TaskFailed("hosts without a linked server in the plan: " + ", ".join(missing))
    base, _ = await firmware_shared(ctx, details)
    return await run_hosts(ctx, cluster, entries, ROLLING_HOST, details, base, details.max_concurrent)


async def run_hosts(ctx: JobContext, cluster: VcenterCluster, entries: list[dict[str, Any]], workflow: Workflow,
                    details: Any, base: dict[str, Any], max_concurrent: int) -> Outcome:
    """``workflow`` for each host of ``entries`` (``host``, ``moref``, ``server_id``), in order, ``max_concurrent`` at a
    time; the first failure stops the hosts not started. ``details`` carries the limits the host steps read
    (``min_required_hosts``, ``maintenance_timeout_seconds``, ``online_timeout_seconds``)."""
    servers = await ctx.db(_servers, ctx.engine, [e["server_id"] for e in entries])
    gone = [e["host"] for e in entries if e["server_id"] not in servers]
    if gone:
        raise TaskFailed("the servers of these hosts were removed: " + ", ".join(gone))
    wrong = await ctx.db(_plan_links, ctx.engine, cluster.id, entries)
    if wrong:
        raise TaskFailed("the plan no longer pairs each host with its server; nothing was done: " + "; ".join(wrong)
                         + " (read the plan again and start a new run)")
    vc = await ctx.db(load_vcenter, ctx.engine, cluster.vcenter_id)
    labels = [(servers[e["server_id"]].id, f"{e['host']} ({servers[e['server_id']].ip_address})") for e in entries]
    tasks = {t.target: t for t in await ctx.db(store.ensure_tasks, ctx.engine, ctx.job.id, labels)}
    touched = await ctx.db(_touched, ctx.engine, ctx.job.id)
    names = {servers[e["server_id"]].id: e["host"] for e in entries}
    stop = asyncio.Event()
    outcomes: dict[str, dict[str, Any]] = {}

    async with open_vcenter(ctx, vc, None) as api:
        run = Run(api, details, cluster.id, cluster.moref, cluster.name)
        run.down |= await ctx.db(_down_by_records, ctx.engine, ctx.job.id, names)
        sem = asyncio.Semaphore(max_concurrent)

        async def host_run(task: JobTask, entry: dict[str, Any], server: Server) -> None:
            try:
                log = TaskLog()
                await ctx.db(store.start_task, ctx.engine, task.id)
                status, error = "completed", None
                shared: dict[str, Any] = {}
                try:
                    if not ctx.cancel.is_set() and await ctx.db(_rewind_failed_update, ctx.engine, ctx.job.id,
                                                                server.id):
                        log.add("the iDRAC failed the update job last time: installing it again")
                    async with ctx.idrac(server, task.id) as idrac:
                        shared = {**base, "client": idrac, "caps": await capabilities(idrac, server), "run": run,
                                  "host": entry}
                        steps = await run_workflow(workflow, ctx, task, server, log, shared, seed_earlier=True)
                    outcomes[entry["host"]] = {"outcome": "done", "firmware": steps.get("verify_health", {}).get(
                        "firmware"), "updates": steps.get("firmware_update", {}).get("updates", [])}
                except JobCancelled:
                    status, error = "cancelled", "cancelled by request"
                    outcomes[entry["host"]] = {"outcome": "cancelled",
                                               "returned_to_service": entry["host"] in shared.get("returned", []),
                                               "left_in_maintenance": entry["host"] in shared.get(
                                                   "left_in_maintenance", [])}
                except Exception as exc:  # the host's step failed (or its iDRAC could not be reached)
                    stop.set()
                    status, error = "failed", f"{entry['host']}: {exc}"
                    outcomes[entry["host"]] = {"outcome": "failed", "error": str(exc)}
                if error:
                    log.add(f"{status}: {error}")
                await ctx.db(store.finish_task, ctx.engine, task.id, status, log.lines, error)
            finally:
                sem.release()

        running: list[asyncio.Task[None]] = []
        try:
            await _launch(ctx, entries, labels, tasks, touched, sem, stop, running, host_run, servers)
            await asyncio.gather(*running)
        except BaseException:
            # the job itself is stopped (shutdown, lost lease): its host tasks stop with it, never run on as orphans
            # beside the worker that takes the job over
            for child in running:
                child.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        ctx.result["hosts"] = outcomes
        ctx.result["in_maintenance_by_this_run"] = sorted(run.down)

    finished = await ctx.db(_tasks, ctx.engine, ctx.job.id)
    if ctx.cancel.is_set():
        left = sorted(h for h, o in outcomes.items() if o.get("left_in_maintenance"))
        raise JobCancelled("cancelled by request" + (
            f"; left in maintenance mode, not healthy enough to return to service: {', '.join(left)}" if left else ""))
    errors = [t.error or "" for t in finished if t.status == "failed"]
    return Outcome(len(finished), sum(t.status == "completed" for t in finished), len(errors),
                   sum(t.status == "cancelled" for t in finished), errors)


async def _launch(ctx: JobContext, entries: list[dict[str, Any]], labels: list[tuple[uuid.UUID, str]],
                  tasks: dict[str | None, JobTask], touched: set[uuid.UUID], sem: asyncio.Semaphore,
                  stop: asyncio.Event, running: list[asyncio.Task[None]], host_run: Any,
                  servers: dict[str, Server]) -> None:
    """Starts the hosts in order as the semaphore allows; after a failure, the rest end "not started"."""
    for entry, (server_id, label) in zip(entries, labels, strict=True):
        task = tasks[label]
        if task.status in FINISHED:
            continue
        if ctx.cancel.is_set() and server_id not in touched:
            await ctx.db(store.finish_task, ctx.engine, task.id, "cancelled", [], "cancelled before it started")
            continue
        await sem.acquire()
        if stop.is_set():
            sem.release()
            await ctx.db(store.finish_task, ctx.engine, task.id, "cancelled", [],
                         "not started: the run stopped at a failed host")
            continue
        running.append(asyncio.create_task(host_run(task, entry, servers[entry["server_id"]])))


# --- one host: prepare, verify, full update -------------------------------------------------------------------


def _host_of(engine: Any, server_ids: list[str]) -> list[tuple[Server, VcenterHost | None, VcenterCluster | None]]:
    with read_scope(engine) as s:
        out: list[tuple[Server, VcenterHost | None, VcenterCluster | None]] = []
        for sid in server_ids:
            server = s.get(Server, uuid.UUID(sid))
            if server is None:
                raise TaskFailed(f"server {sid} was removed")
            host = s.exec(select(VcenterHost).where(VcenterHost.server_id == server.id)).first()
            cluster = s.get(VcenterCluster, host.cluster_id) if host is not None and host.cluster_id else None
            out.append((server, host, cluster))
        return out


def _entry(host: VcenterHost, server: Server) -> dict[str, Any]:
    return {"host": host.name, "moref": host.moref, "server_id": str(server.id)}


async def _one_host(ctx: JobContext, workflow: Workflow, details: Any, base: dict[str, Any]) -> Outcome:
    [(server, host, cluster)] = await ctx.db(_host_of, ctx.engine, ctx.job.target_scope.get("servers", []))
    if host is None or cluster is None:
        raise TaskFailed(f"{server.hostname or server.ip_address} is not an ESXi host of a cluster DSM knows: "
                         "sync the vCenter, or link the host (`dsm vcenter link HOST REF`)")
    return await run_hosts(ctx, cluster, [_entry(host, server)], workflow, details, base, 1)


def _base(ctx: JobContext) -> dict[str, Any]:
    return {"poll": ctx.worker.options.dell_job_poll_seconds, "settle": ctx.worker.options.scheduled_settle_seconds}


async def prepare_host_for_update(ctx: JobContext) -> Outcome:
    """safety_check and enter_maintenance_mode for one server's host: it ends in maintenance, VMs evacuated."""
    details = ctx.details(HostStepDetails)
    return await _one_host(ctx, PREPARE_HOST, details, _base(ctx))


async def verify_host_after_update(ctx: JobContext) -> Outcome:
    """verify_health, exit_maintenance_mode and verify_cluster_health for one server's host."""
    details = ctx.details(HostStepDetails)
    return await _one_host(ctx, VERIFY_HOST, details, _base(ctx))


async def full_server_update(ctx: JobContext) -> Outcome:
    """Every target server's firmware: an ESXi host DSM knows goes through vCenter (the rolling update's eight
    steps, one host at a time, the cluster's safety checked before each); any other server gets the firmware
    workflow alone."""
    details = ctx.details(FullUpdateDetails)
    if await ctx.db(_cancel_requested, ctx.engine, ctx.job.id):
        ctx.cancel.set()
    targets = await ctx.db(_host_of, ctx.engine, ctx.job.target_scope.get("servers", []))
    base, _ = await firmware_shared(ctx, details)
    hosts = [(server, host, cluster) for server, host, cluster in targets if host is not None and cluster]
    plain = [server for server, host, cluster in targets if host is None or cluster is None]
    ctx.result["through_vcenter"] = [h.name for _, h, _ in hosts if h is not None]
    ctx.result["without_vcenter"] = [s.hostname or s.ip_address for s in plain]
    by_cluster: dict[uuid.UUID, list[tuple[Server, VcenterHost, VcenterCluster]]] = {}
    for server, host, cluster in hosts:
        assert host is not None and cluster is not None
        by_cluster.setdefault(cluster.id, []).append((server, host, cluster))
    for members in by_cluster.values():
        part = await run_hosts(ctx, members[0][2], [_entry(h, s) for s, h, _ in members], ROLLING_HOST, details,
                               base, 1)
        if part.failed:
            return part
    if plain:
        from dsm_worker.workflows.firmware import FIRMWARE_UPDATE

        labels = [(srv.id, f"{srv.hostname or srv.ip_address} (no vCenter host)") for srv in plain]
        tasks = {t.target: t for t in await ctx.db(store.ensure_tasks, ctx.engine, ctx.job.id, labels)}
        for server, (_, label) in zip(plain, labels, strict=True):
            task = tasks[label]
            if task.status in FINISHED:
                continue
            if ctx.cancel.is_set():
                raise JobCancelled()
            await ctx.db(store.start_task, ctx.engine, task.id)
            log = TaskLog()
            status, error = "completed", None
            try:
                async with ctx.idrac(server, task.id) as idrac:
                    shared = {**base, "client": idrac, "caps": await capabilities(idrac, server)}
                    await run_workflow(FIRMWARE_UPDATE, ctx, task, server, log, shared)
            except JobCancelled:
                status, error = "cancelled", "cancelled by request"
            except Exception as exc:
                status, error = "failed", str(exc) or type(exc).__name__
            await ctx.db(store.finish_task, ctx.engine, task.id, status, log.lines, error)
            if status == "cancelled":
                raise JobCancelled()
    outcome: Outcome = await ctx.db(_outcome_of, ctx.engine, ctx.job.id)
    return outcome


def _cancel_requested(engine: Any, job_id: uuid.UUID) -> bool:
    with read_scope(engine) as s:
        job = s.get(Job, job_id)
        return bool(job and job.cancel_requested)


def _outcome_of(engine: Any, job_id: uuid.UUID) -> Outcome:
    finished = _tasks(engine, job_id)
    errors = [t.error or "" for t in finished if t.status == "failed"]
    return Outcome(len(finished), sum(t.status == "completed" for t in finished), len(errors),
                   sum(t.status == "cancelled" for t in finished), errors)
