"""A careful plain-NumPy kernel of the reference model, written independently of the engine.

The yardstick for the engine's speed (issue 13): the same model as ``configs/reference.yaml``
(six stages, propensity-scaled and boosted moves, a weekly email rotating over three stages,
repeat purchases in retention with log-normal order values), stepped one day at a time with
whole-array operations and no Python loop over people. It keeps what the engine keeps without
an event log: daily stage counts and revenue. It reads the scenario's numbers from the YAML,
not from the engine.

    python benchmarks/numpy_kernel.py --customers 1000000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

REF = Path(__file__).resolve().parents[1] / "configs" / "reference.yaml"


def _tables(doc: dict) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per stage and outgoing slot: target, scaled probability, fixed probability, boosted."""
    names = list(doc["stages"])
    d = max(len(s.get("to", {})) for s in doc["stages"].values())
    s = len(names)
    dst = np.zeros((s, d), np.int8)
    a = np.zeros((s, d), np.float32)  # p when scaled by propensity
    b = np.zeros((s, d), np.float32)  # p when not
    boosted = np.zeros((s, d), bool)
    for i, (name, st) in enumerate(doc["stages"].items()):
        for j, (to, mv) in enumerate(st.get("to", {}).items()):
            mv = {"p": mv} if not isinstance(mv, dict) else mv
            dst[i, j] = names.index(to)
            if mv.get("propensity", False):
                a[i, j] = mv["p"]
            else:
                b[i, j] = mv["p"]
            boosted[i, j] = mv.get("boost", False)
        del name
    return names, dst, a, b, boosted


def run(n: int, days: int = 365, seed: int = 1, path: Path = REF) -> tuple[np.ndarray, float]:
    """Run the reference model for ``n`` people; return daily stage counts and revenue."""
    doc = yaml.safe_load(path.read_text())
    names, dst, a, b, boosted = _tables(doc)
    s, d = a.shape
    seg = next(iter(doc["segments"].values()))
    pr, ov = seg["propensity"], seg["order_value"]
    buy = np.zeros(s, np.float32)
    for i, st in enumerate(doc["stages"].values()):
        if "buy" in st:
            buy[i] = st["buy"]["p"]
    email = next(iter(doc["campaigns"].values()))
    targets = [names.index(t) for t in email["targets"]]
    rng = np.random.default_rng(seed)
    m = np.minimum(rng.gamma(pr["shape"], pr["scale"], n), pr["max"]).astype(np.float32)
    stage = np.full(n, names.index(doc["market"]["initial"]), np.int8)
    counts = np.zeros((days, s), np.int64)
    revenue = 0.0
    a_day = np.empty_like(a)
    for day in range(days):
        a_day[:] = a
        k, r = divmod(day - email["start"], email["every"])
        if day >= email["start"] and r < email["duration"]:
            t = targets[k % len(targets)]
            a_day[t] *= np.where(boosted[t], np.float32(email["boost"]), np.float32(1))
        ub = rng.random(n, dtype=np.float32)
        who = np.flatnonzero(ub < buy[stage] * m)
        revenue += float(rng.lognormal(ov["mu"], ov["sigma"], len(who)).sum())
        u = rng.random(n, dtype=np.float32)
        acc = np.zeros(n, np.float32)
        new = stage.copy()
        for j in range(d):  # cumulative probability over the stage's outgoing slots
            acc += a_day[stage, j] * m + b[stage, j]
            hit = u < acc
            hit &= new == stage
            new[hit] = dst[stage[hit], j]
        stage = new
        counts[day] = np.bincount(stage, minlength=s)
    return counts, revenue


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    t0 = time.perf_counter()
    counts, revenue = run(args.customers, args.days)
    dt = time.perf_counter() - t0
    print(f"{args.customers:,} people x {args.days} days: {dt:.2f} s")
    print(f"final counts {counts[-1].tolist()}, revenue {revenue:,.0f}")


if __name__ == "__main__":
    main()
