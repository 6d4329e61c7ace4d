"""`lifesim optimize`: known optima, common random numbers, reproducibility, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifesim.cli import _run
from lifesim.config import load_scenario, override, resolve
from lifesim.engine import simulate
from lifesim.errors import ConfigError
from lifesim.experiments import optimize
from lifesim.experiments.optimize import apply_point, resolve_space
from lifesim.metrics import run_metrics

SF = "strategies.stage_focused.split"


@pytest.fixture(scope="module")
def small():
    """The default shop, 200 people, 30 days (budget scaled to 80 per period)."""
    return resolve(load_scenario(Path(__file__).parents[2] / "configs" / "default.yaml"), 200, 30)


def test_finds_the_margin_optimum_at_the_upper_bound_within_its_ci(small, global_seed):
    # profit = margin x revenue - marketing cost, and nothing a stage-focused strategy does
    # depends on the margin: with the same seeds, revenue R and cost C are the same in every
    # trial, so a trial's profit is exactly affine in the margin and the optimum of
    # margin in [0.1, 0.9] is the upper bound 0.9
    hi = 0.9
    res = optimize(
        small,
        "stage_focused",
        space=[f"economics.margin=0.1:{hi}"],
        trials=20,
        replications=2,
        reevaluate=4,
        seed=global_seed,
    )
    t = res.trials
    m = t["economics.margin"].to_numpy()
    slope, icpt = np.polyfit(m, t["objective"].to_numpy(), 1)
    resid = t["objective"].to_numpy() - (slope * m + icpt)
    assert slope > 0
    assert np.abs(resid).max() < 1e-6 * np.abs(t["objective"]).max()  # common random numbers
    best = res.best_params["economics.margin"]
    assert best == m.max() and best <= hi
    # the true optimum (margin at the bound) on the same fresh seeds, by plain simulate calls:
    # it lies inside the reported CI of the best point
    fresh = np.random.SeedSequence(global_seed).spawn(3)[1].spawn(4)
    at_bound = override(small, {"economics.margin": hi})
    runs = [
        run_metrics(simulate(at_bound, seed=s, strategy="stage_focused", record_events=False))
        for s in fresh
    ]
    values = [r["profit"] for r in runs]
    lo, up = res.best_ci
    assert lo <= np.mean(values) <= up
    assert np.mean(values) >= res.best_mean  # no point beats the bound
    # against the defaults (margin 0.4) on the same seeds the gain is exactly
    # (best - 0.4) x revenue: the paired difference is that, and positive
    revenue = np.mean([r["revenue"] for r in runs])
    assert res.diff["diff"] == pytest.approx((best - 0.4) * revenue, rel=1e-9)
    assert res.diff["diff"] > 0
    assert res.reevaluation.shape == (4, 3)


def test_the_fresh_seeds_are_the_spawned_children_used_above(small):
    # the test above rebuilds the fresh seeds by hand; check that it reads the same runs
    res = optimize(small, space=["economics.margin=0.3:0.5"], trials=1, replications=2, seed=5)
    fresh = np.random.SeedSequence(5).spawn(3)[1].spawn(2)
    defaults = [
        run_metrics(simulate(small, seed=s, strategy="stage_focused", record_events=False))[
            "profit"
        ]
        for s in fresh
    ]
    np.testing.assert_allclose(res.reevaluation["defaults"], defaults)


def test_same_seed_same_result_for_any_jobs(small):
    kw = dict(
        space=["budget.per_period=20:200", "split.retention=0:1"],
        trials=4,
        replications=2,
        seed=11,
    )
    a = optimize(small, "stage_focused", jobs=1, **kw)
    b = optimize(small, "stage_focused", jobs=2, **kw)
    pd.testing.assert_frame_equal(a.trials, b.trials)
    pd.testing.assert_frame_equal(a.reevaluation, b.reevaluation)
    assert a.best_params == b.best_params
    c = optimize(small, "stage_focused", jobs=1, **{**kw, "seed": 12})
    assert not a.trials["objective"].equals(c.trials["objective"])


def test_a_split_share_renormalises_the_others_in_proportion(small):
    params, base = resolve_space(small, "stage_focused", ["split.retention=0:1"])
    scn, flat = apply_point(small, "stage_focused", params, {"split.retention": 0.6}, base)
    # defaults 0.35 / 0.45 / 0.2: the other two share 0.4 in the ratio 0.35 : 0.2
    want = {"retention": 0.6, "acquisition": 0.4 * 0.35 / 0.55, "advocacy": 0.4 * 0.2 / 0.55}
    got = scn.strategies["stage_focused"].split
    assert got == pytest.approx(want)
    assert {k: flat[f"{SF}.{k}"] for k in want} == pytest.approx(want)
    # two searched shares adding up to more than 1: rescaled to 1, the third gets 0
    params, base = resolve_space(
        small, "stage_focused", ["split.retention=0:1", "split.advocacy=0:1"]
    )
    scn, _ = apply_point(
        small, "stage_focused", params, {"split.retention": 0.8, "split.advocacy": 0.6}, base
    )
    assert scn.strategies["stage_focused"].split == pytest.approx(
        {"retention": 0.8 / 1.4, "advocacy": 0.6 / 1.4, "acquisition": 0.0}
    )


def test_paths_resolve_to_the_strategy_first_then_the_scenario(small):
    params, _ = resolve_space(
        small,
        "stage_focused",
        [
            "execution.min_gap_days=0:14",
            "budget.per_period=100:300:log",
            "economics.margin=0.2,0.3",
        ],
    )
    got = {p.path: (p.target, p.kind, p.default) for p in params}
    assert got["execution.min_gap_days"] == (
        "strategies.stage_focused.execution.min_gap_days",
        "int",
        7,  # the 'careful' execution's cap
    )
    assert got["budget.per_period"] == ("budget.per_period", "float", 80.0)
    assert got["economics.margin"][1] == "categorical"
    # a shorthand without a default that only takes whole numbers, and a cap not set yet
    (p,), _ = resolve_space(small, "stage_focused", ["min_gap_days=0:14"])
    assert (p.target, p.kind, p.default) == ("strategies.stage_focused.min_gap_days", "int", None)
    params, base = resolve_space(
        small, "stage_focused", ["min_gap_days=0:14", "execution.caps.newsletter=0:30"]
    )
    got = {p.path: (p.target, p.kind, p.default) for p in params}
    # beside another execution setting the shorthand sets the written-out execution
    assert got["min_gap_days"] == ("strategies.stage_focused.execution.min_gap_days", "int", 7)
    assert got["execution.caps.newsletter"][1:] == ("int", 0)
    scn, _ = apply_point(small, "stage_focused", params, {"execution.caps.newsletter": 9}, base)
    assert scn.strategies["stage_focused"].resolved_execution().caps == {"newsletter": 9}


@pytest.mark.parametrize(
    ("space", "words"),
    [
        ("split.nonsense=0:1", ["split.nonsense", "stage_focused"]),
        ("budget.per_perid=1:2", ["budget.per_perid", "neither"]),
        ("budget.per_period=5:1", ["--space", "low < high"]),
        ("budget.per_period", ["--space", "PATH=low:high"]),
        ("economics.margin=0:2", ["economics.margin"]),
    ],
)
def test_bad_space_exits_2_with_a_message_and_no_traceback(tmp_path, capsys, space, words):
    out = tmp_path / "opt"
    rc = _run(
        ["optimize", "--customers", "200", "--days", "20", "--space", space, "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert rc == 2
    for w in words:
        assert w in err
    assert "Traceback" not in err
    assert not out.exists()
    with pytest.raises(ConfigError):
        optimize(load_scenario(None), space=[space], trials=1)


def test_refuses_an_existing_folder_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    rc = _run(
        ["optimize", "--customers", "200", "--days", "20", "--space", "economics.margin=0.2:0.5"]
        + ["--trials", "1", "-r", "2", "--out", str(out), "--no-progress"]
    )
    assert rc == 2
    assert "not a lifesim run folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_cli_writes_the_run_folder_and_json(tmp_path, capsys):
    out = tmp_path / "opt"
    args = ["optimize", "--customers", "200", "--days", "20", "--strategy", "stage_focused"]
    args += ["--space", "budget.per_period=20:200", "--space", "split.retention=0:1"]
    args += ["--trials", "3", "-r", "2", "--seed", "3", "--jobs", "1", "--no-progress"]
    rc = _run([*args, "--out", str(out), "--format", "json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["strategy"] == "stage_focused" and d["trials"] == 3
    assert set(d["best_params"]) >= {"budget.per_period", f"{SF}.retention", f"{SF}.acquisition"}
    assert sum(v for k, v in d["best_params"].items() if k.startswith(SF)) == pytest.approx(1)
    assert any("common random numbers" in c for c in d["conventions"])
    assert any("split sums to 1" in c for c in d["conventions"])
    files = {p.name for p in out.iterdir()}
    assert {"trials.parquet", "objective_vs_trial.png", "summary.txt", "manifest.json"} <= files
    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == 3 and list(trials["trial"]) == [0, 1, 2]
    # a second run needs --overwrite, and then gives the same table (same seed)
    assert _run([*args, "--out", str(out)]) == 2
    capsys.readouterr()
    assert _run([*args, "--out", str(out), "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert "fresh replications" in text and "best - defaults" in text
    pd.testing.assert_frame_equal(pd.read_parquet(out / "trials.parquet"), trials)


def test_the_result_renders_and_is_frozen(small):
    import dataclasses

    import matplotlib.pyplot as plt

    res = optimize(small, space=["economics.margin=0.3:0.5"], trials=2, replications=2, seed=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.strategy = "none"
    df = res.to_pandas()
    df.loc[0, "objective"] = -1.0
    assert res.trials.loc[0, "objective"] != -1.0
    assert list(res.trials.columns) == [
        "trial",
        "economics.margin",
        "objective",
        "sd",
        "best_so_far",
    ]
    page = res._repr_html_()
    assert "<table" in page and "fresh replications" in page
    text = res.summary()
    assert "only 2 replications per trial" in text  # the caveat of few replications
    fig = res.plot()
    assert fig.axes[0].get_xlabel() == "trial"
    plt.close(fig)


def test_optimize_help_loads_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lifesim.cli import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['optimize', '--help'])\n"
        "assert r.exit_code == 0 and '--space' in r.output, r.output\n"
        "print(','.join(m for m in ('pandas', 'scipy', 'matplotlib', 'optuna') "
        "if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_compare_optimized_runs_the_strategy_at_its_best_settings(tmp_path, capsys):
    import yaml

    small = ["--customers", "200", "--days", "20", "--no-progress", "--jobs", "1"]
    opt = tmp_path / "opt"
    rc = _run(
        ["optimize", *small, "--space", "split.retention=0:1", "--trials", "2", "-r", "2"]
        + ["--seed", "4", "--out", str(opt), "--format", "json"]
    )
    assert rc == 0
    best = json.loads(capsys.readouterr().out)["best_strategy"]["split"]
    cmp_out = tmp_path / "cmp"
    rc = _run(
        ["compare", *small, "--strategies", "none,stage_focused", "-r", "2", "--no-report"]
        + ["--optimized", str(opt), "--out", str(cmp_out)]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "stage_focused: its best settings from" in err
    used = yaml.safe_load((cmp_out / "scenario.yaml").read_text())
    assert used["strategies"]["stage_focused"]["split"] == pytest.approx(best)
    # a run that also optimised the budget (shared by every strategy) is refused
    opt2 = tmp_path / "opt2"
    rc = _run(
        ["optimize", *small, "--space", "budget.per_period=20:100", "--trials", "1", "-r", "2"]
        + ["--out", str(opt2)]
    )
    assert rc == 0
    capsys.readouterr()
    rc = _run(
        ["compare", *small, "-r", "2", "--optimized", str(opt2), "--out", str(tmp_path / "c2")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "budget.per_period" in err and "--set" in err
    assert (
        _run(["compare", *small, "--optimized", str(tmp_path), "--out", str(tmp_path / "c3")]) == 2
    )
    assert "not a lifesim optimize run folder" in capsys.readouterr().err


def test_a_full_strategy_path_that_does_not_exist_is_named_once():
    with pytest.raises(ConfigError) as err:
        optimize(load_scenario(None), space=["strategies.stage_focused.params.x=0:1"], trials=1)
    msg = str(err.value)
    assert "(strategies.stage_focused.params.x)" in msg
    assert "strategies.stage_focused.strategies." not in msg  # not prefixed a second time
