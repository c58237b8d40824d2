"""The header line: who you are, which database, whether a worker is alive, read-only.

"worker down" is drawn in reverse red: jobs created while no worker beats stay pending, and an
operator must see that before wondering why nothing happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.widgets import Static

from dsm_tui.data import WorkerSummary, age

if TYPE_CHECKING:
    from dsm_tui.app import DsmApp


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { dock: top; height: 1; background: $panel; color: $foreground; }
    """

    def __init__(self, view: str) -> None:
        super().__init__(id="status")
        self.view = view

    def on_mount(self) -> None:
        self.show(cast("DsmApp", self.app).worker_summary)

    def show(self, workers: WorkerSummary | None) -> None:
        app = cast("DsmApp", self.app)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" DSM ", "bold reverse")
        line.append(f" {app.actor.username} ({app.actor.role}) ", "bold")
        line.append("│ ")
        if workers is None:
            line.append("worker ?", "dim")
        elif workers.state == "down":
            line.append(" WORKER DOWN ", "bold reverse red")
            if workers.workers:
                line.append(f" last beat {age(workers.workers[0].last_beat_at, workers.now)} ago", "red")
        else:
            alive = workers.alive
            newest = alive[0]
            label = "workers" if len(alive) > 1 else "worker"
            style = "yellow" if workers.state == "paused" else "green"
            line.append(f"{label} {workers.state}", f"bold {style}")
            line.append(f" ({len(alive)}, beat {age(newest.last_beat_at, workers.now)})")
        if app.paused:
            line.append("  ")
            line.append(" iDRAC WORK PAUSED ", "bold reverse yellow")
        if app.readonly:
            line.append("  ")
            line.append(" READ-ONLY ", "bold reverse yellow")
        if getattr(app, "awaiting", 0):
            line.append("  ")
            line.append(f" ⚑ {app.awaiting} TO APPROVE ", "bold reverse yellow")
        count = getattr(self.screen, "count_text", "")
        line.append(f"  :{self.view}" + (f" {count}" if count else ""), "bold")
        badges = getattr(self.screen, "badges", None)
        for badge in badges() if badges is not None else []:
            line.append(" ")
            line.append(f" {badge} ", "bold reverse")
        # The database last: on a narrow terminal a long path is what gets cut, never the worker state.
        line.append(f" │ {app.database_label}", "dim")
        self.update(line)
