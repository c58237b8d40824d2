"""BIOS and boot jobs: bios_config_read, bios_config_write, boot_configuration (workflows in
dsm_worker.workflows.configuration)."""

from __future__ import annotations

from typing import Any

from dsm_core.jobtypes import BiosWriteDetails, BootDetails
from dsm_worker.handlers.steps import run_per_server
from dsm_worker.runtime import JobContext, Outcome
from dsm_worker.workflows.configuration import BIOS_READ, BIOS_WRITE, BOOT

BUDGET = 3 * 3600.0


def _backup_of(steps: dict[str, dict[str, Any]]) -> str | None:
    found = steps.get("backup", {}).get("backup_id")
    return str(found) if found else None


async def bios_config_read(ctx: JobContext) -> Outcome:
    def summary(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
        read = steps.get("read", {})
        return {"attributes": read.get("attributes"), "pending": read.get("pending"), "drift": read.get("drift"),
                "snapshot_id": read.get("snapshot_id")}

    return await run_per_server(ctx, BIOS_READ, {}, summary, budget=1800.0, concurrency=8)


async def bios_config_write(ctx: JobContext) -> Outcome:
    details = ctx.details(BiosWriteDetails)

    def summary(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
        verify = steps.get("verify", {})
        return {"outcome": verify.get("outcome"), "dell_job": steps.get("stage", {}).get("job_id"),
                "results": verify.get("results", []), "backup_id": _backup_of(steps)}

    return await run_per_server(ctx, BIOS_WRITE, {"details": details, "backup_targets": ["BIOS"],
                                                  "label": "bios_config_write"}, summary, budget=BUDGET)


async def boot_configuration(ctx: JobContext) -> Outcome:
    details = ctx.details(BootDetails)
    skip = None if details.persistent else "a one-time boot override changes nothing that outlives the next boot"

    def summary(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
        verify = steps.get("verify", {})
        return {"outcome": verify.get("outcome"), "before": verify.get("before"), "after": verify.get("after"),
                "backup_id": _backup_of(steps)}

    return await run_per_server(ctx, BOOT, {"details": details, "backup_targets": ["BIOS"],
                                            "backup_skip_reason": skip, "label": "boot_configuration"},
                                summary, budget=BUDGET)
