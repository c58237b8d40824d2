"""The :clusters view, the rolling-update wizard and a rolling update's step timeline, driven by Pilot."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.db import read_scope, session_scope
from dsm_core.models import Job
from dsm_core.services.context import ServiceContext
from dsm_tui.modals.confirm import TypedConfirmModal
from dsm_tui.modals.form import FormModal
from tests.tui.conftest import footer_actions, make_app, screen_text, wait_for
from tests.tui.seed import NOW
from tests.vcenter_seed import seed_console, seed_rolling_job

pytestmark = pytest.mark.timeout(120)
STEPS = ("safety_check", "enter_maintenance_mode", "firmware_update", "reboot_server", "wait_for_online",
         "verify_health", "exit_maintenance_mode", "verify_cluster_health")


def _seed(engine: Engine) -> ServiceContext:
    return seed_console(engine)


def _jobs(engine: Engine, job_type: str) -> list[Job]:
    with read_scope(engine) as s:
        return list(s.execute(sa.select(Job).where(Job.job_type == job_type)).scalars())


async def _clusters(pilot: Any) -> Any:
    app = pilot.app
    await pilot.press("colon", *"clusters", "enter")
    return await wait_for(pilot, lambda: app.current_view == "clusters" and len(app.screen.table.rows) == 2,
                          what="the clusters view")


async def test_clusters_show_settings_hosts_links_and_the_safety_history(tui_engine: Engine) -> None:
    _seed(tui_engine)
    app = make_app(tui_engine, "oscar")
    async with app.run_test(size=(160, 40)) as pilot:
        await _clusters(pilot)
        text = screen_text(app)
        assert "prod-0" in text and "prod-1" in text and "fullyAutomated" in text
        assert "unsafe" in text and "██▁" in text  # the sparkline: safe, safe, unsafe
        table = app.screen.table
        table.move_to(next(r.key for r in table.rows if r.name == "prod-1"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "esx-1-1" in screen_text(app), what="the hosts of prod-1")
        text = screen_text(app)
        assert "disconnected" in text and "host esx-1-1 is disconnected" in text  # the last verdict's reason
        assert "idrac-1-0" in text  # the linked server

        await pilot.press("c")
        await wait_for(pilot, lambda: _jobs(tui_engine, "cluster_safety_check"), what="a safety check job")
        job = _jobs(tui_engine, "cluster_safety_check")[0]
        assert job.target_scope == {"clusters": ["prod-1"]}


async def test_the_wizard_shows_the_plan_and_starts_only_on_the_typed_cluster_name(tui_engine: Engine) -> None:
    _seed(tui_engine)
    app = make_app(tui_engine, "oscar")
    async with app.run_test(size=(160, 44)) as pilot:
        await _clusters(pilot)
        table = app.screen.table
        table.move_to(next(r.key for r in table.rows if r.name == "prod-0"))
        await pilot.press("u")
        form = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, FormModal) else None,
                              what="the wizard's first page")
        form.query_one("#f-source").value = "http://127.0.10.250/BIOS_0T7N6_WN64_1.13.2.EXE"
        form.query_one("#f-min_hosts").value = "1"
        await pilot.press("enter", "enter", "enter")
        modal = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, TypedConfirmModal) else None,
                               what="the plan page")
        plan = "\n".join(modal.targets)  # the plan scrolls inside the dialog
        for host in ("esx-0-0", "esx-0-1", "esx-0-2"):
            assert host in plan
        assert "margin 1" in plan and "cluster's name" in screen_text(app) and "esx-0-0" in screen_text(app)
        await pilot.press(*"prod-1", "enter")  # the wrong name starts nothing
        await pilot.pause(0.3)
        assert _jobs(tui_engine, "rolling_cluster_update") == [] and app.screen is modal
        modal.query_one("#typed").value = ""
        await pilot.press(*"prod-0", "enter")
        await wait_for(pilot, lambda: _jobs(tui_engine, "rolling_cluster_update"), what="the rolling update job")
        job = _jobs(tui_engine, "rolling_cluster_update")[0]
        assert [h["host"] for h in job.details["plan"]["hosts"]] == ["esx-0-0", "esx-0-1", "esx-0-2"]
        assert job.details["min_required_hosts"] == 1


async def test_a_rolling_update_shows_a_live_step_timeline_per_host(tui_engine: Engine) -> None:
    job_id = seed_rolling_job(_seed(tui_engine), NOW)
    app = make_app(tui_engine, "oscar")
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("colon", *"jobs", "enter")
        await wait_for(pilot, lambda: app.current_view == "jobs" and app.screen.table.rows, what="jobs")
        app.screen.table.move_to(job_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "ENTER MM" in screen_text(app), what="the timeline")
        text = screen_text(app)
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if "SAFETY" in line and "ENTER MM" in line)
        first, second, third = (lines[header + k].split() for k in (1, 2, 3))
        assert first[0] == "esx-0-0" and first[1:] == ["✓", "10s"] * 8  # every step done, in 10 s each
        assert second[0] == "esx-0-1" and second[1:7] == ["✓", "40s", "✓", "40s", "⟳", "40s"]
        assert second[7:] == ["·"] * 5  # reboot_server … verify_cluster_health not started
        assert third == ["esx-0-2", *["·"] * 8]
        assert "esx-0-1 firmware_update: BIOS: JID_1 Running 45%" in text  # the Dell job inside firmware_update


async def test_a_failed_rolling_update_can_be_cancelled_from_the_console_to_run_its_clean_up(
        tui_engine: Engine) -> None:
    from dsm_tui.modals.confirm import ConfirmModal

    job_id = seed_rolling_job(_seed(tui_engine), NOW)
    with session_scope(tui_engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.status, job.error = "failed", "esx-0-1: step firmware_update failed: RED007"
    app = make_app(tui_engine, "oscar")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("colon", *"jobs", "enter")
        await wait_for(pilot, lambda: app.current_view == "jobs" and app.screen.table.rows, what="jobs")
        app.screen.table.move_to(job_id)
        await pilot.pause(0.1)
        assert "act('jobs.cancel')" in footer_actions(app, enabled_only=True)
        await pilot.press("c")
        modal = await wait_for(pilot, lambda: app.screen if isinstance(app.screen, ConfirmModal) else None,
                               what="the cancel question")
        assert "returns to service" in modal.question and "clean-up" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: _jobs(tui_engine, "rolling_cluster_update")[0].cancel_requested,
                       what="the cancel to be recorded")
        assert modal is not app.screen
        job = _jobs(tui_engine, "rolling_cluster_update")[0]
        assert job.status == "pending"  # the worker takes it once more, for the clean-up only
