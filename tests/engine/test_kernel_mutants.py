"""Fast, hand-computed checks of the engine's core (kernel, core, exact, recorder, result).

Tiny inputs whose every number is worked out by hand: the daily step on a few people with
chosen uniforms, timelines of a handful of people whose moves have probability 0 or 1,
Markov chains whose expected shares have a closed form, and the tables and texts a user reads.
They run in well under a second each, so that the ``engine/kernel`` mutation target of
``benchmarks/mutation.py`` can judge each mutant in seconds.
"""

import io
import json
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import integrate

import lifesim
from lifesim._random import stream
from lifesim.config import load_scenario
from lifesim.config.scenario import InverseGamma
from lifesim.engine import Simulation
from lifesim.engine.exact import _mean_spend, expected_path
from lifesim.engine.flows import NoEventLogError
from lifesim.engine.kernel import (
    DayTables,
    Effect,
    Modifiers,
    build_modifiers,
    buy_step,
    transition_step,
    value_factor,
)
from lifesim.engine.recorder import Ledger, Recorder
from lifesim.engine.result import CHURN_CONVENTION
from lifesim.model import StageGraph

A, B, C = 0, 1, 2  # stage codes of the kernel graph below


def _segment(value=10.0, m=1.0, **extra):
    return {
        "propensity": {"dist": "constant", "value": m},
        "order_value": {"dist": "constant", "value": value},
        **extra,
    }


def kernel_graph() -> StageGraph:
    """a -(0.2, scaled, boosted)-> b, a -(0.1, scaled)-> c, b -(0.05)-> c; a buys 0.5 m, b 0.3.

    Edges: 0 = a->b, 1 = a->c (into churned), 2 = b->c (into churned, a purchase).
    """
    scn = load_scenario(
        {
            "name": "k",
            "days": 1,
            "market": {"size": 1, "initial": "a"},
            "stages": {
                "a": {
                    "buy": {"p": 0.5, "propensity": True},
                    "to": {
                        "b": {"p": 0.2, "propensity": True, "boost": True},
                        "c": {"p": 0.1, "propensity": True},
                    },
                },
                "b": {
                    "kind": "customer",
                    "buy": {"p": 0.3},
                    "to": {"c": {"p": 0.05, "purchase": True}},
                },
                "c": {"kind": "churned"},
            },
            "segments": {"all": _segment()},
        }
    )
    return StageGraph.from_scenario(scn)


def tables(g, factor=(1.0, 1.0, 1.0), cause=(0, 0, 0), buy=None) -> DayTables:
    return DayTables.make(
        g,
        np.array(factor, dtype=np.float64),
        np.array(cause, dtype=np.int16),
        None if buy is None else np.array(buy, dtype=np.float64),
    )


def f32(*x):
    return np.array(x, dtype=np.float32)


# == kernel.py =================================================================================
def test_day_tables_split_scaled_and_fixed_probabilities_per_stage():
    g = kernel_graph()
    t = tables(g, factor=(2.0, 1.0, 1.0), cause=(7, 0, 3))
    # a->b boosted twice: 0.4 (scaled); a->c 0.1 (scaled); b->c 0.05 (fixed)
    np.testing.assert_allclose(t.a_edge, [0.4, 0.1, 0.0])
    np.testing.assert_allclose(t.b_edge, [0.0, 0.0, 0.05])
    np.testing.assert_allclose(t.a_all, [0.5, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(t.b_all, [0.0, 0.05, 0.0], rtol=1e-6)
    np.testing.assert_allclose(t.a_churn, [0.1, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(t.b_churn, [0.0, 0.05, 0.0], rtol=1e-6)
    np.testing.assert_allclose(t.buy_a, [0.5, 0.0, 0.0])
    np.testing.assert_allclose(t.buy_b, [0.0, 0.3, 0.0], rtol=1e-6)
    assert t.edge_cause.tolist() == [7, 0, 3]
    for arr in (t.a_all, t.b_all, t.a_churn, t.b_churn, t.buy_a, t.buy_b):
        assert arr.dtype == np.float32 and arr.shape == (3,)
    # per-stage buy factors multiply the purchase probabilities
    t2 = tables(g, buy=(1.5, 2.0, 4.0))
    np.testing.assert_allclose(t2.buy_a, [0.75, 0.0, 0.0])
    np.testing.assert_allclose(t2.buy_b, [0.0, 0.6, 0.0], rtol=1e-6)


def test_effect_live_drops_the_people_who_used_a_single_use_offer():
    idx = np.array([1, 4, 6], dtype=np.int32)
    s = f32(0.5, 0.25, 1.0)
    e = Effect(idx, np.ones(3), 0, 5, strength=s)
    got_idx, got_s = e.live()
    assert got_idx.tolist() == [1, 4, 6] and got_s.tolist() == [0.5, 0.25, 1.0]
    e.used = np.zeros(3, dtype=bool)
    assert e.live()[0].tolist() == [1, 4, 6]
    e.used = np.array([False, True, False])
    got_idx, got_s = e.live()
    assert got_idx.tolist() == [1, 6] and got_s.tolist() == [0.5, 1.0]
    plain = Effect(idx, np.ones(3), 0, 5, used=np.array([True, False, False]))
    got_idx, got_s = plain.live()
    assert got_idx.tolist() == [4, 6] and got_s is None
    assert (plain.cause, plain.buy_factor, plain.value_factor) == (0, 1.0, 1.0)


def test_build_modifiers_without_effects_is_none():
    g = kernel_graph()
    stage = np.array([A, B], dtype=np.int8)
    assert build_modifiers([], stage, g) is None
    used_up = Effect(np.array([0], np.int32), np.full(3, 2.0), 0, 5, used=np.array([True]))
    assert build_modifiers([used_up], stage, g) is None
    # an effect with nobody left does not hide the ones after it
    live = Effect(np.array([1], np.int32), np.full(3, 2.0), 0, 5, cause=3)
    mods = build_modifiers([used_up, live], stage, g)
    assert mods.idx.tolist() == [1] and mods.slot_factor.tolist() == [[2.0, 1.0]]


def test_build_modifiers_multiplies_causes_and_names_the_strongest():
    g = kernel_graph()
    stage = np.array([A, A, B, C, A], dtype=np.int8)
    # cause 2 doubles a->b for people 0, 1 (person 1 at half strength); cause 1 triples a->c
    # and b->c for people 1, 2; cause 3 only changes buying and order value (people 1, 4)
    e2 = Effect(np.array([0, 1], np.int32), np.array([2.0, 1.0, 1.0]), 0, 5, cause=2)
    e2.strength = f32(1.0, 0.5)
    e1 = Effect(np.array([1, 2], np.int32), np.array([1.0, 3.0, 3.0]), 0, 5, cause=1)
    e3 = Effect(
        np.array([1, 4], np.int32),
        np.ones(3),
        0,
        5,
        cause=3,
        buy_factor=3.0,
        value_factor=0.5,
        strength=f32(0.5, 1.0),
    )
    mods = build_modifiers([e2, e1, e3], stage, g)
    assert mods.idx.tolist() == [0, 1, 2, 4]
    # slots of a: (a->b, a->c); of b: (b->c, padding)
    np.testing.assert_allclose(mods.slot_factor, [[2, 1], [1.5, 3], [3, 1], [1, 1]])
    assert mods.slot_cause.tolist() == [[2, -1], [2, 1], [1, -1], [-1, -1]]
    np.testing.assert_allclose(mods.buy_factor, [1, 2, 1, 3])  # 1 + (3 - 1) x strength
    np.testing.assert_allclose(mods.value_factor, [1, 0.75, 1, 0.5])
    assert mods.buy_cause.tolist() == [-1, 3, -1, 3]
    assert mods.slot_cause.dtype == np.int16 and mods.buy_cause.dtype == np.int16


def test_build_modifiers_strongest_cause_wins_a_shared_slot():
    g = kernel_graph()
    stage = np.array([A], dtype=np.int8)
    weak = Effect(np.array([0], np.int32), np.array([2.0, 1.0, 1.0]), 0, 5, cause=4)
    strong = Effect(np.array([0], np.int32), np.array([5.0, 1.0, 1.0]), 0, 5, cause=9)
    for order in ([weak, strong], [strong, weak]):
        mods = build_modifiers(order, stage, g)
        np.testing.assert_allclose(mods.slot_factor, [[10.0, 1.0]])
        assert mods.slot_cause.tolist() == [[9, -1]]
    # buying: the larger buy factor names the cause, whichever cause code is smaller
    b_hi = Effect(np.array([0], np.int32), np.ones(3), 0, 5, cause=1, buy_factor=4.0)
    b_lo = Effect(np.array([0], np.int32), np.ones(3), 0, 5, cause=2, buy_factor=2.0)
    mods = build_modifiers([b_lo, b_hi], stage, g)
    assert mods.buy_factor.tolist() == [8.0] and mods.buy_cause.tolist() == [1]
    b_hi.cause, b_lo.cause = 2, 1
    mods = build_modifiers([b_lo, b_hi], stage, g)
    assert mods.buy_factor.tolist() == [8.0] and mods.buy_cause.tolist() == [2]


def test_repeated_effects_of_one_cause_do_not_stack():
    g = kernel_graph()
    stage = np.array([A, A, A], dtype=np.int8)
    f = np.array([3.0, 1.0, 1.0])
    old = Effect(np.array([0, 1], np.int32), f, 0, 9, cause=5, strength=f32(0.5, 1.0))
    new = Effect(np.array([0, 2], np.int32), f, 2, 9, cause=5, strength=f32(1.0, 0.25))
    mods = build_modifiers([old, new], stage, g)
    # person 0: the stronger entry (1.0) counts, not 1 + 2 x 0.5 times 1 + 2 x 1.0
    np.testing.assert_allclose(mods.slot_factor[:, 0], [3.0, 3.0, 1.5])
    assert mods.slot_cause[:, 0].tolist() == [5, 5, 5]
    mods = build_modifiers([new, old], stage, g)
    np.testing.assert_allclose(mods.slot_factor[:, 0], [3.0, 3.0, 1.5])
    # a duplicate further down the sorted list (person 1 twice, person 0 once)
    a = Effect(np.array([0, 1], np.int32), f, 0, 9, cause=5, strength=f32(1.0, 0.5))
    b = Effect(np.array([1], np.int32), f, 0, 9, cause=5, strength=f32(1.0))
    mods = build_modifiers([a, b], stage, g)
    assert mods.idx.tolist() == [0, 1]
    np.testing.assert_allclose(mods.slot_factor[:, 0], [3.0, 3.0])


def test_value_factor_looks_people_up():
    mods = Modifiers(
        np.array([2, 5]), np.ones((2, 1)), np.zeros((2, 1), np.int16), np.ones(2), f32(0.5, 0.8)
    )
    np.testing.assert_allclose(value_factor(mods, np.array([0, 2, 3, 5, 9])), [1, 0.5, 1, 0.8, 1])
    assert value_factor(None, np.array([1, 2])).tolist() == [1.0, 1.0]
    assert value_factor(mods, np.array([], dtype=np.intp)).tolist() == []
    empty = Modifiers(np.zeros(0, np.intp), np.ones((0, 1)), np.zeros((0, 1)), f32(), f32())
    assert value_factor(empty, np.array([3])).tolist() == [1.0]


def test_transition_step_picks_the_move_with_one_uniform():
    g = kernel_graph()
    t = tables(g, cause=(0, 6, 0))
    stage = np.array([A, A, A, A, B, B, C], dtype=np.int8)
    m = f32(1, 1, 2, 0, 1, 1, 1)
    # a, m=1: a->b below 0.2, a->c in [0.2, 0.3); m=2: 0.4 and 0.2; m=0: never; b: 0.05
    u = f32(0.1, 0.25, 0.5, 0.0, 0.04, 0.06, 0.0)
    who, edge, cause, v = transition_step(g, t, stage, m, u)
    assert who.tolist() == [0, 1, 2, 4]
    assert edge.tolist() == [0, 1, 1, 2]
    assert cause.tolist() == [0, 6, 6, 0]
    # a fresh uniform: where u fell inside the chosen move's interval
    np.testing.assert_allclose(v, [0.5, 0.5, 0.5, 0.8], rtol=1e-6)
    assert cause.dtype == np.int16


def test_transition_step_exact_threshold_and_edges_without_moves():
    g = kernel_graph()
    t = tables(g)
    stage = np.array([A, A], dtype=np.int8)
    # just below and just above 0.3 in float32: the first moves into c, the second stays
    u = np.array([np.nextafter(np.float32(0.3), np.float32(0)), np.float32(0.3) * 1.00001])
    who, edge, _, v = transition_step(g, t, stage, f32(1, 1), u.astype(np.float32))
    assert who.tolist() == [0] and edge.tolist() == [1]
    assert 0.999 < v[0] < 1.0
    # nobody can move: empty answers of the right kinds
    nobody = transition_step(g, t, stage, f32(0, 0), f32(0.5, 0.9))
    assert [len(x) for x in nobody] == [0, 0, 0, 0]
    assert nobody[2].dtype == np.int16
    still = load_scenario(
        {
            "name": "s",
            "market": {"initial": "x"},
            "stages": {"x": {}},
            "segments": {"all": _segment()},
        }
    )
    gs = StageGraph.from_scenario(still)
    ts = DayTables.make(gs, np.ones(0), np.zeros(0, np.int16))
    out = transition_step(gs, ts, np.zeros(2, np.int8), f32(1, 1), f32(0.0, 0.0))
    assert [len(x) for x in out] == [0, 0, 0, 0] and out[2].dtype == np.int16


def test_transition_step_satisfaction_raises_only_churn_moves():
    g = kernel_graph()
    t = tables(g)
    stage = np.array([A, A, A, B, B], dtype=np.int8)
    m = f32(1, 1, 2, 1, 1)
    # sat_g = 1 doubles the moves into churned stages: a: a->b 0.2, a->c 0.2; b: b->c 0.1
    sat = f32(1, 1, 0.5, 1, 0)
    u = f32(0.15, 0.35, 0.65, 0.09, 0.06)
    who, edge, _, v = transition_step(g, t, stage, m, u, sat_g=sat)
    # person 2 (m=2, g=0.5): a->b 0.4, a->c 0.3: 0.65 falls in a->c; person 4 has g=0
    assert who.tolist() == [0, 1, 2, 3] and edge.tolist() == [0, 1, 1, 2]
    np.testing.assert_allclose(v, [0.75, 0.75, 0.25 / 0.3, 0.9], rtol=1e-5)


def test_transition_step_person_factors_rescale_and_name_the_cause():
    g = kernel_graph()
    t = tables(g, cause=(0, 0, 8))
    stage = np.array([A, A, B, A, B], dtype=np.int8)
    m = f32(1, 1, 1, 1, 1)
    mods = Modifiers(
        idx=np.array([0, 1, 2]),
        slot_factor=np.array([[10.0, 1.0], [1.0, 2.0], [4.0, 1.0]]),
        slot_cause=np.array([[3, -1], [-1, 5], [-1, -1]], dtype=np.int16),
        buy_factor=np.ones(3),
        value_factor=np.ones(3),
    )
    # person 0: 2.0 and 0.1 sum above 1 -> rescaled to 2/2.1 and 0.1/2.1
    # person 1: a->b 0.2, a->c 0.2 (cause 5 on a->c); person 2: b->c 0.2, table cause 8
    # person 3: nobody's factor: 0.2 and 0.1; person 4: 0.05
    u = f32(0.96, 0.3, 0.15, 0.25, 0.04)
    who, edge, cause, v = transition_step(g, t, stage, m, u, mods=mods)
    assert who.tolist() == [0, 1, 2, 3, 4]
    assert edge.tolist() == [1, 1, 2, 1, 2]
    assert cause.tolist() == [0, 5, 8, 0, 8]
    np.testing.assert_allclose(v, [(0.96 - 2 / 2.1) * 21, 0.5, 0.75, 0.5, 0.8], rtol=1e-5)
    # the same person factors, a uniform that stays: 0.25 of person 1 (a->b is still 0.2)
    u2 = f32(0.999, 0.45, 0.25, 0.35, 0.9)
    who, edge, cause, _ = transition_step(g, t, stage, m, u2, mods=mods)
    assert who.tolist() == [0] and edge.tolist() == [1] and cause.tolist() == [0]
    u3 = f32(0.5, 0.1, 0.9, 0.9, 0.9)
    who, edge, cause, _ = transition_step(g, t, stage, m, u3, mods=mods)
    assert who.tolist() == [0, 1] and edge.tolist() == [0, 0] and cause.tolist() == [3, 0]


def test_transition_step_with_factors_and_satisfaction_together():
    g = kernel_graph()
    t = tables(g)
    stage = np.array([A, A], dtype=np.int8)
    mods = Modifiers(
        np.array([1]),
        np.array([[1.0, 2.0]]),
        np.array([[-1, 4]], np.int16),
        np.ones(1),
        np.ones(1),
    )
    sat = f32(1.0, 1.0)
    # person 1: a->b 0.2, a->c 0.1 x 2 (satisfaction) x 2 (factor) = 0.4; person 0: 0.2, 0.2
    who, edge, cause, _ = transition_step(g, t, stage, f32(1, 1), f32(0.45, 0.55), sat, mods)
    assert who.tolist() == [1] and edge.tolist() == [1] and cause.tolist() == [4]


def test_buy_step_probabilities_caps_and_offers():
    g = kernel_graph()
    t = tables(g)
    stage = np.array([A, A, B, C, A, B], dtype=np.int8)
    m = f32(1, 0.5, 1, 1, 3, 1)
    # a: 0.5 m (person 4: 1.5, capped at 1); b: 0.3; c: never
    u = f32(0.4, 0.3, 0.15, 0.0, 0.9, 0.31)
    who, v, vf, cause = buy_step(t, stage, m, u)
    assert who.tolist() == [0, 2, 4]
    np.testing.assert_allclose(v, [0.8, 0.5, 0.9], rtol=1e-6)
    assert vf.tolist() == [1.0, 1.0, 1.0] and cause.tolist() == [-1, -1, -1]
    assert cause.dtype == np.int16
    mods = Modifiers(
        idx=np.array([1, 2, 5]),
        slot_factor=np.ones((3, 2)),
        slot_cause=np.full((3, 2), -1, np.int16),
        buy_factor=np.array([2.0, 1.0, 4.0]),
        value_factor=np.array([0.9, 0.5, 0.8]),
        buy_cause=np.array([2, -1, 6], np.int16),
    )
    # person 1: 0.25 x 2 = 0.5 > 0.3; person 5: 0.3 x 4 = 1.2, capped at 1
    who, v, vf, cause = buy_step(t, stage, m, u, mods)
    assert who.tolist() == [0, 1, 2, 4, 5]
    np.testing.assert_allclose(v, [0.8, 0.6, 0.5, 0.9, 0.31], rtol=1e-6)
    np.testing.assert_allclose(vf, [1.0, 0.9, 0.5, 1.0, 0.8])
    assert cause.tolist() == [-1, 2, -1, -1, 6] and cause.dtype == np.int16
    # a uniform of exactly 0 buys with v clipped inside (0, 1)
    who, v, _, _ = buy_step(t, np.array([A], np.int8), f32(1), f32(0.0))
    assert who.tolist() == [0] and 0 < v[0] < 1e-9


# == recorder.py ===============================================================================
def test_recorder_keeps_moves_purchases_counts_and_snapshots():
    rec = Recorder(n_stages=3, days=4)
    rec.on_moves(0, np.array([2, 0]), np.array([0, 0]), np.array([1, 2]), np.array([-1, 3]))
    rec.on_moves(1, np.array([], np.intp), np.array([]), np.array([]), np.array([]))
    rec.on_moves(2, np.array([1]), np.array([1]), np.array([2]), np.array([1]))
    rec.on_purchases(0, np.array([4]), np.array([9.5]), np.array([-1]))
    rec.on_purchases(1, np.array([], np.intp), np.array([]), np.array([]))
    rec.on_purchases(3, np.array([0, 1]), np.array([1.25, 2.0]), np.array([2, 0]))
    rec.on_day_end(0, np.array([1, 2, 1, 1], dtype=np.int8))
    rec.on_day_end(3, np.array([2, 2], dtype=np.int8))
    rec.snapshot(1, np.array([True, False, True]))
    assert rec.moves.tolist() == [2, 0, 1, 0] and rec.moves.dtype == np.int64
    assert rec.counts.dtype == np.int64
    assert rec.counts.tolist() == [[0, 3, 1], [0, 0, 0], [0, 0, 0], [0, 0, 2]]
    assert rec.snapshots[0][0] == 1
    assert np.unpackbits(rec.snapshots[0][1], count=3).tolist() == [1, 0, 1]
    names, causes = ("a", "b", "c"), ("organic", "x", "y", "z")
    peek = rec.peek(names, causes)
    out = rec.frames(names, causes)
    for frames in (peek, out):
        ev = frames["events"]
        assert ev.person.tolist() == [2, 0, 1] and ev.day.tolist() == [0, 0, 2]
        assert ev.from_stage.tolist() == ["a", "a", "b"]
        assert ev.to_stage.tolist() == ["b", "c", "c"]
        assert ev.cause.tolist() == ["organic", "z", "x"]  # -1 (no cause) reads "organic"
        assert list(ev.from_stage.cat.categories) == ["a", "b", "c"]
        pu = frames["purchases"]
        assert pu.person.tolist() == [4, 0, 1] and pu.day.tolist() == [0, 3, 3]
        assert pu.amount.tolist() == [9.5, 1.25, 2.0]
        assert pu.cause.tolist() == ["organic", "y", "organic"]
        assert list(pu.cause.cat.categories) == list(causes)
    assert str(out["events"].person.dtype) == "int32" and str(out["events"].day.dtype) == "int16"
    assert str(out["purchases"].amount.dtype) == "float64"
    sc = out["stage_counts"]
    assert sc.dtypes.tolist() == [np.dtype(np.int64)] * 3  # whole people
    assert sc.index.name == "day" and list(sc.columns) == ["a", "b", "c"]
    assert sc.to_numpy().tolist() == rec.counts.tolist()
    # frames() consumes the buffers; an empty recorder gives empty, typed tables
    for fr in (Recorder(2, 1).peek(("a", "b"), ("organic",)),):
        assert len(fr["events"]) == 0 and len(fr["purchases"]) == 0
        assert str(fr["events"].person.dtype) == "int32"
        assert str(fr["purchases"].amount.dtype) == "float64"
    empty = Recorder(2, 1, events=False)
    empty.on_moves(0, np.array([0]), np.array([0]), np.array([1]), np.array([0]))
    assert empty.moves.tolist() == [1]
    fr = empty.frames(("a", "b"), ("organic",))
    assert len(fr["events"]) == 0 and len(fr["purchases"]) == 0
    assert str(fr["events"].person.dtype) == "int32"
    assert str(fr["purchases"].amount.dtype) == "float64"
    assert list(fr["events"].columns) == ["person", "day", "from_stage", "to_stage", "cause"]
    assert list(fr["purchases"].columns) == ["person", "day", "amount", "cause"]


def test_ledger_budget_periods_charges_and_reservations():
    led = Ledger(10.0)
    assert led.remaining == 10.0 and led.budget == 10.0 and led.period == 0
    assert led.affordable(3.0, 5) == 3  # 10 // 3
    assert led.affordable(2.5, 4) == 4  # exactly the budget
    assert led.affordable(2.5, 9) == 4
    assert led.affordable(0.0, 7) == 7 and led.affordable(-1.0, 7) == 7
    led.charge(1, "mail", "contact", 3, 9.0)
    assert led.remaining == pytest.approx(1.0)
    led.charge(1, "mail", "contact", 0, led.remaining + 1e-6)  # rounding up to 1e-6 is fine
    with pytest.raises(RuntimeError, match="^budget overrun by 'sms' on day 2$"):
        led.charge(2, "sms", "contact", 1, 0.01)
    led.new_period(1, fraction=0.5)
    assert (led.period, led.budget, led.remaining) == (1, 5.0, 5.0)
    led.reserve(4.0)
    assert led.remaining == pytest.approx(1.0)
    with pytest.raises(RuntimeError, match="^budget overrun by a reservation$"):
        led.reserve(1.01)
    led.reserve(0.5)
    led.release(0, 2.0)  # an old period's money does not come back
    assert led.remaining == pytest.approx(0.5)
    led.release(1, 2.0)
    assert led.remaining == pytest.approx(2.5)
    led.reserve(led.remaining + 1e-6)  # rounding up to 1e-6 is tolerated, exactly
    assert led.remaining == pytest.approx(-1e-6)
    led.release(1, 2.0)
    led.spend_reserved(3, 0, "coupon", "redemption", 2, 4.0)
    again = Ledger(10.0)
    again.new_period(4)  # a full period by default
    assert (again.period, again.budget, again.remaining) == (4, 10.0, 10.0)
    assert led.remaining == pytest.approx(2.0 - 1e-6)  # paid from the reservation
    df = led.to_pandas()
    assert list(df.columns) == ["day", "period", "item", "kind", "units", "cost"]
    assert df.values.tolist() == [
        [1, 0, "mail", "contact", 3, 9.0],
        [1, 0, "mail", "contact", 0, pytest.approx(1.0 + 1e-6)],
        [3, 0, "coupon", "redemption", 2, 4.0],
    ]
    assert [str(df[c].dtype) for c in ("day", "period", "units", "cost")] == [
        "int32",
        "int32",
        "int64",
        "float64",
    ]
    unlimited = Ledger(None)
    assert unlimited.remaining == np.inf and unlimited.affordable(1e9, 12) == 12
    unlimited.new_period(3, 0.25)
    assert unlimited.budget == np.inf and unlimited.remaining == np.inf
    unlimited.charge(0, "x", "contact", 1, 1e12)
    unlimited.release(3, 5.0)
    assert unlimited.remaining == np.inf
    assert Ledger(None).to_pandas().shape == (0, 6)


# == exact.py ==================================================================================
def _chain_scenario(**extra):
    scn = {
        "name": "ex",
        "days": 6,
        "market": {"size": 10, "initial": "a"},
        "stages": {
            "a": {"to": {"b": {"p": 0.1, "boost": True}}},
            "b": {"kind": "customer", "buy": {"p": 0.2}, "to": {"c": 0.5}},
            "c": {"kind": "churned"},
        },
        "segments": {"all": _segment(value=10.0)},
    }
    scn.update(extra)
    return scn


def test_expected_path_of_a_chain_has_the_closed_form():
    ex = expected_path(_chain_scenario())
    days = np.arange(6)
    a = 0.9 ** (days + 1)
    # b: in b at the end of day d = sum_k 0.9^k 0.1 0.5^(d - k), k = 0..d
    b = np.array([sum(0.9**k * 0.1 * 0.5 ** (d - k) for k in range(d + 1)) for d in days])
    np.testing.assert_allclose(ex.shares["a"], a, rtol=1e-12)
    np.testing.assert_allclose(ex.shares["b"], b, rtol=1e-12)
    np.testing.assert_allclose(ex.shares["c"], 1 - a - b, atol=1e-15)
    assert list(ex.shares.columns) == ["a", "b", "c"] and ex.shares.index.name == "day"
    # orders on day d come from those in b at its start (the end of day d - 1)
    orders = 0.2 * np.concatenate([[0.0], b[:-1]])
    np.testing.assert_allclose(ex.orders, orders, rtol=1e-12)
    assert ex.revenue_per_person == pytest.approx(10.0 * orders.sum(), rel=1e-12)


def test_expected_path_integrates_propensity_segments_and_campaigns():
    seg_a = {
        "share": 0.25,
        "propensity": {"dist": "uniform", "low": 0.0, "high": 2.0},
        "order_value": {"dist": "uniform", "low": 10.0, "high": 30.0},
        "non_target": 0.2,
    }
    seg_b = _segment(value=5.0, m=1.0) | {"share": 0.75}
    scn = _chain_scenario(
        days=4,
        market={"size": 10, "initial": {"a": 0.5, "c": 0.5}},
        segments={"sa": seg_a, "sb": seg_b},
        campaigns={"push": {"every": 2, "start": 1, "duration": 1, "targets": ["a"], "boost": 3}},
    )
    scn["stages"]["a"]["to"]["b"]["propensity"] = True
    scn["stages"]["b"]["buy"] = {"p": 0.2, "propensity": True}
    ex = expected_path(scn)
    # staying in a through day d: prod of (1 - 0.1 m f), f = 1, 3, 1, 3 (sends on days 1, 3);
    # its mean over m ~ U(0, 2) is the exact integral of that polynomial over [0, 2] / 2
    boost = [1, 3, 1, 3]
    want = []
    for d in range(4):
        poly = np.polynomial.Polynomial([1.0])
        for f in boost[: d + 1]:
            poly *= np.polynomial.Polynomial([1.0, -0.1 * f])
        in_sa = (poly.integ()(2.0) - poly.integ()(0.0)) / 2
        in_sb = poly(1.0)
        want.append(0.5 * (0.25 * (0.8 * in_sa + 0.2) + 0.75 * in_sb))
    np.testing.assert_allclose(ex.shares["a"], want, rtol=1e-6)
    assert ex.shares["c"].iloc[0] == pytest.approx(0.5)  # nobody reached b before day 1 ended
    # orders on day 1: in b after day 0 (0.1 m of a's half) times 0.2 m; E[m^2] = 4/3 on U(0, 2)
    o_sa = 0.5 * 0.25 * 0.8 * 0.02 * 4 / 3
    o_sb = 0.5 * 0.75 * 0.02
    assert ex.orders[0] == 0.0
    assert ex.orders[1] == pytest.approx(o_sa + o_sb, rel=1e-6)
    # two days: the orders of day 1 at each segment's mean order value (20 and 5)
    two = expected_path(scn | {"days": 2})
    assert two.revenue_per_person == pytest.approx(20 * o_sa + 5 * o_sb, rel=1e-6)
    np.testing.assert_allclose(two.shares.to_numpy(), ex.shares.to_numpy()[:2], rtol=1e-12)


def test_expected_path_campaign_rotation_stop_and_duration():
    # every other day from day 1, duration 2, stop at 4: sends on days 1 and 3 alternate
    # between a and b (b -> c is not boosted: the send to b changes nothing)
    camp = {"every": 2, "start": 1, "stop": 4, "duration": 2, "targets": ["a", "b"], "boost": 2}
    ex = expected_path(_chain_scenario(days=6, campaigns={"push": camp}))
    stay = np.cumprod([1 - 0.1 * f for f in (1, 2, 2, 1, 1, 1)])
    np.testing.assert_allclose(ex.shares["a"], stay, rtol=1e-12)
    # a stop beyond the horizon, sends on days 0, 2, 4, 6 lasting 3 days: where two sends
    # overlap (days 2, 4 and 6) their boosts multiply (0.1 x 4), as in the simulator
    camp = {"every": 2, "start": 0, "stop": 99, "duration": 3, "targets": ["a"], "boost": 2}
    ex = expected_path(_chain_scenario(days=7, campaigns={"push": camp}))
    stay = np.cumprod([0.8, 0.8, 0.6, 0.8, 0.6, 0.8, 0.6])
    np.testing.assert_allclose(ex.shares["a"], stay, rtol=1e-12)
    camp = {"every": 3, "start": 0, "duration": 1, "targets": ["a"], "boost": 2}
    ex = expected_path(_chain_scenario(days=4, campaigns={"push": camp}))
    np.testing.assert_allclose(ex.shares["a"], np.cumprod([0.8, 0.9, 0.9, 0.8]), rtol=1e-12)


def test_expected_path_refuses_dependent_people():
    msg = "^expected_path needs independent people: no support, no churn_weight$"
    with pytest.raises(ValueError, match=msg):
        expected_path(_chain_scenario(satisfaction={"churn_weight": 0.5}))
    with pytest.raises(ValueError, match=msg):
        expected_path(_chain_scenario(support={"agents": 1, "ticket_p": {"b": 0.1}}))
    assert len(expected_path(_chain_scenario(satisfaction={"churn_weight": 0.0})).orders) == 6


# == core.py: exact timelines of a handful of people ===========================================
TINY, SURE = 1e-12, 1e13  # a person factor SURE makes a TINY move certain (rescaled to 1)
CAMP = 1e12  # a campaign boost that makes a TINY move certain (validated: p x boost <= 1)


def chain(**extra) -> dict:
    """a -(1)-> b -(TINY, boosted)-> c: everyone is a customer in b from the end of day 0."""
    scn = {
        "name": "chain",
        "days": 6,
        "market": {"size": 3, "initial": "a"},
        "stages": {
            "a": {"to": {"b": {"p": 1.0}}},
            "b": {"kind": "customer", "buy": {"p": 1.0}, "to": {"c": {"p": TINY, "boost": True}}},
            "c": {"kind": "churned"},
        },
        "segments": {"all": _segment(value=10.0)},
    }
    scn.update(extra)
    return scn


def _moves(res):
    ev = res.events.sort_values(["person", "day"], kind="stable")
    return [
        (r.person, r.day, r.from_stage, r.to_stage, r.cause) for r in ev.itertuples(index=False)
    ]


def _push(**kw):
    return {
        "push": {"every": 100, "start": 0, "duration": 1, "targets": ["b"], "boost": CAMP, **kw}
    }


@pytest.mark.parametrize(
    ("camp", "churn_day"),
    [
        ({"start": 0, "duration": 1}, None),  # on day 0 nobody is in b yet
        ({"start": 0, "duration": 2}, 1),  # the boost lasts days 0 and 1
        ({"start": 3, "duration": 1}, 3),
        ({"start": 1, "every": 1, "targets": ["a", "b"]}, 2),  # day 1 to a, day 2 to b
        ({"start": 1, "every": 1, "targets": ["b", "a"]}, 1),
        ({"start": 1, "every": 1, "stop": 2, "targets": ["a", "b"]}, None),  # no send on 2
        ({"start": 4, "every": 1, "stop": 99, "targets": ["a", "a", "b"]}, None),  # day 6 is out
        ({"start": 3, "every": 1, "stop": 99, "targets": ["a", "a", "b"]}, 5),
    ],
)
def test_campaign_calendar_start_duration_rotation_and_stop(camp, churn_day):
    res = lifesim.simulate(chain(campaigns=_push(**camp)), seed=0)
    want = []
    for p in range(3):
        want.append((p, 0, "a", "b", "organic"))
        if churn_day is not None:
            want.append((p, churn_day, "b", "c", "push"))
    assert _moves(res) == want
    last = churn_day if churn_day is not None else 6
    # in b from day 1, buying every day until (and including) the day they leave
    assert (
        res.purchases.groupby("person").day.apply(list).tolist()
        == [list(range(1, min(last, 5) + 1))] * 3
    )
    assert res.people.first_customer_day.tolist() == [0, 0, 0]
    assert res.people.entered_day.tolist() == [churn_day if churn_day is not None else 0] * 3


def test_budget_periods_prorate_the_last_one_and_limit_a_campaign():
    camp = {"every": 1, "start": 0, "duration": 1, "targets": ["a"], "boost": 1.0}
    scn = {
        "name": "bud",
        "days": 25,
        "market": {"size": 20, "initial": "a"},
        "stages": {"a": {"kind": "customer", "to": {"b": {"p": 0.0, "boost": True}}}, "b": {}},
        "segments": {"all": _segment()},
        "campaigns": {"mail": camp | {"cost_per_contact": 1.0}},
        "budget": {"per_period": 10.0, "period_days": 10},
    }
    res = lifesim.simulate(scn, seed=1)
    led = res.ledger
    assert led.day.tolist() == list(range(25))
    assert led.period.tolist() == [d // 10 for d in range(25)]
    # 10 of the 20 on the first day of each period; the stub period (5 of 10 days) gets 5
    units = {0: 10, 10: 10, 20: 5}
    assert led.units.tolist() == [units.get(d, 0) for d in range(25)]
    assert led.cost.tolist() == [float(units.get(d, 0)) for d in range(25)]
    assert (led.item == "mail").all() and (led.kind == "contact").all()
    assert res.marketing_cost == 25.0
    # a customer snapshot at the end of every budget period, the stub one included
    snaps = res.customer_snapshots
    assert list(snaps.columns) == [9, 19, 24] and snaps.index.name == "person"
    assert snaps.shape == (20, 3) and snaps.to_numpy().all()


def test_a_campaign_the_budget_cannot_pay_for_reaches_only_some():
    camp = {"every": 10, "start": 1, "duration": 1, "targets": ["b"], "boost": CAMP}
    scn = chain(
        days=20,
        campaigns={"push": camp | {"cost_per_contact": 2.0}},
        budget={"per_period": 5.0, "period_days": 10},
        market={"size": 5, "initial": "a"},
    )
    res = lifesim.simulate(scn, seed=2)
    moved = res.events[res.events.to_stage == "c"]
    # day 1: 5 // 2 = 2 reached; day 11 (a new period): again 2 of the 3 left
    assert moved.groupby("day").size().to_dict() == {1: 2, 11: 2}
    assert (moved.cause == "push").all()
    led = res.ledger
    assert led[led.units > 0][["day", "units", "cost"]].values.tolist() == [[1, 2, 4], [11, 2, 4]]
    # the stub period (days 10-12) has 3/10 of the budget: 1.5 pays for no contact at 2.0
    short = lifesim.simulate(scn | {"days": 13}, seed=2)
    moved = short.events[short.events.to_stage == "c"]
    assert moved.groupby("day").size().to_dict() == {1: 2}
    # money for exactly one contact: one person reached
    one = lifesim.simulate(scn | {"budget": {"per_period": 3.0, "period_days": 10}}, seed=2)
    moved = one.events[one.events.to_stage == "c"]
    assert moved.groupby("day").size().to_dict() == {1: 1, 11: 1}


def test_new_customers_are_stamped_once_with_the_cause_that_won_them():
    scn = {
        "name": "acq",
        "days": 6,
        "market": {"size": 4, "initial": {"a": 0.5, "b": 0.5}},
        "stages": {
            "a": {"to": {"b": {"p": TINY, "boost": True}}},
            # b and c swap every day: nobody becomes a *new* customer twice
            "b": {"kind": "customer", "to": {"c": 1.0}},
            "c": {"kind": "churned", "to": {"b": 1.0}},
        },
        "segments": {"all": _segment()},
        "campaigns": {
            "win": {"every": 100, "start": 2, "duration": 1, "targets": ["a"], "boost": CAMP}
        },
    }
    res = lifesim.simulate(scn, seed=5)
    ppl = res.people
    init_a = (ppl.initial_stage == "a").to_numpy()
    assert 0 < init_a.sum() < 4  # both kinds of start (seed 5)
    fcd = ppl.first_customer_day.to_numpy()
    acq = ppl.acquired_by.astype(object).to_numpy()
    for p in range(4):
        if init_a[p]:
            assert fcd[p] == 2 and acq[p] == "win"
        else:
            assert fcd[p] == 0 and pd.isna(acq[p])  # a customer from the start
    assert list(ppl.acquired_by.cat.categories) == ["organic", "win"]
    # the event log is the same story: people from a move on day 2 with cause "win"
    ev = res.events
    assert sorted(ev[ev.from_stage == "a"].person) == list(np.flatnonzero(init_a))
    assert (ev[ev.from_stage == "a"].day == 2).all()
    # and the churn rate is the share of ever-customers in c at the end
    assert res.churn_rate == pytest.approx((ppl.stage == "c").mean())


def test_the_segments_order_values_and_the_day_hooks():
    scn = chain(
        days=3,
        market={"size": 40, "initial": "b"},
        segments={
            "low": _segment(value=10.0) | {"share": 0.5},
            "high": _segment(value=25.0) | {"share": 0.5},
        },
    )
    ranged = scn | {
        "segments": {
            "low": _segment()
            | {"share": 0.5, "order_value": {"dist": "uniform", "low": 1, "high": 2}},
            "high": _segment()
            | {"share": 0.5, "order_value": {"dist": "uniform", "low": 5, "high": 9}},
        }
    }
    res = lifesim.simulate(ranged, seed=3)
    seg = res.people.set_index("person").segment
    low = seg[res.purchases.person].to_numpy() == "low"
    amount = res.purchases.amount.to_numpy()
    assert low.any() and (~low).any() and len(np.unique(amount)) == len(amount)
    assert ((amount[low] > 1) & (amount[low] < 2)).all()
    assert ((amount[~low] > 5) & (amount[~low] < 9)).all()
    calls, hooked = [], []
    sim = Simulation(scn, seed=3, progress=lambda d, n: calls.append((d, n)))
    sim.on_day(hooked.append)
    res = sim.run()
    assert calls == [(1, 3), (2, 3), (3, 3)] and hooked == [0, 1, 2]
    seg = res.people.set_index("person").segment
    value = {"low": 10.0, "high": 25.0}
    assert set(seg) == {"low", "high"}
    pu = res.purchases
    assert len(pu) == 40 * 3
    assert pu.amount.tolist() == [value[seg[p]] for p in pu.person]
    assert res.people.revenue.tolist() == [3 * value[s] for s in seg]
    assert res.people.purchases.tolist() == [3] * 40
    assert res.revenue_total == pytest.approx(3 * sum(value[s] for s in seg))
    assert sim.elapsed > 0 and res.elapsed_s == sim.elapsed


def test_a_hook_can_boost_a_stage_and_register_a_cause():
    sim = Simulation(chain(days=5), seed=0)
    assert sim.cause_code("organic") == 0
    code = sim.cause_code("nudge")
    assert code == 1 and sim.cause_code("nudge") == 1 and sim.causes == ["organic", "nudge"]

    def hook(day):
        if day == 2:
            sim.boost_stage(1, CAMP, 3, 4, code)  # b's boosted moves, on day 3 only

    sim.on_day(hook)
    res = sim.run()
    assert _moves(res) == [
        m for p in range(3) for m in [(p, 0, "a", "b", "organic"), (p, 3, "b", "c", "nudge")]
    ]


def test_effects_start_and_expire_on_their_days():
    sim = Simulation(chain(days=6, market={"size": 3, "initial": "b"}), seed=0)
    code = sim.cause_code("one")
    sure = np.array([1.0, SURE])  # edges: a->b, b->c
    sim.add_effect(Effect(np.array([0], np.int32), sure, 2, 3, code))  # day 2 only
    sim.add_effect(Effect(np.array([1], np.int32), sure, 0, 1, code))  # day 0 only
    sim.add_effect(Effect(np.array([], np.int32), sure, 0, 6, code))  # nobody: ignored
    assert len(sim.effects) == 2
    res = sim.run()
    assert _moves(res) == [(0, 2, "b", "c", "one"), (1, 0, "b", "c", "one")]
    # purchases come before moves: person 0 buys on days 0-2, person 1 on day 0, person 2 always
    assert res.purchases.groupby("person").size().tolist() == [3, 1, 6]


def test_satisfaction_weight_multiplies_moves_into_churn():
    scn = chain(days=2, market={"size": 3, "initial": "b"})
    scn["stages"]["b"]["to"]["c"] = {"p": 0.5}
    scn["segments"]["all"]["satisfaction"] = 0.0
    # weight 1 and satisfaction 0 double 0.5: a sure move on day 0
    res = lifesim.simulate(scn | {"satisfaction": {"churn_weight": 1.0}}, seed=0)
    assert _moves(res) == [(p, 0, "b", "c", "organic") for p in range(3)]
    scn["segments"]["all"]["satisfaction"] = 1.0  # fully satisfied: no extra churn
    scn["stages"]["b"]["to"]["c"] = {"p": 0.0}
    res = lifesim.simulate(scn | {"satisfaction": {"churn_weight": 1.0}}, seed=0)
    assert len(res.events) == 0


def test_support_tickets_and_the_staffs_resolve_effect():
    scn = {
        "name": "sup",
        "days": 5,
        "market": {"size": 3, "initial": "a"},
        "stages": {"a": {"to": {"b": {"p": TINY}}}, "b": {"kind": "customer"}},
        "segments": {"all": _segment()},
        "support": {
            "agents": 1,
            "tickets_per_agent_per_day": 2,
            "ticket_p": {"a": 1.0},
            "wait_penalty": 0.1,
            "resolve_bonus": 0.0,
            "resolve_effect": {"a->b": SURE},
            "resolve_effect_days": 1,
            "name": "sales",
        },
    }
    res = lifesim.simulate(scn, seed=0)
    # day 0: everyone in a opens a ticket; one agent takes a batch of 2 a day: people 0 and 1
    # are resolved at 1.5 and moved on by the staff on day 1, person 2 a day later
    assert _moves(res) == [
        (0, 1, "a", "b", "sales"),
        (1, 1, "a", "b", "sales"),
        (2, 2, "a", "b", "sales"),
    ]
    assert list(res.support.columns) == ["day", "opened", "resolved", "backlog"]
    assert res.support.values.tolist() == [
        [0, 3, 0, 3],
        [1, 4, 2, 2],
        [2, 4, 3, 1],
        [3, 4, 4, 0],
        [4, 4, 4, 0],
    ]
    assert res.people.acquired_by.tolist() == ["sales"] * 3
    # an effect that would outlast the horizon is cut at it
    res = lifesim.simulate(scn | {"days": 2}, seed=0)
    assert _moves(res) == [(0, 1, "a", "b", "sales"), (1, 1, "a", "b", "sales")]


# == result.py: the tables, figures and texts a user reads =====================================
class _Mail:
    """Contact people 0 and 1 with ``nl`` on day 1 (they are in b from the end of day 0)."""

    name = "mailer"

    def tactics(self):
        return {"nl"}

    def decide(self, view):
        if view.day == 1:
            view.contact("nl", np.array([0, 1]))


def _result_scenario():
    """4 people start in a and become customers in b on day 0; b buys every day.

    People 0 and 1 churn on day 1 (an ``nl`` contact makes b -> c certain).
    """
    return {
        "name": "views",
        "days": 3,
        "seed": 17,
        "market": {"size": 4, "initial": "a"},
        "stages": {
            "a": {"to": {"b": 1.0}},
            "b": {"kind": "customer", "buy": {"p": 1.0}, "to": {"c": TINY}},
            "c": {"kind": "churned"},
        },
        "segments": {"all": _segment(value=12.5) | {"satisfaction": 0.5}},
        "tactics": {
            "nl": {"stages": ["b"], "effect": {"b->c": SURE}, "cost": {"per_contact": 1.5}},
            "ad": {"stages": ["a"], "channel": "email", "group": "acquisition"},
        },
    }


def test_result_tables_and_headline_figures():
    scn = _result_scenario()
    res = lifesim.simulate(scn, strategy=_Mail())  # the scenario's seed 17
    assert (res.seed, res.customers, res.days, res.strategy) == (17, 4, 3, "mailer")
    assert res.stage_names == ("a", "b", "c")
    assert res.stage_kinds == ("prospect", "customer", "churned")
    assert res.scenario.name == "views" and res.scenario.days == 3
    # day 0: everyone a -> b; day 1: 0 and 1 (contacted that day) b -> c
    ev = res.events
    moved_c = ev[ev.to_stage == "c"]
    churned = sorted(moved_c.person)
    assert churned == [0, 1] and (moved_c.cause == "nl").all()
    counts = res.stage_counts
    assert res.final_counts == {"a": 0, "b": 2, "c": 2}
    assert counts.iloc[-1].tolist() == [0, 2, 2] and (counts.sum(axis=1) == 4).all()
    n_orders = 6  # 0 and 1 buy on day 1 only (then churn), 2 and 3 on days 1 and 2
    assert len(res.purchases) == n_orders == int(res.people.purchases.sum())
    assert res.revenue_total == pytest.approx(12.5 * n_orders)
    assert res.marketing_cost == pytest.approx(3.0)  # 2 contacts x 1.5
    assert res.churn_rate == pytest.approx(0.5)  # 2 of the 4 customers ever are in c
    tac = res.tactics.set_index("tactic")
    assert list(res.tactics.columns) == [
        "tactic",
        "channel",
        "group",
        "mode",
        "used",
        "contacts",
        "issued",
        "redeemed",
        "referrals",
        "cost",
    ]
    assert tac.loc["nl", ["channel", "used", "contacts", "cost"]].tolist() == ["nl", True, 2, 3.0]
    assert tac.loc["ad", ["channel", "group", "used", "contacts", "cost"]].tolist() == [
        "email",
        "acquisition",
        False,
        0,
        0.0,
    ]
    assert tac["mode"].tolist() == ["contact", "contact"]
    assert res.support is None
    # a run without tactics still has the table's columns (an empty table)
    bare = lifesim.simulate(chain(days=1), seed=0).tactics
    assert len(bare) == 0 and list(bare.columns) == list(res.tactics.columns)
    # people: satisfaction 0.5 -> an NPS score of 5 give or take the survey noise, 0..10
    nps = res.people.nps_score
    assert nps.dtype == np.int8 and nps.between(0, 10).all()
    assert pd.isna(res.people.acquired_by.astype(object)).sum() == 0
    assert res.people.acquired_by.tolist() == ["organic"] * 4
    # the started_at stamp is an ISO time to the second
    assert len(res.started_at) == len("2026-01-01T00:00:00+00:00") and "T" in res.started_at
    # to_pandas is a copy of the daily counts
    df = res.to_pandas()
    pd.testing.assert_frame_equal(df, res.stage_counts)
    df.iloc[0, 0] = -1
    assert res.stage_counts.iloc[0, 0] != -1


def test_nps_scores_are_satisfaction_plus_survey_noise(global_seed):
    scn = chain(days=1, market={"size": 4000, "initial": "b"})
    scn["segments"]["all"]["satisfaction"] = 0.5
    res = lifesim.simulate(scn, seed=global_seed)
    x = res.people.nps_score.to_numpy().astype(float)
    # rint(5 + N(0, 1.5^2)) clipped to [0, 10]: mean 5, sd sqrt(1.5^2 + 1/12) = 1.528 (the
    # clipping at 3.3 sd changes neither visibly); five standard errors either way
    n = len(x)
    assert abs(x.mean() - 5.0) < 5 * 1.528 / np.sqrt(n)
    assert abs(x.std(ddof=1) - 1.528) < 5 * 1.528 / np.sqrt(2 * n)
    # everyone satisfied: scores pile up at 10, never above
    scn["segments"]["all"]["satisfaction"] = 1.0
    top = lifesim.simulate(scn, seed=global_seed).people.nps_score
    assert top.max() == 10 and (top == 10).mean() > 0.45


def test_to_dict_stage_table_and_summary_state_the_numbers():
    res = lifesim.simulate(_result_scenario(), strategy=_Mail())
    d = res.to_dict()
    n_orders = 6  # as in the test above
    want = {
        "scenario": "views",
        "strategy": "mailer",
        "seed": 17,
        "customers": 4,
        "days": 3,
        "stage_counts": {"a": 0, "b": 2, "c": 2},
        "stage_shares": {"a": 0.0, "b": 0.5, "c": 0.5},
        "revenue_total": 12.5 * n_orders,
        "purchases": n_orders,
        "moves": 6,
        "marketing_cost": 3.0,
        "churn_rate": 0.5,
        "churn_rate_convention": CHURN_CONVENTION,
        "ever_customers": 4,
        "elapsed_s": round(res.elapsed_s, 3),
        "lifesim_version": lifesim.__version__,
    }
    # key by key: a failing whole-dict assert makes pytest diff long strings for minutes
    assert sorted(d) == sorted(want)
    for key, value in want.items():
        assert d[key] == value, key
    assert json.loads(json.dumps(d)) == d
    table = res.stage_table()
    assert table.index.name == "stage" and list(table.index) == ["a", "b", "c"]
    assert table.to_dict("list") == {
        "kind": ["prospect", "customer", "churned"],
        "people": [0, 2, 2],
        "share": [0.0, 0.5, 0.5],
    }
    lines = res.summary().splitlines()
    want = [
        "lifesim run of 'views': 4 people x 3 days, seed 17, strategy 'mailer'",
        "",
        "stage           kind            people    share",
        "a               prospect             0    0.00%",
        "b               customer             2   50.00%",
        "c               churned              2   50.00%",
        "",
        f"revenue          {12.5 * n_orders:,.2f} from {n_orders} orders",
        "marketing cost   3.00",
        f"churn rate       50.00% ({CHURN_CONVENTION})",
        "customers ever   4",
    ]
    assert len(lines) == len(want)
    for got, line in zip(lines, want, strict=True):
        assert got == line
    assert repr(res) == "SimulationResult(scenario='views', customers=4, days=3, seed=17)"
    html = res._repr_html_()
    assert html.startswith(
        "<div><p><b>lifesim run of &#x27;views&#x27;: 4 people x 3 days, seed 17</b></p><table"
    )
    assert "<td>customer</td>" in html and "<td>0.5000</td>" in html
    assert html.endswith(
        f"<p>revenue {12.5 * n_orders:,.2f}; marketing cost 3.00; churn rate 50.00% "
        "<small>(cohort churn: of the people who were customers at any time in the horizon "
        "(reached a &#x27;customer&#x27; stage), the share in a &#x27;churned&#x27; stage at "
        "the end)</small></p></div>"
    )


def test_big_numbers_and_no_customers_in_the_texts():
    scn = chain(days=1, market={"size": 1234, "initial": "a"})
    scn["stages"]["a"]["to"]["b"] = 0.0  # nobody ever becomes a customer
    scn["stages"]["a"]["buy"] = {"p": 1.0}
    scn["segments"]["all"]["order_value"]["value"] = 1000.0
    res = lifesim.simulate(scn, seed=4)
    assert np.isnan(res.churn_rate)
    d = res.to_dict()
    assert d["churn_rate"] is None and d["ever_customers"] == 0 and d["moves"] == 0
    assert d["marketing_cost"] == 0.0 and d["revenue_total"] == 1_234_000.0
    lines = res.summary().splitlines()
    assert lines[0] == "lifesim run of 'chain': 1,234 people x 1 days, seed 4, strategy 'none'"
    assert lines[3] == "a               prospect         1,234  100.00%"
    assert lines[7] == "revenue          1,234,000.00 from 1,234 orders"
    assert lines[9] == f"churn rate       n/a (nobody became a customer) ({CHURN_CONVENTION})"
    assert lines[10] == "customers ever   0"
    html = res._repr_html_()
    assert "1,234 people" in html and "revenue 1,234,000.00;" in html
    assert "churn rate n/a <small>" in html


def test_churn_rate_counts_only_people_who_were_customers():
    # 2 of 3 start as customers in b and churn to c on day 0; the prospect in a never buys
    scn = chain(days=2, market={"size": 3, "initial": {"a": 0.4, "b": 0.6}})
    scn["stages"]["a"]["to"]["b"] = 0.0
    scn["stages"]["b"]["to"]["c"] = 1.0
    scn["stages"]["c"]["to"] = {"a": 1.0}  # a churned person who goes back to a prospect
    res = lifesim.simulate(scn, seed=8)
    init = res.people.initial_stage.tolist()
    ever = init.count("b")
    assert 0 < ever < 3  # both kinds of start (seed 8)
    # the churned went on to a: none of the ever-customers is in c at the end
    assert res.churn_rate == 0.0
    assert res.to_dict()["ever_customers"] == ever
    one_day = lifesim.simulate(scn | {"days": 1}, seed=8)
    assert one_day.churn_rate == 1.0


def test_save_writes_the_run_folder(tmp_path):
    res = lifesim.simulate(_result_scenario(), strategy=_Mail())
    out = res.save(tmp_path / "run")
    assert out == tmp_path / "run"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    want = {
        "lifesim_version": lifesim.__version__,
        "seed": 17,
        "started_at": res.started_at,
        "elapsed_s": res.elapsed_s,
        "customers": 4,
        "days": 3,
        "strategy": "mailer",
        "tables": ["events", "purchases", "stage_counts", "people", "ledger", "tactics", "flows"],
    }
    # the run-folder helper adds its own keys (files, command, versions); these are the result's
    for key, value in want.items():
        assert manifest[key] == value, key
    assert json.loads((out / "summary.json").read_text(encoding="utf-8")) == res.to_dict()
    assert lifesim.load_scenario(out / "scenario.yaml") == res.scenario
    for name in ("events", "purchases", "people", "ledger", "tactics"):
        back = pd.read_parquet(out / f"{name}.parquet")
        want = getattr(res, name)
        assert back.shape == want.shape and list(back.columns) == list(want.columns), name
    sc = pd.read_parquet(out / "stage_counts.parquet")
    assert list(sc.columns) == ["day", "a", "b", "c"] and sc.day.tolist() == [0, 1, 2]
    assert not (out / "support.parquet").exists()
    with pytest.raises(lifesim.LifesimError):
        res.save(out)  # not overwritten without overwrite=True
    with pytest.raises(lifesim.LifesimError, match="would replace the input"):
        res.save(out, overwrite=True, inputs=[out / "scenario.yaml"])
    res.save(out, overwrite=True)
    # the JSON files are indented for people who open them; no reader sees a pandas index
    text = (out / "manifest.json").read_text(encoding="utf-8")
    assert text.startswith('{\n  "lifesim_version": ')
    text = (out / "summary.json").read_text(encoding="utf-8")
    assert text.startswith('{\n  "scenario": "views",\n  "strategy": ')
    for name in ("events", "purchases", "stage_counts", "people", "ledger", "tactics", "flows"):
        cols = pq.read_schema(out / f"{name}.parquet").names
        assert not [c for c in cols if c.startswith("__index")], name
    flows = pd.read_parquet(out / "flows.parquet")
    assert list(flows.columns) == ["from_stage", "to_stage", "cause", "moves"]
    assert flows.moves.tolist() == res.flows().moves.tolist() and flows.moves.sum() > 0
    # with support: its table is written and listed
    sup = lifesim.simulate(
        chain(days=2, support={"agents": 1, "ticket_p": {"b": 0.5}}), seed=1
    ).save(tmp_path / "sup")
    assert json.loads((sup / "manifest.json").read_text())["tables"][-1] == "support"
    assert pd.read_parquet(sup / "support.parquet").day.tolist() == [0, 1]
    assert pq.read_schema(sup / "support.parquet").names == ["day", "opened", "resolved", "backlog"]


def _dropout_scenario(dropout, rho=0.0, scaled=True):
    return {
        "name": "drop",
        "days": 2,
        "market": {"size": 10, "initial": "b"},
        "stages": {
            "b": {
                "kind": "customer",
                "buy": {"p": 0.5},
                "to": {"c": {"p": 0.2, "propensity": scaled}},
            },
            "c": {"kind": "churned"},
        },
        "segments": {
            "all": {
                "propensity": {"dist": "uniform", "low": 0.0, "high": 2.0},
                "order_value": {"dist": "constant", "value": 10.0},
                "non_target": 0.25,
                "dropout": dropout,
                "dropout_correlation": rho,
            }
        },
    }


@pytest.mark.parametrize(
    ("rho", "e_md"),
    [(0.0, 1.0), (1.0, 4 / 3), (-1.0, 2 / 3)],  # E[m d], m, d ~ U(0, 2): 1, E[m^2], E[m (2 - m)]
)
def test_expected_path_integrates_dropout_and_its_correlation(rho, e_md):
    uniform = {"dist": "uniform", "low": 0.0, "high": 2.0}
    ex = expected_path(_dropout_scenario(uniform, rho))
    # day 0: a target person leaves b with 0.2 m d; non-targets (m = 0) never do
    assert ex.shares["b"].iloc[0] == pytest.approx(0.25 + 0.75 * (1 - 0.2 * e_md), abs=2e-4)
    assert ex.orders[0] == pytest.approx(0.5) and ex.orders[1] == pytest.approx(
        0.5 * ex.shares["b"].iloc[0]
    )
    assert ex.revenue_per_person == pytest.approx(10 * (ex.orders[0] + ex.orders[1]))


def test_expected_path_dropout_of_non_targets_and_constant_dropout():
    uniform = {"dist": "uniform", "low": 0.0, "high": 2.0}
    # an unscaled move: everyone leaves with 0.2 d; two days: E[(1 - 0.2 d)^2] = 0.6 + 0.04 E[d^2]
    ex = expected_path(_dropout_scenario(uniform, 0.0, scaled=False))
    np.testing.assert_allclose(ex.shares["b"], [0.8, 0.6 + 0.04 * 4 / 3], atol=2e-4)
    # a constant dropout halves the move for everyone alike
    ex = expected_path(_dropout_scenario({"dist": "constant", "value": 0.5}, 0.0, scaled=False))
    np.testing.assert_allclose(ex.shares["b"], [0.9, 0.81], rtol=1e-12)
    # ... and with propensity: only targets move, 0.1 m, E[m] = 1
    ex = expected_path(_dropout_scenario({"dist": "constant", "value": 0.5}, 0.0))
    np.testing.assert_allclose(ex.shares["b"].iloc[0], 0.25 + 0.75 * 0.9, rtol=1e-9)
    # a constant dropout with a correlation takes the grid, with the same answer
    ex = expected_path(_dropout_scenario({"dist": "constant", "value": 0.5}, 0.5))
    np.testing.assert_allclose(ex.shares["b"].iloc[0], 0.25 + 0.75 * 0.9, rtol=1e-6)


class _Call:
    """Contact people 0 and 2 with ``call`` on day 0."""

    name = "caller"

    def tactics(self):
        return {"call"}

    def decide(self, view):
        if view.day == 0:
            view.contact("call", np.array([0, 2]))


def test_contacts_with_a_support_load_open_tickets_for_the_staff():
    scn = {
        "name": "load",
        "days": 3,
        "market": {"size": 4, "initial": "a"},
        "stages": {"a": {"kind": "customer"}},
        "segments": {"all": _segment()},
        "support": {"agents": 1, "tickets_per_agent_per_day": 1, "wait_penalty": 0.25},
        "tactics": {"call": {"stages": ["a"], "support_load": 1.0}},
    }
    res = lifesim.simulate(scn, seed=0, strategy=_Call())
    # two tickets on day 0 (a sure load, nobody else opens one); one agent, one a day
    assert res.support.values.tolist() == [[0, 2, 0, 2], [1, 2, 1, 1], [2, 2, 2, 0]]
    # waiting costs satisfaction only to the two callers (0.25 per day waited)
    sat = res.people.satisfaction.tolist()
    assert sat[1] == sat[3] == 1.0 and sat[0] < 1.0 and sat[2] < 1.0


def test_the_run_folder_is_utf8_whatever_the_locale(tmp_path, monkeypatch):
    """A text file written without an explicit encoding would follow the locale (Windows)."""
    scn = chain(days=1) | {"description": "café ☕ für Kunden"}
    res = lifesim.simulate(scn, seed=0)
    real = io.text_encoding
    monkeypatch.setattr(
        io, "text_encoding", lambda enc, *a: "latin-1" if enc is None else real(enc)
    )
    out = res.save(tmp_path / "run")
    monkeypatch.undo()
    assert "café ☕ für Kunden" in (out / "scenario.yaml").read_bytes().decode("utf-8")
    assert lifesim.load_scenario(out / "scenario.yaml").description == "café ☕ für Kunden"


# == core.py: the documented random streams (common random numbers) ===========================
def test_moves_and_orders_follow_the_named_streams_one_draw_per_person_and_day():
    """Person i moves on day d iff the d-th draw of the ``transition`` stream is below p.

    The Simulation docstring promises one uniform per person per day from the named streams
    ``transition`` (float32) and ``purchase`` (float64), whoever is in which stage; an order's
    amount is the order-value quantile at ``u / p`` (the buy_step contract).
    """
    n, days, seed = 30, 4, 99
    scn = {
        "name": "streams",
        "days": days,
        "market": {"size": n, "initial": "a"},
        "stages": {
            "a": {"kind": "customer", "buy": {"p": 0.4}, "to": {"b": 0.3}},
            "b": {"kind": "churned"},
        },
        "segments": {
            "all": {
                "propensity": {"dist": "constant", "value": 1.0},
                "order_value": {"dist": "uniform", "low": 10.0, "high": 30.0},
            }
        },
    }
    res = lifesim.simulate(scn, seed=seed)
    rt = stream(seed, "transition")
    rp = stream(seed, "purchase")
    in_a = np.ones(n, dtype=bool)
    moves, orders = [], []
    for d in range(days):
        ub = rp.random(n)
        u = rt.random(n, dtype=np.float32)
        for i in range(n):
            if in_a[i] and ub[i] < 0.4:
                orders.append((i, d, 10.0 + 20.0 * (ub[i] / 0.4)))
        for i in range(n):
            if in_a[i] and u[i] < np.float32(0.3):
                moves.append((i, d))
                in_a[i] = False
    ev = res.events.sort_values(["day", "person"])
    assert list(zip(ev.person, ev.day, strict=True)) == sorted(moves, key=lambda x: (x[1], x[0]))
    assert len(moves) > 5  # the check has teeth (30 people, 4 days, 0.3 a day)
    pu = res.purchases.sort_values(["day", "person"])
    want = sorted(orders, key=lambda x: (x[1], x[0]))
    assert list(zip(pu.person, pu.day, strict=True)) == [(i, d) for i, d, _ in want]
    np.testing.assert_allclose(pu.amount, [a for _, _, a in want], rtol=1e-6)  # p in float32


def test_events_can_be_left_out_of_a_run():
    res = lifesim.simulate(chain(days=3), seed=0, record_events=False)
    assert len(res.events) == 0 and list(res.events.columns)[:2] == ["person", "day"]
    assert len(res.purchases) == 3 * 2  # purchases are always kept
    assert res.final_counts == {"a": 0, "b": 3, "c": 0}
    assert res.to_dict()["moves"] == 0


def test_a_partial_send_boosts_only_the_boosted_moves_out_of_its_stage_for_the_chosen():
    scn = chain(
        days=2,
        market={"size": 6, "initial": "a"},
        campaigns={
            "push": {
                "every": 10,
                "start": 1,
                "duration": 5,
                "targets": ["b"],
                "boost": 7.0,
                "cost_per_contact": 1.0,
            }
        },
        budget={"per_period": 4.0, "period_days": 2},
    )
    scn["stages"]["b"]["to"]["a"] = {"p": 0.0}  # a move out of b that is not boosted
    scn["stages"]["a"]["to"]["b"]["boost"] = True  # boosted, but out of another stage
    sim = Simulation(scn, seed=6)
    res = sim.run()
    # the send on day 1 pays for 4 of the 6 in b; its effect lasts to the horizon, so it is
    # still there to read: the boosted move out of b (b->c) is x7 for the chosen 4, nothing else
    (eff,) = sim.effects
    assert eff.idx.dtype == np.int32 and len(eff.idx) == 4
    assert eff.idx.tolist() == sorted(set(eff.idx.tolist()))
    names = sim.graph.edge_names()
    assert dict(zip(names, eff.edge_factor.tolist(), strict=True)) == {
        "a->b": 1.0,
        "b->c": 7.0,
        "b->a": 1.0,
    }
    assert (eff.start, eff.until, eff.cause) == (1, 2, sim.causes.index("push"))
    assert res.ledger.units.tolist() == [0, 4][: len(res.ledger)] or res.ledger.units.tolist() == [
        4
    ]


class _Once:
    """A custom strategy (imported by name): one ``nl`` contact of person 0 on day 0."""

    name = "once"

    def __init__(self, tactic="nl"):
        self.tactic = tactic

    def tactics(self):
        return {self.tactic}

    def decide(self, view):
        if view.day == 0:
            view.contact(self.tactic, np.array([0]))


def test_simulate_passes_every_option_to_the_simulation():
    scn = chain(days=3)
    scn["tactics"] = {"nl": {"stages": ["a"], "cost": {"per_contact": 2.0}}}
    scn["strategies"] = {
        "mine": {"type": "custom", "target": "tests.engine.test_kernel_mutants:_Once"}
    }
    calls = []
    res = lifesim.simulate(
        scn,
        seed=1,
        customers=2,
        days=2,
        progress=lambda d, n: calls.append((d, n)),
        strategy="mine",
        trust_code=True,
    )
    assert calls == [(1, 2), (2, 2)]
    assert (res.customers, res.days, res.strategy, res.marketing_cost) == (2, 2, "once", 2.0)
    with pytest.raises(lifesim.ConfigError, match="would import and run"):
        lifesim.simulate(scn, seed=1, strategy="mine")


def test_column_buffers_broadcast_scalars():
    from lifesim.engine.recorder import _Columns

    cols = _Columns({"a": np.int32, "b": np.float64})
    cols.append(a=7, b=0.5)  # a single row of scalars
    cols.append(a=np.array([1, 2]), b=1.5)  # a scalar repeated along an array
    out = cols.arrays()
    assert out["a"].tolist() == [7, 1, 2] and out["b"].tolist() == [0.5, 1.5, 1.5]
    assert out["a"].dtype == np.int32 and out["b"].dtype == np.float64
    assert cols.arrays()["a"].tolist() == []  # consumed


def test_a_referral_gives_the_referred_person_its_effect():
    scn = chain(days=3, market={"size": 2, "initial": "a"})
    scn["stages"]["a"]["to"]["b"] = {"p": TINY}  # nobody moves on their own
    scn["stages"]["b"]["to"]["c"] = {"p": 0.0}
    scn["tactics"] = {
        "nl": {
            "stages": ["a"],
            "referral": {"p": 1.0, "from_stages": ["a"], "effect": {"a->b": SURE}, "duration": 5},
        }
    }
    # person 0 is contacted on day 0 and surely refers someone in a: 0 or 1 (drawn)
    res = lifesim.simulate(scn, seed=4, strategy=_Once())
    ev = res.events
    assert len(ev) == 1 and ev.day.tolist() == [0] and ev.cause.tolist() == ["nl (referred)"]
    assert res.tactics.set_index("tactic").loc["nl", "referrals"] == 1


def test_simulation_starts_from_a_given_market():
    scn = chain(days=1)
    scn["stages"]["a"]["to"]["b"] = {"p": 0.0}
    res = lifesim.simulate(
        scn, seed=1, initial={"stage": ["b", "a", "b", "a"], "propensity": [0.5, 1, 2, 3]}
    )
    assert res.customers == 4  # the market size is the length of the given stages
    assert res.people.initial_stage.tolist() == ["b", "a", "b", "a"]
    assert res.people.propensity.tolist() == [0.5, 1.0, 2.0, 3.0]
    assert res.people.first_customer_day.tolist() == [0, -1, 0, -1]
    with pytest.raises(lifesim.ConfigError) as err:
        Simulation(scn, initial={"propensity": [2.0] * 3})
    assert str(err.value) == "initial: 'stage' is required (one stage name per person)"
    with pytest.raises(lifesim.ConfigError) as err:
        Simulation(scn, initial={"stage": ["a", "zz", "b"]})
    assert str(err.value) == "initial: unknown stage 'zz'; known stages: a, b, c"


def test_people_support_and_survey_come_from_their_named_streams():
    """The Simulation docstring names the streams; each concern draws from its own."""
    from lifesim.model import Population

    seed = 21
    scn = chain(days=3, market={"size": 50, "initial": "b"})
    scn["segments"]["all"]["propensity"] = {"dist": "uniform", "low": 0.0, "high": 2.0}
    scn["segments"]["all"]["satisfaction"] = 0.6
    scn["support"] = {
        "agents": 5,
        "ticket_p": {"b": 0.3},
        "wait_penalty": 0.0,
        "resolve_bonus": 0.0,
    }
    sim = Simulation(scn, seed=seed)
    drawn = Population.build(sim.scenario, sim.graph, 50, stream(seed, "population"))
    np.testing.assert_array_equal(sim.pop.propensity, drawn.propensity)
    res = sim.run()
    # tickets: person i opens one on day d iff the d-th support draw is below 0.3 (all in b)
    rs = stream(seed, "support")
    opened = np.cumsum([(rs.random(50) < np.float32(0.3)).sum() for _ in range(3)])
    assert res.support.opened.tolist() == opened.tolist()
    # NPS: 10 x satisfaction plus the survey stream's N(0, 1.5) noise, rounded and clipped
    noise = stream(seed, "survey").normal(0.0, 1.5, 50)
    want = np.clip(np.rint(10 * res.people.satisfaction.to_numpy() + noise), 0, 10)
    assert res.people.nps_score.tolist() == want.astype(int).tolist()


def test_custom_code_needs_trust_on_the_simulation_too():
    scn = chain(days=2)
    scn["tactics"] = {"nl": {"stages": ["a"]}}
    scn["strategies"] = {
        "mine": {"type": "custom", "target": "tests.engine.test_kernel_mutants:_Once"}
    }
    with pytest.raises(lifesim.ConfigError, match="would import and run"):
        Simulation(scn, seed=1, strategy="mine")
    assert Simulation(scn, seed=1, strategy="mine", trust_code=True).run().strategy == "once"


def test_a_support_load_without_support_staff_is_ignored():
    scn = {
        "name": "load",
        "days": 2,
        "market": {"size": 4, "initial": "a"},
        "stages": {"a": {"kind": "customer"}},
        "segments": {"all": _segment()},
        "tactics": {"call": {"stages": ["a"], "support_load": 1.0}},
    }
    res = lifesim.simulate(scn, seed=0, strategy=_Call())
    assert res.support is None and res.tactics.set_index("tactic").loc["call", "contacts"] == 2


class _Plan:
    """A custom strategy: ``plan(view)`` each day with ``tactics`` declared."""

    def __init__(self, tactics, plan, name="plan"):
        self._tactics, self.plan, self.name = set(tactics), plan, name

    def tactics(self):
        return self._tactics

    def decide(self, view):
        self.plan(view)


def test_a_broadcast_runs_while_its_fee_is_paid_and_names_its_moves():
    scn = {
        "name": "bc",
        "days": 25,
        "market": {"size": 20, "initial": "a"},
        "stages": {
            "a": {"buy": {"p": 0.5}, "to": {"b": TINY}},
            "b": {"kind": "customer"},
        },
        "segments": {"all": _segment()},
        "budget": {"per_period": 100.0, "period_days": 10},
        "tactics": {
            "seo": {
                "mode": "broadcast",
                "stages": ["a"],
                "effect": {"a->b": SURE},
                "buy": 2.0,
                "cost": {"per_month": 5.0},
            }
        },
    }
    res = lifesim.simulate(scn, seed=2, strategy=_Plan({"seo"}, lambda view: None))
    # the fee is charged on the first day of every period (the stub one too)
    fees = res.ledger[res.ledger.kind == "monthly fee"]
    assert fees[["day", "period", "units", "cost"]].values.tolist() == [
        [0, 0, 1, 5.0],
        [10, 1, 1, 5.0],
        [20, 2, 1, 5.0],
    ]
    # day 0: everyone in a buys (0.5 x 2) and then moves to b (sure), caused by the broadcast
    assert res.purchases.day.tolist() == [0] * 20
    assert _moves(res) == [(p, 0, "a", "b", "seo") for p in range(20)]
    assert res.people.acquired_by.tolist() == ["seo"] * 20


def test_strategies_decide_after_a_new_budget_period_starts():
    scn = chain(days=6, market={"size": 2, "initial": "b"})
    scn["stages"]["b"]["to"]["c"] = {"p": 0.0}
    scn["tactics"] = {"nl": {"stages": ["b"], "cost": {"per_contact": 1.0}}}
    scn["budget"] = {"per_period": 2.0, "period_days": 2, "max_catch_up": None}
    seen = {}

    def plan(view):
        view.contact("nl", np.array([0, 1]))
        if view.day == 3:
            seen.update(view.history())

    res = lifesim.simulate(scn, seed=0, strategy=_Plan({"nl"}, plan))
    led = res.ledger
    # both people are contacted on the first day of every period (2 of budget, 1 each), never
    # on the second (nothing left): the calendar runs after the budget period has started
    assert dict(zip(led.day, led.units, strict=True)) == {0: 2, 2: 2, 4: 2}
    assert led.period.tolist() == [0, 1, 2]
    # the strategy's view of the history: purchases of days 0-2 (b buys daily), named
    pu = seen["purchases"]
    assert pu.day.tolist() == [0, 0, 1, 1, 2, 2] and pu.cause.tolist() == ["organic"] * 6
    assert list(seen["events"].columns) == ["person", "day", "from_stage", "to_stage", "cause"]
    assert len(seen["events"]) == 0 and list(seen["events"].to_stage.cat.categories) == [
        "a",
        "b",
        "c",
    ]


def test_overlapping_sends_of_a_campaign_multiply():
    # each send boosts b -> c by 1e6 for 2 days: alone 1e-6 a day (never, in practice); on the
    # days two sends overlap 1e12 x 1e-12 = 1 (sure)
    camp = {"every": 3, "start": 1, "duration": 2, "targets": ["b"], "boost": 1e6}
    res = lifesim.simulate(chain(days=6, campaigns={"push": camp}), seed=0)
    assert [m for m in _moves(res) if m[3] == "c"] == []
    camp = {"every": 1, "start": 2, "duration": 2, "targets": ["b"], "boost": 1e6}
    res = lifesim.simulate(chain(days=6, campaigns={"push": camp}), seed=0)
    assert [m for m in _moves(res) if m[3] == "c"] == [(p, 3, "b", "c", "push") for p in range(3)]


def test_an_effect_lasts_exactly_its_days():
    scn = chain(days=4, market={"size": 2, "initial": "b"})
    scn["stages"]["b"]["to"]["c"] = {"p": 0.0}
    sim = Simulation(scn, seed=0)
    assert sim.elapsed == 0.0
    half = Effect(np.array([0], np.int32), np.ones(2), 1, 2, value_factor=0.5)
    sim.add_effect(half)
    res = sim.run()
    mine = res.purchases[res.purchases.person == 0].sort_values("day")
    assert mine.amount.tolist() == [10.0, 5.0, 10.0, 10.0]
    assert (res.purchases[res.purchases.person == 1].amount == 10.0).all()


def test_a_coupon_used_on_a_repeat_order_is_that_orders_cause_and_cost():
    scn = chain(days=4, market={"size": 2, "initial": "b"})
    scn["stages"]["b"]["to"]["c"] = {"p": 0.0}
    scn["tactics"] = {
        "coupon": {
            "stages": ["b"],
            "order_value": 0.8,
            "single_use": True,
            "duration": 5,
            "cost": {"per_redemption": 1.5},
        }
    }

    def plan(view):
        if view.day == 2:
            view.contact("coupon", np.array([1]))

    res = lifesim.simulate(scn, seed=0, strategy=_Plan({"coupon"}, plan))
    pu = res.purchases.sort_values(["person", "day"])
    got = list(zip(pu.person, pu.day, pu.amount, pu.cause, strict=True))
    assert got == [(0, d, 10.0, "organic") for d in range(4)] + [
        (1, 0, 10.0, "organic"),
        (1, 1, 10.0, "organic"),
        (1, 2, 8.0, "coupon"),  # the single use, on the contact day
        (1, 3, 10.0, "organic"),
    ]
    red = res.ledger[res.ledger.kind == "redemption"]
    assert red[["day", "item", "units", "cost"]].values.tolist() == [[2, "coupon", 1, 1.5]]


def test_satisfied_people_churn_at_the_base_rate():
    # weight 1, satisfaction 1: the factor is 1 + 1 x (1 - 1) = 1, so 0.5 stays 0.5 (not all
    # 20 leave on day 0: probability 2^-20)
    scn = chain(days=1, market={"size": 20, "initial": "b"})
    scn["stages"]["b"]["to"]["c"] = {"p": 0.5}
    res = lifesim.simulate(scn | {"satisfaction": {"churn_weight": 1.0}}, seed=0)
    assert 0 < len(res.events) < 20


def test_a_promotion_marks_the_people_it_moved():
    scn = chain(days=2, market={"size": 4, "initial": "a"})
    scn["stages"]["a"]["to"]["b"] = {"p": TINY}
    scn["stages"]["b"]["to"]["c"] = {"p": 0.0}
    scn["tactics"] = {
        "promo": {
            "stages": ["a"],
            "effect": {"a->b": SURE},
            "promo": {"propensity": 0.5, "churn": 3.0},
        }
    }

    def plan(view):
        if view.day == 0:
            view.contact("promo", np.array([1, 3]))

    res = lifesim.simulate(scn, seed=0, strategy=_Plan({"promo"}, plan))
    assert _moves(res) == [(1, 0, "a", "b", "promo"), (3, 0, "a", "b", "promo")]
    assert res.people.propensity.tolist() == [1.0, 0.5, 1.0, 0.5]
    assert res.people.churn_mult.tolist() == [1.0, 3.0, 1.0, 3.0]


def test_a_broadcast_support_load_opens_tickets_every_day():
    scn = {
        "name": "chat",
        "days": 2,
        "market": {"size": 3, "initial": "a"},
        "stages": {"a": {"kind": "customer"}},
        "segments": {"all": _segment()},
        "support": {"agents": 10, "ticket_p": {"a": 0.0}, "wait_penalty": 0.0},
        "tactics": {"chat": {"mode": "broadcast", "stages": ["a"], "support_load": 1.0}},
    }
    res = lifesim.simulate(scn, seed=0, strategy=_Plan({"chat"}, lambda view: None))
    assert res.support.opened.tolist() == [3, 6]  # everyone, every day (cumulative)


def test_the_run_stops_at_the_horizon():
    # three tickets on day 0, one agent resolving one a day from 1.5 on: none is resolved
    # inside a one-day horizon, so nobody gets the resolve bonus
    scn = chain(days=1, market={"size": 3, "initial": "b"})
    scn["segments"]["all"]["satisfaction"] = 0.5
    scn["support"] = {
        "agents": 1,
        "tickets_per_agent_per_day": 1,
        "ticket_p": {"b": 1.0},
        "wait_penalty": 0.0,
        "resolve_bonus": 0.5,
    }
    sim = Simulation(scn, seed=0)
    res = sim.run()
    assert res.people.satisfaction.tolist() == [0.5] * 3
    assert res.support.values.tolist() == [[0, 3, 0, 3]]
    assert sim.env.now == 1
    assert 0 < res.elapsed_s < 60  # wall time of the run, in seconds
    snaps = res.customer_snapshots
    assert list(snaps.columns) == [0] and snaps.dtypes.tolist() == [np.dtype(bool)]


def test_nps_scores_are_clipped_to_the_scale():
    scn = chain(days=1, market={"size": 2000, "initial": "b"})
    scn["segments"]["all"]["satisfaction"] = 0.0
    nps = lifesim.simulate(scn, seed=5).people.nps_score
    # 0 + N(0, 1.5): half the scores would be negative; they are 0 (and 10 is the top)
    assert nps.min() == 0 and (nps == 0).mean() > 0.45


def test_build_modifiers_ties_go_to_the_lower_cause_code():
    g = kernel_graph()
    stage = np.array([A], dtype=np.int8)
    one = np.array([0], np.int32)
    # both double a->b; the higher code also changes b->c (its factor table sorts first)
    low = Effect(one, np.array([2.0, 1.0, 1.0]), 0, 5, cause=4, buy_factor=3.0)
    high = Effect(one, np.array([2.0, 1.0, 5.0]), 0, 5, cause=9, buy_factor=3.0)
    for order in ([low, high], [high, low]):
        mods = build_modifiers(order, stage, g)
        assert mods.slot_factor.tolist() == [[4.0, 1.0]]
        assert mods.slot_cause.tolist() == [[4, -1]]
        assert mods.buy_factor.tolist() == [9.0] and mods.buy_cause.tolist() == [4]
    # an effect at zero strength changes nothing and names no cause
    faded = Effect(one, np.array([2.0, 1.0, 1.0]), 0, 5, cause=4, buy_factor=3.0)
    faded.strength = f32(0.0)
    mods = build_modifiers([faded], stage, g)
    assert mods.slot_factor.tolist() == [[1.0, 1.0]] and mods.slot_cause.tolist() == [[-1, -1]]
    assert mods.buy_factor.tolist() == [1.0] and mods.buy_cause.tolist() == [-1]


def test_value_factors_multiply_across_causes():
    g = kernel_graph()
    stage = np.array([A, A], dtype=np.int8)
    one = np.ones(3)
    double = Effect(np.array([0, 1], np.int32), one, 0, 5, cause=1, value_factor=2.0)
    half = Effect(np.array([1], np.int32), one, 0, 5, cause=2, value_factor=0.5)
    mods = build_modifiers([double, half], stage, g)
    assert mods.value_factor.tolist() == [2.0, 1.0]
    third = Effect(np.array([1], np.int32), one, 0, 5, cause=3, value_factor=0.25)
    mods = build_modifiers([double, half, third], stage, g)
    assert mods.value_factor.tolist() == [2.0, 0.25]


def test_transition_step_lower_churn_and_empty_answers_are_indices():
    g = kernel_graph()
    t = tables(g)
    # a factor below 1 on churn moves (sat_g = -0.5: a dropout multiplier of 0.5): b -> c is
    # 0.025, and u = 0.02 still moves
    who, edge, _, v = transition_step(
        g, t, np.array([B, B], np.int8), f32(1, 1), f32(0.02, 0.03), sat_g=f32(-0.5, -0.5)
    )
    assert who.tolist() == [0] and edge.tolist() == [2]
    np.testing.assert_allclose(v, [0.8], rtol=1e-5)
    # nobody can move: empty index arrays (they index people and edges)
    still = StageGraph.from_scenario(
        load_scenario(
            {
                "name": "s",
                "market": {"initial": "x"},
                "stages": {"x": {}},
                "segments": {"all": _segment()},
            }
        )
    )
    still_t = DayTables.make(still, np.ones(0), np.zeros(0, np.int16))
    for out in (
        transition_step(g, t, np.array([C], np.int8), f32(1), f32(0.5)),
        transition_step(still, still_t, np.zeros(1, np.int8), f32(1), f32(0.0)),
    ):
        assert out[0].dtype == np.intp and out[1].dtype == np.intp and out[2].dtype == np.int16
        assert len(out[3]) == 0


def test_transition_step_fast_path_keeps_uniforms_just_below_a_small_probability():
    g = kernel_graph()
    t = tables(g)
    m = f32(1e-4)
    tot = 0.3 * float(m[0])  # a->b 0.2 m + a->c 0.1 m, exactly, in float64
    u = np.array([tot * (1 - 1e-6)], dtype=np.float32)
    assert float(u[0]) < tot
    who, edge, _, _ = transition_step(g, t, np.array([A], np.int8), m, u)
    assert who.tolist() == [0] and edge.tolist() == [1]


def test_transition_step_intervals_are_half_open_and_sums_above_one_rescale():
    g = kernel_graph()
    t = tables(g)
    # m = 1.25: a->b covers [0, 0.25), a->c [0.25, 0.375); a uniform of exactly 0.25 (both
    # exact in binary) takes the second move
    who, edge, _, v = transition_step(g, t, np.array([A], np.int8), f32(1.25), f32(0.25))
    assert who.tolist() == [0] and edge.tolist() == [1] and 0 < v[0] < 1e-9  # inside (0, 1)
    # a person factor 5 on a->b: 1.0 + 0.1 = 1.1 > 1 is rescaled to 1/1.1 and 0.1/1.1
    mods = Modifiers(
        np.array([0]),
        np.array([[5.0, 1.0]]),
        np.full((1, 2), -1, np.int16),
        np.ones(1),
        np.ones(1),
    )
    who, edge, _, v = transition_step(g, t, np.array([A], np.int8), f32(1), f32(0.95), mods=mods)
    assert edge.tolist() == [1]
    np.testing.assert_allclose(v, [(0.95 - 1 / 1.1) * 11], rtol=1e-5)


def test_transition_step_third_move_and_no_warnings_on_zero_probabilities():
    scn = load_scenario(
        {
            "name": "three",
            "market": {"initial": "x"},
            "stages": {"x": {"to": {"y": 0.1, "z": 0.1, "w": 0.1}}, "y": {}, "z": {}, "w": {}},
            "segments": {"all": _segment()},
        }
    )
    g3 = StageGraph.from_scenario(scn)
    t3 = DayTables.make(g3, np.ones(3), np.zeros(3, np.int16))
    who, edge, _, v = transition_step(g3, t3, np.zeros(1, np.int8), f32(1), f32(0.25))
    assert edge.tolist() == [2]
    np.testing.assert_allclose(v, [0.5], rtol=1e-5)  # (0.25 - 0.2) / 0.1
    # candidates whose chosen slot has probability 0 (propensity 0; a factor 0 on a->c with
    # u just above the total) stay put without a RuntimeWarning
    g = kernel_graph()
    t = tables(g)
    mods = Modifiers(
        np.array([1]),
        np.array([[1.0, 0.0]]),
        np.full((1, 2), -1, np.int16),
        np.ones(1),
        np.ones(1),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = transition_step(
            g, t, np.array([A, A], np.int8), f32(0, 1), f32(0.0, 0.2000001), mods=mods
        )
    assert out[0].tolist() == []


def test_expected_path_grid_has_round_sqrt_nodes_a_side():
    # nodes = 4: a 2 x 2 grid of midpoints (quantiles 0.25, 0.75); correlation 1 puts
    # d = m in {0.5, 1.5}, so E[m d] = (0.25 + 2.25) / 2 = 1.25 on it
    uniform = {"dist": "uniform", "low": 0.0, "high": 2.0}
    ex = expected_path(_dropout_scenario(uniform, 1.0), nodes=4)
    assert ex.shares["b"].iloc[0] == pytest.approx(0.25 + 0.75 * (1 - 0.2 * 1.25), rel=1e-12)


def test_a_purchase_move_after_a_repeat_order_counts_both():
    scn = chain(days=1, market={"size": 2, "initial": "a"})
    scn["stages"]["a"]["buy"] = {"p": 1.0}  # a repeat order, then the move (itself an order)
    scn["stages"]["a"]["to"]["b"] = {"p": 1.0, "purchase": True}
    res = lifesim.simulate(scn, seed=0)
    assert res.people.purchases.tolist() == [2, 2]
    assert res.people.revenue.tolist() == [20.0, 20.0]
    assert len(res.purchases) == 4


# == exact.py: spend multipliers, seasons and purchase moves (mutation run at 815296c) ========
def _one_stage(days=1, **seg):
    """One stage that buys with p = 0.25 a day and never moves (plus an unreachable churn)."""
    return {
        "name": "spend",
        "days": days,
        "market": {"size": 10, "initial": "a"},
        "stages": {
            "a": {"kind": "customer", "buy": {"p": 0.25}, "to": {"c": 0.0}},
            "c": {"kind": "churned"},
        },
        "segments": {"all": _segment(value=10.0) | seg},
    }


def test_expected_revenue_multiplies_the_mean_order_value_by_the_mean_spend():
    # one day, 0.25 orders a person: revenue = 0.25 x E[order value] x E[spend]
    const = expected_path(_one_stage(spend={"dist": "constant", "value": 2.0}))
    assert const.orders.tolist() == [0.25]
    assert const.revenue_per_person == pytest.approx(0.25 * 10 * 2, rel=1e-12)
    # U(1, 3) has mean 2 (the integral of its quantile function)
    unif = expected_path(_one_stage(spend={"dist": "uniform", "low": 1.0, "high": 3.0}))
    assert unif.revenue_per_person == pytest.approx(5.0, rel=1e-12)
    # InvGamma(shape, scale) without a max: mean scale / (shape - 1), exactly
    for shape, scale, mean in ((3.0, 20.0, 10.0), (1.5, 4.0, 8.0)):
        ig = {"dist": "invgamma", "shape": shape, "scale": scale}
        got = expected_path(_one_stage(spend=ig)).revenue_per_person
        assert got == pytest.approx(0.25 * 10 * mean, rel=1e-12)
        # the same law as the order value (spend 1): its own mean, not the midpoint rule's
        got = expected_path(_one_stage(order_value=ig)).revenue_per_person
        assert got == pytest.approx(0.25 * mean, rel=1e-12)
    # clipped at 3: E[min(S, 3)] = int_0^3 P(S > s) ds, where InvGamma(2, 1) has
    # P(S <= s) = (1 + 1/s) exp(-1/s) (the survival function, not the quantiles the code uses)
    want, _ = integrate.quad(lambda s: 1 - (1 + 1 / s) * np.exp(-1 / s), 0, 3, limit=200)
    clipped = {"dist": "invgamma", "shape": 2.0, "scale": 1.0, "max": 3.0}
    got = expected_path(_one_stage(spend=clipped)).revenue_per_person
    assert got == pytest.approx(0.25 * 10 * want, rel=1e-8)
    # the segment rules refuse shape <= 1 without a max; the helper's mean is infinite there
    for shape in (1.0, 0.5):
        assert _mean_spend(InverseGamma(dist="invgamma", shape=shape, scale=2.0)) == np.inf


def test_expected_orders_follow_the_calendar_and_count_purchase_moves():
    # 2026-12-07 is a Monday: factors Mon 2, Tue 0.5, Wed 1 on the repeat orders only
    cal = {"start": "2026-12-07", "day_of_week": {"Mon": 2.0, "Tue": 0.5}}
    ex = expected_path(_one_stage(days=3) | {"calendar": cal})
    np.testing.assert_allclose(ex.orders, [0.5, 0.125, 0.25], rtol=1e-12)
    assert ex.revenue_per_person == pytest.approx(10 * 0.875, rel=1e-12)
    # a move a -> b (p 0.2) that is itself an order: day 0 has 0.25 repeat orders and 0.2
    # moving orders; day 1 the 0.8 left in a order 0.25 each and 0.2 of them move (b: no buy)
    scn = _one_stage(days=2)
    scn["stages"]["a"]["to"] = {"b": {"p": 0.2, "purchase": True}, "c": 0.0}
    scn["stages"]["b"] = {"kind": "customer"}
    ex = expected_path(scn)
    np.testing.assert_allclose(ex.orders, [0.45, 0.8 * 0.45], rtol=1e-12)
    assert ex.revenue_per_person == pytest.approx(10 * 0.45 * 1.8, rel=1e-12)


def test_arrivals_buy_once_with_values_from_their_own_stream():
    """An arrival with ``purchase`` orders once on their day, its amount the order-value
    quantile of the next draw of the ``arrival_orders`` stream (people in index order)."""
    seed = 7
    scn = {
        "name": "arrive",
        "days": 4,
        "market": {
            "size": 2,
            "initial": "a",
            "arrivals": {"per_day": 3.0, "stage": "a", "purchase": True},
        },
        "stages": {"a": {"kind": "customer", "to": {"c": 0.0}}, "c": {"kind": "churned"}},
        "segments": {
            "all": {
                "propensity": {"dist": "constant", "value": 1.0},
                "order_value": {"dist": "uniform", "low": 10.0, "high": 30.0},
            }
        },
    }
    res = lifesim.simulate(scn, seed=seed)
    day = res.people["arrival_day"].to_numpy()
    new = np.flatnonzero(day >= 0)
    # the number arriving each day: the run's "arrivals" stream, Poisson(per_day) per day
    counts = stream(seed, "arrivals").poisson(3.0, 4)
    assert np.bincount(day[new], minlength=4).tolist() == counts.tolist()
    assert len(new) >= 4 and new.tolist() == list(range(2, res.customers))
    rs = stream(seed, "arrival_orders")
    want = np.concatenate([10 + 20 * rs.random(int((day == d).sum())) for d in range(4)])
    pu = res.purchases.sort_values(["day", "person"])
    assert pu.person.tolist() == new.tolist() and pu.day.tolist() == day[new].tolist()
    assert (pu.cause == "arrival").all()
    np.testing.assert_allclose(pu.amount, want, rtol=1e-12)
    # one order each, and their revenue is that order; the first two never bought
    assert res.people.purchases.tolist() == [0, 0] + [1] * len(new)
    np.testing.assert_allclose(res.people.revenue.to_numpy()[new], want, rtol=1e-12)
    assert res.people.revenue.to_numpy()[:2].tolist() == [0.0, 0.0]


def test_the_flow_views_of_a_run_without_event_log_name_themselves_and_the_fix():
    res = lifesim.simulate(chain(days=2), seed=0, record_events=False)
    tail = (
        " needs the event log, and this run was made without one (record_events=False, or "
        "`lifesim simulate --no-events`); run it again with record_events=True (the default): "
        "the same seed gives the same run"
    )
    for call, name in (
        (res.flows, "flows()"),
        (res.start_counts, "start_counts()"),
        (res.transition_matrix, "transition_matrix()"),
    ):
        with pytest.raises(NoEventLogError) as err:
            call()
        assert str(err.value) == name + tail


def test_every_order_is_the_order_value_times_the_persons_spend():
    # everyone buys every day; a constant order value of 10 times their drawn multiplier
    scn = _one_stage(days=2, spend={"dist": "uniform", "low": 1.0, "high": 3.0})
    scn["stages"]["a"]["buy"] = {"p": 1.0}
    scn["market"]["size"] = 5
    res = lifesim.simulate(scn, seed=1)
    spend = res.people.spend.to_numpy()
    assert ((spend >= 1) & (spend <= 3)).all() and len(set(spend.tolist())) == 5
    pu = res.purchases.sort_values(["day", "person"])
    np.testing.assert_allclose(pu.amount, 10 * np.tile(spend, 2), rtol=1e-6)  # spend: float32
    # a constant multiplier of 2 doubles every order
    scn["segments"]["all"]["spend"] = {"dist": "constant", "value": 2.0}
    assert lifesim.simulate(scn, seed=1).purchases.amount.tolist() == [20.0] * 10


def test_the_recorder_adds_the_moves_of_one_day():
    # arrivals and the day's moves are recorded in two calls on the same day
    rec = Recorder(2, 2)
    one = np.zeros(1, dtype=np.int8)
    rec.on_moves(1, np.array([4, 5]), np.zeros(2, np.int8), np.ones(2, np.int8), -1)
    rec.on_moves(1, np.array([6]), one, one, -1)
    assert rec.moves.tolist() == [0, 3]


def test_a_market_that_is_not_a_mapping_is_refused_with_a_hint_for_callables():
    want = (
        "initial: must be a mapping with 'stage' (one stage per person) and optionally "
        "'propensity' and 'dropout', got "
    )
    with pytest.raises(lifesim.ConfigError) as err:
        Simulation(chain(days=1), initial=["a", "b"])
    assert str(err.value) == want + "list"

    def state(seed):  # what a LogState is before it is called with a seed
        return {"stage": ["a"]}

    with pytest.raises(lifesim.ConfigError) as err:
        Simulation(chain(days=1), initial=state)
    assert str(err.value) == (
        want + "function (a LogState is called with a seed: initial=state(seed))"
    )


def _arriving(per_day=3.0):
    return _one_stage(days=2) | {
        "market": {
            "size": 10,
            "initial": "a",
            "arrivals": {"per_day": per_day, "stage": "a", "purchase": False},
        }
    }


def test_more_customers_scale_the_inflow_but_a_given_market_keeps_it():
    # customers=20 doubles a market of 10, and its arrivals a day with it
    sim = Simulation(_arriving(), customers=20, seed=0)
    assert sim.scenario.market.size == 20 and sim.scenario.market.arrivals.per_day == 6.0
    # a market given person by person keeps the scenario's inflow, whatever its size
    sim = Simulation(_arriving(), initial={"stage": ["a"] * 20}, seed=0)
    assert sim.scenario.market.size == 20 and sim.scenario.market.arrivals.per_day == 3.0


def test_the_calendar_multiplies_the_days_repeat_orders_in_a_run():
    # 2026-12-07 is a Monday: buy p 0.25 x 4 = 1 (everyone), Tuesday x 0 (nobody), Wednesday
    # x 1: whoever's purchase draw of the day is below 0.25
    cal = {"start": "2026-12-07", "day_of_week": {"Mon": 4.0, "Tue": 0.0}}
    scn = _one_stage(days=3) | {"calendar": cal}
    scn["market"]["size"] = 40
    res = lifesim.simulate(scn, seed=3)
    ub = stream(3, "purchase").random((3, 40))
    by_day = [res.purchases.person[res.purchases.day == d].tolist() for d in range(3)]
    assert by_day == [list(range(40)), [], np.flatnonzero(ub[2] < 0.25).tolist()]


def test_expected_path_refuses_a_market_with_arrivals():
    with pytest.raises(ValueError) as err:
        expected_path(_arriving())
    assert str(err.value) == "expected_path needs a fixed market: no market.arrivals"


class _Progress:
    """A progress display that records what it is told."""

    def __init__(self):
        self.calls = []

    def begin(self, total, done):
        self.calls.append(("begin", total, done))

    def __call__(self, done, total):
        self.calls.append((done, total))


def test_a_run_tells_its_progress_the_days_and_names_itself(monkeypatch):
    rec = _Progress()
    lifesim.simulate(chain(days=3), seed=0, progress=rec)
    assert rec.calls == [("begin", 3, 0), (1, 3), (2, 3), (3, 3)]
    # progress=True: the display is made for "simulate <scenario name>", counting days
    import lifesim._progress as progress_module

    made = []
    monkeypatch.setattr(
        progress_module, "auto_progress", lambda label, unit: made.append((label, unit)) or rec
    )
    lifesim.simulate(chain(days=1), seed=0, progress=True)
    assert made == [("simulate chain", "days")]


def test_a_market_too_big_for_numpys_draws_still_follows_the_named_streams():
    """From 16,384 people the compiled pass draws the day's uniforms itself (the NumPy steps
    draw them from the streams); either way person i moves iff the i-th ``transition`` draw is
    below p and buys iff the i-th ``purchase`` draw is below its p."""
    n, seed = 20_000, 5
    scn = {
        "name": "big",
        "days": 1,
        "market": {"size": n, "initial": "a"},
        "stages": {
            "a": {"kind": "customer", "buy": {"p": 0.4}, "to": {"b": 0.3}},
            "b": {"kind": "churned"},
        },
        "segments": {"all": _segment(value=10.0)},
    }
    res = lifesim.simulate(scn, seed=seed)
    ub = stream(seed, "purchase").random(n)
    u = stream(seed, "transition").random(n, dtype=np.float32)
    assert np.sort(res.events.person.to_numpy()).tolist() == np.flatnonzero(u < 0.3).tolist()
    assert np.sort(res.purchases.person.to_numpy()).tolist() == np.flatnonzero(ub < 0.4).tolist()
