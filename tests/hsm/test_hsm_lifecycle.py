"""A whole non-wrap lifecycle through the public HSM API, on every module here (the
acceptance of issue 9 names opencryptoki): init the token the way it needs (a free slot, or
the factory token with its current SO PIN), generate RSA-3072 and AES-256 without backup,
sign and verify in software, list, re-PIN, destroy."""

from __future__ import annotations

import pytest

from tests.hsm.conftest import require
from vault import errors as ve
from vault.hsm import verify_signature
from vault.secret import Secret
from vault.types import KeyAlgorithm

MESSAGE = b"issue 9: the console runs unchanged on another PKCS#11 module"


def test_non_wrap_lifecycle_through_the_public_api(hsm_module, token, token_pins):
    assert token.initialised and token.user_pin_initialised
    with hsm_module.open_session(token, token_pins.user) as session:
        require(session, KeyAlgorithm.RSA_3072, generate=True, sign=True)
        require(session, KeyAlgorithm.AES_256, generate=True)
        rsa = session.generate("lifecycle-rsa", KeyAlgorithm.RSA_3072, backup=False)
        aes = session.generate("lifecycle-aes", KeyAlgorithm.AES_256, backup=False)
        assert not rsa.extractable and not aes.extractable
        assert aes.fingerprint.startswith("kcv:") and len(aes.fingerprint) == 10  # computed where no CHECK_VALUE
        pem = session.public_key_pem(rsa)
        verify_signature(pem, KeyAlgorithm.RSA_3072, MESSAGE, session.sign(rsa, MESSAGE))
        assert [k.label for k in session.list_keys()] == ["lifecycle-aes", "lifecycle-rsa"]
    new_so, new_user = Secret("so-new-9", "so-pin"), Secret("usr-new9", "user-pin")
    hsm_module.set_pins(token, so_pin_old=token_pins.so, so_pin_new=new_so, user_pin_new=new_user)
    with pytest.raises(ve.PinIncorrect):
        hsm_module.open_session(token, token_pins.user)
    with hsm_module.open_session(token, new_user) as session:
        again = session.get_key("lifecycle-rsa")
        assert again.fingerprint == rsa.fingerprint
        verify_signature(pem, KeyAlgorithm.RSA_3072, MESSAGE, session.sign(again, MESSAGE))
        session.destroy(again)
        session.destroy(session.get_key("lifecycle-aes"))
        assert session.list_keys() == []


def test_init_needs_the_current_so_pin_where_the_token_has_one(hsm_module, token_pins, factory_so_pin):
    """opencryptoki's factory token refuses C_InitToken with a new SO PIN; SoftHSM's free slot
    takes the new one. Either way the refusal leaves the token uninitialised."""
    free = next(info for info in hsm_module.slots() if not info.initialised)
    if factory_so_pin is None:
        pytest.skip("this module's free slot takes the new SO PIN at C_InitToken (no current SO PIN to give)")
    with pytest.raises(ve.PinIncorrect):
        hsm_module.init_token("needs-current", token_pins.so, token_pins.user, target=free)
    assert not hsm_module.slots()[0].initialised
    info = hsm_module.init_token("needs-current", token_pins.so, token_pins.user, target=free,
                                 current_so_pin=factory_so_pin)
    assert info.label == "needs-current" and info.user_pin_initialised


def test_an_initialised_token_is_not_re_initialised_without_its_current_so_pin(hsm_module, token, token_pins):
    with pytest.raises(ve.TokenInUse, match="re-initialising it destroys its objects"):
        hsm_module.init_token("other-label", token_pins.so, token_pins.user, target=token)
    assert hsm_module.find_token(token).label == token.label


def test_pins_outside_the_tokens_limits_are_refused_before_any_call(hsm_module, token_pins, factory_so_pin):
    free = next(info for info in hsm_module.slots() if not info.initialised)
    too_long = Secret("x" * (free.max_pin_len + 1), "so-pin")
    with pytest.raises(ve.PinLengthInvalid, match=f"takes {free.min_pin_len} to {free.max_pin_len}") as refused:
        hsm_module.init_token("too-long", too_long, token_pins.user, target=free, current_so_pin=factory_so_pin)
    # a token without a label yet (and on SoftHSM without a serial) is named by its slot
    assert f"the uninitialised token in slot {free.slot_id} ({free.manufacturer} {free.model})" in refused.value.message
    assert not any(info.initialised for info in hsm_module.slots() if info.slot_id == free.slot_id)
