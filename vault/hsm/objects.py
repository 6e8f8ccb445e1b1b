"""Key objects on a token as the vault sees them: grouping, recognising, fingerprinting.

A vault key is one secret-key object, or a private and a public object that share a label
and a CKA_ID. This module turns PKCS#11 objects (and the attributes read from them) into
:class:`vault.hsm.model.KeyObject` values and back into the objects of one key. It makes no
change to the token. Every function runs with :data:`vault.hsm.module.HSM_LOCK` held (the
callers in :class:`vault.hsm.session.HsmSession` hold it).

Lookups: a module may search linearly (the practice token costs about 13 µs per object per
search), so callers never look keys up one by one in a loop: :func:`walk` makes one pass,
:func:`find` one search by (label, CKA_ID), which returns both halves of a pair at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pkcs11 import KeyType, Mechanism, ObjectClass
from pkcs11 import Attribute as A

from vault.errors import HsmCheckFailed, KeyNotFound, WrappedKeyInvalid
from vault.hsm import bulk, software
from vault.hsm.model import KeyObject, TokenInfo
from vault.types import KeyAlgorithm

#: Attributes read for every object by list_keys (one C_GetAttributeValue round per object;
#: the module marks the ones an object does not have as unavailable).
LIST_ATTRIBUTES: tuple[A, ...] = (
    A.CLASS,
    A.KEY_TYPE,
    A.TOKEN,
    A.LABEL,
    A.ID,
    A.EXTRACTABLE,
    A.CHECK_VALUE,
    A.VALUE_LEN,
    A.MODULUS,
    A.PUBLIC_EXPONENT,
    A.EC_PARAMS,
    A.EC_POINT,
)
#: Objects per C_FindObjects call when walking a whole token.
SEARCH_BATCH = 256

_CLASS_SLOT = {ObjectClass.SECRET_KEY: "secret", ObjectClass.PRIVATE_KEY: "private", ObjectClass.PUBLIC_KEY: "public"}


@dataclass
class KeyGroup:
    """The objects of one key: (label, CKA_ID) -> secret key, or private + public key."""

    label: str
    key_id: bytes
    secret: tuple[Any, dict] | None = None
    private: tuple[Any, dict] | None = None
    public: tuple[Any, dict] | None = None

    def objects(self) -> list[Any]:
        return [pair[0] for pair in (self.secret, self.private, self.public) if pair is not None]


def group(objects: Iterable[tuple[Any, dict]]) -> dict[tuple[str, bytes], KeyGroup]:
    """(object, attributes) pairs grouped by (label, CKA_ID); objects that are no key are skipped."""
    groups: dict[tuple[str, bytes], KeyGroup] = {}
    for obj, attrs in objects:
        slot = _CLASS_SLOT.get(attrs.get(A.CLASS))
        if slot is None:
            continue
        ident = (attrs.get(A.LABEL, ""), attrs.get(A.ID, b""))
        found = groups.get(ident)
        if found is None:
            found = groups[ident] = KeyGroup(*ident)
        setattr(found, slot, (obj, attrs))
    return groups


def walk(p11_session: Any, attributes: tuple[A, ...], template: dict | None = None) -> Iterator[tuple[Any, dict]]:
    """One pass: every matching object with the given attributes read."""
    for obj in p11_session.get_objects(template or {}, batch_size=SEARCH_BATCH):
        yield obj, obj.get_attributes(attributes)


def find(p11_session: Any, key: KeyObject, token: TokenInfo) -> KeyGroup:
    """The objects of ``key`` (one search by label and CKA_ID). KeyNotFound if none."""
    key_id = bytes.fromhex(key.key_id)
    found = group(walk(p11_session, LIST_ATTRIBUTES, {A.LABEL: key.label, A.ID: key_id})).get((key.label, key_id))
    if found is None:
        raise KeyNotFound(f"No key '{key.label}' (id {key.key_id}) on token {token.describe()}.")
    return found


def label_taken(p11_session: Any, label: str) -> bool:
    return any(True for _ in p11_session.get_objects({A.LABEL: label}))


def destroy_quietly(objects: Iterable[Any]) -> None:
    """Best-effort clean-up after a failure: the first error is the one the caller raises."""
    for obj in objects:
        try:
            obj.destroy()
        except pkcs11.PKCS11Error:
            pass


def indexed(table: bulk.HandleTable, kind: int, key: KeyObject, key_id: bytes, token: TokenInfo) -> int | None:
    """The handle of ``key``'s secret/private (or public) object in a walk's index; None if absent."""
    handle = table.get(bulk.ident_hash(kind, key.label, key_id))
    if handle == bulk.HandleTable.DUPLICATE:
        part = "public key" if kind == bulk.PUBLIC_PART else "secret or private key"
        raise HsmCheckFailed(
            f"More than one {part} object is labelled '{key.label}' with id {key.key_id} on token {token.describe()}."
        )
    return handle


def algorithm_of(attrs: dict) -> KeyAlgorithm | None:
    """The vault algorithm of an object from its attributes; None for anything else."""
    key_type = attrs.get(A.KEY_TYPE)
    if key_type == KeyType.AES:
        # Some tokens leave VALUE_LEN at 0 on unwrapped keys; only AES-256 is ever made here.
        return KeyAlgorithm.AES_256 if attrs.get(A.VALUE_LEN, 0) in (0, 32) else None
    if key_type == KeyType.RSA and A.MODULUS in attrs:
        bits = int.from_bytes(attrs[A.MODULUS], "big").bit_length()
        return {3072: KeyAlgorithm.RSA_3072, 4096: KeyAlgorithm.RSA_4096}.get(bits)
    if key_type in (KeyType.EC, KeyType.EC_EDWARDS) and A.EC_PARAMS in attrs:
        algorithm = software.curve_algorithm(attrs[A.EC_PARAMS])
        expected = KeyType.EC_EDWARDS if algorithm is KeyAlgorithm.ED25519 else KeyType.EC
        return algorithm if key_type == expected else None
    return None


def spki_of(algorithm: KeyAlgorithm, attrs: dict) -> bytes | None:
    """SPKI DER from a public (or RSA private) key's attributes; None if they lack the value."""
    if algorithm in (KeyAlgorithm.RSA_3072, KeyAlgorithm.RSA_4096):
        if A.MODULUS in attrs and A.PUBLIC_EXPONENT in attrs:
            n = int.from_bytes(attrs[A.MODULUS], "big")
            e = int.from_bytes(attrs[A.PUBLIC_EXPONENT], "big")
            return software.spki_from_rsa(n, e)
        return None
    if attrs.get(A.EC_POINT):
        return software.spki_from_point(algorithm, attrs[A.EC_POINT])
    return None


def public_spki(key: KeyObject, found: KeyGroup) -> bytes:
    """SPKI DER of a pair, from its public half (or, for RSA, its private half)."""
    for half in (found.public, found.private):
        if half is not None and (spki := spki_of(key.algorithm, half[1])) is not None:
            return spki
    raise KeyNotFound(f"The public half of '{key.label}' is not on the token.")


def public_attributes(algorithm: KeyAlgorithm, public_der: bytes) -> dict:
    """CKA_MODULUS/PUBLIC_EXPONENT or CKA_EC_PARAMS/EC_POINT from an SPKI DER."""
    key = serialization.load_der_public_key(public_der)
    if software.public_key_algorithm(key) is not algorithm:
        raise WrappedKeyInvalid(f"The public key in the backup is not an {algorithm.value} key.")
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {
            A.MODULUS: numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big"),
            A.PUBLIC_EXPONENT: numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"),
        }
    if isinstance(key, ec.EllipticCurvePublicKey):
        raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    else:
        assert isinstance(key, ed25519.Ed25519PublicKey)
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {A.EC_PARAMS: software.EC_PARAMS_DER[algorithm], A.EC_POINT: software.ec_point_der(raw)}


def check_value(obj: Any) -> bytes | None:
    """CKA_CHECK_VALUE, or None where the token has none (Cryptoki 2.20 modules such as
    opencryptoki 3.8 answer AttributeTypeInvalid; unwrapped keys may have an empty one)."""
    try:
        value = obj.get_attributes([A.CHECK_VALUE]).get(A.CHECK_VALUE)
    except pkcs11.AttributeTypeInvalid:  # asked alone, the module refuses the whole call
        return None
    return bytes(value) if value else None


def aes_fingerprint(obj: Any, attrs: dict) -> str:
    """``kcv:`` + AES-ECB(K, 0^16)[:3] from CKA_CHECK_VALUE, else computed with the key itself."""
    check_value = attrs.get(A.CHECK_VALUE)
    if check_value:
        return software.kcv_from_check_value(check_value)
    # Unwrapped keys can have an empty CKA_CHECK_VALUE: compute AES-ECB(K, 0^16) in the
    # token; master AES keys carry CKA_ENCRYPT for exactly this (see templates).
    if not hasattr(obj, "encrypt"):
        return ""
    return software.kcv_from_check_value(obj.encrypt(bytes(16), mechanism=Mechanism.AES_ECB)[:3])


def key_object(found: KeyGroup) -> KeyObject | None:
    """The vault's view of a group; None when it is not a key the vault makes."""
    if found.secret is not None:
        obj, attrs = found.secret
        algorithm = algorithm_of(attrs)
        if algorithm is None:
            return None
        return KeyObject(
            label=found.label,
            key_id=found.key_id.hex(),
            algorithm=algorithm,
            fingerprint=aes_fingerprint(obj, attrs),
            extractable=bool(attrs.get(A.EXTRACTABLE, False)),
            has_private=True,
            has_public=False,
        )
    halves = [h for h in (found.public, found.private) if h is not None]
    algorithm = algorithm_of(halves[0][1]) if halves else None
    if algorithm is None:
        return None
    spki = next((s for _, a in halves if (s := spki_of(algorithm, a)) is not None), None)
    return KeyObject(
        label=found.label,
        key_id=found.key_id.hex(),
        algorithm=algorithm,
        fingerprint=software.spki_fingerprint(spki) if spki else "",
        extractable=bool(found.private and found.private[1].get(A.EXTRACTABLE, False)),
        has_private=found.private is not None,
        has_public=found.public is not None,
    )
