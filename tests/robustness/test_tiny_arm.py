"""An in-simulator experiment arm whose share gives it no units is refused with what to do.

Before, ``shares 0.999/0.001`` on a 300-person market ran the whole simulation and the truth
runs, then failed in the analysis with "arm column 'arm' has a single arm ('control')": no word
of which arm, its share, or that the market was too small for it.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.robustness._inputs import refused, run


@pytest.fixture
def tiny(tmp_path, monkeypatch, configs_dir):
    """The interference study on 300 people, with a 0.1% treatment arm."""
    monkeypatch.chdir(tmp_path)
    scn = yaml.safe_load((configs_dir / "study_interference.yaml").read_text(encoding="utf-8"))
    scn["market"]["size"] = 300
    scn["experiment"]["arms"]["control"]["share"] = 0.999
    scn["experiment"]["arms"]["referrals"]["share"] = 0.001
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(scn), encoding="utf-8")
    return tmp_path


ARM = ("experiment.arms.referrals.share", "arm 'referrals' (share 0.001) got 0 of the")
FIX = "give it a larger share or use"


@pytest.mark.parametrize(
    "cmd",
    [
        ("experiment", "run", "tiny.yaml"),
        ("experiment", "audit", "tiny.yaml", "-r", "2"),
        ("experiment", "audit", "tiny.yaml", "-r", "2", "--peek", "3"),
    ],
)
def test_a_person_level_arm_without_people_is_named(capsys, tiny, cmd):
    code, err = run(capsys, *cmd, "--no-progress", "--out", "r")
    refused(code, err, *ARM, "300 people in the experiment", "share x 300 = 0.3", FIX)
    refused(code, err, "a larger market (at least 1,500 people in the experiment")
    assert "single arm" not in err and not (tiny / "r").exists()


def test_a_market_level_arm_without_regions_is_named(capsys, tiny):
    code, err = run(capsys, "experiment", "run", "tiny.yaml", "--design", "market", "--out", "r")
    refused(code, err, *ARM, "regions", FIX, "more regions (experiment.design.clusters")
    assert not (tiny / "r").exists()


def test_the_market_size_the_message_asks_for_is_enough(capsys, tiny):
    code, err = run(
        capsys, "experiment", "run", "tiny.yaml", "--customers", "1500", "--no-progress",
        "--truth-replications", "1", "--out", "r",
    )  # fmt: skip
    assert code == 0, err
    assert (tiny / "r" / "dataset.csv").exists()


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.integers(1, 10_000), min_size=2, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_promised_number_of_units_gives_every_arm_one(weights, seed):
    # the message promises: with ceil((1 + (arms - 1) / 2) / share) units, the arm gets >= 1
    from lifesim.experiments.insim.design import assign

    shares = [w / sum(weights) for w in weights]
    for a, share in enumerate(shares):
        need = int(np.ceil((1 + (len(shares) - 1) / 2) / share))
        if need > 200_000:
            continue
        got = assign(need, shares, seed)
        assert (got == a).sum() >= 1, (shares, a, need)
