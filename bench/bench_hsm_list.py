"""Benchmark: HsmSession.list_keys() against a raw python-pkcs11 loop, 10,000 AES keys.

    .venv/bin/python bench/bench_hsm_list.py [--count N] [--repeat R] [--rebuild]

Setup creates N AES-256 token objects on a SoftHSM token (about 5 ms each, so a minute for
10,000) and caches the token directory under bench/.cache/hsm-list-N/ (git-ignored); later
runs reuse it. Then, in the same process and on the same session, it times

* ``list_keys()``: one pass over the token, every vault attribute read, KeyObjects with
  fingerprints (KCV from CKA_CHECK_VALUE), grouped and sorted;
* the raw loop: ``for obj in session.get_objects(...): obj.get_attributes(LIST_ATTRIBUTES)``,
  reading the same attributes and building nothing;

best of R runs each, interleaved, and prints both with their ratio (target <= 1.3x). The
result is written to bench/results/hsm_list.txt.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pkcs11  # noqa: E402  (the raw baseline talks to python-pkcs11 directly)
from pkcs11 import Attribute as A  # noqa: E402

from vault.hsm import HSM_LOCK, PRACTICE_MODULE, HsmModule, write_practice_conf  # noqa: E402
from vault.hsm import templates  # noqa: E402
from vault.hsm.objects import LIST_ATTRIBUTES, SEARCH_BATCH  # noqa: E402
from vault.secret import Secret  # noqa: E402

LABEL = "bench-list"
SO_PIN, USER_PIN = Secret("bench-so-pin"), Secret("bench-user-pin")
RESULTS = ROOT / "bench" / "results" / "hsm_list.txt"


def prepare(count: int, rebuild: bool) -> HsmModule:
    home = ROOT / "bench" / ".cache" / f"hsm-list-{count}"
    ready = home / "ready"
    if rebuild or not ready.exists():
        shutil.rmtree(home, ignore_errors=True)
    module = HsmModule.load(PRACTICE_MODULE, practice_conf=write_practice_conf(home))
    if ready.exists():
        print(f"using cached token with {count} keys ({home})")
        return module
    print(f"creating {count} AES-256 token objects (cached afterwards in {home}) ...", flush=True)
    start = time.perf_counter()
    module.init_token(LABEL, SO_PIN, USER_PIN)
    with module.open_session(LABEL, USER_PIN) as session:
        # Setup only: straight python-pkcs11 with the vault's template, skipping the per-key
        # label check of generate() (a linear search each: quadratic for 10,000 keys).
        with HSM_LOCK:
            raw = session._session
            for i in range(count):
                label, key_id = f"bench-{i:05d}", i.to_bytes(16, "big")
                raw.generate_key(
                    pkcs11.KeyType.AES, 256, id=key_id, label=label, store=True, capabilities=0,
                    template=templates.secret_key(label, key_id, store=True, backup=True),
                )  # fmt: skip
                if i and i % 1000 == 0:
                    print(f"  {i} ...", flush=True)
    ready.write_text(f"{count}\n")
    print(f"setup took {time.perf_counter() - start:.1f} s")
    return module


def raw_loop(session) -> int:
    n = 0
    with HSM_LOCK:
        for obj in session.get_objects({A.TOKEN: True}, batch_size=SEARCH_BATCH):
            obj.get_attributes(LIST_ATTRIBUTES)
            n += 1
    return n


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="recreate the cached token")
    args = parser.parse_args()

    module = prepare(args.count, args.rebuild)
    with module.open_session(LABEL, USER_PIN) as session:
        vault_times, raw_times = [], []
        for _ in range(args.repeat):
            t, keys = timed(session.list_keys)
            vault_times.append(t)
            t, n = timed(raw_loop, session._session)
            raw_times.append(t)
        assert len(keys) == args.count == n, (len(keys), n)
        assert all(k.fingerprint.startswith("kcv:") for k in keys)
    module.close()

    best_vault, best_raw = min(vault_times), min(raw_times)
    ratio = best_vault / best_raw
    lines = [
        f"hsm list benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"host: {platform.node()} {platform.machine()}, Python {platform.python_version()}, "
        f"python-pkcs11 {pkcs11_version()}, SoftHSM module {PRACTICE_MODULE}",
        f"objects: {args.count} AES-256 token keys, best of {args.repeat}",
        f"list_keys() with fingerprints: {best_vault * 1000:9.1f} ms  ({best_vault / args.count * 1e6:.1f} us/key)",
        f"raw python-pkcs11 loop:        {best_raw * 1000:9.1f} ms  ({best_raw / args.count * 1e6:.1f} us/key)",
        f"ratio: {ratio:.2f}x (target <= 1.3x) {'OK' if ratio <= 1.3 else 'OVER TARGET'}",
        f"all runs (ms): list_keys {[round(t * 1000, 1) for t in vault_times]}, raw {[round(t * 1000, 1) for t in raw_times]}",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".txt.tmp")
    tmp.write_text(text)
    tmp.replace(RESULTS)
    print(f"written to {RESULTS.relative_to(ROOT)}")


def pkcs11_version() -> str:
    from importlib.metadata import version

    return version("python-pkcs11")


if __name__ == "__main__":
    main()
