"""The issuing pipeline on a real token, without the ceremony engine: a root for an HSM key, an
intermediate from an openssl CSR, a CRL, an OCSP signer; openssl checks every result."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from pki.conftest import CEREMONY, openssl, openssl_csr
from vault.hsm.x509sign import signatures_made
from vault.operations import generate_key
from vault.pki import crl as pki_crl
from vault.pki import issue
from vault.pki.csr import read_csr
from vault.pki.profile import load_profile
from vault.types import KeyAlgorithm

NOW = dt.datetime.now(dt.timezone.utc)


def make_root(vault, session, tmp_path, algorithm=KeyAlgorithm.EC_P384, label="root-key"):
    key = generate_key(vault, session, label, algorithm, ceremony_id=CEREMONY)
    profile = load_profile("root-ca")
    name, _ = issue.build.subject_name(profile)
    issuer = issue.self_issuer(vault, label, session.public_key_pem(session.get_key(label)), name)
    subject = issue.Subject(name, issuer.public_key, key_label=label, source=f"HSM key {label}")
    prepared = issue.prepare_certificate(vault, profile, issuer, subject, serial_source=session.random, now=NOW)
    signer = session.x509_signer(session.get_key(label))
    issued = issue.sign_prepared(vault, signer, prepared, ceremony_id=CEREMONY)
    record = issue.record_issued(vault, issued, tmp_path / f"{label}.pem", ceremony_id=CEREMONY, actor="admin")
    return key, record, signer


def test_root_intermediate_crl_and_ocsp_signer_verify_with_openssl(practice_vault, session, tmp_path):
    v = practice_vault
    _, root, signer = make_root(v, session, tmp_path)
    root_pem = tmp_path / "root-key.pem"
    assert "Practice Root CA R1" in openssl("x509", "-in", str(root_pem), "-noout", "-subject").stdout

    int_key, csr_path = openssl_csr(tmp_path, "int", "Practice Issuing CA 1")
    csr = read_csr(csr_path)
    profile = load_profile("intermediate")
    name, dropped = issue.build.subject_name(profile, csr.subject)
    issuer = issue.issuer_from_record(v, root, now=NOW)
    prepared = issue.prepare_certificate(v, profile, issuer, issue.Subject(name, csr.public_key, source="csr"),
                                         serial_source=session.random, now=NOW)
    issued = issue.sign_prepared(v, signer, prepared, ceremony_id=CEREMONY)
    inter = issue.record_issued(v, issued, tmp_path / "int.pem", ceremony_id=CEREMONY, actor="admin")
    assert inter.issuer_certificate_id == root.id and inter.path_length == 0

    # a leaf signed by the intermediate's own (openssl) key verifies up to our root
    leaf_key, leaf_csr = openssl_csr(tmp_path, "leaf", "leaf.practice-pki.test")
    (tmp_path / "leaf.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                       "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:leaf.practice-pki.test\n")
    openssl("x509", "-req", "-in", str(leaf_csr), "-CA", str(tmp_path / "int.pem"), "-CAkey", str(int_key),
            "-CAcreateserial", "-days", "10", "-extfile", str(tmp_path / "leaf.ext"), "-out", str(tmp_path / "leaf.pem"))
    out = openssl("verify", "-CAfile", str(root_pem), "-untrusted", str(tmp_path / "int.pem"), str(tmp_path / "leaf.pem"))
    assert out.stdout.strip().endswith("OK")

    # revoke the intermediate in a CRL
    crl_profile = load_profile("crl")
    revocation = pki_crl.parse_revocation(f"{inter.serial_hex} key-compromise", v, issuer, [])
    prepared_crl = pki_crl.prepare_crl(v, crl_profile, issuer, [revocation], now=NOW)
    assert prepared_crl.crl_number == 1
    crl_record = pki_crl.record_crl(v, pki_crl.sign_crl(signer, prepared_crl), tmp_path / "root.crl",
                                    ceremony_id=CEREMONY, actor="admin")
    assert crl_record.revoked_count == 1
    out = openssl("crl", "-in", str(tmp_path / "root.crl"), "-CAfile", str(root_pem), "-noout", "-verify")
    assert "verify OK" in (out.stdout + out.stderr)
    revoked = openssl("verify", "-crl_check", "-CRLfile", str(tmp_path / "root.crl"), "-CAfile", str(root_pem),
                      str(tmp_path / "int.pem"), check=False)
    assert revoked.returncode != 0 and "revoked" in (revoked.stdout + revoked.stderr)

    # the next CRL's number is 2 and still lists the revocation
    again = pki_crl.prepare_crl(v, crl_profile, issuer, [], now=NOW)
    assert again.crl_number == 2 and len(again.entries) == 1

    # an OCSP signer for a key made in the HSM
    generate_key(v, session, "ocsp-key", KeyAlgorithm.EC_P256, ceremony_id=CEREMONY)
    ocsp_profile = load_profile("ocsp-signer")
    ocsp_pub = x509.load_pem_x509_certificate(root_pem.read_bytes()).public_key()  # placeholder, replaced below
    from cryptography.hazmat.primitives import serialization

    ocsp_pub = serialization.load_pem_public_key(session.public_key_pem(session.get_key("ocsp-key")).encode())
    name, _ = issue.build.subject_name(ocsp_profile)
    prepared = issue.prepare_certificate(v, ocsp_profile, issuer, issue.Subject(name, ocsp_pub, key_label="ocsp-key"),
                                         serial_source=session.random, now=NOW)
    issue.record_issued(v, issue.sign_prepared(v, signer, prepared, ceremony_id=CEREMONY), tmp_path / "ocsp.pem",
                        ceremony_id=CEREMONY, actor="admin")
    out = openssl("verify", "-CAfile", str(root_pem), "-purpose", "ocsphelper", str(tmp_path / "ocsp.pem"), check=False)
    text = openssl("x509", "-in", str(tmp_path / "ocsp.pem"), "-noout", "-text").stdout
    assert "OCSP Signing" in text and "OCSP No Check" in text
    assert [c.kind for c in v.store.list_certificates()] == ["root-ca", "intermediate", "ocsp-signer"]
    assert signatures_made() >= 4
