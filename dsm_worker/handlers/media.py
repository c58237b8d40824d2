"""Virtual media jobs: virtual_media_mount and virtual_media_unmount (workflows in dsm_worker.workflows.media).
Share credentials come from ``virtual_media_settings`` (sealed; unsealed only here, in the worker)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from dsm_core.db.engine import read_scope
from dsm_core.jobtypes import MediaMountDetails, MediaUnmountDetails
from dsm_core.models import VirtualMediaSettings
from dsm_core.urls import url_host
from dsm_worker.handlers.steps import run_per_server
from dsm_worker.runtime import JobContext, Outcome
from dsm_worker.workflows.media import MOUNT, UNMOUNT

BUDGET = 3600.0


def _share_credentials(engine: Any) -> tuple[str | None, str | None, str | None]:
    with read_scope(engine) as s:
        row = s.exec(select(VirtualMediaSettings)).first()
    if row is None or not row.use_auth or not row.username:
        return None, None, None
    return row.username, row.password_sealed, (row.host or "").strip().lower() or None


async def virtual_media_mount(ctx: JobContext) -> Outcome:
    details = ctx.details(MediaMountDetails)
    username, sealed, host = await ctx.db(_share_credentials, ctx.engine)
    if username and url_host(details.image_url) != host:
        # The share's credentials belong to the share: an image elsewhere is mounted without them.
        username = sealed = None
    shared: dict[str, Any] = {"details": details, "share_username": username, "share_password_sealed": sealed,
                              "share_password": ctx.unseal(sealed) if sealed else None}

    def summary(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {"outcome": steps.get("record", {}).get("outcome"), "share": steps.get("test_share", {}).get("share"),
                "slot": steps.get("record", {}).get("slot"), "retried": steps.get("insert", {}).get("retried")}

    return await run_per_server(ctx, MOUNT, shared, summary, budget=BUDGET)


async def virtual_media_unmount(ctx: JobContext) -> Outcome:
    details = ctx.details(MediaUnmountDetails)

    def summary(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
        ejected = steps.get("eject", {}).get("ejected", [])
        return {"outcome": "ejected" if ejected else "nothing_mounted", "ejected": ejected}

    return await run_per_server(ctx, UNMOUNT, {"details": details}, summary, budget=BUDGET)
