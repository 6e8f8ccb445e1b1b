"""Word-by-word share entry with SLIP-39 completion, per-word marks and checksum feedback.

The words live only in this widget (and are cleared on submit, reset, cancel and unmount). No
message this widget posts carries a word: ``Completed`` carries a ``Secret``; the per-word marks,
completion and checksum feedback are rendered, never posted. Words are masked by default;
``ctrl+t`` reveals them to the typist.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from shamir_mnemonic.wordlist import WORDLIST
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from console.widgets.secret_input import QuietInput
from vault.errors import VaultError
from vault.secret import Secret
from vault.shares.parse import parse_share
from vault.shares.words import expand

IDENT_WORDS = 2
_MASK = "••••••"


def candidates(prefix: str, limit: int = 6) -> list[str]:
    prefix = prefix.lower()
    if not prefix:
        return []
    return [w for w in WORDLIST if w.startswith(prefix)][:limit]


class WordInput(QuietInput):
    """The one-word input: space / enter / tab accept the word; backspace on empty goes back.

    The owning ``ShareEntry`` is called directly (not through a message) so that a word is taken
    before the next key press is handled, however fast the keys come.
    """

    def __init__(self, entry: "ShareEntry", **kwargs) -> None:
        super().__init__(**kwargs)
        self._entry = entry

    async def _on_key(self, event: events.Key) -> None:
        # Handled here, in key order, rather than as (priority) bindings, which the app would run
        # before this widget has processed the letters typed just before.
        if event.key in ("space", "tab"):
            event.stop()
            event.prevent_default()
            self._entry.accept_word()
            return
        await super()._on_key(event)

    async def action_submit(self) -> None:
        self._entry.accept_word()

    def action_delete_left(self) -> None:
        if not self.value:
            self._entry.back_up()
        else:
            super().action_delete_left()


class ShareEntry(Vertical):
    """Collect one share. Posts ``Completed(secret)`` when the share is complete and valid."""

    ALLOW_SELECT = False
    BINDINGS = [
        Binding("ctrl+t", "toggle_reveal", "Reveal/mask", tooltip="Show the words to the typist", priority=True),
        Binding("ctrl+u", "clear_share", "Clear share", priority=True),
    ]

    revealed: reactive[bool] = reactive(False)

    @dataclass
    class Completed(Message):
        entry: "ShareEntry"
        share: Secret

    def __init__(self, *, word_count: int = 33, expected_ident: str | None = None,
                 positions: tuple[int, ...] = (), title: str | None = None, id: str | None = None) -> None:
        """``positions``: quiz mode — only the words at these 1-based positions are asked;
        ``title``: the line above the grid (default: which share set is expected)."""
        super().__init__(id=id, classes="share-entry")
        self.title = title
        self.word_count = len(positions) if positions else word_count
        self.positions = positions
        self.expected_ident = expected_ident
        self._words: list[str] = []
        self._feedback = ""

    # -- composition -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self._ident_line(), id="share-ident")
        yield Static("", id="share-grid")
        yield WordInput(self, placeholder=self._placeholder(), password=True, id="share-word")
        yield Static("", id="share-hint")
        yield Static("", id="share-feedback")

    def on_mount(self) -> None:
        self._render_all()
        self.query_one(WordInput).focus()

    def on_unmount(self) -> None:
        self.clear()

    # -- state -----------------------------------------------------------------------------------
    @property
    def words_entered(self) -> int:
        return len(self._words)

    @property
    def marks(self) -> list[bool]:
        """Per word: is it a SLIP-39 word."""
        return [w in _WORDSET for w in self._words]

    @property
    def feedback(self) -> str:
        return self._feedback

    def clear(self) -> None:
        for i in range(len(self._words)):
            self._words[i] = ""
        self._words.clear()
        self._feedback = ""
        try:
            self.query_one(WordInput).value = ""
        except Exception:  # not composed yet / already gone
            pass

    def _position(self, index: int) -> int:
        return self.positions[index] if self.positions else index + 1

    def _placeholder(self) -> str:
        n = len(self._words)
        if n >= self.word_count:
            return "complete: enter submits"
        return f"word {self._position(n)} ({n + 1} of {self.word_count})"

    # -- events ----------------------------------------------------------------------------------
    def on_quiet_input_edited(self, event: QuietInput.Edited) -> None:
        event.stop()
        self._render_hint()

    def accept_word(self) -> None:
        box = self.query_one(WordInput)
        typed = box.value.strip().lower()
        if not typed:
            if len(self._words) >= self.word_count:
                self._submit()
            return
        if len(self._words) >= self.word_count:
            box.value = ""
            self._feedback = "All words are in: enter submits, backspace edits the last word."
            self._render_all()
            return
        word = expand(typed)
        if word is None:
            unique = candidates(typed, 2)
            word = unique[0] if len(unique) == 1 else typed
        self._words.append(word)
        box.value = ""
        self._feedback = "" if word in _WORDSET else (
            f"Word {self._position(len(self._words) - 1)} is not a SLIP-39 word: "
            "backspace to correct it, then type it again from the card.")
        if len(self._words) == self.word_count:
            self._check_complete()
        self._render_all()

    def back_up(self) -> None:
        if self._words:
            self._words.pop()
            self._feedback = ""
            self._render_all()

    def action_toggle_reveal(self) -> None:
        self.revealed = not self.revealed
        box = self.query_one(WordInput)
        box.password = not self.revealed

    def watch_revealed(self, _v: bool) -> None:
        if self.is_mounted:
            self._render_all()

    def action_clear_share(self) -> None:
        self.clear()
        self._render_all()

    # -- checks ----------------------------------------------------------------------------------
    def _bad_positions(self) -> list[int]:
        return [self._position(i) for i, ok in enumerate(self.marks) if not ok]

    def _check_complete(self) -> bool:
        bad = self._bad_positions()
        if bad:
            self._feedback = "Not SLIP-39 words: " + ", ".join(f"word {p}" for p in bad) + ". Backspace to fix."
            return False
        if self.positions:  # a quiz has no checksum
            self._feedback = "All quiz words in: press enter to submit."
            return True
        try:
            parsed = parse_share(" ".join(self._words), self.word_count)
        except VaultError as exc:
            self._feedback = f"✗ {exc.message} {exc.next_step}"
            return False
        parsed.wipe()
        ident = " ".join(self._words[:IDENT_WORDS])
        if self.expected_ident and ident != self.expected_ident:
            self._feedback = (f"✗ Checksum OK, but this share starts {ident!r}: the shares this step needs start "
                              f"{self.expected_ident!r}. Ask for a share of the right set.")
            return True  # let the engine name the set (foreign / retired) on submit
        self._feedback = f"✓ Checksum OK ({parsed.ref.describe()}). Press enter to submit."
        return True

    def _submit(self) -> None:
        if not self._check_complete():
            self._render_all()
            return
        share = Secret(" ".join(self._words), "share")
        self.clear()
        self._render_all()
        self.post_message(self.Completed(self, share))

    # -- rendering -------------------------------------------------------------------------------
    def _ident_line(self) -> str:
        if self.title:
            return self.title
        if self.positions:
            return "Quiz: type the words at positions " + ", ".join(map(str, self.positions))
        if self.expected_ident:
            return f"Share set: shares start “{self.expected_ident}”"
        return "Share set: any share of the active set"

    def _render_all(self) -> None:
        self.query_one("#share-grid", Static).update(self._grid())
        self.query_one(WordInput).placeholder = self._placeholder()
        self._render_hint()
        self.query_one("#share-feedback", Static).update(self._feedback)

    def _grid(self) -> Text:
        cols = 4 if (self.size.width or 80) >= 76 else 3
        text = Text()
        cells = []
        for i in range(self.word_count):
            pos = self._position(i)
            if i < len(self._words):
                word = self._words[i]
                ok = word in _WORDSET
                shown = word if (self.revealed or (i < IDENT_WORDS and not self.positions)) else _MASK
                mark = "✓" if ok else "✗"
                style = "green" if ok else "bold red"
                cells.append((f"{pos:>2} ", f"{shown:<9}", f"{mark} ", style))
            elif i == len(self._words):
                cells.append((f"{pos:>2} ", f"{'▁' * 6:<9}", "  ", "bold"))
            else:
                cells.append((f"{pos:>2} ", f"{'·':<9}", "  ", "dim"))
        for n, (num, word, mark, style) in enumerate(cells):
            text.append(num, style="dim")
            text.append(word, style="" if style in ("green",) else style)
            text.append(mark, style=style)
            text.append("\n" if (n + 1) % cols == 0 else " ")
        return text

    def _render_hint(self) -> None:
        box = self.query_one(WordInput)
        typed = box.value.strip().lower()
        hint = ""
        if typed:
            found = candidates(typed)
            if not found:
                hint = "✗ no SLIP-39 word starts like this"
            elif len(found) == 1 or expand(typed):
                hint = f"✓ {found[0] if self.revealed else 'one word matches'} (tab or space to accept)"
            elif self.revealed:
                hint = "… " + ", ".join(found)
            else:
                hint = f"… {len(found)}{'+' if len(found) == 6 else ''} words start like this; keep typing"
        self.query_one("#share-hint", Static).update(hint)


_WORDSET = frozenset(WORDLIST)
