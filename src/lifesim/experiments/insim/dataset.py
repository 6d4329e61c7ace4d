"""Per-person metric windows and the experiment dataset (the format ``lifesim ab analyze`` reads).

Conventions (every metric is read per person; the window opens on the assignment day):

- ``converted``: 1 if the person's first day as a customer falls inside the window (people who
  were customers before the window, including those who started as customers, count 0).
- ``purchased``: 1 if the person made a purchase inside the window; ``orders``: how many.
- ``revenue``: order value inside the window.
- ``retained``: 1 if, at the end of the window's last day, the person is in a stage of kind
  ``customer`` (not a prospect, not churned).
- ``cost``: marketing cost attributed to the person inside the window: ``cost.per_contact`` of
  each contact, plus ``cost.per_redemption`` of each purchase caused by a single-use offer.
  Monthly fees and referral rewards belong to an arm, not to a person, and are not attributed.
- ``profit``: ``economics.margin`` x revenue - cost (CLV when the window runs to the horizon).

Pre-period covariates (for CUPED), measured before the assignment day: ``pre_revenue``,
``pre_orders`` and ``pre_customer`` (in a customer stage at the start of the assignment day).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lifesim.config.experiment import METRIC_KINDS, Experiment
from lifesim.config.scenario import NOT_ARRIVED

__all__ = [
    "stage_at",
    "stage_at_assignment",
    "metric_values",
    "person_frame",
    "COVARIATE_OF",
    "is_proportion",
]

#: Pre-period covariate used by CUPED for each metric kind (0/1 outcomes too: a regression
#: adjustment of the mean; people who were customers before the start cannot convert).
COVARIATE_OF = {
    "converted": "pre_customer",
    "purchased": "pre_orders",
    "retained": "pre_customer",
    "orders": "pre_orders",
    "revenue": "pre_revenue",
    "cost": "pre_revenue",
    "profit": "pre_revenue",
}


def is_proportion(kind: str) -> bool:
    """Whether a metric kind is a 0/1 outcome (analysed as a proportion)."""
    return METRIC_KINDS[kind][1]


def _initial_stage(res: Any) -> np.ndarray:
    """Stage code of each person at the start of day 0."""
    return res.people["initial_stage"].cat.codes.to_numpy().astype(np.int16)


def stage_at(res: Any, day: int, initial: np.ndarray | None = None) -> np.ndarray:
    """Stage code of each person at the end of ``day`` (``day = -1``: at the start of day 0).

    Parameters
    ----------
    res : SimulationResult
        A run with its event log recorded.
    day : int
    initial : ndarray, optional
        Stage codes at the start of day 0 (computed if not given).

    Returns
    -------
    ndarray of int16
    """
    stage = _initial_stage(res) if initial is None else initial.copy()
    ev = res.events
    if len(ev) and day >= 0:
        days = ev["day"].to_numpy()
        k = int(np.searchsorted(days, day, side="right"))  # events are in day order
        if k:
            sub_p = ev["person"].to_numpy()[:k]
            last = ~pd.Series(sub_p).duplicated(keep="last").to_numpy()
            stage[sub_p[last]] = ev["to_stage"].cat.codes.to_numpy()[:k][last]
    return stage


def stage_at_assignment(res: Any, start: int) -> np.ndarray:
    """Stage code of each person when the strategies decide on day ``start`` (the assignment).

    The engine moves a day's arrivals (``market.arrivals``) into the market before the
    strategies decide, and people between stages after: these are the stages at the end of
    ``start - 1`` with the arrivals of day ``start`` in their entry stage, what an arm router
    sees when the exposure window opens. Assigning from them after a run in which no arm acted
    gives the same units as a run in which one did.
    """
    stage = stage_at(res, start - 1)
    ev = res.events
    cats = ev["from_stage"].cat.categories
    if len(ev) and NOT_ARRIVED in cats:
        came = (ev["day"].to_numpy() == start) & (
            ev["from_stage"].cat.codes.to_numpy() == cats.get_loc(NOT_ARRIVED)
        )
        stage[ev["person"].to_numpy()[came]] = ev["to_stage"].cat.codes.to_numpy()[came]
    return stage


def _window_sums(res: Any, lo: int, hi: int, weights: np.ndarray | None = None) -> np.ndarray:
    pur = res.purchases
    d = pur["day"].to_numpy()
    i, j = np.searchsorted(d, lo, side="left"), np.searchsorted(d, hi, side="left")
    who = pur["person"].to_numpy()[i:j]
    w = None if weights is None else weights[i:j]
    return np.bincount(who, weights=w, minlength=res.customers).astype(float)


def metric_values(
    res: Any,
    exp: Experiment,
    contact_cost: Any,
    initial: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Compute every metric of ``exp`` for every person of a run.

    Parameters
    ----------
    res : SimulationResult
    exp : Experiment
    contact_cost : callable(lo, hi) -> ndarray
        Attributed contact cost per person over days ``[lo, hi)`` (from the arm router's log).
    initial : ndarray, optional
        Stage codes at the start of day 0.

    Returns
    -------
    dict of str to ndarray
        Metric name -> value per person (int8 for proportions, float64 otherwise).
    """
    scn = res.scenario
    days = res.days
    initial = _initial_stage(res) if initial is None else initial
    kinds = np.array([k == "customer" for k in res.stage_kinds])
    pur = res.purchases
    amount = pur["amount"].to_numpy()
    single = {t for t, spec in scn.tactics.items() if spec.single_use}
    redeem_unit = np.zeros(len(pur))
    if len(pur) and single:
        cause = pur["cause"].astype(str).to_numpy()
        for t in single:
            redeem_unit[cause == t] = scn.tactics[t].cost.per_redemption
    first = res.people["first_customer_day"].to_numpy().astype(np.int32)
    initial_customer = res.people["initial_customer"].to_numpy().astype(bool)
    out: dict[str, np.ndarray] = {}
    for name, m in exp.metrics.items():
        lo, hi = exp.window(name, days)
        if m.kind == "converted":
            v = ((first >= lo) & (first < hi) & ~initial_customer).astype(np.int8)
        elif m.kind == "retained":
            v = kinds[stage_at(res, hi - 1, initial)].astype(np.int8)
        elif m.kind in ("purchased", "orders"):
            cnt = _window_sums(res, lo, hi)
            v = (cnt > 0).astype(np.int8) if m.kind == "purchased" else cnt
        else:
            rev = _window_sums(res, lo, hi, amount)
            cost = contact_cost(lo, hi) + _window_sums(res, lo, hi, redeem_unit)
            if m.kind == "revenue":
                v = rev
            elif m.kind == "cost":
                v = cost
            else:
                v = scn.economics.margin * rev - cost
        out[name] = v
    return out


def person_frame(
    res: Any,
    exp: Experiment,
    arm_labels: list[str],
    assignment: np.ndarray,
    contact_cost: Any,
    cluster: int | None = None,
) -> pd.DataFrame:
    """Build the per-person experiment dataset of one run: arm, pre-period covariates, metrics.

    Parameters
    ----------
    res : SimulationResult
    exp : Experiment
    arm_labels : list of str
        Arm labels in arm-index order.
    assignment : ndarray of int
        Arm index per person (``-1``: not in the experiment; left out of the dataset).
    contact_cost : callable(lo, hi) -> ndarray
    cluster : int, optional
        Region number (market-level designs); adds a ``cluster`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``person``, [``cluster``], ``arm``, ``segment``, ``stage_at_start``,
        ``pre_customer``, ``pre_orders``, ``pre_revenue``, then one column per metric.
    """
    n = res.customers
    initial = _initial_stage(res)
    start = exp.start
    at_start = stage_at(res, start - 1, initial)
    kinds = np.array([k == "customer" for k in res.stage_kinds])
    names = np.array(res.stage_names, dtype=object)
    labels = np.array(arm_labels, dtype=object)
    assignment = np.asarray(assignment, dtype=np.int64)
    cols: dict[str, Any] = {"person": np.arange(n, dtype=np.int64)}
    if cluster is not None:
        cols["cluster"] = np.full(n, cluster, dtype=np.int64)
    cols["arm"] = labels[np.maximum(assignment, 0)]
    cols["segment"] = res.people["segment"].astype(str).to_numpy()
    cols["stage_at_start"] = names[at_start]
    cols["pre_customer"] = kinds[at_start].astype(np.int8)
    cols["pre_orders"] = _window_sums(res, 0, start)
    cols["pre_revenue"] = _window_sums(res, 0, start, res.purchases["amount"].to_numpy())
    cols.update(metric_values(res, exp, contact_cost, initial))
    df = pd.DataFrame(cols)
    if (assignment < 0).any():  # people outside the experiment are not in its dataset
        df = df[assignment >= 0].reset_index(drop=True)
    return df


def cluster_frame(people: pd.DataFrame, exp: Experiment) -> pd.DataFrame:
    """Cluster means of the metrics and covariates: one row per region (market-level designs)."""
    value_cols = ["pre_customer", "pre_orders", "pre_revenue", *exp.metrics]
    g = people.groupby("cluster", sort=True)
    out = g[value_cols].mean().astype(float)
    out.insert(0, "people", g.size())
    out.insert(0, "arm", g["arm"].first())
    return out.reset_index()
