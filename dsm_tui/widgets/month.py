"""A month grid of our own (Textual has no calendar widget): one cell per day, coloured by that day's safety and
marked with a glyph, so it reads in 16 colours, under NO_COLOR and for colour-blind operators alike:
``✔`` safe, ``!`` warning, ``✖`` unsafe, ``·`` unchecked. The day under the cursor is drawn reversed with a ``▸``.

Each cell lists the titles of the windows that start that day as far as the cell's height allows, then ``+N``.
Arrows (and h j k l) move a day or a week, PgUp/PgDn a month; the grid posts ``DayChanged`` and the screen loads
what it needs. Rendering is plain Rich text from the data it was given: no read of its own.
"""

from __future__ import annotations

import calendar as pycal
from datetime import date, timedelta
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from dsm_tui.data import CalendarMonth, WindowItem

GLYPH = {"safe": "✔", "warning": "!", "unsafe": "✖", "unchecked": "·"}
STYLE = {"safe": "green", "warning": "yellow", "unsafe": "bold red", "unchecked": "dim"}
WINDOW_STYLE = {"planned": "", "in_progress": "bold cyan", "completed": "green", "failed": "red",
                "skipped": "red", "cancelled": "dim strike", "rejected": "dim strike"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, pycal.monthrange(year, month + 1)[1]))


def window_label(w: WindowItem) -> str:
    return ("⚑ " if w.awaiting else "") + w.title


class MonthGrid(Widget, can_focus=True):
    DEFAULT_CSS = """
    MonthGrid { height: 1fr; width: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "move(-1)", "previous day", show=False),
        Binding("right,l", "move(1)", "next day", show=False),
        Binding("up,k", "move(-7)", "previous week", show=False),
        Binding("down,j", "move(7)", "next week", show=False),
        Binding("pageup,ctrl+b", "month(-1)", "previous month", show=False),
        Binding("pagedown,ctrl+f", "month(1)", "next month", show=False),
    ]

    class DayChanged(Message):
        def __init__(self, day: date, month_changed: bool) -> None:
            super().__init__()
            self.day = day
            self.month_changed = month_changed

    def __init__(self, today: date, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.today = today
        self.cursor = today
        self.data: CalendarMonth | None = None

    def show(self, data: CalendarMonth) -> None:
        self.data = data
        self.refresh()

    def go(self, day: date) -> None:
        month_changed = (day.year, day.month) != (self.cursor.year, self.cursor.month)
        self.cursor = day
        self.refresh()
        self.post_message(self.DayChanged(day, month_changed))

    def action_move(self, days: int) -> None:
        self.go(self.cursor + timedelta(days=days))

    def action_month(self, months: int) -> None:
        self.go(add_months(self.cursor, months))

    def render(self) -> Text:
        return render_month(self.cursor, self.today, self.data, self.size.width, self.size.height)


def render_month(cursor: date, today: date, data: CalendarMonth | None, width: int, height: int) -> Text:
    """The grid as text for a ``width`` x ``height`` area: what the widget draws (and the benchmark times)."""
    cell = max(4, width // 7)
    weeks = pycal.Calendar(firstweekday=0).monthdatescalendar(cursor.year, cursor.month)
    lines_per_week = max(1, (height - 1) // len(weeks))
    out = Text(no_wrap=True, overflow="crop")
    for name in WEEKDAYS:
        out.append(name[: cell - 1].ljust(cell), "bold")
    shown = data if data is not None and (data.year, data.month) == (cursor.year, cursor.month) else None
    for week in weeks:
        rows = [Text(no_wrap=True, overflow="crop") for _ in range(lines_per_week)]
        for day in week:
            _cell(rows, day, cell, shown, cursor, today)
        for row in rows:
            out.append("\n")
            out.append_text(row)
    return out


def _cell(rows: list[Text], day: date, cell: int, data: CalendarMonth | None, cursor: date, today: date) -> None:
    in_month = day.month == cursor.month
    status = (data.statuses.get(day, "unchecked") if data is not None else "unchecked") if in_month \
        else "unchecked"
    windows = (data.windows.get(day, []) if data is not None else []) if in_month else []
    at_cursor = day == cursor
    head = f"{'▸' if at_cursor else ' '}{day.day:>2} {GLYPH[status]}"
    if len(rows) == 1 and windows:
        head += f" {len(windows)}w"
    style = STYLE[status] if in_month else "dim"
    if day == today:
        style += " underline"
    if at_cursor:
        style += " reverse"
    rows[0].append(head[: cell - 1].ljust(cell - 1), style)
    rows[0].append(" ")
    room = len(rows) - 1
    shown = windows if len(windows) <= room else windows[: max(0, room - 1)]
    for i in range(1, len(rows)):
        if i - 1 < len(shown):
            w = shown[i - 1]
            text, wstyle = window_label(w), "bold yellow" if w.awaiting else WINDOW_STYLE.get(w.status, "")
        elif i - 1 == len(shown) and len(windows) > len(shown):
            text, wstyle = f"+{len(windows) - len(shown)}", "bold"
        else:
            text, wstyle = "", ""
        rows[i].append((" " + text)[: cell - 1].ljust(cell - 1), wstyle)
        rows[i].append(" ")
