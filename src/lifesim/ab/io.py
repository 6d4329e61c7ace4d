"""Read an experiment export (path, pandas or polars) into NumPy columns, refusing bad data.

Every refusal is a :class:`lifesim.errors.DataError` that names the column, shows a few bad
values with their row (rows counted from 0, the first data row) and says what is allowed.

Label and id columns (``text``) are read as text, never as numbers (arms ``0`` and ``00`` stay
two arms) and stripped of surrounding white space; duplicate column names are refused; a
compressed file that inflates past :func:`lifesim._limits.decompressed_limit` is refused
before it is parsed. Outcome columns may hold ``true``/``false`` or ``yes``/``no`` (any case),
read as 1/0 as ``lifesim churn`` reads a label.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lifesim._limits import too_much_decompressed
from lifesim.errors import DataError, LimitError

__all__ = ["Frame", "as_frame"]

_MAX_EXAMPLES = 5
#: Words read as 1 and 0 in a numeric column (any case, surrounding white space ignored).
TRUE_WORDS = frozenset({"true", "yes", "t", "y"})
FALSE_WORDS = frozenset({"false", "no", "f", "n"})
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")


def _examples(rows: np.ndarray, values: Sequence[Any]) -> str:
    shown = [f"row {int(r)}: {v!r}" for r, v in zip(rows[:_MAX_EXAMPLES], values, strict=False)]
    more = f" (and {len(rows) - _MAX_EXAMPLES} more)" if len(rows) > _MAX_EXAMPLES else ""
    return ", ".join(shown) + more


def _rows(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_EXAMPLES])
    more = f" and {len(rows) - _MAX_EXAMPLES} more" if len(rows) > _MAX_EXAMPLES else ""
    return ("row " if len(rows) == 1 else "rows ") + shown + more


def _is_polars(obj: Any) -> bool:
    mod = type(obj).__module__
    return mod.startswith("polars") and type(obj).__name__ in ("DataFrame", "LazyFrame")


def _csv_header(path: Path, sep: str) -> list[str]:
    """Return the raw header row of a (compressed) text file, names not de-duplicated."""
    first = pd.read_csv(path, sep=sep, nrows=1, header=None, dtype=str, keep_default_na=False)
    return [str(v) for v in first.iloc[0].tolist()]


def _check_unique(names: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    dups = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
    if dups:
        raise DataError(
            f"{where} has duplicate column names ({', '.join(map(repr, dict.fromkeys(dups)))}); "
            "every column must have its own name: rename or remove the copies"
        )


def _read_file(path: Path, wanted: Sequence[str], text: Sequence[str]) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"file {path} is empty: expected a header row and one row per unit")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
            raise DataError(f"cannot read {path} as Parquet: {exc}") from exc
        _check_unique(names, f"file {path}")
        _check_columns(names, wanted, str(path))
        return pd.read_parquet(path, columns=list(dict.fromkeys(wanted)))
    if suffix not in (".csv", ".tsv", ".txt", *_COMPRESSED):
        raise DataError(f"file {path}: unknown type {suffix!r}; allowed: .csv, .tsv, .parquet")
    if suffix in _COMPRESSED and (problem := too_much_decompressed(path)):
        raise LimitError(problem)
    sep = "\t" if suffix == ".tsv" or path.name.lower().endswith(".tsv" + suffix) else ","
    try:
        header = _csv_header(path, sep)
    except pd.errors.EmptyDataError as exc:
        msg = f"file {path} is empty: expected a header row and one row per unit"
        raise DataError(msg) from exc
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError) as exc:
        raise DataError(f"cannot read {path} as {suffix.lstrip('.')}: {exc}") from None
    _check_unique(header, f"file {path}")
    _check_columns(header, wanted, str(path))
    cols = list(dict.fromkeys(wanted))
    dtype = {c: "string[pyarrow]" for c in dict.fromkeys(text)}
    try:
        return pd.read_csv(path, sep=sep, usecols=cols, dtype=dtype, engine="pyarrow")
    except Exception:  # noqa: BLE001 - fall back to the C parser, which reports better
        try:
            return pd.read_csv(path, sep=sep, usecols=cols, dtype=dtype)
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError) as exc:
            raise DataError(f"cannot read {path} as {suffix.lstrip('.')}: {exc}") from None


def _text_columns(data: Any, names: Sequence[str], is_polars: bool) -> tuple[str, ...]:
    """Return the columns among ``names`` whose values are text (stripped when read)."""
    if is_polars:
        import polars as pl

        return tuple(c for c in dict.fromkeys(names) if data[c].dtype == pl.String)
    return tuple(
        c
        for c in dict.fromkeys(names)
        if pd.api.types.is_string_dtype(data[c].dtype) or data[c].dtype == object
    )


def _strip_text(data: Any, names: Sequence[str], is_polars: bool) -> Any:
    """Strip white space around the values of text columns (labels ' B ' and 'B' are one)."""
    if is_polars:
        import polars as pl

        todo = _text_columns(data, names, True)
        return data.with_columns(pl.col(c).str.strip_chars() for c in todo) if todo else data
    todo = _text_columns(data, names, False)
    if not todo:
        return data
    out = data.copy(deep=False)
    for c in todo:
        out[c] = strip_values(out[c])
    return out


def strip_values(col: Any) -> Any:
    """Strip white space around the text values of a pandas or polars Series, as columns are.

    Used on whole columns and on the few distinct labels of a column, so both agree on which
    characters are white space.
    """
    if type(col).__module__.startswith("polars"):
        return col.str.strip_chars()
    if col.dtype != object:
        return col.str.strip()
    return col.map(lambda v: v.strip() if isinstance(v, str) else v)


def merge_stripped(
    codes: np.ndarray, labels: list[str], stripped: list[str]
) -> tuple[np.ndarray, list[str]]:
    """Codes and labels after stripping the labels: labels that strip alike become one.

    Parameters
    ----------
    codes : ndarray of int
        Index into ``labels`` of every row.
    labels, stripped : list of str
        The distinct labels and the same labels stripped of surrounding white space.
    """
    if stripped == labels:
        return codes, labels
    merged = list(dict.fromkeys(stripped))
    lut = np.array([merged.index(s) for s in stripped], dtype=np.int64)
    return lut[codes], merged


def _check_columns(names: Sequence[str], wanted: Sequence[str], where: str) -> None:
    missing = [c for c in dict.fromkeys(wanted) if c not in names]
    if missing:
        have = ", ".join(map(repr, list(names)[:30]))
        raise DataError(
            f"column {missing[0]!r} is not in {where}"
            + (f" (also missing: {', '.join(map(repr, missing[1:]))})" if missing[1:] else "")
            + f"; columns present: {have}"
        )


@dataclass
class Frame:
    """A table of units behind one interface for pandas and polars (internal).

    The values of the ``text`` columns are read stripped of surrounding white space. Stripping
    every row is slow (as slow as a whole A/B analysis of 10M rows), so it is done only when
    asked for: :attr:`data` is the stripped table (built on first use), :meth:`factorize`
    strips only the distinct labels, and :attr:`raw` is the table as given, for the polars
    aggregation, which strips the labels of its per-arm rows itself.
    """

    raw: Any
    is_polars: bool
    where: str
    text: tuple[str, ...] = ()
    _data: Any = field(default=None, repr=False)
    _stripped: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def data(self) -> Any:
        """The table with the ``text`` columns stripped of surrounding white space."""
        if self._data is None:
            self._data = _strip_text(self.raw, self.text, self.is_polars)
        return self._data

    def column(self, name: str) -> Any:
        """Return a column, stripped if it is text (each text column is stripped once)."""
        if name not in self.text:
            return self.raw[name]
        if name not in self._stripped:
            self._stripped[name] = strip_values(self.raw[name])
        return self._stripped[name]

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.raw.height if self.is_polars else len(self.raw))

    @property
    def names(self) -> list[str]:
        """Column names."""
        return [str(c) for c in self.raw.columns]

    def check(self, wanted: Sequence[str]) -> None:
        """Raise DataError if a column is missing or the table has no rows."""
        _check_columns(self.names, wanted, self.where)
        if self.n_rows == 0:
            raise DataError(f"{self.where} has no rows: expected one row per unit")

    def factorize(self, name: str) -> tuple[np.ndarray, list[str]]:
        """Integer codes (0..k-1) and string labels of a column; refuse missing values."""
        if self.is_polars:
            import polars as pl

            s = self.raw[name]
            nulls = s.is_null().to_numpy()
            if s.dtype not in (pl.String, pl.Categorical):
                s = s.cast(pl.String)
            cat = s.cast(pl.Categorical)
            uniq = cat.drop_nulls().unique()
            phys = uniq.to_physical().to_numpy()
            labels = uniq.cast(pl.String).to_list()
            raw = cat.to_physical().fill_null(0).to_numpy()
            lut = np.zeros(int(phys.max()) + 1 if phys.size else 1, dtype=np.int64)
            lut[phys] = np.arange(phys.size)
            codes = lut[raw]
        else:
            s = self.raw[name]
            if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
                import pyarrow as pa  # arrow strings: encode without copying to objects

                enc = pa.array(s).dictionary_encode()
                enc = enc.combine_chunks() if isinstance(enc, pa.ChunkedArray) else enc
                labels = [str(u) for u in enc.dictionary.to_pylist()]
                codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            else:
                codes, uniques = pd.factorize(s, use_na_sentinel=True)
                labels = [str(u) for u in uniques]
            nulls = codes < 0
        if nulls.any():
            rows = np.flatnonzero(nulls)
            raise DataError(
                f"arm column {name!r} has {rows.size} missing values ({_rows(rows)}); every "
                "unit must have an arm: fix or remove those rows"
            )
        codes = np.asarray(codes)
        if name in self.text:  # strip the few distinct labels, not every row
            if self.is_polars:
                import polars as pl

                few = pl.Series(labels, dtype=pl.String)
            else:
                few = pd.Series(labels, dtype=s.dtype if s.dtype != object else object)
            codes, labels = merge_stripped(codes, labels, strip_values(few).to_list())
        return codes, labels

    def dtype_kind(self, name: str) -> str:
        """NumPy kind of a column: 'b' boolean, 'i'/'u' integer, 'f' float, 'O' other."""
        if self.is_polars:
            dt = self.column(name).dtype
            if dt.is_integer():
                return "i"
            return "b" if str(dt) == "Boolean" else ("f" if dt.is_float() else "O")
        dt = self.column(name).dtype
        if pd.api.types.is_bool_dtype(dt):
            return "b"
        if pd.api.types.is_integer_dtype(dt):
            return "i"
        return "f" if pd.api.types.is_float_dtype(dt) else "O"

    def duplicated(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """Rows whose value repeats an earlier row's, and those values."""
        if self.is_polars:
            s = self.column(name)
            dup = s.is_duplicated().to_numpy() & ~s.is_first_distinct().to_numpy()
            rows = np.flatnonzero(dup)
            vals = s.gather(rows[:_MAX_EXAMPLES]).to_list()
        else:
            s = self.column(name)
            dup = s.duplicated(keep="first").to_numpy()
            rows = np.flatnonzero(dup)
            vals = s.iloc[rows[:_MAX_EXAMPLES]].tolist()
        return rows, vals

    def numeric(self, name: str, what: str) -> np.ndarray:
        """Return a column as float64 (missing values as NaN); refuse text that is not a number.

        Parameters
        ----------
        name : str
            Column name.
        what : str
            Its role, for messages (``"mean metric"``).
        """
        if self.is_polars:
            import polars as pl

            s = self.column(name)
            if s.dtype.is_numeric() or s.dtype == pl.Boolean:
                x = s.cast(pl.Float64).to_numpy()
            else:
                s = pl.from_pandas(_bool_words(s.to_pandas()))
                conv = s.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
                bad = (s.is_not_null() & conv.is_null()).to_numpy()
                if bad.any():
                    rows = np.flatnonzero(bad)
                    vals = s.gather(rows[:_MAX_EXAMPLES]).to_list()
                    self._not_numeric(name, what, rows, vals)
                x = conv.to_numpy()
        else:
            s = self.column(name)
            if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
                x = s.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                s = _bool_words(s)
                conv = pd.to_numeric(s, errors="coerce")
                bad = (s.notna() & conv.isna()).to_numpy()
                if bad.any():
                    rows = np.flatnonzero(bad)
                    self._not_numeric(name, what, rows, s.iloc[rows[:_MAX_EXAMPLES]].tolist())
                x = conv.to_numpy(dtype=np.float64, na_value=np.nan)
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore"):
            total = float(x.sum())
        inf = None if math.isfinite(total) else np.isinf(x)  # fast path: one sum
        if inf is not None and inf.any():
            rows = np.flatnonzero(inf)
            raise DataError(
                f"column {name!r} ({what}) has {rows.size} infinite values "
                f"({_examples(rows, x[rows[:_MAX_EXAMPLES]].tolist())}); only finite numbers "
                "are allowed"
            )
        if not math.isfinite(total) or not math.isfinite(total * total):
            # sums or squares overflow: 1e308s gave a mean of inf and NaN effects, exit 0
            big = np.abs(x) > MAX_ABS_VALUE
            if big.any():
                rows = np.flatnonzero(big)
                raise DataError(
                    f"column {name!r} ({what}) has {rows.size} values too large to sum and "
                    f"square ({_examples(rows, x[rows[:_MAX_EXAMPLES]].tolist())}); allowed: "
                    f"numbers of size at most {MAX_ABS_VALUE:g}"
                )
        return x

    @staticmethod
    def _not_numeric(name: str, what: str, rows: np.ndarray, vals: list[Any]) -> None:
        raise DataError(
            f"column {name!r} ({what}) has {rows.size} values that are not numbers "
            f"({_examples(rows, vals)}); allowed: numbers, or empty for missing"
        )


#: Largest size of a metric value: sums and squares of many of them stay finite.
MAX_ABS_VALUE = 1e150


def _bool_words(s: pd.Series) -> pd.Series:
    """Map true/false, yes/no (any case) to 1/0 when every non-number value is such a word."""
    low = s.astype("string").str.strip().str.lower()
    words = low.isin(TRUE_WORDS | FALSE_WORDS).fillna(False).to_numpy(bool)
    if not words.any():
        return s
    other = ~words & s.notna().to_numpy()
    if other.any() and pd.to_numeric(s[other], errors="coerce").isna().any():
        return s  # other text too: refused by the caller, naming it
    out = s.astype(object).copy()
    out[words] = np.where(low[words].isin(TRUE_WORDS).to_numpy(bool), "1", "0")
    return out


def as_frame(data: Any, wanted: Sequence[str], text: Sequence[str] = ()) -> Frame:
    """Wrap a path, a pandas or a polars DataFrame; check the wanted columns are there.

    Parameters
    ----------
    data : str, os.PathLike, pandas.DataFrame or polars.DataFrame
        A CSV/TSV/Parquet file (only the wanted columns are read) or a DataFrame.
        A polars LazyFrame is collected (wanted columns only).
    wanted : sequence of str
        Columns that must be present.
    text : sequence of str
        Label and id columns (the arm, the unit): read from files as text, never as numbers,
        and stripped of surrounding white space.

    Returns
    -------
    Frame
        The table.
    """
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        raw = _read_file(path, wanted, text)
        frame = Frame(raw, False, f"file {path}", _text_columns(raw, text, False))
    elif isinstance(data, pd.DataFrame):
        _check_unique([str(c) for c in data.columns], "the DataFrame")
        _check_columns([str(c) for c in data.columns], wanted, "the DataFrame")
        frame = Frame(data, False, "the DataFrame", _text_columns(data, text, False))
    elif _is_polars(data):
        if type(data).__name__ == "LazyFrame":
            _check_columns(data.collect_schema().names(), wanted, "the LazyFrame")
            data = data.select(list(dict.fromkeys(wanted))).collect()
        _check_columns(data.columns, wanted, "the DataFrame")
        frame = Frame(data, True, "the DataFrame", _text_columns(data, text, True))
    else:
        raise DataError(
            f"data of type {type(data).__name__} is not supported; give a CSV/Parquet path, "
            "a pandas DataFrame or a polars DataFrame"
        )
    frame.check(wanted)
    return frame
