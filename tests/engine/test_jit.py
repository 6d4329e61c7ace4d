"""The compiled inner loops (numba) give bit-identical results to the NumPy code they replace."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numba
import numpy as np
import pytest

import lifesim
from lifesim.engine import jit, jit_day, jit_marketing
from lifesim.engine.kernel import (
    DayTables,
    Effect,
    build_modifiers,
    buy_step,
    buys_and_moves,
    effect_groups,
    transition_step,
    value_factor,
)
from lifesim.model import StageGraph

pytest.importorskip("numba")  # a core dependency; the NumPy path is tested everywhere else


@pytest.fixture
def both():
    """Run a callable with the compiled loops off, then on; restore the setting."""

    def run(fn):
        old = jit.set_enabled(False)
        try:
            a = fn()
            jit.set_enabled(True)
            b = fn()
        finally:
            jit.set_enabled(old)
        return a, b

    return run


def _digest(res) -> str:
    h = hashlib.sha256()
    for name in ("events", "purchases", "stage_counts", "people", "ledger", "tactics"):
        h.update(getattr(res, name).to_csv().encode())
    return h.hexdigest()


@pytest.mark.parametrize(
    "path, strategy",
    [
        ("reference.yaml", None),
        ("default.yaml", "stage_focused"),
        ("default.yaml", "kpi_focused"),
        ("ecommerce.yaml", "coupon_heavy"),
        ("subscription.yaml", "stage_focused"),
        ("b2b.yaml", "kpi_focused"),
    ],
)
def test_whole_runs_are_bit_identical(both, path, strategy, global_seed, configs_dir):
    def run():
        res = lifesim.simulate(
            configs_dir / path, seed=global_seed, customers=1500, days=90, strategy=strategy
        )
        return _digest(res)

    a, b = both(run)
    assert a == b


def test_a_whole_run_large_enough_to_draw_in_the_pass_is_bit_identical(both, global_seed):
    n = jit_day.DRAW_IN_PASS_FROM + 3000  # the day's uniforms drawn inside the compiled pass

    def run():
        res = lifesim.simulate(seed=global_seed, customers=n, days=40, strategy="stage_focused")
        return _digest(res)

    a, b = both(run)
    assert a == b


def _graph():
    return StageGraph.from_scenario(
        lifesim.load_scenario(Path(__file__).parents[2] / "configs" / "default.yaml")
    )


def _random_day(rng, g, n=4000, n_effects=6):
    stage = rng.integers(0, g.n_stages, n).astype(np.int8)
    m = rng.gamma(2.0, 0.5, n).astype(np.float32)
    t = DayTables.make(g, rng.uniform(0.5, 3.0, g.n_edges), np.arange(g.n_edges, dtype=np.int16))
    effects = []
    for k in range(n_effects):
        idx = np.unique(rng.choice(n, rng.integers(1, n // 2), replace=False)).astype(np.int32)
        fac = rng.uniform(0.3, 4.0, g.n_edges) * (rng.random(g.n_edges) < 0.6)
        fac[fac == 0] = 1.0
        strength = rng.random(len(idx)).astype(np.float32) if k % 2 else None
        effects.append(
            Effect(
                idx,
                fac,
                0,
                5,
                cause=1 + k % 4,  # repeated causes: same-cause effects do not stack
                buy_factor=float(rng.choice([1.0, 1.7, 0.6])),
                value_factor=float(rng.choice([1.0, 0.8])),
                strength=strength,
            )
        )
    return stage, m, t, effects


def test_one_pass_buys_and_moves_are_the_numpy_steps(global_seed):
    """The fused pass (effects merged on the way, exact factors only under the bound)."""
    rng = np.random.default_rng(global_seed)
    g = _graph()
    mul, add = np.float32(1 + 1e-5), np.float32(1e-9)
    for k in range(8):
        stage, m, t, effects = _random_day(rng, g, n_effects=k)
        n = len(stage)
        u = rng.random(n, dtype=np.float32) ** 3  # many draws near the thresholds too
        ub = rng.random(n) ** 3
        sat_g = rng.uniform(-1.0, 2.0, n).astype(np.float32) if k % 2 else None
        if k == 3:
            sat_g[:300] = -1.5  # a negative churn factor: no bound, exact factors
        groups = effect_groups(effects)
        fused = jit_day.buys_and_moves(g, t, stage, m, u, ub, sat_g, groups, mul, add)
        old = jit.set_enabled(False)
        try:
            mods = build_modifiers(effects, stage, g)
            buys = buy_step(t, stage, m, ub, mods)
            moves = transition_step(g, t, stage, m, u, sat_g, mods)
            want = [*buys, *moves, value_factor(mods, moves[0])]
        finally:
            jit.set_enabled(old)
        got = [*fused[0], *fused[1], fused[2]]
        assert len(got) == len(want) == 9
        for x, y in zip(want, got, strict=True):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
        assert len(buys[0]) and len(moves[0])  # not vacuous
        if k >= 2:  # the effects changed who moved or bought: they were applied
            bare = jit_day.buys_and_moves(g, t, stage, m, u, ub, sat_g, [], mul, add)
            assert not np.array_equal(bare[0][0], fused[0][0]) or not np.array_equal(
                bare[1][0], fused[1][0]
            )


def test_one_pass_gives_exact_factors_when_a_churn_factor_is_negative():
    """No bound holds when 1 + g < 0: the pass must use the person's exact factors."""
    g = _graph()
    s, e_go, e_churn = (
        g.index("purchase"),
        *(
            int(np.flatnonzero((g.src == g.index("purchase")) & (g.dst == g.index(x)))[0])
            for x in ("retention", "churned")
        ),
    )
    t = DayTables.make(g, np.ones(g.n_edges), np.arange(g.n_edges, dtype=np.int16))
    fac = np.ones(g.n_edges)
    fac[e_go], fac[e_churn] = 4.0, 0.0  # exact: 0.15 x 4 + 0.03 x (1 - 1.5) x 0 = 0.6
    effects = [Effect(np.array([0], np.int32), fac, 0, 5, cause=3)]
    stage, m = np.array([s], np.int8), np.ones(1, np.float32)
    u, ub = np.array([0.57], np.float32), np.array([0.99])  # a bound would say 4 x 0.135
    sat_g = np.array([-1.5], np.float32)
    mul, add = np.float32(1 + 1e-5), np.float32(1e-9)
    fused = jit_day.buys_and_moves(g, t, stage, m, u, ub, sat_g, effect_groups(effects), mul, add)
    assert fused[1][0].tolist() == [0] and fused[1][1].tolist() == [e_go]
    assert fused[1][2].tolist() == [3]  # the effect's cause


def _fill(s, buf, n, out64, out32):
    for i in range(n):
        out64[i] = jit_day._draw_f64(s)
    for i in range(n):
        out32[i] = jit_day._draw_f32(s, buf)


def test_compiled_draws_are_numpys_sfc64_uniforms_and_leave_the_stream_where_numpy_does(
    global_seed,
):
    jit_day._draw_f64 = jit._jit(jit_day._draw_f64)  # as a compiled caller sees them
    jit_day._draw_f32 = jit._jit(jit_day._draw_f32)
    fill = numba.njit(_fill)
    for n in (0, 1, 2, 3, 1001):
        for pre in (0, 1, 2):  # a float32 half may be waiting in the generator
            a, b = (np.random.Generator(np.random.SFC64(global_seed + n)) for _ in range(2))
            a.random(pre, dtype=np.float32)
            b.random(pre, dtype=np.float32)
            want64, want32 = a.random(n), a.random(n, dtype=np.float32)
            words, half = jit_day.sfc64_state(b)
            got64, got32 = np.empty(n), np.empty(n, np.float32)
            fill(words, half, n, got64, got32)
            jit_day.set_sfc64_state(b, words, half)
            np.testing.assert_array_equal(got64, want64)
            np.testing.assert_array_equal(got32, want32)
            np.testing.assert_array_equal(b.random(5, dtype=np.float32), a.random(5, np.float32))
            np.testing.assert_array_equal(b.random(5), a.random(5))


def test_ticket_draws_made_in_the_pass_are_numpys(global_seed):
    rng = np.random.default_rng(global_seed)
    small = rng.integers(0, 4, jit_day.DRAW_IN_PASS_FROM - 1).astype(np.int8)
    table = np.array([0.1, 0.0, 0.5, 1.0], np.float32)
    fresh = np.random.Generator(np.random.SFC64(0))
    assert jit_day.below_table_drawn(fresh, table, small) is None  # NumPy fills faster
    assert fresh.random() == np.random.Generator(np.random.SFC64(0)).random()
    codes = rng.integers(0, 4, jit_day.DRAW_IN_PASS_FROM + 1001).astype(np.int8)
    table = np.array([0.1, 0.0, 0.5, 1.0], np.float32)
    a, b = (np.random.Generator(np.random.SFC64(global_seed)) for _ in range(2))
    got = jit_day.below_table_drawn(a, table, codes)
    np.testing.assert_array_equal(got, np.flatnonzero(b.random(len(codes)) < table[codes]))
    assert a.random() == b.random()
    bad = codes.copy()
    bad[-1] = 9  # a code outside the table: no answer, the stream untouched
    assert jit_day.below_table_drawn(a, table, bad) is None and a.random() == b.random()
    pcg = np.random.Generator(np.random.PCG64(1))  # not SFC64: the NumPy code answers
    assert jit_day.below_table_drawn(pcg, table, codes) is None


def test_one_pass_draws_the_days_uniforms_as_numpy_would(global_seed):
    rng = np.random.default_rng(global_seed)
    g = _graph()
    stage, m, t, effects = _random_day(rng, g)
    groups = effect_groups(effects)
    mul, add = np.float32(1 + 1e-5), np.float32(1e-9)
    gens = [np.random.Generator(np.random.SFC64(global_seed + k % 2)) for k in range(4)]
    gens[0].random(1, dtype=np.float32)  # a waiting half, as after a day of an odd market
    gens[2].random(1, dtype=np.float32)
    n = len(stage)
    u, ub = gens[2].random(n, dtype=np.float32), gens[3].random(n)
    want = jit_day.buys_and_moves(g, t, stage, m, u, ub, None, groups, mul, add)
    got = jit_day.buys_and_moves(g, t, stage, m, gens[0], gens[1], None, groups, mul, add)
    for x, y in zip([*want[0], *want[1], want[2]], [*got[0], *got[1], got[2]], strict=True):
        np.testing.assert_array_equal(x, y)
    assert len(want[1][0]) > 0
    assert gens[0].random(3, dtype=np.float32).tolist() == gens[2].random(3, np.float32).tolist()
    assert gens[1].random() == gens[3].random()


def test_inputs_of_other_dtypes_take_the_numpy_path(both, global_seed):
    # the compiled pass rounds like NumPy's float32 in-place steps only for float32 inputs:
    # anything else must take the NumPy code (and give its numbers)
    rng = np.random.default_rng(global_seed)
    g = _graph()
    stage, m, t, effects = _random_day(rng, g)
    groups = effect_groups(effects)
    n = len(stage)
    u32, ub = rng.random(n, dtype=np.float32), rng.random(n)
    m64 = m.astype(np.float64)
    mul, add = np.float32(1 + 1e-5), np.float32(1e-9)
    old = jit.set_enabled(True)
    try:
        assert jit_day.buys_and_moves(g, t, stage, m64, u32, ub, None, groups, mul, add) is None
        u64 = u32.astype(np.float64)
        assert jit_day.buys_and_moves(g, t, stage, m, u64, ub, None, groups, mul, add) is None
        ub32 = ub.astype(np.float32)
        assert jit_day.buys_and_moves(g, t, stage, m, u32, ub32, None, groups, mul, add) is None
        assert jit_day.buys_and_moves(g, t, stage, m, u32, ub, None, groups, mul, add) is not None
    finally:
        jit.set_enabled(old)
    a, b = both(lambda: buys_and_moves(g, t, stage, m64, u32, ub, None, effects))
    for x, y in zip([*a[0], *a[1], a[2]], [*b[0], *b[1], b[2]], strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("n", [5000, 5001, 5002, 5003, 3])
def test_count_is_bincount_and_falls_back_on_codes_out_of_range(both, global_seed, n):
    rng = np.random.default_rng(global_seed)
    codes = rng.integers(0, 6, n).astype(np.int8)
    codes[: n // 2] = np.sort(codes[: n // 2])  # runs of one code, as in a market by stage
    a, b = both(lambda: jit.count(codes, 6))
    np.testing.assert_array_equal(b, np.bincount(codes, minlength=6))
    np.testing.assert_array_equal(a, b)
    for code in (6, 8, -1):  # past the table: NumPy's answer, never a write out of bounds
        for at in {min(7, n - 1), n - 1}:  # in the blocks of four and in the tail
            bad = codes.copy()
            bad[at] = code
            if code < 0:
                with pytest.raises(ValueError):
                    jit.count(bad, 6)
                continue
            a, b = both(lambda bad=bad: jit.count(bad, 6))
            np.testing.assert_array_equal(b, np.bincount(bad, minlength=6))
            assert len(b) == code + 1


def test_stage_buckets_and_recency_filter_match_numpy(both, global_seed):
    rng = np.random.default_rng(global_seed)
    stage = rng.integers(0, 6, 3000).astype(np.int8)
    perm = rng.permutation(3000)
    last = rng.integers(-32768, 40, 3000).astype(np.int16)
    a, b = both(
        lambda: (
            *jit_marketing.buckets(perm, stage, 6),
            jit_marketing.not_since(perm[::3], last, 20),
        )
    )
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    people, counts = b[0], b[1]
    # independent reference: each stage's people, in the order of perm
    expect = np.concatenate([perm[stage[perm] == s] for s in range(6)])
    np.testing.assert_array_equal(people, expect)
    np.testing.assert_array_equal(counts, np.bincount(stage, minlength=6))
    np.testing.assert_array_equal(b[2], [p for p in perm[::3] if last[p] <= 20])


def test_referral_pool_count_and_picks_match_numpy(both, global_seed):
    rng = np.random.default_rng(global_seed)
    stage = rng.integers(0, 6, 5000).astype(np.int8)
    mask = np.array([True, False, True, False, False, True])
    pool = [i for i in range(5000) if mask[stage[i]]]  # independent reference, by hand
    picks = rng.choice(len(pool), 40, replace=False)
    ranks = np.sort(
        np.concatenate([[0, len(pool) - 1], picks[(picks > 0) & (picks < len(pool) - 1)]])
    )
    ranks = ranks.astype(np.intp)
    for r in (ranks, ranks[:1], ranks[-1:], ranks[:0]):
        a, b = both(
            lambda r=r: (jit_marketing.count_in(mask, stage), jit_marketing.nth_in(mask, stage, r))
        )
        assert a[0] == b[0] == len(pool)
        assert list(a[1]) == list(b[1]) == [pool[k] for k in r]
    for on in (False, True):  # a rank past the pool, or a code outside the mask: NumPy's error
        old = jit.set_enabled(on)
        try:
            with pytest.raises(IndexError):
                jit_marketing.nth_in(mask, stage, np.array([len(pool)], np.intp))
            bad = stage.copy()
            bad[4000] = 6
            with pytest.raises(IndexError):
                jit_marketing.count_in(mask, bad)
            with pytest.raises(IndexError):
                jit_marketing.nth_in(mask, bad, ranks[-1:])
        finally:
            jit.set_enabled(old)


def test_head_of_a_rolled_recency_filter_matches_numpy(both, global_seed):
    rng = np.random.default_rng(global_seed)
    last = rng.integers(-32768, 40, 3000).astype(np.int16)
    for people in (rng.permutation(3000)[:900], np.zeros(0, np.intp), np.array([7])):
        for start in sorted({0, len(people) // 3, max(len(people) - 1, 0)}):
            ring = people.tolist()[start:] + people.tolist()[:start]  # by hand
            for upto, limit in ((20, 0), (20, 1), (20, 50), (20, 5000), (-5, 10), (32767, 30)):
                a, b = both(
                    lambda p=people, s=start, u=upto, k=limit: jit_marketing.first_not_since(
                        p, last, u, s, k
                    )
                )
                assert a.dtype == b.dtype == people.dtype
                want = [p for p in ring if last[p] <= upto][:limit]
                assert a.tolist() == b.tolist() == want


def test_head_of_a_merge_of_stage_lists_matches_numpy(both, global_seed):
    rng = np.random.default_rng(global_seed)
    n = 3000
    perm = rng.permutation(n)
    rank = np.empty(n, np.int32)
    rank[perm] = np.arange(n)
    stage = rng.integers(0, 4, n).astype(np.int8)
    last = rng.integers(-32768, 40, n).astype(np.int16)
    runs = [perm[stage[perm] == s] for s in range(4)]  # each in the order of perm
    for parts in ([runs[0], runs[2]], [runs[1], runs[3], runs[0]], [runs[2], runs[2][:0]]):
        ring = [p for p in perm if any(p in set(r.tolist()) for r in parts)]  # by hand
        for start in sorted({0, 1, len(ring) // 2, len(ring) - 1}):
            rolled = ring[start:] + ring[:start]
            for upto, limit in ((20, 0), (20, 1), (20, 40), (20, 5000), (32767, 25), (-99, 5)):
                a, b = both(
                    lambda p=parts, s=start, u=upto, k=limit: jit_marketing.first_not_since_merged(
                        p, rank, last, u, s, k
                    )
                )
                want = [p for p in rolled if last[p] <= upto][:limit]
                assert a.tolist() == b.tolist() == want
                assert a.dtype == b.dtype == perm.dtype


def test_head_of_runs_of_a_bucket_array_found_at_every_start(both, global_seed):
    """The runs are slices of one array (a day's stage buckets); every start, small markets."""
    rng = np.random.default_rng(global_seed)
    for n in (1, 2, 7, 40, 300):
        perm = rng.permutation(n)
        rank = np.empty(n, np.int32)
        rank[perm] = np.arange(n)
        stage = rng.integers(0, 3, n).astype(np.int8)
        last = rng.integers(-5, 5, n).astype(np.int16)
        everyone = np.concatenate([perm[stage[perm] == s] for s in range(3)])
        counts = np.bincount(stage, minlength=3)
        lo, hi = np.cumsum(counts) - counts, np.cumsum(counts)
        for codes in ([0, 2], [2, 1, 0], [1, 2]):
            ring = [p for p in perm if stage[p] in codes]  # by hand
            for start in range(len(ring) + 1):
                rolled = ring[start:] + ring[:start]
                for upto, limit in ((0, 3), (9, n), (-9, 2)):
                    args = (everyone, lo[codes], hi[codes], rank, last, upto, start, limit)
                    a, b = both(lambda args=args: jit_marketing.first_not_since_runs(*args))
                    want = [p for p in rolled if last[p] <= upto][:limit]
                    assert a.tolist() == b.tolist() == want


def test_stage_index_lists_the_people_a_sort_by_stage_lists(global_seed):
    """The compiled index, synced after moves, against the ring of the order by hand."""
    from lifesim.engine.stage_index import StageIndex

    rng = np.random.default_rng(global_seed)
    for n in (1, 2, 63, 64, 65, 130, 700):
        perm = rng.permutation(n).astype(np.intp)
        rank = np.empty(n, np.int32)
        rank[perm] = np.arange(n)
        stage = rng.integers(0, 5, n).astype(np.int8)
        ix = StageIndex(perm, rank, stage, 6)
        for day in range(3):
            if day:  # some people move, some into a stage nobody was in
                moved = rng.random(n) < 0.2
                stage[moved] = rng.integers(0, 6, moved.sum())
                assert ix.sync(stage)
            last = rng.integers(-3, 3, n).astype(np.int16)
            for codes in ([0], [1, 3], [4, 2, 0], [5], [0, 1, 2, 3, 4, 5]):
                ring = [p for p in perm if stage[p] in codes]  # by hand
                assert ix.total(codes) == len(ring)
                for start in sorted({0, 1, len(ring) // 2, max(len(ring) - 1, 0), len(ring)}):
                    rolled = ring[start:] + ring[:start]
                    for upto, limit in ((0, 3), (9, None), (-9, 2), (2, 0), (32767, n)):
                        want = [p for p in rolled if last[p] <= upto][:limit]
                        got = ix.first_not_since(codes, last, upto, start, limit)
                        assert got.tolist() == want
                        assert got.dtype == perm.dtype
    bad = np.array([0, 9], dtype=np.int8)  # a code outside the index: not usable
    assert not StageIndex(np.arange(2), np.arange(2, dtype=np.int32), bad, 3).ok


def test_stage_index_skips_the_recently_contacted_as_the_check_of_each_would(global_seed):
    """Day maps of last contacts (16 days kept): the same people as checking everyone."""
    from lifesim.engine.stage_index import StageIndex

    rng = np.random.default_rng(global_seed)
    n = 900
    perm = rng.permutation(n).astype(np.intp)
    rank = np.empty(n, np.int32)
    rank[perm] = np.arange(n)
    stage = rng.integers(0, 3, n).astype(np.int8)
    last = np.full(n, -32768, np.int16)
    last[rng.random(n) < 0.3] = 0  # contacted before the index was built
    ix = StageIndex(perm, rank, stage, 3)
    masked = 0
    for day in range(1, 45):
        stage[rng.random(n) < 0.05] = rng.integers(0, 3, 1)[0]
        ix.sync(stage, last)
        # the top of the order is contacted most (as a careful strategy does)
        top = perm[: n // 3][rng.random(n // 3) < 0.4]
        last[top] = day  # after the sync: the walk must still leave them out
        masked += int(np.count_nonzero(ix.day_of > day - 7))
        for codes in ([0], [1, 2]):
            ring = [p for p in perm if stage[p] in codes]
            for gap in (1, 7, 16, 30):
                upto = day - gap
                for start in (0, len(ring) // 3):
                    rolled = ring[start:] + ring[:start]
                    want = [p for p in rolled if last[p] <= upto][:50]
                    got = ix.first_not_since(codes, last, upto, start, 50)
                    assert got.tolist() == want
    assert masked > 0  # the day maps were used


def test_first_served_people_match_numpy(global_seed):
    rng = np.random.default_rng(global_seed)
    stage = rng.integers(0, 5, 2000).astype(np.int8)
    mask = np.array([False, True, True, False, True])
    people = rng.permutation(2000)
    old = jit.set_enabled(True)
    try:
        for k in (0, 1, 30, 5000):
            got = jit_marketing.first_served(people, mask, stage, k)
            assert got.dtype == np.int32
            assert got.tolist() == [p for p in people if mask[stage[p]]][:k]  # by hand
        for bad in (np.array([3, 2000]), np.array([-1, 4])):  # NumPy answers these
            assert jit_marketing.first_served(bad, mask, stage, 5) is None
        odd = stage.copy()
        odd[people[0]] = 5
        assert jit_marketing.first_served(people, mask, odd, 5) is None
        jit.set_enabled(False)
        assert jit_marketing.first_served(people, mask, stage, 5) is None
    finally:
        jit.set_enabled(old)


def test_lapsed_store_entries_are_dropped_in_one_pass(global_seed):
    rng = np.random.default_rng(global_seed)
    n = 400
    for with_used in (False, True):
        e = Effect(
            np.sort(rng.choice(5000, n, replace=False)).astype(np.int32),
            np.ones(3),
            0,
            90,
            strength=rng.random(n).astype(np.float32),
            used=rng.random(n) < 0.3 if with_used else None,
            until_each=rng.integers(5, 15, n).astype(np.int32),
            period_each=rng.integers(0, 2, n).astype(np.int16),
        )
        old = jit.set_enabled(True)
        try:
            assert jit_marketing.drop_lapsed(e, 4, 1) == (None, 0)  # nothing lapses yet
            kept, released = jit_marketing.drop_lapsed(e, 9, 1)
            jit.set_enabled(False)
            assert jit_marketing.drop_lapsed(e, 9, 1) is None  # the caller's NumPy code runs
        finally:
            jit.set_enabled(old)
        stay = [i for i in range(n) if e.until_each[i] > 9]  # by hand
        for got, arr in zip(
            kept[:4], (e.idx, e.strength, e.until_each, e.period_each), strict=True
        ):
            assert got.dtype == arr.dtype
            assert got.tolist() == arr[stay].tolist()
        if with_used:
            assert kept[4].tolist() == e.used[stay].tolist()
            gone = [i for i in range(n) if e.until_each[i] <= 9]
            assert released == sum(1 for i in gone if not e.used[i] and e.period_each[i] == 1)
            assert released > 0
        else:
            assert kept[4] is None and released == 0


def test_end_of_day_fatigue_rounds_as_numpy(global_seed):
    rng = np.random.default_rng(global_seed)
    fat = rng.uniform(0.0, 6.0, 5000).astype(np.float32)
    sat = rng.uniform(0.0, 1.0, 5000).astype(np.float32)
    f32 = np.float32
    for with_sat in (False, True):
        f, s = fat.copy(), sat.copy()
        old = jit.set_enabled(True)
        try:
            assert jit_marketing.fatigue_day(f, s, f32(2.0), f32(0.37), f32(0.81), with_sat)
        finally:
            jit.set_enabled(old)
        want_s = sat.copy()
        if with_sat:  # the NumPy code written out: float32, rounded at every step
            over = np.maximum(fat - f32(2.0), f32(0)) * f32(0.37)
            want_s = np.maximum(sat - over, f32(0))
            assert (want_s < sat).any() and (want_s == 0).any()
        assert s.tobytes() == want_s.tobytes()
        assert f.tobytes() == (fat * f32(0.81)).tobytes()
    old = jit.set_enabled(False)
    try:
        assert not jit_marketing.fatigue_day(fat, sat, f32(2.0), f32(0.37), f32(0.81), True)
    finally:
        jit.set_enabled(old)


def test_contact_bookkeeping_rounds_as_numpy(global_seed):
    rng = np.random.default_rng(global_seed)
    n = 3000
    fat = rng.uniform(0.0, 6.0, n).astype(np.float32)
    sat = rng.uniform(0.0, 1.0, n).astype(np.float32)
    last = rng.integers(-32768, 40, n).astype(np.int16)
    idx = np.sort(rng.choice(n, 700, replace=False)).astype(np.int32)
    f32 = np.float32
    for add_s, with_sat in ((0.3, True), (-0.45, True), (0.3, False)):
        f, s, la, lw = fat.copy(), sat.copy(), last.copy(), last.copy()
        old = jit.set_enabled(True)
        try:
            assert jit_marketing.after_contact(
                idx, f, f32(0.35), la, lw, 41, s, f32(add_s), with_sat
            )
        finally:
            jit.set_enabled(old)
        # the NumPy code written out: float32 sums, satisfaction clipped to [0, 1]
        want_f, want_s, want_l = fat.copy(), sat.copy(), last.copy()
        want_f[idx] += f32(0.35)
        want_l[idx] = 41
        if with_sat:
            want_s[idx] = np.clip(sat[idx] + f32(add_s), 0, 1)
            assert (want_s[idx] == (1 if add_s > 0 else 0)).any()
        assert f.tobytes() == want_f.tobytes() and s.tobytes() == want_s.tobytes()
        assert la.tolist() == lw.tolist() == want_l.tolist()
    before = fat.copy()
    old = jit.set_enabled(False)
    try:  # without numba nothing is done: the caller's NumPy code runs
        assert not jit_marketing.after_contact(idx, fat, f32(1), last, last, 1, sat, f32(1), True)
    finally:
        jit.set_enabled(old)
    assert fat.tobytes() == before.tobytes()


def test_redemptions_are_found_as_numpy_finds_them(global_seed):
    rng = np.random.default_rng(global_seed)
    idx = np.sort(rng.choice(2000, 300, replace=False)).astype(np.int32)
    used = rng.random(300) < 0.3
    who = np.sort(rng.choice(2000, 400, replace=False)).astype(np.intp)
    who = np.concatenate([who, who[:3], [idx[0], idx[-1], 5000]])  # repeats and the ends
    served = np.where(rng.random(len(who)) < 0.2, np.int16(4), np.int16(-1))
    # by hand: a buyer not served yet who holds an unused offer uses it
    want = [int(np.flatnonzero(idx == w)[0]) for j, w in enumerate(who)
            if served[j] < 0 and w in idx and not used[idx == w][0]]  # fmt: skip
    u, code = used.copy(), served.copy()
    old = jit.set_enabled(True)
    try:
        got = jit_marketing.redeem_hits(idx, u, who, code, 7)
        jit.set_enabled(False)
        assert jit_marketing.redeem_hits(idx, used.copy(), who, served.copy(), 7) is None
    finally:
        jit.set_enabled(old)
    assert got.tolist() == want and len(want) > 10
    assert u.tolist() == [bool(used[i]) or i in want for i in range(300)]
    hit = [served[j] < 0 and w in idx and not used[idx == w][0] for j, w in enumerate(who)]
    assert code.tolist() == [7 if h else int(c) for h, c in zip(hit, served, strict=True)]


def test_draws_at_positions_are_the_streams_own_and_leave_it_in_place(both, global_seed):
    rng = np.random.default_rng(global_seed)
    cases = [
        (100_000, np.sort(rng.choice(100_000, 300, replace=False))),
        (10, np.array([0, 0, 3, 9])),  # repeats and both ends
        (5, np.zeros(0, np.intp)),
        (1, np.array([0], np.int32)),
    ]
    for bits in (np.random.SFC64, np.random.PCG64):
        for n, pos in cases:

            def run(n=n, pos=pos, bits=bits):
                g = np.random.Generator(bits(global_seed))
                got = jit_marketing.draws_at(g, n, pos)
                return got, g.random(3), g.choice(1000, 4, replace=False), g.integers(0, 2**40)

            ref = np.random.Generator(bits(global_seed))
            want = (ref.random(n)[pos], ref.random(3), ref.choice(1000, 4, replace=False))
            want = (*want, ref.integers(0, 2**40))
            for got in both(run):
                assert got[0].tobytes() == want[0].tobytes()
                assert got[1].tobytes() == want[1].tobytes()
                assert got[2].tolist() == want[2].tolist() and got[3] == want[3]


def test_churn_extra_and_ticket_draws_round_as_numpy(global_seed):
    rng = np.random.default_rng(global_seed)
    n = 5000
    cm = rng.uniform(0.2, 3.0, n).astype(np.float32)
    sat = rng.uniform(-0.5, 1.5, n).astype(np.float32)
    fat = rng.uniform(0.0, 6.0, n).astype(np.float32)
    f32 = np.float32
    old = jit.set_enabled(True)
    try:
        for se in (None, sat):
            for use_fat in (False, True):
                got = jit.churn_extra(cm, se, fat, 2.0, 0.37, 3.1, use_fat)
                # the NumPy code written out: float32, rounded at every step
                want = cm.copy()
                if se is not None:
                    want *= f32(1) + se
                if use_fat:
                    over = np.maximum(fat - f32(2.0), 0) * f32(0.37) + f32(1)
                    want *= np.minimum(over, f32(3.1))
                want -= f32(1)
                assert got.dtype == np.float32
                np.testing.assert_array_equal(got, want)
        stage = rng.integers(0, 6, n).astype(np.int8)
        table = rng.uniform(0, 0.3, 6).astype(np.float32) + rng.uniform(0, 0.1, 6)
        us = rng.random(n)
        np.testing.assert_array_equal(
            jit.below_table(us, table, stage), np.flatnonzero(us < table[stage])
        )
        assert jit.churn_extra(cm.astype(np.float64), None, fat, 2.0, 0.37, 3.1, True) is None
    finally:
        jit.set_enabled(old)


def test_days_when_most_people_move_or_buy_grow_the_output(global_seed):
    # the compiled pass starts with room for a few percent of the market and doubles it
    rng = np.random.default_rng(global_seed)
    g = _graph()
    n = 3000
    stage, m, _, effects = _random_day(rng, g, n=n)
    t = DayTables.make(g, np.full(g.n_edges, 40.0), np.zeros(g.n_edges, np.int16))
    u = rng.random(n, dtype=np.float32)
    ub = rng.random(n) * 1e-3
    # the one-pass day: most people buy and move on the same day
    mul, add = np.float32(1 + 1e-5), np.float32(1e-9)
    buying = stage.copy()
    buying[: n // 2] = g.index("retention")
    t.buy_b[:] = 0.9
    fused = jit_day.buys_and_moves(g, t, buying, m, u, ub, None, effect_groups(effects), mul, add)
    old = jit.set_enabled(False)
    try:
        mods = build_modifiers(effects, buying, g)
        want = [*buy_step(t, buying, m, ub, mods), *transition_step(g, t, buying, m, u, None, mods)]
    finally:
        jit.set_enabled(old)
    assert len(fused[0][0]) > 1024 + n // 32 and len(fused[1][0]) > 1024 + n // 32
    for x, y in zip(want, [*fused[0], *fused[1]], strict=True):
        np.testing.assert_array_equal(x, y)


def test_in_stages_is_flatnonzero_of_the_mask(both, global_seed):
    rng = np.random.default_rng(global_seed)
    stage = rng.integers(0, 6, 4000).astype(np.int8)
    mask = np.array([True, False, True, False, False, True])
    a, b = both(lambda: jit.in_stages(mask, stage))
    np.testing.assert_array_equal(b, np.flatnonzero(mask[stage]))
    np.testing.assert_array_equal(a, b)
    assert b.dtype == a.dtype


class _Random:
    """A user's own strategy: random people of every stage, a frequency cap, explicit money."""

    name = "mine"

    def __init__(self, tactics):
        self._t = list(tactics)

    def tactics(self):
        return set(self._t)

    def decide(self, view):
        stages = [s for s in view.stage_names if s != "churned"]
        for i, t in enumerate(self._t):
            people = view.people_in(stages[i % len(stages) :][:2], 3, order="random", key=t)
            people = view.shuffled(people, key=t)
            view.contact(t, people[: max(1, len(people) // 7)], view.allowance() / len(self._t))


@pytest.mark.parametrize(
    "path, kw",
    [
        ("launch_one_off.yaml", dict(strategy="stage_focused")),  # fatigue, one-off offers
        ("study_interference.yaml", dict(strategy="referrals")),
        ("study_short_kpi_trap.yaml", dict(strategy="blanket_discount", record_events=False)),
        ("ecommerce.yaml", dict(strategy="churn_targeted")),
        ("ecommerce.yaml", dict(strategy="mine")),
        ("b2b.yaml", dict(strategy="stage_focused", customers=1)),
        ("subscription.yaml", dict(strategy="kpi_focused", customers=3, days=1)),
        ("default.yaml", dict(strategy="stage_focused", budget=0.0)),
        ("default.yaml", dict(strategy="kpi_focused", budget=1e12)),
        ("default.yaml", dict(strategy="stage_focused", initial=True)),
    ],
    ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()),
)
def test_more_scenarios_strategies_and_edges_are_bit_identical(both, path, kw, global_seed,
                                                               configs_dir):  # fmt: skip
    kw = {"customers": 400, "days": 40, **kw}
    scn = lifesim.load_scenario(configs_dir / path)
    if "budget" in kw:
        scn = lifesim.Scenario.model_validate(
            {**scn.model_dump(), "budget": {**scn.budget.model_dump(), "per_period": kw["budget"]}}
        )
        del kw["budget"]
    if kw.pop("initial", False):
        rng = np.random.default_rng(global_seed)
        kw["initial"] = {"stage": rng.choice(list(scn.stages), 300)}
        del kw["customers"]

    def run():
        strategy = kw.get("strategy")
        if strategy == "mine":
            strategy = _Random([t for t, s in scn.tactics.items() if s.mode == "contact"])
        res = lifesim.simulate(scn, seed=global_seed, **{**kw, "strategy": strategy})
        flows = res.flows().to_csv() if res.events_recorded else ""
        return _digest(res) + flows + repr(res.summary())

    a, b = both(run)
    assert a == b


def test_codes_outside_a_table_get_numpys_answer(both):
    # the compiled loops check each code and hand over to NumPy (never read out of bounds)
    codes = np.array([0, 1, 5, 2], np.int8)
    mask = np.array([True, False, True])
    for fn in (
        lambda: jit.in_stages(mask, codes),
        lambda: jit.below_table(np.zeros(4), 1.0 * mask, codes),
    ):
        old = jit.set_enabled(True)
        try:
            with pytest.raises(IndexError):
                fn()
        finally:
            jit.set_enabled(old)
    a, b = both(lambda: jit_marketing.buckets(np.arange(4), codes, 3))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_contact_checks_find_the_first_stray_and_repeats_as_numpy(both, global_seed):
    """The range and repeat checks of a contact: compiled and NumPy give the same answers."""
    rng = np.random.default_rng(global_seed)
    cases = [np.zeros(0, np.int64), np.array([5], np.int64), np.array([-1], np.int32)]
    for _ in range(200):
        k = int(rng.integers(1, 40))
        cases.append(rng.integers(-3, 60, k).astype(rng.choice([np.int64, np.int32])))

    def answers():
        out = []
        for people in cases:
            out.append(jit_marketing.first_outside(people, 50))
            s = np.sort(people)
            out.append(jit_marketing.has_repeats(s))
        return out

    numpy_way, compiled = both(answers)
    assert numpy_way == compiled
    by_hand = []
    for people in cases:
        bad = [i for i, p in enumerate(people.tolist()) if not 0 <= p < 50]
        by_hand += [bad[0] if bad else -1, len(set(people.tolist())) < len(people)]
    assert compiled == by_hand
    assert -1 in by_hand[::2] and any(b >= 0 for b in by_hand[::2])  # both answers occur
    assert True in by_hand[1::2] and False in by_hand[1::2]
