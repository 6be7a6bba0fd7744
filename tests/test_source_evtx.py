"""The .evtx reader: complete, honest counts on real files; exact events; damage never fatal."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import evtx
import pytest

from npsdiag.model import Event, SourceStats
from npsdiag.sources import Source, discover, read_events
from npsdiag.sources.evtx import event_from_json
from npsdiag.synth.evtx_writer import write_evtx
from npsdiag.synth.records import EventRecord, HexInt64, Sid

CORPUS = Path(__file__).parents[2] / "shared" / "corpus"
CORPUS_FILES = sorted(CORPUS.rglob("*.evtx")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS_FILES, reason="shared corpus not present")
ZEROED = re.compile(r"Failed to parse chunk number \d+: .*found `\[\s*0(?:,\s*0){7}\s*\]`")
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


def source_for(path: Path) -> Source:
    return Source(name=str(path), path=path, kind="evtx", size=path.stat().st_size)


def read(path: Path, relevant: Any = None) -> tuple[list[Event], SourceStats]:
    source = source_for(path)
    stats = source.new_stats()
    events = list(read_events(source, stats, relevant))
    return events, stats


def parse_directly(path: Path) -> dict[str, Any]:
    """What the evtx package itself yields for a file: the expectation of every count."""
    ok = errors = zeroed = 0
    times: list[str] = []
    records = evtx.PyEvtxParser(str(path), number_of_threads=1).records_json()
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except RuntimeError as error:
            errors += 1
            zeroed += bool(ZEROED.search(str(error)))
            continue
        assert record is not None
        ok += 1
        system = json.loads(record["data"])["Event"]["System"]
        created = (system.get("TimeCreated") or {}).get("#attributes", {}).get("SystemTime")
        if created and not created.startswith("1601-01-01T00:00:00"):
            times.append(created)
    return {"ok": ok, "errors": errors, "zeroed": zeroed, "times": times}


def utc(text: str) -> datetime:
    digits = re.match(r"(.{19})(?:\.(\d+))?Z", text)
    assert digits is not None, text
    fraction = (digits[2] or "")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{digits[1]}.{fraction}+00:00")


# --- the real corpus --------------------------------------------------------------------------


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_counts_agree_with_the_parser(path: Path) -> None:
    expected = parse_directly(path)
    events, stats = read(path)
    assert stats.records_read == expected["ok"]
    assert stats.records_failed == expected["errors"] - expected["zeroed"]
    assert stats.records_relevant == len(events) == stats.records_read
    assert all(event.origin == str(path) for event in events)
    if expected["zeroed"]:
        assert any(f"{expected['zeroed']} chunk" in m for m in stats.messages)
    if expected["times"]:
        assert stats.first_time == min(utc(text) for text in expected["times"])
        assert stats.last_time == max(utc(text) for text in expected["times"])
    assert stats.status in ("ok", "partial")
    if stats.records_failed or (path.stat().st_size - 4096) % 65536:
        assert stats.status == "partial"
    for message in stats.messages:
        assert "\n" not in message


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_with_a_filter_that_wants_nothing_still_counts_everything(path: Path) -> None:
    asked: list[tuple[str, str, int]] = []

    def nothing(channel: str, provider: str, event_id: int) -> bool:
        asked.append((channel, provider, event_id))
        return False

    everything, full = read(path)
    events, stats = read(path, nothing)
    assert events == []
    assert stats.records_relevant == 0
    assert (stats.records_read, stats.records_failed) == (full.records_read, full.records_failed)
    assert (stats.first_time, stats.last_time) == (full.first_time, full.last_time)
    # The filter saw exactly the identities of the records, without decoding them.
    identities = {(e.channel, e.provider, e.event_id) for e in everything}
    assert set(asked) == identities
    assert len(asked) <= len(everything)


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_fast_path_equals_full_decoding(path: Path) -> None:
    """The string-search path gives exactly what decoding the whole record gives."""
    events, _ = read(path)
    decoder = json.JSONDecoder(object_pairs_hook=_keep_repeats, parse_int=str, parse_float=str)
    full: list[Event] = []
    records = evtx.PyEvtxParser(str(path), number_of_threads=1).records_json()
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except RuntimeError:
            continue
        assert record is not None
        full.append(event_from_json(decoder.decode(record["data"]), record["timestamp"], str(path)))
    assert [_comparable(e) for e in events] == [_comparable(e) for e in full]


def _keep_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        key, index = name, 0
        while key in result:
            index += 1
            key = f"{name}_{index}"
        result[key] = value
    return result


def _comparable(event: Event) -> tuple[Any, ...]:
    return (
        event.time,
        event.channel,
        event.provider,
        event.event_id,
        event.level,
        event.computer,
        event.record_id,
        dict(event.fields),
        event.data,
        event.message,
        event.qualifiers,
        event.keywords,
    )


@needs_corpus
@pytest.mark.corpus
def test_zero_filled_chunks_are_a_note_not_failures() -> None:
    path = CORPUS / "omerbenamram+evtx" / "samples" / "sample_with_a_bad_chunk_magic.evtx"
    if not path.is_file():
        pytest.skip("fixture not in this corpus")
    _, stats = read(path)
    assert (stats.records_read, stats.records_failed, stats.status) == (270, 0, "ok")
    assert stats.messages == [
        "2 chunks with an all-zero header skipped (chunk 6, 10): space Windows left unused "
        "or wiped, not counted as failed records"
    ]


@needs_corpus
@pytest.mark.corpus
def test_record_errors_name_the_record_and_reading_goes_on() -> None:
    path = (
        CORPUS
        / "omerbenamram+evtx"
        / "samples"
        / "2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx"
    )
    if not path.is_file():
        pytest.skip("fixture not in this corpus")
    _, stats = read(path)
    assert (stats.records_read, stats.records_failed, stats.status) == (1910, 4, "partial")
    assert stats.messages[0].startswith("record 6335011: cannot be decoded (buffer too small")
    assert stats.messages[1].startswith("record ")


@needs_corpus
@pytest.mark.corpus
def test_truncated_copy_keeps_whole_chunks(tmp_path: Path) -> None:
    original = CORPUS / "log2timeline+plaso" / "test_data" / "evtx" / "System.evtx"
    if not original.is_file():
        pytest.skip("fixture not in this corpus")
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(original.read_bytes()[:100_000])
    expected = parse_directly(cut)
    events, stats = read(cut)
    assert expected["ok"] > 0
    assert stats.records_read == len(events) == expected["ok"]
    assert stats.status == "partial"
    assert any("cut short" in message for message in stats.messages)


@needs_corpus
@pytest.mark.corpus
def test_stopping_early_still_settles_the_accounting() -> None:
    path = CORPUS / "omerbenamram+evtx" / "samples" / "security.evtx"
    if not path.is_file():
        pytest.skip("fixture not in this corpus")
    source = source_for(path)
    stats = source.new_stats()
    stream = read_events(source, stats, None)
    first = [next(stream) for _ in range(10)]
    stream.close()  # type: ignore[attr-defined]
    assert len(first) == 10
    assert stats.records_read == stats.records_relevant == 10
    assert stats.first_time is not None and stats.status == "ok"


# --- damaged and hostile files ----------------------------------------------------------------


def test_zero_byte_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "empty.evtx"
    path.write_bytes(b"")
    events, stats = read(path)
    assert events == []
    assert stats.status == "unreadable"
    assert "cannot open as an EVTX file" in stats.messages[0]


def test_random_bytes_named_evtx(tmp_path: Path) -> None:
    path = tmp_path / "random.evtx"
    path.write_bytes(os.urandom(70_000))
    assert discover([str(path)]).sources == []  # discovery never hands it to the reader
    events, stats = read(path)  # and the reader copes when asked anyway
    assert events == []
    assert stats.status == "unreadable"
    assert len(stats.messages) == 1


def test_text_file_named_evtx(tmp_path: Path) -> None:
    path = tmp_path / "notes.evtx"
    path.write_text("these are not events\n", encoding="utf-8")
    (skipped,) = discover([str(path)]).skipped
    assert skipped.status == "skipped"
    assert "named .evtx but has no EVTX header" in skipped.messages[0]
    _, stats = read(path)
    assert stats.status == "unreadable"


def test_header_without_chunks_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "header-only.evtx"
    path.write_bytes(b"ElfFile\x00" + bytes(4088))
    events, stats = read(path)
    assert events == []
    assert stats.status == "unreadable"
    assert any("no event chunk" in message for message in stats.messages)


@pytest.mark.parametrize("size", [100, 5000, 70_000, 200_000])
def test_evtx_magic_then_garbage_never_crashes(tmp_path: Path, size: int) -> None:
    path = tmp_path / "garbage.evtx"
    path.write_bytes(b"ElfFile\x00" + os.urandom(size))
    events, stats = read(path)
    assert events == []
    assert stats.status == "unreadable"
    assert stats.messages


# --- round trip through the project's EVTX writer -----------------------------------------------

EXTENSION_TEXT = (
    "NPS Extension for Azure MFA:  CID: 32e83cbf-484d-49aa-9adb-71528f5eb94d : Challenge "
    "requested in Authentication Ext for User alice@contoso.com with state "
    "300c9d6c-7734-4165-83d3-212e73aee286"
)
HOSTILE = '<script>alert("x")</script> & \t tab \r\n line \x1b[31m\x07 \\ "quoted" ü 漢 \U0001f600'


def nps_records() -> list[EventRecord]:
    return [
        EventRecord(
            provider="Microsoft-AzureMfa-AuthZ",
            event_id=1,
            time=T0,
            channel="AuthZOptCh",
            computer="nps01.contoso.com",
            data=(EXTENSION_TEXT,),
            level=4,
            record_id=101,
            user_sid=Sid("S-1-5-20"),
        ),
        EventRecord(
            provider="Microsoft-Windows-Security-Auditing",
            event_id=6273,
            time=T0.replace(second=5, microsecond=123456),
            channel="Security",
            computer="nps01.contoso.com",
            data=(
                ("SubjectUserName", "alice"),
                ("Reason", HOSTILE),
                ("ReasonCode", 16),
                ("Reason", "second value under the same name"),
                ("Empty", ""),
            ),
            keywords=HexInt64(0x8010000000000000),
            record_id=102,
        ),
        EventRecord(
            provider="Service Control Manager",
            event_id=7036,
            time=T0.replace(second=9),
            channel="System",
            computer="nps01.contoso.com",
            data=("Network Policy Server", "running"),
            qualifiers=16384,
            record_id=103,
        ),
        EventRecord(
            provider="Microsoft-AzureMfa-AuthZ",
            event_id=3,
            time=T0.replace(second=2),
            channel="AuthZAdminCh",
            computer="nps01.contoso.com",
            data=("x" * 20_000 + HOSTILE,),
            level=1,
            record_id=104,
        ),
    ]


def test_round_trip_through_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "nps.evtx"
    write_evtx(path, nps_records())
    events, stats = read(path)
    assert (stats.records_read, stats.records_relevant, stats.records_failed) == (4, 4, 0)
    assert stats.status == "ok"
    assert stats.first_time == T0
    assert stats.last_time == T0.replace(second=9)
    challenge, denied, scm, big = events
    assert (challenge.channel, challenge.provider, challenge.event_id) == (
        "AuthZOptCh",
        "Microsoft-AzureMfa-AuthZ",
        1,
    )
    assert challenge.data == (EXTENSION_TEXT,)
    assert challenge.fields == {}
    assert (challenge.record_id, challenge.level, challenge.computer) == (
        101,
        4,
        "nps01.contoso.com",
    )
    assert challenge.time == T0 and challenge.time.tzinfo is not None
    assert challenge.message is None
    assert challenge.origin == str(path)
    assert denied.fields == {
        "SubjectUserName": "alice",
        "Reason": HOSTILE,
        "ReasonCode": "16",
        "Reason_1": "second value under the same name",
        "Empty": "",
    }
    assert denied.keywords == "0x8010000000000000"
    assert denied.time == T0.replace(second=5, microsecond=123456)
    assert (scm.qualifiers, scm.event_id, scm.data) == (
        16384,
        7036,
        ("Network Policy Server", "running"),
    )
    assert big.data == ("x" * 20_000 + HOSTILE,)


def test_filter_decides_on_channel_provider_and_id(tmp_path: Path) -> None:
    path = tmp_path / "mixed.evtx"
    records = [
        EventRecord(
            provider="Shared-Provider",
            event_id=7,
            time=T0.replace(second=index),
            channel="Wanted" if index % 3 == 0 else "Other",
            computer="nps01",
            data=(f"value {index}",),
        )
        for index in range(30)
    ]
    write_evtx(path, records)
    calls: list[str] = []

    def only_wanted(channel: str, provider: str, event_id: int) -> bool:
        calls.append(channel)
        return channel == "Wanted" and provider == "Shared-Provider" and event_id == 7

    events, stats = read(path, only_wanted)
    assert [event.data for event in events] == [(f"value {i}",) for i in range(0, 30, 3)]
    assert (stats.records_read, stats.records_relevant) == (30, 10)
    assert len(calls) < 30  # decisions are cached per record layout, not asked per record


def test_with_the_extractors_filter_only_nps_events_come_out(tmp_path: Path) -> None:
    from npsdiag.extract import is_relevant

    noise = [
        EventRecord(
            provider="Microsoft-Windows-Security-Auditing",
            event_id=4624,
            time=T0.replace(minute=index),
            channel="Security",
            computer="nps01.contoso.com",
            data=(("TargetUserName", f"user{index}"),),
        )
        for index in range(20)
    ]
    path = tmp_path / "Security.evtx"
    write_evtx(path, [*noise[:10], *nps_records(), *noise[10:]])
    events, stats = read(path, is_relevant)
    assert {(event.channel, event.event_id) for event in events} == {
        ("AuthZOptCh", 1),
        ("Security", 6273),
        ("AuthZAdminCh", 3),
    }
    assert (stats.records_read, stats.records_relevant) == (24, 3)
