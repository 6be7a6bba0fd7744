"""The XML export reader: both layouts, any encoding, hostile text intact, damage contained."""

from __future__ import annotations

import codecs
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from npsdiag.model import Event, SourceStats
from npsdiag.sources import Source, discover, read_events

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
T0 = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
CHALLENGE = (
    "NPS Extension for Azure MFA:  CID: 32e83cbf-484d-49aa-9adb-71528f5eb94d : Challenge "
    "requested in Authentication Ext for User alice@contoso.com with state "
    "300c9d6c-7734-4165-83d3-212e73aee286"
)


def event_xml(
    record_id: int,
    *,
    event_id: int = 1,
    provider: str = "Microsoft-AzureMfa-AuthZ",
    channel: str = "AuthZOptCh",
    data: str = f"<Data>{CHALLENGE}</Data>",
    message: str | None = None,
    second: int = 0,
    namespace: str | None = NS,
    extra_system: str = "",
    section: str | None = None,
) -> str:
    xmlns = f" xmlns='{namespace}'" if namespace else ""
    rendering = (
        f"<RenderingInfo Culture='en-US'><Message>{message}</Message><Level>Information</Level>"
        "<Task></Task><Opcode>Info</Opcode><Channel>AuthZOptCh</Channel><Provider></Provider>"
        "<Keywords></Keywords></RenderingInfo>"
        if message is not None
        else ""
    )
    body = section if section is not None else f"<EventData>{data}</EventData>"
    return (
        f"<Event{xmlns}><System><Provider Name='{provider}' "
        "Guid='{7237ED00-E119-430B-AB0F-C63360C8EE81}'/>"
        f"<EventID Qualifiers='0'>{event_id}</EventID><Version>0</Version><Level>4</Level>"
        "<Task>0</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>"
        f"<TimeCreated SystemTime='2024-05-01T10:00:{second:02d}.1234567Z'/>"
        f"<EventRecordID>{record_id}</EventRecordID><Correlation/>"
        "<Execution ProcessID='1234' ThreadID='5678'/>"
        f"<Channel>{channel}</Channel><Computer>nps01.contoso.com</Computer>"
        f"<Security UserID='S-1-5-20'/>{extra_system}</System>{body}{rendering}</Event>"
    )


def as_document(*events: str) -> str:
    """Event Viewer's "Save as XML": one <Events> root."""
    return '<?xml version="1.0" encoding="UTF-8"?>\r\n<Events>' + "\r\n".join(events) + "</Events>"


def as_sequence(*events: str) -> str:
    """wevtutil qe /f:xml: bare <Event> elements, no root."""
    return "".join(events) + "\r\n"


def read(path: Path, relevant: Any = None) -> tuple[list[Event], SourceStats]:
    (source,) = discover([str(path)]).sources
    assert source.kind == "xml"
    stats = source.new_stats()
    return list(read_events(source, stats, relevant)), stats


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- both layouts, with and without RenderingInfo ---------------------------------------------


@pytest.mark.parametrize("layout", [as_document, as_sequence], ids=["Events", "bare"])
@pytest.mark.parametrize("rendered", [False, True], ids=["plain", "RenderingInfo"])
def test_both_layouts_with_and_without_rendering(
    tmp_path: Path, layout: Any, rendered: bool
) -> None:
    message = "Rendered text &amp; more" if rendered else None
    text = layout(
        event_xml(41, message=message),
        event_xml(
            42,
            event_id=6273,
            provider="Microsoft-Windows-Security-Auditing",
            channel="Security",
            data="<Data Name='SubjectUserName'>alice</Data><Data Name='Reason'>x</Data>"
            "<Data Name='Reason'>y</Data><Data Name='Empty'/>",
            second=3,
        ),
    )
    events, stats = read(write(tmp_path, "export.xml", text))
    assert (stats.records_read, stats.records_relevant, stats.records_failed) == (2, 2, 0)
    assert stats.status == "ok"
    assert stats.first_time == T0 and stats.last_time == T0.replace(second=3)
    challenge, denied = events
    assert challenge.time == T0
    assert (challenge.channel, challenge.provider, challenge.event_id) == (
        "AuthZOptCh",
        "Microsoft-AzureMfa-AuthZ",
        1,
    )
    assert (challenge.level, challenge.record_id, challenge.qualifiers) == (4, 41, 0)
    assert (challenge.computer, challenge.keywords) == ("nps01.contoso.com", "0x8000000000000000")
    assert challenge.data == (CHALLENGE,)
    assert challenge.fields == {}
    assert challenge.message == ("Rendered text & more" if rendered else None)
    assert challenge.origin == str(tmp_path / "export.xml")
    assert denied.fields == {
        "SubjectUserName": "alice",
        "Reason": "x",
        "Reason_1": "y",
        "Empty": "",
    }
    assert denied.data == ()


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16-le", b""),
    ],
)
def test_encodings_and_byte_order_marks(tmp_path: Path, encoding: str, bom: bytes) -> None:
    text = as_document(event_xml(1, data="<Data>Grüße 漢字 \U0001f600</Data>"))
    text = text.replace(
        'encoding="UTF-8"', f'encoding="{"UTF-16" if "16" in encoding else "UTF-8"}"'
    )
    path = tmp_path / "export.xml"
    path.write_bytes(bom + text.encode(encoding))
    events, stats = read(path)
    assert stats.status == "ok"
    assert events[0].data == ("Grüße 漢字 \U0001f600",)


def test_namespace_free_and_foreign_namespaces(tmp_path: Path) -> None:
    text = as_sequence(event_xml(1, namespace=None), event_xml(2, namespace="urn:other"))
    events, stats = read(write(tmp_path, "x.xml", text))
    assert [event.record_id for event in events] == [1, 2]
    assert stats.records_failed == 0


def test_user_data_leaves_and_attributes(tmp_path: Path) -> None:
    section = (
        "<UserData><LogFileCleared xmlns='http://manifests.microsoft.com/win/2004/08/windows/"
        "eventlog'><SubjectUserSid>S-1-5-21-1</SubjectUserSid><SubjectUserName>admin"
        "</SubjectUserName><Channel>AuthZOptCh</Channel><Item kind='a'/><Item kind='b'>v</Item>"
        "</LogFileCleared></UserData>"
    )
    events, _ = read(write(tmp_path, "u.xml", as_sequence(event_xml(7, section=section))))
    assert events[0].fields == {
        "SubjectUserSid": "S-1-5-21-1",
        "SubjectUserName": "admin",
        "Channel": "AuthZOptCh",
        "Item@kind": "a",
        "Item": "",
        "Item@kind_1": "b",
        "Item_1": "v",
    }
    assert events[0].channel == "AuthZOptCh"  # from System, not from UserData


# --- hostile text is data, unchanged ------------------------------------------------------------


def test_hostile_text_comes_through_unchanged(tmp_path: Path) -> None:
    hostile = (
        '<script>alert("x")</script><img src=x onerror=alert(1)> & \t tab\nline '
        "\u0085\u009f C1 controls \ufeff ]]> {{ jinja }} ${shell} ' \" \\ \U0001f600"
    )
    huge = "M" * (1 << 20) + hostile
    text = as_document(
        event_xml(
            1,
            data=f"<Data Name='Reason'>{escape(hostile)}</Data>"
            f"<Data>{escape(hostile, {chr(34): '&quot;'})}</Data>",
            message=escape(huge),
        ),
        event_xml(2, data=f"<Data>{'&lt;' * 10}</Data>"),
    )
    events, stats = read(write(tmp_path, "hostile.xml", text))
    assert stats.status == "ok"
    first, second = events
    assert first.fields == {"Reason": hostile}
    assert first.data == (hostile,)
    assert first.message == huge
    assert second.data == ("<" * 10,)


def test_carriage_returns_survive_as_character_references(tmp_path: Path) -> None:
    text = as_sequence(event_xml(1, data="<Data>line one&#13;\nline two&#9;end</Data>"))
    events, _ = read(write(tmp_path, "cr.xml", text))
    assert events[0].data == ("line one\r\nline two\tend",)


def test_entities_are_not_expanded_and_nothing_is_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    text = (
        f'<?xml version="1.0"?><!DOCTYPE Events [<!ENTITY leak SYSTEM "file://{secret}">'
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        + "<Events>"
        + event_xml(1, data="<Data>&leak;&b;</Data>")
        + "</Events>"
    )
    path = write(tmp_path, "xxe.xml", text)
    (source,) = discover([str(path)]).sources
    stats = source.new_stats()
    events = list(read_events(source, stats, None))
    assert events == []
    # The declaration is ignored; the one event names entities nobody declared for it.
    assert (stats.status, stats.records_read, stats.records_failed) == ("unreadable", 0, 1)
    assert "Entity 'leak' not defined" in stats.messages[0]
    assert any("DOCTYPE declaration (line 1)" in message for message in stats.messages)
    # Even inside the events, an entity reference cannot reach a file or blow up.
    inner = "<Events>" + event_xml(1, data="<Data>&leak;&amp;</Data>") + event_xml(2) + "</Events>"
    events, stats = read(write(tmp_path, "undeclared.xml", inner))
    assert [event.record_id for event in events] == [2]
    assert all("TOP SECRET" not in event.text for event in events)
    assert stats.records_failed == 1


# --- filter, damage, non-exports ---------------------------------------------------------------


def test_filter_that_wants_nothing_counts_everything(tmp_path: Path) -> None:
    text = as_sequence(*(event_xml(i, second=i) for i in range(5)))
    seen: list[tuple[str, str, int]] = []

    def nothing(channel: str, provider: str, event_id: int) -> bool:
        seen.append((channel, provider, event_id))
        return False

    events, stats = read(write(tmp_path, "x.xml", text), nothing)
    assert events == []
    assert (stats.records_read, stats.records_relevant, stats.records_failed) == (5, 0, 0)
    assert stats.first_time == T0 and stats.last_time == T0.replace(second=4)
    assert seen == [("AuthZOptCh", "Microsoft-AzureMfa-AuthZ", 1)] * 5


@pytest.mark.parametrize("separator", ["\n", ""], ids=["one-per-line", "one-line"])
def test_malformed_event_in_the_middle_is_counted_and_the_rest_kept(
    tmp_path: Path, separator: str
) -> None:
    broken = event_xml(2).replace("</EventData>", "</EventDat>")
    text = separator.join([event_xml(1), broken, event_xml(3, second=3), event_xml(4, second=4)])
    events, stats = read(write(tmp_path, "broken.xml", text + "\n"))
    assert [event.record_id for event in events] == [1, 3, 4]
    assert stats.records_read == 3
    assert stats.records_failed == 1
    assert stats.status == "partial"
    line = 2 if separator else 1
    assert any(f"malformed XML at line {line}" in message for message in stats.messages)


def test_truncated_export_keeps_what_was_read(tmp_path: Path) -> None:
    text = as_document(event_xml(1), event_xml(2), event_xml(3))
    cut = text[: text.rindex("<EventData>") + 20]
    events, stats = read(write(tmp_path, "cut.xml", cut))
    assert [event.record_id for event in events] == [1, 2]
    assert stats.status == "partial"
    assert stats.records_read == 2


def test_event_without_a_time_is_a_failed_record(tmp_path: Path) -> None:
    missing = event_xml(2).replace("<TimeCreated SystemTime='2024-05-01T10:00:00.1234567Z'/>", "")
    events, stats = read(write(tmp_path, "x.xml", as_sequence(event_xml(1), missing)))
    assert [event.record_id for event in events] == [1]
    assert (stats.records_read, stats.records_failed, stats.status) == (1, 1, "partial")
    assert "TimeCreated" in stats.messages[0]


def test_empty_export_is_fine(tmp_path: Path) -> None:
    events, stats = read(write(tmp_path, "empty.xml", '<?xml version="1.0"?>\n<Events/>\n'))
    assert events == []
    assert (stats.status, stats.records_read) == ("ok", 0)


def test_xml_that_is_not_an_export_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, "config.xml", "<configuration><appSettings/></configuration>")
    source = Source(name=str(path), path=path, kind="xml", size=path.stat().st_size)
    stats = source.new_stats()
    assert list(read_events(source, stats, None)) == []
    assert stats.status == "unreadable"
    assert "first element is <configuration>, not an event export" in stats.messages[0]
    # discovery already tells the user, without handing it to the reader:
    (skipped,) = discover([str(path)]).skipped
    assert "root <configuration>" in skipped.messages[0]


def test_many_events_stream_without_keeping_them(tmp_path: Path) -> None:
    text = as_sequence(*(event_xml(i, second=i % 60) for i in range(3000)))
    path = write(tmp_path, "many.xml", text)
    (source,) = discover([str(path)]).sources
    stats = source.new_stats()
    count = 0
    for event in read_events(source, stats, None):
        count += 1
        assert event.data == (CHALLENGE,)
    assert count == stats.records_read == 3000
