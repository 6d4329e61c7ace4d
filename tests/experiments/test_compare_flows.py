"""Stage flows of a comparison: per-run counts, means, paired differences, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lifesim
from lifesim._random import as_seed_sequence, spawn_seeds
from lifesim.errors import ConfigError, LifesimError
from lifesim.experiments import compare
from lifesim.experiments.flows import flow_difference, flow_means

STAGES = ["a", "b", "c"]


def _counts(rows):
    df = pd.DataFrame(
        rows, columns=["replication", "strategy", "from_stage", "to_stage", "cause", "moves"]
    )
    df["from_stage"] = pd.Categorical(df["from_stage"], categories=STAGES)
    df["to_stage"] = pd.Categorical(df["to_stage"], categories=STAGES)
    df["cause"] = pd.Categorical(df["cause"], categories=["organic", "ads"])
    return df


# three replications of two strategies; flow (a, b, ads) is missing from x's replication 2
HAND = _counts(
    [
        (0, "x", "a", "b", "organic", 4),
        (0, "x", "a", "b", "ads", 10),
        (1, "x", "a", "b", "organic", 6),
        (1, "x", "a", "b", "ads", 12),
        (2, "x", "a", "b", "organic", 5),
        (0, "y", "a", "b", "organic", 7),
        (1, "y", "a", "b", "organic", 8),
        (2, "y", "a", "b", "organic", 12),
        (2, "y", "b", "c", "organic", 3),
    ]
)


def test_means_count_a_missing_flow_as_zero():
    m = flow_means(HAND, ["x", "y"], 3, alpha=0.05).set_index(
        ["strategy", "from_stage", "to_stage", "cause"]
    )
    assert m.loc[("x", "a", "b", "ads"), "mean"] == pytest.approx((10 + 12 + 0) / 3)
    assert m.loc[("x", "a", "b", "organic"), "mean"] == pytest.approx(5.0)
    # sd of 4, 6, 5 is 1; se = 1 / sqrt(3); t(0.975, 2) = 4.302653
    assert m.loc[("x", "a", "b", "organic"), "se"] == pytest.approx(1 / np.sqrt(3))
    assert m.loc[("x", "a", "b", "organic"), "ci_high"] == pytest.approx(5 + 4.302653 / np.sqrt(3))
    assert m.loc[("y", "b", "c", "organic"), "mean"] == pytest.approx(1.0)
    assert ("y", "a", "b", "ads") not in m.index  # never happened under y
    assert len(m) == 4


def test_difference_is_a_minus_b_paired_by_replication():
    d = flow_difference(HAND, "x", "y", 3).set_index(["from_stage", "to_stage", "cause"])
    # organic a->b: x - y per replication = -3, -2, -7: mean -4, sd sqrt(7)
    row = d.loc[("a", "b", "organic")]
    assert row["diff"] == pytest.approx(-4.0)
    assert row["mean_a"] == pytest.approx(5.0) and row["mean_b"] == pytest.approx(9.0)
    assert row["se"] == pytest.approx(np.sqrt(7 / 3))
    assert d.loc[("a", "b", "ads"), "diff"] == pytest.approx(22 / 3)
    assert d.loc[("b", "c", "organic"), "diff"] == pytest.approx(-1.0)
    back = flow_difference(HAND, "y", "x", 3).set_index(["from_stage", "to_stage", "cause"])
    np.testing.assert_allclose(back["diff"], -d["diff"])
    summed = flow_difference(HAND, "x", "y", 3, by_cause=False)
    ab = summed[(summed.from_stage == "a") & (summed.to_stage == "b")].iloc[0]
    assert ab["diff"] == pytest.approx((14 + 18 + 5 - 7 - 8 - 12) / 3)


def test_the_same_difference_every_replication_has_p_zero_and_no_difference_p_one():
    rows = [
        (r, s, "a", "b", "organic", 5 + r + (2 if s == "x" else 0)) for r in range(3) for s in "xy"
    ]
    rows += [(r, s, "b", "c", "organic", 4) for r in range(3) for s in "xy"]
    d = flow_difference(_counts(rows), "x", "y", 3).set_index("to_stage")
    assert d.loc["b", "p_value"] == 0.0 and d.loc["b", "diff"] == 2.0
    assert d.loc["c", "p_value"] == 1.0 and d.loc["c", "diff"] == 0.0


@pytest.fixture(scope="module")
def cmp_runs():
    kw = dict(
        strategies="none,stage_focused",
        replications=2,
        days=25,
        seed=11,
        initial={"stage": ["awareness"] * 150 + ["retention"] * 80 + ["churned"] * 20},
    )
    return compare("configs/reference.yaml", jobs=1, **kw), compare(
        "configs/reference.yaml", jobs=2, **kw
    )


def test_per_run_counts_are_the_runs_own_flows(cmp_runs):
    res = cmp_runs[0]
    seeds = spawn_seeds(as_seed_sequence(11), 2)
    initial = {"stage": ["awareness"] * 150 + ["retention"] * 80 + ["churned"] * 20}
    for r in range(2):
        one = lifesim.simulate(
            "configs/reference.yaml",
            seed=seeds[r],
            days=25,
            strategy="stage_focused",
            initial=initial,
        )
        want = {
            (str(x.from_stage), str(x.to_stage), str(x.cause)): x.moves
            for x in one.flows().itertuples()
        }
        sub = res.flow_counts[
            (res.flow_counts.replication == r) & (res.flow_counts.strategy == "stage_focused")
        ]
        got = {
            (str(x.from_stage), str(x.to_stage), str(x.cause)): x.moves for x in sub.itertuples()
        }
        assert got == want


def test_flows_do_not_depend_on_the_number_of_workers(cmp_runs):
    one, two = cmp_runs
    pd.testing.assert_frame_equal(one.runs, two.runs)  # the runs themselves first
    pd.testing.assert_frame_equal(one.flow_counts, two.flow_counts)
    pd.testing.assert_frame_equal(one.flows(), two.flows())
    pd.testing.assert_frame_equal(
        one.flow_difference("stage_focused"), two.flow_difference("stage_focused")
    )


def test_mean_flows_conserve_people(cmp_runs):
    """Given start + mean inflows - mean outflows = mean end count, per stage and strategy."""
    res = cmp_runs[0]
    start = {"awareness": 150, "retention": 80, "churned": 20}
    f = res.flows()
    size = 250
    for s in res.strategies:
        fs = f[f.strategy == s]
        end = res.stage_shares[res.stage_shares.strategy == s].iloc[-1]
        for st in res.scenario.stages:
            net = (
                fs.loc[fs.to_stage == st, "mean"].sum() - fs.loc[fs.from_stage == st, "mean"].sum()
            )
            assert start.get(st, 0) + net == pytest.approx(end[st] * size, abs=1e-3), (s, st)


def test_difference_and_matrix_agree_with_the_means(cmp_runs):
    res = cmp_runs[0]
    assert res.baseline == "none"
    d = res.flow_difference("stage_focused", by_cause=False)
    m = res.flows(by_cause=False).set_index(["strategy", "from_stage", "to_stage"])["mean"]
    for r in d.itertuples():
        a = m.get(("stage_focused", r.from_stage, r.to_stage), 0.0)
        b = m.get(("none", r.from_stage, r.to_stage), 0.0)
        assert r.diff == pytest.approx(a - b)
    mat = res.transition_matrix("stage_focused")
    for (s, f, t), v in m.items():
        if s == "stage_focused":
            assert mat.loc[f, t] == pytest.approx(v)
    share = res.transition_matrix("stage_focused", normalize="moves")
    assert share.loc["awareness"].sum() == pytest.approx(1.0)


def test_unknown_strategy_and_missing_counts_are_refused(cmp_runs):
    res = cmp_runs[0]
    with pytest.raises(ConfigError, match=r"a: must be .*'none'.*got 'kpi'"):
        res.flow_difference("kpi")
    with pytest.raises(ConfigError, match=r"normalize: must be None or 'moves', got 'daily'"):
        res.transition_matrix("none", normalize="daily")
    empty = type(res)(**{**res.__dict__, "flow_counts": pd.DataFrame()})
    with pytest.raises(LifesimError, match="no flow counts.*run compare again"):
        empty.flows()


def test_saved_run_folder_has_the_flow_table(cmp_runs, tmp_path):
    res = cmp_runs[0]
    out = res.save(tmp_path / "run")
    back = pd.read_parquet(out / "flows.parquet")
    assert back["moves"].sum() == res.flow_counts["moves"].sum()


def test_a_strategy_against_itself_is_refused_naming_b(cmp_runs):
    # the baseline against the default b (the baseline) raised pandas' InvalidIndexError
    res = cmp_runs[0]
    with pytest.raises(ConfigError, match=r"b: must differ from a \('none'\); allowed: .*'stage"):
        res.flow_difference("none")
    with pytest.raises(ConfigError, match=r"b: must differ from a \('stage_focused'\)"):
        res.flow_difference("stage_focused", "stage_focused")
