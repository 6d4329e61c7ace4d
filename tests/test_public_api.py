"""Pin the public API (what `import lifesim` offers) and the layer contracts."""

import subprocess
import sys
import tomllib
from pathlib import Path

import importlinter  # noqa: F401  (the `test` extra: a missing linter is an error, never a skip)

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
        "calibrate",
        "CalibrationResult",
        "LifesimError",
        "ConfigError",
        "DataError",
    }
    assert expected <= set(lifesim.__all__)
    for name in lifesim.__all__:
        assert hasattr(lifesim, name), name


def test_experiments_api_is_pinned():
    import lifesim.experiments as ex

    pinned = {"compare", "ComparisonResult", "run_experiment", "audit", "insim", "decompose"}
    assert pinned | {"calibrate", "CalibrationResult"} <= set(ex.__all__)
    for name in ex.__all__:
        assert hasattr(ex, name), name


def test_config_api_is_pinned():
    import lifesim.config as cfg

    expected = {"Scenario", "load_scenario", "default_scenario", "dump_scenario", "resolve"}
    assert expected <= set(cfg.__all__)
    for name in cfg.__all__:
        assert hasattr(cfg, name), name
    assert callable(cfg.resolve)


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


def _lint_imports(config: Path | None = None) -> subprocess.CompletedProcess:
    """Run import-linter through its Python API (no console script on PATH needed)."""
    arg = "None" if config is None else repr(str(config))
    code = (
        "import sys; from importlinter.cli import lint_imports;"
        f"sys.exit(lint_imports(config_filename={arg}, no_cache=True, no_logo=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_layers_point_one_way():
    r = _lint_imports()
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # every contract of pyproject.toml was read and checked (not an empty configuration)
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    names = [c["name"] for c in contracts["contracts"]]
    assert names
    for name in names:
        assert f"{name} KEPT" in out, out
    assert f"{len(names)} kept, 0 broken" in out, out


def test_import_linter_fails_on_a_broken_contract(tmp_path):
    # the same runner must report a violation: the CLI imports the engine, so forbidding it breaks
    cfg = tmp_path / "broken.toml"
    cfg.write_text(
        "[tool.importlinter]\n"
        'root_package = "lifesim"\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "cli never imports the engine"\n'
        'type = "forbidden"\n'
        'source_modules = ["lifesim.cli"]\n'
        'forbidden_modules = ["lifesim.engine"]\n'
    )
    r = _lint_imports(cfg)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cli never imports the engine BROKEN" in r.stdout, r.stdout


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
