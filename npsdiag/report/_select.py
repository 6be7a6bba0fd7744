"""Which incidents, notices, attempts and evidence events a report with limits lists.

Limits only shorten lists: a report still counts everything (see :mod:`npsdiag.report._view`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from npsdiag.model import Finding, FindingKind, Incident, Problem, as_utc
from npsdiag.report._view_types import FAILED_OUTCOMES, NPS_DECISIONS

__all__ = [
    "attempts_shown",
    "evidence_shown",
    "incidents_shown",
    "notices_shown",
    "nps_decision",
    "sorted_incidents",
]


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
) -> Sequence[int]:
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
        return range(total)  # not a list: a million ints would weigh tens of megabytes
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


def notices_shown(notices: Sequence[Incident], limit: int) -> Sequence[int]:
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
        return range(len(notices))
    kinds: dict[str, list[int]] = {}
    for index, notice in enumerate(notices):
        kinds.setdefault(_notice_kind(notice), []).append(index)
    chosen: dict[int, None] = {}
    _take_in_turn(list(kinds.values()), limit, chosen)
    return sorted(chosen)


def attempts_shown(attempts: Sequence[Incident], limit: int) -> Sequence[int]:
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
        return range(len(attempts))
    failures: dict[tuple[str, str], list[int]] = {}
    others: dict[tuple[str, str], list[int]] = {}
    for index, attempt in enumerate(attempts):
        kind = (attempt.outcome, attempt.diagnosis.entry_id if attempt.diagnosis else "")
        target = failures if attempt.outcome in FAILED_OUTCOMES else others
        target.setdefault(kind, []).append(index)
    chosen: dict[int, None] = {}
    _take_in_turn([*failures.values(), *others.values()], limit, chosen)
    return sorted(chosen)
