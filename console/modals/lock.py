"""The idle lock: covers the screen; a partial quorum was wiped before it appeared."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, Static

from console.screens.base import VaultModal


class LockScreen(VaultModal[None]):
    WHERE = "Locked"
    BINDINGS = [Binding("enter", "unlock", "Continue")]

    def __init__(self, what: str) -> None:
        super().__init__(classes="lock-screen")
        self.what = what

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Console locked after being left idle", classes="dialog-title")
            yield Static(self.what, id="lock-what")
            yield Button("Continue (enter)", id="unlock", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_unlock(self) -> None:
        self.dismiss(None)
