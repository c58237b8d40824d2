"""The DSM console: one App, a mode per view, global keys from the action registry.

Views are Textual modes, so each keeps its state (cursor, filter, marks) while another is shown;
``-`` walks back through the views visited, like k9s. Every global key is an entry of
``actions.ACTIONS``; the App only maps them to what they do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy.engine import Engine
from textual import events, work
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.widgets import Input

from dsm_core.services.context import ROLE_RANK, Actor, ServiceContext
from dsm_core.timeutil import utcnow
from dsm_tui import data
from dsm_tui.actions import BY_ID, GLOBAL, VIEW_ROLES, VIEWS, for_view
from dsm_tui.modals.help import HelpModal
from dsm_tui.modals.switcher import ViewSwitcher
from dsm_tui.providers import ActionCommands, ServerCommands, ViewCommands
from dsm_tui.screens.activity import ActivityScreen
from dsm_tui.screens.audit import AuditScreen
from dsm_tui.screens.base import DsmScreen
from dsm_tui.screens.calendar import CalendarScreen
from dsm_tui.screens.clusters import ClustersScreen
from dsm_tui.screens.credentials import CredentialsScreen
from dsm_tui.screens.firmware import FirmwareScreen
from dsm_tui.screens.jobs import JobsScreen
from dsm_tui.screens.pulse import PulseScreen
from dsm_tui.screens.servers import ServersScreen
from dsm_tui.screens.settings import SettingsScreen
from dsm_tui.widgets.status import StatusLine

Clock = Callable[[], datetime]


class DsmApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "DSM"
    MODES: ClassVar[dict[str, Any]] = {
        "pulse": PulseScreen,
        "servers": ServersScreen,
        "firmware": FirmwareScreen,
        "clusters": ClustersScreen,
        "calendar": CalendarScreen,
        "jobs": JobsScreen,
        "activity": ActivityScreen,
        "credentials": CredentialsScreen,
        "settings": SettingsScreen,
        "audit": AuditScreen,
    }
    COMMANDS: ClassVar[set[Any]] = {ServerCommands, ActionCommands, ViewCommands}

    def __init__(
        self,
        engine: Engine,
        actor: Actor,
        *,
        readonly: bool = False,
        database_label: str = "",
        clock: Clock = utcnow,
        poll_seconds: float = 0.5,
        start_view: str = "pulse",
        keymap: dict[str, str] | None = None,
        ansi: bool = False,
    ) -> None:
        super().__init__(ansi_color=ansi)
        self.engine = engine
        self.actor = actor
        self.readonly = readonly
        self.database_label = database_label
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.start_view = start_view
        self.service_context = ServiceContext(engine, actor)
        self.history: list[str] = []
        self.current_view = start_view
        self.worker_summary: data.WorkerSummary | None = None
        self.paused = False
        self.awaiting = 0
        """Windows this user could approve now (the header's ⚑ badge)."""
        self.user_keymap = dict(keymap or {})
        self._typeahead: list[events.Key] | None = None
        if ansi:
            self.theme = "ansi-dark"

    def on_mount(self) -> None:
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        if self.start_view not in self.views():
            self.notify(f":{self.start_view} is not open to {self.actor.role}s; showing :pulse", timeout=4)
            self.start_view = self.current_view = "pulse"
        self.switch_mode(self.start_view)
        self._beat()
        self.set_interval(2.0, self._beat)

    # --- typeahead ------------------------------------------------------------------------------------
    # Over SSH a burst like ":jobs⏎" arrives in one read. The keys after ":" would reach the view under
    # the switcher before its input has the focus, and be lost (or worse, run that view's keys). While a
    # field is opening, keys are held here and handed to it once it has the focus.

    def hold_keys(self) -> None:
        if self._typeahead is None:
            self._typeahead = []
            self.set_timer(2.0, self._release_stale)

    def release_keys(self) -> list[events.Key]:
        held, self._typeahead = self._typeahead or [], None
        return held

    def _release_stale(self) -> None:
        """The field never took them (it failed to open): give the keys back, in order."""
        for key in self.release_keys():
            self.post_message(events.Key(key.key, key.character))

    def _opens_a_field(self, key: str) -> bool:
        """``:`` and ``/`` (or what tui.keys maps app.views and app.filter to) on a view, not in a field."""
        wanted = {self.user_keymap.get(a, BY_ID[a].key) for a in ("app.views", "app.filter")}
        return key in wanted and isinstance(self.screen, DsmScreen) and not isinstance(self.focused, Input)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._typeahead is not None:
                self._typeahead.append(event)
                return
            opens = self._opens_a_field(event.key)
            await super().on_event(event)
            if opens:
                self.hold_keys()  # the view handles this key after we return: hold what follows it now
            return
        await super().on_event(event)

    # --- worker heartbeat -----------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, exclusive=True, group="beat")
    def _beat(self) -> None:
        try:
            summary = data.worker_summary(self.engine, self.clock())
            paused = data.is_paused(self.engine)
            awaiting = data.approvals_waiting(self.engine, self.actor) if self.actor.may("operator") else 0
        except Exception:  # shown by the views' own reads; the header keeps its last state
            return
        self.call_from_thread(self._show_beat, summary, paused, awaiting)

    def _show_beat(self, summary: data.WorkerSummary, paused: bool, awaiting: int = 0) -> None:
        self.worker_summary = summary
        self.paused = paused
        self.awaiting = awaiting
        for line in self.screen.query(StatusLine):
            line.show(summary)

    # --- views ------------------------------------------------------------------------------------------

    @property
    def view(self) -> DsmScreen | None:
        """The view under whatever dialog is open."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, DsmScreen):
                return screen
        return None

    def views(self) -> list[str]:
        """The views this user may open (:audit is for admins)."""
        return [v for v in VIEWS if ROLE_RANK[self.actor.role] >= ROLE_RANK[VIEW_ROLES.get(v, "viewer")]]

    def goto(self, view: str, *, filter_text: str | None = None, remember: bool = True) -> None:
        if view not in self.views():
            self.notify(f":{view} needs the {VIEW_ROLES.get(view, 'viewer')} role; you are {self.actor.role}",
                        severity="warning", timeout=3)
            return
        if view != self.current_view:
            if remember:
                self.history.append(self.current_view)
                del self.history[:-50]
            self.current_view = view
            self.switch_mode(view)
        if filter_text is not None:
            screen = self.get_screen_for_mode(view)
            screen.set_filter(filter_text)

    def get_screen_for_mode(self, view: str) -> DsmScreen:
        screen = self.loaded_view(view)
        assert screen is not None, f"view {view} is not loaded"
        return screen

    def loaded_view(self, view: str) -> DsmScreen | None:
        stack = self._screen_stacks.get(view) or []
        return next((s for s in stack if isinstance(s, DsmScreen)), None)

    def show_server(self, server_id: Any) -> None:
        """Palette jump: the Servers view, cursor on that server, detail open."""
        self.goto("servers")
        screen = self.get_screen_for_mode("servers")
        if isinstance(screen, ServersScreen):
            screen.focus_server(server_id)

    def action_act(self, action_id: str) -> None:
        """From the palette: a view's action runs on that view, with its checks and tiers."""
        view = self.view
        if BY_ID[action_id].view == GLOBAL:
            self.run_global(action_id)
        elif view is not None:
            view.action_act(action_id)

    def run_global(self, action_id: str) -> None:
        {
            "app.views": self._open_switcher,
            "app.back": self._back,
            "app.filter": self._filter,
            "app.help": self._help,
            "app.palette": self.action_command_palette,
            "app.quit": self.exit,
        }[action_id]()

    def _open_switcher(self) -> None:
        def chosen(view: str | None) -> None:
            if view == "quit":
                self.exit()
            elif view:
                self.goto(view)

        self.push_screen(ViewSwitcher(self.views()), chosen)

    def _back(self) -> None:
        if self.history:
            self.goto(self.history.pop(), remember=False)
        else:
            self.notify("no previous view", timeout=2)

    def _filter(self) -> None:
        view = self.view
        if view is not None and view is self.screen:
            view.action_open_filter()

    def _help(self) -> None:
        view = self.view
        if view is None or isinstance(self.screen, HelpModal):
            return
        actions = for_view(view.VIEW, self.actor.role, self.readonly)
        self.push_screen(HelpModal(view.VIEW, actions, self.user_keymap))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Only what is harmless for every role: theme and keys; quitting is `q`.
        for command in super().get_system_commands(screen):
            if command.title.lower().startswith(("theme", "keys", "change theme", "show keys")):
                yield command
