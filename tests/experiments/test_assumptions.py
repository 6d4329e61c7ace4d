"""A comparison lists the assumptions its verdict rests on: the tactics used and their sources."""

import json

import pytest
import yaml

import lifesim
from lifesim.config import dump_scenario, load_scenario
from lifesim.experiments import compare
from lifesim.model.strategies import make_strategy

TINY = {"customers": 300, "days": 40, "replications": 2, "seed": 5, "jobs": 1}
CITE = "Example et al. (2021), Table 2"


@pytest.fixture(scope="module")
def res():
    d = yaml.safe_load(dump_scenario(lifesim.default_scenario()))
    d["tactics"]["paid_ads"]["source"] = CITE
    d["strategies"]["retention_only"] = {
        "type": "stage_focused",
        "plan": {"retention": ["coupon", "cross_sell"]},
    }
    scn = load_scenario(d)
    return compare(scn, strategies="none,kpi_focused,retention_only", **TINY)


def test_sources_list_exactly_the_tactics_each_strategy_uses(res):
    src = res.tactic_sources()
    kpi = make_strategy(res.scenario, "kpi_focused").tactics()
    assert set(src) == kpi | {"coupon", "cross_sell"}
    for t, v in src.items():
        assert v["source"] == res.scenario.tactics[t].source
        want = [
            s
            for s in ("kpi_focused", "retention_only")
            if t in (kpi if s == "kpi_focused" else {"coupon", "cross_sell"})
        ]
        assert v["used_by"] == want, t
    assert src["paid_ads"]["source"] == CITE


def test_summary_lists_the_tactics_used_with_their_labels(res):
    text = res.summary()
    assert "assumptions" in text
    lines = res.assumption_lines()
    head = lines[0]
    assert head.startswith("rests on illustrative effects of: ")
    illustrative = [t for t, v in res.tactic_sources().items() if t != "paid_ads"]
    assert head.split(": ", 1)[1].split(" (")[0] == ", ".join(illustrative)
    assert "paid_ads" not in head  # it has a citation now
    for t, v in res.tactic_sources().items():
        line = f"{t} [{', '.join(v['used_by'])}]: {v['source']}"
        assert line in lines and f"  - {line}" in text
    # tactics no compared strategy uses are not assumptions of this verdict
    assert "loyalty_programme" not in text.split("assumptions")[-1]


def test_json_and_html_carry_the_assumptions(res):
    d = json.loads(json.dumps(res.to_dict()))
    a = d["assumptions"]
    assert a["text"] == res.assumption_lines()
    assert a["tactics"]["coupon"] == {
        "source": res.scenario.tactics["coupon"].source,
        "used_by": ["retention_only"],
    }
    assert a["custom_strategies"] == []
    assert "rests on illustrative effects of" in res._repr_html_()

    from lifesim.report.html import compare_report_html

    page = compare_report_html(
        res, figures=dict.fromkeys(("stage_shares", "funnel", "forest", "incremental"), "")
    )
    assert "Assumptions the verdict rests on" in page and CITE in page


def test_no_tactic_used_says_so():
    r = compare(None, strategies="none", **TINY)
    assert r.tactic_sources() == {}
    assert r.assumption_lines() == [
        "no compared strategy uses a tactic: the verdict rests on the stage graph"
    ]


def test_custom_code_is_not_run_to_list_its_tactics():
    from tests.experiments.test_verdict import _scenario

    r = compare(
        _scenario(), strategies="spend_3,spend_1", replications=2, seed=1, jobs=1, trust_code=True
    )
    assert r.tactic_sources() == {None: {"source": None, "used_by": ["spend_3", "spend_1"]}}
    assert r.assumption_lines() == [
        "spend_3, spend_1: custom code; the tactics it uses are not listed"
    ]
    a = r.to_dict()["assumptions"]
    assert a["tactics"] == {} and a["custom_strategies"] == ["spend_3", "spend_1"]
