"""Unfinished ceremonies (after a crash, a kill or a power loss), offered at launch.

Each is listed with the step it stopped in. ``Resume`` continues it where the journal says
(only when vault.ceremony.recovery says that step is safe to repeat: a quorum is activated again
first); ``Abort`` records the abort with a reason in the database and the ledger.
Dismisses with ``("resume", ceremony_id, name)`` or None; aborts happen here.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from console.modals.confirm import ReasonDialog
from console.screens.base import VaultModal
from vault.errors import VaultError


def list_unfinished(vault):
    from vault.ceremony.recovery import unfinished

    return unfinished(vault)


def abort_one(vault, ceremony_id: str, reason: str) -> None:
    from vault.ceremony.recovery import abort_unfinished

    abort_unfinished(vault, ceremony_id, reason)


class UnfinishedDialog(VaultModal["tuple[str, str, str] | None"]):
    WHERE = "Unfinished ceremonies"
    HELP = """\
A ceremony was interrupted before it finished (the console was killed, the machine lost power).
Nothing of its secrets survived: a quorum is always entered again.

* **Resume** continues at the step it stopped in, when that step is safe to repeat.
* **Abort** ends it with a reason recorded in the ledger (always possible).
* **Later** leaves it unfinished; `custodian doctor` and the dashboard keep warning about it.
"""
    BINDINGS = [
        Binding("r", "resume", "Resume", id="unfinished.resume"),
        Binding("a", "abort", "Abort with reason", id="unfinished.abort"),
        Binding("escape", "later", "Later", id="unfinished.later"),
    ]

    def __init__(self, items) -> None:
        super().__init__()
        self.items = list(items)

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Unfinished ceremonies: resume or abort each one", classes="dialog-title")
            yield OptionList(id="unfinished-list")
            yield Static("", id="unfinished-why")
            with Horizontal(classes="buttons"):
                yield Button("Resume (r)", id="resume", variant="primary")
                yield Button("Abort with reason (a)", id="abort", variant="error")
                yield Button("Later (esc)", id="later")

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        ol = self.query_one(OptionList)
        ol.clear_options()
        for u in self.items:
            where = f"stopped in step {u.step_index} '{u.step_id}'" if u.step_id else "stopped before its first step"
            ol.add_option(Option(f"{u.ceremony_id}  ({u.name}, started {u.started_at[:16]}) {where}", id=u.ceremony_id))
        if self.items:
            ol.highlighted = 0
        ol.focus()

    @property
    def selected(self):
        ol = self.query_one(OptionList)
        if ol.highlighted is None or not self.items:
            return None
        return self.items[ol.highlighted]

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        u = self.selected
        if u is None:
            return
        why = self.query_one("#unfinished-why", Static)
        why.update("✓ can be resumed" if u.resumable else f"✗ cannot be resumed: {u.why_not}. Abort it with a reason.")
        self.query_one("#resume", Button).disabled = not u.resumable

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_resume()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"resume": self.action_resume, "abort": self.action_abort, "later": self.action_later}[event.button.id]()

    def action_resume(self) -> None:
        u = self.selected
        if u is None:
            return
        if not u.resumable:
            self.app.bell()
            self.notify(f"{u.ceremony_id} cannot be resumed: {u.why_not}.", severity="warning")
            return
        self.dismiss(("resume", u.ceremony_id, u.name))

    def action_abort(self) -> None:
        u = self.selected
        if u is None:
            return

        def chosen(reason: str | None) -> None:
            if reason:
                self.run_worker(self._abort(u.ceremony_id, reason), exclusive=True, group="unfinished")

        self.app.push_screen(ReasonDialog(f"Abort {u.ceremony_id}? Say why:", action="Abort it"), callback=chosen)

    async def _abort(self, ceremony_id: str, reason: str) -> None:
        try:
            await self.app.bridge.run(abort_one, ceremony_id, reason)
            self.items = await self.app.bridge.run(list_unfinished)
        except VaultError as exc:
            self.notify(f"{exc.message} Next: {exc.next_step}", title=exc.title, severity="error")
            return
        self.notify(f"{ceremony_id} aborted; the reason is in the ledger.")
        if not self.items:
            self.dismiss(None)
        else:
            self._fill()

    def action_later(self) -> None:
        self.dismiss(None)
