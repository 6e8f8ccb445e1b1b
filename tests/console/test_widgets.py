"""Secret widgets on their own: share entry, secret input, share grid (PRACTICE shares only)."""

from __future__ import annotations

import os

import pytest
from textual.app import App, ComposeResult

from console.widgets.secret_input import SecretInput
from console.widgets.share_entry import ShareEntry
from tui_helpers import MessageTap, share_keys, type_fast, wait_until
from vault.secret import Secret
from vault.shares import QuorumPolicy, split


def practice_shares(m=2, n=3):
    return split(Secret(os.urandom(32), "qs"), QuorumPolicy.simple(m, n), None)


class EntryApp(App):
    def __init__(self, **kw) -> None:
        super().__init__()
        self.kw = kw
        self.completed: list[Secret] = []

    def compose(self) -> ComposeResult:
        yield ShareEntry(**self.kw, id="entry")

    def on_share_entry_completed(self, event: ShareEntry.Completed) -> None:
        self.completed.append(event.share)


async def type_words(pilot, words):
    await type_fast(pilot, share_keys(words))


async def test_share_entry_complete_share_checksum_ok():
    result = practice_shares()
    share = result.shares[0][1].reveal_text()
    tap = MessageTap()
    app = EntryApp(word_count=33, expected_ident=result.public.identifying_words)
    async with app.run_test(size=(100, 30), message_hook=tap) as pilot:
        entry = app.query_one(ShareEntry)
        await type_words(pilot, share.split())
        assert entry.words_entered == 33 and all(entry.marks)
        assert "Checksum OK" in entry.feedback
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.completed)
        assert app.completed[0].reveal_text() == share
        assert entry.words_entered == 0  # cleared on submit
    words = share.split()
    text = tap.joined()
    for i in range(2, len(words) - 2):  # no three consecutive share words in any message
        assert " ".join(words[i:i + 3]) not in text


async def test_share_entry_wrong_word_and_bad_checksum():
    result = practice_shares()
    words = result.shares[1][1].reveal_text().split()
    app = EntryApp(word_count=33)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.query_one(ShareEntry)
        await pilot.press(*"zzzz", "space")
        assert entry.marks == [False]
        assert "not a SLIP-39 word" in entry.feedback
        await pilot.press("backspace")  # empty input: back to the bad word, removed
        assert entry.words_entered == 0
        swapped = words[:]
        swapped[5], swapped[6] = swapped[6], swapped[5]
        if swapped == words:
            swapped[5] = "academic" if words[5] != "academic" else "acid"
        await type_words(pilot, swapped)
        assert entry.words_entered == 33
        assert "checksum" in entry.feedback.lower() and "✗" in entry.feedback
        await pilot.press("enter")
        await pilot.pause()
        assert not app.completed


@pytest.mark.parametrize("secret_bytes, word_count", [(32, 33), (16, 20)])
async def test_enter_on_the_last_word_of_a_valid_share_submits_it(secret_bytes, word_count):
    """Enter after the last word (no space first) submits the share at once (issue 11: it took a
    space or an enter to take the word, then a second enter). Space still only takes the word."""
    if secret_bytes == 32:  # the vault's own shares
        words = practice_shares().shares[0][1].reveal_text().split()
    else:  # a 128-bit SLIP-39 share (the widget takes any word count); a practice secret
        from shamir_mnemonic import generate_mnemonics

        words = generate_mnemonics(1, [(2, 3)], os.urandom(secret_bytes))[0][0].split()
    assert len(words) == word_count
    app = EntryApp(word_count=word_count)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.query_one(ShareEntry)
        await type_fast(pilot, share_keys(words[:-1]) + [*words[-1][:4], "enter"])
        await wait_until(pilot, lambda: app.completed, timeout=10, what="the share submitted by one enter")
        assert [s.reveal_text() for s in app.completed] == [" ".join(words)]
        assert entry.words_entered == 0  # cleared on submit
        await type_fast(pilot, share_keys(words))  # space after the last word: taken, not submitted
        assert entry.words_entered == word_count and len(app.completed) == 1
        assert "Press enter to submit" in entry.feedback


async def test_enter_on_a_last_word_that_leaves_the_share_wrong_is_answered_not_submitted():
    """Enter on a 33rd word that is not a SLIP-39 word (an unfinished prefix) or that fails the
    checksum takes the word and says what is wrong; nothing is submitted."""
    result = practice_shares()
    words = result.shares[0][1].reveal_text().split()
    app = EntryApp(word_count=33)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.query_one(ShareEntry)
        await type_fast(pilot, share_keys(words[:-1]) + ["a", "c", "enter"])  # 'ac': many words start so
        assert entry.words_entered == 33 and not app.completed
        assert "Not SLIP-39 words: word 33" in entry.feedback
        await type_fast(pilot, ["backspace"])  # the box is empty: word 33 is taken back
        assert entry.words_entered == 32
        wrong = next(w for w in ("academic", "acid", "acne") if w != words[-1])
        await type_fast(pilot, [*wrong, "enter"])  # a real word, but the checksum fails
        assert entry.words_entered == 33 and not app.completed
        assert "✗" in entry.feedback and "checksum" in entry.feedback.lower()


async def test_share_entry_masked_by_default_reveal_toggle():
    result = practice_shares()
    words = result.shares[0][1].reveal_text().split()
    app = EntryApp(word_count=33)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.query_one(ShareEntry)
        await type_words(pilot, words[:4])
        grid = entry.grid_text
        assert words[3] not in grid and "••••" in grid
        assert words[0] in grid  # identifying words are shown
        await pilot.press("ctrl+t")
        grid = entry.grid_text
        assert words[3] in grid
        await pilot.press("ctrl+t", "ctrl+u")
        assert entry.words_entered == 0


async def test_share_entry_completion_from_prefix():
    app = EntryApp(word_count=33)
    async with app.run_test(size=(100, 30)) as pilot:
        entry = app.query_one(ShareEntry)
        await pilot.press("ctrl+t", *"acad")
        assert "academic" in str(entry.query_one("#share-hint").render())
        await pilot.press("tab")
        assert entry._words == ["academic"]


class SecretApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[Secret] = []

    def compose(self) -> ComposeResult:
        yield SecretInput(id="pp")

    def on_secret_input_submitted(self, event: SecretInput.Submitted) -> None:
        self.secrets.append(event.secret)


async def test_secret_input_no_value_in_messages_no_copy():
    tap = MessageTap()
    app = SecretApp()
    async with app.run_test(size=(60, 8), message_hook=tap) as pilot:
        box = app.query_one(SecretInput)
        box.focus()
        await pilot.press(*"practice-pass")
        assert box.password and not box.allow_select
        await pilot.press("ctrl+a", "ctrl+c", "ctrl+x")
        assert app.clipboard == ""
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.secrets)
        assert box.value == ""
        assert app.secrets[0].reveal_text() == "practice-pass"
    assert "practice-pass" not in tap.joined()
