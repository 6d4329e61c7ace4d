"""Hostile ``experiment:`` blocks are refused by ``validate`` (and ``experiment run``) by key.

Before: 150 arms ended ``experiment run`` in "internal error: RuntimeError: the eligible people
differ between arms" (arm codes are int8); ``design.clusters`` above the market size said
"--customers: must be a whole number >= 1, got 0" (or ran out of memory at 10^9);
``truth_replications: 1000000000`` ran out of memory; an inline arm strategy's ``split`` with
an unknown group was accepted and silently ignored, and its ``params`` errors were named
``strategies.custom...`` and only at run time.
"""

from __future__ import annotations

import pytest
import yaml

from tests.robustness._inputs import fenced, refused, run

BASE = {
    "days": 30,
    "market": {"size": 60},
    "stages": {
        "awareness": {"to": {"customer": {"p": 0.05, "propensity": True}}},
        "customer": {"kind": "customer", "buy": 0.05, "to": {"churned": 0.01}},
        "churned": {"kind": "churned"},
    },
    "tactics": {"care": {"stages": ["customer"], "effect": {"customer->churned": 0.5}}},
}
EXP = {
    "arms": {"control": "none", "treat": "stage_focused"},
    "start": 5,
    "metrics": {"conv": {"kind": "converted", "within": 10}},
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(here, **exp) -> str:
    data = {**BASE, "experiment": {**EXP, **exp}}
    (here / "s.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return "s.yaml"


@pytest.mark.parametrize(
    ("exp", "needles"),
    [
        (
            {"arms": {f"a{i}": "none" for i in range(150)}},
            ["experiment.arms", "at most 100 arms", "got 150"],
        ),
        (
            {"design": {"unit": "market", "clusters": 10**9}},
            ["experiment.design.clusters", "<= the market size 60", "got 1,000,000,000"],
        ),
        (
            {"truth_replications": 10**9},
            ["experiment.truth_replications", "<= 100,000", "got 1,000,000,000"],
        ),
        (
            {
                "arms": {
                    "c": "none",
                    "t": {"strategy": {"type": "stage_focused", "split": {"acq": 1}}},
                }
            },
            ["experiment.arms.t.strategy.split.acq", "unknown key 'acq'", "allowed: acquisition"],
        ),
        (
            {
                "arms": {
                    "c": "none",
                    "t": {
                        "strategy": {
                            "type": "churn_targeted",
                            "params": {"offer": "care", "horizon_days": "x"},
                        }
                    },
                }
            },
            ["experiment.arms.t.strategy.params.horizon_days", "must be a whole number, got 'x'"],
        ),
    ],
)
def test_validate_and_run_refuse_the_block_naming_the_key(here, exp, needles):
    path = _write(here, **exp)
    # fenced (3 GB, 120 s): before, some of these ran out of memory
    refused(*fenced("validate", path, cwd=here), *needles)
    code, err = fenced("experiment", "run", path, "--no-progress", "--out", "r", cwd=here)
    refused(code, err, *needles)
    assert not (here / "r").exists()


def test_clusters_are_checked_against_the_market_of_the_run(capsys, here):
    path = _write(here, design={"unit": "market", "clusters": 40})
    assert run(capsys, "validate", path)[0] == 0  # 40 regions of a 60-person market: fine
    code, err = run(
        capsys, "experiment", "run", path, "--customers", "30", "--no-progress", "--out", "r"
    )
    refused(code, err, "experiment.design.clusters", "<= the market size 30", "got 40")
