"""``ChurnModel``: a calibrated scikit-learn classifier for churn (a real estimator).

By default the model family (logistic regression or histogram gradient boosting) and the
transform of the numeric columns (raw or ``sign(x) log1p(|x|)``) are chosen by inner
cross-validation on the training data (:mod:`lifesim.churn.selection`); the winner is wrapped
in :class:`~sklearn.calibration.CalibratedClassifierCV` so that ``predict_proba`` is a
calibrated churn probability. It takes NumPy arrays or DataFrames; DataFrame columns of
categorical/object/bool dtype are encoded inside the model (ordinal codes for boosting, one-hot
for the logistic model), and missing values are allowed.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from threadpoolctl import threadpool_limits

from lifesim.churn import selection

__all__ = ["ChurnModel"]

#: Below this many rows OpenMP threads cost more than they save (boosting runs on one thread).
_SMALL = 50_000
#: From this many rows, ``cv="auto"`` calibrates on one 20% holdout instead of 3 folds.
_BIG = 100_000


def _busy() -> bool:
    """Whether other processes already keep the cores busy (1-minute load average)."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1) - 0.5
    except (OSError, AttributeError):  # pragma: no cover - no load average (Windows)
        return False


def _threads(n_rows: int, n_threads: int | None) -> threadpool_limits:
    """Thread limit for OpenMP (boosting) and BLAS (logistic) during one fit or predict.

    OpenMP threads that wait on each other at every histogram are several times *slower*
    than one thread when the cores are shared (measured: 60 s vs 11 s for one 800k-row fit
    on a busy 2-core machine), and small fits never gain from threads.
    """
    if n_threads is None:
        n_threads = 1 if n_rows < _SMALL or _busy() else None
    return threadpool_limits(n_threads)


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: tames heavy-tailed counts and amounts for linear models."""
    return np.sign(x) * np.log1p(np.abs(x))


def _as_text(x: Any) -> np.ndarray:
    """Categories as an object array of strings (missing -> ``"<missing>"``) for one-hot."""
    frame = pd.DataFrame(x)
    out = frame.astype(object).where(frame.notna(), "<missing>").astype(str)
    return out.to_numpy(dtype=object)


class _EncodedClassifier(ClassifierMixin, BaseEstimator):
    """An encoder then a classifier; unlike a Pipeline, ``fit`` takes ``sample_weight``.

    Parameters
    ----------
    encoder : transformer
    model : classifier
    """

    def __init__(self, encoder: Any, model: Any):
        self.encoder = encoder
        self.model = model

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _EncodedClassifier:
        """Fit the encoder, then the classifier on the encoded data."""
        self.encoder_ = clone(self.encoder).fit(X, y)
        self.model_ = clone(self.model).fit(
            self.encoder_.transform(X), y, sample_weight=sample_weight
        )
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of the classifier on the encoded data."""
        return self.model_.predict_proba(self.encoder_.transform(X))

    def predict(self, X: Any) -> np.ndarray:
        """Labels of the classifier on the encoded data."""
        return self.model_.predict(self.encoder_.transform(X))


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Calibrated churn classifier: the better of logistic regression and gradient boosting.

    Parameters
    ----------
    kind : {"auto", "boosting", "logistic"}, default="auto"
        Model family. ``"auto"``: chosen by inner cross-validation on the training data
        (see :mod:`lifesim.churn.selection`; fitted attributes ``kind_``, ``feature_transform_``,
        ``best_score_``, ``runner_up_``, ``runner_up_score_`` say what won and by how much).
        ``"boosting"``: :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (handles
        missing values and categorical columns natively). ``"logistic"``: median imputation,
        standardised numeric features, one-hot categories, then
        :class:`~sklearn.linear_model.LogisticRegression`.
    feature_transform : {"auto", "log", "none"}, default="auto"
        Transform of the numeric columns before the model: ``"log"`` is
        ``sign(x) log1p(|x|)`` (tames heavy-tailed counts and amounts), ``"none"`` keeps them
        raw. ``"auto"``: chosen by the same inner cross-validation for the logistic family
        (both are tried); boosting is invariant to monotone transforms, so only ``"none"`` is
        tried for it.
    inner_cv : int, default=3
        Folds of the inner cross-validation that chooses the family and transform (fewer if a
        class is rarer; no selection when there is a single candidate).
    calibration : {"sigmoid", "isotonic"} or None, default="sigmoid"
        Probability calibration by :class:`~sklearn.calibration.CalibratedClassifierCV`;
        ``None`` keeps the raw model's probabilities. Sigmoid (Platt) scaling is strictly
        monotone, so it keeps the model's ranking (its ROC-AUC); isotonic calibration is a
        step function whose ties cost ranking (measured: 0.001-0.004 ROC-AUC, about 3 paired
        standard errors, on the public-style snapshots of ``benchmarks/bench_churn_models.py``).
    cv : "auto", int, float or cross-validation splitter, default="auto"
        How the calibration data is held out. An int ``>= 2``: that many stratified folds
        (shuffled with ``random_state``; fewer if a class is rarer), one model per fold,
        averaged. A float in (0, 1): one stratified holdout of that share; the model is fitted
        once on the rest (fast on big data). ``"auto"``: 3 folds below 100,000 customers, a
        20% holdout above. Or any scikit-learn splitter.
    learning_rate : float, default=0.1
        Boosting learning rate.
    max_iter : int, default=200
        Boosting rounds (early stopping on large data) or solver iterations (logistic).
    max_leaf_nodes : int, default=15
        Leaves per tree (boosting).
    min_samples_leaf : int, default=40
        Minimum customers per leaf (boosting).
    l2_regularization : float, default=1.0
        Boosting L2 penalty.
    C : float, default=1.0
        Inverse regularisation strength (logistic).
    random_state : int, Generator, RandomState or None, default=None
        Seeds the fold split and the boosting's early-stopping split. One parameter, no
        global state: a :class:`numpy.random.Generator` is turned into one integer seed
        at fit time.
    n_threads : int or None, default=None
        Threads for boosting (OpenMP) and the logistic solver (BLAS). ``None``: one thread
        below 50,000 customers or when the machine is already busy (load average above
        the core count - 0.5), all cores otherwise. Results do not depend on it.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        Labels; ``predict_proba(X)[:, 1]`` is the probability of ``classes_[1]`` (churn when
        the labels are 0/1).
    calibrated_ : CalibratedClassifierCV
        The fitted calibrated model.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
    categorical_ : ndarray of bool
        Which input columns were treated as categorical.
    n_iter_ : int
        Largest number of boosting rounds (or solver iterations) over the fitted models.
    kind_ : str
        The family used: ``"logistic"`` or ``"boosting"``.
    feature_transform_ : str
        The transform used: ``"log"`` or ``"none"``.
    best_score_ : float
        Inner-CV mean ROC-AUC of the winner (NaN when nothing was compared).
    runner_up_ : str or None
        The second-best candidate, e.g. ``"logistic+log1p"`` (``None``: nothing compared).
    runner_up_score_ : float
        Its inner-CV mean ROC-AUC.
    cv_results_ : dict
        Per candidate: ``candidate``, ``kind``, ``transform``, ``mean_roc_auc``,
        ``std_roc_auc``, ``rank`` (lists; empty when nothing was compared).
    selection_method_ : str
        How the winner was chosen, in one sentence.

    Examples
    --------
    >>> from lifesim.churn import ChurnModel
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(500, random_state=0)
    >>> model = ChurnModel(random_state=0).fit(X, y)
    >>> model.predict_proba(X).shape
    (500, 2)
    >>> model.kind_ in ("logistic", "boosting"), model.runner_up_ is not None
    (True, True)
    >>> sorted(model.cv_results_["candidate"])
    ['boosting', 'logistic', 'logistic+log1p']
    """

    _parameter_constraints: dict = {
        "kind": [StrOptions({"auto", "boosting", "logistic"})],
        "feature_transform": [StrOptions({"auto", "log", "none"})],
        "inner_cv": [Interval(Integral, 2, None, closed="left")],
        "calibration": [StrOptions({"isotonic", "sigmoid"}), None],
        "cv": [
            StrOptions({"auto"}),
            Interval(Integral, 2, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            "cv_object",
        ],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state", np.random.Generator],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        kind: str = "auto",
        feature_transform: str = "auto",
        inner_cv: int = 3,
        calibration: str | None = "sigmoid",
        cv: Any = "auto",
        learning_rate: float = 0.1,
        max_iter: int = 200,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        C: float = 1.0,
        random_state: Any = None,
        n_threads: int | None = None,
    ):
        self.kind = kind
        self.feature_transform = feature_transform
        self.inner_cv = inner_cv
        self.calibration = calibration
        self.cv = cv
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.C = C
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    # -- input handling -------------------------------------------------------------------
    @staticmethod
    def _categorical_mask(X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            return np.array(
                [
                    isinstance(dt, pd.CategoricalDtype)
                    or pd.api.types.is_object_dtype(dt)
                    or pd.api.types.is_string_dtype(dt)
                    or pd.api.types.is_bool_dtype(dt)
                    for dt in X.dtypes
                ],
                dtype=bool,
            )
        return np.zeros(np.shape(X)[1] if np.ndim(X) == 2 else 0, dtype=bool)

    def _check_X(self, X: Any, reset: bool) -> Any:
        """Validate ``X``; keep DataFrames with categorical columns as they are."""
        if isinstance(X, pd.DataFrame) and self._categorical_mask(X).any():
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] < 1:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}).")
            return X
        return validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan")

    def _seed(self) -> int | None:
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            return int(rs.integers(0, 2**31 - 1))
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        return rs

    def _base(self, kind: str, transform: str, cat: np.ndarray, seed: int | None) -> Any:
        """Unfitted, uncalibrated model of one family, with its encoding and transform."""
        num, cats = np.flatnonzero(~cat), np.flatnonzero(cat)
        log = FunctionTransformer(_signed_log1p) if transform == "log" else None
        if kind == "boosting":
            hgb = HistGradientBoostingClassifier(
                learning_rate=self.learning_rate,
                max_iter=self.max_iter,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                random_state=seed,
            )
            if not len(cats):
                return hgb if log is None else _EncodedClassifier(log, hgb)
            ordinal = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=np.nan,
                encoded_missing_value=np.nan,
                max_categories=250,
            )
            enc = ColumnTransformer(
                [("cat", ordinal, cats), ("num", log or "passthrough", num)], sparse_threshold=0
            )
            hgb.set_params(categorical_features=np.arange(len(cats)))
            return _EncodedClassifier(enc, hgb)
        numeric = make_pipeline(
            *([log] if log is not None else []),
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
        )
        steps = [("num", numeric, num)]
        if len(cats):
            onehot = OneHotEncoder(handle_unknown="ignore", max_categories=50)
            steps.append(("cat", make_pipeline(FunctionTransformer(_as_text), onehot), cats))
        enc = ColumnTransformer(steps, sparse_threshold=0)
        logit = LogisticRegression(C=self.C, max_iter=max(self.max_iter, 100))
        return _EncodedClassifier(enc, logit)

    def _select(self, X: Any, y: np.ndarray, sample_weight: Any, seed: int | None) -> None:
        """Choose the family and transform (inner CV); set the selection attributes."""
        pairs = selection.candidates(self.kind, self.feature_transform)

        def make(kind: str, transform: str) -> Any:
            return self._base(kind, transform, self.categorical_, seed)

        with _threads(len(y), self.n_threads):
            res = selection.select(make, pairs, X, y, sample_weight, self.inner_cv, seed)
        self.kind_, self.feature_transform_ = res["kind"], res["transform"]
        self.best_score_, self.cv_results_ = res["best_score"], res["cv_results"]
        self.runner_up_, self.runner_up_score_ = res["runner_up"], res["runner_up_score"]
        self.selection_method_ = res["method"]

    # -- estimator API ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ChurnModel:
        """Fit the model and its calibration.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_customers, n_features)
        y : array-like of shape (n_customers,)
            Two classes (1/True/"Yes" = churned, by convention the larger label).
        sample_weight : array-like of shape (n_customers,), optional

        Returns
        -------
        self : ChurnModel
        """
        self._validate_params()
        X = self._check_X(X, reset=True)
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(
                "Only binary classification is supported: ChurnModel needs exactly 2 classes "
                f"(churned / stayed); y has {len(self.classes_)} class(es) "
                f"({self.classes_[:5].tolist()})"
            )
        self.categorical_ = self._categorical_mask(X)
        seed = self._seed()
        Xf = X.reset_index(drop=True) if isinstance(X, pd.DataFrame) else np.asarray(X)
        self._select(Xf, y_enc, sample_weight, seed)
        base = self._base(self.kind_, self.feature_transform_, self.categorical_, seed)
        if self.calibration is None:
            with _threads(len(y_enc), self.n_threads):
                self.calibrated_ = clone(base).fit(Xf, y_enc, sample_weight=sample_weight)
        else:
            cv = self.cv
            if isinstance(cv, str):  # "auto"
                cv = 3 if len(y_enc) < _BIG else 0.2
            n_min = int(np.bincount(y_enc).min())
            if isinstance(cv, Integral | float) and n_min < 2:
                raise ValueError(
                    f"each class needs at least 2 customers for calibration, got {n_min}"
                )
            if isinstance(cv, float):
                cv = StratifiedShuffleSplit(1, test_size=cv, random_state=seed)
            # k folds + sigmoid: one model on all the data (its ranking), calibrated on its
            # out-of-fold scores; isotonic averages the fold models (fewer ties)
            ensemble = True
            if isinstance(cv, Integral):
                cv = StratifiedKFold(min(int(cv), n_min), shuffle=True, random_state=seed)
                ensemble = self.calibration != "sigmoid"
            cal = CalibratedClassifierCV(base, method=self.calibration, cv=cv, ensemble=ensemble)
            with _threads(len(y_enc), self.n_threads):
                self.calibrated_ = cal.fit(Xf, y_enc, sample_weight=sample_weight)
        self.n_iter_ = self._n_iter()
        return self

    def _n_iter(self) -> int:
        """Largest number of iterations (boosting rounds or solver steps) of the fits."""
        fitted = (
            [c.estimator for c in self.calibrated_.calibrated_classifiers_]
            if isinstance(self.calibrated_, CalibratedClassifierCV)
            else [self.calibrated_]
        )
        its = []
        for est in fitted:
            est = est.model_ if isinstance(est, _EncodedClassifier) else est
            its.append(int(np.max(est.n_iter_)))
        return max(its)

    def _frame(self, X: Any) -> Any:
        X = self._check_X(X, reset=False)
        return X.reset_index(drop=True) if isinstance(X, pd.DataFrame) else X

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities, shape ``(n, 2)``; column 1 is ``classes_[1]`` (churn)."""
        check_is_fitted(self, "calibrated_")
        X = self._frame(X)
        with _threads(X.shape[0], self.n_threads):
            return self.calibrated_.predict_proba(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of ``classes_[1]`` (churn), from the calibrated probabilities."""
        p = np.clip(self.predict_proba(X)[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    def predict(self, X: Any) -> np.ndarray:
        """Most likely label (churn when its probability is above 0.5)."""
        p = self.predict_proba(X)[:, 1]
        return self.classes_[(p > 0.5).astype(int)]

    def predict_churn(self, X: pd.DataFrame) -> pd.Series:
        """Churn probability per customer, indexed like ``X`` (the simulator's entry point).

        Parameters
        ----------
        X : DataFrame
            Features, e.g. ``build_features(log, cutoff).X`` (index: customer id).

        Returns
        -------
        Series
            ``churn_probability`` per customer.
        """
        p = self.predict_proba(X)[:, 1]
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.Series(p, index=index, name="churn_probability")
