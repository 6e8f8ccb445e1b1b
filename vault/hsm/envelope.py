"""Envelope encryption in the HSM: data keys (DEKs) and AES-256-GCM.

A data key is generated in the HSM as a session object (never a token object, never in
clear outside the HSM), wrapped under a master key whose purpose is ``wrap`` with the vault's
AES key-wrap mechanism, and used for AES-GCM inside the HSM. To decrypt, the wrapped data key
is unwrapped under the same master key version into a new session object. To rewrap, it is
unwrapped under the old version and wrapped under the new one: neither the data key nor the
data leaves the HSM in clear.

Whether the token offers CKM_AES_GCM is asked from its mechanism list (``gcm_offered``);
a token without it is refused by name (the console does not fall back to software GCM,
which would need the data key outside the HSM).

The practice token reports a wrong GCM tag as CKR_GENERAL_ERROR; every PKCS#11 failure of a GCM
decryption is therefore reported as a corrupt ciphertext (``EnvelopeCorrupt``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pkcs11
from pkcs11 import Attribute as A
from pkcs11 import KeyType, Mechanism, ObjectClass
from pkcs11.mechanisms import GCMParams

from vault.errors import EnvelopeCorrupt, MechanismUnsupported, PurposeMismatch, WrappedKeyInvalid
from vault.hsm import objects
from vault.hsm.errors import translated
from vault.hsm.model import KeyObject
from vault.hsm.module import HSM_LOCK

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession

TAG_BITS = 128


def data_key_template() -> dict:
    """A fresh AES-256 data key, for C_GenerateKey / C_UnwrapKey (session object)."""
    return {
        A.TOKEN: False,  # session object: gone when the session closes, never on disk
        A.PRIVATE: True,  # invisible to other sessions
        A.SENSITIVE: True,  # its value is never readable
        A.EXTRACTABLE: True,  # only so that it can be wrapped under a master key (and rewrapped)
        A.ENCRYPT: True,  # AES-GCM of the data
        A.DECRYPT: True,  # ... and back
        A.WRAP: False,  # wraps nothing
        A.UNWRAP: False,  # imports nothing
        A.SIGN: False,  # no MACs
        A.VERIFY: False,  # no MACs
        A.DERIVE: False,  # no derivation
    }


class DataKey:
    """A data key in the HSM (session object). ``destroy()`` it as soon as it is no longer needed."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def __repr__(self) -> str:
        return "<DataKey in the HSM>"

    def destroy(self) -> None:
        with HSM_LOCK:
            objects.destroy_quietly([self._obj])


_GCM_OFFERED: dict[tuple[str, str], bool] = {}  # (module, token serial) -> the token's answer


def gcm_offered(session: HsmSession) -> bool:
    """Whether the token lists CKM_AES_GCM (asked once per token and process)."""
    cache_key = (session.module_path, session.token.serial)
    if cache_key not in _GCM_OFFERED:
        with HSM_LOCK, translated("mechanisms"):
            _GCM_OFFERED[cache_key] = int(Mechanism.AES_GCM) in {
                int(m) for m in session.p11.token.slot.get_mechanisms()}
    return _GCM_OFFERED[cache_key]


def _require_gcm(session: HsmSession) -> None:
    if not gcm_offered(session):
        raise MechanismUnsupported(f"The token {session.token.describe()} does not offer CKM_AES_GCM.",
                                   next_step="Use a token with AES-GCM for envelope encryption.")


class MasterKey:
    """A key-wrapping master key's object on the token, found once (``master_key``)."""

    __slots__ = ("label", "_obj")

    def __init__(self, label: str, obj: Any) -> None:
        self.label, self._obj = label, obj

    def __repr__(self) -> str:
        return f"<MasterKey {self.label!r}>"


def master_key(session: HsmSession, key: KeyObject) -> MasterKey:
    with HSM_LOCK, translated("find"):
        return MasterKey(key.label, _master(session, key))


def _master(session: HsmSession, key: KeyObject) -> Any:
    found = objects.find(session.p11, key, session.token)
    if found.secret is None:
        raise PurposeMismatch(f"'{key.label}' is not an AES key; only AES key-wrapping keys wrap data keys.")
    obj = found.secret[0]
    if not hasattr(obj, "wrap_key"):
        raise PurposeMismatch(f"'{key.label}' is not a key-wrapping key (CKA_WRAP is false on the token).")
    return obj


def new_data_key(session: HsmSession) -> DataKey:
    _require_gcm(session)
    with HSM_LOCK, translated("generate"):
        return DataKey(session.p11.generate_key(KeyType.AES, 256, store=False, capabilities=0,
                                                template=data_key_template()))


def wrap_data_key(session: HsmSession, master: MasterKey, dek: DataKey) -> bytes:
    mechanism = Mechanism(session.wrap_mechanism.value)
    with HSM_LOCK, translated("wrap"):
        return bytes(master._obj.wrap_key(dek._obj, mechanism=mechanism))


def unwrap_data_key(session: HsmSession, master: MasterKey, blob: bytes) -> DataKey:
    _require_gcm(session)
    mechanism = Mechanism(session.wrap_mechanism.value)
    with HSM_LOCK:
        kek = master._obj
        try:
            obj = kek.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, blob, mechanism=mechanism, store=False,
                                 capabilities=0, template=data_key_template())
        except pkcs11.PKCS11Error:
            raise WrappedKeyInvalid(f"The data key does not unwrap under '{master.label}': the file's header was "
                                    "changed or it names another key.") from None
    return DataKey(obj)


def encrypt(dek: DataKey, nonce: bytes, aad: bytes, data: bytes) -> bytes:
    """AES-256-GCM in the HSM: ciphertext || 16-byte tag."""
    with HSM_LOCK, translated("encrypt"):
        return bytes(dek._obj.encrypt(data, mechanism=Mechanism.AES_GCM,
                                      mechanism_param=GCMParams(nonce, aad, TAG_BITS)))


def decrypt(dek: DataKey, nonce: bytes, aad: bytes, data: bytes) -> bytes:
    with HSM_LOCK:
        try:
            return bytes(dek._obj.decrypt(data, mechanism=Mechanism.AES_GCM,
                                          mechanism_param=GCMParams(nonce, aad, TAG_BITS)))
        except pkcs11.PKCS11Error:
            raise EnvelopeCorrupt("A chunk of the ciphertext fails its authentication tag: the file was changed, "
                                  "truncated or reordered.") from None
