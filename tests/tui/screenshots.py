"""Regenerate docs/screenshots/*.svg: every console screen on the seeded database, frozen clock.

    .venv/bin/python -m tests.tui.screenshots docs/screenshots
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.widgets import Input

from dsm_core.credentials.sealing import create_key_file, encode_public_key, key_id
from dsm_core.credentials.secret import Secret
from dsm_core.db import make_engine, migrate
from dsm_core.services.bootstrap import register_worker_key
from dsm_core.services.configuration import set_bios_baseline
from dsm_core.services.context import SYSTEM, ServiceContext, actor_for
from dsm_core.services.credentials import add_credential_set
from dsm_core.services.users import add_user
from dsm_tui.app import DsmApp
from tests.configuration_seed import seed_backup, seed_bios
from tests.tui.seed import NOW, seed, seed_firmware, seed_workflow_job, sid
from tests.vcenter_seed import seed_console, seed_rolling_job

Step = Callable[[Any, DsmApp], Awaitable[None]]


async def _until(pilot: Any, check: Callable[[], Any]) -> None:
    for _ in range(200):
        if check():
            break
        await pilot.pause(0.05)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.4)


async def pulse(pilot: Any, app: DsmApp) -> None:
    await _until(pilot, lambda: app.screen.query("#pulse-servers").first().option_count > 3)


async def servers(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("space", "space")
    app.screen.table.move_to(sid(3))
    await pilot.press("enter")
    await _until(pilot, lambda: app.screen._detail_for is not None)


async def power_off(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    app.screen.table.focus()
    await pilot.press("space", "space", "space", "O")
    await _until(pilot, lambda: type(app.screen).__name__ == "TypedConfirmModal")


async def filtered(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("slash", *"health:crit")
    await pilot.press("enter")
    await _until(pilot, lambda: True)


async def jobs(pilot: Any, app: DsmApp) -> None:
    app.goto("jobs")
    await _until(pilot, lambda: len(app.screen.table.rows) > 5)
    app.screen.table.move_to(sid(2, 7))
    await pilot.press("enter")
    await _until(pilot, lambda: app.screen._detail is not None)


async def activity(pilot: Any, app: DsmApp) -> None:
    app.goto("activity")
    await _until(pilot, lambda: app.screen.table.rows)


async def activity_call(pilot: Any, app: DsmApp) -> None:
    await activity(pilot, app)
    app.screen.table.cursor = 3
    await pilot.press("enter")
    await _until(pilot, lambda: type(app.screen).__name__ == "TextModal")


async def credentials(pilot: Any, app: DsmApp) -> None:
    app.goto("credentials")
    await _until(pilot, lambda: app.screen.table.rows)


async def settings(pilot: Any, app: DsmApp) -> None:
    app.goto("settings")
    await _until(pilot, lambda: app.screen.table.rows)


async def help_page(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("question_mark")
    await _until(pilot, lambda: True)


async def palette(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("ctrl+p", *"esx-0001")
    await _until(pilot, lambda: True)


async def viewer(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)


async def audit(pilot: Any, app: DsmApp) -> None:
    app.goto("audit")
    await _until(pilot, lambda: app.current_view == "audit" and len(app.screen.table.rows) > 3)


async def events(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("E", *"severity:warning")
    await _until(pilot, lambda: True)


async def job_form(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("space", "space", "J", *"power_action", "enter")
    await _until(pilot, lambda: getattr(app.screen, "title_text", "").startswith("New power_action"))


async def firmware(pilot: Any, app: DsmApp) -> None:
    app.goto("firmware")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("space", "space")


async def firmware_components(pilot: Any, app: DsmApp) -> None:
    app.goto("firmware")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("enter")
    await _until(pilot, lambda: type(app.screen).__name__ == "TextModal")


async def firmware_update(pilot: Any, app: DsmApp) -> None:
    app.goto("firmware")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("space", "space", "space", "u")
    await _until(pilot, lambda: type(app.screen).__name__ == "ChoiceModal")


async def jobs_workflow(pilot: Any, app: DsmApp) -> None:
    app.goto("jobs")
    await _until(pilot, lambda: app.screen.table.get(sid(77, 7)) is not None)
    app.screen.table.move_to(sid(77, 7))
    await pilot.press("enter")
    await _until(pilot, lambda: True)


async def sort_chooser(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    await pilot.press("s", "h")
    await _until(pilot, lambda: True)


async def bios_tab(pilot: Any, app: DsmApp) -> None:
    app.goto("servers")
    await _until(pilot, lambda: len(app.screen.table.rows) == 40)
    app.screen.set_filter("drift:>0")
    await _until(pilot, lambda: len(app.screen.table.shown) == 1)
    await pilot.press("enter", "right_square_bracket")
    await _until(pilot, lambda: "drift 2" in str(app.screen.query_one("#bios-body").render()))


async def bios_set(pilot: Any, app: DsmApp) -> None:
    await bios_tab(pilot, app)
    await pilot.press("z")
    await _until(pilot, lambda: type(app.screen).__name__ == "FormModal")
    app.screen.query_one("#f-attributes", Input).value = "ProcVirtualization=Enabled NumLock=On"
    await pilot.press("enter", "enter", "enter")
    await _until(pilot, lambda: type(app.screen).__name__ == "TypedConfirmModal")


async def clusters(pilot: Any, app: DsmApp) -> None:
    app.goto("clusters")
    await _until(pilot, lambda: len(app.screen.table.rows) == 2)
    app.screen.table.move_to(next(r.key for r in app.screen.table.rows if r.name == "prod-1"))
    await pilot.press("enter")
    await _until(pilot, lambda: len(app.screen.hosts.rows) == 3)


async def rolling_plan(pilot: Any, app: DsmApp) -> None:
    app.goto("clusters")
    await _until(pilot, lambda: len(app.screen.table.rows) == 2)
    app.screen.table.move_to(next(r.key for r in app.screen.table.rows if r.name == "prod-0"))
    await pilot.press("u")
    await _until(pilot, lambda: type(app.screen).__name__ == "FormModal")
    app.screen.query_one("#f-source", Input).value = "drm-local"
    app.screen.query_one("#f-min_hosts", Input).value = "1"
    await pilot.press("enter", "enter", "enter")
    await _until(pilot, lambda: type(app.screen).__name__ == "TypedConfirmModal")


async def rolling_timeline(pilot: Any, app: DsmApp) -> None:
    app.goto("jobs")
    await _until(pilot, lambda: len(app.screen.table.rows) > 0)
    job = next(r for r in app.screen.table.rows if r.job_type == "rolling_cluster_update")
    app.screen.table.move_to(job.id)
    await pilot.press("enter")
    await _until(pilot, lambda: app.screen._detail is not None)


async def calendar(pilot: Any, app: DsmApp) -> None:
    app.goto("calendar")
    await _until(pilot, lambda: app.screen.month is not None and "TO APPROVE" in str(app.screen.query_one(
        "#status").render()))
    await pilot.press("right", "right")


async def calendar_approve(pilot: Any, app: DsmApp) -> None:
    await calendar(pilot, app)
    await pilot.press("a")
    await _until(pilot, lambda: type(app.screen).__name__ == "TypedConfirmModal")


SHOTS: dict[str, tuple[Step, str, tuple[int, int]]] = {
    "pulse": (pulse, "alice", (120, 32)),
    "pulse-80x24": (pulse, "alice", (80, 24)),
    "servers-detail": (servers, "alice", (160, 40)),
    "servers-80x24": (viewer, "oscar", (80, 24)),
    "servers-filter": (filtered, "alice", (160, 30)),
    "power-off-confirm": (power_off, "oscar", (140, 36)),
    "jobs-detail": (jobs, "alice", (140, 40)),
    "activity": (activity, "alice", (140, 32)),
    "activity-call": (activity_call, "alice", (140, 40)),
    "credentials": (credentials, "alice", (120, 24)),
    "settings": (settings, "alice", (140, 40)),
    "help": (help_page, "oscar", (140, 40)),
    "palette": (palette, "oscar", (140, 30)),
    "servers-viewer": (viewer, "victor", (160, 30)),
    "audit": (audit, "alice", (140, 30)),
    "server-events": (events, "victor", (140, 30)),
    "job-form": (job_form, "oscar", (140, 40)),
    "sort-chooser": (sort_chooser, "victor", (120, 30)),
    "firmware": (firmware, "oscar", (140, 32)),
    "firmware-components": (firmware_components, "oscar", (140, 40)),
    "firmware-update": (firmware_update, "oscar", (140, 32)),
    "jobs-workflow": (jobs_workflow, "alice", (160, 40)),
    "server-bios-drift": (bios_tab, "oscar", (160, 40)),
    "bios-set-confirm": (bios_set, "oscar", (140, 36)),
}
VCENTER_SHOTS: dict[str, tuple[Step, str, tuple[int, int]]] = {
    "clusters": (clusters, "oscar", (160, 36)),
    "rolling-update-plan": (rolling_plan, "oscar", (160, 44)),
    "rolling-update-timeline": (rolling_timeline, "alice", (200, 44)),
}
"""On a database of their own (two clusters, their six servers, a rolling update under way), so the other
screenshots keep their 40 servers."""
CALENDAR_SHOTS: dict[str, tuple[Step, str, tuple[int, int]]] = {
    "calendar": (calendar, "oscar", (160, 48)),
    "calendar-80x24": (calendar, "oscar", (80, 24)),
    "calendar-approve": (calendar_approve, "oscar", (160, 48)),
}
"""November 2026 with a month of checks of two clusters and its windows (tests.vcenter_seed.seed_calendar)."""


def build_database(directory: Path, vcenter: bool = False, calendar: bool = False) -> Any:
    engine = make_engine(f"sqlite:///{directory / 'dsm.db'}")
    migrate.upgrade(engine)
    key, _ = create_key_file(directory / "worker.key")
    system = ServiceContext(engine, SYSTEM)
    register_worker_key(system, encode_public_key(key.public_key()), key_id(key.public_key()))
    for name, role in (("alice", "admin"), ("oscar", "operator"), ("victor", "viewer")):
        add_user(system, name, role)
    seed(engine, 40)
    seed_firmware(engine, 40)
    seed_workflow_job(engine)
    admin = ServiceContext(engine, actor_for(engine, "alice"))
    seed_bios(engine, sid(5))  # a server held to its own baseline, then changed at its console
    set_bios_baseline(admin, str(sid(5)))
    seed_bios(engine, sid(5), ProcVirtualization="Disabled", NumLock="Off")
    seed_backup(engine, sid(5), "before bios change")
    add_credential_set(admin, "lab", "root", Secret("calvin"), ranges=["10.0.0.0/16"], priority=10)
    add_credential_set(admin, "dc2-oob", "svc-dsm", Secret("x"), ranges=["10.1.0.0/16", "10.2.0.0/16"])
    if vcenter:
        seed_rolling_job(seed_console(engine), NOW)
    if calendar:
        from tests.vcenter_seed import seed_calendar

        seed_calendar(engine, NOW)
    return engine


async def shoot(engine: Any, out: Path, shots: dict[str, tuple[Step, str, tuple[int, int]]]) -> None:
    for name, (step, user, size) in shots.items():
        app = DsmApp(engine, actor_for(engine, user), clock=lambda: NOW, poll_seconds=3600,
                     database_label="sqlite:///var/lib/dsm/dsm.db")
        async with app.run_test(size=size) as pilot:
            await step(pilot, app)
            app.save_screenshot(str(out / f"{name}.svg"))
        print(f"{out / name}.svg")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    only = set(sys.argv[2:])  # names to redo (default: all)
    for shots, vcenter, cal in ((SHOTS, False, False), (VCENTER_SHOTS, True, False), (CALENDAR_SHOTS, False, True)):
        wanted = {k: v for k, v in shots.items() if not only or k in only}
        if not wanted:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            engine = build_database(Path(tmp), vcenter, cal)
            asyncio.run(shoot(engine, out, wanted))
            engine.dispose()


if __name__ == "__main__":
    main()
