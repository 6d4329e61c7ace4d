"""Per-arm sufficient statistics of a polars DataFrame, aggregated by polars itself.

The same moments as :meth:`lifesim.ab.moments.Moments.from_arrays` (shifted sums of values and
cross-products per arm), computed in one multi-threaded query for all metrics together with the
checks of the columns: rows are selected by comparison with the two labels found first (a
``group_by`` only if the column holds more labels). Labels are stripped of white space after
aggregating, so rows are never stripped one by one. A metric whose data has a problem (text,
missing or infinite values, values it does not allow) is left out, and the caller takes the
NumPy path for it, which explains the problem with examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lifesim.ab.io import MAX_ABS_VALUE
from lifesim.ab.metrics import Metric
from lifesim.ab.moments import SHIFT_ROWS, Moments, shift_of

__all__ = ["Aggregated", "aggregate", "is_binary"]


def _kind(df: Any, name: str) -> str:
    dt = df.schema[name]
    if dt.is_integer():
        return "i"
    if dt.is_float():
        return "f"
    return "b" if str(dt) == "Boolean" else "O"


def is_binary(df: Any, name: str) -> bool | None:
    """Whether a numeric column holds only 0/1 (missing allowed); None if not numeric."""
    import polars as pl

    kind = _kind(df, name)
    if kind == "O":
        return None
    if kind == "b":
        return True
    c = pl.col(name).cast(pl.Float64)
    ok = ((c == 0) | (c == 1) | c.is_null() | c.is_nan()).all().alias("ok")
    row = df.select(ok, c.is_not_null().any().alias("any")).row(0)
    return bool(row[0]) and bool(row[1])


class Aggregated:
    """Arm labels, units per arm and per-metric moments from polars (internal).

    Attributes
    ----------
    labels : list of str
        Arm labels in the order of the aggregation.
    counts : ndarray
        Units per arm, same order.
    moments : dict of int to (Moments, int)
        For each metric index computed here: moments (label order) and rows dropped.
    """

    def __init__(self, labels: list[str], counts: np.ndarray) -> None:
        self.labels = labels
        self.counts = counts
        self.moments: dict[int, tuple[Moments, int]] = {}


def _sum_aggs(z: list[Any], prefix: str, binary: bool = False) -> list[tuple[str, Any]]:
    """(name, per-row expression) of every sum needed: values and cross-products."""
    aggs = []
    for i, e in enumerate(z):
        aggs.append((f"{prefix}s{i}", e))
        if binary:  # 0/1 values: the sum of squares is the sum
            continue
        for j in range(i, len(z)):
            aggs.append((f"{prefix}s{i}_{j}", e * z[j]))
    return aggs


#: Rows searched first for the second arm label (the whole column only if they hold one label).
_HEAD_ROWS = 1_000


def _guess_labels(df: Any, arm: str) -> list[str]:
    """Guess the arms of an A/B test: the first row's label and the first different one.

    Vectorised comparisons, no hash table, over the first rows and over the whole column only
    if those hold one label; :func:`aggregate` checks in its main query that no third label
    exists, and falls back to a ``group_by`` if one does.
    """
    import polars as pl

    col = df[arm]
    head = col.head(_HEAD_ROWS)
    differs = head != col[0]
    if differs.any():
        return [col[0], head[int(differs.arg_max())]]
    other = pl.col(arm) != col[0]
    found, at = df.select(other.any().alias("any"), other.arg_max().alias("at")).row(0)
    return [col[0], col[at]] if found else [col[0]]


def _grouped(df: Any, arm: str, sums: list[tuple[str, Any]]) -> Any:
    """Lazy query: one row per arm (hashed) with the arm label, ``n`` and every named sum."""
    import polars as pl

    return (
        df.lazy().group_by(arm).agg(pl.len().alias("n"), *[e.sum().alias(name) for name, e in sums])
    )


def _by_labels(
    df: Any, arm: str, sums: list[tuple[str, Any]], labels: list[str], checks: list[Any]
) -> tuple[Any, dict[str, Any], bool]:
    """Return per-arm sums, the checks and whether other labels exist, in one query.

    Rows are selected by comparison with each label (no hashing), each comparison made once
    and reused for the counts and every sum; rows of other labels are counted out (their
    number is the height less the counts), so the caller must redo the sums if there are any.
    """
    import polars as pl

    masks = [(pl.col(arm) == lab).alias(f"__is{j}") for j, lab in enumerate(labels)]
    exprs = []
    for j in range(len(labels)):
        is_j = pl.col(f"__is{j}")
        exprs.append(is_j.sum().alias(f"n@{j}"))
        exprs += [e.filter(is_j).sum().alias(f"{name}@{j}") for name, e in sums]
    row = df.lazy().with_columns(masks).select(*exprs, *checks).collect().row(0, named=True)
    counts = [int(row[f"n@{j}"]) for j in range(len(labels))]
    cols: dict[str, Any] = {arm: pl.Series(arm, labels, dtype=pl.String), "n": counts}
    for name, _ in sums:
        cols[name] = [row[f"{name}@{j}"] for j in range(len(labels))]
    g = pl.DataFrame(cols)
    chk = {name: row[name] for name in (e.meta.output_name() for e in checks)}
    return g, chk, sum(counts) != df.height


def _strip_labels(g: Any, arm: str) -> Any:
    """Strip the arm labels of per-arm sums, adding up the rows whose labels strip alike.

    The sums of every arm use the same shifts, so the sums of labels ' B' and 'B' add up to
    the sums of arm 'B', as if the column had been stripped before aggregating.
    """
    import polars as pl

    from lifesim.ab.io import strip_values

    g = g.with_columns(strip_values(g[arm]))
    if g[arm].n_unique() == g.height:
        return g
    return g.group_by(arm, maintain_order=True).agg(pl.all().sum())


def _moments_from(g: Any, prefix: str, cols: Sequence[str], shift: np.ndarray) -> Moments:
    k = len(cols)
    s1 = np.column_stack([g[f"{prefix}s{i}"].to_numpy().astype(float) for i in range(k)])
    s2 = np.empty((g.height, k, k))
    for i in range(k):
        for j in range(i, k):
            name = f"{prefix}s{i}_{j}"
            s2[:, i, j] = s2[:, j, i] = g[name].to_numpy().astype(float) if name in g else s1[:, i]
    n = g[f"{prefix}n"].to_numpy().astype(np.int64)
    return Moments._from_shifted(tuple(cols), n, s1, s2, shift)


def aggregate(
    df: Any, arm: str, metrics: Sequence[Metric], dropna: bool, strip: bool = False
) -> Aggregated | None:
    """Aggregate every clean metric in one query over the arm column.

    Returns None if the arm column has missing values (the NumPy path explains them). With
    ``strip``, arm labels are stripped of surrounding white space (labels ' B' and 'B' are one
    arm), after aggregating by the labels as given.
    """
    import polars as pl

    names = list(dict.fromkeys(c for m in metrics for c in m.columns))
    if df[arm].null_count() or arm in names:
        return None
    if df.schema[arm] != pl.String:
        df = df.with_columns(pl.col(arm).cast(pl.String))
    if arm == "n":  # the name of the count column below
        df, arm = df.rename({arm: "__arm"}), "__arm"
    kinds = {c: _kind(df, c) for c in names}
    numeric = [c for c in names if kinds[c] != "O"]
    x = {c: pl.col(c).cast(pl.Float64) for c in numeric}
    # one select: missing / infinite counts, ranges, and shifts from the first 1,000 rows
    checks = _column_checks(numeric, kinds, x)
    head = df.head(SHIFT_ROWS).select([x[c].alias(c) for c in numeric])
    shift = {c: shift_of(head[c].drop_nulls().drop_nans().to_numpy()) for c in numeric}

    def _shift(m: Metric, c: str) -> float:
        return 0.0 if m.binary else shift[c]  # 0/1: sum of squares = sum

    def allowed(c: str, domain: str) -> bool:
        """Whether the checks found only values of ``domain`` in column ``c``."""
        low = chk.get(f"min:{c}") or 0
        if domain == "binary":
            return not chk.get(f"nonbin:{c}") and low >= 0 and (chk.get(f"max:{c}") or 0) <= 1
        return domain != "nonnegative" or (not chk.get(f"neg:{c}") and low >= 0)

    def ok(m: Metric) -> tuple[bool, bool]:
        """(usable here, has missing values)."""
        if any(kinds[c] == "O" or chk.get(f"inf:{c}") for c in m.columns):
            return False, False
        if not all(allowed(c, m.domain(j)) for j, c in enumerate(m.columns)):
            return False, False
        missing = any(chk[f"miss:{c}"] for c in m.columns)
        return not (missing and not dropna), missing

    # the checks and the sums (optimistic: as if the data were clean) run in parallel
    aggs: list[tuple[str, Any]] = []
    for i, m in enumerate(metrics):
        if any(kinds[c] == "O" for c in m.columns):
            continue
        z = [x[c] - sh if (sh := _shift(m, c)) else x[c] for c in m.columns]
        if m.binary:  # exact integer counts, no float cast
            z = [
                e if kinds[c] == "f" else pl.col(c).cast(pl.Int64)
                for c, e in zip(m.columns, z, strict=True)
            ]
        aggs += _sum_aggs(z, f"m{i}:", binary=m.binary)
    if df.height:  # one query: the per-arm sums of the first two labels and the checks
        g, chk, more_arms = _by_labels(df, arm, aggs, _guess_labels(df, arm), checks)
        if more_arms:  # more than two labels: hash them
            g = _grouped(df, arm, aggs).collect()
    else:
        queries = [_grouped(df, arm, aggs)] + ([df.lazy().select(checks)] if checks else [])
        results = pl.collect_all(queries)
        g, chk = results[0], results[1].row(0, named=True) if checks else {}
    if strip:  # labels ' B' and 'B' are one arm: strip the few labels, not every row
        g = _strip_labels(g, arm)
    plain, filtered = [], []
    for i, m in enumerate(metrics):
        usable, missing = ok(m)
        if usable:
            (filtered if missing else plain).append(i)
    out = Aggregated(g[arm].to_list(), g["n"].to_numpy().astype(np.int64))
    order = {lab: r for r, lab in enumerate(out.labels)}
    for i in plain:
        m = metrics[i]
        sh = np.array([_shift(m, c) for c in m.columns])
        g2 = g.with_columns(pl.col("n").alias(f"m{i}:n"))
        out.moments[i] = (_moments_from(g2, f"m{i}:", m.columns, sh), 0)
    for i in filtered:
        m = metrics[i]
        shifts = [_shift(m, c) for c in m.columns]
        got = _complete_rows_moments(df, arm, m, x, shifts, order, strip)
        if got is not None:  # None: an arm lost every row, the NumPy path explains
            out.moments[i] = got
    return out


def _column_checks(numeric: Sequence[str], kinds: dict[str, str], x: dict[str, Any]) -> list[Any]:
    """Return expressions counting missing, infinite, non-0/1 and negative values (or ranges).

    Float columns get counts; integer and boolean columns get cheap null counts and the
    min/max on their native type.
    """
    import polars as pl

    checks = []
    for c in numeric:
        if kinds[c] == "f":
            checks += [
                (x[c].is_null() | x[c].is_nan()).sum().alias(f"miss:{c}"),
                # too large to sum and square counts as infinite: the NumPy path explains
                (x[c].abs() > MAX_ABS_VALUE).sum().alias(f"inf:{c}"),
                ((x[c] != 0) & (x[c] != 1) & x[c].is_not_nan()).sum().alias(f"nonbin:{c}"),
                (x[c] < 0).sum().alias(f"neg:{c}"),
            ]
        else:  # integers and booleans: cheap range checks on the native type
            checks += [
                pl.col(c).null_count().alias(f"miss:{c}"),
                pl.col(c).min().cast(pl.Float64).alias(f"min:{c}"),
                pl.col(c).max().cast(pl.Float64).alias(f"max:{c}"),
            ]
    return checks


def _complete_rows_moments(
    df: Any,
    arm: str,
    m: Metric,
    x: dict[str, Any],
    shifts: list[float],
    order: dict[str, int],
    strip: bool,
) -> tuple[Moments, int] | None:
    """Return a metric's moments over the rows where all its columns are present.

    The moments come in the order of ``order`` (label -> row), with the number of rows
    dropped; ``None`` when an arm has no complete row left.
    """
    import polars as pl

    missing = pl.any_horizontal([x[c].is_null() | x[c].is_nan() for c in m.columns])
    z = [x[c] - sh if sh else x[c] for c, sh in zip(m.columns, shifts, strict=True)]
    sub = df.filter(~missing)
    gf = _grouped(sub, arm, _sum_aggs(z, "", binary=m.binary)).collect()
    if strip:
        gf = _strip_labels(gf, arm)
    if gf.height != len(order):
        return None
    inv = np.argsort([order[lab] for lab in gf[arm].to_list()])
    mom = _moments_from(gf, "", m.columns, np.array(shifts))
    return mom.select(inv), int(df.height - sub.height)
