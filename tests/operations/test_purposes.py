"""Per-key purpose, enforced by the token templates and by the engine; expired keys protect nothing new."""

from __future__ import annotations

import sqlite3

import pytest
from pkcs11 import Attribute as A
from pkcs11 import ObjectClass

from vault.errors import KeyExpired, PurposeMismatch
from vault.operations import generate_key, sign_payload
from vault.types import KeyAlgorithm, KeyPurpose


def _attrs(session, label, object_class, names):
    obj = session.p11.get_key(object_class=object_class, label=label)
    return obj.get_attributes(names)


def test_the_token_objects_carry_exactly_their_purpose(practice_vault, session):
    generate_key(practice_vault, session, "kek", KeyAlgorithm.AES_256, purpose=KeyPurpose.WRAP)
    generate_key(practice_vault, session, "dek", KeyAlgorithm.AES_256)  # default purpose: encrypt
    generate_key(practice_vault, session, "transport", KeyAlgorithm.RSA_3072, purpose=KeyPurpose.TRANSPORT,
                 backup=False, no_backup_reason="receives keys only")
    generate_key(practice_vault, session, "signer", KeyAlgorithm.EC_P256)
    names = [A.ENCRYPT, A.DECRYPT, A.WRAP, A.UNWRAP]
    assert _attrs(session, "kek", ObjectClass.SECRET_KEY, names) == {A.ENCRYPT: False, A.DECRYPT: False,
                                                                      A.WRAP: True, A.UNWRAP: True}
    assert _attrs(session, "dek", ObjectClass.SECRET_KEY, names) == {A.ENCRYPT: True, A.DECRYPT: True,
                                                                      A.WRAP: False, A.UNWRAP: False}
    assert _attrs(session, "transport", ObjectClass.PRIVATE_KEY, [A.SIGN, A.DECRYPT, A.UNWRAP]) == {
        A.SIGN: False, A.DECRYPT: False, A.UNWRAP: True}
    assert _attrs(session, "transport", ObjectClass.PUBLIC_KEY, [A.VERIFY, A.ENCRYPT, A.WRAP]) == {
        A.VERIFY: False, A.ENCRYPT: False, A.WRAP: True}
    assert _attrs(session, "signer", ObjectClass.PRIVATE_KEY, [A.SIGN, A.DECRYPT, A.UNWRAP]) == {
        A.SIGN: True, A.DECRYPT: False, A.UNWRAP: False}
    with pytest.raises(PurposeMismatch):
        generate_key(practice_vault, session, "odd", KeyAlgorithm.EC_P256, purpose=KeyPurpose.WRAP)


def test_the_engine_refuses_a_key_used_outside_its_purpose_or_after_its_cryptoperiod(practice_vault, session,
                                                                                      tmp_path):
    generate_key(practice_vault, session, "transport", KeyAlgorithm.RSA_3072, purpose=KeyPurpose.TRANSPORT,
                 backup=False, no_backup_reason="receives keys only")
    signer = generate_key(practice_vault, session, "signer", KeyAlgorithm.EC_P256)
    payload = tmp_path / "p"
    payload.write_bytes(b"data")
    with pytest.raises(PurposeMismatch):
        sign_payload(practice_vault, session, "transport", payload, tmp_path / "t.sig")
    raw = sqlite3.connect(practice_vault.store.path)
    with raw:
        raw.execute("UPDATE keys SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE id = ?", (signer.id,))
    raw.close()
    with pytest.raises(KeyExpired):
        sign_payload(practice_vault, session, "signer", payload, tmp_path / "s.sig")
    assert not (tmp_path / "t.sig").exists() and not (tmp_path / "s.sig").exists()


def test_a_restored_wrap_key_is_checked_by_its_check_value(practice_vault, session, quorum):
    """A key-wrapping key has no KCV after an unwrap (it cannot encrypt): the restore check gets it
    from a CBC wrap of a zero block, so another wrap key's blob under this key's record fails."""
    from vault.errors import HsmCheckFailed
    from vault.operations.backup import _import_kek, record_key

    first = generate_key(practice_vault, session, "kek-1", KeyAlgorithm.AES_256, purpose=KeyPurpose.WRAP)
    second = generate_key(practice_vault, session, "kek-2", KeyAlgorithm.AES_256, purpose=KeyPurpose.WRAP)
    with quorum.kek() as kek:  # as a backup imports it (made trusted by the SO where the profile says safe)
        wkey = _import_kek(session, kek, quorum)
    try:
        blob_1 = session.wrap(wkey, record_key(first))
        blob_2 = session.wrap(wkey, record_key(second))
        assert session.check_unwrap_many(wkey, [(record_key(first), blob_1, None)]) == 1
        with pytest.raises(HsmCheckFailed):
            session.check_unwrap_many(wkey, [(record_key(first), blob_2, None)])
    finally:
        session.destroy_wrapping_key(wkey)
