"""Transaction schema: read a log (CSV/Parquet/DataFrame) and normalise it, refusing bad data.

The schema
----------
One row per transaction (purchase), with

===============  ========================================================================
``customer``     customer id (any hashable: int, str)
``time``         a date/datetime (parsed; resolved to calendar days) **or** an integer day
                 number (the simulator's ``day``: 0, 1, 2, ...); integers that are all
                 valid YYYYMMDD dates (1900-2100, e.g. ``19970930``) are dates
``amount``       order value, >= 0 (refunds must be netted out before)
``event``        optional event type; rows whose value is a *churn event* (e.g. ``cancel``)
                 are cancellations, not purchases (contractual mode)
``channel``      optional purchase channel (categorical)
``stage``        optional lifecycle stage entered at that time (the simulator's ``to_stage``)
``cause``        optional tactic/cause of the row (the simulator's ``cause``): exposures
``satisfaction`` optional numeric satisfaction score observed at that time
===============  ========================================================================

An optional second table of *events* (the simulator's ``res.events``: ``person, day,
from_stage, to_stage, cause``) uses the same customer and time columns; it carries stages,
causes and churn events. The simulator's logs map onto this schema with no glue code: its
column names (``person``, ``day``, ``amount``, ``to_stage``, ``cause``) are detected.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lifesim.churn._times import _examples, _to_days, yyyymmdd_day
from lifesim.churn.io import as_frame, run_folder, simulation_parts
from lifesim.errors import DataError

__all__ = ["TransactionSchema", "TransactionLog", "prepare", "CANDIDATES"]

#: Column names tried, in order, when a schema field is left to detection.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "customer": ("customer_id", "customerID", "customer", "person", "user_id", "client_id"),
    "time": ("date", "day", "time", "timestamp", "datetime", "order_date", "InvoiceDate"),
    "amount": ("amount", "dollar_value", "revenue", "value", "sales", "total", "price"),
    "event": (),
    "channel": ("channel",),
    "stage": ("to_stage", "stage"),
    "cause": ("cause",),
    "satisfaction": ("satisfaction",),
}
_OPTIONAL = ("event", "channel", "stage", "cause", "satisfaction")
_SHOW = 5  # examples of bad values shown in an error message


@dataclass(frozen=True)
class TransactionSchema:
    """Which column holds what (``None``: detect it from :data:`CANDIDATES`).

    Parameters
    ----------
    customer, time, amount : str or None
        Required columns: customer id, time (dates or integer days) and order value.
    event, channel, stage, cause, satisfaction : str or None
        Optional columns, used when present (see the module docstring).
    time_format : str or None
        ``strftime`` format of the time column (e.g. ``"%Y%m%d"``); ``None``: inferred.
    churn_events : tuple of str
        Values of ``event`` (or, in the events table, of ``stage``) that mean "this
        customer churned" (contractual mode). Default: ``("churned",)``.
    """

    customer: str | None = None
    time: str | None = None
    amount: str | None = None
    event: str | None = None
    channel: str | None = None
    stage: str | None = None
    cause: str | None = None
    satisfaction: str | None = None
    time_format: str | None = None
    churn_events: tuple[str, ...] = ("churned",)

    @classmethod
    def simulation(cls) -> TransactionSchema:
        """Return the schema of the simulator's logs (``person, day, amount``, ``to_stage``)."""
        return cls(customer="person", time="day", amount="amount", stage="to_stage", cause="cause")

    def resolve(self, df: pd.DataFrame, *, table: str = "transactions") -> dict[str, str | None]:
        """Map each field to a column of ``df`` (detecting unset ones); raise on a miss.

        Parameters
        ----------
        df : DataFrame
            The table.
        table : {"transactions", "events"}
            In the events table ``amount`` is not required.

        Returns
        -------
        dict
            Field -> column name (``None`` for an absent optional field).
        """
        cols = [str(c) for c in df.columns]
        out: dict[str, str | None] = {}
        required = (
            ("customer", "time", "amount") if table == "transactions" else ("customer", "time")
        )
        for name in ("customer", "time", "amount", *_OPTIONAL):
            given = getattr(self, name)
            if given is not None:
                if given not in cols:
                    if name in required or name == "amount":
                        opt = "--" + name.replace("_", "-") + "-col"
                        raise DataError(
                            f"{table}: column {given!r} ({name}, {opt}) not found; "
                            f"columns are: {', '.join(map(repr, cols[:20]))}"
                        )
                    out[name] = None
                    continue
                out[name] = given
                continue
            found = next((c for c in CANDIDATES[name] if c in cols), None)
            if found is None and name in required:
                opt = "--" + name + "-col"
                raise DataError(
                    f"{table}: no {name} column found (tried {', '.join(CANDIDATES[name])}); "
                    f"name it with {opt}; columns are: {', '.join(map(repr, cols[:20]))}"
                )
            out[name] = found
        if table == "events":
            out["amount"] = None
        return out


@dataclass(frozen=True, eq=False)
class TransactionLog:
    """A validated, normalised log: integer codes and day numbers in NumPy arrays.

    Build it with :func:`prepare`. Times are day numbers: for dates, days since 1970-01-01
    (the calendar date of each transaction); for integer time columns, the values themselves.

    Attributes
    ----------
    customers : Index
        Customer ids; ``cust`` arrays hold positions in it.
    cust, day, amount : ndarray
        Purchases (int64, int64, float64), in input order.
    time_kind : {"date", "day"}
        Whether times were dates or integer day numbers.
    first_day, last_day : int
        First and last day observed (``last_day``: the end of the observation period).
    extras : dict of str to ndarray
        Optional per-purchase columns (``channel`` codes, ``cause`` codes, ``satisfaction``).
    ev_cust, ev_day : ndarray
        Events (stage moves, churn events, exposures), possibly empty.
    ev_stage, ev_cause : ndarray or None
        Stage and cause codes of events (-1: missing).
    ev_churn : ndarray of bool
        Whether an event is a churn event.
    categories : dict of str to tuple of str
        Category labels of ``channel``, ``stage`` and ``cause`` codes.
    columns : dict
        The resolved schema (field -> source column), for the record.
    churn_events : tuple of str
        The event/stage values that were read as churn events (``schema.churn_events``).
    """

    customers: pd.Index
    cust: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    time_kind: str
    first_day: int
    last_day: int
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    ev_cust: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ev_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ev_stage: np.ndarray | None = None
    ev_cause: np.ndarray | None = None
    ev_churn: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    ev_satisfaction: np.ndarray | None = None
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    columns: dict[str, Any] = field(default_factory=dict)
    churn_events: tuple[str, ...] = ("churned",)

    @property
    def n_transactions(self) -> int:
        """Number of purchases."""
        return len(self.day)

    def format_day(self, day: int) -> str:
        """Show a day number as the user wrote it (an ISO date or ``day N``)."""
        if self.time_kind == "date":
            return str((pd.Timestamp(0) + pd.Timedelta(days=int(day))).date())
        return f"day {int(day)}"

    def parse_time(self, value: Any, option: str = "cutoff") -> int:
        """Turn a user's cutoff (date string, Timestamp or int day) into a day number.

        Raises
        ------
        DataError
            If the value does not match the log's kind of time.
        """
        if self.time_kind == "day":
            if isinstance(value, bool):
                value = None
            try:
                if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                    return int(value)
                if isinstance(value, int | np.integer):
                    return int(value)
            except ValueError:
                pass
            raise DataError(
                f"{option} == {value!r}: the time column holds integer day numbers "
                f"({self.format_day(self.first_day)} to {self.format_day(self.last_day)}), "
                f"so {option} must be an integer day"
            )
        day = yyyymmdd_day(value)  # 19970930 or "19970930", as the time column may hold
        if day is not None:
            return day
        try:
            ts = pd.Timestamp(value)
            if isinstance(value, int | np.integer) or pd.isna(ts):
                raise ValueError
        except (ValueError, TypeError):
            raise DataError(
                f"{option} == {value!r}: not a date; the time column holds dates "
                f"({self.format_day(self.first_day)} to {self.format_day(self.last_day)}), "
                f"give {option} as YYYY-MM-DD or YYYYMMDD"
            ) from None
        if ts.tzinfo is not None:
            ts = ts.tz_localize(None)
        return int((ts.normalize() - pd.Timestamp(0)) // pd.Timedelta(days=1))


def _codes(s: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    cat = s.astype("category") if not isinstance(s.dtype, pd.CategoricalDtype) else s
    return cat.cat.codes.to_numpy(np.int64), tuple(str(c) for c in cat.cat.categories)


def prepare(
    transactions: pd.DataFrame | str | os.PathLike,
    *,
    schema: TransactionSchema | None = None,
    events: pd.DataFrame | str | os.PathLike | None = None,
    observed_until: Any = None,
    sep: str | None = None,
    date_hint: bool = False,
) -> TransactionLog:
    """Validate and normalise a transaction log (and an optional event log).

    Parameters
    ----------
    transactions : DataFrame or path
        One row per purchase (see the module docstring for the schema), e.g. the
        simulator's ``res.purchases``; or a simulator run folder (``lifesim simulate --out``),
        whose ``purchases.parquet``, ``events.parquet`` and horizon are used; or a
        simulation result itself (anything with ``purchases``, ``events`` and ``days``).
    schema : TransactionSchema, optional
        Column names; default: detected (the simulator's names are detected).
    events : DataFrame or path, optional
        An event log with the same customer and time columns, e.g. ``res.events``: gives
        stages, causes (exposures), satisfaction and churn events (contractual mode).
    observed_until : date, int or None
        Last day of the observation period (default: the last time in the data). Set it
        when the log ends later than its last row (e.g. a simulation of ``days`` days:
        ``days - 1``).
    sep : str, optional
        Field separator when reading text files.
    date_hint : bool
        Whether the user gave dates (a cutoff such as ``1997-09-30``): then an integer time
        column that holds YYYYMMDD numbers is read as dates.

    Returns
    -------
    TransactionLog

    Raises
    ------
    DataError
        Missing columns, unparseable times, negative or missing amounts, an empty log.
    """
    folder = run_folder(transactions) or simulation_parts(transactions)
    if folder is not None:  # a simulator run folder: purchases + events + its horizon
        transactions, found_events, days = folder
        events = found_events if events is None else events
        if observed_until is None and days is not None:
            observed_until = days - 1
    schema = schema or TransactionSchema()
    df = as_frame(transactions, sep)
    cols = schema.resolve(df, table="transactions")
    if len(df) == 0:
        raise DataError("transactions: the log is empty (no rows)")
    tcol, acol, ccol = cols["time"], cols["amount"], cols["customer"]
    day, kind = _to_days(df[tcol], tcol, schema.time_format, date_hint)

    is_churn = np.zeros(len(df), bool)
    if cols["event"] is not None:
        is_churn = df[cols["event"]].astype(str).isin(schema.churn_events).to_numpy()

    amount = pd.to_numeric(df[acol], errors="coerce").to_numpy(np.float64, copy=True)
    amount[is_churn] = 0.0  # cancellations need no amount
    bad = ~np.isfinite(amount)
    if bad.any():
        raise DataError(
            f"amount column {acol!r}: {int(bad.sum())} value(s) are missing or not numbers "
            f"(e.g. {_examples(df[acol][bad])}); allowed: finite numbers >= 0"
        )
    if (amount < 0).any():
        neg = amount[amount < 0]
        raise DataError(
            f"amount column {acol!r}: {len(neg)} negative value(s) (e.g. {_examples(neg)}); "
            "allowed: amounts >= 0 (net refunds out of the log first)"
        )
    if df[ccol].isna().any():
        raise DataError(
            f"customer column {ccol!r}: {int(df[ccol].isna().sum())} missing id(s); "
            "every transaction needs a customer"
        )

    ev = None
    ev_cols: dict[str, str | None] = {}
    if events is not None:
        ev = as_frame(events, sep)
        ev_schema = replace(schema, amount=None, event=None, channel=None)
        ev_schema = replace(ev_schema, customer=ccol, time=tcol)
        ev_cols = ev_schema.resolve(ev, table="events")
    for name in _OPTIONAL:  # a column named explicitly must exist in one of the tables
        given = getattr(schema, name)
        if given is not None and cols[name] is None and ev_cols.get(name) is None:
            where = "transactions" + (" or events" if ev is not None else "")
            if name == "event" and ev is not None and given in ev.columns:
                raise DataError(
                    f"column {given!r} (event, --event-col) is in the events, but the event "
                    "column is read from the transactions (a purchase or a cancellation per "
                    "row); allowed: a column of the transactions, or --stage-col "
                    f"{given} for the stage each customer entered in the events (values in "
                    "--churn-event mean churn)"
                )
            shown = ", ".join(map(repr, [str(c) for c in df.columns][:20]))
            if ev is not None:
                shown += "; events: " + ", ".join(map(repr, [str(c) for c in ev.columns][:20]))
            raise DataError(
                f"column {given!r} ({name}, --{name}-col) not found in the {where}; "
                f"columns are: {shown}"
            )
    # one customer index across both tables
    ids = [df[ccol]] + ([ev[ev_cols["customer"]]] if ev is not None else [])
    all_ids = pd.concat(ids, ignore_index=True) if len(ids) > 1 else ids[0]
    codes, uniques = pd.factorize(all_ids, sort=True)
    codes = codes.astype(np.int64)
    cust_all = codes[: len(df)]

    categories: dict[str, tuple[str, ...]] = {}
    extras: dict[str, np.ndarray] = {}
    for name in ("channel", "cause"):
        if cols[name] is not None:
            c, cats = _codes(df[cols[name]])
            extras[name] = c[~is_churn]
            categories[name] = cats
    if cols["satisfaction"] is not None:
        extras["satisfaction"] = pd.to_numeric(df[cols["satisfaction"]], errors="coerce").to_numpy(
            np.float64
        )[~is_churn]

    # events: explicit event tables plus churn-event rows of the transactions
    ev_cust = [cust_all[is_churn]]
    ev_day = [day[is_churn]]
    ev_churn = [np.ones(int(is_churn.sum()), bool)]
    ev_stage = ev_cause = ev_sat = None
    if ev is not None and len(ev):
        try:
            ed, ekind = _to_days(
                ev[ev_cols["time"]], ev_cols["time"], schema.time_format, date_hint
            )
        except DataError as exc:  # say which table: both time columns often share a name
            raise DataError(f"events: {exc}") from None
        if ekind != kind:
            raise DataError(
                f"events: time column {ev_cols['time']!r} holds {ekind}s but the transactions' "
                f"{tcol!r} holds {kind}s; both logs must use the same kind of time"
            )
        n_ch = int(is_churn.sum())
        ev_cust.append(codes[len(df) :])
        ev_day.append(ed)
        churn_ev = np.zeros(len(ev), bool)
        if ev_cols["stage"] is not None:
            st, cats = _codes(ev[ev_cols["stage"]])
            categories["stage"] = cats
            ev_stage = np.concatenate([np.full(n_ch, -1), st])
            churn_ev = ev[ev_cols["stage"]].astype(str).isin(schema.churn_events).to_numpy()
        ev_churn.append(churn_ev)
        if ev_cols["cause"] is not None:
            cc, cats = _codes(ev[ev_cols["cause"]])
            categories["ev_cause"] = cats
            ev_cause = np.concatenate([np.full(n_ch, -1), cc])
        if ev_cols["satisfaction"] is not None:
            s = pd.to_numeric(ev[ev_cols["satisfaction"]], errors="coerce").to_numpy(np.float64)
            ev_sat = np.concatenate([np.full(n_ch, np.nan), s])

    keep = ~is_churn
    p_day = day[keep]
    all_days = np.concatenate([p_day, *ev_day])
    first, last = int(all_days.min()), int(all_days.max())
    log = TransactionLog(
        customers=pd.Index(uniques, name=ccol),
        cust=cust_all[keep],
        day=p_day,
        amount=amount[keep],
        time_kind=kind,
        first_day=first,
        last_day=last,
        extras=extras,
        ev_cust=np.concatenate(ev_cust),
        ev_day=np.concatenate(ev_day),
        ev_stage=ev_stage,
        ev_cause=ev_cause,
        ev_churn=np.concatenate(ev_churn),
        ev_satisfaction=ev_sat,
        categories=categories,
        columns={"transactions": cols, "events": ev_cols or None},
        churn_events=tuple(schema.churn_events),
    )
    if len(log.day) == 0:
        raise DataError("transactions: no purchases left once churn events are set apart")
    if observed_until is not None:
        end = log.parse_time(observed_until, "observed_until")
        if end < last:
            raise DataError(
                f"observed_until == {observed_until!r} is before the last row of the log "
                f"({log.format_day(last)}); allowed: on or after it"
            )
        log = replace(log, last_day=end)
    return log


def check_in_range(log: TransactionLog, day: int, option: str, raw: Any) -> None:
    """Refuse a cutoff outside ``[first_day, last_day)`` of the log, naming the range."""
    if not (log.first_day <= day < log.last_day):
        raise DataError(
            f"{option} == {raw!r} is outside the data: the log runs from "
            f"{log.format_day(log.first_day)} to {log.format_day(log.last_day)}; allowed: "
            f"on or after the first day and before the last"
        )


def check_columns(frame: pd.DataFrame, names: Sequence[str], table: str) -> None:
    """Raise a :class:`DataError` naming any of ``names`` missing from ``frame``."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise DataError(
            f"{table}: missing column(s) {', '.join(map(repr, missing))}; columns are: "
            f"{', '.join(map(repr, [str(c) for c in frame.columns][:20]))}"
        )
