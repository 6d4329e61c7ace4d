"""Every report renders for people: decision summary first, no NaN, no scientific notation.

Small runs (a few thousand people at most, 2-4 replications) keep the whole module fast. The
decision summary is checked against the result it summarises, with references computed here
from the per-replication tables (not from the summary code), and both of its cases (a clear
recommendation, no clear winner) are built from designed replications.
"""

import re
from html import unescape

import numpy as np
import pytest

from lifesim import simulate
from lifesim.experiments import audit, calibrate, compare, run_experiment, sweep
from lifesim.experiments.compare import RunSummary, _summarise
from lifesim.metrics import METRICS
from lifesim.report import compare_report_html
from lifesim.report.calibrate import calibrate_report_html
from lifesim.report.experiment import audit_report_html, experiment_report_html
from lifesim.report.summary import GLOSSARY, compare_decision
from lifesim.report.sweep import write_sweep_report

STUDY = "study_short_kpi_trap.yaml"
from tests.conftest import CONFIGS  # noqa: E402

SCI = re.compile(r"[-+]?\d\.\d+e[+-]\d+", re.IGNORECASE)


def _text(doc: str) -> str:
    """The page's visible text (images and tags removed, entities decoded)."""
    doc = re.sub(r"base64,[A-Za-z0-9+/=]+", "", doc)
    doc = re.sub(r"<style>.*?</style>", "", doc, flags=re.S)
    doc = re.sub(r"</?(?:a|span|b|small|code)\b[^>]*>", "", doc)  # inline: no word break
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", doc)))


def check_page(doc: str) -> str:
    """Assert what every report must satisfy; return its visible text."""
    text = _text(doc)
    assert not re.search(r"\bnan\b", text, re.IGNORECASE), re.search(
        r".{60}\bnan\b.{20}", text, re.I
    )
    assert not SCI.search(text), SCI.findall(text)[:5]
    # every table sits in a container that scrolls sideways, inside a page of bounded width
    assert doc.count("<table") >= 1
    wrapped = re.findall(r"<div [^>]*(?:scroll|overflow-x:\s*auto)[^>]*>\s*<table", doc)
    assert len(wrapped) == doc.count("<table")
    assert re.search(r"\.scroll\{overflow-x:auto", doc) and "max-width:1200px" in doc
    assert "img{max-width:100%}" in doc
    # the decision summary comes first: before any plot or table
    start = doc.index('<section class="decision"')
    assert start < doc.index("<img") and start < doc.index("<table")
    # every glossary link has its entry
    links = set(re.findall(r'href="#g-([a-z]+)"', doc))
    assert links and links <= set(GLOSSARY)
    assert all(f'id="g-{k}"' in doc for k in links)
    return text


# --- compare ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def res(global_seed_module):
    return compare(None, replications=3, seed=global_seed_module, customers=2000, days=30)


@pytest.fixture(scope="module")
def global_seed_module():
    """The session's LIFESIM_TEST_SEED, for the module-scoped runs."""
    from tests.conftest import _SEED

    return _SEED


def _designed(res, profit):
    """The same comparison with the profit of each (strategy, replication) set by hand."""
    runs = []
    spend = {
        s: dict(zip(g["item"], g["cost"], strict=True)) for s, g in res.spend.groupby("strategy")
    }
    for s in res.strategies:
        shares = (
            res.stage_shares[res.stage_shares.strategy == s]
            .drop(columns=["strategy", "day"])
            .to_numpy()
        )
        for r, p in enumerate(profit[s]):
            row = res.runs[(res.runs.strategy == s) & (res.runs.replication == r)].iloc[0]
            metrics = {m: float(row[m]) for m in METRICS}
            metrics["profit"] = p
            runs.append(
                RunSummary(
                    r, s, metrics, shares, res.funnel.loc[s].to_numpy(), 0.0, spend.get(s, {})
                )
            )
    n = len(next(iter(profit.values())))
    return _summarise(
        res.scenario,
        list(res.strategies),
        n,
        res.seed,
        res.baseline,
        "profit",
        0.05,
        runs,
        0.0,
        res.counterfactual,
    )


def test_compare_report_renders_for_people(res):
    text = check_page(compare_report_html(res))
    assert "Decision summary" in text and "Glossary" in text


def test_compare_decision_names_the_strategy_with_the_best_mean_profit(res):
    means = res.runs.groupby("strategy")["profit"].mean()
    best = means.loc[list(res.strategies)].idxmax()
    d = compare_decision(res)
    assert d.recommended == best
    if res.verdict["significant"]:
        assert d.verdict.startswith(f"Recommendation: {best}")
    else:
        assert d.verdict.startswith("No clear winner") and best in d.verdict


def test_a_clear_lead_is_a_recommendation_with_its_figures(res):
    # stage_focused beats kpi_focused by exactly 1,000 + 0/10/20 and none by more: a clear win
    profit = {
        "none": [0.0, 100.0, 50.0],
        "kpi_focused": [4000.0, 4100.0, 4050.0],
        "stage_focused": [5000.0, 5110.0, 5070.0],
    }
    clear = _designed(res, profit)
    d = compare_decision(clear)
    assert d.clear and d.recommended == "stage_focused"
    # lead over the runner-up kpi_focused: mean of 1,000, 1,010, 1,020
    assert d.verdict.startswith("Recommendation: stage_focused.")
    assert "runner-up kpi_focused is +1,010 [" in d.verdict
    # incremental profit against none: mean of 5,000, 5,010, 5,020
    assert "adds +5,010 incremental profit" in d.verdict
    page = check_page(compare_report_html(clear))
    assert "Recommendation: stage_focused." in page
    assert "No clear winner" not in page


def test_a_lead_whose_ci_includes_zero_is_no_clear_winner(res):
    # kpi_focused leads stage_focused by +100, -50, +10 (mean +20): the CI includes zero
    profit = {
        "none": [0.0, 0.0, 0.0],
        "kpi_focused": [5100.0, 4950.0, 5010.0],
        "stage_focused": [5000.0, 5000.0, 5000.0],
    }
    tied = _designed(res, profit)
    d = compare_decision(tied)
    assert not d.clear and d.recommended == "kpi_focused"
    assert d.verdict.startswith("No clear winner on profit: kpi_focused has the best mean")
    assert "+20.00 [" in d.verdict and "the CI includes zero" in d.verdict
    assert "Recommendation" not in d.verdict
    page = check_page(compare_report_html(tied))
    assert "No clear winner on profit" in page


def test_the_mechanisms_say_where_the_money_went(res):
    d = compare_decision(res)
    money = d.mechanisms[0]
    assert money.startswith("Where the money went:")
    for s in (res.verdict["winner"], res.verdict["runner_up"]):
        spend = res.runs.loc[res.runs.strategy == s, "marketing_cost"].mean()
        if spend > 0:
            top = res.spend[res.spend.strategy == s].iloc[0]
            assert f"{s} spent {spend:,.0f} per run ({top['item']} " in money
        else:
            assert f"{s} spent nothing on marketing" in money


# --- sweep, calibrate, experiment, audit ------------------------------------------------------


def test_sweep_report_renders_for_people(tmp_path, global_seed_module):
    res = sweep(
        None,
        ["budget.per_period=2000,8000"],
        replications=2,
        seed=global_seed_module,
        customers=1000,
        days=30,
    )
    text = check_page(write_sweep_report(res, tmp_path).read_text())
    # the decision's count of clear points is the table's
    a, b = res.pair
    n_a = int((res.table.ci_low > 0).sum())
    n_b = int((res.table.ci_high < 0).sum())
    if n_a == len(res.table):
        assert f"Recommendation: {a}" in text
    elif n_b == len(res.table):
        assert f"Recommendation: {b}" in text
    elif n_a == n_b == 0:
        assert "No clear winner anywhere" in text
    else:
        assert f"at {max(n_a, n_b)} of the {len(res.table)} points" in text


def test_calibrate_report_renders_for_people():
    # a fixed log (the shipped example's seed): a short log need not identify the model
    p = simulate(None, seed=20261207, customers=1200, days=365).purchases
    tx = p.rename(columns={"person": "customer_id"})[["customer_id", "day", "amount"]]
    res = calibrate(tx, cutoff=250, holdout_end=364, draws=10, forecast_draws=10, seed=1)
    text = check_page(calibrate_report_html(res))
    h = res.holdout.total
    inside = h["lower"] <= h["actual"] <= h["upper"]
    assert ("can be used" in text) == inside and ("with care" in text) == (not inside)


def test_experiment_and_audit_reports_render_for_people(global_seed_module):
    cfg = CONFIGS / STUDY
    run = run_experiment(cfg, seed=global_seed_module, customers=1000, truth_replications=2)
    text = check_page(experiment_report_html(run))
    first = run.estimates[run.estimates.method == run.estimates.method.iloc[0]]
    for r in first[first.significant].itertuples():
        assert f"{r.metric} ({r.arm})" in text
    aud = audit(cfg, repeats=3, seed=global_seed_module, customers=800, truth_replications=2)
    text = check_page(audit_report_html(aud))
    assert ("No red flag" in text) != ("Red flags (" in text)


def test_audit_flags_a_false_positive_rate_beyond_its_monte_carlo_error():
    from dataclasses import replace

    aud = audit(CONFIGS / STUDY, repeats=2, seed=3, customers=600, truth_replications=1)
    t = aud.table.copy()
    aa = t.index[t.version == "A/A"][0]
    # 500 repeats, 9% false positives against alpha 5%: 4.1 Monte Carlo errors too many
    t.loc[aa, ["rejection_rate", "rejection_se"]] = [0.09, np.sqrt(0.09 * 0.91 / 500)]
    t.loc[aa, ["coverage", "coverage_se", "expected_coverage"]] = [0.95, 0.01, 0.95]
    t.loc[aa, ["bias", "bias_se"]] = [0.0, 1.0]
    from lifesim.report.decisions import audit_decision

    d = audit_decision(replace(aud, table=t))
    assert not d.clear and "false-positive rate 9.0% against alpha 5%" in d.verdict


def test_parameter_draws_add_p_best_and_regret_to_the_decision_and_the_report(res):
    import pandas as pd

    from lifesim.experiments import parameter_uncertainty

    draws = pd.DataFrame({"budget.per_period": [1000.0, 4000.0, 9000.0]})
    unc = parameter_uncertainty(res.scenario, draws, strategies=list(res.strategies), seed=2)
    t = unc.table.set_index("strategy")
    w = res.verdict["winner"]
    d = compare_decision(res, unc)
    line = next(c for c in d.certainty if c.startswith("Parameter uncertainty (3 draws"))
    assert f"P(best) of {w} is {t.loc[w, 'p_best']:.0%} (" in line and "of 3 draws" in line
    regret = t.loc[w, "expected_regret"]
    assert f"expected regret {regret:,.{0 if regret >= 100 else 2}f}." in line
    top = t.sort_values(["p_best", "expected_regret"], ascending=[False, True]).index[0]
    assert ("also the most likely best" in line) == (top == w)
    page = check_page(compare_report_html(res, uncertainty=unc))
    assert "Under parameter uncertainty (3 draws)" in page and "expected regret" in page


def test_the_readme_has_the_reports_glossary():
    from lifesim.report.summary import glossary_markdown

    readme = (CONFIGS.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Glossary\n") :]
    assert glossary_markdown() in section
    assert len(GLOSSARY) >= 20 and all(f"**{t}**" in section for t, _ in GLOSSARY.values())


def _ab_data(lift: float, n: int = 4000):
    """Designed A/B data: conversion 10% in control, 10% + lift in treatment (exact counts)."""
    import pandas as pd

    k = n // 2
    conv_c, conv_t = int(0.10 * k), int((0.10 + lift) * k)
    return pd.DataFrame(
        {
            "arm": ["control"] * k + ["treatment"] * k,
            "converted": [1] * conv_c + [0] * (k - conv_c) + [1] * conv_t + [0] * (k - conv_t),
        }
    )


@pytest.mark.parametrize(("lift", "clear"), [(0.04, True), (0.0, False)])
def test_ab_report_opens_with_a_decision_that_follows_the_analysis(lift, clear):
    from lifesim import ab
    from lifesim.report.ab import ab_report_html
    from lifesim.report.decisions import ab_decision

    res = ab.analyze(_ab_data(lift), arm="arm", metrics=["proportion:converted"])
    # 10% vs 14% of 2,000 each: z = 3.9 (p < 0.001); vs 10% of 2,000: no difference at all
    assert res.comparisons[0].significant is clear
    d = ab_decision(res)
    assert d.clear is clear
    if clear:
        assert d.verdict.startswith("Clear effects (1 of 1): converted (treatment): +4.00 pp")
    else:
        assert d.verdict.startswith("No clear effect")
    doc = ab_report_html(res, plot=False)
    summary = _text(doc[: doc.index("</section>")])
    assert "Decision summary" in summary and not SCI.search(summary)
    assert doc.count("<table") == len(re.findall(r'<div class="scroll"><table', doc))


def test_cli_compare_prints_the_decision_first_and_saves_it(tmp_path):
    from typer.testing import CliRunner

    from lifesim.cli import app

    args = ["compare", "--customers", "400", "--days", "10", "-r", "2", "--no-progress"]
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run"), "--seed", "4"])
    assert r.exit_code == 0, r.output
    saved = (tmp_path / "run" / "decision.txt").read_text(encoding="utf-8")
    assert saved.startswith("DECISION SUMMARY\n") and r.stdout.startswith(saved)
    assert max(len(line) for line in saved.splitlines()) <= 100
    assert "lifesim compare: scenario 'default'" in r.stdout  # the tables follow


def test_the_glossary_states_p_values_and_holm_correctly():
    """A p-value is computed assuming no real difference (not the chance that one is real), the
    tests are two-sided, and Holm bounds the family-wise error rate (at most alpha, not exactly)."""
    p = GLOSSARY["pvalue"][1]
    assert p.startswith("If there were no real difference, the probability of a difference")
    assert "either direction" in p and "not the probability that the difference is real" in p
    assert "at or below 5%" in GLOSSARY["holm"][1]
