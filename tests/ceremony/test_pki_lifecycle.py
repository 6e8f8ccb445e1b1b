"""The PKI ceremonies end to end from scripts on a practice home (real SoftHSM, real SQLite),
checked by openssl and by pkilint's own command-line linters, independently of the console:

init -> root-ca (EC P-384 and RSA-4096) -> intermediate from a CSR made by `openssl req -new`
-> a second, test intermediate -> crl revoking the test serial -> ocsp-signer -> cross-sign
-> issue-batch; then `openssl verify -CAfile root.pem -untrusted int.pem leaf.pem` for a leaf
signed by the intermediate's key, `openssl crl -verify`, `openssl x509 -text` showing exactly the
profile's extensions, and pkilint reporting no errors.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from console.cli import main as custodian
from support.ceremony_workspace import Workspace
from vault.pki.profile import load_profile

OPENSSL = shutil.which("openssl")
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


def openssl(*args, check=True, cwd=None):
    return subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, check=check, cwd=cwd)


def pkilint_errors(tool: str, *args) -> str:
    """pkilint's own CLI at severity ERROR: its exit code is the number of findings."""
    out = subprocess.run([str(BIN / tool), "lint", "-s", "ERROR", *map(str, args)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def csr(ws: Workspace, name: str, cn: str) -> Path:
    key = ws.root / "pki" / f"{name}.key"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", key)
    openssl("req", "-new", "-key", key, "-subj", f"/C=ZZ/O=Requester/CN={cn}", "-out", ws.root / "pki" / f"{name}.csr")
    return key


# Extension short names as `openssl x509 -text` prints them, per profile key.
TEXT = {"basic_constraints": "X509v3 Basic Constraints: critical", "key_usage": "X509v3 Key Usage: critical",
        "extended_key_usage": "X509v3 Extended Key Usage", "ski": "X509v3 Subject Key Identifier",
        "aki": "X509v3 Authority Key Identifier", "crl_distribution_points": "X509v3 CRL Distribution Points",
        "aia": "Authority Information Access", "policies": "X509v3 Certificate Policies",
        "ocsp_no_check": "OCSP No Check"}


def expected_extensions(name: str) -> set[str]:
    p = load_profile(name)
    want = {TEXT["basic_constraints"], TEXT["key_usage"], TEXT["ski"], TEXT["aki"]}
    want |= {TEXT["extended_key_usage"]} if p.extended_key_usage else set()
    want |= {TEXT["crl_distribution_points"]} if p.crl_distribution_points else set()
    want |= {TEXT["aia"]} if (p.ocsp_urls or p.ca_issuers_urls) else set()
    want |= {TEXT["policies"]} if p.policies else set()
    want |= {TEXT["ocsp_no_check"]} if p.ocsp_no_check else set()
    return want


def shown_extensions(pem: Path) -> set[str]:
    text = openssl("x509", "-in", pem, "-noout", "-text").stdout
    lines = text.split("X509v3 extensions:")[1].split("Signature Algorithm:")[0].splitlines()
    return {ln.strip().rstrip(":") for ln in lines if ln.startswith(" " * 12) and not ln.startswith(" " * 16) and ln.strip()}


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    ws = Workspace(tmp_path / "ws", monkeypatch)
    ws.run_ok("init")
    return ws


@pytest.mark.parametrize("algorithm", ["ec-p384", pytest.param("rsa-4096", marks=pytest.mark.slow)])
def test_practice_pki_lifecycle_verifies_with_openssl_and_pkilint(ws: Workspace, algorithm: str):
    media = ws.root / "media"
    root_pem = media / "root-2026.pem"
    ws.run_ok("root-ca", ws.variant("root-ca", answers={"generate.algorithm": algorithm}))
    root = x509.load_pem_x509_certificate(root_pem.read_bytes())
    assert root.subject == root.issuer and "Practice Root CA R1" in root.subject.rfc4514_string()
    ws.run_ok("root-ca-existing")  # a re-issued root for the same HSM key: same subject and key, new serial
    reissued = x509.load_pem_x509_certificate((media / "root-2026-reissued.pem").read_bytes())
    assert reissued.public_key() == root.public_key() and reissued.serial_number != root.serial_number
    assert openssl("verify", "-CAfile", media / "root-2026-reissued.pem", media / "root-2026-reissued.pem").returncode == 0

    int_key = csr(ws, "intermediate", "Practice Issuing CA 1")
    ws.run_ok("intermediate")
    int_pem = media / "intermediate.pem"
    inter = x509.load_pem_x509_certificate(int_pem.read_bytes())
    # only the CSR's key and the CN the profile lets through: O and C are the profile's
    assert inter.subject.rfc4514_string() == "CN=Practice Issuing CA 1,O=Practice PKI,C=XX"

    # a leaf signed by the intermediate's own key verifies up to our root
    leaf_key, leaf_csr, leaf_pem = ws.root / "leaf.key", ws.root / "leaf.csr", ws.root / "leaf.pem"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", leaf_key)
    openssl("req", "-new", "-key", leaf_key, "-subj", "/CN=www.example.com", "-out", leaf_csr)
    ext = ws.root / "leaf.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:www.example.com\n")
    openssl("x509", "-req", "-in", leaf_csr, "-CA", int_pem, "-CAkey", int_key, "-CAcreateserial", "-days", "30",
            "-extfile", ext, "-out", leaf_pem)
    out = openssl("verify", "-CAfile", root_pem, "-untrusted", int_pem, leaf_pem)
    assert out.stdout.strip() == f"{leaf_pem}: OK"

    # a second (test) intermediate, then a CRL revoking its serial
    csr(ws, "test-ca", "Practice Test CA")
    ws.run_ok("intermediate", ws.variant("intermediate", answers={"intermediate.csr": "pki/test-ca.csr",
                                                                  "intermediate.path": "media/test-ca.pem"}))
    test_serial = format(x509.load_pem_x509_certificate((media / "test-ca.pem").read_bytes()).serial_number, "x")
    ws.run_ok("crl", ws.variant("crl", answers={"crl.revoke": [f"{test_serial} key-compromise", ""]}))
    crl_path = media / "root-2026-1.crl"
    out = openssl("crl", "-in", crl_path, "-CAfile", root_pem, "-noout", "-verify")
    assert "verify OK" in out.stdout + out.stderr
    assert test_serial.upper() in openssl("crl", "-in", crl_path, "-noout", "-text").stdout.upper().replace(":", "")
    revoked = openssl("verify", "-crl_check", "-CRLfile", crl_path, "-CAfile", root_pem, media / "test-ca.pem", check=False)
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr
    still_good = openssl("verify", "-crl_check", "-CRLfile", crl_path, "-CAfile", root_pem, int_pem)
    assert still_good.stdout.strip().endswith("OK")

    ws.run_ok("ocsp-signer")
    ocsp_pem = media / "ocsp-2026.pem"
    assert openssl("verify", "-CAfile", root_pem, ocsp_pem).stdout.strip().endswith("OK")

    ws.run_ok("cross-sign")
    cross = x509.load_pem_x509_certificate((media / "cross-other-root.pem").read_bytes())
    other = x509.load_pem_x509_certificate((ws.root / "pki" / "other-root.pem").read_bytes())
    assert cross.subject == other.subject and cross.public_key() == other.public_key()
    assert openssl("verify", "-CAfile", root_pem, media / "cross-other-root.pem").stdout.strip().endswith("OK")

    ws.run_ok("issue-batch")
    fleet = sorted((media / "fleet").glob("*.pem"))
    assert [p.stem for p in fleet] == ["device-1", "device-2", "device-3"]
    for pem in fleet:
        assert openssl("verify", "-CAfile", root_pem, pem).stdout.strip().endswith("OK")

    # exactly the profile's extensions, as openssl prints them
    for pem, profile in ((root_pem, "root-ca"), (int_pem, "intermediate"), (ocsp_pem, "ocsp-signer"),
                         (media / "cross-other-root.pem", "cross-sign"), (fleet[0], "leaf")):
        assert shown_extensions(pem) == expected_extensions(profile), profile

    # pkilint's own linters: no errors
    pkilint_errors("lint_cabf_serverauth_cert", "-t", "ROOT-CA", root_pem)
    pkilint_errors("lint_cabf_serverauth_cert", "-t", "INTERNAL-UNCONSTRAINED-TLS-CA", int_pem)
    for pem in (ocsp_pem, media / "cross-other-root.pem", fleet[0]):
        pkilint_errors("lint_pkix_cert", pem)
    pkilint_errors("lint_crl", "-t", "CRL", "-p", "PKIX", crl_path)

    # the store and the ledger know everything; the CLI lists and exports it
    with ws.vault() as v:
        kinds = [c.kind for c in v.store.list_certificates()]
        assert kinds == ["root-ca", "root-ca", "intermediate", "intermediate", "ocsp-signer", "cross-sign", "leaf", "leaf", "leaf"]
        actions = [e.action for e in v.ledger.events()]
        assert actions.count("certificate.issued") == 9 and actions.count("crl.issued") == 1
        assert actions.count("certificate.revoked") == 1
        assert v.store.list_crls()[0].crl_number == 1
    assert custodian(["--home", str(ws.home), "ledger", "verify"]) == 0

    # no share, quorum secret, PIN or passphrase anywhere the PKI ceremonies wrote
    from support.ceremony_workspace import PEOPLE, passphrase
    from support.secret_scan import scan, secret_needles, share_needles, text_needles
    from vault.secret import Secret
    from vault.shares import derive_user_pin

    needles = [n for owner, m in ws.shares().items() for n in share_needles(owner, m)]
    qs = ws.quorum_secret()
    needles += secret_needles("QS", qs)
    with derive_user_pin(Secret(qs)) as pin:
        needles += text_needles("user PIN", pin.reveal_text())
    needles += [n for person in PEOPLE for n in text_needles(f"passphrase of {person}", passphrase(person))]
    assert scan([ws.home, media], needles) == []
