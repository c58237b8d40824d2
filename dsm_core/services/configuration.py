"""Configuration from the operator's side: BIOS attributes and baselines, drift, SCP backups, boot history
and virtual media sessions. Jobs that change a server are created through ``jobs.new_job`` (checked by
``configuration_rules``); what is here reads stored state or changes only DSM's own records."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from sqlmodel import Session, col, select

from dsm_core.models import (
    BiosConfiguration,
    BiosRegistry,
    ScpBackup,
    Server,
    ServerBootConfigHistory,
    ServerGroupMember,
    VirtualMediaSession,
    VirtualMediaSettings,
)
from dsm_core.netaddr import format_endpoint
from dsm_core.redfish.bios import coerce_value
from dsm_core.redfish.scp import (
    ProfileError,
    admin_attribute,
    edit_profile,
    is_secret_attribute,
    parse_profile,
    redact_profile,
)
from dsm_core.services.configuration_rules import (
    baseline_for,
    drift_between,
    latest_snapshot,
    recompute_drift,
)
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import NotFound, PermissionDenied, ValidationError
from dsm_core.services.groups import get_group
from dsm_core.services.jobs import audit_details, new_job
from dsm_core.services.servers import get_server
from dsm_core.services.views import row_view


def _endpoint(server: Server) -> str:
    return format_endpoint(server.ip_address, server.port)


def _registry(session: Session, server_id: uuid.UUID) -> BiosRegistry | None:
    return session.exec(select(BiosRegistry).where(BiosRegistry.server_id == server_id)).first()


# --- BIOS ----------------------------------------------------------------------------------------------------


@query("viewer")
def bios_show(session: Session, /, ref: str, attributes: list[str] | None = None) -> dict[str, Any]:
    """The last BIOS read of a server: attributes (with type and allowed values), pending values, drift."""
    server = get_server(session, ref)
    snap = latest_snapshot(session, server.id)
    registry = _registry(session, server.id)
    rules = registry.entries if registry else {}
    values = dict(snap.attributes) if snap else {}
    if attributes:
        unknown = [a for a in attributes if a not in values and a not in rules]
        if unknown:
            raise ValidationError("attribute", f"{unknown[0]!r} is not a BIOS attribute of {_endpoint(server)}",
                                  "`dsm bios show REF` lists them")
        values = {a: values.get(a) for a in attributes}
    baseline, source = baseline_for(session, server.id)
    drift = {d["attribute"]: d for d in (server.bios_drift or [])}
    rows = []
    for name in sorted(values):
        rule = rules.get(name, {})
        rows.append({"attribute": name, "value": values[name], "type": rule.get("t"), "read_only": rule.get("ro"),
                     "allowed": rule.get("v"), "lower": rule.get("lo"), "upper": rule.get("hi"),
                     "pending": (snap.pending_attributes or {}).get(name) if snap else None,
                     "baseline": baseline.attributes.get(name) if baseline else None,
                     "drift": name in drift})
    return {
        "server": _endpoint(server), "server_id": str(server.id), "bios_version": server.bios_version,
        "captured_at": snap.captured_at.isoformat() if snap else None,
        "registry": registry.registry_version if registry else None,
        "baseline": source, "drift_count": server.bios_drift_count, "attributes": rows,
    }


def _members(session: Session, group_id: uuid.UUID) -> list[Server]:
    ids = session.exec(select(col(ServerGroupMember.server_id))
                       .where(ServerGroupMember.server_group_id == group_id)
                       .order_by(col(ServerGroupMember.priority))).all()
    rows = {s.id: s for s in session.exec(select(Server).where(col(Server.id).in_(ids))).all()}
    return [rows[i] for i in ids if i in rows]


def _writable(attributes: dict[str, Any], rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What a baseline holds: the writable attributes (read-only ones are the server's own facts)."""
    return {k: v for k, v in attributes.items() if not (rules.get(k) or {}).get("ro")}


@mutation("bios.baseline", "operator")
def set_bios_baseline(tx: Tx, /, server: str | None = None, *, group: str | None = None,
                      snapshot_id: str | None = None) -> dict[str, Any]:
    """Make a server's last BIOS read (or ``snapshot_id``) the baseline of that server, or of ``group``
    (then every member is held to it). With only a group, the source is its first member by priority."""
    s = tx.session
    if not server and not group and not snapshot_id:
        raise ValidationError("server", "name a server or a group", "give REF, --group NAME or both")
    grp = get_group(s, group) if group else None
    if snapshot_id:
        try:
            snap = s.get(BiosConfiguration, uuid.UUID(snapshot_id))
        except ValueError:
            snap = None
        if snap is None or snap.snapshot_type != "current":
            raise NotFound(f"{snapshot_id!r} is not a BIOS snapshot id (`dsm bios show REF --json` names them)")
        source = s.get(Server, snap.server_id)
    else:
        if server:
            source = get_server(s, server)
        else:
            assert grp is not None
            members = _members(s, grp.id)
            if not members:
                raise ValidationError("group", f"group {grp.name} has no members", "add servers to it first")
            source = members[0]
        snap = latest_snapshot(s, source.id) if source else None
        if snap is None:
            raise ValidationError("server", f"DSM has not read the BIOS of {_endpoint(source) if source else '?'}",
                                  "read it first: `dsm bios show REF --refresh`")
    assert source is not None and snap is not None
    registry = _registry(s, source.id)
    attributes = _writable(snap.attributes, registry.entries if registry else {})
    which = select(BiosConfiguration).where(BiosConfiguration.snapshot_type == "baseline")
    if grp:
        which = which.where(BiosConfiguration.group_id == grp.id)
    else:
        which = which.where(BiosConfiguration.server_id == source.id, col(BiosConfiguration.group_id).is_(None))
    old = s.exec(which).all()
    for row in old:
        s.delete(row)
    s.flush()
    baseline = BiosConfiguration(server_id=source.id, group_id=grp.id if grp else None, snapshot_type="baseline",
                                 bios_version=snap.bios_version, attributes=attributes, job_id=snap.job_id,
                                 notes=f"baseline from {_endpoint(source)} read at {snap.captured_at.isoformat()}",
                                 created_by=tx.actor.user_id)
    s.add(baseline)
    s.flush()
    affected = [m.id for m in _members(s, grp.id)] if grp else [source.id]
    counts = recompute_drift(s, affected)
    tx.audit("bios_baseline", baseline.id, server=_endpoint(source), group=grp.name if grp else None,
             attributes=len(attributes), drifting=sum(1 for c in counts.values() if c))
    return {"baseline_id": str(baseline.id), "source": _endpoint(source), "group": grp.name if grp else None,
            "attributes": len(attributes), "servers": len(affected),
            "drifting": sum(1 for c in counts.values() if c)}


def _drift_rows(session: Session, servers: list[Server]) -> list[dict[str, Any]]:
    out = []
    for server in servers:
        _, source = baseline_for(session, server.id)
        out.append({"server": _endpoint(server), "server_id": str(server.id), "hostname": server.hostname,
                    "baseline": source, "drift_count": server.bios_drift_count,
                    "drift": list(server.bios_drift or [])})
    return out


@query("viewer")
def bios_drift(session: Session, /, group: str | None = None, servers: list[str] | None = None) -> dict[str, Any]:
    """Drift per server against its baseline: (attribute, baseline, current), as of each server's last read."""
    if group:
        rows = _members(session, get_group(session, group).id)
    elif servers:
        rows = [get_server(session, ref) for ref in servers]
    else:
        rows = list(session.exec(select(Server).order_by(col(Server.ip_address), col(Server.port))).all())
        rows = [r for r in rows if baseline_for(session, r.id)[0] is not None]
    report = _drift_rows(session, rows)
    return {"group": group, "servers": report, "drifting": sum(1 for r in report if r["drift_count"]),
            "attributes": sum(r["drift_count"] for r in report)}


@mutation("bios.apply_baseline", "operator")
def apply_bios_baseline(tx: Tx, /, group: str | None = None, *, servers: list[str] | None = None,
                        apply_time: str = "OnReset", reboot: bool = False) -> dict[str, Any]:
    """One ``bios_config_write`` per drifting server with exactly its differing attributes (baseline values,
    typed by the server's registry)."""
    s = tx.session
    if group:
        targets = _members(s, get_group(s, group).id)
    elif servers:
        targets = [get_server(s, ref) for ref in servers]
    else:
        raise ValidationError("group", "name a group or servers", "give --group NAME or REF...")
    created = []
    for server in targets:
        baseline, _ = baseline_for(s, server.id)
        current = latest_snapshot(s, server.id)
        if baseline is None or current is None:
            continue
        registry = _registry(s, server.id)
        drift = drift_between(baseline.attributes, current.attributes, registry.entries if registry else None)
        if not drift:
            continue
        job = new_job(tx, "bios_config_write", servers=[str(server.id)], details={
            "attributes": {d["attribute"]: d["baseline"] for d in drift}, "apply_time": apply_time,
            "reboot": reboot})
        created.append({"job_id": str(job.id), "server": _endpoint(server),
                        "attributes": sorted((job.details or {}).get("attributes", {}))})
    tx.audit("bios_baseline", None, group=group, servers=servers, jobs=[c["job_id"] for c in created],
             apply_time=apply_time, reboot=reboot)
    return {"jobs": created, "drifting": len(created)}


# --- SCP -----------------------------------------------------------------------------------------------------


def _backup_view(backup: ScpBackup, server: Server | None, *, text: bool = False) -> dict[str, Any]:
    view = row_view(backup, exclude=() if text else ("profile_text",))
    if text and view.get("profile_text"):
        view["profile_text"] = redact_profile(str(view["profile_text"]))  # passwords, as Dell's export shows them
    view["server"] = _endpoint(server) if server else None
    return view


@query("viewer")
def list_scp_backups(session: Session, /, server: str | None = None) -> list[dict[str, Any]]:
    stmt = select(ScpBackup, Server).join(Server, col(Server.id) == col(ScpBackup.server_id))
    if server:
        stmt = stmt.where(ScpBackup.server_id == get_server(session, server).id)
    rows = session.exec(stmt.order_by(col(ScpBackup.created_at).desc())).all()
    return [_backup_view(b, srv) for b, srv in rows]


def find_backup(session: Session, backup_id: str) -> ScpBackup:
    text = backup_id.strip().lower()
    try:
        found = session.get(ScpBackup, uuid.UUID(text))
    except ValueError:
        found = None
        if re.fullmatch(r"[0-9a-f-]{4,36}", text):
            matches = [b for b in session.exec(select(ScpBackup)).all() if str(b.id).endswith(text)]
            found = matches[0] if len(matches) == 1 else None
    if found is None:
        raise NotFound(f"{backup_id!r} is not an SCP backup (`dsm scp list` shows them)")
    return found


@query("viewer")
def show_scp_backup(session: Session, /, backup_id: str) -> dict[str, Any]:
    backup = find_backup(session, backup_id)
    return _backup_view(backup, session.get(Server, backup.server_id), text=True)


def _parse_change(text: str) -> tuple[tuple[str, str], str]:
    if "=" not in text:
        raise ValidationError("set", f"{text!r} is not ATTRIBUTE=VALUE", "write e.g. ProcVirtualization=Disabled "
                              "or NIC.Integrated.1-1-1:LegacyBootProto=PXE")
    key, value = text.split("=", 1)
    fqdd, _, attribute = key.rpartition(":")
    if not attribute:
        raise ValidationError("set", f"{text!r} names no attribute", "write ATTRIBUTE=VALUE")
    return (fqdd or "BIOS.Setup.1-1", attribute), value


@mutation("scp.edit", "operator")
def edit_scp_backup(tx: Tx, /, backup_id: str, changes: list[str]) -> dict[str, Any]:
    """A new backup: ``backup_id``'s profile with ``[FQDD:]ATTRIBUTE=VALUE`` set (BIOS.Setup.1-1 by default).
    The original is kept as exported; BIOS values are checked against the server's registry."""
    s = tx.session
    source = find_backup(s, backup_id)
    if not source.profile_text:
        raise ValidationError("backup_id", "this backup holds no profile text", "export a new one")
    if not changes:
        raise ValidationError("set", "nothing to change", "give ATTRIBUTE=VALUE")
    parsed = dict(_parse_change(c) for c in changes)
    for (fqdd, attribute) in parsed:
        if is_secret_attribute(attribute):
            raise ValidationError(f"set.{attribute}", "is a password or key: DSM would keep it in the profile, and "
                                  "show it, in clear", "set passwords on the iDRAC itself (its own user tools)")
        why = admin_attribute(fqdd, attribute)
        if why and not tx.actor.may("admin"):
            raise PermissionDenied(f"{fqdd}:{attribute} is {why}: changing it through a profile needs the admin "
                                   f"role; {tx.actor.username} is {tx.actor.role}")
    registry = _registry(s, source.server_id)
    for (fqdd, attribute), value in parsed.items():
        if fqdd == "BIOS.Setup.1-1" and registry and attribute in registry.entries:
            _, problem = coerce_value(attribute, registry.entries[attribute], value)
            if problem:
                raise ValidationError(f"set.{attribute}", problem.problem, problem.fix)
    try:
        text = edit_profile(source.profile_text, parsed)
    except ProfileError as exc:
        raise ValidationError("set", str(exc), "name a component the profile has") from None
    data = text.encode()
    backup = ScpBackup(
        server_id=source.server_id, backup_name=f"{source.backup_name[:150]} (edited)",
        description="; ".join(f"{f}:{a}={v}" for (f, a), v in parsed.items())[:2000],
        scp_content=parse_profile(text).summary(), profile_text=text, scp_file_size_bytes=len(data),
        checksum=hashlib.sha256(data).hexdigest(), export_format=source.export_format,
        include_bios=source.include_bios, include_idrac=source.include_idrac, include_nic=source.include_nic,
        include_raid=source.include_raid, exported_at=source.exported_at, created_by=tx.actor.user_id)
    s.add(backup)
    s.flush()
    tx.audit("scp_backup", backup.id, edited_from=str(source.id), changes=audit_details(
        {f"{f}:{a}": v for (f, a), v in parsed.items()}))
    return _backup_view(backup, s.get(Server, source.server_id))


# --- boot and virtual media -----------------------------------------------------------------------------------


@query("viewer")
def boot_state(session: Session, /, ref: str) -> dict[str, Any]:
    server = get_server(session, ref)
    history = session.exec(select(ServerBootConfigHistory).where(ServerBootConfigHistory.server_id == server.id)
                           .order_by(col(ServerBootConfigHistory.timestamp).desc()).limit(50)).all()
    caps = server.supported_endpoints or {}
    return {"server": _endpoint(server), "boot_mode": server.boot_mode,
            "override_target": server.boot_source_override_target,
            "override_enabled": server.boot_source_override_enabled, "boot_order": server.boot_order or [],
            "allowed_targets": caps.get("boot_targets") or [],
            "history": [row_view(h) for h in history]}


@query("viewer")
def media_state(session: Session, /, ref: str | None = None) -> list[dict[str, Any]]:
    stmt = select(VirtualMediaSession, Server).join(Server, col(Server.id) == col(VirtualMediaSession.server_id))
    if ref:
        stmt = stmt.where(VirtualMediaSession.server_id == get_server(session, ref).id)
    out = []
    for media, server in session.exec(stmt.order_by(col(VirtualMediaSession.updated_at).desc())).all():
        view = row_view(media)
        view["server"] = _endpoint(server)
        out.append(view)
    return out


@query("viewer")
def media_image_url(session: Session, /, image: str) -> str:
    """``image`` as given when it is a URL or share path; a bare file name is placed on the share of
    ``virtual_media_settings`` (its type, host, export and ISO paths)."""
    if "://" in image or image.startswith("//") or ":/" in image:
        return image
    settings = session.exec(select(VirtualMediaSettings)).first()
    if settings is None or not settings.host:
        raise ValidationError("image", f"{image!r} is a file name and no virtual media share is set",
                              "give a full URL, or set one: `dsm settings set virtual_media.host HOST`")
    folder = "/".join(p.strip("/") for p in (settings.export_path, settings.iso_path) if p and p.strip("/"))
    name = image.lstrip("/")
    if settings.share_type in ("http", "https"):
        return f"{settings.share_type}://{settings.host}/{folder + '/' if folder else ''}{name}"
    if settings.share_type == "cifs":
        return f"//{settings.host}/{folder + '/' if folder else ''}{name}"
    return f"{settings.host}:/{folder + '/' if folder else ''}{name}"

