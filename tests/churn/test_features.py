import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifesim.churn import FeatureSpec, TransactionSchema, build_dataset, build_features, prepare


def test_tiny_log_features_by_hand(tiny):
    log = prepare(tiny, observed_until=20)
    ds = build_dataset(log, cutoff=10, horizon_days=10)
    assert list(ds.X.index) == ["a", "b"]  # c first buys on day 12: not at risk at T=10
    assert ds.y.to_dict() == {"a": 0, "b": 1}  # a buys on day 15; b never again
    a, b = ds.X.loc["a"], ds.X.loc["b"]
    assert a["recency"] == 2 and a["tenure"] == 10
    assert a["frequency"] == 4 and a["visits"] == 3  # two orders on day 2: one visit
    assert a["monetary"] == 60 and a["max_order"] == 30
    assert a["avg_visit_value"] == 20 and a["last_visit_value"] == 30
    assert a["ipt_mean"] == 4 and a["ipt_max"] == 6  # gaps 2 and 6
    assert a["ipt_std"] == pytest.approx(np.sqrt(8))
    assert a["overdue"] == pytest.approx(0.5)
    assert a["rate_30d"] == pytest.approx(30 * 3 / 11)
    assert a["visits_30d"] == 3 and a["spend_30d"] == 60
    assert a["trend"] == pytest.approx(3 / 4)
    assert b["recency"] == 5 and b["frequency"] == 1 and b["monetary"] == 7
    assert np.isnan(b["ipt_mean"]) and np.isnan(b["overdue"])


def test_windows_count_only_recent_visits(tiny):
    log = prepare(tiny, observed_until=20)
    X = build_features(log, 10, spec=FeatureSpec(windows=(3, 9))).X
    assert X.loc["a", "visits_3d"] == 1  # day 8 only: (7, 10]
    assert X.loc["a", "visits_9d"] == 2  # days 2 and 8: (1, 10]
    assert X.loc["a", "spend_9d"] == 50


def test_scoring_without_horizon_has_no_labels_and_allows_last_day(tiny):
    log = prepare(tiny, observed_until=20)
    ds = build_features(log, 20)
    assert ds.y is None and set(ds.X.index) == {"a", "b", "c"}
    assert ds.X.loc["c", "recency"] == 8


def test_dates_resolve_to_calendar_days():
    df = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "date": ["2024-01-01 09:00", "2024-01-05 23:59", "2024-01-03", "2024-02-01"],
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    log = prepare(df)
    ds = build_dataset(log, "2024-01-05", horizon_days=27)
    assert ds.X.loc[1, "recency"] == 0  # 23:59 on the cutoff day counts as on or before T
    assert ds.y.to_dict() == {1: 1, 2: 0}
    assert ds.definition.cutoff == "2024-01-05" and ds.definition.end == "2024-02-01"


def _random_log(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, 60, n),
            "day": rng.integers(0, 200, n),
            "amount": rng.gamma(2, 10, n).round(2),
            "satisfaction": rng.random(n),
        }
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    cutoff=st.integers(20, 150),
    change=st.sampled_from(["amounts", "drop", "add", "shift"]),
)
def test_no_leakage_changing_data_after_T_changes_no_feature(seed, cutoff, change):
    df = _random_log(seed)
    ev = pd.DataFrame(
        {
            "customer_id": df["customer_id"],
            "day": df["day"],
            "to_stage": pd.Categorical(
                np.where(df["amount"] > 20, "retention", "churned"),
                categories=["retention", "churned"],
            ),
            "cause": np.where(df["amount"] > 30, "email", "organic"),
        }
    )
    spec_log = prepare(df, events=ev, observed_until=199)
    before = build_features(spec_log, cutoff).X
    after_t = df["day"] > cutoff
    df2, ev2 = df.copy(), ev.copy()
    rng = np.random.default_rng(seed + 1)
    if change == "amounts":
        df2.loc[after_t, "amount"] = rng.gamma(2, 100, after_t.sum())
        df2.loc[after_t, "satisfaction"] = 0.0
        ev2.loc[ev2["day"] > cutoff, "cause"] = "sms"
    elif change == "drop":
        df2, ev2 = df2[~after_t], ev2[ev2["day"] <= cutoff]
    elif change == "add":
        extra = pd.DataFrame(
            {
                "customer_id": [999, 0, 1],
                "day": [cutoff + 1] * 3,
                "amount": [5.0] * 3,
                "satisfaction": [0.1] * 3,
            }
        )
        df2 = pd.concat([df2, extra], ignore_index=True)
    else:
        df2.loc[after_t, "day"] = 199
    log2 = prepare(df2, events=ev2, observed_until=199)
    after = build_features(log2, cutoff, spec=build_features(spec_log, cutoff).spec).X
    pd.testing.assert_frame_equal(before.sort_index(), after.sort_index())


def test_satisfaction_and_event_features(tiny):
    ev = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "a"],
            "day": [1, 9, 4, 12],
            "to_stage": ["purchase", "retention", "churned", "advocacy"],
            "cause": ["organic", "email", "email", "email"],
            "satisfaction": [0.5, 0.9, 0.1, 0.0],
        }
    )
    log = prepare(tiny, events=ev, observed_until=20)
    X = build_features(log, 10).X
    assert X.loc["a", "stage"] == "retention" and X.loc["b", "stage"] == "churned"
    assert X.loc["a", "days_in_stage"] == 1 and X.loc["a", "moves"] == 2
    assert X.loc["b", "past_churns"] == 1 and X.loc["a", "past_churns"] == 0
    assert X.loc["a", "exp_email"] == 1 and X.loc["a", "exp_organic"] == 1
    assert X.loc["a", "exposures_30d"] == 1  # organic moves are not exposures
    assert X.loc["a", "ev_satisfaction_last"] == 0.9
    assert X.loc["a", "ev_satisfaction_mean"] == pytest.approx(0.7)


def test_schema_preset_for_the_simulator():
    s = TransactionSchema.simulation()
    assert (s.customer, s.time, s.amount, s.stage) == ("person", "day", "amount", "to_stage")


def test_vectorised_speed_smoke():
    """100k customers, ~1M rows in well under a few seconds (no per-customer loop)."""
    import time

    rng = np.random.default_rng(0)
    n = 1_000_000
    df = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 100_000, n),
            "day": rng.integers(0, 365, n),
            "amount": rng.random(n),
        }
    )
    t0 = time.perf_counter()
    log = prepare(df)
    ds = build_dataset(log, 200, 100)
    assert ds.n_customers > 90_000
    assert time.perf_counter() - t0 < 10
