"""Restoring master keys from their RFC 5649 blobs, each one checked before it counts.

Every unwrapped key is checked: its attributes are what the template asked for (after
C_UnwrapKey, CKA_SENSITIVE may default to False), AES keys by their KCV, pairs by the SPKI
fingerprint of the backup's public key and a signature of the unwrapped private key that
must verify under it; the public half is then re-created from the backup. On a failed check
the objects made are destroyed. The bulk forms stream: ``items`` is read once, one key at a
time, and what was made is remembered by handle (:mod:`vault.hsm.restored`) so that the
whole restore can be undone. Callers hold :data:`vault.hsm.module.HSM_LOCK`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pkcs11 import Attribute as A
from pkcs11 import Mechanism, ObjectClass

from vault.errors import HsmCheckFailed, LabelExists, SignatureInvalid, WrappedKeyInvalid
from vault.hsm import bulk, objects, purposes, software, templates
from vault.hsm.errors import translated
from vault.hsm.model import KeyObject, WrappingKey
from vault.hsm.restored import RestoredObjects
from vault.hsm.signing import raw_sign
from vault.hsm.trusted import mark as trusted_mark
from vault.hsm.wrap import kek_object
from vault.types import KeyPurpose

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession

Item = tuple[KeyObject, bytes, bytes | None]  # (key, blob, SPKI DER of a pair's public half)

#: Bulk unwraps run a young-generation collection this often: python-pkcs11 builds a class for
#: every object it returns, and classes are only freed by the cycle collector.
GC_EVERY = 64
UNWRAP_CHECK_MESSAGE = b"vault.hsm unwrap check"


def unwrap_one(
    session: HsmSession, kek: Any, blob: bytes, key: KeyObject, public_der: bytes | None, store: bool
) -> tuple[KeyObject, list[Any]]:
    """Unwrap and check one key; returns it and the objects made (to destroy by handle)."""
    key_id = bytes.fromhex(key.key_id)
    mechanism = Mechanism(session.wrap_mechanism.value)
    spec = templates.SPECS[key.algorithm]
    if key.algorithm.is_secret_key:
        object_class = ObjectClass.SECRET_KEY
        template = templates.unwrapped_secret_key(key.label, key_id, store=store, extractable=key.extractable,
                                                  purpose=key.purpose)
    else:
        if public_der is None:
            raise ValueError("restoring a key pair needs the public key DER from the backup")
        public_attrs = objects.public_attributes(key.algorithm, public_der)
        if software.spki_fingerprint(public_der) != key.fingerprint:
            raise WrappedKeyInvalid(f"The public key in the backup does not match the fingerprint of '{key.label}'.")
        object_class = ObjectClass.PRIVATE_KEY
        template = templates.unwrapped_private_key(key.algorithm, key.label, key_id, store=store,
                                                   extractable=key.extractable)  # fmt: skip
    # a backed-up key stays wrappable only by a trusted KEK where the session's token makes one safely
    template = trusted_mark(template, key.extractable and session.trusted_wrapping)
    with translated("unwrap"):
        obj = kek.unwrap_key(
            object_class, spec.key_type, blob, id=key_id, label=key.label,
            mechanism=mechanism, store=store, capabilities=0, template=template,
        )  # fmt: skip
    created = [obj]
    try:
        # The unwrap template traps (SENSITIVE may default to False after C_UnwrapKey): check
        # that the token applied what was asked.
        got = obj.get_attributes([A.SENSITIVE, A.EXTRACTABLE, A.PRIVATE, A.TOKEN])
        want = {A.SENSITIVE: True, A.EXTRACTABLE: key.extractable, A.PRIVATE: True, A.TOKEN: store}
        if got != want:
            raise HsmCheckFailed(f"The restored '{key.label}' has other attributes than requested.")
        if key.algorithm.is_secret_key:
            fingerprint = objects.aes_fingerprint(obj, {})
            if not fingerprint and key.purpose is KeyPurpose.WRAP:
                # A key-wrapping key cannot encrypt: its KCV comes from a wrap (vault.hsm.purposes).
                fingerprint = purposes.wrap_check_value(session.p11, obj)
            if fingerprint != key.fingerprint:
                raise HsmCheckFailed(f"The restored '{key.label}' has KCV {fingerprint}, expected {key.fingerprint}.")
            return KeyObject(key.label, key.key_id, key.algorithm, fingerprint, key.extractable, True, False,
                             key.purpose), created
        assert public_der is not None
        signature = raw_sign(key.algorithm, obj, UNWRAP_CHECK_MESSAGE)
        try:
            software.verify_signature(software.spki_to_pem(public_der), key.algorithm, UNWRAP_CHECK_MESSAGE, signature)
        except SignatureInvalid:
            raise HsmCheckFailed(f"The restored private key of '{key.label}' does not match its public key.") from None
        public_template = templates.restored_public_key(
            key.algorithm, key.label, key_id, store=store, key_attributes=public_attrs
        )
        created.append(session.p11.create_object(public_template))
        return KeyObject(key.label, key.key_id, key.algorithm, key.fingerprint, key.extractable, True, True), created
    except BaseException:
        objects.destroy_quietly(created)
        raise


def unwrap(session: HsmSession, wkey: WrappingKey, blob: bytes, key: KeyObject, *, public_der: bytes | None,
           store: bool) -> KeyObject:  # fmt: skip
    """See :meth:`vault.hsm.session.HsmSession.unwrap`."""
    kek = kek_object(session, wkey)
    session.capabilities().require_backup(key.algorithm)
    if store and objects.label_taken(session.p11, key.label):
        raise LabelExists(f"The label '{key.label}' is already used on token {session.token.describe()}.")
    return unwrap_one(session, kek, blob, key, public_der, store)[0]


def unwrap_stream(
    session: HsmSession, wkey: WrappingKey, items: Iterable[Item], store: bool,
    on_restored: Callable[[KeyObject], None] | None,
) -> RestoredObjects:  # fmt: skip
    """See :meth:`vault.hsm.session.HsmSession.unwrap_all`."""
    kek = kek_object(session, wkey)
    capabilities = session.capabilities()
    p11 = session.p11
    taken = bulk.index_labels(session.raw()) if store else None
    made = bulk.HandleTable()
    restored = RestoredObjects(session)
    try:
        for key, blob, public_der in items:
            h = bulk.ident_hash(bulk.LABEL_ONLY, key.label)
            # A hash hit is confirmed by a search for the label (rare: only on a real clash).
            if h in made and objects.label_taken(p11, key.label):
                raise LabelExists(f"The keys to restore repeat the label '{key.label}'.")
            if taken is not None and h in taken and objects.label_taken(p11, key.label):
                raise LabelExists(f"The label '{key.label}' is already used on token {session.token.describe()}.")
            capabilities.require_backup(key.algorithm)
            restored_key, created = unwrap_one(session, kek, blob, key, public_der, store)
            restored._add(created)
            del created  # see check_unwrap_many
            made.put(h, 1)
            if on_restored is not None:
                on_restored(restored_key)
            if restored.count % GC_EVERY == 0:
                gc.collect(1)  # python-pkcs11 makes a class per object: reclaim them as we go
    except BaseException:
        restored.undo()
        raise
    return restored


def check_unwrap_many(session: HsmSession, wkey: WrappingKey, items: Iterable[Item]) -> int:
    """See :meth:`vault.hsm.session.HsmSession.check_unwrap_many`."""
    kek = kek_object(session, wkey)
    capabilities = session.capabilities()
    checked = 0
    for key, blob, public_der in items:
        capabilities.require_backup(key.algorithm)
        _, created = unwrap_one(session, kek, blob, key, public_der, store=False)
        objects.destroy_quietly(created)
        del created  # unreferenced before the collection below, so not promoted to the old generation
        checked += 1
        if checked % GC_EVERY == 0:
            gc.collect(1)
    return checked
