"""Custodian identity: enrollment, unlock, attestations (vault.identity)."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime, timezone

import pytest

from vault.errors import EnrollmentInvalid, PassphraseIncorrect, PassphraseTooShort, SignatureInvalid
from vault.identity import (
    MIN_PASSPHRASE_LENGTH,
    PASSPHRASE_REFUSED,
    Enrollment,
    KdfParams,
    attestation_statement,
    enroll,
    unlock,
    verify_attestation,
)
from vault.secret import Secret
from vault.types import Role

PASS = "correct horse battery staple"
HEAD = "ab" * 32
WHEN = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=timezone.utc)


def _pw(text: str = PASS) -> Secret:
    return Secret(text, "passphrase")


@pytest.fixture(scope="module")
def alice() -> Enrollment:
    return enroll("Alice", Role.CUSTODIAN, _pw(), kdf=KdfParams.fast_for_tests())


def _statement(**over) -> bytes:
    fields = dict(
        ceremony_id="c-2026-001",
        ceremony_name="generate-key",
        ledger_head=HEAD,
        custodian="Alice",
        role=Role.CUSTODIAN,
        agree=True,
        at=WHEN,
    )
    fields.update(over)
    return attestation_statement(**fields)


def test_enroll_unlock_sign_verify_round_trip(alice):
    signer = unlock(alice, _pw())
    statement = _statement()
    signature = signer.sign(statement)
    verify_attestation(alice.public_key_pem, statement, signature)
    assert signer.public_key_pem == alice.public_key_pem
    assert alice.fingerprint.startswith("sha256:")


def test_enrollment_json_round_trip_and_unlock_after_reload(alice):
    again = Enrollment.from_json(alice.to_json())
    assert again == alice
    unlock(again, _pw()).wipe()


def test_default_profile_is_production_strength():
    """The one test of the real (slow) profile: 64 MiB, 3 passes."""
    kdf = KdfParams.default()
    assert kdf.memory_cost == 64 * 1024 and kdf.iterations == 3 and kdf.is_production_strength
    e = enroll("Bob", Role.WITNESS, _pw(), kdf=kdf)
    assert unlock(e, _pw()).sign(b"x")
    assert not KdfParams.fast_for_tests().is_production_strength
    assert not KdfParams.practice().is_production_strength


@pytest.mark.parametrize("wrong", ["correct horse battery stapl", "Correct horse battery staple", "x" * 40])
def test_wrong_passphrase_is_refused_with_the_generic_message(alice, wrong):
    with pytest.raises(PassphraseIncorrect) as info:
        unlock(alice, _pw(wrong))
    assert info.value.message == PASSPHRASE_REFUSED


def _tampered(e: Enrollment, **changes) -> Enrollment:
    return dataclasses.replace(e, **changes)


def _flip(b64: str, at: int) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_tampered_blob_name_role_or_key_are_refused_with_the_same_message(alice):
    other = enroll("Mallory", Role.CUSTODIAN, _pw(), kdf=KdfParams.fast_for_tests())
    cases = [
        _tampered(alice, encrypted_key=_flip(alice.encrypted_key, 0)),  # nonce
        _tampered(alice, encrypted_key=_flip(alice.encrypted_key, 20)),  # ciphertext
        _tampered(alice, encrypted_key=_flip(alice.encrypted_key, -1)),  # tag
        _tampered(alice, encrypted_key="not base64!"),
        _tampered(alice, name="Alicia"),  # associated data binds the name ...
        _tampered(alice, role=Role.WITNESS),  # ... the role ...
        _tampered(alice, public_key_pem=other.public_key_pem),  # ... and the public key
        _tampered(alice, verifier="00" * 32),
        _tampered(alice, encrypted_key=other.encrypted_key),  # a blob moved between custodians
    ]
    for case in cases:
        with pytest.raises(PassphraseIncorrect) as info:
            unlock(case, _pw())
        assert info.value.message == PASSPHRASE_REFUSED


@pytest.mark.parametrize("short", ["", "1234567", "  \u00e9 "])
def test_short_passphrases_are_rejected_with_the_minimum(short):
    with pytest.raises(PassphraseTooShort) as info:
        enroll("Carol", Role.CUSTODIAN, _pw(short), kdf=KdfParams.fast_for_tests())
    assert str(MIN_PASSPHRASE_LENGTH) in info.value.message


def test_passphrase_is_normalised_to_nfc():
    composed, decomposed = "caf\u00e9 au lait", "cafe\u0301 au lait"
    e = enroll("Dora", Role.CUSTODIAN, _pw(composed), kdf=KdfParams.fast_for_tests())
    unlock(e, _pw(decomposed)).wipe()


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 65])
def test_bad_names_are_rejected(name):
    with pytest.raises(EnrollmentInvalid):
        enroll(name, Role.CUSTODIAN, _pw(), kdf=KdfParams.fast_for_tests())


@pytest.mark.parametrize(
    "change",
    [
        {"ceremony_id": "c-2026-002"},
        {"ceremony_name": "destroy"},
        {"ledger_head": "ac" + "ab" * 31},
        {"custodian": "Alicia"},
        {"role": Role.WITNESS},
        {"agree": False},
        {"at": datetime(2026, 3, 1, 12, 30, 6, tzinfo=timezone.utc)},
    ],
)
def test_attestation_signature_fails_on_any_changed_field(alice, change):
    signature = unlock(alice, _pw()).sign(_statement())
    with pytest.raises(SignatureInvalid):
        verify_attestation(alice.public_key_pem, _statement(**change), signature)


def test_attestation_statement_is_the_documented_text():
    assert _statement(agree=False) == (
        b"custodian-console attestation v1\n"
        b"ceremony-id: c-2026-001\n"
        b"ceremony-name: generate-key\n"
        b"ledger-head: " + HEAD.encode() + b"\n"
        b"custodian: Alice\n"
        b"role: custodian\n"
        b"decision: do-not-agree\n"
        b"time: 2026-03-01T12:30:05Z\n"
    )
    assert _statement(at="2026-03-01T12:30:05Z") == _statement()


@pytest.mark.parametrize(
    "bad",
    [{"ceremony_name": "x\nrole: witness"}, {"ledger_head": "zz"}, {"at": datetime(2026, 1, 1)}, {"custodian": ""}],
)
def test_attestation_statement_refuses_ambiguous_fields(bad):
    with pytest.raises(ValueError):
        _statement(**bad)


def test_signature_from_another_key_or_garbage_is_invalid(alice):
    other = enroll("Eve", Role.CUSTODIAN, _pw(), kdf=KdfParams.fast_for_tests())
    statement = _statement()
    signature = unlock(other, _pw()).sign(statement)
    with pytest.raises(SignatureInvalid):
        verify_attestation(alice.public_key_pem, statement, signature)
    with pytest.raises(SignatureInvalid):
        verify_attestation("not a key", statement, signature)


def test_secrets_are_not_in_repr_and_a_wiped_signer_cannot_sign(alice):
    signer = unlock(alice, _pw())
    assert PASS not in repr(signer) and "redacted" in repr(signer)
    signer.wipe()
    assert "wiped" in repr(signer)
    with pytest.raises(ValueError):
        signer.sign(b"x")
    assert PASS not in repr(alice)


def test_stored_enrollment_contains_no_passphrase_bytes():
    e = enroll("Frank", Role.ADMINISTRATOR, _pw(), kdf=KdfParams.fast_for_tests())
    stored = e.to_json()
    for needle in (PASS, PASS.encode().hex(), base64.b64encode(PASS.encode()).decode()):
        assert needle not in stored
    assert set(json.loads(stored)) == {"format", "name", "role", "public_key_pem", "verifier", "kdf", "encrypted_key"}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format="other"),
        lambda d: d.update(role="king"),
        lambda d: d["kdf"].update(memory_cost=10**9),
        lambda d: d["kdf"].update(salt="00"),
        lambda d: d.update(verifier="xyz"),
        lambda d: d.pop("encrypted_key"),
        lambda d: d.update(public_key_pem="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
    ],
)
def test_malformed_enrollment_records_are_refused(alice, mutate):
    d = json.loads(alice.to_json())
    mutate(d)
    with pytest.raises(EnrollmentInvalid):
        Enrollment.from_json(json.dumps(d))


def test_kdf_params_round_trip_through_dict_and_json_text(alice):
    assert KdfParams.from_dict(alice.kdf.to_dict()) == alice.kdf
    assert KdfParams.from_dict(json.dumps(alice.kdf.to_dict())) == alice.kdf
