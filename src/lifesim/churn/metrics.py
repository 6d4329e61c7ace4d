"""Scores of churn probabilities: metrics, a calibration table, and the recency baseline."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from lifesim.churn.model import _signed_log1p

__all__ = ["Metrics", "calibration_table", "RecencyBaseline"]


@dataclass(frozen=True)
class Metrics:
    """Scores of churn probabilities against outcomes.

    Attributes
    ----------
    roc_auc : float
        Area under the ROC curve (0.5 = random ranking, 1 = perfect).
    pr_auc : float
        Average precision (area under precision-recall; compare with ``churn_rate``).
    brier : float
        Mean squared error of the probabilities (lower is better).
    log_loss : float
        Mean negative log-likelihood (lower is better).
    top_decile_lift : float
        Churn rate among the 10% highest scores / overall churn rate.
    churn_rate : float
        Share of churners.
    n_customers : int
    n_churned : int
    """

    roc_auc: float
    pr_auc: float
    brier: float
    log_loss: float
    top_decile_lift: float
    churn_rate: float
    n_customers: int
    n_churned: int

    @classmethod
    def from_predictions(cls, y: Any, p: Any) -> Metrics:
        """Compute every metric from labels (0/1) and churn probabilities."""
        y = np.asarray(y, dtype=np.int64)
        p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        n, k = len(y), int(y.sum())
        rate = k / n if n else float("nan")
        both = 0 < k < n
        top = max(1, int(np.ceil(0.1 * n)))
        # ties broken by a stable sort on -p: the top decile is well defined
        idx = np.argsort(-p, kind="stable")[:top]
        lift = float(y[idx].mean() / rate) if rate > 0 else float("nan")
        return cls(
            roc_auc=float(roc_auc_score(y, p)) if both else float("nan"),
            pr_auc=float(average_precision_score(y, p)) if both else float("nan"),
            brier=float(brier_score_loss(y, p)) if n else float("nan"),
            log_loss=float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))
            if n
            else float("nan"),
            top_decile_lift=lift,
            churn_rate=float(rate),
            n_customers=n,
            n_churned=k,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dict."""
        return asdict(self)

    def to_pandas(self) -> pd.DataFrame:
        """One column ``value``, one row per metric."""
        return pd.DataFrame({"value": pd.Series(self.to_dict(), dtype=object)})

    def summary(self) -> str:
        """One line per metric."""
        return "\n".join(
            f"{k:<16}{v:>12.4f}" if isinstance(v, float) else f"{k:<16}{v:>12,}"
            for k, v in self.to_dict().items()
        )

    def _repr_html_(self) -> str:
        return self.to_pandas().to_html()


def calibration_table(y: Any, p: Any, n_bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn in bins of equal size (deciles of the prediction).

    Parameters
    ----------
    y : array-like of 0/1
    p : array-like of probabilities
    n_bins : int

    Returns
    -------
    DataFrame
        ``bin, n, p_min, p_max, mean_predicted, observed_rate`` (one row per bin).
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    bins = np.empty(len(p), dtype=np.int64)
    bins[order] = (np.arange(len(p)) * n_bins) // max(len(p), 1)
    df = pd.DataFrame({"bin": bins, "p": p, "y": y})
    g = df.groupby("bin", sort=True)
    return pd.DataFrame(
        {
            "n": g.size(),
            "p_min": g["p"].min(),
            "p_max": g["p"].max(),
            "mean_predicted": g["p"].mean(),
            "observed_rate": g["y"].mean(),
        }
    ).reset_index()


class RecencyBaseline:
    """The naive model: logistic regression on ``log1p(feature)`` (recency by default).

    Parameters
    ----------
    feature : str or None
        Column of ``X`` used alone; ``None``: predicts the training churn rate.
    """

    def __init__(self, feature: str | None = "recency"):
        self.feature = feature

    def _x(self, X: pd.DataFrame) -> np.ndarray:
        v = pd.to_numeric(X[self.feature], errors="coerce").to_numpy(np.float64)
        v = np.where(np.isnan(v), self.fill_, v)
        return _signed_log1p(v)[:, None]

    def fit(self, X: pd.DataFrame, y: Any) -> RecencyBaseline:
        """Fit on the training customers."""
        y = np.asarray(y)
        self.rate_ = float(y.mean())
        if self.feature is None:
            return self
        v = pd.to_numeric(X[self.feature], errors="coerce")
        self.fill_ = float(v.median()) if v.notna().any() else 0.0
        self.model_ = LogisticRegression(C=1e4).fit(self._x(X), y)
        return self

    def predict_churn(self, X: pd.DataFrame) -> np.ndarray:
        """Churn probabilities."""
        if self.feature is None:
            return np.full(len(X), self.rate_)
        return self.model_.predict_proba(self._x(X))[:, 1]
