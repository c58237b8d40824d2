"""The scheduler: maintenance windows, scheduled safety checks, notifications of what happened, activity alerts,
stale jobs and retention. Exactly one runs at a time across all workers.

Who runs it is decided by a lock the operating system or the database releases when its holder dies: on PostgreSQL
a session advisory lock held on a connection of its own (a killed worker's connection closes and the lock goes with
it; another worker takes it at its next attempt, one poll interval later), on SQLite an exclusive ``flock`` on a
file beside the database (the supported SQLite setup is one worker; the lock also keeps a second one out).

``tick(now)`` is one pass, synchronous and driven by the clock passed in: the tests run it on a controlled clock,
the worker on the wall clock. Every change it makes is a service mutation by the system (audited); every step is
guarded on its own, so one failing step (a vanished cluster) never stops the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from croniter import croniter
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from dsm_core.db.engine import is_locked, read_scope, session_scope
from dsm_core.models import (
    ActivityDailyStat,
    ActivitySettings,
    AuditLog,
    ClusterSafetyCheck,
    IdracCommand,
    Job,
    MaintenanceWindow,
    NetworkSettings,
    NotificationLog,
    NotificationOutbox,
    NotificationSettings,
    ScheduledSafetyCheck,
    SchedulerState,
    Server,
    ServerGroup,
    ServerGroupSafetyCheck,
)
from dsm_core.services.context import SYSTEM, ServiceContext
from dsm_core.services.errors import ServiceError
from dsm_core.services.jobs import FINISHED
from dsm_core.services.notifications import channels, enqueue
from dsm_core.services.settings import read_singleton, singleton
from dsm_core.services.windows import MAX_NOTIFY_HOURS, advance_window, notify_upcoming, series_busy, start_window
from dsm_core.timeutil import as_utc, utcnow

log = logging.getLogger("dsm.scheduler")
ADVISORY_KEY = 0x44534D5343  # "DSMSC"
RETENTION_BATCH = 500
RETENTION_BATCHES_PER_TICK = 20
RETENTION_EVERY = timedelta(hours=1)
EVENT_BATCH = 500
STATS_EVERY = timedelta(minutes=5)
CURSOR_SAVE = timedelta(minutes=1)


def percentile(ordered: list[int], pct: int) -> int | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(1, -(-pct * len(ordered) // 100))
    return ordered[rank - 1]


# --- the lock -----------------------------------------------------------------------------------------------------


class SchedulerLock:
    """Held by at most one process; released by the OS or the database when the holder dies."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._fd is not None

    def _lock_file(self) -> Path | None:
        database = self.engine.url.database
        if not database or database == ":memory:":
            return None
        return Path(database).with_name(Path(database).name + ".scheduler.lock")

    def acquire(self) -> bool:
        """Try once, without waiting. True when this process holds the lock (now or already)."""
        if self.held:
            return self.alive()
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            try:
                got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
                conn.commit()
            except Exception:
                conn.close()
                raise
            if not got:
                conn.close()
                return False
            self._conn = conn
            return True
        path = self._lock_file()
        if path is None:
            self._fd = -1
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        self._fd = fd
        return True

    def alive(self) -> bool:
        """Whether the lock is still ours (a PostgreSQL restart ends the session and the lock with it)."""
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT 1")).scalar()
                self._conn.commit()
            except Exception:
                log.warning("scheduler lock connection lost; no longer the scheduler")
                self.release()
                return False
        return self.held

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._fd is not None:
            if self._fd >= 0:
                with contextlib.suppress(OSError):
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None


# --- state --------------------------------------------------------------------------------------------------------


def _state(session: Session, name: str) -> SchedulerState:
    row = session.get(SchedulerState, name)
    if row is None:
        row = SchedulerState(name=name, value={})
        session.add(row)
    return row


def read_state(engine: Engine, name: str) -> dict[str, Any]:
    with read_scope(engine) as s:
        row = s.get(SchedulerState, name)
        return dict(row.value) if row else {}


def _advance(session: Session, name: str, at: datetime) -> None:
    row = _state(session, name)
    row.value = {"at": at.isoformat()}
    session.add(row)


@dataclass
class TickReport:
    started: list[str] = field(default_factory=list)
    advanced: list[str] = field(default_factory=list)
    upcoming: list[str] = field(default_factory=list)
    scheduled_checks: list[str] = field(default_factory=list)
    notified: int = 0
    stale_cancelled: int = 0
    deleted: dict[str, int] = field(default_factory=dict)
    statistics: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class Scheduler:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self.ctx = ServiceContext(engine, SYSTEM)
        self._cursors: dict[str, datetime] = {}
        self._dirty: set[str] = set()
        self._saved_at: datetime | None = None

    # --- one pass ---

    def tick(self, now: datetime | None = None) -> TickReport:
        at = now or self.clock()
        report = TickReport()
        for step in (self._windows_due, self._windows_running, self._windows_upcoming, self._scheduled_checks,
                     self._job_events, self._safety_events, self._activity_alerts, self._stale_jobs,
                     self._statistics, self._retention):
            try:
                step(at, report)
            except Exception as exc:
                if is_locked(exc):  # another process holds SQLite's write lock: the next tick does it
                    log.warning("scheduler step %s: database locked by another process; again next tick",
                                step.__name__)
                else:
                    log.exception("scheduler step %s failed", step.__name__)
                report.errors.append(f"{step.__name__}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        try:
            self._save_cursors(at)
        except Exception as exc:
            if not is_locked(exc):
                raise
        return report

    # --- windows ---

    def _windows_due(self, now: datetime, report: TickReport) -> None:
        with read_scope(self.engine) as s:
            windows = s.exec(select(MaintenanceWindow).where(
                MaintenanceWindow.status == "planned", MaintenanceWindow.planned_start <= now,
                MaintenanceWindow.auto_execute).order_by(col(MaintenanceWindow.planned_start))).all()
            # an instance whose series is still running waits, without a write, until that one ends (or its own end)
            due = [w.id for w in windows if series_busy(s, w) is None or now >= (as_utc(w.planned_end) or now)]
        for wid in due:
            try:
                view = start_window(self.ctx, wid, now=now)
            except (ServiceError, LookupError) as exc:
                # The work could not even be created (a group deleted since): the window says so, once. A
                # database error (SQLite locked) is not the window's fault: the step fails, the next tick retries.
                log.warning("window %s could not start: %s", wid, exc)
                self._fail_start(wid, now, f"could not start: {type(exc).__name__}: {exc}")
                report.errors.append(f"window {wid}: {exc}")
                continue
            report.started.append(f"{view['title']}: {view['status']}")

    def _fail_start(self, window_id: uuid.UUID, now: datetime, reason: str) -> None:
        from dsm_core.services.windows import mark_skipped

        mark_skipped(self.ctx, window_id, now=now, reason=reason)

    def _windows_running(self, now: datetime, report: TickReport) -> None:
        with read_scope(self.engine) as s:
            running = s.exec(select(MaintenanceWindow).where(MaintenanceWindow.status == "in_progress")).all()
            ready = []
            for w in running:
                if w.phase == "hold":
                    end = as_utc(w.planned_end)
                    if end is not None and now >= end:
                        ready.append(w.id)
                    continue
                ids = [uuid.UUID(j) for j in w.job_ids]
                statuses = s.exec(select(Job.status).where(col(Job.id).in_(ids))).all() if ids else []
                if all(st in FINISHED for st in statuses):
                    ready.append(w.id)
        for wid in ready:
            view = advance_window(self.ctx, wid, now=now)
            report.advanced.append(f"{view['title']}: {view['status']}")

    def _windows_upcoming(self, now: datetime, report: TickReport) -> None:
        with read_scope(self.engine) as s:
            rows = s.exec(select(MaintenanceWindow.id, MaintenanceWindow.planned_start,
                                 MaintenanceWindow.notify_before_hours).where(
                MaintenanceWindow.status == "planned", col(MaintenanceWindow.notification_sent).is_(False),
                MaintenanceWindow.notify_before_hours > 0, MaintenanceWindow.planned_start > now,
                MaintenanceWindow.planned_start <= now + timedelta(hours=MAX_NOTIFY_HOURS))).all()
        for wid, start, hours in rows:
            begin = as_utc(start)
            if begin is not None and begin - timedelta(hours=hours) <= now:
                notify_upcoming(self.ctx, wid)
                report.upcoming.append(str(wid))

    # --- scheduled safety checks ---

    def _scheduled_checks(self, now: datetime, report: TickReport) -> None:
        with read_scope(self.engine) as s:
            configs = s.exec(select(ScheduledSafetyCheck).where(ScheduledSafetyCheck.enabled)).all()
        for config in configs:
            since = as_utc(config.last_run_at) or as_utc(config.created_at) or now
            try:
                due = croniter(config.schedule_cron, since).get_next(datetime)
            except (ValueError, KeyError) as exc:
                report.errors.append(f"scheduled check {config.id}: bad cron {config.schedule_cron!r}: {exc}")
                continue
            if due > now:
                continue
            from dsm_core.services.safety import run_scheduled_check

            made = run_scheduled_check(self.ctx, config.id, now=now)
            report.scheduled_checks.extend(made)

    # --- events as notifications ---
    # Each reads what happened since its cursor in a read transaction and writes only when there is something to
    # tell (the notifications and the cursor in one transaction); a cursor that merely moves is kept in memory and
    # saved at most every CURSOR_SAVE. A scheduler that takes over from an older cursor may read an event again:
    # every notification carries a dedupe key, so it is still told once.

    def _since(self, name: str, now: datetime) -> datetime:
        if name not in self._cursors:
            at = read_state(self.engine, name).get("at")
            self._cursors[name] = datetime.fromisoformat(at) if at else now  # history is not news
            if not at:
                self._dirty.add(name)
        return self._cursors[name]

    def _told(self, name: str, last: datetime, notes: list[dict[str, Any]], now: datetime,
              report: TickReport) -> None:
        moved = last != self._cursors.get(name)
        self._cursors[name] = last
        if notes:
            with session_scope(self.engine) as s:
                for note in notes:
                    report.notified += bool(enqueue(s, now=now, **note))
                _advance(s, name, last)
            self._dirty.discard(name)
        elif moved:
            self._dirty.add(name)

    def _save_cursors(self, now: datetime) -> None:
        if not self._dirty or (self._saved_at is not None and now - self._saved_at < CURSOR_SAVE):
            return
        with session_scope(self.engine) as s:
            for name in self._dirty:
                _advance(s, name, self._cursors[name])
        self._dirty.clear()
        self._saved_at = now

    def _job_events(self, now: datetime, report: TickReport) -> None:
        since = self._since("job_events", now)
        notes: list[dict[str, Any]] = []
        with read_scope(self.engine) as s:
            settings = read_singleton(s, NotificationSettings)
            jobs = s.exec(select(Job).where(Job.updated_at > since).order_by(
                col(Job.updated_at)).limit(EVENT_BATCH)).all()
        last = max([since, *(as_utc(j.updated_at) or since for j in jobs)])
        if channels(settings):
            for job in jobs:
                critical = job.job_type in (settings.critical_job_types or [])
                started = as_utc(job.started_at)
                if settings.notify_on_job_started and started is not None and started > since:
                    notes.append(dict(event="job_started", subject=f"Job started: {job.job_type}",
                                      body=f"Job {job.id} ({job.job_type}) started.", job_id=job.id,
                                      dedupe_key=f"job:{job.id}:started:{job.attempts}"))
                if job.status == "failed" and settings.notify_on_job_failed:
                    notes.append(dict(event="job_failed", subject=f"Job failed: {job.job_type}",
                                      body=f"Job {job.id} ({job.job_type}) failed: {job.error or 'no error recorded'}",
                                      severity="critical" if critical else "warning", job_id=job.id,
                                      mention=critical and settings.mention_on_critical_failures,
                                      dedupe_key=f"job:{job.id}:{job.status}:{job.attempts}"))
                elif job.status == "completed" and settings.notify_on_job_complete:
                    notes.append(dict(event="job_completed", subject=f"Job completed: {job.job_type}",
                                      body=f"Job {job.id} ({job.job_type}) completed.", job_id=job.id,
                                      dedupe_key=f"job:{job.id}:{job.status}:{job.attempts}"))
        self._told("job_events", last, notes, now, report)

    def _safety_events(self, now: datetime, report: TickReport) -> None:
        since = self._since("safety_events", now)
        rows: list[tuple[str, datetime, bool, bool, str | None, uuid.UUID]] = []
        warnings: dict[uuid.UUID, list[str]] = {}
        with read_scope(self.engine) as s:
            settings = read_singleton(s, NotificationSettings)
            for c in s.exec(select(ClusterSafetyCheck).where(ClusterSafetyCheck.created_at > since).limit(
                    EVENT_BATCH)).all():
                rows.append((f"cluster {c.cluster_id}", as_utc(c.created_at) or now, c.safe_to_proceed,
                             c.status_changed, c.previous_status, c.id))
            for g in s.exec(select(ServerGroupSafetyCheck).where(ServerGroupSafetyCheck.created_at > since).limit(
                    EVENT_BATCH)).all():
                group = s.get(ServerGroup, g.server_group_id) if g.server_group_id else None
                rows.append((f"group {group.name if group else g.server_group_id}", as_utc(g.created_at) or now,
                             g.safe_to_proceed, g.status_changed, g.previous_status, g.id))
                if g.warnings:
                    warnings[g.id] = list(g.warnings)
        last = max([since, *(r[1] for r in rows)])
        notes: list[dict[str, Any]] = []
        for subject, _, safe, changed, previous, check_id in sorted(rows, key=lambda r: r[1]):
            if not channels(settings):
                break
            if changed and settings.notify_on_cluster_status_change:
                now_status = "safe" if safe else "unsafe"
                notes.append(dict(event="cluster_status_changed", subject=f"{subject} is now {now_status}",
                                  body=f"The safety check of {subject} says {now_status} (it was {previous}).",
                                  severity="normal" if safe else "critical", dedupe_key=f"safety:{check_id}"))
            elif not safe and settings.notify_on_unsafe_cluster:
                notes.append(dict(event="cluster_unsafe", subject=f"{subject} is unsafe to update",
                                  body=f"The safety check of {subject} says unsafe.", severity="warning",
                                  dedupe_key=f"safety:{check_id}"))
            elif safe and check_id in warnings and settings.notify_on_cluster_warning:
                notes.append(dict(event="cluster_warning", subject=f"{subject}: safe, with warnings",
                                  body=f"The safety check of {subject} says safe, with warnings: "
                                       + "; ".join(warnings[check_id]), dedupe_key=f"safety:{check_id}"))
        self._told("safety_events", last, notes, now, report)

    def _activity_alerts(self, now: datetime, report: TickReport) -> None:
        """Failed calls, slow calls and high latency, one alert per iDRAC, kind and hour (the rate limit)."""
        since = self._since("activity_alerts", now)
        hour = now.strftime("%Y%m%d%H")
        notes: list[dict[str, Any]] = []
        with read_scope(self.engine) as s:
            activity = read_singleton(s, ActivitySettings)
            network = read_singleton(s, NetworkSettings)
            kinds: list[tuple[str, Any, str]] = []
            if channels(read_singleton(s, NotificationSettings)):
                if activity.alert_on_failures:
                    kinds.append(("activity_failures", col(IdracCommand.success).is_(False), "failed call(s)"))
                if activity.alert_on_slow_commands:
                    kinds.append(("activity_slow",
                                  col(IdracCommand.response_time_ms) > activity.slow_command_threshold_ms,
                                  f"call(s) slower than {activity.slow_command_threshold_ms} ms"))
                if network.monitor_latency:
                    kinds.append(("activity_latency",
                                  col(IdracCommand.response_time_ms) > network.latency_alert_threshold_ms,
                                  f"call(s) above the latency alert of {network.latency_alert_threshold_ms} ms"))
            for event, condition, words in kinds:
                groups = s.exec(select(IdracCommand.server_id, sa.func.count(), sa.func.max(
                    IdracCommand.response_time_ms)).where(
                    IdracCommand.timestamp > since, IdracCommand.timestamp <= now, condition).group_by(
                    col(IdracCommand.server_id))).all()
                for server_id, count, slowest in groups:
                    server = s.get(Server, server_id) if server_id else None
                    name = (server.hostname or server.ip_address) if server else "no server (vCenter/OME)"
                    notes.append(dict(
                        event=event, subject=f"{name}: {count} {words}",
                        body=f"{name}: {count} {words} since {since:%H:%M:%S} UTC (slowest {slowest} ms). Further "
                             "alerts of this kind for this iDRAC are held until the next hour; `dsm activity` shows "
                             "the calls.", severity="warning", dedupe_key=f"{event}:{server_id}:{hour}"))
        self._told("activity_alerts", now, notes, now, report)

    # --- housekeeping ---

    def _stale_jobs(self, now: datetime, report: TickReport) -> None:
        with read_scope(self.engine) as s:
            settings = read_singleton(s, ActivitySettings)
            if not settings.auto_cancel_stale_jobs:
                return
            pending_cut = now - timedelta(hours=settings.stale_pending_hours)
            running_cut = now - timedelta(hours=settings.stale_running_hours)
            stale = s.exec(select(Job.id).where(sa.or_(
                sa.and_(col(Job.status) == "pending", col(Job.created_at) < pending_cut,
                        sa.or_(col(Job.schedule_at).is_(None), col(Job.schedule_at) < pending_cut)),
                sa.and_(col(Job.status) == "running", col(Job.started_at) < running_cut,
                        col(Job.cancel_requested).is_(False)))).limit(EVENT_BATCH)).all()
        if not stale:
            return
        with session_scope(self.engine) as s:
            for job in (s.get(Job, job_id) for job_id in stale):
                if job is None:
                    continue
                if job.status == "running" and not job.cancel_requested:
                    job.cancel_requested = True
                    job.error = f"running longer than {settings.stale_running_hours} h (stale_running_hours)"
                elif job.status == "pending":
                    job.status, job.completed_at = "cancelled", now
                    job.error = (f"pending longer than {settings.stale_pending_hours} h (stale_pending_hours); no "
                                 "worker took it — is one running with a handler for this type?")
                else:
                    continue
                report.stale_cancelled += 1
                s.add(job)

    def _statistics(self, now: datetime, report: TickReport) -> None:
        """Calls per server, API and day (UTC): every day since the last run is computed again whole (a day
        still under way is recomputed at the next run), at most every STATS_EVERY."""
        state = read_state(self.engine, "statistics")
        if state.get("at") and now - datetime.fromisoformat(state["at"]) < STATS_EVERY:
            return
        with read_scope(self.engine) as s:
            settings = read_singleton(s, ActivitySettings)
            if not settings.keep_statistics:
                return
            if state.get("done_through"):
                first = date.fromisoformat(state["done_through"])
            else:
                oldest = s.exec(select(sa.func.min(IdracCommand.timestamp))).one()
                first = (as_utc(oldest) or now).date()
        day = max(first, (now - timedelta(days=settings.log_retention_days)).date())
        while day <= now.date():
            report.statistics[day.isoformat()] = self._stats_for(day, int(settings.slow_command_threshold_ms), now)
            day += timedelta(days=1)
        with session_scope(self.engine) as s:
            row = _state(s, "statistics")
            row.value = {"at": now.isoformat(), "done_through": now.date().isoformat()}
            s.add(row)

    def _stats_for(self, day: date, slow_ms: int, now: datetime) -> int:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        end = start + timedelta(days=1)
        groups: dict[tuple[uuid.UUID | None, str], list[tuple[bool, int | None]]] = {}
        with read_scope(self.engine) as s:
            for server_id, operation, success, latency in s.execute(sa.select(
                    col(IdracCommand.server_id), col(IdracCommand.operation_type), col(IdracCommand.success),
                    col(IdracCommand.response_time_ms)).where(col(IdracCommand.timestamp) >= start,
                                                              col(IdracCommand.timestamp) < end)):
                groups.setdefault((server_id, operation), []).append((bool(success), latency))
        with session_scope(self.engine) as s:
            s.execute(sa.delete(ActivityDailyStat).where(col(ActivityDailyStat.day) == day))
            for (server_id, operation), calls in groups.items():
                times = sorted(ms for _, ms in calls if ms is not None)
                s.add(ActivityDailyStat(
                    day=day, server_id=server_id, server_key=str(server_id) if server_id else "-",
                    operation_type=operation, calls=len(calls), failures=sum(1 for ok, _ in calls if not ok),
                    slow=sum(1 for ms in times if ms >= slow_ms), p50_ms=percentile(times, 50),
                    p95_ms=percentile(times, 95), p99_ms=percentile(times, 99), max_ms=times[-1] if times else None,
                    updated_at=now))
        return len(groups)

    def _through_definer(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return False
        with self.engine.connect() as conn:
            return bool(conn.execute(sa.text(
                "SELECT to_regprocedure('public.dsm_retention(timestamp with time zone,integer)') IS NOT NULL "
                "AND NOT has_table_privilege('public.idrac_commands', 'DELETE')")).scalar())

    def _append_only_retention(self, now: datetime, report: TickReport) -> bool:
        """Batches through dsm_retention until nothing old is left; True when this tick's budget ran out first."""
        for _ in range(RETENTION_BATCHES_PER_TICK):
            with session_scope(self.engine) as s:
                rows = s.execute(sa.text("SELECT table_name, deleted FROM public.dsm_retention(:at, :batch)"),
                                 {"at": now, "batch": RETENTION_BATCH}).all()
            for name, deleted in rows:
                if deleted:
                    report.deleted[name] = report.deleted.get(name, 0) + int(deleted)
            if all(deleted < RETENTION_BATCH for _, deleted in rows):
                return False
        return True

    def _retention(self, now: datetime, report: TickReport) -> None:
        last = read_state(self.engine, "retention").get("at")
        if last is not None and now - datetime.fromisoformat(last) < RETENTION_EVERY:
            return
        with read_scope(self.engine) as s:
            settings = read_singleton(s, ActivitySettings)
        targets: list[tuple[str, Any, Any]] = []
        # The audit and activity logs are append-only on PostgreSQL with DSM's roles: the worker's login may not
        # DELETE them, and their owner's dsm_retention function removes what the settings say is old.
        definer = self._through_definer()
        unfinished = self._append_only_retention(now, report) if definer else False
        log_cut = now - timedelta(days=settings.log_retention_days)
        if not definer:
            if settings.auto_cleanup_enabled:
                targets.append(("idrac_commands", IdracCommand, IdracCommand.timestamp < log_cut))
            if settings.audit_retention_days > 0:
                audit_cut = now - timedelta(days=settings.audit_retention_days)
                targets.append(("audit_logs", AuditLog, AuditLog.timestamp < audit_cut))
        if settings.auto_cleanup_enabled:
            targets.append(("notification_logs", NotificationLog, NotificationLog.created_at < log_cut))
            targets.append(("notification_outbox", NotificationOutbox,
                            (NotificationOutbox.created_at < log_cut) & (NotificationOutbox.status != "pending")))
        cut = now - timedelta(days=settings.statistics_retention_days)
        targets.append(("activity_daily_stats", ActivityDailyStat, col(ActivityDailyStat.day) < cut.date()))
        if settings.job_auto_cleanup_enabled:
            cut = now - timedelta(days=settings.job_retention_days)
            targets.append(("jobs", Job, col(Job.status).in_(FINISHED) & (Job.updated_at < cut)))
        for name, model, condition in targets:
            deleted = 0
            for _ in range(RETENTION_BATCHES_PER_TICK):
                # One short transaction per batch: SQLite's write lock is never held for long.
                with session_scope(self.engine) as s:
                    ids = s.exec(select(model.id).where(condition).limit(RETENTION_BATCH)).all()
                    if ids:
                        s.execute(sa.delete(model).where(model.id.in_(ids)))
                deleted += len(ids)
                if len(ids) < RETENTION_BATCH:
                    break
            else:
                unfinished = True
            if deleted:
                report.deleted[name] = deleted
        with session_scope(self.engine) as s:
            if not unfinished:
                _advance(s, "retention", now)
            if settings.auto_cleanup_enabled:
                settings_row = singleton(s, ActivitySettings)
                settings_row.last_cleanup_at = now
                if settings.job_auto_cleanup_enabled:
                    settings_row.job_last_cleanup_at = now
                s.add(settings_row)


def holder_view(engine: Engine) -> dict[str, Any]:
    """Which worker runs the scheduler and when it last ticked (the pulse shows it)."""
    return read_state(engine, "holder")


def record_holder(engine: Engine, worker_id: uuid.UUID, now: datetime, report: TickReport | None) -> None:
    with session_scope(engine) as s:
        row = _state(s, "holder")
        row.value = {"worker": str(worker_id), "host": socket.gethostname(), "pid": os.getpid(),
                     "since": row.value.get("since") if row.value.get("worker") == str(worker_id) else now.isoformat(),
                     "last_tick": now.isoformat(), "errors": (report.errors if report else [])[:5]}
        s.add(row)
