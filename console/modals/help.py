"""Per-screen and per-step help."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from console.screens.base import VaultModal


class HelpDialog(VaultModal[None]):
    WHERE = "Help"
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close help")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.help_title = title
        self.text = text

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help-dialog"):
            yield Static(f"Help: {self.help_title}", classes="dialog-title")
            yield Markdown(self.text)

    def action_dismiss(self) -> None:
        self.dismiss(None)
