"""The ``lifesim`` command line: parses, calls the library, prints. No logic here."""

from __future__ import annotations

import atexit
import os
import signal
import sys

import typer
from rich.markup import escape
from typer.exceptions import TyperException

from lifesim import _progress
from lifesim._io import WriteError
from lifesim.cli import ab as _ab
from lifesim.cli import calibrate as _calibrate
from lifesim.cli import churn as _churn
from lifesim.cli import compare as _compare
from lifesim.cli import datasets as _datasets
from lifesim.cli import experiment as _experiment
from lifesim.cli import optimize as _optimize
from lifesim.cli import sim as _sim
from lifesim.cli import sweep as _sweep
from lifesim.cli._common import flag_map, in_flag_words, stderr
from lifesim.errors import LifesimError

__all__ = ["app", "main"]

app = typer.Typer(
    name="lifesim",
    help="Customer-lifecycle simulator, A/B analysis and churn prediction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from lifesim._version import __version__

        typer.echo(f"lifesim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Customer-lifecycle simulator, A/B analysis and churn prediction."""


app.command("simulate")(_sim.simulate)
app.command("validate")(_sim.validate)
app.command("compare")(_compare.compare)
app.command("calibrate")(_calibrate.calibrate)
app.command("sweep")(_sweep.sweep)
app.command("optimize")(_optimize.optimize)
app.add_typer(_ab.app, name="ab")
app.add_typer(_churn.app, name="churn")
app.add_typer(_experiment.app, name="experiment")
app.add_typer(_datasets.app, name="datasets")


INTERRUPTED = (
    "stopped before the end; nothing half-written was kept (outputs are written atomically "
    "at the end), and files from earlier runs are unchanged"
)


TERMINATED = (
    "stopped by a termination signal ({name}) before the end; nothing half-written was kept "
    "(outputs are written atomically at the end), and files from earlier runs are unchanged"
)
#: Signals that stop a command as Ctrl-C does (cleaning up): SIGTERM (``kill``, ``timeout``)
#: and, where it exists, SIGHUP (the terminal closed). Exit status 128 + the signal's number
#: (143, 129), what a shell reports for a command killed so.
TERM_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_TERMINATED = [0]  # the termination signal that arrived during this command (0: none)


class _Terminated(KeyboardInterrupt):
    """Raised by the SIGTERM handler: unwinds like Ctrl-C, so the atomic writers clean up."""


def _say(head: str, message: str) -> None:
    stderr.print(f"[bold red]{head}:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _given_flags(argv: list[str] | None) -> dict[str, str]:
    """Map the Python parameter names of the command in ``argv`` to the flags given for them.

    ``lifesim compare -r 1 --customers 0`` gives ``{"replications": "--replications",
    "customers": "--customers"}``. Only flags on the command line are mapped (a value from the
    scenario file keeps the library's name).
    """
    try:
        args = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
        cmd = typer.main.get_command(app)
        for a in args:
            sub = getattr(cmd, "commands", {})
            if a in sub:
                cmd = sub[a]
            elif not a.startswith("-"):
                break
        given = {a.split("=", 1)[0] for a in args if a.startswith("-")}
        return flag_map(cmd.params, lambda p: given.intersection([*p.opts, *p.secondary_opts]))
    except Exception:  # noqa: BLE001 - naming flags is a comfort; the message itself stands
        return {}


def _on_ctrl_c(signum: int, frame: object) -> None:
    """Ctrl-C: remember it (the progress display raises it again if Python drops it)."""
    _progress.interrupt()
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM or SIGHUP: stop as on Ctrl-C, so temporary outputs are removed."""
    _TERMINATED[0] = int(signum)
    _progress.interrupt()
    raise _Terminated


def _run(argv: list[str] | None) -> int:
    """Run the app; turn every failure into an exit code and a one-paragraph message."""
    _progress.interrupt(False)
    _TERMINATED[0] = 0
    handlers = {signal.SIGINT: _on_ctrl_c, **{sig: _on_sigterm for sig in TERM_SIGNALS}}
    old = {}
    try:
        for sig, handler in handlers.items():
            old[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: Python's own handling
        pass
    try:
        rc = _run_app(argv)
    except KeyboardInterrupt:  # a signal while the message was being written
        rc = 130
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if _TERMINATED[0] and rc in (0, 130):
        # stopped by SIGTERM/SIGHUP: the interrupted-message path said "interrupted"; say why
        rc = 128 + _TERMINATED[0]
    return rc


def _interrupted() -> int:
    """Say why the command stopped early; return its exit status (130 Ctrl-C, 128 + signal)."""
    if _TERMINATED[0]:
        _say("terminated", TERMINATED.format(name=signal.Signals(_TERMINATED[0]).name))
        return 128 + _TERMINATED[0]
    _say("interrupted", INTERRUPTED)
    return 130


_PARSE_WORDS = {
    "Input should be a valid integer, unable to parse string as an integer": "a whole number",
    "Input should be a valid integer, got a number with a fractional part": "a whole number",
    "Input should be a valid number, unable to parse string as a number": "a number",
}


def _given_value(flags: list[str], argv: list[str]) -> str | None:
    """Return the value given on the command line for a flag (``--f v``, ``--f=v``) or None."""
    for i, a in enumerate(map(str, argv)):
        for f in flags:
            if a == f and i + 1 < len(argv):
                return str(argv[i + 1])
            if a.startswith(f + "="):
                return a[len(f) + 1 :]
    return None


def _plain_bad_parameter(exc: Exception, argv: list[str]) -> None:
    """Word a flag's bad value as lifesim's other messages do (the value and what is allowed).

    Typer's parsing says "Value error, 'x' is not one of ..." and "Input should be a valid
    integer, unable to parse string as an integer" (without the value given).
    """
    msg = getattr(exc, "message", None)
    if not isinstance(msg, str):
        return
    msg = msg.removeprefix("Value error, ")
    param = getattr(exc, "param", None)
    kind = _PARSE_WORDS.get(msg)
    if kind is not None and param is not None:
        given = _given_value(list(getattr(param, "opts", [])), argv)
        msg = f"must be {kind}, got {given!r}" if given is not None else f"must be {kind}"
    exc.message = msg


def _run_app(argv: list[str] | None) -> int:
    debug = os.environ.get("LIFESIM_DEBUG", "") not in ("", "0")
    try:
        rc = app(args=argv, prog_name="lifesim", standalone_mode=False)
        sys.stdout.flush()
        if rc == 130:  # typer turns Ctrl-C into a silent return of 130
            return _interrupted()
        return rc if isinstance(rc, int) else 0
    except (KeyboardInterrupt, typer.Abort):
        return _interrupted()
    except typer.Exit as exc:
        if exc.exit_code == 130:
            return _interrupted()
        return exc.exit_code
    except TyperException as exc:  # usage errors: typer prints them the usual way (exit 2)
        _plain_bad_parameter(exc, sys.argv[1:] if argv is None else argv)
        exc.show()
        return exc.exit_code
    except WriteError as exc:
        if debug:
            raise
        _say("error", str(exc))
        return 1
    except LifesimError as exc:
        if debug:
            raise
        _say("error", str(in_flag_words(exc, _given_flags(argv))))
        return 2
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        if debug:
            raise
        _say("error", str(exc))
        return 2
    except MemoryError:
        if debug:
            raise
        _say("error", "out of memory; try fewer customers, days or replications")
        return 1
    except OSError as exc:  # a full disk, a closed pipe, a device error
        if debug:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        _say("error", f"{exc.strerror or exc}{where}")
        return 1
    except Exception as exc:  # a bug: say so without a traceback (LIFESIM_DEBUG=1 shows it)
        if debug:
            raise
        _say(
            "internal error",
            f"{type(exc).__name__}: {exc}. This is a bug in lifesim; run again with "
            "LIFESIM_DEBUG=1 to see the traceback, and report it",
        )
        return 1


def _stop_workers() -> None:
    """Shut down joblib's reusable worker processes, if any were started."""
    loky = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(loky, "_executor", None) if loky is not None else None
    if executor is not None:
        try:
            executor.shutdown(wait=True, kill_workers=True)
        except Exception:  # noqa: BLE001 - leaving anyway; the workers exit on their own
            pass


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lifesim`` console script.

    Exit status: 0 success, 2 bad input (a message naming the problem, no traceback),
    1 an environment failure (full disk, out of memory) or a bug, 130 interrupted (Ctrl-C),
    143 terminated (SIGTERM, e.g. ``kill`` or ``timeout``), 129 hung up (SIGHUP, the terminal
    closed); either way no temporary output is left behind.
    ``LIFESIM_DEBUG=1`` shows tracebacks.
    """
    code = _run(argv)
    try:
        sys.stdout.flush()
    except OSError as exc:  # stdout on a full device
        _say("error", f"could not write the output: {exc.strerror or exc}")
        code = 1
    if argv is None:
        # the console script: stop the parallel workers (they hold our stdout/stderr open, so
        # a pipe reading us would wait for their idle timeout), then leave at once, skipping
        # the interpreter's teardown, where native thread pools (pyarrow, polars, OpenMP)
        # could abort an already finished run
        _stop_workers()
        atexit._run_exitfuncs()  # joblib's temporary folders, logging: the usual cleanup
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
