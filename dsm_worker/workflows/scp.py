"""SCP workflows: export to the worker (stored as a backup with size and SHA-256), and import or preview from a
stored backup, followed under a long budget (``activity.scp_job_timeout_minutes``: an import can sit at 99%
for a long time, and the budget, not patience, ends it), its per-attribute results parsed and every failed
attribute named; CompletedWithErrors is never a success. After an import the BIOS is read back."""

from __future__ import annotations

import uuid
from typing import Any

from dsm_core.db.engine import session_scope
from dsm_core.jobtypes import ScpExportDetails, ScpImportDetails
from dsm_core.models import ScpBackup
from dsm_core.netaddr import format_endpoint
from dsm_core.redfish import scp as scp_api
from dsm_core.redfish.client import RedfishError
from dsm_core.redfish.jobs import job_paths
from dsm_core.redfish.update import UpdateRefused
from dsm_core.timeutil import utcnow
from dsm_worker.workflows.common import (
    adopt,
    caps,
    client,
    export_profile,
    follow_job,
    queue_ids,
    refuse_invalid,
    store_backup,
)
from dsm_worker.workflows.configuration import read_and_store
from dsm_worker.workflows.engine import Step, StepContext, StepFailed, Workflow

FAILURE_IDS = ("SYS045", "SYS046")  # "completed" with these is a failure (Ansible PR #566)


async def export_step(ctx: StepContext) -> None:
    d: ScpExportDetails = ctx.shared["details"]
    targets: list[str] = list(d.targets)
    data = await export_profile(ctx, targets, d.export_format, d.export_use)
    stored = await ctx.job.db(store_backup, ctx.job.engine, ctx.server.id, ctx.job.job.id, ctx.job.job.created_by,
                              d.backup_name, None, data, targets)
    ctx.details.update(stored)
    refuse_invalid(stored)
    ctx.note(f"backup {stored['backup_id'][-8:]}: {stored['size']} bytes, sha256 {stored['sha256'][:16]}…, "
             f"{stored['attributes']} attributes")


SCP_EXPORT = Workflow("scp_export", (Step("export", export_step),))


async def _task_results(ctx: StepContext, record: dict[str, Any]) -> list[scp_api.AttributeResult]:
    for path in [p for p in job_paths(record["job_id"], record.get("task_uri")) if "/Jobs/" not in p]:
        try:
            return scp_api.attribute_results(await client(ctx).get(path))
        except RedfishError as exc:
            if exc.status not in (400, 404, 405):
                raise
    return []


def _mark_imported(engine: Any, backup_id: str, job_id: uuid.UUID) -> None:
    with session_scope(engine) as s:
        backup = s.get(ScpBackup, uuid.UUID(backup_id))
        if backup is not None:
            backup.last_imported_at, backup.import_job_id = utcnow(), job_id
            s.add(backup)


async def import_step(ctx: StepContext) -> None:
    d: ScpImportDetails = ctx.shared["details"]
    what = "SCP preview" if d.preview else "SCP import"
    record: dict[str, Any] = ctx.details.setdefault("job", {})
    if not record.get("job_id") and record.get("sending"):
        adopted = await adopt(ctx, record.get("queue_before", []), ("import",))
        if adopted:
            record["job_id"] = adopted
            ctx.note(f"found the {what} {adopted} a dead worker had started; following it")
    if not record.get("job_id"):
        record["queue_before"] = await queue_ids(ctx)
        record["sending"] = True
        await ctx.save()
        c = caps(ctx)
        try:
            started = await scp_api.import_profile(
                client(ctx), c.scp_import, ctx.shared["profile_text"], list(d.targets), d.shutdown_type,
                d.host_power_state, preview=d.preview, preview_action=c.scp_preview)
        except UpdateRefused as exc:
            raise StepFailed(f"the iDRAC refused the {what}: {exc}") from None
        record.update({"job_id": started.job_id, "task_uri": started.task_uri})
        ctx.note(f"{what} of backup {d.backup_id[-8:]} sent; Dell job {started.job_id}")
        await ctx.save()
    job = await follow_job(ctx, record, budget=float(ctx.shared.get("scp_budget", 3600.0)), what=what)
    results = await _task_results(ctx, record)
    failed = [r for r in results if r.failed]
    ctx.details["results"] = [r.as_dict() for r in results]
    ctx.details["failed"] = [r.attribute for r in failed]
    endpoint = format_endpoint(ctx.server.ip_address, ctx.server.port)
    ctx.job.result[endpoint] = {"job_state": job.state, "outcome": job.outcome, "message": job.message,
                                "results": ctx.details["results"], "failed": ctx.details["failed"]}
    if not d.preview and job.outcome in ("completed", "completed_with_errors"):
        await ctx.job.db(_mark_imported, ctx.job.engine, d.backup_id, ctx.job.job.id)
    named = "; ".join(f"{r.component + ':' if r.component else ''}{r.attribute} "
                      f"({r.old} → {r.new}): {r.message or r.status}" for r in failed[:20])
    if job.outcome == "completed_with_errors":
        raise StepFailed(f"{what}: CompletedWithErrors, not a success: {job.describe()}"
                         + (f"; failed: {named}" if named else ""))
    if job.outcome != "completed" or any(i in (job.message_id or "") for i in FAILURE_IDS):
        raise StepFailed(f"{what}: Dell job {job.describe()}" + (f"; failed: {named}" if named else ""))
    if failed:
        raise StepFailed(f"{what}: the job says Completed but attributes failed: {named}")
    applied = [r for r in results if not r.failed]
    ctx.note(f"{what}: {job.describe()}; {len(applied)} attribute(s) applied")


async def verify_done(ctx: StepContext) -> str | None:
    d: ScpImportDetails = ctx.shared["details"]
    if d.preview:
        return "a preview changes nothing"
    if not {"ALL", "BIOS"} & set(d.targets):
        return "the import did not target the BIOS"
    return None


async def verify_step(ctx: StepContext) -> None:
    stored = await read_and_store(ctx, with_registry=False)
    ctx.details.update(stored)
    ctx.note(f"BIOS read back after the import: {stored.get('attributes', 0)} attributes, drift "
             f"{stored.get('drift', 0)}")


SCP_IMPORT = Workflow("scp_import", (Step("import", import_step), Step("verify", verify_step, verify_done)))
