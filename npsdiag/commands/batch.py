"""``npsdiag batch``: review many collected cases at once, one report each and an index."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import typer

from npsdiag.commands._shared import Command, at_least
from npsdiag.commands.analyze import DEFAULT_EVIDENCE, DEFAULT_INCIDENTS

_EPILOG = (
    "Cases: every folder and .zip directly inside an input folder is one case; the log "
    "files lying directly in an input folder are one more case; an input file is one case "
    "(docs/batch.md).\n\n"
    "Examples:\n\n"
    "  npsdiag batch ./collected/ -o review/\n\n"
    "  npsdiag batch ./collected/ -o review/ --workers 2 --redact\n\n"
    "  npsdiag batch /shared/collected/ -o /shared/review/ --dataset /shared/fleet "
    "--scheduler tcp://dask-scheduler:8786\n\n"
    "Exit codes: 0 every case read, no problem found; 1 some case could not be read or "
    "has problems; 2 no case could be read, or usage error; 130 interrupted (Ctrl+C); "
    "143 stopped by SIGTERM, 129 by SIGHUP."
)
#: Equal to ``npsdiag.batch.DEFAULT_CASE_TIMEOUT`` (tests check); not imported from there, so
#: that ``npsdiag --help`` does not load the batch modules.
DEFAULT_CASE_TIMEOUT = 1800.0


def register(app: typer.Typer) -> None:
    """Register ``batch`` on the app."""
    app.command(name="batch", epilog=_EPILOG, cls=Command)(batch)


def batch(
    inputs: list[str] = typer.Argument(
        ...,
        metavar="INPUT...",
        help="Folders holding one folder or .zip bundle per case, single bundles, or patterns.",
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        metavar="DIR",
        help="Folder for <case-id>/report.{html,json,md} and the index (created if missing).",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        metavar="N",
        callback=at_least(1),
        help="Cases analysed in parallel (default: the number of CPUs; 1 = in this process).",
    ),
    redact: bool = typer.Option(
        False, "--redact", help="Pseudonymise user, computer and domain names in every output."
    ),
    evidence: int = typer.Option(
        DEFAULT_EVIDENCE,
        "--evidence",
        callback=at_least(0),
        metavar="N",
        help="Evidence events each case's HTML report lists per incident: the one the "
        "diagnosis rests on and the earliest others (0 = all). The JSON reports keep all.",
    ),
    incidents: int = typer.Option(
        DEFAULT_INCIDENTS,
        "--incidents",
        callback=at_least(0),
        metavar="N",
        help="Incidents (and notices) each case's HTML and Markdown reports list in detail: "
        "the earliest of every problem first (0 = all, with every attempt of every user). "
        "The JSON reports list all.",
    ),
    case_timeout: float = typer.Option(
        DEFAULT_CASE_TIMEOUT,
        "--case-timeout",
        callback=at_least(0),
        metavar="SECONDS",
        help="Stop a case that takes longer than this and record it as 'timed out', so that "
        "one stalled case costs only itself (0 = no limit).",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        metavar="ADDRESS",
        help="Run the cases on the workers of this Dask distributed scheduler "
        "(tcp://HOST:8786) instead of on this machine. The workers must see the inputs, "
        "the output and the dataset folder at the same paths. Needs "
        "pip install 'npsdiag[cluster]'.",
    ),
    dataset: Path | None = typer.Option(
        None,
        "--dataset",
        metavar="DIR",
        help="Also write every case (incidents, evidence events, problems, configuration "
        "findings, inputs) into this Parquet fleet dataset, one partition per case; a case "
        "run again replaces its partition (docs/fleet-dataset.md). Needs "
        "pip install 'npsdiag[dataset]'.",
    ),
    no_progress: bool = typer.Option(
        False, "--no-progress", help="No progress bar (it is shown only on a terminal anyway)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Analyse every case in the inputs: one report per case, ranked in review/index.html."""
    from npsdiag._signals import Terminated
    from npsdiag._visible import visible
    from npsdiag.batch import run_batch, summary_line
    from npsdiag.exit_status import ExitStatus, invocation

    _ = debug  # handled by npsdiag.cli.main before the command runs
    show_progress = not no_progress and sys.stderr.isatty()
    run = functools.partial(
        run_batch,
        inputs,
        output,
        workers=workers,
        redact=redact,
        max_evidence=evidence,
        max_incidents=incidents,
        case_timeout=case_timeout,
        command_line=invocation(),
        scheduler=scheduler,
        dataset=dataset,
    )
    try:
        if show_progress:
            from npsdiag._progress import BatchProgressBar

            with BatchProgressBar() as bar:
                result = run(on_progress=bar.update)
        else:
            result = run()
    except (KeyboardInterrupt, Terminated):
        typer.echo(
            "npsdiag: batch stopped: finished cases keep their reports; no index was written",
            err=True,
        )
        raise
    typer.echo(visible(summary_line(result, str(output / "index.html"))))
    if result.read == 0:
        raise typer.Exit(ExitStatus.USAGE)
    if result.failed or result.problems:
        raise typer.Exit(ExitStatus.PROBLEMS)
    raise typer.Exit(ExitStatus.OK)
