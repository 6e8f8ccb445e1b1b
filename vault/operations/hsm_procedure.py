"""``[hsm] pin_policy = "hsm-procedure"``: the token's user PIN is the one the HSM vendor's own
procedure set (a Luna partition password from lunacm, a CloudHSM crypto-user password, a PIN set
with the vendor's tools), held by a PIN holder; the console never derives, sets or stores it.

Why a policy of its own and not a flavour of ``"hsm"``: ``"hsm"`` means the HSM's PIN entry device
(C_Login with a NULL PIN, nothing typed on this machine); here a PIN *is* typed, by its holder,
each time a ceremony logs in. Different people, different risks, different code: two names.

* init does not C_InitToken: it adopts the configured token as the vendor's procedure left it
  (initialised, user PIN set, no keys), proves the PIN by a login, and records ``token.pins`` =
  ``hsm-procedure`` and ``token.adopted`` with the policy.
* every login asks the ceremony's :class:`HsmPinSource` (``vault.hsm_pin_source``): headless, a
  reference given per ceremony (script key ``hsm_pin = "env:NAME"`` or ``"file:PATH"``, never the
  PIN); in the console, a masked input asked of the PIN holder. The PIN is wiped after the login;
  each login appends ``token.login`` (policy, token serial, where the PIN came from; never the PIN).
* a wrong PIN: a one-line refusal (headless) or a re-ask of its holder (console), naming what the
  token's retry flags report (C_GetTokenInfo: CKF_USER_PIN_COUNT_LOW / FINAL_TRY / LOCKED); a locked
  PIN: HSM_PIN_LOCKED; the holder stopping the login (Escape): HSM_PIN_CANCELLED.
* the quorum still gates what it gates (backup KEK, bundle MAC, every quorum step); it no longer
  gates the HSM login. Re-keying the PINs (init's rekey, reshare) is skipped, and recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from vault.errors import (HsmCheckFailed, PinEntryCancelled, PinIncorrect, PinLocked, PinPolicyRefused, TokenInUse,
                          TokenNotFound)  # fmt: skip
from vault.hsm.model import PinTries
from vault.operations._common import ACTOR
from vault.secret import Secret

if TYPE_CHECKING:
    from vault.vault import Vault

POLICY = "hsm-procedure"
PINS_PROCEDURE = "hsm-procedure"  # the token.pins setting under this policy
RECORDED_REFERENCE = "env:HSM_USER_PIN"  # what a recorded script says where the holder typed the PIN
MAX_ASKS = 3  # an interactive source is asked at most this often per login; each wrong PIN is one try


@dataclass(frozen=True, slots=True)
class PinRequest:
    """What a PIN source is told when it is asked (no secret): the token, why it is asked again."""

    token: str  # the token as messages name it: 'label' (serial ..., maker model)
    attempt: int  # 1 for the first ask of this login
    tries: PinTries  # what the token's flags said just before this ask
    problem: str | None = None  # why the last PIN was not used (refused, or not fitting): None at the first ask
    min_pin_len: int = 0
    max_pin_len: int = 0
    ceremony_id: str | None = None


class HsmPinSource(Protocol):
    """Where a ceremony's HSM user PIN comes from (set as ``vault.hsm_pin_source`` by the front end)."""

    description: str  # for messages and the ledger: "env:NAME", "file:PATH", "typed by the PIN holder"
    interactive: bool  # True: a wrong PIN is asked again (its holder types it; nothing retries by itself)

    def ask(self, request: PinRequest) -> Secret:
        """The PIN, or PinEntryCancelled when the holder stops the login."""
        ...


@contextmanager
def pin_source_for_run(vault: Vault, source: HsmPinSource | None) -> Iterator[None]:
    """``source`` is the HSM user PIN source of one ceremony run (headless and console alike).

    A refusal (``vault.hsm_pin_refused``) belongs to the run: it is cleared at the start and at the
    end, so each run gets its own try of the HSM's retry counter and no more (see :func:`_refuse`).
    """
    previous = vault.hsm_pin_source
    vault.hsm_pin_source, vault.hsm_pin_refused = (source if source is not None else previous), None
    try:
        yield
    finally:
        vault.hsm_pin_source, vault.hsm_pin_refused = previous, None


def is_procedure(vault: Vault) -> bool:
    return vault.home.config.pin_policy == POLICY


def is_reference(ref: str | None) -> bool:
    return bool(ref) and ref.startswith(("env:", "file:")) and len(ref) > 5


@dataclass(frozen=True, slots=True)
class ReferencePinSource:
    """Headless: the PIN read from ``env:NAME`` or ``file:PATH`` (relative to the home) at each login."""

    home_path: os.PathLike
    ref: str
    interactive: bool = False

    def __post_init__(self) -> None:
        if not is_reference(self.ref):
            raise PinPolicyRefused("The HSM user PIN is given only by reference ('env:NAME' or 'file:PATH'), "
                                   "never in clear.", next_step="Put the PIN in an environment variable or a file "
                                   "and give hsm_pin = 'env:NAME' or 'file:PATH'.")  # fmt: skip

    @property
    def description(self) -> str:
        return self.ref

    def ask(self, request: PinRequest) -> Secret:
        from pathlib import Path

        from vault.errors import ConfigError
        from vault.inputs import read_secret_file

        if self.ref.startswith("env:"):
            value = os.environ.get(self.ref[4:])
            if not value:
                raise ConfigError(f"The environment variable {self.ref[4:]} (the HSM user PIN, {self.ref}) is not set.",
                                  next_step="Set it before running the ceremony.")
            return Secret(value, "user-pin")
        path = (Path(self.home_path) / self.ref[5:]).expanduser()
        return read_secret_file(path, self.ref, what="HSM user PIN", kind="user-pin",
                                next_step="Check the ceremony's hsm_pin reference.")


def _no_source() -> PinPolicyRefused:
    return PinPolicyRefused(
        'pin_policy = "hsm-procedure": this ceremony logs in to the HSM with the user PIN its vendor\'s procedure set, '
        "and no PIN was given.",
        next_step="Headless: add hsm_pin = 'env:NAME' (or 'file:PATH') to the ceremony script; in the console the "
                  "PIN holder types it when asked.")  # fmt: skip


def _refuse(vault: Vault, source: HsmPinSource, error: PinIncorrect | PinLocked | PinEntryCancelled):
    """Remember, for the rest of this run, that the HSM refused ``source``'s PIN (or its holder stopped).

    Each refused C_Login costs one try of the HSM's retry counter (opencryptoki locks the user PIN
    after 3; a Luna partition after its policy's count). A ceremony that goes on to its abort path,
    end-signing or any other login after a refusal would spend another try with the same wrong PIN
    (or ask a holder who just said stop), so every later login in the run is refused here, with the
    same line, before C_Login. Each run has its own (:func:`pin_source_for_run`), which clears this.
    """
    vault.hsm_pin_refused = (source, error)
    return error


def _tries(module, vault: Vault) -> tuple[PinTries, object | None]:
    """The token's retry flags read now (C_GetTokenInfo), and the TokenInfo; NOT_REPORTED if unreadable."""
    from vault.errors import VaultError

    try:
        info = module.find_token(vault.token)
    except VaultError:
        return PinTries.NOT_REPORTED, None
    return info.user_pin_tries, info


def _locked(source: HsmPinSource, tries: PinTries) -> PinLocked:
    return PinLocked(f"The HSM refused the user PIN from {source.description}, and {tries.said}; nothing was "
                     "changed.", next_step="The token's security officer must unlock it with the HSM vendor's "
                     "tools; then run the ceremony again.")  # fmt: skip


def _fits(info, pin: Secret) -> bool:
    if info is None:
        return True
    low, high = info.min_pin_len, info.max_pin_len or 10**6
    return low <= len(pin.reveal_text()) <= high


def open_procedure_session(vault: Vault, *, wrap_mechanism, ceremony_id: str | None = None, actor: str = ACTOR):
    """A logged-in session on the vault's token with the PIN holder's PIN; ``token.login`` recorded.

    Nothing retries by itself: a refused PIN is asked again only of an interactive source (its holder
    types it again, told what the token's retry flags say, or stops with PinEntryCancelled), at most
    MAX_ASKS times, and not once the token reports the PIN locked. A typed PIN outside the token's
    length limits is asked again before it reaches C_Login (it costs no try).
    """
    source = getattr(vault, "hsm_pin_source", None)
    if source is None:
        raise _no_source()
    refused = getattr(vault, "hsm_pin_refused", None)
    if refused is not None and refused[0] is source:  # this run's PIN was refused: no second try of the counter
        raise type(refused[1])(refused[1].message, next_step=refused[1].next_step)
    module = vault.hsm()
    tries, info = _tries(module, vault) if source.interactive else (PinTries.NOT_REPORTED, None)
    problem = None
    attempt = 0
    while True:
        attempt += 1
        request = PinRequest(token=info.describe() if info is not None else str(vault.token), attempt=attempt,
                             tries=tries, problem=problem, min_pin_len=getattr(info, "min_pin_len", 0),
                             max_pin_len=getattr(info, "max_pin_len", 0), ceremony_id=ceremony_id)  # fmt: skip
        try:
            pin = source.ask(request)
        except PinEntryCancelled as exc:
            raise _refuse(vault, source, exc) from None
        try:
            if source.interactive and not _fits(info, pin):
                problem = (f"That PIN does not fit the token's limits ({info.min_pin_len} to {info.max_pin_len} "
                           "characters); it was not sent to the HSM, so it cost no try. Type it again.")
                attempt -= 1  # not a try
                continue
            session = module.open_session(vault.token, pin, wrap_mechanism=wrap_mechanism)
        except PinIncorrect:
            tries, info = _tries(module, vault)
            if tries is PinTries.LOCKED:
                raise _refuse(vault, source, _locked(source, tries)) from None
            if source.interactive and attempt < MAX_ASKS:
                problem = (f"The HSM refused that PIN; {tries.said}. Type it again only if you are sure of it "
                           "(each wrong PIN is one try of the HSM's counter), or press Escape to stop the login.")
                continue
            raise _refuse(vault, source, PinIncorrect(
                f"The HSM refused the user PIN from {source.description} (pin_policy hsm-procedure: the PIN its "
                f"vendor's procedure set); {tries.said}; nothing was changed.",
                next_step="Check the PIN with its holder, then run the ceremony again.")) from None  # fmt: skip
        except PinLocked as exc:
            raise _refuse(vault, source, exc) from None
        finally:
            pin.wipe()
        break
    serial = session.token.serial if hasattr(session, "token") and hasattr(session.token, "serial") else None
    vault.ledger.append("token.login", {"pin_policy": POLICY, "token_serial": serial,
                                        "pin_from": source.description, "attempts": attempt},
                        actor=actor, ceremony_id=ceremony_id)  # fmt: skip
    return session


def adopt_procedure_token(vault: Vault, *, ceremony_id: str | None = None, actor: str = ACTOR):
    """Init's first step under this policy: the configured token as the vendor's procedure left it.

    Nothing on the token changes: no C_InitToken, no PIN set. Refused (nothing recorded) when the
    vault already has a token, when the token is missing or has no user PIN, or when it holds keys.
    """
    previous = vault.store.get_setting("token.serial")
    if previous:
        raise TokenInUse(f"This vault already has its token (serial {previous}).",
                         next_step="Use the restore ceremony to move the keys onto a replacement token.")
    module = vault.hsm()
    try:
        info = module.find_token(vault.token)
    except TokenNotFound as exc:
        raise TokenNotFound(
            f'pin_policy = "hsm-procedure" adopts the token the HSM vendor\'s procedure initialised, and none matches '
            f"{vault.token!r}: {exc.message}", next_step="Initialise it with the vendor's tools (label, SO and user "
            "PIN), or correct [hsm] token.") from None  # fmt: skip
    if not info.user_pin_initialised:
        raise TokenNotFound(f"Token {info.describe()} has no user PIN yet.",
                            next_step="Set its user PIN with the vendor's procedure, then run init again.")
    from vault.operations.quorum import wrap_mechanism

    with open_procedure_session(vault, wrap_mechanism=wrap_mechanism(vault), ceremony_id=ceremony_id,
                                actor=actor) as session:
        found = len(session.list_keys())
    if found:
        raise HsmCheckFailed(f"Token {info.describe()} already holds {found} keys; init adopts only an empty token.",
                             next_step="Clear it with the vendor's tools, or use another partition.")
    from vault.operations.token import SETTING_PIN_MAX_LEN, _record_token

    with vault.store.atomic():
        _record_token(vault, info, PINS_PROCEDURE)
        vault.store.delete_setting(SETTING_PIN_MAX_LEN)
        vault.ledger.append("token.adopted", {
            "label": info.label, "serial": info.serial, "manufacturer": info.manufacturer, "model": info.model,
            "firmware": info.firmware, "pin_policy": POLICY,
            "what": "the token keeps the SO and user PINs its vendor's procedure set; the console never derives, "
                    "sets or stores them, and the HSM login is the PIN holder's, not the quorum's"},
            actor=actor, ceremony_id=ceremony_id)  # fmt: skip
    return info


def refuse_pin_change(vault: Vault, what: str, *, next_step: str | None = None) -> None:
    """Raise when something would set, change or use a PIN the vendor's procedure set and the console has not."""
    if is_procedure(vault):
        raise PinPolicyRefused(
            f'pin_policy = "hsm-procedure": the console does not {what}; the token\'s PINs are the ones its '
            "vendor's procedure set.", next_step=next_step or "Change them with the vendor's tools.")  # fmt: skip


__all__ = ["HsmPinSource", "MAX_ASKS", "POLICY", "PINS_PROCEDURE", "PinLocked", "PinRequest", "RECORDED_REFERENCE", "ReferencePinSource",
           "adopt_procedure_token", "is_procedure", "open_procedure_session", "pin_source_for_run",
           "refuse_pin_change"]
