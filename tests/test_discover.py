"""Discovery: files, folders and patterns in, recognised sources and honest accounting out."""

from __future__ import annotations

import builtins
import codecs
import importlib
import os
from pathlib import Path

import pytest

from npsdiag.errors import NothingToAnalyseError
from npsdiag.model import SourceKind
from npsdiag.sources import Discovery, discover, sniff
from npsdiag.sources.discover import READABLE_KINDS

# The package re-exports the function under the module's name; fetch the module itself.
discover_module = importlib.import_module("npsdiag.sources.discover")

EVTX_HEAD = b"ElfFile\x00" + bytes(120)
EVENTS_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Events><Event xmlns="http://schemas.microsoft.com/'
    'win/2004/08/events/event"><System><EventID>1</EventID></System></Event></Events>\n'
)
BARE_XML = "<Event xmlns='x'><System><EventID>1</EventID></System></Event>\n" * 2


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def names(items: list) -> list[str]:  # type: ignore[type-arg]
    return [Path(item.name).name for item in items]


def skipped_by_name(found: Discovery) -> dict[str, object]:
    return {Path(item.name).name: item for item in found.skipped}


# --- recognition by content -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "kind"),
    [
        (EVTX_HEAD, "x.bin", SourceKind.EVTX),
        (EVTX_HEAD, "renamed.txt", SourceKind.EVTX),
        (EVENTS_XML.encode(), "x.xml", SourceKind.XML),
        (BARE_XML.encode(), "x.txt", SourceKind.XML),
        (codecs.BOM_UTF8 + EVENTS_XML.encode(), "bom8.xml", SourceKind.XML),
        (codecs.BOM_UTF16_LE + EVENTS_XML.encode("utf-16-le"), "bom16.xml", SourceKind.XML),
        (EVENTS_XML.encode("utf-16-le"), "nobom16.xml", SourceKind.XML),
        (EVENTS_XML.encode("utf-16-be"), "be16.xml", SourceKind.XML),
        (b"<!-- exported --><ns:Events xmlns:ns='x'/>", "prefixed.xml", SourceKind.XML),
        (b"PK\x03\x04" + bytes(40), "bundle.zip", SourceKind.ZIP),
        (b"MSCF" + bytes(40), "trace.cab", SourceKind.TRACE),
        (b"\x01\x02\x03" * 30, "NPSExtension.etl", SourceKind.TRACE),
        ("Event[0]:\r\n  Log Name: AuthZOptCh\r\n".encode("utf-16"), "dump.txt", "wevtutil-text"),
        (b"Event[0]:\n  Log Name: Security\n", "dump8.txt", SourceKind.WEVTUTIL_TEXT),
        (
            b"\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa\r\n    TENANT_ID    REG_SZ",
            "reg.txt",
            SourceKind.REGQUERY,
        ),
        (b"<html><body>hi</body></html>", "page.xml", SourceKind.UNKNOWN),
        (b"just some notes\n", "notes.txt", SourceKind.UNKNOWN),
    ],
)
def test_sniff_recognises_by_content(content: bytes, name: str, kind: str) -> None:
    found_kind, note = sniff(content, name)
    assert found_kind == kind
    if kind in READABLE_KINDS or kind == SourceKind.REGQUERY:  # regquery: the config check
        assert note == ""
    else:
        assert note


def test_unknown_notes_say_what_it_looked_like_and_what_to_do() -> None:
    kind, note = sniff(b"hello world\n", "notes.txt")
    assert kind == SourceKind.UNKNOWN
    assert "not an event log export" in note
    assert "'hello world'" in note
    assert "wevtutil epl AuthZOptCh x.evtx" in note
    kind, note = sniff(bytes(range(256)), "fake.evtx")
    assert "named .evtx but has no EVTX header" in note
    assert "binary data starting with 00 01 02 03" in note
    _, note = sniff(b"<html><b>x</b></html>", "x.xml")
    assert "root <html>" in note


def test_utf16_text_named_evtx_is_reported_as_text(tmp_path: Path) -> None:
    path = write(tmp_path / "AuthZOptCh.evtx", "Log exported by hand\r\n".encode("utf-16"))
    found = discover([str(path)])
    assert found.sources == []
    (stats,) = found.skipped
    assert (stats.kind, stats.status) == ("unknown", "skipped")
    assert (
        "named .evtx but has no EVTX header (text starting with 'Log exported by hand')"
        in (stats.messages[0])
    )


def test_each_kind_lands_where_it_belongs(tmp_path: Path) -> None:
    write(tmp_path / "a.evtx", EVTX_HEAD)
    write(tmp_path / "b.xml", EVENTS_XML)
    write(tmp_path / "c.zip", b"PK\x03\x04" + bytes(30))
    write(tmp_path / "d.etl", b"\x00\x01" * 100)
    write(tmp_path / "e.txt", "Event[0]:\r\n".encode("utf-16"))
    write(tmp_path / "f.txt", "HKEY_LOCAL_MACHINE\\SYSTEM\\x\n")
    write(tmp_path / "g.txt", "random notes\n")
    found = discover([str(tmp_path)])
    assert [(Path(s.name).name, s.kind) for s in found.sources] == [
        ("a.evtx", "evtx"),
        ("b.xml", "xml"),
        ("e.txt", "wevtutil-text"),
    ]
    assert found.readable
    # Registry dumps go to the configuration check, which accounts for them itself.
    assert [(Path(s.name).name, s.kind) for s in found.registry_dumps] == [("f.txt", "regquery")]
    skipped = skipped_by_name(found)
    zip_stats = skipped["c.zip"]
    assert (zip_stats.kind, zip_stats.status) == ("zip", "unreadable")  # type: ignore[attr-defined]
    assert "not a readable zip" in zip_stats.messages[0]  # type: ignore[attr-defined]
    assert skipped["d.etl"].status == "listed"  # type: ignore[attr-defined]
    assert skipped["d.etl"].kind == "trace"  # type: ignore[attr-defined]
    assert skipped["g.txt"].kind == "unknown"  # type: ignore[attr-defined]
    assert set(skipped) == {"c.zip", "d.etl", "g.txt"}
    for stats in found.skipped:
        assert len(stats.messages) == 1
        assert "\n" not in stats.messages[0]
        assert stats.name in stats.messages[0]
        assert stats.size is not None and stats.size > 0


def test_sources_carry_size_and_fresh_stats(tmp_path: Path) -> None:
    path = write(tmp_path / "a.evtx", EVTX_HEAD)
    (source,) = discover([str(path)]).sources
    assert source.size == path.stat().st_size
    assert source.path == path
    stats = source.new_stats()
    assert (stats.name, stats.kind, stats.size, stats.records_read) == (str(path), "evtx", 128, 0)


# --- bad inputs never raise ---------------------------------------------------------------------


def test_empty_missing_and_unmatched_inputs_are_accounted(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.evtx", b"")
    missing = tmp_path / "nope.evtx"
    pattern = str(tmp_path / "*.nothing")
    found = discover([str(empty), str(missing), pattern])
    assert found.sources == []
    assert not found.readable
    by_name = {item.name: item for item in found.skipped}
    assert by_name[str(empty)].status == "skipped"
    assert "empty file (0 bytes)" in by_name[str(empty)].messages[0]
    assert by_name[str(missing)].status == "unreadable"
    assert "no such file or folder" in by_name[str(missing)].messages[0]
    assert by_name[pattern].status == "skipped"
    assert "matches no file" in by_name[pattern].messages[0]


def test_permission_denied_is_unreadable_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = write(tmp_path / "locked.evtx", EVTX_HEAD)
    fine = write(tmp_path / "fine.evtx", EVTX_HEAD)

    def guarded_open(file: object, *args: object, **kwargs: object) -> object:
        if Path(str(file)) == locked:
            raise PermissionError(13, "Permission denied", str(file))
        return builtins.open(file, *args, **kwargs)  # type: ignore[call-overload]

    # The module's own name "open" shadows the builtin for discovery only.
    monkeypatch.setattr(discover_module, "open", guarded_open, raising=False)
    found = discover([str(locked), str(fine)])
    assert names(found.sources) == ["fine.evtx"]
    (stats,) = found.skipped
    assert stats.status == "unreadable"
    assert "permission denied" in stats.messages[0]
    assert str(locked) in stats.messages[0]


def test_require_readable_raises_only_when_nothing_is_left(tmp_path: Path) -> None:
    notes = write(tmp_path / "notes.txt", "hello\n")
    with pytest.raises(NothingToAnalyseError, match=r"nothing to analyse: .*notes\.txt"):
        discover([str(notes), str(tmp_path / "gone.evtx")]).require_readable()
    with pytest.raises(NothingToAnalyseError, match="no input was given"):
        discover([]).require_readable()
    good = write(tmp_path / "good.evtx", EVTX_HEAD)
    assert names(discover([str(notes), str(good)]).require_readable()) == ["good.evtx"]


def test_nothing_message_counts_the_rest(tmp_path: Path) -> None:
    for index in range(3):
        write(tmp_path / f"n{index}.txt", "x\n")
    with pytest.raises(NothingToAnalyseError, match=r"and 2 more inputs not readable"):
        discover([str(tmp_path)]).require_readable()


# --- folders, patterns, backslashes, duplicates ---------------------------------------------


def test_folders_are_walked_recursively_in_sorted_order(tmp_path: Path) -> None:
    for relative in ("b/z.evtx", "a/y.evtx", "a/sub/x.evtx", "c.evtx", "A.evtx"):
        write(tmp_path / relative, EVTX_HEAD)
    found = discover([str(tmp_path)])
    relative_names = [str(Path(s.name).relative_to(tmp_path)) for s in found.sources]
    # Sorted by path components: a folder's entries in name order, subfolders in place.
    assert relative_names == [
        "A.evtx",
        os.path.join("a", "sub", "x.evtx"),
        os.path.join("a", "y.evtx"),
        os.path.join("b", "z.evtx"),
        "c.evtx",
    ]
    assert discover([str(tmp_path)]).sources == found.sources  # deterministic


def test_empty_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    found = discover([str(tmp_path / "empty")])
    assert found.sources == []
    assert "holds no file" in found.skipped[0].messages[0]


def test_glob_patterns_are_expanded_by_npsdiag(tmp_path: Path) -> None:
    for name in ("AuthZOptCh.evtx", "AuthNOptCh.evtx", "notes.txt", "deep/AuthZAdminCh.evtx"):
        write(tmp_path / name, EVTX_HEAD if name.endswith(".evtx") else b"notes\n")
    found = discover([str(tmp_path / "*.evtx")])
    assert names(found.sources) == ["AuthNOptCh.evtx", "AuthZOptCh.evtx"]
    assert found.skipped == []
    recursive = discover([str(tmp_path / "**" / "*.evtx")])
    assert names(recursive.sources) == ["AuthNOptCh.evtx", "AuthZOptCh.evtx", "AuthZAdminCh.evtx"]
    single = discover([str(tmp_path / "AuthZ?ptCh.evtx")])
    assert names(single.sources) == ["AuthZOptCh.evtx"]


@pytest.mark.skipif(os.sep == "\\", reason="backslash is the native separator on Windows")
def test_backslash_paths_and_patterns_work_on_posix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "NPS" / "AuthZOptCh.evtx", EVTX_HEAD)
    write(tmp_path / "NPS" / "sub" / "Security.evtx", EVTX_HEAD)
    monkeypatch.chdir(tmp_path)
    assert names(discover(["NPS\\*.evtx"]).sources) == ["AuthZOptCh.evtx"]
    assert names(discover(["NPS\\AuthZOptCh.evtx"]).sources) == ["AuthZOptCh.evtx"]
    assert names(discover(["NPS\\sub"]).sources) == ["Security.evtx"]
    assert names(discover([str(tmp_path).replace("/", "\\") + "\\NPS\\**\\*.evtx"]).sources) == [
        "AuthZOptCh.evtx",
        "Security.evtx",
    ]


@pytest.mark.skipif(os.sep == "\\", reason="backslash is the native separator on Windows")
def test_a_literal_backslash_name_wins_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "odd\\name.evtx", EVTX_HEAD)  # one file whose name holds a backslash
    write(tmp_path / "odd" / "name.evtx", b"other\n")
    monkeypatch.chdir(tmp_path)
    found = discover(["odd\\name.evtx"])
    assert [s.kind for s in found.sources] == ["evtx"]
    assert found.skipped == []


def test_the_same_file_given_twice_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "AuthZOptCh.evtx", EVTX_HEAD)
    monkeypatch.chdir(tmp_path)
    found = discover(
        [str(path), "AuthZOptCh.evtx", str(tmp_path / "*.evtx"), str(tmp_path), "./AuthZOptCh.evtx"]
    )
    assert len(found.sources) == 1
    assert found.sources[0].name == str(path)
    assert found.skipped == []


def test_symlinked_duplicate_is_read_once(tmp_path: Path) -> None:
    path = write(tmp_path / "real.evtx", EVTX_HEAD)
    link = tmp_path / "link.evtx"
    try:
        link.symlink_to(path)
    except (OSError, NotImplementedError):
        pytest.skip("symlinks not available")
    assert len(discover([str(path), str(link)]).sources) == 1
