"""Study, 2026-11-23: would an A/B test of a first-purchase discount tell the truth?

Audits the short-KPI-trap experiment (configs/study_short_kpi_trap.yaml): repeats the
experiment and an A/A version of it, and reports false-positive rate, power, coverage of the
true effect and bias per metric, each with its Monte Carlo error. Thin: the logic is in
lifesim.experiments.insim.

    python experiments/2026-11-23_experiment_audit.py [--repeats 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lifesim.experiments.insim import audit

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=-1)
    ap.add_argument("--customers", type=int, default=5000)
    args = ap.parse_args()
    res = audit(
        ROOT / "configs" / "study_short_kpi_trap.yaml",
        repeats=args.repeats,
        jobs=args.jobs,
        customers=args.customers,
    )
    print(res.summary())


if __name__ == "__main__":
    main()
