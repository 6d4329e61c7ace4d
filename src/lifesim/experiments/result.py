"""The result of a strategy comparison: tables, a verdict, a text summary, JSON and HTML."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lifesim._io import atomic_dir
from lifesim._version import __version__
from lifesim.config import Scenario, dump_scenario
from lifesim.experiments.flows import FlowViews
from lifesim.metrics import BASE_METRIC, CLV_CONVENTION, INCREMENTAL, METRICS
from lifesim.model.strategies import make_strategy

__all__ = ["ComparisonResult", "HEADLINE"]

#: Label of the extra no-marketing run (same as :data:`lifesim.experiments.incremental`).
_NO_MARKETING = "(no marketing)"

#: Metrics of the pairwise table in the text summary (after the objective; all are in JSON).
PAIRWISE_HEADLINE = ("profit", "revenue", "marketing_cost", "customers_acquired", "clv")

#: Metrics shown in the text summary (all are in the tables and JSON).
HEADLINE = (
    "profit",
    "revenue",
    "marketing_cost",
    "clv",
    "cac",
    "conversion_rate",
    "churn_rate",
    "churn_rate_period",
    "repeat_purchase_rate",
    "nps",
    "roi",
)


def _num(x: float, metric: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if metric in (
        "conversion_rate",
        "churn_rate",
        "churn_rate_period",
        "revenue_churn",
        "repeat_purchase_rate",
        "coupon_redemption_rate",
    ):
        return f"{100 * x:.2f}%"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:,.2f}"


def _ci(lo: float, hi: float, metric: str) -> str:
    if isinstance(lo, float) and isinstance(hi, float) and math.isinf(lo) and math.isinf(hi):
        return "[unbounded]"
    return f"[{_num(lo, metric)}, {_num(hi, metric)}]"


def _p(p: float) -> str:
    return "n/a" if p is None or (isinstance(p, float) and math.isnan(p)) else f"{p:.3g}"


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


@dataclass(frozen=True, eq=False)
class ComparisonResult(FlowViews):
    """Strategies compared over replications with common random numbers.

    Attributes
    ----------
    scenario : Scenario
        The resolved scenario.
    strategies : tuple of str
    baseline : str
        The strategy every other is compared against (paired differences).
    objective : str
        The metric that decides the winner.
    replications : int
    seed : int
        Root entropy (replication ``r`` ran with child ``r`` of it, for every strategy).
    alpha : float
        Confidence intervals are ``1 - alpha`` two-sided.
    runs : DataFrame
        One row per (replication, strategy), one column per metric.
    summary_table : DataFrame
        Per strategy and metric: mean, sd, CI (t over replications), n.
    differences : DataFrame
        Per strategy (but the baseline) and metric: paired difference vs the baseline, CI,
        p-value (paired t), and the paired and unpaired standard errors.
    verdict : dict
        Winner on the objective, runner-up, paired difference, its CI, p-value, significance.
    stage_shares : DataFrame
        Mean share of people per stage per day, per strategy.
    funnel : DataFrame
        Mean share of people who were ever in each stage, per strategy.
    elapsed_s : float
    counterfactual : str
        The no-marketing run the incremental figures are against: a compared strategy of type
        ``none``, or ``"(no marketing)"``, an extra run per replication on the same seeds (its
        rows are in ``runs``).
    incremental : DataFrame
        Per strategy and measure (:data:`lifesim.metrics.INCREMENTAL`): incremental profit,
        revenue, cost, customers, ROI and CAC against ``counterfactual``, with paired CIs.
    pairwise : DataFrame
        Every pair of compared strategies and every metric: ``a - b`` (``a`` ranked higher on
        the objective), paired CI, p-value and Holm-adjusted p-value over the pairs.
    spend : DataFrame
        Where the money went: per strategy and ledger item (a tactic, or a fee), the mean
        marketing cost per replication (``strategy, item, cost``), largest first.
    flow_counts : DataFrame
        Moves between stages per run: ``replication, strategy, from_stage, to_stage, cause,
        moves`` (flows that happened; the rest are 0). The event logs themselves are not
        kept. See :meth:`flows`, :meth:`flow_difference` and :meth:`transition_matrix`.
    """

    scenario: Scenario
    strategies: tuple[str, ...]
    baseline: str
    objective: str
    replications: int
    seed: int
    alpha: float
    runs: pd.DataFrame
    summary_table: pd.DataFrame
    differences: pd.DataFrame
    verdict: dict[str, Any]
    stage_shares: pd.DataFrame
    funnel: pd.DataFrame
    elapsed_s: float
    counterfactual: str = "none"
    incremental: pd.DataFrame = field(default_factory=pd.DataFrame)
    pairwise: pd.DataFrame = field(default_factory=pd.DataFrame)
    spend: pd.DataFrame = field(default_factory=pd.DataFrame)
    flow_counts: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def pairs(self) -> int:
        """Number of pairs of compared strategies (the Holm family size, per metric)."""
        k = len(self.strategies)
        return k * (k - 1) // 2

    @property
    def conventions(self) -> list[str]:
        """Statistical conventions of this comparison, in words."""
        level = round(100 * (1 - self.alpha))
        return [
            f"{level}% confidence intervals: two-sided t intervals over {self.replications} "
            "replications",
            "common random numbers: replication r uses the same seed for every strategy",
            f"differences table: strategy minus {self.baseline!r}, paired by replication; "
            "p-values from the paired t-test (H0: mean difference 0, two-sided), unadjusted",
            f"pairwise table: every pair of the {len(self.strategies)} strategies "
            f"({self.pairs} pairs), a - b with a ranked higher on {self.objective}; paired t "
            "CIs per pair (not simultaneous); p-values adjusted by Holm's step-down method over "
            f"the {self.pairs} pairs, one family per metric",
            f"winner: best mean {self.objective}; its lead over the runner-up is significant "
            f"when the Holm-adjusted p-value (over {self.pairs} pairs) is < {self.alpha:g}",
            self.counterfactual_note,
            "ROI and CAC in the incremental table are incremental (against no marketing); the "
            "ROI (blended) and CAC (blended) rows count organic revenue and customers too",
            CLV_CONVENTION,
        ]

    def tactic_sources(self) -> dict[str, dict[str, Any]]:
        """Return the tactics the compared strategies use, with the source of their numbers.

        Returns
        -------
        dict
            Tactic name -> ``{"source": str, "used_by": [strategy, ...]}``, sorted by name.
            A ``custom`` strategy's code is not run to ask it; it is listed under the key
            ``None`` as ``{"source": None, "used_by": [...]}``.
        """
        used: dict[Any, list[str]] = {}
        for s in self.strategies:
            spec = self.scenario.strategies.get(s)
            if spec is not None and spec.type == "custom":
                used.setdefault(None, []).append(s)
                continue
            for t in make_strategy(self.scenario, s).tactics():
                used.setdefault(t, []).append(s)
        out: dict[Any, dict[str, Any]] = {
            t: {"source": self.scenario.tactics[t].source, "used_by": used[t]}
            for t in sorted(k for k in used if k is not None)
        }
        if None in used:
            out[None] = {"source": None, "used_by": used[None]}
        return out

    def assumption_lines(self) -> list[str]:
        """Return the assumptions a verdict rests on: each tactic used, its source, its users."""
        src = self.tactic_sources()
        known = {t: v for t, v in src.items() if t is not None}
        if not known and None not in src:
            return ["no compared strategy uses a tactic: the verdict rests on the stage graph"]
        made_up = [t for t, v in known.items() if v["source"].startswith("illustrative")]
        lines = []
        if made_up:
            lines.append(
                f"rests on illustrative effects of: {', '.join(made_up)} (made-up numbers, "
                "not measurements: check them before acting on the verdict)"
            )
        for t, v in known.items():
            lines.append(f"{t} [{', '.join(v['used_by'])}]: {v['source']}")
        if None in src:
            who = ", ".join(src[None]["used_by"])
            lines.append(f"{who}: custom code; the tactics it uses are not listed")
        return lines

    @property
    def counterfactual_note(self) -> str:
        """Which no-marketing run the incremental figures are against."""
        if self.counterfactual == _NO_MARKETING:
            return (
                "incremental figures: strategy minus a no-marketing run with the same seed in "
                "each replication; no compared strategy does no marketing, so compare ran one "
                f"extra (labelled {_NO_MARKETING!r} in the runs table)"
            )
        return (
            "incremental figures: strategy minus the no-marketing strategy "
            f"{self.counterfactual!r} with the same seed in each replication"
        )

    def to_pandas(self) -> pd.DataFrame:
        """Per strategy and metric: mean and CI (long format)."""
        return self.summary_table.copy()

    def mean_table(self) -> pd.DataFrame:
        """Metrics (rows) by strategy (columns): means."""
        return self.summary_table.pivot(index="metric", columns="strategy", values="mean").loc[
            list(METRICS), list(self.strategies)
        ]

    def _cell(self, s: str, m: str) -> str:
        row = self.summary_table[
            (self.summary_table.strategy == s) & (self.summary_table.metric == m)
        ]
        r = row.iloc[0]
        return f"{_num(r['mean'], m)} [{_num(r['ci_low'], m)}, {_num(r['ci_high'], m)}]"

    def verdict_text(self) -> str:
        """Who wins on the objective and whether the lead survives the multiplicity correction."""
        v = self.verdict
        text = f"Winner on {v['objective']}: {v['winner']}"
        if "runner_up" in v:
            o = v["objective"]
            pct = f"{100 * self.alpha:g}%"
            text += (
                f", ahead of {v['runner_up']} by {_num(v['diff'], o)} "
                f"{_ci(v['ci'][0], v['ci'][1], o)}, p = {_p(v['p_value'])}"
            )
            if "p_value_adjusted" in v:
                k = v["pairs"]
                text += f"; Holm-adjusted over {k} pair{'s' if k > 1 else ''}: p = "
                text += _p(v["p_value_adjusted"])
                if v["significant"]:
                    text += f", the difference to the runner-up is significant at {pct}"
                else:
                    text += f", NOT distinguishable at {pct} from " + ", ".join(
                        v["indistinguishable_from"]
                    )
            else:
                sig = "significant" if v["significant"] else "NOT significant"
                text += f" ({sig} at {self.alpha:g})"
        return text + "."

    def _inc(self, s: str, k: str) -> str:
        row = self.incremental[(self.incremental.strategy == s) & (self.incremental.measure == k)]
        if not len(row):
            return "-"
        r = row.iloc[0]
        m = BASE_METRIC[k]
        return f"{_num(r['estimate'], m)} {_ci(r['ci_low'], r['ci_high'], m)}"

    def incremental_lines(self, width: int = 34) -> list[str]:
        """Text table of the incremental figures, one column per strategy."""
        level = round(100 * (1 - self.alpha))
        who = [s for s in self.strategies if s != self.counterfactual]
        if not len(self.incremental) or not who:
            return []
        if self.counterfactual == _NO_MARKETING:
            head = "incremental vs no marketing (an extra no-marketing run, same seeds; 'none' "
            head += f"was not compared) [{level}% CI]"
        else:
            head = f"incremental vs no marketing ({self.counterfactual!r}, same seeds) "
            head += f"[{level}% CI]"
        lines = [head, "".ljust(24) + "".join(s[:width].ljust(width) for s in who)]
        for k, info in INCREMENTAL.items():
            lines.append(
                info.label[:23].ljust(24)
                + "".join(self._inc(s, k)[: width - 1].ljust(width) for s in who)
            )
        return lines

    def pairwise_lines(self) -> list[str]:
        """Text table of every pair's differences (objective first, then the headline)."""
        if not len(self.pairwise) or self.pairs == 0:
            return []
        level = round(100 * (1 - self.alpha))
        metrics = [self.objective] + [m for m in PAIRWISE_HEADLINE if m != self.objective]
        lines = [
            f"pairwise differences a - b (paired) [{level}% CI], p, p Holm-adjusted over "
            f"{self.pairs} pair{'s' if self.pairs > 1 else ''}"
        ]
        for m in metrics:
            sub = self.pairwise[self.pairwise.metric == m]
            for r in sub.itertuples():
                star = " *" if r.significant else ""
                lines.append(
                    f"  {METRICS[m].label[:22]:<23}{r.a[:16]:>16} - {r.b[:16]:<16}"
                    f"{_num(r.diff, m):>12} {_ci(r.ci_low, r.ci_high, m):<26}"
                    f"p={_p(r.p_value):<9} p_holm={_p(r.p_adjusted)}{star}"
                )
        lines.append(f"  * significant at {self.alpha:g} after Holm's adjustment")
        return lines

    def summary(self) -> str:
        """Text summary: metric means with CIs, incremental figures, pairwise table, verdict."""
        level = round(100 * (1 - self.alpha))
        w = 34
        lines = [
            f"lifesim compare: scenario {self.scenario.name!r}, "
            f"{self.scenario.market.describe()} x {self.scenario.days} days, "
            f"{self.replications} replications, "
            f"seed {self.seed}",
            "",
            f"mean [{level}% CI]".ljust(24) + "".join(s[:w].ljust(w) for s in self.strategies),
        ]
        for m in HEADLINE:
            lines.append(
                METRICS[m].label[:23].ljust(24)
                + "".join(self._cell(s, m)[: w - 1].ljust(w) for s in self.strategies)
            )
        inc = self.incremental_lines(w)
        if inc:
            lines += ["", *inc]
        pw = self.pairwise_lines()
        if pw:
            lines += ["", *pw]
        else:
            lines += ["", f"difference vs {self.baseline!r} (paired) [{level}% CI], p"]
            for s in self.strategies:
                if s == self.baseline:
                    continue
                for m in ("profit", "revenue", "clv", "churn_rate", "conversion_rate"):
                    d = self.differences[
                        (self.differences.strategy == s) & (self.differences.metric == m)
                    ]
                    r = d.iloc[0]
                    lines.append(
                        f"  {s:<18}{METRICS[m].label:<26}{_num(r['diff'], m):>14} "
                        f"{_ci(r['ci_low'], r['ci_high'], m)}  p={_p(r['p_value'])}"
                    )
        lines += ["", self.verdict_text(), f"({CLV_CONVENTION}.)", "", "conventions:"]
        lines += [f"  - {c}" for c in self.conventions]
        lines += [f"  - {m}: {METRICS[m].convention}" for m in HEADLINE]
        lines += [f"  - {k}: {i.convention}" for k, i in INCREMENTAL.items()]
        if self.replications < 10:
            lines.append(f"  ! only {self.replications} replications: intervals are wide")
        lines += ["", "assumptions (tactics the compared strategies use [by whom]: source):"]
        lines += [f"  - {a}" for a in self.assumption_lines()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able result: per strategy and metric mean and CI; per pair difference, CI, p."""
        strategies: dict[str, Any] = {}
        for r in self.summary_table.itertuples():
            strategies.setdefault(r.strategy, {})[r.metric] = {
                "mean": _clean(r.mean),
                "ci": [_clean(r.ci_low), _clean(r.ci_high)],
                "sd": _clean(r.sd),
                "n": r.n,
            }
        pairs = []
        for r in self.differences.itertuples():
            pairs.append(
                {
                    "strategy": r.strategy,
                    "baseline": r.baseline,
                    "metric": r.metric,
                    "difference": _clean(r.diff),
                    "ci": [_clean(r.ci_low), _clean(r.ci_high)],
                    "p_value": _clean(r.p_value),
                    "se_paired": _clean(r.se_paired),
                    "se_unpaired": _clean(r.se_unpaired),
                }
            )
        v = {
            k: (_clean(x) if not isinstance(x, list) else [_clean(y) for y in x])
            for k, x in self.verdict.items()
        }
        if "runner_up" in v:
            v["text"] = self.verdict_text()
        incremental: dict[str, Any] = {}
        for r in self.incremental.itertuples():
            incremental.setdefault(r.strategy, {})[r.measure] = {
                "estimate": _clean(r.estimate),
                "ci": [_clean(r.ci_low), _clean(r.ci_high)],
                "ci_bounded": bool(math.isfinite(r.ci_low) and math.isfinite(r.ci_high)),
                "p_value": _clean(r.p_value),
                "n": int(r.n),
            }
        pairwise = [
            {
                "metric": r.metric,
                "a": r.a,
                "b": r.b,
                "difference": _clean(r.diff),
                "ci": [_clean(r.ci_low), _clean(r.ci_high)],
                "p_value": _clean(r.p_value),
                "p_adjusted": _clean(r.p_adjusted),
                "significant": bool(r.significant),
                "se_paired": _clean(r.se_paired),
            }
            for r in self.pairwise.itertuples()
        ]
        return {
            "scenario": self.scenario.name,
            "customers": self.scenario.market.size,
            "days": self.scenario.days,
            "replications": self.replications,
            "seed": self.seed,
            "alpha": self.alpha,
            "baseline": self.baseline,
            "objective": self.objective,
            "strategies": strategies,
            "differences": pairs,
            "winner": v,
            "counterfactual": {
                "strategy": self.counterfactual,
                "extra_run": self.counterfactual == _NO_MARKETING,
                "note": self.counterfactual_note,
            },
            "incremental": incremental,
            "pairwise": pairwise,
            "multiplicity": {
                "method": "holm",
                "pairs": self.pairs,
                "family": "the pairs of compared strategies, one family per metric",
                "ci": "per pair, not simultaneous",
            },
            "clv_convention": {
                "horizon": "truncated",
                "discounted": False,
                "net_of_acquisition_cost": False,
                "text": CLV_CONVENTION,
            },
            "conventions": self.conventions,
            "assumptions": {
                "text": self.assumption_lines(),
                "tactics": {t: v for t, v in self.tactic_sources().items() if t is not None},
                "custom_strategies": self.tactic_sources().get(None, {}).get("used_by", []),
            },
            "metric_conventions": {m: i.convention for m, i in METRICS.items()},
            "incremental_conventions": {k: i.convention for k, i in INCREMENTAL.items()},
            "elapsed_s": round(self.elapsed_s, 3),
            "lifesim_version": __version__,
        }

    def _repr_html_(self) -> str:
        tbl = pd.DataFrame(
            {s: [self._cell(s, m) for m in HEADLINE] for s in self.strategies},
            index=[METRICS[m].label for m in HEADLINE],
        )
        who = [s for s in self.strategies if s != self.counterfactual]
        inc = pd.DataFrame(
            {s: [self._inc(s, k) for k in INCREMENTAL] for s in who},
            index=[i.label for i in INCREMENTAL.values()],
        )
        return (
            f"<div><p><b>{html.escape(self.verdict_text())}</b></p>{tbl.to_html()}"
            f"<p>Incremental vs no marketing ({html.escape(self.counterfactual)}, same seeds)"
            f"</p>{inc.to_html()}"
            f"<p><small>{'<br>'.join(html.escape(c) for c in self.conventions)}</small></p>"
            f"<p><small>Assumptions: "
            f"{'<br>'.join(html.escape(a) for a in self.assumption_lines())}</small></p></div>"
        )

    def save_tables(self, folder: Path) -> None:
        """Write the tables (Parquet and CSV), the resolved scenario, a manifest and JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        tables = {
            "runs": self.runs,
            "summary": self.summary_table,
            "differences": self.differences,
            "incremental": self.incremental,
            "pairwise": self.pairwise,
            "stage_shares": self.stage_shares,
            "funnel": self.funnel.reset_index(),
        }
        if len(self.flow_counts):
            tables["flows"] = self.flow_counts
        for name, df in tables.items():
            df.to_parquet(folder / f"{name}.parquet", index=False)
            df.to_csv(folder / f"{name}.csv", index=False)
        (folder / "scenario.yaml").write_text(dump_scenario(self.scenario), encoding="utf-8")
        (folder / "result.json").write_text(json.dumps(self.to_dict(), indent=2), "utf-8")
        (folder / "summary.txt").write_text(self.summary() + "\n", encoding="utf-8")
        manifest = {
            "lifesim_version": __version__,
            "seed": self.seed,
            "replications": self.replications,
            "strategies": list(self.strategies),
            "elapsed_s": self.elapsed_s,
            "tables": sorted(tables),
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")

    def save(self, out: str | Path, *, overwrite: bool = False, inputs: Iterable = ()) -> Path:
        """Write the run folder (tables only; :mod:`lifesim.report` adds plots and HTML).

        ``out`` must be new, empty, or (with ``overwrite=True``) an earlier lifesim run folder;
        see :func:`lifesim._io.check_out_dir`.
        """
        out = Path(out)
        with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
            self.save_tables(tmp)
        return out
