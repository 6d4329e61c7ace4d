"""Cost of marketing in the engine: each strategy's run beside the same run without marketing.

Default scenario, 365 days, no event log, best of ``--repeats`` runs each, in one process, so
the ratios compare like with like on a shared machine.

    python benchmarks/bench_marketing.py                 # 2k, 20k, 100k people
    python benchmarks/bench_marketing.py --sizes 1000000 # add 1M
"""

from __future__ import annotations

import argparse
import time

import lifesim


def best(n: int, strategy: str | None, repeats: int) -> float:
    scn = lifesim.default_scenario()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        lifesim.simulate(scn, seed=1, customers=n, record_events=False, strategy=strategy)
        out.append(time.perf_counter() - t0)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[2_000, 20_000, 100_000])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    best(2_000, "stage_focused", 1)  # warm-up (imports, caches)
    print(f"{'people':>9} {'strategy':<14} {'time s':>8} {'people-days/s':>14} {'vs none':>8}")
    for n in a.sizes:
        base = best(n, None, a.repeats)
        for s in (None, "kpi_focused", "stage_focused"):
            t = base if s is None else best(n, s, a.repeats)
            print(f"{n:>9,} {s or 'none':<14} {t:>8.3f} {n * 365 / t:>14,.0f} {t / base:>7.2f}x")


if __name__ == "__main__":
    main()
