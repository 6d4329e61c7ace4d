import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def _cdnow_path() -> Path | None:
    """CDNOW_master.txt shipped by the `lifetimes` package, found without importing it."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "CDNOW_master.txt"
    return path if path.exists() else None


@pytest.fixture(scope="session")
def cdnow_path() -> Path:
    path = _cdnow_path()
    if path is None:
        pytest.skip("the `lifetimes` package (which ships CDNOW) is not installed")
    return path


@pytest.fixture
def tiny() -> pd.DataFrame:
    """Three customers, hand-made, integer days 0..20.

    a: buys on days 0, 2, 2 (two orders the same day), 8, then 15 (after T=10)
    b: buys on day 5 only
    c: buys on day 12 only (after T=10: not at risk at T=10)
    """
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "c", "a"],
            "day": [0, 2, 2, 8, 5, 12, 15],
            "amount": [10.0, 5.0, 15.0, 30.0, 7.0, 3.0, 1.0],
        }
    )


def synthetic_log(n_customers: int, seed: int, days: int = 400) -> pd.DataFrame:
    """Customers with a buying rate and a death day: churn is learnable (vectorised)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(1.5, 0.02, n_customers)
    birth = rng.integers(0, days // 2, n_customers)
    death = birth + rng.exponential(200, n_customers).astype(int)
    n = rng.poisson(rate * (np.minimum(death, days) - birth)) + 1
    cust = np.repeat(np.arange(n_customers), n)
    span = (np.minimum(death, days) - birth)[cust]
    day = birth[cust] + (rng.random(len(cust)) * np.maximum(span, 1)).astype(int)
    amount = rng.gamma(2.0, 20.0, len(cust))
    return pd.DataFrame({"customer_id": cust, "day": np.minimum(day, days - 1), "amount": amount})


@pytest.fixture(scope="session")
def synth() -> pd.DataFrame:
    return synthetic_log(3000, seed=7)
