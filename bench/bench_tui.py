"""Console benchmark: 10,000 and 50,000 servers — first paint, filter keystroke, memory.

Each size runs in a child process of its own (so its peak RSS is its own), on a seeded SQLite
database, with the real app headless at 160x48. "First paint" is from starting the app to the first
frame that draws a server row; a "keystroke" is from pressing a key in the `/` filter to the
table having re-filtered and repainted. The baseline, in the same run: Textual's DataTable showing
the same 10,000 rows (what the virtual table replaces).

Targets (issue 5): 10k first paint ≤ 300 ms, keystroke ≤ 50 ms, RSS ≤ 250 MB; 50k first paint ≤ 1 s.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (160, 48)


def _database(n: int, directory: Path) -> Any:
    from dsm_core.db import make_engine, migrate
    from dsm_core.services.context import SYSTEM, ServiceContext
    from dsm_core.services.users import add_user
    from tests.tui.seed import seed

    engine = make_engine(f"sqlite:///{directory / 'bench.db'}")
    migrate.upgrade(engine)
    add_user(ServiceContext(engine, SYSTEM), "bench", "admin")
    seed(engine, n, activity=0)
    return engine


def _count(app: Any, which: str = "rows") -> int:
    """Rows in the current view's table (0 before the view is up)."""
    table = getattr(app.screen, "table", None)
    return len(getattr(table, which)) if table is not None else 0


async def _console(engine: Any, n: int) -> dict[str, Any]:
    from dsm_core.services.context import actor_for
    from dsm_tui.app import DsmApp
    from dsm_tui.widgets.table import VirtualTable
    from tests.tui.seed import NOW

    painted: dict[str, float] = {}
    original = VirtualTable.render_line

    def render_line(self: VirtualTable[Any], y: int) -> Any:
        strip = original(self, y)
        if y >= 1 and self.shown:
            painted["at"] = time.perf_counter()
        return strip

    setattr(VirtualTable, "render_line", render_line)  # noqa: B010 - instrument the paint, this run only
    app = DsmApp(engine, actor_for(engine, "bench"), start_view="servers", clock=lambda: NOW, poll_seconds=3600)
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        while "at" not in painted or _count(app) < n:
            await asyncio.sleep(0.001)
        first_paint = painted["at"] - started
        await pilot.pause(0.3)
        await pilot.press("slash")
        timings = []
        for ch in "esx-0123":
            painted.pop("at", None)
            t0 = time.perf_counter()
            await pilot.press(ch)
            while "at" not in painted:
                await asyncio.sleep(0.0005)
            timings.append(painted["at"] - t0)
        shown = _count(app, "shown")
        # Backspacing to an empty filter: each key brings rows back, the last one all of them.
        widening = []
        for _ in "esx-0123":
            painted.pop("at", None)
            t0 = time.perf_counter()
            await pilot.press("backspace")
            while "at" not in painted:
                await asyncio.sleep(0.0005)
            widening.append(painted["at"] - t0)
    setattr(VirtualTable, "render_line", original)  # noqa: B010
    return {"first_paint_s": first_paint, "keystroke_s": timings, "shown_after_filter": shown,
            "widening_s": widening}


async def _datatable_baseline(engine: Any) -> float:
    """Textual's DataTable with the same rows and columns, loaded the usual way (add_rows)."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from dsm_tui import data

    class Baseline(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

    app = Baseline()
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        rows = await asyncio.to_thread(data.load_servers, engine)
        table = app.query_one(DataTable)
        table.add_columns("NAME", "ADDRESS", "HEALTH", "POWER", "TAG", "MODEL", "CONN", "IDRAC FW", "BIOS", "GROUP")
        table.add_rows([(r.name, r.address, r.health, r.power, r.service_tag, r.model, r.connection, r.idrac_fw,
                         r.bios, r.groups) for r in rows])
        await pilot.pause()
        return time.perf_counter() - started


def _activity(rows: int, directory: Path) -> dict[str, Any]:
    """The activity view over a large log: open time, and a deep page by keyset vs by OFFSET."""
    import uuid
    from datetime import timedelta

    import sqlalchemy as sa

    from dsm_core.models import IdracCommand
    from dsm_tui import data
    from tests.tui.seed import NOW

    engine = _database(40, directory)
    t0 = time.perf_counter()
    batch = 50_000
    with engine.begin() as conn:
        for start in range(0, rows, batch):
            conn.execute(sa.insert(IdracCommand.__table__), [{
                "id": uuid.UUID(int=(13 << 96) | k), "timestamp": NOW - timedelta(milliseconds=rows - k),
                "created_at": NOW, "command_type": "GET", "operation_type": "idrac_api",
                "endpoint": "/redfish/v1/Systems/System.Embedded.1", "full_url": "https://10.0.0.1/redfish/v1",
                "status_code": 200, "response_time_ms": 40 + k % 70, "success": k % 97 != 0, "source": "bench"}
                for k in range(start, min(rows, start + batch))])
    seeded = time.perf_counter() - t0

    async def open_view() -> float:
        from dsm_core.services.context import actor_for
        from dsm_tui.app import DsmApp

        app = DsmApp(engine, actor_for(engine, "bench"), start_view="activity", clock=lambda: NOW,
                     poll_seconds=3600)
        started = time.perf_counter()
        async with app.run_test(size=SIZE) as pilot:
            while not _count(app):
                await asyncio.sleep(0.001)
            await pilot.pause()
            return time.perf_counter() - started

    opened = asyncio.run(open_view())
    depth = rows // 2
    # Where the cursor is after paging down half the log: the keyset read starts from the row there.
    with engine.connect() as conn:
        ts, ident = conn.execute(sa.text(
            f"SELECT timestamp, id FROM idrac_commands ORDER BY timestamp DESC, id DESC LIMIT 1 OFFSET {depth}"
        )).one()
    from dsm_core.timeutil import as_utc

    at = (as_utc(datetime.fromisoformat(ts) if isinstance(ts, str) else ts), uuid.UUID(hex=ident))
    t0 = time.perf_counter()
    data.activity_page(engine, data.ActivityFilter(), before=at, limit=200)
    keyset = time.perf_counter() - t0
    t0 = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(sa.text(
            f"SELECT * FROM idrac_commands ORDER BY timestamp DESC, id DESC LIMIT 200 OFFSET {depth}")).all()
    offset = time.perf_counter() - t0
    engine.dispose()
    return {"rows": rows, "seed_s": seeded, "open_s": opened, "keyset_page_s": keyset, "offset_page_s": offset}


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not getrusage's ru_maxrss: that one keeps the high-water
    mark of the parent it was forked from (make bench runs the 1,000-iDRAC simulator first)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(n: int, baseline: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="dsm-bench-tui-") as tmp:
        t0 = time.perf_counter()
        engine = _database(n, Path(tmp))
        seeded = time.perf_counter() - t0
        result = asyncio.run(_console(engine, n))
        result["rss_mb"] = _peak_rss_mb()
        result["seed_s"] = seeded
        if baseline:
            result["datatable_s"] = asyncio.run(_datatable_baseline(engine))
        engine.dispose()
    print(json.dumps(result))


def activity_child(rows: int) -> None:
    with tempfile.TemporaryDirectory(prefix="dsm-bench-activity-") as tmp:
        print(json.dumps(_activity(rows, Path(tmp))))


def _run(n: int, baseline: bool, mode: str = "--child") -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, mode, str(n)] + (["--baseline"] if baseline else []),
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"bench_tui child for {n} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    ten = _run(10_000, baseline=True)
    fifty = _run(50_000, baseline=False)
    for n, r in ((10_000, ten), (50_000, fifty)):
        keys, wide = r["keystroke_s"], r["widening_s"]
        print(f"{n:>6,} servers: first paint {r['first_paint_s'] * 1000:.0f} ms; filter keystroke (typing "
              f"'esx-0123', {r['shown_after_filter']} rows left) median {statistics.median(keys) * 1000:.1f} ms, "
              f"max {max(keys) * 1000:.1f} ms; backspacing to all rows median {statistics.median(wide) * 1000:.1f} "
              f"ms, max {max(wide) * 1000:.1f} ms; peak RSS {r['rss_mb']:.0f} MB (seeded in {r['seed_s']:.1f} s)")
    base = ten["datatable_s"]
    print(f"baseline: Textual DataTable with the same 10,000 rows: {base * 1000:.0f} ms to first paint → the virtual "
          f"table is {base / ten['first_paint_s']:.1f}x faster")
    act = _run(1_000_000, baseline=False, mode="--activity")
    print(f"activity log of {act['rows']:,} calls: the view opens in {act['open_s'] * 1000:.0f} ms; a page half-way "
          f"down by keyset {act['keyset_page_s'] * 1000:.1f} ms vs OFFSET {act['offset_page_s'] * 1000:.0f} ms "
          f"({act['offset_page_s'] / act['keyset_page_s']:.0f}x) (seeded in {act['seed_s']:.0f} s)")
    every_key = statistics.median(ten["keystroke_s"] + ten["widening_s"])
    print(f"targets: 10k first paint ≤ 300 ms {_verdict(ten['first_paint_s'] <= 0.3)}; keystroke ≤ 50 ms "
          f"(median of every keystroke, typing and backspacing: {every_key * 1000:.1f} ms) "
          f"{_verdict(every_key <= 0.05)}; RSS ≤ 250 MB {_verdict(ten['rss_mb'] <= 250)}; "
          f"50k first paint ≤ 1 s {_verdict(fifty['first_paint_s'] <= 1.0)}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), "--baseline" in sys.argv)
    elif len(sys.argv) > 2 and sys.argv[1] == "--activity":
        activity_child(int(sys.argv[2]))
    else:
        main()
