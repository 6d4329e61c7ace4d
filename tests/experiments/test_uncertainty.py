"""Strategies under parameter uncertainty: draws applied by key path, P(best), expected regret."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import lifesim
from lifesim.config import override
from lifesim.errors import ConfigError
from lifesim.experiments.uncertainty import parameter_uncertainty

N, DAYS = 1500, 90


def _margins(*m):
    return pd.DataFrame({"draw": range(len(m)), "economics.margin": m})


def test_draws_set_the_values_and_p_best_and_regret_follow_from_the_per_draw_table():
    draws = _margins(0.01, 0.9, 0.01, 0.9)
    res = parameter_uncertainty(
        None, draws, strategies="none,stage_focused", customers=N, days=DAYS, seed=3
    )
    per = res.per_draw.pivot(index="draw", columns="strategy", values="profit")
    # the margin changes no dynamics (same seeds): none's profit is margin x the same revenue
    assert per.loc[1, "none"] / per.loc[0, "none"] == pytest.approx(90, rel=1e-9)
    assert per.loc[0, "none"] == pytest.approx(per.loc[2, "none"], rel=1e-12)
    # by hand from the per-draw table
    mat = per[["none", "stage_focused"]].to_numpy()
    best = mat.max(axis=1, keepdims=True)
    tab = res.table.set_index("strategy")
    np.testing.assert_allclose(tab["expected_regret"], (best - mat).mean(axis=0))
    np.testing.assert_allclose(tab["p_best"], (mat == best).mean(axis=0))
    np.testing.assert_allclose(tab["mean"], mat.mean(axis=0))
    # at a 1% margin marketing cannot pay for itself: 'none' wins those draws
    assert (per.loc[[0, 2], "none"] > per.loc[[0, 2], "stage_focused"]).all()
    assert 0 < tab.loc["none", "p_best"] < 1
    assert "P(best)" in res.summary() and res.to_dict()["draws"] == 4


def test_a_bad_draws_table_names_the_draw_and_the_path():
    with pytest.raises(ConfigError, match=r"draw 1.*economics.margin.*\[0, 1\]|margin"):
        parameter_uncertainty(None, _margins(0.3, 1.7), strategies="none", customers=N, days=10)
    bad = pd.DataFrame({"stages.retention.buy.q": [0.1, 0.2]})
    with pytest.raises(ConfigError, match=r"no key 'stages.retention.buy.q'"):
        parameter_uncertainty(None, bad, strategies="none", customers=N, days=10)
    with pytest.raises(ConfigError, match=r"no column is a scenario key path"):
        parameter_uncertainty(None, pd.DataFrame({"r": [1, 2]}), strategies="none")
    with pytest.raises(ConfigError, match=r"parameter_draws: must be a whole number in 2..2"):
        parameter_uncertainty(None, _margins(0.3, 0.4), n_draws=5, strategies="none")


def test_override_keeps_the_scenario_otherwise_equal():
    scn = lifesim.default_scenario()
    out = override(scn, {"budget.per_period": 1234.0, "stages.retention.buy.p": 0.02})
    assert out.budget.per_period == 1234.0 and out.stages["retention"].buy.p == 0.02
    back = override(
        out,
        {
            "budget.per_period": scn.budget.per_period,
            "stages.retention.buy.p": scn.stages["retention"].buy.p,
        },
    )
    assert back == scn


def test_compare_cli_reports_parameter_uncertainty(tmp_path):
    draws = tmp_path / "draws.csv"
    _margins(0.2, 0.35, 0.5).to_csv(draws, index=False)
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-c",
        "from lifesim.cli import main; main()",
        "compare",
        "--strategies",
        "none,stage_focused",
        "-r",
        "2",
        "--customers",
        str(N),
        "--days",
        "60",
        "--parameter-draws",
        "3",
        "--draws-file",
        str(draws),
        "--out",
        str(out),
        "--no-progress",
        "--no-report",
        "--jobs",
        "1",
        "--format",
        "json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    pu = d["parameter_uncertainty"]
    assert pu["draws"] == 3 and set(pu["strategies"]) == {"none", "stage_focused"}
    assert sum(v["p_best"] for v in pu["strategies"].values()) == pytest.approx(1.0)
    assert (out / "parameter_uncertainty.csv").exists()
    # without a draws table beside the scenario: exit 2, naming what to do
    cmd2 = [
        sys.executable,
        "-c",
        "from lifesim.cli import main; main()",
        "compare",
        "configs/default.yaml",
        "--parameter-draws",
        "3",
        "--out",
        str(tmp_path / "x"),
        "--no-progress",
    ]
    r2 = subprocess.run(cmd2, capture_output=True, text=True, timeout=300)
    assert r2.returncode == 2 and "no draws table beside the scenario" in r2.stderr
    assert "Traceback" not in r2.stderr and not (tmp_path / "x").exists()


def test_customers_of_a_log_are_redrawn_under_each_parameter_draw(global_seed):
    from lifesim.experiments.calibration import calibrate
    from lifesim.experiments.calibration.state import state_from_log

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_calibrate import _market_log

    log = _market_log(1200, 300, np.random.SeedSequence(global_seed))
    cal = calibrate(log, cutoff=299, draws=10, forecast_draws=10)
    start = state_from_log(cal.scenario, log, 299)
    draws = cal.draws.copy()
    draws.loc[1] = draws.loc[0]
    draws.loc[1, "stages.retention.buy.p"] *= 3  # the same draw, but a prior rate 3x as high
    res = parameter_uncertainty(
        cal.scenario,
        draws,
        strategies="none",
        n_draws=2,
        days=60,
        initial=start,
        objective="revenue",
        seed=1,
    )
    per = res.per_draw.set_index("draw")["revenue"]
    # a prior 3x as high changes both the posterior rates (little: the customers' histories
    # dominate) and P(alive) (lower for the quiet ones): the direction is not fixed, but the
    # state is re-drawn under the draw's parameters, so the runs differ on the same seeds
    assert per.loc[1] != per.loc[0]
    from lifesim.config import override

    scn1 = override(
        cal.scenario, {"stages.retention.buy.p": draws.loc[1, "stages.retention.buy.p"]}
    )
    assert start.for_scenario(scn1).params[1] == pytest.approx(
        1
        / (
            draws.loc[1, "stages.retention.buy.p"]
            * cal.scenario.segments["customers"].propensity.scale
        )
    )


def test_uncertain_ranges_in_a_scenario_are_drawn_reproducibly_and_independently():
    from lifesim.config import load_scenario
    from lifesim.experiments.uncertainty import sample_uncertain

    d = lifesim.default_scenario().model_dump(mode="json")
    d["uncertain"] = {"economics.margin": [0.2, 0.5]}
    one = load_scenario(d)
    d["uncertain"]["tactics.proactive_support.effect.retention->churned"] = {
        "dist": "uniform",
        "low": 0.5,
        "high": 0.9,
    }
    two = load_scenario(d)
    a, b = sample_uncertain(one, 400, seed=1), sample_uncertain(two, 400, seed=1)
    np.testing.assert_array_equal(a["economics.margin"], b["economics.margin"])  # untouched
    m = b["economics.margin"]
    assert m.between(0.2, 0.5).all() and abs(m.mean() - 0.35) < 4 * 0.3 / np.sqrt(12 * 400)
    e = b["tactics.proactive_support.effect.retention->churned"]
    assert e.between(0.5, 0.9).all()
    assert not sample_uncertain(one, 5, seed=2)["economics.margin"].equals(
        a["economics.margin"][:5]
    )


def test_compare_cli_draws_from_the_scenarios_uncertain_block(tmp_path):
    import yaml

    d = lifesim.default_scenario().model_dump(mode="json")
    d["uncertain"] = {"economics.margin": [0.2, 0.5]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(d))
    cmd = [
        sys.executable,
        "-c",
        "from lifesim.cli import main; main()",
        "compare",
        str(path),
        "--strategies",
        "none,stage_focused",
        "-r",
        "2",
        "--customers",
        "800",
        "--days",
        "30",
        "--parameter-draws",
        "3",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
        "--no-report",
        "--jobs",
        "1",
        "--format",
        "json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    pu = json.loads(r.stdout)["parameter_uncertainty"]
    assert pu["columns"] == ["economics.margin"] and pu["draws"] == 3


def test_compare_cli_refuses_an_unreadable_draws_file_naming_the_flag(tmp_path):
    bad = tmp_path / "draws.parquet"
    bad.write_text("hello")
    for path in (bad, tmp_path / "missing.parquet"):
        cmd = [sys.executable, "-c", "from lifesim.cli import main; main()", "compare"]
        cmd += ["--draws-file", str(path), "--customers", "200", "--days", "5", "--no-progress"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert r.returncode == 2, r.stderr
        assert "--draws-file" in r.stderr and str(path.name) in r.stderr, r.stderr


def test_a_draw_at_another_market_size_is_scaled_like_the_scenario(monkeypatch):
    """--customers scales market.arrivals.per_day (and the budget); a draw's values are at the
    scenario's own size, so they are scaled alike: a draw equal to the scenario is the base."""
    import lifesim.experiments.uncertainty as unc

    d = lifesim.default_scenario().model_dump(mode="json")
    d["market"] = {**d["market"], "size": 1000, "arrivals": {"per_day": 10.0, "stage": "awareness"}}
    scn = lifesim.load_scenario(d)
    seen = []
    monkeypatch.setattr(unc, "_one", lambda sc, *a: seen.append(sc) or 0.0)
    draws = pd.DataFrame({"market.arrivals.per_day": [10.0, 20.0], "budget.per_period": [8e3, 8e3]})
    parameter_uncertainty(scn, draws, strategies="none", customers=3000, days=10, seed=1)
    per_day = [sc.market.arrivals.per_day for sc in seen]
    assert per_day == pytest.approx([30.0, 60.0])  # 3 x the draw, as the base's 10 -> 30
    assert [sc.budget.per_period for sc in seen] == pytest.approx([24e3, 24e3])
    assert {sc.market.size for sc in seen} == {3000} and {sc.days for sc in seen} == {10}


def test_p_best_at_0_or_100_percent_shows_the_count_of_draws_not_a_zero_error():
    """10 of 10 draws is evidence of 10 draws, not certainty: no '+- 0%' in the table."""
    from lifesim.experiments.uncertainty import UncertaintyResult

    table = pd.DataFrame(
        {
            "strategy": ["a", "b", "c"],
            "mean": [3.0, 2.0, 1.0],
            "low": [2.0, 1.0, 0.0],
            "high": [4.0, 3.0, 2.0],
            "p_best": [1.0, 0.0, 0.7],
            "p_best_se": [0.0, 0.0, (0.7 * 0.3 / 10) ** 0.5],
            "expected_regret": [0.0, 1.0, 0.5],
        }
    )
    res = UncertaintyResult(("a", "b", "c"), "profit", 10, 2, ["x"], pd.DataFrame(), table, 1, 0.1)
    rows = {line.split()[0]: line for line in res.summary().splitlines()[2:5]}
    assert "100% (10/10)" in rows["a"] and "+-" not in rows["a"]
    assert "0% (0/10)" in rows["b"]
    assert "70% +- 14%" in rows["c"]
