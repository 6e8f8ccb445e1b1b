"""Re-keying a token's PINs (init's transient PINs → derived ones; reshare → the new set's), on every module here.

PINs are at most 8 characters: opencryptoki's limit (C_GetTokenInfo ulMaxPinLen)."""

from __future__ import annotations

import os

import pytest

from vault import errors as ve
from vault.hsm import HSM_LOCK
from vault.secret import Secret
from vault.types import KeyAlgorithm

_MODULE: list[str] = []


@pytest.fixture(autouse=True)
def _module_path(hsm_module):
    _MODULE[:] = [hsm_module.module_path]


def _so_login_works(token, so_pin: Secret) -> bool:
    """Direct python-pkcs11 check of the SO PIN (the test inspects the token, vault.hsm has no SO session API)."""
    import pkcs11

    PKCS11_MODULE = _MODULE[0]
    with HSM_LOCK:
        lib = pkcs11.lib(os.path.realpath(PKCS11_MODULE))
        p11_token = lib.get_token(token_serial=token.serial.encode())
        try:
            with p11_token.open(rw=True, so_pin=so_pin.reveal_text()):
                return True
        except pkcs11.PinIncorrect:
            import ctypes

            ctypes.CDLL(os.path.realpath(PKCS11_MODULE)).C_CloseAllSessions(ctypes.c_ulong(p11_token.slot.slot_id))
            return False


def test_new_pins_work_and_the_old_ones_are_refused(hsm_module, token, token_pins):
    with hsm_module.open_session(token, token_pins.user) as session:
        key = session.generate("kept-across-re-pin", KeyAlgorithm.AES_256, backup=False)
    new_so, new_user = Secret("so-pin-2", "so-pin"), Secret("usr-pin2", "user-pin")
    info = hsm_module.set_pins(token, so_pin_old=token_pins.so, so_pin_new=new_so, user_pin_new=new_user)
    assert info.serial == token.serial and info.user_pin_initialised

    with pytest.raises(ve.PinIncorrect):
        hsm_module.open_session(token, token_pins.user)
    assert not _so_login_works(token, token_pins.so)
    assert _so_login_works(token, new_so)
    with hsm_module.open_session(token, new_user) as session:  # the leaked session of the refusal was reaped
        assert session.get_key("kept-across-re-pin").fingerprint == key.fingerprint


def test_a_wrong_old_so_pin_changes_nothing_and_the_leaked_session_is_reaped(hsm_module, token, token_pins):
    with pytest.raises(ve.PinIncorrect) as info:
        hsm_module.set_pins(token, so_pin_old=Secret("not-so-p"), so_pin_new=Secret("so-new-1"),
                            user_pin_new=Secret("usr-new1"))
    assert "not-so-p" not in str(info.value) and "new-1" not in str(info.value)
    # a leftover session would block the SO login (SessionReadOnlyExists): it works, with the old PIN
    assert _so_login_works(token, token_pins.so)
    with hsm_module.open_session(token, token_pins.user) as session:
        assert session.list_keys() == []


def test_refused_while_a_session_is_open(hsm_module, hsm_session, token, token_pins):
    with pytest.raises(ve.HsmError, match="session is open"):
        hsm_module.set_pins(token, so_pin_old=token_pins.so, so_pin_new=Secret("so-new-2"),
                            user_pin_new=Secret("usr-new2"))
    assert hsm_session.list_keys() == []


def test_short_pins_are_refused_before_the_token_is_touched(hsm_module, token, token_pins):
    with pytest.raises(ve.PinLengthInvalid, match=f"takes {token.min_pin_len} to {token.max_pin_len}"):
        hsm_module.set_pins(token, so_pin_old=token_pins.so, so_pin_new=Secret("123"), user_pin_new=Secret("12345"))
    assert _so_login_works(token, token_pins.so)


def test_a_failed_user_pin_step_puts_the_so_pin_back(hsm_module, token, token_pins, monkeypatch):
    """C_InitPIN refuses a 300-character PIN after C_SetPIN changed the SO PIN: set_pins sets it back.

    The PIN-length pre-check (TokenInfo.check_pin_length) would refuse that PIN before any call,
    so it is switched off here: the token's own refusal is the fault that exercises the rollback."""
    from vault.hsm.model import TokenInfo

    monkeypatch.setattr(TokenInfo, "check_pin_length", lambda self, n, what: None)
    with pytest.raises(ve.PinIncorrect, match="length"):
        hsm_module.set_pins(token, so_pin_old=token_pins.so, so_pin_new=Secret("so-new-3"),
                            user_pin_new=Secret("u" * 300))
    assert _so_login_works(token, token_pins.so)
    assert not _so_login_works(token, Secret("so-new-3"))
    with hsm_module.open_session(token, token_pins.user) as session:
        assert session.list_keys() == []
