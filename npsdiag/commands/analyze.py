"""``npsdiag analyze``: the main job."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from npsdiag.commands._shared import Command, at_least

if TYPE_CHECKING:
    from npsdiag._progress import AnalyzeProgress
    from npsdiag.catalog import Catalog
    from npsdiag.model import Analysis

#: Equal to ``npsdiag.report.DEFAULT_MAX_EVIDENCE`` and ``DEFAULT_MAX_INCIDENTS`` (tests
#: check); not imported from there, so that ``npsdiag --help`` does not load the report
#: package.
DEFAULT_EVIDENCE = 10
DEFAULT_INCIDENTS = 200

_EPILOG = (
    "Examples:\n\n"
    "  npsdiag analyze C:\\NPS\\*.evtx\n\n"
    "  npsdiag analyze ./logs/ --html report.html --json report.json\n\n"
    "Exit codes: 0 nothing wrong found, 1 problems found, "
    "2 nothing could be analysed or usage error, 3 the inputs hold no sign-in attempt "
    "(cannot tell: export the logs the report names)."
)


def register(app: typer.Typer) -> None:
    """Register ``analyze`` on the app."""
    app.command(name="analyze", epilog=_EPILOG, cls=Command)(analyze)


def analyze(
    inputs: list[str] = typer.Argument(
        ...,
        metavar="INPUT...",
        help="Files, folders (searched recursively) or glob patterns such as C:\\NPS\\*.evtx.",
    ),
    html: Path | None = typer.Option(
        None, "--html", metavar="FILE", help="Write a self-contained HTML report."
    ),
    json_path: Path | None = typer.Option(
        None, "--json", metavar="FILE", help="Write the JSON report ('-' = stdout)."
    ),
    jsonl_path: Path | None = typer.Option(
        None,
        "--jsonl",
        metavar="FILE",
        help="Write JSON Lines: one object per problem, incident, user ... ('-' = stdout).",
    ),
    markdown: Path | None = typer.Option(
        None, "--markdown", metavar="FILE", help="Write a Markdown report."
    ),
    csv_path: Path | None = typer.Option(
        None, "--csv", metavar="FILE", help="Write one CSV row per incident."
    ),
    evidence: int = typer.Option(
        DEFAULT_EVIDENCE,
        "--evidence",
        callback=at_least(0),
        metavar="N",
        help="Evidence events the HTML report lists per incident: the one the diagnosis "
        "rests on and the earliest others (0 = all). Counts and the JSON report keep all.",
    ),
    incidents: int = typer.Option(
        DEFAULT_INCIDENTS,
        "--incidents",
        callback=at_least(0),
        metavar="N",
        help="Incidents (and notices) the HTML and Markdown reports list in detail: the "
        "earliest of every problem and of the undiagnosed failures first, taking turns, then "
        "the rest (0 = all, with every attempt of every user). Counts, problems and users "
        "cover all; CSV and JSON list all.",
    ),
    redact: bool = typer.Option(
        False,
        "--redact",
        help="Replace user names, domains, IPs, tenant ids, thumbprints and host names by "
        "stable pseudonyms in every output.",
    ),
    utc_offset: list[str] = typer.Option(
        [],
        "--utc-offset",
        metavar="[INPUT=]OFFSET",
        help="The clock of inputs whose times carry no time zone (wevtutil text dumps of the "
        "server's local time): an offset such as +01:00 or a zone such as Europe/Berlin "
        "(daylight saving included); INPUT= limits it to inputs whose name matches that "
        "pattern. Without it the offset is inferred from events also in a UTC export.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the terminal summary."),
    no_color: bool = typer.Option(
        False,
        "--no-color",
        help="No colours in the terminal summary (also: the NO_COLOR environment variable).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Diagnose exported NPS and NPS extension logs: problems, incidents, unread files."""
    from npsdiag.analyze import analyze_paths
    from npsdiag.catalog import load_catalog
    from npsdiag.clock import parse_offset_rule
    from npsdiag.exit_status import invocation
    from npsdiag.report import evidence_mode
    from npsdiag.report._output import check_target

    _ = debug  # handled by npsdiag.cli.main before the command runs
    command_line = invocation()
    rules = [parse_offset_rule(value) for value in utc_offset]
    catalog = load_catalog()
    outputs = {
        "html": html,
        "json": json_path,
        "jsonl": jsonl_path,
        "markdown": markdown,
        "csv": csv_path,
    }
    wanted = [name for name, target in outputs.items() if target is not None]
    # Every report path is checked before any input is read.
    for name, target in outputs.items():
        if target is not None and str(target) != "-":
            check_target(target, f"--{name}")
    progress = _progress_display(quiet)
    try:
        analysis = analyze_paths(
            inputs,
            catalog=catalog,
            command_line=command_line,
            utc_offsets=rules,
            evidence=evidence_mode(wanted),
            progress=progress,
        )
        try:
            status = _report(
                analysis,
                catalog,
                outputs,
                _Limits(evidence, incidents),
                redact=redact,
                quiet=quiet,
                no_color=no_color,
                progress=progress,
            )
        finally:
            if analysis.evidence is not None:
                analysis.evidence.close()
    finally:
        if progress is not None:
            progress.close()
    raise typer.Exit(status)


def _progress_display(quiet: bool) -> AnalyzeProgress | None:
    """A progress display on standard error, when a person is watching it."""
    if quiet or not sys.stderr.isatty():
        return None
    from npsdiag._progress import AnalyzeProgress

    display = AnalyzeProgress()
    display.__enter__()
    return display


@dataclass(frozen=True, slots=True)
class _Limits:
    """What the attached reports list at most: ``--evidence`` and ``--incidents``."""

    evidence: int
    incidents: int


def _report(
    analysis: Analysis,
    catalog: Catalog,
    outputs: dict[str, Path | None],
    limits: _Limits,
    *,
    redact: bool,
    quiet: bool,
    no_color: bool,
    progress: AnalyzeProgress | None = None,
) -> int:
    """Write the reports asked for and the terminal summary; return the exit status.

    The summary is laid out for standard output (its width, colour when it is a colour
    terminal), and names each file written ("wrote report.html") after it.
    """
    from npsdiag._screen import screen_of
    from npsdiag.report import (
        DEFAULT_MAX_USER_ATTEMPTS,
        REPORTS,
        ReportOptions,
        guidance_from_entries,
        write_report,
    )

    if redact:
        from npsdiag.redact import redact_analysis

        if progress is not None:
            progress.phase("redacting")
        original, analysis = analysis, redact_analysis(analysis)
        if original.evidence is not None:
            original.evidence.close()
    files = {name: target for name, target in outputs.items() if target and str(target) != "-"}
    html = files.get("html")
    screen = screen_of(sys.stdout, no_color=no_color)
    options = ReportOptions(
        width=screen.width,
        color=screen.color,
        guidance=guidance_from_entries(catalog.entries),
        max_evidence=limits.evidence,
        max_incidents=limits.incidents,
        # "list everything" covers the users' attempts too
        max_user_attempts=0 if limits.incidents == 0 else DEFAULT_MAX_USER_ATTEMPTS,
        html_report=str(html) if html is not None else None,
    )
    to_stdout = next((name for name, target in outputs.items() if str(target) == "-"), None)
    for name, target in files.items():
        if progress is not None:
            progress.phase(f"writing {target.name}")
        write_report(name, analysis, target, options)
    if progress is not None:
        progress.close()
    if to_stdout is not None:
        REPORTS[to_stdout].write(analysis, sys.stdout, options)
        sys.stdout.flush()
    elif not quiet:
        text = REPORTS["terminal"].render(analysis, options)
        typer.echo(text, nl=False, color=screen.color)
    if not quiet:
        # After the summary, so that the last lines on the screen say where the rest is; on
        # standard error when standard output carries a report.
        for target in files.values():
            typer.echo(f"wrote {target}", err=to_stdout is not None)
    if analysis.evidence is not None:
        analysis.evidence.close()
    return exit_status(analysis.verdict)


def exit_status(verdict: str) -> int:
    """The exit code of a verdict (``npsdiag.model.Verdict``), documented in docs/cli.md."""
    from npsdiag.exit_status import ExitStatus
    from npsdiag.model import Verdict

    return {
        Verdict.PROBLEMS: ExitStatus.PROBLEMS,
        Verdict.HEALTHY: ExitStatus.OK,
        Verdict.NO_EVIDENCE: ExitStatus.NO_EVIDENCE,
    }[verdict]
