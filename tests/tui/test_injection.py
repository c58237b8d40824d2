"""Outside text with terminal escapes and Rich markup, in every field the console shows, shown as text.

The hostile strings are written where the worker writes what an iDRAC says (server identity, firmware,
events, sensors, a job's error and task log, an activity call), and where a CSV or an old database could put
them (a group name). Every view and every detail is rendered; the screen must hold no control character
and the markup must appear literally (no OSC 8 hyperlink, no style)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.models import FirmwareInventory, IdracCommand, Job, JobTask, Server, ServerEventLog, ServerGroup
from tests.tui.conftest import make_app, screen_text, wait_for
from tests.tui.seed import sid

pytestmark = pytest.mark.timeout(120)

EVIL = "\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\\x9b31m\u202e[link=http://evil]x[/link][b]B"
CONTROL = [chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x202E)]


def poison(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(Server.__table__).where(Server.__table__.c.id == sid(0)).values(
            hostname="esx-00000" + EVIL, model="R750" + EVIL, service_tag="TAG" + EVIL, bios_version="1" + EVIL,
            notes="note" + EVIL, connection_error="err" + EVIL))
        conn.execute(sa.update(ServerGroup.__table__).where(ServerGroup.__table__.c.id == sid(0, 2)).values(
            name="web" + EVIL))
        conn.execute(sa.update(FirmwareInventory.__table__).values(name="fw" + EVIL))
        conn.execute(sa.update(ServerEventLog.__table__).values(message="sel" + EVIL, message_id="X" + EVIL[:6]))
        conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == sid(1, 7)).values(error="job" + EVIL))
        conn.execute(sa.update(JobTask.__table__).values(error="task" + EVIL, log="line one" + EVIL + "\nline two"))
        conn.execute(sa.update(IdracCommand.__table__).values(error_message="call" + EVIL,
                                                              endpoint="/redfish/v1" + EVIL))


def assert_shown_as_text(app: Any, where: str) -> str:
    text = screen_text(app)
    svg = app.export_screenshot()
    for rendered in (text, svg):
        found = sorted({hex(ord(c)) for c in rendered if c in CONTROL and c != "\n"})
        assert not found, f"{where}: control characters reached the screen: {found}"
    assert "http://evil" not in svg.split("[link=")[0] or "[link=http://evil]" in text, where
    return text


async def test_escapes_and_markup_are_shown_as_text_on_every_view_and_detail(tui_engine: Engine) -> None:
    poison(tui_engine)
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(220, 50)) as pilot:
        await wait_for(pilot, lambda: app.current_view == "servers" and len(app.screen.table.rows) == 40,
                       what="servers")
        text = assert_shown_as_text(app, "servers")
        assert "esx-00000␛" in text  # the escape is visible (cells are cut to their column's width)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Firmware" in screen_text(app), what="the detail pane")
        await wait_for(pilot, lambda: "sel␛" in screen_text(app), what="the poisoned event in the detail")
        text = assert_shown_as_text(app, "server detail")
        assert "fw␛" in text and "[link=http://evil]x[/link][b]B" in text  # visible, and markup literal
        # the typed confirmation names the server: the modal shows it as text too
        await pilot.press("O")
        await pilot.pause(0.3)
        assert_shown_as_text(app, "power-off confirmation")
        await pilot.press("escape")
        app.goto("jobs")
        table = await wait_for(pilot, lambda: app.current_view == "jobs" and len(app.screen.table.rows) > 5
                               and app.screen.table, what="jobs")
        assert table.move_to(sid(1, 7))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "tasks:" in screen_text(app), what="job detail")
        text = assert_shown_as_text(app, "job detail")
        assert "job␛" in text or "task␛" in text
        app.goto("activity")
        await wait_for(pilot, lambda: app.current_view == "activity" and app.screen.table.rows, what="activity")
        assert_shown_as_text(app, "activity")
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert_shown_as_text(app, "activity call")
        await pilot.press("escape")
        app.goto("pulse")
        await wait_for(pilot, lambda: app.current_view == "pulse" and "job␛" in screen_text(app), what="pulse")
        assert_shown_as_text(app, "pulse")
