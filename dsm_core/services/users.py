"""Operators and their roles. Admin only; the last admin can be neither removed nor demoted."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dsm_core.db import roles
from dsm_core.models import User
from dsm_core.services.context import ROLE_RANK, Tx, mutation, query
from dsm_core.services.errors import Conflict, NotFound, ValidationError
from dsm_core.services.views import row_view

_USERNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")


def validate_username(name: str) -> str:
    value = name.strip()
    if not _USERNAME.match(value):
        raise ValidationError(
            "username",
            f"{name!r} is not an OS user name",
            "use letters, digits, '_', '.', '@' or '-' (at most 64 characters)",
        )
    if value.lower().startswith(("dsm_", "pg_")):
        raise ValidationError("username", f"{value!r} is a database role name (dsm_*, pg_*), not an operator",
                              "map the operator's own OS user name")
    return value


def validate_role(role: str) -> str:
    if role not in ROLE_RANK:
        raise ValidationError("role", f"{role!r} is not a role", "use admin, operator or viewer")
    return role


def sync_login(session: Session, /, username: str, role: str | None) -> None:
    """On a PostgreSQL database with DSM's roles, the user's database login follows the users row in the same
    transaction: created or moved to the role's group, or stripped of every DSM group (dsm_core.db.roles)."""
    connection = session.connection()
    if not roles.is_provisioned(connection):
        return
    if role is None:
        connection.execute(sa.text("SELECT public.dsm_revoke_login(:u)"), {"u": username})
    else:
        connection.execute(sa.text("SELECT public.dsm_grant_login(:u, :r)"), {"u": username, "r": role})


def _get(session: Session, /, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"user {username!r} does not exist; `dsm users list` shows who does")
    return user


def _admins(session: Session, /) -> int:
    return len(session.exec(select(User.id).where(User.role == "admin")).all())


@mutation("users.add", "admin")
def add_user(tx: Tx, /, username: str, role: str, full_name: str | None = None) -> dict[str, Any]:
    name, role = validate_username(username), validate_role(role)
    if tx.session.exec(select(User).where(User.username == name)).first() is not None:
        raise Conflict(f"user {name!r} already exists; change its role with `dsm users set-role {name} ROLE`")
    user = User(username=name, role=role, full_name=full_name)
    tx.session.add(user)
    sync_login(tx.session, name, role)
    tx.audit("user", user.id, username=name, role=role)
    return row_view(user)


@mutation("users.set_role", "admin")
def set_role(tx: Tx, /, username: str, role: str) -> dict[str, Any]:
    role = validate_role(role)
    user = _get(tx.session, username)
    if user.role == "admin" and role != "admin" and _admins(tx.session) == 1:
        raise Conflict(f"{username} is the last admin; make another user admin first")
    previous = user.role
    user.role = role
    tx.session.add(user)
    sync_login(tx.session, username, role)
    tx.audit("user", user.id, username=username, role=role, previous_role=previous)
    return row_view(user)


@mutation("users.remove", "admin")
def remove_user(tx: Tx, /, username: str) -> None:
    user = _get(tx.session, username)
    if user.role == "admin" and _admins(tx.session) == 1:
        raise Conflict(f"{username} is the last admin; make another user admin first")
    tx.session.delete(user)
    sync_login(tx.session, username, None)
    tx.audit("user", user.id, username=username)


@query("viewer")
def list_users(session: Session, /) -> list[dict[str, Any]]:
    return [row_view(u) for u in session.exec(select(User).order_by(User.username)).all()]
