"""Envelope encryption through scripted ceremonies (ceremonies/examples/): encrypt under v1,
rotate, decrypt with v1 deactivated, rewrap to v2, raise the minimum decryption version, then
v1's file is refused and a file with one flipped bit is refused, with nothing written."""

from __future__ import annotations

import pytest

from console.cli import main as custodian
from support.ceremony_workspace import REVIEWED_ACTIONS, assert_reviewed_first, ENVELOPE_ORDER, Workspace
from vault.envelope import format as fmt
from vault.types import KeyState


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    return Workspace(tmp_path / "ws", monkeypatch)


def test_encrypt_rotate_decrypt_rewrap_raise_minimum(ws):
    for name in ("init", "generate-key", "plan-key", "activate"):
        ws.run_ok(name)
    media = ws.root / "media"
    for name in ENVELOPE_ORDER:
        ws.run_ok("rotate" if name == "rotate-dek-2027" else name, ws.root / f"{name}.toml")
        if name == "rotate-dek-2027":
            with ws.vault() as v:
                assert v.store.resolve_key("dek-2027@1").state is KeyState.DEACTIVATED
        if name == "decrypt":
            assert (media / "payload-decrypted.txt").read_bytes() == (ws.root / "payload.txt").read_bytes()
    with open(media / "payload.txt.v2.cce", "rb") as f:
        assert fmt.read_header(f).key_ref == "dek-2027@2"
    with ws.vault() as v:
        assert v.store.get_key_name("dek-2027").min_decryption_version == 2
    refused = ws.run("decrypt", ws.variant("decrypt", answers={"decrypt.output": "media/refused.txt"}))
    assert not refused.ok and "DECRYPT_REFUSED" in refused.one_line() and "minimum decryption version" in \
        refused.one_line()
    ws.run_ok("decrypt", ws.variant("decrypt", answers={"decrypt.input": "media/payload.txt.v2.cce",
                                                        "decrypt.output": "media/v2.txt"}))
    assert (media / "v2.txt").read_bytes() == (ws.root / "payload.txt").read_bytes()
    flipped = bytearray((media / "payload.txt.v2.cce").read_bytes())
    flipped[-5] ^= 0x04
    (media / "flipped.cce").write_bytes(bytes(flipped))
    bad = ws.run("decrypt", ws.variant("decrypt", answers={"decrypt.input": "media/flipped.cce",
                                                           "decrypt.output": "media/flipped.txt"}))
    assert not bad.ok and "ENVELOPE_CORRUPT" in bad.one_line()
    assert not (media / "flipped.txt").exists() and not (media / "refused.txt").exists()
    assert not list(media.glob("*.partial")) and not list(media.glob(".*partial"))
    assert custodian(["--home", str(ws.home), "ledger", "verify"]) == 0
    with ws.vault() as v:
        assert assert_reviewed_first(v, REVIEWED_ACTIONS - {"key.generated"}) >= 2  # generate-key reviews itself
