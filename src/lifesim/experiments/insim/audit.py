"""Audit an experiment design: repeat it (and an A/A version) and check the analysis.

Repeat ``i`` is a new market from child ``i`` of the root seed, so the repeats are independent,
run in parallel with joblib, and give identical results for any number of workers.
"""

from __future__ import annotations

import time
from typing import Any

import joblib
import numpy as np
import pandas as pd
from scipy.stats import norm

from lifesim._checks import check_int, check_jobs
from lifesim._progress import ProgressLike, as_progress
from lifesim._random import SeedLike, as_seed_sequence, spawn_seeds
from lifesim.config import Scenario, ScenarioLike
from lifesim.config.experiment import Experiment
from lifesim.errors import ConfigError
from lifesim.experiments.insim.peeking import (
    look_days,
    look_stats,
    parse_peek,
    summarise_peeking,
    truth_by_look,
)
from lifesim.experiments.insim.result import AuditResult
from lifesim.experiments.insim.run import (
    analyse_dataset,
    child_seed,
    resolve_experiment,
    simulate_experiment,
    true_effects,
)

__all__ = ["audit", "aa_version"]

_KEEP = ["metric", "method", "arm", "estimate", "se", "ci_low", "ci_high", "p_value"]


def aa_version(exp: Experiment) -> Experiment:
    """Return the same experiment with every arm given the control arm's strategy (truth 0)."""
    ctrl = exp.arms[exp.control_arm].strategy
    arms = {a: arm.model_copy(update={"strategy": ctrl}) for a, arm in exp.arms.items()}
    return exp.model_copy(update={"arms": arms})


def _repeat(
    scn: Scenario,
    exp: Experiment,
    aa: Experiment | None,
    seed: np.random.SeedSequence,
    i: int,
    looks: dict[str, np.ndarray] | None = None,
) -> tuple[list[pd.DataFrame], dict[tuple[str, str, str], Any]]:
    out = []
    peeks: dict[tuple[str, str, str], Any] = {}
    for version, e in (("A/B", exp), ("A/A", aa)):
        if e is None:
            continue
        if looks is not None:
            people, stats = look_stats(scn, e, seed, looks)
            clusters = None
            peeks.update({(version, *key): v for key, v in stats.items()})
        else:
            people, clusters, _ = simulate_experiment(scn, e, seed)
        data = clusters if clusters is not None else people
        _, est = analyse_dataset(data, e, clusters=clusters is not None)
        est = est[_KEEP].copy()
        est.insert(0, "repeat", i)
        est.insert(0, "version", version)
        out.append(est)
    return out, peeks


def _rate_se(p: float, r: int) -> float:
    """Binomial standard error of a rate over ``r`` repeats (``p`` kept in [0.5/r, 1 - 0.5/r])."""
    q = min(max(p, 0.5 / r), 1 - 0.5 / r)
    return float(np.sqrt(q * (1 - q) / r))


def _expected_coverage(alpha: float, truth_se: float, se: float) -> float:
    """Return the coverage to expect of a nominal CI around a truth known to +/- ``truth_se``.

    A ``1 - alpha`` CI of standard error ``se``: ``2 Phi(z / sqrt(1 + (truth_se / se)^2)) - 1``.
    """
    z = float(norm.ppf(1 - alpha / 2))
    if not np.isfinite(truth_se) or truth_se <= 0 or not se > 0:
        return 1 - alpha
    return float(2 * norm.cdf(z / np.sqrt(1 + (truth_se / se) ** 2)) - 1)


def _summarise(est: pd.DataFrame, truth: pd.DataFrame, alpha: float) -> pd.DataFrame:
    rows = []
    keys = ["version", "metric", "method", "arm"]
    tr = truth.set_index(["metric", "arm"])
    for key, g in est.groupby(keys, sort=False):
        version, metric, method, arm = key
        if version == "A/A":
            t, t_se = 0.0, 0.0
        else:
            t = float(tr.loc[(metric, arm), "true_effect"])
            t_se = float(tr.loc[(metric, arm), "truth_se"])
        e = g["estimate"].to_numpy(float)
        r = len(e)
        rej = float((g["p_value"].to_numpy(float) < alpha).mean())
        cov = float(((g["ci_low"] <= t) & (t <= g["ci_high"])).mean())
        sd = float(e.std(ddof=1)) if r > 1 else float("nan")
        rows.append(
            {
                "version": version,
                "metric": metric,
                "method": method,
                "arm": arm,
                "true_effect": t,
                "truth_se": t_se,
                "mean_estimate": float(e.mean()),
                "bias": float(e.mean() - t),
                "bias_se": float(np.sqrt(sd**2 / r + t_se**2)),
                "sd_estimate": sd,
                "mean_se": float(g["se"].mean()),
                "rmse": float(np.sqrt(np.mean((e - t) ** 2))),
                "rejection_rate": rej,
                "rejection_se": _rate_se(rej, r),
                "coverage": cov,
                "coverage_se": _rate_se(cov, r),
                "expected_coverage": _expected_coverage(alpha, t_se, float(g["se"].mean())),
                "mean_ci_width": float((g["ci_high"] - g["ci_low"]).mean()),
                "repeats": r,
            }
        )
    return pd.DataFrame(rows)


def audit(
    scenario: ScenarioLike = None,
    *,
    repeats: int = 500,
    seed: SeedLike = None,
    customers: int | None = None,
    days: int | None = None,
    truth_replications: int | None = None,
    aa: bool = True,
    jobs: int = 1,
    progress: ProgressLike = None,
    backend: str | None = None,
    trust_code: bool = False,
    peek: str | int | None = None,
) -> AuditResult:
    """Repeat the scenario's experiment and report how often its analysis tells the truth.

    Parameters
    ----------
    scenario : Scenario, mapping or path
        A scenario with an ``experiment:`` block.
    repeats : int
        Repeats of the experiment (>= 2); each is a new market (child ``i`` of the root seed).
    seed : int, SeedSequence, Generator or None
        Root seed (default: the scenario's).
    customers, days : int, optional
        Override the market size and horizon.
    truth_replications : int, optional
        Markets the truth is averaged over (default: ``max(experiment.truth_replications,
        10)``).
    aa : bool
        Also run the A/A version on the same markets (every arm gets the control strategy).
    jobs : int
        joblib workers (``-1``: all cores). Results do not depend on it.
    progress : callable(done, total), True or None
        Called as repeats (and truth runs) finish; ``True`` shows a progress bar (see
        :mod:`lifesim._progress`).
    backend : str, optional
        joblib backend (``"loky"`` by default; ``"dask"`` inside a ``dask.distributed`` client).
    trust_code : bool
        Allow arms with ``custom`` strategies to run the code they name.
    peek : 'daily' or int, optional
        Also read every repeat at every look (``'daily'``: every day of each metric's window;
        ``N``: ``N`` evenly spaced looks) with the naive fixed-horizon test, the always-valid
        confidence sequence and an O'Brien-Fleming group-sequential design; the result's
        ``peeking`` table gives each method's false-positive rate (A/A), power, average
        stopping day and coverage of the true effect at the stopping look, with Monte Carlo
        errors (see :mod:`lifesim.experiments.insim.peeking`). Person-level designs only.

    Returns
    -------
    AuditResult
    """
    t0 = time.perf_counter()
    scn, exp = resolve_experiment(scenario, customers, days, trust_code=trust_code)
    repeats = check_int("repeats", repeats, min=2)
    check_jobs("jobs", jobs)
    reps = max(exp.truth_replications, 10) if truth_replications is None else truth_replications
    reps = check_int("truth_replications", reps, min=1)
    root = as_seed_sequence(scn.seed if seed is None else seed)
    truth_seeds = spawn_seeds(child_seed(root, 2), reps)
    n_truth = reps * len(exp.arms)
    total = n_truth + repeats

    def step(done: int, _tot: int) -> None:
        if progress is not None:
            progress(done, total)

    looks = None
    if peek is not None:
        peek = parse_peek(peek)
        if exp.design.unit != "person":
            raise ConfigError(
                [("peek", "peeking is audited for person-level designs only (design: person)")]
            )
        looks = look_days(exp, scn.days, peek)
    progress = as_progress(progress, total, "experiment audit", "runs")
    truth = true_effects(scn, exp, truth_seeds, jobs=jobs, progress=step)
    seeds = spawn_seeds(child_seed(root, 1), repeats)
    aa_exp = aa_version(exp) if aa else None
    par = joblib.Parallel(n_jobs=jobs, backend=backend, return_as="generator")
    gen = par(joblib.delayed(_repeat)(scn, exp, aa_exp, seeds[i], i, looks) for i in range(repeats))
    parts: list[Any] = []
    peeks: dict[tuple[str, str, str], list[Any]] = {}
    for i, (out, pk) in enumerate(gen):
        parts.extend(out)
        for key, v in pk.items():
            peeks.setdefault(key, []).append(v)
        step(n_truth + i + 1, total)
    peeking = None
    if looks is not None:
        look_truth = truth_by_look(scn, exp, truth_seeds, looks)
        states = {m for m, spec in exp.metrics.items() if spec.kind == "retained"}
        peeking = summarise_peeking(peeks, look_truth, looks, exp.start, exp.alpha, states)
    est = pd.concat(parts, ignore_index=True)
    est = est.sort_values(["version", "repeat"], kind="stable", ignore_index=True)
    table = _summarise(est, truth, exp.alpha)
    order = {"A/B": 0, "A/A": 1}
    table = table.sort_values("version", key=lambda s: s.map(order), kind="stable")
    return AuditResult(
        scenario=scn,
        experiment=exp,
        seed=int(root.entropy),
        repeats=repeats,
        table=table.reset_index(drop=True),
        estimates=est,
        truth=truth,
        alpha=exp.alpha,
        elapsed_s=time.perf_counter() - t0,
        peeking=peeking,
        peek=peek,
    )
