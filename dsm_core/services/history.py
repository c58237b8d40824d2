"""What DSM has recorded about a server over time: event log entries, health checks, and the calls the worker
made (the activity log). Reads for anyone; the newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from dsm_core.models import SINGLETON_ID, ActivitySettings, IdracCommand, ServerEventLog, ServerHealth
from dsm_core.services.audit import check_limit, since_value
from dsm_core.services.context import query
from dsm_core.services.errors import ValidationError
from dsm_core.services.jobs import find_job
from dsm_core.services.servers import get_server
from dsm_core.services.views import row_view

SEVERITIES = ("OK", "Warning", "Critical")


@query("viewer")
def event_logs(
    session: Session, /, ref: str, *, severity: str | None = None, since: str | None = None,
    category: str | None = None, log_type: str | None = None, limit: int = 500,
) -> list[dict[str, Any]]:
    """Stored SEL and Lifecycle entries (a fetch_event_logs job reads new ones from the iDRAC)."""
    server = get_server(session, ref)
    stmt = select(ServerEventLog).where(col(ServerEventLog.server_id) == server.id)
    if severity:
        wanted = next((s for s in SEVERITIES if s.lower() == severity.strip().lower()), None)
        if wanted is None:
            raise ValidationError("severity", f"{severity!r} is not a severity", "use OK, Warning or Critical")
        stmt = stmt.where(ServerEventLog.severity == wanted)
    if category:
        stmt = stmt.where(col(ServerEventLog.category).ilike(f"%{category}%"))
    if log_type:
        if log_type not in ("sel", "lclog"):
            raise ValidationError("log", f"{log_type!r} is not a log", "use sel or lclog")
        stmt = stmt.where(ServerEventLog.log_type == log_type)
    when = since_value(since)
    if when is not None:
        stmt = stmt.where(col(ServerEventLog.timestamp) >= when)
    stmt = stmt.order_by(col(ServerEventLog.timestamp).desc(), col(ServerEventLog.id).desc()).limit(check_limit(limit))
    return [row_view(e, exclude=("raw_data", "created_at", "server_id")) for e in session.exec(stmt).all()]


@query("viewer")
def health_history(
    session: Session, /, ref: str, *, since: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    server = get_server(session, ref)
    stmt = select(ServerHealth).where(col(ServerHealth.server_id) == server.id)
    when = since_value(since)
    if when is not None:
        stmt = stmt.where(col(ServerHealth.timestamp) >= when)
    stmt = stmt.order_by(col(ServerHealth.timestamp).desc(), col(ServerHealth.id).desc()).limit(check_limit(limit))
    return [row_view(h, exclude=("created_at", "server_id", "sensors")) for h in session.exec(stmt).all()]


def slow_threshold_ms(session: Session, /) -> int:
    """``activity.slow_command_threshold_ms``: what "slow" means on :activity and in ``dsm activity list``."""
    row = session.get(ActivitySettings, SINGLETON_ID)
    return int(row.slow_command_threshold_ms) if row is not None else int(ActivitySettings().slow_command_threshold_ms)


@query("viewer")
def activity(
    session: Session, /, *, server: str | None = None, job: str | None = None, errors: bool = False,
    slow: bool = False, since: str | None = None, limit: int = 200,
) -> list[dict[str, Any]]:
    """Calls the worker made, newest first; bodies are the stored (redacted, capped) ones."""
    stmt = select(IdracCommand)
    if server:
        stmt = stmt.where(col(IdracCommand.server_id) == get_server(session, server).id)
    if job:
        stmt = stmt.where(col(IdracCommand.job_id) == find_job(session, job).id)
    if errors:
        stmt = stmt.where(col(IdracCommand.success).is_(False))
    if slow:
        stmt = stmt.where(col(IdracCommand.response_time_ms) >= slow_threshold_ms(session))
    when = since_value(since)
    if when is not None:
        stmt = stmt.where(col(IdracCommand.timestamp) >= when)
    stmt = stmt.order_by(col(IdracCommand.timestamp).desc(), col(IdracCommand.id).desc()).limit(check_limit(limit))
    return [_call_view(c) for c in session.exec(stmt).all()]


def _call_view(call: IdracCommand) -> dict[str, Any]:
    from dsm_core.redfish.redaction import stored_bodies

    view = row_view(call, exclude=("created_at", "bodies"))
    kept = stored_bodies(call)
    view.update(request_headers=kept["headers"], request_body=kept["request"], response_body=kept["response"])
    return view


@query("viewer")
def activity_stats(session: Session, /, *, server: str | None = None, days: int = 7,
                   now: datetime | None = None) -> list[dict[str, Any]]:
    """Calls per server, API and day (the scheduler keeps them when activity.keep_statistics is on), newest
    day first: calls, failures, slow calls, latency percentiles."""
    from datetime import timedelta

    from dsm_core.models import ActivityDailyStat, Server
    from dsm_core.netaddr import format_endpoint
    from dsm_core.services.errors import ValidationError
    from dsm_core.timeutil import utcnow

    if not 1 <= days <= 3650:
        raise ValidationError("days", f"{days} is out of range", "give 1 to 3650 days")
    first = ((now or utcnow()) - timedelta(days=days - 1)).date()
    stmt = select(ActivityDailyStat).where(col(ActivityDailyStat.day) >= first)
    if server:
        stmt = stmt.where(col(ActivityDailyStat.server_id) == get_server(session, server).id)
    rows = session.exec(stmt.order_by(col(ActivityDailyStat.day).desc(), col(ActivityDailyStat.calls).desc())
                        .limit(5000)).all()
    names: dict[Any, str] = {}
    out = []
    for r in rows:
        if r.server_id not in names:
            srv = session.get(Server, r.server_id) if r.server_id else None
            names[r.server_id] = (srv.hostname or format_endpoint(srv.ip_address, srv.port)) if srv else "-"
        out.append({"day": r.day.isoformat(), "server": names[r.server_id], "server_id": r.server_key,
                    "api": r.operation_type, "calls": r.calls, "failures": r.failures, "slow": r.slow,
                    "p50_ms": r.p50_ms, "p95_ms": r.p95_ms, "p99_ms": r.p99_ms, "max_ms": r.max_ms})
    return out
