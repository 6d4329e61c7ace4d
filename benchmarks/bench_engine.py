"""Engine speed and memory: reference scenario, plain-NumPy kernel, SimPy per person, marketing.

Prints, in one run (ratios: the machine is shared and noisy):

1. people-days per second and peak traced memory (NumPy allocations are traced) for the
   vectorised engine at 100k and 1M people x 365 days on the reference scenario, with the
   1M run's final stage shares checked against the exact expected shares;
2. the engine beside a careful plain-NumPy kernel of the same model (``numpy_kernel.py``,
   written independently of the engine), best of ``--repeats`` runs each, interleaved;
3. the same model written the usual SimPy way (one process per person) at 10k people;
4. marketing rows: the default shop with no marketing, ``kpi_focused`` and ``stage_focused``
   at 2k, 20k and 100k people (``--marketing-sizes``; add 1000000 for the 1M row), each as
   people-days per second and as a ratio to the same run without marketing.

    python benchmarks/bench_engine.py            # full run (a few minutes)
    python benchmarks/bench_engine.py --quick    # smaller sizes, for a smoke test
    python benchmarks/bench_engine.py --only marketing --marketing-sizes 2000 100000 1000000
    python benchmarks/bench_engine.py --only breakdown   # where a marketing run's time goes
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
import simpy

import lifesim
from lifesim.engine.exact import expected_path

try:  # run as a script from benchmarks/ or as a module
    import numpy_kernel
except ImportError:  # pragma: no cover
    from benchmarks import numpy_kernel

REF = Path(__file__).resolve().parents[1] / "configs" / "reference.yaml"


def run_vectorised(n: int, seed: int = 1, events: bool = True):
    tracemalloc.start()
    t0 = time.perf_counter()
    res = lifesim.simulate(REF, seed=seed, customers=n, record_events=events)
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    log_bytes = int(
        res.events.memory_usage(deep=True).sum() + res.purchases.memory_usage(deep=True).sum()
    )
    return res, dt, peak, log_bytes


def run_simpy_per_person(n: int, days: int = 365, seed: int = 1) -> float:
    """The reference model, one SimPy process per person (the usual way)."""
    scn = lifesim.load_scenario(REF)
    stages = list(scn.stages)
    rng = np.random.default_rng(seed)
    m_all = np.minimum(rng.gamma(2.0, 0.5, n), 4.0)
    env = simpy.Environment()
    boost = {"stage": None}
    moves = {
        s: [(t, tr.p, tr.propensity, tr.boost) for t, tr in st.to.items()]
        for s, st in scn.stages.items()
    }
    revenue = [0.0]

    def email():
        k = 0
        targets = ["awareness", "consideration", "retention"]
        while True:
            boost["stage"] = targets[k % 3]
            boost["until"] = env.now + 2
            k += 1
            yield env.timeout(7)

    def person(m: float):
        stage = "awareness"
        while True:
            yield env.timeout(1)
            if stage == "retention" and rng.random() < 0.03 * m:
                revenue[0] += rng.lognormal(3.5, 0.8)
            u = rng.random()
            acc = 0.0
            b = 1.5 if boost["stage"] == stage and env.now - 1 < boost["until"] else 1.0
            for target, p, scaled, boosted in moves[stage]:
                acc += p * (m if scaled else 1.0) * (b if boosted else 1.0)
                if u < acc:
                    stage = target
                    break

    env.process(email())
    for m in m_all:
        env.process(person(float(m)))
    t0 = time.perf_counter()
    env.run(until=days + 0.5)
    assert stages
    return time.perf_counter() - t0


def best_of(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def kernel_rows(sizes: list[int], repeats: int, days: int = 365) -> None:
    """The engine (no event log) beside the plain-NumPy kernel, best of ``repeats``, interleaved."""
    print(f"\nreference scenario, engine vs plain-NumPy kernel (best of {repeats}, interleaved)")
    print(f"{'people':>10}{'kernel s':>10}{'engine s':>10}{'engine/kernel speed':>21}")
    for n in sizes:
        tk, te = [], []
        for _ in range(repeats):
            tk.append(best_of(lambda n=n: numpy_kernel.run(n, days), 1))
            te.append(
                best_of(
                    lambda n=n: lifesim.simulate(REF, seed=1, customers=n, record_events=False), 1
                )
            )
        print(f"{n:>10,}{min(tk):>10.3f}{min(te):>10.3f}{min(tk) / min(te):>20.2f}x")
    process_row(400_000, repeats, days)


def process_row(n: int, repeats: int, days: int = 365) -> None:
    """The whole ``lifesim simulate`` process (start-up, run, output) beside the kernel alone."""
    import subprocess
    import sys
    import tempfile

    exe = Path(sys.executable).with_name("lifesim")
    cmd = [str(exe) if exe.exists() else "lifesim", "simulate", str(REF)]
    cmd += ["--customers", str(n), "--days", str(days), "--no-progress"]
    tk, tp = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeats):
            tk.append(best_of(lambda: numpy_kernel.run(n, days), 1))
            t0 = time.perf_counter()
            subprocess.run(cmd + ["--out", f"{tmp}/run{k}"], check=True, capture_output=True)
            tp.append(time.perf_counter() - t0)
    print(
        f"\nwhole process `lifesim simulate {REF.name} --customers {n:,} --out DIR` "
        f"(start-up, run, event log and output) vs the kernel alone in-process, best of {repeats}"
    )
    print(f"  kernel {min(tk):.2f} s, process {min(tp):.2f} s: {min(tk) / min(tp):.2f}x")


def marketing_rows(sizes: list[int], repeats: int, days: int = 365, jit_off: bool = False) -> None:
    """Default shop: no marketing, kpi_focused and stage_focused, ratio to no marketing.

    The three strategies are run in turn within each repeat (interleaved), best of
    ``repeats``; with ``jit_off`` each row is also run with the compiled loops off
    (``LIFESIM_JIT=0``: the NumPy code) for the speed-up they give.
    """
    from lifesim.engine import jit

    scn = lifesim.default_scenario()
    strategies = (None, "kpi_focused", "stage_focused")

    def run(n: int, strategy: str | None) -> None:
        lifesim.simulate(
            scn, seed=1, customers=n, days=days, record_events=False, strategy=strategy
        )

    run(2_000, "stage_focused")  # warm-up (imports, compiled code from the cache)
    print(f"\ndefault scenario, {days} days, no event log, best of {repeats}, interleaved")
    head = f"{'people':>10} {'strategy':<14}{'seconds':>9}{'people-days/s':>15}{'vs none':>9}"
    print(head + (f"{'NumPy s':>9}{'speed-up':>9}" if jit_off else ""))
    modes = (True, False) if jit_off else (True,)
    for n in sizes:
        reps = repeats if n <= 100_000 else 1
        best = {}
        for _ in range(reps):
            for on in modes:
                jit.set_enabled(on)
                for s in strategies:
                    t0 = time.perf_counter()
                    run(n, s)
                    t = time.perf_counter() - t0
                    best[on, s] = min(best.get((on, s), t), t)
        jit.set_enabled(True)
        base = best[True, None]
        for s in strategies:
            t = best[True, s]
            line = f"{n:>10,} {s or 'none':<14}{t:>9.3f}{n * days / t:>15,.0f}{t / base:>8.2f}x"
            if jit_off:
                line += f"{best[False, s]:>9.3f}{best[False, s] / t:>8.2f}x"
            print(line)


#: (label, module, owner or None, attribute): the parts of a run the breakdown times. A
#: part inside another (a contact inside the strategy's day) counts in both.
_PARTS = [
    ("day pass (purchases, moves, effects)", "lifesim.engine.jit_day", None, "buys_and_moves"),
    ("  effects grouped for the pass", "lifesim.engine.kernel", None, "effect_groups"),
    ("offers: lapse and redeem", "lifesim.engine.offers", "OfferBook", "expire"),
    ("", "lifesim.engine.offers", "OfferBook", "redeem"),
    ("strategy's day (decide)", "lifesim.engine.marketing", "Marketing", "decide"),
    ("  people_in (stage index)", "lifesim.engine.marketing", "MarketView", "people_in"),
    ("    index sync (once a day)", "lifesim.engine.stage_index", "StageIndex", "sync"),
    ("  contact", "lifesim.engine.contacts", "Contacts", "contact"),
    ("    offer store merge", "lifesim.engine.jit_marketing", None, "merge_store"),
    ("    stream draws (support, referral)", "lifesim.engine.jit_marketing", None, "draws_at"),
    ("    referral pool count and picks", "lifesim.engine.jit_marketing", None, "count_in"),
    ("", "lifesim.engine.jit_marketing", None, "nth_in"),
]


def breakdown_rows(n: int, days: int = 365) -> None:
    """Where the time of a run goes: each part's seconds, calls and share, per strategy.

    Each part is wrapped in a timer (about a microsecond a call more); the rows say what a
    strategy adds to the bare engine, e.g. why a marketing run costs more than 1.5x one
    without marketing.
    """
    import importlib

    scn = lifesim.default_scenario()
    lifesim.simulate(scn, seed=1, customers=2_000, days=days, strategy="stage_focused")
    acc: dict[str, list[float]] = {}
    originals = []
    label = ""
    for name, mod, owner, attr in _PARTS:
        label = name or label
        obj = importlib.import_module(mod)
        obj = getattr(obj, owner) if owner else obj
        fn = getattr(obj, attr)
        originals.append((obj, attr, fn))

        def timed(*a, _fn=fn, _key=label, **k):
            t0 = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                slot = acc.setdefault(_key, [0.0, 0])
                slot[0] += time.perf_counter() - t0
                slot[1] += 1

        setattr(obj, attr, timed)
    try:
        print(f"\nwhere the time goes: default scenario, {n:,} people x {days} days, no event log")
        names = ("none", "kpi_focused", "stage_focused")
        print(f"{'part':<40}" + "".join(f"{s:>16}" for s in names))
        cols = {}
        for s in (None, "kpi_focused", "stage_focused"):
            acc.clear()
            t0 = time.perf_counter()
            lifesim.simulate(scn, seed=1, customers=n, days=days, record_events=False, strategy=s)
            cols[s] = (time.perf_counter() - t0, {k: tuple(v) for k, v in acc.items()})
        print(f"{'whole run (s)':<40}" + "".join(f"{cols[s][0]:>16.3f}" for s in cols))
        for name, *_ in _PARTS:
            if not name:
                continue
            cells = []
            for s in cols:
                t, k = cols[s][1].get(name, (0.0, 0))
                cells.append(f"{t:>9.3f} {k:>6,}" if k else f"{'-':>16}")
            print(f"{name:<40}" + "".join(cells))
        print("(seconds and calls; a part inside another counts in both)")
    finally:
        for obj, attr, fn in originals:
            setattr(obj, attr, fn)


def compile_rows() -> None:
    """Compile time of the compiled loops: a fresh process with an empty cache, then again."""
    import subprocess
    import sys
    import tempfile

    code = (
        "import time; t=time.perf_counter(); import lifesim; "
        "lifesim.simulate(lifesim.default_scenario(), seed=1, customers=2000, days=30, "
        "strategy='stage_focused'); print(time.perf_counter()-t)"
    )

    def timed(env: dict) -> float:
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return float(out.stdout)

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = timed(env)
        warm = min(timed(env) for _ in range(3))
        numpy_only = min(timed(dict(env, LIFESIM_JIT="0")) for _ in range(3))
    print("\ncompiled loops (numba): a small run in a fresh process")
    print(f"  empty cache (compiles, once per machine) {cold:6.2f} s")
    print(f"  cached                                   {warm:6.2f} s")
    print(f"  compile time paid once                   {cold - warm:6.2f} s")
    print(f"  without numba (LIFESIM_JIT=0)            {numpy_only:6.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs per row")
    ap.add_argument(
        "--only",
        choices=["engine", "kernel", "marketing", "compile", "breakdown"],
        help="print only this part",
    )
    ap.add_argument(
        "--jit-off", action="store_true", help="marketing rows also with LIFESIM_JIT=0 (NumPy)"
    )
    ap.add_argument("--marketing-sizes", type=int, nargs="*", default=None)
    args = ap.parse_args()
    msizes = args.marketing_sizes or ([2_000, 20_000] if args.quick else [2_000, 20_000, 100_000])
    ksizes = [100_000] if args.quick else [100_000, 1_000_000]
    if args.only == "kernel":
        return kernel_rows(ksizes, args.repeats)
    if args.only == "marketing":
        return marketing_rows(msizes, args.repeats, jit_off=args.jit_off)
    if args.only == "compile":
        return compile_rows()
    if args.only == "breakdown":
        return breakdown_rows(max(msizes))
    sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
    n_simpy = 2_000 if args.quick else 10_000
    days = 365
    print(f"lifesim {lifesim.__version__}: reference scenario, {days} days")
    print(
        f"{'engine':<28}{'people':>10}{'seconds':>9}{'M people-days/s':>17}{'peak B/person':>15}"
        f"{'(log excl.)':>12}"
    )
    rates = {}
    last = None
    lifesim.simulate(REF, seed=1, customers=2_000, days=30)  # warm-up: compiled code loaded
    for n in sizes:
        res, dt, peak, log_bytes = run_vectorised(n)
        rate = n * days / dt
        rates[n] = rate
        print(
            f"{'vectorised (this engine)':<28}{n:>10,}{dt:>9.2f}{rate / 1e6:>17.1f}"
            f"{peak / n:>15.0f}{(peak - log_bytes) / n:>12.0f}"
        )
        last = (n, res)
    n, res = last
    _, dt, peak, _ = run_vectorised(n, events=False)
    print(
        f"{'vectorised, no event log':<28}{n:>10,}{dt:>9.2f}{n * days / dt / 1e6:>17.1f}"
        f"{peak / n:>15.0f}"
    )
    dt_simpy = run_simpy_per_person(n_simpy, days)
    rate_simpy = n_simpy * days / dt_simpy
    print(
        f"{'SimPy, process per person':<28}{n_simpy:>10,}{dt_simpy:>9.2f}{rate_simpy / 1e6:>17.2f}"
    )
    ratio = rates[sizes[-1]] / rate_simpy
    print(f"\nspeed-up at {sizes[-1]:,} people vs SimPy per person: {ratio:,.0f}x")
    exp = expected_path(REF).shares.iloc[-1]
    obs = res.stage_counts.iloc[-1] / n
    z = (obs - exp) / np.sqrt(exp * (1 - exp) / n)
    print(f"\nfinal shares at {n:,} people vs exact expectation (z = (obs - exact) / SE):")
    for s in exp.index:
        print(f"  {s:<14} obs {obs[s]:.5f}  exact {exp[s]:.5f}  z {z[s]:+.2f}")
    print(f"max |z| = {np.abs(z).max():.2f} (|z| < 4 expected)")
    if args.only is None:
        kernel_rows(ksizes, args.repeats)
        marketing_rows(msizes, args.repeats, jit_off=args.jit_off)
        compile_rows()


if __name__ == "__main__":
    main()
