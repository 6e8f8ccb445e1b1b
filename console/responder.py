"""The TUI's responder for ``vault.ceremony.runner.drive``.

``drive`` runs in a Textual thread worker with ``offload=owner.call``: every engine call runs on
the vault's owning thread, the worker thread waits for it, and the event loop stays free. When the
engine asks a question, ``answer(prompt)`` hands the prompt to the wizard on the event loop
(``app.call_from_thread``) and blocks the worker until the person answers. Events arrive on the
owning thread and are posted (thread-safe, non-blocking) to the wizard.

``TuiPinSource`` is the same road for the HSM user PIN under ``pin_policy = "hsm-procedure"``: the
engine asks for it from inside a step, on the owning thread, when a login needs it
(vault.operations.hsm_procedure); ``ask`` hands the request to the wizard on the event loop and
waits for the holder's answer. Only the owning thread waits (the HSM login is what it is doing); the
event loop never waits on it.
"""

from __future__ import annotations

from asyncio import CancelledError
from dataclasses import dataclass

from textual.message import Message

from vault.ceremony.events import CeremonyCompleted, Event
from vault.ceremony.prompts import AbortAnswer, Answer, Prompt
from vault.errors import PinEntryCancelled


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


class TuiPinSource:
    """The HSM user PIN, typed by its holder in the wizard's PIN dialog (console.modals.hsm_pin)."""

    description = "typed by the PIN holder"
    interactive = True  # a refused PIN is asked again, with the token's retry flags; never resent by itself

    def __init__(self, screen) -> None:
        self.screen = screen
        self.app = screen.app
        self.asked = 0  # a recorded run then names a reference for the replay (vault.ceremony.recorder)

    def ask(self, request):
        """On the owning thread: the PIN as a Secret, or PinEntryCancelled (Escape, or the console closing)."""
        self.asked += 1
        try:
            secret = self.app.call_from_thread(self.screen.ask_hsm_pin, request)
        except (Exception, CancelledError):
            secret = None  # the console is closing: no login
        if secret is None:
            who = ("The console was closed during the HSM login" if getattr(self.screen, "closing", False)
                   else "The PIN holder stopped the HSM login")
            raise PinEntryCancelled(f"{who} (no PIN was sent to the HSM), so the ceremony is aborted.")
        return secret
