"""One error hierarchy for the whole library.

Every error carries a one-line, user-facing message that names the input and the
next step; ``npsdiag.cli`` is the only place that turns them into stderr lines and
exit codes.
"""

from __future__ import annotations


class NpsdiagError(Exception):
    """Base class of every error npsdiag raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(NpsdiagError):
    """The command line asks for something that cannot be done."""


class InputError(NpsdiagError):
    """An input file or folder cannot be read at all."""


class EvtxReadError(InputError):
    """An .evtx file cannot be opened or read."""


class XmlReadError(InputError):
    """An XML event export cannot be parsed."""


class TextDumpError(InputError):
    """A wevtutil text dump or REG QUERY dump cannot be decoded."""


class FactsReadError(InputError):
    """A file collected on the server (certificate listing, audit policy, extension version,
    collection manifest) cannot be read."""


class CollectError(NpsdiagError):
    """``npsdiag collect`` cannot start or cannot write its bundle (not Windows, bad output)."""


class BundleError(InputError):
    """A support bundle (.zip) is unsafe, corrupt or over a limit."""


class NothingToAnalyseError(InputError):
    """No input yielded anything that npsdiag could analyse."""


class DatasetError(NpsdiagError):
    """The fleet dataset (``npsdiag batch --dataset``) cannot be written."""


class ClusterError(NpsdiagError):
    """A batch cannot run on the Dask cluster it was given (``npsdiag batch --scheduler``):
    the scheduler cannot be reached, has no workers, or a worker cannot see the inputs or
    the output folder at the paths this machine uses."""


class CatalogError(NpsdiagError):
    """The catalog data is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        head = problems[0] if problems else "catalog is invalid"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(head + more)


class ScenarioError(NpsdiagError):
    """A scenario file has unknown keys or impossible values."""


class EvtxWriteError(NpsdiagError):
    """A value cannot be encoded into a valid EVTX file."""
