"""Replication statistics: t intervals, paired differences, ratios (Fieller), Holm."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["mean_ci", "paired_diff", "holm", "ratio_ci"]


def mean_ci(x: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float, float]:
    """Mean, standard deviation and two-sided t confidence interval over replications.

    NaN replications are left out; fewer than two values give NaN bounds.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return (np.nan,) * 4
    m = float(x.mean())
    if n < 2:
        return m, np.nan, np.nan, np.nan
    sd = float(x.std(ddof=1))
    h = float(stats.t.ppf(1 - alpha / 2, n - 1) * sd / np.sqrt(n))
    return m, sd, m - h, m + h


def paired_diff(a: np.ndarray, b: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """Difference ``a - b`` over paired replications (common random numbers).

    Returns the mean difference, its two-sided paired-t CI and p-value (H0: mean difference
    0), and for comparison the standard error an unpaired (Welch) analysis would give.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    n = len(d)
    out = {
        "diff": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": np.nan,
        "se_paired": np.nan,
        "se_unpaired": np.nan,
        "n": n,
    }
    if n == 0:
        return out
    out["diff"] = float(d.mean())
    if n < 2:
        return out
    sd = float(d.std(ddof=1))
    se = sd / np.sqrt(n)
    out["se_paired"] = se
    out["se_unpaired"] = float(np.sqrt(a[ok].var(ddof=1) / n + b[ok].var(ddof=1) / n))
    tq = float(stats.t.ppf(1 - alpha / 2, n - 1))
    out["ci_low"], out["ci_high"] = out["diff"] - tq * se, out["diff"] + tq * se
    if se > 0:
        out["p_value"] = float(2 * stats.t.sf(abs(out["diff"]) / se, n - 1))
    else:
        out["p_value"] = 1.0 if out["diff"] == 0 else 0.0
    return out


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error).

    The ``m`` finite p-values are sorted, ``p_(i)`` becomes ``max_{j <= i} min(1, (m - j + 1)
    p_(j))``; NaN p-values stay NaN and do not count in ``m``.
    Equals ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]`` on finite input.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adj)
    return out


def ratio_ci(num: np.ndarray, den: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """Ratio of means ``mean(num) / mean(den)`` over paired replications, with Fieller's CI.

    Fieller's interval is the set of ratios ``theta`` for which the paired t-test of
    ``mean(num) - theta mean(den) = 0`` is not rejected at ``alpha``; it is exact for normal
    replications and stays honest when the denominator is noisy. When the denominator is not
    distinguishable from 0 at ``alpha`` the set is unbounded: the bounds are then -inf and inf
    and ``bounded`` is False. The estimate is NaN when ``mean(den) == 0``.
    """
    x = np.asarray(num, dtype=float)
    y = np.asarray(den, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    out = {"ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan, "bounded": False, "n": n}
    if n == 0:
        return out
    mx, my = float(x.mean()), float(y.mean())
    if my != 0:
        out["ratio"] = mx / my
    if n < 2:
        return out
    t2 = float(stats.t.ppf(1 - alpha / 2, n - 1)) ** 2
    cov = np.cov(x, y, ddof=1) / n
    vxx, vxy, vyy = float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1])
    a = my * my - t2 * vyy
    b = mx * my - t2 * vxy
    c = mx * mx - t2 * vxx
    if a > 0:
        root = float(np.sqrt(max(b * b - a * c, 0.0)))
        out["ci_low"], out["ci_high"] = (b - root) / a, (b + root) / a
        out["bounded"] = True
    else:
        out["ci_low"], out["ci_high"] = -np.inf, np.inf
    return out
