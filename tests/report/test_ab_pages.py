"""Every `lifesim ab analyze --format html` read-out is a page like the fixed-horizon one: a
title, what is compared (units per arm, the SRM check), the read-out, long lines wrapped, the
glossary. Before, the sequential, Bayesian and per-segment pages were bare: no title, no SRM
line (the README says the Bayesian read-out shows it), and the sequential method line ran off
the right edge of the page."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

from lifesim import ab
from lifesim.report.ab import ab_report_html


def _text(doc: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", doc)).split())


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """600 + 600 units, 10% vs 15% converted, over 6 days and two devices (no randomness)."""
    k = 600
    conv = np.r_[np.arange(k) % 10 == 0, np.arange(k) % 20 < 3].astype(int)
    return pd.DataFrame(
        {
            "arm": ["control"] * k + ["treatment"] * k,
            "converted": conv,
            "day": np.tile(np.arange(k) % 6 + 1, 2),
            "device": np.tile(np.where(np.arange(k) % 3 == 0, "mobile", "desktop"), 2),
        }
    )


def _read_outs(data):
    m = ["proportion:converted"]
    return {
        "Sequential A/B analysis": ab.sequential(data, arm="arm", metrics=m, time_col="day"),
        "Bayesian A/B read-out": ab.bayes(data, arm="arm", metrics=m),
        "A/B effects per segment": ab.segments(data, arm="arm", metrics=m, segment=["device"]),
    }


@pytest.mark.parametrize(
    "title", ["Sequential A/B analysis", "Bayesian A/B read-out", "A/B effects per segment"]
)
def test_every_read_out_gets_a_page_with_title_what_is_compared_and_glossary(data, title):
    res = _read_outs(data)[title]
    doc = ab_report_html(res, plot=False)
    assert doc.startswith("<!DOCTYPE html>") and f"<h1>{title}</h1>" in doc
    text = _text(doc)
    assert "control 'control'" in text  # what is compared
    if title != "A/B effects per segment":
        assert "600" in text  # units per arm
    if title == "Bayesian A/B read-out":
        assert "SRM check: p=1 (flag if p < 0.001) -> ok" in text
    assert "Glossary" in text and "CI (confidence interval)" in text
    assert "white-space:pre-wrap" in doc  # a long method line wraps on the page
    # the read-out itself is there: its first table row or its summary
    assert "converted" in text and "treatment" in text


def test_the_fixed_horizon_page_is_unchanged_in_shape(data):
    res = ab.analyze(data, arm="arm", metrics=["proportion:converted"])
    doc = ab_report_html(res, plot=False)
    assert "<h1>A/B analysis</h1>" in doc and "Decision summary" in _text(doc)
    assert doc.count("<table") == len(re.findall(r'<div class="scroll"><table', doc))
