"""Cumulative per-arm moments by day: the sufficient statistics of every look (internal).

Rows are either one per unit (the day it entered; its outcome) or, with a unit column, several
per unit in time order (snapshots: the unit's values as of that day). Each row adds its change
to the per-(day, arm) sums, so the moments at look ``d`` are cumulative sums up to ``d``: one
pass over the rows whatever the number of looks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lifesim.ab._prepare import _Columns, _missing_mask, _validate, resolve
from lifesim.ab.aggregate import _resolve_metrics
from lifesim.ab.io import Frame, _examples, as_frame
from lifesim.ab.metrics import Metric, Proportion
from lifesim.ab.moments import SHIFT_ROWS, Moments, shift_of
from lifesim.errors import DataError

__all__ = ["Looks", "read_looks", "choose_looks"]


class Looks:
    """Days, arm labels and, per metric, the cumulative moments at every distinct day."""

    def __init__(self, days: np.ndarray, labels: list[str], is_date: bool) -> None:
        self.days = days  # sorted distinct days (float, or int64 ns for dates)
        self.labels = labels
        self.is_date = is_date
        self.metrics: list[Metric] = []
        self.n: list[np.ndarray] = []  # per metric, (D, g) cumulative counts
        self.s1: list[np.ndarray] = []
        self.s2: list[np.ndarray] = []
        self.shift: list[np.ndarray] = []
        self.dropped: list[int] = []

    def label(self, day: float) -> Any:
        """Return a day as users wrote it: an int, a float or an ISO date."""
        if self.is_date:
            return str(pd.Timestamp(int(day)).date())
        return int(day) if float(day).is_integer() else float(day)

    def moments(self, index: int, upto: float) -> Moments:
        """Moments of metric ``index`` over the rows with day <= ``upto``."""
        d = int(np.searchsorted(self.days, upto, side="right")) - 1
        g = len(self.labels)
        if d < 0:
            k = self.s1[index].shape[2]
            return Moments._from_shifted(self.metrics[index].columns, np.zeros(g, np.int64),
                                         np.zeros((g, k)), np.zeros((g, k, k)),
                                         self.shift[index])  # fmt: skip
        return Moments._from_shifted(self.metrics[index].columns, self.n[index][d],
                                     self.s1[index][d], self.s2[index][d],
                                     self.shift[index])  # fmt: skip


def _time_values(frame: Frame, col: str) -> tuple[np.ndarray, bool]:
    """Return the time column as float days, or as int64 nanoseconds for dates."""
    s = frame.column(col)
    if frame.is_polars:
        s = s.to_pandas()
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        conv, is_date = pd.to_datetime(s), True
    elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        conv, is_date = s, False
    else:
        num = pd.to_numeric(s, errors="coerce")
        if num.notna().sum() == s.notna().sum():
            conv, is_date = num, False
        else:
            conv, is_date = pd.to_datetime(s, errors="coerce", format="mixed"), True
            bad = (s.notna() & conv.isna()).to_numpy()
            if bad.any():
                rows = np.flatnonzero(bad)
                raise DataError(
                    f"time column {col!r} has {rows.size} values that are neither numbers nor "
                    f"dates ({_examples(rows, s.iloc[rows[:5]].tolist())}); allowed: day "
                    "numbers (1, 2, ...) or dates (2024-03-01)"
                )
    miss = conv.isna().to_numpy()
    if miss.any():
        rows = np.flatnonzero(miss)
        raise DataError(
            f"time column {col!r} has {rows.size} missing values "
            f"({_examples(rows, [None] * min(5, rows.size))}); every row needs its day"
        )
    if is_date:
        return conv.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float), True
    x = conv.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(x)):
        rows = np.flatnonzero(~np.isfinite(x))
        raise DataError(f"time column {col!r} has infinite values ({_examples(rows, x[rows])})")
    return x, False


def _day_codes(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct sorted days and each row's index among them (fast for integer days)."""
    lo, hi = float(t.min()), float(t.max())
    if hi - lo < 5e6 and np.array_equal(t, np.floor(t)):
        off = (t - lo).astype(np.int64)
        present = np.bincount(off, minlength=int(hi - lo) + 1) > 0
        remap = np.cumsum(present) - 1
        return np.flatnonzero(present) + lo, remap[off]
    days, codes = np.unique(t, return_inverse=True)
    return days, codes


def _panel_order(
    unit_codes: np.ndarray, t: np.ndarray, arm_codes: np.ndarray, time_col: str, unit: str,
    unit_vals: Any,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Rows sorted by unit (stable) and whether each sorted row is the unit's first."""
    order = np.argsort(unit_codes, kind="stable")
    u, ts = unit_codes[order], t[order]
    first = np.ones(u.size, dtype=bool)
    first[1:] = u[1:] != u[:-1]
    back = ~first[1:] & (ts[1:] <= ts[:-1])
    if back.any():
        i = int(np.flatnonzero(back)[0]) + 1
        r0, r1 = int(order[i - 1]), int(order[i])
        raise DataError(
            f"time column {time_col!r} must increase within each unit (rows of a unit in time "
            f"order, one row per unit and day): unit {unit_vals[r1]!r} ({unit!r}) has "
            f"{time_col}={_num(t[r1])} at row {r1} after {time_col}={_num(t[r0])} at row {r0}"
        )
    a = arm_codes[order]
    moved = ~first[1:] & (a[1:] != a[:-1])
    if moved.any():
        i = int(np.flatnonzero(moved)[0]) + 1
        raise DataError(
            f"unit {unit_vals[int(order[i])]!r} ({unit!r}) changes arm between rows "
            f"{int(order[i - 1])} and {int(order[i])}; a unit keeps its arm"
        )
    return order, first


def _num(x: float) -> Any:
    return int(x) if float(x).is_integer() else x


def read_looks(
    data: Any,
    *,
    arm: str,
    time_col: str,
    metrics: Sequence[Metric | str] | Metric | str,
    covariates: Any = None,
    unit: str | None = None,
    dropna: bool = False,
    count: str | None = None,
) -> Looks:
    """Read a table once into cumulative per-(day, arm) moments of every metric.

    With ``count``, each row aggregates ``count`` units of one arm and day, and each metric
    column holds their number of successes (proportions only: sums carry no variances).
    """
    specs = _resolve_metrics(metrics, covariates)
    if count is not None:
        specs = [_count_metric(m, count, unit) for m in specs]
    text = [arm] + ([unit] if unit else [])
    wanted = [*text, time_col] + ([count] if count else [])
    for m in specs:
        wanted += [m] if isinstance(m, str) else list(m.columns)
    frame = as_frame(data, wanted, text=text)
    resolved = [resolve(frame, s) for s in specs]
    arm_codes, labels = frame.factorize(arm)
    t, is_date = _time_values(frame, time_col)
    days, dcodes = _day_codes(t)
    g = len(labels)
    order = first = None
    if unit:
        ucodes, uvals = frame.factorize(unit)
        if np.unique(ucodes).size < ucodes.size:
            raw = frame.column(unit)
            uv = raw.to_list() if frame.is_polars else raw.tolist()
            order, first = _panel_order(ucodes, t, arm_codes, time_col, unit, uv)
    out = Looks(days, labels, is_date)
    cols = _Columns(frame)
    group = dcodes * g + arm_codes
    size = days.size * g
    units = None if count is None else _counts(cols, count)
    for metric in resolved:
        if units is not None:
            arrays, miss = [_successes(cols, metric.columns[0], units, count)], None
        else:
            arrays = _validate(metric, cols)
            miss = _missing_mask(metric, arrays, dropna and order is None, cols)
        grp, n_rows = group, units
        if miss is not None:
            keep = ~miss
            arrays, grp = [x[keep] for x in arrays], group[keep]
        shift = np.array([0.0 if metric.binary else shift_of(x[:SHIFT_ROWS]) for x in arrays])
        z = [x - s if s else x for x, s in zip(arrays, shift, strict=True)]
        k = len(z)
        pairs = [(i, j) for i in range(k) for j in range(i, k)]
        # 0/1 columns: y * y == y, so the square's sums are the column's
        square_free = metric.binary and k == 1
        prods = {} if square_free else {(i, j): z[i] * z[j] for i, j in pairs}
        if order is not None:  # snapshots: add each row's change since the unit's last row
            grp = grp[order]
            n_rows = first.astype(np.float64)
            z = [_change(x[order], first) for x in z]
            prods = {ij: _change(p[order], first) for ij, p in prods.items()}
        cnt = np.bincount(grp, weights=n_rows, minlength=size)
        s1 = np.empty((size, k))
        s2 = np.empty((size, k, k))
        for j in range(k):
            s1[:, j] = np.bincount(grp, weights=z[j], minlength=size)
        for (i, j), p in prods.items():
            s2[:, i, j] = s2[:, j, i] = np.bincount(grp, weights=p, minlength=size)
        if square_free:
            s2[:, 0, 0] = s1[:, 0]
        out.metrics.append(metric)
        out.n.append(np.rint(np.cumsum(cnt.reshape(days.size, g), axis=0)).astype(np.int64))
        out.s1.append(np.cumsum(s1.reshape(days.size, g, k), axis=0))
        out.s2.append(np.cumsum(s2.reshape(days.size, g, k, k), axis=0))
        out.shift.append(shift)
        out.dropped.append(0 if miss is None else int(miss.sum()))
    return out


def _count_metric(m: Metric | str, count: str, unit: str | None) -> Metric:
    if unit is not None:
        raise DataError(
            f"count column {count!r} and unit column {unit!r}: rows are either aggregates "
            "(count) or units (unit), not both"
        )
    if isinstance(m, str):
        return Proportion(m)
    if not isinstance(m, Proportion):
        raise DataError(
            f"metric {m.label!r} ({m.kind}) with count column {count!r}: per-day aggregates "
            "carry sums only, which give proportions (successes per count); means, ratios "
            "and CUPED need sums of squares: give one row per unit instead"
        )
    return m


def _counts(cols: _Columns, count: str) -> np.ndarray:
    x = cols.get(count, "count of units")
    bad = ~(np.isfinite(x) & (x >= 0) & (x == np.floor(x)))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"count column {count!r} has {rows.size} values that are not whole numbers >= 0 "
            f"({_examples(rows, x[rows[:5]].tolist())})"
        )
    return x


def _successes(cols: _Columns, name: str, units: np.ndarray, count: str) -> np.ndarray:
    x = cols.get(name, "successes")
    bad = ~(np.isfinite(x) & (x >= 0) & (x == np.floor(x)) & (x <= units))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"column {name!r} (successes among {count!r} units) has {rows.size} values that "
            f"are not whole numbers from 0 to the row's count "
            f"({_examples(rows, x[rows[:5]].tolist())})"
        )
    return x


def _change(x: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Each row's value minus the unit's previous row's (the value itself on a first row)."""
    d = x.copy()
    d[1:] -= np.where(first[1:], 0.0, x[:-1])
    return d


def _parse_day(value: Any, is_date: bool, option: str) -> float:
    if is_date:
        try:
            return float(pd.Timestamp(str(value)).value)
        except ValueError:
            raise DataError(f"{option}: {value!r} is not a date (e.g. 2024-03-01)") from None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{option}: {value!r} is not a day number") from None
    if not math.isfinite(x):
        raise DataError(f"{option}: {value!r} is not a finite day number")
    return x


def choose_looks(looks: Any, lk: Looks, time_col: str, minimum: int = 2) -> np.ndarray:
    """Look days: every day (None), ``K`` equally spaced among the days, or the days given."""
    days = lk.days
    first, last = lk.label(days[0]), lk.label(days[-1])
    if days.size < 2:
        raise DataError(
            f"time column {time_col!r} has a single value ({first!r}); a sequential analysis "
            "needs data on at least 2 days (one look per day)"
        )
    if looks is None:
        return days
    if isinstance(looks, int | np.integer) and not isinstance(looks, bool):
        if looks < minimum:
            raise DataError(
                f"looks == {looks}: a group-sequential design needs at least {minimum} looks "
                f"(a single look is the fixed-horizon test)"
            )
        if looks > days.size:
            raise DataError(
                f"looks == {looks} is more than the {days.size} distinct days in time column "
                f"{time_col!r} ({first!r} to {last!r}); use at most {days.size} looks"
            )
        idx = np.ceil(np.arange(1, looks + 1) * days.size / looks).astype(int) - 1
        return days[idx]
    vals = [_parse_day(v, lk.is_date, "looks") for v in looks]
    if len(vals) < minimum:
        raise DataError(
            f"looks == {list(looks)}: give at least {minimum} look days (a single look day is the "
            "fixed-horizon test)"
        )
    arr = np.asarray(vals)
    if np.any(np.diff(arr) <= 0):
        raise DataError(f"looks == {list(looks)}: look days must increase")
    out = [v for v, x in zip(looks, arr, strict=True) if x > days[-1] or x < days[0]]
    if out:
        raise DataError(
            f"looks == {list(looks)}: day(s) {', '.join(map(repr, out))} are outside the data; "
            f"time column {time_col!r} runs from {first!r} to {last!r}"
        )
    return arr
