"""`lifesim optimize`: a strategy's best settings (CRN search, re-checked on fresh seeds)."""

from __future__ import annotations

from pathlib import Path

import typer

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
    progress_bar,
    stderr,
)

__all__ = ["optimize"]


def optimize(
    config: Path | None = typer.Argument(
        None, help="Scenario YAML (default: the embedded default scenario)."
    ),
    strategy: str = typer.Option(
        "stage_focused", "--strategy", help="The strategy whose settings are searched."
    ),
    space: list[str] = typer.Option(
        [],
        "--space",
        help="A setting to search: PATH=low:high[:n][:log] or PATH=a,b,c (repeatable). PATH is "
        "tried as strategies.<strategy>.PATH first (split.retention, execution.min_gap_days), "
        "else as a scenario path (budget.per_period). A searched split share moves the "
        "strategy's other shares in proportion so the split sums to 1.",
    ),
    objective: str | None = typer.Option(
        None, "--objective", help="Metric to optimise (default: the scenario's, profit)."
    ),
    trials: int = typer.Option(50, "--trials", help="Points the search evaluates."),
    replications: int | None = typer.Option(
        None,
        "--replications",
        "-r",
        help="Replications per trial, the same seeds for every trial (default: the scenario's).",
    ),
    reevaluate: int | None = typer.Option(
        None,
        "--reevaluate",
        help="Fresh replications re-running the best point and the defaults (default: "
        "--replications, at least 2).",
    ),
    seed: int | None = SEED,
    jobs: int = JOBS,
    scheduler: str | None = SCHEDULER,
    customers: int | None = CUSTOMERS,
    days: int | None = DAYS,
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Run folder, new or empty (default: a new folder runs/optimize-<scenario>-<time>).",
    ),
    overwrite: bool = OVERWRITE,
    trust_code: bool = TRUST_CODE,
    fmt: Format = typer.Option(Format.table, "--format", help="Output: table or json."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    set_: list[str] = SET,
) -> None:
    """Search a strategy's settings for its best objective (Optuna TPE, common random numbers).

    The best point and the strategy's defaults are re-run on fresh seeds; the best point is
    reported with its CI and the paired difference against the defaults.
    """
    from lifesim._io import check_out_dir, default_run_dir
    from lifesim.config import resolve
    from lifesim.experiments.optimize import optimize as run_optimize
    from lifesim.experiments.optimize import resolve_space

    scn = resolve(load_with_sets(config, set_), customers, days)
    if strategy not in scn.strategies:
        from lifesim.errors import ConfigError

        raise ConfigError(
            [("--strategy", f"unknown strategy {strategy!r}; known: {', '.join(scn.strategies)}")]
        )
    resolve_space(scn, strategy, space)  # bad paths and ranges fail before any run
    out = default_run_dir("optimize", scn.name) if out is None else out
    check_out_dir(out, overwrite=overwrite, inputs=[config])
    from lifesim.experiments.cluster import on_cluster

    with (
        on_cluster(scheduler),
        progress_bar(f"optimize {strategy}", trials + 1, progress, "trials") as cb,
    ):
        res = run_optimize(
            scn,
            strategy,
            space=space,
            objective=objective,
            trials=trials,
            replications=replications,
            reevaluate=reevaluate,
            seed=seed,
            jobs=jobs,
            progress=cb,
            trust_code=trust_code,
        )
    res.save(out, overwrite=overwrite, inputs=[config])
    emit(res, fmt, out, f"run folder: {out}  (trials.parquet, objective_vs_trial.png)")
    stderr.print(f"[dim]{res.elapsed_s:.1f} s[/]")
