"""What bench_ledger.py and bench_anchors.py share, so that their ratios are to the same thing:
the filler events both ledgers are made of, and the baseline (a plain hashlib chain over real
stored bodies already in memory; reading SQLite is not in it)."""

from __future__ import annotations

import hashlib
import time


def filler_events(start: int, count: int):
    """``count`` ``key.backed_up`` events numbered from ``start`` (about 330 bytes of body each)."""
    for i in range(start, start + count):
        yield ("key.backed_up", {"label": f"kek-{i:07d}", "algorithm": "aes-256", "fingerprint": "kcv:3f0bc1",
                                 "state": "active", "bundle": "backup-2026-05-01.ccb"})


def sample_bodies(store, n: int = 10_000) -> list[bytes]:
    """The first ``n`` stored bodies: the canonical bytes the ledger hashes, for the baseline."""
    out = []
    for _seq, body, _hash in store.ledger_bodies(batch_size=n):
        out.append(body)
        if len(out) == n:
            break
    return out


def hashlib_chain(payloads: list[bytes], total: int) -> float:
    """Seconds for ``prev = sha256(prev + body)`` over ``total`` bodies (``payloads`` cycled)."""
    sha, prev, done = hashlib.sha256, b"0" * 64, 0
    t0 = time.perf_counter()
    while done < total:
        for payload in payloads[: total - done]:
            prev = sha(prev + payload).hexdigest().encode()
        done += min(len(payloads), total - done)
    return time.perf_counter() - t0
