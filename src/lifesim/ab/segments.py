"""``segments``: effects per segment level, Holm across segments, and a heterogeneity test.

For each segment column (``device``, ``country``) and each of its levels, the units of that
level are analysed exactly as :func:`lifesim.ab.analyze` analyses all units (the metric kind's
own test; CUPED's theta is estimated within the level). Then, per segment column, metric and
arm:

* multiplicity: the p-values of the levels (all non-control arms together) are adjusted with
  ``correction`` (Holm by default: the family-wise error over the levels is at most ``alpha``);
* heterogeneity: Cochran's Q ``= sum w_i (d_i - d_bar)^2`` with ``w_i = 1 / se_i^2`` and the
  fixed-effect mean ``d_bar = sum w_i d_i / sum w_i``, referred to chi-square with ``k - 1``
  degrees of freedom (H0: the effect is the same in every level), and
  ``I^2 = max(0, (Q - (k - 1)) / Q)``, the share of the spread beyond sampling error
  (Higgins & Thompson 2002);
* small levels: a level where an arm has fewer than ``min_units`` units (or no standard
  error) is too small to say anything: it is reported with a warning naming it and its size,
  gets no adjusted p-value and no significance claim, and is left out of the correction and of Q.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from html import escape
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from lifesim.ab.aggregate import Aggregates, aggregate
from lifesim.ab.analyze import _check_args, analyze_aggregates
from lifesim.ab.html import _CSS
from lifesim.ab.io import as_frame
from lifesim.ab.metrics import Metric
from lifesim.ab.result import Comparison, _encode, _fmt, _fmt_p
from lifesim.ab.stats import adjust_log10
from lifesim.errors import DataError

__all__ = ["segments", "cochran_q", "SegmentEffect", "Heterogeneity", "SegmentResult"]

#: Default fewest units per arm in a level for any claim about it.
MIN_UNITS = 30
MISSING = "(missing)"


def cochran_q(effects: Sequence[float], ses: Sequence[float]) -> tuple[float, int, float, float]:
    """Cochran's Q test of equal effects, with I^2.

    Parameters
    ----------
    effects, ses : sequence of float
        Per-level estimates and their standard errors (``> 0``).

    Returns
    -------
    (float, int, float, float)
        ``Q``, degrees of freedom ``k - 1``, p-value ``P(chi2_{k-1} > Q)`` and ``I^2``.

    Examples
    --------
    >>> q, df, p, i2 = cochran_q([1.0, 3.0], [1.0, 1.0])
    >>> q, df, round(p, 4), i2
    (2.0, 1, 0.1573, 0.5)
    """
    d = np.asarray(effects, dtype=float)
    w = 1.0 / np.asarray(ses, dtype=float) ** 2
    mean = float(np.sum(w * d) / np.sum(w))
    q = float(np.sum(w * (d - mean) ** 2))
    df = d.size - 1
    p = float(stats.chi2.sf(q, df)) if df > 0 else math.nan
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    return q, df, p, i2


@dataclass(frozen=True)
class SegmentEffect:
    """One segment level, one metric, one arm against control.

    Attributes
    ----------
    segment, level : str
        Segment column and its level (``'(missing)'`` for missing values).
    metric, kind, covariate, arm, control, control_value, arm_value, abs_effect, abs_ci, se
        As in :class:`lifesim.ab.Comparison`, on the units of this level.
    p_value : float
        Unadjusted p-value in the level.
    p_adjusted : float
        Adjusted over the levels (and arms) of this segment column and metric; NaN for a level
        too small to say anything.
    significant : bool
        ``p_adjusted < alpha`` (never for a small level).
    n_control, n_arm : int
        Units in the level.
    too_small : bool
        An arm has fewer than ``min_units`` units or there is no standard error.
    srm_p_value : float
        Sample-ratio check in the level.
    log10_p_value : float
        log10 of the unadjusted p-value, exact even below the floor.
    """

    segment: str
    level: str
    metric: str
    kind: str
    covariate: str | None
    arm: str
    control: str
    control_value: float
    arm_value: float
    abs_effect: float
    abs_ci: tuple[float, float]
    se: float
    p_value: float
    p_adjusted: float
    significant: bool
    n_control: int
    n_arm: int
    too_small: bool
    srm_p_value: float
    log10_p_value: float


@dataclass(frozen=True)
class Heterogeneity:
    """Cochran's Q over the levels of one segment column, for one metric and arm.

    Attributes
    ----------
    segment, metric, arm : str
        The comparison.
    q : float
        Cochran's Q (NaN with fewer than 2 usable levels).
    df : int
        Usable levels minus 1.
    p_value : float
        ``P(chi2_df > Q)``; H0: the effect is equal in every level.
    i_squared : float
        ``max(0, (Q - df) / Q)``.
    pooled_effect : float
        Fixed-effect (inverse-variance) mean of the level effects.
    levels_used : tuple of str
        Levels in the test (small ones left out).
    """

    segment: str
    metric: str
    arm: str
    q: float
    df: int
    p_value: float
    i_squared: float
    pooled_effect: float
    levels_used: tuple[str, ...]


def _levels(df: pd.DataFrame, seg: str) -> tuple[np.ndarray, list[str]]:
    """Integer level of every row and the sorted level labels (missing values: ``MISSING``)."""
    codes, uniques = pd.factorize(df[seg], use_na_sentinel=True)
    names = [str(u).strip() for u in uniques] + [MISSING]
    labels = sorted(set(names[:-1]) | ({MISSING} if (codes < 0).any() else set()))
    remap = np.array([labels.index(x) if x in labels else -1 for x in names])
    return remap[codes], labels


def _cells(
    df: pd.DataFrame, arm: str, level: np.ndarray, n_levels: int, agg: Aggregates, dropna: bool
) -> Aggregates:
    """Aggregate every (arm, level) cell in one pass; cell label ``arm_index * L + level``."""
    key = f"__{arm}_x_level__"
    while key in df.columns:
        key += "_"
    codes, uniques = pd.factorize(df[arm].astype(str).to_numpy())
    pos = np.array([list(agg.arms).index(str(u)) for u in uniques])
    cell = pos[codes] * n_levels + level
    return aggregate(df.assign(**{key: cell}), arm=key, metrics=list(agg.metrics), dropna=dropna)


def _level(cells: Aggregates, agg: Aggregates, n_levels: int, level: int) -> Aggregates:
    """Take the per-arm statistics of one level out of the cells (absent arm: no units)."""
    want = [str(a * n_levels + level) for a in range(len(agg.arms))]
    idx = [cells.arms.index(c) if c in cells.arms else -1 for c in want]
    n = tuple(cells.n[i] if i >= 0 else 0 for i in idx)
    moments = tuple(m.select(idx) for m in cells.moments)
    return Aggregates(agg.arm, agg.arms, n, agg.metrics, moments, (0,) * len(agg.metrics))


def segments(
    data: Any,
    *,
    arm: str,
    metrics: Sequence[Metric | str] | Metric | str,
    segment: str | Sequence[str],
    control: str | None = None,
    covariates: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    correction: str = "holm",
    min_units: int = MIN_UNITS,
    expected_split: Sequence[float] | Mapping[str, float] | None = None,
    unit: str | None = None,
    dropna: bool = False,
) -> SegmentResult:
    """Effects per segment level, corrected across levels, with a heterogeneity test.

    Parameters
    ----------
    data, arm, metrics, control, covariates, alpha, alternative, unit, dropna
        As in :func:`lifesim.ab.analyze`.
    segment : str or sequence of str
        Segment column(s), e.g. ``["device", "country"]``; each is analysed on its own.
    correction : {'holm', 'bonferroni', 'bh', 'none'}, default 'holm'
        Adjustment over the levels (and non-control arms) of one segment column and metric.
    min_units : int, default 30
        Fewest units per arm in a level for any claim about it.
    expected_split : sequence of float or mapping, optional
        Expected shares of the arms (as in :func:`lifesim.ab.analyze`), for the sample-ratio
        check of all units and of every level.

    Returns
    -------
    SegmentResult
        Per level effects, per segment heterogeneity, the overall analysis and warnings.

    Raises
    ------
    lifesim.errors.DataError
        A missing segment column, a segment column with a single level, bad data.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim import ab
    >>> rng = np.random.default_rng(3)
    >>> df = pd.DataFrame({"variant": rng.choice(["control", "b"], 4000),
    ...                    "device": rng.choice(["mobile", "desktop"], 4000),
    ...                    "converted": (rng.random(4000) < 0.2).astype(int)})
    >>> res = ab.segments(df, arm="variant", metrics="converted", segment="device")
    >>> [(e.level, e.n_control + e.n_arm) for e in res.effects]
    [('desktop', 2022), ('mobile', 1978)]
    """
    _check_args(alpha, alternative, correction)
    segs = [segment] if isinstance(segment, str) else list(segment)
    if not segs:
        raise ValueError("segment is empty: give at least one segment column")
    if int(min_units) != min_units or min_units < 2:
        raise ValueError(f"min_units == {min_units!r}, must be an integer >= 2")
    agg = aggregate(data, arm=arm, metrics=metrics, covariates=covariates, unit=unit, dropna=dropna)
    cols = [arm, *([unit] if unit else []), *segs]
    cols += [c for m in agg.metrics for c in m.columns]
    try:
        frame = as_frame(data, list(dict.fromkeys(cols)), text=[arm, *segs])
    except DataError as exc:
        for s in segs:
            if f"column {s!r} is not in" in str(exc):
                raise DataError(f"segment column {s!r} (--segment): {exc}") from None
        raise
    df = frame.data.to_pandas() if frame.is_polars else frame.data
    overall = analyze_aggregates(agg, control=control, alpha=alpha, alternative=alternative,
                                 correction=correction, expected_split=expected_split)  # fmt: skip
    effects: list[SegmentEffect] = []
    het: list[Heterogeneity] = []
    warns = [w for w in overall.warnings if w.startswith("sample ratio") or ": dropped " in w]
    for seg in segs:
        lv, levels = _levels(df, seg)
        if len(levels) < 2:
            raise DataError(
                f"segment column {seg!r} (--segment) has a single level ({levels[0]!r}); a "
                "segment breakdown needs at least 2 levels"
            )
        rows: list[SegmentEffect] = []
        cells = _cells(df, arm, lv, len(levels), agg, dropna)
        for index, level in enumerate(levels):
            sagg = _level(cells, agg, len(levels), index)
            with np.errstate(divide="ignore", invalid="ignore"):
                res = analyze_aggregates(sagg, control=overall.control, alpha=alpha,
                                         alternative=alternative, correction="none",
                                         expected_split=expected_split)  # fmt: skip
            for c in res.comparisons:
                small = min(c.n_control, c.n_arm) < min_units or not c.se > 0
                rows.append(SegmentEffect(
                    segment=seg, level=level, metric=c.metric, kind=c.kind,
                    covariate=c.covariate, arm=c.arm, control=c.control,
                    control_value=c.control_value, arm_value=c.arm_value,
                    abs_effect=c.abs_effect, abs_ci=c.abs_ci, se=c.se, p_value=c.p_value,
                    p_adjusted=math.nan, significant=False, n_control=c.n_control,
                    n_arm=c.n_arm, too_small=bool(small), srm_p_value=res.srm.p_value,
                    log10_p_value=c.log10_p_value,
                ))  # fmt: skip
                if small:
                    warns.append(
                        f"segment {seg}={level!r}, {c.metric} ({c.arm}): {c.n_control:,} units "
                        f"in {c.control!r} and {c.n_arm:,} in {c.arm!r} (need >= {min_units} "
                        "per arm and a standard error): too small to say anything; no "
                        "significance claim, left out of the correction and of Cochran's Q"
                    )
            if res.srm.mismatch:
                warns.append(f"segment {seg}={level!r}: sample ratio mismatch (p="
                             f"{res.srm.p_value:.3g}); its results are suspect")  # fmt: skip
        for m in agg.metrics:
            fam = [i for i, r in enumerate(rows) if r.metric == m.label and not r.too_small]
            adj = adjust_log10([rows[i].log10_p_value for i in fam], correction)
            for i, la in zip(fam, adj, strict=True):
                pa = 10.0**la if not math.isnan(la) else math.nan
                rows[i] = replace(rows[i], p_adjusted=pa, significant=bool(pa < alpha))
            for a in overall.n:
                if a == overall.control:
                    continue
                use = [r for r in rows if (r.metric, r.arm) == (m.label, a) and not r.too_small]
                if len(use) >= 2:
                    q, dfq, p, i2 = cochran_q([r.abs_effect for r in use], [r.se for r in use])
                    w = np.array([1 / r.se**2 for r in use])
                    pooled = float(np.sum(w * [r.abs_effect for r in use]) / w.sum())
                else:
                    q, dfq, p, i2, pooled = math.nan, max(len(use) - 1, 0), math.nan, math.nan, \
                        math.nan  # fmt: skip
                    warns.append(f"segment {seg}, {m.label} ({a}): fewer than 2 levels large "
                                 "enough: no heterogeneity test")  # fmt: skip
                het.append(Heterogeneity(seg, m.label, a, q, dfq, p, i2, pooled,
                                         tuple(r.level for r in use)))  # fmt: skip
        effects += rows
    return SegmentResult(
        segments=tuple(segs), control=overall.control, alpha=alpha, alternative=alternative,
        correction=correction, min_units=int(min_units), effects=tuple(effects),
        heterogeneity=tuple(het), overall=overall.comparisons,
        warnings=tuple(dict.fromkeys(warns)),
    )  # fmt: skip


#: How the segment analysis works, in words (also in ``to_dict()['conventions']``).
CONVENTIONS = (
    "Each level of a segment column is analysed like the whole experiment (same test per "
    "metric kind; CUPED theta estimated within the level). p_adjusted: the correction over "
    "the levels and non-control arms of one segment column and metric. Heterogeneity: "
    "Cochran's Q = sum w_i (d_i - d_bar)^2, w_i = 1/se_i^2, chi-square with (levels - 1) df, "
    "H0: equal effect in every level; I^2 = max(0, (Q - df)/Q). A level with an arm below "
    "min_units units (or without a standard error) is too small: no claim, left out of the "
    "correction and of Q. Segments chosen after looking at the data are exploratory."
)


@dataclass(frozen=True)
class SegmentResult:
    """Segment breakdown of an experiment.

    Attributes
    ----------
    segments : tuple of str
        Segment columns.
    control : str
        Control label.
    alpha, alternative, correction
        As in :func:`segments`.
    min_units : int
        Fewest units per arm in a level for a claim.
    effects : tuple of SegmentEffect
        One per segment column, level, metric and arm.
    heterogeneity : tuple of Heterogeneity
        One per segment column, metric and arm.
    overall : tuple of Comparison
        The analysis of all units (as :func:`lifesim.ab.analyze`; in ``to_dict()`` its
        effect, interval and p-value).
    warnings : tuple of str
        Small levels (named, with their sizes), SRM in a level, missing tests.
    """

    segments: tuple[str, ...]
    control: str
    alpha: float
    alternative: str
    correction: str
    min_units: int
    effects: tuple[SegmentEffect, ...]
    heterogeneity: tuple[Heterogeneity, ...]
    overall: tuple[Comparison, ...]
    warnings: tuple[str, ...] = field(default=())

    def to_pandas(self) -> pd.DataFrame:
        """One row per segment, level, metric and arm; the CI split into low / high."""
        rows = []
        for e in self.effects:
            d = asdict(e)
            d["abs_ci_low"], d["abs_ci_high"] = d.pop("abs_ci")
            rows.append(d)
        return pd.DataFrame(rows)

    def heterogeneity_frame(self) -> pd.DataFrame:
        """One row per segment column, metric and arm: Q, df, p-value, I^2."""
        return pd.DataFrame([asdict(h) for h in self.heterogeneity])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys (NaN as null, infinite bounds as 'inf'/'-inf')."""
        eff = []
        for e in self.effects:
            d = asdict(e)
            d["abs_ci"] = list(e.abs_ci)
            eff.append(d)
        het = [dict(asdict(h), levels_used=list(h.levels_used)) for h in self.heterogeneity]
        overall = [
            {
                "metric": c.metric,
                "arm": c.arm,
                "abs_effect": c.abs_effect,
                "abs_ci": list(c.abs_ci),
                "p_value": c.p_value,
            }
            for c in self.overall
        ]
        return _encode({
            "segments": list(self.segments), "control": self.control, "alpha": self.alpha,
            "alternative": self.alternative, "correction": self.correction,
            "min_units": self.min_units, "effects": eff, "heterogeneity": het,
            "overall": overall, "warnings": list(self.warnings), "conventions": CONVENTIONS,
        })  # fmt: skip

    def _tables(self) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
        level = f"{100 * (1 - self.alpha):g}%"
        head = ["segment", "level", "metric", "arm", "n (ctrl/arm)", f"effect [{level} CI]",
                "p", f"p adj ({self.correction})"]  # fmt: skip
        rows = [[
            e.segment, e.level, e.metric + (f" (CUPED: {e.covariate})" if e.covariate else ""),
            e.arm, f"{e.n_control:,}/{e.n_arm:,}",
            f"{_fmt(e.abs_effect)} [{_fmt(e.abs_ci[0])}, {_fmt(e.abs_ci[1])}]",
            _fmt_p(e.p_value),
            "too small" if e.too_small else _fmt_p(e.p_adjusted) + (" *" if e.significant else ""),
        ] for e in self.effects]  # fmt: skip
        hh = ["segment", "metric", "arm", "Cochran's Q", "df", "p", "I^2", "levels"]
        hr = [[h.segment, h.metric, h.arm, _fmt(h.q), str(h.df), _fmt_p(h.p_value),
               "nan" if math.isnan(h.i_squared) else f"{100 * h.i_squared:.0f}%",
               str(len(h.levels_used))] for h in self.heterogeneity]  # fmt: skip
        return head, rows, hh, hr

    def summary(self) -> str:
        """Plain text: effects per level, heterogeneity tests, conventions and warnings."""
        head, rows, hh, hr = self._tables()
        out = [f"A/B segment breakdown by {', '.join(self.segments)}: control {self.control!r}, "
               f"alpha={self.alpha:g}, {self.alternative}, correction={self.correction} across "
               f"levels, min {self.min_units} units per arm", ""]  # fmt: skip
        for h, r in ((head, rows), (hh, hr)):
            widths = [max(len(x), *(len(v[i]) for v in r)) for i, x in enumerate(h)]
            line = "  ".join(x.ljust(w) for x, w in zip(h, widths, strict=True))
            out += [line, "-" * len(line)]
            out += ["  ".join(v.ljust(w) for v, w in zip(x, widths, strict=True)) for x in r]
            out.append("")
        out += [f"* p adj < {self.alpha:g}", "", "Conventions: " + CONVENTIONS]
        if self.warnings:
            out += ["", "Warnings:"] + [f"  - {w}" for w in self.warnings]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.summary()

    def to_html(self, plot: bool = False, full_page: bool = False) -> str:
        """Render HTML tables of the effects and the heterogeneity tests (``plot`` unused)."""
        head, rows, hh, hr = self._tables()

        def table(h: list[str], r: list[list[str]]) -> str:
            th = "".join(f"<th>{escape(x)}</th>" for x in h)
            trs = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in x) + "</tr>"
                          for x in r)  # fmt: skip
            return f'<table class="lifesim-ab"><tr>{th}</tr>{trs}</table>'

        warn = "".join(f"<li>{escape(w)}</li>" for w in self.warnings)
        body = (table(head, rows) + table(hh, hr)
                + (f"<p><b>Warnings</b></p><ul>{warn}</ul>" if warn else "")
                + f'<p class="small">{escape(CONVENTIONS)}</p>')  # fmt: skip
        if not full_page:
            return f'<div class="lifesim-ab-segments">{body}</div>'
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>A/B segments</title>'
            f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
        )

    def _repr_html_(self) -> str:
        return self.to_html()
