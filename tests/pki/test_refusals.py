"""Refusals with nothing signed: each check stops before the HSM makes any signature, records no
certificate and writes no file. The HSM's signature counter (vault.hsm.x509sign) shows that no
signing call was reached; the store and the output directory show nothing was half-applied."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from pki.conftest import CEREMONY, openssl_csr
from pki.test_issue_ops import NOW, make_root
from vault import errors as ve
from vault.hsm.x509sign import signatures_made
from vault.pki import issue
from vault.pki.csr import read_csr
from vault.pki.profile import load_profile, parse_profile


def _intermediate(v, session, root, csr_path, profile=None, *, now=NOW, serial_source=None):
    profile = profile or load_profile("intermediate")
    csr = read_csr(csr_path)
    name, _ = issue.build.subject_name(profile, csr.subject)
    issuer = issue.issuer_from_record(v, root, now=now)
    return issue.prepare_certificate(v, profile, issuer, issue.Subject(name, csr.public_key),
                                     serial_source=serial_source or session.random, now=now)


@pytest.fixture
def rooted(practice_vault, session, tmp_path):
    _, root, signer = make_root(practice_vault, session, tmp_path)
    _, csr_path = openssl_csr(tmp_path, "int", "Practice Issuing CA 1")
    return practice_vault, session, root, signer, csr_path


def nothing_signed(v, before_signatures, before_certs):
    assert signatures_made() == before_signatures
    assert len(v.store.list_certificates()) == before_certs


def test_a_csr_whose_signature_does_not_verify_is_refused(rooted, tmp_path):
    v, session, root, _, csr_path = rooted
    text = csr_path.read_text()
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = bytearray(x509.load_pem_x509_csr(text.encode()).public_bytes(Encoding.DER))
    at = bytes(der).index(b"Practice Issuing CA 1")
    der[at] ^= 0x01  # "Qractice": the CSR still parses, only its signature can tell
    forged = tmp_path / "forged.csr"
    forged.write_bytes(bytes(der))
    with pytest.raises(ve.CsrInvalid, match="does not verify"):
        read_csr(forged)


def test_a_profile_pkilint_rejects_stops_before_the_hsm_signs(rooted, tmp_path):
    v, session, root, _, csr_path = rooted
    text = load_profile("intermediate").text.replace("crl.example.com", "crl.internal.test")
    bad = parse_profile(tmp_path / "intermediate.toml", text)
    before = signatures_made(), len(v.store.list_certificates())
    with pytest.raises(ve.LintFailed, match="cabf.internal_domain_name"):
        _intermediate(v, session, root, csr_path, bad)
    nothing_signed(v, *before)


def test_a_validity_beyond_the_issuers_is_refused(rooted):
    v, session, root, _, csr_path = rooted
    long = dataclasses.replace(load_profile("intermediate"), validity_days=7301)
    before = signatures_made(), len(v.store.list_certificates())
    with pytest.raises(ve.ValidityBeyondIssuer):
        _intermediate(v, session, root, csr_path, long)
    nothing_signed(v, *before)


def test_path_length_violations_are_refused(practice_vault, session, tmp_path):
    v = practice_vault
    _, csr_path = openssl_csr(tmp_path, "int", "Practice Issuing CA 1")
    root_profile = load_profile("root-ca")
    for label, limit, child in (("root-pl0", 0, 0), ("root-pl1", 1, 1), ("root-pl1b", 1, None)):
        from vault.operations import generate_key
        from vault.types import KeyAlgorithm

        generate_key(v, session, label, KeyAlgorithm.EC_P256, ceremony_id=CEREMONY)
        profile = dataclasses.replace(root_profile, path_length=limit)
        name, _ = issue.build.subject_name(profile)
        issuer = issue.self_issuer(v, label, session.public_key_pem(session.get_key(label)), name)
        prepared = issue.prepare_certificate(v, profile, issuer, issue.Subject(name, issuer.public_key, key_label=label),
                                             serial_source=session.random, now=NOW)
        issued = issue.sign_prepared(v, session.x509_signer(session.get_key(label)), prepared, ceremony_id=CEREMONY)
        root = issue.record_issued(v, issued, None, ceremony_id=CEREMONY, actor="admin")
        assert root.path_length == limit
        child_profile = dataclasses.replace(load_profile("intermediate"), path_length=child)
        before = signatures_made(), len(v.store.list_certificates())
        with pytest.raises(ve.PathLengthViolation):
            _intermediate(v, session, root, csr_path, child_profile)
        nothing_signed(v, *before)


def test_a_reused_serial_is_refused_before_signing(rooted):
    v, session, root, signer, csr_path = rooted
    used = bytes.fromhex(root.serial_hex.rjust(32, "0"))
    before = signatures_made(), len(v.store.list_certificates())
    with pytest.raises(ve.SerialReused):
        _intermediate(v, session, root, csr_path, serial_source=lambda n: used[-n:])
    nothing_signed(v, *before)
    # and a serial reserved between preparing and signing (a crashed signing burnt it) is refused too
    prepared = _intermediate(v, session, root, csr_path)
    v.store.reserve_serial(prepared.serial_hex, bits=128, ceremony_id=CEREMONY)
    with pytest.raises(ve.SerialReused):
        issue.sign_prepared(v, signer, prepared, ceremony_id=CEREMONY)
    nothing_signed(v, *before)


def test_an_expired_or_revoked_issuer_is_refused(rooted):
    v, session, root, _, csr_path = rooted
    later = NOW + dt.timedelta(days=7301)
    with pytest.raises(ve.IssuerNotUsable, match="expired"):
        issue.issuer_from_record(v, root, now=later)
    v.store.revoke_certificate(root.id, reason="key-compromise", revoked_at=issue.iso(NOW), ceremony_id=CEREMONY)
    before = signatures_made(), len(v.store.list_certificates())
    with pytest.raises(ve.IssuerNotUsable, match="revoked"):
        _intermediate(v, session, root, csr_path)
    nothing_signed(v, *before)


def test_a_certificate_whose_signature_is_not_the_issuers_is_never_written(rooted, tmp_path):
    """The software check after signing: a forged signature (another key's, over the very same
    TBS) is caught by the check alone."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from vault.pki import assemble

    v, session, root, signer, csr_path = rooted
    prepared = _intermediate(v, session, root, csr_path)
    other = ec.generate_private_key(ec.SECP384R1())
    forged = assemble.certificate_der(prepared.tbs, other.sign(prepared.tbs, ec.ECDSA(issue.build._HASHES["sha384"]())))
    with pytest.raises(ve.CertificateCheckFailed, match="does not verify"):
        assemble.check_certificate(forged, prepared.tbs, prepared.issuer.public_key, prepared.scheme)
    other_tbs = _intermediate(v, session, root, csr_path)  # another serial: another TBS, really signed
    genuine = assemble.certificate_der(other_tbs.tbs, signer.sign(other_tbs.tbs, other_tbs.scheme))
    with pytest.raises(ve.CertificateCheckFailed, match="TBS differs"):
        assemble.check_certificate(genuine, prepared.tbs, prepared.issuer.public_key, prepared.scheme)
    good = assemble.certificate_der(prepared.tbs, b"\x30\x06\x02\x01\x01\x02\x01\x01")
    with pytest.raises(ve.CertificateCheckFailed):
        assemble.check_certificate(good, prepared.tbs, prepared.issuer.public_key, prepared.scheme)


@pytest.fixture
def faulty_hsm_signatures(monkeypatch):
    """The token really signs; one bit of its answer is flipped on the way out, and the signer's
    own software check (vault.hsm.x509sign) is removed, so only the post-sign check of the
    certificate (vault.pki.assemble, reached through sign_prepared / sign_crl) can catch it.
    SoftHSM never returns a bad signature: this is the adapter boundary the guide allows."""
    import vault.hsm.x509sign as x509sign

    real = x509sign.X509Signer._token_sign

    def flipped(self, data, scheme):
        sig = bytearray(real(self, data, scheme))
        sig[-3] ^= 0x10
        return bytes(sig)

    monkeypatch.setattr(x509sign.X509Signer, "_token_sign", flipped)
    monkeypatch.setattr(x509sign, "software_verify", lambda *a, **k: None)


def test_a_bad_hsm_signature_is_caught_after_signing_and_nothing_is_written(rooted, tmp_path, faulty_hsm_signatures):
    from vault.pki import crl as pki_crl

    v, session, root, signer, csr_path = rooted
    prepared = _intermediate(v, session, root, csr_path)
    certs, files = len(v.store.list_certificates()), sorted(tmp_path.iterdir())
    with pytest.raises(ve.CertificateCheckFailed, match="does not verify"):
        issue.sign_prepared(v, signer, prepared, ceremony_id=CEREMONY)
    assert len(v.store.list_certificates()) == certs and sorted(tmp_path.iterdir()) == files
    # a CRL too: its number is not taken
    issuer = issue.issuer_from_record(v, root, now=NOW)
    prepared_crl = pki_crl.prepare_crl(v, load_profile("crl"), issuer, [], now=NOW)
    with pytest.raises(ve.CertificateCheckFailed):
        pki_crl.sign_crl(signer, prepared_crl)
    assert v.store.list_crls() == [] and v.store.next_crl_number(root.id) == prepared_crl.crl_number
