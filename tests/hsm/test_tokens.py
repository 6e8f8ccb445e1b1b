"""Tokens: selection (label, serial, URI, slot), init, login — on every module here.

The practice token's own code (conf, token directories, wipe) is tested in test_practice_token.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vault import errors as ve
from vault.hsm import HSM_LOCK, TokenUriInvalid
from vault.hsm.uri import TokenUri
from vault.secret import Secret
from vault.types import KeyAlgorithm, TokenSelector

TOKEN_LABEL, SECOND_TOKEN_LABEL = "test-token", "test-token-2"
USER_PIN_TEXT = "usr-pin8"



def test_token_info(hsm_module, token):
    assert token.label == TOKEN_LABEL
    assert token.manufacturer and token.model and token.serial
    assert 1 <= token.min_pin_len <= token.max_pin_len  # the token's own limits (C_GetTokenInfo)
    assert token.slot_id >= 0 and not token.protected_authentication_path
    assert token.firmware.count(".") == 1
    assert token.initialised and token.user_pin_initialised
    assert {"TOKEN_INITIALIZED", "USER_PIN_INITIALIZED", "LOGIN_REQUIRED", "RNG"} <= set(token.flags)
    assert hsm_module.tokens() == [token]  # the free slot is not listed


def test_find_by_label_serial_and_uri(hsm_module, token, second_token):
    assert hsm_module.find_token(TOKEN_LABEL) == token
    assert hsm_module.find_token(TokenSelector(serial=token.serial)) == token
    assert hsm_module.find_token(TokenSelector(label=SECOND_TOKEN_LABEL)) == second_token
    assert hsm_module.find_token(f"pkcs11:token={TOKEN_LABEL};serial={token.serial}") == token
    assert hsm_module.find_token("pkcs11:token=test%2Dtoken%2D2") == second_token
    assert hsm_module.find_token(token.uri) == token
    assert hsm_module.find_token(token) == token  # a TokenInfo is re-read by serial


def test_unknown_and_ambiguous(hsm_module, token, second_token):
    with pytest.raises(ve.TokenNotFound, match="no-such-token"):
        hsm_module.find_token("no-such-token")
    with pytest.raises(ve.TokenNotFound):
        hsm_module.find_token(TokenSelector(serial="0000000000000000"))
    with pytest.raises(ve.TokenNotFound):
        hsm_module.find_token(f"pkcs11:token={TOKEN_LABEL};serial={second_token.serial}")
    with pytest.raises(ve.TokenAmbiguous) as info:
        hsm_module.find_token("pkcs11:manufacturer=SoftHSM%20project")
    assert token.serial in str(info.value) and second_token.serial in str(info.value)
    with pytest.raises(ve.TokenAmbiguous):
        hsm_module.find_token(TokenUri(model="SoftHSM v2"))
    with pytest.raises(TokenUriInvalid):
        hsm_module.find_token("pkcs11:slot-id=0")


def test_init_token_refuses_existing_label(hsm_module, token, token_pins):
    with pytest.raises(ve.LabelExists):
        hsm_module.init_token(TOKEN_LABEL, token_pins.so, token_pins.user)
    assert hsm_module.tokens() == [token]


def test_init_token_checks_input(hsm_module, token_pins):
    with pytest.raises(ValueError):
        hsm_module.init_token("x" * 33, token_pins.so, token_pins.user)
    with pytest.raises(ve.PinLengthInvalid):  # the limit is the token's own (C_GetTokenInfo)
        hsm_module.init_token("ok", Secret("123"), token_pins.user)
    assert hsm_module.tokens() == []


def test_random_needs_no_login(hsm_module, token):
    a, b = hsm_module.random(token, 32), hsm_module.random(TOKEN_LABEL, 32)
    assert len(a) == len(b) == 32 and a != b


def test_session_random_and_repr(hsm_session, token_pins):
    assert len(hsm_session.random(16)) == 16
    assert USER_PIN_TEXT not in repr(hsm_session)
    assert USER_PIN_TEXT not in repr(token_pins)


def test_wrong_pin_is_refused_and_the_leaked_session_reaped(hsm_module, token, token_pins):
    """python-pkcs11 leaks the session of a failed C_Login; vault.hsm reaps it. Proof: the
    SO login (which a leftover RO session would block with SessionReadOnlyExists) works."""
    import pkcs11  # the test talks to the module directly to check the token state

    with pytest.raises(ve.PinIncorrect) as info:
        hsm_module.open_session(token, Secret("wrong-12"))
    assert "wrong-12" not in str(info.value)
    with HSM_LOCK:
        lib = pkcs11.lib(os.path.realpath(hsm_module.module_path))
        p11_token = lib.get_token(token_serial=token.serial.encode())
        with p11_token.open(rw=True, so_pin=token_pins.so.reveal_text()):
            pass
    with hsm_module.open_session(token, token_pins.user) as session:
        assert session.list_keys() == []


def test_one_session_per_token(hsm_module, hsm_session, token, token_pins):
    with pytest.raises(ve.HsmError, match="already open"):
        hsm_module.open_session(token, token_pins.user)
    hsm_session.close()
    with pytest.raises(ve.HsmError, match="closed"):
        hsm_session.list_keys()
    with hsm_module.open_session(token, token_pins.user) as again:
        assert again.list_keys() == []






def test_tokens_alike_are_refused_naming_their_slots_and_the_slot_tells_them_apart(hsm_module, token, second_token):
    """Serials are not unique on every module (tpm2-pkcs11: all 0000000000000000), so a
    selector that matches two tokens is refused with every slot named, and a slot next to the
    label or serial picks one."""
    with pytest.raises(ve.TokenAmbiguous) as info:
        hsm_module.find_token(TokenUri(model=token.model))
    assert f"slot {token.slot_id}" in str(info.value) and f"slot {second_token.slot_id}" in str(info.value)
    assert "slot-id" in info.value.next_step
    assert hsm_module.find_token(TokenSelector(slot=second_token.slot_id)).serial == second_token.serial
    uri = f"pkcs11:token={TOKEN_LABEL};slot-id={token.slot_id}"
    assert hsm_module.find_token(uri) == token
    with pytest.raises(TokenUriInvalid, match="not accepted alone"):
        hsm_module.find_token(f"pkcs11:slot-id={token.slot_id}")
