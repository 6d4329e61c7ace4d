"""Reading tables: CSV, TSV, whitespace text, Parquet, and simulator run folders.

Text files are read as text: every column is a string until the schema converts the ones it
needs (amounts, times, features), so ids such as CDNOW's ``00001`` stay ``00001`` and ``01`` and
``1`` are two customers. Duplicate column names are refused, and a compressed file that
inflates past :func:`lifesim._limits.decompressed_limit` is refused before it is parsed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from lifesim._limits import too_much_decompressed
from lifesim.errors import DataError, LimitError

__all__ = ["read_table", "as_frame", "run_folder", "simulation_parts"]


def read_table(path: str | os.PathLike, *, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV, TSV, whitespace-separated text or Parquet file.

    Parameters
    ----------
    path : path-like
        ``.parquet``/``.pq`` are read as Parquet; ``.tsv`` as tab-separated; ``.txt``/``.dat``
        as whitespace-separated; anything else as CSV.
    sep : str, optional
        Field separator (overrides the guess from the suffix).

    Returns
    -------
    DataFrame
        Text files: every column as strings (missing values as NaN); Parquet: as stored.

    Raises
    ------
    DataError
        If the file cannot be parsed, or two columns share a name.
    LimitError
        If a compressed file inflates past the decompression limit.
    FileNotFoundError
        If it does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a CSV, TSV, text or Parquet file")
    suffix = path.suffix.lower()
    if problem := too_much_decompressed(path):
        raise LimitError(problem)
    inner = Path(path.stem).suffix.lower() if suffix in (".gz", ".bz2", ".xz", ".zip") else suffix
    try:
        if suffix in (".parquet", ".pq") and sep is None:
            import pyarrow.parquet as pq

            _check_unique(pq.read_schema(path).names, f"file {path}")
            return pd.read_parquet(path)
        if sep is None:
            sep = {".tsv": "\t", ".txt": r"\s+", ".dat": r"\s+"}.get(inner, ",")
        header = pd.read_csv(path, sep=sep, nrows=1, header=None, dtype=str, keep_default_na=False)
        names = [str(v) for v in header.iloc[0].tolist()] if len(header) else []
        _check_unique(names, f"file {path}")
        return pd.read_csv(path, sep=sep, dtype=str, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"file {path} is empty: expected a header row and one row a record"
        ) from None
    except (ValueError, OSError, EOFError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read {path} as {suffix.lstrip('.') or 'CSV'}: {exc}") from None


def _check_unique(names: list[str], where: str) -> None:
    counts = pd.Series(names, dtype=object).value_counts(sort=False)
    dups = counts.index[counts.to_numpy() > 1].tolist()
    if dups:
        raise DataError(
            f"{where} has duplicate column names ({', '.join(map(repr, dups))}); every "
            "column must have its own name: rename or remove the copies"
        )


# ------------------------------------------------------------------------------- normalising
def _as_frame(data: pd.DataFrame | str | os.PathLike, sep: str | None) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    return read_table(data, sep=sep)


def as_frame(data: pd.DataFrame | str | os.PathLike, sep: str | None = None) -> pd.DataFrame:
    """Return ``data`` if it is a DataFrame, else read it with :func:`read_table`."""
    if isinstance(data, pd.DataFrame):
        _check_unique([str(c) for c in data.columns], "the DataFrame")
        return data
    return read_table(data, sep=sep)


def run_folder(path: object) -> tuple[Path, Path | None, int | None] | None:
    """Recognise a simulator run folder (``purchases.parquet`` inside a directory).

    Returns
    -------
    tuple or None
        ``(purchases, events or None, days or None)`` paths and horizon, or ``None`` when
        ``path`` is not such a folder.
    """
    if isinstance(path, pd.DataFrame) or not isinstance(path, str | os.PathLike):
        return None
    p = Path(path)
    if not p.is_dir():
        return None
    purchases = p / "purchases.parquet"
    if not purchases.exists():
        raise DataError(
            f"{p} is a folder but not a simulator run folder (no purchases.parquet); "
            "give a CSV/Parquet file or a `lifesim simulate --out` folder"
        )
    events = p / "events.parquet"
    days = None
    manifest = p / "manifest.json"
    if manifest.exists():
        days = json.loads(manifest.read_text(encoding="utf-8")).get("days")
    return purchases, events if events.exists() else None, days


def simulation_parts(obj: object) -> tuple[pd.DataFrame, pd.DataFrame | None, int | None] | None:
    """Recognise a simulation result by its attributes (no import of the simulator).

    Returns
    -------
    tuple or None
        ``(purchases, events, days)`` when ``obj`` has a ``purchases`` DataFrame, else ``None``.
    """
    purchases = getattr(obj, "purchases", None)
    if isinstance(obj, pd.DataFrame) or not isinstance(purchases, pd.DataFrame):
        return None
    events = getattr(obj, "events", None)
    days = getattr(obj, "days", None)
    return (
        purchases,
        events if isinstance(events, pd.DataFrame) else None,
        int(days) if days is not None else None,
    )
