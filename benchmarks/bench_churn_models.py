"""Benchmark: the default ``ChurnModel`` against plain baselines on public-style snapshots.

Run: ``python benchmarks/bench_churn_models.py [--seed 0] [--folds 5]``.

The snapshots are generated (``tests/churn/churn_snapshots.py``: Telco-like, mobile-like,
RFM and interactions, at the sizes of the public tables). On the same stratified folds, the
default model (``kind="auto"``), plain scaled logistic regression with one-hot categories and
plain histogram gradient boosting are fitted; pooled out-of-fold ROC-AUCs are compared with
DeLong's paired standard error (``z`` = gap / paired SE, against the best plain baseline).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from lifesim.churn import ChurnModel
from lifesim.churn.metrics import roc_auc_delong
from lifesim.churn.selection import describe

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "churn"))
from churn_snapshots import SNAPSHOTS, plain_boosting, plain_logistic  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    models = {
        "plain logistic": plain_logistic(),
        "plain boosting": plain_boosting(args.seed),
        "ChurnModel()": ChurnModel(random_state=args.seed),
    }
    for name, make in SNAPSHOTS.items():
        X, y = make(seed=args.seed)
        cv = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
        preds, secs, chosen = {}, {}, []
        for label, model in models.items():
            t, p = time.perf_counter(), np.empty(len(y))
            for tr, te in cv.split(X, y):
                fit = clone(model).fit(X.iloc[tr], y[tr])
                p[te] = fit.predict_proba(X.iloc[te])[:, 1]
                if isinstance(fit, ChurnModel):
                    chosen.append(describe(fit)["chosen"])
            preds[label], secs[label] = p, time.perf_counter() - t
        auc, cov = roc_auc_delong(y, *preds.values())
        best = int(np.argmax(auc[:2]))
        print(f"{name}: {len(y):,} customers, churn {y.mean():.1%}; auto chose {chosen}")
        for i, label in enumerate(preds):
            se = np.sqrt(max(cov[i, i] + cov[best, best] - 2 * cov[i, best], 0.0))
            z = (auc[i] - auc[best]) / se if se > 0 else 0.0
            print(
                f"  {label:<16} ROC-AUC {auc[i]:.4f} (SE {np.sqrt(cov[i, i]):.4f})  "
                f"vs best {auc[i] - auc[best]:+.4f}  paired SE {se:.4f}  z {z:+.2f}  "
                f"{secs[label]:.1f} s"
            )


if __name__ == "__main__":
    main()
