"""Servers: the fleet as a virtual table, a group tree, a detail pane and the actions that make jobs.

Reads are incremental: the first poll loads every server, later polls only rows whose
``updated_at`` moved, plus what each server's job is doing, so a 10,000-server fleet costs a few
rows per tick. Every action creates a job through ``dsm_core.services.jobs``; the row's job column
shows it running and finishing.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Static, TabbedContent, TabPane, Tree

from dsm_core.filtering import compile_filter
from dsm_core.services import configuration
from dsm_core.services import jobs as job_service
from dsm_core.services import servers as server_service
from dsm_tui import data
from dsm_tui.actions import BY_ID, ActionContext
from dsm_tui.modals.form import FormField, FormModal
from dsm_tui.screens.base import DsmScreen
from dsm_tui.widgets.nested import render_nested
from dsm_tui.widgets.table import Column, VirtualTable

HEALTH_STYLE = {"critical": "bold red", "warning": "yellow", "ok": "green"}
POWER_STYLE = {"on": "green", "off": "dim"}
CONN_STYLE = {"failed": "red", "unknown": "dim"}


def _health_style(row: data.ServerRow) -> str:
    return HEALTH_STYLE.get(row.health.lower(), "dim")


def _job_style(row: data.ServerRow) -> str:
    if row.job.startswith("✗"):
        return "red"
    if row.job.startswith("✓"):
        return "green"
    return "cyan" if row.job else ""


def server_columns(clock: Any) -> list[Column[data.ServerRow]]:
    return [
        Column("name", "NAME", 18, lambda r: r.name, priority=0, flex=True),
        Column("ip", "ADDRESS", 21, lambda r: r.address, priority=0, sort_key=lambda r: r.ip_key),
        Column("health", "HEALTH", 8, lambda r: r.health or "?", _health_style, priority=0),
        Column("power", "POWER", 5, lambda r: r.power or "?",
               lambda r: POWER_STYLE.get(r.power.lower(), "dim"), priority=1),
        Column("job", "JOB", 16, lambda r: r.job, _job_style, priority=1),
        Column("tag", "TAG", 8, lambda r: r.service_tag, priority=2),
        Column("model", "MODEL", 9, lambda r: r.model.removeprefix("PowerEdge "), priority=2),
        Column("conn", "CONN", 9, lambda r: r.connection,
               lambda r: CONN_STYLE.get(r.connection, ""), priority=2),
        Column("fw", "IDRAC FW", 11, lambda r: r.idrac_fw, priority=3),
        Column("bios", "BIOS", 8, lambda r: r.bios, priority=3),
        Column("drift", "DRIFT", 5, lambda r: str(r.drift) if r.drift else "", lambda r: "yellow" if r.drift else "",
               sort_key=lambda r: r.drift, priority=3),
        Column("group", "CLUSTER/GROUP", 14, lambda r: "/".join(x for x in (r.cluster, r.groups) if x), priority=3),
        Column("seen", "SEEN", 5, lambda r: data.age(r.last_seen, clock()),
               sort_key=lambda r: r.last_seen.timestamp() if r.last_seen else 0.0, priority=2),
    ]


FILTER_FIELDS = {
    "name": lambda r: r.hostname,
    "host": lambda r: r.hostname,
    "ip": lambda r: r.address,
    "tag": lambda r: r.service_tag,
    "model": lambda r: r.model,
    "health": lambda r: r.health,
    "power": lambda r: r.power,
    "conn": lambda r: r.connection,
    "fw": lambda r: r.idrac_fw,
    "bios": lambda r: r.bios,
    "group": lambda r: r.groups,
    "cluster": lambda r: r.cluster,
    "job": lambda r: r.job,
    "drift": lambda r: str(r.drift),
}

POWER = {
    "servers.power_on": ("On", "Power on"),
    "servers.power_off": ("GracefulShutdown", "Shut down (graceful power off)"),
    "servers.restart": ("GracefulRestart", "Reboot (graceful restart)"),
    "servers.force_restart": ("ForceRestart", "Force restart (hard reset, no OS shutdown)"),
    "servers.force_off": ("ForceOff", "Force off (cut the power, no OS shutdown)"),
    "servers.power_cycle": ("PowerCycle", "Power cycle (hard)"),
}
JOBS = {
    "servers.refresh": "refresh_server_info",
    "servers.health": "health_check",
    "servers.logs": "fetch_event_logs",
    "servers.test_credentials": "test_credentials",
    "servers.diagnose": "network_diagnostics",
}
UNGROUPED = "\x00ungrouped"
CLUSTER = "\x00cluster:"
FULL_RELOAD_EVERY = 20
"""Every Nth poll re-reads all ids so a server removed elsewhere disappears from the list."""


class ServersScreen(DsmScreen):
    VIEW: ClassVar[str] = "servers"
    AUTO_FOCUS = "#servers"

    def __init__(self) -> None:
        super().__init__()
        self.table: VirtualTable[data.ServerRow] = VirtualTable(
            server_columns(lambda: self.dsm.clock()), empty="no servers yet: a (add) or d (discover)", id="servers"
        )
        self._since: Any = None
        self._polls = 0
        self._jobs: dict[uuid.UUID, str] = {}
        self._detail_for: uuid.UUID | None = None
        self._group: str | None = None
        self._text_filter: Any = None
        self._pending_focus: uuid.UUID | None = None
        self._server_config: data.ServerConfig | None = None
        self._set_names: tuple[str, ...] = ()
        self._group_names: tuple[str, ...] = ()
        """For completion in the link and group forms (read with the rows, never on the event loop)."""

    def body(self) -> ComposeResult:
        with Horizontal(id="servers-body"):
            tree: Tree[str | None] = Tree("fleet", id="group-tree")
            tree.display = False
            yield tree
            yield self.table
            with Vertical(id="server-detail") as pane:
                pane.display = False
                with TabbedContent(id="detail-tabs"):
                    with TabPane("overview", id="tab-overview"), VerticalScroll():
                        yield Static("", id="server-detail-body")
                    with TabPane("BIOS", id="tab-bios"):
                        yield Input(placeholder="search attributes (drift marked *)", id="bios-search")
                        with VerticalScroll():
                            yield Static("", id="bios-body")
                    for name, label in (("boot", "boot"), ("media", "media"), ("scp", "SCP")):
                        with TabPane(label, id=f"tab-{name}"), VerticalScroll():
                            yield Static("", id=f"{name}-body")

    def on_mount(self) -> None:
        super().on_mount()
        self.table.sort_by("ip")

    def focus_main(self) -> None:
        self.table.focus()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 120, "-narrow")

    # --- polling ------------------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        engine, now = self.dsm.engine, self.dsm.clock()
        full = self._since is None
        rows = data.load_servers(engine, None if full else self._since)
        out: dict[str, Any] = {"full": full, "rows": rows, "jobs": data.server_jobs(engine, now),
                               "newest": data.newest_update(rows)}
        self._polls += 1
        if not full and self._polls % FULL_RELOAD_EVERY == 0:
            out["ids"] = data.all_server_ids(engine)
        if full or self._polls % FULL_RELOAD_EVERY == 0:
            out["names"] = data.completion_names(engine)
        if self._detail_for is not None:
            out["detail"] = data.server_detail(engine, self._detail_for)
            out["config"] = data.server_config(engine, self._detail_for)
        if full:
            counts: dict[str, int] = {}
            clusters: dict[str, int] = {}
            ungrouped = 0
            for r in rows:
                if not r.groups and not r.cluster:
                    ungrouped += 1
                for g in r.groups.split(",") if r.groups else ():
                    counts[g] = counts.get(g, 0) + 1
                if r.cluster:
                    clusters[r.cluster] = clusters.get(r.cluster, 0) + 1
            out["groups"] = (dict(sorted(counts.items())), dict(sorted(clusters.items())), ungrouped)
        return out

    def apply(self, result: dict[str, Any]) -> None:
        jobs: dict[uuid.UUID, str] = result["jobs"]
        rows: list[data.ServerRow] = result["rows"]
        for row in rows:
            row.job = jobs.get(row.id, "")
        newest = result["newest"]
        if newest is not None and (self._since is None or newest > self._since):
            self._since = newest
        if result["full"]:
            self.table.set_rows(rows, sorted_by="ip")
            self._fill_tree(*result["groups"])
            if self._pending_focus is not None:
                self.focus_server(self._pending_focus)
        else:
            changed = {r.id: r for r in rows}
            # A job label changes without the server row changing: update those rows too.
            for key in set(jobs) | set(self._jobs):
                if jobs.get(key, "") != self._jobs.get(key, "") and key not in changed:
                    old = self.table.get(key)
                    if old is not None:
                        changed[key] = dataclasses.replace(old, job=jobs.get(key, ""))
            removed = set()
            if "ids" in result:
                removed = self.table.keys() - result["ids"]
            if changed or removed:
                self.table.update_rows(changed.values(), removed=removed)
        self._jobs = jobs
        if "names" in result:
            self._set_names, self._group_names = result["names"]
        if "detail" in result and result["detail"] is not None and result["detail"].id == self._detail_for:
            self._show_detail(result["detail"], result.get("config"))
        self.show_count(len(self.table.shown), len(self.table.rows))
        self.selection_changed()

    def _fill_tree(self, groups: dict[str, int], clusters: dict[str, int], ungrouped: int) -> None:
        tree = self.query_one("#group-tree", Tree)
        tree.clear()
        tree.root.expand()
        tree.root.data = None
        tree.root.set_label(f"all servers ({len(self.table.rows)})")
        node = tree.root.add(f"groups ({len(groups)})", expand=True)
        for g, count in groups.items():
            node.add_leaf(f"{g} ({count})", data=g)
        # vCenter clusters appear once a vcenter_sync has linked ESXi hosts to servers.
        node = tree.root.add(f"clusters ({len(clusters)})", expand=True)
        for c, count in clusters.items():
            node.add_leaf(f"{c} ({count})", data=CLUSTER + c)
        tree.root.add_leaf(f"ungrouped ({ungrouped})", data=UNGROUPED)

    def on_tree_node_selected(self, event: Tree.NodeSelected[str | None]) -> None:
        self._group = event.node.data
        self._refilter()

    # --- filter -----------------------------------------------------------------------------------------

    def apply_filter(self, text: str) -> None:
        self._text_filter = compile_filter(text, FILTER_FIELDS)
        self._refilter()

    def _refilter(self) -> None:
        text, group = self._text_filter, self._group
        if group is None:
            predicate = text
        else:
            if group == UNGROUPED:
                def member(r: data.ServerRow) -> bool:
                    return not r.groups and not r.cluster
            elif group.startswith(CLUSTER):
                def member(r: data.ServerRow) -> bool:
                    return r.cluster == group[len(CLUSTER):]
            else:
                def member(r: data.ServerRow) -> bool:
                    return group in r.groups.split(",")
            predicate = (lambda r: member(r) and text(r)) if text else member
        self.table.set_filter(predicate)
        self.show_count(len(self.table.shown), len(self.table.rows))

    # --- selection and detail ---------------------------------------------------------------------------

    def action_context(self) -> ActionContext:
        return ActionContext(selected=self.table.selection_count())

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        self.selection_changed()
        if self._detail_for is not None and event.row is not None and event.row.id != self._detail_for:
            self._detail_for = event.row.id
            self._load_detail(event.row.id)

    def focus_server(self, server_id: uuid.UUID) -> None:
        if self.table.move_to(server_id):
            self._pending_focus = None
            self.table.focus()
            self._open_detail()
        else:
            self._pending_focus = server_id

    def _open_detail(self) -> None:
        row = self.table.current
        if row is None:
            return
        self._detail_for = row.id
        pane = self.query_one("#server-detail")
        pane.display = True
        self.add_class("-detail")
        self._load_detail(row.id)

    def do_detail(self) -> None:
        if self._detail_for is not None:
            self._close_detail()
        else:
            self._open_detail()

    def _close_detail(self) -> None:
        self._detail_for = None
        self.query_one("#server-detail").display = False
        self.remove_class("-detail")
        self.table.focus()

    def back_out(self) -> bool:
        if self._detail_for is not None:
            self._close_detail()
            return True
        if self.table.marked:
            self.table.marked.clear()
            self.table.refresh()
            self.selection_changed()
            return True
        return False

    @work(thread=True, exit_on_error=False, exclusive=True, group="detail")
    def _load_detail(self, server_id: uuid.UUID) -> None:
        detail = data.server_detail(self.dsm.engine, server_id)
        config = data.server_config(self.dsm.engine, server_id)
        if detail is not None:
            self.app.call_from_thread(self._show_detail, detail, config)

    def _show_detail(self, d: data.ServerDetail, config: data.ServerConfig | None = None) -> None:
        if d.id != self._detail_for:
            return
        self.query_one("#server-detail-body", Static).update(render_detail(d, self.dsm.clock()))
        if config is not None:
            self._server_config = config
            self._render_bios()
            self.query_one("#boot-body", Static).update(render_boot(config))
            self.query_one("#media-body", Static).update(render_media(config))
            self.query_one("#scp-body", Static).update(render_backups(config))

    def _render_bios(self) -> None:
        if self._server_config is not None:
            search = self.query_one("#bios-search", Input).value
            self.query_one("#bios-body", Static).update(render_bios(self._server_config, search))

    @on(Input.Changed, "#bios-search")
    def _bios_search(self, event: Input.Changed) -> None:
        event.stop()
        self._render_bios()

    def _cycle_tab(self, step: int) -> None:
        if self._detail_for is None:
            self._open_detail()
        tabs = self.query_one("#detail-tabs", TabbedContent)
        order = ["tab-overview", "tab-bios", "tab-boot", "tab-media", "tab-scp"]
        current = order.index(tabs.active) if tabs.active in order else 0
        tabs.active = order[(current + step) % len(order)]

    def do_next_tab(self) -> None:
        self._cycle_tab(1)

    def do_prev_tab(self) -> None:
        self._cycle_tab(-1)

    # --- configuration --------------------------------------------------------------------------------

    def do_bios_read(self) -> None:
        targets = self._targets()
        if targets:
            self._create("bios_config_read", targets)

    def do_bios_set(self) -> None:
        targets = self._targets()
        if not targets:
            return
        picked: dict[str, Any] = {}

        def submit(v: dict[str, str]) -> dict[str, Any]:
            values = {}
            for item in v["attributes"].split():
                name, sep, value = item.partition("=")
                if not sep or not name:
                    raise ValueError(f"{item!r} is not ATTRIBUTE=VALUE")
                values[name] = value
            apply_time = v["apply_time"].strip() or "OnReset"
            if apply_time not in ("OnReset", "Immediate"):
                raise ValueError("apply time: OnReset (next reboot) or Immediate (restart now)")
            picked.update({"attributes": values, "apply_time": apply_time,
                           "reboot": v["reboot"].strip().lower() in ("y", "yes")})
            return picked

        def chosen(result: Any) -> None:
            if result is None:
                return
            pairs = ", ".join(f"{k}={v}" for k, v in picked["attributes"].items())
            self._confirm_for("servers.bios_set", f"Set BIOS {pairs} ({picked['apply_time']}"
                              + (", reboot now" if picked["reboot"] else "") + ")", targets,
                              lambda: self._create("bios_config_write", targets, picked))

        fields = [
            FormField("attributes", "attributes", "ProcVirtualization=Disabled NumLock=Off"),
            FormField("apply_time", "apply time", "OnReset (next reboot) or Immediate", "OnReset", required=False,
                      suggestions=("OnReset", "Immediate")),
            FormField("reboot", "reboot now to apply (OnReset)?", "y or n", "n", required=False,
                      suggestions=("y", "n")),
        ]
        self.app.push_screen(FormModal(f"Set BIOS on {len(targets)} server(s)", fields, submit,
                                       note="checked against each server's registry when the job is created"),
                             chosen)

    def _confirm_for(self, action_id: str, question: str, targets: list[data.ServerRow],
                     then: Any) -> None:
        spec = BY_ID[action_id]
        names = [r.name for r in targets] if len(targets) == 1 and spec.tier == "typed" else [
            f"{r.name}  {r.address}  {r.service_tag}" for r in targets]
        self.confirm(spec, f"{question}: {len(targets)} server{'s' if len(targets) != 1 else ''}?", names, then)

    def do_baseline_apply(self) -> None:
        targets = self._targets()
        if not targets:
            return
        ctx, keys = self.ctx, [str(r.id) for r in targets]

        def run() -> None:
            def done(result: dict[str, Any]) -> None:
                self.notify(f"{len(result['jobs'])} BIOS job(s) created for drifting servers"
                            if result["jobs"] else "no selected server drifts from its baseline")
                self.schedule_poll(0)

            self.call_service("apply baseline", lambda: configuration.apply_bios_baseline(ctx, servers=keys), done)

        self._confirm_for("servers.baseline_apply", "Apply the BIOS baseline (next reboot)", targets, run)

    def do_boot_once(self) -> None:
        targets = self._targets()
        if not targets:
            return
        picked: dict[str, Any] = {}

        def submit(v: dict[str, str]) -> dict[str, Any]:
            target = v["target"].strip()
            picked.update({"target": target, "enabled": "Once", "reboot": v["reboot"].strip().lower() in ("y", "yes")})
            return picked

        def chosen(result: Any) -> None:
            if result is not None:
                self._confirm_for("servers.boot_once", f"Boot once from {picked['target']}", targets,
                                  lambda: self._create("boot_configuration", targets, picked))

        fields = [FormField("target", "boot once from", "Pxe, Cd, Hdd, BiosSetup, UefiShell …", "Pxe",
                            suggestions=("Pxe", "Cd", "Hdd", "BiosSetup", "UefiShell", "Utilities")),
                  FormField("reboot", "reboot now?", "y or n", "n", required=False, suggestions=("y", "n"))]
        self.app.push_screen(FormModal(f"Boot once: {len(targets)} server(s)", fields, submit), chosen)

    def do_media_mount(self) -> None:
        targets = self._targets()
        if not targets:
            return
        picked: dict[str, Any] = {}
        ctx = self.ctx

        def submit(v: dict[str, str]) -> dict[str, Any]:
            image = configuration.media_image_url(ctx, v["image"].strip())
            picked.update({"image_url": image, "boot_once": v["boot_once"].strip().lower() in ("y", "yes")})
            return picked

        def chosen(result: Any) -> None:
            if result is not None:
                self._confirm_for("servers.media_mount", f"Mount {picked['image_url']}", targets,
                                  lambda: self._create("virtual_media_mount", targets, picked))

        fields = [FormField("image", "image", "http://share/esxi.iso, host:/export/x.iso or a file name on the "
                                              "virtual media share"),
                  FormField("boot_once", "boot once from it?", "y or n", "n", required=False, suggestions=("y", "n"))]
        self.app.push_screen(FormModal(f"Mount an image on {len(targets)} server(s)", fields, submit,
                                       note="the worker tests the share before mounting"), chosen)

    def do_media_eject(self) -> None:
        targets = self._targets()
        if targets:
            self._confirm_for("servers.media_eject", "Eject virtual media", targets,
                              lambda: self._create("virtual_media_unmount", targets))

    def do_scp_export(self) -> None:
        targets = self._targets()
        if targets:
            name = f"export {self.dsm.clock().strftime('%Y-%m-%d %H:%M')}"
            self._create("scp_export", targets, {"backup_name": name})

    def do_scp_import(self) -> None:
        row = self.table.current
        if row is None:
            return
        config = self._server_config
        backups = config.backups if config is not None and config.server_id == row.id else ()
        ids = tuple(str(b.backup_id)[-8:] for b in backups if b.valid)
        ctx = self.ctx
        picked: dict[str, Any] = {}

        def submit(v: dict[str, str]) -> dict[str, Any]:
            found = configuration.show_scp_backup(ctx, v["backup"].strip())
            picked.update({"backup_id": found["id"], "name": found["backup_name"]})
            return picked

        def chosen(result: Any) -> None:
            if result is not None:
                self._confirm_for("servers.scp_import", f"Import backup {picked['name']!r} (the host restarts)",
                                  [row], lambda: self._create("scp_import", [row], {"backup_id": picked["backup_id"]}))

        field = FormField("backup", "backup id (last 8 digits)", ", ".join(ids[:3]) or "open the SCP tab first",
                          ids[0] if ids else "", suggestions=ids)
        self.app.push_screen(FormModal(f"Restore a configuration to {row.name}", [field], submit), chosen)

    # --- actions ------------------------------------------------------------------------------------

    def do_mark(self) -> None:
        self.table.toggle_mark()
        self.table.action_cursor(1)
        self.selection_changed()

    def do_mark_all(self) -> None:
        self.table.mark_shown()
        self.selection_changed()

    def do_sort(self) -> None:
        self.choose_sort(self.table)

    def do_sort_reverse(self) -> None:
        self.table.reverse_sort()

    def do_groups(self) -> None:
        tree = self.query_one("#group-tree", Tree)
        tree.display = not tree.display
        (tree if tree.display else self.table).focus()

    def _targets(self) -> list[data.ServerRow]:
        return self.table.selection()

    def _create(self, job_type: str, targets: list[data.ServerRow], details: dict[str, Any] | None = None) -> None:
        ids = [str(r.id) for r in targets]
        ctx = self.ctx

        def done(job: dict[str, Any]) -> None:
            self.table.marked.clear()
            self.table.refresh()
            self.job_created(job)

        self.call_service(job_type.replace("_", " "),
                          lambda: job_service.create_job(ctx, job_type, servers=ids, details=details or {}), done)

    def _run_job_action(self, action_id: str) -> None:
        targets = self._targets()
        if targets:
            self._create(JOBS[action_id], targets)

    def do_refresh(self) -> None:
        self._run_job_action("servers.refresh")

    def do_health(self) -> None:
        self._run_job_action("servers.health")

    def do_logs(self) -> None:
        self._run_job_action("servers.logs")

    def do_test_credentials(self) -> None:
        self._run_job_action("servers.test_credentials")

    def _power(self, action_id: str) -> None:
        targets = self._targets()
        if not targets:
            return
        reset, verb = POWER[action_id]
        names = [f"{r.name}  {r.address}  {r.service_tag}  ({r.power or 'power ?'})" for r in targets]
        question = f"{verb}: {len(targets)} server{'s' if len(targets) != 1 else ''}?"
        spec = BY_ID[action_id]
        if len(targets) == 1 and spec.tier == "typed":
            # The typed name is the server's name as the list shows it.
            names = [targets[0].name]
            question += f"\n{targets[0].address} {targets[0].service_tag} ({targets[0].power or 'power ?'})"
        self.confirm(spec, question, names, lambda: self._create("power_action", targets, {"action": reset}))

    def do_power_on(self) -> None:
        self._power("servers.power_on")

    def do_power_off(self) -> None:
        self._power("servers.power_off")

    def do_power_cycle(self) -> None:
        self._power("servers.power_cycle")

    def do_restart(self) -> None:
        self._power("servers.restart")

    def do_force_restart(self) -> None:
        self._power("servers.force_restart")

    def do_force_off(self) -> None:
        self._power("servers.force_off")

    def do_diagnose(self) -> None:
        self._run_job_action("servers.diagnose")

    # --- edit, link, remove, groups, any job ------------------------------------------------------------

    def do_edit(self) -> None:
        row = self.table.current
        if row is None:
            return
        ctx, key = self.ctx, str(row.id)

        def submit(v: dict[str, str]) -> dict[str, Any]:
            changes: dict[str, Any] = {}
            for name, old in (("hostname", row.hostname), ("service_tag", row.service_tag), ("notes", None)):
                new = v[name].strip()
                if new != (old or "") and (new or old):
                    changes[name] = new or None
            if v["tls_verify_mode"].strip():
                changes["tls_verify_mode"] = v["tls_verify_mode"].strip()
            if not changes:
                raise ValueError("nothing changed; edit a field or press Esc")
            return server_service.update_server(ctx, key, **changes)

        fields = [
            FormField("hostname", "hostname", "esx-01.lab", row.hostname, required=False),
            FormField("service_tag", "service tag", "7 characters", row.service_tag, required=False),
            FormField("notes", "notes (replaces the notes)", "rack 4, PSU swapped 2026-11", required=False),
            FormField("tls_verify_mode", "TLS verification", "pin, ca or off (empty: unchanged)", required=False,
                      suggestions=("pin", "ca", "off")),
        ]
        self.app.push_screen(FormModal(f"Edit {row.name}", fields, submit), self.after_dialog(f"{row.name} saved"))

    def do_link(self) -> None:
        targets = self._targets()
        if not targets:
            return
        ctx, keys = self.ctx, [str(r.id) for r in targets]
        names = self._set_names

        def submit(v: dict[str, str]) -> int:
            name = v["credential_set"].strip()
            for key in keys:
                server_service.update_server(ctx, key, credential_set=name)
            return len(keys)

        field = FormField("credential_set", "credential set (empty unlinks)", ", ".join(names[:5]),
                          required=False, suggestions=names)
        self.app.push_screen(
            FormModal(f"Link a credential set to {len(keys)} server(s)", [field], submit,
                      note="a linked set is used before IP ranges and the default set"),
            self.after_dialog("credential set link saved"))

    def do_remove(self) -> None:
        targets = self._targets()
        if not targets:
            return
        ctx, keys = self.ctx, [str(r.id) for r in targets]
        spec = BY_ID["servers.remove"]
        names = [targets[0].name] if len(targets) == 1 else [f"{r.name}  {r.address}" for r in targets]

        def remove() -> None:
            def run() -> int:
                for key in keys:
                    server_service.remove_server(ctx, key)
                return len(keys)

            def done(count: int) -> None:
                self.table.marked.clear()
                self.notify(f"removed {count} server(s)")

            self.call_service("remove", run, done)

        self.confirm(spec, f"Remove {len(targets)} server(s) and their health, logs and history?", names, remove)

    def _group_form(self, adding: bool) -> None:
        targets = self._targets()
        if not targets:
            return
        ctx, keys = self.ctx, [str(r.id) for r in targets]
        known = self._group_names

        def submit(v: dict[str, str]) -> str:
            from dsm_core.services import groups as group_service
            from dsm_core.services.errors import NotFound

            name = v["group"].strip()
            if adding:
                try:
                    group_service.show_group(ctx, name)
                except NotFound:
                    group_service.add_group(ctx, name)
                for key in keys:
                    group_service.add_member(ctx, name, key)
            else:
                for key in keys:
                    group_service.remove_member(ctx, name, key)
            return name

        verb = "to" if adding else "from"
        self.app.push_screen(
            FormModal(f"{'Add' if adding else 'Remove'} {len(keys)} server(s) {verb} a group",
                      [FormField("group", "group", ", ".join(known[:5]) or "web", suggestions=known)], submit,
                      note="a new name creates the group" if adding else ""),
            self.after_dialog(f"group membership saved ({len(keys)} server(s))"))

    def do_group_add(self) -> None:
        self._group_form(True)

    def do_group_remove(self) -> None:
        self._group_form(False)

    def do_group_delete(self) -> None:
        group = self._group
        if group is None or group == UNGROUPED or group.startswith(CLUSTER):
            self.notify("choose a group in the tree first (T shows it)", severity="warning")
            return
        ctx = self.ctx

        def delete() -> None:
            from dsm_core.services import groups as group_service

            def done(_: Any) -> None:
                self._group = None
                self._since = None  # re-read everything: the tree and the rows' groups changed
                self.notify(f"group {group} deleted; its servers stay")

            self.call_service("delete group", lambda: group_service.remove_group(ctx, group), done)

        self.confirm(BY_ID["servers.group_delete"], f"Delete group {group}? (its servers stay)", [group], delete)

    def do_job(self) -> None:
        from dsm_tui.modals.jobform import open_job_form

        def created(job: dict[str, Any] | None) -> None:
            if job:
                self.job_created(job)

        open_job_form(self, [str(r.id) for r in self._targets()], created)

    # --- look: events, raw data, copy ----------------------------------------------------------------------

    def do_events(self) -> None:
        from dsm_tui.modals.events import EventsModal

        row = self.table.current
        if row is not None:
            self.app.push_screen(EventsModal(self.ctx, str(row.id), f"{row.name} ({row.address})"))

    def do_raw(self) -> None:
        row = self.table.current
        if row is not None:
            self._load_raw(str(row.id), row.name)

    @work(thread=True, exit_on_error=False, group="raw")
    def _load_raw(self, key: str, name: str) -> None:
        from dsm_tui.modals.text import TextModal
        from dsm_tui.widgets.jsonview import json_view

        stored = server_service.show_server(self.ctx, key)
        self.app.call_from_thread(self.app.push_screen, TextModal(f"{name}: stored data", json_view(stored)))

    def do_copy(self) -> None:
        row = self.table.current
        if row is not None:
            self.copy_text(row.name, "the name")

    def do_copy_address(self) -> None:
        row = self.table.current
        if row is not None:
            self.copy_text(row.address, "the address")

    def badges(self) -> list[str]:
        out = []
        if self.table.marked:
            out.append(f"{len(self.table.marked)} marked")
        if self._group is not None:
            out.append("tree: " + (self._group.removeprefix(CLUSTER) if self._group != UNGROUPED else "ungrouped"))
        return out

    def do_add(self) -> None:
        ctx = self.ctx

        def submit(v: dict[str, str]) -> dict[str, Any]:
            port = v["port"].strip()
            if port and not port.isdigit():
                raise ValueError(f"port: {port!r} is not a number; give 1-65535 or leave it empty for 443")
            return server_service.add_server(
                ctx, v["address"].strip(), port=int(port) if port else None, hostname=v["hostname"].strip() or None,
                credential_set=v["credential_set"].strip() or None,
            )

        fields = [
            FormField("address", "iDRAC address", "10.0.0.10 or 10.0.0.10:8443"),
            FormField("port", "port", "443", required=False),
            FormField("hostname", "hostname", "esx-01", required=False),
            FormField("credential_set", "credential set", "(resolved by IP range if empty)", required=False),
        ]

        def added(server: dict[str, Any] | None) -> None:
            if server:
                self.notify(f"added {server['ip_address']}:{server['port']}; r refreshes it")
                self.schedule_poll(0)

        self.app.push_screen(FormModal("Add a server", fields, submit), added)

    def do_import(self) -> None:
        ctx = self.ctx

        def submit(v: dict[str, str]) -> dict[str, Any]:
            path = Path(v["path"].strip()).expanduser()
            try:
                text = path.read_text(encoding="utf-8-sig")
            except OSError as exc:
                raise ValueError(f"path: cannot read {path} ({exc.strerror}); give a readable CSV file") from None
            return server_service.import_servers_csv(ctx, text, source=str(path))

        def imported(report: dict[str, Any] | None) -> None:
            if report:
                self.notify(f"imported: {report}")
                self.schedule_poll(0)

        self.app.push_screen(
            FormModal("Import servers from CSV", [FormField("path", "CSV file", "/path/servers.csv")], submit,
                      note="columns: ip_address[,port,hostname,service_tag,credential_set,group,notes]"),
            imported,
        )

    def do_discover(self) -> None:
        ctx = self.ctx

        def submit(v: dict[str, str]) -> dict[str, Any]:
            details: dict[str, Any] = {"ranges": [p.strip() for p in v["ranges"].split(",") if p.strip()]}
            if v["credential_sets"].strip():
                details["credential_sets"] = [p.strip() for p in v["credential_sets"].split(",") if p.strip()]
            if v["port"].strip():
                if not v["port"].strip().isdigit():
                    raise ValueError(f"port: {v['port']!r} is not a number; give 1-65535 (443 when empty)")
                details["port"] = int(v["port"])
            return job_service.create_job(ctx, "discovery_scan", details=details)

        fields = [
            FormField("ranges", "ranges", "10.0.0.0/24, 10.0.1.10-10.0.1.50"),
            FormField("credential_sets", "credential sets", "(all that match, if empty)", required=False),
            FormField("port", "iDRAC port", "443", required=False),
        ]

        def created(job: dict[str, Any] | None) -> None:
            if job:
                self.job_created(job)

        self.app.push_screen(FormModal("Discovery scan", fields, submit), created)


def render_detail(d: data.ServerDetail, now: Any) -> RenderableType:
    ident = Table.grid(padding=(0, 1))
    ident.add_column(style="bold", no_wrap=True)
    ident.add_column()
    for k, v in d.identity.items():
        ident.add_row(Text(k), Text(v))  # Text, not str: a Rich table reads markup in a str cell
    ident.add_row("credentials", Text(d.credential_source))
    parts: list[RenderableType] = [Text("Identity", style="bold underline"), ident, Text("")]
    parts.append(Text("Health", style="bold underline"))
    if d.health:
        h = d.health[0]
        summary = Text(f"{h.overall or '?'} · power {h.power or '?'}", style=HEALTH_STYLE.get(h.overall.lower(), ""))
        parts.append(summary)
        if h.parts:
            parts.append(Text("  " + "  ".join(f"{k} {v}" for k, v in h.parts.items())))
        if h.temperature is not None:
            parts.append(Text(f"  inlet/system {h.temperature:.0f} °C"))
        for name, value in list(d.sensors.items())[:12]:
            parts += render_nested(str(name), value)
        trend = Text("  trend (oldest→newest): ")
        for p in reversed(d.health):
            mark = {"ok": "●", "warning": "▲", "critical": "✗"}.get(p.overall.lower(), "·")
            trend.append(mark, style=HEALTH_STYLE.get(p.overall.lower(), "dim"))
        parts.append(trend)
        counts: dict[str, int] = {}
        for p in d.health:
            counts[p.overall or "?"] = counts.get(p.overall or "?", 0) + 1
        parts.append(Text(f"  last {len(d.health)} checks since {d.health[-1].timestamp:%Y-%m-%d %H:%M}: "
                          + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())), style="dim"))
    else:
        parts.append(Text("  no health check yet (h runs one)", style="dim"))
    parts += [Text(""), Text("Firmware", style="bold underline")]
    if d.firmware:
        fw = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
        fw.add_column(no_wrap=True, overflow="ellipsis", ratio=3)
        fw.add_column(no_wrap=True, ratio=1, min_width=8)
        fw.add_column(no_wrap=True, style="dim", max_width=9)
        fw.add_column(no_wrap=True, ratio=2, min_width=16)
        for item in d.firmware[:30]:
            state = Text("")
            if item.state == "upgrade":
                state = Text(f"→ {item.available} {item.criticality}".rstrip(),
                             style="bold red" if item.criticality == "Urgent" else "yellow")
            elif item.state:
                state = Text(item.state.replace("_", " "), style={"compliant": "green", "downgrade": "magenta"}
                             .get(item.state, "dim"))
            fw.add_row(Text(item.name), Text(item.version),
                       Text("" if item.status.lower() == "installed" else item.status), state)
        parts.append(fw)
    else:
        parts.append(Text("  not read yet (r refreshes)", style="dim"))
    parts += [Text(""), Text("Jobs on this server", style="bold underline")]
    if d.jobs:
        for j in d.jobs[:10]:
            parts.append(Text(f"  {j.job_id.hex[-8:]} {j.job_type:<20} {j.status:<9} {data.age(j.created_at, now)} ago"
                              + (f"  {j.error[:60]}" if j.error else ""),
                              style="red" if j.status == "failed" else ""))
    else:
        parts.append(Text("  none", style="dim"))
    parts += [Text(""), Text("Event log (newest first)", style="bold underline")]
    if d.events:
        for e in d.events[:20]:
            style = {"critical": "red", "warning": "yellow"}.get(e.severity.lower(), "")
            parts.append(Text(f"  {e.timestamp:%m-%d %H:%M} {e.severity:<8} {e.message_id:<8} {e.message}",
                              style=style, overflow="ellipsis", no_wrap=True))
    else:
        parts.append(Text("  not fetched (l fetches the logs)", style="dim"))
    return Group(*parts)


def render_bios(c: data.ServerConfig, search: str = "") -> RenderableType:
    """Attributes as last read, drift marked with * (and the baseline's value), narrowed by the search."""
    words = search.lower().split()
    rows = [a for a in c.bios if all(w in f"{a.name} {a.value}".lower() for w in words)]
    head = Text(f"read {_when_text(c.bios_read_at)} · baseline {c.baseline} · drift {c.drift}",
                style="yellow" if c.drift else "")
    if not c.bios:
        return Group(head, Text("not read yet: W reads the BIOS (a bios_config_read job)", style="dim"))
    table = Table.grid(padding=(0, 1))
    for _ in range(4):
        table.add_column(no_wrap=True)
    for a in rows[:400]:
        mark = Text("*", style="bold yellow") if a.drift else Text(" ")
        extra = f"baseline {a.baseline}" if a.drift else (f"pending {a.pending}" if a.pending else "")
        table.add_row(mark, Text(a.name, style="bold" if a.drift else ""), Text(a.value), Text(extra, style="dim"))
    more = Text(f"… {len(rows) - 400} more: narrow the search", style="dim") if len(rows) > 400 else Text("")
    return Group(head, Text(f"{len(rows)} of {len(c.bios)} attributes", style="dim"), table, more)


def render_boot(c: data.ServerConfig) -> RenderableType:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for k, v in c.boot.items():
        grid.add_row(Text(k), Text(v))
    grid.add_row("order", Text(", ".join(c.boot_order) or "-"))
    parts: list[RenderableType] = [grid, Text(""), Text("Changes", style="bold underline")]
    parts += [Text(f"{_when_text(t)}  {what}  {order}") for t, what, order in c.boot_history] or [
        Text("none recorded", style="dim")]
    return Group(*parts)


def render_media(c: data.ServerConfig) -> RenderableType:
    if not c.media:
        return Text("no virtual media mounted by DSM or seen at refresh; m mounts an image", style="dim")
    return Group(*(Text(f"{'mounted' if on else 'ejected':8} {kind:4} {url}", style="" if on else "dim")
                   for kind, url, on, _ in c.media))


def render_backups(c: data.ServerConfig) -> RenderableType:
    if not c.backups:
        return Text("no SCP backups yet; x exports one (every BIOS, boot or firmware change takes one first)",
                    style="dim")
    table = Table.grid(padding=(0, 1))
    for _ in range(5):
        table.add_column(no_wrap=True)
    for b in c.backups:
        table.add_row(Text(str(b.backup_id)[-8:]), Text(b.name), Text(b.fmt), Text(f"{b.size:,} B"),
                      Text(_when_text(b.exported_at) + ("" if b.valid else "  INVALID"),
                           style="" if b.valid else "red"))
    return table


def _when_text(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"
