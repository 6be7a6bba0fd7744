"""The process's exit codes and the command line being run: what the command modules need
of the CLI without importing it (which imports them to register them)."""

from __future__ import annotations

import shlex
import sys
from enum import IntEnum

__all__ = ["ExitStatus", "invocation", "set_invocation"]


class ExitStatus(IntEnum):
    """Exit codes, documented in docs/cli.md."""

    OK = 0  # analysed, nothing wrong found
    PROBLEMS = 1  # analysed, problems found (or: catalog check found errors)
    USAGE = 2  # usage or input error: nothing could be analysed
    # Cannot tell: the inputs hold no sign-in attempt (analyze), or the bundle could not be
    # collected whole and its analysis found nothing wrong (collect): collect again.
    NO_EVIDENCE = 3
    INTERRUPTED = 130  # Ctrl+C; SIGTERM gives 143 and SIGHUP 129 (128 + the signal)


#: The arguments of the command this process is running (the last call of ``cli.main``).
_arguments: list[list[str]] = []


def set_invocation(arguments: list[str]) -> None:
    """Record the arguments :func:`npsdiag.cli.main` was given."""
    _arguments[:] = [list(arguments)]


def invocation() -> str:
    """The command line being run, as typed: ``npsdiag analyze C:/NPS --html r.html``.

    Taken from what :func:`npsdiag.cli.main` was given, so a report names the command that
    really ran (``main`` is also called with its own arguments, by tests and by tools that
    embed npsdiag).
    """
    arguments = _arguments[-1] if _arguments else sys.argv[1:]
    return " ".join(["npsdiag", *(shlex.quote(argument) for argument in arguments)])
