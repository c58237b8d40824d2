"""Configuration in the console: the drift column and its filter on :servers, the detail's BIOS (drift marked,
search), boot, media and SCP tabs, and the actions that make configuration jobs (typed confirmation for a
BIOS write, y/n for a mount). Pilot over a seeded SQLite database."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dsm_core.db import read_scope
from dsm_core.models import Job, ServerBootConfigHistory, VirtualMediaSession
from dsm_core.services import configuration
from dsm_tui.modals.confirm import ConfirmModal, TypedConfirmModal
from dsm_tui.modals.form import FormModal
from tests.configuration_seed import seed_backup, seed_bios
from tests.conftest import ctx_for
from tests.tui.conftest import footer_actions, make_app, screen_text, wait_for
from tests.tui.seed import sid

pytestmark = pytest.mark.timeout(120)


def _jobs(engine: Engine) -> list[Job]:
    with read_scope(engine) as s:
        return list(s.execute(sa.select(Job).order_by(sa.desc(Job.created_at))).scalars())


def _seed(engine: Engine) -> None:
    """Server 1 holds a baseline it no longer matches (two attributes), with a backup, a boot change and a
    mounted image; server 2 matches its baseline."""
    for i in (1, 2):
        seed_bios(engine, sid(i))
        configuration.set_bios_baseline(ctx_for(engine, "oscar"), str(sid(i)))
    seed_bios(engine, sid(1), ProcVirtualization="Disabled", NumLock="Off")
    seed_backup(engine, sid(1), "before bios change")
    with Session(engine) as s:
        s.add(ServerBootConfigHistory(server_id=sid(1), boot_source_override_target="Pxe",
                                      boot_source_override_enabled="Once", boot_order=["Boot0001", "Boot0002"]))
        s.add(VirtualMediaSession(server_id=sid(1), image_name="esxi.iso", is_mounted=True,
                                  remote_image_url="http://127.0.10.250/esxi.iso"))
        s.commit()


async def _servers(pilot: Any) -> Any:
    app = pilot.app
    return await wait_for(pilot, lambda: len(app.screen.table.rows) == 40, what="servers")


async def test_drift_column_filter_and_the_detail_tabs(tui_engine: Engine) -> None:
    _seed(tui_engine)
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(180, 48)) as pilot:
        await _servers(pilot)
        table = app.screen.table
        assert table.get(sid(1)).drift == 2 and table.get(sid(2)).drift == 0
        app.screen.set_filter("drift:>0")
        await pilot.pause(0.1)
        assert [r.id for r in table.shown] == [sid(1)]
        app.screen.set_filter("drift:0 name:esx-0000")
        await pilot.pause(0.1)
        assert sid(1) not in [r.id for r in table.shown] and sid(2) in [r.id for r in table.shown]
        app.screen.set_filter("")
        await pilot.pause(0.1)
        table.move_to(sid(1))
        await pilot.press("enter", "right_square_bracket")
        await wait_for(pilot, lambda: "drift 2" in screen_text(app), what="the BIOS tab")
        text = screen_text(app)
        assert "* ProcVirtualization Disabled baseline Enabled" in " ".join(text.split())
        assert "baseline server" in text
        app.screen.query_one("#bios-search").value = "numl"
        await wait_for(pilot, lambda: "1 of 7 attributes" in screen_text(app), what="the search")
        assert "ProcVirtualization" not in screen_text(app).split("attributes", 1)[1]
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "Boot0001, Boot0002" in screen_text(app), what="the boot tab")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "mounted  CD   http://127.0.10.250/esxi.iso" in screen_text(app),
                       what="the media tab")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "before bios change" in screen_text(app), what="the SCP tab")


async def test_bios_write_needs_the_typed_name_and_a_mount_a_yes(tui_engine: Engine) -> None:
    _seed(tui_engine)
    app = make_app(tui_engine, "oscar", start_view="servers")
    async with app.run_test(size=(180, 48)) as pilot:
        await _servers(pilot)
        app.screen.table.move_to(sid(1))
        before = len(_jobs(tui_engine))
        await pilot.press("z")
        form = await wait_for(pilot, lambda: isinstance(app.screen, FormModal) and app.screen, what="the form")
        form.query_one("#f-attributes").value = "ProcVirtualization=Enabled NumLock=On"
        await pilot.press("enter", "enter", "enter")  # attributes, apply time, reboot: submitted on the last
        typed = await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmModal) and app.screen,
                               what="the typed confirmation")
        assert typed.expected == "esx-00001"
        await pilot.press(*"esx-00001", "enter")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 1, what="the BIOS job")
        job = _jobs(tui_engine)[0]
        assert job.job_type == "bios_config_write" and job.target_scope == {"servers": [str(sid(1))]}
        assert job.details is not None and job.details["attributes"] == {"ProcVirtualization": "Enabled",
                                                                         "NumLock": "On"}
        # a value the registry refuses: the service's words, no job
        await pilot.press("z")
        form = await wait_for(pilot, lambda: isinstance(app.screen, FormModal) and app.screen, what="the form")
        form.query_one("#f-attributes").value = "AcPwrRcvryUserDelay=5"
        await pilot.press("enter", "enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmModal), what="the confirmation")
        await pilot.press(*"esx-00001", "enter")
        await wait_for(pilot, lambda: any("out of range" in str(n.message) for n in app._notifications),
                       what="the refusal")
        assert len(_jobs(tui_engine)) == before + 1
        # mount: y/n
        app.screen.table.move_to(sid(2))
        await pilot.press("m")
        form = await wait_for(pilot, lambda: isinstance(app.screen, FormModal) and app.screen, what="the form")
        form.query_one("#f-image").value = "http://127.0.10.250/esxi.iso"
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the y/n")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(_jobs(tui_engine)) == before + 2, what="the mount job")
        job = _jobs(tui_engine)[0]
        assert job.job_type == "virtual_media_mount" and job.details is not None
        assert job.details["image_url"] == "http://127.0.10.250/esxi.iso"


async def test_a_viewer_gets_no_configuration_action(tui_engine: Engine) -> None:
    _seed(tui_engine)
    app = make_app(tui_engine, "victor", start_view="servers")
    async with app.run_test(size=(180, 48)) as pilot:
        await _servers(pilot)
        offered = footer_actions(app)
        for action in ("bios_set", "media_mount", "scp_import", "baseline_apply", "boot_once"):
            assert f"act('servers.{action}')" not in offered
        before = len(_jobs(tui_engine))
        await pilot.press("z", "m", "I", "w", "x")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, FormModal | TypedConfirmModal | ConfirmModal)
        assert len(_jobs(tui_engine)) == before
