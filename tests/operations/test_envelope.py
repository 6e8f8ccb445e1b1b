"""Envelope encryption through the HSM: encrypt under v1, rotate, decrypt with v1 deactivated,
rewrap to v2, raise the minimum decryption version, v1 refused; any changed bit refused, with
nothing written."""

from __future__ import annotations

import os

import pytest

from vault.envelope import format as fmt
from vault.errors import (DecryptionRefused, EnvelopeCorrupt, KeyNotActive, OutputExists, PurposeMismatch,
                          WrappedKeyInvalid)
from vault.operations import generate_key
from vault.operations.envelope import (RecordCipher, decrypt_file, decrypt_record, encrypt_file, encrypt_record,
                                       raise_min_decryption_version, rewrap_file)
from vault.operations.keys import compromise_key, rotate_key
from vault.types import KeyAlgorithm, KeyPurpose, KeyState

from .conftest import CEREMONY, last_event


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "ledger-export.csv"
    path.write_bytes(os.urandom(3 * 1000 + 17))  # several chunks of 1000 bytes and a short last one
    return path


def test_encrypt_rotate_decrypt_rewrap_and_the_minimum_version(practice_vault, session, plain, tmp_path):
    generate_key(practice_vault, session, "dek", KeyAlgorithm.AES_256, purpose=KeyPurpose.WRAP)
    v1 = tmp_path / "v1.cce"
    result = encrypt_file(practice_vault, session, "dek", plain, v1, chunk_size=1000, ceremony_id=CEREMONY)
    assert result.key == "dek@1" and plain.read_bytes() not in v1.read_bytes()
    with open(v1, "rb") as f:
        assert fmt.read_header(f).key_ref == "dek@1"  # the header names key and version
    rotate_key(practice_vault, session, "dek", ceremony_id=CEREMONY)
    assert practice_vault.store.resolve_key("dek@1").state is KeyState.DEACTIVATED
    out = tmp_path / "back.csv"
    decrypt_file(practice_vault, session, v1, out)  # a deactivated version still decrypts
    assert out.read_bytes() == plain.read_bytes()
    v2 = tmp_path / "v2.cce"
    rewrap_file(practice_vault, session, v1, v2, ceremony_id=CEREMONY)
    with open(v1, "rb") as a, open(v2, "rb") as b:
        assert fmt.read_header(b).key_ref == "dek@2"
        fmt.read_header(a)
        assert a.read() == b.read()  # the body is unchanged: only the wrapped data key moved
    assert last_event(practice_vault, "envelope.rewrapped").details["previous_key"] == "dek@1"
    raise_min_decryption_version(practice_vault, "dek", 2, ceremony_id=CEREMONY)
    with pytest.raises(DecryptionRefused, match="below the minimum decryption version"):
        decrypt_file(practice_vault, session, v1, tmp_path / "refused.csv")
    assert not (tmp_path / "refused.csv").exists()
    decrypt_file(practice_vault, session, v2, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == plain.read_bytes()


@pytest.mark.parametrize("where", ["body-first", "body-last", "tag", "header-wrapped-key", "truncated", "extended",
                                   "chunk-swap"])
def test_a_changed_file_is_refused_and_nothing_is_written(practice_vault, session, plain, tmp_path, where):
    generate_key(practice_vault, session, "dek", KeyAlgorithm.AES_256, purpose=KeyPurpose.WRAP)
    enc = tmp_path / "f.cce"
    encrypt_file(practice_vault, session, "dek", plain, enc, chunk_size=1000)
    data = bytearray(enc.read_bytes())
    body = data.index(b"\n") + 1
    if where == "body-first":
        data[body] ^= 0x01
    elif where == "body-last":
        data[-20] ^= 0x80
    elif where == "tag":
        data[-1] ^= 0x01
    elif where == "header-wrapped-key":
        header = bytes(data[:body]).replace(b'"wrapped_key":"', b'"wrapped_key":"A', 1)
        import base64, json
        h = json.loads(data[:body])
        raw = bytearray(base64.b64decode(h["wrapped_key"]))
        raw[3] ^= 0x01
        h["wrapped_key"] = base64.b64encode(bytes(raw)).decode()
        data = bytearray(json.dumps(h, sort_keys=True, separators=(",", ":")).encode() + b"\n") + data[body:]
    elif where == "truncated":
        data = data[: body + 2 * 1016]  # cut at a chunk boundary: the last chunk left is not marked final
    elif where == "extended":
        data += data[body:body + 1016]
    else:
        data[body:body + 2032] = data[body + 1016:body + 2032] + data[body:body + 1016]
    enc.write_bytes(bytes(data))
    with pytest.raises((EnvelopeCorrupt, WrappedKeyInvalid)):
        decrypt_file(practice_vault, session, enc, tmp_path / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["f.cce", "home", plain.name])  # no output, no partial


def test_encryption_needs_an_active_wrap_key_and_decryption_refuses_compromised_versions(practice_vault, session,
                                                                                          plain, tmp_path):
    generate_key(practice_vault, session, "data", KeyAlgorithm.AES_256)  # purpose encrypt: not a wrap key
    with pytest.raises(PurposeMismatch):
        encrypt_file(practice_vault, session, "data", plain, tmp_path / "x.cce")
    generate_key(practice_vault, session, "dek", KeyAlgorithm.AES_256, purpose=KeyPurpose.WRAP)
    enc = tmp_path / "f.cce"
    encrypt_file(practice_vault, session, "dek", plain, enc)
    with pytest.raises(OutputExists):
        encrypt_file(practice_vault, session, "dek", plain, enc)
    compromise_key(practice_vault, "dek", reason="practice: the wrap key leaked")
    with pytest.raises(DecryptionRefused, match="compromised: what it protected is not trusted"):
        decrypt_file(practice_vault, session, enc, tmp_path / "out")
    with pytest.raises(KeyNotActive):
        encrypt_file(practice_vault, session, "dek", plain, tmp_path / "y.cce")
    assert not (tmp_path / "out").exists() and not (tmp_path / "y.cce").exists()


def test_records_round_trip(practice_vault, session):
    key = generate_key(practice_vault, session, "dek", KeyAlgorithm.AES_256, purpose=KeyPurpose.WRAP)
    cipher = RecordCipher(practice_vault, session, "dek")
    for size in (0, 1, 1024, 5000):
        record = os.urandom(size)
        assert decrypt_record(session, practice_vault, encrypt_record(session, key, record)) == record
        blob = cipher.encrypt(record)
        assert cipher.decrypt(blob) == record and decrypt_record(session, practice_vault, blob) == record
        with pytest.raises(EnvelopeCorrupt):
            cipher.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]))
