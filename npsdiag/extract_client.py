"""Events from the RADIUS client's side of the chain: RD Gateway, Windows VPN client, RRAS.

An admin often starts from what the user's gateway logged, not from the NPS server: the RD
Gateway's operational log (``Microsoft-Windows-TerminalServices-Gateway/Operational``), the
Windows VPN client's events in the Application log (source ``RasClient``) or the RRAS server's
events in the System log (source ``RemoteAccess``). Those events name the user and an error
code, never the cause on the NPS side; :mod:`npsdiag.diagnose` joins them to the NPS decisions
and extension events of the same user and time, where the cause is.

Each event is read from its named fields or unnamed insertion strings (``.evtx`` files carry
no rendered message), else from the rendered message of an XML export or a text dump, or from
pasted text. Patterns are linear: each starts at a literal phrase and every quantifier that
runs over event text is bounded.

References:
    - RD Gateway events 200-312 and their insertion strings: Microsoft's "RD Gateway Server
      Connections" event pages, https://technet.microsoft.com/en-us/library/ee891388
    - RasClient 20227/20221 texts with error codes 812 and 0:
      https://directaccess.richardhicks.com/2021/08/29/always-on-vpn-authentication-failure-with-azure-conditional-access/
      and https://directaccess.richardhicks.com/2019/04/29/always-on-vpn-and-azure-mfa-ests-token-error/
      (the insertion strings are {CoId, user, connection name, error code}, as Microsoft's
      Azure VPN gateway troubleshooting article prints them)
    - RemoteAccess 20271 and 20225 texts:
      https://learn.microsoft.com/troubleshoot/windows-server/windows-security/ssltls-communication-problems-after-install-kb931125
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from npsdiag._names import user_key
from npsdiag.model import Event, Finding, FindingKind

__all__ = [
    "CLIENT_EVENT_IDS",
    "RDG",
    "RRAS",
    "VPN",
    "client_family",
    "client_finding",
    "sniff_client",
]

#: Source families of this module, as :func:`client_family` names them.
RDG = "rdg"
VPN = "vpn"
RRAS = "rras"

_RDG_PROVIDER = "microsoft-windows-terminalservices-gateway"
_RDG_CHANNEL = "microsoft-windows-terminalservices-gateway/operational"
#: RD Gateway event id -> kind. 200/300: connection/resource policy met; 302: connected to the
#: resource; 201/301: a policy not met; 304: policies met but the resource unreachable;
#: 303: disconnected; 312: a connection started, not yet authenticated.
_RDG_KINDS: Mapping[int, str] = {
    200: FindingKind.RDG_AUTHORIZED,
    300: FindingKind.RDG_AUTHORIZED,
    302: FindingKind.RDG_AUTHORIZED,
    201: FindingKind.RDG_DENIED,
    301: FindingKind.RDG_DENIED,
    304: FindingKind.RDG_DENIED,
    303: FindingKind.RDG_OTHER,
    312: FindingKind.RDG_OTHER,
}
_RASCLIENT_PROVIDER = "rasclient"
_RASCLIENT_IDS = frozenset({20221, 20227})
_REMOTEACCESS_PROVIDER = "remoteaccess"
#: 20271: a user failed authentication; 20225 and 20255: a PPP error for a user.
_REMOTEACCESS_IDS = frozenset({20225, 20255, 20271})

#: Every event id of the three families: readers ask about every record, and one set look-up
#: answers "no" for almost all of them.
CLIENT_EVENT_IDS = frozenset(_RDG_KINDS) | _RASCLIENT_IDS | _REMOTEACCESS_IDS

#: Details longer than this are cut; the full text stays on ``Finding.event``.
_DETAIL_MAX_CHARS = 4000

# The RD Gateway's messages: 'The user "X", on client computer "Y", ...' and for failures
# 'The following error occurred: "23003".' (some copies spell it "occured").
_RDG_HEAD = re.compile(
    r"\bThe\s{1,4}user\s{1,4}\"([^\"\r\n]{1,256})\",\s{0,4}on\s{1,4}client\s{1,4}computer\s{1,4}"
    r"\"([^\"\r\n]{0,128})\"",
    re.IGNORECASE,
)
_RDG_ERROR = re.compile(
    r"following\s{1,4}error\s{1,4}occurr?ed:\s{0,4}\"(-?\d{1,10})\"", re.IGNORECASE
)
# Wording of each kind, for text that carries no event id (pasted or a dump without header).
_RDG_DENIED_TEXT = re.compile(
    r"\bdid\s{1,4}not\s{1,4}meet\s{1,4}(?:connection|resource)\s{1,4}authorization"
    r"|\bbut\s{1,4}could\s{1,4}not\s{1,4}connect\s{1,4}to\s{1,4}resource",
    re.IGNORECASE,
)
_RDG_AUTHORIZED_TEXT = re.compile(
    r"\bmet\s{1,4}(?:connection|resource)\s{1,4}authorization\s{1,4}policy\s{1,4}requirements"
    r"|\bconnected\s{1,4}to\s{1,4}resource\b",
    re.IGNORECASE,
)
_RDG_OTHER_TEXT = re.compile(
    r"\bdisconnected\s{1,4}from\s{1,4}the\s{1,4}following\s{1,4}network\s{1,4}resource"
    r"|\bhas\s{1,4}initiated\s{1,4}an\s{1,4}outbound\s{1,4}connection",
    re.IGNORECASE,
)

# RasClient: 'CoId={...}: The user X dialed a connection named Y which has failed. The error
# code returned on failure is 812.' ("that has failed" and "The error code is 853" occur too).
_VPN_FAILED_TEXT = re.compile(
    r"\bThe\s{1,4}user\s{1,4}(\S[^\r\n]{0,255}?)\s{1,4}dialed\s{1,4}a\s{1,4}connection\s{1,4}"
    r"named\s{1,4}([^\r\n]{0,256}?)\s{1,4}(?:which|that)\s{1,4}has\s{1,4}failed\.\s{0,4}"
    r"The\s{1,4}error\s{1,4}code\s{1,4}(?:returned\s{1,4}on\s{1,4}failure\s{1,4})?is\s{1,4}"
    r"(-?\d{1,10})",
    re.IGNORECASE,
)

# RemoteAccess 20271: 'The user X connected from Y but failed an authentication attempt due to
# the following reason: Z'; 20225/20255: 'The following error occurred in the Point to Point
# Protocol module on port: P, UserName: X. Z'.
_RRAS_AUTH_TEXT = re.compile(
    r"\bThe\s{1,4}user\s{1,4}(\S{1,256})\s{1,4}connected\s{1,4}from\s{1,4}(\S{1,64})\s{1,4}"
    r"but\s{1,4}failed\s{1,4}an\s{1,4}authentication\s{1,4}attempt\s{1,4}due\s{1,4}to\s{1,4}"
    r"the\s{1,4}following\s{1,4}reason:\s{0,4}",
    re.IGNORECASE,
)
_RRAS_PPP_TEXT = re.compile(
    r"\berror\s{1,4}occurred\s{1,4}in\s{1,4}the\s{1,4}Point\s{1,4}to\s{1,4}Point\s{1,4}"
    r"Protocol\s{1,4}module\s{1,4}on\s{1,4}port:\s{0,4}([^,\r\n]{0,64}),\s{0,4}UserName:\s{0,4}"
    r"([^\r\n]{0,256}?)\.\s{1,4}",
    re.IGNORECASE,
)
_INTEGER = re.compile(r"\s{0,8}(-?\d{1,10})\s{0,8}")


def client_family(channel: str, provider: str, event_id: int) -> str | None:
    """The family of a client-side event (:data:`RDG`, :data:`VPN`, :data:`RRAS`), or None.

    Cheap: lower-cased comparisons and set look-ups only, as readers ask for every record. A
    text dump that lost the provider still names the RD Gateway's channel.
    """
    provider_key = provider.lower()
    if event_id in _RDG_KINDS and (
        provider_key == _RDG_PROVIDER or channel.lower().replace("\\", "/") == _RDG_CHANNEL
    ):
        return RDG
    if event_id in _RASCLIENT_IDS and provider_key == _RASCLIENT_PROVIDER:
        return VPN
    if event_id in _REMOTEACCESS_IDS and provider_key == _REMOTEACCESS_PROVIDER:
        return RRAS
    return None


def client_finding(event: Event, family: str) -> Finding | None:
    """The finding of a client-side event of ``family``; None when it reports no failure that
    npsdiag can use (a RasClient event without an error code, such as "started dialing")."""
    if family == RDG:
        return _rdg_finding(event, _RDG_KINDS.get(event.event_id))
    if family == VPN:
        return _vpn_finding(event)
    return _rras_finding(event)


def sniff_client(event: Event) -> Finding | None:
    """Recognise a client-side message by its wording alone (pasted text, headerless dumps)."""
    text = event.text
    if _RDG_HEAD.search(text):
        return _rdg_finding(event, None)
    if _VPN_FAILED_TEXT.search(text):
        return _vpn_finding(event)
    if _RRAS_AUTH_TEXT.search(text) or _RRAS_PPP_TEXT.search(text):
        return _rras_finding(event)
    return None


# ---------------------------------------------------------------------------------------------
# RD Gateway


def _rdg_finding(event: Event, kind: str | None) -> Finding | None:
    fields = _leaf_fields(event.fields)
    text = event.message or ""
    head = _RDG_HEAD.search(text) if text else None
    if head is None and not fields:
        head = _RDG_HEAD.search(event.text)
        text = event.text if head is not None else text
    user = fields.get("username") or (head.group(1) if head else None)
    code = _integer(fields.get("errorcode"))
    if code is None and text:
        error = _RDG_ERROR.search(text)
        code = int(error.group(1)) if error else None
    if kind is None:
        kind = _rdg_kind_from_text(text or event.text)
        if kind is None:
            return None
    return _finding(event, kind, user, text, code)


def _rdg_kind_from_text(text: str) -> str | None:
    if _RDG_DENIED_TEXT.search(text):
        return FindingKind.RDG_DENIED
    if _RDG_AUTHORIZED_TEXT.search(text):
        return FindingKind.RDG_AUTHORIZED
    if _RDG_OTHER_TEXT.search(text):
        return FindingKind.RDG_OTHER
    return None


# ---------------------------------------------------------------------------------------------
# Windows VPN client (RasClient)


def _vpn_finding(event: Event) -> Finding | None:
    text = event.message or ""
    match = _VPN_FAILED_TEXT.search(text) if text else None
    if match is None and not event.data:
        match = _VPN_FAILED_TEXT.search(event.text)
        text = event.text if match is not None else text
    code: int | None
    if match is not None:
        user: str | None = match.group(1)
        code = int(match.group(3))
    else:
        # {CoId, user, connection name, error code}; "started dialing" events carry settings
        # in the last place, not a code, and say nothing about a failure.
        user, code = _insertion(event.data, 1), _integer(_insertion(event.data, 3))
        if code is None:
            return None
    return _finding(event, FindingKind.VPN_FAILED, user, text, code)


# ---------------------------------------------------------------------------------------------
# RRAS server (RemoteAccess)


def _rras_finding(event: Event) -> Finding | None:
    text = event.message or event.text
    user: str | None = None
    reason: str | None = None
    auth = _RRAS_AUTH_TEXT.search(text)
    ppp = None if auth else _RRAS_PPP_TEXT.search(text)
    if auth is not None:
        user, reason = auth.group(1), text[auth.end() :]
    elif ppp is not None:
        user, reason = ppp.group(2), text[ppp.end() :]
    elif event.data:
        # 20271: {?, user, address, reason}; 20225/20255: {?, port, user, reason}.
        data = event.data
        user = _insertion(data, 1 if event.event_id == 20271 else 2)
        reason = _insertion(data, 3)
    else:
        return None
    return _finding(event, FindingKind.RAS_AUTH_FAILED, user, reason)


# ---------------------------------------------------------------------------------------------
# Small helpers


def _finding(
    event: Event, kind: str, user: str | None, detail: str | None, code: int | None = None
) -> Finding:
    return Finding(
        event=event,
        kind=kind,
        user=_meaningful(user),
        user_key=user_key(user),
        detail=_trimmed(detail),
        error_code=code,
    )


def _leaf_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """Field values by lower-cased leaf name (``EventInfo/Username`` -> ``username``)."""
    found: dict[str, str] = {}
    for name, value in fields.items():
        leaf = re.split(r"[/.:]", name)[-1].lower() if name else name
        found.setdefault(leaf, value)
    return found


def _insertion(data: Sequence[str], index: int) -> str | None:
    return data[index] if index < len(data) else None


def _integer(value: str | None) -> int | None:
    if value is None:
        return None
    match = _INTEGER.fullmatch(value)
    return int(match.group(1)) if match else None


def _meaningful(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _trimmed(text: str | None) -> str | None:
    if not text:
        return None
    text = text.strip()
    if len(text) > _DETAIL_MAX_CHARS:
        return text[:_DETAIL_MAX_CHARS].rstrip() + " …"
    return text or None
