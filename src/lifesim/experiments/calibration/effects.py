"""Tactic effects measured by experiments, instead of the catalogue's guesses.

``--effect TACTIC=RESULT.json`` reads what ``lifesim ab analyze --format json`` wrote and sets
the tactic's factor on its move to ``1 + relative effect`` of the measured metric, with the
uncertainty of the relative CI carried into the draws (normal on the log factor, its standard
error from the CI's width: ``(log(1 + hi) - log(1 + lo)) / (2 x 1.96)``). The measured lift is
read as the factor on the move's daily probability while a contact works: right when the
experiment measured that move in the same units and window, an approximation otherwise (it is
said in the tactic's ``source``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special

from lifesim.config import Scenario
from lifesim.errors import ConfigError, DataError

__all__ = ["MeasuredEffect", "read_effect"]


@dataclass(frozen=True)
class MeasuredEffect:
    """A tactic's factor on one move, measured by an A/B test."""

    tactic: str
    move: str
    factor: float
    log_se: float
    lower: float
    upper: float
    source: str

    @property
    def path(self) -> str:
        """Scenario key path of the factor."""
        return f"tactics.{self.tactic}.effect.{self.move}"

    def draws(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` factors from the normal of the log factor."""
        return np.exp(math.log(self.factor) + self.log_se * rng.standard_normal(n))


def _pick(results: list[dict], metric: str | None, where: str) -> dict:
    if metric is not None:
        hits = [r for r in results if r.get("metric") == metric]
        if not hits:
            known = ", ".join(sorted({str(r.get("metric")) for r in results}))
            raise DataError(f"{where}: no metric {metric!r} in the result; metrics: {known}")
        results = hits
    if len(results) != 1:
        names = ", ".join(f"{r.get('metric')} ({r.get('arm')})" for r in results)
        raise DataError(
            f"{where}: the result has {len(results)} effects ({names}); name one as "
            "FILE:METRIC (and one arm per file)"
        )
    return results[0]


def read_effect(spec: str, scn: Scenario) -> MeasuredEffect:
    """Parse ``TACTIC[.SRC->DST]=FILE[:METRIC]`` and read the measured effect.

    Raises
    ------
    ConfigError
        An unknown tactic or move, or a move that must be named.
    DataError
        A file that is not an ``ab analyze`` JSON result, or an undefined relative effect.
    """
    key, sep, rest = spec.partition("=")
    if not sep or not key or not rest:
        raise ConfigError(
            [("--effect", f"{spec!r}: write TACTIC=RESULT.json or TACTIC.SRC->DST=RESULT.json")]
        )
    tactic, _, move = key.partition(".")
    if tactic not in scn.tactics:
        raise ConfigError(
            [("--effect", f"unknown tactic {tactic!r}; known: {', '.join(scn.tactics)}")]
        )
    t = scn.tactics[tactic]
    if not move:
        if len(t.effect) != 1:
            raise ConfigError(
                [
                    (
                        "--effect",
                        f"{tactic} has {len(t.effect)} move effects "
                        f"({', '.join(t.effect) or 'none'}); name the move: "
                        f"--effect {tactic}.SRC->DST={rest}",
                    )
                ]
            )
        move = next(iter(t.effect))
    src, arrow, dst = move.partition("->")
    if not arrow or src not in scn.stages or dst not in scn.stages[src].to:
        moves = [f"{a}->{b}" for a, st in scn.stages.items() for b in st.to]
        raise ConfigError([("--effect", f"no move {move!r}; moves: {', '.join(moves)}")])
    path, _, metric = rest.partition(":")
    where = f"--effect {path}"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{where}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: not a JSON file ({exc})") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or not results or "rel_ci" not in results[0]:
        raise DataError(
            f"{where}: not a result of 'lifesim ab analyze --format json' (no 'results' list "
            "with rel_effect and rel_ci)"
        )
    r = _pick(results, metric or None, where)
    rel, ci = r.get("rel_effect"), r.get("rel_ci") or [None, None]

    def num(v: object) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

    if not (isinstance(ci, list) and len(ci) == 2 and all(map(num, [rel, *ci]))) or not (
        -1 < ci[0] <= ci[1] and rel > -1
    ):
        raise DataError(
            f"{where}: the relative effect of {r.get('metric')!r} is undefined or its interval "
            f"reaches -100% (rel_effect {rel!r}, rel_ci {ci!r}); a factor needs finite numbers "
            "with -1 < lower <= upper and effect > -1"
        )
    level = data.get("confidence_level", 0.95)
    if not num(level) or not 0 < level < 1:
        raise DataError(f"{where}: confidence_level {level!r}; allowed: a number in (0, 1)")
    level = float(level)
    z = float(special.ndtri(0.5 + level / 2))
    lo, hi = 1 + float(ci[0]), 1 + float(ci[1])
    se = (math.log(hi) - math.log(lo)) / (2 * z)
    note = (
        f"measured: {Path(path).name} ({r.get('metric')}, {r.get('arm')} vs {r.get('control')}: "
        f"relative effect {rel:+.1%} [{ci[0]:+.1%}, {ci[1]:+.1%}]), read as the factor on "
        f"{move} while a contact works"
    )
    return MeasuredEffect(tactic, move, 1 + float(rel), se, lo, hi, note)
