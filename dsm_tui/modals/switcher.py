"""`:` the view switcher (k9s): type a view name, Tab completes, Enter goes."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from dsm_tui.actions import VIEWS


def resolve_view(text: str, views: tuple[str, ...] | list[str] = VIEWS) -> str | None:
    """":srv" is not a view; ":se" is ambiguous; ":ser" is servers; ":q" quits."""
    word = text.strip().lstrip(":").lower()
    if not word:
        return None
    if word in ("q", "quit", "q!"):
        return "quit"
    if word in views:
        return word
    aliases = {"srv": "servers", "job": "jobs", "act": "activity", "creds": "credentials", "cred": "credentials",
               "dash": "pulse", "home": "pulse"}
    if word in aliases:
        return aliases[word]
    matches = [v for v in views if v.startswith(word)]
    return matches[0] if len(matches) == 1 else None


def replay_keys(app: object, field: Input, cancel: Callable[[], None]) -> None:
    """Hand the keys the app held while ``field`` was opening to it: text, Enter, Backspace, Escape."""
    release = getattr(app, "release_keys", None)
    for key in release() if release is not None else []:
        if key.key == "enter":
            field.post_message(Input.Submitted(field, field.value))
        elif key.key == "escape":
            cancel()
            return
        elif key.key == "backspace":
            field.action_delete_left()
        elif key.key == "tab":
            field.action_cursor_right()  # accepts the suggestion, as Tab does in the field
        elif key.is_printable and key.character:
            field.insert_text_at_cursor(key.character)


class ViewSwitcher(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, views: list[str] | None = None) -> None:
        super().__init__()
        self.views = list(views or VIEWS)

    def compose(self) -> ComposeResult:
        with Vertical(id="switcher"):
            yield Input(placeholder=":" + " :".join(self.views), id="switch-input",
                        suggester=SuggestFromList([f":{v}" for v in self.views] + self.views, case_sensitive=False))
            yield Label("", id="switch-error", classes="error")

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.value = ":"
        field.cursor_position = 1
        field.focus()
        self.call_after_refresh(self._typed_ahead)

    def _typed_ahead(self) -> None:
        """Keys typed before the field had the focus (`:jobs⏎` in one burst), in order."""
        replay_keys(self.app, self.query_one(Input), self.action_cancel)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        view = resolve_view(event.value, self.views)
        if view is None:
            self.query_one("#switch-error", Label).update(
                Text(f"{event.value.strip()!r} is not a view; use one of :" + " :".join(self.views)))
            return
        self.dismiss(view)

    def action_cancel(self) -> None:
        self.dismiss(None)
