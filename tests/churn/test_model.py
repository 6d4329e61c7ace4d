import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from lifesim.churn import ChurnModel


def _expected_failures(estimator):
    """Where a weight of 2 is not the same as a copied row, by design.

    Internal CV (calibration, model selection) splits rows, so a copy can land in another fold
    (scikit-learn marks the same check as expected to fail for CalibratedClassifierCV); the
    logistic family fits its scaler and imputer without weights. Boosting without internal CV
    must pass the check.
    """
    p = estimator.get_params()
    if p["calibration"] is None and p["kind"] == "boosting":
        return {}
    why = "internal CV splits rows" if p["calibration"] else "scaler fitted unweighted"
    return {
        "check_sample_weight_equivalence_on_dense_data": why,
        "check_sample_weight_equivalence_on_sparse_data": why,
    }


@parametrize_with_checks(
    [
        ChurnModel(max_iter=15, random_state=0),
        ChurnModel(kind="logistic", random_state=0),
        ChurnModel(kind="boosting", calibration=None, max_iter=15, random_state=0),
        ChurnModel(kind="logistic", feature_transform="log", calibration=None, random_state=0),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(600, n_features=6, n_informative=4, random_state=3)
    return X, y


def test_params_live_in_init_and_fit_returns_self(data):
    m = ChurnModel(kind="logistic", C=0.5)
    assert m.get_params()["C"] == 0.5 and not hasattr(m, "classes_")
    assert m.fit(*data) is m
    assert m.classes_.tolist() == [0, 1] and m.n_features_in_ == 6
    assert hasattr(m, "calibrated_") and hasattr(m, "n_iter_")


def test_works_in_pipeline_and_gridsearch(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), ChurnModel(max_iter=30, random_state=0))
    grid = GridSearchCV(
        pipe, {"churnmodel__kind": ["boosting", "logistic"]}, cv=3, scoring="roc_auc"
    ).fit(X, y)
    assert grid.best_score_ > 0.8
    p = grid.predict_proba(X)[:, 1]
    assert p.shape == (600,) and np.all((0 <= p) & (p <= 1))


def test_probabilities_are_calibrated(data):
    X, y = make_classification(4000, n_features=6, flip_y=0.2, random_state=1)
    m = ChurnModel(random_state=0).fit(X[:3000], y[:3000])
    p = m.predict_proba(X[3000:])[:, 1]
    # the mean prediction matches the observed rate in each third of the scores
    order = np.argsort(p)
    for part in np.array_split(order, 3):
        assert abs(p[part].mean() - y[3000:][part].mean()) < 0.08


def test_random_state_reproducible_and_generator_accepted(data):
    X, y = data
    a = ChurnModel(max_iter=30, random_state=4).fit(X, y).predict_proba(X)
    b = ChurnModel(max_iter=30, random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = ChurnModel(max_iter=30, random_state=np.random.default_rng(4)).fit(X, y)
    assert c.predict_proba(X).shape == (600, 2)


@pytest.mark.parametrize("kind", ["boosting", "logistic"])
def test_dataframes_with_categorical_and_missing_values(kind):
    rng = np.random.default_rng(0)
    n = 800
    stage = rng.choice(["retention", "advocacy", "churned"], n)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    y = (stage == "churned") | (np.nan_to_num(x) > 1)
    X = pd.DataFrame({"x": x, "stage": pd.Categorical(stage), "flag": rng.random(n) < 0.5})
    m = ChurnModel(kind=kind, random_state=0).fit(X, y.astype(int))
    assert m.categorical_.tolist() == [False, True, True]
    assert list(m.feature_names_in_) == ["x", "stage", "flag"]
    p = m.predict_churn(X)
    assert p.index.equals(X.index) and p.name == "churn_probability"
    assert p[stage == "churned"].mean() > p[stage != "churned"].mean() + 0.3
    # an unseen category at predict time is handled
    X2 = X.head(3).assign(stage=pd.Categorical(["new"] * 3))
    assert m.predict_proba(X2).shape == (3, 2)


def test_refuses_multiclass_and_bad_params(data):
    X, _ = data
    with pytest.raises(ValueError, match="Only binary classification"):
        ChurnModel().fit(X, np.arange(len(X)) % 3)
    with pytest.raises(ValueError, match="kind"):
        ChurnModel(kind="forest").fit(*data)


def test_string_labels_are_kept(data):
    X, y = data
    labels = np.where(y == 1, "Yes", "No")
    m = ChurnModel(kind="logistic").fit(X, labels)
    assert m.classes_.tolist() == ["No", "Yes"]
    assert set(m.predict(X)) <= {"No", "Yes"}


def test_cv_holdout_fits_once_and_auto_switches(data):
    X, y = data
    m = ChurnModel(cv=0.3, max_iter=20, random_state=0).fit(X, y)
    assert len(m.calibrated_.calibrated_classifiers_) == 1
    # "auto": small data -> 3 folds; sigmoid: one model on all the data, calibrated on its
    # out-of-fold scores (keeps its ranking); isotonic: the 3 fold models, averaged
    m = ChurnModel(max_iter=20, random_state=0).fit(X, y)
    assert len(m.calibrated_.calibrated_classifiers_) == 1
    m = ChurnModel(calibration="isotonic", max_iter=20, random_state=0).fit(X, y)
    assert len(m.calibrated_.calibrated_classifiers_) == 3


def test_thread_count_does_not_change_results(data):
    X, y = data
    a = ChurnModel(max_iter=30, random_state=1, n_threads=1).fit(X, y).predict_proba(X)
    b = ChurnModel(max_iter=30, random_state=1, n_threads=2).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, rtol=1e-10)
