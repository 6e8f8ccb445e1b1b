"""Key transport to another vault's HSM (RSA key-transport key, ephemeral AES key).

The receiver's transport key is an RSA-3072 (or 4096) pair generated in its HSM with purpose
``transport``: the public half may only wrap, the private half only unwrap. The sender imports
that public key as a session object and, inside its HSM:

1. generates an ephemeral AES-256 key (session object);
2. wraps it under the transport public key with RSA-OAEP (CKM_RSA_PKCS_OAEP; SHA-256 where the
   token accepts it, else SHA-1: the practice token implements OAEP with SHA-1 only);
3. wraps the key being sent under the ephemeral key with the vault's AES key wrap (RFC 5649);
4. destroys both session objects.

This is what CKM_RSA_AES_KEY_WRAP does in one call (PKCS#11 v2.40 section 2.1.21: OAEP of a
temporary AES key, then the target key under it with CKM_AES_KEY_WRAP_KWP, output concatenated
in that order), so the two layouts of a transport file carry the same bytes
(docs/transport-format.md). The token's HSM profile chooses the method (``transport_wrap``:
``oaep-then-kwp`` or ``rsa-aes-key-wrap``); the one-shot call is not implemented, because no
PKCS#11 module installable here offers it to test against, so a profile asking for it is
refused before anything is made (``check_transport_wrap``). The token's mechanism list is asked
(``offers_rsa_aes_key_wrap``) and recorded in the file.
The receiver unwraps the ephemeral key with its transport private key, then the sent key with
the same checks as a restore (vault.hsm.unwrap: KCV, or public key and a test signature).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pkcs11
from pkcs11 import MGF, KeyType, Mechanism, ObjectClass
from pkcs11 import Attribute as A

from vault.errors import HsmCheckFailed, MechanismUnsupported, WrappedKeyInvalid
from vault.hsm import objects, trusted, unwrap
from vault.hsm.errors import translated
from vault.hsm.model import KeyObject
from vault.hsm.module import HSM_LOCK
from vault.secret import Secret

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession

CKM_RSA_AES_KEY_WRAP = 0x1054
OAEP = {"sha256": (Mechanism.SHA256, MGF.SHA256, None), "sha1": (Mechanism.SHA_1, MGF.SHA1, None)}


def offers_rsa_aes_key_wrap(session: HsmSession) -> bool:
    with HSM_LOCK, translated("mechanisms"):
        return CKM_RSA_AES_KEY_WRAP in {int(m) for m in session.p11.token.slot.get_mechanisms()}


def check_transport_wrap(session: HsmSession, method: str) -> None:
    """Refuse, before any HSM object is made, a transport method the profile asks for that this
    token or this console cannot do. ``oaep-then-kwp`` needs only what every transport needs."""
    if method == "oaep-then-kwp":
        return
    if method != "rsa-aes-key-wrap":
        raise ValueError(f"unknown transport wrap method {method!r}")
    way_out = ('Set transport_wrap = "oaep-then-kwp" in custodian.toml [hsm.profile_override]: the same bytes '
               "(RSA-OAEP of an ephemeral AES key, then RFC 5649) in two calls.")
    if not offers_rsa_aes_key_wrap(session):
        raise MechanismUnsupported(f'The HSM profile asks for transport_wrap = "rsa-aes-key-wrap" '
                                   f"(CKM_RSA_AES_KEY_WRAP), which the token {session.token.describe()} does not "
                                   "list; nothing was made.", next_step=way_out)
    raise MechanismUnsupported(f"The token {session.token.describe()} lists CKM_RSA_AES_KEY_WRAP, but this console "
                               'has no tested one-shot path for transport_wrap = "rsa-aes-key-wrap"; nothing was '
                               "made.", next_step=way_out)


def split_rsa_aes_blob(blob: bytes, modulus_bytes: int) -> tuple[bytes, bytes]:
    """A CKM_RSA_AES_KEY_WRAP blob as (OAEP-wrapped AES key, RFC 5649-wrapped key): the first part
    is as long as the unwrapping RSA key's modulus (PKCS#11 v2.40 section 2.1.21)."""
    if len(blob) < modulus_bytes + 16 or (len(blob) - modulus_bytes) % 8:
        raise WrappedKeyInvalid(f"The wrapped blob ({len(blob)} bytes) is not an RSA-{modulus_bytes * 8} OAEP block "
                                "followed by an RFC 5649 wrapping.")
    return blob[:modulus_bytes], blob[modulus_bytes:]


def _public_template(modulus: int, exponent: int) -> dict:
    return {
        A.CLASS: ObjectClass.PUBLIC_KEY,  # the receiver's transport public key
        A.KEY_TYPE: KeyType.RSA,  # RSA-OAEP
        A.MODULUS: modulus.to_bytes((modulus.bit_length() + 7) // 8, "big"),  # from the signed request
        A.PUBLIC_EXPONENT: exponent.to_bytes((exponent.bit_length() + 7) // 8, "big"),
        A.TOKEN: False,  # session object: gone with the session
        A.PRIVATE: True,  # visible to this session only
        A.WRAP: True,  # wraps the ephemeral key, nothing else
        A.ENCRYPT: False,  # no data encryption
        A.VERIFY: False,  # no signatures
        A.DERIVE: False,  # no derivation
    }


def _ephemeral_template(*, extractable: bool) -> dict:
    return {
        A.TOKEN: False,  # session object, destroyed at once
        A.PRIVATE: True,  # invisible to other sessions
        A.SENSITIVE: True,  # never readable
        A.EXTRACTABLE: extractable,  # the sender wraps it under the transport key; the receiver never
        A.WRAP: True,  # wraps the key being sent (and re-wraps it for the receiver's check)
        A.UNWRAP: True,  # the receiver unwraps the sent key with it
        A.ENCRYPT: False,  # no data
        A.DECRYPT: False,  # no data
        A.SIGN: False,  # no MACs
        A.VERIFY: False,  # no MACs
        A.DERIVE: False,  # no derivation
    }


def wrap_for_transport(session: HsmSession, key: KeyObject, modulus: int, exponent: int, *,
                       pins: tuple[Secret, Secret] | None = None) -> tuple[str, bytes, bytes]:
    """(oaep hash, ephemeral key wrapped under the transport key, ``key`` wrapped under the ephemeral key).

    On a session with trusted wrapping (vault.hsm.trusted) the sent key may only be wrapped by a
    trusted key, so the SO makes the ephemeral key (trusted, a public session object, destroyed
    here): ``pins`` = (SO PIN, user PIN), the quorum's."""
    mechanism = Mechanism(session.wrap_mechanism.value)
    made: list[Any] = []
    with HSM_LOCK:
        try:
            # first: an SO login (the trusted case) destroys this process's private session objects
            ephemeral = _ephemeral(session, pins)
            made.append(ephemeral)
            with translated("transport"):
                found = objects.find(session.p11, key, session.token)
                target = (found.secret or found.private or (None,))[0]
                if target is None:
                    raise HsmCheckFailed(f"The secret or private half of '{key.label}' is not on the token.")
                public = session.p11.create_object(_public_template(modulus, exponent))
                made.append(public)
                wrapped_key = bytes(ephemeral.wrap_key(target, mechanism=mechanism))
            for name, param in OAEP.items():
                try:
                    wrapped_ephemeral = bytes(public.wrap_key(ephemeral, mechanism=Mechanism.RSA_PKCS_OAEP,
                                                              mechanism_param=param))
                    return name, wrapped_ephemeral, wrapped_key
                except (pkcs11.ArgumentsBad, pkcs11.MechanismParamInvalid, pkcs11.MechanismInvalid):
                    continue
            raise MechanismUnsupported(f"The token {session.token.describe()} wraps with neither RSA-OAEP SHA-256 "
                                       "nor SHA-1.")
        finally:
            objects.destroy_quietly(made)


def _ephemeral(session: HsmSession, pins: tuple[Secret, Secret] | None) -> Any:
    if not session.trusted_wrapping:
        with translated("transport"):
            return session.p11.generate_key(KeyType.AES, 256, store=False, capabilities=0,
                                            template=_ephemeral_template(extractable=True))
    if pins is None:
        raise ValueError("a session with trusted wrapping sends a key only with the quorum's SO and user PINs")
    so_pin, user_pin = pins
    with trusted.as_security_officer(session, so_pin, user_pin) as p11, translated("transport"):
        ephemeral = p11.generate_key(KeyType.AES, 256, store=False, capabilities=0, template={
            **_ephemeral_template(extractable=True),
            A.PRIVATE: False,  # the SO makes public objects only; a session object of this process
            A.TRUSTED: True,  # it wraps a key marked CKA_WRAP_WITH_TRUSTED (only the SO can set it)
        })  # fmt: skip
    return ephemeral


def unwrap_transported(session: HsmSession, transport_key: KeyObject, oaep: str, wrapped_ephemeral: bytes,
                       wrapped_key: bytes, key: KeyObject, public_der: bytes | None) -> KeyObject:
    """Unwrap the sent key as a token object, checked like a restore; nothing is left on failure."""
    if oaep not in OAEP:
        raise WrappedKeyInvalid(f"The transport file uses OAEP with {oaep!r}, which the console does not use.")
    with HSM_LOCK:
        found = objects.find(session.p11, transport_key, session.token)
        if found.private is None or not hasattr(found.private[0], "unwrap_key"):
            raise HsmCheckFailed(f"'{transport_key.label}' is not a transport key on this token (no UNWRAP).")
        try:
            ephemeral = found.private[0].unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, wrapped_ephemeral,
                                                    mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=OAEP[oaep],
                                                    store=False, capabilities=0,
                                                    template=_ephemeral_template(extractable=False))
        except pkcs11.PKCS11Error:
            raise WrappedKeyInvalid("The transport key does not unwrap this file's ephemeral key: it was made for "
                                    "another transport key, or changed.") from None
        try:
            made, created = unwrap.unwrap_one(session, ephemeral, wrapped_key, key, public_der, True)
            return made
        except pkcs11.PKCS11Error:
            raise WrappedKeyInvalid(f"The sent key '{key.label}' does not unwrap: the file was changed.") from None
        finally:
            objects.destroy_quietly([ephemeral])
