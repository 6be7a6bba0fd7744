"""Recognition by content is as tolerant as reading: stray bytes never turn an export into
"not an event log export", and what is recognised is read.

Every input here is built by the test: text dumps, XML exports and REG QUERY dumps with
Windows-1252 characters, invalid UTF-8 and NUL bytes put in generated places of the first
4 KiB (and after).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npsdiag.model import SourceKind
from npsdiag.sources import discover, read_events, sniff
from npsdiag.sources.regquery import parse_regquery
from tests.cli_runner import run
from tests.test_source_text import BODY_6273, HEADER
from tests.test_source_xml import as_document, event_xml

#: Bytes that are text in Windows-1252 but not UTF-8, and bytes that are text in neither.
WINDOWS_1252 = [bytes([byte]) for byte in b"\xe9\xe8\xfc\xdf\x80\x99\xa0\xff"]
UNDEFINED = [b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"]
STRAY = [*WINDOWS_1252, *UNDEFINED, b"\x00", b"\xc3", b"\xe2\x82"]

REGISTRY = (
    "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa\r\n"
    "    TENANT_ID    REG_SZ    3f1c2b4a-1111-2222-3333-444455556666\r\n"
    "    CLIENT_ID    REG_SZ    981f26a1-7f43-403b-a875-f8b09b8cd720\r\n"
    "    OVERRIDE_NUMBER_MATCHING_WITH_OTP    REG_SZ    FALSE\r\n"
    "    NOTE    REG_SZ    {note}\r\n"
)


def text_dump(count: int) -> bytes:
    blocks = [
        HEADER.format(index=index, date=f"2026-01-14T09:30:{index % 60:02d}.345Z", event_id=6273)
        + BODY_6273.format(user=f"user{index}")
        for index in range(count)
    ]
    return "".join(blocks).replace("\n", "\r\n").encode("utf-8")


def _sprinkle(data: bytes, places: list[int], strays: list[bytes], allowed: list[int]) -> bytes:
    """``data`` with the stray bytes put at the chosen allowed offsets, one per offset (two
    strays side by side could make one valid UTF-8 character, such as C3 81)."""
    out = bytearray(data)
    chosen = {
        allowed[place % len(allowed)]: stray for place, stray in zip(places, strays, strict=True)
    }
    for offset, stray in sorted(chosen.items(), reverse=True):
        out[offset:offset] = stray
    return bytes(out)


def _description_offsets(data: bytes) -> list[int]:
    """Offsets inside the prose lines of descriptions (a damaged header or ``Label: value``
    line changes what the event says, which is another test)."""
    offsets: list[int] = []
    start = 0
    for line in data.split(b"\r\n"):
        if line and b":" not in line and not line.startswith(b"\t"):
            offsets.extend(range(start, start + len(line)))
        start += len(line) + 2
    return offsets


@settings(max_examples=60, deadline=None)
@given(
    places=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    data=st.data(),
)
def test_text_dumps_with_stray_bytes_are_recognised_and_read(
    places: list[int], data: st.DataObject
) -> None:
    dump = text_dump(12)
    strays = data.draw(st.lists(st.sampled_from(STRAY), min_size=len(places), max_size=len(places)))
    allowed = _description_offsets(dump[:4096])
    damaged = _sprinkle(dump, places, strays, allowed)
    strays = list(
        {
            allowed[place % len(allowed)]: stray
            for place, stray in zip(places, strays, strict=True)
        }.values()
    )
    kind, note = sniff(damaged[:4096], "NPS_EventLog.log")
    assert kind == SourceKind.WEVTUTIL_TEXT, note
    from npsdiag.sources.text import parse_wevtutil_text

    events, stats = parse_wevtutil_text(damaged, "NPS_EventLog.log")
    assert stats.records_read == 12 and stats.records_failed == 0
    assert [event.fields["SubjectUserName"] for event in events] == [f"user{i}" for i in range(12)]
    really_bad = any(stray in (b"\x00", *UNDEFINED) for stray in strays)
    assert stats.status == ("partial" if really_bad else "ok"), stats.messages
    assert any("U+FFFD" in message for message in stats.messages) == really_bad


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    places=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    data=st.data(),
)
def test_xml_exports_with_stray_bytes_are_recognised_and_read(
    tmp_path_factory: pytest.TempPathFactory, places: list[int], data: st.DataObject
) -> None:
    events = [event_xml(index, data=f"<Data>value {index} marker</Data>") for index in range(1, 6)]
    text = as_document(*events).encode("utf-8")
    strays = data.draw(st.lists(st.sampled_from(STRAY), min_size=len(places), max_size=len(places)))
    # Inside the data values, where a stray byte changes a value, never the markup.
    allowed = [index for index in range(len(text)) if text[index : index + 6] == b"marker"]
    damaged = _sprinkle(text, places, strays, allowed)
    path = tmp_path_factory.mktemp("xml") / "export.xml"
    path.write_bytes(damaged)
    assert sniff(damaged[:4096], path.name)[0] == SourceKind.XML
    (source,) = discover([str(path)]).sources
    stats = source.new_stats()
    read = [event.record_id for event in read_events(source, stats, None)]
    # A NUL is no XML character: that event is damaged, every other one is read.
    with_nul = {
        index + 1 for index, chunk in enumerate(damaged.split(b"</Event>")[:5]) if b"\x00" in chunk
    }
    assert read == [record for record in range(1, 6) if record not in with_nul]
    assert stats.records_failed == len(with_nul)


@pytest.mark.parametrize("stray", [*WINDOWS_1252, *UNDEFINED, b"\xc3"], ids=repr)
def test_registry_dumps_with_stray_bytes_are_recognised_and_parsed(stray: bytes) -> None:
    data = REGISTRY.format(note="caf").encode("utf-8").replace(b"caf", b"caf" + stray)
    assert sniff(data, "AfterRegAdd_AzureMFA.txt")[0] == SourceKind.REGQUERY
    dump = parse_regquery(data, "AfterRegAdd_AzureMFA.txt")
    value = dump.value("HKLM\\SOFTWARE\\Microsoft\\AzureMfa", "TENANT_ID")
    assert value is not None and value.data == "3f1c2b4a-1111-2222-3333-444455556666"


def test_binary_data_is_still_binary() -> None:
    rng = random.Random(11)
    for _ in range(50):
        blob = bytes(rng.randrange(256) for _ in range(4096))
        kind, note = sniff(blob, "blob.bin")
        assert kind == SourceKind.UNKNOWN and "binary data" in note


def test_stray_bytes_through_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dump = text_dump(3)
    first = dump.index(b"Network Policy")
    (tmp_path / "NPS_EventLog.log").write_bytes(dump[:first] + b"\x00\xe9" + dump[first:])
    xml = as_document(event_xml(1, data="<Data>caf\u00e9</Data>")).encode("cp1252")
    (tmp_path / "export.xml").write_bytes(xml.replace(b'encoding="UTF-8"', b""))
    registry = REGISTRY.format(note="caf\u00e9 X").encode("cp1252").replace(b" X\r", b" \x81\r")
    (tmp_path / "AfterRegAdd_AzureMFA.txt").write_bytes(registry)
    code, out, err = run(capsys, "analyze", str(tmp_path), "--json", "-")
    assert code in (0, 1), err
    sources = {Path(item["name"]).name: item for item in json.loads(out)["sources"]}
    assert sources["NPS_EventLog.log"]["kind"] == "wevtutil-text"
    assert (sources["NPS_EventLog.log"]["records_read"], sources["NPS_EventLog.log"]["status"]) == (
        3,
        "partial",
    )
    assert (sources["export.xml"]["kind"], sources["export.xml"]["records_read"]) == ("xml", 1)
    assert sources["AfterRegAdd_AzureMFA.txt"]["kind"] == "regquery"
    assert sources["AfterRegAdd_AzureMFA.txt"]["status"] == "ok"
