"""Explain one pasted message, code or number: the same extractor and catalog as ``analyze``.

Three kinds of input:

* text (an event's message, a script's output line, a gateway's log line): extracted like an
  event, then matched against the catalog;
* a bare code (``ESTS_TOKEN_ERROR``, ``UserNotFound``, ``AADSTS700027``): the entries that name
  it, and for an AADSTS code its name from the offline AADSTS table;
* a number, alone or labelled (``6273``, ``event 6273``, ``reason code 48``, ``error 812``):
  an event id from the table of known events, an NPS reason code, and an error code of the
  RADIUS client's events (RD Gateway, Windows VPN client), each where it exists.
"""

from __future__ import annotations

import re
from typing import Any

from npsdiag.catalog import Catalog, CatalogEntry, Match
from npsdiag.errors import UsageError
from npsdiag.extract import finding_from_text
from npsdiag.model import Finding, FindingKind
from npsdiag.tables import KnownEvent

__all__ = ["MAX_MATCHES", "explain_text"]

#: ``explain`` shows the best few entries; more would bury the answer.
MAX_MATCHES = 3
_BENIGN = "not-an-error"

#: ``6273``, ``event 6273``, ``event id 6273``, ``reason code 48``, ``Reason Code: 48``,
#: ``error 812``, ``error code -2146762495``: a number, with what it is when the user says so.
_NUMBER = re.compile(
    r"(?:(?P<label>event(?:[ \t]{0,4}id)?|reason(?:[ \t]{0,4}code)?|error(?:[ \t]{0,4}code)?)"
    r"[ \t]{0,4}[:#=]?[ \t]{0,4})?(?P<number>-?\d{1,10})",
    re.IGNORECASE,
)

#: What a finding's kind says about where the text comes from, for the reader.
_RECOGNISED_AS = (
    ("ext.", "a message of the NPS extension for Microsoft Entra MFA"),
    ("nps.", "an NPS event of the Security log"),
    ("sys.", "an NPS or Schannel event of the System log"),
    ("rdg.", "an RD Gateway event"),
    ("vpn.", "a Windows VPN client (RasClient) event"),
    ("ras.", "an RRAS server (RemoteAccess) event"),
)


def explain_text(text: str, catalog: Catalog) -> dict[str, Any]:
    """Say what the text is and list the catalog entries that explain it, best first.

    Returns:
        A JSON-ready dict: ``found`` (kind, where the text comes from, codes, cid, user, state,
        AADSTS codes and their names, error code, ...), ``events`` (for a number: the known
        events with that id), ``matches`` (id, title, category, severity, confidence, cause,
        steps and their kinds, collect, references), ``known`` (False when nothing but a
        fallback entry matched and no table knows the input) and ``harmless`` (the best answer
        is expected behaviour, not a fault).

    Raises:
        UsageError: the text is empty.
    """
    stripped = text.strip()
    if not stripped:
        raise UsageError(
            "nothing to explain: the text is empty",
            hint="pass an event message, a code such as UserNotFound, or an event id like 6273",
        )
    number = _NUMBER.fullmatch(stripped)
    if number is not None:
        return _explain_number(int(number.group("number")), number.group("label"), catalog)
    finding = finding_from_text(text)
    found_matches = catalog.match(finding)
    named = _aadsts_names(finding, catalog)
    # Only a fallback (an unknown code or message) matched: the text is not in the catalog.
    known = any(not match.rule.fallback for match in found_matches)
    if not known and finding.kind == FindingKind.TEXT and named and not finding.codes:
        known = len(named) == len(finding.aadsts)  # bare AADSTS codes the table names
    matches = [_match(match) for match in found_matches[:MAX_MATCHES]]
    # The best answer decides: a harmless notice stays harmless even if a code it carries
    # also has a general entry further down.
    harmless = bool(matches) and matches[0]["category"] == _BENIGN
    return _result(_found(finding, named), [], matches, known, harmless)


def _explain_number(number: int, label: str | None, catalog: Catalog) -> dict[str, Any]:
    """Every reading of a number the user did not qualify, or the one they asked for."""
    kind = (label or "").lower()[:5]  # "event", "reaso", "error" or ""
    events = catalog.tables.events_with_id(number) if kind in ("", "event") else ()
    matches: list[dict[str, Any]] = []
    reason_finding: Finding | None = None
    if kind in ("", "reaso") and number >= 0:
        reason_finding = _reason_finding(number)
        for match in catalog.match(reason_finding):
            # A fallback ("reason code not in the catalog") only answers an explicit question.
            if not match.rule.fallback or kind == "reaso":
                matches.append(_match(match))
    if kind in ("", "error"):
        matches += [_entry(entry, "high") for entry in catalog.by_error_code(number)]
    known = bool(events) or any(match["confidence"] != "low" for match in matches)
    found: dict[str, Any] = {"kind": "number", "number": number}
    if reason_finding is not None and kind == "reaso":
        found["reason_code"] = number
    # Several readings of one number: harmless only when every one of them is.
    harmless = bool(matches) and not events and all(m["category"] == _BENIGN for m in matches)
    shown = matches[: 2 * MAX_MATCHES]
    return _result(found, [_event(event, catalog) for event in events], shown, known, harmless)


def _reason_finding(code: int) -> Finding:
    # Pasted as NPS prints it, so the extractor decides denied (any code) or granted (0).
    return finding_from_text(f"Reason Code: {code}")


def _result(
    found: dict[str, Any],
    events: list[dict[str, Any]],
    matches: list[dict[str, Any]],
    known: bool,
    harmless: bool,
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "known": known,
        "harmless": harmless,
        "found": found,
        "events": events,
        "matches": matches,
    }


def _found(finding: Finding, named: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "recognised_as": _recognised_as(finding),
        "codes": list(finding.codes),
        "cid": finding.cid,
        "user": finding.user,
        "state": finding.state,
        "aadsts": list(finding.aadsts),
        "aadsts_names": named,
        "trace_id": finding.trace_id,
        "correlation_id": finding.correlation_id,
        "response_state": finding.response_state,
        "reason_code": finding.reason_code,
        "error_code": finding.error_code,
    }


def _recognised_as(finding: Finding) -> str:
    for prefix, description in _RECOGNISED_AS:
        if finding.kind.startswith(prefix):
            return description
    if finding.detail is None and (finding.codes or finding.aadsts):
        # Code-shaped words alone: nothing says which product logged them.
        return "a code, without the message around it"
    return "text that is none of the events npsdiag reads"


def _aadsts_names(finding: Finding, catalog: Catalog) -> dict[str, str]:
    named: dict[str, str] = {}
    for code in finding.aadsts:
        row = catalog.tables.aadsts(code)
        if row is not None:
            named[code] = f"{row.describe()} ({row.lookup})"
    return named


def _match(match: Match) -> dict[str, Any]:
    rule = match.rule
    if rule.fallback:
        confidence = "low"
    elif (
        rule.code
        or rule.aadsts
        or rule.message
        or rule.reason_code is not None
        or rule.error_code is not None
    ):
        confidence = "high"
    else:
        confidence = "medium"
    return _entry(match.entry, confidence)


def _entry(entry: CatalogEntry, confidence: str) -> dict[str, Any]:
    return {
        "id": entry.id,
        "title": entry.title,
        "category": entry.category,
        "severity": entry.severity,
        "confidence": confidence,
        "cause": " ".join(entry.cause.split()),
        "steps": list(entry.steps),
        "step_kinds": list(entry.step_kinds),
        "collect": list(entry.collect),
        "references": list(entry.references),
    }


def _event(event: KnownEvent, catalog: Catalog) -> dict[str, Any]:
    entries = []
    for entry_id in event.entries:
        entry = catalog.find(entry_id)
        entries.append({"id": entry_id, "title": entry.title if entry is not None else None})
    return {
        "event_id": event.event_id,
        "log": event.log,
        "source": event.source,
        "what": event.what,
        "entries": entries,
        "hint": event.hint,
    }
