"""Churn, defined explicitly: who is at risk at the cutoff T, and who churned in (T, T + h].

Two definitions (``mode``):

``"non-contractual"`` (default; retail, CDNOW)
    At risk: customers with at least one purchase on or before T. Churned: no purchase in
    (T, T + horizon].
``"contractual"`` (subscriptions; the simulator's ``churned`` stage)
    Churn is an explicit event in the log (an ``event`` value such as ``cancel``, or a move
    to the simulator's ``churned`` stage). At risk: customers with at least one purchase on
    or before T who are not churned at T (their last churn event, if any, is older than
    their last purchase or other event). Churned: a churn event in (T, T + horizon].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lifesim._checks import check_int
from lifesim.churn.schema import TransactionLog, check_in_range
from lifesim.errors import DataError

__all__ = ["ChurnDefinition", "MODES", "define", "label_customers"]

MODES = ("non-contractual", "contractual")


@dataclass(frozen=True)
class ChurnDefinition:
    """The churn definition behind a dataset or a result (printed with every result).

    Attributes
    ----------
    mode : {"non-contractual", "contractual"}
    cutoff : str
        T, as the user sees it (``1997-09-30`` or ``day 180``).
    horizon_days : int or None
        Length of the outcome window (``None`` when scoring, where outcomes are unknown).
    end : str or None
        T + horizon.
    time_kind : {"date", "day"}
    churn_events : tuple of str
        Event values that count as churn (contractual mode; from the log's schema).
    cutoff_day : int
        T as a day number (days since 1970-01-01 for dates).
    """

    mode: str
    cutoff: str
    horizon_days: int | None
    end: str | None
    time_kind: str
    churn_events: tuple[str, ...]
    cutoff_day: int

    def describe(self) -> str:
        """Return the definition in one sentence."""
        if self.mode == "contractual":
            who = f"customers with a purchase on or before {self.cutoff} and not churned then"
            what = f"a churn event ({', '.join(self.churn_events)})"
        else:
            who = f"customers with at least one purchase on or before {self.cutoff}"
            what = "no purchase"
        if self.horizon_days is None:
            return f"scoring at T = {self.cutoff}: {who}"
        return (
            f"churned = {what} in ({self.cutoff}, {self.end}] ({self.horizon_days} days), "
            f"among {who} [{self.mode}]"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the fields plus the sentence, JSON-able."""
        d = asdict(self)
        d["churn_events"] = list(self.churn_events)
        d["text"] = self.describe()
        return d


def define(
    log: TransactionLog,
    cutoff: Any,
    horizon_days: int | None,
    *,
    mode: str = "non-contractual",
    option: str = "cutoff",
) -> ChurnDefinition:
    """Check a cutoff and horizon against the log and return the definition.

    Parameters
    ----------
    log : TransactionLog
    cutoff : date, str or int
        T (a date for dated logs, a day number for integer-day logs).
    horizon_days : int or None
        Outcome window in days; ``None`` for scoring (T may then be the last day).
    mode : {"non-contractual", "contractual"}
        Contractual churn events are the log's ``churn_events`` (set in the schema).
    option : str
        Name of the cutoff option in error messages.

    Returns
    -------
    ChurnDefinition

    Raises
    ------
    DataError
        Cutoff outside the data, horizon < 1 or running past the end of the data, a
        contractual definition on a log with no churn events.
    """
    if mode not in MODES:
        raise DataError(f"mode == {mode!r}; allowed: {', '.join(MODES)}")
    t = log.parse_time(cutoff, option)
    if horizon_days is None:
        if not (log.first_day <= t <= log.last_day):
            check_in_range(log, t, option, cutoff)
        end = None
    else:
        horizon_days = check_int("horizon_days", horizon_days, min=1, error=DataError)
        check_in_range(log, t, option, cutoff)
        if t + horizon_days > log.last_day:
            latest = log.format_day(log.last_day - horizon_days)
            raise DataError(
                f"horizon_days == {horizon_days}: T + horizon = "
                f"{log.format_day(t + horizon_days)} runs past the end of the data "
                f"({log.format_day(log.last_day)}); allowed: horizon_days <= "
                f"{log.last_day - t} at {option} {log.format_day(t)}, or {option} <= {latest}"
            )
        end = log.format_day(t + horizon_days)
    if mode == "contractual" and not log.ev_churn.any():
        raise DataError(
            f"mode == 'contractual' but the log has no churn events (values "
            f"{', '.join(map(repr, log.churn_events))} in the event/stage column); pass the events "
            "log and --churn-event, or use mode 'non-contractual'"
        )
    return ChurnDefinition(
        mode=mode,
        cutoff=log.format_day(t),
        horizon_days=horizon_days,
        end=end,
        time_kind=log.time_kind,
        churn_events=log.churn_events,
        cutoff_day=t,
    )


def _last_day_per_customer(cust: np.ndarray, day: np.ndarray, n: int) -> np.ndarray:
    """Latest day per customer (-inf sentinel: ``np.iinfo(int64).min``)."""
    out = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    if len(cust):
        np.maximum.at(out, cust, day)
    return out


def label_customers(
    log: TransactionLog, d: ChurnDefinition
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the at-risk customers (positions in ``log.customers``) and their labels.

    Parameters
    ----------
    log : TransactionLog
    d : ChurnDefinition

    Returns
    -------
    at_risk : ndarray of int64
        Sorted positions of the customers at risk at T.
    y : ndarray of int8 or None
        1 = churned in (T, T + horizon], 0 = not; ``None`` when ``d.horizon_days`` is None.
    """
    n = len(log.customers)
    t = d.cutoff_day
    before = log.day <= t
    bought = np.bincount(log.cust[before], minlength=n) > 0
    if d.mode == "contractual":
        evb = log.ev_day <= t
        last_churn = _last_day_per_customer(
            log.ev_cust[evb & log.ev_churn], log.ev_day[evb & log.ev_churn], n
        )
        last_other = np.maximum(
            _last_day_per_customer(log.cust[before], log.day[before], n),
            _last_day_per_customer(
                log.ev_cust[evb & ~log.ev_churn], log.ev_day[evb & ~log.ev_churn], n
            ),
        )
        churned_now = (last_churn > np.iinfo(np.int64).min) & (last_churn >= last_other)
        risk = bought & ~churned_now
    else:
        risk = bought
    at_risk = np.flatnonzero(risk)
    if len(at_risk) == 0:
        raise DataError(
            f"cutoff {d.cutoff}: no customer is at risk (none has a purchase on or before it); "
            "choose a later cutoff"
        )
    if d.horizon_days is None:
        return at_risk, None
    end = t + d.horizon_days
    if d.mode == "contractual":
        w = (log.ev_day > t) & (log.ev_day <= end) & log.ev_churn
        churn = np.bincount(log.ev_cust[w], minlength=n) > 0
    else:
        w = (log.day > t) & (log.day <= end)
        churn = np.bincount(log.cust[w], minlength=n) == 0
    return at_risk, churn[at_risk].astype(np.int8)
