"""Ceremonies, their step journal, attestations, deviations and restore drills."""

from __future__ import annotations

from typing import Any, Mapping

from vault.errors import RecordNotFound, StoreError
from vault.store.base import StoreBase
from vault.store.canonical import canonical_json
from vault.store.records import (
    AttestationRecord,
    CeremonyRecord,
    CeremonyStatus,
    DeviationRecord,
    DrillRecord,
    DrillResult,
    LedgerHead,
    StepRecord,
    StepStatus,
)
from vault.types import Mode

_CEREMONY_COLS = (
    "id, definition_name, definition_sha256, mode, status, started_at, ended_at, abort_reason, script_driven, "
    "ledger_start_seq, ledger_start_hash, ledger_end_seq, ledger_end_hash, params"
)
_STEP_COLS = (
    "id, ceremony_id, step_index, step_id, kind, attempt, status, started_at, ended_at, result, error_code"
)
_DRILL_COLS = (
    "id, ceremony_id, backup_id, started_at, ended_at, duration_seconds, result, keys_compared, detail"
)

#: error_code given to a 'started' attempt found open when the same step is started again
#: (the process died in the middle of it).
INTERRUPTED = "INTERRUPTED"


def _head(seq: int | None, hash_hex: str | None) -> LedgerHead | None:
    return None if seq is None else LedgerHead(seq, hash_hex)


def _ceremony(r: tuple) -> CeremonyRecord:
    return CeremonyRecord(
        r[0], r[1], r[2], Mode(r[3]), CeremonyStatus(r[4]), r[5], r[6], r[7], bool(r[8]),
        _head(r[9], r[10]), _head(r[11], r[12]), r[13],
    )


def _step(r: tuple) -> StepRecord:
    return StepRecord(r[0], r[1], r[2], r[3], r[4], r[5], StepStatus(r[6]), *r[7:])


def _drill(r: tuple) -> DrillRecord:
    return DrillRecord(r[0], r[1], r[2], r[3], r[4], r[5], DrillResult(r[6]), r[7], r[8])


def _result_json(result: Any) -> str | None:
    return None if result is None else canonical_json(result)


class CeremonyRepository(StoreBase):
    # --- ceremonies ------------------------------------------------------------------------------
    def start_ceremony(
        self,
        ceremony_id: str,
        *,
        definition_name: str,
        definition_sha256: str,
        mode: Mode,
        script_driven: bool = False,
        ledger_head: LedgerHead | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> CeremonyRecord:
        """A new ceremony in status ``running``. ``params``: non-secret inputs (JSON)."""
        head = ledger_head or LedgerHead(None, None)
        with self._refusals(exists=f"A ceremony with id {ceremony_id!r} already exists."), self.atomic():
            self._write(
                "INSERT INTO ceremonies (id, definition_name, definition_sha256, mode, started_at, script_driven, "
                "ledger_start_seq, ledger_start_hash, params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ceremony_id, definition_name, definition_sha256, Mode(mode).value, self.now(),
                 int(bool(script_driven)), head.seq, head.hash_hex, canonical_json(dict(params or {}))),
            )
            return self.get_ceremony(ceremony_id)

    def get_ceremony(self, ceremony_id: str) -> CeremonyRecord:
        return _ceremony(self._row(f"SELECT {_CEREMONY_COLS} FROM ceremonies WHERE id = ?", (ceremony_id,),
                                   f"No ceremony with id {ceremony_id!r}."))

    def list_ceremonies(self, *, limit: int | None = None) -> list[CeremonyRecord]:
        """Newest first."""
        sql = f"SELECT {_CEREMONY_COLS} FROM ceremonies ORDER BY started_at DESC, rowid DESC"
        rows = self._rows(sql + " LIMIT ?", (limit,)) if limit is not None else self._rows(sql)
        return [_ceremony(r) for r in rows]

    def ceremonies_ended_from(self, seq: int) -> list[CeremonyRecord]:
        """Ceremonies whose recorded end head is event ``seq`` or later (the anchors' incremental check)."""
        return [_ceremony(r) for r in self._rows(
            f"SELECT {_CEREMONY_COLS} FROM ceremonies WHERE ledger_end_seq >= ? ORDER BY ledger_end_seq", (seq,))]

    def unfinished_ceremonies(self) -> list[CeremonyRecord]:
        """Ceremonies still ``running`` (the console crashed or was closed): resume or abort them."""
        return [_ceremony(r) for r in self._rows(
            f"SELECT {_CEREMONY_COLS} FROM ceremonies WHERE status = 'running' ORDER BY started_at, rowid"
        )]

    def end_ceremony(
        self,
        ceremony_id: str,
        status: CeremonyStatus,
        *,
        ledger_head: LedgerHead | None = None,
        abort_reason: str | None = None,
    ) -> CeremonyRecord:
        """running -> completed, or running -> aborted with a reason (required)."""
        status = CeremonyStatus(status)
        if status is CeremonyStatus.RUNNING:
            raise ValueError("end_ceremony ends a ceremony: status must be completed or aborted")
        if status is CeremonyStatus.ABORTED and not abort_reason:
            raise ValueError("an aborted ceremony needs an abort_reason")
        head = ledger_head or LedgerHead(None, None)
        with self.atomic():
            current = self.get_ceremony(ceremony_id)
            if current.status is not CeremonyStatus.RUNNING:
                raise StoreError(f"Ceremony {ceremony_id!r} already ended ({current.status.value}).",
                                 next_step="Start a new ceremony.")
            self._write(
                "UPDATE ceremonies SET status = ?, ended_at = ?, abort_reason = ?, ledger_end_seq = ?, "
                "ledger_end_hash = ? WHERE id = ?",
                (status.value, self.now(), abort_reason, head.seq, head.hash_hex, ceremony_id),
            )
            return self.get_ceremony(ceremony_id)

    # --- step journal ----------------------------------------------------------------------------
    def journal_step_started(self, ceremony_id: str, step_index: int, step_id: str, kind: str) -> StepRecord:
        """Write 'started' before a step runs; a new attempt if the step ran before.

        An attempt still 'started' (the process died during it) is closed as failed with
        error_code ``INTERRUPTED`` in the same transaction. Starting a completed step is refused.
        """
        with self._refusals(missing=f"No ceremony with id {ceremony_id!r}."), self.atomic():
            last = self._last_attempt(ceremony_id, step_index)
            attempt = 1
            if last is not None:
                if last.status is StepStatus.COMPLETED:
                    raise StoreError(f"Step {last.step_id!r} of ceremony {ceremony_id!r} already completed.",
                                     next_step="Continue with the next step.")
                if last.status is StepStatus.STARTED:
                    self._write("UPDATE ceremony_steps SET status = 'failed', ended_at = ?, error_code = ? "
                                "WHERE id = ?", (self.now(), INTERRUPTED, last.id))
                attempt = last.attempt + 1
            cur = self._write(
                "INSERT INTO ceremony_steps (ceremony_id, step_index, step_id, kind, attempt, status, started_at) "
                "VALUES (?, ?, ?, ?, ?, 'started', ?)",
                (ceremony_id, step_index, step_id, kind, attempt, self.now()),
            )
            return _step(self._row(f"SELECT {_STEP_COLS} FROM ceremony_steps WHERE id = ?", (cur.lastrowid,), ""))

    def journal_step_completed(self, ceremony_id: str, step_index: int, result: Any = None) -> StepRecord:
        """Close the open attempt as completed with a non-secret JSON result."""
        return self._finish_step(ceremony_id, step_index, StepStatus.COMPLETED, _result_json(result), None)

    def journal_step_failed(
        self, ceremony_id: str, step_index: int, error_code: str, result: Any = None
    ) -> StepRecord:
        """Close the open attempt as failed with the VaultError code (and an optional JSON detail)."""
        return self._finish_step(ceremony_id, step_index, StepStatus.FAILED, _result_json(result), error_code)

    def steps_of(self, ceremony_id: str) -> list[StepRecord]:
        """Every attempt of every step, in (step_index, attempt) order."""
        self.get_ceremony(ceremony_id)
        return [_step(r) for r in self._rows(
            f"SELECT {_STEP_COLS} FROM ceremony_steps WHERE ceremony_id = ? ORDER BY step_index, attempt",
            (ceremony_id,),
        )]

    def _last_attempt(self, ceremony_id: str, step_index: int) -> StepRecord | None:
        rows = self._rows(
            f"SELECT {_STEP_COLS} FROM ceremony_steps WHERE ceremony_id = ? AND step_index = ? "
            "ORDER BY attempt DESC LIMIT 1", (ceremony_id, step_index),
        )
        return _step(rows[0]) if rows else None

    def _finish_step(self, ceremony_id, step_index, status, result_json, error_code) -> StepRecord:
        with self.atomic():
            last = self._last_attempt(ceremony_id, step_index)
            if last is None or last.status is not StepStatus.STARTED:
                raise RecordNotFound(f"Step {step_index} of ceremony {ceremony_id!r} has no started attempt.",
                                     next_step="Journal the step as started first.")
            self._write(
                "UPDATE ceremony_steps SET status = ?, ended_at = ?, result = ?, error_code = ? WHERE id = ?",
                (status.value, self.now(), result_json, error_code, last.id),
            )
            return _step(self._row(f"SELECT {_STEP_COLS} FROM ceremony_steps WHERE id = ?", (last.id,), ""))

    # --- attestations and deviations -------------------------------------------------------------
    def add_attestation(
        self,
        ceremony_id: str,
        custodian_id: int,
        *,
        statement: str,
        signature_hex: str,
        agree: bool,
        step_id: str | None = None,
    ) -> AttestationRecord:
        with self._refusals(missing=f"Ceremony {ceremony_id!r} or custodian {custodian_id} does not exist."), \
                self.atomic():
            cur = self._write(
                "INSERT INTO attestations (ceremony_id, custodian_id, statement, signature_hex, agree, at, step_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ceremony_id, custodian_id, statement, signature_hex, int(bool(agree)), self.now(), step_id),
            )
            return self._attestations("a.id = ?", cur.lastrowid)[0]

    def attestations_of(self, ceremony_id: str) -> list[AttestationRecord]:
        return self._attestations("a.ceremony_id = ?", ceremony_id)

    def all_attestations(self) -> list[AttestationRecord]:
        """Every attestation of every ceremony, oldest first (the ledger's signed heads)."""
        return self._attestations("1 = ?", 1)

    def _attestations(self, where: str, value: Any) -> list[AttestationRecord]:
        rows = self._rows(
            "SELECT a.id, a.ceremony_id, a.custodian_id, c.name, a.statement, a.signature_hex, a.agree, a.at, "
            f"a.step_id FROM attestations a JOIN custodians c ON c.id = a.custodian_id WHERE {where} ORDER BY a.id",
            (value,),
        )
        return [AttestationRecord(*r[:6], bool(r[6]), r[7], r[8]) for r in rows]

    def add_deviation(
        self, ceremony_id: str, *, step_id: str | None, expected: str, happened: str, action: str, decided_by: str
    ) -> DeviationRecord:
        with self._refusals(missing=f"No ceremony with id {ceremony_id!r}."), self.atomic():
            cur = self._write(
                "INSERT INTO deviations (ceremony_id, step_id, expected, happened, action, decided_by, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ceremony_id, step_id, expected, happened, action, decided_by, self.now()),
            )
            return DeviationRecord(*self._row(
                "SELECT id, ceremony_id, step_id, expected, happened, action, decided_by, at FROM deviations "
                "WHERE id = ?", (cur.lastrowid,), "",
            ))

    def deviations_of(self, ceremony_id: str) -> list[DeviationRecord]:
        return [DeviationRecord(*r) for r in self._rows(
            "SELECT id, ceremony_id, step_id, expected, happened, action, decided_by, at FROM deviations "
            "WHERE ceremony_id = ? ORDER BY id", (ceremony_id,),
        )]

    # --- drills ----------------------------------------------------------------------------------
    def record_drill(
        self,
        ceremony_id: str,
        backup_id: int,
        *,
        started_at: str,
        ended_at: str,
        duration_seconds: float,
        result: DrillResult,
        keys_compared: int,
        detail: str = "",
    ) -> DrillRecord:
        with self._refusals(missing=f"Ceremony {ceremony_id!r} or backup {backup_id} does not exist."), \
                self.atomic():
            cur = self._write(
                "INSERT INTO drills (ceremony_id, backup_id, started_at, ended_at, duration_seconds, result, "
                "keys_compared, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ceremony_id, backup_id, started_at, ended_at, float(duration_seconds), DrillResult(result).value,
                 keys_compared, detail),
            )
            return _drill(self._row(f"SELECT {_DRILL_COLS} FROM drills WHERE id = ?", (cur.lastrowid,), ""))

    def last_drill(self, *, ok_only: bool = False) -> DrillRecord | None:
        """The most recent drill (by end time); ``ok_only`` for the last one that passed."""
        where = "WHERE result = 'ok' " if ok_only else ""
        rows = self._rows(f"SELECT {_DRILL_COLS} FROM drills {where}ORDER BY ended_at DESC, id DESC LIMIT 1")
        return _drill(rows[0]) if rows else None

    def list_drills(self) -> list[DrillRecord]:
        return [_drill(r) for r in self._rows(f"SELECT {_DRILL_COLS} FROM drills ORDER BY id")]
