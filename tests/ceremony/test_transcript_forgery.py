"""Transcripts are bound by signatures, not only by unkeyed hashes.

Each forgery here recomputes every hash, digest and the end head by the verifier's own rules
(support/transcript_forge.py), so the only thing left to catch it is the keyed check under
test: a participant's Ed25519 signature, or a pinned public key. Each test first shows that the
untouched transcript, resealed the same way, still verifies.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from console.cli import main as custodian
from support.ceremony_workspace import Workspace
from support.transcript_forge import forged, reseal
from vault.ceremony import transcript as T


@pytest.fixture
def signed(ws: Workspace):
    """The init ceremony's transcript (seven attestations) and the participants' real keys."""
    result = ws.run_ok("init")
    with ws.vault() as v:
        t = T.build(v, result.outcome.ceremony_id)
        keys = {c.name: c.public_key_pem for c in v.store.list_custodians()}
    t = json.loads(T.to_json(t))
    assert T.verify(t).ok and len(t["attestations"]) == 7
    assert T.verify(reseal(json.loads(json.dumps(t)))).ok, "resealing an untouched transcript must verify"
    return t, keys


def _flip_signature_byte(t: dict, index: int = 2) -> None:
    sig = bytearray.fromhex(t["attestations"][index]["signature_hex"])
    sig[10] ^= 0x01
    t["attestations"][index]["signature_hex"] = sig.hex()


def test_one_byte_of_a_signature_fails_on_the_signature_alone(signed, tmp_path, capsys):
    t, _ = signed
    bad = forged(t, _flip_signature_byte)
    name = bad["attestations"][2]["participant"]
    report = T.verify(bad)
    assert not report.ok
    assert report.problems == [f"attestation of {name}: signature does not verify"]
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(bad))
    capsys.readouterr()
    assert custodian(["transcript", "verify", str(path)]) == 1
    out, err = capsys.readouterr()
    assert f"problem: attestation of {name}: signature does not verify" in out
    assert err.startswith("error: TRANSCRIPT_INVALID: ")


def test_a_signature_moved_to_another_attestation_fails(signed):
    t, _ = signed

    def swap(x):
        a, b = x["attestations"][0], x["attestations"][1]
        a["signature_hex"], b["signature_hex"] = b["signature_hex"], a["signature_hex"]

    report = T.verify(forged(t, swap))
    assert not report.ok and all("signature does not verify" in p for p in report.problems)
    assert len(report.problems) == 2


def _pinned_file(tmp_path, keys: dict[str, str], name: str = "pinned.json"):
    path = tmp_path / name
    path.write_text(json.dumps(keys))
    return path


def test_pinned_keys_the_right_ones_pass_and_a_different_one_fails(signed, tmp_path, capsys):
    t, keys = signed
    path = tmp_path / "t.json"
    path.write_text(json.dumps(t))
    capsys.readouterr()
    assert custodian(["transcript", "verify", str(path), "--pinned-keys", str(_pinned_file(tmp_path, keys))]) == 0
    assert "transcript OK" in capsys.readouterr().out

    other = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    wrong = _pinned_file(tmp_path, {**keys, "bob": other}, "wrong.json")
    assert custodian(["transcript", "verify", str(path), "--pinned-keys", str(wrong)]) == 1
    out, _ = capsys.readouterr()
    assert "problem: attestation of bob: embedded key differs from the pinned key" in out
    report = T.verify(t, {**keys, "bob": other})
    assert report.problems == ["attestation of bob: embedded key differs from the pinned key"]


def test_a_key_pinned_in_another_pem_wrapping_is_the_same_key(signed):
    t, keys = signed
    rewrapped = {n: pem.replace("\n", "\r\n") for n, pem in keys.items()}
    assert T.verify(t, rewrapped).ok


def test_a_participant_missing_from_the_pinned_keys_fails(signed):
    t, keys = signed
    del keys["alice"]
    assert T.verify(t, keys).problems == ["attestation of alice: no pinned public key"]
