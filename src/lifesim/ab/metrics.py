"""Metric specifications: what to analyse, and with which test.

A metric is a small frozen object naming its columns. Strings are accepted wherever a metric is
(see :func:`parse_metric`): ``"converted"`` (proportion or mean, decided from the data),
``"proportion:converted"``, ``"mean:revenue"``, ``"clicks/sessions"`` or
``"ratio:clicks/sessions"``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from lifesim.errors import DataError

__all__ = ["Proportion", "Mean", "Ratio", "Metric", "parse_metric", "PROPORTION_TESTS"]

PROPORTION_TESTS = ("z-pooled", "z-unpooled", "fisher")


@dataclass(frozen=True)
class Proportion:
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
        Wald with unpooled SE for the difference, log risk ratio for the relative effect.
    name : str, optional
        Label in the results (default: the column).
    """

    column: str
    test: Literal["z-pooled", "z-unpooled", "fisher"] = "z-pooled"
    name: str | None = None

    def __post_init__(self) -> None:
        if self.test not in PROPORTION_TESTS:
            raise ValueError(f"test == {self.test!r}, must be one of {', '.join(PROPORTION_TESTS)}")

    @property
    def label(self) -> str:
        """Name of the metric in the results."""
        return self.name or self.column

    @property
    def kind(self) -> str:
        """``'proportion'``."""
        return "proportion"

    @property
    def columns(self) -> tuple[str, ...]:
        """Data columns the metric reads."""
        return (self.column,)


@dataclass(frozen=True)
class Mean:
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
    """

    column: str
    covariate: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """Name of the metric in the results."""
        return self.name or self.column

    @property
    def kind(self) -> str:
        """``'mean'``."""
        return "mean"

    @property
    def columns(self) -> tuple[str, ...]:
        """Data columns the metric reads (value first, then the covariate)."""
        return (self.column,) if self.covariate is None else (self.column, self.covariate)


@dataclass(frozen=True)
class Ratio:
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
    """

    numerator: str
    denominator: str
    covariate: str | tuple[str, str] | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """Name of the metric in the results."""
        return self.name or f"{self.numerator}/{self.denominator}"

    @property
    def kind(self) -> str:
        """``'ratio'``."""
        return "ratio"

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


Metric = Proportion | Mean | Ratio


def _split_ratio(text: str) -> tuple[str, str] | None:
    if "/" not in text:
        return None
    num, _, den = text.partition("/")
    num, den = num.strip(), den.strip()
    if not num or not den or "/" in den:
        raise DataError(f"ratio {text!r} must look like 'numerator/denominator'")
    return num, den


def parse_metric(spec: Metric | str, covariate: str | None = None) -> Metric | str:
    """Turn a metric string into a metric object.

    Parameters
    ----------
    spec : Proportion, Mean, Ratio or str
        ``"kind:column"`` with kind ``proportion`` or ``mean``, ``"num/den"`` or
        ``"ratio:num/den"``. A bare column name is returned unchanged: the caller decides from
        the data (0/1 or boolean values: proportion, else mean).
    covariate : str, optional
        CUPED covariate for the metric (``"x"`` or, for a ratio, ``"x_num/x_den"``).

    Returns
    -------
    Proportion, Mean, Ratio or str
        The metric; a bare column name stays a string.
    """
    if not isinstance(spec, str):
        if covariate is None:
            return spec
        if isinstance(spec, Proportion):
            raise DataError(
                f"covariate {covariate!r} for proportion {spec.label!r}: CUPED applies to means "
                f"and ratios; analyse the 0/1 column as Mean({spec.column!r}) to adjust it"
            )
        if spec.covariate is not None:
            raise DataError(f"covariate {covariate!r} given twice for metric {spec.label!r}")
        if isinstance(spec, Ratio):
            return replace(spec, covariate=_split_ratio(covariate) or covariate)
        return replace(spec, covariate=covariate)
    kind, sep, rest = spec.partition(":")
    if not sep:
        kind, rest = "", spec
    kind, rest = kind.strip().lower(), rest.strip()
    if kind not in ("", "proportion", "mean", "ratio"):
        raise DataError(
            f"metric {spec!r}: kind {kind!r} is unknown; use proportion:COL, mean:COL or NUM/DEN"
        )
    pair = _split_ratio(rest)
    if pair is not None or kind == "ratio":
        if pair is None:
            raise DataError(f"ratio metric {spec!r} must look like 'ratio:numerator/denominator'")
        cov = None if covariate is None else (_split_ratio(covariate) or covariate)
        return Ratio(pair[0], pair[1], covariate=cov)
    if kind == "proportion":
        if covariate is not None:
            raise DataError(
                f"covariate {covariate!r} for proportion {rest!r}: CUPED applies to means and "
                "ratios; analyse the 0/1 column as mean:COL to adjust it"
            )
        return Proportion(rest)
    if kind == "mean" or covariate is not None:
        if covariate is not None and "/" in covariate:
            raise DataError(f"covariate {covariate!r} of mean {rest!r} must be a single column")
        return Mean(rest, covariate=covariate)
    return rest
