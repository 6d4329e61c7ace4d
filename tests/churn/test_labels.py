import pandas as pd
import pytest

from lifesim.churn import TransactionSchema, build_dataset, define, prepare
from lifesim.errors import DataError


def test_non_contractual_definition_is_explicit(tiny):
    log = prepare(tiny, observed_until=20)
    d = define(log, 10, 10)
    assert d.describe() == (
        "churned = no purchase in (day 10, day 20] (10 days), among customers with at least "
        "one purchase on or before day 10 [non-contractual]"
    )
    assert d.to_dict()["text"] == d.describe()


def test_boundaries_purchase_on_T_counts_before_and_on_T_plus_h_counts_inside(tiny):
    log = prepare(tiny, observed_until=20)
    # a's next purchase is on day 15: inside (8, 15] -> stays; inside (8, 14] -> churns
    assert build_dataset(log, 8, 7).y["a"] == 0
    assert build_dataset(log, 8, 6).y["a"] == 1
    # c buys on day 12: at risk at T=12 (on or before), not at T=11
    assert "c" in build_dataset(log, 12, 3).X.index
    assert "c" not in build_dataset(log, 11, 3).X.index


def _contract_log():
    # x: buys, cancels on day 12 (after T=10) -> churned
    # y: buys, cancels on day 5 (before T) -> not at risk
    # z: buys, cancels on day 3, comes back (buys day 6) -> at risk; no cancel after -> stays
    return pd.DataFrame(
        {
            "customer_id": ["x", "x", "y", "y", "z", "z", "z", "w"],
            "day": [1, 12, 2, 5, 1, 3, 6, 20],
            "amount": [5.0, None, 5.0, None, 5.0, None, 8.0, 1.0],  # cancellations: no amount
            "event": ["buy", "cancel", "buy", "cancel", "buy", "cancel", "buy", "buy"],
        }
    )


def test_contractual_churn_is_an_explicit_event():
    schema = TransactionSchema(event="event", churn_events=("cancel",))
    log = prepare(_contract_log(), schema=schema)
    ds = build_dataset(log, 10, 10, mode="contractual")
    assert ds.y.to_dict() == {"x": 1, "z": 0}
    assert "a churn event (cancel)" in ds.definition.describe()
    # the cancellation rows are not purchases
    assert ds.X.loc["x", "frequency"] == 1 and ds.X.loc["z", "frequency"] == 2
    # non-contractual on the same log: x makes no purchase after T -> churned
    nc = build_dataset(log, 10, 10)
    assert nc.y.to_dict() == {"x": 1, "y": 1, "z": 1}


def test_contractual_without_churn_events_is_refused(tiny):
    log = prepare(tiny, observed_until=20)
    with pytest.raises(DataError, match="no churn events"):
        define(log, 10, 5, mode="contractual")
    msg = r"mode == 'sometimes'; allowed: non-contractual, contractual"
    with pytest.raises(DataError, match=msg):
        define(log, 10, 5, mode="sometimes")


def test_no_customer_at_risk(tiny):
    # the event log starts before the first purchase: T = 2 is inside the data
    ev = pd.DataFrame({"customer_id": ["a"], "day": [0], "to_stage": ["awareness"]})
    log = prepare(tiny.assign(day=tiny["day"] + 5), events=ev, observed_until=30)
    with pytest.raises(DataError, match="no customer is at risk"):
        build_dataset(log, 2, 5)
