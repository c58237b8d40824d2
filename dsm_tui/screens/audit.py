"""Audit (admins): every change made through DSM, who made it and from where, newest first.

The same service read as `dsm audit list`; the / filter takes ``user:``, ``action:`` and words (matched in
the target and the details); Enter shows the whole entry as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult

from dsm_core.filtering import compile_filter
from dsm_core.services import audit as audit_service
from dsm_tui import data
from dsm_tui.actions import ActionContext
from dsm_tui.modals.text import TextModal
from dsm_tui.screens.base import DsmScreen
from dsm_tui.widgets.jsonview import json_view
from dsm_tui.widgets.table import Column, VirtualTable

LIMIT = 2000


@dataclass(slots=True)
class AuditRow:
    id: str
    timestamp: datetime
    username: str
    action: str
    target: str
    summary: str
    ip_address: str
    entry: dict[str, Any]
    login: str = ""
    """The database login PostgreSQL recorded (dsm_core.db.roles); empty on SQLite."""
    haystack: str = ""

    @property
    def key(self) -> str:
        return self.id


def _summary(details: dict[str, Any] | None) -> str:
    if not details:
        return ""
    return json.dumps(details, sort_keys=True, ensure_ascii=True, default=str)


def rows_from(entries: list[dict[str, Any]]) -> list[AuditRow]:
    out = []
    for e in entries:
        row = AuditRow(e["id"], datetime.fromisoformat(e["timestamp"]), e["username"], e["action"],
                       f"{e['target_type'] or ''} {e['target_id'] or ''}".strip(), _summary(e["details"]),
                       e["ip_address"] or "", e, e.get("db_user") or "")
        row.haystack = " ".join((row.username, row.login, row.action, row.target, row.summary,
                                 row.ip_address)).lower()
        out.append(row)
    return out


def audit_columns(clock: Any) -> list[Column[AuditRow]]:
    return [
        Column("age", "AGE", 5, lambda r: data.age(r.timestamp, clock()), priority=1,
               sort_key=lambda r: r.timestamp.timestamp()),
        Column("user", "USER", 10, lambda r: r.username, priority=0),
        Column("action", "ACTION", 24, lambda r: r.action, priority=0),
        Column("what", "WHAT", 30, lambda r: r.summary, priority=0, flex=True),
        Column("from", "FROM", 15, lambda r: r.ip_address, priority=3),
        Column("login", "DB LOGIN", 12, lambda r: r.login, priority=4),
    ]


FILTER_FIELDS = {"user": lambda r: r.username, "action": lambda r: r.action, "target": lambda r: r.target}


class AuditScreen(DsmScreen):
    VIEW: ClassVar[str] = "audit"
    AUTO_FOCUS = "#audit"
    POLL_SECONDS: ClassVar[float] = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.table: VirtualTable[AuditRow] = VirtualTable(
            audit_columns(lambda: self.dsm.clock()), empty="no audit entries", id="audit")

    def body(self) -> ComposeResult:
        yield self.table

    def on_mount(self) -> None:
        super().on_mount()
        self.table.sort_by("age", reverse=True)

    def focus_main(self) -> None:
        self.table.focus()

    def load(self) -> list[AuditRow]:
        return rows_from(audit_service.list_audit(self.ctx, limit=LIMIT))

    def apply(self, rows: list[AuditRow]) -> None:
        if [r.id for r in rows] != [r.id for r in self.table.rows]:
            self.table.set_rows(rows)
        self.show_count(len(self.table.shown), len(self.table.rows))
        self.selection_changed()

    def apply_filter(self, text: str) -> None:
        self.table.set_filter(compile_filter(text, FILTER_FIELDS))
        self.show_count(len(self.table.shown), len(self.table.rows))

    def action_context(self) -> ActionContext:
        return ActionContext(selected=1 if self.table.current else 0)

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        self.selection_changed()

    def do_detail(self) -> None:
        row = self.table.current
        if row is None:
            return
        head = Text(f"{row.timestamp:%Y-%m-%d %H:%M:%S} UTC  {row.username} {row.action}  {row.target}"
                    + (f"  from {row.ip_address}" if row.ip_address else ""), style="bold")
        self.app.push_screen(TextModal(f"audit {row.action}", Group(head, Text(""), json_view(row.entry))))

    def do_copy(self) -> None:
        row = self.table.current
        if row is not None:
            self.copy_text(json.dumps(row.entry, sort_keys=True, ensure_ascii=True), "the entry")
