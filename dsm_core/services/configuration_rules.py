"""What a configuration job is checked against when it is created, and BIOS drift.

A ``bios_config_write`` is refused before it is queued when any attribute is unknown to the server's BIOS
registry, read-only, of the wrong type, not an allowed value or out of range (the registry is stored by
``bios_config_read``; DSM never asks an iDRAC from the console). A boot override names a target the iDRAC
allows; a boot order is a permutation of the server's boot options. These checks run inside ``new_job``,
so every way of creating a job (CLI, console, ``jobs create``, a window) passes through them.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, select

from dsm_core.models import (
    BiosConfiguration,
    BiosRegistry,
    Job,
    Server,
    ServerGroup,
    ServerGroupMember,
    VcenterHost,
)
from dsm_core.netaddr import format_endpoint
from dsm_core.redfish.bios import validate_attributes
from dsm_core.services.errors import Conflict, ValidationError

ACTIVE = ("pending", "running")


def scope_server_ids(session: Session, scope: dict[str, Any]) -> list[uuid.UUID]:
    """The servers a scope names, as the worker will expand it (listed, group members, cluster hosts)."""
    ids = [uuid.UUID(x) for x in scope.get("servers", [])]
    if scope.get("groups"):
        ids += list(session.exec(
            select(col(ServerGroupMember.server_id))
            .where(col(ServerGroupMember.server_group_id).in_([uuid.UUID(g) for g in scope["groups"]]))
            .order_by(col(ServerGroupMember.priority))).all())
    if scope.get("clusters"):
        ids += [i for i in session.exec(select(col(VcenterHost.server_id))
                                        .where(col(VcenterHost.cluster).in_(scope["clusters"]))).all() if i]
    return list(dict.fromkeys(ids))


def _label(server: Server) -> str:
    return server.hostname or format_endpoint(server.ip_address, server.port)


def _servers(session: Session, scope: dict[str, Any]) -> list[Server]:
    ids = scope_server_ids(session, scope)
    rows = {s.id: s for s in session.exec(select(Server).where(col(Server.id).in_(ids))).all()}
    return [rows[i] for i in ids if i in rows]


def _active_jobs(session: Session, job_type: str) -> list[Job]:
    return list(session.exec(select(Job).where(Job.job_type == job_type, col(Job.status).in_(ACTIVE))).all())


def check_bios_write(session: Session, scope: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    servers = _servers(session, scope)
    typed: dict[str, Any] | None = None
    for server in servers:
        registry = session.exec(select(BiosRegistry).where(BiosRegistry.server_id == server.id)).first()
        if registry is None or not registry.entries:
            raise ValidationError(
                "details.attributes", f"DSM has no BIOS attribute registry for {_label(server)} to check against",
                f"read it first: `dsm bios show {server.ip_address} --refresh`")
        values, problems = validate_attributes(registry.entries, details["attributes"])
        if problems:
            first = problems[0]
            more = "; ".join(str(p) for p in problems[1:5])
            raise ValidationError(
                f"details.attributes.{first.attribute}",
                f"{first.problem} on {_label(server)}" + (f" (also: {more})" if more else ""), first.fix)
        typed = typed or values
    active = {str(s.id): s for s in servers}
    for job in _active_jobs(session, "bios_config_write"):
        for sid in scope_server_ids(session, job.target_scope or {}):
            if str(sid) in active:
                raise Conflict(
                    f"BIOS job {str(job.id)[-8:]} for {_label(active[str(sid)])} is still {job.status}: one BIOS "
                    "change at a time; wait for it or cancel it (`dsm jobs cancel ID`)")
    return {**details, "attributes": typed if typed is not None else details["attributes"]}


def check_boot(session: Session, scope: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    for server in _servers(session, scope):
        caps = server.supported_endpoints or {}
        allowed = caps.get("boot_targets") or []
        target = details.get("target")
        if target and allowed and target not in allowed:
            raise ValidationError("details.target", f"{target} is not a boot target {_label(server)} allows",
                                  "allowed: " + ", ".join(allowed))
        order = details.get("boot_order")
        known = server.boot_order or []
        if order is not None and known and sorted(order) != sorted(known):
            raise ValidationError(
                "details.boot_order", f"must list each of {_label(server)}'s boot options once",
                "its options: " + ", ".join(str(k) for k in known))
    return details


def check_configuration(session: Session, job_type: str, scope: dict[str, Any],
                        details: dict[str, Any]) -> dict[str, Any]:
    if job_type == "bios_config_write":
        return check_bios_write(session, scope, details)
    if job_type == "boot_configuration":
        return check_boot(session, scope, details)
    return details


# --- drift -------------------------------------------------------------------------------------------------


def drift_between(baseline: dict[str, Any], current: dict[str, Any],
                  registry: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Attributes whose current value differs from the baseline, sorted by name. Read-only attributes (model,
    service tag, versions) are never drift; an attribute the server does not have is not compared."""
    out = []
    for name in sorted(baseline):
        rule = (registry or {}).get(name)
        if rule is not None and rule.get("ro"):
            continue
        if name not in current:
            continue
        if str(current[name]) != str(baseline[name]):
            out.append({"attribute": name, "baseline": baseline[name], "current": current[name]})
    return out


def baseline_for(session: Session, server_id: uuid.UUID) -> tuple[BiosConfiguration | None, str | None]:
    """The baseline a server is held to: its own, else the first of its groups' (by group name)."""
    own = session.exec(select(BiosConfiguration).where(
        BiosConfiguration.server_id == server_id, BiosConfiguration.snapshot_type == "baseline",
        col(BiosConfiguration.group_id).is_(None))).first()
    if own is not None:
        return own, "server"
    row = session.exec(
        select(BiosConfiguration, ServerGroup.name)
        .join(ServerGroup, col(ServerGroup.id) == col(BiosConfiguration.group_id))
        .join(ServerGroupMember, col(ServerGroupMember.server_group_id) == col(ServerGroup.id))
        .where(ServerGroupMember.server_id == server_id, BiosConfiguration.snapshot_type == "baseline")
        .order_by(col(ServerGroup.name))).first()
    if row is None:
        return None, None
    return row[0], f"group {row[1]}"


def latest_snapshot(session: Session, server_id: uuid.UUID) -> BiosConfiguration | None:
    return session.exec(select(BiosConfiguration).where(
        BiosConfiguration.server_id == server_id, BiosConfiguration.snapshot_type == "current",
        col(BiosConfiguration.group_id).is_(None)).order_by(col(BiosConfiguration.captured_at).desc())).first()


def recompute_drift(session: Session, server_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Store each server's drift against its baseline (from its latest read); returns the counts."""
    counts: dict[uuid.UUID, int] = {}
    for sid in server_ids:
        server = session.get(Server, sid)
        if server is None:
            continue
        baseline, _ = baseline_for(session, sid)
        current = latest_snapshot(session, sid)
        registry = session.exec(select(BiosRegistry).where(BiosRegistry.server_id == sid)).first()
        drift = (drift_between(baseline.attributes, current.attributes, registry.entries if registry else None)
                 if baseline is not None and current is not None else [])
        server.bios_drift, server.bios_drift_count = (drift or None), len(drift)
        session.add(server)
        counts[sid] = len(drift)
    return counts
