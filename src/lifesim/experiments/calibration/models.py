"""Buy-till-you-die models fitted by maximum likelihood: Pareto/NBD and BG/NBD.

Both take each customer's repeat-purchase summary: ``x`` repeat purchases (days with a
purchase after the first), ``t_x`` the time of the last one and ``T`` the time observed, both
counted from the first purchase, in any one time unit (lifesim uses days).

* **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987): while alive a customer buys at rate
  ``lambda ~ Gamma(r, alpha)`` and dies at rate ``mu ~ Gamma(s, beta)``. This is exactly the
  engine's model of a customer stage (a daily purchase probability scaled by propensity, a
  daily dropout probability scaled by the dropout multiplier), so lifesim calibrates with it.
  The likelihood is Fader & Hardie's (2005, "A note on deriving the Pareto/NBD model and
  related expressions", eq. 22), with the Gauss hypergeometric function evaluated after
  Pfaff's transformation so that it stays finite for heavy buyers.
* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): the classic
  baseline; dropout ``p ~ Beta(a, b)`` after each purchase.

Parameters are fitted on the log scale (L-BFGS-B); standard errors come from the inverse of
the numerical Hessian of the negative log-likelihood at the optimum (statsmodels), on the log
scale, so intervals are ``exp(log theta +- 1.96 se)`` and never leave the positive axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special
from statsmodels.tools.numdiff import approx_hess3

__all__ = ["Summary", "Fit", "fit_pareto_nbd", "fit_bg_nbd", "pareto_nbd_loglik", "bg_nbd_loglik"]


@dataclass(frozen=True)
class Summary:
    """Per-customer repeat-purchase summary (arrays of equal length)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray

    def grouped(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the unique ``(x, t_x, T)`` rows and their counts (likelihoods are per row)."""
        rows = np.column_stack([self.x, self.t_x, self.T]).astype(np.float64)
        uniq, counts = np.unique(rows, axis=0, return_counts=True)
        return uniq[:, 0], uniq[:, 1], uniq[:, 2], counts.astype(np.float64)


@dataclass(frozen=True)
class Fit:
    """A fitted model: estimates, standard errors, 95% intervals, log-likelihood."""

    model: str
    names: tuple[str, ...]
    estimate: np.ndarray
    log_cov: np.ndarray  # covariance of the log-parameters
    loglik: float
    n: int
    converged: bool
    extra: dict = field(default_factory=dict)

    @property
    def params(self) -> dict[str, float]:
        """Estimates by name."""
        return dict(zip(self.names, map(float, self.estimate), strict=True))

    @property
    def se(self) -> np.ndarray:
        """Standard errors on the natural scale (delta method from the log scale)."""
        return self.estimate * np.sqrt(np.clip(np.diag(self.log_cov), 0, None))

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Wald interval on the log scale, mapped back (always positive)."""
        z = special.ndtri(0.5 + level / 2)
        sd = np.sqrt(np.clip(np.diag(self.log_cov), 0, None))
        return self.estimate * np.exp(-z * sd), self.estimate * np.exp(z * sd)

    def draws(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` parameter sets from the asymptotic normal of the log-parameters."""
        z = rng.multivariate_normal(np.log(self.estimate), self.log_cov, size=n, method="eigh")
        return np.exp(z)


def _log_f_pfaff(a: np.ndarray, b: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``log 2F1(a, b; a + 1; z)`` for ``0 <= z < 1``, via Pfaff's transformation."""
    w = z / (z - 1.0)  # <= 0
    return -b * np.log1p(-z) + np.log(special.hyp2f1(1.0, b, a + 1.0, w))


def _pareto_terms(params, x, t_x, T):
    r, alpha, s, beta = params
    a1 = r + s + x
    if alpha >= beta:
        b, base = s + 1.0, alpha

        def zf(y):
            return (alpha - beta) / (alpha + y)
    else:
        b, base = r + x, beta

        def zf(y):
            return (beta - alpha) / (beta + y)

    t1 = _log_f_pfaff(a1, b, zf(t_x)) - a1 * np.log(base + t_x)
    t2 = _log_f_pfaff(a1, b, zf(T)) - a1 * np.log(base + T)
    with np.errstate(divide="ignore"):  # A0 = e^t1 - e^t2 >= 0 (0 when t_x = T)
        log_a0 = t1 + np.log(-np.expm1(np.minimum(t2 - t1, 0.0)))
    log_alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_k = np.log(s) - np.log(a1)
    return log_alive, log_k + log_a0


def pareto_nbd_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood (Fader & Hardie 2005, eq. 22)."""
    r, alpha, s, beta = params
    log_alive, log_rest = _pareto_terms(params, x, t_x, T)
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    with np.errstate(invalid="ignore"):
        rest = np.where(t_x < T, log_rest, -np.inf)  # A0 = 0 when the last purchase is at T
    return head + np.logaddexp(log_alive, rest)


def pareto_nbd_p_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive at T | x, t_x, T) under the Pareto/NBD."""
    log_alive, log_rest = _pareto_terms(params, x, t_x, T)
    rest = np.where(t_x < T, log_rest, -np.inf)
    return np.exp(log_alive - np.logaddexp(log_alive, rest))


def pareto_nbd_expected(params, t, x, t_x, T) -> np.ndarray:
    """Return the expected purchases in ``(T, T + t]`` given the history (Pareto/NBD)."""
    r, alpha, s, beta = params
    p = pareto_nbd_p_alive(params, x, t_x, T)
    if abs(s - 1.0) < 1e-9:
        core = (r + x) / (alpha + T) * (beta + T) * np.log((beta + T + t) / (beta + T))
    else:
        core = (
            (r + x)
            * (beta + T)
            / ((alpha + T) * (s - 1.0))
            * (1.0 - ((beta + T) / (beta + T + t)) ** (s - 1.0))
        )
    return p * core


def bg_nbd_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6)."""
    r, alpha, a, b = params
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    first = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(invalid="ignore", divide="ignore"):
        second = (
            special.betaln(a + 1.0, b + x - 1.0)
            - special.betaln(a, b)
            - (r + x) * np.log(alpha + t_x)
        )
    second = np.where(x > 0, second, -np.inf)
    return common + np.logaddexp(first, second)


def bg_nbd_expected(params, t, x, t_x, T) -> np.ndarray:
    """Return the expected purchases in ``(T, T + t]`` given the history (BG/NBD, eq. 10)."""
    r, alpha, a, b = params
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    num = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            x > 0, a / np.maximum(b + x - 1.0, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0
        )
    return num / (1.0 + ratio)


def _fit(model, names, loglik, start, summary: Summary) -> Fit:
    x, t_x, T, w = summary.grouped()

    def nll(theta):
        p = np.exp(theta)
        with np.errstate(all="ignore"):
            v = loglik(p, x, t_x, T)
        if not np.all(np.isfinite(v)):
            return 1e300
        return -float(w @ v)

    best = None
    for s0 in start:
        res = optimize.minimize(nll, np.log(s0), method="L-BFGS-B", bounds=[(-12, 12)] * 4)
        if best is None or res.fun < best.fun:
            best = res
    res = optimize.minimize(
        nll, best.x, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 4000}
    )
    theta = res.x if res.fun <= best.fun else best.x
    hess = approx_hess3(theta, nll)
    try:
        cov = np.linalg.inv(hess)
        ok = bool(np.all(np.linalg.eigvalsh(hess) > 0))
    except np.linalg.LinAlgError:
        cov, ok = np.full((4, 4), np.nan), False
    return Fit(
        model=model,
        names=names,
        estimate=np.exp(theta),
        log_cov=cov,
        loglik=-float(min(res.fun, best.fun)),
        n=int(w.sum()),
        converged=ok,
    )


def _starts(summary: Summary) -> list[np.ndarray]:
    scale = max(float(np.mean(summary.T)), 1.0)
    return [np.array([0.5, scale / 4, 0.5, scale / 4]), np.array([1.0, scale, 1.0, scale])]


def fit_pareto_nbd(summary: Summary) -> Fit:
    """Fit the Pareto/NBD (parameters ``r, alpha, s, beta`` in the summary's time unit)."""
    return _fit(
        "Pareto/NBD", ("r", "alpha", "s", "beta"), pareto_nbd_loglik, _starts(summary), summary
    )


def fit_bg_nbd(summary: Summary) -> Fit:
    """Fit the BG/NBD (parameters ``r, alpha, a, b``)."""
    scale = max(float(np.mean(summary.T)), 1.0)
    starts = [np.array([0.5, scale / 4, 1.0, 2.0]), np.array([1.0, scale, 0.5, 1.0])]
    return _fit("BG/NBD", ("r", "alpha", "a", "b"), bg_nbd_loglik, starts, summary)
