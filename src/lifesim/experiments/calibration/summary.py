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

from lifesim.experiments.calibrate.models import Summary

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
        holdout end; 0 without one).
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
    df = pd.DataFrame({"cust": log.cust, "day": log.day, "amount": log.amount})
    orders = df.groupby(["cust", "day"], as_index=False, sort=True)["amount"].sum()
    first = orders.groupby("cust")["day"].min()
    keep = first.index[first.to_numpy() <= cutoff]
    orders = orders[orders["cust"].isin(keep)].reset_index(drop=True)
    first = first.loc[keep]
    cal = orders[orders["day"] <= cutoff]
    g = cal.groupby("cust")["day"]
    n_cal = g.size()
    last = g.max()
    x = (n_cal - 1).astype(np.int64)
    t_x = (last - first).astype(np.int64)
    T = (cutoff - first).astype(np.int64)
    if holdout_end is not None:
        hold = orders[(orders["day"] > cutoff) & (orders["day"] <= holdout_end)]
        h = hold.groupby("cust").size().reindex(keep, fill_value=0)
    else:
        h = pd.Series(0, index=keep)
    customers = pd.DataFrame(
        {
            "first_day": first.to_numpy(),
            "x": x.to_numpy(),
            "t_x": t_x.to_numpy(),
            "T": T.to_numpy(),
            "orders": n_cal.to_numpy(),
            "holdout": h.to_numpy(),
        },
        index=pd.Index(log.customers[keep.to_numpy()], name="customer"),
    )
    return CustomerTable(customers, orders, int(cutoff), holdout_end)
