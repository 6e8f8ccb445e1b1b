"""Word-by-word share entry: SLIP-39 completion, per-word marks, early verdicts, the wrong word.

What the typist sees, word by word:
* each word marked ✓ / ✗ (a SLIP-39 word or not) as it is accepted;
* from word 4 on, whose share it is, or that it belongs to a retired or unknown set or was
  already entered (``vault.shares.entry.EntryGuide``: public records from the prompt);
* on a complete share that fails its checksum, the one wrong word's position (checksum and the
  stored commitment agree); the cursor jumps there to retype it. The word itself is never shown.

Editing: any word can be jumped to: type its number and space/enter, or move with ← → (↑ ↓ a
row) while the word box is empty; typing a word there replaces it and returns to the end.
Backspace on an empty box takes back the last word. Enter on the word that completes a valid
share (the last one, or one retyped) also submits it; space and tab only take the word.

Clearing: the words live only in this widget and are cleared on submit, on escape, on
``ctrl+u``, on unmount, by the idle lock (the pane calls ``clear``) and after ``timeout``
seconds without a key press. No message posted here carries a word: ``Completed`` carries a
``Secret``; marks, completion and verdicts are rendered, never posted. Words are masked by
default (the two set words excepted); ``ctrl+t`` reveals them to the typist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from shamir_mnemonic.wordlist import WORDLIST
from textual import events
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import Static

from console.widgets.secret_input import QuietInput
from vault.errors import ShareChecksumInvalid, VaultError
from vault.secret import Secret
from vault.shares.entry import PREFIX_WORDS, EntryGuide, located_message
from vault.shares.parse import parse_share
from vault.shares.words import expand

IDENT_WORDS = 2
_MASK = "••••••"
TIMEOUT = 120.0  # seconds without a key press before a half-typed share is cleared
_COLS_WIDE, _COLS_NARROW = 4, 3


def candidates(prefix: str, limit: int = 6) -> list[str]:
    prefix = prefix.lower()
    if not prefix:
        return []
    return [w for w in WORDLIST if w.startswith(prefix)][:limit]


class WordInput(QuietInput):
    """The one-word input: space / enter / tab accept the word (enter on the word that completes a
    valid share also submits it); on an empty box backspace goes back, ← → ↑ ↓ move between words.

    The owning ``ShareEntry`` is called directly (not through a message) so that a word is taken
    before the next key press is handled, however fast the keys come.
    """

    def __init__(self, entry: "ShareEntry", **kwargs) -> None:
        super().__init__(**kwargs)
        self._entry = entry

    async def _on_key(self, event: events.Key) -> None:
        # Handled here, in key order, rather than as (priority) bindings, which the app would run
        # before this widget has processed the letters typed just before.
        self._entry.touch()
        if event.key in ("space", "tab"):
            event.stop()
            event.prevent_default()
            self._entry.accept_word()
            return
        if not self.value and event.key in ("left", "right", "up", "down"):
            event.stop()
            event.prevent_default()
            self._entry.move(event.key)
            return
        await super()._on_key(event)

    async def action_submit(self) -> None:
        # Enter, unlike space and tab, also submits when the word it takes completes a valid share:
        # people press enter after the last word and expect that to be the end (it took a second
        # enter before). A word that leaves the share incomplete or invalid is answered as before.
        self._entry.accept_word(submit=True)

    def action_delete_left(self) -> None:
        if not self.value:
            self._entry.back_up()
        else:
            super().action_delete_left()


class ShareEntry(Vertical):
    """Collect one share. Posts ``Completed(secret)`` when the share is complete and valid."""

    ALLOW_SELECT = False
    # The hint is repainted per key without a layout (see _show): it must stay one line high.
    DEFAULT_CSS = "ShareEntry #share-hint { height: 1; }"
    BINDINGS = [
        Binding("escape", "clear_or_leave", "Clear", id="share.clear", tooltip="Clear the words typed so far"),
        Binding("ctrl+t", "toggle_reveal", "Reveal", tooltip="Show the words to the typist", priority=True),
        Binding("ctrl+u", "clear_share", "Clear share", show=False, priority=True),
    ]

    revealed: reactive[bool] = reactive(False)

    @dataclass
    class Completed(Message):
        entry: "ShareEntry"
        share: Secret

    def __init__(self, *, word_count: int = 33, expected_ident: str | None = None,
                 positions: tuple[int, ...] = (), title: str | None = None, guide: EntryGuide | None = None,
                 timeout: float = TIMEOUT, id: str | None = None) -> None:
        """``positions``: quiz mode — only the words at these 1-based positions are asked;
        ``title``: the line above the grid (default: which share set is expected);
        ``guide``: public records for early verdicts and locating a wrong word."""
        super().__init__(id=id, classes="share-entry")
        self.title = title
        self.word_count = len(positions) if positions else word_count
        self.positions = positions
        self.guide = guide if not positions else None
        self.expected_ident = expected_ident or (guide.expected.identifying_words if guide else None)
        self.timeout = timeout
        self._words: list[str] = []
        self._at = 0  # the word being typed: len(self._words) at the end, less when editing
        self._feedback = ""
        self._verdict_line = ""
        self._verdict_ok = True
        self._flagged: int | None = None  # 0-based index of the word the checksum search points to
        self._last_key = self._now()
        self._shown: dict[str, str] = {}  # selector -> what it shows (skip updates that change nothing)
        self._grid_cols = 0  # the grid's columns when last laid out (same columns: same height)

    # -- composition -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self._ident_line(), id="share-ident")
        yield from self._compose_grid()
        yield WordInput(self, placeholder=self._placeholder(), password=True, id="share-word")
        yield Static("", id="share-hint")
        yield Static("", id="share-verdict")
        yield Static("", id="share-feedback")

    def _compose_grid(self) -> ComposeResult:
        yield GridLines(id="share-grid")

    def on_mount(self) -> None:
        self.touch()  # the app's idle clock (tests give it a fake one)
        self._shown.clear()  # freshly composed boxes show nothing yet
        self._grid_cols = 0
        self._render_all()
        self.query_one(WordInput).focus()
        self.set_interval(1.0, self.check_timeout, name="share-entry-timeout")
        if self.guide is not None:
            from vault.shares.locate import warm_up

            self.run_worker(warm_up, thread=True, exit_on_error=False, name="share-locate-tables")

    def on_unmount(self) -> None:
        self.clear()

    # -- state -----------------------------------------------------------------------------------
    @property
    def words_entered(self) -> int:
        return len(self._words)

    @property
    def cursor(self) -> int:
        """1-based position of the word being typed (``words_entered + 1`` at the end)."""
        return self._at + 1

    @property
    def flagged(self) -> int | None:
        """1-based position of the word the checksum search points to, or None."""
        return None if self._flagged is None else self._flagged + 1

    @property
    def marks(self) -> list[bool]:
        """Per word: is it a SLIP-39 word."""
        return [w in _WORDSET for w in self._words]

    @property
    def feedback(self) -> str:
        return self._feedback

    @property
    def verdict(self) -> str:
        """The early verdict shown (whose share, or why it will be refused)."""
        return self._verdict_line

    def clear(self) -> None:
        for i in range(len(self._words)):
            self._words[i] = ""
        self._words.clear()
        self._at = 0
        self._feedback = ""
        self._verdict_line = ""
        self._verdict_ok = True
        self._flagged = None
        try:
            self.query_one(WordInput).value = ""
        except Exception:  # not composed yet / already gone
            pass

    def _position(self, index: int) -> int:
        return self.positions[index] if self.positions else index + 1

    def _placeholder(self) -> str:
        n = len(self._words)
        if self._at < n:
            return f"retype word {self._position(self._at)}"
        if n >= self.word_count:
            return "complete: enter submits"
        return f"word {self._position(n)} ({n + 1} of {self.word_count})"

    # -- time --------------------------------------------------------------------------------------
    def _now(self) -> float:
        idle = getattr(self.app, "idle", None) if self.is_attached else None
        return idle.now() if idle is not None else time.monotonic()

    def touch(self) -> None:
        self._last_key = self._now()

    def check_timeout(self) -> bool:
        """Clear a half-typed share left alone longer than ``timeout``; True if it did."""
        if not self.timeout or not (self._words or self._typed()):
            return False
        if self._now() - self._last_key < self.timeout:
            return False
        self.clear()
        self._feedback = (f"The words typed were cleared after {int(self.timeout)} s without a key press: "
                          "nothing of the share is kept. Type it again from the card.")
        self._render_all()
        return True

    def _typed(self) -> str:
        try:
            return self.query_one(WordInput).value
        except Exception:
            return ""

    # -- events ----------------------------------------------------------------------------------
    def on_quiet_input_edited(self, event: QuietInput.Edited) -> None:
        event.stop()
        self._render_hint()

    def accept_word(self, *, submit: bool = False) -> None:
        """Take the typed word (or act on a typed number). ``submit`` (enter): if the share is then
        complete and passes its checks, submit it at once."""
        box = self.query_one(WordInput)
        typed = box.value.strip().lower()
        if not typed:
            if len(self._words) >= self.word_count and self._at >= len(self._words):
                self._submit()
            return
        if typed.isdigit():  # "15" + space: go to word 15
            box.value = ""
            self.go_to(int(typed))
            return
        editing = self._at < len(self._words)
        if not editing and len(self._words) >= self.word_count:
            box.value = ""
            self._feedback = "All words are in: enter submits; type a word's number to go back to it."
            self._render_all()
            return
        word = expand(typed)
        if word is None:
            unique = candidates(typed, 2)
            word = unique[0] if len(unique) == 1 else typed
        box.value = ""
        if editing:
            self._words[self._at] = word
            if self._flagged == self._at:
                self._flagged = None
        else:
            self._words.append(word)
        pos = self._position(self._at)
        self._at = len(self._words)  # back to the end
        self._feedback = "" if word in _WORDSET else (
            f"Word {pos} is not a SLIP-39 word: type its number ({pos}) and space to retype it, "
            "or backspace if it is the last one.")
        complete = len(self._words) == self.word_count and self._check_complete()
        self._check_prefix()
        if submit and complete:
            self._submit()
            return
        self._render_all()

    def back_up(self) -> None:
        if self._at < len(self._words):  # editing: backspace on empty moves back a word
            self.move("left")
            return
        if self._words:
            self._words.pop()
            self._at = len(self._words)
            self._feedback = ""
            if self._flagged is not None and self._flagged >= len(self._words):
                self._flagged = None
            self._check_prefix()
            self._render_all()

    def move(self, key: str) -> None:
        """← → one word, ↑ ↓ one row of the grid, within the words typed (and the end)."""
        step = {"left": -1, "right": 1, "up": -self._cols(), "down": self._cols()}[key]
        self._at = max(0, min(len(self._words), self._at + step))
        self._render_all()

    def go_to(self, position: int) -> None:
        """Jump to the word at 1-based ``position`` (a quiz's positions count as 1, 2, 3)."""
        index = position - 1
        if self.positions:
            index = self.positions.index(position) if position in self.positions else -1
        if not 0 <= index <= len(self._words) or index >= self.word_count:
            self._feedback = (f"There is no word {position} to go to yet: {len(self._words)} "
                              f"word{'s' if len(self._words) != 1 else ''} typed.")
        else:
            self._at = index
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

    def action_clear_or_leave(self) -> None:
        """Escape: clear what is typed; with nothing typed, let escape go to the screen (back)."""
        if not (self._words or self._typed()):
            raise SkipAction()
        self.clear()
        self._feedback = "Cleared: nothing of the share is kept."
        self._render_all()

    # -- checks ----------------------------------------------------------------------------------
    def _check_prefix(self) -> None:
        self._verdict_line, self._verdict_ok = "", True
        if self.guide is None or len(self._words) < IDENT_WORDS:
            return
        verdict = self.guide.check_prefix(self._words[:PREFIX_WORDS])
        if verdict is not None:
            self._verdict_line, self._verdict_ok = verdict.line(), verdict.ok

    def _bad_positions(self) -> list[int]:
        return [self._position(i) for i, ok in enumerate(self.marks) if not ok]

    def _check_complete(self) -> bool:
        bad = self._bad_positions()
        self._flagged = None
        if bad:
            self._feedback = ("Not SLIP-39 words: " + ", ".join(f"word {p}" for p in bad)
                              + ". Type a word's number and space to retype it.")
            return False
        if self.positions:  # a quiz has no checksum
            self._feedback = "All quiz words in: press enter to submit."
            return True
        try:
            parsed = parse_share(" ".join(self._words), self.word_count)
        except ShareChecksumInvalid:
            position = self.guide.locate(self._words) if self.guide is not None else None
            message, next_step = located_message(position)
            if position is not None:
                self._flagged = self._at = position - 1
                next_step = f"The cursor is on word {position}: retype it from the card."
            self._feedback = f"✗ {message} {next_step}"
            return False
        except VaultError as exc:
            self._feedback = f"✗ {exc.message} {exc.next_step}"
            return False
        parsed.wipe()
        ident = " ".join(self._words[:IDENT_WORDS])
        if self.guide is None and self.expected_ident and ident != self.expected_ident:
            self._feedback = (f"✗ Checksum OK, but this share starts {ident!r}: the shares this step needs start "
                              f"{self.expected_ident!r}. Ask for a share of the right set.")
            return True  # let the engine name the set (foreign / retired) on submit
        self._feedback = "✓ Checksum OK. Press enter to submit."
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

    def _cols(self) -> int:
        return _COLS_WIDE if (self.size.width or 80) >= 76 else _COLS_NARROW

    def _show(self, selector: str, content: str | Text, *, layout: bool = True) -> None:
        """Update one line or box only if what it shows changed. Any ``Static.update`` with a layout
        makes Textual re-lay out the whole screen (the bulk of a keystroke's time), so ``layout``
        is False where the size cannot change: the one-line hint, the grid at the same columns."""
        key = content.plain + repr(content.spans) if isinstance(content, Text) else content
        if self._shown.get(selector) == key:
            return
        self._shown[selector] = key
        self.query_one(selector, Static).update(content, layout=layout)

    def _render_all(self) -> None:
        cols = self._cols()
        self._render_grid(cols, relaid=self._grid_cols != cols)
        self._grid_cols = cols
        self.query_one(WordInput).placeholder = self._placeholder()
        self._render_hint()
        verdict = self.query_one("#share-verdict", Static)
        self._show("#share-verdict", self._verdict_line)
        verdict.set_class(not self._verdict_ok, "bad")
        self._show("#share-feedback", self._feedback)

    def _render_grid(self, cols: int, *, relaid: bool) -> None:
        self.query_one(GridLines).show(self._grid_rows(cols), relaid=relaid)

    @property
    def grid_text(self) -> str:
        """The grid as shown (words masked unless revealed), for tests."""
        return self.query_one(GridLines).text

    def _grid(self) -> Text:
        return Text("\n").join(self._grid_rows(self._cols()))

    def _grid_rows(self, cols: int) -> list[Text]:
        rows: list[Text] = []
        text = Text()
        n = len(self._words)
        for i in range(self.word_count):
            pos = self._position(i)
            here = i == self._at
            if i < n:
                word = self._words[i]
                ok = word in _WORDSET and i != self._flagged
                shown = word if (self.revealed or (i < IDENT_WORDS and not self.positions)) else _MASK
                mark, style = ("✓ ", "green") if ok else ("✗ ", "bold red")
                word_style = "reverse" if here else ("" if ok else style)
            elif here:
                shown, mark, style, word_style = "▁" * 6, "  ", "bold", "bold"
            else:
                shown, mark, style, word_style = "·", "  ", "dim", "dim"
            text.append(f"{'▶' if here else ' '}{pos:>2} ", style="bold" if here else "dim")
            text.append(f"{shown:<9}", style=word_style)
            text.append(mark, style=style)
            if (i + 1) % cols == 0 or i + 1 == self.word_count:
                rows.append(text)
                text = Text()
            else:
                text.append(" ")
        return rows

    def _render_hint(self) -> None:
        typed = self._typed().strip().lower()
        hint = ""
        if typed.isdigit():
            hint = f"space or enter: go to word {typed}"
        elif typed:
            found = candidates(typed)
            if not found:
                hint = "✗ no SLIP-39 word starts like this"
            elif len(found) == 1 or expand(typed):
                hint = f"✓ {found[0] if self.revealed else 'one word matches'} (tab or space to accept)"
            elif self.revealed:
                hint = "… " + ", ".join(found)
            else:
                hint = f"… {len(found)}{'+' if len(found) == 6 else ''} words start like this; keep typing"
        self._show("#share-hint", hint, layout=False)  # one line high (DEFAULT_CSS)


class GridLines(Widget):
    """The grid, one line per row of cells, where a change re-renders only the rows it touched:
    an accepted word changes two cells (the word, the cursor), so one or two lines are rendered
    instead of the whole grid as one Static (most of a space keystroke's time; bench/bench_room.py
    measures both in one run). Rendered as a Static renders its content, line by line."""

    DEFAULT_CSS = "GridLines { height: auto; }"
    ALLOW_SELECT = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: list[Text] = []
        self._keys: list[str] = []
        self._strips: dict[int, Strip] = {}

    def show(self, rows: list[Text], *, relaid: bool) -> None:
        keys = [row.plain + repr(row.spans) for row in rows]
        if relaid or len(keys) != len(self._keys):
            self._rows, self._keys = rows, keys
            self._strips.clear()
            self.refresh(layout=True)
            return
        changed = [y for y, (old, new) in enumerate(zip(self._keys, keys)) if old != new]
        self._rows, self._keys = rows, keys
        for y in changed:
            self._strips.pop(y, None)
        if changed:
            self.refresh(*(Region(0, y, self.size.width, 1) for y in changed))

    def on_resize(self) -> None:
        self._strips.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._rows)

    def get_content_width(self, container, viewport) -> int:
        return max((row.cell_len for row in self._rows), default=0)

    def render_line(self, y: int) -> Strip:
        strip = self._strips.get(y)
        if strip is None:
            content = Content.from_rich_text(self._rows[y]) if y < len(self._rows) else Content("")
            strip = Visual.to_strips(self, content, self.size.width, 1, self.visual_style)[0]
            self._strips[y] = strip
        return strip

    @property
    def text(self) -> str:
        return "\n".join(row.plain for row in self._rows)


_WORDSET = frozenset(WORDLIST)
