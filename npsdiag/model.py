"""Typed data that flows through npsdiag: Event -> Finding -> Incident -> Analysis.

Every stage is plain data (dataclasses); the stages themselves live in
``sources/``, ``extract.py``, ``diagnose.py`` and ``report/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

__all__ = [
    "FAILED_OUTCOMES",
    "Analysis",
    "ClockNote",
    "Coverage",
    "Diagnosis",
    "Event",
    "EvidenceSource",
    "Finding",
    "FindingKind",
    "Incident",
    "LogCoverage",
    "Problem",
    "SourceKind",
    "SourceStats",
    "Verdict",
    "as_utc",
]

#: Outcomes of an attempt that count as a failed sign-in: the one definition that every
#: count, report and the batch index use. ``timed-out`` is an attempt NPS granted after the
#: RADIUS client had given up (the user was told the sign-in failed); ``unknown`` ended on a
#: message nobody recognised, which is not a success either.
FAILED_OUTCOMES = frozenset({"rejected", "error", "no-answer", "discarded", "unknown", "timed-out"})


def as_utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive datetime is taken to be UTC already.

    Every reader gives UTC times, so the common case returns at once (reports sort and
    compare hundreds of thousands of times).
    """
    zone = when.tzinfo
    if zone is timezone.utc:
        return when
    if zone is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


class SourceKind:
    """How an input was recognised (by content, not by name)."""

    EVTX = "evtx"
    XML = "xml"
    WEVTUTIL_TEXT = "wevtutil-text"
    REGQUERY = "regquery"
    TRACE = "trace"  # .etl / .cab: listed, never decoded
    ZIP = "zip"
    UNKNOWN = "unknown"


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
# building an Event six times slower (0.9 µs against 0.15 µs) and readers build one per
# relevant record. Treat it as immutable all the same; eq=False keeps identity hashing.
@dataclass(slots=True, eq=False)
class Event:
    """One event record, whatever file it came from.

    Attributes:
        time: TimeCreated/SystemTime as a timezone-aware UTC datetime.
        channel: ``System/Channel`` ("" when the record has none).
        provider: ``System/Provider/@Name``.
        event_id: ``System/EventID`` (without qualifiers).
        level: ``System/Level`` or None when absent.
        computer: ``System/Computer``.
        record_id: ``System/EventRecordID`` (the original id, not the file position).
        fields: named ``EventData/Data`` values and ``UserData`` leaves, in document order.
        data: unnamed ``EventData/Data`` values, in document order.
        message: rendered message (``RenderingInfo/Message`` or a text dump's
            description) when the export carried one.
        origin: where the record came from, for the report (file or ``zip!member``).
        qualifiers: ``EventID/@Qualifiers`` when present.
        keywords: ``System/Keywords`` as written (hex string).
    """

    time: datetime
    channel: str
    provider: str
    event_id: int
    level: int | None
    computer: str
    record_id: int | None
    fields: Mapping[str, str]
    data: tuple[str, ...]
    message: str | None
    origin: str
    qualifiers: int | None = None
    keywords: str | None = None
    #: ``text`` once built: catalog rules search it per finding, and an NPS event's text
    #: joins some thirty values.
    _text: str | None = field(default=None, init=False, repr=False)
    #: Set once the payload (``fields``, ``data``, ``message``) left the event for an
    #: ``npsdiag.evidence.EvidenceStore``: where to find it again (-1: dropped). Then
    #: ``fields`` is empty, and only the store's ``full()`` gives the whole event.
    ref: int | None = field(default=None, init=False, repr=False)

    @property
    def text(self) -> str:
        """The event's human text: rendered message, else unnamed data, else field values."""
        text = self._text
        if text is None:
            if self.message:
                text = self.message
            elif self.data:
                text = "\n".join(value for value in self.data if value)
            else:
                text = "\n".join(value for value in self.fields.values() if value)
            self._text = text
        return text


@dataclass(slots=True)
class SourceStats:
    """Read accounting for one input (file or bundle member).

    ``status`` is one of: ``ok`` (read completely), ``partial`` (some records
    failed), ``unreadable`` (nothing could be read), ``skipped`` (not a
    recognised input), ``listed`` (recognised, present, not decoded, e.g. .etl).
    """

    name: str
    kind: str
    size: int | None = None
    records_read: int = 0
    records_relevant: int = 0
    records_failed: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    status: str = "ok"
    messages: list[str] = field(default_factory=list)
    #: Channels of the records read (``Security``, ``AuthZOptCh`` ...), sorted: what log
    #: the file is, whatever its name.
    channels: list[str] = field(default_factory=list)
    #: Records whose time carried no time zone (a ``wevtutil /f:text`` dump of the server's
    #: local time); ``npsdiag.clock`` lines them up with the UTC sources.
    zoneless_times: int = 0

    #: Keep reports small: only the first few record errors are kept verbatim.
    MAX_MESSAGES = 5

    def note_time(self, when: datetime) -> None:
        if self.first_time is None or when < self.first_time:
            self.first_time = when
        if self.last_time is None or when > self.last_time:
            self.last_time = when

    def note_error(self, message: str) -> None:
        self.records_failed += 1
        if len(self.messages) < self.MAX_MESSAGES:
            self.messages.append(message)

    @property
    def lost(self) -> bool:
        """Data of this input was lost: it could not be read, or some of its records failed."""
        return self.status in ("partial", "unreadable") or self.records_failed > 0

    @property
    def inventory(self) -> bool:
        """Listed, not read, on purpose: a bundle container, a trace, a copy, another file."""
        return self.status in ("skipped", "listed") and not self.records_failed

    def finish(self) -> None:
        """Derive ``status`` from the counts once reading is over."""
        if self.status in ("skipped", "listed", "unreadable"):
            return
        if self.records_failed and not self.records_read:
            self.status = "unreadable"
        elif self.records_failed:
            self.status = "partial"


class FindingKind:
    """What an event says, independent of its layout."""

    CHALLENGE = "ext.challenge"  # Challenge requested ... with state <guid>
    ACCEPTED = "ext.accepted"  # Access Accepted for user ...
    REJECTED = "ext.rejected"  # Access Rejected for user ... Azure MFA response: X
    EXCEPTION = "ext.exception"  # Exception in Authentication Ext ... ErrorCode:: X
    IGNORED = "ext.ignored"  # only performs Secondary Auth ... AccessReject/AccessChallenge
    NOTICE = "ext.notice"  # configuration notices (IP whitelist, NAS attributes)
    EXT_OTHER = "ext.other"  # an extension message we do not recognise (kept, never dropped)
    NPS_GRANTED = "nps.granted"  # Security 6272
    NPS_DENIED = "nps.denied"  # Security 6273
    NPS_DISCARDED = "nps.discarded"  # Security 6274
    NPS_OTHER = "nps.other"  # Security 6275-6280
    SYS_UNKNOWN_CLIENT = "sys.unknown-client"  # System 13
    SYS_AUTHENTICATOR = "sys.message-authenticator"  # System 17/18
    SYS_DOMAIN_CONTROLLER = "sys.domain-controller"  # System 4400-4402
    SYS_TLS = "sys.tls"  # SChannel 36871
    # The RADIUS client's side of the chain (npsdiag/extract_client.py): what the user's
    # gateway or VPN logged about the same attempt.
    RDG_AUTHORIZED = "rdg.authorized"  # RD Gateway 200/300 (policy met), 302 (connected)
    RDG_DENIED = "rdg.denied"  # RD Gateway 201/301 (policy not met), 304 (no connection)
    RDG_OTHER = "rdg.other"  # RD Gateway 303 (disconnected), 312 (connection initiated)
    VPN_FAILED = "vpn.failed"  # RasClient 20227/20221: a dialed connection failed, error code
    RAS_AUTH_FAILED = "ras.auth-failed"  # RemoteAccess 20271/20255/20225: RRAS refused a user
    #: Pasted text that is none of the events above (a script's output, a gateway's syslog
    #: line, a sentence from a report): only ``npsdiag explain`` produces it.
    TEXT = "text"


# Not frozen, for the same reason as Event (one Finding per relevant record); treat it as
# immutable and use dataclasses.replace to derive another.
@dataclass(slots=True, eq=False)
class Finding:
    """What the extractor pulled out of one event (pure data, no interpretation)."""

    event: Event
    kind: str
    codes: tuple[str, ...] = ()
    cid: str | None = None
    user: str | None = None
    user_key: str | None = None
    state: str | None = None
    aadsts: tuple[str, ...] = ()
    trace_id: str | None = None
    correlation_id: str | None = None
    detail: str | None = None
    response_state: str | None = None
    reason_code: int | None = None
    client_ip: str | None = None
    client_name: str | None = None
    nas_ip: str | None = None
    #: Other normalised identities of the same person in this event, for joining: a 6273
    #: names the user as sent (often a UPN) and as resolved (DOMAIN\\sam).
    user_aliases: tuple[str, ...] = ()
    #: The catalog's matches, worked out while the event text was at hand (None: not yet).
    matches: tuple[Any, ...] | None = None
    #: What makes two records copies of one event across exports (a hash of everything but
    #: the time), worked out while the event's values were at hand; 0 when not computed.
    identity: int = 0
    #: A numeric error the event reports: the RD Gateway's ErrorCode (23003), the VPN
    #: client's code (812, 691, 0). NPS reason codes stay in ``reason_code``.
    error_code: int | None = None

    @property
    def identity_keys(self) -> tuple[str, ...]:
        """``user_key`` followed by every alias, without repeats."""
        keys = (self.user_key, *self.user_aliases) if self.user_key else self.user_aliases
        return tuple(dict.fromkeys(keys))


@dataclass(slots=True)
class Diagnosis:
    """A catalog entry matched to an incident, with how sure we are and why."""

    entry_id: str
    title: str
    category: str
    severity: str
    confidence: str  # high | medium | low
    because: str
    #: Index in ``Incident.findings`` of the event the diagnosis rests on, so a report that
    #: shows only some of an incident's evidence can always show this one.
    key_evidence: int | None = None


@dataclass(slots=True)
class Incident:
    """One authentication attempt (or one configuration notice) and its evidence."""

    key: str
    user: str | None
    start: datetime
    end: datetime
    outcome: str  # accepted | rejected | no-answer | error | ignored | discarded | notice
    findings: list[Finding]
    diagnosis: Diagnosis | None = None
    cid: str | None = None
    codes: tuple[str, ...] = ()
    #: The person the attempt belongs to, in the one form every report shows them (see
    #: ``npsdiag.people``); None when the attempt names no user.
    person: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the attempt is a failed sign-in (:data:`FAILED_OUTCOMES`)."""
        return self.outcome in FAILED_OUTCOMES


@dataclass(slots=True)
class Problem:
    """A ranked cause shared by one or more incidents (e.g. every user failing the same way)."""

    entry_id: str
    title: str
    category: str
    severity: str
    confidence: str
    scope: str  # server | user
    users: list[str]
    incident_keys: list[str]
    start: datetime
    end: datetime
    because: str
    #: Logs whose absence weakens this conclusion (``npsdiag.coverage`` roles); the
    #: ``because`` text then says what to export.
    missing: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LogCoverage:
    """Whether one kind of log was among the inputs, and what that means for the diagnosis.

    Attributes:
        role: ``extension``, ``extension-admin``, ``security``, ``system``, ``registry`` or
            ``traces`` (see ``npsdiag.coverage``).
        label: the log's name as an admin knows it (``Security (NPS events 6272-6280)``).
        files: the inputs that hold it.
        records: records read from those inputs, relevant or not.
        events: events of this log that the analysis used (copies counted once).
        status: ``read`` (given, holds what npsdiag uses), ``empty`` (given, holds none of
            it) or ``missing`` (not given).
        note: what the log tells; when empty or missing, what that means and how to export it.
    """

    role: str
    label: str
    files: list[str]
    records: int
    events: int
    status: str
    note: str


@dataclass(slots=True)
class Coverage:
    """What the inputs covered: every log npsdiag uses, given or not, and other logs read.

    Attributes:
        logs: one entry per role, in a fixed order.
        other_logs: ``(input, what it holds)`` for event logs that hold nothing npsdiag uses
            (a Sysmon or Application log given by mistake).
        evidence: True when the inputs hold at least one NPS or extension event.
    """

    logs: list[LogCoverage]
    other_logs: list[tuple[str, str]] = field(default_factory=list)
    evidence: bool = False

    def given(self, role: str) -> bool:
        """Whether a log of ``role`` was among the inputs and could be read (even if empty)."""
        return any(log.role == role and log.status in ("read", "empty") for log in self.logs)


@dataclass(slots=True)
class ClockNote:
    """How the times of one input without a time zone were lined up with UTC.

    Attributes:
        source: the input (a ``wevtutil /f:text`` dump of the server's local time).
        records: records of it whose time carried no zone.
        method: ``inferred`` (from events seen in a UTC source too), ``given`` (by
            ``--utc-offset``) or ``unknown`` (read as UTC; its times may be off).
        offsets: ``(from, offset)`` pairs: from that UTC instant on (None: from the start)
            the offset applies; two pairs when daylight saving changed inside the input.
        evidence: one sentence saying on what the offset rests, or why none was found.
    """

    source: str
    records: int
    method: str
    offsets: list[tuple[datetime | None, timedelta]]
    evidence: str


class Verdict:
    """What a run concluded, one value per exit status (docs/cli.md)."""

    PROBLEMS = "problems"  # something is wrong: exit 1
    HEALTHY = "healthy"  # sign-in attempts were seen and nothing is wrong: exit 0
    NO_EVIDENCE = "no-evidence"  # no sign-in attempt in the inputs: cannot tell, exit 3


class EvidenceSource(Protocol):
    """Where the events' payloads are kept once extracted: what an :class:`Analysis` needs of
    ``npsdiag.evidence.EvidenceStore`` (named here as a protocol, so that the model does
    not import the store, which imports the model)."""

    mode: str

    def full(self, event: Event) -> Event:
        """``event`` with its payload (fields, data, message) back."""
        ...

    def close(self) -> None:
        """Release the store's file, if any."""
        ...


@dataclass(slots=True)
class Analysis:
    """Everything one run found; the single input of every report renderer."""

    problems: list[Problem]
    incidents: list[Incident]
    notices: list[Incident]
    sources: list[SourceStats]
    unknown_codes: list[str]
    version: str
    command_line: str
    config_findings: list[Mapping[str, str]] = field(default_factory=list)
    #: The NPS server(s) the inputs come from (bundle or file names, else event data).
    servers: list[str] = field(default_factory=list)
    #: What the inputs covered (None only for an Analysis built by hand).
    coverage: Coverage | None = None
    #: How inputs without a time zone were lined up with UTC, one note per such input.
    clocks: list[ClockNote] = field(default_factory=list)
    #: Where the events' payloads are (``npsdiag.evidence.EvidenceStore``); None when every
    #: event still holds its own.
    evidence: EvidenceSource | None = field(default=None, compare=False)

    def full_event(self, event: Event) -> Event:
        """``event`` with its payload (fields, data, message), wherever it is kept."""
        if self.evidence is None:
            return event
        return self.evidence.full(event)

    @property
    def verdict(self) -> str:
        """:class:`Verdict` of the run: problems, healthy, or no evidence to tell."""
        faults = any(
            finding.get("category", "") != "not-an-error" for finding in self.config_findings
        )
        if self.problems or faults:
            return Verdict.PROBLEMS
        if not self.incidents:
            return Verdict.NO_EVIDENCE
        return Verdict.HEALTHY
