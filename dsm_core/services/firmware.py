"""Firmware from the operator's side: local repositories, the fleet's compliance, and what the worker stores.

Compliance is computed by the pure ``dsm_core.firmware.compliance`` and stored per server and repository
(``firmware_compliance``) whenever a server's inventory or a repository's catalog changes, so reading it
for 10,000 servers is one query. ``store_catalog`` and ``recompute_compliance`` are the worker's writes
(observations, like inventory); the rest are use cases with a role check and an audit row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, cast
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, SQLModel, col, select

from dsm_core.credentials.secret import Secret
from dsm_core.firmware.catalog import Catalog, CatalogPackage, PciIds, SupportedDevice, normalize_hex
from dsm_core.firmware.compliance import (
    STATES,
    CatalogIndex,
    Platform,
    compliance_tuples,
    decode_components,
    summarize,
)
from dsm_core.models import (
    FirmwarePackage,
    FirmwareRepository,
    ServerGroupMember,
)
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import Conflict, NotFound, ValidationError
from dsm_core.services.groups import get_group
from dsm_core.services.jobs import check_package_file
from dsm_core.services.servers import get_server
from dsm_core.services.settings import seal_for_worker
from dsm_core.services.views import jsonable, row_view
from dsm_core.text import identifier_problem
from dsm_core.timeutil import utcnow

SCHEMES = ("http", "https", "nfs", "cifs")


def _table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


# --- repositories ---------------------------------------------------------------------------------------


def get_repository(session: Session, /, name: str) -> FirmwareRepository:
    repo = session.exec(select(FirmwareRepository).where(FirmwareRepository.name == name)).first()
    if repo is None:
        raise NotFound(f"firmware repository {name!r} does not exist; `dsm firmware repo list` shows them")
    return repo


def _check_url(url: str, local_path: str | None) -> tuple[str, str, str]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        raise ValidationError("url", f"{url!r} is not an http(s)://, nfs:// or cifs:// URL with a host",
                              "give the share, e.g. http://10.0.0.5/dell-repo or nfs://10.0.0.5/export/repo")
    if parts.username or parts.password:
        raise ValidationError("url", "holds a user name or password",
                              "give the share's user with --username and its password on stdin")
    if parts.query or parts.fragment:
        raise ValidationError("url", "has a query or fragment", "give the share's path only")
    if scheme in ("nfs", "cifs") and not local_path:
        raise ValidationError("local_path", f"a {scheme} repository needs the path where the worker has it mounted",
                              "mount the share on the worker host and give --mounted-at /mnt/dell-repo")
    if local_path is not None and not PurePosixPath(local_path).is_absolute():
        raise ValidationError("local_path", f"{local_path!r} is not an absolute path", "give /mnt/...")
    return scheme, parts.hostname, parts.path or "/"


def _catalog_file(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or len(name) > 255:
        raise ValidationError("catalog", f"{name!r} is not a file name", "give the catalog's file name, e.g. "
                              "Catalog.xml or Catalog.xml.gz (relative to the repository URL)")
    return name


def repository_view(repo: FirmwareRepository) -> dict[str, Any]:
    return row_view(repo)


@mutation("firmware.repo.add", "operator")
def add_repository(
    tx: Tx, /, name: str, url: str, *, catalog_file: str = "Catalog.xml", local_path: str | None = None,
    username: str | None = None, password: Secret | None = None, verify_tls: bool = True,
) -> dict[str, Any]:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError("name", f"{name!r} is empty or longer than 100 characters", "give a short name")
    problem = identifier_problem(name)
    if problem:
        raise ValidationError("name", f"{name!r} {problem}", "use letters, digits, spaces and . _ - + : @ , / =")
    if tx.session.exec(select(FirmwareRepository).where(FirmwareRepository.name == name)).first() is not None:
        raise Conflict(f"firmware repository {name!r} already exists")
    scheme, host, path = _check_url(url, local_path)
    if local_path is not None:  # the worker reads the catalog there: the same rule as a pushed package's
        check_package_file(tx.session, "local_path", f"{local_path.rstrip('/')}/{_catalog_file(catalog_file)}")
    if bool(username) != bool(password and password.reveal()):
        raise ValidationError("username", "a share user needs a password and the other way round",
                              "give --username with --password-stdin, or neither")
    repo = FirmwareRepository(
        name=name, url=url.strip().rstrip("/"), local_path=local_path, share_type=scheme, host=host,
        share_path=path, catalog_file=_catalog_file(catalog_file), share_username=username,
        share_password_sealed=seal_for_worker(tx.session, password) if password and password.reveal() else None,
        verify_tls=verify_tls,
    )
    tx.session.add(repo)
    tx.audit("firmware_repository", repo.id, name=name, url=repo.url, catalog_file=repo.catalog_file,
             local_path=local_path, username=username)
    return repository_view(repo)


@mutation("firmware.repo.remove", "admin")
def remove_repository(tx: Tx, /, name: str) -> None:
    repo = get_repository(tx.session, name)
    tx.session.delete(repo)
    tx.audit("firmware_repository", repo.id, name=name)


@query()
def list_repositories(session: Session, /) -> list[dict[str, Any]]:
    repos = session.exec(select(FirmwareRepository).order_by(col(FirmwareRepository.name))).all()
    return [repository_view(r) for r in repos]


# --- the worker's writes ----------------------------------------------------------------------------------


def _package_row(repo_id: uuid.UUID, pkg: CatalogPackage) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "repository_id": repo_id, "package_id": pkg.package_id[:64], "name": pkg.name[:500],
        "component_type": pkg.component_type[:16], "criticality": pkg.criticality[:16],
        "vendor_version": pkg.vendor_version[:64], "dell_version": pkg.dell_version[:32] or None,
        "release_date": pkg.release_date, "path": pkg.path[:1024], "size": pkg.size,
        "hash_md5": (pkg.hash_md5 or "")[:32] or None, "hash_sha256": (pkg.hash_sha256 or "")[:64] or None,
        "reboot_required": pkg.reboot_required, "package_type": pkg.package_type[:16] or None,
        "systems": list(pkg.systems), "models": list(pkg.models),
        "devices": [{"component_id": d.component_id, "pci": [[p.vendor, p.device, p.subvendor, p.subdevice]
                                                               for p in d.pci]} for d in pkg.devices],
        "created_at": utcnow(),
    }


def store_catalog(session: Session, /, repo_id: uuid.UUID, catalog: Catalog) -> int:
    """Replace the repository's packages with the catalog's, in the caller's one transaction."""
    session.execute(sa.delete(FirmwarePackage).where(col(FirmwarePackage.repository_id) == repo_id))
    rows = [_package_row(repo_id, p) for p in catalog.packages]
    for start in range(0, len(rows), 1000):
        session.execute(sa.insert(FirmwarePackage), rows[start:start + 1000])
    repo = session.get(FirmwareRepository, repo_id)
    if repo is not None:
        repo.catalog_version = (catalog.version or catalog.release_id or "")[:64] or None
        stamp = None
        if catalog.date_time:
            try:
                stamp = datetime.fromisoformat(catalog.date_time.strip()[:25])
            except ValueError:
                stamp = None
        repo.catalog_release_date = stamp if stamp is None or stamp.tzinfo else None
        repo.package_count, repo.last_checked_at = len(rows), utcnow()
        repo.last_status, repo.last_error = "synced", None
        session.add(repo)
    return len(rows)


def load_packages(session: Session, /, repo_id: uuid.UUID) -> list[CatalogPackage]:
    t = _table("firmware_packages")
    out = []
    for r in session.execute(sa.select(t).where(t.c.repository_id == repo_id)).mappings():
        out.append(
            CatalogPackage(
                r["package_id"], r["name"], r["component_type"], r["criticality"], r["vendor_version"],
                r["dell_version"] or "", r["release_date"], r["path"], r["size"], r["hash_md5"], r["hash_sha256"],
                r["reboot_required"], r["package_type"] or "", tuple(r["systems"] or ()), tuple(r["models"] or ()),
                tuple(SupportedDevice(str(d.get("component_id", "")), tuple(PciIds(*p) for p in d.get("pci", [])))
                      for d in r["devices"] or [] if isinstance(d, dict)),
            )
        )
    return out


def installed_components(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """``Installed-*`` members with a version, as compliance compares them (Previous/Available are not): plain
    tuples in InstalledComponent's field order (250,000 named tuples would cost a tenth of a recomputation).

    ``rows`` are (server id, inventory id, name, version, component id, FQDD, status, component type, PCI
    vendor, device, subvendor, subdevice) tuples, as ``recompute_compliance`` reads them."""
    out = []
    for (_, inventory_id, name, version, component_id, fqdd, status, component_type, vendor, device, subvendor,
         subdevice) in rows:
        if not version or (status or "").lower() != "installed":
            continue
        pci = PciIds(vendor, device, subvendor or "", subdevice or "") if vendor and device else None
        out.append((inventory_id, name or inventory_id, version, component_id, fqdd, pci, component_type))
    return out


def recompute_compliance(
    session: Session, /, *, server_ids: Sequence[uuid.UUID] | None = None,
    repository_ids: Sequence[uuid.UUID] | None = None,
) -> int:
    """Compliance of ``server_ids`` (all when None) against ``repository_ids`` (all synced when None), stored."""
    repo_query = select(FirmwareRepository).where(col(FirmwareRepository.package_count).is_not(None))
    if repository_ids is not None:
        repo_query = repo_query.where(col(FirmwareRepository.id).in_(list(repository_ids)))
    repos = list(session.exec(repo_query).all())
    if not repos:
        return 0
    inv = _table("firmware_inventory")
    srv = _table("servers")
    # Ids as the driver returns them (hex text on SQLite, uuid on PostgreSQL): 250,000 rows need no UUID objects.
    server_query = sa.select(sa.type_coerce(srv.c.id, sa.String()), srv.c.system_id, srv.c.model, srv.c.id)
    inv_query = sa.select(sa.type_coerce(inv.c.server_id, sa.String()).label("server_id"), inv.c.inventory_id,
                          inv.c.name, inv.c.version, inv.c.component_id,
                          inv.c.fqdd, inv.c.status, inv.c.component_type, inv.c.pci_vendor_id, inv.c.pci_device_id,
                          inv.c.pci_subvendor_id, inv.c.pci_subdevice_id)
    if server_ids is not None:
        server_query = server_query.where(srv.c.id.in_(list(server_ids)))
        inv_query = inv_query.where(inv.c.server_id.in_(list(server_ids)))
    platforms: dict[Any, Platform] = {}
    ids: dict[Any, uuid.UUID] = {}
    for raw, system_id, model, sid in session.execute(server_query):
        platforms[raw], ids[raw] = Platform(system_id, model), sid
    by_server: dict[Any, list[Any]] = {raw: [] for raw in platforms}
    result = cast(CursorResult[Any], session.execute(inv_query))
    # The driver's own tuples: no result processing is needed for these columns, and 250,000 SQLAlchemy rows
    # would cost a third of the whole recomputation.
    raw_rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    for row in raw_rows:
        found = by_server.get(row[0])
        if found is not None:
            found.append(row)
    comp = _table("firmware_compliance")
    now = utcnow()
    written = 0
    for repo in repos:
        index = CatalogIndex(load_packages(session, repo.id))
        out = []
        for raw, platform in platforms.items():
            rows = compliance_tuples(platform, installed_components(by_server.get(raw, [])), index)
            summary = summarize(rows)
            out.append({
                "id": uuid.uuid4(), "server_id": ids[raw], "repository_id": repo.id,
                "catalog_version": repo.catalog_version,
                "upgrades": summary.counts["upgrade"], "downgrades": summary.counts["downgrade"],
                "not_in_catalog": summary.counts["not_in_catalog"], "compliant": summary.counts["compliant"],
                "top_criticality": summary.top_criticality,
                "top_component": (summary.top_component or "")[:255] or None,
                "components": rows, "computed_at": now,  # JSON arrays in FIELDS order: see decode_components
            })
        delete = sa.delete(comp).where(comp.c.repository_id == repo.id)
        if server_ids is not None:
            delete = delete.where(comp.c.server_id.in_(list(ids.values())))
        session.execute(delete)
        for start in range(0, len(out), 2000):
            session.execute(sa.insert(comp), out[start:start + 2000])
        written += len(out)
    return written


# --- reading compliance --------------------------------------------------------------------------------


def _server_filter(session: Session, servers: Sequence[str], group: str | None) -> list[uuid.UUID] | None:
    ids: list[uuid.UUID] = [get_server(session, ref).id for ref in servers]
    if group:
        g = get_group(session, group)
        members = session.exec(select(col(ServerGroupMember.server_id))
                               .where(ServerGroupMember.server_group_id == g.id)).all()
        ids += list(members)
        if not members and not servers:
            return []
    return list(dict.fromkeys(ids)) if (servers or group) else None


@query()
def compliance_rows(
    session: Session, /, *, servers: Sequence[str] = (), group: str | None = None, states: Sequence[str] = (),
    component: str | None = None, repository: str | None = None,
) -> list[dict[str, Any]]:
    """One row per server and installed component (the CLI's ``dsm firmware compliance --json`` contract)."""
    bad = [s for s in states if s not in STATES]
    if bad:
        raise ValidationError("state", f"{bad[0]!r} is not a compliance state", "use " + ", ".join(STATES))
    ids = _server_filter(session, servers, group)
    comp_t, srv_t, repo_t = _table("firmware_compliance"), _table("servers"), _table("firmware_repositories")
    query_ = (
        sa.select(comp_t.c.server_id, comp_t.c.components, comp_t.c.computed_at, srv_t.c.ip_address, srv_t.c.port,
                  srv_t.c.service_tag, srv_t.c.hostname, srv_t.c.model, repo_t.c.name)
        .join(srv_t, srv_t.c.id == comp_t.c.server_id)
        .join(repo_t, repo_t.c.id == comp_t.c.repository_id)
        .order_by(srv_t.c.ip_address, srv_t.c.port)
    )
    if ids is not None:
        query_ = query_.where(comp_t.c.server_id.in_(ids))
    if repository:
        query_ = query_.where(comp_t.c.repository_id == get_repository(session, repository).id)
    needle = (component or "").lower()
    out = []
    for server_id, components, computed_at, ip, port, tag, hostname, model, repo_name in session.execute(query_):
        for row in decode_components(components):
            if states and row.get("state") not in states:
                continue
            if needle and not any(needle in str(row.get(k) or "").lower() for k in ("component", "component_id",
                                                                                    "fqdd")):
                continue
            out.append({
                "server_id": str(server_id), "ip_address": ip, "port": port, "service_tag": tag,
                "hostname": hostname, "model": model, "repository": repo_name, **row,
                "computed_at": jsonable(computed_at),
            })
    return out


@query()
def fleet_summary(session: Session, /) -> list[dict[str, Any]]:
    """Per server and repository: the counts the ``:firmware`` view shows."""
    c, r = _table("firmware_compliance").c, _table("firmware_repositories").c
    rows = session.execute(
        sa.select(c.server_id, r.name, c.upgrades, c.downgrades, c.not_in_catalog, c.compliant, c.top_criticality,
                  c.top_component).join_from(_table("firmware_compliance"), _table("firmware_repositories"),
                                             r.id == c.repository_id)
    ).all()
    return [
        {"server_id": str(r[0]), "repository": r[1], "upgrade": r[2], "downgrade": r[3], "not_in_catalog": r[4],
         "compliant": r[5], "top_criticality": r[6], "top_component": r[7]}
        for r in rows
    ]


def pci_from_raw(dell: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    """PCI ids from DellSoftwareInventory (``14E4``, ``0x14e4``), normalised; None where absent."""
    vendor, device, subvendor, subdevice = (normalize_hex(dell.get(k)) or None
                                            for k in ("VendorID", "DeviceID", "SubVendorID", "SubDeviceID"))
    return vendor, device, subvendor, subdevice
