"""Generating master keys in the token, and checking that the token made what was asked.

Templates come from :mod:`vault.hsm.templates` (one comment per attribute). After
generation the new objects are read back and checked in the style of Let's Encrypt's
ceremony tool: key type, sizes, curve, exponent, sensitivity and extractability are what the
template asked for, or the objects are destroyed again. Callers hold
:data:`vault.hsm.module.HSM_LOCK`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pkcs11
from pkcs11 import Attribute as A
from pkcs11 import KeyType

from vault.errors import HsmCheckFailed, LabelExists, LabelInvalid
from vault.hsm import objects, purposes, software, templates
from vault.hsm.model import KeyObject
from vault.hsm.trusted import mark as trusted_mark
from vault.types import KeyAlgorithm

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession

LABEL_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")

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


#: PKCS#11 errors that mean "this attribute combination", after which generation tries the
#: next variant of templates.TEMPLATE_FALLBACKS (anything else is raised at once).
_TEMPLATE_REJECTED = (
    pkcs11.TemplateInconsistent,
    pkcs11.AttributeTypeInvalid,
    pkcs11.AttributeValueInvalid,
    pkcs11.GeneralError,
)


def generate_objects(
    p11_session: Any, algorithm: KeyAlgorithm, label: str, key_id: bytes, *, store: bool, backup: bool,
    purpose=None, trusted: bool = False,
) -> list[Any]:
    """C_GenerateKey / C_GenerateKeyPair with the explicit templates. [secret] or [public, private].
    ``trusted``: a backed-up key is marked CKA_WRAP_WITH_TRUSTED (vault.hsm.trusted)."""
    return generate_with_fallbacks(p11_session, algorithm, label, key_id, store=store, backup=backup,
                                   purpose=purpose, trusted=trusted)[1]


def generate_with_fallbacks(
    p11_session: Any, algorithm: KeyAlgorithm, label: str, key_id: bytes, *, store: bool, backup: bool,
    purpose=None, trusted: bool = False,
) -> tuple[str, list[Any]]:
    """(variant used, objects): each variant of templates.TEMPLATE_FALLBACKS in order until
    the token accepts one; the last refusal is raised. ``trusted``: CKA_WRAP_WITH_TRUSTED on a
    backed-up key in every variant (never relaxed away: vault.hsm.trusted)."""
    spec = templates.SPECS[algorithm]
    common = {"id": key_id, "label": label, "store": store, "capabilities": 0, "mechanism": spec.generate_mechanism}
    for n, variant in enumerate(templates.TEMPLATE_FALLBACKS):
        last = n == len(templates.TEMPLATE_FALLBACKS) - 1
        try:
            if algorithm.is_secret_key:
                template = templates.secret_key(label, key_id, store=store, backup=backup, purpose=purpose)
                template = trusted_mark(templates.fallback(variant, template, public=False), backup and trusted)
                return variant, [p11_session.generate_key(spec.key_type, spec.bits, template=template, **common)]
            public_template = templates.public_key(algorithm, label, key_id, store=store, purpose=purpose)
            private_template = templates.private_key(algorithm, label, key_id, store=store, backup=backup,
                                                     purpose=purpose)
            public, private = p11_session.generate_keypair(
                spec.key_type,
                spec.bits,
                public_template=templates.fallback(variant, public_template, public=True),
                private_template=trusted_mark(templates.fallback(variant, private_template, public=False),
                                              backup and trusted),
                **common,
            )
            return variant, [public, private]
        except _TEMPLATE_REJECTED:
            # a refused C_GenerateKeyPair can leave the half it did make (the practice token does): the
            # label was free before (checked by the caller), so whatever carries it now is ours
            objects.destroy_quietly(list(p11_session.get_objects({A.LABEL: label, A.ID: key_id})))
            if last:
                raise
    raise AssertionError("unreachable")


def check_generated(algorithm: KeyAlgorithm, made: list[Any], *, store: bool, backup: bool) -> list[str]:
    """Post-generation checks (Let's Encrypt ceremony style): what the token made is what
    was asked for. Returns the problems found; empty means all good."""
    spec = templates.SPECS[algorithm]
    problems: list[str] = []
    secret_or_private = made[-1]
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
    public = made[0].get_attributes(list(_CHECK_ATTRIBUTES))
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
        # Some tokens name the curve of an Ed25519 private key "edwards25519" (PrintableString)
        if software.curve_algorithm(attrs.get(A.EC_PARAMS, b"")) is not algorithm:
            problems.append(f"private key curve is not {algorithm.value}")
        try:
            software.spki_from_point(algorithm, public.get(A.EC_POINT, b""))
        except ValueError:
            problems.append(f"public point is not a valid {algorithm.value} point")
    return problems


def generate(session: HsmSession, label: str, algorithm: KeyAlgorithm, *, backup: bool, purpose=None) -> KeyObject:
    """See :meth:`vault.hsm.session.HsmSession.generate`."""
    if not isinstance(label, str) or not LABEL_RE.match(label):
        raise LabelInvalid(f"The key label {label!r} is not 1 to 128 printable characters.")
    if backup:
        session.capabilities().require_backup(algorithm)
    p11 = session.p11
    if objects.label_taken(p11, label):
        raise LabelExists(f"The label '{label}' is already used on token {session.token.describe()}.")
    key_id = bytes(p11.generate_random(128))
    trusted = backup and session.trusted_wrapping
    made = generate_objects(p11, algorithm, label, key_id, store=True, backup=backup, purpose=purpose, trusted=trusted)
    try:
        problems = check_generated(algorithm, made, store=True, backup=backup)
        if trusted and made[-1][A.WRAP_WITH_TRUSTED] is not True:
            problems.append("WRAP_WITH_TRUSTED is not set: a user-PIN holder could wrap it under a key of their own")
        problems += purposes.check(algorithm.is_secret_key, made, purpose)
        if problems:
            raise HsmCheckFailed(f"The new {algorithm.value} key failed its checks: {'; '.join(problems)}.")
        found = objects.group((o, o.get_attributes(objects.LIST_ATTRIBUTES)) for o in made)[(label, key_id)]
        key = objects.key_object(found)
        if key is None:
            raise HsmCheckFailed(f"The new key is not recognisable as {algorithm.value}.")
        return key
    except BaseException:
        objects.destroy_quietly(made)
        raise
