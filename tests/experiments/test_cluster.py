"""The same numbers on a Dask cluster as in one local process (sweep, compare)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

distributed = pytest.importorskip("dask.distributed")  # the `test` extra installs it

from lifesim.experiments import compare  # noqa: E402
from lifesim.experiments.cluster import on_cluster  # noqa: E402
from lifesim.experiments.sweep import sweep  # noqa: E402

KW = {"strategies": "none,stage_focused", "replications": 2, "customers": 600, "days": 40}


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        yield c.scheduler_address


def test_sweep_and_compare_on_a_local_cluster_equal_one_process(cluster):
    local = sweep(None, ["economics.margin=0.2,0.5"], seed=7, jobs=1, **KW)
    one = compare(
        None,
        strategies=["none", "stage_focused"],
        replications=3,
        customers=600,
        days=40,
        seed=2,
        jobs=1,
    )
    with on_cluster(cluster):
        far = sweep(None, ["economics.margin=0.2,0.5"], seed=7, jobs=-1, **KW)
        two = compare(
            None,
            strategies=["none", "stage_focused"],
            replications=3,
            customers=600,
            days=40,
            seed=2,
            jobs=-1,
        )
    pd.testing.assert_frame_equal(local.runs, far.runs)
    pd.testing.assert_frame_equal(one.runs, two.runs)


def test_the_cli_runs_on_a_scheduler_and_refuses_an_unreachable_one(cluster, tmp_path):
    base = [
        sys.executable,
        "-c",
        "from lifesim.cli import main; main()",
        "sweep",
        "--vary",
        "economics.margin=0.2,0.5",
        "--strategies",
        "none,stage_focused",
        "-r",
        "2",
        "--customers",
        "600",
        "--days",
        "40",
        "--seed",
        "7",
        "--no-progress",
        "--format",
        "json",
    ]
    r = subprocess.run(
        [*base, "--scheduler", cluster, "--out", str(tmp_path / "a")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    local = subprocess.run(
        [*base, "--jobs", "1", "--out", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert json.loads(r.stdout)["points"] == json.loads(local.stdout)["points"]
    bad = subprocess.run(
        [*base, "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "c")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "no Dask scheduler answers" in bad.stderr
    assert "Traceback" not in bad.stderr
