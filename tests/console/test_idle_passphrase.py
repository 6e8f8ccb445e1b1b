"""The idle lock at the quorum's SLIP-39 passphrase question: every share is held, so the pane
answers with an abort (the engine then wipes the quorum) instead of leaving it in memory."""

from __future__ import annotations

from textual.app import App, ComposeResult

from console.panes.people import PassphrasePane
from vault.ceremony.prompts import AbortAnswer, PassphrasePrompt


def prompt(ask: str) -> PassphrasePrompt:
    return PassphrasePrompt(ceremony_id="c-1", ceremony_name="generate-key", practice=True, step_index=3,
                            step_count=6, step_id="quorum", step_title="Activate the quorum", ask=ask,
                            custodian="the custodians", purpose="the share set's SLIP-39 passphrase")


class PaneApp(App):
    def __init__(self, ask: str) -> None:
        super().__init__()
        self.ask = ask

    def compose(self) -> ComposeResult:
        yield PassphrasePane(prompt(self.ask))


async def test_idle_at_the_slip39_passphrase_aborts_and_clears_the_boxes():
    app = PaneApp("slip39-passphrase")
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(PassphrasePane)
        await pilot.press(*"half-typed")
        answer = pane.idle_wipe()
        assert isinstance(answer, AbortAnswer) and "idle lock" in answer.reason
        assert all(box.value == "" for box in pane.query("SecretInput"))


async def test_idle_at_an_enrolment_passphrase_only_clears_the_boxes():
    app = PaneApp("passphrase")
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(PassphrasePane)
        await pilot.press(*"half-typed")
        assert pane.idle_wipe() is None
        assert all(box.value == "" for box in pane.query("SecretInput"))
