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
    """Ask for a reason (abort, override); None when cancelled. The reason goes to the ledger.

    Enter in the reason box never acts by itself: it moves to the action button, which a second
    Enter (or a click) presses. Someone who pressed the abort key by mistake while typing (ctrl+a
    is "start of line" in most shells) and typed on blindly must not lose the ceremony to the
    Enter that ended their line.
    """

    WHERE = "Reason"

    def __init__(self, question: str, *, action: str = "Abort ceremony") -> None:
        super().__init__()
        self.question, self.action_label = question, action

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-title")
            yield Static("The reason is recorded in the ledger and the transcript: no secrets.", classes="hint")
            yield Input(placeholder="reason", id="reason", max_length=200)
            yield Static("", id="reason-next", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button(self.action_label, id="go", variant="error")
                yield Button("Back", id="back")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.prevent_default()  # InputDialog's handler would act at once
        if not self._reason():
            return
        self.query_one("#go", Button).focus()
        self.query_one("#reason-next", Static).update(
            f"Press Enter on '{self.action_label}' to do it, or Escape to go back.")

    def _reason(self) -> str:
        reason = self.query_one(Input).value.strip()
        if not reason:
            self.notify("Give a reason: it is recorded in the ledger.", severity="warning")
        return reason

    def _go(self) -> None:
        reason = self._reason()
        if reason:
            self.dismiss(reason)
