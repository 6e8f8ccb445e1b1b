"""Step kinds that use the token: initialise it, generate, back up, restore, drill, rotate,
destroy, mark compromised, re-back-up after a reshare, and sign. Each calls vault.operations;
the step only asks its questions, re-prompts on a recoverable error, and reports."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from vault.ceremony import intents
from vault.ceremony.kinds import ParamSpec, step_kind
from vault.ceremony.review import digest_item, fingerprint_item, item
from vault.ceremony.prompts import (
    Choice,
    ChoiceAnswer,
    ChoicePrompt,
    PathPrompt,
    PathPurpose,
    TextAnswer,
    TextPrompt,
    TypedConfirmPrompt,
)
from vault.errors import AnswerInvalid, BundleUnreadable, PayloadUnreadable, ReviewMismatch, KeyNotWrappable, LabelExists, MechanismUnsupported, OutputExists, PreconditionFailed
from vault.pgpwords import words_for
from vault.types import KeyAlgorithm, KeyState


def fingerprint_words(fp: str) -> str:
    """``kcv:8eda13`` / ``sha256:…`` as PGP words (the first 8 bytes of a sha256 suffice aloud)."""
    hex_ = fp.split(":", 1)[-1]
    data = bytes.fromhex(hex_)
    return " ".join(words_for(data[:8]))


@contextmanager
def _session(ctx, *, reconcile: bool = True, explained: frozenset[str] = frozenset()):
    """A logged-in session on the vault's token. The first one a ceremony opens reconciles the
    whole token with the database and stops the ceremony before any change if they disagree
    (vault.operations.reconcile.require_agreement); ``reconcile=False`` only for the restore,
    which checks the replacement token its own way."""
    from vault.operations.quorum import open_token_session
    from vault.operations.reconcile import require_agreement

    with open_token_session(ctx.vault, ctx.secrets.quorum, ceremony_id=ctx.ceremony_id) as session:
        if reconcile and not ctx.values.get("_token_reconciled"):
            ctx.progress("Reconciling the token with the database")
            require_agreement(ctx.vault, session, explained=explained)
            ctx.values["_token_reconciled"] = True
        yield session


def _output_path(a: TextAnswer) -> Path:
    """A new file in an existing folder, reached without a symbolic link (vault.backup.outfile)."""
    from vault.backup.outfile import check_output_path

    text = a.text.strip()
    if not text:
        raise AnswerInvalid("No path was given: the bundle needs a new file to be written to.",
                            next_step="Type the path of a new file on the removable medium.")
    return check_output_path(Path(text).expanduser())


def _input_path(a: TextAnswer) -> Path:
    """A bundle (or another vault's file) to read: BUNDLE_UNREADABLE when it is not a file."""
    path = Path(a.text.strip()).expanduser()
    if not a.text.strip() or not path.is_file():
        raise BundleUnreadable(f"{path} is not a readable file.")
    return path


def _payload_path(a: TextAnswer) -> Path:
    """A payload to sign, encrypt or decrypt: its own code, so a wrong path is not called a bundle."""
    path = Path(a.text.strip()).expanduser()
    if not a.text.strip() or not path.is_file():
        raise PayloadUnreadable(f"{path} is not a readable file.",
                                next_step="Check the path (and that the medium is mounted), then give it again.")
    return path


def _key_choice(ctx, ask: str, question: str, states: tuple[KeyState, ...], *, signing: bool = False,
                purposes: tuple = ()):
    """Choose a key version among those in ``states``: answered as NAME (its newest version
    offered here), NAME@VERSION or a token label. Each choice's value is the token label (one
    per version), shown as NAME@VERSION."""
    keys = [k for k in ctx.vault.store.list_keys() if k.state in states
            and (not signing or k.algorithm.can_sign) and (not purposes or k.purpose in purposes)]
    if not keys:
        wanted = " or ".join(s.value for s in states)
        raise PreconditionFailed(f"No key is in a state this step can use ({wanted}).",
                                 next_step="List keys with `custodian keys list`.")

    def parse(a: ChoiceAnswer):
        return pick_key(keys, a.value)

    key = yield from ctx.ask(ChoicePrompt, ask, parse, question=question,
                             choices=tuple(Choice(k.label, k.ref, f"{k.algorithm.value}, {k.purpose.value}, "
                                                  f"{k.state.value}, label {k.label}") for k in keys))
    return key


def pick_key(keys, text: str):
    """The key among ``keys`` that ``text`` (NAME@VERSION, NAME or a label) names."""
    from vault.keynames import KeyRef

    text = (text or "").strip()
    for k in keys:
        if text in (k.ref, k.label):
            return k
    try:
        ref = KeyRef.parse(text)
    except Exception:
        ref = None
    if ref is not None and ref.version is None:
        same = sorted((k for k in keys if k.name == ref.name), key=lambda k: (k.state is KeyState.ACTIVE, k.version))
        if same:
            return same[-1]
    offered = ", ".join(k.ref for k in keys)
    raise AnswerInvalid(f"{text!r} is not one of the keys offered.", next_step=f"Choose one of: {offered}.")


@step_kind("prepare-token", repeatable=False,
           review="the token label and module, and that it is initialised with transient PINs")
def prepare_token(ctx, params):
    """Init: initialise the configured token with transient random PINs held only in memory.

    The quorum secret mixes the token's RNG and the token's PINs derive from the quorum
    secret, so the token comes first with PINs nobody knows; commit-share-set replaces them
    by the derived ones. Until then a crash leaves an empty token whose PINs are lost (see
    ceremonies/README.md: practice re-initialises it, production resets it with vendor tools).
    """
    from vault.operations.hsm_procedure import is_procedure
    from vault.operations.token import initialise_token_transient

    if is_procedure(ctx.vault):
        return (yield from _adopt_procedure_token(ctx))
    yield from ctx.review("prepare-token", "Initialise the token (C_InitToken) with transient PINs", [
        item("Token label", _token_label(ctx)), item("PKCS#11 module", ctx.vault.home.config.module),
        item("What happens", "the token is initialised (anything on it is erased); its PINs are random and held "
                             "only in memory until the share set is committed")])
    ctx.progress("Initialising the token with transient PINs (held only in memory until the share set is committed)")
    info, pins = initialise_token_transient(ctx.vault, _token_label(ctx), ceremony_id=ctx.ceremony_id,
                                            actor=ctx.actor)
    ctx.secrets.transient_pins = pins
    from vault.operations.quorum import pin_max_len_of
    from vault.operations.token import pin_fit_details

    result = {"token_serial": info.serial, "token_label": info.label,
              "summary": f"token {info.label} ({info.serial}) initialised with transient PINs"}
    if ctx.vault.home.config.adopt_token:
        ctx.notice(f"Token {info.label} ({info.serial}) adopted: its current SO PIN (from "
                   f"{ctx.vault.home.config.current_so_pin}) is replaced; SO and user PINs derive from the quorum.")
        result["adopted"] = ctx.vault.home.config.adopt_token
    fitted = pin_max_len_of(ctx.vault)
    if fitted is not None:
        details = pin_fit_details(info, fitted)
        ctx.notice(f"PIN limit: {details['weakening']} (encoded as {details['encoding']}).")
        result["pin_bits"] = details["bits_kept"]
    ctx.read_aloud("Token serial", info.serial)
    return result


def _adopt_procedure_token(ctx):
    """prepare-token under pin_policy "hsm-procedure": the token as the vendor's procedure left it."""
    from vault.operations.hsm_procedure import POLICY, adopt_procedure_token

    yield from ctx.review("prepare-token", "Adopt the token as the HSM vendor's procedure left it", [
        item("Token", _token_label(ctx)), item("PKCS#11 module", ctx.vault.home.config.module),
        item("PIN policy", "hsm-procedure: the token keeps the PINs its vendor's procedure set; the PIN holder "
                           "logs in for every ceremony; the quorum no longer gates the HSM login"),
        item("What happens", "a login with the PIN holder's PIN proves it and that the token holds no keys; "
                             "nothing on the token changes")])
    ctx.progress("Logging in with the PIN holder's PIN (pin_policy hsm-procedure)")
    info = adopt_procedure_token(ctx.vault, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    ctx.notice(f"Token {info.label} ({info.serial}) adopted with the PINs its vendor's procedure set: the console "
               "never sets or stores them, and the HSM login is the PIN holder's, not the quorum's.")
    ctx.read_aloud("Token serial", info.serial)
    return {"token_serial": info.serial, "token_label": info.label, "pin_policy": POLICY,
            "summary": f"token {info.label} ({info.serial}) adopted; its PINs stay the vendor procedure's"}


@step_kind("init-token", params={
    "if_missing": ParamSpec("bool", default=False, doc="skip when the token exists"),
    "replacement": ParamSpec("bool", default=False, doc="the vault had a token: this one replaces it (restore)"),
}, needs_quorum=True, repeatable=False, review="the token label and module, and that its PINs derive from the quorum")
def init_token(ctx, params):
    """Initialise the configured token with the PINs derived from the active quorum (a replacement
    token for a restore; init itself uses prepare-token, because its quorum does not exist yet)."""
    from vault.errors import TokenNotFound
    from vault.operations.token import initialise_token

    if params["if_missing"]:
        try:
            info = ctx.vault.hsm().find_token(ctx.vault.token)
        except TokenNotFound:
            info = None
        if info is not None:
            ctx.notice(f"Token {info.label} ({info.serial}) is already initialised; it is used as it is.")
            return {"token_serial": info.serial, "summary": f"token {info.label} already initialised"}
    if params["replacement"] and not ctx.values.get("bundle_checked"):
        raise PreconditionFailed("A replacement token is initialised only after the bundle to restore was checked.",
                                 next_step="Put a verify-bundle step before this step in the definition.")
    yield from ctx.review("init-token", "Initialise the token (C_InitToken) with the quorum's PINs", [
        item("Token label", _token_label(ctx)), item("PKCS#11 module", ctx.vault.home.config.module),
        item("Replaces the vault's token", "yes" if params["replacement"] else "no"),
        item("What happens", "the token is initialised (anything on it is erased) with SO and user PINs derived "
                             "from the active quorum secret")])
    ctx.progress("Initialising the token")
    info = initialise_token(ctx.vault, ctx.secrets.quorum, _token_label(ctx), replacement=params["replacement"],
                            ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    result = {"token_serial": info.serial, "token_label": info.label,
              "summary": f"token {info.label} ({info.serial}) initialised"}
    if ctx.secrets.quorum.pin_max_len is not None:  # the new token's own limit (vault.operations.token)
        from vault.operations.token import pin_fit_details

        details = pin_fit_details(info, ctx.secrets.quorum.pin_max_len)
        ctx.notice(f"PIN limit: {details['weakening']} (encoded as {details['encoding']}).")
        result["pin_bits"] = details["bits_kept"]
    ctx.read_aloud("Token serial", info.serial)
    return result


def _token_label(ctx) -> str:
    token = ctx.vault.token
    if token.startswith("pkcs11:"):
        for part in token[len("pkcs11:"):].split(";"):
            if part.startswith("token="):
                from urllib.parse import unquote

                return unquote(part[len("token="):])
    return token


@step_kind("generate-key", params={
    "algorithms": ParamSpec("list[str]", default=[a.value for a in KeyAlgorithm]),
}, needs_quorum=True, repeatable=False,  # resumable by its recovery rule (its intent), see _generate_after_crash
   review="the label, the algorithm, the backup decision and the token")
def generate_key(ctx, params):
    """Preflight (label free, algorithm supported and wrappable, or a recorded no-backup decision),
    generate inside the HSM, check, record; the fingerprint is read aloud."""
    from vault.operations.keys import generate_key as op_generate, preflight_generate

    allowed = [KeyAlgorithm(a) for a in params["algorithms"]]
    crashed = intents.get(ctx.vault, ctx.ceremony_id, ctx.step.id)
    if crashed is not None:  # this step was killed after its intent: adopt what it made, or make it now
        record = yield from _generate_after_crash(ctx, crashed)
        return _generated(ctx, record, bool(crashed.get("backup", True)))
    with _session(ctx) as session:
        label = algorithm = None
        backup = True
        reason = None
        refused = None  # the error that sent us back to the algorithm question, shown with it
        while True:
            if label is None:
                label = yield from ctx.ask(TextPrompt, "label", lambda a: _key_name(a.text),
                                           question="Label of the new key (unique on the token and in the database)")
            if algorithm is None:
                shown = {"error_code": refused.code, "error_message": str(refused)} if refused else {}
                algorithm = yield from ctx.ask(ChoicePrompt, "algorithm", lambda a: _algorithm(a.value, allowed),
                                               question="Algorithm", choices=tuple(Choice(a.value, a.value) for a in allowed),
                                               **shown)
                choice = yield from ctx.ask(ChoicePrompt, "backup", lambda a: _backup_choice(a.value),
                                            question="Back this key up under the quorum?",
                                            choices=(Choice("backup", "Back up (wrappable for backup only)"),
                                                     Choice("no-backup", "No backup: never leaves the HSM")),
                                            default="backup")
                backup = choice == "backup"
                if not backup:
                    reason = yield from ctx.ask(TextPrompt, "no-backup-reason", _why,
                                                question="Why will this key have no backup? (recorded in the ledger)")
            try:
                preflight_generate(ctx.vault, session, label, algorithm, backup)
                break
            except LabelExists as exc:
                ctx.emit_rejected(exc)
                ctx.notice(str(exc), "warning")
                label = None
                label = yield from ctx.ask(TextPrompt, "label", lambda a: _key_name(a.text), question="Label of the new key",
                                           error_code=exc.code, error_message=str(exc))
            except (KeyNotWrappable, MechanismUnsupported) as exc:
                ctx.emit_rejected(exc)
                ctx.notice(str(exc), "warning")
                algorithm, refused = None, exc
        yield from ctx.review("generate-key", f"Generate the {algorithm.value} key {label!r} in the HSM", [
            item("Label", label), item("Algorithm", algorithm.value),
            item("Backup", "backed up: extractable only to be wrapped under the quorum's backup key" if backup
                 else f"NO BACKUP: the key never leaves the HSM ({reason})"),
            item("Token", f"{session.token.label} (serial {session.token.serial})")])
        ctx.progress(f"Generating {algorithm.value} key {label!r} in the HSM")
        intents.record(ctx.vault, ctx.ceremony_id, ctx.step.id, "generate-key", label=label, algorithm=algorithm.value,
                       backup=backup, no_backup_reason=reason)
        record = op_generate(ctx.vault, session, label, algorithm, backup=backup, no_backup_reason=reason,
                             ceremony_id=ctx.ceremony_id, actor=ctx.actor)
        _record_capabilities(ctx, session)
    return _generated(ctx, record, backup)


def _record_capabilities(ctx, session) -> None:
    # The preflight ran the capability probe (cached per token model): keep it for `custodian doctor`
    # (recorded once the key exists, so that a ceremony that generates nothing changes nothing).
    from vault.doctor import record_capabilities

    record_capabilities(ctx.vault, session.probe(session.wrap_mechanism))


def _generated(ctx, record, backup: bool) -> dict:
    ctx.read_aloud(f"Fingerprint of {record.label}", f"{record.fingerprint} ({fingerprint_words(record.fingerprint)})")
    return {"key_label": record.label, "algorithm": record.algorithm.value, "fingerprint": record.fingerprint,
            "backup": backup, "summary": f"generated {record.algorithm.value} key {record.label} {record.fingerprint}"}


def _generate_after_crash(ctx, intent: dict):
    """Recovery rule of generate-key on resume (ceremonies/README.md): the database already has
    the key -> done; the token has the orphan the intent names -> adopted; neither -> the HSM never
    made it, so it is generated now with the intent's label, algorithm and backup decision."""
    from vault.operations.keys import generate_key as op_generate
    from vault.operations.orphans import adopt_generated, orphan_labelled

    label, algorithm = intent["label"], KeyAlgorithm(intent["algorithm"])
    known = ctx.vault.store.keys_by_labels([label]).get(label)
    if known is not None and known.ceremony_id == ctx.ceremony_id:
        return known
    with _session(ctx, explained=frozenset({label})) as session:
        orphan = orphan_labelled(ctx.vault, session, label)
        if orphan is not None:
            ctx.notice(f"The interrupted step had generated {label!r} on the token; it is adopted "
                       f"({orphan.fingerprint}).", "warning")
            record = adopt_generated(ctx.vault, session, orphan, intent, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
        else:
            ctx.progress(f"Generating {algorithm.value} key {label!r} in the HSM (the interrupted step had not)")
            record = op_generate(ctx.vault, session, label, algorithm, backup=bool(intent.get("backup", True)),
                                 no_backup_reason=intent.get("no_backup_reason"), ceremony_id=ctx.ceremony_id,
                                 actor=ctx.actor)
        _record_capabilities(ctx, session)
    return record
    yield  # a generator like every step body (it asks nothing)


def _label(text: str) -> str:
    text = text.strip()
    if not text or len(text.encode()) > 64 or any(ord(c) < 32 for c in text):
        raise AnswerInvalid("A key label is 1 to 64 printable characters.", next_step="Type another label.")
    return text


def _key_name(text: str) -> str:
    """The name of a new key (vault.keynames): refused at the question, never after the review."""
    from vault.keynames import check_name

    return check_name(_label(text))


def _algorithm(value: str, allowed: list[KeyAlgorithm]) -> KeyAlgorithm:
    try:
        alg = KeyAlgorithm(value)
    except ValueError:
        alg = None
    if alg not in allowed:
        raise AnswerInvalid(f"{value!r} is not an algorithm offered here.",
                            next_step=f"Choose one of: {', '.join(a.value for a in allowed)}.")
    return alg


def _backup_choice(value: str) -> str:
    if value not in ("backup", "no-backup"):
        raise AnswerInvalid(f"{value!r}: answer backup or no-backup.")
    return value


def _why(a: TextAnswer) -> str:
    if len(a.text.strip()) < 10:
        raise AnswerInvalid("Give a reason of at least 10 characters for the ledger.")
    return a.text.strip()


@step_kind("backup", needs_quorum=True, repeatable=True)
def backup(ctx, params):
    """Write every backed-up key, wrapped under the backup KEK, to a new bundle; read it back and test it."""
    from vault.operations.backup import write_backup

    crashed = intents.get(ctx.vault, ctx.ceremony_id, ctx.step.id)
    if crashed is not None:  # recovery rule on resume: a recorded bundle is kept, an unrecorded one removed
        done = [b for b in ctx.vault.store.backups_of_ceremony(ctx.ceremony_id)
                if b.path == str(Path(crashed["path"]).resolve())]
        if done:
            return _backed_up(ctx, Path(done[-1].path), done[-1].sha256)
        from vault.ceremony.step_recovery import remove_unrecorded_bundle

        for line in remove_unrecorded_bundle(ctx.vault, Path(crashed["path"]), ctx.ceremony_id):
            ctx.notice(line, "warning")
            ctx.ledger("ceremony.undone", {"what": line})
    path = yield from ctx.ask(PathPrompt, "path", _output_path, question="Write the backup bundle to (a new file)",
                              purpose=PathPurpose.OUTPUT_FILE)
    with _session(ctx) as session:
        ctx.progress("Wrapping keys and writing the bundle")
        intents.record(ctx.vault, ctx.ceremony_id, ctx.step.id, "backup", path=str(Path(path).resolve()))
        result = write_backup(ctx.vault, session, ctx.secrets.quorum, path, ceremony_id=ctx.ceremony_id,
                              actor=ctx.actor)
    return _backed_up(ctx, path, _attr(result, "sha256"))


def _backed_up(ctx, path: Path, sha: str) -> dict:
    ctx.read_aloud("Backup bundle SHA-256", f"{sha} ({' '.join(words_for(bytes.fromhex(sha)[:8]))})")
    return {"backup_path": str(path), "backup_sha256": sha, "summary": f"backup written to {path}"}


def _file_sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise BundleUnreadable(f"{path} cannot be read: {exc.strerror}.") from None
    return h.hexdigest()


def _attr(obj, *names, default=None):
    for n in names:
        if hasattr(obj, n):
            return getattr(obj, n)
    return default


@step_kind("verify-bundle", needs_quorum=True, repeatable=True)
def verify_bundle(ctx, params):
    """Check a bundle before anything touches a token: every line, the MAC, that the quorum's KEK
    wrote it, that it is key for key the backup the vault recorded, and that every blob unwraps
    to its key as a session object where this home drills (never in a software token in
    production; vault.operations.drill_place). A later restore step uses this bundle."""
    from vault.operations.restore import preflight_restore

    path = yield from ctx.ask(PathPrompt, "bundle", _input_path, question="Bundle to restore",
                              purpose=PathPurpose.INPUT_FILE)
    ctx.progress("Verifying the bundle (integrity, MAC, backup key, the vault's record, a test unwrap of every key)")
    check = preflight_restore(ctx.vault, ctx.secrets.quorum, path)
    ctx.read_aloud("Bundle SHA-256", f"{check.sha256} ({' '.join(words_for(bytes.fromhex(check.sha256)[:8]))})")
    if check.unwrapped_in is None:
        ctx.notice("No drill token is configured and the vault's token is gone, so the blobs could not be "
                   "test-unwrapped yet: the restore unwraps every one as a session object of the replacement "
                   "token, and checks it, before it stores a single key.", "warning")
        unwrapped = "test unwrap deferred to the replacement token (no drill token, the old token is gone)"
    else:
        unwrapped = f"{check.keys_unwrapped} keys test-unwrapped in {check.unwrapped_in.describe()}"
    return {"bundle_path": str(path), "bundle_sha256": check.sha256, "bundle_keys": check.key_count,
            "bundle_checked": True,
            "bundle_unwrapped_in": check.unwrapped_in.place.value if check.unwrapped_in else None,
            "summary": f"{path} verified: {check.key_count} keys, backup {check.backup_id} as recorded, written "
                       f"under this quorum's backup key, {unwrapped}"}


@step_kind("restore", needs_quorum=True, repeatable=True,
           review="the bundle (path, SHA-256, key count) and the token it is restored onto")
def restore(ctx, params):
    """Restore every key of a bundle onto the token (all or nothing); fingerprints compared."""
    from vault.operations.restore import preflight_restore, restore_backup

    if ctx.values.get("bundle_checked"):  # checked by an earlier verify-bundle step
        path = Path(ctx.values["bundle_path"])
        unwrapped_before = ctx.values.get("bundle_unwrapped_in") is not None
    else:
        path = yield from ctx.ask(PathPrompt, "bundle", _input_path, question="Bundle to restore",
                                  purpose=PathPurpose.INPUT_FILE)
        ctx.progress("Verifying the bundle before the token is touched")
        unwrapped_before = preflight_restore(ctx.vault, ctx.secrets.quorum, path).unwrapped_in is not None
    sha = _file_sha256(path)
    if ctx.values.get("bundle_sha256") and ctx.values.get("bundle_path") == str(path) and sha != ctx.values["bundle_sha256"]:
        raise ReviewMismatch(f"{path} changed since it was verified (SHA-256 {sha[:16]}…, verified "
                             f"{ctx.values['bundle_sha256'][:16]}…); nothing was restored.",
                             next_step="Put the verified bundle back, or start the restore again.")
    count = ctx.values.get("bundle_keys") if ctx.values.get("bundle_path") == str(path) else None
    yield from ctx.review("restore", "Restore every key of the bundle onto the token (unwrap)", [
        item("Bundle", path), digest_item("Bundle SHA-256", sha),
        item("Keys in the bundle", count if count is not None else "(counted when the bundle is opened)"),
        item("Token", ctx.vault.token),
        item("What happens", "every key is unwrapped onto the token, all or nothing; fingerprints are compared")])
    if _file_sha256(path) != sha:
        raise ReviewMismatch(f"{path} changed after the review; nothing was restored.",
                             next_step="Start the restore again with the bundle you mean.")
    with _session(ctx, reconcile=False) as session:
        ctx.progress("Unwrapping keys onto the token")
        result = restore_backup(ctx.vault, session, ctx.secrets.quorum, path, ceremony_id=ctx.ceremony_id,
                                actor=ctx.actor, expected_sha256=sha,  # the bytes reviewed and checked
                                test_unwrap_first=not unwrapped_before)
    labels = list(_attr(result, "labels", "restored", default=[]) or [])
    labels = [getattr(x, "label", x) for x in labels]
    return {"restored": labels, "summary": f"restored {len(labels)} keys from {path}"}


@step_kind("drill", needs_quorum=True, repeatable=True)
def drill(ctx, params):
    """Restore the latest (or a named) bundle into a scratch token, compare every key, wipe the scratch token."""
    from vault.operations.drill import run_drill

    def parse(a: TextAnswer):
        return None if a.text.strip() in ("", "latest") else _input_path(a)

    path = yield from ctx.ask(PathPrompt, "bundle", parse, question="Bundle to drill (empty: the latest backup)",
                              purpose=PathPurpose.INPUT_FILE)
    ctx.progress("Unwrapping every key as a session object where this home drills, and comparing")
    result = run_drill(ctx.vault, ctx.secrets.quorum, path, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    ok = _attr(result, "ok", default=True)
    compared = _attr(result, "keys_compared", default=None)
    coverage = _attr(result, "coverage", default=None)
    stale = coverage is not None and not coverage.complete
    if stale:  # it restored, but it is not the drill of the current key set (vault.operations.drill_coverage)
        ctx.notice(f"This bundle {coverage.describe()}: the drill passed for what it holds, but it does not count "
                   "as the drill of the current key set. Back up, then drill the new bundle.", "warning")
        ctx.read_aloud("Current keys the drilled bundle does not hold", ", ".join(coverage.missing))
    where = _attr(result, "where", default=None)
    return {"drill_ok": bool(ok), "keys_compared": compared, "drill_covers_current_keys": not stale,
            "drill_place": where.place.value if where is not None else None,
            "summary": f"drill {'passed' if ok else 'FAILED'} ({compared} key{'' if compared == 1 else 's'} compared"
            + (f" in {where.describe()})" if where is not None else ")")
            + (f"; STALE bundle: {coverage.describe()}" if stale else "")}


@step_kind("rotate-key", needs_quorum=True, repeatable=False,  # resumable by its recovery rule (its intent)
           review="the key and its fingerprint, the new version's label and algorithm, the backup decision")
def rotate_key(ctx, params):
    """Generate the key's next version (active) and deactivate the current one."""
    from vault.operations.keys import rotate_key as op_rotate

    crashed = intents.get(ctx.vault, ctx.ceremony_id, ctx.step.id)
    if crashed is not None:
        result = _rotate_after_crash(ctx, crashed)
        if result is not None:
            return _rotated(ctx, *result)
    key = yield from _key_choice(ctx, "key", "Which key is rotated?", (KeyState.ACTIVE,))
    yield from ctx.review("rotate-key", f"Generate the next version of {key.label!r}; deactivate {key.label!r}", [
        item("Key", f"{key.label} (v{key.version}, {key.state.value})"), fingerprint_item("Fingerprint", key.fingerprint),
        item("New version", f"{key.lineage}-v{key.version + 1} (v{key.version + 1}), {key.algorithm.value}"),
        item("Backup", key.backup.value + (f" ({key.no_backup_reason})" if key.no_backup_reason else "")),
        item("What happens", f"the new version is generated in the HSM and becomes active; {key.label} is "
                             "deactivated (kept to verify and decrypt, never to protect anything new)")])
    with _session(ctx) as session:
        ctx.progress(f"Generating the next version of {key.label}")
        from vault.keynames import token_label

        new_label = token_label(key.lineage, key.version + 1)
        intents.record(ctx.vault, ctx.ceremony_id, ctx.step.id, "rotate-key", from_label=key.label,
                       new_label=new_label, label=new_label, algorithm=key.algorithm.value,
                       backup=key.backup.value == "backed-up")
        old, new = op_rotate(ctx.vault, session, key.ref, new_label=new_label, ceremony_id=ctx.ceremony_id,
                             actor=ctx.actor)
    return _rotated(ctx, old, new)


def _rotated(ctx, old, new) -> dict:
    ctx.read_aloud(f"Fingerprint of {new.label}", f"{new.fingerprint} ({fingerprint_words(new.fingerprint)})")
    return {"rotated_from": old.label, "key_label": new.label, "fingerprint": new.fingerprint,
            "summary": f"{old.label} deactivated; {new.label} active"}


def _rotate_after_crash(ctx, intent: dict):
    """rotate-key resumed: the new version recorded -> done; its orphan on the token -> adopted as
    the next version; neither -> None (the step runs again: the HSM never made it)."""
    from vault.operations.orphans import adopt_rotated, orphan_labelled

    store = ctx.vault.store
    new = store.keys_by_labels([intent["new_label"]]).get(intent["new_label"])
    if new is not None and new.ceremony_id == ctx.ceremony_id:
        return store.get_key_by_label(intent["from_label"]), new
    with _session(ctx, explained=frozenset({intent["new_label"]})) as session:
        orphan = orphan_labelled(ctx.vault, session, intent["new_label"])
        if orphan is None:
            return None
        ctx.notice(f"The interrupted step had generated {orphan.label!r}; it is adopted as the next version.",
                   "warning")
        return adopt_rotated(ctx.vault, session, orphan, intent, ceremony_id=ctx.ceremony_id, actor=ctx.actor)


@step_kind("destroy-key", needs_quorum=True, repeatable=False,  # resumable by its recovery rule (its intent)
           review="the key and its fingerprint, its state, and every backup that still holds it")
def destroy_key(ctx, params):
    """Typed confirmation of the label; an active or suspended key is deactivated first; destroy;
    confirm gone; tombstone; list backups still holding it."""
    from vault.operations.lifecycle import destroy_any_key as op_destroy

    crashed = intents.get(ctx.vault, ctx.ceremony_id, ctx.step.id)
    if crashed is not None:  # recovery rule on resume: finish what the HSM already did
        finished = _destroy_after_crash(ctx, crashed)
        if finished is not None:
            return finished
    key = yield from _key_choice(ctx, "key", "Which key is destroyed?",
                                 (KeyState.PRE_ACTIVATION, KeyState.ACTIVE, KeyState.SUSPENDED, KeyState.DEACTIVATED,
                                  KeyState.COMPROMISED))

    def typed(a: TextAnswer) -> str:
        if a.text != key.label:
            raise AnswerInvalid("The typed label does not match the key chosen; nothing was destroyed.",
                                next_step=f"Type the label exactly, or abort.")
        return a.text

    yield from ctx.ask(TypedConfirmPrompt, "confirm-label", typed, expected=key.label,
                       question=f"Type the label {key.label!r} to destroy it. This cannot be undone.")
    holding = ctx.vault.store.backups_holding(key.id)
    yield from ctx.review("destroy-key", f"Destroy {key.label!r} in the HSM (cannot be undone)", [
        item("Key", f"{key.label} (v{key.version}, {key.algorithm.value}, {key.state.value})"),
        fingerprint_item("Fingerprint", key.fingerprint),
        item("Backups still holding it", "; ".join(f"{b.path} (sha256 {b.sha256[:16]}…)" for b in holding) or "none"),
        item("What happens", ("it is deactivated first (it is " + key.state.value + "), then " if key.state in
                              (KeyState.ACTIVE, KeyState.SUSPENDED) else "")
             + "the key is destroyed on the token and confirmed gone; the tombstone stays in the vault")])
    with _session(ctx) as session:
        intents.record(ctx.vault, ctx.ceremony_id, ctx.step.id, "destroy-key", label=key.label)
        record = op_destroy(ctx.vault, session, key.ref, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    backups = [getattr(b, "path", str(b)) for b in (_attr(record, "backups_holding", "backups", default=[]) or [])]
    return _destroyed(ctx, key, backups)


def _destroyed(ctx, key, backups: list[str]) -> dict:
    text = f"{key.label} ({key.fingerprint}) destroyed and confirmed gone from the token; tombstone kept. " + (
        "Backups still holding it: " + ", ".join(backups) if backups else "No backup holds it.")
    ctx.read_aloud("Destruction record", text)
    return {"destroyed": key.label, "fingerprint": key.fingerprint, "backups_holding": backups, "summary": text}


def _destroy_after_crash(ctx, intent: dict) -> dict | None:
    """destroy-key resumed: already tombstoned -> done; gone from the token but not tombstoned ->
    the tombstone is written now (the HSM had destroyed it); still on the token -> None (the step
    runs again, typed confirmation included)."""
    from vault.errors import KeyNotFound
    from vault.operations.keys import DESTROYED_STATES
    from vault.operations.orphans import finish_destruction

    record = ctx.vault.store.get_key_by_label(intent["label"])
    if record.state not in DESTROYED_STATES:
        with _session(ctx, explained=frozenset({record.label})) as session:
            try:
                session.get_key(record.label)
                return None
            except KeyNotFound:
                ctx.notice(f"{record.label!r} was already destroyed on the token by the interrupted step; the "
                           "tombstone is written now.", "warning")
                finish_destruction(ctx.vault, record, intent, token_serial=session.token.serial,
                                   ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    backups = [b.path for b in ctx.vault.store.backups_holding(record.id)]
    return _destroyed(ctx, record, backups)


@step_kind("compromise-key", needs_quorum=False, repeatable=True,
           review="the key and its fingerprint, its state, and the reason")
def compromise_key(ctx, params):
    """Mark a key compromised (it then protects nothing new), with the reason recorded."""
    from vault.operations.keys import compromise_key as op_compromise

    key = yield from _key_choice(ctx, "key", "Which key is compromised?",
                                 (KeyState.PRE_ACTIVATION, KeyState.ACTIVE, KeyState.SUSPENDED, KeyState.DEACTIVATED))
    reason = yield from ctx.ask(TextPrompt, "reason", _why, question="What happened? (recorded in the ledger)")
    yield from ctx.review("compromise-key", f"Mark {key.label!r} compromised (cannot be undone)", [
        item("Key", f"{key.ref}, label {key.label} (, {key.algorithm.value}, {key.state.value})"),
        fingerprint_item("Fingerprint", key.fingerprint), item("Reason", reason),
        item("What happens", "the key protects nothing new from now on; only destruction follows")])
    op_compromise(ctx.vault, key.ref, reason=reason, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    return {"compromised": key.label, "reason": reason, "summary": f"{key.label} marked compromised: {reason}"}


@step_kind("reshare-commit", needs_quorum=True, repeatable=False,
           review="the new policy and holders, the new bundle's path, the token PIN change, the set retired")
def reshare_commit(ctx, params):
    """Switch to the new quorum: every key backed up under the new KEK (a new bundle), the token's
    PINs re-keyed to the new derivations, the new share set activated and the old one retired.
    Any failure leaves the old quorum working (vault.operations.reshare)."""
    from vault.ceremony import shareset
    from vault.ceremony.steps.people import policy_from_dict
    from vault.operations.reshare import reshare as do_reshare
    from vault.operations.quorum import ActiveQuorum, pin_max_len_of

    split = ctx.secrets.new_split
    holders = ctx.secrets.new_holders
    if split is None or not holders:
        raise PreconditionFailed("No verified share set is waiting to be committed.",
                                 next_step="Distribute and verify the new shares first.")
    path = yield from ctx.ask(PathPrompt, "path", _output_path, question="Write the new backup bundle to (a new file)",
                              purpose=PathPurpose.OUTPUT_FILE)
    with _session(ctx):  # the token must agree with the database before its PINs change
        pass
    current = ctx.vault.store.active_share_set()
    yield from ctx.review("reshare-commit", "Switch to the new share set: re-back-up every key, re-key the token's PINs", [
        item("New policy", policy_from_dict(ctx.values["policy"]).describe()),
        item("New holders", ", ".join(c for _, c in holders)),
        item("New set's identifying words", split.public.identifying_words),
        item("New backup bundle", path),
        item("Share set retired", current.name if current else "none"),
        item("What happens", "every key is wrapped under the new backup key into the new bundle, the token's PINs "
                             "change to the new set's, the old shares open nothing new")])
    ctx.progress("Re-wrapping every key under the new backup KEK and re-keying the token's PINs")

    def record_pending():
        return shareset.record(ctx.vault, split=split, policy=policy_from_dict(ctx.values["policy"]),
                               drill_interval_days=ctx.values.get("drill_interval_days", 90), holders=holders,
                               ceremony_id=ctx.ceremony_id, name=f"set-{ctx.ceremony_id}")

    old_set = ctx.vault.store.active_share_set()
    result = do_reshare(ctx.vault, ctx.secrets.quorum, ctx.secrets.new_quorum, path, record_pending=record_pending,
                        ceremony_id=ctx.ceremony_id, actor=ctx.actor, checkpoint=ctx.run_hook)
    new_set = result.share_set
    ctx.secrets.quorum.wipe()
    ctx.secrets.quorum = ActiveQuorum(ctx.secrets.new_quorum, new_set, pin_max_len=pin_max_len_of(ctx.vault))
    ctx.secrets.new_quorum = None
    split.wipe()
    ctx.secrets.new_split = None
    ctx.ledger("share-set.committed", {"share_set": new_set.name, "policy": new_set.describe(),
                                       "identifying_words": split.public.identifying_words,
                                       "custodians": [c for _, c in holders], "retired": old_set.name,
                                       "token_pins": "derived"})
    sha = result.sha256
    ctx.read_aloud("New backup bundle SHA-256", f"{sha} ({' '.join(words_for(bytes.fromhex(sha)[:8]))})")
    return {"share_set": new_set.name, "retired_share_set": old_set.name, "retired_at": result.retired.retired_at,
            "backup_path": str(path), "backup_sha256": sha, "token_pins_rekeyed": result.token_pins_rekeyed,
            "summary": f"keys re-backed-up to {path}; token PINs re-keyed; {new_set.name} active, "
                       f"{old_set.name} retired"}


@step_kind("sign", params={}, needs_quorum=True, repeatable=True,
           review="the key and its fingerprint, the payload's path, SHA-256 (hex and PGP words) and size, the output")
def sign(ctx, params):
    """Sign a payload with a master key; the signature is verified in software before it is written."""
    from vault.operations.signing import sign_payload

    key = yield from _key_choice(ctx, "key", "Sign with which key?", (KeyState.ACTIVE,), signing=True)
    payload = yield from ctx.ask(PathPrompt, "payload", _payload_path, question="Payload file to sign",
                                 purpose=PathPurpose.INPUT_FILE)
    out = yield from ctx.ask(PathPrompt, "signature", _output_path, question="Write the signature to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    sha, size = _file_sha256(payload), payload.stat().st_size
    yield from ctx.review("sign", f"Sign {payload.name} with {key.label!r} in the HSM", [
        item("Key", f"{key.label} (v{key.version}, {key.algorithm.value})"),
        fingerprint_item("Fingerprint", key.fingerprint), item("Payload", payload),
        digest_item("Payload SHA-256", sha), item("Payload size", f"{size} bytes"), item("Signature file", out)])
    with _session(ctx) as session:
        result = sign_payload(ctx.vault, session, key.ref, payload, out, ceremony_id=ctx.ceremony_id,
                              actor=ctx.actor, expected_sha256=sha)
    digest = _attr(result, "payload_sha256", default="")
    return {"signed_with": key.label, "payload": str(payload), "signature": str(out), "payload_sha256": digest,
            "summary": f"{payload.name} signed with {key.label}; signature verified and written to {out}"}
