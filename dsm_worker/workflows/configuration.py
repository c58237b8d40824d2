"""BIOS and boot workflows on the step engine.

bios_config_read: read the registry and the attributes, store a snapshot, recompute drift.
bios_config_write: backup (SCP export) → stage (one pending BIOS job at a time; the send recorded first) →
reboot (when asked, or Immediate) → apply (the Dell job followed to its end) → verify (values re-read and
compared; a change staged for the next reboot is said to be staged, not verified).
boot_configuration: backup (persistent changes only) → apply (override / order / mode at the generation's
PATCH target) → reboot → settle (the order job followed) → verify (read back, history row with before/after).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlmodel import select

from dsm_core.db.engine import session_scope
from dsm_core.jobtypes import BiosWriteDetails, BootDetails
from dsm_core.models import BiosConfiguration, BiosRegistry, Server, ServerBootConfigHistory
from dsm_core.redfish import bios as bios_api
from dsm_core.redfish import boot as boot_api
from dsm_core.redfish.client import OutcomeUnknown, RedfishError
from dsm_core.redfish.update import UpdateRefused
from dsm_core.services.configuration_rules import recompute_drift
from dsm_core.timeutil import utcnow
from dsm_worker.workflows.common import (
    adopt,
    backup,
    backup_done,
    caps,
    client,
    delete_if_scheduled,
    follow_job,
    poll,
    queue_ids,
    raise_if_failed,
    restart_host,
    sleep,
)
from dsm_worker.workflows.engine import Step, StepContext, StepFailed, Workflow

CONFIG_JOB_BUDGET = 3600.0
READ_BACK_BUDGET = 1800.0
TRANSIENT_STATUS = (None, 401, 404, 500, 502, 503, 504)


def _bios_details(ctx: StepContext) -> BiosWriteDetails:
    found: BiosWriteDetails = ctx.shared["details"]
    return found


def _boot_details(ctx: StepContext) -> BootDetails:
    found: BootDetails = ctx.shared["details"]
    return found


async def _patiently(ctx: StepContext, what: str, call: Any) -> Any:
    """``call()`` again and again while the host reboots and the iDRAC answers 503s or drops the session."""
    deadline = time.monotonic() + READ_BACK_BUDGET
    while True:
        try:
            return await call()
        except (RedfishError, OutcomeUnknown) as exc:
            if isinstance(exc, RedfishError) and exc.status not in TRANSIENT_STATUS:
                raise
            if time.monotonic() > deadline:
                raise StepFailed(f"{what}: the iDRAC did not answer for {READ_BACK_BUDGET:.0f} s: {exc}") from None
            await sleep(ctx, min(30.0, poll(ctx) * 2))


# --- storing what was read -----------------------------------------------------------------------------------


def store_bios(engine: Any, server_id: uuid.UUID, job_id: uuid.UUID, reading: bios_api.BiosReading,
               pending: dict[str, Any], registry: dict[str, dict[str, Any]] | None, registry_version: str | None,
               ) -> dict[str, Any]:
    """A snapshot (and the registry when read), then the server's drift against its baseline."""
    with session_scope(engine) as s:
        server = s.get(Server, server_id)
        if server is None:
            return {}
        if registry:
            row = s.exec(select(BiosRegistry).where(BiosRegistry.server_id == server_id)).first()
            row = row or BiosRegistry(server_id=server_id)
            row.entries, row.registry_version = registry, registry_version or reading.registry_name
            row.bios_version, row.captured_at = server.bios_version, utcnow()
            s.add(row)
        snap = BiosConfiguration(server_id=server_id, snapshot_type="current", bios_version=server.bios_version,
                                 attributes=reading.attributes, pending_attributes=pending or None, job_id=job_id)
        s.add(snap)
        s.flush()
        counts = recompute_drift(s, [server_id])
        return {"snapshot_id": str(snap.id), "attributes": len(reading.attributes), "pending": len(pending),
                "drift": counts.get(server_id, 0)}


async def read_and_store(ctx: StepContext, with_registry: bool) -> dict[str, Any]:
    c = client(ctx)
    reading = await _patiently(ctx, "BIOS read", lambda: bios_api.read_bios(c))
    pending = await _patiently(ctx, "pending BIOS settings",
                               lambda: bios_api.pending_attributes(c, reading.settings_uri))
    registry, version = (await bios_api.read_registry(c)) if with_registry else (None, None)
    return dict(await ctx.job.db(store_bios, ctx.job.engine, ctx.server.id, ctx.job.job.id, reading, pending,
                                 registry, version))


# --- bios_config_read ----------------------------------------------------------------------------------------


async def read_step(ctx: StepContext) -> None:
    stored = await read_and_store(ctx, with_registry=True)
    ctx.details.update(stored)
    ctx.note(f"{stored.get('attributes', 0)} attributes read, {stored.get('pending', 0)} pending, "
             f"drift {stored.get('drift', 0)}")


BIOS_READ = Workflow("bios_config_read", (Step("read", read_step),))


# --- bios_config_write ---------------------------------------------------------------------------------------


async def stage_done(ctx: StepContext) -> str | None:
    if ctx.details.get("job_id"):
        return None
    wanted = _bios_details(ctx).attributes
    reading = await bios_api.read_bios(client(ctx))
    if all(str(reading.attributes.get(k)) == str(v) for k, v in wanted.items()):
        return "already set: " + ", ".join(f"{k}={v}" for k, v in wanted.items())
    return None


async def stage(ctx: StepContext) -> None:
    """Stage the attributes and get the Dell job that applies them. An existing pending BIOS job, or pending
    values DSM did not stage, are reported, never clobbered."""
    d, c = _bios_details(ctx), client(ctx)
    if not ctx.details.get("job_id") and ctx.details.get("sending"):
        adopted = await adopt(ctx, ctx.details.get("queue_before", []), ("bios",))
        if adopted:
            ctx.details["job_id"] = adopted
            ctx.note(f"found the BIOS job {adopted} a dead worker had created; following it")
            await ctx.save()
            return
    if ctx.details.get("job_id"):
        return
    pending_jobs = await bios_api.pending_bios_jobs(c)
    if pending_jobs:
        raise StepFailed(f"the iDRAC already has a pending BIOS job ({', '.join(pending_jobs[:3])}); DSM does not "
                         "clobber it: let it apply at the next reboot, or delete it from the iDRAC's job queue, "
                         "then retry this job")
    reading = await bios_api.read_bios(c)
    pending = await bios_api.pending_attributes(c, reading.settings_uri)
    if pending:
        raise StepFailed("the iDRAC holds pending BIOS values no job applies yet ("
                         + ", ".join(f"{k}={v}" for k, v in list(pending.items())[:5])
                         + "); DSM does not send over them: clear them on the iDRAC or apply them, then retry")
    ctx.details["before"] = {k: reading.attributes.get(k) for k in d.attributes}
    ctx.details["queue_before"] = await queue_ids(ctx)
    ctx.details["sending"] = True
    await ctx.save()  # the intent first: a worker killed after the PATCH adopts the job instead of sending again
    window = None
    if d.maintenance_start is not None:
        window = {"MaintenanceWindowStartTime": d.maintenance_start.isoformat(),
                  "MaintenanceWindowDurationInSeconds": d.maintenance_seconds}
    try:
        started = await bios_api.write_settings(c, dict(d.attributes), d.apply_time,
                                                settings_uri=reading.settings_uri,
                                                supported=reading.apply_times, window=window)
    except UpdateRefused as exc:
        raise StepFailed(f"the iDRAC refused the BIOS settings: {exc}") from None
    ctx.details.update({"job_id": started.job_id, "task_uri": started.task_uri, "apply_time": d.apply_time})
    ctx.note(f"staged {', '.join(f'{k}={v}' for k, v in d.attributes.items())}; Dell job {started.job_id}")


def _bios_needs_reboot(ctx: StepContext) -> bool:
    d = _bios_details(ctx)
    return d.apply_time == "Immediate" or (d.reboot and d.apply_time == "OnReset")


async def bios_reboot_done(ctx: StepContext) -> str | None:
    if not ctx.earlier.get("stage", {}).get("job_id"):
        return "nothing staged"
    if not _bios_needs_reboot(ctx):
        d = _bios_details(ctx)
        if d.maintenance_start is not None:
            return f"the iDRAC applies it in its maintenance window from {d.maintenance_start.isoformat()}"
        return "staged for the next reboot (apply time OnReset, no reboot asked)"
    return None


async def bios_reboot(ctx: StepContext) -> None:
    await restart_host(ctx, "apply the BIOS settings")


async def bios_apply_done(ctx: StepContext) -> str | None:
    if not ctx.earlier.get("stage", {}).get("job_id"):
        return "nothing staged"
    if not _bios_needs_reboot(ctx):
        return "waits for the next reboot or the maintenance window"
    return None


async def bios_apply(ctx: StepContext) -> None:
    record = ctx.details.setdefault("job", {"job_id": ctx.earlier["stage"]["job_id"],
                                            "task_uri": ctx.earlier["stage"].get("task_uri")})
    job = await follow_job(ctx, record, budget=CONFIG_JOB_BUDGET, what="BIOS configuration")
    raise_if_failed("BIOS configuration", job)
    ctx.note(f"Dell job {job.describe()}")


async def bios_verify(ctx: StepContext) -> None:
    d = _bios_details(ctx)
    stored = await read_and_store(ctx, with_registry=False)
    ctx.details["snapshot"] = stored
    snap = await ctx.job.db(_snapshot_values, ctx.job.engine, stored.get("snapshot_id"))
    current, pending = snap
    if not ctx.earlier.get("stage", {}).get("job_id"):
        ctx.details["outcome"] = "already_set"
        ctx.note("nothing was staged: " + ", ".join(f"{k}={current.get(k)}" for k in d.attributes))
        return
    if not _bios_needs_reboot(ctx):
        staged = {k: pending.get(k) for k in d.attributes}
        ctx.details["outcome"] = "staged"
        ctx.note("not verified: staged for the next reboot; pending now: "
                 + ", ".join(f"{k}={v}" for k, v in staged.items()))
        return
    wrong = {k: current.get(k) for k, v in d.attributes.items() if str(current.get(k)) != str(v)}
    ctx.details["results"] = [{"attribute": k, "wanted": v, "now": current.get(k)} for k, v in d.attributes.items()]
    if wrong:
        ctx.details["outcome"] = "failed"
        raise StepFailed("after the job the BIOS reads " + ", ".join(f"{k}={v}" for k, v in wrong.items())
                         + ", not what was set")
    ctx.details["outcome"] = "applied"
    ctx.note("verified: " + ", ".join(f"{k}={current.get(k)}" for k in d.attributes))


def _snapshot_values(engine: Any, snapshot_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if not snapshot_id:
        return {}, {}
    with session_scope(engine) as s:
        snap = s.get(BiosConfiguration, uuid.UUID(snapshot_id))
        return (dict(snap.attributes), dict(snap.pending_attributes or {})) if snap else ({}, {})


async def bios_cleanup(ctx: StepContext) -> None:
    """Cancelled: a BIOS job this workflow queued and that has not run is deleted, so it does not apply itself
    at the next reboot."""
    jid = ctx.earlier.get("stage", {}).get("job_id")
    if jid:
        await delete_if_scheduled(ctx, jid, "BIOS configuration")


BIOS_WRITE = Workflow(
    "bios_config_write",
    (
        Step("backup", backup, backup_done),
        Step("stage", stage, stage_done),
        Step("reboot", bios_reboot, bios_reboot_done),
        Step("apply", bios_apply, bios_apply_done),
        Step("verify", bios_verify),
    ),
    cleanup=bios_cleanup,
)


# --- boot_configuration --------------------------------------------------------------------------------------


def _boot_state(system: Any, bios_mode: str | None = None) -> dict[str, Any]:
    return {"boot_mode": bios_mode, "override_target": system.boot.override_target,
            "override_enabled": system.boot.override_enabled, "override_mode": system.boot.override_mode,
            "boot_order": list(system.boot.order)}


async def boot_apply(ctx: StepContext) -> None:
    d, c = _boot_details(ctx), client(ctx)
    if ctx.details.get("sent"):
        return
    if ctx.details.get("sending") and (d.boot_order is not None or d.boot_mode is not None):
        # A worker died after sending: the order or mode job it made is in the queue; follow it, never send twice.
        adopted = await adopt(ctx, ctx.details.get("queue_before", []), ("bios",))
        if adopted:
            ctx.details.update({"job_id": adopted, "sent": True})
            ctx.note(f"found the BIOS job {adopted} a dead worker had created; following it")
            await ctx.save()
            return
    system = await boot_api.read_system(c)
    reading = await bios_api.read_bios(c)
    ctx.details["before"] = _boot_state(system, str(reading.attributes.get("BootMode") or "") or None)
    allowed = system.boot.allowed_targets
    if d.target and allowed and d.target not in allowed:
        raise StepFailed(f"{d.target} is not a boot target this iDRAC allows now ({', '.join(allowed)})")
    if d.boot_order is not None and sorted(d.boot_order) != sorted(system.boot.order):
        raise StepFailed("the boot order must list each boot option once; the iDRAC has "
                         + ", ".join(system.boot.order))
    patch_uri = caps(ctx).boot_patch
    ctx.details["queue_before"] = await queue_ids(ctx)
    ctx.details["sending"] = True
    await ctx.save()
    try:
        if d.target is not None or d.mode is not None:
            await boot_api.set_override(c, patch_uri, d.target, d.enabled, d.uefi_target, d.mode)
            ctx.note(f"boot override {d.target or '(unchanged)'} ({d.enabled}"
                     + (f", mode {d.mode}" if d.mode else "") + f") set at {patch_uri}")
        if d.boot_order is not None:
            started = await boot_api.set_order(c, patch_uri, d.boot_order)
            if started:
                ctx.details.update({"job_id": started.job_id, "task_uri": started.task_uri})
            ctx.note("boot order sent: " + ", ".join(d.boot_order)
                     + (f"; Dell job {started.job_id}" if started else ""))
        if d.boot_mode is not None:
            started = await bios_api.write_settings(c, {"BootMode": d.boot_mode}, "OnReset",
                                                    settings_uri=reading.settings_uri, supported=reading.apply_times)
            ctx.details.update({"job_id": started.job_id, "task_uri": started.task_uri})
            ctx.note(f"boot mode {d.boot_mode} staged in the BIOS; Dell job {started.job_id}")
    except UpdateRefused as exc:
        raise StepFailed(f"the iDRAC refused the boot change: {exc}") from None
    ctx.details["sent"] = True


async def boot_reboot_done(ctx: StepContext) -> str | None:
    if not _boot_details(ctx).reboot:
        staged = " (the order/mode job waits for it)" if ctx.earlier.get("apply", {}).get("job_id") else ""
        return "no reboot asked: the change takes effect at the next boot" + staged
    return None


async def boot_reboot(ctx: StepContext) -> None:
    await restart_host(ctx, "boot with the new configuration")


async def boot_settle_done(ctx: StepContext) -> str | None:
    if not ctx.earlier.get("apply", {}).get("job_id"):
        return "no Dell job to follow"
    if not _boot_details(ctx).reboot:
        return "the job waits for the next reboot"
    return None


async def boot_settle(ctx: StepContext) -> None:
    record = ctx.details.setdefault("job", {"job_id": ctx.earlier["apply"]["job_id"],
                                            "task_uri": ctx.earlier["apply"].get("task_uri")})
    job = await follow_job(ctx, record, budget=CONFIG_JOB_BUDGET, what="boot configuration")
    raise_if_failed("boot configuration", job)


def store_boot(engine: Any, server_id: uuid.UUID, job_id: uuid.UUID, user_id: uuid.UUID | None,
               before: dict[str, Any], after: dict[str, Any]) -> None:
    with session_scope(engine) as s:
        server = s.get(Server, server_id)
        if server is None:
            return
        server.boot_source_override_target = after["override_target"]
        server.boot_source_override_enabled = after["override_enabled"]
        server.boot_mode = after["override_mode"]
        server.boot_order = after["boot_order"]
        server.last_boot_config_check = utcnow()
        s.add(server)
        s.add(ServerBootConfigHistory(
            server_id=server_id, boot_mode=after.get("boot_mode"),
            boot_source_override_enabled=after["override_enabled"],
            boot_source_override_target=after["override_target"], boot_order=after["boot_order"], previous=before,
            changed_by=user_id, job_id=job_id))


async def boot_verify(ctx: StepContext) -> None:
    d, c = _boot_details(ctx), client(ctx)
    system = await _patiently(ctx, "boot read-back", lambda: boot_api.read_system(c))
    reading = await _patiently(ctx, "BIOS read-back", lambda: bios_api.read_bios(c))
    after = _boot_state(system, str(reading.attributes.get("BootMode") or "") or None)
    before = ctx.earlier.get("apply", {}).get("before", {})
    await ctx.job.db(store_boot, ctx.job.engine, ctx.server.id, ctx.job.job.id, ctx.job.job.created_by, before,
                     after)
    ctx.details.update({"before": before, "after": after})
    problems = []
    rebooted = d.reboot
    if d.target is not None and not rebooted and after["override_target"] != d.target:
        problems.append(f"the override reads {after['override_target']}, not {d.target}")
    if d.boot_order is not None and rebooted and after["boot_order"] != d.boot_order:
        problems.append("the boot order reads " + ", ".join(after["boot_order"]))
    if d.boot_mode is not None and rebooted and after["boot_mode"] != d.boot_mode:
        problems.append(f"BootMode reads {after['boot_mode']}, not {d.boot_mode}")
    if problems:
        raise StepFailed("; ".join(problems))
    pending = (d.boot_order is not None or d.boot_mode is not None) and not rebooted
    ctx.details["outcome"] = "staged" if pending else "applied"
    ctx.note(("staged for the next reboot; " if pending else "verified; ")
             + f"override {after['override_target']} ({after['override_enabled']}), order "
             + ", ".join(after["boot_order"][:8]))


async def boot_cleanup(ctx: StepContext) -> None:
    jid = ctx.earlier.get("apply", {}).get("job_id")
    if jid:
        await delete_if_scheduled(ctx, jid, "boot configuration")


BOOT = Workflow(
    "boot_configuration",
    (
        Step("backup", backup, backup_done),
        Step("apply", boot_apply),
        Step("reboot", boot_reboot, boot_reboot_done),
        Step("settle", boot_settle, boot_settle_done),
        Step("verify", boot_verify),
    ),
    cleanup=boot_cleanup,
)
