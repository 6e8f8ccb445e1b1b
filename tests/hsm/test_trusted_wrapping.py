"""Trusted wrapping on the token itself (issue 9, item 4): with the user PIN alone a backed-up
key cannot be wrapped under a key of one's own; the KEK the SO made trusted wraps it, and never
lies in the token's storage.

The attacker below is what `pkcs11-tool` with the user PIN is: python-pkcs11 straight on the
session, no console code in the way. Measured on SoftHSM 2.6.1 (the console's profile of it
says trusted wrapping is safe by the method of vault.hsm.trusted); a token that cannot wrap at
all (no AES key wrap) skips, by capability.
"""

from __future__ import annotations

import os

import pkcs11
import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from pkcs11 import Attribute as A
from pkcs11 import KeyType, Mechanism

from vault.errors import PinIncorrect, VaultError
from vault.hsm import objects
from vault.secret import Secret
from vault.types import KeyAlgorithm


@pytest.fixture
def trusted_session(hsm_session):
    _require_wrap(hsm_session)
    hsm_session.trusted_wrapping = True
    return hsm_session


def _require_wrap(session) -> None:
    try:
        session.capabilities().require_backup(KeyAlgorithm.AES_256)
    except VaultError as exc:
        pytest.skip(f"token {session.token.describe()} cannot back up AES keys (probed: {exc.message})")


def _object(session, key):
    found = objects.find(session.p11, key, session.token)
    return (found.secret or found.private)[0]


def _attacker_key(session):
    """A wrapping key of one's own, made with nothing but the user login."""
    return session.p11.generate_key(KeyType.AES, 256, store=False, template={A.WRAP: True, A.EXTRACTABLE: True})


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.AES_256, KeyAlgorithm.EC_P256])
def test_with_the_user_pin_alone_a_backed_up_key_cannot_be_wrapped_under_ones_own_key(trusted_session, algorithm):
    key = trusted_session.generate("master", algorithm)
    target = _object(trusted_session, key)
    assert target[A.WRAP_WITH_TRUSTED] is True and target[A.EXTRACTABLE] is True
    own = _attacker_key(trusted_session)
    with pytest.raises(pkcs11.KeyNotWrappable):
        own.wrap_key(target, mechanism=Mechanism(trusted_session.wrap_mechanism.value))
    with pytest.raises(pkcs11.AttributeReadOnly):  # nor can the user make their key trusted ...
        own[A.TRUSTED] = True
    # ... or unmark the master key (CKR_ACTION_PROHIBITED 0x1B: the console's keys are not modifiable) ...
    with pytest.raises(pkcs11.PKCS11Error):
        target[A.WRAP_WITH_TRUSTED] = False
    assert target[A.WRAP_WITH_TRUSTED] is True
    with pytest.raises(pkcs11.PKCS11Error):  # ... or copy it unmarked
        target.copy({A.WRAP_WITH_TRUSTED: False, A.TOKEN: False})
    with pytest.raises(pkcs11.AttributeReadOnly):  # ... or make a trusted key of their own
        trusted_session.p11.create_object({A.CLASS: pkcs11.ObjectClass.SECRET_KEY, A.KEY_TYPE: KeyType.AES,
                                           A.VALUE: os.urandom(32), A.TOKEN: False, A.TRUSTED: True, A.WRAP: True})


def test_the_kek_the_so_made_trusted_wraps_it_and_never_lies_in_the_token_storage(trusted_session, token_pins,
                                                                                   softhsm_dir):
    key = trusted_session.generate("master", KeyAlgorithm.AES_256)
    kek = os.urandom(32)
    with Secret(kek, "kek") as secret:
        wkey = trusted_session.import_trusted_wrapping_key(secret, so_pin=token_pins.so, user_pin=token_pins.user)
    assert wkey._object[A.TRUSTED] is True and wkey._object[A.TOKEN] is False
    with pytest.raises(pkcs11.AttributeSensitive):
        wkey._object[A.VALUE]
    blob = trusted_session.wrap(wkey, key)  # the user is logged in again and the wrap is allowed
    assert len(aes_key_unwrap_with_padding(kek, blob)) == 32  # RFC 5649 under exactly that KEK
    stored = b"".join(p.read_bytes() for p in (softhsm_dir / "tokens").rglob("*") if p.is_file())
    assert kek not in stored  # a session object: not in the token directory (a public token object would be)
    assert trusted_session.list_keys()  # private objects are visible again: the user is back
    trusted_session.destroy_wrapping_key(wkey)


def test_a_wrong_so_pin_leaves_the_user_logged_in_and_nothing_made(trusted_session, token_pins):
    key = trusted_session.generate("master", KeyAlgorithm.AES_256)
    with Secret(os.urandom(32), "kek") as kek, Secret("wrong-so-pin-000", "so-pin") as wrong:
        with pytest.raises(PinIncorrect, match="refused the security officer's PIN"):
            trusted_session.import_trusted_wrapping_key(kek, so_pin=wrong, user_pin=token_pins.user)
    assert [k.label for k in trusted_session.list_keys()] == [key.label]  # the user session works on
    assert not list(trusted_session.p11.get_objects({A.TRUSTED: True}))


def test_without_trusted_wrapping_the_console_makes_keys_as_before(hsm_session):
    _require_wrap(hsm_session)
    key = hsm_session.generate("master", KeyAlgorithm.AES_256)
    assert _object(hsm_session, key)[A.WRAP_WITH_TRUSTED] is False  # and a plain KEK wraps it


def test_a_token_that_ignores_wrap_with_trusted_fails_the_generation_check(trusted_session, monkeypatch):
    from vault.errors import HsmCheckFailed
    from vault.hsm import generation

    monkeypatch.setattr(generation, "trusted_mark", lambda template, on: template)  # the token "drops" it
    with pytest.raises(HsmCheckFailed, match="WRAP_WITH_TRUSTED is not set"):
        trusted_session.generate("master", KeyAlgorithm.AES_256)
    assert trusted_session.list_keys() == []  # nothing left behind


def test_a_token_that_does_not_make_the_kek_trusted_is_refused(trusted_session, token_pins, monkeypatch):
    from vault.errors import HsmCheckFailed
    from vault.hsm import trusted

    real = trusted.trusted_wrapping_key
    monkeypatch.setattr(trusted, "trusted_wrapping_key", lambda kek: {**real(kek), A.TRUSTED: False})
    with Secret(os.urandom(32), "kek") as kek:
        with pytest.raises(HsmCheckFailed, match="did not make the KEK trusted"):
            trusted_session.import_trusted_wrapping_key(kek, so_pin=token_pins.so, user_pin=token_pins.user)
    assert not list(trusted_session.p11.get_objects({A.CLASS: pkcs11.ObjectClass.SECRET_KEY}))  # destroyed
