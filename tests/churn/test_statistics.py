"""Statistical properties that must hold for any seed (LIFESIM_TEST_SEED reproduces a run)."""

import numpy as np
import pandas as pd

from lifesim.churn import ChurnModel, evaluate, prepare


def test_no_signal_in_memoryless_data(global_seed):
    """Poisson buyers with one common rate: the future does not depend on the past.

    A Poisson count placed uniformly is a Poisson process: counts in (T, T + h] are
    independent of everything before T (at-risk selection uses only the past).

    Out-of-sample ROC-AUC must then be about 0.5 (anything else would mean leakage of the
    outcome window into the features or the folds), and calibrated probabilities must
    match the churn rate.
    """
    rng = np.random.default_rng(global_seed)
    n, days = 3000, 400
    k = rng.poisson(0.01 * days, n)
    cust = np.repeat(np.arange(n), k)
    day = rng.integers(0, days, len(cust))
    df = pd.DataFrame({"customer_id": cust, "day": day, "amount": rng.gamma(2, 10, len(cust))})
    ev = evaluate(
        prepare(df, observed_until=days - 1),
        250,
        120,
        model=ChurnModel(kind="logistic"),
        n_splits=3,
        random_state=global_seed,
    )
    assert abs(ev.model.roc_auc - 0.5) < 0.06
    assert abs(ev.predictions["p_model"].mean() - ev.model.churn_rate) < 0.02
