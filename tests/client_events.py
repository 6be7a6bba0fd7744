"""Builders for the RADIUS client's events (RD Gateway, RasClient, RemoteAccess) in tests.

They write what Windows writes: the RD Gateway's UserData leaves (Username, IpAddress, ...,
ErrorCode) as named data, RasClient's insertion strings {CoId, user, connection, error code},
RemoteAccess's {?, user, address, reason}. Message texts are the product's, from the sources
cited in npsdiag/extract_client.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape

from npsdiag.synth.records import EventRecord

RDG_PROVIDER = "Microsoft-Windows-TerminalServices-Gateway"
RDG_CHANNEL = "Microsoft-Windows-TerminalServices-Gateway/Operational"
RDG_GUID = uuid.UUID("4d5ae6a1-c7c8-4e6d-b840-4d8080b42e1b")

RDG_201 = (
    'The user "{user}", on client computer "{ip}", did not meet connection authorization policy '
    "requirements and was therefore not authorized to access the RD Gateway server. The "
    'authentication method used was: "NTLM" and connection protocol used: "HTTP". The '
    'following error occurred: "{code}".'
)
RDG_200 = (
    'The user "{user}", on client computer "{ip}", met connection authorization policy '
    "requirements and was therefore authorized to access the RD Gateway server. The "
    'authentication method used was: "NTLM" and connection protocol used: "HTTP".'
)
RDG_312 = (
    'The user "{user}", on client computer "{ip}", has initiated an outbound connection. This '
    "connection may not be authenticated yet."
)
VPN_FAILED = (
    "CoId={{B4000371-A67F-452F-AA4C-3125AA9CFC78}}: The user {user} dialed a connection named "
    "{connection} which has failed. The error code returned on failure is {code}."
)
RRAS_20271 = (
    "The user {user} connected from {ip} but failed an authentication attempt due to the "
    "following reason: {reason}"
)


def rdg_record(
    event_id: int,
    when: datetime,
    *,
    user: str,
    ip: str = "203.0.113.7",
    code: int = 0,
    computer: str = "RDG01.contoso.com",
    resource: str = "",
) -> EventRecord:
    """An RD Gateway operational event as its UserData leaves (written as named data)."""
    return EventRecord(
        provider=RDG_PROVIDER,
        provider_guid=RDG_GUID,
        event_id=event_id,
        time=when,
        channel=RDG_CHANNEL,
        computer=computer,
        level=2 if event_id in (201, 301, 304) else 4,
        keywords=0x4000000000000000,
        data=(
            ("Username", user),
            ("IpAddress", ip),
            ("AuthType", "NTLM"),
            ("Resource", resource),
            ("ConnectionProtocol", "HTTP"),
            ("ErrorCode", str(code)),
        ),
    )


def rasclient_record(
    event_id: int,
    when: datetime,
    *,
    user: str,
    code: int | str,
    connection: str = "Contoso VPN",
    computer: str = "LAPTOP01.contoso.com",
) -> EventRecord:
    """A RasClient event of the Application log: {CoId, user, connection, error code}."""
    data = ("{B4000371-A67F-452F-AA4C-3125AA9CFC78}", user, connection, str(code))
    return _classic_error("RasClient", "Application", event_id, when, computer, data)


def remoteaccess_record(
    event_id: int,
    when: datetime,
    *,
    user: str,
    reason: str,
    ip: str = "203.0.113.7",
    computer: str = "RRAS01.contoso.com",
) -> EventRecord:
    """A RemoteAccess event of the System log (20271: {?, user, address, reason})."""
    return _classic_error(
        "RemoteAccess", "System", event_id, when, computer, ("", user, ip, reason)
    )


def _classic_error(
    provider: str,
    channel: str,
    event_id: int,
    when: datetime,
    computer: str,
    data: Sequence[str],
) -> EventRecord:
    """An error event of a classic (non-manifest) source: insertion strings only."""
    return EventRecord(
        provider=provider,
        event_id=event_id,
        time=when,
        channel=channel,
        computer=computer,
        level=2,
        keywords=0x80000000000000,
        qualifiers=0,
        data=data,
    )


def xml_event(
    provider: str,
    channel: str,
    event_id: int,
    when: datetime,
    message: str,
    *,
    record_id: int = 1,
    computer: str = "RDG01.contoso.com",
) -> str:
    """One <Event> as Event Viewer's "Save as XML" writes it, with its rendered message."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    return (
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        f"<Provider Name='{provider}'/><EventID>{event_id}</EventID><Version>0</Version>"
        "<Level>4</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>"
        f"<TimeCreated SystemTime='{stamp}'/><EventRecordID>{record_id}</EventRecordID>"
        f"<Channel>{channel}</Channel><Computer>{computer}</Computer></System><EventData/>"
        f"<RenderingInfo Culture='en-US'><Message>{escape(message)}</Message></RenderingInfo>"
        "</Event>"
    )


def xml_document(*events: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\r\n<Events>' + "\r\n".join(events) + "</Events>"
