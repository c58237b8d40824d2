"""The console against a real `dsm worker` process and the simulated fleet: nothing mocked.

A job created outside the console (as another operator would, with the CLI) appears on the Jobs
screen within a second of its commit, runs in the worker, and is shown completed — no key pressed.
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsm_core.services import jobs as job_service
from dsm_core.services import servers as server_service
from dsm_core.services.context import ServiceContext, actor_for
from dsm_sim.fleet import FleetThread
from dsm_tui.app import DsmApp
from tests.conftest import Templates
from tests.tui.conftest import screen_text, wait_for
from tests.worker.conftest import Install, block_of, make_install

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def live(templates: Templates, backend: str, tmp_path: Path, fleet: FleetThread) -> Iterator[Install]:
    install = make_install(templates, backend, tmp_path, [block_of(fleet)])
    worker = install.start_worker("--concurrency", "2")
    yield install
    worker.terminate()
    assert worker.wait(30) == 0
    install.engine.dispose()


async def test_a_job_run_by_a_real_worker_appears_and_completes_without_a_key(
    live: Install, fleet: FleetThread
) -> None:
    me = pwd.getpwuid(os.geteuid()).pw_name
    ctx = ServiceContext(live.engine, actor_for(live.engine, me))
    endpoint = fleet.endpoints[0]
    server = server_service.add_server(ctx, endpoint)
    app = DsmApp(live.engine, ctx.actor, start_view="jobs", database_label=live.url)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: "worker up" in screen_text(app).splitlines()[0], timeout=20, what="worker up")
        table = app.screen.table
        job = job_service.create_job(ctx, "refresh_server_info", servers=[server["id"]])
        committed = time.monotonic()
        await wait_for(pilot, lambda: any(str(r.id) == job["id"] for r in table.rows), timeout=5,
                       what="the new job on screen")
        seen_after = time.monotonic() - committed
        assert seen_after <= 1.0, f"the job took {seen_after:.2f} s to appear"
        row = await wait_for(
            pilot, lambda: (r := next(r for r in table.rows if str(r.id) == job["id"])).status == "completed" and r,
            timeout=90, what="the job to complete on screen")
        assert row.progress == 100 and row.job_type == "refresh_server_info"
        assert "completed" in screen_text(app)
        # And the Servers view shows what the worker read.
        app.goto("servers")
        sim = next(s for s in fleet.servers() if s["endpoint"] == endpoint)
        await wait_for(pilot, lambda: sim["service_tag"] in screen_text(app), timeout=10, what="the refreshed row")
