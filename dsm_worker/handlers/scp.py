"""SCP jobs: scp_export (to the worker, stored in scp_backups) and scp_import / preview from a stored backup
(workflows in dsm_worker.workflows.scp)."""

from __future__ import annotations

import uuid
from typing import Any

from dsm_core.db.engine import read_scope
from dsm_core.jobtypes import ScpExportDetails, ScpImportDetails
from dsm_core.models import ScpBackup
from dsm_worker.handlers.steps import run_per_server
from dsm_worker.runtime import JobContext, Outcome, TaskFailed
from dsm_worker.workflows.scp import SCP_EXPORT, SCP_IMPORT


async def scp_export(ctx: JobContext) -> Outcome:
    details = ctx.details(ScpExportDetails)

    def summary(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
        export = steps.get("export", {})
        return {"outcome": "exported", **{k: export.get(k) for k in ("backup_id", "size", "sha256", "valid")}}

    return await run_per_server(ctx, SCP_EXPORT, {"details": details}, summary, budget=3600.0)


def _profile(engine: Any, backup_id: str) -> str:
    with read_scope(engine) as s:
        backup = s.get(ScpBackup, uuid.UUID(backup_id))
    if backup is None:
        raise TaskFailed(f"SCP backup {backup_id} was removed since the job was created")
    if not backup.profile_text:
        raise TaskFailed(f"SCP backup {backup_id} holds no profile text to import")
    return backup.profile_text


async def scp_import(ctx: JobContext) -> Outcome:
    details = ctx.details(ScpImportDetails)
    text = await ctx.db(_profile, ctx.engine, details.backup_id)

    def summary(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
        done = steps.get("import", {})
        return {"outcome": "previewed" if details.preview else "imported", "failed": done.get("failed", []),
                "results": done.get("results", [])}

    return await run_per_server(ctx, SCP_IMPORT, {"details": details, "profile_text": text}, summary,
                                budget=3600.0)
