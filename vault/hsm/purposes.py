"""Per-purpose capability attributes: what a key may do on the token, by its purpose.

One purpose a key (SP 800-57 Part 1, 5.2: a key is used for one purpose). The generation
templates (vault.hsm.templates) take these flags, so a signing key cannot decrypt, a
data-encryption key cannot wrap, a key-wrapping key cannot encrypt data, and a transport key
can only unwrap what is sent to it.
"""

from __future__ import annotations

from pkcs11 import Attribute as A

from vault.types import KeyPurpose

#: Secret (AES) keys: capability attributes by purpose.
SECRET: dict[KeyPurpose, dict[A, bool]] = {
    # data encryption (AES-GCM in the HSM); ENCRYPT also yields the KCV after a restore
    KeyPurpose.ENCRYPT: {A.ENCRYPT: True, A.DECRYPT: True, A.WRAP: False, A.UNWRAP: False},
    # key wrapping (envelope data keys): never encrypts data itself
    KeyPurpose.WRAP: {A.ENCRYPT: False, A.DECRYPT: False, A.WRAP: True, A.UNWRAP: True},
}

#: Private halves of key pairs.
PRIVATE: dict[KeyPurpose, dict[A, bool]] = {
    KeyPurpose.SIGN: {A.SIGN: True, A.DECRYPT: False, A.UNWRAP: False},
    KeyPurpose.TRANSPORT: {A.SIGN: False, A.DECRYPT: False, A.UNWRAP: True},  # unwraps keys sent to it
}

#: Public halves of key pairs.
PUBLIC: dict[KeyPurpose, dict[A, bool]] = {
    KeyPurpose.SIGN: {A.VERIFY: True, A.ENCRYPT: False, A.WRAP: False},
    KeyPurpose.TRANSPORT: {A.VERIFY: False, A.ENCRYPT: False, A.WRAP: True},  # the sender wraps to it
}


def flags(table: dict[KeyPurpose, dict[A, bool]], purpose: KeyPurpose | None, default: KeyPurpose) -> dict[A, bool]:
    purpose = KeyPurpose(purpose) if purpose is not None else default
    if purpose not in table:
        raise ValueError(f"purpose {purpose.value} does not apply to this kind of key")
    return dict(table[purpose])


def check(is_secret: bool, objects: list, purpose: KeyPurpose | None) -> list[str]:
    """Post-generation check: the token applied the purpose's capability attributes.

    ``objects`` is [secret] or [public, private] as generated. Returns the problems found.
    """
    if is_secret:
        wanted = [(objects[0], flags(SECRET, purpose, KeyPurpose.ENCRYPT))]
    else:
        wanted = [(objects[0], flags(PUBLIC, purpose, KeyPurpose.SIGN)),
                  (objects[1], flags(PRIVATE, purpose, KeyPurpose.SIGN))]
    problems = []
    for obj, want in wanted:
        got = obj.get_attributes(list(want))
        problems += [f"{a.name} is {got.get(a)!r}, expected {v!r}" for a, v in want.items() if got.get(a) != v]
    return problems


def wrap_check_value(p11_session, kek) -> str:
    """The KCV of a key that may wrap but not encrypt: AES-ECB(K, 0^16)[:3], obtained as the
    CKM_AES_CBC wrap (zero IV) of an all-zero 16-byte AES session key, whose one block is exactly
    that. "" when the token does not wrap with CKM_AES_CBC (the caller then has no check value)."""
    import pkcs11
    from pkcs11 import KeyType, Mechanism, ObjectClass

    if not hasattr(kek, "wrap_key"):
        return ""
    zero = None
    try:
        zero = p11_session.create_object({
            A.CLASS: ObjectClass.SECRET_KEY,  # a public test value, not a secret
            A.KEY_TYPE: KeyType.AES,
            A.VALUE: bytes(16),  # all zero: its CBC wrap under K is AES(K, 0^16)
            A.TOKEN: False,  # session object, destroyed at once
            A.SENSITIVE: False,
            A.EXTRACTABLE: True,  # so that K can wrap it
        })
        block = bytes(kek.wrap_key(zero, mechanism=Mechanism.AES_CBC, mechanism_param=bytes(16)))
        return "kcv:" + block[:3].hex()
    except pkcs11.PKCS11Error:
        return ""
    finally:
        if zero is not None:
            try:
                zero.destroy()
            except pkcs11.PKCS11Error:
                pass
