"""One pane per prompt kind; ``pane_for(prompt)`` picks it."""

from __future__ import annotations

from console.panes.base import PromptPane
from console.panes.people import AttestationPane, PassphrasePane, WitnessPane
from console.panes.review import ReviewPane
from console.panes.shares import ShareEntryPane, ShareReadyPane, ShareVerifyPane
from console.panes.simple import ChecklistPane, ChoicePane, ConfirmPane, PathPane, TextPane, TypedConfirmPane

PANES: dict[str, type[PromptPane]] = {
    "checklist": ChecklistPane,
    "confirm": ConfirmPane,
    "choice": ChoicePane,
    "text": TextPane,
    "typed-confirm": TypedConfirmPane,
    "path": PathPane,
    "passphrase": PassphrasePane,
    "share-entry": ShareEntryPane,
    "share-ready": ShareReadyPane,
    "share-verify": ShareVerifyPane,
    "witness": WitnessPane,
    "attestation": AttestationPane,
    "review": ReviewPane,
}


def pane_for(prompt) -> PromptPane:
    try:
        cls = PANES[prompt.KIND]
    except KeyError:
        raise ValueError(f"no pane for prompt kind {prompt.KIND!r}") from None
    return cls(prompt)


__all__ = ["PANES", "PromptPane", "pane_for"]
