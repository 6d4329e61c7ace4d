"""Real and simulated logs work unchanged: CDNOW (from `lifetimes`) and lifesim.simulate."""

import json
from pathlib import Path

import pandas as pd
import pytest

import lifesim
from lifesim import churn
from lifesim.cli import main


def test_cdnow_file_as_shipped_beats_bgnbd(cdnow_path, capsys):
    """CDNOW_master.txt, unedited: cutoff 1997-09-30, 39-week horizon; BG/NBD gets ~0.76."""
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "churn",
                "evaluate",
                str(cdnow_path),
                "--customer-col",
                "customer_id",
                "--time-col",
                "date",
                "--amount-col",
                "dollar_value",
                "--cutoff",
                "1997-09-30",
                "--horizon-days",
                "273",
                "--format",
                "json",
                "--n-splits",
                "3",
            ]
        )
    assert exc.value.code in (0, None)
    d = json.loads(capsys.readouterr().out)
    assert d["n_customers"] == 23570  # the whole CDNOW cohort bought in Q1 1997
    assert 0.69 < d["churn_rate"] < 0.71
    assert d["roc_auc"] > 0.765 and d["roc_auc"] > d["baseline"]["roc_auc"]
    assert d["definition"]["end"] == "1998-06-30"


CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def sim():
    return lifesim.simulate(CONFIGS / "reference.yaml", seed=1, customers=3000, days=365)


def test_simulator_logs_work_unchanged(sim):
    log = churn.prepare(sim.purchases, events=sim.events)
    assert log.time_kind == "day" and log.columns["transactions"]["customer"] == "person"
    ds = churn.build_dataset(log, 200, 120)
    assert {"stage", "days_in_stage", "moves", "past_churns", "exposures_30d"} <= set(ds.X)
    # the stage at T is the to_stage of each person's last event on or before T
    ev = sim.events[sim.events["day"] <= 200]
    last = ev.groupby("person", observed=True).tail(1).set_index("person")["to_stage"]
    got = ds.X["stage"].astype(str)
    pd.testing.assert_series_equal(
        got, last.astype(str).reindex(got.index), check_names=False, check_index_type=False
    )
    ev_c = churn.evaluate(
        log, 200, 120, model=churn.ChurnModel(max_iter=50), n_splits=3, random_state=0
    )
    assert ev_c.model.n_customers == ds.n_customers and ev_c.model.roc_auc > 0.6


def test_simulation_result_and_run_folder_are_inputs(sim, tmp_path):
    log = churn.prepare(sim)  # the result object itself
    assert log.last_day == sim.days - 1
    d = churn.define(log, 250, 114, mode="contractual")
    assert d.end == "day 364"
    ds = churn.build_dataset(log, 250, 114, mode="contractual")
    # contractual: everyone at risk is not in the churned stage at T
    assert (ds.X["stage"].astype(str) != "churned").all()
    sim.save(tmp_path / "run")
    log2 = churn.prepare(tmp_path / "run")
    ds2 = churn.build_dataset(log2, 250, 114, mode="contractual")
    pd.testing.assert_frame_equal(ds.X, ds2.X, check_categorical=False)


def test_simulator_model_for_a_strategy(sim):
    """What a churn-targeted strategy does: train on the history so far, score today."""
    log = churn.prepare(sim.purchases, events=sim.events, observed_until=sim.days - 1)
    today = 300
    data = churn.build_dataset(log, today - 90, 90)
    model = churn.ChurnModel(kind="logistic", random_state=0).fit(data.X, data.y)
    now = churn.build_features(log, today, spec=data.spec)
    p = model.predict_churn(now.X)
    assert p.index.name == "person" and p.between(0, 1).all() and len(p) == now.n_customers


def test_simulation_schema_preset_on_both_logs(sim):
    schema = churn.TransactionSchema.simulation()
    log = churn.prepare(sim.purchases, events=sim.events, schema=schema)
    assert log.columns["events"]["stage"] == "to_stage"
    assert log.columns["transactions"]["stage"] is None  # purchases carry no stage
    with pytest.raises(lifesim.DataError, match=r"column 'mood' \(satisfaction.*not found"):
        churn.prepare(
            sim.purchases, events=sim.events, schema=churn.TransactionSchema(satisfaction="mood")
        )


def test_categorical_model_round_trip(sim, tmp_path):
    log = churn.prepare(sim)
    for kind in ("boosting", "logistic"):
        t = churn.train(log, 200, 120, model=churn.ChurnModel(kind=kind, max_iter=30))
        back = churn.load_model(t.save(tmp_path / f"{kind}.skops"))
        assert back.model.categorical_.any()  # the stage column
        pd.testing.assert_frame_equal(churn.score(log, t).table, churn.score(log, back).table)
