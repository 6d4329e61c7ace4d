"""`lifesim simulate` and `lifesim validate`."""

from __future__ import annotations

from pathlib import Path

import typer

from lifesim._io import check_out_dir
from lifesim.cli._common import (
    CUSTOMERS,
    DAYS,
    OVERWRITE,
    SEED,
    SET,
    TRUST_CODE,
    Format,
    emit,
    load_with_sets,
    progress_bar,
)
from lifesim.cli.calibrate import AS_OF, FROM_LOG, log_state
from lifesim.cli.churn import _AMOUNT, _CUST, _TIME

__all__ = ["simulate", "validate"]


def simulate(
    config: Path | None = typer.Argument(
        None, help="Scenario YAML file (default: the embedded default scenario)."
    ),
    seed: int | None = SEED,
    customers: int | None = CUSTOMERS,
    days: int | None = DAYS,
    out: Path | None = typer.Option(
        None, "--out", help="Write the run folder here (a new or empty folder)."
    ),
    overwrite: bool = OVERWRITE,
    fmt: Format = typer.Option(Format.table, "--format", help="Output: table or json."),
    no_events: bool = typer.Option(False, "--no-events", help="Do not keep the event log."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    strategy: str | None = typer.Option(
        None, "--strategy", help="A strategy of the scenario (default: no marketing)."
    ),
    trust_code: bool = TRUST_CODE,
    from_log: Path | None = FROM_LOG,
    as_of: str | None = AS_OF,
    customer_col: str | None = _CUST,
    time_col: str | None = _TIME,
    amount_col: str | None = _AMOUNT,
    set_: list[str] = SET,
) -> None:
    """Run one scenario and print a summary (final stage shares, revenue, churn rate)."""
    from lifesim._random import as_seed_sequence
    from lifesim.config import resolve
    from lifesim.engine import simulate as run_simulation
    from lifesim.model import check_trust

    scn = resolve(load_with_sets(config, set_), customers, days)  # fails before the bar
    if strategy is not None:
        check_trust(scn, [strategy], trust_code)
        if strategy not in scn.strategies:
            from lifesim.errors import ConfigError

            known = ", ".join(scn.strategies)
            raise ConfigError([("--strategy", f"unknown strategy {strategy!r}; known: {known}")])
        if scn.strategies[strategy].type == "churn_targeted":  # registered by its module
            import lifesim.experiments.churn_targeted  # noqa: F401
    state = log_state(scn, from_log, as_of, customer_col, time_col, amount_col, customers)
    if state is not None:  # the market is the log's customers (budget scales with it)
        scn = resolve(state.dated(scn), customers=state.customers, scale_arrivals=False)
    inputs = [config, from_log]
    if out is not None:
        check_out_dir(out, overwrite=overwrite, inputs=inputs)
    root = as_seed_sequence(scn.seed if seed is None else seed)
    initial = state(root) if state is not None else None
    with progress_bar(f"simulate {scn.name}", scn.days, progress, "days") as cb:
        res = run_simulation(
            scn,
            seed=root,
            record_events=not no_events,
            progress=cb,
            strategy=strategy,
            trust_code=trust_code,
            initial=initial,
        )
    if out is not None:
        res.save(out, overwrite=overwrite, inputs=inputs)
    emit(res, fmt, out, f"run folder: {out}")


def validate(
    config: Path = typer.Argument(..., help="Scenario YAML file to check."),
    set_: list[str] = SET,
) -> None:
    """Check a scenario file; print what is wrong (exit 2) or a one-line OK."""
    from lifesim.model import custom_targets

    scn = load_with_sets(config, set_)
    _check_runnable(scn, str(config))
    typer.echo(
        f"OK: {config} ({scn.name!r}: {len(scn.stages)} stages, {len(scn.segments)} "
        f"segment{'' if len(scn.segments) == 1 else 's'}, "
        f"{scn.market.size:,} people"
        + (
            f" + {scn.market.arrivals.per_day:g} arriving a day into {scn.market.arrivals.stage}"
            if scn.market.arrivals is not None
            else ""
        )
        + f", {scn.days} days)"
    )
    code = {f"strategies.{n}.target": t for n, t in custom_targets(scn).items()}
    if scn.experiment is not None:
        for a, arm in scn.experiment.arms.items():
            if not isinstance(arm.strategy, str) and dict(arm.strategy).get("type") == "custom":
                code[f"experiment.arms.{a}.strategy.target"] = str(dict(arm.strategy)["target"])
    for path, target in code.items():
        typer.echo(
            f"needs trust: {path} names the Python code {target!r}; lifesim runs it only with "
            "--trust-code (nothing was imported or run)"
        )


def _check_runnable(scn, source: str) -> None:
    """Refuse what ``compare`` or ``simulate`` would refuse before their first run.

    Each strategy the file defines or compares is built (without running it, and without
    importing ``custom`` code): a strategy's ``params`` are checked only there.
    ``compare.objective`` must be a metric.
    """
    import lifesim.experiments.churn_targeted  # noqa: F401 - registers its strategy type
    from lifesim.config.load import _catalogue
    from lifesim.config.scenario import StrategySpec
    from lifesim.errors import ConfigError
    from lifesim.metrics import METRICS
    from lifesim.model import make_strategy

    shipped = _catalogue()["strategies"]
    problems: list[tuple[str, str]] = []
    for name, spec in scn.strategies.items():
        untouched = name in shipped and spec == StrategySpec.model_validate(shipped[name])
        if untouched and name not in scn.compare.strategies:
            continue  # a built-in the file never mentions (its default offer may not fit)
        if spec.type != "custom":
            try:
                make_strategy(scn, name)
            except ConfigError as exc:
                problems += exc.problems
    if scn.experiment is not None:  # inline arm strategies are built as 'custom'
        for label, arm in scn.experiment.arms.items():
            if isinstance(arm.strategy, str) or arm.strategy.get("type") == "custom":
                continue
            try:
                make_strategy(scn, StrategySpec.model_validate(dict(arm.strategy)))
            except ConfigError as exc:
                where = f"experiment.arms.{label}.strategy"
                problems += [(p.replace("strategies.custom", where, 1), m) for p, m in exc.problems]
    if scn.compare.objective not in METRICS:
        allowed = ", ".join(METRICS)
        problems.append(
            ("compare.objective", f"unknown metric {scn.compare.objective!r}; allowed: {allowed}")
        )
    if problems:
        raise ConfigError(problems, source=source)
