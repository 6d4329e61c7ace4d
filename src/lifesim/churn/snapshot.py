"""Snapshot mode: one row per customer, feature columns and a churn label (telecom tables).

The common public churn tables (e.g. the Telco Customer Churn table: ``customerID``, ``tenure``,
``Contract``, ``MonthlyCharges``, ``TotalCharges``, ..., ``Churn`` = Yes/No) are already
features + label. :func:`read_snapshot` turns such a table into a :class:`ChurnDataset`:

- the id column becomes the index (it must be unique);
- the label becomes 0/1: booleans, 0/1 numbers, or Yes/No, True/False, Churned/Stayed
  (any case); other values need ``positive`` (the value that means churned);
- text columns whose non-blank values are all numbers become numbers (blank -> missing, as
  in ``TotalCharges``); other text columns become categorical features.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from lifesim.churn.features import ChurnDataset, FeatureSpec
from lifesim.churn.io import read_table
from lifesim.churn.schema import _examples
from lifesim.errors import DataError

__all__ = ["read_snapshot", "snapshot_features"]

_POSITIVE = {"1", "yes", "y", "true", "t", "churn", "churned"}
_NEGATIVE = {"0", "no", "n", "false", "f", "stay", "stayed", "retained", "active"}


def _label(s: pd.Series, col: str, positive: Any) -> np.ndarray:
    if s.isna().any():
        raise DataError(
            f"label column {col!r}: {int(s.isna().sum())} missing value(s); every row needs a label"
        )
    if positive is not None:
        vals = s.astype(str).str.strip()
        if not (vals == str(positive)).any():
            raise DataError(
                f"--positive == {positive!r} never occurs in label column {col!r} "
                f"(values: {_examples(vals)})"
            )
        return (vals == str(positive)).to_numpy().astype(np.int8)
    low = s.astype(str).str.strip().str.lower()
    low = low.str.replace(r"\.0$", "", regex=True)
    pos, neg = low.isin(_POSITIVE), low.isin(_NEGATIVE)
    if not (pos | neg).all():
        raise DataError(
            f"label column {col!r}: cannot tell churned from stayed for value(s) "
            f"{_examples(s[~(pos | neg)])}; allowed: 0/1, true/false, yes/no (any case), or "
            "name the churn value with --positive"
        )
    return pos.to_numpy().astype(np.int8)


def snapshot_features(df: pd.DataFrame, drop: list[str] | None = None) -> pd.DataFrame:
    """Coerce a snapshot's feature columns: numeric text -> numbers, other text -> category.

    Parameters
    ----------
    df : DataFrame
        Feature columns (id and label removed).
    drop : list of str, optional
        Columns to leave out.

    Returns
    -------
    DataFrame
    """
    out = {}
    for c in df.columns:
        if drop and c in drop:
            continue
        s = df[c]
        if pd.api.types.is_bool_dtype(s.dtype):
            out[c] = s.astype("category")
        elif pd.api.types.is_numeric_dtype(s.dtype):
            out[c] = s.astype(np.float64)
        else:
            txt = s.astype("string").str.strip()
            blank = txt.isna() | (txt == "")
            num = pd.to_numeric(txt.where(~blank), errors="coerce")
            if (num.notna() | blank).all() and num.notna().any():
                out[c] = num.astype(np.float64)
            else:
                out[c] = txt.where(~blank).astype(object).astype("category")
    return pd.DataFrame(out, index=df.index)


def read_snapshot(
    data: pd.DataFrame | str | os.PathLike,
    *,
    label: str | None,
    id: str | None = None,
    positive: Any = None,
    sep: str | None = None,
) -> ChurnDataset:
    """Read a one-row-per-customer table with a churn label (or without, for scoring).

    Parameters
    ----------
    data : DataFrame or path
        CSV/Parquet/... (see :func:`lifesim.churn.read_table`).
    label : str or None
        Label column (``None``: an unlabelled table to score).
    id : str, optional
        Customer id column (unique); default: the row number.
    positive : optional
        Label value meaning churned (default: inferred from yes/no, true/false, 0/1).
    sep : str, optional
        Field separator of text files.

    Returns
    -------
    ChurnDataset
        ``definition`` is ``None``: the table's own label defines churn.

    Raises
    ------
    DataError
        Missing or duplicated ids, a missing label column, labels that are not two classes.
    """
    df = data if isinstance(data, pd.DataFrame) else read_table(data, sep=sep)
    cols = [str(c) for c in df.columns]
    for name, opt in ((label, "--label"), (id, "--id")):
        if name is not None and name not in cols:
            raise DataError(
                f"{opt} {name!r}: no such column; columns are: {', '.join(map(repr, cols[:30]))}"
            )
    if len(df) == 0:
        raise DataError("snapshot: the table is empty (no rows)")
    if id is not None:
        dup = df[id].duplicated(keep=False)
        if dup.any():
            raise DataError(
                f"--id {id!r}: {int(dup.sum())} row(s) share an id "
                f"(e.g. {_examples(df[id][dup])}); a snapshot has one row per customer"
            )
        if df[id].isna().any():
            raise DataError(f"--id {id!r}: {int(df[id].isna().sum())} missing id(s)")
        index = pd.Index(df[id], name=id)
    else:
        index = pd.RangeIndex(len(df), name="row")
    drop = [c for c in (label, id) if c is not None]
    X = snapshot_features(df.drop(columns=drop)).set_axis(index, axis=0)
    if X.shape[1] == 0:
        raise DataError("snapshot: no feature columns besides the id and the label")
    y = None
    if label is not None:
        y = pd.Series(_label(df[label], label, positive), index=index, name="churned")
    return ChurnDataset(X=X, y=y, definition=None, spec=FeatureSpec(windows=()))  # type: ignore[arg-type]
