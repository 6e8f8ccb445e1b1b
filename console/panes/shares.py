"""Share panes: quorum entry, the ready gate before a reveal, verify-back after it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Static

from console.panes.base import PromptPane
from console.widgets.share_entry import ShareEntry
from vault.ceremony.prompts import (
    CancelAnswer,
    ConfirmAnswer,
    QuorumProgress,
    ResetAnswer,
    SecretAnswer,
    ShareAnswer,
    ShareEntryPrompt,
    ShareReadyPrompt,
    ShareVerifyPrompt,
    VerifyMode,
)

SHARE_WORDS = 33


def progress_text(p: QuorumProgress) -> str:
    lines = []
    for g in p.groups:
        bar = "■" * g.entered + "□" * max(0, g.threshold - g.entered)
        label = "shares" if len(p.groups) == 1 else f"group {g.group + 1}"
        lines.append(f"{label}: {bar} {g.entered} of {g.threshold} needed ({g.count} exist)")
    if len(p.groups) > 1 or p.group_threshold > 1:
        lines.append(f"groups complete: {p.groups_complete} of {p.group_threshold}")
    return "\n".join(lines)


class ShareEntryPane(PromptPane):
    """Quorum activation: one custodian's share at a time, k-of-T progress, reset, cancel."""

    HOLDS_SECRETS = True
    prompt: ShareEntryPrompt
    BINDINGS = [
        Binding("ctrl+r", "reset_quorum", "Reset", id="share.reset", priority=True,
                tooltip="Drop every share entered so far"),
        Binding("ctrl+n", "cancel_quorum", "Cancel", id="share.cancel", priority=True,
                tooltip="Stop the activation; the partial quorum is wiped"),
    ]

    def compose_pane(self) -> ComposeResult:
        p = self.prompt
        who = f"{p.custodian}: type your share" if p.custodian else "Next custodian: type your share"
        name = f" of share set '{p.share_set_name}'" if p.share_set_name else ""
        yield Static(f"{who}{name}. Others look away.", classes="question")
        yield Static(progress_text(p.progress), id="quorum-progress")
        yield ShareEntry(word_count=SHARE_WORDS, expected_ident=p.identifying_words, guide=p.guide, id="share-entry")

    def on_share_entry_completed(self, event: ShareEntry.Completed) -> None:
        event.stop()
        self.answer(ShareAnswer(event.share, custodian=self.prompt.custodian))

    def action_reset_quorum(self) -> None:
        self.query_one(ShareEntry).clear()
        self.answer(ResetAnswer())

    def action_cancel_quorum(self) -> None:
        self.query_one(ShareEntry).clear()
        self.answer(CancelAnswer())

    def idle_wipe(self):
        self.query_one(ShareEntry).clear()
        return ResetAnswer() if self.prompt.progress.shares_entered else None


class ShareReadyPane(PromptPane):
    """The gate before a share is shown: only its holder at the screen."""

    prompt: ShareReadyPrompt

    def compose_pane(self) -> ComposeResult:
        p = self.prompt
        yield Static(f"Share {p.number} of {p.total}: for {p.custodian} only.", classes="question")
        yield Static(f"Everyone except {p.custodian} looks away from the screen now.\n"
                     f"{p.custodian}: have your share card and pen ready. The share is shown once; you will "
                     "type it back (or answer a quiz) before the next custodian sits down.", classes="ready-text")
        with Horizontal(classes="buttons"):
            yield Button(f"I am {p.custodian} and ready", id="ready", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.answer(ConfirmAnswer(True))


class ShareVerifyPane(PromptPane):
    """Verify-back: the whole share again (FULL) or the quizzed words (QUIZ), from the card.

    The share cannot be shown again before a first attempt: the first type-back is always from
    the card, never from the screen. Only after an attempt was refused (the card may be wrong)
    does ``ctrl+r`` go back to the reveal so the card can be corrected.
    """

    HOLDS_SECRETS = True
    prompt: ShareVerifyPrompt
    BINDINGS = [Binding("ctrl+r", "show_again", "Card wrong: show again", id="verify.again", priority=True)]

    def compose_pane(self) -> ComposeResult:
        p = self.prompt
        if p.mode is VerifyMode.QUIZ:
            yield Static(f"{p.custodian}: from your card, type the words at positions "
                         f"{', '.join(map(str, p.positions))}.", classes="question")
            yield ShareEntry(positions=tuple(p.positions), id="share-entry")
        else:
            yield Static(f"{p.custodian}: type your share back from the card you just wrote.", classes="question")
            yield ShareEntry(word_count=p.word_count or SHARE_WORDS, id="share-entry", guide=p.guide,
                             title="Word by word from your card: four letters are enough, space moves on.")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "show_again":
            return bool(self.prompt.error_code)  # hidden until an attempt was refused
        return True

    def on_share_entry_completed(self, event: ShareEntry.Completed) -> None:
        event.stop()
        if self.prompt.mode is VerifyMode.QUIZ:
            self.answer(SecretAnswer(event.share))
        else:
            self.answer(ShareAnswer(event.share, custodian=self.prompt.custodian))

    def action_show_again(self) -> None:
        if not self.prompt.error_code:
            return
        self.query_one(ShareEntry).clear()
        self.answer(ResetAnswer())

    def idle_wipe(self):
        self.query_one(ShareEntry).clear()
        return None
