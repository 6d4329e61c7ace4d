import pickle

import pandas as pd
import pytest
import skops.io as sio

from lifesim.churn import ChurnModel, TrainedChurnModel, load_model, prepare, score, train
from lifesim.errors import DataError


class Evil:
    """A type lifesim does not trust."""

    def __init__(self):
        self.x = 1


@pytest.fixture(scope="module")
def trained(synth):
    log = prepare(synth, observed_until=399)
    return log, train(log, 250, 120, model=ChurnModel(max_iter=40), random_state=0)


@pytest.mark.parametrize("kind", ["boosting", "logistic"])
def test_round_trip_gives_identical_scores(tmp_path, synth, kind):
    log = prepare(synth, observed_until=399)
    t = train(log, 250, 120, model=ChurnModel(kind=kind, max_iter=40), random_state=0)
    path = t.save(tmp_path / "m.skops")
    back = load_model(path)
    assert back.feature_names == t.feature_names and back.spec == t.spec
    assert back.definition == t.definition and back.meta["n_customers"] == t.meta["n_customers"]
    a, b = score(log, t).table, score(log, back).table
    pd.testing.assert_frame_equal(a, b)
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no leftovers


def test_untrusted_types_are_refused(tmp_path):
    payload = {"format": "lifesim.churn.model/1", "model": Evil(), "meta": "{}"}
    sio.dump(payload, tmp_path / "e.skops")
    with pytest.raises(DataError, match=r"refusing to load.*test_persistence\.Evil"):
        load_model(tmp_path / "e.skops")


def test_pickles_and_foreign_files_are_refused(tmp_path, trained):
    _, t = trained
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(t.model))
    with pytest.raises(DataError, match="not a skops model file"):
        load_model(tmp_path / "m.pkl")
    sio.dump({"a": 1}, tmp_path / "other.skops")
    with pytest.raises(DataError, match="not a lifesim churn model"):
        load_model(tmp_path / "other.skops")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.skops")


def test_scores_table(trained, tmp_path):
    log, t = trained
    s = score(log, t)
    tab = s.to_pandas()
    assert tab["churn_probability"].between(0, 1).all()
    assert sorted(tab["rank"]) == list(range(1, len(tab) + 1))
    assert s.definition.cutoff == "day 399" and "P(churn in (day 399, +120 days])" in s.summary()
    s.to_csv(tmp_path / "s.csv")
    assert len(pd.read_csv(tmp_path / "s.csv")) == len(tab)
    assert "churn_probability" in s._repr_html_()
    assert isinstance(TrainedChurnModel.load(t.save(tmp_path / "x.skops")), TrainedChurnModel)


def test_holdout_calibrated_model_round_trip(tmp_path, synth):
    log = prepare(synth, observed_until=399)
    t = train(log, 250, 120, model=ChurnModel(cv=0.25, max_iter=20), random_state=0)
    back = load_model(t.save(tmp_path / "h.skops"))
    pd.testing.assert_frame_equal(score(log, t).table, score(log, back).table)


def test_results_share_the_house_interface(trained):
    import json

    from lifesim.churn import Metrics, build_dataset

    log, t = trained
    ds = build_dataset(log, 250, 120)
    m = Metrics.from_predictions([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])
    for obj in (t, ds, m, score(log, t)):
        json.dumps(obj.to_dict())
        assert isinstance(obj.to_pandas(), pd.DataFrame)
        assert obj.summary() and obj._repr_html_()
