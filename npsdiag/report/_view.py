"""A format-neutral view of one :class:`~npsdiag.model.Analysis`, built once per report.

Every report format renders the same view, so ordering, time formatting, counting and
the cleaning of untrusted text happen here and only here.

Order: problems as ranked by the analysis, then incidents and notices sorted by
``(start, end, key)``, then sources sorted by name. Affected users (people with at least
one failed attempt, one entry per person whatever form of the name the logs used) come
most failed attempts first, then by name; each user's attempts in incident order.

A format meant to be attached or pasted (HTML, Markdown) builds the view with limits:
at most so many incidents and notices (:func:`incidents_shown`, :func:`notices_shown`),
attempts per user (:func:`attempts_shown`) and evidence events per incident
(:func:`evidence_shown`). Limits only shorten the lists: every count, and everything
computed over incidents (problems, users, NPS decisions), still covers all of them, and
a link only ever points at something the view lists (an anchor is None otherwise).

Times are UTC ISO 8601 with microseconds (``2026-01-14T09:30:12.345678Z``, see
:data:`TIME_FORMAT`); naive datetimes are taken to be UTC already.

Event text is hostile input. The view is built with a *text policy*: JSON keeps
every character (only lone surrogates, which cannot be encoded as UTF-8, become
U+FFFD); the display formats also make control and bidirectional-override
characters visible (:func:`display_text`) so that no event can restyle a terminal,
reorder a line, or hide text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice

from npsdiag.clock import offsets_text
from npsdiag.counts import OUTCOME_ORDER, count_analysis
from npsdiag.coverage import export_hint, role_label
from npsdiag.errors import UsageError
from npsdiag.model import FAILED_OUTCOMES as _FAILED
from npsdiag.model import (
    Analysis,
    Diagnosis,
    Finding,
    FindingKind,
    Incident,
    Problem,
    SourceStats,
    as_utc,
)
from npsdiag.people import person_names

__all__ = [
    "DEFAULT_MAX_EVIDENCE",
    "DEFAULT_MAX_INCIDENTS",
    "DEFAULT_MAX_USER_ATTEMPTS",
    "FAILED_OUTCOMES",
    "NOTHING_TO_DIAGNOSE",
    "NOT_DIAGNOSED",
    "NPS_DECISIONS",
    "PAGE_MAX_EVIDENCE",
    "PAGE_MAX_INCIDENTS",
    "PAGE_MAX_USER_ATTEMPTS",
    "TIME_FORMAT",
    "AttemptView",
    "ClockView",
    "CoverageView",
    "DiagnosisView",
    "EventView",
    "FindingView",
    "Guidance",
    "IncidentRef",
    "IncidentView",
    "NpsDecisionView",
    "ProblemRef",
    "ProblemView",
    "ReportOptions",
    "ReportView",
    "SourceView",
    "SummaryView",
    "UserView",
    "ViewBuilder",
    "attempts_shown",
    "build_view",
    "display_text",
    "evidence_shown",
    "format_time",
    "incidents_shown",
    "json_text",
    "notices_shown",
    "nps_decision",
    "page_limit",
    "shorten",
    "sorted_incidents",
    "stream_view",
]

#: The one timestamp format of every report (UTC, microseconds, ``Z`` suffix).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

#: Outcomes that count as a failed authentication (timeline, summary, affected users), in
#: display order: :data:`npsdiag.model.FAILED_OUTCOMES`, the one definition (docs/reports.md).
FAILED_OUTCOMES = tuple(outcome for outcome in OUTCOME_ORDER if outcome in _FAILED)

#: Evidence events the HTML report shows per incident unless told otherwise (``--evidence``).
DEFAULT_MAX_EVIDENCE = 10

#: Incidents (and, separately, notices) the HTML and Markdown reports list unless told
#: otherwise (``--incidents``).
DEFAULT_MAX_INCIDENTS = 200

#: Attempts the HTML and Markdown reports list per affected user before "and N more".
DEFAULT_MAX_USER_ATTEMPTS = 10

#: What a page meant to be opened or pasted holds at most, whatever the options ask ("0 =
#: all" included): beyond this a browser needs gigabytes for one page (56,673 incidents
#: made a 154 MB page). The CSV and JSON reports hold everything.
PAGE_MAX_INCIDENTS = 5_000
PAGE_MAX_EVIDENCE = 500
PAGE_MAX_USER_ATTEMPTS = 500


def page_limit(asked: int, most: int) -> int:
    """The limit a page uses: what was asked (0 = all), but never more than ``most``."""
    return most if asked <= 0 else min(asked, most)


#: What the diagnosis column says about a failure the catalog could not explain ...
NOT_DIAGNOSED = "not diagnosed"
#: ... and about an attempt that did not fail (there is nothing to explain).
NOTHING_TO_DIAGNOSE = "-"

#: NPS's own verdict on a request, by finding kind: the Security event id and its word.
NPS_DECISIONS: Mapping[str, tuple[int, str]] = {
    FindingKind.NPS_GRANTED: (6272, "granted"),
    FindingKind.NPS_DENIED: (6273, "denied"),
    FindingKind.NPS_DISCARDED: (6274, "discarded"),
}

_TOOL_NAME = "npsdiag"

#: Characters that reorder text (bidirectional embeddings, overrides, isolates, marks).
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

# C0 controls except TAB and LF, DEL, C1 controls (0x9B is a one-byte CSI in some
# terminals), bidi controls, Unicode line separators and lone surrogates.
_UNSAFE_DISPLAY = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI_CONTROLS + "\u2028\u2029\ud800-\udfff]"
)
_SURROGATES = re.compile("[\ud800-\udfff]")


def _display_replacement(match: re.Match[str]) -> str:
    character = match.group()
    code = ord(character)
    if code < 0x20:
        # Control Pictures block: U+2400 + code shows e.g. ESC as a visible symbol.
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if character in "\u2028\u2029":
        return "\n"
    if character in _BIDI_CONTROLS:
        return f"<U+{code:04X}>"
    return "\ufffd"  # C1 controls and lone surrogates


def display_text(text: str) -> str:
    """Make untrusted text safe to show: nothing invisible, nothing that restyles or reorders.

    Line endings become ``\\n``; TAB and LF are kept; other C0 controls become their
    Control Pictures symbol (ESC shows as U+241B); C1 controls and lone surrogates
    become U+FFFD; bidirectional controls are spelled out as ``<U+202E>``.

    Args:
        text: Any string, possibly hostile.

    Returns:
        The cleaned string (the same object when nothing needed cleaning).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Printable ASCII (no control character at all) needs nothing; two tests in C settle
    # that common case before the regular expression.
    if (text.isascii() and text.isprintable()) or _UNSAFE_DISPLAY.search(text) is None:
        return text
    return _UNSAFE_DISPLAY.sub(_display_replacement, text)


def json_text(text: str) -> str:
    """Keep every character except lone surrogates, which UTF-8 cannot encode."""
    if text.isascii() or _SURROGATES.search(text) is None:
        return text
    return _SURROGATES.sub("\ufffd", text)


def shorten(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    kept = max(limit, 0)
    return f"{text[:kept]}... ({len(text) - kept} more characters)"


def format_time(when: datetime | None) -> str | None:
    """Format a datetime as UTC ISO 8601 with microseconds, or None."""
    if when is None:
        return None
    # isoformat with fixed microseconds is TIME_FORMAT, and several times faster than strftime.
    if when.tzinfo is timezone.utc:  # every reader's times: cut the "+00:00"
        return when.isoformat(timespec="microseconds")[:-6] + "Z"
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when.isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True, slots=True)
class Guidance:
    """What a catalog entry says about a problem, shown next to the problems it explains.

    Attributes:
        cause: what is going wrong, in general terms ("" when unknown).
        steps: ordered next steps.
        collect: data to collect before escalating.
        fixes: the steps that remove the cause (the catalog's ``fix`` steps), in order; the
            first is what a report leads with. Empty when the entry has none.
        references: links (only ``http``/``https`` ones become hyperlinks in HTML).
    """

    cause: str = ""
    steps: tuple[str, ...] = ()
    collect: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """Rendering options shared by every format; each format reads the ones it needs.

    Attributes:
        width: terminal width in columns (terminal).
        color: emit ANSI colours (terminal); False gives plain text.
        guidance: catalog guidance by entry id. A Problem carries only why the analysis
            concluded it (``because``); the general cause, next steps, data to collect
            and references come from the catalog through here.
        preview_users: how many users a problem lists before "and N more".
        max_terminal_incidents: rows of the terminal incident table.
        max_terminal_users: affected users the terminal lists before "and N more".
        max_terminal_attempts: attempts the terminal lists per user before "and N more".
        max_markdown_text: characters of evidence text per markdown code block.
        max_cell_text: characters of one table cell (terminal, markdown).
        max_evidence: evidence events the HTML report lists per incident (see
            :func:`evidence_shown`); 0 lists all. Counts and everything computed from the
            evidence (timeline, NPS decisions, users) still use every event, and the JSON
            report always holds all of them.
        max_incidents: incidents the HTML and Markdown reports list in detail, and notices
            the HTML report lists (see :func:`incidents_shown`, :func:`notices_shown`); 0
            lists all. Counts, problems, users and the timeline still cover every
            incident; the JSON and CSV reports list all of them.
        max_user_attempts: attempts the HTML and Markdown reports list per affected user
            (see :func:`attempts_shown`) before "and N more"; 0 lists all. The user's
            counts stay true; the JSON report lists every attempt.

    Raises:
        UsageError: ``max_evidence``, ``max_incidents`` or ``max_user_attempts`` is
            negative.
    """

    width: int = 100
    color: bool = False
    guidance: Mapping[str, Guidance] = field(default_factory=dict)
    preview_users: int = 5
    max_terminal_incidents: int = 50
    max_terminal_users: int = 20
    max_terminal_attempts: int = 5
    max_markdown_text: int = 600
    max_cell_text: int = 120
    max_evidence: int = DEFAULT_MAX_EVIDENCE
    max_incidents: int = DEFAULT_MAX_INCIDENTS
    max_user_attempts: int = DEFAULT_MAX_USER_ATTEMPTS

    def __post_init__(self) -> None:
        limits = (
            ("evidence", self.max_evidence, "0 shows every evidence event"),
            ("incident", self.max_incidents, "0 lists every incident"),
            ("attempt", self.max_user_attempts, "0 lists every attempt of a user"),
        )
        for name, value, hint in limits:
            if value < 0:
                raise UsageError(f"the {name} limit must be 0 or more (got {value})", hint=hint)


@dataclass(frozen=True, slots=True)
class EventView:
    """One evidence event with every field of :class:`~npsdiag.model.Event`."""

    time: str
    channel: str
    provider: str
    event_id: int
    level: int | None
    computer: str
    record_id: int | None
    fields: tuple[tuple[str, str], ...]
    data: tuple[str, ...]
    message: str | None
    text: str
    origin: str
    qualifiers: int | None
    keywords: str | None


@dataclass(frozen=True, slots=True)
class FindingView:
    """One finding (what the extractor read from an event) and its event."""

    kind: str
    codes: tuple[str, ...]
    cid: str | None
    user: str | None
    user_key: str | None
    state: str | None
    aadsts: tuple[str, ...]
    trace_id: str | None
    correlation_id: str | None
    detail: str | None
    response_state: str | None
    reason_code: int | None
    client_ip: str | None
    client_name: str | None
    nas_ip: str | None
    event: EventView

    def extracted(self) -> list[tuple[str, str]]:
        """The non-empty extracted values, labelled, in a fixed order, for display."""
        pairs: list[tuple[str, str | int | None]] = [
            ("CID", self.cid),
            ("user", self.user),
            ("state", self.state),
            ("response state", self.response_state),
            ("AADSTS", ", ".join(self.aadsts) or None),
            ("reason code", self.reason_code),
            ("client", self.client_name),
            ("client IP", self.client_ip),
            ("NAS IP", self.nas_ip),
            ("trace id", self.trace_id),
            ("correlation id", self.correlation_id),
            ("detail", self.detail),
        ]
        return [(label, str(value)) for label, value in pairs if value not in (None, "")]


@dataclass(frozen=True, slots=True)
class DiagnosisView:
    """The catalog entry matched to an incident."""

    entry_id: str
    title: str
    category: str
    severity: str
    confidence: str
    because: str
    #: Index in the incident's whole evidence of the event the diagnosis rests on.
    key_evidence: int | None = None


@dataclass(frozen=True, slots=True)
class ProblemRef:
    """A link from an incident to a problem that includes it."""

    rank: int
    anchor: str
    title: str


@dataclass(frozen=True, slots=True)
class IncidentRef:
    """A link from a problem to one of its incidents.

    Attributes:
        key: the incident key the problem names.
        anchor: the HTML id of the incident, or None when the report does not list it
            (left out by an incident limit, or no such incident at all).
        label: start time and user, or the key when there is no such incident.
        known: whether the analysis has an incident (or notice) with this key at all.
    """

    key: str
    anchor: str | None
    label: str
    known: bool = True


@dataclass(frozen=True, slots=True)
class IncidentView:
    """One incident (or notice) ready to render.

    ``findings`` holds the evidence events the report lists: all of them, unless the view
    was built with an evidence limit (:func:`build_view`); ``evidence_count`` and
    ``origins`` always describe the whole evidence.
    """

    anchor: str
    key: str
    user: str | None
    start: str
    end: str
    outcome: str
    cid: str | None
    codes: tuple[str, ...]
    diagnosis: DiagnosisView | None
    findings: tuple[FindingView, ...]
    origins: tuple[str, ...]
    problems: tuple[ProblemRef, ...]
    #: Evidence events of the incident, all of them, including any left out of ``findings``.
    evidence_count: int
    #: When ``findings`` ends with the event the diagnosis rests on although it comes after
    #: the first ones, its 1-based number in the whole evidence; None otherwise.
    key_evidence_number: int | None

    @property
    def failed(self) -> bool:
        """Whether the outcome is a failed authentication."""
        return self.outcome in FAILED_OUTCOMES

    @property
    def evidence_note(self) -> str | None:
        """One line saying that only some of the evidence is listed, or None when all is."""
        shown, total = len(self.findings), self.evidence_count
        if shown >= total:
            return None
        where = "the JSON report (--json) holds all of them."
        key = self.key_evidence_number
        if key is None:
            return f"Showing the first {shown} of {total} evidence events; {where}"
        first = f"the first {shown - 1} and " if shown > 1 else ""
        return (
            f"Showing {shown} of {total} evidence events ({first}number {key}, "
            f"the one the diagnosis rests on); {where}"
        )

    @property
    def cause(self) -> str:
        """The diagnosis column: the title, :data:`NOT_DIAGNOSED` or :data:`NOTHING_TO_DIAGNOSE`."""
        return _cause(self.diagnosis.title if self.diagnosis else None, self.outcome)


def _cause(title: str | None, outcome: str) -> str:
    if title is not None:
        return title
    # "not diagnosed" must keep meaning "a failure the catalog could not explain".
    return NOT_DIAGNOSED if outcome in FAILED_OUTCOMES else NOTHING_TO_DIAGNOSE


@dataclass(frozen=True, slots=True)
class NpsDecisionView:
    """What NPS itself decided about one attempt (Security 6272, 6273 or 6274).

    Attributes:
        event_id: 6272, 6273 or 6274.
        verdict: ``granted``, ``denied`` or ``discarded``.
        reason_code: the event's NPS reason code, when it carried one.
        time: when NPS logged the decision.
    """

    event_id: int
    verdict: str
    reason_code: int | None
    time: str

    @property
    def label(self) -> str:
        """``6273 denied, reason 16``; a grant's reason (0, success) is left out."""
        text = f"{self.event_id} {self.verdict}"
        if self.reason_code is None or (self.verdict == "granted" and self.reason_code == 0):
            return text
        return f"{text}, reason {self.reason_code}"


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One attempt (incident) of an affected user, as the per-user view shows it.

    ``anchor`` is the incident's HTML id, or None when the report does not list that
    incident (it has an incident limit), so that nothing links to a missing target.
    """

    anchor: str | None
    incident_key: str
    user: str | None
    start: str
    outcome: str
    diagnosis_id: str | None
    title: str | None
    codes: tuple[str, ...]
    nps_decision: NpsDecisionView | None

    @property
    def failed(self) -> bool:
        """Whether the outcome is a failed authentication."""
        return self.outcome in FAILED_OUTCOMES

    @property
    def cause(self) -> str:
        """The diagnosis title, :data:`NOT_DIAGNOSED` or :data:`NOTHING_TO_DIAGNOSE`."""
        return _cause(self.title, self.outcome)


@dataclass(frozen=True, slots=True)
class UserView:
    """One affected person: every attempt made under any form of their name.

    Attributes:
        anchor: HTML id of the user's entry.
        name: the form of the name the person's earliest attempt used.
        other_names: the other forms seen (``CONTOSO\\carol`` next to ``carol@...``).
        identity_keys: the normalised identities that tied the attempts together, sorted.
        failed: attempts with a failed outcome (at least one).
        succeeded: attempts whose outcome is ``accepted``.
        first_time: start of the first attempt.
        last_time: end of the last attempt.
        attempts: the attempts the report lists, in incident order: every one, unless
            the view was built with an attempt limit (:func:`attempts_shown`).
        attempt_count: every attempt of the person, listed or not.
    """

    anchor: str
    name: str
    other_names: tuple[str, ...]
    identity_keys: tuple[str, ...]
    failed: int
    succeeded: int
    first_time: str
    last_time: str
    attempts: tuple[AttemptView, ...]
    attempt_count: int

    @property
    def attempts_note(self) -> str | None:
        """The "and N more attempts (F failed, S succeeded)" line, or None when all are listed."""
        more = self.attempt_count - len(self.attempts)
        if more <= 0:
            return None
        failed = self.failed - sum(1 for attempt in self.attempts if attempt.failed)
        succeeded = self.succeeded - sum(
            1 for attempt in self.attempts if attempt.outcome == "accepted"
        )
        parts = [f"{failed:,} failed"] if failed else []
        if succeeded:
            parts.append(f"{succeeded:,} succeeded")
        counts = f" ({', '.join(parts)})" if parts else ""
        word = "attempt" if more == 1 else "attempts"
        return (
            f"and {more:,} more {word}{counts}; the CSV (--csv) and JSON (--json) reports "
            "list every attempt."
        )


@dataclass(frozen=True, slots=True)
class ProblemView:
    """One ranked problem with its guidance."""

    rank: int
    anchor: str
    entry_id: str
    title: str
    category: str
    severity: str
    confidence: str
    scope: str
    because: str
    cause: str | None
    users: tuple[str, ...]
    incident_keys: tuple[str, ...]
    incidents: tuple[IncidentRef, ...]
    start: str
    end: str
    steps: tuple[str, ...]
    collect: tuple[str, ...]
    references: tuple[str, ...]
    #: ``(role, label, export command)`` of each log whose absence weakens this conclusion.
    missing: tuple[tuple[str, str, str], ...] = ()

    def users_preview(self, limit: int) -> tuple[tuple[str, ...], int]:
        """The first ``limit`` users and how many are left out."""
        shown = self.users[: max(limit, 0)]
        return shown, len(self.users) - len(shown)

    @property
    def listed_incidents(self) -> tuple[IncidentRef, ...]:
        """The problem's incidents that the report lists (those with an anchor)."""
        return tuple(reference for reference in self.incidents if reference.anchor is not None)

    @property
    def unknown_incidents(self) -> tuple[IncidentRef, ...]:
        """Keys the problem names that no incident of the analysis has."""
        return tuple(reference for reference in self.incidents if not reference.known)

    @property
    def unlisted_count(self) -> int:
        """Incidents of the problem that exist but the report leaves out (incident limit)."""
        return sum(
            1 for reference in self.incidents if reference.known and reference.anchor is None
        )


@dataclass(frozen=True, slots=True)
class SourceView:
    """Read accounting of one input."""

    name: str
    kind: str
    size: int | None
    status: str
    records_read: int
    records_relevant: int
    records_failed: int
    first_time: str | None
    last_time: str | None
    messages: tuple[str, ...]

    @property
    def fully_read(self) -> bool:
        """True when the input was read completely without a record error."""
        return self.status == "ok" and self.records_failed == 0

    @property
    def lost(self) -> bool:
        """Data of this input was lost: unreadable, or some records failed."""
        return self.status in ("partial", "unreadable") or self.records_failed > 0

    @property
    def listed(self) -> bool:
        """Inventory: not read on purpose (bundle container, trace, copy, other file)."""
        return self.status in ("skipped", "listed") and not self.records_failed


@dataclass(frozen=True, slots=True)
class SummaryView:
    """Counts and the data's time span, as ``npsdiag.counts`` defines them.

    ``incidents`` counts attempts, ``failed_incidents`` the failed ones; ``users`` the
    persons with an attempt, ``affected_users`` those with a failed one;
    ``sources_not_fully_read`` the inputs whose data was lost (partial or unreadable),
    ``sources_listed`` the inventory (containers, traces, copies, other files).
    """

    problems: int
    incidents: int
    failed_incidents: int
    notices: int
    users: int
    outcomes: tuple[tuple[str, int], ...]
    start: str | None
    end: str | None
    sources: int
    sources_not_fully_read: int
    unknown_codes: int
    affected_users: int = 0
    sources_listed: int = 0
    verdict: str = ""


@dataclass(frozen=True, slots=True)
class CoverageView:
    """One log npsdiag uses: given or not, and what that means."""

    role: str
    label: str
    status: str
    files: tuple[str, ...]
    records: int
    events: int
    note: str


@dataclass(frozen=True, slots=True)
class ClockView:
    """How one input without a time zone was lined up with UTC."""

    source: str
    records: int
    method: str
    offsets: str
    evidence: str
    #: ``(from, seconds)``: from that UTC time on (None: from the start) the input's clock
    #: was this many seconds ahead of UTC.
    offset_list: tuple[tuple[str | None, int], ...] = ()

    @property
    def sentence(self) -> str:
        """One line for the report."""
        if self.method == "unknown":
            return (
                f"{self.source}: its {self.records:,} times carry no time zone; the offset "
                f"could not be found: {self.evidence}"
            )
        return (
            f"{self.source}: {self.records:,} times without a time zone, read as {self.offsets} "
            f"({self.evidence})"
        )


@dataclass(frozen=True, slots=True)
class ReportView:
    """Everything a report shows, in report order."""

    tool_name: str
    version: str
    command_line: str
    servers: tuple[str, ...]
    summary: SummaryView
    problems: tuple[ProblemView, ...]
    incidents: tuple[IncidentView, ...]
    notices: tuple[IncidentView, ...]
    sources: tuple[SourceView, ...]
    unknown_codes: tuple[str, ...]
    config_findings: tuple[tuple[tuple[str, str], ...], ...]
    users: tuple[UserView, ...] = ()
    #: Every log npsdiag uses, given or not (empty for an analysis built by hand).
    coverage: tuple[CoverageView, ...] = ()
    #: ``(input, what it holds)`` for logs read that hold nothing npsdiag uses.
    other_logs: tuple[tuple[str, str], ...] = ()
    #: How inputs without a time zone were lined up with UTC.
    clocks: tuple[ClockView, ...] = ()

    @property
    def unread_sources(self) -> tuple[SourceView, ...]:
        """Inputs whose data was lost: unreadable, or some of their records failed."""
        return tuple(source for source in self.sources if source.lost)

    @property
    def listed_sources(self) -> tuple[SourceView, ...]:
        """Inventory: inputs not read on purpose (containers, traces, copies, other files)."""
        return tuple(source for source in self.sources if source.listed)

    @property
    def missing_logs(self) -> tuple[CoverageView, ...]:
        """Logs npsdiag uses that were not given or could not be read."""
        return tuple(log for log in self.coverage if log.status in ("missing", "unreadable"))

    @property
    def times_note(self) -> str | None:
        """What the times mean when an input's clock could not be lined up with UTC."""
        unknown = [clock.source for clock in self.clocks if clock.method == "unknown"]
        if not unknown:
            return None
        return (
            f"times of {', '.join(unknown)} are the server's local clock (no time zone, offset "
            "unknown); give it with --utc-offset"
        )

    @property
    def incidents_note(self) -> str | None:
        """One line saying which incidents are listed when some are left out, else None.

        ``incidents`` holds the listed ones; ``summary.incidents`` counts all of them.
        """
        shown, total = len(self.incidents), self.summary.incidents
        if shown >= total:
            return None
        if self.problems:
            which = (
                "the earliest of every problem first (taking turns, with the failures no "
                "problem explains as one more), then the other attempts"
            )
        else:
            which = "failures first, then the other attempts, earliest first"
        return (
            f"Showing {shown:,} of {total:,} incidents: {which}. The CSV (--csv) and JSON "
            "(--json) reports list every incident."
        )

    @property
    def notices_note(self) -> str | None:
        """One line saying which notices are listed when some are left out, else None."""
        shown, total = len(self.notices), self.summary.notices
        if shown >= total:
            return None
        return (
            f"Showing {shown:,} of {total:,} notices: the earliest of every kind first, "
            "taking turns. The JSON report (--json) lists every notice."
        )


TextPolicy = Callable[[str], str]


def sorted_incidents(incidents: Iterable[Incident]) -> list[Incident]:
    """Incidents in report order: by start, end, then key (stable for equal keys)."""
    return sorted(
        incidents, key=lambda incident: (as_utc(incident.start), as_utc(incident.end), incident.key)
    )


def nps_decision(findings: Iterable[Finding]) -> Finding | None:
    """NPS's decision among one attempt's evidence, or None when it holds no 6272/6273/6274.

    A grant or a denial is NPS's answer and beats a discard (a dropped copy the client may
    send again); among equals the latest wins, then the later in evidence order.
    """
    best: tuple[tuple[int, datetime, int], Finding] | None = None
    for index, finding in enumerate(findings):
        if finding.kind not in NPS_DECISIONS:
            continue
        final = 0 if finding.kind == FindingKind.NPS_DISCARDED else 1
        rank = (final, as_utc(finding.event.time), index)
        if best is None or rank > best[0]:
            best = (rank, finding)
    return None if best is None else best[1]


def evidence_shown(incident: Incident, limit: int) -> list[int]:
    """Which of an incident's evidence events a report with an evidence limit lists.

    Every event when ``limit`` is 0 or the incident has no more than ``limit``; otherwise
    ``limit`` of them: the event the diagnosis rests on (``Diagnosis.key_evidence``) and
    the earliest others, in the incident's own (time) order.

    Args:
        incident: The incident whose ``findings`` are chosen from.
        limit: Events to list at most; 0 means no limit.

    Returns:
        Indexes into ``incident.findings``, ascending.
    """
    total = len(incident.findings)
    if limit <= 0 or total <= limit:
        return list(range(total))
    chosen = list(range(limit))
    key = incident.diagnosis.key_evidence if incident.diagnosis is not None else None
    # An index outside the list (a hand-built or damaged analysis) points at nothing to show.
    if key is not None and limit <= key < total:
        chosen[-1] = key
    return chosen


def _take_in_turn(queues: Sequence[Sequence[int]], limit: int, chosen: dict[int, None]) -> None:
    """Add to ``chosen`` from each queue in turn its first index not chosen yet.

    Round after round, until ``chosen`` holds ``limit`` indexes or every queue is used
    up. An index in several queues is taken once; the queue that meets it again takes
    its next one instead, so every turn adds something new.
    """
    positions = [0] * len(queues)
    active = [number for number, queue in enumerate(queues) if queue]
    while active and len(chosen) < limit:
        still: list[int] = []
        for number in active:
            queue, position = queues[number], positions[number]
            while position < len(queue) and queue[position] in chosen:
                position += 1
            if position < len(queue):
                chosen[queue[position]] = None
                position += 1
                if len(chosen) >= limit:
                    return
            positions[number] = position
            if position < len(queue):
                still.append(number)
        active = still


def incidents_shown(
    incidents: Sequence[Incident], problems: Sequence[Problem], limit: int
) -> list[int]:
    """Which incidents a report with an incident limit lists.

    Every incident when ``limit`` is 0 or there are no more than ``limit``. Otherwise
    ``limit`` of them, taken in this order: in turn from each problem, in rank order, its
    earliest incident not taken yet (an incident of several problems is taken once), with
    the failed incidents of no problem (the undiagnosed failures) as one more problem
    after the ranked ones; when those run out, the rest (accepted and the like), earliest
    first. Every failure is in a problem or among the undiagnosed ones, so failures always
    come before the rest, and the earliest incident of every problem is listed whenever
    ``limit`` is at least the number of problems.

    Args:
        incidents: The incidents in report order (:func:`sorted_incidents`).
        problems: The ranked problems; their ``incident_keys`` name incidents (every
            incident with that key belongs to the problem; unknown keys are ignored).
        limit: Incidents to list at most; 0 means no limit.

    Returns:
        Indexes into ``incidents``, ascending (the report keeps its order).
    """
    total = len(incidents)
    if limit <= 0 or total <= limit:
        return list(range(total))
    by_key: dict[str, list[int]] = {}
    for index, incident in enumerate(incidents):
        by_key.setdefault(incident.key, []).append(index)
    queues: list[list[int]] = []
    in_problem: set[int] = set()
    for problem in problems:
        members = sorted(
            {index for key in set(problem.incident_keys) for index in by_key.get(key, ())}
        )
        in_problem.update(members)
        queues.append(members)
    queues.append(
        [
            index
            for index, incident in enumerate(incidents)
            if incident.outcome in FAILED_OUTCOMES and index not in in_problem
        ]
    )
    chosen: dict[int, None] = {}
    _take_in_turn(queues, limit, chosen)
    _take_in_turn([range(total)], limit, chosen)
    return sorted(chosen)


def _notice_kind(notice: Incident) -> str:
    if notice.diagnosis is not None:
        return "entry:" + notice.diagnosis.entry_id
    return "codes:" + ",".join(notice.codes)


def notices_shown(notices: Sequence[Incident], limit: int) -> list[int]:
    """Which notices a report with an incident limit lists.

    Every notice when ``limit`` is 0 or there are no more than ``limit``. Otherwise
    ``limit`` of them, taken in turn from each kind of notice (its catalog entry, else
    its codes), earliest first, kinds in the order of their earliest notice: one busy
    kind cannot hide a rare one.

    Args:
        notices: The notices in report order (:func:`sorted_incidents`).
        limit: Notices to list at most; 0 means no limit.

    Returns:
        Indexes into ``notices``, ascending.
    """
    if limit <= 0 or len(notices) <= limit:
        return list(range(len(notices)))
    kinds: dict[str, list[int]] = {}
    for index, notice in enumerate(notices):
        kinds.setdefault(_notice_kind(notice), []).append(index)
    chosen: dict[int, None] = {}
    _take_in_turn(list(kinds.values()), limit, chosen)
    return sorted(chosen)


def attempts_shown(attempts: Sequence[Incident], limit: int) -> list[int]:
    """Which of one user's attempts a report with an attempt limit lists.

    Every attempt when ``limit`` is 0 or there are no more than ``limit``. Otherwise
    ``limit`` of them, taken in turn from each kind of attempt (outcome and diagnosis),
    earliest first: the kinds of failure in the order of their earliest attempt, then the
    other kinds (successes, ...) likewise. A user who failed 500 times one way and once
    another way shows both, and a success among them.

    Args:
        attempts: The user's attempts in report order.
        limit: Attempts to list at most; 0 means no limit.

    Returns:
        Indexes into ``attempts``, ascending.
    """
    if limit <= 0 or len(attempts) <= limit:
        return list(range(len(attempts)))
    failures: dict[tuple[str, str], list[int]] = {}
    others: dict[tuple[str, str], list[int]] = {}
    for index, attempt in enumerate(attempts):
        kind = (attempt.outcome, attempt.diagnosis.entry_id if attempt.diagnosis else "")
        target = failures if attempt.outcome in FAILED_OUTCOMES else others
        target.setdefault(kind, []).append(index)
    chosen: dict[int, None] = {}
    _take_in_turn([*failures.values(), *others.values()], limit, chosen)
    return sorted(chosen)


def build_view(
    analysis: Analysis,
    options: ReportOptions,
    text: TextPolicy,
    *,
    evidence_limit: int = 0,
    incident_limit: int = 0,
    attempt_limit: int = 0,
    evidence: bool = True,
    user_limit: int = 0,
) -> ReportView:
    """Build the view of ``analysis`` with every string passed through ``text``.

    The limits (0, the default, means none) shorten lists only: the summary counts,
    problems, users' counts, ``evidence_count`` and ``origins`` always describe
    everything, and an anchor (``IncidentRef.anchor``, ``AttemptView.anchor``) is None
    when its incident is not in the view, so nothing links to a missing target.

    Args:
        analysis: The result of one run.
        options: Rendering options (guidance is looked up here).
        text: :func:`display_text` for human formats, :func:`json_text` for JSON.
        evidence_limit: evidence events each incident's ``findings`` holds at most (chosen
            by :func:`evidence_shown`). A format that lists evidence passes
            ``options.max_evidence``.
        incident_limit: incidents ``incidents`` holds at most (chosen by
            :func:`incidents_shown`), and notices ``notices`` holds at most (chosen by
            :func:`notices_shown`). Formats meant to be attached pass
            ``options.max_incidents``; anchors keep the numbers of the whole report order,
            so ``incident-5123`` is the 5123rd incident whatever the limit.
        attempt_limit: attempts each user's ``attempts`` holds at most (chosen by
            :func:`attempts_shown`); ``attempt_count`` counts all.
        evidence: False for a format that shows no evidence events (terminal, CSV): each
            incident's ``findings`` is then empty, which saves converting every event.
        user_limit: affected users ``users`` holds at most (the first in report order);
            0 means all. The summary still counts every one.

    Returns:
        The view, in report order.
    """
    builder = ViewBuilder(
        analysis, options, text, evidence_limit, incident_limit, attempt_limit, evidence
    )
    return builder.build(user_limit=user_limit)


def stream_view(
    analysis: Analysis, options: ReportOptions, text: TextPolicy, *, evidence: bool = True
) -> tuple[ReportView, ViewBuilder]:
    """The view of ``analysis`` for a format that writes every incident as a stream.

    The returned view holds everything but its long lists: ``incidents``, ``notices``,
    ``users`` and each problem's ``incidents`` are empty (its ``incident_keys`` name them),
    and the builder's :meth:`ViewBuilder.iter_incidents`,
    :meth:`ViewBuilder.iter_notices` and :meth:`ViewBuilder.iter_users` give them one at a
    time, in report order, so that memory does not grow with the number of incidents. The
    counts and everything else are those of :func:`build_view` without limits.
    """
    builder = ViewBuilder(analysis, options, text, 0, 0, 0, evidence)
    builder._references = False  # ProblemView.incidents stays empty; incident_keys names them
    return builder.build(lists=False), builder


class ViewBuilder:
    def __init__(
        self,
        analysis: Analysis,
        options: ReportOptions,
        text: TextPolicy,
        evidence_limit: int,
        incident_limit: int,
        attempt_limit: int,
        evidence: bool,
    ) -> None:
        self._analysis = analysis
        self._evidence = evidence
        self._references = True
        self._options = options
        self._text = text
        self._evidence_limit = evidence_limit
        self._attempt_limit = attempt_limit
        self._incidents = sorted_incidents(analysis.incidents)
        self._notices = sorted_incidents(analysis.notices)
        self._shown_incidents = incidents_shown(self._incidents, analysis.problems, incident_limit)
        self._shown_notices = notices_shown(self._notices, incident_limit)
        # Which problems name each incident: one shared tuple per combination (most keys
        # belong to one problem), so a case of a million attempts holds pointers, not lists.
        refs = [
            (ProblemRef(rank, f"problem-{rank}", text(problem.title)), problem.incident_keys)
            for rank, problem in enumerate(analysis.problems, start=1)
        ]
        by_key: dict[str, list[ProblemRef]] = {}
        for reference, keys in refs:
            for key in dict.fromkeys(keys):
                by_key.setdefault(key, []).append(reference)
        combos: dict[tuple[ProblemRef, ...], tuple[ProblemRef, ...]] = {}
        self._problem_refs: dict[str, tuple[ProblemRef, ...]] = {
            key: combos.setdefault(tuple(found), tuple(found)) for key, found in by_key.items()
        }
        # The one person of every attempt (npsdiag.people): users are counted and named
        # the same way in the summary, in every problem and in the affected users. The
        # diagnosis names them on the incidents; an analysis built by hand is worked out here.
        self._fallback_persons: dict[int, str] | None = None
        if any(
            incident.person is None
            and (incident.user or any(finding.identity_keys for finding in incident.findings))
            for incident in self._incidents
        ):
            self._fallback_persons = person_names(self._incidents)

    def _person(self, incident: Incident) -> str | None:
        if self._fallback_persons is not None:
            return self._fallback_persons.get(id(incident))
        return incident.person

    @functools.cached_property
    def _anchors(self) -> dict[str, str]:
        """HTML ids by incident key, for the listed incidents only.

        Anchors number incidents in the whole report order, listed or not; a key links to
        the first listed incident with that key (so a duplicated key still links somewhere
        sensible) and to nothing when none is listed.
        """
        anchors: dict[str, str] = {}
        for prefix, group, shown in self._groups:
            for index in shown:
                anchors.setdefault(group[index].key, f"{prefix}-{index + 1}")
        return anchors

    @functools.cached_property
    def _groups(self) -> tuple[tuple[str, list[Incident], list[int]], ...]:
        return (
            ("incident", self._incidents, self._shown_incidents),
            ("notice", self._notices, self._shown_notices),
        )

    @functools.cached_property
    def _first_of_key(self) -> dict[str, Incident]:
        """The incident that names a key in references: listed ones first."""
        first: dict[str, Incident] = {}
        for _prefix, group, shown in self._groups:
            for index in shown:
                first.setdefault(group[index].key, group[index])
        for _prefix, group, _shown in self._groups:
            for incident in group:
                first.setdefault(incident.key, incident)
        return first

    @functools.cached_property
    def _incident_anchors(self) -> dict[int, str]:
        """Attempts link to their own incident, even when two incidents share a key."""
        return {
            id(self._incidents[index]): f"incident-{index + 1}" for index in self._shown_incidents
        }

    @functools.cached_property
    def _by_key(self) -> dict[str, Incident | list[Incident]]:
        """Incidents by key: the incident, or a list when several share the key."""
        found: dict[str, Incident | list[Incident]] = {}
        for incident in self._incidents:
            held = found.setdefault(incident.key, incident)
            if held is not incident:
                if isinstance(held, list):
                    held.append(incident)
                else:
                    found[incident.key] = [held, incident]
        return found

    def _with_key(self, key: str) -> list[Incident]:
        held = self._by_key.get(key)
        if held is None:
            return []
        return held if isinstance(held, list) else [held]

    def _incident_label(self, incident: Incident) -> str:
        when = format_time(incident.start) or ""
        return f"{when} {self._text(incident.user) if incident.user else '(no user)'}"

    #: References of a problem labelled even when their incident is not listed (Markdown
    #: names the first ten of a problem's incidents).
    _LABELLED = 10

    def _reference(self, key: str, position: int) -> IncidentRef:
        """A problem's reference to one of its incidents; the label only where one is shown."""
        incident = self._first_of_key.get(key)
        anchor = self._anchors.get(key)
        if incident is None:
            label = self._text(key)
        elif anchor is not None or position < self._LABELLED:
            label = self._incident_label(incident)
        else:
            label = ""  # never shown: neither listed nor among the first few
        return IncidentRef(
            key=self._text(key), anchor=anchor, label=label, known=incident is not None
        )

    def ordered(self) -> tuple[list[Incident], list[Incident]]:
        """The incidents and the notices the view lists, in report order (all of them when
        the view has no incident limit), for a format that writes them without views."""
        return (
            [self._incidents[index] for index in self._shown_incidents],
            [self._notices[index] for index in self._shown_notices],
        )

    def problem_ranks(self, key: str) -> list[int]:
        """The ranks of the problems that name incident ``key``."""
        return [reference.rank for reference in self._problem_refs.get(key, ())]

    def iter_incidents(self, *, payloads: bool = True) -> Iterator[IncidentView]:
        """The listed incidents' views, in report order, built one at a time.

        With ``payloads=False`` the evidence events are not brought back from the evidence
        store: their views carry no fields, data or message (for a format that writes the
        events elsewhere and only needs the findings here).
        """
        for index in self._shown_incidents:
            yield self._incident(f"incident-{index + 1}", self._incidents[index], payloads)

    def iter_notices(self, *, payloads: bool = True) -> Iterator[IncidentView]:
        """The listed notices' views, in report order (see :meth:`iter_incidents`)."""
        for index in self._shown_notices:
            yield self._incident(f"notice-{index + 1}", self._notices[index], payloads)

    def build(self, *, lists: bool = True, user_limit: int = 0) -> ReportView:
        """The whole view; with ``lists=False`` without incidents, notices and users."""
        text = self._text
        analysis = self._analysis
        problems = tuple(
            self._problem(rank, problem) for rank, problem in enumerate(analysis.problems, start=1)
        )
        incidents = tuple(self.iter_incidents()) if lists else ()
        notices = tuple(self.iter_notices()) if lists else ()
        sources = tuple(
            self._source(source)
            for source in sorted(analysis.sources, key=lambda item: (item.name, item.kind))
        )
        unknown_codes = tuple(sorted({text(code) for code in analysis.unknown_codes}))
        config_findings = tuple(
            tuple((text(str(key)), text(str(value))) for key, value in finding.items())
            for finding in analysis.config_findings
        )
        return ReportView(
            tool_name=_TOOL_NAME,
            version=text(analysis.version),
            command_line=text(analysis.command_line),
            servers=tuple(text(server) for server in analysis.servers),
            summary=self._summary(sources, unknown_codes),
            problems=problems,
            incidents=incidents,
            notices=notices,
            sources=sources,
            unknown_codes=unknown_codes,
            config_findings=config_findings,
            users=tuple(islice(self.iter_users(), user_limit or None)) if lists else (),
            coverage=self._coverage(),
            other_logs=tuple(
                (text(name), text(note))
                for name, note in (analysis.coverage.other_logs if analysis.coverage else ())
            ),
            clocks=tuple(
                ClockView(
                    source=text(clock.source),
                    records=clock.records,
                    method=clock.method,
                    offsets=offsets_text(clock),
                    evidence=text(clock.evidence),
                    offset_list=tuple(
                        (format_time(start), int(offset.total_seconds()))
                        for start, offset in clock.offsets
                    ),
                )
                for clock in analysis.clocks
            ),
        )

    def _coverage(self) -> tuple[CoverageView, ...]:
        coverage = self._analysis.coverage
        if coverage is None:
            return ()
        text = self._text
        return tuple(
            CoverageView(
                role=log.role,
                label=text(log.label),
                status=log.status,
                files=tuple(text(name) for name in log.files),
                records=log.records,
                events=log.events,
                note=text(log.note),
            )
            for log in coverage.logs
        )

    def _summary(self, sources: Sequence[SourceView], unknown_codes: Sequence[str]) -> SummaryView:
        counts = count_analysis(self._analysis)
        text = self._text
        return SummaryView(
            problems=counts.problems,
            incidents=counts.attempts,
            failed_incidents=counts.failed_attempts,
            notices=counts.notices,
            users=counts.users,
            outcomes=tuple((text(outcome), number) for outcome, number in counts.outcomes),
            start=format_time(counts.start),
            end=format_time(counts.end),
            sources=len(sources),
            sources_not_fully_read=counts.files_lost,
            unknown_codes=len(unknown_codes),
            affected_users=counts.affected_users,
            sources_listed=counts.files_listed,
            verdict=self._analysis.verdict,
        )

    def iter_users(self) -> Iterator[UserView]:
        """The affected users' views in report order, each built when it is reached."""
        groups: dict[str, list[Incident]] = {}
        for incident in self._incidents:
            name_of = self._person(incident)
            if name_of is not None:
                groups.setdefault(name_of, []).append(incident)
        order: list[tuple[tuple[int, str, str], str, list[Incident]]] = []
        for person, group in groups.items():
            failed = sum(1 for incident in group if incident.outcome in FAILED_OUTCOMES)
            if failed:
                name = self._text(person)
                order.append(((-failed, name.casefold(), name), person, group))
        # Ties (two people of the same failures and name) keep their first attempt's order.
        order.sort(key=lambda item: item[0])
        for number, (_key, person, group) in enumerate(order, start=1):
            yield self._user(f"user-{number}", person, group)

    def _user(self, anchor: str, person: str, group: list[Incident]) -> UserView:
        text = self._text
        failed = sum(1 for incident in group if incident.outcome in FAILED_OUTCOMES)
        # The person's own name first, then the other forms the logs used.
        names = list(
            dict.fromkeys(
                [text(person)] + [text(incident.user) for incident in group if incident.user]
            )
        )
        keys = tuple(
            sorted(
                {
                    text(key)
                    for incident in group
                    for finding in incident.findings
                    for key in finding.identity_keys
                    if key
                }
            )
        )
        return UserView(
            anchor=anchor,
            name=names[0],
            other_names=tuple(names[1:]),
            identity_keys=keys,
            failed=failed,
            succeeded=sum(1 for incident in group if incident.outcome == "accepted"),
            first_time=format_time(min(as_utc(incident.start) for incident in group)) or "",
            last_time=format_time(max(as_utc(incident.end) for incident in group)) or "",
            attempts=tuple(
                self._attempt(group[index]) for index in attempts_shown(group, self._attempt_limit)
            ),
            attempt_count=len(group),
        )

    def _attempt(self, incident: Incident) -> AttemptView:
        text = self._text
        diagnosis = incident.diagnosis
        decision = nps_decision(incident.findings)
        decision_view: NpsDecisionView | None = None
        if decision is not None:
            event_id, verdict = NPS_DECISIONS[decision.kind]
            decision_view = NpsDecisionView(
                event_id=event_id,
                verdict=verdict,
                reason_code=decision.reason_code,
                time=format_time(decision.event.time) or "",
            )
        return AttemptView(
            anchor=self._incident_anchors.get(id(incident)),
            incident_key=text(incident.key),
            user=self._optional(incident.user),
            start=format_time(incident.start) or "",
            outcome=text(incident.outcome),
            diagnosis_id=text(diagnosis.entry_id) if diagnosis else None,
            title=text(diagnosis.title) if diagnosis else None,
            codes=tuple(text(code) for code in incident.codes),
            nps_decision=decision_view,
        )

    def _problem_users(self, problem: Problem, keys: Sequence[str]) -> list[str]:
        """The persons whose failed attempts the problem explains, sorted by name.

        Taken from the problem's incidents, so that a problem can never name someone who did
        not fail, or name a person otherwise than the rest of the report; a problem without
        incidents of the analysis (raised over many events) keeps its own list.
        """
        members = [incident for key in keys for incident in self._with_key(key)]
        if not members:
            return list(problem.users)
        persons = {
            person
            for incident in members
            if incident.outcome in FAILED_OUTCOMES and (person := self._person(incident))
        }
        return sorted(persons, key=lambda name: (name.lower(), name))

    def _problem(self, rank: int, problem: Problem) -> ProblemView:
        text = self._text
        guidance = self._options.guidance.get(problem.entry_id, Guidance())
        keys = tuple(dict.fromkeys(problem.incident_keys))
        # A streaming format (JSON, CSV) names a problem's incidents by key only.
        references = (
            tuple(self._reference(key, position) for position, key in enumerate(keys))
            if self._references
            else ()
        )
        return ProblemView(
            rank=rank,
            anchor=f"problem-{rank}",
            entry_id=text(problem.entry_id),
            title=text(problem.title),
            category=text(problem.category),
            severity=text(problem.severity),
            confidence=text(problem.confidence),
            scope=text(problem.scope),
            because=text(problem.because),
            cause=text(guidance.cause.strip()) if guidance.cause.strip() else None,
            users=tuple(text(user) for user in self._problem_users(problem, keys)),
            incident_keys=tuple(text(key) for key in keys),
            incidents=references,
            start=format_time(problem.start) or "",
            end=format_time(problem.end) or "",
            steps=tuple(text(step) for step in guidance.steps),
            collect=tuple(text(item) for item in guidance.collect),
            references=tuple(text(link) for link in guidance.references),
            missing=tuple((role, role_label(role), export_hint(role)) for role in problem.missing),
        )

    def _incident(self, anchor: str, incident: Incident, payloads: bool = True) -> IncidentView:
        text = self._text
        every = incident.findings
        shown = evidence_shown(incident, self._evidence_limit) if self._evidence else []
        # Only the listed events are converted (the cost of a view is in its events); the
        # origins name the files of every event, listed or not.
        findings = tuple(self._finding(every[index], payloads) for index in shown)
        origins = tuple(sorted({text(origin) for origin in {f.event.origin for f in every}}))
        return IncidentView(
            anchor=anchor,
            key=text(incident.key),
            user=text(incident.user) if incident.user is not None else None,
            start=format_time(incident.start) or "",
            end=format_time(incident.end) or "",
            outcome=text(incident.outcome),
            cid=text(incident.cid) if incident.cid is not None else None,
            codes=tuple(text(code) for code in incident.codes),
            diagnosis=self._diagnosis(incident.diagnosis),
            findings=findings,
            origins=origins,
            problems=tuple(self._problem_refs.get(incident.key, ())),
            evidence_count=len(every),
            # The key event is the only one that can break the run 0, 1, 2, ... (and is last).
            key_evidence_number=shown[-1] + 1 if shown and shown[-1] != len(shown) - 1 else None,
        )

    def _diagnosis(self, diagnosis: Diagnosis | None) -> DiagnosisView | None:
        if diagnosis is None:
            return None
        text = self._text
        return DiagnosisView(
            entry_id=text(diagnosis.entry_id),
            title=text(diagnosis.title),
            category=text(diagnosis.category),
            severity=text(diagnosis.severity),
            confidence=text(diagnosis.confidence),
            because=text(diagnosis.because),
            key_evidence=diagnosis.key_evidence,
        )

    def _optional(self, value: str | None) -> str | None:
        return None if value is None else self._text(value)

    def _finding(self, finding: Finding, payload: bool = True) -> FindingView:
        text = self._text
        optional = self._optional
        # Only the events a report lists are brought back from the evidence store.
        event = self._analysis.full_event(finding.event) if payload else finding.event
        event_view = EventView(
            time=format_time(event.time) or "",
            channel=text(event.channel),
            provider=text(event.provider),
            event_id=event.event_id,
            level=event.level,
            computer=text(event.computer),
            record_id=event.record_id,
            fields=tuple((text(name), text(value)) for name, value in event.fields.items()),
            data=tuple(text(value) for value in event.data),
            message=optional(event.message),
            text=text(event.text),
            origin=text(event.origin),
            qualifiers=event.qualifiers,
            keywords=optional(event.keywords),
        )
        return FindingView(
            kind=text(finding.kind),
            codes=tuple(text(code) for code in finding.codes),
            cid=optional(finding.cid),
            user=optional(finding.user),
            user_key=optional(finding.user_key),
            state=optional(finding.state),
            aadsts=tuple(text(code) for code in finding.aadsts),
            trace_id=optional(finding.trace_id),
            correlation_id=optional(finding.correlation_id),
            detail=optional(finding.detail),
            response_state=optional(finding.response_state),
            reason_code=finding.reason_code,
            client_ip=optional(finding.client_ip),
            client_name=optional(finding.client_name),
            nas_ip=optional(finding.nas_ip),
            event=event_view,
        )

    def _source(self, source: SourceStats) -> SourceView:
        text = self._text
        return SourceView(
            name=text(source.name),
            kind=text(source.kind),
            size=source.size,
            status=text(source.status),
            records_read=source.records_read,
            records_relevant=source.records_relevant,
            records_failed=source.records_failed,
            first_time=format_time(source.first_time),
            last_time=format_time(source.last_time),
            messages=tuple(text(message) for message in source.messages),
        )
