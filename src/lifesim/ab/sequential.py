"""``sequential``: an experiment watched every day, with always-valid or group-sequential tests.

Two designs, over the same cumulative per-arm moments (each look reuses the metric kind's own
analysis of its sufficient statistics: proportions, means, ratios, CUPED):

* ``'always-valid'``: asymptotic confidence sequences (Waudby-Smith, Arnold, Wu, Wang and Ramdas
  2023, "Time-uniform central limit theory and asymptotic confidence sequences", Ann. Statist.),
  with the two-sided normal-mixture boundary of Howard, Ramdas, McAuliffe and Sekhon (2021,
  "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist., eq. 14 for
  the one-sided form). At a look with ``t`` units in the two arms compared, effect ``d`` and
  standard error ``se``, and ``u = rho^2 t``::

      two-sided:  d +- se sqrt((u + 1) / u * (log(u + 1) + 2 log(1 / alpha)))
      one-sided:  d -  se sqrt((u + 1) / u * 2 log(sqrt(u + 1) / (2 alpha) + 1))

  They cover the effect at every look at once with probability ``1 - alpha`` (asymptotically),
  so one may look every day and stop at any time. The always-valid p-value is the smallest
  ``alpha`` whose sequence excludes 0 up to that look (closed form; a running minimum).
  ``rho`` sets where the boundary is tightest: it minimises the width at ``t_star`` units
  (default: the units at the last look, i.e. the planned size when the analysis is run at the
  end; set ``planned_n`` while the experiment runs so earlier looks do not move).
* ``'group-sequential'``: Lan-DeMets alpha spending at a few looks (:mod:`lifesim.ab.gsd`),
  with information fractions from the data (units at the look over units at the last look).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import optimize

from lifesim.ab import gsd
from lifesim.ab._looks import Looks, choose_looks, read_looks
from lifesim.ab.analyze import _check_args, _order_arms, _rows
from lifesim.ab.metrics import Metric
from lifesim.ab.seqresult import Decision, Look, SequentialResult
from lifesim.errors import DataError

__all__ = ["sequential", "DESIGNS", "tightest_u", "boundary_factor", "log_pvalue"]

#: Designs of :func:`sequential`.
DESIGNS = ("always-valid", "group-sequential")
_LN10 = math.log(10.0)


def _g(u: float | np.ndarray, alpha: float, two: bool) -> Any:
    """``boundary_factor(u)^2 u / (u + 1)``: the log term of the normal-mixture boundary."""
    if two:
        return np.log1p(u) + 2.0 * math.log(1.0 / alpha)
    return 2.0 * np.log(np.sqrt(1.0 + u) / (2.0 * alpha) + 1.0)


def boundary_factor(u: float | np.ndarray, alpha: float, two: bool = True) -> Any:
    """Half-width of the confidence sequence in standard errors at intrinsic time ``u``.

    Parameters
    ----------
    u : float or ndarray
        ``rho^2 t`` (``t`` units).
    alpha : float
        Level of the sequence.
    two : bool, default True
        Two-sided (else the one-sided bound).

    Returns
    -------
    float or ndarray
        The factor ``f`` with half-width ``f se``; it exceeds the fixed-horizon ``z``.

    Examples
    --------
    >>> round(float(boundary_factor(tightest_u(0.05), 0.05)), 4)
    3.0351
    """
    u = np.asarray(u, dtype=float)
    return np.sqrt((u + 1.0) / u * _g(u, alpha, two))


def tightest_u(alpha: float, two: bool = True) -> float:
    """Return the ``u = rho^2 t_star`` that minimises the width at ``t_star`` units."""
    res = optimize.minimize_scalar(
        lambda lu: float(boundary_factor(math.exp(lu), alpha, two)), bounds=(-10, 10),
        method="bounded", options={"xatol": 1e-9},
    )  # fmt: skip
    return math.exp(float(res.x))


def log_pvalue(z: np.ndarray, u: np.ndarray, two: bool = True) -> np.ndarray:
    """Natural log of the always-valid p-value at each look (before the running minimum).

    ``z`` is the effect over its standard error, in the direction of H1 for a one-sided test.
    Two-sided: ``p = sqrt(u + 1) exp(-z^2 u / (2 (u + 1)))``; one-sided (``z > 0``):
    ``p = sqrt(u + 1) / (2 (exp(z^2 u / (2 (u + 1))) - 1))``; capped at 1.
    """
    z = np.asarray(z, dtype=float)
    u = np.asarray(u, dtype=float)
    x = z * z * u / (2.0 * (u + 1.0))
    half = 0.5 * np.log1p(u)
    if two:
        lp = half - x
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            lem1 = np.where(x > 30, x + np.log1p(-np.exp(-x)), np.log(np.expm1(x)))
            lp = np.where(z > 0, half - math.log(2.0) - lem1, 0.0)
    return np.minimum(lp, 0.0)


def _direction(alternative: str) -> float:
    return -1.0 if alternative == "less" else 1.0


def sequential(
    data: Any,
    *,
    arm: str,
    metrics: Sequence[Metric | str] | Metric | str,
    time_col: str,
    control: str | None = None,
    covariates: Mapping[str, str] | None = None,
    design: str = "always-valid",
    looks: int | Sequence[Any] | None = None,
    spending: str = "obf",
    planned_n: int | None = None,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    correction: str = "holm",
    unit: str | None = None,
    dropna: bool = False,
    count: str | None = None,
) -> SequentialResult:
    """Analyse an experiment at every look (day): always-valid or group-sequential tests.

    Parameters
    ----------
    data : str, path, pandas.DataFrame or polars.DataFrame
        One row per unit with the day it entered (``time_col``) and its outcome; or, with
        ``unit``, one row per unit and day in time order, the unit's values as of that day.
    arm, metrics, control, covariates, alpha, alternative, dropna
        As in :func:`lifesim.ab.analyze`.
    time_col : str
        Day of each row: day numbers or dates. Each distinct day is a possible look.
    design : {'always-valid', 'group-sequential'}, default 'always-valid'
        Confidence sequences at every look, or Lan-DeMets alpha spending at a few looks.
    looks : int or sequence, optional
        Look days: ``K`` equally spaced among the days of the data, or the days themselves
        (``[7, 14, 21, 28]``). Default: every day for ``'always-valid'``; 5 looks for
        ``'group-sequential'``.
    spending : {'obf', 'pocock'}, default 'obf'
        Spending function of the group-sequential design.
    planned_n : int, optional
        Units planned in the whole experiment: the confidence sequences are tightest there
        (default: the units at the last look). Group-sequential: the units at full information
        (default: the units at the last look).
    correction : {'holm', 'bonferroni', 'none'}, default 'holm'
        Over the arms of a metric. Holm and Bonferroni on always-valid p-values hold the
        family-wise error at every look; each confidence sequence and each group-sequential
        comparison then has level ``alpha / (arms - 1)`` (Bonferroni). ``'bh'`` is refused.
    unit : str, optional
        Unit id column: repeated ids are snapshots of the unit (rows in time order).
    count : str, optional
        Per-day aggregates: each row is one arm and day, ``count`` names the column with its
        number of units and each metric column holds their successes (proportions only).

    Returns
    -------
    SequentialResult
        Per look, metric and arm: estimate, interval, p-values, boundary; per comparison,
        the decision and the first day it could have been made.

    Raises
    ------
    lifesim.errors.DataError
        Bad data or looks: the message names the column or option, the value and what is
        allowed.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim import ab
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"variant": rng.choice(["control", "b"], 4000),
    ...                    "day": rng.integers(1, 15, 4000),
    ...                    "converted": (rng.random(4000) < 0.1).astype(int)})
    >>> res = ab.sequential(df, arm="variant", metrics="converted", time_col="day")
    >>> res.decisions[0].decision
    'no difference detected'
    """
    _check_args(alpha, alternative, correction)
    if correction == "bh":
        raise ValueError(
            "correction == 'bh': Benjamini-Hochberg is not valid over repeated looks here; "
            "use 'holm', 'bonferroni' or 'none'"
        )
    if design not in DESIGNS:
        raise ValueError(f"design == {design!r}, must be one of {', '.join(DESIGNS)}")
    if spending not in gsd.SPENDING:
        raise ValueError(f"spending == {spending!r}, must be one of {', '.join(gsd.SPENDING)}")
    if planned_n is not None and (int(planned_n) != planned_n or planned_n < 2):
        raise ValueError(f"planned_n == {planned_n!r}, must be an integer >= 2")
    lk = read_looks(data, arm=arm, time_col=time_col, metrics=metrics, covariates=covariates,
                    unit=unit, dropna=dropna, count=count)  # fmt: skip
    if design == "group-sequential" and looks is None:
        looks = min(5, lk.days.size)
    look_days = choose_looks(looks, lk, time_col)
    arms, perm = _order_arms(list(lk.labels), control, arm)
    inv = np.argsort(perm)
    m = len(arms) - 1
    a_comp = alpha / m if correction != "none" and m > 1 else alpha
    two = alternative == "two-sided"
    sign = _direction(alternative)
    total_last = None
    rows: list[Look] = []
    decisions: list[Decision] = []
    warns: list[str] = []
    u_star = tightest_u(a_comp, two)
    for index, metric in enumerate(lk.metrics):
        per_look = [lk.moments(index, d).select(inv) for d in look_days]
        metric.check(per_look[-1], arms)  # e.g. a ratio's denominator summing to 0 in an arm
        with np.errstate(divide="ignore", invalid="ignore"):  # looks with an empty arm: NaN
            est = [_rows(metric, mom, arms, alpha, alternative) for mom in per_look]
        total_last = int(per_look[-1].n.sum())
        method = est[-1][0].method if est[-1] else ""
        for a in range(1, len(arms)):
            t = np.array([mom.n[0] + mom.n[a] for mom in per_look], dtype=float)
            e = [r[a - 1].estimate for r in est]
            d = np.array([x.abs_effect for x in e])
            se = np.array([x.se for x in e])
            with np.errstate(invalid="ignore", divide="ignore"):
                z = d / se
            t_star = t[-1] if planned_n is None else planned_n * t[-1] / total_last
            if design == "always-valid":
                cols = _always_valid(t, d, se, z, u_star / t_star, a_comp, two, sign, m,
                                     correction)  # fmt: skip
            else:
                cols = _group_sequential(t, d, se, z, t_star, a_comp, spending, alternative,
                                         sign, lk, time_col, look_days)  # fmt: skip
            warns.extend(e[-1].warnings)
            early = [lk.label(x) for x, v in zip(look_days, se, strict=True) if not v > 0]
            if early:
                warns.append(
                    f"{metric.label} ({arms[a]}): no interval at {len(early)} look(s) "
                    f"({time_col} {', '.join(map(repr, early[:3]))}"
                    f"{', ...' if len(early) > 3 else ''}): an arm had < 2 units or no variance"
                )
            rows += _look_rows(metric, arms[a], arms[0], per_look, a, look_days, lk, e, z, cols)
            decisions.append(_decide(metric, arms[a], arms[0], look_days, lk, d, cols, sign,
                                     design, t_star, method))  # fmt: skip
    if design == "always-valid":
        how = (
            f"tightest at t_star = planned_n ({planned_n:,} units, shared by the arms)"
            if planned_n is not None
            else "tightest at t_star = the units at the last look (set planned_n to the "
            "planned size while the experiment runs, so earlier looks do not move)"
        )
        tuning = {"rho_squared_times_t_star": u_star, "t_star_choice": how,
                  "alpha_per_comparison": a_comp}  # fmt: skip
        method = (
            "asymptotic confidence sequences (Waudby-Smith et al. 2023) with the "
            + ("two-sided" if two else "one-sided")
            + " normal-mixture boundary (Howard et al. 2021): effect +- se * sqrt((u+1)/u * "
            + ("(log(u+1) + 2 log(1/alpha)))" if two else "2 log(sqrt(u+1)/(2 alpha) + 1))")
            + f", u = rho^2 t with t the units in the two arms; rho^2 t_star = {u_star:.4f} "
            "minimises the width at t_star; always-valid p-value = smallest alpha whose "
            "sequence excludes 0 up to the look (running minimum)"
        )
    else:
        tuning = {"spending": spending, "alpha_per_comparison": a_comp,
                  "information": "units at the look / units at full information"}  # fmt: skip
        method = (
            f"group-sequential design, Lan-DeMets {spending!r} alpha spending, "
            f"{'symmetric two-sided' if two else 'one-sided'} efficacy boundaries (no futility) "
            "by recursive numerical integration (Armitage-McPherson-Rowe; Jennison & Turnbull "
            "ch. 19); information fraction = units at the look / units at full information; "
            "interval = repeated confidence interval effect +- c_k se (Jennison & Turnbull ch. 9)"
        )
    if m > 1 and correction != "none":
        warns.append(
            f"{m} arms against control: each comparison at alpha/{m} = {a_comp:.4g} "
            f"(Bonferroni sequences); p_adjusted is {correction} over the arms at each look"
        )
    return SequentialResult(
        design=design, method=method, tuning=tuning, control=arms[0], alpha=alpha,
        alternative=alternative, correction=correction, time_col=time_col,
        look_days=tuple(lk.label(x) for x in look_days), looks=tuple(rows),
        decisions=tuple(decisions), n_last={a: int(per_look[-1].n[i]) for i, a in
                                            enumerate(arms)},
        warnings=tuple(dict.fromkeys(warns)),
    )  # fmt: skip


def _always_valid(
    t: np.ndarray, d: np.ndarray, se: np.ndarray, z: np.ndarray, rho2: float, alpha: float,
    two: bool, sign: float, m: int, correction: str,
) -> dict[str, np.ndarray]:  # fmt: skip
    u = rho2 * t
    f = boundary_factor(u, alpha, two)
    lo, hi = d - f * se, d + f * se
    if not two:
        lo, hi = (lo, np.full_like(d, np.inf)) if sign > 0 else (np.full_like(d, -np.inf), hi)
    lp = log_pvalue(sign * z, u, two)
    lp = np.where(np.isfinite(z), lp, np.nan)
    lp = np.fmin.accumulate(np.where(np.isnan(lp), np.inf, lp))
    lp = np.where(np.isinf(lp), np.nan, lp)
    factor = m if correction != "none" and m > 1 else 1
    return {"low": lo, "high": hi, "log10_p": lp / _LN10,
            "log10_p_adj": np.minimum(lp + math.log(factor), 0.0) / _LN10,
            "boundary": f, "fraction": np.full_like(d, np.nan)}  # fmt: skip


def _group_sequential(
    t: np.ndarray, d: np.ndarray, se: np.ndarray, z: np.ndarray, t_full: float, alpha: float,
    spending: str, alternative: str, sign: float, lk: Looks, time_col: str, days: np.ndarray,
) -> dict[str, np.ndarray]:  # fmt: skip
    frac = t / t_full
    if np.any(np.diff(frac) <= 0):
        i = int(np.flatnonzero(np.diff(frac) <= 0)[0]) + 1
        raise DataError(
            f"look on {time_col}={lk.label(days[i])!r} adds no units to the comparison; look "
            "days must add data (choose fewer looks or other days)"
        )
    if frac[-1] > 1 + 1e-9:
        raise DataError(
            f"planned_n gives full information below the units already seen ({t[-1]:,.0f} in "
            "the comparison); planned_n must be at least the units at the last look"
        )
    c, _ = gsd.boundaries(frac, alpha, spending, alternative)
    two = alternative == "two-sided"
    lo, hi = d - c * se, d + c * se
    if not two:
        lo, hi = (lo, np.full_like(d, np.inf)) if sign > 0 else (np.full_like(d, -np.inf), hi)
    nan = np.full_like(d, np.nan)
    return {"low": lo, "high": hi, "log10_p": nan, "log10_p_adj": nan, "boundary": c,
            "fraction": frac}  # fmt: skip


def _look_rows(
    metric: Metric, arm: str, control: str, per_look: list[Any], a: int, days: np.ndarray,
    lk: Looks, e: list[Any], z: np.ndarray, cols: dict[str, np.ndarray],
) -> list[Look]:  # fmt: skip
    out = []
    for i, (mom, x) in enumerate(zip(per_look, e, strict=True)):
        out.append(Look(
            metric=metric.label, kind=metric.kind, covariate=metric.covariate_label, arm=arm,
            control=control, look=i + 1, day=lk.label(days[i]), n_control=int(mom.n[0]),
            n_arm=int(mom.n[a]), control_value=x.control_value, arm_value=x.arm_value,
            abs_effect=x.abs_effect, se=x.se, z=float(z[i]), interval=(float(cols["low"][i]),
            float(cols["high"][i])), p_value=_p(cols["log10_p"][i]),
            p_adjusted=_p(cols["log10_p_adj"][i]), log10_p_value=float(cols["log10_p"][i]),
            boundary=float(cols["boundary"][i]), information_fraction=float(cols["fraction"][i]),
            fixed_horizon_p=x.p_value,
        ))  # fmt: skip
    return out


def _p(log10_p: float) -> float:
    return math.nan if math.isnan(log10_p) else max(10.0**log10_p, 1e-300)


def _decide(
    metric: Metric, arm: str, control: str, days: np.ndarray, lk: Looks, d: np.ndarray,
    cols: dict[str, np.ndarray], sign: float, design: str, t_star: float, method: str,
) -> Decision:  # fmt: skip
    lo, hi = cols["low"], cols["high"]
    excl = (lo > 0) | (hi < 0)
    hit = np.flatnonzero(excl)
    if hit.size:
        i = int(hit[0])
        better = d[i] > 0
        verdict = f"{arm} {'>' if better else '<'} {control}"
        day = lk.label(days[i])
    else:
        i, verdict, day = len(days) - 1, "no difference detected", None
    return Decision(metric=metric.label, covariate=metric.covariate_label, arm=arm,
                    decision=verdict, first_day=day, look=i + 1 if hit.size else None,
                    abs_effect=float(d[i]), interval=(float(lo[i]), float(hi[i])),
                    t_star=float(t_star), metric_method=method)  # fmt: skip
