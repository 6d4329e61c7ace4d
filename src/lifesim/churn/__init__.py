"""Churn prediction from transaction logs (real or simulated) and snapshot tables.

Never imports the simulator: an analyst can use it on their own data alone. The simulator's
``res.purchases`` and ``res.events`` are valid input as they are.

Typical use
-----------
>>> from lifesim import churn
>>> log = churn.prepare(purchases, events=events)          # doctest: +SKIP
>>> ev = churn.evaluate(log, cutoff="1997-09-30", horizon_days=273)   # doctest: +SKIP
>>> print(ev.summary())                                     # doctest: +SKIP
>>> data = churn.build_dataset(log, cutoff=180, horizon_days=90)      # doctest: +SKIP
>>> model = churn.ChurnModel(random_state=0).fit(data.X, data.y)      # doctest: +SKIP
>>> p = model.predict_churn(churn.build_features(log, 270, spec=data.spec).X)  # doctest: +SKIP

Scoring inside a simulation (e.g. a churn-targeted strategy, each month)
-----------------------------------------------------------------------
With the history so far as DataFrames (``person, day, amount`` purchases; optional
``person, day, to_stage, cause`` events) and ``today`` the current day::

    log = churn.prepare(purchases, events=events, observed_until=today)
    train = churn.build_dataset(log, cutoff=today - h, horizon_days=h)   # labels known today
    model = churn.ChurnModel(random_state=rng).fit(train.X, train.y)
    now = churn.build_features(log, cutoff=today, spec=train.spec)      # same columns
    p_churn = model.predict_churn(now.X)         # Series indexed by person, in [0, 1]

Only customers with a purchase on or before the cutoff are scored (``now.X.index``).
``churn.train`` / ``churn.score`` do the same in two calls and keep the spec for you.

Public API
----------
TransactionSchema, prepare, read_table, TransactionLog
    The input schema; read and validate a log (CSV/Parquet/DataFrame).
read_snapshot
    One-row-per-customer tables with a label (``--label Churn --id customerID``).
ChurnDefinition, define
    The explicit churn definition (non-contractual or contractual).
FeatureSpec, ChurnDataset, build_features, build_dataset
    Features at a cutoff (only data up to T), with labels when a horizon is given.
ChurnModel
    Calibrated gradient boosting / logistic scikit-learn estimator.
Metrics, ChurnEvaluation, evaluate, evaluate_dataset, calibration_table
    Out-of-sample evaluation against a recency baseline.
TrainedChurnModel, ChurnScores, train, train_dataset, score, load_model
    Fit, save (skops), load safely, and score customers.
"""

from lifesim.churn.evaluation import ChurnEvaluation, evaluate, evaluate_dataset
from lifesim.churn.features import ChurnDataset, FeatureSpec, build_dataset, build_features
from lifesim.churn.io import read_table
from lifesim.churn.labels import ChurnDefinition, define
from lifesim.churn.metrics import Metrics, RecencyBaseline, calibration_table
from lifesim.churn.model import ChurnModel
from lifesim.churn.schema import TransactionLog, TransactionSchema, prepare
from lifesim.churn.scoring import (
    ChurnScores,
    TrainedChurnModel,
    load_model,
    score,
    train,
    train_dataset,
)
from lifesim.churn.snapshot import read_snapshot

__all__ = [
    "TransactionSchema",
    "TransactionLog",
    "prepare",
    "read_table",
    "read_snapshot",
    "ChurnDefinition",
    "define",
    "FeatureSpec",
    "ChurnDataset",
    "build_features",
    "build_dataset",
    "ChurnModel",
    "Metrics",
    "ChurnEvaluation",
    "RecencyBaseline",
    "evaluate",
    "evaluate_dataset",
    "calibration_table",
    "TrainedChurnModel",
    "ChurnScores",
    "train",
    "train_dataset",
    "score",
    "load_model",
]
