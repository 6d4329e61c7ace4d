"""Benchmark: churn features, one fit and its evaluation for 1M customers / ~10M transactions.

Run: ``python benchmarks/bench_churn.py [--customers 1000000] [--seed 0]``. Floor: < 60 s.

The log is synthetic (generated with NumPy in a few seconds): each customer has a buying
rate, a first-purchase day and an exponential lifetime; purchases are Poisson over the
customer's active span, so churn after the cutoff is learnable from recency/frequency.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from lifesim import churn


def synthetic_log(n_customers: int, seed: int, days: int = 730, per_customer: float = 7.5):
    """About ``per_customer * n_customers`` purchases over ``days`` days (vectorised)."""
    rng = np.random.default_rng(seed)
    birth = rng.integers(0, days // 2, n_customers)
    life = rng.exponential(365, n_customers)
    end = np.minimum(birth + life, days).astype(np.int64)
    span = np.maximum(end - birth, 1)
    rate = rng.gamma(1.2, 1.0, n_customers) * per_customer / span.mean()
    n = rng.poisson(rate * span) + 1
    cust = np.repeat(np.arange(n_customers, dtype=np.int64), n)
    day = birth[cust] + (rng.random(len(cust)) * span[cust]).astype(np.int64)
    amount = np.round(rng.gamma(2.0, 25.0, len(cust)), 2)
    return pd.DataFrame({"customer_id": cust, "day": np.minimum(day, days - 1), "amount": amount})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--floor", type=float, default=60.0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    df = synthetic_log(args.customers, args.seed)
    t_gen = time.perf_counter() - t0
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print(f"generated {len(df):,} transactions of {args.customers:,} customers in {t_gen:.1f} s")

    marks = {}
    start = time.perf_counter()
    log = churn.prepare(df, observed_until=729)
    marks["prepare (validate, normalise)"] = time.perf_counter() - start
    t = time.perf_counter()
    data = churn.build_dataset(log, cutoff=545, horizon_days=180)
    marks["features + labels"] = time.perf_counter() - t
    rng = np.random.default_rng(args.seed)
    test = rng.random(data.n_customers) < 0.2
    t = time.perf_counter()
    model = churn.ChurnModel(random_state=args.seed).fit(data.X[~test], data.y[~test])
    marks["fit (calibrated boosting)"] = time.perf_counter() - t
    t = time.perf_counter()
    p = model.predict_proba(data.X[test])[:, 1]
    base = churn.RecencyBaseline().fit(data.X[~test], data.y[~test])
    m = churn.Metrics.from_predictions(data.y[test], p)
    b = churn.Metrics.from_predictions(data.y[test], base.predict_churn(data.X[test]))
    cal = churn.calibration_table(data.y[test], p)
    marks["predict + evaluation"] = time.perf_counter() - t
    total = time.perf_counter() - start

    print(data.definition.describe())
    print(
        f"{data.n_customers:,} customers at risk x {data.X.shape[1]} features; "
        f"train {int((~test).sum()):,} / test {int(test.sum()):,}; boosting rounds "
        f"{model.n_iter_}"
    )
    for k, v in marks.items():
        print(f"  {k:<32}{v:>7.1f} s")
    label = f"total (floor < {args.floor:.0f} s)"
    print(f"  {label:<32}{total:>7.1f} s")
    print(
        f"test ROC-AUC {m.roc_auc:.4f} (baseline recency {b.roc_auc:.4f}), PR-AUC {m.pr_auc:.4f}, "
        f"Brier {m.brier:.4f}, log loss {m.log_loss:.4f}, top-decile lift "
        f"{m.top_decile_lift:.2f}, churn rate {m.churn_rate:.3f}"
    )
    print(
        "calibration max |predicted - observed| over deciles: "
        f"{(cal['mean_predicted'] - cal['observed_rate']).abs().max():.4f}"
    )
    print("PASS" if total < args.floor else "FAIL", f"({total:.1f} s vs floor {args.floor:.0f} s)")


if __name__ == "__main__":
    main()
