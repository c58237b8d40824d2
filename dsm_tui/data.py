"""Lean read models for the screens: plain dataclasses, never live ORM objects.

Every function here runs in a thread worker (never on the event loop) and returns data the UI can
keep: nothing in it touches a session after it returns. Lists that can be large (servers, activity)
are read as column tuples, not ORM objects, so 50,000 rows load in a fraction of a second; the
activity log is read a page at a time by keyset on (timestamp, id), never with OFFSET.
"""

from __future__ import annotations

import dataclasses
import gc
import ipaddress
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsm_core.credentials.resolution import ServerCredentialFacts, resolve
from dsm_core.db.engine import read_scope
from dsm_core.db.hidden import sealed_or_marker
from dsm_core.firmware.compliance import decode_components
from dsm_core.models import (
    ActivitySettings,
    CredentialSet,
    FirmwareInventory,
    IdracCommand,
    Job,
    JobTask,
    Server,
    ServerEventLog,
    ServerGroup,
    ServerGroupMember,
    ServerHealth,
    User,
    VcenterHost,
    WorkerHeartbeat,
    WorkflowExecution,
)
from dsm_core.services.credentials import load_candidates
from dsm_core.services.jobs import waiting_reasons
from dsm_core.text import visible
from dsm_core.timeutil import as_utc, utcnow

Clock = Callable[[], datetime]

WORKER_DOWN_AFTER = timedelta(seconds=30)
"""A worker beats every few seconds; 30 s without a beat means it is gone (or wedged)."""

ACTIVE = ("pending", "running")


MULTILINE_FIELDS = frozenset({"log", "full_error"})
S = TypeVar("S")


def shown(value: S, field_name: str = "") -> S:
    """A read model with every string in it made visible (``dsm_core.text.visible``), nested ones too: what
    a detail pane or a modal shows came from iDRACs, CSVs and operators, and is shown as text."""
    out: Any = value
    if isinstance(value, str):
        out = visible(value, multiline=field_name in MULTILINE_FIELDS)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: shown(getattr(value, f.name), f.name) for f in dataclasses.fields(value) if f.init}
        out = dataclasses.replace(value, **changes)
    elif isinstance(value, dict):
        out = {shown(k): shown(v, str(k)) for k, v in value.items()}
    elif isinstance(value, list | tuple):
        out = type(value)(shown(v, field_name) for v in value)
    return cast(S, out)


def _t(value: datetime | None) -> datetime | None:
    return as_utc(value)


# --- workers ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    hostname: str
    pid: int
    status: str
    last_beat_at: datetime
    running_jobs: int
    alive: bool


@dataclass(frozen=True, slots=True)
class WorkerSummary:
    workers: tuple[WorkerBeat, ...]
    now: datetime

    @property
    def alive(self) -> tuple[WorkerBeat, ...]:
        return tuple(w for w in self.workers if w.alive)

    @property
    def state(self) -> str:
        """up, paused or down: what the header shows."""
        alive = self.alive
        if not alive:
            return "down"
        if all(w.status == "paused" for w in alive):
            return "paused"
        return "up"


def worker_summary(engine: Engine, now: datetime) -> WorkerSummary:
    since = now - timedelta(hours=24)
    stmt = (
        sa.select(
            col(WorkerHeartbeat.hostname),
            col(WorkerHeartbeat.pid),
            col(WorkerHeartbeat.status),
            col(WorkerHeartbeat.last_beat_at),
            col(WorkerHeartbeat.running_jobs),
        )
        .where(col(WorkerHeartbeat.last_beat_at) >= since)
        .order_by(col(WorkerHeartbeat.last_beat_at).desc())
    )
    out = []
    with read_scope(engine) as session:
        for host, pid, status, beat, running in session.execute(stmt):
            beat = _t(beat) or now
            alive = status != "stopped" and now - beat <= WORKER_DOWN_AFTER
            out.append(WorkerBeat(host, pid, status, beat, len(running or []), alive))
    return WorkerSummary(tuple(out), now)


# --- servers -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class ServerRow:
    id: uuid.UUID
    hostname: str
    ip: str
    port: int
    service_tag: str
    model: str
    health: str
    power: str
    connection: str
    idrac_fw: str
    bios: str
    groups: str
    cluster: str
    """The vCenter cluster of the ESXi host on this server (once a vcenter_sync has linked them)."""
    last_seen_raw: Any
    """As read (ISO text on SQLite, a datetime on PostgreSQL): parsed when shown, not 50,000 times at load."""
    updated_at_raw: Any
    drift: int = 0
    """BIOS attributes that differ from the server's baseline (0 without a baseline)."""
    job: str = ""
    """The server's current (or just finished) job: "refresh 40%", "✓ health_check"."""
    haystack: str = ""
    ip_key: tuple[int, ...] = ()

    @property
    def key(self) -> uuid.UUID:
        return self.id

    @property
    def last_seen(self) -> datetime | None:
        return _when(self.last_seen_raw)

    @property
    def updated_at(self) -> datetime | None:
        return _when(self.updated_at_raw)

    @property
    def address(self) -> str:
        return self.ip if self.port == 443 else f"{self.ip}:{self.port}"

    @property
    def name(self) -> str:
        """What the operator calls it: the hostname, else the service tag (a discovered iDRAC has no
        hostname yet), else the address."""
        return self.hostname or self.service_tag or self.address

    def index(self) -> None:
        """Lower-cased text of every column, built once so a filter keystroke over 50,000 rows is cheap."""
        self.haystack = "\x1f".join(
            (
                self.hostname,
                self.address,
                self.service_tag,
                self.model,
                self.health,
                self.power,
                self.connection,
                self.idrac_fw,
                self.bios,
                self.groups,
                self.cluster,
            )
        ).lower()


_SERVER_COLUMNS = (
    # Read raw (no SQLAlchemy result processing): at 50,000 rows the per-value conversions are most of
    # the cost, and _uuid/_when below do the same job in a fraction of the time, on either database.
    sa.type_coerce(col(Server.id), sa.String),
    col(Server.hostname),
    col(Server.ip_address),
    col(Server.port),
    col(Server.service_tag),
    col(Server.model),
    col(Server.overall_health),
    col(Server.power_state),
    col(Server.connection_status),
    col(Server.idrac_firmware),
    col(Server.bios_version),
    sa.type_coerce(col(Server.last_seen), sa.String),
    sa.type_coerce(col(Server.updated_at), sa.String),
    col(Server.bios_drift_count),
)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _when(value: Any) -> datetime | None:
    """A stored UTC timestamp: a datetime (PostgreSQL) or its ISO text (SQLite)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)


def ip_sort_key(ip: str, port: int) -> tuple[int, ...]:
    """Numeric address order (10.0.0.2 before 10.0.0.10); IPv6 after IPv4."""
    try:
        if "." in ip:
            a, b, c, d = ip.split(".")
            return (4, int(a), int(b), int(c), int(d), port)
        return (6, int(ipaddress.ip_address(ip)), port)
    except ValueError:
        return (9, port)


def _group_names(session: Any, ids: Sequence[uuid.UUID] | None) -> dict[uuid.UUID, str]:
    stmt = sa.select(col(ServerGroupMember.server_id), col(ServerGroup.name)).join(
        ServerGroup, col(ServerGroup.id) == col(ServerGroupMember.server_group_id)
    )
    if ids is not None:
        stmt = stmt.where(col(ServerGroupMember.server_id).in_(ids))
    names: dict[uuid.UUID, list[str]] = {}
    for sid, name in session.execute(stmt.order_by(col(ServerGroup.name))):
        names.setdefault(sid, []).append(name)
    return {sid: ",".join(v) for sid, v in names.items()}


def _cluster_names(session: Any, ids: Sequence[uuid.UUID] | None) -> dict[uuid.UUID, str]:
    stmt = sa.select(col(VcenterHost.server_id), col(VcenterHost.cluster)).where(
        col(VcenterHost.server_id).is_not(None), col(VcenterHost.cluster).is_not(None)
    )
    if ids is not None:
        stmt = stmt.where(col(VcenterHost.server_id).in_(ids))
    return {sid: cluster for sid, cluster in session.execute(stmt)}


def server_jobs(engine: Engine, now: datetime, recent: timedelta = timedelta(minutes=2)) -> dict[uuid.UUID, str]:
    """What each server is doing: its active job tasks, and those finished in the last minutes."""
    stmt = (
        sa.select(
            col(JobTask.server_id),
            col(Job.job_type),
            col(JobTask.status),
            col(JobTask.progress),
            col(JobTask.completed_at),
        )
        .join(Job, col(Job.id) == col(JobTask.job_id))
        .where(
            col(JobTask.server_id).is_not(None),
            sa.or_(col(JobTask.status).in_(ACTIVE), col(JobTask.completed_at) >= now - recent),
        )
        .order_by(col(JobTask.created_at))
    )
    out: dict[uuid.UUID, str] = {}
    active: set[uuid.UUID] = set()
    with read_scope(engine) as session:
        for sid, job_type, status, progress, _done in session.execute(stmt):
            label = {"pending": "… ", "running": "⟳ ", "completed": "✓ ", "failed": "✗ ", "cancelled": "⊘ "}[status]
            text = label + job_type.replace("_", " ")
            if status == "running":
                text += f" {progress}%"
            # The newest task of a server is shown, but an active one wins over any finished one.
            if status in ACTIVE or sid not in active:
                out[sid] = text
            if status in ACTIVE:
                active.add(sid)
        # A job not yet claimed has no tasks: its targets come from its scope.
        queued = session.execute(
            sa.select(col(Job.job_type), col(Job.target_scope))
            .where(col(Job.status) == "pending")
            .order_by(col(Job.created_at))
        ).all()
        group_ids = {g for _t, scope in queued for g in (scope or {}).get("groups", [])}
        members: dict[str, list[uuid.UUID]] = {}
        if group_ids:
            for gid, sid in session.execute(
                sa.select(col(ServerGroupMember.server_group_id), col(ServerGroupMember.server_id)).where(
                    col(ServerGroupMember.server_group_id).in_([uuid.UUID(g) for g in group_ids])
                )
            ):
                members.setdefault(str(gid), []).append(sid)
    for job_type, scope in queued:
        scope = scope or {}
        targets = [uuid.UUID(s) for s in scope.get("servers", [])]
        targets += [sid for g in scope.get("groups", []) for sid in members.get(g, [])]
        for sid in targets:
            if sid not in out or not out[sid].startswith(("… ", "⟳ ")):
                out[sid] = "… " + job_type.replace("_", " ")
    return out


def load_servers(engine: Engine, since: datetime | None = None) -> list[ServerRow]:
    """All servers, or only those changed since ``since`` (the next poll's incremental read)."""
    # Building 50,000 rows allocates enough to set off the cyclic collector many times over, for
    # nothing: rows hold no cycles. Pausing it halves the load time on a large fleet.
    enabled = gc.isenabled()
    gc.disable()
    try:
        rows = _load_servers(engine, since)
        if since is None:
            # The fleet stays in memory for the session: keep the collector from walking it at every
            # later collection (each walk of 50,000 rows is a visible stall while typing).
            gc.freeze()
        return rows
    finally:
        if enabled:
            gc.enable()


def _load_servers(engine: Engine, since: datetime | None) -> list[ServerRow]:
    stmt = sa.select(*_SERVER_COLUMNS)
    if since is not None:
        stmt = stmt.where(col(Server.updated_at) >= since)  # >=: a row committed in the same tick is not lost
    rows: list[ServerRow] = []
    with read_scope(engine) as session:
        # Core, not the ORM: plain tuples without ORM row loading (half the cost at 50,000 rows).
        result = session.connection().execute(stmt).all()
        changed = None if since is None else [_uuid(r[0]) for r in result]
        groups = _group_names(session, changed) if result else {}
        clusters = _cluster_names(session, changed) if result else {}
    for raw_id, host, ip, port, tag, model, health, power, conn, fw, bios, seen, upd, drift in result:
        sid = _uuid(raw_id)
        row = ServerRow(
            sid,
            host or "",
            ip,
            port,
            tag or "",
            model or "",
            health or "",
            power or "",
            conn or "",
            fw or "",
            bios or "",
            groups.get(sid, ""),
            clusters.get(sid, ""),
            seen,
            upd,
            drift or 0,
            ip_key=ip_sort_key(ip, port),
        )
        row.index()
        rows.append(row)
    # Sorted here, in the thread: the table's own sort by address then finds the work done.
    rows.sort(key=lambda r: r.ip_key)
    return rows


def newest_update(rows: Sequence[ServerRow]) -> datetime | None:
    """The latest updated_at among rows, comparing them as read (ISO text sorts like the time)."""
    raw = [r.updated_at_raw for r in rows if r.updated_at_raw is not None]
    return _when(max(raw)) if raw else None


def all_server_ids(engine: Engine) -> set[uuid.UUID]:
    with read_scope(engine) as session:
        return set(session.execute(sa.select(col(Server.id))).scalars())


@dataclass(frozen=True, slots=True)
class HealthPoint:
    timestamp: datetime
    overall: str
    power: str
    parts: dict[str, str]
    temperature: float | None


@dataclass(frozen=True, slots=True)
class FirmwareItem:
    name: str
    version: str
    status: str
    updateable: bool | None
    state: str = ""
    """Against the (first) synced catalog: upgrade, downgrade, compliant, not_in_catalog; empty when none."""
    available: str = ""
    criticality: str = ""


@dataclass(frozen=True, slots=True)
class EventItem:
    timestamp: datetime
    severity: str
    message_id: str
    message: str
    log_type: str


@dataclass(frozen=True, slots=True)
class ServerJob:
    job_id: uuid.UUID
    job_type: str
    status: str
    progress: int
    created_at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class ServerDetail:
    id: uuid.UUID
    identity: dict[str, str]
    credential_source: str
    health: tuple[HealthPoint, ...]
    sensors: dict[str, Any]
    firmware: tuple[FirmwareItem, ...]
    events: tuple[EventItem, ...]
    jobs: tuple[ServerJob, ...]


def server_detail(engine: Engine, server_id: uuid.UUID) -> ServerDetail | None:
    with read_scope(engine) as session:
        s = session.get(Server, server_id)
        if s is None:
            return None
        groups = _group_names(session, [s.id]).get(s.id, "")
        identity = {
            "hostname": s.hostname or "",
            "address": f"{s.ip_address}:{s.port}",
            "service tag": s.service_tag or "",
            "model": s.model or "",
            "product": s.product_name or "",
            "iDRAC": f"{s.idrac_generation or '?'}G firmware {s.idrac_firmware or '?'}"
            + (f", Redfish {s.redfish_version}" if s.redfish_version else ""),
            "BIOS": s.bios_version or "",
            # Memory as iDRACs report it (TotalSystemMemoryGiB): binary units, "512 GiB" rather than "550 GB".
            "CPUs / memory": f"{s.cpu_count or '?'} / " + (f"{s.memory_gb:g} GiB" if s.memory_gb else "?"),
            "power": s.power_state or "",
            "connection": s.connection_status + (f" ({s.connection_error})" if s.connection_error else ""),
            "TLS": s.tls_verify_mode + (" (pinned)" if s.tls_fingerprint_sha256 else ""),
            "groups": groups,
            "last seen": _fmt_time(_t(s.last_seen)),
        }
        facts = ServerCredentialFacts(s.ip_address, s.idrac_username, sealed_or_marker(s, "idrac_password_sealed"),
                                      s.credential_set_id)
        resolved = resolve(facts, load_candidates(session), {})
        if resolved is None:
            cred = "none applies (the worker's IDRAC_DEFAULT_USER, if set)"
        elif resolved.source == "server":
            cred = f"server's own ({resolved.username})"
        else:
            cred = f"{resolved.source.replace('_', ' ')}: {resolved.set_name} ({resolved.username})"
        health_rows = (
            session.execute(
                sa.select(ServerHealth)
                .where(col(ServerHealth.server_id) == s.id)
                .order_by(col(ServerHealth.timestamp).desc())
                .limit(HEALTH_TREND)
            )
            .scalars()
            .all()
        )
        health = tuple(
            HealthPoint(
                _t(h.timestamp) or utcnow(),
                h.overall_health or "",
                h.power_state or "",
                {
                    k: v
                    for k, v in (
                        ("cpu", h.cpu_health),
                        ("memory", h.memory_health),
                        ("storage", h.storage_health),
                        ("fans", h.fan_health),
                        ("psu", h.psu_health),
                        ("network", h.network_health),
                    )
                    if v
                },
                h.temperature_celsius,
            )
            for h in health_rows
        )
        sensors = dict(health_rows[0].sensors or {}) if health_rows else {}
        from dsm_core.models import FirmwareCompliance

        compliance = session.execute(
            sa.select(col(FirmwareCompliance.components)).where(col(FirmwareCompliance.server_id) == s.id)
            .order_by(col(FirmwareCompliance.computed_at).desc()).limit(1)
        ).scalar()
        by_inventory = {c.get("inventory_id"): c for c in decode_components(compliance)}
        firmware = tuple(
            FirmwareItem(f.name or f.inventory_id, f.version or "", f.status or "", f.updateable,
                         str(by_inventory.get(f.inventory_id, {}).get("state") or ""),
                         str(by_inventory.get(f.inventory_id, {}).get("available") or ""),
                         str(by_inventory.get(f.inventory_id, {}).get("criticality") or ""))
            for f in session.execute(
                sa.select(FirmwareInventory)
                .where(col(FirmwareInventory.server_id) == s.id)
                .order_by(col(FirmwareInventory.name))
            ).scalars()
        )
        events = tuple(
            EventItem(_t(e.timestamp) or utcnow(), e.severity or "", e.message_id or "", e.message or "", e.log_type)
            for e in session.execute(
                sa.select(ServerEventLog)
                .where(col(ServerEventLog.server_id) == s.id)
                .order_by(col(ServerEventLog.timestamp).desc())
                .limit(50)
            ).scalars()
        )
        jobs = tuple(
            ServerJob(jid, jt, st, pr, _t(ca) or utcnow(), err or "")
            for jid, jt, st, pr, ca, err in session.execute(
                sa.select(
                    col(Job.id),
                    col(Job.job_type),
                    col(JobTask.status),
                    col(JobTask.progress),
                    col(Job.created_at),
                    col(JobTask.error),
                )
                .join(Job, col(Job.id) == col(JobTask.job_id))
                .where(col(JobTask.server_id) == s.id)
                .order_by(col(Job.created_at).desc())
                .limit(20)
            )
        )
    return shown(ServerDetail(s.id, identity, cred, health, sensors, firmware, events, jobs))


# --- configuration (the detail's BIOS, boot, media and SCP tabs) ---------------------------------------


@dataclass(frozen=True, slots=True)
class BiosAttr:
    name: str
    value: str
    pending: str
    baseline: str
    drift: bool
    kind: str
    allowed: str


@dataclass(frozen=True, slots=True)
class BackupItem:
    backup_id: uuid.UUID
    name: str
    fmt: str
    size: int
    sha256: str
    exported_at: datetime | None
    valid: bool
    linked_job: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class ServerConfig:
    server_id: uuid.UUID
    bios_read_at: datetime | None
    baseline: str
    drift: int
    bios: tuple[BiosAttr, ...]
    boot: dict[str, str]
    boot_order: tuple[str, ...]
    boot_history: tuple[tuple[datetime, str, str], ...]
    media: tuple[tuple[str, str, bool, datetime | None], ...]
    backups: tuple[BackupItem, ...]


def server_config(engine: Engine, server_id: uuid.UUID) -> ServerConfig | None:
    """What the BIOS, boot, virtual media and SCP tabs show: as DSM last read it (never the live iDRAC)."""
    from dsm_core.models import BiosRegistry, ScpBackup, ServerBootConfigHistory, VirtualMediaSession
    from dsm_core.services.configuration_rules import baseline_for, latest_snapshot

    with read_scope(engine) as session:
        s = session.get(Server, server_id)
        if s is None:
            return None
        snap = latest_snapshot(session, s.id)
        base, source = baseline_for(session, s.id)
        registry = session.execute(sa.select(BiosRegistry).where(col(BiosRegistry.server_id) == s.id)).scalar()
        rules = registry.entries if registry else {}
        drifting = {d["attribute"] for d in (s.bios_drift or [])}
        pending = (snap.pending_attributes or {}) if snap else {}
        bios = tuple(
            BiosAttr(name, str(value), str(pending.get(name, "")), str(base.attributes.get(name, "")) if base else "",
                     name in drifting, str(rules.get(name, {}).get("t", "")),
                     ", ".join(rules.get(name, {}).get("v", [])[:12]))
            for name, value in sorted((snap.attributes if snap else {}).items())
        )
        caps = s.supported_endpoints or {}
        boot = {"override": f"{s.boot_source_override_target or '-'} ({s.boot_source_override_enabled or '-'})",
                "mode": s.boot_mode or "-", "allowed": ", ".join(caps.get("boot_targets") or []) or "unknown",
                "BIOS boot mode": str((snap.attributes if snap else {}).get("BootMode", "-"))}
        history = tuple(
            (_t(h.timestamp) or utcnow(), f"{h.boot_source_override_target or '-'} ({h.boot_source_override_enabled})",
             ", ".join(str(x) for x in (h.boot_order or [])[:6]))
            for h in session.execute(sa.select(ServerBootConfigHistory)
                                     .where(col(ServerBootConfigHistory.server_id) == s.id)
                                     .order_by(col(ServerBootConfigHistory.timestamp).desc()).limit(10)).scalars()
        )
        media = tuple(
            (m.media_type, m.remote_image_url, m.is_mounted, _t(m.mounted_at))
            for m in session.execute(sa.select(VirtualMediaSession)
                                     .where(col(VirtualMediaSession.server_id) == s.id)
                                     .order_by(col(VirtualMediaSession.updated_at).desc()).limit(20)).scalars()
        )
        backups = tuple(
            BackupItem(b.id, b.backup_name, b.export_format, b.scp_file_size_bytes or 0, b.checksum or "",
                       _t(b.exported_at), b.is_valid, b.export_job_id)
            for b in session.execute(sa.select(ScpBackup).where(col(ScpBackup.server_id) == s.id)
                                     .order_by(col(ScpBackup.created_at).desc()).limit(50)).scalars()
        )
        return shown(ServerConfig(s.id, _t(snap.captured_at) if snap else None, source or "none", s.bios_drift_count,
                                  bios, boot, tuple(str(x) for x in (s.boot_order or [])), history, media, backups))


# --- jobs ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class JobRow:
    id: uuid.UUID
    job_type: str
    status: str
    progress: int
    targets: str
    user: str
    created_at: datetime
    updated_at: datetime
    error: str
    haystack: str = ""

    @property
    def key(self) -> uuid.UUID:
        return self.id

    @property
    def short_id(self) -> str:
        return self.id.hex[-8:]

    def index(self) -> None:
        self.haystack = "\x1f".join(
            (self.short_id, self.job_type, self.status, self.targets, self.user, self.error)
        ).lower()


def describe_scope(
    scope: dict[str, Any] | None, details: dict[str, Any] | None, names: dict[str, str] | None = None
) -> str:
    """ "3 servers", "web01", "10.0.0.0/24": what a job is aimed at, in one cell."""
    scope = scope or {}
    parts: list[str] = []
    servers = scope.get("servers") or []
    if len(servers) == 1 and names and servers[0] in names:
        parts.append(names[servers[0]])
    elif servers:
        parts.append(f"{len(servers)} server{'s' if len(servers) != 1 else ''}")
    for key in ("groups", "clusters"):
        if scope.get(key):
            n = len(scope[key])
            parts.append(f"{n} {key[:-1]}{'s' if n != 1 else ''}")
    if not parts and details:
        if details.get("ranges"):
            parts.append(",".join(details["ranges"]))
        elif details.get("address"):
            parts.append(str(details["address"]))
    return " + ".join(parts) or "—"


def _job_rows(engine: Engine, where: Any = None, order: Any = None, limit: int | None = None,
              now: datetime | None = None) -> list[JobRow]:
    """Jobs as rows, with a one-server job's target named by its hostname (as operators know it)."""
    stmt = sa.select(
        col(Job.id),
        col(Job.job_type),
        col(Job.status),
        col(Job.progress),
        col(Job.target_scope),
        col(Job.details),
        col(User.username),
        col(Job.created_at),
        col(Job.updated_at),
        col(Job.error),
    ).outerjoin(User, col(User.id) == col(Job.created_by))
    if where is not None:
        stmt = stmt.where(where)
    if order is not None:
        stmt = stmt.order_by(order)
    if limit is not None:
        stmt = stmt.limit(limit)
    with read_scope(engine) as session:
        result = session.execute(stmt).all()
        single = {r[4]["servers"][0] for r in result if r[4] and len(r[4].get("servers") or []) == 1}
        names: dict[str, str] = {}
        if single:
            for sid, host, ip in session.execute(
                sa.select(col(Server.id), col(Server.hostname), col(Server.ip_address)).where(
                    col(Server.id).in_([uuid.UUID(s) for s in single])
                )
            ):
                names[str(sid)] = host or ip
        waiting = waiting_reasons(session, [(r[0], r[1], r[2]) for r in result], now)
    rows = []
    for jid, jt, st, pr, scope, details, user, created, updated, err in result:
        row = JobRow(
            jid,
            jt,
            st,
            pr,
            describe_scope(scope, details, names),
            user or "system",
            _t(created) or utcnow(),
            _t(updated) or utcnow(),
            (err or "").splitlines()[0] if err else waiting.get(jid, ""),
        )
        row.index()
        rows.append(row)
    return rows


def load_jobs(engine: Engine, since: datetime | None = None, limit: int = 1000,
              now: datetime | None = None) -> list[JobRow]:
    """The newest jobs, or those written since ``since`` (by updated_at, which every write bumps)."""
    if since is None:
        return _job_rows(engine, order=col(Job.created_at).desc(), limit=limit, now=now)
    # >=: a job written in the same clock tick as the last read is read again, never missed.
    return _job_rows(engine, col(Job.updated_at) >= since, col(Job.updated_at).desc(), limit, now)


def load_jobs_by_id(engine: Engine, ids: Sequence[uuid.UUID], now: datetime | None = None) -> list[JobRow]:
    return _job_rows(engine, col(Job.id).in_(list(ids)), now=now)


@dataclass(slots=True)
class TaskRow:
    id: uuid.UUID
    target: str
    status: str
    progress: int
    attempts: int
    log: str
    error: str
    started_at: datetime | None
    completed_at: datetime | None
    haystack: str = ""

    @property
    def key(self) -> uuid.UUID:
        return self.id


@dataclass(frozen=True, slots=True)
class StepRow:
    number: int
    name: str
    status: str
    target: str
    error: str
    server: str = ""
    now: str = ""
    """What the step is doing: the Dell job it follows (state, percent, message), or its last note."""
    workflow: str = ""
    """The workflow the row belongs to: a rolling update's host steps, or the firmware steps inside them."""
    elapsed: float | None = None
    """Seconds the step ran (so far, when running)."""
    server_id: uuid.UUID | None = None


def step_progress(details: dict[str, Any] | None) -> str:
    """The live line of a step: the Dell job not yet finished, else the last thing the step noted."""
    if not details:
        return ""
    jobs = [u for u in details.get("updates", []) if isinstance(u, dict)]
    if isinstance(details.get("repository_job"), dict):
        jobs.insert(0, details["repository_job"])
    for u in jobs:
        job = u.get("dell_job") if isinstance(u.get("dell_job"), dict) else None
        if job and job.get("outcome") not in ("completed", "already_compliant"):
            pct = f" {job['percent']}%" if job.get("percent") is not None else ""
            return f"{u.get('name') or ''}: {job.get('job_id')} {job.get('state')}{pct} {job.get('message') or ''}"
    notes = details.get("notes")
    return str(notes[-1]) if isinstance(notes, list) and notes else ""


@dataclass(frozen=True, slots=True)
class JobDetail:
    job: JobRow
    details: dict[str, Any]
    started_at: datetime | None
    completed_at: datetime | None
    cancel_requested: bool
    attempts: int
    full_error: str
    tasks: tuple[TaskRow, ...]
    steps: tuple[StepRow, ...]
    children: tuple[JobRow, ...] = ()
    """Jobs this one started (a rolling update's per-host steps): each with its status."""


def job_detail(engine: Engine, job_id: uuid.UUID, now: datetime | None = None) -> JobDetail | None:
    rows = {r.id: r for r in load_jobs_by_id(engine, [job_id], now)}
    if job_id not in rows:
        return None
    with read_scope(engine) as session:
        job = session.get(Job, job_id)
        if job is None:
            return None
        names = {
            sid: host or ip
            for sid, host, ip in session.execute(
                sa.select(col(Server.id), col(Server.hostname), col(Server.ip_address))
                .join(JobTask, col(JobTask.server_id) == col(Server.id))
                .where(col(JobTask.job_id) == job_id)
            )
        }
        tasks = tuple(
            TaskRow(
                t.id,
                names.get(t.server_id, "") if t.server_id else (t.target or "—"),
                t.status,
                t.progress,
                t.attempts,
                t.log or "",
                t.error or "",
                _t(t.started_at),
                _t(t.completed_at),
            )
            for t in session.execute(
                sa.select(JobTask).where(col(JobTask.job_id) == job_id).order_by(col(JobTask.created_at))
            ).scalars()
        )
        clock = now or utcnow()
        steps = tuple(
            StepRow(w.step_number, w.step_name, w.step_status, w.cluster_id or "", w.step_error or "",
                    names.get(w.server_id, "") if w.server_id else "", step_progress(w.step_details),
                    w.workflow_type,
                    ((w.step_completed_at or clock) - w.step_started_at).total_seconds()
                    if w.step_started_at and w.step_status in ("running", "completed", "failed") else None,
                    w.server_id)
            for w in session.execute(
                sa.select(WorkflowExecution)
                .where(col(WorkflowExecution.job_id) == job_id)
                .order_by(col(WorkflowExecution.server_id), col(WorkflowExecution.step_number))
            ).scalars()
        )
    children = tuple(_job_rows(engine, col(Job.parent_job_id) == job_id, col(Job.created_at), now=now))
    return shown(JobDetail(
        rows[job_id],
        dict(job.details or {}),
        _t(job.started_at),
        _t(job.completed_at),
        job.cancel_requested,
        job.attempts,
        job.error or "",
        tasks,
        steps,
        children,
    ))


# --- activity ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class ActivityRow:
    id: uuid.UUID
    timestamp: datetime
    method: str
    endpoint: str
    status_code: int | None
    latency_ms: int | None
    success: bool
    error: str
    source: str
    server: str
    job_id: uuid.UUID | None
    haystack: str = ""

    @property
    def key(self) -> uuid.UUID:
        return self.id


@dataclass(frozen=True)
class ActivityFilter:
    """What the activity view narrows to; applied in SQL so 1,000,000 rows cost the same as 100."""

    server: str | None = None
    job: str | None = None
    errors_only: bool = False
    slow_ms: int | None = None
    text: str | None = None


def completion_names(engine: Engine) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Credential set and group names, for the forms' completion."""
    with read_scope(engine) as session:
        sets = tuple(session.execute(sa.select(col(CredentialSet.name)).order_by(col(CredentialSet.name))).scalars())
        groups = tuple(session.execute(sa.select(col(ServerGroup.name)).order_by(col(ServerGroup.name))).scalars())
    return sets, groups


HEALTH_TREND = 60
"""Health checks the detail pane draws as a trend (`dsm servers health REF --history` has all of them)."""

SLOW_DEFAULT_MS = 5000
"""The model's default for activity.slow_command_threshold_ms, until the setting is read."""


def slow_threshold_ms(engine: Engine) -> int:
    from dsm_core.services.history import slow_threshold_ms as read

    with read_scope(engine) as session:
        return read(session)


def _activity_where(session: Any, flt: ActivityFilter) -> list[Any]:
    where: list[Any] = []
    if flt.server:
        needle = flt.server.lower()
        ids = list(
            session.execute(
                sa.select(col(Server.id)).where(
                    sa.or_(
                        sa.func.lower(col(Server.hostname)).contains(needle),
                        col(Server.ip_address).contains(needle),
                        sa.func.lower(col(Server.service_tag)) == needle,
                    )
                )
            ).scalars()
        )
        where.append(col(IdracCommand.server_id).in_(ids))
    if flt.job:
        prefix = flt.job.lower().replace("-", "")
        jobs = [
            j
            for j in session.execute(sa.select(col(Job.id)).order_by(col(Job.created_at).desc()).limit(5000)).scalars()
            if j.hex.startswith(prefix) or j.hex.endswith(prefix)
        ]
        where.append(col(IdracCommand.job_id).in_(jobs))
    if flt.errors_only:
        where.append(col(IdracCommand.success).is_(False))
    if flt.slow_ms is not None:
        where.append(col(IdracCommand.response_time_ms) >= flt.slow_ms)
    if flt.text:
        where.append(col(IdracCommand.endpoint).contains(flt.text))
    return where


def activity_page(
    engine: Engine,
    flt: ActivityFilter,
    *,
    before: tuple[datetime, uuid.UUID] | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 200,
) -> list[ActivityRow]:
    """Newest first. ``before``: the next older page; ``after``: what arrived since (the live tail)."""
    cols = (
        col(IdracCommand.id),
        col(IdracCommand.timestamp),
        col(IdracCommand.command_type),
        col(IdracCommand.endpoint),
        col(IdracCommand.status_code),
        col(IdracCommand.response_time_ms),
        col(IdracCommand.success),
        col(IdracCommand.error_message),
        col(IdracCommand.source),
        col(IdracCommand.server_id),
        col(IdracCommand.job_id),
        sa.func.substr(col(IdracCommand.full_url), 1, 80),
    )
    with read_scope(engine) as session:
        stmt = sa.select(*cols).where(*_activity_where(session, flt))
        ts, ident = col(IdracCommand.timestamp), col(IdracCommand.id)
        # Row-value comparison: SQLAlchemy binds each value with its column's type (UTC time, UUID).
        if before is not None:
            stmt = stmt.where(sa.tuple_(ts, ident) < sa.tuple_(*before))
        if after is not None:
            stmt = stmt.where(sa.tuple_(ts, ident) > sa.tuple_(*after))
        stmt = stmt.order_by(ts.desc(), ident.desc()).limit(limit)
        result = session.execute(stmt).all()
        server_ids = {r[9] for r in result if r[9] is not None}
        names = (
            {
                sid: host or ip
                for sid, host, ip in session.execute(
                    sa.select(col(Server.id), col(Server.hostname), col(Server.ip_address)).where(
                        col(Server.id).in_(server_ids)
                    )
                )
            }
            if server_ids
            else {}
        )
    return [
        ActivityRow(i, _t(t) or utcnow(), m, ep, sc, rt, bool(ok), err or "", src or "",
                    names.get(sid, "") or _url_host(url), jid)
        for i, t, m, ep, sc, rt, ok, err, src, sid, jid, url in result
    ]


def _url_host(url: str | None) -> str:
    """A call with no server row (a discovery probe): the address it went to, from its URL."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url or "").netloc
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class ActivityDetail:
    row: ActivityRow
    full_url: str
    request_headers: Any
    request_body: Any
    response_body: Any


def activity_detail(engine: Engine, row: ActivityRow) -> ActivityDetail | None:
    with read_scope(engine) as session:
        cmd = session.get(IdracCommand, row.id)
        if cmd is None:
            return None
        from dsm_core.redfish.redaction import stored_bodies

        kept = stored_bodies(cmd)
        return shown(ActivityDetail(row, cmd.full_url, kept["headers"], kept["request"], kept["response"]))


# --- pulse -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pulse:
    servers: int
    by_health: dict[str, int]
    by_power: dict[str, int]
    by_connection: dict[str, int]
    jobs_running: int
    jobs_pending: int
    jobs_failed_24h: int
    jobs_completed_24h: int
    completed_per_hour: tuple[int, ...]
    """24 buckets, oldest first; the last is the current hour."""
    workers: WorkerSummary
    recent_failures: tuple[JobRow, ...] = field(default=())
    recent: tuple[JobRow, ...] = field(default=())
    """The newest jobs, whatever their status: what just happened."""
    calls_today: tuple[int, int, int | None] | None = None
    """API calls today (UTC), failed ones, the worst p95 latency, from the activity statistics; None without."""


def pulse(engine: Engine, now: datetime) -> Pulse:
    day_ago = now - timedelta(hours=24)
    with read_scope(engine) as session:
        states = session.execute(
            sa.select(
                col(Server.overall_health), col(Server.power_state), col(Server.connection_status), sa.func.count()
            ).group_by(col(Server.overall_health), col(Server.power_state), col(Server.connection_status))
        ).all()
        job_counts = dict(
            session.execute(
                sa.select(col(Job.status), sa.func.count()).where(col(Job.status).in_(ACTIVE)).group_by(col(Job.status))
            ).all()
        )
        finished = session.execute(
            sa.select(col(Job.status), col(Job.completed_at)).where(
                col(Job.completed_at) >= day_ago, col(Job.status).in_(("completed", "failed"))
            )
        ).all()
        from dsm_core.models import ActivityDailyStat

        today = session.execute(sa.select(sa.func.sum(ActivityDailyStat.calls), sa.func.sum(ActivityDailyStat.failures),
                                          sa.func.max(ActivityDailyStat.p95_ms)).where(
            col(ActivityDailyStat.day) == now.astimezone(UTC).date())).one()
    health: Counter[str] = Counter()
    power: Counter[str] = Counter()
    conn: Counter[str] = Counter()
    for h, p, c, n in states:
        health[h or "Unknown"] += n
        power[p or "Unknown"] += n
        conn[c or "unknown"] += n
    hours = [0] * 24
    failed = completed = 0
    for status, done in finished:
        if status == "failed":
            failed += 1
            continue
        completed += 1
        age = now - (_t(done) or now)
        bucket = 23 - int(age.total_seconds() // 3600)
        if 0 <= bucket < 24:
            hours[bucket] += 1
    newest = load_jobs(engine, limit=200, now=now)
    failures = [j for j in newest if j.status == "failed" and j.updated_at >= day_ago][:5]
    return shown(Pulse(
        sum(health.values()),
        dict(health),
        dict(power),
        dict(conn),
        job_counts.get("running", 0),
        job_counts.get("pending", 0),
        failed,
        completed,
        tuple(hours),
        worker_summary(engine, now),
        tuple(failures),
        tuple(newest[:12]),
        (int(today[0]), int(today[1] or 0), today[2]) if today[0] else None,
    ))


# --- formatting ------------------------------------------------------------------------------------


def _fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"


def age(value: datetime | None, now: datetime) -> str:
    """k9s-style compact age: 4s, 12m, 3h, 5d."""
    if value is None:
        return "—"
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def is_paused(engine: Engine) -> bool:
    """The emergency pause (activity.pause_idrac_operations): shown in every header."""
    with read_scope(engine) as session:
        value = session.execute(sa.select(col(ActivitySettings.pause_idrac_operations)).limit(1)).scalar()
    return bool(value)


# --- firmware ---------------------------------------------------------------------------------------------


CRITICALITY_RANK = {"Urgent": 3, "Recommended": 2, "Optional": 1}


@dataclass(slots=True)
class FirmwareRow:
    """One server against one repository's catalog: the counts the ``:firmware`` view shows."""

    key: str
    server_id: uuid.UUID
    name: str
    ip: str
    port: int
    service_tag: str
    model: str
    repository: str
    upgrade: int
    downgrade: int
    not_in_catalog: int
    compliant: int
    top_criticality: str
    top_component: str
    computed_at: datetime | None
    components: str = ""
    """Component names by state ("upgrade:BIOS upgrade:iDRAC ..."), read after the first paint, for filters."""

    @property
    def haystack(self) -> str:
        """What free words in the / filter match (built when a filter asks, not for the first paint)."""
        return " ".join((self.name, self.ip, self.service_tag, self.model, self.repository, self.top_component,
                         self.components)).lower()


def load_firmware(engine: Engine, with_components: bool = False) -> list[FirmwareRow]:
    """Every server's compliance summary: one indexed read of small rows (10,000 servers in a few dozen ms);
    ``with_components`` also reads what each component is (for the component: filter), which costs more."""
    from sqlmodel import SQLModel

    comp_t, srv_t, repo_t = (SQLModel.metadata.tables[n] for n in
                             ("firmware_compliance", "servers", "firmware_repositories"))
    cols = [comp_t.c.server_id, srv_t.c.hostname, srv_t.c.ip_address, srv_t.c.port, srv_t.c.service_tag,
            srv_t.c.model, comp_t.c.repository_id, comp_t.c.upgrades, comp_t.c.downgrades, comp_t.c.not_in_catalog,
            comp_t.c.compliant, comp_t.c.top_criticality, comp_t.c.top_component, comp_t.c.computed_at]
    if with_components:
        cols.append(comp_t.c.components)
    stmt = sa.select(*cols).join_from(comp_t, srv_t, srv_t.c.id == comp_t.c.server_id)
    enabled = gc.isenabled()
    gc.disable()
    try:
        with read_scope(engine) as session:
            repos = {rid: visible(name) for rid, name in session.connection().execute(
                sa.select(repo_t.c.id, repo_t.c.name))}
            result = session.connection().execute(stmt).all()
        out = []
        for r in result:
            sid = _uuid(r[0])
            repo = repos.get(r[6], "?")
            comps = ""
            if with_components:
                comps = " ".join(f"{c.get('state')}:{c.get('component')}" for c in decode_components(r[14]))
            row = FirmwareRow(
                f"{sid}/{repo}", sid, visible(r[1] or r[2]), r[2], r[3], visible(r[4] or ""),
                visible((r[5] or "").removeprefix("PowerEdge ")), repo, r[7], r[8], r[9], r[10],
                r[11] or "", visible(r[12] or ""), _t(r[13]), visible(comps).lower(),
            )
            out.append(row)
        return out
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class ComponentRow:
    component: str
    fqdd: str
    installed: str
    available: str
    state: str
    criticality: str
    reboot: str
    package: str


def _yes_no(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else ""


def firmware_components(engine: Engine, server_id: uuid.UUID, repository: str) -> list[ComponentRow]:
    """One server's components against one repository: the drill-down."""
    from dsm_core.models import FirmwareCompliance, FirmwareRepository

    with read_scope(engine) as session:
        comps = session.execute(
            sa.select(col(FirmwareCompliance.components))
            .join(FirmwareRepository, col(FirmwareRepository.id) == col(FirmwareCompliance.repository_id))
            .where(col(FirmwareCompliance.server_id) == server_id, col(FirmwareRepository.name) == repository)
        ).scalar()
    order = {"upgrade": 0, "downgrade": 1, "not_in_catalog": 2, "compliant": 3}
    rows = [
        ComponentRow(str(c.get("component") or ""), str(c.get("fqdd") or ""), str(c.get("installed") or ""),
                     str(c.get("available") or ""), str(c.get("state") or ""), str(c.get("criticality") or ""),
                     _yes_no(c.get("reboot_required")), str(c.get("package_path") or ""))
        for c in decode_components(comps)
    ]
    rows.sort(key=lambda r: (order.get(r.state, 9), -CRITICALITY_RANK.get(r.criticality, 0), r.component))
    return shown(rows)


# --- clusters ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterRow:
    id: uuid.UUID
    name: str
    vcenter: str
    datacenter: str
    drs: str
    ha: bool
    admission: bool | None
    hosts: int
    connected: int
    in_maintenance: int
    linked: int
    verdict: str
    """safe | unsafe | "" (never checked)"""
    reasons: tuple[str, ...]
    history: tuple[bool, ...]
    """The last 30 verdicts, oldest first (True: safe), for the sparkline."""
    checked_at: datetime | None
    last_sync: datetime | None

    @property
    def key(self) -> uuid.UUID:
        return self.id

    @property
    def sparkline(self) -> str:
        return "".join("█" if ok else "▁" for ok in self.history)


@dataclass(frozen=True, slots=True)
class HostRow:
    name: str
    connection: str
    maintenance: bool
    status: str
    esxi: str
    tag: str
    server: str
    link: str
    vms: int
    priority: int | None

    @property
    def key(self) -> str:
        return self.name


def load_clusters(engine: Engine) -> list[ClusterRow]:
    """Every cluster with its host counts and its last 30 safety verdicts: two grouped reads, not one per row."""
    from dsm_core.models import ClusterSafetyCheck, Vcenter, VcenterCluster, VcenterHost

    with read_scope(engine) as s:
        names = {vc.id: vc.name for vc in s.exec(select(Vcenter)).all()}
        clusters = list(s.exec(select(VcenterCluster).order_by(col(VcenterCluster.name))).all())
        counts: dict[uuid.UUID, list[int]] = {}
        for cid, conn, maint, linked in s.execute(sa.select(
                col(VcenterHost.cluster_id), col(VcenterHost.connection_state), col(VcenterHost.maintenance_mode),
                col(VcenterHost.server_id)).where(col(VcenterHost.cluster_id).is_not(None))):
            tally = counts.setdefault(cid, [0, 0, 0, 0])
            tally[0] += 1
            tally[1] += conn == "connected"
            tally[2] += bool(maint)
            tally[3] += linked is not None
        checks: dict[tuple[uuid.UUID | None, str], list[ClusterSafetyCheck]] = {}
        for check in s.exec(select(ClusterSafetyCheck).order_by(col(ClusterSafetyCheck.check_timestamp).desc())
                            .limit(30 * max(1, len(clusters)) + 30)).all():
            bucket = checks.setdefault((check.vcenter_id, check.cluster_id), [])
            if len(bucket) < 30:
                bucket.append(check)
    out = []
    for c in clusters:
        n = counts.get(c.id, [0, 0, 0, 0])
        history = checks.get((c.vcenter_id, c.name), [])
        last = history[0] if history else None
        reasons = tuple(str(r.get("message")) for r in ((last.details or {}).get("reasons", []) if last else [])
                        if isinstance(r, dict))
        out.append(ClusterRow(
            c.id, c.name, names.get(c.vcenter_id, "?"), c.datacenter or "",
            (c.drs_automation or "on") if c.drs_enabled else "off", c.ha_enabled, c.admission_control,
            n[0], n[1], n[2], n[3], ("safe" if last.safe_to_proceed else "unsafe") if last else "", reasons,
            tuple(ch.safe_to_proceed for ch in reversed(history)), _t(last.check_timestamp) if last else None,
            _t(c.last_sync)))
    return [shown(r) for r in out]


def cluster_hosts(engine: Engine, cluster_id: uuid.UUID) -> list[HostRow]:
    from dsm_core.models import ServerGroupMember, VcenterCluster, VcenterHost

    with read_scope(engine) as s:
        cluster = s.get(VcenterCluster, cluster_id)
        if cluster is None:
            return []
        priorities: dict[uuid.UUID, int] = {}
        if cluster.server_group_id:
            priorities = {m.server_id: m.priority for m in s.exec(select(ServerGroupMember).where(
                ServerGroupMember.server_group_id == cluster.server_group_id)).all()}
        rows = []
        for h in s.exec(select(VcenterHost).where(VcenterHost.cluster_id == cluster_id)).all():
            srv = s.get(Server, h.server_id) if h.server_id else None
            rows.append(HostRow(h.name, h.connection_state or "?", h.maintenance_mode, h.status,
                                " ".join(x for x in (h.esxi_version, h.esxi_build) if x), h.serial_number or "",
                                (srv.hostname or srv.ip_address) if srv else "", h.link_source or "",
                                h.vm_count, priorities.get(h.server_id) if h.server_id else None))
    rows.sort(key=lambda r: (r.priority if r.priority is not None else 1 << 30, r.name))
    return [shown(r) for r in rows]


# --- the calendar ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WindowItem:
    id: str
    title: str
    maintenance_type: str
    status: str
    start: datetime
    end: datetime
    awaiting: bool
    """Planned, needs approval, not approved yet."""
    clusters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClusterTrend:
    name: str
    days: tuple[str, ...]
    """The month's daily statuses, first day first (safe, warning, unsafe, unchecked)."""
    last: str


@dataclass
class CalendarMonth:
    year: int
    month: int
    tz: str
    statuses: dict[Any, str]
    """date → safe | warning | unsafe (days without a check are absent: unchecked)."""
    windows: dict[Any, list[WindowItem]]
    """date → the windows that start that day (in ``tz``)."""
    checks: dict[Any, int]
    trends: list[ClusterTrend]
    awaiting: int = 0


def load_calendar(engine: Engine, year: int, month: int, tz_name: str) -> CalendarMonth:
    """A month as the calendar shows it: each day's safety (the worst target that day, by the rules of
    dsm_core.scheduling), the windows starting each day, and each cluster's daily trend. Two range reads."""
    import calendar as pycal
    from datetime import date
    from zoneinfo import ZoneInfo

    from dsm_core.models import ClusterSafetyCheck, MaintenanceWindow, ServerGroup, ServerGroupSafetyCheck
    from dsm_core.scheduling import CheckPoint, day_status, target_day_status

    tz = ZoneInfo(tz_name)
    first = date(year, month, 1)
    last = date(year, month, pycal.monthrange(year, month)[1])
    start = datetime(year, month, 1, tzinfo=tz).astimezone(UTC)
    end = (datetime.combine(last, datetime.min.time(), tzinfo=tz) + timedelta(days=1)).astimezone(UTC)
    by_day: dict[Any, list[CheckPoint]] = {}
    by_target: dict[str, dict[Any, list[CheckPoint]]] = {}
    with read_scope(engine) as s:
        for name, at, safe in s.execute(sa.select(col(ClusterSafetyCheck.cluster_id),
                                                  col(ClusterSafetyCheck.check_timestamp),
                                                  col(ClusterSafetyCheck.safe_to_proceed)).where(
                col(ClusterSafetyCheck.check_timestamp) >= start, col(ClusterSafetyCheck.check_timestamp) < end)):
            point = CheckPoint(name, _t(at) or start, bool(safe))
            day = point.at.astimezone(tz).date()
            by_day.setdefault(day, []).append(point)
            by_target.setdefault(name, {}).setdefault(day, []).append(point)
        groups = {g.id: g.name for g in s.exec(select(ServerGroup)).all()}
        for gid, at, safe, warnings in s.execute(sa.select(
                col(ServerGroupSafetyCheck.server_group_id), col(ServerGroupSafetyCheck.check_timestamp),
                col(ServerGroupSafetyCheck.safe_to_proceed), col(ServerGroupSafetyCheck.warnings)).where(
                col(ServerGroupSafetyCheck.check_timestamp) >= start,
                col(ServerGroupSafetyCheck.check_timestamp) < end)):
            point = CheckPoint(f"group {groups.get(gid, gid)}", _t(at) or start, bool(safe), warning=bool(warnings))
            by_day.setdefault(point.at.astimezone(tz).date(), []).append(point)
        windows: dict[Any, list[WindowItem]] = {}
        for w in s.exec(select(MaintenanceWindow).where(MaintenanceWindow.planned_start < end,
                                                        MaintenanceWindow.planned_end >= start).order_by(
                col(MaintenanceWindow.planned_start))).all():
            begin = _t(w.planned_start) or start
            item = WindowItem(str(w.id), visible(w.title), w.maintenance_type, w.status, begin,
                              _t(w.planned_end) or begin,
                              w.status == "planned" and w.requires_approval and w.approved_at is None,
                              tuple(w.cluster_ids))
            windows.setdefault(begin.astimezone(tz).date(), []).append(item)
    statuses = {d: day_status(points) for d, points in by_day.items()}
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    trends = []
    for name in sorted(by_target):
        per_day = by_target[name]
        daily = tuple(target_day_status(per_day.get(d, [])) for d in days)
        checked = [d for d in daily if d != "unchecked"]
        trends.append(ClusterTrend(visible(name), daily, checked[-1] if checked else "unchecked"))
    order = {"unsafe": 0, "warning": 1, "safe": 2, "unchecked": 3}
    trends.sort(key=lambda t: (order[t.last], t.name))
    return CalendarMonth(year, month, tz_name, statuses, windows, {d: len(p) for d, p in by_day.items()}, trends)


def approvals_waiting(engine: Engine, actor: Any) -> int:
    from dsm_core.services.context import ServiceContext
    from dsm_core.services.windows import approvals_waiting as waiting

    return int(waiting(ServiceContext(engine, actor), actor))
