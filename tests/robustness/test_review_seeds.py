"""A negative seed is bad input (exit 2, naming --seed), never an internal error.

Before, ``lifesim compare/simulate/sweep/optimize --seed -1`` ended in "internal error:
ValueError: seed must be >= 0, got -1" (exit 1), and ``ab analyze --bayes --seed -1`` said only
"error: expected non-negative integer".
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

import lifesim
from lifesim.ab import bayes
from lifesim.errors import ConfigError, DataError
from tests.robustness._inputs import refused, run

SCN = {
    "days": 3,
    "market": {"size": 10, "initial": "a"},
    "stages": {"a": {"to": {"b": 0.1}}, "b": {"kind": "customer"}},
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SCN), encoding="utf-8")
    pd.DataFrame({"arm": ["control", "b"] * 10, "rev": range(20)}).to_csv("ab.csv", index=False)
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "s.yaml", "--no-progress"],
        ["compare", "s.yaml", "--no-progress", "--replications", "2", "--out", "r"],
        ["sweep", "s.yaml", "--vary", "economics.margin=0.2,0.4", "--no-progress", "--out", "r"],
        ["ab", "analyze", "ab.csv", "--arm", "arm", "--mean", "rev", "--bayes"],
    ],
)
def test_a_negative_seed_is_refused_naming_the_flag(capsys, here, args):
    code, err = run(capsys, *args, "--seed", "-1")
    refused(code, err, "--seed: must be >= 0, got -1")
    assert not (here / "r").exists()


def test_python_says_seed_too_and_stays_a_value_error(here):
    with pytest.raises(ConfigError, match=r"^seed: must be >= 0, got -5$"):
        lifesim.simulate("s.yaml", seed=-5)
    with pytest.raises(ValueError):  # ConfigError is a ValueError, as before
        lifesim.simulate("s.yaml", seed=-5)
    with pytest.raises(DataError, match=r"rng: must be >= 0"):
        bayes(pd.read_csv("ab.csv"), arm="arm", metrics=["mean:rev"], rng=-3)
