"""Marginal ROI of budget steps: one strategy at several budgets, common random numbers.

Replication ``r`` runs the no-marketing counterfactual and the strategy at every budget with
the same seed, so the incremental profit at each budget and the step between two budgets are
paired differences (the counterfactual cancels out of a step).
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd

from lifesim._checks import check_int, check_jobs, check_prob
from lifesim._limits import MAX_REPLICATIONS
from lifesim._progress import ProgressLike, as_progress
from lifesim._random import SeedLike, as_seed_sequence, spawn_seeds
from lifesim.config import Scenario, ScenarioLike, load_scenario
from lifesim.engine import simulate
from lifesim.errors import ConfigError
from lifesim.experiments.incremental import COUNTERFACTUAL
from lifesim.experiments.stats import paired_diff, ratio_ci
from lifesim.metrics import run_metrics
from lifesim.model import check_trust, trusted

__all__ = ["marginal_roi", "MarginalROIResult"]

_NUMS = ("profit", "revenue", "marketing_cost", "customers_acquired")


def _money(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "unbounded" if x is not None and math.isinf(x) else "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.2f}"


@dataclass(frozen=True, eq=False)
class MarginalROIResult:
    """Incremental profit at several budgets and the marginal ROI of each budget step.

    Attributes
    ----------
    scenario : Scenario
        The resolved scenario of the no-marketing run (the strategy's runs replace its budget
        by each of ``budgets``).
    strategy : str
    budgets : tuple of float
        ``budget.per_period`` values, ascending (before any ``customers`` scaling).
    replications, seed, alpha
        As in :func:`lifesim.experiments.compare`.
    runs : DataFrame
        One row per (replication, budget): profit, revenue, marketing cost and customers
        acquired; the no-marketing run has ``budget`` NaN and strategy ``"(no marketing)"``.
    levels : DataFrame
        Per budget: mean spend, incremental profit against no marketing (paired t CI) and
        incremental ROI (Fieller CI).
    steps : DataFrame
        Per pair of consecutive budgets: extra spend, extra profit (paired t CI, p-value) and
        ``marginal_roi`` = extra profit / extra spend (ratio of means, Fieller CI): what one
        more unit of actual spend returns net of itself (0: it just pays for itself).
        ``profit_per_budget_unit`` is extra profit / extra budget cap (t CI).
    elapsed_s : float
    """

    scenario: Scenario
    strategy: str
    budgets: tuple[float, ...]
    replications: int
    seed: int
    alpha: float
    runs: pd.DataFrame
    levels: pd.DataFrame
    steps: pd.DataFrame
    elapsed_s: float

    def to_pandas(self) -> pd.DataFrame:
        """Return the budget steps table."""
        return self.steps.copy()

    def summary(self) -> str:
        """Text: incremental profit per budget, marginal ROI per step, conventions."""
        level = round(100 * (1 - self.alpha))
        lines = [
            f"lifesim marginal ROI: strategy {self.strategy!r}, scenario {self.scenario.name!r}, "
            f"{self.scenario.market.describe()} x {self.scenario.days} days, "
            f"{self.replications} replications, seed {self.seed}",
            "",
            f"{'budget/period':>14}{'spend':>12}  incremental profit [{level}% CI]",
        ]
        for r in self.levels.itertuples():
            lines.append(
                f"{_money(r.budget):>14}{_money(r.spend):>12}  {_money(r.incremental_profit)} "
                f"[{_money(r.ci_low)}, {_money(r.ci_high)}]"
            )
        lines += ["", f"budget step{'':>17}extra spend  extra profit  marginal ROI [{level}% CI]"]
        for r in self.steps.itertuples():
            lines.append(
                f"{_money(r.budget_from):>12} -> {_money(r.budget_to):<12}"
                f"{_money(r.extra_spend):>12}  {_money(r.extra_profit):>12}  "
                f"{r.marginal_roi:.2f} [{_money(r.roi_ci_low)}, {_money(r.roi_ci_high)}]"
            )
        lines += ["", "conventions:"] + [f"  - {c}" for c in self.conventions]
        return "\n".join(lines)

    @property
    def conventions(self) -> list[str]:
        """How the figures are computed, in words."""
        return [
            "common random numbers: replication r uses the same seed for the no-marketing run "
            "and for the strategy at every budget",
            "incremental profit: profit - profit of the no-marketing run, paired t CI",
            "marginal ROI of a step: (profit at the higher budget - at the lower) / (spend at "
            "the higher - at the lower), ratio of means over replications with Fieller's CI; "
            "profit is net of spend, so 0 means the extra spend just pays for itself and -1 "
            "that it returns nothing",
            "CIs per step, not simultaneous; no multiplicity correction across steps",
            f"budgets are budget.per_period at the scenario's own market size; at "
            f"{self.scenario.market.size:,} people the cap is scaled like the scenario's "
            "budget (spend is actual money at the simulated size)",
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able result."""

        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for rec in df.to_dict("records"):
                out.append(
                    {
                        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                        for k, v in rec.items()
                    }
                )
            return out

        return {
            "scenario": self.scenario.name,
            "strategy": self.strategy,
            "budgets": list(self.budgets),
            "replications": self.replications,
            "seed": self.seed,
            "alpha": self.alpha,
            "levels": rows(self.levels),
            "steps": rows(self.steps),
            "conventions": self.conventions,
        }

    def _repr_html_(self) -> str:
        return (
            f"<div>{self.levels.to_html(index=False, float_format=_money)}"
            f"{self.steps.to_html(index=False, float_format=_money)}"
            f"<p><small>{'<br>'.join(html.escape(c) for c in self.conventions)}</small></p></div>"
        )


def _one(
    scn: Scenario, seed, rep: int, strategy: str | None, budget: float, customers, days
) -> tuple[dict[str, Any], Scenario]:
    res = simulate(
        scn, seed=seed, strategy=strategy, customers=customers, days=days, record_events=False
    )
    m = run_metrics(res)
    row = {
        "replication": rep,
        "budget": budget,
        "strategy": strategy or COUNTERFACTUAL,
        **{k: m[k] for k in _NUMS},
    }
    return row, res.scenario


def marginal_roi(
    scenario: ScenarioLike = None,
    strategy: str = "stage_focused",
    *,
    budgets: Sequence[float],
    replications: int | None = None,
    seed: SeedLike = None,
    jobs: int = 1,
    customers: int | None = None,
    days: int | None = None,
    alpha: float = 0.05,
    progress: ProgressLike = None,
    backend: str | None = None,
    trust_code: bool = False,
) -> MarginalROIResult:
    """Run ``strategy`` at several ``budget.per_period`` values with CRN; marginal ROI per step.

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
        The scenario (``None``: the embedded default).
    strategy : str
        A strategy name from the scenario.
    budgets : sequence of float
        At least two distinct ``budget.per_period`` values >= 0, in the scenario's money at its
        own market size (with ``customers`` they scale like the scenario's budget does).
        Sorted ascending.
    replications, seed, jobs, customers, days, alpha, progress, backend, trust_code
        As in :func:`lifesim.experiments.compare`.

    Returns
    -------
    MarginalROIResult

    Examples
    --------
    >>> from lifesim.experiments import marginal_roi
    >>> r = marginal_roi(None, "stage_focused", budgets=[4000, 8000], replications=2,
    ...                  customers=500, days=30, seed=1)
    >>> list(r.steps.columns[:3])
    ['budget_from', 'budget_to', 'extra_spend']
    """
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if strategy not in scn.strategies:
        raise ConfigError(
            [("strategy", f"unknown strategy {strategy!r}; known: {', '.join(scn.strategies)}")]
        )
    try:
        bs = sorted(float(b) for b in budgets)
    except (TypeError, ValueError):
        raise ConfigError([("budgets", f"must be numbers, got {budgets!r}")]) from None
    if len(bs) < 2 or len(set(bs)) != len(bs) or not all(math.isfinite(b) and b >= 0 for b in bs):
        raise ConfigError(
            [("budgets", f"must be >= 2 distinct finite numbers >= 0, got {list(budgets)!r}")]
        )
    reps = scn.compare.replications if replications is None else replications
    reps = check_int("replications", reps, min=2, max=MAX_REPLICATIONS)
    check_prob("alpha", alpha)
    check_jobs("jobs", jobs)
    check_trust(scn, [strategy], trust_code)
    if trust_code:
        scn = trusted(scn)
    per_budget = {
        b: scn.model_copy(update={"budget": scn.budget.model_copy(update={"per_period": b})})
        for b in bs
    }
    root = as_seed_sequence(scn.seed if seed is None else seed)
    seeds = spawn_seeds(root, reps)
    tasks = [(scn, r, None, math.nan) for r in range(reps)]
    tasks += [(per_budget[b], r, strategy, b) for r in range(reps) for b in bs]
    progress = as_progress(progress, len(tasks), "marginal ROI", "runs")
    t0 = time.perf_counter()
    par = joblib.Parallel(n_jobs=jobs, backend=backend, return_as="generator")
    rows = []
    resolved = scn
    for i, (row, sc) in enumerate(
        par(joblib.delayed(_one)(s, seeds[r], r, st, b, customers, days) for s, r, st, b in tasks)
    ):
        rows.append(row)
        if i == 0:
            resolved = sc
        if progress is not None:
            progress(i + 1, len(tasks))
    runs = pd.DataFrame(rows).sort_values(["replication", "budget"], na_position="first")
    runs = runs.reset_index(drop=True)
    cf = runs[runs.strategy == COUNTERFACTUAL].sort_values("replication")

    def col(b: float, m: str) -> np.ndarray:
        sub = runs[(runs.strategy == strategy) & (runs.budget == b)].sort_values("replication")
        return sub[m].to_numpy(dtype=float)

    levels = []
    for b in bs:
        d = paired_diff(col(b, "profit"), cf["profit"].to_numpy(dtype=float), alpha)
        dc = col(b, "marketing_cost") - cf["marketing_cost"].to_numpy(dtype=float)
        roi = ratio_ci(col(b, "profit") - cf["profit"].to_numpy(dtype=float), dc, alpha)
        levels.append(
            {
                "budget": b,
                "spend": float(col(b, "marketing_cost").mean()),
                "incremental_profit": d["diff"],
                "ci_low": d["ci_low"],
                "ci_high": d["ci_high"],
                "p_value": d["p_value"],
                "incremental_roi": roi["ratio"],
                "roi_ci_low": roi["ci_low"],
                "roi_ci_high": roi["ci_high"],
            }
        )
    steps = []
    for lo, hi in zip(bs[:-1], bs[1:], strict=True):
        dp = col(hi, "profit") - col(lo, "profit")
        ds = col(hi, "marketing_cost") - col(lo, "marketing_cost")
        d = paired_diff(col(hi, "profit"), col(lo, "profit"), alpha)
        r = ratio_ci(dp, ds, alpha)
        steps.append(
            {
                "budget_from": lo,
                "budget_to": hi,
                "extra_spend": float(ds.mean()),
                "extra_profit": d["diff"],
                "ci_low": d["ci_low"],
                "ci_high": d["ci_high"],
                "p_value": d["p_value"],
                "marginal_roi": r["ratio"],
                "roi_ci_low": r["ci_low"],
                "roi_ci_high": r["ci_high"],
                "profit_per_budget_unit": d["diff"] / (hi - lo),
                "per_unit_ci_low": d["ci_low"] / (hi - lo),
                "per_unit_ci_high": d["ci_high"] / (hi - lo),
            }
        )
    return MarginalROIResult(
        scenario=resolved,
        strategy=strategy,
        budgets=tuple(bs),
        replications=reps,
        seed=int(root.entropy),
        alpha=alpha,
        runs=runs,
        levels=pd.DataFrame(levels),
        steps=pd.DataFrame(steps),
        elapsed_s=time.perf_counter() - t0,
    )
