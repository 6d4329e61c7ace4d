"""Train a churn model on a log (or a snapshot), save it, and score customers with it."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lifesim._io import atomic_path
from lifesim._version import __version__
from lifesim.churn.features import ChurnDataset, FeatureSpec, build_features
from lifesim.churn.labels import ChurnDefinition
from lifesim.churn.model import ChurnModel
from lifesim.churn.persistence import dump_model, load_payload
from lifesim.churn.schema import TransactionLog
from lifesim.churn.selection import describe, summary_lines
from lifesim.errors import DataError

__all__ = ["TrainedChurnModel", "ChurnScores", "train", "train_dataset", "score", "load_model"]


@dataclass(frozen=True, eq=False)
class TrainedChurnModel:
    """A fitted :class:`ChurnModel` with what is needed to use it on new data.

    Attributes
    ----------
    model : ChurnModel
        The fitted estimator.
    spec : FeatureSpec
        The features it expects (rebuilt identically at scoring time).
    definition : dict or None
        The training churn definition (``ChurnDefinition.to_dict()``); ``None`` for
        snapshot models.
    feature_names : tuple of str
    meta : dict
        Training facts: mode, horizon, customers, churn rate, lifesim version, time, and the
        model selection (winner, runner-up, method).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim import churn
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"customer_id": rng.integers(0, 600, 1500),
    ...                    "day": rng.integers(0, 400, 1500), "amount": 10.0})
    >>> log = churn.prepare(df, observed_until=399)
    >>> trained = churn.train(log, 250, 120, random_state=0)
    >>> trained.meta["selection"]["chosen"] in ("logistic", "logistic+log1p", "boosting")
    True
    >>> trained.feature_names[:2]
    ('recency', 'tenure')
    """

    model: ChurnModel
    spec: FeatureSpec
    definition: dict[str, Any] | None
    feature_names: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def snapshot(self) -> bool:
        """Whether the model was trained on a snapshot table (not on a log)."""
        return self.definition is None

    def save(self, path: str | os.PathLike) -> Path:
        """Save with skops (see :mod:`lifesim.churn.persistence`); atomic."""
        meta = {
            **self.meta,
            "spec": self.spec.to_dict(),
            "definition": self.definition,
            "feature_names": list(self.feature_names),
        }
        return dump_model(self.model, meta, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainedChurnModel:
        """Load a model saved by :meth:`save`, trusting only the types a ChurnModel needs."""
        model, meta = load_payload(path)
        spec = FeatureSpec.from_dict(meta.pop("spec"))
        definition = meta.pop("definition")
        names = tuple(meta.pop("feature_names"))
        return cls(model=model, spec=spec, definition=definition, feature_names=names, meta=meta)

    def summary(self) -> str:
        """Describe the model and its training data."""
        d = self.definition["text"] if self.definition else "snapshot label"
        text = (
            f"ChurnModel(kind={self.model.kind!r}, calibration={self.model.calibration!r}) "
            f"trained on {self.meta.get('n_customers', '?'):,} customers "
            f"(churn rate {self.meta.get('churn_rate', float('nan')):.1%}), "
            f"{len(self.feature_names)} features\ntraining definition: {d}"
        )
        return "\n".join([text, *summary_lines(describe(self.model))])

    def to_dict(self) -> dict[str, Any]:
        """Training facts, definition, features and model parameters (JSON-able)."""
        params = {
            k: v if isinstance(v, str | int | float | None) else repr(v)
            for k, v in self.model.get_params().items()
        }
        return {
            **self.meta,
            "definition": self.definition,
            "feature_names": list(self.feature_names),
            "spec": self.spec.to_dict(),
            "model": params,
            "selection": describe(self.model),
        }

    def to_pandas(self) -> pd.DataFrame:
        """List the features the model expects, and whether each is categorical."""
        return pd.DataFrame(
            {"categorical": self.model.categorical_},
            index=pd.Index(self.feature_names, name="feature"),
        )

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.summary()) + "</pre>"


def load_model(path: str | os.PathLike) -> TrainedChurnModel:
    """Load a saved churn model safely (see :meth:`TrainedChurnModel.load`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, pandas as pd
    >>> from lifesim import churn
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"customer_id": rng.integers(0, 600, 1500),
    ...                    "day": rng.integers(0, 400, 1500), "amount": 10.0})
    >>> log = churn.prepare(df, observed_until=399)
    >>> trained = churn.train(log, 250, 120, random_state=0)
    >>> path = trained.save(pathlib.Path(tempfile.mkdtemp()) / "churn.skops")
    >>> churn.load_model(path).feature_names == trained.feature_names
    True
    """
    return TrainedChurnModel.load(path)


def train_dataset(
    data: ChurnDataset, model: ChurnModel | None = None, *, random_state: Any = None
) -> TrainedChurnModel:
    """Fit a model on a labelled dataset (from a log or a snapshot).

    Parameters
    ----------
    data : ChurnDataset
    model : ChurnModel, optional
        Unfitted model (default ``ChurnModel()``); cloned, not modified.
    random_state : int, Generator or None
        Used when the model has no ``random_state`` of its own.

    Returns
    -------
    TrainedChurnModel

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim import churn
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"customer_id": rng.integers(0, 600, 1500),
    ...                    "day": rng.integers(0, 400, 1500), "amount": 10.0})
    >>> log = churn.prepare(df, observed_until=399)
    >>> data = churn.build_dataset(log, 250, 120)
    >>> trained = churn.train_dataset(data, churn.ChurnModel(kind="logistic"), random_state=0)
    >>> trained.meta["n_customers"] == data.n_customers
    True
    """
    from sklearn.base import clone

    if data.y is None:
        raise DataError("cannot train without labels: give a horizon (or a --label column)")
    if data.y.nunique() < 2:
        raise DataError(
            f"every customer has the same label ({int(data.y.iloc[0])}); nothing to learn: "
            "choose another cutoff or horizon"
        )
    m = clone(model if model is not None else ChurnModel())
    if m.random_state is None and random_state is not None:
        m.set_params(random_state=int(np.random.default_rng(random_state).integers(2**31 - 1)))
    m.fit(data.X, data.y.to_numpy())
    meta = {
        "n_customers": int(data.n_customers),
        "churn_rate": float(data.churn_rate),
        "lifesim_version": __version__,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "selection": describe(m),
    }
    return TrainedChurnModel(
        model=m,
        spec=data.spec,
        definition=None if data.definition is None else data.definition.to_dict(),
        feature_names=tuple(map(str, data.X.columns)),
        meta=meta,
    )


def train(
    log: TransactionLog,
    cutoff: Any,
    horizon_days: int,
    *,
    model: ChurnModel | None = None,
    mode: str = "non-contractual",
    random_state: Any = None,
) -> TrainedChurnModel:
    """Build the labelled dataset at ``cutoff`` and fit a model on it.

    Parameters
    ----------
    log : TransactionLog
    cutoff : date, str or int
    horizon_days : int
    model : ChurnModel, optional
    mode : {"non-contractual", "contractual"}
    random_state : int, Generator or None

    Returns
    -------
    TrainedChurnModel

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim import churn
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"customer_id": rng.integers(0, 600, 1500),
    ...                    "day": rng.integers(0, 400, 1500), "amount": 10.0})
    >>> log = churn.prepare(df, observed_until=399)
    >>> trained = churn.train(log, 250, 120, random_state=0)
    >>> trained.definition["horizon_days"], trained.snapshot
    (120, False)
    """
    data = build_features(log, cutoff, horizon_days=horizon_days, mode=mode)
    return train_dataset(data, model, random_state=random_state)


@dataclass(frozen=True, eq=False)
class ChurnScores:
    """Churn probabilities of the customers at risk at a cutoff.

    Attributes
    ----------
    table : DataFrame
        Index: customer id; ``churn_probability``, ``rank`` (1 = most likely to churn), and
        ``recency``, ``frequency``, ``monetary`` when available.
    definition : ChurnDefinition or None
        Who was scored, and at which T (``None`` for snapshots).
    horizon_days : int or None
        The horizon the probabilities refer to (the training horizon).
    training_definition : str

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim import churn
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"customer_id": rng.integers(0, 600, 1500),
    ...                    "day": rng.integers(0, 400, 1500), "amount": 10.0})
    >>> log = churn.prepare(df, observed_until=399)
    >>> trained = churn.train(log, 250, 120, random_state=0)
    >>> scores = churn.score(log, trained)
    >>> list(scores.table.columns[:2]), scores.horizon_days
    (['churn_probability', 'rank'], 120)
    """

    table: pd.DataFrame
    definition: ChurnDefinition | None
    horizon_days: int | None
    training_definition: str

    def to_pandas(self) -> pd.DataFrame:
        """Return the score table (a copy)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """Headline figures (JSON-able)."""
        p = self.table["churn_probability"]
        return {
            "n_customers": int(len(p)),
            "mean_churn_probability": float(p.mean()),
            "expected_churners": float(p.sum()),
            "horizon_days": self.horizon_days,
            "definition": self.definition_text,
            "training_definition": self.training_definition,
        }

    @property
    def definition_text(self) -> str:
        """Who was scored, and what the probability means."""
        if self.definition is None:
            return f"snapshot rows; churn as in the training label ({self.training_definition})"
        return (
            f"P(churn in ({self.definition.cutoff}, +{self.horizon_days} days]) for the "
            f"customers at risk at {self.definition.cutoff} [{self.definition.mode}]; "
            f"trained on: {self.training_definition}"
        )

    def summary(self) -> str:
        """Text summary with the top customers."""
        d = self.to_dict()
        top = self.table.sort_values("rank").head(10)
        return (
            f"churn definition: {self.definition_text}\n"
            f"scored {d['n_customers']:,} customers: mean churn probability "
            f"{d['mean_churn_probability']:.3f}, expected churners {d['expected_churners']:,.0f}\n"
            f"\nmost likely to churn:\n{top.to_string(float_format=lambda v: f'{v:.3f}')}"
        )

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.definition_text)}</p>" + self.table.sort_values("rank").head(
            10
        ).to_html(float_format=lambda v: f"{v:.3f}")

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the table as CSV, atomically."""
        with atomic_path(path) as tmp:
            self.table.to_csv(tmp)
        return Path(path)


def _check_columns(trained: TrainedChurnModel, X: pd.DataFrame) -> None:
    missing = [c for c in trained.feature_names if c not in X.columns]
    if missing:
        raise DataError(
            f"the data lacks {len(missing)} feature(s) the model was trained on "
            f"({', '.join(map(repr, missing[:10]))}); score data like the training data "
            "(same optional columns / events log, or the same snapshot columns)"
        )


def score(
    data: TransactionLog | ChurnDataset,
    trained: TrainedChurnModel,
    *,
    cutoff: Any = None,
) -> ChurnScores:
    """Score the customers at risk at ``cutoff`` (default: the last day of the log).

    Parameters
    ----------
    data : TransactionLog or ChurnDataset
        A log (features are rebuilt with the model's spec) or a snapshot dataset.
    trained : TrainedChurnModel
    cutoff : date, str or int, optional
        T for a log (default: its last day).

    Returns
    -------
    ChurnScores

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim import churn
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"customer_id": rng.integers(0, 600, 1500),
    ...                    "day": rng.integers(0, 400, 1500), "amount": 10.0})
    >>> log = churn.prepare(df, observed_until=399)
    >>> trained = churn.train(log, 250, 120, random_state=0)
    >>> table = churn.score(log, trained, cutoff=300).table
    >>> bool(table["churn_probability"].between(0, 1).all()), int(table["rank"].min())
    (True, 1)
    """
    training = trained.definition["text"] if trained.definition else "snapshot label"
    if isinstance(data, TransactionLog):
        if trained.snapshot:
            raise DataError(
                "the model was trained on a snapshot table; score a snapshot (--label/--id), "
                "not a transaction log"
            )
        d = trained.definition
        t = cutoff if cutoff is not None else data.last_day
        if cutoff is None and data.time_kind == "date":
            t = data.format_day(data.last_day)
        ds = build_features(data, t, spec=trained.spec, mode=d["mode"])
        horizon = d["horizon_days"]
    else:
        ds, horizon = (
            data,
            None if trained.definition is None else trained.definition.get("horizon_days"),
        )
    _check_columns(trained, ds.X)
    X = ds.X[list(trained.feature_names)]
    p = trained.model.predict_proba(X)[:, 1]
    table = pd.DataFrame({"churn_probability": p}, index=X.index)
    table["rank"] = table["churn_probability"].rank(ascending=False, method="first").astype(int)
    for c in ("recency", "frequency", "monetary"):
        if c in X.columns:
            table[c] = X[c].to_numpy()
    return ChurnScores(
        table=table,
        definition=ds.definition,
        horizon_days=horizon,
        training_definition=training,
    )
