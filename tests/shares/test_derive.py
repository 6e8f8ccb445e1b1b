"""Derivations from the quorum secret are stable (golden vectors), distinct, and documented."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from vault.errors import HsmCheckFailed
from vault.secret import Secret
from vault.shares import (
    check_value,
    derive_backup_kek,
    derive_bundle_mac_key,
    derive_so_pin,
    derive_user_pin,
    new_quorum_secret,
)
from vault.shares import derive

QS = Secret(bytes(range(32)), "quorum-secret")
ROOT = Path(__file__).resolve().parents[2]

#: Also in docs/derivations.md; cross-checked with `openssl kdf ... HKDF` when written.
GOLDEN = {
    "user-pin": "1a62a9143dc3e88aa60febf3bad55ce8",
    "so-pin": "b6d5af92b15d4a3a98aa1e091461d979",
    "backup-kek": "da1fb591f2891a1febdbaf0f00baa51a949c12ab7d6114393e569e17277fad70",
    "bundle-mac-key": "25c3b91420cf35e628919cf4e2d0367b87f0e6f3a2ef839423d795a43a11b6f2",
    "check-value": "4404a4be6a53dcbc821c60e7e4de7283",
    "backup-metadata-key": "61cce4f73f9bddf683c78216124ec88823c9549a21585e6619cea9784d64595f",
}


def rfc5869(ikm: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 written out from RFC 5869, independent of the code under test."""
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out, i = out + block, i + 1
    return out[:length]


def test_golden_vectors_for_a_fixed_quorum_secret():
    assert derive_user_pin(QS).reveal_text() == GOLDEN["user-pin"]
    assert derive_so_pin(QS).reveal_text() == GOLDEN["so-pin"]
    assert derive_backup_kek(QS).reveal().hex() == GOLDEN["backup-kek"]
    assert derive_bundle_mac_key(QS).reveal().hex() == GOLDEN["bundle-mac-key"]
    assert check_value(QS) == GOLDEN["check-value"]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_each_derivation_is_rfc5869_hkdf_under_its_documented_label(name):
    expected = GOLDEN[name]
    assert rfc5869(QS.reveal(), f"custodian-console/v1/{name}".encode(), len(expected) // 2).hex() == expected


def test_labels_are_distinct_and_documented_in_code_and_docs():
    labels = derive.DERIVATION_LABELS + (derive.LABEL_QUORUM_SECRET, derive.LABEL_SHARE_COMMITMENT)
    assert len(set(labels)) == len(labels)
    assert len(set(GOLDEN.values())) == len(GOLDEN)
    docs = (ROOT / "docs" / "derivations.md").read_text()
    for label in labels:
        assert label.decode() in derive.__doc__
        assert label.decode() in docs
    for value in GOLDEN.values():
        assert value in docs


def test_derived_secrets_are_redacted_secrets():
    for secret in (derive_user_pin(QS), derive_so_pin(QS), derive_backup_kek(QS), derive_bundle_mac_key(QS)):
        assert isinstance(secret, Secret)
        assert "redacted" in repr(secret)
    assert len(derive_user_pin(QS).reveal_text()) == 32  # within SoftHSM's 4..255 PIN length


def test_quorum_secret_mixes_hsm_and_host_randomness():
    qs = new_quorum_secret(bytes(range(32)), host_random=lambda n: b"\xff" * n)
    assert qs.reveal().hex() == "c9fe075dcd7d44b9633a8d8026b02e22081641ffc2b52d91c89c5142caae042a"
    assert qs.reveal() == rfc5869(bytes(range(32)) + b"\xff" * 32, b"custodian-console/v1/quorum-secret", 32)
    assert new_quorum_secret(bytes(range(32))) != new_quorum_secret(bytes(range(32)))  # host CSPRNG
    assert qs.kind == "quorum-secret" and "redacted" in repr(qs)


def test_short_or_stuck_hsm_randomness_is_refused():
    with pytest.raises(ValueError, match="31 bytes"):
        new_quorum_secret(bytes(range(31)))
    with pytest.raises(HsmCheckFailed, match="same byte repeated"):
        new_quorum_secret(b"\x00" * 32)


def test_derivations_refuse_anything_but_a_32_byte_quorum_secret():
    with pytest.raises(ValueError):
        check_value(Secret(b"short"))


# --- PINs fitted to a token's ulMaxPinLen (docs/derivations.md "PINs on tokens with short PINs") ----------
def _recipe(raw: bytes, max_len: int) -> str:
    """The documented recipe written out independently: N = int(raw, big-endian), the max_len least
    significant base62 digits (alphabet 0-9 A-Z a-z), most significant first."""
    n = int.from_bytes(raw, "big") % 62**max_len
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[(n // 62**i) % 62] for i in reversed(range(max_len)))


@pytest.mark.parametrize("max_len", [None, 32, 64, 255])
def test_a_token_taking_32_characters_keeps_the_hex_pins(max_len):
    assert derive_user_pin(QS, max_len).reveal_text() == GOLDEN["user-pin"]
    assert derive_so_pin(QS, max_len).reveal_text() == GOLDEN["so-pin"]
    assert derive.pin_bits(max_len) == 128


@pytest.mark.parametrize("max_len, bits", [(8, 47), (4, 23), (16, 95), (21, 125), (31, 128)])
def test_a_short_token_gets_the_same_hkdf_bytes_encoded_to_fit(max_len, bits):
    raw_user, raw_so = bytes.fromhex(GOLDEN["user-pin"]), bytes.fromhex(GOLDEN["so-pin"])
    user, so = derive_user_pin(QS, max_len).reveal_text(), derive_so_pin(QS, max_len).reveal_text()
    assert (user, so) == (_recipe(raw_user, max_len), _recipe(raw_so, max_len))
    assert len(user) == len(so) == max_len and user.isalnum() and user != so
    assert derive.pin_bits(max_len) == bits  # what the ceremony and the ledger name as kept


def test_fitted_pin_golden_vector():
    # QS = bytes(range(32)), 8 characters: what an opencryptoki swtok (4..8) gets
    assert derive_user_pin(QS, 8).reveal_text() == _recipe(bytes.fromhex(GOLDEN["user-pin"]), 8) == "c2VJGZKq"
    assert derive.encode_pin(bytes(16), 8) == "00000000"
    assert derive.encode_pin(b"\xff" * 16, 3) == _recipe(b"\xff" * 16, 3)
    with pytest.raises(ValueError):
        derive.encode_pin(bytes(15), 8)
