"""Key transport between two practice vaults, each with its own SoftHSM token: an AES key and an
EC key sent from A to B arrive with the same fingerprints and check values; a tampered file, a
request from an unpinned vault and a replayed file are each refused with nothing created."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest

from vault.errors import TransportRefused
from vault.operations import generate_key, initialise_token, open_token_session
from vault.operations.export import export_key
from vault.operations.transport import (VAULT_NAME_SETTING, make_import_request, pin_peer, receive_key,
                                        send_key)
from vault.types import KeyAlgorithm, KeyState, Mode
from vault.vault import Vault

from .conftest import new_share_set


class Side:
    """One vault: its home, quorum and token; ``session()`` opens it (one side at a time in a process)."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.vault = Vault.open(root / name)
        self.vault.store.start_ceremony(f"c-{name}", definition_name="test", definition_sha256="0" * 64,
                                        mode=Mode.PRACTICE)
        self.kit = new_share_set(self.vault, f"set-{name}")
        initialise_token(self.vault, self.kit.quorum, ceremony_id=f"c-{name}")
        self.vault.store.set_setting(VAULT_NAME_SETTING, name)

    @contextmanager
    def session(self):
        with open_token_session(self.vault, self.kit.quorum) as s:
            yield s
        self.release()

    def release(self):
        """Close this side's module so the other side's token directory can be loaded."""
        if self.vault._hsm is not None:
            self.vault._hsm.close()
            self.vault._hsm = None

    def close(self):
        self.kit.quorum.wipe()
        self.release()
        self.vault.close()


@pytest.fixture
def sides(tmp_path):
    a = Side(tmp_path, "vault-a")
    with a.session() as s:
        generate_key(a.vault, s, "a-signer", KeyAlgorithm.EC_P256)
        aes = generate_key(a.vault, s, "shared-dek", KeyAlgorithm.AES_256)
        ec = generate_key(a.vault, s, "shared-signer", KeyAlgorithm.EC_P384)
    a_pem = export_key(a.vault, "a-signer", "pem", None).data.decode()
    a.release()
    b = Side(tmp_path, "vault-b")
    with b.session() as s:
        generate_key(b.vault, s, "b-signer", KeyAlgorithm.EC_P256)
    b_pem = export_key(b.vault, "b-signer", "pem", None).data.decode()
    b.release()
    pin_peer(b.vault, "vault-a", a_pem)  # each side pins the other's signing key
    pin_peer(a.vault, "vault-b", b_pem)
    yield a, b, {"aes": aes, "ec": ec}
    a.close()
    b.close()


def _request(b, tmp_path, name="request.json"):
    with b.session() as s:
        return make_import_request(b.vault, s, "b-signer", tmp_path / name)


def _send(a, tmp_path, request, key, name):
    with a.session() as s:
        return send_key(a.vault, s, Path(request.path), key, "a-signer", tmp_path / name, quorum=a.kit.quorum)


def _objects(side) -> set:
    with side.session() as s:
        return {(k.label, k.fingerprint) for k in s.list_keys()}


def test_an_aes_and_an_ec_key_arrive_with_the_same_fingerprints(sides, tmp_path):
    a, b, sent = sides
    request = _request(b, tmp_path)
    assert json.loads(Path(request.path).read_text())["transport_key"]["fingerprint"] == request.fingerprint
    files = [_send(a, tmp_path, request, ref, f"{ref}.transport") for ref in ("shared-dek", "shared-signer")]
    for f in files:
        with b.session() as s:
            record = receive_key(b.vault, s, Path(f.path))
        original = sent["aes" if record.name == "shared-dek" else "ec"]
        assert (record.fingerprint, record.cka_id, record.purpose, record.state) == (
            original.fingerprint, original.cka_id, original.purpose, KeyState.ACTIVE)
    on_b = _objects(b)
    assert ("shared-dek", sent["aes"].fingerprint) in on_b  # KCV computed by B's HSM
    assert ("shared-signer", sent["ec"].fingerprint) in on_b  # SPKI fingerprint of B's object
    with b.session() as s:  # the EC key signs in B and verifies with A's public key
        from vault.operations.signing import sign_payload, verify_payload

        (tmp_path / "p").write_bytes(b"sent across")
        sign_payload(b.vault, s, "shared-signer", tmp_path / "p", tmp_path / "p.sig")
    verify_payload(export_key(a.vault, "shared-signer", "pem", None).data.decode(), tmp_path / "p", tmp_path / "p.sig")
    a.release()
    events = [e for e in b.vault.ledger.events() if e.action == "key.imported"]
    assert {e.details["from"] for e in events} == {"vault-a"} and len(events) == 2


def _unchanged(b):
    return len(b.vault.store.list_keys()), _objects(b), b.vault.ledger.head().seq


def test_tampered_replayed_and_unpinned_files_are_refused_with_nothing_created(sides, tmp_path):
    a, b, _ = sides
    request = _request(b, tmp_path)
    sent = _send(a, tmp_path, request, "shared-dek", "dek.transport")
    before = _unchanged(b)
    # tampered: one character of the wrapped key changed (the signature no longer verifies)
    body = json.loads(Path(sent.path).read_text())
    wrapped = body["wrapping"]["wrapped_key"]
    body["wrapping"]["wrapped_key"] = ("B" if wrapped[0] != "B" else "C") + wrapped[1:]
    tampered = tmp_path / "tampered.transport"
    tampered.write_text(json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n")
    (tmp_path / "tampered.transport.sig").write_bytes(Path(sent.path + ".sig").read_bytes())
    with b.session() as s, pytest.raises(TransportRefused, match="signature does not verify"):
        receive_key(b.vault, s, tampered)
    assert _unchanged(b) == before
    # a request from a vault A has not pinned
    c = Side(tmp_path, "vault-c")
    with c.session() as s:
        generate_key(c.vault, s, "c-signer", KeyAlgorithm.EC_P256)
        foreign = make_import_request(c.vault, s, "c-signer", tmp_path / "c-request.json")
    a_before = len(a.vault.store.list_keys()), a.vault.ledger.head().seq
    with a.session() as s, pytest.raises(TransportRefused, match="has not pinned"):
        send_key(a.vault, s, Path(foreign.path), "shared-dek", "a-signer", tmp_path / "to-c.transport",
                 quorum=a.kit.quorum)
    assert (len(a.vault.store.list_keys()), a.vault.ledger.head().seq) == a_before
    assert not (tmp_path / "to-c.transport").exists()
    c.close()
    # the genuine file imports once; replayed, it is refused
    with b.session() as s:
        receive_key(b.vault, s, Path(sent.path))
    after = _unchanged(b)
    with b.session() as s, pytest.raises(TransportRefused, match="already imported"):
        receive_key(b.vault, s, Path(sent.path))
    assert _unchanged(b) == after
