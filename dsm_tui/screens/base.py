"""What every view shares: header, filter bar, footer, registry-driven keys and a polling loop.

Polling follows Dolphie: a thread worker reads, and the next read is armed only when the previous
one has finished, so slow databases never stack up reads; a view that is not on screen (another
view, or a dialog over it) does not poll at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label

from dsm_core.filtering import FilterError
from dsm_core.services.context import ServiceContext
from dsm_core.services.errors import ServiceError
from dsm_core.text import visible
from dsm_tui.actions import BY_ID, GLOBAL, Action, ActionContext, bindings_for, global_bindings, permitted
from dsm_tui.modals.confirm import ConfirmModal, TypedConfirmModal
from dsm_tui.widgets.status import StatusLine

if TYPE_CHECKING:
    from dsm_tui.app import DsmApp


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar { display: none; height: 1; border: none; padding: 0 1; background: $boost; }
    FilterBar.-shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__(placeholder="/ filter: words and field:value (Enter keeps, Esc clears)", id="filter")


class FilterMessage(Label):
    DEFAULT_CSS = """
    FilterMessage { height: 1; display: none; color: $error; text-style: bold; padding: 0 1; }
    FilterMessage.-shown { display: block; }
    """


class DsmScreen(Screen[None]):
    VIEW: ClassVar[str] = ""
    POLL_SECONDS: ClassVar[float] = 0.0
    """The least time between two reads of this view (the app's poll interval applies when longer)."""
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back_out", "back", show=False)]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Before Textual merges the class bindings (in its own __init_subclass__).
        if cls.__dict__.get("VIEW"):
            # The global keys first: at 80 columns the footer still shows `:` `/` `?`.
            cls.BINDINGS = [*DsmScreen.BINDINGS, *global_bindings(), *bindings_for(cls.VIEW)]
        super().__init_subclass__(**kwargs)

    def __init__(self) -> None:
        super().__init__(id=f"view-{self.VIEW}")
        self._poll_timer: Timer | None = None
        self._polling = False
        self.filter_text = ""
        self._initial_filter: str | None = None

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Markup off by default: messages quote service errors and what operators typed."""
        message = visible(message, multiline=True) if not markup else message
        super().notify(message, title=visible(title), severity=severity, timeout=timeout, markup=markup)

    @property
    def dsm(self) -> DsmApp:
        return cast("DsmApp", self.app)

    @property
    def ctx(self) -> ServiceContext:
        return self.dsm.service_context

    def compose(self) -> ComposeResult:
        yield StatusLine(self.VIEW)
        yield from self.body()
        yield FilterBar()
        yield FilterMessage("", id="filter-error")
        yield Footer(compact=True)

    def body(self) -> ComposeResult:
        raise NotImplementedError

    # --- polling ------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        # After the first frame: started earlier, the read only competes with the mount for the GIL.
        self.schedule_poll(0)
        if self._initial_filter is not None:
            text, self._initial_filter = self._initial_filter, None
            self._show_filter(text)

    def on_screen_resume(self) -> None:
        if not self._polling:  # a read in flight re-arms the next one itself
            self.schedule_poll(0)
        self.query_one(StatusLine).show(self.dsm.worker_summary)

    def schedule_poll(self, delay: float | None = None) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        wait = max(self.dsm.poll_seconds, self.POLL_SECONDS) if delay is None else delay
        self._poll_timer = self.set_timer(max(0.01, wait), self._poll_tick)

    def _poll_tick(self) -> None:
        if not self.is_current or self._polling:
            return  # resumes from on_screen_resume, or when the read in flight finishes
        self._poll()

    def _poll(self) -> None:
        self._polling = True
        self._read()

    @work(thread=True, exit_on_error=False, group="poll")
    def _read(self) -> None:
        try:
            result = self.load()
        except Exception as exc:  # the database went away: say so, keep trying
            self.app.call_from_thread(self._poll_failed, exc)
            return
        self.app.call_from_thread(self._poll_done, result)

    def _poll_done(self, result: Any) -> None:
        self._polling = False
        self.apply(result)
        self.schedule_poll()

    def _poll_failed(self, exc: Exception) -> None:
        self._polling = False
        self.notify(f"reading the database failed: {exc}", severity="error", timeout=5)
        self.schedule_poll(max(2.0, self.dsm.poll_seconds))

    count_text = ""

    def show_count(self, shown: int, total: int) -> None:
        """"12/4,000" in the header when a filter hides rows, "4,000" otherwise."""
        text = f"{shown:,}/{total:,}" if shown != total else f"{total:,}"
        if text != self.count_text:
            self.count_text = text
            self.query_one(StatusLine).show(self.dsm.worker_summary)

    def load(self) -> Any:
        """Runs in a thread: read what the view shows. Returns plain data."""
        return None

    def apply(self, result: Any) -> None:
        """Runs on the event loop: put what ``load`` read on screen, changing only what changed."""

    # --- actions ------------------------------------------------------------------------------------

    def action_context(self) -> ActionContext:
        return ActionContext()

    _shown_context: ActionContext | None = None

    def selection_changed(self) -> None:
        """Refresh the footer only when what the actions depend on changed: rebuilding it on every
        cursor move or filter keystroke would cost more than the table itself."""
        context = self.action_context()
        if context != self._shown_context:
            self._shown_context = context
            self.refresh_bindings()
        self.refresh_badges()

    _shown_badges: tuple[str, ...] = ()

    def refresh_badges(self) -> None:
        badges = tuple(self.badges())
        if badges != self._shown_badges and self.is_mounted:
            self._shown_badges = badges
            self.query_one(StatusLine).show(self.dsm.worker_summary)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "act":
            return True
        spec = BY_ID.get(str(parameters[0]))
        if spec is None or not permitted(spec, self.dsm.actor.role, self.dsm.readonly):
            return False
        return True if spec.available(self.action_context()) else None

    def permitted_actions(self) -> list[Action]:
        from dsm_tui.actions import for_view

        return for_view(self.VIEW, self.dsm.actor.role, self.dsm.readonly)

    def action_act(self, action_id: str) -> None:
        spec = BY_ID[action_id]
        if spec.view == GLOBAL:
            self.dsm.run_global(action_id)
            return
        if not permitted(spec, self.dsm.actor.role, self.dsm.readonly):
            self.notify(f"{spec.title} needs the {spec.min_role} role", severity="warning")
            return
        if not spec.available(self.action_context()):
            self.notify(f"{spec.title}: select a row first", severity="warning")
            return
        handler = getattr(self, "do_" + action_id.split(".", 1)[1])
        handler()

    def confirm(self, spec: Action, question: str, targets: list[str], then: Callable[[], None]) -> None:
        """Apply the action's tier, then call ``then``; more than one target always needs the typed count."""
        if spec.tier == "safe":
            then()
            return
        if spec.tier == "confirm" and len(targets) <= 1:
            self.app.push_screen(ConfirmModal(question, targets), lambda ok: then() if ok else None)
            return
        expected = str(len(targets)) if len(targets) > 1 else targets[0]
        self.app.push_screen(TypedConfirmModal(question, targets, expected), lambda ok: then() if ok else None)

    def call_service(self, what: str, fn: Callable[[], Any], done: Callable[[Any], None] | None = None) -> None:
        """Run a service call in a thread; report a refusal or bad input as the service worded it."""
        self._call_service(what, fn, done)

    @work(thread=True, exit_on_error=False, group="service")
    def _call_service(self, what: str, fn: Callable[[], Any], done: Callable[[Any], None] | None) -> None:
        try:
            result = fn()
        except ServiceError as exc:
            self.app.call_from_thread(self.notify, f"{what}: {exc}", severity="error", timeout=8)
            return
        except Exception as exc:  # the database is locked or gone: say so rather than end the console
            first = (str(exc).splitlines() or [""])[0]
            self.app.call_from_thread(self.notify, f"{what} failed: {type(exc).__name__}: {first}",
                                      severity="error", timeout=10)
            return
        if done is not None:
            self.app.call_from_thread(done, result)
        self.app.call_from_thread(self.schedule_poll, 0)

    def after_dialog(self, message: str) -> Callable[[Any], None]:
        """The callback of a form: say what happened and re-read at once (a cancelled form says nothing)."""

        def done(result: Any) -> None:
            if result is not None:
                self.notify(message)
                self.schedule_poll(0)

        return done

    def choose_sort(self, table: Any) -> None:
        """``s`` on a table view: pick the column to sort by (the same column again keeps its direction)."""
        from dsm_tui.modals.choice import ChoiceModal

        current = table.sort_column
        options = [(c.key, c.label.lower()) for c in table.columns]

        def chosen(key: str | None) -> None:
            if key is not None:
                table.sort_by(key, table.sort_state[1] if current and current.key == key else False)
                self.notify(f"sorted by {key}", timeout=1.5)

        self.app.push_screen(ChoiceModal("Sort by", options, current.key if current else None), chosen)

    def copy_text(self, text: str, what: str) -> None:
        """``y``: to the terminal's clipboard by OSC 52 (works over SSH in most terminals and in tmux)."""
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {what}: {visible(text)[:60]}", timeout=2)

    def badges(self) -> list[str]:
        """What the header shows about this view's state: marks, active toggles."""
        return []

    def job_created(self, job: dict[str, Any]) -> None:
        self.notify(f"job {job['id'][-8:]} created: {job['job_type'].replace('_', ' ')} — :jobs to follow it",
                    timeout=4)

    # --- filter and escape ----------------------------------------------------------------------------

    def action_open_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.add_class("-shown")
        bar.value = self.filter_text
        bar.focus()
        self.call_after_refresh(self._filter_typed_ahead)

    def _filter_typed_ahead(self) -> None:
        """`/health:critical⏎` typed in one burst: the keys the app held while the bar opened."""
        from dsm_tui.modals.switcher import replay_keys

        bar = self.query_one(FilterBar)
        replay_keys(self.app, bar, lambda: self.action_back_out())

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, FilterBar):
            event.stop()
            self._set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, FilterBar):
            event.stop()
            if not event.value:
                event.input.remove_class("-shown")
            self.focus_main()

    def _set_filter(self, text: str) -> None:
        error = self.query_one("#filter-error", FilterMessage)
        try:
            self.apply_filter(text)
        except FilterError as exc:
            error.update(Text(str(exc)))  # it quotes what was typed: never markup
            error.add_class("-shown")
            return
        error.remove_class("-shown")
        self.filter_text = text

    def set_filter(self, text: str) -> None:
        """From outside (a drill-down from pulse): show the filter and apply it."""
        if not self.is_mounted:
            self._initial_filter = text
            return
        self._show_filter(text)

    def _show_filter(self, text: str) -> None:
        bar = self.query_one(FilterBar)
        bar.value = text
        bar.set_class(bool(text), "-shown")
        self._set_filter(text)

    def apply_filter(self, text: str) -> None:
        """Narrow the view; raises FilterError for a field the view does not have."""

    def focus_main(self) -> None:
        """Give the focus back to the view's main table."""

    def action_back_out(self) -> None:
        bar = self.query_one(FilterBar)
        if bar.has_focus:
            bar.value = ""
            bar.remove_class("-shown")
            self._set_filter("")
            self.focus_main()
            return
        if self.back_out():
            return
        if self.filter_text:
            self.set_filter("")

    def back_out(self) -> bool:
        """Close what the view has open (detail, marks); True when something was closed."""
        return False
