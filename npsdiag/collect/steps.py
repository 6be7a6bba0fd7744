"""Each thing ``npsdiag collect`` gathers, as one step that never raises for the server's state.

A step runs one Windows program into the private work folder and says what came of it as a
:class:`~npsdiag.sources.manifest.ManifestItem`: ``collected`` (with the file's size) or
``missing`` with the reason in one line: the program's own words and exit code, a channel
that does not exist, a program that is not there, a prompt that is not elevated.

File names follow the health-check script's where there is one (``<COMPUTER>_AuthZOptCh.evtx``);
see docs/bundles.md for the whole layout. Nothing that holds a RADIUS shared secret is read:
no ``netsh nps export``, no ``ias.xml``, no NPS configuration at all beyond the two registry
keys below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from npsdiag.collect import queries
from npsdiag.collect.powershell import certificates_script, extension_script, powershell_args
from npsdiag.collect.tools import Toolbox, ToolRun
from npsdiag.errors import FactsReadError
from npsdiag.model import SourceKind
from npsdiag.sources._json_doc import decode_text
from npsdiag.sources.certificates import parse_certificates
from npsdiag.sources.extension_info import parse_extension_info
from npsdiag.sources.hostfacts import AUDITPOL, CERTIFICATES, EXTENSION_INFO
from npsdiag.sources.manifest import COLLECTED, MISSING, ManifestItem
from npsdiag.sources.regquery import MISSING_KEY_MESSAGE

__all__ = ["Step", "StepContext", "list_channels", "plan_steps"]

#: ``wevtutil`` exit codes (Win32 errors) that have a message of their own.
_CHANNEL_NOT_FOUND = 15007  # ERROR_EVT_CHANNEL_NOT_FOUND
_ACCESS_DENIED = 5  # ERROR_ACCESS_DENIED
#: Seconds a program may take. A filtered export still scans the whole Security log.
_EXPORT_TIMEOUT = 1800.0
_QUICK_TIMEOUT = 120.0
_POWERSHELL_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class StepContext:
    """What every step needs.

    Attributes:
        tools: the programs.
        work: the private folder the files are written into.
        computer: the server's name (file names).
        window: how far back events are exported.
        elevated: whether the prompt is elevated (None: unknown).
        channels: the event channels this server has (``wevtutil el``); None when they
            could not be listed, and then each export finds out for itself.
    """

    tools: Toolbox
    work: Path
    computer: str
    window: timedelta
    elevated: bool | None
    channels: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One item to gather: its file name, kind, description, and how."""

    file: str
    kind: str
    what: str
    run: Callable[[StepContext, Step], ManifestItem]


def plan_steps(computer: str) -> list[Step]:
    """Every step, in collection order, with the file names for ``computer``."""
    steps = [
        Step(
            f"{computer}_{channel}.evtx",
            SourceKind.EVTX,
            f"the NPS extension's {channel} channel, events in the time window",
            _export_channel(channel, queries.channel_query, extension=True),
        )
        for channel in queries.EXTENSION_CHANNELS
    ]
    steps += [
        Step(
            f"{computer}_Security_NPS.evtx",
            SourceKind.EVTX,
            "Security: NPS's events 6272-6280 only, in the time window",
            _export_channel("Security", queries.security_query, extension=False),
        ),
        Step(
            f"{computer}_System_NPS.evtx",
            SourceKind.EVTX,
            "System: NPS (13, 17, 18, 4400-4402) and Schannel (36871) events, in the time window",
            _export_channel("System", queries.system_query, extension=False),
        ),
    ]
    steps += [
        Step(
            f"RegQuery_{short}.txt",
            SourceKind.REGQUERY,
            f"REG QUERY {key}",
            _reg_query(key),
        )
        for short, key in queries.REGISTRY_KEYS.items()
    ]
    steps += [
        Step(
            "auditpol.csv",
            AUDITPOL,
            "the audit setting of the Network Policy Server subcategory (auditpol /r)",
            _auditpol,
        ),
        Step(
            "certificates.json",
            CERTIFICATES,
            "certificates of LocalMachine\\My: thumbprint, subject, issuer, validity, who may "
            "read the private key (never a key)",
            _powershell(certificates_script, parse_certificates),
        ),
        Step(
            "extension.json",
            EXTENSION_INFO,
            "the installed NPS extension: Programs and Features entry, DLL file versions",
            _powershell(extension_script, parse_extension_info),
        ),
    ]
    return steps


def _item(
    step: Step, run: ToolRun, status: str, reason: str = "", size: int | None = None
) -> ManifestItem:
    return ManifestItem(
        file=step.file,
        kind=step.kind,
        what=step.what,
        status=status,
        command=run.command,
        reason=reason,
        size=size,
    )


def _missing(context: StepContext, step: Step, run: ToolRun, reason: str) -> ManifestItem:
    if context.elevated is False and run.failure == "":
        reason += "; this prompt is not elevated: run npsdiag collect as administrator"
    return _item(step, run, MISSING, reason)


def _saved(
    context: StepContext, step: Step, run: ToolRun, data: bytes, reason: str = ""
) -> ManifestItem:
    target = context.work / step.file
    target.write_bytes(data)
    return _item(step, run, COLLECTED, reason, len(data))


def list_channels(tools: Toolbox) -> tuple[str, ...] | None:
    """The event channels of this server (``wevtutil el``), or None when they cannot be listed.

    Channel names are identifiers, the same in every language, so this tells an absent
    channel from a failed export without reading localised messages.
    """
    run = tools.run("wevtutil", ("el",), _QUICK_TIMEOUT)
    if not run.ok:
        return None
    names = tuple(line.strip() for line in decode_text(run.stdout).splitlines() if line.strip())
    return names or None


def _channel_name(channel: str, channels: tuple[str, ...]) -> str | None:
    """The server's name for ``channel``: the same name, else a path ending in it."""
    folded = channel.casefold()
    exact = next((name for name in channels if name.casefold() == folded), None)
    if exact is not None:
        return exact
    return next((name for name in channels if name.casefold().endswith(f"/{folded}")), None)


def _export_channel(
    channel: str, query: Callable[[timedelta], str], *, extension: bool
) -> Callable[[StepContext, Step], ManifestItem]:
    def export(context: StepContext, step: Step) -> ManifestItem:
        target = context.work / step.file
        name = channel
        if context.channels is not None:
            found = _channel_name(channel, context.channels)
            if found is None:
                listing = ToolRun("wevtutil", ("el",), 0, b"", b"")
                return _item(step, listing, MISSING, _absent(channel, extension))
            name = found
        args = ("epl", name, str(target), f"/q:{query(context.window)}", "/ow:true")
        run = context.tools.run("wevtutil", args, _EXPORT_TIMEOUT)
        if not run.ok:
            if run.returncode == _CHANNEL_NOT_FOUND:
                said = run.message()
                return _item(step, run, MISSING, _absent(channel, extension) + f": {said}")
            if run.returncode == _ACCESS_DENIED:
                return _missing(context, step, run, f"access to {channel} denied: {run.message()}")
            return _missing(context, step, run, run.describe_failure())
        try:
            size = target.stat().st_size
        except OSError:
            return _item(step, run, MISSING, "wevtutil reported success but wrote no file")
        return _item(step, run, COLLECTED, "", size)

    return export


def _absent(channel: str, extension: bool) -> str:
    why = f"the {channel} channel does not exist on this server"
    return why + " (is the NPS extension installed?)" if extension else why


def _reg_query(key: str) -> Callable[[StepContext, Step], ManifestItem]:
    def query(context: StepContext, step: Step) -> ManifestItem:
        # /reg:64: the 64-bit view, where the extension's key lives, whatever reg.exe is run.
        run = context.tools.run("reg", ("query", key, "/reg:64"), _QUICK_TIMEOUT)
        if run.ok:
            return _saved(context, step, run, run.stdout)
        if not run.stdout.strip() and run.message() == MISSING_KEY_MESSAGE:
            # What a health-check dump shows for a missing key: kept, the check reads it.
            return _saved(context, step, run, run.stderr, f"the key does not exist: {key}")
        return _missing(context, step, run, run.describe_failure())

    return query


def _auditpol(context: StepContext, step: Step) -> ManifestItem:
    run = context.tools.run("auditpol", queries.AUDITPOL_ARGS, _QUICK_TIMEOUT)
    if not run.ok or not run.stdout.strip():
        return _missing(context, step, run, run.describe_failure())
    return _saved(context, step, run, run.stdout)


def _powershell(
    script: Callable[[], str], check: Callable[[bytes, str], object]
) -> Callable[[StepContext, Step], ManifestItem]:
    def listing(context: StepContext, step: Step) -> ManifestItem:
        run = context.tools.run("powershell", powershell_args(script()), _POWERSHELL_TIMEOUT)
        if not run.ok:
            return _missing(context, step, run, run.describe_failure())
        try:
            # Only what analyze can read goes into the bundle.
            check(run.stdout, step.file)
        except FactsReadError as error:
            return _item(step, run, MISSING, f"PowerShell's output was not usable: {error}")
        return _saved(context, step, run, run.stdout)

    return listing
