"""The share reveal: one custodian's share, full screen, until they say it is written down.

Opaque (nothing of the wizard shows through), not selectable, no copy; the grid is blanked before
the screen is dismissed, and the wizard clears its pane before the next custodian is called.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from console.screens.base import VaultModal
from console.widgets.share_grid import ShareGrid
from vault.ceremony.prompts import ShareRevealPrompt


class ShareRevealScreen(VaultModal[bool]):
    WHERE = "Share reveal"
    HOLDS_SECRETS = True
    ALLOW_SELECT = False
    BINDINGS = [Binding("ctrl+w", "written", "Written down", id="reveal.done")]
    HELP = """\
Write every word on your share card, in order, with its number. The first two words (highlighted)
are the same on every share of this set: they identify the set. When done, press the button: the
share disappears and you will type it back (or answer a quiz) from your card.
"""

    def __init__(self, prompt: ShareRevealPrompt) -> None:
        super().__init__(classes="reveal-screen")
        self.prompt = prompt

    def compose_body(self) -> ComposeResult:
        p = self.prompt
        label = "PRACTICE share — " if p.practice else ""
        with Vertical(id="reveal"):
            yield Static(f"{label}{p.custodian}: your share ({p.ref.describe()}), {p.word_count} words",
                         classes="dialog-title")
            yield Static(f"Set words (same on every share of this set): {p.identifying_words}", id="reveal-ident")
            yield ShareGrid(p.share, columns=3, id="share-grid")
            with Horizontal(classes="buttons"):
                yield Button("I have written it down (ctrl+w)", id="written", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_written()

    def action_written(self) -> None:
        self.query_one(ShareGrid).wipe()
        self.dismiss(True)
