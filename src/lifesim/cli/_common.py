"""Shared CLI helpers: output formats, errors (exit 2, no traceback), progress bars."""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from lifesim._progress import LineProgress
from lifesim.errors import ConfigError

__all__ = [
    "OVERWRITE",
    "TRUST_CODE",
    "Format",
    "emit",
    "fail",
    "flag_map",
    "flags_given",
    "in_flag_words",
    "print_json",
    "progress_bar",
    "stderr",
    "to_jsonable",
]

stderr = Console(stderr=True)

#: ``--overwrite`` of the commands that write a run folder.
OVERWRITE = typer.Option(
    False,
    "--overwrite",
    help="Replace an earlier lifesim run folder at --out (only the files lifesim wrote there). "
    "Without it --out must be new or empty; other folders and files are never replaced.",
)
#: ``--trust-code`` of the commands that may run a scenario's custom strategies.
# options several commands share (one definition: the same flag, default and help everywhere)
SEED = typer.Option(None, "--seed", help="Root seed (default: the scenario's).")
CUSTOMERS = typer.Option(
    None, "--customers", help="Override the market size (budget, fees and staff scale with it)."
)
DAYS = typer.Option(None, "--days", help="Override the horizon in days.")
JOBS = typer.Option(
    -1, "--jobs", "-j", help="Parallel workers (default -1: all cores); results are the same."
)
SCHEDULER = typer.Option(
    None, "--scheduler", help="Run on a Dask cluster, e.g. tcp://host:8786 (same results)."
)

TRUST_CODE = typer.Option(
    False,
    "--trust-code",
    help="Run 'custom' strategies, which import and run the Python code the scenario names. "
    "Only for scenarios whose code you trust; without it they are refused.",
)


class Format(StrEnum):
    """Output format of a command."""

    table = "table"
    json = "json"


def fail(message: str) -> None:
    """Print ``error: message`` on stderr and exit with status 2."""
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code=2)


def flag_map(params: Any, given: Any) -> dict[str, str]:
    """Map parameter names to the long flag of each option for which ``given(param)`` holds.

    Both the Python name (``target_power``) and the flag's own (``power`` for ``--power``) are
    keys, so a library parameter named like the flag is found too.
    """
    out: dict[str, str] = {}
    for p in params:
        if p.param_type_name != "option" or not p.name or not given(p):
            continue
        flag = max(p.opts, key=len)
        out[flag.lstrip("-").replace("-", "_")] = flag
        out[p.name] = flag
    return out


def flags_given(ctx: typer.Context) -> dict[str, str]:
    """Map the parameter names of the running command to the flags the user gave for them."""

    def typed(p: Any) -> bool:
        return getattr(ctx.get_parameter_source(p.name), "name", "") == "COMMANDLINE"

    return flag_map(ctx.command.params, typed)


def in_flag_words(exc: Exception, flags: dict[str, str]) -> Exception:
    """Return ``exc`` with the parameter name it starts with written as the flag given.

    The library names its parameters (``customers: must be a whole number >= 1, got 0``);
    the user typed ``--customers 0``, so the CLI says ``--customers: ...``. ``flags`` maps
    parameter names to the flags given (only those on the command line: a value from the
    scenario file keeps the library's name); errors about a scenario file keep their key paths.
    """
    if not flags:
        return exc
    if isinstance(exc, ConfigError):
        if exc.source is not None or not any(p in flags for p, _ in exc.problems):
            return exc
        return ConfigError([(flags.get(p, p), m) for p, m in exc.problems])
    text = str(exc)
    m = re.match(r"(\w+)(?=: | == )", text)
    if m is None or m.group(1) not in flags:
        return exc
    try:
        return type(exc)(flags[m.group(1)] + text[m.end() :])
    except Exception:  # noqa: BLE001 - an error class with another signature: keep it
        return exc


def to_jsonable(obj: Any) -> Any:
    """Convert NumPy scalars/arrays and NaN/inf to plain JSON values (NaN -> null)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def emit(res: Any, fmt: Format, out: Any = None, where: str = "") -> None:
    """Print a result: one JSON object on stdout (with ``out`` when written), or its summary.

    ``where`` is the line printed after the text summary when ``out`` is set, e.g.
    ``"run folder: runs/x"``.
    """
    if fmt is Format.json:
        d = res.to_dict()
        if out is not None:
            d["out"] = str(out)
        print_json(d)
        return
    typer.echo(res.summary())
    if out is not None and where:
        typer.echo(f"\n{where}")


class _RichBar:
    """A rich bar on stderr (a terminal), drawn at ``begin`` or the first update, not before.

    The job calls ``begin(total)`` once its inputs are valid, so an input error is printed
    alone, never under an empty bar.
    """

    def __init__(self, description: str, unit: str) -> None:
        self.description, self.unit = description, unit
        self.prog: Progress | None = None
        self.task: Any = None

    def begin(self, total: int, done: int = 0) -> None:
        if self.prog is None:
            self.prog = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=stderr,
                transient=False,
            )
            self.prog.start()
            self.task = self.prog.add_task(self.description, total=total, completed=done)

    def __call__(self, done: int, total: int) -> None:
        self.begin(total)
        assert self.prog is not None
        self.prog.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        if self.prog is not None:
            self.prog.stop()


@contextlib.contextmanager
def progress_bar(
    description: str, total: int, enabled: bool = True, unit: str = "runs"
) -> Iterator[Any]:
    """Yield a progress display for a job's ``progress=`` (``None`` when not ``enabled``).

    On a terminal: a rich bar with the elapsed time and an ETA. Otherwise (a log, a pipe, a
    CI job): plain lines on stderr, throttled, e.g.
    ``compare: 12/60 runs, 35 s elapsed, ETA 1 min 50 s``
    (:class:`lifesim._progress.LineProgress`). Either shows itself only when the job starts
    its work (``begin``) or reports its first unit: input errors come first, alone.
    ``total`` is the expected number of units; the job's own count prevails.
    """
    del total  # the job tells its total through begin(total) and every update
    if not enabled:
        yield None
        return
    if stderr.is_terminal and not stderr.is_dumb_terminal:
        bar = _RichBar(description, unit)
        try:
            yield bar
        finally:
            bar.stop()
    else:
        yield LineProgress(description, unit)


#: ``--set`` of every command that takes a scenario.
SET = typer.Option(
    [],
    "--set",
    help="Override a scenario value: PATH=VALUE (repeatable; key paths as lifesim validate "
    "names them), e.g. --set budget.per_period=16000 "
    "--set 'tactics.onboarding.effect.purchase->retention=1.2'.",
)


def load_with_sets(config: Any, sets: list[str] | None) -> Any:
    """Load the scenario ``config`` and apply ``--set PATH=VALUE`` overrides (checked)."""
    from lifesim.config import load_scenario, override, parse_assignment

    scn = load_scenario(config)
    if sets:
        scn = override(scn, dict(parse_assignment(s) for s in sets), where="(--set)")
    return scn
