"""The TUI's responder for ``vault.ceremony.runner.drive``.

``drive`` runs in a Textual thread worker with ``offload=owner.call``: every engine call runs on
the vault's owning thread, the worker thread waits for it, and the event loop stays free. When the
engine asks a question, ``answer(prompt)`` hands the prompt to the wizard on the event loop
(``app.call_from_thread``) and blocks the worker until the person answers. Events arrive on the
owning thread and are posted (thread-safe, non-blocking) to the wizard.
"""

from __future__ import annotations

from asyncio import CancelledError
from dataclasses import dataclass

from textual.message import Message

from vault.ceremony.events import CeremonyCompleted, Event
from vault.ceremony.prompts import AbortAnswer, Answer, Prompt


@dataclass
class EngineEvent(Message):
    """An engine event for the wizard (events never carry secrets)."""

    event: Event


class TuiResponder:
    def __init__(self, screen) -> None:
        self.screen = screen
        self.app = screen.app
        self.completed: CeremonyCompleted | None = None  # kept here too: messages may come after the end

    def answer(self, prompt: Prompt) -> Answer:
        try:
            return self.app.call_from_thread(self.screen.ask, prompt)
        except (Exception, CancelledError):
            if self.app.is_running and self.screen.is_attached:
                raise
            # the console is closing: abort rather than leave a quorum in memory
            return AbortAnswer("the console was closed during the ceremony")

    def on_event(self, event: Event) -> None:
        if isinstance(event, CeremonyCompleted):
            self.completed = event
        self.screen.post_message(EngineEvent(event))
