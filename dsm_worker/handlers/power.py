"""power_action: On, ForceOff, GracefulShutdown, GracefulRestart, ForceRestart, PowerCycle — and wait for it."""

from __future__ import annotations

import time
import uuid
from typing import Any

from dsm_core.db.engine import session_scope
from dsm_core.jobtypes import PowerDetails
from dsm_core.models import JobTask, Server
from dsm_core.redfish import dell
from dsm_core.redfish.client import OutcomeUnknown, Paused, RedfishError
from dsm_core.timeutil import utcnow
from dsm_worker.handlers.inventory import for_each_server
from dsm_worker.runtime import JobContext, Outcome, TaskFailed, TaskLog

WANTED = {
    "On": "On",
    "ForceOff": "Off",
    "GracefulShutdown": "Off",
    "GracefulRestart": "On",
    "ForceRestart": "On",
    "PowerCycle": "On",
}
POLL_SECONDS = 2.0


def _save_power_state(engine: Any, server_id: uuid.UUID, state: str) -> None:
    """What the iDRAC now reports, on the server row: the console's POWER column must not lag the job."""
    with session_scope(engine) as s:
        server = s.get(Server, server_id)
        if server is not None:
            server.power_state, server.last_seen = state, utcnow()
            s.add(server)


async def send_once(ctx: JobContext, task: JobTask, log: TaskLog, client: Any, reset_type: str) -> bool:
    """Send ``reset_type`` unless this task already did; True when it is (or may be) on its way.

    The intent is recorded *before* the POST: a worker that dies or is paused right after sending finds
    it on resume and checks the power state instead of sending the reset again. A POST refused before it
    left (paused) clears the record; a POST that got no answer counts as sent (the iDRAC may have acted).
    """
    mark = await ctx.checkpoint(task.id)
    if reset_type in mark.get("sent", []):
        log.add(f"{reset_type} was already sent by this task; checking the power state, not sending it again")
        return True
    sent = [*mark.get("sent", []), reset_type]
    await ctx.save_checkpoint(task.id, {**mark, "sent": sent, "at": utcnow().isoformat()})
    try:
        await dell.reset(client, reset_type)
    except Paused:
        await ctx.save_checkpoint(task.id, mark or None)  # never left the worker
        raise
    except OutcomeUnknown as exc:
        log.add(f"{reset_type}: no answer ({exc.message}); reading the power state instead of resending")
        return True
    except RedfishError as exc:
        if exc.status is not None and (exc.status < 500 or exc.status == 503):
            await ctx.save_checkpoint(task.id, mark or None)  # refused (4xx, 503): the iDRAC did not act on it
        raise
    log.add(f"{reset_type} accepted")
    return True


RESTARTS = ("GracefulRestart", "ForceRestart", "PowerCycle")


async def _restart(ctx: JobContext, server: Server, task: JobTask, log: TaskLog, client: Any, action: str,
                   timeout: float) -> None:
    """Send a restart once and wait for evidence that the host went down and came back.

    The state before is kept in the task's checkpoint with the intent, so a resumed task compares against
    the boot that was running when the reset was sent, not against the one it finds."""
    mark = await ctx.checkpoint(task.id)
    if action in mark.get("sent", []) and isinstance(mark.get("before"), dict):
        before = dell.PowerMark.from_dict(mark["before"])
    else:
        before = await dell.power_mark(client)
        await ctx.save_checkpoint(task.id, {**mark, "before": before.as_dict()})
    log.add(f"before: power {before.power_state}, last reset {before.last_reset or 'not reported'}, "
            f"boot progress {before.boot_state or 'not reported'}")
    started = time.monotonic()
    await send_once(ctx, task, log, client, action)
    evidence = await dell.wait_restarted(client, before, timeout, POLL_SECONDS)
    if evidence is None:
        offered = "LastResetTime" if before.last_reset else "no LastResetTime"
        raise TaskFailed(
            f"{action} was sent, but in {timeout:.0f} s the server showed no sign of going down and coming back "
            f"(power never seen Off, {offered}, boot progress unchanged); check the host console before retrying"
        )
    log.add(f"restarted after {time.monotonic() - started:.0f} s: {evidence}")
    await ctx.db(_save_power_state, ctx.engine, server.id, "On")


async def power_action(ctx: JobContext) -> Outcome:
    details = ctx.details(PowerDetails)
    action, timeout, force = details.action, float(details.timeout_seconds), details.force_after_timeout
    wanted = WANTED[action]

    async def work(server: Server, task: JobTask, log: TaskLog) -> None:
        async with ctx.idrac(server, task.id) as client:
            if action in RESTARTS:
                await _restart(ctx, server, task, log, client, action, timeout)
                return
            already_sent = action in (await ctx.checkpoint(task.id)).get("sent", [])
            before = await dell.power_state(client)
            log.add(f"power state before: {before}")
            if not already_sent and action == "On" and before == "On":
                log.add("already on; nothing to do")
                await ctx.db(_save_power_state, ctx.engine, server.id, before)
                return
            if not already_sent and action in ("ForceOff", "GracefulShutdown") and before == "Off":
                log.add("already off; nothing to do")
                await ctx.db(_save_power_state, ctx.engine, server.id, before)
                return
            started = time.monotonic()
            await send_once(ctx, task, log, client, action)
            if await dell.wait_power(client, wanted, timeout, POLL_SECONDS):
                log.add(f"power state {wanted} after {time.monotonic() - started:.0f} s")
                await ctx.db(_save_power_state, ctx.engine, server.id, wanted)
                return
            if action == "GracefulShutdown" and force:
                log.add(f"still on after {timeout:.0f} s: forcing off as the job asked")
                await send_once(ctx, task, log, client, "ForceOff")
                if await dell.wait_power(client, "Off", timeout, POLL_SECONDS):
                    log.add("power state Off after ForceOff")
                    await ctx.db(_save_power_state, ctx.engine, server.id, "Off")
                    return
            hint = " (rerun with --detail force_after_timeout=true to force it)" if action == "GracefulShutdown" else ""
            raise TaskFailed(f"{action}: power state is not {wanted} after {timeout:.0f} s{hint}")

    # A power action waits on the host, not the iDRAC: its timeout is the job's own, twice with the fallback.
    return await for_each_server(ctx, work, timeout=timeout * 2 + 120)
