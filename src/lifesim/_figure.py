"""Matplotlib figures made without pyplot: lifesim never touches the user's backend.

Every figure lifesim draws comes from :func:`subplots`, which returns a :class:`LifesimFigure`
(a plain :class:`matplotlib.figure.Figure`) instead of a pyplot-managed one:

- no backend is chosen or switched, and pyplot's list of open figures is left alone (nothing
  to close, nothing shown by a later ``plt.show()``);
- in Jupyter the figure a cell returns is shown once, as a PNG, whatever the backend and
  whether or not the notebook imported pyplot (a pyplot figure returned from a cell is shown
  twice by the inline backend; a bare ``Figure`` not at all until pyplot is loaded).
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

__all__ = ["LifesimFigure", "subplots"]


class LifesimFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that shows itself as a PNG in notebooks."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()


def subplots(
    nrows: int = 1, ncols: int = 1, *, figsize: Any = None, **kwargs: Any
) -> tuple[LifesimFigure, Any]:
    """Return ``(figure, axes)`` as :func:`matplotlib.pyplot.subplots` does, without pyplot."""
    fig = LifesimFigure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)
