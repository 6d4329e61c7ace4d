"""Study, 2026-12-07: does targeting by uplift beat targeting by score? (issue 10)

For each shipped scenario, each objective (the scenario's ``kpi_focused`` and
``stage_focused`` objectives, their tactic mix or plan unchanged) is run with the careful
execution and three targeting rules: ``random``, ``score`` (a CRM score, propensity x
lognormal noise sigma 0.5) and ``uplift`` (the scenario's own uplift model with the same kind
of error, ``uplift_noise`` 0.5; see :mod:`lifesim.engine.uplift`), against no marketing, with
common random numbers. Prints incremental profit per cell and the paired difference uplift -
score, each with its 95% CI (Holm-adjusted p over all pairs of the scenario's seven
strategies, as ``lifesim compare`` prints them).

No value is tuned; every tactic effect in the catalogue is illustrative (see each tactic's
``source``), so the answers hold for those numbers only.

Usage::

    python experiments/2026-12-07_uplift_targeting.py [--customers 10000] [--replications 10]
        [--jobs 2] [--scenarios default,ecommerce]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lifesim.config import load_scenario
from lifesim.config.scenario import Execution, StrategySpec
from lifesim.experiments import compare

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("default", "ecommerce", "subscription", "b2b", "launch_one_off")
TARGETING = ("random", "score", "uplift")


def _strategies(scn):
    names = ["none"]
    for obj, base in (("kpi", "kpi_focused"), ("lifecycle", "stage_focused")):
        spec = scn.strategies[base]
        for tg in TARGETING:
            ex = Execution(targeting=tg, min_gap_days=7, broadcasts=True)
            name = f"{obj}_{tg}"
            scn.strategies[name] = spec.model_copy(
                update={"execution": ex, "targeting": None, "min_gap_days": None}
            )
            names.append(name)
    scn.strategies.setdefault("none", StrategySpec(type="none"))
    return names


def _cell(est, lo, hi) -> str:
    return f"{est:+,.0f} [{lo:+,.0f}, {hi:+,.0f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = ap.parse_args()
    for name in args.scenarios.split(","):
        scn = load_scenario(ROOT / "configs" / f"{name}.yaml")
        names = _strategies(scn)
        res = compare(
            scn,
            strategies=names,
            replications=args.replications,
            customers=args.customers,
            jobs=args.jobs,
        )
        inc = res.incremental
        inc = inc[inc.measure == "incremental_profit"].set_index("strategy")
        pw = res.pairwise[res.pairwise.metric == "profit"]
        print(f"\n## {name} (N = {args.customers}, R = {args.replications}, seed {res.seed})")
        print("| objective | random | score | uplift | uplift - score (p Holm) |")
        print("|---|---:|---:|---:|---:|")
        for obj in ("kpi", "lifecycle"):
            cells = [
                _cell(*inc.loc[f"{obj}_{tg}", ["estimate", "ci_low", "ci_high"]])
                for tg in TARGETING
            ]
            a, b = f"{obj}_uplift", f"{obj}_score"
            row = pw[((pw.a == a) & (pw.b == b)) | ((pw.a == b) & (pw.b == a))].iloc[0]
            sign = 1 if row.a == a else -1
            lo, hi = sorted((sign * row.ci_low, sign * row.ci_high))
            diff = _cell(sign * row["diff"], lo, hi) + f" (p={row.p_adjusted:.2g})"
            print(f"| {obj} | " + " | ".join(cells) + f" | {diff} |")


if __name__ == "__main__":
    main()
