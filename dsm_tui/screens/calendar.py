"""The safety calendar: a month of days coloured and marked by whether each cluster and group was safe to touch,
the maintenance windows on them, and where approvers approve by keyboard.

Arrows move the day, PgUp/PgDn the month, ``t`` comes back to today. ``enter`` opens the day (its windows and
checks). ``n`` plans a window on the day; ``a`` approves one awaiting approval (the dialog shows its targets,
schedule, the plan and the latest safety verdict, and wants the cluster's name typed for production clusters);
``r`` rejects with a reason; ``x`` writes a window's change record to a file. The sidebar shows each cluster's
daily trend for the month and the optimal windows DSM recommends from the safety history.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from dsm_core.services import window_report, windows
from dsm_core.services.errors import ValidationError
from dsm_core.text import visible
from dsm_tui import data
from dsm_tui.actions import ActionContext
from dsm_tui.modals.choice import ChoiceModal
from dsm_tui.modals.confirm import ConfirmModal, TypedConfirmModal
from dsm_tui.modals.form import FormField, FormModal
from dsm_tui.screens.base import DsmScreen
from dsm_tui.screens.clusters import plan_lines
from dsm_tui.widgets.month import GLYPH, STYLE, WINDOW_STYLE, MonthGrid

SPARK = {"safe": "▁", "warning": "▄", "unsafe": "█", "unchecked": " "}
SUGGEST_EVERY = 60.0


def calendar_zone() -> str:
    """The site's zone for the calendar's days: DSM_TZ, else TZ, else UTC."""
    for var in ("DSM_TZ", "TZ"):
        name = os.environ.get(var, "").lstrip(":")
        if name:
            try:
                ZoneInfo(name)
                return name
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return "UTC"


class CalendarScreen(DsmScreen):
    VIEW: ClassVar[str] = "calendar"
    AUTO_FOCUS = "#month"
    POLL_SECONDS: ClassVar[float] = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.tz_name = calendar_zone()
        self.tz = ZoneInfo(self.tz_name)
        self.grid: MonthGrid | None = None
        self.month: data.CalendarMonth | None = None
        self._day_open = False
        self._suggested: dict[str, Any] | None = None
        self._suggested_at = 0.0

    def today(self) -> date:
        return self.dsm.clock().astimezone(self.tz).date()

    def body(self) -> ComposeResult:
        self.grid = MonthGrid(self.today(), id="month")
        yield Static("", id="calendar-title")
        with Horizontal(id="calendar-main"):
            yield self.grid
            with VerticalScroll(id="calendar-side"):
                yield Static("", id="calendar-trend")
                yield Static("", id="calendar-suggest")
        yield Static("", id="calendar-day")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#calendar-day").display = False
        self._title()

    def on_resize(self) -> None:
        self.query_one("#calendar-side").display = self.size.width >= 120

    def focus_main(self) -> None:
        if self.grid is not None:
            self.grid.focus()

    @property
    def cursor(self) -> date:
        return self.grid.cursor if self.grid is not None else self.today()

    def load(self) -> dict[str, Any]:
        day = self.cursor
        month = data.load_calendar(self.dsm.engine, day.year, day.month, self.tz_name)
        out: dict[str, Any] = {"month": month}
        if self._suggested is None or time.monotonic() - self._suggested_at > SUGGEST_EVERY:
            try:
                out["suggest"] = windows.suggest(self.ctx, None, days=14, timezone=self.tz_name,
                                                 now=self.dsm.clock(), limit=6)
            except Exception as exc:  # the sidebar says so; the calendar itself still shows
                out["suggest"] = {"error": str(exc)}
        return out

    def apply(self, result: dict[str, Any]) -> None:
        self.month = result["month"]
        if "suggest" in result:
            self._suggested, self._suggested_at = result["suggest"], time.monotonic()
            self._show_suggestions()
        if self.grid is not None:
            self.grid.show(self.month)
        self._title()
        self._show_trend()
        if self._day_open:
            self._show_day()
        self.selection_changed()

    def _title(self) -> None:
        day = self.cursor
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f" {day:%B %Y}", "bold")
        line.append(f"  {self.tz_name}   ")
        for status in ("safe", "warning", "unsafe", "unchecked"):
            line.append(f"{GLYPH[status]} {status}", STYLE[status])
            line.append("  ")
        line.append("⚑ awaiting approval", "bold yellow")
        self.query_one("#calendar-title", Static).update(line)

    def _show_trend(self) -> None:
        if self.month is None:
            return
        parts: list[Any] = [Text("Safety trend (a day per column)", style="bold")]
        for trend in self.month.trends[:20]:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{GLYPH[trend.last]} ", STYLE[trend.last])
            line.append(f"{trend.name[:14]:<14} ")
            for status in trend.days:
                line.append(SPARK[status], STYLE[status])
            parts.append(line)
        if not self.month.trends:
            parts.append(Text("no safety check this month", style="dim"))
        elif len(self.month.trends) > 20:
            parts.append(Text(f"… and {len(self.month.trends) - 20} more clusters", style="dim"))
        self.query_one("#calendar-trend", Static).update(Group(*parts))

    def _show_suggestions(self) -> None:
        found = self._suggested or {}
        parts: list[Any] = [Text(""), Text("Optimal windows (next 14 days)", style="bold")]
        if "error" in found:
            parts.append(Text(f"unavailable: {found['error']}", style="red"))
        for w in found.get("optimal_windows", []):
            start = datetime.fromisoformat(w["start"]).astimezone(self.tz)
            style = {"high": "green", "medium": "yellow", "low": "red"}[w["confidence"]]
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{start:%a %d %b %H:%M} ")
            line.append(f"{w['confidence']:<6}", style)
            line.append(f" {w['duration_hours']:g} h")
            parts.append(line)
            parts.append(Text("  " + visible(w["reason"]), style="dim", no_wrap=True, overflow="ellipsis"))
        if not found.get("optimal_windows") and "error" not in found:
            parts.append(Text("none: no cluster, or every day conflicts", style="dim"))
        self.query_one("#calendar-suggest", Static).update(Group(*parts))

    def day_windows(self) -> list[data.WindowItem]:
        if self.month is None:
            return []
        return list(self.month.windows.get(self.cursor, []))

    def _show_day(self) -> None:
        day = self.cursor
        status = self.month.statuses.get(day, "unchecked") if self.month else "unchecked"
        checks = self.month.checks.get(day, 0) if self.month else 0
        head = Text(f"{day:%A %d %B %Y}: ", style="bold")
        head.append(f"{GLYPH[status]} {status}", STYLE[status])
        head.append(f" · {checks} safety check(s)")
        parts: list[Any] = [head]
        for w in self.day_windows():
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"  {w.start.astimezone(self.tz):%H:%M}-{w.end.astimezone(self.tz):%H:%M} ")
            line.append(w.title, "bold")
            line.append(f"  {w.maintenance_type} ")
            line.append(w.status, WINDOW_STYLE.get(w.status, ""))
            if w.awaiting:
                line.append("  ⚑ awaiting approval", "bold yellow")
            line.append(f"  {w.id[:8]}", "dim")
            parts.append(line)
        if not self.day_windows():
            parts.append(Text("  no window starts this day (n plans one)", style="dim"))
        self.query_one("#calendar-day", Static).update(Group(*parts))

    def on_month_grid_day_changed(self, event: MonthGrid.DayChanged) -> None:
        self._title()
        if event.month_changed:
            self.schedule_poll(0)
        elif self._day_open:
            self._show_day()
        self.selection_changed()

    def action_context(self) -> ActionContext:
        items = self.day_windows()
        awaiting = [w for w in items if w.awaiting]
        return ActionContext(selected=len(items), row_state="awaiting" if awaiting else "")

    def badges(self) -> list[str]:
        waiting = sum(1 for items in (self.month.windows.values() if self.month else []) for w in items
                      if w.awaiting)
        return [f"⚑ {waiting} this month"] if waiting else []

    def back_out(self) -> bool:
        if self._day_open:
            self._day_open = False
            self.query_one("#calendar-day").display = False
            return True
        return False

    # --- actions ------------------------------------------------------------------------------------------

    def do_day(self) -> None:
        self._day_open = not self._day_open
        self.query_one("#calendar-day").display = self._day_open
        if self._day_open:
            self._show_day()

    def do_today(self) -> None:
        if self.grid is not None:
            self.grid.go(self.today())

    def _pick(self, items: list[data.WindowItem], title: str, then: Any, *, awaiting: bool = False) -> None:
        """One window of the day to act on (asked only when there are several); ``awaiting``: of those awaiting
        approval."""
        if awaiting:
            items = [w for w in items if w.awaiting]
        if not items:
            self.notify("no window awaits approval on this day" if awaiting else "no window on this day",
                        severity="warning")
            return
        if len(items) == 1:
            then(items[0])
            return

        def chosen(key: str | None) -> None:
            if key is not None:
                then(next(w for w in items if w.id == key))

        self.app.push_screen(ChoiceModal(title, [(w.id, f"{w.start.astimezone(self.tz):%H:%M} {w.title}")
                                                 for w in items]), chosen)

    def do_approve(self) -> None:
        self._pick(self.day_windows(), "Approve which window?", self._approve, awaiting=True)

    def _approve(self, item: data.WindowItem) -> None:
        ctx = self.ctx
        self.call_service("approval", lambda: windows.approval_preview(ctx, item.id), self._approve_dialog)

    def approval_lines(self, preview: dict[str, Any]) -> list[str]:
        w = preview["window"]
        start = datetime.fromisoformat(w["planned_start"]).astimezone(self.tz)
        end = datetime.fromisoformat(w["planned_end"]).astimezone(self.tz)
        lines = [f"{w['title']} ({w['maintenance_type']}) {w['id']}",
                 f"when: {start:%a %Y-%m-%d %H:%M} to {end:%H:%M} {self.tz_name}"
                 + (f", recurring {w['recurrence_pattern']!r} in {w['timezone']}" if w["recurrence_pattern"]
                    else ""),
                 "targets: " + "; ".join(f"{k} {', '.join(v)}" for k, v in w["targets"].items() if v),
                 f"requested by {w['created_by_name'] or 'system'}; details "
                 + json.dumps(w["details"], sort_keys=True), "",
                 "latest safety verdicts:"]
        for v in preview["verdicts"]:
            at = datetime.fromisoformat(v["at"]).astimezone(self.tz) if v["at"] else None
            lines.append(f"  {v['target']}: " + (f"{v['verdict']} ({v['healthy']} of {v['total']} healthy, checked "
                                                  f"{at:%Y-%m-%d %H:%M} {self.tz_name})" if v["verdict"] and at
                                                  else "never checked"))
        if not preview["verdicts"]:
            lines.append("  (servers only: no cluster or group rule applies)")
        for plan in preview["plans"]:
            lines.append("")
            if plan.get("error"):
                lines.append(f"plan of {plan['cluster']}: {plan['error']}")
            else:
                lines.append(f"plan of {plan['cluster']}:")
                lines.extend("  " + line for line in plan_lines(plan))
        return lines

    def _approve_dialog(self, preview: dict[str, Any]) -> None:
        lines = self.approval_lines(preview)
        wid = preview["window"]["id"]
        production = preview["production_clusters"]
        ctx = self.ctx

        def approve(typed: str | None) -> None:
            self.call_service("approve", lambda: windows.approve_window(ctx, wid, typed=typed),
                              lambda view: self.notify(f"approved window {view['title']}"))

        title = f"Approve window {preview['window']['title']}?"
        if production:
            expected = " ".join(production)
            self.app.push_screen(TypedConfirmModal(title, lines, expected, what="the cluster's name", wide=True),
                                 lambda ok: approve(expected) if ok else None)
        else:
            self.app.push_screen(ConfirmModal(title, lines), lambda ok: approve(None) if ok else None)

    def do_reject(self) -> None:
        self._pick(self.day_windows(), "Reject which window?", self._reject, awaiting=True)

    def _reject(self, item: data.WindowItem) -> None:
        ctx = self.ctx
        self.app.push_screen(FormModal(f"Reject window {item.title}", [FormField("reason", "Why (the requester "
                                                                                 "is told)")],
                                       lambda v: windows.reject_window(ctx, item.id, reason=v["reason"])),
                             self.after_dialog(f"rejected window {item.title}"))

    def do_new(self) -> None:
        ctx = self.ctx
        day = self.cursor
        tz_name = self.tz_name

        def create(values: dict[str, str]) -> dict[str, Any]:
            targets: dict[str, list[str]] = {"server": [], "cluster": [], "group": []}
            for word in values["targets"].split():
                kind, sep, name = word.partition(":")
                if not sep or kind not in targets or not name:
                    raise ValidationError("targets", f"{word!r} is not KIND:NAME",
                                          "write cluster:NAME, group:NAME or server:REF, separated by spaces")
                targets[kind].append(name)
            try:
                hours = float(values["hours"])
            except ValueError:
                raise ValidationError("hours", f"{values['hours']!r} is not a number", "e.g. 4") from None
            start = windows.parse_time("start", values["start"], values["timezone"] or tz_name)
            details = windows.parse_detail_words(values["details"].split())
            return windows.create_window(
                ctx, values["title"], maintenance_type=values["type"].strip(), start=start,
                end=start + timedelta(hours=hours), timezone=values["timezone"] or tz_name,
                servers=targets["server"], clusters=targets["cluster"], groups=targets["group"],
                requires_approval=values["approval"].strip().lower() in ("y", "yes", "true", "1"),
                cron=values["cron"].strip() or None, details=details, now=self.dsm.clock())

        fields = [
            FormField("title", "Title"),
            FormField("type", "Type", suggestions=("rolling_cluster_update", "firmware_update", "bios_update",
                                                   "health_check", "patch", "hardware")),
            FormField("targets", "Targets: cluster:NAME group:NAME server:REF (space-separated)"),
            FormField("start", "Start (local time in the zone below)", value=f"{day:%Y-%m-%d}T02:00"),
            FormField("hours", "Duration in hours", value="4"),
            FormField("timezone", "Time zone (IANA)", value=tz_name),
            FormField("approval", "Requires approval (yes/no)", value="yes"),
            FormField("cron", "Recurrence, cron in that zone (e.g. 30 2 * * 0)", required=False),
            FormField("details", "Details KEY=VALUE … (image_uri=… repository=… max_concurrent=…)",
                      required=False),
        ]
        self.app.push_screen(FormModal(f"New window on {day:%a %d %b %Y}", fields, create,
                                       note="Validated now exactly as the job it will create."),
                             self._created)

    def _created(self, view: dict[str, Any] | None) -> None:
        if view is None:
            return
        note = f"window {view['title']} planned" + (" — awaiting approval" if view["awaiting_approval"] else "")
        for warning in view.get("warnings") or []:
            note += f"; WARNING: {warning}"
        self.notify(note, timeout=6)
        self.schedule_poll(0)

    def do_report(self) -> None:
        self._pick(self.day_windows(), "Change record of which window?", self._report)

    def _report(self, item: data.WindowItem) -> None:
        ctx = self.ctx

        def write(values: dict[str, str]) -> str:
            fmt = values["format"].strip()
            text = window_report.window_report(ctx, item.id, fmt)
            path = Path(values["path"]).expanduser()
            path.write_text(text + "\n", encoding="utf-8")
            return str(path)

        default = Path.home() / f"dsm-window-{item.id[:8]}.md"
        self.app.push_screen(FormModal(f"Change record of {item.title}", [
            FormField("format", "Format: md, html or json", value="md"),
            FormField("path", "Write to", value=str(default))], write),
            lambda path: self.notify(f"wrote {path}") if path else None)
