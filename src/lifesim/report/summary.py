"""The decision summary that opens every report, and the glossary its terms link to.

Every sentence is computed from the result it summarises: the recommendation is the strategy
with the best mean objective, "no clear winner" is said when its lead is not significant,
the mechanisms come from the run's own spend, stage shares and metrics, and the assumptions
from the scenario's tactic sources. No matplotlib here: the CLI can print the text quickly.
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lifesim.metrics import METRICS
from lifesim.report._format import fmt_ci, fmt_p, fmt_p_best, fmt_value, is_missing

if TYPE_CHECKING:  # pragma: no cover - types only
    from lifesim.experiments import ComparisonResult
    from lifesim.experiments.uncertainty import UncertaintyResult

__all__ = [
    "Decision",
    "GLOSSARY",
    "compare_decision",
    "glossary_html",
    "glossary_markdown",
    "link_terms",
]

#: term id -> (term, what it means). Reports link each use of a term to its entry.
GLOSSARY: dict[str, tuple[str, str]] = {
    "ci": (
        "CI (confidence interval)",
        "A range of values compatible with the data at the stated level (95% unless said "
        "otherwise). If a difference's CI includes zero, the data cannot tell which side is "
        "better.",
    ),
    "crn": (
        "CRN (common random numbers)",
        "Every strategy is run with the same random seed in each replication, so they meet "
        "the same customers and the same luck; differences are then paired, which makes them "
        "far more precise than comparing independent runs.",
    ),
    "replication": (
        "replication",
        "One complete simulated run of the market. Averages and CIs are taken over replications.",
    ),
    "mc": (
        "MC error (Monte Carlo error)",
        "The uncertainty that comes from simulating a finite number of replications; more "
        "replications make it smaller. It says nothing about whether the scenario's inputs "
        "are right.",
    ),
    "param": (
        "parameter uncertainty",
        "The uncertainty about the scenario's inputs themselves (tactic effects, rates). "
        "Assessed by re-running under many plausible parameter values (compare "
        "--parameter-draws).",
    ),
    "pbest": (
        "P(best)",
        "Under parameter uncertainty: the share of parameter draws in which a strategy has "
        "the best objective.",
    ),
    "regret": (
        "regret (expected regret)",
        "What choosing a strategy costs, on average over the parameter draws, compared with "
        "the best strategy of each draw. 0 means it is never beaten.",
    ),
    "incremental": (
        "incremental",
        "Strategy minus a run without marketing on the same seeds: what the marketing "
        "itself adds (revenue people would bring anyway is not counted).",
    ),
    "pvalue": (
        "p-value",
        "If there were no real difference, the probability of a difference at least this "
        "large in either direction (two-sided tests). Small values (below 0.05) mean noise "
        "alone would rarely give it; it is not the probability that the difference is real.",
    ),
    "holm": (
        "Holm adjustment",
        "A correction of p-values when several pairs are compared at once, so that the chance "
        "of any false 'significant' among them stays at or below 5%.",
    ),
    "pp": (
        "pp (percentage points)",
        "The difference between two percentages: 12% against 10% is +2 pp (a 20% relative "
        "increase).",
    ),
    "nps": (
        "NPS (Net Promoter Score)",
        "% promoters (score 9-10) minus % detractors (0-6), from -100 to +100; differences "
        "are in NPS points.",
    ),
    "clv": (
        "CLV (customer lifetime value)",
        "Margin on the revenue of a customer acquired during the horizon; here realised "
        "within the simulated days only (no forecast tail), undiscounted.",
    ),
    "cac": (
        "CAC (customer acquisition cost)",
        "Acquisition marketing cost per customer acquired.",
    ),
    "roi": (
        "ROI (return on investment)",
        "(margin x revenue - marketing cost) / marketing cost. Not defined without spend.",
    ),
    "cuped": (
        "CUPED",
        "A variance reduction for experiments: each unit's metric is adjusted by its "
        "pre-experiment value, which narrows the CI without biasing the estimate.",
    ),
    "srm": (
        "SRM (sample ratio mismatch)",
        "The arms of an experiment did not receive the planned shares of units: a sign that "
        "the assignment or the data is broken, which makes the estimate untrustworthy.",
    ),
    "aa": (
        "A/A test",
        "An experiment whose arms get the same treatment. Any 'significant' result is a false "
        "positive, so the rate of them should be close to alpha (5%).",
    ),
    "coverage": (
        "coverage",
        "The share of repeated experiments whose CI contains the true effect; should be close "
        "to the nominal level (95%).",
    ),
    "truth": (
        "true effect",
        "In the simulator the effect of a treatment is known: the same market run with and "
        "without it. Estimates are judged against it.",
    ),
    "holdout": (
        "holdout",
        "A period after the calibration cutoff that the fit did not see; the forecast is "
        "checked against what happened in it.",
    ),
    "bgnbd": (
        "BG/NBD, Pareto/NBD",
        "Classic models of repeat buying (purchase rate and dropout per customer); lifesim's "
        "calibration fits Pareto/NBD and compares with BG/NBD as a reference.",
    ),
    "mape": (
        "MAPE",
        "Mean absolute percentage error of a forecast.",
    ),
    "flip": (
        "flip",
        "In a sweep: a parameter value where the better of two strategies changes.",
    ),
}

# the words that link to each entry (whole words; acronyms case-sensitive)
_PATTERNS: list[tuple[str, str]] = [
    ("crn", r"\bCRN\b|\bcommon random numbers\b"),
    ("mc", r"\bMonte Carlo\b|\bMC error\b"),
    ("param", r"\bparameter uncertainty\b"),
    ("pbest", r"P\(best\)"),
    ("regret", r"\bexpected regret\b|\bregret\b"),
    ("cuped", r"\bCUPED\b"),
    ("srm", r"\bSRM\b|\bsample ratio mismatch\b"),
    ("aa", r"\bA/A\b"),
    ("bgnbd", r"\bBG/NBD\b|\bPareto/NBD\b"),
    ("holm", r"\bHolm(?:'s)?(?:[- ]adjusted)?\b"),
    ("pvalue", r"\bp-values?\b"),
    ("pp", r"(?<=\d) pp\b|\bpercentage points\b"),
    ("nps", r"\bNPS\b"),
    ("clv", r"\bCLV\b"),
    ("cac", r"\bCAC\b"),
    ("roi", r"\bROI\b"),
    ("ci", r"\bCIs?\b|\bconfidence intervals?\b"),
    ("incremental", r"\b[Ii]ncremental\b"),
    ("replication", r"\breplications?\b"),
    ("coverage", r"\bcoverage\b"),
    ("truth", r"\btrue effects?\b"),
    ("holdout", r"\bholdout\b"),
    ("mape", r"\bMAPE\b"),
    ("flip", r"\bflips?\b"),
]
_TERMS = re.compile("|".join(f"(?P<{k}>{p})" for k, p in _PATTERNS))


def link_terms(escaped: str) -> str:
    """Link every glossary term in already-escaped text to its glossary entry."""
    return _TERMS.sub(lambda m: f'<a class="g" href="#g-{m.lastgroup}">{m.group(0)}</a>', escaped)


def glossary_html() -> str:
    """Return the glossary section (``<h2 id="glossary">``; entries ``id="g-<key>"``)."""
    items = "".join(
        f'<dt id="g-{k}">{html.escape(t)}</dt><dd>{html.escape(d)}</dd>'
        for k, (t, d) in GLOSSARY.items()
    )
    return f'<h2 id="glossary">Glossary</h2><dl class="glossary">{items}</dl>'


def glossary_markdown() -> str:
    """Return the glossary as a Markdown list (the README's "Glossary" section)."""
    return "\n".join(
        textwrap.fill(f"- **{t}**: {d}", width=100, subsequent_indent="  ")
        for t, d in GLOSSARY.values()
    )


@dataclass(frozen=True)
class Decision:
    """A decision summary in plain language.

    Attributes
    ----------
    compared : str
        What was compared (one sentence).
    verdict : str
        The recommendation, or "no clear winner", with the figures behind it.
    clear : bool
        True when the recommendation is clear at the report's significance level.
    recommended : str or None
        The recommended (or leading) option; None when there is nothing to choose.
    certainty : list of str
        How sure we are: simulation noise, and parameter uncertainty where assessed.
    mechanisms : list of str
        The two or three things in the results that drive the verdict.
    assumptions : list of str
        What the verdict rests on.
    """

    compared: str
    verdict: str
    clear: bool
    recommended: str | None
    certainty: list[str] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    def text(self, width: int = 100) -> str:
        """Plain-text rendering, wrapped at ``width`` (terminals and ``decision.txt``)."""

        def wrap(text: str, first: str, rest: str) -> list[str]:
            return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest)

        lines = ["DECISION SUMMARY", *wrap(self.compared, "  ", "  ")]
        lines += wrap(self.verdict, "  ", "  ")
        for head, items in (
            ("how sure", self.certainty),
            ("why (from this run's results)", self.mechanisms),
            ("rests on", self.assumptions),
        ):
            if items:
                lines.append(f"  {head}:")
                for x in items:
                    lines += wrap(x, "    - ", "      ")
        return "\n".join(lines)

    def html(self) -> str:
        """HTML block (``<section class="decision">``) with glossary links."""

        def ul(items: list[str]) -> str:
            return "<ul>" + "".join(f"<li>{link_terms(html.escape(x))}</li>" for x in items)

        parts = [
            '<section class="decision" id="decision"><h2>Decision summary</h2>',
            f"<p>{link_terms(html.escape(self.compared))}</p>",
            f'<p class="verdict{"" if self.clear else " warn"}">'
            f"{link_terms(html.escape(self.verdict))}</p>",
        ]
        for head, items in (
            ("How sure we are", self.certainty),
            ("Why: what drives it in this run's results", self.mechanisms),
            ("What it rests on", self.assumptions),
        ):
            if items:
                parts.append(f"<h3>{head}</h3>{ul(items)}</ul>")
        parts.append("</section>")
        return "".join(parts)


# --- compare ---------------------------------------------------------------------------------


def _named(counterfactual: str) -> str:
    """``" (none)"`` for a strategy of the comparison; nothing for the added ``(no marketing)``."""
    return "" if counterfactual.startswith("(") else f" ({counterfactual})"


def _name(res: ComparisonResult, s: str) -> str:
    spec = res.scenario.strategies.get(s)
    return f"{s} (no marketing)" if spec is not None and spec.type == "none" else s


def _mean(res: ComparisonResult, s: str, m: str) -> float:
    t = res.summary_table
    return float(t[(t.strategy == s) & (t.metric == m)]["mean"].iloc[0])


def _row(df: Any, **eq: Any) -> Any:
    sub = df
    for k, v in eq.items():
        sub = sub[sub[k] == v]
    return sub.iloc[0] if len(sub) else None


def _spend_line(res: ComparisonResult, s: str) -> str:
    sp = res.spend[res.spend.strategy == s] if len(res.spend) else res.spend
    total = _mean(res, s, "marketing_cost")
    if not len(sp) or total <= 0:
        return f"{s} spent nothing on marketing"
    top = ", ".join(
        f"{r.item} {100 * r.cost / total:.0f}%" for r in sp.head(3).itertuples(index=False)
    )
    return f"{s} spent {fmt_value(total, 'marketing_cost')} per run ({top})"


def _stage_moves(res: ComparisonResult, a: str, b: str, k: int = 2) -> str | None:
    sh = res.stage_shares
    last = sh["day"].max()
    end = sh[sh["day"] == last].set_index("strategy")
    stages = [c for c in sh.columns if c not in ("strategy", "day")]
    if a not in end.index or b not in end.index:
        return None
    d = (end.loc[a, stages] - end.loc[b, stages]).astype(float)
    top = d.abs().sort_values(ascending=False).index[:k]
    moves = [f"{st} {fmt_value(d[st], 'churn_rate', diff=True)}" for st in top if d[st] != 0]
    if not moves:
        return None
    return (
        f"Stage shares at the end of the horizon (day {int(last)}), {a} minus {b}: "
        + ", ".join(moves)
        + " of the market."
    )


def _kpi_moves(res: ComparisonResult, a: str, b: str, k: int = 2) -> str | None:
    if not len(res.pairwise):
        return None
    skip = {res.objective, "profit", "revenue", "marketing_cost", "roi", "cac"}
    rows = []
    for r in res.pairwise.itertuples(index=False):
        if r.metric in skip or is_missing(r.p_value) or is_missing(r.diff):
            continue
        if {r.a, r.b} != {a, b}:
            continue
        sign = 1.0 if r.a == a else -1.0
        lo, hi = sorted((sign * r.ci_low, sign * r.ci_high))
        rows.append((r.p_value, r.metric, sign * r.diff, lo, hi))
    rows.sort()
    if not rows:
        return None
    clear = [x for x in rows if x[0] < res.alpha]
    if not clear:
        p, m = rows[0][0], METRICS[rows[0][1]].label
        return (
            f"No other metric differs clearly between {a} and {b} (the smallest p-value, "
            f"{fmt_p(p)}, is that of {m})."
        )
    out = []
    for p, m, d, lo, hi in clear[:k]:
        out.append(
            f"{METRICS[m].label} {fmt_value(_mean(res, a, m), m)} against "
            f"{fmt_value(_mean(res, b, m), m)} ({fmt_value(d, m, diff=True)} "
            f"{fmt_ci(lo, hi, m, diff=True)}, p-value {fmt_p(p)})"
        )
    return f"The metrics that moved most between {a} and {b}: " + "; ".join(out) + "."


def _assumptions(res: ComparisonResult) -> list[str]:
    src = res.tactic_sources()
    known = {t: v for t, v in src.items() if t is not None}
    out = []
    made_up = [t for t, v in known.items() if str(v["source"]).startswith("illustrative")]
    sourced = [t for t in known if t not in made_up]
    if made_up:
        out.append(
            f"{len(made_up)} of the {len(known)} tactics used have invented effects (source "
            f"'illustrative', not calibrated to data): {', '.join(made_up)}. The verdict is "
            "only as good as these numbers."
        )
    if sourced:
        out.append(
            "Tactics with a named source: "
            + "; ".join(f"{t}: {known[t]['source']}" for t in sourced)
            + "."
        )
    if not known and None not in src:
        out.append("No compared strategy uses a tactic: the verdict rests on the stage graph.")
    if None in src:
        out.append(
            f"{', '.join(src[None]['used_by'])}: custom code; the tactics it uses are not listed."
        )
    scn = res.scenario
    out.append(
        f"A market of {scn.market.describe()} over {scn.days} days: rates such as NPS "
        "and churn can differ at another size or horizon (re-run with --customers/--days)."
    )
    return out


def compare_decision(
    res: ComparisonResult, uncertainty: UncertaintyResult | None = None
) -> Decision:
    """Return the decision summary of a comparison (and of its parameter draws, if given)."""
    v = res.verdict
    obj = res.objective
    label = METRICS[obj].label
    level = round(100 * (1 - res.alpha))
    scn = res.scenario
    names = ", ".join(_name(res, s) for s in res.strategies)
    compared = (
        f"Compared {len(res.strategies)} strateg{'ies' if len(res.strategies) > 1 else 'y'} "
        f"({names}) in scenario {scn.name!r}: {scn.market.describe()} over {scn.days} "
        f"days, {res.replications} replications each with common random numbers; the "
        f"objective is {label} ({'higher' if METRICS[obj].higher_is_better else 'lower'} is "
        "better)."
    )
    w = v["winner"]
    inc = (
        _row(res.incremental, strategy=w, measure="incremental_profit")
        if len(res.incremental)
        else None
    )
    inc_text = ""
    if inc is not None and not is_missing(inc["estimate"]):
        inc_text = (
            f" Against no marketing{_named(res.counterfactual)} it adds "
            f"{fmt_value(inc['estimate'], 'profit', diff=True)} incremental profit per run "
            f"{fmt_ci(inc['ci_low'], inc['ci_high'], 'profit', diff=True)} ({level}% CI)."
        )
    if "runner_up" not in v:
        verdict = f"Only one strategy ({w}) was run: there is nothing to choose between."
        clear, rec = False, w
    else:
        r = v["runner_up"]
        lo, hi = v["ci"]
        lead = (
            f"its lead over the runner-up {r} is {fmt_value(v['diff'], obj, diff=True)} "
            f"{fmt_ci(lo, hi, obj, diff=True)} ({level}% CI)"
        )
        if r == res.counterfactual:
            inc_text = ""  # the lead is the incremental profit
        mean = fmt_value(_mean(res, w, obj), obj)
        if v.get("significant"):
            verdict = (
                f"Recommendation: {_name(res, w)}. It has the best mean {label} ({mean} per "
                f"run); {lead}.{inc_text}"
            )
            clear = True
        else:
            why = (
                "the CI includes zero"
                if lo <= 0 <= hi
                else f"after the Holm adjustment over {v.get('pairs', 1)} pairs the lead is "
                f"not significant (p-value {fmt_p(v.get('p_value_adjusted'))})"
            )
            tied = v.get("indistinguishable_from", [r])
            verdict = (
                f"No clear winner on {label}: {_name(res, w)} has the best mean ({mean} per "
                f"run), but {lead}, and {why}: the data cannot separate it from "
                f"{', '.join(tied)}.{inc_text}"
            )
            clear = False
        rec = w
    certainty = [
        f"Monte Carlo: the CIs reflect simulation noise over {res.replications} replications "
        "only"
        + (
            f"; with only {res.replications} replications they are wide (more replications "
            "narrow them)."
            if res.replications < 10
            else "."
        )
    ]
    if uncertainty is not None:
        t = uncertainty.table.set_index("strategy")
        best = t.sort_values(["p_best", "expected_regret"], ascending=[False, True]).index[0]
        line = (
            f"Parameter uncertainty ({uncertainty.draws} draws of {len(uncertainty.columns)} "
            f"scenario values): P(best) of {w} is "
            f"{fmt_p_best(t.loc[w, 'p_best'], t.loc[w, 'p_best_se'], uncertainty.draws)}, "
            "expected regret "
            f"{fmt_value(t.loc[w, 'expected_regret'], 'profit')}."
            if w in t.index
            else f"Parameter uncertainty ({uncertainty.draws} draws):"
        )
        if best == w:
            line += " It is also the most likely best under parameter uncertainty."
        else:
            line += (
                f" Under parameter uncertainty the most likely best is {best} "
                f"(P(best) {t.loc[best, 'p_best']:.0%}): the recommendation depends on "
                "inputs that are not known."
            )
        certainty.append(line)
    else:
        certainty.append(
            "Parameter uncertainty: not assessed; the scenario's effects are taken as exact. "
            "`lifesim compare --parameter-draws N` gives each strategy's P(best) and expected "
            "regret over plausible values."
        )
    mechanisms = []
    if "runner_up" in v:
        r = v["runner_up"]
        mechanisms.append(f"Where the money went: {_spend_line(res, w)}; {_spend_line(res, r)}.")
        for line in (_stage_moves(res, w, r), _kpi_moves(res, w, r)):
            if line:
                mechanisms.append(line)
    return Decision(
        compared=compared,
        verdict=verdict,
        clear=clear,
        recommended=rec,
        certainty=certainty,
        mechanisms=mechanisms,
        assumptions=_assumptions(res),
    )
