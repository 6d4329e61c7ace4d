"""This tree beside another revision: marketing runs timed side by side, and whether they agree.

Each tree runs in its own process (``git archive REV`` into a scratch folder for the other),
interleaved round by round after a warm-up round that compiles, best of ``--rounds``, CPU
seconds: on a shared, noisy machine the ratio between the trees in the same minutes is the
figure to read, not the seconds. Each run's result is hashed (stage counts, purchases, people,
ledger), so the table also says whether a speed change kept the numbers bit for bit.

    python benchmarks/bench_trees.py 815296c
    python benchmarks/bench_trees.py 815296c --sizes 100000 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CODE = r"""
import hashlib, json, sys, time
import lifesim
scn = lifesim.default_scenario()
sizes = json.loads(sys.argv[1])
lifesim.simulate(scn, seed=1, customers=2000, days=30, strategy="stage_focused")  # warm-up
out = {}
for n in sizes:
    for s in (None, "kpi_focused", "stage_focused"):
        t = time.process_time()
        r = lifesim.simulate(scn, seed=1, customers=n, days=365, record_events=False, strategy=s)
        dt = time.process_time() - t
        h = hashlib.sha256()
        for name in ("stage_counts", "purchases", "ledger"):
            h.update(getattr(r, name).to_csv().encode())
        p = r.people
        h.update(p[[c for c in ("stage", "purchases", "revenue") if c in p]].to_csv().encode())
        out[f"{n}:{s}"] = (dt, h.hexdigest()[:16])
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="the other revision (e.g. a commit of the last session)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[2_000, 20_000, 100_000])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        other = Path(scratch) / "tree"
        other.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.rev], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
        trees = {args.rev: other / "src", "this tree": ROOT / "src"}
        best: dict[tuple[str, str], float] = {}
        digest: dict[tuple[str, str], str] = {}
        for r in range(args.rounds + 1):  # round 0 compiles (a fresh archive has no cache)
            for name, src in trees.items():
                env = dict(os.environ, PYTHONPATH=str(src))
                res = subprocess.run(
                    [sys.executable, "-c", CODE, json.dumps(args.sizes)],
                    env=env, capture_output=True, text=True, check=True,
                )  # fmt: skip
                for k, (dt, h) in json.loads(res.stdout).items():
                    digest[name, k] = h
                    if r > 0:
                        best[name, k] = min(best.get((name, k), float("inf")), dt)
    a, b = args.rev, "this tree"
    print(f"default scenario, 365 days, no event log, best of {args.rounds}, CPU seconds")
    print(f"{'people':>9} {'strategy':<14}{a:>12}{b:>12}{'speed-up':>10}{'same numbers':>14}")
    for n in args.sizes:
        for s in (None, "kpi_focused", "stage_focused"):
            k = f"{n}:{s}"
            same = "yes" if digest[a, k] == digest[b, k] else "NO"
            print(
                f"{n:>9,} {s or 'none':<14}{best[a, k]:>12.3f}{best[b, k]:>12.3f}"
                f"{best[a, k] / best[b, k]:>9.2f}x{same:>14}"
            )


if __name__ == "__main__":
    main()
