"""Every `lifesim ab`, `lifesim churn` and `lifesim datasets` line of the README runs as written.

The lines are taken from the README's ```bash blocks (backslash continuations joined, ``#``
comments dropped by the shell rules of :mod:`shlex`) and run in a fresh folder that holds the
example data (``lifesim datasets get all --out .``, as the README says), block by block in README
order, in process through the same entry point as the ``lifesim`` script (its exit code), so a
block's later lines see the files its earlier lines wrote (``churn train`` -> ``churn score``).

Not run, and listed by :func:`test_the_lines_not_run_are_exactly_the_known_ones` so that none is
dropped silently:

* lines with a ``...`` placeholder (the user fills it in);
* lines reading the output of a command this test does not run (``lifesim experiment run``
  takes about two minutes): named in ``NEEDS_OTHER_RUN``.

Other README commands (``lifesim compare``, ``simulate``, ``sweep``...) are run elsewhere
(tests/test_cli.py) on smaller inputs. The README's Python blocks are run here with smaller
sizes (``SHRINK``), and their ``x  # col, col, ...`` comments are checked against x's columns.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PREFIXES = ("lifesim ab ", "lifesim churn ", "lifesim datasets ")
#: Inputs written by commands not run here -> why.
NEEDS_OTHER_RUN = {
    "runs/trap/dataset.csv": "written by `lifesim experiment run` (about two minutes)",
}


def _bash_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, logical lines) of every ```bash block, continuations joined."""
    blocks = []
    for m in re.finditer(r"^```(?:bash|sh|shell|console)\n(.*?)^```", text, re.M | re.S):
        start = text.count("\n", 0, m.start()) + 2
        lines, cur = [], ""
        for raw in m.group(1).splitlines():
            part = raw.rstrip()
            if part.endswith("\\"):
                cur += part[:-1] + " "
                continue
            lines.append((cur + part).strip())
            cur = ""
        blocks.append((start, lines))
    return blocks


def _commands() -> tuple[list[tuple[str, list[str]]], list[tuple[str, str]]]:
    """([(block id, [command line, ...]), ...], [(line, reason not run), ...])."""
    run, not_run = [], []
    for start, lines in _bash_blocks(README.read_text(encoding="utf-8")):
        chosen = []
        for line in lines:
            if not line.startswith(PREFIXES):
                continue
            if "..." in line:
                not_run.append((line, "a '...' placeholder"))
                continue
            need = [why for path, why in NEEDS_OTHER_RUN.items() if path in line]
            if need:
                not_run.append((line, need[0]))
                continue
            chosen.append(line)
        if chosen:
            run.append((f"README-line-{start}", chosen))
    return run, not_run


RUN, NOT_RUN = _commands()


def test_the_readme_has_runnable_examples():
    lines = [line for _, block in RUN for line in block]
    assert sum(line.startswith("lifesim ab ") for line in lines) >= 8
    assert sum(line.startswith("lifesim churn ") for line in lines) >= 5
    setup = ["lifesim", "datasets", "get", "all", "--out", "."]
    assert any(shlex.split(line, comments=True) == setup for line in lines)


def test_the_lines_not_run_are_exactly_the_known_ones():
    reasons = sorted(why for _, why in NOT_RUN)
    assert reasons == sorted(NEEDS_OTHER_RUN.values()), NOT_RUN


@pytest.fixture(scope="module")
def example_data(tmp_path_factory) -> Path:
    """The example data, written once by the real `lifesim` script as the README says."""
    folder = tmp_path_factory.mktemp("example-data")
    exe = shutil.which("lifesim") or str(Path(sys.executable).with_name("lifesim"))
    r = subprocess.run(
        [exe, "datasets", "get", "all", "--out", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return folder


@pytest.mark.parametrize("block", [b for _, b in RUN], ids=[i for i, _ in RUN])
def test_readme_block_runs_as_written(block, example_data, tmp_path, monkeypatch, capsys):
    from lifesim.cli import _run

    work = tmp_path / "work"
    if block[0].startswith("lifesim datasets "):
        work.mkdir()  # the data block starts from an empty folder
    else:
        shutil.copytree(example_data, work)
    monkeypatch.chdir(work)
    for line in block:
        args = shlex.split(line, comments=True)
        assert args[0] == "lifesim"
        code = _run(args[1:])
        out, err = capsys.readouterr()
        assert code == 0, f"{line}\nexit {code}\n{err[-2000:]}"
        assert out.strip() or "--out" in args, f"{line}: no output"
        if "--out" in args:  # what the line says it writes is there
            assert (work / args[args.index("--out") + 1]).exists(), line


def _ab_conventions_paragraph() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("Conventions (all printed with the results)")
    return " ".join(text[start : text.index("\n\n", start)].split())


# method -> what `ab analyze` prints for it (its "Methods" and "Conventions" lines)
AB_METHODS = {
    "pooled two-proportion z-test": "two-proportion z-test (pooled SE under H0",
    "Farrington-Manning": "abs CI: Farrington-Manning score interval",
    "Koopman": "rel CI: Koopman score interval of the risk ratio",
    "Welch t-test": "Welch t-test",
    "delta method on the log ratio": "rel CI: delta method on log ratio of means",
    "CUPED with theta pooled over all arms": "cov/var over all units of all arms",
    "ratios of sums by the delta method at the unit level": "ratio of sums, delta method",
    "flagged at p < 0.001": "(flag if p < 0.001)",
}


def test_the_readme_names_the_methods_ab_analyze_prints(example_data, monkeypatch, capsys):
    """The README's A/B conventions are those of the output (it once said 'Wald CI' and
    'log-risk-ratio CI' for proportions, which print score intervals)."""
    from lifesim.cli import _run

    readme = _ab_conventions_paragraph()
    monkeypatch.chdir(example_data)
    args = "ab analyze experiment.csv --arm variant --control control --proportion converted"
    args += " --mean revenue --covariate revenue=pre_revenue --ratio clicks/sessions"
    assert _run(args.split()) == 0
    out = " ".join(capsys.readouterr().out.split())
    for said, printed in AB_METHODS.items():
        assert said in readme, said
        assert printed in out, printed
    assert "Wald" not in readme and "log-risk-ratio" not in readme


# The README's Python blocks, run as written except for their sizes (a 100,000-person run and a
# 20-replication comparison of 20,000 people belong in a notebook, not in the test suite).
SHRINK = {
    "customers=100_000)": "customers=2_000, days=30)",
    "replications=20, seed=1, jobs=2)": "replications=2, seed=1, jobs=1, customers=500, days=30)",
    "replications=4,": "replications=2,",
}
COLUMNS = re.compile(r"^(\w[\w.]*(?:\(\))?)\s+#\s*(\w+(?:, \w+)+)\s*$")


def _python_blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in re.finditer(r"^```python\n(.*?)^```", text, re.M | re.S)
    ]


def test_the_readme_has_python_blocks_and_every_shrink_applies():
    code = "".join(block for _, block in _python_blocks())
    assert len(_python_blocks()) >= 2
    for old in SHRINK:
        assert old in code, f"the README no longer has {old!r}: update SHRINK"


@pytest.mark.parametrize(
    "block", [b for _, b in _python_blocks()], ids=[f"line-{n}" for n, _ in _python_blocks()]
)
def test_readme_python_block_runs_and_its_column_comments_hold(block, tmp_path, monkeypatch):
    """Each block runs (smaller) and a line `x  # a, b, c` names x's first columns."""
    import matplotlib

    matplotlib.use("Agg")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)  # the sankey's flows.png lands here
    for old, new in SHRINK.items():
        block = block.replace(old, new)
    env: dict = {}
    checks = []
    for line in block.splitlines():
        m = COLUMNS.match(line.strip())
        if m:
            checks.append((m.group(1), m.group(2).split(", ")))
    exec(compile(block, "README.md", "exec"), env)  # noqa: S102 - the README's own code
    for expr, cols in checks:
        got = list(eval(expr, env).columns)  # noqa: S307
        assert got[: len(cols)] == cols, (expr, got)
    assert checks  # the README documents some columns this way


def test_the_readme_s_monte_carlo_error_of_p_beat_is_the_printed_one(
    example_data, monkeypatch, capsys
):
    """The README gives P(beat)'s Monte Carlo error at 200,000 draws (it once said 'about 0.001',
    which holds only near 50%; the example's 99.65% prints 0.00013)."""
    import json
    import math

    from lifesim.cli import _run

    text = " ".join(README.read_text(encoding="utf-8").split())
    m = re.search(r"sqrt\(P \(1 - P\) / draws\): at 200,000 draws at most ([\d.]+), at P\(beat\)"
                  r" = 50%, and ([\d.]+) at ([\d.]+)%", text)  # fmt: skip
    assert m, "the README no longer states P(beat)'s Monte Carlo error"
    top, small, at = (float(g) for g in m.groups())
    assert top == pytest.approx(math.sqrt(0.25 / 200_000), abs=5e-5)
    assert small == pytest.approx(math.sqrt(at / 100 * (1 - at / 100) / 200_000), abs=5e-6)
    monkeypatch.chdir(example_data)
    args = "ab analyze experiment.csv --arm variant --control control --proportion converted"
    assert _run([*args.split(), "--bayes", "--format", "json"]) == 0
    (post,) = json.loads(capsys.readouterr().out)["posteriors"]
    assert post["draws"] == 200_000 and round(100 * post["prob_beat_control"], 2) == at
    assert post["mc_se_prob"] == pytest.approx(small, abs=5e-6)
