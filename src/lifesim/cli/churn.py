"""`lifesim churn` commands: evaluate, train, score (parse, call lifesim.churn, print)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from lifesim._io import check_out_file
from lifesim.cli._common import Format, emit, fail, print_json, progress_bar, stderr
from lifesim.errors import DataError

__all__ = ["app", "evaluate", "train", "score"]

app = typer.Typer(
    help="Churn prediction from transaction logs (CSV/Parquet, or the simulator's logs) "
    "or snapshot tables.",
    no_args_is_help=True,
)


class Validation(StrEnum):
    """Validation scheme."""

    customers = "customers"
    time = "time"


class Mode(StrEnum):
    """Churn definition."""

    non_contractual = "non-contractual"
    contractual = "contractual"


class Kind(StrEnum):
    """Model family ("auto": chosen by inner cross-validation)."""

    auto = "auto"
    boosting = "boosting"
    logistic = "logistic"


_DATA = typer.Argument(..., help="Transactions (CSV, TSV, .txt whitespace, Parquet) or snapshot.")
_CUST = typer.Option(None, "--customer-col", help="Customer id column (default: detected).")
_TIME = typer.Option(
    None,
    "--time-col",
    help="Time column: dates or integer days (detected). Integers that are all valid "
    "YYYYMMDD dates (1900-2100, e.g. 19970930) are read as dates; a cutoff may then be "
    "19970930 or 1997-09-30.",
)
_AMOUNT = typer.Option(None, "--amount-col", help="Order value column (default: detected).")
_EVENT = typer.Option(None, "--event-col", help="Event-type column (churn events: contractual).")
_TFMT = typer.Option(
    None,
    "--time-format",
    help="strftime format of the time column, e.g. %Y%m%d (default: ISO 8601, the first "
    "value's format, YYYYMMDD integers, or integer day numbers).",
)
_SEP = typer.Option(None, "--sep", help="Field separator of a text file (default: by suffix).")
_EVENTS = typer.Option(
    None, "--events", help="Event log (stages, causes, churn events), e.g. a simulation's events."
)
_CUTOFF = typer.Option(
    None,
    "--cutoff",
    help="Cutoff T: a date (YYYY-MM-DD), or a day number for integer days "
    "(default: the latest T whose horizon is observed: last day - horizon).",
)
_HORIZON = typer.Option(90, "--horizon-days", help="Outcome window (T, T + horizon] in days.")
_MODE = typer.Option(Mode.non_contractual, "--mode", help="Churn definition.")
_CHURN_EVENT = typer.Option(
    ["churned"], "--churn-event", help="Event/stage value that means churn (repeatable)."
)
_UNTIL = typer.Option(None, "--observed-until", help="End of observation (default: last row).")
_LABEL = typer.Option(None, "--label", help="Snapshot mode: the churn label column.")
_ID = typer.Option(None, "--id", help="Snapshot mode: the customer id column.")
_POS = typer.Option(None, "--positive", help="Snapshot mode: label value meaning churned.")
_KIND = typer.Option(
    Kind.auto,
    "--model-kind",
    help="Model family; auto: logistic (raw or log1p features) or boosting, by inner CV.",
)
_SEED = typer.Option(0, "--seed", help="Random seed (folds, boosting).")
_FMT = typer.Option(Format.table, "--format", help="Output: table or json.")


def _looks_like_date(value: Any) -> bool:
    return isinstance(value, str) and not value.strip().lstrip("-").isdigit()


def _log(path, cust, time_col, amount, event, tfmt, sep, events, until, date_hint, churn_events):
    from lifesim.churn import TransactionSchema, prepare

    schema = TransactionSchema(
        customer=cust,
        time=time_col,
        amount=amount,
        event=event,
        time_format=tfmt,
        churn_events=tuple(churn_events),
    )
    return prepare(
        path, schema=schema, events=events, observed_until=until, sep=sep, date_hint=date_hint
    )


def _cutoff(log, cutoff: str | None, horizon: int) -> Any:
    """Default cutoff: the latest whose horizon is fully observed."""
    if cutoff is not None:
        return cutoff
    t = log.last_day - horizon
    if t < log.first_day:
        raise DataError(
            f"--horizon-days {horizon} is longer than the data ({log.format_day(log.first_day)} "
            f"to {log.format_day(log.last_day)}); allowed: < {log.last_day - log.first_day}"
        )
    return log.format_day(t) if log.time_kind == "date" else t


def _model(kind: Kind, seed: int):
    from lifesim.churn import ChurnModel

    return ChurnModel(kind=kind.value, random_state=seed)


@app.command()
def evaluate(
    data: Path = _DATA,
    customer_col: str | None = _CUST,
    time_col: str | None = _TIME,
    amount_col: str | None = _AMOUNT,
    event_col: str | None = _EVENT,
    time_format: str | None = _TFMT,
    sep: str | None = _SEP,
    events: Path | None = _EVENTS,
    cutoff: str | None = _CUTOFF,
    horizon_days: int = _HORIZON,
    mode: Mode = _MODE,
    churn_event: list[str] = _CHURN_EVENT,
    observed_until: str | None = _UNTIL,
    label: str | None = _LABEL,
    id_col: str | None = _ID,
    positive: str | None = _POS,
    validation: Validation = typer.Option(Validation.customers, "--validation", help="Scheme."),
    n_splits: int = typer.Option(5, "--n-splits", help="Folds for --validation customers."),
    train_cutoff: str | None = typer.Option(
        None, "--train-cutoff", help="Training cutoff for --validation time (default T - horizon)."
    ),
    model_kind: Kind = _KIND,
    seed: int = _SEED,
    fmt: Format = _FMT,
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Evaluate churn prediction out of sample, beside a recency-only baseline."""
    from lifesim.churn import define, evaluate_dataset, read_snapshot
    from lifesim.churn import evaluate as run

    model = _model(model_kind, seed)
    if label is not None:
        if validation is Validation.time:
            raise DataError("--validation time needs a transaction log; a snapshot has no time")
        ds = read_snapshot(data, label=label, id=id_col, positive=positive, sep=sep)
        with progress_bar("churn evaluate", n_splits, progress, "folds") as cb:
            res = evaluate_dataset(ds, model, n_splits=n_splits, random_state=seed, progress=cb)
    else:
        log = _log(
            data,
            customer_col,
            time_col,
            amount_col,
            event_col,
            time_format,
            sep,
            events,
            observed_until,
            _looks_like_date(cutoff),
            churn_event,
        )
        t = _cutoff(log, cutoff, horizon_days)
        define(log, t, horizon_days, mode=mode.value)  # refuse bad options before the bar
        total = n_splits if validation is Validation.customers else 1
        with progress_bar("churn evaluate", total, progress, "fits") as cb:
            res = run(
                log,
                t,
                horizon_days,
                model=model,
                validation=validation.value,
                n_splits=n_splits,
                train_cutoff=train_cutoff,
                mode=mode.value,
                random_state=seed,
                progress=cb,
            )
    if fmt is Format.json:
        print_json(res.to_dict())
    else:
        typer.echo(res.summary())


@app.command()
def train(
    data: Path = _DATA,
    out: Path = typer.Option(..., "--out", help="Model file to write (.skops)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing --out file (never an input file)."
    ),
    customer_col: str | None = _CUST,
    time_col: str | None = _TIME,
    amount_col: str | None = _AMOUNT,
    event_col: str | None = _EVENT,
    time_format: str | None = _TFMT,
    sep: str | None = _SEP,
    events: Path | None = _EVENTS,
    cutoff: str | None = _CUTOFF,
    horizon_days: int = _HORIZON,
    mode: Mode = _MODE,
    churn_event: list[str] = _CHURN_EVENT,
    observed_until: str | None = _UNTIL,
    label: str | None = _LABEL,
    id_col: str | None = _ID,
    positive: str | None = _POS,
    model_kind: Kind = _KIND,
    seed: int = _SEED,
    fmt: Format = _FMT,
) -> None:
    """Fit a calibrated churn model and save it (skops: safe to share and load)."""
    from lifesim.churn import build_dataset, read_snapshot, train_dataset

    check_out_file(out, overwrite=overwrite, inputs=[data, events])

    if label is not None:
        ds = read_snapshot(data, label=label, id=id_col, positive=positive, sep=sep)
    else:
        log = _log(
            data,
            customer_col,
            time_col,
            amount_col,
            event_col,
            time_format,
            sep,
            events,
            observed_until,
            _looks_like_date(cutoff),
            churn_event,
        )
        ds = build_dataset(
            log,
            _cutoff(log, cutoff, horizon_days),
            horizon_days,
            mode=mode.value,
        )
    trained = train_dataset(ds, _model(model_kind, seed))
    meta_extra = {"time_format": time_format, "snapshot_id": id_col, "label": label}
    trained.meta.update(meta_extra)
    trained.save(out)
    if fmt is Format.json:
        print_json(
            {
                **trained.meta,
                "out": str(out),
                "n_features": len(trained.feature_names),
                "definition": trained.definition or {"text": "snapshot label"},
            }
        )
    else:
        typer.echo(trained.summary())
        typer.echo(f"\nsaved: {out}")


@app.command()
def score(
    data: Path = _DATA,
    model: Path = typer.Option(..., "--model", help="Model file from `lifesim churn train`."),
    out: Path | None = typer.Option(None, "--out", help="Write the scores here (CSV)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing --out file (never an input file)."
    ),
    customer_col: str | None = _CUST,
    time_col: str | None = _TIME,
    amount_col: str | None = _AMOUNT,
    event_col: str | None = _EVENT,
    time_format: str | None = _TFMT,
    sep: str | None = _SEP,
    events: Path | None = _EVENTS,
    cutoff: str | None = typer.Option(
        None, "--cutoff", help="Score the customers at risk at T (default: the last day)."
    ),
    observed_until: str | None = _UNTIL,
    id_col: str | None = _ID,
    fmt: Format = _FMT,
) -> None:
    """Churn probability per customer at risk, from a saved model."""
    from lifesim.churn import TrainedChurnModel, read_snapshot
    from lifesim.churn import score as run

    if out is not None:
        check_out_file(out, overwrite=overwrite, inputs=[data, events, model])

    if not model.exists():  # named by its flag, like the model file's other problems
        fail(
            f"--model: no such file: {str(model)!r}; give the .skops file that "
            "`lifesim churn train ... --out FILE` wrote"
        )
    trained = TrainedChurnModel.load(model)
    if trained.snapshot:
        ds = read_snapshot(data, label=None, id=id_col or trained.meta.get("snapshot_id"), sep=sep)
        label_col = trained.meta.get("label")
        if label_col and label_col in ds.X.columns:
            ds = type(ds)(X=ds.X.drop(columns=[label_col]), y=None, definition=None, spec=ds.spec)
        res = run(ds, trained)
    else:
        d = trained.definition or {}
        dated = d.get("time_kind") == "date"
        churn_events = tuple(d.get("churn_events", ("churned",)))
        log = _log(
            data,
            customer_col,
            time_col,
            amount_col,
            event_col,
            time_format or trained.meta.get("time_format"),
            sep,
            events,
            observed_until,
            dated,
            churn_events,
        )
        res = run(log, trained, cutoff=cutoff)
    if out is not None:
        res.to_csv(out)
    emit(res, fmt, out, f"scores: {out}")
    if fmt is not Format.json and out is None:
        stderr.print("(pass --out scores.csv to save every customer's score)")
