"""A server's stored event log (SEL and Lifecycle), filtered as you type: ``severity:critical``,
``category:audit``, ``log:sel`` and words. Reads what fetch_event_logs stored (l fetches new entries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from dsm_core.filtering import FilterError, compile_filter
from dsm_core.services import history
from dsm_core.services.context import ServiceContext
from dsm_tui.widgets.table import Column, VirtualTable

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "ok": ""}


@dataclass(slots=True)
class EventRow:
    id: str
    timestamp: datetime
    severity: str
    log_type: str
    event_id: str
    message_id: str
    category: str
    message: str
    haystack: str = ""

    @property
    def key(self) -> str:
        return self.id


COLUMNS: list[Column[EventRow]] = [
    Column("when", "WHEN", 14, lambda r: f"{r.timestamp:%m-%d %H:%M:%S}", priority=0,
           sort_key=lambda r: r.timestamp.timestamp()),
    Column("severity", "SEVERITY", 8, lambda r: r.severity,
           lambda r: SEVERITY_STYLE.get(r.severity.lower(), ""), priority=0),
    Column("log", "LOG", 5, lambda r: r.log_type, priority=2),
    Column("category", "CATEGORY", 12, lambda r: r.category, priority=2),
    Column("msgid", "MSG ID", 8, lambda r: r.message_id, priority=1),
    Column("message", "MESSAGE", 30, lambda r: r.message, priority=0, flex=True),
]
FIELDS = {"severity": lambda r: r.severity, "category": lambda r: r.category, "log": lambda r: r.log_type,
          "id": lambda r: r.event_id, "msgid": lambda r: r.message_id}


def rows_from(entries: list[dict[str, Any]]) -> list[EventRow]:
    out = []
    for e in entries:
        row = EventRow(e["id"], datetime.fromisoformat(e["timestamp"]), e["severity"] or "", e["log_type"] or "",
                       e["event_id"] or "", e["message_id"] or "", e["category"] or "", e["message"] or "")
        row.haystack = " ".join((row.severity, row.category, row.message_id, row.message)).lower()
        out.append(row)
    return out


class EventsModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "close")]

    def __init__(self, ctx: ServiceContext, ref: str, title: str) -> None:
        super().__init__()
        self.ctx, self.ref, self.title_text = ctx, ref, title
        self.table: VirtualTable[EventRow] = VirtualTable(COLUMNS, empty="no entries stored (l fetches them)",
                                                          id="events")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(Text(f"Event log of {self.title_text} (newest first · Esc closes)"), classes="dialog-title")
            yield Input(placeholder="filter: severity:critical category:audit log:sel words", id="events-filter")
            yield Label("", id="events-error", classes="error")
            yield self.table

    def on_mount(self) -> None:
        self.table.sort_by("when", reverse=True)
        self.query_one(Input).focus()
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        rows = rows_from(history.event_logs(self.ctx, self.ref, limit=5000))
        self.app.call_from_thread(self.table.set_rows, rows)

    def on_input_changed(self, event: Input.Changed) -> None:
        error = self.query_one("#events-error", Label)
        try:
            self.table.set_filter(compile_filter(event.value, FIELDS))
        except FilterError as exc:
            error.update(Text(str(exc)))
            return
        error.update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
