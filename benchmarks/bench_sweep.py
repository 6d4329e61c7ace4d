"""Benchmark of ``lifesim sweep`` (issue 11's floors), all figures from one run.

Issue 11's sweep: 100 points x 3 strategies x 5 replications x 20k people x 365 days (hours on
two cores; ``--points``, ``--customers``, ``--days`` and ``--replications`` scale it down,
with the same proportions between the measurements). Prints:

1. the sweep's wall time with 1 worker, beside the bare runs (``simulate`` + ``run_metrics``
   of the same points, strategies and seeds in a plain loop): the machinery's overhead
   (floor: under 10%);
2. the speed-up of 2 local workers over 1 (floor: 1.7x);
3. the speed-up of a 2-worker Dask ``LocalCluster`` over 1 worker (needs dask.distributed).

The machine is shared, so each figure is a ratio of runs made in this one script.

Usage::

    python benchmarks/bench_sweep.py [--points 100] [--customers 20000] [--days 365]
        [--replications 5]
"""

from __future__ import annotations

import argparse
import time

from lifesim._random import spawn_seeds
from lifesim.config import default_scenario, override, resolve
from lifesim.engine import simulate
from lifesim.metrics import run_metrics

STRATEGIES = ["none", "kpi_focused", "stage_focused"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--replications", type=int, default=5)
    args = ap.parse_args()
    from lifesim.experiments.sweep import sweep

    vary = [f"budget.per_period=2000:20000:{args.points}"]
    kw = {
        "strategies": STRATEGIES,
        "replications": args.replications,
        "customers": args.customers,
        "days": args.days,
        "seed": 1,
    }
    runs = args.points * len(STRATEGIES) * args.replications
    print(
        f"{args.points} points x {len(STRATEGIES)} strategies x {args.replications} "
        f"replications x {args.customers:,} people x {args.days} days = {runs} runs"
    )

    t = time.perf_counter()
    base = default_scenario()
    seeds = spawn_seeds(base.seed, args.replications)
    from lifesim.config import parse_range

    for v in parse_range(vary[0]).grid():
        scn = resolve(override(base, {"budget.per_period": v}), args.customers, args.days)
        for r in range(args.replications):
            for s in STRATEGIES:
                run_metrics(simulate(scn, seed=seeds[r], strategy=s, record_events=False))
    bare = time.perf_counter() - t
    t = time.perf_counter()
    sweep(None, vary, jobs=1, **kw)
    one = time.perf_counter() - t
    print(
        f"bare runs: {bare:.1f} s; sweep, 1 worker: {one:.1f} s; overhead "
        f"{(one / bare - 1) * 100:+.1f}% (floor: < 10%)"
    )
    t = time.perf_counter()
    sweep(None, vary, jobs=2, **kw)
    two = time.perf_counter() - t
    print(f"sweep, 2 local workers: {two:.1f} s; speed-up {one / two:.2f}x (floor: 1.7x)")
    try:
        from dask.distributed import LocalCluster

        from lifesim.experiments.cluster import on_cluster
    except ImportError:
        print("dask.distributed is not installed: the cluster figure is skipped")
        return
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl:
        t = time.perf_counter()
        with on_cluster(cl.scheduler_address):
            sweep(None, vary, jobs=-1, **kw)
        dask_s = time.perf_counter() - t
    print(
        f"sweep, 2-worker Dask LocalCluster: {dask_s:.1f} s; speed-up {one / dask_s:.2f}x "
        "over 1 worker"
    )


if __name__ == "__main__":
    main()
