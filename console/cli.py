"""``custodian``: the command-line front end.

Every command runs on the main thread, which is then the vault's owning thread (vault.runtime).
Textual is imported only when the TUI opens, so ``custodian --help`` and the reporting commands
start fast.

Every failure is one line on stderr, ``error: CODE: message Next: …``, never a traceback, and
the exit status says what kind of failure it was (documented in the README):

* 0  done;
* 1  the command ran and the answer is no: a verification failed (ledger, transcript, signature,
     bundle), doctor found a problem, or a ceremony did not complete;
* 2  the command could not run: bad input, no vault at ``--home``, an unreadable file, a usage
     error;
* 3  an internal error (a bug): nothing further was done; ``CUSTODIAN_DEBUG=1`` shows the traceback;
* 130 interrupted (Ctrl-C).

Global options (``--home``) are accepted before or after the command (``custodian doctor --home
DIR`` is ``custodian --home DIR doctor``); the value given last wins. Command groups that live in
their own modules register through ``_extra_registrations()`` and get the same global options,
the same one-line errors and the same exit codes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable, Sequence

from vault import __version__
from vault.errors import InternalError, Interrupted, UsageError, VaultError

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and found a problem (a broken ledger, a failed check)
EXIT_ERROR = 2  # the command could not run (bad input, missing token, ...)
EXIT_INTERNAL = 3  # a bug: an exception no check anticipated
EXIT_INTERRUPTED = 130

HOME_HELP = "console home (default: $CUSTODIAN_HOME, else the user data directory)"


def _open_vault(args: argparse.Namespace, *, create: bool = False):
    """The vault at ``--home``; a directory that is not a home is refused (NO_VAULT), never created."""
    from vault.home import resolve_home
    from vault.vault import Vault

    return Vault.open(resolve_home(args.home), create_practice=create)


def home_path(args: argparse.Namespace, *, must_exist: bool = True):
    """The ``--home`` path; with ``must_exist`` a directory that is not a home is refused (NO_VAULT)."""
    from vault.home import require_home, resolve_home

    path = resolve_home(getattr(args, "home", None))
    if must_exist:
        require_home(path)
    return path


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


def pgp_words_of_fingerprint(fingerprint: str) -> str:
    from vault.ledger import pgp_words

    return pgp_words(fingerprint.split(":", 1)[-1])


def cmd_custodians_list(args: argparse.Namespace) -> int:
    vault = _open_vault(args)
    try:
        people = vault.store.list_custodians()
        from vault.identity import public_key_fingerprint

        rows = [{"name": c.name, "role": c.role.value, "status": c.status.value, "enrolled_at": c.enrolled_at,
                 "fingerprint": public_key_fingerprint(c.public_key_pem),
                 "words": pgp_words_of_fingerprint(public_key_fingerprint(c.public_key_pem))} for c in people]
    finally:
        vault.close()
    if args.json:
        _print_json(rows)
    else:
        print(_table(rows, ["name", "role", "status", "enrolled_at", "fingerprint"]))
    return EXIT_OK


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from vault import ledger_anchors
    from vault.ledger import pgp_words

    vault = _open_vault(args)
    try:
        pinned = None
        if args.pinned_keys:
            from vault.ceremony.transcript import load_pinned_keys

            pinned = load_pinned_keys(args.pinned_keys)
        expected = ledger_anchors.parse_expected_head(args.expected_head, vault) if args.expected_head else None
        report = ledger_anchors.check(vault, pinned=pinned, expected_head=expected, from_checkpoint=not args.full)
    finally:
        vault.close()
    chain = report.chain
    if args.json:
        _print_json(
            {
                "ok": report.ok,
                "count": chain.count,
                "head": chain.head.hash_hex if chain.head else None,
                "first_bad_seq": chain.first_bad_seq,
                "problem": chain.problem,
                "anchor_problems": report.problems,
                "signed_heads": report.signed,
                "last_signed": ({"seq": report.last_signed.seq, "hash": report.last_signed.hash_hex}
                                if report.last_signed else None),
                "verified_from": report.start_seq,
                "unproven": report.unproven,
                "hsm_signed_heads": report.hsm_signed,
                "hsm_signed_span": ({"first": report.hsm_first.seq, "last": report.hsm_last.seq}
                                    if report.hsm_last else None),
            }
        )
        return EXIT_OK if report.ok else EXIT_FAILED
    if not chain.ok:
        print(f"ledger BROKEN at event #{chain.first_bad_seq}: {chain.problem}", file=sys.stderr)
    for problem in report.problems:
        print(f"ledger ANCHOR problem: {problem}", file=sys.stderr)
    if report.ok:
        head = chain.head.hash_hex
        scope = ("every event" if report.start_seq == 1
                 else f"no event after the last verified checkpoint, event {chain.count} (--full re-checks all)"
                 if report.start_seq > chain.count
                 else f"events {report.start_seq}..{chain.count} (from the last verified checkpoint; --full re-checks all)")
        print(f"ledger OK: {chain.count} events; head #{chain.head.seq} {head}")
        print(f"head in PGP words: {pgp_words(head)}")
        print(f"hashes checked: {scope}; {report.signed} signed heads checked"
              + (f", the last at event {report.last_signed.seq}" if report.last_signed else ""))
        print(f"HSM-signed: {report.hsm_span()}")
        if expected is not None:
            print(f"matches the expected head #{expected.seq}")
        if report.unproven:
            print(f"not covered by a signature: {report.unproven}")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_home_init(args: argparse.Namespace) -> int:
    from vault.home import create_practice_home, create_production_home, resolve_home
    from vault.vault import Vault

    path = resolve_home(args.home)
    if args.production:
        if not args.module or not args.token:
            raise UsageError("A production home needs --module and --token.",
                             next_step="Give the HSM vendor's PKCS#11 module path and the token URI or label.")
        create_production_home(path, args.module, args.token, adopt_token=args.adopt,
                               current_so_pin=args.current_so_pin, pin_policy=args.pin_policy)
    else:
        create_practice_home(path)
    vault = Vault.open(path, create_practice=False)  # writes the ledger's genesis event
    try:
        info = vault.info
    finally:
        vault.close()
    print(f"{info.mode.value} home ready at {info.home} (module {info.module}, token {info.token})")
    return EXIT_OK


# --- parser ---------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with the console's one-line error (``error: USAGE: …``) and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        err = UsageError(f"{message} ({self.prog}).", next_step=f"See `{self.prog} --help`.")
        self.exit(EXIT_ERROR, f"error: {err.one_line()}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="custodian",
        description="Custodian console: guided m-of-n key ceremonies on an HSM. "
        "Without a command it opens the console (TUI) on the home's vault.",
        epilog="Exit status: 0 done; 1 a verification failed or a ceremony did not complete; 2 the command "
        "could not run (bad input, no vault, unreadable file); 3 internal error; 130 interrupted.",
    )
    parser.add_argument("--home", metavar="DIR", help=HOME_HELP)
    parser.add_argument("--version", action="version", version=f"custodian-console {__version__}")
    parser.set_defaults(handler=cmd_tui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("tui", help="open the console (the default)")
    p.set_defaults(handler=cmd_tui)

    p = sub.add_parser("doctor", help="check token, capabilities, database, ledger, air gap, drill due")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_doctor)

    keys = sub.add_parser("keys", help="master keys").add_subparsers(
        title="keys commands", metavar="ACTION", dest="keys_command", required=True)
    sub.keys_commands = keys  # other modules add `keys` actions (console/cli_keys.py)
    p = keys.add_parser("list", help="list master keys and their states")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_keys_list)

    cust = sub.add_parser("custodians", help="enrolled people").add_subparsers(
        title="custodians commands", metavar="ACTION", dest="custodians_command", required=True)
    p = cust.add_parser("list", help="list custodians, administrators and witnesses")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_custodians_list)
    from console.cli_evidence import register_export_keys

    register_export_keys(cust)

    led = sub.add_parser("ledger", help="the hash-chained event ledger").add_subparsers(
        title="ledger commands", metavar="ACTION", dest="ledger_command", required=True)
    p = led.add_parser("verify", help="verify the hash chain and every signed head; names the first bad event")
    p.add_argument("--json", action="store_true")
    p.add_argument("--full", action="store_true",
                   help="re-hash every event (default: from the last verified signed checkpoint)")
    p.add_argument("--expected-head", metavar="[SEQ:]HEX|WORDS",
                   help="a head read from paper (hex or PGP words): the ledger must still hold it")
    p.add_argument("--pinned-keys", metavar="FILE",
                   help="public keys kept off the machine (custodians export-keys): signatures must verify under them")
    p.set_defaults(handler=cmd_ledger_verify)

    home = sub.add_parser("home", help="the console home").add_subparsers(
        title="home commands", metavar="ACTION", dest="home_command", required=True)
    p = home.add_parser("init", help="create a home (practice by default)")
    p.add_argument("--production", action="store_true", help="a production home on a real HSM")
    p.add_argument("--module", help="PKCS#11 module path (production)")
    p.add_argument("--token", help="token PKCS#11 URI or label (production)")
    p.add_argument("--adopt", metavar="TOKEN", help="production: adopt this token as the vendor's tools left it "
                   "(URI or label); init takes its PINs over")
    p.add_argument("--current-so-pin", metavar="REF", help="with --adopt: the token's current SO PIN by reference, "
                   "env:NAME or file:PATH (never the PIN)")
    p.add_argument("--pin-policy", choices=("quorum", "hsm", "hsm-procedure"), default="quorum",
                   help="production: who authenticates to the token: quorum (PINs derived from the quorum, the "
                   "default), hsm (its PIN entry device), hsm-procedure (the user PIN its vendor's procedure set, "
                   "given by its holder per ceremony)")
    p.set_defaults(handler=cmd_home_init)
    from console.cli_rebuild import register_home

    register_home(home)

    for register in _extra_registrations():
        register(sub)
    _global_options_everywhere(parser)
    return parser


def _global_options_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give every (sub)command ``--home`` with ``default=SUPPRESS``: a value given after the
    command overrides the one before it, and an absent one leaves the top-level value alone."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in {id(p): p for p in action.choices.values()}.values():
            if "--home" not in child._option_string_actions:
                child.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, help=HOME_HELP)
            _global_options_everywhere(child)


def _extra_registrations() -> list[Callable]:
    """Command groups that live in their own modules (ceremonies, transcripts, verify, certificates)."""
    from console import cli_backup, cli_ceremony, cli_certs, cli_evidence, cli_keys

    return [cli_ceremony.register, cli_certs.register, cli_backup.register, cli_keys.register, cli_evidence.register]


def main(argv: Sequence[str] | None = None) -> int:
    from vault.process import harden_process

    harden_process()  # no core dump, no ptrace, private umask: before any secret can exist
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error already printed on one line
        return done.code if isinstance(done.code, int) else EXIT_ERROR
    try:
        if getattr(args, "home", None) == "":  # `--home "$UNSET"`: never the default home in its place
            raise UsageError("--home is empty.", next_step="Give the console home's directory after --home "
                                                           "(or leave --home out for the default home).")
        return args.handler(args)
    except VaultError as exc:
        return fail(exc, EXIT_ERROR)
    except KeyboardInterrupt:
        return fail(Interrupted("Interrupted (Ctrl-C); nothing further was done."), EXIT_INTERRUPTED)
    except BrokenPipeError:  # e.g. `custodian ledger verify | head -1`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # a file the command needed: named, without a traceback
        where = f" {exc.filename}" if exc.filename else ""
        return fail(VaultError(f"Cannot use{where}: {exc.strerror or exc}.",
                               next_step="Check the path and its permissions, then retry."), EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        if os.environ.get("CUSTODIAN_DEBUG"):
            raise
        # Only the type is shown: an unexpected exception's text was never checked for secrets.
        return fail(InternalError(f"Unexpected {type(exc).__name__} in `custodian`."), EXIT_INTERNAL)


def fail(exc: VaultError, status: int) -> int:
    """Print ``error: CODE: message Next: …`` on one line of stderr and return ``status``."""
    print(f"error: {exc.one_line()}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
