"""Columnar buffers for the event log, purchases, daily counts and the cost ledger."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lifesim.engine import jit

__all__ = ["Recorder", "Ledger"]


class _Columns:
    """Append-only column buffers (lists of arrays, concatenated once at the end)."""

    def __init__(self, dtypes: dict[str, np.dtype]):
        self.dtypes = dtypes
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in dtypes}

    def append(self, **cols: np.ndarray | int | float) -> None:
        n = max((len(v) for v in cols.values() if np.ndim(v)), default=1)
        for k, dt in self.dtypes.items():
            v = cols[k]
            arr = np.asarray(v, dtype=dt)
            if arr.ndim == 0:
                arr = np.full(n, arr, dtype=dt)
            self.parts[k].append(arr)

    def arrays(self) -> dict[str, np.ndarray]:
        """Concatenate each column once, freeing its parts as it goes (keeps peak memory low)."""
        out = {}
        for k, parts in self.parts.items():
            out[k] = np.concatenate(parts) if parts else np.zeros(0, dtype=self.dtypes[k])
            parts.clear()
        return out


class Recorder:
    """Collects what happens during a run, one day at a time, in columnar buffers.

    Parameters
    ----------
    n_stages : int
        Number of stages (width of the daily counts).
    days : int
        Horizon.
    events : bool
        Record the event log (moves); turning it off saves memory on huge runs.
    """

    def __init__(self, n_stages: int, days: int, events: bool = True):
        self.record_events = events
        self.events = _Columns(
            {"person": np.int32, "day": np.int16, "from": np.int8, "to": np.int8, "cause": np.int16}
        )
        self.purchases = _Columns(
            {"person": np.int32, "day": np.int16, "amount": np.float64, "cause": np.int16}
        )
        self.counts = np.zeros((days, n_stages), dtype=np.int64)
        self.snapshots: list[tuple[int, np.ndarray]] = []
        self.moves = np.zeros(days, dtype=np.int64)

    def on_moves(self, day: int, who, frm, to, cause) -> None:
        """Record today's moves."""
        self.moves[day] += len(who)  # arrivals, then the day's moves
        if self.record_events and len(who):
            self.events.append(person=who, day=day, **{"from": frm}, to=to, cause=cause)

    def on_purchases(self, day: int, who, amount, cause) -> None:
        """Record today's orders."""
        if len(who):
            self.purchases.append(person=who, day=day, amount=amount, cause=cause)

    def snapshot(self, day: int, customer: np.ndarray) -> None:
        """Keep who is a customer at the end of ``day`` (1 bit per person)."""
        self.snapshots.append((day, np.packbits(customer)))

    def on_day_end(self, day: int, stage: np.ndarray) -> None:
        """Record the stage counts at the end of ``day``."""
        self.counts[day] = jit.count(stage, self.counts.shape[1])

    def peek(self, stage_names, cause_names) -> dict[str, pd.DataFrame]:
        """Return the event log and purchases so far, without consuming the buffers."""
        out = {}
        for name, cols in (("events", self.events), ("purchases", self.purchases)):
            arrays = {
                k: (np.concatenate(p) if p else np.zeros(0, dtype=cols.dtypes[k]))
                for k, p in cols.parts.items()
            }
            out[name] = arrays
        return self._frames(out["events"], out["purchases"], stage_names, cause_names)

    def frames(self, stage_names, cause_names) -> dict[str, pd.DataFrame]:
        """Return the event log, purchases and daily stage counts as DataFrames."""
        out = self._frames(self.events.arrays(), self.purchases.arrays(), stage_names, cause_names)
        counts = pd.DataFrame(self.counts, columns=list(stage_names))
        counts.index.name = "day"
        out["stage_counts"] = counts
        return out

    @staticmethod
    def _frames(ev, pu, stage_names, cause_names) -> dict[str, pd.DataFrame]:
        cats = list(stage_names)
        causes = list(cause_names)

        def cause_cat(codes: np.ndarray) -> pd.Categorical:
            # -1 (no specific cause) maps to "organic" (code 0)
            return pd.Categorical.from_codes(np.where(codes < 0, 0, codes), categories=causes)

        events = pd.DataFrame(
            copy=False,
            data={
                "person": ev["person"],
                "day": ev["day"],
                "from_stage": pd.Categorical.from_codes(ev["from"], categories=cats),
                "to_stage": pd.Categorical.from_codes(ev["to"], categories=cats),
                "cause": cause_cat(ev["cause"]),
            },
        )
        purchases = pd.DataFrame(
            copy=False,
            data={
                "person": pu["person"],
                "day": pu["day"],
                "amount": pu["amount"],
                "cause": cause_cat(pu["cause"]),
            },
        )
        return {"events": events, "purchases": purchases}


class Ledger:
    """Money spent, per day and item, against a per-period budget.

    Parameters
    ----------
    per_period : float or None
        Budget per period (``None``: unlimited).
    """

    def __init__(self, per_period: float | None):
        self.per_period = per_period
        self.period = 0
        self.remaining = np.inf if per_period is None else float(per_period)
        self.budget = self.remaining  # this period's budget
        self.rows: list[tuple[int, int, str, str, int, float]] = []

    def new_period(self, period: int, fraction: float = 1.0) -> None:
        """Start budget period ``period`` (unspent money does not roll over).

        ``fraction``: the share of a full period's budget it gets (a last period cut short
        by the horizon gets its length over the full length).
        """
        self.period = period
        self.budget = np.inf if self.per_period is None else float(self.per_period) * fraction
        self.remaining = self.budget

    def affordable(self, unit_cost: float, wanted: int) -> int:
        """How many of ``wanted`` contacts at ``unit_cost`` the remaining budget pays for."""
        if unit_cost <= 0:
            return wanted
        q = self.remaining / unit_cost + 1e-9
        return wanted if q >= wanted else math.floor(q)  # also when the budget is unlimited

    def charge(self, day: int, item: str, kind: str, units: int, cost: float) -> None:
        """Record a cost and take it from the period's budget."""
        if cost > self.remaining + 1e-6:
            raise RuntimeError(f"budget overrun by {item!r} on day {day}")  # a bug, not input
        self.remaining -= cost
        self.rows.append((day, self.period, item, kind, units, cost))

    def reserve(self, amount: float) -> None:
        """Commit ``amount`` of this period's budget to possible later costs (redemptions)."""
        if amount > self.remaining + 1e-6:
            raise RuntimeError("budget overrun by a reservation")  # a bug, not input
        self.remaining -= amount

    def spend_reserved(
        self, day: int, period: int, item: str, kind: str, units: int, cost: float
    ) -> None:
        """Record a cost paid from money reserved in ``period`` (the period it is charged to)."""
        self.rows.append((day, period, item, kind, units, cost))

    def release(self, period: int, amount: float) -> None:
        """Return unused reserved money; only the current period's budget can get it back."""
        if period == self.period and self.per_period is not None:
            self.remaining += amount

    def to_pandas(self) -> pd.DataFrame:
        """One row per charge: day, period, item, kind, units, cost."""
        df = pd.DataFrame(self.rows, columns=["day", "period", "item", "kind", "units", "cost"])
        return df.astype({"day": np.int32, "period": np.int32, "units": np.int64, "cost": float})
