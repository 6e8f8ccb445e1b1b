"""The backup KEK in a session, and wrapping master keys under it (RFC 5649 blobs).

The KEK is imported as a session object that can only wrap and unwrap
(:func:`vault.hsm.templates.wrapping_key`); a :class:`~vault.hsm.model.WrappingKey` is bound
to the session that imported it. Wrapping changes nothing on the token. The bulk form makes
one pass over the token's objects (a compact handle index, :mod:`vault.hsm.bulk`) and then
wraps one key per item asked for, so its memory does not grow with the key count.
Callers hold :data:`vault.hsm.module.HSM_LOCK` (the stream takes it per key itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from pkcs11 import Attribute as A
from pkcs11 import Mechanism, ObjectClass

from vault.errors import HsmCheckFailed, HsmError, KeyNotFound, KeyNotWrappable
from vault.hsm import bulk, objects, software, templates
from vault.hsm.errors import translated
from vault.hsm.module import HSM_LOCK
from vault.hsm.model import Capabilities, KeyObject, WrappingKey
from vault.secret import Secret
from vault.types import KeyAlgorithm

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession


def import_wrapping_key(session: HsmSession, kek: Secret) -> WrappingKey:
    """See :meth:`vault.hsm.session.HsmSession.import_wrapping_key`."""
    raw = kek.reveal()
    if len(raw) not in (16, 24, 32):
        raise ValueError("a KEK is an AES key of 16, 24 or 32 bytes")
    obj = session.p11.create_object(templates.wrapping_key(raw))
    kcv = software.kcv(raw)
    # Where the token computes CKA_CHECK_VALUE it must agree with the software KCV. Where it
    # has none (Cryptoki 2.20) the import is not confirmed here; the wrap self-test and the
    # per-blob checks of backup and restore (offline unwrap, KCV/SPKI) still catch a wrong KEK.
    check_value = objects.check_value(obj)
    if check_value and software.kcv_from_check_value(check_value) != kcv:
        obj.destroy()
        raise HsmCheckFailed("The token's check value of the imported KEK differs from the software one.")
    session._wrapping_keys.add(id(obj))
    return WrappingKey(kcv=kcv, _object=obj, _session_id=id(session))


def kek_object(session: HsmSession, wkey: WrappingKey) -> Any:
    """The KEK's PKCS#11 object, if ``wkey`` belongs to ``session`` and is still there."""
    if wkey._session_id != id(session) or id(wkey._object) not in session._wrapping_keys:
        raise HsmError(
            "This wrapping key belongs to another session or was destroyed.",
            next_step="Import the KEK into this session again.",
        )
    return wkey._object


def destroy_wrapping_key(session: HsmSession, wkey: WrappingKey) -> None:
    obj = kek_object(session, wkey)
    obj.destroy()
    session._wrapping_keys.discard(id(obj))


def _require_extractable(key: KeyObject) -> None:
    if not key.extractable:
        raise KeyNotWrappable(f"'{key.label}' was generated without backup; it can never be wrapped.")


def wrap(session: HsmSession, wkey: WrappingKey, key: KeyObject) -> bytes:
    """See :meth:`vault.hsm.session.HsmSession.wrap`."""
    kek = kek_object(session, wkey)
    session.capabilities().require_backup(key.algorithm)
    found = objects.find(session.p11, key, session.token)
    _require_extractable(key)
    target = found.secret or found.private
    if target is None:
        raise KeyNotFound(f"The secret part of '{key.label}' is not on the token.")
    with translated("wrap"):
        return bytes(kek.wrap_key(target[0], mechanism=Mechanism(session.wrap_mechanism.value)))


def wrap_stream(
    session: HsmSession, wkey: WrappingKey, keys: Iterable[KeyObject], *, public: bool
) -> Iterator[tuple[KeyObject, bytes, bytes | None]]:
    """Index the token now (one pass), then wrap lazily: see ``HsmSession.wrap_with_public``."""
    kek_object(session, wkey)
    capabilities = session.capabilities()
    raw = session.raw()
    table = bulk.index_keys(raw, {A.TOKEN: True})
    return _wrap_generator(session, wkey, keys, raw, table, capabilities, public)


def _wrap_generator(
    session: HsmSession, wkey: WrappingKey, keys: Iterable[KeyObject], raw: bulk.RawSession,
    table: bulk.HandleTable, capabilities: Capabilities, public: bool,
) -> Iterator[tuple[KeyObject, bytes, bytes | None]]:  # fmt: skip
    mechanism = session.wrap_mechanism.value
    token = session.token
    readers: dict[bool, bulk.AttributeReader] = {}  # RSA or not -> reader of the public value
    for key in keys:
        with HSM_LOCK:  # per key, never across a yield
            session._check_current()
            kek = kek_object(session, wkey)
            with translated("wrap"):
                capabilities.require_backup(key.algorithm)
                _require_extractable(key)
                key_id = bytes.fromhex(key.key_id)
                target = objects.indexed(table, bulk.SECRET_PART, key, key_id, token)
                if target is None:
                    raise KeyNotFound(f"No key '{key.label}' (id {key.key_id}) on token {token.describe()}.")
                blob = raw.wrap(kek.handle, target, mechanism)
                spki = None
                if public and key.algorithm.is_key_pair:
                    spki = indexed_spki(session, raw, readers, table, key, key_id, target)
        yield key, blob, spki


def indexed_spki(
    session: HsmSession, raw: bulk.RawSession, readers: dict[bool, bulk.AttributeReader], table: bulk.HandleTable,
    key: KeyObject, key_id: bytes, private: int | None,
) -> bytes:  # fmt: skip
    """SPKI DER of a pair from its public object (or, for RSA, its private one)."""
    is_rsa = key.algorithm in (KeyAlgorithm.RSA_3072, KeyAlgorithm.RSA_4096)
    spec = bulk.RSA_PUBLIC_ATTRIBUTES if is_rsa else bulk.EC_PUBLIC_ATTRIBUTES
    reader = readers.get(is_rsa) or readers.setdefault(is_rsa, raw.reader(spec))
    for handle in (objects.indexed(table, bulk.PUBLIC_PART, key, key_id, session.token), private):
        if handle is None:
            continue
        attrs = {a: v for (a, _), v in zip(spec, reader.read(handle)) if v is not None}
        if (spki := objects.spki_of(key.algorithm, attrs)) is not None:
            return spki
    raise KeyNotFound(f"The public half of '{key.label}' is not on the token.")


def public_keys_pem(session: HsmSession, keys: Iterable[KeyObject]) -> dict[str, str]:
    """See :meth:`vault.hsm.session.HsmSession.public_keys_pem`."""
    table = bulk.index_keys(raw := session.raw(), {A.CLASS: ObjectClass.PUBLIC_KEY})
    readers: dict[bool, bulk.AttributeReader] = {}
    result = {}
    for key in keys:
        if key.algorithm.is_key_pair:
            spki = indexed_spki(session, raw, readers, table, key, bytes.fromhex(key.key_id), None)
            result[key.label] = software.spki_to_pem(spki)
    return result
