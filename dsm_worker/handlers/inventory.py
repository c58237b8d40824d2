"""Inventory jobs: refresh_server_info, health_check, fetch_event_logs, test_credentials."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from dsm_core.db.engine import read_scope, session_scope
from dsm_core.models import FirmwareInventory, JobTask, Server, ServerEventLog, ServerHealth
from dsm_core.netaddr import format_endpoint
from dsm_core.redfish import dell
from dsm_core.redfish.client import AuthenticationFailed, RedfishError
from dsm_core.redfish.models import FirmwareItem, ServiceRootView
from dsm_core.redfish.tls import CertificateChanged
from dsm_core.timeutil import utcnow
from dsm_worker import store
from dsm_worker.runtime import JobContext, Outcome, TaskLog

CONNECTION_ERRORS = (RedfishError, CertificateChanged)

log = logging.getLogger("dsm.worker.inventory")


def _label(server: Server) -> str:
    return format_endpoint(server.ip_address, server.port)


def _server(engine: Any, server_id: uuid.UUID | None) -> Server:
    with read_scope(engine) as s:
        server = s.get(Server, server_id) if server_id else None
    if server is None:
        raise LookupError("the server was removed while the job ran")
    return server


def _mark_connection(engine: Any, server_id: uuid.UUID, error: str | None) -> None:
    with session_scope(engine) as s:
        server = s.get(Server, server_id)
        if server is None:
            return
        now = utcnow()
        server.last_connection_test = now
        if error is None:
            server.connection_status, server.connection_error, server.last_seen = "connected", None, now
        else:
            server.connection_status, server.connection_error = "failed", error[:2000]
        s.add(server)


async def for_each_server(
    ctx: JobContext, work: Any, concurrency: int | None = None, timeout: float | None = None
) -> Outcome:
    """Run ``work(server, task, log)`` on every target server, recording reachability on the server row."""
    servers = await ctx.db(store.expand_servers, ctx.engine, ctx.job.target_scope)
    targets = [(srv.id, _label(srv)) for srv in servers]
    settings = ctx.worker.network_settings

    async def run(task: JobTask, log: TaskLog) -> None:
        server = await ctx.db(_server, ctx.engine, task.server_id)
        try:
            await work(server, task, log)
        except CONNECTION_ERRORS as exc:
            await ctx.db(_mark_connection, ctx.engine, server.id, str(exc))
            raise
        await ctx.db(_mark_connection, ctx.engine, server.id, None)

    return await ctx.run_targets(
        targets, run, concurrency or ctx.worker.global_cap, timeout or float(settings.operation_timeout_seconds)
    )


# --- refresh_server_info ---------------------------------------------------------------------------------


def _save_refresh(
    engine: Any, server_id: uuid.UUID, ident: dell.Identity, firmware: list[FirmwareItem], storage: dict[str, Any]
) -> None:
    system, manager, caps = ident.system, ident.manager, ident.capabilities
    now = utcnow()
    with session_scope(engine) as s:
        server = s.get(Server, server_id)
        if server is None:
            return
        server.service_tag = system.service_tag or ident.root.service_tag or server.service_tag
        server.model = system.model or server.model
        server.manufacturer = system.manufacturer or server.manufacturer
        server.product_name = ident.root.product
        server.bios_version = system.bios_version
        server.idrac_firmware = manager.firmware_version
        server.idrac_generation = caps.generation
        server.redfish_version = ident.root.redfish_version
        server.power_state = system.power_state
        server.overall_health = system.health_rollup or system.health
        server.cpu_count = system.cpu_count
        server.memory_gb = system.memory_gib
        server.manager_mac_address = ident.root.manager_mac
        server.boot_mode = system.boot.override_mode
        server.boot_source_override_enabled = system.boot.override_enabled
        server.boot_source_override_target = system.boot.override_target
        server.boot_order = system.boot.order
        server.supported_endpoints = caps.as_dict()
        server.storage_summary = storage
        if system.hostname and not server.hostname:
            server.hostname = system.hostname
        server.last_seen = now
        s.add(server)
        s.execute(sa.delete(FirmwareInventory).where(col(FirmwareInventory.server_id) == server_id))
        unique: dict[str, FirmwareItem] = {}
        for item in firmware:
            if item.inventory_id in unique:
                log.warning("server=%s firmware id %r listed twice by the iDRAC; keeping the later entry",
                            server_id, item.inventory_id)
            unique[item.inventory_id] = item  # the later wins
        for item in unique.values():
            s.add(
                FirmwareInventory(
                    server_id=server_id,
                    inventory_id=item.inventory_id,
                    fqdd=item.fqdd,
                    name=item.name,
                    version=item.version,
                    component_id=item.component_id,
                    component_type=item.component_type,
                    status=item.status,
                    updateable=item.updateable,
                    raw=None,
                    collected_at=now,
                )
            )


async def refresh_server_info(ctx: JobContext) -> Outcome:
    async def work(server: Server, task: JobTask, log: TaskLog) -> None:
        async with ctx.idrac(server, task.id) as client:
            root = ServiceRootView.parse(await client.get("/redfish/v1"))
            ident = await dell.read_identity(client, root)
            firmware = await dell.read_firmware(client, root.expand_levels)
            storage = await dell.read_storage_summary(client, root.expand_levels)
        await ctx.db(_save_refresh, ctx.engine, server.id, ident, firmware, storage)
        log.add(
            f"{ident.system.model} {ident.system.service_tag}: iDRAC {ident.manager.firmware_version} "
            f"(iDRAC {ident.capabilities.generation}), BIOS {ident.system.bios_version}, "
            f"power {ident.system.power_state}, health {ident.system.health_rollup}, "
            f"{len(firmware)} firmware components"
        )

    return await for_each_server(ctx, work)


# --- health_check ----------------------------------------------------------------------------------------


def _save_health(engine: Any, server_id: uuid.UUID, job_id: uuid.UUID, reading: dell.HealthReading) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        s.add(
            ServerHealth(
                server_id=server_id,
                job_id=job_id,
                timestamp=now,
                overall_health=reading.overall,
                power_state=reading.power_state,
                cpu_health=reading.cpu,
                memory_health=reading.memory,
                storage_health=reading.storage,
                fan_health=reading.fans,
                psu_health=reading.psu,
                network_health=reading.network,
                temperature_celsius=reading.temperature_celsius,
                sensors=reading.sensors,
            )
        )
        server = s.get(Server, server_id)
        if server is not None:
            server.overall_health, server.power_state, server.last_health_check = (
                reading.overall,
                reading.power_state,
                now,
            )
            s.add(server)


async def health_check(ctx: JobContext) -> Outcome:
    async def work(server: Server, task: JobTask, log: TaskLog) -> None:
        async with ctx.idrac(server, task.id) as client:
            reading = await dell.read_health(client, dell.Capabilities.from_dict(server.supported_endpoints))
        await ctx.db(_save_health, ctx.engine, server.id, ctx.job.id, reading)
        log.add(
            f"health {reading.overall}: cpu {reading.cpu}, memory {reading.memory}, storage {reading.storage}, "
            f"fans {reading.fans}, psu {reading.psu}, inlet {reading.temperature_celsius} C"
        )

    return await for_each_server(ctx, work)


# --- fetch_event_logs --------------------------------------------------------------------------------------


def _newest(engine: Any, server_id: uuid.UUID, log_type: str) -> Any:
    with read_scope(engine) as s:
        return s.exec(
            select(sa.func.max(col(ServerEventLog.timestamp))).where(
                col(ServerEventLog.server_id) == server_id, col(ServerEventLog.log_type) == log_type
            )
        ).one()


def _save_events(engine: Any, server_id: uuid.UUID, log_type: str, entries: list[Any]) -> int:
    if not entries:
        return 0
    with session_scope(engine) as s:
        known = set(
            s.exec(
                select(col(ServerEventLog.event_id)).where(
                    col(ServerEventLog.server_id) == server_id,
                    col(ServerEventLog.log_type) == log_type,
                    col(ServerEventLog.event_id).in_([e.entry_id for e in entries]),
                )
            ).all()
        )
        new = [e for e in entries if e.entry_id not in known]
        seen: set[str] = set()
        for e in new:
            if e.entry_id in seen:
                continue
            seen.add(e.entry_id)
            s.add(
                ServerEventLog(
                    server_id=server_id,
                    log_type=log_type,
                    event_id=e.entry_id,
                    timestamp=e.created or utcnow(),
                    severity=e.severity,
                    message=e.message,
                    message_id=e.message_id,
                    category=e.category,
                    sensor_type=e.sensor_type,
                    sensor_number=e.sensor_number,
                    raw_data=e.raw,
                )
            )
        return len(seen)


async def fetch_event_logs(ctx: JobContext) -> Outcome:
    wanted = ctx.job.details.get("logs", ["sel", "lclog"])
    limit = int(ctx.job.details.get("max_entries", 5000))

    async def work(server: Server, task: JobTask, log: TaskLog) -> None:
        caps = dell.Capabilities.from_dict(server.supported_endpoints)
        paths = {
            "sel": caps.sel_entries if caps else f"{dell.MANAGER}/LogServices/Sel/Entries",
            "lclog": caps.lclog_entries if caps else f"{dell.MANAGER}/LogServices/Lclog/Entries",
        }
        async with ctx.idrac(server, task.id) as client:
            for log_type in wanted:
                since = await ctx.db(_newest, ctx.engine, server.id, log_type)
                entries = await dell.read_log(client, paths[log_type], since, limit)
                added = await ctx.db(_save_events, ctx.engine, server.id, log_type, entries)
                log.add(f"{log_type}: {len(entries)} entries read since {since or 'the start'}, {added} new")

    return await for_each_server(ctx, work)


# --- test_credentials ---------------------------------------------------------------------------------------


def _save_credential_test(engine: Any, server_id: uuid.UUID, ok: bool) -> None:
    with session_scope(engine) as s:
        server = s.get(Server, server_id)
        if server is not None:
            server.credential_test_status = "ok" if ok else "failed"
            server.credential_last_tested = utcnow()
            s.add(server)


async def test_credentials(ctx: JobContext) -> Outcome:
    async def work(server: Server, task: JobTask, log: TaskLog) -> None:
        username, password, source = await ctx.credentials_for(server)
        try:
            async with ctx.idrac(server, task.id, (username, password), fresh=True) as client:
                await client.login()
                await client.get(dell.SYSTEM, {"$select": "PowerState"})
        except AuthenticationFailed as exc:
            await ctx.db(_save_credential_test, ctx.engine, server.id, False)
            raise RedfishError(
                exc.method,
                exc.path,
                exc.status,
                f"{source} was refused by the iDRAC ({exc.message_id or 'HTTP ' + str(exc.status)})",
                exc.message_id,
                exc.endpoint,
            ) from None
        await ctx.db(_save_credential_test, ctx.engine, server.id, True)
        log.add(f"login with {source}: ok")

    return await for_each_server(ctx, work)
