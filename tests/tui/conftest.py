"""Console fixtures: a seeded SQLite database, the app as a given user, and helpers to wait for it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from dsm_core.db import make_engine
from dsm_core.services.context import actor_for
from dsm_tui.app import DsmApp
from tests.conftest import Templates, fresh_database
from tests.tui.seed import NOW, seed


@pytest.fixture
def tui_engine(templates: Templates, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(fresh_database(templates, "sqlite", tmp_path))
    seed(engine, 40)
    yield engine
    engine.dispose()


def make_app(engine: Engine, user: str = "oscar", **kwargs: Any) -> DsmApp:
    kwargs.setdefault("clock", lambda: NOW)
    kwargs.setdefault("poll_seconds", 0.2)
    kwargs.setdefault("database_label", "sqlite:///dsm.db")
    return DsmApp(engine, actor_for(engine, user), **kwargs)


async def wait_for(pilot: Pilot[Any], check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Let the app run until ``check()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await pilot.pause(0.05)


async def wait_workers(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def footer_actions(app: DsmApp, *, enabled_only: bool = False) -> list[str]:
    """What the footer shows right now: the action of every key drawn in it (dimmed ones too)."""
    return [key.action for key in app.screen.query(FooterKey) if not (enabled_only and key.has_class("-disabled"))]


def notices(app: DsmApp) -> list[str]:
    """The notifications on show (toasts are drawn on their own layer, outside screen_text)."""
    return [n.message for n in app._notifications]


def screen_text(app: DsmApp) -> str:
    """The whole screen as plain text, rendered the way export_screenshot renders it."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()




# The simulated fleet fixture of the worker tests, for the live-worker console test.
from tests.worker.conftest import fleet  # noqa: E402,F401
