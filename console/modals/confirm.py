"""Yes/no, typed confirmation for destructive steps, and a reason (abort, override)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from console.modals.input_dialog import InputDialog
from console.screens.base import VaultModal


class ConfirmDialog(VaultModal[bool]):
    WHERE = "Confirm"
    BINDINGS = [Binding("escape", "no", "No"), Binding("y", "yes", "Yes", show=False)]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes_label, self.no_label = question, yes, no

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-title")
            with Horizontal(classes="buttons"):
                yield Button(self.yes_label, id="yes", variant="primary")
                yield Button(self.no_label, id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class ReasonDialog(InputDialog):
    """Ask for a reason (abort, override); None when cancelled. The reason goes to the ledger."""

    WHERE = "Reason"

    def __init__(self, question: str, *, action: str = "Abort ceremony") -> None:
        super().__init__()
        self.question, self.action_label = question, action

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-title")
            yield Static("The reason is recorded in the ledger and the transcript: no secrets.", classes="hint")
            yield Input(placeholder="reason", id="reason", max_length=200)
            with Horizontal(classes="buttons"):
                yield Button(self.action_label, id="go", variant="error")
                yield Button("Back", id="back")

    def _go(self) -> None:
        reason = self.query_one(Input).value.strip()
        if not reason:
            self.notify("Give a reason: it is recorded in the ledger.", severity="warning")
            return
        self.dismiss(reason)
