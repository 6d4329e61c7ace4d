"""Vectorised features and labels equal a plain pandas reference on random logs."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from lifesim.churn import build_dataset, prepare


def reference(df: pd.DataFrame, t: int, h: int) -> pd.DataFrame:
    """The definitions, written the slow and obvious way (groupby + apply)."""
    past = df[df["day"] <= t]
    future = df[(df["day"] > t) & (df["day"] <= t + h)]

    def one(g: pd.DataFrame) -> pd.Series:
        days = np.sort(g["day"].unique())
        gaps = np.diff(days)
        return pd.Series(
            {
                "recency": t - days[-1],
                "tenure": t - days[0],
                "frequency": len(g),
                "monetary": g["amount"].sum(),
                "visits": len(days),
                "ipt_mean": gaps.mean() if len(gaps) else np.nan,
                "ipt_max": gaps.max() if len(gaps) else np.nan,
                "visits_30d": int((days > t - 30).sum()),
                "churned": int(g.name not in set(future["customer_id"])),
            }
        )

    return past.groupby("customer_id").apply(one, include_groups=False)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), t=st.integers(10, 120), h=st.integers(1, 79))
def test_matches_reference(seed, t, h):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    df = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 40, n),
            "day": rng.integers(0, 200, n),
            "amount": rng.gamma(2, 10, n),
        }
    )
    log = prepare(df, observed_until=199)
    if not (df["day"] <= t).any():
        return
    ds = build_dataset(log, t, h)
    ref = reference(df, t, h)
    got = ds.X.assign(churned=ds.y)[ref.columns].astype(float)
    pd.testing.assert_frame_equal(got, ref.astype(float), check_names=False, atol=1e-9)
