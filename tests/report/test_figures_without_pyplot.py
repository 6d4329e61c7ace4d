"""lifesim's figures are made without pyplot: no backend switched, no figure left open, and a
notebook cell that returns one shows it exactly once, whether or not the notebook uses pyplot."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import nbformat
import pytest
from nbclient import NotebookClient

from lifesim.experiments import compare
from lifesim.report import forest_figure, funnel_figure, incremental_figure, stage_shares_figure
from lifesim.report.flows import compare_heatmap_figure, compare_sankey_figure

SMALL = dict(strategies="none,stage_focused", replications=2, customers=200, days=10, seed=1)


@pytest.fixture(scope="module")
def res():
    return compare(None, **SMALL)


@pytest.mark.parametrize(
    "make",
    [stage_shares_figure, funnel_figure, forest_figure, incremental_figure,
     compare_sankey_figure, compare_heatmap_figure],
)  # fmt: skip
def test_a_figure_is_drawn_without_pyplot_and_renders_as_png(res, make):
    before = plt.get_fignums()
    fig = make(res)
    assert plt.get_fignums() == before  # nothing registered with pyplot, nothing to close
    png = fig._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def _outputs_of(cells: list[str]) -> list[list[str]]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    env_backend = os.environ.pop("MPLBACKEND", None)  # Jupyter's own (inline) backend
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    finally:
        if env_backend is not None:
            os.environ["MPLBACKEND"] = env_backend
    return [[k for o in c.outputs for k in o.get("data", {}) if k.startswith("image/")]
            for c in nb.cells]  # fmt: skip


def test_a_notebook_shows_a_returned_figure_once_with_or_without_pyplot():
    setup = (
        "from lifesim.experiments import compare\n"
        "from lifesim.report import funnel_figure\n"
        f"res = compare(None, **{SMALL!r})"
    )
    outputs = _outputs_of(
        [
            setup,
            "funnel_figure(res)",  # the notebook never imported pyplot
            "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",  # the user's own
            "funnel_figure(res)",  # pyplot's inline backend is active now
        ]
    )
    assert outputs == [[], ["image/png"], ["image/png"], ["image/png"]]


def test_the_ab_figures_render_as_png_in_notebooks_too():
    import numpy as np
    import pandas as pd

    from lifesim import ab

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"variant": np.repeat(["control", "treatment"], 200),
                       "converted": rng.random(400) < 0.3})  # fmt: skip
    before = plt.get_fignums()
    fig = ab.forest_plot(ab.analyze(df, arm="variant", metrics=["converted"]))
    assert plt.get_fignums() == before
    assert fig._repr_png_().startswith(b"\x89PNG")
