"""vcenter_sync, vcenter_connectivity_test, and the one way the worker opens a vCenter.

pyvmomi blocks, so every call runs in a thread; one client per vCenter per job, logged out when the job's use of it
ends. Every SOAP call is an activity-log row (``operation_type`` ``vcenter_api``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from sqlmodel import col, select

from dsm_core.db.engine import read_scope, session_scope
from dsm_core.jobtypes import VcenterDetails, VcenterTestDetails
from dsm_core.models import JobTask, Vcenter
from dsm_core.netaddr import format_endpoint
from dsm_core.redfish.tls import CertificateChanged, TlsPolicy
from dsm_core.services.context import SYSTEM, ServiceContext
from dsm_core.services.vcenter import get_vcenter, record_sync, record_sync_failure, store_pin
from dsm_core.vcenter.model import Inventory, VcenterApi, VcenterError
from dsm_worker.runtime import JobContext, Outcome, TaskFailed, TaskLog

T = TypeVar("T")

Connector = Callable[..., VcenterApi]


def _pyvmomi_connect(*args: Any, **kwargs: Any) -> VcenterApi:
    from dsm_core.vcenter.pyvmomi_client import connect

    return connect(*args, **kwargs)


CONNECT: Connector = _pyvmomi_connect
"""How the worker reaches a vCenter (pyvmomi); the one seam the rolling-update fault tests wrap."""


def load_vcenter(engine: Any, name_or_id: str | uuid.UUID) -> Vcenter:
    with read_scope(engine) as s:
        if isinstance(name_or_id, uuid.UUID):
            vc = s.get(Vcenter, name_or_id)
            if vc is None:
                raise TaskFailed(f"vCenter {name_or_id} was removed")
            return vc
        try:
            return get_vcenter(s, name_or_id)
        except LookupError as exc:
            raise TaskFailed(str(exc)) from None


async def call(fn: Callable[..., T], *args: Any) -> T:
    """A blocking vCenter call off the event loop; its failure is the task's, in the operator's words."""
    try:
        return await asyncio.to_thread(fn, *args)
    except VcenterError as exc:
        raise TaskFailed(str(exc)) from None


@contextlib.asynccontextmanager
async def open_vcenter(ctx: JobContext, vc: Vcenter, task_id: uuid.UUID | None) -> AsyncIterator[VcenterApi]:
    password = ctx.unseal(vc.password_sealed)
    policy = TlsPolicy(vc.tls_verify_mode, vc.tls_fingerprint_sha256)
    recorder = ctx.worker.activity.recorder(None, ctx.job.id, task_id, ctx.job.created_by)
    timeout = float(ctx.worker.network_settings.operation_timeout_seconds or 60)
    try:
        client = await asyncio.to_thread(CONNECT, vc.host, vc.port, vc.username, password, policy, recorder,
                                         min(timeout, 120.0))
    except CertificateChanged as exc:
        raise TaskFailed(
            f"TLS certificate of vCenter {vc.name} ({format_endpoint(vc.host, vc.port)}) changed: pinned "
            f"{exc.pinned}, presented {exc.presented}. Nothing was sent. If it was replaced on purpose, remove and "
            f"add the vCenter again with --fingerprint of the new certificate") from None
    except VcenterError as exc:
        raise TaskFailed(f"vCenter {vc.name}: {exc}") from None
    except OSError as exc:
        raise TaskFailed(f"vCenter {vc.name} ({format_endpoint(vc.host, vc.port)}) is unreachable: {exc}") from None
    if policy.learned:
        await ctx.db(_store_pin, ctx.engine, vc.id, policy.learned)
    try:
        yield client
    finally:
        await asyncio.to_thread(client.close)


def _store_pin(engine: Any, vcenter_id: uuid.UUID, fingerprint: str) -> None:
    with session_scope(engine) as s:
        store_pin(s, vcenter_id, fingerprint)


def _record(engine: Any, vcenter_id: uuid.UUID, inventory: Inventory) -> dict[str, Any]:
    return record_sync(ServiceContext(engine, SYSTEM), vcenter_id, inventory)


def _failed(engine: Any, vcenter_id: uuid.UUID, error: str) -> None:
    with session_scope(engine) as s:
        record_sync_failure(s, vcenter_id, error)


async def sync_one(ctx: JobContext, vc: Vcenter, task_id: uuid.UUID | None) -> tuple[Inventory, dict[str, Any]]:
    """Reads a vCenter's inventory and records it; a failure is recorded on the vCenter too."""
    try:
        async with open_vcenter(ctx, vc, task_id) as client:
            inventory = await call(client.inventory)
    except TaskFailed as exc:
        await ctx.db(_failed, ctx.engine, vc.id, str(exc))
        raise
    stats = await ctx.db(_record, ctx.engine, vc.id, inventory)
    return inventory, stats


def _all_vcenters(engine: Any) -> list[Vcenter]:
    with read_scope(engine) as s:
        return list(s.exec(select(Vcenter).where(col(Vcenter.sync_enabled)).order_by(col(Vcenter.name))).all())


async def vcenter_sync(ctx: JobContext) -> Outcome:
    details = ctx.details(VcenterDetails)
    if details.vcenters:
        vcenters = [await ctx.db(load_vcenter, ctx.engine, name) for name in details.vcenters]
    else:
        vcenters = await ctx.db(_all_vcenters, ctx.engine)
    by_label = {f"vcenter {vc.name}": vc for vc in vcenters}
    ctx.result["vcenters"] = {}

    async def work(task: JobTask, log: TaskLog) -> None:
        vc = by_label[task.target or ""]
        inventory, stats = await sync_one(ctx, vc, task.id)
        log.add(f"{len(inventory.datacenters)} datacenter(s), {len(inventory.clusters)} cluster(s), "
                f"{len(inventory.hosts)} host(s) in {inventory.calls} call(s); clusters {stats['clusters']}, "
                f"hosts {stats['hosts']}, linked {stats['linked']}, unlinked {stats['unlinked']}")
        ctx.result["vcenters"][vc.name] = {**stats, "calls": inventory.calls,
                                           "datacenters": len(inventory.datacenters)}

    if not vcenters:
        ctx.result["note"] = "no vCenter is configured (dsm vcenter add)"
    return await ctx.run_targets([(None, label) for label in by_label], work, 2, 1800.0)


async def vcenter_connectivity_test(ctx: JobContext) -> Outcome:
    details = ctx.details(VcenterTestDetails)
    vc = await ctx.db(load_vcenter, ctx.engine, details.vcenter)

    async def work(task: JobTask, log: TaskLog) -> None:
        async with open_vcenter(ctx, vc, task.id) as client:
            about = client.about
        log.add(f"connected: {about.get('name', '?')} (API {about.get('api_version', '?')})")
        ctx.result["vcenter"] = {"name": vc.name, **about}

    return await ctx.run_targets([(None, f"vcenter {vc.name}")], work, 1, 300.0)
