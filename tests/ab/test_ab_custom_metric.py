"""A new metric kind is one class: declared columns and domains, analysis of the aggregates.

``Difference`` (the per-unit mean of ``a - b``, e.g. revenue minus cost) is not a kind lifesim
ships; it is defined here in one class and runs end to end through ``lifesim.ab.analyze``
(pandas and polars back-ends, validation, corrections, results), checked against SciPy's Welch
test on the per-unit differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lifesim import ab
from lifesim.ab.metrics import MetricRow
from lifesim.ab.stats import compare, welch_df
from lifesim.errors import DataError


@dataclass(frozen=True)
class Difference(ab.Metric):
    """Mean of ``plus - minus`` per unit; ``minus`` must be >= 0 (a cost)."""

    plus: str
    minus: str
    kind: ClassVar[str] = "difference"

    @property
    def label(self) -> str:
        return f"{self.plus}-{self.minus}"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.plus, self.minus)

    def domain(self, j: int) -> str:
        return "nonnegative" if j == 1 else "real"

    def analyze(self, mom, arms: Sequence[str], *, alpha: float, alternative: str):
        cov = mom.cov()
        est = mom.mean[:, 0] - mom.mean[:, 1]
        var = cov[:, 0, 0] + cov[:, 1, 1] - 2 * cov[:, 0, 1]
        n = mom.n
        rows = []
        for a in range(1, len(arms)):
            df = welch_df(var[a], n[a], var[0], n[0])
            e = compare(est[0], var[0] / n[0], est[a], var[a] / n[a], alpha=alpha,
                        alternative=alternative, df=df)  # fmt: skip
            rows.append(MetricRow(e, "Welch t-test on plus - minus"))
        return rows


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 900
    arm = rng.choice(["control", "b", "c"], n)
    revenue = rng.gamma(2.0, 10.0, n) + np.where(arm == "c", 3.0, 0.0)
    cost = 0.4 * revenue + rng.exponential(2.0, n)
    return pd.DataFrame({"variant": arm, "revenue": revenue, "cost": cost})


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_made_up_kind_runs_end_to_end(data, backend):
    frame = data
    if backend == "polars":
        frame = pytest.importorskip("polars").from_pandas(data)
    res = ab.analyze(frame, arm="variant", metrics=[Difference("revenue", "cost"), "revenue"])
    diff = (data.revenue - data.cost).to_numpy()
    rows = [c for c in res.comparisons if c.metric == "revenue-cost"]
    assert [c.arm for c in rows] == ["b", "c"] and {c.kind for c in rows} == {"difference"}
    ps = []
    for c in rows:
        ya, yc = diff[data.variant == c.arm], diff[data.variant == "control"]
        t = stats.ttest_ind(ya, yc, equal_var=False)
        assert math.isclose(c.p_value, t.pvalue, rel_tol=1e-9)
        assert math.isclose(c.statistic, t.statistic, rel_tol=1e-9)
        assert math.isclose(c.abs_effect, ya.mean() - yc.mean(), rel_tol=1e-9)
        ci = t.confidence_interval(0.95)
        assert math.isclose(c.abs_ci[0], ci.low, rel_tol=1e-9)
        ps.append(t.pvalue)
    holm = np.minimum(np.maximum.accumulate(np.sort(ps) * [2, 1]), 1)[np.argsort(np.argsort(ps))]
    assert [c.p_adjusted for c in rows] == pytest.approx(holm, rel=1e-12)
    assert "revenue-cost" in res.summary() and rows[0].method == "Welch t-test on plus - minus"


def test_made_up_kind_gets_column_validation(data):
    bad = data.assign(cost=np.where(np.arange(len(data)) == 4, -1.0, data.cost))
    with pytest.raises(DataError, match=r"'cost' \(difference metric 'revenue-cost'\).*row 4"):
        ab.analyze(bad, arm="variant", metrics=[Difference("revenue", "cost")])
    with pytest.raises(DataError, match="CUPED applies to means and ratios"):
        ab.analyze(data, arm="variant", metrics=[Difference("revenue", "cost")],
                   covariates={"revenue-cost": "revenue"})  # fmt: skip
