"""Credential sets and their IP ranges. Passwords arrive as Secret, are sealed at once, never returned."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from dsm_core.credentials.resolution import CredentialCandidate, CredentialRange
from dsm_core.credentials.secret import Secret
from dsm_core.db.hidden import sealed_or_marker
from dsm_core.models import CredentialIpRange, CredentialSet, Server
from dsm_core.models.base import CREDENTIAL_TRUST
from dsm_core.netaddr import AddressError, parse_cidr
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import Conflict, NotFound, ValidationError
from dsm_core.services.settings import seal_for_worker
from dsm_core.services.views import row_view
from dsm_core.text import identifier_problem


def _name(value: str, field: str = "name") -> str:
    name = value.strip()
    if not name or len(name) > 100:
        raise ValidationError(field, f"{value!r} is empty or longer than 100 characters", "give a short name")
    problem = identifier_problem(name)
    if problem:
        raise ValidationError(field, f"{name!r} {problem}", "use letters, digits, spaces and . _ - + : @ , / =")
    return name


def _priority(value: int, field: str = "priority") -> int:
    if not 0 <= value <= 100_000:
        raise ValidationError(
            field, f"{value} is out of range", "use a whole number from 0 to 100000 (lower is tried first)"
        )
    return value


def _cidr(text: str) -> str:
    try:
        return str(parse_cidr(text))
    except AddressError as exc:
        raise ValidationError("range", str(exc), "write a CIDR such as 10.0.0.0/24 or fd00::/64") from None


def get_set(session: Session, /, name: str) -> CredentialSet:
    found = session.exec(select(CredentialSet).where(CredentialSet.name == name)).first()
    if found is None:
        raise NotFound(f"credential set {name!r} does not exist; `dsm credentials list` shows the sets")
    return found


def _ranges(session: Session, /, set_id: Any) -> list[CredentialIpRange]:
    return list(
        session.exec(
            select(CredentialIpRange)
            .where(CredentialIpRange.credential_set_id == set_id)
            .order_by(col(CredentialIpRange.priority), col(CredentialIpRange.ip_range))
        ).all()
    )


def _trust(value: str) -> str:
    if value not in CREDENTIAL_TRUST:
        raise ValidationError("trust", f"{value!r} is not a trust level",
                              "first-use (the password may go to a server pinned on first sight: a lab's "
                              "convenience) or verified (only to a CA-verified server or one whose fingerprint "
                              "an admin pinned)")
    return value


def _set_view(session: Session, /, cs: CredentialSet) -> dict[str, Any]:
    view = row_view(cs)
    view["ranges"] = [
        {"ip_range": r.ip_range, "priority": r.priority, "description": r.description} for r in _ranges(session, cs.id)
    ]
    return view


@mutation("credentials.add", "admin")
def add_credential_set(
    tx: Tx,
    /,
    name: str,
    username: str,
    password: Secret,
    *,
    ranges: list[str] | None = None,
    priority: int = 100,
    is_default: bool = False,
    description: str | None = None,
    trust: str = "first-use",
) -> dict[str, Any]:
    name = _name(name)
    trust = _trust(trust)
    user = username.strip()
    if not user or len(user) > 100:
        raise ValidationError("username", f"{username!r} is empty or too long", "give the iDRAC user name")
    if not password.reveal():
        raise ValidationError("password", "is empty", "type the iDRAC password on standard input")
    cidrs = [_cidr(r) for r in ranges or []]
    priority = _priority(priority)
    if tx.session.exec(select(CredentialSet).where(CredentialSet.name == name)).first() is not None:
        raise Conflict(f"credential set {name!r} already exists; remove it first or choose another name")
    if is_default:
        for other in tx.session.exec(select(CredentialSet).where(CredentialSet.is_default == True)).all():  # noqa: E712
            other.is_default = False
            tx.session.add(other)
    cs = CredentialSet(
        name=name,
        username=user,
        password_sealed=seal_for_worker(tx.session, password),
        priority=priority,
        is_default=is_default,
        description=description,
        trust=trust,
    )
    tx.session.add(cs)
    tx.session.flush()
    for cidr in dict.fromkeys(cidrs):
        tx.session.add(CredentialIpRange(credential_set_id=cs.id, ip_range=cidr, priority=priority))
    tx.session.flush()
    tx.audit("credential_set", cs.id, name=name, username=user, ranges=cidrs, priority=priority, is_default=is_default,
             trust=trust)
    return _set_view(tx.session, cs)


@mutation("credentials.set_password", "admin")
def set_credential_password(tx: Tx, /, name: str, password: Secret) -> None:
    cs = get_set(tx.session, name)
    if not password.reveal():
        raise ValidationError("password", "is empty", "type the iDRAC password on standard input")
    cs.password_sealed = seal_for_worker(tx.session, password)
    tx.session.add(cs)
    tx.audit("credential_set", cs.id, name=name, password="(changed)")


@mutation("credentials.update", "admin")
def update_credential_set(
    tx: Tx,
    /,
    name: str,
    *,
    username: str | None = None,
    priority: int | None = None,
    is_default: bool | None = None,
    description: str | None = None,
    trust: str | None = None,
) -> dict[str, Any]:
    """Change what a set is called with and how it ranks; the password has its own command (set_password)."""
    cs = get_set(tx.session, name)
    changes: dict[str, Any] = {}
    if trust is not None and _trust(trust) != cs.trust:
        changes["trust"] = (cs.trust, trust)
        cs.trust = trust
    if username is not None:
        user = username.strip()
        if not user or len(user) > 100:
            raise ValidationError("username", f"{username!r} is empty or too long", "give the iDRAC user name")
        changes["username"] = (cs.username, user)
        cs.username = user
    if priority is not None:
        changes["priority"] = (cs.priority, _priority(priority))
        cs.priority = priority
    if description is not None:
        changes["description"] = (cs.description, description or None)
        cs.description = description or None
    if is_default is not None and is_default != cs.is_default:
        if is_default:
            for other in tx.session.exec(
                select(CredentialSet).where(CredentialSet.is_default == True, CredentialSet.id != cs.id)  # noqa: E712
            ).all():
                other.is_default = False
                tx.session.add(other)
                changes["previous_default"] = other.name
        changes["is_default"] = (cs.is_default, is_default)
        cs.is_default = is_default
    if not changes:
        raise ValidationError("credential set", "nothing to change",
                              "give --username, --priority, --default/--no-default, --trust or --description")
    tx.session.add(cs)
    tx.audit("credential_set", cs.id, name=name, changes={
        k: ({"old": v[0], "new": v[1]} if isinstance(v, tuple) else v) for k, v in changes.items()})
    return _set_view(tx.session, cs)


def servers_using(session: Session, /, set_id: Any) -> int:
    """Servers linked to the set: removing it would change which credentials their jobs use."""
    return int(session.exec(select(sa.func.count()).select_from(Server)
                            .where(col(Server.credential_set_id) == set_id)).one())


@mutation("credentials.remove", "admin")
def remove_credential_set(tx: Tx, /, name: str, *, force: bool = False) -> None:
    cs = get_set(tx.session, name)
    linked = servers_using(tx.session, cs.id)
    if linked and not force:
        raise Conflict(f"credential set {name!r} is linked to {linked} server(s); their jobs would fall back to "
                       "range or default credentials. Link them elsewhere first, or remove with --force")
    if linked:
        for server in tx.session.exec(select(Server).where(col(Server.credential_set_id) == cs.id)).all():
            server.credential_set_id = None
            tx.session.add(server)
    tx.session.delete(cs)
    tx.audit("credential_set", cs.id, name=name, unlinked_servers=linked)


@mutation("credentials.add_range", "admin")
def add_ip_range(tx: Tx, /, name: str, cidr: str, priority: int = 100, description: str | None = None) -> None:
    cs = get_set(tx.session, name)
    normalised = _cidr(cidr)
    if any(r.ip_range == normalised for r in _ranges(tx.session, cs.id)):
        raise Conflict(f"credential set {name!r} already has range {normalised}")
    tx.session.add(
        CredentialIpRange(
            credential_set_id=cs.id, ip_range=normalised, priority=_priority(priority), description=description
        )
    )
    tx.audit("credential_set", cs.id, name=name, added_range=normalised)


@mutation("credentials.remove_range", "admin")
def remove_ip_range(tx: Tx, /, name: str, cidr: str) -> None:
    cs = get_set(tx.session, name)
    normalised = _cidr(cidr)
    match = next((r for r in _ranges(tx.session, cs.id) if r.ip_range == normalised), None)
    if match is None:
        raise NotFound(f"credential set {name!r} has no range {normalised}")
    tx.session.delete(match)
    tx.audit("credential_set", cs.id, name=name, removed_range=normalised)


@query("viewer")
def list_credential_sets(session: Session, /) -> list[dict[str, Any]]:
    sets = session.exec(select(CredentialSet).order_by(col(CredentialSet.priority), col(CredentialSet.name))).all()
    return [_set_view(session, cs) for cs in sets]


def load_candidates(session: Session, /) -> list[CredentialCandidate]:
    """All sets as plain data for dsm_core.credentials.resolution (used by the worker and server views)."""
    ranges: dict[Any, list[CredentialRange]] = {}
    for r in session.exec(select(CredentialIpRange)).all():
        try:
            ranges.setdefault(r.credential_set_id, []).append(CredentialRange(parse_cidr(r.ip_range), r.priority))
        except AddressError:
            continue  # stored ranges are validated on entry; a hand-edited bad one must not stop resolution
    return [
        CredentialCandidate(
            cs.id, cs.name, cs.username, sealed_or_marker(cs, "password_sealed"), cs.priority, cs.is_default,
            tuple(ranges.get(cs.id, ())), cs.trust,
        )
        for cs in session.exec(select(CredentialSet)).all()
    ]
