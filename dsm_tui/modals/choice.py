"""Pick one of a few named things (a column to sort by): arrows or the first letter, Enter chooses."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class ChoiceModal(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]], current: str | None = None) -> None:
        super().__init__()
        self.title_text, self.options, self.current = title, options, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield OptionList(*(Option(Text(label), id=key) for key, label in self.options), id="choices")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        keys = [k for k, _ in self.options]
        if self.current in keys:
            choices.highlighted = keys.index(self.current)
        choices.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_key(self, event: object) -> None:
        char = getattr(event, "character", None) or ""
        if len(char) == 1 and char.isalpha():
            for i, (_, label) in enumerate(self.options):
                if label.lower().startswith(char.lower()):
                    self.query_one(OptionList).highlighted = i
                    break

    def action_cancel(self) -> None:
        self.dismiss(None)
