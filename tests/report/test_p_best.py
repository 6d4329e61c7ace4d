"""P(best) over parameter draws is shown with the count of draws it comes from, and a 0% or
100% is not given a '+/- 0%' that reads as certainty (10 draws all won by one strategy printed
'P(best) 100% (+/- 0%)')."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from lifesim.report._format import fmt_p_best
from lifesim.report.html import _uncertainty_html


@pytest.mark.parametrize(
    ("p", "se", "draws", "text"),
    [
        (1.0, 0.0, 10, "100% (10 of 10 draws)"),
        (0.0, 0.0, 10, "0% (0 of 10 draws)"),
        (0.7, (0.7 * 0.3 / 10) ** 0.5, 10, "70% (+/- 14%; 7 of 10 draws)"),
        (0.25, (0.25 * 0.75 / 200) ** 0.5, 200, "25% (+/- 3%; 50 of 200 draws)"),
        (0.55, 0.157, 10, "55% (+/- 16%; 5.5 of 10 draws)"),  # a tie split between two
    ],
)
def test_p_best_carries_its_count(p, se, draws, text):
    assert fmt_p_best(p, se, draws) == text


def test_the_uncertainty_table_of_the_report_shows_counts():
    table = pd.DataFrame(
        {
            "strategy": ["none", "stage_focused"],
            "mean": [108_612.0, 117_304.0],
            "low": [100_685.0, 109_516.0],
            "high": [115_781.0, 123_412.0],
            "p_best": [0.0, 1.0],
            "p_best_se": [0.0, 0.0],
            "expected_regret": [8_692.0, 0.0],
        }
    )
    unc = SimpleNamespace(objective="profit", table=table, draws=10, conventions=[])
    page = _uncertainty_html(unc)
    assert "100% (10 of 10 draws)" in page and "0% (0 of 10 draws)" in page
    assert "+/- 0%" not in page
