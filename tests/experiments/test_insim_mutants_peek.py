"""Behaviour of insim's peeking (``audit(..., peek=...)``) pinned for mutation testing.

Fast and in-process: the looks, every metric read at every look on the hand-built 5-person
run of ``test_insim_mutants.py`` (worked by hand), the three tests' thresholds and stopping
rules on hand-built effect paths, and a tiny simulated experiment whose last look must be its
planned read-out and whose truth by look must be the truth of ``true_effects``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lifesim.ab import gsd
from lifesim.ab.sequential import boundary_factor, tightest_u
from lifesim.errors import ConfigError
from lifesim.experiments.insim.design import ContactLog
from lifesim.experiments.insim.peeking import (
    METHODS,
    _moments,
    _rate_se,
    _sorted_log,
    _thresholds,
    look_days,
    look_stats,
    look_values,
    parse_peek,
    summarise_peeking,
    truth_by_look,
)
from lifesim.experiments.insim.run import resolve_experiment, simulate_experiment, true_effects
from tests.experiments.test_insim import scenario
from tests.experiments.test_insim_mutants import EXPECTED, METRICS, _exp, _log, _run

Z = 1.959963984540054


@pytest.mark.parametrize(
    ("peek", "want"),
    [("daily", "daily"), (" Daily ", "daily"), (2, 2), ("3", 3), (" 4 ", 4), (17, 17)],
)
def test_parse_peek_accepts_daily_and_whole_numbers_from_2(peek, want):
    assert parse_peek(peek) == want


@pytest.mark.parametrize("peek", [1, "1", 0, -3, "2.0", 2.5, "x", "02", "", "weekly"])
def test_parse_peek_refuses_anything_else_naming_it(peek):
    with pytest.raises(ConfigError) as err:
        parse_peek(peek)
    assert err.value.problems == [
        ("peek", f"must be 'daily' or a whole number of looks >= 2, got {peek!r}")
    ]


def test_look_days_daily_evenly_spaced_and_capped_at_daily():
    exp = _exp(
        {"a": {"kind": "revenue", "within": 30}, "b": {"kind": "orders", "within": 3}}, start=20
    )
    looks = look_days(exp, 60, "daily")
    assert looks["a"].tolist() == list(range(21, 51)) and looks["b"].tolist() == [21, 22, 23]
    looks = look_days(exp, 60, 4)
    assert looks["a"].tolist() == [28, 35, 43, 50]  # 20 + ceil(7.5 k)
    assert looks["b"].tolist() == [21, 22, 23]  # 4 looks of a 3-day window: every day
    assert look_days(exp, 60, 3)["b"].tolist() == [21, 22, 23]  # as many looks as days
    assert look_days(exp, 60, 2)["b"].tolist() == [22, 23]  # 20 + ceil(1.5), 20 + 3
    assert look_days(exp, 60, 29)["a"].tolist() == list(range(22, 51))  # 20 + ceil(30 k / 29)
    assert look_days(exp, 60, 30)["a"].tolist() == list(range(21, 51))
    assert list(look_days(exp, 60, 2)) == ["a", "b"]
    assert look_days(exp, 60, 4)["a"].dtype.kind == "i"


def test_sorted_log_orders_contacts_by_day_keeping_ties_in_order():
    log = ContactLog()
    log.add(6, np.array([1]), 1.0)
    log.add(2, np.array([2]), 2.0)
    log.add(6, np.array([3]), 3.0)
    log.add(1, np.array([4]), 4.0)
    days, people, cost = _sorted_log(log)
    assert days.tolist() == [1, 2, 6, 6] and cost.tolist() == [4.0, 2.0, 1.0, 3.0]
    assert [p.tolist() for p in people] == [[4], [2], [1], [3]]
    assert days.dtype == np.int64


@pytest.mark.parametrize(
    ("name", "looks", "want"),
    [
        ("conv", [3, 4, 6], [[0, 0, 1, 0, 0], [1, 0, 1, 0, 0], [1, 0, 1, 0, 0]]),
        ("ret", [3, 5, 7], [[0, 1, 1, 0, 0], [1, 1, 1, 0, 0], [1, 1, 0, 1, 0]]),
        ("ret_all", [3, 10], [[0, 1, 1, 0, 0], [0, 1, 0, 1, 1]]),
        ("pur", [3, 7], [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0]]),
        ("ord", [6, 10], [[1, 1, 0, 0, 0], [2, 2, 0, 1, 0]]),
        ("rev", [4, 7], [[20, 0, 0, 0, 0], [27, 5, 0, 0, 0]]),
        ("cost", [3, 7, 10], [[3, 1, 0, 0, 0], [4, 1, 0, 0, 0], [4, 1, 0, 4, 0]]),
        ("prof", [3, 7], [[7, -1, 0, 0, 0], [9.5, 1.5, 0, 0, 0]]),
    ],
)
def test_look_values_by_hand(name, looks, want):
    out = look_values(_run(), _exp(), name, np.array(looks), _log())
    assert out.shape == (len(looks), 5)
    np.testing.assert_allclose(out, want)
    assert out[-1].tolist() == pytest.approx(EXPECTED[name])  # the last look is the read-out


def test_look_values_read_an_unsorted_contact_log():
    log = ContactLog()
    log.add(9, np.array([3]), 2.0)
    log.add(6, np.array([0, 0]), 0.5)
    log.add(2, np.array([0, 1]), 1.0)
    log.add(1, np.array([4]), 9.0)
    out = look_values(_run(), _exp(), "cost", np.array([3, 7, 10]), log)
    np.testing.assert_allclose(out, [[3, 1, 0, 0, 0], [4, 1, 0, 0, 0], [4, 1, 0, 4, 0]])


def test_look_values_of_a_run_without_purchases_or_moves():
    res = _run(events=[], purchases=[])
    out = look_values(res, _exp(), "rev", np.array([4, 7]), _log())
    assert out.tolist() == [[0.0] * 5] * 2
    out = look_values(res, _exp(), "ret", np.array([3, 7]), _log())
    assert out.tolist() == [[0, 1, 0, 0, 1]] * 2
    out = look_values(res, _exp(), "cost", np.array([3, 10]), _log())
    assert out.tolist() == [[1, 1, 0, 0, 0], [2, 1, 0, 2, 0]]
    assert METRICS["cost"]["kind"] == "cost"


def test_moments_per_look_and_arm():
    values = np.array([[1.0, 2.0, 3.0, 4.0, 6.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    n, mean, var = _moments(values, np.array([0, 1, 0, 1, 1]), 2)
    assert n.tolist() == [2.0, 3.0]
    np.testing.assert_allclose(mean, [[2.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(var, [[2.0, 4.0], [0.0, 0.0]])
    third = np.full((1, 3), 0.1)
    _, _, v = _moments(third, np.array([0, 0, 0]), 1)
    assert v[0, 0] >= 0.0 and v[0, 0] == pytest.approx(0.0, abs=1e-15)
    with np.errstate(invalid="ignore"):  # arm 2 has nobody: no mean
        n, mean, var = _moments(np.array([[5.0, 1.0, 3.0]]), np.array([0, 1, 1]), 3)
    assert n.tolist() == [1.0, 2.0, 0.0] and mean[0, :2].tolist() == [5.0, 2.0]
    assert np.isnan(var[0, 0]) and var[0, 1] == 2.0 and np.isnan(mean[0, 2])


def test_thresholds_on_the_variance_clock():
    th = _thresholds(np.array([1.0, 2.0, 4.0]), 0.05)
    assert list(th) == list(METHODS) == ["naive", "always-valid", "group-sequential"]
    assert th["naive"].tolist() == pytest.approx([Z] * 3)
    u = tightest_u(0.05) * np.array([0.25, 0.5, 1.0])
    assert th["always-valid"].tolist() == pytest.approx(boundary_factor(u, 0.05).tolist())
    assert th["group-sequential"].tolist() == pytest.approx(
        gsd.boundaries(np.array([0.25, 0.5, 1.0]), 0.05, "obf")[0].tolist()
    )
    assert th["always-valid"][-1] == pytest.approx(3.035122413, abs=1e-6)
    # equal fractions: the earlier look gets no boundary; fractions above 1 count as 1
    eq = _thresholds(np.array([1.0, 1.0, 2.0]), 0.05)["group-sequential"]
    two = gsd.boundaries(np.array([0.5, 1.0]), 0.05, "obf")[0]
    assert eq[0] == np.inf and eq[1:].tolist() == pytest.approx(two.tolist())
    over = _thresholds(np.array([1.0, 4.0, 2.0]), 0.05)["group-sequential"]
    assert over[1] == np.inf and [over[0], over[2]] == pytest.approx(two.tolist())
    down = _thresholds(np.array([2.0, 1.0, 4.0]), 0.05)["group-sequential"]
    assert down[0] == np.inf and down[1:].tolist() == pytest.approx(two.tolist())


def test_thresholds_of_looks_without_variance_and_on_calendar_time():
    th = _thresholds(np.array([0.0, 1.0, 2.0]), 0.1)
    z = 1.6448536269514722
    assert th["naive"].tolist() == pytest.approx([math.inf, z, z])
    assert th["always-valid"][0] == np.inf
    assert th["group-sequential"][0] == np.inf
    assert th["group-sequential"][1:].tolist() == pytest.approx(
        gsd.boundaries(np.array([0.5, 1.0]), 0.1, "obf")[0].tolist()
    )
    dead = _thresholds(np.array([1.0, 0.0]), 0.05)  # nothing at the last look: no clock
    assert dead["naive"].tolist() == [pytest.approx(Z), math.inf]
    assert dead["always-valid"].tolist() == [math.inf, math.inf]
    assert dead["group-sequential"].tolist() == [math.inf, math.inf]
    cal = _thresholds(np.array([1.0, 1.0]), 0.05, clock=np.array([0.2, 1.0]))
    assert cal["group-sequential"].tolist() == pytest.approx(
        gsd.boundaries(np.array([0.2, 1.0]), 0.05, "obf")[0].tolist()
    )
    u = tightest_u(0.05) * np.array([0.2, 1.0])
    assert cal["always-valid"].tolist() == pytest.approx(boundary_factor(u, 0.05).tolist())


def test_peeking_rate_se():
    assert _rate_se(0.5, 4) == pytest.approx(0.25)
    assert _rate_se(0.0, 10) == pytest.approx(math.sqrt(0.05 * 0.95 / 10))
    assert _rate_se(1.0, 1) == pytest.approx(0.5)


B = 3.035122413028551  # the always-valid boundary at both looks of equal variance, alpha 0.05


def test_summarise_peeking_aa_by_hand():
    # three repeats, two looks (days 25 and 30: 5 and 10 days after assignment), se 1
    d = [[3.5, 0.0], [0.5, 2.2], [0.1, -0.3]]
    stats = {("A/A", "rev", "t"): [(np.array(x), np.ones(2)) for x in d]}
    out = summarise_peeking(stats, {}, {"rev": np.array([25, 30])}, 20, 0.05)
    assert list(out.columns) == [
        "version", "metric", "arm", "method", "looks", "true_effect", "truth_se",
        "rejection_rate", "rejection_se", "mean_stop_day", "stop_day_se", "coverage",
        "coverage_se", "final_boundary", "repeats",
    ]  # fmt: skip
    t = out.set_index("method")
    assert list(t.index) == ["naive", "always-valid", "group-sequential"]
    assert (out.version == "A/A").all() and (out.looks == 2).all() and (out.repeats == 3).all()
    assert (out.true_effect == 0).all() and (out.truth_se == 0).all()
    # naive (|z| >= 1.96): repeat 0 stops at look 0, repeat 1 at look 1, repeat 2 never
    n = t.loc["naive"]
    assert n.rejection_rate == pytest.approx(2 / 3) and n.rejection_se == pytest.approx(
        math.sqrt(2 / 27)
    )
    assert n.mean_stop_day == pytest.approx(25 / 3) and n.stop_day_se == pytest.approx(5 / 3)
    assert n.coverage == pytest.approx(1 / 3)  # 3.5 +- 1.96 and 2.2 +- 1.96 miss 0
    assert n.final_boundary == pytest.approx(Z)
    # always-valid (|z| >= 3.035): only repeat 0, at look 0; its CS 3.5 +- 3.035 misses 0
    a = t.loc["always-valid"]
    assert a.rejection_rate == pytest.approx(1 / 3) and a.mean_stop_day == pytest.approx(25 / 3)
    assert a.coverage == pytest.approx(2 / 3) and a.final_boundary == pytest.approx(B)
    # group-sequential: no boundary at look 0 (the same information as the last), 1.96 at
    # look 1: only repeat 1 rejects; all stop at look 1; 2.2 +- 1.96 misses 0
    g = t.loc["group-sequential"]
    assert g.rejection_rate == pytest.approx(1 / 3) and g.mean_stop_day == 10.0
    assert g.stop_day_se == 0.0 and g.coverage == pytest.approx(2 / 3)
    assert g.final_boundary == pytest.approx(Z) and g.coverage_se == pytest.approx(
        math.sqrt(2 / 27)
    )


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply")  # inf x se 0
def test_summarise_peeking_ab_against_the_truth_by_look():
    stats = {("A/B", "rev", "t"): [(np.array([2.0, 2.5]), np.array([1.0, 0.0]))]}
    truth = {("rev", "t"): (np.array([0.2, 2.0]), np.array([0.1, 0.3]))}
    out = summarise_peeking(stats, truth, {"rev": np.array([25, 30])}, 20, 0.05).set_index("method")
    assert (out.true_effect == 2.0).all() and (out.truth_se == 0.3).all()
    # no variance at the last look: only the naive test has a boundary, at look 0 (2.0 >= 1.96)
    n = out.loc["naive"]
    assert (
        n.rejection_rate == 1.0 and n.mean_stop_day == 5.0 and n.coverage == 1.0
    )  # 2 +- 1.96 holds 0.2
    assert np.isnan(n.stop_day_se) and n.rejection_se == pytest.approx(0.5)
    assert n.final_boundary == math.inf
    for m in ("always-valid", "group-sequential"):
        assert out.loc[m, "rejection_rate"] == 0.0 and out.loc[m, "mean_stop_day"] == 10.0
        assert out.loc[m, "coverage"] == 1.0  # an unbounded interval


def test_summarise_peeking_covers_at_the_stopping_look_and_runs_states_on_calendar_time():
    stats = {
        ("A/B", "ret", "t"): [
            (np.array([2.5, 0.1]), np.ones(2)),
            (np.array([0.3, 0.3]), np.ones(2)),
        ]
    }
    truth = {("ret", "t"): (np.array([4.4, 0.0]), np.array([0.0, 0.0]))}
    looks = {"ret": np.array([22, 30])}
    out = summarise_peeking(stats, truth, looks, 20, 0.05, {"ret"}).set_index("method")
    n = out.loc["naive"]
    # repeat 0 stops at look 0 (day 2): 2.5 +- 1.96 reaches 4.4 only to 4.46: covered
    assert n.rejection_rate == 0.5 and n.mean_stop_day == 6.0 and n.coverage == 1.0
    assert n.stop_day_se == pytest.approx(4.0)
    cal = gsd.boundaries(np.array([0.2, 1.0]), 0.05, "obf")[0]
    assert out.loc["group-sequential", "final_boundary"] == pytest.approx(cal[-1])
    u = tightest_u(0.05) * np.array([0.2, 1.0])
    assert out.loc["always-valid", "final_boundary"] == pytest.approx(boundary_factor(u, 0.05)[-1])
    plain = summarise_peeking(stats, truth, looks, 20, 0.05).set_index("method")
    assert plain.loc["group-sequential", "final_boundary"] == pytest.approx(Z)


def _peek_scenario():
    metrics = {
        "conv": {"kind": "converted", "within": 30},
        "rev": {"kind": "revenue"},
        "ret": {"kind": "retained", "within": 20},
        "cost": {"kind": "cost"},
        "prof": {"kind": "profit", "within": 25},
        "ord": {"kind": "orders"},
        "pur": {"kind": "purchased", "within": 10},
    }
    return resolve_experiment(scenario(metrics=metrics), customers=40, days=60)


def test_look_stats_last_look_is_the_planned_read_out():
    scn, exp = _peek_scenario()
    seed = np.random.SeedSequence(6)
    looks = look_days(exp, scn.days, 3)
    people, stats = look_stats(scn, exp, seed, looks)
    pd.testing.assert_frame_equal(people, simulate_experiment(scn, exp, seed)[0])
    assert sorted(stats) == sorted((m, "treatment") for m in exp.metrics)
    g = people.groupby("arm")
    for name, days in looks.items():
        d, se = stats[(name, "treatment")]
        assert len(d) == len(days) == len(se)
        m, v, k = g[name].mean(), g[name].var(ddof=1), g[name].size()
        assert d[-1] == pytest.approx(m["treatment"] - m["control"], abs=1e-12), name
        want = math.sqrt(v["treatment"] / k["treatment"] + v["control"] / k["control"])
        assert se[-1] == pytest.approx(want, abs=1e-12), name


def test_truth_by_look_ends_at_the_true_effect():
    scn, exp = _peek_scenario()
    seeds = [np.random.SeedSequence(s) for s in (1, 2, 5)]  # 3 markets: r / (r - 1) = 1.5
    looks = look_days(exp, scn.days, 2)
    by_look = truth_by_look(scn, exp, seeds, looks)
    truth = true_effects(scn, exp, seeds).set_index("metric")
    for name in exp.metrics:
        t, se = by_look[(name, "treatment")]
        assert len(t) == 2
        assert t[-1] == pytest.approx(truth.loc[name, "true_effect"], abs=1e-12), name
        assert se[-1] == pytest.approx(truth.loc[name, "truth_se"], abs=1e-12), name
    one = truth_by_look(scn, exp, seeds[:1], looks)
    t1 = true_effects(scn, exp, seeds[:1]).set_index("metric")
    assert one[("rev", "treatment")][1].tolist() == [0.0, 0.0]  # one market: no spread
    assert one[("rev", "treatment")][0][-1] == pytest.approx(t1.loc["rev", "true_effect"])


def test_sorted_log_is_stable_for_many_ties_and_empty_logs_have_int_days():
    log = ContactLog()
    for i in range(60):
        log.add(i % 3, np.array([i]), float(i + 1))
    days, people, cost = _sorted_log(log)
    want = [i + 1 for d in range(3) for i in range(60) if i % 3 == d]
    assert cost.tolist() == want and [p[0] for p in people] == [c - 1 for c in want]
    empty = _sorted_log(ContactLog())
    assert empty[0].dtype == np.int64 and empty[1] == [] and len(empty[2]) == 0


@pytest.mark.filterwarnings("error")  # an arm of one person: no variance, and no warning
def test_moments_of_an_arm_of_one():
    n, mean, var = _moments(np.array([[5.0, 1.0, 3.0]]), np.array([0, 1, 1]), 2)
    assert n.tolist() == [1.0, 2.0] and np.isnan(var[0, 0]) and var[0, 1] == 2.0


@pytest.mark.filterwarnings("error")  # looks without variance are expected: no warning
def test_thresholds_of_an_uninformative_middle_look_and_early_looks():
    th = _thresholds(np.array([1.0, 0.0, 2.0]), 0.05)
    two = gsd.boundaries(np.array([0.5, 1.0]), 0.05, "obf")[0]
    gs = th["group-sequential"]
    assert gs[1] == np.inf and [gs[0], gs[2]] == pytest.approx(two.tolist())
    assert th["naive"][1] == np.inf and th["always-valid"][1] == np.inf
    # an early look with u = 8.21 x 0.1 < 1 has its own boundary (not u's floor at 1)
    early = _thresholds(np.array([0.1, 1.0]), 0.05)["always-valid"]
    u = tightest_u(0.05) * np.array([0.1, 1.0])
    assert early.tolist() == pytest.approx(boundary_factor(u, 0.05).tolist())
    assert early[0] == pytest.approx(3.823218, abs=1e-5)  # not 3.656, the boundary at u = 1
    zero = _thresholds(np.array([0.0, 1.0, 2.0]), 0.05)
    assert zero["always-valid"][0] == np.inf and zero["group-sequential"][0] == np.inf


def test_summarise_peeking_plans_on_the_mean_variance_of_the_looks():
    # se 1 then 2 at the looks: variance 1 and 4, information fractions 1/4 and 1
    stats = {("A/A", "rev", "t"): [(np.array([0.0, 0.0]), np.array([1.0, 2.0]))] * 2}
    out = summarise_peeking(stats, {}, {"rev": np.array([21, 22])}, 20, 0.05)
    gs = gsd.boundaries(np.array([0.25, 1.0]), 0.05, "obf")[0]
    assert out.set_index("method").loc["group-sequential", "final_boundary"] == pytest.approx(
        gs[-1]
    )
    assert gs[-1] != pytest.approx(gsd.boundaries(np.array([0.5, 1.0]), 0.05, "obf")[0][-1])


def test_summarise_peeking_scales_by_the_standard_error_and_rejects_at_the_boundary():
    z = Z
    # se 2: z = d / 2; repeat 0 reaches exactly 1.96 at look 0 (>= rejects), repeat 1 never
    stats = {
        ("A/A", "rev", "t"): [
            (np.array([2 * z, 0.0]), np.full(2, 2.0)),
            (np.array([1.0, 1.0]), np.full(2, 2.0)),
        ]
    }
    n = (
        summarise_peeking(stats, {}, {"rev": np.array([21, 22])}, 20, 0.05)
        .set_index("method")
        .loc["naive"]
    )
    assert n.rejection_rate == 0.5 and n.mean_stop_day == 1.5
    # the CI d +- 1.96 x 2 at the stop: repeat 0's [0, 4z] holds 0 at its edge; repeat 1 too
    assert n.coverage == 1.0


def test_summarise_peeking_three_looks_judged_at_the_stopping_look():
    # three looks on days 22, 25, 30 (2, 5, 10 after assignment); se 1 everywhere
    truth = {("ret", "t"): (np.array([1.0, 5.0, 9.0]), np.array([0.1, 0.2, 0.3]))}
    stats = {
        ("A/B", "ret", "t"): [
            (np.array([0.0, 5.0, 0.0]), np.ones(3)),
            (np.array([0.0, 0.0, 9.0]), np.ones(3)),
        ]
    }
    looks = {"ret": np.array([22, 25, 30])}
    out = summarise_peeking(stats, truth, looks, 20, 0.05, {"ret"}).set_index("method")
    assert (out.true_effect == 9.0).all() and (out.truth_se == 0.3).all() and (out.looks == 3).all()
    n = out.loc["naive"]
    assert n.mean_stop_day == pytest.approx(7.5) and n.coverage == 1.0  # 5 +- 1.96 holds 5
    cal = gsd.boundaries(np.array([0.2, 0.5, 1.0]), 0.05, "obf")[0]
    assert out.loc["group-sequential", "final_boundary"] == pytest.approx(cal[-1])
    assert out.loc["naive", "final_boundary"] == pytest.approx(Z)


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply")  # inf x se 0
@pytest.mark.filterwarnings("error")
def test_summarise_peeking_without_spread_at_a_look():
    # alpha 0.5 (|z| >= 0.674): a look where one repeat has se 0 reads z = 0 there, not 1
    stats = {
        ("A/A", "rev", "t"): [
            (np.array([1.0, 0.0]), np.array([0.0, 1.0])),
            (np.array([0.0, 0.1]), np.array([1.0, 1.0])),
        ]
    }
    n = (
        summarise_peeking(stats, {}, {"rev": np.array([21, 22])}, 20, 0.5)
        .set_index("method")
        .loc["naive"]
    )
    assert n.rejection_rate == 0.0 and n.mean_stop_day == 2.0
    # se 0 at the last look of the only repeat: the interval is the point d, which is the truth
    stats = {("A/B", "rev", "t"): [(np.array([0.0, 3.0]), np.array([0.0, 0.0]))]}
    stats[("A/B", "rev", "u")] = [(np.array([0.5, 3.0]), np.array([1.0, 0.0]))]
    truth = {
        ("rev", "t"): (np.array([0.0, 3.0]), np.zeros(2)),
        ("rev", "u"): (np.array([0.0, 3.0]), np.zeros(2)),
    }
    out = summarise_peeking(stats, truth, {"rev": np.array([21, 22])}, 20, 0.05)
    assert np.isnan(out["stop_day_se"]).all()
    assert (out["coverage"] == 1.0).all()


@pytest.mark.parametrize("budget", [150, 560])
def test_truth_by_look_of_three_arms_on_a_tight_budget_with_monthly_fees(budget):
    # 150: 3 a month, binding; 560: 11.2 a month, of which the loyalty fee of 10 leaves 1.2
    # to the control arm's run only if that run does not also pay the other arms' fees
    data = scenario(
        arms={"control": "lifecycle", "loyal": "loyal", "same": "lifecycle"},
        metrics={"rev": {"kind": "revenue"}, "cost": {"kind": "cost", "within": 20}},
    )
    data["budget"] = {"per_period": budget}
    data["strategies"]["loyal"] = {
        "type": "stage_focused",
        "plan": {"retention": ["loyalty_programme", "newsletter"], "consideration": ["newsletter"]},
    }
    scn, exp = resolve_experiment(data, customers=40, days=60)
    seeds = [np.random.SeedSequence(3), np.random.SeedSequence(4)]
    looks = look_days(exp, scn.days, 2)
    by_look = truth_by_look(scn, exp, seeds, looks)
    truth = true_effects(scn, exp, seeds).set_index(["metric", "arm"])
    assert sorted(by_look) == [
        ("cost", "loyal"),
        ("cost", "same"),
        ("rev", "loyal"),
        ("rev", "same"),
    ]
    for key, (t, se) in by_look.items():
        assert t[-1] == pytest.approx(truth.loc[key, "true_effect"], abs=1e-12), key
        assert se[-1] == pytest.approx(truth.loc[key, "truth_se"], abs=1e-12), key
    assert by_look[("cost", "same")][0].tolist() == [0.0, 0.0]  # the control's own strategy


def test_look_stats_assigns_from_the_stages_on_the_eve_of_the_start_when_no_arm_acts():
    # an A/A test of "none" among the prospects: the router is never called, so the eligible
    # people are read after the run from the stages at the end of day start - 1
    data = scenario(arms={"control": "none", "treatment": "none"}, eligible=["consideration"])
    data["stages"]["awareness"]["to"]["consideration"] = 0.2
    scn, exp = resolve_experiment(data, customers=60, days=60)
    seed = np.random.SeedSequence(8)
    people, _ = look_stats(scn, exp, seed, look_days(exp, scn.days, 2))
    want = simulate_experiment(scn, exp, seed)[0]
    pd.testing.assert_frame_equal(people, want)
    assert (want["stage_at_start"] == "consideration").all() and len(want) > 0


def test_look_values_purchased_counts_a_purchase_at_a_loss():
    # a coupon order of 3.0 earns 0.5 x 3 - 2 = -0.5: still a purchase
    res = _run(purchases=[(0, 2, 3.0, "coupon"), (1, 4, 6.0, "organic")])
    out = look_values(res, _exp(), "pur", np.array([3, 7]), _log())
    np.testing.assert_allclose(out, [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0]])
    prof = look_values(res, _exp(), "prof", np.array([3, 7]), _log())
    np.testing.assert_allclose(prof, [[-1.5, -1, 0, 0, 0], [-2.5, 2, 0, 0, 0]])


def test_summarise_peeking_covers_a_truth_at_the_end_of_a_zero_width_interval():
    # repeat 0 has no spread at the last look (se 0) while repeat 1 has: the naive boundary is
    # finite there and repeat 0's interval is the point 3.0, the truth: covered
    stats = {
        ("A/B", "rev", "t"): [
            (np.array([0.0, 3.0]), np.array([1.0, 0.0])),
            (np.array([0.0, 0.5]), np.array([1.0, 1.0])),
        ]
    }
    truth = {("rev", "t"): (np.array([0.0, 3.0]), np.zeros(2))}
    out = summarise_peeking(stats, truth, {"rev": np.array([21, 22])}, 20, 0.05)
    assert out.set_index("method").loc["naive", "coverage"] == 0.5
