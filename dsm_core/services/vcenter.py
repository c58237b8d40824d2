"""vCenters, their clusters and hosts: configuration by an admin, what a sync saw, the links to servers.

The console and the CLI never reach a vCenter (DESIGN.md §1): ``add`` stores the URL, the user and the password
sealed for the worker; a ``vcenter_sync`` job connects and ``record_sync`` writes what it saw. A host is linked to
the server whose service tag it reports (``hardware.systemInfo`` / ``otherIdentifyingInfo``) unless an operator
linked it by hand, which a sync keeps. Each cluster has a server group of type ``vcenter_cluster`` holding its
linked servers, so group-level tools (priorities, group safety, windows) work on clusters too.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from dsm_core.credentials.secret import Secret
from dsm_core.db.hidden import secret_set
from dsm_core.models import (
    ClusterSafetyCheck,
    Server,
    ServerGroup,
    ServerGroupMember,
    Vcenter,
    VcenterCluster,
    VcenterHost,
)
from dsm_core.netaddr import format_endpoint
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import Conflict, NotFound, ValidationError
from dsm_core.services.servers import get_server
from dsm_core.services.settings import seal_for_worker
from dsm_core.services.views import row_view
from dsm_core.timeutil import utcnow
from dsm_core.vcenter.model import ClusterInfo, HostInfo, Inventory

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_HEX = re.compile(r"^[0-9A-Fa-f]{64}$")
SAFETY_HISTORY = 30


def parse_url(url: str) -> tuple[str, int]:
    """``https://HOST[:PORT][/sdk]`` → (host, port). Anything else names the field and the form it takes."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 443
    except ValueError as exc:
        raise ValidationError("url", f"{url!r} is not a URL ({exc})",
                              "write it as https://vcenter.example:443") from None
    if parts.scheme != "https":
        raise ValidationError("url", f"{url!r} is not an https URL",
                              "vCenter is reached over HTTPS: https://HOST[:PORT]")
    if not parts.hostname or parts.username or parts.password:
        raise ValidationError("url", f"{url!r} has no host, or has a user in it",
                              "give https://HOST[:PORT]; the user goes in --username, the password on stdin")
    if parts.path not in ("", "/", "/sdk") or parts.query or parts.fragment:
        raise ValidationError("url", f"{url!r} has a path or query", "give only https://HOST[:PORT] (DSM adds /sdk)")
    return parts.hostname, port


def normalize_fingerprint(value: str) -> str:
    digits = value.strip().replace(":", "").replace(" ", "")
    if digits.lower().startswith("sha256"):
        digits = digits[6:].lstrip("=:")
    if not _HEX.match(digits):
        raise ValidationError("fingerprint", f"{value!r} is not a SHA-256 fingerprint",
                              "give 64 hex digits, with or without colons (openssl x509 -fingerprint -sha256)")
    digits = digits.upper()
    return ":".join(digits[i:i + 2] for i in range(0, 64, 2))


def get_vcenter(session: Session, /, name: str) -> Vcenter:
    vc = session.exec(select(Vcenter).where(Vcenter.name == name)).first()
    if vc is None:
        raise NotFound(f"vCenter {name!r} is not configured; `dsm vcenter list` shows them")
    return vc


def _vcenter_view(vc: Vcenter) -> dict[str, Any]:
    view = row_view(vc, exclude=("password_sealed",))
    view["url"] = f"https://{format_endpoint(vc.host, vc.port)}"
    view["password_set"] = secret_set(vc, "password_sealed")
    return view


@mutation("vcenter.add", "admin")
def add_vcenter(
    tx: Tx,
    /,
    name: str,
    url: str,
    username: str,
    password: Secret,
    *,
    fingerprint: str | None = None,
    insecure: bool = False,
) -> dict[str, Any]:
    """Without ``fingerprint`` the first connection's certificate is pinned (trust on first use); ``insecure``
    turns certificate checking off for this vCenter, which the CLI and the list say loudly."""
    if not _NAME.match(name or ""):
        raise ValidationError("name", f"{name!r} is not a usable name", "letters, digits, '.', '_' and '-', up to 100")
    host, port = parse_url(url)
    user = (username or "").strip()
    if not user or len(user) > 200:
        raise ValidationError("username", "is empty or longer than 200 characters", "give the vCenter user, "
                              "e.g. administrator@vsphere.local")
    if not password.reveal():
        raise ValidationError("password", "is empty", "type the vCenter password on standard input")
    if fingerprint and insecure:
        raise ValidationError("fingerprint", "was given with --insecure", "pin a fingerprint or turn checking off, "
                              "not both")
    pin = normalize_fingerprint(fingerprint) if fingerprint else None
    if tx.session.exec(select(Vcenter).where(Vcenter.name == name)).first() is not None:
        raise Conflict(f"vCenter {name!r} already exists; remove it first or choose another name")
    vc = Vcenter(name=name, host=host, port=port, username=user, password_sealed=seal_for_worker(tx.session, password),
                 tls_verify_mode="off" if insecure else "pin", tls_fingerprint_sha256=pin, sync_enabled=True)
    tx.session.add(vc)
    tx.session.flush()
    tx.audit("vcenter", vc.id, name=name, url=f"https://{format_endpoint(host, port)}", username=user,
             tls="off" if insecure else ("pinned" if pin else "trust on first use"))
    return _vcenter_view(vc)


@mutation("vcenter.remove", "admin")
def remove_vcenter(tx: Tx, /, name: str) -> None:
    """Its clusters, hosts and their ``vcenter_cluster`` groups go with it; the servers stay."""
    vc = get_vcenter(tx.session, name)
    groups = [c.server_group_id for c in tx.session.exec(
        select(VcenterCluster).where(VcenterCluster.vcenter_id == vc.id)).all() if c.server_group_id]
    for group_id in groups:
        group = tx.session.get(ServerGroup, group_id)
        if group is not None and group.group_type == "vcenter_cluster":
            tx.session.delete(group)
    tx.session.delete(vc)
    tx.audit("vcenter", vc.id, name=name, groups_removed=len(groups))


def find_host(session: Session, /, ref: str) -> VcenterHost:
    """A host by name, moref, or ``VCENTER/NAME`` when two vCenters hold the same name."""
    vc_name, _, host_ref = ref.rpartition("/")
    stmt = select(VcenterHost).where((VcenterHost.name == host_ref) | (VcenterHost.moref == host_ref))
    if vc_name:
        stmt = stmt.where(VcenterHost.vcenter_id == get_vcenter(session, vc_name).id)
    found = list(session.exec(stmt).all())
    if not found:
        raise NotFound(f"no vCenter host matches {ref!r}; `dsm clusters show CLUSTER` lists hosts (sync first)")
    if len(found) > 1:
        raise ValidationError("host", f"{ref!r} matches {len(found)} hosts in several vCenters",
                              "give VCENTER/HOST")
    return found[0]


def find_cluster(session: Session, /, ref: str) -> VcenterCluster:
    vc_name, _, name = ref.rpartition("/")
    stmt = select(VcenterCluster).where(VcenterCluster.name == name)
    if vc_name:
        stmt = stmt.where(VcenterCluster.vcenter_id == get_vcenter(session, vc_name).id)
    found = list(session.exec(stmt).all())
    if not found:
        raise NotFound(f"cluster {ref!r} is not known; `dsm clusters list` shows them (run `dsm vcenter sync` first)")
    if len(found) > 1:
        raise ValidationError("cluster", f"{ref!r} is a cluster in {len(found)} vCenters", "give VCENTER/CLUSTER")
    return found[0]


def tags_contradict(server_tag: str | None, host_serial: str | None) -> bool:
    """Both known and not the same machine: the link would make DSM reset one machine for another's evacuation."""
    a, b = (server_tag or "").strip().upper(), (host_serial or "").strip().upper()
    return bool(a and b and a != b)


@mutation("vcenter.link", "operator")
def link_host(tx: Tx, /, host: str, server: str, *, despite_service_tag: str | None = None) -> dict[str, Any]:
    """Links a host to a server by hand (its service tag is missing or wrong); syncs keep a manual link.

    A server whose service tag contradicts the host's serial number (as vCenter reports it) is another machine:
    DSM would evacuate one and restart the other. It is refused unless an admin says why
    (``despite_service_tag``, recorded in the audit row) — e.g. a board replaced and not yet re-tagged."""
    row = find_host(tx.session, host)
    srv = get_server(tx.session, server)
    despite_service_tag = tx.admin_reason("despite_service_tag", despite_service_tag,
                                          "linking despite the service tag")
    other = tx.session.exec(select(VcenterHost).where(VcenterHost.server_id == srv.id,
                                                      VcenterHost.id != row.id)).first()
    if other is not None:
        raise Conflict(f"server {format_endpoint(srv.ip_address, srv.port)} is already linked to host {other.name}; "
                       f"link that host to another server first")
    if tags_contradict(srv.service_tag, row.serial_number) and despite_service_tag is None:
        raise Conflict(f"server {format_endpoint(srv.ip_address, srv.port)} has service tag {srv.service_tag}, but "
                       f"vCenter reports serial number {row.serial_number} for host {row.name}: they are different "
                       "machines, and DSM would restart one for the other's evacuation; link the server whose tag "
                       "matches, or an admin links it with --despite-service-tag REASON")
    previous = row.server_id
    row.server_id, row.link_source = srv.id, "manual"
    tx.session.add(row)
    tx.session.flush()
    if row.cluster_id is not None:
        cluster = tx.session.get(VcenterCluster, row.cluster_id)
        if cluster is not None:
            _sync_group(tx.session, cluster)
    tx.audit("vcenter_host", row.id, host=row.name, server=str(srv.id),
             previous=None if previous is None else str(previous),
             **({"despite_service_tag": despite_service_tag, "server_tag": srv.service_tag,
                 "host_serial": row.serial_number} if despite_service_tag is not None else {}))
    return {"host": row.name, "server": format_endpoint(srv.ip_address, srv.port), "link_source": "manual"}


# --- what a sync saw (called by the worker as the system) ---------------------------------------------------------

_CLUSTER_FIELDS = ("name", "datacenter", "drs_enabled", "drs_automation", "ha_enabled", "admission_control")
_HOST_FIELDS = ("name", "datacenter", "connection_state", "maintenance_mode", "power_state", "esxi_version",
                "esxi_build", "vm_count")


def _apply(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _cluster_values(info: ClusterInfo) -> dict[str, Any]:
    return {f: getattr(info, f) for f in _CLUSTER_FIELDS} | {"host_count": len(info.hosts)}


def _host_values(info: HostInfo, cluster: VcenterCluster | None) -> dict[str, Any]:
    return {f: getattr(info, f) for f in _HOST_FIELDS} | {
        "cluster": cluster.name if cluster else None, "cluster_id": cluster.id if cluster else None,
        "status": info.overall_status, "serial_number": info.service_tag,
    }


def _group_name(session: Session, vc: Vcenter, cluster: VcenterCluster) -> str:
    for candidate in (cluster.name[:100], f"{vc.name}/{cluster.name}"[:100]):
        taken = session.exec(select(ServerGroup).where(ServerGroup.name == candidate)).first()
        if taken is None:
            return candidate
    return f"{vc.name}/{cluster.moref}"[:100]


def _sync_group(session: Session, cluster: VcenterCluster) -> int:
    """The cluster's group holds exactly its linked servers; priorities an operator set are kept."""
    group = session.get(ServerGroup, cluster.server_group_id) if cluster.server_group_id else None
    if group is None:
        vc = session.get(Vcenter, cluster.vcenter_id)
        assert vc is not None
        group = ServerGroup(name=_group_name(session, vc, cluster), group_type="vcenter_cluster",
                            description=f"vCenter {vc.name} cluster {cluster.name}"[:500])
        session.add(group)
        session.flush()
        cluster.server_group_id = group.id
        session.add(cluster)
    wanted = {sid for sid in session.exec(select(col(VcenterHost.server_id)).where(
        VcenterHost.cluster_id == cluster.id, col(VcenterHost.server_id).is_not(None))).all() if sid}
    members = {m.server_id: m for m in session.exec(select(ServerGroupMember).where(
        ServerGroupMember.server_group_id == group.id)).all()}
    changes = 0
    for sid, member in members.items():
        if sid not in wanted:
            session.delete(member)
            changes += 1
    for sid in wanted - set(members):
        session.add(ServerGroupMember(server_group_id=group.id, server_id=sid))
        changes += 1
    return changes


@mutation("vcenter.record_sync", "admin")
def record_sync(tx: Tx, /, vcenter_id: uuid.UUID, inventory: Inventory) -> dict[str, Any]:
    """Writes what a sync saw: clusters and hosts added, updated or gone, links by service tag, groups in step.

    Returns the counts; a sync of an unchanged vCenter returns zeros everywhere but ``unchanged``."""
    session = tx.session
    vc = session.get(Vcenter, uuid.UUID(str(vcenter_id)))
    if vc is None:
        raise NotFound(f"vCenter {vcenter_id} was removed during its sync")
    now = utcnow()
    stats: dict[str, Any] = {k: {"added": 0, "updated": 0, "removed": 0, "unchanged": 0}
                             for k in ("clusters", "hosts")}
    stats.update(linked=0, unlinked=0, group_changes=0)
    clusters = {c.moref: c for c in session.exec(select(VcenterCluster).where(
        VcenterCluster.vcenter_id == vc.id)).all()}
    seen: dict[str, VcenterCluster] = {}
    for info in inventory.clusters:
        row = clusters.get(info.moref)
        if row is None:
            row = VcenterCluster(vcenter_id=vc.id, moref=info.moref, **_cluster_values(info))
            stats["clusters"]["added"] += 1
        else:
            stats["clusters"]["updated" if _apply(row, _cluster_values(info)) else "unchanged"] += 1
        row.last_sync = now
        session.add(row)
        seen[info.moref] = row
    session.flush()
    for moref, row in clusters.items():
        if moref not in seen:
            group = session.get(ServerGroup, row.server_group_id) if row.server_group_id else None
            if group is not None and group.group_type == "vcenter_cluster":
                session.delete(group)
            session.delete(row)
            stats["clusters"]["removed"] += 1

    hosts = {h.moref: h for h in session.exec(select(VcenterHost).where(VcenterHost.vcenter_id == vc.id)).all()}
    tags = {h.service_tag for h in inventory.hosts if h.service_tag}
    servers_by_tag: dict[str, list[Server]] = {}
    if tags:
        for srv in session.exec(select(Server).where(col(Server.service_tag).in_(tags))).all():
            servers_by_tag.setdefault((srv.service_tag or "").upper(), []).append(srv)
    taken = {sid: hid for hid, sid in session.exec(select(VcenterHost.id, VcenterHost.server_id).where(
        col(VcenterHost.server_id).is_not(None))).all()}
    present: set[str] = set()
    for host_info in inventory.hosts:
        present.add(host_info.moref)
        row_h = hosts.get(host_info.moref)
        cluster = seen.get(host_info.cluster) if host_info.cluster else None
        values = _host_values(host_info, cluster)
        existed = row_h is not None
        if row_h is None:
            row_h = VcenterHost(vcenter_id=vc.id, moref=host_info.moref, **values)
            stats["hosts"]["added"] += 1
            changed = True
        else:
            changed = _apply(row_h, values)
        if row_h.link_source != "manual":
            candidates = servers_by_tag.get(host_info.service_tag or "", [])
            target = candidates[0].id if len(candidates) == 1 else None
            if target is not None and taken.get(target) not in (None, row_h.id):
                target = None  # that server is linked to another host (by hand): leave both as they are
            if row_h.server_id != target:
                stats["linked" if target else "unlinked"] += 1
                if row_h.server_id is not None:
                    taken.pop(row_h.server_id, None)
                row_h.server_id, row_h.link_source = target, "service_tag" if target else None
                if target is not None:
                    taken[target] = row_h.id
                changed = True
        if existed:
            stats["hosts"]["updated" if changed else "unchanged"] += 1
        row_h.last_sync = now
        session.add(row_h)
    for host_moref, gone in hosts.items():
        if host_moref not in present:
            session.delete(gone)
            stats["hosts"]["removed"] += 1
    session.flush()
    for row in seen.values():
        stats["group_changes"] += _sync_group(session, row)
    vc.last_sync, vc.last_sync_status, vc.last_sync_error = now, "completed", None
    vc.about = dict(inventory.about)
    vc.last_sync_stats = {**stats, "calls": inventory.calls}
    session.add(vc)
    tx.audit("vcenter", vc.id, name=vc.name, **{k: v for k, v in stats.items() if k != "group_changes"})
    return stats


@mutation("vcenter.maintenance", "admin")
def record_maintenance(tx: Tx, /, host_moref: str, cluster_id: uuid.UUID | str, entered: bool,
                       job_id: uuid.UUID | str | None = None) -> None:
    """A host DSM put in (or took out of) maintenance mode: audited as the system's act, and the stored host row
    follows at once (the console shows it before the next sync)."""
    cluster = tx.session.get(VcenterCluster, uuid.UUID(str(cluster_id)))
    host = tx.session.exec(select(VcenterHost).where(VcenterHost.moref == host_moref,
                                                     VcenterHost.vcenter_id == (cluster.vcenter_id if cluster
                                                                                else None))).first()
    if host is not None:
        host.maintenance_mode = entered
        tx.session.add(host)
    tx.audit("vcenter_host", host.id if host else None, host=host.name if host else host_moref,
             cluster=cluster.name if cluster else None, maintenance="entered" if entered else "exited",
             job_id=None if job_id is None else str(job_id))


def record_sync_failure(session: Session, /, vcenter_id: uuid.UUID, error: str) -> None:
    vc = session.get(Vcenter, vcenter_id)
    if vc is not None:
        vc.last_sync, vc.last_sync_status, vc.last_sync_error = utcnow(), "failed", error[:2000]
        session.add(vc)


def store_pin(session: Session, /, vcenter_id: uuid.UUID, fingerprint: str) -> None:
    vc = session.get(Vcenter, vcenter_id)
    if vc is not None and vc.tls_verify_mode == "pin" and not vc.tls_fingerprint_sha256:
        vc.tls_fingerprint_sha256 = fingerprint
        session.add(vc)


# --- reads ------------------------------------------------------------------------------------------------------


@query()
def list_vcenters(session: Session, /) -> list[dict[str, Any]]:
    rows = session.exec(select(Vcenter).order_by(col(Vcenter.name))).all()
    out = []
    for vc in rows:
        view = _vcenter_view(vc)
        view["clusters"] = len(session.exec(select(VcenterCluster.id).where(VcenterCluster.vcenter_id == vc.id)).all())
        view["hosts"] = len(session.exec(select(VcenterHost.id).where(VcenterHost.vcenter_id == vc.id)).all())
        out.append(view)
    return out


def latest_checks(session: Session, /, cluster: VcenterCluster, limit: int) -> list[ClusterSafetyCheck]:
    return list(session.exec(
        select(ClusterSafetyCheck)
        .where(ClusterSafetyCheck.cluster_id == cluster.name, ClusterSafetyCheck.vcenter_id == cluster.vcenter_id)
        .order_by(col(ClusterSafetyCheck.check_timestamp).desc(), col(ClusterSafetyCheck.id).desc())
        .limit(limit)
    ).all())


def _safety_view(check: ClusterSafetyCheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    details = check.details or {}
    return {
        "verdict": "safe" if check.safe_to_proceed else "unsafe",
        "at": check.check_timestamp.isoformat(),
        "reasons": [r.get("message") for r in details.get("reasons", []) if isinstance(r, dict)],
        "healthy_hosts": check.healthy_hosts, "total_hosts": check.total_hosts,
        "min_required_hosts": check.min_required_hosts, "job_id": str(check.job_id) if check.job_id else None,
    }


def _cluster_view(session: Session, cluster: VcenterCluster, vc_names: dict[uuid.UUID, str]) -> dict[str, Any]:
    hosts = list(session.exec(select(VcenterHost).where(VcenterHost.cluster_id == cluster.id)).all())
    last = latest_checks(session, cluster, 1)
    group = session.get(ServerGroup, cluster.server_group_id) if cluster.server_group_id else None
    return {
        "name": cluster.name, "vcenter": vc_names.get(cluster.vcenter_id), "datacenter": cluster.datacenter,
        "moref": cluster.moref, "drs_enabled": cluster.drs_enabled, "drs_automation": cluster.drs_automation,
        "ha_enabled": cluster.ha_enabled, "admission_control": cluster.admission_control,
        "hosts": len(hosts), "hosts_connected": sum(h.connection_state == "connected" for h in hosts),
        "hosts_in_maintenance": sum(h.maintenance_mode for h in hosts),
        "hosts_linked": sum(h.server_id is not None for h in hosts),
        "group": group.name if group else None,
        "last_sync": cluster.last_sync.isoformat() if cluster.last_sync else None,
        "last_safety": _safety_view(last[0] if last else None),
    }


@query()
def list_clusters(session: Session, /) -> list[dict[str, Any]]:
    names = {vc.id: vc.name for vc in session.exec(select(Vcenter)).all()}
    rows = session.exec(select(VcenterCluster).order_by(col(VcenterCluster.name))).all()
    return [_cluster_view(session, c, names) for c in rows]


@query()
def show_cluster(session: Session, /, name: str) -> dict[str, Any]:
    cluster = find_cluster(session, name)
    names = {vc.id: vc.name for vc in session.exec(select(Vcenter)).all()}
    view = _cluster_view(session, cluster, names)
    priorities: dict[uuid.UUID, int] = {}
    if cluster.server_group_id:
        priorities = {m.server_id: m.priority for m in session.exec(select(ServerGroupMember).where(
            ServerGroupMember.server_group_id == cluster.server_group_id)).all()}
    hosts = []
    for h in session.exec(select(VcenterHost).where(VcenterHost.cluster_id == cluster.id)).all():
        srv = session.get(Server, h.server_id) if h.server_id else None
        hosts.append({
            "name": h.name, "moref": h.moref, "connection_state": h.connection_state,
            "maintenance_mode": h.maintenance_mode, "power_state": h.power_state, "overall_status": h.status,
            "esxi_version": h.esxi_version, "esxi_build": h.esxi_build, "service_tag": h.serial_number,
            "vm_count": h.vm_count, "server": format_endpoint(srv.ip_address, srv.port) if srv else None,
            "server_hostname": srv.hostname if srv else None, "link_source": h.link_source,
            "priority": priorities.get(h.server_id) if h.server_id else None,
        })
    view["host_list"] = sorted(hosts, key=lambda h: (h["priority"] if h["priority"] is not None else 1 << 30,
                                                     h["name"]))
    view["safety_history"] = [_safety_view(c) for c in reversed(latest_checks(session, cluster, SAFETY_HISTORY))]
    return view
