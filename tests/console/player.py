"""Plays a whole ceremony through the wizard's screens, as a newcomer would with the keyboard.

PRACTICE only: the revealed shares are read from the reveal screen's prompt (a practice share)
so they can be typed back, and kept in ``shares`` for later ceremonies' quorum entry.

A production home (tests only, with public test passphrases): ``passphrases`` (person -> passphrase)
are typed where ctrl+f fills the practice ones; ``hsm_pins`` are typed, in order, into the HSM PIN
dialog of pin_policy "hsm-procedure" (None presses Escape), and ``pin_dialogs`` keeps what each
dialog showed (its problem and retry lines: no secret).
"""

from __future__ import annotations

from typing import Awaitable, Callable

from console.modals.hsm_pin import HsmPinDialog
from console.modals.read_aloud import ReadAloudDialog
from console.modals.share_reveal import ShareRevealScreen
from console.panes.people import AttestationPane, PassphrasePane, WitnessPane
from console.panes.review import ReviewPane
from console.panes.shares import ShareEntryPane, ShareReadyPane, ShareVerifyPane
from console.panes.simple import ChecklistPane, ChoicePane, ConfirmPane, PathPane, TextPane, TypedConfirmPane
from console.screens.wizard import WizardScreen
from tui_helpers import share_keys, type_fast, until_screen, wait_until

Hook = Callable[["CeremonyPlayer", object], Awaitable[bool]]


class CeremonyPlayer:
    def __init__(self, pilot, shares: dict[str, str] | None = None, *, paths: dict[str, str] | None = None,
                 texts: dict[str, str] | None = None, confirms: dict[str, bool] | None = None,
                 choices: dict[str, str] | None = None,
                 quorum: list[str] | None = None, hooks: dict[str, Hook] | None = None,
                 passphrases: dict[str, str] | None = None, hsm_pins: list[str | None] | None = None) -> None:
        self.pilot = pilot
        self.app = pilot.app
        self.shares = shares if shares is not None else {}  # custodian -> share text (practice)
        self.paths = paths or {}
        self.texts = texts or {}
        self.confirms = confirms or {}
        self.choices = choices or {}  # "step.ask" or "ask" -> the value to choose (else the default / first)
        self.quorum = quorum or []  # custodians whose shares are typed at quorum entry, in order
        self.hooks = hooks or {}  # "step_id.ask" or "ask" -> coroutine(player, pane) -> handled?
        self.seen: list[str] = []
        self.read_aloud: list[tuple[str, str]] = []  # facts confirmed in the ReadAloudDialog
        self._quorum_pos = 0
        self.passphrases = passphrases  # None: ctrl+f (practice)
        self.hsm_pins = list(hsm_pins or [])
        self.pin_dialogs: list[dict[str, str]] = []

    @property
    def wizard(self) -> WizardScreen:
        return next(s for s in self.app.screen_stack if isinstance(s, WizardScreen))

    def _ready(self) -> bool:
        if isinstance(self.app.screen, (ShareRevealScreen, ReadAloudDialog)):
            return True
        if isinstance(self.app.screen, HsmPinDialog):
            return self.app.focused is not None and self.app.focused.id == "hsm-pin"
        w = self.wizard
        if self.app.screen is not w:
            return False
        if w.outcome is not None:
            return True
        pane = w.pane
        focused = self.app.focused
        return (pane is not None and pane.is_mounted and w._future is not None
                and focused is not None and pane in focused.ancestors_with_self)

    async def step(self) -> bool:
        """Answer one prompt; False when the ceremony has ended."""
        await wait_until(self.pilot, self._ready, timeout=60, what="a prompt or the end")
        if isinstance(self.app.screen, ReadAloudDialog):
            self.read_aloud.extend(self.app.screen.facts)
            await self.pilot.press("enter")
            await wait_until(self.pilot, lambda: not isinstance(self.app.screen, ReadAloudDialog))
            return True
        if isinstance(self.app.screen, HsmPinDialog):
            await self._type_hsm_pin(self.app.screen)
            return True
        if isinstance(self.app.screen, ShareRevealScreen):
            p = self.app.screen.prompt
            self.seen.append(f"{p.step_id}.{p.ask}")
            self.shares[p.custodian] = p.share.reveal_text()
            await self.pilot.press("ctrl+w")
            await wait_until(self.pilot, lambda: not isinstance(self.app.screen, ShareRevealScreen))
            return True
        w = self.wizard
        if w.outcome is not None:
            return False
        pane, p = w.pane, w.pane.prompt
        key = f"{p.step_id}.{p.ask}"
        self.seen.append(key)
        if self.seen.count(key) > 8:
            raise AssertionError(f"{key} asked again and again: {p.error_code}: {p.error_message}")
        for k in (key, p.ask):
            if k in self.hooks and await self.hooks[k](self, pane):
                return True
        async def press(*keys):
            await type_fast(self.pilot, list(keys))
        if isinstance(pane, TextPane):
            value = self.texts.get(key, self.texts.get(p.ask))
            if value is not None:
                await self._set_input(pane, value)
            else:
                await press("ctrl+f")
            await press("enter")
        elif isinstance(pane, PathPane):
            await self._set_input(pane, self.paths.get(key, self.paths.get(p.ask, "")))
            await press("enter")
        elif isinstance(pane, TypedConfirmPane):
            await type_fast(self.pilot, list(p.expected))
            await press("enter")
        elif isinstance(pane, PassphrasePane) and self.passphrases is not None:
            from console.widgets.secret_input import SecretInput

            for box in pane.query(SecretInput):
                box.value = self.passphrases[p.custodian]
            await press("enter")
        elif isinstance(pane, PassphrasePane):
            await press("ctrl+f", "enter")  # both boxes filled: one enter checks and submits
        elif isinstance(pane, ConfirmPane):
            yes = self.confirms.get(key, self.confirms.get(p.ask, True))
            if yes:
                await press("enter")  # the focused Yes button
            else:
                await press("right", "enter")  # over to No
        elif isinstance(pane, ChecklistPane):
            for _ in p.items:
                await press("space", "tab")
            await press("enter")
        elif isinstance(pane, ChoicePane):
            from textual.widgets import OptionList

            box = pane.query_one(OptionList)
            values = [c.value for c in p.choices]
            want = self.choices.get(key, self.choices.get(p.ask))
            if want is not None:
                box.highlighted = values.index(want)
            elif box.highlighted is None:
                box.highlighted = 0
            await self.pilot.pause()
            await press("enter")
        elif isinstance(pane, (ShareReadyPane, WitnessPane)):
            await press("enter")
        elif isinstance(pane, ReviewPane):
            await press("enter")  # the administrator confirms (focused), then the witness
            await wait_until(self.pilot, lambda: self.app.focused is not None and self.app.focused.id == "review-witness",
                             what="the witness's confirmation")
            await press("enter")
        elif isinstance(pane, AttestationPane):
            # read to the end (the statement box has focus), choose "I agree", then sign
            await press("end")
            await wait_until(self.pilot, lambda: pane.read_to_end, what="the statement's end")
            await press("tab", "enter")
            await wait_until(self.pilot, lambda: pane.decision is True, what="the decision to be chosen")
            if self.passphrases is not None:
                box = pane.query_one("#attest-pp")
                box.value = self.passphrases[p.participant]
                box.focus()
                await self.pilot.pause()
                await press("enter")
            else:
                await press("ctrl+f", "enter")
        elif isinstance(pane, ShareVerifyPane):
            words = self.shares[p.custodian].split()
            if p.positions:
                words = [words[i - 1] for i in p.positions]
            await type_fast(self.pilot, share_keys(words) + ["enter"])
        elif isinstance(pane, ShareEntryPane):
            who = self.quorum[self._quorum_pos % len(self.quorum)]
            self._quorum_pos += 1
            await type_fast(self.pilot, share_keys(self.shares[who].split()) + ["enter"])
        else:
            raise AssertionError(f"no play for {type(pane).__name__}")
        await wait_until(self.pilot, lambda: w.pane is not pane, what=f"the answer to {key} to be taken")
        return True

    async def _type_hsm_pin(self, dialog) -> None:
        from textual.widgets import Static

        self.seen.append("hsm-pin")
        self.pin_dialogs.append({i: str(dialog.query_one(f"#{i}", Static).render())
                                 for i in ("hsm-pin-ask", "hsm-pin-tries", "hsm-pin-problem")})
        if not self.hsm_pins:
            raise AssertionError(f"the HSM PIN was asked once more than the test gave PINs: {self.pin_dialogs[-1]}")
        pin = self.hsm_pins.pop(0)
        if pin is None:
            await self.pilot.press("escape")
        else:
            await type_fast(self.pilot, list(pin))
            box = dialog.query_one("#hsm-pin")
            # typed into the box, and nowhere on the screen (in memory only: the console writes no screenshot)
            self.pin_dialogs[-1]["typed"] = str(box.value == pin)
            self.pin_dialogs[-1]["shown"] = str(pin in self.app.export_screenshot())
            await type_fast(self.pilot, ["enter"])
        await wait_until(self.pilot, lambda: self.app.screen is not dialog, what="the PIN dialog to close")

    async def _set_input(self, pane, value: str) -> None:
        from textual.widgets import Input

        box = pane.query_one(Input)
        box.value = value
        box.focus()
        await self.pilot.pause()

    async def play(self, max_prompts: int = 150):
        for _ in range(max_prompts):
            if not await self.step():
                return self.wizard.outcome
        raise AssertionError(f"the ceremony did not end: {self.seen[-12:]}")


async def start_from_launcher(pilot, name: str, *, record: bool = False) -> None:
    """From any area: open the ceremony launcher, highlight ``name``, start it (``R``: and record)."""
    from textual.widgets import OptionList

    app = pilot.app
    await pilot.press("c")
    await until_screen(pilot, "CeremoniesScreen")
    screen = app.screen
    await wait_until(pilot, lambda: any(e.name == name for e in screen.entries), what="the ceremony list")
    screen.query_one(OptionList).highlighted = [e.name for e in screen.entries].index(name)
    await pilot.pause()
    await pilot.press("R" if record else "enter")


async def back_to_dashboard(pilot) -> None:
    """After a ceremony's result: the focused 'Back to the dashboard' button."""
    await pilot.press("enter")
    await until_screen(pilot, "DashboardScreen")
