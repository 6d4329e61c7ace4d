"""Metric values too large to sum and square are refused by name, in every reader.

Before, a revenue column of 1e308s (finite, so past the infinite-value check) gave a control
mean of inf, NaN effects and a warning about zero variance, with exit status 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifesim.ab import analyze
from lifesim.errors import DataError
from tests.robustness._inputs import refused, run


def _data(big: float) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    df = pd.DataFrame({"arm": ["control", "treat"] * (n // 2), "rev": rng.gamma(2.0, 10.0, n)})
    df.loc[[1, 2], "rev"] = big
    return df


@pytest.mark.parametrize("big", [1e308, 1e200])
def test_the_cli_refuses_values_too_large_to_sum_and_square(capsys, tmp_path, big):
    path = tmp_path / "ab.csv"
    _data(big).to_csv(path, index=False)
    code, err = run(capsys, "ab", "analyze", path, "--arm", "arm", "--mean", "rev")
    refused(code, err, "column 'rev'", "2 values too large", "row 1:", "at most 1e+150")


@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_python_refuses_them_from_pandas_and_polars(kind):
    df = _data(1e200)
    if kind == "polars":
        pl = pytest.importorskip("polars")
        df = pl.from_pandas(df)
    with pytest.raises(DataError, match=r"column 'rev' .* 2 values too large"):
        analyze(df, arm="arm", metrics=["mean:rev"])
    ok = _data(1e150)  # the largest size allowed: sums and squares of 40 of them are finite
    res = analyze(pl.from_pandas(ok) if kind == "polars" else ok, arm="arm", metrics=["mean:rev"])
    assert np.isfinite(res.to_pandas()["control_value"]).all()
