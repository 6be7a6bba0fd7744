"""The wevtutil text reader: same events as the .evtx path, every encoding, damage contained."""

from __future__ import annotations

import codecs
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.extract import extract, is_relevant
from npsdiag.model import Event, FindingKind, SourceStats
from npsdiag.sources import discover, read_events
from npsdiag.sources import text as text_module
from npsdiag.sources.text import parse_wevtutil_text

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIRS = sorted(path.parent for path in (ROOT / "samples").glob("*/*_NpsLogging.zip"))
NPS_IDS = (6272, 6273, 6274)

HEADER = (
    "Event[{index}]:\n"
    "  Log Name: Security\n"
    "  Source: Microsoft-Windows-Security-Auditing\n"
    "  Date: {date}\n"
    "  Event ID: {event_id}\n"
    "  Task: Network Policy Server\n"
    "  Level: Information\n"
    "  Opcode: Info\n"
    "  Keyword: Audit Failure\n"
    "  User: N/A\n"
    "  User Name: N/A\n"
    "  Computer: NPS01.contoso.com\n"
    "  Description:\n"
)
BODY_6273 = (
    "Network Policy Server denied access to a user.\n"
    "\n"
    "Contact the Network Policy Server administrator for more information.\n"
    "\n"
    "User:\n"
    "\tSecurity ID:\t\t\tS-1-5-21-1-2-3-1104\n"
    "\tAccount Name:\t\t\t{user}\n"
    "\tAccount Domain:\t\t\tCONTOSO\n"
    "\tFully Qualified Account Name:\tCONTOSO\\{user}\n"
    "\n"
    "Client Machine:\n"
    "\tSecurity ID:\t\t\tS-1-0-0\n"
    "\tAccount Name:\t\t\t-\n"
    "\tFully Qualified Account Name:\t-\n"
    "\tOS-Version:\t\t\t-\n"
    "\tCalled Station Identifier:\t\t-\n"
    "\tCalling Station Identifier:\t\t203.0.113.7\n"
    "\n"
    "NAS:\n"
    "\tNAS IPv4 Address:\t\t10.0.0.5\n"
    "\tNAS IPv6 Address:\t\t-\n"
    "\tNAS Identifier:\t\t\tVPN01\n"
    "\tNAS Port-Type:\t\t\tVirtual\n"
    "\tNAS Port:\t\t\t7\n"
    "\n"
    "RADIUS Client:\n"
    "\tClient Friendly Name:\t\tVPN\n"
    "\tClient IP Address:\t\t\t10.0.0.5\n"
    "\n"
    "Authentication Details:\n"
    "\tConnection Request Policy Name:\tUse Windows authentication for all users\n"
    "\tNetwork Policy Name:\t\t-\n"
    "\tAuthentication Provider:\t\tWindows\n"
    "\tAuthentication Server:\t\tNPS01.contoso.com\n"
    "\tAuthentication Type:\t\tPAP\n"
    "\tEAP Type:\t\t\t-\n"
    "\tAccount Session Identifier:\t\t-\n"
    "\tLogging Results:\t\t\tAccounting information was written to the local log file.\n"
    "\tReason Code:\t\t\t21\n"
    "\tReason:\t\t\t\tAn NPS extension dynamic link library (DLL) that is installed on the "
    "NPS server rejected the connection request.\n"
    "\n"
)


def dump(*users: str, date: str = "2026-01-14T09:30:12.3450000Z", event_id: int = 6273) -> str:
    """A wevtutil text dump of 6273 events, one per user, LF line ends."""
    return "".join(
        HEADER.format(index=index, date=date, event_id=event_id) + BODY_6273.format(user=user)
        for index, user in enumerate(users)
    )


def read(data: bytes, relevant: object = None) -> tuple[list[Event], SourceStats]:
    return parse_wevtutil_text(data, "dump.log", relevant)  # type: ignore[arg-type]


def summary(events: list[Event]) -> list[tuple[int, str | None, int | None, int, str | None]]:
    """What a finding says about each NPS event: id, user, reason, time (s), client ip."""
    rows = []
    for event in events:
        finding = extract(event)
        assert finding is not None
        rows.append(
            (
                event.event_id,
                finding.user,
                finding.reason_code,
                int(event.time.timestamp()),
                finding.client_ip,
            )
        )
    return rows


# --- the shipped bundles: NPS_EventLog.log says what Security.evtx says --------------------


@pytest.mark.parametrize("folder", SAMPLE_DIRS, ids=[path.name for path in SAMPLE_DIRS])
def test_sample_text_dump_gives_the_events_of_security_evtx(folder: Path) -> None:
    bundle = next(folder.glob("*_NpsLogging.zip"))
    with zipfile.ZipFile(bundle) as archive:
        data = archive.read("NPS_EventLog.log")
    assert data.startswith(codecs.BOM_UTF16_LE)
    from_text, stats = read(data, is_relevant)
    (security,) = discover([str(folder / "Security.evtx")]).sources
    evtx_stats = security.new_stats()
    from_evtx = [
        event
        for event in read_events(security, evtx_stats, is_relevant)
        if event.event_id in NPS_IDS
    ]
    assert from_evtx, "the sample has NPS events"
    assert stats.status == "ok"
    assert (stats.records_read, stats.records_relevant, stats.records_failed) == (
        len(from_evtx),
        len(from_evtx),
        0,
    )
    if stats.zoneless_times:
        # Local times: everything but the time agrees (the offset is checked below).
        assert [row[:3] + row[4:] for row in summary(from_text)] == [
            row[:3] + row[4:] for row in summary(from_evtx)
        ]
    else:
        assert summary(from_text) == summary(from_evtx)
    for text_event, evtx_event in zip(from_text, from_evtx, strict=True):
        # Every field the description shows is the XML field of the same name and value.
        assert dict(text_event.fields) == dict(evtx_event.fields)
        assert (text_event.channel, text_event.provider, text_event.computer) == (
            evtx_event.channel,
            evtx_event.provider,
            evtx_event.computer,
        )
        assert (text_event.level, text_event.keywords) == (evtx_event.level, evtx_event.keywords)
        if stats.zoneless_times:
            # A dump of the server's local time (local-time-dump): off by a whole offset,
            # which npsdiag.clock finds (tests/test_clock.py).
            offset = (text_event.time - evtx_event.time).total_seconds()
            assert offset % 900 < 0.001 or 900 - offset % 900 < 0.001
            continue
        assert abs((text_event.time - evtx_event.time).total_seconds()) < 0.001
        assert text_event.message and text_event.message.startswith("Network Policy Server")
        assert text_event.record_id is None


# --- one event, read in full -------------------------------------------------------------------


def test_header_and_description_become_the_event() -> None:
    events, stats = read(dump("jdoe").encode())
    (event,) = events
    assert event.channel == "Security"
    assert event.provider == "Microsoft-Windows-Security-Auditing"
    assert event.event_id == 6273
    assert event.time == datetime(2026, 1, 14, 9, 30, 12, 345000, tzinfo=timezone.utc)
    assert event.computer == "NPS01.contoso.com"
    assert (event.level, event.keywords, event.record_id) == (0, "0x8010000000000000", None)
    assert event.origin == "dump.log"
    assert event.message is not None
    assert event.message.startswith("Network Policy Server denied access to a user.\n\nContact")
    assert event.message.endswith("rejected the connection request.")  # trailing blanks cut
    assert "\tReason Code:\t\t\t21" in event.message
    fields = event.fields
    # The same label means the user under "User:" and the machine under "Client Machine:".
    assert fields["SubjectUserName"] == "jdoe"
    assert fields["SubjectMachineName"] == "-"
    assert fields["SubjectUserSid"] == "S-1-5-21-1-2-3-1104"
    assert fields["SubjectMachineSID"] == "S-1-0-0"
    assert fields["FullyQualifiedSubjectUserName"] == "CONTOSO\\jdoe"
    assert fields["CallingStationID"] == "203.0.113.7"
    assert fields["ClientName"] == "VPN"
    assert fields["ClientIPAddress"] == "10.0.0.5"
    assert fields["ProxyPolicyName"] == "Use Windows authentication for all users"
    assert fields["LoggingResult"].startswith("Accounting information")
    assert fields["ReasonCode"] == "21"
    assert fields["Reason"].startswith("An NPS extension")
    assert (stats.status, stats.records_read, stats.records_relevant) == ("ok", 1, 1)
    assert stats.first_time == stats.last_time == event.time
    finding = extract(event)
    assert finding is not None
    assert (finding.kind, finding.user, finding.reason_code) == (
        FindingKind.NPS_DENIED,
        "CONTOSO\\jdoe",
        21,
    )


def test_quarantine_block_of_a_6272() -> None:
    text = HEADER.format(index=0, date="2026-01-14T09:30:12Z", event_id=6272) + (
        "Network Policy Server granted access to a user.\n\nUser:\n\tAccount Name:\t\t\tann\n"
        "\nQuarantine Information:\n\tResult:\t\t\t\tFull Access\n"
        "\tSession Identifier:\t\t\t-\n"
    )
    (event,), _ = read(text.encode())
    assert event.fields == {
        "SubjectUserName": "ann",
        "QuarantineState": "Full Access",
        "QuarantineSessionIdentifier": "-",
    }


def test_other_events_keep_their_description_as_message_only() -> None:
    text = (
        "Event[0]:\r\n  Log Name: AuthZOptCh\r\n  Source: Microsoft-AzureMfa-AuthZ\r\n"
        "  Date: 2026-01-14T09:30:12.000\r\n  Event ID: 1\r\n  Level: Information\r\n"
        "  Computer: NPS01\r\n  Description: \r\nNPS Extension for Azure MFA:  CID: abc : "
        "Challenge requested in Authentication Ext for User a@b.com with state x\r\n"
        "Reason Code: 5\r\n"
    )
    (event,), stats = read(text.encode())
    assert event.fields == {}  # "Reason Code" is not an NPS field outside events 6272-6280
    assert event.message is not None and event.message.endswith("Reason Code: 5")
    assert event.level == 4 and event.keywords is None
    finding = extract(event)
    assert finding is not None and finding.kind == FindingKind.CHALLENGE
    # No zone in the date: read as UTC and counted, for npsdiag.clock to line it up.
    assert event.time == datetime(2026, 1, 14, 9, 30, 12, tzinfo=timezone.utc)
    assert stats.zoneless_times == 1
    assert stats.status == "ok"


def test_dates_with_a_zone_or_an_offset() -> None:
    text = dump("a", date="2026-01-14T10:30:12.1+01:00") + dump("b", date="2026-01-14T09:30:12Z")
    events, stats = read(text.encode())
    assert [event.time for event in events] == [
        datetime(2026, 1, 14, 9, 30, 12, 100000, tzinfo=timezone.utc),
        datetime(2026, 1, 14, 9, 30, 12, tzinfo=timezone.utc),
    ]
    assert stats.zoneless_times == 0


def test_the_pre_filter_counts_but_does_not_keep() -> None:
    text = dump("a", "b", event_id=4624) + dump("c")
    asked: list[tuple[str, str, int]] = []

    def relevant(channel: str, provider: str, event_id: int) -> bool:
        asked.append((channel, provider, event_id))
        return event_id == 6273

    events, stats = read(text.encode(), relevant)
    assert [event.fields["SubjectUserName"] for event in events] == ["c"]
    assert (stats.records_read, stats.records_relevant) == (3, 1)
    assert asked == [("Security", "Microsoft-Windows-Security-Auditing", 4624)] * 2 + [
        ("Security", "Microsoft-Windows-Security-Auditing", 6273)
    ]


# --- encodings and line ends -------------------------------------------------------------------

ENCODINGS = {
    "utf-16-le with BOM (PowerShell Out-File)": lambda text: (
        codecs.BOM_UTF16_LE + text.replace("\n", "\r\n").encode("utf-16-le")
    ),
    "utf-16-le without BOM": lambda text: text.encode("utf-16-le"),
    "utf-16-be with BOM": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "utf-8 with BOM": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-8, CRLF": lambda text: text.replace("\n", "\r\n").encode("utf-8"),
    "cp1252 (cmd.exe)": lambda text: text.replace("\n", "\r\n").encode("cp1252"),
}


@pytest.mark.parametrize("encode", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_every_encoding_gives_the_same_events(encode: object) -> None:
    text = dump("José", "Zoë", "plain")
    expected, _ = read(text.encode("utf-8"))
    events, stats = read(encode(text))  # type: ignore[operator]
    assert stats.status == "ok", stats.messages
    assert [dict(event.fields) for event in events] == [dict(e.fields) for e in expected]
    assert [event.message for event in events] == [event.message for event in expected]
    assert [event.fields["SubjectUserName"] for event in events] == ["José", "Zoë", "plain"]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1000])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-8"])
def test_block_boundaries_do_not_matter(
    monkeypatch: pytest.MonkeyPatch, block: int, encoding: str
) -> None:
    # Multi-byte characters and CRLF pairs fall across every kind of block boundary.
    text = dump("Ölçü€", "𝔘nicode", "x").replace("\n", "\r\n")
    data = codecs.BOM_UTF16_LE + text.encode(encoding) if encoding != "utf-8" else text.encode()
    expected, _ = read(data)
    monkeypatch.setattr(text_module, "_BLOCK", block)
    events, stats = read(data)
    assert stats.status == "ok"
    assert [(e.message, dict(e.fields)) for e in events] == [
        (e.message, dict(e.fields)) for e in expected
    ]
    assert events[1].fields["SubjectUserName"] == "𝔘nicode"


# --- bad input: named by line, the rest goes on -------------------------------------------------


def test_translated_header_is_refused_naming_the_line() -> None:
    german = (
        "Event[0]:\r\n  Protokollname: Security\r\n  Quelle: Microsoft-Windows-Security-Auditing"
        "\r\n  Datum: 2026-01-14T09:30:12.345\r\n  Ereignis-ID: 6273\r\n  Beschreibung:\r\n"
        "Der Netzwerkrichtlinienserver hat einem Benutzer den Zugriff verweigert.\r\n"
    )
    events, stats = read(codecs.BOM_UTF16_LE + german.encode("utf-16-le"))
    assert events == []
    assert stats.status == "unreadable"
    (message,) = stats.messages
    assert message.startswith("dump.log: line 2: header label 'Protokollname'")
    assert "English" in message and "wevtutil epl" in message


def test_undecodable_bytes_are_read_around_and_named_by_line() -> None:
    good = dump("a").encode()
    bad = b"Event[1]:\n  Log Name: Security\n  Source: \x81\x8d\n"
    events, stats = read(good + bad + dump("c").encode())
    # The block with the bad bytes lacks its Date and Event ID: that event fails, no other.
    assert [event.fields["SubjectUserName"] for event in events] == ["a", "c"]
    assert (stats.status, stats.records_read, stats.records_failed) == ("partial", 2, 1)
    line = good.count(b"\n") + 3
    assert stats.messages[-1] == (
        f"dump.log: line {line} held bytes that are not text (NUL, or undefined in "
        "Windows-1252): they were read with U+FFFD in their place; copy the file again if "
        "the events there matter"
    )


def test_a_nul_byte_costs_nothing_but_the_byte() -> None:
    text = dump("a", "b", "c")
    nul_at = text.index("Network Policy Server denied", text.index("Event[1]"))
    data = (text[:nul_at] + "\x00" + text[nul_at:]).encode()
    events, stats = read(data)
    assert [event.fields["SubjectUserName"] for event in events] == ["a", "b", "c"]
    assert events[1].message is not None and events[1].message.startswith("\ufffdNetwork")
    assert (stats.status, stats.records_failed) == ("partial", 0)
    assert "U+FFFD" in stats.messages[-1]


def test_broken_utf16_is_read_around_and_named_by_line() -> None:
    body = dump("a").encode("utf-16-le") + "Event[1]:\n".encode("utf-16-le")
    broken = codecs.BOM_UTF16_LE + body + b"\x00\xdc\x41\x00"  # a lone low surrogate
    events, stats = read(broken)
    assert len(events) == 1
    line = dump("a").count("\n") + 2
    assert stats.messages[-1].startswith(
        f"dump.log: line {line} held bytes that are not UTF-16-LE text"
    )
    assert stats.status == "partial"


def test_damaged_events_are_counted_and_reading_goes_on() -> None:
    no_id = "Event[1]:\n  Log Name: Security\n  Date: 2026-01-14T09:30:12Z\n  Description:\nx\n"
    bad_date = HEADER.format(index=2, date="3/7/2014 12:55:51 PM", event_id=6273) + "text\n"
    text = dump("a") + no_id + bad_date + dump("b").replace("Event[0]", "Event[3]")
    events, stats = read(text.encode())
    assert [event.fields["SubjectUserName"] for event in events] == ["a", "b"]
    assert (stats.records_read, stats.records_failed, stats.status) == (2, 2, "partial")
    first = dump("a").count("\n") + 1
    assert stats.messages[0] == f"event at line {first}: no 'Event ID:' line in its header"
    assert stats.messages[1].startswith(f"event at line {first + 5}: time '3/7/2014")


def test_an_empty_dump_is_read_and_says_what_it_means() -> None:
    events, stats = read(codecs.BOM_UTF16_LE + "\r\n".encode("utf-16-le"))
    assert events == []
    assert (stats.status, stats.records_read) == ("ok", 0)
    (message,) = stats.messages
    assert "holds no event" in message and "auditpol" in message


def test_text_without_any_event_block_is_unreadable() -> None:
    events, stats = read(b"just notes\nsecond line\n")
    assert events == []
    assert stats.status == "unreadable"
    assert "no 'Event[0]:' line" in stats.messages[0]


def test_a_line_over_the_limit_stops_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_module, "_MAX_LINE_BYTES", 300)
    monkeypatch.setattr(text_module, "_BLOCK", 16)
    events, stats = read(dump("a", "b").encode() + b"x" * 5000)
    assert [event.fields["SubjectUserName"] for event in events] == ["a"]
    assert (stats.status, stats.records_failed) == ("partial", 1)
    line = dump("a", "b").count("\n") + 1
    assert stats.messages[-1].startswith(f"dump.log: line {line} is longer than")


def test_a_file_cut_inside_a_utf16_character() -> None:
    data = codecs.BOM_UTF16_LE + dump("a", "b").encode("utf-16-le") + b"E"
    events, stats = read(data)
    assert [event.fields["SubjectUserName"] for event in events] == ["a"]
    line = dump("a", "b").count("\n") + 1
    assert stats.messages[-1].startswith(f"dump.log: line {line}: the file ends in the middle")


# --- as a file on disk -------------------------------------------------------------------------


def test_a_dump_file_is_discovered_and_read(tmp_path: Path) -> None:
    path = tmp_path / "NPS_EventLog.log"
    path.write_bytes(codecs.BOM_UTF16_LE + dump("a", "b").replace("\n", "\r\n").encode("utf-16-le"))
    found = discover([str(path)])
    (source,) = found.sources
    assert source.kind == "wevtutil-text"
    stats = source.new_stats()
    events = list(read_events(source, stats, is_relevant))
    assert [event.origin for event in events] == [str(path)] * 2
    assert (stats.status, stats.records_read) == ("ok", 2)


def test_an_empty_nps_event_log_file_is_still_read(tmp_path: Path) -> None:
    # What the health-check script writes when the Security log has no NPS event.
    path = tmp_path / "NPS_EventLog.log"
    path.write_bytes(codecs.BOM_UTF16_LE)
    (source,) = discover([str(path)]).sources
    stats = source.new_stats()
    assert list(read_events(source, stats, is_relevant)) == []
    assert stats.status == "ok" and "auditpol" in stats.messages[0]


# --- never raises ------------------------------------------------------------------------------

LINES = st.sampled_from(
    [
        "Event[0]:",
        "Event[12]:",
        "  Log Name: Security",
        "  Source: Microsoft-Windows-Security-Auditing",
        "  Date: 2026-01-14T09:30:12.345",
        "  Date: 9999-99-99T99:99:99",
        "  Event ID: 6273",
        "  Event ID: 99999999999999999999",
        "  Protokollname: Security",
        "  Description:",
        "User:",
        "\tAccount Name:\t\tx",
        "\tReason Code:\t\t\t21",
        "",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(LINES, st.text(max_size=40)), max_size=40),
    st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "cp1252"]),
    st.booleans(),
)
def test_arbitrary_text_never_raises(lines: list[str], encoding: str, crlf: bool) -> None:
    text = ("\r\n" if crlf else "\n").join(lines)
    data = text.encode(encoding, errors="replace")
    events, stats = read(data, is_relevant)
    assert stats.status in ("ok", "partial", "unreadable")
    assert stats.records_relevant == len(events) <= stats.records_read
    for message in stats.messages:
        assert "\n" not in message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    events, stats = read(b"Event[0]:\n" + data)
    assert stats.records_relevant == len(events)
    assert stats.status in ("ok", "partial", "unreadable")
