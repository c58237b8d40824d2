"""OpenManage Enterprise: where the appliance is (admin), and what a sync found, recorded by the system.

A sync creates or updates servers by service tag with their iDRAC address (``dsm_core.openmanage.client``): a
server already known by its tag follows its new address, one known by its address without a tag adopts the tag,
and a device whose address belongs to a server with another tag is reported as a conflict, never merged. Devices
without a service tag or an iDRAC address are reported, not guessed. Imported servers carry no credentials of
their own: the credential sets whose ranges hold their addresses apply (DESIGN.md §3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from dsm_core.credentials.secret import Secret
from dsm_core.models import OpenmanageSettings, Server
from dsm_core.models.settings import SINGLETON_ID
from dsm_core.netaddr import AddressError, format_endpoint, parse_ip, parse_port
from dsm_core.openmanage.client import OmeServer
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import ValidationError
from dsm_core.services.servers import validate_hostname, validate_service_tag
from dsm_core.services.settings import seal_for_worker, singleton
from dsm_core.services.vcenter import normalize_fingerprint
from dsm_core.services.views import row_view
from dsm_core.timeutil import utcnow

REPORTED = 200  # devices listed by name in a sync's result; the counts are always whole


def _host(value: str) -> str:
    host = (value or "").strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(parse_ip(host))
    except AddressError:
        pass
    try:
        name = validate_hostname(host, "host")
    except ValidationError:
        name = None
    if not name:
        raise ValidationError("host", f"{value!r} is not an address or a host name",
                              "give the appliance's IP address or DNS name, without https:// or a path")
    return name


@mutation("openmanage.configure", "admin")
def configure(tx: Tx, /, host: str, *, username: str, password: Secret, port: int = 443,
              tls_verify_mode: str = "pin", fingerprint: str | None = None, sync_enabled: bool = True,
              ) -> dict[str, Any]:
    """The appliance DSM reads. Its password is sealed for the worker at once; without ``fingerprint`` the first
    connection's certificate is pinned (trust on first use)."""
    address = _host(host)
    try:
        real_port = parse_port(port)
    except AddressError as exc:
        raise ValidationError("port", str(exc), "give 1 to 65535 (OME listens on 443)") from None
    user = (username or "").strip()
    if not user or len(user) > 200:
        raise ValidationError("username", "is empty or longer than 200 characters", "give the OME user, e.g. admin")
    if not password.reveal():
        raise ValidationError("password", "is empty", "type the OME password on standard input")
    if tls_verify_mode not in ("pin", "ca", "off"):
        raise ValidationError("tls_verify", f"{tls_verify_mode!r} is not a mode", "use pin, ca or off")
    pin = normalize_fingerprint(fingerprint) if fingerprint else None
    row = singleton(tx.session, OpenmanageSettings)
    moved = (row.host, row.port) != (address, real_port)
    row.host, row.port, row.username = address, real_port, user
    row.password_sealed = seal_for_worker(tx.session, password)
    row.tls_verify_mode, row.sync_enabled = tls_verify_mode, sync_enabled
    if pin or moved:  # another appliance: the old pin is not its certificate
        row.tls_fingerprint_sha256 = pin
    tx.session.add(row)
    tx.audit("openmanage", None, host=address, port=real_port, username=user, tls=tls_verify_mode,
             pinned=bool(row.tls_fingerprint_sha256), sync_enabled=sync_enabled)
    return row_view(row)


@query("viewer")
def show_settings(session: Session, /) -> dict[str, Any]:
    row = session.get(OpenmanageSettings, SINGLETON_ID)
    if row is None or not row.host:
        return {"configured": False}
    return {"configured": True, **row_view(row)}


def store_pin(session: Session, /, fingerprint: str) -> None:
    row = session.get(OpenmanageSettings, SINGLETON_ID)
    if row is not None and row.tls_verify_mode == "pin" and not row.tls_fingerprint_sha256:
        row.tls_fingerprint_sha256 = fingerprint
        session.add(row)


def _name(device: OmeServer) -> str:
    return device.service_tag or device.name or f"device {device.device_id}"


@mutation("openmanage.record_sync", "admin")
def record_sync(tx: Tx, /, devices: list[OmeServer], now: datetime | None = None) -> dict[str, Any]:
    """What one complete listing found, applied in one transaction (the worker, as the system)."""
    when = now or utcnow()
    s = tx.session
    by_tag = {srv.service_tag: srv for srv in s.exec(select(Server).where(col(Server.service_tag).is_not(None))).all()}
    by_endpoint = {(srv.ip_address, srv.port): srv for srv in s.exec(select(Server)).all()}
    created, updated, unchanged = 0, 0, 0
    skipped: list[dict[str, str]] = []
    conflicts: list[dict[str, str]] = []
    seen_tags: set[str] = set()
    for device in devices:
        tag = None
        try:
            tag = validate_service_tag(device.service_tag) if device.service_tag else None
        except ValidationError:
            skipped.append({"device": device.device_id, "reason": "a service tag DSM cannot use"})
            continue
        if device.problem or tag is None or device.address is None:
            skipped.append({"device": _name(device), "reason": device.problem or "no service tag"})
            continue
        if tag in seen_tags:
            skipped.append({"device": tag, "reason": "listed twice by the appliance"})
            continue
        seen_tags.add(tag)
        endpoint = (device.address, device.port)
        holder = by_endpoint.get(endpoint)
        server = by_tag.get(tag)
        if server is None and holder is not None and holder.service_tag in (None, tag):
            server = holder  # known by its address: it adopts the tag
        if holder is not None and holder is not server:  # the address is another server's: never merged
            conflicts.append({"device": tag, "reason": f"{format_endpoint(*endpoint)} belongs to server "
                              f"{holder.service_tag or holder.hostname or holder.id}"})
            continue
        try:
            hostname = validate_hostname(device.name)
        except ValidationError:
            hostname = None  # a device name is not always a host name; the service tag identifies it
        if server is None:
            server = Server(ip_address=device.address, port=device.port, hostname=hostname, service_tag=tag,
                            model=device.model, openmanage_device_id=device.device_id, last_openmanage_sync=when)
            s.add(server)
            by_tag[tag] = by_endpoint[endpoint] = server
            created += 1
            continue
        before = (server.ip_address, server.port, server.service_tag, server.openmanage_device_id)
        if (server.ip_address, server.port) != endpoint:
            # An outside source never moves a server DSM knows: the next job would send its credentials to the
            # new address. An admin confirms a real move (dsm servers update REF --address).
            conflicts.append({"device": tag, "reason": f"OpenManage lists it at {format_endpoint(*endpoint)}, DSM "
                              f"has it at {format_endpoint(server.ip_address, server.port)}: not moved; an admin "
                              f"confirms a real move with `dsm servers update {tag} --address "
                              f"{format_endpoint(*endpoint)}`"})
            continue
        server.service_tag, server.openmanage_device_id = tag, device.device_id
        server.model = server.model or device.model
        server.hostname = server.hostname or hostname
        server.last_openmanage_sync = when
        s.add(server)
        if before != (server.ip_address, server.port, server.service_tag, server.openmanage_device_id):
            updated += 1
        else:
            unchanged += 1
    settings = singleton(s, OpenmanageSettings)
    settings.last_sync = when
    s.add(settings)
    result = {"devices": len(devices), "created": created, "updated": updated, "unchanged": unchanged,
              "skipped": len(skipped), "conflicts": len(conflicts), "skipped_devices": skipped[:REPORTED],
              "conflicting_devices": conflicts[:REPORTED]}
    tx.audit("openmanage", None, **{k: v for k, v in result.items() if isinstance(v, int)})
    return result
