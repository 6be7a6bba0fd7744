"""The ``npsdiag`` command line: thin commands, one place that maps errors to exit codes.

Command modules in ``npsdiag/commands/`` register themselves on :data:`app`; they
must import heavy modules (evtx, lxml, jinja2, pandas) inside the command function so
that ``npsdiag --help`` stays fast.
"""

from __future__ import annotations

import shlex
import sys
from enum import IntEnum

import typer

from npsdiag import __version__
from npsdiag.errors import NpsdiagError


class ExitStatus(IntEnum):
    """Exit codes, documented in docs/cli.md."""

    OK = 0  # analysed, nothing wrong found
    PROBLEMS = 1  # analysed, problems found (or: catalog check found errors)
    USAGE = 2  # usage or input error: nothing could be analysed
    # Cannot tell: the inputs hold no sign-in attempt (analyze), or the bundle could not be
    # collected whole and its analysis found nothing wrong (collect): collect again.
    NO_EVIDENCE = 3
    INTERRUPTED = 130


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
#: The arguments of the command this process is running (the last call of :func:`main`).
_arguments: list[list[str]] = []


def invocation() -> str:
    """The command line being run, as typed: ``npsdiag analyze C:/NPS --html r.html``.

    Taken from what :func:`main` was given, so a report names the command that really ran
    (``main`` is also called with its own arguments, by tests and by tools that embed npsdiag).
    """
    arguments = _arguments[-1] if _arguments else sys.argv[1:]
    return " ".join(["npsdiag", *(shlex.quote(argument) for argument in arguments)])


def _register_commands() -> None:
    # Imported here, not at module top, so a broken command module names itself.
    # main() may run many times in one process (tests): register only once.
    if _registered:
        return
    from npsdiag.commands import register_all

    register_all(app)
    _registered.append(True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; turns NpsdiagError into one line and an exit code."""
    _register_commands()
    args = argv if argv is not None else sys.argv[1:]
    _arguments[:] = [list(args)]
    try:
        # standalone_mode=False so that our errors reach the handler below; click then
        # returns the exit code of typer.Exit instead of calling sys.exit itself.
        result = app(args=args, prog_name="npsdiag", standalone_mode=False)
    except NpsdiagError as error:
        if "--debug" in args:
            raise
        typer.echo(f"npsdiag: error: {error}", err=True)
        sys.exit(error.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("npsdiag: interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as usage:
        # Usage errors come from the click bundled with typer; they know how to show
        # themselves and carry exit code 2.
        show = getattr(usage, "show", None)
        code = getattr(usage, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
    sys.exit(result if isinstance(result, int) else ExitStatus.OK)
