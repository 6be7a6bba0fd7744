"""``npsdiag samples``: write synthetic NPS + MFA extension logs from a scenario.

Examples::

    npsdiag samples --list
    npsdiag samples otp-non-pap out/otp            # five .evtx + the bundle .zip
    npsdiag samples otp-non-pap bundle.zip         # only the support bundle
    npsdiag samples --scenario-file mine.yaml out/mine
    npsdiag samples mixed big/ --events 1000000    # benchmark input
    npsdiag samples --all samples                  # regenerate the repository's samples/
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from npsdiag.commands._shared import Command, at_least
from npsdiag.errors import UsageError

if TYPE_CHECKING:
    from npsdiag.synth.scenario import Scenario

_HELP = """Write synthetic NPS + MFA extension logs (and a support bundle) from a scenario.

\b
  npsdiag samples --list                      list the shipped scenarios
  npsdiag samples NAME OUT                    write scenario NAME to folder OUT
  npsdiag samples NAME OUT.zip                write only the support bundle
  npsdiag samples --scenario-file FILE OUT    use your own scenario YAML
  npsdiag samples NAME OUT --events 1000000   scale the traffic (benchmarks)
  npsdiag samples --all samples               regenerate every shipped sample + README.md
"""


def register(app: typer.Typer) -> None:
    """Register the ``samples`` command on ``app``."""
    app.command("samples", help=_HELP, no_args_is_help=True, cls=Command)(samples)


def samples(
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", help="Shipped scenario name (see --list).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Argument(
            metavar="OUT", help="Output folder, or a path ending in .zip for the bundle only."
        ),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List the shipped scenarios and exit.")
    ] = False,
    all_dir: Annotated[
        Path | None,
        typer.Option("--all", metavar="OUTDIR", help="Write every shipped scenario and README.md."),
    ] = None,
    scenario_file: Annotated[
        Path | None,
        typer.Option(
            "--scenario-file", metavar="FILE", help="Use this scenario YAML instead of NAME."
        ),
    ] = None,
    events: Annotated[
        int | None,
        typer.Option(
            "--events",
            metavar="N",
            callback=at_least(1),
            help="Scale the traffic to N events in all.",
        ),
    ] = None,
) -> None:
    """Write synthetic logs; see the command help for the forms."""
    from npsdiag.synth import scenario as scenarios

    if list_:
        _reject_extra(
            {
                "NAME": name,
                "OUT": out,
                "--all": all_dir,
                "--scenario-file": scenario_file,
                "--events": events,
            }
        )
        for shipped in scenarios.shipped_names():
            typer.echo(f"{shipped:<22} {scenarios.load_shipped(shipped).title}")
        return
    if all_dir is not None:
        _reject_extra(
            {"NAME": name, "OUT": out, "--scenario-file": scenario_file, "--events": events}
        )
        _write_all(all_dir)
        return
    if scenario_file is not None:
        if out is None and name is not None:
            out = Path(name)  # with --scenario-file the only positional is OUT
        elif name is not None:
            raise UsageError("give either NAME or --scenario-file, not both")
        if out is None:
            raise UsageError("missing OUT: where to write the scenario")
        scenario = scenarios.load_scenario(scenario_file)
    else:
        if name is None or out is None:
            raise UsageError("give a scenario NAME and an OUT folder (or use --list / --all)")
        scenario = scenarios.load_shipped(name)
    _write_one(scenario, out, events)


def _reject_extra(given: dict[str, object]) -> None:
    extra = [key for key, value in given.items() if value is not None]
    if extra:
        raise UsageError(f"this form takes no other arguments (got: {', '.join(extra)})")


def _write_one(scenario: Scenario, out: Path, events: int | None) -> None:
    from npsdiag.synth.bundle import write_bundle, write_folder
    from npsdiag.synth.generate import count_events
    from npsdiag.synth.scenario import scale_traffic

    if events is not None:
        base = sum(count_events(scenario).values())
        # A little headroom so random variation does not leave the total short of N;
        # the stream is cut at exactly N.
        scenario = scale_traffic(scenario, events / max(base, 1) * 1.05)
    if out.suffix.lower() == ".zip":
        written = write_bundle(scenario, out, max_events=events)
    else:
        written = write_folder(scenario, out, max_events=events)
    total = sum(written.counts.values())
    typer.echo(f"{scenario.name}: {total} events")
    for path in written.files:
        typer.echo(f"  {path} ({path.stat().st_size:,} bytes)")


def _write_all(outdir: Path) -> None:
    from npsdiag.synth.bundle import write_samples
    from npsdiag.synth.scenario import load_shipped, shipped_names

    loaded = [load_shipped(shipped) for shipped in shipped_names()]
    for sample in write_samples(outdir, loaded):
        total = sum(path.stat().st_size for path in sample.written.files)
        typer.echo(
            f"{sample.scenario.name:<22} {sum(sample.written.counts.values()):>5} events "
            f"{total:>9,} bytes"
        )
    typer.echo(f"wrote {outdir / 'README.md'}")
