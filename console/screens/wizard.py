"""The ceremony wizard: renders ANY ceremony definition, one engine prompt at a time.

Threading: ``vault.ceremony.runner.drive`` — the one drive loop — runs in a Textual thread worker
with ``offload=owner.call`` (every engine call on the vault's owning thread). ``TuiResponder``
brings each prompt here (``ask``), where a pane for its kind is mounted and awaited; the worker
waits, the event loop does not. Engine events are posted here as ``EngineEvent`` messages.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Button, ProgressBar, RichLog, Static

from console.modals.confirm import ReasonDialog
from console.event_lines import log_line
from console.modals.read_aloud import fact_title
from console.modals.share_reveal import ShareRevealScreen
from console.readable import group_hex
from console.panes import PromptPane, pane_for
from console.panes.people import attestation_choice
from console.responder import EngineEvent, TuiPinSource, TuiResponder
from console.screens.base import VaultScreen
from console.widgets.step_list import StepList
from vault.ceremony import events as ev
from vault.ceremony.prompts import (AbortAnswer, Answer, AttestationAnswer, BackAnswer, ConfirmAnswer, Prompt,
                                    TextAnswer)
from vault.errors import VaultError


class ConsoleFault(VaultError):
    """An unexpected exception while a ceremony ran (a bug): shown like any vault error."""

    code = "CONSOLE_FAULT"
    title = "The ceremony stopped on an internal fault"

    def __init__(self, kind: str) -> None:
        super().__init__(f"The ceremony stopped on an unexpected {kind}. It was aborted and its secrets were wiped; "
                         "the ledger records the abort.",
                         next_step="Start the ceremony again; if it happens again, report it with the ledger extract.")


class WizardScreen(VaultScreen):
    WHERE = "Ceremony"
    HOLDS_SECRETS = True
    ALLOW_SELECT = False
    BINDINGS = [
        Binding("ctrl+a", "abort", "Abort", id="wizard.abort", tooltip="Abort the ceremony with a reason", priority=True),
        Binding("escape", "back", "Back", id="wizard.back", tooltip="Back one answer, where nothing was done yet"),
        Binding("ctrl+f", "practice_fill", "Practice fill", id="wizard.practice", show=False, priority=True),
        Binding("ctrl+l", "toggle_log", "Log", id="wizard.log", show=False),
        Binding("t", "transcript", "Transcript", id="wizard.transcript", show=False),
        # the app's Quit is switched off while a ceremony runs; the key is answered here, not ignored
        Binding("ctrl+q", "quit_refused", show=False, priority=True),
    ]

    def __init__(self, ceremony: str, *, resume_id: str | None = None, record_to: Path | None = None,
                 options=None) -> None:
        super().__init__()
        self.ceremony = ceremony
        self.resume_id = resume_id
        self.record_to = record_to
        self.options = options
        self.engine = None
        self.prompt: Prompt | None = None
        self.pane: PromptPane | None = None
        self.outcome = None
        self.ledger_words = ""
        self.event_log: list[ev.Event] = []
        self._future: asyncio.Future | None = None
        self._pending_abort: str | None = None
        self.recorded: Path | None = None  # where the recorded script was written
        self._read_aloud = ""
        self._facts: list[tuple[str, str]] = []  # (title, text) read aloud in the current step
        self._unread: list[tuple[str, str]] = []  # facts not yet confirmed as read (ReadAloudDialog)
        self._first_question = True  # what runs is read above the first question (engine.identity_facts)
        self._notices: list[str] = []  # this step's notices (shown in the layout, never as toasts)
        self.log_lines: list[str] = []  # what the log panel shows (it wraps long lines)
        self.notice_log: list[str] = []  # every notice of the run
        self._last_text: tuple[tuple[str, str], str] | None = None  # the last text answer, for a re-ask
        self._pin_future: asyncio.Future | None = None  # the HSM PIN dialog's answer (ask_hsm_pin)
        self._pin_source: TuiPinSource | None = None  # this run's (set by the drive thread)
        self.closing = False  # the console is closing (stop_for_exit): a stopped login says so

    # -- layout ------------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        yield Static(f"{self.ceremony}: starting…", id="wizard-header")
        with Horizontal(id="wizard-body"):
            yield StepList(id="wizard-steps")
            with Vertical(id="wizard-main"):
                with VerticalScroll(id="read-aloud-box"):
                    yield Static("", id="read-aloud")
                yield Static("", id="wizard-notice")
                yield Static("", id="prompt-error")
                yield VerticalScroll(id="prompt-slot")
                with Horizontal(id="work"):
                    yield ProgressBar(total=None, show_eta=False, id="work-bar")
                    yield Static("", id="work-label")
                yield RichLog(id="wizard-log", max_lines=500, wrap=True, auto_scroll=True)

    @property
    def help_text(self) -> str:
        from console.help_text import step_help

        p = self.prompt
        if p is None:
            return "The ceremony is starting."
        return step_help(p)

    def on_mount(self) -> None:
        self.app.ceremony_running = True
        self.app.active_wizard = self
        self.query_one("#work").display = False
        self.query_one("#prompt-error").display = False
        self.query_one("#wizard-notice").display = False
        self.on_resize()
        self._drive()

    def on_resize(self, event=None) -> None:
        self.set_class(self.app.size.width < 100, "narrow")
        # Under 30 rows the log would push the question's heading (a review's title) off screen:
        # it is hidden there (ctrl+l shows it).
        self.set_class(self.app.size.height < 30, "short")

    # -- the drive loop (thread worker) ------------------------------------------------------------
    @work(thread=True, exit_on_error=False, name="ceremony-drive")
    def _drive(self) -> None:
        with self.app.bridge.driving():  # the app waits for this before it closes the vault
            bridge = self.app.bridge
            # pin_policy "hsm-procedure": this run's HSM user PIN is typed by its holder when a login
            # needs it (TuiPinSource); a refusal is this run's alone, as in a headless run
            self._pin_source = TuiPinSource(self)
            pins = bridge.run_blocking(_enter_pin_source, self._pin_source)
            try:
                self._run()
            finally:
                bridge.run_blocking(_leave_pin_source, pins)

    def _run(self) -> None:
        from vault.ceremony.runner import drive

        bridge = self.app.bridge
        if self.options is None:
            self.options = getattr(self.app, "ceremony_options", None)
        try:
            engine, earlier = bridge.run_blocking(self._make_engine)
        except VaultError as exc:
            self._tell(self._stopped_with_error, exc)
            return
        except Exception as exc:
            self._tell(self._stopped_with_error, ConsoleFault(type(exc).__name__))
            return
        self.engine = engine
        self._tell(self._set_titles, [s.title for s in engine.definition.steps])
        responder = self._responder()
        for event in earlier:  # a resumed ceremony's first events came before the responder
            responder.on_event(event)
        try:
            outcome = drive(engine, responder, offload=bridge.owner.call)
        except VaultError as exc:
            self._wipe_after_fault(engine, f"{exc.code}: {exc.message}")
            self._tell(self._stopped_with_error, exc)
            return
        except Exception as exc:  # a fault in the console or the engine: never leave a quorum in memory
            fault = ConsoleFault(type(exc).__name__)
            self._wipe_after_fault(engine, f"{fault.code}: {type(exc).__name__}")
            self._tell(self._stopped_with_error, fault)
            return
        finally:
            if self.record_to is not None:
                self.recorded = self._save_recording(responder)
        if self._tui.completed is not None:
            self.ledger_words = self._tui.completed.ledger_head_words
        self._tell(self._finished, outcome)

    def _tell(self, fn, *args) -> None:
        """Run ``fn`` on the event loop from the drive thread, unless the console is closing."""
        if not (self.app.is_running and self.is_attached):
            return
        try:
            self.app.call_from_thread(fn, *args)
        except Exception:
            if self.app.is_running and self.is_attached:
                raise

    def stop_for_exit(self) -> None:
        """The console is closing: answer the open question with an abort (secrets are wiped)."""
        self.closing = True
        self._cancel_pin()  # a login waiting for the HSM PIN is stopped (HSM_PIN_CANCELLED)
        if self.outcome is None:
            reason = "the console was closed during the ceremony"
            self._pending_abort = reason  # if the engine is busy: the next question is answered with it
            if self.pane is not None and self.pane.is_attached:
                try:
                    self.pane.idle_wipe()
                except NoMatches:  # already taken apart (its widgets wipe themselves on unmount)
                    pass
            self._resolve(AbortAnswer(reason))

    def _wipe_after_fault(self, engine, reason: str) -> None:
        """After an unexpected failure: abort the ceremony (its secrets are wiped, the ledger says why).

        Only the exception's type name is recorded: a message might quote an answer.
        """
        try:
            self.app.bridge.owner.call(engine.abort, f"the console stopped on an internal fault ({reason})")
        except Exception:
            try:
                self.app.bridge.owner.call(engine.secrets.wipe)
            except Exception:
                pass

    def _save_recording(self, responder) -> Path | None:
        if self._pin_source is not None and self._pin_source.asked:
            from vault.operations.hsm_procedure import RECORDED_REFERENCE

            responder.hsm_pin = RECORDED_REFERENCE  # typed here; the replay reads it from the environment
        try:
            return responder.save(self.record_to)
        except OSError as exc:
            self._tell(self.notify, f"The script could not be written: {exc.strerror}.", severity="error")
            return None

    def _make_engine(self, vault, *_):
        """On the owner thread: the definition, the engine (new or resumed)."""
        from vault.ceremony.definitions import find_definition
        from vault.ceremony.engine import Engine

        if self.resume_id:
            from vault.ceremony.recovery import resume

            return resume(vault, self.resume_id, options=self.options)
        definition = find_definition(self.ceremony, vault.home.path)
        return Engine(vault, definition, options=self.options), []

    def _responder(self):
        responder = self._tui = TuiResponder(self)
        if self.record_to is not None:
            from vault.ceremony.recorder import RecordingResponder

            responder = RecordingResponder(responder, ceremony=self.ceremony)
        return responder

    # -- prompts (event loop) ----------------------------------------------------------------------
    async def ask(self, prompt: Prompt) -> Answer:
        """Show ``prompt`` and wait for the answer (called from the drive worker)."""
        self.prompt = prompt
        if self._pending_abort:
            reason, self._pending_abort = self._pending_abort, None
            return AbortAnswer(reason)
        self._show_prompt(prompt)
        self._future = asyncio.get_running_loop().create_future()
        if prompt.KIND == "share-reveal":
            self.app.key_hold.drop()  # keys typed for a question never reach the reveal
            await self._clear_slot()
            self.app.push_screen(ShareRevealScreen(prompt), callback=lambda _ok: self._resolve(ConfirmAnswer(True)))
        else:
            self.pane = pane_for(self._with_refused_text(prompt))
            await self.query_one("#prompt-slot").mount(self.pane)
            self.pane.focus_first()  # at once: not a refresh later (the step transition's time)
            self._show_unread()
        self._busy(False)
        try:
            return await self._future
        finally:
            self._future = None
            self._first_question = False
            if self.is_attached:
                # Nothing of a share stays on screen for the next person: the pane is taken off
                # now; its removal is not awaited, so the engine has the answer a layout sooner.
                self._clear_slot_soon()
                self._busy(True)

    async def ask_hsm_pin(self, request) -> object:
        """The HSM user PIN (a Secret) typed by its holder, or None when they stop the login (called
        from the owning thread by TuiPinSource, in the middle of a step: no question is open)."""
        from console.modals.hsm_pin import HsmPinDialog

        if self._pending_abort or not self.is_attached:
            return None
        self.app.key_hold.drop()  # keys typed ahead were meant for a question, never for the PIN box
        self._pin_future = asyncio.get_running_loop().create_future()
        self.app.push_screen(HsmPinDialog(request), callback=self._answer_pin)
        try:
            return await self._pin_future
        finally:
            self._pin_future = None
            self.app.key_hold.start()  # keys sent on go to the next question

    def _answer_pin(self, secret) -> None:
        """The PIN dialog's result (its dismiss callback)."""
        future = self._pin_future
        if future is not None and not future.done():
            future.set_result(secret)
        elif secret is not None:  # nobody waits for it any more
            secret.wipe()

    def _cancel_pin(self) -> None:
        """The console is closing: a login waiting for the PIN is stopped, and its dialog goes."""
        from console.modals.hsm_pin import HsmPinDialog

        self._answer_pin(None)
        for screen in self.app.screen_stack:
            if isinstance(screen, HsmPinDialog):
                screen.query_one("#hsm-pin").value = ""

    def _show_prompt(self, p: Prompt) -> None:
        # Short enough for 80 columns (the banner says PRACTICE; the step list shows the id).
        self.query_one("#wizard-header", Static).update(
            f"{p.ceremony_name} · step {p.step_index}/{p.step_count} · {p.step_title}")
        self.query_one(StepList).border_title = p.ceremony_id
        self.query_one(StepList).current = p.step_index
        self._read_aloud = p.read_aloud
        self._render_read_aloud()
        err = self.query_one("#prompt-error", Static)
        err.update(f"✗ {p.error_code}: {p.error_message}" if p.error_message else "")
        err.display = bool(p.error_message)
        if p.error_message and any(n[2:] == p.error_message for n in self._notices):
            # a step that notices a refusal and re-asks with it: say it once, next to the question
            self._notices = [n for n in self._notices if n[2:] != p.error_message]
            self._render_notices()

    def _render_read_aloud(self) -> None:
        """The prompt's text to read aloud, then this step's facts (serials, fingerprints as PGP
        words, the set's identifying words, ledger heads) as the engine announced them."""
        lines = [f"READ ALOUD: {self._read_aloud}"] if self._read_aloud else []
        if self._first_question:  # in the box above the question, not in a dialog over it
            lines += [f"READ ALOUD — {t}: {group_hex(x)}" for t, x in self._identity()]
        lines += [f"READ ALOUD — {fact_title(title)}: {group_hex(text)}" for title, text in self._facts]
        self.query_one("#read-aloud", Static).update("\n".join(lines))
        self.query_one("#read-aloud-box").display = bool(lines)

    def _identity(self) -> list[tuple[str, str]]:
        return list(getattr(self.engine, "identity_facts", None) or [])

    def _render_notices(self) -> None:
        box = self.query_one("#wizard-notice", Static)
        box.update("\n".join(self._notices[-3:]))
        box.display = bool(self._notices)

    def _show_unread(self) -> None:
        """Facts announced since the last question stay on screen, over it, until confirmed read."""
        if self._unread:
            from console.modals.read_aloud import ReadAloudDialog

            facts, self._unread = self._unread, []
            # Keys typed ahead were meant for a question, never to confirm a fact as read aloud.
            self.app.key_hold.drop()
            self.app.push_screen(ReadAloudDialog(facts), callback=lambda _r: self._refocus())
        else:
            self.app.key_hold.release()  # keys typed ahead go to this question (console.key_hold)

    def _refocus(self) -> None:
        if self.pane is not None and self.pane.is_attached:
            self.pane.focus_first()

    def _clear_slot_soon(self) -> None:
        self.pane = None
        self.query_one("#prompt-slot").remove_children()

    async def _clear_slot(self) -> None:
        self.pane = None
        await self.query_one("#prompt-slot").remove_children()

    def _resolve(self, answer: Answer) -> None:
        if self._future is not None and not self._future.done():
            self.app.key_hold.start()  # keys sent on go to the next question, not into the gap
            self._future.set_result(answer)

    def _with_refused_text(self, prompt: Prompt) -> Prompt:
        """A refused name, label or path comes back in its box, to correct a typo rather than retype
        it (text and path questions only: never a secret, never a typed confirmation)."""
        last, self._last_text = self._last_text, None
        if (prompt.error_code and prompt.KIND in ("text", "path", "attestation") and prompt.previous is None
                and last is not None and last[0] == (prompt.step_id, prompt.ask)):
            return dataclasses.replace(prompt, previous=last[1])
        return prompt

    def on_prompt_pane_answered(self, message: PromptPane.Answered) -> None:
        message.stop()
        if message.pane is self.pane:
            p = message.pane.prompt
            if p.KIND in ("text", "path") and isinstance(message.answer, TextAnswer):
                self._last_text = ((p.step_id, p.ask), message.answer.text)
            elif isinstance(message.answer, AttestationAnswer):  # a refused passphrase keeps the choice
                self._last_text = ((p.step_id, p.ask), attestation_choice(message.answer))
            self._resolve(message.answer)

    def _busy(self, busy: bool) -> None:
        work_row = self.query_one("#work")
        work_row.display = busy and self.outcome is None
        if busy:
            self.query_one("#work-label", Static).update("working…")
            self.query_one("#work-bar", ProgressBar).update(total=None)

    # -- actions -----------------------------------------------------------------------------------
    def action_abort(self) -> None:
        if self.outcome is not None:
            return

        def chosen(reason: str | None) -> None:
            if not reason:
                return
            if self._future is not None and not self._future.done():
                if self.pane is not None:
                    self.pane.idle_wipe()
                self._resolve(AbortAnswer(reason))
            else:
                self._pending_abort = reason  # answered at the next prompt

        self.app.push_screen(ReasonDialog("Abort this ceremony? Say why:"), callback=chosen)

    def action_back(self) -> None:
        """Escape: back one answer where the engine allows it (``prompt.can_go_back``); elsewhere
        say at once why not, above the question, and leave what is typed where it is."""
        p = self.prompt
        if self.outcome is not None or p is None or self._future is None or self._future.done():
            return
        if p.can_go_back:
            self._resolve(BackAnswer())
            return
        why = p.no_back or "nothing can be taken back here."
        err = self.query_one("#prompt-error", Static)
        err.update(f"↩ No going back: {why} Answer the question, or abort with a reason (ctrl+a).")
        err.display = True

    def action_quit_refused(self) -> None:
        """ctrl+q while the ceremony runs: say why not, above the question (a toast would cover it)."""
        if self.outcome is not None:
            self.app.exit(0)  # ended: quitting loses nothing
            return
        err = self.query_one("#prompt-error", Static)
        err.update("✗ The console cannot quit during a ceremony: finish it, or abort it with a reason (ctrl+a); "
                   "the abort is recorded and nothing is left half-done.")
        err.display = True

    def action_practice_fill(self) -> None:
        if self.pane is not None and not self.pane.practice_fill():
            self.app.bell()

    def action_toggle_log(self) -> None:
        log = self.query_one("#wizard-log")
        log.display = not log.display

    def idle_lock(self) -> None:
        """Called by the app after the idle timeout: wipe what is on screen, lock."""
        from console.modals.lock import LockScreen

        if self.outcome is not None:
            return
        what = "Nothing was lost."
        self.app.key_hold.drop()
        if self.pane is not None:
            answer = self.pane.idle_wipe()
            if isinstance(answer, AbortAnswer):
                self._resolve(answer)
                what = "The ceremony was stopped and the shares entered were wiped: start it again when ready."
            elif answer is not None:
                self._resolve(answer)
                what = "The shares entered so far were wiped: start the quorum again with the first custodian."
        self.app.push_screen(LockScreen(what))

    # -- events ------------------------------------------------------------------------------------
    def on_engine_event(self, message: EngineEvent) -> None:
        e = message.event
        self.event_log.append(e)
        line = log_line(e)
        if line is not None:
            log = self.query_one("#wizard-log", RichLog)
            log.write(group_hex(line))
            self.log_lines.append(line)
        if isinstance(e, ev.StepStarted):
            self.query_one(StepList).current = e.step_index
            self._facts = []
            self._notices = []
            self._render_notices()
        elif isinstance(e, ev.ProgressEvent):
            self.query_one("#work").display = True
            self.query_one("#work-label", Static).update(e.message)
            self.query_one("#work-bar", ProgressBar).update(total=e.total, progress=e.done)
        elif isinstance(e, ev.Notice):
            # In the layout, above the question: a toast would cover the input or a dialog.
            self._notices.append(("⚠ " if e.level == "warning" else "ℹ ") + e.message)
            self.notice_log.append(self._notices[-1])
            self._render_notices()
        elif isinstance(e, ev.ReadAloud) and (e.title, e.text) in self._identity():
            pass  # what runs: shown with the first question (_render_read_aloud)
        elif isinstance(e, ev.ReadAloud):
            self._facts.append((e.title, e.text))
            self._unread.append((e.title, e.text))
            self._render_read_aloud()
        elif isinstance(e, ev.CeremonyCompleted):
            self.ledger_words = e.ledger_head_words

    # -- the end -----------------------------------------------------------------------------------
    def _set_titles(self, titles: list[str]) -> None:
        self.query_one(StepList).set_titles(titles)

    async def _finished(self, outcome) -> None:
        self.app.key_hold.drop()  # typed for a question that never came: not for the end buttons
        self.outcome = outcome
        self.app.ceremony_running = False
        self.app.active_wizard = None
        self._busy(False)
        await self._clear_slot()
        self.query_one("#prompt-error").display = False  # the last question's refusal is over
        self._read_aloud, self._facts = "", []
        self._render_read_aloud()
        if outcome.ok:
            self.query_one(StepList).all_done()
            text = f"✓ Ceremony {outcome.ceremony_id} completed."
        else:
            text = f"✗ Ceremony {outcome.ceremony_id} {outcome.status.value}.\n{outcome.code}: {outcome.message}"
        self.summary = None
        try:  # the summary reads what was recorded (vault.ceremony.transcript)
            from console.summary import ceremony_summary

            self.summary = await self.app.bridge.run(ceremony_summary, outcome.ceremony_id)
            text = self.summary.text()
        except VaultError as exc:
            text += f"\n(the summary could not be read: {exc.message})"
        if self.recorded is not None:
            text += (f"\n\nRecorded to {self.recorded} (no secrets). Replay: custodian ceremony run "
                     f"{self.ceremony} --script {self.recorded}, with the env: variables it names set.")
        self.query_one("#wizard-header", Static).update(text.splitlines()[0])
        slot = self.query_one("#prompt-slot")
        good = outcome.ok and not (self.summary and self.summary.dissents)
        await slot.mount(Static(text, id="wizard-result", classes="result " + ("good" if good else "bad")))
        row = Horizontal(classes="buttons", id="wizard-end-buttons")
        await slot.mount(row)
        button = Button("Back to the dashboard", id="wizard-close", variant="primary")
        await row.mount(button, Button("Transcript (t)", id="wizard-transcript"))
        button.focus()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "transcript":
            return bool(self.outcome)  # only once the ceremony has ended
        return True

    def action_transcript(self) -> None:
        if self.outcome:
            from console.screens.transcript import TranscriptScreen

            self.app.push_screen(TranscriptScreen(self.outcome.ceremony_id))

    async def _stopped_with_error(self, exc: VaultError) -> None:
        from console.modals.error import ErrorDialog

        self.app.key_hold.drop()
        self.app.ceremony_running = False
        self.app.active_wizard = None
        self.outcome = False
        self._busy(False)
        self.error = exc
        self.query_one("#wizard-header", Static).update(f"✗ {exc.title}")
        slot = self.query_one("#prompt-slot")
        await slot.mount(Static(f"✗ {exc.message}\nNext: {exc.next_step}", id="wizard-result", classes="result bad"))
        button = Button("Back", id="wizard-close", variant="primary")
        await slot.mount(button)
        button.focus()
        self.app.push_screen(ErrorDialog.from_error(exc))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "wizard-transcript":
            event.stop()
            self.action_transcript()
            return
        if event.button.id == "wizard-close":
            event.stop()
            self.app.pop_screen()
            self.app.action_area("dashboard")


def _enter_pin_source(vault, source):
    """On the owner thread: ``source`` is this run's HSM PIN source (vault.operations.hsm_procedure)."""
    from vault.operations.hsm_procedure import pin_source_for_run

    run = pin_source_for_run(vault, source)
    run.__enter__()
    return run


def _leave_pin_source(vault, run) -> None:
    run.__exit__(None, None, None)
