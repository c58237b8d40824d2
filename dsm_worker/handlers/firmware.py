"""Firmware jobs: firmware_catalog_sync (fetch and parse a repository's catalog, recompute compliance) and
firmware_update (the step workflow in dsm_worker.workflows.firmware, one per target server)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO

import httpx
from sqlmodel import select

from dsm_core.db.engine import read_scope, session_scope
from dsm_core.firmware.catalog import MAX_CATALOG_BYTES, Catalog, CatalogError, parse_catalog
from dsm_core.jobtypes import CatalogSyncDetails, FirmwareDetails
from dsm_core.models import FirmwarePackage, FirmwareRepository, JobTask, Server
from dsm_core.package_files import FileRefused, open_package, parse_dirs
from dsm_core.services.firmware import load_packages, recompute_compliance, store_catalog
from dsm_core.timeutil import utcnow
from dsm_worker import store
from dsm_worker.handlers.inventory import for_each_server
from dsm_worker.handlers.steps import capabilities
from dsm_worker.runtime import JobContext, Outcome, TaskFailed, TaskLog
from dsm_worker.workflows.common import backup_setting
from dsm_worker.workflows.engine import run_workflow
from dsm_worker.workflows.firmware import FIRMWARE_UPDATE

log = logging.getLogger("dsm.worker.firmware")
FETCH_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


# --- firmware_catalog_sync -----------------------------------------------------------------------------------


def _repository(engine: Any, name: str) -> FirmwareRepository:
    with read_scope(engine) as s:
        repo = s.exec(select(FirmwareRepository).where(FirmwareRepository.name == name)).first()
    if repo is None:
        raise TaskFailed(f"firmware repository {name!r} was removed since the job was created")
    return repo


async def _download(ctx: JobContext, repo: FirmwareRepository, out: IO[bytes]) -> str:
    """The catalog from an HTTP(S) share into ``out``, capped; redirects are not followed (air gap: a share
    that points elsewhere is misconfigured, and the worker does not go looking)."""
    url = f"{(repo.url or '').rstrip('/')}/{repo.catalog_file}"
    auth = None
    if repo.share_username and repo.share_password_sealed:
        auth = httpx.BasicAuth(repo.share_username, ctx.unseal(repo.share_password_sealed).reveal())
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, trust_env=False, follow_redirects=False,
                                 verify=repo.verify_tls) as http:
        try:
            async with http.stream("GET", url, auth=auth, headers={"Accept-Encoding": "identity"}) as response:
                if response.status_code != 200:
                    raise TaskFailed(f"GET {url}: HTTP {response.status_code}; check the repository URL and "
                                     "catalog file name (`dsm firmware repo list`)")
                total = 0
                async for chunk in response.aiter_raw():
                    total += len(chunk)
                    if total > MAX_CATALOG_BYTES:
                        raise TaskFailed(f"{url} is larger than {MAX_CATALOG_BYTES // 2**20} MiB; refused")
                    out.write(chunk)
        except httpx.HTTPError as exc:
            raise TaskFailed(f"GET {url}: {type(exc).__name__}: {exc}") from None
    return url


def _parse_handle(handle: BinaryIO) -> Catalog:
    with handle:
        return parse_catalog(handle)


async def _open_mounted(ctx: JobContext, path: str) -> BinaryIO:
    """A mounted share's catalog, by the worker's file rule (dsm_core/package_files.py): the share must be
    mounted inside activity.package_dirs, and no symlink below it is followed."""
    activity, _ = await ctx.db(store.worker_settings, ctx.engine)
    key = ctx.worker.options.key_file
    try:
        return await asyncio.to_thread(open_package, path, parse_dirs(activity.package_dirs or ""),
                                       max_bytes=MAX_CATALOG_BYTES, forbidden=[key] if key else [])
    except FileRefused as exc:
        raise TaskFailed(f"the catalog is refused by the worker's file rule: {exc}; mount the share inside "
                         "a configured package directory or fix --mounted-at") from None


def _save_catalog(engine: Any, repo_id: Any, catalog: Catalog) -> tuple[int, int]:
    with session_scope(engine) as s:
        count = store_catalog(s, repo_id, catalog)
        s.flush()
        servers = recompute_compliance(s, repository_ids=[repo_id])
    return count, servers


def _mark_failed(engine: Any, repo_id: Any, error: str) -> None:
    with session_scope(engine) as s:
        repo = s.get(FirmwareRepository, repo_id)
        if repo is not None:
            repo.last_status, repo.last_error, repo.last_checked_at = "failed", error[:2000], utcnow()
            s.add(repo)


async def catalog_sync(ctx: JobContext) -> Outcome:
    details = ctx.details(CatalogSyncDetails)
    repo = await ctx.db(_repository, ctx.engine, details.repository)

    async def work(task: JobTask, log_: TaskLog) -> None:
        try:
            with tempfile.NamedTemporaryFile(prefix="dsm-catalog-", suffix=".xml") as tmp:
                if repo.share_type in ("http", "https"):
                    source = await _download(ctx, repo, tmp)
                    tmp.flush()
                    path: str | None = tmp.name
                else:
                    source = f"{(repo.local_path or '/nonexistent').rstrip('/')}/{repo.catalog_file}"
                    path = None
                log_.add(f"catalog from {source}")
                try:
                    handle = open(path, "rb") if path else await _open_mounted(ctx, source)  # noqa: SIM115
                    catalog = await asyncio.to_thread(_parse_handle, handle)
                except CatalogError as exc:
                    raise TaskFailed(f"{source}: {exc}") from None
            count, servers = await ctx.db(_save_catalog, ctx.engine, repo.id, catalog)
        except TaskFailed as exc:
            await ctx.db(_mark_failed, ctx.engine, repo.id, str(exc))
            raise
        log_.add(f"catalog {catalog.version or '?'} ({catalog.release_id or 'no release id'}): {count} packages; "
                 f"compliance recomputed for {servers} server(s)")
        ctx.result["repository"] = {"name": repo.name, "catalog_version": catalog.version, "packages": count,
                                    "servers": servers}

    return await ctx.run_targets([(None, f"repository {repo.name}")], work, 1, 1800.0)


# --- firmware_update -----------------------------------------------------------------------------------------


def _packages_by_file(engine: Any) -> dict[str, dict[str, Any]]:
    """Every synced package by file name: a DUP pushed or pulled by URI is identified by its name."""
    out: dict[str, dict[str, Any]] = {}
    with read_scope(engine) as s:
        rows = s.exec(select(FirmwarePackage)).all()
        rows_ = [(r.path, r.name, r.vendor_version, r.reboot_required, r.devices) for r in rows]
    for path, name, version, reboot, devices in rows_:
        cids = [d.get("component_id") for d in devices or [] if isinstance(d, dict) and d.get("component_id")
                not in (None, "", "0")]
        if len(set(cids)) == 1:  # one component: the package's target is unambiguous
            out[path.replace("\\", "/").rsplit("/", 1)[-1].lower()] = {
                "name": name, "version": version, "reboot_required": reboot, "component_id": cids[0]}
    return out


def _repository_facts(engine: Any, name: str) -> tuple[dict[str, Any], list[Any], str | None]:
    with read_scope(engine) as s:
        repo = s.exec(select(FirmwareRepository).where(FirmwareRepository.name == name)).first()
        if repo is None:
            raise TaskFailed(f"firmware repository {name!r} was removed since the job was created")
        packages = load_packages(s, repo.id) if repo.package_count is not None else []
        facts = {"name": repo.name, "url": repo.url or "", "scheme": repo.share_type,
                 "catalog_file": repo.catalog_file, "username": repo.share_username, "synced": repo.package_count}
        return facts, packages, repo.share_password_sealed


async def firmware_shared(ctx: JobContext, details: FirmwareDetails) -> tuple[dict[str, Any], float]:
    """What the firmware steps share for one job (source, packages, backup setting) and the time budget of one
    server; the rolling cluster update runs the same steps with the same base."""
    shared_base: dict[str, Any] = {
        "details": details, "poll": ctx.worker.options.dell_job_poll_seconds,
        "settle": ctx.worker.options.scheduled_settle_seconds,
        "packages_by_file": await ctx.db(_packages_by_file, ctx.engine),
    }
    if details.repository:
        facts, packages, sealed = await ctx.db(_repository_facts, ctx.engine, details.repository)
        if details.components and facts["synced"] is None:
            raise TaskFailed(f"repository {details.repository!r} has no synced catalog; run "
                             f"`dsm firmware repo sync {details.repository} --wait` first")
        shared_base.update({"repository": facts, "repository_packages": packages,
                            "share_password": ctx.unseal(sealed).reveal() if sealed else None})
    budget = details.job_timeout_seconds * 4.0 + 600.0
    if details.reboot_at is not None:
        budget += max(0.0, (details.reboot_at - datetime.now(UTC)).total_seconds())

    backup_on, scp_budget = await ctx.db(backup_setting, ctx.engine)
    shared_base.update({"backup_before_change": backup_on, "scp_budget": scp_budget, "backup_targets": ["ALL"],
                        "label": "firmware_update",
                        "backup_skip_reason": "a comparison changes nothing" if details.compare_only else None})
    return shared_base, budget


async def firmware_update(ctx: JobContext) -> Outcome:
    details = ctx.details(FirmwareDetails)
    shared_base, budget = await firmware_shared(ctx, details)

    async def work(server: Server, task: JobTask, log_: TaskLog) -> None:
        async with ctx.idrac(server, task.id) as client:
            shared = {**shared_base, "client": client, "caps": await capabilities(client, server)}
            steps = await run_workflow(FIRMWARE_UPDATE, ctx, task, server, log_, shared)
        verify = steps.get("verify", {})
        ctx.result[f"{server.ip_address}:{server.port}"] = {
            "outcome": verify.get("outcome"),
            "component_order": steps.get("plan", {}).get("component_order", []),
            "results": verify.get("results", []),
            "would_update": steps.get("install", {}).get("would_update"),
            "backup_id": steps.get("backup", {}).get("backup_id"),
        }
        log_.add(f"outcome: {verify.get('outcome')}")

    return await for_each_server(ctx, work, concurrency=4, timeout=budget)
