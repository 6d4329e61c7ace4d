"""In-simulator A/B experiments: config errors, assignment, exposure, truth, round trip, audit.

The statistical tests pass for any seed: tolerances are 4.5 Monte Carlo standard errors.
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from lifesim import ab, load_scenario, simulate
from lifesim.cli import app
from lifesim.errors import ConfigError
from lifesim.experiments.insim import (
    ArmRouter,
    assign,
    audit,
    run_experiment,
    true_effects,
)
from lifesim.experiments.insim.run import _router, resolve_experiment

STAGES = {
    "awareness": {
        "kind": "prospect",
        "to": {"consideration": {"p": 0.006, "propensity": True, "boost": True}, "churned": 0.001},
    },
    "consideration": {
        "kind": "prospect",
        "to": {
            "purchase": {"p": 0.02, "propensity": True, "boost": True},
            "awareness": 0.02,
            "churned": 0.002,
        },
    },
    "purchase": {
        "kind": "customer",
        "to": {"retention": {"p": 0.15, "propensity": True, "purchase": True}, "churned": 0.03},
    },
    "retention": {
        "kind": "customer",
        "buy": {"p": 0.012, "propensity": True},
        "to": {"advocacy": {"p": 0.003, "propensity": True}, "churned": 0.007},
    },
    "advocacy": {
        "kind": "customer",
        "buy": {"p": 0.02, "propensity": True},
        "to": {"retention": 0.008, "churned": 0.002},
    },
    "churned": {"kind": "churned", "to": {"awareness": {"p": 0.002, "propensity": True}}},
}

BASE = {
    "name": "insim_test",
    "seed": 5,
    "days": 90,
    "market": {"size": 2000, "initial": {"awareness": 0.9, "retention": 0.08, "advocacy": 0.02}},
    "stages": STAGES,
    "budget": {"per_period": 800},
    "strategies": {
        # no referrals and no broadcasts: a scenario without interference
        "lifecycle": {
            "type": "stage_focused",
            "plan": {
                "consideration": ["newsletter", "first_purchase_discount"],
                "purchase": ["onboarding"],
                "retention": ["cross_sell", "coupon"],
            },
        }
    },
    "experiment": {
        "arms": {"control": "none", "treatment": "lifecycle"},
        "start": 20,
        "metrics": {
            "converted": {"kind": "converted", "within": 30},
            "revenue": {"kind": "revenue"},
            "retained": {"kind": "retained"},
            "clv": {"kind": "profit"},
        },
    },
}


def scenario(**experiment):
    data = copy.deepcopy(BASE)
    data["experiment"].update(experiment)
    return data


def mc_tol(p: float, r: int, k: float = 4.5) -> float:
    return k * math.sqrt(p * (1 - p) / r)


# -- config --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            {
                "arms": {
                    "control": {"strategy": "none", "share": 0.5},
                    "t": {"strategy": "lifecycle", "share": 0.6},
                }
            },
            "experiment.arms",
            "sum to 1, got 1.1",
        ),
        (
            {"arms": {"control": "none", "t": "lifecycel"}},
            "experiment.arms.t.strategy",
            "unknown strategy 'lifecycel'",
        ),
        ({"arms": {"control": "none"}}, "experiment.arms", "at least two arms"),
        ({"control": "ctrl"}, "experiment.control", "unknown arm 'ctrl'"),
        ({"metrics": {"c": {"kind": "conversion"}}}, "experiment.metrics.c.kind", "must be one of"),
        (
            {"metrics": {"c": {"kind": "converted", "within": 80}}},
            "experiment.metrics.c.within",
            "after the horizon",
        ),
        ({"metrics": {"c": {"kind": "revenue", "by": 10}}}, "experiment.metrics.c.by", "got 10"),
        ({"metrics": {"arm": {"kind": "revenue"}}}, "experiment.metrics.arm", "reserved"),
        ({"metrics": {}}, "experiment.metrics", "at least one metric"),
        ({"start": 90}, "experiment.start", "must be < the horizon"),
        ({"strat": 3}, "experiment.strat", "unknown key 'strat'"),
        (
            {"arms": {"control": {"strategy": "none", "share": 0}, "t": "lifecycle"}},
            "experiment.arms.control.share",
            "(0, 1]",
        ),
        (
            {"arms": {"control": "none", "t": {"strategy": {"type": "stage_focussed"}}}},
            "experiment.arms.t.strategy.type",
            "stage_focused",
        ),
        ({"design": {"unit": "market", "clusters": 3}}, "experiment.design.clusters", ">= 4"),
        ({"eligible": ["awareness", "lead"]}, "experiment.eligible.1", "unknown stage 'lead'"),
    ],
)
def test_bad_experiment_blocks_name_the_key(change, path, words):
    with pytest.raises(ConfigError) as err:
        load_scenario(scenario(**change))
    problems = err.value.problems
    assert any(p == path and words in m for p, m in problems), problems


def test_cli_bad_block_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(scenario(metrics={"c": {"kind": "revenue", "within": 500}})))
    out = CliRunner().invoke(app, ["experiment", "run", str(bad), "--no-progress"])
    assert out.exit_code == 2
    assert "experiment.metrics.c.within" in out.output
    assert "Traceback" not in out.output
    plain = tmp_path / "plain.yaml"
    data = scenario()
    del data["experiment"]
    plain.write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(app, ["experiment", "audit", str(plain), "--no-progress"])
    assert out.exit_code == 2 and "no 'experiment:' block" in out.output


# -- design ---------------------------------------------------------------------------------
def test_assignment_is_complete_seeded_and_recorded(global_seed):
    a = assign(1001, [0.3, 0.7], global_seed)
    assert np.bincount(a).tolist() == [300, 701]
    assert np.array_equal(a, assign(1001, [0.3, 0.7], global_seed))
    assert not np.array_equal(a, assign(1001, [0.3, 0.7], global_seed + 1))
    res = run_experiment(scenario(), seed=global_seed)
    n = res.scenario.market.size
    expected = np.array(["control", "treatment"])[assign(n, [0.5, 0.5], global_seed)]
    assert np.array_equal(res.people["arm"].to_numpy(), expected)


def test_exposure_only_for_the_assigned_arm(global_seed):
    scn, exp = resolve_experiment(scenario(duration=40))
    n = scn.market.size
    assignment = assign(n, [0.5, 0.5], global_seed)
    router = _router(scn, exp, assignment, [0.5, 0.5])
    simulate(scn, seed=global_seed, strategy=router)
    days = np.array(router.log.days)
    assert len(days) and days.min() >= 20 and days.max() < 60  # control (none) outside
    for d, people in zip(router.log.days, router.log.people, strict=True):
        assert (assignment[people] == 1).all(), f"day {d}: control people contacted"


def test_arm_budgets_are_kept_apart(global_seed):
    """Unspent money of one arm never flows to another: spend per arm <= its share."""
    data = scenario(
        arms={
            "control": {"strategy": "lifecycle", "share": 0.25},
            "treatment": {"strategy": "lifecycle", "share": 0.75},
        }
    )
    scn, exp = resolve_experiment(data)
    n = scn.market.size
    assignment = assign(n, [0.25, 0.75], global_seed)
    router = _router(scn, exp, assignment, [0.25, 0.75])
    res = simulate(scn, seed=global_seed, strategy=router)
    spent = res.ledger["cost"].sum()
    assert spent <= scn.budget.per_period * 3 + 1e-6
    cost = router.log.per_person(n, 20, 90)
    by_arm = np.bincount(assignment, weights=cost)
    assert by_arm[0] > 0 and by_arm[1] > 0
    assert by_arm[0] / by_arm.sum() == pytest.approx(0.25, abs=0.08)


def test_truth_is_exactly_zero_for_identical_arms_and_paired(global_seed):
    scn, exp = resolve_experiment(scenario(arms={"control": "lifecycle", "treatment": "lifecycle"}))
    seeds = [np.random.SeedSequence(global_seed)]
    t = true_effects(scn, exp, seeds)
    assert (t["true_effect"] == 0).all() and (t["truth_se"] == 0).all()
    scn, exp = resolve_experiment(scenario())
    t = true_effects(scn, exp, seeds).set_index("metric")
    assert t.loc["revenue", "arm_value"] > t.loc["revenue", "control_value"]


def test_same_seed_same_numbers_whatever_jobs(global_seed):
    a = run_experiment(scenario(), seed=global_seed, truth_replications=2, jobs=1)
    b = run_experiment(scenario(), seed=global_seed, truth_replications=2, jobs=2)
    pd.testing.assert_frame_equal(a.people, b.people)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    x = audit(scenario(), repeats=3, seed=global_seed, truth_replications=1, jobs=1)
    y = audit(scenario(), repeats=3, seed=global_seed, truth_replications=1, jobs=2)
    pd.testing.assert_frame_equal(x.estimates, y.estimates)
    pd.testing.assert_frame_equal(x.table, y.table)


def test_audit_result_api_and_report(tmp_path, global_seed):
    from lifesim.report.experiment import save_audit_run

    res = audit(scenario(), repeats=4, seed=global_seed, truth_replications=1)
    tbl = res.to_pandas()
    assert set(tbl["version"]) == {"A/B", "A/A"}
    assert (tbl.loc[tbl["version"] == "A/A", "true_effect"] == 0).all()
    assert (tbl["rejection_se"] > 0).all() and (tbl["coverage_se"] > 0).all()
    text = res.summary()
    assert "false-positive" in text and "Monte Carlo" in text and "only 4 repeats" in text
    json.dumps(res.to_dict(), allow_nan=False)
    assert "<table" in res._repr_html_()
    out = save_audit_run(res, tmp_path / "audit")
    assert (out / "report.html").read_text().count("data:image/png;base64") == 1
    assert (out / "audit.csv").exists()


# -- results and the CLI ---------------------------------------------------------------------
def test_result_api(global_seed):
    res = run_experiment(scenario(), seed=global_seed)
    df = res.to_pandas()
    assert set(df["method"]) == {"plain", "cuped"}
    assert {"estimate", "ci_low", "ci_high", "true_effect", "truth_se", "covers_truth"} <= set(df)
    text = res.summary()
    assert "Welch" in text and "common random numbers" in text and "Truth" in text
    json.dumps(res.to_dict(), allow_nan=False)
    assert "<table" in res._repr_html_()
    cols = res.people.columns.tolist()
    assert cols[:8] == [
        "person",
        "arm",
        "segment",
        "stage_at_start",
        "pre_customer",
        "pre_orders",
        "pre_revenue",
        "converted",
    ]
    assert res.people["pre_revenue"].sum() > 0  # pre-period activity for CUPED


def test_run_dataset_round_trips_through_ab_analyze(tmp_path, global_seed):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(yaml.safe_dump(scenario()))
    out = tmp_path / "run"
    r = CliRunner().invoke(
        app,
        [
            "experiment",
            "run",
            str(cfg),
            "--seed",
            str(global_seed),
            "--out",
            str(out),
            "--no-progress",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout[r.stdout.index("{") :])
    assert (out / "report.html").exists()
    csv = pd.read_csv(out / "dataset.csv")
    parquet = pd.read_parquet(out / "dataset.parquet")
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False)
    res = run_experiment(cfg, seed=global_seed)
    pd.testing.assert_frame_equal(csv, res.people, check_dtype=False)
    # the same analysis from the file, through the analyst's CLI
    manifest = json.loads((out / "manifest.json").read_text())
    args = manifest["analyze"].split()[4:]  # after "lifesim ab analyze FILE"
    cli = CliRunner().invoke(
        app, ["ab", "analyze", str(out / "dataset.csv"), *args, "--format", "json"]
    )
    assert cli.exit_code == 0, cli.output
    got = {c["metric"]: c for c in json.loads(cli.stdout)["results"]}
    plain = [e for e in payload["estimates"] if e["method"] == "plain"]
    assert len(plain) == 4
    for e in plain:
        c = got[e["metric"]]
        assert c["abs_effect"] == pytest.approx(e["estimate"], rel=1e-9, abs=1e-12)
        assert c["abs_ci"] == pytest.approx([e["ci_low"], e["ci_high"]], rel=1e-9, abs=1e-12)
        assert c["p_value"] == pytest.approx(e["p_value"], rel=1e-7, abs=1e-300)
    # and CUPED on the exported covariate
    cup = ab.analyze(
        out / "dataset.parquet",
        arm="arm",
        control="control",
        metrics=[ab.Mean("clv", covariate="pre_revenue")],
        correction="none",
    )
    mine = [e for e in payload["estimates"] if e["metric"] == "clv" and e["method"] == "cuped"]
    assert cup.comparisons[0].abs_effect == pytest.approx(mine[0]["estimate"], rel=1e-9)


def test_market_level_design_runs_and_analyses_regions(global_seed):
    res = run_experiment(scenario(design={"unit": "market", "clusters": 8}), seed=global_seed)
    assert res.clusters is not None and len(res.clusters) == 8
    assert res.people["cluster"].nunique() == 8
    assert sorted(res.n.values()) == [4, 4]
    assert (res.estimates["test"].str.contains("Welch")).all()


# -- statistics ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def audit_ab():
    from tests.conftest import _SEED

    return audit(scenario(), repeats=200, seed=_SEED, truth_replications=16, jobs=2)


def test_aa_false_positive_rate_is_alpha(audit_ab):
    aa = audit_ab.table[audit_ab.table["version"] == "A/A"]
    assert len(aa) == 8
    for r in aa.itertuples(index=False):
        assert r.true_effect == 0
        assert abs(r.rejection_rate - 0.05) <= mc_tol(0.05, r.repeats), r


def test_cis_cover_the_truth_at_the_nominal_rate(audit_ab):
    ab_rows = audit_ab.table[audit_ab.table["version"] == "A/B"]
    assert len(ab_rows) == 8
    for r in ab_rows.itertuples(index=False):
        # the truth is itself estimated: widen by the coverage lost to its error
        z = 1.959964
        s = math.sqrt(1 + (r.truth_se / r.mean_se) ** 2)
        from scipy.stats import norm

        nominal = 2 * norm.cdf(z / s) - 1
        assert abs(r.coverage - nominal) <= mc_tol(0.95, r.repeats) + (0.95 - nominal), r
        assert abs(r.bias) <= 4.5 * r.bias_se, r
    power = ab_rows.set_index(["metric", "method"])["rejection_rate"]
    assert power[("revenue", "plain")] > 0.2  # the effect is there to be found


def test_aa_with_a_real_strategy_in_both_arms(global_seed):
    """Routing and budget splitting do not create a difference between identical arms."""
    data = scenario(
        arms={"control": "lifecycle", "treatment": "lifecycle"},
        metrics={"revenue": {"kind": "revenue"}, "converted": {"kind": "converted"}},
    )
    res = audit(data, repeats=100, seed=global_seed, truth_replications=1, aa=False, jobs=2)
    for r in res.table.itertuples(index=False):
        assert r.true_effect == 0
        assert abs(r.rejection_rate - 0.05) <= mc_tol(0.05, r.repeats), r


def test_router_is_a_strategy():
    from lifesim.model import NoMarketing, Strategy

    r = ArmRouter(
        {"a": NoMarketing(), "b": NoMarketing()},
        np.zeros(3, dtype=np.int8),
        [0.5, 0.5],
        "a",
        (0, 1),
    )
    assert isinstance(r, Strategy) and r.tactics() == set()


# -- the shipped studies ---------------------------------------------------------------------
def test_short_kpi_trap_study_truth_disagrees_by_horizon(configs_dir, global_seed):
    res = run_experiment(
        configs_dir / "study_short_kpi_trap.yaml",
        customers=3000,
        seed=global_seed,
        truth_replications=4,
    )
    t = res.truth.set_index("metric")
    # the discount wins the 14-day KPI and loses 180-day CLV, each by > 3 truth SEs; truth_se
    # comes from the spread of 4 markets (3 degrees of freedom: effect / truth_se is a t_3 with
    # noncentrality ~10, so P(below 3) < 1e-6 for either)
    assert (t["truth_se_from"] == "markets").all()
    assert t.loc["converted_14d", "true_effect"] > 3 * t.loc["converted_14d", "truth_se"]
    assert t.loc["clv_180", "true_effect"] < -3 * t.loc["clv_180", "truth_se"]


def test_interference_study_loads_with_both_designs(configs_dir):
    scn, exp = resolve_experiment(configs_dir / "study_interference.yaml")
    assert exp.design.unit == "person"
    scn, exp = resolve_experiment(scn, design="market", clusters=10)
    assert (exp.design.unit, exp.design.clusters) == ("market", 10)
    with pytest.raises(ConfigError, match="design"):
        resolve_experiment(scn, design="city")


def test_cli_audit_json_and_folder(tmp_path, global_seed):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(yaml.safe_dump(scenario()))
    out = tmp_path / "audit"
    r = CliRunner().invoke(
        app,
        [
            "experiment",
            "audit",
            str(cfg),
            "--repeats",
            "3",
            "--truth-replications",
            "1",
            "--jobs",
            "1",
            "--seed",
            str(global_seed),
            "--out",
            str(out),
            "--no-progress",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout[r.stdout.index("{") :])
    assert payload["repeats"] == 3 and len(payload["table"]) == 16
    assert (out / "report.html").exists() and (out / "summary.txt").exists()
    bad = CliRunner().invoke(
        app, ["experiment", "audit", str(cfg), "--repeats", "1", "--no-progress"]
    )
    assert bad.exit_code == 2 and "repeats" in bad.output


def test_interference_caveat_names_the_referral_tactic(configs_dir):
    from lifesim.experiments.insim.run import caveats_of

    scn, exp = resolve_experiment(configs_dir / "study_interference.yaml")
    notes = caveats_of(scn, exp, {})
    assert any("referral_programme" in n and "interference" in n for n in notes)
    scn, exp = resolve_experiment(scn, design="market")
    assert not any("interference" in n for n in caveats_of(scn, exp, {}))


def test_eligible_stages_only_are_randomised(global_seed):
    data = scenario(eligible=["awareness", "consideration"])
    res = run_experiment(data, seed=global_seed, truth_replications=1)
    people = res.people
    assert set(people["stage_at_start"]) <= {"awareness", "consideration"}
    assert people["pre_customer"].sum() == 0
    n = len(people)
    assert 0 < n < res.scenario.market.size
    counts = people["arm"].value_counts()
    assert abs(counts["control"] - counts["treatment"]) <= 1
    assert (res.truth["people"] == n).all()  # the same eligible people under every arm
    # people outside the experiment get the control strategy (none): never contacted
    scn, exp = resolve_experiment(data)
    router = _router(scn, exp, lambda k: assign(k, [0.5, 0.5], global_seed), [0.5, 0.5])
    simulate(scn, seed=global_seed, strategy=router)
    for people_ in router.log.people:
        assert (router.assignment[people_] == 1).all()


def test_public_api_is_pinned():
    import lifesim.experiments.insim as insim

    assert sorted(insim.__all__) == sorted(
        [
            "run_experiment",
            "audit",
            "aa_version",
            "true_effects",
            "simulate_experiment",
            "analyse_dataset",
            "ExperimentResult",
            "AuditResult",
            "ArmRouter",
            "ArmView",
            "assign",
        ]
    )
    for name in insim.__all__:
        assert getattr(insim, name).__doc__


def test_run_conventions_name_the_proportion_interval_the_estimates_use():
    """The estimates' proportion CIs come from lifesim.ab: score intervals, not Wald."""
    from lifesim.ab.result import CONVENTIONS as AB
    from lifesim.experiments.insim.result import RUN_CONVENTIONS

    text = " ".join(RUN_CONVENTIONS)
    assert "Wald" not in text and "Farrington-Manning score CI" in text
    assert "Farrington-Manning for the difference" in "".join(AB)
