"""The one definition of every number a report shows.

Terminal, HTML, Markdown, JSON, CSV and the batch index all take their counts from
:func:`count_analysis`, so a number means the same thing wherever it appears:

- an **attempt** is an incident (a sign-in attempt, or a request NPS refused before the
  extension); notices are not attempts;
- a **failed attempt** is an attempt whose outcome is in :data:`~npsdiag.model.FAILED_OUTCOMES`
  (a wrong code typed, or access granted after the RADIUS client had given up, are failures
  for that user);
- a **user** is a person (``Incident.person``: every form of one account's name counts once)
  with at least one attempt; an **affected user** one with at least one failed attempt;
- a **file lost** is an input whose data was lost or unreadable (``SourceStats.lost``); a
  **listed** input is inventory, not read on purpose (a bundle container, a trace, a copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from npsdiag.model import FAILED_OUTCOMES, Analysis, as_utc
from npsdiag.people import person_names

__all__ = ["OUTCOME_ORDER", "Counts", "count_analysis"]

#: Display order of outcomes: failures first, worst first; other outcomes follow by name.
OUTCOME_ORDER = (
    "rejected",
    "error",
    "no-answer",
    "timed-out",
    "discarded",
    "unknown",
    "ignored",
    "accepted",
    "notice",
)


@dataclass(frozen=True, slots=True)
class Counts:
    """The numbers of one analysis (see the module's definitions)."""

    problems: int
    attempts: int
    failed_attempts: int
    outcomes: tuple[tuple[str, int], ...]
    notices: int
    users: int
    affected_users: int
    files: int
    files_lost: int
    files_listed: int
    start: datetime | None
    end: datetime | None


def count_analysis(analysis: Analysis) -> Counts:
    """Count ``analysis`` by the definitions above."""
    incidents = analysis.incidents
    people = person_names(incidents)
    users = {people[id(incident)] for incident in incidents if id(incident) in people}
    affected = {
        people[id(incident)]
        for incident in incidents
        if id(incident) in people and incident.outcome in FAILED_OUTCOMES
    }
    tally: dict[str, int] = {}
    for incident in incidents:
        tally[incident.outcome] = tally.get(incident.outcome, 0) + 1
    rank = {outcome: index for index, outcome in enumerate(OUTCOME_ORDER)}
    outcomes = tuple(
        sorted(tally.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    )
    starts = [as_utc(item.start) for item in (*incidents, *analysis.notices)]
    ends = [as_utc(item.end) for item in (*incidents, *analysis.notices)]
    for source in analysis.sources:
        if source.first_time is not None:
            starts.append(as_utc(source.first_time))
        if source.last_time is not None:
            ends.append(as_utc(source.last_time))
    return Counts(
        problems=len(analysis.problems),
        attempts=len(incidents),
        failed_attempts=sum(1 for incident in incidents if incident.outcome in FAILED_OUTCOMES),
        outcomes=outcomes,
        notices=len(analysis.notices),
        users=len(users),
        affected_users=len(affected),
        files=len(analysis.sources),
        files_lost=sum(1 for source in analysis.sources if source.lost),
        files_listed=sum(1 for source in analysis.sources if source.inventory),
        start=min(starts) if starts else None,
        end=max(ends) if ends else None,
    )
