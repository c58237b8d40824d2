"""`:` the view switcher (k9s): type a view name, Tab completes, Enter goes."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from dsm_tui.actions import VIEWS


def resolve_view(text: str) -> str | None:
    """":srv" is not a view; ":se" is ambiguous; ":ser" is servers; ":q" quits."""
    word = text.strip().lstrip(":").lower()
    if not word:
        return None
    if word in ("q", "quit", "q!"):
        return "quit"
    if word in VIEWS:
        return word
    aliases = {"srv": "servers", "job": "jobs", "act": "activity", "creds": "credentials", "cred": "credentials",
               "dash": "pulse", "home": "pulse"}
    if word in aliases:
        return aliases[word]
    matches = [v for v in VIEWS if v.startswith(word)]
    return matches[0] if len(matches) == 1 else None


class ViewSwitcher(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="switcher"):
            yield Input(placeholder=":" + " :".join(VIEWS), id="switch-input",
                        suggester=SuggestFromList([f":{v}" for v in VIEWS] + list(VIEWS), case_sensitive=False))
            yield Label("", id="switch-error", classes="error")

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.value = ":"
        field.cursor_position = 1
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        view = resolve_view(event.value)
        if view is None:
            self.query_one("#switch-error", Label).update(
                Text(f"{event.value.strip()!r} is not a view; use one of :" + " :".join(VIEWS)))
            return
        self.dismiss(view)

    def action_cancel(self) -> None:
        self.dismiss(None)
