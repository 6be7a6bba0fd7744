"""The ``npsdiag`` command line: thin commands, one place that maps errors to exit codes.

Command modules in ``npsdiag/commands/`` register themselves on :data:`app`; they
must import heavy modules (evtx, lxml, jinja2, pandas) inside the command function so
that ``npsdiag --help`` stays fast.
"""

from __future__ import annotations

import io
import sys

import typer

from npsdiag import __version__
from npsdiag._signals import Terminated, stopping_on_signals
from npsdiag._visible import visible, visible_lines
from npsdiag.errors import NpsdiagError
from npsdiag.exit_status import ExitStatus, set_invocation

app = typer.Typer(
    name="npsdiag",
    help="Diagnose NPS extension for Microsoft Entra (Azure) MFA failures from exported logs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"npsdiag {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Diagnose NPS extension for Microsoft Entra (Azure) MFA failures from exported logs."""


_registered: list[bool] = []


def _register_commands() -> None:
    # Imported here, not at module top, so a broken command module names itself.
    # main() may run many times in one process (tests): register only once.
    if _registered:
        return
    from npsdiag.commands import register_all

    register_all(app)
    _registered.append(True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; turns NpsdiagError into one line and an exit code.

    SIGTERM and SIGHUP stop a run the way Ctrl+C does (``npsdiag._signals``): temporary
    files go, batch workers stop, and the exit code is 128 + the signal's number. Everything
    written to standard error passes :func:`npsdiag._visible.visible`: file names and event
    text may hold escape sequences.
    """
    _register_commands()
    args = argv if argv is not None else sys.argv[1:]
    set_invocation(list(args))
    try:
        with stopping_on_signals():
            # standalone_mode=False so that our errors reach the handlers below; click then
            # returns the exit code of typer.Exit instead of calling sys.exit itself.
            result = app(args=args, prog_name="npsdiag", standalone_mode=False)
    except NpsdiagError as error:
        if "--debug" in args:
            raise
        _error(f"npsdiag: error: {error}")
        sys.exit(error.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        _error("npsdiag: interrupted")
        sys.exit(ExitStatus.INTERRUPTED)
    except Terminated as stop:
        _error(f"npsdiag: {stop}")
        sys.exit(stop.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as usage:
        # Usage errors come from the click bundled with typer; they know how to show
        # themselves (usage line, message) and carry exit code 2. What they quote was typed
        # by the user, or is a file name: shown with the same care.
        show = getattr(usage, "show", None)
        code = getattr(usage, "exit_code", None)
        if callable(show) and isinstance(code, int):
            shown = io.StringIO()
            show(file=shown)
            typer.echo(visible_lines(shown.getvalue().rstrip("\n")), err=True)
            sys.exit(code)
        raise
    sys.exit(result if isinstance(result, int) else ExitStatus.OK)


def _error(text: str) -> None:
    """One line on standard error, every character in it made visible (a line end too)."""
    typer.echo(visible(text), err=True)
