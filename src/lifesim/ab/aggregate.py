"""``aggregate``: one pass over the rows into per-arm sufficient statistics, mergeable by ``+``.

:func:`lifesim.ab.analyze` is ``aggregate(...).analyze(...)``. Aggregating chunks of a file too
big for memory and adding the results gives the same numbers as aggregating the whole file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lifesim.ab._prepare import Prepared, resolve
from lifesim.ab.io import _examples, as_frame
from lifesim.ab.metrics import Metric, parse_metric
from lifesim.ab.moments import Moments
from lifesim.errors import DataError

if TYPE_CHECKING:
    from lifesim.ab.result import ABResult

__all__ = ["Aggregates", "aggregate"]


def _key(m: Metric | str) -> str:
    """Return the name a covariate mapping uses for a metric (label, or a string's column)."""
    if isinstance(m, str):
        return m.partition(":")[2].strip() if ":" in m else m
    return m.label


def _resolve_metrics(
    metrics: Sequence[Metric | str] | Metric | str, covariates: Mapping[str, str] | None
) -> list[Metric | str]:
    """Parse the metrics and attach covariates.

    A covariate goes to every metric of that name that takes one, so one column can be both a
    proportion and, adjusted, a CUPED mean (``["proportion:c", "mean:c"]`` with
    ``{"c": "pre_c"}``); if none takes it, the first metric's refusal is raised.
    """
    if isinstance(metrics, str | Metric):
        metrics = [metrics]
    if not metrics:
        raise ValueError("metrics is empty: give at least one metric to analyse")
    out = [parse_metric(m) for m in metrics]
    keys = [_key(m) for m in metrics]
    unknown = [k for k in (covariates or {}) if k not in keys]
    if unknown:
        raise DataError(
            f"covariate given for {', '.join(map(repr, unknown))}, which is not among the "
            f"metrics ({', '.join(repr(k) for k in keys)})"
        )
    for key, cov in (covariates or {}).items():
        refusals = []
        for i in (i for i, k in enumerate(keys) if k == key):
            try:
                out[i] = parse_metric(out[i], cov)
            except DataError as exc:
                refusals.append(exc)
        if len(refusals) == keys.count(key):
            raise refusals[0]
    return out


@dataclass(frozen=True)
class Aggregates:
    """Per-arm sufficient statistics of every metric of an experiment.

    Attributes
    ----------
    arm : str
        Name of the arm column.
    arms : tuple of str
        Arm labels, in the order of every per-arm array.
    n : tuple of int
        Units per arm (all rows with an arm, before dropping missing metric values).
    metrics : tuple of Metric
        The metrics, resolved (a bare column name became a proportion or a mean).
    moments : tuple of Moments
        One per metric: counts, means and centred cross-products of its columns per arm.
    dropped : tuple of int
        Units dropped per metric for missing values (``dropna=True``).
    """

    arm: str
    arms: tuple[str, ...]
    n: tuple[int, ...]
    metrics: tuple[Metric, ...]
    moments: tuple[Moments, ...]
    dropped: tuple[int, ...]

    def __add__(self, other: Aggregates) -> Aggregates:
        """Merge the statistics of two disjoint sets of units (chunks of one export)."""
        if not isinstance(other, Aggregates):
            return NotImplemented
        if (self.arm, self.arms, self.metrics) != (other.arm, other.arms, other.metrics):
            raise ValueError(
                "can only add Aggregates of the same arm column, arms and metrics; pass the "
                "same arms=[...] to every aggregate() call"
            )
        return Aggregates(
            self.arm,
            self.arms,
            tuple(a + b for a, b in zip(self.n, other.n, strict=True)),
            self.metrics,
            tuple(a + b for a, b in zip(self.moments, other.moments, strict=True)),
            tuple(a + b for a, b in zip(self.dropped, other.dropped, strict=True)),
        )

    def __radd__(self, other: Any) -> Aggregates:
        """Allow ``sum(chunks)``."""
        if other == 0:
            return self
        return NotImplemented

    def analyze(self, control: str | None = None, **options: Any) -> ABResult:
        """Analyse these statistics; the options are those of :func:`lifesim.ab.analyze`.

        Parameters
        ----------
        control : str, optional
            Control arm label (default ``"control"`` if present).
        **options
            ``alpha``, ``alternative``, ``correction``, ``expected_split``.

        Returns
        -------
        ABResult
            The same result as :func:`lifesim.ab.analyze` on the rows.
        """
        from lifesim.ab.analyze import analyze_aggregates

        return analyze_aggregates(self, control=control, **options)

    def to_pandas(self) -> pd.DataFrame:
        """One row per metric, arm and column: units, mean and standard deviation."""
        rows = []
        for m, mom in zip(self.metrics, self.moments, strict=True):
            sd = np.sqrt(np.diagonal(mom.cov(), axis1=1, axis2=2))
            for g, a in enumerate(self.arms):
                for j, c in enumerate(mom.columns):
                    rows.append(
                        {"metric": m.label, "arm": a, "column": c, "n": int(mom.n[g]),
                         "mean": mom.mean[g, j], "sd": sd[g, j]}
                    )  # fmt: skip
        return pd.DataFrame(rows)


def aggregate(
    data: Any,
    *,
    arm: str,
    metrics: Sequence[Metric | str] | Metric | str,
    covariates: Mapping[str, str] | None = None,
    arms: Sequence[str] | None = None,
    unit: str | None = None,
    dropna: bool = False,
) -> Aggregates:
    """Read a table once into per-arm sufficient statistics of every metric.

    Parameters
    ----------
    data : str, path, pandas.DataFrame or polars.DataFrame
        One row per randomisation unit.
    arm : str
        Column holding the arm label of each unit.
    metrics : metric or sequence of metrics
        As in :func:`lifesim.ab.analyze`.
    covariates : mapping of str to str, optional
        CUPED covariates of string metrics.
    arms : sequence of str, optional
        The arm labels, in a fixed order (default: the labels found, sorted). Give the same
        list to every chunk of a file so the aggregates can be added; an arm absent from a
        chunk gets zero units.
    unit : str, optional
        Unit id column: duplicate ids are refused (within this table only).
    dropna : bool, default False
        Drop units with missing values from the metrics where they are missing.

    Returns
    -------
    Aggregates
        Mergeable with ``+``; ``.analyze(control=...)`` gives the result.

    Examples
    --------
    >>> import pandas as pd
    >>> from lifesim import ab
    >>> chunks = pd.read_csv("export.csv", chunksize=1_000_000)  # doctest: +SKIP
    >>> agg = sum(ab.aggregate(c, arm="variant", metrics=["converted"],
    ...                        arms=["control", "treatment"]) for c in chunks)  # doctest: +SKIP
    >>> agg.analyze(control="control")  # doctest: +SKIP
    """
    specs = _resolve_metrics(metrics, covariates)
    wanted = [arm] + ([unit] if unit else [])
    for m in specs:
        wanted += [m] if isinstance(m, str) else list(m.columns)
    frame = as_frame(data, wanted, text=[arm] + ([unit] if unit else []))
    resolved = [resolve(frame, s) for s in specs]
    prep = Prepared(frame, arm, resolved, dropna)
    if arms is None:
        order = sorted(prep.labels)
    else:
        order = [str(a) for a in arms]
        extra = [lb for lb in prep.labels if lb not in order]
        if extra:
            raise DataError(
                f"arm column {arm!r} has labels {', '.join(map(repr, extra))} that are not in "
                f"arms={order}"
            )
    src = [prep.labels.index(a) if a in prep.labels else -1 for a in order]
    if unit:
        rows, vals = frame.duplicated(unit)
        if rows.size:
            raise DataError(
                f"unit column {unit!r} has {rows.size} duplicate ids ({_examples(rows, vals)}); "
                "each unit must appear once (one row per randomisation unit)"
            )
    moments, dropped = [], []
    for index in range(len(resolved)):
        mom, n_dropped = prep.moments(index, dropna)
        moments.append(mom.select(src))
        dropped.append(n_dropped)
    counts = [int(prep.counts[s]) if s >= 0 else 0 for s in src]
    return Aggregates(arm, tuple(order), tuple(counts), tuple(resolved), tuple(moments),
                      tuple(dropped))  # fmt: skip
