"""Progress of the long jobs: throttled plain lines, the Python hook, displays that wait for valid
input, and results that do not depend on any of it."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from lifesim._progress import LineProgress, as_progress, auto_progress, format_duration
from lifesim.errors import ConfigError
from tests.robustness._util import cli

SMALL = dict(customers=200, days=10, seed=3, jobs=1)
LINE = re.compile(
    r"^(?P<label>[\w ()-]+): (?P<done>\d+)/(?P<total>\d+) (?P<unit>\w+), (?P<rest>.*)$"
)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _lines(buf: io.StringIO) -> list[str]:
    return buf.getvalue().splitlines()


# -- format_duration --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (7.4, "7 s"), (59.4, "59 s"), (60, "1 min"), (110, "1 min 50 s"),
     (3599, "59 min 59 s"), (3600, "1 h"), (7500, "2 h 5 min"), (-3, "0 s")],
)  # fmt: skip
def test_durations_read_as_people_say_them(seconds, text):
    assert format_duration(seconds) == text


# -- LineProgress ------------------------------------------------------------------------------
def test_a_line_names_the_job_the_count_the_elapsed_time_and_the_eta():
    clock, buf = Clock(), io.StringIO()
    p = LineProgress("compare", "runs", stream=buf, clock=clock)
    clock.t = 35.0
    p(12, 60)  # 35 s for 12 runs: 48 more take 140 s
    clock.t = 175.0
    p(60, 60)
    assert _lines(buf) == [
        "compare: 12/60 runs, 35 s elapsed, ETA 2 min 20 s",
        "compare: 60/60 runs, done in 2 min 55 s",
    ]


def test_lines_are_throttled_by_time_and_by_share_of_the_work():
    clock, buf = Clock(), io.StringIO()
    p = LineProgress("sweep", "points", stream=buf, clock=clock)
    p.begin(100)
    assert _lines(buf) == ["sweep: 0/100 points, started"]
    # one point a second: 10% of the work every 10 s -> a line every 10 s, not one per point
    for k in range(1, 100):
        clock.t = float(k)
        p(k, 100)
    clock.t = 100.0
    p(100, 100)
    lines = _lines(buf)
    done = [int(LINE.match(ln)["done"]) for ln in lines]
    assert done == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert lines[-1] == "sweep: 100/100 points, done in 1 min 40 s"


def test_a_fast_job_writes_its_first_and_last_line_only():
    clock, buf = Clock(), io.StringIO()
    p = LineProgress("compare", stream=buf, clock=clock)
    for k in range(1, 61):  # 60 runs in 3 s: every 10% is reached within min_interval (5 s)
        clock.t = k * 0.05
        p(k, 60)
    assert [int(LINE.match(ln)["done"]) for ln in _lines(buf)] == [1, 60]


def test_a_slow_job_writes_at_least_every_max_interval():
    clock, buf = Clock(), io.StringIO()
    p = LineProgress("audit", stream=buf, clock=clock)
    p.begin(1000)
    for k in range(1, 21):  # one unit every 20 s: far from 10% steps, but 30 s pass
        clock.t = 20.0 * k
        p(k, 1000)
    times = [0] + [20 * k for k in (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)]
    got = [int(LINE.match(ln)["done"]) for ln in _lines(buf)]
    assert got == [t // 20 for t in times]


def test_the_end_is_written_once_and_nothing_after_it():
    clock, buf = Clock(), io.StringIO()
    p = LineProgress("x", stream=buf, clock=clock)
    p(3, 3)
    p(3, 3)
    p(2, 3)
    assert _lines(buf) == ["x: 3/3 runs, done in 0 s"]


def test_the_stream_defaults_to_stderr_at_the_time_of_writing(capsys):
    p = LineProgress("compare")
    p(1, 1)
    assert capsys.readouterr().err == "compare: 1/1 runs, done in 0 s\n"


# -- as_progress -------------------------------------------------------------------------------
def test_as_progress_passes_callables_through_and_tells_displays_the_total():
    def f(done, total):
        pass

    assert as_progress(f, 5, "x") is f
    assert as_progress(None, 5, "x") is None and as_progress(False, 5, "x") is None
    buf = io.StringIO()
    lp = LineProgress("x", stream=buf)
    assert as_progress(lp, 7, "x") is lp and _lines(buf) == ["x: 0/7 runs, started"]


def test_as_progress_refuses_what_is_not_a_callback():
    with pytest.raises(ConfigError, match=r"progress: must be a callable\(done, total\), True"):
        as_progress("yes", 5, "x")


def test_progress_true_draws_nothing_until_the_job_starts(capsys):
    disp = auto_progress("compare", "runs")
    assert capsys.readouterr().err == ""  # made, not shown: an input error would come alone
    disp.begin(4)
    for k in range(1, 5):
        disp(k, 4)
    err = capsys.readouterr().err
    assert "compare" in err and "4/4" in err


# -- the library's hook ------------------------------------------------------------------------
def _record():
    calls: list[tuple[int, int]] = []
    return calls, lambda d, t: calls.append((d, t))


def _assert_counts(calls, total):
    done = [d for d, _ in calls]
    assert calls and all(t == total for _, t in calls), calls
    assert done == sorted(done) and len(set(done)) == len(done), calls
    assert done[-1] == total and done[0] >= 1, calls


def test_compare_reports_every_run_up_to_the_total():
    from lifesim.experiments import compare

    calls, cb = _record()
    compare(None, strategies="none,stage_focused", replications=2, progress=cb, **SMALL)
    _assert_counts(calls, 4)  # 2 strategies x 2 replications ('none' is the counterfactual)


def test_sweep_optimize_and_audit_report_up_to_their_totals(configs_dir):
    from lifesim.config import load_scenario, resolve
    from lifesim.experiments import audit, optimize, sweep

    calls, cb = _record()
    sweep(None, ["budget.per_period=1000:4000:3"], replications=2, progress=cb, **SMALL)
    _assert_counts(calls, 3)
    calls, cb = _record()
    scn = resolve(load_scenario(None), 200, 10)
    optimize(scn, "stage_focused", space=["split.retention=0.1:0.5"], trials=2,
             replications=2, seed=3, progress=cb)  # fmt: skip
    _assert_counts(calls, 3)  # 2 trials + the re-evaluation
    calls, cb = _record()
    trap = configs_dir / "study_short_kpi_trap.yaml"
    audit(trap, repeats=2, truth_replications=1, customers=300, seed=1, progress=cb)
    _assert_counts(calls, 4)  # 2 truth runs (2 arms) + 2 repeats


def test_progress_changes_no_number(capsys):
    from lifesim.experiments import compare, sweep

    kw = dict(strategies="none,stage_focused", replications=2, **SMALL)
    quiet = compare(None, **kw)
    shown = compare(None, progress=True, **kw)
    pd.testing.assert_frame_equal(quiet.runs, shown.runs)
    assert quiet.pairwise.equals(shown.pairwise)
    assert "4/4" in capsys.readouterr().err
    a = sweep(None, ["budget.per_period=1000:4000:2"], replications=2, **SMALL)
    b = sweep(None, ["budget.per_period=1000:4000:2"], replications=2, progress=True, **SMALL)
    pd.testing.assert_frame_equal(a.runs, b.runs)
    assert "2/2" in capsys.readouterr().err


def test_a_bad_input_raises_before_any_display(capsys):
    from lifesim.experiments import sweep

    with pytest.raises(ConfigError, match="replications"):
        sweep(None, ["budget.per_period=1000:4000:2"], replications=1, progress=True, **SMALL)
    assert capsys.readouterr().err == ""


# -- the CLI ----------------------------------------------------------------------------------
def test_the_cli_writes_plain_throttled_lines_when_stderr_is_not_a_terminal(capsys, tmp_path):
    code, _, err = cli(
        capsys, "compare", "--customers", "200", "--days", "10", "-r", "3", "-j", "1",
        "--seed", "2", "--no-report", "--out", tmp_path / "run",
    )  # fmt: skip
    assert code == 0, err
    lines = [m for m in map(LINE.match, err.splitlines()) if m]
    assert lines, err
    assert all(m["label"] == "compare" and m["unit"] == "runs" for m in lines)
    total = int(lines[0]["total"])
    assert total == 9  # 3 strategies x 3 replications
    assert lines[-1]["done"] == str(total) and lines[-1]["rest"].startswith("done in ")
    # a job of a few seconds: its start and its end, not a line per run
    assert len(lines) <= 3, err
    assert "\r" not in err and "\x1b[" not in err  # no bar drawing in a log


def test_the_cli_prints_an_input_error_alone_without_a_progress_line(capsys, tmp_path):
    code, _, err = cli(capsys, "compare", "--customers", "200", "--days", "10", "-r", "1",
                       "--out", tmp_path / "run")  # fmt: skip
    assert code == 2
    assert not [ln for ln in err.splitlines() if LINE.match(ln)], err
    assert "must be a whole number >= 2, got 1" in err
    assert not (tmp_path / "run").exists()


def test_ctrl_c_inside_a_run_exits_130_and_leaves_no_complete_looking_folder(
    capsys, tmp_path, monkeypatch
):
    import lifesim.cli.compare as cmp

    real = cmp.run_compare

    def interrupted_midway(*args, **kwargs):
        shown = kwargs["progress"]

        def cb(done, total):
            shown(done, total)
            if done == 3:
                raise KeyboardInterrupt

        return real(*args, **{**kwargs, "progress": cb})

    monkeypatch.setattr(cmp, "run_compare", interrupted_midway)
    out = tmp_path / "run"
    code, stdout, err = cli(capsys, "compare", "--customers", "200", "--days", "10", "-r", "3",
                            "-j", "1", "--out", out)  # fmt: skip
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert stdout == ""
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary folder left either


def test_ctrl_c_in_a_sweep_says_how_to_resume(capsys, tmp_path, monkeypatch):
    import sys

    import lifesim.experiments  # noqa: F401 - loads the module whose sweep is wrapped

    sw = sys.modules["lifesim.experiments.sweep"]
    real = sw.sweep

    def interrupted_after_two(*args, **kwargs):
        shown = kwargs["progress"]

        def cb(done, total):
            shown(done, total)
            if done == 2:
                raise KeyboardInterrupt

        return real(*args, **{**kwargs, "progress": cb})

    monkeypatch.setattr(sw, "sweep", interrupted_after_two)
    out = tmp_path / "sw"
    args = ["sweep", "--vary", "budget.per_period=1000:4000:3", "--customers", "200",
            "--days", "10", "-r", "2", "-j", "1", "--seed", "1", "--out", out]  # fmt: skip
    code, _, err = cli(capsys, *args)
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert "2 finished point(s) are kept in" in err and "--resume" in err
    assert not out.exists() and len(list((tmp_path / "sw.partial").glob("point-*"))) == 2
    code, _, err = cli(capsys, *args, "--resume")
    assert code == 0, err
    assert (out / "report.html").exists() and not (tmp_path / "sw.partial").exists()


def test_a_real_ctrl_c_stops_the_command_cleanly(tmp_path):
    """SIGINT to a running ``lifesim compare``: 'interrupted', status 130, no run folder."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    env = {**os.environ, "COLUMNS": "100"}
    cmd = [sys.executable, "-c", "from lifesim.cli import main; main()", "compare", "-j", "1",
           "--customers", "300", "--days", "30", "-r", "200", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # the first progress line says the runs have started
    first = proc.stderr.readline().decode()
    assert first.startswith("compare: "), first
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=60)
    err = first + rest.decode()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert stdout == b""
    assert not out.exists() and list(tmp_path.iterdir()) == []


def _on_a_terminal(args, tmp_path):
    """Run ``lifesim ARGS`` with stderr on a pseudo-terminal; (exit status, what it drew)."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from lifesim.cli import main; main()", *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=follower, stdin=subprocess.DEVNULL, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process has gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_a_terminal_gets_a_bar_with_an_eta_and_an_input_error_gets_no_bar(tmp_path):
    small = ["--customers", "200", "--days", "10", "-j", "1", "--no-report"]
    code, drawn = _on_a_terminal(["compare", "-r", "3", *small, "--out", "run"], tmp_path)
    assert code == 0, drawn
    assert "compare" in drawn and "9/9" in drawn and "ETA" in drawn
    assert "done in" not in drawn  # a bar, not the lines of a log
    code, drawn = _on_a_terminal(["compare", "-r", "1", *small, "--out", "bad"], tmp_path)
    assert code == 2
    assert "--replications: must be a whole number >= 2, got 1" in drawn
    assert "ETA" not in drawn and "0/" not in drawn


def test_the_eta_of_a_resumed_job_counts_only_the_work_of_this_run():
    clock, buf = Clock(), io.StringIO()
    p = LineProgress("sweep", "points", stream=buf, clock=clock)
    p.begin(10, done=6)
    clock.t = 20.0
    p(7, 10)  # 6 points were done before; this run's first took 20 s: 3 more take 60 s
    assert _lines(buf) == [
        "sweep: 6/10 points, started",
        "sweep: 7/10 points, 20 s elapsed, ETA 1 min",
    ]


def test_simulate_takes_progress_true_and_refuses_other_kinds(capsys):
    import lifesim
    from lifesim.errors import ConfigError

    a = lifesim.simulate(customers=300, days=12, seed=3, progress=True)
    err = capsys.readouterr().err
    assert "simulate default" in err and "12" in err  # a display on stderr, with the total
    b = lifesim.simulate(customers=300, days=12, seed=3)
    assert a.stage_counts.equals(b.stage_counts)  # progress changes no number
    with pytest.raises(ConfigError, match="progress: must be a callable"):
        lifesim.simulate(customers=300, days=12, progress="yes")


def test_a_recorded_ctrl_c_stops_at_the_next_progress_update():
    from lifesim import _progress

    bar = LineProgress("compare", stream=io.StringIO())
    bar(1, 10)  # nothing recorded: carries on
    _progress.interrupt()
    try:
        with pytest.raises(KeyboardInterrupt):
            bar(2, 10)
    finally:
        _progress.interrupt(False)
    bar(3, 10)


def test_a_ctrl_c_python_drops_in_a_finaliser_still_stops_the_command(monkeypatch, capsys):
    # numba compiling on a machine's first run runs finalisers; a KeyboardInterrupt raised
    # inside one is dropped ("Exception ignored in ..."), and the command ran on to the end
    import signal

    import lifesim.cli as cli

    class Finaliser:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)

    seen = []

    def fake_app(args, prog_name, standalone_mode):
        Finaliser()  # the Ctrl-C lands in its finaliser and is dropped there
        seen.append("ran on")
        LineProgress("compare", stream=io.StringIO())(1, 10)  # the next update stops it
        seen.append("finished")
        return 0

    monkeypatch.setattr(cli, "app", fake_app)
    before = signal.getsignal(signal.SIGINT)  # (a test worker may start with SIGINT ignored)
    assert cli._run(["compare"]) == 130
    assert seen == ["ran on"] and "interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before  # put back
