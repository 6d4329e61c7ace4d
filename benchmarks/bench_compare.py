"""Time `lifesim compare` on the default scenario: 3 strategies x 20 replications x 100k people.

Floor (issue 3): under 3 minutes on this 2-core machine. Prints the wall time, runs per
second, the time of one run per strategy (serial, for the ratio of marketing overhead to the
no-marketing engine) and the speed-up of 2 workers over 1 on a smaller job.

    python benchmarks/bench_compare.py            # the full benchmark
    python benchmarks/bench_compare.py --quick    # 10k people, 4 replications
"""

from __future__ import annotations

import argparse
import os
import time

import lifesim
from lifesim.experiments import compare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    n, reps = (10_000, 4) if args.quick else (100_000, 20)
    print(f"lifesim {lifesim.__version__}, {os.cpu_count()} cores, jobs={args.jobs}")

    print(f"\none run of each strategy at {n:,} people x 365 days (serial):")
    base = None
    for s in ("none", "kpi_focused", "stage_focused"):
        t0 = time.perf_counter()
        lifesim.simulate(None, seed=1, customers=n, strategy=s)
        dt = time.perf_counter() - t0
        base = base or dt
        print(
            f"  {s:<15}{dt:7.2f} s   {n * 365 / dt / 1e6:6.1f} M people-days/s   "
            f"{dt / base:4.1f} x none"
        )

    small = dict(customers=max(n // 10, 2000), replications=4, seed=3)
    t1 = time.perf_counter()
    compare(None, jobs=1, **small)
    s1 = time.perf_counter() - t1
    t2 = time.perf_counter()
    compare(None, jobs=2, **small)
    s2 = time.perf_counter() - t2
    print(
        f"\nparallel speed-up on a small job: jobs=1 {s1:.1f} s, jobs=2 {s2:.1f} s "
        f"-> {s1 / s2:.2f}x"
    )

    t0 = time.perf_counter()
    res = compare(None, customers=n, replications=reps, seed=7, jobs=args.jobs)
    wall = time.perf_counter() - t0
    runs = reps * 3
    print(f"\ncompare: 3 strategies x {reps} replications x {n:,} people x 365 days")
    print(f"  wall time {wall:.1f} s  ({runs / wall:.2f} runs/s; floor 180 s, aim 60 s)")
    print(f"  {res.verdict_text()}")


if __name__ == "__main__":
    main()
