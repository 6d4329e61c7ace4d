"""A run from a log's customers (--from-log, initial=) keeps the scenario's inflow of new people:
the market is given, so market.arrivals.per_day is not scaled with its size."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import yaml

import lifesim
from lifesim.config import load_scenario
from lifesim.experiments.calibration import calibrate
from lifesim.experiments.calibration.state import state_from_log


def _log(n: int, seed: int) -> pd.DataFrame:
    """Customers whose first orders spread over days 0..59, then a few repeat orders."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 60, n)
    lam, mu = rng.gamma(0.8, 1 / 60, n), rng.gamma(0.7, 1 / 120, n)
    end = np.minimum(first + rng.exponential(1, n) / mu, 200)
    rows = [(i, first[i], 20.0) for i in range(n)]
    for i in range(n):
        t = first[i] + np.cumsum(rng.exponential(1 / lam[i], 100))
        rows += [(i, int(v), float(rng.lognormal(3, 0.5))) for v in t[t <= end[i]]]
    return pd.DataFrame(rows, columns=["customer", "day", "amount"])


def test_a_run_from_the_log_keeps_the_scenarios_arrivals(tmp_path):
    log = _log(600, 5)
    res = calibrate(log, cutoff=150, draws=10, forecast_draws=10)
    res.save(tmp_path / "cal")
    spec = yaml.safe_load((tmp_path / "cal" / "scenario.yaml").read_text())
    spec["market"]["arrivals"] = {"per_day": 3.0, "stage": "retention", "purchase": True}
    spec["days"] = 20
    path = tmp_path / "arr.yaml"
    path.write_text(yaml.safe_dump(spec))
    scn = load_scenario(path)
    state = state_from_log(scn, log, 30)  # fewer customers than market.size (those at 150)
    assert state.customers < scn.market.size
    sim = lifesim.Simulation(scn, seed=1, initial=state(1))
    assert sim.n0 == state.customers
    assert sim.scenario.market.arrivals.per_day == 3.0  # was 3 x customers / market.size
    data = tmp_path / "tx.csv"
    log.to_csv(data, index=False)
    for command in ("simulate", "compare"):
        out = tmp_path / command
        args = [command, str(path), "--from-log", str(data), "--as-of", "30", "--out", str(out)]
        if command == "compare":
            args += ["--strategies", "none", "--replications", "2"]
        r = subprocess.run(
            [sys.executable, "-c", "from lifesim.cli import main; main()", *args, "--no-progress"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stderr
        ran = yaml.safe_load((out / "scenario.yaml").read_text())
        assert ran["market"]["size"] == state.customers
        assert ran["market"]["arrivals"]["per_day"] == 3.0, command
