"""The CLI starts at once: importing it loads none of the heavy scientific stack."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "scipy", "matplotlib", "sklearn", "pyarrow", "polars", "statsmodels")


def test_importing_the_cli_loads_no_heavy_library():
    code = f"import sys, lifesim.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_help_of_every_command_runs_without_the_library():
    code = (
        "import sys\n"
        "from lifesim.cli import app\n"
        "from typer.testing import CliRunner\n"
        "cmds = [[], ['simulate'], ['validate'], ['compare'], ['ab', 'analyze'], ['ab', 'power'],"
        " ['churn', 'evaluate'], ['churn', 'train'], ['churn', 'score'], ['experiment', 'run'],"
        " ['experiment', 'audit'], ['datasets', 'list'], ['datasets', 'get']]\n"
        "for c in cmds:\n"
        "    r = CliRunner().invoke(app, [*c, '--help'])\n"
        "    assert r.exit_code == 0 and 'Usage' in r.output, (c, r.output)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_the_top_level_api_still_resolves():
    import lifesim

    for name in lifesim.__all__:
        assert getattr(lifesim, name) is not None, name
    res = lifesim.simulate(None, customers=300, days=5, strategy="churn_targeted")
    assert res.customers == 300  # the upper layer's strategy type is registered on first use
