"""Activity: the live tail of every Redfish call, filtered in SQL and paged by keyset.

The view holds only the pages the operator has scrolled through: it opens with the newest 200
rows (one indexed range read on (timestamp, id), however many million rows there are), prepends
what arrives while it is open, and reads the next older page when the cursor nears the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult

from dsm_core.filtering import FilterError
from dsm_tui import data
from dsm_tui.actions import ActionContext
from dsm_tui.modals.text import TextModal
from dsm_tui.screens.base import DsmScreen
from dsm_tui.widgets.jsonview import json_view
from dsm_tui.widgets.table import Column, VirtualTable

PAGE = 200


def activity_columns(slow_ms: Callable[[], int] = lambda: data.SLOW_DEFAULT_MS) -> list[Column[data.ActivityRow]]:
    return [
        Column("time", "TIME", 8, lambda r: r.timestamp.strftime("%H:%M:%S"), priority=0),
        Column("server", "SERVER", 15, lambda r: r.server, priority=1, cut_left=True),
        Column("method", "VERB", 6, lambda r: r.method, priority=0),
        Column("status", "CODE", 4, lambda r: str(r.status_code or "—"),
               lambda r: "" if r.success else "bold red", priority=0),
        Column("ms", "MS", 6, lambda r: str(r.latency_ms if r.latency_ms is not None else "—"),
               lambda r: "yellow" if (r.latency_ms or 0) >= slow_ms() else "", priority=1),
        Column("endpoint", "ENDPOINT", 30, lambda r: r.endpoint, priority=0, flex=True, cut_left=True),
        # The job that made the call, by the short id :jobs shows (the worker is in the detail).
        Column("source", "JOB", 8, lambda r: r.job_id.hex[-8:] if r.job_id else (r.source or "—")[:8],
               priority=3),
        Column("error", "ERROR", 24, lambda r: r.error, lambda r: "red", priority=2, flex=True),
    ]


def parse_activity_filter(text: str, errors_only: bool, slow: bool,
                          threshold_ms: int = data.SLOW_DEFAULT_MS) -> data.ActivityFilter:
    server = job = None
    slow_ms = threshold_ms if slow else None
    words = []
    for word in text.split():
        name, sep, value = word.partition(":")
        if sep and name:
            key = name.lower()
            if key == "server":
                server = value
            elif key == "job":
                job = value
            elif key == "slow":
                if not value.isdigit():
                    raise FilterError(f"filter: slow:{value!r} needs milliseconds, e.g. slow:500")
                slow_ms = int(value)
            else:
                raise FilterError(f"filter: {name!r} is not a field here; use server:, job:, slow:MS or words "
                                  "(matched in the endpoint)")
        else:
            words.append(word)
    return data.ActivityFilter(server=server, job=job, errors_only=errors_only, slow_ms=slow_ms,
                               text=" ".join(words) or None)


class ActivityScreen(DsmScreen):
    VIEW: ClassVar[str] = "activity"
    AUTO_FOCUS = "#activity"

    def __init__(self) -> None:
        super().__init__()
        self.table: VirtualTable[data.ActivityRow] = VirtualTable(
            activity_columns(lambda: self._slow_ms), empty="no calls recorded (yet)", id="activity"
        )
        self.flt = data.ActivityFilter()
        self._errors = False
        self._slow = False
        self._slow_ms = data.SLOW_DEFAULT_MS
        """activity.slow_command_threshold_ms, read with every poll (an admin may change it meanwhile)."""
        self._follow = True
        self._reset = True
        self._exhausted = False
        self._loading_older = False
        self._generation = 0

    def body(self) -> ComposeResult:
        yield self.table

    def focus_main(self) -> None:
        self.table.focus()

    # --- polling: newest page, then the live tail -----------------------------------------------------

    def load(self) -> dict[str, Any]:
        engine, flt, generation = self.dsm.engine, self.flt, self._generation
        rows = self.table.rows
        slow_ms = data.slow_threshold_ms(engine)
        if self._reset or not rows:
            return {"reset": True, "rows": data.activity_page(engine, flt, limit=PAGE), "generation": generation,
                    "slow_ms": slow_ms}
        newest = rows[0]
        fresh = data.activity_page(engine, flt, after=(newest.timestamp, newest.id), limit=PAGE)
        return {"reset": False, "rows": fresh, "generation": generation, "slow_ms": slow_ms}

    def apply(self, result: dict[str, Any]) -> None:
        if result["slow_ms"] != self._slow_ms:
            self._slow_ms = result["slow_ms"]
            if self._slow and self.flt.slow_ms is not None:
                self._refilter(replace(self.flt, slow_ms=self._slow_ms))
                return
        if result["generation"] != self._generation:
            return  # read under a filter that has changed since
        rows: list[data.ActivityRow] = result["rows"]
        if result["reset"]:
            self._reset = False
            self._exhausted = len(rows) < PAGE
            self.table.set_rows(rows)
            self.table.cursor = 0
        elif rows:
            at_top = self.table.cursor == 0
            self.table.update_rows(rows, prepend=True)
            if self._follow and at_top:
                self.table.cursor = 0
        self.selection_changed()

    def on_virtual_table_near_end(self, event: VirtualTable.NearEnd) -> None:
        if self._exhausted or self._loading_older or not self.table.rows:
            return
        self._loading_older = True
        oldest = self.table.rows[-1]
        self._load_older(self.flt, (oldest.timestamp, oldest.id), self._generation)

    @work(thread=True, exit_on_error=False, group="older")
    def _load_older(self, flt: data.ActivityFilter, before: Any, generation: int) -> None:
        try:
            rows = data.activity_page(self.dsm.engine, flt, before=before, limit=PAGE)
        except Exception:
            rows, generation = [], -1  # not exhausted: the next move near the end tries again
        self.app.call_from_thread(self._older_done, rows, generation)

    def _older_done(self, rows: list[data.ActivityRow], generation: int) -> None:
        self._loading_older = False
        if generation != self._generation:
            return
        self._exhausted = len(rows) < PAGE
        if rows:
            self.table.update_rows(rows)

    # --- filters --------------------------------------------------------------------------------------

    def apply_filter(self, text: str) -> None:
        self._refilter(parse_activity_filter(text, self._errors, self._slow, self._slow_ms))

    def _refilter(self, flt: data.ActivityFilter) -> None:
        if flt == self.flt and not self._reset:
            return
        self.flt = flt
        self._generation += 1
        self._reset = True
        self.schedule_poll(0)

    def do_errors(self) -> None:
        self._errors = not self._errors
        self._refilter(replace(self.flt, errors_only=self._errors))
        self.notify("failed calls only" if self._errors else "all calls", timeout=1.5)
        self.refresh_badges()

    def do_slow(self) -> None:
        self._slow = not self._slow
        self._refilter(replace(self.flt, slow_ms=self._slow_ms if self._slow else None))
        self.notify(f"calls of {self._slow_ms} ms or more (activity.slow_command_threshold_ms)" if self._slow
                    else "all calls", timeout=1.5)
        self.refresh_badges()

    def do_copy(self) -> None:
        row = self.table.current
        if row is not None:
            self.copy_text(f"{row.method} {row.endpoint}", "the call")

    def badges(self) -> list[str]:
        out = ["follow"] if self._follow else []
        if self._errors:
            out.append("errors")
        if self._slow:
            out.append(f"slow ≥{self._slow_ms} ms")
        return out

    def do_follow(self) -> None:
        self._follow = not self._follow
        if self._follow:
            self.table.cursor = 0
        self.notify("following the newest calls" if self._follow else "not following", timeout=1.5)
        self.refresh_badges()

    # --- detail -------------------------------------------------------------------------------------

    def action_context(self) -> ActionContext:
        return ActionContext(selected=1 if self.table.current else 0)

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        self.selection_changed()

    def do_detail(self) -> None:
        row = self.table.current
        if row is not None:
            self._load_detail(row)

    @work(thread=True, exit_on_error=False, group="detail")
    def _load_detail(self, row: data.ActivityRow) -> None:
        detail = data.activity_detail(self.dsm.engine, row)
        if detail is not None:
            self.app.call_from_thread(self.app.push_screen, TextModal(
                f"{row.method} {row.endpoint}", render_call(detail)))


def render_call(d: data.ActivityDetail) -> RenderableType:
    r = d.row
    head = Text()
    head.append(f"{r.timestamp:%Y-%m-%d %H:%M:%S} UTC  {r.method} {d.full_url}\n", style="bold")
    head.append(f"status {r.status_code or '—'} · {r.latency_ms if r.latency_ms is not None else '—'} ms · "
                f"{'ok' if r.success else 'FAILED'} · source {r.source or '—'} · server {r.server or '—'}"
                + (f" · job {r.job_id.hex[-8:]}" if r.job_id else ""))
    if r.error:
        head.append(f"\n{r.error}", style="red")
    return Group(head, Text("\nrequest headers (redacted)", style="bold underline"), json_view(d.request_headers),
                 Text("\nrequest body (redacted)", style="bold underline"), json_view(d.request_body),
                 Text("\nresponse body", style="bold underline"), json_view(d.response_body))
