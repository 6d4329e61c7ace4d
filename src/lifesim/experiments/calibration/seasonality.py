"""Seasonality of the repeat purchase rate: by day of the week, and by month of the year.

Both are multipliers of the daily purchase rate (mean 1 over the week or the year), fitted to
the repeat purchase days of the calibration period when the log spans enough time and its
times are calendar dates (integer day numbers carry no calendar):

* **day of week** (at least :data:`MIN_WEEKS` complete weeks): the period is cut into complete
  7-day blocks from its first day; given each block's total, its purchases fall on the 7
  weekdays as a multinomial with probabilities proportional to the multipliers (the block
  absorbs any slower trend), so the maximum-likelihood multiplier of weekday ``d`` is
  ``7 n_d / N``, with the multinomial standard error ``7 sqrt(p_d (1 - p_d) / N)``; the
  G-test of equal weekdays (6 degrees of freedom) gives a p-value.
* **yearly** (at least :data:`MIN_YEARS` years): classical multiplicative decomposition of
  the daily purchase rate of each complete calendar month: a centred 2x12 moving average as
  the trend, the rate over the trend per month, the ratio estimate per calendar month (its
  purchases over its trend-expected purchases), normalised to mean 1 over the 12 months;
  standard error ``m / sqrt(purchases)`` (Poisson; the trend's own noise is left out);
  a chi-square test of equal months gives a p-value.

Identified multipliers whose test of none rejects at 5% are written into the calibrated
scenario's ``calendar``
(``day_of_week``, ``month``; ``start`` the day after the cutoff), where they multiply every
stage's repeat-purchase probability on each simulated date; they are fixed at their estimates
in the parameter draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["SeasonalFit", "fit_day_of_week", "fit_yearly", "MIN_WEEKS", "MIN_YEARS", "USED"]

#: Fewest complete weeks for day-of-week seasonality.
MIN_WEEKS = 8
#: Fewest years (of 365 days) for yearly seasonality.
MIN_YEARS = 2

#: Multipliers are written to the scenario when the test of none has p below this.
WRITE_BELOW = 0.05

USED = {
    "day_of_week": "written to the scenario as calendar.day_of_week (multiplies buy.p) when "
    "the test of none has p < 0.05",
    "yearly": "written to the scenario as calendar.month (multiplies buy.p) when the test of "
    "none has p < 0.05",
}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class SeasonalFit:
    """Multipliers of the daily purchase rate by season (day of week or month).

    Attributes
    ----------
    kind : {"day_of_week", "yearly"}
    identified : bool
    reason : str
        Why not identified (empty otherwise).
    table : DataFrame or None
        ``season`` (Mon..Sun or Jan..Dec), ``purchases``, ``multiplier``, ``se``, ``lower``,
        ``upper`` (95%).
    p_value : float
        Test of no seasonality (all multipliers 1).
    method : str
    """

    kind: str
    identified: bool
    reason: str
    table: pd.DataFrame | None = None
    p_value: float = float("nan")
    method: str = ""

    def to_dict(self) -> dict:
        """Return the entry of ``fit.json``'s ``seasonality``."""
        if not self.identified:
            return {"identified": False, "reason": self.reason}
        return {
            "identified": True,
            "method": self.method,
            "p_value_no_seasonality": float(self.p_value),
            "multipliers": {
                row.season: {
                    "estimate": float(row.multiplier),
                    "se": float(row.se),
                    "lower": float(row.lower),
                    "upper": float(row.upper),
                    "purchases": int(row.purchases),
                }
                for row in self.table.itertuples()
            },
            "used_by_engine": bool(self.p_value < WRITE_BELOW),
            "note": USED[self.kind],
        }

    def summary_line(self) -> str:
        """One line for the summary: the multipliers, or why not identified."""
        name = "day-of-week" if self.kind == "day_of_week" else "yearly"
        if not self.identified:
            return f"{name} seasonality of purchases: not identified ({self.reason})"
        t = self.table
        top, low = t.loc[t["multiplier"].idxmax()], t.loc[t["multiplier"].idxmin()]
        return (
            f"{name} seasonality of purchases: fitted, highest {top.season} "
            f"{top.multiplier:.3g} [{top.lower:.3g}, {top.upper:.3g}], lowest {low.season} "
            f"{low.multiplier:.3g} [{low.lower:.3g}, {low.upper:.3g}] x the mean rate "
            f"(test of none: p = {self.p_value:.3g}); "
            + (
                USED[self.kind].split(" when ")[0]
                if self.p_value < WRITE_BELOW
                else "not written to the scenario (no evidence of seasonality)"
            )
        )


def _table(labels, n, m, se) -> pd.DataFrame:  # noqa: ANN001
    return pd.DataFrame(
        {
            "season": list(labels),
            "purchases": np.asarray(n, np.int64),
            "multiplier": m,
            "se": se,
            "lower": m - 1.96 * se,
            "upper": m + 1.96 * se,
        }
    )


def fit_day_of_week(days: np.ndarray, start: int, cutoff: int, dates: bool) -> SeasonalFit:
    """Fit day-of-week multipliers to purchase days (day numbers; days since 1970-01-01).

    Parameters
    ----------
    days : array of int
        Day number of each purchase day (repeat purchases of the calibration period).
    start, cutoff : int
        First and last day of the calibration period.
    dates : bool
        Whether the log's times are calendar dates (else: not identified).
    """
    kind = "day_of_week"
    if not dates:
        return SeasonalFit(kind, False, "integer day numbers carry no weekday")
    weeks = (cutoff - start + 1) // 7
    if weeks < MIN_WEEKS:
        return SeasonalFit(
            kind,
            False,
            f"the calibration period holds {weeks} complete week(s); at least {MIN_WEEKS} "
            "are needed",
        )
    d = np.asarray(days, np.int64)
    d = d[(d >= start) & (d < start + 7 * weeks)]
    if len(d) < 70:
        return SeasonalFit(kind, False, f"{len(d)} purchase days; at least 70 are needed")
    n = np.bincount((d + 3) % 7, minlength=7)  # 1970-01-01 was a Thursday (3; Monday 0)
    total = n.sum()
    p = n / total
    m, se = 7 * p, 7 * np.sqrt(p * (1 - p) / total)
    expected = total / 7
    g = 2 * float(np.sum(n[n > 0] * np.log(n[n > 0] / expected)))
    return SeasonalFit(
        kind,
        True,
        "",
        _table(_DAYS, n, m, se),
        float(stats.chi2.sf(g, 6)),
        f"multinomial within {weeks} complete weeks (weekly totals conditioned out); "
        "G-test of equal weekdays",
    )


def fit_yearly(days: np.ndarray, start: int, cutoff: int, dates: bool) -> SeasonalFit:
    """Fit month-of-year multipliers to purchase days (see the module docstring).

    Parameters are as for :func:`fit_day_of_week`.
    """
    kind = "yearly"
    if not dates:
        return SeasonalFit(kind, False, "integer day numbers carry no calendar")
    span = cutoff - start + 1
    if span < 365 * MIN_YEARS:
        return SeasonalFit(
            kind,
            False,
            f"the calibration period spans {span / 365:.2g} years; at least {MIN_YEARS} are needed",
        )
    d = np.asarray(days, np.int64)
    d = d[(d >= start) & (d <= cutoff)]
    first = pd.Timestamp(0) + pd.Timedelta(days=int(start))
    last = pd.Timestamp(0) + pd.Timedelta(days=int(cutoff))
    months = pd.period_range(first, last, freq="M")
    # complete months only
    m_start = np.array([(p.start_time - pd.Timestamp(0)).days for p in months])
    m_end = np.array([(p.end_time.normalize() - pd.Timestamp(0)).days for p in months])
    full = (m_start >= start) & (m_end <= cutoff)
    months, m_start, m_end = months[full], m_start[full], m_end[full]
    edges = np.r_[m_start, m_end[-1] + 1]
    count = np.histogram(d, bins=edges)[0].astype(float)
    length = (m_end - m_start + 1).astype(float)
    rate = count / length
    if len(rate) < 24 or (count == 0).any():
        return SeasonalFit(
            kind, False, f"{len(rate)} complete months with purchases; at least 24 are needed"
        )
    w = np.r_[0.5, np.ones(11), 0.5] / 12  # centred 2x12 moving average
    trend = np.full(len(rate), np.nan)
    trend[6:-6] = np.convolve(rate, w, mode="valid")
    ok = np.isfinite(trend)
    month = np.array([p.month - 1 for p in months])
    obs = np.bincount(month[ok], weights=count[ok], minlength=12)
    exp = np.bincount(month[ok], weights=(trend * length)[ok], minlength=12)
    raw = obs / exp
    scale = raw.mean()
    m = raw / scale
    se = m / np.sqrt(obs)
    chi = float(np.sum((obs - exp * scale) ** 2 / (exp * scale)))
    return SeasonalFit(
        kind,
        True,
        "",
        _table(_MONTHS, obs, m, se),
        float(stats.chi2.sf(chi, 11)),
        f"ratio to a centred 2x12 moving average over {int(ok.sum())} complete months "
        "(classical multiplicative decomposition); Poisson standard errors; chi-square test "
        "of equal months",
    )
