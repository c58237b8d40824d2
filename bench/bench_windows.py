"""Calendar and scheduler benchmark (issue 14).

- The calendar month: a year of daily safety checks for 500 clusters (182,500 rows) in SQLite; one month read and
  drawn as the console does it (dsm_tui.data.load_calendar, then the MonthGrid rendered at 160x48 by Rich).
  Baseline in the same run: the same month computed the naive way, one ORM query per cluster.
  Target: ≤ 100 ms.
- One scheduler tick with 10,000 windows (planned over the next year, recurring and one-off, some approved, some
  running): Scheduler.tick on a controlled clock. Baseline in the same run: the same tick with 100 windows (a
  tick that reads only what is due stays flat as windows are added). Target: ≤ 200 ms.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLUSTERS = 500
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _engine(directory: Path) -> Any:
    from dsm_core.db import make_engine, migrate
    from dsm_core.services.context import SYSTEM, ServiceContext
    from dsm_core.services.users import add_user

    engine = make_engine(f"sqlite:///{directory / 'bench.db'}")
    migrate.upgrade(engine)
    add_user(ServiceContext(engine, SYSTEM), "bench", "admin")
    return engine


def _seed_checks(engine: Any) -> None:
    import sqlalchemy as sa

    from dsm_core.models import ClusterSafetyCheck

    rng = random.Random(14)
    start = NOW - timedelta(days=365)
    rows = []
    for c in range(CLUSTERS):
        for d in range(365):
            at = start + timedelta(days=d, hours=rng.randrange(24))
            rows.append({"id": uuid.uuid4(), "cluster_id": f"cluster-{c:03d}", "total_hosts": 8, "healthy_hosts": 8,
                         "min_required_hosts": 2, "safe_to_proceed": rng.random() > 0.03, "check_timestamp": at,
                         "created_at": at, "is_scheduled": True, "status_changed": False})
    with engine.begin() as conn:
        for i in range(0, len(rows), 20_000):
            conn.execute(sa.insert(ClusterSafetyCheck.__table__), rows[i:i + 20_000])


def _render(month: Any) -> int:
    """The grid drawn at 160x48 (the grid's area: 154 x 44) into ANSI text, as the terminal receives it."""
    import io

    from rich.console import Console

    from dsm_tui.widgets.month import render_month

    text = render_month(date(month.year, month.month, 26), date(month.year, month.month, 26), month, 154, 44)
    out = io.StringIO()
    Console(width=160, file=out, force_terminal=True, color_system="truecolor").print(text)
    return len(out.getvalue())


def _naive_month(engine: Any) -> int:
    """One query per cluster for its checks of the month, then the same daily rule."""
    from sqlmodel import Session, select

    from dsm_core.models import ClusterSafetyCheck
    from dsm_core.scheduling import CheckPoint, day_status

    first = datetime(2026, 11, 1, tzinfo=UTC)
    last = datetime(2026, 12, 1, tzinfo=UTC)
    by_day: dict[date, list[CheckPoint]] = {}
    with Session(engine) as s:
        for c in range(CLUSTERS):
            for check in s.exec(select(ClusterSafetyCheck).where(ClusterSafetyCheck.cluster_id == f"cluster-{c:03d}"
                                                                 )).all():
                at = check.check_timestamp.replace(tzinfo=UTC)
                if first <= at < last:
                    by_day.setdefault(at.date(), []).append(CheckPoint(check.cluster_id, at, check.safe_to_proceed))
    return len({d: day_status(p) for d, p in by_day.items()})


def bench_calendar() -> None:
    from dsm_tui.data import load_calendar

    with tempfile.TemporaryDirectory(prefix="dsm-bench-cal-") as tmp:
        engine = _engine(Path(tmp))
        _seed_checks(engine)
        times = []
        for _ in range(7):
            started = time.perf_counter()
            month = load_calendar(engine, 2026, 11, "UTC")
            _render(month)
            times.append(time.perf_counter() - started)
        ms = statistics.median(times) * 1000
        started = time.perf_counter()
        _naive_month(engine)
        naive = (time.perf_counter() - started) * 1000
        engine.dispose()
    days = len(month.statuses)
    print(f"calendar month, a year of daily checks for {CLUSTERS} clusters ({CLUSTERS * 365:,} rows): read + draw "
          f"{ms:.0f} ms median of 7 (target <= 100 ms) {'ok' if ms <= 100 else 'MISSED'}; {days} days, "
          f"{len(month.trends)} cluster trends")
    print(f"  baseline, one query per cluster: {naive:.0f} ms -> {naive / ms:.0f}x faster")


def _seed_windows(engine: Any, n: int) -> None:
    import sqlalchemy as sa

    from dsm_core.models import MaintenanceWindow

    rng = random.Random(n)
    rows = []
    for i in range(n):
        start = NOW + timedelta(hours=1 + rng.randrange(24 * 365))
        running = i % 200 == 0
        rows.append({
            "id": uuid.uuid4(), "title": f"window {i}", "maintenance_type": "patch", "timezone": "Europe/Berlin",
            "planned_start": NOW - timedelta(hours=1) if running else start,
            "planned_end": NOW + timedelta(hours=3) if running else start + timedelta(hours=4),
            "status": "in_progress" if running else "planned", "phase": "hold" if running else None,
            "server_ids": [], "cluster_ids": [f"cluster-{i % CLUSTERS:03d}"], "server_group_ids": [], "job_ids": [],
            "requires_approval": i % 3 == 0, "four_eyes": True, "auto_execute": True, "details": {},
            "credential_set_ids": [], "recurrence_enabled": i % 5 == 0,
            "recurrence_type": "recurring" if i % 5 == 0 else "one_time",
            "recurrence_pattern": "30 2 * * 0" if i % 5 == 0 else None, "notify_before_hours": 24,
            "notification_sent": False, "created_at": NOW, "updated_at": NOW,
        })
    with engine.begin() as conn:
        conn.execute(sa.insert(MaintenanceWindow.__table__), rows)


def _tick_ms(n: int) -> tuple[float, Any]:
    from dsm_worker.scheduler import Scheduler

    with tempfile.TemporaryDirectory(prefix="dsm-bench-tick-") as tmp:
        engine = _engine(Path(tmp))
        _seed_windows(engine, n)
        scheduler = Scheduler(engine)
        scheduler.tick(NOW)  # the first tick sets its cursors and runs retention once
        times = []
        report = None
        for k in range(1, 8):
            started = time.perf_counter()
            report = scheduler.tick(NOW + timedelta(seconds=10 * k))
            times.append(time.perf_counter() - started)
        engine.dispose()
    return statistics.median(times) * 1000, report


def bench_tick() -> None:
    base, _ = _tick_ms(100)
    ms, report = _tick_ms(10_000)
    print(f"scheduler tick with 10,000 windows: {ms:.1f} ms median of 7 (target <= 200 ms) "
          f"{'ok' if ms <= 200 else 'MISSED'}; errors {len(report.errors) if report else '?'}")
    print(f"  baseline, the same tick with 100 windows: {base:.1f} ms -> 100x the windows cost {ms / base:.2f}x")


def main() -> None:
    bench_calendar()
    bench_tick()


if __name__ == "__main__":
    main()
