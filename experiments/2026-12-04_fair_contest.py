"""Study, 2026-12-04: which objective wins, with equal execution? (issue 10)

For each shipped scenario, runs the 2 x 2 of objective (the scenario's ``kpi_focused`` and
``stage_focused`` objectives) x execution (``naive`` / ``careful``) with common random numbers
(:func:`lifesim.experiments.decompose`), writes each run folder under ``runs/fair-<name>``
and prints the table in README.md's "Which objective wins, with equal execution": the
objective effect (lifecycle - kpi) under naive and under careful execution, the execution
effect and the interaction on profit, each with its paired 95% CI.

The scenarios are run as shipped (no value tuned). Every tactic effect in the catalogue is
illustrative (see each tactic's ``source``), so the verdicts hold for those numbers only.

Same figures as, per scenario (N = 10000, R = 10, each scenario's own seed)::

    lifesim compare configs/<name>.yaml --decompose --customers 10000 -r 10 --jobs 2 \\
        --no-progress --format json --out runs/fair-<name>
    lifesim compare configs/<name>.yaml --customers 10000 -r 10 --jobs 2 --no-progress

Usage::

    python experiments/2026-12-04_fair_contest.py [--customers 10000] [--replications 10]
        [--jobs 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lifesim.experiments import decompose

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("default", "ecommerce", "subscription", "b2b", "launch_one_off")
ROWS = {
    "objective, naive execution": "lifecycle - kpi, naive execution",
    "objective, careful execution": "lifecycle - kpi, careful execution",
    "objective (mean of both)": "objective (lifecycle - kpi)",
    "execution (careful - naive)": "execution (careful - naive)",
    "interaction": "interaction",
}


def _cell(r) -> str:
    return f"{r.estimate:+,.0f} [{r.ci_low:+,.0f}, {r.ci_high:+,.0f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    for name in SCENARIOS:
        res = decompose(
            ROOT / "configs" / f"{name}.yaml",
            customers=args.customers,
            replications=args.replications,
            jobs=args.jobs,
        )
        res.save(ROOT / "runs" / f"fair-{name}-study", overwrite=True)
        eff = res.effects.set_index("effect")
        print(
            f"\n{name} (profit, {res.comparison.replications} replications, seed "
            f"{res.comparison.seed}): effect [95% CI]"
        )
        for label, key in ROWS.items():
            print(f"  {label:<30}{_cell(eff.loc[key])}")


if __name__ == "__main__":
    main()
