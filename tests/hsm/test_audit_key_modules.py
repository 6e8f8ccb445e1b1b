"""The ledger audit key on every PKCS#11 module here (SoftHSM2 and opencryptoki: tests/hsm/conftest.py).

A console home runs its ceremonies on a SoftHSM practice token only, so this test stands at the
level below the engine: the real token session (vault.hsm), a real store file and its ledger
(vault.store, vault.ledger), and the audit key's own code (vault.operations.audit_key), which
the engine calls at init and at every quorum ceremony's end.

opencryptoki's software token (3.8.1) generates no EC key pair and no Ed25519 (measured; its
probe says so), so there the key falls back along
Ed25519 -> P-256 -> RSA-3072 to RSA-3072 and signs with RSA-PSS. On every module: the key is
sign-only and never extractable, the end head it signs verifies under the recorded public key
(and under the test's own PSS/EdDSA check), the anchored check counts it, and a consistent rewrite
of the signed event (every later hash recomputed, the signature's row made to name the new head)
is caught by the signature alone.
"""

from __future__ import annotations

import json
import sqlite3
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from pkcs11 import Attribute as A
from pkcs11 import ObjectClass

from vault import ledger_anchors
from vault.audit_signature import PSS_SALT, verifies
from vault.hsm.model import AUDIT_KEY_LABEL
from vault.ledger import Ledger, event_hash
from vault.operations import audit_key
from vault.store import CeremonyStatus, Store
from vault.types import KeyAlgorithm, Mode

CEREMONY = "generate-key-20260501-093000-abcd"


@pytest.fixture
def vault(tmp_path):
    """What the audit key's code reads and writes of a vault: its store and its ledger (real files)."""
    store = Store.open(tmp_path / "custodian.db")
    yield SimpleNamespace(store=store, ledger=Ledger(store))
    store.close()


def expected_algorithm(session) -> KeyAlgorithm:
    """The first of the fallback order that the token's probe says it generates and signs with."""
    caps = session.probe()
    return next(a for a in audit_key.ALGORITHMS if caps[a].generate and caps[a].sign)


def own_verify(pem: str, statement: str, signature_hex: str) -> None:
    """The test's own check of the documented formats (Ed25519; ECDSA P-256 SHA-256; RSA-PSS SHA-256, salt 32)."""
    key, sig, data = serialization.load_pem_public_key(pem.encode()), bytes.fromhex(signature_hex), statement.encode()
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(sig, data)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    else:
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 3072
        key.verify(sig, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT), hashes.SHA256())


def run_ceremony(vault, session):
    """A ceremony's ledger events, its end, and the end head signed by the audit key (as the engine does)."""
    vault.store.start_ceremony(CEREMONY, definition_name="generate-key", definition_sha256="0" * 64,
                               mode=Mode.PRACTICE)
    record = audit_key.ensure_audit_key(vault, session, ceremony_id=CEREMONY, actor="admin")
    vault.ledger.append("ceremony.started", {"name": "generate-key"}, actor="admin", ceremony_id=CEREMONY)
    vault.ledger.append("key.generated", {"label": "signer-2026", "algorithm": "ec-p256"}, actor="admin",
                        ceremony_id=CEREMONY)
    end = vault.ledger.append("ceremony.completed", {"name": "generate-key"}, actor="admin", ceremony_id=CEREMONY)
    vault.store.end_ceremony(CEREMONY, CeremonyStatus.COMPLETED, ledger_head=end.head)
    return record, audit_key.EndSigner(vault, session, record, CEREMONY).sign("completed")


def test_the_audit_key_signs_a_head_and_a_forged_head_fails_only_on_its_signature(
        hsm_session, pkcs11_backend, vault, tmp_path):
    algorithm = expected_algorithm(hsm_session)
    if pkcs11_backend == "opencryptoki":  # the fallback this test is for: no EC, no Ed25519 there
        assert algorithm is KeyAlgorithm.RSA_3072
    record, sig = run_ceremony(vault, hsm_session)

    # made in the HSM, sign-only, never extractable, and recorded in the store and the ledger
    assert record.algorithm == algorithm.value and record.token_serial == hsm_session.token.serial
    [made] = [e for e in vault.ledger.events() if e.action == "ledger.audit_key_created"]
    assert made.details["fingerprint"] == record.fingerprint and made.details["algorithm"] == algorithm.value
    [private] = hsm_session.p11.get_objects({A.LABEL: AUDIT_KEY_LABEL, A.CLASS: ObjectClass.PRIVATE_KEY})
    attrs = private.get_attributes([A.SENSITIVE, A.EXTRACTABLE, A.SIGN, A.DECRYPT, A.UNWRAP, A.TOKEN])
    assert attrs == {A.SENSITIVE: True, A.EXTRACTABLE: False, A.SIGN: True, A.DECRYPT: False, A.UNWRAP: False,
                     A.TOKEN: True}
    assert AUDIT_KEY_LABEL not in {k.label for k in hsm_session.list_keys()}  # not a master key
    # a second call finds the same key on the token instead of making another
    assert audit_key.ensure_audit_key(vault, hsm_session, ceremony_id=CEREMONY, actor="admin") == record

    # the signed head is the ledger's head, and it verifies
    head = vault.ledger.head()
    assert (sig.seq, sig.hash) == (head.seq, head.hash_hex)
    assert f"ledger-head: {head.seq}:{head.hash_hex}\n" in sig.statement
    assert verifies(record.public_key_pem, sig.statement, sig.signature_hex)
    own_verify(record.public_key_pem, sig.statement, sig.signature_hex)
    report = ledger_anchors.check(vault)
    assert report.ok, report.problems
    assert report.hsm_signed == 1 and report.hsm_last.seq == head.seq

    # the forger rewrites the generated key's event, recomputes its hash and every later one (the
    # signed end's too), makes the signature's row and statement and the ceremonies table name the
    # new end head: the chain holds, the head is in the ledger, only the signature no longer fits
    vault.store.close()
    raw = sqlite3.connect(tmp_path / "custodian.db", isolation_level=None)
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    generated, = raw.execute("SELECT seq FROM ledger WHERE body LIKE '{\"action\":\"key.generated\",%'").fetchone()
    prev = raw.execute("SELECT hash FROM ledger WHERE seq = ?", (generated - 1,)).fetchone()[0]
    for seq, body in raw.execute("SELECT seq, body FROM ledger WHERE seq >= ? ORDER BY seq", (generated,)).fetchall():
        e = json.loads(body)
        if seq == generated:
            e["details"]["label"] = "mallory-2026"
        e["prev_hash"] = prev
        details = json.dumps(e["details"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        prev = event_hash(seq, e["at"], e["actor"], e["ceremony_id"], e["action"], details, e["prev_hash"])
        raw.execute("UPDATE ledger SET body = ?, hash = ? WHERE seq = ?",
                    (json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False), prev, seq))
    assert seq == head.seq and prev != head.hash_hex
    raw.execute("UPDATE head_signatures SET hash = ?, statement = ? WHERE id = ?",
                (prev, sig.statement.replace(head.hash_hex, prev), sig.id))
    raw.execute("UPDATE ceremonies SET ledger_end_hash = ? WHERE id = ?", (prev, CEREMONY))
    raw.close()
    store = Store.open(tmp_path / "custodian.db")
    vault.store, vault.ledger = store, Ledger(store)
    assert vault.ledger.verify().ok  # the chain is consistent again
    report = ledger_anchors.check(vault)
    assert report.chain.ok and not report.ok
    assert report.problems == [f"the HSM-signed end head of {CEREMONY}: the signature does not verify under the "
                               f"ledger audit key {record.fingerprint[:23]}…."], report.problems
