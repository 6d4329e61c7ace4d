"""Behaviour of lifesim.experiments.flows pinned for mutation testing (benchmarks/mutation.py).

In-process and without a process pool: hand-built per-run flow tables of three replications
of two strategies, every mean, interval and paired difference checked against hand
arithmetic and scipy's t-tests, and the comparison's flow views on a small stand-in result.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lifesim.errors import ConfigError, LifesimError
from lifesim.experiments.flows import (
    ALL_CAUSES,
    KEYS,
    FlowViews,
    _cube,
    _stats,
    flow_counts_table,
    flow_difference,
    flow_means,
)

STAGES = ["a", "b", "c"]


def _flows(rows):
    return pd.DataFrame(rows, columns=["from_stage", "to_stage", "cause", "moves"])


# replications 0-2 of x and y; x's (a, b, ads) did not happen in replication 2; y's (b, c) only
# in replication 2. The runs arrive in their final order (replication, then strategy).
def _r(rep, strategy, rows):
    return SimpleNamespace(
        replication=rep, strategy=strategy, flows=None if rows is None else _flows(rows)
    )


RUNS = [
    _r(0, "x", [("a", "b", "organic", 4), ("a", "b", "ads", 10)]),
    _r(0, "y", [("a", "b", "organic", 7)]),
    _r(0, "z", None),
    _r(1, "x", [("a", "b", "ads", 12), ("a", "b", "organic", 6)]),
    _r(1, "y", [("a", "b", "organic", 8)]),
    _r(2, "x", [("a", "b", "organic", 5)]),
    _r(2, "y", [("b", "c", "mail", 3), ("a", "b", "organic", 12)]),
]


def _counts():
    return flow_counts_table(RUNS, STAGES)


def test_counts_table_stacks_the_runs_with_ordered_categories():
    c = _counts()
    assert list(c.columns) == [
        "replication",
        "strategy",
        "from_stage",
        "to_stage",
        "cause",
        "moves",
    ]
    assert c["replication"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert c["strategy"].tolist() == ["x", "x", "y", "x", "x", "y", "x", "y", "y"]
    assert c["moves"].tolist() == [4, 10, 7, 12, 6, 8, 5, 3, 12]
    assert c["replication"].dtype == np.int64 and c["moves"].dtype == np.int64
    assert list(c["from_stage"].cat.categories) == STAGES
    assert list(c["to_stage"].cat.categories) == STAGES
    assert c["to_stage"].tolist()[7] == "c"
    assert list(c["cause"].cat.categories) == ["organic", "ads", "mail"]  # organic first
    assert c["cause"].tolist()[:2] == ["organic", "ads"]
    assert KEYS == ["from_stage", "to_stage", "cause"]


def test_counts_table_of_runs_without_flows_is_empty_with_the_columns():
    empty = flow_counts_table([RUNS[2]], STAGES)
    assert len(empty) == 0
    assert list(empty.columns) == [
        "replication",
        "strategy",
        "from_stage",
        "to_stage",
        "cause",
        "moves",
    ]
    assert len(flow_counts_table([], STAGES).columns) == 6


def test_cube_sorts_the_flows_by_graph_order_and_sums_causes_on_request():
    keys, cube = _cube(_counts(), ["x", "y"], 3)
    assert keys.values.tolist() == [["a", "b", "organic"], ["a", "b", "ads"], ["b", "c", "mail"]]
    assert list(keys.index) == [0, 1, 2]
    assert cube.shape == (2, 3, 3)
    assert cube[0].tolist() == [[4, 10, 0], [6, 12, 0], [5, 0, 0]]
    assert cube[1].tolist() == [[7, 0, 0], [8, 0, 0], [12, 0, 3]]
    keys, cube = _cube(_counts(), ["y"], 3, by_cause=False)  # x is left out
    assert keys.values.tolist() == [["a", "b", ALL_CAUSES], ["b", "c", ALL_CAUSES]]
    assert ALL_CAUSES == "(all causes)"
    assert cube[0].tolist() == [[7, 0], [8, 0], [12, 3]]
    _, xc = _cube(_counts(), ["x"], 3, by_cause=False)
    assert xc[0].tolist() == [[14, 0], [18, 0], [5, 0]]
    with pytest.raises(LifesimError) as err:
        _cube(flow_counts_table([], STAGES), ["x"], 3)
    assert str(err.value) == (
        "this comparison has no flow counts (it was made from runs without an event log, or by "
        "an older lifesim); run compare again to get them"
    )


def test_stats_over_replications():
    st = _stats(np.array([[4.0, 1.0], [6.0, 1.0], [5.0, 1.0]]), 0.1)
    assert list(st) == ["mean", "sd", "se", "ci_low", "ci_high"]
    t = stats.t.ppf(0.95, 2)
    assert st["mean"].tolist() == [5.0, 1.0] and st["sd"].tolist() == pytest.approx([1.0, 0.0])
    assert st["se"].tolist() == pytest.approx([1 / np.sqrt(3), 0.0])
    assert st["ci_low"].tolist() == pytest.approx([5 - t / np.sqrt(3), 1.0])
    assert st["ci_high"].tolist() == pytest.approx([5 + t / np.sqrt(3), 1.0])
    one = _stats(np.array([[3.0, 2.0]]), 0.05)
    assert one["mean"].tolist() == [3.0, 2.0]
    assert np.isnan(one["sd"]).all() and np.isnan(one["se"]).all()
    assert np.isnan(one["ci_low"]).all() and np.isnan(one["ci_high"]).all()


def test_flow_means_by_hand():
    m = flow_means(_counts(), ["x", "y"], 3, alpha=0.1)
    assert list(m.columns) == ["strategy", *KEYS, "mean", "sd", "se", "ci_low", "ci_high", "n"]
    assert m["strategy"].tolist() == ["x", "x", "y", "y"]  # y's (a, b, ads) never happened
    assert m["cause"].astype(str).tolist() == ["organic", "ads", "organic", "mail"]
    assert m["mean"].tolist() == pytest.approx([5.0, 22 / 3, 9.0, 1.0])
    assert m["sd"].tolist() == pytest.approx([1.0, np.sqrt(124 / 3), np.sqrt(7), np.sqrt(3)])
    t = stats.t.ppf(0.95, 2)
    assert m["ci_high"].iloc[0] == pytest.approx(5 + t / np.sqrt(3))
    assert m["ci_low"].iloc[3] == pytest.approx(1 - t * 1.0)
    assert (m["n"] == 3).all()
    s = flow_means(_counts(), ["y", "x"], 3, by_cause=False)
    assert s["strategy"].tolist() == ["y", "y", "x"]
    assert (s["cause"] == ALL_CAUSES).all()
    assert s["mean"].tolist() == pytest.approx([9.0, 1.0, 37 / 3])
    assert flow_means(_counts(), ["x"], 4)["mean"].tolist() == pytest.approx([15 / 4, 22 / 4])


def test_flow_difference_is_paired_by_replication():
    d = flow_difference(_counts(), "x", "y", 3, alpha=0.1)
    assert list(d.columns) == [
        "a", "b", *KEYS, "mean_a", "mean_b", "diff", "se", "ci_low", "ci_high", "p_value", "n",
    ]  # fmt: skip
    assert (d["a"] == "x").all() and (d["b"] == "y").all() and (d["n"] == 3).all()
    assert d["cause"].astype(str).tolist() == ["organic", "ads", "mail"]
    # x - y per replication: organic -3, -2, -7; ads 10, 12, 0; mail 0, 0, -3
    for i, diff in enumerate([[-3, -2, -7], [10, 12, 0], [0, 0, -3]]):
        ref = stats.ttest_1samp(diff, 0)
        ci = ref.confidence_interval(0.9)
        row = d.iloc[i]
        assert row["diff"] == pytest.approx(np.mean(diff))
        assert row["se"] == pytest.approx(np.std(diff, ddof=1) / np.sqrt(3))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))
        assert row["p_value"] == pytest.approx(ref.pvalue)
    assert d["mean_a"].tolist() == pytest.approx([5.0, 22 / 3, 0.0])
    assert d["mean_b"].tolist() == pytest.approx([9.0, 0.0, 1.0])
    summed = flow_difference(_counts(), "x", "y", 3, by_cause=False)
    assert summed["diff"].tolist() == pytest.approx([(37 - 27) / 3, -1.0])
    assert (summed["cause"] == ALL_CAUSES).all()


@pytest.mark.filterwarnings("error")  # a constant difference divides by se 0: no warning
def test_flow_difference_p_value_without_spread():
    def flows(r, s):  # x = y + 2 on a -> b; 4 each on b -> c
        return _flows(
            [("a", "b", "organic", 5 + r + (2 if s == "x" else 0)), ("b", "c", "organic", 4)]
        )

    runs = [
        SimpleNamespace(replication=r, strategy=s, flows=flows(r, s))
        for r in range(3)
        for s in "xy"
    ]
    d = flow_difference(flow_counts_table(runs, STAGES), "x", "y", 3)
    assert d["diff"].tolist() == [2.0, 0.0] and d["se"].tolist() == [0.0, 0.0]
    assert d["p_value"].tolist() == [0.0, 1.0]  # the same 2 every time; no difference at all
    assert d["ci_low"].tolist() == [2.0, 0.0] and d["ci_high"].tolist() == [2.0, 0.0]
    one = flow_difference(flow_counts_table(runs[:2], STAGES), "x", "y", 1)
    assert one["p_value"].tolist() == [0.0, 1.0] and np.isnan(one["se"]).all()
    neg = flow_difference(flow_counts_table(runs, STAGES), "y", "x", 3)
    assert neg["p_value"].tolist() == [0.0, 1.0] and neg["diff"].tolist() == [-2.0, 0.0]


class _Result(FlowViews):
    def __init__(self, counts, strategies=("x", "y"), counterfactual="none", baseline="x"):
        self.flow_counts = counts
        self.strategies = tuple(strategies)
        self.counterfactual = counterfactual
        self.baseline = baseline
        self.replications = 3
        self.alpha = 0.1
        self.scenario = SimpleNamespace(stage_names=STAGES)


def _with_no_marketing():
    runs = [
        *RUNS,
        SimpleNamespace(
            replication=0, strategy="(no marketing)", flows=_flows([("a", "c", "organic", 6)])
        ),
    ]
    return flow_counts_table(runs, STAGES)


def test_flow_views_list_the_strategies_with_flows():
    assert _Result(_counts())._flow_strategies == ["x", "y"]
    assert _Result(_counts(), ("y", "x"))._flow_strategies == ["y", "x"]
    res = _Result(_with_no_marketing(), counterfactual="(no marketing)")
    assert res._flow_strategies == ["x", "y", "(no marketing)"]
    res = _Result(_with_no_marketing(), ("x", "(no marketing)"), counterfactual="(no marketing)")
    assert res._flow_strategies == ["x", "(no marketing)"]  # not twice
    assert _Result(_counts(), ("x", "y", "w"))._flow_strategies == ["x", "y"]  # w has no flows
    assert _Result(flow_counts_table([], STAGES))._flow_strategies == []


def test_flow_views_means_and_differences():
    res = _Result(_with_no_marketing(), counterfactual="(no marketing)")
    f = res.flows()
    assert f["strategy"].tolist() == ["x", "x", "y", "y", "(no marketing)"]
    assert f["mean"].iloc[-1] == pytest.approx(2.0)  # 6 in replication 0 only
    t = stats.t.ppf(0.95, 2)
    assert f["ci_high"].iloc[0] == pytest.approx(5 + t / np.sqrt(3))  # alpha 0.1
    f2 = res.flows(by_cause=False)
    assert (f2["cause"] == ALL_CAUSES).all() and len(f2) == 4
    d = res.flow_difference("y")  # minus the baseline x
    assert (d["a"] == "y").all() and (d["b"] == "x").all()
    assert d["diff"].tolist() == pytest.approx([4.0, -22 / 3, 1.0])
    ref = stats.ttest_1samp([3, 2, 7], 0).confidence_interval(0.9)
    assert (d["ci_low"].iloc[0], d["ci_high"].iloc[0]) == pytest.approx((ref.low, ref.high))
    d2 = res.flow_difference("x", "y", by_cause=False)
    assert d2["diff"].tolist() == pytest.approx([10 / 3, -1.0])
    assert res.flow_difference("(no marketing)", "y")["a"].iloc[0] == "(no marketing)"


def test_flow_views_refuse_unknown_and_identical_strategies():
    res = _Result(_counts())
    with pytest.raises(ConfigError) as err:
        res.flow_difference("w")
    assert err.value.problems == [("a", "must be 'x' or 'y', got 'w'")]
    with pytest.raises(ConfigError) as err:
        res.flow_difference("y", "w")
    assert err.value.problems[0][0] == "b"
    with pytest.raises(ConfigError) as err:
        res.flow_difference("x")  # the baseline against itself
    assert err.value.problems == [("b", "must differ from a ('x'); allowed: 'y'")]
    three = _Result(_with_no_marketing(), counterfactual="(no marketing)")
    with pytest.raises(ConfigError) as err:
        three.flow_difference("y", "y")
    assert err.value.problems == [("b", "must differ from a ('y'); allowed: 'x', '(no marketing)'")]


def test_transition_matrix_of_a_strategy():
    res = _Result(_with_no_marketing(), counterfactual="(no marketing)")
    m = res.transition_matrix("y")
    assert list(m.index) == STAGES and list(m.columns) == STAGES
    assert m.loc["a", "b"] == pytest.approx(9.0) and m.loc["b", "c"] == pytest.approx(1.0)
    assert m.loc["a", "c"] == 0.0
    x = res.transition_matrix("x")
    assert x.loc["a", "b"] == pytest.approx(37 / 3)  # summed over causes
    share = res.transition_matrix("(no marketing)", normalize="moves")
    assert share.loc["a", "c"] == 1.0 and np.isnan(share.loc["b"]).all()
    with pytest.raises(ConfigError) as err:
        res.transition_matrix("w")
    assert err.value.problems[0][0] == "strategy" and "'w'" in err.value.problems[0][1]
    with pytest.raises(ConfigError) as err:
        res.transition_matrix("x", normalize="daily")
    assert err.value.problems == [("normalize", "must be None or 'moves', got 'daily'")]


def test_cube_orders_flows_by_from_then_to_stage_then_cause_whatever_their_arrival():
    runs = [
        _r(0, "x", [("b", "a", "mail", 1), ("a", "c", "ads", 2), ("a", "c", "organic", 3)]),
        _r(0, "x", [("a", "b", "organic", 4), ("b", "a", "organic", 5)]),
    ]
    keys, cube = _cube(flow_counts_table(runs, STAGES), ["x"], 1)
    # graph order a < b < c; causes: organic first, then mail, ads (order of appearance)
    assert keys.values.tolist() == [
        ["a", "b", "organic"],
        ["a", "c", "organic"],
        ["a", "c", "ads"],
        ["b", "a", "organic"],
        ["b", "a", "mail"],
    ]
    assert cube[0, 0].tolist() == [4, 3, 2, 5, 1]


@pytest.mark.filterwarnings("error")  # no NumPy warning from one replication
def test_stats_of_two_replications_and_of_one_without_warnings():
    two = _stats(np.array([[1.0, 4.0], [3.0, 4.0]]), 0.05)
    t = stats.t.ppf(0.975, 1)
    assert two["sd"].tolist() == pytest.approx([np.sqrt(2), 0.0])
    assert two["ci_high"].tolist() == pytest.approx([2 + t, 4.0])
    one = _stats(np.array([[3.0, 2.0]]), 0.05)
    assert one["sd"].shape == (2,) and one["se"].shape == (2,)
    assert np.isnan(one["ci_low"]).all()


def test_tables_have_a_fresh_index_and_the_default_level_is_95_percent():
    c = _counts()
    assert list(c.index) == list(range(9))
    m = flow_means(_counts(), ["x", "y"], 3)
    assert list(m.index) == [0, 1, 2, 3]
    t = stats.t.ppf(0.975, 2)
    assert m["ci_high"].iloc[0] == pytest.approx(5 + t / np.sqrt(3))
    d = flow_difference(_counts(), "x", "y", 3)
    ci = stats.ttest_1samp([-3, -2, -7], 0).confidence_interval(0.95)
    assert (d["ci_low"].iloc[0], d["ci_high"].iloc[0]) == pytest.approx((ci.low, ci.high))


@pytest.mark.filterwarnings("error")  # |mean| / 0 and 0 / 0 are expected: no warning
def test_flow_difference_p_values_of_two_and_one_replications():
    runs = [
        _r(0, "x", [("a", "b", "organic", 5), ("b", "c", "organic", 4)]),
        _r(0, "y", [("a", "b", "organic", 3), ("b", "c", "organic", 4)]),
        _r(1, "x", [("a", "b", "organic", 9), ("b", "c", "organic", 4)]),
        _r(1, "y", [("a", "b", "organic", 4), ("b", "c", "organic", 4)]),
    ]
    d = flow_difference(flow_counts_table(runs, STAGES), "x", "y", 2)
    ref = stats.ttest_1samp([2, 5], 0)
    assert d["p_value"].tolist() == pytest.approx([ref.pvalue, 1.0])
    one = flow_difference(flow_counts_table(runs[:2], STAGES), "x", "y", 1)
    assert one["p_value"].dtype == np.float64 and one["p_value"].tolist() == [0.0, 1.0]
