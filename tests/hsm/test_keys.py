"""Key life cycle on real SoftHSM tokens: generate, fingerprint, export, sign, wrap,
offline unwrap, restore into a second token, destroy."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import vault.hsm.generation as generation_module
from tests.hsm.conftest import require, signing_algorithm
from vault import errors as ve
from vault.hsm import HSM_LOCK, KeyObject, unwrap_offline, verify_signature
from vault.hsm import purposes
from vault.secret import Secret
from vault.types import KeyAlgorithm

KEK = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
MESSAGE = b"ceremony transcript v1"

# RSA-4096 runs by default: its whole life cycle took about 3-5 s here (key generation
# dominates and varies); VAULT_SKIP_SLOW=1 skips it for quick local runs.
SLOW = pytest.mark.skipif(bool(os.environ.get("VAULT_SKIP_SLOW")), reason="VAULT_SKIP_SLOW set")
ALGORITHMS = [pytest.param(a, marks=SLOW) if a is KeyAlgorithm.RSA_4096 else a for a in KeyAlgorithm]


def independent_verify(public_pem: str, algorithm: KeyAlgorithm, data: bytes, signature: bytes) -> None:
    """The test's own verification with cryptography, independent of vault.hsm.software."""
    key = serialization.load_pem_public_key(public_pem.encode())
    if algorithm is KeyAlgorithm.ED25519:
        assert isinstance(key, ed25519.Ed25519PublicKey)
        key.verify(signature, data)
    elif algorithm in (KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384):
        assert isinstance(key, ec.EllipticCurvePublicKey)
        digest = hashes.SHA256() if algorithm is KeyAlgorithm.EC_P256 else hashes.SHA384()
        assert key.curve.name == ("secp256r1" if algorithm is KeyAlgorithm.EC_P256 else "secp384r1")
        key.verify(signature, data, ec.ECDSA(digest))
    else:
        assert isinstance(key, rsa.RSAPublicKey)
        assert key.key_size == (3072 if algorithm is KeyAlgorithm.RSA_3072 else 4096)
        assert key.public_numbers().e == 65537
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        key.verify(signature, data, pss, hashes.SHA256())


def offline_fingerprint(algorithm: KeyAlgorithm, plain: bytes) -> str:
    if algorithm is KeyAlgorithm.AES_256:
        enc = Cipher(algorithms.AES(plain), modes.ECB()).encryptor()
        return "kcv:" + enc.update(bytes(16))[:3].hex()
    private = serialization.load_der_private_key(plain, None)
    spki = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_life_cycle(hsm_module, hsm_session, second_token, token_pins, algorithm):
    caps = hsm_session.probe()
    if not caps[algorithm].generate:
        pytest.skip(f"the token cannot generate {algorithm.value}")
    backup = caps[algorithm].backup
    key = hsm_session.generate("master-1", algorithm, backup=backup)
    assert key.label == "master-1" and key.algorithm is algorithm and len(key.key_id) == 32
    assert key.extractable is backup
    assert hsm_session.list_keys() == [key]
    assert hsm_session.get_key("master-1") == key

    public_pem = None
    if algorithm.is_key_pair:
        assert key.has_private and key.has_public
        public_pem = hsm_session.public_key_pem(key)
        spki = serialization.load_pem_public_key(public_pem.encode()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert key.fingerprint == "sha256:" + hashlib.sha256(spki).hexdigest()
        signature = hsm_session.sign(key, MESSAGE)
        independent_verify(public_pem, algorithm, MESSAGE, signature)
        verify_signature(public_pem, algorithm, MESSAGE, signature)
        with pytest.raises(ve.SignatureInvalid):
            verify_signature(public_pem, algorithm, MESSAGE + b"!", signature)
    else:
        assert key.fingerprint.startswith("kcv:") and len(key.fingerprint) == 10
        with pytest.raises(ve.MechanismUnsupported):
            hsm_session.sign(key, MESSAGE)

    if backup:
        wkey = hsm_session.import_wrapping_key(Secret(KEK))
        blob = hsm_session.wrap(wkey, key)
        plain = unwrap_offline(KEK, blob, algorithm)
        assert offline_fingerprint(algorithm, plain) == key.fingerprint
        with pytest.raises(ve.WrappedKeyInvalid):
            unwrap_offline(bytes(32), blob, algorithm)

        public_der = None
        if public_pem:
            public_der = serialization.load_pem_public_key(public_pem.encode()).public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        with hsm_module.open_session(second_token, token_pins.user) as target:
            wkey2 = target.import_wrapping_key(Secret(KEK))
            assert wkey2.kcv == wkey.kcv
            restored = target.unwrap(wkey2, blob, key, public_der=public_der)
            assert restored == key
            assert target.list_keys() == [key]  # fingerprint recomputed from the token
            if algorithm.is_key_pair:
                sig2 = target.sign(restored, MESSAGE)
                independent_verify(public_pem, algorithm, MESSAGE, sig2)
            with pytest.raises(ve.LabelExists):
                target.unwrap(wkey2, blob, key, public_der=public_der)
            target.destroy(restored)
            assert target.list_keys() == []
    else:
        wkey = hsm_session.import_wrapping_key(Secret(KEK))
        with pytest.raises(ve.KeyNotWrappable):
            hsm_session.wrap(wkey, key)

    hsm_session.destroy(key)
    assert hsm_session.list_keys() == []
    with pytest.raises(ve.KeyNotFound):
        hsm_session.get_key("master-1")
    with pytest.raises(ve.KeyNotFound):
        hsm_session.destroy(key)


def test_label_exists_refused_and_nothing_created(hsm_session):
    first = hsm_session.generate("dup", KeyAlgorithm.AES_256, backup=False)
    with pytest.raises(ve.LabelExists):
        hsm_session.generate("dup", KeyAlgorithm.AES_256, backup=False)
    assert hsm_session.list_keys() == [first]


def test_backup_false_keys_are_never_wrappable(hsm_session):
    require(hsm_session, wrap=True)
    key = hsm_session.generate("no-backup", KeyAlgorithm.AES_256, backup=False)
    assert not key.extractable
    wkey = hsm_session.import_wrapping_key(Secret(KEK))
    with pytest.raises(ve.KeyNotWrappable):
        hsm_session.wrap(wkey, key)
    # Even bypassing the vault's own check, the token refuses (CKA_EXTRACTABLE false).
    with pytest.raises(ve.KeyNotWrappable):
        hsm_session.wrap(wkey, _as_extractable(key))


def _as_extractable(key: KeyObject) -> KeyObject:
    return KeyObject(key.label, key.key_id, key.algorithm, key.fingerprint, True, key.has_private, key.has_public)


def test_ed25519_backup_refused_before_anything_is_created(hsm_session):
    require(hsm_session, KeyAlgorithm.ED25519, generate=True)
    with pytest.raises(ve.KeyNotWrappable, match="ed25519"):
        hsm_session.generate("ed", KeyAlgorithm.ED25519, backup=True)
    assert hsm_session.list_keys() == []
    key = hsm_session.generate("ed", KeyAlgorithm.ED25519, backup=False)
    assert key.fingerprint.startswith("sha256:") and not key.extractable


def test_failed_post_generation_check_destroys_the_key(hsm_session, monkeypatch):
    """SoftHSM always makes what it is asked for, so the failing check is injected at the
    boundary (the check function), not in PKCS#11."""
    monkeypatch.setattr(generation_module, "check_generated", lambda *a, **k: ["injected: modulus too short"])
    with pytest.raises(ve.HsmCheckFailed, match="injected"):
        hsm_session.generate("checked", KeyAlgorithm.AES_256, backup=False)
    assert hsm_session.list_keys() == []
    assert not list(hsm_session._session.get_objects())


def test_tampered_blob_and_wrong_kek(hsm_session, second_token, hsm_module, token_pins):
    key = hsm_session.generate("k", KeyAlgorithm.AES_256)
    blob = hsm_session.wrap(hsm_session.import_wrapping_key(Secret(KEK)), key)
    with hsm_module.open_session(second_token, token_pins.user) as target:
        wkey = target.import_wrapping_key(Secret(KEK))
        tampered = blob[:-1] + bytes([blob[-1] ^ 1])
        with pytest.raises(ve.WrappedKeyInvalid):
            target.unwrap(wkey, tampered, key, public_der=None)
        other = target.import_wrapping_key(Secret(bytes(32)))
        with pytest.raises(ve.WrappedKeyInvalid):
            target.unwrap(other, blob, key, public_der=None)
        assert target.list_keys() == []


def test_wrap_many_and_unwrap_many(hsm_session, second_token, hsm_module, token_pins):
    keys = [hsm_session.generate(f"k{i}", a) for i, a in enumerate([KeyAlgorithm.AES_256, KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384])]
    wkey = hsm_session.import_wrapping_key(Secret(KEK))
    blobs = list(hsm_session.wrap_many(wkey, keys))
    assert [k for k, _ in blobs] == keys
    ders = {k.label: (serialization.load_pem_public_key(hsm_session.public_key_pem(k).encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) if k.algorithm.is_key_pair else None)
        for k in keys}
    items = [(k, b, ders[k.label]) for k, b in blobs]
    with hsm_module.open_session(second_token, token_pins.user) as target:
        t_wkey = target.import_wrapping_key(Secret(KEK))
        # A clash on the last label: refused before anything is unwrapped.
        target.generate("k2", KeyAlgorithm.AES_256, backup=False)
        with pytest.raises(ve.LabelExists, match="k2"):
            target.unwrap_many(t_wkey, items)
        assert [k.label for k in target.list_keys()] == ["k2"]
        target.destroy(target.get_key("k2"))
        # A bad blob in the middle: the keys restored before it are destroyed again.
        bad = [items[0], (items[1][0], items[1][1][:-8], items[1][2]), items[2]]
        with pytest.raises(ve.WrappedKeyInvalid):
            target.unwrap_many(t_wkey, bad)
        assert target.list_keys() == []
        assert target.unwrap_many(t_wkey, items) == keys
        assert target.list_keys() == keys


def test_restore_as_session_objects_leaves_nothing(hsm_session, second_token, hsm_module, token_pins):
    key = hsm_session.generate("drill", KeyAlgorithm.EC_P256)
    der = serialization.load_pem_public_key(hsm_session.public_key_pem(key).encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    blob = hsm_session.wrap(hsm_session.import_wrapping_key(Secret(KEK)), key)
    with hsm_module.open_session(second_token, token_pins.user) as target:
        restored = target.unwrap(target.import_wrapping_key(Secret(KEK)), blob, key, public_der=der, store=False)
        assert restored.fingerprint == key.fingerprint
        target.sign(restored, MESSAGE)
        assert target.list_keys() == []  # session objects only


def test_restore_checks_the_public_key_against_the_fingerprint(hsm_session, second_token, hsm_module, token_pins):
    key = hsm_session.generate("pair", KeyAlgorithm.EC_P256)
    other = hsm_session.generate("other", KeyAlgorithm.EC_P256)
    other_der = serialization.load_pem_public_key(hsm_session.public_key_pem(other).encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    blob = hsm_session.wrap(hsm_session.import_wrapping_key(Secret(KEK)), key)
    with hsm_module.open_session(second_token, token_pins.user) as target:
        wkey = target.import_wrapping_key(Secret(KEK))
        with pytest.raises(ve.WrappedKeyInvalid, match="fingerprint"):
            target.unwrap(wkey, blob, key, public_der=other_der)
        # A lying fingerprint: the signature check of the unwrapped key catches it.
        forged = KeyObject(key.label, key.key_id, key.algorithm, other.fingerprint, True, True, True)
        with pytest.raises(ve.HsmCheckFailed, match="does not match its public key"):
            target.unwrap(wkey, blob, forged, public_der=other_der)
        assert target.list_keys() == []


def test_wrapping_key_is_session_bound(hsm_session):
    require(hsm_session, wrap=True)
    wkey = hsm_session.import_wrapping_key(Secret(KEK))
    assert "KEK" not in repr(wkey) and KEK.hex() not in repr(wkey)
    hsm_session.destroy_wrapping_key(wkey)
    key = hsm_session.generate("k", KeyAlgorithm.AES_256)
    with pytest.raises(ve.HsmError, match="destroyed"):
        hsm_session.wrap(wkey, key)


def test_list_keys_is_one_pass(hsm_session, monkeypatch):
    for i in range(5):
        hsm_session.generate(f"aes-{i}", KeyAlgorithm.AES_256, backup=False)
    searches = []
    original = hsm_session._session.get_objects

    def counting(*args, **kwargs):
        searches.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(hsm_session, "_session", _Proxy(hsm_session._session, get_objects=counting))
    keys = hsm_session.list_keys()
    assert len(keys) == 5 and len(searches) == 1


class _Proxy:
    """Wraps the python-pkcs11 session to count searches; every call goes to the real token."""

    def __init__(self, real, **overrides):
        self._real, self._overrides = real, overrides

    def __getattr__(self, name):
        return self._overrides.get(name) or getattr(self._real, name)


def test_restored_keys_are_sensitive(hsm_session, second_token, hsm_module, token_pins):
    """SoftHSM defaults CKA_SENSITIVE to False after C_UnwrapKey; the template says True."""
    from pkcs11 import Attribute as A, ObjectClass

    keys = [hsm_session.generate("s-aes", KeyAlgorithm.AES_256), hsm_session.generate("s-ec", KeyAlgorithm.EC_P256)]
    wkey = hsm_session.import_wrapping_key(Secret(KEK))
    der = serialization.load_pem_public_key(hsm_session.public_key_pem(keys[1]).encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    items = [(k, b, der if k.algorithm.is_key_pair else None) for k, b in hsm_session.wrap_many(wkey, keys)]
    with hsm_module.open_session(second_token, token_pins.user) as target:
        target.unwrap_many(target.import_wrapping_key(Secret(KEK)), items)
        secret_parts = [o for o in target._session.get_objects({A.TOKEN: True}) if o[A.CLASS] != ObjectClass.PUBLIC_KEY]
        assert len(secret_parts) == 2
        for obj in secret_parts:
            assert obj.get_attributes([A.SENSITIVE, A.EXTRACTABLE, A.PRIVATE]) == {
                A.SENSITIVE: True, A.EXTRACTABLE: True, A.PRIVATE: True}


def test_bulk_public_keys_and_check_unwrap(hsm_session):
    require(hsm_session, KeyAlgorithm.ED25519, generate=True)
    require(hsm_session, wrap=True)
    keys = [hsm_session.generate("b-aes", KeyAlgorithm.AES_256), hsm_session.generate("b-ec", KeyAlgorithm.EC_P256),
            hsm_session.generate("b-ed", KeyAlgorithm.ED25519, backup=False)]
    pems = hsm_session.public_keys_pem(keys)
    assert set(pems) == {"b-ec", "b-ed"}
    assert pems["b-ec"] == hsm_session.public_key_pem(keys[1])
    wkey = hsm_session.import_wrapping_key(Secret(KEK))
    der = serialization.load_pem_public_key(pems["b-ec"].encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    items = [(k, b, der if k.algorithm.is_key_pair else None) for k, b in hsm_session.wrap_many(wkey, keys[:2])]
    assert hsm_session.check_unwrap_many(wkey, items) == 2
    assert hsm_session.list_keys() == sorted(keys, key=lambda k: k.label)
    objects_before = len(list(hsm_session._session.get_objects()))
    with pytest.raises(ve.WrappedKeyInvalid):
        hsm_session.check_unwrap_many(wkey, [(items[0][0], items[0][1][:-8], None)])
    assert len(list(hsm_session._session.get_objects())) == objects_before


@pytest.mark.parametrize("label", ["", "tab\there", "x" * 129])
def test_bad_key_labels_are_refused(hsm_session, label):
    with pytest.raises(ve.LabelInvalid):
        hsm_session.generate(label, KeyAlgorithm.AES_256, backup=False)
    assert hsm_session.list_keys() == []


def test_generation_falls_back_when_the_token_rejects_the_template(hsm_session, monkeypatch):
    """SoftHSM accepts the explicit templates, so the rejected combination is injected at the
    template boundary: a private-key template that also forbids CKA_ENCRYPT (a public-key
    attribute SoftHSM and opencryptoki refuse on a private key). The explicit and the
    public-defaults variants are refused; capability-defaults, which leaves prohibitions to the
    token, is accepted. These tokens default the prohibitions to True, so the post-generation
    purpose check refuses the key and nothing is left: a fallback never weakens a key silently."""
    from pkcs11 import Attribute as A

    from vault.hsm import generation as gen
    from vault.hsm import templates

    real = templates.private_key
    monkeypatch.setattr(templates, "private_key", lambda *a, **k: {**real(*a, **k), A.ENCRYPT: False})
    algorithm = signing_algorithm(hsm_session)
    with HSM_LOCK:
        variant, made = gen.generate_with_fallbacks(hsm_session.p11, algorithm, "fallback", b"fb",
                                                    store=False, backup=False)
        try:
            assert variant == "capability-defaults"
            assert gen.check_generated(algorithm, made, store=False, backup=False) == []
            problems = purposes.check(False, made, None)
            assert "ENCRYPT is True, expected False" in problems
        finally:
            for obj in made:
                obj.destroy()
    with pytest.raises(ve.HsmCheckFailed, match="ENCRYPT is True, expected False"):
        hsm_session.generate("fallback", algorithm, backup=False)
    assert hsm_session.list_keys() == []
