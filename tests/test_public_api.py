"""Pin the public API (what `import lifesim` offers) and the layer contracts."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lifesim

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_api_is_pinned():
    expected = {
        "__version__",
        "Scenario",
        "load_scenario",
        "default_scenario",
        "dump_scenario",
        "simulate",
        "Simulation",
        "SimulationResult",
        "Effect",
        "LifesimError",
        "ConfigError",
        "DataError",
    }
    assert expected <= set(lifesim.__all__)
    for name in lifesim.__all__:
        assert hasattr(lifesim, name), name


def test_experiments_api_is_pinned():
    import lifesim.experiments as ex

    assert {"compare", "ComparisonResult", "run_experiment", "audit", "insim"} <= set(ex.__all__)
    for name in ex.__all__:
        assert hasattr(ex, name), name


def test_import_has_no_side_effects_on_global_random_state():
    # third-party modules that draw from `random` at import (sklearn.ensemble, skops, rich)
    # are imported first: the check is that lifesim's own code touches no global state
    code = (
        "import sklearn.ensemble, sklearn.calibration, skops.io, rich.console;"
        "import numpy as np, random; s1 = np.random.get_state()[1].copy(); r1 = random.getstate();"
        "import lifesim, lifesim.ab, lifesim.churn, lifesim.cli;"
        "assert (np.random.get_state()[1] == s1).all() and random.getstate() == r1"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter not installed")
def test_layers_point_one_way():
    r = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ab_and_churn_do_not_load_the_simulator():
    code = (
        "import sys, lifesim.ab, lifesim.churn;"
        "bad = [m for m in sys.modules if m.startswith(('lifesim.engine', 'lifesim.model'))];"
        "assert not bad, bad"
    )
    # lifesim/__init__ imports the engine, so import the subpackages without it
    code = (
        "import importlib.util, sys, types;"
        "spec = importlib.util.find_spec('lifesim');"
        "pkg = types.ModuleType('lifesim'); pkg.__path__ = list(spec.submodule_search_locations);"
        "sys.modules['lifesim'] = pkg;" + code
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
