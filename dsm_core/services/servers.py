"""Servers: add, import from CSV, update, remove, list, show; and how an operator's REF finds one.

REF is whatever an operator has at hand: the id, an IP, IP:PORT, the hostname or the service tag.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from dsm_core.credentials.resolution import ServerCredentialFacts, in_ranges, resolve
from dsm_core.credentials.secret import Secret
from dsm_core.db.caps import check_length
from dsm_core.db.engine import read_scope, retry_when_locked, session_scope
from dsm_core.db.hidden import sealed_or_marker
from dsm_core.db.holder import holding
from dsm_core.models import CredentialSet, Server, ServerGroup, ServerGroupMember
from dsm_core.models.base import TLS_VERIFY_MODES
from dsm_core.netaddr import AddressError, format_endpoint, parse_endpoint, parse_ip, parse_port
from dsm_core.services.context import (
    Actor,
    ServiceContext,
    Tx,
    long_mutation,
    mutation,
    operator_session,
    query,
    refuse_control_characters,
)
from dsm_core.services.credentials import get_set, load_candidates
from dsm_core.services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from dsm_core.services.settings import seal_for_worker
from dsm_core.services.views import row_view

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_SERVICE_TAG = re.compile(r"^[A-Za-z0-9]{5,20}$")
CSV_COLUMNS = ("ip_address", "port", "hostname", "service_tag", "model", "credential_set", "groups", "notes")


def parse_address(text: str, port: int | str | None = None, field: str = "address") -> tuple[str, int]:
    try:
        ip, embedded = parse_endpoint(text)
        explicit = parse_port(port) if port not in (None, "") else None
    except AddressError as exc:
        raise ValidationError(field, str(exc), "write IP, IP:PORT or [IPv6]:PORT") from None
    if embedded is not None and explicit is not None and embedded != explicit:
        raise ValidationError(field, f"{text!r} says port {embedded} but port is {explicit}", "give the port once")
    return str(ip), embedded or explicit or 443


def validate_hostname(value: str | None, field: str = "hostname") -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _HOSTNAME.match(value):
        raise ValidationError(field, f"{value!r} is not a host name", "use letters, digits, '-' and dots")
    return value


def validate_service_tag(value: str | None, field: str = "service_tag") -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip().upper()
    if not _SERVICE_TAG.match(value):
        raise ValidationError(field, f"{value!r} is not a Dell service tag", "use 5 to 20 letters and digits")
    return value


def find_servers(session: Session, /, ref: str) -> list[Server]:
    ref = ref.strip()
    try:
        server = session.get(Server, uuid.UUID(ref))
        return [server] if server else []
    except ValueError:
        pass
    try:
        ip, port = parse_endpoint(ref)
    except AddressError:
        lowered = ref.lower()
        stmt = select(Server).where(
            sa.or_(sa.func.lower(Server.hostname) == lowered, sa.func.lower(Server.service_tag) == lowered)
        )
        return list(session.exec(stmt).all())
    stmt = select(Server).where(Server.ip_address == str(ip))
    if port is not None:
        stmt = stmt.where(Server.port == port)
    return list(session.exec(stmt).all())


def get_server(session: Session, /, ref: str) -> Server:
    found = find_servers(session, ref)
    if not found:
        raise NotFound(
            f"no server matches {ref!r}; give an id, IP, IP:PORT, hostname or service tag "
            "(`dsm servers list` shows them)"
        )
    if len(found) > 1:
        names = ", ".join(format_endpoint(s.ip_address, s.port) for s in found[:10])
        raise ValidationError("server", f"{ref!r} matches {len(found)} servers ({names})", "give IP:PORT or the id")
    return found[0]


def check_link(session: Session, actor: Actor, set_id: uuid.UUID | None, addresses: Sequence[str],
               name: str | None) -> None:
    """Linking a credential set to a server sends the set's password there: inside the set's ranges anyone who
    may edit servers may link it; outside them only an admin (docs/security.md, the destination rule)."""
    if set_id is None or actor.may("admin"):
        return
    cand = next((c for c in load_candidates(session) if c.set_id == set_id), None)
    outside = [a for a in addresses if cand is None or not in_ranges(a, cand.ranges)]
    if outside:
        raise PermissionDenied(
            f"credential set {name}'s password goes only to its ranges; linking it to {outside[0]}"
            f"{f' (and {len(outside) - 1} more)' if len(outside) > 1 else ''}, outside them, needs the admin role; "
            f"{actor.username} is {actor.role}"
        )


def _check_new_credentials(username: str | None, password: Secret | None) -> None:
    if bool(username) != bool(password and password.reveal()):
        raise ValidationError(
            "username",
            "server credentials need both a user name and a password",
            "give --username with --password-stdin, or neither",
        )


@mutation("servers.add", "operator")
def add_server(
    tx: Tx,
    /,
    address: str,
    *,
    port: int | None = None,
    hostname: str | None = None,
    credential_set: str | None = None,
    username: str | None = None,
    password: Secret | None = None,
    service_tag: str | None = None,
    model: str | None = None,
    notes: str | None = None,
    tls_verify_mode: str = "pin",
    fingerprint: str | None = None,
) -> dict[str, Any]:
    ip, real_port = parse_address(address, port)
    hostname = validate_hostname(hostname)
    service_tag = validate_service_tag(service_tag)
    _check_new_credentials(username, password)
    if tls_verify_mode not in TLS_VERIFY_MODES:
        raise ValidationError("tls_verify_mode", f"{tls_verify_mode!r} is not a mode", "use pin, ca or off")
    set_id = get_set(tx.session, credential_set).id if credential_set else None
    check_link(tx.session, tx.actor, set_id, [ip], credential_set)
    pin = _admin_pin(tx, fingerprint, tls_verify_mode)
    if tx.session.exec(select(Server).where(Server.ip_address == ip, Server.port == real_port)).first():
        raise Conflict(f"server {format_endpoint(ip, real_port)} already exists")
    server = Server(
        ip_address=ip,
        port=real_port,
        hostname=hostname,
        service_tag=service_tag,
        model=model,
        credential_set_id=set_id,
        notes=notes,
        tls_verify_mode=tls_verify_mode,
        tls_fingerprint_sha256=pin,
        tls_pin_vetted=pin is not None,
        idrac_username=username.strip() if username else None,
        idrac_password_sealed=seal_for_worker(tx.session, password) if username and password else None,
    )
    tx.session.add(server)
    tx.audit(
        "server",
        server.id,
        address=format_endpoint(ip, real_port),
        hostname=hostname,
        credential_set=credential_set,
        own_credentials=bool(username),
        pinned_by_admin=pin,
    )
    return row_view(server)


def _admin_pin(tx: Tx, fingerprint: str | None, mode: str) -> str | None:
    """A fingerprint given for a server: an admin's vetting (what a ``verified`` credential set asks for)."""
    if fingerprint is None:
        return None
    if not tx.actor.may("admin"):
        raise PermissionDenied(f"pinning a server's certificate vets it for verified credential sets and needs the "
                               f"admin role; {tx.actor.username} is {tx.actor.role}")
    if mode != "pin":
        raise ValidationError("fingerprint", f"goes with --tls-verify pin, not {mode}", "drop one of them")
    from dsm_core.services.vcenter import normalize_fingerprint  # vcenter imports this module

    return normalize_fingerprint(fingerprint)


_UPDATABLE = (
    "address",
    "hostname",
    "service_tag",
    "model",
    "notes",
    "credential_set",
    "tls_verify_mode",
    "port",
    "tls_fingerprint_sha256",
)


@mutation("servers.update", "operator")
def update_server(
    tx: Tx,
    /,
    ref: str,
    *,
    username: str | None = None,
    password: Secret | None = None,
    clear_credentials: bool = False,
    **changes: Any,
) -> dict[str, Any]:
    server = get_server(tx.session, ref)
    unknown = set(changes) - set(_UPDATABLE)
    if unknown:
        raise ValidationError(sorted(unknown)[0], "cannot be changed here", "changeable: " + ", ".join(_UPDATABLE))
    changed: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "hostname":
            value = validate_hostname(value)
        elif key == "service_tag":
            value = validate_service_tag(value)
        elif key == "tls_verify_mode" and value not in TLS_VERIFY_MODES:
            raise ValidationError(key, f"{value!r} is not a mode", "use pin, ca or off")
        elif key == "tls_fingerprint_sha256":
            pin = _admin_pin(tx, value, changes.get("tls_verify_mode", server.tls_verify_mode))
            changed[key] = {"old": server.tls_fingerprint_sha256, "new": pin, "pinned_by_admin": pin is not None}
            server.tls_fingerprint_sha256, server.tls_pin_vetted = pin, pin is not None
            continue
        elif key == "port":
            try:
                value = parse_port(value)
            except AddressError as exc:
                raise ValidationError("port", str(exc)) from None
        if key == "address":
            if not tx.actor.may("admin"):
                raise PermissionDenied(f"moving a server to another address sends its credentials there and needs "
                                       f"the admin role; {tx.actor.username} is {tx.actor.role}")
            ip, new_port = parse_address(value, None)
            with contextlib.suppress(AddressError):
                if parse_endpoint(value)[1] is None:
                    new_port = server.port  # only the IP moved
            old = format_endpoint(server.ip_address, server.port)
            server.ip_address, server.port = ip, new_port
            server.tls_fingerprint_sha256, server.tls_pin_vetted = None, False  # another address, another pin
            changed["address"] = {"old": old, "new": format_endpoint(ip, new_port)}
            continue
        if key == "credential_set":
            previous = server.credential_set_id
            server.credential_set_id = get_set(tx.session, value).id if value else None
            check_link(tx.session, tx.actor, server.credential_set_id, [server.ip_address], value)
            changed[key] = {"old": str(previous) if previous else None, "new": value or None}
            continue
        changed[key] = {"old": getattr(server, key), "new": value}
        setattr(server, key, value)
    if clear_credentials:
        server.idrac_username = server.idrac_password_sealed = None
        changed["own_credentials"] = "(cleared)"
    elif username or password:
        _check_new_credentials(username, password)
        assert username and password
        server.idrac_username = username.strip()
        server.idrac_password_sealed = seal_for_worker(tx.session, password)
        changed["own_credentials"] = "(changed)"
    if not changed:
        raise ValidationError("changes", "nothing to change", "name at least one field to update")
    if (
        ("port" in changed or "address" in changed)
        and tx.session.exec(
            select(Server).where(
                Server.ip_address == server.ip_address, Server.port == server.port, Server.id != server.id
            )
        ).first()
    ):
        raise Conflict(f"server {format_endpoint(server.ip_address, server.port)} already exists")
    tx.session.add(server)
    tx.audit("server", server.id, address=format_endpoint(server.ip_address, server.port), changes=changed)
    return row_view(server)


@mutation("servers.remove", "admin")
def remove_server(tx: Tx, /, ref: str) -> None:
    server = get_server(tx.session, ref)
    tx.session.delete(server)
    tx.audit(
        "server",
        server.id,
        address=format_endpoint(server.ip_address, server.port),
        hostname=server.hostname,
        service_tag=server.service_tag,
    )


# --- CSV import ---------------------------------------------------------------------------------------


class CsvImportError(ValidationError):
    """Every bad row of an import, each with its line number; nothing was written."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(
            source,
            f"{len(errors)} bad row(s), nothing imported:\n  " + "\n  ".join(errors),
            "fix the rows, or import the good rows only with --skip-bad",
        )


@dataclass
class _Row:
    line: int
    ip: str
    port: int
    hostname: str | None
    service_tag: str | None
    model: str | None
    credential_set_id: uuid.UUID | None
    group_ids: list[uuid.UUID]
    notes: str | None


def _parse_rows(session: Session, /, text: str, source: str) -> tuple[list[_Row], list[str]]:
    if "\x00" in text:
        raise ValidationError(source, "is not a text CSV file (it holds NUL bytes: binary data?)",
                              "export the inventory as CSV text (UTF-8) with a header row")
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise ValidationError(f"{source} line 1", f"not readable as CSV ({exc})", "give a CSV text file") from None
    for h in header:
        refuse_control_characters(f"{source} line 1: column name", h)
    if "ip_address" not in header:
        raise ValidationError(
            f"{source} line 1",
            "the header has no ip_address column",
            "start the file with a header row such as ip_address,hostname,credential_set",
        )
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise ValidationError(
            f"{source} line 1", f"unknown column(s) {', '.join(unknown)}", "allowed columns: " + ", ".join(CSV_COLUMNS)
        )
    reader.fieldnames = header
    sets = {cs.name: cs.id for cs in session.exec(select(CredentialSet)).all()}
    groups = {g.name: g.id for g in session.exec(select(ServerGroup)).all()}
    existing = {(ip, port) for ip, port in session.exec(select(Server.ip_address, Server.port)).all()}
    rows: list[_Row] = []
    errors: list[str] = []
    seen: dict[tuple[str, int], int] = {}
    records = iter(reader)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"{source} line {reader.line_num}: not readable as CSV ({exc})")
            continue
        line = reader.line_num
        extra = record.pop(None, None)  # DictReader puts fields beyond the header under None
        cells = {key: (record.get(key) or "").strip() for key in CSV_COLUMNS}
        get = cells.__getitem__
        if not any(cells.values()) and not extra:
            continue  # blank line
        try:
            if extra:
                raise ValidationError("row", f"has {len(header) + len(extra)} fields, the header {len(header)}",
                                      "quote values that hold commas, or add the column to the header")
            for key, value in cells.items():
                refuse_control_characters(key, value)
                if key in _CHECKED:
                    check_length(key, value or None, SERVERS, key)
            ip, port = parse_address(get("ip_address"), get("port") or None, field="ip_address")
            hostname = validate_hostname(get("hostname"))
            tag = validate_service_tag(get("service_tag"))
            set_name = get("credential_set")
            if set_name and set_name not in sets:
                raise ValidationError(
                    "credential_set", f'"{set_name}" does not exist', "create it with `dsm credentials add` first"
                )
            group_names = [g.strip() for g in get("groups").split(";") if g.strip()]
            missing = [g for g in group_names if g not in groups]
            if missing:
                raise ValidationError(
                    "groups", f'"{missing[0]}" does not exist', "create it with `dsm groups add` first"
                )
            if (ip, port) in existing:
                raise ValidationError(
                    "ip_address",
                    f"{format_endpoint(ip, port)} is already a server",
                    "remove the row or the existing server",
                )
            if (ip, port) in seen:
                raise ValidationError(
                    "ip_address",
                    f"{format_endpoint(ip, port)} repeats line {seen[(ip, port)]}",
                    "keep one row per server",
                )
        except ValidationError as exc:
            errors.append(f"{source} line {line}: {exc}")
            continue
        seen[(ip, port)] = line
        rows.append(
            _Row(
                line,
                ip,
                port,
                hostname,
                tag,
                get("model") or None,
                sets.get(set_name) if set_name else None,
                [groups[g] for g in group_names],
                get("notes") or None,
            )
        )
    return rows, errors


_CHECKED = ("hostname", "service_tag", "model", "notes")
SERVERS = SQLModel.metadata.tables["servers"]


IMPORT_CHUNK = 1000


@long_mutation("servers.import", "operator")
def import_servers_csv(
    ctx: ServiceContext, /, text: str, *, source: str = "servers.csv", skip_bad: bool = False
) -> dict[str, Any]:
    """Every row is validated first (one read); then the servers are written IMPORT_CHUNK at a time, each
    chunk a short transaction, so the worker and other operators keep writing during a 100,000-row import.
    A chunk that fails (a server added meanwhile by someone else) removes what the earlier chunks wrote."""
    name = os.path.basename(source)
    with read_scope(ctx.engine) as session:
        rows, errors = _parse_rows(session, text, name)
        for set_id in {r.credential_set_id for r in rows if r.credential_set_id is not None}:
            cs = session.get(CredentialSet, set_id)
            check_link(session, ctx.actor, set_id, [r.ip for r in rows if r.credential_set_id == set_id],
                       cs.name if cs else None)
    if errors and not skip_bad:
        raise CsvImportError(name, errors)
    if not rows:
        fix = "add rows below the header" if not errors else "every row was bad; see above"
        raise ValidationError(name, "no server rows to import", fix)
    written: list[uuid.UUID] = []
    chunks = [rows[i : i + IMPORT_CHUNK] for i in range(0, len(rows), IMPORT_CHUNK)]
    by = ctx.actor.username
    try:
        with holding(ctx.engine, f"import of {len(rows)} servers from {name} by {by}"):
            for number, chunk in enumerate(chunks, 1):
                written += retry_when_locked(_write_chunk)(ctx, chunk, number == len(chunks), name, len(rows),
                                                           len(errors))
    except sa.exc.IntegrityError:
        _undo_import(ctx.engine, written)
        raise Conflict(f"{name}: servers were added by someone else during the import; nothing was imported, "
                       "run it again") from None
    except BaseException:
        _undo_import(ctx.engine, written)
        raise
    return {"imported": len(rows), "skipped": errors}


def _write_chunk(ctx: ServiceContext, chunk: list[_Row], last: bool, source: str, total: int,
                 skipped: int) -> list[uuid.UUID]:
    with session_scope(ctx.engine) as session:
        operator_session(session)
        servers = [
            Server(ip_address=row.ip, port=row.port, hostname=row.hostname, service_tag=row.service_tag,
                   model=row.model, credential_set_id=row.credential_set_id, notes=row.notes)
            for row in chunk
        ]
        session.add_all(servers)
        session.add_all(
            ServerGroupMember(server_group_id=gid, server_id=server.id)
            for server, row in zip(servers, chunk, strict=True)
            for gid in row.group_ids
        )
        session.flush()
        if last:  # the one audit row, in the transaction that completes the import
            tx = Tx(ctx, session, "servers.import")
            tx.audit("server", None, source=source, imported=total, skipped=skipped)
            tx.flush_audit()
        return [s.id for s in servers]


def _undo_import(engine: Any, ids: list[uuid.UUID]) -> None:
    for start in range(0, len(ids), IMPORT_CHUNK):
        part = ids[start : start + IMPORT_CHUNK]

        def remove(part: list[uuid.UUID] = part) -> None:
            with session_scope(engine) as session:
                session.execute(sa.delete(ServerGroupMember).where(col(ServerGroupMember.server_id).in_(part)))
                session.execute(sa.delete(Server).where(col(Server.id).in_(part)))

        retry_when_locked(remove)()


# --- reads ------------------------------------------------------------------------------------------


def _groups_by_server(session: Session, /, server_ids: Sequence[uuid.UUID] | None = None) -> dict[uuid.UUID, list[str]]:
    stmt = select(ServerGroupMember.server_id, ServerGroup.name).join(
        ServerGroup, col(ServerGroup.id) == col(ServerGroupMember.server_group_id)
    )
    if server_ids is not None:
        stmt = stmt.where(col(ServerGroupMember.server_id).in_(server_ids))
    out: dict[uuid.UUID, list[str]] = {}
    for sid, name in session.exec(stmt).all():
        out.setdefault(sid, []).append(name)
    return out


def _address_order(server: Server) -> tuple[int, int, int, str]:
    """10.0.0.9 before 10.0.0.10: addresses in numeric order (text order would put .10 first)."""
    try:
        ip = parse_ip(server.ip_address)
        return ip.version, int(ip), server.port, ""
    except AddressError:
        return 99, 0, server.port, server.ip_address


@query("viewer")
def list_servers(session: Session, /) -> list[dict[str, Any]]:
    servers = sorted(session.exec(select(Server)).all(), key=_address_order)
    groups = _groups_by_server(session)
    out = []
    for s in servers:
        view = row_view(s)
        view["groups"] = sorted(groups.get(s.id, []))
        out.append(view)
    return out


@query("viewer")
def show_server(session: Session, /, ref: str) -> dict[str, Any]:
    server = get_server(session, ref)
    view = row_view(server)
    view["groups"] = sorted(_groups_by_server(session, [server.id]).get(server.id, []))
    facts = ServerCredentialFacts(
        server.ip_address, server.idrac_username, sealed_or_marker(server, "idrac_password_sealed"),
        server.credential_set_id
    )
    # The environment fallback lives in the worker's environment, which this process cannot see.
    resolved = resolve(facts, load_candidates(session), {})
    view["credential_source"] = (
        resolved.describe() if resolved else "no credential set applies; the worker's IDRAC_DEFAULT_USER, if set"
    )
    return view
