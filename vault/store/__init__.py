"""The one module that touches SQLite: schema, migrations and named repository operations.

Opening and transactions
------------------------
``Store.open(path, *, clock=utc_now) -> Store``
    One database file (``HOME/custodian.db``), created if missing; WAL, ``synchronous=NORMAL``,
    ``PRAGMA foreign_keys=ON`` on the connection, migrations applied in order, each in one
    transaction (``PRAGMA user_version`` = number applied). A file from a newer console is refused
    with ``SchemaError``; a file that is not a database with ``StoreError``.
    The connection belongs to the thread that opened it (``check_same_thread`` stays on): run all
    store work on the vault's owning thread (``vault.runtime.OwnerThread``).
``store.atomic()``
    Context manager, one transaction (a SAVEPOINT when nested; wraps sqlite-utils ``db.atomic()``).
    Every multi-row method below already runs in one; wrap several calls (e.g. a store change
    plus ``Ledger.append``) in ``with store.atomic():`` to commit them together.
``store.close()`` (also a context manager), ``store.schema_version``, ``store.now() -> str``
``store.integrity_check() -> list[str]``   PRAGMA integrity_check + foreign_key_check; [] = healthy.

Errors: a duplicate name/label -> ``RecordExists`` (naming it); a missing row or a reference to
one -> ``RecordNotFound``; a refused key state change -> ``TransitionRefused`` (from and to named,
also as ``exc.from_state``/``exc.to_state``); other refusals -> ``StoreError``. ``ValueError`` /
``TypeError`` for programmer misuse (including a ``Secret`` passed into any JSON column).
Nothing is half-applied: a failing method leaves no partial row.

Times are ISO 8601 UTC strings (``2026-05-01T09:30:00.123456Z``) from the store's clock. Records
are frozen dataclasses from ``vault.store.records``. Nothing secret is ever stored.

Custodians
    add_custodian(name, role, public_key_pem, passphrase_verifier, kdf_params: dict | str,
                  encrypted_signing_key: str | bytes, *, ceremony_id=None) -> CustodianRecord
        (the fields of a ``vault.identity.Enrollment``: ``e.verifier``, ``e.kdf.to_dict()``,
        ``e.encrypted_key``; names are unique case-insensitively)
    get_custodian(name) / get_custodian_by_id(id) -> CustodianRecord
    list_custodians(*, status=CustodianStatus.ACTIVE | None, role=None) -> list[CustodianRecord]
    retire_custodian(name, *, ceremony_id=None) -> CustodianRecord
Quorum policy (latest row = current)
    add_policy(group_threshold, groups: [(m, n), ...], *, passphrase, iteration_exponent,
               drill_interval_days, ceremony_id=None) -> PolicyRecord
    current_policy() -> PolicyRecord | None ;  list_policies()
Share sets (pending -> active -> retired; at most one active)
    add_share_set(name, *, identifier, group_threshold, groups, iteration_exponent, passphrase,
                  commitment_salt, check_value, ceremony_id=None, policy_id=None) -> ShareSetRecord
    activate_share_set(id) -> ShareSetRecord   refused unless every holder has verified back;
                                               retires the previously active set atomically
    retire_share_set(id) ; active_share_set() -> ShareSetRecord | None ; get_share_set(id) ;
    get_share_set_by_name(name) ; list_share_sets(*, status=None)
Share holders (who holds which share; never the share)
    add_share_holder(share_set_id, custodian_id, *, group_index, member_index, commitment)
        -> ShareHolderRecord        (indices 0-based as SLIP-39 numbers them)
    mark_share_distributed(holder_id) ; mark_share_verified(holder_id)  (first + last verified)
    share_holders(share_set_id) -> list[ShareHolderRecord] ; holdings_of(custodian_id) ;
    get_share_holder(holder_id)
Keys (NIST SP 800-57 states; never deleted)
    add_key(label, *, cka_id, algorithm, fingerprint, token_serial, actor, ceremony_id=None,
            backup=BackupDecision.BACKED_UP, no_backup_reason=None,
            state=KeyState.PRE_ACTIVATION (or ACTIVE), lineage=None (= label), version=1,
            previous_key_id=None, reason="generated") -> KeyRecord   (+ history row from None)
    transition_key(key_id, new_state, *, actor, ceremony_id, reason) -> KeyRecord
        only ``vault.types.ALLOWED_TRANSITIONS``; state + lifecycle time + history in one transaction.
        The schema refuses any other transition by itself (trigger), even with raw SQL.
    rotate_key(previous_key_id, label, *, cka_id, fingerprint, token_serial, actor, ceremony_id,
               backup=..., no_backup_reason=None) -> KeyRecord
        next version of the lineage -> active, previous -> deactivated, atomically.
    get_key(id) ; get_key_by_label(label) ; list_keys(state=None, *, lineage=None) ;
    iter_keys(states=None, *, backup=None, page=1000) -> Iterator[KeyRecord]   (creation order,
        one query per page: memory does not grow with the key count) ;
    count_keys(states=None, *, backup=None) ; keys_by_labels(labels) -> {label: KeyRecord} ;
    latest_version(lineage) ; key_history(key_id) -> list[KeyTransitionRecord] ;
    set_key_token(key_id, token_serial)   (after a restore onto a replacement token) ;
    set_keys_token(key_ids, token_serial) -> int   (many at once)
    keys.allowed_next_states(state) -> list[KeyState]
Backups
    record_backup(NewBackup(path, sha256, format_version, share_set_id, kek_check_value,
                  ceremony_id), key_entries: [(key_id, fingerprint), ...]) -> BackupRecord
        (key_entries is streamed: a generator is read once)
    backups_holding(key_id) -> list[BackupRecord] ; latest_backup() -> BackupRecord | None ;
    get_backup(id) ; get_backup_by_sha256(hex) ; list_backups() ; backup_keys(backup_id) ;
    iter_backup_keys(backup_id, *, page=1000) -> Iterator[(KeyRecord, fingerprint written)]   (key id order)
Ceremonies and the step journal
    start_ceremony(ceremony_id, *, definition_name, definition_sha256, mode, script_driven=False,
                   ledger_head: LedgerHead | None = None, params: dict | None = None) -> CeremonyRecord
    end_ceremony(ceremony_id, CeremonyStatus.COMPLETED | ABORTED, *, ledger_head=None,
                 abort_reason=None (required for ABORTED)) -> CeremonyRecord
    get_ceremony(id) ; list_ceremonies(*, limit=None) (newest first) ; unfinished_ceremonies()
    journal_step_started(ceremony_id, step_index, step_id, kind) -> StepRecord
        (before the step; a new attempt if it ran before; an attempt left 'started' by a crash is
        closed as failed with error_code "INTERRUPTED"; a completed step is refused)
    journal_step_completed(ceremony_id, step_index, result=None) -> StepRecord   (JSON, non-secret)
    journal_step_failed(ceremony_id, step_index, error_code, result=None) -> StepRecord
    steps_of(ceremony_id) -> list[StepRecord]   every attempt, in (step_index, attempt) order
Attestations, deviations, drills
    add_attestation(ceremony_id, custodian_id, *, statement, signature_hex, agree, step_id=None)
    attestations_of(ceremony_id)
    add_deviation(ceremony_id, *, step_id, expected, happened, action, decided_by) ; deviations_of(id)
    record_drill(ceremony_id, backup_id, *, started_at, ended_at, duration_seconds, result: DrillResult,
                 keys_compared, detail="") -> DrillRecord
    last_drill(*, ok_only=False) -> DrillRecord | None ; list_drills()
Settings (non-secret text)
    get_setting(key, default=None) -> str | None ; set_setting(key, value: str) ; delete_setting(key) -> bool ;
    settings() -> dict
Ledger rows (the chain itself is ``vault.ledger.Ledger``; use that, not these, to append)
    A stored event is (seq, body, hash): body = the canonical JSON the hash covers; at, actor,
    ceremony_id, action, details, prev_hash are derived from it by SQLite when read (view
    ``ledger_events``, schema v2; nothing is computed on an append but the index of events by
    ceremony, on ``json_extract(body, '$.ceremony_id')``).
    UPDATE and DELETE on the table are refused by triggers.
    ledger_append_rows(rows: [(seq, body, hash), ...]) -> int      one transaction
    ledger_bodies(start_seq=1, *, batch_size=20000) -> Iterator[(seq, body bytes, hash)]   streaming, seq order
    ledger_body_range(start_seq, count) -> [(body bytes, hash)] ; ledger_body_batch(start_seq, count) -> [(seq, body bytes, hash)]
        the chain pass's reads (vault.chain_pass): a range of seqs without them, and rows after a gap
    ledger_rows(start_seq=1, *, batch_size=20000) -> Iterator[LedgerRow]   streaming, seq order
    ledger_last() -> LedgerRow | None ; ledger_tail() -> (seq, hash) | None ; ledger_row(seq) ; ledger_body(seq) ; ledger_rows_of_ceremony(id) ;
    ledger_count()
"""

from vault.store.clock import iso, utc_now
from vault.store.records import (
    AttestationRecord,
    BackupDecision,
    BackupKeyRecord,
    BackupRecord,
    CeremonyRecord,
    CeremonyStatus,
    CustodianRecord,
    CustodianStatus,
    DeviationRecord,
    DrillRecord,
    DrillResult,
    KeyRecord,
    KeyTransitionRecord,
    LedgerHead,
    LedgerRow,
    NewBackup,
    PolicyRecord,
    ShareHolderRecord,
    ShareSetRecord,
    ShareSetStatus,
    StepRecord,
    StepStatus,
)
from vault.store.schema import LATEST_VERSION
from vault.store.store import Store

__all__ = [
    "AttestationRecord", "BackupDecision", "BackupKeyRecord", "BackupRecord", "CeremonyRecord", "CeremonyStatus",
    "CustodianRecord", "CustodianStatus", "DeviationRecord", "DrillRecord", "DrillResult", "KeyRecord",
    "KeyTransitionRecord", "LATEST_VERSION", "LedgerHead", "LedgerRow", "NewBackup", "PolicyRecord",
    "ShareHolderRecord", "ShareSetRecord", "ShareSetStatus", "StepRecord", "StepStatus", "Store", "iso", "utc_now",
]
