"""The RADIUS client's side of the chain: RD Gateway, Windows VPN client and RRAS events."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.extract import extract, finding_from_text, is_relevant
from npsdiag.model import Event, FindingKind
from npsdiag.sources import discover, read_events
from npsdiag.sources.text import parse_wevtutil_text
from npsdiag.synth.evtx_writer import write_evtx
from tests.client_events import (
    RDG_200,
    RDG_201,
    RDG_312,
    RDG_CHANNEL,
    RDG_PROVIDER,
    RRAS_20271,
    VPN_FAILED,
    rasclient_record,
    rdg_record,
    remoteaccess_record,
    xml_document,
    xml_event,
)

WHEN = datetime(2026, 2, 3, 9, 15, tzinfo=timezone.utc)
POLICY_812 = (
    "The connection was prevented because of a policy configured on your RAS/VPN server. "
    "Specifically, the authentication method used by the server to verify your username and "
    "password may not match the authentication method configured in your connection profile. "
    "Please contact the Administrator of the RAS server and notify them of this error."
)


def _read(path: Path) -> list[Event]:
    (source,) = discover([str(path)]).sources
    return list(read_events(source, source.new_stats(), is_relevant))


@pytest.mark.parametrize(
    ("channel", "provider", "event_id", "relevant"),
    [
        (RDG_CHANNEL, RDG_PROVIDER, 201, True),
        (RDG_CHANNEL, RDG_PROVIDER, 312, True),
        (RDG_CHANNEL, "", 200, True),  # a text dump that lost the provider keeps the log name
        ("Microsoft-Windows-TerminalServices-Gateway\\Operational", "", 302, True),
        (RDG_CHANNEL, RDG_PROVIDER, 101, False),  # service started: nothing about a user
        ("Application", "RasClient", 20227, True),
        ("Application", "RasClient", 20221, True),
        ("Application", "RasClient", 20226, False),
        ("System", "RemoteAccess", 20271, True),
        ("System", "RemoteAccess", 20255, True),
        ("System", "RemoteAccess", 20272, False),
        ("System", "Service Control Manager", 20271, False),
        ("Security", "Microsoft-Windows-Security-Auditing", 201, False),
    ],
)
def test_relevance(channel: str, provider: str, event_id: int, relevant: bool) -> None:
    assert is_relevant(channel, provider, event_id) is relevant


def test_evtx_events_are_read_from_their_fields(tmp_path: Path) -> None:
    path = tmp_path / "client.evtx"
    records = [
        rdg_record(201, WHEN, user="CONTOSO\\alice", code=23003),
        rdg_record(200, WHEN, user="CONTOSO\\bob"),
        rdg_record(312, WHEN, user="carol@contoso.com", ip="192.168.178.1:57250"),
        rasclient_record(20227, WHEN, user="CONTOSO\\dave", code=812),
        rasclient_record(20221, WHEN, user="CONTOSO\\erin", code=0),
        # "Started dialing": the last insertion string is the settings, not a code.
        rasclient_record(20221, WHEN, user="CONTOSO\\frank", code="Connection settings: ..."),
        remoteaccess_record(20271, WHEN, user="CONTOSO\\gina", reason=POLICY_812),
    ]
    with path.open("wb") as stream:
        write_evtx(stream, records)
    findings = [extract(event) for event in _read(path)]
    seen = [(f.kind, f.user, f.user_key, f.error_code) if f is not None else None for f in findings]
    assert seen == [
        (FindingKind.RDG_DENIED, "CONTOSO\\alice", "alice", 23003),
        (FindingKind.RDG_AUTHORIZED, "CONTOSO\\bob", "bob", 0),
        (FindingKind.RDG_OTHER, "carol@contoso.com", "carol", 0),
        (FindingKind.VPN_FAILED, "CONTOSO\\dave", "dave", 812),
        (FindingKind.VPN_FAILED, "CONTOSO\\erin", "erin", 0),
        None,
        (FindingKind.RAS_AUTH_FAILED, "CONTOSO\\gina", "gina", None),
    ]
    rras = findings[-1]
    assert rras is not None and rras.detail == POLICY_812


def test_xml_exports_are_read_from_their_messages(tmp_path: Path) -> None:
    path = tmp_path / "gateway.xml"
    text = RDG_201.format(user="CONTOSO\\alice", ip="203.0.113.7", code=23003)
    vpn = VPN_FAILED.format(user="CONTOSO\\dave", connection="Contoso VPN", code=691)
    path.write_text(
        xml_document(
            xml_event(RDG_PROVIDER, RDG_CHANNEL, 201, WHEN, text),
            xml_event("RasClient", "Application", 20227, WHEN, vpn, record_id=2),
        ),
        encoding="utf-8",
    )
    first, second = (extract(event) for event in _read(path))
    assert first is not None and second is not None
    assert (first.kind, first.user_key, first.error_code) == (
        FindingKind.RDG_DENIED,
        "alice",
        23003,
    )
    assert first.detail == text
    assert (second.kind, second.user_key, second.error_code) == (
        FindingKind.VPN_FAILED,
        "dave",
        691,
    )


def test_text_dumps_are_read_from_their_descriptions() -> None:
    dump = (
        "Event[0]:\r\n"
        f"  Log Name: {RDG_CHANNEL}\r\n"
        f"  Source: {RDG_PROVIDER}\r\n"
        "  Date: 2026-02-03T09:15:00.000\r\n"
        "  Event ID: 201\r\n"
        "  Task: N/A\r\n"
        "  Level: Error\r\n"
        "  Computer: RDG01.contoso.com\r\n"
        "  Description: \r\n"
        + RDG_201.format(user="CONTOSO\\alice", ip="203.0.113.7", code=23003)
        + "\r\n"
    )
    (event,), _ = parse_wevtutil_text(dump.encode("utf-8"), relevant=is_relevant)
    finding = extract(event)
    assert finding is not None
    assert (finding.kind, finding.user_key, finding.error_code) == (
        FindingKind.RDG_DENIED,
        "alice",
        23003,
    )


@pytest.mark.parametrize(
    ("text", "kind", "key", "code"),
    [
        (RDG_201.format(user="CONTOSO\\alice", ip="203.0.113.7", code=23003),
         FindingKind.RDG_DENIED, "alice", 23003),
        (RDG_200.format(user="CONTOSO\\alice", ip="203.0.113.7"),
         FindingKind.RDG_AUTHORIZED, "alice", None),
        (RDG_312.format(user="alice@contoso.com", ip="192.168.178.1:57250"),
         FindingKind.RDG_OTHER, "alice", None),
        # Some copies of 201 spell "occured".
        ('The user "X\\y", on client computer "1.2.3.4", did not meet connection authorization '
         'policy requirements. The following error occured: "23002".',
         FindingKind.RDG_DENIED, "y", 23002),
        ("The user CONTOSO\\alice dialed a connection named Contoso VPN which has failed. The "
         "error code returned on failure is 0.", FindingKind.VPN_FAILED, "alice", 0),
        (VPN_FAILED.format(user="SYSTEM", connection="AzureGateway", code=-2146762495),
         FindingKind.VPN_FAILED, "system", -2146762495),
        ("The user <username> dialed a connection named <connection name> which has failed. The "
         "error code is 853.", FindingKind.VPN_FAILED, None, 853),
        (RRAS_20271.format(user="CONTOSO\\gina", ip="203.0.113.7", reason=POLICY_812),
         FindingKind.RAS_AUTH_FAILED, "gina", None),
        ("The following error occurred in the Point to Point Protocol module on port: VPN2-509, "
         "UserName: CONTOSO\\gina. " + POLICY_812, FindingKind.RAS_AUTH_FAILED, "gina", None),
    ],
)  # fmt: skip
def test_pasted_client_messages(text: str, kind: str, key: str | None, code: int | None) -> None:
    finding = finding_from_text(text)
    assert (finding.kind, finding.user_key, finding.error_code) == (kind, key, code)


def test_pasted_rras_reason_is_the_detail() -> None:
    text = RRAS_20271.format(user="CONTOSO\\gina", ip="203.0.113.7", reason=POLICY_812)
    assert finding_from_text(text).detail == POLICY_812


def test_unrecognised_text_is_text_not_the_extensions() -> None:
    finding = finding_from_text("Update-MgServicePrincipal : something went wrong")
    assert finding.kind == FindingKind.TEXT
    assert finding.detail == "Update-MgServicePrincipal : something went wrong"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_client_sniffing_never_raises(text: str) -> None:
    for prefix in ("", 'The user "', "The user x dialed a connection named "):
        finding = finding_from_text(prefix + text)
        assert finding.kind


def test_long_hostile_client_text_stays_linear() -> None:
    text = 'The user "a", on client computer "' + "x" * 200_000
    finding = finding_from_text(text)
    assert finding.kind == FindingKind.TEXT
    dialed = "The user a dialed a connection named " + "b " * 100_000
    assert finding_from_text(dialed).kind == FindingKind.TEXT
