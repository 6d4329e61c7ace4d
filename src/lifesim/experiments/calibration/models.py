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


def _tanh_sinh_nodes(h: float = 1 / 32, k_max: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Tanh-sinh (double exponential) nodes on (0, 1) and their weights."""
    k = np.arange(-k_max / h, k_max / h + 1) * h
    s = 0.5 * np.pi * np.sinh(k)
    with np.errstate(over="ignore"):
        x = 1 / (1 + np.exp(-2 * s))
        wt = h * 0.5 * np.pi * np.cosh(k) / (2 * np.cosh(s) ** 2)
    keep = wt > 1e-300  # (there x > 0 too)
    return x[keep], wt[keep]


_TS_X, _TS_W = _tanh_sinh_nodes()


def _euler_integral(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Return ``a int_0^1 (1 - t)^(a - 1) (1 - w t)^(-b) dt`` (``2F1(1, b; a + 1; w)``, ``w <= 0``).

    Tanh-sinh quadrature, vectorised over the points, on ``[0, tau]``, where the integrand
    falls from 1 at the rate ``c = max(a - 1, 0) + b |w|`` (``tau = min(1/2, 30 / c)``), then
    on two pieces evenly spaced in ``log t`` up to ``tau^(1/3)`` (a small ``b`` leaves a slow
    power-law tail ``(|w| t)^(-b)`` over many decades), and on the rest with ``u = (1 - t)^a``,
    which takes out the ``(1 - t)^(a - 1)`` singularity at 1 (``a < 1``). Peaks of width
    ``1e-14`` at 0 are resolved. Agrees with mpmath's ``hyp2f1`` to ~1e-15 relative where
    SciPy's fails (tested); SciPy's adaptive ``quad``, used before, was ~4x slower and
    returned 0 for the narrowest peaks.
    """
    a, b, w = (np.asarray(v, np.float64)[:, None] for v in (a, b, w))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        c = np.maximum(a - 1.0, 0.0) + b * np.abs(w)
        tau = np.minimum(0.5, 30.0 / c)
        edges = [np.zeros_like(tau), tau, tau ** (2 / 3), tau ** (1 / 3)]
        total = np.zeros(a.shape[0])
        for lo, hi in zip(edges[:-1], edges[1:], strict=False):
            span = hi - lo
            t = lo + span * _TS_X
            log_f = (a - 1.0) * np.log1p(-t) - b * np.log1p(-w * t)
            total += (np.exp(log_f) * _TS_W).sum(axis=1) * span[:, 0]
        total *= a[:, 0]
        # the last piece [lo, 1] with u = (1 - t)^a: a (1 - t)^(a - 1) dt = -du takes the
        # singularity at 1 (a < 1) out: the integral of (1 - w t)^(-b) over u in [0, (1 - lo)^a]
        log_top = a * np.log1p(-edges[-1])
        top = np.exp(log_top)  # 0 when a is large: nothing left there
        t = -np.expm1((log_top + np.log(_TS_X)) / a)
        total += (np.exp(-b * np.log1p(-w * t)) * _TS_W).sum(axis=1) * top[:, 0]
        return total


def _log_f_pfaff(a: np.ndarray, b: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``log 2F1(a, b; a + 1; z)`` for ``0 <= z < 1``, via Pfaff's transformation.

    ``2F1(1, b; a + 1; w)`` with ``w = z / (z - 1) <= 0``; where SciPy's ``hyp2f1`` fails (NaN
    for large ``a`` and very negative ``w``, e.g. a nearly homogeneous dropout draw, or a value
    outside ``(0, 1]``), Euler's integral is evaluated by quadrature (:func:`_euler_integral`).
    """
    a, b, z = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, z)))
    w = z / (z - 1.0)  # <= 0
    with np.errstate(invalid="ignore"):
        h = np.asarray(special.hyp2f1(1.0, b, a + 1.0, w), np.float64)
    # 0 < h <= 1 (an average of (1 - w t)^(-b) <= 1): SciPy also returns finite values outside
    # it, e.g. 2F1(1, 34.2; 87.7; -1334) = 3.35e6 (mpmath and the integral: 0.00195)
    bad = ~(np.isfinite(h) & (h > 0) & (h <= 1.0))
    if bad.any():
        h = h.copy()
        h[bad] = _euler_integral(a[bad], b[bad], w[bad])
    return -b * np.log1p(-z) + np.log(h)


@dataclass(frozen=True)
class _Pairs:
    """Rows ``(x, t_x, T)`` with their distinct ``(x, t_x)`` and ``(x, T)`` pairs.

    The costly terms of both likelihoods depend on one pair only, so they are computed once
    per distinct pair and spread back to the rows (``ia``, ``ib``).
    """

    t_x: np.ndarray
    T: np.ndarray
    xa: np.ndarray
    ya: np.ndarray
    ia: np.ndarray
    xb: np.ndarray
    yb: np.ndarray
    ib: np.ndarray

    @classmethod
    def of(cls, x, t_x, T) -> _Pairs:
        x, t_x, T = (np.asarray(v, np.float64) for v in (x, t_x, T))
        a, ia = np.unique(np.column_stack([x, t_x]), axis=0, return_inverse=True)
        b, ib = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
        return cls(t_x, T, a[:, 0], a[:, 1], ia.ravel(), b[:, 0], b[:, 1], ib.ravel())


def _pareto_terms(params, x, t_x, T, pairs: _Pairs | None = None):
    pairs = pairs if pairs is not None else _Pairs.of(x, t_x, T)
    r, alpha, s, beta = params

    def term(xx, y):  # log 2F1(...) / (base + y)^(r + s + x) at pairs (xx, y)
        a1 = r + s + xx
        if alpha >= beta:
            return _log_f_pfaff(a1, s + 1.0, (alpha - beta) / (alpha + y)) - a1 * np.log(alpha + y)
        return _log_f_pfaff(a1, r + xx, (beta - alpha) / (beta + y)) - a1 * np.log(beta + y)

    t1 = term(pairs.xa, pairs.ya)[pairs.ia]
    t2 = term(pairs.xb, pairs.yb)[pairs.ib]
    with np.errstate(divide="ignore"):  # A0 = e^t1 - e^t2 >= 0 (0 when t_x = T)
        log_a0 = t1 + np.log(-np.expm1(np.minimum(t2 - t1, 0.0)))
    xb, yb = pairs.xb, pairs.yb
    log_alive = (-(r + xb) * np.log(alpha + yb) - s * np.log(beta + yb))[pairs.ib]
    log_k = (np.log(s) - np.log(r + s + xb))[pairs.ib]
    rest = np.where(pairs.t_x < pairs.T, log_k + log_a0, -np.inf)  # A0 = 0 when t_x = T
    return log_alive, rest


def pareto_nbd_loglik(params, x, t_x, T, pairs: _Pairs | None = None) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood (Fader & Hardie 2005, eq. 22)."""
    pairs = pairs if pairs is not None else _Pairs.of(x, t_x, T)
    r, alpha, s, beta = params
    log_alive, rest = _pareto_terms(params, x, t_x, T, pairs)
    xb = pairs.xb
    head = special.gammaln(r + xb) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return head[pairs.ib] + np.logaddexp(log_alive, rest)


def pareto_nbd_p_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive at T | x, t_x, T) under the Pareto/NBD."""
    log_alive, rest = _pareto_terms(params, x, t_x, T)
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


def bg_nbd_loglik(params, x, t_x, T, pairs: _Pairs | None = None) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6)."""
    pairs = pairs if pairs is not None else _Pairs.of(x, t_x, T)
    r, alpha, a, b = params
    xb, yb, xa, ya = pairs.xb, pairs.yb, pairs.xa, pairs.ya
    common = special.gammaln(r + xb) - special.gammaln(r) + r * np.log(alpha)
    first = special.betaln(a, b + xb) - special.betaln(a, b) - (r + xb) * np.log(alpha + yb)
    with np.errstate(invalid="ignore", divide="ignore"):
        second = (
            special.betaln(a + 1.0, b + xa - 1.0)
            - special.betaln(a, b)
            - (r + xa) * np.log(alpha + ya)
        )
    second = np.where(xa > 0, second, -np.inf)
    return (common + first)[pairs.ib] + np.logaddexp(0.0, (second[pairs.ia] - first[pairs.ib]))


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


def bg_nbd_active(params, t, x, t_x, T) -> np.ndarray:
    """Return P(at least one purchase in ``(T, T + t]``) given the history (BG/NBD).

    A customer alive at ``T`` (probability ``1 / (1 + [x > 0] a / (b + x - 1)
    ((alpha + T) / (alpha + t_x))^(r + x))``, Fader, Hardie & Lee 2005) can only drop out
    right after a purchase, so no purchase in the period means a purchase rate
    ``lambda ~ Gamma(r + x, alpha + T)`` gave none: ``P = ((alpha + T) / (alpha + T + t))^(r +
    x)``.
    """
    r, alpha, a, b = params
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            x > 0, a / np.maximum(b + x - 1.0, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0
        )
    alive = 1.0 / (1.0 + ratio)
    return alive * (1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x))


#: The search starts with Nelder-Mead (robust where the likelihood is flat or undefined) on at
#: most this many distinct ``(x, t_x, T)`` rows, a random subsample of customers for larger
#: logs; L-BFGS-B then polishes on all the data from there.
SUBSAMPLE = 5_000


def _nll(loglik, x, t_x, T, w):
    pairs = _Pairs.of(x, t_x, T)

    def nll(theta):
        p = np.exp(theta)
        with np.errstate(all="ignore"):
            v = loglik(p, x, t_x, T, pairs)
        if not np.all(np.isfinite(v)):
            return 1e300
        return -float(w @ v)

    return nll


def _fit(model, names, loglik, start, summary: Summary) -> Fit:
    x, t_x, T, w = summary.grouped()
    if len(x) > SUBSAMPLE:  # a subsample of customers (fixed seed) for the rough search
        pick = np.random.default_rng(0).choice(len(x), size=SUBSAMPLE, p=w / w.sum())
        rough = _nll(loglik, x[pick], t_x[pick], T[pick], np.ones(SUBSAMPLE))
    else:
        rough = _nll(loglik, x, t_x, T, w)
    found = [
        optimize.minimize(
            rough,
            np.log(s0),
            method="Nelder-Mead",
            options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000},
        )
        for s0 in start
    ]
    theta0 = min(found, key=lambda r: r.fun).x
    nll = _nll(loglik, x, t_x, T, w)
    best = optimize.minimize(
        nll,
        theta0,
        method="L-BFGS-B",
        options={"ftol": 1e-13, "gtol": 1e-6, "eps": 1e-7, "maxiter": 500},
    )
    if best.fun > nll(theta0):  # the polish may not move off an optimum already found
        best = optimize.OptimizeResult(x=theta0, fun=nll(theta0))
    theta = best.x
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
        loglik=-float(best.fun),
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
