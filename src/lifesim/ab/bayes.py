"""``bayes``: a Bayesian read-out of a finished experiment, from the same sufficient statistics.

Per metric and arm against control: the posterior of the effect ``arm - control``, its credible
interval, the probability that the arm beats control, and the expected loss of shipping the arm
(and of keeping control).

* Proportions: conjugate Beta-Binomial per arm, prior ``Beta(a, b)`` on each arm's share
  (default ``Beta(1, 1)``, uniform: it adds one success and one failure per arm, so it is
  proper yet moves no realistic estimate). The posterior of the difference of two Betas has no
  closed form: it is sampled (``draws`` draws per arm from a fixed-seed
  :class:`numpy.random.Generator`, so the same call gives the same numbers); the posterior mean
  and SD of the effect are exact, and every Monte Carlo quantity carries its standard error.
* Means, ratios and CUPED: normal approximation of the likelihood (the Welch / delta-method /
  CUPED estimate ``d`` and its standard error ``se``, exactly as :func:`lifesim.ab.analyze`
  computes them) with a normal prior ``N(mu0, tau^2)`` on the effect; the posterior is normal
  in closed form: precision ``1/tau^2 + 1/se^2``, mean ``(mu0/tau^2 + d/se^2) / precision``.
  The default ``tau`` is the unit-information prior (Kass & Wasserman 1995): the per-unit
  standard deviation of the metric, ``se * sqrt(n_c n_a / (n_c + n_a))``, centred on 0. It
  says effects as large as one standard deviation of the outcome are plausible (far beyond
  what A/B tests see) and carries the information of about one unit, so it shrinks the
  estimate by a factor ``1 / (1 + 1/n_c + 1/n_a)``: weak, yet proper and scale-free.

Expected loss (higher is better): shipping the arm costs ``E[max(control - arm, 0)]``, keeping
control costs ``E[max(arm - control, 0)]``; normal case in closed form,
``s phi(m/s) - m Phi(-m/s)`` and ``s phi(m/s) + m Phi(m/s)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import special

from lifesim.ab.aggregate import Aggregates, aggregate
from lifesim.ab.analyze import _order_arms, _rows, analyze_aggregates
from lifesim.ab.bayesresult import BayesResult, Posterior
from lifesim.ab.metrics import Metric
from lifesim.ab.moments import Moments
from lifesim.ab.result import _fmt
from lifesim.errors import DataError

__all__ = ["bayes", "bayes_aggregates", "parse_prior", "Posterior", "BayesResult"]

#: Monte Carlo draws per arm for proportions.
DRAWS = 200_000
DEFAULT_BETA = (1.0, 1.0)
_NORMAL_DEFAULT = "unit-information normal prior N(0, sigma^2), sigma = per-unit SD of the metric"


def _positive(value: float, what: str, hint: str = "") -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{what} == {value!r}, must be a finite number > 0{hint}")
    return v


def parse_prior(text: str) -> tuple[str, float, float]:
    """Read a prior ``'beta:A,B'`` (proportions) or ``'normal:MEAN,SD'`` (effect scale).

    Parameters
    ----------
    text : str
        The prior, e.g. ``'beta:1,1'`` or ``'normal:0,2.5'``.

    Returns
    -------
    (str, float, float)
        ``('beta', a, b)`` or ``('normal', mean, sd)``.

    Raises
    ------
    ValueError
        A malformed prior, or a non-positive ``a``, ``b`` or ``sd`` (the prior variance must
        be positive).

    Examples
    --------
    >>> parse_prior("beta:1,1")
    ('beta', 1.0, 1.0)
    """
    kind, sep, rest = str(text).partition(":")
    kind = kind.strip().lower()
    parts = [p.strip() for p in rest.split(",")]
    try:
        a, b = (float(p) for p in parts)
    except ValueError:
        a = b = math.nan
        kind = "" if not sep or len(parts) != 2 else kind
    if kind not in ("beta", "normal") or math.isnan(a) or math.isnan(b):
        raise ValueError(
            f"prior == {text!r} (--prior), must be 'beta:A,B' (proportions, A, B > 0) or "
            "'normal:MEAN,SD' (effect of means, ratios and CUPED, SD > 0)"
        )
    if kind == "beta":
        _positive(a, f"prior {text!r} (--prior): A")
        _positive(b, f"prior {text!r} (--prior): B")
    else:
        if not math.isfinite(a):
            raise ValueError(f"prior {text!r} (--prior): MEAN == {a!r}, must be finite")
        _positive(b, f"prior {text!r} (--prior): SD", " (the prior variance must be positive)")
    return kind, a, b


_NAN2 = (math.nan, math.nan)


def _beta_rows(
    spec: Metric, mom: Moments, arms: list[str], prior: tuple[float, float], alpha: float,
    draws: int, rng: np.random.Generator,
) -> list[Posterior]:  # fmt: skip
    a0, b0 = prior
    n = mom.n
    x = np.rint(mom.sums()[:, 0])
    pa, pb = a0 + x, b0 + n - x
    mean = pa / (pa + pb)
    var = pa * pb / ((pa + pb) ** 2 * (pa + pb + 1))
    samples = [rng.beta(pa[g], pb[g], draws) for g in range(len(arms))]
    q = (alpha / 2, 1 - alpha / 2)
    z = float(special.ndtri(1 - alpha / 2))
    out = []
    for a in range(1, len(arms)):
        d = samples[a] - samples[0]
        sd = math.sqrt(var[a] + var[0])
        prob = float(np.mean(d > 0))
        ship, keep = np.maximum(-d, 0.0), np.maximum(d, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = samples[a] / samples[0] - 1
        # SE of a quantile: sqrt(q (1 - q) / N) / density, density from the normal shape
        dens = math.exp(-z * z / 2) / math.sqrt(2 * math.pi) / sd
        out.append(Posterior(
            metric=spec.label, kind=spec.kind, covariate=None, arm=arms[a], control=arms[0],
            control_value=float(mean[0]), arm_value=float(mean[a]),
            effect=float(mean[a] - mean[0]), effect_sd=sd,
            ci=tuple(float(v) for v in np.quantile(d, q)),  # type: ignore[arg-type]
            rel_effect=float(np.mean(rel)),
            rel_ci=tuple(float(v) for v in np.quantile(rel, q)),  # type: ignore[arg-type]
            prob_beat_control=prob, expected_loss=float(ship.mean()),
            expected_loss_control=float(keep.mean()),
            prior=f"Beta({a0:g}, {b0:g}) on each arm's share",
            posterior=f"{arms[0]}: Beta({pa[0]:g}, {pb[0]:g}); {arms[a]}: Beta({pa[a]:g}, "
            f"{pb[a]:g})",
            n_control=int(n[0]), n_arm=int(n[a]), draws=draws,
            mc_se_prob=math.sqrt(max(prob * (1 - prob), 1 / draws) / draws),
            mc_se_loss=float(max(ship.std(), keep.std()) / math.sqrt(draws)),
            mc_se_ci=math.sqrt(alpha / 2 * (1 - alpha / 2) / draws) / dens,
            method="conjugate Beta-Binomial per arm; the difference by Monte Carlo "
            f"({draws:,} draws per arm, fixed-seed Generator); mean and SD exact",
        ))  # fmt: skip
    return out


def _normal_rows(
    spec: Metric, mom: Moments, arms: list[str], prior: tuple[float, float] | None,
    alpha: float,
) -> tuple[list[Posterior], list[str]]:  # fmt: skip
    rows = _rows(spec, mom, arms, 0.05, "two-sided")
    z = float(special.ndtri(1 - alpha / 2))
    out, warns = [], []
    for a, (e, method, _) in enumerate(rows, start=1):
        d, se = e.abs_effect, e.se
        warns += [w for w in e.warnings if "no CI and no p-value" not in w]
        n0, n1 = int(mom.n[0]), int(mom.n[a])
        if prior is None:
            mu0, tau = 0.0, se * math.sqrt(n0 * n1 / (n0 + n1)) if n0 + n1 else math.nan
            prior_txt = f"Normal(0, {_fmt(tau)}^2) on the effect ({_NORMAL_DEFAULT})"
        else:
            mu0, tau = prior
            prior_txt = f"Normal({mu0:g}, {tau:g}^2) on the effect (given)"
        if not (se > 0 and math.isfinite(se) and tau > 0):
            warns.append(
                f"{spec.label} ({arms[a]}): no standard error (an arm has < 2 units or no "
                "variance): no posterior"
            )
            m = s = math.nan
        else:
            prec = 1 / tau**2 + 1 / se**2
            m, s = (mu0 / tau**2 + d / se**2) / prec, 1 / math.sqrt(prec)
        r = m / s if s > 0 else math.nan
        phi, cdf = math.exp(-r * r / 2) / math.sqrt(2 * math.pi), float(special.ndtr(r))
        out.append(Posterior(
            metric=spec.label, kind=spec.kind, covariate=spec.covariate_label, arm=arms[a],
            control=arms[0], control_value=e.control_value, arm_value=e.arm_value, effect=m,
            effect_sd=s, ci=(m - z * s, m + z * s), rel_effect=math.nan, rel_ci=_NAN2,
            prob_beat_control=cdf, expected_loss=s * phi - m * (1 - cdf),
            expected_loss_control=s * phi + m * cdf, prior=prior_txt,
            posterior=f"Normal({_fmt(m)}, {_fmt(s)}^2)", n_control=n0, n_arm=n1, draws=0,
            mc_se_prob=0.0, mc_se_loss=0.0, mc_se_ci=0.0,
            method="normal likelihood of the effect (estimate and SE: " + method
            + ") x normal prior: closed-form normal posterior",
        ))  # fmt: skip
    return out, warns


def _prior_for(
    spec: Metric, prior: str | None, prior_sd: float | Mapping[str, float] | None
) -> tuple[float, float] | None:
    if isinstance(prior_sd, Mapping):
        sd = prior_sd.get(spec.label)
    else:
        sd = prior_sd
    if spec.kind == "proportion":
        if prior is not None and parse_prior(prior)[0] == "beta":
            return parse_prior(prior)[1:]
        return DEFAULT_BETA
    if sd is not None:
        return 0.0, float(sd)
    if prior is not None and parse_prior(prior)[0] == "normal":
        return parse_prior(prior)[1:]
    return None


def _check_priors(
    metrics: Sequence[Metric], prior: str | None, prior_sd: float | Mapping[str, float] | None
) -> None:
    kinds = {m.kind for m in metrics}
    labels = [m.label for m in metrics]
    if prior is not None:
        kind = parse_prior(prior)[0]
        if kind == "beta" and "proportion" not in kinds:
            raise DataError(
                f"prior {prior!r} (--prior): a Beta prior applies to proportions, and no metric "
                f"is one ({', '.join(map(repr, labels))}); use --prior-sd SD or "
                "--prior normal:MEAN,SD for means, ratios and CUPED"
            )
        if kind == "normal" and kinds <= {"proportion"}:
            raise DataError(
                f"prior {prior!r} (--prior): a normal prior on the effect applies to means, "
                "ratios and CUPED; proportions take --prior beta:A,B"
            )
    if prior_sd is None:
        return
    sds = prior_sd if isinstance(prior_sd, Mapping) else {"": prior_sd}
    for key, sd in sds.items():
        what = "prior_sd" + (f"[{key!r}]" if key else "") + " (--prior-sd)"
        _positive(sd, what, " (the prior variance of the effect must be positive)")
        if key and key not in labels:
            raise DataError(
                f"prior_sd given for {key!r} (--prior-sd), which is not among the metrics "
                f"({', '.join(map(repr, labels))})"
            )
    if kinds <= {"proportion"}:
        raise DataError(
            "prior_sd (--prior-sd) is a normal prior on the effect of means, ratios and CUPED; "
            "proportions take a Beta prior per arm: --prior beta:A,B (default beta:1,1)"
        )


def bayes(
    data: Any,
    *,
    arm: str,
    metrics: Sequence[Metric | str] | Metric | str,
    control: str | None = None,
    covariates: Mapping[str, str] | None = None,
    prior: str | None = None,
    prior_sd: float | Mapping[str, float] | None = None,
    alpha: float = 0.05,
    draws: int = DRAWS,
    rng: int | np.random.Generator | np.random.SeedSequence = 0,
    expected_split: Sequence[float] | Mapping[str, float] | None = None,
    unit: str | None = None,
    dropna: bool = False,
) -> BayesResult:
    """Bayesian read-out: posterior of each effect, credible interval, P(beat), expected loss.

    Parameters
    ----------
    data, arm, metrics, control, covariates, expected_split, unit, dropna
        As in :func:`lifesim.ab.analyze` (the sample-ratio check is the same).
    prior : str, optional
        ``'beta:A,B'``: the prior of every arm's share for proportions (default
        ``'beta:1,1'``); ``'normal:MEAN,SD'``: the prior of the effect of means, ratios and
        CUPED (default: the unit-information prior, see the module notes).
    prior_sd : float or mapping of str to float, optional
        ``N(0, prior_sd^2)`` on the effect of means, ratios and CUPED (metric units), for all
        of them or per metric label; overrides a normal ``prior``.
    alpha : float, default 0.05
        Credible intervals have level ``1 - alpha`` (equal-tailed).
    draws : int, default 200_000
        Monte Carlo draws per arm for proportions.
    rng : int, Generator or SeedSequence, default 0
        Seed of the Monte Carlo draws (fixed by default: the same call, the same numbers).

    Returns
    -------
    BayesResult
        Frozen result with ``to_pandas()``, ``summary()``, ``to_dict()`` and an HTML view.

    Raises
    ------
    ValueError
        A prior with a non-positive variance (or ``A``, ``B``), bad ``alpha`` or ``draws``.
    lifesim.errors.DataError
        Bad data, or a prior that fits none of the metrics.

    Examples
    --------
    >>> import pandas as pd
    >>> from lifesim import ab
    >>> df = pd.DataFrame({"variant": ["control"] * 50 + ["b"] * 50,
    ...                    "converted": [1] * 10 + [0] * 40 + [1] * 20 + [0] * 30})
    >>> res = ab.bayes(df, arm="variant", metrics="converted")
    >>> round(res.posteriors[0].prob_beat_control, 2)
    0.98
    """
    agg = aggregate(data, arm=arm, metrics=metrics, covariates=covariates, unit=unit, dropna=dropna)
    return bayes_aggregates(agg, control=control, prior=prior, prior_sd=prior_sd, alpha=alpha,
                            draws=draws, rng=rng, expected_split=expected_split)  # fmt: skip


def bayes_aggregates(
    agg: Aggregates,
    *,
    control: str | None = None,
    prior: str | None = None,
    prior_sd: float | Mapping[str, float] | None = None,
    alpha: float = 0.05,
    draws: int = DRAWS,
    rng: int | np.random.Generator | np.random.SeedSequence = 0,
    expected_split: Sequence[float] | Mapping[str, float] | None = None,
) -> BayesResult:
    """Bayesian read-out of per-arm sufficient statistics (parameters as in :func:`bayes`)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha == {alpha!r}, must be in (0, 1)")
    if int(draws) != draws or draws < 1000:
        raise ValueError(f"draws == {draws!r}, must be an integer >= 1000")
    if prior is not None:
        parse_prior(prior)
    _check_priors(agg.metrics, prior, prior_sd)
    arms, perm = _order_arms(list(agg.arms), control, agg.arm)
    inv = np.argsort(perm)
    freq = analyze_aggregates(agg, control=control, expected_split=expected_split)
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng < 0:
        raise DataError(f"rng: must be >= 0 (a seed), got {rng}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    posts: list[Posterior] = []
    warns = [w for w in freq.warnings if w.startswith("sample ratio") or ": dropped " in w]
    for spec, raw in zip(agg.metrics, agg.moments, strict=True):
        mom = raw.select(inv)
        pri = _prior_for(spec, prior, prior_sd)
        if spec.kind == "proportion":
            posts += _beta_rows(spec, mom, arms, pri, alpha, int(draws), gen)  # type: ignore[arg-type]
        else:
            rows, w = _normal_rows(spec, mom, arms, pri, alpha)
            posts += rows
            warns += w
    n = {a: int(agg.n[list(agg.arms).index(a)]) for a in arms}
    return BayesResult(n=n, control=arms[0], alpha=alpha, posteriors=tuple(posts),
                       draws=int(draws), warnings=tuple(dict.fromkeys(warns)),
                       srm=freq.srm)  # fmt: skip
