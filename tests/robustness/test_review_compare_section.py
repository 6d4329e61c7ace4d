"""The scenario's ``compare:`` section: mistakes are refused by ``validate`` and named by key.

Before, ``compare.baseline`` naming no strategy (a typo) was silently replaced by the first
strategy compared; an empty or repeated ``compare.strategies`` passed ``validate`` and was
refused by ``compare`` as ``strategies`` (a flag the user had not typed); a scenario's
``objective`` or ``replications`` that ``compare`` cannot use were named without ``compare.``.
"""

from __future__ import annotations

import pytest
import yaml

from tests.robustness._inputs import refused, run

BASE = {
    "days": 10,
    "market": {"size": 40},
    "stages": {
        "awareness": {"to": {"customer": {"p": 0.05, "propensity": True}}},
        "customer": {"kind": "customer", "buy": 0.05},
    },
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(here, compare: dict) -> str:
    (here / "s.yaml").write_text(yaml.safe_dump({**BASE, "compare": compare}), encoding="utf-8")
    return str(here / "s.yaml")


@pytest.mark.parametrize(
    ("section", "needles"),
    [
        ({"baseline": "nnone"}, ["compare.baseline", "unknown strategy 'nnone'", "known: none"]),
        ({"strategies": []}, ["compare.strategies", "at least one strategy"]),
        ({"strategies": ["none", "none"]}, ["compare.strategies", "each strategy once"]),
    ],
)
def test_validate_refuses_a_compare_section_that_compare_cannot_run(capsys, here, section, needles):
    path = _write(here, section)
    refused(*run(capsys, "validate", path), *needles)
    refused(*run(capsys, "compare", path, "--no-progress", "--out", "r"), *needles)
    assert not (here / "r").exists()


def test_the_scenarios_objective_and_replications_are_named_by_their_key(capsys, here):
    path = _write(here, {"objective": "proft"})
    code, err = run(capsys, "compare", path, "--no-progress", "--out", "r")
    refused(code, err, "compare.objective", "unknown metric 'proft'", "allowed: profit")
    code, err = run(
        capsys,
        "optimize",
        path,
        "--space",
        "budget.per_period=0:100",
        "--no-progress",
        "--out",
        "r",
    )
    refused(code, err, "compare.objective", "unknown metric 'proft'")
    path = _write(here, {"replications": 1})
    code, err = run(capsys, "compare", path, "--no-progress", "--out", "r")
    refused(code, err, "compare.replications", ">= 2, got 1")
    assert not (here / "r").exists()


def test_a_baseline_that_is_known_but_not_compared_still_falls_back(capsys, here):
    # --strategies without the scenario's baseline: the first strategy is the baseline
    path = _write(here, {"baseline": "none", "replications": 2})
    code, err = run(
        capsys,
        "compare",
        path,
        "--strategies",
        "kpi_focused,stage_focused",
        "--no-progress",
        "--out",
        "r",
        "--format",
        "json",
    )
    assert code == 0, err
