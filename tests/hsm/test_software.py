"""vault.hsm.software: the pure-cryptography half (no token involved)."""

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from vault import errors as ve
from vault.hsm import unwrap_offline, verify_signature
from vault.hsm.software import der_trim, ec_point_raw, kcv, spki_from_point
from vault.secret import Secret
from vault.types import KeyAlgorithm

KEK = bytes(range(32))


def pem(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_kcv_is_aes_ecb_of_zero_block():
    # FIPS-197 appendix C.3 key; AES-256(K, 0^16) starts with dc95c078...
    assert kcv(bytes(32)) == "kcv:dc95c0"


def test_der_trim_removes_softhsm_zero_padding_only():
    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert der_trim(der + bytes(5)) == der
    assert der_trim(der) == der
    with pytest.raises(ve.WrappedKeyInvalid):
        der_trim(der + b"\x00\x01")
    with pytest.raises(ve.WrappedKeyInvalid):
        der_trim(der + bytes(8))
    with pytest.raises(ve.WrappedKeyInvalid):
        der_trim(der[:-3])


def test_unwrap_offline_trims_and_checks_the_algorithm():
    private = ec.generate_private_key(ec.SECP384R1())
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    padded = der + bytes(-len(der) % 8)  # what SoftHSM 2.6 wraps
    blob = aes_key_wrap_with_padding(KEK, padded)
    assert unwrap_offline(Secret(KEK), blob, KeyAlgorithm.EC_P384) == der
    with pytest.raises(ve.WrappedKeyInvalid, match="not an ec-p256"):
        unwrap_offline(KEK, blob, KeyAlgorithm.EC_P256)
    with pytest.raises(ve.WrappedKeyInvalid, match="AES-256"):
        unwrap_offline(KEK, blob, KeyAlgorithm.AES_256)
    with pytest.raises(ve.WrappedKeyInvalid):
        unwrap_offline(bytes(32), blob, KeyAlgorithm.EC_P384)


def test_verify_signature_formats_and_refusals():
    ed = ed25519.Ed25519PrivateKey.generate()
    verify_signature(pem(ed.public_key()), KeyAlgorithm.ED25519, b"m", ed.sign(b"m"))
    with pytest.raises(ve.SignatureInvalid):
        verify_signature(pem(ed.public_key()), KeyAlgorithm.ED25519, b"m", bytes(64))
    p256 = ec.generate_private_key(ec.SECP256R1())
    signature = p256.sign(b"m", ec.ECDSA(hashes.SHA256()))
    verify_signature(pem(p256.public_key()), KeyAlgorithm.EC_P256, b"m", signature)
    with pytest.raises(ve.SignatureInvalid, match="not an ec-p384"):
        verify_signature(pem(p256.public_key()), KeyAlgorithm.EC_P384, b"m", signature)
    with pytest.raises(ve.SignatureInvalid, match="PEM"):
        verify_signature("not a key", KeyAlgorithm.EC_P256, b"m", signature)
    with pytest.raises(ValueError):
        verify_signature(pem(p256.public_key()), KeyAlgorithm.AES_256, b"m", signature)


def test_ec_point_raw_and_der_forms():
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert ec_point_raw(KeyAlgorithm.EC_P256, point) == point
    assert ec_point_raw(KeyAlgorithm.EC_P256, b"\x04\x41" + point) == point
    assert spki_from_point(KeyAlgorithm.EC_P256, point) == spki_from_point(KeyAlgorithm.EC_P256, b"\x04\x41" + point)
    with pytest.raises(ValueError):
        ec_point_raw(KeyAlgorithm.EC_P256, point[:-1])
