"""firmware_update as a workflow, per server: plan, lc_ready, install, reboot, apply, verify.

Every step records what it sent the moment the iDRAC names it (the Dell job id, the task monitor URI, a
reset's "before" mark) so that a worker killed at any point is replaced without sending anything twice:
a resumed ``install`` finds its job ids and polls them; one killed between "sending" and the answer looks
in the iDRAC's job queue for a job that was not there before, instead of sending the update again.
Components go iDRAC/Lifecycle Controller first, then BIOS, then the rest (REDFISH.md §2.11). An update
that "completed" but left the old version installed is a failure; CompletedWithErrors is reported as it is.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import time
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from dsm_core.firmware.catalog import PciIds
from dsm_core.firmware.compliance import CatalogIndex, InstalledComponent, Platform, server_compliance
from dsm_core.firmware.versions import compare_versions
from dsm_core.jobtypes import FirmwareDetails
from dsm_core.package_files import FileRefused, open_package, parse_dirs, read_capped
from dsm_core.redfish import dell
from dsm_core.redfish.client import IdracClient, OutcomeUnknown, RedfishError
from dsm_core.redfish.jobs import TERMINAL, DellJob, list_jobs
from dsm_core.redfish.models import FirmwareItem, dig
from dsm_core.redfish.tls import CertificateChanged
from dsm_core.redfish.update import (
    RepoShare,
    Started,
    UpdateRefused,
    install_from_repository,
    lc_status,
    push_http,
    push_multipart,
    repo_update_list,
    simple_update,
    update_service,
)
from dsm_core.services.firmware import pci_from_raw
from dsm_core.timeutil import utcnow
from dsm_worker import store
from dsm_worker.workflows.common import (
    adopt,
    backup,
    backup_done,
    delete_if_scheduled,
    follow_job,
    poll,
    raise_if_failed,
    restart_host,
    sleep,
)
from dsm_worker.workflows.common import (
    client as step_client,
)
from dsm_worker.workflows.engine import Step, StepContext, StepFailed, Workflow

IDRAC_IDS = {"25227", "28897"}  # iDRAC, Lifecycle Controller
BIOS_IDS = {"159"}
MAX_DUP_BYTES = 2 * 1024**3
LC_READY_BUDGET = 600.0
IDRAC_BACK_BUDGET = 1200.0
TRANSIENT = (RedfishError, OutcomeUnknown)


# --- what the steps share -----------------------------------------------------------------------------------


def _details(ctx: StepContext) -> FirmwareDetails:
    details: FirmwareDetails = ctx.shared["details"]
    return details


def _order(update: dict[str, Any]) -> int:
    """iDRAC and Lifecycle Controller first, then BIOS, then everything else."""
    cid, name = str(update.get("component_id") or ""), str(update.get("name") or "").lower()
    if cid in IDRAC_IDS or "idrac" in name or "lifecycle" in name:
        return 0
    if cid in BIOS_IDS or name.startswith("bios") or " bios" in name:
        return 1
    return 2


def _is_idrac(update: dict[str, Any]) -> bool:
    return _order(update) == 0


async def _installed(client: IdracClient) -> list[FirmwareItem]:
    return [i for i in await dell.read_firmware(client) if (i.status or "").lower() == "installed"]


async def _inventory_patiently(ctx: StepContext, budget: float) -> list[FirmwareItem]:
    """The whole inventory, waiting out an iDRAC that is still restarting (after its own update or a reboot)."""
    deadline = time.monotonic() + budget
    while True:
        try:
            return await dell.read_firmware(step_client(ctx))
        except TRANSIENT as exc:
            if isinstance(exc, RedfishError) and exc.status not in (None, 401, 404, 500, 502, 503, 504):
                raise
            if time.monotonic() > deadline:
                raise StepFailed(f"the iDRAC did not answer for {budget:.0f} s: {exc}") from None
            await sleep(ctx, min(30.0, poll(ctx) * 2))


def _version_of(items: list[FirmwareItem], component_id: str | None) -> str | None:
    for item in items:
        if component_id and item.component_id == component_id and item.version:
            return item.version
    return None


def _package_for(ctx: StepContext, file_name: str) -> dict[str, Any] | None:
    """A synced catalog's package with this file name: what it installs, to which version."""
    found = ctx.shared.get("packages_by_file", {}).get(file_name.lower())
    return dict(found) if found else None


# --- plan ------------------------------------------------------------------------------------------------


async def plan(ctx: StepContext) -> None:
    d, client = _details(ctx), step_client(ctx)
    items = await _installed(client)
    ctx.details["before"] = {i.inventory_id: i.version for i in items[:500]}
    updates: list[dict[str, Any]] = []
    method = d.method
    if d.file:
        path = Path(d.file)
        digest, size = await asyncio.to_thread(_sha256, await _open_package(ctx, d.file))
        updates.append({"name": path.name, "source": {"kind": "file", "path": d.file, "sha256": digest,
                                                      "size": size}})
    elif d.image_uri:
        updates.append({"name": d.image_uri.rsplit("/", 1)[-1], "source": {"kind": "uri", "uri": d.image_uri}})
    elif d.components:
        repo = ctx.shared["repository"]
        index = CatalogIndex(ctx.shared["repository_packages"])
        platform = Platform(ctx.server.system_id, ctx.server.model)
        comps = []
        for i in items:
            if not i.version:
                continue
            raw = dig(i.raw, "Oem", "Dell", "DellSoftwareInventory")
            v, dv, sv, sd = pci_from_raw(raw if isinstance(raw, dict) else {})
            comps.append(InstalledComponent(i.inventory_id, i.name or i.inventory_id, i.version, i.component_id,
                                            i.fqdd, PciIds(v, dv, sv or "", sd or "") if v and dv else None))
        needles = [c.lower() for c in d.components]
        seen: set[str] = set()
        for row in server_compliance(platform, comps, index):
            text = f"{row.component} {row.component_id or ''} {row.fqdd or ''}".lower()
            if not any(n in text for n in needles):
                continue
            if row.state != "upgrade" or not row.package_path or row.package_path in seen:
                if row.state in ("compliant", "downgrade"):
                    ctx.note(f"{row.component} ({row.fqdd}) {row.installed}: {row.state}, nothing to install")
                continue
            seen.add(row.package_path)
            updates.append({
                "name": row.component, "component_id": row.component_id, "from": row.installed,
                "to": row.available, "reboot_required": row.reboot_required,
                "source": {"kind": "uri", "uri": repo["url"].rstrip("/") + "/" + quote(row.package_path.lstrip("/")),
                           "protocol": repo["scheme"].upper()},
            })
        if not updates:
            ctx.note("no component matching " + ", ".join(d.components) + " has an upgrade in the catalog")
    for u in updates:  # identify a file or URI by a synced catalog's package of the same name
        if "to" in u:
            continue
        pkg = _package_for(ctx, u["name"])
        if pkg is not None:
            cid = pkg["component_id"]
            u.update({"package": pkg["name"], "component_id": cid, "to": pkg["version"],
                      "reboot_required": pkg["reboot_required"], "from": _version_of(items, cid)})
            u["name"] = pkg["name"]
        else:
            u.update({"component_id": None, "to": None, "from": None, "reboot_required": None})
            ctx.note(f"{u['name']} is in no synced catalog: verified by an installed version changing")
    updates.sort(key=_order)
    if method in ("push", "simple_update"):
        svc = await update_service(client)
        if method == "push":
            if svc.multipart_uri:
                ctx.details["push"] = {"kind": "multipart", "uri": svc.multipart_uri}
            elif svc.http_push_uri and svc.simple_update:
                ctx.details["push"] = {"kind": "http_push", "uri": svc.http_push_uri, "simple": svc.simple_update}
            else:
                raise StepFailed("this iDRAC offers neither MultipartHttpPushUri nor HttpPushUri with SimpleUpdate")
        if svc.simple_update:
            ctx.details["simple_update"] = svc.simple_update
        elif method == "simple_update":
            raise StepFailed("this iDRAC's UpdateService offers no SimpleUpdate action")
    elif method == "repository_packages":
        svc = await update_service(client)
        if not svc.simple_update:
            raise StepFailed("this iDRAC's UpdateService offers no SimpleUpdate action")
        ctx.details["simple_update"] = svc.simple_update
    ctx.details.update({"method": method, "updates": updates, "component_order": [u["name"] for u in updates],
                        "apply_time": "Immediate" if d.reboot == "now" else "OnReset"})
    if updates:
        ctx.note("order: " + ", ".join(f"{u['name']} {u.get('from') or '?'} → {u.get('to') or '?'}"
                                       for u in updates))


async def _open_package(ctx: StepContext, path: str) -> BinaryIO:
    """The package a job named, opened by the worker's file rule (dsm_core/package_files.py): inside the
    directories an admin configured (read now, not from the cached settings), no symlink followed, a regular
    file with one link, never the worker's key."""
    worker = ctx.job.worker
    activity, _ = await ctx.job.db(store.worker_settings, ctx.job.engine)
    dirs = parse_dirs(activity.package_dirs or "")
    forbidden = [worker.options.key_file] if worker.options.key_file else []
    try:
        return await asyncio.to_thread(open_package, path, dirs, max_bytes=MAX_DUP_BYTES, forbidden=forbidden)
    except FileRefused as exc:
        raise StepFailed(f"the package is refused by the worker's file rule: {exc}") from None


def _sha256(handle: BinaryIO) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
            size += len(block)
            if size > MAX_DUP_BYTES:
                raise StepFailed(f"the package grew past {MAX_DUP_BYTES} bytes while it was read; refused")
    return h.hexdigest(), size


def _repository_mode(ctx: StepContext) -> bool:
    return ctx.earlier["plan"]["method"] in ("install_from_repository", "catalog_compare")


# --- lc_ready ----------------------------------------------------------------------------------------------


async def lc_done(ctx: StepContext) -> str | None:
    if not ctx.earlier["plan"]["updates"] and not _repository_mode(ctx):
        return "nothing to install"
    return None


async def lc_ready(ctx: StepContext) -> None:
    """Dell: check the Lifecycle Controller is Ready before a firmware job (REDFISH.md §2.2)."""
    deadline = time.monotonic() + LC_READY_BUDGET
    while True:
        status = await lc_status(step_client(ctx))
        if status is None:
            ctx.note("this iDRAC does not report Lifecycle Controller readiness; going on")
            return
        if status == "Ready":
            ctx.note("Lifecycle Controller ready")
            return
        ctx.details["last_status"] = status
        if time.monotonic() > deadline:
            raise StepFailed(f"the Lifecycle Controller stayed {status} for {LC_READY_BUDGET:.0f} s; another job "
                             "may be running on it (`dsm servers jobs` lists the iDRAC's queue)")
        await sleep(ctx, poll(ctx) * 2)


# --- install -----------------------------------------------------------------------------------------------


async def install_done(ctx: StepContext) -> str | None:
    plan_ = ctx.earlier["plan"]
    updates = plan_["updates"]
    if _repository_mode(ctx):
        return None
    if not updates:
        return "nothing to install"
    if all(u.get("to") and u.get("component_id") for u in updates):
        items = await _installed(step_client(ctx))
        if all(compare_versions(_version_of(items, u["component_id"]) or "", u["to"]) == 0 for u in updates):
            return "already installed: " + ", ".join(f"{u['name']} {u['to']}" for u in updates)
    return None


async def _send(ctx: StepContext, update: dict[str, Any]) -> tuple[str, str | None]:
    started = await _start_update(ctx, update)
    if started.refused_location:
        ctx.note(f"{update['name']}: the iDRAC named a task monitor off its own origin, not followed: "
                 f"{started.refused_location}; reading job {started.job_id} from its own job queue instead")
    return started.job_id, started.task_uri


async def _start_update(ctx: StepContext, update: dict[str, Any]) -> Started:
    client, plan_ = step_client(ctx), ctx.earlier["plan"]
    apply_time = plan_["apply_time"]
    source = update["source"]
    if source["kind"] == "file":
        try:
            payload = await asyncio.to_thread(read_capped, await _open_package(ctx, source["path"]), MAX_DUP_BYTES)
        except FileRefused as exc:
            raise StepFailed(f"the package is refused by the worker's file rule: {exc}") from None
        if hashlib.sha256(payload).hexdigest() != source["sha256"]:
            raise StepFailed(f"{source['path']} changed since the job planned it; create a new job for it")
        push = plan_["push"]
        name = Path(source["path"]).name
        if push["kind"] == "multipart":
            return await push_multipart(client, push["uri"], name, payload, apply_time)
        return await push_http(client, push["uri"], push["simple"], name, payload, apply_time)
    protocol = source.get("protocol")
    return await simple_update(client, plan_["simple_update"], source["uri"], apply_time,
                               protocol if protocol in ("NFS", "CIFS") else None)


def _stop_when_scheduled(ctx: StepContext, update: dict[str, Any]) -> Any:
    apply_time = ctx.earlier["plan"]["apply_time"]
    settle = float(ctx.shared.get("settle", 60.0))

    def stop(job: DellJob, seconds: float) -> bool:
        # Staged for a reboot: known when we asked for OnReset or the catalog says the package needs one;
        # otherwise when the job has stayed Scheduled past the settle time (an Immediate job starts at once).
        from_repository = (update.get("source") or {}).get("kind") == "repo"  # queued by the iDRAC to wait
        return apply_time == "OnReset" or from_repository or bool(update.get("reboot_required")) or seconds >= settle

    return stop


async def _follow_update(ctx: StepContext, update: dict[str, Any], *, until_terminal: bool) -> DellJob:
    return await follow_job(ctx, update, budget=float(_details(ctx).job_timeout_seconds), what=update["name"],
                            stop_when_scheduled=None if until_terminal else _stop_when_scheduled(ctx, update))


def _raise_if_failed(update: dict[str, Any], job: DellJob) -> None:
    """Failed, RebootFailed and CompletedWithErrors stop the workflow here, each named as the iDRAC said."""
    raise_if_failed(update["name"], job)


async def _idrac_back(ctx: StepContext, update: dict[str, Any]) -> None:
    """After its own update the iDRAC restarts, drops every session and comes back with the new version."""
    target = update.get("to")
    deadline = time.monotonic() + IDRAC_BACK_BUDGET
    ctx.note("the iDRAC restarts to finish its own update; waiting for it to come back")
    await ctx.save()
    while True:
        try:
            manager = await step_client(ctx).get("/redfish/v1/Managers/iDRAC.Embedded.1")
            version = manager.get("FirmwareVersion")
            if not target or (isinstance(version, str) and compare_versions(version, target) == 0):
                ctx.note(f"the iDRAC is back, firmware {version}")
                return
        except (*TRANSIENT, CertificateChanged) as exc:
            if isinstance(exc, CertificateChanged):
                raise StepFailed(f"the iDRAC came back with another certificate: {exc}") from None
        if time.monotonic() > deadline:
            raise StepFailed(f"the iDRAC did not come back with firmware {target} within {IDRAC_BACK_BUDGET:.0f} s")
        await sleep(ctx, poll(ctx))


async def install(ctx: StepContext) -> None:
    if _repository_mode(ctx):
        await _install_repository(ctx)
        return
    updates: list[dict[str, Any]] = ctx.details.setdefault("updates", copy.deepcopy(ctx.earlier["plan"]["updates"]))
    for update in updates:
        if update.get("outcome") in TERMINAL or update.get("outcome") == "scheduled":
            continue
        if not update.get("job_id"):
            if update.get("state") == "sending":
                adopted = await adopt(ctx, update.get("jobs_before", []), ("firmware", "update"))
                if adopted:
                    ctx.note(f"{update['name']}: found job {adopted}, sent before this worker took over; "
                             "following it (not sending the update again)")
                    update["job_id"], update["state"] = adopted, "sent"
                    await ctx.save()
            if not update.get("job_id"):
                update["jobs_before"] = [j.job_id for j in await list_jobs(step_client(ctx))][-500:]
                update["state"], update["sending_at"] = "sending", utcnow().isoformat()
                await ctx.save()
                try:
                    job_id, task_uri = await _send(ctx, update)
                except UpdateRefused as exc:
                    update["state"] = "refused"
                    mid = f" [{exc.message_id.rsplit('.', 1)[-1]}]" if exc.message_id else ""
                    raise StepFailed(f"{update['name']}: the iDRAC refused the update: {exc}{mid}") from None
                except OutcomeUnknown as exc:
                    # No answer: the iDRAC may have started it. Look in its queue now, in this step: a retry
                    # starts the step afresh and must not be what decides whether the update is sent again.
                    adopted = await adopt(ctx, update["jobs_before"], ("firmware", "update"))
                    if adopted is None:
                        update["state"] = "unknown"
                        await ctx.save()
                        raise StepFailed(f"{update['name']}: the iDRAC did not answer the update ({exc.message}) "
                                         "and shows no new job for it; check its job queue before retrying") from None
                    ctx.note(f"{update['name']}: no answer, but the iDRAC queued job {adopted}: following it")
                    job_id, task_uri = adopted, None
                update.update({"job_id": job_id, "task_uri": task_uri, "state": "sent"})
                ctx.note(f"{update['name']}: Dell job {job_id}")
                await ctx.save()
        job = await _follow_update(ctx, update, until_terminal=False)
        _raise_if_failed(update, job)
        if job.outcome == "completed" and _is_idrac(update):
            await _idrac_back(ctx, update)


async def _install_repository(ctx: StepContext) -> None:
    d, client = _details(ctx), step_client(ctx)
    repo = ctx.shared["repository"]
    compare = d.compare_only
    if not ctx.details.get("repository_job"):
        if ctx.details.get("state") == "sending":
            adopted = await adopt(ctx, ctx.details.get("jobs_before", []), ("repository",))
            if adopted:
                ctx.note(f"found repository job {adopted}, sent before this worker took over")
                ctx.details["repository_job"] = {"job_id": adopted, "name": "Repository Update"}
        if not ctx.details.get("repository_job"):
            if ctx.shared.get("share_password"):
                problem = await ctx.job.share_problem(ctx.server)
                if problem is not None:
                    raise StepFailed(f"not sent: {problem}")
            ctx.details["jobs_before"] = [j.job_id for j in await list_jobs(client)][-500:]
            ctx.details["state"] = "sending"
            await ctx.save()
            share = RepoShare(repo["url"], repo["catalog_file"], repo.get("username"), ctx.shared.get("share_password"))
            try:
                started = await install_from_repository(client, share, apply=not compare, reboot=False)
            except UpdateRefused as exc:
                raise StepFailed(f"InstallFromRepository refused: {exc}") from None
            ctx.details["repository_job"] = {"job_id": started.job_id, "task_uri": started.task_uri,
                                             "name": "Repository Update"}
            if started.refused_location:
                ctx.note(f"the iDRAC named a task monitor off its own origin, not followed: {started.refused_location}")
            ctx.details["state"] = "sent"
            ctx.note(f"InstallFromRepository: Dell job {started.job_id} ({'compare only' if compare else 'apply'})")
            await ctx.save()
    repo_job = ctx.details["repository_job"]
    if repo_job.get("outcome") not in TERMINAL:
        job = await _follow_update(ctx, repo_job, until_terminal=True)
        if job.outcome == "already_compliant":
            ctx.note("the iDRAC says the server already matches the catalog (SUP029)")
            ctx.details["updates"], ctx.details["outcome"] = [], "already_compliant"
            await ctx.save()
            return
        _raise_if_failed(repo_job, job)
    if "updates" not in ctx.details:
        listed = await repo_update_list(client)
        if compare:
            ctx.details["would_update"] = [r.as_dict() for r in listed]
            ctx.details["updates"], ctx.details["outcome"] = [], "compared"
            ctx.note(f"compare only: {len(listed)} update(s) applicable" + (
                ": " + ", ".join(f"{r.name} {r.installed} → {r.version}" for r in listed) if listed else ""))
            await ctx.save()
            return
        queue = [j for j in await list_jobs(client) if j.job_id not in set(ctx.details.get("jobs_before", []))
                 and j.job_id != repo_job["job_id"]]
        updates = []
        for r in listed:
            jid = r.job_id if r.job_id and r.job_id.startswith("JID_") else None
            updates.append({"name": r.name or r.package_path or "?", "component_id": r.component_id,
                            "from": r.installed, "to": r.version, "job_id": jid, "state": "sent",
                            "reboot_required": (r.reboot_type or "").upper() == "HOST", "source": {"kind": "repo"}})
        known = {u["job_id"] for u in updates}
        for j in queue:  # jobs the iDRAC spawned but did not list (diff of the queue)
            if j.job_id not in known and "firmware" in f"{j.job_type} {j.name}".lower():
                updates.append({"name": j.name or j.job_id, "component_id": None, "from": None, "to": None,
                                "job_id": j.job_id, "state": "sent", "reboot_required": None,
                                "source": {"kind": "repo"}})
        updates = [u for u in updates if u["job_id"]]
        updates.sort(key=_order)
        ctx.details["updates"] = updates
        ctx.details["component_order"] = [u["name"] for u in updates]
        ctx.note("the iDRAC scheduled: " + (", ".join(f"{u['name']} {u['from'] or '?'} → {u['to'] or '?'} "
                                                        f"({u['job_id']})" for u in updates) or "nothing"))
        await ctx.save()
    for update in ctx.details["updates"]:
        if update.get("outcome") in TERMINAL or update.get("outcome") == "scheduled":
            continue
        job = await _follow_update(ctx, update, until_terminal=False)
        _raise_if_failed(update, job)
        if job.outcome == "completed" and _is_idrac(update):
            await _idrac_back(ctx, update)


# --- reboot ------------------------------------------------------------------------------------------------


def _waiting(ctx: StepContext) -> list[dict[str, Any]]:
    install_ = ctx.earlier.get("install", {})
    return [u for u in install_.get("updates", []) if u.get("outcome") == "scheduled"]


async def reboot_done(ctx: StepContext) -> str | None:
    if not _waiting(ctx):
        return "no update waits for a reboot"
    return None


async def reboot(ctx: StepContext) -> None:
    d = _details(ctx)
    waiting = _waiting(ctx)
    names = ", ".join(u["name"] for u in waiting)
    if d.reboot == "none":
        ctx.details["staged"] = True
        ctx.note(f"staged, applied at the server's next reboot (reboot policy none): {names}")
        return
    if d.reboot == "at" and d.reboot_at is not None and "reset" not in ctx.details:
        ctx.details["reboot_at"] = d.reboot_at.isoformat()
        await ctx.save()
        while True:
            left = (d.reboot_at - datetime.now(d.reboot_at.tzinfo)).total_seconds()
            if left <= 0:
                break
            await sleep(ctx, min(left, 30.0))
    await restart_host(ctx, f"apply: {names}")


# --- apply -------------------------------------------------------------------------------------------------


async def apply_done(ctx: StepContext) -> str | None:
    if not _waiting(ctx):
        return "nothing waited for a reboot"
    if ctx.earlier.get("reboot", {}).get("staged"):
        return "staged for the next reboot; nothing applied now"
    return None


async def apply(ctx: StepContext) -> None:
    """Follow the staged jobs through the reboot to their end (the iDRAC runs them during POST)."""
    updates: list[dict[str, Any]] = ctx.details.setdefault("updates", copy.deepcopy(_waiting(ctx)))
    for update in updates:
        if update.get("outcome") in TERMINAL:
            continue
        job = await _follow_update(ctx, update, until_terminal=True)
        _raise_if_failed(update, job)
        if job.outcome == "completed" and _is_idrac(update):
            await _idrac_back(ctx, update)


# --- verify ------------------------------------------------------------------------------------------------


def _final_updates(ctx: StepContext) -> list[dict[str, Any]]:
    by_job = {u.get("job_id"): u for u in ctx.earlier.get("apply", {}).get("updates", [])}
    out = []
    for u in ctx.earlier.get("install", {}).get("updates", []):
        out.append(by_job.get(u.get("job_id"), u))
    return out


async def verify(ctx: StepContext) -> None:
    install_ = ctx.earlier.get("install", {})
    if ctx.earlier.get("reboot", {}).get("staged"):
        ctx.details["outcome"] = "staged"
        ctx.note("not verified: the update is staged for the next reboot")
        return
    if install_.get("outcome") in ("compared", "already_compliant"):
        ctx.details["outcome"] = install_["outcome"]
        return
    inventory = await _inventory_patiently(ctx, IDRAC_BACK_BUDGET)  # read once: compared here, stored below
    items = [i for i in inventory if (i.status or "").lower() == "installed"]
    before: dict[str, Any] = ctx.earlier["plan"].get("before", {})
    after = {i.inventory_id.split("__", 1)[-1]: i.version for i in items}
    before_by_fqdd = {k.split("__", 1)[-1]: v for k, v in before.items()}
    updates = _final_updates(ctx)
    if not updates and ctx.earlier["plan"]["updates"]:
        updates = ctx.earlier["plan"]["updates"]  # install was skipped: already installed
    problems, results = [], []
    for u in updates:
        outcome = u.get("outcome") or ("already_installed" if not install_.get("updates") else None)
        now = _version_of(items, u.get("component_id"))
        entry = {"name": u["name"], "from": u.get("from"), "to": u.get("to"), "installed": now, "outcome": outcome,
                 "job_id": u.get("job_id")}
        results.append(entry)
        if outcome == "completed_with_errors":
            job = u.get("dell_job") or {}
            problems.append(f"{u['name']}: the Dell job completed with errors ({job.get('message') or 'no message'})")
            continue
        if outcome == "already_compliant":
            continue
        if u.get("to") and u.get("component_id"):
            if now is None or compare_versions(now, u["to"]) != 0:
                problems.append(f"{u['name']}: the job reported {outcome or 'nothing'}, but the installed version "
                                f"is {now or 'not listed'}, not {u['to']}")
        elif outcome == "completed":
            changed = [k for k, v in after.items() if k in before_by_fqdd and before_by_fqdd[k] != v]
            if not changed:
                problems.append(f"{u['name']}: the job completed, but no installed version changed")
            else:
                entry["changed"] = changed[:20]
    await ctx.job.db(_store_inventory, ctx.job.engine, ctx.server.id, inventory)
    ctx.details["results"] = results
    if problems:
        ctx.details["outcome"] = "failed"
        raise StepFailed("; ".join(problems))
    ctx.details["outcome"] = "updated" if any(r["outcome"] == "completed" for r in results) else (
        "already_compliant" if results else "nothing_to_do")
    ctx.note("verified: " + (", ".join(f"{r['name']} {r['installed']}" for r in results) or "nothing to update"))


def _store_inventory(engine: Any, server_id: Any, firmware: list[FirmwareItem]) -> None:
    from dsm_core.db.engine import session_scope
    from dsm_core.models import Server
    from dsm_worker.handlers.inventory import save_firmware

    with session_scope(engine) as s:
        server = s.get(Server, server_id)
        if server is None:
            return
        for item in firmware:
            if (item.status or "").lower() != "installed":
                continue
            if item.component_id == "159" and item.version:
                server.bios_version = item.version
            if item.component_id == "25227" and item.version:
                server.idrac_firmware = item.version
        s.add(server)
        save_firmware(s, server_id, firmware, utcnow())


async def cleanup(ctx: StepContext) -> None:
    """Cancelled between steps: Dell jobs this workflow queued and that have not started are deleted, so a
    cancelled update does not apply itself at the next reboot."""
    for name in ("install", "apply"):
        for update in ctx.earlier.get(name, {}).get("updates", []):
            if update.get("job_id"):
                await delete_if_scheduled(ctx, update["job_id"], update["name"])


FIRMWARE_UPDATE = Workflow(
    "firmware_update",
    (
        Step("backup", backup, backup_done),
        Step("plan", plan),
        Step("lc_ready", lc_ready, lc_done),
        Step("install", install, install_done),
        Step("reboot", reboot, reboot_done),
        Step("apply", apply, apply_done),
        Step("verify", verify),
    ),
    cleanup=cleanup,
)
