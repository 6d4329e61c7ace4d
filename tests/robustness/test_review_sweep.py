"""Sweep designs that cannot be run are refused before any point is built.

Before, ``--vary budget.per_period=0:100:100000000`` built 10^8 scenarios and ended in
"out of memory" (exit 1) after seconds; ``0:inf:3`` made NaN points reported as
"sweep point 0: budget.per_period=nan" (the user wrote 0); and ``sweep(scn, "PATH=...")``
in Python read the string letter by letter ("--vary: 'b': write PATH=...").
"""

from __future__ import annotations

import pytest
import yaml

from lifesim.experiments import sweep
from tests.robustness._inputs import fenced, refused

SCN = {
    "days": 5,
    "market": {"size": 30},
    "budget": {"per_period": 100},
    "stages": {
        "awareness": {"to": {"customer": {"p": 0.05, "propensity": True}}},
        "customer": {"kind": "customer", "buy": 0.05},
    },
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SCN), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--vary", "budget.per_period=0:100:100000000"], ["--vary", "100,000,000 points"]),
        (
            ["--vary", "budget.per_period=0:100:200", "--vary", "economics.margin=0:1:200"],
            ["--vary", "200 x 200 = 40,000 points", "at most 10,000"],
        ),
        (
            ["--design", "lhs", "--samples", "10000000", "--vary", "economics.margin=0:1"],
            ["--samples", "10,000,000 points"],
        ),
        (["--vary", "budget.per_period=0:inf:3"], ["--vary", "0:inf:3", "finite low < high"]),
    ],
)
def test_a_design_that_cannot_run_is_refused_at_once(here, args, needles):
    # in a fenced process (3 GB, 120 s): before, the first case ran out of memory there
    code, err = fenced("sweep", "s.yaml", *args, "--no-progress", "--out", "r", cwd=here)
    refused(code, err, *needles)
    assert not (here / "r").exists() and not (here / "r.partial").exists()


def test_one_vary_string_in_python_is_one_parameter(here):
    res = sweep(
        "s.yaml",
        "budget.per_period=0:100:2",
        strategies="none,stage_focused",
        replications=2,
        seed=1,
    )
    assert res.params == ["budget.per_period"]
    assert sorted(res.table["budget.per_period"].unique()) == [0.0, 100.0]
