"""Start-up time of `custodian --help` and `custodian doctor`, next to `python -c pass`.

Each command runs N times in a fresh interpreter, in the same run, on the same machine; the
table shows the median and the best wall time and the ratio to the bare interpreter. `doctor`
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


def timed(cmd: list[str], runs: int, env: dict[str, str]) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - t0)
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
    for name, cmd in cases.items():
        times = timed(cmd, args.runs, env)
        med = statistics.median(times)
        base = base or med
        rows.append(f"{name:<22} median {med * 1000:7.1f} ms  best {min(times) * 1000:7.1f} ms  x{med / base:5.1f}")
    text = "\n".join([f"start-up, {args.runs} runs each ({time.strftime('%Y-%m-%d %H:%M')})", *rows]) + "\n"
    print(text, end="")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "startup.txt").write_text(text)


if __name__ == "__main__":
    main()
