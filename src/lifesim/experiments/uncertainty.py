"""Strategies compared under parameter uncertainty: which is best, how likely, at what regret.

A comparison's confidence intervals measure simulation noise only: they say how well the
mean under *these* parameter values is known. When the parameters themselves are uncertain
(fitted from data with standard errors, or honest guesses given as ranges), the verdict must
hold over the parameter sets they could be. :func:`parameter_uncertainty` runs every strategy
under each of ``n`` parameter sets (rows of a draws table whose columns are scenario key
paths, e.g. ``lifesim calibrate``'s ``draws.parquet``), with common random numbers within
and across draws, and reports per strategy:

* the objective's mean over draws with the 2.5%-97.5% range of the per-draw means,
* the probability of being best (share of draws in which it has the highest objective; ties
  split), with its Monte Carlo standard error ``sqrt(p (1 - p) / n)``,
* the expected regret: the mean over draws of (best strategy's objective - its objective).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd

from lifesim._checks import check_jobs
from lifesim._progress import ProgressLike, as_progress
from lifesim._random import SeedLike, as_seed_sequence, spawn_seeds, stream
from lifesim.config import Scenario, ScenarioLike, load_scenario, override
from lifesim.engine import simulate
from lifesim.errors import ConfigError
from lifesim.experiments.compare import _parse_strategies
from lifesim.metrics import METRICS, run_metrics
from lifesim.model import check_trust, trusted

__all__ = [
    "parameter_uncertainty",
    "UncertaintyResult",
    "draw_columns",
    "sample_uncertain",
]


def draw_columns(draws: pd.DataFrame) -> list[str]:
    """Columns of a draws table that are scenario key paths (they contain a dot)."""
    return [c for c in draws.columns if isinstance(c, str) and "." in c]


def sample_uncertain(scn: Scenario, n: int, seed: SeedLike = None) -> pd.DataFrame:
    """Draw ``n`` parameter sets from the scenario's ``uncertain`` block.

    Each key path has its own random stream of ``seed`` (adding a range never changes the
    draws of the others); an interval ``[low, high]`` is drawn uniformly.

    Raises
    ------
    ConfigError
        When the scenario states no ``uncertain`` values.
    """
    from lifesim.model import sample_dist

    if not scn.uncertain:
        raise ConfigError([("uncertain", "the scenario states no uncertain values")])
    root = as_seed_sequence(scn.seed if seed is None else seed)
    cols = {}
    for path, spec in scn.uncertain.items():
        rng = stream(root, f"uncertain:{path}")
        if isinstance(spec, list):
            cols[path] = rng.uniform(spec[0], spec[1], n)
        else:
            cols[path] = sample_dist(spec, n, rng)
    return pd.DataFrame(cols)


def _p_best_cell(p: float, se: float, draws: int) -> str:
    """P(best) with its Monte Carlo error; at 0% or 100% (error 0) the count of draws instead."""
    if 0 < p < 1 and se > 0:
        return f"{p:.0%} +-{se:4.0%}"
    return f"{p:.0%} ({p * draws:.4g}/{draws})"


@dataclass(frozen=True, eq=False)
class UncertaintyResult:
    """Strategies under parameter uncertainty (see the module docstring).

    Attributes
    ----------
    strategies : tuple of str
    objective : str
    draws : int
        Parameter sets used.
    replications : int
        Replications per (draw, strategy), on common seeds.
    columns : list of str
        The key paths the draws vary.
    per_draw : DataFrame
        One row per draw and strategy: the objective's mean over replications.
    table : DataFrame
        Per strategy: ``mean``, ``low``, ``high`` (2.5%-97.5% over draws), ``p_best``,
        ``p_best_se``, ``expected_regret``.
    seed : int
    elapsed_s : float
    """

    strategies: tuple[str, ...]
    objective: str
    draws: int
    replications: int
    columns: list[str]
    per_draw: pd.DataFrame
    table: pd.DataFrame
    seed: int
    elapsed_s: float

    @property
    def conventions(self) -> list[str]:
        """The statistical conventions of the table."""
        return [
            f"{self.draws} parameter sets (rows of the draws table), each run with "
            f"{self.replications} replication(s) per strategy on common seeds (the same seeds in "
            "every draw, so differences between draws are parameter effects)",
            "range: 2.5%-97.5% quantiles over draws of each draw's mean objective",
            "P(best): share of draws in which the strategy has the highest mean objective (ties "
            "split); +- its Monte Carlo standard error sqrt(p (1 - p) / draws), or, at 0% and "
            "100% where that error is 0, the count of draws it comes from",
            "expected regret: mean over draws of (best objective in the draw - the strategy's)",
        ]

    def to_pandas(self) -> pd.DataFrame:
        """Return the per-strategy table."""
        return self.table.copy()

    def summary(self) -> str:
        """Text table: mean and range over draws, P(best), expected regret."""
        label = METRICS[self.objective].label if self.objective in METRICS else self.objective
        lines = [
            f"under parameter uncertainty: {self.draws} draws of {', '.join(self.columns[:4])}"
            + (f" (+{len(self.columns) - 4} more)" if len(self.columns) > 4 else ""),
            f"  {'strategy':<20}{label + ' mean [2.5%, 97.5%] over draws':>42}"
            f"{'P(best)':>16}{'expected regret':>18}",
        ]
        for r in self.table.itertuples():
            lines.append(
                f"  {r.strategy[:19]:<20}{r.mean:>18,.0f} [{r.low:>10,.0f}, {r.high:>10,.0f}]"
                f"{_p_best_cell(r.p_best, r.p_best_se, self.draws):>16}"
                f"{r.expected_regret:>18,.0f}"
            )
        best = self.table.sort_values(["p_best", "expected_regret"], ascending=[False, True])
        top = best.iloc[0]
        lines.append(
            f"  most likely best: {top.strategy} (P = {top.p_best:.0%}); least expected regret: "
            f"{self.table.loc[self.table.expected_regret.idxmin(), 'strategy']}"
        )
        lines += [f"  - {c}" for c in self.conventions]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        return {
            "objective": self.objective,
            "draws": self.draws,
            "replications": self.replications,
            "columns": list(self.columns),
            "strategies": {
                r.strategy: {
                    "mean": float(r.mean),
                    "low": float(r.low),
                    "high": float(r.high),
                    "p_best": float(r.p_best),
                    "p_best_se": float(r.p_best_se),
                    "expected_regret": float(r.expected_regret),
                }
                for r in self.table.itertuples()
            },
            "conventions": self.conventions,
            "seed": self.seed,
        }

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.summary()) + "</pre>"


def metrics_of(
    scn: Scenario, seed: np.random.SeedSequence, strategy: str, initial: Any = None
) -> dict[str, float]:
    """Every metric of one run of ``strategy`` (``initial``: a market or a callable of the seed)."""
    start = initial(seed) if callable(initial) else initial
    res = simulate(scn, seed=seed, strategy=strategy, record_events=False, initial=start)
    return run_metrics(res)


def _one(
    scn: Scenario, seed: np.random.SeedSequence, strategy: str, objective: str, initial: Any
) -> float:
    return float(metrics_of(scn, seed, strategy, initial)[objective])


def parameter_uncertainty(
    scenario: ScenarioLike,
    draws: pd.DataFrame,
    *,
    strategies: str | list[str] | None = None,
    n_draws: int | None = None,
    replications: int = 1,
    objective: str = "profit",
    seed: SeedLike = None,
    jobs: int = 1,
    customers: int | None = None,
    days: int | None = None,
    progress: ProgressLike = None,
    trust_code: bool = False,
    initial: Any = None,
) -> UncertaintyResult:
    """Run every strategy under each parameter set of ``draws``; P(best) and regret.

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
    draws : DataFrame
        One row per parameter set; its columns that are key paths (contain a dot, e.g.
        ``stages.retention.buy.p``) are set in the scenario for that draw.
    strategies : list of str or comma-separated str, optional
        Default: the scenario's ``compare.strategies``.
    n_draws : int, optional
        Use the first ``n_draws`` rows (default: all).
    replications : int
        Replications per (draw, strategy), >= 1.
    objective : str
        Metric to maximise (a key of :data:`lifesim.metrics.METRICS`).
    seed, jobs, customers, days, progress, trust_code, initial
        As for :func:`lifesim.experiments.compare`. An ``initial`` with a ``for_scenario``
        method (the customers of a log, ``--from-log``) is re-drawn under each draw's
        parameters.

    Raises
    ------
    ConfigError
        No key-path column, a key path the scenario lacks, a value it refuses (naming the
        draw), an unknown strategy or objective.
    """
    from lifesim.config import resolve

    t0 = time.perf_counter()
    raw = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    raw = trusted(raw) if trust_code else raw
    base = resolve(raw, customers, days)
    names = _parse_strategies(base, strategies)
    check_trust(base, names, trust_code)
    if objective not in METRICS:
        raise ConfigError(
            [("objective", f"unknown metric {objective!r}; known: {', '.join(METRICS)}")]
        )
    check_jobs("jobs", jobs)
    cols = draw_columns(draws)
    if not cols:
        raise ConfigError(
            [
                (
                    "draws",
                    "no column is a scenario key path (e.g. 'stages.retention.buy.p'); "
                    f"columns: {', '.join(map(str, draws.columns))}",
                )
            ]
        )
    k = len(draws) if n_draws is None else n_draws
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 2 <= k <= len(draws):
        raise ConfigError(
            [
                (
                    "parameter_draws",
                    f"must be a whole number in 2..{len(draws)} (the draws "
                    f"table has {len(draws)} rows), got {n_draws!r}",
                )
            ]
        )
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ConfigError([("replications", f"must be a whole number >= 1, got {replications!r}")])
    scns = [  # a draw's values are at the scenario's size: --customers scales them as the base
        resolve(
            override(
                raw,
                dict(zip(cols, draws[cols].iloc[i].tolist(), strict=True)),
                where=f"(draw {i}: row {i} of the draws table)",
            ),
            customers,
            days,
        )
        for i in range(k)
    ]
    starts = [
        initial.for_scenario(sc) if hasattr(initial, "for_scenario") else initial for sc in scns
    ]
    root = as_seed_sequence(base.seed if seed is None else seed)
    seeds = spawn_seeds(root, replications)
    tasks = [(d, r, s) for d in range(k) for r in range(replications) for s in names]
    progress = as_progress(progress, len(tasks), "parameter draws", "runs")
    par = joblib.Parallel(n_jobs=jobs, return_as="generator")
    values = np.empty(len(tasks))
    for i, v in enumerate(
        par(joblib.delayed(_one)(scns[d], seeds[r], s, objective, starts[d]) for d, r, s in tasks)
    ):
        values[i] = v
        if progress is not None:
            progress(i + 1, len(tasks))
    per = (
        pd.DataFrame(tasks, columns=["draw", "replication", "strategy"])
        .assign(value=values)
        .groupby(["draw", "strategy"], sort=False)["value"]
        .mean()
        .unstack("strategy")[names]
    )
    mat = per.to_numpy()
    best = mat.max(axis=1, keepdims=True)
    wins = (mat == best) / (mat == best).sum(axis=1, keepdims=True)
    p_best = wins.mean(axis=0)
    table = pd.DataFrame(
        {
            "strategy": names,
            "mean": mat.mean(axis=0),
            "low": np.quantile(mat, 0.025, axis=0),
            "high": np.quantile(mat, 0.975, axis=0),
            "p_best": p_best,
            "p_best_se": np.sqrt(p_best * (1 - p_best) / k),
            "expected_regret": (best - mat).mean(axis=0),
        }
    )
    return UncertaintyResult(
        strategies=tuple(names),
        objective=objective,
        draws=k,
        replications=replications,
        columns=cols,
        per_draw=per.reset_index().melt(id_vars="draw", value_name=objective),
        table=table,
        seed=int(root.entropy) if isinstance(root.entropy, int) else 0,
        elapsed_s=time.perf_counter() - t0,
    )
