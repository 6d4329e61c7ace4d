"""Per-arm sufficient statistics: counts, means and centred cross-products of a few columns.

Every statistic of :mod:`lifesim.ab` is a function of these moments, so the raw rows are read
once, big files can be aggregated in chunks (``Moments.__add__``), and pre-aggregated sums
(``COUNT``, ``SUM(y)``, ``SUM(y*x)`` from SQL) give the same numbers
(:meth:`Moments.from_sums`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Moments", "shift_of"]

_MASK_ARMS = 4  # up to this many arms, dot products with masks beat np.bincount
#: Rows of a column looked at to choose its shift.
SHIFT_ROWS = 1000


def shift_of(head: np.ndarray) -> float:
    """Constant subtracted from a column before summing (the "shifted data" algorithm).

    Both back-ends (NumPy and polars) use this rule, so they give the same numbers.

    Parameters
    ----------
    head : ndarray
        The first :data:`SHIFT_ROWS` non-missing values of the column.

    Returns
    -------
    float
        The mean of ``head`` if it is large relative to its spread (``mean^2 > 16 var``),
        else 0: ``sum(y y) - sum(y)^2 / n`` then does not cancel catastrophically.

    Examples
    --------
    >>> import numpy as np
    >>> shift_of(np.array([1e6 + 1, 1e6 - 1]))
    1000000.0
    >>> shift_of(np.array([0.0, 1.0, 2.0]))
    0.0
    """
    if not head.size:
        return 0.0
    m = float(np.mean(head))
    return m if m * m > 16.0 * float(np.var(head)) + 1e-300 else 0.0


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of ``k`` columns in each of ``g`` arms.

    Attributes
    ----------
    columns : tuple of str
        Names of the ``k`` columns.
    n : ndarray of int64, shape (g,)
        Units per arm.
    mean : ndarray, shape (g, k)
        Column means per arm (NaN for an empty arm).
    comoment : ndarray, shape (g, k, k)
        Sums of centred cross-products per arm, ``sum((y_i - mean_y) (x_i - mean_x))``;
        divide by ``n - 1`` for the sample covariance.
    """

    columns: tuple[str, ...]
    n: np.ndarray
    mean: np.ndarray
    comoment: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        codes: np.ndarray,
        n_groups: int,
        arrays: Sequence[np.ndarray],
        columns: Sequence[str],
        mask_cache: dict[int, np.ndarray] | None = None,
        binary: bool = False,
    ) -> Moments:
        """Compute the moments in one pass over the rows.

        Parameters
        ----------
        codes : ndarray of int, shape (N,)
            Arm index of every unit, ``0 <= codes < n_groups``.
        n_groups : int
            Number of arms.
        arrays : sequence of ndarray, each of shape (N,)
            Float columns without missing values.
        columns : sequence of str
            Their names.
        mask_cache : dict, optional
            Reuse the 0/1 arm masks between calls with the same ``codes``.
        binary : bool, default False
            The columns hold only 0 and 1, so ``y * y == y`` (saves the squares).

        Returns
        -------
        Moments
            Per-arm counts, means and comoments.

        Notes
        -----
        A column whose mean is large relative to its spread (judged on its first 1,000 rows)
        is shifted by that mean before summing, so ``sum(y y) - sum(y)^2 / n`` does not cancel
        catastrophically (the "shifted data" algorithm). With few arms the per-arm sums are
        BLAS dot products with 0/1 masks (arm 0 is the total minus the others); with many
        arms, ``np.bincount`` over the codes.
        """
        k = len(arrays)
        if n_groups == 2:
            n1 = np.count_nonzero(codes)
            n = np.array([codes.size - n1, n1], dtype=np.int64)
        else:
            n = np.bincount(codes, minlength=n_groups).astype(np.int64)
        z = []
        shift = np.zeros(k)
        for j, a in enumerate(arrays):
            if not binary:
                shift[j] = shift_of(a[:SHIFT_ROWS])
            z.append(a - shift[j] if shift[j] != 0.0 else a)
        s1 = np.empty((n_groups, k))
        s2 = np.empty((n_groups, k, k))
        if n_groups <= _MASK_ARMS:
            # totals, then arms 1.. through masks; arm 0 = total - others
            for i in range(k):
                s1[0, i] = z[i].sum()
                for j in range(i, k):
                    if binary and i == j:
                        s2[0, i, i] = s1[0, i]
                        continue
                    s2[0, i, j] = s2[0, j, i] = np.dot(z[i], z[j])
            for g in range(1, n_groups):
                cache = {} if mask_cache is None else mask_cache
                if g not in cache:
                    if n_groups == 2:  # codes are 0/1: the mask is the codes
                        cache[g] = codes.astype(np.float64)
                    else:
                        cache[g] = (codes == g).astype(np.float64)
                mask = cache[g]
                for i in range(k):
                    s1[g, i] = np.dot(mask, z[i])
                    if binary and k == 1:
                        s2[g, 0, 0] = s1[g, 0]
                        continue
                    zm = z[i] * mask
                    for j in range(i, k):
                        s2[g, i, j] = s2[g, j, i] = np.dot(zm, z[j])
            s1[0] -= s1[1:].sum(axis=0)
            s2[0] -= s2[1:].sum(axis=0)
        else:
            for j, a in enumerate(z):
                s1[:, j] = np.bincount(codes, weights=a, minlength=n_groups)
            for i in range(k):
                for j in range(i, k):
                    prod = z[i] * z[j]
                    s2[:, i, j] = s2[:, j, i] = np.bincount(codes, weights=prod, minlength=n_groups)
        return cls._from_shifted(tuple(columns), n, s1, s2, shift)

    @classmethod
    def from_sums(
        cls,
        columns: Sequence[str],
        n: Sequence[int] | np.ndarray,
        sums: np.ndarray,
        cross: np.ndarray,
    ) -> Moments:
        """Build moments from plain per-arm sums, as a database would aggregate them.

        Parameters
        ----------
        columns : sequence of str
            Names of the ``k`` columns.
        n : array_like of int, shape (g,)
            Units per arm.
        sums : array_like, shape (g, k)
            ``sum(y)`` per arm and column.
        cross : array_like, shape (g, k, k)
            ``sum(y * x)`` per arm and pair of columns (``sum(y * y)`` on the diagonal).

        Returns
        -------
        Moments
            The same moments as :meth:`from_arrays` on the rows, up to rounding.

        Notes
        -----
        Raw sums of squares lose about ``log10((mean / sd)^2)`` significant digits of the
        variance; if a column's mean is far larger than its spread, aggregate
        ``y - c`` for a constant ``c`` near the mean instead (the variances are unchanged;
        add ``c`` back to the means with :meth:`shifted`).
        """
        n = np.asarray(n, dtype=np.int64)
        sums = np.asarray(sums, dtype=float).reshape(len(n), len(columns))
        cross = np.asarray(cross, dtype=float).reshape(len(n), len(columns), len(columns))
        return cls._from_shifted(tuple(columns), n, sums, cross, np.zeros(len(columns)))

    @classmethod
    def _from_shifted(
        cls,
        columns: tuple[str, ...],
        n: np.ndarray,
        s1: np.ndarray,
        s2: np.ndarray,
        shift: np.ndarray,
    ) -> Moments:
        with np.errstate(invalid="ignore", divide="ignore"):
            m_shift = s1 / n[:, None]
            com = s2 - s1[:, :, None] * s1[:, None, :] / n[:, None, None]
        com = np.where(n[:, None, None] > 0, com, 0.0)
        mean = np.where(n[:, None] > 0, m_shift + shift[None, :], np.nan)
        return cls(columns, n, mean, com)

    def shifted(self, offsets: Sequence[float]) -> Moments:
        """Add a constant to each column (undo a shift applied before aggregating)."""
        off = np.asarray(offsets, dtype=float)
        return Moments(self.columns, self.n, self.mean + off[None, :], self.comoment)

    def __add__(self, other: Moments) -> Moments:
        """Merge the moments of two disjoint sets of rows (chunks of a big file)."""
        if self.columns != other.columns or self.n.shape != other.n.shape:
            raise ValueError("can only add Moments of the same columns and arms")
        n = self.n + other.n
        ma = np.nan_to_num(self.mean)
        mb = np.nan_to_num(other.mean)
        with np.errstate(invalid="ignore", divide="ignore"):
            wb = np.where(n > 0, other.n / n, 0.0)
            delta = mb - ma
            mean = np.where(n[:, None] > 0, ma + delta * wb[:, None], np.nan)
            extra = (self.n * wb)[:, None, None] * delta[:, :, None] * delta[:, None, :]
        com = self.comoment + other.comoment + np.where(n[:, None, None] > 0, extra, 0.0)
        return Moments(self.columns, n, mean, com)

    def pooled(self) -> Moments:
        """Merge all arms into one group: the moments of all units together (one group)."""
        out = self.select([0])
        for g in range(1, len(self.n)):
            part = self.select([g])
            out = Moments(out.columns, out.n, out.mean, out.comoment) + part
        return out

    def select(self, groups: Sequence[int]) -> Moments:
        """Keep some arms, in the order given; index -1 gives an empty arm (no units)."""
        idx = np.asarray(groups, dtype=int)
        empty = idx < 0
        take = np.where(empty, 0, idx)
        n = np.where(empty, 0, self.n[take])
        mean = np.where(empty[:, None], np.nan, self.mean[take])
        com = np.where(empty[:, None, None], 0.0, self.comoment[take])
        return Moments(self.columns, n, mean, com)

    def sub(self, columns: Sequence[str]) -> Moments:
        """Keep a subset of the columns."""
        idx = [self.columns.index(c) for c in columns]
        return Moments(tuple(columns), self.n, self.mean[:, idx], self.comoment[:, idx][:, :, idx])

    def cov(self) -> np.ndarray:
        """Sample covariance matrices per arm (``ddof=1``), shape (g, k, k); NaN if n < 2."""
        with np.errstate(invalid="ignore", divide="ignore"):
            d = (self.n - 1).astype(float)
            return np.where(d[:, None, None] > 0, self.comoment / d[:, None, None], np.nan)

    def sums(self) -> np.ndarray:
        """Per-arm column sums, shape (g, k)."""
        return np.nan_to_num(self.mean) * self.n[:, None]
