"""The console's read models on SQLite and PostgreSQL: keyset paging, incremental reads, pulse."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.models import IdracCommand, Server
from dsm_tui import data
from tests.tui.seed import NOW, seed, sid


def test_activity_keyset_pages_cover_every_row_once_in_order(engine: Engine) -> None:
    seed(engine, 40, activity=450)
    # Ties on the timestamp: the id breaks them, so no row is skipped or repeated at a page edge.
    with engine.begin() as conn:
        conn.execute(sa.insert(IdracCommand.__table__), [{
            "id": uuid.UUID(int=(11 << 96) | k), "timestamp": NOW - timedelta(seconds=100), "created_at": NOW,
            "command_type": "GET", "operation_type": "idrac_api", "endpoint": "/redfish/v1", "full_url": "x",
            "success": True} for k in range(50)])
    flt = data.ActivityFilter()
    pages = [data.activity_page(engine, flt, limit=64)]
    while len(pages[-1]) == 64:
        last = pages[-1][-1]
        pages.append(data.activity_page(engine, flt, before=(last.timestamp, last.id), limit=64))
    rows = [r for page in pages for r in page]
    assert len(rows) == 500 and len({r.id for r in rows}) == 500
    keys = [(r.timestamp, r.id) for r in rows]
    assert keys == sorted(keys, reverse=True)
    # The live tail: only what is newer than the newest row shown.
    newest = rows[0]
    with engine.begin() as conn:
        conn.execute(sa.insert(IdracCommand.__table__), [{
            "id": uuid.UUID(int=(12 << 96) | 1), "timestamp": NOW + timedelta(seconds=5), "created_at": NOW,
            "command_type": "PATCH", "operation_type": "idrac_api", "endpoint": "/redfish/v1/x", "full_url": "x",
            "success": False, "status_code": 400, "response_time_ms": 2500}])
    fresh = data.activity_page(engine, flt, after=(newest.timestamp, newest.id))
    assert [r.method for r in fresh] == ["PATCH"]
    # Filters run in SQL.
    errors = data.activity_page(engine, data.ActivityFilter(errors_only=True), limit=1000)
    assert errors and all(not r.success for r in errors)
    slow = data.activity_page(engine, data.ActivityFilter(slow_ms=1000), limit=1000)
    assert slow and all((r.latency_ms or 0) >= 1000 for r in slow)
    one = data.activity_page(engine, data.ActivityFilter(server="esx-00007"), limit=1000)
    assert one and {r.server for r in one} == {"esx-00007"}
    by_job = data.activity_page(engine, data.ActivityFilter(job=sid(0, 7).hex[-8:]), limit=1000)
    assert len(by_job) == 450


def test_incremental_server_reads_and_job_labels(engine: Engine) -> None:
    seed(engine, 40)
    rows = data.load_servers(engine)
    assert len(rows) == 40
    assert [r.ip_key for r in rows] == sorted(r.ip_key for r in rows), "sorted by address, numerically"
    newest = data.newest_update(rows)
    assert newest == NOW
    with engine.begin() as conn:
        conn.execute(sa.update(Server.__table__).where(Server.__table__.c.id == sid(5))
                     .values(overall_health="Critical", updated_at=NOW + timedelta(seconds=1)))
    changed = data.load_servers(engine, since=newest)
    assert {r.id for r in changed} >= {sid(5)} and len(changed) <= 2
    assert next(r for r in changed if r.id == sid(5)).health == "Critical"
    labels = data.server_jobs(engine, NOW)
    assert labels[sid(5)].startswith("⟳ power action")  # its running task
    assert labels[sid(6)] == "… fetch event logs"  # a queued job: no tasks yet, from its scope


def test_pulse_counts(engine: Engine) -> None:
    seed(engine, 40)
    p = data.pulse(engine, NOW)
    assert p.servers == 40 and p.by_health == {"OK": 36, "Warning": 2, "Critical": 2}
    assert p.jobs_running == 1 and p.jobs_pending == 1 and p.jobs_failed_24h == 1
    assert sum(p.completed_per_hour) == p.jobs_completed_24h
    assert p.workers.state == "up"
    assert data.pulse(engine, NOW + timedelta(minutes=2)).workers.state == "down"
