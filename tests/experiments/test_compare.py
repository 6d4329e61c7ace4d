import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import lifesim
from lifesim._random import spawn_seeds
from lifesim.errors import ConfigError
from lifesim.experiments import compare, paired_diff

SMALL = {"customers": 1500, "days": 120}


def test_results_do_not_depend_on_the_number_of_workers():
    a = compare(None, replications=3, seed=9, jobs=1, **SMALL)
    b = compare(None, replications=3, seed=9, jobs=2, **SMALL)
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.differences, b.differences)
    assert a.to_dict()["strategies"] == b.to_dict()["strategies"]


def test_common_random_numbers_make_paired_differences_less_variable(global_seed):
    """Var(revenue_s - revenue_0) with the same seed per replication vs independent seeds.

    The variance ratio is about 2.5-4 here; with 60 replications each, the sample ratio's
    log has sd ~0.26, so observing a ratio below 1 is a > 3.5 sd event for any seed.
    """
    reps = 60
    seeds = spawn_seeds(global_seed, 2 * reps)
    scn = lifesim.load_scenario(None)

    def revenue(strategy, seed):
        res = lifesim.simulate(
            scn, seed=seed, strategy=strategy, customers=1000, days=90, record_events=False
        )
        return res.revenue_total

    none = [revenue("none", s) for s in seeds]
    stage = [revenue("stage_focused", s) for s in seeds[:reps]]
    crn = [stage[r] - none[r] for r in range(reps)]
    ind = [stage[r] - none[reps + r] for r in range(reps)]
    assert np.var(ind, ddof=1) > np.var(crn, ddof=1)


def test_compare_result_has_cis_differences_and_a_verdict():
    res = compare(None, replications=4, seed=2, strategies="none,stage_focused", **SMALL)
    assert res.strategies == ("none", "stage_focused") and res.baseline == "none"
    from scipy import stats

    # every figure against scipy on the per-replication table
    runs = res.runs.set_index(["strategy", "replication"]).sort_index()
    stage, none = runs.loc["stage_focused", "profit"], runs.loc["none", "profit"]
    s = res.summary_table
    row = s[(s.strategy == "stage_focused") & (s.metric == "profit")].iloc[0]
    ci = stats.t.interval(0.95, len(stage) - 1, loc=stage.mean(), scale=stats.sem(stage))
    assert row["n"] == 4 and row["mean"] == pytest.approx(stage.mean(), rel=1e-12)
    assert (row.ci_low, row.ci_high) == pytest.approx(ci, rel=1e-9)
    d = res.differences
    prof = d[d.metric == "profit"].iloc[0]
    assert (prof.strategy, prof.baseline) == ("stage_focused", "none")
    t = stats.ttest_rel(stage, none)
    assert prof["diff"] == pytest.approx((stage - none).mean(), rel=1e-12)
    assert prof.p_value == pytest.approx(t.pvalue, rel=1e-9)
    tci = t.confidence_interval()
    assert (prof.ci_low, prof.ci_high) == pytest.approx((tci.low, tci.high), rel=1e-9)
    pair = ("stage_focused", "none")
    best, other = pair if stage.mean() > none.mean() else pair[::-1]
    assert (res.verdict["winner"], res.verdict["runner_up"]) == (best, other)
    assert res.verdict["p_value"] == pytest.approx(t.pvalue, rel=1e-9)
    text = res.summary()
    assert "95% CI" in text and "paired" in text and "Winner on profit" in text
    j = res.to_dict()
    json.dumps(j)  # strict JSON (no NaN)
    assert set(j["strategies"]) == {"none", "stage_focused"}
    assert {"mean", "ci"} <= set(j["strategies"]["none"]["profit"])
    assert {"difference", "ci", "p_value"} <= set(j["differences"][0])
    assert "<table" in res._repr_html_()


def test_paired_diff_matches_scipy():
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 15), rng.normal(0.5, 1, 15)
    d = paired_diff(a, b)
    t = stats.ttest_rel(a, b)
    assert d["p_value"] == pytest.approx(t.pvalue, rel=1e-12)
    ci = t.confidence_interval()
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategies": "none,nope"}, "unknown strategy 'nope'"),
        ({"replications": 1}, "replications: must be a whole number >= 2, got 1"),
        ({"jobs": 0}, "jobs: must be >= 1"),
        ({"objective": "happiness"}, "unknown metric 'happiness'"),
        ({"baseline": "kpi_focused", "strategies": "none,stage_focused"}, "baseline"),
    ],
)
def test_bad_options_get_clear_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        compare(None, **SMALL, **kwargs)


def test_cli_compare_json_and_run_folder(tmp_path):
    out = tmp_path / "cmp"
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lifesim.cli import main; main()",
            "compare",
            "--replications",
            "2",
            "--customers",
            "800",
            "--days",
            "60",
            "--seed",
            "3",
            "--jobs",
            "2",
            "--format",
            "json",
            "--no-progress",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["replications"] == 2 and set(d["strategies"]) == {
        "none",
        "kpi_focused",
        "stage_focused",
    }
    names = {p.name for p in out.iterdir()}
    assert {
        "report.html",
        "forest.png",
        "stage_shares.png",
        "funnel.png",
        "runs.parquet",
        "runs.csv",
        "summary.parquet",
        "differences.csv",
        "result.json",
        "scenario.yaml",
    } <= names
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Winner on profit" in html


def test_cli_compare_bad_strategy_exits_2():
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lifesim.cli import main; main()",
            "compare",
            "--strategies",
            "none,foo",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "unknown strategy 'foo'" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_winner_depends_on_the_business(configs_dir, global_seed):
    """The shipped studies: lifecycle wins in the shop, the KPI chase wins the one-off launch."""
    shop = compare(
        None,
        customers=4000,
        replications=5,
        seed=global_seed,
        jobs=2,
        strategies="kpi_focused,stage_focused",
    )
    d = shop.differences.set_index("metric").loc["profit"]
    assert d["diff"] > 0 and d["ci_low"] > 0  # stage_focused - kpi_focused
    launch = compare(
        configs_dir / "launch_one_off.yaml",
        customers=8000,
        replications=5,
        seed=global_seed,
        jobs=2,
        strategies="stage_focused,kpi_focused",
    )
    d = launch.differences.set_index("metric").loc["profit"]
    # kpi_focused - stage_focused: about 4 standard errors above 0 at this size
    assert d["diff"] > 0


def test_spend_by_item_adds_up_to_each_strategys_mean_marketing_cost():
    res = compare(None, replications=2, seed=3, customers=400, days=20)
    assert list(res.spend.columns) == ["strategy", "item", "cost"]
    assert set(res.spend.strategy) <= set(res.strategies)
    for s in res.strategies:
        items = res.spend[res.spend.strategy == s]
        mean_cost = res.runs.loc[res.runs.strategy == s, "marketing_cost"].mean()
        assert items["cost"].sum() == pytest.approx(mean_cost, rel=1e-9, abs=1e-9), s
        assert list(items["cost"]) == sorted(items["cost"], reverse=True), s  # largest first
    assert not len(res.spend[res.spend.strategy == "none"])  # no marketing, no ledger items
