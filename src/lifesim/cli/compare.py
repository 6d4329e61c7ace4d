"""`lifesim compare`: strategies side by side with confidence intervals (the main job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from lifesim._io import atomic_dir, check_out_dir, default_run_dir
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
    load_with_sets,
    print_json,
    progress_bar,
    stderr,
)
from lifesim.cli.calibrate import AS_OF, FROM_LOG, log_state
from lifesim.cli.churn import _AMOUNT, _CUST, _TIME
from lifesim.errors import ConfigError

__all__ = ["compare"]


# the library loads when a command runs, not when the CLI starts (``lifesim --help`` is quick)
def load_scenario(*args: Any, **kwargs: Any) -> Any:
    """Load a scenario (:func:`lifesim.config.load_scenario`)."""
    from lifesim.config import load_scenario as load

    return load(*args, **kwargs)


def resolve(*args: Any, **kwargs: Any) -> Any:
    """Apply size/horizon overrides (:func:`lifesim.config.resolve`)."""
    from lifesim.config import resolve as res

    return res(*args, **kwargs)


def check_trust(*args: Any, **kwargs: Any) -> None:
    """Refuse untrusted custom strategies (:func:`lifesim.model.check_trust`)."""
    from lifesim.model import check_trust as check

    check(*args, **kwargs)


def run_compare(*args: Any, **kwargs: Any) -> Any:
    """Run the comparison (:func:`lifesim.experiments.compare`)."""
    from lifesim.experiments import compare as run

    return run(*args, **kwargs)


def save_compare_run(*args: Any, **kwargs: Any) -> Any:
    """Write the run folder with the report (:func:`lifesim.report.save_compare_run`)."""
    from lifesim.report import save_compare_run as save

    return save(*args, **kwargs)


def decision_text(res: Any, uncertainty: Any = None) -> str:
    """Return the plain-language decision summary (``lifesim.report.summary``)."""
    from lifesim.report.summary import compare_decision

    return compare_decision(res, uncertainty).text()


def compare(
    config: Path | None = typer.Argument(
        None, help="Scenario YAML (default: the embedded default scenario)."
    ),
    strategies: str | None = typer.Option(
        None, "--strategies", help="Comma-separated strategy names (default: the scenario's)."
    ),
    replications: int | None = typer.Option(
        None, "--replications", "-r", help="Replications per strategy (default: the scenario's)."
    ),
    seed: int | None = SEED,
    jobs: int = JOBS,
    scheduler: str | None = SCHEDULER,
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Run folder, new or empty (default: a new timestamped folder "
        "runs/compare-<scenario>-<time>).",
    ),
    overwrite: bool = OVERWRITE,
    trust_code: bool = TRUST_CODE,
    fmt: Format = typer.Option(Format.table, "--format", help="Output: table or json."),
    customers: int | None = CUSTOMERS,
    days: int | None = DAYS,
    baseline: str | None = typer.Option(None, "--baseline", help="Strategy to compare against."),
    objective: str | None = typer.Option(
        None, "--objective", help="Metric deciding the winner (default: profit)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write plots and HTML."),
    parameter_draws: int | None = typer.Option(
        None,
        "--parameter-draws",
        help="Also run every strategy under this many parameter sets (rows of the draws table: "
        "a calibration's draws.parquet beside the scenario, or --draws-file) and report each "
        "strategy's probability of being best and expected regret over them.",
    ),
    draws_file: Path | None = typer.Option(
        None,
        "--draws-file",
        help="Draws table (Parquet or CSV) whose columns are scenario key paths "
        "(default: draws.parquet beside the scenario).",
    ),
    from_log: Path | None = FROM_LOG,
    as_of: str | None = AS_OF,
    customer_col: str | None = _CUST,
    time_col: str | None = _TIME,
    amount_col: str | None = _AMOUNT,
    set_: list[str] = SET,
    optimized: list[Path] = typer.Option(
        [],
        "--optimized",
        help="A 'lifesim optimize' run folder (repeatable): its strategy is compared at its "
        "best settings (only the strategy's own settings; a run that also optimised a scenario "
        "value such as the budget is refused).",
    ),
    decompose: bool = typer.Option(
        False,
        "--decompose",
        help="Run the 2 x 2 of objective (the scenario's kpi_focused / stage_focused) x "
        "execution (naive / careful) and split the difference into objective, execution and "
        "interaction, with CIs (--objective picks the metric).",
    ),
) -> None:
    """Compare strategies over replications with common random numbers and 95% CIs."""
    scn = resolve(load_with_sets(config, set_), customers, days)
    if optimized:
        from lifesim.experiments.optimize import apply_optimized

        scn, notes = apply_optimized(scn, optimized)
        for line in notes:
            stderr.print(line, style="dim", markup=False, highlight=False)
    if decompose:
        _decompose(
            scn,
            config,
            strategies,
            replications,
            seed,
            jobs,
            out,
            overwrite,
            fmt,
            objective,
            progress,
        )
        return
    names = strategies.split(",") if strategies else list(scn.compare.strategies)
    check_trust(scn, names, trust_code)
    out = default_run_dir("compare", scn.name) if out is None else out
    draws = None
    if parameter_draws is not None or draws_file is not None:
        draws_file, draws = _draws_table(config, scn, draws_file, parameter_draws, seed)
    state = log_state(scn, from_log, as_of, customer_col, time_col, amount_col, customers)
    if state is not None:  # the market is the log's customers (budget scales with it)
        scn = resolve(state.dated(scn), customers=state.customers, scale_arrivals=False)
    inputs = [config, draws_file, from_log]
    check_out_dir(out, overwrite=overwrite, inputs=inputs)
    n_strat = len(names)
    reps = replications if replications is not None else scn.compare.replications
    from lifesim.experiments.cluster import on_cluster

    with on_cluster(scheduler):
        with progress_bar("compare", n_strat * max(reps, 0), enabled=progress) as cb:
            res = run_compare(
                scn,
                strategies=strategies,
                replications=replications,
                seed=seed,
                jobs=jobs,
                baseline=baseline,
                objective=objective,
                progress=cb,
                trust_code=trust_code,
                initial=state,
            )
        unc = None
        if draws is not None:
            from lifesim.experiments.uncertainty import parameter_uncertainty

            k = parameter_draws if parameter_draws is not None else len(draws)
            with progress_bar("compare (parameter draws)", k * len(names), enabled=progress) as cb:
                unc = parameter_uncertainty(
                    scn,
                    draws,
                    strategies=names,
                    n_draws=k,
                    objective=res.objective,
                    seed=seed,
                    jobs=jobs,
                    progress=cb,
                    trust_code=trust_code,
                    initial=state,
                )

    def extra(folder: Path) -> None:
        if unc is not None:
            unc.table.to_csv(folder / "parameter_uncertainty.csv", index=False)
            unc.per_draw.to_parquet(folder / "parameter_draws_results.parquet", index=False)
            (folder / "parameter_uncertainty.txt").write_text(unc.summary() + "\n", "utf-8")

    if report:
        save_compare_run(res, out, overwrite=overwrite, inputs=inputs, extra=extra, uncertainty=unc)
    else:
        with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
            res.save_tables(tmp)
            extra(tmp)
    where = f"run folder: {out}" + (f"  (report: {out / 'report.html'})" if report else "")
    if unc is not None and fmt is Format.json:
        d = res.to_dict()
        d["parameter_uncertainty"] = unc.to_dict()
        d["out"] = str(out)
        print_json(d)
    else:
        if fmt is Format.table:
            typer.echo(decision_text(res, unc) + "\n")
        emit(res, fmt, out, "" if unc is not None else where)
        if unc is not None:
            typer.echo("\n" + unc.summary() + f"\n\n{where}")
    stderr.print(f"[dim]{res.elapsed_s + (unc.elapsed_s if unc else 0):.1f} s[/]")


def _draws_table(config, scn, draws_file, n, seed) -> tuple:  # noqa: ANN001
    """Return the draws of ``--parameter-draws``: a file's rows and/or the scenario's ``uncertain``.

    The file is ``--draws-file`` or a calibration's ``draws.parquet`` beside the scenario; the
    scenario's ``uncertain`` ranges add columns drawn here. Either may be missing, not both.
    """
    import pandas as pd

    from lifesim.experiments.uncertainty import sample_uncertain

    beside = Path(config).parent / "draws.parquet" if config is not None else None
    if draws_file is None and beside is not None and beside.exists():
        draws_file = beside
    parts = []
    if draws_file is not None:
        suffix = Path(draws_file).suffix.lower()
        if not Path(draws_file).is_file():
            raise ConfigError([("--draws-file", f"{draws_file}: no such file")])
        if suffix in (".parquet", ".csv", ".txt"):
            try:
                read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
                table = read(draws_file)
            except Exception as exc:  # noqa: BLE001 - any reader failure is the file's
                raise ConfigError(
                    [("--draws-file", f"{draws_file}: cannot read it as {suffix[1:]} ({exc})")]
                ) from None
        else:
            raise ConfigError(
                [
                    (
                        "--draws-file",
                        f"{draws_file}: a .parquet or .csv file is needed, got {suffix!r}",
                    )
                ]
            )
        if not [c for c in table.columns if isinstance(c, str) and "." in c]:
            raise ConfigError(
                [
                    (
                        "--draws-file",
                        f"{draws_file}: no column is a scenario key path (e.g. "
                        f"'stages.retention.buy.p'); columns: {', '.join(map(str, table.columns))}",
                    )
                ]
            )
        parts.append(table.reset_index(drop=True))
    if scn.uncertain:
        if n is None:
            raise ConfigError(
                [("--parameter-draws", "give the number of draws to take from 'uncertain'")]
            )
        rows = n if not parts else min(n, len(parts[0]))
        sampled = sample_uncertain(scn, rows, seed)
        if parts:
            both = sorted(set(sampled.columns) & set(parts[0].columns))
            if both:
                raise ConfigError(
                    [
                        (
                            "uncertain",
                            f"{', '.join(both)}: in the draws table and in 'uncertain'; keep one",
                        )
                    ]
                )
            sampled = pd.concat([parts[0].iloc[:rows].reset_index(drop=True), sampled], axis=1)
        parts = [sampled]
    if not parts:
        where = f" ({beside})" if beside is not None else ""
        raise ConfigError(
            [
                (
                    "--parameter-draws",
                    f"no draws table beside the scenario{where} and no 'uncertain' ranges in it; "
                    "run lifesim calibrate (it writes draws.parquet), give --draws-file, or state "
                    "ranges in the scenario's 'uncertain:' block",
                )
            ]
        )
    return (Path(draws_file) if draws_file is not None else None), parts[0]


def _decompose(
    scn, config, strategies, replications, seed, jobs, out, overwrite, fmt, objective, progress
) -> None:
    from lifesim.experiments.decompose import CELLS, decompose

    if strategies:
        raise ConfigError(
            [("--strategies", "not used with --decompose (it runs its own four cells)")]
        )
    out = default_run_dir("decompose", scn.name) if out is None else out
    check_out_dir(out, overwrite=overwrite, inputs=[config])
    reps = replications if replications is not None else scn.compare.replications
    with progress_bar("compare --decompose", len(CELLS) * max(reps, 0), progress) as cb:
        res = decompose(
            scn,
            metric=objective or scn.compare.objective,
            replications=replications,
            seed=seed,
            jobs=jobs,
            progress=cb,
        )
    res.save(out, overwrite=overwrite, inputs=[config])
    emit(res, fmt, out, f"run folder: {out}")
