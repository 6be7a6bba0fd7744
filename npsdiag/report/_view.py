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
from collections.abc import Callable, Iterator, Sequence
from itertools import islice

from npsdiag.clock import offsets_text
from npsdiag.counts import count_analysis
from npsdiag.coverage import export_hint, role_label
from npsdiag.model import (
    Analysis,
    Diagnosis,
    Finding,
    Incident,
    Problem,
    SourceStats,
    as_utc,
)
from npsdiag.people import person_names
from npsdiag.report._select import (
    attempts_shown,
    evidence_shown,
    incidents_shown,
    notices_shown,
    nps_decision,
    sorted_incidents,
)
from npsdiag.report._text import TIME_FORMAT, display_text, format_time, json_text, shorten
from npsdiag.report._view_types import (
    DEFAULT_MAX_EVIDENCE,
    DEFAULT_MAX_INCIDENTS,
    DEFAULT_MAX_USER_ATTEMPTS,
    FAILED_OUTCOMES,
    NOT_DIAGNOSED,
    NOTHING_TO_DIAGNOSE,
    NPS_DECISIONS,
    PAGE_MAX_EVIDENCE,
    PAGE_MAX_INCIDENTS,
    PAGE_MAX_USER_ATTEMPTS,
    AttemptView,
    ClockView,
    CoverageView,
    DiagnosisView,
    EventView,
    FindingView,
    Guidance,
    IncidentRef,
    IncidentView,
    NpsDecisionView,
    ProblemRef,
    ProblemView,
    ReportOptions,
    ReportView,
    SourceView,
    SummaryView,
    UserView,
    page_limit,
)

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

_TOOL_NAME = "npsdiag"

TextPolicy = Callable[[str], str]


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


def _step_kinds(guidance: Guidance) -> tuple[str, ...]:
    """The kind of each step; from the fixes alone when the guidance names no kinds."""
    if len(guidance.kinds) == len(guidance.steps):
        return guidance.kinds
    fixes = set(guidance.fixes)
    return tuple("fix" if step in fixes else "" for step in guidance.steps)


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
    def _groups(self) -> tuple[tuple[str, list[Incident], Sequence[int]], ...]:
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
    def _listed(self) -> range | frozenset[int]:
        """The positions of the listed incidents: attempts link to their own incident, even
        when two incidents share a key. A range when all are listed, as in the JSON report of
        a million attempts, where a set would weigh tens of megabytes."""
        if len(self._shown_incidents) == len(self._incidents):
            return range(len(self._incidents))
        return frozenset(self._shown_incidents)

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
        for anchor, person, group, positions in self._people():
            yield self._user(anchor, person, group, positions)

    def iter_users_streamed(self) -> Iterator[tuple[UserView, Iterator[AttemptView]]]:
        """The affected users as :meth:`iter_users` gives them, but each view without its
        ``attempts``, which come with it one at a time: one person may have made most of a
        million attempts, and a stream writer need not hold them all."""
        for anchor, person, group, positions in self._people():
            shown = attempts_shown(group, self._attempt_limit)
            yield (
                self._user(anchor, person, group, positions, attempts=False),
                (self._attempt(group[index], positions[index]) for index in shown),
            )

    def _people(self) -> Iterator[tuple[str, str, list[Incident], list[int]]]:
        """Each affected person's anchor, name, attempts and their positions in the report's
        incidents, in report order."""
        groups: dict[str, tuple[list[Incident], list[int]]] = {}
        for position, incident in enumerate(self._incidents):
            name_of = self._person(incident)
            if name_of is not None:
                group, positions = groups.setdefault(name_of, ([], []))
                group.append(incident)
                positions.append(position)
        order: list[tuple[tuple[int, str, str], str, list[Incident], list[int]]] = []
        for person, (group, positions) in groups.items():
            failed = sum(1 for incident in group if incident.outcome in FAILED_OUTCOMES)
            if failed:
                name = self._text(person)
                order.append(((-failed, name.casefold(), name), person, group, positions))
        # Ties (two people of the same failures and name) keep their first attempt's order.
        order.sort(key=lambda item: item[0])
        for number, (_key, person, group, positions) in enumerate(order, start=1):
            yield f"user-{number}", person, group, positions

    def _user(
        self,
        anchor: str,
        person: str,
        group: list[Incident],
        positions: list[int],
        *,
        attempts: bool = True,
    ) -> UserView:
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
                self._attempt(group[index], positions[index])
                for index in attempts_shown(group, self._attempt_limit)
            )
            if attempts
            else (),
            attempt_count=len(group),
        )

    def _attempt(self, incident: Incident, position: int) -> AttemptView:
        """``position``: the incident's place in the report's incidents (its anchor)."""
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
            anchor=f"incident-{position + 1}" if position in self._listed else None,
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
            step_kinds=_step_kinds(guidance),
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
