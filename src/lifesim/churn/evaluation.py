"""How well churn can be predicted: metrics, a calibration table, and a naive baseline beside.

Validation schemes
------------------
``"customers"``
    Stratified k-fold over the customers at one cutoff T: every customer is scored by a model
    that never saw them; metrics are computed on the pooled out-of-fold predictions.
``"time"``
    Train at an earlier cutoff T' <= T - horizon (default T - horizon), so that the training
    labels are known at T; test on the customers at risk at T. This is what deployment
    looks like.

The baseline is "recency alone": a logistic regression on ``log1p(recency)`` fitted on the same
training data (its ranking is the ranking by recency; its probabilities are calibrated).
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from lifesim._checks import check_int
from lifesim.churn.features import ChurnDataset, build_features
from lifesim.churn.labels import ChurnDefinition
from lifesim.churn.metrics import Metrics, RecencyBaseline, calibration_table, roc_auc_delong
from lifesim.churn.model import ChurnModel
from lifesim.churn.schema import TransactionLog
from lifesim.churn.selection import describe, summarize, summary_lines
from lifesim.errors import DataError

__all__ = ["ChurnEvaluation", "evaluate", "evaluate_dataset", "VALIDATIONS"]

VALIDATIONS = ("customers", "time")
_KEYS = ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift", "churn_rate", "n_customers")


def _baseline_feature(X: pd.DataFrame, wanted: str | None) -> str | None:
    if wanted is not None:
        if wanted not in X.columns:
            raise DataError(
                f"baseline feature {wanted!r} is not a column; columns are: "
                f"{', '.join(map(repr, list(X.columns)[:20]))}"
            )
        return wanted
    for name in ("recency", "tenure"):
        if name in X.columns:
            return name
    return None


@dataclass(frozen=True, eq=False)
class ChurnEvaluation:
    """One evaluation: the model and the naive baseline, scored out of sample.

    Attributes
    ----------
    definition : ChurnDefinition or None
        The churn definition of the test customers (``None`` in snapshot mode).
    validation : str
        ``"customers"`` (k-fold over customers) or ``"time"`` (earlier cutoff).
    model : Metrics
    baseline : Metrics
    baseline_name : str
    calibration : DataFrame
        The model's calibration table (deciles of predicted churn).
    predictions : DataFrame
        Per test customer: ``churned``, ``p_model``, ``p_baseline`` (index: customer id).
    model_params : dict
        Parameters of the evaluated :class:`ChurnModel`.
    n_splits : int or None
        Folds (customers validation).
    fold_roc_auc : tuple of float
        ROC-AUC of each fold (customers validation).
    train_definition : ChurnDefinition or None
        Definition at the training cutoff (time validation).
    n_features : int
    notes : tuple of str
        Caveats (few churners, a model no better than the baseline, ...).
    elapsed_s : float
    selection : dict
        Which model family and transform the inner cross-validation chose in each fit (one
        per fold), the most frequent winner beside the runner-up, and the method (see
        :func:`lifesim.churn.selection.summarize`).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim import churn
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"customer_id": rng.integers(0, 600, 1500),
    ...                    "day": rng.integers(0, 400, 1500), "amount": 10.0})
    >>> log = churn.prepare(df, observed_until=399)
    >>> ev = churn.evaluate(log, 250, 120, n_splits=3, random_state=0)
    >>> ev.validation, ev.n_splits, sorted(ev.to_dict())[:3]
    ('customers', 3, ['baseline', 'brier', 'calibration'])
    >>> ev.selection["method"]
    'inner 3-fold stratified CV on ... customers, mean ROC-AUC of uncalibrated fits, over ...'
    """

    definition: ChurnDefinition | None
    validation: str
    model: Metrics
    baseline: Metrics
    baseline_name: str
    calibration: pd.DataFrame
    predictions: pd.DataFrame
    model_params: dict[str, Any]
    n_splits: int | None = None
    fold_roc_auc: tuple[float, ...] = ()
    train_definition: ChurnDefinition | None = None
    n_features: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    elapsed_s: float = 0.0
    selection: dict[str, Any] = field(default_factory=dict)
    auc_difference: dict[str, Any] = field(default_factory=dict)

    @property
    def definition_text(self) -> str:
        """The churn definition in one sentence."""
        if self.definition is None:
            return "snapshot: churn as given by the label column"
        return self.definition.describe()

    def to_dict(self) -> dict[str, Any]:
        """Headline figures as JSON-able data (what ``--format json`` prints)."""
        m = self.model.to_dict()
        out: dict[str, Any] = {k: m[k] for k in _KEYS}
        out["n_churned"] = m["n_churned"]
        out["baseline"] = {**self.baseline.to_dict(), "name": self.baseline_name}
        out["definition"] = (
            self.definition.to_dict() if self.definition else {"text": self.definition_text}
        )
        out["validation"] = {
            "scheme": self.validation,
            "n_splits": self.n_splits,
            "fold_roc_auc": list(self.fold_roc_auc),
            "train_definition": self.train_definition.to_dict() if self.train_definition else None,
        }
        out["model"] = {
            k: (v if isinstance(v, str | int | float | None) else repr(v))
            for k, v in self.model_params.items()
        }
        out["selection"] = self.selection
        out["n_features"] = self.n_features
        out["calibration"] = self.calibration.to_dict(orient="records")
        out["roc_auc_difference"] = dict(self.auc_difference)
        out["notes"] = list(self.notes)
        out["elapsed_s"] = round(self.elapsed_s, 3)
        return out

    def to_pandas(self) -> pd.DataFrame:
        """Model and baseline metrics side by side (rows: metrics)."""
        return pd.DataFrame(
            {
                "model": self.model.to_dict(),
                f"baseline ({self.baseline_name})": self.baseline.to_dict(),
            }
        )

    def summary(self) -> str:
        """Text report: definition, validation, metrics vs baseline, calibration, notes."""
        val = (
            f"{self.n_splits}-fold over customers"
            if self.validation == "customers"
            else f"train at {self.train_definition.cutoff}, test at {self.definition.cutoff}"
            if self.train_definition and self.definition
            else self.validation
        )
        m, b = self.model.to_dict(), self.baseline.to_dict()
        lines = [
            f"churn definition: {self.definition_text}",
            f"validation:       {val}",
            f"customers:        {self.model.n_customers:,} ({self.model.n_churned:,} churned, "
            f"{self.model.churn_rate:.1%})",
            *summary_lines(self.selection, "folds"),
            "",
            f"{'metric':<18}{'model':>10}{'baseline':>12}   (baseline: {self.baseline_name})",
        ]
        for k in ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift"):
            lines.append(f"{k:<18}{m[k]:>10.4f}{b[k]:>12.4f}")
        d = self.auc_difference
        if d:
            lines.append(
                f"ROC-AUC model - baseline: {d['difference']:+.4f} [{d['lower']:+.4f}, "
                f"{d['upper']:+.4f}], p = {d['p_value']:.3g} ({d['method']})"
            )
        lines += [
            "",
            "calibration (deciles of predicted churn):",
            f"{'bin':>4}{'n':>9}{'predicted':>11}{'observed':>10}",
        ]
        for r in self.calibration.itertuples():
            lines.append(f"{r.bin:>4}{r.n:>9,}{r.mean_predicted:>11.3f}{r.observed_rate:>10.3f}")
        if self.notes:
            lines += ["", *(f"note: {n}" for n in self.notes)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>churn definition:</b> {html.escape(self.definition_text)}<br>"
            f"<b>validation:</b> {html.escape(self.validation)}</p>"
        )
        notes = "".join(f"<p><i>note: {html.escape(n)}</i></p>" for n in self.notes)
        d = self.auc_difference
        diff = (
            f"<p>ROC-AUC model - baseline: {d['difference']:+.4f} [{d['lower']:+.4f}, "
            f"{d['upper']:+.4f}], p = {d['p_value']:.3g} ({html.escape(d['method'])})</p>"
            if d
            else ""
        )
        return head + self.to_pandas().to_html(float_format=lambda v: f"{v:.4f}") + diff + notes

    def __repr__(self) -> str:
        return (
            f"ChurnEvaluation(validation={self.validation!r}, roc_auc={self.model.roc_auc:.4f}, "
            f"baseline_roc_auc={self.baseline.roc_auc:.4f}, n_customers={self.model.n_customers})"
        )


def _auc_difference(y: np.ndarray, p_model: np.ndarray, p_base: np.ndarray) -> dict[str, Any]:
    """ROC-AUC of the model minus the baseline's on the same customers: 95% CI and p-value.

    DeLong's paired test (:func:`lifesim.churn.metrics.roc_auc_delong`) on the pooled
    out-of-sample predictions, normal approximation, two-sided; empty when a class is missing.
    """
    if y.min() == y.max():
        return {}
    auc, cov = roc_auc_delong(y, p_model, p_base)
    diff = float(auc[0] - auc[1])
    se = math.sqrt(max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0))
    z = 1.959963984540054
    p = math.erfc(abs(diff) / se / math.sqrt(2)) if se > 0 else float("nan")
    return {
        "difference": diff,
        "lower": diff - z * se,
        "upper": diff + z * se,
        "se": se,
        "p_value": p,
        "level": 0.95,
        "method": "DeLong paired test on the same customers, 95% CI, normal approximation, "
        "two-sided; out-of-sample predictions pooled over folds",
    }


def _notes(model: Metrics, base: Metrics, diff: dict[str, Any] | None = None) -> tuple[str, ...]:
    notes = []
    small = min(model.n_churned, model.n_customers - model.n_churned)
    if small < 50:
        notes.append(f"few customers in the smaller class ({small}): metrics are noisy")
    if np.isfinite(model.roc_auc) and model.roc_auc <= base.roc_auc + 0.005:
        notes.append("the model ranks churners no better than the baseline")
    elif diff and diff["lower"] <= 0 < diff["difference"]:
        notes.append(
            "the model's ROC-AUC is above the baseline's here, but the 95% interval of the "
            f"difference ({diff['lower']:+.4f}, {diff['upper']:+.4f}) includes 0: these "
            "customers do not show that it ranks churners better"
        )
    return tuple(notes)


def _rng_ints(random_state: Any, k: int) -> list[int]:
    rng = np.random.default_rng(random_state)
    return [int(v) for v in rng.integers(0, 2**31 - 1, size=k)]


def _with_seed(model: ChurnModel, seed: int) -> ChurnModel:
    m = clone(model)
    if m.get_params().get("random_state") is None:
        m.set_params(random_state=seed)
    return m


def evaluate_dataset(
    data: ChurnDataset,
    model: ChurnModel | None = None,
    *,
    n_splits: int = 5,
    baseline: str | None = None,
    random_state: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> ChurnEvaluation:
    """Evaluate by stratified k-fold over the customers of one labelled dataset.

    Parameters
    ----------
    data : ChurnDataset
        From :func:`build_dataset` or :func:`lifesim.churn.read_snapshot`.
    model : ChurnModel, optional
        Unfitted model (default: ``ChurnModel()``); cloned for each fold.
    n_splits : int
        Folds (>= 2).
    baseline : str, optional
        Feature of the naive baseline (default: ``recency``, else ``tenure``, else the
        churn rate alone).
    random_state : int, Generator or None
        Seeds the folds and (when the model has none) the model.
    progress : callable, optional
        Called as ``progress(done, total)`` after each fold.

    Returns
    -------
    ChurnEvaluation

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim.churn import ChurnModel, evaluate_dataset, read_snapshot
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"recency": rng.exponential(30, 400), "plan": rng.choice(["a", "b"], 400)})
    >>> X["churn"] = rng.random(400) < X["recency"] / 100
    >>> ds = read_snapshot(X, label="churn")
    >>> ev = evaluate_dataset(ds, ChurnModel(kind="logistic"), n_splits=3, random_state=0)
    >>> ev.baseline_name, len(ev.fold_roc_auc), bool(ev.model.roc_auc > 0.6)
    ('recency', 3, True)
    """
    start = time.perf_counter()
    if data.y is None:
        raise DataError("the dataset has no labels (it was built for scoring); give a horizon")
    n_splits = check_int("n_splits", n_splits, min=2, error=DataError)
    model = model if model is not None else ChurnModel()
    y = data.y.to_numpy().astype(np.int64)
    n_min = int(min(y.sum(), len(y) - y.sum()))
    if n_min < n_splits:
        raise DataError(
            f"only {n_min} customer(s) in the smaller class (churned {int(y.sum())}, stayed "
            f"{len(y) - int(y.sum())}); need at least n_splits == {n_splits} of each: "
            "choose another cutoff/horizon or fewer splits"
        )
    bname = _baseline_feature(data.X, baseline)
    split_seed, model_seed = _rng_ints(random_state, 2)
    p_model = np.empty(len(y))
    p_base = np.empty(len(y))
    folds, fits = [], []
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=split_seed)
    for k, (tr, te) in enumerate(cv.split(np.zeros(len(y)), y)):
        m = _with_seed(model, model_seed + k)
        m.fit(data.X.iloc[tr], y[tr])
        fits.append(describe(m))
        p_model[te] = m.predict_proba(data.X.iloc[te])[:, 1]
        b = RecencyBaseline(bname).fit(data.X.iloc[tr], y[tr])
        p_base[te] = b.predict_churn(data.X.iloc[te])
        folds.append(float(roc_auc_score(y[te], p_model[te])))
        if progress is not None:
            progress(k + 1, n_splits)
    return _result(
        data,
        y,
        p_model,
        p_base,
        bname,
        model,
        "customers",
        start,
        n_splits,
        tuple(folds),
        None,
        fits,
    )


def _result(
    data, y, p_model, p_base, bname, model, scheme, start, n_splits, folds, train_def, fits
):
    mm = Metrics.from_predictions(y, p_model)
    bm = Metrics.from_predictions(y, p_base)
    diff = _auc_difference(y, p_model, p_base)
    preds = pd.DataFrame(
        {"churned": y, "p_model": p_model, "p_baseline": p_base}, index=data.X.index
    )
    return ChurnEvaluation(
        definition=data.definition,
        validation=scheme,
        model=mm,
        baseline=bm,
        baseline_name=bname or "churn rate",
        calibration=calibration_table(y, p_model),
        predictions=preds,
        model_params=model.get_params(),
        n_splits=n_splits,
        fold_roc_auc=folds,
        train_definition=train_def,
        n_features=data.X.shape[1],
        notes=_notes(mm, bm, diff),
        elapsed_s=time.perf_counter() - start,
        selection=summarize(fits),
        auc_difference=diff,
    )


def evaluate(
    log: TransactionLog,
    cutoff: Any,
    horizon_days: int,
    *,
    model: ChurnModel | None = None,
    validation: str = "customers",
    n_splits: int = 5,
    train_cutoff: Any = None,
    mode: str = "non-contractual",
    random_state: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> ChurnEvaluation:
    """Evaluate churn prediction on a transaction log at cutoff T with a horizon.

    Parameters
    ----------
    log : TransactionLog
        From :func:`lifesim.churn.prepare`.
    cutoff : date, str or int
        T.
    horizon_days : int
        Outcome window (T, T + horizon].
    model : ChurnModel, optional
        Unfitted model (default ``ChurnModel()``).
    validation : {"customers", "time"}
        See the module docstring.
    n_splits : int
        Folds for ``"customers"``.
    train_cutoff : date, str or int, optional
        T' for ``"time"`` (default: T - horizon).
    mode : {"non-contractual", "contractual"}
    random_state : int, Generator or None
    progress : callable, optional
        Called as ``progress(done, total)`` after each fit.

    Returns
    -------
    ChurnEvaluation

    Raises
    ------
    DataError
        Bad cutoff/horizon/validation, or too few churners or stayers.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from lifesim import churn
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"customer_id": rng.integers(0, 600, 1500),
    ...                    "day": rng.integers(0, 400, 1500), "amount": 10.0})
    >>> log = churn.prepare(df, observed_until=399)
    >>> ev = churn.evaluate(log, 250, 120, validation="time", random_state=0)
    >>> ev.train_definition.cutoff, ev.definition.cutoff
    ('day 130', 'day 250')
    """
    if validation not in VALIDATIONS:
        raise DataError(f"validation == {validation!r}; allowed: {', '.join(VALIDATIONS)}")
    kw = {"mode": mode}
    test = build_features(log, cutoff, horizon_days=horizon_days, **kw)
    if validation == "customers":
        return evaluate_dataset(
            test, model, n_splits=n_splits, random_state=random_state, progress=progress
        )
    start = time.perf_counter()
    if train_cutoff is None:
        t0 = test.definition.cutoff_day - test.definition.horizon_days
        if t0 < log.first_day:
            raise DataError(
                f"validation 'time' trains at T - horizon = {log.format_day(t0)}, before the "
                f"data starts ({log.format_day(log.first_day)}); set --train-cutoff (a cutoff "
                f"on or after {log.format_day(log.first_day)}) or use a shorter horizon"
            )
        train_cutoff = log.format_day(t0) if log.time_kind == "date" else t0
    train = build_features(log, train_cutoff, horizon_days=horizon_days, spec=test.spec, **kw)
    t_train, t_test = train.definition.cutoff_day, test.definition.cutoff_day
    if t_train + horizon_days > t_test:
        raise DataError(
            f"train_cutoff == {train_cutoff!r}: its labels run to {train.definition.end}, past "
            f"the cutoff {test.definition.cutoff}, so training would see the test period; "
            f"allowed: train_cutoff <= {log.format_day(t_test - horizon_days)} (T - horizon)"
        )
    model = model if model is not None else ChurnModel()
    ytr = train.y.to_numpy().astype(np.int64)
    if ytr.min() == ytr.max():
        raise DataError(
            f"at the training cutoff {train.definition.cutoff} every customer has the same "
            "label; choose another --train-cutoff"
        )
    (model_seed,) = _rng_ints(random_state, 1)
    m = _with_seed(model, model_seed).fit(train.X, ytr)
    if progress is not None:
        progress(1, 1)
    bname = _baseline_feature(test.X, None)
    b = RecencyBaseline(bname).fit(train.X, ytr)
    y = test.y.to_numpy().astype(np.int64)
    return _result(
        test,
        y,
        m.predict_proba(test.X)[:, 1],
        b.predict_churn(test.X),
        bname,
        model,
        "time",
        start,
        None,
        (),
        train.definition,
        [describe(m)],
    )
