"""Study, 2026-11-23: where does lifecycle marketing beat the KPI chase, and where not?

Runs the two shipped businesses (the default online shop and the one-off launch) with
20 replications each and common random numbers, and writes each comparison's run folder
(tables, plots, report.html) under runs/. A thin script: all the logic is in lifesim.

    python experiments/2026-11-23_stage_vs_kpi.py [--replications 20] [--jobs 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lifesim.experiments import compare
from lifesim.report import save_compare_run

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {"shop": None, "launch": ROOT / "configs" / "launch_one_off.yaml"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=-1)
    ap.add_argument("--seed", type=int, default=20261123)
    args = ap.parse_args()
    for name, config in STUDIES.items():
        res = compare(config, replications=args.replications, jobs=args.jobs, seed=args.seed)
        out = save_compare_run(res, ROOT / "runs" / f"study-2026-11-23-{name}")
        print(f"{name}: {res.verdict_text()}  ->  {out / 'report.html'}")


if __name__ == "__main__":
    main()
