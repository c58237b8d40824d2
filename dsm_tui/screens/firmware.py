"""Firmware: the fleet against its local repositories' catalogs, one row per server and catalog.

The first read takes the stored counts only (10,000 servers paint at once); later reads add what each
component is, for the ``component:`` filter. Enter drills down to the server's components; space marks;
``u`` updates the marked servers from the row's repository (typed confirmation: the count or the name).
Filters: ``state:upgrade``, ``crit:urgent``, ``model:R750``, ``component:bios``, ``repo:``, ``ip:``, words.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult

from dsm_core.filtering import compile_filter
from dsm_core.services import jobs as job_service
from dsm_tui import data
from dsm_tui.actions import BY_ID, ActionContext
from dsm_tui.modals.choice import ChoiceModal
from dsm_tui.modals.text import TextModal
from dsm_tui.screens.base import DsmScreen
from dsm_tui.widgets.table import Column, VirtualTable

CRIT_STYLE = {"Urgent": "bold red", "Recommended": "yellow", "Optional": "dim"}
STATE_STYLE = {"upgrade": "yellow", "downgrade": "magenta", "not_in_catalog": "dim", "compliant": "green"}


def _states(r: data.FirmwareRow) -> str:
    return " ".join(s for s, n in (("upgrade", r.upgrade), ("downgrade", r.downgrade),
                                   ("not_in_catalog", r.not_in_catalog), ("compliant", r.compliant)) if n)


FILTER_FIELDS = {
    "state": _states,
    "crit": lambda r: r.top_criticality,
    "model": lambda r: r.model,
    "component": lambda r: r.components or r.top_component,
    "repo": lambda r: r.repository,
    "ip": lambda r: r.ip,
    "tag": lambda r: r.service_tag,
    "name": lambda r: r.name,
}


def firmware_columns(clock: Any) -> list[Column[data.FirmwareRow]]:
    def count(n: int) -> str:
        return str(n) if n else "·"

    return [
        Column("server", "SERVER", 18, lambda r: r.name, priority=0, sort_key=lambda r: r.name),
        Column("tag", "TAG", 8, lambda r: r.service_tag, priority=2),
        Column("model", "MODEL", 7, lambda r: r.model, priority=2),
        Column("upgrade", "UPG", 4, lambda r: count(r.upgrade), priority=0, sort_key=lambda r: r.upgrade),
        Column("downgrade", "DOWN", 4, lambda r: count(r.downgrade), priority=1, sort_key=lambda r: r.downgrade),
        Column("not_in_catalog", "N/C", 4, lambda r: count(r.not_in_catalog), priority=3,
               sort_key=lambda r: r.not_in_catalog),
        Column("compliant", "OK", 4, lambda r: count(r.compliant), priority=1, sort_key=lambda r: r.compliant),
        Column("critical", "MOST CRITICAL PENDING", 30,
               lambda r: f"{r.top_criticality} {r.top_component}".strip() or "—", priority=0, flex=True,
               sort_key=lambda r: (data.CRITICALITY_RANK.get(r.top_criticality, 0), r.upgrade)),
        Column("repo", "REPO", 12, lambda r: r.repository, priority=3),
        Column("age", "CHECKED", 7, lambda r: data.age(r.computed_at, clock()), priority=4,
               sort_key=lambda r: r.computed_at.timestamp() if r.computed_at else 0),
    ]


class FirmwareScreen(DsmScreen):
    VIEW: ClassVar[str] = "firmware"
    AUTO_FOCUS = "#firmware"
    POLL_SECONDS: ClassVar[float] = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.table: VirtualTable[data.FirmwareRow] = VirtualTable(
            firmware_columns(lambda: self.dsm.clock()),
            empty="no compliance yet: add a repository and sync it (`dsm firmware repo add`, `... repo sync`)",
            id="firmware")
        self._full = False

    def body(self) -> ComposeResult:
        yield self.table

    def on_mount(self) -> None:
        super().on_mount()
        self.table.sort_by("critical", reverse=True)

    def focus_main(self) -> None:
        self.table.focus()

    def load(self) -> list[data.FirmwareRow]:
        full = self._full
        self._full = True  # the first paint reads counts only; every later read includes the components
        return data.load_firmware(self.dsm.engine, with_components=full)

    def apply(self, rows: list[data.FirmwareRow]) -> None:
        old = {r.key: r for r in self.table.rows}
        if len(old) != len(rows) or any(old.get(r.key) != r for r in rows):
            self.table.set_rows(rows)
        self.show_count(len(self.table.shown), len(self.table.rows))
        self.selection_changed()

    def apply_filter(self, text: str) -> None:
        self.table.set_filter(compile_filter(text, FILTER_FIELDS))
        self.show_count(len(self.table.shown), len(self.table.rows))

    def action_context(self) -> ActionContext:
        return ActionContext(selected=self.table.selection_count())

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        self.selection_changed()

    # --- actions ------------------------------------------------------------------------------------------

    def do_detail(self) -> None:
        row = self.table.current
        if row is None:
            return
        engine = self.dsm.engine
        self.call_service("components", lambda: data.firmware_components(engine, row.server_id, row.repository),
                          lambda comps: self._show_components(row, comps))

    def _show_components(self, row: data.FirmwareRow, comps: list[data.ComponentRow]) -> None:
        table = Table(box=None, padding=(0, 1), pad_edge=False, expand=True)
        table.add_column("COMPONENT", no_wrap=True, overflow="ellipsis", ratio=1)
        for name, width in (("INSTALLED", 12), ("AVAILABLE", 12), ("STATE", 15), ("CRITICALITY", 12),
                            ("REBOOT", 6)):
            table.add_column(name, no_wrap=True, overflow="ellipsis", min_width=width)
        for c in comps:
            table.add_row(Text(c.component + (f" ({c.fqdd})" if c.fqdd else "")), Text(c.installed),
                          Text(c.available or "—"),
                          Text(c.state.replace("_", " "), style=STATE_STYLE.get(c.state, "")),
                          Text(c.criticality, style=CRIT_STYLE.get(c.criticality, "")), Text(c.reboot))
        head = Text(f"{row.name} {row.ip}:{row.port} {row.service_tag} {row.model} — catalog of {row.repository}",
                    style="bold")
        self.app.push_screen(TextModal(f"firmware {row.name}", Group(head, Text(""), table)))

    def do_mark(self) -> None:
        self.table.toggle_mark()
        self.table.action_cursor(1)
        self.selection_changed()

    def do_mark_all(self) -> None:
        self.table.mark_shown()
        self.table.refresh()
        self.selection_changed()

    def do_update(self) -> None:
        targets = self.table.selection()
        if not targets:
            return
        repos = sorted({r.repository for r in targets})
        if len(repos) != 1:
            self.notify("the marked rows name more than one repository: mark servers of one catalog",
                        severity="warning")
            return
        repo = repos[0]
        options = [
            ("repository", f"install from {repo}: the iDRAC applies what its catalog offers, reboot now"),
            ("staged", f"install from {repo}, staged for the next reboot (no reboot now)"),
            ("compare", f"compare only: ask each iDRAC what it would update from {repo}"),
        ]

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            details: dict[str, Any] = {"repository": repo}
            if choice == "staged":
                details["reboot"] = "none"
            if choice == "compare":
                details["compare_only"] = True
            names = [f"{r.name} ({r.upgrade} upgrade{'s' if r.upgrade != 1 else ''})" for r in targets]
            verb = "Compare" if choice == "compare" else "Update firmware of"
            self.confirm(BY_ID["firmware.update"], f"{verb} {len(targets)} server(s) from {repo}?", names,
                         lambda: self._create(targets, details))

        self.app.push_screen(ChoiceModal("Firmware update", options), chosen)

    def _create(self, targets: list[data.FirmwareRow], details: dict[str, Any]) -> None:
        ctx = self.ctx
        ids = list(dict.fromkeys(str(r.server_id) for r in targets))

        def done(job: dict[str, Any]) -> None:
            self.table.marked.clear()
            self.table.refresh()
            self.job_created(job)

        self.call_service("firmware update",
                          lambda: job_service.create_job(ctx, "firmware_update", servers=ids, details=details), done)

    def do_sync(self) -> None:
        repos = sorted({r.repository for r in self.table.rows})
        ctx = self.ctx
        if not repos:
            self.notify("no repository has compliance yet: `dsm firmware repo sync NAME`", severity="warning")
            return
        def sync(name: str) -> Any:
            return lambda: job_service.create_job(ctx, "firmware_catalog_sync", details={"repository": name})

        for repo in repos:
            self.call_service("catalog sync", sync(repo), self.job_created)

    def do_sort(self) -> None:
        self.choose_sort(self.table)
