"""`?` / F1: every key of this view and the global ones, searchable (lazygit's keybindings menu).

Built from the action registry with the same ``permitted`` rule as the footer and the palette, so
a viewer's help lists no mutating action and read-only mode shows none.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from dsm_tui.actions import GLOBAL, NAVIGATION, Action, key_label, search


class HelpModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1", "close", "close")]

    def __init__(self, view: str, actions: list[Action], keymap: dict[str, str]) -> None:
        super().__init__()
        self.view = view
        self.actions = actions
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="help"):
            yield Label(f"Keys of :{self.view}  (type to search · Esc closes)", classes="dialog-title")
            yield Input(placeholder="search keys", id="help-search")
            with VerticalScroll():
                yield Static(self._table(self.actions), id="help-table")

    def _table(self, actions: list[Action]) -> Table:
        table = Table(box=None, show_header=True, expand=True, pad_edge=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("action", no_wrap=True)
        table.add_column("what it does", ratio=1)
        table.add_column("", style="dim", no_wrap=True)
        table.add_column("id (tui.keys)", style="dim", no_wrap=True)
        for scope in (self.view, GLOBAL):
            for a in actions:
                if a.view != scope:
                    continue
                tier = {"safe": "", "confirm": "asks y/n", "typed": "type to confirm"}[a.tier]
                table.add_row(Text(key_label(self.keymap.get(a.id, a.key))), Text(a.title), Text(a.help),
                              tier, a.id)
        for keys, what in NAVIGATION:
            if not self.query_text or self.query_text in f"{keys} {what}".lower():
                table.add_row(Text(keys), "navigate", Text(what), "", "")
        return table

    query_text = ""

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value.lower()
        self.query_one("#help-table", Static).update(self._table(search(self.actions, event.value)))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        if key == "question_mark" and not self.query_one(Input).value:
            self.dismiss(None)
