"""Event -> Finding: what one event says, whatever layout the export gave it.

Pure functions only: no I/O, no module state that changes, patterns compiled once in
:mod:`npsdiag._patterns`. Three families of events are understood:

* messages of the NPS extension for Microsoft Entra MFA (channels AuthNOptCh, AuthZOptCh,
  AuthZAdminCh; providers ``Microsoft-AzureMfa-*``), read from their text whatever way the text
  was stored (one or several unnamed ``Data``, named ``Data``, ``UserData`` leaves, a rendered
  message);
* NPS's own Security events 6272-6280, read from their named fields, or from the rendered text
  when only a text dump exists;
* the System events that explain requests never reaching the extension (NPS 13, 17, 18,
  4400-4402; Schannel 36871).

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
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from npsdiag import _patterns as pat
from npsdiag.model import Event, Finding, FindingKind

__all__ = ["extract", "finding_from_text", "is_relevant", "user_key"]

#: Details longer than this are cut (the full text stays on ``Finding.event``); real extension
#: messages are well under 2 KB, so only hostile or corrupt input is affected.
DETAIL_MAX_CHARS = 4000

#: Time given to the synthetic event of pasted text, so its findings stay deterministic.
PASTED_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
PASTED_ORIGIN = "<pasted>"

_EXTENSION = "extension"
_NPS = "nps"
_SYSTEM = "system"
_TLS = "tls"

_QUOTES = "'\"`"
_LEADING_LABELS_MAX = 8
#: Values NPS writes for "nothing" in Security events, plus the mask of an absent user name.
_EMPTY_VALUES = frozenset({"", "-", "n/a", "null sid"})


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
        Microsoft-Windows-Security-Auditing, System 13/17/18/4400-4402 from NPS or IAS, and
        Schannel 36871.
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
        event, nor one of the relevant System events. An event from an extension channel or
        provider always yields a Finding (kind ``ext.other`` when the message is not
        recognised), so nothing the extension logged is dropped.
    """
    family = _source_family(event.channel, event.provider, event.event_id)
    if family == _NPS:
        return _nps_finding(event, _nps_kind_for_id(event.event_id))
    if family == _SYSTEM:
        return _system_finding(event, _system_kind_for_id(event.event_id))
    if family == _TLS:
        return _system_finding(event, FindingKind.SYS_TLS)
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
        Always a Finding; kind ``ext.other`` when nothing more specific is recognised.
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
            kind=FindingKind.EXT_OTHER,
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


def user_key(user: str | None) -> str | None:
    """Normalise a user name so the same person joins across event families.

    Lower-cases, strips surrounding whitespace and quotes, drops a ``DOMAIN\\`` prefix and an
    ``@domain`` suffix: ``CONTOSO\\Alice``, ``alice@contoso.com`` and ``alice`` all give
    ``alice``.

    Trade-off: a UPN prefix is not always the sAMAccountName (alternate login ids, renamed
    accounts), and two domains may each hold an ``alice``; joins made through this key are
    therefore reported with lower confidence by the diagnosis. Masked names
    (``******@domain.com``) and placeholders (``<USERNAME>``) give None rather than a key that
    would join unrelated people.

    Args:
        user: a user name in any form, or None.

    Returns:
        The key, or None when there is no usable name (``-``, empty, masked).
    """
    if user is None:
        return None
    name = user.strip().strip(_QUOTES).strip()
    if name.lower() in _EMPTY_VALUES:
        return None
    name = name.rpartition("\\")[2]
    if "@" in name:
        name = name.rpartition("@")[0]
    name = name.strip().lower()
    if not name or name == "-" or set(name) <= {"*"}:
        return None
    if name.startswith("<") and name.endswith(">"):
        return None
    return name


# ---------------------------------------------------------------------------------------------
# Extension messages
# ---------------------------------------------------------------------------------------------


def _extension_text(event: Event) -> str:
    """The text to read: the first layout that carries extension wording, else Event.text.

    A rendered message can be a generic "description cannot be found" while the unnamed data
    holds the real text, so each layout is tried before falling back.
    """
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
    detail_match = pat.DETAIL_START.search(text)
    header = text[: detail_match.start()] if detail_match else text
    kind = _extension_kind(text)
    if detail_match:
        detail = _clean_detail(text[detail_match.end() :])
    elif kind in (FindingKind.NOTICE, FindingKind.EXT_OTHER):
        detail = _clean_detail(_strip_leading_labels(text))
    else:
        detail = None
    user = _extension_user(header)
    return Finding(
        event=event,
        kind=kind,
        codes=_codes(text),
        cid=_first_group(pat.CID, text),
        user=user,
        user_key=user_key(user),
        state=_first_group(pat.STATE, header),
        aadsts=_unique(match.group(0) for match in pat.AADSTS.finditer(text)),
        trace_id=_first_group(pat.TRACE_ID, text),
        correlation_id=_first_group(pat.CORRELATION_ID, text),
        detail=detail,
        response_state=_response_state(header),
    )


def _extension_kind(text: str) -> str:
    for pattern, kind in (
        (pat.KIND_EXCEPTION, FindingKind.EXCEPTION),
        (pat.KIND_REJECTED, FindingKind.REJECTED),
        (pat.KIND_ACCEPTED, FindingKind.ACCEPTED),
        (pat.KIND_CHALLENGE, FindingKind.CHALLENGE),
        (pat.KIND_IGNORED, FindingKind.IGNORED),
        (pat.KIND_NOTICE, FindingKind.NOTICE),
    ):
        if pattern.search(text):
            return kind
    return FindingKind.EXT_OTHER


def _codes(text: str) -> tuple[str, ...]:
    """Every code in a code position, in text order, each once; unknown codes included."""
    found: list[tuple[int, str]] = []
    for pattern in pat.CODE_PATTERNS:
        for match in pattern.finditer(text):
            code = match.group(1)
            if code.lower() not in pat.NOT_CODES:
                found.append((match.start(1), code))
    found.sort()
    return _unique(code for _, code in found)


def _extension_user(header: str) -> str | None:
    # Only the part before "Msg::" / "and message:" is searched: the free text after it can say
    # "... for the user" about something else.
    anchors = [
        anchor.end()
        for anchor in itertools.islice(pat.USER_ANCHOR.finditer(header), pat.USER_ANCHOR_LIMIT)
    ]
    for pattern in (pat.USER, pat.USER_TOKEN):
        for start in anchors:
            match = pattern.match(header, start)
            if match is not None:
                name = match.group(1).strip().strip(_QUOTES).strip()
                if pattern is pat.USER_TOKEN:
                    name = name.rstrip(".")
                if name:
                    return name
    return None


def _response_state(header: str) -> str | None:
    match = pat.RESPONSE_STATE.search(header)
    if match is None:
        return None
    value = match.group(1)
    return pat.RESPONSE_STATES.get(value.lower(), value)


def _strip_leading_labels(text: str) -> str:
    """Drop ``NPS Extension for Azure MFA:``, ``CID: ... :`` and ``CODE::`` from the start.

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
    return text[position:]


def _clean_detail(raw: str) -> str | None:
    detail = pat.BOILERPLATE.sub("", raw).strip()
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
    by_name = _fields_by_name(event.fields)
    values: dict[str, str] = {}
    for name in _NPS_WANTED:
        value = _meaningful(by_name.get(name.lower()))
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


def _fields_by_name(fields: Mapping[str, str]) -> dict[str, str]:
    """Field lookup that ignores case and any path a reader put before a UserData leaf."""
    by_name: dict[str, str] = {}
    for key, value in fields.items():
        leaf = pat.FIELD_PATH_SEPARATORS.split(key)[-1].lower()
        by_name.setdefault(leaf, value)
    return by_name


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
    return None


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


def _first_group(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1).lower() if match else None


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
