"""The console driven by Pilot over a real (seeded) SQLite database: every flow an operator uses."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from textual.command import CommandPalette
from textual.widgets import Button, Input

from dsm_core.db import read_scope
from dsm_core.models import ActivitySettings, CredentialSet, Job
from dsm_tui.actions import ACTIONS, BY_ID, KeymapError, for_view, parse_keymap
from dsm_tui.modals.confirm import ConfirmModal, TypedConfirmModal
from dsm_tui.modals.form import FormModal
from dsm_tui.modals.help import HelpModal
from dsm_tui.providers import ActionCommands
from tests.tui.conftest import footer_actions, make_app, notices, screen_text, wait_for
from tests.tui.seed import NOW, sid

pytestmark = pytest.mark.timeout(120)

MUTATING = {f"act('{a.id}')" for a in ACTIONS if a.mutating}


def _jobs(engine: Engine) -> list[Job]:
    with read_scope(engine) as s:
        return list(s.execute(sa.select(Job).order_by(sa.desc(Job.created_at))).scalars())


async def _servers_loaded(pilot: Any) -> Any:
    app = pilot.app
    return await wait_for(pilot, lambda: app.current_view == "servers" and len(app.screen.table.rows) == 40,
                          what="the servers to load")


async def test_view_switcher_back_and_help(tui_engine: Engine) -> None:
    app = make_app(tui_engine)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.current_view == "pulse"
        await pilot.press("colon", *"ser", "enter")  # a unique prefix is enough
        await _servers_loaded(pilot)
        await pilot.press("colon", *":jobs", "enter")
        assert app.current_view == "jobs"
        await pilot.press("colon", *"nope", "enter")
        assert "not a view" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("minus")
        assert app.current_view == "servers"
        await pilot.press("minus")
        assert app.current_view == "pulse"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        assert "Keys of :pulse" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("f1")
        assert isinstance(app.screen, HelpModal)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpModal)


@pytest.mark.parametrize("user,readonly", [("victor", False), ("alice", True)])
async def test_no_mutating_action_for_a_viewer_or_in_readonly(tui_engine: Engine, user: str, readonly: bool) -> None:
    app = make_app(tui_engine, user, readonly=readonly)
    async with app.run_test(size=(200, 40)) as pilot:
        for view in ("servers", "jobs", "activity", "credentials", "settings", "pulse"):
            app.goto(view)
            await wait_for(pilot, lambda v=view: v == app.screen.VIEW and "act('app.views')" in footer_actions(app),
                           what=f"the footer of {view}")
            await pilot.pause(0.3)
            shown = footer_actions(app)
            assert not MUTATING & set(shown), f"{view} footer offers {MUTATING & set(shown)}"
            # The palette's action list and the help page come from the same rule.
            assert not any(BY_ID[a].mutating for a, _, _ in ActionCommands(app.screen)._actions())
            await pilot.press("question_mark")
            help_text = screen_text(app)
            for action in ACTIONS:
                if action.mutating and action.view == view:
                    assert action.help not in help_text, f"help of {view} lists {action.id}"
            await pilot.press("escape")
        # Pressing a mutating key anyway does nothing: no job, no dialog.
        app.goto("servers")
        await _servers_loaded(pilot)
        before = len(_jobs(tui_engine))
        await pilot.press("r", "O", "o", "a", "d")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ConfirmModal | TypedConfirmModal | FormModal)
        assert len(_jobs(tui_engine)) == before
        # The palette, opened for real, offers no mutating action either.
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"power")
        await pilot.pause(0.5)
        assert "power off" not in screen_text(app).lower()
        await pilot.press("escape")


async def test_an_operator_sees_the_actions(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar")
    async with app.run_test(size=(200, 40)) as pilot:
        app.goto("servers")
        await _servers_loaded(pilot)
        wanted = {"act('servers.refresh')", "act('servers.power_off')", "act('servers.power_on')"}
        await wait_for(pilot, lambda: wanted <= set(footer_actions(app)), what="the operator's actions")
        # Credentials are admin business: an operator does not get them.
        assert not any(a.id.startswith("credentials.") and a.mutating for a in for_view("credentials", "operator",
                                                                                         False))


async def test_bulk_power_off_needs_the_typed_count_and_makes_one_job(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers_loaded(pilot)
        await pilot.press("space", "space", "space")  # marks esx-00000..00002, the cursor moves down
        await pilot.press("O")
        modal = await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmModal) and app.screen,
                               what="the typed confirmation")
        listed = "\n".join(modal.targets)
        for name in ("esx-00000", "esx-00001", "esx-00002"):
            assert name in listed and name in screen_text(app), "the dialog lists every target"
        assert "esx-00003" not in listed
        before = len(_jobs(tui_engine))
        await pilot.press("2", "enter")  # the wrong count does nothing
        assert app.screen is modal
        assert "nothing was done" in screen_text(app)
        assert len(_jobs(tui_engine)) == before
        modal.query_one(Input).value = ""
        await pilot.press("3", "enter")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 1, what="the power job")
        job = _jobs(tui_engine)[0]
        assert job.job_type == "power_action"
        assert job.details == {"action": "GracefulShutdown", "force_after_timeout": False, "timeout_seconds": 300}
        assert sorted(job.target_scope["servers"]) == sorted(str(sid(i)) for i in range(3))
        assert not app.screen.table.marked, "marks are cleared after the action"


async def test_single_power_on_asks_yes_no_with_no_focused(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers_loaded(pilot)
        before = len(_jobs(tui_engine))
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the y/n dialog")
        assert isinstance(app.focused, Button) and app.focused.id == "no"
        await pilot.press("enter")  # Enter on the initial focus is No
        await pilot.pause(0.2)
        assert len(_jobs(tui_engine)) == before
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the y/n dialog")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 1, what="the power-on job")
        job = _jobs(tui_engine)[0]
        assert job.details["action"] == "On" and job.target_scope == {"servers": [str(sid(0))]}
        # A single power off is typed too: the server's name.
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmModal), what="typed confirmation")
        await pilot.press(*"esx-00000", "enter")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 2, what="the power-off job")


async def test_refresh_creates_a_job_and_the_row_shows_it(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers_loaded(pilot)
        await pilot.press("down", "down", "down", "down", "down", "down", "down", "down")  # esx-00008
        await pilot.press("r")
        await wait_for(pilot, lambda: _jobs(tui_engine)[0].job_type == "refresh_server_info", what="the job")
        assert _jobs(tui_engine)[0].target_scope == {"servers": [str(sid(8))]}
        row = await wait_for(pilot, lambda: (r := app.screen.table._by_key[sid(8)]).job and r, what="the job label")
        assert row.job == "… refresh server info"
        await wait_for(pilot, lambda: "… refresh serv" in screen_text(app), what="the label on screen")


async def test_filter_with_field_terms_and_a_clear_error(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "victor", start_view="servers")
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers_loaded(pilot)
        table = app.screen.table
        await pilot.press("slash", *"health:critical model:R650")
        shown = table.shown
        assert shown and all(r.health == "Critical" and "R650" in r.model for r in shown)
        assert len(shown) < len(table.rows)
        await pilot.press("enter")
        assert app.focused is table
        await pilot.press("escape")  # clears the filter
        assert len(table.shown) == 40
        await pilot.press("slash", *"helth:ok")
        await wait_for(pilot, lambda: "'helth' is not a field here" in screen_text(app), what="the filter error")
        app.screen.query_one("#filter").value = "health:ok"
        await wait_for(pilot, lambda: "is not a field" not in screen_text(app), what="the error to go")
        assert len(table.shown) == 36 and all(r.health == "OK" for r in table.shown)
        await pilot.press("escape")
        await pilot.press("slash", *"!power:on")
        assert table.shown and all(r.power == "Off" for r in table.shown)
        await pilot.press("escape")
        assert table.sort_state == ("ip", False), "servers open sorted by address"
        await pilot.press("s")  # the column chooser: h jumps to health, Enter sorts by it
        await wait_for(pilot, lambda: "Sort by" in screen_text(app), what="the column chooser")
        await pilot.press("h", "enter")
        assert table.sort_state == ("health", False)
        assert "HEALTH ↑" in screen_text(app)
        assert [r.health for r in table.shown][:2] == ["Critical", "Critical"]
        await pilot.press("S")
        assert table.sort_state == ("health", True)


async def test_detail_pane_and_group_tree(tui_engine: Engine) -> None:
    from dsm_core.models import VcenterHost

    with tui_engine.begin() as conn:  # what a vcenter_sync leaves: ESXi hosts linked to two servers
        conn.execute(sa.insert(VcenterHost.__table__), [
            {"id": uuid.uuid4(), "name": f"esx{i}.lab", "cluster": "prod-a", "server_id": sid(i), "status": "ok",
             "maintenance_mode": False, "created_at": NOW, "updated_at": NOW} for i in (1, 2)])
    app = make_app(tui_engine, "victor", start_view="servers")
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers_loaded(pilot)
        await pilot.press("enter")
        text = await wait_for(pilot, lambda: "Firmware" in (t := screen_text(app)) and t, what="the detail pane")
        for expected in ("PowerEdge R750", "7.00.00.171", "PERC H755 Front", "Power supply 2 lost AC input",
                         "psu Warning", "refresh_server_info", "credentials"):
            assert expected in text
        await pilot.press("down")
        await wait_for(pilot, lambda: "esx-00001" in app.screen.query_one("#server-detail-body").render().__str__()
                       or "QQQ1EEF" in screen_text(app), what="the detail to follow the cursor")
        await pilot.press("escape")
        assert not app.screen.query_one("#server-detail").display
        await pilot.press("T")
        tree = app.screen.query_one("#group-tree")
        assert tree.display and app.focused is tree
        await pilot.press("down", "down", "enter")  # groups → db
        await wait_for(pilot, lambda: len(app.screen.table.shown) == 10, what="the db group")
        assert all("db" in r.groups for r in app.screen.table.shown)
        assert "prod-a (2)" in screen_text(app)
        await pilot.press("down", "down", "down", "down", "enter")  # vdi, web, clusters, prod-a
        await wait_for(pilot, lambda: {r.hostname for r in app.screen.table.shown} == {"esx-00001", "esx-00002"},
                       what="the prod-a cluster")


async def test_palette_jumps_to_a_server(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "victor")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"esx-00031")
        await pilot.pause(0.6)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_view == "servers" and app.screen.table.current is not None
                       and app.screen.table.current.hostname == "esx-00031", what="the jump")
        await wait_for(pilot, lambda: "QQ3BEF1" in screen_text(app) and app.screen.query_one("#server-detail").display,
                       what="the detail of esx-00031")


async def test_pulse_numbers_drill_down(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "victor")
    async with app.run_test(size=(160, 40)) as pilot:
        text = await wait_for(pilot, lambda: "health Critical" in (t := screen_text(app)) and t, what="pulse")
        assert "WORKER" not in text.split("\n")[0] or "worker up" in text.split("\n")[0]
        assert "jump01:4242" in text
        assert app.focused is app.screen.query_one("#pulse-servers")
        await pilot.press("down")  # servers → health Critical
        assert app.focused.highlighted == 1, app.focused.highlighted
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_view == "servers" and len(app.screen.table.rows) == 40
                       and len(app.screen.table.shown) == 2, what="the filtered list")
        assert all(r.health == "Critical" for r in app.screen.table.shown)
        await pilot.press("minus")
        assert app.current_view == "pulse"
        await pilot.press("tab")  # the jobs panel
        await pilot.press("down", "down", "enter")  # failed (24 h)
        await wait_for(pilot, lambda: app.current_view == "jobs" and app.screen.table.shown
                       and all(r.status == "failed" for r in app.screen.table.shown), what="failed jobs")
        await pilot.press("minus")
        app.screen.query_one("#pulse-recent").focus()
        await pilot.press("down", "down", "down", "enter")  # the fourth newest: the pending log fetch
        await wait_for(pilot, lambda: app.current_view == "jobs" and [r.id for r in app.screen.table.shown]
                       == [sid(3, 7)], what="that one job")


async def test_jobs_detail_cancel_and_retry(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar", start_view="jobs")
    async with app.run_test(size=(160, 40)) as pilot:
        table = await wait_for(pilot, lambda: len(app.screen.table.rows) > 5 and app.screen.table, what="jobs")
        assert table.move_to(sid(1, 7))  # the failed health check
        await pilot.press("enter")
        text = await wait_for(pilot, lambda: "401 Unauthorized" in (t := screen_text(app)) and "tasks:" in t and t,
                              what="the job detail")
        assert "esx-00003" in text and "logged in (session)" in text
        await wait_for(pilot, lambda: "act('jobs.retry')" in footer_actions(app, enabled_only=True),
                       what="retry offered")
        assert "act('jobs.cancel')" not in footer_actions(app, enabled_only=True), "a failed job cannot be cancelled"
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="retry confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == 5 + 48 + 1 or (_jobs(tui_engine)[0].job_type
                       == "health_check" and _jobs(tui_engine)[0].status == "pending"), what="the retried job")
        retried = _jobs(tui_engine)[0]
        assert retried.target_scope == {"servers": [str(sid(3))]}
        await wait_for(pilot, lambda: retried.id in table._by_key, what="the new job in the list")
        await pilot.press("escape")
        assert table.move_to(sid(3, 7))  # the pending event-log fetch
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="cancel confirmation")
        await pilot.press("y")
        with read_scope(tui_engine) as s:
            await wait_for(pilot, lambda: s.get(Job, sid(3, 7), populate_existing=True).status == "cancelled",
                           what="the cancel")
        await wait_for(pilot, lambda: table._by_key[sid(3, 7)].status == "cancelled", what="the row to change")


async def test_activity_pages_by_keyset_and_filters(templates: Any, tmp_path: Any) -> None:
    from dsm_core.db import make_engine
    from tests.conftest import fresh_database
    from tests.tui.seed import seed

    engine = make_engine(fresh_database(templates, "sqlite", tmp_path))
    seed(engine, 40, activity=1000)
    app = make_app(engine, "victor", start_view="activity")
    async with app.run_test(size=(160, 40)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.table.rows and app.screen.table, what="activity")
        assert len(table.rows) == 200, "only the newest page is read"
        assert table.rows[0].timestamp > table.rows[-1].timestamp
        for _ in range(6):
            await pilot.press("end")
            await pilot.pause(0.3)
        await wait_for(pilot, lambda: len(table.rows) == 1000, what="older pages")
        ids = [r.id for r in table.rows]
        assert len(set(ids)) == 1000, "no row twice across pages"
        await pilot.press("e")
        await wait_for(pilot, lambda: table.rows and all(not r.success for r in table.rows) and len(table.rows) < 100,
                       what="errors only")
        await pilot.press("enter")
        text = await wait_for(pilot, lambda: "request headers" in (t := screen_text(app)) and t, what="call detail")
        assert "[REDACTED]" in text and "503" in text
        await pilot.press("escape", "e")
        await pilot.press("slash", *"bogus:1")
        await wait_for(pilot, lambda: "not a field here" in screen_text(app), what="the filter error")
    engine.dispose()


async def test_activity_live_tail(tui_engine: Engine) -> None:
    from dsm_core.models import IdracCommand
    from tests.tui.seed import NOW

    app = make_app(tui_engine, "victor", start_view="activity")
    async with app.run_test(size=(160, 40)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.table.rows and app.screen.table, what="activity")
        with tui_engine.begin() as conn:
            conn.execute(sa.insert(IdracCommand.__table__), [{
                "id": uuid.uuid4(), "timestamp": NOW, "created_at": NOW, "command_type": "POST",
                "operation_type": "idrac_api", "endpoint": "/redfish/v1/SessionService/Sessions", "full_url": "x",
                "status_code": 201, "response_time_ms": 80, "success": True, "source": "tail-test"}])
        await wait_for(pilot, lambda: table.rows[0].source == "tail-test" and table.cursor == 0, what="the new call")


async def test_credentials_add_masks_and_seals(tui_engine: Engine) -> None:
    canary = "Canary-TUI-7731"
    app = make_app(tui_engine, "alice", start_view="credentials")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("a")
        form = await wait_for(pilot, lambda: isinstance(app.screen, FormModal) and app.screen, what="the form")
        assert form.query_one("#f-password", Input).password
        await pilot.press(*"dc2", "enter", *"root", "enter", *canary, "enter", *"10.9.0.0/16", "enter", "enter",
                          "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, FormModal), what="the form to close")
        assert canary not in screen_text(app)
        with read_scope(tui_engine) as s:
            cs = s.execute(sa.select(CredentialSet).where(CredentialSet.name == "dc2")).scalar_one()
            assert cs.password_sealed.startswith("dsm-sealed:v1:") and canary not in cs.password_sealed
        await wait_for(pilot, lambda: any(r.name == "dc2" for r in app.screen.table.rows), what="the new set")
        text = screen_text(app)
        assert "10.9.0.0/16" in text and canary not in text
        # A bad range is refused in place, naming the field; nothing is written.
        app.screen.table.move_to("dc2")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormModal), what="the range form")
        await pilot.press(*"10.300.0.0/16", "enter", "enter")
        await wait_for(pilot, lambda: ("10.300.0.0/16" in screen_text(app) and "cidr" in screen_text(app).lower())
                       or "not" in app.screen.query_one("#form-error").render().__str__(), what="the error")
        assert isinstance(app.screen, FormModal)


async def test_settings_pause_toggle_and_edit(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "alice", start_view="settings")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.table.rows, what="settings")
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="pause confirmation")
        await pilot.press("y")

        def paused() -> bool:
            with read_scope(tui_engine) as s:
                return bool(s.execute(sa.select(ActivitySettings.pause_idrac_operations)).scalar())

        await wait_for(pilot, paused, what="the pause")
        await wait_for(pilot, lambda: "iDRAC WORK PAUSED" in screen_text(app), timeout=5, what="the header badge")
        table = app.screen.table
        assert table.move_to("network.read_timeout_seconds")
        await pilot.press("e")
        form = await wait_for(pilot, lambda: isinstance(app.screen, FormModal) and app.screen, what="edit form")
        form.query_one(Input).value = "abc"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "network.read_timeout_seconds" in str(form.query_one("#form-error").render()),
                       what="the validation error")
        form.query_one(Input).value = "45"
        await pilot.press("enter")
        await wait_for(pilot, lambda: table._by_key["network.read_timeout_seconds"].value == "45", what="the value")


async def test_add_server_and_discovery_forms(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers_loaded(pilot)
        await pilot.press("a")
        form = await wait_for(pilot, lambda: isinstance(app.screen, FormModal) and app.screen, what="add form")
        await pilot.press(*"10.0.0.300", "enter", "enter", "enter", "enter")
        await wait_for(pilot, lambda: "address" in str(form.query_one("#form-error").render()), what="the error")
        form.query_one("#f-address", Input).value = "127.0.99.7"
        form.query_one("#f-hostname", Input).focus()
        await pilot.press(*"lab-07", "enter", "enter")
        await wait_for(pilot, lambda: any(r.hostname == "lab-07" for r in app.screen.table.rows), what="new row")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, FormModal), what="discovery form")
        await pilot.press(*"127.0.99.0/28", "enter", "enter", "enter")
        await wait_for(pilot, lambda: _jobs(tui_engine)[0].job_type == "discovery_scan", what="the discovery job")
        assert _jobs(tui_engine)[0].details["ranges"] == ["127.0.99.0/28"]


async def test_worker_status_in_the_header(tui_engine: Engine) -> None:
    from datetime import timedelta

    from tests.tui.seed import NOW

    alive = make_app(tui_engine, "victor")
    async with alive.run_test(size=(120, 30)) as pilot:
        line = await wait_for(pilot, lambda: "worker up" in (t := screen_text(alive).splitlines()[0]) and t,
                              what="worker up")
        assert "WORKER DOWN" not in line
    dead = make_app(tui_engine, "victor", clock=lambda: NOW + timedelta(minutes=5))
    async with dead.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: "WORKER DOWN" in screen_text(dead).splitlines()[0], what="worker down")


async def test_keys_can_be_remapped_by_action_id(tui_engine: Engine) -> None:
    keymap = parse_keymap("servers.refresh=R")
    with pytest.raises(KeymapError, match=r"servers\.refrsh"):
        parse_keymap("servers.refrsh=R")
    app = make_app(tui_engine, "oscar", start_view="servers", keymap=keymap)
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers_loaded(pilot)
        before = len(_jobs(tui_engine))
        await pilot.press("r")
        await pilot.pause(0.3)
        assert len(_jobs(tui_engine)) == before
        await pilot.press("R")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 1, what="the remapped refresh")


async def test_ansi_theme_and_no_color(tui_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(tui_engine, "victor", ansi=True)
    async with app.run_test(size=(80, 24)):
        assert app.theme == "ansi-dark" and app.ansi_color
    monkeypatch.setenv("NO_COLOR", "1")
    plain = make_app(tui_engine, "victor")
    async with plain.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        assert plain.no_color
        svg = plain.export_screenshot()
        assert "#ff0000" not in svg.lower()


async def test_usable_at_80x24(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await _servers_loaded(pilot)
        text = screen_text(app)
        lines = text.splitlines()
        assert "NAME" in lines[1] and "HEALTH" in lines[1]
        footer = await wait_for(pilot, lambda: "refresh" in (last := screen_text(app).splitlines()[23]) and last,
                                what="the footer")
        for key in (": views", "/ filter", "? help", "r refresh", "o power on"):
            assert key in footer, f"the footer keeps {key!r} at 80 columns"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Identity" in screen_text(app), what="detail at 80 columns")
        await pilot.press("escape")
        assert "NAME" in screen_text(app).splitlines()[1]


async def test_import_csv_and_palette_actions(tui_engine: Engine, tmp_path: Any) -> None:
    csv = tmp_path / "rack7.csv"
    csv.write_text("ip_address,port,hostname\n127.0.98.1,8443,rack7-a\n127.0.98.2,8443,rack7-b\n")
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers_loaded(pilot)
        await pilot.press("i")
        form = await wait_for(pilot, lambda: isinstance(app.screen, FormModal) and app.screen, what="import form")
        await pilot.press(*str(tmp_path / "missing.csv"), "enter")
        await wait_for(pilot, lambda: "cannot read" in str(form.query_one("#form-error").render()),
                       what="the unreadable-file error")
        form.query_one(Input).value = str(csv)
        await pilot.press("enter")
        await wait_for(pilot, lambda: {"rack7-a", "rack7-b"} <= {r.hostname for r in app.screen.table.rows},
                       what="the imported servers")
        # The palette runs an action of the view on the selection, with the same checks.
        app.screen.table.move_to(sid(9))
        before = len(_jobs(tui_engine))
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"servers: health")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 1, what="the palette's job")
        job = _jobs(tui_engine)[0]
        assert job.job_type == "health_check" and job.target_scope == {"servers": [str(sid(9))]}


async def test_admin_adds_a_user_and_a_bad_role_is_named(tui_engine: Engine) -> None:
    from dsm_core.models import User

    app = make_app(tui_engine, "alice", start_view="settings")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.users.rows, what="users")
        await pilot.press("u")
        form = await wait_for(pilot, lambda: isinstance(app.screen, FormModal) and app.screen, what="user form")
        await pilot.press(*"nina", "enter", *"superuser", "enter", "enter")
        await wait_for(pilot, lambda: "role" in str(form.query_one("#form-error").render()), what="the role error")
        form.query_one("#f-role", Input).value = "operator"
        form.query_one("#f-role", Input).focus()
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: any(u.username == "nina" and u.role == "operator" for u in app.screen.users.rows),
                       what="the new user")
        with read_scope(tui_engine) as s:
            assert s.execute(sa.select(User.role).where(User.username == "nina")).scalar() == "operator"


async def test_a_locked_database_is_reported_and_the_console_carries_on(templates: Any, tmp_path: Any) -> None:
    """Another writer holds the SQLite lock past the busy timeout: the action fails visibly, nothing
    is half-written, the console stays up, and the same key works once the lock is gone."""
    import sqlite3

    from dsm_core.db import make_engine
    from tests.conftest import fresh_database
    from tests.tui.seed import seed

    url = fresh_database(templates, "sqlite", tmp_path)
    engine = make_engine(url, busy_timeout_ms=200)
    seed(engine, 40)
    app = make_app(engine, "oscar", start_view="servers")
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers_loaded(pilot)
        before = len(_jobs(engine))
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            await pilot.press("r")
            failure = await wait_for(pilot, lambda: next((n for n in notices(app) if "failed" in n), None),
                                     what="the failure")
            assert failure.startswith("refresh server info failed: OperationalError") and "locked" in failure
            assert app.is_running
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert len(_jobs(engine)) == before, "nothing half-written"
        await pilot.press("r")
        await wait_for(pilot, lambda: len(_jobs(engine)) == before + 1, what="the job once the lock is gone")
    engine.dispose()
