"""Support bundles: one case per zip, nested zips and unpacked folders, and nothing trusted."""

from __future__ import annotations

import codecs
import json
import os
import shutil
import stat
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from npsdiag.analyze import analyze_paths
from npsdiag.cli import main
from npsdiag.extract import is_relevant
from npsdiag.model import Event, SourceStats
from npsdiag.sources import (
    BundleLimits,
    Discovery,
    Source,
    bundle_io,
    discover,
    read_events,
    source_bytes,
)
from npsdiag.sources import bundle as bundle_module
from npsdiag.sources.regquery import parse_regquery
from npsdiag.synth.scenario import load_shipped

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_BUNDLES = sorted((ROOT / "samples").glob("*/*_NpsLogging.zip"))
MIXED = next(path for path in SAMPLE_BUNDLES if path.parent.name == "mixed")
MIB = 1 << 20


def sample_id(path: Path) -> str:
    return path.parent.name


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def make_zip(
    path: Path, members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED
) -> Path:
    """A zip with members exactly as named (duplicates and odd names included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 14, 9, 30, 12))
                info.compress_type = method
                archive.writestr(info, data)
    return path


def read_all(found: Discovery) -> dict[str, tuple[SourceStats, list[Event]]]:
    """Read every source the way analyze does; by name."""
    results = {}
    for source in found.sources:
        stats = source.new_stats()
        events = list(read_events(source, stats, is_relevant))
        results[source.name] = (stats, events)
    return results


def accounts(found: Discovery) -> dict[str, SourceStats]:
    return {stats.name: stats for stats in found.skipped}


def central_records(path: Path) -> Iterator[tuple[int, int]]:
    """``(offset of the central directory record, offset of the local header)`` per entry."""
    with zipfile.ZipFile(path) as archive:
        offset = archive.start_dir
        data = path.read_bytes()
        for _ in archive.infolist():
            assert data[offset : offset + 4] == b"PK\x01\x02"
            name, extra, comment = struct.unpack_from("<HHH", data, offset + 28)
            local = struct.unpack_from("<I", data, offset + 42)[0]
            yield offset, local
            offset += 46 + name + extra + comment


def patch(path: Path, offset: int, fmt: str, value: int) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))


def problem_ids(paths: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    analysis = analyze_paths(paths)
    return [(problem.entry_id, tuple(sorted(problem.users))) for problem in analysis.problems]


# --- the shipped bundles -----------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_BUNDLES, ids=sample_id)
def test_every_sample_bundle_reads_as_one_case(path: Path) -> None:
    scenario = load_shipped(path.parent.name)
    found = discover([str(path)])
    (case,) = found.bundles
    assert (case.name, case.kind) == (str(path), "zip")
    assert case.files == 8
    computer = scenario.computer
    prefix = f"{path}!"
    assert sorted((source.name, source.kind) for source in found.sources) == sorted(
        [
            (f"{prefix}{computer}_AuthNOptCh.evtx", "evtx"),
            (f"{prefix}{computer}_AuthZAdminCh.evtx", "evtx"),
            (f"{prefix}{computer}_AuthZOptCh.evtx", "evtx"),
            (f"{prefix}NPS_EventLog.log", "wevtutil-text"),
        ]
    )
    assert all(source.bundle is case and source.path == path for source in found.sources)
    # The registry dumps are kept for the configuration check, their bytes within reach.
    dumps = {source.name.rpartition("!")[2]: source for source in found.registry_dumps}
    assert sorted(dumps) == [
        "AfterRegAdd_AuthSrv.txt",
        "AfterRegAdd_AzureMFA.txt",
        "BeforeRegAdd_AuthSrv.txt",
        "BeforeRegAdd_AzureMFA.txt",
    ]
    raw = members_of(path)
    for member, source in dumps.items():
        assert source.kind == "regquery"
        data = source_bytes(source)
        assert data == raw[member]
        assert parse_regquery(data, source.name).keys
    listed = accounts(found)
    assert listed[str(path)].status == "listed"
    assert f"server {computer} (from file names)" in listed[str(path)].messages[0]
    assert case.server == computer  # before reading: from the file names
    results = read_all(found)
    for name, (stats, _) in results.items():
        assert stats.status == "ok", (name, stats.messages)
    text_stats, text_events = results[f"{prefix}NPS_EventLog.log"]
    assert text_events and text_stats.records_failed == 0
    assert {event.origin for event in text_events} == {f"{prefix}NPS_EventLog.log"}
    # After reading: the full name the events give.
    assert case.server == scenario.fqdn
    assert case.computers == [computer]
    assert case.declared == sum(len(data) for data in raw.values())


@pytest.mark.parametrize("path", SAMPLE_BUNDLES, ids=sample_id)
def test_a_bundle_is_diagnosed_like_the_evtx_files_it_holds(path: Path) -> None:
    folder = path.parent
    from_bundle = problem_ids([str(path)])
    # The bundle holds the extension channels and the Security events, not System.evtx.
    without_system = [str(p) for p in sorted(folder.glob("*.evtx")) if p.name != "System.evtx"]
    assert from_bundle == problem_ids(without_system)
    expected = load_shipped(folder.name).expected.top_problem
    everything = problem_ids([str(p) for p in sorted(folder.glob("*.evtx"))])
    if expected is None:
        assert from_bundle == everything == []
    else:
        assert from_bundle[0][0] == everything[0][0]
        assert from_bundle[0][0].startswith(expected)


def test_analyze_command_on_a_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["analyze", str(MIXED), "--json", "-"])
    report = json.loads(capsys.readouterr().out)
    assert done.value.code == 1
    expected = problem_ids(
        [str(p) for p in sorted(MIXED.parent.glob("*.evtx")) if p.name != "System.evtx"]
    )
    assert [problem["entry_id"] for problem in report["problems"]] == [i for i, _ in expected]
    names = {source["name"] for source in report["sources"]}
    assert f"{MIXED}!NPS_EventLog.log" in names
    assert str(MIXED) in names


def test_a_folder_with_the_bundle_and_its_files_reads_each_file_once(tmp_path: Path) -> None:
    # What C:\NPS looks like after the health-check script: the files and the zip of them.
    for name, data in members_of(MIXED).items():
        (tmp_path / name).write_bytes(data)
    shutil.copy(MIXED, tmp_path / MIXED.name)
    found = discover([str(tmp_path)])
    assert all(source.member is None for source in found.sources)
    assert all(source.member is None for source in found.registry_dumps)
    listed = accounts(found)
    for name in members_of(MIXED):
        copy = listed[f"{tmp_path / MIXED.name}!{name}"]
        assert copy.status == "skipped"
        assert copy.messages == [
            f"{tmp_path / MIXED.name}!{name}: same content as {tmp_path / name}, which is read; "
            "not read twice"
        ]
    assert problem_ids([str(tmp_path)]) == problem_ids([str(MIXED)])


def test_an_unpacked_bundle_folder_is_one_case(tmp_path: Path) -> None:
    folder = tmp_path / "case 4711"
    folder.mkdir()
    for name, data in members_of(MIXED).items():
        (folder / name).write_bytes(data)
    found = discover([str(folder)])
    (case,) = found.bundles
    assert (case.kind, case.name, case.server) == ("folder", str(folder), "NPS-HUB")
    kinds = sorted((Path(source.name).name, source.kind) for source in found.sources)
    assert ("NPS_EventLog.log", "wevtutil-text") in kinds
    assert len(found.registry_dumps) == 4
    assert all(source.bundle is case for source in found.sources)
    read_all(found)
    assert case.server == "NPS-HUB.contoso.com"
    assert problem_ids([str(folder)]) == problem_ids([str(MIXED)])


def test_nested_zips_are_opened(tmp_path: Path) -> None:
    inner = MIXED.read_bytes()
    middle = make_zip(tmp_path / "middle.zip", [("cases/bundle.zip", inner)])
    outer = make_zip(
        tmp_path / "outer.zip",
        [("case/middle.zip", middle.read_bytes()), ("notes.txt", b"ticket 4711\r\n")],
        method=zipfile.ZIP_STORED,
    )
    found = discover([str(outer)])
    (case,) = found.bundles
    prefix = f"{outer}!case/middle.zip!cases/bundle.zip!"
    assert sorted(source.name for source in found.sources) == sorted(
        prefix + name for name in members_of(MIXED) if not name.endswith(".txt")
    )
    assert len(found.registry_dumps) == 4
    assert (
        source_bytes(found.registry_dumps[0])
        == members_of(MIXED)[found.registry_dumps[0].name.rpartition("!")[2]]
    )
    listed = accounts(found)
    assert listed[f"{outer}!notes.txt"].status == "skipped"
    assert "not analysed" in listed[f"{outer}!notes.txt"].messages[0]
    assert listed[f"{outer}!case/middle.zip"].status == "listed"
    assert listed[f"{outer}!case/middle.zip!cases/bundle.zip"].status == "listed"
    flat = read_all(discover([str(MIXED)]))
    nested = read_all(found)
    for name, (_, events) in flat.items():
        member = name.rpartition("!")[2]
        nested_stats, nested_events = nested[prefix + member]
        assert nested_stats.status == "ok"
        assert [(e.event_id, e.time, dict(e.fields)) for e in nested_events] == [
            (e.event_id, e.time, dict(e.fields)) for e in events
        ]
    assert case.server == "NPS-HUB.contoso.com"
    assert problem_ids([str(outer)]) == problem_ids([str(MIXED)])


def test_nesting_deeper_than_the_limit_is_not_opened(tmp_path: Path) -> None:
    level = make_zip(tmp_path / "l4.zip", [("x.evtx", b"ElfFile\x00" + bytes(100))])
    for depth in (3, 2, 1):
        level = make_zip(tmp_path / f"l{depth}.zip", [(f"l{depth + 1}.zip", level.read_bytes())])
    found = discover([str(level)])
    deepest = f"{level}!l2.zip!l3.zip!l4.zip"
    stats = accounts(found)[deepest]
    assert stats.status == "skipped"
    assert "nested more than 3 levels deep is not opened" in stats.messages[0]
    assert found.sources == []
    found = discover([str(level)], limits=BundleLimits(max_depth=4))
    assert [source.name for source in found.sources] == [f"{deepest}!x.evtx"]


# --- what is inside: recognised by content, names made safe ------------------------------------


def test_members_are_recognised_by_content_whatever_their_name(tmp_path: Path) -> None:
    raw = members_of(MIXED)
    evtx = raw["NPS-HUB_AuthZOptCh.evtx"]
    text = raw["NPS_EventLog.log"]
    xml = (
        "<Events><Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='Microsoft-AzureMfa-AuthZ'/><EventID>1</EventID><TimeCreated "
        "SystemTime='2026-01-14T09:30:12Z'/><Channel>AuthZOptCh</Channel><Computer>NPS9"
        "</Computer></System><EventData><Data>x</Data></EventData></Event></Events>"
    )
    path = make_zip(
        tmp_path / "b.zip",
        [
            ("%computername%_AuthZOptCh.evtx", evtx),
            ("renamed.txt", evtx),
            ("events.xml", xml.encode("utf-16")),
            ("NPS_EventLog.log", text.decode("utf-16").encode("utf-8")),
            ("nettrace.etl", b"\x00\x01\x02\x03" * 64),
            ("nettrace.cab", b"MSCF" + bytes(60)),
            ("readme.md", b"# notes\n"),
            ("empty.evtx", b""),
            ("sub\\folder\\", b""),
        ],
    )
    found = discover([str(path)])
    kinds = {source.name.rpartition("!")[2]: source.kind for source in found.sources}
    assert kinds == {
        "%computername%_AuthZOptCh.evtx": "evtx",
        "renamed.txt": "evtx",
        "events.xml": "xml",
        "NPS_EventLog.log": "wevtutil-text",
    }
    listed = {name.rpartition("!")[2]: stats for name, stats in accounts(found).items()}
    assert (listed["nettrace.etl"].kind, listed["nettrace.etl"].status) == ("trace", "listed")
    assert (listed["nettrace.cab"].kind, listed["nettrace.cab"].status) == ("trace", "listed")
    assert listed["readme.md"].status == "skipped"
    assert listed["readme.md"].messages == [
        f"{path}!readme.md: not analysed: not an event log export (text starting with '# notes')"
    ]
    assert "empty file (0 bytes)" in listed["empty.evtx"].messages[0]
    assert not any("sub" in name for name in listed)  # folder entries are not files
    (case,) = found.bundles
    assert case.name_computers == {}  # "%computername%" is not a server name
    results = read_all(found)
    assert all(stats.status == "ok" for stats, _ in results.values())
    assert results[f"{path}!events.xml"][1][0].computer == "NPS9"
    assert case.server == "NPS-HUB.contoso.com"  # the events say it


def test_names_pointing_outside_are_shown_safely_and_never_used(tmp_path: Path) -> None:
    evtx = members_of(MIXED)["NPS-HUB_AuthZOptCh.evtx"]
    work = tmp_path / "work"
    work.mkdir()
    path = make_zip(
        work / "b.zip",
        [
            ("../../escaped.evtx", evtx),
            ("/etc/absolute.evtx", evtx),
            ("C:\\Windows\\Temp\\drive.evtx", evtx),
            ("logs\\NPS01_AuthZAdminCh.evtx", evtx),
            ("./logs/../../../x/y.evtx", evtx),
        ],
    )
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    found = discover([str(path)])
    names = sorted(source.name.rpartition("!")[2] for source in found.sources)
    assert names == [
        "Windows/Temp/drive.evtx",
        "escaped.evtx",
        "etc/absolute.evtx",
        "logs/NPS01_AuthZAdminCh.evtx",
        "logs/x/y.evtx",
    ]
    results = read_all(found)
    for name, (stats, events) in results.items():
        assert stats.status == "ok" and events
        renamed = "NPS01" not in name
        assert any("points outside the bundle" in m for m in stats.messages) == renamed
    assert found.bundles[0].name_computers == {"NPS01": 1}  # backslashes are separators
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not Path("/etc/absolute.evtx").exists()


def test_duplicate_names_are_both_read(tmp_path: Path) -> None:
    raw = members_of(MIXED)
    other = members_of(next(p for p in SAMPLE_BUNDLES if p.parent.name == "healthy"))
    path = make_zip(
        tmp_path / "b.zip",
        [
            ("NPS_EventLog.log", raw["NPS_EventLog.log"]),
            ("NPS_EventLog.log", other["NPS_EventLog.log"]),
        ],
    )
    found = discover([str(path)])
    assert [source.name for source in found.sources] == [
        f"{path}!NPS_EventLog.log",
        f"{path}!NPS_EventLog (2).log",
    ]
    results = read_all(found)
    first, second = (results[source.name] for source in found.sources)
    assert {e.computer for e in first[1]} == {"NPS-HUB.contoso.com"}
    assert {e.computer for e in second[1]} == {"NPS01.contoso.com"}
    assert any("another file of the same name" in m for m in second[0].messages)
    # No file name names a server here, so the events' names are all there is.
    assert found.bundles[0].computers == ["NPS-HUB.contoso.com", "NPS01.contoso.com"]


# --- bad bundles -------------------------------------------------------------------------------


def test_encrypted_members_ask_for_an_unencrypted_bundle(tmp_path: Path) -> None:
    evtx = members_of(MIXED)["NPS-HUB_AuthZOptCh.evtx"]
    path = make_zip(tmp_path / "b.zip", [("secret.evtx", evtx), ("NPS_EventLog.log", b"")])
    central, local = next(central_records(path))
    patch(path, central + 8, "<H", 0x1)
    patch(path, local + 6, "<H", 0x1)
    found = discover([str(path)])
    stats = accounts(found)[f"{path}!secret.evtx"]
    assert stats.status == "unreadable"
    assert stats.messages == [
        f"{path}!secret.evtx: encrypted: ask for an unencrypted bundle "
        "(or unzip it with its password)"
    ]


def test_a_checksum_mismatch_makes_the_member_unreadable(tmp_path: Path) -> None:
    evtx = members_of(MIXED)["NPS-HUB_AuthZOptCh.evtx"]
    path = make_zip(tmp_path / "b.zip", [("a.evtx", evtx)], method=zipfile.ZIP_STORED)
    _, local = next(central_records(path))
    name_length, extra_length = struct.unpack_from("<HH", path.read_bytes(), local + 26)
    data_at = local + 30 + name_length + extra_length
    patch(path, data_at + 5000, "<B", path.read_bytes()[data_at + 5000] ^ 0xFF)
    found = discover([str(path)])
    ((stats, events),) = read_all(found).values()
    assert (stats.status, events) == ("unreadable", [])
    assert stats.messages == [
        f"{path}!a.evtx: damaged inside the bundle (checksum mismatch); copy the bundle again "
        "or ask for a new one"
    ]


def flip_last_event_byte(path: Path, size: int) -> None:
    """Change one letter near the end of the only (stored) member."""
    _, local = next(central_records(path))
    name_length, extra_length = struct.unpack_from("<HH", path.read_bytes(), local + 26)
    at = local + 30 + name_length + extra_length + size - 100
    patch(path, at, "<B", path.read_bytes()[at] ^ 0x01)


def test_a_damaged_text_member_keeps_what_was_streamed(tmp_path: Path) -> None:
    # Larger than one read block: what came before the damage has been used already.
    one = members_of(MIXED)["NPS_EventLog.log"]
    text = one + one[2:] * 6
    path = make_zip(tmp_path / "b.zip", [("NPS_EventLog.log", text)], method=zipfile.ZIP_STORED)
    flip_last_event_byte(path, len(text))
    ((stats, events),) = read_all(discover([str(path)])).values()
    assert len(events) > 71  # streamed: everything before the last read was used
    assert stats.status == "partial"
    assert stats.messages[-1] == (
        f"{path}!NPS_EventLog.log: damaged inside the bundle (checksum mismatch); copy the "
        "bundle again or ask for a new one"
    )


def test_a_small_damaged_text_member_is_unreadable(tmp_path: Path) -> None:
    text = members_of(MIXED)["NPS_EventLog.log"]
    path = make_zip(tmp_path / "b.zip", [("NPS_EventLog.log", text)], method=zipfile.ZIP_STORED)
    flip_last_event_byte(path, len(text))
    ((stats, events),) = read_all(discover([str(path)])).values()
    assert (stats.status, events) == ("unreadable", [])
    assert stats.messages == [
        f"{path}!NPS_EventLog.log: damaged inside the bundle (checksum mismatch); copy the "
        "bundle again or ask for a new one"
    ]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"PK\x03\x04" + bytes(200), "not a readable zip"),
        (b"PK\x05\x06" + bytes(10), "not a readable zip"),
    ],
)
def test_not_a_zip_after_all(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "b.zip"
    path.write_bytes(content)
    found = discover([str(path)])
    (stats,) = found.skipped
    assert (stats.name, stats.kind, stats.status) == (str(path), "zip", "unreadable")
    assert stats.messages[0].startswith(f"{path}: {why}")
    assert stats.messages[0].endswith("copy the bundle again or ask for a new one")
    assert found.sources == []


def test_a_truncated_bundle_is_unreadable_and_the_run_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "cut.zip"
    path.write_bytes(MIXED.read_bytes()[: MIXED.stat().st_size // 2])
    good = tmp_path / "good.evtx"
    good.write_bytes(members_of(MIXED)["NPS-HUB_AuthZOptCh.evtx"])
    found = discover([str(path), str(good)])
    stats = accounts(found)[str(path)]
    assert stats.status == "unreadable"
    assert "not a readable zip" in stats.messages[0]
    assert [source.name for source in found.sources] == [str(good)]
    analysis = analyze_paths([str(path), str(good)])
    assert analysis.problems


def test_an_empty_bundle_says_so(tmp_path: Path) -> None:
    for name, members in (("none.zip", []), ("folders.zip", [("a/", b""), ("a/b/", b"")])):
        path = make_zip(tmp_path / name, members)
        found = discover([str(path)])
        (stats,) = found.skipped
        assert (stats.status, stats.kind) == ("skipped", "zip")
        assert "the bundle holds no file" in stats.messages[0]


def test_an_empty_nps_event_log_in_a_bundle_is_read(tmp_path: Path) -> None:
    # The script's dump of a Security log without NPS events (auditing off) is a BOM only.
    path = make_zip(tmp_path / "b.zip", [("NPS_EventLog.log", codecs.BOM_UTF16_LE)])
    found = discover([str(path)])
    ((stats, events),) = read_all(found).values()
    assert (stats.kind, stats.status, events) == ("wevtutil-text", "ok", [])
    assert "auditpol" in stats.messages[0]


def test_unsupported_compression_is_named(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "b.zip", [("a.evtx", b"ElfFile\x00" + bytes(4000))])
    central, _ = next(central_records(path))
    patch(path, central + 10, "<H", 9)  # Deflate64, which Windows writes for large files
    stats = accounts(discover([str(path)]))[f"{path}!a.evtx"]
    assert stats.status == "unreadable"
    assert "compressed with method 9" in stats.messages[0]


# --- limits ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A member of 50 MB of zeros, deflated to about 50 KB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.evtx", "w") as member:
            member.write(b"ElfFile\x00")
            for _ in range(50):
                member.write(bytes(MIB))
        archive.writestr("NPS_EventLog.log", b"")
    return path


def test_a_zip_bomb_is_refused_from_its_header_without_inflating(bomb: Path) -> None:
    (entry,) = (i for i in zipfile.ZipFile(bomb).infolist() if i.filename == "zeros.evtx")
    assert entry.file_size > 50 * MIB and entry.compress_size < 100_000
    found = discover([str(bomb)])
    stats = accounts(found)[f"{bomb}!zeros.evtx"]
    assert stats.status == "unreadable"
    assert "more than the limit of 200:1 (a zip bomb?)" in stats.messages[0]
    (case,) = found.bundles
    assert case.inflated == 0
    assert [source.name for source in found.sources] == [f"{bomb}!NPS_EventLog.log"]


def test_sizes_are_enforced_while_inflating_not_only_from_headers(
    bomb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Headers can lie: with the header checks out of the way, the measured bytes still stop it.
    monkeypatch.setattr(bundle_module, "_refusal", lambda entry, limits: None)
    found = discover([str(bomb)])
    (source,) = (s for s in found.sources if s.name.endswith("zeros.evtx"))
    stats = source.new_stats()
    assert list(read_events(source, stats, is_relevant)) == []
    assert stats.status == "unreadable"
    assert "inflates to more than 200 times its compressed size" in stats.messages[0]
    (case,) = found.bundles
    assert case.inflated < 20 * MIB  # stopped long before the 50 MB


def test_a_header_that_understates_the_size_is_caught(bomb: Path, tmp_path: Path) -> None:
    path = tmp_path / "liar.zip"
    shutil.copy(bomb, path)
    central, local = next(central_records(path))
    patch(path, central + 24, "<I", 1000)  # uncompressed size: 1000 bytes, says the header
    patch(path, local + 22, "<I", 1000)
    found = discover([str(path)])
    # Recognising it reads its first bytes, which already run into the declared end.
    stats = accounts(found)[f"{path}!zeros.evtx"]
    assert stats.status == "unreadable"
    assert "checksum mismatch" in stats.messages[0]
    assert found.bundles[0].inflated <= 1000


def test_member_count_total_and_member_size_limits(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "b.zip", [(f"f{i}.txt", b"x" * 2000) for i in range(6)])
    stats = accounts(discover([str(path)], limits=BundleLimits(max_members=5)))[str(path)]
    assert stats.status == "unreadable"
    assert "lists 6 entries, more than the limit of 5" in stats.messages[0]
    stats = accounts(discover([str(path)], limits=BundleLimits(max_total_bytes=10_000)))[str(path)]
    assert stats.status == "unreadable"
    assert "would unpack to 12,000 bytes, more than the limit of 10,000 bytes" in stats.messages[0]
    found = discover([str(path)], limits=BundleLimits(max_member_bytes=1999))
    stats = accounts(found)[f"{path}!f0.txt"]
    assert stats.status == "unreadable"
    assert "2,000 bytes uncompressed, more than the limit of 1,999 bytes" in stats.messages[0]


def test_the_default_limits_are_the_documented_ones() -> None:
    limits = BundleLimits()
    assert limits.max_total_bytes == 4 << 30
    assert limits.max_member_bytes == 2 << 30
    assert (limits.max_ratio, limits.ratio_floor) == (200, 1 << 20)
    assert (limits.max_depth, limits.max_members) == (3, 10_000)
    docs = (ROOT / "docs" / "bundles.md").read_text(encoding="utf-8")
    for shown in ("4 GiB", "2 GiB", "200:1", "1 MiB", "3 levels", "10,000"):
        assert shown in docs


# --- the private temporary folder --------------------------------------------------------------


@contextmanager
def watched_folders(
    monkeypatch: pytest.MonkeyPatch, seen: list[tuple[Path, int]]
) -> Iterator[None]:
    real = bundle_io.private_folder

    @contextmanager
    def recording() -> Iterator[Path]:
        with real() as folder:
            seen.append((folder, stat.S_IMODE(folder.stat().st_mode)))
            yield folder

    monkeypatch.setattr(bundle_module, "private_folder", recording)
    monkeypatch.setattr(bundle_io, "private_folder", recording)
    yield


def test_members_are_unpacked_only_into_a_private_folder_that_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_root = tmp_path / "temp"
    private_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_root))
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(MIXED, work / "b.zip")
    nested = make_zip(work / "outer.zip", [("inner.zip", MIXED.read_bytes())])
    seen: list[tuple[Path, int]] = []
    with watched_folders(monkeypatch, seen):
        during: list[list[str]] = []
        with discover([str(work)]) as found:
            for source in found.sources:
                stats = source.new_stats()
                for _ in read_events(source, stats, is_relevant):
                    during.append(sorted(p.name for p in private_root.rglob("*")))
                    break  # leave early: the member's folder must go all the same
            # Only the nested zip unpacked for the members read from it stays, until the end.
            assert [p.name for p in private_root.rglob("*.zip")] == ["archive-0.zip"]
    assert seen, "evtx members are unpacked"
    for folder, mode in seen:
        assert folder.parent == private_root
        assert folder.name.startswith("npsdiag-")
        if os.name == "posix":
            assert mode == 0o700
        assert not folder.exists()
    assert any("member.evtx" in names for names in during)
    assert list(private_root.iterdir()) == []
    assert sorted(p.name for p in work.iterdir()) == ["b.zip", nested.name]


def test_source_bytes_of_a_file_and_a_member(tmp_path: Path) -> None:
    path = tmp_path / "BeforeRegAdd_AzureMFA.txt"
    path.write_bytes(b"x" * 100)
    source = Source(name=str(path), path=path, kind="regquery", size=100)
    assert source_bytes(source) == b"x" * 100
    assert len(source_bytes(source, limit=10)) == 11
