"""Decision summaries of sweeps, calibrations, experiment runs and audits.

Like :func:`lifesim.report.summary.compare_decision`, every sentence is computed from the
result: which option the run supports, how sure, why, and what it rests on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lifesim.metrics import METRICS
from lifesim.report._format import fmt_ci, fmt_p, fmt_value, is_missing
from lifesim.report._format import fmt_number as _num
from lifesim.report.summary import Decision

if TYPE_CHECKING:  # pragma: no cover - types only
    from lifesim.experiments.calibration import CalibrationResult
    from lifesim.experiments.insim.result import AuditResult, ExperimentResult
    from lifesim.experiments.sweep import SweepResult

__all__ = [
    "sweep_decision",
    "calibration_decision",
    "experiment_decision",
    "audit_decision",
    "ab_decision",
]


def _label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric


def _value(x: float, metric: str, *, diff: bool = False) -> str:
    return fmt_value(x, metric, diff=diff) if metric in METRICS else _num(x)


# --- sweep -----------------------------------------------------------------------------------


def sweep_decision(res: SweepResult) -> Decision:
    """Return the decision summary of a sweep: who wins where, and where the verdict flips."""
    a, b = res.pair
    obj = res.objective
    level = round(100 * (1 - res.alpha))
    t = res.table
    n = len(t)
    compared = (
        f"{a} against {b} on {_label(obj)} at {n} points of {', '.join(res.params)} "
        f"({res.design} design), {res.replications} replications per point with common random "
        "numbers."
    )
    a_wins = t[t["ci_low"] > 0]
    b_wins = t[t["ci_high"] < 0]
    unclear = n - len(a_wins) - len(b_wins)
    better = "higher" if METRICS.get(obj) is None or METRICS[obj].higher_is_better else "lower"
    if better == "lower":  # a positive difference means a is worse
        a_wins, b_wins = b_wins, a_wins
    rec = None
    if len(a_wins) == n:
        verdict, clear, rec = f"Recommendation: {a}, at every point of the range swept.", True, a
    elif len(b_wins) == n:
        verdict, clear, rec = f"Recommendation: {b}, at every point of the range swept.", True, b
    elif len(a_wins) and len(b_wins):
        verdict = (
            f"It depends on {', '.join(res.params)}: {a} is clearly better at {len(a_wins)} of "
            f"the {n} points, {b} at {len(b_wins)}"
            + (f", and {unclear} show no clear winner." if unclear else ".")
        )
        clear = False
    elif not len(a_wins) and not len(b_wins):
        verdict = (
            f"No clear winner anywhere in the range: at each of the {n} points the {level}% CI "
            f"of {a} - {b} includes zero."
        )
        clear = False
    else:
        w, k = (a, len(a_wins)) if len(a_wins) else (b, len(b_wins))
        verdict = (
            f"{w} is clearly better at {k} of the {n} points; at the other {n - k} there is no "
            "clear winner (the CI includes zero)."
        )
        clear, rec = False, w
    mechanisms = []
    for f in res.flips.itertuples(index=False):
        mechanisms.append(
            f"The verdict flips at {res.params[0]} = {_num(f.value)} (between {_num(f.low)} and "
            f"{_num(f.high)})."
        )
    if len(res.tornado):
        top = res.tornado.iloc[0]
        mechanisms.append(
            f"{top['param']} moves the difference most: {a} - {b} is "
            f"{_value(top['at_low'], obj, diff=True)} at its low end and "
            f"{_value(top['at_high'], obj, diff=True)} at its high end."
        )
    best = t.loc[t["diff"].idxmax()] if n else None
    if best is not None:
        where = ", ".join(f"{p} = {_num(best[p])}" for p in res.params)
        mechanisms.append(
            f"The largest difference {a} - {b} is {_value(best['diff'], obj, diff=True)} "
            f"{fmt_ci(best['ci_low'], best['ci_high'], obj, diff=True) if obj in METRICS else ''}"
            f" at {where}."
        )
    certainty = [
        f"Monte Carlo: {res.replications} replications per point; each point's {level}% CI is "
        f"unadjusted over the {n} points, so a few may exclude zero by chance.",
    ]
    assumptions = [
        "Every scenario value other than "
        + ", ".join(res.params)
        + " is held at the scenario's value, including the tactics' effects (check their "
        "sources in a compare report).",
    ]
    return Decision(compared, verdict, clear, rec, certainty, mechanisms, assumptions)


# --- calibration -----------------------------------------------------------------------------


def calibration_decision(res: CalibrationResult) -> Decision:
    """Return the decision summary of a calibration (can the fitted scenario be trusted)."""
    p = res.fit.params
    compared = (
        f"lifesim's purchase and dropout model fitted to {res.customers:,} customers of "
        f"{res.source} (first purchase by {res.cutoff}; {res.purchase_days:,} purchase days, "
        f"{res.repeat_buyers:,} repeat buyers)."
    )
    if res.holdout is None:
        verdict = (
            "Not checked: no holdout period was given, so nothing shows yet that the fitted "
            "scenario forecasts well (run calibrate with --holdout-end)."
        )
        clear = False
    else:
        h, g = res.holdout.total, res.baseline.total
        inside = h["lower"] <= h["actual"] <= h["upper"]
        closer = abs(h["error_pct"]) <= abs(g["error_pct"])
        head = (
            f"Over the holdout to {res.holdout_end} lifesim forecast "
            f"{h['predicted']:,.0f} purchase days [{h['lower']:,.0f}, {h['upper']:,.0f}] "
            f"against {h['actual']:,.0f} that happened ({h['error_pct']:+.1f}%); BG/NBD "
            f"{g['predicted']:,.0f} ({g['error_pct']:+.1f}%)."
        )
        if inside:
            verdict = (
                "The calibrated scenario can be used: " + head + " The actual total is inside "
                "lifesim's interval" + (" and closer than BG/NBD's." if closer else ".")
            )
        else:
            verdict = (
                "Use the calibrated scenario with care: " + head + " The actual total is "
                "outside lifesim's interval."
            )
        clear = bool(inside)
    mechanisms = [
        f"While alive, a customer buys {p['r'] / p['alpha'] * 7:.2f} times a week on average.",
        f"Customers differ: the purchase rate varies with a coefficient of variation of "
        f"{p['r'] ** -0.5:.2f}, the dropout rate with one of {p['s'] ** -0.5:.2f}.",
        f"{res.repeat_buyers / max(res.customers, 1):.0%} of the customers bought more than once "
        "by the cutoff.",
    ]
    certainty = [
        f"Parameter uncertainty: {len(res.draws):,} parameter draws (draws.parquet) give the "
        "intervals; compare --parameter-draws runs strategies under them."
    ]
    assumptions = [
        "Not identified by this data, taken from the base scenario (not calibrated): "
        + m.removesuffix(": from the base scenario")
        + "."
        for m in res.not_identified
    ] or ["Every value the scenario needs was fitted from the data."]
    return Decision(compared, verdict, clear, None, certainty, mechanisms, assumptions)


# --- experiment run ---------------------------------------------------------------------------


def _first_method(est):  # noqa: ANN001, ANN202 - the estimates DataFrame
    method = est["method"].iloc[0]
    return est[est["method"] == method], method


def experiment_decision(res: ExperimentResult) -> Decision:
    """Return the decision summary of one experiment: what the test says against the truth."""
    est, method = _first_method(res.estimates)
    arms = list(dict.fromkeys(est["arm"]))
    control = est["control"].iloc[0] if "control" in est else "control"
    n = ", ".join(f"{a}: {k:,}" for a, k in res.n.items())
    compared = (
        f"An experiment in scenario {res.scenario.name!r}: {', '.join(arms)} against {control}, "
        f"{res.experiment.design.unit}-level design (units per arm {n}), metrics "
        f"{', '.join(dict.fromkeys(est['metric']))}."
    )
    found, missed, wrong = [], [], []
    for r in est.itertuples(index=False):
        d = f"{r.metric} ({r.arm}) {_num(r.estimate)} [{_num(r.ci_low)}, {_num(r.ci_high)}]"
        if r.significant:
            found.append(d + f", p-value {fmt_p(r.p_value)}")
        if not r.covers_truth:
            missed.append(f"{r.metric} ({r.arm}): true effect {_num(r.true_effect)}")
        if r.significant and r.true_effect * r.estimate < 0:
            wrong.append(r.metric)
    signs = {
        r.metric: math.copysign(1, r.true_effect)
        for r in est.itertuples(index=False)
        if r.true_effect != 0
    }
    disagree = len(set(signs.values())) > 1
    parts = [
        f"The test ({method}) finds: {'; '.join(found)}."
        if found
        else f"The test ({method}) finds no significant effect on any metric."
    ]
    if disagree:
        up = [m for m, s in signs.items() if s > 0]
        down = [m for m, s in signs.items() if s < 0]
        parts.append(
            f"Careful: the true effects point in different directions (up: {', '.join(up)}; "
            f"down: {', '.join(down)}), so the decision depends on which metric you trust."
        )
    if wrong:
        parts.append(f"On {', '.join(wrong)} the significant estimate has the wrong sign.")
    clear = bool(found) and not disagree and not wrong and not missed
    mechanisms = [
        "Against the true effect (the same market run with and without the treatment): "
        + (
            "every CI covers it."
            if not missed
            else f"{len(missed)} CI(s) miss it: " + "; ".join(missed) + "."
        )
    ]
    certainty = [
        "One run of the experiment: its CIs are the analysis' own; `lifesim experiment audit` "
        "repeats it to measure false-positive rates and coverage."
    ]
    if res.caveats:
        certainty.append(
            f"{len(res.caveats)} caveat(s) about this design, listed below the summary."
        )
    assumptions = [
        f"The scenario's tactic effects, as in {res.scenario.name!r} (check their sources).",
        f"A market of {res.scenario.market.describe()} over {res.scenario.days} days.",
    ]
    return Decision(compared, " ".join(parts), clear, None, certainty, mechanisms, assumptions)


# --- audit -----------------------------------------------------------------------------------


def _z(gap: float, se: float) -> float:
    if is_missing(gap) or is_missing(se):
        return 0.0
    return gap / se if se > 0 else (math.inf if gap > 0 else 0.0)


def audit_decision(res: AuditResult) -> Decision:
    """Return the decision summary of an audit, flagging its own red flags."""
    t = res.table
    compared = (
        f"{res.repeats} repeats of the experiment in {res.scenario.name!r} "
        f"({res.experiment.design.unit}-level; versions {', '.join(dict.fromkeys(t['version']))};"
        f" methods {', '.join(dict.fromkeys(t['method']))}): how often each analysis is wrong."
    )
    red, amber = [], []
    for r in t.itertuples(index=False):
        what = f"{r.version} {r.metric} ({r.method}, {r.arm})"
        if r.version == "A/A" or r.true_effect == 0:
            z = _z(r.rejection_rate - res.alpha, r.rejection_se)
            line = (
                f"{what}: false-positive rate {r.rejection_rate:.1%} against alpha "
                f"{res.alpha:.0%} (+/- {r.rejection_se:.1%})"
            )
            (red if z > 1.96 else amber if z > 1 else []).append(line)
        z = _z(r.expected_coverage - r.coverage, r.coverage_se)
        line = (
            f"{what}: coverage {r.coverage:.1%} against {r.expected_coverage:.1%} expected "
            f"(+/- {r.coverage_se:.1%})"
        )
        (red if z > 1.96 else amber if z > 1 else []).append(line)
        if abs(_z(r.bias, r.bias_se)) > 1.96:
            red.append(f"{what}: bias {_num(r.bias)} (+/- {_num(r.bias_se)})")
    if red:
        verdict = f"Red flags ({len(red)}): " + "; ".join(red) + "."
    else:
        verdict = (
            "No red flag: every false-positive rate, coverage and bias is within 1.96 Monte "
            "Carlo errors of what it should be."
        )
    if amber:
        verdict += (
            " Borderline (more than one Monte Carlo error off; more repeats would tell): "
            + "; ".join(amber)
            + "."
        )
    ab = t[(t["version"] == "A/B") & (t["true_effect"] != 0)]
    mechanisms = []
    if len(ab):
        mechanisms.append(
            "Power (share of repeats that detect the true effect): "
            + "; ".join(
                f"{r.metric} ({r.method}) {r.rejection_rate:.0%}"
                for r in ab.itertuples(index=False)
            )
            + "."
        )
        plain = ab[ab["method"] == "plain"].set_index(["metric", "arm"])
        cuped = ab[ab["method"] == "cuped"].set_index(["metric", "arm"])
        both = plain.index.intersection(cuped.index)
        if len(both):
            ratio = (cuped.loc[both, "mean_ci_width"] / plain.loc[both, "mean_ci_width"]).mean()
            mechanisms.append(
                f"CUPED makes the CIs {abs(1 - ratio):.0%} {'narrower' if ratio < 1 else 'wider'}"
                " than the plain analysis on average."
            )
    mc = 0.5 / math.sqrt(res.repeats)
    certainty = [
        f"Monte Carlo: {res.repeats} repeats; each rate carries an MC error of up to {mc:.1%}"
        + (" (use --repeats 500 for a verdict)." if res.repeats < 100 else ".")
    ]
    reps = int(res.truth["replications"].iloc[0]) if "replications" in res.truth else 0
    assumptions = [
        f"The true effects come from {reps} independent markets (truth_se is their error).",
        f"The scenario's tactic effects, as in {res.scenario.name!r}.",
    ]
    return Decision(compared, verdict, not red, None, certainty, mechanisms, assumptions)


# --- A/B analysis ----------------------------------------------------------------------------


def _effect(c) -> str:  # noqa: ANN001 - an ab Comparison
    if c.kind == "proportion":
        abs_ = f"{100 * c.abs_effect:+.2f} pp [{100 * c.abs_ci[0]:+.2f}, {100 * c.abs_ci[1]:+.2f}]"
    else:
        lo, hi = c.abs_ci
        abs_ = f"{'+' if c.abs_effect > 0 else ''}{_num(c.abs_effect)} [{_num(lo)}, {_num(hi)}]"
    rel = "" if is_missing(c.rel_effect) else f", {100 * c.rel_effect:+.1f}% relative"
    return f"{c.metric} ({c.arm}): {abs_}{rel}, p-value {fmt_p(c.p_adjusted)}"


def ab_decision(res) -> Decision:  # noqa: ANN001 - lifesim.ab.ABResult
    """Return the decision summary of an A/B analysis (SRM first: a broken split trumps all)."""
    arms = [a for a in res.n if a != res.control]
    metrics = list(dict.fromkeys(c.metric for c in res.comparisons))
    units = ", ".join(f"{a}: {k:,}" for a, k in res.n.items())
    compared = (
        f"A/B test of {', '.join(arms)} against {res.control} (units {units}) on "
        f"{', '.join(metrics)}; alpha {res.alpha:g}, {res.alternative}, p-values adjusted "
        f"({res.correction}) over the arms of each metric."
    )
    sig = [c for c in res.comparisons if c.significant]
    if res.srm.mismatch:
        verdict = (
            "Do not act on this test: sample ratio mismatch (SRM) - the arms did not get the "
            "planned shares of units, so the assignment or the data is broken."
        )
        clear = False
    elif sig:
        verdict = f"Clear effects ({len(sig)} of {len(res.comparisons)}): " + "; ".join(
            _effect(c) for c in sig
        )
        verdict += "." if len(sig) == len(res.comparisons) else "; no clear effect on the rest."
        clear = True
    else:
        verdict = (
            f"No clear effect: no metric differs significantly from {res.control} at alpha "
            f"{res.alpha:g} (every CI includes zero)."
        )
        clear = False
    rest = [c for c in res.comparisons if not c.significant]
    mechanisms = []
    if rest and not res.srm.mismatch:
        mechanisms.append("Not significant: " + "; ".join(_effect(c) for c in rest) + ".")
    vr = [c for c in res.comparisons if c.variance_reduction is not None and c.covariate]
    if vr:
        mechanisms.append(
            "CUPED: "
            + "; ".join(
                f"{c.metric} adjusted by {c.covariate} ({c.variance_reduction:.0%} less variance)"
                for c in vr
            )
            + "."
        )
    certainty = [
        f"The CIs are {100 * (1 - res.alpha):.0f}% intervals of each arm - control; with "
        f"{len(res.comparisons)} comparisons, p-values are adjusted ({res.correction})."
    ]
    certainty += [f"Warning: {w}" for w in res.warnings]
    assumptions = [
        "Units were randomised independently and do not affect each other (no interference).",
        "SRM check: "
        + ("failed." if res.srm.mismatch else f"passed (p-value {fmt_p(res.srm.p_value)})."),
    ]
    return Decision(compared, verdict, clear, None, certainty, mechanisms, assumptions)
