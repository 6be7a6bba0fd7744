"""Walk an Analysis in report order and rebuild it with every string rewritten.

The structure half of redaction: which dataclass holds which strings, in what order they are
met (problems as ranked, incidents and notices by time, sources by name, configuration
findings, unknown codes, the command line; inside an event its computer first), and which
role each string has (a finding's user, a 6273's ``SubjectDomainName``, an event's computer
...). :class:`AnalysisWalk` does the walking; a subclass (:class:`npsdiag.redact._Redactor`)
says how a value of a role is rewritten (:meth:`AnalysisWalk._apply`). The order is what
numbers pseudonyms by first appearance, so it must never depend on anything but the data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from npsdiag._redact_rules import (
    CLIENT,
    CONFIG,
    HOST,
    IP,
    KEPT_FIELDS,
    PROSE,
    TEXT,
    USER,
    USER_KEY,
    data_roles,
    field_role,
)
from npsdiag.model import (
    Analysis,
    Coverage,
    Diagnosis,
    Event,
    Finding,
    Incident,
    Problem,
    SourceStats,
)
from npsdiag.report._view import sorted_incidents
from npsdiag.sources.discover import hide_content

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["AnalysisWalk"]

_D = TypeVar("_D", bound="DataclassInstance")


class AnalysisWalk:
    """Rebuilds an Analysis, every string passed through :meth:`_apply` with its role."""

    def __init__(self) -> None:
        #: Which string of the walk this is, and where in it a value starts: the position
        #: of a value, by which pseudonyms are numbered.
        self._string_index = 0
        self._offset = 0
        self._events: dict[int, Event] = {}
        self._findings: dict[int, Finding] = {}

    def _apply(self, role: str, value: str) -> str:
        """Rewrite ``value``, a string of ``role``."""
        raise NotImplementedError

    def _link_users(self, keys: Sequence[str]) -> None:
        """Note that ``keys`` (normalised user names) name one person."""

    def _start_pass(self) -> None:
        """Called before each walk."""

    def _s(self, role: str, value: str) -> str:
        self._string_index += 1
        self._offset = 0
        return self._apply(role, value)

    def _opt(self, role: str, value: str | None) -> str | None:
        return None if value is None else self._s(role, value)

    def _replace(self, item: _D, kept: frozenset[str], **changes: object) -> _D:
        """``dataclasses.replace`` that also rewrites string fields nobody listed.

        A field added to the model later is redacted as free text until it gets a rule of
        its own, rather than passed through unseen.
        """
        for spec in dataclasses.fields(item):
            name = spec.name
            if name in changes or name in kept or not spec.init:
                continue  # fields outside __init__ are caches the new object builds anew
            value = getattr(item, name)
            if isinstance(value, str):
                changes[name] = self._s(TEXT, value)
            elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                changes[name] = type(value)(self._s(TEXT, v) for v in value)
        return dataclasses.replace(item, **changes)

    def _rebuild(self, analysis: Analysis) -> Analysis:
        self._analysis = analysis
        self._string_index = 0
        self._events = {}
        self._findings = {}
        self._start_pass()
        problems = [self._problem(problem) for problem in analysis.problems]
        incidents = self._in_report_order(analysis.incidents)
        notices = self._in_report_order(analysis.notices)
        order = sorted(range(len(analysis.sources)), key=lambda i: _source_key(analysis.sources[i]))
        sources: list[SourceStats | None] = [None] * len(analysis.sources)
        for index in order:
            sources[index] = self._source(analysis.sources[index])
        config = [self._config_row(row) for row in analysis.config_findings]
        unknown = [self._s(TEXT, code) for code in analysis.unknown_codes]
        command_line = self._s(TEXT, analysis.command_line)
        return self._replace(
            analysis,
            KEPT_FIELDS["Analysis"],
            problems=problems,
            incidents=incidents,
            notices=notices,
            sources=[source for source in sources if source is not None],
            unknown_codes=unknown,
            command_line=command_line,
            config_findings=config,
            coverage=self._coverage(analysis.coverage),
            clocks=[self._replace(clock, KEPT_FIELDS["ClockNote"]) for clock in analysis.clocks],
        )

    def _coverage(self, coverage: Coverage | None) -> Coverage | None:
        if coverage is None:
            return None
        return dataclasses.replace(
            coverage,
            logs=[self._replace(log, KEPT_FIELDS["LogCoverage"]) for log in coverage.logs],
            other_logs=[
                (self._s(TEXT, name), self._s(TEXT, note)) for name, note in coverage.other_logs
            ],
        )

    def _in_report_order(self, incidents: Sequence[Incident]) -> list[Incident]:
        rebuilt = {
            id(incident): self._incident(incident) for incident in sorted_incidents(incidents)
        }
        return [rebuilt[id(incident)] for incident in incidents]

    def _problem(self, problem: Problem) -> Problem:
        users = [self._s(USER, user) for user in problem.users]
        return self._replace(
            problem,
            KEPT_FIELDS["Problem"],
            title=self._s(PROSE, problem.title),
            users=sorted(users, key=lambda user: (user.lower(), user)),
            incident_keys=[self._s(TEXT, key) for key in problem.incident_keys],
            because=self._s(PROSE, problem.because),
        )

    def _incident(self, incident: Incident) -> Incident:
        return self._replace(
            incident,
            KEPT_FIELDS["Incident"],
            key=self._s(TEXT, incident.key),
            user=self._opt(USER, incident.user),
            person=self._opt(USER, incident.person),
            findings=[self._finding(finding) for finding in incident.findings],
            diagnosis=self._diagnosis(incident.diagnosis),
        )

    def _diagnosis(self, diagnosis: Diagnosis | None) -> Diagnosis | None:
        if diagnosis is None:
            return None
        return self._replace(
            diagnosis,
            KEPT_FIELDS["Diagnosis"],
            title=self._s(PROSE, diagnosis.title),
            because=self._s(PROSE, diagnosis.because),
        )

    def _finding(self, finding: Finding) -> Finding:
        done = self._findings.get(id(finding))
        if done is not None:
            return done
        keys = [key.strip().lower() for key in finding.identity_keys if key and key.strip()]
        self._link_users(keys)
        rebuilt = self._replace(
            finding,
            KEPT_FIELDS["Finding"],
            event=self._event(finding.event),
            user=self._opt(USER, finding.user),
            user_key=self._opt(USER_KEY, finding.user_key),
            user_aliases=tuple(self._s(USER_KEY, alias) for alias in finding.user_aliases),
            client_ip=self._opt(IP, finding.client_ip),
            client_name=self._opt(CLIENT, finding.client_name),
            nas_ip=self._opt(IP, finding.nas_ip),
            detail=self._opt(TEXT, finding.detail),
        )
        self._findings[id(finding)] = rebuilt
        return rebuilt

    def _event(self, light: Event) -> Event:
        done = self._events.get(id(light))
        if done is not None:
            return done
        # The payload may be in the evidence store: every value of the event is redacted.
        event = self._analysis.full_event(light)
        # The server first: it is the host every event names, so it becomes host-1.
        computer = self._s(HOST, event.computer)
        origin = self._s(TEXT, event.origin)
        fields: dict[str, str] = {}
        for name, value in event.fields.items():
            new_name = self._s(TEXT, name)
            while new_name in fields:  # two names that became one pseudonym: keep both
                new_name += "'"
            fields[new_name] = self._s(field_role(name), value)
        roles = data_roles(event)
        data = tuple(
            self._s(roles[i] if i < len(roles) else TEXT, value)
            for i, value in enumerate(event.data)
        )
        rebuilt = self._replace(
            event,
            KEPT_FIELDS["Event"],
            computer=computer,
            origin=origin,
            fields=fields,
            data=data,
            message=self._opt(TEXT, event.message),
        )
        self._events[id(light)] = rebuilt
        return rebuilt

    def _source(self, source: SourceStats) -> SourceStats:
        return self._replace(
            source,
            KEPT_FIELDS["SourceStats"],
            name=self._s(TEXT, source.name),
            # What a note quotes of a file that is no log could be anything: never shown.
            messages=[self._s(TEXT, hide_content(message)) for message in source.messages],
        )

    def _config_row(self, row: Mapping[str, str]) -> Mapping[str, str]:
        # Every GUID of a configuration finding is a tenant id (TENANT_ID, CN=<tenant>) or the
        # application id, which is kept.
        return {
            self._s(CONFIG, str(key)): self._s(CONFIG, str(value)) for key, value in row.items()
        }


def _source_key(source: SourceStats) -> tuple[str, str]:
    return source.name, source.kind
