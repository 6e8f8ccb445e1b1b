"""The one loop that drives a ceremony, for every front end.

    outcome = drive(engine, responder)

A responder answers prompts (``answer(prompt) -> Answer``) and receives events as they happen
(``on_event(event)``). The TUI's responder pushes a modal per prompt and blocks until the person
answers; the script responder reads a ceremony script; ``RecordingResponder`` wraps either and
writes a replayable script.

``offload``: when ``drive`` runs on a thread that does not own the vault (the TUI's UI worker),
pass ``offload=owner.call`` so every engine call runs on the owning thread (vault.runtime). The
CLI and tests drive on the owning thread and need no offload.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from vault.ceremony.engine import Engine, Outcome, Status
from vault.ceremony.events import Event
from vault.ceremony.prompts import Answer, Prompt


class Responder(Protocol):
    def answer(self, prompt: Prompt) -> Answer: ...

    def on_event(self, event: Event) -> None: ...


Offload = Callable[..., Any]


def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def drive(engine: Engine, responder: Responder, *, offload: Offload | None = None) -> Outcome:
    """Run the ceremony to its end (completed or aborted) and return the outcome.

    Events reach ``responder.on_event`` as they happen (including progress during HSM work).
    A responder that raises aborts nothing by itself: the exception propagates and the ceremony
    stays ``running`` in the journal, exactly like a crash (the next start offers resume/abort).
    """
    call = offload or _inline
    engine.subscribe(responder.on_event)
    if engine.status is Status.NEW:
        call(engine.start)
    while (prompt := call(engine.pending)) is not None:
        answer = responder.answer(prompt)
        call(engine.submit, answer)
    assert engine.outcome is not None
    return engine.outcome
