"""Independent references for the A/B tests (not the code under test)."""

from __future__ import annotations

import math

from scipy import optimize, stats


def _restricted_mle(x1: int, n1: int, x0: int, n0: int, delta: float) -> float:
    """p0 maximising the two-binomial likelihood under p1 - p0 = delta (bounded optimiser)."""
    lo, hi = max(0.0, -delta), min(1.0, 1.0 - delta)

    def nll(p0: float) -> float:
        p1 = p0 + delta
        out = 0.0
        for k, n, p in ((x1, n1, p1), (x0, n0, p0)):
            out -= k * math.log(p) if k else 0.0
            out -= (n - k) * math.log1p(-p) if n - k else 0.0
        return out

    w = hi - lo
    res = optimize.minimize_scalar(
        nll, bounds=(lo + 1e-14 * w, hi - 1e-14 * w), method="bounded",
        options={"xatol": 1e-14, "maxiter": 5000},
    )  # fmt: skip
    # with a zero count the optimum can sit on the boundary, where the optimiser stops short
    candidates = [float(res.x)]
    for end in (lo, hi):
        try:
            nll(end)
        except ValueError:  # log(0) with a positive count: not the optimum
            continue
        candidates.append(end)
    return min(candidates, key=nll)


def score_interval_reference(
    x1: int, n1: int, x0: int, n0: int, alpha: float = 0.05
) -> tuple[float, float]:
    """Two-sided score interval of p1 - p0 by brute force: the null values not rejected.

    The score test of ``p1 - p0 = delta`` uses the variance at the restricted maximum
    likelihood estimate (found by a bounded optimiser, not a formula); at ``delta = 0`` it is
    the pooled two-proportion z-test. The bounds solve ``|z(delta)| = z_{1 - alpha/2}``.
    """
    q = stats.norm.ppf(1 - alpha / 2)
    d = x1 / n1 - x0 / n0

    def z(delta: float) -> float:
        p0 = _restricted_mle(x1, n1, x0, n0, delta)
        p1 = p0 + delta
        return (d - delta) / math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)

    lo = optimize.brentq(lambda t: z(t) - q, -1 + 1e-9, d, xtol=1e-14) if d > -1 else -1.0
    hi = optimize.brentq(lambda t: z(t) + q, d, 1 - 1e-9, xtol=1e-14) if d < 1 else 1.0
    return lo, hi
