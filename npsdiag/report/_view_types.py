"""The view's types: what every report format renders, and the options they share.

Built by :mod:`npsdiag.report._view`; see there for the order and the limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from npsdiag.counts import OUTCOME_ORDER
from npsdiag.errors import UsageError
from npsdiag.model import FAILED_OUTCOMES as _FAILED
from npsdiag.model import FindingKind

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
        kinds: the kind of each step (``fix``, ``check``, ``collect``, ``escalate``;
            ``npsdiag.catalog_steps``), in the order of ``steps``; empty when unknown.
    """

    cause: str = ""
    steps: tuple[str, ...] = ()
    collect: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


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
        html_report: the HTML report written in the same run, if any: the terminal report
            names it where it leaves something out ("and 11 more in report.html").
        index_link: where the HTML report links back to the batch review it belongs to
            (``../index.html`` for a case report of ``npsdiag batch``); None for no link.

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
    html_report: str | None = None
    index_link: str | None = None

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
    #: The kind of each of ``steps`` (see :class:`Guidance`); "" where it is not known.
    step_kinds: tuple[str, ...] = ()

    @property
    def typed_steps(self) -> tuple[tuple[str, str], ...]:
        """``(kind, text)`` of every step, in order."""
        kinds = self.step_kinds + ("",) * (len(self.steps) - len(self.step_kinds))
        return tuple(zip(kinds, self.steps, strict=False))

    @property
    def lead(self) -> tuple[str, str] | None:
        """What a report puts first under the title: ``(kind, text)``.

        The first ``fix`` step; without one, the first step whatever its kind; without
        steps, the cause (kind ``cause``); None when the catalog says nothing.
        """
        steps = self.typed_steps
        for kind, text in steps:
            if kind == "fix":
                return kind, text
        if steps:
            return steps[0]
        return ("cause", self.cause) if self.cause else None

    @property
    def other_steps(self) -> tuple[tuple[str, str], ...]:
        """Every step but the one :attr:`lead` shows, in order: checks, further fixes ..."""
        lead = self.lead
        steps = self.typed_steps
        if lead is None or lead[0] == "cause":
            return steps
        index = steps.index(lead)
        return steps[:index] + steps[index + 1 :]

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
