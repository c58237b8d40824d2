"""Clusters: every vSphere cluster DSM synced, its DRS/HA/admission settings, hosts, links and safety history.

Enter shows the cluster's hosts (connection, maintenance, linked server, update priority) and the reasons of its
last safety verdict. ``c`` runs a safety check now, ``ctrl+r`` syncs the vCenters, ``u`` opens the rolling-update
wizard: source, hosts at a time and minimum → the plan (order, changes, estimate, margin per host) → the cluster's
name typed to start it. Nothing here talks to vCenter: each of these is a job the worker runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from dsm_core.filtering import compile_filter
from dsm_core.services import jobs as job_service
from dsm_core.services import rolling
from dsm_core.services.errors import ValidationError
from dsm_tui import data
from dsm_tui.actions import ActionContext
from dsm_tui.modals.confirm import TypedConfirmModal
from dsm_tui.modals.form import FormField, FormModal
from dsm_tui.modals.text import TextModal
from dsm_tui.screens.base import DsmScreen
from dsm_tui.widgets.table import Column, VirtualTable

VERDICT_STYLE = {"safe": "green", "unsafe": "bold red", "": "dim"}

FILTER_FIELDS = {
    "name": lambda r: r.name,
    "vcenter": lambda r: r.vcenter,
    "dc": lambda r: r.datacenter,
    "safety": lambda r: r.verdict or "unchecked",
    "drs": lambda r: r.drs,
}


def cluster_columns(clock: Any) -> list[Column[data.ClusterRow]]:
    return [
        Column("name", "CLUSTER", 16, lambda r: r.name, priority=0, flex=True, sort_key=lambda r: r.name),
        Column("vcenter", "VCENTER", 10, lambda r: r.vcenter, priority=2),
        Column("dc", "DC", 8, lambda r: r.datacenter, priority=3),
        Column("drs", "DRS", 14, lambda r: r.drs, priority=1, style=lambda r: "" if r.drs != "off" else "red"),
        Column("ha", "HA", 3, lambda r: "on" if r.ha else "off", priority=1,
               style=lambda r: "" if r.ha else "red"),
        Column("adm", "ADM", 3, lambda r: "-" if r.admission is None else ("on" if r.admission else "off"),
               priority=3),
        Column("hosts", "HOSTS", 5, lambda r: str(r.hosts), priority=0, sort_key=lambda r: r.hosts),
        Column("conn", "CONN", 4, lambda r: str(r.connected), priority=1,
               style=lambda r: "" if r.connected == r.hosts else "red"),
        Column("maint", "MAINT", 5, lambda r: str(r.in_maintenance), priority=1,
               style=lambda r: "yellow" if r.in_maintenance else ""),
        Column("linked", "LINKED", 6, lambda r: f"{r.linked}/{r.hosts}", priority=2,
               style=lambda r: "" if r.linked == r.hosts else "yellow"),
        Column("safety", "SAFETY", 7, lambda r: r.verdict or "—", priority=0,
               style=lambda r: VERDICT_STYLE.get(r.verdict, ""), sort_key=lambda r: r.verdict),
        Column("history", "LAST 30 CHECKS", 30, lambda r: r.sparkline or "—", priority=2),
        Column("checked", "CHECKED", 7, lambda r: data.age(r.checked_at, clock()), priority=3,
               sort_key=lambda r: r.checked_at.timestamp() if r.checked_at else 0),
    ]


def host_columns() -> list[Column[data.HostRow]]:
    return [
        Column("prio", "PRIO", 4, lambda r: "-" if r.priority is None else str(r.priority), priority=1),
        Column("host", "HOST", 16, lambda r: r.name, priority=0, flex=True),
        Column("connection", "CONNECTION", 12, lambda r: r.connection, priority=0,
               style=lambda r: "" if r.connection == "connected" else "red"),
        Column("maint", "MAINT", 5, lambda r: "yes" if r.maintenance else "no", priority=0,
               style=lambda r: "yellow" if r.maintenance else ""),
        Column("status", "STATUS", 6, lambda r: r.status, priority=1,
               style=lambda r: {"green": "green", "yellow": "yellow", "red": "red"}.get(r.status, "dim")),
        Column("server", "SERVER", 16, lambda r: r.server or "not linked", priority=0,
               style=lambda r: "" if r.server else "yellow"),
        Column("tag", "TAG", 8, lambda r: r.tag, priority=2),
        Column("esxi", "ESXI", 16, lambda r: r.esxi, priority=3),
        Column("vms", "VMS", 4, lambda r: str(r.vms), priority=2),
    ]


def plan_lines(plan: dict[str, Any]) -> list[str]:
    source = plan["source"].get("repository") or plan["source"].get("image_uri")
    lines = [f"firmware from {source}; as of the sync at {plan['as_of'] or 'never'}",
             f"{plan['healthy_hosts']} of {plan['total_hosts']} host(s) healthy, minimum "
             f"{plan['min_required_hosts']}, {plan['max_concurrent']} at a time (margin = healthy - down - minimum)",
             ""]
    for h in plan["hosts"]:
        changes = "; ".join(f"{c['component']} {c['from']}→{c['to']}" for c in h["components"]) \
            or h["components_basis"]
        minutes = h["estimated_seconds"] // 60
        lines.append(f"{h['order']:>2}. {h['host']}  {h['server'] or 'NOT LINKED'}  ~{minutes} min "
                     f"({h['estimate_basis']})  margin {h['margin']}")
        lines.append(f"    {changes}")
    lines.append(f"estimated total ~{plan['estimated_total_seconds'] // 60} min · plan {plan['digest']}")
    for problem in plan.get("problems", []):
        lines.append(f"UNSAFE: {problem}")
    return lines


class ClustersScreen(DsmScreen):
    VIEW: ClassVar[str] = "clusters"
    AUTO_FOCUS = "#clusters"
    POLL_SECONDS: ClassVar[float] = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.table: VirtualTable[data.ClusterRow] = VirtualTable(
            cluster_columns(lambda: self.dsm.clock()),
            empty="no clusters: add a vCenter (`dsm vcenter add NAME --url https://HOST ...`) and sync it (ctrl+r)",
            id="clusters")
        self.hosts: VirtualTable[data.HostRow] = VirtualTable(host_columns(), empty="no hosts", id="cluster-hosts")
        self._detail_for: Any = None

    def body(self) -> ComposeResult:
        yield self.table
        with Vertical(id="cluster-detail") as pane:
            pane.display = False
            yield Static("", id="cluster-summary")
            yield self.hosts

    def focus_main(self) -> None:
        self.table.focus()

    def load(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": data.load_clusters(self.dsm.engine)}
        if self._detail_for is not None:
            out["hosts"] = data.cluster_hosts(self.dsm.engine, self._detail_for)
        return out

    def apply(self, result: dict[str, Any]) -> None:
        rows: list[data.ClusterRow] = result["rows"]
        old = {r.key: r for r in self.table.rows}
        if len(old) != len(rows) or any(old.get(r.key) != r for r in rows):
            self.table.set_rows(rows)
        if "hosts" in result:
            self._show_detail(result["hosts"])
        self.show_count(len(self.table.shown), len(self.table.rows))
        self.selection_changed()

    def apply_filter(self, text: str) -> None:
        self.table.set_filter(compile_filter(text, FILTER_FIELDS))
        self.show_count(len(self.table.shown), len(self.table.rows))

    def action_context(self) -> ActionContext:
        return ActionContext(selected=1 if self.table.current is not None else 0)

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        self.selection_changed()
        row = self.table.current
        if self._detail_for is not None and row is not None and row.id != self._detail_for:
            self._detail_for = row.id
            self.schedule_poll(0)

    def _show_detail(self, hosts: list[data.HostRow]) -> None:
        row = self.table.current
        if row is None:
            return
        head = Text()
        head.append(f"{row.name}", style="bold")
        head.append(f"  vCenter {row.vcenter} · DC {row.datacenter or '-'} · DRS {row.drs} · HA "
                    f"{'on' if row.ha else 'off'} · last sync {data.age(row.last_sync, self.dsm.clock())} ago")
        parts: list[Any] = [head]
        if row.verdict:
            verdict = Text(f"last safety check: {row.verdict}", style=VERDICT_STYLE.get(row.verdict, ""))
            verdict.append(f" ({data.age(row.checked_at, self.dsm.clock())} ago)  {row.sparkline}", style="")
            parts.append(verdict)
            parts.extend(Text(f"  - {reason}", style="red") for reason in row.reasons)
        else:
            parts.append(Text("never checked: c runs a safety check", style="dim"))
        self.query_one("#cluster-summary", Static).update(Group(*parts))
        self.hosts.set_rows(hosts)

    def back_out(self) -> bool:
        if self._detail_for is not None:
            self._detail_for = None
            self.query_one("#cluster-detail").display = False
            self.table.focus()
            return True
        return False

    # --- actions ------------------------------------------------------------------------------------------

    def do_detail(self) -> None:
        row = self.table.current
        if row is None:
            return
        if self._detail_for == row.id:
            self.back_out()
            return
        self._detail_for = row.id
        self.query_one("#cluster-detail").display = True
        self.schedule_poll(0)

    def do_check(self) -> None:
        row = self.table.current
        if row is None:
            return
        ctx = self.ctx
        self.call_service("safety check", lambda: job_service.create_job(ctx, "cluster_safety_check",
                                                                         clusters=[row.name]), self.job_created)

    def do_sync(self) -> None:
        ctx = self.ctx
        self.call_service("vCenter sync", lambda: job_service.create_job(ctx, "vcenter_sync"), self.job_created)

    def do_update(self) -> None:
        row = self.table.current
        if row is None:
            return
        ctx = self.ctx

        def build(values: dict[str, str]) -> dict[str, Any]:
            source = values["source"].strip()
            try:
                max_concurrent, minimum = int(values["max_concurrent"]), int(values["min_hosts"])
            except ValueError:
                raise ValidationError("max_concurrent", "hosts at a time and the minimum are whole numbers",
                                      "e.g. 1 and 2") from None
            options: dict[str, Any] = {"max_concurrent": max_concurrent, "min_required_hosts": minimum}
            options["image_uri" if "://" in source else "repository"] = source
            plan = rolling.plan_rolling_update(ctx, row.name, **options)
            return {"plan": plan, "options": options}

        fields = [
            FormField("source", "Firmware: a repository name, or an image URI (http/https/nfs/cifs)"),
            FormField("max_concurrent", "Hosts at a time", value="1"),
            FormField("min_hosts", "Healthy hosts that must remain", value="2"),
        ]
        self.app.push_screen(FormModal(f"Rolling update of {row.name}: 1/2 targets and source", fields, build,
                                       note="The plan comes next; nothing starts before you type the cluster's "
                                            "name."), self._show_plan)

    def _show_plan(self, result: dict[str, Any] | None) -> None:
        if result is None:
            return
        plan, options = result["plan"], result["options"]
        lines = plan_lines(plan)
        if not plan["safe"]:
            self.app.push_screen(TextModal(f"Rolling update of {plan['cluster']}: not safe",
                                           Text("\n".join(lines))))
            return
        ctx = self.ctx

        def start() -> None:
            self.call_service("rolling update", lambda: rolling.start_rolling_update(
                ctx, plan["cluster"], **options, accepted_digest=plan["digest"]), self.job_created)

        self.app.push_screen(
            TypedConfirmModal(f"Rolling update of {plan['cluster']}: 2/2 the plan", lines, plan["cluster"],
                              what="the cluster's name", wide=True),
            lambda ok: start() if ok else None)

    def do_sort(self) -> None:
        self.choose_sort(self.table)
