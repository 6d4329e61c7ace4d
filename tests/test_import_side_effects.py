"""Importing lifesim changes nothing global: matplotlib's backend and rcParams, warning filters,
NumPy's error handling, pandas' options, logging. Each check runs in a fresh interpreter.

What the libraries lifesim imports do at their own import (SciPy adds warning filters) is not
lifesim's doing: they are imported first, then the snapshot is taken, then lifesim.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

MODULES = "lifesim, lifesim.report, lifesim.report.plots, lifesim.experiments, lifesim.cli"

SNAPSHOT = """
import logging, warnings
import matplotlib, numpy as np, pandas as pd

def snapshot():
    rc = matplotlib.rcParams
    return {
        # _get: the raw value, without resolving an 'auto' backend (reading it would)
        "rc": {k: repr(rc._get(k)) for k in rc},
        "interactive": matplotlib.is_interactive(),
        "warnings": [repr(f) for f in warnings.filters],
        "np.geterr": np.geterr(),
        "pd.options": repr(pd.get_option("display.precision"))
        + repr(pd.get_option("display.max_columns")),
        "logging": (logging.root.level, list(logging.root.handlers)),
        # lifesim draws on plain Figures: it never loads pyplot (nor its backend machinery)
        "pyplot loaded": "matplotlib.pyplot" in __import__("sys").modules,
    }
"""


def _third_party() -> list[str]:
    """Every non-lifesim module that importing lifesim loads (probed in a fresh interpreter)."""
    code = (
        f"import sys\nold = set(sys.modules)\nimport {MODULES}\n"
        "print('\\n'.join(sorted(m for m in set(sys.modules) - old"
        " if not m.startswith('lifesim') and not m.startswith('_'))))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def _run(prelude: str, env_backend: str | None) -> subprocess.CompletedProcess:
    pre = (
        "import importlib, contextlib\n"
        f"for m in {_third_party()!r}:\n"
        "    with contextlib.suppress(Exception):\n"
        "        importlib.import_module(m)\n"
    )
    code = (
        SNAPSHOT
        + prelude
        + "\n"
        + pre
        + f"\nbefore = snapshot()\nimport {MODULES}\nafter = snapshot()\n"
        + "changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}\n"
        + "if 'rc' in changed:\n"
        + "    b, a = changed['rc']\n"
        + "    changed['rc'] = {k: (b.get(k), a.get(k)) for k in set(b) | set(a)"
        + " if b.get(k) != a.get(k)}\n"
        + "assert not changed, changed\n"
        + "print(matplotlib.get_backend())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    if env_backend is not None:
        env["MPLBACKEND"] = env_backend
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize(
    ("prelude", "env_backend", "expected"),
    [
        ("matplotlib.use('svg')", None, "svg"),  # a user's own choice stays
        ("", "pdf", "pdf"),  # as does MPLBACKEND
        ("", None, None),  # no choice: matplotlib's own ('auto') is left unresolved
    ],
    ids=["use", "MPLBACKEND", "auto"],
)
def test_importing_lifesim_leaves_the_backend_and_global_state_alone(
    prelude, env_backend, expected
):
    r = _run(prelude, env_backend)
    assert r.returncode == 0, r.stderr
    if expected is not None:
        assert r.stdout.strip() == expected
