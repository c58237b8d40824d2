"""The console as k9s and lazygit users drive it, through Pilot over a real seeded SQLite database: keys typed
ahead in one burst, navigation keys, copy, the raw view, choosing the sort column, header badges, the help
page, the address filter, every power action, and what the CLI can do (edit, link, remove, groups, diagnose,
any job with its form, child jobs, the audit log, a server's event log)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input

from dsm_core.db import read_scope
from dsm_core.models import AuditLog, Job, Server, ServerGroup, ServerGroupMember
from dsm_core.services import jobs as job_service
from dsm_core.services import settings as settings_service
from dsm_core.services.context import ServiceContext, actor_for
from dsm_tui.actions import ACTIONS, for_view
from dsm_tui.modals.confirm import ConfirmModal, TypedConfirmModal
from dsm_tui.modals.form import FormModal
from dsm_tui.modals.help import HelpModal
from dsm_tui.modals.text import TextModal
from tests.tui.conftest import make_app, notices, screen_text, wait_for
from tests.tui.seed import sid

pytestmark = pytest.mark.timeout(120)


def _jobs(engine: Engine) -> list[Job]:
    with read_scope(engine) as s:
        return list(s.execute(sa.select(Job).order_by(sa.desc(Job.created_at))).scalars())


async def _servers(pilot: Any) -> Any:
    app = pilot.app
    return await wait_for(pilot, lambda: app.current_view == "servers" and len(app.screen.table.rows) == 40
                          and app.screen.table, what="the servers to load")


def _header(app: Any) -> str:
    return (screen_text(app).splitlines() or [""])[0]


def _burst(app: Any, text: str) -> None:
    """Keys as SSH delivers a fast typist's burst: all queued before the app handles the first."""
    for ch in text:
        if ch == "\r":
            app.post_message(events.Key("enter", "\r"))
        else:
            app.post_message(events.Key(_character_to_key(ch), ch))


async def _fill(pilot: Any, values: dict[str, str]) -> FormModal:
    form = await wait_for(pilot, lambda: isinstance(pilot.app.screen, FormModal) and pilot.app.screen,
                          what="the form")
    for name, value in values.items():
        form.query_one(f"#f-{name}", Input).value = value
    return form


async def _submit(pilot: Any, form: FormModal) -> None:
    last = list(form.query(Input))[-1]
    last.focus()
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.screen is not form, what="the form to close")


async def test_keys_typed_ahead_in_one_burst_are_never_lost(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar")
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: "health Critical" in screen_text(app), what="pulse")
        _burst(app, ":jobs\r")
        await wait_for(pilot, lambda: app.current_view == "jobs", what=":jobs⏎ typed in one burst")
        _burst(app, ":servers\r")
        table = await _servers(pilot)
        _burst(app, "/health:critical\r")
        await wait_for(pilot, lambda: table.shown and len(table.shown) < 40, what="the filter typed ahead")
        assert all(r.health == "Critical" for r in table.shown)
        # the filter applies as it is typed, so the rows can change before the Enter behind it is handled
        await wait_for(pilot, lambda: app.focused is table, what="Enter to take the focus back to the table")


async def test_navigation_keys_g_G_and_half_pages(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _servers(pilot)
        await pilot.press("G")
        assert table.cursor == 39
        await pilot.press("g")
        assert table.cursor == 0
        await pilot.press("ctrl+d")
        half = table.cursor
        assert 5 <= half < 20
        await pilot.press("ctrl+d", "ctrl+u")
        assert table.cursor == half
        await pilot.press("ctrl+u")
        assert table.cursor == 0
        await pilot.press("T")  # the group tree moved from g to T
        assert app.screen.query_one("#group-tree").display


async def test_y_copies_v_shows_raw_and_s_chooses_the_sort_column(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "victor", start_view="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _servers(pilot)
        row = table.current
        await pilot.press("y")
        assert app.clipboard == row.name == "esx-00000"
        await pilot.press("Y")
        assert app.clipboard == row.address
        await pilot.press("v")
        modal = await wait_for(pilot, lambda: isinstance(app.screen, TextModal) and app.screen, what="raw view")
        assert '"bios_version"' in screen_text(app)  # highlighted JSON, as on :activity
        stored = modal.body.code  # the whole document (the screen shows its first lines)
        assert f'"service_tag": "{row.service_tag}"' in stored and '"hostname": "esx-00000"' in stored
        assert "_sealed" not in stored  # sealed columns are never shown, only whether they are set
        await pilot.press("escape")
        assert app.screen is not modal
        # At 80 columns BIOS (a low-priority column) is dropped, unless it is the one sorted by.
        assert "BIOS" not in screen_text(app).splitlines()[1]
        await pilot.press("s")
        await wait_for(pilot, lambda: "Sort by" in screen_text(app), what="the column chooser")
        await pilot.press("b", "enter")
        assert table.sort_state == ("bios", False)
        assert "BIOS ↑" in screen_text(app).splitlines()[1], "the sorted column and its arrow stay visible"
        await pilot.press("S")
        assert "BIOS ↓" in screen_text(app).splitlines()[1]


async def test_header_badges_and_help_with_navigation_and_ids(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(160, 40)) as pilot:
        await _servers(pilot)
        await pilot.press("space", "space")
        await wait_for(pilot, lambda: "2 marked" in _header(app), what="the mark count")
        await pilot.press("question_mark")
        help_page = await wait_for(pilot, lambda: isinstance(app.screen, HelpModal) and app.screen, what="help")
        for search, expected in (("first", "g G"), ("half", "ctrl+d ctrl+u"), ("cut the power", "servers.force_off"),
                                 ("switch view", "app.views")):
            help_page.query_one(Input).value = search
            await wait_for(pilot, lambda e=expected: e in screen_text(app), what=f"{expected} on the help page")
        await pilot.press("escape")
        app.goto("activity")
        await wait_for(pilot, lambda: app.current_view == "activity" and "follow" in _header(app),
                       what="the follow badge")
        await pilot.press("e")
        await wait_for(pilot, lambda: " errors " in _header(app), what="the errors badge")
        await pilot.press("w")
        await wait_for(pilot, lambda: "slow ≥5000 ms" in _header(app), what="the slow badge")


async def test_ip_filter_takes_a_cidr_or_a_range(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "victor", start_view="servers")
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _servers(pilot)
        await pilot.press("slash", *"ip:10.0.0.8/29")
        assert {r.ip for r in table.shown} == {f"10.0.0.{i}" for i in range(8, 16)}
        app.screen.query_one("#filter", Input).value = "ip:10.0.0.30-10.0.0.33"
        await pilot.pause(0.1)
        assert {r.ip for r in table.shown} == {f"10.0.0.{i}" for i in range(30, 34)}
        app.screen.query_one("#filter", Input).value = "ip:10.0.0.1"  # a word: still a substring
        await pilot.pause(0.1)
        assert {r.ip for r in table.shown} == {"10.0.0.1", *(f"10.0.0.{i}" for i in range(10, 20))}
        app.screen.query_one("#filter", Input).value = "ip:10.0.0.0/33"
        await wait_for(pilot, lambda: "is not a CIDR or range" in screen_text(app), what="the CIDR error")


@pytest.mark.parametrize(("key", "reset", "tier"), [
    ("b", "GracefulRestart", "confirm"), ("B", "ForceRestart", "typed"), ("K", "ForceOff", "typed"),
])
async def test_every_power_action_of_the_cli(tui_engine: Engine, key: str, reset: str, tier: str) -> None:
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(120, 30)) as pilot:
        await _servers(pilot)
        before = len(_jobs(tui_engine))
        await pilot.press(key)
        if tier == "confirm":
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="y/n")
            await pilot.press("y")
        else:
            await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmModal), what="typed confirmation")
            await pilot.press(*"esx-00000", "enter")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 1, what="the power job")
        job = _jobs(tui_engine)[0]
        assert job.details["action"] == reset and job.target_scope == {"servers": [str(sid(0))]}


async def test_edit_link_groups_and_diagnose_from_the_console(tui_engine: Engine) -> None:
    admin = ServiceContext(tui_engine, actor_for(tui_engine, "alice"))
    from dsm_core.credentials.secret import Secret
    from dsm_core.services import credentials

    credentials.add_credential_set(admin, "dc2", "root", Secret("calvin"), ranges=["10.0.0.0/8"])  # covers them
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _servers(pilot)
        await pilot.press("e")
        form = await _fill(pilot, {"hostname": "esx-renamed", "notes": "rack 4"})
        await _submit(pilot, form)
        with read_scope(tui_engine) as s:
            server = s.get(Server, sid(0))
            assert (server.hostname, server.notes) == ("esx-renamed", "rack 4")
        await pilot.press("space", "space")  # esx-00000 and esx-00001
        await pilot.press("L")
        await _submit(pilot, await _fill(pilot, {"credential_set": "dc2"}))
        with read_scope(tui_engine) as s:
            linked = s.execute(sa.select(Server.id).where(Server.credential_set_id.is_not(None))).scalars().all()
        assert set(linked) == {sid(0), sid(1)}
        await pilot.press("plus")
        await _submit(pilot, await _fill(pilot, {"group": "new-rack"}))
        with read_scope(tui_engine) as s:
            group = s.execute(sa.select(ServerGroup).where(ServerGroup.name == "new-rack")).scalar_one()
            members = s.execute(sa.select(ServerGroupMember.server_id)
                                .where(ServerGroupMember.server_group_id == group.id)).scalars().all()
        assert set(members) == {sid(0), sid(1)}
        await pilot.press("underscore")
        await _submit(pilot, await _fill(pilot, {"group": "new-rack"}))
        with read_scope(tui_engine) as s:
            assert not s.execute(sa.select(ServerGroupMember)
                                 .where(ServerGroupMember.server_group_id == group.id)).all()
        before = len(_jobs(tui_engine))
        table.marked.clear()
        await pilot.press("N")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 1, what="the diagnostics job")
        assert _jobs(tui_engine)[0].job_type == "network_diagnostics"
        # an operator may not remove (the specification: removing is admin); the key is not offered
        assert "act('servers.remove')" not in {b.action for b in app.screen.active_bindings.values()
                                                if app.screen.check_action("act", ("servers.remove",))}


async def test_an_admin_removes_servers_and_deletes_a_group(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "alice", start_view="servers")
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _servers(pilot)
        await pilot.press("G", "D")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmModal), what="typed confirmation")
        await pilot.press(*"esx-00039", "enter")
        await wait_for(pilot, lambda: len(table.rows) == 39, what="the server to go")
        with read_scope(tui_engine) as s:
            assert s.get(Server, sid(39)) is None
            assert s.execute(sa.select(AuditLog).where(AuditLog.action == "servers.remove")).scalars().all()
        await pilot.press("T")
        await pilot.press("down", "down", "enter")  # groups → db
        await wait_for(pilot, lambda: "tree: db" in _header(app), what="the tree badge")
        table.focus()
        await pilot.press("X")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmModal), what="typed confirmation")
        await pilot.press(*"db", "enter")
        await wait_for(pilot, lambda: "deleted" in " ".join(notices(app)), what="the group deleted")
        with read_scope(tui_engine) as s:
            assert s.execute(sa.select(ServerGroup).where(ServerGroup.name == "db")).first() is None


async def test_any_job_with_its_form_scheduled_and_its_children(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "oscar", start_view="jobs")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.current_view == "jobs" and app.screen.table.rows, what="jobs")
        before = len(_jobs(tui_engine))
        await pilot.press("n")
        form = await _fill(pilot, {"job_type": "power_actoin"})  # a typo: the form says so and stays open
        await pilot.press("enter")
        await wait_for(pilot, lambda: "is not one" in screen_text(app), what="the type refused")
        assert app.screen is form
        form.query_one("#f-job_type", Input).value = "power_action"
        await _submit(pilot, form)
        details = await _fill(pilot, {"d_action": "PowerCycl", "servers": "esx-00002",
                                      "at": "2026-12-01T02:00+00:00"})
        last = list(details.query(Input))[-1]
        last.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "details.action" in screen_text(app), what="the detail named")
        details.query_one("#f-d_action", Input).value = "PowerCycle"
        await _submit(pilot, details)
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 1, what="the job")
        job = _jobs(tui_engine)[0]
        assert job.details["action"] == "PowerCycle" and job.target_scope == {"servers": [str(sid(2))]}
        assert job.schedule_at is not None and job.schedule_at.isoformat().startswith("2026-12-01T02:00")
        # a child job shows in its parent's detail
        oscar = ServiceContext(tui_engine, actor_for(tui_engine, "oscar"))
        child = job_service.create_job(oscar, "health_check", servers=["esx-00002"], parent_job_id=job.id)
        assert app.screen.table.move_to(job.id) or await wait_for(
            pilot, lambda: app.screen.table.move_to(job.id), what="the new job in the list")
        await pilot.press("enter")
        await wait_for(pilot, lambda: f"child jobs: {uuid.UUID(child['id']).hex[-8:]}" in screen_text(app),
                       what="the child job in the detail")


async def test_audit_view_is_for_admins(tui_engine: Engine) -> None:
    settings_service.set_setting(ServiceContext(tui_engine, actor_for(tui_engine, "alice")),
                                 "activity.log_level", "errors_only")
    app = make_app(tui_engine, "oscar")
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        app.goto("audit")
        await pilot.pause(0.2)
        assert app.current_view != "audit" and any("needs the admin role" in n for n in notices(app))
        assert "audit" not in app.views()
    app = make_app(tui_engine, "alice", start_view="audit")
    async with app.run_test(size=(120, 30)) as pilot:
        table = await wait_for(pilot, lambda: app.current_view == "audit" and app.screen.table.rows
                               and app.screen.table, what="audit rows")
        assert table.current.action == "settings.set" and table.current.username == "alice"
        await pilot.press("enter")
        await wait_for(pilot, lambda: '"previous": "all"' in screen_text(app), what="the entry's details")
        await pilot.press("escape")
        await pilot.press("slash", *"action:users.")
        assert all(r.action.startswith("users.") for r in table.shown)


async def test_event_log_filtered_by_severity_and_category(tui_engine: Engine) -> None:
    app = make_app(tui_engine, "victor", start_view="servers")
    async with app.run_test(size=(120, 30)) as pilot:
        await _servers(pilot)
        await pilot.press("E")
        modal = await wait_for(pilot, lambda: app.screen.query("#events") and app.screen, what="the events")
        table = modal.query_one("#events")
        await wait_for(pilot, lambda: len(table.rows) == 4, what="the stored entries")
        await pilot.press(*"severity:warning")
        assert [r.message_id for r in table.shown] == ["PSU0003"]
        modal.query_one(Input).value = "severity:bogus-but-fine category:nothing"
        await pilot.pause(0.1)
        assert table.shown == []
        modal.query_one(Input).value = "sev:warning"
        await wait_for(pilot, lambda: "'sev' is not a field" in screen_text(app), what="the field error")


async def test_slow_filter_follows_the_setting(tui_engine: Engine) -> None:
    admin = ServiceContext(tui_engine, actor_for(tui_engine, "alice"))
    settings_service.set_setting(admin, "activity.slow_command_threshold_ms", "1500")
    app = make_app(tui_engine, "victor", start_view="activity")
    async with app.run_test(size=(120, 30)) as pilot:
        table = await wait_for(pilot, lambda: app.current_view == "activity" and app.screen.table.rows
                               and app.screen.table, what="activity")
        await pilot.pause(0.3)
        await pilot.press("w")
        await wait_for(pilot, lambda: table.shown and all((r.latency_ms or 0) >= 1500 for r in table.shown),
                       what="the slow calls")
        assert any("1500 ms" in n for n in notices(app))


@pytest.mark.parametrize("user", ["oscar", "alice"])
async def test_the_footer_fits_80_columns_on_every_view(tui_engine: Engine, user: str) -> None:
    app = make_app(tui_engine, user)
    async with app.run_test(size=(80, 24)) as pilot:
        for view in app.views():
            app.goto(view)
            await wait_for(pilot, lambda v=view: app.current_view == v, what=view)
            await pilot.pause(0.3)
            footer = screen_text(app).splitlines()[23]
            shown = [a for a in for_view(view, app.actor.role, False) if a.show]
            last = shown[-1].title if shown else ""
            assert last in footer, f":{view}: the footer's last key ({last}) is cut at 80 columns: {footer!r}"


def test_every_new_key_is_unique_in_its_view() -> None:
    seen: dict[tuple[str, str], str] = {}
    for a in ACTIONS:
        assert (a.view, a.key) not in seen, f"{a.id} and {seen[(a.view, a.key)]} share {a.key}"
        seen[(a.view, a.key)] = a.id


async def test_a_longer_health_trend_than_ten_checks(tui_engine: Engine) -> None:
    from datetime import timedelta

    from dsm_core.models import ServerHealth
    from tests.tui.seed import NOW

    with tui_engine.begin() as conn:
        conn.execute(sa.insert(ServerHealth.__table__), [
            {"id": uuid.uuid4(), "server_id": sid(1), "timestamp": NOW - timedelta(hours=k), "created_at": NOW,
             "overall_health": "Critical" if k == 40 else "OK"} for k in range(45)])
    app = make_app(tui_engine, "victor", start_view="servers")
    async with app.run_test(size=(160, 50)) as pilot:
        table = await _servers(pilot)
        table.move_to(sid(1))
        await pilot.press("enter")
        text = await wait_for(pilot, lambda: "checks since" in (t := screen_text(app)) and t, what="the trend")
        assert "last 45 checks since" in text and "1 Critical, 44 OK" in text
        assert "✗" in text  # the Critical one, 40 checks back, is on the trend line


def test_spare_width_goes_to_the_columns_that_carry_text() -> None:
    from dsm_tui import data
    from dsm_tui.screens.activity import activity_columns
    from dsm_tui.screens.jobs import job_columns
    from dsm_tui.screens.settings import SETTING_COLUMNS
    from dsm_tui.widgets.table import VirtualTable, _fit

    def widths(columns: Any, width: int) -> dict[str, int]:
        return {c.key: w for c, w in VirtualTable(columns)._columns_for(width)}

    jobs = widths(job_columns(lambda: None), 220)
    assert jobs["error"] > 60 and jobs["targets"] == 16
    settings = widths(SETTING_COLUMNS, 200)
    assert settings["accepted"] > 60 and settings["value"] == 20
    activity = widths(activity_columns(), 200)
    assert activity["endpoint"] > 30 and activity["error"] > 24
    endpoint = "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries"
    cut = _fit(endpoint, 20, cut_left=True)  # the end says which resource: keep it, cut the start
    assert cut == "…" + endpoint[-19:] and cut.endswith("LogServices/Sel/Entries"[-19:])
    row = data.ActivityRow(uuid.uuid4(), data.utcnow(), "GET", endpoint, 200, 5, True, "", "worker:x",
                           "10.0.0.7:443", uuid.UUID(int=0xABCDEF12))
    source = next(c for c in activity_columns() if c.key == "source")
    assert source.text(row) == "abcdef12", "the job's short id, as :jobs shows it"
