"""``ChurnModel(kind="auto")`` is never beaten by a plain baseline beyond the noise.

On generated public-style snapshots (``churn_snapshots``) whose true model is linear in the
raw features (Telco-like, mobile-like), linear in log features (RFM) or non-linear
(interactions), the default model is scored on the same outer folds as plain logistic
regression (scaled, one-hot) and plain histogram gradient boosting; the pooled out-of-fold
ROC-AUCs are compared with DeLong's paired standard error.

Tolerance: the default may trail the best baseline by at most 3 paired DeLong standard errors
(a one-sided 0.13% level), and at least by 0.001 (when both rank the customers identically up
to solver tolerance the paired error is ~0). The same tolerance is shown to reject a wrong
choice (a broken selection) on every snapshot.
"""

import json

import numpy as np
import pytest
from churn_snapshots import SNAPSHOTS, plain_boosting, plain_logistic
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from lifesim.churn import ChurnModel, evaluate_dataset, read_snapshot
from lifesim.churn.metrics import roc_auc_delong
from lifesim.churn.selection import candidates, describe, summarize
from lifesim.cli import main

Z, FLOOR = 3.0, 0.001
#: What inner CV should choose, by the true model of each snapshot.
EXPECTED = {
    "telco": "logistic",
    "mobile": "logistic",
    "rfm": "logistic+log1p",
    "interactions": "boosting",
}
#: A wrong choice on each snapshot (what a broken selection would give).
WRONG = {
    "telco": ChurnModel(kind="boosting", random_state=0),
    "mobile": ChurnModel(kind="boosting", random_state=0),
    "rfm": ChurnModel(kind="logistic", feature_transform="none", random_state=0),
    "interactions": ChurnModel(kind="logistic", random_state=0),
}


def _oof(models, X, y, seed):
    """Pooled out-of-fold churn probabilities of each model, on the same 3 folds."""
    out = {k: np.empty(len(y)) for k in models}
    chosen = []
    for tr, te in StratifiedKFold(3, shuffle=True, random_state=seed).split(X, y):
        for k, m in models.items():
            fit = clone(m).fit(X.iloc[tr], y[tr])
            out[k][te] = fit.predict_proba(X.iloc[te])[:, 1]
            if k == "auto":
                chosen.append(describe(fit)["chosen"])
    return out, chosen


def _gap(y, p_a, p_b):
    """AUC(a) - AUC(b) and its paired DeLong standard error."""
    auc, cov = roc_auc_delong(y, p_a, p_b)
    return auc[0] - auc[1], float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))


@pytest.fixture(scope="module", params=list(SNAPSHOTS))
def scored(request):
    name = request.param
    X, y = SNAPSHOTS[name](seed=1)
    models = {
        "auto": ChurnModel(random_state=0),
        "logistic": plain_logistic(),
        "boosting": plain_boosting(),
        "wrong": WRONG[name],
    }
    p, chosen = _oof(models, X, y, seed=1)
    return name, y, p, chosen


def test_default_is_within_noise_of_the_best_plain_baseline(scored):
    name, y, p, _ = scored
    best = max(("logistic", "boosting"), key=lambda k: roc_auc_delong(y, p[k])[0][0])
    gap, se = _gap(y, p["auto"], p[best])
    assert gap >= -max(Z * se, FLOOR), f"{name}: auto trails {best} by {-gap:.4f} (se {se:.4f})"


def test_the_tolerance_rejects_a_wrong_choice(scored):
    """The assertion above has power: the wrong family or transform would fail it."""
    name, y, p, _ = scored
    gap, se = _gap(y, p["wrong"], p["auto"])
    assert gap < -max(Z * se, FLOOR), f"{name}: wrong choice within {-gap:.4f} (se {se:.4f})"


def test_inner_cv_picks_the_family_of_the_true_model(scored):
    name, _, _, chosen = scored
    assert chosen == [EXPECTED[name]] * 3


def test_fitted_attributes_name_winner_and_runner_up():
    X, y = SNAPSHOTS["rfm"](n=1500, seed=2)
    m = ChurnModel(random_state=0).fit(X, y)
    res = m.cv_results_
    assert res["candidate"] == ["logistic", "logistic+log1p", "boosting"]
    assert sorted(res["rank"]) == [1, 2, 3]
    first, second = (res["candidate"][res["rank"].index(r)] for r in (1, 2))
    assert (m.kind_, m.feature_transform_) == (
        res["kind"][res["rank"].index(1)],
        res["transform"][res["rank"].index(1)],
    )
    assert describe(m)["chosen"] == first and m.runner_up_ == second
    assert m.best_score_ == max(res["mean_roc_auc"]) >= m.runner_up_score_
    assert "inner 3-fold stratified CV on 1,500 customers" in m.selection_method_


def test_explicit_options_skip_or_narrow_the_selection():
    assert candidates("auto", "auto") == [
        ("logistic", "none"),
        ("logistic", "log"),
        ("boosting", "none"),
    ]
    assert candidates("logistic", "auto") == [("logistic", "none"), ("logistic", "log")]
    assert candidates("auto", "log") == [("logistic", "log"), ("boosting", "log")]
    assert candidates("boosting", "auto") == [("boosting", "none")]
    X, y = SNAPSHOTS["interactions"](n=600, seed=0)
    m = ChurnModel(kind="boosting", max_iter=20, random_state=0).fit(X, y)
    assert m.kind_ == "boosting" and m.runner_up_ is None and np.isnan(m.best_score_)
    assert m.selection_method_.startswith("no selection (one candidate)")
    m = ChurnModel(kind="logistic", feature_transform="log").fit(X, y)
    assert (m.kind_, m.feature_transform_) == ("logistic", "log")


def test_summarize_counts_winners_and_averages_scores():
    a = {"chosen": "logistic", "candidates": {"logistic": 0.8, "boosting": 0.7}, "method": "m"}
    b = {"chosen": "boosting", "candidates": {"logistic": 0.7, "boosting": 0.75}, "method": "m"}
    s = summarize([a, a, b])
    assert s["chosen"] == "logistic" and s["chosen_counts"] == {"logistic": 2, "boosting": 1}
    assert s["inner_roc_auc"] == pytest.approx(0.7667, abs=1e-4)
    assert s["runner_up"] == "boosting" and s["runner_up_inner_roc_auc"] == pytest.approx(
        0.7167, abs=1e-4
    )


def test_delong_matches_the_mann_whitney_auc_and_a_hand_variance():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    auc, cov = roc_auc_delong(y, s)
    # 8 of the 9 (churner, stayer) pairs are ordered right
    assert auc[0] == pytest.approx(8 / 9)
    # structural components: churners (8/9 -> 2/3, 1, 1), stayers (1, 2/3, 1): by hand
    v10, v01 = np.array([2 / 3, 1, 1]), np.array([1, 2 / 3, 1])
    assert cov[0, 0] == pytest.approx(v10.var(ddof=1) / 3 + v01.var(ddof=1) / 3)


def test_cli_reports_winner_runner_up_and_method(tmp_path, capsys):
    X, y = SNAPSHOTS["telco"](n=900, seed=3)
    X.assign(Churn=np.where(y == 1, "Yes", "No")).to_csv(tmp_path / "t.csv", index=False)
    args = ["churn", "evaluate", str(tmp_path / "t.csv"), "--label", "Churn", "--n-splits", "3"]
    for fmt in ("json", "table"):
        with pytest.raises(SystemExit) as exc:
            main([*args, "--no-progress", "--format", fmt])
        assert exc.value.code in (0, None)
        out = capsys.readouterr().out
        if fmt == "json":
            sel = json.loads(out)["selection"]
            assert sum(sel["chosen_counts"].values()) == 3 and len(sel["fits"]) == 3
            assert sel["runner_up"] in sel["candidates"] and sel["runner_up"] != sel["chosen"]
            assert sel["method"].startswith("inner 3-fold stratified CV")
        else:
            assert "runner-up" in out and "model selection:  inner 3-fold stratified CV" in out
    with pytest.raises(SystemExit):
        main(
            [
                "churn",
                "train",
                str(tmp_path / "t.csv"),
                "--label",
                "Churn",
                "--out",
                str(tmp_path / "m.skops"),
                "--format",
                "json",
            ]
        )
    sel = json.loads(capsys.readouterr().out)["selection"]
    assert sel["runner_up_inner_roc_auc"] is not None and sel["method"].startswith("inner")


def test_evaluation_keeps_the_selection_of_each_fold():
    X, y = SNAPSHOTS["interactions"](n=800, seed=0)
    ds = read_snapshot(X.assign(churn=y), label="churn")
    ev = evaluate_dataset(ds, ChurnModel(max_iter=30), n_splits=2, random_state=0)
    assert len(ev.selection["fits"]) == 2 and ev.selection["chosen"] == "boosting"
    assert "model:            boosting (chosen in 2/2 folds)" in ev.summary()
