"""Scores of churn probabilities: metrics, a calibration table, and the recency baseline."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from lifesim.churn.model import _signed_log1p

__all__ = ["Metrics", "calibration_table", "RecencyBaseline", "roc_auc_delong"]


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

    Examples
    --------
    >>> from lifesim.churn import Metrics
    >>> m = Metrics.from_predictions([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> m.roc_auc, m.churn_rate, m.n_churned
    (0.75, 0.5, 2)
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

    Examples
    --------
    >>> from lifesim.churn import calibration_table
    >>> t = calibration_table([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.7, 0.8], n_bins=2)
    >>> t[["bin", "n", "observed_rate"]].to_dict("list")
    {'bin': [0, 1], 'n': [3, 3], 'observed_rate': [0.3333333333333333, 0.6666666666666666]}
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

    Examples
    --------
    >>> import pandas as pd
    >>> from lifesim.churn import RecencyBaseline
    >>> X = pd.DataFrame({"recency": [1, 5, 30, 90, 2, 60]})
    >>> b = RecencyBaseline("recency").fit(X, [0, 0, 1, 1, 0, 1])
    >>> bool(b.predict_churn(X)[3] > b.predict_churn(X)[0])  # longer since the last order
    True
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


def _midranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n along the last axis, ties given their mean rank."""
    return np.apply_along_axis(lambda v: pd.Series(v).rank(method="average").to_numpy(), -1, x)


def roc_auc_delong(y: Any, *scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """ROC-AUCs of one or more scores of the same customers and their DeLong covariance.

    DeLong, DeLong and Clarke-Pearson (1988), in the fast form of Sun and Xu (2014). The
    covariance is what a paired comparison needs: the standard error of ``auc[0] - auc[1]`` is
    ``sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])``.

    Parameters
    ----------
    y : array-like of 0/1, shape (n,)
        Outcomes; both classes must occur.
    *scores : array-like of shape (n,)
        Scores (higher = more likely 1), e.g. pooled out-of-fold churn probabilities.

    Returns
    -------
    auc : ndarray of shape (k,)
    cov : ndarray of shape (k, k)
        Covariance of the AUC estimates.

    Examples
    --------
    >>> from lifesim.churn.metrics import roc_auc_delong
    >>> auc, cov = roc_auc_delong([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    >>> round(float(auc[0]), 4), round(float(cov[0, 0] ** 0.5), 4)
    (0.8889, 0.1571)
    """
    y = np.asarray(y).astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        raise ValueError(f"y has {m} positive(s) and {n} negative(s); both classes are needed")
    pos, neg = s[:, y], s[:, ~y]
    tz = _midranks(np.concatenate([pos, neg], axis=1))
    tx, ty = _midranks(pos), _midranks(neg)
    auc = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v01 = (tz[:, :m] - tx) / n
    v10 = 1 - (tz[:, m:] - ty) / m
    cov = np.atleast_2d(np.cov(v01)) / m + np.atleast_2d(np.cov(v10)) / n
    return auc, cov
