"""``custodian keys export``: a key's public half (or an AES key's check value), written once;
``custodian keys revocation``: a revoked key's signed revocation statement, again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_keys_export(args: argparse.Namespace) -> int:
    from console.cli import EXIT_OK, _open_vault
    from vault.errors import ExportRefused
    from vault.operations.export import ExportFormat, export_key

    vault = _open_vault(args, create=False)
    try:
        if args.out is None and args.format == ExportFormat.DER.value:
            raise ExportRefused("DER is binary: it is written to a file only.", next_step="Add --out FILE.")
        result = export_key(vault, args.key, args.format, Path(args.out) if args.out else None,
                            actor=args.actor)
    finally:
        vault.close()
    info = sys.stderr if args.out is None else sys.stdout
    if args.out is None:
        sys.stdout.write(result.data.decode())
    print(f"key: {result.key.ref} ({result.key.algorithm.value}, {result.key.purpose.value}, "
          f"{result.key.state.value}, label {result.key.label})", file=info)
    print(f"fingerprint: {result.fingerprint}", file=info)
    print(f"words: {result.fingerprint_words}", file=info)
    if result.path:
        print(f"written: {result.path} ({result.format.value}, sha256 {result.sha256})", file=info)
    return EXIT_OK


def cmd_keys_revocation(args: argparse.Namespace) -> int:
    from console.cli import EXIT_OK, _open_vault
    from vault.operations.revocation import export_revocation_statement

    vault = _open_vault(args, create=False)
    try:
        written = export_revocation_statement(vault, args.key, Path(args.out), actor=args.actor)
    finally:
        vault.close()
    st = written.statement
    print(f"key: {st['key']['name']}@{st['key']['version']} revoked ({st['revocation_reason']}, KMIP "
          f"{st['kmip_reason_code']}) at {st['revoked_at']}, now {st['state']}")
    print(f"signed by: {written.signer} ({st['signer']['fingerprint']}); signature verified")
    print(f"written: {written.path} (sha256 {written.sha256}) and {written.signature_path}")
    return EXIT_OK


def register(sub) -> None:
    keys = getattr(sub, "keys_commands", None)
    if keys is None:  # the `keys` group is built in console/cli.py
        return
    p = keys.add_parser("export", help="export a public key (pem, der, jwk, openssh) or an AES key's check value")
    p.add_argument("key", metavar="NAME[@VERSION]", help="the key: NAME (newest active version) or NAME@VERSION")
    p.add_argument("--format", choices=["pem", "der", "jwk", "openssh", "kcv"], default=None,
                   help="pem (default for key pairs), der, jwk, openssh; kcv (AES keys: the check value only)")
    p.add_argument("--out", metavar="FILE", help="write to a new file (never overwritten); default: print")
    p.add_argument("--actor", default="console", help="who exports (recorded in the ledger)")
    p.set_defaults(handler=cmd_keys_export)
    p = keys.add_parser("revocation", help="write a revoked key's signed revocation statement again (checked first)")
    p.add_argument("key", metavar="NAME[@VERSION]", help="the revoked key")
    p.add_argument("--out", metavar="FILE", required=True, help="the statement (a new file); its signature goes to FILE.sig")
    p.add_argument("--actor", default="console", help="who exports (recorded in the ledger)")
    p.set_defaults(handler=cmd_keys_revocation)
