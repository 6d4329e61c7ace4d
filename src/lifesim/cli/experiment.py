"""`lifesim experiment` commands (in-simulator A/B experiments with the true effect known)."""

from __future__ import annotations

from pathlib import Path

import typer

from lifesim._io import check_out_dir, default_run_dir
from lifesim.cli._common import (
    CUSTOMERS,
    DAYS,
    JOBS,
    OVERWRITE,
    SCHEDULER,
    SEED,
    SET,
    TRUST_CODE,
    Format,
    emit,
    fail,
    flags_given,
    in_flag_words,
    load_with_sets,
    progress_bar,
    stderr,
)
from lifesim.cli.calibrate import AS_OF, FROM_LOG, log_state
from lifesim.cli.churn import _AMOUNT, _CUST, _TIME
from lifesim.errors import ConfigError, LifesimError

__all__ = ["app", "run", "audit"]

app = typer.Typer(
    help="In-simulator A/B experiments: run one, or audit a design.", no_args_is_help=True
)


_RUN_HELP = (
    "Run the experiment once: dataset, analysis, and the true effect beside every estimate. "
    "The run folder holds dataset.csv and dataset.parquet (one row per person: arm, pre-period "
    "covariates, metrics) in the format `lifesim ab analyze` reads; manifest.json has the exact "
    "command."
)


@app.command("run", help=_RUN_HELP)
def run(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="Scenario YAML with an 'experiment:' block."),
    seed: int | None = SEED,
    customers: int | None = CUSTOMERS,
    days: int | None = DAYS,
    design: str | None = typer.Option(
        None, "--design", help="Override the randomisation unit: person or market (regions)."
    ),
    clusters: int | None = typer.Option(
        None, "--clusters", help="Override the number of regions of a market-level design."
    ),
    truth_replications: int | None = typer.Option(
        None,
        "--truth-replications",
        help="Markets the true effect is averaged over (default: the experiment's).",
    ),
    jobs: int = typer.Option(
        1, "--jobs", "-j", help="Parallel workers for the truth runs (-1: all cores)."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Run folder, new or empty (default: a new timestamped folder "
        "runs/experiment-<scenario>-<time>).",
    ),
    overwrite: bool = OVERWRITE,
    trust_code: bool = TRUST_CODE,
    fmt: Format = typer.Option(Format.table, "--format", help="Output: table or json."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write plots and HTML."),
    from_log: Path | None = FROM_LOG,
    as_of: str | None = AS_OF,
    customer_col: str | None = _CUST,
    time_col: str | None = _TIME,
    amount_col: str | None = _AMOUNT,
    set_: list[str] = SET,
) -> None:
    """Run the experiment once: dataset, analysis, and the true effect beside every estimate."""
    from lifesim.config import resolve
    from lifesim.experiments.insim import run_experiment
    from lifesim.experiments.insim.run import check_experiment_trust, resolve_experiment
    from lifesim.report.experiment import save_experiment_run

    try:
        scn, exp = resolve_experiment(
            load_with_sets(config, set_), customers, days, design, clusters, trust_code
        )
        check_experiment_trust(scn, trust_code)
        state = log_state(scn, from_log, as_of, customer_col, time_col, amount_col, customers)
        if state is not None:  # the market is the log's customers (budget scales with it)
            if exp.design.unit != "person":
                raise ConfigError(
                    [
                        (
                            "--from-log",
                            "only with a person-level design (--design person): the log's "
                            "customers have no regions; got design 'market'",
                        )
                    ]
                )
            market = resolve(state.dated(scn), state.customers, scale_arrivals=False)
            scn, exp = resolve_experiment(market, trust_code=trust_code)
        inputs = [config, from_log]
        out = default_run_dir("experiment", scn.name) if out is None else out
        check_out_dir(out, overwrite=overwrite, inputs=inputs)
        reps = truth_replications if truth_replications is not None else exp.truth_replications
        total = 1 + max(reps, 0) * len(exp.arms)
        with progress_bar("experiment run", total, enabled=progress) as cb:
            res = run_experiment(
                scn,
                seed=seed,
                truth_replications=truth_replications,
                jobs=jobs,
                progress=cb,
                trust_code=trust_code,
                initial=state,
            )
        if report:
            save_experiment_run(res, out, overwrite=overwrite, inputs=inputs)
        else:
            res.save(out, overwrite=overwrite, inputs=inputs)
    except LifesimError as exc:
        fail(str(in_flag_words(exc, flags_given(ctx))))
        return
    data = out / ("clusters.csv" if res.clusters is not None else "dataset.csv")
    emit(res, fmt, out, f"run folder: {out}\nsame analysis: {res.analyze_command(str(data))}")
    stderr.print(f"[dim]{res.elapsed_s:.1f} s[/]")


@app.command("audit")
def audit(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="Scenario YAML with an 'experiment:' block."),
    repeats: int = typer.Option(500, "--repeats", "-r", help="Repeats of the experiment."),
    seed: int | None = SEED,
    jobs: int = JOBS,
    scheduler: str | None = SCHEDULER,
    customers: int | None = CUSTOMERS,
    days: int | None = DAYS,
    design: str | None = typer.Option(
        None, "--design", help="Override the randomisation unit: person or market (regions)."
    ),
    clusters: int | None = typer.Option(
        None, "--clusters", help="Override the number of regions of a market-level design."
    ),
    truth_replications: int | None = typer.Option(
        None,
        "--truth-replications",
        help="Markets the true effect is averaged over (default: max(experiment's, 10)).",
    ),
    aa: bool = typer.Option(True, "--aa/--no-aa", help="Also audit the A/A version."),
    peek: str | None = typer.Option(
        None,
        "--peek",
        help="Also read every repeat at every look ('daily', or N evenly spaced looks) with the "
        "naive fixed-horizon test, the always-valid test and a group-sequential test: "
        "false-positive rate (A/A), power, mean stopping day and coverage of the truth, each "
        "with its Monte Carlo error (person-level designs).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Write a folder (new or empty) with the audit tables and an HTML report.",
    ),
    overwrite: bool = OVERWRITE,
    trust_code: bool = TRUST_CODE,
    fmt: Format = typer.Option(Format.table, "--format", help="Output: table or json."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    set_: list[str] = SET,
) -> None:
    """Repeat the experiment (and an A/A version): false-positive rate, power, coverage, bias.

    With --peek, also the peeking problem: each method's error rates when read at every look.
    """
    from lifesim.experiments.insim import audit as run_audit
    from lifesim.experiments.insim.run import check_experiment_trust, resolve_experiment
    from lifesim.report.experiment import save_audit_run

    try:
        scn, exp = resolve_experiment(
            load_with_sets(config, set_), customers, days, design, clusters, trust_code
        )
        check_experiment_trust(scn, trust_code)
        if peek is not None:
            from lifesim.experiments.insim.peeking import parse_peek

            peek_looks = parse_peek(peek)
            if exp.design.unit != "person":
                fail("--peek: peeking is audited for person-level designs only (--design person)")
                return
        if out is not None:
            check_out_dir(out, overwrite=overwrite, inputs=[config])
        reps = (
            truth_replications
            if truth_replications is not None
            else max(exp.truth_replications, 10)
        )
        total = max(reps, 0) * len(exp.arms) + max(repeats, 0)
        from lifesim.experiments.cluster import on_cluster

        with (
            on_cluster(scheduler),
            progress_bar("experiment audit", total, enabled=progress) as cb,
        ):
            res = run_audit(
                scn,
                repeats=repeats,
                seed=seed,
                truth_replications=truth_replications,
                aa=aa,
                jobs=jobs,
                progress=cb,
                trust_code=trust_code,
                peek=None if peek is None else peek_looks,
            )
        if out is not None:
            save_audit_run(res, out, overwrite=overwrite, inputs=[config])
    except LifesimError as exc:
        fail(str(in_flag_words(exc, flags_given(ctx))))
        return
    where = "" if out is None else f"folder: {out}  (report: {out / 'report.html'})"
    emit(res, fmt, out, where)
    stderr.print(f"[dim]{res.elapsed_s:.1f} s[/]")
