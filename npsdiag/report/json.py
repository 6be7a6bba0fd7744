"""The JSON report: the whole analysis, versioned (``docs/report-json-schema.md``).

Written as a stream, so that a case of a million events needs no more memory than one of a
thousand: every incident, notice, user and evidence event is encoded (by the json module's C
encoder) and written when it is reached. The layout is deterministic: keys sorted, the small
top-level values on one line each, and the long lists (``events``, ``incidents``, ``notices``,
``users``) one element per line, so that two reports of the same data are byte-identical and
diff line by line. UTF-8 characters are kept as they are (``ensure_ascii=False``), control
characters escaped by the encoder. Event text is kept verbatim except lone surrogates, which
become U+FFFD.

Every evidence event is written once, in the top-level ``events`` table, and referenced by its
index from the finding that read it (``evidence[].event``).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any, TextIO

from npsdiag.clock import format_offset
from npsdiag.model import Analysis, Event, Finding, Incident
from npsdiag.report._view import (
    AttemptView,
    ClockView,
    CoverageView,
    ProblemView,
    ReportOptions,
    ReportView,
    SourceView,
    UserView,
    ViewBuilder,
    format_time,
    json_text,
    stream_view,
)

_SURROGATES = re.compile("[\ud800-\udfff]")

__all__ = ["SCHEMA_VERSION", "render", "write", "write_lines"]

#: Bumped on any change that removes or renames a key or changes a value's meaning; adding
#: a key does not bump it. Version 2: counts follow ``npsdiag.counts``, outcome
#: ``timed-out``. Version 3: evidence events in the top-level ``events`` table, referenced
#: by index from each finding; one element of a long list per line.
SCHEMA_VERSION = 3

JsonObject = dict[str, Any]

_encode = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")
).encode
#: Characters that line-reading code (``str.splitlines``) may take as a line break although
#: JSON leaves them raw in strings; JSON Lines escape them, so a line is always one object.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _encode_line(value: Any) -> str:
    return _line(value).translate(_LINE_BREAKS)


def _problem(problem: ProblemView) -> JsonObject:
    return {
        "rank": problem.rank,
        "entry_id": problem.entry_id,
        "title": problem.title,
        "category": problem.category,
        "severity": problem.severity,
        "confidence": problem.confidence,
        "scope": problem.scope,
        "because": problem.because,
        "cause": problem.cause,
        "users": list(problem.users),
        "incident_keys": list(problem.incident_keys),
        "start": problem.start,
        "end": problem.end,
        "steps": list(problem.steps),
        "collect": list(problem.collect),
        "references": list(problem.references),
        "missing_logs": [
            {"role": role, "label": label, "export": export}
            for role, label, export in problem.missing
        ],
    }


def _attempt(attempt: AttemptView) -> JsonObject:
    decision = attempt.nps_decision
    return {
        "incident_key": attempt.incident_key,
        "user": attempt.user,
        "start": attempt.start,
        "outcome": attempt.outcome,
        "diagnosis_id": attempt.diagnosis_id,
        "title": attempt.title,
        "codes": list(attempt.codes),
        "nps_decision": None
        if decision is None
        else {"event_id": decision.event_id, "reason_code": decision.reason_code},
    }


def _user_fields(user: UserView) -> JsonObject:
    """A user's object but its ``attempts``."""
    return {
        "name": user.name,
        "other_names": list(user.other_names),
        "identity_keys": list(user.identity_keys),
        "failed": user.failed,
        "succeeded": user.succeeded,
        "first_time": user.first_time,
        "last_time": user.last_time,
    }


def _user_chunks(
    fields: JsonObject, attempts: Iterable[AttemptView], line: Callable[[Any], str]
) -> Iterator[str]:
    """The encoded user object, ``line({"attempts": [...], **fields})``, in pieces: each
    attempt is encoded as it is built, so that a person with most of a million attempts
    never stands in memory as one list. Keys are sorted, and ``attempts`` sorts first."""
    assert min(fields) > "attempts"
    yield '{"attempts":['
    for number, attempt in enumerate(attempts):
        yield ("," if number else "") + line(_attempt(attempt))
    yield "]," + line(fields)[1:]


def _source(source: SourceView) -> JsonObject:
    return {
        "name": source.name,
        "kind": source.kind,
        "size": source.size,
        "status": source.status,
        "records_read": source.records_read,
        "records_relevant": source.records_relevant,
        "records_failed": source.records_failed,
        "first_time": source.first_time,
        "last_time": source.last_time,
        "messages": list(source.messages),
    }


def _coverage(log: CoverageView) -> JsonObject:
    return {
        "role": log.role,
        "label": log.label,
        "status": log.status,
        "files": list(log.files),
        "records": log.records,
        "events": log.events,
        "note": log.note,
    }


def _clock(clock: ClockView) -> JsonObject:
    return {
        "source": clock.source,
        "records": clock.records,
        "method": clock.method,
        "offsets": [
            {
                "from": start,
                "seconds": seconds,
                "utc_offset": format_offset(timedelta(seconds=seconds)),
            }
            for start, seconds in clock.offset_list
        ],
        "evidence": clock.evidence,
    }


def _head(view: ReportView) -> JsonObject:
    """Every top-level value that is not a long list."""
    summary = view.summary
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {
            "name": view.tool_name,
            "version": view.version,
            "command_line": view.command_line,
        },
        "servers": list(view.servers),
        "verdict": summary.verdict,
        "summary": {
            "problems": summary.problems,
            "incidents": summary.incidents,
            "failed_incidents": summary.failed_incidents,
            "notices": summary.notices,
            "users": summary.users,
            "affected_users": summary.affected_users,
            "outcomes": dict(summary.outcomes),
            "time_span": {"start": summary.start, "end": summary.end},
            "sources": summary.sources,
            "sources_not_fully_read": summary.sources_not_fully_read,
            "sources_listed": summary.sources_listed,
            "unknown_codes": summary.unknown_codes,
        },
        "coverage": {
            "logs": [_coverage(log) for log in view.coverage],
            "other_logs": [{"name": name, "note": note} for name, note in view.other_logs],
        },
        "clocks": [_clock(clock) for clock in view.clocks],
        "problems": [_problem(problem) for problem in view.problems],
        "sources": [_source(source) for source in view.sources],
        "unknown_codes": list(view.unknown_codes),
        "config_findings": [dict(finding) for finding in view.config_findings],
    }


def _event_object(event: Event) -> JsonObject:
    """One evidence event of the ``events`` table, straight from the model."""
    return {
        "time": format_time(event.time),
        "channel": event.channel,
        "provider": event.provider,
        "event_id": event.event_id,
        "level": event.level,
        "computer": event.computer,
        "record_id": event.record_id,
        "fields": dict(event.fields),
        "data": list(event.data),
        "message": event.message,
        "origin": event.origin,
        "qualifiers": event.qualifiers,
        "keywords": event.keywords,
    }


def _finding_object(finding: Finding, event: int | JsonObject) -> JsonObject:
    return {
        "kind": finding.kind,
        "codes": list(finding.codes),
        "cid": finding.cid,
        "user": finding.user,
        "user_key": finding.user_key,
        "state": finding.state,
        "aadsts": list(finding.aadsts),
        "trace_id": finding.trace_id,
        "correlation_id": finding.correlation_id,
        "detail": finding.detail,
        "response_state": finding.response_state,
        "reason_code": finding.reason_code,
        "client_ip": finding.client_ip,
        "client_name": finding.client_name,
        "nas_ip": finding.nas_ip,
        "event": event,
    }


def _incident_object(
    incident: Incident, ranks: list[int], evidence: list[JsonObject]
) -> JsonObject:
    diagnosis = incident.diagnosis
    return {
        "key": incident.key,
        "user": incident.user,
        "start": format_time(incident.start),
        "end": format_time(incident.end),
        "outcome": incident.outcome,
        "cid": incident.cid,
        "codes": list(incident.codes),
        "diagnosis": None
        if diagnosis is None
        else {
            "entry_id": diagnosis.entry_id,
            "title": diagnosis.title,
            "category": diagnosis.category,
            "severity": diagnosis.severity,
            "confidence": diagnosis.confidence,
            "because": diagnosis.because,
            "key_evidence": diagnosis.key_evidence,
        },
        "problem_ranks": ranks,
        "origins": sorted({finding.event.origin for finding in incident.findings}),
        "evidence": evidence,
    }


def _line(value: Any) -> str:
    """``value`` encoded (C encoder); lone surrogates, which UTF-8 cannot hold, become U+FFFD.

    One search over the encoded line replaces a search per string: the text policy of the
    JSON report (``json_text``) is the identity but for surrogates.
    """
    text = _encode(value)
    # Most lines are ASCII, which a test in C settles at once.
    if not text.isascii() and _SURROGATES.search(text) is not None:
        text = _SURROGATES.sub("\ufffd", text)
    return text


class _Chunks:
    """An element of a list written in pieces (already encoded) rather than as one value."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: Iterable[str]) -> None:
        self.chunks = chunks


def write(analysis: Analysis, options: ReportOptions, stream: TextIO) -> None:
    """Write the JSON report of ``analysis`` to ``stream``, element by element.

    Incidents, notices and events are written straight from the model (the report view would
    build an object per value of every event); the rest goes through the view as in every
    other format.
    """
    view, builder = stream_view(analysis, options, json_text)
    head = _head(view)
    incidents, notices = builder.ordered()
    first_notice_event = sum(len(incident.findings) for incident in incidents)
    lists: dict[str, Callable[[], Iterable[Any]]] = {
        "events": lambda: (
            _event_object(analysis.full_event(finding.event))
            for item in (*incidents, *notices)
            for finding in item.findings
        ),
        "incidents": lambda: _incident_objects(incidents, builder, 0),
        "notices": lambda: _incident_objects(notices, builder, first_notice_event),
        "users": lambda: (
            _Chunks(_user_chunks(_user_fields(user), attempts, _line))
            for user, attempts in builder.iter_users_streamed()
        ),
    }
    keys = sorted([*head, *lists])
    stream.write("{")
    for position, key in enumerate(keys):
        stream.write(_encode(key) + ":")
        if key in lists:
            stream.write("[")
            for number, item in enumerate(lists[key]()):
                stream.write("\n" if number == 0 else ",\n")
                if isinstance(item, _Chunks):
                    for chunk in item.chunks:
                        stream.write(chunk)
                else:
                    stream.write(_line(item))
            stream.write("\n]")
        else:
            stream.write(_line(head[key]))
        stream.write(",\n" if position < len(keys) - 1 else "}\n")


def _incident_objects(
    incidents: Iterable[Incident], builder: ViewBuilder, first_event: int
) -> Iterator[JsonObject]:
    """Incidents whose findings point into ``events``, counting from ``first_event``."""
    number = first_event
    for incident in incidents:
        evidence = []
        for finding in incident.findings:
            evidence.append(_finding_object(finding, number))
            number += 1
        yield _incident_object(incident, builder.problem_ranks(incident.key), evidence)


def render(analysis: Analysis, options: ReportOptions) -> str:
    """The JSON report as one string (see :func:`write`)."""
    buffer = io.StringIO()
    write(analysis, options, buffer)
    return buffer.getvalue()


def write_lines(analysis: Analysis, options: ReportOptions, stream: TextIO) -> None:
    """Write the analysis as JSON Lines: one self-contained JSON object per line.

    The first line is the report (``"type": "report"``: schema version, tool, verdict,
    summary, coverage, clocks, servers); then one line per problem, incident (its findings
    with their events inline), notice, user, source, configuration finding and unknown code,
    each with its ``type``, in report order. For tools that process a huge case as a stream.
    """
    view, builder = stream_view(analysis, options, json_text)
    head = _head(view)
    first = {
        "type": "report",
        **{
            key: head[key]
            for key in ("schema_version", "tool", "servers", "verdict", "summary", "coverage")
        },
        "clocks": head["clocks"],
    }
    stream.write(_encode_line(first) + "\n")
    for problem in head["problems"]:
        stream.write(_encode_line({"type": "problem", **problem}) + "\n")
    incidents, notices = builder.ordered()
    for kind, items in (("incident", incidents), ("notice", notices)):
        for incident in items:
            evidence = [
                _finding_object(finding, _event_object(analysis.full_event(finding.event)))
                for finding in incident.findings
            ]
            document = _incident_object(incident, builder.problem_ranks(incident.key), evidence)
            stream.write(_encode_line({"type": kind, **document}) + "\n")
    for user, attempts in builder.iter_users_streamed():
        for chunk in _user_chunks({"type": "user", **_user_fields(user)}, attempts, _encode_line):
            stream.write(chunk)
        stream.write("\n")
    for source in head["sources"]:
        stream.write(_encode_line({"type": "source", **source}) + "\n")
    for finding in head["config_findings"]:
        stream.write(_encode_line({"type": "config_finding", "finding": finding}) + "\n")
    for code in head["unknown_codes"]:
        stream.write(_encode_line({"type": "unknown_code", "code": code}) + "\n")
