"""`lifesim datasets` commands: list and get the shipped example data (parse, call, print)."""

from __future__ import annotations

from pathlib import Path

import typer

from lifesim.cli._common import Format, print_json, stderr

__all__ = ["app", "get", "list_"]

app = typer.Typer(
    help="Small example data (synthetic, CC0) to run every README example as written.",
    no_args_is_help=True,
)


@app.command("list")
def list_(
    fmt: Format = typer.Option(Format.table, "--format", help="table or json."),
) -> None:
    """List the example data sets: name, file, columns, source and licence."""
    from lifesim.datasets import list_datasets

    sets = list_datasets()
    if fmt is Format.json:
        print_json([d.to_dict() for d in sets])
        return
    for d in sets:
        typer.echo(f"{d.name}  ->  {d.file}")
        typer.echo(f"    {d.description}")
        typer.echo(f"    columns: {', '.join(d.columns)}")
        typer.echo(f"    source:  {d.source}")
        typer.echo(f"    licence: {d.licence}")
    typer.echo("get one: lifesim datasets get NAME --out DIR   (or: get all)")


@app.command("get")
def get(
    name: str = typer.Argument(..., help="Data set name from `lifesim datasets list`, or all."),
    out: Path = typer.Option(
        Path("."), "--out", help="Folder to write into (made if missing; default: here)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace existing files of the same names."
    ),
) -> None:
    """Write an example data set (or all of them) into a folder; never replaces files unasked."""
    from lifesim.datasets import get as _get

    for path in _get(name, out, overwrite=overwrite):
        stderr.print(f"wrote {path}", highlight=False)
