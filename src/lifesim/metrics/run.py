"""Metrics of one run (DOMAIN.md formulas), computed from a :class:`SimulationResult`.

Every metric has a stated convention in :data:`METRICS` (printed with comparisons). Scalar
metrics feed ``lifesim compare``; the table functions (:func:`funnel`,
:func:`stage_conversion`, :func:`time_in_stage`, :func:`cac_by_channel`) describe one run.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from lifesim.engine import SimulationResult

__all__ = [
    "MetricInfo",
    "METRICS",
    "run_metrics",
    "funnel",
    "stage_conversion",
    "time_in_stage",
    "cac_by_channel",
]


class MetricInfo(NamedTuple):
    """What a metric means and which way is better."""

    label: str
    convention: str
    higher_is_better: bool


METRICS: dict[str, MetricInfo] = {
    "profit": MetricInfo("profit", "margin x revenue - marketing cost (economics.margin)", True),
    "revenue": MetricInfo("revenue", "sum of all order values over the horizon", True),
    "marketing_cost": MetricInfo(
        "marketing cost", "all ledger charges: contacts, monthly fees, redemptions, rewards", False
    ),
    "roi": MetricInfo(
        "ROI (blended)",
        "(margin x revenue - marketing cost) / marketing cost: blended, i.e. the revenue people "
        "would bring without marketing counts as a return (see ROI (incremental)); undefined "
        "without spend",
        True,
    ),
    "clv": MetricInfo(
        "CLV (realised)",
        "margin x revenue, over the horizon, of the customers acquired during it / their count: "
        "horizon-truncated (no forward-looking tail), undiscounted, gross of acquisition cost",
        True,
    ),
    "cac": MetricInfo(
        "CAC (blended)",
        "acquisition-group marketing cost / all customers acquired during the horizon, organic "
        "ones included (see CAC (incremental))",
        False,
    ),
    "customers_acquired": MetricInfo(
        "customers acquired", "people who first reached a customer stage during the horizon", True
    ),
    "conversion_rate": MetricInfo(
        "new-customer conversion",
        "customers acquired / people who were not customers at the start",
        True,
    ),
    "customers_end": MetricInfo(
        "customers at end", "people in a customer stage on the last day", True
    ),
    "churn_rate": MetricInfo(
        "churn rate (cohort)",
        "of people who were customers at any time, the share in a churned stage at the end",
        False,
    ),
    "churn_rate_period": MetricInfo(
        "churn rate (per period)",
        "mean over budget periods of (customers at start - those of them still customers at "
        "the end) / customers at start: the seeds' formula with new customers excluded",
        False,
    ),
    "revenue_churn": MetricInfo(
        "revenue churn (per period)",
        "mean over periods of (R_prev - (R_now - R_new)) / R_prev, R = revenue in the period, "
        "R_new = revenue from people who bought nothing in the previous period",
        False,
    ),
    "repeat_purchase_rate": MetricInfo(
        "repeat purchase rate", "people with 2+ orders / people with 1+ orders", True
    ),
    "nps": MetricInfo(
        "NPS",
        "% promoters (9-10) - % detractors (0-6) among people ever customers; score = "
        "round(10 x satisfaction + N(0, 1.5)) clipped to 0-10",
        True,
    ),
    "coupon_redemption_rate": MetricInfo(
        "coupon redemption rate", "single-use offers redeemed / offers issued", True
    ),
}


def _periods(res: SimulationResult) -> tuple[np.ndarray, np.ndarray]:
    """Period index of every purchase and the period boundaries (end days)."""
    p = res.scenario.budget.period_days
    ends = np.arange(p - 1, res.days, p)
    if len(ends) == 0 or ends[-1] != res.days - 1:
        ends = np.append(ends, res.days - 1)
    per = np.searchsorted(ends, res.purchases["day"].to_numpy())
    return per, ends


def _churn_period(res: SimulationResult) -> float:
    snaps = res.customer_snapshots
    if snaps is None or snaps.shape[1] < 2:
        return float("nan")
    m = snaps.to_numpy()
    start, end = m[:, :-1], m[:, 1:]
    c0 = start.sum(axis=0)
    kept = (start & end).sum(axis=0)
    ok = c0 > 0
    return float(np.mean((c0[ok] - kept[ok]) / c0[ok])) if ok.any() else float("nan")


def _revenue_churn(res: SimulationResult) -> float:
    per, ends = _periods(res)
    k = len(ends)
    if k < 2 or not len(per):
        return float("nan")
    person = res.purchases["person"].to_numpy()
    amount = res.purchases["amount"].to_numpy()
    n = res.customers  # each period's revenue per person, summed in the orders' order
    rev = np.bincount(per * n + person, weights=amount, minlength=k * n).reshape(k, n)
    prev, now = rev[:-1], rev[1:]
    r_prev = prev.sum(axis=1)
    r_now = now.sum(axis=1)
    r_new = (now * (prev == 0)).sum(axis=1)
    ok = r_prev > 0
    if not ok.any():
        return float("nan")
    return float(np.mean((r_prev[ok] - (r_now[ok] - r_new[ok])) / r_prev[ok]))


def _kind_of_stage(stage: pd.Series, kinds: dict[str, str]) -> np.ndarray:
    """Each person's stage kind (``prospect``, ``customer``, ...; None if unknown)."""
    if isinstance(stage.dtype, pd.CategoricalDtype):  # one lookup per category
        lut = np.array([kinds.get(str(c)) for c in stage.cat.categories] + [None], dtype=object)
        return lut[stage.cat.codes.to_numpy()]  # code -1 (missing): the None at the end
    return np.array([kinds.get(str(s)) for s in stage], dtype=object)


def run_metrics(res: SimulationResult) -> dict[str, float]:
    """Scalar metrics of one run (conventions in :data:`METRICS`).

    Parameters
    ----------
    res : SimulationResult

    Returns
    -------
    dict of str to float
        NaN where a metric is undefined (e.g. ROI without spend).
    """
    margin = res.scenario.economics.margin
    people = res.people
    revenue = res.revenue_total
    cost = res.marketing_cost
    fcd = people["first_customer_day"].to_numpy()
    initial = people["initial_customer"].to_numpy()
    acquired = (fcd >= 0) & ~initial
    n_acq = int(acquired.sum())
    ever = fcd >= 0
    kinds = dict(zip(res.stage_names, res.stage_kinds, strict=True))
    stage = _kind_of_stage(people["stage"], kinds)
    orders = people["purchases"].to_numpy()
    rev_pp = people["revenue"].to_numpy()
    tac = res.tactics if res.tactics is not None else pd.DataFrame()
    acq_cost = float(tac.loc[tac["group"] == "acquisition", "cost"].sum()) if len(tac) else 0.0
    issued = int(tac["issued"].sum()) if len(tac) else 0
    redeemed = int(tac["redeemed"].sum()) if len(tac) else 0
    nps = float("nan")
    if ever.any():
        sc = people["nps_score"].to_numpy()[ever]
        nps = float(100.0 * (np.mean(sc >= 9) - np.mean(sc <= 6)))
    prospects = int((~initial).sum())
    return {
        "profit": margin * revenue - cost,
        "revenue": revenue,
        "marketing_cost": cost,
        "roi": (margin * revenue - cost) / cost if cost > 0 else float("nan"),
        "clv": margin * float(rev_pp[acquired].sum()) / n_acq if n_acq else float("nan"),
        "cac": acq_cost / n_acq if n_acq else float("nan"),
        "customers_acquired": float(n_acq),
        "conversion_rate": n_acq / prospects if prospects else float("nan"),
        "customers_end": float((stage == "customer").sum()),
        "churn_rate": float(((stage == "churned") & ever).sum() / ever.sum())
        if ever.any()
        else float("nan"),
        "churn_rate_period": _churn_period(res),
        "revenue_churn": _revenue_churn(res),
        "repeat_purchase_rate": float((orders >= 2).sum() / (orders >= 1).sum())
        if (orders >= 1).any()
        else float("nan"),
        "nps": nps,
        "coupon_redemption_rate": redeemed / issued if issued else float("nan"),
    }


def funnel(res: SimulationResult) -> pd.Series:
    """Share of people who were ever in each stage during the run (start included)."""
    n = res.customers
    ev = res.events
    reached = np.zeros((len(res.stage_names),), dtype=np.int64)
    init_stage = _initial_stage(res)
    for k, _s in enumerate(res.stage_names):
        who = ev.loc[ev["to_stage"].cat.codes.to_numpy() == k, "person"].to_numpy()
        mask = np.zeros(n, dtype=bool)
        mask[who] = True
        mask |= init_stage == k
        reached[k] = mask.sum()
    return pd.Series(reached / n, index=pd.Index(res.stage_names, name="stage"), name="ever_in")


def _initial_stage(res: SimulationResult) -> np.ndarray:
    """Stage code of every person at the start of day 0."""
    return res.people["initial_stage"].cat.codes.to_numpy()


def stage_conversion(res: SimulationResult) -> pd.DataFrame:
    """Count moves between stages, with their share of exits and daily hazard.

    The daily hazard is moves / person-days at risk in the source stage (people in it at the
    start of each day).
    """
    ev = res.events
    moves = ev.groupby(["from_stage", "to_stage"], observed=True).size().rename("moves")
    exits = moves.groupby(level=0, observed=True).transform("sum")
    init = np.bincount(_initial_stage(res), minlength=len(res.stage_names))
    start_of_day = res.stage_counts.sum(axis=0) - res.stage_counts.iloc[-1] + init
    out = moves.to_frame()
    out["share_of_exits"] = moves / exits
    src = out.index.get_level_values(0).astype(str)
    out["daily_hazard"] = moves.to_numpy() / start_of_day.loc[src].to_numpy()
    return out.reset_index()


def time_in_stage(res: SimulationResult) -> pd.DataFrame:
    """Mean and median days per completed stay in each stage (stays cut by the horizon excluded)."""
    ev = res.events.sort_values(["person", "day"], kind="stable")
    person = ev["person"].to_numpy()
    day = ev["day"].to_numpy().astype(np.int64)
    same = person[1:] == person[:-1]
    spell = (day[1:] - day[:-1])[same]
    stage = ev["to_stage"].to_numpy()[:-1][same]
    df = pd.DataFrame({"stage": stage, "days": spell})
    out = df.groupby("stage", observed=True)["days"].agg(["count", "mean", "median"])
    return out.rename(columns={"count": "stays"}).reset_index()


def cac_by_channel(res: SimulationResult) -> pd.DataFrame:
    """Acquisition cost per customer, by channel.

    Convention (last touch): a channel's cost is the spend on its acquisition-group tactics;
    its customers are those whose move into a customer stage was caused by one of its tactics
    (a tactic that only moved people earlier in the funnel gets no customers).
    """
    tac = res.tactics
    if tac is None or not len(tac):
        return pd.DataFrame(columns=["channel", "cost", "customers", "cac"])
    people = res.people
    acquired = (people["first_customer_day"] >= 0) & ~people["initial_customer"]
    by_tactic = people.loc[acquired, "acquired_by"].astype(str).value_counts()
    t = tac.assign(customers=tac["tactic"].map(by_tactic).fillna(0).astype(int))
    t = t[t["group"] == "acquisition"]
    out = t.groupby("channel")[["cost", "customers"]].sum()
    out["cac"] = out["cost"] / out["customers"].where(out["customers"] > 0)
    return out.reset_index()
