"""Benchmark `lifesim.ab.analyze` against tea-tasting on the same 10M-unit experiment.

Three analyses (conversion proportion; revenue mean with a pre-period CUPED covariate; clicks per
session ratio with the delta method), each on pandas and polars input, best of ``--repeat``
runs. Also checks that both libraries report the same effects.

    python benchmarks/bench_ab.py            # 10M units
    python benchmarks/bench_ab.py --n 1e6    # quicker
    python benchmarks/bench_ab.py --sequential-only   # only the sequential path (no tea-tasting)

The sequential path (issue 12): the same data with a day column (30 days), analysed at every
day with always-valid confidence sequences (and with a 5-look group-sequential design), timed
beside one fixed-horizon analysis of the same data; the floor is under 3x.

tea-tasting and polars are in the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from lifesim import ab


def make_data(n: int, seed: int = 2024) -> pd.DataFrame:
    """A realistic export: 50/50 split, conversion, revenue with pre-period, clicks/sessions."""
    rng = np.random.default_rng(seed)
    treat = rng.random(n) < 0.5
    pre = rng.gamma(0.6, 40.0, n)
    sessions = rng.poisson(3.0, n)
    return pd.DataFrame(
        {
            "variant": np.where(treat, "treatment", "control"),
            "converted": (rng.random(n) < np.where(treat, 0.105, 0.10)).astype(np.int64),
            "revenue": np.maximum(0.7 * pre + rng.normal(0, 8, n) + treat * 0.3, 0.0),
            "pre_revenue": pre,
            "sessions": sessions,
            "clicks": rng.binomial(sessions, np.where(treat, 0.31, 0.30)),
            "day": rng.integers(1, 31, n),
        }
    )


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Best wall time of ``repeat`` calls, and the last result."""
    best, out = math.inf, None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


LIFESIM = {
    "proportion": [ab.Proportion("converted")],
    "mean + CUPED": [ab.Mean("revenue", covariate="pre_revenue")],
    "ratio": [ab.Ratio("clicks", "sessions")],
}
LIFESIM["all three"] = [m for ms in LIFESIM.values() for m in ms]


def tea_experiments():
    """The same analyses in tea-tasting (pooled z-test without continuity correction)."""
    import tea_tasting as tt

    metrics = {
        "proportion": {
            "converted": tt.Proportion("converted", method="norm", correction=False, equal_var=True)
        },
        "mean + CUPED": {"revenue": tt.Mean("revenue", covariate="pre_revenue")},
        "ratio": {"ctr": tt.RatioOfMeans(numer="clicks", denom="sessions")},
    }
    metrics["all three"] = {k: v for ms in metrics.values() for k, v in ms.items()}
    return {name: tt.Experiment(ms, variant="variant") for name, ms in metrics.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=10_000_000, help="units (default 10M)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument(
        "--sequential-only", action="store_true", help="only time the sequential path"
    )
    args = parser.parse_args()
    n = int(args.n)

    t = time.perf_counter()
    pdf = make_data(n)
    print(f"generated {n:,} units in {time.perf_counter() - t:.1f} s")
    if args.sequential_only:
        bench_sequential(pdf, args.repeat)
        return
    frames: dict[str, object] = {"pandas": pdf}
    try:
        import polars as pl

        frames["polars"] = pl.from_pandas(pdf)
    except ImportError:
        print("polars not installed: pandas only")
    try:
        teas = tea_experiments()
    except ImportError:
        teas = {}
        print("tea-tasting not installed: lifesim only")

    rows = []
    for kind, frame in frames.items():
        for name, metrics in LIFESIM.items():
            t_ls, res = best_of(
                lambda f=frame, m=metrics: ab.analyze(f, arm="variant", metrics=m), args.repeat
            )
            t_tt = math.nan
            if teas:
                t_tt, tres = best_of(
                    lambda f=frame, e=teas[name]: e.analyze(f, control="control"), args.repeat
                )
                if name != "all three":
                    ours = res.comparisons[0]
                    theirs = next(iter(tres.values()))
                    diff = abs(ours.abs_effect - theirs.effect_size)
                    lo = abs(ours.abs_ci[0] - theirs.effect_size_ci_lower)
                    assert diff < 1e-9 * max(1.0, abs(ours.abs_effect)), (name, diff)
                    assert lo < 1e-6 * max(1.0, abs(ours.abs_ci[0])), (name, lo)
            rows.append((kind, name, t_ls, t_tt))
            print(
                f"{kind:7s} {name:13s} lifesim {t_ls:7.3f} s   tea-tasting {t_tt:7.3f} s   "
                f"tea/lifesim {t_tt / t_ls:5.2f}x",
                flush=True,
            )
    table = pd.DataFrame(rows, columns=["input", "analysis", "lifesim_s", "tea_tasting_s"])
    table["speedup"] = table.tea_tasting_s / table.lifesim_s
    print()
    print(f"{n:,} units, best of {args.repeat}; speedup = tea-tasting time / lifesim time")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print()
    bench_sequential(pdf, args.repeat)


def bench_sequential(pdf: pd.DataFrame, repeat: int) -> None:
    """Time 30 daily looks (and 5 group-sequential looks) beside one fixed-horizon analysis."""
    rows = []
    for name, metrics in LIFESIM.items():
        t_fixed, fixed = best_of(
            lambda m=metrics: ab.analyze(pdf, arm="variant", metrics=m), repeat
        )
        t_seq, seq = best_of(
            lambda m=metrics: ab.sequential(pdf, arm="variant", metrics=m, time_col="day"), repeat
        )
        t_gsd, _ = best_of(
            lambda m=metrics: ab.sequential(
                pdf, arm="variant", metrics=m, time_col="day", design="group-sequential"
            ),
            repeat,
        )
        last = seq.looks[len(seq.look_days) - 1]
        ref = fixed.comparisons[0]
        assert len(seq.look_days) == 30
        assert abs(last.abs_effect - ref.abs_effect) <= 1e-9 * max(1.0, abs(ref.abs_effect))
        rows.append((name, t_fixed, t_seq, t_gsd))
        print(
            f"sequential {name:13s} fixed {t_fixed:6.3f} s   30 looks {t_seq:6.3f} s "
            f"({t_seq / t_fixed:4.2f}x)   group-sequential 5 looks {t_gsd:6.3f} s "
            f"({t_gsd / t_fixed:4.2f}x)",
            flush=True,
        )
    table = pd.DataFrame(rows, columns=["analysis", "fixed_s", "sequential_30_s", "gsd_5_s"])
    table["ratio"] = table.sequential_30_s / table.fixed_s
    print(f"{len(pdf):,} units, best of {repeat}; floor: ratio under 3")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
