"""Every shipped command run twice with the same seed writes byte-identical outputs, apart from
the declared timing fields."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.robustness._util import cli

#: The only fields allowed to differ between two runs with the same seed (wall-clock facts).
TIMING_FIELDS = {"elapsed_s", "started_at"}
#: A run folder manifest's checksums of its files (which hold the timing fields) and of itself:
#: they differ when the timing does; the files they cover are compared one by one instead.
CHECKSUM_FIELDS = {"checksums", "manifest_checksum"}


def _strip(obj):
    if isinstance(obj, dict):
        drop = TIMING_FIELDS | CHECKSUM_FIELDS
        return {k: _strip(v) for k, v in obj.items() if k not in drop}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _digest(path: Path) -> dict[str, str]:
    out = {}
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        data = p.read_bytes()
        if p.suffix == ".json":
            data = json.dumps(_strip(json.loads(data)), sort_keys=True).encode()
        elif p.name in ("summary.txt", "report.html", "decomposition.txt"):
            # text reports print the elapsed time in one line ("... s"); drop such lines
            data = b"\n".join(ln for ln in data.splitlines() if b"elapsed" not in ln)
        out[str(p.relative_to(path)) if path.is_dir() else p.name] = hashlib.sha256(
            data
        ).hexdigest()
    return out


def _twice(capsys, tmp_path, name, *args, out_flag=True, stdout_json=False):
    results = []
    for k in (1, 2):
        out = tmp_path / f"{name}{k}"
        extra = ["--out", str(out)] if out_flag else []
        code, stdout, err = cli(capsys, *args, *extra)
        assert code == 0, err
        if stdout_json:
            d = json.loads(stdout)
            d.pop("out", None)
            results.append(json.dumps(_strip(d), sort_keys=True))
        else:
            results.append(_digest(out))
    return results


@pytest.fixture
def ab_csv(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "ab.csv"
    pd.DataFrame(
        {
            "arm": rng.choice(["a", "b"], 400),
            "y": rng.integers(0, 2, 400),
            "v": rng.gamma(2, 3, 400),
        }
    ).to_csv(path, index=False)
    return path


@pytest.fixture
def snap_csv(tmp_path):
    rng = np.random.default_rng(1)
    n = 400
    x = rng.normal(size=n)
    path = tmp_path / "snap.csv"
    pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "x": x,
            "churn": (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int),
        }
    ).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--customers", "400", "--days", "20", "--seed", "3"],
        [
            "compare",
            "--customers",
            "400",
            "--days",
            "20",
            "-r",
            "2",
            "--seed",
            "3",
            "--no-progress",
        ],
        [
            "compare",
            "--decompose",
            "--customers",
            "400",
            "--days",
            "20",
            "-r",
            "2",
            "--no-progress",
        ],
    ],
    ids=["simulate", "compare", "decompose"],
)
def test_run_folders_are_identical(capsys, tmp_path, args):
    a, b = _twice(capsys, tmp_path, "run", *args, "--no-progress")
    assert a == b


def test_experiment_commands_are_identical(capsys, tmp_path, configs_dir):
    cfg = str(configs_dir / "study_interference.yaml")
    small = ["--customers", "1500", "--seed", "4", "--no-progress"]
    a, b = _twice(capsys, tmp_path, "exp", "experiment", "run", cfg, *small)
    assert a == b
    a, b = _twice(capsys, tmp_path, "aud", "experiment", "audit", cfg, "-r", "2", *small)
    assert a == b


def test_analyst_commands_are_identical(capsys, tmp_path, ab_csv, snap_csv):
    ab = [
        "ab",
        "analyze",
        str(ab_csv),
        "--arm",
        "arm",
        "--control",
        "a",
        "--proportion",
        "y",
        "--mean",
        "v",
        "--format",
        "json",
    ]
    a, b = _twice(capsys, tmp_path, "ab", *ab, out_flag=False, stdout_json=True)
    assert a == b
    power = ["ab", "power", "--baseline", "0.1", "--mde", "0.02", "--format", "json"]
    a, b = _twice(capsys, tmp_path, "pw", *power, out_flag=False, stdout_json=True)
    assert a == b
    ev = ["churn", "evaluate", str(snap_csv), "--label", "churn", "--id", "id", "--format", "json"]
    a, b = _twice(capsys, tmp_path, "ev", *ev, out_flag=False, stdout_json=True)
    assert a == b
    tr = ["churn", "train", str(snap_csv), "--label", "churn", "--id", "id"]
    models = []
    for k in (1, 2):
        out = tmp_path / f"m{k}.skops"
        code, _, err = cli(capsys, *tr, "--out", str(out))
        assert code == 0, err
        models.append(out)
    sc = []
    for k, m in enumerate(models):
        out = tmp_path / f"s{k}.csv"
        code, _, err = cli(
            capsys, "churn", "score", str(snap_csv), "--model", str(m), "--out", str(out)
        )
        assert code == 0, err
        sc.append(out.read_bytes())
    assert sc[0] == sc[1]
