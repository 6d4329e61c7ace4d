"""Same numbers from every input: pandas, polars, CSV, Parquet, chunks, pre-aggregated sums."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifesim import ab

METRICS = [
    ab.Proportion("converted"),
    ab.Mean("revenue", covariate="pre_revenue"),
    ab.Ratio("clicks", "sessions"),
]


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(5)
    n = 5000
    pre = rng.gamma(2, 10, n)
    return pd.DataFrame(
        {
            "variant": rng.choice(["control", "b"], n),
            "converted": (rng.random(n) < 0.2).astype(int),
            "revenue": 1e6 + 0.5 * pre + rng.normal(0, 3, n),  # big offset: no cancellation
            "pre_revenue": pre,
            "clicks": rng.poisson(2, n),
            "sessions": rng.poisson(3, n) + 1,
        }
    )


def numbers(res):
    return res.to_pandas().select_dtypes("number").to_numpy(dtype=float)


def test_public_api_is_pinned():
    expected = {
        "analyze", "aggregate", "analyze_aggregates", "Aggregates", "Proportion", "Mean",
        "Ratio", "Metric", "ABResult", "Comparison", "SRMCheck",
        "power", "sample_size", "mde", "PowerResult", "Moments", "forest_plot", "render_html",
        "P_FLOOR", "SRM_THRESHOLD", "sequential", "SequentialResult", "Look", "Decision",
        "gsd_boundaries", "gsd_plan", "bayes", "BayesResult", "Posterior", "segments",
        "SegmentResult", "SegmentEffect", "Heterogeneity",
    }  # fmt: skip
    assert set(ab.__all__) == expected
    for name in ab.__all__:
        assert hasattr(ab, name)


def test_pandas_polars_csv_parquet_agree(df, tmp_path):
    pl = pytest.importorskip("polars")
    base = numbers(ab.analyze(df, arm="variant", metrics=METRICS))
    df.to_csv(tmp_path / "x.csv", index=False)
    df.to_parquet(tmp_path / "x.parquet")
    for data in (pl.from_pandas(df), pl.from_pandas(df).lazy(), tmp_path / "x.csv",
                 str(tmp_path / "x.parquet")):  # fmt: skip
        np.testing.assert_allclose(
            numbers(ab.analyze(data, arm="variant", metrics=METRICS)), base, rtol=1e-9
        )


def test_polars_bad_data_messages(df):
    pl = pytest.importorskip("polars")
    bad = pl.from_pandas(df).with_columns(pl.col("revenue").cast(pl.String))
    bad = bad.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("oops")).otherwise(pl.col("revenue"))
        .alias("revenue")
    )  # fmt: skip
    with pytest.raises(ab.analyze.__globals__["DataError"], match=r"row 3: 'oops'"):
        ab.analyze(bad, arm="variant", metrics=["mean:revenue"])
    nulls = pl.from_pandas(df).with_columns(
        pl.when(pl.int_range(pl.len()) == 2)
        .then(None)
        .otherwise(pl.col("variant"))
        .alias("variant")
    )
    with pytest.raises(ValueError, match=r"arm column 'variant' has 1 missing values \(row 2\)"):
        ab.analyze(nulls, arm="variant", metrics=["converted"])


def test_integer_arms_and_categorical(df):
    d = df.assign(variant=(df.variant == "b").astype(int))
    res = ab.analyze(d, arm="variant", control="0", metrics=["converted"])
    assert res.n == {"0": int((d.variant == 0).sum()), "1": int((d.variant == 1).sum())}
    cat = df.assign(variant=df.variant.astype("category"))
    np.testing.assert_allclose(
        numbers(ab.analyze(cat, arm="variant", metrics=METRICS)),
        numbers(ab.analyze(df, arm="variant", metrics=METRICS)),
        rtol=1e-12,
    )


def test_chunks_and_pre_aggregated_sums_give_the_same_moments(df):
    codes = (df.variant == "b").to_numpy().astype(np.intp)
    cols = ["revenue", "pre_revenue"]
    arrays = [df[c].to_numpy(float) for c in cols]
    full = ab.Moments.from_arrays(codes, 2, arrays, cols)
    parts = [
        ab.Moments.from_arrays(codes[s], 2, [a[s] for a in arrays], cols)
        for s in (slice(0, 1234), slice(1234, 4000), slice(4000, None))
    ]
    merged = parts[0] + parts[1] + parts[2]
    np.testing.assert_array_equal(merged.n, full.n)
    np.testing.assert_allclose(merged.mean, full.mean, rtol=1e-13)
    np.testing.assert_allclose(merged.comoment, full.comoment, rtol=1e-9)
    # what SQL would give: COUNT, SUM(y), SUM(y * x) (on centred-enough data)
    x = np.column_stack([a - 1e6 * (i == 0) for i, a in enumerate(arrays)])
    sums = np.array([x[codes == g].sum(0) for g in range(2)])
    cross = np.array([x[codes == g].T @ x[codes == g] for g in range(2)])
    agg = ab.Moments.from_sums(cols, full.n, sums, cross)
    np.testing.assert_allclose(agg.cov(), full.cov(), rtol=1e-9)
    np.testing.assert_allclose(agg.shifted([1e6, 0]).mean, full.mean, rtol=1e-13)
    pooled = full.pooled()
    np.testing.assert_allclose(pooled.cov()[0], np.cov(np.vstack(arrays)), rtol=1e-10)
    assert full.sub(["pre_revenue"]).mean.shape == (2, 1)


def test_large_offset_does_not_lose_precision(df):
    res = ab.analyze(df, arm="variant", metrics=["mean:revenue"])
    shifted = ab.analyze(df.assign(revenue=df.revenue - 1e6), arm="variant",
                         metrics=["mean:revenue"])  # fmt: skip
    a, b = res.comparisons[0], shifted.comparisons[0]
    assert a.p_value == pytest.approx(b.p_value, rel=1e-7)
    assert a.abs_effect == pytest.approx(b.abs_effect, rel=1e-6)


def test_result_views(df):
    res = ab.analyze(df, arm="variant", metrics=METRICS)
    t = res.to_pandas()
    assert list(t.metric) == ["converted", "revenue", "clicks/sessions"]
    assert {"abs_ci_low", "abs_ci_high", "rel_ci_low", "rel_ci_high", "method"} <= set(t.columns)
    text = res.summary()
    for phrase in ("effect = arm - control", "arm / control - 1", "two-sided", "Holm".lower(),
                   "SRM check", "1e-300", "CUPED variance reduction"):  # fmt: skip
        assert phrase in text
    html = res._repr_html_()
    assert "<table" in html and "data:image/png" not in html
    assert "data:image/png;base64" in res.to_html()
    assert str(res) == text
    fig = ab.forest_plot(res)
    assert len(fig.axes[0].get_yticklabels()) == 3
    with pytest.raises(Exception):  # noqa: B017 - frozen
        res.alpha = 0.1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(8, 60),
    seed=st.integers(0, 2**32 - 1),
    shift=st.floats(-1e3, 1e3),
    scale=st.floats(0.01, 100),
)
def test_invariants(n, seed, shift, scale):
    """Row order does not matter; mean tests are shift/scale invariant; swapping arms flips."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(
        {
            "arm": np.tile(["control", "t"], n),
            "y": rng.normal(size=2 * n),
            "x": rng.normal(size=2 * n),
            "den": rng.integers(1, 5, 2 * n).astype(float),
        }
    )
    m = [ab.Mean("y", covariate="x"), ab.Ratio("y", "den"), "mean:y"]
    res = ab.analyze(d, arm="arm", metrics=m)
    perm = ab.analyze(d.sample(frac=1, random_state=seed % 1000), arm="arm", metrics=m)
    np.testing.assert_allclose(numbers(perm), numbers(res), rtol=1e-8, atol=1e-12)
    lin = ab.analyze(d.assign(y=d.y * scale + shift), arm="arm", metrics=["mean:y"])
    a, b = res.comparisons[2], lin.comparisons[0]
    assert b.p_value == pytest.approx(a.p_value, rel=1e-6, abs=1e-12)
    assert b.abs_effect == pytest.approx(a.abs_effect * scale, rel=1e-6, abs=1e-9 * scale)
    flip = ab.analyze(d, arm="arm", control="t", metrics=["mean:y"]).comparisons[0]
    assert flip.abs_effect == pytest.approx(-a.abs_effect)
    assert flip.p_value == pytest.approx(a.p_value, rel=1e-9)
    assert math.isclose(flip.abs_ci[0], -a.abs_ci[1], rel_tol=1e-9, abs_tol=1e-12)


def test_polars_path_matches_pandas_with_missing_values_and_three_arms(df, monkeypatch):
    pl = pytest.importorskip("polars")
    from lifesim.ab.io import Frame

    real = Frame.numeric

    def numpy_path_only_for_pandas(self, name, what):
        assert not self.is_polars, "clean polars data must be aggregated by polars"
        return real(self, name, what)

    monkeypatch.setattr(Frame, "numeric", numpy_path_only_for_pandas)
    d = df.copy()
    d["variant"] = np.where(np.arange(len(d)) % 3 == 0, "a_third", d.variant)
    d["flag"] = (d.converted == 1) | (np.arange(len(d)) % 50 == 0)  # mostly 1s, boolean
    d.loc[::7, "revenue"] = np.nan
    d.loc[::11, "clicks"] = np.nan
    metrics = [*METRICS, "flag", ab.Ratio("clicks", "sessions", covariate="pre_revenue")]
    for kw in ({"control": "b"}, {"control": "control", "expected_split": [2, 1, 1]}):
        want = ab.analyze(d, arm="variant", metrics=metrics, dropna=True, **kw)
        got = ab.analyze(pl.from_pandas(d), arm="variant", metrics=metrics, dropna=True, **kw)
        assert got.dropped == want.dropped and got.n == want.n
        np.testing.assert_allclose(numbers(got), numbers(want), rtol=1e-9)
    ints = d.assign(variant=d.variant.map({"control": 0, "b": 1, "a_third": 2}))
    got = ab.analyze(pl.from_pandas(ints), arm="variant", control="0", metrics=["flag"])
    want = ab.analyze(ints, arm="variant", control="0", metrics=["flag"])
    assert got.n == want.n and got.comparisons[0].kind == "proportion"
    np.testing.assert_allclose(numbers(got), numbers(want), rtol=1e-9)


def test_chunked_file_gives_the_same_numbers(df, tmp_path):
    path = tmp_path / "export.csv"
    df.to_csv(path, index=False)
    whole = ab.analyze(df, arm="variant", metrics=METRICS, control="b")
    arms = ["b", "control"]
    chunks = pd.read_csv(path, chunksize=1500)
    agg = sum(ab.aggregate(c, arm="variant", metrics=METRICS, arms=arms) for c in chunks)
    assert agg.n == (whole.n["b"], whole.n["control"])
    res = agg.analyze(control="b")
    np.testing.assert_allclose(numbers(res), numbers(whole), rtol=1e-9)
    assert res.summary() == whole.summary()
    t = agg.to_pandas()
    assert len(t) == 2 * (1 + 2 + 2) and {"n", "mean", "sd"} <= set(t.columns)


def test_aggregate_with_a_missing_arm_and_wrong_labels(df):
    only_control = df[df.variant == "control"]
    a = ab.aggregate(only_control, arm="variant", metrics=["converted"], arms=["control", "b"])
    assert a.n == (len(only_control), 0)
    b = ab.aggregate(df[df.variant == "b"], arm="variant", metrics=["converted"],
                     arms=["control", "b"])  # fmt: skip
    full = ab.analyze(df, arm="variant", metrics=["converted"])
    np.testing.assert_allclose(numbers((a + b).analyze()), numbers(full), rtol=1e-9)
    with pytest.raises(ab.analyze.__globals__["DataError"], match=r"labels 'b' that are not in"):
        ab.aggregate(df, arm="variant", metrics=["converted"], arms=["control"])
    other = ab.aggregate(df, arm="variant", metrics=["mean:revenue"], arms=["control", "b"])
    with pytest.raises(ValueError, match="same arm column, arms and metrics"):
        a + other


def test_pre_aggregated_sums_from_a_database(df):
    """COUNT / SUM(y) / SUM(y * x) per arm, as SQL returns them, give the same analysis."""
    df = df.assign(revenue=df.revenue - 1e6 + 50)  # raw sums: no huge offset (see from_sums)
    full = ab.analyze(df, arm="variant", metrics=METRICS)
    arms = ("b", "control")
    moments = []
    for m in full_metrics():
        x = df[list(m.columns)].to_numpy(float)
        g = [x[df.variant.to_numpy() == a] for a in arms]
        moments.append(
            ab.Moments.from_sums(m.columns, [len(v) for v in g], [v.sum(0) for v in g],
                                 [v.T @ v for v in g])
        )  # fmt: skip
    n = tuple(int((df.variant == a).sum()) for a in arms)
    agg = ab.Aggregates("variant", arms, n, tuple(full_metrics()), tuple(moments), (0, 0, 0))
    np.testing.assert_allclose(numbers(agg.analyze(control="control")), numbers(full), rtol=1e-8)


def full_metrics():
    return METRICS
