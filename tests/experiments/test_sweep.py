"""lifesim sweep: common random numbers across points, exact where the model is exact,
resumable with identical results, and clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from lifesim.errors import ConfigError
from lifesim.experiments.sweep import sweep

KW = {"strategies": "none,stage_focused", "replications": 2, "customers": 600, "days": 40}


def test_a_margin_sweep_is_exactly_linear_and_flips_where_cost_equals_margin_gain():
    # the margin changes no dynamics: with the same seeds at every point, profit = margin x
    # revenue - cost, so the difference is linear in the margin and crosses 0 at
    # (cost difference) / (revenue difference), which the interpolation must find exactly
    res = sweep(None, ["economics.margin=0.01:0.9:4"], seed=5, **KW)
    runs = res.runs.groupby(["strategy"])[["revenue", "marketing_cost"]].mean()
    rev = runs.loc["stage_focused", "revenue"] - runs.loc["none", "revenue"]
    cost = runs.loc["stage_focused", "marketing_cost"] - runs.loc["none", "marketing_cost"]
    t = res.table.sort_values("economics.margin")
    np.testing.assert_allclose(t["diff"], t["economics.margin"] * rev - cost, rtol=1e-9)
    if rev > 0 and cost / rev < 0.9:
        assert len(res.flips) == 1
        assert res.flips["value"].iloc[0] == pytest.approx(cost / rev, rel=1e-9)
        assert res.flips["low"].iloc[0] <= cost / rev <= res.flips["high"].iloc[0]
    assert res.tornado["at_high"].iloc[0] > res.tornado["at_low"].iloc[0]


def test_every_point_uses_the_same_seeds():
    res = sweep(None, ["economics.margin=0.2,0.4"], seed=5, **KW)
    r = res.runs.set_index(["point", "replication", "strategy"])["revenue"].unstack("point")
    np.testing.assert_array_equal(r[0].to_numpy(), r[1].to_numpy())  # revenue: no margin in it


def test_a_resumed_sweep_equals_an_uninterrupted_one(tmp_path):
    args = (None, ["budget.per_period=2000:12000:3"])
    full = sweep(*args, seed=3, out=tmp_path / "full", **KW)

    class Stop(Exception):
        pass

    def stop_after_two(done, total):
        if done == 2:
            raise Stop

    with pytest.raises(Stop):
        sweep(*args, seed=3, out=tmp_path / "cut", progress=stop_after_two, **KW)
    partial = tmp_path / "cut.partial"
    assert len(list(partial.glob("point-*.parquet"))) == 2 and not (tmp_path / "cut").exists()
    with pytest.raises(ConfigError, match=r"pass --resume to continue it"):
        sweep(*args, seed=3, out=tmp_path / "cut", **KW)
    with pytest.raises(ConfigError, match=r"specified differently \(seed\)"):
        sweep(*args, seed=4, out=tmp_path / "cut", resume=True, **KW)
    seen = []
    again = sweep(
        *args, seed=3, out=tmp_path / "cut", resume=True, progress=lambda d, t: seen.append(d), **KW
    )
    assert seen == [3]  # only the missing point ran
    pd.testing.assert_frame_equal(again.runs, full.runs)
    assert not partial.exists() and (tmp_path / "cut" / "report.html").exists() is False
    assert (tmp_path / "cut" / "result.json").exists()


def test_results_do_not_depend_on_the_number_of_workers():
    a = sweep(None, ["economics.margin=0.2,0.5"], seed=7, jobs=1, **KW)
    b = sweep(None, ["economics.margin=0.2,0.5"], seed=7, jobs=2, **KW)
    pd.testing.assert_frame_equal(a.runs, b.runs)


def test_sampled_designs_give_sensitivity_indices():
    res = sweep(
        None,
        ["economics.margin=0.05:0.8", "fatigue.erosion=0.3:0.5"],
        design="lhs",
        samples=20,
        seed=2,
        **KW,
    )
    assert len(res.points) == 20 and res.sensitivity is not None
    s = res.sensitivity.set_index("param")["S1"]
    assert s["economics.margin"] > s["fatigue.erosion"]


def test_bad_vary_is_refused_with_the_validators_message(tmp_path):
    with pytest.raises(ConfigError, match=r"(?s)sweep point 1.*economics.margin.*\[0, 1\]"):
        sweep(None, ["economics.margin=0.5,1.5"], **KW)
    with pytest.raises(ConfigError, match=r"no key 'budget.per_perod'"):
        sweep(None, ["budget.per_perod=1,2"], **KW)
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lifesim.cli import main; main()",
            "sweep",
            "--vary",
            "economics.margin=3:1",
            "--out",
            str(tmp_path / "x"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "low < high" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


def test_sampled_designs_draw_parameters_from_distributions():
    from lifesim.config import parse_range

    res = sweep(
        None,
        [
            "economics.margin=dist:uniform:low=0.2,high=0.4",
            "fatigue.erosion=dist:lognormal:mu=-1,sigma=0.2,max=0.5",
        ],
        design="lhs",
        samples=8,
        seed=2,
        **{**KW, "days": 10},
    )
    m, e = res.points["economics.margin"], res.points["fatigue.erosion"]
    assert m.between(0.2, 0.4).all() and (e > 0).all() and (e <= 0.5).all()
    # a Latin hypercube puts one point in each eighth of the uniform's range
    assert sorted(((m - 0.2) / 0.2 * 8).astype(int).clip(0, 7)) == list(range(8))
    with pytest.raises(ConfigError, match=r"sampled, not gridded"):
        sweep(None, ["economics.margin=dist:uniform:low=0.2,high=0.4"], **KW)
    with pytest.raises(ConfigError, match=r"a distribution as in scenario files"):
        parse_range("economics.margin=dist:uniform:low=0.2")


def test_a_pair_naming_a_strategy_not_compared_says_which_and_what_is_allowed():
    with pytest.raises(ConfigError, match=r"'kpi' not compared; .* \(none, kpi_focused, st"):
        sweep(None, ["economics.margin=0.2,0.4"], pair=("stage_focused", "kpi"), seed=1)
    with pytest.raises(ConfigError, match=r"pair: two different compared strategies are allowed"):
        sweep(None, ["economics.margin=0.2,0.4"], pair=("none", "none"), seed=1)
