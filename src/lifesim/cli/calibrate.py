"""`lifesim calibrate`: fit the simulator to a transaction log and check its forecast."""

from __future__ import annotations

from pathlib import Path

import typer

from lifesim.cli._common import OVERWRITE, Format, emit, progress_bar
from lifesim.cli.churn import _AMOUNT, _CHURN_EVENT, _CUST, _EVENT, _SEP, _TFMT, _TIME

__all__ = ["calibrate"]


def calibrate(
    data: Path = typer.Argument(..., help="Transactions: CSV, TSV, .txt (whitespace), Parquet."),
    customer_col: str | None = _CUST,
    time_col: str | None = _TIME,
    amount_col: str | None = _AMOUNT,
    time_format: str | None = _TFMT,
    sep: str | None = _SEP,
    event_col: str | None = _EVENT,
    churn_event: list[str] = _CHURN_EVENT,
    events: Path | None = typer.Option(
        None,
        "--events",
        help="Event log (same customer and time columns) with the stage each customer "
        "entered: the observed moves between stages are fitted into the scenario.",
    ),
    stage_col: str | None = typer.Option(
        None,
        "--stage-col",
        help="Stage column (the stage entered) of --events, or of the transactions without "
        "--events (default: detected to_stage/stage in --events).",
    ),
    cutoff: str | None = typer.Option(
        None,
        "--cutoff",
        help="End of the calibration period: a date, or a day number "
        "(default: the last day of the log).",
    ),
    holdout_end: str | None = typer.Option(
        None,
        "--holdout-end",
        help="Forecast (cutoff, holdout end] with the simulator and "
        "BG/NBD and compare with what happened.",
    ),
    base: Path | None = typer.Option(
        None, "--base", help="Scenario for what the data cannot identify (default: embedded)."
    ),
    draws: int = typer.Option(200, "--draws", help="Parameter sets in draws.parquet (>= 10)."),
    forecast_draws: int = typer.Option(
        50, "--forecast-draws", help="Parameter draws simulated for the holdout (>= 10)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws and holdout simulations."),
    effect: list[str] = typer.Option(
        [],
        "--effect",
        help="TACTIC=RESULT.json (or TACTIC.SRC->DST=RESULT.json[:METRIC]): the tactic's "
        "factor from a 'lifesim ab analyze --format json' result, with its uncertainty "
        "(repeatable).",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Run folder: scenario.yaml, fit.json, draws.parquet, report.html."
    ),
    overwrite: bool = OVERWRITE,
    fmt: Format = typer.Option(Format.table, "--format", help="Output: table or json (fit.json)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Fit the simulator's customer stages to a transaction log; forecast a holdout."""
    from lifesim._io import check_out_dir
    from lifesim.churn import TransactionSchema
    from lifesim.experiments.calibration import calibrate as run

    check_input_file("--events", events, "an event log (customer, time, stage entered)")
    inputs = [data, base, events, *(e.partition("=")[2].partition(":")[0] for e in effect)]
    if out is not None:
        check_out_dir(out, overwrite=overwrite, inputs=inputs)
    schema = TransactionSchema(
        customer=customer_col,
        time=time_col,
        amount=amount_col,
        time_format=time_format,
        event=event_col,
        stage=stage_col,
        churn_events=tuple(churn_event),
    )
    total = forecast_draws if holdout_end is not None else 1
    with progress_bar("calibrate (holdout check)", total, progress, "draws") as cb:
        res = run(
            data,
            cutoff=cutoff,
            holdout_end=holdout_end,
            schema=schema,
            sep=sep,
            base=base,
            draws=draws,
            forecast_draws=forecast_draws,
            seed=seed,
            effects=effect,
            progress=cb,
            events=events,
        )
    if out is not None:
        from lifesim.report.calibrate import save_calibrate_run

        save_calibrate_run(res, out, overwrite=overwrite, inputs=inputs)
    emit(res, fmt, out, f"run folder: {out}  (report: {out / 'report.html'})" if out else "")


def check_input_file(flag: str, path: Path | None, allowed: str) -> None:
    """Refuse a missing or empty (0-byte) input file naming ``flag`` (``None``: not given)."""
    from lifesim.errors import ConfigError

    if path is None:
        return
    if not path.is_file():
        raise ConfigError([(flag, f"no such file: {str(path)!r}; allowed: {allowed}")])
    if path.stat().st_size == 0:
        raise ConfigError([(flag, f"file {str(path)!r} is empty (0 bytes); allowed: {allowed}")])


#: ``--from-log`` / ``--as-of`` of the commands that can start from a log's customers.
FROM_LOG = typer.Option(
    None,
    "--from-log",
    help="Start from the real customers of this transaction log at --as-of (each drawn from "
    "their own history; needs a calibrated scenario). Columns as for lifesim calibrate.",
)
AS_OF = typer.Option(None, "--as-of", help="With --from-log: the date (or day) to start from.")


def log_state(
    scn, from_log, as_of, customer_col=None, time_col=None, amount_col=None, customers=None
):  # noqa: ANN001, ANN201
    """Return the ``LogState`` of ``--from-log`` (``None`` without it); checks the options.

    ``customers`` is the command's ``--customers``: refused with ``--from-log`` (the market is
    the log's customers).
    """
    from lifesim.errors import ConfigError

    if from_log is not None and customers is not None:
        raise ConfigError(
            [
                (
                    "--customers",
                    f"not with --from-log: the market is the log's customers, got {customers}",
                )
            ]
        )
    if from_log is None:
        if as_of is not None:
            raise ConfigError([("--as-of", "only with --from-log")])
        return None
    if as_of is None:
        raise ConfigError([("--as-of", "required with --from-log (e.g. 1997-09-30)")])
    check_input_file("--from-log", from_log, "a transaction log (CSV, TSV, .txt, Parquet)")
    from lifesim.churn import TransactionSchema
    from lifesim.experiments.calibration.state import state_from_log

    schema = TransactionSchema(customer=customer_col, time=time_col, amount=amount_col)
    return state_from_log(scn, from_log, as_of, schema=schema)
