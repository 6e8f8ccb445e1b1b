"""Benchmark: ledger append and verify, next to a plain hashlib chain over the same bytes.

    .venv/bin/python bench/bench_ledger.py [--events N] [--verify-events N] [--batch B] [--repeat R] [--rebuild]

* append: N events (default 100,000) through ``Ledger.append_many`` in batches of B (default
  1,000), onto a fresh database file: canonical JSON of the details, hashing, SQLite inserts;
* verify: ``Ledger.verify()`` of a chain of M events (default 1,000,000; the database is built
  once through the Ledger API and cached in bench/.cache/, git-ignored; ``--rebuild`` redoes it);
* baseline: ``prev = sha256(prev + body).hexdigest()`` over the very bytes the ledger hashes
  (the stored canonical bodies, taken from the database), as many events as measured;
* floor: ``Store.ledger_bodies()`` streamed without any hashing (what reading SQLite costs).
* append floors: the very rows an append writes, ``(seq, body, hash)`` already made, inserted
  with a bare ``executemany`` in the same batches and transactions: into the vault's schema
  (through ``Store``: WAL, synchronous=NORMAL, its index and triggers), and into a bare table
  ``(seq INTEGER PRIMARY KEY, body, hash)`` with the same pragmas (what SQLite alone costs).

Best of R runs each, interleaved. Prints events/second with the ratio to the baseline (aim:
within 2x) and writes bench/results/ledger.txt.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger_workload import filler_events, hashlib_chain, sample_bodies  # noqa: E402
from vault.ledger import Ledger  # noqa: E402
from vault.store import Store  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ledger.txt"
CACHE = ROOT / "bench" / ".cache"
CEREMONY = "2026-05-01-backup-1"


def append(ledger: Ledger, total: int, batch: int) -> None:
    done = 0
    while done < total:
        n = min(batch, total - done)
        ledger.append_many(filler_events(done, n), actor="alice", ceremony_id=CEREMONY)
        done += n


def time_append(total: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.db") as store:
        t0 = time.perf_counter()
        append(Ledger(store), total, batch)
        return time.perf_counter() - t0


def verify_db(count: int, rebuild: bool) -> Path:
    home = CACHE / f"ledger-{count}"
    path, ready = home / "ledger.db", home / "ready"
    if rebuild or not ready.exists():
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        print(f"building a chain of {count:,} events (once; cached in {home}) ...", flush=True)
        t0 = time.perf_counter()
        with Store.open(path) as store:
            append(Ledger(store), count, 10_000)
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        ready.write_text(f"{count}\n")
        print(f"  built in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


def append_rows(total: int, batch: int) -> list[tuple[int, str, str]]:
    """The (seq, body, hash) rows an append of ``total`` events writes."""
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "rows.db") as store:
        append(Ledger(store), total, batch)
        return store.conn.execute("SELECT seq, body, hash FROM ledger ORDER BY seq").fetchall()


def time_insert_floor(rows: list[tuple[int, str, str]], batch: int, *, vault_schema: bool) -> float:
    """A bare executemany of ready rows, in the append's batches and transactions."""
    with tempfile.TemporaryDirectory() as tmp:
        if vault_schema:
            store = Store.open(Path(tmp) / "floor.db")
            conn = store.conn
        else:
            store = None
            conn = sqlite3.connect(str(Path(tmp) / "floor.db"), isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("CREATE TABLE ledger (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, hash TEXT NOT NULL)")
        try:
            t0 = time.perf_counter()
            for i in range(0, len(rows), batch):
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT INTO ledger (seq, body, hash) VALUES (?, ?, ?)", rows[i : i + batch])
                conn.execute("COMMIT")
            return time.perf_counter() - t0
        finally:
            (store or conn).close()


def time_floor(store: Store) -> float:
    t0 = time.perf_counter()
    for _ in store.ledger_bodies():
        pass
    return time.perf_counter() - t0


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} events/s  ({seconds:7.3f} s)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000, help="events to append (default 100,000)")
    ap.add_argument("--verify-events", type=int, default=1_000_000, help="chain length to verify (default 1,000,000)")
    ap.add_argument("--batch", type=int, default=1_000, help="events per append_many call (default 1,000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement, best kept (default 3)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached verify database")
    args = ap.parse_args()

    path = verify_db(args.verify_events, args.rebuild)
    runs: dict[str, list[float]] = {"append": [], "append_base": [], "insert_vault": [], "insert_bare": [],
                                    "verify": [], "verify_base": [], "floor": []}
    rows = append_rows(args.events, args.batch)
    with Store.open(path) as store:
        ledger = Ledger(store)
        payloads = sample_bodies(store)
        report = None
        for r in range(args.repeat):
            print(f"run {r + 1}/{args.repeat} ...", flush=True)
            runs["append"].append(time_append(args.events, args.batch))
            runs["append_base"].append(hashlib_chain(payloads, args.events))
            runs["insert_vault"].append(time_insert_floor(rows, args.batch, vault_schema=True))
            runs["insert_bare"].append(time_insert_floor(rows, args.batch, vault_schema=False))
            t0 = time.perf_counter()
            report = ledger.verify()
            runs["verify"].append(time.perf_counter() - t0)
            runs["verify_base"].append(hashlib_chain(payloads, args.verify_events))
            runs["floor"].append(time_floor(store))
        assert report is not None and report.ok and report.count == args.verify_events, report
    best = {k: min(v) for k, v in runs.items()}
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db_mb = path.stat().st_size / 2**20
    append_ratio = best["append"] / best["append_base"]
    verify_ratio = best["verify"] / best["verify_base"]

    def verdict(ratio: float) -> str:
        return "OK" if ratio <= 2.0 else "ABOVE AIM"

    lines = [
        f"ledger benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"host: {platform.node() or 'vm'} {platform.machine()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, best of {args.repeat}, interleaved",
        "",
        f"append {args.events:,} events (append_many, batches of {args.batch:,}, fresh file):",
        f"  Ledger.append_many:        {rate(args.events, best['append'])}",
        f"  hashlib chain, same bytes: {rate(args.events, best['append_base'])}",
        f"  ratio: {append_ratio:.2f}x (aim <= 2x) {verdict(append_ratio)}",
        f"  floor, executemany of the ready rows, vault schema: {rate(args.events, best['insert_vault'])}"
        f"  = {best['insert_vault'] / best['append_base']:.2f}x the baseline",
        f"  floor, executemany of the ready rows, bare table:   {rate(args.events, best['insert_bare'])}"
        f"  = {best['insert_bare'] / best['append_base']:.2f}x the baseline",
        f"  so the Python side (the events generated, details to canonical JSON, body, SHA-256, checks) costs "
        f"{(best['append'] - best['insert_vault']) / args.events * 1e6:.2f} us/event over the vault-schema floor",
        "",
        f"verify a chain of {args.verify_events:,} events ({db_mb:,.0f} MB file):",
        f"  Ledger.verify:             {rate(args.verify_events, best['verify'])}",
        f"  hashlib chain, same bytes: {rate(args.verify_events, best['verify_base'])}",
        f"  ratio: {verify_ratio:.2f}x (aim <= 2x) {verdict(verify_ratio)}",
        f"  floor, ledger_bodies() only: {rate(args.verify_events, best['floor'])}"
        f"  = {best['floor'] / best['verify_base']:.2f}x the baseline before any hashing",
        f"  peak RSS of this process: {rss_mb:,.0f} MB (includes the {args.events:,} ready rows kept for the append "
        "floors; verify streams in batches, its memory does not grow with the chain)",
        "",
        "all runs (s): " + ", ".join(f"{k} [{', '.join(f'{x:.3f}' for x in v)}]" for k, v in runs.items()),
    ]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".txt.tmp")
    tmp.write_text(text)
    tmp.replace(RESULTS)
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
