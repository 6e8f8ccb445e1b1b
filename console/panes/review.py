"""The review before an irreversible HSM action: the administrator, then the witness, confirm.

Escape (or "Back") returns to the step's answers with nothing done, where the engine allows it
(``prompt.can_go_back``).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Static

from console.panes.base import PromptPane
from console.readable import group_hex
from vault.ceremony.prompts import BackAnswer, ReviewAnswer, ReviewPrompt


def review_text(p: ReviewPrompt) -> str:
    lines = []
    for i in p.items:
        lines.append(f"{i.label}: {group_hex(i.value)}")  # hex in groups of four, never split mid-group
        if i.words:
            lines.append(f"    read aloud: {i.words}")
    return "\n".join(lines)


class ReviewPane(PromptPane):
    prompt: ReviewPrompt
    BINDINGS = [Binding("escape", "back", "Back", id="review.back")]

    def __init__(self, prompt) -> None:
        super().__init__(prompt)
        self._admin = False

    def compose_pane(self) -> ComposeResult:
        p = self.prompt
        yield Static(f"REVIEW — nothing has been done yet. {p.title}", classes="question destructive")
        yield Static(review_text(p), classes="statement", id="review-items")
        yield Static(f"First the administrator ({p.administrator}) confirms, then the witness ({p.witness})."
                     + (" Escape goes back to the answers." if p.can_go_back else ""), classes="hint")
        with Horizontal(classes="buttons"):  # short labels: three buttons fit 80 columns
            yield Button(f"{p.administrator} confirms", id="review-admin", variant="primary")
            yield Button(f"{p.witness} confirms", id="review-witness", disabled=True)
            if p.can_go_back:
                yield Button("Back (esc)", id="review-back")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "review-admin":
            self._admin = True
            event.button.label = f"✓ {self.prompt.administrator} confirmed"
            event.button.disabled = True
            witness = self.query_one("#review-witness", Button)
            witness.disabled = False
            witness.focus()
        elif event.button.id == "review-witness" and self._admin:
            self.answer(ReviewAnswer(True, True))
        elif event.button.id == "review-back":
            self.action_back()

    def action_back(self) -> None:
        back = getattr(self.screen, "action_back", None)
        if back is not None:  # the wizard: back, or why not, above the question
            back()
        elif self.prompt.can_go_back:
            self.answer(BackAnswer())
