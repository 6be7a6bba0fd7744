"""The EVTX writer produces files that two independent parsers read back exactly.

Every file written here is read with evtx-rs (checksums validated) and libevtx
through ``tests/evtx_parsers.py``; both must report zero errors and return exactly
the records that were written. A small structural reader below recomputes the
header and chunk CRCs with zlib and walks the chunk tables on its own.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npsdiag.errors import EvtxWriteError
from npsdiag.synth._binxml import LATEST_TIME, name_hash
from npsdiag.synth.evtx_writer import (
    CHUNK_SIZE,
    FILE_HEADER_SIZE,
    MAX_RECORD_SIZE,
    EvtxWriter,
    write_evtx,
)
from npsdiag.synth.generate import SECURITY_FIELDS
from npsdiag.synth.records import (
    Binary,
    EventRecord,
    HexInt32,
    HexInt64,
    Int32,
    Sid,
    UInt8,
    UInt16,
    UInt64,
    Value,
)
from tests.evtx_parsers import (
    expected_libevtx_record,
    expected_record,
    read_with_evtx_rs,
    read_with_libevtx,
)

CORPUS = Path(__file__).parents[2] / "shared" / "corpus"
UTC = timezone.utc
T0 = datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)
SECURITY_GUID = uuid.UUID("54849625-5478-4994-A5BA-3E3B0328C30D")
#: The 6273 layout of a real export (facts §3.2): the shared fields, then the reason.
FIELDS_6273 = [*SECURITY_FIELDS, "ReasonCode", "Reason", "LoggingResult"]


# --- record builders -------------------------------------------------------------------------


def extension_event(index: int, text: str, **overrides: object) -> EventRecord:
    """An extension message event: one unnamed Data string (AuthZ channels)."""
    fields: dict[str, object] = {
        "provider": "Microsoft-AzureMfa-AuthZ",
        "event_id": 1,
        "level": 4,
        "channel": "AuthZOptCh",
        "computer": "NPS01.contoso.com",
        "time": T0 + timedelta(seconds=index),
        "process_id": 2312,
        "thread_id": 4410 + index,
        "user_sid": "S-1-5-20",
        "data": [text],
    }
    fields.update(overrides)
    return EventRecord(**fields)  # type: ignore[arg-type]


def security_6273(index: int, user: str = "abusby", reason_code: str = "7") -> EventRecord:
    """A Security 6273 with the field names of the real event in the reference."""
    values: list[Value] = [
        Sid("S-1-0-0"),
        user,
        "K12.TX.US",
        f"K12.TX.US\\{user}",
        Sid("S-1-0-0"),
        "-",
        "-",
        "-",
        "00-19-92-0C-E4-E9:NISD_Testing",
        "B8-E8-56-A8-D4-D9",
        "10.250.1.15",
        "-",
        "-",
        "Wireless - IEEE 802.11",
        "0",
        "Testing Access Point",
        "10.250.1.15",
        "BlueSocket Wireless Connections",
        "-",
        "Windows",
        "ADMIN-PDC.nederland.k12.tx.us",
        "PEAP",
        "Microsoft: Secured password (EAP-MSCHAP v2)",
        "-",
        reason_code,
        "The specified domain does not exist.",
        "Accounting information was written to the local log file.",
    ]
    return EventRecord(
        provider="Microsoft-Windows-Security-Auditing",
        provider_guid=SECURITY_GUID,
        event_id=6273,
        version=1,
        level=0,
        task=12552,
        opcode=0,
        keywords=0x8010000000000000,
        channel="Security",
        computer="ADMIN-PDC.nederland.k12.tx.us",
        time=T0 + timedelta(seconds=index, microseconds=index),
        activity_id=uuid.UUID("5965E1C0-DDA7-0003-D8E1-6559A7DDD801"),
        process_id=612,
        thread_id=1480,
        data=list(zip(FIELDS_6273, values, strict=True)),
    )


def varied_records() -> list[EventRecord]:
    """Records that between them use every value type and every optional part."""
    exception_text = (
        "NPS Extension for Azure MFA: CID: 341b704d-03f1-4ba6-ae92-eb19ae2f2bf3 :Exception in "
        "Authentication Ext for User myusername :: ErrorCode:: ESTS_TOKEN_ERROR Msg:: "
        "Error in retreiving token details from request handle: -895352831\n"
        "Trace ID: c5379bf7-9e15-49d0-9541-547b68c95d00\r\n"
        "Correlation ID: e3dfe056-fbdd-4b4b-8852-2d55991e97be\n"
        "Timestamp: 2019-10-17 20:48:29Z <&> \"quoted\" 'single' \t tab"
    )
    return [
        extension_event(0, "NPS Extension for Azure MFA: CID: 32e83cbf : Challenge requested"),
        extension_event(
            1,
            exception_text,
            event_id=3,
            level=1,
            channel="AuthZAdminCh",
            qualifiers=0,
            activity_id=uuid.UUID("0b9e8c3a-1f2d-4e5f-8a9b-0c1d2e3f4a5b"),
            provider_guid=uuid.UUID("7237ED00-E119-430B-AB0F-C63360C8EE81"),
        ),
        security_6273(2),
        extension_event(3, "", user_sid=None, computer="", channel="AuthNOptCh"),
        extension_event(4, "Ünïcödé ☃ 日本語 𝄞 emoji 🙂 and RTL עברית"),
        EventRecord(
            provider="npsdiag-TypedValues",
            event_id=65535,
            qualifiers=0xFFFF,
            version=255,
            level=255,
            task=65535,
            opcode=255,
            keywords=0xFFFFFFFFFFFFFFFF,
            channel="Application",
            computer="nps01",
            time=datetime(2030, 1, 2, 3, 4, 5, 999999, tzinfo=timezone(timedelta(hours=-7))),
            activity_id=uuid.UUID(int=0),
            process_id=0xFFFFFFFF,
            thread_id=0,
            user_sid="S-1-5-21-3623811015-3361044348-30300820-1013",
            data=[
                ("String", "plain"),
                ("Empty", ""),
                ("Null", None),
                ("UInt8", UInt8(255)),
                ("UInt16", UInt16(65535)),
                ("UInt32", 4294967295),
                ("UInt64", UInt64(18446744073709551615)),
                ("Int32", Int32(2147483647)),
                ("Int32Zero", Int32(0)),
                ("HexInt32", HexInt32(0x1F)),
                ("HexInt64", HexInt64(0x4424D)),
                ("HexInt64Max", HexInt64(0xFFFFFFFFFFFFFFFF)),
                ("FileTime", datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)),
                ("Guid", uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")),
                ("Sid", Sid("S-1-5-18")),
                ("Binary", Binary(b"\x00\x01\xab\xff")),
                ("BinaryEmpty", b""),
                ("Name with spaces <&>'", "value"),
                ("名前", "値"),
            ],
        ),
        EventRecord(
            provider="npsdiag-Minimal",
            event_id=0,
            level=0,
            keywords=0,
            channel="System",
            computer="x",
            time=datetime(1601, 1, 1, tzinfo=UTC),
            provider_guid=uuid.UUID(int=(1 << 128) - 1),
        ),
        extension_event(7, "last", time=LATEST_TIME),
    ]


# --- reading helpers -------------------------------------------------------------------------


def assert_reads_back(path: Path, records: Sequence[EventRecord], ids: Sequence[int]) -> None:
    """Both parsers read exactly ``records`` (with ``ids``) and report nothing wrong."""
    rs_records, rs_errors = read_with_evtx_rs(path)
    lib_records, lib_errors = read_with_libevtx(path)
    assert rs_errors == []
    assert lib_errors == []
    assert rs_records == [
        expected_record(record, record_id) for record, record_id in zip(records, ids, strict=True)
    ]
    assert lib_records == [
        expected_libevtx_record(record, record_id)
        for record, record_id in zip(records, ids, strict=True)
    ]


def write_file(path: Path, records: Sequence[EventRecord]) -> list[int]:
    with open(path, "wb") as stream, EvtxWriter(stream) as writer:
        return [writer.write(record) for record in records]


@dataclass
class ChunkView:
    """What the structural reader found in one chunk."""

    first_number: int
    last_number: int
    first_id: int
    last_id: int
    last_offset: int
    free_offset: int
    record_offsets: list[int] = field(default_factory=list)
    record_ids: list[int] = field(default_factory=list)
    inline_templates: list[uuid.UUID] = field(default_factory=list)
    referenced_templates: list[uuid.UUID] = field(default_factory=list)
    table_templates: list[uuid.UUID] = field(default_factory=list)
    table_names: list[str] = field(default_factory=list)


def read_structure(data: bytes) -> tuple[dict[str, int], list[ChunkView]]:
    """Parse the file header and every chunk independently of the writer's code.

    Asserts the invariants a reader relies on: signatures, CRCs, record framing,
    table chains and hash buckets.
    """
    assert data[:8] == b"ElfFile\x00"
    (first_chunk, last_chunk, next_id, header_size, minor, major, block, chunks) = (
        struct.unpack_from("<QQQIHHHH", data, 8)
    )
    (flags, header_crc) = struct.unpack_from("<II", data, 120)
    assert header_crc == zlib.crc32(data[:120])
    assert (header_size, minor, major, block) == (128, 1, 3, FILE_HEADER_SIZE)
    assert data[128:FILE_HEADER_SIZE] == bytes(FILE_HEADER_SIZE - 128)
    assert len(data) == FILE_HEADER_SIZE + chunks * CHUNK_SIZE
    header = {
        "first_chunk": first_chunk,
        "last_chunk": last_chunk,
        "next_record_id": next_id,
        "chunks": chunks,
        "flags": flags,
    }
    views = []
    for index in range(chunks):
        chunk = data[
            FILE_HEADER_SIZE + index * CHUNK_SIZE : FILE_HEADER_SIZE + (index + 1) * CHUNK_SIZE
        ]
        assert chunk[:8] == b"ElfChnk\x00"
        fields = struct.unpack_from("<QQQQIIII", chunk, 8)
        view = ChunkView(
            first_number=fields[0],
            last_number=fields[1],
            first_id=fields[2],
            last_id=fields[3],
            last_offset=fields[5],
            free_offset=fields[6],
        )
        assert fields[4] == 128
        assert fields[7] == zlib.crc32(chunk[512 : view.free_offset])
        (chunk_flags, chunk_crc) = struct.unpack_from("<II", chunk, 120)
        assert chunk_flags == 1
        assert chunk_crc == zlib.crc32(chunk[:120] + chunk[128:512])
        assert chunk[view.free_offset :] == bytes(CHUNK_SIZE - view.free_offset)
        _walk_records(chunk, view)
        _walk_tables(chunk, view)
        views.append(view)
    return header, views


def _walk_records(chunk: bytes, view: ChunkView) -> None:
    offset = 512
    while offset < view.free_offset:
        signature, size, record_id = struct.unpack_from("<IIQ", chunk, offset)
        assert signature == 0x2A2A
        assert size % 8 == 0
        assert struct.unpack_from("<I", chunk, offset + size - 4)[0] == size
        binxml = offset + 24
        assert chunk[binxml : binxml + 4] == b"\x0f\x01\x01\x00"
        token, _, template_id, definition = struct.unpack_from("<BBII", chunk, binxml + 4)
        assert token == 0x0C
        guid = uuid.UUID(bytes_le=chunk[definition + 4 : definition + 20])
        assert template_id == struct.unpack_from("<I", chunk, definition + 4)[0]
        if definition == binxml + 14:
            view.inline_templates.append(guid)
        else:
            assert definition < offset, "a template is referenced before its definition"
            view.referenced_templates.append(guid)
        view.record_offsets.append(offset)
        view.record_ids.append(record_id)
        offset += size
    assert offset == view.free_offset


def _walk_tables(chunk: bytes, view: ChunkView) -> None:
    for bucket, head in enumerate(struct.unpack_from("<64I", chunk, 128)):
        offset = head
        while offset:
            next_offset, stored_hash, length = struct.unpack_from("<IHH", chunk, offset)
            name = chunk[offset + 8 : offset + 8 + 2 * length].decode("utf-16-le")
            assert chunk[offset + 8 + 2 * length : offset + 10 + 2 * length] == b"\x00\x00"
            assert stored_hash == name_hash(name)
            assert stored_hash % 64 == bucket
            view.table_names.append(name)
            offset = next_offset
    for bucket, head in enumerate(struct.unpack_from("<32I", chunk, 384)):
        offset = head
        while offset:
            guid_le = chunk[offset + 4 : offset + 20]
            value = 0
            for (word,) in struct.iter_unpack("<H", guid_le):
                value = (value * 65599 + word) & 0xFFFFFFFF
            assert value % 32 == bucket
            view.table_templates.append(uuid.UUID(bytes_le=guid_le))
            offset = struct.unpack_from("<I", chunk, offset)[0]


# --- round trips -----------------------------------------------------------------------------


def test_every_field_round_trips_through_both_parsers(tmp_path: Path) -> None:
    records = varied_records()
    path = tmp_path / "varied.evtx"
    ids = write_file(path, records)
    assert ids == list(range(1, len(records) + 1))
    assert_reads_back(path, records, ids)


def test_nps_6273_reads_back_as_the_reference_event(tmp_path: Path) -> None:
    path = tmp_path / "security.evtx"
    write_evtx(path, [security_6273(0)])
    (record,), errors = read_with_evtx_rs(path)
    assert errors == []
    assert record["provider"] == "Microsoft-Windows-Security-Auditing"
    assert record["provider_guid"] == "54849625-5478-4994-A5BA-3E3B0328C30D"
    assert (record["event_id"], record["task"], record["keywords"]) == (
        6273,
        12552,
        0x8010000000000000,
    )
    assert [name for name, _ in record["data"]] == FIELDS_6273
    assert dict(record["data"])["ReasonCode"] == "7"


def test_none_optional_parts_are_omitted_not_emptied(tmp_path: Path) -> None:
    path = tmp_path / "optional.evtx"
    write_evtx(path, [extension_event(0, "x", user_sid=None)])
    import pyevtx

    log = pyevtx.file()
    log.open(str(path))
    xml = log.get_record(0).xml_string
    log.close()
    assert "Qualifiers" not in xml
    assert "ActivityID" not in xml
    assert "UserID" not in xml
    assert "Guid" not in xml
    assert "<Correlation/>" in xml
    assert "<Security/>" in xml


def test_known_libevtx_defects_are_what_the_helper_predicts(tmp_path: Path) -> None:
    # evtx-rs reads these exactly; libevtx mangles them in the documented way. If a
    # libevtx release fixes them, this test says so.
    record = extension_event(
        0, "x", channel="\n", computer="\n", data=[Int32(-5), Int32(-1), Int32(-(1 << 31)), "\n"]
    )
    path = tmp_path / "defects.evtx"
    write_evtx(path, [record])
    (rs,), rs_errors = read_with_evtx_rs(path)
    (lib,), lib_errors = read_with_libevtx(path)
    assert rs_errors == lib_errors == []
    assert rs == expected_record(record, 1)
    assert (rs["channel"], rs["computer"]) == ("\n", "\n")
    assert rs["data"] == ["-5", "-1", "-2147483648", "\n"]
    assert (lib["channel"], lib["computer"]) == ("", "")
    assert lib["data"] == ["-2147483643", "-2147483647", "-2147483648", ""]
    assert lib == expected_libevtx_record(record, 1)


def test_empty_string_and_none_render_alike(tmp_path: Path) -> None:
    named = extension_event(0, "", data=[("a", ""), ("b", None)])
    unnamed = extension_event(1, "", data=["", None, "-"])
    path = tmp_path / "empty.evtx"
    write_evtx(path, [named, unnamed])
    rs_records, _ = read_with_evtx_rs(path)
    assert rs_records[0]["data"] == [("a", ""), ("b", "")]
    assert rs_records[1]["data"] == ["", "", "-"]
    assert_reads_back(path, [named, unnamed], [1, 2])


def test_zero_records_make_a_valid_empty_log(tmp_path: Path) -> None:
    path = tmp_path / "empty.evtx"
    assert write_evtx(path, []) == 0
    header, chunks = read_structure(path.read_bytes())
    assert header == {
        "first_chunk": 0,
        "last_chunk": 0,
        "next_record_id": 1,
        "chunks": 1,
        "flags": 0,
    }
    assert chunks[0].free_offset == 512
    assert chunks[0].record_ids == []
    assert_reads_back(path, [], [])


# --- many records, many chunks ---------------------------------------------------------------


def many_records(count: int) -> list[EventRecord]:
    records: list[EventRecord] = []
    for index in range(count):
        kind = index % 7
        if kind == 6:
            records.append(
                security_6273(index, user=f"user{index % 97}", reason_code=str(index % 300))
            )
        elif kind == 5:
            records.append(
                extension_event(
                    index,
                    f"NPS Extension for Azure MFA: CID: {uuid.UUID(int=index)} :Exception in "
                    f"Authentication Ext for User user{index}@contoso.com :: ErrorCode:: "
                    "ESTS_TOKEN_ERROR Msg:: Verify the client certificate",
                    event_id=3,
                    level=1,
                    channel="AuthZAdminCh",
                )
            )
        else:
            records.append(
                extension_event(
                    index,
                    f"NPS Extension for Azure MFA: CID: {uuid.UUID(int=index)} : Challenge "
                    f"requested in Authentication Ext for User user{index}@contoso.com with "
                    f"state {uuid.UUID(int=index + 1)}",
                )
            )
    return records


@pytest.mark.slow
def test_more_than_ten_thousand_records_over_many_chunks(tmp_path: Path) -> None:
    records = many_records(12_000)
    path = tmp_path / "many.evtx"
    ids = write_file(path, records)
    assert ids == list(range(1, 12_001))

    header, chunks = read_structure(path.read_bytes())
    assert header["chunks"] == len(chunks) > 20
    assert header["last_chunk"] == len(chunks) - 1
    assert header["next_record_id"] == 12_001
    assert header["flags"] == 0

    expected_next = 1
    template_guids: set[uuid.UUID] = set()
    for chunk in chunks:
        # Record numbers and ids run on from chunk to chunk without gaps.
        assert chunk.record_ids == list(range(expected_next, expected_next + len(chunk.record_ids)))
        assert (chunk.first_number, chunk.first_id) == (expected_next, expected_next)
        assert chunk.last_number == chunk.last_id == chunk.record_ids[-1]
        assert chunk.last_offset == chunk.record_offsets[-1]
        expected_next = chunk.last_id + 1
        # Each template is defined once per chunk, on first use, listed once in the
        # template table, and every later record refers back to it.
        assert len(chunk.inline_templates) == len(set(chunk.inline_templates))
        assert sorted(map(str, chunk.inline_templates)) == sorted(map(str, chunk.table_templates))
        assert set(chunk.referenced_templates) <= set(chunk.inline_templates)
        assert len(chunk.referenced_templates) > 10 * len(chunk.inline_templates)
        # Names are written once per chunk and all linked from the string table.
        assert len(chunk.table_names) == len(set(chunk.table_names))
        assert {"Event", "System", "EventData", "Data", "Name", "Provider"} <= set(
            chunk.table_names
        )
        template_guids.update(chunk.inline_templates)
    # Three shapes, hence three templates, re-used (same GUID) in every chunk.
    assert len(template_guids) == 3
    assert all(len(chunk.inline_templates) <= 3 for chunk in chunks)

    assert_reads_back(path, records, ids)


def test_records_fill_chunks_to_the_limit(tmp_path: Path) -> None:
    # The largest record that fits an empty chunk, next to small ones.
    def sized(length: int) -> EventRecord:
        return extension_event(0, "é" * length)

    low, high = 1, 40_000
    while low < high:
        middle = (low + high + 1) // 2
        try:
            write_evtx(io.BytesIO(), [sized(middle)])
            low = middle
        except EvtxWriteError:
            high = middle - 1
    largest = sized(low)
    records = [sized(10), largest, sized(5), largest, sized(low - 500)]
    path = tmp_path / "full.evtx"
    ids = write_file(path, records)
    _, chunks = read_structure(path.read_bytes())
    assert [chunk.record_ids for chunk in chunks] == [[1], [2], [3], [4], [5]]
    assert max(chunk.free_offset for chunk in chunks) == 512 + MAX_RECORD_SIZE
    assert_reads_back(path, records, ids)

    with pytest.raises(EvtxWriteError, match=r"record 1 \(EventRecordID 1\): needs 65024 bytes"):
        write_evtx(io.BytesIO(), [sized(low + 1)])


def test_explicit_record_ids_may_leave_gaps(tmp_path: Path) -> None:
    records = [
        extension_event(0, "a", record_id=5000),
        extension_event(1, "b"),
        extension_event(2, "c", record_id=9000),
        extension_event(3, "d", record_id=(1 << 64) - 3),
        extension_event(4, "e"),
    ]
    path = tmp_path / "gaps.evtx"
    ids = write_file(path, records)
    assert ids == [5000, 5001, 9000, (1 << 64) - 3, (1 << 64) - 2]
    header, chunks = read_structure(path.read_bytes())
    assert chunks[0].record_ids == ids
    assert (chunks[0].first_number, chunks[0].last_number) == (1, 5)
    assert (chunks[0].first_id, chunks[0].last_id) == (5000, (1 << 64) - 2)
    assert header["next_record_id"] == (1 << 64) - 1
    assert_reads_back(path, records, ids)


# --- determinism and checksums ---------------------------------------------------------------


def test_identical_input_gives_identical_bytes(tmp_path: Path) -> None:
    records = varied_records() + many_records(300)
    first = io.BytesIO()
    write_evtx(first, records)
    path = tmp_path / "again.evtx"
    write_evtx(path, records)
    assert path.read_bytes() == first.getvalue()


def test_output_does_not_depend_on_the_process(tmp_path: Path) -> None:
    script = (
        "import sys, tests.test_evtx_writer as t\n"
        "from npsdiag.synth.evtx_writer import write_evtx\n"
        "write_evtx(sys.argv[1], t.varied_records() + t.many_records(200))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"run{seed}.evtx"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-c", script, str(out)],
            check=True,
            env=env,
            cwd=Path(__file__).parents[1],
        )
        outputs.append(out.read_bytes())
    expected = io.BytesIO()
    write_evtx(expected, varied_records() + many_records(200))
    assert outputs[0] == outputs[1] == expected.getvalue()


def test_header_and_chunk_checksums(tmp_path: Path) -> None:
    path = tmp_path / "crc.evtx"
    write_evtx(path, many_records(1500))
    data = path.read_bytes()
    assert struct.unpack_from("<I", data, 124)[0] == zlib.crc32(data[:120])
    chunks = (len(data) - FILE_HEADER_SIZE) // CHUNK_SIZE
    assert chunks == struct.unpack_from("<H", data, 42)[0] > 1
    for index in range(chunks):
        chunk = data[FILE_HEADER_SIZE + index * CHUNK_SIZE :][:CHUNK_SIZE]
        free = struct.unpack_from("<I", chunk, 48)[0]
        assert struct.unpack_from("<I", chunk, 52)[0] == zlib.crc32(chunk[512:free])
        assert struct.unpack_from("<I", chunk, 124)[0] == zlib.crc32(chunk[:120] + chunk[128:512])


def test_the_parsers_catch_a_damaged_chunk(tmp_path: Path) -> None:
    # Proves the round-trip checks can fail: one flipped bit in the records of the
    # second chunk makes both parsers complain.
    path = tmp_path / "damaged.evtx"
    write_evtx(path, many_records(400))
    data = bytearray(path.read_bytes())
    data[FILE_HEADER_SIZE + CHUNK_SIZE + 4000] ^= 0x01
    path.write_bytes(bytes(data))
    rs_records, rs_errors = read_with_evtx_rs(path)
    _, lib_errors = read_with_libevtx(path)
    assert any("CRC32" in error for error in rs_errors)
    assert len(rs_records) < 400
    assert lib_errors == ["libevtx: file is flagged corrupted"]


# --- property test ---------------------------------------------------------------------------

# Everything the writer accepts: any Unicode scalar except U+0000 (refused) and lone
# surrogates (not encodable).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
LONG_TEXT = st.builds(
    lambda char, count: char * count,
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00", max_codepoint=0xFFFF),
    st.integers(0, 30_000),
)
# Provider and Data names: the writer also refuses "", '"' and a lone line feed, also after
# the one leading U+FEFF that libevtx drops.
NAME = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters='\x00"'), min_size=1, max_size=40
).filter(lambda text: text.removeprefix("\ufeff") not in ("", "\n"))
TIMES = st.datetimes(
    min_value=datetime(1601, 1, 2),
    max_value=datetime(9999, 12, 29),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    ),
)
GUIDS = st.builds(uuid.UUID, int=st.integers(0, (1 << 128) - 1))
SIDS = st.builds(
    lambda authority, subs: "-".join(["S-1", str(authority), *map(str, subs)]),
    st.integers(0, (1 << 48) - 1),
    st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
)
VALUES: st.SearchStrategy[Value] = st.one_of(
    TEXT,
    st.none(),
    st.integers(0, 0xFFFFFFFF),
    st.builds(UInt8, st.integers(0, 0xFF)),
    st.builds(UInt16, st.integers(0, 0xFFFF)),
    st.builds(UInt64, st.integers(0, (1 << 64) - 1)),
    st.builds(Int32, st.integers(-(1 << 31), (1 << 31) - 1)),
    st.builds(HexInt32, st.integers(0, 0xFFFFFFFF)),
    st.builds(HexInt64, st.integers(0, (1 << 64) - 1)),
    TIMES,
    GUIDS,
    st.builds(Sid, SIDS),
    st.builds(Binary, st.binary(max_size=64)),
)


@st.composite
def records(draw: st.DrawFn) -> EventRecord:
    values = draw(st.lists(VALUES, max_size=8))
    if draw(st.booleans()):
        values.append(draw(LONG_TEXT))
    data: list[tuple[str, Value]] | list[Value]
    if draw(st.booleans()):
        names = draw(st.lists(NAME, min_size=len(values), max_size=len(values)))
        data = list(zip(names, values, strict=True))
    else:
        data = values
    return EventRecord(
        provider=draw(NAME),
        provider_guid=draw(st.none() | GUIDS),
        event_id=draw(st.integers(0, 0xFFFF)),
        qualifiers=draw(st.none() | st.integers(0, 0xFFFF)),
        version=draw(st.integers(0, 0xFF)),
        level=draw(st.integers(0, 0xFF)),
        task=draw(st.integers(0, 0xFFFF)),
        opcode=draw(st.integers(0, 0xFF)),
        keywords=draw(st.integers(0, (1 << 64) - 1)),
        time=draw(TIMES),
        channel=draw(TEXT),
        computer=draw(TEXT),
        activity_id=draw(st.none() | GUIDS),
        process_id=draw(st.integers(0, 0xFFFFFFFF)),
        thread_id=draw(st.integers(0, 0xFFFFFFFF)),
        user_sid=draw(st.none() | SIDS),
        data=data,
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=4))
def test_property_anything_accepted_reads_back_exactly(batch: list[EventRecord]) -> None:
    stream = io.BytesIO()
    write_evtx(stream, batch)
    # Parsers want a path; a fresh temporary file per example keeps examples apart.
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "property.evtx"
        path.write_bytes(stream.getvalue())
        read_structure(path.read_bytes())
        assert_reads_back(path, batch, list(range(1, len(batch) + 1)))


# --- refusals --------------------------------------------------------------------------------

NAIVE = datetime(2024, 1, 1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"time": NAIVE}, r"time: datetime 2024-01-01T00:00:00 is naive"),
        ({"time": datetime(1600, 12, 31, tzinfo=UTC)}, r"before 1601-01-01"),
        ({"time": datetime(9999, 12, 31, tzinfo=UTC)}, r"the last time evtx-rs can render"),
        ({"time": "2024-01-01"}, r"time: expected a datetime, got str"),
        ({"event_id": 65536}, r"event_id 65536 is out of range for UInt16 \(0\.\.65535\)"),
        ({"event_id": -1}, r"event_id -1 is out of range"),
        ({"qualifiers": 70000}, r"qualifiers 70000 is out of range for UInt16"),
        ({"version": 256}, r"version 256 is out of range for UInt8"),
        ({"level": 256}, r"level 256 is out of range for UInt8"),
        ({"task": 1 << 16}, r"task 65536 is out of range"),
        ({"opcode": -1}, r"opcode -1 is out of range"),
        ({"keywords": 1 << 64}, r"keywords 18446744073709551616 is out of range for HexInt64"),
        ({"process_id": 1 << 32}, r"process_id 4294967296 is out of range for UInt32"),
        ({"thread_id": -1}, r"thread_id -1 is out of range"),
        ({"level": True}, r"level must be an int, not bool"),
        ({"level": "4"}, r"level must be an int, not str"),
        ({"user_sid": "S-1-5-"}, r"user_sid: 'S-1-5-' is not a SID"),
        ({"user_sid": "S-2-5-18"}, r"is not a SID"),
        ({"user_sid": "S-1-05-18"}, r"is not a SID"),
        ({"user_sid": "S-1-281474976710656"}, r"authority 281474976710656 does not fit"),
        ({"user_sid": "S-1-5-4294967296"}, r"sub-authority 4294967296 does not fit"),
        ({"user_sid": "S-1-5" + "-1" * 16}, r"16 sub-authorities, at most 15"),
        ({"activity_id": "not-a-guid"}, r"activity_id: 'not-a-guid' is not a GUID"),
        ({"provider_guid": "{1234}"}, r"provider_guid: '\{1234\}' is not a GUID"),
        ({"provider": ""}, r"provider: must not be empty"),
        ({"provider": 'Quote"d'}, r"contains '\"'"),
        ({"provider": "\n"}, r"just a line feed"),
        ({"channel": "a\x00b"}, r"channel: contains U\+0000"),
        ({"computer": "bad \ud800 surrogate"}, r"character 4 is a lone surrogate \(U\+D800\)"),
        ({"computer": "x" * 32768}, r"computer: string is 65536 bytes in UTF-16, more than"),
        ({"data": [("", "v")]}, r"Data '': must not be empty"),
        ({"data": [('a"b', "v")]}, r"Data 'a\"b': 'a\"b' contains"),
        ({"data": [("ok", 1.5)]}, r"Data 'ok': float is not an event value type"),
        ({"data": [1.5]}, r"Data #1: float is not an event value type"),
        ({"data": [True]}, r"Data #1: value must be an int, not bool"),
        ({"data": ["ok", -1]}, r"Data #2: value -1 is out of range for UInt32 \(plain int\)"),
        ({"data": [UInt8(256)]}, r"value 256 is out of range for UInt8"),
        ({"data": [UInt16(-1)]}, r"out of range for UInt16"),
        ({"data": [UInt64(1 << 64)]}, r"out of range for UInt64"),
        ({"data": [Int32(1 << 31)]}, r"out of range for Int32"),
        ({"data": [HexInt32(1 << 32)]}, r"out of range for HexInt32"),
        ({"data": [HexInt64(-1)]}, r"out of range for HexInt64"),
        ({"data": [NAIVE]}, r"Data #1: datetime .* is naive"),
        ({"data": [Sid("S-1")]}, r"Data #1: 'S-1' is not a SID"),
        ({"data": ["\ud83d"]}, r"lone surrogate"),
        ({"data": ["nul\x00"]}, r"U\+0000"),
        ({"data": ["x" * 32768]}, r"string is 65536 bytes in UTF-16, more than the 65535"),
        ({"data": [b"x" * 65536]}, r"binary value is 65536 bytes"),
        ({"data": "abc"}, r"data must be a sequence"),
        ({"record_id": 0}, r"record_id 0 is not greater than the previous EventRecordID 1"),
        ({"record_id": 1 << 64}, r"record_id 18446744073709551616 is out of range"),
        ({"record_id": "7"}, r"record_id must be an int"),
    ],
)
def test_refusals_name_the_record_and_the_problem(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    good = extension_event(0, "before")
    bad = replace(extension_event(1, "bad"), **changes)  # type: ignore[arg-type]
    after = extension_event(2, "after")
    path = tmp_path / "refusal.evtx"
    with open(path, "wb") as stream, EvtxWriter(stream) as writer:
        assert writer.write(good) == 1
        with pytest.raises(EvtxWriteError, match=message) as raised:
            writer.write(bad)
        assert str(raised.value).startswith("record 2")
        # The refused record left nothing behind: the next one takes its place.
        assert writer.write(after) == 2
    assert_reads_back(path, [good, after], [1, 2])


def test_record_ids_must_ascend() -> None:
    with EvtxWriter(io.BytesIO()) as writer:
        writer.write(extension_event(0, "a", record_id=10))
        with pytest.raises(EvtxWriteError, match=r"record 2: record_id 10 is not greater than"):
            writer.write(extension_event(1, "b", record_id=10))
        with pytest.raises(EvtxWriteError, match=r"record_id 3 is not greater"):
            writer.write(extension_event(1, "b", record_id=3))
        assert writer.write(extension_event(1, "b")) == 11


def test_record_id_cannot_pass_the_largest_id() -> None:
    with EvtxWriter(io.BytesIO()) as writer:
        writer.write(extension_event(0, "a", record_id=(1 << 64) - 2))
        with pytest.raises(EvtxWriteError, match=r"out of range \(1\.\.18446744073709551614\)"):
            writer.write(extension_event(1, "b"))


def test_refused_record_leaves_no_file_at_a_path(tmp_path: Path) -> None:
    path = tmp_path / "out.evtx"
    with pytest.raises(EvtxWriteError, match=r"record 3 .*naive"):
        write_evtx(
            path,
            [extension_event(0, "a"), extension_event(1, "b"), extension_event(2, "c", time=NAIVE)],
        )
    assert list(tmp_path.iterdir()) == []


def test_refused_record_keeps_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.evtx"
    write_evtx(path, [extension_event(0, "old")])
    before = path.read_bytes()
    with pytest.raises(EvtxWriteError):
        write_evtx(path, [extension_event(0, "new", level=300)])
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_failed_stream_keeps_its_dirty_provisional_header() -> None:
    stream = io.BytesIO()
    with pytest.raises(EvtxWriteError):
        write_evtx(stream, [*many_records(500), extension_event(0, "x", level=-1)])
    data = stream.getvalue()
    chunks, flags = struct.unpack_from("<H", data, 42)[0], struct.unpack_from("<I", data, 120)[0]
    assert (chunks, flags) == (0, 1)  # says: not finished


def test_closed_writer_refuses_more_records() -> None:
    writer = EvtxWriter(io.BytesIO())
    writer.close()
    writer.close()  # harmless
    with pytest.raises(EvtxWriteError, match="closed"):
        writer.write(extension_event(0, "x"))


def test_unseekable_stream_is_refused() -> None:
    class Pipe(io.RawIOBase):
        def writable(self) -> bool:
            return True

    with pytest.raises(EvtxWriteError, match="seekable"):
        EvtxWriter(Pipe())  # type: ignore[arg-type]


def test_unwritable_path_is_an_evtx_write_error(tmp_path: Path) -> None:
    with pytest.raises(EvtxWriteError, match="cannot write"):
        write_evtx(tmp_path / "missing" / "out.evtx", [extension_event(0, "x")])


def test_writer_starts_at_the_stream_position() -> None:
    stream = io.BytesIO()
    stream.write(b"prefix")
    write_evtx(stream, [extension_event(0, "x")])
    data = stream.getvalue()
    assert data[:6] == b"prefix"
    read_structure(data[6:])


# --- fidelity to real logs -------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_template_bucket_rule_matches_real_logs() -> None:
    # The writer files templates under hash(GUID words) % 32; real chunks agree.
    path = CORPUS / "omerbenamram+evtx" / "samples" / "security.evtx"
    if not path.is_file():
        pytest.skip("security.evtx sample not present")
    data = path.read_bytes()
    checked = 0
    for index in range(struct.unpack_from("<H", data, 42)[0]):
        chunk = data[FILE_HEADER_SIZE + index * CHUNK_SIZE :][:CHUNK_SIZE]
        view = ChunkView(0, 0, 0, 0, 0, 0)
        _walk_tables(chunk, view)  # asserts bucket == hash % 64 / % 32 for every entry
        checked += len(view.table_templates)
    assert checked > 100
