"""Score confidence intervals for two proportions: valid at 0% and 100%, consistent with the test.

The two-proportion z-test with the pooled standard error is the score test of
``H0: p_arm - p_control = 0`` (and of ``p_arm / p_control = 1``). Inverting the same score test
at every other null value gives the Farrington-Manning interval for the difference and the
Koopman interval for the risk ratio (Miettinen-Nurminen without their ``N / (N - 1)`` factor).
So, for the pooled z-test, a two-sided interval excludes 0 (or a ratio of 1) exactly when
``p < alpha``. Unlike Wald intervals they do not collapse when an arm has 0 or all successes.

Arm 1 is the arm, arm 0 the control; ``x`` successes out of ``n`` units.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import optimize

__all__ = ["score_z_diff", "score_z_ratio", "score_interval"]

_EPS = 1e-12


def _div(k: float, p: float) -> float:
    """Return ``k / p`` for a count ``k >= 0``: 0 if ``k == 0``, inf if ``p <= 0``."""
    if k == 0:
        return 0.0
    return k / p if p > 0 else math.inf


def _restricted_diff(x1: float, n1: float, x0: float, n0: float, delta: float) -> float:
    """MLE of ``p0`` under ``p1 - p0 = delta``, with ``p0`` and ``p1`` in ``[0, 1]``.

    The log-likelihood is concave in ``p0``, so its derivative is found by bracketing (the
    closed-form cubic root of Miettinen-Nurminen can leave ``[0, 1]`` far from the estimate).
    """
    if delta == 0:
        return (x0 + x1) / (n0 + n1)
    lo, hi = max(0.0, -delta), min(1.0, 1.0 - delta)

    def score(p0: float) -> float:
        p1 = p0 + delta
        return _div(x0, p0) - _div(n0 - x0, 1 - p0) + _div(x1, p1) - _div(n1 - x1, 1 - p1)

    width = hi - lo
    a, b = lo + 1e-13 * width, hi - 1e-13 * width
    if score(a) <= 0:
        return lo
    if score(b) >= 0:
        return hi
    return float(optimize.brentq(score, a, b, xtol=1e-16, rtol=1e-15))


def score_z_diff(x1: float, n1: float, x0: float, n0: float, delta: float) -> float:
    """Score statistic of ``H0: p1 - p0 = delta`` (Farrington-Manning, no N/(N-1) factor).

    At ``delta = 0`` it is the pooled two-proportion z statistic; 0 where the observed
    difference equals ``delta``.
    """
    diff = x1 / n1 - x0 / n0 - delta
    p0t = _restricted_diff(x1, n1, x0, n0, delta)
    p1t = p0t + delta
    var = p1t * (1 - p1t) / n1 + p0t * (1 - p0t) / n0
    if diff == 0:
        return 0.0
    return diff / math.sqrt(var) if var > 0 else math.copysign(math.inf, diff)


def score_z_ratio(x1: float, n1: float, x0: float, n0: float, log_ratio: float) -> float:
    """Score statistic of ``H0: p1 / p0 = exp(log_ratio)`` (Koopman; no N/(N-1) factor)."""
    r = math.exp(log_ratio)
    num = x1 / n1 - r * x0 / n0
    if num == 0:
        return 0.0
    a = (n0 + n1) * r
    b = -(n1 * r + x1 + n0 + x0 * r)
    c = x1 + x0
    disc = max(b * b - 4 * a * c, 0.0)
    # smaller root, in the cancellation-free form 2c / (-b + sqrt(disc))
    p0t = 2 * c / (-b + math.sqrt(disc)) if c > 0 else 0.0
    p0t = min(max(p0t, 0.0), min(1.0, 1.0 / r))
    p1t = r * p0t
    var = p1t * (1 - p1t) / n1 + r * r * p0t * (1 - p0t) / n0
    return num / math.sqrt(var) if var > 0 else math.copysign(math.inf, num)


def _root(f: Callable[[float], float], a: float, b: float, target: float) -> float:
    """Find where the decreasing ``f`` crosses ``target`` in ``[a, b]`` (an end if never)."""
    if f(a) <= target:
        return a
    if f(b) >= target:
        return b
    return float(optimize.brentq(lambda t: f(t) - target, a, b, xtol=1e-15, rtol=1e-15))


def score_interval(
    x1: int, n1: int, x0: int, n0: int, q: float, compare: str, alternative: str
) -> tuple[float, float]:
    """Score interval for ``p1 - p0`` (``compare='diff'``) or ``p1 / p0 - 1`` (``'ratio'``).

    Parameters
    ----------
    x1, n1, x0, n0 : int
        Successes and units in the arm (1) and in control (0); ``n1, n0 >= 1``.
    q : float
        Normal quantile: ``z(1 - alpha/2)`` two-sided, ``z(1 - alpha)`` one-sided.
    compare : {'diff', 'ratio'}
        The effect.
    alternative : {'two-sided', 'greater', 'less'}
        Which bounds are finite.

    Returns
    -------
    (float, float)
        The interval; ``(-1, inf)``-style open sides for one-sided alternatives, and NaN for a
        ratio whose control has no success (the ratio is undefined).

    Examples
    --------
    >>> lo, hi = score_interval(0, 2, 19, 200, 1.959963984540054, "diff", "two-sided")
    >>> lo < 0 < hi  # 0/2 against 19/200: no evidence of a difference
    True
    """
    if compare == "diff":
        d = x1 / n1 - x0 / n0

        def f(t: float) -> float:
            return score_z_diff(x1, n1, x0, n0, t)

        lo = _root(f, -1.0 + _EPS, d, q) if d > -1 else -1.0
        hi = _root(f, d, 1.0 - _EPS, -q) if d < 1 else 1.0
        lo, hi = (-1.0 if lo <= -1 + _EPS else lo), (1.0 if hi >= 1 - _EPS else hi)
    else:
        if x0 == 0:
            return math.nan, math.nan
        if x1 == 0:
            lo_r = -math.inf
            hi_r = _root(lambda t: score_z_ratio(x1, n1, x0, n0, t), -300.0, 300.0, -q)
        else:
            lr = math.log((x1 / n1) / (x0 / n0))

            def g(t: float) -> float:
                return score_z_ratio(x1, n1, x0, n0, t)

            lo_r = _root(g, lr - 60.0, lr, q)
            hi_r = _root(g, lr, lr + 60.0, -q)
        lo, hi = math.expm1(lo_r), (math.expm1(hi_r) if hi_r < 700 else math.inf)
    if alternative == "greater":
        return lo, math.inf
    if alternative == "less":
        return (-1.0 if compare == "ratio" else -math.inf), hi
    return lo, hi
