"""From a table to per-arm moments: arm codes, validated numeric columns, missing values.

NumPy path for pandas (and for explaining bad polars data); a polars ``group_by`` path for
clean polars input. Both give the same :class:`~lifesim.ab.moments.Moments`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lifesim.ab import _polars
from lifesim.ab.io import Frame, _examples, _rows
from lifesim.ab.metrics import Mean, Metric, Proportion
from lifesim.ab.moments import Moments
from lifesim.errors import DataError

__all__ = ["Prepared", "resolve"]


def resolve(frame: Frame, spec: Metric | str) -> Metric:
    """Turn a bare column name into a proportion (only 0/1 values) or a mean."""
    if not isinstance(spec, str):
        return spec
    binary = _polars.is_binary(frame.raw, spec) if frame.is_polars else None
    if binary is None:
        binary = _Columns(frame).is_binary(spec)
    return Proportion(spec) if binary else Mean(spec)


class _Columns:
    """Numeric columns read once and validated for their role (internal)."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.cache: dict[str, np.ndarray] = {}
        self.complete: dict[str, bool] = {}

    def get(self, name: str, what: str) -> np.ndarray:
        if name not in self.cache:
            x = self.frame.numeric(name, what)
            self.cache[name] = x
            self.complete[name] = math.isfinite(x.sum())  # no NaN (infinities were refused)
        return self.cache[name]

    def low(self, name: str, x: np.ndarray) -> float:
        """Smallest non-missing value."""
        return float(x.min() if self.complete[name] else np.nanmin(x))

    def binary_ok(self, name: str, x: np.ndarray) -> bool:
        """Quick check that the non-missing values are all 0 or 1."""
        s = self.frame.dtype_kind(name)
        if self.complete[name]:
            lo, hi = x.min(), x.max()
        else:
            lo, hi = np.nanmin(x), np.nanmax(x)
        if not (lo >= 0 and hi <= 1):
            return False
        return s in "biu" or not np.any((x > 0) & (x < 1))

    def is_binary(self, name: str) -> bool:
        x = self.get(name, "metric")
        x = x[~np.isnan(x)]
        return bool(x.size) and bool(np.all((x == 0) | (x == 1)))


def _validate(metric: Metric, cols: _Columns) -> list[np.ndarray]:
    """Read the metric's columns, refusing values outside each column's declared domain."""
    arrays = []
    for j, name in enumerate(metric.columns):
        what, domain = metric.role(j), metric.domain(j)
        x = cols.get(name, what)
        if domain == "binary" and not cols.binary_ok(name, x):
            bad = ~np.isnan(x) & (x != 0) & (x != 1)
            if bad.any():
                rows = np.flatnonzero(bad)
                raise DataError(
                    f"column {name!r} ({what}) must hold only 0/1 (or true/false); found "
                    f"{rows.size} other values ({_examples(rows, x[rows[:5]].tolist())}); "
                    f"to analyse it as a number use mean:{name}"
                )
        if domain == "nonnegative" and not cols.low(name, x) >= 0:
            bad = x < 0
            if bad.any():
                rows = np.flatnonzero(bad)
                raise DataError(
                    f"column {name!r} ({what}) has {rows.size} negative values "
                    f"({_examples(rows, x[rows[:5]].tolist())}); it must be >= 0 (0 is fine "
                    "for a unit)"
                )
        arrays.append(x)
    return arrays


def _missing_mask(
    metric: Metric, arrays: list[np.ndarray], dropna: bool, cols: _Columns
) -> np.ndarray | None:
    mask = None
    for name, x in zip(metric.columns, arrays, strict=True):
        if cols.complete[name]:
            continue
        nan = np.isnan(x)
        if not nan.any():
            continue
        if not dropna:
            rows = np.flatnonzero(nan)
            raise DataError(
                f"column {name!r} (metric {metric.label!r}) has {rows.size} missing values "
                f"({_rows(rows)}); fill them, or pass --dropna (dropna=True) to drop those "
                "units from this metric"
            )
        mask = nan if mask is None else mask | nan
    return mask


class Prepared:
    """Arm labels, codes and counts of a table, and the moments of its metrics (internal).

    Everything is in the order of ``labels`` (as found in the data); callers reorder the small
    per-arm results, never the rows. For polars input the counts and moments come from polars
    aggregations and the per-row arm codes are only built if the NumPy path is needed (to
    explain bad data).
    """

    def __init__(self, frame: Frame, arm: str, metrics: Sequence[Metric], dropna: bool) -> None:
        self.frame, self.arm = frame, arm
        self.metrics = list(metrics)
        self.cols = _Columns(frame)
        self._codes: np.ndarray | None = None
        self._raw_counts: np.ndarray | None = None
        self._fast: dict[int, tuple[Moments, int]] = {}
        agg = None
        if frame.is_polars:
            agg = _polars.aggregate(frame.raw, arm, self.metrics, dropna, strip=arm in frame.text)
        if agg is not None:
            self.labels, self._raw_counts, self._fast = agg.labels, agg.counts, agg.moments
        else:
            self._codes, self.labels = frame.factorize(arm)
            k, c = len(self.labels), self._codes
            if k == 2:
                n1 = np.count_nonzero(c)
                self._raw_counts = np.array([c.size - n1, n1], dtype=np.int64)
            else:
                self._raw_counts = np.bincount(c, minlength=k).astype(np.int64)
        self.counts: np.ndarray = self._raw_counts
        self.masks: dict[int, np.ndarray] = {}

    @property
    def codes(self) -> np.ndarray:
        """Arm index of every row, in the order of ``labels``."""
        if self._codes is None:
            codes, labels = self.frame.factorize(self.arm)
            lut = np.array([self.labels.index(lb) for lb in labels], dtype=np.intp)
            self._codes = lut[codes]
        return self._codes

    def moments(self, index: int, dropna: bool) -> tuple[Moments, int]:
        """Per-arm moments of metric ``index`` and the number of rows dropped."""
        metric = self.metrics[index]
        if index in self._fast:
            mom, n_dropped = self._fast[index]
            metric.check(mom, self.labels)
            return mom, n_dropped
        k = len(self.labels)
        arrays = _validate(metric, self.cols)
        miss = _missing_mask(metric, arrays, dropna, self.cols)
        c = self.codes
        if miss is not None:
            keep = ~miss
            c, arrays = c[keep], [x[keep] for x in arrays]
        masks = self.masks if miss is None else None
        mom = Moments.from_arrays(
            c, k, arrays, metric.columns, mask_cache=masks, binary=metric.binary
        )
        metric.check(mom, self.labels)
        return mom, 0 if miss is None else int(miss.sum())
