"""A window's change record, for the change-control board: the request, its approval (or rejection), the safety
snapshots, the accepted plan, the jobs with their steps and times, a summary of every API call per host, the outcome.

Three renderings of one document: JSON (the document itself), Markdown, and HTML that is self-contained (inline
style, no script, no external asset) so it can be attached to a ticket and opened anywhere. Every string from
outside (host names, error messages from devices) is escaped for the format it lands in.
"""

from __future__ import annotations

import html
import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from dsm_core.models import (
    AuditLog,
    ClusterSafetyCheck,
    IdracCommand,
    Job,
    JobTask,
    Server,
    ServerGroupSafetyCheck,
    VcenterHost,
    WorkflowExecution,
)
from dsm_core.netaddr import format_endpoint
from dsm_core.services.context import query
from dsm_core.services.errors import ValidationError
from dsm_core.services.windows import find_window, window_view
from dsm_core.text import visible
from dsm_core.timeutil import as_utc

FORMATS = ("md", "html", "json")


def _iso(value: Any) -> str | None:
    at = as_utc(value)
    return at.isoformat() if at else None


def _calls(session: Session, job_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Per host: calls, failures, the slowest call (endpoint and ms), from the activity log of the window's jobs."""
    if not job_ids:
        return []
    rows = session.execute(sa.select(col(IdracCommand.server_id), col(IdracCommand.operation_type), sa.func.count(),
                                     sa.func.sum(sa.case((col(IdracCommand.success).is_(False), 1), else_=0)),
                                     sa.func.max(IdracCommand.response_time_ms)).where(
        col(IdracCommand.job_id).in_(job_ids)).group_by(col(IdracCommand.server_id),
                                                        col(IdracCommand.operation_type))).all()
    out = []
    for server_id, operation, count, failures, slowest_ms in rows:
        slowest = session.exec(select(IdracCommand.command_type, IdracCommand.endpoint).where(
            col(IdracCommand.job_id).in_(job_ids), IdracCommand.server_id == server_id,
            IdracCommand.operation_type == operation, IdracCommand.response_time_ms == slowest_ms).limit(1)).first()
        server = session.get(Server, server_id) if server_id else None
        out.append({"host": (server.hostname or format_endpoint(server.ip_address, server.port)) if server else
                    {"vcenter_api": "vCenter", "openmanage_api": "OpenManage"}.get(operation, "-"),
                    "api": operation, "calls": int(count), "failures": int(failures or 0),
                    "slowest_ms": slowest_ms, "slowest_call": f"{slowest[0]} {slowest[1]}" if slowest else None})
    return sorted(out, key=lambda r: (r["host"], r["api"]))


def _step_host(session: Session, step: WorkflowExecution) -> str | None:
    if step.host_id is not None:
        host = session.get(VcenterHost, step.host_id)
        if host is not None:
            return host.name
    if step.server_id is not None:
        linked = session.exec(select(VcenterHost.name).where(VcenterHost.server_id == step.server_id)).first()
        if linked:
            return linked  # the ESXi host's name: what the change board knows the machine by
        server = session.get(Server, step.server_id)
        if server is not None:
            return server.hostname or format_endpoint(server.ip_address, server.port)
    return None


def build_report(session: Session, /, window_id: str) -> dict[str, Any]:
    window = find_window(session, window_id)
    view = window_view(session, window)
    job_ids = [uuid.UUID(j) for j in window.job_ids]
    jobs = []
    for job in session.exec(select(Job).where(col(Job.id).in_(job_ids)).order_by(col(Job.created_at))).all():
        steps = session.exec(select(WorkflowExecution).where(WorkflowExecution.job_id == job.id).order_by(
            col(WorkflowExecution.step_number), col(WorkflowExecution.created_at))).all()
        tasks = session.exec(select(JobTask).where(JobTask.job_id == job.id)).all()
        details = dict(job.details or {})
        jobs.append({
            "id": str(job.id), "type": job.job_type, "status": job.status, "attempts": job.attempts,
            "created_at": _iso(job.created_at), "started_at": _iso(job.started_at),
            "completed_at": _iso(job.completed_at), "error": job.error,
            "plan": details.get("plan"),
            "tasks": [{"target": t.target, "status": t.status, "error": t.error, "started_at": _iso(t.started_at),
                       "completed_at": _iso(t.completed_at)} for t in tasks],
            "steps": [{"host": _step_host(session, s), "step": s.step_name, "number": s.step_number,
                       "status": s.step_status,
                       "attempt": s.attempt, "started_at": _iso(s.step_started_at),
                       "completed_at": _iso(s.step_completed_at), "error": s.step_error} for s in steps],
        })
    checks = []
    for c in session.exec(select(ClusterSafetyCheck).where(col(ClusterSafetyCheck.job_id).in_(job_ids))).all():
        checks.append({"target": f"cluster {c.cluster_id}", "at": _iso(c.check_timestamp),
                       "verdict": "safe" if c.safe_to_proceed else "unsafe", "healthy": c.healthy_hosts,
                       "total": c.total_hosts, "minimum": c.min_required_hosts,
                       "reasons": [r.get("message") for r in (c.details or {}).get("reasons", [])
                                   if isinstance(r, dict)]})
    for g in session.exec(select(ServerGroupSafetyCheck).where(
            col(ServerGroupSafetyCheck.job_id).in_(job_ids))).all():
        checks.append({"target": f"group {g.server_group_id}", "at": _iso(g.check_timestamp),
                       "verdict": "safe" if g.safe_to_proceed else "unsafe", "healthy": g.healthy_servers,
                       "total": g.total_servers, "minimum": g.min_required_servers, "reasons": list(g.warnings)})
    audit = session.exec(select(AuditLog).where(AuditLog.target_type == "maintenance_window",
                                                AuditLog.target_id == str(window.id)).order_by(
        col(AuditLog.timestamp))).all()
    plans = [j["plan"] for j in jobs if j["plan"]]
    return {
        "report": "dsm maintenance window change record",
        "window": {k: view.get(k) for k in ("id", "title", "description", "maintenance_type", "status",
                                            "status_reason", "planned_start", "planned_end", "timezone",
                                            "recurrence_pattern", "targets", "details", "requires_approval",
                                            "four_eyes", "created_by_name", "created_at", "started_at",
                                            "completed_at")},
        "approval": {"required": window.requires_approval, "approved_by": view.get("approved_by_name"),
                     "approved_at": view.get("approved_at"), "seen_at_approval": window.approval,
                     "rejected_by": view.get("rejected_by_name"), "rejected_at": view.get("rejected_at"),
                     "rejection_reason": window.rejection_reason},
        "history": [{"at": _iso(a.timestamp), "by": a.username, "action": a.action, "details": a.details}
                    for a in audit],
        "safety_snapshot": window.safety_check_snapshot,
        "safety_checks": checks,
        "plans": plans,
        "jobs": jobs,
        "api_calls": _calls(session, job_ids),
        "outcome": {"status": window.status, "reason": window.status_reason,
                    "jobs": {s: sum(1 for j in jobs if j["status"] == s) for s in {j["status"] for j in jobs}}},
    }


def _md(text: Any) -> str:
    """A table cell or line: control characters shown, Markdown's own characters escaped."""
    out = visible("" if text is None else str(text))
    for ch in "\\|*`[]<>#":  # not "_": CommonMark does not emphasise inside words (host_name stays readable)
        out = out.replace(ch, "\\" + ch)
    return out


def _md_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return [*lines, ""]


STEP_COLUMNS = [("host", "host"), ("step", "step"), ("status", "status"), ("attempt", "attempt"),
                ("started_at", "started"), ("completed_at", "completed"), ("error", "error")]
CALL_COLUMNS = [("host", "host"), ("api", "api"), ("calls", "calls"), ("failures", "failures"),
                ("slowest_ms", "slowest ms"), ("slowest_call", "slowest call")]
CHECK_COLUMNS = [("target", "target"), ("at", "at"), ("verdict", "verdict"), ("healthy", "healthy"),
                 ("total", "total"), ("minimum", "minimum"), ("reasons", "reasons")]


def to_markdown(doc: dict[str, Any]) -> str:
    w, ap, out = doc["window"], doc["approval"], doc["outcome"]
    lines = [f"# Change record: {_md(w['title'])}", "",
             f"- Window: `{w['id']}` ({_md(w['maintenance_type'])}), {_md(w['planned_start'])} to "
             f"{_md(w['planned_end'])} ({_md(w['timezone'])})" + (f", recurring `{_md(w['recurrence_pattern'])}`"
                                                                   if w["recurrence_pattern"] else ""),
             "- Targets: " + "; ".join(f"{k}: {', '.join(_md(v) for v in vs)}" for k, vs in w["targets"].items()
                                       if vs),
             f"- Requested by {_md(w['created_by_name'])} at {_md(w['created_at'])}",
             f"- Details: `{_md(json.dumps(w['details'], sort_keys=True))}`",
             f"- **Outcome: {_md(out['status'])}** — {_md(out['reason'])}", "", "## Approval", ""]
    if ap["approved_by"]:
        lines.append(f"Approved by {_md(ap['approved_by'])} at {_md(ap['approved_at'])}.")
    elif ap["rejected_by"]:
        lines.append(f"Rejected by {_md(ap['rejected_by'])} at {_md(ap['rejected_at'])}: "
                     f"{_md(ap['rejection_reason'])}")
    else:
        lines.append("Not approved." if ap["required"] else "No approval was required.")
    lines += ["", "## History", ""]
    lines += _md_table(doc["history"], [("at", "at"), ("by", "by"), ("action", "action")])
    lines += ["## Safety checks", ""]
    lines += _md_table([{**c, "reasons": "; ".join(c["reasons"] or [])} for c in doc["safety_checks"]],
                       CHECK_COLUMNS)
    for plan in doc["plans"]:
        lines += [f"## Plan of {_md(plan.get('cluster'))} (digest `{_md(plan.get('digest'))}`)", ""]
        lines += _md_table(plan.get("hosts", []), [("order", "#"), ("host", "host"), ("server", "server"),
                                                   ("margin", "margin")])
    lines += ["## Jobs", ""]
    for job in doc["jobs"]:
        lines += [f"### {_md(job['type'])} `{job['id']}`: {_md(job['status'])}", "",
                  f"Created {_md(job['created_at'])}, started {_md(job['started_at'])}, ended "
                  f"{_md(job['completed_at'])}, attempts {job['attempts']}" +
                  (f"; error: {_md(job['error'])}" if job["error"] else ""), ""]
        if job["steps"]:
            lines += _md_table(job["steps"], STEP_COLUMNS)
        else:
            lines += _md_table(job["tasks"], [("target", "target"), ("status", "status"), ("error", "error")])
    lines += ["## API calls per host", ""]
    lines += _md_table(doc["api_calls"], CALL_COLUMNS)
    return "\n".join(lines)


def _h(text: Any) -> str:
    return html.escape(visible("" if text is None else str(text)))


def _html_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{_h(h)}</th>" for _, h in columns)
    body = "".join("<tr>" + "".join(f"<td>{_h(r.get(k))}</td>" for k, _ in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = ("body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #999;padding:2px 6px;font-size:90%;text-align:left;vertical-align:top}"
        "th{background:#eee}.completed{color:#060}.failed,.skipped{color:#a00}code{background:#f4f4f4}")


def to_html(doc: dict[str, Any]) -> str:
    w, ap, out = doc["window"], doc["approval"], doc["outcome"]
    if ap["approved_by"]:
        approval = f"Approved by {_h(ap['approved_by'])} at {_h(ap['approved_at'])}."
    elif ap["rejected_by"]:
        approval = f"Rejected by {_h(ap['rejected_by'])} at {_h(ap['rejected_at'])}: {_h(ap['rejection_reason'])}"
    else:
        approval = "Not approved." if ap["required"] else "No approval was required."
    parts = [
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Change record: {_h(w['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Change record: {_h(w['title'])}</h1><ul>",
        f"<li>Window <code>{_h(w['id'])}</code> ({_h(w['maintenance_type'])}), {_h(w['planned_start'])} to "
        f"{_h(w['planned_end'])} ({_h(w['timezone'])})</li>",
        "<li>Targets: " + "; ".join(f"{_h(k)}: {', '.join(_h(v) for v in vs)}" for k, vs in w["targets"].items()
                                    if vs) + "</li>",
        f"<li>Requested by {_h(w['created_by_name'])} at {_h(w['created_at'])}</li>",
        f"<li>Details: <code>{_h(json.dumps(w['details'], sort_keys=True))}</code></li>",
        f"<li><b>Outcome: <span class=\"{_h(out['status'])}\">{_h(out['status'])}</span></b> — "
        f"{_h(out['reason'])}</li></ul>",
        f"<h2>Approval</h2><p>{approval}</p>",
        "<h2>History</h2>" + _html_table(doc["history"], [("at", "at"), ("by", "by"), ("action", "action")]),
        "<h2>Safety checks</h2>" + _html_table([{**c, "reasons": "; ".join(c["reasons"] or [])}
                                                for c in doc["safety_checks"]], CHECK_COLUMNS),
    ]
    for plan in doc["plans"]:
        parts.append(f"<h2>Plan of {_h(plan.get('cluster'))} (digest <code>{_h(plan.get('digest'))}</code>)</h2>"
                     + _html_table(plan.get("hosts", []), [("order", "#"), ("host", "host"), ("server", "server"),
                                                           ("margin", "margin")]))
    parts.append("<h2>Jobs</h2>")
    for job in doc["jobs"]:
        parts.append(f"<h3>{_h(job['type'])} <code>{_h(job['id'])}</code>: {_h(job['status'])}</h3>"
                     f"<p>Created {_h(job['created_at'])}, started {_h(job['started_at'])}, ended "
                     f"{_h(job['completed_at'])}, attempts {_h(job['attempts'])}"
                     + (f"; error: {_h(job['error'])}" if job["error"] else "") + "</p>")
        parts.append(_html_table(job["steps"], STEP_COLUMNS) if job["steps"] else
                     _html_table(job["tasks"], [("target", "target"), ("status", "status"), ("error", "error")]))
    parts.append("<h2>API calls per host</h2>" + _html_table(doc["api_calls"], CALL_COLUMNS))
    parts.append("</body></html>")
    return "\n".join(parts)


@query("viewer")
def window_report(session: Session, /, window_id: str, fmt: str = "json") -> str:
    if fmt not in FORMATS:
        raise ValidationError("format", f"{fmt!r} is not a report format", "use md, html or json")
    doc = build_report(session, window_id)
    if fmt == "json":
        return json.dumps(doc, indent=2, sort_keys=True, default=str)
    return to_markdown(doc) if fmt == "md" else to_html(doc)
