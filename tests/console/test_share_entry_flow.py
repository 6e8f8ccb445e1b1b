"""Share entry as custodians make mistakes (issue 11, item 3), PRACTICE shares only:

* a duplicate share is named with its holder from the fourth word, not after 33;
* a valid but wrong word is pointed to by position once the share is complete, the cursor jumps
  there, and one retyped word fixes it (no 19 backspaces);
* a retired set is named from the second word;
* escape and the entry timeout clear a half-typed share;
* type-back offers no "show again" until an attempt was refused.
"""

from __future__ import annotations

import os

from shamir_mnemonic.wordlist import WORDLIST
from textual.app import App, ComposeResult
from textual.widgets import Footer

from console.panes.shares import ShareVerifyPane
from console.safety import IdleClock
from console.widgets.share_entry import ShareEntry
from player import CeremonyPlayer, start_from_launcher
from tui_helpers import SIZE, share_keys, type_fast, until_screen, wait_until
from vault.ceremony.prompts import MemberRef, ShareVerifyPrompt, VerifyMode
from vault.secret import Secret
from vault.shares import KnownShareSet, QuorumPolicy, ShareRef, split
from vault.shares.entry import EntryGuide


def _other_word(word: str) -> str:
    return next(w for w in WORDLIST if w[:4] != word[:4])


async def _quorum_prompt(pilot, prepared) -> CeremonyPlayer:
    await start_from_launcher(pilot, "generate-key")
    await until_screen(pilot, "WizardScreen")
    player = CeremonyPlayer(pilot, dict(prepared.shares), quorum=["alice", "bob"])
    while True:
        await wait_until(pilot, player._ready, timeout=60, what="a prompt")
        if player.wizard.prompt.KIND == "share-entry":
            return player
        await player.step()


async def test_duplicate_named_early_and_wrong_word_pointed_to(initialised, make_app_on):
    app = make_app_on(initialised.home)
    alice, bob = (initialised.shares[c].split() for c in ("alice", "bob"))
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        player = await _quorum_prompt(pilot, initialised)
        w = player.wizard
        await type_fast(pilot, share_keys(alice) + ["enter"])
        await wait_until(pilot, lambda: player._ready() and w.prompt.progress.shares_entered == 1, what="alice")

        # alice's share again: named after four words, with her name, before the rest is typed
        entry = w.pane.query_one(ShareEntry)
        await type_fast(pilot, share_keys(alice[:3]))
        assert entry.verdict == ""
        await type_fast(pilot, share_keys(alice[3:4]))
        assert "SHARE_DUPLICATE" in entry.verdict and "Alice's share (share 1) was already entered" in entry.verdict
        # escape clears the half-typed share at once
        await type_fast(pilot, ["escape"])
        assert entry.words_entered == 0 and entry.verdict == "" and "Cleared" in entry.feedback

        # bob's share with word 15 misread as another valid word
        await type_fast(pilot, share_keys(bob[:4]))
        assert "bob's share (share 2)" in entry.verdict and "✓" in entry.verdict
        misread = list(bob)
        misread[14] = _other_word(bob[14])
        await type_fast(pilot, share_keys(misread[4:]))
        assert entry.words_entered == 33
        assert entry.flagged == 15 and entry.cursor == 15
        assert "Word 15 is wrong" in entry.feedback and "cursor is on word 15" in entry.feedback
        # the right word is never shown (the message's own wording "agree on it" is a SLIP-39 word
        # that a random share can have at position 15: it is taken out before the check)
        feedback = entry.feedback.replace("share agree on it", "")
        assert bob[14] not in feedback and bob[14] not in entry.grid_text
        # one word retyped (four letters and space), then enter: accepted
        await type_fast(pilot, share_keys([bob[14]]))
        assert entry.flagged is None and entry.cursor == 34 and "Checksum OK" in entry.feedback
        await type_fast(pilot, ["enter"])
        await wait_until(pilot, lambda: player._ready() and w.prompt.KIND != "share-entry", what="the next step")


class EntryApp(App):
    def __init__(self, entry: ShareEntry, idle: IdleClock | None = None) -> None:
        super().__init__()
        self.entry = entry
        if idle is not None:
            self.idle = idle

    def compose(self) -> ComposeResult:
        yield self.entry
        yield Footer()


def _set():
    return split(Secret(os.urandom(32), "qs"), QuorumPolicy.simple(2, 3), None)


async def test_a_retired_share_is_named_from_the_second_word():
    active, retired = _set(), _set()
    guide = EntryGuide(active.public, "main", ((ShareRef(0, 0), "alice"),),
                       known=(KnownShareSet(1, retired.public, "set-2025", "retired", "2026-01-02T00:00:00Z"),),
                       known_holders=((1, ShareRef(0, 2), "carol"),))
    entry = ShareEntry(guide=guide, id="e")
    words = retired.shares[2][1].reveal_text().split()
    async with EntryApp(entry).run_test(size=SIZE) as pilot:
        await type_fast(pilot, share_keys(words[:2]))
        assert "SHARE_RETIRED" in entry.verdict and "'set-2025', retired on 2026-01-02" in entry.verdict
        await type_fast(pilot, share_keys(words[2:4]))
        assert "carol's share (share 3)" in entry.verdict


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def test_a_half_typed_share_is_cleared_after_the_timeout():
    clock = FakeMonotonic()
    entry = ShareEntry(timeout=120, id="e")
    words = _set().shares[0][1].reveal_text().split()
    async with EntryApp(entry, IdleClock(600, clock)).run_test(size=SIZE) as pilot:
        await type_fast(pilot, share_keys(words[:6]) + list(words[6][:2]))
        clock.now += 119
        assert not entry.check_timeout() and entry.words_entered == 6
        clock.now += 2
        assert entry.check_timeout()
        assert entry.words_entered == 0 and entry.query_one("#share-word").value == ""
        assert "cleared after 120 s" in entry.feedback


async def test_any_word_can_be_jumped_to_and_retyped():
    words = _set().shares[1][1].reveal_text().split()
    entry = ShareEntry(id="e")
    async with EntryApp(entry).run_test(size=SIZE) as pilot:
        typed = list(words[:10])
        typed[2] = _other_word(words[2])
        await type_fast(pilot, share_keys(typed))
        await type_fast(pilot, ["3", "space"])  # go to word 3
        assert entry.cursor == 3
        await type_fast(pilot, share_keys([words[2]]))
        assert entry._words[:10] == words[:10] and entry.cursor == 11  # replaced, back at the end
        await type_fast(pilot, ["left", "left", "up"])  # ← ← then a row up (4 words a row here)
        assert entry.cursor == 5
        await type_fast(pilot, ["right"] * 9)
        assert entry.cursor == 11  # never past the end
        await type_fast(pilot, share_keys(words[10:]) + ["enter"])


def _verify_prompt(error: bool) -> ShareVerifyPrompt:
    return ShareVerifyPrompt(ceremony_id="init-1", ceremony_name="init", practice=True, step_index=8, step_count=12,
                             step_id="distribute", step_title="Hand out the shares", ask="verify:alice",
                             custodian="alice", ref=MemberRef(0, 0), mode=VerifyMode.FULL, word_count=33,
                             error_code="SHARE_MISMATCH" if error else None,
                             error_message="Word 3 ..." if error else None)


class PaneApp(App):
    def __init__(self, pane) -> None:
        super().__init__()
        self.pane = pane
        self.answers = []

    def compose(self) -> ComposeResult:
        yield self.pane
        yield Footer()

    def on_prompt_pane_answered(self, message) -> None:
        self.answers.append(message.answer)


def _footer_text(app) -> str:
    from textual.widgets._footer import FooterKey

    return " ".join(f"{k.key_display} {k.description}" for k in app.query(FooterKey))


async def test_type_back_offers_no_show_again_until_an_attempt_was_refused():
    app = PaneApp(ShareVerifyPane(_verify_prompt(error=False)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "show again" not in _footer_text(app).lower()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.answers == []
    app = PaneApp(ShareVerifyPane(_verify_prompt(error=True)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "show again" in _footer_text(app).lower()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.answers)
        assert type(app.answers[0]).__name__ == "ResetAnswer"
