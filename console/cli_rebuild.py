"""``custodian home rebuild --bundle FILE --share REF ...``: the lost machine's way back.

On a new home (just created with ``custodian home init``), a quorum of shares and a backup
bundle of format 2 or 3 recreate the vault's database and ledger (vault.operations.rebuild); a
restore ceremony onto a fresh token follows.
"""

from __future__ import annotations

from pathlib import Path

from console.cli import EXIT_OK, home_path


def cmd_home_rebuild(args) -> int:
    from vault.ceremony.script import resolve_ref
    from vault.errors import UsageError
    from vault.operations.rebuild import rebuild_from_bundle

    if not args.share:
        raise UsageError("`custodian home rebuild` needs the quorum's shares.",
                         next_step="Give each with --share env:NAME or --share file:PATH (never the words themselves).")
    home = home_path(args)
    shares, passphrase = [], None
    try:
        for ref in args.share:
            if not (ref.startswith("env:") or ref.startswith("file:")):
                raise UsageError(f"--share {ref[:4]}…: a share is given only by reference.",
                                 next_step="Use --share env:NAME or --share file:PATH.")
            shares.append(resolve_ref(ref, Path.cwd(), "share"))
        if args.passphrase:
            passphrase = resolve_ref(args.passphrase, Path.cwd(), "passphrase")
        result = rebuild_from_bundle(home, Path(args.bundle), shares, passphrase)
    finally:
        for s in shares:
            s.wipe()
        if passphrase is not None:
            passphrase.wipe()
    print(f"vault rebuilt from {result.bundle} (sha256 {result.sha256[:16]}…): {result.keys} keys, "
          f"{result.custodians} custodians, share set {result.share_set}, ledger continued after event "
          f"#{result.ledger_seq}")
    for line in result.settings:
        print(line)
    if result.ceremonies_ended:
        print(f"ended as aborted (their end is known only to the lost machine): {', '.join(result.ceremonies_ended)}")
    print("next: restore the keys onto a fresh token: custodian ceremony run restore --script FILE")
    return EXIT_OK


def register_home(home_commands) -> None:
    p = home_commands.add_parser("rebuild", help="recreate a lost vault's database and ledger from a backup bundle")
    p.add_argument("--bundle", required=True, metavar="FILE", help="a backup bundle of format 2 or later")
    p.add_argument("--share", action="append", metavar="REF", help="a share by reference: env:NAME or file:PATH (repeat)")
    p.add_argument("--passphrase", metavar="REF", help="the share set's SLIP-39 passphrase, by reference")
    p.set_defaults(handler=cmd_home_rebuild)
