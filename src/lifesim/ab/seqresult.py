"""Result of a sequential analysis: every look, the decisions, text / table / dict / HTML / plot."""

from __future__ import annotations

import base64
import io
import math
from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any

import pandas as pd

from lifesim.ab.result import _encode, _fmt, _fmt_p

__all__ = ["Look", "Decision", "SequentialResult", "sequence_plot"]


@dataclass(frozen=True)
class Look:
    """One metric, one arm against control, at one look.

    Attributes
    ----------
    metric, kind, covariate, arm, control
        As in :class:`lifesim.ab.Comparison`.
    look : int
        1 for the first look.
    day : int, float or str
        The look's day (as in the time column; dates as ISO text); data up to this day.
    n_control, n_arm : int
        Units so far.
    control_value, arm_value, abs_effect, se : float
        Estimates so far (the metric kind's own analysis of the cumulative data).
    z : float
        ``abs_effect / se``.
    interval : (float, float)
        Always-valid: the confidence sequence at this look. Group-sequential: the repeated
        confidence interval ``abs_effect +- boundary * se``. Both hold at all looks at once.
    p_value, p_adjusted : float
        Always-valid p-value (running minimum over looks) and its adjustment over arms;
        NaN for the group-sequential design (decide by ``boundary``).
    log10_p_value : float
        log10 of ``p_value``.
    boundary : float
        Always-valid: the half-width in standard errors. Group-sequential: the ``|z|``
        boundary ``c_k``.
    information_fraction : float
        Group-sequential: units at the look over units at full information (NaN otherwise).
    fixed_horizon_p : float
        The naive fixed-horizon p-value at this look (invalid if used to stop: shown to
        compare).
    """

    metric: str
    kind: str
    covariate: str | None
    arm: str
    control: str
    look: int
    day: Any
    n_control: int
    n_arm: int
    control_value: float
    arm_value: float
    abs_effect: float
    se: float
    z: float
    interval: tuple[float, float]
    p_value: float
    p_adjusted: float
    log10_p_value: float
    boundary: float
    information_fraction: float
    fixed_horizon_p: float


@dataclass(frozen=True)
class Decision:
    """The verdict of one metric and arm over all looks.

    Attributes
    ----------
    metric, covariate, arm : str
        The comparison.
    decision : str
        ``'<arm> > <control>'``, ``'<arm> < <control>'`` or ``'no difference detected'``.
    first_day : int, float, str or None
        First look day whose interval excludes 0: the experiment could have stopped then.
    look : int or None
        Its look number.
    abs_effect : float
        Effect at that look (at the last look if none).
    interval : (float, float)
        Interval at that look (at the last look if none).
    t_star : float
        Always-valid: units at which the sequence is tightest; group-sequential: units at
        full information (both in the two arms compared).
    metric_method : str
        The per-look estimator, in words.
    """

    metric: str
    covariate: str | None
    arm: str
    decision: str
    first_day: Any
    look: int | None
    abs_effect: float
    interval: tuple[float, float]
    t_star: float
    metric_method: str


@dataclass(frozen=True)
class SequentialResult:
    """Sequential analysis of an experiment: every look, and the decision per comparison.

    Attributes
    ----------
    design : {'always-valid', 'group-sequential'}
        The method family.
    method : str
        The method, its formula and references.
    tuning : dict
        Always-valid: ``rho_squared_times_t_star`` and how ``t_star`` was chosen;
        group-sequential: the spending function. Both: ``alpha_per_comparison``.
    control : str
        Control label.
    alpha, alternative, correction
        As in :func:`lifesim.ab.sequential`.
    time_col : str
        The time column.
    look_days : tuple
        The days of the looks.
    looks : tuple of Look
        One per metric, arm and look.
    decisions : tuple of Decision
        One per metric and arm.
    n_last : dict of str to int
        Units per arm at the last look (last metric).
    warnings : tuple of str
        Caveats.
    """

    design: str
    method: str
    tuning: dict[str, Any]
    control: str
    alpha: float
    alternative: str
    correction: str
    time_col: str
    look_days: tuple[Any, ...]
    looks: tuple[Look, ...]
    decisions: tuple[Decision, ...]
    n_last: dict[str, int]
    warnings: tuple[str, ...] = field(default=())

    def to_pandas(self) -> pd.DataFrame:
        """One row per metric, arm and look; the interval split into ``low`` / ``high``."""
        rows = []
        for lk in self.looks:
            d = asdict(lk)
            d["interval_low"], d["interval_high"] = d.pop("interval")
            rows.append(d)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys (NaN as null, infinite bounds as 'inf'/'-inf')."""
        looks = []
        for lk in self.looks:
            d = asdict(lk)
            d["interval"] = list(lk.interval)
            looks.append(d)
        dec = []
        for x in self.decisions:
            d = asdict(x)
            d["interval"] = list(x.interval)
            dec.append(d)
        return _encode({
            "design": self.design, "method": self.method, "tuning": dict(self.tuning),
            "control": self.control, "alpha": self.alpha, "alternative": self.alternative,
            "correction": self.correction, "time_col": self.time_col,
            "look_days": list(self.look_days), "n_last": dict(self.n_last), "decisions": dec,
            "looks": looks, "warnings": list(self.warnings),
        })  # fmt: skip

    def summary(self) -> str:
        """Plain text: decisions, then the looks of each comparison, method and caveats."""
        level = f"{100 * (1 - self.alpha):g}%"
        kind = "confidence sequence" if self.design == "always-valid" else "repeated CI"
        out = [
            f"Sequential A/B analysis ({self.design}): {len(self.look_days)} looks on "
            f"{self.time_col} {self.look_days[0]!r}..{self.look_days[-1]!r}, control "
            f"{self.control!r}, alpha={self.alpha:g}, {self.alternative}",
            "",
            "Decisions:",
        ]
        for x in self.decisions:
            name = x.metric + (f" (CUPED: {x.covariate})" if x.covariate else "")
            when = f" from {self.time_col} {x.first_day!r} (look {x.look})" if x.look else ""
            out.append(
                f"  {name}, {x.arm}: {x.decision}{when}; effect {_fmt(x.abs_effect)} "
                f"[{_fmt(x.interval[0])}, {_fmt(x.interval[1])}]"
            )
        av = self.design == "always-valid"
        head = ["look", self.time_col, "n ctrl", "n arm", "effect", f"{level} {kind}",
                "always-valid p" if av else "|z|", "p adj" if av else "boundary",
                "fixed-horizon p"]  # fmt: skip
        for x in self.decisions:
            rows = [lk for lk in self.looks if (lk.metric, lk.arm) == (x.metric, x.arm)]
            out += ["", f"{x.metric}, {x.arm} vs {self.control}:"]
            table = [
                [str(r.look), str(r.day), f"{r.n_control:,}", f"{r.n_arm:,}", _fmt(r.abs_effect),
                 f"[{_fmt(r.interval[0])}, {_fmt(r.interval[1])}]",
                 _fmt_p(r.p_value, r.log10_p_value) if av else _fmt(abs(r.z), 3),
                 _fmt_p(r.p_adjusted) if av else _fmt(r.boundary, 4),
                 _fmt_p(r.fixed_horizon_p)]
                for r in rows
            ]  # fmt: skip
            widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
            out.append("  " + "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
            for t in table:
                out.append("  " + "  ".join(v.rjust(w) for v, w in zip(t, widths, strict=True)))
        out += ["", "Method: " + self.method, "Tuning: " + ", ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.tuning.items())]  # fmt: skip
        seen = {}
        for x in self.decisions:
            seen.setdefault(x.metric, x.metric_method)
        out += [f"  {k}: {v}" for k, v in seen.items()]
        out.append(
            "The fixed-horizon p is the naive test at each look: stopping at its first p < "
            "alpha inflates the false-positive rate; it is shown for comparison only."
        )
        if self.warnings:
            out += ["", "Warnings:"] + [f"  - {w}" for w in self.warnings]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, metric: str | None = None, arm: str | None = None, ax: Any = None) -> Any:
        """Draw the estimate and its interval over the looks (see :func:`sequence_plot`)."""
        return sequence_plot(self, metric=metric, arm=arm, ax=ax)

    def to_html(self, plot: bool = True, full_page: bool = False) -> str:
        """HTML: the summary as text and, if ``plot``, the sequence plots as PNG."""
        parts = [f"<pre>{escape(self.summary())}</pre>"]
        if plot:
            import matplotlib

            for x in self.decisions:
                with matplotlib.rc_context({"text.parse_math": False}):
                    fig = sequence_plot(self, metric=x.metric, arm=x.arm)
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=100)
                png = base64.b64encode(buf.getvalue()).decode("ascii")
                parts.append(f'<img alt="{escape(x.metric)} {escape(x.arm)}" '
                             f'src="data:image/png;base64,{png}"/>')  # fmt: skip
        body = "\n".join(parts)
        if not full_page:
            return f'<div class="lifesim-ab-sequential">{body}</div>'
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sequential A/B analysis'
            f"</title></head><body>{body}</body></html>\n"
        )

    def _repr_html_(self) -> str:
        return self.to_html(plot=False)


def sequence_plot(
    result: SequentialResult, metric: str | None = None, arm: str | None = None, ax: Any = None
) -> Any:
    """Draw one comparison's estimate with its interval at every look, and the decision day.

    Parameters
    ----------
    result : SequentialResult
        The analysis.
    metric, arm : str, optional
        The comparison (default: the first).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure, no pyplot backend needed).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    dec = next(
        (x for x in result.decisions if metric in (None, x.metric) and arm in (None, x.arm)),
        None,
    )
    if dec is None:
        raise ValueError(f"no comparison with metric={metric!r} and arm={arm!r}")
    rows = [lk for lk in result.looks if (lk.metric, lk.arm) == (dec.metric, dec.arm)]
    if ax is None:
        from lifesim._figure import LifesimFigure as Figure  # shown as a PNG in notebooks

        fig = Figure(figsize=(7.5, 3.6))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    xs = list(range(1, len(rows) + 1))
    lo = [r.interval[0] if math.isfinite(r.interval[0]) else math.nan for r in rows]
    hi = [r.interval[1] if math.isfinite(r.interval[1]) else math.nan for r in rows]
    ax.fill_between(xs, lo, hi, color="#90caf9", alpha=0.6, label="interval", step=None)
    ax.plot(xs, [r.abs_effect for r in rows], "o-", color="#1565c0", ms=3, label="estimate")
    if result.alternative == "two-sided":
        from scipy.stats import norm

        q = float(norm.isf(result.alpha / 2))
        for s in (-1, 1):
            label = "fixed-horizon CI (not valid for peeking)" if s < 0 else None
            band = [r.abs_effect + s * q * r.se for r in rows]
            ax.plot(xs, band, ":", color="#616161", lw=1, label=label)
    ax.axhline(0, color="#b00020", lw=1, ls="--")
    if dec.look:
        ax.axvline(dec.look, color="#2e7d32", lw=1, label=f"decision: {dec.decision}")
    step = max(1, len(rows) // 10)
    ax.set_xticks(xs[::step])
    ax.set_xticklabels([str(r.day) for r in rows][::step])
    ax.set_xlabel(result.time_col)
    ax.set_ylabel(f"{dec.arm} - {result.control}")
    kind = "confidence sequence" if result.design == "always-valid" else "repeated CI"
    ax.set_title(f"{dec.metric}: {100 * (1 - result.alpha):g}% {kind}")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
