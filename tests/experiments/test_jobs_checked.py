"""Every parallel job checks ``jobs`` up front: a clear ConfigError, not joblib's ValueError."""

from __future__ import annotations

import pandas as pd
import pytest

from lifesim.errors import ConfigError
from lifesim.experiments import compare, marginal_roi, parameter_uncertainty, sweep

SMALL = {"customers": 100, "days": 5}


@pytest.mark.parametrize("jobs", [0, -2, 1.5])
@pytest.mark.parametrize(
    "run",
    [
        lambda j: compare(None, replications=2, jobs=j, **SMALL),
        lambda j: sweep(None, ["budget.per_period=1000,2000"], replications=2, jobs=j, **SMALL),
        lambda j: marginal_roi(None, "stage_focused", budgets=[1000, 2000], jobs=j, **SMALL),
        lambda j: parameter_uncertainty(
            None, pd.DataFrame({"budget.per_period": [1000.0, 2000.0]}), jobs=j, **SMALL
        ),
    ],
    ids=["compare", "sweep", "marginal_roi", "parameter_uncertainty"],
)
def test_a_bad_jobs_value_is_refused_naming_jobs(run, jobs):
    with pytest.raises(ConfigError, match=r"jobs: must be >= 1 or -1 \(all cores\)"):
        run(jobs)
