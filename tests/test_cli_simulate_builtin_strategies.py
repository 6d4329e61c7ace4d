"""lifesim simulate --strategy runs every built-in strategy type in a fresh process.

churn_targeted registers itself from lifesim.experiments, which 'lifesim simulate' does not
import: it said "import lifesim (or lifesim.experiments) first", which a CLI user cannot do.
A fresh interpreter, since the test session has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"


@pytest.mark.parametrize("strategy", ["churn_targeted", "fixed_split", "stage_focused"])
def test_simulate_runs_each_builtin_strategy_type(tmp_path, strategy):
    cmd = [sys.executable, "-c", "from lifesim.cli import main; main()", "simulate", str(CONFIG)]
    cmd += ["--strategy", strategy, "--customers", "100", "--days", "5", "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "revenue" in r.stdout and "Traceback" not in r.stderr
