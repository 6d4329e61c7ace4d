"""Replication statistics: t confidence intervals, paired and unpaired differences."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["mean_ci", "paired_diff"]


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
