"""Model selection for :class:`~lifesim.churn.ChurnModel`: family and transform by inner CV.

Method
------
Every candidate (a model family and a transform of the numeric columns) is fitted on the same
stratified folds of the training customers only (default 3; at most :data:`MAX_ROWS`
customers, a stratified subsample above that), without calibration, and scored by its mean
ROC-AUC on the held-out folds. The highest mean wins; ties go to the simpler candidate (in
the order of :data:`CANDIDATES`). The runner-up and every candidate's score are kept on the
fitted model, so that the choice can be reported and questioned. Calibration is monotone, so
it does not change the ranking that ROC-AUC measures; it is fitted afterwards, on the winner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

__all__ = [
    "CANDIDATES",
    "MAX_ROWS",
    "candidates",
    "select",
    "describe",
    "summarize",
    "summary_lines",
]

#: (family, transform) pairs that ``kind="auto", feature_transform="auto"`` compares, in order.
CANDIDATES: tuple[tuple[str, str], ...] = (
    ("logistic", "none"),
    ("logistic", "log"),
    ("boosting", "none"),
)
#: Selection runs on at most this many customers (a stratified subsample above).
MAX_ROWS = 50_000


def label(kind: str, transform: str) -> str:
    """Candidate name, e.g. ``"logistic+log1p"``."""
    return kind if transform == "none" else f"{kind}+log1p"


def candidates(kind: str, transform: str) -> list[tuple[str, str]]:
    """Return the (family, transform) pairs to compare for the given parameters.

    Trees are invariant to monotone transforms, so ``"auto"`` tries only ``"none"``
    for boosting; an explicit transform is applied to every family.
    """
    kinds = ("logistic", "boosting") if kind == "auto" else (kind,)
    out = []
    for k in kinds:
        if transform != "auto":
            out.append((k, transform))
        else:
            out += [c for c in CANDIDATES if c[0] == k]
    return out


def _subsample(n: int, y: np.ndarray, seed: int | None) -> np.ndarray:
    if n <= MAX_ROWS:
        return np.arange(n)
    idx, _ = train_test_split(np.arange(n), train_size=MAX_ROWS, stratify=y, random_state=seed)
    return np.sort(idx)


def _take(X: Any, idx: np.ndarray) -> Any:
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


def select(
    make: Callable[[str, str], Any],
    pairs: list[tuple[str, str]],
    X: Any,
    y: np.ndarray,
    sample_weight: Any,
    n_splits: int,
    seed: int | None,
) -> dict[str, Any]:
    """Score every candidate by inner cross-validation and name the winner.

    Parameters
    ----------
    make : callable
        ``make(kind, transform)`` returns an unfitted, uncalibrated base model.
    pairs : list of (kind, transform)
        Candidates, simplest first (ties go to the first).
    X : array-like or DataFrame
    y : ndarray of 0/1
    sample_weight : array-like or None
        Used in the fits and in the ROC-AUC.
    n_splits : int
        Inner folds (fewer when a class has fewer customers).
    seed : int or None
        Seeds the subsample and the folds.

    Returns
    -------
    dict
        ``kind``, ``transform``, ``best_score``, ``runner_up``, ``runner_up_score``,
        ``cv_results`` (per candidate: name, kind, transform, mean and std of ROC-AUC, rank)
        and ``method`` (one sentence).
    """
    n_min = int(np.bincount(y, minlength=2).min())
    k = min(n_splits, n_min)
    if len(pairs) == 1 or k < 2:
        kind, transform = pairs[0]
        why = "one candidate" if len(pairs) == 1 else f"{n_min} customer(s) in a class"
        return {
            "kind": kind,
            "transform": transform,
            "best_score": float("nan"),
            "runner_up": None,
            "runner_up_score": float("nan"),
            "cv_results": {},
            "method": f"no selection ({why}): {label(kind, transform)}",
        }
    sub = _subsample(len(y), y, seed)
    Xs, ys = _take(X, sub), y[sub]
    ws = None if sample_weight is None else np.asarray(sample_weight)[sub]
    folds = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(ys)), ys))
    scores = np.empty((len(pairs), k))
    for i, (kind, transform) in enumerate(pairs):
        base = make(kind, transform)
        for j, (tr, te) in enumerate(folds):
            fit_kw = {} if ws is None else {"sample_weight": ws[tr]}
            m = clone(base).fit(_take(Xs, tr), ys[tr], **fit_kw)
            p = m.predict_proba(_take(Xs, te))[:, 1]
            scores[i, j] = roc_auc_score(ys[te], p, sample_weight=None if ws is None else ws[te])
    mean = scores.mean(axis=1)
    order = sorted(range(len(pairs)), key=lambda i: (-mean[i], i))
    names = [label(*p) for p in pairs]
    best, second = order[0], order[1]
    rows = f"{len(sub):,} customers" + (" (stratified subsample)" if len(sub) < len(y) else "")
    return {
        "kind": pairs[best][0],
        "transform": pairs[best][1],
        "best_score": float(mean[best]),
        "runner_up": names[second],
        "runner_up_score": float(mean[second]),
        "cv_results": {
            "candidate": names,
            "kind": [p[0] for p in pairs],
            "transform": [p[1] for p in pairs],
            "mean_roc_auc": [float(v) for v in mean],
            "std_roc_auc": [float(v) for v in scores.std(axis=1)],
            "rank": [order.index(i) + 1 for i in range(len(pairs))],
        },
        "method": (
            f"inner {k}-fold stratified CV on {rows}, mean ROC-AUC of uncalibrated fits, "
            f"over {', '.join(names)}"
        ),
    }


def describe(model: Any) -> dict[str, Any]:
    """Report what a fitted ChurnModel chose, as JSON-able data (winner, runner-up, method).

    Parameters
    ----------
    model : ChurnModel
        Fitted.

    Returns
    -------
    dict
        ``chosen``, ``kind``, ``transform``, ``inner_roc_auc``, ``runner_up``,
        ``runner_up_inner_roc_auc``, ``candidates`` (name -> inner ROC-AUC) and ``method``.
    """
    res = getattr(model, "cv_results_", {}) or {}
    kind = getattr(model, "kind_", model.kind)
    transform = getattr(model, "feature_transform_", "log" if kind == "logistic" else "none")
    nan_none = lambda v: None if v is None or not np.isfinite(v) else round(float(v), 6)  # noqa: E731
    return {
        "chosen": label(kind, transform),
        "kind": kind,
        "transform": transform,
        "inner_roc_auc": nan_none(getattr(model, "best_score_", None)),
        "runner_up": getattr(model, "runner_up_", None),
        "runner_up_inner_roc_auc": nan_none(getattr(model, "runner_up_score_", None)),
        "candidates": dict(
            zip(res.get("candidate", []), map(nan_none, res.get("mean_roc_auc", [])), strict=True)
        ),
        "method": getattr(model, "selection_method_", "fixed family (saved before selection)"),
    }


def summarize(fits: list[dict[str, Any]]) -> dict[str, Any]:
    """Combine the choices of several fits (one per outer fold) into one report.

    Parameters
    ----------
    fits : list of dict
        :func:`describe` of each fitted model.

    Returns
    -------
    dict
        ``chosen`` (the most frequent winner), ``chosen_counts``, ``inner_roc_auc`` and
        ``runner_up`` / ``runner_up_inner_roc_auc`` (each candidate's inner ROC-AUC averaged
        over the fits; the runner-up is the best candidate other than ``chosen``),
        ``candidates``, ``method`` and ``fits`` (the per-fit reports).
    """
    if not fits:
        return {}
    counts: dict[str, int] = {}
    for f in fits:
        counts[f["chosen"]] = counts.get(f["chosen"], 0) + 1
    chosen = max(counts, key=lambda k: (counts[k], -list(counts).index(k)))
    names = list(dict.fromkeys(n for f in fits for n in f["candidates"]))
    means = {}
    for n in names:
        vals = [f["candidates"][n] for f in fits if f["candidates"].get(n) is not None]
        means[n] = round(float(np.mean(vals)), 6) if vals else None
    others = [n for n in names if n != chosen and means[n] is not None]
    runner = max(others, key=lambda n: means[n]) if others else None
    return {
        "chosen": chosen,
        "chosen_counts": counts,
        "inner_roc_auc": means.get(chosen),
        "runner_up": runner,
        "runner_up_inner_roc_auc": means.get(runner) if runner else None,
        "candidates": means,
        "method": fits[0]["method"],
        "fits": fits,
    }


def summary_lines(sel: dict[str, Any], unit: str = "fits") -> list[str]:
    """Two lines of text: the winner beside the runner-up, and the selection method."""
    if not sel:
        return []
    n = sum(sel.get("chosen_counts", {}).values()) or 1
    k = sel.get("chosen_counts", {}).get(sel["chosen"], 1)
    score = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    head = f"model:            {sel['chosen']}"
    if n > 1:
        head += f" (chosen in {k}/{n} {unit})"
    if sel.get("runner_up"):
        head += (
            f"; inner-CV ROC-AUC {score(sel['inner_roc_auc'])}, runner-up "
            f"{sel['runner_up']} {score(sel['runner_up_inner_roc_auc'])}"
        )
    return [head, f"model selection:  {sel['method']}"]
