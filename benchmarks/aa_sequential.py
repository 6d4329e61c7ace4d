"""A/A experiments watched every day: false-positive rate of each way of looking.

Simulates ``--sims`` A/A experiments (units arriving over ``--days`` days, 50/50 split) and,
for a proportion and a mean, reports the share declared significant by

* the naive fixed-horizon test checked every day (stop at the first p < alpha);
* always-valid confidence sequences checked every day (``lifesim.ab.sequential``);
* group-sequential designs with 5 looks (Lan-DeMets O'Brien-Fleming and Pocock types);
* the fixed-horizon test once, at the end;

each with its Monte Carlo standard error.

    python benchmarks/aa_sequential.py                 # 500 experiments x 30 days
    python benchmarks/aa_sequential.py --sims 2000 --seed 7
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

from lifesim import ab


def experiment(rng: np.random.Generator, n: int, days: int) -> pd.DataFrame:
    """One A/A experiment: conversion 10%, skewed revenue."""
    return pd.DataFrame(
        {
            "arm": np.where(rng.random(n) < 0.5, "b", "control"),
            "day": rng.integers(1, days + 1, n),
            "converted": (rng.random(n) < 0.1).astype(np.int8),
            "revenue": rng.gamma(0.5, 40.0, n),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=500, help="A/A experiments")
    parser.add_argument("--days", type=int, default=30, help="daily looks")
    parser.add_argument("--n", type=int, default=6000, help="units per experiment")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    methods = ["naive daily", "always-valid daily", "GSD obf 5", "GSD pocock 5", "fixed once"]
    hits = {(m, k): 0 for m in ("converted", "mean:revenue") for k in methods}
    t0 = time.perf_counter()
    for _ in range(args.sims):
        df = experiment(rng, args.n, args.days)
        for metric in ("converted", "mean:revenue"):
            res = ab.sequential(df, arm="arm", metrics=metric, time_col="day", alpha=args.alpha)
            ps = [lk.fixed_horizon_p for lk in res.looks]
            hits[metric, "naive daily"] += min(ps) < args.alpha
            hits[metric, "fixed once"] += ps[-1] < args.alpha
            hits[metric, "always-valid daily"] += res.decisions[0].look is not None
            for s in ("obf", "pocock"):
                g = ab.sequential(df, arm="arm", metrics=metric, time_col="day", alpha=args.alpha,
                                  design="group-sequential", looks=5, spending=s)  # fmt: skip
                hits[metric, f"GSD {s} 5"] += g.decisions[0].look is not None
    print(
        f"{args.sims} A/A experiments, {args.n:,} units over {args.days} days, alpha "
        f"{args.alpha:g}, seed {args.seed} ({time.perf_counter() - t0:.0f} s)"
    )
    for metric in ("converted", "mean:revenue"):
        for k in methods:
            r = hits[metric, k] / args.sims
            se = math.sqrt(max(r * (1 - r), 1e-12) / args.sims)
            print(f"  {metric:13s} {k:19s} false-positive rate {100 * r:5.1f}% +- {100 * se:.1f}%")


if __name__ == "__main__":
    main()
