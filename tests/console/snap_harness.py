"""Deterministic apps for the snapshot tests: the console's CSS, theme and screens, fixed data.

Only PRACTICE values appear: the share below is a practice share of a quorum secret 00 01 .. 1f.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Input

from console.theme import CUSTODIAN_THEME
from vault.types import Mode

import console.app as _console_app  # noqa: E402

STYLES = Path(_console_app.__file__).parent / "styles"

PRACTICE_SHARE = ("warmth aquatic academic acid argue syndrome blue finger again earth exhaust grill fridge "
                  "process tension center fiber plains response dramatic envy rapids dictate repeat drove mouse "
                  "sniff heat bulge body muscle climate garbage")
PRACTICE_IDENT = "warmth aquatic"


class Harness(App):
    CSS_PATH = [STYLES / "app.tcss", STYLES / "wizard.tcss"]

    def __init__(self, make_screen, mode: Mode = Mode.PRACTICE) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.vault_mode = mode
        self.register_theme(CUSTODIAN_THEME)
        self.theme = CUSTODIAN_THEME.name
        self.ceremony_running = False

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())

    def freeze(self) -> None:
        for box in self.screen.query(Input):
            box.cursor_blink = False
