"""Time columns of a transaction log: dates in one format, or integer day numbers.

A column is read in one format (``--time-format``, ISO 8601, or the format of its first
value); rows that do not match are an error naming them, as are dates outside 1678-2261 and
day numbers beyond +-100 million.

An integer column whose values are *all* valid YYYYMMDD dates from 1900-01-01 to 2100-12-31
(e.g. ``19970930``) is read as dates, whatever the cutoff: day numbers that all happen to
look like dates do not occur in practice (a run of consecutive day numbers over more than a
month always holds a non-date such as ``19970132``). Integer day numbers otherwise. Set
``--time-format`` to decide explicitly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifesim.errors import DataError

_SHOW = 5  # examples of bad values shown in an error message
_FIRST_DATE, _LAST_DATE = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31")
_MAX_DAY = 100_000_000  # largest |day number|


def _examples(values: object, n: int = _SHOW) -> str:
    vals = [v.item() if hasattr(v, "item") else v for v in pd.unique(pd.Series(values))[:n]]
    return ", ".join(format(v, ".6g") if isinstance(v, float) else repr(v) for v in vals)


def _bad_rows(raw: pd.Series, bad: np.ndarray) -> str:
    rows = np.flatnonzero(bad)
    shown = ", ".join(f"row {int(r)}: {raw.iloc[r]!r}" for r in rows[:_SHOW])
    return shown + (f" (and {rows.size - _SHOW} more)" if rows.size > _SHOW else "")


def _parse_dates(
    raw: pd.Series, fmt: str | None, col: str, why: str = "(--time-format)"
) -> pd.Series:
    """Parse dates in one format: ``fmt``, ISO 8601, or the format of the first value.

    Rows that do not match that one format are an error naming them: a column whose dates
    switch from ISO to day/month/year part-way would otherwise be read with day and month
    swapped for some rows.
    """
    import warnings

    from pandas.tseries.api import guess_datetime_format

    text = raw.astype(str).str.strip().where(raw.notna())
    given = raw.notna().to_numpy()
    if fmt is not None:
        try:
            ts = _naive(pd.to_datetime(text, format=fmt, errors="coerce"))
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"--time-format {fmt!r}: not a usable date format ({exc}); allowed: strftime "
                "codes such as %Y-%m-%d or %d/%m/%Y"
            ) from None
        how = f"the format {fmt!r} {why}"
    else:
        try:
            ts = _naive(pd.to_datetime(text, format="ISO8601", errors="coerce", utc=False))
            how = "ISO 8601 format (YYYY-MM-DD)"
        except (ValueError, TypeError):
            ts = pd.Series(pd.NaT, index=raw.index)
        if (ts.isna().to_numpy() & given).any():
            first = text.dropna().iloc[0] if given.any() else ""
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                guess = guess_datetime_format(first)
            if guess is not None:
                try:
                    ts = _naive(pd.to_datetime(text, format=guess, errors="coerce"))
                except (ValueError, TypeError):
                    guess = None
            if guess is None:
                ts = pd.Series(pd.NaT, index=raw.index)
                how = f"any known format (first value {first!r})"
            else:
                how = f"the format {guess!r} of the first value {first!r}"
    bad = ts.isna().to_numpy() & given
    far = ((ts < _FIRST_DATE) | (ts > _LAST_DATE)).to_numpy(bool)
    if far.any():
        raise DataError(
            f"time column {col!r}: {int(far.sum())} date(s) out of range ({_bad_rows(raw, far)}); "
            f"allowed: dates from {_FIRST_DATE.date()} to {_LAST_DATE.date()}"
        )
    if bad.any():
        raise DataError(
            f"time column {col!r}: {int(bad.sum())} value(s) are not dates in {how} "
            f"({_bad_rows(raw, bad)}); dates in one column must share one format: fix "
            "those rows or set --time-format"
        )
    return ts


def _naive(ts: pd.Series) -> pd.Series:
    """Drop a time zone, keeping local wall-clock time (dates are local calendar days)."""
    if getattr(ts.dtype, "tz", None) is not None:
        return ts.dt.tz_localize(None)
    return ts


def _to_days(s: pd.Series, col: str, fmt: str | None, hint_date: bool) -> tuple[np.ndarray, str]:
    """Convert a time column to int64 day numbers; return them and the kind of time."""
    if s.isna().any():
        bad = np.flatnonzero(s.isna().to_numpy())[:_SHOW]
        raise DataError(
            f"time column {col!r}: {int(s.isna().sum())} missing value(s) (rows "
            f"{', '.join(map(str, bad))}); every transaction needs a time"
        )
    if fmt is None and not (
        pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype)
    ):
        s = _numbers_from_text(s)
    if fmt is None and pd.api.types.is_integer_dtype(s.dtype):
        v = s.to_numpy(np.int64)
        if np.abs(v).max() > _MAX_DAY:
            far = np.abs(v) > _MAX_DAY
            raise DataError(
                f"time column {col!r}: integer day numbers out of range "
                f"({_bad_rows(s, far)}); allowed: -{_MAX_DAY:,} to {_MAX_DAY:,}"
            )
        yyyymmdd = (v.min() >= 1900_01_01) & (v.max() <= 2100_12_31)
        if not yyyymmdd or not (hint_date or _all_yyyymmdd(v)):
            return v, "day"
        why = "(YYYYMMDD integers, with a cutoff given as a date)"
        return _dates_to_days(_parse_dates(s.astype(str), "%Y%m%d", col, why)), "date"
    if fmt is None and pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy()
        if np.all(v == np.round(v)):
            return v.astype(np.int64), "day"
        raise DataError(
            f"time column {col!r}: non-integer numbers (e.g. {_examples(v[v != np.round(v)])}); "
            "allowed: dates/datetimes or integer day numbers"
        )
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        ts = s.dt.tz_localize(None)
    elif pd.api.types.is_datetime64_any_dtype(s.dtype):
        ts = s
    else:
        ts = _parse_dates(s, fmt, col)
    return _dates_to_days(ts), "date"


def _dates_to_days(ts: pd.Series) -> np.ndarray:
    return ts.to_numpy("datetime64[D]").astype(np.int64)


def _all_yyyymmdd(v: np.ndarray) -> bool:
    """Whether every integer in ``v`` is a valid calendar date written as YYYYMMDD."""
    u = np.unique(v)
    y, md = np.divmod(u, 10_000)
    m, d = np.divmod(md, 100)
    if ((m < 1) | (m > 12) | (d < 1) | (d > 31)).any():
        return False
    start = (y - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (m - 1)
    first = start.astype("datetime64[D]")
    length = ((start + 1).astype("datetime64[D]") - first).astype(np.int64)
    return bool((d <= length).all())


def yyyymmdd_day(value: object) -> int | None:
    """Return the day number of an 8-digit YYYYMMDD integer (or digit string), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) == 8:
        value = int(value.strip())
    if not isinstance(value, int | np.integer) or not 1900_01_01 <= int(value) <= 2100_12_31:
        return None
    v = np.array([int(value)], np.int64)
    if not _all_yyyymmdd(v):
        return None
    ts = pd.Timestamp(f"{int(value):08d}")
    return int((ts - pd.Timestamp(0)) // pd.Timedelta(days=1))


def _numbers_from_text(s: pd.Series) -> pd.Series:
    """Return text that is all numbers as numbers (integers when whole), else unchanged."""
    num = pd.to_numeric(s.astype(str).str.strip(), errors="coerce")
    if not num.notna().all():
        return s
    v = num.to_numpy(np.float64)
    if np.all(v == np.round(v)) and np.all(np.abs(v) < 2**53):
        return pd.Series(v.astype(np.int64), index=s.index, name=s.name)
    return num
