"""Delta method over per-arm moments: means, ratios of sums, and CUPED on either (internal).

A metric value is a smooth function ``f`` of the column means of one arm; its sampling variance
per unit is ``grad f' C grad f`` with ``C`` the arm's covariance matrix of the columns. CUPED
subtracts ``theta (h(arm) - h(all units))`` for a covariate function ``h`` with
``theta = cov(f, h) / var(h)`` over all units of all arms (the same linearisation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from lifesim.ab.moments import Moments
from lifesim.ab.stats import Estimate, compare, welch_df

__all__ = ["Fn", "MetricRow", "mean_fn", "ratio_fn", "linear", "delta_rows", "small_n_notes"]

#: A function of one arm's column means: (value, gradient).
Fn = Callable[[np.ndarray], tuple[float, np.ndarray]]
#: Below this many units per arm the t / normal approximation is flagged.
SMALL_N = 30


class MetricRow(NamedTuple):
    """One arm against control, as a metric kind reports it.

    Attributes
    ----------
    estimate : Estimate
        Effects, intervals and p-value (:func:`lifesim.ab.stats.compare`).
    method : str
        The test and intervals, in words.
    variance_reduction : float or None
        CUPED variance reduction of the effect, if a covariate is used.
    """

    estimate: Estimate
    method: str
    variance_reduction: float | None = None


def mean_fn(j: int) -> Fn:
    """Return the mean of column ``j`` as an :data:`Fn`."""

    def fn(m: np.ndarray) -> tuple[float, np.ndarray]:
        g = np.zeros(m.size)
        g[j] = 1.0
        return float(m[j]), g

    return fn


def ratio_fn(i: int, j: int) -> Fn:
    """Return ``mean_i / mean_j`` (a ratio of sums) as an :data:`Fn`."""

    def fn(m: np.ndarray) -> tuple[float, np.ndarray]:
        g = np.zeros(m.size)
        r = m[i] / m[j]
        g[i], g[j] = 1.0 / m[j], -r / m[j]
        return float(r), g

    return fn


def linear(
    mom: Moments, value: Fn, cov_fn: Fn | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
    """Per-arm estimate, its variance per unit (L' C L), unadjusted variance, and theta."""
    g = len(mom.n)
    cov = mom.cov()
    est, var, var0 = np.empty(g), np.empty(g), np.empty(g)
    theta = hp = None
    if cov_fn is not None:
        pool = mom.pooled()
        s = pool.cov()[0]
        _, gp = value(pool.mean[0])
        hp, hg = cov_fn(pool.mean[0])
        den = float(hg @ s @ hg)
        theta = float(gp @ s @ hg) / den if den > 0 else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        for a in range(g):
            v, gr = value(mom.mean[a])
            lin = gr
            if cov_fn is not None:
                hv, hg = cov_fn(mom.mean[a])
                v = v - theta * (hv - hp)
                lin = gr - theta * hg
            est[a], var[a], var0[a] = v, lin @ cov[a] @ lin, gr @ cov[a] @ gr
    return est, var, var0, theta


def small_n_notes(label: str, n: np.ndarray, arms: Sequence[str]) -> tuple[str, ...]:
    """Warn about arms with 2 to 29 units (normal / t approximation may be poor)."""
    return tuple(
        f"{label}: arm {a!r} has only {k} units; the t/normal approximation may be poor"
        for a, k in zip(arms, n, strict=True)
        if 2 <= k < SMALL_N
    )


def delta_rows(
    label: str,
    mom: Moments,
    arms: Sequence[str],
    value: Fn,
    cov_fn: Fn | None,
    *,
    alpha: float,
    alternative: str,
    welch: bool,
    method: str,
    covariate: str | None = None,
    adjusting: str = "Y",
) -> list[MetricRow]:
    """Compare every arm with control (arm 0) for a smooth function of the column means.

    Parameters
    ----------
    label : str
        Metric label (for warnings).
    mom : Moments
        Per-arm moments, control first.
    arms : sequence of str
        Arm labels, control first.
    value, cov_fn : Fn
        The metric as a function of the means; the CUPED covariate function (or None).
    alpha, alternative
        As in :func:`lifesim.ab.analyze`.
    welch : bool
        Welch-Satterthwaite df with t quantiles (means); else normal quantiles.
    method : str
        The test in words (CUPED text is prepended when ``cov_fn`` is given).
    covariate : str, optional
        Covariate name for the method text.
    adjusting : str
        What CUPED adjusts, for the method text.

    Returns
    -------
    list of MetricRow
        One per non-control arm.
    """
    n = mom.n
    est, var, var0, theta = linear(mom, value, cov_fn)
    if theta is not None:
        method = (
            f"CUPED on {covariate} (theta={theta:.4g}: cov/var over all units of all arms, "
            f"adjusting {adjusting}); {method}"
        )
    notes = small_n_notes(label, n, arms)
    out = []
    for a in range(1, len(arms)):
        df = None
        if welch and min(n[0], n[a]) >= 2:
            df = welch_df(var[a], n[a], var[0], n[0])
            df = df if math.isfinite(df) else None
        e = compare(
            est[0], var[0] / n[0], est[a], var[a] / n[a], alpha=alpha,
            alternative=alternative, df=df, label=f"{label} ({arms[a]})",
        )  # fmt: skip
        m = method
        if welch and df is None:
            m = m.replace("Welch t-test", "Welch t-test, undefined df so z")
        vr = None
        if theta is not None:
            v0 = var0[0] / n[0] + var0[a] / n[a]
            v1 = var[0] / n[0] + var[a] / n[a]
            vr = float(1 - v1 / v0) if v0 > 0 else math.nan
        e = replace(e, warnings=notes + e.warnings) if notes else e
        out.append(MetricRow(e, m, vr))
    return out
