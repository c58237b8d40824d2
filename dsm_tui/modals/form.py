"""A small form dialog: labelled inputs, masked passwords, errors shown in place.

The submit callback runs in a thread (it writes through the service layer); a ``ServiceError``
keeps the dialog open with the message, which names the field and the fix. Nothing typed is lost
on an error, and a password field is never echoed or pre-filled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from dsm_core.services.errors import ServiceError


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    placeholder: str = ""
    value: str = ""
    password: bool = False
    required: bool = True
    suggestions: tuple[str, ...] = ()
    """Completed as you type (→ or Tab accepts): job types, set and group names."""


class FormModal(ModalScreen[Any]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, fields: list[FormField], submit: Callable[[dict[str, str]], Any],
                 note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.submit = submit
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form"):
            yield Label(self.title_text, classes="dialog-title")
            if self.note:
                yield Label(self.note, classes="note")
            for f in self.fields:
                yield Label(f.label + ("" if f.required else " (optional)"))
                suggester = SuggestFromList(f.suggestions, case_sensitive=False) if f.suggestions else None
                yield Input(value=f.value, placeholder=f.placeholder, password=f.password, id=f"f-{f.name}",
                            suggester=suggester)
            yield Label("Enter: next field / submit on the last · Esc: cancel", classes="note")
            yield Label("", id="form-error", classes="error")

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#f-{f.name}", Input).value for f in self.fields}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index < len(inputs) - 1:
            inputs[index + 1].focus()
            return
        values = self.values()
        for f in self.fields:
            if f.required and not values[f.name].strip():
                self.show_error(f"{f.label}: is required")
                self.query_one(f"#f-{f.name}", Input).focus()
                return
        self.query_one("#form-error", Label).update("saving…")
        self.run_submit(values)

    @work(thread=True, exit_on_error=False, exclusive=True, group="form")
    def run_submit(self, values: dict[str, str]) -> None:
        try:
            result = self.submit(values)
        except ServiceError as exc:
            self.app.call_from_thread(self.show_error, str(exc))
            return
        except ValueError as exc:
            self.app.call_from_thread(self.show_error, str(exc))
            return
        except Exception as exc:  # the database is locked or gone: say so, keep what was typed
            first = (str(exc).splitlines() or [""])[0]
            self.app.call_from_thread(self.show_error, f"not saved: {type(exc).__name__}: {first}")
            return
        self.app.call_from_thread(self.dismiss, result)

    def show_error(self, message: str) -> None:
        self.query_one("#form-error", Label).update(Text(message))  # never markup: it quotes input

    def action_cancel(self) -> None:
        self.dismiss(None)
