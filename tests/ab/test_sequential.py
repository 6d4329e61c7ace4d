"""Always-valid sequential analysis (`lifesim.ab.sequential`, `ab analyze --sequential`).

Statistical tests simulate many A/A (or A/B with a known effect) experiments watched every
day and pass for any seed (``global_seed``): a rate is compared with an exact one-sided
binomial bound at level 1e-3 (``binom.ppf(0.999, N, alpha)``), so a correct method fails one
run in a thousand at most.
"""

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from lifesim import ab
from lifesim.ab.sequential import boundary_factor, tightest_u
from lifesim.cli import app
from lifesim.errors import DataError

ALPHA = 0.05
DAYS = 10
runner = CliRunner()


def experiment(rng, n=2000, days=DAYS, effect=0.0, p=0.2, arms=("b",)):
    """Units arriving over ``days`` days; 'b' (and other arms) shifted by ``effect``."""
    labels = np.array(["control", *arms])
    arm = labels[rng.integers(0, labels.size, n)]
    treated = arm != "control"
    pre = rng.gamma(2.0, 5.0, n)
    sessions = rng.poisson(3, n) + 1
    return pd.DataFrame(
        {
            "arm": arm,
            "day": rng.integers(1, days + 1, n),
            "converted": (rng.random(n) < p + effect * treated).astype(np.int8),
            "revenue": pre + rng.gamma(1.0, 4.0, n) + effect * treated,
            "pre": pre,
            "clicks": rng.binomial(sessions, 0.3),
            "sessions": sessions,
        }
    )


def upper(n_sims, rate=ALPHA):
    """Largest count of rejections a method with true rate <= ``rate`` gives (level 1e-3)."""
    return stats.binom.ppf(0.999, n_sims, rate)


def a_a_rates(seed, n_sims, metric, covariates=None, **kw):
    """Share of A/A experiments the sequential method and the naive daily test call."""
    rng = np.random.default_rng(seed)
    seq = naive = 0
    for _ in range(n_sims):
        res = ab.sequential(experiment(rng), arm="arm", metrics=metric, covariates=covariates,
                            time_col="day", alpha=ALPHA, **kw)  # fmt: skip
        seq += res.decisions[0].decision != "no difference detected"
        naive += min(lk.fixed_horizon_p for lk in res.looks) < ALPHA
    return seq, naive


@pytest.mark.parametrize("metric, n_sims", [("converted", 300), ("mean:revenue", 400)])
def test_false_positive_rate_held_under_daily_looks_and_naive_peeking_is_not(
    global_seed, metric, n_sims
):
    seq, naive = a_a_rates(global_seed, n_sims, metric)
    assert seq <= upper(n_sims), (seq, n_sims)
    # the naive fixed-horizon test checked daily rejects well above alpha
    assert naive > upper(n_sims), (naive, n_sims)


@pytest.mark.parametrize(
    "metric, covariates", [("clicks/sessions", None), ("mean:revenue", {"revenue": "pre"})]
)
def test_false_positive_rate_ratio_and_cuped(global_seed, metric, covariates):
    n_sims = 200
    seq, _ = a_a_rates(global_seed + 1, n_sims, metric, covariates)
    assert seq <= upper(n_sims), (seq, n_sims)


def test_family_wise_rate_with_three_arms_and_one_sided(global_seed):
    rng = np.random.default_rng(global_seed + 2)
    n_sims, fw, one = 150, 0, 0
    for _ in range(n_sims):
        df = experiment(rng, n=3000, arms=("b", "c"))
        res = ab.sequential(df, arm="arm", metrics="mean:revenue", time_col="day")
        fw += any(x.decision != "no difference detected" for x in res.decisions)
        res = ab.sequential(df[df.arm != "c"], arm="arm", metrics="mean:revenue",
                            time_col="day", alternative="greater")  # fmt: skip
        one += res.decisions[0].decision != "no difference detected"
    assert fw <= upper(n_sims) and one <= upper(n_sims), (fw, one)


@pytest.mark.parametrize("metric, effect", [("converted", 0.03), ("mean:revenue", 0.5)])
def test_coverage_of_the_true_effect_at_every_look_at_once(global_seed, metric, effect):
    rng = np.random.default_rng(global_seed + 3)
    n_sims, missed = 200, 0
    for _ in range(n_sims):
        res = ab.sequential(experiment(rng, effect=effect), arm="arm", metrics=metric,
                            time_col="day")  # fmt: skip
        missed += any(not lk.interval[0] <= effect <= lk.interval[1] for lk in res.looks)
    assert missed <= upper(n_sims), (missed, n_sims)


def test_a_real_effect_is_found_and_the_day_named(global_seed):
    rng = np.random.default_rng(global_seed + 4)
    res = ab.sequential(experiment(rng, n=20000, effect=2.0), arm="arm",
                        metrics="mean:revenue", time_col="day")  # fmt: skip
    d = res.decisions[0]
    assert d.decision == "b > control" and d.look is not None
    assert d.first_day == res.looks[d.look - 1].day
    assert res.looks[d.look - 1].interval[0] > 0
    assert d.look == 1 or res.looks[d.look - 2].interval[0] <= 0


@pytest.mark.parametrize(
    "metric, covariates",
    [("converted", None), ("mean:revenue", None), ("clicks/sessions", None),
     ("mean:revenue", {"revenue": "pre"})],
)  # fmt: skip
def test_each_look_is_the_fixed_analysis_of_the_data_so_far(metric, covariates):
    rng = np.random.default_rng(5)
    df = experiment(rng, n=1500)
    res = ab.sequential(df, arm="arm", metrics=metric, covariates=covariates, time_col="day")
    assert res.look_days == tuple(range(1, DAYS + 1))
    for lk in res.looks:
        ref = ab.analyze(df[df.day <= lk.day], arm="arm", metrics=metric,
                         covariates=covariates).comparisons[0]  # fmt: skip
        assert (lk.n_control, lk.n_arm) == (ref.n_control, ref.n_arm)
        assert lk.abs_effect == pytest.approx(ref.abs_effect, rel=1e-9, abs=1e-12)
        assert lk.se == pytest.approx(ref.se, rel=1e-9)
        assert lk.fixed_horizon_p == pytest.approx(ref.p_value, rel=1e-7)


def test_snapshots_per_unit_use_each_units_latest_row():
    # three units, revenue accumulating; at day 2, u1 counts 5.0 (its day-2 row), u3 not yet
    df = pd.DataFrame(
        {
            "unit": ["u1", "u2", "u1", "u3", "u4", "u4", "u5"],
            "arm": ["control", "b", "control", "b", "control", "control", "b"],
            "day": [1, 1, 2, 3, 1, 3, 2],
            "revenue": [1.0, 2.0, 5.0, 7.0, 0.0, 4.0, 3.0],
        }
    )
    res = ab.sequential(df, arm="arm", metrics="mean:revenue", time_col="day", unit="unit")
    by_day = {lk.day: lk for lk in res.looks}
    assert (by_day[1].n_control, by_day[1].n_arm) == (2, 1)  # u1, u4 | u2
    assert by_day[1].control_value == pytest.approx(0.5) and by_day[1].arm_value == 2.0
    assert by_day[2].control_value == pytest.approx(2.5)  # u1 = 5, u4 = 0
    assert by_day[2].arm_value == pytest.approx(2.5)  # u2 = 2, u5 = 3
    assert by_day[3].control_value == pytest.approx(4.5)  # u1 = 5, u4 = 4
    assert by_day[3].arm_value == pytest.approx(4.0)  # 2, 7, 3
    assert (by_day[3].n_control, by_day[3].n_arm) == (2, 3)


def test_per_day_aggregates_give_the_unit_level_answer(tmp_path):
    df = experiment(np.random.default_rng(6), n=3000, effect=0.04)
    agg = df.groupby(["day", "arm"], as_index=False).agg(
        units=("converted", "size"), converted=("converted", "sum")
    )
    res = ab.sequential(agg, arm="arm", metrics="converted", time_col="day", count="units")
    ref = ab.sequential(df, arm="arm", metrics="converted", time_col="day")
    for a, b in zip(res.looks, ref.looks, strict=True):
        assert (a.n_control, a.n_arm) == (b.n_control, b.n_arm)
        assert a.abs_effect == pytest.approx(b.abs_effect, rel=1e-12, abs=1e-15)
        assert a.interval == pytest.approx(b.interval, rel=1e-9)
    with pytest.raises(DataError, match=r"metric 'revenue' \(mean\) with count column 'units'"):
        ab.sequential(agg.assign(revenue=1.0), arm="arm", metrics="mean:revenue",
                      time_col="day", count="units")  # fmt: skip
    bad = agg.assign(converted=agg.converted + agg.units)
    with pytest.raises(DataError, match="'converted' \\(successes among 'units' units\\)"):
        ab.sequential(bad, arm="arm", metrics="converted", time_col="day", count="units")
    path = tmp_path / "agg.csv"
    agg.to_csv(path, index=False)
    r = cli("analyze", path, "--arm", "arm", "--proportion", "converted", "--sequential",
            "--time-col", "day", "--count-col", "units", "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["looks"][-1]["n_arm"] == ref.looks[-1].n_arm


def test_the_sequence_by_hand_on_a_tiny_experiment():
    """Waudby-Smith et al. (2023), Thm 2.2: mean +- sigma sqrt(2 (t r^2 + 1) / (t^2 r^2) log(
    sqrt(t r^2 + 1) / alpha)), with sigma = se sqrt(t) for the difference of two means."""
    df = pd.DataFrame({"arm": ["control"] * 4 + ["b"] * 4, "day": [1, 2, 1, 2, 1, 2, 1, 2],
                       "y": [1.0, 2.0, 3.0, 6.0, 2.0, 5.0, 6.0, 9.0]})  # fmt: skip
    res = ab.sequential(df, arm="arm", metrics="mean:y", time_col="day", planned_n=8)
    last = res.looks[-1]
    # Welch: means 3 and 5.5; variances 14/3 and 25/3 over 4 units each
    se = math.sqrt((14 / 3) / 4 + (25 / 3) / 4)
    assert last.abs_effect == pytest.approx(2.5) and last.se == pytest.approx(se)
    r2 = res.tuning["rho_squared_times_t_star"] / 8  # rho^2, tightest at 8 units
    t, sigma = 8, se * math.sqrt(8)
    half = sigma * math.sqrt(
        2 * (t * r2 + 1) / (t * t * r2) * math.log(math.sqrt(t * r2 + 1) / 0.05)
    )
    assert last.interval == pytest.approx((2.5 - half, 2.5 + half), rel=1e-12)


def test_rho_minimises_the_width_at_t_star():
    for alpha, two in [(0.05, True), (0.01, True), (0.05, False)]:
        u = tightest_u(alpha, two)
        f = float(boundary_factor(u, alpha, two))
        assert f < float(boundary_factor(0.9 * u, alpha, two))
        assert f < float(boundary_factor(1.1 * u, alpha, two))
    # Waudby-Smith et al.'s closed-form choice rho^2 t* = -2 log a + log(1 - 2 log a) is near
    closed = -2 * math.log(0.05) + math.log(1 - 2 * math.log(0.05))
    assert float(boundary_factor(closed, 0.05)) == pytest.approx(
        float(boundary_factor(tightest_u(0.05), 0.05)), rel=1e-3
    )


def test_p_value_and_sequence_agree_and_p_never_rises():
    rng = np.random.default_rng(7)
    res = ab.sequential(experiment(rng, n=6000, effect=0.6), arm="arm", metrics="mean:revenue",
                        time_col="day")  # fmt: skip
    ps = [lk.p_value for lk in res.looks]
    assert all(b <= a for a, b in zip(ps, ps[1:], strict=False))
    excluded = False
    for lk in res.looks:
        excluded |= lk.interval[0] > 0 or lk.interval[1] < 0
        assert (lk.p_value < ALPHA) == excluded


def test_planned_n_moves_the_tightest_point_and_is_stated():
    rng = np.random.default_rng(8)
    df = experiment(rng, n=4000)
    early = ab.sequential(df, arm="arm", metrics="mean:revenue", time_col="day",
                          planned_n=800)  # fmt: skip
    late = ab.sequential(df, arm="arm", metrics="mean:revenue", time_col="day")
    w = [[lk.interval[1] - lk.interval[0] for lk in r.looks] for r in (early, late)]
    assert w[0][1] < w[1][1] and w[0][-1] > w[1][-1]  # narrower early, wider late
    assert "planned_n (800 units" in early.tuning["t_star_choice"]
    assert "last look" in late.tuning["t_star_choice"]
    assert "Waudby-Smith" in late.method and "Howard" in late.method


def test_result_views_dates_and_plot(tmp_path):
    rng = np.random.default_rng(9)
    df = experiment(rng, n=1200)
    df["day"] = pd.Timestamp("2024-03-01") + pd.to_timedelta(df["day"] - 1, unit="D")
    res = ab.sequential(df, arm="arm", metrics=["converted", "mean:revenue"], time_col="day")
    assert res.look_days[0] == "2024-03-01" and len(res.look_days) == DAYS
    table = res.to_pandas()
    assert len(table) == 2 * DAYS and {"interval_low", "p_value", "day"} <= set(table.columns)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert set(d) == {"design", "method", "tuning", "control", "alpha", "alternative",
                      "correction", "time_col", "look_days", "n_last", "decisions", "looks",
                      "warnings"}  # fmt: skip
    assert "Decisions:" in res.summary() and "<pre>" in res._repr_html_()
    fig = res.plot(metric="revenue")
    assert fig.axes[0].get_xlabel() == "day"
    assert "data:image/png" in res.to_html(plot=True)
    with pytest.raises(dataclass_error()):
        res.alpha = 0.1


def dataclass_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


# ---- bad input: a clear error naming the column or option, the value and what is allowed ----


def test_time_not_increasing_within_a_unit_is_refused():
    df = pd.DataFrame({"unit": ["a", "a", "b"], "arm": ["control", "control", "b"],
                       "day": [3, 2, 1], "y": [1.0, 2.0, 3.0]})  # fmt: skip
    with pytest.raises(
        DataError,
        match=r"time column 'day' must increase within each unit.*"
        r"unit 'a' \('unit'\) has day=2 at row 1 after day=3 at row 0",
    ):
        ab.sequential(df, arm="arm", metrics="mean:y", time_col="day", unit="unit")


@pytest.mark.parametrize(
    "looks, message",
    [
        ([3, 12], r"day\(s\) 12 are outside the data; time column 'day' runs from 1 to 10"),
        ([5], r"at least 2 look days"),
        (1, r"looks == 1: .*at least 2 looks"),
        (11, r"looks == 11 is more than the 10 distinct days"),
        ([5, 3], r"look days must increase"),
    ],
)
def test_bad_looks_are_refused(looks, message):
    df = experiment(np.random.default_rng(1), n=400)
    with pytest.raises(DataError, match=message):
        ab.sequential(df, arm="arm", metrics="converted", time_col="day", looks=looks)


def test_single_day_bad_time_values_and_bh_are_refused():
    df = experiment(np.random.default_rng(1), n=200)
    one = df.assign(day=4)
    with pytest.raises(DataError, match=r"time column 'day' has a single value \(4\)"):
        ab.sequential(one, arm="arm", metrics="converted", time_col="day")
    bad = df.astype({"day": object})
    bad.loc[3, "day"] = "soon"
    with pytest.raises(DataError, match=r"'day' has 1 values that are neither .*row 3: 'soon'"):
        ab.sequential(bad, arm="arm", metrics="converted", time_col="day")
    gap = df.astype({"day": float})
    gap.loc[5, "day"] = np.nan
    with pytest.raises(DataError, match=r"time column 'day' has 1 missing values"):
        ab.sequential(gap, arm="arm", metrics="converted", time_col="day")
    with pytest.raises(ValueError, match="correction == 'bh'"):
        ab.sequential(df, arm="arm", metrics="converted", time_col="day", correction="bh")


def test_early_looks_without_two_units_per_arm_are_flagged_not_decided():
    df = experiment(np.random.default_rng(2), n=1000)
    first = pd.DataFrame({"arm": ["b"], "day": [0], "converted": [1], "revenue": [1.0],
                          "pre": [1.0], "clicks": [0], "sessions": [1]})  # fmt: skip
    res = ab.sequential(pd.concat([first, df], ignore_index=True), arm="arm",
                        metrics="converted", time_col="day")  # fmt: skip
    assert math.isnan(res.looks[0].interval[0]) and math.isnan(res.looks[0].p_value)
    assert res.decisions[0].look != 1
    assert any("no interval at 1 look(s) (day 0)" in w for w in res.warnings)


def test_ratio_with_a_zero_denominator_arm_is_refused():
    df = experiment(np.random.default_rng(2), n=400)
    df.loc[df.arm == "control", ["clicks", "sessions"]] = 0
    with pytest.raises(DataError, match="'sessions' .* sums to 0 in arm 'control'"):
        ab.sequential(df, arm="arm", metrics="clicks/sessions", time_col="day")


@pytest.fixture(scope="module")
def daily_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("seq") / "daily.csv"
    experiment(np.random.default_rng(3), n=3000, effect=0.05).to_csv(path, index=False)
    return path


def cli(*args):
    return runner.invoke(app, ["ab", *map(str, args)])


def test_cli_sequential_table_json_html(daily_csv, tmp_path):
    base = ["analyze", daily_csv, "--arm", "arm", "--control", "control", "--proportion",
            "converted", "--sequential", "--time-col", "day"]  # fmt: skip
    r = cli(*base)
    assert r.exit_code == 0, r.output
    assert "always-valid" in r.output and "confidence sequence" in r.output
    assert "rho_squared_times_t_star" in r.output and "fixed-horizon p" in r.output
    r = cli(*base, "--mean", "revenue", "--covariate", "revenue=pre", "--format", "json")
    out = json.loads(r.output)
    assert out["design"] == "always-valid" and len(out["looks"]) == 2 * DAYS
    assert {d["metric"] for d in out["decisions"]} == {"converted", "revenue"}
    r = cli(*base, "--format", "html", "--out", tmp_path / "seq.html")
    assert r.exit_code == 0, r.output
    page = (tmp_path / "seq.html").read_text()
    assert "data:image/png" in page
    assert "<h1>Sequential A/B analysis</h1>" in page  # the report page, with its title


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sequential"], "--time-col"),
        (["--looks", "5"], "go with --sequential"),
        (["--sequential", "--time-col", "when"], "column 'when' is not in"),
        (["--design", "group-sequential", "--time-col", "day", "--looks", "7,14,40"],
         "outside the data"),
        (["--design", "group-sequential", "--time-col", "day", "--looks", "1"],
         "at least 2 looks"),
        (["--sequential", "--time-col", "day", "--correction", "bh"], "'bh'"),
    ],
)  # fmt: skip
def test_cli_bad_sequential_input_exits_2(daily_csv, extra, message):
    r = cli("analyze", daily_csv, "--arm", "arm", "--proportion", "converted", *extra)
    assert r.exit_code == 2, r.output
    assert "error:" in r.stderr and message in " ".join(r.stderr.split())


def test_cli_console_script_no_traceback(daily_csv):
    r = subprocess.run(
        [sys.executable, "-c", "from lifesim.cli import main; main()", "ab", "analyze",
         str(daily_csv), "--arm", "arm", "--proportion", "converted", "--sequential",
         "--time-col", "day", "--looks", "3,99"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "99" in r.stderr and "runs from 1 to 10" in r.stderr
