"""Segment breakdown (`lifesim.ab.segments`, `ab analyze --segment`).

References: Cochran's Q and I^2 computed by hand on small inputs; Holm against statsmodels'
``multipletests``; each level against ``ab.analyze`` on that level's rows. Rates over many
simulated experiments pass for any seed (``global_seed``): counts are compared with exact
binomial bounds at level 1e-3.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from typer.testing import CliRunner

from lifesim import ab
from lifesim.ab.segments import cochran_q
from lifesim.cli import app
from lifesim.errors import DataError

runner = CliRunner()


def test_cochran_q_by_hand():
    # w = 100, 25, 100; d_bar = (10 + 7.5 - 20) / 225 = -1/90
    # Q = 100 (0.1 + 1/90)^2 + 25 (0.3 + 1/90)^2 + 100 (-0.2 + 1/90)^2 = 65/9
    q, df, p, i2 = cochran_q([0.1, 0.3, -0.2], [0.1, 0.2, 0.1])
    assert q == pytest.approx(65 / 9, rel=1e-12)
    assert df == 2
    assert p == pytest.approx(math.exp(-65 / 18), rel=1e-10)  # chi2 with 2 df: exp(-Q/2)
    assert i2 == pytest.approx(47 / 65, rel=1e-12)  # (Q - df) / Q
    assert cochran_q([1.0, 1.0], [0.5, 2.0])[3] == 0.0  # no spread: I^2 = 0, not negative


def test_cochran_q_i2_positive_case():
    q, df, _, i2 = cochran_q([0.0, 0.3], [0.1, 0.1])
    assert (q, df) == (pytest.approx(4.5), 1)
    assert i2 == pytest.approx(3.5 / 4.5)


def frame(rng, n, effects, levels=("mobile", "desktop", "tablet"), p_level=None):
    """Means experiment: effect of 'b' per device level; also a proportion and a ratio."""
    lv = rng.choice(levels, n, p=p_level)
    arm = rng.choice(["control", "b"], n)
    eff = np.select([lv == x for x in levels], effects) * (arm == "b")
    pre = rng.normal(10, 2, n)
    sessions = rng.poisson(3, n) + 1
    return pd.DataFrame(
        {
            "variant": arm,
            "device": lv,
            "country": rng.choice(["fr", "de"], n),
            "revenue": pre + rng.normal(0, 1, n) + eff,
            "pre": pre,
            "converted": (rng.random(n) < 0.3 + eff / 10).astype(int),
            "clicks": rng.binomial(sessions, 0.3),
            "sessions": sessions,
        }
    )


METRICS = ["converted", "mean:revenue", "clicks/sessions"]
COVS = {"revenue": "pre"}


def test_each_level_is_the_analysis_of_its_rows_and_q_is_by_hand():
    rng = np.random.default_rng(4)
    df = frame(rng, 3000, [0.0, 0.3, 0.6])
    res = ab.segments(df, arm="variant", metrics=METRICS, covariates=COVS, segment="device")
    assert {e.kind for e in res.effects} == {"proportion", "mean", "ratio"}
    for e in res.effects:
        sub = df[df.device == e.level]
        ref = ab.analyze(sub, arm="variant", metrics=METRICS, covariates=COVS)
        c = next(c for c in ref.comparisons if c.metric == e.metric)
        assert (e.abs_effect, e.se, e.p_value) == pytest.approx(
            (c.abs_effect, c.se, c.p_value), rel=1e-9, abs=1e-15
        )
        assert e.covariate == c.covariate
        assert (e.n_control, e.n_arm) == (int((sub.variant == "control").sum()),
                                          int((sub.variant == "b").sum()))  # fmt: skip
    # Q of the CUPED revenue effects, by hand from the per-level Welch pieces
    rev = [e for e in res.effects if e.metric == "revenue"]
    d = np.array([e.abs_effect for e in rev])
    w = 1 / np.array([e.se for e in rev]) ** 2
    q_hand = float(np.sum(w * (d - np.sum(w * d) / np.sum(w)) ** 2))
    h = next(h for h in res.heterogeneity if h.metric == "revenue")
    assert h.q == pytest.approx(q_hand, rel=1e-12)
    assert h.p_value == pytest.approx(stats.chi2.sf(q_hand, 2), rel=1e-9)
    assert h.levels_used == ("desktop", "mobile", "tablet")
    assert h.p_value < 1e-6  # effects 0, 0.3, 0.6 with ~1000 units per level


def test_welch_se_per_level_by_hand():
    df = pd.DataFrame(
        {
            "variant": ["control", "b"] * 6,
            "seg": ["x"] * 4 + ["y"] * 8,
            "y": [1.0, 2.0, 3.0, 5.0, 0.0, 1.0, 2.0, 2.0, 4.0, 3.0, 1.0, 7.0],
        }
    )
    res = ab.segments(df, arm="variant", metrics="mean:y", segment="seg", min_units=2)
    x, y = res.effects
    # x: control [1, 3], b [2, 5]: d = 1.5, se = sqrt(2/2 + 4.5/2)
    assert x.abs_effect == pytest.approx(1.5)
    assert x.se == pytest.approx(math.sqrt(1.0 + 2.25))
    # y: control [0, 2, 4, 1], b [1, 2, 3, 7]: d = 1.5, var 8.75/3 and 20.75/3
    assert y.abs_effect == pytest.approx(1.5)
    assert y.se == pytest.approx(math.sqrt((8.75 / 3 + 20.75 / 3) / 4))
    h = res.heterogeneity[0]
    assert h.q == pytest.approx(0.0, abs=1e-12)  # equal effects: no heterogeneity
    assert h.i_squared == 0.0
    assert h.pooled_effect == pytest.approx(1.5)


def test_holm_across_levels_matches_statsmodels(no_gc_collect):
    rng = np.random.default_rng(8)
    df = frame(rng, 6000, [0.0, 0.05, 0.1, 0.15], levels=("a", "b2", "c", "d"))
    for corr, sm in (("holm", "holm"), ("bonferroni", "bonferroni"), ("bh", "fdr_bh")):
        res = ab.segments(df, arm="variant", metrics=METRICS, segment=["device", "country"],
                          correction=corr)  # fmt: skip
        for seg in ("device", "country"):
            for m in ("converted", "revenue", "clicks/sessions"):
                rows = [e for e in res.effects if (e.segment, e.metric) == (seg, m)]
                ref = multipletests([e.p_value for e in rows], method=sm)[1]
                np.testing.assert_allclose([e.p_adjusted for e in rows], ref, rtol=1e-10)
                assert [e.significant for e in rows] == list(ref < 0.05)


def test_small_level_is_named_and_never_significant():
    rng = np.random.default_rng(2)
    df = frame(rng, 4000, [0.0, 0.0, 5.0], p_level=[0.5, 0.495, 0.005])
    res = ab.segments(df, arm="variant", metrics=["mean:revenue", "converted"], segment="device")
    tab = [e for e in res.effects if e.level == "tablet"]
    n_c, n_b = tab[0].n_control, tab[0].n_arm
    assert min(n_c, n_b) < 30
    assert all(e.too_small and not e.significant and math.isnan(e.p_adjusted) for e in tab)
    assert tab[0].p_value < 0.05  # the raw test would have claimed it
    warn = [w for w in res.warnings if "device='tablet'" in w]
    assert len(warn) == 2
    assert f"{n_c:,} units in 'control' and {n_b:,} in 'b'" in warn[0]
    assert "too small to say anything" in warn[0] and "no significance claim" in warn[0]
    assert all(h.levels_used == ("desktop", "mobile") for h in res.heterogeneity)
    # the family of the correction is the two large levels: Holm over 2 p-values
    big = [e for e in res.effects if e.metric == "revenue" and not e.too_small]
    ref = multipletests([e.p_value for e in big], method="holm")[1]
    np.testing.assert_allclose([e.p_adjusted for e in big], ref, rtol=1e-10)
    assert "too small" in res.summary()


def test_sample_ratio_checked_overall_and_per_level():
    rng = np.random.default_rng(6)
    df = frame(rng, 4000, [0.0, 0.0, 0.0])
    drop = (df.device == "mobile") & (df.variant == "b") & (rng.random(len(df)) < 0.5)
    res = ab.segments(df[~drop], arm="variant", metrics="converted", segment="device")
    assert any(w.startswith("sample ratio mismatch") for w in res.warnings)  # overall
    assert any("device='mobile': sample ratio mismatch" in w for w in res.warnings)
    assert not any("device='desktop': sample ratio" in w for w in res.warnings)
    mob = next(e for e in res.effects if e.level == "mobile")
    assert mob.srm_p_value < 1e-3


def het_rate(seed, sims, effects, n=1200, metric="mean:revenue"):
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(sims):
        df = frame(rng, n, effects)
        h = ab.segments(df, arm="variant", metrics=metric, segment="device").heterogeneity[0]
        rejected += h.p_value < 0.05
    return rejected


@pytest.mark.parametrize("metric", ["mean:revenue", "converted"])
def test_heterogeneity_false_positive_rate_near_alpha(global_seed, metric):
    sims = 300
    got = het_rate([global_seed, 1], sims, [0.2, 0.2, 0.2], metric=metric)
    assert stats.binom.ppf(0.001, sims, 0.05) <= got <= stats.binom.ppf(0.999, sims, 0.05)


def test_heterogeneity_power_when_effects_differ(global_seed):
    sims, n, effects = 200, 1200, [0.0, 0.5, 1.0]
    # per level ~200 units per arm, sd of revenue ~sqrt(5): se^2 = 2 * 5 / 200 = 0.05
    w = np.full(3, 1 / 0.05)
    lam = float(np.sum(w * (np.array(effects) - np.mean(effects)) ** 2))
    power = float(stats.ncx2.sf(stats.chi2.isf(0.05, 2), 2, lam))
    assert power > 0.75
    got = het_rate([global_seed, 2], sims, effects, n=n)
    assert got >= stats.binom.ppf(0.001, sims, power - 0.05)


def test_missing_values_are_a_level_and_polars_works():
    rng = np.random.default_rng(5)
    df = frame(rng, 2000, [0.0, 0.0, 0.0])
    df["device"] = df["device"].where(df.index % 10 != 0)  # every 10th unit unknown
    res = ab.segments(df, arm="variant", metrics="converted", segment="device")
    assert "(missing)" in {e.level for e in res.effects}
    pl = pytest.importorskip("polars")
    res_pl = ab.segments(pl.from_pandas(df), arm="variant", metrics="converted",
                         segment="device")  # fmt: skip
    assert res_pl.to_dict()["effects"] == res.to_dict()["effects"]


def test_bad_segments_are_refused_naming_the_column():
    df = pd.DataFrame({"variant": ["control", "b"] * 20, "y": np.arange(40.0),
                       "one": ["x"] * 40})  # fmt: skip
    with pytest.raises(DataError, match=r"segment column 'devic' \(--segment\).*columns present"):
        ab.segments(df, arm="variant", metrics="mean:y", segment="devic")
    with pytest.raises(
        DataError, match=r"'one' \(--segment\) has a single level \('x'\).*at least 2"
    ):
        ab.segments(df, arm="variant", metrics="mean:y", segment="one")
    with pytest.raises(ValueError, match=r"min_units == 1, must be an integer >= 2"):
        ab.segments(df, arm="variant", metrics="mean:y", segment="one", min_units=1)


@pytest.fixture
def csv(tmp_path):
    df = frame(np.random.default_rng(1), 3000, [0.0, 0.1, 0.2], p_level=[0.6, 0.39, 0.01])
    df["one"] = "x"
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    return str(path)


def test_cli_segments_json_text_html(csv):
    args = ["ab", "analyze", csv, "--arm", "variant", "--control", "control", "--proportion",
            "converted", "--mean", "revenue", "--covariate", "revenue=pre", "--ratio",
            "clicks/sessions", "--segment", "device", "--segment", "country"]  # fmt: skip
    out = runner.invoke(app, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    assert set(d) == {"segments", "control", "alpha", "alternative", "correction", "min_units",
                      "effects", "heterogeneity", "overall", "warnings", "conventions"}  # fmt: skip
    assert set(d["effects"][0]) == {
        "segment", "level", "metric", "kind", "covariate", "arm", "control", "control_value",
        "arm_value", "abs_effect", "abs_ci", "se", "p_value", "p_adjusted", "significant",
        "n_control", "n_arm", "too_small", "srm_p_value", "log10_p_value",
    }  # fmt: skip
    assert set(d["heterogeneity"][0]) == {"segment", "metric", "arm", "q", "df", "p_value",
                                          "i_squared", "pooled_effect", "levels_used"}  # fmt: skip
    assert len(d["effects"]) == (3 + 2) * 3
    assert any("device='tablet'" in w for w in d["warnings"])
    text = runner.invoke(app, args)
    assert text.exit_code == 0 and "Cochran's Q" in text.stdout and "I^2" in text.stdout
    assert "correction=holm across levels" in text.stdout
    html = runner.invoke(app, [*args, "--format", "html"])
    assert html.stdout.startswith("<!DOCTYPE html>")
    assert "<h1>A/B effects per segment</h1>" in html.stdout  # the report page, titled


@pytest.mark.parametrize(
    ("seg", "words"),
    [("devic", ["segment column 'devic'", "--segment", "columns present"]),
     ("one", ["segment column 'one'", "single level", "'x'", "at least 2 levels"])],
)  # fmt: skip
def test_cli_bad_segment_exit_2_without_traceback(csv, seg, words):
    out = runner.invoke(app, ["ab", "analyze", csv, "--arm", "variant", "--mean", "revenue",
                              "--segment", seg])  # fmt: skip
    assert out.exit_code == 2
    assert "Traceback" not in out.output
    msg = " ".join(out.output.split())
    for w in words:
        assert w in msg


def test_cli_min_segment_units(csv):
    args = ["ab", "analyze", csv, "--arm", "variant", "--mean", "revenue", "--segment",
            "country", "--format", "json"]  # fmt: skip
    base = json.loads(runner.invoke(app, args).stdout)
    assert not any(e["too_small"] for e in base["effects"])  # ~750 units per arm and level
    out = json.loads(runner.invoke(app, [*args, "--min-segment-units", "5000"]).stdout)
    assert out["min_units"] == 5000
    assert all(e["too_small"] and e["p_adjusted"] is None for e in out["effects"])
    assert any("fewer than 2 levels large enough" in w for w in out["warnings"])
    assert out["heterogeneity"][0]["q"] is None


def test_min_units_boundary():
    rng = np.random.default_rng(9)
    arm = ["control"] * 30 + ["b"] * 31 + ["control"] * 100 + ["b"] * 100
    seg = ["small"] * 61 + ["big"] * 200
    df = pd.DataFrame({"variant": arm, "seg": seg, "y": rng.normal(0, 1, len(arm))})
    for min_units, small in ((30, False), (31, True)):
        res = ab.segments(df, arm="variant", metrics="mean:y", segment="seg", min_units=min_units)
        e = next(e for e in res.effects if e.level == "small")
        assert (e.n_control, e.n_arm) == (30, 31)
        assert e.too_small is small
        assert math.isnan(e.p_adjusted) is small
