"""Shared CLI helpers: output formats, errors (exit 2, no traceback), progress bars."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = [
    "OVERWRITE",
    "TRUST_CODE",
    "Format",
    "emit",
    "fail",
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


@contextlib.contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Any]:
    """Yield a ``callback(done, total)`` that drives a rich progress bar on stderr."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
    ) as prog:
        task = prog.add_task(description, total=total)

        def update(done: int, tot: int) -> None:
            prog.update(task, completed=done, total=tot)

        yield update


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
