"""``analyze``: every metric, every arm against control, from per-arm sufficient statistics."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from lifesim.ab.aggregate import Aggregates, aggregate
from lifesim.ab.metrics import Metric, MetricRow
from lifesim.ab.moments import Moments
from lifesim.ab.result import ABResult, Comparison, SRMCheck
from lifesim.ab.stats import (
    ALTERNATIVES,
    CORRECTIONS,
    P_FLOOR,
    Estimate,
    adjust_log10,
    srm_test,
)
from lifesim.errors import DataError

__all__ = ["analyze", "analyze_aggregates", "SRM_THRESHOLD"]

#: The SRM check flags a mismatch when its p-value is below this.
SRM_THRESHOLD = 0.001
#: Fewer units than this in an arm: its comparisons have no CI and no p-value.
MIN_UNITS = 2


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
    if control not in labels and control.strip() in labels:
        control = control.strip()  # text labels are stripped: ' B' in the data is arm 'B'
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
        expected_split = {  # as the labels: ' B' is arm 'B'
            (k if str(k) in arms or str(k).strip() not in arms else str(k).strip()): v
            for k, v in expected_split.items()
        }
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


def _undefined(e: Estimate, why: str) -> Estimate:
    """Drop the intervals, p-value and statistic of an estimate (values are kept)."""
    nan2 = (math.nan, math.nan)
    return replace(
        e, abs_ci=nan2, rel_ci=nan2, p_value=math.nan, log10_p_value=math.nan,
        statistic=math.nan, se=math.nan, warnings=(*e.warnings, why),
    )  # fmt: skip


def _rows(
    metric: Metric,
    mom: Moments,
    arms: list[str],
    alpha: float,
    alternative: str,
) -> list[MetricRow]:
    """Return the metric's comparisons; none claims anything where an arm has < 2 units."""
    rows = metric.analyze(mom, arms, alpha=alpha, alternative=alternative)
    if len(rows) != len(arms) - 1:
        raise TypeError(
            f"{type(metric).__name__}.analyze returned {len(rows)} rows for {len(arms) - 1} arms"
        )
    n = mom.n
    for a in range(1, len(arms)):
        small = [f"{arms[g]!r} has {n[g]}" for g in (0, a) if n[g] < MIN_UNITS]
        if small:
            why = (
                f"{metric.label} ({arms[a]}): arm {' and '.join(small)} unit(s); need >= "
                f"{MIN_UNITS} per arm for a variance, so no CI and no p-value (NaN): no "
                "significance claim"
            )
            rows[a - 1] = rows[a - 1]._replace(estimate=_undefined(rows[a - 1].estimate, why))
    return rows


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
    >>> import pandas as pd
    >>> from lifesim import ab
    >>> df = pd.DataFrame({"variant": ["control"] * 4 + ["b"] * 4,
    ...                    "converted": [0, 1, 0, 0, 1, 1, 0, 1],
    ...                    "revenue": [0.0, 12.5, 0.0, 0.0, 10.0, 20.0, 0.0, 15.0]})
    >>> res = ab.analyze(df, arm="variant", metrics=["converted", "mean:revenue"])
    >>> res.to_pandas()[["metric", "kind", "abs_effect", "p_value"]].round(4)
          metric        kind  abs_effect  p_value
    0  converted  proportion       0.500   0.1573
    1    revenue        mean       8.125   0.1800

    Metric objects name the test and a CUPED covariate:

    >>> res = ab.analyze(data, arm="variant", control="control",
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
        log10_p_value=srm.log10_p_value,
    )
    warns: list[str] = []
    if srm_check.mismatch:
        warns.append(
            f"sample ratio mismatch (SRM p={srm.p_value:.3g} < {SRM_THRESHOLD}): units per arm "
            f"{srm_check.observed} do not fit the expected split; the assignment or the data "
            "pipeline is likely broken and every result below is suspect; if the split is "
            "unequal on purpose, give it with expected_split (CLI: --expected-split, e.g. "
            "control=20,treatment=80)"
        )
    comparisons: list[Comparison] = []
    dropped: dict[str, int] = {}
    for spec, raw, n_dropped in zip(agg.metrics, agg.moments, agg.dropped, strict=True):
        mom = raw.select(inv)
        if n_dropped:
            dropped[spec.label] = n_dropped
            warns.append(f"{spec.label}: dropped {n_dropped:,} units with missing values")
        rows = _rows(spec, mom, arms, alpha, alternative)
        l10_adj = adjust_log10([e.log10_p_value for e, _, _ in rows], correction)
        cov = spec.covariate_label
        for a, ((e, method, vr), la) in enumerate(zip(rows, l10_adj, strict=True), start=1):
            pa = max(10.0**la, P_FLOOR) if not math.isnan(la) else math.nan
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
                    log10_p_adjusted=float(la),
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
