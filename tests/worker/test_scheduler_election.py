"""Two real `dsm worker` processes on one database: only one runs the scheduler; kill -9 it and the other takes
over within two poll intervals. PostgreSQL (an advisory lock on the holder's own session) and SQLite (flock)."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dsm_worker.scheduler import ADVISORY_KEY, holder_view
from tests.conftest import Templates
from tests.worker.conftest import make_install

POLL = 1.0


def _holder(engine: Any, deadline: float, unlike: int | None = None) -> dict[str, Any]:
    while time.monotonic() < deadline:
        view = holder_view(engine)
        if view.get("pid") and view["pid"] != unlike:
            return view
        time.sleep(0.05)
    raise AssertionError(f"no scheduler holder{'' if unlike is None else ' other than ' + str(unlike)} in time")


def _advisory_holders(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
            "((classid::bigint << 32) | objid::bigint) = :k"), {"k": ADVISORY_KEY}).scalar_one())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_workers_never_both_run_the_scheduler_and_a_killed_holder_is_replaced_within_two_polls(
        templates: Templates, backend: str, tmp_path: Path) -> None:
    install = make_install(templates, backend, tmp_path, ["127.0.62.0/30"])
    workers = [install.start_worker("--scheduler-poll", str(POLL)) for _ in range(2)]
    try:
        first = _holder(install.engine, time.monotonic() + 60)
        assert first["pid"] in {w.pid for w in workers}
        # for a while: the same holder, ticking; on PostgreSQL exactly one session holds the lock
        seen_pids = set()
        end = time.monotonic() + 4 * POLL
        while time.monotonic() < end:
            seen_pids.add(holder_view(install.engine)["pid"])
            if backend == "postgresql":
                assert _advisory_holders(install.engine) == 1
            time.sleep(0.1)
        assert seen_pids == {first["pid"]}
        logs = [p.read_text() for p in sorted(install.home.home.glob("worker-*.log"))]
        assert sum("runs the scheduler" in text for text in logs) == 1, logs

        killed_at = time.time()
        os.kill(first["pid"], signal.SIGKILL)
        second = _holder(install.engine, time.monotonic() + 30, unlike=first["pid"])
        took = datetime.fromisoformat(second["since"]).timestamp() - killed_at
        assert second["pid"] in {w.pid for w in workers} and second["worker"] != first["worker"]
        print(f"{backend}: the standby took over {took:.2f} s after the kill (poll {POLL} s)")
        assert took <= 2 * POLL, f"took {took:.2f} s to take over (poll {POLL} s)"
        if backend == "postgresql":
            assert _advisory_holders(install.engine) == 1
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
        for w in workers:
            w.wait(60)
