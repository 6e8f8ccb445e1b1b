"""``custodian certs list|show|export`` and ``custodian crls list``: the certificate store.

Read-only: certificates are issued and revoked only by ceremonies (vault/ceremony/steps/pki.py).
``export`` writes a new file once (never over an existing one).
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_ERROR = 0, 2


def _vault(args):
    """The vault at ``--home``; NO_VAULT (and nothing created) when there is none (console.cli)."""
    from console.cli import _open_vault

    return _open_vault(args)


def _status(store, record) -> str:
    revocation = store.revocation_of(record.id)
    return f"revoked ({revocation.reason})" if revocation else "issued"


def _row(store, c) -> dict:
    return {"id": c.id, "serial": c.serial_hex, "kind": c.kind, "subject": c.subject, "issuer": c.issuer,
            "not_after": c.not_after, "status": _status(store, c), "key": c.key_label or "",
            "sha256": c.sha256, "profile": c.profile_name}


def cmd_certs_list(args) -> int:
    from console.cli import _print_json, _table

    vault = _vault(args)
    try:
        rows = [_row(vault.store, c) for c in vault.store.list_certificates()]
    finally:
        vault.close()
    if args.json:
        _print_json(rows)
    else:
        print(_table(rows, ["id", "kind", "serial", "subject", "not_after", "status", "key"]))
    return EXIT_OK


def cmd_certs_show(args) -> int:
    from cryptography import x509

    from console.cli import _print_json

    vault = _vault(args)
    try:
        c = vault.store.find_certificate(args.cert)
        row = _row(vault.store, c)
        issued_by = vault.store.get_certificate(c.issuer_certificate_id).serial_hex if c.issuer_certificate_id else None
    finally:
        vault.close()
    cert = x509.load_der_x509_certificate(c.der)
    row.update({"not_before": c.not_before, "spki_sha256": c.spki_sha256, "is_ca": c.is_ca,
                "path_length": c.path_length, "signature": c.signature_scheme, "profile_sha256": c.profile_sha256,
                "issuer_serial": issued_by, "path": c.path, "issued_at": c.issued_at, "ceremony": c.ceremony_id,
                "lint_findings": list(c.lint_findings),
                "extensions": [f"{e.oid._name}{' (critical)' if e.critical else ''}" for e in cert.extensions]})
    if args.json:
        _print_json(row)
        return EXIT_OK
    for key in ("id", "kind", "status", "serial", "subject", "issuer", "issuer_serial", "not_before", "not_after",
                "is_ca", "path_length", "key", "spki_sha256", "signature", "profile", "profile_sha256", "sha256",
                "path", "issued_at", "ceremony"):
        print(f"{key:15} {row[key]}")
    print(f"{'extensions':15} {'; '.join(row['extensions'])}")
    for f in row["lint_findings"]:
        print(f"{'lint':15} {f['severity']} {f['code']} {f.get('message') or ''}".rstrip())
    return EXIT_OK


def cmd_certs_export(args) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from vault.pki.writeout import write_pem_once

    vault = _vault(args)
    try:
        c = vault.store.find_certificate(args.cert)
    finally:
        vault.close()
    data = c.der if args.der else x509.load_der_x509_certificate(c.der).public_bytes(Encoding.PEM)
    if args.out == "-":
        if args.der:
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data.decode("ascii"))
        return EXIT_OK
    path = write_pem_once(args.out, data)
    print(f"certificate {c.serial_hex} written to {path}")
    return EXIT_OK


def cmd_crls_list(args) -> int:
    from console.cli import _print_json, _table

    vault = _vault(args)
    try:
        rows = [{"issuer": vault.store.get_certificate(r.issuer_certificate_id).subject, "number": r.crl_number,
                 "this_update": r.this_update, "next_update": r.next_update, "revoked": r.revoked_count,
                 "sha256": r.sha256, "path": r.path or ""} for r in vault.store.list_crls()]
    finally:
        vault.close()
    if args.json:
        _print_json(rows)
    else:
        print(_table(rows, ["number", "issuer", "this_update", "next_update", "revoked", "path"]))
    return EXIT_OK


def register(sub) -> None:
    certs = sub.add_parser("certs", help="issued certificates (the certificate store)").add_subparsers(
        title="certs commands", metavar="ACTION", dest="certs_command", required=True)
    p = certs.add_parser("list", help="every certificate issued by this vault, with its status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_certs_list)
    p = certs.add_parser("show", help="one certificate: by id, serial or SHA-256 (prefix)")
    p.add_argument("cert", metavar="ID|SERIAL|SHA256")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_certs_show)
    p = certs.add_parser("export", help="write a certificate to a new file (PEM, or --der); '-' for stdout")
    p.add_argument("cert", metavar="ID|SERIAL|SHA256")
    p.add_argument("out", metavar="FILE")
    p.add_argument("--der", action="store_true", help="DER instead of PEM")
    p.set_defaults(handler=cmd_certs_export)
    crls = sub.add_parser("crls", help="CRLs signed by this vault").add_subparsers(
        title="crls commands", metavar="ACTION", dest="crls_command", required=True)
    p = crls.add_parser("list", help="every CRL, newest number last")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_crls_list)

