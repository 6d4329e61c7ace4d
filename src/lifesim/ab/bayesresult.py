"""Result of a Bayesian read-out: one posterior per metric and arm; text / table / dict / HTML."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any

import pandas as pd

from lifesim.ab.html import _CSS
from lifesim.ab.result import SRMCheck, _encode, _fmt, _fmt_p

__all__ = ["Posterior", "BayesResult", "CONVENTIONS"]


@dataclass(frozen=True)
class Posterior:
    """One metric, one arm against control: the posterior of the effect ``arm - control``.

    Attributes
    ----------
    metric, kind, covariate, arm, control
        As in :class:`lifesim.ab.Comparison`.
    control_value, arm_value : float
        Posterior means per arm (proportions); point estimates (other kinds).
    effect : float
        Posterior mean of ``arm - control`` (exact).
    effect_sd : float
        Posterior standard deviation of the effect (exact).
    ci : (float, float)
        Equal-tailed credible interval of level ``1 - alpha``.
    rel_effect : float
        Posterior mean of ``arm / control - 1`` (proportions; NaN for other kinds).
    rel_ci : (float, float)
        Its credible interval (proportions; NaN otherwise).
    prob_beat_control : float
        Posterior probability that ``arm > control``.
    expected_loss : float
        Expected loss of shipping the arm, ``E[max(control - arm, 0)]`` (metric units).
    expected_loss_control : float
        Expected loss of keeping control, ``E[max(arm - control, 0)]``.
    prior : str
        The prior, in words.
    posterior : str
        The posterior, in words (``Beta(a, b)`` per arm or ``Normal(mean, sd)``).
    n_control, n_arm : int
        Units used.
    draws : int
        Monte Carlo draws per arm (0: closed form).
    mc_se_prob, mc_se_loss, mc_se_ci : float
        Monte Carlo standard errors of ``prob_beat_control``, of the expected losses (the
        larger) and of the interval bounds (0 in closed form).
    method : str
        The model, in words.
    """

    metric: str
    kind: str
    covariate: str | None
    arm: str
    control: str
    control_value: float
    arm_value: float
    effect: float
    effect_sd: float
    ci: tuple[float, float]
    rel_effect: float
    rel_ci: tuple[float, float]
    prob_beat_control: float
    expected_loss: float
    expected_loss_control: float
    prior: str
    posterior: str
    n_control: int
    n_arm: int
    draws: int
    mc_se_prob: float
    mc_se_loss: float
    mc_se_ci: float
    method: str


#: What every Bayesian read-out assumes, in words (also in ``to_dict()['conventions']``).
CONVENTIONS = (
    "effect = arm - control, higher is better. Proportions: Beta(a, b) prior on each arm's "
    "share (default Beta(1, 1), uniform), conjugate Beta posterior; the difference by Monte "
    "Carlo with a fixed seed (mc_se_* are its standard errors). Means, ratios, CUPED: normal "
    "likelihood from the estimate and its SE (as `analyze`), normal prior on the effect "
    "(default: unit-information N(0, sigma^2), sigma = per-unit SD of the metric, i.e. the "
    "information of about one unit), closed-form normal posterior. Credible intervals are "
    "equal-tailed, level 1 - alpha. expected_loss: E[max(control - arm, 0)] if the arm is "
    "shipped; expected_loss_control: E[max(arm - control, 0)] if control is kept."
)


@dataclass(frozen=True)
class BayesResult:
    """Bayesian read-out of an experiment: one posterior per metric and arm.

    Attributes
    ----------
    n : dict of str to int
        Units per arm, control first.
    control : str
        Control label.
    alpha : float
        Credible intervals have level ``1 - alpha``.
    posteriors : tuple of Posterior
        One per metric and arm.
    draws : int
        Monte Carlo draws per arm for proportions.
    warnings : tuple of str
        Caveats: sample ratio mismatch, small samples, dropped rows, missing posteriors.
    srm : SRMCheck, optional
        Sample-ratio check (as in :func:`lifesim.ab.analyze`).
    """

    n: dict[str, int]
    control: str
    alpha: float
    posteriors: tuple[Posterior, ...]
    draws: int
    warnings: tuple[str, ...] = field(default=())
    srm: SRMCheck | None = None

    def to_pandas(self) -> pd.DataFrame:
        """One row per metric and arm; intervals split into ``*_low`` / ``*_high``."""
        rows = []
        for p in self.posteriors:
            d: dict[str, Any] = {}
            for k, v in asdict(p).items():
                if k in ("ci", "rel_ci"):
                    d[k + "_low"], d[k + "_high"] = v
                else:
                    d[k] = v
            rows.append(d)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys (NaN as null)."""
        posts = []
        for p in self.posteriors:
            d = asdict(p)
            d["ci"], d["rel_ci"] = list(p.ci), list(p.rel_ci)
            posts.append(d)
        return _encode({
            "n": dict(self.n), "control": self.control, "alpha": self.alpha,
            "credible_level": 1 - self.alpha, "draws": self.draws, "posteriors": posts,
            "srm": asdict(self.srm) if self.srm else None, "warnings": list(self.warnings),
            "conventions": CONVENTIONS,
        })  # fmt: skip

    def _table(self) -> tuple[list[str], list[list[str]]]:
        level = f"{100 * (1 - self.alpha):g}%"
        head = ["metric", "arm", "effect (post. mean)", f"{level} credible interval",
                "P(arm > control)", "loss if shipped", "loss if control kept"]  # fmt: skip
        rows = []
        for p in self.posteriors:
            pm = f" +- {p.mc_se_prob:.1g}" if p.draws else ""
            rows.append([
                p.metric + (f" (CUPED: {p.covariate})" if p.covariate else ""), p.arm,
                _fmt(p.effect), f"[{_fmt(p.ci[0])}, {_fmt(p.ci[1])}]",
                f"{p.prob_beat_control:.4f}{pm}", _fmt(p.expected_loss, 3),
                _fmt(p.expected_loss_control, 3),
            ])  # fmt: skip
        return head, rows

    def summary(self) -> str:
        """Plain text: table, priors and posteriors, method, Monte Carlo error, caveats."""
        head, rows = self._table()
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
        out = [
            f"Bayesian A/B read-out: {len(self.n)} arms, control {self.control!r}, units "
            + ", ".join(f"{k}={v:,}" for k, v in self.n.items()),
            "",
            line,
            "-" * len(line),
        ]
        if self.srm is not None:
            s = self.srm
            verdict = "MISMATCH: do not trust the results" if s.mismatch else "ok"
            out.insert(1, f"SRM check: p={_fmt_p(s.p_value, s.log10_p_value)} (flag if p < "
                       f"{s.threshold:g}) -> {verdict}")  # fmt: skip
        out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        out += ["", "Priors and posteriors:"]
        for p in self.posteriors:
            out.append(f"  {p.metric} ({p.arm}): prior {p.prior}; posterior {p.posterior}")
            if p.draws:
                out.append(
                    f"    Monte Carlo ({p.draws:,} draws per arm): s.e. {p.mc_se_prob:.1g} on "
                    f"P(beat), {p.mc_se_loss:.1g} on the losses, {p.mc_se_ci:.1g} on the CI"
                )
        out += ["", "Methods:"]
        out += [f"  {m}: {d}" for m, d in {p.metric: p.method for p in self.posteriors}.items()]
        out += ["", "Conventions: " + CONVENTIONS]
        if self.warnings:
            out += ["", "Warnings:"] + [f"  - {w}" for w in self.warnings]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.summary()

    def to_html(self, plot: bool = False, full_page: bool = False) -> str:
        """Render an HTML table with the priors and caveats (``plot`` is accepted, unused)."""
        head, rows = self._table()
        th = "".join(f"<th>{escape(h)}</th>" for h in head)
        trs = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in r) + "</tr>" for r in rows)
        notes = "".join(f"<li>{escape(p.metric)} ({escape(p.arm)}): prior {escape(p.prior)}; "
                        f"{escape(p.method)}</li>" for p in self.posteriors)  # fmt: skip
        warn = "".join(f"<li>{escape(w)}</li>" for w in self.warnings)
        body = (
            f'<table class="lifesim-ab"><tr>{th}</tr>{trs}</table><ul class="small">{notes}</ul>'
            + (f"<p><b>Warnings</b></p><ul>{warn}</ul>" if warn else "")
            + f'<p class="small">{escape(CONVENTIONS)}</p>'
        )
        if not full_page:
            return f'<div class="lifesim-ab-bayes">{body}</div>'
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Bayesian A/B read-out'
            f"</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
        )

    def _repr_html_(self) -> str:
        return self.to_html()
