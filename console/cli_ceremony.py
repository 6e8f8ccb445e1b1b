"""``custodian ceremony …``, ``custodian transcript …`` and ``custodian verify``.

``register(subparsers)`` adds the commands to the CLI's argparse tree (console/cli.py); each
handler takes the parsed ``args`` (with the global ``--home``) and returns the exit status.
Failures print one line on stderr (``error: …``) and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vault.errors import VaultError

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _vault(args):
    from vault.home import resolve_home
    from vault.vault import Vault

    return Vault.open(resolve_home(getattr(args, "home", None)))


def _home_path(args) -> Path | None:
    from vault.home import resolve_home

    return resolve_home(getattr(args, "home", None))


def _err(msg: str) -> None:
    print(f"error: {msg}".replace("\n", " "), file=sys.stderr)


# --- ceremony list / show / run --------------------------------------------------------------------
def cmd_ceremony_list(args) -> int:
    from vault.ceremony.definitions import load_catalogue

    try:
        catalogue = load_catalogue(_home_path(args))
    except VaultError as exc:
        _err(exc.one_line())
        return EXIT_ERROR
    width = max(len(n) for n in catalogue)
    for name, d in sorted(catalogue.items()):
        origin = "" if d.builtin else "  (yours)"
        print(f"{name.ljust(width)}  {d.title} — {len(d.steps)} steps{origin}")
    return EXIT_OK


def cmd_ceremony_show(args) -> int:
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.paper import paper_script

    try:
        d = find_definition(args.name, _home_path(args))
        if getattr(args, "pdf", None):
            from console.paper import script_pdf

            path = script_pdf(d, Path(args.pdf), practice=_practice(args))
            print(f"wrote {path}")
            return EXIT_OK
    except VaultError as exc:
        _err(exc.one_line())
        return EXIT_ERROR
    print(paper_script(d))
    return EXIT_OK


def _practice(args) -> bool:
    """Paper says PRACTICE unless the home is a production home."""
    from vault.home import CONFIG_NAME, load_config
    from vault.types import Mode

    home = _home_path(args)
    cfg = home / CONFIG_NAME if home is not None else None
    return not (cfg is not None and cfg.exists() and load_config(cfg).mode is Mode.PRODUCTION)


def cmd_share_card(args) -> int:
    from console.paper import share_card_pdf

    try:
        path = share_card_pdf(Path(args.pdf), practice=_practice(args), set_words=args.set_words or "",
                              custodian=args.custodian or "", member=args.member or "", group=args.group or "",
                              envelope_serial=args.serial or "", date=args.date or "")
    except VaultError as exc:
        _err(exc.one_line())
        return EXIT_ERROR
    print(f"wrote {path}")
    return EXIT_OK


def cmd_ceremony_run(args) -> int:
    from vault.ceremony.script import run_script

    try:
        vault = _vault(args)
    except VaultError as exc:
        _err(exc.one_line())
        return EXIT_ERROR
    events_out = []

    def on_event(e) -> None:
        if args.json:
            events_out.append(e)

    try:
        run = run_script(vault, Path(args.script), name=args.name,
                         allow_production_share_export=args.allow_production_share_export, on_event=on_event)
    except VaultError as exc:
        _err(f"ceremony {args.name}: {exc.one_line()}")
        vault.close()
        return EXIT_ERROR
    finally:
        pass
    vault.close()
    if args.json:
        from dataclasses import asdict

        print(json.dumps({"ok": run.ok, "ceremony_id": run.outcome.ceremony_id, "status": run.outcome.status.value,
                          "message": run.one_line(),
                          "events": [{"type": type(e).__name__, **asdict(e)} for e in events_out]},
                         default=str, indent=2))
    if not run.ok:
        _err(run.one_line())
        return EXIT_FAILED
    if not args.json:
        print(run.one_line())
    return EXIT_OK


# --- transcripts ------------------------------------------------------------------------------------
def cmd_transcript(args) -> int:
    from vault.ceremony import transcript as T

    if args.id == "verify":
        if not args.file:
            _err("transcript verify needs FILE")
            return EXIT_ERROR
        try:
            report = T.verify_file(Path(args.file), Path(args.pinned_keys) if args.pinned_keys else None)
        except VaultError as exc:
            _err(exc.one_line())
            return EXIT_ERROR
        if report.ok:
            print(f"transcript OK: {report.checked_events} ledger events, {report.checked_attestations} attestations verified")
            return EXIT_OK
        for p in report.problems:
            print(f"problem: {p}")
        _err(f"transcript does not verify: {report.problems[0]}")
        return EXIT_FAILED
    try:
        vault = _vault(args)
        try:
            t = T.build(vault, args.id)
        finally:
            vault.close()
    except VaultError as exc:
        _err(exc.one_line())
        return EXIT_ERROR
    if args.format == "pdf" or args.out:
        try:
            path = export_transcript(t, args.format, Path(args.out) if args.out else None)
        except VaultError as exc:
            _err(exc.one_line())
            return EXIT_ERROR
        print(f"wrote {path}")
        return EXIT_OK
    print(T.to_json(t) if args.format == "json" else T.render_markdown(t), end="")
    return EXIT_OK


def export_transcript(t: dict, fmt: str, path: Path | None) -> Path:
    """Write a built transcript as md, json or pdf to a new file (never overwriting); the TUI uses this too."""
    from vault.ceremony import transcript as T
    from vault.errors import AnswerInvalid

    if path is None:
        raise AnswerInvalid("A PDF transcript is written to a file.", next_step="Add --out FILE.pdf.")
    if fmt == "pdf":
        from console.paper import transcript_pdf

        return transcript_pdf(t, path)
    from console.paper.document import write_bytes

    return write_bytes((T.to_json(t) if fmt == "json" else T.render_markdown(t)).encode("utf-8"), path)


# --- verify a payload signature -------------------------------------------------------------------------
def cmd_verify(args) -> int:
    try:
        pem = Path(args.public_key).read_text(encoding="utf-8")
        payload = Path(args.payload).read_bytes()
        signature = Path(args.signature).read_bytes()
    except OSError as exc:
        _err(f"cannot read {exc.filename}: {exc.strerror}")
        return EXIT_ERROR
    try:
        from vault.operations.signing import verify_payload

        verify_payload(pem, payload, signature)
    except VaultError as exc:
        _err(exc.one_line())
        return EXIT_FAILED
    print("signature OK")
    return EXIT_OK


def register(subparsers) -> None:
    cer = subparsers.add_parser("ceremony", help="ceremony definitions and headless runs")
    csub = cer.add_subparsers(dest="ceremony_command", required=True)
    p = csub.add_parser("list", help="list the ceremonies (built-in and your own)")
    p.set_defaults(handler=cmd_ceremony_list)
    p = csub.add_parser("show", help="print a ceremony's paper script for the binder")
    p.add_argument("name")
    p.add_argument("--pdf", metavar="FILE", help="write it as a PDF to FILE (a new file) instead")
    p.set_defaults(handler=cmd_ceremony_show)
    p = csub.add_parser("run", help="run a ceremony headless from a script")
    p.add_argument("name")
    p.add_argument("--script", required=True, help="the ceremony script (TOML; see ceremonies/README.md)")
    p.add_argument("--json", action="store_true", help="print the outcome and events as JSON")
    p.add_argument("--allow-production-share-export", action="store_true",
                   help="allow a scripted run to write new shares of a PRODUCTION vault to the script's share_dir")
    p.set_defaults(handler=cmd_ceremony_run)

    t = subparsers.add_parser("transcript", help="print a ceremony transcript, or verify one offline")
    t.add_argument("id", help="ceremony id, or 'verify'")
    t.add_argument("file", nargs="?", help="with 'verify': the JSON transcript file")
    t.add_argument("--format", choices=("md", "json", "pdf"), default="md")
    t.add_argument("--out", metavar="FILE", help="write to FILE (a new file; needed for pdf)")
    t.add_argument("--pinned-keys", help="with 'verify': JSON file of name -> public key PEM to pin")
    t.set_defaults(handler=cmd_transcript)

    c = subparsers.add_parser("share-card", help="print a blank SLIP-39 share card (PDF) to fill in by hand")
    c.add_argument("--pdf", metavar="FILE", required=True, help="the PDF to write (a new file)")
    for name, what in (("set-words", "the set's two identifying words"), ("custodian", "who will hold it"),
                       ("member", "the share's number"), ("group", "its group"), ("serial", "the envelope serial"),
                       ("date", "the date")):
        c.add_argument(f"--{name}", help=f"pre-print {what}")
    c.set_defaults(handler=cmd_share_card)

    v = subparsers.add_parser("verify", help="verify a payload signature offline")
    v.add_argument("--public-key", required=True)
    v.add_argument("--payload", required=True)
    v.add_argument("--signature", required=True)
    v.set_defaults(handler=cmd_verify)


__all__ = ["register", "cmd_ceremony_list", "cmd_ceremony_show", "cmd_ceremony_run", "cmd_share_card", "cmd_transcript",
           "cmd_verify", "export_transcript"]
_ = argparse
