"""``custodian ceremony …``, ``custodian transcript …`` and ``custodian verify``.

``register(subparsers)`` adds the commands to the CLI's argparse tree (console/cli.py); each
handler takes the parsed ``args`` (with the global ``--home``) and returns the exit status.
A VaultError raised here reaches console.cli.main, which prints it on one line and exits 2
(could not run); a verification that ran and failed prints its line here and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vault.errors import VaultError

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _vault(args):
    """The vault at ``--home``; NO_VAULT (and nothing created) when there is none."""
    from console.cli import _open_vault

    return _open_vault(args)


def _home_path(args) -> Path:
    from console.cli import home_path

    return home_path(args)


def _err(msg: str) -> None:
    print(f"error: {msg}".replace("\n", " "), file=sys.stderr)


# --- ceremony list / show / run --------------------------------------------------------------------
def cmd_ceremony_list(args) -> int:
    from vault.ceremony.definitions import load_catalogue_report

    report = load_catalogue_report(_home_path(args))
    catalogue = report.definitions
    width = max([len(n) for n in catalogue] + [len(p.name) for p in report.broken] + [1])
    for name, d in sorted(catalogue.items()):
        origin = "" if d.builtin else "  (yours)"
        print(f"{name.ljust(width)}  {d.title} — {len(d.steps)} steps{origin}")
    for broken in report.broken:
        print(f"{broken.name.ljust(width)}  BROKEN: {broken.error.one_line()}")
    if report.broken:
        _err(f"{report.broken[0].error.code}: {len(report.broken)} of your definition files cannot be used "
             f"(listed above); the others run. Next: fix the named key in each file.")
        return EXIT_FAILED
    return EXIT_OK


def cmd_ceremony_show(args) -> int:
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.paper import paper_script

    d = find_definition(args.name, _home_path(args))
    if getattr(args, "pdf", None):
        from console.paper import script_pdf

        print(f"wrote {script_pdf(d, Path(args.pdf), practice=_practice(args))}")
        return EXIT_OK
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
    from vault.ceremony.headless import run_ceremony

    vault = _vault(args)
    events_out = []

    def on_event(e) -> None:
        if args.json:
            events_out.append(e)

    try:
        run = run_ceremony(vault, Path(args.script), name=args.name, resume_unfinished=args.resume,
                           abort_reason=args.abort_unfinished,
                           allow_production_share_export=args.allow_production_share_export, on_event=on_event)
    except VaultError as exc:
        _err(f"ceremony {args.name}: {exc.one_line()}")
        return EXIT_ERROR
    finally:
        vault.close()
    return _report_run(args, run, events_out)


def _report_run(args, run, events_out) -> int:
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


# --- headless recovery: unfinished / resume / abort --------------------------------------------------
def cmd_ceremony_unfinished(args) -> int:
    from vault.ceremony.recovery import unfinished
    from vault.lock import current_holder

    try:
        vault = _vault(args)
        try:
            items = unfinished(vault)
            holder = current_holder(vault.home.path)
        finally:
            vault.close()
    except VaultError as exc:
        _err(exc.one_line())
        return EXIT_ERROR
    live = holder.ceremony_id if holder is not None else None
    rows = [{"ceremony_id": u.ceremony_id, "name": u.name, "started_at": u.started_at, "step_index": u.step_index,
             "step_id": u.step_id, "live": u.ceremony_id == live, "resumable": u.resumable, "why_not": u.why_not}
            for u in items]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no unfinished ceremony")
    for r in rows:
        where = f"step {r['step_index']} '{r['step_id']}'" if r["step_id"] else "before its first step"
        if r["live"]:
            state = f"LIVE in pid {holder.pid} on {holder.host} since {holder.since}"
        elif r["resumable"]:
            state = "stopped; can resume"
        else:
            state = f"stopped; cannot resume: {r['why_not']}"
        print(f"{r['ceremony_id']}  {r['name']}  started {r['started_at']}  at {where}  {state}")
    return EXIT_OK


def cmd_ceremony_resume(args) -> int:
    from vault.ceremony.headless import resume_with_script

    events_out = []
    try:
        vault = _vault(args)
    except VaultError as exc:
        _err(exc.one_line())
        return EXIT_ERROR
    try:
        run = resume_with_script(vault, args.id, Path(args.script),
                                 allow_production_share_export=args.allow_production_share_export,
                                 on_event=events_out.append if args.json else None)
    except VaultError as exc:
        _err(f"ceremony {args.id}: {exc.one_line()}")
        return EXIT_ERROR
    finally:
        vault.close()
    return _report_run(args, run, events_out)


def cmd_ceremony_abort(args) -> int:
    from vault.ceremony.headless import abort_with_reason

    try:
        vault = _vault(args)
        try:
            undone = abort_with_reason(vault, args.id, args.reason)
        finally:
            vault.close()
    except VaultError as exc:
        _err(f"ceremony {args.id}: {exc.one_line()}")
        return EXIT_ERROR
    print(f"ceremony {args.id} aborted: {args.reason}")
    for line in undone:
        print(f"  undone: {line}")
    return EXIT_OK


# --- transcripts ------------------------------------------------------------------------------------
def cmd_transcript(args) -> int:
    from vault.ceremony import transcript as T

    if args.id == "verify":
        if not args.file:
            from vault.errors import UsageError

            raise UsageError("`custodian transcript verify` needs the transcript FILE.",
                             next_step="Run `custodian transcript verify FILE [--pinned-keys JSON]`.")
        pinned = T.load_pinned_keys(Path(args.pinned_keys)) if args.pinned_keys else None
        report = T.verify(T.load_file(Path(args.file)), pinned)
        if report.ok:
            print(f"transcript OK: {report.checked_events} ledger events, {report.checked_attestations} attestations verified")
            return EXIT_OK
        for p in report.problems:
            print(f"problem: {p}")
        _err(f"TRANSCRIPT_INVALID: transcript does not verify: {report.problems[0]} "
             f"Next: treat the transcript as altered; compare it with the binder copy and the live ledger.")
        return EXIT_FAILED
    from vault.errors import CeremonyUnknown, RecordNotFound

    vault = _vault(args)
    try:
        vault.store.get_ceremony(args.id)
        t = T.build(vault, args.id)
    except RecordNotFound:
        raise CeremonyUnknown(f"No ceremony with id {args.id!r} in this vault.",
                              next_step="A ceremony's id is printed when it ends (`ceremony ID completed`) and names "
                                        "its transcript; `custodian ceremony unfinished` lists the unfinished ones.") from None
    finally:
        vault.close()
    if args.format == "pdf":
        path = export_transcript(t, "pdf", Path(args.out) if args.out else None)
        print(f"transcript of {args.id} written to {path}")
        return EXIT_OK
    text = T.to_json(t) if args.format == "json" else T.render_markdown(t)
    if args.out:
        import hashlib

        from vault.backup.outfile import write_new_file

        path = write_new_file(Path(args.out), text.encode("utf-8"))  # 0600, never over a file or through a link
        print(f"transcript of {args.id} written to {path} (sha256 {hashlib.sha256(text.encode('utf-8')).hexdigest()})")
        return EXIT_OK
    print(text, end="")
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
    from vault.errors import SignatureInvalid
    from vault.operations.signing import read_public_key, read_signed_file, verify_payload

    pem = read_public_key(Path(args.public_key))
    payload = read_signed_file(Path(args.payload), "payload")
    signature = read_signed_file(Path(args.signature), "signature")
    try:
        verify_payload(pem, payload, signature)
    except SignatureInvalid as exc:
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
    p.add_argument("--resume", action="store_true",
                   help="resume the unfinished ceremony of this name with this script instead of starting anew")
    p.add_argument("--abort-unfinished", metavar="REASON",
                   help="abort every unfinished ceremony with this reason (recorded), then run")
    p.set_defaults(handler=cmd_ceremony_run)
    from console.cli_evidence import register_history

    register_history(csub)
    p = csub.add_parser("unfinished", help="list unfinished ceremonies: where each stopped, live or resumable")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ceremony_unfinished)
    p = csub.add_parser("resume", help="resume an unfinished ceremony headless from a script")
    p.add_argument("id")
    p.add_argument("--script", required=True, help="the ceremony script that answers the remaining steps")
    p.add_argument("--json", action="store_true", help="print the outcome and events as JSON")
    p.add_argument("--allow-production-share-export", action="store_true",
                   help="allow a scripted run to write new shares of a PRODUCTION vault to the script's share_dir")
    p.set_defaults(handler=cmd_ceremony_resume)
    p = csub.add_parser("abort", help="abort an unfinished ceremony with a recorded reason (undoing what it wrote)")
    p.add_argument("id")
    p.add_argument("--reason", required=True)
    p.set_defaults(handler=cmd_ceremony_abort)

    t = subparsers.add_parser("transcript", help="print a ceremony transcript, or verify one offline")
    t.add_argument("id", help="ceremony id, or 'verify'")
    t.add_argument("file", nargs="?", help="with 'verify': the JSON transcript file")
    t.add_argument("--format", choices=("md", "json", "pdf"), default="md")
    t.add_argument("--pinned-keys", help="with 'verify': JSON file of name -> public key PEM to pin")
    t.add_argument("--out", metavar="FILE", help="write the transcript to FILE (a new file) instead of printing it")
    t.set_defaults(handler=cmd_transcript)

    c = subparsers.add_parser("share-card", help="print a blank SLIP-39 share card (PDF) to fill in by hand")
    c.add_argument("--pdf", metavar="FILE", required=True, help="the PDF to write (a new file)")
    for name, what in (("set-words", "the set's two identifying words"), ("custodian", "who will hold it"),
                       ("member", "the share's number"), ("group", "its group"), ("serial", "the envelope serial"),
                       ("date", "the date")):
        c.add_argument(f"--{name}", help=f"pre-print {what}")
    c.set_defaults(handler=cmd_share_card)

    v = subparsers.add_parser("verify", help="verify a payload signature offline")
    v.add_argument("--public-key", required=True, metavar="FILE", help="the signer's public key (PEM or DER)")
    v.add_argument("--payload", required=True, metavar="FILE", help="the signed file")
    v.add_argument("--signature", required=True, metavar="FILE", help="the signature file")
    v.set_defaults(handler=cmd_verify)


__all__ = ["register", "cmd_ceremony_list", "cmd_ceremony_show", "cmd_ceremony_run", "cmd_share_card", "cmd_transcript",
           "cmd_verify", "export_transcript"]
_ = argparse
