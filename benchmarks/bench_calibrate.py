"""Benchmark of ``lifesim calibrate`` (issue 9's floors: each under 60 s on this machine).

1. Calibrate 1M customers / ~10M transactions (a synthetic Pareto/NBD log made here with
   NumPy): reading the DataFrame, the per-customer summary, the Pareto/NBD and BG/NBD fits,
   the scenario and 200 draws (no holdout).
2. A 39-week holdout forecast of CDNOW's 23,570 customers x 50 parameter draws (the
   simulator from each draw's cutoff state), beside the BG/NBD closed form; needs the
   ``lifetimes`` package for its copy of CDNOW (``pip install -e ".[test]"``).

Prints each step's wall time. Usage::

    python benchmarks/bench_calibrate.py [--customers 1000000] [--skip-cdnow]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_log(n: int, seed: int = 1) -> pd.DataFrame:
    """A Pareto/NBD log: first purchases over a year, then ~9 repeat days per customer."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 365, n)
    lam = rng.gamma(2.0, 0.02, n)  # ~0.04 purchases a day
    life = rng.exponential(1.0, n) / rng.gamma(2.0, 0.002, n)
    span = np.minimum(life, 730 - first)
    k = rng.poisson(lam * span)
    cust = np.repeat(np.arange(n), k + 1)
    offs = np.zeros(len(cust))
    rep = np.ones(len(cust), bool)
    starts = np.cumsum(k + 1) - (k + 1)
    rep[starts] = False
    offs[rep] = rng.random(rep.sum()) * np.repeat(span, k)
    day = first[cust] + offs.astype(np.int64)
    amount = rng.lognormal(3.3, 0.7, len(cust))
    return pd.DataFrame({"customer_id": cust, "day": day, "amount": amount})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--skip-cdnow", action="store_true")
    args = ap.parse_args()
    from lifesim.experiments.calibration import calibrate

    t = time.perf_counter()
    log = synthetic_log(args.customers)
    print(
        f"synthetic log: {args.customers:,} customers, {len(log):,} transactions "
        f"({time.perf_counter() - t:.1f} s to make)"
    )
    t = time.perf_counter()
    res = calibrate(log, cutoff=729, draws=200, forecast_draws=10)
    took = time.perf_counter() - t
    print(f"calibrate (fit, scenario, 200 draws): {took:.1f} s  (floor: < 60 s)")
    print(f"  Pareto/NBD: {res.fit.params}")
    if args.skip_cdnow:
        return
    spec = importlib.util.find_spec("lifetimes")
    if spec is None:
        print("CDNOW: the lifetimes package is not installed; skipped")
        return
    cdnow = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "CDNOW_master.txt"
    t = time.perf_counter()
    calibrate(cdnow, cutoff="1997-09-30", draws=50, forecast_draws=10)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    res = calibrate(
        cdnow, cutoff="1997-09-30", holdout_end="1998-06-30", draws=50, forecast_draws=50
    )
    both = time.perf_counter() - t
    print(
        f"CDNOW 23,570 customers: fit {fit_s:.1f} s; with the 39-week holdout forecast "
        f"(50 draws, and BG/NBD): {both:.1f} s, so the forecast took {both - fit_s:.1f} s "
        "(floor: < 60 s)"
    )
    for name, chk in (("lifesim", res.holdout), ("BG/NBD", res.baseline)):
        sc = chk.scores(res.holdout_actual)
        print(
            f"  {name}: total {chk.total['predicted']:,.0f} vs {chk.total['actual']:,.0f} "
            f"({chk.total['error_pct']:+.1f}%), weekly cumulative MAPE "
            f"{sc['weekly_mape_pct']:.2f}%"
        )


if __name__ == "__main__":
    main()
