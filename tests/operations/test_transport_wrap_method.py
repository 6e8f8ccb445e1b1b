"""The HSM profile decides how a key is wrapped for transport (``transport_wrap``), and a receiver
reads both layouts of a transport file.

``oaep-then-kwp`` (every shipped profile's default) wraps an ephemeral AES key with RSA-OAEP and
the key under it with RFC 5649, in two calls. ``rsa-aes-key-wrap`` is CKM_RSA_AES_KEY_WRAP's one
call; no module installable here offers it, so a profile asking for it is refused before anything
is made. Its layout (one blob, OAEP block first) carries the same bytes, so the receiver accepts
it: the test builds such a blob with `cryptography` by the steps of PKCS#11 v2.40 section 2.1.21,
not with the console's code, and B's HSM imports the key with the check value A recorded."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from vault.errors import MechanismUnsupported, WrappedKeyInvalid
from vault.hsm.transport import split_rsa_aes_blob
from vault.operations.signing import sign_payload
from vault.operations.transport import _canonical, make_import_request, receive_key, send_key
from vault.types import KeyState

from .test_transport import _objects, sides  # noqa: F401  (the two-vault fixture)


def _profile_asks(side, method: str) -> None:
    """custodian.toml's [hsm.profile_override] transport_wrap, as loaded."""
    config = side.vault.home.config
    side.vault.home = replace(side.vault.home, config=replace(
        config, profile_override=tuple(sorted({**dict(config.profile_override), "transport_wrap": method}.items()))))


def _request(b, tmp_path):
    with b.session() as s:
        return make_import_request(b.vault, s, "b-signer", tmp_path / "request.json")


def test_the_default_writes_the_two_step_layout_and_names_it(sides, tmp_path):  # noqa: F811
    a, b, _ = sides
    request = _request(b, tmp_path)
    with a.session() as s:
        sent = send_key(a.vault, s, Path(request.path), "shared-dek", "a-signer", tmp_path / "dek.transport",
                        quorum=a.kit.quorum)
    wrapping = json.loads(Path(sent.path).read_text())["wrapping"]
    assert (wrapping["method"], wrapping["rsa_aes_key_wrap_offered"]) == ("oaep-then-kwp", False)
    assert {"wrapped_ephemeral", "wrapped_key"} <= set(wrapping) and "wrapped" not in wrapping


def test_a_profile_asking_for_the_one_shot_mechanism_the_token_lacks_is_refused_before_anything_is_made(
        sides, tmp_path):  # noqa: F811
    a, b, _ = sides
    request = _request(b, tmp_path)
    _profile_asks(a, "rsa-aes-key-wrap")
    before = len(a.vault.store.list_keys()), a.vault.ledger.head().seq, _objects(a)
    with a.session() as s, pytest.raises(MechanismUnsupported) as refused:
        send_key(a.vault, s, Path(request.path), "shared-dek", "a-signer", tmp_path / "dek.transport",
                 quorum=a.kit.quorum)
    line = refused.value.one_line()
    assert "\n" not in line and "rsa-aes-key-wrap" in line and "CKM_RSA_AES_KEY_WRAP" in line
    assert "does not list" in line and 'transport_wrap = "oaep-then-kwp"' in refused.value.next_step
    assert (len(a.vault.store.list_keys()), a.vault.ledger.head().seq, _objects(a)) == before
    assert not (tmp_path / "dek.transport").exists() and not (tmp_path / "dek.transport.sig").exists()


def _kcv(key: bytes) -> str:
    block = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(bytes(16))
    return "kcv:" + block[:3].hex()


def test_a_file_in_the_one_shot_layout_made_by_the_specification_imports(sides, tmp_path):  # noqa: F811
    """Both directions of interoperation: this receiver (two calls) opens a CKM_RSA_AES_KEY_WRAP
    blob; the sender's two-step output, concatenated, is that blob (checked on its length split)."""
    a, b, _ = sides
    request = _request(b, tmp_path)
    with a.session() as s:
        genuine = send_key(a.vault, s, Path(request.path), "shared-dek", "a-signer", tmp_path / "dek.transport",
                           quorum=a.kit.quorum)
    body = json.loads(Path(genuine.path).read_text())
    wrapping = body["wrapping"]
    # the sender's two parts, concatenated, split back at the transport key's length (3072 bits)
    two = base64.b64decode(wrapping["wrapped_ephemeral"]), base64.b64decode(wrapping["wrapped_key"])
    assert split_rsa_aes_blob(two[0] + two[1], 384) == two and len(two[0]) == 384
    # a new AES key wrapped by the specification's steps, in software
    transport_pub = serialization.load_pem_public_key(
        json.loads(Path(request.path).read_text())["transport_key"]["public_key_pem"].encode())
    key, ephemeral = os.urandom(32), os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    blob = transport_pub.encrypt(ephemeral, oaep) + aes_key_wrap_with_padding(ephemeral, key)
    body["transfer_id"] = secrets.token_hex(16)
    body["key"] = {**body["key"], "name": "spec-dek", "fingerprint": _kcv(key), "cka_id": secrets.token_hex(8)}
    body["wrapping"] = {k: v for k, v in wrapping.items() if k not in ("wrapped_ephemeral", "wrapped_key")} | {
        "method": "rsa-aes-key-wrap", "key_wrap": "AES_KEY_WRAP_KWP", "oaep_hash": "sha1",
        "wrapped": base64.b64encode(blob).decode()}
    one_shot = tmp_path / "spec.transport"
    one_shot.write_bytes(_canonical(body))
    with a.session() as s:  # signed by A's pinned signer, as A's console would
        sign_payload(a.vault, s, "a-signer", one_shot, tmp_path / "spec.transport.sig")
    a.release()
    with b.session() as s:
        record = receive_key(b.vault, s, one_shot)
    assert (record.name, record.fingerprint, record.state) == ("spec-dek", _kcv(key), KeyState.ACTIVE)
    assert ("spec-dek", _kcv(key)) in _objects(b)  # the check value computed by B's HSM


def test_a_one_shot_blob_of_the_wrong_length_is_refused_by_name():
    with pytest.raises(WrappedKeyInvalid, match="not an RSA-3072 OAEP block"):
        split_rsa_aes_blob(bytes(384 + 12), 384)
    with pytest.raises(WrappedKeyInvalid):
        split_rsa_aes_blob(bytes(200), 384)
