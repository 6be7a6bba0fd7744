"""Report formats: pure renderers of one :class:`~npsdiag.model.Analysis`.

Every format sits behind the same tiny interface, :class:`ReportFormat`, and is listed
in :data:`REPORTS`. Adding a format means adding one module and one entry here (and a
section in ``docs/reports.md``, which a meta-test checks).

Format modules are imported only when a report is rendered, so importing this package
(and ``npsdiag --help``) does not pull in rich or jinja2.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from npsdiag._atomic import write_text_atomic
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
    "guidance_from_entries",
    "render_report",
    "write_report",
]

Renderer = Callable[[Analysis, ReportOptions], str]


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
    """

    name: str
    description: str
    suffix: str
    module: str

    def render(self, analysis: Analysis, options: ReportOptions | None = None) -> str:
        """Render ``analysis`` in this format.

        Args:
            analysis: The result of one run.
            options: Rendering options; defaults when None.

        Returns:
            The whole report as text, ending with a newline.
        """
        module = importlib.import_module(f"npsdiag.report.{self.module}")
        renderer: Renderer = module.render
        return renderer(analysis, options if options is not None else ReportOptions())


REPORTS: dict[str, ReportFormat] = {
    report.name: report
    for report in (
        ReportFormat(
            "terminal",
            "Plain or coloured text for the console: problems, incidents, unread files.",
            ".txt",
            "terminal",
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
        ),
    )
}


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
    """Render ``analysis`` in format ``name`` and write it to ``path`` (UTF-8, ``\\n`` newlines).

    The file is written whole or not at all (:func:`npsdiag._atomic.write_text_atomic`): a
    full disk or an interruption leaves the previous file, never a truncated one.

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
    text = report.render(analysis, options)
    target = Path(path)
    try:
        write_text_atomic(target, text)
    except OSError as error:
        raise UsageError(
            f"cannot write the {name} report to '{target}': {error.strerror or error}",
            hint="check that the folder exists, is writable and has space; "
            "a report is written whole or not at all",
        ) from error
    return target
