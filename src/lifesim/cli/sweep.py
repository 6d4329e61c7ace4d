"""`lifesim sweep`: where does the verdict flip? Strategies over a design of assumptions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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

__all__ = ["sweep"]


def sweep(
    config: Path | None = typer.Argument(None, help="Scenario YAML (default: the embedded one)."),
    vary: list[str] = typer.Option(
        ...,
        "--vary",
        help="PATH=a,b,c | PATH=low:high:n (grid) | PATH=low:high (sampled designs); add :log "
        "for log spacing (repeatable).",
    ),
    strategies: str | None = typer.Option(
        None, "--strategies", help="Comma-separated strategies (default: the scenario's)."
    ),
    pair: str | None = typer.Option(
        None, "--pair", help="A,B: report A - B (default: the last two strategies)."
    ),
    replications: int = typer.Option(5, "--replications", "-r", help="Per point (>= 2)."),
    design: str = typer.Option("grid", "--design", help="grid, lhs or sobol."),
    samples: int | None = typer.Option(None, "--samples", help="Points of an lhs/sobol design."),
    objective: str = typer.Option("profit", "--objective", help="Metric deciding the winner."),
    seed: int | None = SEED,
    jobs: int = JOBS,
    scheduler: str | None = SCHEDULER,
    customers: int | None = CUSTOMERS,
    days: int | None = DAYS,
    out: Path = typer.Option(..., "--out", help="Run folder (points kept in <out>.partial)."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the interrupted sweep of <out>.partial."
    ),
    overwrite: bool = OVERWRITE,
    trust_code: bool = TRUST_CODE,
    set_: list[str] = SET,
    fmt: Format = typer.Option(Format.table, "--format", help="Output: table or json."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Run strategies at every point of a design over scenario values; where the verdict flips."""
    from lifesim.config import parse_range
    from lifesim.errors import ConfigError
    from lifesim.experiments.sweep import design_points
    from lifesim.experiments.sweep import sweep as run
    from lifesim.report.sweep import write_sweep_report

    scn = load_with_sets(config, set_)
    ranges = [parse_range(v) for v in vary]  # bad specs fail before the bar
    pair_t = None
    if pair is not None:
        pair_t = tuple(s.strip() for s in pair.split(","))
        if len(pair_t) != 2:
            raise ConfigError([("--pair", f"{pair!r}: write A,B (two strategies)")])
    total = design_points(ranges, design, samples)  # a huge grid is refused, not built
    from lifesim.experiments.cluster import on_cluster

    with (
        on_cluster(scheduler),
        progress_bar("sweep", total, progress, "points") as cb,
        _say_how_to_resume(out),
    ):
        res = run(
            scn,
            ranges,
            strategies=strategies,
            pair=pair_t,
            replications=replications,
            design=design,
            samples=samples,
            objective=objective,
            seed=seed,
            jobs=jobs,
            customers=customers,
            days=days,
            out=out,
            resume=resume,
            overwrite=overwrite,
            inputs=[config],
            progress=cb,
            trust_code=trust_code,
            extra=write_sweep_report,
        )
    emit(res, fmt, out, f"run folder: {out}  (report: {out / 'report.html'})")


@contextlib.contextmanager
def _say_how_to_resume(out: Path) -> Iterator[None]:
    """On Ctrl-C, say where the finished points are and how to continue."""
    try:
        yield
    except KeyboardInterrupt:
        partial = Path(str(out) + ".partial")
        if partial.is_dir():
            done = len(list(partial.glob("point-*.parquet")))
            stderr.print(
                f"{done} finished point(s) are kept in {partial}; the same command with "
                "--resume continues from them",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        raise
