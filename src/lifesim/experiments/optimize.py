"""A strategy at its best: search its settings with Optuna, re-check the winner on fresh seeds.

Conventions (stated in every summary):

- Common random numbers: every trial runs the same ``replications`` seeds, so two trials
  differ by their settings, not by their luck; the objective of a trial is the mean over
  those replications of :func:`lifesim.metrics.run_metrics` ``[objective]``.
- The search is Optuna's TPE sampler seeded from the root seed; replications run in parallel
  with joblib, and results do not depend on the number of workers.
- The best trial was chosen on the search seeds, so its search value is optimistic (the
  winner's curse). It and the strategy's defaults are re-run on ``reevaluate`` fresh seeds
  (disjoint from the search seeds); the reported objective, its CI and the paired difference
  against the defaults come from those fresh runs only.
- A searched budget share (``split.<group>``) moves the strategy's other shares of that
  split in proportion to their defaults so the split still sums to 1; when searched shares
  of one split add up to more than 1 they are rescaled to sum to 1 and the others get 0.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
import pandas as pd

from lifesim._checks import check_int, check_jobs, check_prob
from lifesim._limits import MAX_REPLICATIONS
from lifesim._progress import ProgressLike, as_progress
from lifesim._random import SeedLike, as_seed_sequence, spawn_seeds
from lifesim.config import Range, Scenario, ScenarioLike, load_scenario
from lifesim.config.load import scenario_to_dict
from lifesim.engine import simulate
from lifesim.errors import ConfigError
from lifesim.experiments.search_space import (
    SPLIT_RULE,
    SearchParam,
    _num,
    apply_optimized,
    apply_point,
    resolve_space,
)
from lifesim.experiments.stats import mean_ci, paired_diff
from lifesim.metrics import METRICS, run_metrics
from lifesim.model import check_trust, trusted

__all__ = [
    "optimize",
    "OptimizationResult",
    "SearchParam",
    "resolve_space",
    "apply_point",
    "apply_optimized",
]


def _one(scn: Scenario, seed: np.random.SeedSequence, strategy: str, objective: str) -> float:
    res = simulate(scn, seed=seed, strategy=strategy, record_events=False)
    return float(run_metrics(res)[objective])


def _evaluate(scn, strategy, seeds, objective, jobs, backend) -> np.ndarray:
    par = joblib.Parallel(n_jobs=jobs, backend=backend)
    return np.asarray(
        par(joblib.delayed(_one)(scn, s, strategy, objective) for s in seeds), dtype=float
    )


@dataclass(frozen=True, eq=False)
class OptimizationResult:
    """The best settings found for one strategy, re-checked on fresh seeds.

    Attributes
    ----------
    scenario : Scenario
        The scenario searched (before any point was applied).
    strategy, objective : str
    higher_is_better : bool
    space : tuple of SearchParam
    trials : DataFrame
        One row per trial: ``trial``, every value set (full key paths; a split's shares),
        ``objective`` (mean over the search replications), ``sd`` and ``best_so_far``.
    best_trial : int
    best_params : dict
        Every value the best trial set, by full key path.
    best_search_value : float
        The best trial's objective on the search seeds (optimistic: it was chosen on them).
    reevaluation : DataFrame
        One row per fresh replication: ``replication``, ``best`` and ``defaults``.
    best_mean, best_ci, default_mean, default_ci
        Means and t CIs over the fresh replications.
    diff : dict
        :func:`lifesim.experiments.stats.paired_diff` of best minus defaults (fresh seeds).
    replications, reevaluate, n_trials, seed, alpha, elapsed_s
    notes : tuple of str
        Conventions and caveats, printed with the summary.
    best_strategy : dict
        The strategy's whole spec at the best point (as a scenario file writes it): what
        ``lifesim compare --optimized`` sets.
    """

    scenario: Scenario
    strategy: str
    objective: str
    higher_is_better: bool
    space: tuple[SearchParam, ...]
    trials: pd.DataFrame
    best_trial: int
    best_params: dict[str, Any]
    best_search_value: float
    reevaluation: pd.DataFrame
    best_mean: float
    best_ci: tuple[float, float]
    default_mean: float
    default_ci: tuple[float, float]
    diff: dict[str, float]
    replications: int
    reevaluate: int
    n_trials: int
    seed: int
    alpha: float
    elapsed_s: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    best_strategy: dict[str, Any] = field(default_factory=dict)

    @property
    def scenario_values(self) -> dict[str, Any]:
        """Best values of settings outside the strategy (shared by every strategy)."""
        own = f"strategies.{self.strategy}."
        return {k: v for k, v in self.best_params.items() if not k.startswith(own)}

    def to_pandas(self) -> pd.DataFrame:
        """Return the trials table (one row per trial)."""
        return self.trials.copy()

    @property
    def improved(self) -> bool:
        """Whether the paired CI of best minus defaults excludes 0 in the better direction."""
        lo, hi = self.diff["ci_low"], self.diff["ci_high"]
        return bool(lo > 0) if self.higher_is_better else bool(hi < 0)

    def summary(self) -> str:
        """Readable text: best settings, the fresh-seed check against the defaults, conventions."""
        conf = f"{1 - self.alpha:.0%}"
        lines = [
            f"optimize {self.strategy} on {self.scenario.name!r}: "
            f"{'maximise' if self.higher_is_better else 'minimise'} {self.objective}, "
            f"{self.n_trials} trials x {self.replications} replications",
            "",
            f"best settings (trial {self.best_trial}):",
        ]
        w = max(len(k) for k in self.best_params)
        for k, v in self.best_params.items():
            lines.append(f"  {k:<{w}}  {_num(v) if isinstance(v, float) else v}")
        lo, hi = self.best_ci
        dlo, dhi = self.default_ci
        d = self.diff
        lines += [
            "",
            f"on {self.reevaluate} fresh replications (seeds not used by the search):",
            f"  best      {self.objective} {_num(self.best_mean)}  {conf} CI "
            f"[{_num(lo)}, {_num(hi)}]",
            f"  defaults  {self.objective} {_num(self.default_mean)}  {conf} CI "
            f"[{_num(dlo)}, {_num(dhi)}]",
            f"  best - defaults  {_num(d['diff'])}  {conf} CI [{_num(d['ci_low'])}, "
            f"{_num(d['ci_high'])}]  p = {d['p_value']:.3g} (paired t)",
            f"  verdict: {'better than' if self.improved else 'not shown better than'} the "
            "strategy's defaults",
            f"  (search value of the best trial: {_num(self.best_search_value)}; optimistic, "
            "it was picked on those seeds)",
            "",
            "conventions:",
            *(f"  - {n}" for n in self.notes),
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able result (``--format json``)."""

        def clean(v: Any) -> Any:
            v = v.item() if hasattr(v, "item") else v
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "scenario": self.scenario.name,
            "strategy": self.strategy,
            "objective": self.objective,
            "higher_is_better": self.higher_is_better,
            "space": [
                {"path": p.path, "target": p.target, "kind": p.kind, "default": p.default}
                | (
                    {"values": list(p.values)}
                    if p.values is not None
                    else {"low": p.low, "high": p.high, "log": p.log}
                )
                for p in self.space
            ],
            "trials": self.n_trials,
            "replications": self.replications,
            "reevaluate": self.reevaluate,
            "seed": self.seed,
            "alpha": self.alpha,
            "best_trial": self.best_trial,
            "best_params": {k: clean(v) for k, v in self.best_params.items()},
            "best_strategy": self.best_strategy,
            "scenario_values": {k: clean(v) for k, v in self.scenario_values.items()},
            "best_search_value": clean(self.best_search_value),
            "best": {"mean": clean(self.best_mean), "ci": [clean(x) for x in self.best_ci]},
            "defaults": {
                "mean": clean(self.default_mean),
                "ci": [clean(x) for x in self.default_ci],
            },
            "best_minus_defaults": {k: clean(v) for k, v in self.diff.items()},
            "improved": self.improved,
            "trials_table": [
                {k: clean(v) for k, v in r.items()} for r in self.trials.to_dict("records")
            ],
            "conventions": list(self.notes),
            "elapsed_s": self.elapsed_s,
        }

    def _repr_html_(self) -> str:
        best = pd.DataFrame({"setting": list(self.best_params), "value": self.best_params.values()})
        return (
            f"<div><pre>{html.escape(self.summary())}</pre>"
            f"{best.to_html(index=False)}{self.trials.tail(10).to_html(index=False)}</div>"
        )

    def plot(self, ax: Any = None) -> Any:
        """Objective per trial and the best so far (matplotlib); returns the figure."""
        if ax is None:
            from lifesim._figure import subplots

            fig, ax = subplots(figsize=(7, 4))
        else:
            fig = ax.figure
        t = self.trials
        ax.scatter(t["trial"], t["objective"], s=14, alpha=0.6, label="trial (search seeds)")
        ax.step(t["trial"], t["best_so_far"], where="post", color="C1", label="best so far")
        lo, hi = self.best_ci
        ax.errorbar(
            [t["trial"].max() + 1],
            [self.best_mean],
            yerr=[[self.best_mean - lo], [hi - self.best_mean]],
            fmt="D",
            color="C2",
            capsize=4,
            label="best, fresh seeds (CI)",
        )
        ax.axhline(self.default_mean, color="grey", ls="--", lw=1, label="defaults, fresh seeds")
        ax.set_xlabel("trial")
        ax.set_ylabel(f"{self.objective} (mean over replications)")
        ax.set_title(f"optimize {self.strategy}: {self.objective} per trial")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    def save(self, out: Any, *, overwrite: bool = False, inputs: Sequence[Any] = ()) -> Any:
        """Write the run folder atomically: tables, summary, JSON, plot, best scenario."""
        import json
        from datetime import datetime
        from pathlib import Path

        from lifesim._io import atomic_dir
        from lifesim._version import __version__
        from lifesim.config import dump_scenario

        with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
            self.trials.to_parquet(tmp / "trials.parquet", index=False)
            self.reevaluation.to_parquet(tmp / "reevaluation.parquet", index=False)
            (tmp / "summary.txt").write_text(self.summary() + "\n", "utf-8")
            d = self.to_dict()
            d.pop("trials_table")
            (tmp / "result.json").write_text(json.dumps(d, indent=2, allow_nan=False), "utf-8")
            best, _ = apply_point(
                self.scenario,
                self.strategy,
                self.space,
                {p.path: self._value_of(p) for p in self.space},
            )
            (tmp / "best_scenario.yaml").write_text(dump_scenario(best), "utf-8")
            fig = self.plot()
            fig.savefig(tmp / "objective_vs_trial.png", dpi=110)
            manifest = {
                "lifesim_version": __version__,
                "command": "optimize",
                "seed": self.seed,
                "time": datetime.now().isoformat(timespec="seconds"),
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
        return Path(out)

    def _value_of(self, p: SearchParam) -> Any:
        return self.best_params.get(p.target, p.default)


def optimize(
    scenario: ScenarioLike = None,
    strategy: str = "stage_focused",
    *,
    space: Sequence[Range | str],
    objective: str | None = None,
    trials: int = 50,
    replications: int | None = None,
    reevaluate: int | None = None,
    seed: SeedLike = None,
    jobs: int = 1,
    alpha: float = 0.05,
    progress: ProgressLike = None,
    backend: str | None = None,
    trust_code: bool = False,
) -> OptimizationResult:
    """Search ``strategy``'s settings for the best mean ``objective`` (Optuna TPE, CRN).

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
        The scenario (``None``: the embedded default).
    strategy : str
        A strategy name from the scenario.
    space : sequence of Range or str
        ``PATH=low:high[:n][:log]`` or ``PATH=a,b,c`` (see :func:`lifesim.config.parse_range`);
        ``PATH`` is tried as ``strategies.<strategy>.PATH`` first (``split.retention``,
        ``execution.min_gap_days``), else as a scenario path (``budget.per_period``). A
        whole-number default with whole-number ends is searched over integers.
    objective : str, optional
        Metric to optimise (default: the scenario's ``compare.objective``); its direction is
        :data:`lifesim.metrics.METRICS`' ``higher_is_better``.
    trials : int
        Points evaluated by the search.
    replications : int, optional
        Replications per trial, the same seeds for every trial (default: the scenario's).
    reevaluate : int, optional
        Fresh replications on which the best point and the defaults are re-run (default:
        ``replications``), >= 2.
    seed : int, SeedSequence, Generator or None
        Root seed (default: the scenario's): search seeds, fresh seeds and the sampler's seed
        are three disjoint children of it.
    jobs : int
        Parallel workers for a trial's replications (joblib); results do not depend on it.
    alpha : float
        1 - confidence level.
    progress : callable(done, total), True or None
        Called after each trial and after the re-evaluation; ``True`` shows a progress bar
        (see :mod:`lifesim._progress`).
    backend : str, optional
        joblib backend (e.g. ``"dask"`` inside a ``dask.distributed`` client).
    trust_code : bool
        Allow ``custom`` strategies.

    Returns
    -------
    OptimizationResult
    """
    import optuna

    t0 = time.perf_counter()
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if strategy not in scn.strategies:
        raise ConfigError(
            [("strategy", f"unknown strategy {strategy!r}; known: {', '.join(scn.strategies)}")]
        )
    check_trust(scn, [strategy], trust_code)
    if trust_code:
        scn = trusted(scn)
    key = "objective" if objective else "compare.objective"  # the scenario's, by its key
    objective = objective or scn.compare.objective
    if objective not in METRICS:
        raise ConfigError([(key, f"unknown metric {objective!r}; allowed: {', '.join(METRICS)}")])
    trials = check_int("trials", trials, min=1, max=100_000)
    reps = scn.compare.replications if replications is None else replications
    reps = check_int("replications", reps, min=1, max=MAX_REPLICATIONS)
    fresh_n = reps if reevaluate is None else reevaluate
    fresh_n = check_int("reevaluate", max(fresh_n, 2) if reevaluate is None else fresh_n, min=2)
    check_jobs("jobs", jobs)
    check_prob("alpha", alpha)
    params, base = resolve_space(scn, strategy, space)
    higher = METRICS[objective].higher_is_better

    root = as_seed_sequence(scn.seed if seed is None else seed)
    branches = spawn_seeds(root, 3)
    search_seeds = spawn_seeds(branches[0], reps)
    fresh_seeds = spawn_seeds(branches[1], fresh_n)
    sampler = optuna.samplers.TPESampler(seed=int(branches[2].generate_state(1)[0]))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if higher else "minimize", sampler=sampler)

    rows: list[dict[str, Any]] = []
    total = trials + 1
    progress = as_progress(progress, total, "optimize", "trials")
    for i in range(trials):
        trial = study.ask()
        point = {}
        for p in params:
            if p.kind == "categorical":
                point[p.path] = trial.suggest_categorical(p.path, list(p.values))
            elif p.kind == "int":
                point[p.path] = trial.suggest_int(p.path, int(p.low), int(p.high), log=p.log)
            else:
                point[p.path] = trial.suggest_float(p.path, p.low, p.high, log=p.log)
        scn_i, flat = apply_point(scn, strategy, params, point, base)
        vals = _evaluate(scn_i, strategy, search_seeds, objective, jobs, backend)
        mean = float(np.mean(vals))
        study.tell(trial, mean)
        sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else math.nan
        rows.append({"trial": i, **flat, "objective": mean, "sd": sd})
        if progress is not None:
            progress(i + 1, total)
    table = pd.DataFrame(rows)
    obj = table["objective"]
    table["best_so_far"] = obj.cummax() if higher else obj.cummin()
    best_i = int(study.best_trial.number)
    best_row = table.iloc[best_i]
    best_params = {
        k: (v.item() if hasattr(v, "item") else v)
        for k, v in best_row.items()
        if k not in ("trial", "objective", "sd", "best_so_far")
    }
    best_scn, _ = apply_point(scn, strategy, params, dict(study.best_trial.params), base)
    fresh_best = _evaluate(best_scn, strategy, fresh_seeds, objective, jobs, backend)
    fresh_def = _evaluate(scn, strategy, fresh_seeds, objective, jobs, backend)
    if progress is not None:
        progress(total, total)
    bm, _, blo, bhi = mean_ci(fresh_best, alpha)
    dm, _, dlo, dhi = mean_ci(fresh_def, alpha)
    reeval = pd.DataFrame(
        {"replication": np.arange(fresh_n), "best": fresh_best, "defaults": fresh_def}
    )
    notes = [
        f"common random numbers: every trial ran the same {reps} replication seeds; a trial's "
        f"{objective} is the mean over them",
        f"search: Optuna TPE sampler, seeded from the root seed {int(root.entropy)}; "
        "the result does not depend on --jobs",
        f"re-evaluation: the best trial and the strategy's defaults re-run on {fresh_n} fresh "
        f"seeds (disjoint from the search's); CIs are t intervals, best - defaults a paired t",
    ]
    if any(".split." in p.target for p in params):
        notes.append(SPLIT_RULE)
    if reps < 5:
        notes.append(f"only {reps} replications per trial: noise may still steer the search")
    return OptimizationResult(
        scenario=scn,
        strategy=strategy,
        objective=objective,
        higher_is_better=higher,
        space=tuple(params),
        trials=table,
        best_trial=best_i,
        best_params=best_params,
        best_search_value=float(best_row["objective"]),
        reevaluation=reeval,
        best_mean=bm,
        best_ci=(blo, bhi),
        default_mean=dm,
        default_ci=(dlo, dhi),
        diff=paired_diff(fresh_best, fresh_def, alpha),
        replications=reps,
        reevaluate=fresh_n,
        n_trials=trials,
        seed=int(root.entropy),
        alpha=alpha,
        elapsed_s=time.perf_counter() - t0,
        notes=tuple(notes),
        best_strategy=scenario_to_dict(best_scn)["strategies"][strategy],
    )
