"""Where does the verdict flip? A sweep of scenario assumptions with common random numbers.

:func:`sweep` runs every strategy at every point of a design over scenario values given by key
path (a grid, or a Latin-hypercube / Sobol sample of ranges), with the same replication seeds
at every point and for every strategy, so differences between points and strategies are not
noise. For a pair of strategies ``a - b`` (default: the last two compared) it reports the
paired difference on the objective at every point with its CI, the winner per point, where a
1-D sweep's verdict flips (the crossing of the difference by linear interpolation between the
two grid points around it, with the crossings of its CI bounds as the interval), a tornado of
the difference at each parameter's low and high end, and for sampled designs global
sensitivity indices (SALib's RBD-FAST first-order indices, with bootstrap CIs).

A sweep written to a folder keeps each finished point as a Parquet file in ``<out>.partial/``
while it runs; ``resume=True`` continues an interrupted sweep without recomputing finished
points and gives identical results. The run folder itself appears only when every point is
done.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from lifesim._checks import check_int, check_jobs
from lifesim._io import atomic_dir, check_out_dir
from lifesim._limits import MAX_REPLICATIONS, MAX_SWEEP_POINTS
from lifesim._progress import ProgressLike, as_progress
from lifesim._random import SeedLike, as_seed_sequence, spawn_seeds, stream
from lifesim.config import Range, Scenario, ScenarioLike, load_scenario, override, parse_range
from lifesim.errors import ConfigError
from lifesim.experiments.compare import _parse_strategies
from lifesim.experiments.stats import paired_diff
from lifesim.experiments.uncertainty import metrics_of
from lifesim.metrics import METRICS
from lifesim.model import check_trust, trusted

__all__ = ["sweep", "SweepResult"]

DESIGNS = ("grid", "lhs", "sobol")
_SPEC = "sweep-spec.json"


@dataclass(frozen=True, eq=False)
class SweepResult:
    """A sweep's points, runs and verdicts (see the module docstring).

    Attributes
    ----------
    params : list of str
        Varied key paths.
    design : str
    strategies : tuple of str
    pair : (str, str)
        The difference reported is ``pair[0] - pair[1]``.
    objective : str
    replications : int
    points : DataFrame
        One row per point: ``point`` and the value of each varied path.
    runs : DataFrame
        One row per (point, replication, strategy): every metric.
    table : DataFrame
        Per point: each strategy's mean objective, the paired difference of the pair with
        its CI and p-value, and the winner (best mean objective).
    flips : DataFrame
        1-D sweeps: where the pair's difference changes sign (value, interval).
    tornado : DataFrame
        Per parameter: the difference at its low and high end (mean over the points there).
    sensitivity : DataFrame or None
        Sampled designs: first-order indices (RBD-FAST) of the difference with 95% CIs.
    seed : int
    alpha : float
    elapsed_s : float
    """

    params: list[str]
    design: str
    strategies: tuple[str, ...]
    pair: tuple[str, str]
    objective: str
    replications: int
    points: pd.DataFrame
    runs: pd.DataFrame
    table: pd.DataFrame
    flips: pd.DataFrame
    tornado: pd.DataFrame
    sensitivity: pd.DataFrame | None
    seed: int
    alpha: float
    elapsed_s: float

    @property
    def conventions(self) -> list[str]:
        """The statistical conventions of the output."""
        level = round(100 * (1 - self.alpha))
        out = [
            f"common random numbers: the same {self.replications} replication seeds at every "
            "point and for every strategy",
            f"difference {self.pair[0]} - {self.pair[1]} on {self.objective}: paired over "
            f"replications, {level}% t-interval, unadjusted over points",
            "winner: best mean objective at the point (not a significance claim)",
        ]
        if len(self.params) == 1:
            out.append(
                "flip: linear interpolation of the difference between the two grid points around "
                "a sign change; its interval is where the CI bounds cross zero"
            )
        out.append(
            "tornado: mean difference over the points at each parameter's lowest and "
            "highest value (sampled designs: lowest and highest fifth)"
        )
        if self.sensitivity is not None:
            out.append(
                "sensitivity: SALib RBD-FAST first-order indices of the difference, "
                "95% bootstrap CIs"
            )
        return out

    def to_pandas(self) -> pd.DataFrame:
        """Return the per-point table."""
        return self.table.copy()

    def summary(self) -> str:
        """Text: winner and difference per point, flips, tornado, sensitivity."""
        a, b = self.pair
        lines = [
            f"lifesim sweep: {len(self.points)} points ({self.design}) of "
            f"{', '.join(self.params)}; {', '.join(self.strategies)}; {self.replications} "
            f"replications; objective {self.objective}",
            "",
            f"{'point':>5}  {'values':<40}{'winner':>16}  {a + ' - ' + b:>24} [95% CI]",
        ]
        for r in self.table.itertuples():
            vals = ", ".join(f"{_short(p)}={_fmt(getattr(r, _col(p)))}" for p in self.params)
            lines.append(
                f"{r.point:>5}  {vals[:40]:<40}{r.winner[:16]:>16}  {r.diff:>14,.0f} "
                f"[{r.ci_low:,.0f}, {r.ci_high:,.0f}]"
            )
        if len(self.params) == 1:
            lines.append("")
            if len(self.flips):
                for f in self.flips.itertuples():
                    lines.append(
                        f"verdict flips at {self.params[0]} = {_fmt(f.value)} (interval "
                        f"{_fmt(f.low)} to {_fmt(f.high)}): {f.before} -> {f.after}"
                    )
            else:
                lines.append(f"the sign of {a} - {b} does not change over the range")
        lines += ["", f"tornado ({a} - {b} at each parameter's low / high end):"]
        for r in self.tornado.itertuples():
            lines.append(f"  {r.param:<50} {r.at_low:>12,.0f} {r.at_high:>12,.0f}")
        if self.sensitivity is not None:
            lines += ["", "sensitivity (first-order, RBD-FAST):"]
            for r in self.sensitivity.itertuples():
                lines.append(f"  {r.param:<50} {r.S1:6.3f} [{r.low:.3f}, {r.high:.3f}]")
        lines += ["", "conventions:", *[f"  - {c}" for c in self.conventions]]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""

        def rec(df: pd.DataFrame | None) -> list[dict[str, Any]] | None:
            if df is None:
                return None
            return json.loads(df.to_json(orient="records"))

        return {
            "params": self.params,
            "design": self.design,
            "strategies": list(self.strategies),
            "pair": list(self.pair),
            "objective": self.objective,
            "replications": self.replications,
            "seed": self.seed,
            "points": rec(self.table),
            "flips": rec(self.flips),
            "tornado": rec(self.tornado),
            "sensitivity": rec(self.sensitivity),
            "conventions": self.conventions,
        }

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.summary()) + "</pre>"

    def save_tables(self, folder: Path) -> None:
        """Write the tables, JSON and summary into ``folder``."""
        self.points.to_parquet(folder / "points.parquet", index=False)
        self.runs.to_parquet(folder / "runs.parquet", index=False)
        self.table.to_csv(folder / "table.csv", index=False)
        self.flips.to_csv(folder / "flips.csv", index=False)
        self.tornado.to_csv(folder / "tornado.csv", index=False)
        if self.sensitivity is not None:
            self.sensitivity.to_csv(folder / "sensitivity.csv", index=False)
        (folder / "result.json").write_text(json.dumps(self.to_dict(), indent=2), "utf-8")
        (folder / "summary.txt").write_text(self.summary() + "\n", "utf-8")


def _col(path: str) -> str:
    return "p_" + hashlib.sha1(path.encode()).hexdigest()[:8]


def _short(path: str) -> str:
    return path.split(".")[-1]


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    return str(v)


def design_points(ranges: list[Range], design: str, samples: int | None) -> int:
    """Return the number of points of a design; refuse more than ``MAX_SWEEP_POINTS``.

    Nothing is built: ``low:high:100000000`` is refused without making its grid.
    """
    if design == "grid":
        for r in ranges:
            if r.values is None and (r.n is None or r.dist is not None):
                r.grid()  # raises: a grid needs a count, a distribution is sampled
        sizes = [len(r.values) if r.values is not None else int(r.n or 1) for r in ranges]
        count, key = math.prod(sizes), "vary"
        what = " x ".join(f"{n:,}" for n in sizes)
    else:
        if samples is None or not isinstance(samples, int | np.integer):
            return 0  # _design names what a sampled design needs
        count, key, what = int(samples), "samples", f"{int(samples):,}"
    if count > MAX_SWEEP_POINTS:  # each point holds a scenario: 1e8 points ran out of memory
        raise ConfigError(
            [
                (
                    key,
                    f"{what} = {count:,} points; allowed: at most {MAX_SWEEP_POINTS:,} (a "
                    "coarser grid, fewer values, or --design lhs with --samples N)",
                )
            ]
        )
    return count


def _design(ranges: list[Range], design: str, samples: int | None, seed: Any) -> list[tuple]:
    if design == "grid":
        return list(itertools.product(*(r.grid() for r in ranges)))
    if samples is None or samples < 2:
        raise ConfigError([("samples", f"a {design} design needs samples >= 2, got {samples!r}")])
    from scipy.stats import qmc

    rng = stream(seed, "sweep-design")
    d = len(ranges)
    if design == "lhs":
        u = qmc.LatinHypercube(d=d, seed=rng).random(samples)
    else:
        u = qmc.Sobol(d=d, scramble=True, seed=rng).random(samples)
    from lifesim.model import dist_ppf

    cols = [
        dist_ppf(r.dist, np.clip(u[:, j], 1e-12, 1 - 1e-12))
        if r.dist is not None
        else r.scale(u[:, j])
        for j, r in enumerate(ranges)
    ]
    return [tuple(c[i] for c in cols) for i in range(samples)]


def _point(scn: Scenario, seeds: list, strategies: Sequence[str], pid: int) -> pd.DataFrame:
    rows = [
        {"point": pid, "replication": r, "strategy": s, **metrics_of(scn, seeds[r], s)}
        for r in range(len(seeds))
        for s in strategies
    ]
    return pd.DataFrame(rows)


def _write_atomic(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def sweep(
    scenario: ScenarioLike,
    vary: Sequence[str | Range],
    *,
    strategies: str | Sequence[str] | None = None,
    pair: tuple[str, str] | None = None,
    replications: int = 5,
    design: str = "grid",
    samples: int | None = None,
    objective: str = "profit",
    seed: SeedLike = None,
    jobs: int = 1,
    customers: int | None = None,
    days: int | None = None,
    alpha: float = 0.05,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    inputs: Sequence = (),
    progress: ProgressLike = None,
    trust_code: bool = False,
    extra: Callable[[SweepResult, Path], None] | None = None,
) -> SweepResult:
    """Run every strategy at every point of a design over scenario values; where it flips.

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
    vary : list of str or Range
        ``PATH=a,b,c``, ``PATH=low:high:n`` (grid), ``PATH=low:high`` (sampled designs),
        ``...:log`` for log spacing (see :func:`lifesim.config.parse_range`).
    strategies : list of str or comma-separated str, optional
        Default: the scenario's ``compare.strategies``.
    pair : (str, str), optional
        Strategies whose difference is reported (default: the last two).
    replications : int
        Replications per point and strategy (>= 2), on common seeds.
    design : {'grid', 'lhs', 'sobol'}
    samples : int, optional
        Points of a sampled design.
    objective : str
    seed, jobs, customers, days, alpha, trust_code
        As for :func:`lifesim.experiments.compare`; results do not depend on ``jobs``.
    out : path, optional
        Run folder to write; finished points are kept in ``<out>.partial`` meanwhile.
    resume : bool
        Continue the interrupted sweep of ``<out>.partial`` (same specification).
    overwrite : bool
        Replace an earlier lifesim run folder at ``out``.
    inputs : paths
        Files the caller read (``out`` may not replace them).
    progress : callable(done, total), True or None
        Called as points finish; ``True`` shows a progress bar (see :mod:`lifesim._progress`).
    extra : callable(result, folder), optional
        Writes more into the run folder before it is sealed (the CLI adds plots and
        ``report.html`` with :func:`lifesim.report.sweep.write_sweep_report`).

    Raises
    ------
    ConfigError
        Unknown paths or bad values (the validator's messages, naming the point), bad
        options, a resume whose specification differs.
    """
    t0 = time.perf_counter()
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    from lifesim.config import resolve

    raw = trusted(base) if trust_code else base  # points are set here, then resized
    base = resolve(raw, customers, days)
    if design not in DESIGNS:
        raise ConfigError([("design", f"unknown design {design!r}; allowed: {', '.join(DESIGNS)}")])
    if isinstance(vary, str | Range):  # one PATH=values (a str was read letter by letter)
        vary = [vary]
    ranges = [v if isinstance(v, Range) else parse_range(v) for v in vary]
    if not ranges:
        raise ConfigError([("vary", "give at least one PATH=values to vary")])
    names = _parse_strategies(base, strategies)
    if len(names) < 2:
        raise ConfigError([("strategies", "a sweep compares at least two strategies")])
    check_trust(base, names, trust_code)
    pair = tuple(pair) if pair is not None else (names[-1], names[-2])
    if len(pair) != 2 or any(p not in names for p in pair) or pair[0] == pair[1]:
        unknown = [p for p in pair if p not in names]
        why = f"{', '.join(map(repr, unknown))} not compared; " if unknown else ""
        raise ConfigError(
            [
                (
                    "pair",
                    f"{why}two different compared strategies are allowed "
                    f"({', '.join(names)}), got {pair!r}",
                )
            ]
        )
    if objective not in METRICS:
        raise ConfigError(
            [("objective", f"unknown metric {objective!r}; known: {', '.join(METRICS)}")]
        )
    replications = check_int("replications", replications, min=2, max=MAX_REPLICATIONS)
    check_jobs("jobs", jobs)
    root = as_seed_sequence(base.seed if seed is None else seed)
    design_points(ranges, design, samples)
    values = _design(ranges, design, samples, root)
    paths = [r.path for r in ranges]
    scns = [
        resolve(
            override(
                raw,
                dict(zip(paths, v, strict=True)),
                where=f"(sweep point {i}: "
                + ", ".join(f"{p}={_fmt(x)}" for p, x in zip(paths, v, strict=True))
                + ")",
            ),
            customers,
            days,
        )
        for i, v in enumerate(values)
    ]
    seeds = spawn_seeds(root, replications)
    spec = {
        "params": paths,
        "values": [[_fmt(x) for x in v] for v in values],
        "strategies": names,
        "replications": replications,
        "seed": str(root.entropy),
        "objective": objective,
        "customers": base.market.size,
        "days": base.days,
    }
    work = None
    if out is not None:
        out = check_out_dir(out, overwrite=overwrite, inputs=inputs)
        work = Path(str(out) + ".partial")
        work = _prepare_work(work, spec, resume)
    done: dict[int, pd.DataFrame] = {}
    if work is not None:
        for i in range(len(values)):
            f = work / f"point-{i:05d}.parquet"
            if f.exists():
                done[i] = pd.read_parquet(f)
    todo = [i for i in range(len(values)) if i not in done]
    progress = as_progress(progress, len(values), "sweep", "points", done=len(done))
    par = joblib.Parallel(n_jobs=jobs, return_as="generator")
    gen = par(joblib.delayed(_point)(scns[i], seeds, names, i) for i in todo)
    for k, (i, df) in enumerate(zip(todo, gen, strict=True)):
        done[i] = df
        if work is not None:
            _write_atomic(df, work / f"point-{i:05d}.parquet")
        if progress is not None:
            progress(len(values) - len(todo) + k + 1, len(values))
    runs = pd.concat([done[i] for i in range(len(values))], ignore_index=True)
    points = pd.DataFrame({"point": range(len(values))})
    for j, p in enumerate(paths):
        points[p] = [v[j] for v in values]
    res = _summarise(
        points,
        runs,
        paths,
        design,
        tuple(names),
        pair,
        objective,
        replications,
        int(root.entropy) if isinstance(root.entropy, int) else 0,
        alpha,
        ranges,
        time.perf_counter() - t0,
    )
    if out is not None:
        with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
            res.save_tables(tmp)
            if extra is not None:
                extra(res, tmp)
        shutil.rmtree(work)
    return res


def _prepare_work(work: Path, spec: dict, resume: bool) -> Path:
    marker = work / _SPEC
    if work.exists():
        try:
            old = json.loads(marker.read_text("utf-8"))
        except (OSError, ValueError):
            raise ConfigError(
                [("out", f"{work} exists and is not an interrupted lifesim sweep; move it away")]
            ) from None
        if not resume:
            raise ConfigError(
                [
                    (
                        "out",
                        f"an interrupted sweep is at {work}: pass --resume to continue it, or "
                        "remove that folder to start again",
                    )
                ]
            )
        if old != spec:
            diff = sorted(k for k in spec if old.get(k) != spec[k])
            raise ConfigError(
                [
                    (
                        "resume",
                        f"the interrupted sweep at {work} was specified differently "
                        f"({', '.join(diff)}); run it with the same options, or remove the folder",
                    )
                ]
            )
        return work
    if resume:
        raise ConfigError([("resume", f"no interrupted sweep at {work} to resume")])
    work.mkdir(parents=True)
    marker.write_text(json.dumps(spec, indent=1), "utf-8")
    return work


def _summarise(
    points, runs, paths, design, names, pair, objective, reps, seed, alpha, ranges, elapsed
) -> SweepResult:
    a, b = pair
    rows = []
    for pid, g in runs.groupby("point", sort=True):
        w = g.pivot(index="replication", columns="strategy", values=objective)
        d = paired_diff(w[a].to_numpy(), w[b].to_numpy(), alpha=alpha)
        means = w[list(names)].mean()
        rows.append(
            {
                "point": pid,
                **{f"mean_{s}": means[s] for s in names},
                "diff": d["diff"],
                "ci_low": d["ci_low"],
                "ci_high": d["ci_high"],
                "p_value": d["p_value"],
                "winner": str(means.idxmax()),
            }
        )
    table = points.rename(columns={p: _col(p) for p in paths}).merge(pd.DataFrame(rows))
    table = table.rename(columns={_col(p): p for p in paths})
    flips = (
        _flips(table, paths, pair)
        if len(paths) == 1
        else pd.DataFrame(columns=["value", "low", "high", "before", "after"])
    )
    tornado = _tornado(table, paths, design)
    sens = _sensitivity(table, paths, ranges) if design != "grid" else None
    # attribute access for summary(): value columns under safe names
    table = table.assign(**{_col(p): table[p] for p in paths})
    return SweepResult(
        paths,
        design,
        names,
        pair,
        objective,
        reps,
        points,
        runs,
        table,
        flips,
        tornado,
        sens,
        seed,
        alpha,
        elapsed,
    )


def _cross(x0, x1, y0, y1):
    return x0 + (x1 - x0) * (0 - y0) / (y1 - y0) if y1 != y0 else (x0 + x1) / 2


def _crossings(x: np.ndarray, y: np.ndarray) -> list[float]:
    return [
        _cross(x[i], x[i + 1], y[i], y[i + 1])
        for i in range(len(x) - 1)
        if y[i] != 0 and np.sign(y[i]) != np.sign(y[i + 1])
    ]


def _flips(table, paths, pair) -> pd.DataFrame:
    t = table.sort_values(paths[0])
    x = t[paths[0]].to_numpy(dtype=float)
    y, lo, hi = (t[c].to_numpy() for c in ("diff", "ci_low", "ci_high"))
    bounds = sorted(_crossings(x, lo) + _crossings(x, hi))
    out = []
    for i in range(len(x) - 1):
        if y[i] != 0 and np.sign(y[i]) != np.sign(y[i + 1]):
            v = _cross(x[i], x[i + 1], y[i], y[i + 1])
            low = max((c for c in bounds if c <= v), default=x[0])
            high = min((c for c in bounds if c >= v), default=x[-1])
            before, after = (pair[0], pair[1]) if y[i] > 0 else (pair[1], pair[0])
            out.append({"value": v, "low": low, "high": high, "before": before, "after": after})
    return pd.DataFrame(out, columns=["value", "low", "high", "before", "after"])


def _tornado(table, paths, design) -> pd.DataFrame:
    rows = []
    for p in paths:
        v = table[p]
        if design == "grid":
            lo_mask, hi_mask = v == v.min(), v == v.max()
        else:
            q = pd.to_numeric(v, errors="coerce")
            lo_mask, hi_mask = q <= q.quantile(0.2), q >= q.quantile(0.8)
        lo_d, hi_d = table.loc[lo_mask, "diff"].mean(), table.loc[hi_mask, "diff"].mean()
        rows.append({"param": p, "at_low": lo_d, "at_high": hi_d, "swing": abs(hi_d - lo_d)})
    return pd.DataFrame(rows).sort_values("swing", ascending=False, ignore_index=True)


def _sensitivity(table, paths, ranges) -> pd.DataFrame | None:
    """RBD-FAST indices (SALib); ``None`` for value lists or fewer than 20 points."""
    if any(r.values is not None for r in ranges) or len(table) < 20:
        return None
    ranges = [
        Range(r.path, low=float(table[r.path].min()), high=float(table[r.path].max()))
        if r.dist is not None
        else r
        for r in ranges
    ]
    from SALib.analyze import rbd_fast

    problem = {"num_vars": len(paths), "names": paths, "bounds": [[r.low, r.high] for r in ranges]}
    x = table[paths].to_numpy(dtype=float)
    y = table["diff"].to_numpy(dtype=float)
    # M harmonics; the bootstrap uses half the points and needs 2 M < N / 2
    res = rbd_fast.analyze(problem, x, y, M=max(1, min(10, len(y) // 10)), seed=0)
    s1, conf = np.asarray(res["S1"]), np.asarray(res["S1_conf"])
    return pd.DataFrame({"param": paths, "S1": s1, "low": s1 - conf, "high": s1 + conf})
