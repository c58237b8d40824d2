"""The scheduler on a controlled clock (no sleeps): windows run at their start and not before, only approved, only
safe; recurring windows keep their local time across both DST changes; the window follows its jobs; notifications
are queued for what happened; stale jobs and old rows go. SQLite and PostgreSQL.

The jobs the scheduler creates are finished here the way the worker finishes them (the handlers are tested through
real workers elsewhere, and end to end with a window in test_window_e2e.py)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from dsm_core.db.engine import read_scope, session_scope
from dsm_core.models import (
    IdracCommand,
    Job,
    MaintenanceWindow,
    NotificationOutbox,
    ScheduledSafetyCheck,
    VcenterCluster,
)
from dsm_core.safety import ClusterFacts, HostFacts, cluster_verdict
from dsm_core.services import jobs, servers, settings, windows
from dsm_core.services.context import ServiceContext
from dsm_core.services.errors import Conflict, PermissionDenied, ValidationError
from dsm_core.services.safety import record_cluster_check
from dsm_core.timeutil import as_utc
from dsm_worker.scheduler import Scheduler
from tests.vcenter_seed import inventory, seed_vcenter

T0 = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
IMAGE = "http://127.0.10.250/BIOS.EXE"


def _window(engine: Any, wid: str) -> MaintenanceWindow:
    with read_scope(engine) as s:
        row = s.get(MaintenanceWindow, uuid.UUID(wid))
        assert row is not None
        return row


def _jobs(engine: Any) -> list[Job]:
    with read_scope(engine) as s:
        return list(s.exec(select(Job).order_by(col(Job.created_at))).all())


def _finish(engine: Any, job_id: str, status: str = "completed", error: str | None = None) -> None:
    """What the worker writes when a job ends."""
    with session_scope(engine) as s:
        job = s.get(Job, uuid.UUID(job_id))
        assert job is not None
        job.status, job.error, job.completed_at = status, error, datetime.now(UTC)
        s.add(job)


def _check_cluster(engine: Any, job_id: str, name: str, healthy: bool = True) -> None:
    """The cluster safety check's own result for a cluster (as the handler stores it), and its job ended."""
    with session_scope(engine) as s:
        cluster = s.exec(select(VcenterCluster).where(VcenterCluster.name == name)).one()
        hosts = tuple(HostFacts(f"esx-{i}", "connected", not healthy and i == 0, "green", "poweredOn")
                      for i in range(4))
        verdict = cluster_verdict(ClusterFacts(name, True, "fullyAutomated", True, hosts), 2)
        record_cluster_check(s, cluster.id, verdict, job_id=uuid.UUID(job_id))
    _finish(engine, job_id)


def _outbox(engine: Any) -> list[NotificationOutbox]:
    with read_scope(engine) as s:
        return list(s.exec(select(NotificationOutbox).order_by(col(NotificationOutbox.created_at))).all())


@pytest.fixture
def with_channel(admin: ServiceContext) -> None:
    # a channel is configured, so events are queued (delivery is tested in test_notifications.py)
    settings.set_setting(admin, "notification.syslog_host", "127.0.0.1")


def test_an_unapproved_window_never_runs_and_says_why(operator: ServiceContext, admin: ServiceContext,
                                                      with_channel: None) -> None:
    seed_vcenter(admin, inventory(hosts=4))
    view = windows.create_window(operator, "Q1 BIOS", maintenance_type="rolling_cluster_update",
                                 start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=6), clusters=["prod-0"],
                                 requires_approval=True, details={"image_uri": IMAGE}, now=T0)
    scheduler = Scheduler(admin.engine)
    for at in (T0, T0 + timedelta(hours=2) - timedelta(seconds=1)):
        scheduler.tick(at)
        assert _window(admin.engine, view["id"]).status == "planned" and not _jobs(admin.engine)
    scheduler.tick(T0 + timedelta(hours=2))
    row = _window(admin.engine, view["id"])
    assert row.status == "skipped" and "not approved by its planned start" in (row.status_reason or "")
    assert not _jobs(admin.engine) and row.job_ids == []
    for _ in range(3):  # and it stays that way
        scheduler.tick(T0 + timedelta(hours=3))
    assert _window(admin.engine, view["id"]).status == "skipped" and not _jobs(admin.engine)
    events = [(n.event, n.severity) for n in _outbox(admin.engine)]
    assert ("window_upcoming", "warning") in events and ("window_skipped", "warning") in events


def test_an_approved_window_runs_at_its_start_not_before_and_follows_its_jobs(
        operator: ServiceContext, admin: ServiceContext, with_channel: None) -> None:
    seed_vcenter(admin, inventory(hosts=4))
    start = T0 + timedelta(days=1)
    view = windows.create_window(operator, "rolling BIOS", maintenance_type="rolling_cluster_update", start=start,
                                 end=start + timedelta(hours=4), clusters=["prod-0"], requires_approval=True,
                                 details={"image_uri": IMAGE, "min_required_hosts": 2}, now=T0)
    approved = windows.approve_window(admin, view["id"])
    assert approved["approved_by_name"] == "alice" and approved["approval"]["plans"][0]["hosts"] == [
        "esx-0-0", "esx-0-1", "esx-0-2", "esx-0-3"]
    scheduler = Scheduler(admin.engine)
    scheduler.tick(start - timedelta(microseconds=1))
    assert _window(admin.engine, view["id"]).status == "planned" and not _jobs(admin.engine)

    scheduler.tick(start)
    row = _window(admin.engine, view["id"])
    assert (row.status, row.phase) == ("in_progress", "safety") and as_utc(row.started_at) == start
    (check,) = _jobs(admin.engine)
    assert check.job_type == "cluster_safety_check" and check.target_scope == {"clusters": ["prod-0"]}
    assert check.created_by is None  # the system's job
    scheduler.tick(start + timedelta(seconds=10))  # the check is still running: nothing moves
    assert len(_jobs(admin.engine)) == 1

    _check_cluster(admin.engine, str(check.id), "prod-0")
    scheduler.tick(start + timedelta(minutes=1))
    row = _window(admin.engine, view["id"])
    assert row.phase == "jobs" and row.safety_check_snapshot is not None, (row.status, row.status_reason)
    assert row.safety_check_snapshot["checks"][0]["verdict"] == "safe"
    update = next(j for j in _jobs(admin.engine) if j.job_type == "rolling_cluster_update")
    assert update.details["plan"]["hosts"][0]["host"] == "esx-0-0" and str(update.id) in row.job_ids

    _finish(admin.engine, str(update.id))
    scheduler.tick(start + timedelta(hours=1))
    row = _window(admin.engine, view["id"])
    assert (row.status, row.phase) == ("completed", None) and as_utc(row.completed_at) == start + timedelta(hours=1)
    events = [n.event for n in _outbox(admin.engine)]
    assert events.count("window_started") == 1 and events.count("window_completed") == 1


def test_an_unsafe_cluster_at_the_start_skips_the_window_with_the_reasons(
        operator: ServiceContext, admin: ServiceContext, with_channel: None) -> None:
    seed_vcenter(admin, inventory(hosts=4))
    start = T0 + timedelta(days=1)
    view = windows.create_window(operator, "bios", maintenance_type="rolling_cluster_update", start=start,
                                 end=start + timedelta(hours=4), clusters=["prod-0"],
                                 details={"image_uri": IMAGE}, now=T0)
    scheduler = Scheduler(admin.engine)
    scheduler.tick(start)
    (check,) = _jobs(admin.engine)
    _check_cluster(admin.engine, str(check.id), "prod-0", healthy=False)
    scheduler.tick(start + timedelta(minutes=1))
    row = _window(admin.engine, view["id"])
    assert row.status == "skipped" and "unsafe" in (row.status_reason or "")
    assert "maintenance" in (row.status_reason or "")  # the reason from the verdict
    assert [j.job_type for j in _jobs(admin.engine)] == ["cluster_safety_check"]  # no update was created
    skipped = [n for n in _outbox(admin.engine) if n.event == "window_skipped"]
    assert len(skipped) == 1 and skipped[0].severity == "critical" and "unsafe" in skipped[0].body


def test_a_failed_job_fails_the_window(operator: ServiceContext, admin: ServiceContext) -> None:
    srv = servers.add_server(admin, "127.0.21.1:8443")
    start = T0 + timedelta(hours=1)
    view = windows.create_window(operator, "health", maintenance_type="health_check", start=start,
                                 end=start + timedelta(hours=1), servers=[srv["id"]], now=T0)
    scheduler = Scheduler(admin.engine)
    scheduler.tick(start)
    (job,) = _jobs(admin.engine)
    assert job.job_type == "health_check" and _window(admin.engine, view["id"]).phase == "jobs"
    _finish(admin.engine, str(job.id), "failed", "RAC0218: too many sessions")
    scheduler.tick(start + timedelta(minutes=5))
    row = _window(admin.engine, view["id"])
    assert row.status == "failed" and "RAC0218" in (row.status_reason or "")


BERLIN = ZoneInfo("Europe/Berlin")


def test_a_weekly_0230_berlin_window_keeps_its_local_time_across_both_dst_changes(
        operator: ServiceContext, admin: ServiceContext) -> None:
    """Sundays 02:30 Europe/Berlin from March to November 2027 (DST starts 28 March, ends 31 October). Stated rule:
    the skipped 02:30 of 28 March runs at 03:30 CEST (as far after the jump as it was into the missing hour); the
    repeated 02:30 of 31 October runs once, at its first occurrence (CEST)."""
    srv = servers.add_server(admin, "127.0.21.2:8443")
    settings.set_setting(admin, "activity.job_auto_cleanup_enabled", "false")  # keep the 40 jobs to count them
    first = datetime(2027, 3, 7, 2, 30, tzinfo=BERLIN)
    view = windows.create_window(operator, "weekly health", maintenance_type="health_check", start=first,
                                 end=first + timedelta(hours=1), timezone="Europe/Berlin", cron="30 2 * * 0",
                                 servers=[srv["id"]], now=datetime(2027, 3, 1, tzinfo=UTC))
    preview = [datetime.fromisoformat(t).astimezone(BERLIN) for t in view["next_occurrences"]]
    assert [t.strftime("%m-%d %H:%M %Z") for t in preview] == [
        "03-07 02:30 CET", "03-14 02:30 CET", "03-21 02:30 CET", "03-28 03:30 CEST", "04-04 02:30 CEST"]
    scheduler = Scheduler(admin.engine)
    ran: list[datetime] = []
    series = uuid.UUID(view["id"])
    for _ in range(40):
        with read_scope(admin.engine) as s:
            nxt = s.exec(select(MaintenanceWindow).where(MaintenanceWindow.series_id == series,
                                                         MaintenanceWindow.status == "planned")).one()
        start = as_utc(nxt.planned_start)
        assert start is not None
        scheduler.tick(start - timedelta(seconds=1))
        assert _window(admin.engine, str(nxt.id)).status == "planned"  # not a second early
        scheduler.tick(start)
        assert _window(admin.engine, str(nxt.id)).status == "in_progress"
        for job in _jobs(admin.engine):
            if job.status == "pending":
                _finish(admin.engine, str(job.id))
        scheduler.tick(start + timedelta(minutes=30))
        assert _window(admin.engine, str(nxt.id)).status == "completed"
        ran.append(start)
    local = [t.astimezone(BERLIN) for t in ran]
    assert all(t.weekday() == 6 for t in local)
    assert all(b - a >= timedelta(days=6, hours=22) for a, b in itertools.pairwise(ran))
    by_day = {t.strftime("%Y-%m-%d"): t for t in local}
    assert by_day["2027-03-21"].strftime("%H:%M %Z") == "02:30 CET"
    assert by_day["2027-03-28"].strftime("%H:%M %Z") == "03:30 CEST"  # the skipped hour's rule
    assert by_day["2027-03-28"].astimezone(UTC).strftime("%H:%M") == "01:30"
    assert by_day["2027-04-04"].strftime("%H:%M %Z") == "02:30 CEST"
    assert by_day["2027-10-24"].strftime("%H:%M %Z") == "02:30 CEST"
    assert by_day["2027-10-31"].strftime("%H:%M %Z") == "02:30 CEST"  # the repeated hour: first occurrence, once
    assert by_day["2027-10-31"].astimezone(UTC).strftime("%H:%M") == "00:30"
    assert by_day["2027-11-07"].strftime("%H:%M %Z") == "02:30 CET"
    assert sum(1 for t in local if t.strftime("%Y-%m-%d") == "2027-10-31") == 1
    assert sum(1 for j in _jobs(admin.engine) if j.job_type == "health_check") == 40


def test_the_four_eyes_rule_refuses_the_creator_and_a_viewer_cannot_approve(
        operator: ServiceContext, admin: ServiceContext, viewer: ServiceContext) -> None:
    srv = servers.add_server(admin, "127.0.21.3:8443")
    view = windows.create_window(operator, "fw", maintenance_type="firmware_update", start=T0 + timedelta(days=1),
                                 end=T0 + timedelta(days=1, hours=2), servers=[srv["id"]], requires_approval=True,
                                 details={"image_uri": IMAGE}, now=T0)
    with pytest.raises(windows.FourEyes, match=r"four-eyes rule \(maintenance.four_eyes\)"):
        windows.approve_window(operator, view["id"])
    with pytest.raises(PermissionDenied, match="needs the operator role"):
        windows.approve_window(viewer, view["id"])
    # a short id names the window as a full one does: the last 8 digits (the console's), a prefix (the CLI's)
    assert windows.show_window(viewer, view["id"][-8:])["id"] == windows.show_window(viewer, view["id"][:8])["id"]
    assert windows.approve_window(admin, view["id"][-8:])["approved_by_name"] == "alice"
    with pytest.raises(Conflict, match="already approved"):
        windows.approve_window(admin, view["id"])
    settings.set_setting(admin, "maintenance.four_eyes", "false")
    own = windows.create_window(operator, "fw2", maintenance_type="firmware_update", start=T0 + timedelta(days=2),
                                end=T0 + timedelta(days=2, hours=2), servers=[srv["id"]], requires_approval=True,
                                details={"image_uri": IMAGE}, now=T0)
    assert windows.approve_window(operator, own["id"])["approved_by_name"] == "oscar"


def test_a_window_is_validated_as_the_job_it_will_create(operator: ServiceContext, admin: ServiceContext) -> None:
    srv = servers.add_server(admin, "127.0.21.4:8443")
    base: dict[str, Any] = {"start": T0 + timedelta(days=1), "end": T0 + timedelta(days=1, hours=2),
                            "servers": [srv["id"]], "now": T0}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"maintenance_type": "firmware_update", "details": {}}, "details"),
        ({"maintenance_type": "firmware_update", "details": {"image_uri": "ftp://x/y"}}, "details.image_uri"),
        ({"maintenance_type": "firmware_update", "details": {"image_uri": IMAGE, "speed": 3}}, "details.speed"),
        ({"maintenance_type": "rolling_cluster_update", "details": {"image_uri": IMAGE}}, "targets"),
        ({"maintenance_type": "firmware_update", "details": {"image_uri": IMAGE}, "timezone": "CET"}, "timezone"),
        ({"maintenance_type": "firmware_update", "details": {"image_uri": IMAGE}, "cron": "every sunday"}, "cron"),
        ({"maintenance_type": "nap"}, "type"),
        ({"maintenance_type": "health_check", "end": T0}, "end"),
        ({"maintenance_type": "health_check", "start": T0 - timedelta(hours=1)}, "start"),
        ({"maintenance_type": "health_check", "notify_before_hours": 500}, "notify_before_hours"),
    ]
    for extra, field in cases:
        with pytest.raises(ValidationError) as refused:
            windows.create_window(operator, "t", **{**base, **extra})
        assert refused.value.field == field, (extra, refused.value)
    with read_scope(admin.engine) as s:
        assert s.exec(select(MaintenanceWindow)).first() is None  # nothing half-written


def test_two_windows_changing_the_same_host_at_once_are_refused_and_a_read_only_one_warns(
        operator: ServiceContext, admin: ServiceContext) -> None:
    srv = servers.add_server(admin, "127.0.21.5:8443")
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=1, hours=3)
    first = windows.create_window(operator, "fw", maintenance_type="firmware_update", start=start, end=end,
                                  servers=[srv["id"]], details={"image_uri": IMAGE}, now=T0)
    with pytest.raises(Conflict, match="changes 1 of the same host"):
        windows.create_window(operator, "bios", maintenance_type="bios_update", start=start + timedelta(hours=1),
                              end=end + timedelta(hours=1), servers=[srv["id"]],
                              details={"attributes": {"BootMode": "Uefi"}}, now=T0)
    health = windows.create_window(operator, "hc", maintenance_type="health_check", start=start, end=end,
                                   servers=[srv["id"]], now=T0)
    assert health["warnings"] and first["id"][:8] in health["warnings"][0]


def test_scheduled_safety_checks_run_by_cron_and_stale_jobs_are_cancelled(admin: ServiceContext) -> None:
    seed_vcenter(admin, inventory(clusters=2, hosts=3))
    with session_scope(admin.engine) as s:
        s.add(ScheduledSafetyCheck(enabled=True, schedule_cron="0 */6 * * *", check_all_groups=False,
                                   min_required_hosts=2, created_at=T0))
    scheduler = Scheduler(admin.engine)
    scheduler.tick(T0 + timedelta(hours=5, minutes=59))
    assert not _jobs(admin.engine)
    scheduler.tick(T0 + timedelta(hours=6))
    (check,) = _jobs(admin.engine)
    assert check.job_type == "cluster_safety_check" and sorted(check.target_scope["clusters"]) == ["prod-0", "prod-1"]
    assert check.details["scheduled_check_id"]
    scheduler.tick(T0 + timedelta(hours=7))
    assert len(_jobs(admin.engine)) == 1  # once per slot

    old = jobs.create_job(admin, "discovery_scan", details={"ranges": ["127.0.22.0/30"]})
    with session_scope(admin.engine) as s:
        row = s.get(Job, uuid.UUID(old["id"]))
        assert row is not None
        row.created_at = T0 - timedelta(hours=30)
    report = scheduler.tick(T0 + timedelta(hours=7, minutes=1))
    with read_scope(admin.engine) as s:
        row = s.get(Job, uuid.UUID(old["id"]))
        assert row is not None and row.status == "cancelled" and "stale_pending_hours" in (row.error or "")
        fresh = s.get(Job, check.id)
        assert fresh is not None and fresh.status == "pending"
    assert report.stale_cancelled == 1


def test_retention_deletes_old_activity_in_small_batches(admin: ServiceContext) -> None:
    with session_scope(admin.engine) as s:
        for i in range(1200):
            at = T0 - timedelta(days=40 if i < 1100 else 1)
            s.add(IdracCommand(command_type="GET", endpoint="/redfish/v1", full_url="https://127.0.0.1/redfish/v1",
                               timestamp=at, created_at=at))
    report = Scheduler(admin.engine).tick(T0)
    assert report.deleted.get("idrac_commands") == 1100
    with read_scope(admin.engine) as s:
        assert len(s.exec(select(IdracCommand.id)).all()) == 100


def test_activity_alerts_are_rate_limited_to_one_per_idrac_and_hour(admin: ServiceContext,
                                                                   with_channel: None) -> None:
    srv = servers.add_server(admin, "127.0.21.6:8443")
    scheduler = Scheduler(admin.engine)
    scheduler.tick(T0)  # the cursor starts now: history is not news
    for minute in range(1, 6):
        with session_scope(admin.engine) as s:
            for _ in range(200):
                at = T0 + timedelta(minutes=minute, seconds=-30)
                s.add(IdracCommand(server_id=uuid.UUID(srv["id"]), command_type="GET", endpoint="/redfish/v1",
                                   full_url="https://127.0.21.6:8443/redfish/v1", success=False, status_code=503,
                                   timestamp=at, created_at=at, response_time_ms=20))
        scheduler.tick(T0 + timedelta(minutes=minute))
    alerts = [n for n in _outbox(admin.engine) if n.event == "activity_failures"]
    assert len(alerts) == 1 and "200 failed call(s)" in alerts[0].subject
    with session_scope(admin.engine) as s:
        at = T0 + timedelta(hours=1, minutes=5)
        s.add(IdracCommand(server_id=uuid.UUID(srv["id"]), command_type="GET", endpoint="/redfish/v1",
                           full_url="https://127.0.21.6:8443/redfish/v1", success=False, timestamp=at, created_at=at))
    scheduler.tick(T0 + timedelta(hours=1, minutes=6))
    assert len([n for n in _outbox(admin.engine) if n.event == "activity_failures"]) == 2  # the next hour


def test_activity_statistics_per_server_and_day_with_latency_percentiles(admin: ServiceContext) -> None:
    from dsm_core.services import history

    srv = servers.add_server(admin, "127.0.21.7:8443", hostname="r750-stats")
    day1, day2 = T0 - timedelta(days=1), T0
    with session_scope(admin.engine) as s:
        for i in range(100):  # day 1: 100 calls, latencies 1..100 ms, 5 failed, 10 over the 91 ms mark
            at = day1.replace(hour=3) + timedelta(seconds=i)
            s.add(IdracCommand(server_id=uuid.UUID(srv["id"]), command_type="GET", endpoint="/redfish/v1",
                               full_url="https://127.0.21.7:8443/redfish/v1", success=i >= 5,
                               response_time_ms=i + 1, timestamp=at, created_at=at))
        for i in range(3):  # day 2: three vCenter calls (no server)
            at = day2.replace(hour=1) + timedelta(seconds=i)
            s.add(IdracCommand(command_type="SOAP", operation_type="vcenter_api", endpoint="Login",
                               full_url="https://127.0.0.1/sdk", response_time_ms=10, timestamp=at, created_at=at))
    settings.set_setting(admin, "activity.slow_command_threshold_ms", "91")
    report = Scheduler(admin.engine).tick(T0 + timedelta(hours=2))
    assert report.statistics == {day1.date().isoformat(): 1, day2.date().isoformat(): 1}
    rows = history.activity_stats(admin, days=7, now=T0 + timedelta(hours=2))
    by_api = {r["api"]: r for r in rows}
    idrac = by_api["idrac_api"]
    assert (idrac["server"], idrac["calls"], idrac["failures"], idrac["slow"]) == ("r750-stats", 100, 5, 10)
    assert (idrac["p50_ms"], idrac["p95_ms"], idrac["p99_ms"], idrac["max_ms"]) == (50, 95, 99, 100)
    assert (by_api["vcenter_api"]["server"], by_api["vcenter_api"]["calls"]) == ("-", 3)
    assert history.activity_stats(admin, server="r750-stats", days=7, now=T0 + timedelta(hours=2)) == [idrac]
    # the calls themselves go after log_retention_days; their statistics stay statistics_retention_days
    Scheduler(admin.engine).tick(T0 + timedelta(days=45))
    with read_scope(admin.engine) as s:
        assert not s.exec(select(IdracCommand.id)).all()
    assert len(history.activity_stats(admin, days=60, now=T0 + timedelta(days=45))) == 2


def test_a_recurring_window_whose_approved_plan_changed_is_skipped_and_its_next_instance_awaits_approval(
        operator: ServiceContext, admin: ServiceContext) -> None:
    from dsm_core.models import Vcenter
    from dsm_core.services import vcenter
    from dsm_core.services.context import SYSTEM

    seed_vcenter(admin, inventory(hosts=4))
    start = datetime(2027, 1, 17, 2, 30, tzinfo=UTC)  # a Sunday
    view = windows.create_window(operator, "weekly BIOS", maintenance_type="rolling_cluster_update", start=start,
                                 end=start + timedelta(hours=3), clusters=["prod-0"], cron="30 2 * * 0",
                                 requires_approval=True, details={"image_uri": IMAGE}, now=T0)
    windows.approve_window(admin, view["id"])
    with read_scope(admin.engine) as s:
        vc_id = s.exec(select(Vcenter.id)).one()
    # a fifth host joins the cluster after the approval: the plan the approver saw no longer holds
    servers.add_server(admin, "127.0.20.5:8443", hostname="idrac-0-4")
    vcenter.record_sync(ServiceContext(admin.engine, SYSTEM), vc_id, inventory(hosts=5))
    scheduler = Scheduler(admin.engine)
    scheduler.tick(start)
    (check,) = _jobs(admin.engine)
    _check_cluster(admin.engine, str(check.id), "prod-0")
    scheduler.tick(start + timedelta(minutes=1))
    row = _window(admin.engine, view["id"])
    assert row.status == "skipped" and "changed since it was approved" in (row.status_reason or "")
    assert [j.job_type for j in _jobs(admin.engine)] == ["cluster_safety_check"]
    with read_scope(admin.engine) as s:
        nxt = s.exec(select(MaintenanceWindow).where(MaintenanceWindow.series_id == row.series_id,
                                                     MaintenanceWindow.status == "planned")).one()
    assert as_utc(nxt.planned_start) == start + timedelta(days=7) and nxt.approved_at is None
    assert windows.approve_window(admin, str(nxt.id))["approval"]["plans"][0]["hosts"][-1] == "esx-0-4"


def test_job_events_are_notified_per_settings_with_critical_types_flagged(admin: ServiceContext,
                                                                          with_channel: None) -> None:
    srv = servers.add_server(admin, "127.0.21.8:8443")
    settings.set_setting(admin, "notification.notify_on_job_started", "true")
    scheduler = Scheduler(admin.engine)
    scheduler.tick(datetime.now(UTC))  # the cursor starts now: jobs that ended before are not news
    health = jobs.create_job(admin, "health_check", servers=[srv["id"]])
    firmware = jobs.create_job(admin, "firmware_update", servers=[srv["id"]], details={"image_uri": IMAGE})
    for job_id, status in ((health["id"], "completed"), (firmware["id"], "failed")):
        with session_scope(admin.engine) as s:
            row = s.get(Job, uuid.UUID(job_id))
            assert row is not None
            row.started_at = datetime.now(UTC)
            row.status, row.error = status, "SUP0518: the package is not applicable" if status == "failed" else None
    scheduler.tick(datetime.now(UTC))
    scheduler.tick(datetime.now(UTC) + timedelta(seconds=10))  # nothing twice
    events = sorted((n.event, n.severity, n.mention) for n in _outbox(admin.engine))
    assert events == [("job_completed", "normal", False), ("job_failed", "critical", True),
                      ("job_started", "normal", False), ("job_started", "normal", False)]
    failed = next(n for n in _outbox(admin.engine) if n.event == "job_failed")
    assert "SUP0518" in failed.body and failed.job_id == uuid.UUID(firmware["id"])


def test_a_recurring_series_never_runs_two_instances_at_once(operator: ServiceContext, admin: ServiceContext) -> None:
    """Issue 26, deliver 7. The review's series (`--cron '* * * * *'`, 20-minute windows) is refused at creation; a
    series whose instance's jobs run past its end holds the next instance back (it waits, writing nothing, and starts
    once the previous one ended), and one held through its whole window is skipped saying why."""
    servers.add_server(admin, "127.0.20.1:8443")
    start = T0 + timedelta(days=1)
    fw = {"maintenance_type": "firmware_update", "details": {"image_uri": IMAGE}, "servers": ["127.0.20.1:8443"]}
    with pytest.raises(ValidationError) as refused:
        windows.create_window(operator, "every minute", start=start, end=start + timedelta(minutes=20),
                              cron="* * * * *", now=T0, **fw)
    assert refused.value.field == "cron" and "every 1 min" in refused.value.problem
    assert "each lasts 20 min" in refused.value.problem
    view = windows.create_window(operator, "hourly", start=start, end=start + timedelta(minutes=50),
                                 cron="0 * * * *", now=T0, **fw)
    scheduler = Scheduler(admin.engine)

    def active() -> list[Job]:
        return [j for j in _jobs(admin.engine) if j.job_type == "firmware_update" and j.status in ("pending", "running")]

    scheduler.tick(start)
    (first,) = active()
    scheduler.tick(start + timedelta(minutes=55))  # the job runs past the instance's end: the instance stays on
    assert _window(admin.engine, view["id"]).status == "in_progress"
    with read_scope(admin.engine) as s:
        second = s.exec(select(MaintenanceWindow).where(MaintenanceWindow.series_id == uuid.UUID(view["id"]),
                                                        MaintenanceWindow.planned_start == start + timedelta(hours=1))
                        ).one()
    for minutes in (60, 61, 75):  # the next instance is due and waits: no job, no write, still planned
        scheduler.tick(start + timedelta(minutes=minutes))
        assert len(active()) == 1 and _window(admin.engine, str(second.id)).status == "planned"
    _finish(admin.engine, str(first.id))
    scheduler.tick(start + timedelta(minutes=76))  # the first instance ends with its job
    scheduler.tick(start + timedelta(minutes=77))  # and the second starts, inside its own window
    assert _window(admin.engine, view["id"]).status == "completed"
    assert _window(admin.engine, str(second.id)).status == "in_progress" and len(active()) == 1

    # the second instance's job runs through the whole third window: the third is skipped, saying why
    with read_scope(admin.engine) as s:
        third = s.exec(select(MaintenanceWindow).where(MaintenanceWindow.series_id == uuid.UUID(view["id"]),
                                                       MaintenanceWindow.planned_start == start + timedelta(hours=2))
                       ).one()
    for minutes in (120, 150, 170):
        scheduler.tick(start + timedelta(minutes=minutes))
        assert len(active()) == 1
    row = _window(admin.engine, str(third.id))
    assert row.status == "skipped" and "previous instance of its series" in (row.status_reason or "")
    assert "never runs two instances at once" in (row.status_reason or "")
