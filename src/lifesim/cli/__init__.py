"""The ``lifesim`` command line: parses, calls the library, prints. No logic here."""

from __future__ import annotations

import sys

import typer

from lifesim.cli import ab as _ab
from lifesim.cli import churn as _churn
from lifesim.cli import compare as _compare
from lifesim.cli import experiment as _experiment
from lifesim.cli import sim as _sim
from lifesim.cli._common import stderr
from lifesim.errors import LifesimError

__all__ = ["app", "main"]

app = typer.Typer(
    name="lifesim",
    help="Customer-lifecycle simulator, A/B analysis and churn prediction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("simulate")(_sim.simulate)
app.command("validate")(_sim.validate)
app.command("compare")(_compare.compare)
app.add_typer(_ab.app, name="ab")
app.add_typer(_churn.app, name="churn")
app.add_typer(_experiment.app, name="experiment")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lifesim`` console script (bad input: exit 2, no traceback)."""
    try:
        app(args=argv, prog_name="lifesim")
    except LifesimError as exc:
        stderr.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        stderr.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
