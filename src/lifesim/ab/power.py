"""Power analysis: sample size for an MDE, power for a size, MDE for a size.

Normal approximations matching the tests of :func:`lifesim.ab.analyze`:

* proportion: two-proportion z-test with the pooled SE under H0 and the unpooled SE under H1
  (as ``statsmodels.stats.proportion.power_proportions_2indep``);
* mean: z approximation of Welch's t-test with a common per-unit standard deviation
  (as ``statsmodels.stats.power.NormalIndPower``).

CUPED enters as the expected variance reduction ``r``: every variance is multiplied by
``1 - r``. With several arms, each arm is compared with control at ``alpha / (arms - 1)``
for ``holm``, ``bonferroni`` and ``bh`` (exact for Bonferroni, conservative for the others),
and the reported power is that of the weakest comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from lifesim._limits import MAX_ARMS
from lifesim.ab.stats import ALTERNATIVES, CORRECTIONS
from lifesim.errors import LimitError

__all__ = ["PowerResult", "GroupSequentialSize", "power", "sample_size", "mde"]


@dataclass(frozen=True)
class GroupSequentialSize:
    """Sizes of a group-sequential design with the same alpha, power and MDE.

    Attributes
    ----------
    looks : int
        Equally spaced analyses (by units).
    spending : str
        Lan-DeMets spending function, ``'obf'`` or ``'pocock'``.
    boundaries : tuple of float
        ``|z|`` boundary at each look (efficacy only).
    inflation : float
        Maximum over fixed sample size, ``R``.
    n_max_per_arm : tuple of int
        Maximum units per arm (the fixed design's times ``R``, rounded up).
    n_max_total : int
        Their sum.
    expected_n_h1, expected_n_h0 : float
        Expected total units when the effect is the MDE, and when there is none.
    """

    looks: int
    spending: str
    boundaries: tuple[float, ...]
    inflation: float
    n_max_per_arm: tuple[int, ...]
    n_max_total: int
    expected_n_h1: float
    expected_n_h0: float


@dataclass(frozen=True)
class PowerResult:
    """Outcome of a power analysis.

    Attributes
    ----------
    kind : {'proportion', 'mean'}
        Metric type.
    solved_for : {'n', 'power', 'mde'}
        What was computed; the other two were given.
    n_per_arm : tuple of int
        Units per arm, control first (rounded up when solving for n).
    n_total : int
        Units in all arms.
    power : float
        Power of the weakest arm-vs-control comparison at these sizes.
    mde_abs, mde_rel : float
        Minimum detectable effect, absolute (``arm - control``) and relative to baseline.
    baseline : float
        Control proportion or mean.
    sd : float or None
        Per-unit standard deviation of a mean metric (before CUPED).
    alpha : float
        Family-wise significance level.
    alpha_per_comparison : float
        Level each comparison is tested at after the correction.
    alternative : str
        ``'two-sided'``, ``'greater'`` or ``'less'`` (H1 about arm - control).
    shares : tuple of float
        Share of units per arm, control first.
    correction : str
        Multiple-comparison adjustment planned for.
    variance_reduction : float
        Expected CUPED variance reduction ``r`` (variance multiplied by ``1 - r``).
    method : str
        The approximation, in words.
    group_sequential : GroupSequentialSize or None
        With ``looks``: maximum and expected sizes of the group-sequential design.
    """

    kind: str
    solved_for: str
    n_per_arm: tuple[int, ...]
    n_total: int
    power: float
    mde_abs: float
    mde_rel: float
    baseline: float
    sd: float | None
    alpha: float
    alpha_per_comparison: float
    alternative: str
    shares: tuple[float, ...]
    correction: str
    variance_reduction: float
    method: str
    group_sequential: GroupSequentialSize | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return every field as a JSON-ready dict."""
        d = asdict(self)
        d["n_per_arm"], d["shares"] = list(self.n_per_arm), list(self.shares)
        return d  # group_sequential: a dict (asdict) or None

    def to_pandas(self) -> pd.DataFrame:
        """One row per arm: share and units, with the shared figures repeated."""
        rows = []
        for i, (n, s) in enumerate(zip(self.n_per_arm, self.shares, strict=True)):
            rows.append({"arm": "control" if i == 0 else f"arm {i}", "share": s, "n": n})
        df = pd.DataFrame(rows)
        for k in ("power", "mde_abs", "mde_rel", "alpha_per_comparison"):
            df[k] = getattr(self, k)
        return df

    def summary(self) -> str:
        """Plain-text report stating every assumption."""
        arms = len(self.n_per_arm)
        sizes = ", ".join(f"{n:,}" for n in self.n_per_arm)
        sd = f", sd={self.sd:g}" if self.sd is not None else ""
        return "\n".join(
            [
                f"Power analysis ({self.kind}, solved for {self.solved_for}): baseline "
                f"{self.baseline:g}{sd}",
                f"  units per arm (control first): {sizes}  (total {self.n_total:,})",
                f"  power: {self.power:.4f}  (weakest of {arms - 1} arm-vs-control comparisons)",
                f"  minimum detectable effect: {self.mde_abs:+.4g} absolute, "
                f"{100 * self.mde_rel:+.3g}% relative",
                f"  alpha {self.alpha:g} {self.alternative}, correction {self.correction}: "
                f"each comparison at {self.alpha_per_comparison:.4g}"
                + (
                    " (Holm's strictest step, alpha / comparisons: conservative)"
                    if self.correction == "holm" and arms > 2
                    else ""
                ),
                f"  split {', '.join(f'{100 * s:.4g}%' for s in self.shares)}; CUPED variance "
                f"reduction {100 * self.variance_reduction:.3g}%",
                f"  method: {self.method}",
            ]
            + self._gs_lines()
        )

    def _gs_lines(self) -> list[str]:
        g = self.group_sequential
        if g is None:
            return []
        return [
            f"Group-sequential ({g.looks} equally spaced looks, Lan-DeMets {g.spending} "
            "spending, efficacy only):",
            f"  boundaries |z|: {', '.join(f'{c:.4f}' for c in g.boundaries)}",
            f"  maximum units per arm: {', '.join(f'{n:,}' for n in g.n_max_per_arm)}  (total "
            f"{g.n_max_total:,}; {g.inflation:.4f} x the fixed design)",
            f"  expected total units: {g.expected_n_h1:,.0f} if the effect is the MDE, "
            f"{g.expected_n_h0:,.0f} if there is none",
        ]

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from html import escape

        return "<pre>" + escape(self.summary()) + "</pre>"


def _shares(split: Sequence[float] | None, arms: int) -> np.ndarray:
    if split is None:
        return np.full(arms, 1.0 / arms)
    w = np.asarray(list(split), dtype=float)
    if w.size != arms:
        raise ValueError(f"split has {w.size} shares, but arms == {arms}")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"split == {w.tolist()}, every share must be > 0")
    return w / w.sum()


def _power_one(
    kind: str,
    delta: float,
    baseline: float,
    sd: float | None,
    n_c: float,
    n_a: float,
    alpha: float,
    alternative: str,
    vr: float,
) -> float:
    """Power of one comparison; ``delta`` is the effect in the direction of H1."""
    k = math.sqrt(1.0 - vr)
    if kind == "mean":
        se0 = se1 = k * sd * math.sqrt(1 / n_c + 1 / n_a)
    else:
        p1 = baseline + delta
        pbar = (n_c * baseline + n_a * p1) / (n_c + n_a)
        se0 = k * math.sqrt(pbar * (1 - pbar) * (1 / n_c + 1 / n_a))
        se1 = k * math.sqrt(baseline * (1 - baseline) / n_c + p1 * (1 - p1) / n_a)
    d = abs(delta)
    if alternative == "two-sided":
        z = stats.norm.isf(alpha / 2)
        return float(stats.norm.sf((z * se0 - d) / se1) + stats.norm.cdf((-z * se0 - d) / se1))
    z = stats.norm.isf(alpha)
    return float(stats.norm.sf((z * se0 - d) / se1))


def _check_args(
    kind: str,
    baseline: float,
    sd: float | None,
    mde: float | None,
    n_total: int | None,
    power: float | None,
    alpha: float,
    alternative: str,
    arms: int,
    correction: str,
    variance_reduction: float,
) -> None:
    """Refuse arguments :func:`power` cannot use, naming the value and what is allowed."""
    if kind not in ("proportion", "mean"):
        raise ValueError(f"kind == {kind!r}, must be 'proportion' or 'mean'")
    if alternative not in ALTERNATIVES:
        allowed = ", ".join(ALTERNATIVES)
        raise ValueError(f"alternative == {alternative!r}, must be one of {allowed}")
    if correction not in CORRECTIONS:
        raise ValueError(f"correction == {correction!r}, must be one of {', '.join(CORRECTIONS)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha == {alpha!r}, must be in (0, 1)")
    if not 0 <= variance_reduction < 1:
        raise ValueError(f"variance_reduction == {variance_reduction!r}, must be in [0, 1)")
    if arms < 2:
        raise ValueError(f"arms == {arms!r}, must be >= 2 (control and at least one arm)")
    if arms > MAX_ARMS:
        raise LimitError(f"arms == {arms!r}, must be <= {MAX_ARMS} (control included)")
    if kind == "proportion" and not 0 < baseline < 1:
        raise ValueError(f"baseline == {baseline!r}, a proportion must be in (0, 1)")
    if kind == "mean" and (sd is None or not sd > 0):
        raise ValueError(f"sd == {sd!r}, a mean metric needs a standard deviation > 0")
    given = [x is not None for x in (mde, n_total, power)]
    if all(given):
        raise ValueError("mde, n_total and power are all given; leave out the one to solve for")
    if mde is None and n_total is None:
        raise ValueError("give mde (to get the sample size) or n_total (to get the MDE)")
    if power is not None and not 0 < power < 1:
        raise ValueError(f"power == {power!r}, must be in (0, 1)")


def _worst(
    kind: str, d: float, baseline: float, sd: float | None, n_arm: Sequence[float],
    alpha: float, alternative: str, sign: float, vr: float,
) -> float:  # fmt: skip
    """Power of the weakest arm-vs-control comparison for effect ``d`` and sizes ``n_arm``."""
    return min(
        _power_one(kind, sign * d, baseline, sd, n_arm[0], n_arm[i], alpha, alternative, vr)
        for i in range(1, len(n_arm))
    )


def _solve_n(
    kind: str, delta: float, baseline: float, sd: float | None, w: np.ndarray, alpha: float,
    alternative: str, sign: float, vr: float, target: float,
) -> tuple[int, ...]:  # fmt: skip
    """Units per arm (rounded up) for power ``target`` at effect ``delta`` and shares ``w``."""

    def pw(n: float) -> float:
        return _worst(kind, delta, baseline, sd, n * w, alpha, alternative, sign, vr)

    if pw(1e12) < target:
        raise ValueError(f"power {target} is out of reach even with 1e12 units")
    lo = 2.0 / w.min()
    n = lo if pw(lo) >= target else optimize.brentq(lambda x: pw(x) - target, lo, 1e12, xtol=1e-6)
    return tuple(int(math.ceil(n * s - 1e-9)) for s in w)


def _solve_mde(
    kind: str, baseline: float, sd: float | None, n_arm: Sequence[int], alpha: float,
    alternative: str, sign: float, vr: float, target: float,
) -> float:  # fmt: skip
    """Smallest effect (in the direction of H1) detected with power ``target``."""

    def pw(d: float) -> float:
        return _worst(kind, d, baseline, sd, n_arm, alpha, alternative, sign, vr)

    hi = (1 - baseline if sign > 0 else baseline) - 1e-12 if kind == "proportion" else 1.0
    if kind == "mean":
        while pw(hi * sd) < target:
            hi *= 2
        hi *= sd
    if pw(hi) < target:
        raise ValueError(f"power {target} is out of reach with {sum(n_arm):,} units")
    return float(optimize.brentq(lambda d: pw(d) - target, 1e-15, hi, xtol=1e-14))


def power(
    kind: str = "proportion",
    *,
    baseline: float,
    sd: float | None = None,
    mde: float | None = None,
    relative: bool = False,
    n_total: int | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    arms: int = 2,
    split: Sequence[float] | None = None,
    correction: str = "holm",
    variance_reduction: float = 0.0,
    looks: int | None = None,
    spending: str = "obf",
) -> PowerResult:
    """Solve a power analysis for the one of size, MDE or power that is not given.

    Give ``mde`` (and optionally ``power``, default 0.8) to get the sample size; ``n_total``
    (and ``power``) to get the MDE; ``mde`` and ``n_total`` to get the power.

    Parameters
    ----------
    kind : {'proportion', 'mean'}
        Metric type.
    baseline : float
        Control proportion (in (0, 1)) or control mean.
    sd : float, optional
        Per-unit standard deviation (required for a mean).
    mde : float, optional
        Effect to detect, ``arm - control``, in the direction of H1 (absolute, or relative to
        the baseline if ``relative``).
    relative : bool, default False
        ``mde`` is relative (0.05 = +5%).
    n_total : int, optional
        Units in all arms together.
    power : float, optional
        Target power (default 0.8 when solving for n or MDE).
    alpha : float, default 0.05
        Family-wise significance level.
    alternative : {'two-sided', 'greater', 'less'}, default 'two-sided'
        H1 about ``arm - control``.
    arms : int, default 2
        Number of arms including control.
    split : sequence of float, optional
        Shares of the arms, control first (default equal).
    correction : {'holm', 'bonferroni', 'bh', 'none'}, default 'holm'
        Adjustment planned for; all but ``none`` test at ``alpha / (arms - 1)``.
    variance_reduction : float, default 0
        Expected CUPED variance reduction in [0, 1).
    looks : int, optional
        Also size a group-sequential design with this many equally spaced looks (needs
        ``mde`` and no ``n_total``): maximum and expected sample sizes.
    spending : {'obf', 'pocock'}, default 'obf'
        Lan-DeMets spending function of that design.

    Returns
    -------
    PowerResult
        Sizes per arm, power and MDE, with the assumptions.

    Examples
    --------
    >>> from lifesim import ab
    >>> r = ab.power("proportion", baseline=0.10, mde=0.01)  # +1 point from 10%
    >>> r.n_per_arm, round(r.power, 3)
    ((14751, 14751), 0.8)
    >>> round(ab.power("mean", baseline=50.0, sd=20.0, n_total=2000).mde_abs, 4)
    2.5058
    """
    _check_args(kind, baseline, sd, mde, n_total, power, alpha, alternative, arms,
                correction, variance_reduction)  # fmt: skip
    w = _shares(split, arms)
    a1 = alpha / (arms - 1) if correction != "none" and arms > 2 else alpha
    sign = -1.0 if alternative == "less" else 1.0
    delta = None
    if mde is not None:
        if mde == 0:
            raise ValueError("mde == 0, must be non-zero")
        delta = abs(mde * baseline if relative else mde)
        if kind == "proportion" and not 0 < baseline + sign * delta < 1:
            raise ValueError(f"mde == {mde!r} moves the proportion {baseline:g} outside (0, 1)")

    target = 0.8 if power is None else power
    if n_total is None:
        solved, n_arm = "n", _solve_n(kind, delta, baseline, sd, w, a1, alternative, sign,
                                      variance_reduction, target)  # fmt: skip
    else:
        n_arm = tuple(int(round(n_total * s)) for s in w)
        if min(n_arm) < 2:
            raise ValueError(f"n_total == {n_total!r} leaves fewer than 2 units in an arm")
        solved = "power" if delta is not None else "mde"
    nt = int(sum(n_arm))

    if delta is None:
        delta = _solve_mde(kind, baseline, sd, n_arm, a1, alternative, sign,
                           variance_reduction, target)  # fmt: skip
    pw = _worst(kind, delta, baseline, sd, n_arm, a1, alternative, sign, variance_reduction)
    if kind == "proportion":
        method = (
            "two-proportion z-test, pooled SE under H0 and unpooled under H1 (normal "
            "approximation, as statsmodels power_proportions_2indep)"
        )
    else:
        method = "z approximation of Welch's t-test, common per-unit sd (as NormalIndPower)"
    if variance_reduction:
        method += f"; variances times (1 - {variance_reduction:g}) for CUPED"
    gs = None
    if looks is not None:
        gs = _group_sequential(looks, spending, solved, n_arm, a1, target, alternative)
    return PowerResult(
        kind=kind,
        solved_for=solved,
        n_per_arm=n_arm,
        n_total=nt,
        power=pw,
        mde_abs=sign * delta,
        mde_rel=sign * delta / baseline if baseline else math.nan,
        baseline=baseline,
        sd=sd,
        alpha=alpha,
        alpha_per_comparison=a1,
        alternative=alternative,
        shares=tuple(float(s) for s in w),
        correction=correction,
        variance_reduction=variance_reduction,
        method=method,
        group_sequential=gs,
    )


def _group_sequential(
    looks: int, spending: str, solved: str, n_arm: Sequence[int], alpha: float, target: float,
    alternative: str,
) -> GroupSequentialSize:  # fmt: skip
    """Scale the fixed design's sizes by the inflation factor of ``looks`` analyses."""
    from lifesim.ab.gsd import SPENDING, gsd_plan

    if solved != "n":
        raise ValueError(
            f"looks == {looks!r} sizes a group-sequential design for an MDE: give mde and "
            "leave out n_total"
        )
    if isinstance(looks, bool) or int(looks) != looks or not 2 <= looks <= 100:
        raise ValueError(f"looks == {looks!r}, must be an integer from 2 to 100")
    if spending not in SPENDING:
        raise ValueError(f"spending == {spending!r}, must be one of {', '.join(SPENDING)}")
    plan = gsd_plan(int(looks), alpha, target, spending, alternative)
    n_max = tuple(int(math.ceil(n * plan.inflation - 1e-9)) for n in n_arm)
    fixed = float(sum(n_arm))
    return GroupSequentialSize(
        looks=int(looks), spending=spending, boundaries=plan.boundaries,
        inflation=plan.inflation, n_max_per_arm=n_max, n_max_total=int(sum(n_max)),
        expected_n_h1=fixed * plan.expected_h1, expected_n_h0=fixed * plan.expected_h0,
    )  # fmt: skip


def sample_size(kind: str = "proportion", **kwargs: Any) -> PowerResult:
    """Units needed to detect ``mde`` with ``power`` (default 0.8); see :func:`power`."""
    if kwargs.get("mde") is None:
        raise ValueError("sample_size needs mde")
    kwargs.pop("n_total", None)
    return power(kind, **kwargs)


def mde(kind: str = "proportion", **kwargs: Any) -> PowerResult:
    """Minimum detectable effect with ``n_total`` units at ``power``; see :func:`power`."""
    if kwargs.get("n_total") is None:
        raise ValueError("mde needs n_total")
    kwargs.pop("mde", None)
    return power(kind, **kwargs)
