"""Key transport through scripted ceremonies on two practice vaults (two workspaces, two
tokens): B pins A and A pins B, B requests, A sends dek-2027 and an EC key, B imports both with
the same fingerprints; a replayed transport file is refused by the import ceremony."""

from __future__ import annotations

import shutil

import pytest

from console.cli import main as custodian
from support.ceremony_workspace import Workspace, assert_reviewed_first
from vault.types import KeyState


@pytest.fixture
def two(tmp_path, monkeypatch):
    return Workspace(tmp_path / "a", monkeypatch), Workspace(tmp_path / "b", monkeypatch)


def _export(ws, key, out):
    assert custodian(["--home", str(ws.home), "keys", "export", key, "--out", str(out)]) == 0


def test_two_vaults_transport_an_aes_and_an_ec_key(two):
    a, b = two
    for name in ("init", "generate-key", "plan-key", "activate"):
        a.run_ok(name)
    a.run_ok("generate-key", a.variant("generate-key", answers={"generate.label": "fleet-2027",
                                                                "backup.path": "media/fleet.ccb"}))
    for name in ("init", "generate-key"):
        b.run_ok(name)
    _export(a, "signer-2026", b.root / "media" / "vault-a-signer.pem")
    _export(b, "signer-2026", a.root / "media" / "vault-b-signer.pem")
    b.run_ok("pin-vault")
    a.run_ok("pin-vault", a.variant("pin-vault", answers={"pin.own-name": "vault-a", "pin.peer": "vault-b",
                                                         "pin.public-key": "media/vault-b-signer.pem"}))
    b.run_ok("transport-request")
    for suffix in ("", ".sig"):
        shutil.copy(b.root / "media" / f"request-vault-b.json{suffix}", a.root / "media")
    a.run_ok("transport")
    a.run_ok("transport", a.variant("transport", answers={"send.key": "fleet-2027",
                                                          "send.output": "media/fleet-2027.transport"}))
    for name in ("dek-2027.transport", "fleet-2027.transport"):
        for suffix in ("", ".sig"):
            shutil.copy(a.root / "media" / f"{name}{suffix}", b.root / "media")
    b.run_ok("import")
    b.run_ok("import", b.variant("import", answers={"import.transport": "media/fleet-2027.transport"}))
    with a.vault() as va, b.vault() as vb:
        for ref in ("dek-2027", "fleet-2027"):
            sent, got = va.store.resolve_key(ref), vb.store.resolve_key(ref)
            assert (got.fingerprint, got.cka_id, got.purpose, got.state) == (sent.fingerprint, sent.cka_id,
                                                                             sent.purpose, KeyState.ACTIVE)
    replay = b.run("import", b.variant("import"))
    assert not replay.ok and "already imported" in replay.one_line()
    for ws in (a, b):
        assert custodian(["--home", str(ws.home), "ledger", "verify"]) == 0
        with ws.vault() as v:
            assert assert_reviewed_first(v, {"peer.pinned", "transport.requested", "key.transported",
                                              "key.imported"}) >= 2
