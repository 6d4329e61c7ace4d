import copy
from pathlib import Path

import pytest
import yaml

import lifesim
from lifesim.config import dump_scenario, load_scenario
from lifesim.errors import ConfigError

REF = Path(__file__).resolve().parents[2] / "configs" / "reference.yaml"


@pytest.fixture
def ref() -> dict:
    return yaml.safe_load(REF.read_text())


def problems(data) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as exc:
        load_scenario(data)
    return exc.value.problems


def test_reference_loads_with_the_stage_order_of_the_file():
    scn = load_scenario(REF)
    assert list(scn.stages) == [
        "awareness",
        "consideration",
        "purchase",
        "retention",
        "advocacy",
        "churned",
    ]
    assert scn.days == 365 and scn.market.initial == "awareness"
    assert scn.stages["consideration"].to["awareness"].p == 0.01  # bare-number shorthand


def test_default_scenario_is_embedded(configs_dir):
    scn = lifesim.default_scenario()
    # the packaged copy is the one users copy from configs/, and what None loads
    assert scn == load_scenario(configs_dir / "default.yaml")
    assert load_scenario(None) == scn
    assert scn.name == "default" and list(scn.stages)[0] == "awareness"


def test_probability_out_of_range_names_the_key_path(ref):
    ref["stages"]["consideration"]["to"]["purchase"]["p"] = 1.7
    assert ("stages.consideration.to.purchase.p", "must be in [0, 1], got 1.7") in problems(ref)


def test_shorthand_probability_out_of_range(ref):
    ref["stages"]["advocacy"]["to"]["retention"] = -0.2
    assert ("stages.advocacy.to.retention.p", "must be in [0, 1], got -0.2") in problems(ref)


def test_unknown_key_is_a_typo(ref):
    ref["stages"]["awareness"]["to"]["consideration"]["propensty"] = True
    ref["dayz"] = 3
    found = dict(problems(ref))
    assert "unknown key 'propensty'" in found["stages.awareness.to.consideration.propensty"]
    assert "unknown key 'dayz'" in found["dayz"]
    # the close match and the keys allowed at that place, found along the path (a stage's
    # move is a union of a number and a mapping; segments are a mapping of names)
    assert found["stages.awareness.to.consideration.propensty"].endswith(
        "(did you mean 'propensity'?); allowed here: boost, p, propensity, purchase"
    )
    assert "(did you mean 'days'?)" in found["dayz"] and "market, name," in found["dayz"]


def test_unknown_key_in_a_named_entry_lists_that_entrys_keys(ref):
    seg = next(iter(ref["segments"]))
    ref["segments"][seg]["sahre"] = 0.5
    ref["market"]["zzz"] = 1
    found = dict(problems(ref))
    msg = found[f"segments.{seg}.sahre"]
    assert "(did you mean 'share'?)" in msg and "order_value, propensity" in msg
    assert found["market.zzz"] == "unknown key 'zzz'; allowed here: arrivals, initial, size"


def test_transition_to_unknown_stage(ref):
    ref["stages"]["awareness"]["to"]["considertion"] = 0.01
    ((path, msg),) = problems(ref)
    assert path == "stages.awareness.to.considertion"
    assert "unknown stage 'considertion'" in msg and "consideration" in msg


def test_outgoing_probabilities_that_can_exceed_one_after_scaling(ref):
    # 0.2 * m_max 4 * boost 1.5 = 1.2 > 1
    ref["stages"]["awareness"]["to"]["consideration"]["p"] = 0.2
    ((path, msg),) = problems(ref)
    assert path == "stages.awareness.to"
    assert "can sum to 1.202" in msg and "must be <= 1" in msg


def test_unbounded_propensity_is_refused_when_moves_scale_by_it(ref):
    del ref["segments"]["all"]["propensity"]["max"]
    ((path, msg),) = problems(ref)
    assert path == "segments.all.propensity.max" and "bounded propensity" in msg


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        (("market", "size"), -5, "market.size"),
        (("days",), 0, "days"),
        (("segments", "all", "share"), 1.5, "segments.all.share"),
        (("campaigns", "weekly_email", "every"), 0, "campaigns.weekly_email.every"),
        (
            ("campaigns", "weekly_email", "cost_per_contact"),
            -1,
            "campaigns.weekly_email.cost_per_contact",
        ),
    ],
)
def test_negative_or_zero_sizes(ref, key, value, path):
    d = ref
    for k in key[:-1]:
        d = d[k]
    d[key[-1]] = value
    found = dict(problems(ref))
    assert path in found and str(value) in found[path]


def test_wrong_types_say_what_is_allowed(ref):
    ref["days"] = "a year"
    ref["segments"]["all"]["propensity"]["dist"] = "poisson"
    found = dict(problems(ref))
    assert found["days"] == "must be a whole number, got 'a year'"
    msg = found["segments.all.propensity.dist"]
    assert "unknown distribution 'poisson'" in msg and "'gamma'" in msg


def test_shares_must_sum_to_one(ref):
    ref["segments"]["all"]["share"] = 0.5
    ref["market"]["initial"] = {"awareness": 0.5, "churned": 0.3}
    found = dict(problems(ref))
    assert "sum to 1, got 0.5" in found["segments"]
    assert "sum to 1, got 0.8" in found["market.initial"]


def test_campaign_target_must_exist(ref):
    ref["campaigns"]["weekly_email"]["targets"] = ["awareness", "loyalty"]
    found = dict(problems(ref))
    assert "unknown stage 'loyalty'" in found["campaigns.weekly_email.targets.1"]


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [a, b\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_scenario(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_scenario(top)


def test_dump_round_trips():
    scn = load_scenario(REF)
    again = load_scenario(yaml.safe_load(dump_scenario(scn)))
    assert again == scn


def test_every_shipped_config_is_valid(configs_dir):
    files = sorted(configs_dir.glob("*.yaml"))
    assert {"default.yaml", "reference.yaml", "launch_one_off.yaml"} <= {f.name for f in files}
    for f in files:
        load_scenario(f)


def test_errors_collect_every_problem(ref):
    bad = copy.deepcopy(ref)
    bad["market"]["size"] = -1
    bad["stages"]["purchase"]["to"]["retention"]["p"] = 2
    assert len(problems(bad)) == 2
