"""``lifesim validate`` refuses what ``compare`` and ``simulate`` refuse before their first run.

Before, a ``churn_targeted`` strategy's ``params`` were checked only when a run built it:
``validate`` said OK, and ``horizon_days: abc`` or ``offer: [coupon]`` then ended the run in
an internal error (exit 1), ``horizon_days: 1.7`` was silently cut to 1, and an unknown
``compare.objective`` passed ``validate`` too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.robustness._inputs import refused, run

ROOT = Path(__file__).resolve().parents[2]
BASE = {
    "days": 10,
    "market": {"size": 40},
    "stages": {
        "awareness": {"to": {"customer": {"p": 0.05, "propensity": True}}},
        "customer": {"kind": "customer", "buy": 0.05, "to": {"churned": 0.01}},
        "churned": {"kind": "churned"},
    },
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(here, **extra) -> Path:
    (here / "s.yaml").write_text(yaml.safe_dump({**BASE, **extra}), encoding="utf-8")
    return here / "s.yaml"


@pytest.mark.parametrize(
    ("params", "key", "said"),
    [
        ({"horizon_days": "abc"}, "params.horizon_days", "must be a whole number, got 'abc'"),
        ({"horizon_days": 1.7}, "params.horizon_days", "must be a whole number, got 1.7"),
        ({"max_iter": [3]}, "params.max_iter", "must be a whole number, got [3]"),
        ({"warmup_days": 2**70}, "params.warmup_days", "must be <= 32,000"),
        ({"offer": ["proactive_support"]}, "params.offer", "must be a tactic name"),
        ({"horizon_days": 0}, "params.horizon_days", "must be >= 1, got 0"),
    ],
)
def test_strategy_params_are_checked_by_validate_and_never_an_internal_error(
    capsys, here, params, key, said
):
    params = {"offer": "care", **params}
    care = {"stages": ["customer"], "effect": {"customer->churned": 0.5}}
    path = _write(
        here,
        tactics={"care": care},
        strategies={"ct": {"type": "churn_targeted", "params": params}},
    )
    refused(*run(capsys, "validate", path), f"strategies.ct.{key}", said)
    code, err = run(capsys, "simulate", path, "--strategy", "ct", "--no-progress")
    refused(code, err, f"strategies.ct.{key}", said)


def test_validate_refuses_an_unknown_objective(capsys, here):
    path = _write(here, compare={"objective": "proft"})
    refused(*run(capsys, "validate", path), "compare.objective", "unknown metric 'proft'")


def test_a_builtin_strategy_the_file_never_mentions_is_not_held_against_it(capsys, here):
    # the built-in churn_targeted's default offer (proactive_support) serves no stage here
    assert run(capsys, "validate", _write(here))[0] == 0
    assert run(capsys, "validate", ROOT / "configs" / "b2b.yaml")[0] == 0
    # ... but comparing it is refused by validate as by compare
    path = _write(here, compare={"strategies": ["none", "churn_targeted"]})
    refused(*run(capsys, "validate", path), "strategies.churn_targeted.params.offer")


@pytest.mark.parametrize(
    ("section", "name", "said"),
    [
        ("stages", "a->b", "a name without '->'"),
        ("stages", " ", "a name is required"),
        ("strategies", "kpi,careful", "a name without ','"),
        ("strategies", "", "a name is required"),
        ("tactics", "", "a name is required"),
    ],
)
def test_names_lifesim_could_not_address_later_are_refused(capsys, here, section, name, said):
    # a stage 'a->b' cannot be named in a tactic's effects ('a->b->c' reads as a -> 'b->c'),
    # a strategy 'kpi,careful' cannot be chosen with --strategies
    data = yaml.safe_load(yaml.safe_dump(BASE))
    spec = {
        "stages": {"kind": "prospect"},
        "strategies": {"type": "stage_focused"},
        "tactics": {"stages": ["customer"]},
    }[section]
    data.setdefault(section, {})[name] = spec
    (here / "s.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    refused(*run(capsys, "validate", here / "s.yaml"), f"{section}.{name}", said)


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        (
            {"strategies": {"m": {"type": "stage_focused", "execution": {"pacing": "fast"}}}},
            "strategies.m.execution.pacing: must be one of 'even' or 'asap', got 'fast'",
        ),
        (
            {"strategies": {"m": {"type": "stage_focused", "execution": "fancy"}}},
            "strategies.m.execution: must be one of 'naive' or 'careful', got 'fancy'",
        ),
        (
            {"market": {"size": 40, "initial": {"awareness": 0.5, "customer": 1.5}}},
            "market.initial.customer: must be in [0, 1], got 1.5",
        ),
    ],
)
def test_a_union_is_reported_by_the_branch_the_value_is_written_for(capsys, here, extra, want):
    # before: 'strategies.m.execution.literal['naive','careful']: must be one of 'naive' or
    # 'careful', got {'pacing': 'fast'}' and 'strategies.m.execution.Execution.pacing: ...'
    code, err = run(capsys, "validate", _write(here, **extra))
    refused(code, err, want)
    flat = " ".join(err.split())
    assert "literal[" not in flat and ".Execution" not in flat and "dict[" not in flat
    assert flat.count(": must") == 1, flat
