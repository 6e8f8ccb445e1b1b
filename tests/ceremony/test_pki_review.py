"""The review before the HSM signs a certificate or a CRL is the engine's review before action
(vault.ceremony.review), on a real token and a real SQLite home:

* every PKI ceremony's signing step shows a ReviewPrompt while nothing is signed, reserved or
  recorded yet (the HSM's signature counter, the store's rows and the ledger unchanged since the
  step started); its items name the subject, the subject key's fingerprint, the profile's
  SHA-256, pkilint's findings and the TBS's SHA-256; the TBS digest confirmed in the ledger's
  ``review.confirmed`` is the digest of the TBS inside the certificate (or CRL) that was signed;
* Escape (a back) at the review returns to the step's last answer with nothing signed, and the
  review then shown is the one signed; a review not confirmed by both signs nothing.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509

from ceremony.test_review import run_watched
from support.ceremony_workspace import BOOKKEEPING, PKI_ORDER, Workspace
from vault.ceremony.events import StepStarted
from vault.ceremony.kinds import registry
from vault.ceremony.prompts import BackAnswer, ReviewAnswer, ReviewPrompt
from vault.ceremony.steps.pki_review import batch_sha256
from vault.hsm.x509sign import signatures_made

PKI_KINDS = {"root-certificate", "sign-csr", "cross-certificate", "key-certificate", "crl", "sign-csr-batch"}


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    ws = Workspace(tmp_path / "ws", monkeypatch)
    ws.run_ok("init")
    return ws


def items_of(review: ReviewPrompt) -> dict:
    return {i.label: i for i in review.items}


def test_every_pki_signature_is_reviewed_first_and_the_reviewed_tbs_is_the_signed_one(ws: Workspace):
    kinds = registry()
    reviews: list[ReviewPrompt] = []
    for name in PKI_ORDER:
        with ws.vault() as v:
            at_start: dict = {}

            def on_event(e, v=v):
                if isinstance(e, StepStarted) and e.kind in PKI_KINDS:
                    at_start[e.step_id] = (signatures_made(), ws.db_rows(), v.ledger.head().seq)

            def on_prompt(p, v=v):
                if isinstance(p, ReviewPrompt) and p.step_id in at_start:
                    signed, rows, seq = at_start[p.step_id]
                    assert signatures_made() == signed, f"{name}: the HSM signed before the review"
                    assert ws.db_rows() == rows, f"{name}: the store changed before the review"
                    gained = {e.action for e in v.ledger.events(seq + 1)}
                    assert gained <= BOOKKEEPING, f"{name}: {gained} before the review"
                    reviews.append(p)
                return None

            engine, watch, outcome = run_watched(ws, name, on_prompt=on_prompt, on_event=on_event, vault=v)
            assert outcome.ok, outcome.one_line()
            reviewed = {p.step_id for p in watch.prompts if isinstance(p, ReviewPrompt)}
            for step in engine.definition.steps:
                if kinds[step.kind].review:
                    assert step.id in reviewed, f"{name}.{step.id} signed without a review"

    assert {r.action for r in reviews} == {"sign-certificate", "sign-crl", "sign-batch"}
    for r in reviews:
        items = items_of(r)
        assert {"Profile SHA-256", "Lint"} <= set(items), r.title
        assert items["Profile SHA-256"].words and len(items["Profile SHA-256"].value) == 64
        if r.action == "sign-certificate":
            assert {"Subject", "Subject key", "TBS SHA-256", "Serial", "Extensions"} <= set(items), r.title
            assert items["Subject key"].value.startswith("sha256:") and items["Subject key"].words
        digest = items.get("TBS SHA-256") or items["Batch TBS digest"]
        assert len(digest.words.split()) == 32  # every byte read aloud

    # the ledger: each issuance follows the confirmed review of exactly its TBS
    with ws.vault() as v:
        certs = {c.sha256: c for c in v.store.list_certificates()}
        crls = {c.sha256: c for c in v.store.list_crls()}
        confirmed: dict[str, dict] = {}
        batch: list = []
        checked = 0
        for e in v.ledger.events():
            if e.action == "review.confirmed" and e.details["action"].startswith("sign-"):
                confirmed[e.ceremony_id] = {i["label"]: i["value"] for i in e.details["review"]["items"]}
            elif e.action == "certificate.issued":
                seen = confirmed[e.ceremony_id]
                tbs = x509.load_der_x509_certificate(certs[e.details["sha256"]].der).tbs_certificate_bytes
                if "Batch TBS digest" in seen:
                    batch.append(tbs)
                else:
                    assert seen["TBS SHA-256"] == hashlib.sha256(tbs).hexdigest()
                    assert seen["Subject"] == e.details["subject"] and seen["Subject key"] == e.details["spki_sha256"]
                    confirmed.pop(e.ceremony_id)  # one review, one certificate
                checked += 1
            elif e.action == "crl.issued":
                tbs = x509.load_der_x509_crl(crls[e.details["sha256"]].der).tbs_certlist_bytes
                assert confirmed.pop(e.ceremony_id)["TBS SHA-256"] == hashlib.sha256(tbs).hexdigest()
                checked += 1
        batch_review = next(r for r in reviews if r.action == "sign-batch")
        assert items_of(batch_review)["Batch TBS digest"].value == batch_sha256(batch) and len(batch) == 3
        assert checked == len(certs) + len(crls) == 9  # 2 roots, intermediate, OCSP, cross, 3 fleet; 1 CRL


def test_escape_at_the_review_goes_back_to_the_answers_and_signs_only_what_is_reviewed_again(ws: Workspace):
    ws.run_ok("root-ca")
    first: dict = {}

    def on_prompt(p):
        if isinstance(p, ReviewPrompt) and not first:
            assert p.can_go_back
            first.update(signed=signatures_made(), serial=items_of(p)["Serial"].value.split()[0], sha=p.review_sha256)
            return BackAnswer()
        return None

    script = ws.variant("intermediate", answers={"intermediate.path": ["media/wrong-name.pem", "media/intermediate.pem"]})
    _e, watch, outcome = run_watched(ws, "intermediate", script, on_prompt=on_prompt)
    assert outcome.ok, outcome.one_line()
    asks = [p.ask for p in watch.prompts if p.step_id == "intermediate"]
    assert asks[asks.index("review"):] == ["review", "path", "review", "witness"]
    again = [p for p in watch.prompts if p.step_id == "intermediate" and p.ask == "path"][-1]
    assert again.previous.endswith("wrong-name.pem")
    assert not (ws.root / "media" / "wrong-name.pem").exists()
    second = [p for p in watch.prompts if isinstance(p, ReviewPrompt)][-1]
    with ws.vault() as v:
        (inter,) = [c for c in v.store.list_certificates() if c.kind == "intermediate"]
        assert inter.serial_hex == items_of(second)["Serial"].value.split()[0] != first["serial"]
        assert not v.store.serial_reserved(first["serial"])  # the withdrawn review's serial never reached the HSM
        acts = [e for e in v.ledger.events_of(outcome.ceremony_id)]
        withdrawn = next(e for e in acts if e.action == "review.withdrawn")
        assert withdrawn.details["review_sha256"] == first["sha"]
        names = [e.action for e in acts]
        assert names.index("review.withdrawn") < names.index("review.confirmed") < names.index("certificate.issued")


def test_a_review_not_confirmed_by_the_witness_signs_nothing(ws: Workspace):
    ws.run_ok("root-ca")
    before, signed = ws.snapshot(), signatures_made()

    def on_prompt(p):
        if isinstance(p, ReviewPrompt) and p.error_code is None:
            return ReviewAnswer(True, False)  # the administrator confirms, the witness does not
        return None

    _e, watch, outcome = run_watched(ws, "intermediate", on_prompt=on_prompt)
    refused = [p for p in watch.prompts if isinstance(p, ReviewPrompt) and p.error_code]
    assert refused and "wendy has not confirmed" in refused[0].error_message
    assert not outcome.ok
    ws.assert_unchanged(before, outcome.ceremony_id)
    assert signatures_made() == signed and not (ws.root / "media" / "intermediate.pem").exists()
