"""Churn labels and definitions: cases that mutation testing found unpinned.

Every expected label below is worked out by hand from the log in the comments, not from the
code (benchmarks/mutation.py).
"""

import numpy as np
import pandas as pd
import pytest

from lifesim.churn import TransactionSchema, define, prepare
from lifesim.churn.labels import label_customers
from lifesim.errors import DataError

SCHEMA = TransactionSchema(stage="stage", churn_events=("cancelled", "lapsed"))


def _log():
    """Purchases plus a stage log; T = 10, horizon 10 -> window (10, 20].

    p: buys 1, cancelled 3, reactivated 6 (a non-churn event after the churn) -> at risk;
       cancelled 14 -> churned
    q: buys 1, cancelled 5, a login on 12 (after T) -> not at risk (churned at T)
    r: buys 2, cancelled on 10 = T -> not at risk (a churn event on T counts before)
    s: buys 2, nothing else -> at risk, not churned
    t: buys 4, lapsed on 20 = T + horizon -> churned (the window is closed at its end)
    v: buys 7 and is cancelled on 7 (same day) -> not at risk (churn on the last event day)
    zz: buys on 15 only -> not at risk (the last customer by position)
    """
    buys = pd.DataFrame(
        {
            "customer_id": ["p", "q", "r", "s", "t", "v", "zz"],
            "day": [1, 1, 2, 2, 4, 7, 15],
            "amount": [5.0] * 7,
        }
    )
    events = pd.DataFrame(
        {
            "customer_id": ["p", "p", "p", "q", "q", "r", "t", "v"],
            "day": [3, 6, 14, 5, 12, 10, 20, 7],
            "stage": [
                "cancelled", "reactivated", "cancelled", "cancelled", "login",
                "cancelled", "lapsed", "cancelled",
            ],
        }
    )  # fmt: skip
    return prepare(buys, events=events, schema=SCHEMA)


def test_contractual_labels_by_hand():
    log = _log()
    d = define(log, 10, 10, mode="contractual")
    at_risk, y = label_customers(log, d)
    assert list(log.customers[at_risk]) == ["p", "s", "t"]
    assert y.tolist() == [1, 0, 1] and y.dtype == np.int8


def test_contractual_scoring_definition_and_dict():
    log = _log()
    d = define(log, 10, None, mode="contractual")
    assert d.end is None and d.horizon_days is None and d.time_kind == "day"
    assert d.describe() == (
        "scoring at T = day 10: customers with a purchase on or before day 10 and not churned then"
    )
    assert label_customers(log, d)[1] is None
    full = define(log, 10, 10, mode="contractual")
    assert "a churn event (cancelled, lapsed) in (day 10, day 20]" in full.describe()
    out = full.to_dict()
    assert out["churn_events"] == ["cancelled", "lapsed"]
    assert out["cutoff_day"] == 10 and out["end"] == "day 20"


def test_scoring_on_the_only_day_of_a_one_day_log():
    log = prepare(pd.DataFrame({"customer_id": ["a", "b"], "day": [5, 5], "amount": [1.0, 2.0]}))
    d = define(log, 5, None)
    assert d.cutoff_day == 5 and d.end is None


@pytest.mark.parametrize("horizon", [None, 5])
def test_cutoff_outside_the_data_names_the_option_and_the_range(horizon):
    log = _log()
    msg = (
        "cutoff == 25 is outside the data: the log runs from day 1 to day 20; allowed: on or "
        "after the first day and before the last"
    )
    with pytest.raises(DataError) as err:
        define(log, 25, horizon)
    assert str(err.value) == msg
    with pytest.raises(DataError, match=r"^--at == 0 is outside the data"):
        define(log, 0, horizon, option="--at")


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_horizon_must_be_a_whole_number_of_days(bad):
    with pytest.raises(DataError, match=rf"^horizon_days: must be a whole number >= 1, got {bad}$"):
        define(_log(), 5, bad)


def test_an_unreadable_cutoff_names_the_option():
    with pytest.raises(DataError, match=r"^cutoff == 'xyz': the time column holds integer day"):
        define(_log(), "xyz", 5)
    with pytest.raises(DataError, match=r"^--at == 'xyz': .* so --at must be an integer day$"):
        define(_log(), "xyz", None, option="--at")


def test_a_one_day_horizon_is_allowed():
    assert define(_log(), 5, 1).end == "day 6"


def test_horizon_past_the_end_says_what_fits():
    log = _log()
    with pytest.raises(DataError) as err:
        define(log, 15, 10)
    assert str(err.value) == (
        "horizon_days == 10: T + horizon = day 25 runs past the end of the data (day 20); "
        "allowed: horizon_days <= 5 at cutoff day 15, or cutoff <= day 10"
    )
    assert define(log, 15, 5).end == "day 20"  # exactly to the end is fine


def test_contractual_without_churn_events_names_the_expected_values():
    log = prepare(
        pd.DataFrame({"customer_id": ["a", "b"], "day": [1, 9], "amount": [1.0, 2.0]}),
        schema=TransactionSchema(churn_events=("cancel", "stop")),
    )
    with pytest.raises(DataError) as err:
        define(log, 5, 2, mode="contractual")
    assert str(err.value) == (
        "mode == 'contractual' but the log has no churn events (values 'cancel', 'stop' in the "
        "event/stage column); pass the events log and --churn-event, or use mode "
        "'non-contractual'"
    )


def test_no_customer_at_risk_suggests_a_later_cutoff():
    log = _log()
    d = define(log, 10, 5)
    early = d.__class__(**{**d.__dict__, "cutoff": "day 0", "cutoff_day": 0})
    with pytest.raises(DataError) as err:
        label_customers(log, early)
    assert str(err.value) == (
        "cutoff day 0: no customer is at risk (none has a purchase on or before it); "
        "choose a later cutoff"
    )
