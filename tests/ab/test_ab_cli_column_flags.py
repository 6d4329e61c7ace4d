"""lifesim ab analyze: a missing column or an unknown control names the flag that gave it."""

from __future__ import annotations

import pandas as pd
import pytest
from tests.robustness._util import assert_clean_failure, cli


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame(
        {
            "arm": ["control", " B", "control", "B"],
            "y": [1, 0, 1, 1],
            "rev": [1.0, 2.0, 3.0, 4.0],
            "pre": [0.5, 1.0, 1.5, 2.0],
            "clicks": [1, 2, 3, 4],
            "sessions": [2, 2, 4, 4],
        }
    ).to_csv("x.csv", index=False)
    return "x.csv"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--arm", "nope", "--proportion", "y"], "--arm: column 'nope' is not in x.csv"),
        (["--arm", "arm", "--mean", "nope"], "--mean: column 'nope' is not in x.csv"),
        (["--arm", "arm", "--proportion", "nope"], "--proportion: column 'nope' is not in"),
        (["--arm", "arm", "--ratio", "clicks/sesions"], "--ratio: column 'sesions' is not in"),
        (
            ["--arm", "arm", "--mean", "rev", "--covariate", "rev=pr"],
            "--covariate: column 'pr' is not in",
        ),
        (
            ["--arm", "arm", "--control", "ctrl", "--mean", "rev"],
            "--control: control 'ctrl' is not a value of arm column 'arm'",
        ),
    ],
    ids=["arm", "mean", "proportion", "ratio", "covariate", "control"],
)
def test_missing_column_names_its_flag(capsys, data, extra, needle):
    code, _, err = cli(capsys, "ab", "analyze", data, *extra)
    also = "its values are" if "--control" in extra else "columns present"
    assert_clean_failure(code, err, 2, needle, also)
