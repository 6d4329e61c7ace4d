"""Objective x execution decomposition: effects are the stated contrasts of the four cells."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lifesim.errors import ConfigError
from lifesim.experiments.decompose import decompose


@pytest.fixture(scope="module")
def res():
    return decompose(None, customers=1500, days=90, replications=4, seed=3)


def test_effects_are_the_contrasts_of_the_cells_by_hand(res):
    runs = res.comparison.runs
    w = {
        s: runs[runs.strategy == s].sort_values("replication")["profit"].to_numpy()
        for s in ("kpi_naive", "kpi_careful", "lifecycle_naive", "lifecycle_careful")
    }
    kn, kc, ln, lc = w["kpi_naive"], w["kpi_careful"], w["lifecycle_naive"], w["lifecycle_careful"]
    by_hand = {
        "objective (lifecycle - kpi)": (ln + lc) / 2 - (kn + kc) / 2,
        "execution (careful - naive)": (kc + lc) / 2 - (kn + ln) / 2,
        "interaction": (lc - ln) - (kc - kn),
        "careful lifecycle - naive kpi (total)": lc - kn,
    }
    eff = res.effects.set_index("effect")
    for name, c in by_hand.items():
        lo, hi = stats.t.interval(0.95, len(c) - 1, loc=c.mean(), scale=stats.sem(c))
        assert eff.loc[name, "estimate"] == pytest.approx(c.mean(), rel=1e-12)
        assert eff.loc[name, "ci_low"] == pytest.approx(lo, rel=1e-9)
        assert eff.loc[name, "ci_high"] == pytest.approx(hi, rel=1e-9)
    # the two main effects add up to the total gap exactly
    total = (
        eff.loc["objective (lifecycle - kpi)", "estimate"]
        + eff.loc["execution (careful - naive)", "estimate"]
    )
    assert total == pytest.approx(eff.loc["careful lifecycle - naive kpi (total)", "estimate"])


def test_cells_differ_only_in_their_execution(res):
    scn = res.comparison.scenario
    broadcasts = {n for n, t in scn.tactics.items() if t.mode == "broadcast"}
    for cell, spec in scn.strategies.items():
        if cell.endswith("_naive"):
            ex = spec.resolved_execution()
            assert (ex.targeting, ex.min_gap_days, ex.broadcasts) == ("random", 0, False)
        elif cell.endswith("_careful"):
            ex = spec.resolved_execution()
            assert (ex.targeting, ex.min_gap_days, ex.broadcasts) == ("score", 7, True)
    assert scn.strategies["kpi_naive"].kpi == scn.strategies["kpi_careful"].kpi
    assert broadcasts  # the careful cells have broadcasts to pay for


def test_strategy_names_of_the_cells_are_reserved():
    from lifesim import default_scenario

    d = default_scenario().model_dump(mode="json")
    d["strategies"]["kpi_naive"] = {"type": "none"}
    with pytest.raises(ConfigError, match="strategies.kpi_naive"):
        decompose(d, customers=500, days=10, replications=2)


def test_summary_and_json_state_the_conventions(res):
    text = res.summary()
    assert "objective + execution = careful lifecycle - naive KPI" in text
    d = res.to_dict()
    assert {e["effect"] for e in d["effects"]} >= {"interaction", "objective (lifecycle - kpi)"}
    assert np.isfinite([e["estimate"] for e in d["effects"]]).all()


def test_cli_decompose_writes_a_run_folder(tmp_path, capsys):
    import json

    from lifesim.cli import main

    out = tmp_path / "dec"
    args = ["compare", "--decompose", "--customers", "800", "--days", "20", "-r", "2"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--no-progress", "--format", "json", "--out", str(out)])
    assert exc.value.code == 0
    d = json.loads(capsys.readouterr().out)
    assert d["out"] == str(out) and len(d["cells"]) == 4
    assert (out / "decomposition.csv").exists() and (out / "runs.csv").exists()
