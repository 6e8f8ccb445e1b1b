"""One pass over the ledger's hash chain: what ``Ledger.verify`` and the anchored check
(vault.ledger_anchors) both run, so the two can never check the chain differently.

Each event must pass three tests, in seq order from ``start_seq``:

* **contiguity**: its seq is the one expected (no event deleted, inserted or moved);
* **link**: its body ends with ``"prev_hash":"<hash of the event before>","seq":<its seq>}``
  (canonical JSON sorts keys, so every honest body ends so);
* **hash**: the stored hash is the SHA-256 of its body.

Why the pass looks the way it does (measured with bench/bench_anchors.py; the hash and the
read are the floor, everything else is overhead on 1,000,000 events):

* rows are read in ranges of ``BATCH`` seqs (``WHERE seq >= a AND seq < a + BATCH``), without
  the seq column: seq is the INTEGER PRIMARY KEY, so a range of BATCH keys that holds BATCH
  rows holds every seq of the range, in order. That one count replaces the per-row seq test and
  an int object per row. A range that holds fewer (the ledger's end, a gap, a race with an
  append) is read again with its seqs and checked row by row (:func:`_exact`), which names a gap;
* ``BATCH`` is 2,000: a batch of 20,000 rows (6 MB of bodies) left the processor's caches
  between the read and the hashing and cost about 0.25x the baseline more;
* the loop stays a plain Python loop over a list: the same tests written as ``map`` over the
  batch (several passes over it) measured slower, because each pass reloads the bodies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from hashlib import sha256

BATCH = 2_000
_LINK = b'"prev_hash":"%s","seq":%d}'


@dataclass
class ChainPass:
    """Where the pass stopped. ``next_seq``/``prev``: the first seq not verified and the hash of
    the last verified event. ``bad``: ``(seq, body, stored hash)`` of the first row that failed
    (its row seq may differ from ``next_seq``: a gap or an insertion), or None when every event
    verified. ``noted``: ``(seq, body)`` of verified events whose body starts with a prefix asked for."""

    next_seq: int
    prev: str
    bad: tuple[int, bytes, str] | None = None
    noted: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bad is None

    def diagnosis(self) -> tuple[int, str]:
        """(first bad seq, problem) for a failed pass (:func:`diagnose`)."""
        seq, body, stored = self.bad
        return diagnose(seq, self.next_seq, self.prev, body, stored)


def run(store, start_seq: int = 1, prev: str = "0" * 64, *, notes: tuple[bytes, ...] = (),
        batch_size: int = BATCH) -> ChainPass:
    """Verify the chain from ``start_seq`` (``prev``: the hash of the event before it) to its end."""
    state = ChainPass(start_seq, prev)
    # one byte test before the prefix test: the notes asked for share their first 12 bytes
    # (b'{"action":"c' for ceremony.*), and most events do not have that byte there
    key = notes[0][11] if notes and all(len(n) > 11 and n[11] == notes[0][11] for n in notes) else None
    while state.ok:
        rows = store.ledger_body_range(state.next_seq, batch_size)
        if len(rows) == batch_size:
            _fast(state, rows, notes, key)
        elif not _exact(state, store.ledger_body_batch(state.next_seq, batch_size), notes, batch_size):
            break  # the ledger's end (or the first bad row, in state.bad)
    return state


def _fast(state: ChainPass, rows, notes, key) -> None:
    """A full range: every seq is there (module doc), so only the link and the hash are tested."""
    sha, prev, expected, noted = sha256, state.prev, state.next_seq, state.noted
    try:
        for body, stored in rows:
            if (not body.endswith(_LINK % (prev.encode(), expected))
                    or sha(body).hexdigest() != stored):
                break
            if notes and (key is None or body[11] == key) and body.startswith(notes):
                noted.append((expected, body))
            prev, expected = stored, expected + 1
        else:
            state.prev, state.next_seq = prev, expected
            return
    except (AttributeError, TypeError):  # a body or hash of another type (a rebuilt table): altered
        pass
    state.prev, state.next_seq = prev, expected
    state.bad = (expected, body if isinstance(body, bytes) else b"", stored)


def _exact(state: ChainPass, rows, notes, batch_size: int) -> bool:
    """Rows with their seqs, tested one by one (the seq test included). True: go on (a full
    batch verified); False: the end, or a bad row (then in ``state.bad``)."""
    sha, prev, expected, noted = sha256, state.prev, state.next_seq, state.noted
    for seq, body, stored in rows:
        if (seq != expected or not isinstance(body, bytes) or not isinstance(stored, str)
                or not body.endswith(_LINK % (prev.encode(), seq)) or sha(body).hexdigest() != stored):
            state.prev, state.next_seq = prev, expected
            state.bad = (seq, body if isinstance(body, bytes) else b"", stored)
            return False
        if notes and body.startswith(notes):
            noted.append((seq, body))
        prev, expected = stored, expected + 1
    state.prev, state.next_seq = prev, expected
    return len(rows) == batch_size


def diagnose(seq: int, expected: int, prev: str, body: bytes, stored_hash: str) -> tuple[int, str]:
    """The slow path, only on failure: say precisely what is wrong at the first bad event."""
    if seq > expected:
        gone = f"event {expected} is" if seq == expected + 1 else f"events {expected} to {seq - 1} are"
        return expected, f"{gone} missing (deleted) before event {seq}."
    if seq < expected:
        return seq, f"an event with sequence number {seq} was inserted."
    try:
        fields = json.loads(body)
        named_prev, named_seq = fields["prev_hash"], fields["seq"]
    except (ValueError, TypeError, KeyError):
        return seq, f"event {seq} was altered: it is no longer a well-formed event."
    if named_prev != prev:
        return seq, (f"event {seq} does not follow event {seq - 1}: an event was inserted, reordered or "
                     "rewritten here.")
    if named_seq != seq:
        return seq, f"event {seq} was moved: it was recorded as event {named_seq}."
    return seq, f"event {seq} was altered: its content does not match its hash."
