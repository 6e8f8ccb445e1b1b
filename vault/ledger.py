"""The hash-chained, append-only event log (rows stored through ``vault.store``).

Every event is hashed with the hash of the event before it, so changing, deleting, inserting or
reordering any stored event breaks the chain from that point on; ``verify`` names the first
sequence number where it breaks. What a chain alone cannot show is a rewrite of the chain's
tail (or a truncation): for that, compare with a head that was printed, read aloud or signed at
the end of a ceremony (``verify(expected_head=...)``).

Hash of event ``seq`` (lowercase hex)::

    SHA-256( UTF-8( canonical JSON of {"seq": seq, "at": at, "actor": actor,
                                        "ceremony_id": ceremony_id or null, "action": action,
                                        "details": details, "prev_hash": prev_hash} ) )

canonical JSON = sorted keys, separators ``,`` and ``:``, no ASCII escaping (Python's
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``). The first
event's ``prev_hash`` is 64 zeros. The store keeps each event as exactly that text (the ledger
table's ``body``; its other columns are generated from it), so an auditor re-checks a chain
with ``sha256(body)`` and the link to the previous hash, or with the formula above.

Details must be JSON-safe and non-secret: a ``vault.secret.Secret`` anywhere in them raises
TypeError and nothing is appended.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from hashlib import sha256
from json.encoder import encode_basestring  # the C encoder json.dumps uses with ensure_ascii=False
from typing import Any, Iterable, Iterator, Mapping

from vault import chain_pass
from vault.errors import LedgerTampered
from vault.pgpwords import words_for
from vault.store import Store
from vault.store.canonical import canonical_json, canonical_json_unchecked, surrogate_error
from vault.store.clock import Clock, iso, utc_now
from vault.store.records import LedgerHead, LedgerRow

GENESIS_PREV_HASH = "0" * 64

__all__ = [
    "GENESIS_PREV_HASH", "Ledger", "LedgerEvent", "LedgerHead", "LedgerReport", "canonical_event",
    "event_hash", "pgp_words",
]


def canonical_event(
    seq: int, at: str, actor: str, ceremony_id: str | None, action: str, details_json: str, prev_hash: str
) -> str:
    """The canonical JSON text (the stored body) of an event whose ``details_json`` is canonical.

    Equal to ``json.dumps({...}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
    of the same event, built without re-encoding the details.
    """
    return (
        '{"action":' + encode_basestring(action)
        + ',"actor":' + encode_basestring(actor)
        + ',"at":' + encode_basestring(at)
        + ',"ceremony_id":' + ("null" if ceremony_id is None else encode_basestring(ceremony_id))
        + ',"details":' + details_json
        + ',"prev_hash":' + encode_basestring(prev_hash)
        + ',"seq":' + str(seq) + "}"
    )


def event_hash(
    seq: int, at: str, actor: str, ceremony_id: str | None, action: str, details_json: str, prev_hash: str
) -> str:
    return sha256(canonical_event(seq, at, actor, ceremony_id, action, details_json, prev_hash)
                  .encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    seq: int
    at: str
    actor: str
    ceremony_id: str | None
    action: str
    details_json: str
    prev_hash: str
    hash: str

    @property
    def details(self) -> dict:
        return json.loads(self.details_json)

    @property
    def head(self) -> LedgerHead:
        return LedgerHead(self.seq, self.hash)

    @classmethod
    def from_row(cls, row: LedgerRow) -> "LedgerEvent":
        return cls(*row)

    @classmethod
    def from_body(cls, seq: int, body: str, digest: str) -> "LedgerEvent":
        f = json.loads(body)
        return cls(seq, f["at"], f["actor"], f["ceremony_id"], f["action"], canonical_json(f["details"]),
                   f["prev_hash"], digest)


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """Result of ``verify``. When not ok, ``count``/``head`` describe the verified part before
    ``first_bad_seq``, and ``problem`` says what is wrong there."""

    ok: bool
    count: int
    head: LedgerHead
    first_bad_seq: int | None = None
    problem: str | None = None

    def raise_if_bad(self) -> None:
        if not self.ok:
            raise LedgerTampered(f"Ledger event {self.first_bad_seq}: {self.problem}")


def pgp_words(hex_text: str) -> str:
    """A hex string (spaces and colons ignored) as PGP words, even/odd alternating."""
    cleaned = re.sub(r"[\s:]", "", hex_text)
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError("pgp_words takes an even number of hex digits") from None
    return " ".join(words_for(data))


def _text(value: Any, what: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty str")
    if not value.isprintable():  # names are read aloud and shown; no control characters
        raise ValueError(f"{what} must be printable text (no control characters)")


class Ledger:
    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def append(
        self, action: str, details: Mapping[str, Any], *, actor: str, ceremony_id: str | None = None
    ) -> LedgerEvent:
        """Append one event and return it (with its seq and hash)."""
        seq, body, digest = self._append([(action, details)], actor=actor, ceremony_id=ceremony_id)[-1]
        return LedgerEvent.from_body(seq, body, digest)

    def append_many(
        self, events: Iterable[tuple[str, Mapping[str, Any]]], *, actor: str, ceremony_id: str | None = None
    ) -> LedgerHead:
        """Append (action, details) pairs by one actor in one transaction: all or none. Returns the new head."""
        rows = self._append(events, actor=actor, ceremony_id=ceremony_id)
        return LedgerHead(rows[-1][0], rows[-1][2]) if rows else self.head()

    def head(self) -> LedgerHead:
        last = self._store.ledger_last()
        return LedgerHead(0, GENESIS_PREV_HASH) if last is None else LedgerHead(last.seq, last.hash)

    def events(self, start_seq: int = 1) -> Iterator[LedgerEvent]:
        return map(LedgerEvent.from_row, self._store.ledger_rows(start_seq))

    def events_of(self, ceremony_id: str) -> list[LedgerEvent]:
        return [LedgerEvent(*r) for r in self._store.ledger_rows_of_ceremony(ceremony_id)]

    pgp_words = staticmethod(pgp_words)

    def verify(self, *, expected_head: LedgerHead | None = None, batch_size: int = chain_pass.BATCH) -> LedgerReport:
        """Re-hash the whole chain in one streaming pass (constant memory; vault.chain_pass).

        Finds the first event that was edited, deleted, inserted or moved. With ``expected_head``
        (a head printed or signed earlier) it also detects a truncated or rewritten tail.
        """
        done = chain_pass.run(self._store, batch_size=batch_size)
        count = done.next_seq - 1
        if not done.ok:
            return LedgerReport(False, count, LedgerHead(count, done.prev), *done.diagnosis())
        report = LedgerReport(True, count, LedgerHead(count, done.prev))
        return report if expected_head is None else self.verify_expected(report, expected_head)

    def verify_expected(self, report: LedgerReport, expected_head: LedgerHead) -> LedgerReport:
        """``report`` (of an intact chain) compared with a head recorded earlier (on paper)."""
        count, prev = report.count, report.head.hash_hex
        if expected_head.seq <= 0:
            return report
        if count < expected_head.seq:
            return LedgerReport(False, count, LedgerHead(count, prev), count + 1,
                                f"the ledger ends at event {count} but event {expected_head.seq} was recorded: "
                                "events were removed from the end.")
        row = self._store.ledger_row(expected_head.seq)
        if row is None or row.hash != expected_head.hash_hex:
            return LedgerReport(False, count, LedgerHead(count, prev), expected_head.seq,
                                f"event {expected_head.seq} differs from the recorded head: the chain up to it "
                                "was rewritten.")
        return report

    # --- internals -------------------------------------------------------------------------------
    def _append(self, events: Iterable[tuple[str, Mapping[str, Any]]], *, actor: str,
                ceremony_id: str | None) -> list[tuple[int, str, str]]:
        _text(actor, "actor")
        _text(ceremony_id, "ceremony_id", optional=True)
        at = iso(self._clock())  # one timestamp per transaction: the events commit together
        encode, dumps = encode_basestring, canonical_json_unchecked
        middle = ',"actor":' + encode(actor) + ',"at":' + encode(at) + ',"ceremony_id":' + (
            "null" if ceremony_id is None else encode(ceremony_id)) + ',"details":'
        rows: list[tuple[int, str, str]] = []
        with self._store.atomic():
            seq, prev = self._store.ledger_tail() or (0, GENESIS_PREV_HASH)
            for action, details in events:
                if type(action) is not str or not action.isprintable() or not action:
                    _text(action, "action")
                if type(details) is not dict:
                    if not isinstance(details, Mapping):
                        raise TypeError("details must be a mapping (a dict of JSON-safe, non-secret values)")
                    details = dict(details)
                seq += 1
                body = f'{{"action":{encode(action)}{middle}{dumps(details)},"prev_hash":{encode(prev)},"seq":{seq}}}'
                try:
                    prev = sha256(body.encode("utf-8")).hexdigest()
                except UnicodeEncodeError:  # a lone surrogate in the details (names are checked above)
                    raise surrogate_error() from None
                rows.append((seq, body, prev))
            if rows:
                self._store.ledger_append_rows(rows)
        return rows
