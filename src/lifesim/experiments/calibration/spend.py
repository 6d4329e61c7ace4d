"""The Gamma-Gamma spend model of the BG/NBD baseline (Fader, Hardie & Lee 2005).

A customer's order values are Gamma(``p``, ``nu``) around their own mean ``p / nu``, and
``nu ~ Gamma(q, gamma)`` across customers (independent of the purchase process). Fitted by
maximum likelihood to the mean value ``m`` of each repeat buyer's ``x`` repeat orders (the
first order is left out, as in the paper; lifesim's order is one customer's purchases in one
day); orders of value 0 cannot be Gamma and customers whose mean is 0 are left out. The
expected value of a customer's future orders is

    E[M | x, m] = (gamma + m x) p / (p x + q - 1)      (x = 0: p gamma / (q - 1)),

and the BG/NBD revenue forecast of the holdout is ``sum_i E[X_i] E[M_i]``; its interval comes
from parameter draws of both models (parameter uncertainty only, as the BG/NBD's count).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special
from statsmodels.tools.numdiff import approx_hess3

from lifesim.experiments.calibration.models import Fit

__all__ = ["fit_gamma_gamma", "gamma_gamma_mean", "gamma_gamma_loglik"]


def gamma_gamma_loglik(params, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of mean order value ``m`` over ``x`` orders."""
    p, q, g = params
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(g + m * x)
    )


def gamma_gamma_mean(params, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Return the expected value of future orders given ``x`` repeat orders of mean ``m``."""
    p, q, g = params
    x, m = np.asarray(x, np.float64), np.asarray(m, np.float64)
    return np.where(x > 0, (g + m * x) * p / (p * x + q - 1), p * g / (q - 1))


SUBSAMPLE = 5_000


def _nll(x: np.ndarray, m: np.ndarray):  # noqa: ANN202
    """Negative log-likelihood of the log-parameters, summed with the data's sufficient sums.

    The terms in ``x`` alone are computed once per distinct ``x``, those in ``log m`` once;
    each evaluation costs one ``log(gamma + m x)`` over customers.
    """
    ux, cnt = np.unique(x, return_counts=True)
    y = m * x
    logm = np.log(m)
    s_xlogm, s_logm = float(x @ logm), float(logm.sum())
    logux = np.log(ux)

    def nll(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):  # a trial point far out: inf, then the 1e300 below
            p, q, g = np.exp(theta)
            pu = p * ux
            by_x = special.gammaln(pu + q) - special.gammaln(pu) + pu * logux
            lg = np.log(g + y)
            ll = (
                float(cnt @ by_x)
                + len(x) * (q * np.log(g) - special.gammaln(q))
                + p * s_xlogm
                - s_logm
                - p * float(x @ lg)
                - q * float(lg.sum())
            )
        return -ll if np.isfinite(ll) else 1e300

    return nll


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> Fit:
    """Fit ``p, q, gamma`` to repeat buyers' order counts ``x`` and mean values ``m``.

    Customers with ``x == 0`` or ``m <= 0`` are left out (``Fit.n`` counts those used).
    """
    x, m = np.asarray(x, np.float64), np.asarray(m, np.float64)
    use = (x > 0) & (m > 0)
    x, m = x[use], m[use]
    nll = _nll(x, m)
    mean = float(m.mean()) if len(m) else 1.0
    starts = [np.log([1.0, 2.0, mean]), np.log([5.0, 5.0, 4 * mean])]
    rough = nll
    if len(x) > SUBSAMPLE:  # a subsample (fixed seed) for the rough search
        pick = np.random.default_rng(0).choice(len(x), SUBSAMPLE, replace=False)
        rough = _nll(x[pick], m[pick])
    found = [
        optimize.minimize(rough, s0, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10})
        for s0 in starts
    ]
    best = min(found, key=lambda r: r.fun).x
    polish = optimize.minimize(nll, best, method="L-BFGS-B", options={"ftol": 1e-14})
    theta = polish.x if polish.fun <= nll(best) else best
    hess = approx_hess3(theta, nll)
    try:
        cov = np.linalg.inv(hess)
        ok = bool(np.all(np.linalg.eigvalsh(hess) > 0)) and len(x) >= 3
        ok = ok and bool(np.all(np.abs(theta) < np.log(1e8)))  # none running off
    except np.linalg.LinAlgError:
        cov, ok = np.full((3, 3), np.nan), False
    return Fit(
        model="Gamma-Gamma",
        names=("p", "q", "gamma"),
        estimate=np.exp(theta),
        log_cov=cov,
        loglik=-float(nll(theta)),
        n=len(x),
        converged=ok,
    )
