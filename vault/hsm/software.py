"""The software half of vault.hsm: pure ``cryptography``, no PKCS#11.

Everything here works without a token: verifying signatures, building SubjectPublicKeyInfo
from the attributes a token returns, fingerprints, and the break-glass offline unwrap of a
backup blob. The HSM code uses these helpers to re-check what the token produced.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

from vault.errors import SignatureInvalid, WrappedKeyInvalid
from vault.secret import Secret
from vault.types import KeyAlgorithm

#: DER of the named-curve OID for each curve algorithm: the CKA_EC_PARAMS value.
EC_PARAMS_DER: dict[KeyAlgorithm, bytes] = {
    KeyAlgorithm.EC_P256: bytes.fromhex("06082a8648ce3d030107"),  # 1.2.840.10045.3.1.7 secp256r1
    KeyAlgorithm.EC_P384: bytes.fromhex("06052b81040022"),  # 1.3.132.0.34 secp384r1
    KeyAlgorithm.ED25519: bytes.fromhex("06032b6570"),  # 1.3.101.112 id-Ed25519 (RFC 8410)
}
#: Other encodings of the same parameters a token may return (PKCS#11 3.0 allows a
#: PrintableString curve name for Edwards curves).
_EC_PARAMS_ALIASES: dict[bytes, KeyAlgorithm] = {
    b"\x13\x0cedwards25519": KeyAlgorithm.ED25519,
}
_CURVES: dict[KeyAlgorithm, ec.EllipticCurve] = {
    KeyAlgorithm.EC_P256: ec.SECP256R1(),
    KeyAlgorithm.EC_P384: ec.SECP384R1(),
}
#: Uncompressed point length (EC) or raw public key length (Ed25519).
_POINT_LEN = {KeyAlgorithm.EC_P256: 65, KeyAlgorithm.EC_P384: 97, KeyAlgorithm.ED25519: 32}
_ECDSA_HASH = {KeyAlgorithm.EC_P256: hashes.SHA256, KeyAlgorithm.EC_P384: hashes.SHA384}
_RSA_BITS = {KeyAlgorithm.RSA_3072: 3072, KeyAlgorithm.RSA_4096: 4096}

#: RSASSA-PSS as the architecture fixes it: SHA-256, MGF1-SHA-256, salt 32.
PSS_SALT_LENGTH = 32


def curve_algorithm(ec_params: bytes) -> KeyAlgorithm | None:
    """The algorithm whose CKA_EC_PARAMS is ``ec_params``, or None for another curve."""
    for algorithm, der in EC_PARAMS_DER.items():
        if der == ec_params:
            return algorithm
    return _EC_PARAMS_ALIASES.get(ec_params)


def ecdsa_hash(algorithm: KeyAlgorithm) -> hashes.HashAlgorithm:
    return _ECDSA_HASH[algorithm]()


def ec_point_raw(algorithm: KeyAlgorithm, value: bytes) -> bytes:
    """The raw point from a CKA_EC_POINT value.

    PKCS#11 says CKA_EC_POINT is a DER OCTET STRING (the practice token: ``04 41 04...``); some modules
    return the raw point. A raw point has exactly the expected length, which tells them apart.
    """
    want = _POINT_LEN[algorithm]
    if len(value) == want:
        return value
    if len(value) >= 2 and value[0] == 0x04:
        if value[1] < 0x80:
            header, length = 2, value[1]
        else:
            n = value[1] & 0x7F
            header, length = 2 + n, int.from_bytes(value[2 : 2 + n], "big")
        body = value[header:]
        if len(body) == length == want:
            return body
    raise ValueError(f"CKA_EC_POINT of {len(value)} bytes is not a {algorithm.value} point")


def ec_point_der(raw_point: bytes) -> bytes:
    """CKA_EC_POINT for a raw point: a DER OCTET STRING (points here are < 128 bytes)."""
    return b"\x04" + bytes([len(raw_point)]) + raw_point


def spki_from_rsa(modulus: int, public_exponent: int) -> bytes:
    numbers = rsa.RSAPublicNumbers(public_exponent, modulus)
    return numbers.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def spki_from_point(algorithm: KeyAlgorithm, ec_point: bytes) -> bytes:
    """SPKI DER for an EC or Ed25519 public key from its CKA_EC_POINT (DER or raw)."""
    raw = ec_point_raw(algorithm, ec_point)
    key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    if algorithm is KeyAlgorithm.ED25519:
        key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    else:
        key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[algorithm], raw)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_fingerprint(spki_der: bytes) -> str:
    """``sha256:<hex>`` of the SubjectPublicKeyInfo DER: the fingerprint of a key pair."""
    return "sha256:" + hashlib.sha256(spki_der).hexdigest()


def kcv(key_bytes: bytes) -> str:
    """``kcv:<6 hex>`` = AES-ECB(K, 0^16)[:3]: the key check value of an AES key."""
    encryptor = Cipher(algorithms.AES(key_bytes), modes.ECB()).encryptor()
    return kcv_from_check_value((encryptor.update(bytes(16)) + encryptor.finalize())[:3])


def kcv_from_check_value(check_value: bytes) -> str:
    return "kcv:" + check_value[:3].hex()


def spki_to_pem(spki_der: bytes) -> str:
    key = serialization.load_der_public_key(spki_der)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_key_algorithm(public_key: object) -> KeyAlgorithm | None:
    """The KeyAlgorithm of a ``cryptography`` public key object, None when unsupported."""
    if isinstance(public_key, rsa.RSAPublicKey):
        for algorithm, bits in _RSA_BITS.items():
            if public_key.key_size == bits:
                return algorithm
        return None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        for algorithm, curve in _CURVES.items():
            if public_key.curve.name == curve.name:
                return algorithm
        return None
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return KeyAlgorithm.ED25519
    return None


def verify_signature(public_pem: str | bytes, algorithm: KeyAlgorithm, data: bytes, signature: bytes) -> None:
    """Check a signature in software, in the formats ``HsmSession.sign`` produces.

    EC P-256/P-384: ECDSA over SHA-256/SHA-384, DER-encoded; RSA: RSASSA-PSS with SHA-256,
    MGF1-SHA-256 and a 32-byte salt; Ed25519: pure EdDSA. Raises
    :class:`vault.errors.SignatureInvalid` when the signature does not verify or the key is
    not of ``algorithm``.
    """
    if algorithm.is_secret_key:
        raise ValueError(f"{algorithm.value} keys do not sign")
    pem = public_pem.encode() if isinstance(public_pem, str) else public_pem
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise SignatureInvalid("The public key is not a PEM SubjectPublicKeyInfo.") from None
    if public_key_algorithm(key) is not algorithm:
        raise SignatureInvalid(f"The public key is not an {algorithm.value} key.")
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)
            key.verify(signature, data, pss, hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(ecdsa_hash(algorithm)))
        else:
            assert isinstance(key, ed25519.Ed25519PublicKey)
            key.verify(signature, data)
    except InvalidSignature:
        raise SignatureInvalid(f"The {algorithm.value} signature does not verify.") from None


def der_trim(data: bytes) -> bytes:
    """``data`` cut to the length its outer DER header announces.

    The practice token zero-pads key data to a multiple of 8 before RFC 5649 wrapping, so an
    unwrapped PKCS#8 carries 0..7 trailing zero bytes. Anything other than zeros after the
    DER, or a header that claims more than there is, is refused.
    """
    if len(data) < 2 or data[0] != 0x30:
        raise WrappedKeyInvalid("The unwrapped key is not a DER SEQUENCE (PKCS#8).")
    if data[1] < 0x80:
        end = 2 + data[1]
    else:
        n = data[1] & 0x7F
        if n == 0 or n > 4 or len(data) < 2 + n:
            raise WrappedKeyInvalid("The unwrapped key has an invalid DER length.")
        end = 2 + n + int.from_bytes(data[2 : 2 + n], "big")
    tail = data[end:]
    if end > len(data) or len(tail) > 7 or tail.strip(b"\0"):
        raise WrappedKeyInvalid("The unwrapped key is not PKCS#8 followed only by zero padding.")
    return data[:end]


def unwrap_offline(kek: bytes | Secret, blob: bytes, algorithm: KeyAlgorithm) -> bytes:
    """Break-glass unwrap of a backup blob with any RFC 5649 implementation (here: cryptography).

    Returns the raw 32-byte AES key, or for a key pair the exact PKCS#8 PrivateKeyInfo DER
    (the practice token's zero padding trimmed by the DER length), checked to load as a private key of
    ``algorithm``. Raises :class:`vault.errors.WrappedKeyInvalid` for a wrong KEK, a damaged
    blob or a key of another algorithm.
    """
    kek_bytes = kek.reveal() if isinstance(kek, Secret) else kek
    try:
        plain = aes_key_unwrap_with_padding(kek_bytes, blob)
    except (InvalidUnwrap, ValueError):
        raise WrappedKeyInvalid("The blob does not unwrap under this KEK (RFC 5649 integrity check failed).") from None
    if algorithm.is_secret_key:
        if len(plain) != 32:
            raise WrappedKeyInvalid(f"The unwrapped key is {len(plain)} bytes, not an AES-256 key.")
        return plain
    der = der_trim(plain)
    try:
        private_key = serialization.load_der_private_key(der, password=None)
    except ValueError:
        raise WrappedKeyInvalid("The unwrapped bytes are not a PKCS#8 private key.") from None
    if public_key_algorithm(private_key.public_key()) is not algorithm:
        raise WrappedKeyInvalid(f"The unwrapped key is not an {algorithm.value} key.")
    return der


def private_key_spki(pkcs8_der: bytes) -> bytes:
    """SPKI DER of the public half of a PKCS#8 private key (to compare fingerprints offline)."""
    private_key = serialization.load_der_private_key(pkcs8_der, password=None)
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
