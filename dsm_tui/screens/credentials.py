"""Credentials: credential sets and the IP ranges they apply to.

Passwords are typed into masked inputs, sealed for the worker by the service layer and never read
back: the view shows only whether a password is set. The TUI can seal, never unseal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from dsm_core.credentials.secret import Secret
from dsm_core.filtering import compile_filter
from dsm_core.services import credentials as cred_service
from dsm_tui.actions import BY_ID, ActionContext
from dsm_tui.modals.form import FormField, FormModal
from dsm_tui.screens.base import DsmScreen
from dsm_tui.widgets.table import Column, VirtualTable


@dataclass(slots=True)
class CredentialRow:
    name: str
    username: str
    priority: int
    is_default: bool
    password_set: bool
    ranges: tuple[str, ...]
    description: str
    haystack: str = ""

    @property
    def key(self) -> str:
        return self.name


def rows_from(sets: list[dict[str, Any]]) -> list[CredentialRow]:
    out = []
    for s in sets:
        ranges = tuple(f"{r['ip_range']} (prio {r['priority']})" for r in s.get("ranges", []))
        row = CredentialRow(s["name"], s["username"], s["priority"], bool(s.get("is_default")),
                            bool(s.get("password_set")), ranges, s.get("description") or "")
        row.haystack = " ".join((row.name, row.username, *ranges, row.description)).lower()
        out.append(row)
    return out


COLUMNS: list[Column[CredentialRow]] = [
    Column("name", "SET", 16, lambda r: r.name + (" (default)" if r.is_default else ""), priority=0),
    Column("username", "USER", 12, lambda r: r.username, priority=0),
    Column("priority", "PRIO", 4, lambda r: str(r.priority), priority=1, sort_key=lambda r: r.priority),
    Column("password", "PASSWORD", 8, lambda r: "sealed" if r.password_set else "NOT SET",
           lambda r: "green" if r.password_set else "bold red", priority=0),
    Column("ranges", "RANGES", 30, lambda r: ", ".join(x.split(" ")[0] for x in r.ranges) or "—", priority=0,
           flex=True),
]
FILTER_FIELDS = {"name": lambda r: r.name, "user": lambda r: r.username, "range": lambda r: " ".join(r.ranges)}


class CredentialsScreen(DsmScreen):
    VIEW: ClassVar[str] = "credentials"
    AUTO_FOCUS = "#credentials"
    POLL_SECONDS: ClassVar[float] = 3.0

    def __init__(self) -> None:
        super().__init__()
        self.table: VirtualTable[CredentialRow] = VirtualTable(COLUMNS, empty="no credential sets", id="credentials")

    def body(self) -> ComposeResult:
        yield self.table
        yield Static("", id="credential-detail")

    def focus_main(self) -> None:
        self.table.focus()

    def load(self) -> list[CredentialRow]:
        return rows_from(cred_service.list_credential_sets(self.ctx))

    def apply(self, rows: list[CredentialRow]) -> None:
        if [r for r in rows] != list(self.table.rows):
            self.table.set_rows(rows)
        self._show_detail()
        self.selection_changed()

    def apply_filter(self, text: str) -> None:
        self.table.set_filter(compile_filter(text, FILTER_FIELDS))

    def action_context(self) -> ActionContext:
        return ActionContext(selected=1 if self.table.current else 0)

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        self._show_detail()
        self.selection_changed()

    def _show_detail(self) -> None:
        row = self.table.current
        text = Text()
        if row is not None:
            text.append(f"{row.name}", style="bold")
            text.append(f"  user {row.username} · priority {row.priority}"
                        f"{' · default set' if row.is_default else ''} · password "
                        f"{'sealed for the worker' if row.password_set else 'NOT SET'}\n")
            if row.description:
                text.append(row.description + "\n", style="dim")
            text.append("ranges: " + (", ".join(row.ranges) or "none (applies only when linked or default)"))
        self.query_one("#credential-detail", Static).update(text)

    # --- actions (admin) ------------------------------------------------------------------------------

    def do_add(self) -> None:
        ctx = self.ctx

        def submit(v: dict[str, str]) -> dict[str, Any]:
            prio = v["priority"].strip() or "100"
            if not prio.lstrip("-").isdigit():
                raise ValueError(f"priority: {prio!r} is not a whole number; lower numbers are tried first")
            return cred_service.add_credential_set(
                ctx, v["name"].strip(), v["username"].strip(), Secret(v["password"]),
                ranges=[r.strip() for r in v["ranges"].split(",") if r.strip()], priority=int(prio),
                is_default=v["default"].strip().lower() in ("y", "yes", "true", "1"),
            )

        fields = [
            FormField("name", "name", "lab"),
            FormField("username", "iDRAC user", "root"),
            FormField("password", "password (sealed for the worker, never shown again)", password=True),
            FormField("ranges", "IP ranges", "10.0.0.0/24, 10.0.1.0/24", required=False),
            FormField("priority", "priority", "100 (lower is tried first)", required=False),
            FormField("default", "default set? (y/n)", "n", required=False),
        ]
        self.app.push_screen(FormModal("Add a credential set", fields, submit),
                             self.after_dialog("credential set added"))

    def do_password(self) -> None:
        row = self.table.current
        if row is None:
            return
        ctx = self.ctx

        def submit(v: dict[str, str]) -> bool:
            cred_service.set_credential_password(ctx, row.name, Secret(v["password"]))
            return True

        self.app.push_screen(
            FormModal(f"New password for {row.name}", [FormField("password", "password", password=True)], submit),
            self.after_dialog(f"password of {row.name} replaced (sealed)"),
        )

    def do_add_range(self) -> None:
        row = self.table.current
        if row is None:
            return
        ctx = self.ctx

        def submit(v: dict[str, str]) -> bool:
            prio = v["priority"].strip() or "100"
            if not prio.lstrip("-").isdigit():
                raise ValueError(f"priority: {prio!r} is not a whole number")
            cred_service.add_ip_range(ctx, row.name, v["cidr"].strip(), int(prio))
            return True

        self.app.push_screen(
            FormModal(f"Add an IP range to {row.name}",
                      [FormField("cidr", "range (CIDR)", "10.0.2.0/24"),
                       FormField("priority", "priority", "100", required=False)], submit),
            self.after_dialog("range added"),
        )

    def do_remove_range(self) -> None:
        row = self.table.current
        if row is None or not row.ranges:
            self.notify("this set has no ranges", severity="warning")
            return
        ctx = self.ctx

        def submit(v: dict[str, str]) -> bool:
            cred_service.remove_ip_range(ctx, row.name, v["cidr"].strip())
            return True

        self.app.push_screen(
            FormModal(f"Remove an IP range of {row.name}",
                      [FormField("cidr", "range", row.ranges[0].split(" ")[0])], submit,
                      note="ranges: " + ", ".join(r.split(" ")[0] for r in row.ranges)),
            self.after_dialog("range removed"),
        )

    def do_remove(self) -> None:
        row = self.table.current
        if row is None:
            return
        ctx = self.ctx
        self.confirm(BY_ID["credentials.remove"], f"Delete credential set {row.name}?", [row.name],
                     lambda: self.call_service("delete set", lambda: cred_service.remove_credential_set(ctx, row.name),
                                               lambda _: self.notify(f"credential set {row.name} deleted")))
