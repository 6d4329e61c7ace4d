"""`lifesim ab analyze` and `lifesim ab power`."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path

import typer

from lifesim.cli._common import fail, flags_given, in_flag_words, print_json, to_jsonable
from lifesim.errors import LifesimError

__all__ = ["app", "analyze", "power"]

app = typer.Typer(
    help="A/B test analysis of experiment exports (one row per unit) and power analysis.",
    no_args_is_help=True,
)


class ReportFormat(StrEnum):
    """Output format of `lifesim ab analyze`."""

    table = "table"
    json = "json"
    html = "html"


class Correction(StrEnum):
    """Multiple-comparison adjustment over the arms of one metric."""

    holm = "holm"
    bonferroni = "bonferroni"
    bh = "bh"
    none = "none"


class Alternative(StrEnum):
    """H1 about arm - control."""

    two_sided = "two-sided"
    greater = "greater"
    less = "less"


class ProportionTest(StrEnum):
    """P-value of a proportion metric."""

    z_pooled = "z-pooled"
    z_unpooled = "z-unpooled"
    fisher = "fisher"


class Design(StrEnum):
    """Sequential design of `lifesim ab analyze`."""

    always_valid = "always-valid"
    group_sequential = "group-sequential"


class Spending(StrEnum):
    """Lan-DeMets alpha spending function."""

    obf = "obf"
    pocock = "pocock"


class Kind(StrEnum):
    """Metric type of a power analysis."""

    proportion = "proportion"
    mean = "mean"


class PowerFormat(StrEnum):
    """Output format of `lifesim ab power`."""

    table = "table"
    json = "json"


def _split(text: str | None, option: str) -> list[float] | dict[str, float] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if parts and all("=" in p for p in parts):
            return {k.strip(): float(v) for k, _, v in (p.partition("=") for p in parts)}
        return [float(p) for p in parts]
    except ValueError:
        fail(
            f"{option} {text!r}: give shares like 50,50 (control first, then the other arms "
            "sorted) or control=50,treatment=50"
        )
    return None


def _looks(text: str | None) -> int | list[str] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) == 1 and parts[0].isdigit():
        return int(parts[0])
    if not parts:
        fail(f"--looks {text!r}: give a number of looks (5) or look days (7,14,21,28)")
    return parts


def _covariates(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        metric, sep, col = item.partition("=")
        if not sep or not metric.strip() or not col.strip():
            fail(f"--covariate {item!r}: use METRIC=COLUMN, e.g. revenue=pre_revenue")
        out[metric.strip()] = col.strip()
    return out


def _prior_sd(items: list[str]) -> float | dict[str, float] | None:
    try:
        if len(items) == 1 and "=" not in items[0]:
            return float(items[0])
        return {m.strip(): float(v) for m, _, v in (i.rpartition("=") for i in items)} or None
    except ValueError:
        fail(f"--prior-sd {' '.join(items)!r}: give an SD (2.5) or METRIC=SD (revenue=2.5)")
    return None


def _name_column_flag(message: str, given: dict[str, list[str | None]]) -> str:
    """Say which flag named a missing column (``--mean: column 'x' is not in ...``).

    A control that is not an arm is said as ``--control: ...``.
    """
    if message.startswith("control ") and " is not a value of arm column " in message:
        return "--control: " + message
    m = re.match(r"column '([^']*)'(?= is not in )", message)
    if m is None:
        return message
    flags = [f for f, cols in given.items() if m.group(1) in cols]
    if not flags:
        return message
    return f"{', '.join(flags)}: {message}"


def analyze(
    ctx: typer.Context,
    data: Path = typer.Argument(..., help="CSV/TSV/Parquet file, one row per randomisation unit."),
    arm: str = typer.Option(..., "--arm", help="Column with the arm of each unit."),
    control: str | None = typer.Option(
        None, "--control", help="Label of the control arm (default: 'control')."
    ),
    proportion: list[str] = typer.Option(
        [], "--proportion", help="0/1 column analysed as a proportion (repeatable)."
    ),
    mean: list[str] = typer.Option([], "--mean", help="Numeric column, Welch t-test (repeatable)."),
    ratio: list[str] = typer.Option(
        [], "--ratio", help="NUM/DEN ratio of sums, delta method (repeatable)."
    ),
    covariate: list[str] = typer.Option(
        [],
        "--covariate",
        help="CUPED: METRIC=COLUMN, e.g. revenue=pre_revenue or clicks/sessions=pre_clicks/pre_"
        "sessions (repeatable).",
    ),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", help="table, json or html."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the report to this file (atomically) instead of stdout."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing --out file (never an input file)."
    ),
    correction: Correction = typer.Option(
        Correction.holm, "--correction", help="p-value adjustment over the arms of a metric."
    ),
    expected_split: str | None = typer.Option(
        None,
        "--expected-split",
        help="Expected shares for the SRM check: 50,50 (control first, others sorted) or "
        "control=50,b=50. Default equal.",
    ),
    unit: str | None = typer.Option(None, "--unit", help="Unit id column: refuse duplicates."),
    dropna: bool = typer.Option(
        False, "--dropna", help="Drop units with missing metric values (count reported)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (CI level 1 - alpha)."),
    alternative: Alternative = typer.Option(
        Alternative.two_sided, "--alternative", help="H1 about arm - control."
    ),
    proportion_test: ProportionTest = typer.Option(
        ProportionTest.z_pooled, "--proportion-test", help="p-value test of proportion metrics."
    ),
    sequential: bool = typer.Option(
        False, "--sequential", help="A look every day of --time-col: always-valid CIs and p."
    ),
    time_col: str | None = typer.Option(
        None, "--time-col", help="Day (number or date) of each row, for --sequential/--design."
    ),
    design: Design | None = typer.Option(
        None, "--design", help="always-valid, or group-sequential (Lan-DeMets, at --looks)."
    ),
    looks: str | None = typer.Option(
        None, "--looks", help="Sequential looks: a number (5) or days (7,14,21,28)."
    ),
    spending: Spending = typer.Option(Spending.obf, "--spending", help="obf or pocock."),
    planned_n: int | None = typer.Option(
        None, "--planned-n", help="Units planned in all arms: sequences tightest there."
    ),
    count_col: str | None = typer.Option(
        None, "--count-col", help="Per-day aggregates: units per row (metrics: successes)."
    ),
    bayes: bool = typer.Option(
        False, "--bayes", help="Bayesian read-out: posterior, credible interval, P(beat), loss."
    ),
    prior: str | None = typer.Option(
        None, "--prior", help="beta:A,B (proportions; default beta:1,1) or normal:MEAN,SD."
    ),
    prior_sd: list[str] = typer.Option(
        [], "--prior-sd", help="Normal prior SD of the effect (means/ratios/CUPED): SD or M=SD."
    ),
    draws: int | None = typer.Option(None, "--draws", help="--bayes: draws per arm (200000)."),
    seed: int | None = typer.Option(None, "--seed", help="--bayes: seed of the draws (0)."),
    segment: list[str] = typer.Option(
        [], "--segment", help="Segment column: effects per level, Holm, Cochran's Q (repeatable)."
    ),
    min_segment_units: int | None = typer.Option(
        None, "--min-segment-units", help="Fewest units per arm in a level for a claim (30)."
    ),
) -> None:
    """Analyse an experiment: every metric, every arm vs control, CIs, p-values and SRM."""
    from lifesim import ab

    metrics: list[ab.Metric | str] = [
        ab.Proportion(c, test=proportion_test.value) for c in proportion
    ]
    metrics += [f"mean:{c}" for c in mean]
    metrics += [f"ratio:{r}" for r in ratio]
    if not metrics:
        fail("give at least one metric: --proportion COL, --mean COL or --ratio NUM/DEN")
    if out is not None:
        from lifesim._io import check_out_file

        check_out_file(out, overwrite=overwrite, inputs=[data])
    seq = sequential or design is not None
    if any(x is not None for x in (time_col, looks, planned_n, count_col)) and not seq:
        fail("--time-col, --looks, --planned-n and --count-col go with --sequential or --design")
    if seq and time_col is None:
        fail("--sequential/--design need --time-col: the column with the day of each row")
    if sum(map(bool, (seq, bayes, segment))) > 1:
        fail("--sequential/--design, --bayes and --segment are separate read-outs: give one")
    if (prior is not None or prior_sd or draws is not None or seed is not None) and not bayes:
        fail("--prior, --prior-sd, --draws and --seed go with --bayes")
    if seed is not None and seed < 0:  # was "error: expected non-negative integer"
        fail(f"--seed: must be >= 0, got {seed}")
    if min_segment_units is not None and not segment:
        fail("--min-segment-units goes with --segment")
    split = _split(expected_split, "--expected-split")
    try:
        if bayes:
            res = ab.bayes(
                data, arm=arm, control=control, metrics=metrics,
                covariates=_covariates(covariate), prior=prior, prior_sd=_prior_sd(prior_sd),
                alpha=alpha, draws=200_000 if draws is None else draws,
                rng=0 if seed is None else seed, unit=unit, dropna=dropna, expected_split=split,
            )  # fmt: skip
        elif segment:
            res = ab.segments(
                data, arm=arm, control=control, metrics=metrics, segment=segment,
                covariates=_covariates(covariate), alpha=alpha, alternative=alternative.value,
                correction=correction.value, unit=unit, dropna=dropna, expected_split=split,
                min_units=30 if min_segment_units is None else min_segment_units,
            )  # fmt: skip
        elif seq:
            res = ab.sequential(
                data, arm=arm, control=control, metrics=metrics,
                covariates=_covariates(covariate), time_col=time_col,
                design=(design or Design.always_valid).value, looks=_looks(looks),
                spending=spending.value, planned_n=planned_n, alpha=alpha,
                alternative=alternative.value, correction=correction.value, unit=unit,
                dropna=dropna, count=count_col,
            )  # fmt: skip
        else:
            res = ab.analyze(
                data,
                arm=arm,
                control=control,
                metrics=metrics,
                covariates=_covariates(covariate),
                alpha=alpha,
                alternative=alternative.value,
                correction=correction.value,
                expected_split=split,
                unit=unit,
                dropna=dropna,
            )
    except (LifesimError, ValueError, FileNotFoundError) as exc:
        given = {
            "--arm": [arm], "--proportion": proportion, "--mean": mean,
            "--ratio": [c for r in ratio for c in r.split("/")],
            "--covariate": [c for v in covariate for c in re.split(r"[=/]", v)[1:]],
            "--unit": [unit], "--time-col": [time_col], "--count-col": [count_col],
        }  # fmt: skip
        fail(_name_column_flag(str(in_flag_words(exc, flags_given(ctx))), given))
        return
    if fmt is ReportFormat.json:
        text = json.dumps(to_jsonable(res.to_dict()), indent=2, allow_nan=False) + "\n"
    elif fmt is ReportFormat.html:  # every read-out: a titled page with the SRM line
        from lifesim.report.ab import ab_report_html  # matplotlib only when asked for

        text = ab_report_html(res)
    else:
        text = res.summary() + "\n"
    if out is not None:
        from lifesim._io import write_text_atomic

        write_text_atomic(out, text, overwrite=overwrite, inputs=[data])
        typer.echo(f"wrote {out}")
    elif fmt is ReportFormat.json:
        print_json(res.to_dict())
    else:
        typer.echo(text, nl=False)


def power(
    ctx: typer.Context,
    kind: Kind = typer.Option(Kind.proportion, "--kind", help="proportion or mean."),
    baseline: float = typer.Option(
        ..., "--baseline", help="Control proportion (0-1) or control mean."
    ),
    sd: float | None = typer.Option(None, "--sd", help="Per-unit standard deviation (means)."),
    mde: float | None = typer.Option(
        None, "--mde", help="Effect to detect, arm - control (see --relative)."
    ),
    relative: bool = typer.Option(False, "--relative", help="--mde is relative (0.05 = +5%)."),
    n_total: int | None = typer.Option(None, "--n-total", help="Units in all arms together."),
    target_power: float | None = typer.Option(
        None, "--power", help="Target power (default 0.8 when solving for size or MDE)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Family-wise significance level."),
    alternative: Alternative = typer.Option(
        Alternative.two_sided, "--alternative", help="H1 about arm - control."
    ),
    arms: int = typer.Option(2, "--arms", help="Number of arms including control."),
    split: str | None = typer.Option(
        None, "--split", help="Shares of the arms, control first, e.g. 20,40,40 (default equal)."
    ),
    correction: Correction = typer.Option(
        Correction.holm, "--correction", help="Adjustment planned for (alpha / (arms - 1))."
    ),
    variance_reduction: float = typer.Option(
        0.0, "--variance-reduction", help="Expected CUPED variance reduction, 0-1."
    ),
    fmt: PowerFormat = typer.Option(PowerFormat.table, "--format", help="table or json."),
    looks: int | None = typer.Option(
        None, "--looks", help="Also a group-sequential design: max and expected sizes."
    ),
    spending: Spending = typer.Option(Spending.obf, "--spending", help="obf or pocock."),
) -> None:
    """Sample size for an MDE (--mde), MDE for a size (--n-total), or power for both."""
    from lifesim import ab

    shares = _split(split, "--split")
    if isinstance(shares, dict):
        fail("--split takes plain shares, control first: e.g. 20,40,40")
    try:
        res = ab.power(
            kind.value,
            baseline=baseline,
            sd=sd,
            mde=mde,
            relative=relative,
            n_total=n_total,
            power=target_power,
            alpha=alpha,
            alternative=alternative.value,
            arms=arms,
            split=shares,
            correction=correction.value,
            variance_reduction=variance_reduction,
            looks=looks,
            spending=spending.value,
        )
    except (LifesimError, ValueError) as exc:
        fail(str(in_flag_words(exc, flags_given(ctx))))
        return
    if fmt is PowerFormat.json:
        print_json(res.to_dict())
    else:
        typer.echo(res.summary())


app.command("analyze")(analyze)
app.command("power")(power)
