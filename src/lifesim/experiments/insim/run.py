"""Run one experiment inside the simulator, analyse it, and compute the true effect.

The truth of arm ``a`` on a metric is ``E[Y(a) - Y(control)]`` per person: every arm is run over
the whole market (everyone assigned to it, the full budget) with the same seed as the control
run (common random numbers), the per-person differences are averaged over the people of
``truth_replications`` markets, and its simulation error comes from the spread between those
independent markets (people of one market share its budget and dynamics, so their differences
are not independent). An arm's run over the whole market is a plain rollout of its strategy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import joblib
import numpy as np
import pandas as pd

from lifesim import ab
from lifesim._checks import check_choice, check_int
from lifesim._progress import ProgressLike, as_progress
from lifesim._random import SeedLike, as_seed_sequence, spawn_seeds
from lifesim.config import Scenario, ScenarioLike, load_scenario, resolve
from lifesim.config.experiment import Experiment
from lifesim.config.scenario import StrategySpec
from lifesim.engine import simulate
from lifesim.errors import ConfigError
from lifesim.experiments.insim.dataset import (
    COVARIATE_OF,
    cluster_frame,
    is_proportion,
    metric_values,
    person_frame,
    stage_at_assignment,
)
from lifesim.experiments.insim.design import ArmRouter, assign
from lifesim.experiments.insim.result import ExperimentResult
from lifesim.model import custom_targets, make_strategy, trusted, untrusted_error

__all__ = [
    "check_experiment_trust",
    "run_experiment",
    "true_effects",
    "analyse_dataset",
    "simulate_experiment",
    "resolve_experiment",
    "child_seed",
]

Progress = Callable[[int, int], None]


def child_seed(root: np.random.SeedSequence, tag: int) -> np.random.SeedSequence:
    """Return a child seed of ``root`` for one purpose (1: audit repeats, 2: truth runs)."""
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, 0x45_58_50, tag), pool_size=root.pool_size
    )


def resolve_experiment(
    scenario: ScenarioLike,
    customers: int | None = None,
    days: int | None = None,
    design: str | None = None,
    clusters: int | None = None,
    trust_code: bool = False,
) -> tuple[Scenario, Experiment]:
    """Load a scenario, apply overrides, and return it with its experiment.

    Parameters
    ----------
    scenario : Scenario, mapping or path
    customers, days : int, optional
        Override the market size and horizon.
    design : {'person', 'market'}, optional
        Override ``experiment.design.unit``.
    clusters : int, optional
        Override ``experiment.design.clusters``.
    trust_code : bool
        Allow arms with ``custom`` strategies to run the code they name (refused otherwise).

    Raises
    ------
    ConfigError
        If the scenario has no ``experiment:`` block, or the overrides make it invalid.
    """
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    scn = resolve(scn, customers, days)
    if scn.experiment is None:
        raise ConfigError(
            [("experiment", "the scenario has no 'experiment:' block (arms, metrics, start)")]
        )
    upd: dict[str, Any] = {}
    if design is not None:
        upd["unit"] = check_choice("design", design, ("person", "market"))
    if clusters is not None:
        upd["clusters"] = check_int("clusters", clusters, min=1)
    if upd:
        exp = scn.experiment
        exp = exp.model_copy(update={"design": exp.design.model_copy(update=upd)})
        scn = scn.model_copy(update={"experiment": exp})
    if days is not None or customers is not None or upd:  # windows fit, regions are filled
        from lifesim.config.experiment import check_experiment

        problems = check_experiment(scn)
        if problems:
            raise ConfigError(problems)
    check_experiment_trust(scn, trust_code)
    if trust_code:
        scn = trusted(scn)
    return scn, scn.experiment


def check_experiment_trust(scn: Scenario, trust_code: bool = False) -> None:
    """Refuse arms whose strategy is ``custom`` code unless the user trusted it.

    Raises
    ------
    ConfigError
        Naming the key path of each ``custom`` target and how to trust it.
    """
    if trust_code or scn._trust_code or scn.experiment is None:
        return
    found: dict[str, str] = {}
    for a, arm in scn.experiment.arms.items():
        spec = arm.strategy
        if isinstance(spec, str):
            found.update(
                {f"strategies.{n}.target": t for n, t in custom_targets(scn, [spec]).items()}
            )
        elif dict(spec).get("type") == "custom":
            found[f"experiment.arms.{a}.strategy.target"] = str(dict(spec).get("target"))
    if found:
        raise untrusted_error(found)


def _strategy(scn: Scenario, spec: str | Mapping[str, Any], label: str = "") -> Any:
    if isinstance(spec, str):
        return make_strategy(scn, spec)
    try:
        return make_strategy(scn, StrategySpec.model_validate(dict(spec)))
    except ConfigError as exc:  # an inline spec is built as 'custom': name it by its arm
        where = f"experiment.arms.{label}.strategy"
        raise ConfigError(
            [(p.replace("strategies.custom", where, 1), m) for p, m in exc.problems]
        ) from None


def _broadcasts(scn: Scenario) -> set[str]:
    return {t for t, spec in scn.tactics.items() if spec.mode == "broadcast"}


def _router(
    scn: Scenario,
    exp: Experiment,
    assignment: np.ndarray | Callable[[int], np.ndarray],
    shares: list[float],
) -> ArmRouter:
    arms = {a: _strategy(scn, arm.strategy, a) for a, arm in exp.arms.items()}
    names = list(scn.stages)
    eligible = None if exp.eligible is None else np.array([names.index(s) for s in exp.eligible])
    if eligible is None and scn.market.arrivals is not None:
        # the people in the market on the assignment day: not those still to arrive
        # (their windows would open before they exist, diluting every effect)
        eligible = np.arange(len(names))
    return ArmRouter(
        arms,
        assignment,
        shares,
        eligible=eligible,
        control=exp.control_arm,
        exposure=exp.exposure(scn.days),
        broadcasts=_broadcasts(scn),
        period_days=scn.budget.period_days,
        days=scn.days,
    )


def _one_market(
    scn: Scenario,
    exp: Experiment,
    seed: SeedLike,
    assigner: Callable[[int], np.ndarray],
    shares: list[float],
    cluster: int | None = None,
    initial: Any = None,
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    router = _router(scn, exp, assigner, shares)
    res = simulate(scn, seed=seed, strategy=router, initial=_start(initial, seed))
    router.assign_from(stage_at_assignment(res, exp.start))  # if no arm used a tactic
    n = res.customers

    def cost(lo: int, hi: int) -> np.ndarray:
        return router.log.per_person(n, lo, hi)

    df = person_frame(res, exp, router.labels, router.assignment, cost, cluster)
    return df, router.dropped


def _start(initial: Any, seed: Any) -> Any:
    """Return the market at day 0: ``initial(seed)`` for a log's customers (``--from-log``)."""
    return initial(as_seed_sequence(seed)) if callable(initial) else initial


def check_arm_units(exp: Experiment, data: pd.DataFrame) -> None:
    """Refuse an arm that got no units: nothing could be compared for it.

    Each arm gets ``round(share x units)`` units (the last the remainder), so a tiny share of a
    small market or of a few regions gets none. The message names the arm, its share, the
    units it got and what would give it some.
    """
    counts = data["arm"].value_counts()
    n = len(data)
    arms = exp.shares()
    market = exp.design.unit == "market"
    for label, share in arms.items():
        if counts.get(label, 0) > 0:
            continue
        # enough units for every arm, whatever the rounding: share x n - (arms - 1) / 2 >= 1
        need = math.ceil((1 + (len(arms) - 1) / 2) / share)
        what = "regions" if market else "people in the experiment"
        if market:
            fix = f"more regions (experiment.design.clusters, at least {need} for this share)"
        else:
            fix = f"a larger market (at least {need:,} people in the experiment for this share)"
        raise ConfigError(
            [
                (
                    f"experiment.arms.{label}.share",
                    f"arm {label!r} (share {share:g}) got 0 of the {n:,} {what} (share x "
                    f"{n:,} = {share * n:.3g}, rounded to whole units), so it cannot be "
                    f"compared with the others; give it a larger share or use {fix}",
                )
            ]
        )


def simulate_experiment(
    scn: Scenario, exp: Experiment, seed: SeedLike, initial: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame | None, dict[str, list[str]]]:
    """Simulate the experiment once: randomise, expose each arm to its strategy, read metrics.

    Parameters
    ----------
    scn : Scenario
    exp : Experiment
    seed : int, SeedSequence, Generator or None
    initial : mapping or callable(seed) -> mapping, optional
        The market at day 0 (e.g. a log's customers, see
        :func:`~lifesim.experiments.calibration.state.state_from_log`); person-level
        designs only.

    Returns
    -------
    people : DataFrame
        The per-person dataset (see :func:`~lifesim.experiments.insim.dataset.person_frame`).
    clusters : DataFrame or None
        Market-level designs: one row per region (cluster means).
    dropped : dict of str to list of str
        Broadcast tactics each arm's strategy could not use.
    """
    seed = as_seed_sequence(seed)
    shares = list(exp.shares().values())
    n = scn.market.size
    if exp.design.unit == "person":
        df, dropped = _one_market(
            scn, exp, seed, lambda k: assign(k, shares, seed), shares, initial=initial
        )
        check_arm_units(exp, df)
        return df, None, dropped
    if initial is not None:
        raise ConfigError(
            [
                (
                    "initial",
                    "only with a person-level design (experiment.design.unit: person): a "
                    "market-level design splits the market into regions, the log's customers "
                    "have none; got design.unit 'market'",
                )
            ]
        )
    k = exp.design.clusters
    cluster_arm = assign(k, shares, seed)
    check_arm_units(exp, pd.DataFrame({"arm": np.array(list(exp.arms))[cluster_arm]}))
    seeds = spawn_seeds(seed, k)
    frames, dropped = [], {}
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    for c in range(k):
        sub = resolve(scn, int(sizes[c]), None)
        one_hot = [1.0 if i == cluster_arm[c] else 0.0 for i in range(len(shares))]
        arm = int(cluster_arm[c])
        df, dropped = _one_market(
            sub, exp, seeds[c], lambda k, a=arm: np.full(k, a), one_hot, cluster=c
        )
        frames.append(df)
    people = pd.concat(frames, ignore_index=True)
    return people, cluster_frame(people, exp), dropped


def _truth_task(
    scn: Scenario, exp: Experiment, seed: np.random.SeedSequence, arm: int, initial: Any = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    shares = [1.0 if i == arm else 0.0 for i in range(len(exp.arms))]
    router = _router(scn, exp, lambda k: np.full(k, arm), shares)
    res = simulate(scn, seed=seed, strategy=router, initial=_start(initial, seed))
    n = res.customers  # market.size plus the people who arrived (market.arrivals)
    router.assign_from(stage_at_assignment(res, exp.start))  # if no arm used a tactic
    values = metric_values(res, exp, lambda lo, hi: router.log.per_person(n, lo, hi))
    inside = router.assignment >= 0  # the eligible people (the same under every arm: CRN)
    return {k: v[inside] for k, v in values.items()}, np.flatnonzero(inside)


def _truth_se(per_market: list[np.ndarray]) -> tuple[float, str]:
    """Return the standard error of the pooled mean difference, and what it rests on.

    People of one market share its budget and dynamics, so their differences are not
    independent; the markets are. With ``R >= 2`` markets of ``m_r`` people and mean difference
    ``e_r`` (pooled mean ``e = sum m_r e_r / M``), the error is that of a ratio of market totals:
    ``sqrt(R / (R - 1) * sum (m_r (e_r - e))^2) / M`` (``sd(e_r) / sqrt(R)`` for equal sizes).
    With one market there is no spread between markets: the pooled person-level standard error
    is returned instead, labelled ``"people"`` (it understates the error).
    """
    sizes = np.array([x.size for x in per_market], dtype=float)
    total = float(sizes.sum())
    r = len(per_market)
    if r >= 2 and (sizes > 0).all():
        means = np.array([x.mean() for x in per_market])
        pooled = float((sizes * means).sum() / total)
        dev = sizes * (means - pooled)
        return float(np.sqrt(r / (r - 1) * float((dev**2).sum())) / total), "markets"
    d = np.concatenate(per_market) if per_market else np.empty(0)
    if d.size > 1:
        return float(d.std(ddof=1) / np.sqrt(d.size)), "people"
    return float("nan"), "people"


def true_effects(
    scn: Scenario,
    exp: Experiment,
    seeds: list[np.random.SeedSequence],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    initial: Any = None,
) -> pd.DataFrame:
    """Compute the true effect of every arm on every metric, with its simulation error.

    Every arm is run over the whole market (everyone assigned to it, the whole budget) with
    each seed; the same seed for every arm gives common random numbers, so the per-person
    differences ``Y_i(arm) - Y_i(control)`` are paired.

    Parameters
    ----------
    scn : Scenario
    exp : Experiment
    seeds : list of SeedSequence
        One per market (replication).
    jobs : int
        joblib workers; results do not depend on it.
    progress : callable(done, total), optional
    initial : mapping or callable(seed) -> mapping, optional
        The market at day 0 of every run (a callable is called with each market's seed).

    Returns
    -------
    DataFrame
        One row per (metric, arm) other than control: ``metric``, ``arm``, ``control``,
        ``true_effect`` (mean per-person difference over the ``people`` of all markets),
        ``truth_se`` (its standard error from the spread between the ``replications``
        independent markets; see :func:`_truth_se`), ``truth_se_from`` (``"markets"``; with a
        single market ``"people"``: the pooled person-level error, which understates it),
        ``control_value``, ``arm_value`` (means under everyone-control and everyone-arm),
        ``replications``, ``people``.
    """
    labels = list(exp.arms)
    ctrl = labels.index(exp.control_arm)
    tasks = [(r, a) for r in range(len(seeds)) for a in range(len(labels))]
    par = joblib.Parallel(n_jobs=jobs, return_as="generator")
    gen = par(joblib.delayed(_truth_task)(scn, exp, seeds[r], a, initial) for r, a in tasks)
    values: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    who: dict[tuple[int, int], np.ndarray] = {}
    for i, (task, (out, inside)) in enumerate(zip(tasks, gen, strict=True)):
        values[task], who[task] = out, inside
        if progress is not None:
            progress(i + 1, len(tasks))
    for r, a in tasks:
        if not np.array_equal(who[(r, a)], who[(r, ctrl)]):  # pragma: no cover - a bug guard
            raise RuntimeError("the eligible people differ between arms: no common random numbers")
    rows = []
    for name in exp.metrics:
        base = np.concatenate([values[(r, ctrl)][name] for r in range(len(seeds))]).astype(float)
        for a, label in enumerate(labels):
            if a == ctrl:
                continue
            arm = np.concatenate([values[(r, a)][name] for r in range(len(seeds))]).astype(float)
            d = arm - base
            m = d.size
            per_market = [
                values[(r, a)][name].astype(float) - values[(r, ctrl)][name].astype(float)
                for r in range(len(seeds))
            ]
            se, basis = _truth_se(per_market)
            rows.append(
                {
                    "metric": name,
                    "arm": label,
                    "control": labels[ctrl],
                    "true_effect": float(d.mean()),
                    "truth_se": se,
                    "truth_se_from": basis,
                    "control_value": float(base.mean()),
                    "arm_value": float(arm.mean()),
                    "replications": len(seeds),
                    "people": m,
                }
            )
    return pd.DataFrame(rows)


def analysis_metrics(exp: Experiment, clusters: bool = False) -> list[tuple[str, str, Any]]:
    """List the analyses of each metric: ``(metric, method, ab metric)``.

    ``plain``: a proportion metric with the two-proportion z-test (pooled SE;
    Farrington-Manning score CI), a mean metric with Welch's t-test. ``cuped``: every metric as
    a mean adjusted by its pre-period covariate
    (:data:`~lifesim.experiments.insim.dataset.COVARIATE_OF`), Welch's t-test on the adjusted
    values, when the experiment starts after day 0. On cluster means (market-level designs)
    every metric is a mean (Welch).
    """
    out: list[tuple[str, str, Any]] = []
    for name, m in exp.metrics.items():
        if is_proportion(m.kind) and not clusters:
            out.append((name, "plain", ab.Proportion(name)))
        else:
            out.append((name, "plain", ab.Mean(name)))
        cov = COVARIATE_OF.get(m.kind)
        if cov is not None and exp.start > 0:
            out.append((name, "cuped", ab.Mean(name, covariate=cov, name=f"{name} [cuped]")))
    return out


def analyse_dataset(
    data: pd.DataFrame, exp: Experiment, clusters: bool = False
) -> tuple[ab.ABResult, pd.DataFrame]:
    """Analyse an experiment dataset with :func:`lifesim.ab.analyze` (no p-value correction).

    Returns
    -------
    ABResult
        The full analysis.
    DataFrame
        One row per (metric, method, arm): ``estimate``, ``se``, ``ci_low``, ``ci_high``,
        ``p_value``, ``significant``, ``test`` (the test in words).
    """
    plan = analysis_metrics(exp, clusters)
    res = ab.analyze(
        data,
        arm="arm",
        control=exp.control_arm,
        metrics=[m for _, _, m in plan],
        alpha=exp.alpha,
        correction="none",
        expected_split=exp.shares(),
    )
    label = {spec.label: (name, method) for name, method, spec in plan}
    rows = []
    for c in res.comparisons:
        name, method = label[c.metric]
        rows.append(
            {
                "metric": name,
                "method": method,
                "arm": c.arm,
                "control": c.control,
                "estimate": c.abs_effect,
                "se": c.se,
                "ci_low": c.abs_ci[0],
                "ci_high": c.abs_ci[1],
                "p_value": c.p_value,
                "significant": bool(c.p_value < exp.alpha),
                "test": c.method,
            }
        )
    return res, pd.DataFrame(rows)


def caveats_of(scn: Scenario, exp: Experiment, dropped: Mapping[str, list[str]]) -> list[str]:
    """Design caveats: broadcasts left out, referral spillovers across arms."""
    notes = []
    for arm, ts in dropped.items():
        if ts:
            notes.append(
                f"arm {arm!r}: broadcast tactic(s) {ts} reach everyone in their stages and "
                "cannot be randomised per person; left out of every arm and of the truth runs"
            )
    if exp.design.unit == "market" and scn.support is not None:
        notes.append(
            f"{scn.support.name} staff are scaled to each region and rounded to whole agents "
            "(at least one): per-person capacity can differ from the whole market's"
        )
    if exp.design.unit == "person":
        for label, arm in exp.arms.items():
            if label == exp.control_arm:
                continue
            strat = _strategy(scn, arm.strategy, label)
            refs = sorted(t for t in strat.tactics() if scn.tactics[t].referral is not None)
            if refs:
                notes.append(
                    f"arm {label!r} uses referral tactic(s) {refs}: referred people are drawn "
                    "from the whole market, so some land in other arms (interference); the "
                    "estimate can be biased - consider design: {unit: market}"
                )
    return notes


def run_experiment(
    scenario: ScenarioLike = None,
    *,
    seed: SeedLike = None,
    customers: int | None = None,
    days: int | None = None,
    truth_replications: int | None = None,
    jobs: int = 1,
    progress: ProgressLike = None,
    trust_code: bool = False,
    initial: Any = None,
) -> ExperimentResult:
    """Run the scenario's experiment once, analyse it, and set the true effect beside it.

    Parameters
    ----------
    scenario : Scenario, mapping or path
        A scenario with an ``experiment:`` block.
    seed : int, SeedSequence, Generator or None
        Root seed (default: the scenario's). The experiment's market uses it; truth
        replication 0 uses it too (the same market under each arm), the others use children.
    customers, days : int, optional
        Override the market size and horizon.
    truth_replications : int, optional
        Markets the truth is averaged over (default: ``experiment.truth_replications``).
    jobs : int
        joblib workers for the truth runs; results do not depend on it.
    progress : callable(done, total), True or None
        Called as simulations finish; ``True`` shows a progress bar (see
        :mod:`lifesim._progress`).
    trust_code : bool
        Allow arms with ``custom`` strategies to run the code they name.
    initial : mapping or callable(seed) -> mapping, optional
        Start every market from this state instead of an empty market, e.g. a log's real
        customers (``lifesim experiment run --from-log LOG --as-of DATE``); a callable is
        called with each market's seed. Person-level designs only.

    Returns
    -------
    ExperimentResult
    """
    t0 = time.perf_counter()
    scn, exp = resolve_experiment(scenario, customers, days, trust_code=trust_code)
    reps = exp.truth_replications if truth_replications is None else truth_replications
    reps = check_int("truth_replications", reps, min=1)
    root = as_seed_sequence(scn.seed if seed is None else seed)
    total = 1 + reps * len(exp.arms)
    progress = as_progress(progress, total, "experiment run", "runs")
    people, clusters, dropped = simulate_experiment(scn, exp, root, initial)
    if progress is not None:
        progress(1, total)
    seeds = [root, *spawn_seeds(child_seed(root, 2), reps - 1)]

    def step(done: int, _tot: int) -> None:
        if progress is not None:
            progress(1 + done, total)

    truth = true_effects(scn, exp, seeds, jobs=jobs, progress=step, initial=initial)
    data = clusters if clusters is not None else people
    analysis, estimates = analyse_dataset(data, exp, clusters=clusters is not None)
    table = estimates.merge(
        truth[["metric", "arm", "true_effect", "truth_se"]], on=["metric", "arm"], how="left"
    )
    table["covers_truth"] = (table["ci_low"] <= table["true_effect"]) & (
        table["true_effect"] <= table["ci_high"]
    )
    notes = caveats_of(scn, exp, dropped) + list(analysis.warnings)
    if reps < 5:
        notes.append(
            f"truth_se comes from the spread between {reps} market(s) "
            + ("(none: the pooled person-level error, which understates it)" if reps == 1 else
               f"({reps - 1} degree(s) of freedom: a rough error, which can even be 0)")
            + "; use --truth-replications 10 for a firmer one"
        )  # fmt: skip
    return ExperimentResult(
        scenario=scn,
        experiment=exp,
        seed=int(root.entropy),
        people=people,
        clusters=clusters,
        analysis=analysis,
        estimates=table,
        truth=truth,
        caveats=tuple(notes),
        elapsed_s=time.perf_counter() - t0,
    )
