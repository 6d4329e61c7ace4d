"""Two-sample tests, confidence intervals, p-value corrections and the SRM check.

Everything here works on per-arm summaries (estimates and their variances), never on rows.

P-values never underflow to 0: when ``sf`` would, the log of the survival function is computed
instead (``scipy.stats.norm.logsf``; continued fractions for the t and chi-square tails), kept
as ``log10_p_value``, and the reported p-value is floored at :data:`P_FLOOR` (``1e-300``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import special, stats

__all__ = [
    "P_FLOOR",
    "ALTERNATIVES",
    "CORRECTIONS",
    "Estimate",
    "compare",
    "welch_df",
    "log_sf",
    "log_chi2_sf",
    "floor_p",
    "adjust",
    "adjust_log10",
    "is_floored",
    "excludes_null",
    "srm_test",
]

#: Smallest p-value reported; smaller ones are shown as this and their size is in log10_p_value.
P_FLOOR = 1e-300
ALTERNATIVES = ("two-sided", "greater", "less")
CORRECTIONS = ("holm", "bonferroni", "bh", "none")
Alternative = Literal["two-sided", "greater", "less"]
_LN10 = math.log(10.0)
_LOG10_FLOOR = math.log10(P_FLOOR)


def _log_betainc_cf(a: float, b: float, x: float, max_iter: int = 50_000) -> float:
    """Log of the regularised incomplete beta ``I_x(a, b)`` for ``x < (a+1)/(a+b+2)``.

    Modified Lentz continued fraction (Numerical Recipes ``betacf``), in log space.
    """
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    front = a * math.log(x) + b * math.log1p(-x) - special.betaln(a, b) - math.log(a)
    return front + math.log(h)


def log_sf(x: float, df: float | None = None) -> float:
    """Natural log of the survival function of the standard normal or Student t.

    Parameters
    ----------
    x : float
        The statistic.
    df : float, optional
        Degrees of freedom of the t distribution; ``None`` or ``inf`` for the normal.

    Returns
    -------
    float
        ``log(P(T > x))``, finite even where ``sf`` underflows to 0.
    """
    if math.isnan(x):
        return math.nan
    if df is None or not math.isfinite(df) or df <= 0:
        return float(special.log_ndtr(-x))
    sf = float(special.stdtr(df, -x))
    if sf > 1e-280:
        return math.log(sf)
    z = df / (df + x * x)
    return math.log(0.5) + _log_betainc_cf(df / 2.0, 0.5, z)


def _log_gammaincc_cf(s: float, y: float, max_iter: int = 10_000) -> float:
    """Log of the regularised upper incomplete gamma ``Q(s, y)`` for ``y > s + 1`` (Lentz)."""
    tiny = 1e-300
    b = y + 1.0 - s
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, max_iter + 1):
        an = -i * (i - s)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return -y + s * math.log(y) - math.lgamma(s) + math.log(h)


def log_chi2_sf(x: float, df: float) -> float:
    """Natural log of the chi-square survival function, finite where ``sf`` underflows."""
    lp = float(stats.chi2.logsf(x, df))
    if math.isfinite(lp) and lp > -600.0:
        return lp
    return _log_gammaincc_cf(df / 2.0, x / 2.0)


def is_floored(log10_p: float) -> bool:
    """Whether a p-value of this log10 was floored at :data:`P_FLOOR` (so is only a bound)."""
    return log10_p < _LOG10_FLOOR


def floor_p(log_p: float) -> tuple[float, float]:
    """Return ``(p, log10_p)`` from ``log(p)``, with ``p`` floored at :data:`P_FLOOR`."""
    if math.isnan(log_p):
        return math.nan, math.nan
    log_p = min(log_p, 0.0)
    return max(math.exp(log_p), P_FLOOR), log_p / _LN10


def _log_p(stat: float, df: float | None, alternative: str) -> float:
    if alternative == "two-sided":
        return min(0.0, math.log(2.0) + log_sf(abs(stat), df))
    return log_sf(stat if alternative == "greater" else -stat, df)


def _quantile(level: float, df: float | None) -> float:
    if df is None or not math.isfinite(df):
        return float(special.ndtri(level))
    return float(special.stdtrit(df, level))


def welch_df(var_a: float, n_a: int, var_c: float, n_c: int) -> float:
    """Welch-Satterthwaite degrees of freedom from sample variances and sizes."""
    va, vc = var_a / n_a, var_c / n_c
    den = va * va / (n_a - 1) + vc * vc / (n_c - 1)
    return (va + vc) ** 2 / den if den > 0 else math.nan


def _interval(center: float, se: float, q: float, alternative: str) -> tuple[float, float]:
    if alternative == "two-sided":
        return center - q * se, center + q * se
    if alternative == "greater":
        return center - q * se, math.inf
    return -math.inf, center + q * se


def _expm1(x: float) -> float:
    return math.expm1(x) if x < 700 else math.inf


@dataclass(frozen=True)
class Estimate:
    """One arm against control: effects, intervals and p-value (internal)."""

    control_value: float
    arm_value: float
    abs_effect: float
    abs_ci: tuple[float, float]
    rel_effect: float
    rel_ci: tuple[float, float]
    p_value: float
    log10_p_value: float
    statistic: float
    df: float | None
    se: float
    warnings: tuple[str, ...] = field(default=())


def compare(
    control: float,
    var_control: float,
    arm: float,
    var_arm: float,
    *,
    alpha: float,
    alternative: str,
    df: float | None = None,
    test_se: float | None = None,
    log_p: float | None = None,
    label: str = "",
    intervals: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> Estimate:
    """Compare two independent estimates with their sampling variances.

    Parameters
    ----------
    control, arm : float
        The estimates (e.g. means) in control and in the arm.
    var_control, var_arm : float
        Their sampling variances (e.g. ``s^2 / n``).
    alpha : float
        Significance level; intervals have confidence ``1 - alpha``.
    alternative : {'two-sided', 'greater', 'less'}
        H1 about ``arm - control``: ``!= 0``, ``> 0`` or ``< 0``.
    df : float, optional
        Degrees of freedom of a t test and t interval; ``None`` for the normal.
    test_se : float, optional
        Standard error of the test statistic if it differs from the interval's (pooled
        two-proportion z-test).
    log_p : float, optional
        A p-value computed elsewhere (Fisher's exact test), as a natural log.
    label : str
        Names the comparison in warnings.
    intervals : ((float, float), (float, float)), optional
        Absolute and relative intervals computed elsewhere (score intervals of proportions).

    Returns
    -------
    Estimate
        Absolute effect ``arm - control`` with a t (or normal) interval; relative effect
        ``arm / control - 1`` with an interval from the delta method on ``log(arm / control)``
        (on the ratio itself when the arm value is <= 0), with the same quantile (t with
        ``df``, or normal). The relative effect is undefined (NaN, with a warning) when the
        control value is not positive: ``arm / control - 1`` would not have the sign of the
        effect.

    Examples
    --------
    >>> e = compare(10.0, 0.04, 11.0, 0.05, alpha=0.05, alternative="two-sided")
    >>> round(e.abs_effect, 6), round(e.p_value, 4), round(e.rel_effect, 6)
    (1.0, 0.0009, 0.1)
    >>> compare(-2.0, 0.04, -1.0, 0.05, alpha=0.05, alternative="two-sided").rel_effect
    nan
    """
    warns: list[str] = []
    diff = arm - control
    se = math.sqrt(var_arm + var_control) if var_arm + var_control >= 0 else math.nan
    tse = se if test_se is None else test_se
    level = 1.0 - alpha / 2.0 if alternative == "two-sided" else 1.0 - alpha
    if log_p is None:
        if tse > 0 and math.isfinite(tse):
            stat = diff / tse
            log_p = _log_p(stat, df, alternative)
        elif tse == 0 and diff == 0:
            stat, log_p = 0.0, 0.0
            warns.append(f"{label}: zero variance in both arms and no difference; p-value set to 1")
        else:
            stat, log_p = math.nan, math.nan
            warns.append(f"{label}: zero or undefined variance; the test is undefined (NaN)")
    else:
        stat = diff / tse if tse > 0 else math.nan
    p, log10_p = floor_p(log_p)
    q = _quantile(level, df)
    abs_ci = _interval(diff, se, q, alternative) if math.isfinite(se) else (math.nan, math.nan)
    if not control > 0:
        rel, rel_ci = math.nan, (math.nan, math.nan)
        why = "0" if control == 0 else f"{control:.4g} <= 0" if control < 0 else "undefined"
        warns.append(
            f"{label}: control value is {why}; the relative effect is undefined (arm / control"
            " - 1 needs a positive control value; its sign would not follow the effect's)"
        )
    elif arm > 0:
        lr = math.log(arm / control)
        lse = math.sqrt(var_arm / arm**2 + var_control / control**2)
        lo, hi = _interval(lr, lse, q, alternative)
        rel, rel_ci = _expm1(lr), (_expm1(lo), _expm1(hi))
    else:
        rel = arm / control - 1.0
        rse = math.sqrt(var_arm / control**2 + arm**2 * var_control / control**4)
        rel_ci = _interval(rel, rse, q, alternative)
        if intervals is None:
            warns.append(
                f"{label}: arm value <= 0, so the relative CI is the delta method on the ratio"
            )
    if intervals is not None:
        abs_ci, rel_ci = intervals[0], (rel_ci if math.isnan(rel) else intervals[1])
    return Estimate(
        control_value=control,
        arm_value=arm,
        abs_effect=diff,
        abs_ci=abs_ci,
        rel_effect=rel,
        rel_ci=rel_ci,
        p_value=p,
        log10_p_value=log10_p,
        statistic=stat,
        df=df,
        se=se,
        warnings=tuple(warns),
    )


def adjust_log10(log10_p: np.ndarray | list[float], method: str) -> np.ndarray:
    """Adjust p-values given as log10 (NaNs are left out and stay NaN); return log10.

    Working in logs keeps p-values below :data:`P_FLOOR` exact: Holm, Bonferroni and
    Benjamini-Hochberg multiply p-values by constants and take running maxima / minima, which
    commute with the logarithm.

    Parameters
    ----------
    log10_p : array_like
        ``log10`` of the raw p-values of the comparisons of one metric.
    method : {'holm', 'bonferroni', 'bh', 'none'}
        As in :func:`adjust`.

    Returns
    -------
    ndarray
        ``log10`` of the adjusted p-values, capped at 0.

    Examples
    --------
    >>> adjust_log10([-400.0, -2.0], "holm").round(6).tolist()  # 2 x 1e-400 and 0.01
    [-399.69897, -2.0]
    """
    if method not in CORRECTIONS:
        raise ValueError(f"correction == {method!r}, must be one of {', '.join(CORRECTIONS)}")
    lp = np.asarray(log10_p, dtype=float)
    out = np.full_like(lp, np.nan)
    ok = ~np.isnan(lp)
    q = lp[ok]
    m = q.size
    if m == 0 or method == "none":
        out[ok] = q
        return out
    if method == "bonferroni":
        res = np.minimum(q + math.log10(m), 0.0)
    else:
        i = np.arange(m)
        if method == "holm":
            order = np.argsort(q, kind="stable")
            step = np.maximum.accumulate(q[order] + np.log10(m - i))
        else:
            order = np.argsort(q, kind="stable")[::-1]
            step = np.minimum.accumulate(q[order] + np.log10(m / (m - i)))
        res = np.empty(m)
        res[order] = np.minimum(step, 0.0)
    out[ok] = res
    return out


def adjust(p: np.ndarray | list[float], method: str) -> np.ndarray:
    """Adjust p-values for multiple comparisons (NaNs are left out and stay NaN).

    Parameters
    ----------
    p : array_like
        Raw p-values of the comparisons of one metric.
    method : {'holm', 'bonferroni', 'bh', 'none'}
        Holm step-down, Bonferroni, Benjamini-Hochberg (false discovery rate) or nothing;
        the same numbers as ``statsmodels.stats.multitest.multipletests`` with ``'holm'``,
        ``'bonferroni'``, ``'fdr_bh'``.

    Returns
    -------
    ndarray
        Adjusted p-values, capped at 1.

    Examples
    --------
    >>> adjust([0.01, 0.04, 0.03], "holm").round(6).tolist()
    [0.03, 0.06, 0.06]
    """
    with np.errstate(divide="ignore"):
        return 10.0 ** adjust_log10(np.log10(np.asarray(p, dtype=float)), method)


def excludes_null(ci: tuple[float, float]) -> bool:
    """Whether an interval of an effect excludes 0 (False if it is undefined)."""
    return bool(ci[0] > 0 or ci[1] < 0)


@dataclass(frozen=True)
class SRMTest:
    """Chi-square goodness of fit of the arm counts (internal)."""

    statistic: float
    p_value: float
    log10_p_value: float
    df: int


def srm_test(observed: np.ndarray, shares: np.ndarray) -> SRMTest:
    """Chi-square goodness-of-fit test of arm counts against expected shares.

    Same numbers as ``scipy.stats.chisquare(observed, shares * observed.sum())``.
    """
    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(shares, dtype=float) / np.sum(shares) * observed.sum()
    stat = float(np.sum((observed - expected) ** 2 / expected))
    df = observed.size - 1
    p, l10 = floor_p(log_chi2_sf(stat, df) if df > 0 else math.nan)
    return SRMTest(stat, p, l10, df)
