"""Key export: every key pair in every format verifies a console signature with openssl, the
fingerprint matches the inventory, AES keys give only their check value, files are written once."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from console.cli import main as cli
from vault.errors import ExportRefused, OutputExists, OutputPathUnsafe
from vault.operations import generate_key, sign_payload
from vault.operations.export import export_key, fingerprint_words
from vault.types import KeyAlgorithm

from .conftest import CEREMONY, last_event

PAIRS = [KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384, KeyAlgorithm.RSA_3072,
         pytest.param(KeyAlgorithm.RSA_4096, marks=pytest.mark.slow), KeyAlgorithm.ED25519]


def _b64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pem_from_jwk(jwk: dict) -> bytes:
    """Rebuild the key from the JWK's members by hand (independent of the library that wrote it)."""
    if jwk["kty"] == "RSA":
        key = rsa.RSAPublicNumbers(int.from_bytes(_b64u(jwk["e"]), "big"),
                                   int.from_bytes(_b64u(jwk["n"]), "big")).public_key()
    elif jwk["kty"] == "EC":
        curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}[jwk["crv"]]
        key = ec.EllipticCurvePublicNumbers(int.from_bytes(_b64u(jwk["x"]), "big"),
                                            int.from_bytes(_b64u(jwk["y"]), "big"), curve).public_key()
    else:
        assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
        key = ed25519.Ed25519PublicKey.from_public_bytes(_b64u(jwk["x"]))
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def pem_from_openssh(path, tmp_path) -> bytes:
    """ssh-keygen converts RSA and ECDSA; it cannot for Ed25519, whose wire form is decoded here."""
    kind, blob = path.read_text().split()[:2]
    if kind != "ssh-ed25519":
        return subprocess.run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", str(path)], check=True,
                              capture_output=True).stdout
    wire = base64.b64decode(blob)
    fields, at = [], 0
    while at < len(wire):
        (n,) = struct.unpack(">I", wire[at:at + 4])
        fields.append(wire[at + 4:at + 4 + n])
        at += 4 + n
    assert fields[0] == b"ssh-ed25519"
    return ed25519.Ed25519PublicKey.from_public_bytes(fields[1]).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def openssl_verify(algorithm: KeyAlgorithm, pem_path, payload, signature) -> subprocess.CompletedProcess:
    if algorithm is KeyAlgorithm.ED25519:
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem_path, "-rawin", "-in", payload,
               "-sigfile", signature]
    elif algorithm.value.startswith("rsa"):
        cmd = ["openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
               "-sigopt", "rsa_mgf1_md:sha256", "-verify", pem_path, "-signature", signature, payload]
    else:
        digest = "-sha384" if algorithm is KeyAlgorithm.EC_P384 else "-sha256"
        cmd = ["openssl", "dgst", digest, "-verify", pem_path, "-signature", signature, payload]
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True)


@pytest.mark.parametrize("algorithm", PAIRS)
def test_every_format_verifies_a_console_signature_with_openssl(practice_vault, session, tmp_path, algorithm):
    backup = algorithm is not KeyAlgorithm.ED25519  # SoftHSM 2.6 cannot wrap Ed25519
    record = generate_key(practice_vault, session, "root", algorithm, backup=backup,
                          no_backup_reason=None if backup else "SoftHSM cannot wrap Ed25519")
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"transfer 10 units to the cold wallet")
    sign_payload(practice_vault, session, "root", payload, tmp_path / "payload.sig", ceremony_id=CEREMONY)
    session.close()  # export reads the public half through a public session, as the CLI does
    forged = tmp_path / "forged.bin"
    forged.write_bytes(b"transfer 99 units to the cold wallet")
    for fmt in ("pem", "der", "jwk", "openssh"):
        out = tmp_path / f"root.{fmt}"
        result = export_key(practice_vault, "root@1", fmt, out)
        assert result.fingerprint == record.fingerprint
        if fmt == "pem":
            pem = out.read_bytes()
        elif fmt == "der":
            pem = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(out)], check=True,
                                 capture_output=True).stdout
            assert "sha256:" + hashlib.sha256(out.read_bytes()).hexdigest() == record.fingerprint
        elif fmt == "jwk":
            jwk = json.loads(out.read_text())
            assert jwk["kid"] == "root@1" and "d" not in jwk
            pem = pem_from_jwk(jwk)
        else:
            assert out.read_text().rstrip().endswith(" root@1")
            pem = pem_from_openssh(out, tmp_path)
        pem_path = tmp_path / f"from-{fmt}.pem"
        pem_path.write_bytes(pem)
        der = serialization.load_pem_public_key(pem).public_bytes(serialization.Encoding.DER,
                                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        assert "sha256:" + hashlib.sha256(der).hexdigest() == record.fingerprint  # the inventory's fingerprint
        ok = openssl_verify(algorithm, pem_path, payload, tmp_path / "payload.sig")
        assert ok.returncode == 0, (fmt, ok.stdout, ok.stderr)
        bad = openssl_verify(algorithm, pem_path, forged, tmp_path / "payload.sig")
        assert bad.returncode != 0, fmt  # openssl really checks: another payload fails
        event = last_event(practice_vault, "key.exported").details
        assert (event["key"], event["format"], event["sha256"]) == ("root@1", fmt, result.sha256)


def test_aes_keys_export_only_their_check_value(practice_vault, session, tmp_path):
    record = generate_key(practice_vault, session, "dek", KeyAlgorithm.AES_256)
    session.close()
    for fmt in ("pem", "der", "jwk", "openssh"):
        with pytest.raises(ExportRefused, match="check value"):
            export_key(practice_vault, "dek", fmt, tmp_path / f"dek.{fmt}")
        assert not (tmp_path / f"dek.{fmt}").exists()
    result = export_key(practice_vault, "dek", None, tmp_path / "dek.kcv")
    statement = json.loads((tmp_path / "dek.kcv").read_text())
    assert statement["check_value"] == record.fingerprint == result.fingerprint
    assert set(statement) == {"name", "version", "label", "algorithm", "check_value", "check_value_words",
                              "check_value_method"}  # nothing but the check value of the key itself
    assert statement["check_value_words"] == fingerprint_words(record.fingerprint)


def test_export_never_overwrites_and_records_nothing_when_refused(practice_vault, session, tmp_path):
    generate_key(practice_vault, session, "root", KeyAlgorithm.EC_P256)
    session.close()
    out = tmp_path / "taken.pem"
    out.write_text("keep me")
    head = practice_vault.ledger.head()
    with pytest.raises(OutputExists):
        export_key(practice_vault, "root", "pem", out)
    assert out.read_text() == "keep me" and practice_vault.ledger.head() == head
    link = tmp_path / "link.pem"
    link.symlink_to(tmp_path / "elsewhere.pem")
    with pytest.raises((OutputExists, OutputPathUnsafe)):
        export_key(practice_vault, "root", "pem", link)
    assert not (tmp_path / "elsewhere.pem").exists()


def test_cli_export_prints_fingerprint_and_words(practice_vault, session, tmp_path, capsys):
    record = generate_key(practice_vault, session, "root", KeyAlgorithm.EC_P256)
    session.close()
    home = str(practice_vault.home.path)
    practice_vault.hsm().close()
    practice_vault.close()
    out = tmp_path / "root.jwk"
    assert cli(["--home", home, "keys", "export", "root", "--format", "jwk", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"fingerprint: {record.fingerprint}" in text
    assert f"words: {fingerprint_words(record.fingerprint)}" in text
    assert cli(["--home", home, "keys", "export", "root", "--out", str(out)]) == 2  # written once
    assert "already exists" in capsys.readouterr().err
    assert cli(["--home", home, "keys", "export", "nope@3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
