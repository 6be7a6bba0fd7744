"""The JSON report: the whole analysis, versioned (``docs/report-json-schema.md``).

Output is deterministic: keys sorted, two-space indent, UTF-8 characters kept as they
are (``ensure_ascii=False``), control characters escaped by the JSON encoder. Event
text is kept verbatim except lone surrogates, which become U+FFFD.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from npsdiag.clock import format_offset
from npsdiag.model import Analysis
from npsdiag.report._view import (
    AttemptView,
    ClockView,
    CoverageView,
    DiagnosisView,
    FindingView,
    IncidentView,
    ProblemView,
    ReportOptions,
    SourceView,
    UserView,
    build_view,
    json_text,
)

__all__ = ["SCHEMA_VERSION", "render", "to_document"]

#: Bumped on any change that removes or renames a key or changes a value's meaning; adding
#: a key (as ``users`` was added) does not bump it. Version 2: counts follow
#: ``npsdiag.counts`` (``summary.users`` counts persons with an attempt,
#: ``sources_not_fully_read`` only inputs whose data was lost), outcome ``timed-out``.
SCHEMA_VERSION = 2

JsonObject = dict[str, Any]


def _diagnosis(diagnosis: DiagnosisView | None) -> JsonObject | None:
    if diagnosis is None:
        return None
    return {
        "entry_id": diagnosis.entry_id,
        "title": diagnosis.title,
        "category": diagnosis.category,
        "severity": diagnosis.severity,
        "confidence": diagnosis.confidence,
        "because": diagnosis.because,
        "key_evidence": diagnosis.key_evidence,
    }


def _finding(finding: FindingView) -> JsonObject:
    event = finding.event
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
        "event": {
            "time": event.time,
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
        },
    }


def _incident(incident: IncidentView) -> JsonObject:
    return {
        "key": incident.key,
        "user": incident.user,
        "start": incident.start,
        "end": incident.end,
        "outcome": incident.outcome,
        "cid": incident.cid,
        "codes": list(incident.codes),
        "diagnosis": _diagnosis(incident.diagnosis),
        "problem_ranks": [reference.rank for reference in incident.problems],
        "origins": list(incident.origins),
        "evidence": [_finding(finding) for finding in incident.findings],
    }


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


def _user(user: UserView) -> JsonObject:
    return {
        "name": user.name,
        "other_names": list(user.other_names),
        "identity_keys": list(user.identity_keys),
        "failed": user.failed,
        "succeeded": user.succeeded,
        "first_time": user.first_time,
        "last_time": user.last_time,
        "attempts": [_attempt(attempt) for attempt in user.attempts],
    }


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


def to_document(analysis: Analysis, options: ReportOptions) -> JsonObject:
    """The JSON document of ``analysis`` as Python data (what :func:`render` serialises)."""
    view = build_view(analysis, options, json_text)
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
        "incidents": [_incident(incident) for incident in view.incidents],
        "notices": [_incident(notice) for notice in view.notices],
        "users": [_user(user) for user in view.users],
        "sources": [_source(source) for source in view.sources],
        "unknown_codes": list(view.unknown_codes),
        "config_findings": [dict(finding) for finding in view.config_findings],
    }


def render(analysis: Analysis, options: ReportOptions) -> str:
    """Render ``analysis`` as the JSON report (sorted keys, indent 2, trailing newline)."""
    document = to_document(analysis, options)
    return (
        json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    )
