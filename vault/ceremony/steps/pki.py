"""PKI step kinds: a root's self-signed certificate, an intermediate (or leaf) from a CSR, a
cross-certificate, a certificate for an HSM key (a delegated OCSP signer), a CRL, and a batch
of certificates from a directory of CSRs. Each follows vault.pki's pipeline:

    questions -> prepare (every refusal, the TBS, pkilint) -> review (administrator, then the
    witness) -> HSM signs -> software check + pkilint again -> written once + recorded

A refusal raises before the HSM signs; an input mistake (a bad CSR file, an issuer that cannot
sign) asks again with the reason. The review before signing is the engine's review before action
(``ctx.review``, vault.ceremony.review) with the items of vault.ceremony.steps.pki_review, the
TBS's SHA-256 among them.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from vault.ceremony.kinds import ParamSpec, step_kind
from vault.ceremony.prompts import Choice, ChoiceAnswer, ChoicePrompt, PathPrompt, PathPurpose, TextAnswer, TextPrompt
from vault.ceremony.steps.keys import _output_path, _session, fingerprint_words
from vault.ceremony.steps.pki_review import BATCH_REVIEW, CERTIFICATE_REVIEW, CRL_REVIEW
from vault.errors import AnswerInvalid, CsrInvalid, IssuerNotUsable, PreconditionFailed
from vault.pgpwords import words_for
from vault.types import KeyState

_PROFILE = {"profile": ParamSpec("str", required=True, doc="certificate profile (ceremonies/profiles/NAME.toml)")}


def _now(ctx) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _load_profile(ctx, name: str, *, kind: str | tuple[str, ...]):
    from vault.pki.profile import load_profile

    profile = load_profile(name, ctx.vault.home.path)
    kinds = (kind,) if isinstance(kind, str) else kind
    if profile.kind not in kinds:
        raise PreconditionFailed(f"The profile {profile.name} is a {profile.kind} profile; this step needs "
                                 f"{' or '.join(kinds)}.", next_step="Name a fitting profile in the definition.")
    ctx.read_aloud(f"Profile {profile.name} SHA-256", f"{profile.sha256} ({_words(profile.sha256)})")
    return profile


def _words(hex_: str) -> str:
    return " ".join(words_for(bytes.fromhex(hex_.split(":", 1)[-1])[:8]))


def _review_certificate(ctx, title: str, prepared):
    """The review before the HSM signs (vault.ceremony.review): the administrator and the witness
    confirm exactly the TBS built and linted; a back returns to the step's last answer."""
    from vault.ceremony.steps.pki_review import certificate_items

    yield from ctx.review("sign-certificate", title, certificate_items(prepared))


def _issuer_choice(ctx, *, for_crl: bool = False):
    """The CA certificate that signs: ours, valid now, not revoked (refused ones say why)."""
    from vault.pki.issue import issuer_from_record, usable_issuers

    now = _now(ctx)
    listed = usable_issuers(ctx.vault, now=now, for_crl=for_crl)
    if not listed:
        raise PreconditionFailed("This vault holds no CA certificate whose key is in its HSM.",
                                 next_step="Run the root-ca ceremony first.")
    records = {r.serial_hex: r for r, _ in listed}

    def parse(a: ChoiceAnswer):
        record = records.get(a.value.lower().replace(":", ""))
        if record is None:  # the label of the CA's HSM key: its newest certificate that can sign
            mine = [r for r, why in listed if r.key_label == a.value]
            record = next((r for r, why in reversed(listed) if r.key_label == a.value and why is None),
                          mine[-1] if mine else None)
        if record is None:
            raise AnswerInvalid(f"{a.value!r} is not one of the CA certificates offered.",
                                next_step=f"Choose one of: {', '.join(records)} (or the CA key's label).")
        return issuer_from_record(ctx.vault, record, now=now, for_crl=for_crl)  # IssuerNotUsable re-asks

    choices = tuple(Choice(r.serial_hex, r.subject, f"key {r.key_label}, until {r.not_after}"
                           + (f" - cannot sign: {why}" if why else "")) for r, why in listed)
    default = next((r.serial_hex for r, why in listed if why is None), None)
    issuer = yield from ctx.ask(ChoicePrompt, "issuer", parse, question="Which CA certificate signs?",
                                choices=choices, default=default)
    return issuer


def _finish(ctx, session, prepared, out: Path):
    from vault.pki.issue import record_issued, sign_prepared

    signer = session.x509_signer(session.get_key(prepared.issuer.key_label))
    ctx.progress(f"Signing in the HSM with {prepared.issuer.key_label}")
    issued = sign_prepared(ctx.vault, signer, prepared, ceremony_id=ctx.ceremony_id)
    record = record_issued(ctx.vault, issued, out, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    ctx.read_aloud("Certificate SHA-256", f"{record.sha256} ({_words(record.sha256)})")
    return {"certificate_serial": record.serial_hex, "certificate_sha256": record.sha256,
            "certificate_path": record.path, "certificate_kind": record.kind,
            "lint_warnings": [f["code"] for f in record.lint_findings],
            "summary": f"{record.kind} certificate {record.serial_hex} for {record.subject} signed, checked, "
                       f"written to {record.path}"}


def _signing_key(ctx, ask: str, question: str, *, exclude: str | None = None, default: str | None = None):
    keys = [k for k in ctx.vault.store.list_keys(KeyState.ACTIVE) if k.algorithm.can_sign and k.label != exclude]
    if not keys:
        raise PreconditionFailed("No active signing key is in this vault.", next_step="Generate one first.")
    labels = [k.label for k in keys]

    def parse(a: ChoiceAnswer):
        if a.value not in labels:
            raise AnswerInvalid(f"{a.value!r} is not an active signing key of this vault.",
                                next_step=f"Choose one of: {', '.join(labels)}.")
        return next(k for k in keys if k.label == a.value)

    key = yield from ctx.ask(ChoicePrompt, ask, parse, question=question,
                             choices=tuple(Choice(k.label, k.label, f"{k.algorithm.value}, {k.fingerprint}") for k in keys),
                             default=default if default in labels else None)
    return key


def _same_subject_reason(answer: TextAnswer) -> str:
    from vault.errors import SubjectInUse

    text = answer.text.strip()
    if len(text) < 10:
        raise SubjectInUse("A second root with this subject needs a reason of at least 10 characters for the ledger.",
                           next_step="Say why (e.g. a re-key of the root), or abort and give the profile a new "
                           "subject.")
    return text


def _check_same_subject(ctx, name, key):
    """A root whose subject another CA key of this vault already has: asked for a recorded reason."""
    from vault.pki.issue import same_subject_other_key

    others = same_subject_other_key(ctx.vault, name, key.fingerprint)
    if not others:
        return None
    listed = "; ".join(f"{r.kind} {r.serial_hex} (key {r.key_label or 'not ours'}, {r.spki_sha256})" for r in others)
    ctx.notice(f"The subject {name.rfc4514_string()} is already certified for another key: {listed}. Refused unless "
               "a reason is given (a re-key).", "warning")
    reason = yield from ctx.ask(TextPrompt, "same-subject-reason", _same_subject_reason,
                                question=f"{name.rfc4514_string()} already names another CA key ({listed}). Relying "
                                "parties find an issuer by name, so two keys under one name make paths ambiguous."
                                "\nType the reason for a second root with this name (it goes to the ledger), or "
                                "abort.")
    ctx.ledger("certificate.same-subject-allowed", {"subject": name.rfc4514_string(), "key": key.label,
                                                    "fingerprint": key.fingerprint, "reason": reason,
                                                    "other_certificates": [r.serial_hex for r in others]})
    return reason


@step_kind("root-certificate", params=_PROFILE, needs_quorum=True, repeatable=False, review=CERTIFICATE_REVIEW)
def root_certificate(ctx, params):
    """A self-signed root certificate for an HSM key (made earlier in the ceremony or before)."""
    from vault.pki import build
    from vault.pki.issue import Subject, prepare_certificate, self_issuer

    profile = _load_profile(ctx, params["profile"], kind="root-ca")
    key = yield from _signing_key(ctx, "key", "Which HSM key does the root certify?", default=ctx.values.get("key_label"))
    out = yield from ctx.ask(PathPrompt, "path", _output_path, question="Write the root certificate to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    with _session(ctx) as session:
        name, _ = build.subject_name(profile)
        issuer = self_issuer(ctx.vault, key.label, session.public_key_pem(session.get_key(key.label)), name)
        yield from _check_same_subject(ctx, name, key)
        subject = Subject(name, issuer.public_key, key_label=key.label, source=f"HSM key {key.label} ({key.fingerprint})")
        prepared = prepare_certificate(ctx.vault, profile, issuer, subject, serial_source=session.random, now=_now(ctx))
        yield from _review_certificate(ctx, f"Sign the root certificate of {key.label!r} (self-signed) in the HSM", prepared)
        return _finish(ctx, session, prepared, out)


def _pki_input(a: TextAnswer, what: str) -> Path:
    path = Path(a.text.strip()).expanduser()
    if not a.text.strip() or not path.is_file():
        raise CsrInvalid(f"{path if a.text.strip() else 'No path'} is not a readable file." if a.text.strip()
                         else "Give the path of the file.", next_step=f"Type the path of the {what}.")
    return path


def _read_csr(a: TextAnswer):
    from vault.pki.csr import read_csr

    return read_csr(_pki_input(a, "certificate signing request"))


@step_kind("sign-csr", params=_PROFILE, needs_quorum=True, repeatable=False, review=CERTIFICATE_REVIEW)
def sign_csr(ctx, params):
    """A certificate from a CSR: its signature checked, its subject and key fingerprint read aloud,
    the profile applied (only the key and the subject attributes the profile allows are used)."""
    from vault.pki import build
    from vault.pki.issue import Subject, prepare_certificate

    profile = _load_profile(ctx, params["profile"], kind=("intermediate", "leaf"))
    issuer = yield from _issuer_choice(ctx)
    csr = yield from ctx.ask(PathPrompt, "csr", _read_csr, question="The certificate signing request (PEM or DER)",
                             purpose=PathPurpose.INPUT_FILE)
    ctx.read_aloud("CSR subject", csr.subject.rfc4514_string() or "(empty)")
    ctx.read_aloud("CSR public key", f"{csr.key_description} {csr.spki_sha256} ({fingerprint_words(csr.spki_sha256)})")
    out = yield from ctx.ask(PathPrompt, "path", _output_path, question="Write the certificate to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    name, dropped = build.subject_name(profile, csr.subject)
    subject = Subject(name, csr.public_key, source=f"CSR {csr.path} sha256:{csr.sha256}", dropped=dropped,
                      requested_extensions=csr.requested_extensions)
    with _session(ctx) as session:
        prepared = prepare_certificate(ctx.vault, profile, issuer, subject, serial_source=session.random, now=_now(ctx))
        yield from _review_certificate(ctx, f"Sign the {profile.kind} certificate for {name.rfc4514_string()} with "
                                            f"{issuer.key_label!r} in the HSM", prepared)
        result = _finish(ctx, session, prepared, out)
    return {**result, "csr_sha256": csr.sha256, "csr_spki_sha256": csr.spki_sha256}


def _read_other_root(a: TextAnswer):
    from vault.pki.cross import read_other_root

    return read_other_root(_pki_input(a, "other root's certificate"))


@step_kind("cross-certificate", params=_PROFILE, needs_quorum=True, repeatable=False, review=CERTIFICATE_REVIEW)
def cross_certificate(ctx, params):
    """A cross-certificate: another root's exact subject and key, certified by one of our CAs."""
    from vault.pki.issue import Subject, prepare_certificate

    profile = _load_profile(ctx, params["profile"], kind="cross-sign")
    issuer = yield from _issuer_choice(ctx)
    other = yield from ctx.ask(PathPrompt, "certificate", _read_other_root,
                               question="The other root's self-signed certificate (PEM or DER)",
                               purpose=PathPurpose.INPUT_FILE)
    ctx.read_aloud("Other root", other.subject.rfc4514_string())
    ctx.read_aloud("Other root's key", f"{other.spki_sha256} ({fingerprint_words(other.spki_sha256)})")
    out = yield from ctx.ask(PathPrompt, "path", _output_path, question="Write the cross-certificate to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    subject = Subject(other.subject, other.public_key, source=f"root certificate {other.path} sha256:{other.sha256}")
    with _session(ctx) as session:
        prepared = prepare_certificate(ctx.vault, profile, issuer, subject, serial_source=session.random, now=_now(ctx))
        yield from _review_certificate(ctx, f"Sign the cross-certificate for {other.subject.rfc4514_string()} with "
                                            f"{issuer.key_label!r} in the HSM", prepared)
        return _finish(ctx, session, prepared, out)


@step_kind("key-certificate", params=_PROFILE, needs_quorum=True, repeatable=False, review=CERTIFICATE_REVIEW)
def key_certificate(ctx, params):
    """A certificate for another HSM key of this vault (a delegated OCSP responder), by one of our CAs."""
    from vault.pki import build
    from vault.pki.issue import Subject, prepare_certificate
    from cryptography.hazmat.primitives import serialization

    profile = _load_profile(ctx, params["profile"], kind=("ocsp-signer", "leaf"))
    issuer = yield from _issuer_choice(ctx)
    key = yield from _signing_key(ctx, "key", "Which HSM key is certified?", exclude=issuer.key_label,
                                  default=ctx.values.get("key_label"))
    out = yield from ctx.ask(PathPrompt, "path", _output_path, question="Write the certificate to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    with _session(ctx) as session:
        public_key = serialization.load_pem_public_key(session.public_key_pem(session.get_key(key.label)).encode())
        name, _ = build.subject_name(profile)
        subject = Subject(name, public_key, key_label=key.label, source=f"HSM key {key.label} ({key.fingerprint})")
        prepared = prepare_certificate(ctx.vault, profile, issuer, subject, serial_source=session.random, now=_now(ctx))
        if prepared.spki_sha256 != key.fingerprint:
            raise IssuerNotUsable(f"The token's public key of {key.label!r} is not the one the vault recorded.")
        yield from _review_certificate(ctx, f"Sign the {profile.kind} certificate of {key.label!r} with "
                                            f"{issuer.key_label!r} in the HSM", prepared)
        return _finish(ctx, session, prepared, out)


@step_kind("crl", params=_PROFILE, needs_quorum=True, repeatable=False, review=CRL_REVIEW)
def crl(ctx, params):
    """A CRL: every certificate the CA revoked (new revocations asked one at a time, with reasons),
    the next CRL number, this and next update from the profile."""
    from vault.ceremony.steps.pki_review import crl_items
    from vault.pki.crl import parse_revocation, prepare_crl, record_crl, sign_crl

    profile = _load_profile(ctx, params["profile"], kind="crl")
    issuer = yield from _issuer_choice(ctx, for_crl=True)
    new: list = []
    while True:
        def parse(a: TextAnswer):
            return None if not a.text.strip() else parse_revocation(a.text, ctx.vault, issuer, new)

        item = yield from ctx.ask(TextPrompt, "revoke", parse,
                                  question="Serial (hex) and reason of a certificate to revoke; empty when done")
        if item is None:
            break
        new.append(item)
        ctx.notice(f"To revoke: {item.certificate.serial_hex} {item.certificate.subject} ({item.reason})")
    out = yield from ctx.ask(PathPrompt, "path", _output_path, question="Write the CRL to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    with _session(ctx) as session:
        prepared = prepare_crl(ctx.vault, profile, issuer, new, now=_now(ctx))
        yield from ctx.review("sign-crl", f"Sign CRL number {prepared.crl_number} with {issuer.key_label!r} in the HSM",
                              crl_items(prepared))
        signer = session.x509_signer(session.get_key(issuer.key_label))
        issued = sign_crl(signer, prepared)
        record = record_crl(ctx.vault, issued, out, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    ctx.read_aloud("CRL SHA-256", f"{record.sha256} ({_words(record.sha256)})")
    return {"crl_number": record.crl_number, "crl_sha256": record.sha256, "crl_path": record.path,
            "revoked_now": [r.certificate.serial_hex for r in new],
            "summary": f"CRL {record.crl_number} of {issuer.record.subject} ({record.revoked_count} revoked) signed, "
                       f"checked, written to {record.path}"}


def _csr_dir(a: TextAnswer) -> Path:
    path = Path(a.text.strip()).expanduser()
    if not a.text.strip() or not path.is_dir() or not any(path.glob("*.csr")):
        raise AnswerInvalid(f"{path} is not a directory holding *.csr files.")
    return path


def _new_dir(a: TextAnswer) -> Path:
    path = Path(a.text.strip()).expanduser()
    if not a.text.strip():
        raise AnswerInvalid("Give a directory path.")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise AnswerInvalid(f"{path} exists and is not an empty directory; certificates are never written over files.")
    if not path.parent.is_dir():
        raise AnswerInvalid(f"The directory {path.parent} does not exist.")
    return path


@step_kind("sign-csr-batch", params=_PROFILE, needs_quorum=True, repeatable=False, review=BATCH_REVIEW)
def sign_csr_batch(ctx, params):
    """Certificates for every CSR in a directory (test fleets, intermediates in bulk): every CSR
    checked and every TBS linted before one review of the whole batch; then each is signed,
    checked, linted again, written (NAME.pem) and recorded. Times per phase are reported."""
    from vault.pki import build
    from vault.pki.csr import read_csr
    from vault.ceremony.steps.pki_review import batch_items
    from vault.pki.issue import Subject, prepare_certificate, record_issued, sign_prepared

    profile = _load_profile(ctx, params["profile"], kind=("intermediate", "leaf"))
    issuer = yield from _issuer_choice(ctx)
    source = yield from ctx.ask(PathPrompt, "csr-dir", _csr_dir, question="Directory of CSRs (*.csr)",
                                purpose=PathPurpose.INPUT_FILE)
    target = yield from ctx.ask(PathPrompt, "out-dir", _new_dir, question="Write the certificates into (a new or empty directory)",
                                purpose=PathPurpose.OUTPUT_DIRECTORY)
    paths = sorted(source.glob("*.csr"))
    timing = {"check_and_lint": 0.0, "sign_check_lint": 0.0}
    with _session(ctx) as session:
        prepared = []
        for i, path in enumerate(paths):
            try:
                csr = read_csr(path)
            except CsrInvalid as exc:
                raise CsrInvalid(f"{path.name}: {exc.message}", next_step="Remove or replace that CSR; nothing was signed.") from None
            name, dropped = build.subject_name(profile, csr.subject)
            t = time.perf_counter()
            prepared.append((path, prepare_certificate(ctx.vault, profile, issuer,
                                                       Subject(name, csr.public_key, source=f"CSR {path.name} sha256:{csr.sha256}",
                                                               dropped=dropped), serial_source=session.random,
                                                       now=_now(ctx))))
            timing["check_and_lint"] += time.perf_counter() - t
            ctx.progress("Checking and linting the CSRs", i + 1, len(paths))
        yield from ctx.review("sign-batch", f"Sign {len(prepared)} certificates with {issuer.key_label!r} in the HSM",
                              batch_items(profile, issuer, prepared))
        target.mkdir(exist_ok=True)
        signer = session.x509_signer(session.get_key(issuer.key_label))
        for i, (path, pr) in enumerate(prepared):
            t0 = time.perf_counter()
            issued = sign_prepared(ctx.vault, signer, pr, ceremony_id=ctx.ceremony_id)
            timing["sign_check_lint"] += time.perf_counter() - t0
            record_issued(ctx.vault, issued, target / f"{path.stem}.pem", ceremony_id=ctx.ceremony_id, actor=ctx.actor)
            ctx.progress("Signing", i + 1, len(prepared))
    n = max(len(prepared), 1)
    return {"issued": len(prepared), "out_dir": str(target),
            "ms_per_certificate": {k: round(v * 1000 / n, 3) for k, v in timing.items()},
            "summary": f"{len(prepared)} certificates signed, checked and written to {target}"}
