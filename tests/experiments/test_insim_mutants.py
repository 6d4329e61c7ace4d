"""Behaviour of lifesim.experiments.insim's results and dataset pinned for mutation testing.

Fast and in-process (benchmarks/mutation.py runs it against every mutant of
``experiments/insim``): the result views (summary text, ``to_dict``, HTML, saved tables) are
checked on hand-built tables, the dataset on a hand-built run of five people over ten days
whose every metric is worked out below by hand. The drivers (``run.py``, ``audit.py``,
``design.py``) are in ``test_insim_mutants_run.py``, peeking in ``test_insim_mutants_peek.py``.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from lifesim._io import OutputPathError
from lifesim._version import __version__
from lifesim.config.experiment import Experiment
from lifesim.experiments.insim.dataset import (
    COVARIATE_OF,
    cluster_frame,
    is_proportion,
    metric_values,
    person_frame,
    stage_at,
)
from lifesim.experiments.insim.design import ContactLog
from lifesim.experiments.insim.result import (
    AUDIT_CONVENTIONS,
    RUN_CONVENTIONS,
    AuditResult,
    ExperimentResult,
    _clean,
    _fmt,
    _records,
)
from lifesim.experiments.insim.run import resolve_experiment
from tests.experiments.test_insim import scenario

# --- a hand-built run: 5 people, 10 days, stages p (prospect), c (customer), x (churned) ------
#
# person  initial  first customer day  events (day: to)          purchases (day: amount, cause)
#   0       p            3             3: c, 9: x                2: 20 coupon, 6: 7 organic
#   1       c (initial)  0             -                         0: 8, 1: 10, 5: 5 mail, 9: 4
#   2       p            2             2: c, 6: x                -
#   3       p            6             6: c                      7: 30 coupon
#   4       c (initial)  0             1: x, 7: c                -
# coupon is single-use (2.0 per redemption), mail is not (its per_redemption is never charged).
# Contacts: day 1 person 4 at 9.0 (before the start); day 2 persons 0, 1 at 1.0; day 6 person 0
# twice at 0.5; day 9 person 3 at 2.0. Experiment start 2 (assignment day), horizon 10 days.

STAGE_NAMES = ("p", "c", "x")
EVENTS = [(4, 1, "x"), (2, 2, "c"), (0, 3, "c"), (2, 6, "x"), (3, 6, "c"), (4, 7, "c"), (0, 9, "x")]
PURCHASES = [
    (1, 0, 8.0, "organic"),
    (1, 1, 10.0, "organic"),
    (0, 2, 20.0, "coupon"),
    (1, 5, 5.0, "mail"),
    (0, 6, 7.0, "organic"),
    (3, 7, 30.0, "coupon"),
    (1, 9, 4.0, "organic"),
]


def _cat(values, cats):
    return pd.Categorical(values, categories=list(cats))


def _run(events=EVENTS, purchases=PURCHASES):
    people = pd.DataFrame(
        {
            "person": np.arange(5, dtype=np.int32),
            "segment": _cat(["s1", "s2", "s1", "s2", "s1"], ["s1", "s2"]),
            "initial_stage": _cat(["p", "c", "p", "p", "c"], STAGE_NAMES),
            "initial_customer": [False, True, False, False, True],
            "first_customer_day": np.array([3, 0, 2, 6, 0], dtype=np.int16),
        }
    )
    ev = pd.DataFrame(
        {
            "person": np.array([e[0] for e in events], dtype=np.int32),
            "day": np.array([e[1] for e in events], dtype=np.int16),
            "to_stage": _cat([e[2] for e in events], STAGE_NAMES),
        }
    )
    pur = pd.DataFrame(
        {
            "person": np.array([p[0] for p in purchases], dtype=np.int32),
            "day": np.array([p[1] for p in purchases], dtype=np.int16),
            "amount": [p[2] for p in purchases],
            "cause": pd.Categorical([p[3] for p in purchases]),
        }
    )
    cost = SimpleNamespace
    scn = SimpleNamespace(
        tactics={
            "coupon": SimpleNamespace(single_use=True, cost=cost(per_redemption=2.0)),
            "mail": SimpleNamespace(single_use=False, cost=cost(per_redemption=3.0)),
        },
        economics=SimpleNamespace(margin=0.5),
    )
    return SimpleNamespace(
        people=people,
        events=ev,
        purchases=pur,
        customers=5,
        days=10,
        scenario=scn,
        stage_kinds=("prospect", "customer", "churned"),
        stage_names=STAGE_NAMES,
    )


def _log():
    log = ContactLog()
    log.add(1, np.array([4]), 9.0)
    log.add(2, np.array([0, 1]), 1.0)
    log.add(3, np.array([2]), 0.0)  # free: not recorded
    log.add(3, np.array([], dtype=np.int64), 5.0)  # nobody: not recorded
    log.add(6, np.array([0, 0]), 0.5)
    log.add(9, np.array([3]), 2.0)
    return log


METRICS = {
    "conv": {"kind": "converted", "within": 4},  # [2, 6)
    "pur": {"kind": "purchased", "by": 7},  # [2, 7)
    "ord": {"kind": "orders"},  # [2, 10)
    "rev": {"kind": "revenue", "within": 5},  # [2, 7)
    "cost": {"kind": "cost"},  # [2, 10)
    "prof": {"kind": "profit", "within": 5},  # [2, 7)
    "ret": {"kind": "retained", "within": 5},  # stage at the end of day 6
    "ret_all": {"kind": "retained"},  # stage at the end of day 9
}
EXPECTED = {
    "conv": [1, 0, 1, 0, 0],  # first day 3 and 2 (lo is inside); 6 is hi (outside)
    "pur": [1, 1, 0, 0, 0],  # person 3's purchase on day 7 is after the window
    "ord": [2, 2, 0, 1, 0],
    "rev": [27, 5, 0, 0, 0],
    # contacts 2 (day 2, day 6 twice at 0.5) + coupon 2 | contact 1 | - | contact 2 + coupon 2
    "cost": [4, 1, 0, 4, 0],
    # 0.5 x revenue - cost inside [2, 7): 13.5 - (1 + 1 + 2) | 2.5 - 1
    "prof": [9.5, 1.5, 0, 0, 0],
    # end of day 6: 0 c, 1 c, 2 x (churned on day 6), 3 c (day 6), 4 x (back on day 7)
    "ret": [1, 1, 0, 1, 0],
    "ret_all": [0, 1, 0, 1, 1],
}


def _exp(metrics=METRICS, start=2, **kw):
    return Experiment(arms={"ctl": "none", "trt": "none"}, start=start, metrics=metrics, **kw)


# --- dataset.py ------------------------------------------------------------------------------


def test_covariates_and_proportions_per_kind():
    assert COVARIATE_OF == {
        "converted": "pre_customer",
        "purchased": "pre_orders",
        "retained": "pre_customer",
        "orders": "pre_orders",
        "revenue": "pre_revenue",
        "cost": "pre_revenue",
        "profit": "pre_revenue",
    }
    props = {k for k in COVARIATE_OF if is_proportion(k)}
    assert props == {"converted", "purchased", "retained"}


def test_stage_at_applies_the_last_move_up_to_the_end_of_the_day():
    res = _run()
    assert stage_at(res, -1).tolist() == [0, 1, 0, 0, 1]  # the start of day 0
    assert stage_at(res, 0).tolist() == [0, 1, 0, 0, 1]  # no move on day 0
    assert stage_at(res, 1).tolist() == [0, 1, 0, 0, 2]  # 4 churned on day 1
    assert stage_at(res, 2).tolist() == [0, 1, 1, 0, 2]
    assert stage_at(res, 6).tolist() == [1, 1, 2, 1, 2]  # 2: c then x, the last move counts
    assert stage_at(res, 9).tolist() == [2, 1, 2, 1, 1]
    assert stage_at(res, 50).tolist() == [2, 1, 2, 1, 1]
    out = stage_at(res, 6)
    assert out.dtype == np.int16
    # a given initial state is not modified
    init = np.array([1, 1, 1, 1, 1], dtype=np.int16)
    assert stage_at(res, 2, init).tolist() == [1, 1, 1, 1, 2]
    assert init.tolist() == [1, 1, 1, 1, 1]
    assert stage_at(res, -1, init).tolist() == [1, 1, 1, 1, 1]
    empty = _run(events=[])
    assert stage_at(empty, 5).tolist() == [0, 1, 0, 0, 1]
    day0 = _run(events=[(4, 0, "x"), (0, 1, "c")])  # a move on day 0 counts by its end
    assert stage_at(day0, 0).tolist() == [0, 1, 0, 0, 2]
    assert stage_at(day0, -1).tolist() == [0, 1, 0, 0, 1]


def test_every_metric_kind_by_hand():
    res = _run()
    log = _log()
    seen = []

    def cost(lo, hi):
        seen.append((lo, hi))
        return log.per_person(5, lo, hi)

    out = metric_values(res, _exp(), cost)
    assert list(out) == list(METRICS)
    for name, want in EXPECTED.items():
        assert out[name].tolist() == pytest.approx(want), name
        kind = METRICS[name]["kind"]
        assert out[name].dtype == (np.int8 if is_proportion(kind) else np.float64), name
    assert seen == [(2, 7), (2, 10), (2, 7)]  # the money kinds (revenue, cost, profit)


def test_converted_leaves_out_the_initial_customers_when_the_window_opens_on_day_0():
    res = _run()
    exp = _exp({"conv": {"kind": "converted", "within": 4}}, start=0)
    out = metric_values(res, exp, lambda lo, hi: np.zeros(5))
    assert out["conv"].tolist() == [1, 0, 1, 0, 0]  # 1 and 4 have first day 0 but started so


def test_redemptions_are_charged_only_for_single_use_offers():
    res = _run(purchases=[(1, 5, 5.0, "mail"), (0, 6, 7.0, "organic")])
    out = metric_values(res, _exp({"cost": {"kind": "cost"}}), lambda lo, hi: np.zeros(5))
    assert out["cost"].tolist() == [0, 0, 0, 0, 0]
    res.scenario.tactics["mail"].single_use = True
    out = metric_values(res, _exp({"cost": {"kind": "cost"}}), lambda lo, hi: np.zeros(5))
    assert out["cost"].tolist() == [0, 3, 0, 0, 0]
    none = _run(purchases=[])
    out = metric_values(none, _exp({"cost": {"kind": "cost"}}), lambda lo, hi: np.zeros(5))
    assert out["cost"].tolist() == [0, 0, 0, 0, 0]


def test_contact_log_attributes_cost_per_person_over_a_half_open_window():
    log = _log()
    assert log.days == [1, 2, 6, 9] and log.cost == [9.0, 1.0, 0.5, 2.0]
    assert all(p.dtype == np.int64 for p in log.people)
    assert log.per_person(5, 0, 10).tolist() == [2.0, 1.0, 0.0, 2.0, 9.0]
    assert log.per_person(5, 2, 9).tolist() == [2.0, 1.0, 0.0, 0.0, 0.0]  # day 9 is hi
    assert log.per_person(5, 6, 7).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]  # 0 twice at 0.5
    assert log.per_person(6, 3, 6).tolist() == [0.0] * 6


def test_person_frame_columns_order_and_people_outside_the_experiment():
    res = _run()
    exp = _exp()
    log = _log()
    df = person_frame(res, exp, ["ctl", "trt"], np.array([0, 1, -1, 1, 0]), log_cost(log))
    assert list(df.columns) == [
        "person",
        "arm",
        "segment",
        "stage_at_start",
        "pre_customer",
        "pre_orders",
        "pre_revenue",
        *METRICS,
    ]
    assert df["person"].tolist() == [0, 1, 3, 4]  # 2 is in no arm
    assert list(df.index) == [0, 1, 2, 3]
    assert df["arm"].tolist() == ["ctl", "trt", "trt", "ctl"]
    assert df["segment"].tolist() == ["s1", "s2", "s2", "s1"]
    assert df["stage_at_start"].tolist() == ["p", "c", "p", "x"]  # the end of day 1
    assert df["pre_customer"].tolist() == [0, 1, 0, 0] and df["pre_customer"].dtype == np.int8
    assert df["pre_orders"].tolist() == [0, 2, 0, 0]
    assert df["pre_revenue"].tolist() == [0, 18, 0, 0]
    for name, want in EXPECTED.items():
        assert df[name].tolist() == pytest.approx([want[i] for i in (0, 1, 3, 4)]), name


def log_cost(log, n=5):
    return lambda lo, hi: log.per_person(n, lo, hi)


def test_person_frame_of_a_region_keeps_everyone_and_adds_the_cluster():
    res = _run()
    exp = _exp({"rev": {"kind": "revenue"}}, start=1)
    df = person_frame(res, exp, ["ctl", "trt"], np.ones(5, dtype=np.int8), log_cost(_log()), 3)
    assert list(df.columns) == [
        "person",
        "cluster",
        "arm",
        "segment",
        "stage_at_start",
        "pre_customer",
        "pre_orders",
        "pre_revenue",
        "rev",
    ]
    assert df["cluster"].tolist() == [3] * 5 and df["cluster"].dtype == np.int64
    assert df["arm"].tolist() == ["trt"] * 5
    assert df["stage_at_start"].tolist() == ["p", "c", "p", "p", "c"]  # the start of day 1
    assert df["pre_customer"].tolist() == [0, 1, 0, 0, 1]
    assert df["pre_orders"].tolist() == [0, 1, 0, 0, 0]
    assert df["pre_revenue"].tolist() == [0, 8, 0, 0, 0]
    assert df["rev"].tolist() == [27, 19, 0, 30, 0]


def test_cluster_frame_is_the_mean_per_region():
    people = pd.DataFrame(
        {
            "person": range(5),
            "cluster": [1, 0, 1, 0, 1],
            "arm": ["b", "a", "b", "a", "b"],
            "pre_customer": [1, 0, 0, 0, 1],
            "pre_orders": [2, 1, 0, 3, 1],
            "pre_revenue": [10, 0, 5, 4, 0],
            "rev": [3, 1, 6, 2, 0],
            "conv": np.array([1, 0, 0, 1, 1], dtype=np.int8),
        }
    )
    exp = _exp({"rev": {"kind": "revenue"}, "conv": {"kind": "converted"}})
    out = cluster_frame(people, exp)
    assert list(out.columns) == [
        "cluster",
        "arm",
        "people",
        "pre_customer",
        "pre_orders",
        "pre_revenue",
        "rev",
        "conv",
    ]
    assert out["cluster"].tolist() == [0, 1] and out["arm"].tolist() == ["a", "b"]
    assert out["people"].tolist() == [2, 3]
    assert out["pre_customer"].tolist() == pytest.approx([0, 2 / 3])
    assert out["pre_orders"].tolist() == pytest.approx([2, 1])
    assert out["pre_revenue"].tolist() == pytest.approx([2, 5])
    assert out["rev"].tolist() == pytest.approx([1.5, 3])
    assert out["conv"].tolist() == pytest.approx([0.5, 2 / 3])
    assert out["conv"].dtype == np.float64


# --- result.py: helpers ------------------------------------------------------------------------


def test_clean_makes_json_values():
    x = {
        1: np.float64(2.5),
        "a": [np.int64(3), (float("nan"), float("inf"), -float("inf"))],
        "b": {"c": np.bool_(True), "d": None, "e": "s", "f": 1.5},
    }
    out = _clean(x)
    assert out == {
        "1": 2.5,
        "a": [3, [None, None, None]],
        "b": {"c": True, "d": None, "e": "s", "f": 1.5},
    }
    assert type(out["1"]) is float and type(out["a"][0]) is int and type(out["b"]["c"]) is bool
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan]})
    assert _records(df) == [{"a": 1, "b": 0.5}, {"a": 2, "b": None}]


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (None, "n/a"),
        (float("nan"), "n/a"),
        (float("inf"), "n/a"),
        (-float("inf"), "n/a"),
        (1000.0, "1,000"),
        (-1000.0, "-1,000"),
        (123456.7, "123,457"),
        (999.5, "999.500"),
        (1.0, "1.000"),
        (-1.0, "-1.000"),
        (0.0, "0.000"),
        (0, "0.000"),
        (0.5, "0.5"),
        (-0.123456, "-0.1235"),
        (0.000012345, "1.234e-05"),
        (12.34567, "12.346"),
    ],
)
def test_fmt_numbers(x, text):
    assert _fmt(x) == text


# --- result.py: ExperimentResult ---------------------------------------------------------------

EST_COLS = [
    "metric",
    "method",
    "arm",
    "control",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "significant",
    "test",
    "true_effect",
    "truth_se",
    "covers_truth",
]


def _estimates():
    rows = [
        ("converted", "plain", "treatment", "control", 0.05, 0.02, 0.01, 0.09, 0.0123, True,
         "z-test", 0.04, 0.005, True),
        ("revenue", "plain", "treatment", "control", 1234.5, 400.0, -2.5, 2000.0, 0.5, False,
         "welch", float("nan"), 0.0, False),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=EST_COLS)


def _truth():
    return pd.DataFrame(
        {
            "metric": ["converted", "revenue"],
            "arm": ["treatment", "treatment"],
            "true_effect": [0.04, np.nan],
            "truth_se": [0.005, 0.0],
            "replications": [3, 3],
        }
    )


def _exp_result(clusters=None, caveats=("few people", "a <b> & c"), **exp_kw):
    data = scenario(
        metrics={"converted": {"kind": "converted", "within": 30}, "revenue": {"kind": "revenue"}},
        **exp_kw,
    )
    scn, exp = resolve_experiment(data, customers=6, days=60)
    people = pd.DataFrame(
        {
            "person": range(6),
            "arm": ["control", "treatment", "treatment", "control", "treatment", "treatment"],
            "converted": np.array([0, 1, 0, 0, 1, 1], dtype=np.int8),
            "revenue": [0.0, 5.0, 0.0, 1.0, 2.0, 3.0],
        }
    )
    analysis = SimpleNamespace(srm=SimpleNamespace(p_value=np.float64(0.25)))
    return ExperimentResult(
        scenario=scn,
        experiment=exp,
        seed=42,
        people=people,
        clusters=clusters,
        analysis=analysis,
        estimates=_estimates(),
        truth=_truth(),
        caveats=tuple(caveats),
        elapsed_s=1.5,
    )


def test_experiment_result_counts_units_per_arm_of_the_analysed_dataset():
    res = _exp_result()
    assert res.dataset is res.people
    assert res.n == {"control": 2, "treatment": 4}
    clusters = pd.DataFrame({"cluster": [0, 1, 2], "arm": ["treatment"] * 3, "revenue": [1, 2, 3]})
    reg = _exp_result(clusters=clusters)
    assert reg.dataset is clusters
    assert reg.n == {"control": 0, "treatment": 3}  # an arm without a region counts 0
    assert all(type(v) is int for v in reg.n.values())


def test_analyze_command_reproduces_the_plain_analysis():
    res = _exp_result(alpha=0.1)
    assert res.analyze_command() == (
        "lifesim ab analyze dataset.csv --arm arm --control control --proportion converted "
        "--mean revenue --correction none --alpha 0.1"
    )
    reg = _exp_result(clusters=pd.DataFrame({"arm": ["control"]}), control="treatment")
    assert reg.analyze_command("clusters.csv") == (
        "lifesim ab analyze clusters.csv --arm arm --control treatment --mean converted "
        "--mean revenue --correction none --alpha 0.05"
    )


def test_experiment_to_pandas_is_a_copy_of_the_estimates():
    res = _exp_result()
    df = res.to_pandas()
    pd.testing.assert_frame_equal(df, _estimates())
    df.loc[0, "estimate"] = 99.0
    assert res.estimates.loc[0, "estimate"] == 0.05


def test_experiment_to_dict_by_hand():
    res = _exp_result(duration=25, alpha=0.1)
    d = res.to_dict()
    assert list(d) == [
        "scenario",
        "seed",
        "design",
        "arms",
        "control",
        "start",
        "exposure",
        "alpha",
        "n",
        "estimates",
        "truth",
        "srm_p_value",
        "caveats",
        "conventions",
        "elapsed_s",
    ]
    assert d["scenario"] == "insim_test" and d["seed"] == 42 and d["design"] == "person"
    assert d["arms"] == {"control": 0.5, "treatment": 0.5}
    assert d["control"] == "control" and d["start"] == 20 and d["exposure"] == [20, 45]
    assert d["alpha"] == 0.1 and d["n"] == {"control": 2, "treatment": 4}
    assert d["estimates"][0] == {
        "metric": "converted",
        "method": "plain",
        "arm": "treatment",
        "control": "control",
        "estimate": 0.05,
        "se": 0.02,
        "ci_low": 0.01,
        "ci_high": 0.09,
        "p_value": 0.0123,
        "significant": True,
        "test": "z-test",
        "true_effect": 0.04,
        "truth_se": 0.005,
        "covers_truth": True,
    }
    assert d["estimates"][1]["true_effect"] is None  # NaN -> null
    assert d["truth"][0] == {
        "metric": "converted",
        "arm": "treatment",
        "true_effect": 0.04,
        "truth_se": 0.005,
        "replications": 3,
    }
    assert d["srm_p_value"] == 0.25 and type(d["srm_p_value"]) is float
    assert d["caveats"] == ["few people", "a <b> & c"]
    assert d["conventions"] == list(RUN_CONVENTIONS) and d["elapsed_s"] == 1.5
    json.dumps(d, allow_nan=False)


def test_experiment_summary_by_hand():
    res = _exp_result(alpha=0.1)
    lines = res.summary().split("\n")
    assert lines[:6] == [
        "Experiment in scenario 'insim_test': person-level design, 6 people x 60 days, seed 42",
        "units per arm: control=2, treatment=4",
        "",
        "metric          method arm              estimate  90% CI                          p"
        "       truth        +/-  covers",
        "converted       plain  treatment            0.05  [0.01, 0.09]               0.0123"
        "        0.04      0.005  yes",
        "revenue         plain  treatment           1,234  [-2.500, 2,000]               0.5"
        "         n/a      0.000  NO",
    ]
    assert lines[6:10] == ["", "caveats:", "  - few people", "  - a <b> & c"]
    assert lines[10:12] == ["", "conventions:"]
    assert lines[12:] == [f"  - {c}" for c in RUN_CONVENTIONS]
    none = _exp_result(caveats=()).summary().split("\n")
    assert "caveats:" not in none and none[6:8] == ["", "conventions:"]
    assert "units per arm: control=2, treatment=4" in none
    big = _exp_result()
    object.__setattr__(big, "people", pd.DataFrame({"arm": ["control"] * 1500 + ["treatment"]}))
    assert big.summary().split("\n")[1] == "units per arm: control=1,500, treatment=1"


def test_experiment_repr_and_html():
    res = _exp_result()
    assert repr(res) == (
        "ExperimentResult(scenario='insim_test', n={'control': 2, 'treatment': 4}, "
        "metrics=['converted', 'revenue'])"
    )
    page = res._repr_html_()
    assert page.startswith("<div><p><b>Experiment in insim_test</b>: ")
    assert "{&#x27;control&#x27;: 2, &#x27;treatment&#x27;: 4}</p><table" in page
    assert "<li>few people</li><li>a &lt;b&gt; &amp; c</li>" in page
    assert "<ul><li>few people</li>" in page
    assert "<th>test</th>" not in page and "welch" not in page  # the test column is dropped
    assert "<th>covers_truth</th>" in page and "<th>0</th>" in page  # with the index
    assert page.endswith(f"</ul><p><small><ul>{_escaped(RUN_CONVENTIONS)}</ul></small></p></div>")


def test_save_tables_writes_every_table_and_a_manifest(tmp_path):
    res = _exp_result()
    out = tmp_path / "new" / "run"
    res.save_tables(out)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "dataset.csv",
        "dataset.parquet",
        "estimates.csv",
        "manifest.json",
        "result.json",
        "scenario.yaml",
        "summary.txt",
        "truth.csv",
    ]
    pd.testing.assert_frame_equal(pd.read_csv(out / "dataset.csv"), res.people, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "dataset.parquet"), res.people)
    est = pd.read_csv(out / "estimates.csv")
    assert list(est.columns) == EST_COLS and est["estimate"].tolist() == [0.05, 1234.5]
    truth = pd.read_csv(out / "truth.csv")
    assert list(truth.columns) == list(_truth().columns) and truth["replications"].tolist() == [
        3,
        3,
    ]
    assert yaml.safe_load((out / "scenario.yaml").read_text())["name"] == "insim_test"
    assert json.loads((out / "result.json").read_text()) == res.to_dict()
    assert (out / "result.json").read_text().startswith('{\n  "scenario"')
    assert (out / "summary.txt").read_text() == res.summary() + "\n"
    man = json.loads((out / "manifest.json").read_text())
    assert man == {
        "lifesim_version": __version__,
        "seed": 42,
        "elapsed_s": 1.5,
        "tables": [n for n in names if n != "manifest.json"] + ["manifest.json"],
        "analyze": res.analyze_command("dataset.csv"),
    }
    assert (out / "manifest.json").read_text().startswith('{\n  "lifesim_version"')


def test_save_tables_of_a_market_design_writes_the_regions(tmp_path):
    clusters = pd.DataFrame(
        {"cluster": [0, 1], "arm": ["control", "treatment"], "revenue": [1.0, 2.0]}
    )
    res = _exp_result(clusters=clusters)
    res.save_tables(tmp_path)
    assert (tmp_path / "dataset.csv").exists()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "clusters.csv"), clusters)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "clusters.parquet"), clusters)
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert "clusters.csv" in man["tables"] and "clusters.parquet" in man["tables"]
    assert man["analyze"].startswith("lifesim ab analyze clusters.csv ")


def test_save_writes_a_run_folder_and_refuses_to_overwrite(tmp_path):
    res = _exp_result()
    out = res.save(tmp_path / "run")
    assert out == tmp_path / "run" and (out / "result.json").exists()
    assert isinstance(res.save(str(tmp_path / "run2")), type(out))
    with pytest.raises(OutputPathError):
        res.save(tmp_path / "run")
    res.save(tmp_path / "run", overwrite=True)
    assert (out / "manifest.json").exists()
    with pytest.raises(OutputPathError, match="would replace the input"):
        res.save(tmp_path / "run", overwrite=True, inputs=[out / "scenario.yaml"])


def test_parquet_tables_have_only_the_data_columns(tmp_path):
    clusters = pd.DataFrame({"cluster": [0, 1], "arm": ["control", "treatment"]})
    _exp_result(clusters=clusters).save_tables(tmp_path)
    names = pq.read_schema(tmp_path / "dataset.parquet").names
    assert names == ["person", "arm", "converted", "revenue"]  # no index column
    assert pq.read_schema(tmp_path / "clusters.parquet").names == ["cluster", "arm"]


# --- result.py: AuditResult --------------------------------------------------------------------

AUDIT_COLS = [
    "version",
    "metric",
    "method",
    "arm",
    "true_effect",
    "truth_se",
    "bias",
    "bias_se",
    "rejection_rate",
    "rejection_se",
    "coverage",
    "coverage_se",
    "expected_coverage",
]


def _audit(repeats=20, peeking=None, peek=None, alpha=0.1, truth=None):
    scn, exp = resolve_experiment(scenario(), customers=6, days=60)
    table = pd.DataFrame(
        [
            ("A/B", "revenue", "plain", "treatment", 2.5, 0.1, -0.25, 0.05, 0.8, 0.0894,
             0.9, 0.0671, 0.94),
            ("A/A", "converted", "cuped", "treatment", 0.0, 0.0, 0.0012, 1500.0, 0.05, 0.0487,
             1.0, 0.0112, 0.9),
        ],
        columns=AUDIT_COLS,
    )  # fmt: skip
    if truth is None:
        truth = pd.DataFrame({"metric": ["revenue"], "arm": ["treatment"], "replications": [7]})
    return AuditResult(
        scenario=scn,
        experiment=exp,
        seed=7,
        repeats=repeats,
        table=table,
        estimates=pd.DataFrame({"version": ["A/B"], "estimate": [1.0]}),
        truth=truth,
        alpha=alpha,
        elapsed_s=2.0,
        peeking=peeking,
        peek=peek,
    )


PEEK_COLS = [
    "version",
    "metric",
    "arm",
    "method",
    "looks",
    "rejection_rate",
    "rejection_se",
    "mean_stop_day",
    "stop_day_se",
    "coverage",
    "coverage_se",
]


def _peeking():
    return pd.DataFrame(
        [("A/A", "revenue", "treatment", "always-valid", 30, 0.04, 0.0196, 28.25, 0.54, 0.96,
          0.0196)],
        columns=PEEK_COLS,
    )  # fmt: skip


def test_audit_to_pandas_and_to_dict():
    res = _audit(peeking=_peeking(), peek=4)
    df = res.to_pandas()
    pd.testing.assert_frame_equal(df, res.table)
    df.loc[0, "bias"] = 9.0
    assert res.table.loc[0, "bias"] == -0.25
    d = res.to_dict()
    assert list(d) == [
        "scenario",
        "seed",
        "repeats",
        "alpha",
        "design",
        "table",
        "truth",
        "peek",
        "peeking",
        "conventions",
        "elapsed_s",
    ]
    assert (d["scenario"], d["seed"], d["repeats"], d["alpha"], d["design"]) == (
        "insim_test",
        7,
        20,
        0.1,
        "person",
    )
    assert d["table"][0]["bias"] == -0.25 and d["table"][1]["version"] == "A/A"
    assert d["truth"] == [{"metric": "revenue", "arm": "treatment", "replications": 7}]
    assert d["peek"] == 4 and d["peeking"][0]["method"] == "always-valid"
    assert d["peeking"][0]["mean_stop_day"] == 28.25
    assert d["conventions"] == list(AUDIT_CONVENTIONS) and d["elapsed_s"] == 2.0
    assert _audit().to_dict()["peeking"] is None and _audit().to_dict()["peek"] is None
    json.dumps(d, allow_nan=False)


def test_audit_summary_by_hand():
    lines = _audit().summary().split("\n")
    assert lines[:5] == [
        "Audit of the experiment in 'insim_test': 20 repeats, person-level design, alpha 0.1,"
        " seed 7",
        "",
        "version metric          method arm                 truth        bias        +/-  reject"
        "    +/-  coverage    +/-  expected",
        "A/B     revenue         plain  treatment           2.500       -0.25       0.05   0.800"
        "  0.089     0.900  0.067     0.940",
        "A/A     converted       cuped  treatment           0.000      0.0012      1,500   0.050"
        "  0.049     1.000  0.011     0.900",
    ]
    assert lines[5:7] == [
        "",
        "caveat: only 20 repeats; rates carry a Monte Carlo error of up to 0.11 (use --repeats "
        "500 for a verdict).",
    ]
    assert lines[7:9] == [
        "",
        "reject = false-positive rate for A/A rows (and A/B rows with truth 0), power otherwise;"
        " nominal coverage 90%; expected = the coverage to expect when the truth is itself known"
        " only to +/- truth_se (from 7 independent markets).",
    ]
    assert lines[9:] == ["", "conventions:", *(f"  - {c}" for c in AUDIT_CONVENTIONS)]


def test_audit_summary_of_many_repeats_has_no_caveat_and_counts_no_truth_markets():
    text = _audit(repeats=100, truth=pd.DataFrame({"replications": []})).summary()
    assert "caveat: only" not in text
    assert "(from 0 independent markets)" in text
    assert "caveat: only 99 repeats" in _audit(repeats=99).summary()
    assert "error of up to 0.50 " in _audit(repeats=1).summary()


def test_audit_summary_with_peeking_by_hand():
    lines = _audit(peeking=_peeking(), peek="daily", alpha=0.05).summary().split("\n")
    i = lines.index(
        "Peeking (every day of each metric's window): stop at the first look a test rejects"
    )
    assert lines[i - 1] == ""
    assert lines[i + 1 : i + 3] == [
        "version metric          arm           method             looks  reject    +/-  stop day"
        "    +/-  coverage    +/-",
        "A/A     revenue         treatment     always-valid          30   0.040  0.020      28.2"
        "    0.5     0.960  0.020",
    ]
    assert lines[i + 3] == ""
    assert lines[i + 4] == (
        "reject = false-positive rate (A/A) or power (A/B) of stopping at the first look with a "
        "rejection at alpha 0.05; naive = the fixed-horizon test at every look; always-valid = "
        "asymptotic confidence sequences (Waudby-Smith et al. 2023, Howard et al. 2021 "
        "normal-mixture boundary); group-sequential = Lan-DeMets O'Brien-Fleming spending; both "
        "on the variance clock of the effect estimate (calendar time for retained, a state). "
        "Stop day: days since assignment (the last look if never stopped). Coverage: the "
        "method's interval at its stopping look contains the truth at that look."
    )
    assert lines[i + 5 : i + 7] == ["", "conventions:"]
    four = _audit(peeking=_peeking(), peek=4).summary()
    assert "Peeking (4 looks of each metric's window)" in four
    assert "Peeking" not in _audit().summary()


def test_audit_repr_and_html():
    res = _audit()
    assert repr(res) == "AuditResult(scenario='insim_test', repeats=20)"
    page = res._repr_html_()
    assert page.startswith("<div><p><b>Audit of insim_test</b>: 20 repeats, alpha 0.1</p><table")
    assert "<th>version</th>" in page and "<th>0</th>" not in page  # no index
    assert page.endswith(
        "</table><p><small><ul>" + _escaped(AUDIT_CONVENTIONS) + "</ul></small></p></div>"
    )


def _escaped(items):
    import html

    return "".join(f"<li>{html.escape(c)}</li>" for c in items)


def test_conventions_state_the_methods():
    assert len(RUN_CONVENTIONS) == 3 and len(AUDIT_CONVENTIONS) == 3
    assert "Welch" in RUN_CONVENTIONS[0] and "common random numbers" in RUN_CONVENTIONS[1]
    assert "Broadcast tactics" in RUN_CONVENTIONS[2]
    assert "child seed i" in AUDIT_CONVENTIONS[0] and "sqrt(p(1-p)/R)" in AUDIT_CONVENTIONS[1]
    assert "2 Phi(z / sqrt(1 + (truth_se / mean_se)^2)) - 1" in AUDIT_CONVENTIONS[2]
