"""``custodian``: the command-line front end.

Every command runs on the main thread, which is then the vault's owning thread (vault.runtime).
Textual is imported only when the TUI opens, so ``custodian --help`` and the reporting commands
start fast. Every failure exits non-zero with one line on stderr: ``error: CODE: message Next: …``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable, Sequence

from vault import __version__
from vault.errors import VaultError

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and found a problem (a broken ledger, a failed check)
EXIT_ERROR = 2  # the command could not run (bad input, missing token, ...)


def _open_vault(args: argparse.Namespace, *, create: bool = True):
    from vault.home import resolve_home
    from vault.vault import Vault

    return Vault.open(resolve_home(args.home), create_practice=create)


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    head = "  ".join(c.upper().ljust(widths[c]) for c in columns)
    body = ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join([head, *body])


# --- commands ---------------------------------------------------------------------------------
def cmd_tui(args: argparse.Namespace) -> int:
    from console.app import run_tui  # textual is imported here and only here

    return run_tui(home=args.home)


def cmd_doctor(args: argparse.Namespace) -> int:
    from vault.doctor import run_doctor

    vault = _open_vault(args)
    try:
        report = run_doctor(vault)
    finally:
        vault.close()
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.render_text())
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_keys_list(args: argparse.Namespace) -> int:
    vault = _open_vault(args)
    try:
        keys = vault.store.list_keys()
        rows = [
            {
                "key": k.ref,
                "name": k.name,
                "label": k.label,
                "purpose": k.purpose.value,
                "expires_at": k.expires_at or "",
                "algorithm": k.algorithm.value,
                "state": k.state.value,
                "version": k.version,
                "fingerprint": k.fingerprint,
                "backup": k.backup.value if k.no_backup_reason is None else f"{k.backup.value} ({k.no_backup_reason})",
                "token_serial": k.token_serial,
            }
            for k in keys
        ]
    finally:
        vault.close()
    if args.json:
        _print_json(rows)
    else:
        print(_table(rows, ["key", "label", "algorithm", "purpose", "state", "fingerprint", "backup"]))
    return EXIT_OK


def cmd_custodians_list(args: argparse.Namespace) -> int:
    vault = _open_vault(args)
    try:
        people = vault.store.list_custodians()
        rows = [{"name": c.name, "role": c.role.value, "status": c.status.value, "enrolled_at": c.enrolled_at} for c in people]
    finally:
        vault.close()
    if args.json:
        _print_json(rows)
    else:
        print(_table(rows, ["name", "role", "status", "enrolled_at"]))
    return EXIT_OK


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from vault.ledger import pgp_words

    vault = _open_vault(args)
    try:
        report = vault.ledger.verify()
    finally:
        vault.close()
    if args.json:
        _print_json(
            {
                "ok": report.ok,
                "count": report.count,
                "head": report.head.hash_hex if report.head else None,
                "first_bad_seq": report.first_bad_seq,
                "problem": report.problem,
            }
        )
    elif report.ok:
        head = report.head.hash_hex
        print(f"ledger OK: {report.count} events; head #{report.head.seq} {head}")
        print(f"head in PGP words: {pgp_words(head)}")
    else:
        print(f"ledger BROKEN at event #{report.first_bad_seq}: {report.problem}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_home_init(args: argparse.Namespace) -> int:
    from vault.home import create_production_home, resolve_home
    from vault.vault import Vault

    path = resolve_home(args.home)
    if args.production:
        if not args.module or not args.token:
            raise VaultError("A production home needs --module and --token.",
                             next_step="Give the HSM vendor's PKCS#11 module path and the token URI or label.")
        create_production_home(path, args.module, args.token)
    vault = Vault.open(path)
    try:
        info = vault.info
    finally:
        vault.close()
    print(f"{info.mode.value} home ready at {info.home} (module {info.module}, token {info.token})")
    return EXIT_OK


# --- parser ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="custodian",
        description="Custodian console: guided m-of-n key ceremonies on an HSM. "
        "Without a command it opens the console (TUI) on the home's vault.",
    )
    parser.add_argument("--home", metavar="DIR", help="console home (default: $CUSTODIAN_HOME, else the user data directory)")
    parser.add_argument("--version", action="version", version=f"custodian-console {__version__}")
    parser.set_defaults(handler=cmd_tui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("tui", help="open the console (the default)")
    p.set_defaults(handler=cmd_tui)

    p = sub.add_parser("doctor", help="check token, capabilities, database, ledger, air gap, drill due")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_doctor)

    keys = sub.add_parser("keys", help="master keys").add_subparsers(title="keys commands", metavar="ACTION")
    sub.keys_commands = keys  # other modules add `keys` actions (console/cli_keys.py)
    p = keys.add_parser("list", help="list master keys and their states")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_keys_list)

    cust = sub.add_parser("custodians", help="enrolled people").add_subparsers(title="custodians commands", metavar="ACTION")
    p = cust.add_parser("list", help="list custodians, administrators and witnesses")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_custodians_list)

    led = sub.add_parser("ledger", help="the hash-chained event ledger").add_subparsers(title="ledger commands", metavar="ACTION")
    p = led.add_parser("verify", help="verify the whole hash chain; names the first bad event")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ledger_verify)

    home = sub.add_parser("home", help="the console home").add_subparsers(title="home commands", metavar="ACTION")
    p = home.add_parser("init", help="create a home (practice by default)")
    p.add_argument("--production", action="store_true", help="a production home on a real HSM")
    p.add_argument("--module", help="PKCS#11 module path (production)")
    p.add_argument("--token", help="token PKCS#11 URI or label (production)")
    p.set_defaults(handler=cmd_home_init)

    for register in _extra_registrations():
        register(sub)
    return parser


def _extra_registrations() -> list[Callable]:
    """Command groups that live in their own modules (ceremonies, transcripts, verify)."""
    from console import cli_ceremony, cli_keys

    return [cli_ceremony.register, cli_keys.register]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except VaultError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted; nothing further was done.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `custodian ledger verify | head -1`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
