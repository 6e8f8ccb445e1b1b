"""Start-up time of `custodian --help` and `custodian doctor`, next to `python -c pass`.

Each command runs N times in a fresh interpreter, in the same run, on the same machine, the
commands taking turns; the table shows the median and the best wall time and the ratio of the
medians to the bare interpreter's. Every command includes the process hardening of
vault.process (core dumps and ptrace off), which each front end applies first. `doctor`
runs on a practice home created once before timing (its first run creates the home).

    .venv/bin/python bench/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CUSTODIAN = str(Path(sys.executable).with_name("custodian"))


def timed(cases: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Round-robin: run i of every command before run i + 1 of any, so that a change in the
    machine's load (it is shared) falls on all of them alike and the ratios stay fair."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, cmd in cases.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            out[name].append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    home = os.path.join(tempfile.mkdtemp(prefix="bench-"), "home")
    env = dict(os.environ, CUSTODIAN_HOME=home)
    subprocess.run([CUSTODIAN, "home", "init"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "custodian --help": [CUSTODIAN, "--help"],
        "custodian doctor": [CUSTODIAN, "doctor"],
        "custodian keys list": [CUSTODIAN, "keys", "list"],
    }
    rows = []
    base = None
    for name, times in timed(cases, args.runs, env).items():
        med = statistics.median(times)
        base = base or med
        rows.append(f"{name:<22} median {med * 1000:7.1f} ms  best {min(times) * 1000:7.1f} ms  x{med / base:5.1f}")
    load = os.getloadavg()[0]
    text = "\n".join([f"start-up, {args.runs} runs each, taking turns ({time.strftime('%Y-%m-%d %H:%M')}, "
                      f"load average {load:.1f} on {os.cpu_count()} CPUs)", *rows]) + "\n"
    print(text, end="")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "startup.txt").write_text(text)


if __name__ == "__main__":
    main()
