"""PKI ceremonies that must stop with nothing signed and nothing half-applied (real token, real
SQLite): the run fails naming the step and the error, the vault's state and the workspace's
files are unchanged, and the ledger holds only the failed ceremony's bookkeeping."""

from __future__ import annotations

import shutil

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from support.ceremony_workspace import Workspace
from vault.hsm.x509sign import signatures_made

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    ws = Workspace(tmp_path / "ws", monkeypatch)
    ws.run_ok("init")
    ws.run_ok("root-ca")
    return ws


def refused(ws: Workspace, name: str, script, code: str) -> None:
    before, signed = ws.snapshot(), signatures_made()
    result = ws.run(name, script)
    assert not result.ok and code in result.one_line(), result.one_line()
    ws.assert_unchanged(before, result.outcome.ceremony_id)
    assert signatures_made() == signed


def test_an_intermediate_from_a_forged_csr_signs_nothing(ws: Workspace):
    csr = ws.root / "pki" / "intermediate.csr"
    der = bytearray(x509.load_pem_x509_csr(csr.read_bytes()).public_bytes(Encoding.DER))
    at = bytes(der).index(b"Practice Issuing CA 1")
    der[at] ^= 0x01
    (ws.root / "pki" / "forged.csr").write_bytes(bytes(der))
    refused(ws, "intermediate", ws.variant("intermediate", answers={"intermediate.csr": "pki/forged.csr"}),
            "PKI_CSR_INVALID")


def test_a_user_profile_pkilint_rejects_signs_nothing(ws: Workspace):
    mine = ws.home / "ceremonies"
    (mine / "profiles").mkdir(parents=True)
    from vault.pki.profile import load_profile

    text = load_profile("intermediate").text.replace("crl.example.com", "crl.internal.test")
    (mine / "profiles" / "my-intermediate.toml").write_text(text.replace('name = "intermediate"', 'name = "my-intermediate"'))
    from vault.ceremony.definitions import BUILTIN_DIR

    own = (BUILTIN_DIR / "intermediate.toml").read_text().replace('name = "intermediate"', 'name = "my-intermediate"')
    (mine / "my-intermediate.toml").write_text(own.replace('profile = "intermediate"', 'profile = "my-intermediate"'))
    script = ws.variant("intermediate", ceremony="my-intermediate")
    refused(ws, "my-intermediate", script, "PKI_LINT_FAILED")


def test_a_mistyped_csr_path_is_asked_again_with_the_reason(ws: Workspace):
    script = ws.variant("intermediate", answers={"intermediate.csr": ["pki/intermediat.csr", "pki/intermediate.csr"]})
    result = ws.run_ok("intermediate", script)
    with ws.vault() as v:
        rejected = [e for e in result.events if type(e).__name__ == "AnswerRejected"]
        assert [e.code for e in rejected] == ["PKI_CSR_INVALID"] and "not a readable file" in rejected[0].message
        assert [c.kind for c in v.store.list_certificates()] == ["root-ca", "intermediate"]


def test_a_second_root_with_the_same_subject_and_another_key_is_refused_unless_a_reason_is_recorded(ws: Workspace):
    """Path building finds an issuer by name first, so two root keys under one name are ambiguous:
    the root step asks for a reason (a re-key) and goes to the ledger with it; without one, nothing
    is signed. The same key re-issued (root-ca-existing) is not asked."""
    ws.run_ok("root-ca-existing")  # root-2026 again: the same key under its own name
    ws.run_ok("generate-key", ws.variant("generate-key", answers={
        "generate.label": "root-2027", "generate.algorithm": "ec-p384", "backup.path": "media/root-2027.ccb"}))
    before, signed = ws.snapshot(), signatures_made()
    result = ws.run("root-ca-existing", ws.variant("root-ca-existing", answers={
        "root.key": "root-2027", "root.path": "media/root-2027.pem"}))
    assert not result.ok and "same-subject-reason" in result.one_line(), result.one_line()
    notices = [e.message for e in result.events if type(e).__name__ == "Notice"]
    assert any("already certified for another key" in m and "root-2026" in m for m in notices), notices
    ws.assert_unchanged(before, result.outcome.ceremony_id)
    assert signatures_made() == signed and not (ws.root / "media" / "root-2027.pem").exists()
    # a reason too short is asked again; a real one is recorded with the certificate's ceremony
    reason = "re-key: root-2026 is retired after its cryptoperiod"
    allowed_run = ws.run_ok("root-ca-existing", ws.variant("root-ca-existing", answers={
        "root.key": "root-2027", "root.path": "media/root-2027.pem", "root.same-subject-reason": ["re-key", reason]}))
    rejected = [e for e in allowed_run.events if type(e).__name__ == "AnswerRejected"]
    assert [e.code for e in rejected] == ["PKI_SUBJECT_IN_USE"] and "at least 10 characters" in rejected[0].message
    with ws.vault() as v:
        allowed = [e for e in v.ledger.events() if e.action == "certificate.same-subject-allowed"]
        assert [(e.details["key"], e.details["reason"]) for e in allowed] == [("root-2027", reason)]
        assert [c.key_label for c in v.store.list_certificates() if c.kind == "root-ca"] == ["root-2026", "root-2026",
                                                                                         "root-2027"]
