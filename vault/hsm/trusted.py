"""Trusted wrapping: backed-up keys that only a KEK the security officer made can wrap.

Backed-up keys carry ``CKA_WRAP_WITH_TRUSTED = true`` (where the token can make a trusted key
safely: the profile's ``trusted_wrapping = "safe"``), so C_WrapKey refuses every wrapping key
whose ``CKA_TRUSTED`` is false, and only the SO can set ``CKA_TRUSTED``. The user PIN alone
then cannot wrap a master key under a key of one's own; a backup (and a transport) needs the
quorum's SO PIN as well.

How the trusted KEK is made without ever lying in the token's storage (measured on the
practice token, tests/hsm/test_trusted_wrapping.py; its profile says so): in the session that will use it, the user logs
out, the SO logs in and creates the KEK as a *public session object* (an SO cannot create
private objects: CKR_USER_NOT_LOGGED_IN), the SO logs out (public session objects survive a
logout), and the user logs in again. The KEK is never a token object: the practice token stores
public token objects unencrypted, and a trusted KEK made as one was found in clear in the token
directory. Residual risk, said plainly: while it exists the KEK is a public object, usable
without a login by any session of *this process* (other processes never see another
application's session objects); it is sensitive and not extractable, and is destroyed by the
caller at once and with the session in any case (a crash included).
"""

from __future__ import annotations

import ctypes

import pkcs11
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pkcs11 import Attribute as A
from pkcs11 import KeyType, ObjectClass

from vault.errors import HsmCheckFailed, PinIncorrect
from vault.hsm import software
from vault.hsm.errors import check_rv, translated
from vault.hsm.model import WrappingKey
from vault.hsm.module import HSM_LOCK
from vault.secret import Secret

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession

CKU_SO, CKU_USER = 0, 1


def _dll(session: HsmSession) -> ctypes.CDLL:
    dll = session._library.dll
    dll.C_Login.argtypes = [ctypes.c_ulong, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong]
    dll.C_Login.restype = ctypes.c_ulong
    dll.C_Logout.argtypes = [ctypes.c_ulong]
    dll.C_Logout.restype = ctypes.c_ulong
    return dll


@contextmanager
def as_security_officer(session: HsmSession, so_pin: Secret, user_pin: Secret) -> Iterator[Any]:
    """The session's login switched from the user to the SO for the block, and back to the user
    after it whatever happens (a wrong SO PIN raises PinIncorrect with the user logged in
    again). Only public objects can be made inside; private session objects of this process
    on the token are destroyed by the logout (PKCS#11), so call it before making any."""
    dll, handle = _dll(session), session.p11.handle
    with HSM_LOCK:
        session._check_current()
        with translated("login_so"):
            check_rv(dll.C_Logout(handle), "C_Logout")
            so = so_pin.reveal()
            rv = dll.C_Login(handle, CKU_SO, so, len(so))
            if rv != 0:
                _user_again(dll, handle, user_pin)
                try:
                    check_rv(rv, "C_Login")
                except pkcs11.PinIncorrect:
                    raise PinIncorrect(
                        f"Token {session.token.describe()} refused the security officer's PIN (the quorum's), which "
                        "trusted wrapping needs to make the backup's KEK trusted.",
                        next_step="Check that this quorum's share set is the one the token's PINs were set with; "
                                  "if the SO PIN was changed outside the console, set it back with the vendor's tools.",
                    ) from None
        try:
            yield session.p11
        finally:
            with translated("login"):
                check_rv(dll.C_Logout(handle), "C_Logout")
                _user_again(dll, handle, user_pin)


def _user_again(dll: ctypes.CDLL, handle: int, user_pin: Secret) -> None:
    pin = user_pin.reveal()
    check_rv(dll.C_Login(handle, CKU_USER, pin, len(pin)), "C_Login")


def mark(template: dict, on: bool) -> dict:
    """``template`` with CKA_WRAP_WITH_TRUSTED true when ``on`` (a backed-up key on a token whose
    profile makes trusted wrapping safe); unchanged otherwise (a token that does not know the
    attribute is never sent it)."""
    if not on:
        return template
    # First: the practice token applies a template in order, and after CKA_MODIFIABLE false it refuses this
    # attribute on C_UnwrapKey as read-only (measured; C_GenerateKey does not mind the order).
    return {A.WRAP_WITH_TRUSTED: True, **template}  # only a trusted (SO-made) KEK may wrap it; cannot be unset


def trusted_wrapping_key(kek: bytes) -> dict:
    """The backup KEK as the SO makes it: trusted, and a public session object (module doc)."""
    return {
        A.CLASS: ObjectClass.SECRET_KEY,  # a symmetric key
        A.KEY_TYPE: KeyType.AES,  # AES key wrap (RFC 5649)
        A.VALUE: kek,  # derived from the quorum secret by the caller
        A.TOKEN: False,  # session object: never in the token's storage, gone with the session
        A.PRIVATE: False,  # the SO can only make public objects; visible to this process only
        A.TRUSTED: True,  # may wrap keys marked CKA_WRAP_WITH_TRUSTED (only the SO can set it)
        A.SENSITIVE: True,  # never readable
        A.EXTRACTABLE: False,  # the KEK itself never leaves
        A.WRAP: True,  # wraps keys for backup
        A.UNWRAP: True,  # unwraps keys on the backup's own test
        A.ENCRYPT: False,  # no general encryption with a KEK
        A.DECRYPT: False,  # ... nor decryption
        A.SIGN: False,  # no MACs
        A.VERIFY: False,  # no MACs
        A.DERIVE: False,  # no derivation
    }


def import_trusted_wrapping_key(session: HsmSession, kek: Secret, *, so_pin: Secret, user_pin: Secret) -> WrappingKey:
    """The backup KEK imported by the SO as a trusted public session object (module doc); the
    user is logged in again afterwards. The token must say CKA_TRUSTED is true, and its check
    value (where it has one) must be the software KCV, else the KEK is destroyed and
    HsmCheckFailed raised."""
    raw = kek.reveal()
    if len(raw) not in (16, 24, 32):
        raise ValueError("a KEK is an AES key of 16, 24 or 32 bytes")
    with as_security_officer(session, so_pin, user_pin) as p11, translated("import_trusted_kek"):
        obj = p11.create_object(trusted_wrapping_key(raw))
    kcv = software.kcv(raw)
    with HSM_LOCK, translated("import_trusted_kek"):
        try:
            if obj[A.TRUSTED] is not True:
                raise HsmCheckFailed(f"Token {session.token.describe()} did not make the KEK trusted.")
            check_value = _check_value(obj)
            if check_value and software.kcv_from_check_value(check_value) != kcv:
                raise HsmCheckFailed("The token's check value of the imported KEK differs from the software one.")
        except BaseException:
            obj.destroy()
            raise
        session._wrapping_keys.add(id(obj))
    return WrappingKey(kcv=kcv, _object=obj, _session_id=id(session))


def _check_value(obj: Any) -> bytes | None:
    """CKA_CHECK_VALUE where the token has it (Cryptoki 2.20 tokens do not)."""
    try:
        return obj[A.CHECK_VALUE]
    except (pkcs11.AttributeTypeInvalid, pkcs11.AttributeSensitive):
        return None
