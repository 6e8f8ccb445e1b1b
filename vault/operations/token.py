"""Initialise the vault's token, and re-key its PINs to the quorum secret's derivations.

A vault has one token. Initialising another one (a replacement after loss, or the fresh
token a restore goes onto) must be asked for explicitly; a token that is already
initialised is never re-initialised (that would wipe it).

Init has a chicken-and-egg problem: the quorum secret mixes the token's RNG, and the token's
PINs derive from the quorum secret. So init first initialises the token with *transient*
random PINs held only in memory (``initialise_token_transient``), draws the random bytes,
makes, splits and verifies the shares, and only then sets the derived PINs
(``rekey_token_pins``) in the transaction that commits the share set. The setting
``token.pins`` says which PINs the token has: ``transient`` until the commit, ``quorum`` after.

A token left ``transient`` (the init died between the two) is empty and its PINs are lost:
``orphaned_token`` finds it. In a practice home the next init (or the abort, while the PINs
are still in memory) discards it; a production token must be reset with the vendor's tools.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vault.errors import HsmCheckFailed, TokenInUse, TokenNotFound, VaultError
from vault.hsm import TokenInfo, parse_token_uri
from vault.operations._common import ACTOR
from vault.operations.pin_policy import require_pin_policy
from vault.operations.quorum import SETTING_PIN_MAX_LEN, ActiveQuorum, token_pin_limit, wrap_mechanism
from vault.shares.derive import HEX_PIN_LEN, encode_pin, pin_bits
from vault.secret import Secret

if TYPE_CHECKING:
    from vault.vault import Vault

SETTING_LABEL = "token.label"
SETTING_SERIAL = "token.serial"
SETTING_MODEL = "token.model"
SETTING_PINS = "token.pins"  # "transient" (init under way) | "quorum" (derived from the active set's QS)
PINS_TRANSIENT, PINS_QUORUM = "transient", "quorum"


@dataclass(frozen=True, slots=True, repr=False)
class TransientPins:
    """Init's first PINs: random, in memory only, replaced by the derived ones at the commit."""

    so: Secret
    user: Secret

    def wipe(self) -> None:
        self.so.wipe()
        self.user.wipe()

    def __repr__(self) -> str:
        return "<TransientPins redacted>"

    def __reduce__(self):
        raise TypeError("TransientPins cannot be pickled")


def configured_token_label(vault: Vault) -> str | None:
    """The label the home's configuration selects the token by, if it names one."""
    token = vault.token
    if token.startswith("pkcs11:"):
        return parse_token_uri(token).token
    return token


def initialise_token(
    vault: Vault,
    quorum: ActiveQuorum,
    label: str | None = None,
    *,
    replacement: bool = False,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
) -> TokenInfo:
    """C_InitToken on the free slot with the QS-derived SO PIN, then C_InitPIN with the user PIN.

    Refused (nothing changes) when a token with ``label`` is already initialised, or when this
    vault already has a token and ``replacement`` is not set. Records label, serial and model
    in settings and the ledger. The PINs fit the new token's own limit (ulMaxPinLen of the free
    slot), which may be shorter or longer than the lost token's: the vault's PIN length becomes
    the new token's (``token.pin_max_len``, ``quorum.pin_max_len``), and a limit below 32
    characters is named in the ledger (``token.pin_fitted``).
    """
    label = label or configured_token_label(vault)
    if not label:
        raise TokenInUse(
            "The home's configuration selects the token by serial only, so there is no label to initialise.",
            next_step="Give the new token's label explicitly.",
        )
    module = vault.hsm()
    clash = [t for t in module.tokens() if t.label == label]
    if clash:
        raise TokenInUse(
            f"A token labelled {label!r} is already initialised (serial {clash[0].serial}); it was left unchanged."
        )
    previous = vault.store.get_setting(SETTING_SERIAL)
    if previous and not replacement:
        raise TokenInUse(
            f"This vault already has its token (serial {previous}).",
            next_step="Initialise a new token only as a replacement (restore ceremony), and say so explicitly.",
        )
    from vault.operations.hsm_procedure import refuse_pin_change

    refuse_pin_change(vault, "initialise a replacement token (C_InitToken sets its PINs)")
    free = next((t for t in module.slots() if not t.initialised), None)
    require_pin_policy(vault, free, what="initialise")
    fitted = token_pin_limit(free)
    with quorum.so_pin(fitted or HEX_PIN_LEN) as so_pin, quorum.user_pin(fitted or HEX_PIN_LEN) as user_pin:
        info = module.init_token(label, so_pin, user_pin)
        # A freshly initialised token holds nothing: confirm before the vault relies on it.
        with module.open_session(info, user_pin) as session:
            found = session.list_keys()
    if found:
        raise HsmCheckFailed(f"The newly initialised token {info.describe()} already holds {len(found)} keys.")
    with vault.store.atomic():
        _record_token(vault, info, PINS_QUORUM)
        if fitted is not None:
            vault.store.set_setting(SETTING_PIN_MAX_LEN, str(fitted))
            vault.ledger.append("token.pin_fitted", {**pin_fit_details(info, fitted), "replacement": bool(previous)},
                                actor=actor, ceremony_id=ceremony_id)  # fmt: skip
        else:
            vault.store.delete_setting(SETTING_PIN_MAX_LEN)
        vault.ledger.append(
            "token.initialised",
            {
                "label": info.label,
                "serial": info.serial,
                "manufacturer": info.manufacturer,
                "model": info.model,
                "firmware": info.firmware,
                "replacement": bool(previous),
                "previous_serial": previous,
                "share_set_id": quorum.share_set_id,
            },
            actor=actor,
            ceremony_id=ceremony_id,
        )
    quorum.pin_max_len = fitted  # the rest of the ceremony (the restore) logs in to the new token
    return info


def _record_token(vault: Vault, info: TokenInfo, pins: str) -> None:
    vault.store.set_setting(SETTING_LABEL, info.label)
    vault.store.set_setting(SETTING_SERIAL, info.serial)
    vault.store.set_setting(SETTING_MODEL, f"{info.manufacturer} {info.model}".strip())
    vault.store.set_setting(SETTING_PINS, pins)


def _forget_token(vault: Vault) -> None:
    for key in (SETTING_LABEL, SETTING_SERIAL, SETTING_MODEL, SETTING_PINS, SETTING_PIN_MAX_LEN):
        vault.store.set_setting(key, "")


def orphaned_token(vault: Vault) -> TokenInfo | None:
    """The vault's token if an init left it with transient PINs (empty, PINs lost), else None."""
    serial = vault.store.get_setting(SETTING_SERIAL)
    if not serial or vault.store.get_setting(SETTING_PINS) != PINS_TRANSIENT:
        return None
    try:
        return vault.hsm().find_token(_serial_selector(serial))
    except TokenNotFound:
        return None


def _serial_selector(serial: str):
    from vault.types import TokenSelector

    return TokenSelector(serial=serial)


def discard_orphaned_token(vault: Vault, *, reason: str, ceremony_id: str | None = None, actor: str = ACTOR,
                           user_pin: Secret | None = None) -> str:
    """Practice only: remove a token init left with transient PINs (it holds nothing).

    Without ``user_pin`` only public objects are visible, which is enough: the token was
    initialised moments before the init stopped and nothing was generated on it. Returns the
    serial; the settings forget the token and the ledger records ``token.discarded``.
    """
    from vault import hsm

    info = orphaned_token(vault)
    if info is None:
        raise TokenNotFound("The vault has no token left with transient PINs.")
    if not vault.home.is_practice:
        raise TokenInUse(
            f"Token {info.describe()} was initialised by an init that did not finish; it is empty and its PINs "
            "were held only in memory.",
            next_step="Reset it with the HSM vendor's tools (factory reset / SO PIN reset), then run init again.",
        )
    hsm.write_practice_conf(vault.home.path)  # only confs vault.hsm wrote may be wiped (see drill)
    vault.hsm().wipe_practice_token(info, user_pin=user_pin)
    with vault.store.atomic():
        _forget_token(vault)
        vault.ledger.append("token.discarded", {"label": info.label, "serial": info.serial, "reason": reason},
                            actor=actor, ceremony_id=ceremony_id)
    return info.serial


def forget_reset_token(vault: Vault, *, ceremony_id: str | None = None, actor: str = ACTOR) -> str | None:
    """The production init wedge: an init that stopped left the token with transient PINs, the
    token was then reset with the vendor's tools, so the recorded serial is gone (or no longer an
    initialised token). The vault forgets it — recording the old attempt (``token.reset_recognised``)
    — and init can start again. Returns the forgotten serial, or None when there was nothing to do.
    A token still initialised under the recorded serial is never forgotten."""
    serial = vault.store.get_setting(SETTING_SERIAL)
    if not serial or vault.store.get_setting(SETTING_PINS) != PINS_TRANSIENT:
        return None
    if any(t.serial == serial for t in vault.hsm().tokens()):
        return None
    with vault.store.atomic():
        label = vault.store.get_setting(SETTING_LABEL)
        _forget_token(vault)
        vault.ledger.append("token.reset_recognised", {
            "label": label, "serial": serial,
            "reason": "an init that did not finish left this token with transient PINs; it is no longer an "
                      "initialised token (reset with the vendor's tools), so the vault forgets it",
        }, actor=actor, ceremony_id=ceremony_id)  # fmt: skip
    return serial


def initialise_token_transient(
    vault: Vault, label: str | None = None, *, ceremony_id: str | None = None, actor: str = ACTOR
) -> tuple[TokenInfo, TransientPins]:
    """Init's first step: the configured token initialised with random PINs held only in memory.

    A token an earlier init left transient is discarded first in a practice home (it is empty;
    its PINs are lost); in production it is refused with the way out. Any other token with
    the label is refused (TokenInUse), as is a vault that already has its token.
    """
    label = label or configured_token_label(vault)
    if not label:
        raise TokenInUse(
            "The home's configuration selects the token by serial only, so there is no label to initialise.",
            next_step="Configure the token by label (or a PKCS#11 URI with token=...).",
        )
    if orphaned_token(vault) is not None:
        discard_orphaned_token(vault, reason="left with transient PINs by an init that did not finish; "
                                             "discarded by the next init", ceremony_id=ceremony_id, actor=actor)
    forget_reset_token(vault, ceremony_id=ceremony_id, actor=actor)
    module = vault.hsm()
    config = vault.home.config
    target = config.adopt_token  # adoption: the token as the vendor's tools left it
    current_so_pin = None
    if target is not None:
        target_info = module.find_slot(target)
        clash = [t for t in module.tokens() if t.label == label and t.slot_id != target_info.slot_id]
    else:
        target_info = next((t for t in module.slots() if not t.initialised), None)
        clash = [t for t in module.tokens() if t.label == label]
    if clash:
        raise TokenInUse(
            f"A token labelled {label!r} is already initialised (serial {clash[0].serial}); it was left unchanged.",
            next_step="Init needs a fresh token: reset this one with the vendor's tools, or configure another label.",
        )
    previous = vault.store.get_setting(SETTING_SERIAL)
    if previous:
        raise TokenInUse(f"This vault already has its token (serial {previous}).",
                         next_step="Use the restore ceremony to move the keys onto a replacement token.")
    require_pin_policy(vault, target_info, what="initialise")  # before the token is touched
    # the token's own limit: PINs (transient and derived) are encoded to fit it (vault.shares.encode_pin)
    max_len = target_info.max_pin_len if target_info is not None and target_info.max_pin_len else None
    fitted = max_len if max_len is not None and max_len < HEX_PIN_LEN else None
    pins = TransientPins(Secret(encode_pin(os.urandom(16), fitted), "so-pin"),
                         Secret(encode_pin(os.urandom(16), fitted), "user-pin"))
    try:
        if target is not None:
            current_so_pin = resolve_pin_ref(vault, config.current_so_pin)
        info = module.init_token(label, pins.so, pins.user, current_so_pin=current_so_pin,
                                 target=target)  # fmt: skip
        with vault.store.atomic():
            _record_token(vault, info, PINS_TRANSIENT)
            if fitted is not None:
                vault.store.set_setting(SETTING_PIN_MAX_LEN, str(fitted))
                vault.ledger.append("token.pin_fitted", pin_fit_details(info, fitted),
                                    actor=actor, ceremony_id=ceremony_id)  # fmt: skip
            else:
                vault.store.delete_setting(SETTING_PIN_MAX_LEN)
            if target is not None:
                vault.ledger.append("token.adopted", {
                    "label": info.label, "serial": info.serial, "adopted_as": target,
                    "current_so_pin": config.current_so_pin,  # the reference, never the PIN
                    "what": "C_InitToken with the token's current SO PIN; its SO and user PINs are taken over"},
                    actor=actor, ceremony_id=ceremony_id)  # fmt: skip
            vault.ledger.append(
                "token.initialised",
                {"label": info.label, "serial": info.serial, "manufacturer": info.manufacturer,
                 "model": info.model, "firmware": info.firmware, "replacement": False, "previous_serial": None,
                 "pins": PINS_TRANSIENT},
                actor=actor,
                ceremony_id=ceremony_id,
            )  # fmt: skip
    except BaseException:
        pins.wipe()
        raise
    finally:
        if current_so_pin is not None:
            current_so_pin.wipe()
    return info, pins


def pin_fit_details(info: TokenInfo, max_len: int) -> dict:
    """What the token's PIN limit costs (for the ceremony's notice and the ledger)."""
    return {"serial": info.serial, "label": info.label, "max_pin_len": max_len, "bits_kept": pin_bits(max_len),
            "bits_derived": 128, "encoding": f"base62, {max_len} characters (vault.shares.encode_pin)",
            "weakening": f"the token takes at most {max_len} PIN characters: the derived PINs keep "
                         f"{pin_bits(max_len)} of 128 bits"}


def resolve_pin_ref(vault: Vault, ref: str) -> Secret:
    """The current SO PIN of an adopted token from its reference (env:NAME, or file:PATH relative
    to the home); errors name the reference, never a value."""
    from vault.errors import ConfigError
    from vault.inputs import read_secret_file

    if ref.startswith("env:"):
        value = os.environ.get(ref[4:])
        if value is None:
            raise ConfigError(f"The environment variable {ref[4:]} (the adopted token's current SO PIN, {ref}) "
                              "is not set.", next_step="Set it before running init.")
        return Secret(value, "so-pin")
    path = (vault.home.path / ref[5:]).expanduser()
    return read_secret_file(path, ref, what="SO PIN", kind="so-pin",
                            next_step="Check [hsm] current_so_pin in custodian.toml.")


def rekey_token_pins(vault: Vault, serial: str, *, so_pin_old: Secret, quorum: ActiveQuorum,
                     ceremony_id: str | None = None, actor: str = ACTOR) -> int:
    """Set the token's SO and user PINs to ``quorum``'s derivations and prove the new user PIN.

    Returns how many keys the token shows when logged in with the new PIN (the caller checks
    it). Callers run it inside the transaction that commits the share set, so the PIN change
    and the database's record of it land together or not at all.
    """
    with quorum.so_pin() as so_new, quorum.user_pin() as user_new:
        vault.hsm().set_pins(_serial_selector(serial), so_pin_old=so_pin_old, so_pin_new=so_new,
                             user_pin_new=user_new)  # fmt: skip
    return prove_token_pins(vault, serial, quorum, ceremony_id=ceremony_id, actor=actor)


def prove_token_pins(vault: Vault, serial: str, quorum: ActiveQuorum, *, ceremony_id: str | None = None,
                     actor: str = ACTOR) -> int:
    """Log in with ``quorum``'s user PIN (PinIncorrect if the token has other PINs); record
    ``token.pins`` = quorum and ``token.pins_set``; return how many keys the token shows."""
    module = vault.hsm()
    with quorum.user_pin() as user_pin:
        with module.open_session(_serial_selector(serial), user_pin, wrap_mechanism=wrap_mechanism(vault)) as session:
            count = len(session.list_keys())
    vault.store.set_setting(SETTING_PINS, PINS_QUORUM)
    vault.ledger.append("token.pins_set", {"serial": serial, "share_set_id": quorum.share_set_id,
                                           "share_set": quorum.share_set.name, "keys_visible": count},
                        actor=actor, ceremony_id=ceremony_id)
    return count


def abandon_transient_token(vault: Vault, pins: TransientPins, *, reason: str, ceremony_id: str | None = None,
                            actor: str = ACTOR) -> str:
    """An init stopped while its transient PINs are still in memory (an abort, a failed step).

    Practice: the empty token is wiped now and forgotten. Production: the token stays, empty,
    and its PINs go with this process; the ledger says so (``token.orphaned``) and the next
    step is a vendor reset. Returns what happened, for the ceremony's notice.
    """
    try:
        info = orphaned_token(vault)
        if info is None:
            return "no token was left half-initialised"
        if vault.home.is_practice:
            discard_orphaned_token(vault, reason=reason, ceremony_id=ceremony_id, actor=actor, user_pin=pins.user)
            return f"the practice token {info.label} ({info.serial}) initialised by this init was discarded"
        vault.ledger.append("token.orphaned", {"label": info.label, "serial": info.serial, "reason": reason},
                            actor=actor, ceremony_id=ceremony_id)
        return (f"token {info.label} ({info.serial}) is initialised but empty and its PINs are lost: reset it "
                "with the HSM vendor's tools before the next init")
    except VaultError as exc:
        return f"the half-initialised token could not be cleaned up ({exc.code})"
    finally:
        pins.wipe()
