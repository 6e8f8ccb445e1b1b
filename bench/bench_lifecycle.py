"""Benchmark: the full key lifecycle replayed from the example scripts, and where its time goes.

    .venv/bin/python bench/bench_lifecycle.py [--repeat R] [--kdf practice|default|fast-for-tests] [--rsa]

The lifecycle of tests/ceremony/test_lifecycle.py, from ceremonies/examples/ scripts on a fresh
practice home (real SoftHSM token, real SQLite file) each round:

    init 3-of-5 → generate AES-256, EC P-384 and EC P-256 (in place of RSA-3072) → backup →
    restore onto a second fresh token → drill → rotate → reshare to 2-of-3 → destroy

RSA generation is put aside: its time varies 4x from key to key on SoftHSM (platform facts),
so the third key is EC P-256 here; ``--rsa`` times an RSA-3072 generate-key ceremony separately.
The capability probe (it generates an RSA-3072 test key) is cached per process: one unmeasured
warm-up lifecycle fills the cache, and the probe is timed on its own.

Reported: wall time per ceremony and in total (best and median of R rounds), and the split of
one profiled round (cProfile) into HSM (python-pkcs11 and the ctypes calls into the PKCS#11
module, with vault/hsm's own code around them: Cython calls are invisible to cProfile, so their
time shows as the self time of their Python callers), SQLite, KDF (Argon2id of the custodians'
passphrases at enrollment and at every attestation, HKDF), SLIP-39 (shamir-mnemonic, its PBKDF2
included) and the rest (the engine, TOML parsing of definitions and scripts, the bundle format,
files, Python). Self time of a C function is attributed by its name, else to the package of its
caller. Percentages are of the profiled round; the profiler inflates pure-Python time, so read
the split as proportions.

Results go to bench/results/lifecycle.txt. The custodians' KDF is the home's practice profile
(Argon2id 19 MiB, 2 passes) unless ``--kdf`` says otherwise.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the tests' practice workspace (copies ceremonies/examples)

from support.ceremony_workspace import Workspace  # noqa: E402

OLD = [{"share": f"file:shares/{n}.share"} for n in ("alice", "bob", "carol")]
NEW = [{"share": f"file:new-shares/{n}.share"} for n in ("alice", "bob")]
KEYS = (("root-aes", "aes-256"), ("root-ec384", "ec-p384"), ("root-ec256", "ec-p256"))


class _Env:
    """What Workspace needs of pytest's monkeypatch: setenv."""

    def setenv(self, name: str, value: str) -> None:
        import os

        os.environ[name] = value


def lifecycle(ws: Workspace, kdf: str) -> list[tuple[str, float]]:
    timings: list[tuple[str, float]] = []

    def run(label: str, name: str, script=None) -> None:
        t0 = time.perf_counter()
        ws.run_ok(name, script, kdf_profile=kdf)
        timings.append((label, time.perf_counter() - t0))

    run("init 3-of-5", "init")
    for label, algorithm in KEYS:
        run(f"generate-key {algorithm}", "generate-key", ws.variant(
            "generate-key", answers={"generate.label": label, "generate.algorithm": algorithm,
                                     "backup.path": f"media/generated-{label}.ccb"}))
    run("backup", "backup")
    ws.lose_token()  # the HSM is replaced (not timed: a test-side move of its token directory)
    run("restore (fresh token)", "restore",
        ws.variant("restore", answers={"quorum.share": OLD, "verify.bundle": "media/backup-1.ccb"}))
    run("drill", "drill")
    run("rotate", "rotate", ws.variant("rotate", answers={"rotate.key": "root-ec384",
                                                          "backup.path": "media/after-rotate.ccb"}))
    run("reshare 2-of-3", "reshare", ws.variant("reshare", verify="full"))
    run("destroy", "destroy", ws.variant("destroy", answers={"quorum.share": NEW, "destroy.key": "root-ec384",
                                                             "destroy.confirm-label": "root-ec384"}))
    return timings


def fresh_workspace(base: Path, n: int) -> Workspace:
    return Workspace(base / f"round-{n}", _Env())


# --- the profile split -------------------------------------------------------------------------------------
CATEGORIES = ("HSM", "SQLite", "KDF", "SLIP-39", "other")


def _category_of_file(filename: str) -> str | None:
    f = filename.replace("\\", "/")
    # python-pkcs11's Cython calls do not appear in cProfile: their time is the self time of the
    # Python function calling them (vault/hsm, pkcs11/types.py), so both count as HSM.
    if "/pkcs11/" in f or "/vault/hsm/" in f:
        return "HSM"
    if "/sqlite3/" in f or "/sqlite_utils/" in f:
        return "SQLite"
    if "/shamir_mnemonic/" in f:
        return "SLIP-39"
    return None


def _category_of_builtin(name: str) -> str | None:
    n = name.lower()
    if "pkcs11" in n or "_ctypes" in n or "cfuncptr" in n:
        return "HSM"
    if "sqlite3" in n:
        return "SQLite"
    if "argon2" in n or "hkdf" in n or "derive" in n and "kdf" in n:
        return "KDF"
    if "pbkdf2" in n:
        return "SLIP-39"
    return None


def split(profile: pstats.Stats) -> dict[str, float]:
    stats = profile.stats  # type: ignore[attr-defined]
    totals = dict.fromkeys(CATEGORIES, 0.0)

    def category(func) -> str:
        filename, _line, name = func
        if filename == "~":
            return _category_of_builtin(name) or ""
        cat = _category_of_file(filename)
        if cat:
            return cat
        if "/cryptography/" in filename and "kdf" in filename:
            return "KDF"
        return ""

    for func, (_cc, _nc, tt, _ct, callers) in stats.items():
        cat = category(func)
        if cat:
            totals[cat] += tt
            continue
        if func[0] == "~" and callers:  # a C function: to its callers' categories, by their share
            total_caller_tt = sum(c[2] for c in callers.values()) or 1.0
            for caller, (_c1, _c2, ctt, _cct) in callers.items():
                ccat = category(caller) or "other"
                totals[ccat] += tt * (ctt / total_caller_tt)
            continue
        totals["other"] += tt
    return totals


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kdf", default="practice", choices=("default", "practice", "fast-for-tests"))
    ap.add_argument("--rsa", action="store_true", help="also time an RSA-3072 generate-key ceremony")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "lifecycle.txt"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-lifecycle-") as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        lifecycle(fresh_workspace(base, 0), args.kdf)  # warm-up: imports, library load, the probe cache
        warm = time.perf_counter() - t0

        # the capability probe on its own (cached afterwards; generates an RSA-3072 test key)
        ws_probe = fresh_workspace(base, 99)
        ws_probe.run_ok("init", kdf_profile="fast-for-tests")
        from vault.shares import derive_user_pin
        from vault.secret import Secret

        with ws_probe.vault() as v, derive_user_pin(Secret(ws_probe.quorum_secret())) as pin:
            with v.hsm().open_session(v.token, pin) as session:
                t1 = time.perf_counter()
                session.probe(session.wrap_mechanism, refresh=True)
                probe = time.perf_counter() - t1

        rounds = []
        for n in range(1, args.repeat + 1):
            ws = fresh_workspace(base, n)
            t1 = time.perf_counter()
            timings = lifecycle(ws, args.kdf)
            rounds.append((time.perf_counter() - t1, timings))

        profiler = cProfile.Profile()
        ws = fresh_workspace(base, 100)
        profiler.enable()
        t1 = time.perf_counter()
        lifecycle(ws, args.kdf)
        profiled_wall = time.perf_counter() - t1
        profiler.disable()
        parts = split(pstats.Stats(profiler))

        rsa = None
        if args.rsa:
            ws = fresh_workspace(base, 200)
            ws.run_ok("init", kdf_profile=args.kdf)
            rsa = []
            for i in range(3):
                script = ws.variant("generate-key", answers={"generate.label": f"rsa-{i}",
                                                             "generate.algorithm": "rsa-3072",
                                                             "backup.path": f"media/rsa-{i}.ccb"})
                t1 = time.perf_counter()
                ws.run_ok("generate-key", script, kdf_profile=args.kdf)
                rsa.append(time.perf_counter() - t1)

    names = [label for label, _ in rounds[0][1]]
    per = {label: [dict(r[1])[label] for r in rounds] for label in names}
    walls = [r[0] for r in rounds]
    lines = [
        f"lifecycle benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"host: {platform.machine()}, Python {platform.python_version()}, SoftHSM 2.6.1 file backend; "
        f"custodian KDF profile: {args.kdf}; {args.repeat} rounds after one warm-up round ({warm:.2f} s)",
        "lifecycle: init 3-of-5 -> generate aes-256, ec-p384, ec-p256 (RSA-3072 aside) -> backup -> restore onto a "
        "fresh token -> drill -> rotate -> reshare 2-of-3 -> destroy",
        "",
        f"{'ceremony':<26}{'best s':>9}{'median s':>10}",
    ]
    for label in names:
        lines.append(f"{label:<26}{min(per[label]):>9.3f}{statistics.median(per[label]):>10.3f}")
    lines += [f"{'TOTAL (wall)':<26}{min(walls):>9.3f}{statistics.median(walls):>10.3f}", ""]
    total = sum(parts.values()) or 1.0
    lines.append(f"where it goes (one profiled round: {profiled_wall:.2f} s under cProfile, "
                 f"{total:.2f} s of profiled self time):")
    for cat in CATEGORIES:
        lines.append(f"  {cat:<8}{parts[cat]:>8.3f} s  {100 * parts[cat] / total:5.1f} %")
    lines += ["", f"capability probe (once per process, cached; includes an RSA-3072 test keygen): {probe:.3f} s"]
    if rsa:
        lines.append("generate-key rsa-3072 ceremony (3 runs, s): " + ", ".join(f"{x:.3f}" for x in rsa)
                     + f"  (median {statistics.median(rsa):.3f})")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
