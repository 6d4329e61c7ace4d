"""Peeking: an experiment read every day (or at ``N`` looks), with three tests at every look.

Who enters when: a person-level experiment randomises everyone on one day (``experiment.start``;
the dataset records no entry day because there is only one), so the units do not grow between
looks - each metric's window does. At look day ``d`` a metric with window ``[lo, hi)`` is read
over ``[lo, d)`` (``retained``: the stage at the end of day ``d - 1``); ``--peek daily`` looks at
every ``d`` in ``(lo, hi]``, ``--peek N`` at ``N`` days spaced evenly over it (the last is
``hi``: the planned read-out).

At every look, per arm against control (plain analyses; CUPED is not peeked at), the effect
``d_k`` (difference in means) and its standard error ``se_k`` (unpooled) give ``z_k``, and:

* ``naive``: the fixed-horizon test, ``|z_k| > z_(1 - alpha/2)``, applied at every look;
* ``always-valid``: the asymptotic confidence sequence of :mod:`lifesim.ab.sequential`
  (Waudby-Smith et al. 2023 with Howard et al.'s normal-mixture boundary),
  ``|z_k| > boundary_factor(u_k, alpha)``;
* ``group-sequential``: Lan-DeMets O'Brien-Fleming spending, ``|z_k| > c_k`` with ``c_k`` from
  :func:`lifesim.ab.gsd.boundaries`.

Intrinsic time: a window's metric is a sum of per-day increments over the same people, so the
effect estimate behaves as a Brownian motion whose variance ``V_k = se_k^2`` grows with the
look. Both sequential methods run on that clock: ``u_k = rho^2 t_star V_k / V_K`` for the
confidence sequence (``rho`` tightest at the last look, as ``ab.sequential``'s default), and
information fractions ``V_k / V_K`` for the spending function, with ``V_k`` the planned
variance: its mean over the repeats of the same version. (With units entering over time, as
in ``ab.sequential``, ``V_k`` is proportional to the units and both reduce to its forms.)
``retained`` is a state, not a sum: its variance need not grow with the look, so both
sequential methods run on calendar time there (days since assignment over the window's
length) - an approximation: its increments are not independent.

A method stops at its first rejecting look (``stop_day``: days since assignment; the last look
when it never rejects); its interval at that look (naive: the fixed-horizon CI; always-valid:
the confidence sequence; group-sequential: the repeated confidence interval ``d +- c_k se``)
is judged against the true effect on the metric as read at that look (everyone under each arm,
common random numbers, ``truth_replications`` markets).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from lifesim.ab import gsd
from lifesim.ab.sequential import boundary_factor, tightest_u
from lifesim.config import Scenario
from lifesim.config.experiment import Experiment
from lifesim.engine import simulate
from lifesim.errors import ConfigError
from lifesim.experiments.insim.dataset import (
    _initial_stage,
    person_frame,
    stage_at,
    stage_at_assignment,
)
from lifesim.experiments.insim.design import assign

__all__ = ["METHODS", "look_days", "parse_peek", "look_stats", "summarise_peeking"]

#: The tests applied at every look.
METHODS = ("naive", "always-valid", "group-sequential")


def parse_peek(peek: str | int) -> str | int:
    """Check ``--peek``: ``'daily'`` or a number of looks ``>= 2``.

    Raises
    ------
    ConfigError
        Naming ``peek``, the value and what is allowed.
    """
    if isinstance(peek, str) and peek.strip().lower() == "daily":
        return "daily"
    try:
        n = int(str(peek))
    except ValueError:
        n = 0
    if n < 2 or str(n) != str(peek).strip():
        raise ConfigError(
            [("peek", f"must be 'daily' or a whole number of looks >= 2, got {peek!r}")]
        )
    return n


def look_days(exp: Experiment, days: int, peek: str | int) -> dict[str, np.ndarray]:
    """Return each metric's look days ``d`` (the metric is read over ``[lo, d)``)."""
    out = {}
    for name in exp.metrics:
        lo, hi = exp.window(name, days)
        if peek == "daily" or int(peek) >= hi - lo:
            out[name] = np.arange(lo + 1, hi + 1)
        else:
            k = int(peek)
            out[name] = np.unique(lo + np.ceil(np.arange(1, k + 1) * (hi - lo) / k).astype(int))
    return out


def _sorted_log(log: Any) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    days = np.asarray(log.days, dtype=np.int64)
    order = np.argsort(days, kind="stable")
    return days[order], [log.people[i] for i in order], np.asarray(log.cost)[order]


def look_values(res: Any, exp: Experiment, name: str, looks: np.ndarray, log: Any) -> np.ndarray:
    """Return the metric per person at every look: shape ``(looks, people)``.

    Follows :func:`~lifesim.experiments.insim.dataset.metric_values` with the window cut at
    the look day (the same definitions; the last look at ``hi`` gives its values).
    """
    scn = res.scenario
    n = res.customers
    kind = exp.metrics[name].kind
    lo, _hi = exp.window(name, res.days)
    out = np.empty((len(looks), n))
    if kind == "converted":
        first = res.people["first_customer_day"].to_numpy().astype(np.int64)
        init = res.people["initial_customer"].to_numpy().astype(bool)
        for k, d in enumerate(looks):
            out[k] = (first >= lo) & (first < d) & ~init
        return out
    if kind == "retained":
        kinds = np.array([s == "customer" for s in res.stage_kinds])
        stage = stage_at(res, lo - 1, _initial_stage(res))
        ev = res.events
        edays = ev["day"].to_numpy()
        who = ev["person"].to_numpy()
        to = ev["to_stage"].cat.codes.to_numpy()
        pos = int(np.searchsorted(edays, lo, side="left"))
        for k, d in enumerate(looks):
            end = int(np.searchsorted(edays, d - 1, side="right"))
            if end > pos:
                p, t = who[pos:end], to[pos:end]
                last = ~pd.Series(p).duplicated(keep="last").to_numpy()
                stage[p[last]] = t[last]
                pos = end
            out[k] = kinds[stage]
        return out
    pur = res.purchases
    pdays = pur["day"].to_numpy()
    pwho = pur["person"].to_numpy()
    amount = pur["amount"].to_numpy()
    redeem = np.zeros(len(pur))
    single = {t for t, spec in scn.tactics.items() if spec.single_use}
    if len(pur) and single:
        cause = pur["cause"].astype(str).to_numpy()
        for t in single:
            redeem[cause == t] = scn.tactics[t].cost.per_redemption
    if kind in ("purchased", "orders"):
        w = None
    elif kind == "revenue":
        w = amount
    elif kind == "cost":
        w = redeem
    else:  # profit
        w = scn.economics.margin * amount - redeem
    charge = kind in ("cost", "profit")
    sign = 1.0 if kind == "cost" else -1.0
    ldays, lpeople, lcost = _sorted_log(log) if charge else (np.empty(0), [], np.empty(0))
    acc = np.zeros(n)
    i = int(np.searchsorted(pdays, lo, side="left"))
    j = int(np.searchsorted(ldays, lo, side="left"))
    for k, d in enumerate(looks):
        e = int(np.searchsorted(pdays, d, side="left"))
        if e > i:
            acc += np.bincount(pwho[i:e], weights=None if w is None else w[i:e], minlength=n)
            i = e
        if charge:
            f = int(np.searchsorted(ldays, d, side="left"))
            for m in range(j, f):
                np.add.at(acc, lpeople[m], sign * lcost[m])
            j = f
        out[k] = (acc > 0) if kind == "purchased" else acc
    return out


def _moments(values: np.ndarray, arm: np.ndarray, arms: int) -> tuple[np.ndarray, ...]:
    """Per look and arm: units, mean and variance (ddof 1) of ``values`` ``(looks, people)``."""
    n = np.bincount(arm, minlength=arms).astype(float)
    onehot = np.zeros((len(arm), arms))
    onehot[np.arange(len(arm)), arm] = 1.0
    s1 = values @ onehot
    s2 = (values * values) @ onehot
    mean = s1 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (s2 - n * mean**2) / (n - 1)
    return n, mean, np.maximum(var, 0.0)


def _router_run(scn: Scenario, exp: Experiment, seed: Any, assigner: Any, shares: list[float]):
    from lifesim.experiments.insim.run import _router

    router = _router(scn, exp, assigner, shares)
    res = simulate(scn, seed=seed, strategy=router)
    router.assign_from(stage_at_assignment(res, exp.start))
    return res, router


def look_stats(
    scn: Scenario, exp: Experiment, seed: Any, looks: Mapping[str, np.ndarray]
) -> tuple[pd.DataFrame, dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]]:
    """Simulate the experiment once and read every metric at every look.

    Returns
    -------
    people : DataFrame
        The experiment's dataset (as :func:`~lifesim.experiments.insim.run.simulate_experiment`).
    stats : dict
        ``(metric, arm) -> (d, se)``: effect against control and its standard error per look.
    """
    shares = list(exp.shares().values())
    res, router = _router_run(scn, exp, seed, lambda k: assign(k, shares, seed), shares)
    n = res.customers
    people = person_frame(
        res, exp, router.labels, router.assignment, lambda lo, hi: router.log.per_person(n, lo, hi)
    )
    from lifesim.experiments.insim.run import check_arm_units

    check_arm_units(exp, people)  # an arm with no people has nothing to read at a look
    inside = router.assignment >= 0
    arm = np.asarray(router.assignment, dtype=np.int64)[inside]
    labels = router.labels
    ctrl = labels.index(exp.control_arm)
    stats = {}
    for name, days in looks.items():
        v = look_values(res, exp, name, days, router.log)[:, inside]
        cnt, mean, var = _moments(v, arm, len(labels))
        for a, label in enumerate(labels):
            if a == ctrl:
                continue
            d = mean[:, a] - mean[:, ctrl]
            se = np.sqrt(var[:, a] / cnt[a] + var[:, ctrl] / cnt[ctrl])
            stats[(name, label)] = (d, se)
    return people, stats


def truth_by_look(
    scn: Scenario,
    exp: Experiment,
    seeds: list[np.random.SeedSequence],
    looks: Mapping[str, np.ndarray],
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Return the true effect on each metric as read at each look, and its error.

    Every arm is run over the whole market with each seed (common random numbers), as for
    :func:`~lifesim.experiments.insim.run.true_effects`; the truth at look ``k`` is the pooled
    mean per-person difference, its error the spread of the market truths (``sd / sqrt(R)``
    weighted by market size; 0 with one market).
    """
    labels = list(exp.arms)
    ctrl = labels.index(exp.control_arm)
    means: dict[tuple[str, int], list[np.ndarray]] = {}
    sizes: list[int] = []
    for s in seeds:
        for a in range(len(labels)):
            shares = [1.0 if i == a else 0.0 for i in range(len(labels))]
            res, router = _router_run(scn, exp, s, lambda k, a=a: np.full(k, a), shares)
            inside = router.assignment >= 0
            if a == 0:
                sizes.append(int(inside.sum()))
            for name, days in looks.items():
                v = look_values(res, exp, name, days, router.log)[:, inside]
                means.setdefault((name, a), []).append(v.mean(axis=1))
    m = np.asarray(sizes, dtype=float)
    out = {}
    for name in looks:
        for a, label in enumerate(labels):
            if a == ctrl:
                continue
            e = np.array(means[(name, a)]) - np.array(means[(name, ctrl)])  # (markets, looks)
            pooled = (m[:, None] * e).sum(axis=0) / m.sum()
            r = len(m)
            if r >= 2:
                dev = m[:, None] * (e - pooled)
                se = np.sqrt(r / (r - 1) * (dev**2).sum(axis=0)) / m.sum()
            else:
                se = np.zeros_like(pooled)
            out[(name, label)] = (pooled, se)
    return out


def _thresholds(
    var: np.ndarray, alpha: float, clock: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Rejection thresholds on ``|z|`` per look for each method.

    ``clock``: the sequential methods' time per look, as a fraction of the last look's
    (default: the planned variance ``var`` over its last value).
    """
    k = len(var)
    z = float(norm.ppf(1 - alpha / 2))
    ok = var > 0
    out = {"naive": np.where(ok, z, np.inf)}
    if clock is None:
        last = var[-1] if var[-1] > 0 else np.nan
        frac = var / last
    else:
        frac = np.asarray(clock, dtype=float)
    u = tightest_u(alpha) * frac
    with np.errstate(divide="ignore", invalid="ignore"):
        out["always-valid"] = np.where(
            ok & (u > 0), boundary_factor(np.maximum(u, 1e-300), alpha), np.inf
        )
    c = np.full(k, np.inf)
    idx = np.flatnonzero(ok & np.isfinite(frac))
    if len(idx):
        f = np.maximum.accumulate(np.minimum(frac[idx], 1.0))
        # strictly increasing fractions: of equal ones keep the last (the last look stays)
        keep = np.concatenate([np.diff(f) > 1e-12, [True]])
        bounds, _ = gsd.boundaries(f[keep], alpha, "obf")
        c[idx[keep]] = bounds
    out["group-sequential"] = c
    return out


def _rate_se(p: float, r: int) -> float:
    q = min(max(p, 0.5 / r), 1 - 0.5 / r)
    return float(math.sqrt(q * (1 - q) / r))


def summarise_peeking(
    stats: Mapping[tuple[str, str, str], list[tuple[np.ndarray, np.ndarray]]],
    truth: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]],
    looks: Mapping[str, np.ndarray],
    start: int,
    alpha: float,
    states: frozenset[str] | set[str] = frozenset(),
) -> pd.DataFrame:
    """Summarise the repeats: per (version, metric, arm, method), error rates and stopping.

    ``stats[(version, metric, arm)]`` lists each repeat's ``(d, se)`` per look; A/A rows are
    judged against a truth of 0. Metrics in ``states`` (states, not sums: ``retained``) run
    the sequential methods on calendar time (days since assignment over the window's length).
    """
    rows = []
    for (version, metric, arm), reps in stats.items():
        d = np.array([x[0] for x in reps])  # (repeats, looks)
        se = np.array([x[1] for x in reps])
        r, k = d.shape
        if version == "A/A":
            t, t_se = np.zeros(k), np.zeros(k)
        else:
            t, t_se = truth[(metric, arm)]
        var = np.nanmean(se**2, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, d / se, 0.0)
        days = looks[metric] - start
        clock = days / days[-1] if metric in states else None
        for method, c in _thresholds(var, alpha, clock).items():
            rej = np.abs(z) >= c[None, :]
            stopped = rej.any(axis=1)
            at = np.where(stopped, rej.argmax(axis=1), k - 1)
            rows_ = np.arange(r)
            half = c[at] * se[rows_, at]
            half = np.where(np.isfinite(half), half, np.inf)
            lo, hi = d[rows_, at] - half, d[rows_, at] + half
            cov = (lo <= t[at]) & (t[at] <= hi)
            stop = days[at].astype(float)
            p_rej = float(stopped.mean())
            p_cov = float(cov.mean())
            rows.append(
                {
                    "version": version,
                    "metric": metric,
                    "arm": arm,
                    "method": method,
                    "looks": k,
                    "true_effect": float(t[-1]),
                    "truth_se": float(t_se[-1]),
                    "rejection_rate": p_rej,
                    "rejection_se": _rate_se(p_rej, r),
                    "mean_stop_day": float(stop.mean()),
                    "stop_day_se": float(stop.std(ddof=1) / math.sqrt(r)) if r > 1 else math.nan,
                    "coverage": p_cov,
                    "coverage_se": _rate_se(p_cov, r),
                    "final_boundary": float(c[-1]),
                    "repeats": r,
                }
            )
    return pd.DataFrame(rows)
