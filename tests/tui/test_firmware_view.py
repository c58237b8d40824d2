"""The :firmware view and the firmware parts of other views, driven by Pilot over a seeded SQLite database."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.db import read_scope
from dsm_core.models import Job
from dsm_tui.modals.choice import ChoiceModal
from dsm_tui.modals.confirm import TypedConfirmModal
from dsm_tui.modals.text import TextModal
from tests.tui.conftest import footer_actions, make_app, screen_text, wait_for
from tests.tui.seed import seed_firmware, seed_workflow_job, sid

pytestmark = pytest.mark.timeout(120)


def _jobs(engine: Engine) -> list[Job]:
    with read_scope(engine) as s:
        return list(s.execute(sa.select(Job).order_by(sa.desc(Job.created_at))).scalars())


async def _firmware_loaded(pilot: Any, count: int = 40) -> Any:
    app = pilot.app
    return await wait_for(pilot, lambda: app.current_view == "firmware" and len(app.screen.table.rows) == count,
                          what="the firmware view to load")


async def test_fleet_compliance_filter_drill_down_and_update(tui_engine: Engine) -> None:
    seed_firmware(tui_engine, 40)
    app = make_app(tui_engine, "oscar")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("colon", *"firmware", "enter")
        await _firmware_loaded(pilot)
        table = app.screen.table
        # most critical pending first: an Urgent row is on top
        assert table.shown[0].top_criticality == "Urgent" and table.shown[0].upgrade > 0
        assert "MOST CRITICAL PENDING" in screen_text(app)
        # filter by state, criticality, model, component (the components arrive with the second read)
        app.screen.set_filter("state:upgrade")
        await pilot.pause(0.1)
        assert len(table.shown) == 30 and all(r.upgrade for r in table.shown)  # i % 4 != 0
        app.screen.set_filter("state:downgrade model:R750")
        await pilot.pause(0.1)
        assert table.shown and all(r.downgrade and "R750" in r.model for r in table.shown)
        await wait_for(pilot, lambda: all(r.components for r in app.screen.table.rows), what="component names")
        app.screen.set_filter("component:upgrade:system")  # CPLD pending: never (only 3 upgrades at most)
        await pilot.pause(0.1)
        assert len(app.screen.table.shown) == 0
        app.screen.set_filter("component:upgrade:perc")  # the third component: i % 4 == 3
        await pilot.pause(0.1)
        assert len(app.screen.table.shown) == 10
        app.screen.set_filter("crit:urgent")
        await pilot.pause(0.1)
        assert all(r.top_criticality == "Urgent" for r in app.screen.table.shown)
        app.screen.set_filter("")
        await pilot.pause(0.1)
        # drill down: the server's components, pending upgrades first
        app.screen.table.move_to(f"{sid(3)}/drm")
        await pilot.press("enter")
        modal = await wait_for(pilot, lambda: isinstance(app.screen, TextModal) and app.screen, what="components")
        text = screen_text(app)
        assert "esx-00003" in text and "1.1.0" in text and "not in catalog" in text
        await pilot.press("escape")
        assert modal is not app.screen
        # mark two servers and update them: choose the method, then type the count
        before = len(_jobs(tui_engine))
        app.screen.table.move_to(f"{sid(1)}/drm")
        await pilot.press("space")
        app.screen.table.move_to(f"{sid(2)}/drm")
        await pilot.press("space", "u")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceModal), what="the method choice")
        await pilot.press("down", "enter")  # staged for the next reboot
        typed = await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmModal) and app.screen,
                               what="the typed confirmation")
        assert typed.expected == "2" and any("esx-00001" in t for t in typed.targets)
        await pilot.press("2", "enter")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 1, what="the firmware job")
        job = _jobs(tui_engine)[0]
        assert job.job_type == "firmware_update"
        assert job.details is not None and job.details["repository"] == "drm" and job.details["reboot"] == "none"
        assert sorted(job.target_scope["servers"]) == sorted(str(sid(i)) for i in (1, 2))


async def test_a_viewer_sees_compliance_but_no_update(tui_engine: Engine) -> None:
    seed_firmware(tui_engine, 40)
    app = make_app(tui_engine, "victor", start_view="firmware")
    async with app.run_test(size=(160, 40)) as pilot:
        await _firmware_loaded(pilot)
        await pilot.pause(0.3)
        assert "act('firmware.update')" not in footer_actions(app)
        before = len(_jobs(tui_engine))
        await pilot.press("space", "u")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ChoiceModal | TypedConfirmModal)
        assert len(_jobs(tui_engine)) == before


async def test_the_server_detail_shows_firmware_against_the_catalog(tui_engine: Engine) -> None:
    seed_firmware(tui_engine, 40)
    with tui_engine.begin() as conn:  # server 0's seeded inventory ids, against the catalog
        conn.execute(sa.text("UPDATE firmware_compliance SET components = :c WHERE server_id = :s"), {
            "s": sid(0).hex, "c": '[{"inventory_id": "Installed-1", "component": "BIOS", "installed": "1.13.2", '
                                  '"available": "1.15.2", "state": "upgrade", "criticality": "Urgent"}]'})
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: len(app.screen.table.rows) == 40, what="servers")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "→ 1.15.2 Urgent" in screen_text(app), what="the pending BIOS upgrade")


async def test_the_job_detail_shows_the_workflow_live(tui_engine: Engine) -> None:
    job_id = seed_workflow_job(tui_engine)
    app = make_app(tui_engine, "oscar", start_view="jobs")
    async with app.run_test(size=(180, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.table.get(job_id) is not None, what="the job")
        app.screen.table.move_to(job_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "JID_724411870233 Running 45% Job in progress." in screen_text(app),
                       what="the Dell job's state in the step line")
        text = screen_text(app)
        assert "✓ 1.plan" in text and "⟳ 3.install" in text
