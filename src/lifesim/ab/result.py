"""Results of an A/B analysis: frozen dataclasses with text, table, dict and HTML views."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from lifesim.ab.stats import P_FLOOR, is_floored

__all__ = ["Comparison", "SRMCheck", "ABResult", "CONVENTIONS", "JSON_ENCODING"]

CONVENTIONS = (
    "effect = arm - control; relative effect = arm / control - 1, undefined (NaN) when the "
    "control value is not positive. H0: no difference; H1 per `alternative` ('two-sided': "
    "arm != control, 'greater': arm > control, 'less': arm < control). Confidence intervals "
    "have level 1 - alpha (one-sided bounds for a one-sided alternative). Relative CIs: delta "
    "method on log(arm / control) with the quantile of the test (t at the Welch df for means, "
    "normal for ratios); proportions: score intervals (Farrington-Manning for the difference, "
    "Koopman for the risk ratio), which invert the pooled z-test. An arm with fewer than 2 "
    "units gets no CI and no p-value (NaN). Adjusted p-values: each arm against control, "
    "adjusted over the arms of one metric. SRM: chi-square goodness of fit of the units per arm "
    "against the expected split. P-values below 1e-300 are floored at 1e-300 and shown as "
    "'<1e-300' (raw and adjusted); log10_p_value, log10_p_adjusted and srm.log10_p_value hold "
    "their size."
)
#: How ``ABResult.to_dict`` (and so the JSON output) writes numbers that are not finite.
JSON_ENCODING = (
    "null: undefined (NaN), e.g. a relative effect with a non-positive control or a p-value "
    "with fewer than 2 units in an arm; the strings 'inf' and '-inf': an infinite bound, the "
    "open side of a one-sided confidence interval"
)


@dataclass(frozen=True)
class Comparison:
    """One metric, one arm against control.

    Attributes
    ----------
    metric : str
        Metric label (a column, or ``num/den`` for a ratio).
    kind : {'proportion', 'mean', 'ratio'}
        Metric type.
    arm, control : str
        Arm label and control label.
    control_value, arm_value : float
        Estimate in each group (share, mean, ratio of sums; CUPED-adjusted if a covariate is
        used).
    abs_effect : float
        ``arm_value - control_value``.
    abs_ci : (float, float)
        Confidence interval of ``abs_effect`` (``-inf``/``inf`` on the open side of a
        one-sided test; NaN if an arm has fewer than 2 units).
    rel_effect : float
        ``arm_value / control_value - 1``; NaN if ``control_value <= 0``.
    rel_ci : (float, float)
        Confidence interval of ``rel_effect``.
    p_value : float
        Unadjusted p-value, floored at 1e-300.
    p_adjusted : float
        p-value adjusted over the arms of this metric (``correction``), floored at 1e-300.
    covariate : str or None
        CUPED covariate, if any.
    method : str
        The test and its conventions, in words.
    n_control, n_arm : int
        Units used (after dropping missing values, if asked).
    statistic : float
        z or t statistic (NaN for Fisher's exact test without variance).
    df : float or None
        Degrees of freedom of a t-test; None for z-tests.
    se : float
        Standard error of ``abs_effect`` (unpooled for proportions, whose CIs are score
        intervals rather than ``abs_effect +- q se``).
    log10_p_value : float
        log10 of the unadjusted p-value, exact even below the floor.
    variance_reduction : float or None
        CUPED: ``1 - var(adjusted effect) / var(unadjusted effect)``.
    significant : bool
        ``p_adjusted < alpha``.
    log10_p_adjusted : float
        log10 of the adjusted p-value, exact even below the floor.
    """

    metric: str
    kind: str
    arm: str
    control: str
    control_value: float
    arm_value: float
    abs_effect: float
    abs_ci: tuple[float, float]
    rel_effect: float
    rel_ci: tuple[float, float]
    p_value: float
    p_adjusted: float
    covariate: str | None
    method: str
    n_control: int
    n_arm: int
    statistic: float
    df: float | None
    se: float
    log10_p_value: float
    variance_reduction: float | None
    significant: bool
    log10_p_adjusted: float = math.nan


@dataclass(frozen=True)
class SRMCheck:
    """Sample-ratio-mismatch check: chi-square goodness of fit of units per arm.

    Attributes
    ----------
    p_value : float
        p-value of the chi-square test (H0: units follow the expected split).
    observed : dict of str to int
        Units per arm.
    expected_shares : dict of str to float
        Expected share of each arm (sums to 1).
    mismatch : bool
        ``p_value < threshold``: the assignment is suspect and so are all results.
    statistic : float
        Chi-square statistic.
    df : int
        Degrees of freedom (arms - 1).
    threshold : float
        Flagging threshold (0.001).
    log10_p_value : float
        log10 of the p-value, exact even below the floor.
    """

    p_value: float
    observed: dict[str, int]
    expected_shares: dict[str, float]
    mismatch: bool
    statistic: float
    df: int
    threshold: float
    log10_p_value: float = math.nan


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _fmt_p(p: float, log10_p: float = math.nan) -> str:
    """Format a p-value; a floored one (``log10_p`` below the floor) as the bound ``<1e-300``."""
    if math.isnan(p):
        return "nan"
    if is_floored(log10_p) or (math.isnan(log10_p) and p <= P_FLOOR):
        return f"<{P_FLOOR:g}"
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.2e}"


def _fmt_pct(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{100 * x:+.2f}%"


def _encode(obj: Any) -> Any:
    """Encode non-finite floats for JSON (see :data:`JSON_ENCODING`), recursively."""
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_encode(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


@dataclass(frozen=True)
class ABResult:
    """Analysis of an A/B(/n) test: every metric, every arm against control, and the SRM check.

    Attributes
    ----------
    n : dict of str to int
        Units per arm, control first.
    srm : SRMCheck
        Sample-ratio-mismatch check.
    comparisons : tuple of Comparison
        One per metric and arm (metric order as given, arms in ``n`` order).
    control : str
        Control label.
    alpha : float
        Significance level; CIs have level ``1 - alpha``.
    alternative : str
        ``'two-sided'``, ``'greater'`` or ``'less'`` (H1 about arm - control).
    correction : str
        Multiple-comparison adjustment over the arms of each metric.
    dropped : dict of str to int
        Rows dropped per metric for missing values (``dropna=True``).
    warnings : tuple of str
        Caveats: SRM, small samples, zero variance, dropped rows.
    """

    n: dict[str, int]
    srm: SRMCheck
    comparisons: tuple[Comparison, ...]
    control: str
    alpha: float
    alternative: str
    correction: str
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: ``n``, ``srm``, ``results`` (one per comparison), settings.

        Numbers that are not finite are encoded as :data:`JSON_ENCODING` says (also under the
        key ``json_encoding``): NaN (undefined) as ``None``, infinite bounds as ``"inf"`` /
        ``"-inf"``. ``to_pandas()`` keeps them as floats.
        """
        results = []
        for c in self.comparisons:
            d = asdict(c)
            d["abs_ci"] = list(c.abs_ci)
            d["rel_ci"] = list(c.rel_ci)
            results.append(d)
        out = {
            "n": dict(self.n),
            "srm": asdict(self.srm),
            "results": results,
            "control": self.control,
            "alpha": self.alpha,
            "confidence_level": 1 - self.alpha,
            "alternative": self.alternative,
            "correction": self.correction,
            "dropped": dict(self.dropped),
            "warnings": list(self.warnings),
            "conventions": CONVENTIONS,
            "json_encoding": JSON_ENCODING,
        }
        return _encode(out)

    def to_pandas(self) -> pd.DataFrame:
        """One row per metric and arm; CIs split into ``*_ci_low`` / ``*_ci_high`` columns."""
        rows = []
        for c in self.comparisons:
            d = asdict(c)
            d.pop("abs_ci")
            d.pop("rel_ci")
            d["abs_ci_low"], d["abs_ci_high"] = c.abs_ci
            d["rel_ci_low"], d["rel_ci_high"] = c.rel_ci
            rows.append(d)
        cols = [
            "metric", "kind", "arm", "control", "control_value", "arm_value", "abs_effect",
            "abs_ci_low", "abs_ci_high", "rel_effect", "rel_ci_low", "rel_ci_high", "p_value",
            "p_adjusted", "covariate", "method", "n_control", "n_arm", "statistic", "df", "se",
            "log10_p_value", "log10_p_adjusted", "variance_reduction", "significant",
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=cols)

    def _table_rows(self) -> list[list[str]]:
        rows = []
        for c in self.comparisons:
            rows.append(
                [
                    c.metric + (f" (CUPED: {c.covariate})" if c.covariate else ""),
                    c.arm,
                    _fmt(c.control_value),
                    _fmt(c.arm_value),
                    f"{_fmt(c.abs_effect)} [{_fmt(c.abs_ci[0])}, {_fmt(c.abs_ci[1])}]",
                    f"{_fmt_pct(c.rel_effect)} [{_fmt_pct(c.rel_ci[0])}, {_fmt_pct(c.rel_ci[1])}]",
                    _fmt_p(c.p_value, c.log10_p_value),
                    _fmt_p(c.p_adjusted, c.log10_p_adjusted) + (" *" if c.significant else ""),
                ]
            )
        return rows

    @property
    def headers(self) -> list[str]:
        """Column headers of the text and HTML tables."""
        level = f"{100 * (1 - self.alpha):g}%"
        return [
            "metric", "arm", "control", "arm value", f"abs effect [{level} CI]",
            f"rel effect [{level} CI]", "p", f"p adj ({self.correction})",
        ]  # fmt: skip

    def srm_line(self) -> str:
        """One line on the sample ratio check."""
        s = self.srm
        obs = ", ".join(f"{k}={v:,}" for k, v in s.observed.items())
        exp = ", ".join(f"{k}={100 * v:.4g}%" for k, v in s.expected_shares.items())
        verdict = (
            "MISMATCH: the assignment is suspect; do not trust the results" if s.mismatch else "ok"
        )
        return (
            f"SRM check: chi2={s.statistic:.3g}, df={s.df}, p={_fmt_p(s.p_value, s.log10_p_value)} "
            f"(flag if p < {s.threshold:g}) -> {verdict}; units {obs}; expected {exp}"
        )

    def methods(self) -> dict[str, str]:
        """Describe the method of each metric in words (per arm only where arms differ)."""
        by_metric: dict[tuple[str, str | None], list[Comparison]] = {}
        for c in self.comparisons:
            by_metric.setdefault((c.metric, c.covariate), []).append(c)
        out: dict[str, str] = {}
        for (metric, cov), comps in by_metric.items():
            name = metric + (f" (CUPED: {cov})" if cov else "")
            if len({c.method for c in comps}) == 1:
                out[name] = comps[0].method
            else:
                out.update({f"{name} ({c.arm})": c.method for c in comps})
            vrs = [
                f"{c.arm} {100 * c.variance_reduction:.1f}%"
                for c in comps
                if c.variance_reduction is not None and math.isfinite(c.variance_reduction)
            ]
            if vrs:
                out[name + ", CUPED variance reduction"] = ", ".join(vrs)
        return out

    def summary(self) -> str:
        """Plain-text report: table, methods, SRM check, conventions and warnings."""
        head, rows = self.headers, self._table_rows()
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
        out = [
            f"A/B analysis: {len(self.n)} arms, control {self.control!r}, "
            f"alpha={self.alpha:g}, {self.alternative}, correction={self.correction}",
            self.srm_line(),
            "",
            line,
            "-" * len(line),
        ]
        for r in rows:
            out.append("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
        out += ["", f"* p adj < {self.alpha:g}", "", "Methods:"]
        out += [f"  {k}: {v}" for k, v in self.methods().items()]
        out += ["", "Conventions: " + CONVENTIONS]
        if self.dropped:
            out.append(
                "Dropped rows with missing values: "
                + ", ".join(f"{k}: {v:,}" for k, v in self.dropped.items())
            )
        if self.warnings:
            out += ["", "Warnings:"] + [f"  - {w}" for w in self.warnings]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.summary()

    def to_html(self, plot: bool = True) -> str:
        """Render a self-contained HTML fragment (table, SRM, methods; forest plot if ``plot``)."""
        from lifesim.ab.html import render_html

        return render_html(self, plot=plot, full_page=False)

    def _repr_html_(self) -> str:
        return self.to_html(plot=False)
