"""The main job as a library call: inputs -> events -> findings -> diagnosis -> Analysis."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Mapping, Sequence

from npsdiag import __version__
from npsdiag.catalog import Catalog, load_catalog
from npsdiag.configlint import check_configuration
from npsdiag.diagnose import diagnose, link_configuration
from npsdiag.errors import InputError, NothingToAnalyseError
from npsdiag.extract import extract, is_relevant
from npsdiag.model import Analysis, Event, Finding, SourceKind, SourceStats
from npsdiag.sources import Discovery, Source, discover, read_events
from npsdiag.sources.bundle import source_bytes
from npsdiag.sources.discover import why_nothing
from npsdiag.sources.regquery import RegistryDump, parse_regquery

__all__ = ["analyze_paths"]

#: Called after each input with its finished accounting (the CLI draws progress from it).
ProgressCallback = Callable[[SourceStats], None]

_READ_STATUSES = frozenset({"ok", "partial"})


def analyze_paths(
    inputs: Sequence[str],
    *,
    catalog: Catalog | None = None,
    command_line: str = "",
    on_source: ProgressCallback | None = None,
) -> Analysis:
    """Analyse files, folders and glob patterns and return the diagnosis.

    Args:
        inputs: paths, folders or patterns as the user typed them.
        catalog: the catalog to match against (the shipped one by default).
        command_line: shown in reports so a reader can reproduce the run.
        on_source: optional callback after each input has been read.

    Returns:
        The Analysis every report renders.

    Raises:
        NothingToAnalyseError: not one input could be read; the message lists why.
    """
    catalog = catalog if catalog is not None else load_catalog()
    discovery = discover(inputs)
    accounts: list[SourceStats] = list(discovery.skipped)
    findings: list[Finding] = []
    seen: dict[_Identity, str] = {}
    # Events, findings, incidents and problems form no reference cycles, so the cyclic
    # collector only burns time rescanning the growing lists of them (about a fifth of the
    # run on big logs); anything it would find is still collected once it runs again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _read_all(discovery.sources, accounts, findings, seen, on_source)
        dumps = _read_registry_dumps(discovery.registry_dumps, accounts)
        accounts.sort(key=lambda s: (s.name.lower(), s.name))
        if not any(s.status in _READ_STATUSES for s in accounts):
            raise NothingToAnalyseError(_nothing_message(inputs, accounts))
        config_findings: list[Mapping[str, str]] = [
            finding.as_dict() for finding in check_configuration(dumps, catalog)
        ]
        exported = _security_exported(accounts, findings)
        result = diagnose(findings, catalog, security_exported=exported)
        link_configuration(result.problems, config_findings, catalog)
    finally:
        if collecting:
            gc.enable()
    return Analysis(
        problems=result.problems,
        incidents=result.incidents,
        notices=result.notices,
        sources=accounts,
        unknown_codes=result.unknown_codes,
        version=__version__,
        command_line=command_line,
        config_findings=config_findings,
        servers=_servers(discovery, findings),
    )


#: Names under which Security events arrive: `wevtutil epl Security x.evtx` exports and the
#: health-check script's `NPS_EventLog.log` (which is empty when auditing is off).
_SECURITY_NAME = re.compile(r"security|nps_eventlog", re.IGNORECASE)
_EVENT_KINDS = frozenset({SourceKind.EVTX, SourceKind.XML, SourceKind.WEVTUTIL_TEXT})


def _security_exported(accounts: Sequence[SourceStats], findings: Sequence[Finding]) -> bool:
    """True when the inputs held a Security log export, even one without NPS events."""
    if any(f.event.channel.lower() == "security" for f in findings):
        return True
    return any(
        account.kind in _EVENT_KINDS
        and account.status != "skipped"
        and _SECURITY_NAME.search(account.name.replace("\\", "/").rsplit("/", 1)[-1])
        for account in accounts
    )


#: What makes two records the same event when it was read from two exports (an .evtx in a
#: folder and its copy in the bundle, or Security.evtx and the bundle's wevtutil text dump,
#: which has no record id and only millisecond times).
_Identity = tuple[str, int, str, int, str, str, tuple[str, ...]]


def _identity(event: Event) -> _Identity:
    fields = event.fields
    return (
        event.channel.lower(),
        event.event_id,
        event.computer.lower(),
        int(event.time.timestamp()),
        fields.get("SubjectUserName", ""),
        fields.get("ReasonCode", ""),
        event.data,
    )


def _read_all(
    sources: Sequence[Source],
    accounts: list[SourceStats],
    findings: list[Finding],
    seen: dict[_Identity, str],
    on_source: ProgressCallback | None,
) -> None:
    """Read every event source, keep the findings, and account for each source."""
    for source in sources:
        stats = SourceStats(name=source.name, kind=source.kind, size=source.size)
        duplicates: dict[str, int] = {}
        try:
            for event in read_events(source, stats, is_relevant):
                finding = extract(event)
                if finding is None:
                    continue
                identity = _identity(event)
                first_seen = seen.setdefault(identity, source.name)
                if first_seen != source.name:
                    duplicates[first_seen] = duplicates.get(first_seen, 0) + 1
                    continue
                findings.append(finding)
        except InputError as error:
            # Whatever was read before the failure is kept; the file is marked as such.
            stats.status = "unreadable" if not stats.records_read else "partial"
            stats.messages.append(str(error))
        for other, count in sorted(duplicates.items()):
            stats.messages.append(
                f"{count} relevant record(s) were already read from {other} (the same events "
                "exported twice, e.g. a folder and its bundle) and were counted once"
            )
        stats.finish()
        accounts.append(stats)
        if on_source is not None:
            on_source(stats)


def _read_registry_dumps(
    sources: Sequence[Source], accounts: list[SourceStats]
) -> list[RegistryDump]:
    """Parse the REG QUERY dumps for the configuration check; account for each one."""
    dumps: list[RegistryDump] = []
    for source in sources:
        stats = SourceStats(name=source.name, kind=source.kind, size=source.size)
        try:
            dump = parse_regquery(source_bytes(source), source.name)
        except (InputError, OSError) as error:
            stats.status = "unreadable"
            stats.messages.append(
                str(error) if source.name in str(error) else f"{source.name}: {error}"
            )
        else:
            dumps.append(dump)
            stats.records_read = sum(len(values) for values in dump.keys.values())
            stats.records_relevant = stats.records_read
            stats.messages.extend(
                f"{source.name}: line {line}: {text}" for line, text in dump.errors
            )
        accounts.append(stats)
    return dumps


def _servers(discovery: Discovery, findings: Sequence[Finding]) -> list[str]:
    """The NPS server(s) the logs come from: bundle/file names, else the events' Computer."""
    names = {bundle.server for bundle in discovery.bundles if bundle.server}
    if not names:
        names = {f.event.computer for f in findings if f.event.computer}
    return sorted(names, key=str.lower)


def _nothing_message(inputs: Sequence[str], accounts: Sequence[SourceStats]) -> str:
    if not accounts:
        return f"nothing to analyse in {', '.join(inputs) or '(no input)'}"
    return f"no input could be analysed: {why_nothing(accounts)}"
