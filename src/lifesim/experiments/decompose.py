"""Objective x execution: where a difference between strategies comes from.

How much comes from what the budget chases, how much from how people are reached, and
their interaction (``lifesim compare --decompose``).

The 2 x 2 design runs each objective (the scenario's ``kpi_focused`` and ``stage_focused``
objectives) with each execution (``naive``: random reach, no caps, no broadcasts; ``careful``:
best score first, a 7-day cap, broadcasts) with common random numbers. Per replication, with
K/L the KPI/lifecycle objective and N/C the naive/careful execution:

- objective effect = ((LN + LC) - (KN + KC)) / 2  (lifecycle minus KPI, averaged over executions)
- execution effect = ((KC + LC) - (KN + LN)) / 2  (careful minus naive, averaged over objectives)
- interaction = (LC - LN) - (KC - KN)  (how much more careful execution helps the lifecycle side)

and objective + execution = LC - KN exactly: the usual "stage_focused vs kpi_focused" gap
(careful lifecycle vs naive KPI) splits into the two main effects. Each effect has a paired-t
confidence interval over replications.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lifesim._io import atomic_dir
from lifesim._progress import ProgressLike
from lifesim._random import SeedLike
from lifesim.config import Scenario, ScenarioLike, load_scenario, resolve, scenario_to_dict
from lifesim.errors import ConfigError
from lifesim.experiments.compare import compare
from lifesim.experiments.result import ComparisonResult
from lifesim.experiments.stats import paired_diff
from lifesim.metrics import METRICS

__all__ = ["decompose", "DecompositionResult", "CELLS"]

#: The four cells: strategy name -> (objective, execution).
CELLS = {
    "kpi_naive": ("kpi", "naive"),
    "kpi_careful": ("kpi", "careful"),
    "lifecycle_naive": ("lifecycle", "naive"),
    "lifecycle_careful": ("lifecycle", "careful"),
}
_EFFECTS = {
    "objective (lifecycle - kpi)": {
        "lifecycle_naive": 0.5,
        "lifecycle_careful": 0.5,
        "kpi_naive": -0.5,
        "kpi_careful": -0.5,
    },
    "execution (careful - naive)": {
        "kpi_careful": 0.5,
        "lifecycle_careful": 0.5,
        "kpi_naive": -0.5,
        "lifecycle_naive": -0.5,
    },
    "interaction": {
        "lifecycle_careful": 1.0,
        "lifecycle_naive": -1.0,
        "kpi_careful": -1.0,
        "kpi_naive": 1.0,
    },
    "lifecycle - kpi, naive execution": {"lifecycle_naive": 1.0, "kpi_naive": -1.0},
    "lifecycle - kpi, careful execution": {"lifecycle_careful": 1.0, "kpi_careful": -1.0},
    "careful lifecycle - naive kpi (total)": {"lifecycle_careful": 1.0, "kpi_naive": -1.0},
}


def _num(v: float) -> str:
    """Format a figure: 1,000 and more to the unit (money), smaller ones to 4 digits (rates)."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.4g}"


@dataclass(frozen=True, eq=False)
class DecompositionResult:
    """The 2 x 2 of objective x execution, with effects and their confidence intervals.

    Attributes
    ----------
    metric : str
        The metric decomposed (default ``profit``).
    cells : pandas.DataFrame
        One row per cell: strategy, objective, execution, mean, ci_low, ci_high.
    effects : pandas.DataFrame
        One row per effect: effect, estimate, ci_low, ci_high, p_value, se.
    comparison : ComparisonResult
        The underlying comparison (every metric of every cell).
    alpha : float
    conventions : tuple of str
    """

    metric: str
    cells: pd.DataFrame
    effects: pd.DataFrame
    comparison: ComparisonResult
    alpha: float
    conventions: tuple[str, ...]

    def to_pandas(self) -> pd.DataFrame:
        """Return the effects table."""
        return self.effects.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return plain data for ``--format json``."""
        return {
            "metric": self.metric,
            "alpha": self.alpha,
            "replications": self.comparison.replications,
            "seed": self.comparison.seed,
            "cells": self.cells.to_dict(orient="records"),
            "effects": self.effects.to_dict(orient="records"),
            "conventions": list(self.conventions),
            "assumptions": self.comparison.assumption_lines(),
        }

    def summary(self) -> str:
        """Return the decomposition as text."""
        lvl = f"{1 - self.alpha:.0%}"
        lines = [
            f"Objective x execution on {self.metric} ({self.comparison.scenario.name}, "
            f"{self.comparison.replications} replications, common random numbers)",
            "",
            f"{'cell':<20}{'mean':>14}  {lvl} CI",
        ]
        for r in self.cells.itertuples():
            lines.append(
                f"{r.strategy:<20}{_num(r.mean):>14}  [{_num(r.ci_low)}, {_num(r.ci_high)}]"
            )
        lines += ["", f"{'effect':<40}{'estimate':>14}  {lvl} CI{'':>22}p"]
        for r in self.effects.itertuples():
            lines.append(
                f"{r.effect:<40}{_num(r.estimate):>14}  [{_num(r.ci_low)}, {_num(r.ci_high)}]"
                f"{'':>4}{r.p_value:.3g}"
            )
        lines += ["", *self.conventions, "", "assumptions:"]
        lines += [f"  - {a}" for a in self.comparison.assumption_lines()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (
            f"<div><p><b>Objective x execution on {html.escape(self.metric)}</b></p>"
            f"{self.cells.to_html(index=False, float_format=_num)}"
            f"{self.effects.to_html(index=False, float_format=_num)}"
            f"<p><small>{'<br>'.join(html.escape(c) for c in self.conventions)}</small></p></div>"
        )

    def save(self, out: str | Path, *, overwrite: bool = False, inputs: Iterable = ()) -> Path:
        """Write a run folder: the comparison's tables plus ``decomposition.*``."""
        out = Path(out)
        with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
            self.comparison.save_tables(tmp)
            self.cells.to_csv(tmp / "cells.csv", index=False)
            self.effects.to_csv(tmp / "decomposition.csv", index=False)
            (tmp / "decomposition.json").write_text(
                json.dumps(_jsonable(self.to_dict()), indent=2), encoding="utf-8"
            )
            (tmp / "decomposition.txt").write_text(self.summary() + "\n", encoding="utf-8")
        return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if hasattr(obj, "item"):
        return _jsonable(obj.item())
    return obj


def cell_specs(scn: Scenario, kpi: str, lifecycle: str) -> dict[str, dict[str, Any]]:
    """Return the four cells' specs: each objective's settings with each execution preset."""
    out: dict[str, dict[str, Any]] = {}
    for name, (objective, execution) in CELLS.items():
        source = kpi if objective == "kpi" else lifecycle
        if source not in scn.strategies:
            raise ConfigError(
                [(objective, f"unknown strategy {source!r}; known: {', '.join(scn.strategies)}")]
            )
        spec = scn.strategies[source]
        want = "kpi_focused" if objective == "kpi" else "stage_focused"
        if spec.type != want:
            raise ConfigError(
                [(objective, f"{source!r} is a {spec.type} strategy; a {want} one is needed")]
            )
        d = {"type": want, "execution": execution}
        if spec.split is not None:
            d["split"] = dict(spec.split)
        if objective == "kpi":
            d["kpi"] = spec.kpi
        elif spec.plan is not None:
            d["plan"] = {s: list(ts) for s, ts in spec.plan.items()}
        out[name] = d
    return out


def decompose(
    scenario: ScenarioLike = None,
    *,
    kpi: str = "kpi_focused",
    lifecycle: str = "stage_focused",
    metric: str = "profit",
    replications: int | None = None,
    seed: SeedLike = None,
    jobs: int = 1,
    customers: int | None = None,
    days: int | None = None,
    alpha: float = 0.05,
    progress: ProgressLike = None,
) -> DecompositionResult:
    """Run the 2 x 2 of objective (KPI / lifecycle) x execution (naive / careful).

    The difference between the cells is split into the objective's part, the execution's
    part and their interaction, each with a paired confidence interval.

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
    kpi, lifecycle : str
        The scenario's strategies whose objectives are used (their executions are replaced
        by the ``naive`` and ``careful`` presets).
    metric : str
        Metric to decompose (see :data:`lifesim.metrics.METRICS`).
    replications, seed, jobs, customers, days, alpha, progress
        As for :func:`lifesim.experiments.compare`.

    Returns
    -------
    DecompositionResult
    """
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    scn = resolve(scn, customers, days)
    if metric not in METRICS:
        raise ConfigError([("metric", f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")])
    d = scenario_to_dict(scn)
    clash = sorted(set(CELLS) & set(d["strategies"]))
    if clash:
        raise ConfigError([(f"strategies.{clash[0]}", "reserved for --decompose cells; rename it")])
    d["strategies"] = {**d["strategies"], **cell_specs(scn, kpi, lifecycle)}
    cell_scn = load_scenario(d)
    res = compare(
        cell_scn,
        strategies=list(CELLS),
        replications=replications,
        seed=seed,
        jobs=jobs,
        baseline="kpi_naive",
        objective=metric,
        alpha=alpha,
        progress=progress,
    )
    wide = res.runs.pivot(index="replication", columns="strategy", values=metric)[list(CELLS)]
    rows = []
    for name, (objective, execution) in CELLS.items():
        pd_ = paired_diff(wide[name].to_numpy(), np.zeros(len(wide)), alpha)
        rows.append(
            {
                "strategy": name,
                "objective": objective,
                "execution": execution,
                "mean": pd_["diff"],
                "ci_low": pd_["ci_low"],
                "ci_high": pd_["ci_high"],
            }
        )
    cells = pd.DataFrame(rows)
    eff = []
    for effect, weights in _EFFECTS.items():
        contrast = sum(w * wide[c].to_numpy() for c, w in weights.items())
        pd_ = paired_diff(contrast, np.zeros(len(wide)), alpha)
        eff.append(
            {
                "effect": effect,
                "estimate": pd_["diff"],
                "ci_low": pd_["ci_low"],
                "ci_high": pd_["ci_high"],
                "p_value": pd_["p_value"],
                "se": pd_["se_paired"],
            }
        )
    effects = pd.DataFrame(eff)
    conventions = (
        "naive execution: random reach, no frequency cap, no broadcasts; careful: best CRM "
        "score first, a 7-day cap, broadcasts paid for. Objectives are the scenario's "
        f"{kpi!r} (KPI mix) and {lifecycle!r} (stage plan and group split).",
        "objective = mean over executions of lifecycle - kpi; execution = mean over objectives "
        "of careful - naive; interaction = (LC - LN) - (KC - KN); objective + execution = "
        "careful lifecycle - naive KPI exactly.",
        f"CIs: two-sided {1 - alpha:.0%} paired-t over replications (common random numbers); "
        "p-values: H0 effect = 0, not adjusted for the six effects shown.",
    )
    return DecompositionResult(
        metric=metric,
        cells=cells,
        effects=effects,
        comparison=res,
        alpha=alpha,
        conventions=conventions,
    )
