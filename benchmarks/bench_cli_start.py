"""How fast the CLI starts: wall time of `lifesim --help` and each subcommand's `--help`
(best of 5 runs each, as real processes), beside `python -c pass` for scale.

    python benchmarks/bench_cli_start.py
"""

from __future__ import annotations

import subprocess
import sys
import time

COMMANDS = [
    [],
    ["simulate"],
    ["validate"],
    ["compare"],
    ["ab", "analyze"],
    ["ab", "power"],
    ["churn", "evaluate"],
    ["churn", "train"],
    ["churn", "score"],
    ["experiment", "run"],
    ["experiment", "audit"],
]


def best_of(cmd: list[str], k: int = 5) -> float:
    times = []
    for _ in range(k):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    base = best_of([sys.executable, "-c", "pass"])
    print(f"{'python -c pass':<34}{base:7.3f} s")
    for c in COMMANDS:
        cmd = [sys.executable, "-c", "from lifesim.cli import main; main()", *c, "--help"]
        t = best_of(cmd)
        print(f"{'lifesim ' + ' '.join([*c, '--help']):<34}{t:7.3f} s")


if __name__ == "__main__":
    main()
