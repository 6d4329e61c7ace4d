"""Code in scenarios: a scenario file alone never makes lifesim import or run code."""

from __future__ import annotations

import pytest
import yaml

import lifesim
from lifesim.config import load_scenario
from lifesim.errors import ConfigError
from lifesim.experiments import compare, run_experiment
from lifesim.model import make_strategy, trusted
from tests.robustness import plugin
from tests.robustness._util import assert_clean_failure, cli


@pytest.fixture
def evil(tmp_path, configs_dir):
    """A scenario whose custom strategy would spawn a shell command creating a marker."""
    marker = tmp_path / "PWNED"
    d = yaml.safe_load((configs_dir / "ecommerce.yaml").read_text())
    d["market"]["size"] = 300
    d["days"] = 5
    d["strategies"] = {
        "pwn": {"type": "custom", "target": "os:system", "params": {"command": f"touch {marker}"}},
        "ok": {"type": "custom", "target": "tests.robustness.plugin:RetentionOnly"},
    }
    d["compare"] = {"strategies": ["none", "pwn"], "replications": 2}
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(d))
    return path, marker


def test_validate_reports_trust_without_running(capsys, evil):
    path, marker = evil
    code, out, err = cli(capsys, "validate", path)
    assert code == 0, err
    assert "needs trust: strategies.pwn.target" in out and "'os:system'" in out
    assert "--trust-code" in out
    assert not marker.exists()


def test_compare_refuses_untrusted_code(capsys, evil, tmp_path):
    path, marker = evil
    code, _, err = cli(capsys, "compare", path, "--no-progress", "--out", tmp_path / "r")
    assert_clean_failure(code, err, 2, "strategies.pwn.target", "os:system", "--trust-code")
    assert not marker.exists() and not (tmp_path / "r").exists()


def test_python_api_refuses_untrusted_code(evil):
    path, marker = evil
    scn = load_scenario(path)
    with pytest.raises(ConfigError, match="trust_code=True"):
        compare(scn, strategies="none,pwn", replications=2)
    with pytest.raises(ConfigError, match="strategies.pwn.target"):
        lifesim.simulate(scn, strategy="pwn")
    with pytest.raises(ConfigError, match="strategies.ok.target"):
        make_strategy(scn, "ok")
    assert not marker.exists()


def test_a_file_cannot_mark_itself_trusted(evil):
    path, _ = evil
    d = yaml.safe_load(path.read_text())
    d["_trust_code"] = True
    with pytest.raises(ConfigError):
        load_scenario(d)


def test_trusted_code_runs_when_the_user_says_so(evil):
    path, _ = evil
    scn = load_scenario(path)
    plugin.CALLS.clear()
    res = lifesim.simulate(scn, strategy="ok", trust_code=True, customers=300, days=5)
    assert plugin.CALLS == list(range(5))  # decide() ran once a day
    assert res.strategy == "retention_only"
    assert isinstance(make_strategy(trusted(scn), "ok"), plugin.RetentionOnly)


def test_trust_reaches_parallel_workers(evil):
    path, _ = evil
    res = compare(path, strategies="none,ok", replications=2, jobs=2, trust_code=True)
    assert list(res.strategies) == ["none", "ok"]


def test_experiment_arm_with_inline_code_is_refused(tmp_path, configs_dir):
    d = yaml.safe_load((configs_dir / "study_interference.yaml").read_text())
    arm = next(iter(d["experiment"]["arms"]))
    marker = tmp_path / "PWNED"
    d["experiment"]["arms"][arm]["strategy"] = {
        "type": "custom",
        "target": "os:system",
        "params": {"command": f"touch {marker}"},
    }
    with pytest.raises(ConfigError, match=rf"experiment.arms.{arm}.strategy.target"):
        run_experiment(d, customers=500)
    assert not marker.exists()
