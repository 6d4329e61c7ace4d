"""Results of in-simulator experiments: one run (estimate vs truth) and an audit of a design."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lifesim._io import atomic_dir
from lifesim._version import __version__
from lifesim.config import Scenario, dump_scenario
from lifesim.config.experiment import METRIC_KINDS, Experiment

__all__ = ["ExperimentResult", "AuditResult", "RUN_CONVENTIONS", "AUDIT_CONVENTIONS"]

#: Statistical conventions of a run, stated in every summary.
RUN_CONVENTIONS = (
    "Estimate: arm - control, absolute (per person; per region for market-level designs). "
    "Proportions: two-proportion z-test (pooled SE), Farrington-Manning score CI (the "
    "interval that inverts the same score test, valid near 0 and 1); means: Welch's "
    "t-test and CI; 'cuped': Welch on Y - theta (X - mean X) with the pre-period covariate X "
    "(pre_customer for conversion and retention, pre_orders for orders, pre_revenue for money; "
    "theta pooled over all arms). "
    "Two-sided, no multiple-comparison correction.",
    "Truth: E[Y(arm) - Y(control)] per person, every arm run over the whole market with the "
    "same seed as control (common random numbers); replication 0 is the experiment's own "
    "market; truth_se is its standard error from the spread between the truth_replications "
    "independent markets (people of one market share a budget and dynamics; with one market it "
    "falls back to the pooled person-level error, which understates it: truth_se_from says "
    "which).",
    "Exposure: inside [start, start + duration) each arm's strategy reaches only its own "
    "people with its share of the budget; outside it everyone gets the control strategy. "
    "Broadcast tactics (always-on for everyone) are left out of every arm.",
)

#: Statistical conventions of an audit, stated in every summary.
AUDIT_CONVENTIONS = (
    "Each repeat is a new market (new people, new draws, new assignment) from child seed i "
    "of the root; the A/A version gives every arm the control strategy (truth exactly 0) "
    "and uses the same markets.",
    "rejection_rate: share of repeats with p < alpha (the false-positive rate when the truth "
    "is 0, power otherwise); coverage: share of CIs containing the truth; bias: mean "
    "estimate - truth; each with its Monte Carlo standard error (binomial sqrt(p(1-p)/R) for "
    "rates, with p kept in [0.5/R, 1 - 0.5/R]; sd/sqrt(R) combined with truth_se for bias).",
    "Truth of the A/B version: averaged over truth_replications separate markets (common "
    "random numbers across arms); coverage is judged against that estimate, whose own error "
    "is truth_se (from the spread between the markets): expected_coverage is the nominal "
    "coverage of a CI of average standard error mean_se around a truth known to +/- truth_se, "
    "2 Phi(z / sqrt(1 + (truth_se / mean_se)^2)) - 1, the rate coverage is compared with.",
)


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return _clean(df.to_dict(orient="records"))


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 1 or x == 0:
        return f"{x:,.3f}"
    return f"{x:.4g}"


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """One experiment run inside the simulator, its analysis, and the true effect beside it.

    Attributes
    ----------
    scenario : Scenario
        The resolved scenario (with its ``experiment`` block).
    experiment : Experiment
    seed : int
        Root entropy of the run.
    people : DataFrame
        The per-person dataset: ``person``, [``cluster``], ``arm``, ``segment``,
        ``stage_at_start``, pre-period covariates, one column per metric (the format
        ``lifesim ab analyze`` reads).
    clusters : DataFrame or None
        Market-level designs: one row per region (the analysed dataset).
    analysis : lifesim.ab.ABResult
        The full analysis of the dataset.
    estimates : DataFrame
        One row per (metric, method, arm): estimate, se, CI, p-value, significance, test,
        ``true_effect``, ``truth_se``, ``covers_truth``.
    truth : DataFrame
        The true effect per (metric, arm), see
        :func:`~lifesim.experiments.insim.run.true_effects`.
    caveats : tuple of str
        Design caveats (interference, broadcasts left out, SRM, small samples).
    elapsed_s : float
    """

    scenario: Scenario
    experiment: Experiment
    seed: int
    people: pd.DataFrame
    clusters: pd.DataFrame | None
    analysis: Any
    estimates: pd.DataFrame
    truth: pd.DataFrame
    caveats: tuple[str, ...]
    elapsed_s: float

    @property
    def dataset(self) -> pd.DataFrame:
        """The analysed dataset: per person, or per region for market-level designs."""
        return self.clusters if self.clusters is not None else self.people

    @property
    def n(self) -> dict[str, int]:
        """Analysed units per arm."""
        counts = self.dataset["arm"].value_counts()
        return {a: int(counts.get(a, 0)) for a in self.experiment.arms}

    def analyze_command(self, path: str = "dataset.csv") -> str:
        """Return the ``lifesim ab analyze`` command reproducing the plain analysis of the file."""
        exp = self.experiment
        parts = [f"lifesim ab analyze {path} --arm arm --control {exp.control_arm}"]
        for name, m in exp.metrics.items():
            prop = METRIC_KINDS[m.kind][1] and self.clusters is None
            parts.append(f"--{'proportion' if prop else 'mean'} {name}")
        parts.append(f"--correction none --alpha {exp.alpha:g}")
        return " ".join(parts)

    def to_pandas(self) -> pd.DataFrame:
        """Estimate vs truth: one row per (metric, method, arm)."""
        return self.estimates.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: settings, n per arm, estimates vs truth, truth, caveats."""
        return _clean(
            {
                "scenario": self.scenario.name,
                "seed": self.seed,
                "design": self.experiment.design.unit,
                "arms": {a: s for a, s in self.experiment.shares().items()},
                "control": self.experiment.control_arm,
                "start": self.experiment.start,
                "exposure": list(self.experiment.exposure(self.scenario.days)),
                "alpha": self.experiment.alpha,
                "n": self.n,
                "estimates": _records(self.estimates),
                "truth": _records(self.truth),
                "srm_p_value": float(self.analysis.srm.p_value),
                "caveats": list(self.caveats),
                "conventions": list(RUN_CONVENTIONS),
                "elapsed_s": self.elapsed_s,
            }
        )

    def summary(self) -> str:
        """Text table: every estimate with its CI beside the true effect, then caveats."""
        exp = self.experiment
        level = round(100 * (1 - exp.alpha))
        lines = [
            f"Experiment in scenario {self.scenario.name!r}: {exp.design.unit}-level design, "
            f"{self.scenario.market.describe()} x {self.scenario.days} days, seed {self.seed}",
            "units per arm: " + ", ".join(f"{a}={k:,}" for a, k in self.n.items()),
            "",
            f"{'metric':<16}{'method':<7}{'arm':<14}{'estimate':>11}  "
            f"{f'{level}% CI':<24}{'p':>9}{'truth':>12}{'+/-':>11}  covers",
        ]
        for r in self.estimates.itertuples(index=False):
            ci = f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]"
            lines.append(
                f"{r.metric:<16}{r.method:<7}{r.arm:<14}{_fmt(r.estimate):>11}  {ci:<24}"
                f"{r.p_value:>9.3g}{_fmt(r.true_effect):>12}{_fmt(r.truth_se):>11}  "
                f"{'yes' if r.covers_truth else 'NO'}"
            )
        if self.caveats:
            lines += ["", "caveats:"] + [f"  - {c}" for c in self.caveats]
        lines += ["", "conventions:"] + [f"  - {c}" for c in RUN_CONVENTIONS]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"ExperimentResult(scenario={self.scenario.name!r}, n={self.n}, "
            f"metrics={list(self.experiment.metrics)})"
        )

    def _repr_html_(self) -> str:
        cav = "".join(f"<li>{html.escape(c)}</li>" for c in self.caveats)
        conv = "".join(f"<li>{html.escape(c)}</li>" for c in RUN_CONVENTIONS)
        return (
            f"<div><p><b>Experiment in {html.escape(self.scenario.name)}</b>: "
            f"{html.escape(str(self.n))}</p>{self.estimates.drop(columns='test').to_html()}"
            f"<ul>{cav}</ul><p><small><ul>{conv}</ul></small></p></div>"
        )

    def save_tables(self, folder: Path) -> None:
        """Write the dataset (CSV and Parquet), estimates, truth, scenario, manifest, summary."""
        folder.mkdir(parents=True, exist_ok=True)
        self.people.to_csv(folder / "dataset.csv", index=False)
        self.people.to_parquet(folder / "dataset.parquet", index=False)
        if self.clusters is not None:
            self.clusters.to_csv(folder / "clusters.csv", index=False)
            self.clusters.to_parquet(folder / "clusters.parquet", index=False)
        self.estimates.to_csv(folder / "estimates.csv", index=False)
        self.truth.to_csv(folder / "truth.csv", index=False)
        (folder / "scenario.yaml").write_text(dump_scenario(self.scenario), encoding="utf-8")
        (folder / "result.json").write_text(json.dumps(self.to_dict(), indent=2), "utf-8")
        (folder / "summary.txt").write_text(self.summary() + "\n", encoding="utf-8")
        data = "clusters.csv" if self.clusters is not None else "dataset.csv"
        manifest = {
            "lifesim_version": __version__,
            "seed": self.seed,
            "elapsed_s": self.elapsed_s,
            "tables": sorted(p.name for p in folder.iterdir()) + ["manifest.json"],
            "analyze": self.analyze_command(data),
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")

    def save(self, out: str | Path, *, overwrite: bool = False, inputs: Iterable = ()) -> Path:
        """Write the run folder atomically (tables; :mod:`lifesim.report` adds the HTML).

        ``out`` must be new, empty, or (with ``overwrite=True``) an earlier lifesim run folder;
        see :func:`lifesim._io.check_out_dir`.
        """
        out = Path(out)
        with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
            self.save_tables(tmp)
        return out


@dataclass(frozen=True, eq=False)
class AuditResult:
    """An experiment design repeated many times: error rates, coverage, bias, with MC error.

    Attributes
    ----------
    scenario : Scenario
    experiment : Experiment
    seed : int
        Root entropy.
    repeats : int
    table : DataFrame
        One row per (version, metric, method, arm): ``version`` (``'A/B'`` or ``'A/A'``),
        ``true_effect``, ``truth_se``, ``mean_estimate``, ``bias``, ``bias_se``,
        ``sd_estimate``, ``mean_se`` (the analysis' average standard error), ``rmse``,
        ``rejection_rate``, ``rejection_se``, ``coverage``, ``coverage_se``,
        ``expected_coverage`` (the nominal coverage allowing for the truth's own error
        ``truth_se``), ``mean_ci_width``, ``repeats``.
    estimates : DataFrame
        Every repeat's estimates (``version``, ``repeat``, ``metric``, ``method``, ``arm``,
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value``).
    truth : DataFrame
        The true effects the A/B rows are judged against.
    alpha : float
    elapsed_s : float
    peeking : DataFrame or None
        With ``peek``: one row per (version, metric, arm, method) with ``method`` in
        ``naive``, ``always-valid``, ``group-sequential``: ``looks``, ``true_effect`` and
        ``truth_se`` (at the last look), ``rejection_rate`` (false-positive rate for A/A, power
        for A/B) and ``rejection_se``, ``mean_stop_day`` (days since assignment; the last look
        when the method never rejects) and ``stop_day_se``, ``coverage`` (the method's interval
        at its stopping look covers the truth at that look) and ``coverage_se``,
        ``final_boundary`` (the ``|z|`` threshold at the last look), ``repeats``.
    peek : 'daily', int or None
        The looks (see :mod:`lifesim.experiments.insim.peeking`).
    """

    scenario: Scenario
    experiment: Experiment
    seed: int
    repeats: int
    table: pd.DataFrame
    estimates: pd.DataFrame
    truth: pd.DataFrame
    alpha: float
    elapsed_s: float
    peeking: pd.DataFrame | None = None
    peek: str | int | None = None

    def to_pandas(self) -> pd.DataFrame:
        """Return the audit table: one row per (version, metric, method, arm)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: settings, the audit table, the truth and the conventions."""
        return _clean(
            {
                "scenario": self.scenario.name,
                "seed": self.seed,
                "repeats": self.repeats,
                "alpha": self.alpha,
                "design": self.experiment.design.unit,
                "table": _records(self.table),
                "truth": _records(self.truth),
                "peek": self.peek,
                "peeking": None if self.peeking is None else _records(self.peeking),
                "conventions": list(AUDIT_CONVENTIONS),
                "elapsed_s": self.elapsed_s,
            }
        )

    def summary(self) -> str:
        """Text table of the audit, with Monte Carlo errors, and the conventions."""
        lines = [
            f"Audit of the experiment in {self.scenario.name!r}: {self.repeats} repeats, "
            f"{self.experiment.design.unit}-level design, alpha {self.alpha:g}, seed {self.seed}",
            "",
            f"{'version':<8}{'metric':<16}{'method':<7}{'arm':<14}{'truth':>11}{'bias':>12}"
            f"{'+/-':>11}{'reject':>8}{'+/-':>7}{'coverage':>10}{'+/-':>7}{'expected':>10}",
        ]
        for r in self.table.itertuples(index=False):
            lines.append(
                f"{r.version:<8}{r.metric:<16}{r.method:<7}{r.arm:<14}{_fmt(r.true_effect):>11}"
                f"{_fmt(r.bias):>12}{_fmt(r.bias_se):>11}{r.rejection_rate:>8.3f}"
                f"{r.rejection_se:>7.3f}{r.coverage:>10.3f}{r.coverage_se:>7.3f}"
                f"{r.expected_coverage:>10.3f}"
            )
        if self.repeats < 100:
            lines += [
                "",
                f"caveat: only {self.repeats} repeats; rates carry a Monte Carlo error of up to "
                f"{0.5 / math.sqrt(self.repeats):.2f} (use --repeats 500 for a verdict).",
            ]
        lines += [
            "",
            "reject = false-positive rate for A/A rows (and A/B rows with truth 0), power "
            f"otherwise; nominal coverage {1 - self.alpha:.0%}; expected = the coverage to "
            "expect when the truth is itself known only to +/- truth_se (from "
            f"{int(self.truth['replications'].iloc[0]) if len(self.truth) else 0} independent "
            "markets).",
        ]
        lines += self._peeking_lines()
        lines += ["", "conventions:"] + [f"  - {c}" for c in AUDIT_CONVENTIONS]
        return "\n".join(lines)

    def _peeking_lines(self) -> list[str]:
        if self.peeking is None:
            return []
        looks = "every day" if self.peek == "daily" else f"{self.peek} looks"
        lines = [
            "",
            f"Peeking ({looks} of each metric's window): stop at the first look a test rejects",
            f"{'version':<8}{'metric':<16}{'arm':<14}{'method':<18}{'looks':>6}{'reject':>8}"
            f"{'+/-':>7}{'stop day':>10}{'+/-':>7}{'coverage':>10}{'+/-':>7}",
        ]
        for r in self.peeking.itertuples(index=False):
            lines.append(
                f"{r.version:<8}{r.metric:<16}{r.arm:<14}{r.method:<18}{r.looks:>6}"
                f"{r.rejection_rate:>8.3f}{r.rejection_se:>7.3f}{r.mean_stop_day:>10.1f}"
                f"{r.stop_day_se:>7.1f}{r.coverage:>10.3f}{r.coverage_se:>7.3f}"
            )
        lines += [
            "",
            "reject = false-positive rate (A/A) or power (A/B) of stopping at the first look "
            f"with a rejection at alpha {self.alpha:g}; naive = the fixed-horizon test at every "
            "look; always-valid = asymptotic confidence sequences (Waudby-Smith et al. 2023, "
            "Howard et al. 2021 normal-mixture boundary); group-sequential = Lan-DeMets "
            "O'Brien-Fleming spending; both on the variance clock of the effect estimate "
            "(calendar time for retained, a state). "
            "Stop day: days since assignment (the last look if never stopped). Coverage: the "
            "method's interval at its stopping look contains the truth at that look.",
        ]
        return lines

    def __repr__(self) -> str:
        return f"AuditResult(scenario={self.scenario.name!r}, repeats={self.repeats})"

    def _repr_html_(self) -> str:
        conv = "".join(f"<li>{html.escape(c)}</li>" for c in AUDIT_CONVENTIONS)
        return (
            f"<div><p><b>Audit of {html.escape(self.scenario.name)}</b>: {self.repeats} "
            f"repeats, alpha {self.alpha:g}</p>{self.table.to_html(index=False)}"
            f"<p><small><ul>{conv}</ul></small></p></div>"
        )
