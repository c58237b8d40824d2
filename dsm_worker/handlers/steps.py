"""Running a step workflow on every target server: one client per server, the capabilities detected at the
last refresh (or now, for a server never refreshed), the backup setting read once per job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dsm_core.models import JobTask, Server
from dsm_core.netaddr import format_endpoint
from dsm_core.redfish import dell
from dsm_core.redfish.client import IdracClient
from dsm_core.redfish.models import ServiceRootView
from dsm_worker.handlers.inventory import for_each_server
from dsm_worker.runtime import JobContext, Outcome, TaskLog
from dsm_worker.workflows.common import backup_setting
from dsm_worker.workflows.engine import Workflow, run_workflow


async def capabilities(client: IdracClient, server: Server) -> dell.Capabilities:
    found = dell.Capabilities.from_dict(server.supported_endpoints)
    if found is not None:
        return found
    root = ServiceRootView.parse(await client.get("/redfish/v1"))
    return (await dell.read_identity(client, root)).capabilities


async def run_per_server(
    ctx: JobContext,
    workflow: Workflow,
    shared_base: dict[str, Any],
    summarize: Callable[[dict[str, dict[str, Any]]], dict[str, Any]],
    *,
    budget: float,
    per_server: Callable[[Server], dict[str, Any]] | None = None,
    concurrency: int = 4,
) -> Outcome:
    backup_on, scp_budget = await ctx.db(backup_setting, ctx.engine)
    base = {"poll": ctx.worker.options.dell_job_poll_seconds, "settle": ctx.worker.options.scheduled_settle_seconds,
            "backup_before_change": backup_on, "scp_budget": scp_budget, **shared_base}

    async def work(server: Server, task: JobTask, log: TaskLog) -> None:
        async with ctx.idrac(server, task.id) as client:
            shared = {**base, **(per_server(server) if per_server else {}), "client": client,
                      "caps": await capabilities(client, server)}
            steps = await run_workflow(workflow, ctx, task, server, log, shared)
        summary = summarize(steps)
        endpoint = format_endpoint(server.ip_address, server.port)
        ctx.result[endpoint] = {**ctx.result.get(endpoint, {}), **summary}
        if summary.get("outcome"):
            log.add(f"outcome: {summary['outcome']}")

    return await for_each_server(ctx, work, concurrency=concurrency, timeout=budget + scp_budget * 2)
