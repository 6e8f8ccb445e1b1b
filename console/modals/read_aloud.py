"""Read aloud: fingerprints, serials, digests and the seal stay on screen until confirmed.

The engine announces facts as it records them (``ReadAloud`` events). Several can come between
two questions (an enrollment's fingerprint, then the next name is asked), and in a step list or
a log they scrolled away before anyone read them. So the wizard collects the facts that came
since the last question and shows them here, over the next question, until the administrator
confirms they were read (and the witness wrote them down). Hex is grouped in fours, never split.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from console.readable import group_hex
from console.screens.base import VaultModal

SEAL_TITLE = "Closing ledger head"  # the attest step's fact: the head every attestation signs


def fact_title(title: str) -> str:
    if title == SEAL_TITLE:
        return "Ceremony seal (the ledger head every attestation signs)"
    return title


class ReadAloudDialog(VaultModal[None]):
    WHERE = "Read aloud"
    BINDINGS = [Binding("enter,ctrl+o", "done", "Read: continue", id="read.done")]
    HELP = """\
Read each line aloud; the witness writes it into the binder. Hex is in groups of four; the PGP
words (in brackets) say the same bytes in words that are hard to mishear. Press enter once
everything was read: the next question is behind this window.
"""

    def __init__(self, facts: list[tuple[str, str]]) -> None:
        super().__init__()
        self.facts = list(facts)

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="dialog read-dialog"):
            yield Static("Read aloud, then continue", classes="dialog-title")
            with VerticalScroll(id="read-facts"):
                for title, text in self.facts:
                    yield Static(Text.assemble((fact_title(title), "bold"), "\n", group_hex(text)), classes="read-fact")
            with Horizontal(classes="buttons"):
                yield Button("Read aloud: continue (enter)", id="read-done", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_done()

    def action_done(self) -> None:
        self.dismiss(None)
