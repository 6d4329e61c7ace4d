"""Stage flows of one run: counts by cause, conservation, transition matrices, no-log error."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lifesim
from lifesim.engine.flows import NoEventLogError, flow_table, start_counts
from lifesim.errors import ConfigError

STAGES = ["awareness", "consideration", "purchase", "churned"]
CAUSES = ["organic", "ads", "email"]


def _log(rows):
    frm, to, cause = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "person": np.arange(len(rows)),
            "day": np.zeros(len(rows), dtype=np.int16),
            "from_stage": pd.Categorical(frm, categories=STAGES),
            "to_stage": pd.Categorical(to, categories=STAGES),
            "cause": pd.Categorical(cause, categories=CAUSES),
        }
    )


def test_flow_table_counts_a_hand_made_log():
    log = _log(
        [
            ("awareness", "consideration", "ads"),
            ("awareness", "consideration", "ads"),
            ("awareness", "consideration", "organic"),
            ("consideration", "purchase", "email"),
            ("consideration", "awareness", "organic"),
            ("awareness", "consideration", "ads"),
            ("purchase", "churned", "organic"),
        ]
    )
    f = flow_table(log, STAGES)
    got = {(r.from_stage, r.to_stage, r.cause): r.moves for r in f.itertuples()}
    assert got == {
        ("awareness", "consideration", "organic"): 1,
        ("awareness", "consideration", "ads"): 3,
        ("consideration", "awareness", "organic"): 1,
        ("consideration", "purchase", "email"): 1,
        ("purchase", "churned", "organic"): 1,
    }
    # stage order, then cause order
    assert list(f["from_stage"]) == [
        "awareness",
        "awareness",
        "consideration",
        "consideration",
        "purchase",
    ]
    assert list(f["cause"])[:2] == ["organic", "ads"]
    assert f["moves"].dtype == np.int64


def test_flow_table_of_an_empty_log_is_empty():
    f = flow_table(_log([("awareness", "churned", "organic")]).iloc[:0], STAGES)
    assert len(f) == 0
    assert list(f.columns) == ["from_stage", "to_stage", "cause", "moves"]


@pytest.fixture(scope="module")
def run():
    stage = ["awareness"] * 40 + ["consideration"] * 30 + ["retention"] * 20 + ["churned"] * 10
    return lifesim.simulate(
        "configs/reference.yaml",
        seed=7,
        days=40,
        strategy="stage_focused",
        initial={"stage": stage},
    )


def test_flows_equal_a_loop_over_the_event_log(run):
    want = Counter(
        (str(a), str(b), str(c))
        for a, b, c in zip(
            run.events["from_stage"], run.events["to_stage"], run.events["cause"], strict=True
        )
    )
    got = {
        (str(r.from_stage), str(r.to_stage), str(r.cause)): r.moves
        for r in run.flows().itertuples()
    }
    assert got == dict(want)
    assert len(want) > 3  # several flows, more than one cause
    assert len({c for _, _, c in want}) > 1


def test_flows_conserve_people(run):
    """start + inflows - outflows = end, per stage; the start is the run's given market."""
    f = run.flows()
    start = run.people["initial_stage"].astype(str).value_counts()
    end = run.stage_counts.iloc[-1]
    for s in run.stage_names:
        inflow = int(f.loc[f["to_stage"] == s, "moves"].sum())
        outflow = int(f.loc[f["from_stage"] == s, "moves"].sum())
        assert start.get(s, 0) + inflow - outflow == end[s], s
    assert run.start_counts().to_dict() == {s: int(start.get(s, 0)) for s in run.stage_names}


def test_transition_matrices(run):
    counts = run.transition_matrix()
    assert list(counts.index) == list(run.stage_names) == list(counts.columns)
    assert int(counts.to_numpy().sum()) == len(run.events)
    assert (np.diag(counts.to_numpy()) == 0).all()
    moves = run.transition_matrix("moves")
    left = counts.sum(axis=1)
    for s in run.stage_names:
        if left[s]:
            assert moves.loc[s].sum() == pytest.approx(1.0)
        else:
            assert moves.loc[s].isna().all()
    # daily: moves over person-days, from each person's timeline rebuilt by a loop
    days = run.days
    stage = run.people["initial_stage"].astype(str).to_numpy().copy()
    moves_by_day = {}
    for r in run.events.itertuples():
        moves_by_day.setdefault(r.day, []).append((r.person, str(r.to_stage)))
    person_days = Counter()
    for d in range(days):
        person_days.update(stage.tolist())
        for p, to in moves_by_day.get(d, []):
            stage[p] = to
    daily = run.transition_matrix("daily")
    for a in run.stage_names:
        for b in run.stage_names:
            if a != b and person_days[a]:
                assert daily.loc[a, b] == pytest.approx(counts.loc[a, b] / person_days[a])
        if person_days[a]:
            assert daily.loc[a].sum() == pytest.approx(1.0)
            stay = 1 - counts.loc[a].sum() / person_days[a]
            assert daily.loc[a, a] == pytest.approx(stay)


def test_bad_normalize_names_the_choices(run):
    with pytest.raises(ConfigError, match=r"normalize: must be one of None, 'moves', 'daily'"):
        run.transition_matrix("rows")


def test_a_run_without_event_log_says_how_to_get_one():
    res = lifesim.simulate(seed=3, customers=50, days=5, record_events=False)
    assert not res.events_recorded
    for call in (res.flows, res.transition_matrix, res.start_counts):
        with pytest.raises(NoEventLogError, match=r"record_events=True"):
            call()
    assert lifesim.simulate(seed=3, customers=50, days=5).events_recorded


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    days=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_start_counts_recover_any_start_from_random_timelines(n, days, seed):
    """People wander between 4 stages at random; the flows give back where they started."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, len(STAGES), n)
    stage = start.copy()
    rows = []
    for d in range(days):
        for p in range(n):
            if rng.random() < 0.4:
                to = (stage[p] + rng.integers(1, len(STAGES))) % len(STAGES)
                rows.append((p, d, STAGES[stage[p]], STAGES[to], CAUSES[rng.integers(3)]))
                stage[p] = to
    log = pd.DataFrame(
        {
            "person": [r[0] for r in rows],
            "day": [r[1] for r in rows],
            "from_stage": pd.Categorical([r[2] for r in rows], categories=STAGES),
            "to_stage": pd.Categorical([r[3] for r in rows], categories=STAGES),
            "cause": pd.Categorical([r[4] for r in rows], categories=CAUSES),
        }
    )
    f = flow_table(log, STAGES)
    assert int(f["moves"].sum()) == len(rows)
    end = pd.Series(np.bincount(stage, minlength=len(STAGES)), index=STAGES)
    got = start_counts(f, end)
    assert got.tolist() == np.bincount(start, minlength=len(STAGES)).tolist()


def test_run_folder_has_the_flows_table_when_there_is_an_event_log(run, tmp_path):
    out = run.save(tmp_path / "run")
    back = pd.read_parquet(out / "flows.parquet")
    assert back["moves"].tolist() == run.flows()["moves"].tolist()
    assert "flows" in json.loads((out / "manifest.json").read_text())["tables"]
    bare = lifesim.simulate(seed=3, customers=50, days=5, record_events=False)
    out = bare.save(tmp_path / "bare")
    assert not (out / "flows.parquet").exists()
    assert "flows" not in json.loads((out / "manifest.json").read_text())["tables"]
