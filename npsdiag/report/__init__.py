"""Report formats: pure renderers of one :class:`~npsdiag.model.Analysis`.

Every format sits behind the same tiny interface, :class:`ReportFormat`, and is listed
in :data:`REPORTS`. Adding a format means adding one module and one entry here (and a
section in ``docs/reports.md``, which a meta-test checks).

Format modules are imported only when a report is rendered, so importing this package
(and ``npsdiag --help``) does not pull in rich or jinja2.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from npsdiag._atomic import open_text_atomic
from npsdiag.errors import UsageError
from npsdiag.model import Analysis
from npsdiag.report._view import (
    DEFAULT_MAX_EVIDENCE,
    DEFAULT_MAX_INCIDENTS,
    DEFAULT_MAX_USER_ATTEMPTS,
    TIME_FORMAT,
    Guidance,
    ReportOptions,
)

__all__ = [
    "DEFAULT_MAX_EVIDENCE",
    "DEFAULT_MAX_INCIDENTS",
    "DEFAULT_MAX_USER_ATTEMPTS",
    "REPORTS",
    "TIME_FORMAT",
    "Guidance",
    "GuidanceSource",
    "ReportFormat",
    "ReportOptions",
    "evidence_mode",
    "guidance_from_entries",
    "render_report",
    "write_report",
]

Renderer = Callable[[Analysis, ReportOptions], str]
Writer = Callable[[Analysis, ReportOptions, TextIO], None]


class GuidanceSource(Protocol):
    """Anything with a catalog entry's guidance fields (``npsdiag.catalog.CatalogEntry`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def cause(self) -> str: ...
    @property
    def steps(self) -> tuple[str, ...]: ...
    @property
    def collect(self) -> tuple[str, ...]: ...
    @property
    def references(self) -> tuple[str, ...]: ...


def guidance_from_entries(entries: Iterable[GuidanceSource]) -> dict[str, Guidance]:
    """Index the guidance of catalog entries by id, for :attr:`ReportOptions.guidance`.

    Example::

        options = ReportOptions(guidance=guidance_from_entries(catalog.entries))
    """
    return {
        entry.id: Guidance(
            cause=entry.cause,
            steps=tuple(entry.steps),
            collect=tuple(entry.collect),
            references=tuple(entry.references),
            # Only catalog entries know which steps are fixes; other guidance sources have none.
            fixes=tuple(getattr(entry, "fixes", ())),
            kinds=tuple(getattr(entry, "step_kinds", ())),
        )
        for entry in entries
    }


@dataclass(frozen=True, slots=True)
class ReportFormat:
    """One report format.

    Attributes:
        name: the format's name on the command line and in :data:`REPORTS`.
        description: one line saying what the report is for.
        suffix: the usual file suffix, with the dot.
        module: the module (under ``npsdiag.report``) whose ``render`` does the work.
        shows_evidence: whether the report shows evidence events (their fields and text):
            only then must the analysis keep the events' payloads (``npsdiag.evidence``).
    """

    name: str
    description: str
    suffix: str
    module: str
    shows_evidence: bool = True
    #: The module's function that writes the report to a stream, when it has one (the
    #: formats that hold every incident write as they go); else ``render`` is written.
    writer: str | None = None

    def render(self, analysis: Analysis, options: ReportOptions | None = None) -> str:
        """Render ``analysis`` in this format.

        Args:
            analysis: The result of one run.
            options: Rendering options; defaults when None.

        Returns:
            The whole report as text, ending with a newline.
        """
        if self.writer is not None:
            buffer = io.StringIO()
            self.write(analysis, buffer, options)
            return buffer.getvalue()
        module = importlib.import_module(f"npsdiag.report.{self.module}")
        renderer: Renderer = module.render
        return renderer(analysis, options if options is not None else ReportOptions())

    def write(
        self, analysis: Analysis, stream: TextIO, options: ReportOptions | None = None
    ) -> None:
        """Write ``analysis`` in this format to ``stream`` (as a stream when it can)."""
        options = options if options is not None else ReportOptions()
        if self.writer is None:
            stream.write(self.render(analysis, options))
            return
        module = importlib.import_module(f"npsdiag.report.{self.module}")
        writer: Writer = getattr(module, self.writer)
        writer(analysis, options, stream)


REPORTS: dict[str, ReportFormat] = {
    report.name: report
    for report in (
        ReportFormat(
            "terminal",
            "Plain or coloured text for the console: problems, incidents, unread files.",
            ".txt",
            "terminal",
            shows_evidence=False,
        ),
        ReportFormat(
            "html",
            "One self-contained page with timeline and expandable evidence, to attach to tickets.",
            ".html",
            "html",
        ),
        ReportFormat(
            "json",
            "The whole analysis as versioned JSON (docs/report-json-schema.md), for tools.",
            ".json",
            "json",
            writer="write",
        ),
        ReportFormat(
            "jsonl",
            "JSON Lines: one self-contained object per problem, incident, user ..., for "
            "streaming consumers.",
            ".jsonl",
            "json",
            writer="write_lines",
        ),
        ReportFormat(
            "markdown",
            "A compact summary to paste into a ticket or chat.",
            ".md",
            "markdown",
        ),
        ReportFormat(
            "csv",
            "One row per incident, for spreadsheets and filtering.",
            ".csv",
            "csv",
            shows_evidence=False,
            writer="write",
        ),
    )
}


def evidence_mode(names: Iterable[str]) -> str:
    """How ``npsdiag.analyze.analyze_paths`` should keep evidence for these reports."""
    from npsdiag.evidence import DROP, SPILL

    return SPILL if any(_lookup(name).shows_evidence for name in names) else DROP


def _lookup(name: str) -> ReportFormat:
    try:
        return REPORTS[name]
    except KeyError:
        known = ", ".join(REPORTS)
        raise UsageError(
            f"unknown report format '{name}'", hint=f"expected one of: {known}"
        ) from None


def render_report(name: str, analysis: Analysis, options: ReportOptions | None = None) -> str:
    """Render ``analysis`` in the format called ``name``.

    Raises:
        UsageError: ``name`` is not a format in :data:`REPORTS`.
    """
    return _lookup(name).render(analysis, options)


def write_report(
    name: str,
    analysis: Analysis,
    path: str | Path,
    options: ReportOptions | None = None,
) -> Path:
    """Write ``analysis`` in format ``name`` to ``path`` (UTF-8, ``\\n`` newlines), atomically.

    The file is written whole or not at all (:func:`npsdiag._atomic.open_text_atomic`), as a
    stream for the formats that write one: a full disk or an interruption leaves the previous
    file, never a truncated one.

    Args:
        name: A key of :data:`REPORTS`.
        analysis: The result of one run.
        path: The file to create or replace.
        options: Rendering options; defaults when None.

    Returns:
        The path written.

    Raises:
        UsageError: ``name`` is unknown or the file cannot be written.
    """
    report = _lookup(name)
    target = Path(path)
    try:
        with open_text_atomic(target) as stream:
            report.write(analysis, stream, options)
    except OSError as error:
        raise UsageError(
            f"cannot write the {name} report to '{target}': {error.strerror or error}",
            hint="check that the folder exists, is writable and has space; "
            "a report is written whole or not at all",
        ) from error
    return target
