"""Where a drill (and a restore's pre-check) unwraps a bundle's blobs: never a software token in production.

Three places, chosen by the home, never by the bundle:

* ``practice-scratch-token``: a practice home makes a scratch token in its own practice-token
  module (vault.hsm.practice_token), unwraps there as session objects and wipes the token.
* ``drill-token``: a production home whose ``custodian.toml`` names a drill token (``[drill]
  module`` and ``token``: a spare partition or a spare HSM) unwraps there, as session objects,
  logged in with the quorum's user PIN. The first drill initialises it (C_InitToken on the free
  slot with the quorum's PINs, recorded in the ledger and in the settings ``drill_token.*``);
  it never holds a token object, so resetting it with the vendor's tools loses nothing. A drill
  token that takes shorter PINs than the vault's token gets the derived PINs fitted to its own
  ulMaxPinLen (vault.shares.encode_pin): the length is kept in ``drill_token.pin_max_len``, and
  the bits kept are named in the ledger (``drill_token.pin_fitted``), in every drill's ``where``
  and in the drill's result. A drill token that the vendor's tools initialised (a partition, or a
  token whose C_InitToken needs its current SO PIN) is adopted at the first drill: ``[drill]
  adopt_token`` (the token as it is now) and ``current_so_pin`` (a reference, env:/file:), as
  ``[hsm]``'s for production init; the ledger says ``drill_token.adopted``.
* ``production-hsm-session-objects``: a production home without a drill token unwraps inside its
  own HSM, on the vault's token, into session objects (CKA_TOKEN false: they exist only in that
  session and vanish with it, a crash included); each copy is checked (KCV, or SPKI fingerprint
  and a signature) and destroyed by handle at once, then the session-object KEK is destroyed.

A production home never loads a module its configuration does not name, and never writes a
practice-token configuration: the production path of this module knows no software token.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vault.errors import ConfigError, HsmCheckFailed, TokenInUse, TokenNotFound
from vault.operations.bundles import entry_item, test_unwrap
from vault.operations.quorum import ActiveQuorum, pin_len_for, wrap_mechanism
from vault.shares.derive import pin_bits

if TYPE_CHECKING:
    from vault.vault import Vault

SETTING_DRILL_SERIAL = "drill_token.serial"
SETTING_DRILL_SHARE_SET = "drill_token.share_set_id"
SETTING_DRILL_PIN_LEN = "drill_token.pin_max_len"  # set where the drill token's PINs were fitted to it


class DrillPlace(enum.Enum):
    PRACTICE_SCRATCH = "practice-scratch-token"
    DRILL_TOKEN = "drill-token"
    PRODUCTION_SESSION = "production-hsm-session-objects"


@dataclass(frozen=True, slots=True)
class DrillWhere:
    """Where the blobs were unwrapped: the ledger's ``where`` of a drill (no secret in it)."""

    place: DrillPlace
    module: str
    token_label: str
    token_serial: str
    pin_max_len: int | None = None  # a drill token whose PINs were fitted to its shorter limit

    def to_ledger(self) -> dict[str, Any]:
        where: dict[str, Any] = {"place": self.place.value, "module": self.module, "token_label": self.token_label,
                                 "token_serial": self.token_serial}  # fmt: skip
        if self.pin_max_len is not None:
            where.update(pin_max_len=self.pin_max_len, pin_bits_kept=pin_bits(self.pin_max_len))
        return where

    def describe(self) -> str:
        what = {DrillPlace.PRACTICE_SCRATCH: "a practice scratch token",
                DrillPlace.DRILL_TOKEN: "the drill token",
                DrillPlace.PRODUCTION_SESSION: "session objects of the production token"}[self.place]  # fmt: skip
        text = f"{what} '{self.token_label}' (serial {self.token_serial})"
        if self.pin_max_len is not None:
            text += (f"; its PINs fitted to its limit of {self.pin_max_len} characters keep "
                     f"{pin_bits(self.pin_max_len)} of 128 bits")
        return text


def drill_place(vault: Vault) -> DrillPlace:
    """Where this home drills (read from its configuration only)."""
    if vault.home.is_practice:
        return DrillPlace.PRACTICE_SCRATCH
    return DrillPlace.DRILL_TOKEN if vault.home.config.drill_module else DrillPlace.PRODUCTION_SESSION


def unwrap_checked(vault: Vault, quorum: ActiveQuorum, verified, *, vault_token_required: bool = True) -> tuple[int, DrillWhere | None]:
    """Every entry of ``verified`` unwrapped as a session object where this home drills, checked
    and destroyed at once. Returns (keys checked, where). The vault's own token objects are never
    touched. ``vault_token_required=False`` (a restore's pre-check, when the vault's token may be
    the one that was lost): a production home without a drill token whose token is gone returns
    (0, None): nothing could be unwrapped before the replacement token exists."""
    place = drill_place(vault)
    if place is DrillPlace.PRACTICE_SCRATCH:
        from vault.operations.practice_scratch import unwrap_in_scratch_token

        return unwrap_in_scratch_token(vault, quorum, verified)
    if place is DrillPlace.DRILL_TOKEN:
        return _in_drill_token(vault, quorum, verified)
    from vault.operations.quorum import open_token_session

    module = vault.hsm()
    if not vault_token_required:
        try:
            module.find_token(vault.token)
        except TokenNotFound:
            return 0, None
    with open_token_session(vault, quorum) as session:
        where = DrillWhere(place, module.module_path, session.token.label, session.token.serial)
        return _check_in(session, quorum, verified), where


def _check_in(session, quorum: ActiveQuorum, verified) -> int:
    """The KEK imported as a session object, every blob test-unwrapped, the KEK destroyed."""
    with quorum.kek() as kek:
        wkey = session.import_wrapping_key(kek)
    try:
        compared = test_unwrap(session, wkey, map(entry_item, verified))
    finally:
        session.destroy_wrapping_key(wkey)
    if compared != verified.key_count:
        raise HsmCheckFailed(f"{compared} of the bundle's {verified.key_count} keys were compared.")
    return compared


def _drill_module(vault: Vault) -> Any:
    from vault.hsm import HsmModule

    config = vault.home.config
    if not config.drill_token:
        raise ConfigError(f"{vault.home.config_path}: [drill] names a module but no token.",
                          next_step="Add [drill] token (a label or a PKCS#11 URI).")  # fmt: skip
    return HsmModule.load(config.drill_module)


def _in_drill_token(vault: Vault, quorum: ActiveQuorum, verified) -> tuple[int, DrillWhere]:
    module = _drill_module(vault)
    selector = vault.home.config.drill_token
    info = _drill_token(vault, module, quorum, selector)
    mechanism = wrap_mechanism(vault)
    fitted = vault.store.get_setting(SETTING_DRILL_PIN_LEN)
    pin_len = int(fitted) if fitted else None
    with quorum.user_pin(pin_len) as pin:
        session = module.open_session(info, pin, wrap_mechanism=mechanism)
    with session:
        where = DrillWhere(DrillPlace.DRILL_TOKEN, module.module_path, session.token.label, session.token.serial,
                           pin_len)  # fmt: skip
        return _check_in(session, quorum, verified), where


def _drill_token(vault: Vault, module, quorum: ActiveQuorum, selector: str):
    """The configured drill token; initialised on first use with the quorum's PINs: on a free slot,
    or ([drill] adopt_token + current_so_pin) the token the vendor's tools left, re-initialised
    with its current SO PIN (given by reference, never written), as production init adopts."""
    from vault.hsm import parse_token_uri

    try:
        info = module.find_token(selector)
    except TokenNotFound:
        info = None
    recorded = vault.store.get_setting(SETTING_DRILL_SERIAL)
    # adoption: at the first drill, and again once the recorded drill token is gone (reset with the
    # vendor's tools after a reshare, say); a drill token that is there is never re-initialised
    adopt = vault.home.config.drill_adopt_token if not recorded or info is None else None
    if info is not None and adopt is None:
        if recorded != info.serial:
            raise TokenInUse(
                f"The drill token {info.describe()} was not initialised by this vault's drills; a drill never "
                "uses a token it did not initialise (its objects and PINs are someone else's).",
                next_step="Name a spare, uninitialised partition or HSM in [drill], or reset this one with the "
                          "vendor's tools (a drill token never holds anything a drill needs).",
            )  # fmt: skip
        set_id = vault.store.get_setting(SETTING_DRILL_SHARE_SET)
        if set_id != str(quorum.share_set_id):
            raise TokenInUse(
                f"The drill token {info.describe()} has the PINs of share set {set_id}; this quorum is share set "
                f"{quorum.share_set_id} (a reshare since the last drill).",
                next_step="Reset the drill token with the vendor's tools (it holds nothing), then drill again.",
            )  # fmt: skip
        return info
    label = parse_token_uri(selector).token if selector.startswith("pkcs11:") else selector
    if not label:
        raise ConfigError(f"{vault.home.config_path}: [drill] token selects by serial only; a first drill needs "
                          "a label to initialise the drill token with.", next_step="Give [drill] token a label.")  # fmt: skip
    # the token init_token takes (the free slot, or the adopted one): a drill token with a shorter
    # PIN limit gets PINs fitted to it
    target = module.find_slot(adopt) if adopt else next((t for t in module.slots() if not t.initialised), None)
    pin_len = pin_len_for(quorum, target)
    fitted = pin_len if pin_len != quorum.pin_max_len else None
    current = None
    try:
        if adopt:
            from vault.operations.token import resolve_pin_ref

            current = resolve_pin_ref(vault, vault.home.config.drill_current_so_pin)
        with quorum.so_pin(pin_len) as so_pin, quorum.user_pin(pin_len) as user_pin:
            info = module.init_token(label, so_pin, user_pin, current_so_pin=current, target=adopt)
    finally:
        if current is not None:
            current.wipe()
    with vault.store.atomic():
        vault.store.set_setting(SETTING_DRILL_SERIAL, info.serial)
        vault.store.set_setting(SETTING_DRILL_SHARE_SET, str(quorum.share_set_id))
        vault.store.set_setting(SETTING_DRILL_PIN_LEN, str(pin_len) if pin_len is not None else "")
        vault.ledger.append("drill_token.initialised", {
            "module": module.module_path, "label": info.label, "serial": info.serial,
            "manufacturer": info.manufacturer, "model": info.model, "share_set_id": quorum.share_set_id,
        }, actor="console")  # fmt: skip
        if adopt:
            vault.ledger.append("drill_token.adopted", {
                "module": module.module_path, "label": info.label, "serial": info.serial, "adopted_as": adopt,
                "current_so_pin": vault.home.config.drill_current_so_pin,  # the reference, never the PIN
            }, actor="console")  # fmt: skip
        if fitted is not None:
            from vault.operations.token import pin_fit_details

            vault.ledger.append("drill_token.pin_fitted", {**pin_fit_details(info, fitted), "module": module.module_path,
                                                           "vault_token_pin_max_len": quorum.pin_max_len},
                                actor="console")  # fmt: skip
    return info



def doctor_finding(vault: Vault) -> tuple[str, str, str, str]:
    """(severity, area, message, next step) for `custodian doctor`: where this home's drills run."""
    place = drill_place(vault)
    if place is DrillPlace.PRACTICE_SCRATCH:
        return ("note", "drill place", "drills unwrap in a scratch token of the practice token's module, wiped after", "")
    if place is DrillPlace.DRILL_TOKEN:
        config = vault.home.config
        return ("ok", "drill place", f"drills unwrap as session objects in the drill token {config.drill_token!r} "
                f"of {config.drill_module}", "")  # fmt: skip
    return ("note", "drill place", "drills unwrap as session objects inside the production token (no [drill] "
            "token configured); a restore after losing this HSM can test-unwrap only on the replacement",
            "Configure a spare partition or HSM as [drill] module and token to have bundles checked before a "
            "replacement token is touched.")
