"""The confirmation tiers: y/n with the focus on No, and typed confirmation that lists the targets.

Posting's confirmation modal is the model: small, reusable, keyboard first. A typed confirmation
asks for the server's name (one target) or the number of targets (several): a number copied
from the dialog proves the operator read how many machines are about to go down.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from dsm_core.text import visible


class ConfirmModal(ModalScreen[bool]):
    """y/n; Enter on the initial focus answers No."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
        Binding("left,right,tab", "app.focus_next", show=False),
    ]

    def __init__(self, question: str, targets: list[str] | None = None) -> None:
        super().__init__()
        self.question = question
        self.targets = targets or []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(visible(self.question)), classes="dialog-title")
            if self.targets:
                yield Static(Text("\n".join(visible(t) for t in self.targets[:12])
                                  + (f"\n… and {len(self.targets) - 12} more" if len(self.targets) > 12 else "")),
                             classes="targets")
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class TypedConfirmModal(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, targets: list[str], expected: str, what: str | None = None,
                 wide: bool = False) -> None:
        super().__init__()
        self.question = question
        self.targets = targets
        self.expected = expected
        self.what = what
        self.wide = wide

    def compose(self) -> ComposeResult:
        what = self.what or ("the number of servers" if len(self.targets) > 1 else "the name")
        with Vertical(classes="dialog plan" if self.wide else "dialog"):
            yield Label(Text(visible(self.question)), classes="dialog-title")
            with VerticalScroll(classes="targets"):
                yield Static(Text("\n".join(visible(t) for t in self.targets)))
            yield Label(Text.assemble(f"Type {what} (", (visible(self.expected), "bold"),
                                      ") and press Enter; Esc cancels."))
            yield Input(placeholder="type it here", id="typed")
            yield Label("", id="typed-error", classes="error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)
        else:
            self.query_one("#typed-error", Label).update(
                Text(f"{event.value.strip()!r} is not {self.expected!r}; nothing was done. Esc cancels.")
            )

    def action_cancel(self) -> None:
        self.dismiss(False)
