"""``custodian evidence export|verify``, ``custodian ceremony history`` and ``custodian custodians
export-keys``: what auditors take away and check offline (vault/evidence.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_evidence_export(args: argparse.Namespace) -> int:
    from console.cli import EXIT_OK, _open_vault
    from vault.evidence import export

    vault = _open_vault(args)
    try:
        result = export(vault, Path(args.directory))
    finally:
        vault.close()
    print(f"evidence package written: {result.directory} ({result.files} files: {result.ceremonies} ceremonies, "
          f"{result.events} ledger events)")
    print(f"ledger head #{result.events} {result.head_hex}")
    print(f"manifest SHA-256 {result.manifest_sha256}")
    print(f"check it offline: custodian evidence verify {result.directory} --pinned-keys YOUR-COPY-OF-THE-KEYS")
    return EXIT_OK


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    from console.cli import EXIT_FAILED, EXIT_OK, _print_json
    from vault.ceremony.transcript import load_pinned_keys
    from vault.errors import UsageError
    from vault.evidence import verify

    directory = Path(args.directory)
    if not (directory / "manifest.json").is_file():
        raise UsageError(f"{directory} is not an evidence package (no manifest.json).",
                         next_step="Give the directory `custodian evidence export` wrote.")
    pinned = load_pinned_keys(Path(args.pinned_keys)) if args.pinned_keys else None
    report = verify(directory, pinned)
    if args.json:
        _print_json({"ok": report.ok, "problems": report.problems, "notes": report.notes, "events": report.events,
                     "transcripts": report.transcripts, "attestations": report.attestations, "keys": report.keys,
                     "certificates": report.certificates, "head_signatures": report.head_signatures,
                     "pinned": pinned is not None})
    else:
        for problem in report.problems:
            print(f"evidence FAILED: {problem}", file=sys.stderr)
        for note in report.notes:
            print(f"note: {note}")
        if report.ok:
            print(f"evidence OK: {report.events} ledger events, {report.transcripts} transcripts, "
                  f"{report.attestations} signed attestations, {report.head_signatures} HSM-signed end heads, "
                  f"{report.keys} keys, {report.certificates} certificates"
                  + ("" if pinned is not None else "; keys not pinned: give --pinned-keys to check them against "
                                                   "your own copy"))
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_ceremony_history(args: argparse.Namespace) -> int:
    from console.cli import EXIT_OK, _open_vault, _print_json, _table

    vault = _open_vault(args)
    try:
        rows = []
        for c in vault.store.list_ceremonies()[::-1]:
            outcome = c.status.value
            if outcome == "completed" and any(not a.agree for a in vault.store.attestations_of(c.id)):
                outcome = "completed with dissent"
            elif outcome == "aborted" and c.abort_reason:
                outcome = f"aborted: {c.abort_reason}"
            end = c.ledger_end
            rows.append({"id": c.id, "definition": c.definition_name, "definition_sha256": c.definition_sha256,
                         "mode": c.mode.value, "outcome": outcome, "started_at": c.started_at, "ended_at": c.ended_at,
                         "end_head": None if end is None or end.seq is None else
                         {"seq": end.seq, "hash": end.hash_hex}})
    finally:
        vault.close()
    if args.json:
        _print_json(rows)
        return EXIT_OK
    table = [{**r, "end_head": f"#{r['end_head']['seq']} {r['end_head']['hash'][:16]}…" if r["end_head"] else "-",
              "ended_at": r["ended_at"] or "-"} for r in rows]
    print(_table(table, ["id", "definition", "outcome", "started_at", "ended_at", "end_head"]) if rows
          else "no ceremonies yet")
    return EXIT_OK


def cmd_custodians_export_keys(args: argparse.Namespace) -> int:
    from console.cli import EXIT_OK, _open_vault
    from vault.backup.outfile import write_new_file

    vault = _open_vault(args)
    try:
        from vault.evidence_audit import pins as audit_pins

        people = vault.store.list_custodians(status=None)
        pins = {p.name: p.public_key_pem for p in people}
        audit = audit_pins(vault.store)
        pins.update(audit)
    finally:
        vault.close()
    data = (json.dumps(pins, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    if args.out == "-":
        sys.stdout.write(data.decode())
        return EXIT_OK
    write_new_file(Path(args.out), data)
    print(f"pinned keys of {len(people)} people and {len(audit)} ledger audit keys written: {args.out}")
    print(f"keep a copy off this machine; check transcripts and the ledger with --pinned-keys {args.out}")
    return EXIT_OK


def register(sub) -> None:
    ev = sub.add_parser("evidence", help="the evidence package for auditors").add_subparsers(
        title="evidence commands", metavar="ACTION", dest="evidence_command", required=True)
    p = ev.add_parser("export", help="write every transcript, the ledger, public keys, definitions and certificates "
                                     "to a new directory")
    p.add_argument("directory", metavar="DIR", help="a directory that does not exist yet")
    p.set_defaults(handler=cmd_evidence_export)
    p = ev.add_parser("verify", help="check an evidence package offline")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--pinned-keys", metavar="FILE", help="your own copy of the people's public keys")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_evidence_verify)


def register_history(ceremony_subparsers) -> None:
    p = ceremony_subparsers.add_parser("history", help="past ceremonies: id, definition, outcome, times, end head")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ceremony_history)


def register_export_keys(custodians_subparsers) -> None:
    p = custodians_subparsers.add_parser("export-keys", help="write the pin file (name -> public key PEM) that "
                                                             "`transcript verify --pinned-keys` reads")
    p.add_argument("out", metavar="FILE", help="a new file ('-' for stdout)")
    p.set_defaults(handler=cmd_custodians_export_keys)
