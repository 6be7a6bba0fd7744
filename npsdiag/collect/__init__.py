"""``npsdiag collect``: gather one support bundle on the NPS server.

The bundle is a ``.zip`` that ``npsdiag analyze`` reads as one case: the extension's three
channels, NPS's Security events and the System events the diagnosis uses (each over a time
window, through event log queries, never a whole Security log), the two registry keys of the
configuration check, the NPS audit policy, the certificates the extension may sign in with
(never a key) and the installed extension's version, plus ``manifest.json`` saying what was
gathered and what could not be, and why.

Nothing that could be gathered is lost to something that could not: a missing channel, a
missing program or a prompt without elevation each cost their own item only, and show as a
warning here and in the report. What stops the collection before it starts is raised as
:class:`~npsdiag.errors.CollectError` (not Windows, an output path that cannot be written).

    result = collect(CollectOptions(window=timedelta(hours=24), since="24h"))
    result.bundle, result.manifest.missing, result.warnings

Layout and choices: docs/bundles.md ("Bundles made by npsdiag collect") and docs/cli.md.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from npsdiag import __version__
from npsdiag.collect.output import bundle_file_name, default_folder, reserve_output, write_zip
from npsdiag.collect.queries import DEFAULT_SINCE, parse_since
from npsdiag.collect.steps import StepContext, list_channels, plan_steps
from npsdiag.collect.tools import TOOLS_ENV, Toolbox, elevation
from npsdiag.sources.manifest import Manifest, ManifestItem, manifest_json

__all__ = [
    "DEFAULT_SINCE",
    "MANIFEST_NAME",
    "TOOLS_ENV",
    "CollectOptions",
    "CollectResult",
    "collect",
    "parse_since",
]

#: The manifest's name in the bundle.
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True, slots=True)
class CollectOptions:
    """How to collect.

    Attributes:
        window: how far back events are exported.
        since: the window as the user wrote it (for the manifest).
        output: ``-o``: the bundle's path (``.zip``) or its folder; None for the default.
        force: replace an existing bundle of the same name.
    """

    window: timedelta
    since: str = DEFAULT_SINCE
    output: Path | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class CollectResult:
    """What a collection produced.

    Attributes:
        bundle: the ``.zip`` written.
        manifest: what it holds and lacks.
        warnings: one line each: not elevated, and every item not collected with its reason.
    """

    bundle: Path
    manifest: Manifest
    warnings: tuple[str, ...] = field(default=())


def collect(
    options: CollectOptions,
    *,
    on_item: Callable[[ManifestItem], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] | None = None,
) -> CollectResult:
    """Gather one bundle.

    Args:
        options: window, output and overwrite.
        on_item: called after each item, collected or not (the CLI shows progress with it).
        on_note: called with each note about the run as a whole (not elevated), before the
            items are gathered.
        environ: the environment (tests); ``os.environ`` by default.
        now: the clock (tests); UTC now by default.

    Returns:
        The bundle, its manifest and the warnings. A bundle is written whatever could not be
        collected, as long as the output could be written.

    Raises:
        CollectError: not Windows (and no :data:`TOOLS_ENV`), or the output path cannot be
            used; nothing is collected then. Also when the finished bundle cannot be written.
    """
    environ = os.environ if environ is None else environ
    tools = Toolbox.for_this_machine(environ)
    started = (now or (lambda: datetime.now(timezone.utc)))().replace(microsecond=0)
    computer = _computer(environ)
    folder = default_folder(not tools.override, dict(environ))
    output = reserve_output(
        options.output or folder, bundle_file_name(computer, started), force=options.force
    )
    work = Path(tempfile.mkdtemp(prefix="npsdiag-collect-"))
    try:
        elevated, unknown = elevation(tools)
        notes = _elevation_notes(elevated, unknown)
        if on_note is not None:
            for note in notes:
                on_note(note)
        channels = list_channels(tools)
        context = StepContext(tools, work, computer, options.window, elevated, channels)
        items: list[ManifestItem] = []
        for step in plan_steps(computer):
            item = step.run(context, step)
            items.append(item)
            if on_item is not None:
                on_item(item)
        manifest = Manifest(
            tool=f"npsdiag {__version__}",
            computer=computer,
            collected=started,
            since=options.since,
            window_start=started - options.window,
            elevated=elevated,
            items=tuple(items),
            notes=tuple(notes),
        )
        (work / MANIFEST_NAME).write_text(manifest_json(manifest), encoding="utf-8")
        files = [(item.file, work / item.file) for item in items if item.status == "collected"]
        write_zip(output, [*files, (MANIFEST_NAME, work / MANIFEST_NAME)], started)
    except BaseException:
        output.discard()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    warnings = [*notes, *(f"{item.file} not collected: {item.reason}" for item in manifest.missing)]
    return CollectResult(bundle=output.bundle, manifest=manifest, warnings=tuple(warnings))


def _computer(environ: Mapping[str, str]) -> str:
    return (environ.get("COMPUTERNAME") or platform.node() or "server").strip()


def _elevation_notes(elevated: bool | None, unknown: str) -> list[str]:
    if elevated is False:
        return [
            "this prompt is not elevated: the Security log, the audit policy and the private "
            "keys' permissions need one; run npsdiag collect as administrator"
        ]
    if elevated is None:
        return [f"cannot tell whether this prompt is elevated ({unknown}); collecting anyway"]
    return []
