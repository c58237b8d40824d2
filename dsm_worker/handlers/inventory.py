"""Inventory jobs: refresh_server_info, health_check, fetch_event_logs, test_credentials."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from dsm_core.credentials.resolution import CredentialCandidate, ResolvedCredential
from dsm_core.credentials.secret import Secret
from dsm_core.db.engine import read_scope, session_scope
from dsm_core.jobtypes import EventLogDetails, TestCredentialsDetails
from dsm_core.models import FirmwareInventory, JobTask, Server, ServerEventLog, ServerHealth, VirtualMediaSession
from dsm_core.netaddr import format_endpoint
from dsm_core.redfish import dell
from dsm_core.redfish.client import AuthenticationFailed, IdracClient, RedfishError
from dsm_core.redfish.models import FirmwareItem, ServiceRootView, dig
from dsm_core.redfish.tls import CertificateChanged
from dsm_core.redfish.virtual_media import MediaSlot, read_slots
from dsm_core.services.credentials import load_candidates
from dsm_core.services.firmware import pci_from_raw, recompute_compliance
from dsm_core.timeutil import utcnow
from dsm_worker import store
from dsm_worker.runtime import JobContext, Outcome, TaskFailed, TaskLog
from dsm_worker.workflows.media import sync_sessions

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


def mark_connection(engine: Any, server_id: uuid.UUID, error: str | None) -> None:
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
            await ctx.db(mark_connection, ctx.engine, server.id, str(exc))
            raise
        await ctx.db(mark_connection, ctx.engine, server.id, None)

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
        server.system_id = system.system_id if system.system_id and system.system_id > 0 else server.system_id
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
        save_firmware(s, server_id, firmware, now)


def save_firmware(s: Session, server_id: uuid.UUID, firmware: list[FirmwareItem], now: datetime) -> None:
    """Replace the server's firmware inventory with what the iDRAC listed, and recompute its compliance
    against every synced catalog (in the caller's transaction: the two never disagree)."""
    s.execute(sa.delete(FirmwareInventory).where(col(FirmwareInventory.server_id) == server_id))
    unique: dict[str, FirmwareItem] = {}
    for item in firmware:
        if item.inventory_id in unique:
            log.warning("server=%s firmware id %r listed twice by the iDRAC; keeping the later entry",
                        server_id, item.inventory_id)
        unique[item.inventory_id] = item  # the later wins
    for item in unique.values():
        dell_inv = dig(item.raw, "Oem", "Dell", "DellSoftwareInventory")
        vendor, device, subvendor, subdevice = pci_from_raw(dell_inv if isinstance(dell_inv, dict) else {})
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
                pci_vendor_id=vendor,
                pci_device_id=device,
                pci_subvendor_id=subvendor,
                pci_subdevice_id=subdevice,
                raw=None,
                collected_at=now,
            )
        )
    s.flush()
    recompute_compliance(s, server_ids=[server_id])


def _media_mounted(engine: Any, server_id: uuid.UUID) -> bool:
    with read_scope(engine) as s:
        return s.exec(select(VirtualMediaSession.id).where(VirtualMediaSession.server_id == server_id,
                                                           col(VirtualMediaSession.is_mounted).is_(True))).first() \
            is not None


async def _media_slots(client: IdracClient, path: str, expand: bool, log: TaskLog) -> list[MediaSlot] | None:
    """The virtual media slots, to keep virtual_media_sessions current; a refresh does not fail over them."""
    try:
        return await read_slots(client, path, expand)
    except RedfishError as exc:
        log.add(f"virtual media not read ({exc.message[:200]})")
        return None


async def refresh_server_info(ctx: JobContext) -> Outcome:
    async def work(server: Server, task: JobTask, log: TaskLog) -> None:
        async with ctx.idrac(server, task.id) as client:
            root = ServiceRootView.parse(await client.get("/redfish/v1"))
            ident = await dell.read_identity(client, root)
            firmware = await dell.read_firmware(client, root.expand_levels)
            storage = await dell.read_storage_summary(client, root.expand_levels)
            # Virtual media here only while DSM records something mounted (to see it ejected): a refresh stays
            # at six requests on iDRAC 9/10; every health check reads the slots and records any mount.
            slots = (await _media_slots(client, ident.capabilities.virtual_media_path, root.expand_levels, log)
                     if await ctx.db(_media_mounted, ctx.engine, server.id) else None)
        await ctx.db(_save_refresh, ctx.engine, server.id, ident, firmware, storage)
        if slots is not None:
            await ctx.db(sync_sessions, ctx.engine, server.id, slots)
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
        caps = dell.Capabilities.from_dict(server.supported_endpoints)
        async with ctx.idrac(server, task.id) as client:
            reading = await dell.read_health(client, caps)
            slots = await _media_slots(client, caps.virtual_media_path, True, log) if caps else None
        await ctx.db(_save_health, ctx.engine, server.id, ctx.job.id, reading)
        if slots is not None:
            await ctx.db(sync_sessions, ctx.engine, server.id, slots)
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


def _event_key(event_id: str | None, created: Any, message: str | None) -> tuple[str | None, str | None, str]:
    """Who an entry is: after a SEL clear the iDRAC numbers entries from 1 again, so the id alone would take
    a new entry for one already stored and drop it."""
    when = created.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") if created else None
    return event_id, when, message or ""


def _save_events(engine: Any, server_id: uuid.UUID, log_type: str, entries: list[Any]) -> int:
    if not entries:
        return 0
    with session_scope(engine) as s:
        stored = s.exec(
            select(ServerEventLog.event_id, ServerEventLog.timestamp, ServerEventLog.message).where(
                col(ServerEventLog.server_id) == server_id,
                col(ServerEventLog.log_type) == log_type,
                col(ServerEventLog.event_id).in_(list({e.entry_id for e in entries})),
            )
        ).all()
        known = {_event_key(i, t, m) for i, t, m in stored}
        undated = {(i, m or "") for i, _, m in stored}
        # the table's unique key is (id, time): a second message under one id and second is not stored twice
        slots = {_event_key(i, t, None)[:2] for i, t, _ in stored}
        added = 0
        for e in entries:
            key = _event_key(e.entry_id, e.created, e.message)
            if key in known or (e.created is None and (e.entry_id, e.message or "") in undated):
                continue
            if e.created is not None and key[:2] in slots:
                log.warning("server=%s %s entry %s at %s listed with two messages; keeping the first",
                            server_id, log_type, e.entry_id, key[1])
                continue
            known.add(key)
            slots.add(key[:2])
            undated.add((e.entry_id, e.message or ""))
            added += 1
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
        return added


async def fetch_event_logs(ctx: JobContext) -> Outcome:
    event_details = ctx.details(EventLogDetails)
    wanted, limit = list(event_details.logs), event_details.max_entries

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


def _server_at(engine: Any, address: str, port: int) -> Server | None:
    with read_scope(engine) as s:
        return s.exec(select(Server).where(Server.ip_address == address, Server.port == port)).first()


def _named_set(engine: Any, set_id: str) -> CredentialCandidate | None:
    with read_scope(engine) as s:
        return next((c for c in load_candidates(s) if str(c.set_id) == set_id), None)


async def _credential_under_test(ctx: JobContext, server: Server) -> tuple[str, Secret, str]:
    """The one credential this test is about: the named set if the job names one (never the one resolution
    would pick instead), else the server's own resolution (for an address not in the inventory: by its
    ranges, the default set, then the worker's environment)."""
    if ctx.job.credential_set_ids:
        cand = await ctx.db(_named_set, ctx.engine, ctx.job.credential_set_ids[0])
        if cand is None:
            raise TaskFailed("the credential set named by this job was removed since it was created")
        named = ResolvedCredential("linked_set", cand.username, cand.password_sealed, set_id=cand.set_id,
                                   set_name=cand.name)
        return cand.username, await ctx.release(named, server), f"credential set {cand.name} ({cand.username})"
    return await ctx.credentials_for(server)


async def test_credentials(ctx: JobContext) -> Outcome:
    cred_details = ctx.details(TestCredentialsDetails)
    address, port = cred_details.address, cred_details.port
    # The server's "credential test" column is about the credentials its jobs use: a test of another set
    # says nothing about those.
    record = not ctx.job.credential_set_ids

    async def login(server: Server, task: JobTask, log: TaskLog) -> None:
        username, password, source = await _credential_under_test(ctx, server)
        ctx.result.setdefault("used", {})[task.target or server.ip_address] = source
        try:
            async with ctx.idrac(server, task.id, (username, password), fresh=True) as client:
                await client.login()
                await client.get(dell.SYSTEM, {"$select": "PowerState"})
        except AuthenticationFailed as exc:
            if record:
                await ctx.db(_save_credential_test, ctx.engine, server.id, False)
            raise RedfishError(
                exc.method,
                exc.path,
                exc.status,
                f"{source} was refused by the iDRAC ({exc.message_id or 'HTTP ' + str(exc.status)})",
                exc.message_id,
                exc.endpoint,
            ) from None
        if record:
            await ctx.db(_save_credential_test, ctx.engine, server.id, True)
        log.add(f"login with {source}: ok")

    if not address:
        return await for_each_server(ctx, login)

    known = await ctx.db(_server_at, ctx.engine, address, port)
    target = known if known is not None else Server(ip_address=address, port=port, tls_verify_mode="pin")

    async def at_address(task: JobTask, log: TaskLog) -> None:
        await login(target, task, log)
        if known is not None and ctx.job.credential_set_ids:
            log.add("(the server's own resolution was not changed: link the set to use it for jobs)")

    return await ctx.run_targets(
        [(known.id if known else None, format_endpoint(address, port))], at_address, 1,
        float(ctx.worker.network_settings.operation_timeout_seconds),
    )
