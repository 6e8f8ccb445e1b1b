"""The full NIST lifecycle through scripted ceremonies (ceremonies/examples/), each refused
transition named: plan a key (pre-activation), activate at its date, suspend, reactivate,
deactivate without successor, revoke with a KMIP reason and a signed statement, destroy from active."""

from __future__ import annotations

import json
import subprocess

import pytest

from console.cli import main as custodian
from support.ceremony_workspace import REVIEWED_ACTIONS, assert_reviewed_first, LIFECYCLE_ORDER, Workspace
from vault.errors import ScriptInvalid, TransitionRefused
from vault.operations.lifecycle import reactivate_key
from vault.operations.export import export_key
from vault.operations.signing import verify_payload
from vault.types import KeyPurpose, KeyState, RevocationReason


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    return Workspace(tmp_path / "ws", monkeypatch)


def states(v) -> dict[str, tuple[str, str]]:
    return {k.ref: k.state.value for k in v.store.list_keys()}


def test_every_lifecycle_transition_through_a_scripted_ceremony(ws, tmp_path):
    for name in LIFECYCLE_ORDER[:3]:  # init, generate-key (signer-2026), plan-key (dek-2027)
        ws.run_ok(name)
    with ws.vault() as v:
        dek = v.store.resolve_key("dek-2027")
        assert (dek.state, dek.purpose, dek.activate_after, dek.cryptoperiod_days) == (
            KeyState.PRE_ACTIVATION, KeyPurpose.WRAP, "2026-01-01T00:00:00.000000Z", 365)
        assert dek.expires_at is None  # the cryptoperiod starts at activation
    # activation before the date is refused and changes nothing
    ws.run_ok("plan-key", ws.variant("plan-key", answers={"plan.name": "dek-2099", "plan.activate-after": "2099-01-01",
                                                          "backup.path": "media/after-plan-dek-2099.ccb"}))
    refused = ws.run("activate", ws.variant("activate", answers={"activate.key": "dek-2099"}))
    assert not refused.ok and "KEY_NOT_YET_ACTIVE" in refused.one_line()
    ws.run_ok("activate")
    with ws.vault() as v:
        dek = v.store.resolve_key("dek-2027")
        assert dek.state is KeyState.ACTIVE and dek.expires_at is not None
        assert dek.expires_at[:4] == str(int(dek.activated_at[:4]) + 1)  # 365 days
        assert v.store.resolve_key("dek-2099").state is KeyState.PRE_ACTIVATION
    ws.run_ok("suspend")
    # a suspended key cannot be suspended again: refused by the script check, before anything runs
    with pytest.raises(ScriptInvalid, match="is suspended; this step takes a key that is active"):
        ws.run("suspend", ws.variant("suspend"))
    ws.run_ok("reactivate")
    ws.run_ok("deactivate")
    with ws.vault() as v:
        assert states(v)["signer-2026@1"] == "active" and states(v)["dek-2027@1"] == "deactivated"
        history = [h.to_state for h in v.store.key_history(v.store.resolve_key("signer-2026").id)]
        assert history == [KeyState.PRE_ACTIVATION, KeyState.ACTIVE, KeyState.SUSPENDED, KeyState.ACTIVE]
    # reactivating a deactivated key is refused (SP 800-57 has no way back)
    with pytest.raises(ScriptInvalid, match="is deactivated; this step takes a key that is suspended"):
        ws.run("reactivate", ws.variant("reactivate", answers={"reactivate.key": "dek-2027"}))
    with ws.vault() as v, pytest.raises(TransitionRefused):  # and by the engine itself, without a script
        reactivate_key(v, "dek-2027", reason="the script check is not the only guard")
    ws.run_ok("revoke")
    with ws.vault() as v:
        dek = v.store.resolve_key("dek-2027")
        assert dek.state is KeyState.COMPROMISED and dek.revocation_reason is RevocationReason.KEY_COMPROMISE
        events = [e for e in v.ledger.events() if e.action == "key.revoked"]
        assert events[-1].details["kmip_reason_code"] == 2
        pem = export_key(v, "signer-2026", "pem", tmp_path / "signer.pem").data.decode()
    statement = ws.root / "media" / "revocation-dek-2027.json"
    signature = ws.root / "media" / "revocation-dek-2027.json.sig"
    body = json.loads(statement.read_text())
    assert (body["key"]["name"], body["revocation_reason"], body["kmip_reason_code"]) == ("dek-2027",
                                                                                           "key-compromise", 2)
    verify_payload(pem, statement, signature)  # the exported signer key verifies it, offline
    assert subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "signer.pem"), "-signature",
                           str(signature), str(statement)], capture_output=True).returncode == 0
    # destroy takes a pre-activation key too (the one whose date never came), and a destroyed key
    # cannot be destroyed again (refused by the script check, before anything runs)
    ws.run_ok("destroy", ws.variant("destroy", answers={"destroy.key": "dek-2099", "destroy.confirm-label": "dek-2099"}))
    with ws.vault() as v:
        assert v.store.resolve_key("dek-2099").state is KeyState.DESTROYED
    with pytest.raises(ScriptInvalid, match="dek-2099"):
        ws.run("destroy", ws.variant("destroy", answers={"destroy.key": "dek-2099", "destroy.confirm-label": "dek-2099"}))
    # the signed statement can be written again later, from the ledger, without the HSM's private keys
    again = tmp_path / "again.json"
    assert custodian(["--home", str(ws.home), "keys", "revocation", "dek-2027", "--out", str(again)]) == 0
    assert again.read_bytes() == statement.read_bytes()
    assert (tmp_path / "again.json.sig").read_bytes() == signature.read_bytes()
    assert custodian(["--home", str(ws.home), "keys", "revocation", "dek-2027", "--out", str(again)]) == 2  # never overwritten
    assert custodian(["--home", str(ws.home), "keys", "revocation", "signer-2026", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()
    assert custodian(["--home", str(ws.home), "ledger", "verify"]) == 0
    with ws.vault() as v:
        assert assert_reviewed_first(v, REVIEWED_ACTIONS - {"key.generated"}) >= 3  # generate-key reviews itself
        check_statement_forgeries(v)


def check_statement_forgeries(v):
    """Each check of a re-exported statement, with the other fields kept consistent (the digest
    recomputed), so only that check can catch it."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from vault.errors import SignatureInvalid
    from vault.operations.revocation import checked_statement, statement_bytes

    event = next(e for e in v.ledger.events() if e.action == "key.revocation_statement")
    good = dict(event.details)
    checked_statement(v, good)  # the recorded one holds
    other = ec.generate_private_key(ec.SECP256R1())
    forged_statement = {**good["statement"], "revocation_reason": "superseded", "kmip_reason_code": 4}
    forgeries = {
        "signature": {**good, "signature_b64": base64.b64encode(bytes(64)).decode()},
        "digest": {**good, "statement": forged_statement},
        "recorded digest": {**good, "sha256": "0" * 64},  # the SHA-256 read aloud at the ceremony, not this one's
        "statement": {**good, "statement": forged_statement,
                      "sha256": hashlib.sha256(statement_bytes(forged_statement)).hexdigest()},
        # another key signs the forged statement and is recorded as the signer: only the
        # fingerprint the vault holds for the signing key can tell
        "signer key": {**good, "statement": forged_statement,
                       "sha256": hashlib.sha256(statement_bytes(forged_statement)).hexdigest(),
                       "signature_b64": base64.b64encode(other.sign(statement_bytes(forged_statement),
                                                                    ec.ECDSA(hashes.SHA256()))).decode(),
                       "signer_public_pem": other.public_key().public_bytes(
                           serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()},
    }
    for what, details in forgeries.items():
        with pytest.raises(SignatureInvalid):
            checked_statement(v, details)


def test_a_non_compromise_revocation_deactivates_and_destroy_deactivates_an_active_key_first(ws):
    for name in LIFECYCLE_ORDER[:4]:  # ... plan-key, activate: dek-2027 active
        ws.run_ok(name)
    with ws.vault() as v:
        head = v.ledger.head()
    with pytest.raises(ScriptInvalid, match="no answer for 'revoke.signer'"):
        ws.run("revoke", ws.variant("revoke", drop=("revoke.signer",)))
    with ws.vault() as v:  # every question comes before the revocation: nothing was revoked
        assert v.store.resolve_key("dek-2027").state is KeyState.ACTIVE
        assert "key.revoked" not in [e.action for e in v.ledger.events(head.seq + 1)]
    own = ws.run("revoke", ws.variant("revoke", answers={"revoke.key": "signer-2026", "revoke.reason": "superseded"}))
    assert not own.ok and "does not sign its own revocation" in own.one_line()  # asked before anything is revoked
    with ws.vault() as v:
        assert v.store.resolve_key("signer-2026").state is KeyState.ACTIVE
    ws.run_ok("revoke", ws.variant("revoke", answers={"revoke.reason": "superseded"}))
    with ws.vault() as v:
        dek = v.store.resolve_key("dek-2027")
        assert (dek.state, dek.revocation_reason) == (KeyState.DEACTIVATED, RevocationReason.SUPERSEDED)
    ws.run_ok("destroy", ws.variant("destroy", answers={"destroy.key": "signer-2026",
                                                        "destroy.confirm-label": "signer-2026"}))
    with ws.vault() as v:
        signer = v.store.resolve_key("signer-2026")
        assert signer.state is KeyState.DESTROYED
        history = [h.to_state for h in v.store.key_history(signer.id)]
        assert history[-2:] == [KeyState.DEACTIVATED, KeyState.DESTROYED]  # deactivated first, same ceremony
        actions = [e.action for e in v.ledger.events()]
        assert actions.index("key.deactivated", len(actions) - 12) < actions.index("key.destroyed", len(actions) - 12)
