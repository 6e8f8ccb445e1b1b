"""Read-only views of the vault for the screens, built ON the owner thread.

Every function here takes the open ``Vault`` as its first argument and is meant to be run with
``await bridge.run(fn, ...)``. It returns plain frozen dataclasses (or store records), so the UI
thread never touches the store, the ledger or the HSM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vault.errors import VaultError
from vault.types import KeyState


@dataclass(frozen=True, slots=True)
class TokenView:
    label: str = ""
    serial: str = ""
    model: str = ""
    capabilities: str = ""
    problem: str = ""  # why the token could not be read (next step included)


@dataclass(frozen=True, slots=True)
class HolderView:
    custodian: str
    share: str  # "share 2" / "group 1, share 2"
    last_verified: str


@dataclass(frozen=True, slots=True)
class DashboardView:
    mode: str
    home: str
    token: TokenView
    custodians: tuple[str, ...]
    share_set: str  # "'main' 2-of-3 (shares start “…”)" or "none yet"
    holders: tuple[HolderView, ...]
    keys_by_state: tuple[tuple[str, int], ...]
    last_backup: str
    next_drill: str
    ledger_head: str
    ledger_words: str
    ledger_count: int
    warnings: tuple[str, ...]


def pgp(hex_text: str, n_bytes: int = 8) -> str:
    """The first ``n_bytes`` of a hash as PGP words (read aloud; the full hash is shown too)."""
    from vault.pgpwords import words_for

    try:
        return " ".join(words_for(bytes.fromhex(hex_text)[:n_bytes]))
    except ValueError:
        return ""


def _short_time(iso: str | None) -> str:
    if not iso:
        return "never"
    return iso[:16].replace("T", " ") + "Z" if len(iso) >= 16 else iso


def token_view(vault) -> TokenView:
    try:
        info = vault.hsm().find_token(vault.token)
    except VaultError as exc:
        from vault.doctor import token_next_step

        return TokenView(problem=f"{exc.title}: {exc.message} Next: {token_next_step(vault, exc)}")
    return TokenView(label=info.label, serial=info.serial, model=f"{info.manufacturer} {info.model}".strip(),
                     capabilities=", ".join(f for f in info.flags[:4]))


def _doctor(vault, now: datetime | None = None) -> tuple[list[str], str]:
    """``vault.doctor.run_doctor``: its warnings and errors (with the next step), and the
    recorded capability summary for the token panel."""
    from vault.doctor import run_doctor

    try:
        report = run_doctor(vault, now=now)
    except VaultError as exc:
        return [f"doctor could not run: {exc.message} Next: {exc.next_step}"], ""
    except Exception as exc:  # noqa: BLE001 - a fault in one check must not hide the dashboard
        return [f"doctor stopped on an internal fault ({type(exc).__name__}); run `custodian doctor` to see it."], ""
    warnings = [f"{f.area}: {f.message}" + (f" Next: {f.next_step}" if f.next_step else "")
                for f in report.warnings]
    caps = next((f.message for f in report.findings if f.area == "capabilities"), "")
    return warnings, caps


def dashboard(vault, now: datetime) -> DashboardView:
    store = vault.store
    custodians = tuple(f"{c.name} ({c.role.value})" for c in store.list_custodians())
    active = store.active_share_set()
    holders: tuple[HolderView, ...] = ()
    if active is None:
        share_set = "none yet: run the init ceremony"
    else:
        from vault.shares.words import set_words

        words = set_words(active.identifier, True, active.iteration_exponent)
        share_set = f"'{active.name}' {active.describe()} · shares start “{words}”"
        single = len(active.groups) == 1
        holders = tuple(
            HolderView(h.custodian_name,
                       f"share {h.member_index + 1}" if single else f"group {h.group_index + 1}, share {h.member_index + 1}",
                       _short_time(h.last_verified_at or h.verified_at))
            for h in store.share_holders(active.id)
        )
    counts: dict[str, int] = {}
    for k in store.list_keys():
        counts[k.state.value] = counts.get(k.state.value, 0) + 1
    by_state = tuple((s.value, counts[s.value]) for s in KeyState if s.value in counts)
    backup = store.latest_backup()
    last_backup = "none yet" if backup is None else f"{_short_time(backup.created_at)} · {backup.key_count} keys · {backup.path}"
    next_drill = _next_drill(vault, now)
    head = vault.ledger.head()
    words = pgp(head.hash_hex) if head.seq else ""
    warnings, caps = _doctor(vault, now)
    token = token_view(vault)
    if caps:
        token = TokenView(token.label, token.serial, token.model, caps, token.problem)
    return DashboardView(
        mode=vault.mode.value.upper(), home=str(vault.home.path), token=token, custodians=custodians,
        share_set=share_set, holders=holders, keys_by_state=by_state, last_backup=last_backup,
        next_drill=next_drill, ledger_head=f"#{head.seq} {head.hash_hex[:16]}…" if head.seq else "empty",
        ledger_words=words, ledger_count=head.seq, warnings=tuple(warnings),
    )


def _next_drill(vault, now: datetime) -> str:
    """The dashboard's wording of the domain's drill schedule (vault.operations.drill)."""
    from vault.operations.drill import next_drill_due

    if vault.store.current_policy() is None:
        return "no policy yet"
    schedule = next_drill_due(vault, now=now)
    if schedule.due_at is None:
        return "after the first backup"
    if schedule.missing and schedule.overdue:
        n = len(schedule.missing)
        return (f"now: the last drill's bundle lacks {n} current key{'s' if n != 1 else ''} "
                f"({', '.join(schedule.missing[:3])}{'…' if n > 3 else ''}); back up, then drill")
    if schedule.last_ok_at is None:
        return "now: no drill since the first backup"
    due = datetime.fromisoformat(schedule.due_at.replace("Z", "+00:00"))
    days = (due - now).days
    return f"{due.date().isoformat()} ({'in ' + str(days) + ' days' if days >= 0 else str(-days) + ' days OVERDUE'})"


# --- keys ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyRow:
    id: int
    label: str
    algorithm: str
    state: str
    version: int
    fingerprint: str
    backup: str
    created_at: str


def key_rows(vault) -> list[KeyRow]:
    return [KeyRow(k.id, k.label, k.algorithm.value, k.state.value, k.version, k.fingerprint, k.backup.value,
                   _short_time(k.created_at)) for k in vault.store.list_keys()]


@dataclass(frozen=True, slots=True)
class KeyDetail:
    row: KeyRow
    fingerprint_words: str
    history: tuple[str, ...]
    backups: tuple[str, ...]
    no_backup_reason: str | None


def key_detail(vault, key_id: int) -> KeyDetail:
    k = vault.store.get_key(key_id)
    row = KeyRow(k.id, k.label, k.algorithm.value, k.state.value, k.version, k.fingerprint, k.backup.value,
                 _short_time(k.created_at))
    history = tuple(
        f"{_short_time(t.at)}  {t.from_state.value if t.from_state else '(created)'} → {t.to_state.value}"
        f"  by {t.actor}" + (f" in {t.ceremony_id}" if t.ceremony_id else "") + (f": {t.reason}" if t.reason else "")
        for t in vault.store.key_history(key_id)
    )
    backups = tuple(f"{_short_time(b.created_at)}  {b.path}" for b in vault.store.backups_holding(key_id))
    return KeyDetail(row, _fingerprint_words(k.fingerprint), history, backups, k.no_backup_reason)


def _fingerprint_words(fingerprint: str) -> str:
    return pgp(fingerprint.split(":", 1)[-1])


# --- people -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PersonRow:
    name: str
    role: str
    status: str
    enrolled_at: str
    shares: str
    fingerprint: str = ""  # of their attestation key: sha256:<hex>


def people(vault) -> list[PersonRow]:
    from vault.identity import public_key_fingerprint

    store = vault.store
    active = store.active_share_set()
    rows = []
    for c in store.list_custodians(status=None):
        held = [h for h in store.holdings_of(c.id) if active is not None and h.share_set_id == active.id]
        shares = ", ".join(f"share {h.member_index + 1} (verified {_short_time(h.last_verified_at or h.verified_at)})"
                           for h in held)
        try:
            fingerprint = public_key_fingerprint(c.public_key_pem)
        except VaultError:
            fingerprint = "(unreadable key)"
        rows.append(PersonRow(c.name, c.role.value, c.status.value, _short_time(c.enrolled_at), shares or "—",
                              fingerprint))
    return rows


# --- ceremonies -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CeremonyEntry:
    name: str
    title: str
    purpose: str
    quorum: str
    preconditions: tuple[str, ...]
    steps: tuple[str, ...]
    builtin: bool
    blocked: str = ""  # why it cannot start now (its unmet precondition and the next step); "" = ready


#: The order a key's life goes through; ceremonies not named here follow, by name.
LIFECYCLE = ("init", "generate-key", "backup", "drill", "sign", "rotate", "compromise", "destroy", "reshare",
             "restore", "root-ca", "root-ca-existing", "intermediate", "issue-batch", "cross-sign", "ocsp-signer", "crl")


def lifecycle_key(d) -> tuple[int, str]:
    return (LIFECYCLE.index(d.name) if d.name in LIFECYCLE else len(LIFECYCLE), d.name)


def catalogue(vault) -> list[CeremonyEntry]:
    from vault.ceremony.definitions import load_catalogue_report
    from vault.ceremony.preconditions import check_preconditions

    entries = []
    report = load_catalogue_report(vault.home.path)
    for d in sorted(report.definitions.values(), key=lifecycle_key):
        try:
            check_preconditions(vault, d)
            blocked = ""
        except VaultError as exc:
            blocked = f"{exc.message} Next: {exc.next_step}"
        entries.append(CeremonyEntry(d.name, d.title, d.purpose, d.quorum.value, tuple(d.preconditions),
                                     tuple(s.title for s in d.steps), d.builtin, blocked))
    for b in report.broken:  # a broken file of yours blocks only itself
        entries.append(CeremonyEntry(b.name, "(broken definition file)", str(b.path), "", (), (), False,
                                     f"{b.error.code}: {b.error.message} Next: {b.error.next_step}"))
    return entries


@dataclass(frozen=True, slots=True)
class LedgerLine:
    seq: int
    at: str
    actor: str
    ceremony_id: str
    action: str
    details: str


def ledger_lines(vault, ceremony_id: str | None = None, limit: int = 5000) -> list[LedgerLine]:
    """The ledger's events (the last ``limit``), or one ceremony's."""
    store = vault.store
    if ceremony_id:
        rows = store.ledger_rows_of_ceremony(ceremony_id)[-limit:]
    else:
        start = max(1, store.ledger_count() - limit + 1)
        rows = store.ledger_rows(start)
    return [LedgerLine(r.seq, _short_time(r.at), r.actor, r.ceremony_id or "", r.action, r.details) for r in rows]


@dataclass(frozen=True, slots=True)
class VerifyView:
    ok: bool
    text: str = field(default="")


def ledger_verify(vault) -> VerifyView:
    """The full check (every hash and every signed head), as `custodian ledger verify --full`."""
    from vault import ledger_anchors

    anchored = ledger_anchors.check(vault)
    report = anchored.chain
    if anchored.ok:
        head = report.head
        words = ""
        if head and head.seq:
            words = pgp(head.hash_hex)
        return VerifyView(True, f"✓ Ledger OK: {report.count} events, head #{head.seq if head else 0}, "
                                f"{anchored.signed} signed heads. {words}")
    if not report.ok:
        return VerifyView(False, f"✗ Ledger BROKEN at event #{report.first_bad_seq}: {report.problem}")
    return VerifyView(False, f"✗ Ledger signed heads do not match: {anchored.problems[0]}")
