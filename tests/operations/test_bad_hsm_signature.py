"""The HSM returns a bad signature: both software re-verification points refuse it.

The fault is injected below ``HsmSession.sign``, at the raw signing call
(``vault.hsm.signing.raw_sign``), on a real SoftHSM session: the token really signs, and one
bit of its answer is flipped on the way out, as a faulty or malicious HSM could return it.
SoftHSM itself never returns a bad signature, so this is the adapter boundary the guide allows.

1. ``HsmSession.sign`` verifies in software before returning: HSM_CHECK.
2. ``sign_payload`` verifies again before writing, independently of (1): with the first check
   removed (the software verify inside vault.hsm.signing made a no-op), it still refuses, and
   no signature file and no ledger event exist.
3. The sign ceremony: aborted at its sign step, nothing written.
"""

from __future__ import annotations

import pytest

import vault.hsm.signing as hsm_signing
from support.ceremony_workspace import Workspace
from vault.errors import HsmCheckFailed


@pytest.fixture
def corrupt_signatures(monkeypatch):
    real = hsm_signing.raw_sign

    def flipped(algorithm, private, data):
        sig = bytearray(real(algorithm, private, data))
        sig[-3] ^= 0x10
        return bytes(sig)

    monkeypatch.setattr(hsm_signing, "raw_sign", flipped)


@pytest.fixture
def with_key(tmp_path, monkeypatch) -> Workspace:
    ws = Workspace(tmp_path / "ws", monkeypatch)
    ws.replay("generate-key")
    return ws


def _session(ws, vault):
    from vault.secret import Secret
    from vault.shares import derive_user_pin

    pin = derive_user_pin(Secret(ws.quorum_secret()))
    return vault.hsm().open_session(vault.token, pin)


def test_hsm_session_sign_refuses_a_bad_signature(with_key: Workspace, corrupt_signatures):
    ws = with_key
    with ws.vault() as vault, _session(ws, vault) as session:
        key = session.get_key("signer-2026")
        with pytest.raises(HsmCheckFailed, match="did not verify in software"):
            session.sign(key, b"payload")


def test_sign_payload_refuses_it_even_without_the_first_check(with_key: Workspace, corrupt_signatures, monkeypatch):
    from vault.operations.signing import sign_payload

    ws = with_key
    monkeypatch.setattr(hsm_signing.software, "verify_signature", lambda *a, **k: None)  # check 1 removed
    out = ws.root / "media" / "bad.sig"
    with ws.vault() as vault, _session(ws, vault) as session:
        before = vault.ledger.head().seq
        with pytest.raises(HsmCheckFailed, match="did not verify in software; nothing was written"):
            sign_payload(vault, session, "signer-2026", ws.root / "payload.txt", out)
        assert vault.ledger.head().seq == before
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".bad.sig")]


def test_the_sign_ceremony_stops_at_its_sign_step_and_writes_nothing(with_key: Workspace, corrupt_signatures):
    ws = with_key
    before = ws.snapshot()
    result = ws.run("sign")
    assert not result.ok
    assert "aborted at step 4 'sign': HSM_CHECK: " in result.one_line()
    assert not (ws.root / "media" / "payload.sig").exists()
    ws.assert_unchanged(before, result.outcome.ceremony_id)
