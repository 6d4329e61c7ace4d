"""Peeking inside the simulator: the naive test read daily finds effects that are not there.

Issue 12, item 5. An A/A experiment (both arms the same strategy: the truth is exactly 0) is
read at every day of each metric's window; the naive fixed-horizon test stopped at its first
p < alpha rejects far more often than alpha, while the always-valid confidence sequence and the
group-sequential design hold alpha. Tolerances are 4 binomial standard errors at alpha over the
repeats (any seed: LIFESIM_TEST_SEED via the global_seed fixture).
"""

import json
import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from lifesim.cli import app
from lifesim.errors import ConfigError
from lifesim.experiments.insim import audit
from lifesim.experiments.insim.peeking import look_days, look_stats, parse_peek
from lifesim.experiments.insim.run import resolve_experiment
from tests.experiments.test_insim import scenario

REPEATS = 250


@pytest.fixture(scope="module")
def aa_daily():
    from tests.conftest import _SEED

    data = scenario(
        arms={"control": "none", "treatment": "none"},
        metrics={"revenue": {"kind": "revenue"}, "converted": {"kind": "converted"}},
    )
    return audit(
        data, repeats=REPEATS, seed=_SEED, customers=500, days=50, truth_replications=1,
        aa=False, jobs=1, peek="daily",
    )  # fmt: skip


def test_daily_peeking_inflates_the_naive_test_and_not_the_sequential_ones(aa_daily):
    tbl = aa_daily.peeking.set_index(["metric", "method"])
    alpha = aa_daily.alpha
    tol = 4 * math.sqrt(alpha * (1 - alpha) / REPEATS)
    for metric in ("revenue", "converted"):
        assert tbl.loc[(metric, "naive"), "looks"] == 30  # days 21..50 of the window [20, 50)
        assert tbl.loc[(metric, "naive"), "rejection_rate"] > alpha + tol, metric
        for method in ("always-valid", "group-sequential"):
            r = tbl.loc[(metric, method)]
            assert r["rejection_rate"] <= alpha + tol, (metric, method)
            assert r["coverage"] >= 1 - alpha - tol, (metric, method)  # truth 0
        # stopping early is what the naive test does: it stops before the end on average
        assert tbl.loc[(metric, "naive"), "mean_stop_day"] < 30
    assert (aa_daily.peeking["true_effect"] == 0).all()


def test_the_last_look_is_the_planned_read_out(global_seed):
    scn, exp = resolve_experiment(
        scenario(
            metrics={
                "revenue": {"kind": "revenue"},
                "converted": {"kind": "converted", "within": 30},
                "retained": {"kind": "retained"},
                "clv": {"kind": "profit"},
                "cost": {"kind": "cost"},
                "orders": {"kind": "orders", "within": 40},
                "purchased": {"kind": "purchased"},
            }
        ),
        customers=600,
    )
    looks = look_days(exp, scn.days, 4)
    assert list(looks["converted"]) == [28, 35, 43, 50]  # ceil(20 + k * 30 / 4)
    assert looks["revenue"][-1] == scn.days
    people, stats = look_stats(scn, exp, np.random.SeedSequence(global_seed), looks)
    by_arm = people.groupby("arm")
    for name in exp.metrics:
        d, se = stats[(name, "treatment")]
        means, sds = by_arm[name].mean(), by_arm[name].std(ddof=1)
        n = by_arm.size()
        want = means["treatment"] - means["control"]
        assert d[-1] == pytest.approx(want, rel=1e-9, abs=1e-9), name
        want_se = math.sqrt(
            sds["treatment"] ** 2 / n["treatment"] + sds["control"] ** 2 / n["control"]
        )
        assert se[-1] == pytest.approx(want_se, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("bad", ["1", "weekly", "2.5", "0"])
def test_bad_peek_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="peek"):
        parse_peek(bad)
    assert parse_peek("Daily") == "daily" and parse_peek("7") == 7


def test_cli_peek_json_keys_and_errors(tmp_path, global_seed):
    path = tmp_path / "exp.yaml"
    data = scenario()
    data["market"]["size"] = 300
    path.write_text(yaml.safe_dump(data))
    runner = CliRunner()
    args = ["experiment", "audit", str(path), "--repeats", "3", "--truth-replications", "2",
            "--jobs", "1", "--no-progress", "--seed", str(global_seed)]  # fmt: skip
    res = runner.invoke(app, [*args, "--peek", "3", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["peek"] == 3
    row = out["peeking"][0]
    for key in ("method", "rejection_rate", "rejection_se", "mean_stop_day", "stop_day_se",
                "coverage", "coverage_se", "looks"):  # fmt: skip
        assert key in row
    assert {r["method"] for r in out["peeking"]} == {"naive", "always-valid", "group-sequential"}
    res = runner.invoke(app, [*args, "--peek", "weekly"])
    assert res.exit_code == 2 and "peek" in res.output
    res = runner.invoke(app, [*args, "--peek", "3", "--design", "market", "--clusters", "4"])
    assert res.exit_code == 2 and "person-level" in res.output


def test_group_sequential_boundaries_keep_the_last_look():
    from lifesim.experiments.insim.peeking import _thresholds

    # equal information steps: Lan-DeMets O'Brien-Fleming, K = 5 (Jennison & Turnbull 2000,
    # ch. 7; the values of lifesim.ab.gsd's tests)
    c = _thresholds(np.arange(1, 6.0), 0.05)["group-sequential"]
    assert c == pytest.approx([4.8769, 3.3570, 2.6803, 2.2898, 2.0310], abs=1e-3)
    # a variance that peaks before the end (a state metric): the last look keeps a boundary
    c = _thresholds(np.array([1.0, 2.0, 3.0, 4.0, 3.5, 3.0]), 0.05)["group-sequential"]
    assert np.isfinite(c[-1]) and 1.96 < c[-1] < 2.2
    c = _thresholds(np.array([1.0, 2.0, 3.0, 4.0, 3.5, 3.0]), 0.05, np.arange(1, 7) / 6)
    assert np.isfinite(c["group-sequential"]).all() and np.isfinite(c["always-valid"]).all()
