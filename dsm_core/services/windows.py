"""Maintenance windows: create, approve, reject, cancel, list, show, suggest; and the transitions the scheduler
makes as the system (start, advance, finish), each an audited mutation.

A window's life: ``planned`` → at its planned start, if approved (when it must be) → ``in_progress`` with phase
``safety`` (safety-check jobs for its clusters and groups) → phase ``jobs`` (the work, by type) → ``completed`` or
``failed`` as its jobs end. A window that is not approved by its start, or whose targets are unsafe then, is
``skipped`` with the reason, and the reason is also sent as a notification. ``rejected`` and ``cancelled`` are the
operators' word. Patch and hardware windows put nothing in motion: DSM checks safety, holds the window on the
calendar and completes it at its planned end (people do the work).

What a window will create is validated when it is created, exactly as the job would be: a window cannot be approved
for work that would be refused at 02:00 with no one watching.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pydantic
import sqlalchemy as sa
from sqlmodel import Session, col, select

from dsm_core.jobtypes import JOB_TYPE_SPECS, validate_details
from dsm_core.models import (
    ClusterSafetyCheck,
    CredentialSet,
    Job,
    MaintenanceSettings,
    MaintenanceWindow,
    Server,
    ServerGroup,
    ServerGroupMember,
    ServerGroupSafetyCheck,
    User,
    VcenterCluster,
    VcenterHost,
)
from dsm_core.models.base import MAINTENANCE_TYPES
from dsm_core.netaddr import format_endpoint
from dsm_core.scheduling import ScheduleError, closest_starts, first_occurrence, matches_any, occurrences, zone
from dsm_core.services import disruption
from dsm_core.services.context import Actor, Role, Tx, mutation, query
from dsm_core.services.errors import Conflict, NotFound, PermissionDenied, Unsafe, ValidationError
from dsm_core.services.groups import get_group
from dsm_core.services.jobs import _check_references, _details_error, audit_details, new_job
from dsm_core.services.notifications import enqueue
from dsm_core.services.servers import get_server
from dsm_core.services.settings import read_singleton, singleton
from dsm_core.services.vcenter import find_cluster
from dsm_core.services.views import by_id_or_prefix, row_view
from dsm_core.timeutil import as_utc, utcnow

ACTIVE = ("planned", "in_progress")
MAX_WINDOW = timedelta(days=7)
MAX_NOTIFY_HOURS = 168
CHANGING_TYPES = ("firmware_update", "rolling_cluster_update", "bios_update", "patch", "hardware")
"""Window types that change hosts: two of them may not share a host at the same time."""
JOBLESS_TYPES = ("patch", "hardware")


class FourEyes(PermissionDenied):
    """The four-eyes rule: the creator of a window may not approve it (exit 3 with the rule named)."""


@dataclass(frozen=True)
class JobPlan:
    job_type: str
    servers: list[str]
    groups: list[str]
    clusters: list[str]
    details: dict[str, Any]


# --- what a window will create ---------------------------------------------------------------------------------


def _window_jobs(maintenance_type: str, servers: list[str], groups: list[str], clusters: list[str],
                 details: dict[str, Any]) -> list[JobPlan]:
    """The jobs a window of this type creates for these targets (ids for servers and groups, names for clusters).
    Raises ValidationError naming ``targets`` when the type cannot act on them."""
    def refuse(what: str, fix: str) -> ValidationError:
        return ValidationError("targets", f"a {maintenance_type} window {what}", fix)

    if maintenance_type == "firmware_update":
        if clusters:
            raise refuse("does not take clusters (a plain firmware update would skip maintenance mode)",
                         "use --type rolling_cluster_update for clusters")
        return [JobPlan("firmware_update", servers, groups, [], details)]
    if maintenance_type == "rolling_cluster_update":
        if servers:
            raise refuse("takes clusters or groups, not single servers",
                         "use --type firmware_update for servers, or --cluster NAME")
        return ([JobPlan("rolling_cluster_update", [], [], [c], details) for c in clusters]
                + [JobPlan("rolling_cluster_update", [], [g], [], details) for g in groups])
    if maintenance_type == "bios_update":
        if clusters:
            raise refuse("does not take clusters", "target the cluster's servers or its group (--group NAME)")
        return [JobPlan("bios_config_write", servers, groups, [], details)]
    if maintenance_type == "health_check":
        plans = []
        if servers or groups:
            plans.append(JobPlan("health_check", servers, groups, [], {}))
        if clusters:
            plans.append(JobPlan("cluster_safety_check", [], [], clusters,
                                 {"min_required_hosts": int(details.get("min_required_hosts", 2))}))
        return plans
    return []  # patch, hardware: people do the work


def _check_details(maintenance_type: str, plans: list[JobPlan], details: dict[str, Any]) -> dict[str, Any]:
    """The details as given, once every job the window will create accepted them (its own validation, defaults and
    all); patch, hardware and health_check windows take only what they use."""
    allowed = {"patch": {"notes", "min_required_hosts"}, "hardware": {"notes", "min_required_hosts"},
               "health_check": {"min_required_hosts"}}.get(maintenance_type)
    if allowed is not None:
        extra = set(details) - allowed
        if extra:
            raise ValidationError(f"details.{sorted(extra)[0]}", f"is not a detail of a {maintenance_type} window",
                                  "details it takes: " + ", ".join(sorted(allowed)))
    for plan in plans:
        try:
            validate_details(plan.job_type, plan.details)
        except pydantic.ValidationError as exc:
            raise _details_error(plan.job_type, exc) from None
    return dict(details)


def _affected_servers(session: Session, /, server_ids: list[str], group_ids: list[str],
                      cluster_names: list[str]) -> set[uuid.UUID]:
    """Every server a window touches: its servers, its groups' members, the servers linked to its clusters' hosts."""
    found = {uuid.UUID(s) for s in server_ids}
    if group_ids:
        found |= set(session.exec(select(ServerGroupMember.server_id).where(
            col(ServerGroupMember.server_group_id).in_([uuid.UUID(g) for g in group_ids]))).all())
    if cluster_names:
        cluster_ids = session.exec(select(VcenterCluster.id).where(col(VcenterCluster.name).in_(cluster_names))).all()
        found |= {s for s in session.exec(select(VcenterHost.server_id).where(
            col(VcenterHost.cluster_id).in_(list(cluster_ids)))).all() if s is not None}
    return found


def _overlap_report(session: Session, /, window: MaintenanceWindow) -> list[dict[str, Any]]:
    """Active windows at the same time that share a host or a target with ``window``; ``refuse`` when both change."""
    mine = _affected_servers(session, window.server_ids, window.server_group_ids, window.cluster_ids)
    start, end = as_utc(window.planned_start), as_utc(window.planned_end)
    assert start is not None and end is not None
    others = session.exec(select(MaintenanceWindow).where(
        col(MaintenanceWindow.status).in_(ACTIVE), MaintenanceWindow.planned_start < end,
        MaintenanceWindow.planned_end > start, MaintenanceWindow.id != window.id)).all()
    report = []
    for other in others:
        theirs = _affected_servers(session, other.server_ids, other.server_group_ids, other.cluster_ids)
        shared = mine & theirs
        same_targets = (set(window.cluster_ids) & set(other.cluster_ids)) or (
            set(window.server_group_ids) & set(other.server_group_ids))
        if not shared and not same_targets:
            continue
        both_change = window.maintenance_type in CHANGING_TYPES and other.maintenance_type in CHANGING_TYPES
        report.append({"window_id": str(other.id), "title": other.title, "type": other.maintenance_type,
                       "planned_start": _iso(other.planned_start),
                       "shared_hosts": len(shared), "refuse": both_change})
    return report


# --- create --------------------------------------------------------------------------------------------------------


def parse_time(field_name: str, text: str, tz_name: str) -> datetime:
    """An operator's ISO time; one without an offset is read on the wall clock of ``tz_name`` (the module's DST
    rule applies: a skipped time moves forward by the gap, a repeated one is its first occurrence)."""
    try:
        tz = zone(tz_name)
    except ScheduleError as exc:
        raise ValidationError(exc.field, exc.problem, exc.fix) from None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(field_name, f"{text!r} is not an ISO time",
                              "give e.g. 2026-12-06T02:30 (in the time zone) or 2026-12-06T02:30+01:00") from None
    return value.replace(tzinfo=tz, fold=0) if value.tzinfo is None else value


def parse_detail_words(words: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` words; a VALUE that reads as JSON (numbers, true, lists) is taken as such."""
    import json

    out: dict[str, Any] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep or not key.strip():
            raise ValidationError("details", f"{word!r} is not KEY=VALUE", "e.g. image_uri=http://repo/BIOS.EXE")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _aware(field_name: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValidationError(field_name, "has no time zone",
                              "give an ISO time with an offset (2026-12-06T02:30+01:00) or --timezone")
    return value.astimezone(UTC)


@mutation("windows.create", "operator")
def create_window(
    tx: Tx,
    /,
    title: str,
    *,
    maintenance_type: str,
    start: datetime,
    end: datetime,
    timezone: str = "UTC",
    servers: list[str] | None = None,
    groups: list[str] | None = None,
    clusters: list[str] | None = None,
    requires_approval: bool = False,
    cron: str | None = None,
    notify_before_hours: int = 24,
    details: dict[str, Any] | None = None,
    credential_sets: list[str] | None = None,
    description: str | None = None,
    auto_execute: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Creates a window (the first instance of a recurring one: its first occurrence at or after ``start``)."""
    if not title.strip() or len(title) > 200:
        raise ValidationError("title", "is empty or longer than 200 characters", "give a short title")
    if maintenance_type not in MAINTENANCE_TYPES:
        raise ValidationError("type", f"{maintenance_type!r} is not a window type",
                              "use one of " + ", ".join(MAINTENANCE_TYPES))
    try:
        zone(timezone)
        start_utc, end_utc = _aware("start", start), _aware("end", end)
        if end_utc <= start_utc:
            raise ValidationError("end", "is not after start", "give an end later than the start")
        if end_utc - start_utc > MAX_WINDOW:
            raise ValidationError("end", "is more than 7 days after start", "split the work into several windows")
        preview: list[str] = []
        if cron:
            first = first_occurrence(cron, timezone, start_utc)
            end_utc, start_utc = first + (end_utc - start_utc), first
            preview = [t.isoformat() for t in [first, *occurrences(cron, timezone, first, 4)]]
            gap, at = closest_starts(cron, timezone, first)
            if end_utc - start_utc > gap:
                raise ValidationError("cron", f"starts an instance every {_span(gap)} at its closest (from "
                                      f"{at.isoformat()}), and each lasts {_span(end_utc - start_utc)}: an instance "
                                      "would start while the one before it still runs",
                                      "give a window no longer than the pattern's interval, or a sparser pattern")
    except ScheduleError as exc:
        raise ValidationError(exc.field, exc.problem, exc.fix) from None
    if not 0 <= notify_before_hours <= MAX_NOTIFY_HOURS:
        raise ValidationError("notify_before_hours", f"{notify_before_hours} is out of range", "give 0 to 168 hours")
    if start_utc <= (now or utcnow()) and auto_execute:
        raise ValidationError("start", "is in the past", "give a start later than now")
    server_ids = list(dict.fromkeys(str(get_server(tx.session, ref).id) for ref in servers or []))
    group_ids = list(dict.fromkeys(str(get_group(tx.session, name).id) for name in groups or []))
    cluster_names = list(dict.fromkeys(find_cluster(tx.session, name).name for name in clusters or []))
    if not (server_ids or group_ids or cluster_names):
        raise ValidationError("targets", "are missing", "give --server REF, --cluster NAME or --group NAME")
    given = dict(details or {})
    plans = _window_jobs(maintenance_type, server_ids, group_ids, cluster_names, given)
    clean = _check_details(maintenance_type, plans, given)
    for plan in plans:
        valid = validate_details(plan.job_type, plan.details)
        _check_references(tx.session, plan.job_type, valid)
        # the disruption rule now, not only when the window starts (its jobs are made by new_job, checked again)
        found = disruption.impact(tx.session, plan.job_type, {"servers": [str(x) for x in plan.servers],
                                                              "groups": list(plan.groups),
                                                              "clusters": list(plan.clusters)}, valid)
        if found is not None and found.refusals:
            raise Unsafe("not planned: " + "; ".join(found.refusals))
    set_ids = []
    for name in credential_sets or []:
        cs = tx.session.exec(select(CredentialSet).where(CredentialSet.name == name)).first()
        if cs is None:
            raise ValidationError("credential_sets", f"credential set {name!r} does not exist",
                                  "`dsm credentials list` shows the sets")
        set_ids.append(str(cs.id))
    window = MaintenanceWindow(
        title=title.strip(), description=description, maintenance_type=maintenance_type, planned_start=start_utc,
        planned_end=end_utc, timezone=timezone, server_ids=server_ids, cluster_ids=cluster_names,
        server_group_ids=group_ids, requires_approval=requires_approval,
        four_eyes=singleton(tx.session, MaintenanceSettings).four_eyes, auto_execute=auto_execute, details=clean,
        credential_set_ids=set_ids, recurrence_enabled=bool(cron), recurrence_type="recurring" if cron else "one_time",
        recurrence_pattern=" ".join(cron.split()) if cron else None, notify_before_hours=notify_before_hours,
        created_by=tx.actor.user_id)
    if cron:
        window.series_id = window.id
    overlap = _overlap_report(tx.session, window)
    refused = [o for o in overlap if o["refuse"]]
    if refused:
        o = refused[0]
        raise Conflict(f"window {o['title']!r} ({o['window_id'][:8]}, {o['type']}, {o['planned_start']}) changes "
                       f"{o['shared_hosts']} of the same host(s) at the same time; move one of them")
    tx.session.add(window)
    tx.session.flush()
    tx.audit("maintenance_window", window.id, title=window.title, type=maintenance_type,
             planned_start=start_utc.isoformat(), planned_end=end_utc.isoformat(), timezone=timezone,
             cron=window.recurrence_pattern, requires_approval=requires_approval,
             targets={"servers": server_ids, "groups": group_ids, "clusters": cluster_names},
             details=audit_details(clean))
    view = window_view(tx.session, window)
    view["warnings"] = [f"overlaps window {o['title']!r} ({o['window_id'][:8]}) on {o['shared_hosts']} host(s)"
                        for o in overlap]
    view["next_occurrences"] = preview
    return view


# --- approve, reject, cancel -------------------------------------------------------------------------------------


def find_window(session: Session, /, ref: str | uuid.UUID) -> MaintenanceWindow:
    window = by_id_or_prefix(session, MaintenanceWindow, ref)
    if window is None:
        raise NotFound(f"window {ref!r} does not exist; `dsm windows list` shows the windows")
    return cast(MaintenanceWindow, window)


def may_approve(session: Session, /, actor: Actor, window: MaintenanceWindow) -> str | None:
    """Why ``actor`` may not approve ``window`` now, or None (the console dims `a` with this reason)."""
    needed = _approver_role(session)
    if not actor.may(needed):
        return f"approving a window needs the {needed} role; {actor.username} is {actor.role}"
    if window.status != "planned":
        return f"window is {window.status}; only a planned window is approved"
    if not window.requires_approval:
        return "window does not require approval"
    if window.approved_by is not None or window.approved_at is not None:
        return "window is already approved"
    if window.four_eyes and actor.user_id is not None and actor.user_id == window.created_by:
        return (f"four-eyes rule (maintenance.four_eyes): {actor.username} created this window and may not approve "
                "it; another operator or admin approves")
    return None


def production_clusters(session: Session, /, window: MaintenanceWindow) -> list[str]:
    """The window's clusters whose approval wants the cluster's name typed (maintenance.production_clusters)."""
    patterns = read_singleton(session, MaintenanceSettings).production_clusters
    return [name for name in window.cluster_ids if matches_any(name, patterns)]


@mutation("windows.approve", "operator")
def approve_window(tx: Tx, /, window_id: str, *, typed: str | None = None) -> dict[str, Any]:
    """Approves; records who, when, and what the approver was shown (plan hosts and digest, latest verdicts).
    ``typed``: the console passes what the approver typed; when given it must name every production cluster."""
    window = find_window(tx.session, window_id)
    why = may_approve(tx.session, tx.actor, window)
    if why is not None:
        if "four-eyes" in why:
            raise FourEyes(why)
        if "role" in why:
            raise PermissionDenied(why)
        raise Conflict(why)
    if typed is not None:
        missing = [c for c in production_clusters(tx.session, window) if c not in typed.split()]
        if missing:
            raise ValidationError("confirmation", f"does not name production cluster {missing[0]!r}",
                                  "type the cluster's name exactly")
    preview = approval_preview_of(tx.session, window)
    window.approved_by, window.approved_at = tx.actor.user_id, utcnow()
    window.approval = {"by": tx.actor.username, "at": window.approved_at.isoformat(),
                       "plans": [{"cluster": p.get("cluster"), "digest": p.get("digest"),
                                  "hosts": [h["host"] for h in p.get("hosts", [])]} for p in preview["plans"]],
                       "verdicts": preview["verdicts"]}
    tx.session.add(window)
    tx.audit("maintenance_window", window.id, title=window.title, approved_by=tx.actor.username,
             plan_digests=[p.get("digest") for p in preview["plans"]])
    return window_view(tx.session, window)


@mutation("windows.reject", "operator")
def reject_window(tx: Tx, /, window_id: str, *, reason: str) -> dict[str, Any]:
    window = find_window(tx.session, window_id)
    if not reason.strip():
        raise ValidationError("reason", "is empty", "say why the window is rejected (--reason TEXT)")
    needed = _approver_role(tx.session)
    if not tx.actor.may(needed):
        raise PermissionDenied(f"rejecting a window needs the {needed} role; {tx.actor.username} is {tx.actor.role}")
    if window.status != "planned":
        raise Conflict(f"window is {window.status}; only a planned window is rejected")
    window.status, window.rejected_by, window.rejected_at = "rejected", tx.actor.user_id, utcnow()
    window.rejection_reason = window.status_reason = reason.strip()
    tx.session.add(window)
    enqueue(tx.session, "window_rejected", f"Window rejected: {window.title}",
            f"{tx.actor.username} rejected window {window.title!r} ({window.id}): {reason.strip()}",
            severity="warning", window_id=window.id)
    tx.audit("maintenance_window", window.id, title=window.title, reason=reason.strip())
    return window_view(tx.session, window)


@mutation("windows.cancel", "operator")
def cancel_window(tx: Tx, /, window_id: str) -> dict[str, Any]:
    """A planned window is cancelled; a running one also asks its unfinished jobs to stop (between steps: a host
    in the middle of its update is finished or returned to its last safe state, never abandoned)."""
    window = find_window(tx.session, window_id)
    if window.status not in ACTIVE:
        raise Conflict(f"window is {window.status}; only a planned or running window is cancelled")
    stopped = []
    for job_id in window.job_ids:
        job = tx.session.get(Job, uuid.UUID(job_id))
        if job is not None and job.status in ("pending", "running"):
            if job.status == "pending":
                job.status, job.completed_at = "cancelled", utcnow()
                job.error = "the window was cancelled"
            else:
                job.cancel_requested = True
            tx.session.add(job)
            stopped.append(job_id)
    window.status, window.phase, window.completed_at = "cancelled", None, utcnow()
    window.status_reason = f"cancelled by {tx.actor.username}"
    tx.session.add(window)
    tx.audit("maintenance_window", window.id, title=window.title, jobs_stopped=stopped)
    return window_view(tx.session, window)


# --- views ---------------------------------------------------------------------------------------------------------


def _names(session: Session, /, window: MaintenanceWindow) -> dict[str, list[str]]:
    servers = []
    for sid in window.server_ids:
        srv = session.get(Server, uuid.UUID(sid))
        servers.append((srv.hostname or format_endpoint(srv.ip_address, srv.port)) if srv else f"(removed {sid[:8]})")
    groups = []
    for gid in window.server_group_ids:
        grp = session.get(ServerGroup, uuid.UUID(gid))
        groups.append(grp.name if grp else f"(removed {gid[:8]})")
    return {"servers": servers, "groups": groups, "clusters": list(window.cluster_ids)}


def _iso(value: datetime | None) -> str | None:
    at = as_utc(value)
    return at.isoformat() if at else None


def _approver_role(session: Session, /) -> Role:
    return "operator" if read_singleton(session, MaintenanceSettings).operators_may_approve else "admin"


def _user(session: Session, /, user_id: uuid.UUID | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user else str(user_id)


def window_view(session: Session, /, window: MaintenanceWindow) -> dict[str, Any]:
    view = row_view(window)
    view["targets"] = _names(session, window)
    view["created_by_name"] = _user(session, window.created_by)
    view["approved_by_name"] = _user(session, window.approved_by)
    view["rejected_by_name"] = _user(session, window.rejected_by)
    view["awaiting_approval"] = bool(window.status == "planned" and window.requires_approval
                                     and window.approved_at is None)
    return view


@query("viewer")
def list_windows(session: Session, /, status: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, limit: int = 500) -> list[dict[str, Any]]:
    stmt = select(MaintenanceWindow).order_by(col(MaintenanceWindow.planned_start)).limit(limit)
    if status:
        stmt = stmt.where(MaintenanceWindow.status == status)
    if since:
        stmt = stmt.where(MaintenanceWindow.planned_end >= since)
    if until:
        stmt = stmt.where(MaintenanceWindow.planned_start < until)
    return [window_view(session, w) for w in session.exec(stmt).all()]


@query("viewer")
def show_window(session: Session, /, window_id: str) -> dict[str, Any]:
    window = find_window(session, window_id)
    view = window_view(session, window)
    if window.recurrence_pattern and window.status == "planned":
        view["next_occurrences"] = [t.isoformat() for t in occurrences(
            window.recurrence_pattern, window.timezone, as_utc(window.planned_start) or utcnow(), 5)]
    jobs = [session.get(Job, uuid.UUID(j)) for j in window.job_ids]
    view["jobs"] = [{"id": str(j.id), "job_type": j.job_type, "status": j.status, "error": j.error}
                    for j in jobs if j is not None]
    view["overlaps"] = _overlap_report(session, window) if window.status in ACTIVE else []
    return view


def approval_preview_of(session: Session, /, window: MaintenanceWindow) -> dict[str, Any]:
    """What the approve dialog shows: targets, schedule, the plan per cluster, the latest safety verdicts."""
    from dsm_core.services.rolling import build_plan

    plans: list[dict[str, Any]] = []
    if window.maintenance_type == "rolling_cluster_update":
        d = window.details
        for name in window.cluster_ids:
            try:
                plans.append(build_plan(session, name, repository=d.get("repository"), image_uri=d.get("image_uri"),
                                        max_concurrent=int(d.get("max_concurrent", 1)),
                                        min_required_hosts=int(d.get("min_required_hosts", 2))))
            except (NotFound, ValidationError) as exc:
                plans.append({"cluster": name, "error": str(exc), "hosts": []})
    verdicts = []
    for name in window.cluster_ids:
        check = session.exec(select(ClusterSafetyCheck).where(ClusterSafetyCheck.cluster_id == name).order_by(
            col(ClusterSafetyCheck.check_timestamp).desc()).limit(1)).first()
        verdicts.append({"target": f"cluster {name}", "verdict": None if check is None else
                         ("safe" if check.safe_to_proceed else "unsafe"),
                         "at": _iso(check.check_timestamp) if check else None,
                         "healthy": check.healthy_hosts if check else None,
                         "total": check.total_hosts if check else None})
    for gid in window.server_group_ids:
        gcheck = session.exec(select(ServerGroupSafetyCheck).where(
            ServerGroupSafetyCheck.server_group_id == uuid.UUID(gid)).order_by(
            col(ServerGroupSafetyCheck.check_timestamp).desc()).limit(1)).first()
        grp = session.get(ServerGroup, uuid.UUID(gid))
        verdicts.append({"target": f"group {grp.name if grp else gid}", "verdict": None if gcheck is None else
                         ("safe" if gcheck.safe_to_proceed else "unsafe"),
                         "at": _iso(gcheck.check_timestamp) if gcheck else None,
                         "healthy": gcheck.healthy_servers if gcheck else None,
                         "total": gcheck.total_servers if gcheck else None})
    return {"window": window_view(session, window), "plans": plans, "verdicts": verdicts,
            "production_clusters": production_clusters(session, window)}


@query("viewer")
def approval_preview(session: Session, /, window_id: str) -> dict[str, Any]:
    return approval_preview_of(session, find_window(session, window_id))


@query("viewer")
def approvals_waiting(session: Session, /, actor: Actor) -> int:
    """How many planned windows ``actor`` could approve now (the console's header badge)."""
    rows = session.exec(select(MaintenanceWindow).where(
        MaintenanceWindow.status == "planned", MaintenanceWindow.requires_approval,
        col(MaintenanceWindow.approved_at).is_(None))).all()
    return sum(1 for w in rows if may_approve(session, actor, w) is None)


# --- the scheduler's transitions (as the system) -----------------------------------------------------------------


def _notify(session: Session, window: MaintenanceWindow, event: str, text: str, severity: str = "normal") -> None:
    from dsm_core.models import NotificationSettings

    if singleton(session, NotificationSettings).notify_on_window_events:
        subject = {"window_upcoming": "Upcoming", "window_started": "Started", "window_completed": "Completed",
                   "window_failed": "Failed", "window_skipped": "Skipped"}[event]
        enqueue(session, event, f"{subject}: {window.title}", text, severity=severity, window_id=window.id)


def _when(window: MaintenanceWindow) -> str:
    tz = zone(window.timezone)
    start, end = as_utc(window.planned_start), as_utc(window.planned_end)
    assert start is not None and end is not None
    return (f"{start.astimezone(tz):%Y-%m-%d %H:%M} to {end.astimezone(tz):%H:%M} {window.timezone}")


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:g} h" if minutes < 48 * 60 else f"{minutes / 1440:g} d"


def series_busy(session: Session, /, window: MaintenanceWindow) -> MaintenanceWindow | None:
    """Another instance of ``window``'s recurring series still in progress (its jobs ran past its planned end): a
    series never runs two instances at once, so this one waits for it — until its own end, then it is skipped."""
    if window.series_id is None:
        return None
    found: MaintenanceWindow | None = session.exec(select(MaintenanceWindow).where(
        MaintenanceWindow.series_id == window.series_id, MaintenanceWindow.id != window.id,
        MaintenanceWindow.status == "in_progress")).first()
    return found


def _spawn_next(session: Session, window: MaintenanceWindow) -> MaintenanceWindow | None:
    """The next instance of a recurring series, once: same targets, details and duration; the series' approval
    carries over (the pattern was approved), except a series approved by no one stays unapproved."""
    if not window.recurrence_pattern:
        return None
    start, end = as_utc(window.planned_start), as_utc(window.planned_end)
    assert start is not None and end is not None
    nxt = occurrences(window.recurrence_pattern, window.timezone, start, 1)[0]
    series = window.series_id or window.id
    exists = session.exec(select(MaintenanceWindow.id).where(MaintenanceWindow.series_id == series,
                                                             MaintenanceWindow.planned_start == nxt)).first()
    if exists is not None:
        return None
    child = MaintenanceWindow(
        title=window.title, description=window.description, maintenance_type=window.maintenance_type,
        planned_start=nxt, planned_end=nxt + (end - start), timezone=window.timezone, server_ids=window.server_ids,
        cluster_ids=window.cluster_ids, server_group_ids=window.server_group_ids,
        requires_approval=window.requires_approval, four_eyes=window.four_eyes, approved_by=window.approved_by,
        approved_at=window.approved_at, approval=window.approval, auto_execute=window.auto_execute,
        details=window.details, credential_set_ids=window.credential_set_ids, recurrence_enabled=True,
        recurrence_type="recurring", recurrence_pattern=window.recurrence_pattern,
        notify_before_hours=window.notify_before_hours, series_id=series, created_by=window.created_by)
    session.add(child)
    return child


def _reopen_series_approval(session: Session, window: MaintenanceWindow) -> None:
    """A recurring window whose approved plan no longer holds: its next instance carried that approval; it waits
    for a new one (the approve dialog then shows the plan as it is now)."""
    if window.series_id is None or not window.requires_approval:
        return
    for nxt in session.exec(select(MaintenanceWindow).where(MaintenanceWindow.series_id == window.series_id,
                                                            MaintenanceWindow.status == "planned")).all():
        nxt.approved_by, nxt.approved_at, nxt.approval = None, None, None
        nxt.status_reason = f"the approval of the series no longer holds ({window.status_reason}); approve again"
        session.add(nxt)


def safety_plans(window: MaintenanceWindow) -> list[JobPlan]:
    """The safety checks a changing window runs before its work (a health check changes nothing)."""
    if window.maintenance_type == "health_check":
        return []
    minimum = int(window.details.get("min_required_hosts", 2))
    plans = []
    if window.cluster_ids:
        plans.append(JobPlan("cluster_safety_check", [], [], list(window.cluster_ids),
                             {"min_required_hosts": minimum}))
    if window.server_group_ids:
        plans.append(JobPlan("server_group_safety_check", [], list(window.server_group_ids), [], {}))
    return plans


def _create(tx: Tx, window: MaintenanceWindow, plans: list[JobPlan], now: datetime) -> list[str]:
    """The jobs, created as the system at ``now`` (the scheduler's clock: stale-job rules read it)."""
    ids = []
    for plan in plans:
        servers = [str(s) for s in plan.servers]
        groups = []
        for gid in plan.groups:
            grp = tx.session.get(ServerGroup, uuid.UUID(gid))
            if grp is None:
                raise Conflict(f"group {gid} was removed since the window was planned")
            groups.append(grp.name)
        details = dict(plan.details)
        if window.credential_set_ids and JOB_TYPE_SPECS[plan.job_type].touches_idrac:
            names = [cs.name for cs in (tx.session.get(CredentialSet, uuid.UUID(c)) for c in window.credential_set_ids)
                     if cs is not None]
            if names and "credential_sets" in JOB_TYPE_SPECS[plan.job_type].details.model_fields:
                details["credential_sets"] = names
        job = new_job(tx, plan.job_type, servers=servers, groups=groups, clusters=plan.clusters, details=details)
        job.created_at = job.updated_at = now
        tx.session.flush()
        ids.append(str(job.id))
    return ids


@mutation("windows.start", "admin")
def start_window(tx: Tx, /, window_id: uuid.UUID, *, now: datetime) -> dict[str, Any]:
    """A due window: skipped (unapproved, or its time passed while no scheduler ran), or started: its safety
    checks (or, with none to run, its work) are created, and a recurring series gets its next instance."""
    window = find_window(tx.session, window_id)
    if window.status != "planned":
        tx.audit("maintenance_window", window.id, outcome="not planned", status=window.status)
        return window_view(tx.session, window)
    end = as_utc(window.planned_end)
    assert end is not None
    busy = series_busy(tx.session, window)
    if busy is not None and now < end:
        tx.audit("maintenance_window", window.id, outcome="waiting", previous_instance=str(busy.id))
        return window_view(tx.session, window)
    _spawn_next(tx.session, window)
    reason = None
    if busy is not None:
        reason = (f"the previous instance of its series ({str(busy.id)[:8]}) was still running through this one's "
                  "planned end; nothing was run (a series never runs two instances at once)")
    elif window.requires_approval and window.approved_at is None:
        reason = "not approved by its planned start; nothing was run (approve a window before it starts)"
    elif now >= end:
        reason = "its planned end passed while no scheduler was running; nothing was run"
    if reason:
        window.status, window.status_reason, window.completed_at = "skipped", reason, now
        _notify(tx.session, window, "window_skipped", f"Window {window.title!r} ({_when(window)}) was skipped: "
                f"{reason}.", "warning")
    else:
        window.status, window.started_at = "in_progress", now
        checks = safety_plans(window)
        if checks:
            window.phase, window.status_reason = "safety", "checking the safety of its clusters and groups"
            window.job_ids = _create(tx, window, checks, now)
        else:
            _begin_work(tx, window, now)
        if window.status == "in_progress":
            _notify(tx.session, window, "window_started", f"Window {window.title!r} ({_when(window)}) started: "
                    f"{window.status_reason}.")
    window.last_executed_at = now
    tx.session.add(window)
    tx.audit("maintenance_window", window.id, title=window.title, outcome=window.status, reason=window.status_reason,
             jobs=window.job_ids)
    return window_view(tx.session, window)


def _begin_work(tx: Tx, window: MaintenanceWindow, now: datetime) -> None:
    if window.maintenance_type in JOBLESS_TYPES:
        window.phase, window.status_reason = "hold", "held for people's work until its planned end"
        return
    plans = _window_jobs(window.maintenance_type, window.server_ids, window.server_group_ids, window.cluster_ids,
                         window.details)
    if window.maintenance_type == "rolling_cluster_update":
        plans = [_with_plan(tx.session, window, p) for p in plans]
    window.job_ids = [*window.job_ids, *_create(tx, window, plans, now)]
    window.phase = "jobs"
    window.status_reason = f"running {len(plans)} job(s)"


def _with_plan(session: Session, window: MaintenanceWindow, plan: JobPlan) -> JobPlan:
    """A rolling update of a cluster runs the plan built now, which must still be the one the approver saw."""
    from dsm_core.services.rolling import build_plan

    if not plan.clusters:
        return plan
    d = window.details
    built = build_plan(session, plan.clusters[0], repository=d.get("repository"), image_uri=d.get("image_uri"),
                       max_concurrent=int(d.get("max_concurrent", 1)),
                       min_required_hosts=int(d.get("min_required_hosts", 2)))
    approved = {p.get("cluster"): p for p in (window.approval or {}).get("plans", [])}
    seen = approved.get(built["cluster"])
    if seen is not None and seen.get("hosts") != [h["host"] for h in built["hosts"]]:
        raise Conflict(f"the plan of {built['cluster']} changed since it was approved (hosts "
                       f"{', '.join(seen.get('hosts') or [])} → {', '.join(h['host'] for h in built['hosts'])}); "
                       "approve it again")
    if not built["safe"]:
        raise Conflict(f"the plan of {built['cluster']} is not safe: " + "; ".join(built["problems"]))
    return JobPlan(plan.job_type, plan.servers, plan.groups, plan.clusters,
                   {**plan.details, "plan": {k: v for k, v in built.items() if k != "problems"}})


def _verdicts(session: Session, job: Job) -> list[dict[str, Any]]:
    result = (job.details or {}).get("result") or {}
    checks = list(result.get("checks") or [])
    if not checks and job.job_type == "cluster_safety_check":
        checks = [{"name": c.cluster_id, "verdict": "safe" if c.safe_to_proceed else "unsafe",
                   "reasons": (c.details or {}).get("reasons", [])} for c in session.exec(
            select(ClusterSafetyCheck).where(ClusterSafetyCheck.job_id == job.id)).all()]
    return checks


@mutation("windows.advance", "admin")
def advance_window(tx: Tx, /, window_id: uuid.UUID, *, now: datetime) -> dict[str, Any]:
    """A running window whose current jobs all ended: after its safety checks, the snapshot is stored and the work
    starts (or the window is skipped, unsafe, with the reasons); after its work, completed or failed."""
    window = find_window(tx.session, window_id)
    jobs = [j for j in (tx.session.get(Job, uuid.UUID(i)) for i in window.job_ids) if j is not None]
    outcome = "waiting"
    if window.status != "in_progress":
        outcome = "not running"
    elif window.phase == "safety" and all(j.status in ("completed", "failed", "cancelled") for j in jobs):
        snapshot: dict[str, Any] = {"at": now.isoformat(), "checks": [], "jobs": [str(j.id) for j in jobs]}
        problems = []
        for job in jobs:
            checks = _verdicts(tx.session, job)
            snapshot["checks"].extend(checks)
            if job.status != "completed":
                problems.append(f"{JOB_TYPE_SPECS[job.job_type].label} {job.status}: {job.error or ''}")
            for c in checks:
                if c.get("verdict") != "safe":
                    why = "; ".join(r.get("message", "") for r in c.get("reasons", []) if isinstance(r, dict))
                    problems.append(f"{c.get('name')}: unsafe" + (f" ({why})" if why else ""))
        window.safety_check_snapshot = snapshot
        if problems:
            window.status, window.phase, window.completed_at = "skipped", None, now
            window.status_reason = "unsafe at its start; nothing was changed: " + "; ".join(problems)
            _notify(tx.session, window, "window_skipped", f"Window {window.title!r} ({_when(window)}) was skipped: "
                    f"{window.status_reason}.", "critical")
        else:
            try:
                with tx.session.begin_nested():  # all of its jobs or none of them
                    _begin_work(tx, window, now)
            except (Conflict, ValidationError, NotFound, PermissionDenied) as exc:
                window.status, window.phase, window.completed_at = "skipped", None, now
                window.status_reason = f"could not start its work: {exc}"
                _reopen_series_approval(tx.session, window)
                _notify(tx.session, window, "window_skipped", f"Window {window.title!r} was skipped: "
                        f"{window.status_reason}.", "critical")
        outcome = window.status if window.status != "in_progress" else "work started"
    elif window.phase == "hold":
        end = as_utc(window.planned_end)
        if end is not None and now >= end:
            window.status, window.phase, window.completed_at = "completed", None, now
            window.status_reason = "its planned end was reached"
            _notify(tx.session, window, "window_completed", f"Window {window.title!r} ({_when(window)}) completed.")
            outcome = "completed"
    elif window.phase == "jobs":
        work = [j for j in jobs if j.job_type not in ("cluster_safety_check", "server_group_safety_check")
                or window.maintenance_type == "health_check"]
        if all(j.status in ("completed", "failed", "cancelled") for j in work):
            bad = [j for j in work if j.status != "completed"]
            window.phase, window.completed_at = None, now
            if bad:
                window.status = "failed"
                window.status_reason = "; ".join(f"{JOB_TYPE_SPECS[j.job_type].label} {j.status}: "
                                                 f"{j.error or ''}".rstrip(": ") for j in bad)
                _notify(tx.session, window, "window_failed", f"Window {window.title!r} ({_when(window)}) failed: "
                        f"{window.status_reason}.", "critical")
            else:
                window.status, window.status_reason = "completed", f"{len(work)} job(s) completed"
                _notify(tx.session, window, "window_completed", f"Window {window.title!r} ({_when(window)}) "
                        f"completed: {window.status_reason}.")
            outcome = window.status
    tx.session.add(window)
    tx.audit("maintenance_window", window.id, title=window.title, outcome=outcome, reason=window.status_reason)
    return window_view(tx.session, window)


@mutation("windows.notify", "admin")
def notify_upcoming(tx: Tx, /, window_id: uuid.UUID) -> dict[str, Any]:
    """Marks the window told-of and queues its "upcoming" notice (with "not approved yet" when it is not)."""
    window = find_window(tx.session, window_id)
    if window.notification_sent or window.status != "planned":
        tx.audit("maintenance_window", window.id, outcome="already told")
        return {"queued": False}
    window.notification_sent = True
    wait = " It is NOT approved yet: it will be skipped unless approved before it starts." if (
        window.requires_approval and window.approved_at is None) else ""
    _notify(tx.session, window, "window_upcoming", f"Window {window.title!r} ({window.maintenance_type}) starts "
            f"{_when(window)}. Targets: " + ", ".join(f"{k} {', '.join(v)}" for k, v in
                                                      _names(tx.session, window).items() if v) + "." + wait,
            "warning" if wait else "normal")
    tx.session.add(window)
    tx.audit("maintenance_window", window.id, outcome="upcoming notice queued")
    return {"queued": True}


@mutation("windows.skip", "admin")
def mark_skipped(tx: Tx, /, window_id: uuid.UUID, *, now: datetime, reason: str) -> dict[str, Any]:
    """A due window whose work could not be created at all (a group removed since): skipped with the reason."""
    window = find_window(tx.session, window_id)
    if window.status == "planned":
        _spawn_next(tx.session, window)
        window.status, window.status_reason, window.completed_at = "skipped", reason, now
        _notify(tx.session, window, "window_skipped", f"Window {window.title!r} was skipped: {reason}.", "critical")
        tx.session.add(window)
    tx.audit("maintenance_window", window.id, title=window.title, outcome=window.status, reason=reason)
    return window_view(tx.session, window)


# --- suggestions ---------------------------------------------------------------------------------------------------


@query("viewer")
def suggest(session: Session, /, cluster: str | None = None, *, days: int = 14, duration_hours: float = 4.0,
            timezone: str = "UTC", now: datetime | None = None, history_days: int = 90,
            limit: int = 10) -> dict[str, Any]:
    """Recommended windows for a cluster (or every cluster) over the next ``days`` days, from the safety-check
    history of the last ``history_days`` days and the windows already planned (scheduling.suggest_windows)."""
    from dsm_core.scheduling import Busy, CheckPoint, suggest_windows

    if not 1 <= days <= 366:
        raise ValidationError("days", f"{days} is out of range", "give 1 to 366 days")
    if not 0.5 <= duration_hours <= 72:
        raise ValidationError("duration", f"{duration_hours} hours is out of range", "give 0.5 to 72 hours")
    try:
        tz = zone(timezone)
    except ScheduleError as exc:
        raise ValidationError(exc.field, exc.problem, exc.fix) from None
    at = now or utcnow()
    names = [find_cluster(session, cluster).name] if cluster else sorted(set(session.exec(
        select(VcenterCluster.name)).all()))
    rows = session.execute(sa.select(col(ClusterSafetyCheck.cluster_id), col(ClusterSafetyCheck.check_timestamp),
                                     col(ClusterSafetyCheck.safe_to_proceed), col(ClusterSafetyCheck.healthy_hosts),
                                     col(ClusterSafetyCheck.total_hosts)).where(
        col(ClusterSafetyCheck.cluster_id).in_(names),
        col(ClusterSafetyCheck.check_timestamp) >= at - timedelta(days=history_days))).all()
    checks = [CheckPoint(n, as_utc(t) or at, bool(safe), h, tot) for n, t, safe, h, tot in rows]
    first = (at.astimezone(tz) + timedelta(days=1)).date()
    windows = session.exec(select(MaintenanceWindow).where(
        col(MaintenanceWindow.status).in_(ACTIVE),
        MaintenanceWindow.planned_end >= at,
        MaintenanceWindow.planned_start <= at + timedelta(days=days + 2))).all()
    busy = [Busy(frozenset(w.cluster_ids), as_utc(w.planned_start) or at, as_utc(w.planned_end) or at, w.title)
            for w in windows]
    found = suggest_windows(names, checks, busy, first_day=first, days=days, duration_hours=duration_hours,
                            tz=tz, limit=limit)
    return {"clusters": names, "from": first.isoformat(), "days": days, "timezone": timezone,
            "history_checks": len(checks), "optimal_windows": [s.view() for s in found]}
