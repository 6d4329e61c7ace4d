"""Mutation testing of lifesim's tests with mutmut 3, one package at a time.

Run from the repository root (the tool is in the optional ``mutation`` extra)::

    pip install -e ".[test,mutation]"
    nice -n 10 python benchmarks/mutation.py                 # every target, working tree
    nice -n 10 python benchmarks/mutation.py ab/stats.py     # one target
    nice -n 10 python benchmarks/mutation.py --rev HEAD      # a commit instead of the tree
    python benchmarks/mutation.py --report-only              # re-print the last table

mutmut rewrites the files it mutates, so this script never runs it in the repository: each
target gets its own scratch copy under ``--workdir`` (default ``/tmp/lifesim-mutation``), made
from the working tree (tracked and untracked, not ignored files) or from ``--rev``. mutmut
works inside ``mutants/`` of that copy and keeps its results there; ``--incremental`` reuses
them (only mutants whose function changed are re-tested, so a new test file does not re-judge
old survivors: the README's table comes from a fresh run). mutmut 3.8 also keeps its cached map of
which test calls which function and re-collects it for new test names only: a function added or
first reached since that map was made has no test in it, and all its mutants come out as "no
tests" (213 of the 340 "no tests" of an incremental engine/kernel run on 2026-12-07; the other
127 were in functions that no module of the target's selection reached).

Each target maps its source modules to a small, fast set of tests (``TARGETS`` below): mutmut
records which of those tests call each function and runs only those against each mutant.
Subprocess tests (the CLI) cannot see mutants and are left out of the selection.

Mutants listed in ``tests/MUTANTS.md`` (a Markdown table whose first column is the mutant's
name in backticks) are equivalent: no test can tell them from the original. The score is
``killed / (mutants - equivalent)``, where ``killed`` counts mutants a test failed on or that
timed out (mutmut's convention; the table shows the timeouts apart, because a test that hangs
in a forked process also times out: check them with ``mutmut show`` before trusting them).

Statistical tests run with a fixed ``LIFESIM_TEST_SEED`` (``--seed``) so that a verdict does
not depend on the draw; the tests themselves must pass for any seed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = ROOT / "tests" / "MUTANTS.md"
# Copied beside src/ and tests/ into mutants/ (tests read configs/ through ROOT).
ALSO_COPY = ["configs", "README.md"]
# mutmut forks each mutant's test run from a process that has run the tests: a BLAS or OpenMP
# thread pool started there deadlocks the child (it waits on a futex forever, and a hang would
# count as a kill by timeout), so every pool is kept to the calling thread.
ONE_THREAD = {
    v: "1"
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS")
}


@dataclass(frozen=True)
class Target:
    """One row of the score table: which files to mutate and which tests judge them."""

    mutate: tuple[str, ...]
    tests: tuple[str, ...]


TARGETS: dict[str, Target] = {
    "ab/stats.py": Target(
        mutate=("src/lifesim/ab/stats.py",),
        tests=(
            "tests/ab/test_ab_reference.py",
            "tests/ab/test_ab_edge_cases.py",
            "tests/ab/test_ab_inputs.py",
            "tests/ab/test_ab_custom_metric.py",
            "tests/ab/test_ab_doctests.py",
            "tests/ab/test_stats_mutants.py",
        ),
    ),
    "churn/labels.py": Target(
        mutate=("src/lifesim/churn/labels.py",),
        tests=(
            "tests/churn/test_labels.py",
            "tests/churn/test_snapshot.py",
            "tests/churn/test_features.py",
            "tests/churn/test_labels_mutants.py",
        ),
    ),
    "metrics": Target(
        mutate=("src/lifesim/metrics/*",),
        tests=(
            "tests/metrics",
            "tests/experiments/test_insim_metrics.py",
        ),
    ),
    "experiments/stats.py": Target(
        mutate=("src/lifesim/experiments/stats.py",),
        # no simulation: pure-function tests only (a simulation hangs in a forked worker)
        tests=(
            "tests/experiments/test_compare_stats.py",
            "tests/experiments/test_stats_mutants.py",
        ),
    ),
    "experiments": Target(
        mutate=(
            "src/lifesim/experiments/compare.py",
            "src/lifesim/experiments/decompose.py",
            "src/lifesim/experiments/incremental.py",
            "src/lifesim/experiments/marginal.py",
            "src/lifesim/experiments/churn_targeted.py",
            "src/lifesim/experiments/result.py",
        ),
        # hand-built runs tables and markets of a few dozen people (whole simulations are
        # minutes per mutant); test_assumptions and test_verdict run tiny markets too
        tests=(
            "tests/experiments/test_experiments_mutants.py",
            "tests/experiments/test_assumptions.py",
            "tests/experiments/test_verdict.py",
        ),
    ),
    "experiments/insim": Target(
        mutate=("src/lifesim/experiments/insim/*",),
        # in-process modules of hand-built tables, fake market views and markets of a few
        # dozen people (well under a second a test); test_insim.py's whole experiments and
        # audits and test_insim_peeking.py's 250-repeat audit take seconds to minutes per
        # mutant, and their result views were checked only through the CLI (a subprocess)
        tests=(
            "tests/experiments/test_insim_mutants.py",
            "tests/experiments/test_insim_mutants_run.py",
            "tests/experiments/test_insim_mutants_peek.py",
            "tests/experiments/test_insim_metrics.py",
        ),
    ),
    "experiments/flows.py": Target(
        mutate=("src/lifesim/experiments/flows.py",),
        # hand-built flow tables and a stand-in result; test_compare_flows.py's comparisons
        # start a process pool (jobs=2), which mutmut's forked workers should not
        tests=("tests/experiments/test_flows_mutants.py",),
    ),
    "engine/kernel": Target(
        mutate=(
            "src/lifesim/engine/kernel.py",
            "src/lifesim/engine/core.py",
            "src/lifesim/engine/exact.py",
            "src/lifesim/engine/recorder.py",
            "src/lifesim/engine/result.py",
        ),
        # tiny hand-computed markets (seconds per mutant); test_exact.py's 200,000-person runs
        # and test_marketing.py's tactic comparisons judge the marketing target instead.
        # test_arrivals.py and test_flows.py (a few seconds each) are the only fast modules
        # that reach core's arrivals and result's transition_matrix/start_counts: without
        # them those functions' 127 mutants had no test. stage_index.py and jit_day.py are
        # not mutated: they run compiled only (with LIFESIM_JIT=0 the engine never calls
        # them past their guard), their mutants were planted by hand (README)
        tests=(
            "tests/engine/test_kernel_mutants.py",
            "tests/engine/test_engine.py",
            "tests/engine/test_timelines.py",
            "tests/engine/test_arrivals.py",
            "tests/engine/test_flows.py",
        ),
    ),
    "engine/marketing": Target(
        mutate=(
            "src/lifesim/engine/marketing.py",
            "src/lifesim/engine/services.py",
            "src/lifesim/engine/budget.py",
            "src/lifesim/engine/offers.py",
            "src/lifesim/engine/contacts.py",
            "src/lifesim/engine/support.py",
        ),
        # whole-simulation tests take ~20 s per mutant (test_pacing_and_side_effects ~3 s): a
        # dedicated module of tiny markets and direct calls, the exact timelines, and the
        # uplift model's hand-computed cases (marketing.py's expected_lift)
        tests=(
            "tests/engine/test_marketing_mutants.py",
            "tests/engine/test_timelines.py",
            "tests/engine/test_uplift.py",
        ),
    ),
}


def slug(name: str) -> str:
    """Folder name of a target's scratch copy."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")


def export_tree(dest: Path, rev: str | None) -> str:
    """Copy the repository (a commit, or the working tree) to ``dest``; return what was copied."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if rev is not None:
        sha = subprocess.check_output(["git", "rev-parse", rev], cwd=ROOT, text=True).strip()
        with tempfile.TemporaryFile() as fh:
            subprocess.run(["git", "archive", sha], cwd=ROOT, stdout=fh, check=True)
            fh.seek(0)
            with tarfile.open(fileobj=fh) as tar:
                tar.extractall(dest, filter="data")
        return sha
    files = subprocess.check_output(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file() or rel.startswith("mutants/"):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    head = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True).strip()
    return f"{head} + working tree"


def write_config(dest: Path, target: Target) -> None:
    """Append this target's ``[tool.mutmut]`` table to the scratch copy's pyproject.toml."""
    tests = [t for t in target.tests if (dest / t).exists()]
    lines = [
        "",
        "[tool.mutmut]",
        'source_paths = ["src"]',
        f"only_mutate = {json.dumps(list(target.mutate))}",
        f"also_copy = {json.dumps(ALSO_COPY)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        # in one process: pyproject's addopts "-n auto" would run the tests in xdist workers,
        # where mutmut's stats (which test calls which function) are lost ("no test covers")
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-n", "0"]',
        "timeout_multiplier = 5.0",
        # polars starts thread pools when first imported (by a test, in the stats run): a child
        # forked from that process hangs on a lock. A fork server that has only collected the
        # tests (none imports polars at module level) stays free of them.
        'process_isolation = "forkserver"',
        "",
    ]
    pyproject = dest / "pyproject.toml"
    text = pyproject.read_text()
    if "[tool.mutmut]" in text:
        raise SystemExit("pyproject.toml already has a [tool.mutmut] table; TARGETS is the config")
    pyproject.write_text(text + "\n".join(lines))


def run_target(
    name: str, workdir: Path, rev: str | None, seed: str, jobs: int, fresh: bool = True
) -> str:
    """Make the scratch copy of one target and run mutmut in it."""
    dest = workdir / slug(name)
    cached = dest / "mutants"
    keep = None
    if cached.exists() and not fresh:  # mutmut's cache: it re-tests only what changed (but it
        # keeps old verdicts when only a non-Python file changed: use the default, a fresh run,
        # for the table)
        keep = workdir / f".{slug(name)}.mutants"
        if keep.exists():
            shutil.rmtree(keep)
        cached.rename(keep)
    source = export_tree(dest, rev)
    if keep is not None:
        keep.rename(dest / "mutants")
    write_config(dest, TARGETS[name])
    # LIFESIM_JIT=0: the tests exercise the NumPy code, the reference that the compiled loops
    # of engine/jit.py must equal bit for bit (tests/engine/test_jit.py); mutmut cannot
    # mutate numba-compiled functions, whose mutants were checked by hand (README)
    env = dict(os.environ, LIFESIM_TEST_SEED=seed, MPLBACKEND="Agg", LIFESIM_JIT="0", **ONE_THREAD)
    mutmut = shutil.which("mutmut") or "mutmut"
    print(f"== {name}: mutmut run in {dest} ({source})", flush=True)
    subprocess.run([mutmut, "run", "--max-children", str(jobs)], cwd=dest, env=env, check=False)
    (dest / "SOURCE").write_text(source + "\n")
    return source


def equivalent_mutants() -> dict[str, str]:
    """Mutant name -> reason, from the table in tests/MUTANTS.md."""
    if not EQUIVALENT_FILE.exists():
        return {}
    out = {}
    for line in EQUIVALENT_FILE.read_text().splitlines():
        m = re.match(r"\|\s*`([\w.]+__mutmut_\d+)`\s*\|(.*)\|\s*$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def collect(name: str, workdir: Path) -> dict[str, object] | None:
    """Read mutmut's per-file results of one target."""
    mutants = workdir / slug(name) / "mutants"
    metas = sorted(mutants.rglob("*.py.meta")) if mutants.exists() else []
    if not metas:
        return None
    codes: dict[str, int | None] = {}
    for meta in metas:
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    equivalent = equivalent_mutants()
    killed_codes = {1, 3, 36, -24, 24, 152, 255, 37}  # failed, pytest error, timeouts
    row: dict[str, object] = {"target": name, "mutants": len(codes)}
    row["killed"] = sum(c in killed_codes for c in codes.values())
    row["timeouts"] = sum(c in (36, -24, 24, 152, 255) for c in codes.values())
    survived = sorted(k for k, c in codes.items() if c == 0)
    row["equivalent"] = sum(k in equivalent for k in survived)
    row["survived"] = [k for k in survived if k not in equivalent]
    row["no_tests"] = sorted(k for k, c in codes.items() if c in (5, 33))
    row["not_checked"] = sum(c is None for c in codes.values())
    row["other"] = sorted(
        k for k, c in codes.items() if c not in killed_codes and c not in (0, 5, 33, None)
    )
    judged = len(codes) - row["equivalent"] - row["not_checked"]
    row["score"] = 100.0 * row["killed"] / judged if judged else float("nan")
    source = workdir / slug(name) / "SOURCE"
    row["source"] = source.read_text().strip() if source.exists() else "?"
    return row


def print_table(rows: list[dict[str, object]]) -> None:
    """Print the per-target table in Markdown (the README's format) and the survivors."""
    print(f"\nMutation score, {dt.date.today().isoformat()} (mutmut, LIFESIM_TEST_SEED fixed)\n")
    print("| package | mutants | killed (timeouts) | survived | equivalent | no tests | score |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| `{r['target']}` | {r['mutants']} | {r['killed']} ({r['timeouts']}) "
            f"| {len(r['survived'])} "
            f"| {r['equivalent']} | {len(r['no_tests'])} | {r['score']:.1f}% |"
        )
    for r in rows:
        left = r["survived"] + r["no_tests"] + r["other"]
        if left:
            print(f"\n{r['target']} ({r['source']}): not killed and not listed as equivalent")
            for k in left:
                print(f"  {k}")
        if r["not_checked"]:
            print(f"{r['target']}: {r['not_checked']} mutants not checked (run interrupted?)")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--rev", help="mutate this commit instead of the working tree")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "lifesim-mutation"
    )
    parser.add_argument("--seed", default="20261123", help="LIFESIM_TEST_SEED for the tests")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested in parallel")
    parser.add_argument("--report-only", action="store_true", help="print the last results")
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="reuse mutmut's cache of the last run (new functions then have no tests mapped)",
    )
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)
    names = args.targets or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {list(TARGETS)}")
    if not args.report_only:
        for name in names:
            run_target(
                name, args.workdir, args.rev, args.seed, args.jobs, fresh=not args.incremental
            )
    rows = [r for n in names if (r := collect(n, args.workdir)) is not None]
    missing = [n for n in names if n not in {r["target"] for r in rows}]
    print_table(rows)
    if missing:
        print(f"\nnot measured: {', '.join(missing)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
