"""Bad values in the scenario keys of issue 9 (market.arrivals, calendar, segments.X.spend) are
refused with the key path, the value and what is allowed (never a crash or a silent run)."""

import copy
from pathlib import Path

import pytest
import yaml

from lifesim.config import load_scenario
from lifesim.errors import ConfigError
from tests._cli import run_in_process as run

REF = Path(__file__).resolve().parents[2] / "configs" / "reference.yaml"


@pytest.fixture
def ref() -> dict:
    d = yaml.safe_load(REF.read_text())
    d["market"]["arrivals"] = {"per_day": 5.0, "stage": "awareness"}
    d["calendar"] = {"start": "2024-01-01", "day_of_week": {"Sat": 1.2}}
    return d


def problems(data) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as exc:
        load_scenario(data)
    return exc.value.problems


def _set(d: dict, path: str, value) -> dict:
    d = copy.deepcopy(d)
    *head, last = path.split(".")
    node = d
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value
    return d


@pytest.mark.parametrize(
    "path",
    ["market.arrivals.per_day", "calendar.day_of_week.Sat", "budget.per_period"],
)
def test_nan_is_not_a_non_negative_number(ref, path):
    got = problems(_set(ref, path, float("nan")))
    assert (path, "must be >= 0, got nan") in got


def test_cli_refuses_nan_arrivals_with_exit_2():
    r = run("validate", str(REF), "--set", "market.arrivals={per_day: .nan, stage: awareness}")
    assert r.returncode == 2, r.stderr
    assert "market.arrivals.per_day: must be >= 0, got nan" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_an_impossible_date_in_a_file_is_a_yaml_error_with_its_line(ref, tmp_path):
    text = yaml.safe_dump(ref, sort_keys=False).replace("'2024-01-01'", "2024-02-30")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    line = 1 + text.splitlines().index(next(ln for ln in text.splitlines() if "2024-02-30" in ln))
    with pytest.raises(ConfigError, match=f"line {line}, column .*'2024-02-30' is not a date"):
        load_scenario(path)
    r = run("validate", str(path))
    assert r.returncode == 2 and "'2024-02-30' is not a date" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_an_impossible_date_in_set_names_the_key():
    r = run("validate", str(REF), "--set", "calendar.start=2023-02-29")
    assert r.returncode == 2, r.stderr
    assert "calendar.start: " in r.stderr and "'2023-02-29'" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert run("validate", str(REF), "--set", "calendar.start=2024-02-29").returncode == 0


def test_a_day_not_in_the_calendar_has_factor_1_in_the_probability_check(ref):
    ref["stages"]["retention"]["buy"]["p"] = 0.3  # x largest propensity 4 = 1.2 on a plain day
    ref["calendar"] = {"start": "2024-01-01", "day_of_week": {"Sun": 0.5}}
    got = dict(problems(ref))
    assert "= 1.2; must be <= 1" in got["stages.retention.buy.p"]
    ref["calendar"]["month"] = {"Jan": 0.5}  # every month but January still has 1
    assert "= 1.2; must be <= 1" in dict(problems(ref))["stages.retention.buy.p"]
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    ref["calendar"] = {"start": "2024-01-01", "day_of_week": dict.fromkeys(days, 0.5)}
    assert load_scenario(ref).calendar.largest() == 0.5  # every day halved: 0.6 is fine


def test_more_days_or_customers_are_refused_when_the_arrivals_would_not_fit(ref):
    from lifesim import _limits
    from lifesim.config import resolve

    have = _limits.machine_memory()
    if have is None:
        pytest.skip("the machine's memory is unknown here")
    most = have // _limits.BYTES_PER_PERSON
    ref["market"]["size"] = 1000
    ref["market"]["arrivals"]["per_day"] = most / 4000  # fits in the file's 365 days
    scn = load_scenario(ref)
    with pytest.raises(ConfigError) as exc:
        resolve(scn, days=8000)  # twice what fits: nothing is allocated to find out
    ((key, msg),) = exc.value.problems
    assert key == "days" and "x 8,000 days) need about" in msg
    with pytest.raises(ConfigError) as exc:
        resolve(scn, customers=1000 * 12)  # 12 x the inflow too
    ((key, msg),) = exc.value.problems
    assert key == "customers" and "(market.size 12,000 + arrivals.per_day" in msg
    assert resolve(scn, days=100).days == 100


def test_an_infinite_inflow_is_not_reported_as_a_made_up_count(ref):
    ref["market"]["arrivals"]["per_day"] = float("inf")
    ((key, msg),) = problems(ref)
    assert key == "market.arrivals.per_day" and msg.startswith("inf people (market.size")


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (
            "market.arrivals.per_day=3",
            "known: none (market.arrivals is not set (null): set it whole, e.g. "
            "market.arrivals={per_day: ...})",
        ),
        (
            "calendar.month.Dec=1.2",
            "known: none (calendar.month is empty: set it whole, e.g. calendar.month={Dec: ...})",
        ),
    ],
)
def test_set_into_an_unset_block_says_how_to_set_it(assignment, message):
    from lifesim.config import default_scenario, override

    path = assignment.partition("=")[0]
    with pytest.raises(ConfigError) as exc:
        override(default_scenario(), {path: 1.0})
    ((key, msg),) = exc.value.problems
    assert key == path and msg.endswith(message)
    r = run("validate", "configs/default.yaml", "--set", assignment)
    assert r.returncode == 2 and message in r.stderr, r.stderr


@pytest.mark.parametrize("key", ["spend", "order_value"])
def test_an_inverse_gamma_without_a_mean_is_refused_unless_clipped(ref, key):
    seg = next(iter(ref["segments"]))
    ref["segments"][seg][key] = {"dist": "invgamma", "shape": 1.0, "scale": 2.0}
    got = dict(problems(ref))
    msg = got[f"segments.{seg}.{key}.shape"]
    assert "shape 1 <= 1 has an infinite mean" in msg and f"{key}.max" in msg
    ref["segments"][seg][key]["max"] = 1000.0
    load_scenario(ref)  # clipped: a finite mean
    ref["segments"][seg][key] = {"dist": "invgamma", "shape": 1.5, "scale": 2.0}
    load_scenario(ref)
