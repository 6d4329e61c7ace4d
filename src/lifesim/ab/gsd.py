"""Group-sequential boundaries with Lan-DeMets alpha spending, by recursive numerical integration.

The z statistics ``Z_1, ..., Z_K`` of a comparison at information fractions
``0 < t_1 < ... < t_K = 1`` are (asymptotically) multivariate normal with
``corr(Z_j, Z_k) = sqrt(t_j / t_k)``: on the B-value scale ``W_k = Z_k sqrt(t_k)`` the increments
``W_k - W_{k-1}`` are independent ``N(delta (t_k - t_{k-1}), t_k - t_{k-1})``, with ``delta`` the
drift (the expected z at full information). The probability of first crossing a boundary at
look ``k`` is computed by integrating the sub-density of ``W_{k-1}`` over the continuation region,
look after look (Armitage, McPherson and Rowe 1969; Jennison and Turnbull 2000, ch. 19), with
Simpson's rule on a grid of :data:`GRID` points. Each boundary solves "probability of first
crossing at look k under H0 = alpha*(t_k) - alpha*(t_{k-1})" for the spending function
``alpha*`` (Lan and DeMets 1983):

* ``'obf'`` (O'Brien-Fleming type): ``alpha*(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t))``;
* ``'pocock'`` (Pocock type): ``alpha*(t) = alpha log(1 + (e - 1) t)``.

Two-sided designs have symmetric boundaries ``|Z_k| >= c_k`` that spend ``alpha`` over both
sides; one-sided designs spend ``alpha`` on one side. Boundaries are for efficacy only (no
futility stopping).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = [
    "SPENDING",
    "GSDPlan",
    "spend",
    "boundaries",
    "crossing_probabilities",
    "gsd_plan",
]

#: Spending functions, by name.
SPENDING = ("obf", "pocock")
#: Grid points of the numerical integration at each look (odd, for Simpson's rule).
GRID = 301
#: Half-width of the integration range, in standard deviations of ``W_k``.
_SPAN = 9.0
_SQRT2PI = math.sqrt(2.0 * math.pi)


def spend(t: np.ndarray | float, alpha: float, spending: str, sides: int = 2) -> np.ndarray:
    """Cumulative alpha spent at information fraction(s) ``t`` (Lan-DeMets).

    Parameters
    ----------
    t : float or array of float in [0, 1]
        Information fractions.
    alpha : float
        Total level spent at ``t = 1``.
    spending : {'obf', 'pocock'}
        O'Brien-Fleming type ``2 - 2 Phi(z_{1-alpha/2} / sqrt(t))`` or Pocock type
        ``alpha log(1 + (e - 1) t)``.

    Returns
    -------
    ndarray
        ``alpha*(t)``, 0 at ``t = 0`` and ``alpha`` at ``t = 1``.

    Examples
    --------
    >>> round(float(spend(1.0, 0.05, "obf")), 12), round(float(spend(1.0, 0.05, "pocock")), 12)
    (0.05, 0.05)
    """
    if spending not in SPENDING:
        raise ValueError(f"spending == {spending!r}, must be one of {', '.join(SPENDING)}")
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if spending == "obf":
        with np.errstate(divide="ignore"):
            z = stats.norm.isf(alpha / (2 * sides)) / np.sqrt(t)
        return 2.0 * sides * stats.norm.sf(z)
    return alpha * np.log1p((math.e - 1.0) * t)


def _simpson_weights(m: int, h: float) -> np.ndarray:
    w = np.ones(m)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * h / 3.0


class _Walk:
    """Sub-density of ``W_k`` on the continuation region, carried from look to look."""

    def __init__(self, drift: float) -> None:
        self.drift = drift
        self.t = 0.0
        self.grid: np.ndarray | None = None  # W values
        self.dens: np.ndarray | None = None  # sub-density times Simpson weights

    def _moments(self, t: float) -> tuple[np.ndarray | float, float]:
        """Conditional mean of ``W(t)`` per grid point (or scalar at start) and the sd."""
        dt = t - self.t
        base = 0.0 if self.grid is None else self.grid
        return base + self.drift * dt, math.sqrt(dt)

    def exit(self, t: float, upper: float, lower: float) -> tuple[float, float]:
        """P(first crossing above ``upper`` / below ``lower`` on the W scale at ``t``)."""
        mu, sd = self._moments(t)
        up = stats.norm.sf((upper - mu) / sd)
        lo = stats.norm.cdf((lower - mu) / sd)
        if self.dens is None:
            return float(up), float(lo)
        return float(self.dens @ up), float(self.dens @ lo)

    def advance(self, t: float, upper: float, lower: float) -> None:
        """Move to ``t`` keeping only the paths inside ``(lower, upper)``."""
        mu_all = self.drift * t
        lo = max(lower, mu_all - _SPAN * math.sqrt(t))
        hi = min(upper, mu_all + _SPAN * math.sqrt(t))
        grid = np.linspace(lo, hi, GRID)
        mu, sd = self._moments(t)
        if self.dens is None:
            f = stats.norm.pdf((grid - mu) / sd) / sd
        else:
            x = (grid[:, None] - np.asarray(mu)[None, :]) / sd
            f = np.exp(-0.5 * x * x) @ self.dens / (sd * _SQRT2PI)
        self.grid, self.dens, self.t = grid, f * _simpson_weights(GRID, grid[1] - grid[0]), t


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    t = np.asarray(list(fractions), dtype=float)
    if t.size < 1 or not np.all(np.isfinite(t)) or np.any(t <= 0) or np.any(t > 1 + 1e-12):
        raise ValueError(f"information fractions {t.tolist()} must be in (0, 1]")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"information fractions {t.tolist()} must increase")
    return np.minimum(t, 1.0)


def boundaries(
    fractions: Sequence[float],
    alpha: float = 0.05,
    spending: str = "obf",
    alternative: str = "two-sided",
) -> tuple[np.ndarray, np.ndarray]:
    """Efficacy boundaries on the z scale at the given information fractions.

    Parameters
    ----------
    fractions : sequence of float
        Increasing information fractions in (0, 1]; the design is complete at 1 (if the last
        fraction is below 1, the unspent alpha is never spent).
    alpha : float, default 0.05
        Total type I error.
    spending : {'obf', 'pocock'}, default 'obf'
        Lan-DeMets spending function.
    alternative : {'two-sided', 'greater', 'less'}, default 'two-sided'
        Two-sided: reject when ``|Z_k| >= c_k``; one-sided: ``Z_k >= c_k`` (``'greater'``) or
        ``Z_k <= -c_k`` (``'less'``).

    Returns
    -------
    c : ndarray
        Boundary ``c_k`` on the ``|z|`` scale (``inf`` where no alpha is left to spend).
    spent : ndarray
        Cumulative alpha spent up to each look.

    Examples
    --------
    Five equally spaced looks, O'Brien-Fleming-type spending, two-sided 5%:

    >>> c, _ = boundaries([0.2, 0.4, 0.6, 0.8, 1.0])
    >>> c.round(3).tolist()
    [4.877, 3.357, 2.68, 2.29, 2.031]
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha == {alpha!r}, must be in (0, 1)")
    t = _check_fractions(fractions)
    two = alternative == "two-sided"
    target = spend(t, alpha, spending, 2 if two else 1)
    walk = _Walk(0.0)
    c = np.empty(t.size)
    spent_so_far = 0.0
    for k, tk in enumerate(t):
        inc = float(target[k]) - spent_so_far
        if inc <= 1e-15:
            c[k] = math.inf
        elif walk.dens is None:
            c[k] = float(stats.norm.isf(inc / 2 if two else inc))
        else:

            def excess(ck: float, tk: float = tk, inc: float = inc) -> float:
                b = ck * math.sqrt(tk)
                up, lo = walk.exit(tk, b, -b if two else -math.inf)
                return up + lo - inc

            hi = 40.0
            c[k] = optimize.brentq(excess, 0.0, hi, xtol=1e-12) if excess(0.0) > 0 else 0.0
        b = c[k] * math.sqrt(tk)
        up, lo = walk.exit(tk, b, -b if two else -math.inf)
        spent_so_far += up + lo
        walk.advance(tk, b, -b if two else -math.inf)
    return c, np.cumsum(np.diff(np.concatenate([[0.0], target])))


def crossing_probabilities(
    fractions: Sequence[float], c: Sequence[float], drift: float = 0.0, two_sided: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of first crossing the upper and the lower boundary at each look.

    Parameters
    ----------
    fractions : sequence of float
        Information fractions.
    c : sequence of float
        Boundaries on the z scale (upper ``c_k``; lower ``-c_k`` if ``two_sided``).
    drift : float, default 0
        Expected z at full information (0 under H0).
    two_sided : bool, default True
        Whether the lower boundary ``-c_k`` stops the trial too.

    Returns
    -------
    upper, lower : ndarray
        Per look: P(first exit above) and P(first exit below).
    """
    t = _check_fractions(fractions)
    walk = _Walk(float(drift))
    up = np.zeros(t.size)
    lo = np.zeros(t.size)
    for k, (tk, ck) in enumerate(zip(t, c, strict=True)):
        b = ck * math.sqrt(tk)
        low = -b if two_sided else -math.inf
        up[k], lo[k] = walk.exit(tk, b, low)
        walk.advance(tk, b, low)
    return up, lo


@dataclass(frozen=True)
class GSDPlan:
    """Sample sizes of a group-sequential design relative to the fixed design.

    Attributes
    ----------
    looks : int
        Equally spaced looks.
    spending : str
        ``'obf'`` or ``'pocock'``.
    boundaries : tuple of float
        ``c_k`` on the z scale.
    inflation : float
        Maximum sample size over the fixed design's, ``R``.
    expected_h1, expected_h0 : float
        Expected sample size over the fixed design's, under H1 (the MDE) and under H0.
    """

    looks: int
    spending: str
    boundaries: tuple[float, ...]
    inflation: float
    expected_h1: float
    expected_h0: float


def gsd_plan(
    looks: int,
    alpha: float = 0.05,
    power: float = 0.8,
    spending: str = "obf",
    alternative: str = "two-sided",
    c: Sequence[float] | None = None,
) -> GSDPlan:
    """Inflation factor and expected sample sizes of ``looks`` equally spaced analyses.

    The drift ``delta`` (expected z at the maximum size) giving power ``power`` of crossing the
    boundary on the side of the effect is solved for; the maximum sample size is the fixed
    design's times ``R = (delta / (z_{1-a} + z_{power}))^2`` with ``a = alpha/2`` (two-sided)
    or ``alpha``; expected sizes are ``R sum_k t_k P(stop at k)``, under H1 and H0.

    Parameters
    ----------
    looks : int
        Number of equally spaced analyses (>= 1).
    alpha, power : float
        Type I error and target power.
    spending : {'obf', 'pocock'}
        Lan-DeMets spending function.
    alternative : {'two-sided', 'greater', 'less'}
        As in :func:`boundaries`.
    c : sequence of float, optional
        Boundaries to use instead of the spending function's (e.g. classical Pocock).

    Returns
    -------
    GSDPlan
        Boundaries, inflation factor and expected sizes relative to the fixed design.
    """
    if int(looks) != looks or looks < 1:
        raise ValueError(f"looks == {looks!r}, must be an integer >= 1")
    t = np.arange(1, looks + 1) / looks
    two = alternative == "two-sided"
    if c is None:
        c, _ = boundaries(t, alpha, spending, alternative)
    c = np.asarray(c, dtype=float)

    def pw(delta: float) -> float:
        return float(crossing_probabilities(t, c, delta, two)[0].sum())

    delta = optimize.brentq(lambda d: pw(d) - power, 0.0, 20.0, xtol=1e-10)
    z_fixed = stats.norm.isf(alpha / 2 if two else alpha) + stats.norm.isf(1 - power)
    r = (delta / z_fixed) ** 2

    def expected(d: float) -> float:
        up, lo = crossing_probabilities(t, c, d, two)
        stop = up + lo
        stop[-1] = 1.0 - stop[:-1].sum()
        return float(r * (t * stop).sum())

    return GSDPlan(int(looks), spending, tuple(float(x) for x in c), float(r),
                   expected(delta), expected(0.0))  # fmt: skip
