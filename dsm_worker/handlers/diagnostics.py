"""network_diagnostics: can this worker reach an iDRAC, and how well? TCP, TLS and certificate, Redfish root.

Results go into the job's details ("result"), one entry per target, for the operator to read.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

from cryptography import x509

from dsm_core.jobtypes import DiagnosticsDetails
from dsm_core.models import JobTask, Server
from dsm_core.netaddr import format_endpoint, parse_endpoint
from dsm_core.redfish.client import probe_service_root
from dsm_core.redfish.models import ServiceRootView
from dsm_core.redfish.tls import TlsPolicy, fingerprint
from dsm_worker import store
from dsm_worker.runtime import JobContext, Outcome, TaskFailed, TaskLog


async def _tcp(host: str, port: int, timeout: float) -> float:
    started = time.monotonic()
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    writer.close()
    return (time.monotonic() - started) * 1000


async def _tls(host: str, port: int, timeout: float) -> dict[str, Any]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # we inspect the certificate ourselves; nothing is sent
    started = time.monotonic()
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), timeout)
    try:
        obj = writer.get_extra_info("ssl_object")
        der = obj.getpeercert(binary_form=True)
        cert = x509.load_der_x509_certificate(der)
        return {
            "handshake_ms": round((time.monotonic() - started) * 1000, 1),
            "version": obj.version(),
            "cipher": obj.cipher()[0],
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "self_signed": cert.subject == cert.issuer,
            "fingerprint_sha256": fingerprint(der),
        }
    finally:
        writer.close()


async def network_diagnostics(ctx: JobContext) -> Outcome:
    details = ctx.details(DiagnosticsDetails)
    timeout = details.timeout_seconds
    servers = {s.id: s for s in await ctx.db(store.expand_servers, ctx.engine, ctx.job.target_scope)}
    targets = [(s.id, format_endpoint(s.ip_address, s.port)) for s in servers.values()]
    if details.address:
        targets = [(None, format_endpoint(details.address, details.port))]

    async def work(task: JobTask, log: TaskLog) -> None:
        ip, port = parse_endpoint(task.target or "")
        host, port = str(ip), port or 443
        server: Server | None = servers.get(task.server_id) if task.server_id else None
        result: dict[str, Any] = {}
        ctx.result[task.target or host] = result
        try:
            result["tcp_connect_ms"] = round(await _tcp(host, port, timeout), 1)
        except (OSError, TimeoutError) as exc:
            result["tcp"] = f"failed: {exc or 'timed out'}"
            raise TaskFailed(f"TCP connect to {host}:{port} failed: {exc or 'timed out'}") from None
        log.add(f"TCP connect {result['tcp_connect_ms']} ms")
        try:
            tls = await _tls(host, port, timeout)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            result["tls"] = f"failed: {exc or 'timed out'}"
            raise TaskFailed(f"TLS handshake with {host}:{port} failed: {exc or 'timed out'}") from None
        if server is not None and server.tls_fingerprint_sha256:
            tls["matches_pin"] = tls["fingerprint_sha256"] == server.tls_fingerprint_sha256
        result["tls"] = tls
        log.add(
            f"TLS {tls['version']} {tls['cipher']}, certificate {tls['subject']} until {tls['not_after']}"
            + ("" if tls.get("matches_pin", True) else " — DIFFERS FROM THE PINNED CERTIFICATE")
        )
        started = time.monotonic()
        recorder = ctx.worker.activity.recorder(task.server_id, ctx.job.id, task.id, ctx.job.created_by)
        probe = await probe_service_root(
            format_endpoint(host, port), TlsPolicy("off"), timeout, ctx.worker.throttle, recorder, attempts=2
        )
        result["redfish_ms"] = round((time.monotonic() - started) * 1000, 1)
        if probe.root is None:
            result["redfish"] = probe.failure or "no Redfish service root"
            raise TaskFailed(f"{host}:{port} answers TLS but not GET /redfish/v1" +
                             (f": {probe.failure}" if probe.failure else ""))
        view = ServiceRootView.parse(probe.root)
        result["redfish"] = {
            "version": view.redfish_version,
            "vendor": view.vendor,
            "product": view.product,
            "service_tag": view.service_tag,
        }
        log.add(f"Redfish {view.redfish_version} ({view.vendor}) in {result['redfish_ms']} ms")

    return await ctx.run_targets(targets, work, 16, timeout * 4 + 30)
