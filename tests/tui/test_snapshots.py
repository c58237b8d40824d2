"""SVG snapshots of the three screens operators look at most, at 80x24 and 160x48.

Frozen clock (tests.tui.seed.NOW), seeded database with fixed ids, no input focused (so no cursor
blink). A change to these screens shows as an SVG diff; `pytest --snapshot-update` accepts it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from textual.pilot import Pilot

from tests.tui.conftest import footer_actions, make_app, screen_text, wait_for
from tests.tui.seed import sid

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


async def _settle(pilot: Pilot[Any], enabled: str | None = None) -> None:
    """Every read finished and the footer redrawn for the selection (it recomposes asynchronously)."""
    await pilot.app.workers.wait_for_complete()
    if enabled is not None:
        await wait_for(pilot, lambda: f"act('{enabled}')" in footer_actions(pilot.app, enabled_only=True),
                       what=f"{enabled} enabled in the footer")
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES)
def test_pulse(snap_compare: Any, tui_engine: Engine, size: tuple[int, int]) -> None:
    app = make_app(tui_engine, "oscar", poll_seconds=3600)

    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: "health Critical" in screen_text(app) and "worker up" in screen_text(app),
                       what="pulse data")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_servers_with_detail(snap_compare: Any, tui_engine: Engine, size: tuple[int, int]) -> None:
    app = make_app(tui_engine, "oscar", start_view="servers", poll_seconds=3600)

    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: len(app.screen.table.rows) == 40, what="servers")
        await pilot.press("down", "space", "down", "up")  # one mark, cursor back on esx-00001
        app.screen.table.move_to(sid(0))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Identity" in screen_text(app), what="detail")
        await _settle(pilot, "servers.refresh")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_job_detail(snap_compare: Any, tui_engine: Engine, size: tuple[int, int]) -> None:
    app = make_app(tui_engine, "oscar", start_view="jobs", poll_seconds=3600)

    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: len(app.screen.table.rows) > 5, what="jobs")
        app.screen.table.move_to(sid(2, 7))  # the running power action, one task done, one running
        await pilot.press("enter")
        await wait_for(pilot, lambda: "tasks: 2" in screen_text(app), what="job detail")
        await _settle(pilot, "jobs.cancel")

    assert snap_compare(app, terminal_size=size, run_before=ready)
