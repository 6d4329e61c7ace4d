"""Compare strategies over replications with common random numbers (``lifesim compare``).

Replication ``r`` uses the same child seed for every strategy, so every strategy meets the same
people with the same random draws; paired differences against a baseline strategy then cancel
most of the noise. Every comparison also has a no-marketing run per replication (the compared
``none`` strategy, or an extra run labelled ``(no marketing)`` on the same seeds): incremental
profit, revenue, ROI and CAC are paired differences against it. Every pair of strategies is
compared, with p-values adjusted by Holm over the pairs; the winner's margin is judged on that.
Replications run in parallel with joblib (any backend, including Dask's); each task's seed
depends only on the root seed and ``r``, so results are identical for any number of workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
import pandas as pd

from lifesim._checks import check_int, check_jobs, check_prob
from lifesim._limits import MAX_REPLICATIONS
from lifesim._progress import ProgressLike, as_progress
from lifesim._random import SeedLike, as_seed_sequence, spawn_seeds
from lifesim.config import Scenario, ScenarioLike, load_scenario, resolve
from lifesim.engine import simulate
from lifesim.errors import ConfigError
from lifesim.experiments.flows import flow_counts_table
from lifesim.experiments.incremental import (
    COUNTERFACTUAL,
    counterfactual_of,
    incremental_table,
    pairwise_table,
)
from lifesim.experiments.result import ComparisonResult
from lifesim.experiments.stats import mean_ci, paired_diff
from lifesim.metrics import METRICS, funnel, run_metrics
from lifesim.model import check_trust, make_strategy, trusted

__all__ = ["compare", "RunSummary"]


@dataclass(frozen=True)
class RunSummary:
    """What one (replication, strategy) run contributes to a comparison."""

    replication: int
    strategy: str
    metrics: dict[str, float]
    shares: np.ndarray
    funnel: np.ndarray
    elapsed_s: float
    spend: dict[str, float] = field(default_factory=dict)
    flows: pd.DataFrame | None = None  # moves by (from_stage, to_stage, cause): a few dozen rows


def _run_one(
    scn: Scenario, seed: np.random.SeedSequence, rep: int, strategy: str, initial: Any = None
) -> RunSummary:
    start = initial(seed) if callable(initial) else initial
    res = simulate(
        scn,
        seed=seed,
        strategy=None if strategy == COUNTERFACTUAL else strategy,
        initial=start,
    )
    counts = res.stage_counts.to_numpy()
    return RunSummary(
        replication=rep,
        strategy=strategy,
        metrics=run_metrics(res),
        shares=(counts / res.customers).astype(np.float32),
        funnel=funnel(res).to_numpy(),
        elapsed_s=res.elapsed_s,
        spend=_spend(res.ledger),
        flows=res.flows(),
    )


def _spend(ledger: pd.DataFrame) -> dict[str, float]:
    """Marketing spend of one run by ledger item (tactic or fee), for the report's 'where'."""
    if not len(ledger):
        return {}
    return {str(k): float(v) for k, v in ledger.groupby("item")["cost"].sum().items()}


def _parse_strategies(scn: Scenario, strategies: str | list[str] | None) -> list[str]:
    if strategies is None:
        names = list(scn.compare.strategies)
    elif isinstance(strategies, str):
        names = [s.strip() for s in strategies.split(",") if s.strip()]
    else:
        names = list(strategies)
    if not names:
        raise ConfigError([("strategies", "at least one strategy is required")])
    bad = [s for s in names if s not in scn.strategies]
    if bad:
        raise ConfigError(
            [
                (
                    "strategies",
                    f"unknown strategy {bad[0]!r}; known: {', '.join(scn.strategies)}",
                )
            ]
        )
    if len(set(names)) != len(names):
        raise ConfigError([("strategies", f"each strategy once, got {names}")])
    return names


def compare(
    scenario: ScenarioLike = None,
    *,
    strategies: str | list[str] | None = None,
    replications: int | None = None,
    seed: SeedLike = None,
    jobs: int = 1,
    customers: int | None = None,
    days: int | None = None,
    baseline: str | None = None,
    objective: str | None = None,
    alpha: float = 0.05,
    progress: ProgressLike = None,
    backend: str | None = None,
    trust_code: bool = False,
    initial: Any = None,
) -> ComparisonResult:
    """Run every strategy ``replications`` times with common random numbers and compare.

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
        The scenario (``None``: the embedded default).
    strategies : list of str or comma-separated str, optional
        Strategy names from the scenario (default: ``scenario.compare.strategies``).
    replications : int, optional
        Replications per strategy (default: ``scenario.compare.replications``), >= 2.
    seed : int, SeedSequence, Generator or None
        Root seed (default: the scenario's). Replication ``r`` uses child ``r`` of it for every
        strategy.
    jobs : int
        Parallel workers (joblib; ``-1``: all cores). Results do not depend on it.
    customers, days : int, optional
        Override the market size and horizon.
    baseline : str, optional
        Strategy the others are compared against (default: ``scenario.compare.baseline`` if
        compared, else the first strategy).
    objective : str, optional
        Metric that decides the winner (default ``profit``); see :data:`lifesim.metrics.METRICS`.
    alpha : float
        1 - confidence level of the intervals (0.05: 95% CIs).
    progress : callable(done, total), True or None
        Called as runs finish; ``True`` shows a progress bar (see :mod:`lifesim._progress`).
    backend : str, optional
        joblib backend (``"loky"`` by default; ``"dask"`` inside a ``dask.distributed`` client).
    trust_code : bool
        Allow ``custom`` strategies to import and run the code the scenario names; without
        it they are refused before any run starts.
    initial : mapping or callable(seed) -> mapping, optional
        Start every run from this market (see :func:`lifesim.simulate`); a callable is called
        with each replication's seed, so each replication draws its own start (common to all
        strategies), e.g. the customers of a log (``lifesim compare --from-log``).

    Returns
    -------
    ComparisonResult
    """
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    scn = resolve(scn, customers, days)
    names = _parse_strategies(scn, strategies)
    check_trust(scn, names, trust_code)
    if trust_code:
        scn = trusted(scn)
    for name in names:  # a strategy's own settings are checked before any run starts
        make_strategy(scn, name)
    reps = scn.compare.replications if replications is None else replications
    reps = check_int(
        "compare.replications" if replications is None else "replications",
        reps,
        min=2,
        max=MAX_REPLICATIONS,
    )
    check_jobs("jobs", jobs)
    check_prob("alpha", alpha)
    key = "objective" if objective else "compare.objective"  # the scenario's, by its key
    objective = objective or scn.compare.objective
    if objective not in METRICS:
        raise ConfigError([(key, f"unknown metric {objective!r}; allowed: {', '.join(METRICS)}")])
    if baseline is None:
        baseline = scn.compare.baseline if scn.compare.baseline in names else names[0]
    elif baseline not in names:
        raise ConfigError(
            [("baseline", f"{baseline!r} is not among the compared strategies {names}")]
        )
    root = as_seed_sequence(scn.seed if seed is None else seed)
    seeds = spawn_seeds(root, reps)
    counterfactual = counterfactual_of(scn, names)
    extra = [] if counterfactual is not None else [COUNTERFACTUAL]
    tasks = [(r, s) for r in range(reps) for s in names + extra]
    progress = as_progress(progress, len(tasks), "compare", "runs")
    t0 = time.perf_counter()
    runs: list[RunSummary] = []
    par = joblib.Parallel(n_jobs=jobs, backend=backend, return_as="generator")
    gen = par(joblib.delayed(_run_one)(scn, seeds[r], r, s, initial) for r, s in tasks)
    for i, run in enumerate(gen):
        runs.append(run)
        if progress is not None:
            progress(i + 1, len(tasks))
    elapsed = time.perf_counter() - t0
    return _summarise(
        scn,
        names,
        reps,
        int(root.entropy),
        baseline,
        objective,
        alpha,
        runs,
        elapsed,
        counterfactual or COUNTERFACTUAL,
    )


def _summarise(
    scn, names, reps, seed, baseline, objective, alpha, runs, elapsed, counterfactual
) -> ComparisonResult:
    everyone = names + [s for s in (counterfactual,) if s not in names]
    runs = sorted(runs, key=lambda r: (r.replication, everyone.index(r.strategy)))
    metrics = list(METRICS)
    rows = [{"replication": r.replication, "strategy": r.strategy, **r.metrics} for r in runs]
    wide = pd.DataFrame(rows)
    summ = []
    for s in names:
        sub = wide[wide["strategy"] == s]
        for m in metrics:
            mean, sd, lo, hi = mean_ci(sub[m].to_numpy(), alpha)
            summ.append(
                {
                    "strategy": s,
                    "metric": m,
                    "mean": mean,
                    "sd": sd,
                    "ci_low": lo,
                    "ci_high": hi,
                    "n": int(np.isfinite(sub[m]).sum()),
                }
            )
    summary = pd.DataFrame(summ)
    diffs = []
    for s in names:
        if s == baseline:
            continue
        a = wide[wide["strategy"] == s].sort_values("replication")
        b = wide[wide["strategy"] == baseline].sort_values("replication")
        for m in metrics:
            d = paired_diff(a[m].to_numpy(), b[m].to_numpy(), alpha)
            diffs.append({"strategy": s, "baseline": baseline, "metric": m, **d})
    differences = pd.DataFrame(diffs)
    info = METRICS[objective]
    means = summary[summary["metric"] == objective].set_index("strategy")["mean"]
    ranked = means.sort_values(ascending=not info.higher_is_better)
    winner = str(ranked.index[0])
    verdict: dict[str, Any] = {
        "objective": objective,
        "winner": winner,
        "higher_is_better": info.higher_is_better,
    }
    order = [str(s) for s in ranked.index] + [s for s in names if s not in ranked.index]
    pairwise = pairwise_table(wide, order, alpha)
    if len(ranked) > 1:
        runner = str(ranked.index[1])
        obj = pairwise[pairwise["metric"] == objective]
        row = obj[(obj["a"] == winner) & (obj["b"] == runner)].iloc[0]
        vs_winner = obj[obj["a"] == winner]
        verdict.update(
            runner_up=runner,
            diff=float(row["diff"]),
            ci=[float(row["ci_low"]), float(row["ci_high"])],
            p_value=float(row["p_value"]),
            p_value_adjusted=float(row["p_adjusted"]),
            adjustment="holm",
            pairs=int(row["pairs"]),
            significant=bool(row["significant"]),
            indistinguishable_from=[str(b) for b in vs_winner.loc[~vs_winner["significant"], "b"]],
        )
    incremental = incremental_table(wide, names, counterfactual, alpha)
    shares = {}
    funnels = {}
    for s in names:
        arr = np.stack([r.shares for r in runs if r.strategy == s])
        shares[s] = pd.DataFrame(arr.mean(axis=0), columns=scn.stage_names)
        funnels[s] = np.stack([r.funnel for r in runs if r.strategy == s]).mean(axis=0)
    stage_shares = pd.concat(shares, names=["strategy", "day"]).reset_index()
    spend = pd.DataFrame(
        [
            {"strategy": s, "item": item, "cost": cost}
            for s in names
            for item, cost in _mean_spend([r for r in runs if r.strategy == s]).items()
        ],
        columns=["strategy", "item", "cost"],
    )
    funnel_df = pd.DataFrame(funnels, index=pd.Index(scn.stage_names, name="stage")).T
    funnel_df.index.name = "strategy"
    return ComparisonResult(
        scenario=scn,
        strategies=tuple(names),
        baseline=baseline,
        objective=objective,
        replications=reps,
        seed=seed,
        alpha=alpha,
        runs=wide,
        summary_table=summary,
        differences=differences,
        verdict=verdict,
        stage_shares=stage_shares,
        funnel=funnel_df,
        elapsed_s=elapsed,
        counterfactual=counterfactual,
        incremental=incremental,
        pairwise=pairwise,
        spend=spend,
        flow_counts=flow_counts_table(runs, scn.stage_names),
    )


def _mean_spend(runs: list[RunSummary]) -> dict[str, float]:
    """Mean spend per replication by ledger item (0 where a replication had none), largest first."""
    total: dict[str, float] = {}
    for r in runs:
        for item, cost in r.spend.items():
            total[item] = total.get(item, 0.0) + cost
    return dict(
        sorted(((k, v / max(len(runs), 1)) for k, v in total.items()), key=lambda kv: -kv[1])
    )
