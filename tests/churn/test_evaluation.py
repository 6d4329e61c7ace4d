import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from lifesim.churn import (
    ChurnModel,
    Metrics,
    build_dataset,
    calibration_table,
    evaluate,
    evaluate_dataset,
    prepare,
)
from lifesim.errors import DataError

KEYS = ["roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift", "churn_rate", "n_customers"]


def test_metrics_match_sklearn_and_lift_by_hand():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    m = Metrics.from_predictions(y, p)
    assert m.roc_auc == pytest.approx(roc_auc_score(y, p))
    assert m.pr_auc == pytest.approx(average_precision_score(y, p))
    assert m.brier == pytest.approx(brier_score_loss(y, p))
    assert m.log_loss == pytest.approx(log_loss(y, p))
    top = np.argsort(-p, kind="stable")[:20]
    assert m.top_decile_lift == pytest.approx(y[top].mean() / y.mean())
    assert m.n_customers == 200 and m.n_churned == int(y.sum())


def test_calibration_table_bins():
    y = np.array([0, 0, 1, 1] * 25)
    p = np.linspace(0, 1, 100)
    t = calibration_table(y, p, n_bins=4)
    assert t["n"].tolist() == [25] * 4 and list(t.columns) == [
        "bin",
        "n",
        "p_min",
        "p_max",
        "mean_predicted",
        "observed_rate",
    ]
    assert t["mean_predicted"].is_monotonic_increasing


@pytest.fixture(scope="module")
def log(synth):
    return prepare(synth, observed_until=399)


@pytest.fixture(scope="module")
def ev(log):
    return evaluate(log, 250, 120, model=ChurnModel(max_iter=60), random_state=0)


def test_evaluation_beats_baseline_and_has_the_contract_keys(ev):
    d = ev.to_dict()
    for k in KEYS:
        assert k in d and k in d["baseline"]
    assert d["roc_auc"] > 0.65
    assert d["roc_auc"] >= d["baseline"]["roc_auc"] - 0.02
    assert d["definition"]["text"].startswith("churned = no purchase in (day 250, day 370]")
    assert len(d["calibration"]) == 10 and d["validation"]["n_splits"] == 5
    json.dumps(d)  # JSON-able


def test_result_renders(ev):
    s = ev.summary()
    assert "churn definition: churned = no purchase" in s and "roc_auc" in s
    assert "baseline" in ev._repr_html_() and "churn definition" in ev._repr_html_()
    df = ev.to_pandas()
    assert "model" in df.columns and "roc_auc" in df.index
    assert ev.predictions.shape[0] == ev.model.n_customers
    with pytest.raises(AttributeError):
        ev.validation = "time"  # frozen


def test_seeded_evaluation_is_reproducible(log):
    a = evaluate(log, 250, 120, model=ChurnModel(kind="logistic"), random_state=3)
    b = evaluate(log, 250, 120, model=ChurnModel(kind="logistic"), random_state=3)
    assert a.model == b.model


def test_time_validation_trains_earlier(log):
    ev = evaluate(log, 250, 120, model=ChurnModel(max_iter=60), validation="time", random_state=0)
    assert ev.train_definition.cutoff == "day 130" and ev.definition.cutoff == "day 250"
    assert ev.to_dict()["validation"]["train_definition"]["cutoff"] == "day 130"
    assert ev.model.roc_auc > 0.6
    with pytest.raises(DataError, match="before the data starts.*--train-cutoff"):
        evaluate(log, 100, 120, validation="time")
    msg = r"train_cutoff == 200: its labels run to day 300.*<= day 150"
    with pytest.raises(DataError, match=msg):
        evaluate(log, 250, 100, validation="time", train_cutoff=200)
    ev = evaluate(
        log, 250, 100, model=ChurnModel(kind="logistic"), validation="time", train_cutoff=120
    )
    assert ev.train_definition.cutoff == "day 120"


def test_bad_validation_and_too_few_churners(log, tiny):
    with pytest.raises(DataError, match=r"validation == 'folds'; allowed: customers, time"):
        evaluate(log, 250, 120, validation="folds")
    small = prepare(tiny, observed_until=20)
    with pytest.raises(DataError, match="smaller class"):
        evaluate(small, 10, 10)


def test_evaluate_dataset_baseline_choice(log):
    ds = build_dataset(log, 250, 120)
    ev = evaluate_dataset(ds, ChurnModel(kind="logistic"), n_splits=3, baseline="frequency")
    assert ev.baseline_name == "frequency"
    with pytest.raises(DataError, match="baseline feature 'nope'"):
        evaluate_dataset(ds, n_splits=3, baseline="nope")
    ds2 = type(ds)(X=ds.X.drop(columns=["recency", "tenure"]), y=ds.y, definition=None)
    ev2 = evaluate_dataset(ds2, ChurnModel(kind="logistic"), n_splits=3)
    assert ev2.baseline_name == "churn rate" and abs(ev2.baseline.roc_auc - 0.5) < 0.05
    assert "snapshot" in ev2.summary()


@pytest.mark.parametrize("n", [1, 0, 2.0, True, "3"])
def test_n_splits_must_be_a_whole_number_of_at_least_two(log, n):
    ds = build_dataset(log, 250, 120)
    with pytest.raises(DataError, match=rf"^n_splits: must be a whole number >= 2, got {n!r}$"):
        evaluate_dataset(ds, n_splits=n)


def test_the_model_minus_baseline_roc_auc_comes_with_delongs_paired_interval(ev):
    """The difference on the same customers, its 95% CI and p (DeLong), in JSON and text."""
    from lifesim.churn.metrics import roc_auc_delong

    d = ev.to_dict()["roc_auc_difference"]
    pr = ev.predictions
    auc, cov = roc_auc_delong(pr["churned"], pr["p_model"], pr["p_baseline"])
    assert d["difference"] == pytest.approx(d["lower"] / 2 + d["upper"] / 2)
    assert d["difference"] == pytest.approx(ev.model.roc_auc - ev.baseline.roc_auc)
    se = np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert d["upper"] - d["lower"] == pytest.approx(2 * 1.959964 * se)
    z = d["difference"] / se
    from scipy.stats import norm

    assert d["p_value"] == pytest.approx(2 * norm.sf(abs(z)))
    assert "DeLong" in d["method"] and d["level"] == 0.95
    assert "ROC-AUC model - baseline: " in ev.summary()
    assert "ROC-AUC model - baseline: " in ev._repr_html_()
    json.dumps(d)


def test_a_difference_whose_interval_includes_zero_is_noted():
    """Two scores of equal skill on few customers: a lead that the interval does not support."""
    from lifesim.churn.evaluation import _auc_difference, _notes

    rng = np.random.default_rng(4)
    y = rng.random(400) < 0.3
    found = 0
    for _ in range(40):  # independent noisy scores of the same signal: equal true AUC
        a, b = y + rng.normal(0, 1.2, 400), y + rng.normal(0, 1.2, 400)
        d = _auc_difference(y.astype(int), a, b)
        ma, mb = (
            Metrics.from_predictions(y, 1 / (1 + np.exp(-a))),
            Metrics.from_predictions(y, 1 / (1 + np.exp(-b))),
        )
        notes = _notes(ma, mb, d)
        if ma.roc_auc > mb.roc_auc + 0.005 and d["lower"] <= 0:
            found += 1
            assert any("includes 0" in n for n in notes)
        if d["lower"] > 0:
            assert not any("includes 0" in n for n in notes)
    assert found > 0  # the case occurred
