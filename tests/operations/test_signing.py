"""Signing a payload with a master key: verified in software before it is written once."""

from __future__ import annotations

import pytest

from vault.errors import KeyNotActive, MechanismUnsupported, OutputExists, SignatureInvalid
from vault.operations import change_key_state, generate_key, sign_payload, verify_payload
from vault.types import KeyAlgorithm, KeyState

from .conftest import CEREMONY, last_event


@pytest.fixture
def payload(tmp_path):
    path = tmp_path / "tx.bin"
    path.write_bytes(b"pay 10 BTC to the cold wallet")
    return path


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.ED25519])
def test_sign_writes_a_verified_signature(practice_vault, session, payload, tmp_path, algorithm):
    backup = algorithm is not KeyAlgorithm.ED25519
    generate_key(practice_vault, session, "signer", algorithm, backup=backup,
                 no_backup_reason=None if backup else "not wrappable")  # fmt: skip
    out = tmp_path / "tx.sig"
    result = sign_payload(practice_vault, session, "signer", payload, out, ceremony_id=CEREMONY)
    verify_payload(result.public_key_pem, payload, out, algorithm=algorithm)
    verify_payload(result.public_key_pem, payload.read_bytes(), out.read_bytes())  # algorithm from the key
    with pytest.raises(SignatureInvalid):
        verify_payload(result.public_key_pem, b"pay 10 BTC to someone else", out)
    assert last_event(practice_vault, "payload.signed").details["signature_sha256"] == result.signature_sha256


def test_sign_never_overwrites_and_needs_an_active_pair(practice_vault, session, payload, tmp_path):
    generate_key(practice_vault, session, "signer", KeyAlgorithm.EC_P256)
    generate_key(practice_vault, session, "aes", KeyAlgorithm.AES_256)
    out = tmp_path / "taken.sig"
    out.write_bytes(b"keep me")
    head = practice_vault.ledger.head()
    with pytest.raises(OutputExists):
        sign_payload(practice_vault, session, "signer", payload, out)
    assert out.read_bytes() == b"keep me"
    with pytest.raises(MechanismUnsupported):
        sign_payload(practice_vault, session, "aes", payload, tmp_path / "a.sig")
    change_key_state(practice_vault, "signer", KeyState.SUSPENDED, reason="investigation")
    head = practice_vault.ledger.head()
    with pytest.raises(KeyNotActive):
        sign_payload(practice_vault, session, "signer", payload, tmp_path / "b.sig")
    assert not (tmp_path / "a.sig").exists() and not (tmp_path / "b.sig").exists()
    assert practice_vault.ledger.head() == head
