"""The audit log, read: who changed what, when, from where. Admin only: it names every operator's actions."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from dsm_core.models import AuditLog
from dsm_core.services.context import MUTATIONS, query
from dsm_core.services.errors import ValidationError
from dsm_core.services.views import row_view
from dsm_core.timeutil import parse_since


def since_value(text: str | None, field: str = "since") -> Any:
    """``--since`` for every read that takes one: the field named when it is not an age or a time."""
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as exc:
        raise ValidationError(field, str(exc)) from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= 100_000:
        raise ValidationError("limit", f"{limit} is out of range", "give 1 to 100000")
    return limit


@query("admin")
def list_audit(
    session: Session, /, *, user: str | None = None, action: str | None = None, since: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Newest first. ``action`` is an action id (servers.remove) or its prefix (servers.)."""
    if action and action not in MUTATIONS and not any(a.startswith(action) for a in MUTATIONS):
        raise ValidationError("action", f"{action!r} is not an action",
                              "use an action id such as " + ", ".join(sorted(MUTATIONS)[:4]) + " … or a prefix "
                              "such as servers.")
    stmt = select(AuditLog).order_by(col(AuditLog.timestamp).desc(), col(AuditLog.id).desc())
    if user:
        stmt = stmt.where(AuditLog.username == user)
    if action:
        stmt = stmt.where(AuditLog.action == action if action in MUTATIONS else col(AuditLog.action).startswith(action))
    when = since_value(since)
    if when is not None:
        stmt = stmt.where(col(AuditLog.timestamp) >= when)
    return [row_view(r, exclude=("created_at",)) for r in session.exec(stmt.limit(check_limit(limit))).all()]
