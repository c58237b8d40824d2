"""The :calendar view driven by Pilot: days marked by safety with a glyph, windows per day with "+N", the day
opened, a window approved with keys alone (the cluster's name typed), refused to a viewer and to its creator
(four-eyes), rejected with a reason, planned with `n`."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from dsm_core.db import read_scope
from dsm_core.models import MaintenanceWindow
from dsm_tui.modals.confirm import TypedConfirmModal
from dsm_tui.modals.form import FormModal
from tests.tui.conftest import footer_actions, make_app, notices, screen_text, wait_for
from tests.tui.seed import NOW
from tests.vcenter_seed import seed_calendar

pytestmark = pytest.mark.timeout(120)


def _window(engine: Engine, wid: str) -> MaintenanceWindow:
    with read_scope(engine) as s:
        row = s.get(MaintenanceWindow, uuid.UUID(wid))
        assert row is not None
        return row


async def _calendar(pilot: Any) -> Any:
    app = pilot.app
    await wait_for(pilot, lambda: app.current_view == "calendar" and app.screen.month is not None,
                   what="the calendar")
    # apply() updates every widget at once, but the compositor lays them out on a later refresh; under load
    # (two xdist workers) the screen was read before the sidebar was drawn
    return await wait_for(pilot, lambda: "Optimal windows" in screen_text(app), what="the calendar drawn")


async def _to_day(pilot: Any, day: int) -> None:
    screen = pilot.app.screen
    while screen.cursor.day < day:
        await pilot.press("right")
    while screen.cursor.day > day:
        await pilot.press("left")


async def test_the_month_shows_each_days_safety_by_glyph_and_its_windows(tui_engine: Engine) -> None:
    seed_calendar(tui_engine, NOW)
    app = make_app(tui_engine, "oscar", start_view="calendar")
    async with app.run_test(size=(160, 48)) as pilot:
        await _calendar(pilot)
        month = app.screen.month
        assert month.statuses[NOW.date().replace(day=10)] == "unsafe"
        assert month.statuses[NOW.date().replace(day=12)] == "warning"  # unsafe in the morning, safe at night
        assert month.statuses[NOW.date().replace(day=11)] == "safe"
        assert NOW.date().replace(day=27) not in month.statuses  # no check: unchecked
        text = screen_text(app)
        assert "November 2026" in text and "10 ✖" in text and "12 !" in text and "11 ✔" in text and "27 ·" in text
        assert "⚑ BIOS 2.19" in text and "patch rack 4" in text  # a cell lists its windows' titles
        assert "⚑ 1 TO APPROVE" in text  # the header badge: oscar may approve carol's window
        assert "Safety trend" in text and "Optimal windows" in text
        await _to_day(pilot, 20)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "patch rack 4" in screen_text(app), what="the day's windows")
        assert "patch rack 1" in screen_text(app)
        await pilot.press("escape")  # the day closed
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: "+3" in screen_text(app), what="+N in a small cell")
        assert "patch rac" in screen_text(app) and "patch rack 4" not in screen_text(app)
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: app.screen.month.month == 12, what="December")
        assert "December 2026" in screen_text(app)
        await pilot.press("t")
        await wait_for(pilot, lambda: app.screen.month.month == 11, what="back to today")
        assert app.screen.cursor == NOW.date()


async def test_an_operator_approves_a_window_from_the_calendar_with_keys_alone(tui_engine: Engine) -> None:
    ids = seed_calendar(tui_engine, NOW)
    app = make_app(tui_engine, "oscar", start_view="calendar")
    async with app.run_test(size=(160, 48)) as pilot:
        await _calendar(pilot)
        await _to_day(pilot, 28)
        await wait_for(pilot, lambda: "calendar.approve" in str(footer_actions(app, enabled_only=True)),
                       what="approve offered")
        await pilot.press("a")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmModal) and app.screen,
                                what="the approval dialog")
        shown = "\n".join(dialog.targets)
        assert "rolling_cluster_update" in shown and "cluster prod-0" in shown
        assert "plan of prod-0" in shown and "esx-0-0" in shown and "margin" in shown  # the plan
        assert "cluster prod-0: safe" in shown  # the latest verdict
        await pilot.press(*"prod-1", "enter")  # the wrong name: nothing happens
        assert isinstance(app.screen, TypedConfirmModal) and _window(tui_engine, ids["awaiting"]).approved_at is None
        await pilot.press(*["backspace"] * 6, *"prod-0", "enter")
        await wait_for(pilot, lambda: _window(tui_engine, ids["awaiting"]).approved_at is not None,
                       what="the approval stored")
        row = _window(tui_engine, ids["awaiting"])
        assert row.approval is not None and row.approval["by"] == "oscar"
        assert row.approval["plans"][0]["hosts"] == ["esx-0-0", "esx-0-1", "esx-0-2", "esx-0-3"]
        await wait_for(pilot, lambda: "⚑ BIOS 2.19" not in screen_text(app), what="the flag gone")


async def test_a_viewer_cannot_approve_and_the_creator_is_refused_by_the_four_eyes_rule(tui_engine: Engine) -> None:
    ids = seed_calendar(tui_engine, NOW)
    viewer = make_app(tui_engine, "victor", start_view="calendar")
    async with viewer.run_test(size=(160, 48)) as pilot:
        await _calendar(pilot)
        await _to_day(pilot, 28)
        assert not any(a.startswith("act('calendar.approve") for a in footer_actions(viewer))
        await pilot.press("a", "n", "r")
        await pilot.pause(0.3)
        assert not isinstance(viewer.screen, (TypedConfirmModal, FormModal))
        assert "TO APPROVE" not in screen_text(viewer)
    creator = make_app(tui_engine, "carol", start_view="calendar")
    async with creator.run_test(size=(160, 48)) as pilot:
        await _calendar(pilot)
        await _to_day(pilot, 28)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(creator.screen, TypedConfirmModal), what="the dialog")
        await pilot.press(*"prod-0", "enter")
        await wait_for(pilot, lambda: any("four-eyes rule" in n for n in notices(creator)), what="the refusal")
    assert _window(tui_engine, ids["awaiting"]).approved_at is None


async def test_reject_with_a_reason_and_plan_a_window_with_n(tui_engine: Engine) -> None:
    ids = seed_calendar(tui_engine, NOW)
    app = make_app(tui_engine, "oscar", start_view="calendar")
    async with app.run_test(size=(160, 48)) as pilot:
        await _calendar(pilot)
        await _to_day(pilot, 28)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, FormModal), what="the reason form")
        await pilot.press(*"change freeze until January", "enter")
        await wait_for(pilot, lambda: _window(tui_engine, ids["awaiting"]).status == "rejected", what="rejected")
        assert _window(tui_engine, ids["awaiting"]).rejection_reason == "change freeze until January"

        await _to_day(pilot, 29)
        await pilot.press("n")
        form = await wait_for(pilot, lambda: isinstance(app.screen, FormModal) and app.screen, what="the form")
        form.query_one("#f-title").value = "weekly health"
        form.query_one("#f-type").value = "health_check"
        form.query_one("#f-targets").value = "cluster:prod-1"
        form.query_one("#f-cron").value = "30 2 * * 0"
        form.query_one("#f-approval").value = "no"
        form.query_one("#f-details").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormModal), what="the window created")
    with read_scope(tui_engine) as s:
        from sqlmodel import select

        made = s.exec(select(MaintenanceWindow).where(MaintenanceWindow.title == "weekly health")).one()
    assert made.recurrence_pattern == "30 2 * * 0" and made.cluster_ids == ["prod-1"]
    assert made.planned_start.strftime("%Y-%m-%d %H:%M") == "2026-11-29 02:30"  # the first Sunday 02:30 (UTC)
