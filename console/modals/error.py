"""An error dialog: the problem's title, the message, and the next step, from a VaultError."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, Static

from console.screens.base import VaultModal
from vault.errors import VaultError


class ErrorDialog(VaultModal[None]):
    WHERE = "Problem"
    BINDINGS = [Binding("escape,enter", "close", "Close")]

    def __init__(self, title: str, message: str, next_step: str, code: str = "", *, fatal: bool = False) -> None:
        super().__init__()
        self.err_title = title
        self.message = message
        self.next_step = next_step
        self.code = code
        self.fatal = fatal

    @classmethod
    def from_error(cls, exc: VaultError, *, fatal: bool = False) -> "ErrorDialog":
        return cls(exc.title, exc.message, exc.next_step, exc.code, fatal=fatal)

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog"):
            yield Static(f"✗ {self.err_title}" + (f"  [{self.code}]" if self.code else ""), classes="dialog-title")
            yield Static(self.message, id="error-message")
            yield Static(f"Next: {self.next_step}", id="error-next", classes="next-step")
            yield Button("Quit" if self.fatal else "Close", id="close", variant="error" if self.fatal else "primary")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_close()

    def action_close(self) -> None:
        if self.fatal:
            self.app.exit(2)
        else:
            self.dismiss(None)
