"""Every bad-data case: a DataError naming the column, showing bad values, saying what is allowed.

Zero variance and tiny samples warn and give a defined result instead.
"""

import math

import numpy as np
import pandas as pd
import pytest

from lifesim import ab
from lifesim.errors import DataError


@pytest.fixture
def df():
    rng = np.random.default_rng(0)
    n = 400
    return pd.DataFrame(
        {
            "user": np.arange(n),
            "variant": np.tile(["control", "treatment"], n // 2),
            "converted": rng.integers(0, 2, n),
            "revenue": rng.gamma(2, 5, n),
            "clicks": rng.poisson(2, n),
            "sessions": rng.poisson(3, n) + 1,
        }
    )


def analyze(data, **kw):
    kw.setdefault("arm", "variant")
    kw.setdefault("metrics", ["converted"])
    return ab.analyze(data, **kw)


def test_missing_arm_values(df):
    df.loc[[3, 17], "variant"] = None
    with pytest.raises(DataError, match=r"'variant' has 2 missing values \(rows 3, 17\)"):
        analyze(df)


def test_control_label_not_there_lists_the_labels(df):
    with pytest.raises(DataError, match=r"control 'ctrl' is not a value.*'control', 'treatment'"):
        analyze(df, control="ctrl")


def test_default_control_needs_a_control_label(df):
    df["variant"] = df.variant.map({"control": "A", "treatment": "B"})
    with pytest.raises(DataError, match=r"say which arm is control.*'A', 'B'"):
        analyze(df)
    assert analyze(df, control="A").control == "A"


def test_single_arm(df):
    df["variant"] = "control"
    with pytest.raises(DataError, match=r"single arm \('control'\)"):
        analyze(df)


def test_non_binary_proportion(df):
    df.loc[5, "converted"] = 2
    df.loc[9, "converted"] = -1
    with pytest.raises(DataError, match=r"'converted'.*only 0/1.*row 5: 2\.0, row 9: -1\.0"):
        analyze(df, metrics=["proportion:converted"])
    # as a bare name it is a mean, said in `kind`
    assert analyze(df).comparisons[0].kind == "mean"


def test_boolean_and_text_binary_columns_are_proportions(df):
    df["converted"] = df.converted.astype(bool)
    assert analyze(df).comparisons[0].kind == "proportion"


def test_non_numeric_values(df):
    df["revenue"] = df.revenue.astype(object)
    df.loc[[4, 8], "revenue"] = ["n/a", "12,50"]
    with pytest.raises(
        DataError, match=r"'revenue'.*2 values that are not numbers.*'n/a'.*'12,50'"
    ):
        analyze(df, metrics=["mean:revenue"])


def test_numbers_as_text_are_fine(df):
    df["revenue"] = df.revenue.map(str)
    assert analyze(df, metrics=["mean:revenue"]).comparisons[0].kind == "mean"


def test_infinite_values(df):
    df.loc[2, "revenue"] = np.inf
    with pytest.raises(DataError, match=r"'revenue'.*infinite.*row 2"):
        analyze(df, metrics=["mean:revenue"])


def test_negative_denominator(df):
    df.loc[[1, 6], "sessions"] = [-1, -3]
    with pytest.raises(DataError, match=r"'sessions'.*2 negative values.*row 1: -1\.0.*>= 0"):
        analyze(df, metrics=["clicks/sessions"])


def test_zero_denominator_unit_is_fine_but_zero_arm_sum_is_not(df):
    df.loc[0, ["clicks", "sessions"]] = 0
    assert math.isfinite(analyze(df, metrics=["clicks/sessions"]).comparisons[0].p_value)
    df.loc[df.variant == "treatment", "sessions"] = 0
    with pytest.raises(DataError, match=r"'sessions'.*sums to 0 in arm 'treatment'"):
        analyze(df, metrics=["clicks/sessions"])


def test_duplicate_unit_ids(df):
    df.loc[10, "user"] = 3
    df.loc[11, "user"] = 3
    with pytest.raises(DataError, match=r"unit column 'user' has 2 duplicate ids.*row 10: 3"):
        analyze(df, unit="user")
    assert analyze(df).n  # without --unit, nothing is checked


def test_missing_column_lists_present_columns(df):
    with pytest.raises(DataError, match=r"column 'revenu' is not in.*'revenue'"):
        analyze(df, metrics=["mean:revenu"])


def test_empty_inputs(tmp_path, df):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        analyze(empty)
    header = tmp_path / "header.csv"
    df.head(0).to_csv(header, index=False)
    with pytest.raises(DataError, match="no rows"):
        analyze(header)
    with pytest.raises(DataError, match="no rows"):
        analyze(df.head(0))
    pq = tmp_path / "empty.parquet"
    df.head(0).to_parquet(pq)
    with pytest.raises(DataError, match="no rows"):
        analyze(pq)


def test_missing_metric_values_need_dropna(df):
    df.loc[[7, 8, 9], "revenue"] = np.nan
    with pytest.raises(DataError, match=r"'revenue'.*3 missing values.*--dropna"):
        analyze(df, metrics=["mean:revenue"])
    res = analyze(df, metrics=["mean:revenue", "converted"], dropna=True)
    assert res.dropped == {"revenue": 3}
    assert res.comparisons[0].n_control + res.comparisons[0].n_arm == len(df) - 3
    assert res.comparisons[1].n_control + res.comparisons[1].n_arm == len(df)
    assert res.n == {"control": 200, "treatment": 200}  # SRM counts every unit
    assert any("dropped 3" in w for w in res.warnings)
    assert "Dropped rows" in res.summary()


def test_zero_variance_is_a_warning_and_a_defined_result(df):
    df["flat"] = 5.0
    df["never"] = 0
    res = analyze(df, metrics=["mean:flat", "proportion:never"])
    for c in res.comparisons:
        assert c.p_value == 1.0 and c.abs_effect == 0.0
    assert any("zero variance" in w for w in res.warnings)
    assert any("relative effect is undefined" in w for w in res.warnings)
    df.loc[df.variant == "treatment", "flat"] = 6.0
    c = analyze(df, metrics=["mean:flat"]).comparisons[0]
    assert c.abs_effect == 1.0 and math.isnan(c.p_value)


def test_tiny_samples_warn(df):
    tiny = df.iloc[[0, 1, 3]]  # control 2 units... treatment 1
    res = analyze(tiny, metrics=["mean:revenue", "converted"])
    assert all(math.isnan(c.p_value) or 0 <= c.p_value <= 1 for c in res.comparisons)
    assert any("need >= 2" in w for w in res.warnings)
    res = analyze(df.iloc[:20], metrics=["mean:revenue"])
    assert any("only 10 units" in w for w in res.warnings)


def test_bad_arguments(df):
    with pytest.raises(ValueError, match="alpha == 1.5"):
        analyze(df, alpha=1.5)
    with pytest.raises(ValueError, match="correction == 'sidak'"):
        analyze(df, correction="sidak")
    with pytest.raises(ValueError, match="alternative == 'bigger'"):
        analyze(df, alternative="bigger")
    with pytest.raises(DataError, match="expected_split has 3 shares for 2 arms"):
        analyze(df, expected_split=[1, 1, 1])
    with pytest.raises(DataError, match="covariate given for 'profit'"):
        analyze(df, covariates={"profit": "revenue"})
    with pytest.raises(DataError, match="CUPED applies to means and ratios"):
        analyze(df, metrics=[ab.Proportion("converted")], covariates={"converted": "revenue"})
    with pytest.raises(DataError, match="given twice"):
        analyze(df, metrics=[ab.Mean("revenue", "clicks")], covariates={"revenue": "clicks"})
    res = analyze(df, metrics=[ab.Mean("revenue")], covariates={"revenue": "clicks"})
    assert res.comparisons[0].covariate == "clicks"
    with pytest.raises(ValueError, match="test == 'chi2'"):
        ab.Proportion("converted", test="chi2")
    with pytest.raises(DataError, match="type list"):
        ab.analyze([1, 2], arm="variant", metrics=["x"])
