"""``analyze``: every metric, every arm against control, from per-arm sufficient statistics."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from lifesim.ab.aggregate import Aggregates, aggregate
from lifesim.ab.metrics import Mean, Metric, Proportion
from lifesim.ab.moments import Moments
from lifesim.ab.result import ABResult, Comparison, SRMCheck
from lifesim.ab.stats import (
    ALTERNATIVES,
    CORRECTIONS,
    P_FLOOR,
    Estimate,
    adjust,
    compare,
    srm_test,
    welch_df,
)
from lifesim.errors import DataError

__all__ = ["analyze", "analyze_aggregates", "SRM_THRESHOLD"]

#: The SRM check flags a mismatch when its p-value is below this.
SRM_THRESHOLD = 0.001
_SMALL_N = 30
_Fn = Callable[[np.ndarray], tuple[float, np.ndarray]]

_METHOD_PROP = {
    "z-pooled": "two-proportion z-test (pooled SE under H0, no continuity correction)",
    "z-unpooled": "two-proportion z-test (unpooled SE)",
    "fisher": "Fisher's exact test on the 2x2 table",
}
_CI_PROP = "abs CI: Wald (unpooled SE); rel CI: log risk ratio (delta method)"


def _check_args(alpha: float, alternative: str, correction: str) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha == {alpha!r}, must be in (0, 1)")
    if alternative not in ALTERNATIVES:
        allowed = ", ".join(ALTERNATIVES)
        raise ValueError(f"alternative == {alternative!r}, must be one of {allowed}")
    if correction not in CORRECTIONS:
        raise ValueError(f"correction == {correction!r}, must be one of {', '.join(CORRECTIONS)}")


def _order_arms(labels: list[str], control: str | None, arm: str) -> tuple[list[str], np.ndarray]:
    if control is None:
        if "control" not in labels:
            raise DataError(
                f"arm column {arm!r}: say which arm is control (labels: "
                f"{', '.join(map(repr, sorted(labels)))})"
            )
        control = "control"
    control = str(control)
    if control not in labels:
        raise DataError(
            f"control {control!r} is not a value of arm column {arm!r}; its values are "
            f"{', '.join(map(repr, sorted(labels)))}"
        )
    if len(labels) < 2:
        raise DataError(
            f"arm column {arm!r} has a single arm ({labels[0]!r}); an A/B test needs control and "
            "at least one other arm"
        )
    ordered = [control] + sorted(lb for lb in labels if lb != control)
    perm = np.array([ordered.index(lb) for lb in labels], dtype=np.intp)
    return ordered, perm


def _expected_shares(
    expected_split: Sequence[float] | Mapping[str, float] | None, arms: list[str]
) -> np.ndarray:
    if expected_split is None:
        return np.full(len(arms), 1.0 / len(arms))
    if isinstance(expected_split, Mapping):
        unknown = [k for k in expected_split if str(k) not in arms]
        if unknown or len(expected_split) != len(arms):
            raise DataError(
                f"expected_split has arms {list(map(str, expected_split))}, the data has {arms}"
            )
        w = np.array([float(expected_split[a]) for a in arms])
    else:
        w = np.asarray(list(expected_split), dtype=float)
        if w.size != len(arms):
            raise DataError(
                f"expected_split has {w.size} shares for {len(arms)} arms {arms} "
                "(order: control first, then the other arms sorted)"
            )
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise DataError(f"expected_split == {w.tolist()}, every share must be > 0")
    return w / w.sum()


def _mean_fn(j: int) -> _Fn:
    def fn(m: np.ndarray) -> tuple[float, np.ndarray]:
        g = np.zeros(m.size)
        g[j] = 1.0
        return float(m[j]), g

    return fn


def _ratio_fn(i: int, j: int) -> _Fn:
    def fn(m: np.ndarray) -> tuple[float, np.ndarray]:
        g = np.zeros(m.size)
        r = m[i] / m[j]
        g[i], g[j] = 1.0 / m[j], -r / m[j]
        return float(r), g

    return fn


def _linear(
    mom: Moments, value: _Fn, cov_fn: _Fn | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
    """Per-arm estimate, its variance per unit (L' C L) and unadjusted variance; theta."""
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


def _analyze_metric(
    metric: Metric,
    mom: Moments,
    arms: list[str],
    alpha: float,
    alternative: str,
    warns: list[str],
) -> list[tuple[Estimate, str, float | None]]:
    n = mom.n
    out: list[tuple[Estimate, str, float | None]] = []
    for a, name in enumerate(arms):
        if n[a] < 2:
            warns.append(
                f"{metric.label}: arm {name!r} has {n[a]} unit(s); need >= 2 for a variance, "
                "so its results are NaN"
            )
        elif n[a] < _SMALL_N and metric.kind != "proportion":
            warns.append(
                f"{metric.label}: arm {name!r} has only {n[a]} units; the t/normal "
                "approximation may be poor"
            )
    label = metric.label
    if isinstance(metric, Proportion):
        x = np.rint(mom.sums()[:, 0])  # exact counts of 1s
        with np.errstate(invalid="ignore", divide="ignore"):
            p = x / n
            var = p * (1 - p) / n
        for a in range(1, len(arms)):
            lab = f"{label} ({arms[a]})"
            if min(x[0], x[a], n[0] - x[0], n[a] - x[a]) < 5 and metric.test != "fisher":
                warns.append(
                    f"{lab}: fewer than 5 successes or failures in a group; the z-test is "
                    "approximate, consider Proportion(..., test='fisher')"
                )
            log_p = test_se = None
            if metric.test == "z-pooled":
                pp = (x[0] + x[a]) / (n[0] + n[a])
                test_se = math.sqrt(pp * (1 - pp) * (1 / n[0] + 1 / n[a]))
            elif metric.test == "fisher":
                table = [[x[a], n[a] - x[a]], [x[0], n[0] - x[0]]]
                table = np.asarray(table, dtype=np.int64)
                fp = float(stats.fisher_exact(table, alternative).pvalue)
                log_p = math.log(fp) if fp > 0 else math.log(P_FLOOR)
            est = compare(
                p[0], var[0], p[a], var[a], alpha=alpha, alternative=alternative,
                test_se=test_se, log_p=log_p, label=lab,
            )  # fmt: skip
            out.append((est, f"{_METHOD_PROP[metric.test]}; {_CI_PROP}", None))
        return out
    if isinstance(metric, Mean):
        value, cov_fn = _mean_fn(0), (_mean_fn(1) if metric.covariate else None)
    else:
        value = _ratio_fn(0, 1)
        cc = metric.covariate_columns
        cov_fn = None if not cc else (_mean_fn(2) if len(cc) == 1 else _ratio_fn(2, 3))
    est, var, var0, theta = _linear(mom, value, cov_fn)
    cov_txt = ""
    if theta is not None:
        cname = metric.covariate if isinstance(metric, Mean) else "/".join(cc)
        what = "Y" if isinstance(metric, Mean) else "the ratio's delta-method linearisation"
        cov_txt = (
            f"CUPED on {cname} (theta={theta:.4g}: cov/var over all units of all arms, "
            f"adjusting {what}); "
        )
    for a in range(1, len(arms)):
        lab = f"{label} ({arms[a]})"
        if isinstance(metric, Mean):
            df = welch_df(var[a], n[a], var[0], n[0]) if min(n[0], n[a]) >= 2 else math.nan
            df_use = df if math.isfinite(df) else None
            e = compare(
                est[0], var[0] / n[0], est[a], var[a] / n[a], alpha=alpha,
                alternative=alternative, df=df_use, label=lab,
            )  # fmt: skip
            method = (
                f"{cov_txt}Welch t-test (Welch-Satterthwaite df, in `df`); abs CI: t quantile; "
                "rel CI: delta method on log ratio of means"
            )
            if df_use is None:
                method = method.replace("Welch t-test", "Welch t-test, undefined df so z")
        else:
            e = compare(
                est[0], var[0] / n[0], est[a], var[a] / n[a], alpha=alpha,
                alternative=alternative, label=lab,
            )  # fmt: skip
            method = (
                f"{cov_txt}ratio of sums, delta method with the unit as the unit of analysis, "
                "z-test (normal approximation); rel CI: delta method on log ratio"
            )
        vr = None
        if theta is not None:
            v0 = var0[0] / n[0] + var0[a] / n[a]
            v1 = var[0] / n[0] + var[a] / n[a]
            vr = float(1 - v1 / v0) if v0 > 0 else math.nan
        out.append((e, method, vr))
    return out


def analyze(
    data: Any,
    *,
    arm: str,
    metrics: Sequence[Metric | str] | Metric | str,
    control: str | None = None,
    covariates: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    correction: str = "holm",
    expected_split: Sequence[float] | Mapping[str, float] | None = None,
    unit: str | None = None,
    dropna: bool = False,
) -> ABResult:
    """Analyse a finished experiment: every metric, every arm against control, and SRM.

    Parameters
    ----------
    data : str, path, pandas.DataFrame or polars.DataFrame
        One row per randomisation unit: a CSV/TSV/Parquet file or a DataFrame.
    arm : str
        Column holding the arm label of each unit.
    metrics : metric or sequence of metrics
        :class:`Proportion`, :class:`Mean`, :class:`Ratio` objects and/or strings
        (``"converted"``, ``"proportion:converted"``, ``"mean:revenue"``, ``"clicks/sessions"``;
        a bare column holding only 0/1 is a proportion, any other a mean).
    control : str, optional
        Label of the control arm (default ``"control"`` if present). Labels are compared as
        strings, so ``control="0"`` matches an integer arm column.
    covariates : mapping of str to str, optional
        CUPED covariates of string metrics: ``{"revenue": "pre_revenue"}``,
        ``{"clicks/sessions": "pre_clicks/pre_sessions"}``.
    alpha : float, default 0.05
        Significance level; confidence intervals have level ``1 - alpha``.
    alternative : {'two-sided', 'greater', 'less'}, default 'two-sided'
        H0: arm and control do not differ. H1: ``arm - control != 0``, ``> 0`` or ``< 0``.
    correction : {'holm', 'bonferroni', 'bh', 'none'}, default 'holm'
        Adjustment of the p-values of one metric over its arm-vs-control comparisons.
    expected_split : sequence of float or mapping, optional
        Expected shares of the arms for the SRM check (control first, then the other arms
        sorted by label; or ``{label: share}``); default equal. Need not sum to 1.
    unit : str, optional
        Unit id column: duplicate ids are refused.
    dropna : bool, default False
        Drop units with a missing value from the metrics where it is missing (counted in
        ``dropped``) instead of refusing the data.

    Returns
    -------
    ABResult
        Frozen result with ``to_pandas()``, ``summary()``, ``to_dict()`` and an HTML view.

    Raises
    ------
    lifesim.errors.DataError
        Bad data: the message names the column, shows bad values and what is allowed.

    Notes
    -----
    Every statistic is a function of per-arm counts, means and centred cross-products of the
    metric's columns (:class:`lifesim.ab.Moments`), computed in one vectorised pass.

    Examples
    --------
    >>> from lifesim import ab
    >>> res = ab.analyze(df, arm="variant", control="control",
    ...                  metrics=[ab.Proportion("converted"),
    ...                           ab.Mean("revenue", covariate="pre_revenue"),
    ...                           ab.Ratio("clicks", "sessions")])  # doctest: +SKIP
    >>> res.to_pandas()  # doctest: +SKIP
    """
    _check_args(alpha, alternative, correction)
    agg = aggregate(data, arm=arm, metrics=metrics, covariates=covariates, unit=unit, dropna=dropna)
    return analyze_aggregates(
        agg,
        control=control,
        alpha=alpha,
        alternative=alternative,
        correction=correction,
        expected_split=expected_split,
    )


def analyze_aggregates(
    agg: Aggregates,
    *,
    control: str | None = None,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    correction: str = "holm",
    expected_split: Sequence[float] | Mapping[str, float] | None = None,
) -> ABResult:
    """Analyse per-arm sufficient statistics (see :func:`analyze` for the parameters).

    Parameters
    ----------
    agg : Aggregates
        From :func:`lifesim.ab.aggregate` (possibly a sum over chunks).
    control, alpha, alternative, correction, expected_split
        As in :func:`analyze`.

    Returns
    -------
    ABResult
        The analysis.
    """
    _check_args(alpha, alternative, correction)
    arms, perm = _order_arms(list(agg.arms), control, agg.arm)
    inv = np.argsort(perm)
    counts = np.asarray(agg.n, dtype=np.int64)[inv]
    shares = _expected_shares(expected_split, arms)
    srm = srm_test(counts, shares)
    srm_check = SRMCheck(
        p_value=srm.p_value,
        observed={a: int(c) for a, c in zip(arms, counts, strict=True)},
        expected_shares={a: float(s) for a, s in zip(arms, shares, strict=True)},
        mismatch=bool(srm.p_value < SRM_THRESHOLD),
        statistic=srm.statistic,
        df=srm.df,
        threshold=SRM_THRESHOLD,
    )
    warns: list[str] = []
    if srm_check.mismatch:
        warns.append(
            f"sample ratio mismatch (SRM p={srm.p_value:.3g} < {SRM_THRESHOLD}): units per arm "
            f"{srm_check.observed} do not fit the expected split; the assignment or the data "
            "pipeline is likely broken and every result below is suspect"
        )
    comparisons: list[Comparison] = []
    dropped: dict[str, int] = {}
    for spec, raw, n_dropped in zip(agg.metrics, agg.moments, agg.dropped, strict=True):
        mom = raw.select(inv)
        if n_dropped:
            dropped[spec.label] = n_dropped
            warns.append(f"{spec.label}: dropped {n_dropped:,} units with missing values")
        rows = _analyze_metric(spec, mom, arms, alpha, alternative, warns)
        p_adj = adjust([e.p_value for e, _, _ in rows], correction)
        cov = getattr(spec, "covariate", None)
        cov = "/".join(cov) if isinstance(cov, tuple) else cov
        for a, ((e, method, vr), pa) in enumerate(zip(rows, p_adj, strict=True), start=1):
            warns.extend(e.warnings)
            comparisons.append(
                Comparison(
                    metric=spec.label,
                    kind=spec.kind,
                    arm=arms[a],
                    control=arms[0],
                    control_value=e.control_value,
                    arm_value=e.arm_value,
                    abs_effect=e.abs_effect,
                    abs_ci=e.abs_ci,
                    rel_effect=e.rel_effect,
                    rel_ci=e.rel_ci,
                    p_value=e.p_value,
                    p_adjusted=float(pa),
                    covariate=cov,
                    method=method,
                    n_control=int(mom.n[0]),
                    n_arm=int(mom.n[a]),
                    statistic=e.statistic,
                    df=e.df,
                    se=e.se,
                    log10_p_value=e.log10_p_value,
                    variance_reduction=vr,
                    significant=bool(pa < alpha),
                )  # fmt: skip
            )
    return ABResult(
        n=srm_check.observed,
        srm=srm_check,
        comparisons=tuple(comparisons),
        control=arms[0],
        alpha=alpha,
        alternative=alternative,
        correction=correction,
        dropped=dropped,
        warnings=tuple(dict.fromkeys(warns)),
    )
