"""``npsdiag collect``: gather a support bundle on the NPS server, then analyse it."""

from __future__ import annotations

from pathlib import Path

import typer

from npsdiag.commands._shared import Command
from npsdiag.commands.analyze import DEFAULT_EVIDENCE, DEFAULT_INCIDENTS

#: Equal to ``npsdiag.collect.DEFAULT_SINCE`` (tests check); not imported from there, so that
#: ``npsdiag --help`` does not load the collection.
DEFAULT_SINCE = "24h"

_EPILOG = (
    "Run it on the NPS server, in an elevated prompt (Run as administrator). It writes "
    "<COMPUTER>_<yyyyMMdd_HHmmss>_NpsLogging.zip (C:\\NPS by default) and analyses it. "
    "Nothing holding RADIUS shared secrets is collected.\n\n"
    "Examples:\n\n"
    "  npsdiag collect\n\n"
    "  npsdiag collect --since 3d -o D:\\Cases\\4711 --html report.html\n\n"
    "  npsdiag collect --no-analyze\n\n"
    "Exit codes: 0 bundle complete, nothing wrong found; 1 problems found; 2 nothing "
    "collected (not Windows, output not writable) or usage error; 3 bundle written but "
    "incomplete (see the warnings and manifest.json)."
)


def register(app: typer.Typer) -> None:
    """Register ``collect`` on the app."""
    app.command(name="collect", epilog=_EPILOG, cls=Command)(collect)


def collect(
    since: str = typer.Option(
        DEFAULT_SINCE,
        "--since",
        metavar="WINDOW",
        help="How far back to export events: 30m, 24h, 7d, 1d12h (minutes, hours, days, weeks).",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="PATH",
        help="The bundle's .zip path, or the folder it goes into (created if missing). "
        "Default: C:\\NPS.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace a bundle of the same name."),
    no_analyze: bool = typer.Option(
        False, "--no-analyze", help="Only collect; do not analyse the bundle."
    ),
    html: Path | None = typer.Option(
        None, "--html", metavar="FILE", help="Write the analysis as HTML."
    ),
    json_path: Path | None = typer.Option(
        None, "--json", metavar="FILE", help="Write the analysis as JSON ('-' = stdout)."
    ),
    markdown: Path | None = typer.Option(
        None, "--markdown", metavar="FILE", help="Write a Markdown report."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Do not print progress or the terminal summary."
    ),
    no_color: bool = typer.Option(
        False,
        "--no-color",
        help="No colours in the terminal summary (also: the NO_COLOR environment variable).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Collect the logs, registry, audit policy and certificates into one bundle, and analyse it."""
    from npsdiag.collect import CollectOptions, parse_since
    from npsdiag.collect import collect as run_collection
    from npsdiag.exit_status import ExitStatus
    from npsdiag.sources.manifest import ManifestItem

    _ = debug  # handled by npsdiag.cli.main before the command runs
    window = parse_since(since)

    def warn(line: str) -> None:
        typer.echo(f"npsdiag: warning: {line}", err=True)

    def progress(item: ManifestItem) -> None:
        if item.status == "collected":
            if not quiet:
                typer.echo(f"npsdiag: collected {item.file} ({item.size or 0:,} bytes)", err=True)
        else:
            warn(f"{item.file} not collected: {item.reason}")

    result = run_collection(
        CollectOptions(window=window, since=since, output=output, force=force),
        on_item=progress,
        on_note=warn,
    )
    manifest = result.manifest
    missing = len(manifest.missing)
    typer.echo(
        f"Bundle: {result.bundle} ({len(manifest.items) - missing} of {len(manifest.items)} "
        f"items collected{f', {missing} missing: see manifest.json' if missing else ''})",
        err=json_path is not None and str(json_path) == "-",
    )
    # An incomplete bundle whose analysis finds nothing wrong cannot be trusted to be healthy.
    status = ExitStatus.NO_EVIDENCE if missing else ExitStatus.OK
    if not no_analyze:
        from npsdiag.commands.analyze import analyze

        try:
            analyze(
                inputs=[str(result.bundle)],
                html=html,
                json_path=json_path,
                jsonl_path=None,
                markdown=markdown,
                csv_path=None,
                evidence=DEFAULT_EVIDENCE,
                incidents=DEFAULT_INCIDENTS,
                redact=False,
                utc_offset=[],
                quiet=quiet,
                no_color=no_color,
                debug=debug,
            )
        except typer.Exit as done:
            if done.exit_code in (ExitStatus.PROBLEMS, ExitStatus.NO_EVIDENCE):
                status = ExitStatus(done.exit_code)
    raise typer.Exit(status)
