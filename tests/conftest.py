import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def configs_dir() -> Path:
    return CONFIGS


def _random_seed() -> int:
    env = os.environ.get("LIFESIM_TEST_SEED")
    if env not in (None, "", "random"):
        return int(env)
    return int(np.random.SeedSequence().entropy % (2**32))


_SEED = _random_seed()


def pytest_report_header(config):
    return f"lifesim statistical tests: LIFESIM_TEST_SEED={_SEED} (set it to reproduce)"


@pytest.fixture
def global_seed() -> int:
    """Seed for statistical tests: random per session (they must pass for any seed)."""
    return _SEED


@pytest.fixture
def no_gc_collect(monkeypatch):
    """Make ``gc.collect`` a no-op for one test.

    statsmodels' ``multipletests`` (a reference in several tests) calls ``gc.collect()`` on
    every call: 0.1-0.2 s in a test worker's large heap, ~12 s for a test that checks 50
    families. Its numbers do not depend on it.
    """
    import gc

    monkeypatch.setattr(gc, "collect", lambda *args, **kwargs: 0)
