"""Group findings into incidents, decide outcomes, match the catalog and rank problems.

Pure functions over data: no I/O. The windows below come from the product's documented
behaviour and are named so the report can say why two events were joined.

References:
    https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension-errors
    (InvalidSession: an MFA session that takes more than three minutes expires)
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from npsdiag._words import noun, plural
from npsdiag.catalog import Catalog, CatalogEntry, Match
from npsdiag.coverage import needs, role_label
from npsdiag.model import (
    FAILED_OUTCOMES,
    Coverage,
    Diagnosis,
    Finding,
    FindingKind,
    Incident,
    Problem,
)
from npsdiag.people import assign_people

__all__ = [
    "CLIENT_JOIN_WINDOW",
    "CLIENT_KINDS",
    "NO_CID_DUPLICATE",
    "NO_CID_GAP",
    "NPS_JOIN_WINDOW",
    "SESSION_LIFETIME",
    "DiagnosisResult",
    "diagnose",
    "link_configuration",
]

#: An MFA session expires after about three minutes (InvalidSession); a challenge with
#: no answer from the same user within this time is "challenge requested, then nothing".
SESSION_LIFETIME = timedelta(minutes=3)
#: NPS writes 6272/6273/6274 within seconds of the extension's decision; logs from
#: different machines or exports can be skewed, so allow some slack.
NPS_JOIN_WINDOW = timedelta(seconds=120)
#: NPS or System events of one request without an extension attempt to join are this close
#: together (the client resends while it waits).
NO_CID_GAP = timedelta(seconds=60)
#: An extension event without a CID is its own attempt, unless it repeats the previous one of
#: the same user and kind within this time (the same request logged twice).
NO_CID_DUPLICATE = timedelta(seconds=1)
#: Attempts longer than this are kept apart in the time index, so that one long attempt (a
#: CID reused for hours) does not widen every look-up window.
_LONG_ATTEMPT = 600.0
#: The RADIUS client (RD Gateway, VPN client, RRAS) logs on another machine, often only when it
#: gives up waiting (up to a minute or two with MFA), so its events join within a wider window.
CLIENT_JOIN_WINDOW = timedelta(seconds=180)
#: Client-side kinds (npsdiag/extract_client.py). They report what the user saw, never the cause
#: on the NPS side, so they join NPS's and the extension's evidence and rank below it.
CLIENT_KINDS = frozenset(
    {
        FindingKind.RDG_AUTHORIZED,
        FindingKind.RDG_DENIED,
        FindingKind.RDG_OTHER,
        FindingKind.VPN_FAILED,
        FindingKind.RAS_AUTH_FAILED,
    }
)

#: Which way an incident went, decided from the strongest evidence it holds.
_OUTCOME_ORDER: tuple[tuple[str, str], ...] = (
    (FindingKind.REJECTED, "rejected"),
    (FindingKind.EXCEPTION, "error"),
    (FindingKind.ACCEPTED, "accepted"),
    (FindingKind.IGNORED, "ignored"),  # refined below by AccessReject vs AccessChallenge
    (FindingKind.CHALLENGE, "no-answer"),
    (FindingKind.EXT_OTHER, "unknown"),
    (FindingKind.NPS_DENIED, "rejected"),
    # Client-side failures (gateway, VPN client, RRAS) before NPS's grant: a grant the client
    # never received is still a failed sign-in for the user.
    (FindingKind.RDG_DENIED, "rejected"),
    (FindingKind.RAS_AUTH_FAILED, "rejected"),
    (FindingKind.VPN_FAILED, "error"),
    (FindingKind.NPS_GRANTED, "accepted"),
    (FindingKind.NPS_DISCARDED, "discarded"),
    (FindingKind.SYS_UNKNOWN_CLIENT, "error"),
    (FindingKind.SYS_AUTHENTICATOR, "error"),
    (FindingKind.SYS_TLS, "error"),
    (FindingKind.SYS_DOMAIN_CONTROLLER, "error"),
    (FindingKind.RDG_AUTHORIZED, "accepted"),
    (FindingKind.NOTICE, "notice"),
    (FindingKind.RDG_OTHER, "notice"),
)
#: Failed outcomes that a benign diagnosis does not turn into a notice: the user did not get
#: in (a wrong code typed is still a failed sign-in for them, just not a fault to fix).
_FAILED_FOR_THE_USER = frozenset({"rejected", "error", "no-answer", "unknown", "timed-out"})
_SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
_CONFIDENCE_RANK = {"high": 2, "medium": 1, "low": 0}
_LOWER_CONFIDENCE = {"high": "medium", "medium": "low", "low": "low"}
_BENIGN = "not-an-error"

#: NPS reason codes that only say "an extension DLL dropped (9) or rejected (21) the
#: request": the cause is in the extension's own events, so these never outrank them.
POINTER_REASONS = frozenset({9, 21})
#: Catalog detectors (patterns over many events) that this module implements.
REPEATED_DISCARDS_DETECTOR = "repeated-discards"
NO_NPS_DECISIONS_DETECTOR = "no-nps-decisions"
#: Two or more discards in one attempt mean the RADIUS client resent while the user was
#: still answering; a single discard can be the extension filtering a late duplicate.
REPEATED_DISCARDS = 2


@dataclass(slots=True)
class DiagnosisResult:
    """What :func:`diagnose` returns; ``npsdiag.analyze`` wraps it into an Analysis."""

    problems: list[Problem]
    incidents: list[Incident]
    notices: list[Incident]
    unknown_codes: list[str]


@dataclass(slots=True)
class _Group:
    """Findings of one attempt while grouping; keeps its time span up to date."""

    key: str
    findings: list[Finding] = field(default_factory=list)
    start: float = float("inf")
    end: float = float("-inf")
    #: Holds NPS evidence that two attempts could equally claim (left unjoined on purpose).
    ambiguous: bool = False
    #: A group of NPS events only, ended by NPS's answer (6272/6273).
    closed: bool = False

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)
        self._widen(finding)

    def absorb(self, other: _Group) -> None:
        self.findings.extend(other.findings)
        for finding in other.findings:
            self._widen(finding)

    def _widen(self, finding: Finding) -> None:
        when = finding.event.time.timestamp()
        self.start = min(self.start, when)
        self.end = max(self.end, when)

    @property
    def user_key(self) -> str | None:
        return next((f.user_key for f in self.findings if f.user_key), None)

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}


def _sort_key(finding: Finding) -> tuple[float, str, int, str]:
    event = finding.event
    return (event.time.timestamp(), event.origin, event.record_id or 0, finding.kind)


def _is_extension(finding: Finding) -> bool:
    return finding.kind.startswith("ext.")


def diagnose(
    findings: Iterable[Finding],
    catalog: Catalog,
    *,
    security_exported: bool = False,
    coverage: Coverage | None = None,
) -> DiagnosisResult:
    """Turn findings into incidents, notices and ranked problems.

    Args:
        findings: every finding of one case, in any order.
        catalog: the loaded catalog.
        security_exported: a Security log export (or the bundle's wevtutil dump of it) was
            among the inputs, so the absence of NPS decisions in it means something.
        coverage: which logs the inputs covered; a problem whose conclusion rests on a log
            that was not given loses confidence and says what to export. None: assume
            every log was given.

    Returns:
        Incidents (failures and successes), benign notices, ranked problems and the
        codes no catalog entry knows (never dropped).
    """
    ordered = sorted(findings, key=_sort_key)
    groups = _group_extension(ordered, catalog)
    _join_nps(groups, [f for f in ordered if not _is_extension(f) and f.kind not in CLIENT_KINDS])
    groups = _resolve_challenges(groups)
    # Client-side events join after NPS's, so they also reach NPS evidence that found no
    # extension attempt (a report built from the gateway's and NPS's logs only).
    _join_nps(groups, [f for f in ordered if f.kind in CLIENT_KINDS], CLIENT_JOIN_WINDOW)
    del ordered
    unknown: set[str] = set()
    incidents: list[Incident] = []
    notices: list[Incident] = []
    shared: dict[object, object] = {}
    # Taken from the end of the reversed list, in their order: each group is freed as soon
    # as its incident holds its findings, so a million attempts are never held twice.
    groups.reverse()
    while groups:
        group = groups.pop()
        incident = _build_incident(group, catalog, unknown, shared)
        if _is_notice(incident):
            notices.append(incident)
        else:
            incidents.append(incident)
    incidents.sort(key=lambda i: (i.start, i.key))
    notices.sort(key=lambda i: (i.start, i.key))
    assign_people(incidents)
    problems = _rank_problems(incidents, catalog, security_exported=security_exported)
    if coverage is not None:
        _weigh_coverage(problems, coverage)
    return DiagnosisResult(problems, incidents, notices, sorted(unknown))


def _is_notice(incident: Incident) -> bool:
    """Benign evidence that is not a failed sign-in: a notice, not an attempt."""
    if incident.outcome in ("notice", "ignored"):
        return True
    diagnosis = incident.diagnosis
    if diagnosis is None or diagnosis.category != _BENIGN:
        return False
    # A wrong code typed is benign but still a sign-in that failed for that user; benign
    # System events (a domain controller back online) belong to nobody.
    return incident.user is None or incident.outcome not in _FAILED_FOR_THE_USER


def _weigh_coverage(problems: Sequence[Problem], coverage: Coverage) -> None:
    """Mark conclusions drawn without a log they rest on, and say what to export."""
    for problem in problems:
        missing = [role for role in needs(problem.entry_id) if not coverage.given(role)]
        if not missing:
            continue
        problem.missing = missing
        problem.confidence = _LOWER_CONFIDENCE.get(problem.confidence, problem.confidence)
        names = " and ".join(role_label(role) for role in missing)
        problem.because += (
            f"; concluded without {names}, which could name a more precise cause: export "
            f"{'them' if len(missing) > 1 else 'it'} and run again"
        )


def _group_extension(ordered: Sequence[Finding], catalog: Catalog) -> list[_Group]:
    """Group extension findings: by CID, else notices by entry, else by user and time."""
    by_cid: dict[str, _Group] = {}
    by_notice: dict[str, _Group] = {}
    loose: list[_Group] = []
    open_loose: dict[tuple[str, str], _Group] = {}
    for finding in ordered:
        if not _is_extension(finding):
            continue
        if finding.cid:
            by_cid.setdefault(f"cid:{finding.cid}", _Group(f"cid:{finding.cid}")).add(finding)
            continue
        # AccessChallenge "ignoring request" events are the normal middle rounds of an
        # EAP exchange: benign, and not an attempt that NPS decisions should join.
        if finding.kind == FindingKind.NOTICE or (
            finding.kind == FindingKind.IGNORED and finding.response_state == "AccessChallenge"
        ):
            matches = catalog.match(finding)
            name = matches[0].entry.id if matches else "+".join(finding.codes) or "notice"
            by_notice.setdefault(name, _Group(f"notice:{name}")).add(finding)
            continue
        # No CID (e.g. the "ignoring request" texts, or a CID obfuscated as <>): each such
        # event answers one request, so it is one attempt; only the same message logged
        # twice for one request (within a second) joins it. A run of events with small gaps
        # is not one attempt: a user who keeps failing would become one incident lasting hours.
        who = finding.user_key or "?"
        slot = (who, finding.kind)
        group = open_loose.get(slot)
        when = finding.event.time.timestamp()
        if group is None or when - group.end > NO_CID_DUPLICATE.total_seconds():
            stamp = finding.event.time.strftime("%Y%m%dT%H%M%S")
            group = _Group(f"user:{who}:{finding.kind}:{stamp}")
            open_loose[slot] = group
            loose.append(group)
        group.add(finding)
    return [*by_cid.values(), *loose, *by_notice.values()]


#: Returned by _nearest_attempt when two attempts are equally close.
_AMBIGUOUS = _Group("ambiguous")


class _Tier:
    """Groups whose spans are at most ``longest`` long, sorted by start."""

    __slots__ = ("ends", "groups", "longest", "starts")

    def __init__(self, groups: list[_Group]) -> None:
        self.groups = groups
        # Packed doubles, not lists of float objects: a busy server's index holds millions.
        self.starts = array("d", (g.start for g in groups))
        self.ends = array("d", (g.end for g in groups))
        self.longest = max((g.end - g.start for g in groups), default=0.0)


class _TimeIndex:
    """Groups of one identity sorted by start time, for window look-ups in O(log n).

    The spans are those of the groups when the index is frozen (the attempts' own
    extension evidence); NPS evidence joined later does not move an attempt. A look-up must
    reach back from a time by the longest span it may meet, so groups are kept in tiers by
    span: most attempts last a second, so their tier only reaches back a few seconds,
    however long the few attempts with retransmissions are; groups longer than
    :data:`_LONG_ATTEMPT` (a CID reused for hours) are scanned on their own.
    """

    #: Upper bounds of the tiers' spans, in seconds; the last tier holds the rest.
    _BOUNDS = (4.0, _LONG_ATTEMPT)

    def __init__(self) -> None:
        self.groups: list[_Group] = []
        self.tiers: list[_Tier] = []
        self.long: list[_Group] = []

    def add(self, group: _Group) -> None:
        self.groups.append(group)

    def freeze(self) -> None:
        self.groups.sort(key=lambda g: (g.start, g.key))
        parts: list[list[_Group]] = [[] for _ in self._BOUNDS]
        for group in self.groups:
            span = group.end - group.start
            for part, bound in zip(parts, self._BOUNDS, strict=True):
                if span <= bound:
                    part.append(group)
                    break
            else:
                self.long.append(group)
        self.tiers = [_Tier(part) for part in parts if part]

    def nearest(self, when: float, window: float, margin: float) -> list[tuple[float, _Group]]:
        """``(distance, group)`` of the groups nearest to ``when``: those within ``window``
        and within ``margin`` of the nearest one (distance 0 inside a group's span).

        Scans outwards from ``when`` and stops as soon as no further group can be closer
        than the limit, so a user with thousands of attempts costs a few comparisons.
        """
        found: list[tuple[float, _Group]] = []
        limit = window
        for tier in self.tiers:
            starts, ends, groups = tier.starts, tier.ends, tier.groups
            position = bisect_left(starts, when)
            for index in range(position, len(starts)):
                distance = starts[index] - when
                if distance > limit:
                    break
                found.append((distance, groups[index]))
                limit = min(limit, distance + margin)
            reach = tier.longest
            for index in range(position - 1, -1, -1):
                if when - starts[index] - reach > limit:
                    break
                distance = max(0.0, when - ends[index])
                if distance <= limit:
                    found.append((distance, groups[index]))
                    limit = min(limit, distance + margin)
        for group in self.long:
            distance = max(0.0, group.start - when, when - group.end)
            if distance <= limit:
                found.append((distance, group))
                limit = min(limit, distance + margin)
        return [(distance, group) for distance, group in found if distance <= limit]


def _resolve_challenges(groups: list[_Group]) -> list[_Group]:
    """Merge a challenge into the same user's next answer within the MFA session lifetime.

    The challenge and the second Access-Request that answers it may carry different CIDs,
    so only user and time tie them together. Runs after NPS's evidence joined the attempts:
    a challenge NPS already ended (6273 reason 21 right after it: a client that cannot
    answer) was not answered, and a challenge followed by a newer one of the same user
    before any answer was abandoned. Either stays "no answer"; on a busy server, joining it
    to a later, unrelated answer would hide it.
    """
    answered = {FindingKind.ACCEPTED, FindingKind.REJECTED, FindingKind.EXCEPTION}
    answers: dict[str, list[_Group]] = defaultdict(list)
    pending: dict[str, list[_Group]] = defaultdict(list)
    for group in groups:
        who = group.user_key
        if not who:
            continue
        kinds = group.kinds()
        said = {kind for kind in kinds if kind.startswith("ext.")}
        if said & answered:
            answers[who].append(group)
        elif said == {FindingKind.CHALLENGE}:
            pending[who].append(group)
    lifetime = SESSION_LIFETIME.total_seconds()
    merged: set[int] = set()
    for who, challenges in pending.items():
        replies = sorted(answers.get(who, ()), key=lambda g: (g.start, g.key))
        if not replies:
            continue
        starts = [reply.start for reply in replies]
        challenges.sort(key=lambda g: (g.start, g.key))
        for position, challenge in enumerate(challenges):
            if challenge.kinds() & _NPS_FINAL:
                continue  # NPS answered the challenge's request itself: nothing came back
            index = bisect_left(starts, challenge.start)
            if index == len(replies) or starts[index] > challenge.start + lifetime:
                continue
            reply = replies[index]
            newer = challenges[position + 1].start if position + 1 < len(challenges) else None
            if newer is not None and newer <= reply.start:
                continue  # a newer challenge came first: this one was abandoned
            reply.absorb(challenge)
            reply.findings.sort(key=_sort_key)
            merged.add(id(challenge))
    return [g for g in groups if id(g) not in merged]


def _join_nps(
    groups: list[_Group], nps_findings: Sequence[Finding], join_window: timedelta = NPS_JOIN_WINDOW
) -> None:
    """Attach NPS/System evidence to the extension attempt of the same user, or stand alone.

    A join needs a shared identity (the user as sent, or as NPS resolved it, see
    ``Finding.identity_keys``) and a time within NPS_JOIN_WINDOW. When two attempts are
    about equally close the event is left on its own rather than forced.
    """
    if not nps_findings:
        return
    attempts: dict[str, _TimeIndex] = defaultdict(_TimeIndex)
    for group in groups:
        if group.key.startswith("notice:"):
            continue
        identities = {key for finding in group.findings for key in finding.identity_keys}
        for key in sorted(identities):
            attempts[key].add(group)
    for index in attempts.values():
        index.freeze()
    standalone: dict[tuple[str, str], _Group] = {}
    extra: list[_Group] = []
    window = join_window.total_seconds()
    for finding in nps_findings:
        when = finding.event.time.timestamp()
        target = _nearest_attempt(finding, attempts, when, window)
        if target is not None and target is not _AMBIGUOUS:
            target.add(finding)
            continue
        keys = finding.identity_keys
        who = keys[0] if keys else finding.client_ip or "?"
        alone = _standalone_group(standalone, extra, finding, who, when)
        alone.add(finding)
        if finding.kind in _NPS_FINAL:
            alone.closed = True
        if target is _AMBIGUOUS:
            alone.ambiguous = True
    groups.extend(extra)
    for group in groups:
        if len(group.findings) > 1:
            group.findings.sort(key=_sort_key)


#: NPS's answers to a request; a discard is not one (the client may send the request again).
_NPS_FINAL = frozenset({FindingKind.NPS_GRANTED, FindingKind.NPS_DENIED})
#: The extension discards duplicates of a request for up to 10 seconds after answering it.
_TRAILING_DUPLICATES = 10.0


def _standalone_group(
    standalone: dict[tuple[str, str], _Group],
    extra: list[_Group],
    finding: Finding,
    who: str,
    when: float,
) -> _Group:
    """The group an NPS or System event joins when no extension attempt claims it.

    NPS's events of one request are its discards (the client resending while it waits)
    and then one answer, 6272 or 6273: the answer ends the attempt, and the next event of
    the same user starts another one, except a discard of a late duplicate just after the
    answer. System events group by kind and client.
    """
    nps = finding.kind.startswith("nps.")
    slot = ("nps", who) if nps else (who, finding.kind)
    group = standalone.get(slot)
    if group is not None:
        gap = when - group.end
        trailing = (
            group.closed
            and finding.kind == FindingKind.NPS_DISCARDED
            and gap <= _TRAILING_DUPLICATES
        )
        if trailing or (not group.closed and gap <= NO_CID_GAP.total_seconds()):
            return group
    stamp = finding.event.time.strftime("%Y%m%dT%H%M%S")
    prefix = "nps" if nps else finding.kind
    group = _Group(f"{prefix}:{who}:{stamp}")
    standalone[slot] = group
    extra.append(group)
    return group


def _nearest_attempt(
    finding: Finding, attempts: dict[str, _TimeIndex], when: float, window: float
) -> _Group | None:
    candidates: dict[str, tuple[float, _Group]] = {}
    for key in finding.identity_keys:
        index = attempts.get(key)
        if index is None:
            continue
        for distance, group in index.nearest(when, window, _AMBIGUITY):
            candidates[group.key] = (distance, group)
    if not candidates:
        return None
    ranked = sorted(candidates.items(), key=lambda item: (item[1][0], item[0]))
    # Ambiguous: a second attempt almost as close. Leave the event alone, never force it.
    if len(ranked) > 1 and ranked[1][1][0] - ranked[0][1][0] <= _AMBIGUITY:
        return _AMBIGUOUS
    return ranked[0][1][1]


#: Two attempts whose distances to an NPS event differ by no more than this are equally close.
_AMBIGUITY = 1.0


def _outcome(findings: Sequence[Finding]) -> str:
    kinds = {f.kind for f in findings}
    for kind, outcome in _OUTCOME_ORDER:
        if kind in kinds:
            if kind == FindingKind.IGNORED:
                states = {f.response_state for f in findings if f.kind == kind}
                return "rejected" if "AccessReject" in states else "ignored"
            if outcome == "accepted" and _granted_too_late(findings):
                return "timed-out"
            return outcome
    return "unknown"


#: How much later than its next retransmission was due the client may still take an answer.
_GIVE_UP_SLACK = 1.0


def _granted_too_late(findings: Sequence[Finding]) -> bool:
    """Whether the access was granted after the RADIUS client had given up.

    The client resends a request each time its timeout passes without an answer; NPS
    discards each copy while the extension waits for the user (6274). After its last
    retransmission the client waits one timeout more, then tells the user the sign-in
    failed. So with at least two discards (which show the client's interval), a grant that
    comes later than the last discard plus the longest interval came too late.
    """
    discards = sorted(
        f.event.time.timestamp() for f in findings if f.kind == FindingKind.NPS_DISCARDED
    )
    if len(discards) < REPEATED_DISCARDS:
        return False
    interval = max(later - earlier for earlier, later in pairwise(discards))
    granted = [f.event.time.timestamp() for f in findings if f.kind == FindingKind.NPS_GRANTED]
    if not granted:
        granted = [f.event.time.timestamp() for f in findings if f.kind == FindingKind.ACCEPTED]
    if not granted:
        return False
    return max(granted) > discards[-1] + interval + _GIVE_UP_SLACK


def _confidence(match: Match, findings: Sequence[Finding]) -> str:
    rule = match.rule
    if rule.fallback:
        return "low"  # only an unknown code or an unrecognised message to go on
    if rule.code or rule.aadsts or rule.reason_code is not None:
        return "high"
    if rule.kind == FindingKind.CHALLENGE:
        # "Challenge, then nothing" is strong when NPS itself says the extension rejected it.
        if any(f.kind == FindingKind.NPS_DENIED and f.reason_code == 21 for f in findings):
            return "high"
        return "medium"
    return "medium"


def _choose(
    findings: Sequence[Finding], catalog: Catalog, outcome: str
) -> tuple[CatalogEntry, Match, Finding] | None:
    """The strongest catalog match among an incident's findings.

    Pointers (NPS reason 9/21: "an extension rejected it") and fallbacks (an unknown code)
    come last: the most specific evidence decides, so the extension's own answer (even a
    benign one such as a wrong code typed) beats NPS's pointer to it. Then failures beat
    benign entries; a stated cause (code, AADSTS, message, NPS reason) beats a symptom;
    then severity; then extension evidence over NPS evidence.
    """
    best: tuple[tuple[int, int, int, int, int], CatalogEntry, Match, Finding] | None = None
    for finding in findings:
        if finding.kind == FindingKind.CHALLENGE and outcome != "no-answer":
            # The challenge was answered (accepted, rejected, failed): what the answer says
            # is the diagnosis, not "challenge with no answer".
            continue
        matches = catalog.match(finding)
        if not matches:
            continue
        # The catalog ranks a finding's own matches (a benign refinement beats the bare
        # code it refines); only the winner per finding competes across findings.
        match = matches[0]
        entry = match.entry
        rule = match.rule
        # Client-side events only echo a failure decided on the NPS side: pointers too.
        pointer = rule.reason_code in POINTER_REASONS or finding.kind in CLIENT_KINDS
        # A rule naming a code, AADSTS or reason code states a cause; a kind-only rule
        # (challenge with no answer, AccessReject ignored) states a symptom. So an NPS
        # reason 16 behind "AccessReject, ignoring request" names the real cause.
        states_cause = bool(rule.code or rule.aadsts or rule.message) or (
            rule.reason_code is not None and not pointer
        )
        score = (
            0 if pointer or rule.fallback else 1,
            0 if entry.category == _BENIGN else 1,
            1 if states_cause else 0,
            _SEVERITY_RANK.get(entry.severity, 0),
            1 if _is_extension(finding) else 0,
        )
        if best is None or score > best[0]:
            best = (score, entry, match, finding)
    if best is None:
        return None
    return best[1], best[2], best[3]


def _build_incident(
    group: _Group, catalog: Catalog, unknown: set[str], shared: dict[object, object] | None = None
) -> Incident:
    """The incident of one group. ``shared`` keeps one object per equal text or tuple across
    incidents: thousands of attempts failing the same way share their "because" and codes."""
    shared = shared if shared is not None else {}
    findings = group.findings
    outcome = _outcome(findings)
    codes: list[str] = []
    for finding in findings:
        unknown.update(catalog.unknown_codes(finding))
        reason = finding.reason_code
        if reason is not None and catalog.find(f"nps.reason-{reason}") is None:
            # NPS reason codes are numbers, not text codes; an unknown one is still listed.
            unknown.add(f"NPS reason code {reason}")
        for code in finding.codes:
            if code not in codes:
                codes.append(code)
    user = next((f.user for f in findings if f.user), None)
    cid = next((f.cid for f in findings if f.cid), None)
    diagnosis: Diagnosis | None = None
    if outcome == "timed-out":
        diagnosis = _timed_out_diagnosis(findings, catalog)
    elif outcome != "accepted":
        chosen = _choose(findings, catalog, outcome)
        if chosen is not None:
            entry, match, finding = chosen
            diagnosis = Diagnosis(
                entry_id=entry.id,
                title=entry.title,
                category=entry.category,
                severity=entry.severity,
                confidence=_confidence(match, findings),
                because=_because(match, finding, catalog),
                key_evidence=next(i for i, f in enumerate(findings) if f is finding),
            )
            if group.ambiguous:
                diagnosis.because += (
                    "; not joined to an extension attempt: two attempts of this user are "
                    "equally close in time (ambiguous)"
                )
            # Equal diagnoses are one object (never changed once built).
            diagnosis = shared.setdefault(  # type: ignore[assignment]
                (
                    diagnosis.entry_id,
                    diagnosis.confidence,
                    diagnosis.because,
                    diagnosis.key_evidence,
                ),
                diagnosis,
            )
    codes_tuple = tuple(codes)
    # Findings are in _sort_key order, which begins with the time. The group's list becomes
    # the incident's (groups are dropped once built).
    return Incident(
        key=group.key,
        user=user,
        start=findings[0].event.time,
        end=findings[-1].event.time,
        outcome=outcome,
        findings=findings,
        diagnosis=diagnosis,
        cid=cid,
        codes=shared.setdefault(codes_tuple, codes_tuple),  # type: ignore[arg-type]
    )


def _timed_out_diagnosis(findings: Sequence[Finding], catalog: Catalog) -> Diagnosis | None:
    """An attempt granted after the client gave up is the client timeout's doing."""
    entry = catalog.detectors().get(REPEATED_DISCARDS_DETECTOR)
    if entry is None:
        return None
    discards = [i for i, f in enumerate(findings) if f.kind == FindingKind.NPS_DISCARDED]
    answers = [
        i
        for i, f in enumerate(findings)
        if f.kind in (FindingKind.NPS_GRANTED, FindingKind.ACCEPTED)
    ]
    last_discard = findings[discards[-1]].event
    answer = findings[answers[-1]].event
    return Diagnosis(
        entry_id=entry.id,
        title=entry.title,
        category=entry.category,
        severity=entry.severity,
        confidence="high",
        because=(
            f"{len(discards)} resends discarded (6274), the last at {_iso(last_discard.time)}; "
            f"access granted at {_iso(answer.time)}, after the client had given up "
            f"({answer.origin} event {answer.event_id})"
        ),
        key_evidence=answers[-1],
    )


def _because(match: Match, finding: Finding, catalog: Catalog | None = None) -> str:
    rule = match.rule
    parts: list[str] = []
    if rule.code:
        parts.append(f"code {rule.code}")
    if rule.aadsts:
        parts.append(f"{rule.aadsts} in the token error")
    if rule.reason_code is not None:
        parts.append(f"NPS reason code {rule.reason_code}")
    if rule.error_code is not None:
        parts.append(f"error code {rule.error_code}")
    if rule.message:
        parts.append("message text matches")
    if rule.fallback:
        parts = [f"not in the catalog: {', '.join(finding.codes) or 'unrecognised message'}"]
    if rule.kind and not parts:
        parts.append(f"event kind {rule.kind}")
    if catalog is not None and not rule.aadsts:
        # AADSTS codes no entry explains still get their name from the offline table.
        for code in finding.aadsts:
            row = catalog.tables.aadsts(code)
            if row is not None:
                parts.append(f"{code} is {row.describe()}")
    where = f"{finding.event.origin} event {finding.event.event_id}"
    return f"{' and '.join(parts) or 'matched'} ({where})"


def _rank_problems(
    incidents: Sequence[Incident], catalog: Catalog, *, security_exported: bool
) -> list[Problem]:
    """One problem per catalog entry among failed incidents (plus symptom rules), ranked."""
    pointer_ids = {f"nps.reason-{code}" for code in POINTER_REASONS}
    # Reason 9/21 say "look at the extension's events"; when those events are in the
    # analysis they name the cause, so the pointer alone is not a problem of its own.
    have_extension = any(_is_extension(f) for i in incidents for f in i.findings)
    buckets: dict[str, list[Incident]] = defaultdict(list)
    for incident in incidents:
        diagnosis = incident.diagnosis
        if diagnosis is None or incident.outcome not in FAILED_OUTCOMES:
            continue
        if diagnosis.category == _BENIGN:
            continue
        if have_extension and diagnosis.entry_id in pointer_ids:
            continue
        buckets[diagnosis.entry_id].append(incident)
    problems: list[Problem] = []
    detectors = catalog.detectors()
    for detected in (
        _client_timeout_problem(incidents, detectors.get(REPEATED_DISCARDS_DETECTOR)),
        _auditing_off_problem(
            incidents, detectors.get(NO_NPS_DECISIONS_DETECTOR), security_exported
        ),
    ):
        if detected is not None:
            problems.append(detected)
    # A detector's problem already holds the incidents diagnosed with its entry.
    for detected in problems:
        buckets.pop(detected.entry_id, None)
    for entry_id, members in buckets.items():
        entry = catalog.find(entry_id)
        first = members[0].diagnosis
        assert first is not None  # bucketed above only when diagnosed
        users = _people_of(members)
        confidence = max(
            (m.diagnosis.confidence for m in members if m.diagnosis),
            key=lambda c: _CONFIDENCE_RANK.get(c, 0),
        )
        start = min(m.start for m in members)
        end = max(m.end for m in members)
        span = f"{_iso(start)} and {_iso(end)}"
        scope = entry.scope if entry is not None else "user"
        if users:
            who = f"{_count(len(members), 'failed attempt')} by {_count(len(users), 'user')}"
        else:
            # System events (unknown client, shared secret, TLS) name devices, not users.
            clients = sorted(
                {
                    name
                    for m in members
                    for f in m.findings
                    if (name := f.client_ip or f.client_name) is not None
                }
            )
            named = f"{noun(len(clients), 'RADIUS client')} {', '.join(clients)}"
            sources = f" from {named}" if clients else ""
            who = f"{_count(sum(len(m.findings) for m in members), 'event')}{sources}"
        because = f"{who} between {span}; {first.because}"
        problems.append(
            Problem(
                entry_id=entry_id,
                title=first.title,
                category=first.category,
                severity=first.severity,
                confidence=confidence,
                scope=scope,
                users=users,
                incident_keys=[m.key for m in members],
                start=start,
                end=end,
                because=because,
            )
        )
    _describe_outages(problems, incidents)
    problems.sort(
        key=lambda p: (
            -_SEVERITY_RANK.get(p.severity, 0),
            0 if p.scope == "server" else 1,
            -len(p.users),
            -len(p.incident_keys),
            p.entry_id,
        )
    )
    return problems


def _describe_outages(problems: Sequence[Problem], incidents: Sequence[Incident]) -> None:
    """Say when a server-wide problem was an outage: no sign-in succeeded while it lasted.

    The report then gives the window with the last success before it and the first after,
    which is what an admin needs to tell users and to check what changed at the start.
    """
    successes = sorted(i.start for i in incidents if i.outcome == "accepted")
    for problem in problems:
        if problem.scope != "server":
            continue
        inside = bisect_left(successes, problem.start) != bisect_right(successes, problem.end)
        if inside:
            continue
        before_index = bisect_left(successes, problem.start) - 1
        after_index = bisect_right(successes, problem.end)
        before = _iso(successes[before_index]) if before_index >= 0 else "none in the logs"
        after = _iso(successes[after_index]) if after_index < len(successes) else "none in the logs"
        problem.because += (
            f"; outage: no sign-in succeeded from {_iso(problem.start)} to {_iso(problem.end)} "
            f"(last success before: {before}; first success after: {after})"
        )


def _auditing_off_problem(
    incidents: Sequence[Incident], entry: CatalogEntry | None, security_exported: bool
) -> Problem | None:
    """The extension decided, a Security export was read, yet NPS logged no 6272/6273 at all.

    Without a Security export the absence proves nothing, so nothing is said then.
    """
    if entry is None or not security_exported:
        return None
    # Accepted and rejected attempts always end in a 6272 or 6273 when auditing is on; an
    # exception usually ends in a discard (6274), which is audited by the same setting.
    decisions = {FindingKind.ACCEPTED, FindingKind.REJECTED}
    decided = [i for i in incidents if any(f.kind in decisions for f in i.findings)]
    nps_decisions = {FindingKind.NPS_GRANTED, FindingKind.NPS_DENIED, FindingKind.NPS_DISCARDED}
    if not decided or any(f.kind in nps_decisions for i in incidents for f in i.findings):
        return None
    start = min(i.start for i in decided)
    end = max(i.end for i in decided)
    return Problem(
        entry_id=entry.id,
        title=entry.title,
        category=entry.category,
        severity=entry.severity,
        confidence="medium",
        scope=entry.scope,
        users=[],
        incident_keys=[],
        start=start,
        end=end,
        because=(
            f"the extension decided {plural(len(decided), 'attempt')} between {_iso(start)} and "
            f"{_iso(end)}, but the Security export holds no 6272, 6273 or 6274 event"
        ),
    )


def _client_timeout_problem(
    incidents: Sequence[Incident], entry: CatalogEntry | None
) -> Problem | None:
    """Attempts the RADIUS client gave up on while the user was still answering MFA.

    The sign of it: repeated 6274 discards (the client resending) in an attempt that the
    extension did not fail itself, and that then failed for the user: granted after the
    client had given up (``timed-out``) or never answered. When the extension throws (every
    request of a broken server), NPS discards too and the client retries; that is the
    extension's problem, not the timeout, so attempts with nothing but discards never count.
    Slow attempts that still succeeded are counted in the text but are not failures.
    """
    if entry is None:
        return None
    members = [
        incident
        for incident in incidents
        if incident.outcome in ("timed-out", "no-answer", "accepted")
        and sum(f.kind == FindingKind.NPS_DISCARDED for f in incident.findings) >= REPEATED_DISCARDS
    ]
    failed = [incident for incident in members if incident.failed]
    slow = [incident for incident in members if not incident.failed]
    if not failed and len(slow) < REPEATED_DISCARDS:
        return None
    shown = failed or slow
    discards = sum(
        f.kind == FindingKind.NPS_DISCARDED for incident in shown for f in incident.findings
    )
    clients = sorted(
        {
            f.client_name or f.client_ip or "?"
            for incident in shown
            for f in incident.findings
            if f.kind == FindingKind.NPS_DISCARDED
        }
    )
    # Only people who failed are affected; slow successes are mentioned, not counted.
    users = _people_of(failed)
    start = min(m.start for m in shown)
    end = max(m.end for m in shown)
    late = sum(1 for incident in failed if incident.outcome == "timed-out")
    if failed:
        parts = [
            f"{_count(len(failed), 'attempt')} by {_count(len(users), 'user')} failed after the "
            f"RADIUS client resent the request ({discards} discards, 6274) from {_iso(start)} "
            f"to {_iso(end)}"
        ]
    else:
        parts = [
            f"no sign-in failed yet, but {_count(len(slow), 'attempt')} needed resends while "
            f"the user answered MFA ({discards} discards, 6274) from {_iso(start)} to "
            f"{_iso(end)}: slower approvals will fail"
        ]
    if late:
        parts.append(
            f"{_count(late, 'attempt')} granted only after the client had given up (the user was "
            "told the sign-in failed)"
        )
    if failed and slow:
        parts.append(f"{_count(len(slow), 'other attempt')} needed resends but succeeded")
    parts.append(f"{noun(len(clients), 'RADIUS client')}: {', '.join(clients)}")
    return Problem(
        entry_id=entry.id,
        title=entry.title,
        category=entry.category,
        # Nobody failed yet: a warning, not an outage.
        severity=entry.severity if failed else "low",
        confidence="high" if len(shown) >= REPEATED_DISCARDS else "medium",
        scope=entry.scope,
        users=users,
        incident_keys=[m.key for m in shown],
        start=start,
        end=end,
        because="; ".join(parts),
    )


def _count(count: int, word: str) -> str:
    """``1 attempt``, ``3 attempts``."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _people_of(incidents: Sequence[Incident]) -> list[str]:
    """The persons (``Incident.person``) of some incidents, each once, sorted by name."""
    people = {incident.person for incident in incidents if incident.person}
    return sorted(people, key=lambda name: (name.lower(), name))


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def link_configuration(
    problems: Sequence[Problem], config_findings: Sequence[Mapping[str, str]], catalog: Catalog
) -> None:
    """Name the misconfiguration behind a problem, when a check entry says it explains it.

    The link is catalog data (``explains`` on configuration checks), matched by entry id or
    family; a linked problem states the faulty value and becomes high confidence, since two
    independent sources (events and registry) agree.
    """
    for finding in config_findings:
        entry = catalog.find(finding.get("id", ""))
        if entry is None or not entry.explains:
            continue
        targets = set(entry.explains)
        for problem in problems:
            family = ".".join(problem.entry_id.split(".")[:2])
            if problem.entry_id not in targets and family not in targets:
                continue
            value = finding.get("value", "")
            data = finding.get("data", "")
            # A check over collected facts states what it found in a sentence of its own
            # ("client certificate ... expired on ..."; npsdiag.factcheck).
            statement = finding.get("statement", "")
            setting = statement or (f"{value} = '{data}'" if value else entry.title)
            problem.because += f"; configuration: {entry.title} ({setting}, {entry.id})"
            problem.confidence = "high"
