"""Incremental economics against a no-marketing run, the full pairwise table, the verdict.

The incremental figures are recomputed here by hand from the runs table (pandas + scipy, not
lifesim's statistics); the pairwise table and the winner are checked on strategies whose
ranking is certain (the useless-ad spenders of ``test_verdict``).
"""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lifesim.experiments import compare
from lifesim.experiments.incremental import COUNTERFACTUAL
from tests.experiments.test_verdict import DAYS, _scenario

SMALL = {"customers": 800, "days": 60}


@pytest.fixture(scope="module")
def without_none():
    return compare(None, strategies="kpi_focused,stage_focused", replications=4, seed=5, **SMALL)


def _by_hand(runs: pd.DataFrame, strategy: str, cf: str, metric: str) -> np.ndarray:
    w = runs.pivot(index="replication", columns="strategy", values=metric)
    return (w[strategy] - w[cf]).to_numpy()


def test_incremental_figures_are_paired_differences_against_no_marketing(without_none):
    res = without_none
    assert res.counterfactual == COUNTERFACTUAL
    assert (res.runs.strategy == COUNTERFACTUAL).sum() == 4  # one extra run per replication
    assert (res.runs.loc[res.runs.strategy == COUNTERFACTUAL, "marketing_cost"] == 0).all()
    inc = res.incremental.set_index(["strategy", "measure"])
    t = stats.t.ppf(0.975, 3)
    for s in ("kpi_focused", "stage_focused"):
        for measure, metric in [
            ("incremental_profit", "profit"),
            ("incremental_revenue", "revenue"),
            ("incremental_cost", "marketing_cost"),
            ("incremental_customers", "customers_acquired"),
        ]:
            d = _by_hand(res.runs, s, COUNTERFACTUAL, metric)
            r = inc.loc[(s, measure)]
            half = t * d.std(ddof=1) / np.sqrt(len(d))
            assert r.estimate == pytest.approx(d.mean(), rel=1e-12, abs=1e-9)
            assert (r.ci_low, r.ci_high) == pytest.approx(
                (d.mean() - half, d.mean() + half), rel=1e-9, abs=1e-9
            )
            if half > 0:
                assert r.p_value == pytest.approx(stats.ttest_1samp(d, 0).pvalue, rel=1e-9)
        dp = _by_hand(res.runs, s, COUNTERFACTUAL, "profit")
        dc = _by_hand(res.runs, s, COUNTERFACTUAL, "marketing_cost")
        dn = _by_hand(res.runs, s, COUNTERFACTUAL, "customers_acquired")
        roi = inc.loc[(s, "incremental_roi")]
        assert roi.estimate == pytest.approx(dp.sum() / dc.sum(), rel=1e-12)
        # Fieller's bounds are the ratios at which the paired t-test of dp - theta dc sits
        # exactly on the 5% boundary
        for theta in (roi.ci_low, roi.ci_high):
            assert stats.ttest_1samp(dp - theta * dc, 0).pvalue == pytest.approx(0.05, rel=1e-6)
        cac = inc.loc[(s, "incremental_cac")]
        if dn.mean() > 0:
            assert cac.estimate == pytest.approx(dc.sum() / dn.sum(), rel=1e-12)
        else:
            assert np.isnan(cac.estimate)


def test_the_extra_no_marketing_run_is_the_none_strategy_on_the_same_seeds(without_none):
    res = compare(
        None, strategies="none,kpi_focused,stage_focused", replications=4, seed=5, **SMALL
    )
    assert res.counterfactual == "none"
    assert COUNTERFACTUAL not in set(res.runs.strategy)
    a = without_none.runs[without_none.runs.strategy == COUNTERFACTUAL].drop(columns="strategy")
    b = res.runs[res.runs.strategy == "none"].drop(columns="strategy")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    cols = ["strategy", "measure", "estimate", "ci_low", "ci_high", "p_value"]
    pd.testing.assert_frame_equal(res.incremental[cols], without_none.incremental[cols])


def test_output_says_the_counterfactual_was_run_and_that_roi_is_incremental(without_none):
    text = without_none.summary()
    assert "'none' was not compared" in text and "ROI (incremental)" in text
    assert "ROI (blended)" in text and "CAC (blended)" in text and "CAC (incremental)" in text
    assert "Holm" in text and "horizon-truncated" in text and "undiscounted" in text
    j = without_none.to_dict()
    json.dumps(j, allow_nan=False)
    assert j["counterfactual"]["extra_run"] is True
    assert set(j["incremental"]) == {"kpi_focused", "stage_focused"}
    assert {"incremental_profit", "incremental_roi", "incremental_cac"} <= set(
        j["incremental"]["kpi_focused"]
    )
    assert j["multiplicity"]["method"] == "holm" and j["multiplicity"]["pairs"] == 1
    assert j["clv_convention"]["discounted"] is False
    for key in ("strategies", "differences", "winner", "conventions", "metric_conventions"):
        assert key in j  # the keys that existed before stay


# -- a certain ranking --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spenders():
    scn = _scenario()
    scn["strategies"]["spend_2"] = {
        "type": "custom",
        "target": "tests.experiments.test_verdict:Spender",
        "params": {"k": 2},
    }
    scn["strategies"]["spend_2b"] = dict(scn["strategies"]["spend_2"])
    return compare(
        scn,
        strategies=["spend_3", "spend_2", "spend_1", "spend_2b"],
        replications=3,
        seed=11,
        trust_code=True,
    )


def test_pairwise_table_has_every_pair_in_rank_order_with_holm(spenders):
    res = spenders
    assert res.pairs == 6 and res.counterfactual == COUNTERFACTUAL
    p = res.pairwise[res.pairwise.metric == "profit"]
    assert len(p) == 6 and (p.pairs == 6).all()
    assert {frozenset((a, b)) for a, b in zip(p.a, p.b, strict=True)} == {
        frozenset(x)
        for x in [
            ("spend_1", "spend_2"),
            ("spend_1", "spend_2b"),
            ("spend_1", "spend_3"),
            ("spend_2", "spend_2b"),
            ("spend_2", "spend_3"),
            ("spend_2b", "spend_3"),
        ]
    }
    k = {"spend_1": 1, "spend_2": 2, "spend_2b": 2, "spend_3": 3}
    for r in p.itertuples():
        # a - b, a ranked higher on profit: spending less of a useless ad earns exactly more
        assert r.diff == pytest.approx(DAYS * (k[r.b] - k[r.a]))
        assert r.diff >= 0
        same = k[r.a] == k[r.b]
        assert r.significant is (not same)
        assert r.p_adjusted == (1.0 if same else 0.0)
    assert p.iloc[0].a == "spend_1"  # the winner's pairs come first


def test_winner_and_multiplicity_are_stated(spenders):
    v = spenders.verdict
    assert v["winner"] == "spend_1" and v["runner_up"] in ("spend_2", "spend_2b")
    assert v["adjustment"] == "holm" and v["pairs"] == 6 and v["significant"] is True
    assert v["indistinguishable_from"] == []
    text = spenders.verdict_text()
    assert "Holm-adjusted over 6 pairs" in text
    assert "the difference to the runner-up is significant at 5%" in text
    # a tie is not distinguishable: the two identical spenders on marketing cost
    inc = spenders.incremental.set_index(["strategy", "measure"])
    for s, kk in (("spend_1", 1), ("spend_2", 2), ("spend_3", 3)):
        assert inc.loc[(s, "incremental_profit"), "estimate"] == pytest.approx(-DAYS * kk)
        assert inc.loc[(s, "incremental_revenue"), "estimate"] == 0
        assert inc.loc[(s, "incremental_roi"), "estimate"] == pytest.approx(-1.0)
        assert np.isnan(inc.loc[(s, "incremental_cac"), "estimate"])  # no extra customers


def test_a_tie_is_reported_as_not_distinguishable():
    scn = _scenario()
    scn["strategies"]["spend_1b"] = dict(scn["strategies"]["spend_1"])
    res = compare(
        scn,
        strategies=["spend_3", "spend_1", "spend_1b"],
        replications=3,
        seed=2,
        trust_code=True,
    )
    v = res.verdict
    assert {v["winner"], v["runner_up"]} == {"spend_1", "spend_1b"}
    assert v["significant"] is False and v["p_value_adjusted"] == 1.0
    assert v["indistinguishable_from"] == [v["runner_up"]]
    assert f"NOT distinguishable at 5% from {v['runner_up']}" in res.verdict_text()
