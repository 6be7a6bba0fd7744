"""Typed data that flows through npsdiag: Event -> Finding -> Incident -> Analysis.

Every stage is plain data (dataclasses); the stages themselves live in
``sources/``, ``extract.py``, ``diagnose.py`` and ``report/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "Analysis",
    "Diagnosis",
    "Event",
    "Finding",
    "FindingKind",
    "Incident",
    "Problem",
    "SourceKind",
    "SourceStats",
]


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
