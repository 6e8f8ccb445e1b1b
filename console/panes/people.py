"""Panes where a person speaks for themselves: passphrases, witness confirmation, attestations."""

from __future__ import annotations

import json

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from console.panes.base import PromptPane
from console.practice import practice_passphrase
from console.readable import group_hex
from console.widgets.secret_input import SecretInput
from vault.ceremony.prompts import (
    AbortAnswer,
    AttestationAnswer,
    AttestationPrompt,
    Deviation,
    PassphrasePrompt,
    SecretAnswer,
    WitnessAnswer,
    WitnessPrompt,
)
from vault.secret import Secret


IDLE_ABORTS_AT = "slip39-passphrase"  # the quorum step's last question, asked with every share held


class PassphrasePane(PromptPane):
    """A passphrase, typed twice when new. Never echoed, never copied; a ``Secret`` at once.

    A form that works the way people type: Tab / Shift+Tab move between the two boxes, Enter in
    the first moves on to the second, Enter in the second (or in the first once the second is
    filled) checks both. Each rejection is said under its box and cleared as soon as that box is
    edited; nothing typed is thrown away except the box that is wrong.
    """

    HOLDS_SECRETS = True
    prompt: PassphrasePrompt
    # Priority bindings: the focus moves before the next key is forwarded, so keys typed (or sent)
    # fast after a Tab or an Enter land in the box they were meant for, never in the one left.
    BINDINGS = [
        Binding("tab", "move(1)", show=False, priority=True),
        Binding("shift+tab", "move(-1)", show=False, priority=True),
        Binding("enter", "enter", show=False, priority=True),
    ]

    def _focus(self, box) -> None:
        self.screen.set_focus(box)  # at once (``Widget.focus`` waits for the next idle)

    def action_move(self, step: int) -> None:
        if step > 0:
            self.screen.focus_next()
        else:
            self.screen.focus_previous()

    def action_enter(self) -> None:
        """The focus moves at once; the boxes are read once the keys already sent to the box
        are in it (``call_later`` on the box runs after its queued keys)."""
        box = self.app.focused
        if not (isinstance(box, SecretInput) and box.id in ("pp1", "pp2")):
            return
        if box.id == "pp1" and self.prompt.new:
            second = self.query_one("#pp2", SecretInput)
            self._focus(second)
            box.call_later(self._first_done, second)
        else:
            box.call_later(self._enter, box.id)

    def _first_done(self, second) -> None:
        """Enter in the first box: say whether it is long enough; submit if the second is filled."""
        if second.value:
            self._enter("pp1")
            return
        first = self.query_one("#pp1", SecretInput)
        if len(first.value) < self.prompt.min_length:
            self._enter("pp1")  # says why, back to the first box
        else:
            self._say("pp1", "✓ Long enough. Now the same again in the second box.")

    def compose_pane(self) -> ComposeResult:
        p = self.prompt
        yield Static(f"{p.custodian}: type your passphrase ({p.purpose}). Others look away.", classes="question")
        if p.new:
            yield Static(f"New passphrase: at least {p.min_length} characters, typed twice "
                         "(tab or enter moves to the second box).", classes="hint")
        yield SecretInput(placeholder="passphrase", kind="passphrase", take_on_enter=False, id="pp1")
        yield Static("", classes="pane-problem field-problem", id="pp1-problem")
        if p.new:
            yield SecretInput(placeholder="the same again", kind="passphrase", take_on_enter=False, id="pp2")
            yield Static("", classes="pane-problem field-problem", id="pp2-problem")
        if p.practice:
            yield Static("PRACTICE: ctrl+f fills this person's practice passphrase.", classes="practice-hint")

    def _say(self, box: str, text: str) -> None:
        self.query_one(f"#{box}-problem", Static).update(text)

    def on_quiet_input_edited(self, event) -> None:
        box = event.input.id
        if box in ("pp1", "pp2") and event.length:
            self._say(box, "")  # the message goes once the person types in that box again

    def on_secret_input_enter_pressed(self, event: SecretInput.EnterPressed) -> None:
        event.stop()
        self._enter(event.input.id)

    def _enter(self, box: str) -> None:
        p = self.prompt
        first = self.query_one("#pp1", SecretInput)
        if not p.new:
            if not first.value:
                self._say("pp1", "✗ Type the passphrase first.")
                return
            self.answer(SecretAnswer(first.take()))
            return
        second = self.query_one("#pp2", SecretInput)
        if len(first.value) < p.min_length:
            self._say("pp1", f"✗ Too short: {len(first.value)} of at least {p.min_length} characters. "
                      "Type a longer one." if first.value else "✗ Type the passphrase first.")
            self._focus(first)
            return
        if box == "pp1" and not second.value:
            self._say("pp1", "✓ Long enough. Now the same again in the second box.")
            self._focus(second)
            return
        if not second.value:
            self._say("pp2", "✗ Type the same passphrase again here.")
            self._focus(second)
            return
        a, b = first.take(), second.take()
        if a != b:
            b.wipe()
            first.value = a.reveal_text()  # keep the first box: only the second one is retyped
            a.wipe()
            self._say("pp2", "✗ Not the same as the first box. Type it again here (or fix the first box).")
            self._focus(second)
            return
        b.wipe()
        self.answer(SecretAnswer(a))

    def practice_fill(self) -> bool:
        if not self.prompt.practice:
            return False
        value = practice_passphrase(self.prompt.custodian, self.prompt.purpose)
        for box in self.query(SecretInput):
            box.value = value
        self.query_one("#pp1", SecretInput).focus()
        return True

    def idle_wipe(self):
        for box in self.query(SecretInput):
            box.value = ""
        if self.prompt.ask == IDLE_ABORTS_AT:
            # Every share is entered and waits for this passphrase: an unattended console must not
            # keep them. The ceremony stops (recorded in the ledger) and the engine wipes them.
            return AbortAnswer("idle lock: the console was left unattended with the shares entered")
        return None

    def on_unmount(self) -> None:
        self.idle_wipe()


class WitnessPane(PromptPane):
    """The witness confirms the step, or records a deviation (four fields, all required)."""

    prompt: WitnessPrompt
    BINDINGS = [
        Binding("ctrl+d", "deviation", "Record deviation", id="witness.deviation", priority=True),
        # In the deviation form the focus moves before the next key lands (see PassphrasePane).
        Binding("tab", "move(1)", show=False, priority=True),
        Binding("shift+tab", "move(-1)", show=False, priority=True),
        Binding("enter", "enter", show=False, priority=True),
        # a deviation form opened by mistake closes again; otherwise Escape is the screen's "back"
        Binding("escape", "close_deviation", show=False),
    ]
    FIELDS = (("expected", "what was expected"), ("happened", "what happened"), ("action", "what was done about it"),
              ("decided", "who decided"))

    def action_move(self, step: int) -> None:
        if step > 0:
            self.screen.focus_next()
        else:
            self.screen.focus_previous()

    def action_enter(self) -> None:
        from textual.actions import SkipAction

        box = self.app.focused
        if isinstance(box, Input) and box.has_class("deviation"):
            self.screen.focus_next()  # enter in a field moves on, like tab
            return
        raise SkipAction()  # a button: pressed as usual

    def compose_pane(self) -> ComposeResult:
        yield Static(f"Witness {self.prompt.witness}: {group_hex(self.prompt.summary)}", classes="question")
        with Horizontal(classes="buttons"):
            yield Button("Confirm: went as scripted", id="confirm", variant="primary")
            yield Button("Record a deviation (ctrl+d)", id="deviation")
        for name, hint in self.FIELDS:
            yield Input(placeholder=hint, id=f"dev-{name}", classes="deviation")
        yield Static("", classes="pane-problem deviation", id="dev-problem")
        yield Button("Record deviation and continue", id="record", classes="deviation")

    def on_mount(self) -> None:
        for w in self.query(".deviation"):
            w.display = False
        super().on_mount()

    def action_deviation(self) -> None:
        for w in self.query(".deviation"):
            w.display = True
        self.query_one("#dev-expected", Input).focus()

    def action_close_deviation(self) -> None:
        from textual.actions import SkipAction

        if not self.query_one("#record", Button).display:
            raise SkipAction()  # no form open: the wizard says what going back means here
        for w in self.query(".deviation"):
            w.display = False
        for box in self.query(".deviation").filter("Input"):
            box.value = ""
        self.query_one("#dev-problem", Static).update("")
        self.query_one("#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self.answer(WitnessAnswer(True))
        elif event.button.id == "deviation":
            self.action_deviation()
        elif event.button.id == "record":
            self._after_fields(self._record)

    def _after_fields(self, then, fields=None) -> None:
        """Run ``then`` once every field has taken the keys already sent to it (each field's
        ``call_later`` runs after its queued keys; typed fast, keys may still be on their way)."""
        fields = list(self.query(".deviation").filter("Input")) if fields is None else fields
        if not fields:
            then()
            return
        fields[0].call_later(self._after_fields, then, fields[1:])

    def _record(self) -> None:
        vals = [self.query_one(f"#dev-{n}", Input).value.strip() for n, _h in self.FIELDS]
        missing = [hint for (_n, hint), v in zip(self.FIELDS, vals) if not v]
        if missing:
            # said next to the form, and the first empty field gets the cursor
            self.query_one("#dev-problem", Static).update(f"✗ A deviation needs all four fields; still empty: "
                                                         f"{', '.join(missing)}.")
            first = next(n for (n, _h), v in zip(self.FIELDS, vals) if not v)
            self.screen.set_focus(self.query_one(f"#dev-{first}", Input))
            return
        self.answer(WitnessAnswer(False, Deviation(*vals)))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#dev-problem", Static).update("")  # goes once a field is edited

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()


class AttestationPane(PromptPane):
    """Closing attestation: read the whole statement, choose agree or not, sign with the passphrase.

    Nothing is pre-selected, and the passphrase is taken only once the statement was scrolled to
    its end (when it does not fit, an indicator says how many lines are still below) and a
    decision was chosen; otherwise the pane says what is missing and signs nothing.
    """

    HOLDS_SECRETS = True
    prompt: AttestationPrompt
    # Enter in the comment moves on at once, before the next key is forwarded (see PassphrasePane):
    # a passphrase typed fast after it lands in the passphrase box, not in the clear-text comment
    BINDINGS = [Binding("enter", "enter", show=False, priority=True)]

    def action_enter(self) -> None:
        from textual.actions import SkipAction

        box = self.app.focused
        if not (isinstance(box, Input) and box.id == "comment"):
            raise SkipAction()  # elsewhere Enter does what it does there (choose, sign)
        self.screen.set_focus(self.query_one("#attest-pp", SecretInput))

    def compose_pane(self) -> ComposeResult:
        p = self.prompt
        yield Static(f"{p.participant} ({p.role}) attests — the statement you sign:", classes="question")
        with VerticalScroll(id="statement-scroll", classes="statement"):
            yield Static(group_hex(p.statement), id="statement-text")
        yield Static("", id="statement-more", classes="statement-more")
        yield Static(f"Ceremony seal (the head this statement signs): {p.ledger_head_words}", classes="read-words")
        with RadioSet(id="decision"):
            yield RadioButton("I agree with this statement", id="agree")
            yield RadioButton("I do not agree (say why in the comment)", id="disagree")
        # clear text, recorded: open only to say why one does not agree, so that Tab after
        # "I agree" goes to the passphrase box, never here (a passphrase typed here would be recorded)
        yield Input(placeholder="comment (why you do not agree)", id="comment", max_length=200, disabled=True)
        yield SecretInput(placeholder="your passphrase, to sign", kind="passphrase", id="attest-pp")
        # what is still missing before signing, said here next to the boxes (never a toast)
        yield Static("", classes="pane-problem", id="attest-problem")
        if p.practice:
            yield Static("PRACTICE: ctrl+f fills this person's practice passphrase.", classes="practice-hint")

    def _problem(self, text: str) -> None:
        box = self.query_one("#attest-problem", Static)
        box.update(text)
        box.display = bool(text)

    @property
    def problem(self) -> str:
        return str(self.query_one("#attest-problem", Static).render())

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if self.read_to_end:  # the refusal is answered: it goes
            self._problem("")
        comment = self.query_one("#comment", Input)
        dissent = self.decision is False
        if not dissent:
            comment.value = ""  # an agreement carries no comment
        comment.disabled = not dissent
        # the cursor stays on the choice: Tab goes on to the box typed next (the comment is out of
        # the Tab order unless one does not agree), as people expect; moving it for them made the
        # Tab they press next skip the passphrase box (seen in the lead's tmux walk)

    def on_mount(self) -> None:
        super().on_mount()
        self._problem("")
        self._restore_choice()
        # the indicator follows the scroll however it moves (keys, wheel, scrollbar)
        self.watch(self.query_one("#statement-scroll", VerticalScroll), "scroll_y",
                   lambda _value: self._show_remaining(), init=False)
        # counted once laid out, whoever gives the focus (the wizard, or the screen's auto-focus,
        # after which the pane's own focus_first is not called)
        self.call_after_refresh(self._show_remaining)

    def focus_first(self) -> None:  # the statement first: it is read before anything is chosen
        self._show_remaining()
        if self._choice_restored:  # asked again: the cursor where the refusal points (a dissent's missing
            comment = self.query_one("#comment", Input)  # comment, else the passphrase)
            (comment if not comment.disabled and not comment.value.strip()
             else self.query_one("#attest-pp", SecretInput)).focus()
            return
        self.query_one("#statement-scroll", VerticalScroll).focus()

    _choice_restored = False

    def _restore_choice(self) -> None:
        """Asked again because the passphrase was refused (the wizard passes the person's own
        choice back as ``previous``): the same statement was read to its end and the decision
        and comment were made; keep them, so only the passphrase is typed again."""
        if not (self.prompt.error_code and self.prompt.previous):
            return
        try:
            chosen = json.loads(self.prompt.previous)
            agree, comment = bool(chosen["agree"]), str(chosen["comment"])
        except (ValueError, KeyError, TypeError):
            return
        self._choice_restored = True
        self.query_one("#agree" if agree else "#disagree", RadioButton).value = True
        box = self.query_one("#comment", Input)
        box.disabled = agree
        box.value = "" if agree else comment
        self.call_after_refresh(self.query_one("#statement-scroll", VerticalScroll).scroll_end, animate=False)

    # -- reading the whole statement ---------------------------------------------------------------
    @property
    def lines_below(self) -> int:
        box = self.query_one("#statement-scroll", VerticalScroll)
        return max(0, int(box.max_scroll_y - box.scroll_y))

    @property
    def read_to_end(self) -> bool:
        return self.lines_below == 0

    def _show_remaining(self) -> None:
        below = self.lines_below
        self.query_one("#statement-more", Static).update(
            f"▼ {below} more line{'s' if below != 1 else ''}: scroll to the end (↓ PgDn End) before signing."
            if below else "✓ You have seen the whole statement.")
        if not below and "whole statement" in self.problem:  # that refusal is answered: it goes
            self._problem("")

    @property
    def decision(self) -> bool | None:
        pressed = self.query_one("#decision", RadioSet).pressed_button
        return None if pressed is None else pressed.id == "agree"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # the priority binding above has moved the focus already

    def on_secret_input_submitted(self, event: SecretInput.Submitted) -> None:
        event.stop()
        self._show_remaining()
        missing = ("Read the whole statement first: scroll it to its end." if not self.read_to_end
                   else "Choose 'I agree' or 'I do not agree' first." if self.decision is None else None)
        if missing:
            event.secret.wipe()
            self.query_one("#attest-pp", SecretInput).value = ""
            self._problem(f"✗ Not signed: {missing}")
            self.query_one("#statement-scroll" if not self.read_to_end else "#decision").focus()
            return
        comment_box = self.query_one("#comment", Input)
        if _holds(comment_box.value, event.secret):  # typed in the wrong box: never recorded
            event.secret.wipe()
            comment_box.value = ""
            self.query_one("#attest-pp", SecretInput).value = ""
            self._problem("✗ Not signed: the comment held your passphrase; both were cleared. "
                          "Type the comment again, then your passphrase.")
            comment_box.focus()
            return
        self._problem("")
        self.answer(AttestationAnswer(self.decision, event.secret, comment_box.value.strip()))

    def practice_fill(self) -> bool:
        if not self.prompt.practice:
            return False
        box = self.query_one("#attest-pp", SecretInput)
        box.value = practice_passphrase(self.prompt.participant)
        box.focus()
        return True

    def idle_wipe(self):
        self.query_one("#attest-pp", SecretInput).value = ""
        return None


def attestation_choice(answer: AttestationAnswer) -> str:
    """What a re-asked attestation shows again: the decision and the comment (never the passphrase)."""
    return json.dumps({"agree": answer.agree, "comment": answer.comment})


def _holds(text: str, secret) -> bool:
    """True if ``text`` contains the secret (a passphrase typed into a clear-text box)."""
    revealed = secret.reveal_text()
    return bool(revealed) and revealed in text
