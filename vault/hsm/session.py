"""A logged-in session on one token: keys, signatures, wrap/unwrap, the capability probe.

Lookups: SoftHSM searches linearly (about 13 µs per object per search), so nothing here
looks keys up one by one in a loop. ``list_keys``, ``wrap_many``/``wrap_with_public`` and
``unwrap_many``/``unwrap_all`` make one pass over the token's objects; single-key calls make
one search by (label, id), which returns both halves of a pair at once. The bulk wrap and
restore paths stream (see :mod:`vault.hsm.bulk`): their memory does not grow with the number
of keys beyond a compact index of handles.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding, aes_key_wrap_with_padding
from pkcs11 import MGF, KeyType, Mechanism, ObjectClass
from pkcs11 import Attribute as A

from vault.errors import (
    HsmCheckFailed,
    HsmError,
    KeyNotFound,
    KeyNotWrappable,
    LabelExists,
    LabelInvalid,
    MechanismUnsupported,
    SignatureInvalid,
    VaultError,
    WrappedKeyInvalid,
)
from vault.hsm import purposes, bulk, software, templates
from vault.hsm.errors import map_exception, translated
from vault.hsm.model import AlgorithmCapability, Capabilities, KeyObject, TokenInfo, WrapMechanism, WrappingKey
from vault.hsm.module import HSM_LOCK, hsm_call
from vault.secret import Secret
from vault.types import KeyAlgorithm, KeyPurpose

if TYPE_CHECKING:
    from vault.hsm.module import HsmModule

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
#: Bulk unwraps run a young-generation collection this often: python-pkcs11 builds a class for
#: every object it returns, and classes are only freed by the cycle collector.
_GC_EVERY = 64

_PROBE_ORDER = (
    KeyAlgorithm.AES_256,
    KeyAlgorithm.EC_P256,
    KeyAlgorithm.EC_P384,
    KeyAlgorithm.RSA_3072,
    KeyAlgorithm.ED25519,
)
# Known test values for the probe and the wrap self-test (public on purpose: they protect nothing).
_TEST_KEK = bytes(range(0x40, 0x60))
_TEST_KEY = bytes(range(0x00, 0x20))
_PROBE_MESSAGE = b"vault.hsm capability probe"
_UNWRAP_CHECK_MESSAGE = b"vault.hsm unwrap check"
_LABEL_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")

# (module path, manufacturer, model, firmware, mechanism) -> Capabilities. What a token model
# can do does not change while the process runs; probing costs an RSA-3072 key generation.
_PROBE_CACHE: dict[tuple[str, str, str, str, WrapMechanism], Capabilities] = {}

_PSS_PARAM = (Mechanism.SHA256, MGF.SHA256, software.PSS_SALT_LENGTH)


@dataclass
class _Group:
    """The objects of one key: (label, CKA_ID) -> secret key, or private + public key."""

    label: str
    key_id: bytes
    secret: tuple[Any, dict] | None = None
    private: tuple[Any, dict] | None = None
    public: tuple[Any, dict] | None = None

    def objects(self) -> list[Any]:
        return [pair[0] for pair in (self.secret, self.private, self.public) if pair is not None]


_CLASS_SLOT = {ObjectClass.SECRET_KEY: "secret", ObjectClass.PRIVATE_KEY: "private", ObjectClass.PUBLIC_KEY: "public"}


def _group(objects: Iterable[tuple[Any, dict]]) -> dict[tuple[str, bytes], _Group]:
    groups: dict[tuple[str, bytes], _Group] = {}
    for obj, attrs in objects:
        slot = _CLASS_SLOT.get(attrs.get(A.CLASS))
        if slot is None:
            continue
        ident = (attrs.get(A.LABEL, ""), attrs.get(A.ID, b""))
        group = groups.get(ident)
        if group is None:
            group = groups[ident] = _Group(*ident)
        setattr(group, slot, (obj, attrs))
    return groups


def _indexed(table: bulk.HandleTable, kind: int, key: KeyObject, key_id: bytes, token: TokenInfo) -> int | None:
    """The handle of ``key``'s secret/private (or public) object in a walk's index; None if absent."""
    handle = table.get(bulk.ident_hash(kind, key.label, key_id))
    if handle == bulk.HandleTable.DUPLICATE:
        part = "public key" if kind == bulk.PUBLIC_PART else "secret or private key"
        raise HsmCheckFailed(
            f"More than one {part} object is labelled '{key.label}' with id {key.key_id} on token {token.describe()}."
        )
    return handle


def _algorithm(attrs: dict) -> KeyAlgorithm | None:
    """The vault algorithm of an object from its attributes; None for anything else."""
    key_type = attrs.get(A.KEY_TYPE)
    if key_type == KeyType.AES:
        # SoftHSM leaves VALUE_LEN at 0 on unwrapped keys; only AES-256 is ever made here.
        return KeyAlgorithm.AES_256 if attrs.get(A.VALUE_LEN, 0) in (0, 32) else None
    if key_type == KeyType.RSA and A.MODULUS in attrs:
        bits = int.from_bytes(attrs[A.MODULUS], "big").bit_length()
        return {3072: KeyAlgorithm.RSA_3072, 4096: KeyAlgorithm.RSA_4096}.get(bits)
    if key_type in (KeyType.EC, KeyType.EC_EDWARDS) and A.EC_PARAMS in attrs:
        algorithm = software.curve_algorithm(attrs[A.EC_PARAMS])
        expected = KeyType.EC_EDWARDS if algorithm is KeyAlgorithm.ED25519 else KeyType.EC
        return algorithm if key_type == expected else None
    return None


def _spki(algorithm: KeyAlgorithm, attrs: dict) -> bytes | None:
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


def _public_attributes(algorithm: KeyAlgorithm, public_der: bytes) -> dict:
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


_CHECK_ATTRIBUTES = (
    A.KEY_TYPE,
    A.TOKEN,
    A.PRIVATE,
    A.SENSITIVE,
    A.EXTRACTABLE,
    A.NEVER_EXTRACTABLE,
    A.ALWAYS_SENSITIVE,
    A.LOCAL,
    A.VALUE_LEN,
    A.MODULUS,
    A.MODULUS_BITS,
    A.PUBLIC_EXPONENT,
    A.EC_PARAMS,
    A.EC_POINT,
)


def _check_generated(algorithm: KeyAlgorithm, objects: list[Any], *, store: bool, backup: bool) -> list[str]:
    """Post-generation checks (Let's Encrypt ceremony style): what the token made is what
    was asked for. Returns the problems found; empty means all good."""
    spec = templates.SPECS[algorithm]
    problems: list[str] = []
    secret_or_private = objects[-1]
    attrs = secret_or_private.get_attributes(list(_CHECK_ATTRIBUTES))
    expect = {
        A.KEY_TYPE: spec.key_type,
        A.TOKEN: store,
        A.PRIVATE: True,
        A.SENSITIVE: True,
        A.ALWAYS_SENSITIVE: True,
        A.EXTRACTABLE: backup,
        A.LOCAL: True,
    }
    if not backup:
        expect[A.NEVER_EXTRACTABLE] = True
    problems += [f"{a.name} is {attrs.get(a)!r}, expected {v!r}" for a, v in expect.items() if attrs.get(a) != v]
    if algorithm.is_secret_key:
        if attrs.get(A.VALUE_LEN) != 32:
            problems.append(f"AES key is {attrs.get(A.VALUE_LEN)} bytes, expected 32")
        return problems
    public = objects[0].get_attributes(list(_CHECK_ATTRIBUTES))
    if public.get(A.KEY_TYPE) != spec.key_type:
        problems.append("public key type differs from the private key's")
    if spec.key_type is KeyType.RSA:
        modulus = int.from_bytes(public.get(A.MODULUS, b""), "big")
        if modulus.bit_length() != spec.bits or public.get(A.MODULUS_BITS) != spec.bits:
            problems.append(f"RSA modulus is {modulus.bit_length()} bits, expected {spec.bits}")
        if int.from_bytes(public.get(A.PUBLIC_EXPONENT, b""), "big") != templates.RSA_PUBLIC_EXPONENT:
            problems.append("RSA public exponent is not 65537")
        if attrs.get(A.MODULUS) != public.get(A.MODULUS):
            problems.append("RSA private and public modulus differ")
    else:
        if public.get(A.EC_PARAMS) != spec.ec_params:
            problems.append(f"public key curve OID is not the {algorithm.value} OID")
        # SoftHSM names the curve of an Ed25519 private key "edwards25519" (PrintableString)
        if software.curve_algorithm(attrs.get(A.EC_PARAMS, b"")) is not algorithm:
            problems.append(f"private key curve is not {algorithm.value}")
        try:
            software.spki_from_point(algorithm, public.get(A.EC_POINT, b""))
        except ValueError:
            problems.append(f"public point is not a valid {algorithm.value} point")
    return problems


class HsmSession:
    """A read-write session logged in as the user on one token. Close it (or use ``with``):
    closing logs out (every session of this process on the token, as PKCS#11 does)."""

    def __init__(self, module: HsmModule, session: Any, token: TokenInfo, wrap_mechanism: WrapMechanism) -> None:
        self.token = token
        self.wrap_mechanism = wrap_mechanism
        self._module = module
        self._library = module._library
        self._session = session
        self._generation = module._library.generation
        self._closed = False
        self._wrapping_keys: set[int] = set()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<HsmSession {state} token={self.token.label!r} serial={self.token.serial}>"

    def __enter__(self) -> HsmSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_current(self) -> None:
        if self._closed or self._generation != self._library.generation:
            raise HsmError("The HSM session is closed.", next_step="Open a new session on the token.")

    def close(self) -> None:
        with HSM_LOCK:
            if self._closed:
                return
            self._closed = True
            self._module._forget(self)
            self._wrapping_keys.clear()
            if self._generation == self._library.generation:
                with translated("logout"):
                    self._session.close()  # C_Logout + C_CloseSession

    @property
    def closed(self) -> bool:
        return self._closed

    # --- small helpers (all called with HSM_LOCK held) ------------------------------------------
    def _walk(self, attributes: tuple[A, ...], template: dict | None = None) -> Iterator[tuple[Any, dict]]:
        """One pass: every matching object with the given attributes read."""
        for obj in self._session.get_objects(template or {}, batch_size=SEARCH_BATCH):
            yield obj, obj.get_attributes(attributes)

    def _find(self, key: KeyObject) -> _Group:
        """The objects of ``key`` (one search by label and CKA_ID). KeyNotFound if none."""
        template = {A.LABEL: key.label, A.ID: bytes.fromhex(key.key_id)}
        group = _group(self._walk(LIST_ATTRIBUTES, template)).get((key.label, bytes.fromhex(key.key_id)))
        if group is None:
            raise KeyNotFound(f"No key '{key.label}' (id {key.key_id}) on token {self.token.describe()}.")
        return group

    def _label_taken(self, label: str) -> bool:
        return any(True for _ in self._session.get_objects({A.LABEL: label}))

    def _aes_fingerprint(self, obj: Any, attrs: dict) -> str:
        check_value = attrs.get(A.CHECK_VALUE)
        if check_value:
            return software.kcv_from_check_value(check_value)
        # Unwrapped keys have an empty CKA_CHECK_VALUE on SoftHSM: compute AES-ECB(K, 0^16)
        # in the token; master AES keys carry CKA_ENCRYPT for exactly this (see templates).
        if not hasattr(obj, "encrypt"):
            return ""
        return software.kcv_from_check_value(obj.encrypt(bytes(16), mechanism=Mechanism.AES_ECB)[:3])

    def _key_object(self, group: _Group) -> KeyObject | None:
        if group.secret is not None:
            obj, attrs = group.secret
            algorithm = _algorithm(attrs)
            if algorithm is None:
                return None
            return KeyObject(
                label=group.label,
                key_id=group.key_id.hex(),
                algorithm=algorithm,
                fingerprint=self._aes_fingerprint(obj, attrs),
                extractable=bool(attrs.get(A.EXTRACTABLE, False)),
                has_private=True,
                has_public=False,
            )
        halves = [h for h in (group.public, group.private) if h is not None]
        algorithm = _algorithm(halves[0][1]) if halves else None
        if algorithm is None:
            return None
        spki = next((s for _, a in halves if (s := _spki(algorithm, a)) is not None), None)
        return KeyObject(
            label=group.label,
            key_id=group.key_id.hex(),
            algorithm=algorithm,
            fingerprint=software.spki_fingerprint(spki) if spki else "",
            extractable=bool(group.private and group.private[1].get(A.EXTRACTABLE, False)),
            has_private=group.private is not None,
            has_public=group.public is not None,
        )

    def _public_spki(self, key: KeyObject, group: _Group) -> bytes:
        for half in (group.public, group.private):
            if half is not None and (spki := _spki(key.algorithm, half[1])) is not None:
                return spki
        raise KeyNotFound(f"The public half of '{key.label}' is not on the token.")

    def _capabilities(self) -> Capabilities:
        return self.probe(self.wrap_mechanism)

    def _generate_objects(
        self, algorithm: KeyAlgorithm, label: str, key_id: bytes, *, store: bool, backup: bool, purpose=None
    ) -> list[Any]:
        """C_GenerateKey / C_GenerateKeyPair with the explicit templates. [secret] or [public, private]."""
        spec = templates.SPECS[algorithm]
        common = {"id": key_id, "label": label, "store": store, "capabilities": 0, "mechanism": spec.generate_mechanism}
        if algorithm.is_secret_key:
            template = templates.secret_key(label, key_id, store=store, backup=backup, purpose=purpose)
            return [self._session.generate_key(spec.key_type, spec.bits, template=template, **common)]
        public, private = self._session.generate_keypair(
            spec.key_type,
            spec.bits,
            public_template=templates.public_key(algorithm, label, key_id, store=store, purpose=purpose),
            private_template=templates.private_key(algorithm, label, key_id, store=store, backup=backup,
                                                   purpose=purpose),
            **common,
        )
        return [public, private]

    def _raw_sign(self, algorithm: KeyAlgorithm, private: Any, data: bytes) -> bytes:
        """The signature in the formats of docs/architecture.md (EC: DER)."""
        if not hasattr(private, "sign"):
            raise MechanismUnsupported("This private key is not allowed to sign (CKA_SIGN is false).")
        if algorithm in (KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384):
            # SoftHSM offers only raw CKM_ECDSA: hash here, sign the digest, DER-encode r||s.
            digest = hashlib.new(software.ecdsa_hash(algorithm).name, data).digest()
            raw = private.sign(digest, mechanism=Mechanism.ECDSA)
            half = len(raw) // 2
            return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
        if algorithm is KeyAlgorithm.ED25519:
            return bytes(private.sign(data, mechanism=Mechanism.EDDSA))
        return bytes(private.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS_PSS, mechanism_param=_PSS_PARAM))

    def _wkey_object(self, wkey: WrappingKey) -> Any:
        if wkey._session_id != id(self) or id(wkey._object) not in self._wrapping_keys:
            raise HsmError(
                "This wrapping key belongs to another session or was destroyed.",
                next_step="Import the KEK into this session again.",
            )
        return wkey._object

    # --- public API ---------------------------------------------------------------------------
    @hsm_call("random")
    def random(self, n: int) -> bytes:
        return bytes(self._session.generate_random(n * 8))

    @hsm_call("list_keys")
    def list_keys(self) -> list[KeyObject]:
        """Every vault key on the token (token objects), in one pass over its objects.

        Objects that are not AES-256, EC P-256/P-384, RSA-3072/4096 or Ed25519 keys are
        skipped. Pairs are joined by (label, CKA_ID).
        """
        groups = _group(self._walk(LIST_ATTRIBUTES, {A.TOKEN: True}))
        keys = (self._key_object(g) for g in groups.values())
        return sorted((k for k in keys if k is not None), key=lambda k: (k.label, k.key_id))

    @hsm_call("get_key")
    def get_key(self, label: str) -> KeyObject:
        groups = _group(self._walk(LIST_ATTRIBUTES, {A.LABEL: label}))
        keys = [k for g in groups.values() if (k := self._key_object(g)) is not None]
        if not keys:
            raise KeyNotFound(f"No key labelled '{label}' on token {self.token.describe()}.")
        if len(keys) > 1:
            raise HsmCheckFailed(f"{len(keys)} keys are labelled '{label}' on token {self.token.describe()}.")
        return keys[0]

    @hsm_call("generate")
    def generate(self, label: str, algorithm: KeyAlgorithm, *, backup: bool = True, purpose=None) -> KeyObject:
        """Generate a master key as a token object (see vault.hsm.templates for every attribute).

        backup=True: sensitive and extractable, so that it can be wrapped under the backup KEK;
        refused with KeyNotWrappable before anything is created when the probe says this token
        cannot wrap and unwrap the algorithm (Ed25519 on SoftHSM 2.6). backup=False: never
        extractable. CKA_ID is 16 bytes from the HSM RNG. LabelExists if any object already
        has the label. After generation the key's parameters are checked; on a failed check
        the new objects are destroyed and HsmCheckFailed is raised.
        """
        if not isinstance(label, str) or not _LABEL_RE.match(label):
            raise LabelInvalid(f"The key label {label!r} is not 1 to 128 printable characters.")
        if backup:
            self._capabilities().require_backup(algorithm)
        if self._label_taken(label):
            raise LabelExists(f"The label '{label}' is already used on token {self.token.describe()}.")
        key_id = bytes(self._session.generate_random(128))
        objects = self._generate_objects(algorithm, label, key_id, store=True, backup=backup, purpose=purpose)
        try:
            problems = _check_generated(algorithm, objects, store=True, backup=backup)
            problems += purposes.check(algorithm.is_secret_key, objects, purpose)
            if problems:
                raise HsmCheckFailed(f"The new {algorithm.value} key failed its checks: {'; '.join(problems)}.")
            group = _group((o, o.get_attributes(LIST_ATTRIBUTES)) for o in objects)[(label, key_id)]
            key = self._key_object(group)
            if key is None:
                raise HsmCheckFailed(f"The new key is not recognisable as {algorithm.value}.")
            return key
        except BaseException:
            self._destroy_quietly(objects)
            raise

    def _destroy_quietly(self, objects: Iterable[Any]) -> None:
        for obj in objects:
            try:
                obj.destroy()
            except pkcs11.PKCS11Error:
                pass

    @hsm_call("export_public_key")
    def public_key_pem(self, key: KeyObject) -> str:
        """The public key as PEM SubjectPublicKeyInfo (key pairs only)."""
        if key.algorithm.is_secret_key:
            raise ValueError("an AES key has no public key")
        return software.spki_to_pem(self._public_spki(key, self._find(key)))

    @hsm_call("sign")
    def sign(self, key: KeyObject, data: bytes) -> bytes:
        """Sign ``data``; the signature is verified in software before it is returned."""
        if key.algorithm.is_secret_key:
            raise MechanismUnsupported(f"'{key.label}' is an AES key; only key pairs sign.")
        group = self._find(key)
        if group.private is None:
            raise KeyNotFound(f"The private half of '{key.label}' is not on the token.")
        pem = software.spki_to_pem(self._public_spki(key, group))
        signature = self._raw_sign(key.algorithm, group.private[0], data)
        try:
            software.verify_signature(pem, key.algorithm, data, signature)
        except SignatureInvalid:
            raise HsmCheckFailed(f"The token's {key.algorithm.value} signature did not verify in software.") from None
        return signature

    @hsm_call("import_kek")
    def import_wrapping_key(self, kek: Secret) -> WrappingKey:
        """Import the backup KEK as a session object that can only wrap and unwrap."""
        raw = kek.reveal()
        if len(raw) not in (16, 24, 32):
            raise ValueError("a KEK is an AES key of 16, 24 or 32 bytes")
        obj = self._session.create_object(templates.wrapping_key(raw))
        kcv = software.kcv(raw)
        check_value = obj[A.CHECK_VALUE]
        if check_value and software.kcv_from_check_value(check_value) != kcv:
            obj.destroy()
            raise HsmCheckFailed("The token's check value of the imported KEK differs from the software one.")
        self._wrapping_keys.add(id(obj))
        return WrappingKey(kcv=kcv, _object=obj, _session_id=id(self))

    @hsm_call("destroy_kek")
    def destroy_wrapping_key(self, wkey: WrappingKey) -> None:
        obj = self._wkey_object(wkey)
        obj.destroy()
        self._wrapping_keys.discard(id(obj))

    def _wrap_group(self, kek: Any, key: KeyObject, group: _Group) -> bytes:
        if not key.extractable:
            raise KeyNotWrappable(f"'{key.label}' was generated without backup; it can never be wrapped.")
        target = group.secret or group.private
        if target is None:
            raise KeyNotFound(f"The secret part of '{key.label}' is not on the token.")
        with translated("wrap"):
            return bytes(kek.wrap_key(target[0], mechanism=Mechanism(self.wrap_mechanism.value)))

    @hsm_call("wrap")
    def wrap(self, wkey: WrappingKey, key: KeyObject) -> bytes:
        """The RFC 5649 blob of ``key`` under the KEK (SoftHSM zero-pads private keys first;
        :func:`vault.hsm.software.unwrap_offline` trims that)."""
        kek = self._wkey_object(wkey)
        self._capabilities().require_backup(key.algorithm)
        return self._wrap_group(kek, key, self._find(key))

    @hsm_call("wrap")
    def wrap_many(self, wkey: WrappingKey, keys: Iterable[KeyObject]) -> Iterator[tuple[KeyObject, bytes]]:
        """Wrap ``keys`` with one pass over the token's objects; see :meth:`wrap_with_public`."""
        return ((key, blob) for key, blob, _ in self._wrap_stream(wkey, keys, public=False))

    @hsm_call("wrap")
    def wrap_with_public(
        self, wkey: WrappingKey, keys: Iterable[KeyObject]
    ) -> Iterator[tuple[KeyObject, bytes, bytes | None]]:
        """(key, blob, SPKI DER of a pair's public half or None) for every key, in the order of ``keys``.

        One pass over the token's objects (reading class, label and CKA_ID only) builds a
        compact index (:class:`vault.hsm.bulk.HandleTable`, at most 32 bytes per object); then
        ``keys``, which may be a generator, is consumed lazily: each key is wrapped (and a
        pair's public value read) when the caller asks for it, so nothing here grows with the
        number of keys but the index. Wrapping changes nothing on the token: a caller that
        stops half-way leaves nothing to undo. KeyNotFound for a key that is not on the token;
        HsmCheckFailed when two objects claim the same key.
        """
        return self._wrap_stream(wkey, keys, public=True)

    def _raw(self) -> bulk.RawSession:
        return bulk.RawSession(self._library.dll, self._session.handle)

    def _wrap_stream(
        self, wkey: WrappingKey, keys: Iterable[KeyObject], *, public: bool
    ) -> Iterator[tuple[KeyObject, bytes, bytes | None]]:
        self._wkey_object(wkey)
        capabilities = self._capabilities()
        raw = self._raw()
        table = bulk.index_keys(raw, {A.TOKEN: True})
        return self._wrap_generator(wkey, keys, raw, table, capabilities, public)

    def _wrap_generator(
        self, wkey: WrappingKey, keys: Iterable[KeyObject], raw: bulk.RawSession, table: bulk.HandleTable,
        capabilities: Capabilities, public: bool,
    ) -> Iterator[tuple[KeyObject, bytes, bytes | None]]:  # fmt: skip
        mechanism = self.wrap_mechanism.value
        readers: dict[bool, bulk.AttributeReader] = {}  # RSA or not -> reader of the public value
        for key in keys:
            with HSM_LOCK:  # per key, never across a yield
                self._check_current()
                kek = self._wkey_object(wkey)
                with translated("wrap"):
                    capabilities.require_backup(key.algorithm)
                    if not key.extractable:
                        raise KeyNotWrappable(f"'{key.label}' was generated without backup; it can never be wrapped.")
                    key_id = bytes.fromhex(key.key_id)
                    target = _indexed(table, bulk.SECRET_PART, key, key_id, self.token)
                    if target is None:
                        raise KeyNotFound(f"No key '{key.label}' (id {key.key_id}) on token {self.token.describe()}.")
                    blob = raw.wrap(kek.handle, target, mechanism)
                    spki = None
                    if public and key.algorithm.is_key_pair:
                        spki = self._indexed_spki(raw, readers, table, key, key_id, target)
            yield key, blob, spki

    def _indexed_spki(
        self, raw: bulk.RawSession, readers: dict[bool, bulk.AttributeReader], table: bulk.HandleTable,
        key: KeyObject, key_id: bytes, private: int | None,
    ) -> bytes:  # fmt: skip
        """SPKI DER of a pair from its public object (or, for RSA, its private one)."""
        is_rsa = key.algorithm in (KeyAlgorithm.RSA_3072, KeyAlgorithm.RSA_4096)
        spec = bulk.RSA_PUBLIC_ATTRIBUTES if is_rsa else bulk.EC_PUBLIC_ATTRIBUTES
        reader = readers.get(is_rsa) or readers.setdefault(is_rsa, raw.reader(spec))
        for handle in (_indexed(table, bulk.PUBLIC_PART, key, key_id, self.token), private):
            if handle is None:
                continue
            attrs = {a: v for (a, _), v in zip(spec, reader.read(handle)) if v is not None}
            if (spki := _spki(key.algorithm, attrs)) is not None:
                return spki
        raise KeyNotFound(f"The public half of '{key.label}' is not on the token.")

    @hsm_call("unwrap")
    def unwrap(
        self, wkey: WrappingKey, blob: bytes, key: KeyObject, *, public_der: bytes | None, store: bool = True
    ) -> KeyObject:
        """Restore ``key`` from its blob with the same label and CKA_ID.

        Pairs need ``public_der`` (the SPKI DER from the backup): the public half is
        re-created from it. The result is checked before it is returned: AES by its KCV,
        pairs by the SPKI fingerprint and a signature of the unwrapped private key that must
        verify under ``public_der``; on a failed check the new objects are destroyed.
        ``store=False`` makes session objects (drills that leave nothing behind).
        """
        kek = self._wkey_object(wkey)
        self._capabilities().require_backup(key.algorithm)
        if store and self._label_taken(key.label):
            raise LabelExists(f"The label '{key.label}' is already used on token {self.token.describe()}.")
        return self._unwrap_one(kek, blob, key, public_der, store)[0]

    @hsm_call("unwrap")
    def unwrap_many(
        self, wkey: WrappingKey, items: Iterable[tuple[KeyObject, bytes, bytes | None]], *, store: bool = True
    ) -> list[KeyObject]:
        """Restore several keys: ``items`` are (key, blob, public_der); see :meth:`unwrap_all`.
        Returns the restored keys (one small record per key: for restores of any size use
        :meth:`unwrap_all`)."""
        restored: list[KeyObject] = []
        self._unwrap_stream(wkey, items, store, restored.append)
        return restored

    @hsm_call("unwrap")
    def unwrap_all(
        self, wkey: WrappingKey, items: Iterable[tuple[KeyObject, bytes, bytes | None]], *, store: bool = True
    ) -> "RestoredObjects":
        """Restore every (key, blob, public_der) of ``items`` (any iterable, read once), all or nothing.

        Each key is unwrapped and checked as :meth:`unwrap` does. Labels: one pass over the
        token before anything is created indexes the labels present (a compact hash table);
        a key whose label is already on the token (store=True), or repeats an earlier item's,
        raises LabelExists. If anything fails, every object this call created is destroyed
        again by handle (no search) and the error is raised. The result remembers the handles
        of the objects made (8 bytes each) so that the caller can undo the whole restore with
        :meth:`RestoredObjects.undo` if its own bookkeeping fails afterwards.
        """
        return self._unwrap_stream(wkey, items, store, None)

    def _unwrap_stream(
        self, wkey: WrappingKey, items: Iterable[tuple[KeyObject, bytes, bytes | None]], store: bool,
        on_restored: Callable[[KeyObject], None] | None,
    ) -> "RestoredObjects":  # fmt: skip
        kek = self._wkey_object(wkey)
        capabilities = self._capabilities()
        taken = bulk.index_labels(self._raw()) if store else None
        made = bulk.HandleTable()
        restored = RestoredObjects(self)
        try:
            for key, blob, public_der in items:
                h = bulk.ident_hash(bulk.LABEL_ONLY, key.label)
                # A hash hit is confirmed by a search for the label (rare: only on a real clash).
                if h in made and self._label_taken(key.label):
                    raise LabelExists(f"The keys to restore repeat the label '{key.label}'.")
                if taken is not None and h in taken and self._label_taken(key.label):
                    raise LabelExists(f"The label '{key.label}' is already used on token {self.token.describe()}.")
                capabilities.require_backup(key.algorithm)
                restored_key, objects = self._unwrap_one(kek, blob, key, public_der, store)
                restored._add(objects)
                del objects  # see check_unwrap_many
                made.put(h, 1)
                if on_restored is not None:
                    on_restored(restored_key)
                if restored.count % _GC_EVERY == 0:
                    gc.collect(1)  # python-pkcs11 makes a class per object: reclaim them as we go
        except BaseException:
            restored.undo()
            raise
        return restored

    @hsm_call("unwrap")
    def check_unwrap_many(self, wkey: WrappingKey, items: Iterable[tuple[KeyObject, bytes, bytes | None]]) -> int:
        """Test-restore every (key, blob, public_der) as session objects with the checks of
        :meth:`unwrap` (KCV / fingerprint and a signature), destroying each copy by handle
        at once. Raises on the first blob that fails; nothing is left behind. Returns the
        number of keys checked. ``items`` is read once, one item at a time. For drills and
        backup verification."""
        kek = self._wkey_object(wkey)
        capabilities = self._capabilities()
        checked = 0
        for key, blob, public_der in items:
            capabilities.require_backup(key.algorithm)
            _, objects = self._unwrap_one(kek, blob, key, public_der, store=False)
            self._destroy_quietly(objects)
            del objects  # unreferenced before the collection below, so not promoted to the old generation
            checked += 1
            if checked % _GC_EVERY == 0:
                gc.collect(1)
        return checked

    @hsm_call("export_public_key")
    def public_keys_pem(self, keys: Iterable[KeyObject]) -> dict[str, str]:
        """label -> PEM SubjectPublicKeyInfo for the key pairs among ``keys``, from one pass
        over the token's public keys. KeyNotFound if a pair's public half is missing."""
        table = bulk.index_keys(raw := self._raw(), {A.CLASS: ObjectClass.PUBLIC_KEY})
        readers: dict[bool, bulk.AttributeReader] = {}
        result = {}
        for key in keys:
            if key.algorithm.is_key_pair:
                spki = self._indexed_spki(raw, readers, table, key, bytes.fromhex(key.key_id), None)
                result[key.label] = software.spki_to_pem(spki)
        return result

    def _unwrap_one(
        self, kek: Any, blob: bytes, key: KeyObject, public_der: bytes | None, store: bool
    ) -> tuple[KeyObject, list[Any]]:
        """Unwrap and check one key; returns it and the objects made (to destroy by handle)."""
        key_id = bytes.fromhex(key.key_id)
        mechanism = Mechanism(self.wrap_mechanism.value)
        spec = templates.SPECS[key.algorithm]
        if key.algorithm.is_secret_key:
            template = templates.unwrapped_secret_key(key.label, key_id, store=store, extractable=key.extractable,
                                                      purpose=key.purpose)
            with translated("unwrap"):
                obj = kek.unwrap_key(
                    ObjectClass.SECRET_KEY, spec.key_type, blob, id=key_id, label=key.label,
                    mechanism=mechanism, store=store, capabilities=0, template=template,
                )  # fmt: skip
            created = [obj]
        else:
            if public_der is None:
                raise ValueError("restoring a key pair needs the public key DER from the backup")
            public_attrs = _public_attributes(key.algorithm, public_der)
            if software.spki_fingerprint(public_der) != key.fingerprint:
                raise WrappedKeyInvalid(f"The public key in the backup does not match the fingerprint of '{key.label}'.")
            template = templates.unwrapped_private_key(
                key.algorithm, key.label, key_id, store=store, extractable=key.extractable
            )
            with translated("unwrap"):
                obj = kek.unwrap_key(
                    ObjectClass.PRIVATE_KEY, spec.key_type, blob, id=key_id, label=key.label,
                    mechanism=mechanism, store=store, capabilities=0, template=template,
                )  # fmt: skip
            created = [obj]
        try:
            # The unwrap template traps (SENSITIVE defaults to False after C_UnwrapKey): check
            # that the token applied what was asked.
            got = obj.get_attributes([A.SENSITIVE, A.EXTRACTABLE, A.PRIVATE, A.TOKEN])
            want = {A.SENSITIVE: True, A.EXTRACTABLE: key.extractable, A.PRIVATE: True, A.TOKEN: store}
            if got != want:
                raise HsmCheckFailed(f"The restored '{key.label}' has other attributes than requested.")
            if key.algorithm.is_secret_key:
                fingerprint = self._aes_fingerprint(obj, {})
                if not fingerprint and key.purpose is KeyPurpose.WRAP and key.extractable:
                    # A key-wrapping key cannot encrypt, so no KCV: AES key wrap is deterministic,
                    # so wrapping the restored key again must give the very blob it came from.
                    if bytes(kek.wrap_key(obj, mechanism=mechanism)) == bytes(blob):
                        fingerprint = key.fingerprint
                if fingerprint != key.fingerprint:
                    raise HsmCheckFailed(f"The restored '{key.label}' has KCV {fingerprint}, expected {key.fingerprint}.")
                return KeyObject(key.label, key.key_id, key.algorithm, fingerprint, key.extractable, True, False,
                                 key.purpose), created
            assert public_der is not None
            signature = self._raw_sign(key.algorithm, obj, _UNWRAP_CHECK_MESSAGE)
            try:
                software.verify_signature(
                    software.spki_to_pem(public_der), key.algorithm, _UNWRAP_CHECK_MESSAGE, signature
                )
            except SignatureInvalid:
                raise HsmCheckFailed(
                    f"The restored private key of '{key.label}' does not match its public key."
                ) from None
            public_template = templates.restored_public_key(
                key.algorithm, key.label, key_id, store=store, key_attributes=public_attrs
            )
            created.append(self._session.create_object(public_template))
            return KeyObject(key.label, key.key_id, key.algorithm, key.fingerprint, key.extractable, True, True), created
        except BaseException:
            self._destroy_quietly(created)
            raise

    @hsm_call("destroy")
    def destroy(self, key: KeyObject) -> None:
        """Destroy every object of ``key`` (both halves of a pair) and confirm with a fresh
        search that nothing with its label and CKA_ID is left."""
        group = self._find(key)
        for obj in group.objects():
            obj.destroy()
        template = {A.LABEL: key.label, A.ID: bytes.fromhex(key.key_id)}
        left = sum(1 for _ in self._session.get_objects(template))
        if left:
            raise HsmCheckFailed(f"{left} objects of '{key.label}' are still on the token after destruction.")

    # --- capability probe -----------------------------------------------------------------------
    @hsm_call("probe")
    def probe(self, wrap_mechanism: WrapMechanism = WrapMechanism.AES_KEY_WRAP_PAD, *, refresh: bool = False) -> Capabilities:
        """What this token can do, found by trying it with session objects (nothing is left
        on the token). Cached per module, token model and firmware, and wrap mechanism.

        The wrap mechanism is self-tested first: a known test key is wrapped under a known
        test KEK in the token and the blob is unwrapped offline with ``cryptography``'s RFC
        5649 ``aes_key_unwrap_with_padding``; a mechanism that fails this wraps nothing.
        """
        cache_key = (
            self._module.module_path, self.token.manufacturer, self.token.model, self.token.firmware, wrap_mechanism,
        )  # fmt: skip
        if not refresh and cache_key in _PROBE_CACHE:
            return _PROBE_CACHE[cache_key]
        created: list[Any] = []
        try:
            kek = self._session.create_object(templates.wrapping_key(_TEST_KEK))
            created.append(kek)
            error = self._self_test(kek, wrap_mechanism, created)
            results = {
                algorithm: self._probe_algorithm(algorithm, None if error else kek, wrap_mechanism, created)
                for algorithm in _PROBE_ORDER
            }
            results[KeyAlgorithm.RSA_4096] = self._probe_rsa_4096(results[KeyAlgorithm.RSA_3072])
        finally:
            self._destroy_quietly(reversed(created))
        capabilities = Capabilities(
            wrap_mechanism=wrap_mechanism,
            self_test_ok=error is None,
            self_test_error=error,
            algorithms=tuple(results[a] for a in KeyAlgorithm),
            token_model=f"{self.token.manufacturer} {self.token.model} {self.token.firmware}",
        )
        _PROBE_CACHE[cache_key] = capabilities
        return capabilities

    def _self_test(self, kek: Any, wrap_mechanism: WrapMechanism, created: list[Any]) -> str | None:
        """None if ``wrap_mechanism`` produces RFC 5649 blobs here, else what went wrong."""
        test_key = self._session.create_object(
            {
                A.CLASS: ObjectClass.SECRET_KEY,  # a symmetric key
                A.KEY_TYPE: KeyType.AES,  # AES-256 test key of known value
                A.VALUE: _TEST_KEY,  # the known value
                A.TOKEN: False,  # session object: never on disk
                A.PRIVATE: True,  # invisible to other sessions
                A.SENSITIVE: True,  # as a real master key
                A.EXTRACTABLE: True,  # as a backed-up master key: wrappable
                A.ENCRYPT: False,  # used for nothing but this test
                A.DECRYPT: False,
                A.WRAP: False,
                A.UNWRAP: False,
            }
        )
        created.append(test_key)
        try:
            blob = kek.wrap_key(test_key, mechanism=Mechanism(wrap_mechanism.value))
        except pkcs11.MechanismInvalid:
            return f"the token does not offer {wrap_mechanism.label}"
        except pkcs11.PKCS11Error as exc:
            return f"wrapping the test key failed ({map_exception(exc, 'wrap').message})"
        try:
            plain = aes_key_unwrap_with_padding(_TEST_KEK, bytes(blob))
        except (InvalidUnwrap, ValueError):
            return "the token's blob of the test key is not RFC 5649 (aes_key_unwrap_with_padding rejects it)"
        if plain != _TEST_KEY:
            return "the token's blob of the test key unwraps to a different key"
        return None

    def _probe_algorithm(
        self, algorithm: KeyAlgorithm, kek: Any | None, wrap_mechanism: WrapMechanism, created: list[Any]
    ) -> AlgorithmCapability:
        notes: list[str] = []
        found = {"generate": False, "sign": False, "wrap": False, "unwrap": False}

        def failed(step: str, exc: BaseException) -> None:
            reason = exc.message if isinstance(exc, VaultError) else map_exception(exc, step).message
            notes.append(f"{step}: {reason}")

        try:
            objects = self._generate_objects(algorithm, "vault-probe", b"vault-probe", store=False, backup=True)
        except pkcs11.PKCS11Error as exc:
            failed("generate", exc)
            return AlgorithmCapability(algorithm, **found, note="; ".join(notes))
        created.extend(objects)
        found["generate"] = True
        target = objects[-1]
        spki = None
        if algorithm.is_key_pair:
            spki = _spki(algorithm, objects[0].get_attributes(list(LIST_ATTRIBUTES)))
            try:
                signature = self._raw_sign(algorithm, target, _PROBE_MESSAGE)
                software.verify_signature(software.spki_to_pem(spki), algorithm, _PROBE_MESSAGE, signature)
                found["sign"] = True
            except (pkcs11.PKCS11Error, VaultError) as exc:
                failed("sign", exc)
        if kek is None:
            notes.append("wrap/unwrap: not tried, the wrap mechanism failed its self-test")
            return AlgorithmCapability(algorithm, **found, note="; ".join(notes))
        mechanism = Mechanism(wrap_mechanism.value)
        blob = None
        try:
            blob = bytes(kek.wrap_key(target, mechanism=mechanism))
            plain = software.unwrap_offline(_TEST_KEK, blob, algorithm)
            if algorithm.is_secret_key:
                ok = software.kcv(plain) == software.kcv_from_check_value(target[A.CHECK_VALUE])
            else:
                ok = software.private_key_spki(plain) == spki
            if not ok:
                raise HsmCheckFailed("the blob unwrapped offline to another key")
            found["wrap"] = True
        except (pkcs11.PKCS11Error, VaultError) as exc:
            failed("wrap", exc)
            blob = None
        # Unwrap: the token's own blob if it made one, else one made offline from a software
        # key (this is how a key backed up elsewhere would arrive).
        expected_kcv, expected_spki = None, spki
        if blob is None:
            blob, expected_kcv, expected_spki = _offline_blob(algorithm)
        elif algorithm.is_secret_key:
            expected_kcv = software.kcv_from_check_value(target[A.CHECK_VALUE])
        try:
            spec = templates.SPECS[algorithm]
            if algorithm.is_secret_key:
                template = templates.unwrapped_secret_key("vault-probe", b"vault-probe", store=False, extractable=False)
                object_class = ObjectClass.SECRET_KEY
            else:
                template = templates.unwrapped_private_key(
                    algorithm, "vault-probe", b"vault-probe", store=False, extractable=False
                )
                object_class = ObjectClass.PRIVATE_KEY
            with translated("unwrap"):
                obj = kek.unwrap_key(
                    object_class, spec.key_type, blob, mechanism=mechanism, store=False, capabilities=0,
                    template=template,
                )  # fmt: skip
            created.append(obj)
            if algorithm.is_secret_key:
                ok = self._aes_fingerprint(obj, {}) == expected_kcv
            else:
                signature = self._raw_sign(algorithm, obj, _PROBE_MESSAGE)
                assert expected_spki is not None
                software.verify_signature(software.spki_to_pem(expected_spki), algorithm, _PROBE_MESSAGE, signature)
                ok = True
            if not ok:
                raise HsmCheckFailed("the unwrapped key differs from the original")
            found["unwrap"] = True
        except (pkcs11.PKCS11Error, VaultError) as exc:
            failed("unwrap", exc)
        return AlgorithmCapability(algorithm, **found, note="; ".join(notes))

    def _probe_rsa_4096(self, rsa_3072: AlgorithmCapability) -> AlgorithmCapability:
        # Decided, not generated: an RSA-4096 key pair takes seconds on SoftHSM (and longer on
        # small HSMs), too slow for a probe run at every ceremony start. Generation is decided
        # from CKM_RSA_PKCS_KEY_PAIR_GEN's key-size range, signing from CKM_SHA256_RSA_PKCS_PSS's;
        # wrap and unwrap of an RSA private key do not depend on the modulus size, so they
        # follow the RSA-3072 probe, which did generate, sign, wrap and unwrap.
        slot = self._session.token.slot
        mechanisms = slot.get_mechanisms()

        def covers(mechanism: Mechanism) -> bool:
            if mechanism not in mechanisms:
                return False
            info = slot.get_mechanism_info(mechanism)
            return (info.min_key_length or 0) <= 4096 <= (info.max_key_length or 0)

        generate = covers(Mechanism.RSA_PKCS_KEY_PAIR_GEN)
        sign = generate and rsa_3072.sign and covers(Mechanism.SHA256_RSA_PKCS_PSS)
        return AlgorithmCapability(
            KeyAlgorithm.RSA_4096,
            generate=generate,
            sign=sign,
            wrap=generate and rsa_3072.wrap,
            unwrap=generate and rsa_3072.unwrap,
            note="decided from mechanism key-size ranges and the RSA-3072 probe (not generated: too slow)",
        )


class RestoredObjects:
    """The objects one bulk unwrap created, as handles (8 bytes each), to undo it by handle."""

    def __init__(self, session: HsmSession) -> None:
        self._session = session
        self._handles = array("Q")
        self.count = 0  # keys restored

    @property
    def nbytes(self) -> int:
        return self._handles.buffer_info()[1] * self._handles.itemsize

    def _add(self, objects: list[Any]) -> None:
        self._handles.extend(int(o.handle) for o in objects)
        self.count += 1

    def undo(self) -> int:
        """Destroy every object made (newest first, no search); returns how many the token
        refused (``custodian reconcile`` lists those)."""
        refused = 0
        with HSM_LOCK:
            if self._session.closed:
                return len(self._handles)
            raw = self._session._raw()
            for handle in reversed(self._handles):
                try:
                    raw.destroy(handle)
                except (pkcs11.PKCS11Error, VaultError):
                    refused += 1
        self._handles = array("Q")
        self.count = 0
        return refused


def _offline_blob(algorithm: KeyAlgorithm) -> tuple[bytes, str | None, bytes | None]:
    """A blob made in software under the test KEK: (blob, expected KCV, expected SPKI)."""
    if algorithm.is_secret_key:
        key = os.urandom(32)
        return aes_key_wrap_with_padding(_TEST_KEK, key), software.kcv(key), None
    private: Any
    if algorithm is KeyAlgorithm.ED25519:
        private = ed25519.Ed25519PrivateKey.generate()
    elif algorithm in (KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384):
        curve = ec.SECP256R1() if algorithm is KeyAlgorithm.EC_P256 else ec.SECP384R1()
        private = ec.generate_private_key(curve)
    else:
        private = rsa.generate_private_key(65537, templates.SPECS[algorithm].bits or 3072)
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return aes_key_wrap_with_padding(_TEST_KEK, pkcs8), None, spki
