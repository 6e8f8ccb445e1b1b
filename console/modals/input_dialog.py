"""A modal with one text field, a go button and a back/cancel button; Enter goes, Escape cancels."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Button, Input

from console.screens.base import VaultModal


class InputDialog(VaultModal):
    """Subclasses compose the field and buttons (ids ``go`` and any other) and implement ``_go``."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._go()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "go":
            self._go()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _go(self) -> None:
        raise NotImplementedError
