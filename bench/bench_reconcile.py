"""Benchmark: the reconcile every ceremony runs at its first logged-in session, next to one
``list_keys()`` of the same token, 10,000 AES keys (target: within 1.5x).

    .venv/bin/python bench/bench_reconcile.py [--count N] [--repeat R]

Reuses the cached token of bench_hsm_list.py (bench/.cache/hsm-list-N/, built on first use)
and a SQLite store in a temp directory holding one key record per token object (same label,
CKA_ID, fingerprint and token serial), so the reconcile finds them all in agreement. Then, in
one process and on one session, interleaved, best of R: ``list_keys()`` and
``reconcile(vault, session)`` (one token listing plus one database listing and the compare).
The result goes to bench/results/reconcile.txt.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_hsm_list import LABEL, USER_PIN, prepare, timed  # noqa: E402

from vault.operations.reconcile import reconcile  # noqa: E402
from vault.store import Store  # noqa: E402
from vault.types import KeyState  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "reconcile.txt"


class _Vault:
    """What reconcile reads of a vault: its store."""

    def __init__(self, store) -> None:
        self.store = store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    module = prepare(args.count, False)
    with tempfile.TemporaryDirectory() as tmp, module.open_session(LABEL, USER_PIN) as session:
        store = Store.open(Path(tmp) / "bench.db")
        keys = session.list_keys()
        with store.atomic():
            for k in keys:
                store.add_key(k.label, cka_id=k.key_id, algorithm=k.algorithm, fingerprint=k.fingerprint,
                              token_serial=session.token.serial, actor="bench", state=KeyState.ACTIVE)
        vault = _Vault(store)
        list_times, reconcile_times = [], []
        for _ in range(args.repeat):
            t, listed = timed(session.list_keys)
            list_times.append(t)
            t, report = timed(reconcile, vault, session)
            reconcile_times.append(t)
        assert len(listed) == args.count and report.ok and report.keys_in_database == args.count, report.describe()
        store.close()
    module.close()
    best_list, best_rec = min(list_times), min(reconcile_times)
    ratio = best_rec / best_list
    lines = [
        f"reconcile benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"host: {platform.node()} {platform.machine()}, Python {platform.python_version()}",
        f"objects: {args.count} AES-256 token keys, {args.count} key records, best of {args.repeat}",
        f"list_keys():              {best_list * 1000:9.1f} ms",
        f"reconcile(vault, session): {best_rec * 1000:9.1f} ms",
        f"ratio: {ratio:.2f}x (target <= 1.5x) {'OK' if ratio <= 1.5 else 'OVER TARGET'}",
        f"all runs (ms): list_keys {[round(t * 1000, 1) for t in list_times]}, "
        f"reconcile {[round(t * 1000, 1) for t in reconcile_times]}",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
