"""The result of a strategy comparison: tables, a verdict, a text summary, JSON and HTML."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lifesim._io import atomic_dir
from lifesim._version import __version__
from lifesim.config import Scenario, dump_scenario
from lifesim.metrics import METRICS

__all__ = ["ComparisonResult", "HEADLINE"]

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


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


@dataclass(frozen=True, eq=False)
class ComparisonResult:
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

    @property
    def conventions(self) -> list[str]:
        """Statistical conventions of this comparison, in words."""
        level = round(100 * (1 - self.alpha))
        return [
            f"{level}% confidence intervals: two-sided t intervals over {self.replications} "
            "replications",
            "common random numbers: replication r uses the same seed for every strategy",
            f"differences are strategy minus {self.baseline!r}, paired by replication; p-values "
            "from the paired t-test (H0: mean difference 0, two-sided)",
            f"winner: best mean {self.objective}; significant when the paired test against "
            f"the runner-up has p < {self.alpha:g} (no multiplicity correction)",
        ]

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
        """One sentence: who wins on the objective and whether the difference is real."""
        v = self.verdict
        text = f"Winner on {v['objective']}: {v['winner']}"
        if "runner_up" in v:
            sig = "significant" if v["significant"] else "NOT significant"
            text += (
                f", ahead of {v['runner_up']} by {_num(v['diff'], v['objective'])} "
                f"[{_num(v['ci'][0], v['objective'])}, {_num(v['ci'][1], v['objective'])}], "
                f"p = {v['p_value']:.3g} ({sig} at {self.alpha:g})"
            )
        return text + "."

    def summary(self) -> str:
        """Text summary: metric means with CIs per strategy, differences, verdict, conventions."""
        level = round(100 * (1 - self.alpha))
        w = 34
        lines = [
            f"lifesim compare: scenario {self.scenario.name!r}, {self.scenario.market.size:,} "
            f"people x {self.scenario.days} days, {self.replications} replications, "
            f"seed {self.seed}",
            "",
            f"mean [{level}% CI]".ljust(24) + "".join(s[:w].ljust(w) for s in self.strategies),
        ]
        for m in HEADLINE:
            lines.append(
                METRICS[m].label[:23].ljust(24)
                + "".join(self._cell(s, m)[: w - 1].ljust(w) for s in self.strategies)
            )
        lines += ["", f"difference vs {self.baseline!r} (paired) [{level}% CI], p"]
        for s in self.strategies:
            if s == self.baseline:
                continue
            for m in ("profit", "revenue", "clv", "churn_rate", "conversion_rate"):
                d = self.differences[
                    (self.differences.strategy == s) & (self.differences.metric == m)
                ]
                r = d.iloc[0]
                p = "n/a" if math.isnan(r["p_value"]) else f"{r['p_value']:.3g}"
                lines.append(
                    f"  {s:<18}{METRICS[m].label:<26}{_num(r['diff'], m):>14} "
                    f"[{_num(r['ci_low'], m)}, {_num(r['ci_high'], m)}]  p={p}"
                )
        lines += ["", self.verdict_text(), "", "conventions:"]
        lines += [f"  - {c}" for c in self.conventions]
        lines += [f"  - {m}: {METRICS[m].convention}" for m in HEADLINE]
        if self.replications < 10:
            lines.append(f"  ! only {self.replications} replications: intervals are wide")
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
            "conventions": self.conventions,
            "metric_conventions": {m: i.convention for m, i in METRICS.items()},
            "elapsed_s": round(self.elapsed_s, 3),
            "lifesim_version": __version__,
        }

    def _repr_html_(self) -> str:
        tbl = pd.DataFrame(
            {s: [self._cell(s, m) for m in HEADLINE] for s in self.strategies},
            index=[METRICS[m].label for m in HEADLINE],
        )
        return (
            f"<div><p><b>{html.escape(self.verdict_text())}</b></p>{tbl.to_html()}"
            f"<p><small>{'<br>'.join(html.escape(c) for c in self.conventions)}</small></p></div>"
        )

    def save_tables(self, folder: Path) -> None:
        """Write the tables (Parquet and CSV), the resolved scenario, a manifest and JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        tables = {
            "runs": self.runs,
            "summary": self.summary_table,
            "differences": self.differences,
            "stage_shares": self.stage_shares,
            "funnel": self.funnel.reset_index(),
        }
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
