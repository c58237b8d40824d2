"""discovery_scan: find iDRACs in ranges of addresses, log in with the first credential set that works.

Unauthenticated service-root probe first (cheap, says whether a Dell iDRAC is there), then credential sets
in resolution order. Many addresses in parallel, while the per-iDRAC cap still holds for each one found.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from sqlmodel import select

from dsm_core.credentials.resolution import CredentialCandidate, ResolvedCredential, candidates_for_address
from dsm_core.db.engine import read_scope, session_scope
from dsm_core.jobtypes import DiscoveryDetails, parse_address_spec
from dsm_core.models import JobTask, Server
from dsm_core.netaddr import format_endpoint, parse_endpoint
from dsm_core.redfish import dell
from dsm_core.redfish.client import AuthenticationFailed, IdracClient, RedfishError, probe_service_root
from dsm_core.redfish.models import ServiceRootView, SystemView
from dsm_core.redfish.tls import TlsPolicy
from dsm_core.services.credentials import load_candidates
from dsm_core.timeutil import utcnow
from dsm_worker.runtime import JobContext, Outcome, TaskFailed, TaskLog


def expand(ranges: list[str], exclude: list[str]) -> list[str]:
    excluded = {str(ip) for spec in exclude for net in parse_address_spec(spec) for ip in net}
    out: list[str] = []
    seen: set[str] = set()
    for spec in ranges:
        for net in parse_address_spec(spec):
            hosts = net.hosts() if net.num_addresses > 2 and "-" not in spec else iter(net)
            for ip in hosts:
                text = str(ip)
                if text not in excluded and text not in seen:
                    seen.add(text)
                    out.append(text)
    return out


def _candidates(engine: Any, address: str, only: list[str]) -> list[ResolvedCredential]:
    with read_scope(engine) as s:
        sets: list[CredentialCandidate] = load_candidates(s)
    if only:
        chosen = [c for wanted in only for c in sets if str(c.set_id) == wanted]
        return [
            ResolvedCredential("linked_set", c.username, c.password_sealed, set_id=c.set_id, set_name=c.name)
            for c in chosen
        ]
    return candidates_for_address(address, sets, os.environ)


def _upsert(
    engine: Any,
    address: str,
    port: int,
    job_id: uuid.UUID,
    cred: ResolvedCredential,
    system: SystemView,
    root: ServiceRootView,
    pin: str | None,
    explicit: bool,
) -> str:
    now = utcnow()
    with session_scope(engine) as s:
        server = s.exec(select(Server).where(Server.ip_address == address, Server.port == port)).first()
        created = server is None
        if server is None:
            server = Server(ip_address=address, port=port, discovery_job_id=job_id)
        server.service_tag = system.service_tag or root.service_tag or server.service_tag
        server.model = system.model or server.model
        server.power_state = system.power_state
        server.overall_health = system.health_rollup or system.health
        server.bios_version = system.bios_version or server.bios_version
        server.redfish_version = root.redfish_version
        server.manager_mac_address = root.manager_mac
        server.discovered_by_credential_set_id = cred.set_id
        if explicit and cred.set_id is not None and not server.idrac_username:
            # The operator chose the set for this scan: its next job must resolve the same credentials,
            # not whatever the ranges say (there may be none).
            server.credential_set_id = cred.set_id
        server.connection_status, server.connection_error, server.last_seen = "connected", None, now
        if pin and not server.tls_fingerprint_sha256:
            server.tls_fingerprint_sha256 = pin
        s.add(server)
    return "added" if created else "updated"


BUSY_ROUNDS = 4


async def _read_system_while_busy(client: IdracClient) -> dict[str, Any]:
    """The ComputerSystem, asked again (a few rounds of the client's own retries) while the iDRAC says it is
    busy: a busy iDRAC is one to find, not one to miss. Reads only: nothing here changes the server."""
    round_number = 1
    while True:
        try:
            return await client.get(dell.SYSTEM)
        except RedfishError as exc:
            if exc.status not in (429, 503) or round_number == BUSY_ROUNDS:
                raise
        await asyncio.sleep(min(10.0, 2.0 * round_number))
        round_number += 1


async def discovery_scan(ctx: JobContext) -> Outcome:
    details = ctx.details(DiscoveryDetails)
    port = details.port
    addresses = expand(list(details.ranges), list(details.exclude))
    probe_timeout = details.probe_timeout_seconds
    only = list(ctx.job.credential_set_ids)
    found: dict[str, Any] = {"probed": len(addresses), "idracs": 0, "added": 0, "updated": 0, "refused": 0,
                             "added_servers": [], "refused_credentials": [], "busy": []}

    async def work(task: JobTask, log: TaskLog) -> None:
        ip, _ = parse_endpoint(task.target or "")
        address = str(ip)
        endpoint = format_endpoint(address, port)
        tls = TlsPolicy("pin")
        recorder = ctx.worker.activity.recorder(None, ctx.job.id, task.id, ctx.job.created_by)
        await ctx.wait_unpaused()
        settings = ctx.worker.client_settings()
        for round_number in range(1, BUSY_ROUNDS + 1):
            probe = await probe_service_root(
                endpoint, tls, probe_timeout, ctx.worker.throttle, recorder,
                attempts=max(6, settings.max_retries + 1), retry_delay=settings.retry_delay,
                max_body_bytes=settings.max_body_bytes,
            )
            if not probe.busy or round_number == BUSY_ROUNDS:
                break
            # Something answered and said "busy": an iDRAC to find, not to miss. A few more rounds, spaced.
            await asyncio.sleep(min(10.0, 2.0 * round_number))
        if probe.failure is not None:
            found["busy"].append(endpoint)
            raise TaskFailed(probe.failure)
        if probe.root is None:
            log.add("no Redfish service answered" if not probe.answered else "answered, but not a Redfish service")
            return
        root = ServiceRootView.parse(probe.root)
        if not root.is_dell:
            log.add(f"Redfish service, but not a Dell iDRAC ({root.vendor or 'unknown vendor'})")
            return
        found["idracs"] += 1
        candidates = await ctx.db(_candidates, ctx.engine, address, only)
        if not candidates:
            raise TaskFailed("iDRAC found, but no credential set covers this address; add one with a range")
        tried = []
        sessions = dell.sessions_path_for(root.redfish_version)
        refused: list[str] = []
        for cred in candidates:
            try:  # an address found by a scan is one DSM did not have: only a set whose ranges cover it goes there
                password = await ctx.release(cred, Server(ip_address=address, port=port, tls_verify_mode="pin"))
            except TaskFailed as exc:
                refused.append(str(exc))
                continue
            client = IdracClient(
                endpoint,
                cred.username,
                password,
                tls,
                ctx.worker.pool.throttle,
                ctx.worker.client_settings(),
                recorder=recorder,
                paused=ctx.worker.paused,
                sessions_path=sessions,
            )
            tried.append(cred.set_name or cred.source)
            try:
                system = SystemView.parse(await _read_system_while_busy(client))
            except AuthenticationFailed:
                continue
            finally:
                await client.close()
            outcome = await ctx.db(
                _upsert, ctx.engine, address, port, ctx.job.id, cred, system, root, tls.pinned, bool(only)
            )
            found[outcome] += 1
            if outcome == "added":
                found["added_servers"].append(endpoint)
            log.add(f"{system.model} {system.service_tag}: logged in with {cred.describe()}; server {outcome}")
            return
        found["refused"] += 1
        found["refused_credentials"].append(endpoint)
        if not tried:
            raise TaskFailed("iDRAC found, but no credential may be sent there: " + "; ".join(refused))
        raise TaskFailed(f"iDRAC found, but no credential set worked (tried {', '.join(tried)})"
                         + (f"; {'; '.join(refused)}" if refused else ""))

    threads = int(ctx.worker.activity_settings.discovery_max_threads)
    outcome = await ctx.run_targets(
        [(None, format_endpoint(a, port)) for a in addresses], work, threads, probe_timeout * 4 + 60
    )
    ctx.result.update(found)
    return outcome
