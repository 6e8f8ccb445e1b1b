"""The capability probe: what this token can do, found by trying it with session objects.

Nothing is left on the token. The wrap mechanism is self-tested first: a known test key is
wrapped under a known test KEK in the token and the blob is unwrapped offline with
``cryptography``'s RFC 5649 ``aes_key_unwrap_with_padding``; a mechanism that fails this
wraps nothing. Then every algorithm is generated (as session objects), signed with and
verified in software, wrapped and unwrapped. The result is cached per module, token model,
firmware and wrap mechanism: what a model can do does not change while the process runs,
and probing costs an RSA-3072 key generation. Callers hold
:data:`vault.hsm.module.HSM_LOCK`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding, aes_key_wrap_with_padding
from pkcs11 import KeyType, Mechanism, ObjectClass
from pkcs11 import Attribute as A

from vault.errors import HsmCheckFailed, VaultError
from vault.hsm import objects, software, templates
from vault.hsm.errors import map_exception, translated
from vault.hsm.generation import generate_objects
from vault.hsm.model import AlgorithmCapability, Capabilities, WrapMechanism
from vault.hsm.signing import raw_sign
from vault.types import KeyAlgorithm

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession

PROBE_ORDER = (
    KeyAlgorithm.AES_256,
    KeyAlgorithm.EC_P256,
    KeyAlgorithm.EC_P384,
    KeyAlgorithm.RSA_3072,
    KeyAlgorithm.ED25519,
)
# Known test values for the probe and the wrap self-test (public on purpose: they protect nothing).
TEST_KEK = bytes(range(0x40, 0x60))
TEST_KEY = bytes(range(0x00, 0x20))
PROBE_MESSAGE = b"vault.hsm capability probe"

# (module path, manufacturer, model, firmware, mechanism) -> Capabilities.
PROBE_CACHE: dict[tuple[str, str, str, str, WrapMechanism], Capabilities] = {}


def probe(session: HsmSession, wrap_mechanism: WrapMechanism, *, refresh: bool) -> Capabilities:
    """See :meth:`vault.hsm.session.HsmSession.probe`."""
    token = session.token
    cache_key = (session.module_path, token.manufacturer, token.model, token.firmware, wrap_mechanism)
    if not refresh and cache_key in PROBE_CACHE:
        return PROBE_CACHE[cache_key]
    p11 = session.p11
    created: list[Any] = []
    check_values: list[bool] = []
    try:
        kek, error = None, None
        try:
            kek = p11.create_object(templates.wrapping_key(TEST_KEK))
            created.append(kek)
        except pkcs11.PKCS11Error as exc:
            error = f"the token refused the test KEK ({map_exception(exc, 'import_kek').message})"
        if kek is not None:
            error = _self_test(p11, kek, wrap_mechanism, created)
        results = {
            algorithm: _probe_algorithm(p11, algorithm, None if error else kek, wrap_mechanism, created, check_values)
            for algorithm in PROBE_ORDER
        }
        results[KeyAlgorithm.RSA_4096] = _probe_rsa_4096(p11, results[KeyAlgorithm.RSA_3072])
        offered = offered_wrap_mechanisms(p11)
    finally:
        objects.destroy_quietly(reversed(created))
    capabilities = Capabilities(
        wrap_mechanism=wrap_mechanism,
        self_test_ok=error is None,
        self_test_error=error,
        algorithms=tuple(results[a] for a in KeyAlgorithm),
        token_model=f"{token.manufacturer} {token.model} {token.firmware}",
        check_value=any(check_values),
        wrap_mechanisms_offered=offered,
        protected_authentication_path=token.protected_authentication_path,
    )
    PROBE_CACHE[cache_key] = capabilities
    return capabilities


#: The order in which a wrap mechanism is chosen when custodian.toml says ``auto``: the
#: standard number for RFC 5649 first (PKCS#11 3.0 CKM_AES_KEY_WRAP_KWP), then the older
#: CKM_AES_KEY_WRAP_PAD that the practice token and several vendors use for RFC 5649. RFC 3394
#: without padding is never chosen (it is not the backup format).
WRAP_PREFERENCE = (WrapMechanism.AES_KEY_WRAP_KWP, WrapMechanism.AES_KEY_WRAP_PAD)


def offered_wrap_mechanisms(p11: Any) -> tuple[WrapMechanism, ...]:
    """The wrap mechanisms of WRAP_PREFERENCE that C_GetMechanismList lists with CKF_WRAP."""
    try:
        slot = p11.token.slot
        listed = set(slot.get_mechanisms())
        offered = []
        for mechanism in WRAP_PREFERENCE:
            if Mechanism(mechanism.value) in listed:
                info = slot.get_mechanism_info(Mechanism(mechanism.value))
                if pkcs11.MechanismFlag.WRAP in info.flags:
                    offered.append(mechanism)
        return tuple(offered)
    except pkcs11.PKCS11Error:
        return ()


def choose_wrap_mechanism(session: HsmSession) -> WrapMechanism:
    """The first mechanism (in the token's profile's order, then WRAP_PREFERENCE's) that the token lists AND that passes the
    self-test (its blob of a known key unwraps offline as RFC 5649); where none does, the
    first listed (or AES_KEY_WRAP_PAD), whose probe then names the failure."""
    from vault.hsm.profile import profile_for

    p11 = session.p11
    offered = offered_wrap_mechanisms(p11)
    try:  # the vendor's order where its profile gives one (vault/hsm/profiles), else WRAP_PREFERENCE
        order = profile_for(session.token).wrap_mechanisms
    except VaultError:
        order = ()
    offered = tuple(m for m in order if m in offered) + tuple(m for m in offered if m not in order)
    for mechanism in offered:
        created: list[Any] = []
        try:
            kek = p11.create_object(templates.wrapping_key(TEST_KEK))
            created.append(kek)
            if _self_test(p11, kek, mechanism, created) is None:
                return mechanism
        except pkcs11.PKCS11Error:
            continue
        finally:
            objects.destroy_quietly(reversed(created))
    return offered[0] if offered else WrapMechanism.AES_KEY_WRAP_PAD


def _self_test(p11: Any, kek: Any, wrap_mechanism: WrapMechanism, created: list[Any]) -> str | None:
    """None if ``wrap_mechanism`` produces RFC 5649 blobs here, else what went wrong (never raises)."""
    try:
        return _wrap_test_key(p11, kek, wrap_mechanism, created)
    except pkcs11.PKCS11Error as exc:
        return f"the token refused the test key ({map_exception(exc, 'import').message})"


def _wrap_test_key(p11: Any, kek: Any, wrap_mechanism: WrapMechanism, created: list[Any]) -> str | None:
    test_key = p11.create_object(
        {
            A.CLASS: ObjectClass.SECRET_KEY,  # a symmetric key
            A.KEY_TYPE: KeyType.AES,  # AES-256 test key of known value
            A.VALUE: TEST_KEY,  # the known value
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
        plain = aes_key_unwrap_with_padding(TEST_KEK, bytes(blob))
    except (InvalidUnwrap, ValueError):
        return "the token's blob of the test key is not RFC 5649 (aes_key_unwrap_with_padding rejects it)"
    if plain != TEST_KEY:
        return "the token's blob of the test key unwraps to a different key"
    return None


def _probe_algorithm(
    p11: Any, algorithm: KeyAlgorithm, kek: Any | None, wrap_mechanism: WrapMechanism, created: list[Any],
    check_values: list[bool],
) -> AlgorithmCapability:
    """One algorithm's row; every failure is recorded in the note, nothing raises."""
    try:
        return _try_algorithm(p11, algorithm, kek, wrap_mechanism, created, check_values)
    except (pkcs11.PKCS11Error, VaultError) as exc:  # a step outside the per-step handlers
        reason = exc.message if isinstance(exc, VaultError) else map_exception(exc, "probe").message
        return AlgorithmCapability(algorithm, False, False, False, False, note=f"probe: {reason}")


def _try_algorithm(
    p11: Any, algorithm: KeyAlgorithm, kek: Any | None, wrap_mechanism: WrapMechanism, created: list[Any],
    check_values: list[bool],
) -> AlgorithmCapability:
    notes: list[str] = []
    found = {"generate": False, "sign": False, "wrap": False, "unwrap": False}

    def failed(step: str, exc: BaseException) -> None:
        reason = exc.message if isinstance(exc, VaultError) else map_exception(exc, step).message
        notes.append(f"{step}: {reason}")

    key_id = f"vault-probe-{algorithm.value}".encode()
    made, extractable = None, True
    # Session objects that could be backed up first; then what some modules insist on:
    # token objects only (tpm2-pkcs11 refuses CKA_TOKEN false), non-extractable only (it
    # refuses SENSITIVE and EXTRACTABLE together). Token objects are destroyed with the rest.
    attempts = ((False, True), (True, True), (False, False), (True, False))
    for n, (store, backup) in enumerate(attempts):
        try:
            made = generate_objects(p11, algorithm, "vault-probe", key_id, store=store, backup=backup)
        except (pkcs11.AttributeValueInvalid, pkcs11.TemplateInconsistent) as exc:
            if n == len(attempts) - 1:
                failed("generate", exc)
            continue
        except pkcs11.PKCS11Error as exc:
            failed("generate", exc)
            break
        extractable = backup
        if store:
            notes.append("generate: session objects refused, probed with token objects")
        if not backup:
            notes.append("generate: only non-extractable keys (sensitive and extractable refused), so no backup")
        break
    if made is None:
        return AlgorithmCapability(algorithm, **found, note="; ".join(notes))
    created.extend(made)
    found["generate"] = True
    target = made[-1]
    if algorithm.is_secret_key:
        check_values.append(objects.check_value(target) is not None)
    spki = None
    if algorithm.is_key_pair:
        spki = objects.spki_of(algorithm, made[0].get_attributes(list(objects.LIST_ATTRIBUTES)))
        try:
            signature = raw_sign(algorithm, target, PROBE_MESSAGE)
            software.verify_signature(software.spki_to_pem(spki), algorithm, PROBE_MESSAGE, signature)
            found["sign"] = True
        except (pkcs11.PKCS11Error, VaultError) as exc:
            failed("sign", exc)
    if kek is None or not extractable:
        if kek is None:
            notes.append("wrap/unwrap: not tried, the wrap mechanism failed its self-test")
        return AlgorithmCapability(algorithm, **found, note="; ".join(notes))
    mechanism = Mechanism(wrap_mechanism.value)
    blob = None
    try:
        blob = bytes(kek.wrap_key(target, mechanism=mechanism))
        plain = software.unwrap_offline(TEST_KEK, blob, algorithm)
        if algorithm.is_secret_key:
            ok = software.kcv(plain) == objects.aes_fingerprint(target, {A.CHECK_VALUE: objects.check_value(target)})
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
        expected_kcv = objects.aes_fingerprint(target, {A.CHECK_VALUE: objects.check_value(target)})
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
            ok = objects.aes_fingerprint(obj, {}) == expected_kcv
        else:
            signature = raw_sign(algorithm, obj, PROBE_MESSAGE)
            assert expected_spki is not None
            software.verify_signature(software.spki_to_pem(expected_spki), algorithm, PROBE_MESSAGE, signature)
            ok = True
        if not ok:
            raise HsmCheckFailed("the unwrapped key differs from the original")
        found["unwrap"] = True
    except (pkcs11.PKCS11Error, VaultError) as exc:
        failed("unwrap", exc)
    return AlgorithmCapability(algorithm, **found, note="; ".join(notes))


def _probe_rsa_4096(p11: Any, rsa_3072: AlgorithmCapability) -> AlgorithmCapability:
    # Decided, not generated: an RSA-4096 key pair takes seconds on a software token (and
    # longer on small HSMs), too slow for a probe run at every ceremony start. Generation is
    # decided from CKM_RSA_PKCS_KEY_PAIR_GEN's key-size range, signing from
    # CKM_SHA256_RSA_PKCS_PSS's; wrap and unwrap of an RSA private key do not depend on the
    # modulus size, so they follow the RSA-3072 probe, which did generate, sign, wrap and unwrap.
    slot = p11.token.slot
    try:
        mechanisms = set(slot.get_mechanisms())
    except pkcs11.PKCS11Error:
        mechanisms = set()

    def covers(mechanism: Mechanism) -> bool:
        if mechanism not in mechanisms:
            return False
        try:
            info = slot.get_mechanism_info(mechanism)
        except pkcs11.PKCS11Error:
            return False
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


def _offline_blob(algorithm: KeyAlgorithm) -> tuple[bytes, str | None, bytes | None]:
    """A blob made in software under the test KEK: (blob, expected KCV, expected SPKI)."""
    if algorithm.is_secret_key:
        key = os.urandom(32)
        return aes_key_wrap_with_padding(TEST_KEK, key), software.kcv(key), None
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
    return aes_key_wrap_with_padding(TEST_KEK, pkcs8), None, spki
