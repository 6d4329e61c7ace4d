"""Labels are text: a '$' in a strategy, scenario or arm name never breaks a plot (mathtext)."""

from __future__ import annotations

import pandas as pd

import lifesim
from lifesim.config import load_scenario
from lifesim.experiments import compare
from lifesim.report import save_compare_run
from tests.robustness._util import cli

BAD = "$x^{$ 50% off"  # unbalanced mathtext: matplotlib raises on it unless text is literal


def test_compare_report_with_mathtext_in_names(tmp_path):
    d = lifesim.default_scenario().model_dump(mode="json")
    d["name"] = BAD
    d["strategies"][BAD] = {"type": "stage_focused"}
    scn = load_scenario(d)
    res = compare(scn, strategies=["none", BAD], replications=2, customers=300, days=10)
    out = save_compare_run(res, tmp_path / "r")
    assert "$x^{$ 50% off" in (out / "report.html").read_text()  # shown as typed
    assert (out / "forest.png").stat().st_size > 0


def test_ab_html_with_mathtext_in_arm_labels(tmp_path, capsys):
    data = tmp_path / "d.csv"
    pd.DataFrame({"arm": ["control", BAD] * 100, "y": [0, 1, 1, 0] * 50}).to_csv(data, index=False)
    out = tmp_path / "r.html"
    code, _, err = cli(
        capsys,
        "ab",
        "analyze",
        data,
        "--arm",
        "arm",
        "--control",
        "control",
        "--proportion",
        "y",
        "--format",
        "html",
        "--out",
        out,
    )
    assert code == 0, err
    assert "data:image/png;base64," in out.read_text()
