"""From a transaction log to what the models see: one row per customer, days as the unit.

The engine makes at most one order per person and day, so purchases are counted as *purchase
days*: several transactions of one customer on one day are one order whose value is their sum.
``x`` counts the repeat purchase days up to the cutoff (after the first), ``t_x`` is the day
of the last one and ``T`` the days observed, both from the first purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lifesim.experiments.calibration.models import Summary

if TYPE_CHECKING:
    from lifesim.churn import TransactionLog

__all__ = ["CustomerTable", "customer_table"]


@dataclass(frozen=True)
class CustomerTable:
    """Per-customer summary at a cutoff, plus the order days themselves.

    Attributes
    ----------
    customers : DataFrame
        Index: customer id. Columns ``first_day``, ``x``, ``t_x``, ``T``, ``orders`` (purchase
        days up to the cutoff), ``holdout`` (purchase days after the cutoff, up to the
        holdout end; 0 without one), ``repeat_value`` (mean value of the repeat orders up to
        the cutoff, the first order left out; 0 without any).
    orders : DataFrame
        One row per (customer position, day) order: ``cust``, ``day``, ``amount`` (summed).
    cutoff, holdout_end : int or None
        Day numbers.
    """

    customers: pd.DataFrame
    orders: pd.DataFrame
    cutoff: int
    holdout_end: int | None

    @property
    def summary(self) -> Summary:
        """The ``(x, t_x, T)`` arrays for the models."""
        c = self.customers
        return Summary(
            c["x"].to_numpy(np.float64), c["t_x"].to_numpy(np.float64), c["T"].to_numpy(np.float64)
        )

    @property
    def calibration_orders(self) -> pd.DataFrame:
        """Orders on or before the cutoff, of the customers in the table."""
        o = self.orders
        return o[o["day"] <= self.cutoff]

    @property
    def holdout_orders(self) -> pd.DataFrame:
        """Orders after the cutoff and up to the holdout end (empty without one)."""
        if self.holdout_end is None:
            return self.orders.iloc[:0]
        o = self.orders
        return o[(o["day"] > self.cutoff) & (o["day"] <= self.holdout_end)]


def customer_table(log: TransactionLog, cutoff: int, holdout_end: int | None) -> CustomerTable:
    """Summarise ``log`` at ``cutoff`` for the customers whose first purchase is by then.

    Parameters
    ----------
    log : TransactionLog
        From :func:`lifesim.churn.prepare`.
    cutoff : int
        Last day of the calibration period (day number).
    holdout_end : int, optional
        Last day of the holdout period.
    """
    cust = np.asarray(log.cust, np.int64)
    day = np.asarray(log.day, np.int64)
    lo = int(day.min())
    span = int(day.max()) - lo + 1
    key, inv = np.unique(cust * span + (day - lo), return_inverse=True)  # one per order
    o_cust, o_day = key // span, key % span + lo
    amount = np.bincount(inv.ravel(), weights=log.amount, minlength=len(key))
    n_cust = len(log.customers)
    starts = np.flatnonzero(np.r_[True, o_cust[1:] != o_cust[:-1]])  # orders sorted by day
    first = np.full(n_cust, np.iinfo(np.int64).max)
    first[o_cust[starts]] = o_day[starts]
    keep = np.flatnonzero(first <= cutoff)
    kept = first[o_cust] <= cutoff
    orders = pd.DataFrame({"cust": o_cust[kept], "day": o_day[kept], "amount": amount[kept]})
    oc, od = o_cust[kept], o_day[kept]
    cal = od <= cutoff
    n_cal = np.bincount(oc[cal], minlength=n_cust)
    last = np.full(n_cust, np.iinfo(np.int64).min)
    np.maximum.at(last, oc[cal], od[cal])
    repeat = cal & np.r_[False, oc[1:] == oc[:-1]]  # by customer, then day: not the first
    rep_value = np.bincount(oc[repeat], weights=amount[kept][repeat], minlength=n_cust)
    x = n_cal[keep] - 1
    hold = np.zeros(n_cust, np.int64)
    if holdout_end is not None:
        h = (od > cutoff) & (od <= holdout_end)
        hold = np.bincount(oc[h], minlength=n_cust)
    customers = pd.DataFrame(
        {
            "first_day": first[keep],
            "x": x,
            "t_x": last[keep] - first[keep],
            "T": cutoff - first[keep],
            "orders": n_cal[keep],
            "holdout": hold[keep],
            "repeat_value": np.divide(rep_value[keep], x, out=np.zeros(len(keep)), where=x > 0),
        },
        index=pd.Index(log.customers[keep], name="customer"),
    )
    return CustomerTable(customers, orders, int(cutoff), holdout_end)
