"""The inflow of new customers: first purchases per day over the calibration period.

A log *covers acquisition* when first purchases are spread over the calibration period: each
of its four quarters holds at least :data:`MIN_QUARTER_SHARE` of them. A cohort log (all
first purchases in a few early weeks, as CDNOW) does not: its inflow is not identified.

When it is covered, the inflow is fitted as a Poisson process of constant rate ``lambda``
(first purchases per day): ``lambda = n / D`` over the ``D`` days from the log's first day
to the cutoff, with the exact (Garwood) 95% interval. The same rate in the first and second
half of the period is checked (the ratio of the two with its exact binomial interval): a
growing or shrinking inflow, or a log whose first weeks hold existing customers seen for the
first time, shows up there, and the weekly counts' dispersion (variance / mean, 1 for a
Poisson process) says how far the Poisson interval can be trusted.

When identified, the calibrated scenario gets ``market.arrivals``: that many new customers a
day (a Poisson number), entering the buying customer stage with their first order, and
``draws.parquet`` carries the rate's uncertainty (``Gamma(n + 1/2, D)``, the Jeffreys posterior
of a Poisson rate). A run from the log's customers (``--from-log``) then adds the customers
still to come.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Inflow", "fit_inflow", "MIN_QUARTER_SHARE", "USED"]

#: Least share of first purchases in each quarter of the period for the inflow to be fitted.
MIN_QUARTER_SHARE = 0.05

#: Where the fitted inflow goes.
USED = (
    "written to the scenario as market.arrivals (new customers a day, entering the buying "
    "customer stage with their first order)"
)


def _poisson_interval(n: int, exposure: float, level: float = 0.95) -> tuple[float, float]:
    a = 1 - level
    lo = 0.0 if n == 0 else stats.chi2.ppf(a / 2, 2 * n) / 2
    hi = stats.chi2.ppf(1 - a / 2, 2 * n + 2) / 2
    return float(lo / exposure), float(hi / exposure)


@dataclass(frozen=True)
class Inflow:
    """First purchases per day over the calibration period.

    Attributes
    ----------
    identified : bool
        Whether the log covers acquisition (see the module docstring).
    reason : str
        Why not (empty when identified), or what the fit rests on.
    first_purchases : int
        Customers whose first purchase falls in the period.
    days : int
        Days of the period (the log's first day to the cutoff, both included).
    rate, lower, upper, se : float
        Fitted first purchases per day, its exact 95% interval and standard error
        (``sqrt(n) / D``); NaN when not identified.
    half_ratio, half_lower, half_upper : float
        Rate in the second half over the rate in the first half, with its exact interval
        (1 for a constant inflow).
    dispersion : float
        Variance / mean of the weekly counts (complete weeks; 1 for a Poisson process).
    weekly : DataFrame
        ``week``, ``start`` (day number), ``days``, ``observed`` first purchases and
        ``fitted`` (``rate x days``).
    """

    identified: bool
    reason: str
    first_purchases: int
    days: int
    rate: float
    lower: float
    upper: float
    se: float
    half_ratio: float
    half_lower: float
    half_upper: float
    dispersion: float
    weekly: pd.DataFrame

    def to_dict(self) -> dict:
        """Return the ``inflow`` entry of ``fit.json``."""
        out: dict = {
            "identified": self.identified,
            "method": "Poisson process of constant rate; exact (Garwood) 95% interval; "
            "covered when each quarter of the period holds >= "
            f"{MIN_QUARTER_SHARE:.0%} of the first purchases",
            "first_purchases": self.first_purchases,
            "days": self.days,
        }
        if not self.identified:
            return {**out, "reason": self.reason}

        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {
            **out,
            "per_day": {
                "estimate": self.rate,
                "se": self.se,
                "lower": self.lower,
                "upper": self.upper,
                "meaning": "new customers (first purchases) per day",
            },
            "second_half_over_first": {
                "estimate": num(self.half_ratio),
                "lower": num(self.half_lower),
                "upper": num(self.half_upper),
            },
            "weekly_dispersion": num(self.dispersion),
            "used_by_engine": True,
            "note": USED,
        }

    def summary_line(self) -> str:
        """One line for the summary and the not-identified list."""
        if not self.identified:
            return f"inflow of new customers: not identified ({self.reason})"
        line = (
            f"inflow of new customers: fitted {self.rate:.4g} first purchases/day "
            f"[{self.lower:.4g}, {self.upper:.4g}] over {self.days} days"
        )
        if np.isfinite(self.half_lower) and not self.half_lower <= 1 <= self.half_upper:
            line += (
                f" (not constant: the second half's rate is {self.half_ratio:.3g} x the "
                f"first's [{self.half_lower:.3g}, {self.half_upper:.3g}])"
            )
        if np.isfinite(self.dispersion) and self.dispersion > 2:
            line += (
                f" (weekly counts vary {self.dispersion:.3g} x as much as a Poisson "
                "process's: the interval is too narrow)"
            )
        return f"{line}; {USED}"


def fit_inflow(first_days: np.ndarray, start: int, cutoff: int, fmt=str) -> Inflow:
    """Fit the inflow of new customers from their first purchase days.

    Parameters
    ----------
    first_days : array of int
        Day number of each customer's first purchase (customers with one by the cutoff).
    start, cutoff : int
        First and last day of the calibration period.
    fmt : callable(int) -> str
        Shows a day number as the user wrote it (for the reason).
    """
    first = np.asarray(first_days, np.int64)
    first = first[(first >= start) & (first <= cutoff)]
    n, days = len(first), int(cutoff - start + 1)
    w = np.arange(start, cutoff + 1, 7)
    obs = np.bincount((first - start) // 7, minlength=len(w))[: len(w)]
    wdays = np.minimum(w + 7, cutoff + 1) - w
    nan = float("nan")
    quarters = np.bincount(np.minimum(4 * (first - start) // days, 3), minlength=4)
    identified = n > 0 and days >= 28 and bool((quarters >= MIN_QUARTER_SHARE * n).all())
    if not identified:
        why = (
            f"the calibration period has {days} days; at least 28 are needed"
            if days < 28
            else "no first purchase in the period"
            if n == 0
            else f"the log is a cohort: the first purchases run from {fmt(int(first.min()))} to "
            f"{fmt(int(first.max()))}, and a quarter of the period holds fewer than "
            f"{MIN_QUARTER_SHARE:.0%} of them ({', '.join(map(str, quarters))} by quarter)"
        )
        weekly = pd.DataFrame(
            {"week": np.arange(1, len(w) + 1), "start": w, "days": wdays, "observed": obs}
        )
        weekly["fitted"] = nan
        return Inflow(False, why, n, days, nan, nan, nan, nan, nan, nan, nan, nan, weekly)
    rate = n / days
    lo, hi = _poisson_interval(n, days)
    half = start + days // 2  # first half: [start, half), second: [half, cutoff]
    d1, d2 = half - start, cutoff + 1 - half
    n1, n2 = int((first < half).sum()), int((first >= half).sum())
    # n2 | n1 + n2 ~ Binomial(n, q), q = d2 R / (d1 + d2 R): an exact interval for q -> R
    ratio = (n2 / d2) / (n1 / d1) if n1 > 0 else nan
    ci = stats.binomtest(n2, n1 + n2).proportion_ci(0.95, method="exact")
    q_lo, q_hi = ci.low, ci.high
    r_lo = q_lo * d1 / ((1 - q_lo) * d2)
    r_hi = q_hi * d1 / ((1 - q_hi) * d2) if q_hi < 1 else float("inf")
    full = wdays == 7
    disp = float(obs[full].var(ddof=1) / obs[full].mean()) if full.sum() >= 4 else nan
    weekly = pd.DataFrame(
        {
            "week": np.arange(1, len(w) + 1),
            "start": w,
            "days": wdays,
            "observed": obs,
            "fitted": rate * wdays,
        }
    )
    return Inflow(
        True,
        f"{n:,} first purchases over {days} days",
        n,
        days,
        rate,
        lo,
        hi,
        float(np.sqrt(n) / days),
        ratio,
        r_lo,
        r_hi,
        disp,
        weekly,
    )
