"""The main job as a library call: inputs -> events -> findings -> diagnosis -> Analysis."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from npsdiag import __version__
from npsdiag._words import noun, plural
from npsdiag.catalog import Catalog, load_catalog
from npsdiag.clock import OffsetRule, align_clocks, copy_identity
from npsdiag.coverage import compute_coverage
from npsdiag.diagnose import diagnose, link_configuration
from npsdiag.errors import InputError, NothingToAnalyseError
from npsdiag.evidence import MEMORY, EvidenceStore
from npsdiag.extract import extract, is_relevant
from npsdiag.model import Analysis, Finding, SourceKind, SourceStats
from npsdiag.sources import Discovery, Source, discover, read_events
from npsdiag.sources.discover import why_nothing

if TYPE_CHECKING:
    from npsdiag.sources.regquery import RegistryDump

__all__ = ["ReadProgress", "analyze_paths"]

#: Called after each input with its finished accounting (the CLI draws progress from it).
ProgressCallback = Callable[[SourceStats], None]


class ReadProgress(Protocol):
    """What a progress display learns from :func:`analyze_paths` (all optional to act on)."""

    def begin(self, name: str, size: int | None, number: int, count: int, total: int) -> None:
        """Input ``number`` of ``count`` (``size`` bytes of ``total``) is being read."""

    def follow(self, stream: BinaryIO) -> None:
        """The file being read, whose ``tell()`` says how far the reader got."""

    def end(self, stats: SourceStats) -> None:
        """The input is read; ``stats`` is its final accounting."""

    def phase(self, text: str) -> None:
        """What the analysis does now that reading is over (``diagnosing 80,000 events``)."""


_READ_STATUSES = frozenset({"ok", "partial"})


def analyze_paths(
    inputs: Sequence[str],
    *,
    catalog: Catalog | None = None,
    command_line: str = "",
    on_source: ProgressCallback | None = None,
    utc_offsets: Sequence[OffsetRule] = (),
    evidence: str = MEMORY,
    progress: ReadProgress | None = None,
) -> Analysis:
    """Analyse files, folders and glob patterns and return the diagnosis.

    Args:
        inputs: paths, folders or patterns as the user typed them.
        catalog: the catalog to match against (the shipped one by default).
        command_line: shown in reports so a reader can reproduce the run.
        on_source: optional callback after each input has been read.
        utc_offsets: clocks of inputs whose times carry no zone, as given by the user
            (``--utc-offset``); others are inferred (``npsdiag.clock``).
        evidence: where the events' payloads go once extracted (``npsdiag.evidence``):
            ``memory`` keeps them on the events, ``spill`` moves them to a temporary file
            (``Analysis.evidence`` restores them for reports), ``drop`` throws them away
            (no report will show an evidence event). The caller closes
            ``Analysis.evidence``.
        progress: told which input is read and what happens next, for a progress display.

    Returns:
        The Analysis every report renders.

    Raises:
        NothingToAnalyseError: not one input could be read; the message lists why.
    """
    catalog = catalog if catalog is not None else load_catalog()
    store = EvidenceStore(evidence)
    discovery = discover(inputs)
    accounts: list[SourceStats] = list(discovery.skipped)
    # Events, findings, incidents and problems form no reference cycles, so the cyclic
    # collector only burns time rescanning the growing lists of them (about a fifth of the
    # run on big logs); anything it would find is still collected once it runs again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        read = _read_all(discovery.sources, accounts, on_source, catalog, store, progress)
        config_findings = _configuration(discovery, accounts, catalog)
        accounts.sort(key=lambda s: (s.name.lower(), s.name))
        if not any(s.status in _READ_STATUSES for s in accounts):
            raise NothingToAnalyseError(_nothing_message(inputs, accounts))
        # Clocks first: an event's copy in another export is only recognised as such, and
        # an attempt's events only meet, once every time is UTC.
        clocks = align_clocks(read, utc_offsets)
        findings = _drop_copies(read)
        for finding in findings:
            finding.identity = 0  # only copies and clocks needed it; a small int is shared
        coverage = compute_coverage(accounts, findings)
        if progress is not None:
            progress.phase(f"diagnosing {len(findings):,} events")
        exported = _security_exported(accounts, findings)
        result = diagnose(findings, catalog, security_exported=exported, coverage=coverage)
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
        coverage=coverage,
        clocks=clocks,
        evidence=store,
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
        and (
            any(channel.lower() == "security" for channel in account.channels)
            or _SECURITY_NAME.search(account.name.replace("\\", "/").rsplit("/", 1)[-1])
        )
        for account in accounts
    )


#: Which copy of an event is kept: the most precise export (record id, microseconds).
_KIND_PREFERENCE = {SourceKind.EVTX: 0, SourceKind.XML: 1, SourceKind.WEVTUTIL_TEXT: 2}


class _Pool:
    """One object per distinct value: a user who fails 100,000 times is one string, not
    100,000 (what keeps memory at a few hundred bytes per relevant event)."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[Any, Any] = {}

    def finding(self, finding: Finding) -> None:
        # Spelled out rather than looped over names: this runs once per relevant record.
        pool = self.values.setdefault
        if finding.codes:
            finding.codes = pool(finding.codes, finding.codes)
        if finding.user:
            finding.user = pool(finding.user, finding.user)
        if finding.user_key:
            finding.user_key = pool(finding.user_key, finding.user_key)
        if finding.user_aliases:
            finding.user_aliases = pool(finding.user_aliases, finding.user_aliases)
        if finding.client_ip:
            finding.client_ip = pool(finding.client_ip, finding.client_ip)
        if finding.client_name:
            finding.client_name = pool(finding.client_name, finding.client_name)
        if finding.nas_ip:
            finding.nas_ip = pool(finding.nas_ip, finding.nas_ip)
        if finding.detail:
            finding.detail = pool(finding.detail, finding.detail)
        if finding.cid:
            finding.cid = pool(finding.cid, finding.cid)
        event = finding.event
        event.computer = pool(event.computer, event.computer)


def _read_all(
    sources: Sequence[Source],
    accounts: list[SourceStats],
    on_source: ProgressCallback | None,
    catalog: Catalog,
    store: EvidenceStore,
    progress: ReadProgress | None = None,
) -> list[tuple[SourceStats, list[Finding]]]:
    """Read every event source; return each one's accounting and findings, in file order.

    Everything that needs an event's full values is worked out here, while they are at hand
    (the catalog's matches, the identity of copies); then the payload goes to ``store``.
    """
    read: list[tuple[SourceStats, list[Finding]]] = []
    pool = _Pool()
    total = sum(source.size or 0 for source in sources)
    follow = progress.follow if progress is not None else None
    for number, source in enumerate(sources, start=1):
        if progress is not None:
            progress.begin(source.name, source.size, number, len(sources), total)
        stats = SourceStats(name=source.name, kind=source.kind, size=source.size)
        found: list[Finding] = []
        channels: set[str] = set()

        def relevant(channel: str, provider: str, event_id: int, seen: set[str] = channels) -> bool:
            # Asked once per record layout (per record in text and XML): the channels it
            # sees tell what log the file is, whatever its name.
            seen.add(channel)
            return is_relevant(channel, provider, event_id)

        try:
            for event in read_events(source, stats, relevant, follow):
                finding = extract(event)
                if finding is None:
                    continue
                finding.matches = catalog.matches_of(finding)
                finding.identity = copy_identity(event)
                pool.finding(finding)
                store.release(event)
                found.append(finding)
        except InputError as error:
            # Whatever was read before the failure is kept; the file is marked as such.
            stats.status = "unreadable" if not stats.records_read else "partial"
            stats.messages.append(str(error))
        stats.channels = sorted(channel for channel in channels if channel)
        stats.finish()
        accounts.append(stats)
        read.append((stats, found))
        if on_source is not None:
            on_source(stats)
        if progress is not None:
            progress.end(stats)
    return read


def _drop_copies(read: Sequence[tuple[SourceStats, list[Finding]]]) -> list[Finding]:
    """Every finding once: an event exported twice is kept from its most precise export.

    Only channels that more than one input holds can have copies, so only their events are
    looked up. The other copies are dropped, and their input's accounting says how many were
    and where they were read from.
    """
    holders: dict[str, set[int]] = {}
    for position, (stats, _found) in enumerate(read):
        for channel in stats.channels:
            holders.setdefault(channel.lower(), set()).add(position)
    shared = {channel for channel, inputs in holders.items() if len(inputs) > 1}
    if not shared:
        return [finding for _stats, found in read for finding in found]
    order = sorted(
        range(len(read)),
        key=lambda i: (_KIND_PREFERENCE.get(read[i][0].kind, 9), read[i][0].name.lower()),
    )
    # Keyed by identity and whole second, valued by the input that holds it; a copy is looked
    # for in the neighbouring seconds too, so the look-up stays constant-time however often
    # one user fails, and a repeat within one input is never a copy.
    seen: dict[tuple[int, int], int] = {}
    kept: list[Finding] = []
    for position in order:
        stats, found = read[position]
        duplicates: dict[int, int] = {}
        for finding in found:
            event = finding.event
            if event.channel.lower() not in shared:
                kept.append(finding)
                continue
            second = int(event.time.timestamp())
            identity = finding.identity
            original = next(
                (
                    holder
                    for bucket in (second - 1, second, second + 1)
                    if (holder := seen.get((identity, bucket), position)) != position
                ),
                None,
            )
            if original is not None:
                duplicates[original] = duplicates.get(original, 0) + 1
                continue
            seen.setdefault((identity, second), position)
            kept.append(finding)
        for other, count in sorted(duplicates.items(), key=lambda item: read[item[0]][0].name):
            stats.messages.append(
                f"{plural(count, 'relevant record')} {noun(count, 'is a copy', 'are copies')} "
                f"of events read from "
                f"{read[other][0].name} (the same events exported twice, e.g. Security.evtx "
                "and the bundle's text dump) and were counted once"
            )
    return kept


def _configuration(
    discovery: Discovery, accounts: list[SourceStats], catalog: Catalog
) -> list[Mapping[str, str]]:
    """Read the REG QUERY dumps and what `npsdiag collect` gathers besides logs
    (certificates, auditing, version, manifest), account for each file, and check them.

    The readers and checks are imported only when there is something to check: most runs
    read event logs alone, and start-up counts.
    """
    if not discovery.registry_dumps and not discovery.host_facts:
        return []
    from npsdiag.factcheck import configuration_findings
    from npsdiag.facts import read_host_facts

    dumps = _read_registry_dumps(discovery.registry_dumps, accounts)
    facts = read_host_facts(discovery.host_facts, accounts)
    return list(configuration_findings(dumps, facts, catalog))


def _read_registry_dumps(
    sources: Sequence[Source], accounts: list[SourceStats]
) -> list[RegistryDump]:
    """Parse the REG QUERY dumps for the configuration check; account for each one."""
    from npsdiag.sources.bundle import source_bytes
    from npsdiag.sources.regquery import parse_regquery

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
