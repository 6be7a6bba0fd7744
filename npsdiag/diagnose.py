"""Group findings into incidents, decide outcomes, match the catalog and rank problems.

Pure functions over data: no I/O. The windows below come from the product's documented
behaviour and are named so the report can say why two events were joined.

References:
    https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension-errors
    (InvalidSession: an MFA session that takes more than three minutes expires)
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from npsdiag.catalog import Catalog, CatalogEntry, Match
from npsdiag.model import Diagnosis, Finding, FindingKind, Incident, Problem

__all__ = [
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
#: Extension events without a CID that belong to one attempt are this close together.
NO_CID_GAP = timedelta(seconds=60)

#: Which way an incident went, decided from the strongest evidence it holds.
_OUTCOME_ORDER: tuple[tuple[str, str], ...] = (
    (FindingKind.REJECTED, "rejected"),
    (FindingKind.EXCEPTION, "error"),
    (FindingKind.ACCEPTED, "accepted"),
    (FindingKind.IGNORED, "ignored"),  # refined below by AccessReject vs AccessChallenge
    (FindingKind.CHALLENGE, "no-answer"),
    (FindingKind.EXT_OTHER, "unknown"),
    (FindingKind.NPS_DENIED, "rejected"),
    (FindingKind.NPS_GRANTED, "accepted"),
    (FindingKind.NPS_DISCARDED, "discarded"),
    (FindingKind.SYS_UNKNOWN_CLIENT, "error"),
    (FindingKind.SYS_AUTHENTICATOR, "error"),
    (FindingKind.SYS_TLS, "error"),
    (FindingKind.SYS_DOMAIN_CONTROLLER, "error"),
    (FindingKind.NOTICE, "notice"),
)
_FAILED_OUTCOMES = frozenset({"rejected", "error", "no-answer", "unknown", "discarded"})
_SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
_CONFIDENCE_RANK = {"high": 2, "medium": 1, "low": 0}
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
    findings: Iterable[Finding], catalog: Catalog, *, security_exported: bool = False
) -> DiagnosisResult:
    """Turn findings into incidents, notices and ranked problems.

    Args:
        findings: every finding of one case, in any order.
        catalog: the loaded catalog.
        security_exported: a Security log export (or the bundle's wevtutil dump of it) was
            among the inputs, so the absence of NPS decisions in it means something.

    Returns:
        Incidents (failures and successes), benign notices, ranked problems and the
        codes no catalog entry knows (never dropped).
    """
    ordered = sorted(findings, key=_sort_key)
    groups = _group_extension(ordered, catalog)
    groups = _resolve_challenges(groups)
    _join_nps(groups, [f for f in ordered if not _is_extension(f)])
    unknown: set[str] = set()
    incidents: list[Incident] = []
    notices: list[Incident] = []
    for group in groups:
        incident = _build_incident(group, catalog, unknown)
        if incident.outcome == "notice" or (
            incident.diagnosis is not None and incident.diagnosis.category == _BENIGN
        ):
            notices.append(incident)
        else:
            incidents.append(incident)
    incidents.sort(key=lambda i: (i.start, i.key))
    notices.sort(key=lambda i: (i.start, i.key))
    problems = _rank_problems(incidents, catalog, security_exported=security_exported)
    return DiagnosisResult(problems, incidents, notices, sorted(unknown))


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
        # No CID (e.g. the "ignoring request" texts, or a CID obfuscated as <>): one attempt
        # is the run of same-kind events of one user with small gaps between them.
        who = finding.user_key or "?"
        slot = (who, finding.kind)
        group = open_loose.get(slot)
        when = finding.event.time.timestamp()
        if group is None or when - group.end > NO_CID_GAP.total_seconds():
            stamp = finding.event.time.strftime("%Y%m%dT%H%M%S")
            group = _Group(f"user:{who}:{finding.kind}:{stamp}")
            open_loose[slot] = group
            loose.append(group)
        group.add(finding)
    return [*by_cid.values(), *loose, *by_notice.values()]


#: Returned by _nearest_attempt when two attempts are equally close.
_AMBIGUOUS = _Group("ambiguous")


class _TimeIndex:
    """Groups of one identity sorted by start time, for window look-ups in O(log n)."""

    def __init__(self) -> None:
        self.groups: list[_Group] = []
        self.starts: list[float] = []
        self.longest = 0.0

    def add(self, group: _Group) -> None:
        self.groups.append(group)

    def freeze(self) -> None:
        self.groups.sort(key=lambda g: (g.start, g.key))
        self.starts = [g.start for g in self.groups]
        self.longest = max((g.end - g.start for g in self.groups), default=0.0)

    def starting_between(self, low: float, high: float) -> list[_Group]:
        first = bisect_left(self.starts, low)
        last = bisect_right(self.starts, high)
        return self.groups[first:last]


def _resolve_challenges(groups: list[_Group]) -> list[_Group]:
    """Merge a challenge into the same user's next answer within the MFA session lifetime.

    The challenge and the second Access-Request that answers it may carry different CIDs,
    so only user and time tie them together. A challenge left alone stays "no answer".
    """
    answered = {FindingKind.ACCEPTED, FindingKind.REJECTED, FindingKind.EXCEPTION}
    by_user: dict[str, _TimeIndex] = defaultdict(_TimeIndex)
    for group in groups:
        if group.user_key and group.kinds() & answered:
            by_user[group.user_key].add(group)
    for index in by_user.values():
        index.freeze()
    lifetime = SESSION_LIFETIME.total_seconds()
    merged: set[int] = set()
    for group in groups:
        if group.kinds() != {FindingKind.CHALLENGE} or not group.user_key:
            continue
        answers = by_user.get(group.user_key)
        if answers is None:
            continue
        candidates = answers.starting_between(group.start, group.start + lifetime)
        if candidates:
            candidates[0].absorb(group)  # the earliest answer after the challenge
            merged.add(id(group))
    return [g for g in groups if id(g) not in merged]


def _join_nps(groups: list[_Group], nps_findings: Sequence[Finding]) -> None:
    """Attach NPS/System evidence to the extension attempt of the same user, or stand alone.

    A join needs a shared identity (the user as sent, or as NPS resolved it, see
    ``Finding.identity_keys``) and a time within NPS_JOIN_WINDOW. When two attempts are
    about equally close the event is left on its own rather than forced.
    """
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
    window = NPS_JOIN_WINDOW.total_seconds()
    for finding in nps_findings:
        when = finding.event.time.timestamp()
        target = _nearest_attempt(finding, attempts, when, window)
        if target is not None and target is not _AMBIGUOUS:
            target.add(finding)
            continue
        keys = finding.identity_keys
        who = keys[0] if keys else finding.client_ip or "?"
        slot = (who, finding.kind)
        alone = standalone.get(slot)
        if alone is None or when - alone.end > NO_CID_GAP.total_seconds():
            stamp = finding.event.time.strftime("%Y%m%dT%H%M%S")
            alone = _Group(f"{finding.kind}:{who}:{stamp}")
            standalone[slot] = alone
            extra.append(alone)
        alone.add(finding)
        if target is _AMBIGUOUS:
            alone.ambiguous = True
    groups.extend(extra)
    for group in groups:
        if len(group.findings) > 1:
            group.findings.sort(key=_sort_key)


def _nearest_attempt(
    finding: Finding, attempts: dict[str, _TimeIndex], when: float, window: float
) -> _Group | None:
    candidates: dict[str, tuple[float, _Group]] = {}
    for key in finding.identity_keys:
        index = attempts.get(key)
        if index is None:
            continue
        # Spans were fixed when the index was frozen; joined NPS events only widen them
        # within the window, which the lower bound allows for.
        low = when - window - index.longest - window
        for group in index.starting_between(low, when + window):
            distance = max(0.0, group.start - when, when - group.end)
            if distance <= window:
                candidates[group.key] = (distance, group)
    if not candidates:
        return None
    ranked = sorted(candidates.items(), key=lambda item: (item[1][0], item[0]))
    # Ambiguous: a second attempt almost as close. Leave the event alone, never force it.
    if len(ranked) > 1 and ranked[1][1][0] - ranked[0][1][0] <= 1.0:
        return _AMBIGUOUS
    return ranked[0][1][1]


def _outcome(findings: Sequence[Finding]) -> str:
    kinds = {f.kind for f in findings}
    for kind, outcome in _OUTCOME_ORDER:
        if kind in kinds:
            if kind == FindingKind.IGNORED:
                states = {f.response_state for f in findings if f.kind == kind}
                return "rejected" if "AccessReject" in states else "ignored"
            return outcome
    return "unknown"


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

    Failures beat benign entries; a stated cause (code, AADSTS, message, NPS reason)
    beats a symptom; pointers (reason 9/21) and fallbacks come last; then severity; then
    extension evidence over NPS evidence.
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
        pointer = rule.reason_code in POINTER_REASONS
        # A rule naming a code, AADSTS or reason code states a cause; a kind-only rule
        # (challenge with no answer, AccessReject ignored) states a symptom. So an NPS
        # reason 16 behind "AccessReject, ignoring request" names the real cause.
        states_cause = bool(rule.code or rule.aadsts or rule.message) or (
            rule.reason_code is not None and not pointer
        )
        score = (
            0 if entry.category == _BENIGN else 1,
            0 if pointer or rule.fallback else 1,
            1 if states_cause else 0,
            _SEVERITY_RANK.get(entry.severity, 0),
            1 if _is_extension(finding) else 0,
        )
        if best is None or score > best[0]:
            best = (score, entry, match, finding)
    if best is None:
        return None
    return best[1], best[2], best[3]


def _build_incident(group: _Group, catalog: Catalog, unknown: set[str]) -> Incident:
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
    if outcome != "accepted":
        chosen = _choose(findings, catalog, outcome)
        if chosen is not None:
            entry, match, finding = chosen
            diagnosis = Diagnosis(
                entry_id=entry.id,
                title=entry.title,
                category=entry.category,
                severity=entry.severity,
                confidence=_confidence(match, findings),
                because=_because(match, finding),
                key_evidence=next(i for i, f in enumerate(findings) if f is finding),
            )
            if group.ambiguous:
                diagnosis.because += (
                    "; not joined to an extension attempt: two attempts of this user are "
                    "equally close in time (ambiguous)"
                )
    # Findings are in _sort_key order, which begins with the time.
    return Incident(
        key=group.key,
        user=user,
        start=findings[0].event.time,
        end=findings[-1].event.time,
        outcome=outcome,
        findings=list(findings),
        diagnosis=diagnosis,
        cid=cid,
        codes=tuple(codes),
    )


def _because(match: Match, finding: Finding) -> str:
    rule = match.rule
    parts: list[str] = []
    if rule.code:
        parts.append(f"code {rule.code}")
    if rule.aadsts:
        parts.append(f"{rule.aadsts} in the token error")
    if rule.reason_code is not None:
        parts.append(f"NPS reason code {rule.reason_code}")
    if rule.message:
        parts.append("message text matches")
    if rule.fallback:
        parts = [f"not in the catalog: {', '.join(finding.codes) or 'unrecognised message'}"]
    if rule.kind and not parts:
        parts.append(f"event kind {rule.kind}")
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
        if diagnosis is None or incident.outcome not in _FAILED_OUTCOMES:
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
    for entry_id, members in buckets.items():
        entry = catalog.find(entry_id)
        first = members[0].diagnosis
        assert first is not None  # bucketed above only when diagnosed
        users = _display_users(members)
        confidence = max(
            (m.diagnosis.confidence for m in members if m.diagnosis),
            key=lambda c: _CONFIDENCE_RANK.get(c, 0),
        )
        start = min(m.start for m in members)
        end = max(m.end for m in members)
        span = f"{_iso(start)} and {_iso(end)}"
        scope = entry.scope if entry is not None else "user"
        if users:
            who = f"{len(members)} failed attempt(s) by {len(users)} user(s)"
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
            sources = f" from RADIUS client(s) {', '.join(clients)}" if clients else ""
            who = f"{sum(len(m.findings) for m in members)} event(s){sources}"
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
            f"the extension decided {len(decided)} attempt(s) between {_iso(start)} and "
            f"{_iso(end)}, but the Security export holds no 6272, 6273 or 6274 event"
        ),
    )


def _client_timeout_problem(
    incidents: Sequence[Incident], entry: CatalogEntry | None
) -> Problem | None:
    """Repeated 6274 discards within attempts that the extension did not fail itself.

    When the extension throws (every request of a broken server), NPS discards too and the
    client retries; that is the extension's problem, not the timeout. So only attempts
    that were accepted, unanswered or had nothing but discards count.
    """
    if entry is None:
        return None
    # Discards that could not be joined to an attempt (ambiguous) only count when there
    # is no extension evidence at all to join them to.
    have_extension = any(_is_extension(f) for i in incidents for f in i.findings)
    outcomes = (
        {"accepted", "no-answer"} if have_extension else {"accepted", "no-answer", "discarded"}
    )
    members = [
        incident
        for incident in incidents
        if incident.outcome in outcomes
        and sum(f.kind == FindingKind.NPS_DISCARDED for f in incident.findings) >= REPEATED_DISCARDS
    ]
    if not members:
        return None
    discards = sum(
        f.kind == FindingKind.NPS_DISCARDED for incident in members for f in incident.findings
    )
    clients = sorted(
        {
            f.client_name or f.client_ip or "?"
            for incident in members
            for f in incident.findings
            if f.kind == FindingKind.NPS_DISCARDED
        }
    )
    users = _display_users(members)
    start = min(m.start for m in members)
    end = max(m.end for m in members)
    return Problem(
        entry_id=entry.id,
        title=entry.title,
        category=entry.category,
        severity=entry.severity,
        confidence="high" if len(members) >= REPEATED_DISCARDS else "medium",
        scope=entry.scope,
        users=users,
        incident_keys=[m.key for m in members],
        start=start,
        end=end,
        because=(
            f"{discards} discarded requests (6274) in {len(members)} attempt(s) by "
            f"{len(users)} user(s) from {_iso(start)} to {_iso(end)}; RADIUS client(s): "
            f"{', '.join(clients)}"
        ),
    )


def _display_users(incidents: Sequence[Incident]) -> list[str]:
    """Each affected person once, sorted case-insensitively.

    One person can appear as ``alice@contoso.com`` in the extension and ``CONTOSO\\alice``
    in NPS; incidents whose identity keys overlap are the same person, shown in the form
    the incident names first (the extension's, as the user typed it).
    """
    names: list[str] = []
    # The first person (in order met) holding each key: what testing every person in turn
    # for a shared key finds, without the time that takes growing with the people met.
    first_holder: dict[str, int] = {}
    for incident in incidents:
        if not incident.user:
            continue
        keys = {key for finding in incident.findings for key in finding.identity_keys}
        holders = [first_holder[key] for key in keys if key in first_holder]
        person = min(holders) if holders else len(names)
        if not holders:
            names.append(incident.user)
        for key in keys:
            first_holder[key] = min(first_holder.get(key, person), person)
    return sorted(set(names), key=lambda u: (u.lower(), u))


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
            setting = f"{value} = '{data}'" if value else entry.title
            problem.because += f"; configuration: {entry.title} ({setting}, {entry.id})"
            problem.confidence = "high"
