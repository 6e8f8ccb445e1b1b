"""Benchmark: what carrying the vault's metadata costs a backup of 10,000 AES-256 + 500 EC P-256 keys.

    .venv/bin/python bench/bench_backup_metadata.py [--aes N] [--ec N] [--repeat R] [--rebuild]

The vault home of bench/bench_backup.py (cached in bench/.cache/backup-<aes>-<ec>/), given the
ledger a real vault of that size has: one ``key.generated`` event per key, with the details the
generate-key ceremony records (added once, cached as ``ledgered``). Measured in the same
process, on fresh copies of that home, interleaved, best of R:

* before: ``write_backup`` as it was before the metadata (format 1: the header without the
  ledger head, no metadata lines): ``vault.operations.backup`` with ``_write_metadata`` off and a
  version 1 header;
* after: ``write_backup`` as it is (format 3: every table and the ledger in column blocks,
  xz-compressed and sealed after the key lines);
* format 2 (the row layout, zlib) is measured beside them, for the record.

Reported: bundle size and backup time before and after, as ratios (target <= 1.1x), both as
wall-clock time and as the process's CPU time (on a machine shared with other work the wall
clock swings by seconds between two identical runs; CPU time much less), and how big the
metadata is raw (the snapshot's JSON lines) against sealed. Results go to
bench/results/backup_metadata.txt.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_backup  # noqa: E402  (its cached home, quorum and work copies)

from vault.backup import format as bundle_format  # noqa: E402
from vault.operations import backup as backup_module  # noqa: E402
from vault.operations import write_backup  # noqa: E402
from vault.operations.keys import _key_details  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "backup_metadata.txt"


def add_ledger(home: Path) -> None:
    """One key.generated event per key (what the ceremonies would have written), once."""
    marker = home.parent / "ledgered"
    if marker.exists():
        return
    from vault.vault import Vault

    vault = Vault.open(home)
    try:
        with vault.store.atomic():
            for record in vault.store.iter_keys(page=1000):
                vault.ledger.append("key.generated", _key_details(record), actor="bench",
                                    ceremony_id=None)  # fmt: skip
    finally:
        vault.close()
    marker.write_text("yes\n")


@contextmanager
def format_2():
    """write_backup as format 2 wrote it: a version 2 header, the metadata in the row layout."""
    create = bundle_format.BundleHeader.create

    def create_v2(**fields):
        return dataclasses.replace(create(**fields), format_version=2)

    backup_module.BundleHeader.create = staticmethod(create_v2)
    try:
        yield
    finally:
        backup_module.BundleHeader.create = create


@contextmanager
def format_1():
    """write_backup as before the metadata: a version 1 header and no metadata lines."""
    create, write_metadata = bundle_format.BundleHeader.create, backup_module._write_metadata

    def create_v1(*, ledger_seq, ledger_head, now=None, **fields):
        return bundle_format.BundleHeader(created_at=bundle_format.utc_timestamp(now), **fields)

    backup_module.BundleHeader.create = staticmethod(create_v1)
    backup_module._write_metadata = lambda *args: None
    try:
        yield
    finally:
        backup_module.BundleHeader.create = create
        backup_module._write_metadata = write_metadata


def one(home: Path, name: str, version: int) -> tuple[float, float, int, int]:
    """(wall s, CPU s, bundle bytes, keys) of one backup written as format ``version``."""
    work = bench_backup.Work.open(home, name)
    try:
        bundle = work.dir / "bundle.ccb"
        layout = {1: format_1, 2: format_2, 3: nullcontext}[version]
        with layout():
            cpu = time.process_time()
            seconds, result = bench_backup.timed(write_backup, work.vault, work.session, work.quorum, bundle)
            cpu = time.process_time() - cpu
        assert bundle_format.inspect_bundle(bundle).header.format_version == version
        return seconds, cpu, result.size, result.key_count
    finally:
        work.close()


def metadata_part(home: Path) -> float:
    """Seconds to snapshot and seal the home's metadata alone (what format 2 adds to a backup)."""
    import os

    from vault.backup.metadata import seal_records
    from vault.secret import Secret
    from vault.vault import Vault

    vault = Vault.open(home)
    try:
        head = vault.ledger.head()
        key = Secret(os.urandom(32))
        seconds, _ = bench_backup.timed(
            lambda: sum(len(c) for c in seal_records(key, vault.store.snapshot_records(head.seq, blobs=True))))
        return seconds
    finally:
        vault.close()


def raw_metadata_bytes(home: Path) -> tuple[int, int]:
    """(bytes of the snapshot's JSON lines, ledger events) of the home, for the report."""
    from vault.backup.metadata import _json
    from vault.vault import Vault

    vault = Vault.open(home)
    try:
        head = vault.ledger.head()
        total = sum(len(_json(r)) + 1 for r in vault.store.snapshot_records(head.seq))
        return total, head.seq
    finally:
        vault.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aes", type=int, default=10_000)
    parser.add_argument("--ec", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    home = bench_backup.prepare(args.aes, args.ec, args.rebuild)
    add_ledger(home)
    rounds = []
    for n in range(args.repeat):
        b_s, b_cpu, b_size, keys = one(home, f"meta-before-{n}", 1)
        a_s, a_cpu, a_size, _ = one(home, f"meta-after-{n}", 3)
        m_s = metadata_part(home)
        rounds.append({"before_s": round(b_s, 3), "after_s": round(a_s, 3), "metadata_s": round(m_s, 3),
                       "before_cpu_s": round(b_cpu, 3), "after_cpu_s": round(a_cpu, 3),
                       "before_bytes": b_size, "after_bytes": a_size, "keys": keys,
                       "load": open("/proc/loadavg").read().split()[0]})
        print(f"round {n + 1}: before {b_s:.2f} s (cpu {b_cpu:.2f}) {b_size} B, after {a_s:.2f} s (cpu {a_cpu:.2f}) "
              f"{a_size} B", flush=True)
    v2_s, v2_cpu, v2_size, _ = one(home, "meta-v2", 2)
    best_b, best_a = min(r["before_s"] for r in rounds), min(r["after_s"] for r in rounds)
    cpu_b, cpu_a = min(r["before_cpu_s"] for r in rounds), min(r["after_cpu_s"] for r in rounds)
    best_m = min(r["metadata_s"] for r in rounds)
    b_size, a_size, keys = rounds[0]["before_bytes"], rounds[0]["after_bytes"], rounds[0]["keys"]
    raw, events = raw_metadata_bytes(home)
    size_ratio, time_ratio, cpu_ratio = a_size / b_size, best_a / best_b, cpu_a / cpu_b
    import pkcs11

    lines = [
        f"backup metadata benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"host: {platform.node() and 'vm'} {platform.machine()}, Python {platform.python_version()}, "
        f"python-pkcs11 {getattr(pkcs11, '__version__', '?')}, SoftHSM file backend",
        f"keys: {args.aes} AES-256 + {args.ec} EC P-256 ({keys} in the bundle); ledger {events} events; best of "
        f"{args.repeat}, before/after interleaved on fresh copies",
        f"bundle size  before (format 1, no metadata): {b_size / 1e6:.2f} MB; after (format 3): {a_size / 1e6:.2f} MB; "
        f"ratio {size_ratio:.3f}x (target <= 1.1x) {'OK' if size_ratio <= 1.1 else 'MISSED'}",
        f"backup time  before: {best_b:.2f} s; after: {best_a:.2f} s; ratio {time_ratio:.2f}x (target <= 1.1x) "
        f"{'OK' if time_ratio <= 1.1 else 'MISSED'} (wall clock)",
        f"backup CPU   before: {cpu_b:.2f} s; after: {cpu_a:.2f} s; ratio {cpu_ratio:.2f}x (target <= 1.1x) "
        f"{'OK' if cpu_ratio <= 1.1 else 'MISSED'} (the process's CPU time)",
        f"format 2 (row layout, zlib), one run: {v2_size / 1e6:.2f} MB = {v2_size / b_size:.2f}x, "
        f"{v2_s:.2f} s wall, {v2_cpu:.2f} s CPU",
        f"the metadata part alone (snapshot, column blocks, xz, seal; best of {args.repeat}): {best_m:.2f} s = "
        f"{(best_b + best_m) / best_b:.2f}x of the format 1 backup when added to it",
        f"metadata: {raw / 1e6:.2f} MB of JSON lines (every table, the ledger) sealed into "
        f"{(a_size - b_size) / 1e6:.2f} MB of bundle lines (column blocks, xz, AES-GCM, base64)",
        f"all rounds: {rounds}",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"(took {time.perf_counter() - start:.0f} s)")
