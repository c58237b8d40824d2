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


@pytest.mark.parametrize("mode", ["no_color", "ansi"])
def test_colour_modes_with_a_critical_server_under_the_cursor(
        snap_compare: Any, tui_engine: Engine, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """NO_COLOR: the cursor row is reverse video and Critical is bold reverse (never a dark grey); ansi theme:
    the cursor row is reverse video, so green OK/On stay readable on it."""
    if mode == "no_color":
        monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tui_engine, "victor", start_view="servers", poll_seconds=3600, ansi=mode == "ansi")

    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: len(app.screen.table.rows) == 40, what="servers")
        table = app.screen.table
        table.move_to(sid(15))  # esx-00015, Critical
        await _settle(pilot)
        assert table.current.health == "Critical"
        line = table.render_line(table.cursor - int(table.scroll_y) + 1)
        assert all(seg.style is not None and seg.style.reverse for seg in line if seg.text.strip()), \
            "every cell of the cursor row is reverse video"
        health = next(seg for seg in line if seg.text.strip() == "Critical")
        assert health.style is not None and health.style.bold
        if mode == "no_color":
            other = table.render_line(table.cursor - int(table.scroll_y) + 2)  # an OK row below the cursor
            critical_off_cursor = [seg for seg in other if seg.text.strip() in ("Critical",)]
            assert all(seg.style.reverse and seg.style.bold for seg in critical_off_cursor)

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


@pytest.mark.parametrize("mode", ["colour", "no_color"])
@pytest.mark.parametrize("size", SIZES)
def test_calendar(snap_compare: Any, tui_engine: Engine, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int],
                  mode: str) -> None:
    """The month with its safety glyphs (✔ ! ✖ ·), windows per day (+N when they do not fit), the ⚑ of a window
    awaiting approval and the header badge; under NO_COLOR the glyphs and the reversed ▸ day still say it all."""
    from tests.tui.seed import NOW
    from tests.vcenter_seed import seed_calendar

    if mode == "no_color":
        monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("DSM_TZ", raising=False)
    monkeypatch.delenv("TZ", raising=False)
    seed_calendar(tui_engine, NOW)
    app = make_app(tui_engine, "oscar", start_view="calendar", poll_seconds=3600)

    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: app.screen.month is not None and "TO APPROVE" in screen_text(app),
                       what="the month and the badge")
        await pilot.press("right", "right")  # the 28th: the window awaiting approval
        await _settle(pilot, "calendar.approve")

    assert snap_compare(app, terminal_size=size, run_before=ready)
