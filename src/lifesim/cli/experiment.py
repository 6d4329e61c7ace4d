"""`lifesim experiment` commands (in-simulator A/B experiments with the true effect known)."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="In-simulator A/B experiments: run one, or audit a design.", no_args_is_help=True
)
