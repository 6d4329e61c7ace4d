"""Run analyst commands many times as real processes and count exit codes (issue 14: no abort
at exit, e.g. 134 'terminate called without an active exception').

    python benchmarks/stress_exit_codes.py --runs 200 --jobs 2

Prints, per command, how many runs ended with each exit status, and the wall time.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd


def _data(folder: Path) -> dict[str, list[str]]:
    rng = np.random.default_rng(1)
    n = 2000
    x = rng.normal(size=n)
    snap = folder / "snap.csv"
    pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "x": x,
            "churn": (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int),
        }
    ).to_csv(snap, index=False)
    ab = folder / "ab.csv"
    pd.DataFrame(
        {"arm": rng.choice(["a", "b"], n), "y": rng.integers(0, 2, n), "v": rng.gamma(2, 3, n)}
    ).to_csv(ab, index=False)
    return {
        "ab analyze": [
            "ab",
            "analyze",
            str(ab),
            "--arm",
            "arm",
            "--control",
            "a",
            "--proportion",
            "y",
            "--mean",
            "v",
            "--format",
            "json",
        ],
        "churn evaluate": [
            "churn",
            "evaluate",
            str(snap),
            "--label",
            "churn",
            "--id",
            "id",
            "--format",
            "json",
            "--no-progress",
        ],
    }


def _one(args: list[str]) -> int:
    cmd = [sys.executable, "-c", "from lifesim.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, timeout=600).returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--only", default=None, help="run one command: 'ab analyze' or 'churn evaluate'"
    )
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmds = _data(Path(tmp))
        for name, args in cmds.items():
            if a.only and name != a.only:
                continue
            t0 = time.perf_counter()
            with ThreadPoolExecutor(a.jobs) as ex:
                codes = list(ex.map(_one, [args] * a.runs))
            counts = collections.Counter(codes)
            print(
                f"{name}: {a.runs} runs, exit codes {dict(sorted(counts.items()))}, "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
