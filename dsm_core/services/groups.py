"""Manual server groups: type, colour, safety threshold, and members with their update priority."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, col, select

from dsm_core.models import Server, ServerGroup, ServerGroupMember
from dsm_core.models.base import GROUP_TYPES
from dsm_core.netaddr import format_endpoint
from dsm_core.services.context import Tx, mutation, query
from dsm_core.services.errors import Conflict, NotFound, ValidationError
from dsm_core.services.servers import get_server
from dsm_core.services.views import row_view
from dsm_core.text import identifier_problem

MANUAL_TYPES = tuple(t for t in GROUP_TYPES if t != "vcenter_cluster")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def get_group(session: Session, /, name: str) -> ServerGroup:
    group = session.exec(select(ServerGroup).where(ServerGroup.name == name)).first()
    if group is None:
        raise NotFound(f"group {name!r} does not exist; `dsm groups list` shows the groups")
    return group


def _validate(
    name: str | None = None, group_type: str | None = None, color: str | None = None, min_healthy: int | None = None
) -> None:
    if name is not None and (not name.strip() or len(name) > 100):
        raise ValidationError("name", f"{name!r} is empty or longer than 100 characters", "give a short name")
    problem = identifier_problem(name.strip()) if name is not None else None
    if problem:
        raise ValidationError("name", f"{name!r} {problem}", "use letters, digits, spaces and . _ - + : @ , / =")
    if group_type is not None and group_type not in MANUAL_TYPES:
        raise ValidationError(
            "type",
            f"{group_type!r} is not a group type",
            "use one of " + ", ".join(MANUAL_TYPES) + " (vcenter_cluster groups come from vCenter sync)",
        )
    if color is not None and not _COLOUR.match(color):
        raise ValidationError("color", f"{color!r} is not a colour", "write it as #RRGGBB, e.g. #3b82f6")
    if min_healthy is not None and not 0 <= min_healthy <= 10_000:
        raise ValidationError(
            "min_healthy_servers", f"{min_healthy} is out of range", "use a whole number from 0 to 10000"
        )


def _priority(priority: int) -> int:
    if not 0 <= priority <= 100_000:
        raise ValidationError(
            "priority", f"{priority} is out of range", "use a whole number from 0 to 100000 (lower is updated first)"
        )
    return priority


@mutation("groups.add", "operator")
def add_group(
    tx: Tx,
    /,
    name: str,
    *,
    group_type: str = "application",
    color: str = "#3b82f6",
    min_healthy_servers: int = 1,
    description: str | None = None,
) -> dict[str, Any]:
    _validate(name, group_type, color, min_healthy_servers)
    name = name.strip()
    if tx.session.exec(select(ServerGroup).where(ServerGroup.name == name)).first() is not None:
        raise Conflict(f"group {name!r} already exists")
    group = ServerGroup(
        name=name,
        group_type=group_type,
        color=color,
        min_healthy_servers=min_healthy_servers,
        description=description,
        created_by=tx.actor.user_id,
    )
    tx.session.add(group)
    tx.audit("server_group", group.id, name=name, group_type=group_type, min_healthy_servers=min_healthy_servers)
    return row_view(group)


@mutation("groups.update", "operator")
def update_group(
    tx: Tx,
    /,
    name: str,
    *,
    new_name: str | None = None,
    color: str | None = None,
    min_healthy_servers: int | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    group = get_group(tx.session, name)
    _validate(new_name, None, color, min_healthy_servers)
    changed: dict[str, Any] = {}

    def change(field: str, value: Any) -> None:
        changed[field] = {"old": getattr(group, field), "new": value}
        setattr(group, field, value)

    if new_name and new_name != name:
        if tx.session.exec(select(ServerGroup).where(ServerGroup.name == new_name)).first() is not None:
            raise Conflict(f"group {new_name!r} already exists")
        change("name", new_name.strip())
    if color is not None:
        change("color", color)
    if min_healthy_servers is not None:
        change("min_healthy_servers", min_healthy_servers)
    if description is not None:
        change("description", description)
    if not changed:
        raise ValidationError("changes", "nothing to change", "give at least one field to update")
    tx.session.add(group)
    tx.audit("server_group", group.id, name=name, changes=changed)
    return row_view(group)


@mutation("groups.remove", "admin")
def remove_group(tx: Tx, /, name: str) -> None:
    group = get_group(tx.session, name)
    tx.session.delete(group)
    tx.audit("server_group", group.id, name=name)


@mutation("groups.add_member", "operator")
def add_member(tx: Tx, /, name: str, server_ref: str, *, priority: int = 100, role: str | None = None) -> None:
    group = get_group(tx.session, name)
    server = get_server(tx.session, server_ref)
    priority = _priority(priority)
    if tx.session.exec(
        select(ServerGroupMember).where(
            ServerGroupMember.server_group_id == group.id, ServerGroupMember.server_id == server.id
        )
    ).first():
        raise Conflict(f"{format_endpoint(server.ip_address, server.port)} is already in {name!r}")
    tx.session.add(ServerGroupMember(server_group_id=group.id, server_id=server.id, priority=priority, role=role))
    tx.audit("server_group", group.id, name=name, added_server=str(server.id), priority=priority)


@mutation("groups.remove_member", "operator")
def remove_member(tx: Tx, /, name: str, server_ref: str) -> None:
    group = get_group(tx.session, name)
    server = get_server(tx.session, server_ref)
    member = tx.session.exec(
        select(ServerGroupMember).where(
            ServerGroupMember.server_group_id == group.id, ServerGroupMember.server_id == server.id
        )
    ).first()
    if member is None:
        raise NotFound(f"{format_endpoint(server.ip_address, server.port)} is not in {name!r}")
    tx.session.delete(member)
    tx.audit("server_group", group.id, name=name, removed_server=str(server.id))


def _members(session: Session, /, group: ServerGroup) -> list[dict[str, Any]]:
    rows = session.exec(
        select(ServerGroupMember, Server)
        .join(Server, col(Server.id) == col(ServerGroupMember.server_id))
        .where(ServerGroupMember.server_group_id == group.id)
        .order_by(col(ServerGroupMember.priority), col(Server.ip_address))
    ).all()
    return [
        {
            "server_id": str(s.id),
            "address": format_endpoint(s.ip_address, s.port),
            "hostname": s.hostname,
            "service_tag": s.service_tag,
            "priority": m.priority,
            "role": m.role,
        }
        for m, s in rows
    ]


@query("viewer")
def list_groups(session: Session, /) -> list[dict[str, Any]]:
    out = []
    for group in session.exec(select(ServerGroup).order_by(ServerGroup.name)).all():
        view = row_view(group)
        view["member_count"] = len(_members(session, group))
        out.append(view)
    return out


@query("viewer")
def show_group(session: Session, /, name: str) -> dict[str, Any]:
    group = get_group(session, name)
    view = row_view(group)
    view["members"] = _members(session, group)
    return view
