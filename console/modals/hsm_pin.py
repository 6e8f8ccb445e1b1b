"""The HSM user PIN, typed by its holder, for ``[hsm] pin_policy = "hsm-procedure"``.

The engine asks for it in the middle of a step, when a login needs it (vault.operations.
hsm_procedure asks the ceremony's PIN source; console.responder.TuiPinSource brings the request
here). The PIN is masked, never echoed, never copied (console.widgets.secret_input), leaves this
dialog as a ``Secret`` once and is wiped after the login. What this dialog shows is no secret: the
token, why the PIN is asked again and what the token's retry flags report. Escape stops the login:
the ceremony is then aborted (HSM_PIN_CANCELLED) before anything is done on the token.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from console.screens.base import VaultModal
from console.widgets.secret_input import SecretInput
from vault.hsm import PinTries
from vault.operations.hsm_procedure import PinRequest
from vault.secret import Secret


class HsmPinDialog(VaultModal[Secret | None]):
    WHERE = "HSM login"
    HOLDS_SECRETS = True
    ALLOW_SELECT = False
    BINDINGS = [Binding("escape", "stop", "Stop the login", id="hsm-pin.stop")]
    HELP = """\
The ceremony logs in to the HSM with the user PIN the HSM vendor's procedure set; only its holder
types it. It is not shown, copied, recorded or written anywhere, and it is wiped after the login.
Each wrong PIN is one try of the HSM's retry counter: the dialog says what the token reports.
Escape stops the login: the ceremony is aborted before anything is done on the token.
"""

    def __init__(self, request: PinRequest) -> None:
        super().__init__()
        self.request = request

    def compose_body(self) -> ComposeResult:
        r = self.request
        with Vertical(classes="dialog hsm-pin-dialog"):
            yield Static("HSM login: the user PIN", classes="dialog-title")
            yield Static(f"PIN holder: type the user PIN of token {r.token}, as the HSM vendor's procedure set it. "
                         "Others look away.", id="hsm-pin-ask")
            yield Static(self._tries_line(), id="hsm-pin-tries")
            yield Static(f"✗ {r.problem}" if r.problem else "", classes="pane-problem", id="hsm-pin-problem")
            yield SecretInput(placeholder="HSM user PIN", kind="user-pin", id="hsm-pin")
            with Horizontal(classes="buttons"):
                yield Button("Log in (enter)", id="hsm-pin-go", variant="primary")
                yield Button("Stop the login (escape)", id="hsm-pin-stop")

    def _tries_line(self) -> str:
        r = self.request
        if r.tries is PinTries.NOT_REPORTED and not r.problem:
            return ""
        return f"⚠ {r.tries.said[0].upper()}{r.tries.said[1:]}."

    def on_mount(self) -> None:
        self.query_one("#hsm-pin-problem").display = bool(self.request.problem)
        self.query_one("#hsm-pin-tries").display = bool(self._tries_line())
        self.set_focus(self.query_one(SecretInput))

    def on_secret_input_submitted(self, event: SecretInput.Submitted) -> None:
        event.stop()
        self._give(event.secret)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "hsm-pin-go":
            self._give(self.query_one(SecretInput).take())
        else:
            self.action_stop()

    def _give(self, secret: Secret) -> None:
        if not secret.reveal_text():  # nothing typed: not worth a try of the HSM's counter
            secret.wipe()
            problem = self.query_one("#hsm-pin-problem", Static)
            problem.update("✗ No PIN was typed. Type the PIN, or press Escape to stop the login.")
            problem.display = True
            return
        self.dismiss(secret)

    def action_stop(self) -> None:
        self.query_one(SecretInput).value = ""
        self.dismiss(None)

    def idle_lock(self) -> None:
        """After the idle timeout: what was typed is cleared; the lock screen covers the question."""
        from console.modals.lock import LockScreen

        self.query_one(SecretInput).value = ""
        self.app.key_hold.drop()
        self.app.push_screen(LockScreen("The HSM PIN typed so far was cleared: its holder types it again."))
