"""Metric kinds: what to analyse, and how.

A metric is a small frozen object naming its columns. Each kind is one class derived from
:class:`Metric`: it declares the columns it reads and their domain (real, 0/1, non-negative),
from which the back-ends (NumPy, polars) compute the same per-arm sufficient statistics
(:class:`~lifesim.ab.moments.Moments`), and it analyses those statistics
(:meth:`Metric.analyze`). A new kind is one class (plus, for the command line, one flag).

Strings are accepted wherever a metric is (see :func:`parse_metric`): ``"converted"``
(proportion or mean, decided from the data), ``"proportion:converted"``, ``"mean:revenue"``,
``"clicks/sessions"`` or ``"ratio:clicks/sessions"``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np
from scipy import stats

from lifesim.ab._delta import MetricRow, delta_rows, mean_fn, ratio_fn
from lifesim.ab.intervals import score_interval
from lifesim.ab.moments import Moments
from lifesim.ab.stats import P_FLOOR, compare, excludes_null
from lifesim.errors import DataError

__all__ = [
    "Metric",
    "MetricRow",
    "Proportion",
    "Mean",
    "Ratio",
    "parse_metric",
    "PROPORTION_TESTS",
]

PROPORTION_TESTS = ("z-pooled", "z-unpooled", "fisher")
Domain = Literal["real", "binary", "nonnegative"]


class Metric(ABC):
    """Base class of metric kinds: declare columns, validate them, analyse aggregates.

    A subclass sets :attr:`kind`, implements :attr:`label`, :attr:`columns` and
    :meth:`analyze`, and may override :meth:`domain` (what values a column may hold),
    :meth:`check` (a condition on the aggregates) and :meth:`with_covariate`. Every metric's
    sufficient statistics are the per-arm counts, means and centred cross-products of its
    columns; ``binary = True`` declares 0/1 columns (no squares needed, exact counts).

    Examples
    --------
    >>> from lifesim import ab
    >>> m = ab.Ratio("clicks", "sessions")
    >>> m.kind, m.label, m.columns
    ('ratio', 'clicks/sessions', ('clicks', 'sessions'))
    >>> isinstance(m, ab.Metric)
    True
    """

    #: Name of the kind in results (``Comparison.kind``).
    kind: ClassVar[str] = ""
    #: The columns hold only 0 and 1.
    binary: ClassVar[bool] = False

    @property
    @abstractmethod
    def label(self) -> str:
        """Name of the metric in the results."""

    @property
    @abstractmethod
    def columns(self) -> tuple[str, ...]:
        """Data columns the metric reads, one value per unit each."""

    @property
    def covariate_label(self) -> str | None:
        """CUPED covariate in words (``Comparison.covariate``), or None."""
        return None

    def domain(self, j: int) -> Domain:
        """Values column ``j`` may hold: ``'real'``, ``'binary'`` (0/1) or ``'nonnegative'``."""
        return "binary" if self.binary else "real"

    def role(self, j: int) -> str:
        """Describe column ``j`` for error messages."""
        return f"{self.kind} metric {self.label!r}"

    def check(self, mom: Moments, arms: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """Refuse aggregates the metric cannot analyse (default: accept all).

        Raises
        ------
        lifesim.errors.DataError
            Naming the column, the arm and why.
        """

    def with_covariate(self, covariate: str) -> Metric:
        """Return the metric with a CUPED covariate (``"x"`` or ``"x_num/x_den"``)."""
        raise DataError(
            f"covariate {covariate!r} for {self.kind} {self.label!r}: CUPED applies to means "
            "and ratios"
        )

    @abstractmethod
    def analyze(
        self, mom: Moments, arms: Sequence[str], *, alpha: float, alternative: str
    ) -> list[MetricRow]:
        """Compare every arm with control from the per-arm moments.

        Parameters
        ----------
        mom : Moments
            Moments of :attr:`columns`, one group per arm, control first.
        arms : sequence of str
            Arm labels, control first.
        alpha : float
            Significance level; intervals have confidence ``1 - alpha``.
        alternative : {'two-sided', 'greater', 'less'}
            H1 about ``arm - control``.

        Returns
        -------
        list of MetricRow
            One per non-control arm, in the order of ``arms[1:]``.
        """


_METHOD_PROP = {
    "z-pooled": "two-proportion z-test (pooled SE under H0, no continuity correction)",
    "z-unpooled": "two-proportion z-test (unpooled SE)",
    "fisher": "Fisher's exact test on the 2x2 table",
}
_CI_PROP = (
    "abs CI: Farrington-Manning score interval; rel CI: Koopman score interval of the risk "
    "ratio (both invert the pooled z-test, so with it they exclude 0 exactly when p < alpha; "
    "valid at 0% and 100%)"
)


@dataclass(frozen=True)
class Proportion(Metric):
    """Share of units with a 1 in a 0/1 (or boolean) column, e.g. ``converted``.

    Parameters
    ----------
    column : str
        The 0/1 column, one value per unit.
    test : {'z-pooled', 'z-unpooled', 'fisher'}, default 'z-pooled'
        How the p-value is computed. ``'z-pooled'``: two-proportion z-test with the pooled
        standard error under H0 (no continuity correction), as
        ``statsmodels.stats.proportion.proportions_ztest``. ``'z-unpooled'``: z-test with the
        unpooled (Wald) standard error. ``'fisher'``: Fisher's exact test on the 2x2 table
        (``scipy.stats.fisher_exact``). The confidence intervals are the same for all three:
        score intervals (Farrington-Manning for the difference, Koopman for the risk ratio)
        that invert the pooled z-test, valid when a share is 0% or 100%; with
        ``'z-unpooled'`` or ``'fisher'`` a CI that disagrees with the p-value is warned about.
    name : str, optional
        Label in the results (default: the column).

    Examples
    --------
    >>> from lifesim import ab
    >>> ab.Proportion("converted", test="fisher").columns
    ('converted',)
    """

    column: str
    test: Literal["z-pooled", "z-unpooled", "fisher"] = "z-pooled"
    name: str | None = None

    kind: ClassVar[str] = "proportion"
    binary: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.test not in PROPORTION_TESTS:
            raise ValueError(f"test == {self.test!r}, must be one of {', '.join(PROPORTION_TESTS)}")

    @property
    def label(self) -> str:
        """Name of the metric in the results."""
        return self.name or self.column

    @property
    def columns(self) -> tuple[str, ...]:
        """Data columns the metric reads."""
        return (self.column,)

    def with_covariate(self, covariate: str) -> Metric:
        """Refuse: CUPED applies to means and ratios."""
        raise DataError(
            f"covariate {covariate!r} for proportion {self.label!r}: CUPED applies to means "
            f"and ratios; analyse the 0/1 column as Mean({self.column!r}) (mean:{self.column}) "
            "to adjust it"
        )

    def analyze(
        self, mom: Moments, arms: Sequence[str], *, alpha: float, alternative: str
    ) -> list[MetricRow]:
        """Compare the shares of every arm with control (see the class docstring)."""
        n = mom.n
        x = np.rint(mom.sums()[:, 0])  # exact counts of 1s
        with np.errstate(invalid="ignore", divide="ignore"):
            p = x / n
            var = p * (1 - p) / n
        level = 1 - alpha / 2 if alternative == "two-sided" else 1 - alpha
        q = float(stats.norm.ppf(level))
        method = f"{_METHOD_PROP[self.test]}; {_CI_PROP}"
        out = []
        for a in range(1, len(arms)):
            lab = f"{self.label} ({arms[a]})"
            notes: list[str] = []
            if min(x[0], x[a], n[0] - x[0], n[a] - x[a]) < 5 and self.test != "fisher":
                notes.append(
                    f"{lab}: fewer than 5 successes or failures in a group; the z-test is "
                    "approximate, consider Proportion(..., test='fisher')"
                )
            log_p = test_se = None
            if self.test == "z-pooled":
                pp = (x[0] + x[a]) / (n[0] + n[a])
                test_se = math.sqrt(pp * (1 - pp) * (1 / n[0] + 1 / n[a]))
            elif self.test == "fisher":
                table = [[x[a], n[a] - x[a]], [x[0], n[0] - x[0]]]
                table = np.asarray(table, dtype=np.int64)
                fp = float(stats.fisher_exact(table, alternative).pvalue)
                log_p = math.log(fp) if fp > 0 else math.log(P_FLOOR)
            intervals = None
            if min(n[0], n[a]) >= 1:
                args = (int(x[a]), int(n[a]), int(x[0]), int(n[0]), q)
                intervals = (
                    score_interval(*args, "diff", alternative),
                    score_interval(*args, "ratio", alternative),
                )
            est = compare(
                p[0], var[0], p[a], var[a], alpha=alpha, alternative=alternative,
                test_se=test_se, log_p=log_p, label=lab, intervals=intervals,
            )  # fmt: skip
            if self.test != "z-pooled" and excludes_null(est.abs_ci) != (est.p_value < alpha):
                notes.append(
                    f"{lab}: the score CI {'excludes' if excludes_null(est.abs_ci) else 'includes'}"
                    f" 0 but the {self.test} p-value is {est.p_value:.3g}; the CI inverts the "
                    "pooled z-test, not this test: the p-value decides"
                )
            est = replace(est, warnings=(*notes, *est.warnings))
            out.append(MetricRow(est, method))
        return out


@dataclass(frozen=True)
class Mean(Metric):
    """Mean of a numeric column per unit (e.g. revenue), compared with Welch's t-test.

    Parameters
    ----------
    column : str
        The numeric column, one value per unit.
    covariate : str, optional
        A pre-experiment column for CUPED: ``Y_adj = Y - theta (X - mean X)`` with
        ``theta = cov(Y, X) / var(X)`` over all units of all arms; the t-test is then run on
        ``Y_adj``.
    name : str, optional
        Label in the results (default: the column).

    Examples
    --------
    >>> from lifesim import ab
    >>> ab.Mean("revenue", covariate="pre_revenue").columns
    ('revenue', 'pre_revenue')
    """

    column: str
    covariate: str | None = None
    name: str | None = None

    kind: ClassVar[str] = "mean"

    @property
    def label(self) -> str:
        """Name of the metric in the results."""
        return self.name or self.column

    @property
    def columns(self) -> tuple[str, ...]:
        """Data columns the metric reads (value first, then the covariate)."""
        return (self.column,) if self.covariate is None else (self.column, self.covariate)

    @property
    def covariate_label(self) -> str | None:
        """The CUPED covariate column, or None."""
        return self.covariate

    def with_covariate(self, covariate: str) -> Metric:
        """Return the metric adjusted by one pre-experiment column."""
        if self.covariate is not None:
            raise DataError(f"covariate {covariate!r} given twice for metric {self.label!r}")
        if "/" in covariate:
            raise DataError(
                f"covariate {covariate!r} of mean {self.label!r} must be a single column"
            )
        return replace(self, covariate=covariate)

    def analyze(
        self, mom: Moments, arms: Sequence[str], *, alpha: float, alternative: str
    ) -> list[MetricRow]:
        """Welch t-test of every arm against control (CUPED-adjusted if a covariate is set)."""
        return delta_rows(
            self.label, mom, arms, mean_fn(0), mean_fn(1) if self.covariate else None,
            alpha=alpha, alternative=alternative, welch=True, covariate=self.covariate,
            method="Welch t-test (Welch-Satterthwaite df, in `df`); abs CI: t quantile; "
            "rel CI: delta method on log ratio of means",
        )  # fmt: skip


@dataclass(frozen=True)
class Ratio(Metric):
    """Ratio of sums per arm, ``sum(numerator) / sum(denominator)``, e.g. clicks per session.

    The unit of randomisation stays the unit of analysis: the variance comes from the delta
    method over per-unit (numerator, denominator) pairs, never from treating sessions as
    independent. The test is a z-test (normal approximation).

    Parameters
    ----------
    numerator, denominator : str
        Numeric columns, one value per unit. The denominator must be >= 0; a unit with a zero
        denominator is normal data, but each arm's denominator must sum to more than zero.
    covariate : str or (str, str), optional
        CUPED covariate: a pre-experiment column ``X`` or a pair ``(x_num, x_den)`` for a
        pre-experiment ratio. The adjustment is applied to the delta-method linearisation of
        the ratio, with theta estimated over all units of all arms.
    name : str, optional
        Label in the results (default: ``"numerator/denominator"``).

    Examples
    --------
    >>> from lifesim import ab
    >>> ab.Ratio("clicks", "sessions", covariate=("pre_clicks", "pre_sessions")).columns
    ('clicks', 'sessions', 'pre_clicks', 'pre_sessions')
    """

    numerator: str
    denominator: str
    covariate: str | tuple[str, str] | None = None
    name: str | None = None

    kind: ClassVar[str] = "ratio"

    @property
    def label(self) -> str:
        """Name of the metric in the results."""
        return self.name or f"{self.numerator}/{self.denominator}"

    @property
    def covariate_columns(self) -> tuple[str, ...]:
        """Covariate columns: ``()``, ``(x,)`` or ``(x_num, x_den)``."""
        if self.covariate is None:
            return ()
        if isinstance(self.covariate, str):
            return (self.covariate,)
        return tuple(self.covariate)

    @property
    def columns(self) -> tuple[str, ...]:
        """Data columns the metric reads (numerator, denominator, then covariates)."""
        return (self.numerator, self.denominator, *self.covariate_columns)

    @property
    def covariate_label(self) -> str | None:
        """The CUPED covariate (``x`` or ``x_num/x_den``), or None."""
        return "/".join(self.covariate_columns) or None

    def domain(self, j: int) -> Domain:
        """Return ``'nonnegative'`` for the denominator, ``'real'`` for other columns."""
        return "nonnegative" if j == 1 else "real"

    def role(self, j: int) -> str:
        """Name the denominator in error messages."""
        return f"denominator of ratio {self.label!r}" if j == 1 else super().role(j)

    def check(self, mom: Moments, arms: Sequence[str]) -> None:
        """Refuse an arm whose denominator sums to 0 (the ratio is undefined there)."""
        den = np.nan_to_num(mom.mean[:, 1])
        # a shifted sum of zeros leaves rounding of order n * eps * shift: not a positive sum
        for a in np.flatnonzero(~(den > 1e-9 * np.max(np.abs(den), initial=0.0))):
            raise DataError(
                f"column {self.denominator!r} (denominator of ratio {self.label!r}) "
                f"sums to 0 in arm {arms[a]!r}; the ratio is undefined there"
            )

    def with_covariate(self, covariate: str) -> Metric:
        """Return the ratio adjusted by a column ``x`` or a pre-period ratio ``x_num/x_den``."""
        if self.covariate is not None:
            raise DataError(f"covariate {covariate!r} given twice for metric {self.label!r}")
        return replace(self, covariate=_split_ratio(covariate) or covariate)

    def analyze(
        self, mom: Moments, arms: Sequence[str], *, alpha: float, alternative: str
    ) -> list[MetricRow]:
        """Delta-method z-test of every arm against control (CUPED on the linearisation)."""
        cc = self.covariate_columns
        cov_fn = None if not cc else (mean_fn(2) if len(cc) == 1 else ratio_fn(2, 3))
        return delta_rows(
            self.label, mom, arms, ratio_fn(0, 1), cov_fn, alpha=alpha,
            alternative=alternative, welch=False, covariate=self.covariate_label,
            adjusting="the ratio's delta-method linearisation",
            method="ratio of sums, delta method with the unit as the unit of analysis, "
            "z-test (normal approximation); rel CI: delta method on log ratio",
        )  # fmt: skip


def _split_ratio(text: str) -> tuple[str, str] | None:
    if "/" not in text:
        return None
    num, _, den = text.partition("/")
    num, den = num.strip(), den.strip()
    if not num or not den or "/" in den:
        raise DataError(f"ratio {text!r} must look like 'numerator/denominator'")
    return num, den


def _from_text(kind: str, rest: str, spec: str) -> Metric | str:
    """Build a metric from ``kind:rest`` (empty ``kind``: a bare column or ``num/den``)."""
    pair = _split_ratio(rest)
    if pair is not None or kind == "ratio":
        if pair is None:
            raise DataError(f"ratio metric {spec!r} must look like 'ratio:numerator/denominator'")
        return Ratio(*pair)
    if kind == "proportion":
        return Proportion(rest)
    if kind == "mean":
        return Mean(rest)
    return rest


def parse_metric(spec: Metric | str, covariate: str | None = None) -> Metric | str:
    """Turn a metric string into a metric object.

    Parameters
    ----------
    spec : Metric or str
        ``"kind:column"`` with kind ``proportion`` or ``mean``, ``"num/den"`` or
        ``"ratio:num/den"``. A bare column name is returned unchanged: the caller decides from
        the data (0/1 or boolean values: proportion, else mean).
    covariate : str, optional
        CUPED covariate for the metric (``"x"`` or, for a ratio, ``"x_num/x_den"``); a bare
        column with a covariate is a mean.

    Returns
    -------
    Metric or str
        The metric; a bare column name without a covariate stays a string.

    Examples
    --------
    >>> from lifesim.ab.metrics import parse_metric
    >>> parse_metric("clicks/sessions", covariate="pre_clicks/pre_sessions")
    Ratio(numerator='clicks', denominator='sessions', covariate=('pre_clicks', 'pre_sessions'), name=None)
    >>> parse_metric("converted")
    'converted'
    """  # noqa: E501
    if isinstance(spec, str):
        kind, sep, rest = spec.partition(":")
        if not sep:
            kind, rest = "", spec
        kind, rest = kind.strip().lower(), rest.strip()
        if kind not in ("", "proportion", "mean", "ratio"):
            raise DataError(
                f"metric {spec!r}: kind {kind!r} is unknown; use proportion:COL, mean:COL or "
                "NUM/DEN"
            )
        parsed = _from_text(kind, rest, spec)
        if isinstance(parsed, str):
            if covariate is None:
                return parsed
            parsed = Mean(parsed)
        spec = parsed
    return spec if covariate is None else spec.with_covariate(covariate)
