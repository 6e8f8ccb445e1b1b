"""Quorum step kinds: activate the quorum, create a new quorum secret, distribute and verify the
shares one custodian at a time, and commit the share set.

Activation (``quorum``) collects shares through vault.shares.ShareCollector, tied to the
ceremony's id (shown on every prompt); each share is checked at entry (word, checksum, set,
retired set, duplicate, commitment) and a refused share re-prompts with the precise message; the
check value is verified before anything touches the HSM. Reset drops the shares entered so far;
cancel, abort and the idle timeout (engine.tick) wipe them.

Distribution (``distribute-shares``): for each custodian a ready gate, the reveal, "recorded?",
and a verify-back (the whole share, or a quiz of one word from each third) before the next
custodian sits down. The ceremony then recovers the secret from a random minimal subset in
memory and compares the check value before ``commit-share-set`` records anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from vault.ceremony.events import QuorumActivated, QuorumWiped, ShareAccepted, ShareVerified
from vault.ceremony.kinds import ParamSpec, step_kind
from vault.ceremony.prompts import (
    CancelAnswer,
    ConfirmAnswer,
    MemberRef,
    PassphrasePrompt,
    QuorumProgress,
    ResetAnswer,
    SecretAnswer,
    ShareAnswer,
    ShareEntryPrompt,
    ShareReadyPrompt,
    ShareRevealPrompt,
    ShareVerifyPrompt,
    VerifyMode,
)
from vault.ceremony import shareset
from vault.ceremony.steps.basic import add_participant
from vault.ceremony.steps.people import policy_from_dict
from vault.errors import (
    AnswerInvalid,
    PinIncorrect,
    PreconditionFailed,
    QuorumCancelled,
    QuorumCheckFailed,
    ShareError,
    ShareForeign,
)
from vault.secret import Secret
from vault.shares import ShareCollector, ShareRef, check_quiz, quiz_positions, verify_share_back
from vault.shares.entry import EntryGuide


def progress_view(p) -> QuorumProgress:
    groups = tuple(p.groups)
    return QuorumProgress(groups, p.groups_complete, p.group_threshold, sum(g.entered for g in p.groups))


def _dataclass_replace(prompt, **kw):
    import dataclasses

    return dataclasses.replace(prompt, **kw)


def _slip39_passphrase(a: SecretAnswer) -> Secret:
    return a.secret


def entry_guide(store, public, set_name: str, holders, known, entered=(), **kw) -> EntryGuide:
    """The public facts a front end needs to name a share from its first words (vault.shares.entry)."""
    known_holders = tuple((k.share_set_id, ref, name) for k in known
                          for ref, name in shareset.holder_names(store, k.share_set_id).items())
    return EntryGuide(public, set_name, tuple(holders.items()), tuple(known), known_holders, tuple(entered), **kw)


# --- activation -------------------------------------------------------------------------------------
@step_kind("quorum", repeatable=True)
def quorum(ctx, params):
    """Activate the quorum of the active share set: one custodian at a time, k of T per group."""
    from vault.operations.quorum import activate
    from vault.operations.reshare import interrupted, resolve_interrupted_reshare

    store = ctx.vault.store
    record = shareset.active(store)
    public = shareset.public_of(store, record)
    holders = shareset.holder_names(store, record.id)
    known = shareset.known_sets(store)
    collector = ShareCollector(public, ceremony_id=ctx.ceremony_id, known=known, holders=holders)
    ctx.secrets.collector = collector
    # After a power loss in a reshare's switch the token may have either set's PINs: the first
    # share entered decides which set is collected, and the login after activation settles it.
    pending = interrupted(ctx.vault)
    if pending is not None:
        ctx.notice(f"A reshare was interrupted at {pending.started_at} while switching the token: shares of "
                   f"{pending.old_share_set.name!r} or of {pending.new_share_set.name!r} are accepted; the token "
                   "decides which set it now belongs to.", "warning")
    presented: dict[ShareRef, str] = {}
    error: ShareError | None = None
    last_custodian: str | None = None
    try:
        while True:
            prompt = ctx.prompt(
                ShareEntryPrompt, "share", custodian=None, progress=progress_view(collector.progress()),
                identifying_words=public.identifying_words, share_set_name=record.name,
                passphrase_required=public.passphrase,
                # (after an interrupted reshare either set is accepted: no early verdict on the set)
                guide=None if pending is not None else entry_guide(store, public, record.name, holders, known,
                                                                   collector.entered),
                read_aloud=(ctx.step.read_aloud or f"Custodians: enter your share for ceremony {ctx.ceremony_id}. "
                            f"Only shares of the set '{public.identifying_words}' are accepted."),
                error_code=error.code if error else None, error_message=str(error) if error else None)
            answer = yield prompt
            # the engine may have wiped the collection while idle; read progress afresh each time
            error = None
            if isinstance(answer, ResetAnswer):
                collector.reset()
                presented.clear()
                ctx.emit(QuorumWiped(ceremony_id=ctx.ceremony_id, reason="reset"))
                continue
            if isinstance(answer, CancelAnswer):
                collector.reset()
                raise QuorumCancelled("The quorum activation was cancelled; the shares entered were wiped.")
            assert isinstance(answer, ShareAnswer)
            try:
                try:
                    progress = collector.add(answer.share)
                except ShareForeign:
                    if pending is None or collector.entered or record.id == pending.new_share_set.id:
                        raise
                    record = pending.new_share_set
                    public = shareset.public_of(store, record)
                    holders = shareset.holder_names(store, record.id)
                    alt = ShareCollector(public, ceremony_id=ctx.ceremony_id, known=known, holders=holders)
                    progress = alt.add(answer.share)  # a ShareError here names the share's real problem
                    collector = ctx.secrets.collector = alt
            except ShareError as exc:
                error = exc
                ctx.emit_rejected(exc)
                continue
            finally:
                answer.share.wipe()
            ref = progress.last
            last_custodian = holders.get(ref) or answer.custodian
            presented = {r: holders.get(r, "?") for r in collector.entered}
            ctx.emit(ShareAccepted(ceremony_id=ctx.ceremony_id, custodian=last_custodian,
                                   progress=progress_view(progress)))
            if not collector.is_complete:
                continue
            passphrase = None
            if public.passphrase:
                passphrase = yield from ctx.ask(PassphrasePrompt, "slip39-passphrase", _slip39_passphrase,
                                                custodian="the custodians", purpose="the share set's SLIP-39 passphrase")
            try:
                ctx.progress("Verifying the check value")
                active = activate(ctx.vault, collector, passphrase)
                if pending is not None:
                    try:
                        outcome = resolve_interrupted_reshare(ctx.vault, active, ceremony_id=ctx.ceremony_id,
                                                              actor=ctx.actor)
                    except BaseException:
                        active.wipe()
                        raise
                    ctx.notice(outcome, "warning")
                    ctx.read_aloud("Interrupted reshare resolved", outcome)
                    _settle_void_shares(ctx, pending)
                    pending = None
            except (QuorumCheckFailed, PinIncorrect) as exc:
                from vault.operations.hsm_procedure import is_procedure

                if isinstance(exc, PinIncorrect) and is_procedure(ctx.vault):
                    # the HSM PIN is its holder's, not the shares': asking for shares again would not help,
                    # and this run's logins are over (one try of the HSM's counter per run)
                    raise
                collector.reset()
                presented.clear()
                if record.id != shareset.active(store).id:  # back to the active set for the next try
                    record = shareset.active(store)
                    public = shareset.public_of(store, record)
                    holders = shareset.holder_names(store, record.id)
                    collector = ctx.secrets.collector = ShareCollector(public, ceremony_id=ctx.ceremony_id,
                                                                       known=known, holders=holders)
                error = exc
                ctx.emit_rejected(exc)
                ctx.emit(QuorumWiped(ceremony_id=ctx.ceremony_id, reason="error"))
                continue
            finally:
                if passphrase is not None:
                    passphrase.wipe()
            break
    finally:
        # Leaving without an activated quorum (abort, cancel, a crash): the partial quorum dies here,
        # and the engine, which then finds nothing left to wipe, would not say so: say it here.
        interrupted_with_shares = bool(collector.entered) and not collector.is_complete
        collector.reset()
        ctx.secrets.collector = None
        if interrupted_with_shares:
            ctx.emit(QuorumWiped(ceremony_id=ctx.ceremony_id, reason="abort"))
    if ctx.secrets.quorum is not None:
        ctx.secrets.quorum.wipe()
    ctx.secrets.quorum = active
    names = sorted(set(presented.values()))
    people = ctx.values.get("participants", [])
    for n in names:
        ctx.values["participants"] = people = add_participant(ctx, n, "custodian")
    # vault.operations.quorum.activate wrote quorum.activated to the ledger
    ctx.emit(QuorumActivated(ceremony_id=ctx.ceremony_id, share_set_name=record.name, custodians=tuple(names)))
    return {"quorum_custodians": names, "participants": people,
            "summary": f"quorum of {record.name} activated by {', '.join(names)}"}


# --- a new quorum secret -------------------------------------------------------------------------------
@step_kind("new-quorum", repeatable=False)
def new_quorum(ctx, params):
    """Draw a new quorum secret (HSM RNG mixed with the host CSPRNG) and split it by the policy."""
    from vault.shares import split

    policy = policy_from_dict(ctx.values["policy"])
    passphrase = None
    if policy.passphrase:
        passphrase = yield from ctx.ask(PassphrasePrompt, "slip39-passphrase", _slip39_passphrase,
                                        custodian="the custodians", purpose="the new share set's SLIP-39 passphrase",
                                        new=True)
    ctx.progress("Drawing the quorum secret from the HSM's random number generator")
    qs = _draw_quorum_secret(ctx.vault)
    try:
        result = split(qs, policy, passphrase)
    except BaseException:
        qs.wipe()
        raise
    ctx.secrets.new_quorum = qs
    ctx.secrets.new_split = result
    ctx.secrets.new_passphrase = passphrase
    words = result.public.identifying_words
    ctx.read_aloud("The new share set's identifying words", words)
    return {"new_share_set_words": words, "summary": f"new quorum secret split {policy.describe()} ({words})"}


def _draw_quorum_secret(vault) -> Secret:
    """vault.operations.quorum.new_quorum_secret when it exists; else the HSM RNG of the
    configured token (or, before init, of any initialised token) mixed with the host CSPRNG."""
    from vault.errors import TokenNotFound
    from vault.shares import new_quorum_secret as mix

    try:
        from vault.operations.quorum import new_quorum_secret as op
    except ImportError:
        op = None
    if op is not None:
        return op(vault)
    module = vault.hsm()
    try:
        selector = module.find_token(vault.token)
    except TokenNotFound:
        tokens = module.tokens()
        if not tokens:
            raise TokenNotFound("No initialised token can give random bytes for the quorum secret.",
                                next_step="Connect the HSM (practice: the practice token under the home).") from None
        selector = tokens[0]
    return mix(module.random(selector, 32))


# --- distribution ----------------------------------------------------------------------------------------
def _write_share_file(directory: Path, custodian: str, share: Secret) -> Path:
    from vault.backup.outfile import write_new_file

    path = directory / f"{custodian}.share"
    if "/" in custodian or "\\" in custodian or custodian in ("", ".", ".."):
        raise PreconditionFailed(f"The custodian name {custodian!r} cannot name a file in the share directory.",
                                 next_step="Enroll custodians under names without '/' or '\\'.")
    if not os.path.islink(directory):  # a link is refused by write_new_file, naming it
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return write_new_file(path, share.reveal() + b"\n")  # 0600, O_EXCL|O_NOFOLLOW, fsynced


@step_kind("distribute-shares", params={
    "verify": ParamSpec("str", default=None, choices=("full", "quiz"),
                        doc="full | quiz; unset: the run's choice (a script's verify, else full)"),
}, repeatable=False)
def distribute_shares(ctx, params):
    """Hand each custodian their share alone; each proves the record before the next sits down."""
    split = ctx.secrets.new_split
    if split is None:
        raise PreconditionFailed("No new share set is waiting to be distributed.",
                                 next_step="Put a new-quorum step before this one.")
    custodians = list(ctx.values["custodians"])
    refs = [ref for ref, _ in split.shares]
    if len(custodians) != len(refs):
        raise PreconditionFailed(f"{len(custodians)} custodians for {len(refs)} shares.",
                                 next_step="Enroll exactly one custodian per share.")
    single = len(split.public.groups) == 1
    export_dir = None
    if ctx.options.script_driven:
        export_dir = ctx.options.share_dir
        if export_dir is None:
            raise PreconditionFailed("A scripted run writes new shares only to a directory the script names.",
                                     next_step="Set share_dir in the script.")
        if not ctx.practice and not ctx.options.allow_production_share_export:
            raise PreconditionFailed("New shares of a production vault are not written to files.",
                                     next_step="Run this ceremony interactively, or pass "
                                               "--allow-production-share-export knowingly.")
        clash = [c for c in custodians if (Path(export_dir) / f"{c}.share").exists()]
        if clash:
            from vault.errors import OutputExists

            raise OutputExists(f"{Path(export_dir) / (clash[0] + '.share')} already exists.",
                               next_step="Name a new, empty share directory in the script.")
        ctx.ledger("shares.exported", {"directory": str(Path(export_dir).resolve()), "practice": ctx.practice,
                                       "count": len(refs),
                                       "production_override": not ctx.practice})
    verify_mode = VerifyMode(params["verify"] if params["verify"] else ctx.options.verify_mode)
    holders = []
    for number, (custodian, ref) in enumerate(zip(custodians, refs), start=1):
        mref = MemberRef(ref.group, ref.member)
        share = split.share(ref)
        yield from ctx.ask(ShareReadyPrompt, f"ready:{custodian}", lambda a: a.yes or _not_ready(),
                           custodian=custodian, ref=mref, number=number, total=len(refs),
                           read_aloud=f"{custodian}, please come to the screen alone. Everyone else: look away.")
        while True:
            if export_dir is not None and not (Path(export_dir) / f"{custodian}.share").exists():
                _write_share_file(Path(export_dir), custodian, share)
            yield from ctx.ask(ShareRevealPrompt, f"reveal:{custodian}", lambda a: a.yes or _not_recorded(),
                               custodian=custodian, ref=mref, share=share,
                               identifying_words=split.public.identifying_words,
                               word_count=split.public.word_count,
                               read_aloud=f"{custodian}: write down all {split.public.word_count} words, in order.")
            positions = ()
            if verify_mode is VerifyMode.QUIZ:
                positions = tuple(p + 1 for p in quiz_positions(split.public.word_count, ctx.rng))

            def check(a, share=share, ref=ref, positions=positions):
                if isinstance(a, ResetAnswer):
                    return False
                if verify_mode is VerifyMode.FULL:
                    if not isinstance(a, ShareAnswer):
                        raise AnswerInvalid("Re-enter the whole share.")
                    try:
                        verify_share_back(split.public, ref, a.share)
                    finally:
                        a.share.wipe()
                    return True
                secret = a.secret if isinstance(a, SecretAnswer) else a.share
                try:
                    words = secret.reveal_text().split()
                finally:
                    secret.wipe()
                if len(words) != len(positions):
                    raise AnswerInvalid(f"Type exactly {len(positions)} words, for positions "
                                        f"{', '.join(map(str, positions))}.")
                check_quiz(share, {p - 1: w for p, w in zip(positions, words)})
                return True

            guide = None
            if verify_mode is VerifyMode.FULL:
                guide = entry_guide(ctx.vault.store, split.public, "", dict(zip(refs, custodians)),
                                    shareset.known_sets(ctx.vault.store), own=ref, custodian=custodian)
            ok = yield from ctx.ask(ShareVerifyPrompt, f"verify:{custodian}", check, custodian=custodian, ref=mref,
                                    mode=verify_mode, positions=positions, word_count=split.public.word_count,
                                    guide=guide,
                                    read_aloud=f"{custodian}: now type back your share from what you wrote.")
            if ok:
                break
        ctx.emit(ShareVerified(ceremony_id=ctx.ceremony_id, custodian=custodian, ref=mref))
        holders.append([ref.group, ref.member, custodian])
    _check_random_subset(ctx, split)
    ctx.ledger("shares.distributed", {"share_set_words": split.public.identifying_words,
                                      "custodians": custodians, "verify": verify_mode.value})
    ctx.secrets.new_holders = [(ShareRef(g, m), c) for g, m, c in holders]
    people = ctx.values.get("participants", [])
    for c in custodians:
        ctx.values["participants"] = people = add_participant(ctx, c, "custodian")
    return {"holders": holders, "participants": people,
            "summary": f"{len(holders)} shares handed out and verified back ({verify_mode.value})"}


def _not_ready():
    raise AnswerInvalid("Wait until the custodian is alone at the screen.", next_step="Confirm when ready.")


def _not_recorded():
    raise AnswerInvalid("The share stays on screen until it is written down.",
                        next_step="Confirm once every word is recorded.")


def _check_random_subset(ctx, split) -> None:
    """Recover from a random minimal subset (in memory) and compare the check value."""
    public = split.public
    groups = list(range(len(public.groups)))
    ctx.rng.shuffle(groups)
    collector = ShareCollector(public, ceremony_id=ctx.ceremony_id)
    try:
        for g in groups[: public.group_threshold]:
            members = list(range(public.groups[g].count))
            ctx.rng.shuffle(members)
            for m in members[: public.groups[g].threshold]:
                collector.add(split.share(ShareRef(g, m)))
        qs = collector.recover(ctx.secrets.new_passphrase)
        qs.wipe()  # recover() already compared the check value
    finally:
        collector.reset()
    ctx.progress("A random minimal subset of the new shares recovers the secret (check value matches)")


# --- commit ---------------------------------------------------------------------------------------------
@step_kind("commit-share-set", params={"retire_previous": ParamSpec("bool", default=False)}, repeatable=False,
           review="the share set's policy, holders and identifying words, the set retired, the token PIN change")
def commit_share_set(ctx, params):
    """Record the verified share set and make it the active one (retiring the previous set).

    In init the token still has the transient PINs it was initialised with: in the same
    transaction as the share set, its SO and user PINs are set to the new secret's
    derivations and the new user PIN is proven by a login. Either both land or neither.
    """
    from vault.operations.quorum import ActiveQuorum, open_token_session, pin_max_len_of
    from vault.operations.token import rekey_token_pins

    split = ctx.secrets.new_split
    holders = ctx.secrets.new_holders
    if split is None or not holders:
        raise PreconditionFailed("No verified share set is waiting to be committed.",
                                 next_step="Distribute and verify the shares first.")
    previous = ctx.vault.store.active_share_set()
    name = f"set-{ctx.ceremony_id}"
    transient = ctx.secrets.transient_pins
    serial = ctx.values.get("token_serial")
    # init under pin_policy "hsm-procedure": the token was adopted with its own PINs (nothing to re-key),
    # but the first share set still probes it and makes the ledger audit key
    adopted_as_is = transient is None and ctx.values.get("pin_policy") == "hsm-procedure"
    from vault.ceremony.review import item

    yield from ctx.review("commit-share-set", "Record the share set" + (
        " and set the token's PINs to the ones derived from the new quorum secret" if transient is not None else ""), [
        item("Share set", name), item("Policy", policy_from_dict(ctx.values["policy"]).describe()),
        item("Holders", ", ".join(c for _, c in holders)),
        item("Identifying words", split.public.identifying_words),
        item("Share set retired", previous.name if previous else "none"),
        item("Token PINs", f"token {serial}: SO and user PINs change from the transient ones to the derived ones"
             if transient is not None else "unchanged (pin_policy hsm-procedure: the vendor procedure's)"
             if adopted_as_is else "unchanged")] + ([
        item("Ledger audit key", "made in the HSM: a sign-only key, never extractable, that signs every "
             "ceremony's end head")] if transient is not None or adopted_as_is else []))
    if transient is not None:
        ctx.progress("Setting the token's PINs to the ones derived from the new quorum secret")
    with ctx.vault.store.atomic():
        record = shareset.commit(ctx.vault, split=split, policy=policy_from_dict(ctx.values["policy"]),
                                 drill_interval_days=ctx.values.get("drill_interval_days", 90), holders=holders,
                                 ceremony_id=ctx.ceremony_id, name=name)
        quorum = ActiveQuorum(Secret(ctx.secrets.new_quorum.reveal(), "quorum-secret"), record,
                              pin_max_len=pin_max_len_of(ctx.vault))
        try:
            if transient is not None:
                rekey_token_pins(ctx.vault, serial, so_pin_old=transient.so, quorum=quorum,
                                 ceremony_id=ctx.ceremony_id, actor=ctx.actor)
                ctx.run_hook("pins-rekeyed")
        finally:
            quorum.wipe()
        details = {"share_set": record.name, "policy": record.describe(),
                   "identifying_words": split.public.identifying_words, "custodians": [c for _, c in holders],
                   "token_pins": "derived" if transient is not None else "unchanged"}
        if adopted_as_is:
            details["token_pins_reason"] = "pin_policy hsm-procedure: the token keeps the PINs its vendor's procedure set"
        if previous is not None:
            details["retired"] = previous.name
        ctx.ledger("share-set.committed", details)
    if transient is not None:
        transient.wipe()
        ctx.secrets.transient_pins = None
    from vault.ceremony.events import ShareSetCommitted

    ctx.emit(ShareSetCommitted(ceremony_id=ctx.ceremony_id, share_set_name=record.name, policy=record.describe(),
                               identifying_words=split.public.identifying_words))
    # The new quorum becomes the ceremony's quorum.
    qs = ctx.secrets.new_quorum
    ctx.secrets.new_quorum = None
    split.wipe()
    ctx.secrets.new_split = None
    if ctx.secrets.new_passphrase is not None:
        ctx.secrets.new_passphrase.wipe()
        ctx.secrets.new_passphrase = None
    if ctx.secrets.quorum is not None:
        ctx.secrets.quorum.wipe()
    ctx.secrets.quorum = ActiveQuorum(qs, record, pin_max_len=pin_max_len_of(ctx.vault))
    if transient is not None or adopted_as_is:
        # The capability probe (needs a login) for `custodian doctor`; it also proves the new PIN once more.
        from vault.doctor import record_capabilities

        ctx.progress("Probing what the token can do")
        with open_token_session(ctx.vault, ctx.secrets.quorum, ceremony_id=ctx.ceremony_id) as session:
            record_capabilities(ctx.vault, session.probe(session.wrap_mechanism))
            # the ledger audit key (vault.operations.audit_key), reviewed above and attested with init
            from vault.operations.audit_key import ensure_audit_key

            ctx.progress("Making the ledger audit key in the HSM")
            ensure_audit_key(ctx.vault, session, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    return {"share_set": record.name, "token_pins": "derived" if transient is not None else "unchanged",
            "summary": f"share set {record.name} ({record.describe()}) active"
            + (f"; {previous.name} retired" if previous else "")
            + ("; token PINs set from the new quorum secret" if transient is not None else "")}


def _settle_void_shares(ctx, pending) -> None:
    """The interrupted reshare is settled: remove its unrecorded bundle and, if it was abandoned,
    the share files it exported (they open nothing)."""
    from vault.ceremony.step_recovery import settle_interrupted_reshare_files

    if not pending.ceremony_id:
        return
    new_set = ctx.vault.store.get_share_set(pending.new_share_set.id)
    for line in settle_interrupted_reshare_files(ctx.vault, pending.ceremony_id, pending.bundle_path,
                                                 abandoned=new_set.status.value == "retired",
                                                 ceremony_id=ctx.ceremony_id, actor=ctx.actor):
        ctx.notice(line[0].upper() + line[1:] + ".", "info")
