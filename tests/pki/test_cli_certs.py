"""`custodian certs list/show/export` and `custodian crls list` on a vault that issued a root
certificate: what the store holds, one-line errors, export written once."""

from __future__ import annotations

import json

from cryptography import x509

from console.cli import main as custodian
from pki.test_issue_ops import make_root


def test_certs_list_show_export(practice_vault, session, tmp_path, capsys):
    _, root, _ = make_root(practice_vault, session, tmp_path)
    home = ["--home", str(practice_vault.home.path)]
    capsys.readouterr()
    assert custodian([*home, "certs", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["serial"], r["status"], r["key"]) for r in rows] == [("root-ca", root.serial_hex, "issued", "root-key")]

    assert custodian([*home, "certs", "show", root.serial_hex]) == 0
    text = capsys.readouterr().out
    assert root.sha256 in text and "basicConstraints (critical)" in text and "profile_sha256" in text

    out = tmp_path / "exported.pem"
    assert custodian([*home, "certs", "export", root.sha256[:12], str(out)]) == 0
    assert x509.load_pem_x509_certificate(out.read_bytes()).serial_number == int(root.serial_hex, 16)
    capsys.readouterr()
    assert custodian([*home, "certs", "export", root.serial_hex, str(out)]) == 2  # never over a file
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already exists" in err and len(err.strip().splitlines()) == 1

    assert custodian([*home, "certs", "show", "deadbeef00"]) == 2
    assert "No single certificate matches" in capsys.readouterr().err
    assert custodian([*home, "crls", "list"]) == 0
    assert capsys.readouterr().out.strip() == "(none)"
