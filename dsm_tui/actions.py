"""The one action registry: every key the TUI answers to, and who may use it.

Bindings, the footer, the help screen, the command palette and ``check_action`` are all built from
``ACTIONS``; nothing else declares an action. A mutating action needs a role, and ``permitted`` is
the single place that drops it for a lower role or in read-only mode (k9s learnt the hard way, with
drain still offered in read-only, that this must be central). The service layer checks roles again:
the TUI only mirrors them, so a viewer never sees a key that would be refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from textual.binding import Binding

from dsm_core.services.context import ROLE_RANK, Role

Tier = Literal["safe", "confirm", "typed"]
"""safe: runs at once; confirm: y/n with the focus on No; typed: type the count or the name."""

VIEWS = ("pulse", "servers", "firmware", "clusters", "calendar", "jobs", "activity", "credentials", "settings",
         "audit")
GLOBAL = "*"


@dataclass(frozen=True)
class ActionContext:
    """What an availability check may look at: the selection on the current view."""

    selected: int = 0
    """Rows the action would apply to: the marked rows, else the row under the cursor."""
    row_state: str = ""
    """A state of the row under the cursor (a job's status), for actions that depend on it."""
    cleanup_on_cancel: bool = False
    """The row is a failed job whose type runs a clean-up when cancelled (a rolling update stopped at a host)."""


@dataclass(frozen=True)
class Action:
    id: str
    key: str
    title: str
    view: str
    tier: Tier = "safe"
    min_role: Role = "viewer"
    mutating: bool = False
    show: bool = True
    """In the footer (help and palette list every permitted action)."""
    help: str = ""
    available: Callable[[ActionContext], bool] = field(default=lambda ctx: True, compare=False)
    palette: bool = True
    """Offered in the command palette (navigation keys are not)."""

    @property
    def binding_action(self) -> str:
        return f"act('{self.id}')"

    def binding(self, key: str | None = None) -> Binding:
        return Binding(key or self.key, self.binding_action, self.title, show=self.show, id=self.id)


def _selection(ctx: ActionContext) -> bool:
    return ctx.selected > 0


def _one(ctx: ActionContext) -> bool:
    return ctx.selected == 1


def _cancellable(ctx: ActionContext) -> bool:
    return ctx.selected > 0 and (ctx.row_state in ("pending", "running") or ctx.cleanup_on_cancel)


def _awaiting(ctx: ActionContext) -> bool:
    return ctx.row_state == "awaiting"


def _retryable(ctx: ActionContext) -> bool:
    return ctx.selected > 0 and ctx.row_state in ("failed", "cancelled", "completed")


ACTIONS: tuple[Action, ...] = (
    # Everywhere. The keys themselves are the App's bindings; here for help, palette and remapping.
    Action("app.views", "colon", "views", GLOBAL, help="switch view: :servers :jobs :activity …", palette=False),
    Action("app.back", "minus", "back", GLOBAL, show=False, help="back to the previous view", palette=False),
    Action("app.filter", "slash", "filter", GLOBAL, help="filter this view: words and field:value terms",
           palette=False),
    Action("app.help", "question_mark", "help", GLOBAL, help="every key of this view", palette=False),
    Action("app.palette", "ctrl+p", "palette", GLOBAL, show=False,
           help="jump to a server by name, IP or tag; run any action", palette=False),
    Action("app.quit", "q", "quit", GLOBAL, show=False, help="leave DSM (jobs keep running in the worker)",
           palette=False),
    # Servers.
    Action("servers.refresh", "r", "refresh", "servers", "safe", "operator", True,
           help="refresh_server_info job: identity, firmware, power", available=_selection),
    Action("servers.health", "h", "health", "servers", "safe", "operator", True,
           show=False, help="health_check job: sensors and rollups", available=_selection),
    Action("servers.logs", "l", "logs", "servers", "safe", "operator", True,
           show=False, help="fetch_event_logs job: SEL and Lifecycle log", available=_selection),
    Action("servers.power_on", "o", "power on", "servers", "confirm", "operator", True,
           help="power on (y/n; more than one server: type the count)", available=_selection),
    Action("servers.power_off", "O", "power off", "servers", "typed", "operator", True,
           help="graceful shutdown; type the name or count to confirm", available=_selection),
    Action("servers.restart", "b", "reboot", "servers", "confirm", "operator", True, show=False,
           help="graceful restart (the OS shuts down, then the server boots again)", available=_selection),
    Action("servers.force_restart", "B", "force restart", "servers", "typed", "operator", True, show=False,
           help="hard reset, no OS shutdown; type the name or count to confirm", available=_selection),
    Action("servers.force_off", "K", "force off", "servers", "typed", "operator", True, show=False,
           help="cut the power, no OS shutdown; type the name or count to confirm", available=_selection),
    Action("servers.power_cycle", "C", "power cycle", "servers", "typed", "operator", True, show=False,
           help="power cycle (hard); type the name or count to confirm", available=_selection),
    Action("servers.detail", "enter", "detail", "servers", show=False, help="show or hide the detail pane",
           available=_one),
    Action("servers.mark", "space", "mark", "servers", show=False, help="mark or unmark the row for a bulk action"),
    Action("servers.add", "a", "add", "servers", "safe", "operator", True, show=False, help="add a server by address"),
    Action("servers.edit", "e", "edit", "servers", "safe", "operator", True, show=False,
           help="change hostname, notes, service tag, TLS mode", available=_one),
    Action("servers.link", "L", "link creds", "servers", "safe", "operator", True, show=False,
           help="link a credential set to the servers (empty unlinks)", available=_selection),
    Action("servers.remove", "D", "remove", "servers", "typed", "admin", True, show=False,
           help="remove servers and everything recorded about them; type the name or count",
           available=_selection),
    Action("servers.discover", "d", "discover", "servers", "safe", "operator", True,
           show=False, help="discovery scan of a range"),
    Action("servers.test_credentials", "t", "test creds", "servers", "safe", "operator", True, show=False,
           help="test_credentials job: which credential logs in", available=_selection),
    Action("servers.diagnose", "N", "diagnose", "servers", "safe", "operator", True, show=False,
           help="network_diagnostics job: TCP, TLS and Redfish reachability", available=_selection),
    Action("servers.job", "J", "new job", "servers", "safe", "operator", True, show=False,
           help="any job type on the selection, with its details form (and a start time)", available=_selection),
    Action("servers.import", "i", "import CSV", "servers", "safe", "operator", True, show=False,
           help="import servers from a CSV file"),
    Action("servers.group_add", "plus", "to group", "servers", "safe", "operator", True, show=False,
           help="put the selection in a group (created if new)", available=_selection),
    Action("servers.group_remove", "underscore", "from group", "servers", "safe", "operator", True, show=False,
           help="take the selection out of a group", available=_selection),
    Action("servers.group_delete", "X", "delete group", "servers", "typed", "admin", True, show=False,
           help="delete the group chosen in the tree (T); its servers stay"),
    Action("servers.events", "E", "events", "servers", show=False,
           help="the server's stored event log, filtered by severity:, category: and words", available=_one),
    Action("servers.raw", "v", "raw", "servers", show=False,
           help="the server's stored Redfish data as JSON", available=_one),
    Action("servers.copy", "y", "copy name", "servers", show=False,
           help="copy the server's name to the clipboard (OSC 52)", available=_one),
    Action("servers.copy_address", "Y", "copy address", "servers", show=False,
           help="copy the server's address to the clipboard", available=_one),
    Action("servers.mark_all", "ctrl+a", "mark all", "servers", show=False, help="mark every shown row"),
    Action("servers.sort", "s", "sort", "servers", help="choose the column to sort by (S reverses)"),
    Action("servers.sort_reverse", "S", "reverse", "servers", show=False, help="reverse the sort order"),
    Action("servers.groups", "T", "tree", "servers", show=False, help="show or hide the group tree"),
    Action("servers.next_tab", "right_square_bracket", "next tab", "servers", show=False,
           help="detail pane: the next tab (overview, BIOS, boot, media, SCP)", palette=False),
    Action("servers.prev_tab", "left_square_bracket", "previous tab", "servers", show=False,
           help="detail pane: the previous tab", palette=False),
    Action("servers.bios_read", "W", "read BIOS", "servers", "safe", "operator", True, show=False,
           help="bios_config_read job: attributes and registry, drift recomputed", available=_selection),
    Action("servers.bios_set", "z", "set BIOS", "servers", "typed", "operator", True, show=False,
           help="bios_config_write job (checked against each server's registry); type the name or count",
           available=_selection),
    Action("servers.baseline_apply", "w", "apply baseline", "servers", "typed", "operator", True, show=False,
           help="one bios_config_write per drifting server with exactly its differing attributes",
           available=_selection),
    Action("servers.boot_once", "p", "boot once", "servers", "confirm", "operator", True, show=False,
           help="boot_configuration job: boot once from Pxe, Cd, Hdd, BiosSetup …", available=_selection),
    Action("servers.media_mount", "m", "mount ISO", "servers", "confirm", "operator", True, show=False,
           help="virtual_media_mount job: the share is tested from the worker first", available=_selection),
    Action("servers.media_eject", "M", "eject media", "servers", "confirm", "operator", True, show=False,
           help="virtual_media_unmount job", available=_selection),
    Action("servers.scp_export", "x", "SCP export", "servers", "safe", "operator", True, show=False,
           help="scp_export job: a Server Configuration Profile stored in DSM", available=_selection),
    Action("servers.scp_import", "I", "SCP import", "servers", "typed", "operator", True, show=False,
           help="scp_import job: restore a stored backup to the server; type its name", available=_one),
    # Firmware.
    Action("firmware.detail", "enter", "components", "firmware", help="the server's components against the catalog",
           available=_one),
    Action("firmware.mark", "space", "mark", "firmware", show=False, help="mark or unmark the row for an update"),
    Action("firmware.mark_all", "ctrl+a", "mark all", "firmware", show=False, help="mark every shown row"),
    Action("firmware.update", "u", "update", "firmware", "typed", "operator", True,
           help="firmware_update job on the marked servers from their repository; type the name or count",
           available=_selection),
    Action("firmware.sync", "ctrl+r", "sync catalogs", "firmware", "safe", "operator", True, show=False,
           help="read every repository's catalog again (firmware_catalog_sync jobs)"),
    Action("firmware.sort", "s", "sort", "firmware", help="choose the column to sort by"),
    # Clusters.
    Action("clusters.detail", "enter", "hosts", "clusters", help="the cluster's hosts, links and last safety reasons",
           available=_one),
    Action("clusters.check", "c", "check", "clusters", "safe", "operator", True,
           help="cluster_safety_check job: DRS, HA, maintenance, connections, healthy hosts vs the minimum",
           available=_one),
    Action("clusters.update", "u", "update", "clusters", "typed", "operator", True,
           help="the rolling-update wizard: source and limits, then the plan; type the cluster's name to start",
           available=_one),
    Action("clusters.sync", "ctrl+r", "sync vCenters", "clusters", "safe", "operator", True, show=False,
           help="vcenter_sync job: clusters, hosts and links read again"),
    Action("clusters.sort", "s", "sort", "clusters", help="choose the column to sort by"),
    # Calendar (the day under the cursor; arrows, h j k l and PgUp/PgDn are the grid's own keys).
    Action("calendar.day", "enter", "day", "calendar", help="the day's windows and safety checks"),
    Action("calendar.today", "t", "today", "calendar", show=False, help="back to today"),
    Action("calendar.new", "n", "new", "calendar", "safe", "operator", True,
           help="plan a maintenance window on this day (validated as the job it will create)"),
    Action("calendar.approve", "a", "approve", "calendar", "typed", "operator", True,
           help="approve a window of this day: targets, schedule, plan and safety shown; production clusters "
                "want their name typed", available=_awaiting),
    Action("calendar.reject", "r", "reject", "calendar", "safe", "operator", True,
           help="reject a window of this day, saying why", available=_awaiting),
    Action("calendar.report", "x", "change record", "calendar", show=False,
           help="write a window's change record (md, html or json) to a file", available=_selection),
    # Jobs.
    Action("jobs.detail", "enter", "detail", "jobs", show=False, help="tasks, logs and steps of the job",
           available=_one),
    Action("jobs.cancel", "c", "cancel", "jobs", "confirm", "operator", True,
           help="cancel a pending or running job (or a failed rolling update: its host returns to service)",
           available=_cancellable),
    Action("jobs.retry", "R", "retry", "jobs", "confirm", "operator", True,
           help="run the job again: a workflow job resumes from its failed step, others run as a new job",
           available=_retryable),
    Action("jobs.active", "A", "active only", "jobs", help="show only pending and running jobs"),
    Action("jobs.create", "n", "new job", "jobs", "safe", "operator", True,
           help="any job type with its details form, targets and a start time"),
    Action("jobs.copy", "y", "copy id", "jobs", show=False, help="copy the job's id to the clipboard",
           available=_one),
    # Activity.
    Action("activity.detail", "enter", "detail", "activity", help="the call with its (redacted) bodies",
           available=_one),
    Action("activity.errors", "e", "errors", "activity", help="show only failed calls"),
    Action("activity.slow", "w", "slow", "activity",
           help="show only calls at or over activity.slow_command_threshold_ms"),
    Action("activity.follow", "f", "follow", "activity", help="follow the newest calls (live tail)"),
    Action("activity.copy", "y", "copy call", "activity", show=False,
           help="copy the call (method and URL) to the clipboard", available=_one),
    # Audit (admins: the view itself is admin-only).
    Action("audit.detail", "enter", "detail", "audit", help="the entry with everything it recorded",
           available=_one),
    Action("audit.copy", "y", "copy", "audit", show=False, help="copy the entry as JSON", available=_one),
    # Credentials.
    Action("credentials.add", "a", "add", "credentials", "safe", "admin", True,
           help="a credential set; the password is sealed for the worker"),
    Action("credentials.password", "p", "password", "credentials", "safe", "admin", True,
           help="replace the set's password", available=_one),
    Action("credentials.add_range", "n", "add range", "credentials", "safe", "admin", True,
           help="an IP range the set applies to", available=_one),
    Action("credentials.remove_range", "x", "remove range", "credentials", "confirm", "admin", True,
           show=False, help="remove one IP range of the set", available=_one),
    Action("credentials.remove", "D", "delete", "credentials", "typed", "admin", True,
           help="delete the set; type its name", available=_one),
    # Settings.
    Action("settings.edit", "e", "edit", "settings", "safe", "admin", True, help="change the selected setting",
           available=_one),
    Action("settings.pause", "P", "pause iDRAC work", "settings", "confirm", "admin", True,
           help="emergency pause: no new iDRAC work starts (toggle)"),
    Action("settings.test_notification", "N", "test notification", "settings", "safe", "admin", True, show=False,
           help="queue a test notification to every configured channel (SMTP, webhook, syslog)"),
    Action("settings.user_add", "u", "add user", "settings", "safe", "admin", True, help="map an OS user to a role"),
    Action("settings.user_role", "R", "set role", "settings", "safe", "admin", True, show=False,
           help="change the selected user's role", available=_one),
    Action("settings.user_remove", "D", "remove user", "settings", "typed", "admin", True, show=False,
           help="remove the selected user; type the name", available=_one),
)

NAVIGATION: tuple[tuple[str, str], ...] = (
    ("j k ↓ ↑", "next, previous row"),
    ("g G", "first, last row (home, end)"),
    ("ctrl+d ctrl+u", "half a page down, up"),
    ("ctrl+f ctrl+b", "a page down, up (page down, page up)"),
    ("esc", "back out: close a dialog or the detail, clear the marks or the filter"),
    ("f1", "help (as ?)"),
)
"""The table's own keys (VirtualTable.BINDINGS): not actions (nothing to remap or refuse), but listed."""

VIEW_ROLES: dict[str, Role] = {"audit": "admin"}
"""Views a lower role does not see at all (the service refuses the read too)."""

BY_ID: dict[str, Action] = {a.id: a for a in ACTIONS}
if len(BY_ID) != len(ACTIONS):  # a programming error, caught at import rather than as a dead key
    raise RuntimeError("two actions share an id")


def permitted(action: Action, role: Role, readonly: bool) -> bool:
    """The one rule: may this user, in this mode, see and use this action at all?"""
    if action.mutating and readonly:
        return False
    return ROLE_RANK[role] >= ROLE_RANK[action.min_role]


def for_view(view: str, role: Role, readonly: bool, *, include_global: bool = True) -> list[Action]:
    return [
        a for a in ACTIONS
        if (a.view == view or (include_global and a.view == GLOBAL)) and permitted(a, role, readonly)
    ]


def bindings_for(view: str) -> list[Binding]:
    """A screen's BINDINGS: every action of the view (``check_action`` hides what is not permitted)."""
    return [a.binding() for a in ACTIONS if a.view == view]


def global_bindings() -> list[Binding]:
    """The keys every view answers to (F1 is a second key for help, never shown)."""
    out = [a.binding() for a in ACTIONS if a.view == GLOBAL and a.id != "app.palette"]
    out.append(Binding("f1", "act('app.help')", "help", show=False))
    return out


class KeymapError(ValueError):
    pass


def parse_keymap(text: str) -> dict[str, str]:
    """``tui.keys`` from the config: "servers.refresh=R, jobs.cancel=ctrl+x" → {id: key}."""
    keymap: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        action_id, sep, key = (s.strip() for s in item.partition("="))
        if not sep or not key:
            raise KeymapError(f"tui.keys: {item!r} is not ACTION=KEY; e.g. servers.refresh=R")
        if action_id not in BY_ID:
            raise KeymapError(f"tui.keys: {action_id!r} is not an action; `?` in DSM lists them, e.g. servers.refresh")
        keymap[action_id] = key
    return keymap


def key_label(key: str) -> str:
    return {"colon": ":", "minus": "-", "slash": "/", "question_mark": "?", "space": "space", "enter": "⏎",
            "plus": "+", "underscore": "_"}.get(key, key)


def search(actions: Iterable[Action], query: str) -> list[Action]:
    q = query.lower()
    return [a for a in actions if q in a.title.lower() or q in a.id or q in a.help.lower()]
