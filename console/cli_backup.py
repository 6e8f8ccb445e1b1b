"""``custodian backup inspect FILE`` and ``custodian backup verify FILE --share REF ...``.

Both work offline, without a console home (an auditor's machine, or a new machine before the
vault is rebuilt). Shares are given only by reference (``env:NAME`` or ``file:PATH``), never on
the command line. Exit 0: the bundle is what it claims; 1: it is damaged, foreign or its MAC
fails; 2: it (or a share) cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vault.errors import BackupError, VaultError

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _keys(entries) -> list[dict]:
    return [{"label": k.label, "version": k.version, "algorithm": k.algorithm.value, "state": k.state.value,
             "cka_id": k.cka_id, "fingerprint": k.fingerprint} for k in entries]


def _header(h) -> dict:
    return {"ceremony_id": h.ceremony_id, "created_at": h.created_at, "mode": h.mode.value, "key_count": h.key_count,
            "share_set_id": h.share_set_id, "slip39_identifier": h.slip39_identifier,
            "kek_check_value": h.kek_check_value, "format_version": h.format_version,
            "wrap_mechanism": h.wrap_mechanism, "mac_algorithm": h.mac_algorithm}


def _print(args, data: dict, keys: list[dict], verdict: str) -> None:
    if args.json:
        print(json.dumps({**data, "keys": keys}, indent=2, sort_keys=True))
        return
    for name, value in data.items():
        print(f"{name:18} {value}")
    for k in keys:
        print(f"key                {k['label']} v{k['version']} {k['algorithm']} {k['state']} {k['fingerprint']}")
    print(verdict)


def _damaged(exc: VaultError) -> int:
    print(f"error: {exc.one_line()}", file=sys.stderr)
    return EXIT_FAILED


def cmd_backup_inspect(args) -> int:
    from vault.errors import BundleCorrupt
    from vault.operations.bundle_check import inspect

    try:
        contents = inspect(Path(args.file))
    except BundleCorrupt as exc:
        return _damaged(exc)
    data = {"bundle": str(args.file), "sha256": contents.sha256, "size": contents.size, **_header(contents.header),
            "mac_checked": False}
    _print(args, data, _keys(e.summary for e in contents.entries),
           "structure OK; the MAC is not checked without the quorum (custodian backup verify FILE --share REF ...)")
    return EXIT_OK


def _resolve(ref: str, kind: str, option: str):
    """A reference given on the command line: its problem named as a usage error (not a script's)."""
    from vault.ceremony.script import resolve_ref
    from vault.errors import ScriptInvalid, UsageError

    try:
        return resolve_ref(ref, Path.cwd(), kind)
    except ScriptInvalid as exc:
        raise UsageError(f"{option} {ref}: {exc.message}", next_step=f"Check the reference given with {option}.") from None


def cmd_backup_verify(args) -> int:
    from vault.errors import UsageError
    from vault.operations.bundle_check import verify_with_shares

    if not args.share:
        raise UsageError("`custodian backup verify` needs the quorum's shares.",
                         next_step="Give each with --share env:NAME or --share file:PATH (never the words themselves).")
    shares, passphrase = [], None
    try:
        for ref in args.share:
            if not (ref.startswith("env:") or ref.startswith("file:")):
                raise UsageError(f"--share {ref[:4]}…: a share is given only by reference.",
                                 next_step="Use --share env:NAME or --share file:PATH.")
            shares.append(_resolve(ref, "share", "--share"))
        if args.passphrase:
            passphrase = _resolve(args.passphrase, "passphrase", "--passphrase")
        try:
            check = verify_with_shares(Path(args.file), shares, passphrase)
        except BackupError as exc:
            if exc.code == "BUNDLE_UNREADABLE":
                raise
            return _damaged(exc)
    finally:
        for s in shares:
            s.wipe()
        if passphrase is not None:
            passphrase.wipe()
    r = check.report
    data = {"bundle": str(args.file), "sha256": r.sha256, "size": r.size, **_header(r.header), "mac_checked": True}
    _print(args, data, _keys(r.keys), f"bundle OK: {r.key_count} keys, MAC verified, written under these shares' "
                                      f"backup key (check value {check.kek_check_value})")
    return EXIT_OK


def register(subparsers) -> None:
    backup = subparsers.add_parser("backup", help="backup bundles, checked offline").add_subparsers(
        title="backup commands", metavar="ACTION", dest="backup_command", required=True)
    p = backup.add_parser("inspect", help="what a bundle holds, every line checked (no key: not authenticated)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_backup_inspect)
    p = backup.add_parser("verify", help="a bundle's MAC and backup key, with a quorum of shares (offline)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--share", action="append", metavar="REF", help="a share by reference: env:NAME or file:PATH (repeat)")
    p.add_argument("--passphrase", metavar="REF", help="the share set's SLIP-39 passphrase, by reference")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_backup_verify)
