"""Hostile scenario files: every one refused with exit 2, a named key path, and no side effect.

Each case writes a scenario into an empty folder, runs ``lifesim validate`` (or ``compare``,
``simulate``, ``ab power``) through the real entry point, and checks the exit code, that no
traceback is shown, that the message names the problem, and that nothing in the folder changed.
"""

from __future__ import annotations

import os
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.robustness._inputs import fenced, refused, run, tree

BASE = "stages:\n  awareness:\n    to: {customer: 0.01}\n  customer: {kind: customer}\n"


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _validate(capsys, here, text: str | bytes, *needles: str) -> None:
    path = here / "s.yaml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    before = tree(here)
    code, err = run(capsys, "validate", path)
    refused(code, err, *needles)
    assert tree(here) == before


# numbers where a boolean would silently become 1 or 0
_NUMBER_PATHS = [
    "market.size",
    "days",
    "seed",
    "compare.replications",
    "budget.per_period",
    "budget.period_days",
    "segments.all.share",
    "segments.all.propensity.scale",
    "stages.awareness.to.customer.p",
    "market.initial.awareness",
    "fatigue.erosion",
    "economics.margin",
]


def _nested(path: str, value: object) -> dict:
    keys = path.split(".")
    out: dict = {keys[-1]: value}
    for k in reversed(keys[:-1]):
        out = {k: out}
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(_NUMBER_PATHS), flag=st.booleans())
def test_a_boolean_is_never_a_number(capsys, here, path, flag):
    data = yaml.safe_load(BASE)
    extra = _nested(path, flag)
    if path.startswith("segments"):
        extra["segments"]["all"].setdefault("share", 1.0)
        if "propensity" in extra["segments"]["all"]:
            extra["segments"]["all"]["propensity"].update(dist="gamma", shape=2.0)
    if path.startswith("stages"):
        data["stages"]["awareness"]["to"]["customer"] = {"p": flag}
        extra = {}
    data.update({k: v for k, v in extra.items() if k != "stages"})
    _validate(capsys, here, yaml.safe_dump(data), path, "boolean", str(flag).lower())


@pytest.mark.parametrize(
    "text, path",
    [
        ("days: 10\ndays: 20\n" + BASE, "days"),
        (BASE + "market:\n  size: 10\n  size: 20\n", "market.size"),
        (
            "stages:\n  awareness:\n    to: {customer: 0.01, customer: 0.02}\n"
            "  customer: {kind: customer}\n",
            "stages.awareness.to.customer",
        ),
    ],
)
def test_duplicate_keys_are_errors_naming_the_key_path(capsys, here, text, path):
    _validate(capsys, here, text, path, "duplicate key")


def test_alias_bomb_is_refused_quickly(capsys, here):
    lines = ["      l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 9):
        refs = ", ".join([f"*l{i - 1}"] * 10)
        lines.append(f"      l{i}: &l{i} [{refs}]")
    text = BASE + "strategies:\n  x:\n    type: none\n    params:\n" + "\n".join(lines) + "\n"
    t0 = time.perf_counter()
    _validate(capsys, here, text, "strategies.x.params", "aliases", "at most")
    assert time.perf_counter() - t0 < 30


def test_non_utf8_file_is_a_clean_error(capsys, here):
    _validate(capsys, here, BASE.encode() + b"name: caf\xe9\n", "not UTF-8", "line 5")


def test_deeply_nested_file_is_a_clean_error(capsys, here):
    text = BASE + "description: " + "[" * 20_000 + "]" * 20_000 + "\n"
    _validate(capsys, here, text, "nested", "levels")


def test_moderately_nested_params_are_refused_by_depth(capsys, here):
    text = BASE + "strategies:\n  x:\n    type: none\n    params: " + "{a: " * 80 + "1" + "}" * 80
    _validate(capsys, here, text + "\n", "strategies.x.params", "nested more than")


def test_oversized_file_is_refused_before_reading(capsys, here):
    _validate(capsys, here, BASE + "#" * (11 * 2**20) + "\n", "at most", "MB")


def test_dev_zero_and_fifo_are_refused_without_reading(tmp_path):
    code, err = fenced("validate", "/dev/zero", cwd=tmp_path, timeout=90)
    refused(code, err, "/dev/zero", "not a regular file")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    code, err = fenced("validate", fifo, cwd=tmp_path, timeout=90)
    refused(code, err, "pipe.yaml", "not a regular file")


@pytest.mark.parametrize(
    "extra, needles",
    [
        ("market:\n  size: 1000000000000\n", ("market.size", "people need about", "TB", "GB")),
        ("days: 1000000000\n", ("days", "32000")),
        ("compare:\n  replications: 1000000000\n", ("compare.replications", "100,000")),
    ],
)
def test_sizes_have_upper_bounds_checked_up_front(capsys, here, extra, needles):
    _validate(capsys, here, BASE + extra, *needles)


def test_compare_billion_replications_is_refused_before_any_seed(tmp_path):
    code, err = fenced("compare", "-r", 1_000_000_000, "--no-progress", cwd=tmp_path)
    refused(code, err, "replications", "100,000", "1000000000")
    assert tree(tmp_path) == {}


def test_simulate_with_a_trillion_customers_says_how_much_memory(tmp_path):
    code, err = fenced("simulate", "--customers", 10**12, "--no-progress", cwd=tmp_path)
    refused(code, err, "customers", "1,000,000,000,000 people need about", "TB", "this machine has")
    assert tree(tmp_path) == {}


def test_power_with_a_million_arms_returns_quickly_with_an_error(tmp_path):
    t0 = time.perf_counter()
    args = ("ab", "power", "--baseline", 0.1, "--mde", 0.01, "--arms", 10**6)
    code, err = fenced(*args, cwd=tmp_path)
    refused(code, err, "arms", "1000000", "100")
    assert time.perf_counter() - t0 < 60
