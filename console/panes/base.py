"""A prompt pane: the widget that answers one engine prompt inside the wizard.

Attributes down (the prompt), messages up (``PromptPane.Answered`` with the answer). Answers may
hold a ``Secret``; its repr is redacted, so the message is safe to log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from vault.ceremony.prompts import Answer, Prompt


class PromptPane(Vertical):
    HOLDS_SECRETS: ClassVar[bool] = False

    @dataclass
    class Answered(Message):
        pane: "PromptPane"
        answer: Answer

    def __init__(self, prompt: Prompt) -> None:
        super().__init__(classes="prompt-pane")
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        yield from self.compose_pane()

    def compose_pane(self) -> ComposeResult:
        yield Static(self.prompt.step_title)

    def answer(self, answer: Answer) -> None:
        self.post_message(self.Answered(self, answer))

    def focus_first(self) -> None:
        for w in self.query("Input, Button, OptionList, Checkbox, SelectionList"):
            if w.focusable:
                self.screen.set_focus(w)  # at once: keys typed ahead are replayed right after
                return

    def on_mount(self) -> None:
        self.call_after_refresh(self._focus_unless_inside)

    def _focus_unless_inside(self) -> None:
        """A pane mounted outside the wizard (tests, dialogs) takes the focus; one whose boxes
        already have it (typed ahead into, a Tab replayed) keeps it where it is."""
        focused = self.app.focused
        if focused is None or self not in focused.ancestors_with_self:
            self.focus_first()

    def practice_fill(self) -> bool:
        """ctrl+f in a practice home: fill practice values; True if the pane did something."""
        return False

    def idle_wipe(self) -> Answer | None:
        """The idle lock fired: clear what the pane holds; return an answer to submit, if any."""
        return None
