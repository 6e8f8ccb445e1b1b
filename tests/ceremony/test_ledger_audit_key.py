"""The ledger audit key: init makes it in the HSM (sign-only, never extractable); every ceremony
that ends holding a quorum (completed, with dissent, aborted) has its end head signed by it inside
the HSM; `ledger verify` checks those signatures, and an attacker with file access (triggers
dropped) who cuts the tail after the last attestation and fixes the ceremonies table (and the
attestations) is caught by the HSM signature alone. A deleted signed head between two others, a
forged signature over a consistently rewritten statement, and an audit key replaced together with
its signatures (only the pinned key shows that) are caught. A home that has no audit key gets one
at its next quorum ceremony, and verify says which span is HSM-signed.
"""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from pkcs11 import Attribute as A
from pkcs11 import ObjectClass

from console.cli import main as custodian
from support.ceremony_workspace import Workspace
from support.prepared import clone, prepared
from vault import ledger_anchors
from vault.audit_signature import verifies
from vault.hsm import PRACTICE_MODULE
from vault.hsm.model import AUDIT_KEY_LABEL
from vault.vault import Vault


def build(ws: Workspace) -> None:
    ws.run_ok("init")
    ws.run_ok("generate-key", ws.variant("generate-key", answers={
        "attest.attest:carol": [{"agree": False, "comment": "read too fast"}]}))
    # the administrator aborts at the label question, after the quorum was activated
    assert not ws.run("generate-key", ws.variant("generate-key", answers={
        "generate.label": {"abort": "the label was misread"}, "backup.path": "media/never.ccb"})).ok
    ws.run_ok("generate-key", ws.variant("generate-key", answers={"generate.label": "signer-2027",
                                                                  "backup.path": "media/second.ccb"}))


@pytest.fixture
def ws(tmp_path_factory, tmp_path, monkeypatch):
    """Each test attacks its own copy of the workspace (home and token alike)."""
    if not os.path.exists(PRACTICE_MODULE):
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    return clone(prepared(tmp_path_factory, "ledger-audit-key", build), tmp_path / "ws", monkeypatch)


def attacker(ws) -> sqlite3.Connection:
    raw = sqlite3.connect(ws.home / "custodian.db", isolation_level=None)
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    return raw


def check(ws, **kw):
    vault = Vault.open(ws.home)
    try:
        return ledger_anchors.check(vault, **kw)
    finally:
        vault.close()


def cli(ws, *args) -> int:
    return custodian(["--home", str(ws.home), *args])


def doctor_ok(ws, capsys) -> bool:
    capsys.readouterr()
    cli(ws, "doctor", "--json")
    return json.loads(capsys.readouterr().out)["ledger"]["ok"]


def test_init_makes_a_sign_only_never_extractable_audit_key_in_the_hsm(ws):
    from vault.secret import Secret
    from vault.shares import derive_user_pin

    vault = Vault.open(ws.home)
    try:
        [key] = vault.store.audit_keys()
        init = next(c for c in vault.store.list_ceremonies() if c.definition_name == "init")
        assert key.ceremony_id == init.id and key.algorithm == "ed25519"  # SoftHSM offers Ed25519 first
        [made] = [e for e in vault.ledger.events() if e.action == "ledger.audit_key_created"]
        assert made.details["fingerprint"] == key.fingerprint and made.details["public_key_pem"] == key.public_key_pem
        assert made.ceremony_id == init.id
        with derive_user_pin(Secret(ws.quorum_secret())) as pin, vault.hsm().open_session(vault.token, pin) as s:
            private = list(s.p11.get_objects({A.LABEL: AUDIT_KEY_LABEL, A.CLASS: ObjectClass.PRIVATE_KEY}))
            assert len(private) == 1
            attrs = private[0].get_attributes([A.SENSITIVE, A.EXTRACTABLE, A.NEVER_EXTRACTABLE, A.SIGN, A.DECRYPT,
                                               A.UNWRAP, A.TOKEN])
            assert attrs == {A.SENSITIVE: True, A.EXTRACTABLE: False, A.NEVER_EXTRACTABLE: True, A.SIGN: True,
                             A.DECRYPT: False, A.UNWRAP: False, A.TOKEN: True}
            # not a master key: the token listing, reconcile and backups leave it out
            assert AUDIT_KEY_LABEL not in {k.label for k in s.list_keys()}
        assert all(k.label != AUDIT_KEY_LABEL for k in vault.store.list_keys())
    finally:
        vault.close()


def test_every_end_that_held_a_quorum_is_signed_in_the_hsm(ws, capsys):
    vault = Vault.open(ws.home)
    try:
        sigs = vault.store.head_signatures()
        [key] = vault.store.audit_keys()
        outcomes = [s.statement.split("\noutcome: ")[1].split("\n")[0] for s in sigs]
        assert outcomes == ["completed", "completed with dissent", "aborted", "completed"]
        previous = None
        for sig in sigs:
            ceremony = vault.store.get_ceremony(sig.ceremony_id)
            assert (sig.seq, sig.hash) == (ceremony.ledger_end.seq, ceremony.ledger_end.hash_hex)
            assert vaults_event(vault, sig.seq).action in ("ceremony.completed", "ceremony.aborted")
            assert verifies(key.public_key_pem, sig.statement, sig.signature_hex)
            assert f"previous-signed-head: {'none' if previous is None else f'{previous.seq}:{previous.hash}'}\n" \
                in sig.statement
            previous = sig
        assert sigs[-1].seq == vault.ledger.head().seq  # the last event itself is signed
    finally:
        vault.close()
    report = check(ws)
    assert report.ok, report.problems
    assert report.hsm_signed == 4 and report.unproven is None
    capsys.readouterr()
    assert cli(ws, "ledger", "verify", "--full") == 0
    out = capsys.readouterr().out
    assert "HSM-signed: 4 end heads signed in the HSM by the ledger audit key, events" in out


def vaults_event(vault, seq):
    return next(vault.ledger.events(seq))


def cut_tail_and_cover_it_up(ws) -> int:
    """Remove the last ceremony's events after its closing (attestations and end), its attestation
    rows, and make the ceremonies table end it at the closing: only the HSM signature is left."""
    raw = attacker(ws)
    cid, = raw.execute("SELECT ceremony_id FROM head_signatures ORDER BY id DESC LIMIT 1").fetchone()
    closing, = raw.execute("SELECT seq FROM ledger WHERE body LIKE ? AND body LIKE ?",
                           ('{"action":"ceremony.closing"%', f'%"ceremony_id":"{cid}"%')).fetchone()
    raw.execute("DELETE FROM ledger WHERE seq > ?", (closing,))
    raw.execute("DELETE FROM attestations WHERE ceremony_id = ?", (cid,))
    h, = raw.execute("SELECT hash FROM ledger WHERE seq = ?", (closing,)).fetchone()
    raw.execute("UPDATE ceremonies SET ledger_end_seq = ?, ledger_end_hash = ? WHERE id = ?", (closing, h, cid))
    raw.close()
    return closing


def test_a_tail_cut_after_the_last_attestation_is_caught_by_the_hsm_signature_alone(ws, capsys):
    cut_tail_and_cover_it_up(ws)
    report = check(ws)
    assert report.chain.ok and not report.ok
    assert len(report.problems) == 1 and "HSM-signed end head" in report.problems[0] \
        and "no longer in the ledger" in report.problems[0], report.problems
    assert cli(ws, "ledger", "verify") == 1
    assert "ANCHOR" in capsys.readouterr().err
    assert doctor_ok(ws, capsys) is False


def test_a_signed_head_deleted_between_two_others_is_named_by_the_next(ws):
    raw = attacker(ws)
    raw.execute("DELETE FROM head_signatures WHERE id = (SELECT min(id) + 1 FROM head_signatures)")
    raw.close()
    report = check(ws)
    assert not report.ok and report.problems == [p for p in report.problems if "a signed head was deleted" in p]
    assert len(report.problems) == 1


def test_a_consistent_rewrite_of_the_signed_statement_is_caught_by_the_signature(ws):
    """The forger cuts the tail and rewrites the last signed statement to name the new last event
    (seq and hash recomputed, the row's columns too): only the signature no longer fits."""
    closing = cut_tail_and_cover_it_up(ws)
    raw = attacker(ws)
    h, = raw.execute("SELECT hash FROM ledger WHERE seq = ?", (closing,)).fetchone()
    sid, statement = raw.execute("SELECT id, statement FROM head_signatures ORDER BY id DESC LIMIT 1").fetchone()
    old = statement.split("ledger-head: ")[1].split("\n")[0]
    raw.execute("UPDATE head_signatures SET statement = ?, seq = ?, hash = ? WHERE id = ?",
                (statement.replace(old, f"{closing}:{h}"), closing, h, sid))
    raw.close()
    report = check(ws)
    assert report.problems and all("does not verify" in p for p in report.problems), report.problems


def test_a_replaced_audit_key_is_caught_only_against_the_pinned_keys(ws, tmp_path, capsys):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from vault.audit_signature import fingerprint

    pins = tmp_path / "pins.json"
    assert cli(ws, "custodians", "export-keys", str(pins)) == 0
    assert any(name.startswith("ledger audit key sha256:") for name in json.loads(pins.read_text()))
    closing = cut_tail_and_cover_it_up(ws)
    # the forger makes a key of their own, records it as the audit key and re-signs every head
    forged = ed25519.Ed25519PrivateKey.generate()
    pem = forged.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    fp = fingerprint(pem)
    raw = attacker(ws)
    old_fp, = raw.execute("SELECT fingerprint FROM audit_keys").fetchone()
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("UPDATE audit_keys SET fingerprint = ?, public_key_pem = ?", (fp, pem))
    h, = raw.execute("SELECT hash FROM ledger WHERE seq = ?", (closing,)).fetchone()
    last, = raw.execute("SELECT max(id) FROM head_signatures").fetchone()
    for sid, statement in raw.execute("SELECT id, statement FROM head_signatures").fetchall():
        statement = statement.replace(old_fp, fp)
        if sid == last:
            old = statement.split("ledger-head: ")[1].split("\n")[0]
            statement = statement.replace(old, f"{closing}:{h}")
            raw.execute("UPDATE head_signatures SET seq = ?, hash = ? WHERE id = ?", (closing, h, sid))
        raw.execute("UPDATE head_signatures SET statement = ?, signature_hex = ?, key_fingerprint = ? WHERE id = ?",
                    (statement, forged.sign(statement.encode()).hex(), fp, sid))
    raw.close()
    assert check(ws).ok  # without pins the forgery holds
    report = check(ws, pinned=json.loads(pins.read_text()))
    assert report.problems and all("not in the pinned keys" in p for p in report.problems), report.problems
    assert cli(ws, "ledger", "verify", "--full", "--pinned-keys", str(pins)) == 1


def test_a_home_without_an_audit_key_gets_one_at_its_next_quorum_ceremony(ws, capsys):
    """A home from before the audit key: its rows and its token object removed (as if it never had
    one). The next generate-key makes one, says why in the ledger, and verify names the span."""
    from vault.secret import Secret
    from vault.shares import derive_user_pin

    raw = attacker(ws)
    raw.execute("DELETE FROM head_signatures")
    raw.execute("DELETE FROM audit_keys")
    raw.close()
    with ws.vault() as vault:
        with derive_user_pin(Secret(ws.quorum_secret())) as pin, vault.hsm().open_session(vault.token, pin) as s:
            for obj in s.p11.get_objects({A.LABEL: AUDIT_KEY_LABEL}):
                obj.destroy()
    ws.run_ok("generate-key", ws.variant("generate-key", answers={"generate.label": "signer-2028",
                                                                  "backup.path": "media/third.ccb"}))
    with ws.vault() as vault:
        made = [e for e in vault.ledger.events() if e.action == "ledger.audit_key_created"][-1]
        assert made.details["reason"] == "the vault's first ledger audit key"
        [sig] = vault.store.head_signatures()
        assert sig.seq == vault.ledger.head().seq
    report = check(ws)
    assert report.ok and report.hsm_signed == 1 and report.hsm_first.seq == report.hsm_last.seq == sig.seq
    assert report.hsm_span().startswith(f"1 end head signed in the HSM by the ledger audit key, event {sig.seq}:")
