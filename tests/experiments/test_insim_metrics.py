"""Metric definitions of in-simulator experiments against hand-computed values.

The truth (``true_effects``) and the experiment's dataset (``person_frame``) read their
per-person values through the same functions, so a wrong window moves estimate and truth
together and no coverage test can see it. Here a six-person event log is written by hand and
every value below is worked out by hand from the documented conventions
(:mod:`lifesim.experiments.insim.dataset`): windows are ``[start, hi)``, ``retained`` reads the
stage at the end of day ``hi - 1``, pre-period covariates read days ``[0, start)``.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lifesim import load_scenario
from lifesim.experiments.insim.dataset import metric_values, person_frame

STAGES = ["lead", "cust", "gone"]
KINDS = ("prospect", "customer", "churned")
MARGIN = 0.5
START = 3  # windows [3, 6) below


def _scenario(start=START):
    return load_scenario(
        {
            "name": "hand",
            "days": 10,
            "market": {"size": 6, "initial": "lead"},
            "stages": {
                "lead": {"to": {"cust": 0.1}},
                "cust": {"kind": "customer", "to": {"gone": 0.1}},
                "gone": {"kind": "churned"},
            },
            "economics": {"margin": MARGIN},
            "tactics": {
                "coupon": {"stages": ["cust"], "single_use": True, "cost": {"per_redemption": 2}},
                "mail": {"stages": ["cust"], "cost": {"per_contact": 1}},
            },
            "strategies": {"s": {"type": "stage_focused", "plan": {"cust": ["mail"]}}},
            "experiment": {
                "arms": {"control": "none", "t": "s"},
                "start": start,
                "metrics": {
                    "conv": {"kind": "converted", "within": 3},
                    "bought": {"kind": "purchased", "within": 3},
                    "orders": {"kind": "orders", "by": 6},
                    "revenue": {"kind": "revenue", "by": 6},
                    "retained": {"kind": "retained", "by": 6},
                    "cost": {"kind": "cost", "within": 3},
                    "profit": {"kind": "profit", "by": 6},
                    "clv": {"kind": "profit"},  # to the horizon
                },
            },
        }
    )


def _cat(values, cats):
    return pd.Categorical(values, categories=cats)


def _result(scn):
    """A hand-written run: the story of each person is in the comments."""
    # p0: lead, customer on day 2 (before the window)
    # p1: lead, customer on day 3 (first day of the window)
    # p2: lead, customer on day 5 (last day of the window)
    # p3: lead, customer on day 6 (first day after the window)
    # p4: customer from the start, churns on day 5
    # p5: customer from the start, churns on day 6
    events = pd.DataFrame(
        {
            "person": [0, 1, 2, 4, 3, 5],
            "day": [2, 3, 5, 5, 6, 6],
            "from_stage": _cat(["lead", "lead", "lead", "cust", "lead", "cust"], STAGES),
            "to_stage": _cat(["cust", "cust", "cust", "gone", "cust", "gone"], STAGES),
        }
    )
    purchases = pd.DataFrame(  # in day order, as the engine writes them
        {
            "person": [0, 0, 4, 4, 1, 2, 0],
            "day": [2, 3, 3, 4, 5, 6, 9],
            "amount": [10.0, 20.0, 1.0, 2.0, 7.0, 100.0, 1000.0],
            "cause": _cat(["organic"] * 4 + ["coupon"] + ["organic"] * 2, ["organic", "coupon"]),
        }
    )
    people = pd.DataFrame(
        {
            "segment": _cat(["all"] * 6, ["all"]),
            "initial_stage": _cat(["lead"] * 4 + ["cust"] * 2, STAGES),
            "initial_customer": [False] * 4 + [True] * 2,
            "first_customer_day": np.array([2, 3, 5, 6, 0, 0], dtype=np.int16),
        }
    )
    return SimpleNamespace(
        scenario=scn,
        days=scn.days,
        customers=6,
        stage_names=tuple(STAGES),
        stage_kinds=KINDS,
        events=events,
        purchases=purchases,
        people=people,
    )


# contacts: (person, day, cost); only days 3, 4, 5 fall in the window
CONTACTS = [(0, 2, 1.0), (1, 3, 1.0), (3, 5, 0.5), (5, 6, 1.0), (5, 6, 1.0)]


def _contact_cost(lo, hi):
    out = np.zeros(6)
    for p, d, c in CONTACTS:
        if lo <= d < hi:
            out[p] += c
    return out


HAND = {
    # p:      0     1     2     3     4    5
    "conv": [0, 1, 1, 0, 0, 0],  # first customer day in 3..5, not a customer before
    "bought": [1, 1, 0, 0, 1, 0],  # an order on days 3..5
    "orders": [1, 1, 0, 0, 2, 0],
    "revenue": [20.0, 7.0, 0.0, 0.0, 3.0, 0.0],
    "retained": [1, 1, 1, 0, 0, 1],  # a customer at the end of day 5
    # contacts on days 3..5 plus the coupon redemption (2) of p1 on day 5
    "cost": [0.0, 3.0, 0.0, 0.5, 0.0, 0.0],
    "profit": [10.0, 0.5, 0.0, -0.5, 1.5, 0.0],  # 0.5 x revenue - cost
    # to the horizon (days 3..9): p0 also buys 1000 on day 9, p2 100 on day 6, p5 pays 2 x 1
    "clv": [510.0, 0.5, 50.0, -0.5, 1.5, -2.0],
}


@pytest.mark.parametrize("metric", list(HAND))
def test_metric_values_match_hand_computed_values(metric):
    scn = _scenario()
    got = metric_values(_result(scn), scn.experiment, _contact_cost)
    assert got[metric].tolist() == pytest.approx(HAND[metric]), metric


def test_person_frame_covariates_and_outsiders_match_hand_computed_values():
    scn = _scenario()
    assignment = np.array([0, 1, 0, 1, -1, 0])  # p4 is outside the experiment
    df = person_frame(_result(scn), scn.experiment, ["control", "t"], assignment, _contact_cost)
    assert df["person"].tolist() == [0, 1, 2, 3, 5]
    assert df["arm"].tolist() == ["control", "t", "control", "t", "control"]
    # the start of day 3 = the end of day 2: p0 has just become a customer
    assert df["stage_at_start"].tolist() == ["cust", "lead", "lead", "lead", "cust"]
    assert df["pre_customer"].tolist() == [1, 0, 0, 0, 1]
    assert df["pre_orders"].tolist() == [1, 0, 0, 0, 0]  # days 0..2
    assert df["pre_revenue"].tolist() == [10.0, 0, 0, 0, 0]
    keep = [0, 1, 2, 3, 5]
    for m, values in HAND.items():
        assert df[m].tolist() == pytest.approx([values[i] for i in keep]), m


def test_windows_opening_on_day_0_leave_out_the_initial_customers():
    scn = _scenario(start=0)  # conv: days 0..2; bought: days 0..2; retained: end of day 5
    got = metric_values(_result(scn), scn.experiment, _contact_cost)
    # p4 and p5 have first_customer_day 0 but were customers before the window opened
    assert got["conv"].tolist() == [1, 0, 0, 0, 0, 0]
    assert got["bought"].tolist() == [1, 0, 0, 0, 0, 0]  # p0's order on day 2
    assert got["cost"].tolist() == [1.0, 0, 0, 0, 0, 0]  # p0's contact on day 2
