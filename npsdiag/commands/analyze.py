"""``npsdiag analyze``: the main job."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
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
    app.command(name="analyze", epilog=_EPILOG)(analyze)


def analyze(
    inputs: list[str] = typer.Argument(
        ...,
        metavar="INPUT...",
        help="Files, folders (searched recursively) or glob patterns such as C:\\NPS\\*.evtx.",
    ),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report."),
    json_path: Path | None = typer.Option(
        None, "--json", help="Write the JSON report ('-' = stdout)."
    ),
    markdown: Path | None = typer.Option(None, "--markdown", help="Write a Markdown report."),
    csv_path: Path | None = typer.Option(None, "--csv", help="Write one CSV row per incident."),
    evidence: int = typer.Option(
        DEFAULT_EVIDENCE,
        "--evidence",
        min=0,
        metavar="N",
        help="Evidence events the HTML report lists per incident: the one the diagnosis "
        "rests on and the earliest others (0 = all). Counts and the JSON report keep all.",
    ),
    incidents: int = typer.Option(
        DEFAULT_INCIDENTS,
        "--incidents",
        min=0,
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
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Diagnose exported NPS and NPS extension logs: problems, incidents, unread files."""
    from npsdiag.analyze import analyze_paths
    from npsdiag.catalog import load_catalog
    from npsdiag.clock import parse_offset_rule
    from npsdiag.report import evidence_mode

    _ = debug  # handled by npsdiag.cli.main before the command runs
    command_line = "npsdiag " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    rules = [parse_offset_rule(value) for value in utc_offset]
    catalog = load_catalog()
    outputs = {"html": html, "json": json_path, "markdown": markdown, "csv": csv_path}
    wanted = [name for name, target in outputs.items() if target is not None]
    analysis = analyze_paths(
        inputs,
        catalog=catalog,
        command_line=command_line,
        utc_offsets=rules,
        evidence=evidence_mode(wanted),
    )
    try:
        status = _report(analysis, catalog, outputs, redact, evidence, incidents, quiet)
    finally:
        if analysis.evidence is not None:
            analysis.evidence.close()
    raise typer.Exit(status)


def _report(
    analysis: Analysis,
    catalog: Catalog,
    outputs: dict[str, Path | None],
    redact: bool,
    evidence: int,
    incidents: int,
    quiet: bool,
) -> int:
    """Write the reports asked for and the terminal summary; return the exit status."""
    from npsdiag.report import (
        DEFAULT_MAX_USER_ATTEMPTS,
        REPORTS,
        ReportOptions,
        guidance_from_entries,
        write_report,
    )

    if redact:
        from npsdiag.redact import redact_analysis

        original, analysis = analysis, redact_analysis(analysis)
        if original.evidence is not None:
            original.evidence.close()
    options = ReportOptions(
        guidance=guidance_from_entries(catalog.entries),
        max_evidence=evidence,
        max_incidents=incidents,
        # "list everything" covers the users' attempts too
        max_user_attempts=0 if incidents == 0 else DEFAULT_MAX_USER_ATTEMPTS,
    )
    to_stdout = False
    for name, target in outputs.items():
        if target is None:
            continue
        if str(target) == "-":
            typer.echo(REPORTS[name].render(analysis, options), nl=False)
            to_stdout = True
        else:
            write_report(name, analysis, target, options)
    if not quiet and not to_stdout:
        typer.echo(REPORTS["terminal"].render(analysis, options), nl=False)
    if analysis.evidence is not None:
        analysis.evidence.close()
    return exit_status(analysis.verdict)


def exit_status(verdict: str) -> int:
    """The exit code of a verdict (``npsdiag.model.Verdict``), documented in docs/cli.md."""
    from npsdiag.cli import ExitStatus
    from npsdiag.model import Verdict

    return {
        Verdict.PROBLEMS: ExitStatus.PROBLEMS,
        Verdict.HEALTHY: ExitStatus.OK,
        Verdict.NO_EVIDENCE: ExitStatus.NO_EVIDENCE,
    }[verdict]
