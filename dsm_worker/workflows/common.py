"""What configuration workflows share with the firmware workflow: following a Dell job from a recorded id,
restarting the host once (intent recorded before the POST, evidence looked for on resume), and the SCP
export that every change takes first so that it has an undo.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import select

from dsm_core.db.engine import read_scope, session_scope
from dsm_core.models import ActivitySettings, ScpBackup
from dsm_core.redfish import dell
from dsm_core.redfish import scp as scp_api
from dsm_core.redfish.client import IdracClient, OutcomeUnknown, RedfishError
from dsm_core.redfish.jobs import MANAGER, DellJob, follow, list_jobs, read_job
from dsm_core.redfish.update import UpdateRefused
from dsm_core.timeutil import utcnow
from dsm_worker.runtime import JobCancelled
from dsm_worker.workflows.engine import StepContext, StepFailed

RESET_EVIDENCE = 60.0
"""At least this long (five times the settle time, 300 s by default) a resumed restart looks for signs that
the reset a dead worker sent was carried out before it sends it again."""
SCP_TARGET_FLAGS = {"BIOS": "include_bios", "IDRAC": "include_idrac", "NIC": "include_nic", "RAID": "include_raid"}


def client(ctx: StepContext) -> IdracClient:
    found: IdracClient = ctx.shared["client"]
    return found


def poll(ctx: StepContext) -> float:
    return float(ctx.shared.get("poll", 5.0))


def caps(ctx: StepContext) -> dell.Capabilities:
    found: dell.Capabilities = ctx.shared["caps"]
    return found


async def sleep(ctx: StepContext, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if ctx.job.cancel.is_set():
            raise JobCancelled()
        await asyncio.sleep(min(1.0, max(0.0, end - time.monotonic())))


async def follow_job(ctx: StepContext, record: dict[str, Any], *, budget: float, what: str,
                     stop_when_scheduled: Callable[[DellJob, float], bool] | None = None) -> DellJob:
    """Follow ``record["job_id"]`` to its end (or until it is staged for a reboot), saving each change."""

    async def changed(job: DellJob) -> None:
        record["dell_job"] = job.as_dict()
        ctx.log.add(f"{ctx.step}: {what}: {job.describe()}")
        await ctx.save()

    async def outage(text: str) -> None:
        record["outages"] = int(record.get("outages", 0)) + 1
        if record["outages"] in (1, 10, 50):
            ctx.note(f"{what}: the iDRAC is not answering ({text[:200]}); waiting for it")
            await ctx.save()

    job = await follow(client(ctx), record["job_id"], budget=budget, poll=poll(ctx),
                       task_uri=record.get("task_uri"), stop_when_scheduled=stop_when_scheduled,
                       on_change=changed, on_outage=outage, cancelled=None)
    record["outcome"], record["dell_job"] = job.outcome, job.as_dict()
    await ctx.save()
    return job


def raise_if_failed(what: str, job: DellJob) -> None:
    """Failed and CompletedWithErrors stop the workflow, each named as the iDRAC said (never a success)."""
    if job.outcome in ("failed", "reboot_failed"):
        raise StepFailed(f"{what}: Dell job {job.describe()}")
    if job.outcome == "completed_with_errors":
        raise StepFailed(f"{what}: the Dell job completed with errors, not successfully: {job.describe()}")
    if job.state == "Missing":
        raise StepFailed(f"{what}: the iDRAC no longer knows job {job.job_id} ({job.message})")


async def adopt(ctx: StepContext, before: list[str], kinds: tuple[str, ...]) -> str | None:
    """After a worker died between sending and hearing back: a job of ``kinds`` that was not queued before."""
    for job in await list_jobs(client(ctx)):
        if job.job_id in set(before):
            continue
        text = f"{job.job_type or ''} {job.name or ''}".lower()
        if any(k in text for k in kinds):
            return job.job_id
    return None


async def delete_if_scheduled(ctx: StepContext, job_id: str, what: str) -> None:
    """Clean-up after a cancel: a Dell job this workflow queued that has not started is deleted, so it does
    not apply itself at the next reboot."""
    job = await read_job(client(ctx), job_id)
    if job.outcome != "scheduled":
        return
    try:
        await client(ctx).post(f"{MANAGER}/Oem/Dell/DellJobService/Actions/DellJobService.DeleteJobQueue",
                               {"JobID": job_id})
        ctx.log.add(f"cleanup: deleted the scheduled job {job_id} ({what})")
    except RedfishError as exc:
        ctx.log.add(f"cleanup: could not delete {job_id}: {exc.message}")


async def queue_ids(ctx: StepContext) -> list[str]:
    return [j.job_id for j in await list_jobs(client(ctx))][:2000]


# --- restarting the host -------------------------------------------------------------------------------------


async def restart_host(ctx: StepContext, why: str) -> None:
    """Restart (or power on) the host exactly once. The intent is stored before the POST; a resumed step
    takes the reset as done when the host shows it (LastResetTime, power, boot progress) and sends it again,
    once, only without any sign in RESET_EVIDENCE seconds."""
    c = client(ctx)
    if "reset" in ctx.details:
        mark = dell.PowerMark.from_dict(ctx.details["reset"].get("before", {}))
        patience = max(RESET_EVIDENCE, float(ctx.shared.get("settle", 60.0)) * 5)
        evidence = await dell.wait_restarted(c, mark, patience, poll(ctx))
        if evidence is not None or ctx.details["reset"].get("resent"):
            ctx.note(f"the reset sent before this worker took over happened ({evidence or 'assumed'}); "
                     "not sending it again")
            return
        ctx.details["reset"]["resent"] = True
        ctx.note(f"no sign of the earlier {ctx.details['reset']['type']} in {patience:.0f} s; sending it once more")
        await ctx.save()
        await _send_reset(ctx, ctx.details["reset"]["type"])
        return
    before = await dell.power_mark(c)
    reset_type = "GracefulRestart" if before.power_state == "On" else "On"
    ctx.details["reset"] = {"type": reset_type, "before": before.as_dict(), "at": utcnow().isoformat()}
    await ctx.save()  # the intent first: a worker killed right after the POST must not reset the host twice
    await _send_reset(ctx, reset_type)
    ctx.note(f"{reset_type} sent to {why}")


async def _send_reset(ctx: StepContext, reset_type: str) -> None:
    try:
        await dell.reset(client(ctx), reset_type)
    except OutcomeUnknown:
        ctx.note(f"{reset_type}: no answer; the host may be restarting (not sent again)")
    except RedfishError as exc:
        if exc.status is not None and (exc.status < 500 or exc.status == 503):
            del ctx.details["reset"]  # refused: it was not carried out
            await ctx.save()
        raise StepFailed(f"{reset_type} was refused: {exc.message}") from None


# --- SCP export (a backup, or the scp_export job itself) ----------------------------------------------------


async def export_profile(ctx: StepContext, targets: Sequence[str], fmt: scp_api.Format,
                         export_use: str = "Default") -> bytes:
    """Export to the worker: the Dell job recorded the moment it is named, followed, then the profile read back
    from the task monitor. Resumed, it follows the recorded job (or adopts one the dead worker started)."""
    budget = float(ctx.shared.get("scp_budget", 3600.0))
    record: dict[str, Any] = ctx.details.setdefault("export", {})
    if not record.get("job_id") and record.get("sending"):
        adopted = await adopt(ctx, record.get("queue_before", []), ("export",))
        if adopted:
            record["job_id"] = adopted
            ctx.note(f"found the export {adopted} a dead worker had started; following it")
    if not record.get("job_id"):
        record["queue_before"] = await queue_ids(ctx)
        record["sending"] = True
        await ctx.save()
        try:
            started = await scp_api.export(client(ctx), caps(ctx).scp_export, list(targets), fmt,
                                           export_use)
        except UpdateRefused as exc:
            raise StepFailed(f"the iDRAC refused the SCP export: {exc}") from None
        # The task monitor answers with the profile itself once done (not JSON): the job is followed in the
        # Dell job queue, and the monitor read only for the profile.
        record.update({"job_id": started.job_id, "monitor": started.task_uri})
        await ctx.save()
    job = await follow_job(ctx, record, budget=budget, what="SCP export")
    raise_if_failed("SCP export", job)
    try:
        return await scp_api.fetch_export(client(ctx), record["job_id"], record.get("monitor"))
    except scp_api.ProfileError as exc:
        raise StepFailed(str(exc)) from None


def store_backup(engine: Any, server_id: uuid.UUID, job_id: uuid.UUID, created_by: uuid.UUID | None, name: str,
                 description: str | None, data: bytes, targets: list[str]) -> dict[str, Any]:
    """The exported bytes as a backup row: size and SHA-256 of exactly those bytes; the profile parsed, and a
    profile DSM cannot read is kept but marked invalid with the reason."""
    text = data.decode("utf-8-sig", errors="replace")
    valid, errors, summary = True, None, None
    try:
        profile = scp_api.parse_profile(data)
        summary, fmt = profile.summary(), profile.format
    except scp_api.ProfileError as exc:
        valid, errors, fmt = False, str(exc), "JSON" if text.lstrip().startswith("{") else "XML"
    everything = "ALL" in targets
    flags = {flag: everything or key in targets for key, flag in SCP_TARGET_FLAGS.items()}
    with session_scope(engine) as s:
        backup = ScpBackup(server_id=server_id, backup_name=name[:200], description=description,
                           scp_content=summary, profile_text=text, scp_file_size_bytes=len(data),
                           checksum=hashlib.sha256(data).hexdigest(), export_format=fmt, is_valid=valid,
                           validation_errors=errors, exported_at=utcnow(), export_job_id=job_id,
                           created_by=created_by, include_bios=flags["include_bios"],
                           include_idrac=flags["include_idrac"], include_nic=flags["include_nic"],
                           include_raid=flags["include_raid"])
        s.add(backup)
        s.flush()
        return {"backup_id": str(backup.id), "size": len(data), "sha256": backup.checksum, "valid": valid,
                "error": errors,
                "attributes": sum((summary or {}).get("components", {}).values()) if summary else 0}


def refuse_invalid(stored: dict[str, Any]) -> None:
    """A profile DSM cannot read is kept (for whoever investigates) but is no backup: the step fails."""
    if not stored["valid"]:
        raise StepFailed(f"the iDRAC's profile is not one DSM can read ({stored['error']}); kept as backup "
                         f"{stored['backup_id'][-8:]}, marked invalid")


def backup_setting(engine: Any) -> tuple[bool, float]:
    with read_scope(engine) as s:
        row = s.exec(select(ActivitySettings)).first()
    if row is None:
        return True, 3600.0
    return row.scp_backup_before_change, float(row.scp_job_timeout_minutes) * 60.0


async def backup_done(ctx: StepContext) -> str | None:
    if not ctx.shared.get("backup_before_change", True):
        return "off (activity.scp_backup_before_change is false)"
    reason = ctx.shared.get("backup_skip_reason")
    if reason:
        return str(reason)
    if ctx.details.get("backup_id"):
        return f"taken: backup {ctx.details['backup_id']}"
    return None


async def backup(ctx: StepContext) -> None:
    """An SCP export before the change, stored and linked to this job (``export_job_id``): its undo."""
    targets = list(ctx.shared.get("backup_targets", ["ALL"]))
    data = await export_profile(ctx, targets, "XML")
    label = ctx.shared.get("label", ctx.workflow)
    stored = await ctx.job.db(
        store_backup, ctx.job.engine, ctx.server.id, ctx.job.job.id, ctx.job.job.created_by,
        f"before {label} {str(ctx.job.job.id)[-8:]}", f"taken by DSM before job {ctx.job.job.id} ({label})",
        data, targets)
    ctx.details.update(stored)
    refuse_invalid(stored)
    ctx.note(f"SCP backup {stored['backup_id'][-8:]} ({', '.join(targets)}, {stored['size']} bytes, "
             f"sha256 {stored['sha256'][:12]}…) taken before the change")
