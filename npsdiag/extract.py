"""Event -> Finding: what one event says, whatever layout the export gave it.

Pure functions only: no I/O, no module state that changes, patterns compiled once in
:mod:`npsdiag._patterns`. Four families of events are understood:

* messages of the NPS extension for Microsoft Entra MFA (channels AuthNOptCh, AuthZOptCh,
  AuthZAdminCh; providers ``Microsoft-AzureMfa-*``), read from their text whatever way the text
  was stored (one or several unnamed ``Data``, named ``Data``, ``UserData`` leaves, a rendered
  message);
* NPS's own Security events 6272-6280, read from their named fields, or from the rendered text
  when only a text dump exists;
* the System events that explain requests never reaching the extension (NPS 13, 17, 18,
  4400-4402; Schannel 36871);
* the RADIUS client's side of the same attempts: RD Gateway operational events, the Windows
  VPN client's RasClient errors and the RRAS server's RemoteAccess errors
  (:mod:`npsdiag.extract_client`).

Pasted text that is none of these becomes a finding of kind ``text``, so the catalog can still
recognise script output or a gateway's log line by its wording.

docs/extraction.md lists every message shape with an example of what comes out of it.

References:
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension-errors
    - https://learn.microsoft.com/windows/security/threat-protection/auditing/audit-network-policy-server
    - https://learn.microsoft.com/troubleshoot/windows-server/networking/troubleshoot-network-policy-server
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone

from npsdiag import _patterns as pat
from npsdiag._names import EMPTY_VALUES as _EMPTY_VALUES
from npsdiag._names import QUOTES as _QUOTES
from npsdiag._names import user_key
from npsdiag.extract_client import (
    CLIENT_EVENT_IDS,
    RDG,
    RRAS,
    VPN,
    client_family,
    client_finding,
    sniff_client,
)
from npsdiag.model import Event, Finding, FindingKind

__all__ = ["extract", "finding_from_text", "is_relevant", "user_key"]

#: Details longer than this are cut (the full text stays on ``Finding.event``); real extension
#: messages are well under 2 KB, so only hostile or corrupt input is affected.
DETAIL_MAX_CHARS = 4000

#: Time given to the synthetic event of pasted text, so its findings stay deterministic.
PASTED_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
PASTED_ORIGIN = "<pasted>"

_EXTENSION = "extension"
#: The client-side families of :mod:`npsdiag.extract_client`.
_CLIENT_FAMILIES = frozenset({RDG, VPN, RRAS})
_NPS = "nps"
_SYSTEM = "system"
_TLS = "tls"

_LEADING_LABELS_MAX = 8


# ---------------------------------------------------------------------------------------------
# Relevance
# ---------------------------------------------------------------------------------------------


def is_relevant(channel: str, provider: str, event_id: int) -> bool:
    """Tell a reader whether a record is worth decoding in full.

    Cheap by design (set lookups on lower-cased names, no regex), because readers call it for
    every record of a Security or System log, where almost nothing is relevant.

    Args:
        channel: ``System/Channel``; tree-style names (``Microsoft-AzureMfa-AuthZ/AuthZAdminCh``)
            are accepted.
        provider: ``System/Provider/@Name``.
        event_id: ``System/EventID`` without qualifiers.

    Returns:
        True for extension channels and providers, Security 6272-6280 from
        Microsoft-Windows-Security-Auditing, System 13/17/18/4400-4402 from NPS or IAS,
        Schannel 36871, RD Gateway 200-304 and 312, RasClient 20221/20227 and RemoteAccess
        20225/20255/20271.
    """
    return _source_family(channel, provider, event_id) is not None


def _source_family(channel: str, provider: str, event_id: int) -> str | None:
    provider_key = provider.lower()
    if event_id in pat.NPS_SECURITY_IDS and (
        provider_key == pat.SECURITY_AUDITING_PROVIDER
        # A text dump may lose the provider but keep "Log Name: Security"; these ids are
        # unambiguous in that log.
        or (not provider_key and channel.lower() == "security")
    ):
        return _NPS
    if event_id in pat.NPS_SYSTEM_IDS and provider_key in pat.NPS_SYSTEM_PROVIDERS:
        return _SYSTEM
    if event_id == pat.SCHANNEL_TLS_ID and provider_key in pat.SCHANNEL_PROVIDERS:
        return _TLS
    if event_id in CLIENT_EVENT_IDS:
        # The RADIUS client's own logs: RD Gateway, Windows VPN client, RRAS.
        client = client_family(channel, provider, event_id)
        if client is not None:
            return client
    if (
        provider_key.startswith(pat.EXTENSION_PROVIDER_PREFIX)
        or provider_key in pat.EXTENSION_PROVIDERS_SHORT
    ):
        return _EXTENSION
    if channel:
        leaf = channel.replace("\\", "/").rpartition("/")[2].lower()
        if leaf in pat.EXTENSION_CHANNELS:
            return _EXTENSION
    return None


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def extract(event: Event) -> Finding | None:
    """Pull the evidence out of one event.

    Args:
        event: any event; irrelevant ones are answered with None.

    Returns:
        A Finding, or None when the event is neither an extension message, nor an NPS Security
        event, nor one of the relevant System or client-side events (a RasClient event that
        reports no failure is None too). An event from an extension channel or provider always
        yields a Finding (kind ``ext.other`` when the message is not recognised), so nothing the
        extension logged is dropped.
    """
    family = _source_family(event.channel, event.provider, event.event_id)
    if family == _NPS:
        return _nps_finding(event, _nps_kind_for_id(event.event_id))
    if family == _SYSTEM:
        return _system_finding(event, _system_kind_for_id(event.event_id))
    if family == _TLS:
        return _system_finding(event, FindingKind.SYS_TLS)
    if family in _CLIENT_FAMILIES:
        return client_finding(event, family)
    text = _extension_text(event)
    if family == _EXTENSION or pat.EXTENSION_STRONG_MARKER.search(text):
        return _extension_finding(event, text)
    if not event.provider:
        # Untyped text (pasted, or a dump that lost its header): recognise extension, NPS and
        # System events by their wording alone.
        if pat.EXTENSION_MARKER.search(text):
            return _extension_finding(event, text)
        return _sniff_untyped(event)
    return None


def finding_from_text(text: str) -> Finding:
    """Extract from text the user pasted (``npsdiag explain``).

    The text is wrapped in a synthetic event (no channel, no provider, event id 0, origin
    ``<pasted>``) and extracted like any other. A bare word such as ``ESTS_TOKEN_ERROR`` or
    ``UserNotFound`` becomes a finding with that code; ``AADSTS7000112`` fills ``aadsts``; a bare
    number is taken as an NPS reason code.

    Args:
        text: a message, a rendered event, or a code.

    Returns:
        Always a Finding; kind ``text`` when the text is not recognised as an event of any
        family (a bare code included: nothing says the extension logged it).
    """
    event = Event(
        time=PASTED_TIME,
        channel="",
        provider="",
        event_id=0,
        level=None,
        computer="",
        record_id=None,
        fields={},
        data=(),
        message=text,
        origin=PASTED_ORIGIN,
    )
    finding = extract(event)
    codes, aadsts, reason_code = _bare_words(text.strip())
    if finding is None:
        if reason_code is not None and not codes and not aadsts:
            kind = FindingKind.NPS_GRANTED if reason_code == 0 else FindingKind.NPS_DENIED
            return Finding(event=event, kind=kind, reason_code=reason_code)
        return Finding(
            event=event,
            kind=FindingKind.TEXT,
            codes=codes,
            aadsts=aadsts,
            detail=None if codes or aadsts else _clean_detail(text),
        )
    if finding.kind.startswith("ext.") and not finding.codes and codes:
        # "IP_WHITE_LIST_WARNING" typed alone is recognised as a notice by its wording, but
        # the word itself is still the code the user asked about (and not a detail).
        return dataclasses.replace(
            finding, codes=codes, aadsts=finding.aadsts or aadsts, detail=None
        )
    return finding


# ---------------------------------------------------------------------------------------------
# Extension messages
# ---------------------------------------------------------------------------------------------


def _extension_text(event: Event) -> str:
    """The text to read: the first layout that carries extension wording, else Event.text.

    A rendered message can be a generic "description cannot be found" while the unnamed data
    holds the real text, so each layout is tried before falling back.
    """
    if not event.message and not event.fields:
        # Only the unnamed data can hold text (the .evtx layout of every extension message):
        # whether or not it carries the wording, it is Event.text.
        data = event.data
        if len(data) == 1:
            return data[0]
        return "\n".join(value for value in data if value)
    candidates = (
        event.message or "",
        "\n".join(value for value in event.data if value),
        "\n".join(value for value in event.fields.values() if value),
    )
    for candidate in candidates:
        if candidate and pat.EXTENSION_MARKER.search(candidate):
            return candidate
    return event.text


def _extension_finding(event: Event, text: str) -> Finding:
    known = pat.KNOWN_MESSAGE.fullmatch(text)
    if known is not None and pat.AADSTS_START not in text:
        return _known_finding(event, known)
    return _parsed_finding(event, text)


def _parsed_finding(event: Event, text: str) -> Finding:
    """The general rules: every field read by its own pattern (docs/extraction.md)."""
    # Every field below has its own pattern, and most are absent from any one message, so
    # each search is guarded by literal tests on the lower-cased text (a few nanoseconds)
    # and starts where its match could first begin; see _lowered for why this is exact.
    low = _lowered(text)
    detail_match = _guarded_search(pat.DETAIL_START, pat.DETAIL_START_GUARD, text, low)
    if detail_match:
        cut = detail_match.start()
        header = text[:cut]
        header_low = low[:cut] if low is not None else None
    else:
        header, header_low = text, low
    kind = _extension_kind(text, low)
    if detail_match:
        body: int | None = detail_match.end()
    elif kind in (FindingKind.NOTICE, FindingKind.EXT_OTHER):
        body = _leading_labels_end(text)
    else:
        body = None
    detail = None
    if body is not None:
        detail = _clean_detail(text[body:], low[body:] if low is not None else None)
    user = _extension_user(header, header_low)
    return Finding(
        event=event,
        kind=kind,
        codes=_codes(text, low),
        cid=_guarded_group(pat.CID, pat.CID_GUARD, text, low),
        user=user,
        user_key=user_key(user),
        state=_guarded_group(pat.STATE, pat.STATE_GUARD, header, header_low),
        aadsts=_aadsts(text),
        trace_id=_guarded_group(pat.TRACE_ID, pat.TRACE_ID_GUARD, text, low),
        correlation_id=_guarded_group(pat.CORRELATION_ID, pat.CORRELATION_ID_GUARD, text, low),
        detail=detail,
        response_state=_response_state(header, header_low),
    )


def _known_finding(event: Event, known: re.Match[str]) -> Finding:
    """The Finding of a message in one of the exact shapes of ``pat.KNOWN_MESSAGE``.

    Why it equals what the general rules give: the user name has no whitespace, colon,
    quote, comma or semicolon, and the text has no "AADSTS". Every pattern that reads a
    field needs whitespace or a colon somewhere in its match (CID, state, response state,
    trace and correlation ids, the four code positions, Msg/message, the user anchor, the
    help-link sentence, and every kind but the IP_WHITE_LIST_WARNING notice), so none can
    match inside the name, nor across its ends (a space and a fixed word follow it, the
    fixed text before it ends in a space). So each pattern finds what the fixed text holds:

    * kind: the first kind rule to match the fixed text ("Challenge requested", "Access
      Accepted for user", "only performs Secondary Auth"); the notice rule comes last, so a
      name spelling IP_WHITE_LIST_WARNING changes nothing. Neither "AccessAccept" nor
      "AccessReject" is "Access Rejected/Accepted" (no space), and "AccessChallenge" has no
      word boundary before "Challenge".
    * user: the one anchor is "for User "/"for user " (no "for ... user" elsewhere); USER
      then stops at the first place followed by whitespace and "with", the end of the name,
      which needs no stripping.
    * cid: the first "CID:", the fixed one, followed by a space; state: "with state" then a
      GUID at the end of the text; response_state: "response state X," (canonical already).
    * codes: only "Azure MFA response: Success" of the accepted message is a code position
      ("Azure MFA:" and "with response state" are not); detail: the accepted message's text
      after "and message:", "Success"; the others have no Msg/message marker and are not
      notices, so no detail.
    * aadsts, trace and correlation ids: none (no "AADSTS"; no "Trace ID:" or
      "Correlation ID:" in the fixed text).
    """
    cid, challenge_user, state, accepted_user, ignored_user, response_state = known.groups()
    if challenge_user is not None:
        kind, user = FindingKind.CHALLENGE, challenge_user
    elif accepted_user is not None:
        kind, user = FindingKind.ACCEPTED, accepted_user
    else:
        kind, user = FindingKind.IGNORED, ignored_user
    accepted = kind == FindingKind.ACCEPTED
    return Finding(
        event=event,
        kind=kind,
        codes=_SUCCESS_CODES if accepted else (),
        cid=cid.lower() if cid is not None else None,
        user=user,
        user_key=user_key(user),
        state=state.lower() if state is not None else None,
        detail="Success" if accepted else None,
        response_state=response_state,
    )


_SUCCESS_CODES = ("Success",)


#: Characters that Python's case-insensitive matching equates with an ASCII letter although
#: lower-casing does not turn them into it, or turns them into two characters: İ ı ſ K.
_FOLD_TRAPS = ("\u0130", "\u0131", "\u017f", "\u212a")


def _lowered(text: str) -> str | None:
    """``text.lower()`` when literal tests on it stand exactly for the patterns, else None.

    In a text without the four characters of ``_FOLD_TRAPS`` (checked by enumerating every
    code point), a case-insensitive pattern's ASCII letter matches a character exactly when
    that character lower-cases to the letter, and lower-casing maps each character to one,
    so indexes stay the same. A literal found (or not) in the lowered text is then found
    (or not) by the pattern at the same place. With a trap inside, None: search in full.
    """
    if not text.isascii():
        for trap in _FOLD_TRAPS:
            if trap in text:
                return None
    return text.lower()


#: Places a guarded pattern is tried at, one by one, before the rest of the text is left to
#: the regex engine: a text with many false starts then costs one pass, not one call each.
_GUARDED_TRIES = 4


def _guarded_start(guard: pat.Guard, low: str, position: int = 0) -> int:
    """The first place at or after ``position`` where a match guarded by ``guard`` could
    begin in ``low``, or -1 for nowhere."""
    starts = guard.starts
    start = (
        low.find(starts[0], position) if len(starts) == 1 else _next_start(starts, low, position)
    )
    if start < 0:
        return -1
    for group in guard.needs:
        for literal in group:
            if literal in low:
                break
        else:
            return -1
    return start


def _next_start(starts: tuple[str, ...], low: str, position: int) -> int:
    if len(starts) == 1:
        return low.find(starts[0], position)
    start = -1
    for literal in starts:
        at = low.find(literal, position)
        if at >= 0 and (start < 0 or at < start):
            start = at
    return start


def _guarded_search(
    pattern: re.Pattern[str], guard: pat.Guard, text: str, low: str | None
) -> re.Match[str] | None:
    """``pattern.search(text)``, tried only where the guard says a match could begin.

    A match can begin only where one of ``guard.starts`` occurs, so trying ``match`` at each
    such place in order finds the leftmost match, the one ``search`` finds; ``\\b`` and
    look-behinds see the characters before the place as they do in a search.
    """
    if low is None:
        return pattern.search(text)
    starts = guard.starts
    if len(starts) > 1:
        return _guarded_search_any(pattern, guard, text, low)
    # One start literal (most guards): the same steps as below, without the merging.
    literal = starts[0]
    at = low.find(literal)
    if at < 0:
        return None
    for group in guard.needs:
        for needed in group:
            if needed in low:
                break
        else:
            return None
    for _ in range(_GUARDED_TRIES):
        match = pattern.match(text, at)
        if match is not None:
            return match
        at = low.find(literal, at + 1)
        if at < 0:
            return None
    return pattern.search(text, at)


def _guarded_search_any(
    pattern: re.Pattern[str], guard: pat.Guard, text: str, low: str
) -> re.Match[str] | None:
    at = _guarded_start(guard, low)
    tries = 0
    while at >= 0:
        match = pattern.match(text, at)
        if match is not None:
            return match
        tries += 1
        if tries == _GUARDED_TRIES:
            return pattern.search(text, at + 1)
        at = _next_start(guard.starts, low, at + 1)
    return None


def _guarded_finditer(
    pattern: re.Pattern[str], guard: pat.Guard, text: str, low: str | None
) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern that never matches empty, tried as above.

    After a match, the next one is the leftmost that begins at or after its end.
    """
    if low is None:
        yield from pattern.finditer(text)
        return
    at = _guarded_start(guard, low)
    tries = 0
    while at >= 0:
        match = pattern.match(text, at)
        if match is not None:
            yield match
            at = _next_start(guard.starts, low, match.end())
            continue
        tries += 1
        if tries == _GUARDED_TRIES:
            yield from pattern.finditer(text, at + 1)
            return
        at = _next_start(guard.starts, low, at + 1)


def _guarded_group(
    pattern: re.Pattern[str], guard: pat.Guard, text: str, low: str | None
) -> str | None:
    match = _guarded_search(pattern, guard, text, low)
    return match.group(1).lower() if match else None


_KIND_RULES = (
    (pat.KIND_EXCEPTION, pat.KIND_EXCEPTION_GUARD, FindingKind.EXCEPTION),
    (pat.KIND_REJECTED, pat.KIND_REJECTED_GUARD, FindingKind.REJECTED),
    (pat.KIND_ACCEPTED, pat.KIND_ACCEPTED_GUARD, FindingKind.ACCEPTED),
    (pat.KIND_CHALLENGE, pat.KIND_CHALLENGE_GUARD, FindingKind.CHALLENGE),
    (pat.KIND_IGNORED, pat.KIND_IGNORED_GUARD, FindingKind.IGNORED),
    (pat.KIND_NOTICE, pat.KIND_NOTICE_GUARD, FindingKind.NOTICE),
)


def _extension_kind(text: str, low: str | None) -> str:
    for pattern, guard, kind in _KIND_RULES:
        if _guarded_search(pattern, guard, text, low):
            return kind
    return FindingKind.EXT_OTHER


def _codes(text: str, low: str | None) -> tuple[str, ...]:
    """Every code in a code position, in text order, each once; unknown codes included."""
    found: list[tuple[int, str]] = []
    _add_codes(
        _guarded_finditer(pat.CODE_AFTER_ERRORCODE, pat.CODE_AFTER_ERRORCODE_GUARD, text, low),
        found,
    )
    _add_codes(
        _guarded_finditer(pat.CODE_AFTER_RESPONSE, pat.CODE_AFTER_RESPONSE_GUARD, text, low),
        found,
    )
    # The other two are case-sensitive, so their literals are tested on the text itself: both
    # end in "::" after an UPPER_SNAKE code (which holds "_"), one with "Msg" before the "::".
    if "::" in text and "_" in text:
        if "Msg" in text:
            _add_codes(pat.CODE_BEFORE_MSG.finditer(text), found)
        _add_codes(pat.CODE_LABEL.finditer(text), found)
    if not found:
        return ()
    found.sort()
    return _unique(code for _, code in found)


def _add_codes(matches: Iterable[re.Match[str]], found: list[tuple[int, str]]) -> None:
    for match in matches:
        code = match.group(1)
        if code.lower() not in pat.NOT_CODES:
            found.append((match.start(1), code))


def _aadsts(text: str) -> tuple[str, ...]:
    start = text.find(pat.AADSTS_START)  # the pattern is case-sensitive and begins with it
    if start < 0:
        return ()
    return _unique(match.group(0) for match in pat.AADSTS.finditer(text, start))


def _extension_user(header: str, low: str | None) -> str | None:
    # Only the part before "Msg::" / "and message:" is searched: the free text after it can say
    # "... for the user" about something else.
    anchors: list[int] = []
    # Names followed by "::" or "with" first, at every anchor in turn; the anchors are found
    # as they are needed, since the first usually gives the name.
    found = itertools.islice(
        _guarded_finditer(pat.USER_ANCHOR, pat.USER_ANCHOR_GUARD, header, low),
        pat.USER_ANCHOR_LIMIT,
    )
    for anchor in found:
        anchors.append(anchor.end())
        name = _user_at(pat.USER, header, anchor.end())
        if name:
            return name
    for start in anchors:
        name = _user_at(pat.USER_TOKEN, header, start)
        if name:
            return name
    return None


def _user_at(pattern: re.Pattern[str], header: str, start: int) -> str | None:
    match = pattern.match(header, start)
    if match is None:
        return None
    name = match.group(1).strip().strip(_QUOTES).strip()
    if pattern is pat.USER_TOKEN:
        name = name.rstrip(".")
    return name


def _response_state(header: str, low: str | None) -> str | None:
    match = _guarded_search(pat.RESPONSE_STATE, pat.RESPONSE_STATE_GUARD, header, low)
    if match is None:
        return None
    value = match.group(1)
    return pat.RESPONSE_STATES.get(value.lower(), value)


def _leading_labels_end(text: str) -> int:
    """Where the text starts after ``NPS Extension for Azure MFA:``, ``CID: ... :`` and
    ``CODE::`` at its start.

    Real messages carry at most three such labels (a doubled prefix, then the CID); the cap
    keeps a text made of nothing but labels from costing a loop turn per label.
    """
    position = 0
    for _ in range(_LEADING_LABELS_MAX):
        match = (
            pat.LEADING_PREFIX.match(text, position)
            or pat.LEADING_CID.match(text, position)
            or pat.LEADING_CODE_LABEL.match(text, position)
        )
        if match is None or match.end() == position:
            break
        position = match.end()
    return position


def _clean_detail(raw: str, low: str | None = None) -> str | None:
    """``raw`` trimmed, without help-link sentences, cut to DETAIL_MAX_CHARS.

    ``low`` is ``raw`` lowered by :func:`_lowered`, when the caller has it: the sentences are
    then looked for only where the guard allows.
    """
    if low is None:
        detail = pat.BOILERPLATE.sub("", raw)
    else:
        # What sub("", raw) gives, for a pattern that never matches empty.
        kept: list[str] = []
        position = 0
        for match in _guarded_finditer(pat.BOILERPLATE, pat.BOILERPLATE_GUARD, raw, low):
            kept.append(raw[position : match.start()])
            position = match.end()
        detail = "".join(kept) + raw[position:] if kept else raw
    detail = detail.strip()
    if not detail:
        return None
    if len(detail) > DETAIL_MAX_CHARS:
        return detail[:DETAIL_MAX_CHARS].rstrip() + " …"
    return detail


# ---------------------------------------------------------------------------------------------
# NPS Security events 6272-6280
# ---------------------------------------------------------------------------------------------

#: Position of each field in the unnamed-Data layout, from the 6272/6274 templates (%1..%17)
#: and the 6273 XML order; only used when an export lost the field names.
_NPS_POSITIONS = {
    "SubjectUserName": 1,
    "SubjectDomainName": 2,
    "FullyQualifiedSubjectUserName": 3,
    "NASIPv4Address": 10,
    "NASIPv6Address": 11,
    "ClientName": 15,
    "ClientIPAddress": 16,
}
#: 6273 and 6274 continue with ReasonCode (%25) and Reason (%26); 6272's %25 is not a reason.
_NPS_REASON_POSITIONS = {"ReasonCode": 24, "Reason": 25}
_NPS_REASON_IDS = frozenset({6273, 6274})

_NPS_WANTED = (
    "FullyQualifiedSubjectUserName",
    "SubjectUserName",
    "SubjectDomainName",
    "NASIPv4Address",
    "NASIPv6Address",
    "ClientName",
    "ClientIPAddress",
    "ReasonCode",
    "Reason",
)


def _nps_kind_for_id(event_id: int) -> str:
    if event_id == 6272:
        return FindingKind.NPS_GRANTED
    if event_id == 6273:
        return FindingKind.NPS_DENIED
    if event_id == 6274:
        return FindingKind.NPS_DISCARDED
    return FindingKind.NPS_OTHER


def _nps_finding(event: Event, kind: str) -> Finding:
    values = _nps_values(event)
    user = _nps_user(values)
    key = user_key(user)
    return Finding(
        event=event,
        kind=kind,
        user=user,
        user_key=key,
        user_aliases=_nps_aliases(values, key),
        reason_code=_parse_int(values.get("ReasonCode")),
        client_ip=values.get("ClientIPAddress"),
        client_name=values.get("ClientName"),
        nas_ip=values.get("NASIPv4Address") or values.get("NASIPv6Address"),
        detail=_clean_detail(values.get("Reason", "")),
    )


def _nps_values(event: Event) -> dict[str, str]:
    """The wanted fields, from named data first, then positions, then the rendered text."""
    fields = event.fields
    values: dict[str, str] = {}
    for name, key in _wanted_keys(fields):
        value = _meaningful(fields[key])
        if value is not None:
            values[name] = value
    if not event.fields and event.data:
        positions = dict(_NPS_POSITIONS)
        if event.event_id in _NPS_REASON_IDS:
            positions.update(_NPS_REASON_POSITIONS)
        for name, index in positions.items():
            if index < len(event.data):
                value = _meaningful(event.data[index])
                if value is not None:
                    values.setdefault(name, value)
    # The joined values of named fields carry no labels, so only a rendered message (or text
    # standing in for one) is worth reading for what the fields did not give.
    if (event.message or not event.fields) and any(name not in values for name in _NPS_WANTED):
        for name, value in _nps_text_values(event.text).items():
            values.setdefault(name, value)
    return values


#: Which field key gives each wanted value, per layout (the field names in order). Every
#: 6272/6273 of one Windows build has the same names, so this is worked out once per layout.
_WANTED_KEYS: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
#: Layouts kept; odd exports could bring many, so the memo starts over when full.
_MAX_LAYOUTS = 256


def _wanted_keys(fields: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """``(wanted name, field key)`` pairs, in ``_NPS_WANTED`` order, for the fields present.

    Names are matched ignoring case and any path a reader put before a UserData leaf; when
    two keys give the same name, the first one wins.
    """
    layout = tuple(fields)
    found = _WANTED_KEYS.get(layout)
    if found is None:
        first_key: dict[str, str] = {}
        for key in layout:
            leaf = key
            # Most names carry no path: the split (a regex call) is done only when it can cut.
            if "/" in key or "." in key or ":" in key:
                leaf = pat.FIELD_PATH_SEPARATORS.split(key)[-1]
            first_key.setdefault(leaf.lower(), key)
        found = tuple(
            (name, first_key[name.lower()]) for name in _NPS_WANTED if name.lower() in first_key
        )
        if len(_WANTED_KEYS) >= _MAX_LAYOUTS:
            _WANTED_KEYS.clear()
        _WANTED_KEYS[layout] = found
    return found


def _nps_text_values(text: str) -> dict[str, str]:
    """Read a rendered 6272-6280 (``Account Name: ...`` lines) into EventData names."""
    labels = list(pat.NPS_TEXT_LABEL.finditer(text))
    values: dict[str, str] = {}
    section: str | None = None
    for index, match in enumerate(labels):
        label = " ".join(match.group(1).split())
        if label in pat.NPS_TEXT_SECTIONS:
            section = label
        target = pat.NPS_TEXT_FIELDS.get(label)
        if target is None:
            continue
        name, user_section_only = target
        if user_section_only and section not in (None, "User"):
            continue
        end = labels[index + 1].start() if index + 1 < len(labels) else len(text)
        lines = text[match.end() : end].strip().splitlines()
        value = _meaningful(lines[0] if lines else None)
        if value is not None:
            values.setdefault(name, value)
    return values


def _nps_user(values: Mapping[str, str]) -> str | None:
    qualified = values.get("FullyQualifiedSubjectUserName")
    if qualified:
        return qualified
    name = values.get("SubjectUserName")
    domain = values.get("SubjectDomainName")
    if name and domain and "\\" not in name and "@" not in name:
        return f"{domain}\\{name}"
    return name


def _nps_aliases(values: Mapping[str, str], primary: str | None) -> tuple[str, ...]:
    """Other keys of the same person: NPS names the user as sent and as it resolved it.

    A request sent as ``alice.smith@contoso.com`` resolves to ``CONTOSO\\asmith``; the extension
    logs the UPN, so the key of the name as sent is what joins the two.
    """
    keys = (user_key(values.get(name)) for name in ("SubjectUserName",))
    return tuple(key for key in dict.fromkeys(keys) if key is not None and key != primary)


def _meaningful(value: str | None) -> str | None:
    """A trimmed value, or None for NPS's "nothing" markers (``-``, ``NULL SID``, empty)."""
    if value is None:
        return None
    value = value.strip()
    if value.lower() in _EMPTY_VALUES:
        return None
    return value


def _parse_int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    try:
        if value.lower().startswith("0x"):
            return int(value, 16)
        return int(value, 10)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# System events
# ---------------------------------------------------------------------------------------------


def _system_kind_for_id(event_id: int) -> str:
    if event_id in pat.NPS_UNKNOWN_CLIENT_IDS:
        return FindingKind.SYS_UNKNOWN_CLIENT
    if event_id in pat.NPS_AUTHENTICATOR_IDS:
        return FindingKind.SYS_AUTHENTICATOR
    return FindingKind.SYS_DOMAIN_CONTROLLER


def _system_finding(event: Event, kind: str) -> Finding:
    text = event.text
    client_ip = None
    if kind in (FindingKind.SYS_UNKNOWN_CLIENT, FindingKind.SYS_AUTHENTICATOR):
        client_ip = _client_address(text)
    return Finding(event=event, kind=kind, client_ip=client_ip, detail=_clean_detail(text))


def _client_address(text: str) -> str | None:
    """The RADIUS client's address: the one after "RADIUS client", else the first in the text.

    The fallback covers exports that carry only the insertion strings (the address alone).
    """
    labelled = pat.RADIUS_CLIENT_ADDRESS.search(text)
    if labelled:
        address = _valid_address(labelled.group(1).rstrip("."))
        if address:
            return address
    earliest: tuple[int, str] | None = None
    for pattern in (pat.IPV4, pat.IPV6):
        for match in pattern.finditer(text):
            address = _valid_address(match.group(0))
            if address:
                if earliest is None or match.start() < earliest[0]:
                    earliest = (match.start(), address)
                break
    return earliest[1] if earliest else None


def _valid_address(candidate: str) -> str | None:
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Untyped and pasted text
# ---------------------------------------------------------------------------------------------


def _sniff_untyped(event: Event) -> Finding | None:
    text = event.text
    if pat.NPS_DISCARDED_TEXT.search(text):
        return _nps_finding(event, FindingKind.NPS_DISCARDED)
    if pat.NPS_DENIED_TEXT.search(text):
        return _nps_finding(event, FindingKind.NPS_DENIED)
    if pat.NPS_GRANTED_TEXT.search(text):
        return _nps_finding(event, FindingKind.NPS_GRANTED)
    if pat.NPS_OTHER_TEXT.search(text):
        return _nps_finding(event, FindingKind.NPS_OTHER)
    if pat.NPS_REASON_CODE_TEXT.search(text):
        finding = _nps_finding(event, FindingKind.NPS_DENIED)
        return _reason_code_guess(finding)
    for pattern, kind in (
        (pat.SYS_UNKNOWN_CLIENT_TEXT, FindingKind.SYS_UNKNOWN_CLIENT),
        (pat.SYS_AUTHENTICATOR_TEXT, FindingKind.SYS_AUTHENTICATOR),
        (pat.SYS_DOMAIN_CONTROLLER_TEXT, FindingKind.SYS_DOMAIN_CONTROLLER),
        (pat.SYS_TLS_TEXT, FindingKind.SYS_TLS),
    ):
        if pattern.search(text):
            return _system_finding(event, kind)
    return sniff_client(event)


def _reason_code_guess(finding: Finding) -> Finding:
    """Without a headline, reason code 0 reads as granted and any other as denied (best guess)."""
    if finding.reason_code == 0:
        return dataclasses.replace(finding, kind=FindingKind.NPS_GRANTED)
    return finding


def _bare_words(text: str) -> tuple[tuple[str, ...], tuple[str, ...], int | None]:
    """Codes typed on their own: one word of any shape, or a list of code-shaped words.

    Prose is not mined for codes: as soon as one word is not code-shaped, nothing is returned,
    so ``missing NAS Identifier and Nas IpAddress`` does not turn ``IpAddress`` into a code.

    Returns:
        The codes, the AADSTS codes and the first bare number (a reason code), in text order.
    """
    nothing: tuple[tuple[str, ...], tuple[str, ...], int | None] = ((), (), None)
    if len(text) > 1024:
        return nothing
    words = [word.strip(_QUOTES + "()[]") for word in pat.WORD_SEPARATORS.split(text)]
    words = [word for word in words if word]
    single = len(words) == 1
    codes: list[str] = []
    aadsts: list[str] = []
    reason_code: int | None = None
    for word in words:
        if pat.BARE_AADSTS.fullmatch(word):
            aadsts.append(word)
        elif pat.BARE_NUMBER.fullmatch(word):
            if reason_code is None:
                reason_code = int(word)
        elif pat.CODE_SHAPE.fullmatch(word) or (single and pat.BARE_TOKEN.fullmatch(word)):
            codes.append(word)
        else:
            return nothing
    return _unique(codes), _unique(aadsts), reason_code


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
