"""Line up inputs whose times carry no time zone with the UTC ones.

``wevtutil qe /f:text`` (and so the health-check script's ``NPS_EventLog.log``) can print
the server's local time without a zone, while ``.evtx`` and XML exports carry UTC. Read as
UTC, a dump from a server one hour east of UTC puts every NPS decision an hour away from the
extension's event of the same attempt: one attempt becomes two incidents, unanswered
challenges lose their decision, and outage windows grow.

This stage runs between reading and grouping. For each input with zoneless times it finds
the offset (local time minus UTC) from events seen in a UTC input too:

- copies: the same NPS event in the dump and in a Security ``.evtx`` or XML export (equal in
  every field but the time); their times differ by exactly the offset;
- decisions: an NPS decision (6272/6273/6274) in the dump and an extension event of the same
  user in a UTC input; NPS logs its decision within seconds of the extension's answer.

Only offsets in whole quarter hours count, and only when enough independent events agree
(each event of the dump counts once, whatever it pairs with). Two offsets an hour (or half
an hour) apart whose events follow each other in the dump are a daylight-saving change: the
earlier offset applies up to the change, found where the local clock jumps. An offset given
by the user (``--utc-offset``: ``+01:00`` or a zone name such as ``Europe/Berlin``, which
also knows its daylight-saving changes) replaces the inference. Whatever was done is recorded
in a :class:`~npsdiag.model.ClockNote` that every report shows; nothing downstream knows about
zones.
"""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from npsdiag._words import plural
from npsdiag.errors import UsageError
from npsdiag.model import ClockNote, Event, Finding, SourceStats

__all__ = [
    "MIN_AGREEING",
    "OffsetRule",
    "align_clocks",
    "copy_identity",
    "format_offset",
    "offsets_text",
    "parse_offset_rule",
]

#: Independent events that must agree on an offset before it is applied.
MIN_AGREEING = 3
_QUARTER = 900  # seconds
#: Offsets that exist on Earth: UTC-12:00 to UTC+14:00.
_LOWEST, _HIGHEST = -48, 56
#: A copy of an event differs from the original by the offset only (a text dump keeps
#: microseconds; allow for an export that rounds to the second).
_COPY_SLACK = 2.0
#: How long after the extension's answer NPS logs its decision, at most, for a pairing.
_DECISION_SLACK = 60.0
#: Events of a dump examined for evidence, spread evenly over it; plenty for a vote.
_SAMPLE = 3000
_ANSWERS = frozenset({"ext.accepted", "ext.rejected", "ext.exception", "ext.challenge"})
_DECISIONS = frozenset({"nps.granted", "nps.denied", "nps.discarded"})


@dataclass(frozen=True, slots=True)
class OffsetRule:
    """One ``--utc-offset`` value: which inputs it applies to, and their clock.

    Attributes:
        pattern: glob matched against an input's name or its last part; None for every input
            whose times carry no zone.
        offset: a fixed offset (local minus UTC), or None when ``zone`` is set.
        zone: a time zone with its daylight-saving rules, or None.
        text: the value as given, for the report.
    """

    pattern: str | None
    offset: timedelta | None
    zone: tzinfo | None
    text: str

    def applies_to(self, name: str) -> bool:
        if self.pattern is None:
            return True
        base = name.replace("\\", "/").rpartition("/")[2].rpartition("!")[2]
        return any(
            fnmatch.fnmatchcase(candidate.lower(), self.pattern.lower())
            for candidate in (name, base)
        )


_FIXED = re.compile(r"(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\Z", re.IGNORECASE)


def parse_offset_rule(text: str) -> OffsetRule:
    """Parse ``[INPUT=]OFFSET`` where OFFSET is ``+01:00``, ``-0530``, ``UTC`` or a zone name.

    Raises:
        UsageError: the value is not an offset or a known time zone.
    """
    pattern: str | None = None
    value = text.strip()
    if "=" in value:
        pattern, _, value = value.rpartition("=")
        pattern = pattern.strip() or None
        value = value.strip()
    if value.upper() in ("UTC", "GMT", "Z", "0", "+0", "-0"):
        return OffsetRule(pattern, timedelta(0), None, text)
    match = _FIXED.match(value)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if int(minutes or 0) % 15 or delta > timedelta(hours=14):
            raise UsageError(
                f"--utc-offset {text!r}: not a UTC offset",
                hint="offsets are whole quarter hours between -12:00 and +14:00, e.g. +05:30",
            )
        return OffsetRule(pattern, -delta if sign == "-" else delta, None, text)
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    except ImportError:  # pragma: no cover - Python >= 3.9 always has it
        raise UsageError(f"--utc-offset {text!r}: time zone names are not supported") from None
    try:
        zone = ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--utc-offset {text!r}: neither an offset such as +01:00 nor a known time zone",
            hint="give an offset (+01:00, -05:00) or an IANA name such as Europe/Berlin",
        ) from None
    return OffsetRule(pattern, None, zone, text)


def format_offset(offset: timedelta) -> str:
    """``UTC+01:00``, ``UTC-05:30``, ``UTC+00:00``."""
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    return f"UTC{sign}{hours:02d}:{rest // 60:02d}"


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------ the stage


def align_clocks(
    inputs: Sequence[tuple[SourceStats, list[Finding]]],
    rules: Sequence[OffsetRule] = (),
) -> list[ClockNote]:
    """Shift the times of every input without a time zone to UTC, and say how.

    Args:
        inputs: each input's accounting with its findings in file order. Events of inputs
            with ``zoneless_times`` are changed in place; their accounting's first and last
            times too.
        rules: offsets given by the user; the first rule that applies to an input wins.

    Returns:
        One note per input whose times carry no zone, in input order.
    """
    zoneless = [(stats, found) for stats, found in inputs if stats.zoneless_times]
    if not zoneless:
        return []
    zoned = [finding for stats, found in inputs if not stats.zoneless_times for finding in found]
    index = _ZonedIndex(zoned)
    notes: list[ClockNote] = []
    for stats, found in zoneless:
        rule = next((rule for rule in rules if rule.applies_to(stats.name)), None)
        if rule is not None:
            notes.append(_apply_rule(stats, found, rule))
        else:
            notes.append(_infer_and_apply(stats, found, index))
    return notes


def _apply_rule(stats: SourceStats, found: Sequence[Finding], rule: OffsetRule) -> ClockNote:
    applied: dict[timedelta, datetime] = {}
    for finding in found:
        event = finding.event
        offset = _rule_offset(rule, event.time)
        event.time = event.time - offset
        if offset not in applied or event.time < applied[offset]:
            applied[offset] = event.time
    for attribute in ("first_time", "last_time"):
        value = getattr(stats, attribute)
        if value is not None:
            setattr(stats, attribute, value - _rule_offset(rule, value))
    if not applied and rule.offset is not None:
        applied[rule.offset] = datetime.min.replace(tzinfo=timezone.utc)
    ordered = sorted(applied.items(), key=lambda item: item[1])
    offsets: list[tuple[datetime | None, timedelta]] = [
        (None if position == 0 else start, offset)
        for position, (offset, start) in enumerate(ordered)
    ]
    return ClockNote(
        source=stats.name,
        records=stats.zoneless_times,
        method="given",
        offsets=offsets,
        evidence=f"given with --utc-offset {rule.text}",
    )


def _rule_offset(rule: OffsetRule, local: datetime) -> timedelta:
    if rule.offset is not None:
        return rule.offset
    assert rule.zone is not None
    # Read as UTC, the time is really the wall clock: attach the zone to the wall clock.
    wall = local.replace(tzinfo=None).replace(tzinfo=rule.zone)
    return wall.utcoffset() or timedelta(0)


# ------------------------------------------------------------------------------ inference


def copy_identity(event: Event) -> int:
    """What makes two records copies of one event across exports: everything but the time.

    An .evtx in a folder and its copy in the bundle, or Security.evtx and the bundle's
    wevtutil text dump (which has no record id), agree on channel, event id, computer, the
    user NPS names, the reason code and the unnamed data. A hash, so that a finding carries
    one number once its event's values have left memory (``Finding.identity``).
    """
    fields = event.fields
    return hash(
        (
            event.channel.lower(),
            event.event_id,
            event.computer.lower(),
            fields.get("SubjectUserName", ""),
            fields.get("ReasonCode", ""),
            event.data,
        )
    )


def _copy_key(finding: Finding) -> int:
    return finding.identity or copy_identity(finding.event)


class _ZonedIndex:
    """Times of the UTC inputs' events, by copy key and by identity, for window look-ups."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        copies: dict[int, list[float]] = {}
        answers: dict[str, list[float]] = {}
        decisions: dict[str, list[float]] = {}
        for finding in findings:
            when = finding.event.time.timestamp()
            if finding.kind in _DECISIONS:
                copies.setdefault(_copy_key(finding), []).append(when)
                for key in finding.identity_keys:
                    decisions.setdefault(key, []).append(when)
            elif finding.kind in _ANSWERS:
                for key in finding.identity_keys:
                    answers.setdefault(key, []).append(when)
        for table in (copies, answers, decisions):
            for times in table.values():
                times.sort()
        self.copies = copies
        self.answers = answers
        self.decisions = decisions


def _quarters(times: Sequence[float], local: float, slack: tuple[float, float]) -> set[int]:
    """Quarter-hour offsets q with a time u in ``times`` such that local - q*900 - u is in slack.

    ``slack`` is (low, high): how far after ``u`` the event of the dump may be, in UTC.
    """
    low_lag, high_lag = slack
    first = bisect_left(times, local - _HIGHEST * _QUARTER - high_lag)
    last = bisect_right(times, local - _LOWEST * _QUARTER - low_lag)
    found: set[int] = set()
    if last - first <= (_HIGHEST - _LOWEST + 1):
        for position in range(first, last):
            difference = local - times[position]
            quarter = round(difference / _QUARTER)
            lag = difference - quarter * _QUARTER
            if _LOWEST <= quarter <= _HIGHEST and low_lag <= lag <= high_lag:
                found.add(quarter)
        return found
    # Many candidates (one user failing all day): ask each possible offset instead.
    for quarter in range(_LOWEST, _HIGHEST + 1):
        base = local - quarter * _QUARTER
        start = bisect_left(times, base - high_lag)
        if start < len(times) and times[start] <= base - low_lag:
            found.add(quarter)
    return found


@dataclass(slots=True)
class _Vote:
    position: int  # index of the event in its input's findings (file order)
    quarters: set[int]
    copy: bool


def _votes(found: Sequence[Finding], index: _ZonedIndex) -> list[_Vote]:
    step = max(1, len(found) // _SAMPLE)
    votes: list[_Vote] = []
    for position in range(0, len(found), step):
        finding = found[position]
        local = finding.event.time.timestamp()
        quarters: set[int] = set()
        copy = False
        if finding.kind in _DECISIONS:
            times = index.copies.get(_copy_key(finding))
            if times:
                quarters = _quarters(times, local, (-_COPY_SLACK, _COPY_SLACK))
                copy = bool(quarters)
            if not quarters:
                for key in finding.identity_keys:
                    answer_times = index.answers.get(key)
                    if answer_times:
                        quarters |= _quarters(answer_times, local, (-_COPY_SLACK, _DECISION_SLACK))
        elif finding.kind in _ANSWERS:
            for key in finding.identity_keys:
                decision_times = index.decisions.get(key)
                if decision_times:
                    quarters |= _quarters(decision_times, local, (-_DECISION_SLACK, _COPY_SLACK))
        if quarters:
            votes.append(_Vote(position, quarters, copy))
    return votes


def _infer_and_apply(stats: SourceStats, found: list[Finding], index: _ZonedIndex) -> ClockNote:
    votes = _votes(found, index)
    tally: dict[int, int] = {}
    for vote in votes:
        for quarter in vote.quarters:
            tally[quarter] = tally.get(quarter, 0) + 1
    ranked = sorted(tally.items(), key=lambda item: (-item[1], abs(item[0]), item[0]))

    def unknown(why: str) -> ClockNote:
        return ClockNote(stats.name, stats.zoneless_times, "unknown", [], why)

    if not ranked:
        return unknown(
            "no event of it was also found in an input with UTC times, so its times were read "
            "as UTC; if the server's clock was not on UTC they are off by its UTC offset "
            "(give it with --utc-offset)"
        )
    best, best_count = ranked[0]
    second, second_count = ranked[1] if len(ranked) > 1 else (None, 0)
    if second is not None and second_count >= MIN_AGREEING and abs(best - second) in (2, 4):
        change = _daylight_saving(found, votes, best, second)
        if change is not None:
            return _change_note(stats, found, votes, change)
    if best_count < MIN_AGREEING or best_count < 2 * second_count or best_count * 2 < len(votes):
        return unknown(
            f"the {plural(len(votes), 'event')} found in an input with UTC times too do not agree "
            f"on one offset ({_describe_tally(ranked)}; {MIN_AGREEING} agreeing events needed), so "
            "its times were read as UTC (give the offset with --utc-offset)"
        )
    offset = timedelta(seconds=best * _QUARTER)
    _shift(stats, found, [(0, offset)])
    return ClockNote(
        source=stats.name,
        records=stats.zoneless_times,
        method="inferred",
        offsets=[(None, offset)],
        evidence=_evidence(votes, {best}),
    )


def _describe_tally(ranked: Sequence[tuple[int, int]]) -> str:
    parts = [
        f"{format_offset(timedelta(seconds=quarter * _QUARTER))}: {count}"
        for quarter, count in ranked[:3]
    ]
    return ", ".join(parts)


def _evidence(votes: Sequence[_Vote], accepted: set[int]) -> str:
    agreeing = [vote for vote in votes if vote.quarters & accepted]
    copies = sum(1 for vote in agreeing if vote.copy)
    decisions = len(agreeing) - copies
    parts = []
    if copies:
        parts.append(f"{plural(copies, 'event')} also found in a UTC export")
    if decisions:
        decided = plural(decisions, "NPS decision")
        parts.append(f"{decided} next to the extension's event for the same user")
    disagree = len(votes) - len(agreeing)
    tail = f"; {plural(disagree, 'event')} pointed elsewhere" if disagree else ""
    return "inferred from " + " and ".join(parts) + tail


@dataclass(frozen=True, slots=True)
class _Change:
    before: int  # quarter-hour offset of the earlier part of the input (in file order)
    after: int
    boundary: int  # first position (file order) of the later part


def _daylight_saving(
    found: Sequence[Finding], votes: Sequence[_Vote], first: int, second: int
) -> _Change | None:
    """Two offsets whose supporting events occupy two separate stretches of the input."""
    only_first = [
        vote.position for vote in votes if first in vote.quarters and second not in vote.quarters
    ]
    only_second = [
        vote.position for vote in votes if second in vote.quarters and first not in vote.quarters
    ]
    if len(only_first) < MIN_AGREEING or len(only_second) < MIN_AGREEING:
        return None
    if max(only_first) < min(only_second):
        before, after, low, high = first, second, max(only_first), min(only_second)
    elif max(only_second) < min(only_first):
        before, after, low, high = second, first, max(only_second), min(only_first)
    else:
        return None  # interleaved: not one change of offset
    # The change sits where the local clock jumps by the difference: back when the offset
    # shrinks (autumn), forward when it grows (spring).
    direction = 1 if before > after else -1
    boundary = high
    best_jump: float | None = None
    for position in range(low + 1, high + 1):
        step = found[position - 1].event.time.timestamp() - found[position].event.time.timestamp()
        jump = step * direction
        if best_jump is None or jump > best_jump:
            best_jump, boundary = jump, position
    return _Change(before, after, boundary)


def _change_note(
    stats: SourceStats, found: list[Finding], votes: Sequence[_Vote], change: _Change
) -> ClockNote:
    before = timedelta(seconds=change.before * _QUARTER)
    after = timedelta(seconds=change.after * _QUARTER)
    _shift(stats, found, [(0, before), (change.boundary, after)])
    # In UTC, the change happens at the first event of the later part.
    at = found[change.boundary].event.time if change.boundary < len(found) else None
    offsets: list[tuple[datetime | None, timedelta]] = [(None, before)]
    if at is not None:
        offsets.append((at, after))
    return ClockNote(
        source=stats.name,
        records=stats.zoneless_times,
        method="inferred",
        offsets=offsets,
        evidence=(
            _evidence(votes, {change.before, change.after})
            + "; the offset changes inside the input (daylight saving)"
        ),
    )


def _shift(
    stats: SourceStats, found: list[Finding], segments: Sequence[tuple[int, timedelta]]
) -> None:
    """Subtract each segment's offset from the times of its events (positions in file order)."""
    bounds = [position for position, _offset in segments[1:]] + [len(found)]
    for (start, offset), end in zip(segments, bounds, strict=True):
        for finding in found[start:end]:
            finding.event.time = finding.event.time - offset
    first_offset, last_offset = segments[0][1], segments[-1][1]
    if stats.first_time is not None:
        stats.first_time -= first_offset
    if stats.last_time is not None:
        stats.last_time -= last_offset
    if found:
        # The accounting's span covers every record; keep it around the shifted events.
        times = [f.event.time for f in found]
        low, high = min(times), max(times)
        if stats.first_time is None or stats.first_time > low:
            stats.first_time = low
        if stats.last_time is None or stats.last_time < high:
            stats.last_time = high


def offsets_text(note: ClockNote) -> str:
    """``UTC+02:00, then UTC+01:00 from 2025-10-26T01:00:00Z`` for a note's offsets."""
    parts = []
    for start, offset in note.offsets:
        if start is None:
            parts.append(format_offset(offset))
        else:
            parts.append(f"then {format_offset(offset)} from {_iso(start)}")
    return ", ".join(parts)
