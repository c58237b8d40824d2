"""The console shows data, not Python: every view, every detail section and every modal of the seeded data
(with the nested sensor, storage and job-result records the worker stores) is scanned for reprs."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.models import Job, ServerHealth
from tests.tui.conftest import make_app, screen_text, wait_for
from tests.tui.seed import sid

pytestmark = pytest.mark.timeout(180)
REPR = re.compile(r"\{'|\['|': |\"\: |\bNone\b|<[a-zA-Z_.]+ object at")
SENSORS = {
    "fans": [{"name": "Fan 1", "rpm": 7320, "health": "OK"}, {"name": "Fan 2", "rpm": 0, "health": "Critical"}],
    "temperatures": [{"name": "Inlet", "celsius": 24.0, "health": "OK", "context": "Intake"}],
    "power_supplies": [{"name": "PSU 1", "health": "OK", "watts": 412}, {"name": "PSU 2", "health": None}],
    "storage": {"controllers": [{"id": "RAID.SL.3-1", "name": "PERC H755", "health": "OK"}],
                "drives": [{"id": "Disk.Bay.0", "name": "SSD 0", "health": "OK", "capacity_bytes": 960197124096,
                            "media": "SSD"}], "health": "OK"},
    "rollups": {"CPU": "OK", "Fan": "Critical", "PS": "OK"},
}


def nested(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(ServerHealth.__table__).values(sensors=SENSORS))
        conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == sid(4, 7)).values(
            details={"ranges": ["10.0.0.0/24"], "result": {"probed": 254, "idracs": 3, "busy": ["10.0.0.9:443"],
                                                           "added_servers": []}}))


def no_reprs(app: Any, where: str) -> str:
    text = screen_text(app)
    found = REPR.findall(text)
    assert not found, f"{where} shows Python reprs {found}:\n{text}"
    return text


async def test_no_screen_detail_or_modal_shows_a_python_repr(tui_engine: Engine) -> None:
    nested(tui_engine)
    app = make_app(tui_engine, "alice", start_view="pulse")
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for(pilot, lambda: "Latest jobs" in screen_text(app), what="pulse")
        no_reprs(app, "pulse")
        app.goto("servers")
        await wait_for(pilot, lambda: app.current_view == "servers" and len(app.screen.table.rows) == 40,
                       what="servers")
        no_reprs(app, "servers")
        await pilot.press("enter")
        text = await wait_for(pilot, lambda: "Fan 2" in (t := screen_text(app)) and t, what="sensors")
        no_reprs(app, "server detail")
        assert "PERC H755" in text and "7320" in text and "960 GB" in text  # capacity_bytes, humanised
        for key in ("T", "question_mark", "O", "a", "d"):  # group tree, help, confirmation, add, discovery
            await pilot.press(key)
            await pilot.pause(0.3)
            no_reprs(app, f"servers after {key}")
            if key != "T":
                await pilot.press("escape")
        app.goto("jobs")
        table = await wait_for(pilot, lambda: app.current_view == "jobs" and len(app.screen.table.rows) > 5
                               and app.screen.table, what="jobs")
        for job in (sid(4, 7), sid(1, 7), sid(2, 7)):
            assert table.move_to(job)
            await pilot.press("enter")
            await wait_for(pilot, lambda: "tasks:" in screen_text(app), what="job detail")
            text = no_reprs(app, f"job {job}")
        app.goto("activity")
        await wait_for(pilot, lambda: app.current_view == "activity" and app.screen.table.rows, what="activity")
        no_reprs(app, "activity")
        for view in ("credentials", "settings"):
            app.goto(view)
            await wait_for(pilot, lambda v=view: app.current_view == v, what=view)
            await pilot.pause(0.5)
            no_reprs(app, view)
            await pilot.press("question_mark")
            await pilot.pause(0.2)
            no_reprs(app, f"{view} help")
            await pilot.press("escape")
