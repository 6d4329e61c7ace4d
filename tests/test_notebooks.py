"""Execute every notebook in notebooks/ (they must only `import lifesim` and run headless).

The kernel runs with Jupyter's own matplotlib backend (inline), as a user's does: a cell that
draws must show its figure as an image, so a lifesim import that switched the backend (to Agg,
say) would leave the notebook without plots and fail here.
"""

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
#: a cell that makes or shows a figure: pyplot, pandas' .plot, a lifesim *_figure function
DRAWS = re.compile(r"plt\.(subplots|show|figure)\(|\.plot\(|_figure\(")


def test_there_are_notebooks():
    assert NOTEBOOKS


def _draws(src: str) -> bool:
    """Whether the cell draws when run (a function it only defines does not count)."""
    try:
        tree = ast.parse(src)
    except SyntaxError:  # IPython magics
        return bool(DRAWS.search(src))
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    top = [n for n in tree.body if not isinstance(n, defs)]
    return any(DRAWS.search(ast.get_source_segment(src, n) or "") for n in top)


def _images(cell) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures(path, tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel picks Jupyter's inline backend
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    drawing = [c for c in code if _draws(c.source)]
    blank = [c.source.splitlines()[0] for c in drawing if not _images(c)]
    assert not blank, f"cells that draw but show no image: {blank}"
