"""Who is acting, and the one way a use case mutates: role check, one transaction, one audit row.

Every mutating service function is declared with ``@mutation(action, min_role)``. The decorator checks
the role before anything is read, runs the function in a single transaction and writes exactly one
``audit_logs`` row in that same transaction, so a refused or failed call leaves nothing behind and a
successful one can never go unaudited. ``MUTATIONS`` lists them all for the RBAC test matrix.
"""

from __future__ import annotations

import functools
import inspect
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dsm_core.db.caps import REFUSE_LONG_TEXT
from dsm_core.db.engine import read_scope, session_scope
from dsm_core.models import AuditLog, User
from dsm_core.services.errors import PermissionDenied, ValidationError
from dsm_core.text import control_characters

# Parameters that may span lines (tabs and newlines allowed; every other control character refused).
MULTILINE_PARAMETERS = frozenset({"notes", "description"})
# Parameters checked field by field by their own use case (a CSV's text: each cell is checked and named).
SELF_CHECKED_PARAMETERS = frozenset({"text"})


def refuse_control_characters(field_name: str, value: object) -> None:
    """Operator input never carries terminal control sequences into the database (and so onto a screen)."""
    if isinstance(value, str):
        found = control_characters(value, multiline=field_name.split(".")[-1] in MULTILINE_PARAMETERS)
        if found:
            raise ValidationError(field_name, f"holds control characters ({' '.join(found)})",
                                  "type plain text: no escape sequences, tabs or line breaks")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_control_characters(f"{field_name}.{key}", item)
    elif isinstance(value, list | tuple):
        for item in value:
            refuse_control_characters(field_name, item)

Role = Literal["admin", "operator", "viewer"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    username: str
    role: Role
    user_id: uuid.UUID | None = None
    ip_address: str | None = None

    def may(self, min_role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[min_role]


SYSTEM = Actor(username="system", role="admin")
"""The worker and `dsm init` act as the system (DESIGN.md §3 Roles)."""


def client_address(environ: dict[str, str] | None = None) -> str | None:
    """The SSH client's address when the operator came in over SSH (the usual jump-host case)."""
    env = os.environ if environ is None else environ
    for var in ("SSH_CLIENT", "SSH_CONNECTION"):
        if env.get(var):
            return env[var].split()[0]
    return None


def database_refusal(exc: BaseException) -> PermissionDenied | None:
    """PostgreSQL's own refusal (a grant, a policy or a trigger of dsm_core.db.roles said no) as DSM's."""
    orig = getattr(exc, "orig", None)
    if isinstance(exc, sa.exc.DBAPIError) and getattr(orig, "sqlstate", None) == "42501":
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else "permission denied"
        return PermissionDenied(f"the database refused it: {first} (DSM's roles are enforced by PostgreSQL too)")
    return None


def _login_mismatch(session: Session, username: str) -> str | None:
    """On PostgreSQL with DSM's roles, the database login must be the DSM user (peer authentication makes it the
    OS user); only a trusted login (a superuser, the schema owner's) may act for another."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return None
    # Two statements: a call to a function that does not exist yet (a database before 0010) fails at parse time.
    if not connection.execute(sa.text("SELECT to_regprocedure('public.dsm_trusted()') IS NOT NULL")).scalar():
        return None
    login, trusted = connection.execute(sa.text("SELECT session_user::text, public.dsm_trusted()")).one()
    if not trusted and login != username:
        return (f"DSM user {username!r} but database login {login!r}: with PostgreSQL's roles the two must agree; "
                "connect over the local socket as yourself (peer authentication), not as another login")
    return None


def actor_for(engine: Engine, username: str, ip_address: str | None = None) -> Actor:
    """The DSM identity of an OS user; an unknown user is refused with how to get access."""
    with read_scope(engine) as session:
        mismatch = _login_mismatch(session, username)
        if mismatch:
            raise PermissionDenied(mismatch)
        user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise PermissionDenied(
            f"OS user {username!r} is not a DSM user; an admin can add it with `dsm users add {username} --role viewer`"
        )
    return Actor(
        username=user.username,
        role=cast(Role, user.role),  # a checked enum in the database: always one of ROLE_RANK
        user_id=user.id,
        ip_address=ip_address,
    )


@dataclass
class ServiceContext:
    engine: Engine
    actor: Actor

    def require(self, min_role: Role, action: str) -> None:
        if not self.actor.may(min_role):
            raise PermissionDenied(f"{action} needs the {min_role} role; {self.actor.username} is {self.actor.role}")


@dataclass
class Tx:
    """The transaction a mutation runs in, and the audit entry it must record exactly once."""

    ctx: ServiceContext
    session: Session
    action: str
    _entry: dict[str, Any] | None = field(default=None)

    @property
    def actor(self) -> Actor:
        return self.ctx.actor

    def admin_reason(self, field_name: str, reason: str | None, what: str) -> str | None:
        """An admin's stated reason to go past a rule (``what`` it allows), checked: only an admin may give one, and
        it must say something (it is audited). None when none was given."""
        if reason is None:
            return None
        if not self.actor.may("admin"):
            raise PermissionDenied(f"{what} is an admin's decision; {self.actor.username} is {self.actor.role}")
        if not reason.strip():
            raise ValidationError(field_name, "needs the reason", "say why, in words (it is audited)")
        return reason.strip()

    def audit(self, target_type: str, target_id: object, **details: Any) -> None:
        if self._entry is not None:
            raise RuntimeError(f"{self.action} recorded its audit entry twice")
        self._entry = {
            "target_type": target_type,
            "target_id": None if target_id is None else str(target_id),
            "details": details or None,
        }

    def flush_audit(self) -> None:
        if self._entry is None:
            raise RuntimeError(f"{self.action} changed data without recording an audit entry")
        self.session.add(
            AuditLog(
                user_id=self.actor.user_id,
                username=self.actor.username,
                action=self.action,
                ip_address=self.actor.ip_address,
                **self._entry,
            )
        )


@dataclass(frozen=True)
class MutationInfo:
    action: str
    min_role: Role
    function: Callable[..., Any]


MUTATIONS: dict[str, MutationInfo] = {}


def _guard(fn: Callable[..., Any], action: str, min_role: Role) -> Callable[[ServiceContext, tuple[Any, ...],
                                                                          dict[str, Any]], None]:
    """What every mutation checks before it touches anything: the role, then its string arguments (named by
    parameter, read once here rather than on every call) for control characters."""
    names = [p.name for p in list(inspect.signature(fn).parameters.values())[1:]]  # the Tx/ctx parameter left out

    def check(ctx: ServiceContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ctx.require(min_role, action)
        for name, value in [*zip(names, args, strict=False), *kwargs.items()]:
            if name not in SELF_CHECKED_PARAMETERS:
                refuse_control_characters(name, value)

    return check


def _register(action: str, min_role: Role, wrapper: Callable[..., Any]) -> None:
    if action in MUTATIONS:
        raise RuntimeError(f"two mutations are named {action}")
    wrapper.dsm_kind = "mutation"  # type: ignore[attr-defined]
    MUTATIONS[action] = MutationInfo(action, min_role, wrapper)


def operator_session(session: Session) -> Session:
    """Mark a session as writing what an operator typed: over-long text is refused, not cut (dsm_core.db.caps)."""
    session.info[REFUSE_LONG_TEXT] = True
    return session


def mutation(
    action: str, min_role: Role
) -> Callable[[Callable[Concatenate[Tx, P], T]], Callable[Concatenate[ServiceContext, P], T]]:
    def decorate(fn: Callable[Concatenate[Tx, P], T]) -> Callable[Concatenate[ServiceContext, P], T]:
        check = _guard(fn, action, min_role)

        @functools.wraps(fn)
        def wrapper(ctx: ServiceContext, /, *args: P.args, **kwargs: P.kwargs) -> T:
            check(ctx, args, kwargs)
            try:
                with session_scope(ctx.engine) as session:
                    tx = Tx(ctx, operator_session(session), action)
                    result = fn(tx, *args, **kwargs)
                    session.flush()
                    tx.flush_audit()
            except sa.exc.DBAPIError as exc:
                refusal = database_refusal(exc)
                if refusal is None:
                    raise
                raise refusal from exc
            return result

        _register(action, min_role, wrapper)
        return wrapper

    return decorate


def long_mutation(
    action: str, min_role: Role
) -> Callable[[Callable[Concatenate[ServiceContext, P], T]], Callable[Concatenate[ServiceContext, P], T]]:
    """A mutation too large for one short transaction (an import of 100,000 servers): the role and input
    checks of ``@mutation``, but the function writes in chunks of its own so that SQLite's write lock is
    never held for more than about a second, and records its one audit row with ``Tx`` in its last chunk.
    It must undo its earlier chunks when a later one fails: all or nothing, like any mutation."""

    def decorate(fn: Callable[Concatenate[ServiceContext, P], T]) -> Callable[Concatenate[ServiceContext, P], T]:
        check = _guard(fn, action, min_role)

        @functools.wraps(fn)
        def wrapper(ctx: ServiceContext, /, *args: P.args, **kwargs: P.kwargs) -> T:
            check(ctx, args, kwargs)
            return fn(ctx, *args, **kwargs)

        _register(action, min_role, wrapper)
        return wrapper

    return decorate


def query(
    min_role: Role = "viewer",
) -> Callable[[Callable[Concatenate[Session, P], T]], Callable[Concatenate[ServiceContext, P], T]]:
    """A read use case: role check, then a read-only transaction."""

    def decorate(fn: Callable[Concatenate[Session, P], T]) -> Callable[Concatenate[ServiceContext, P], T]:
        @functools.wraps(fn)
        def wrapper(ctx: ServiceContext, /, *args: P.args, **kwargs: P.kwargs) -> T:
            ctx.require(min_role, fn.__name__.replace("_", " "))
            try:
                with read_scope(ctx.engine) as session:
                    return fn(session, *args, **kwargs)
            except sa.exc.DBAPIError as exc:
                refusal = database_refusal(exc)
                if refusal is None:
                    raise
                raise refusal from exc

        wrapper.dsm_kind = "query"  # type: ignore[attr-defined]
        return wrapper

    return decorate
