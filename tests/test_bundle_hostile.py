"""Hostile support bundles: nested zips with clashing names, a nested zip read for many
members, thousands of members, and bundles that yield nothing for reasons worth naming.

Every bundle is built here, with the members the test needs.
"""

from __future__ import annotations

import errno
import io
import json
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import npsdiag.analyze as analyze_module
from npsdiag import _tempfiles
from npsdiag.analyze import analyze_paths
from npsdiag.errors import NothingToAnalyseError
from npsdiag.sources import BundleLimits, bundle_io, discover, read_events, source_bytes
from tests.cli_runner import run
from tests.test_recognition import REGISTRY, text_dump


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 14, 9, 30, 12)), data)
    return buffer.getvalue()


# A tree of nested zips: a leaf is a number of events (one text dump member), a node a list of
# (name, subtree). Names repeat on purpose: every inner zip is "a.zip", every dump "x.log".
Tree = Any


def build(tree: Tree) -> bytes:
    if isinstance(tree, int):
        return text_dump(tree)
    return zip_bytes([(name, build(subtree)) for name, subtree in tree])


def leaves(tree: Tree, depth: int = 1) -> list[tuple[int, int]]:
    """(events, depth of the zip holding them) of every dump."""
    if isinstance(tree, int):
        return [(tree, depth - 1)]
    return [leaf for _, subtree in tree for leaf in leaves(subtree, depth + 1)]


names = st.sampled_from(["a.zip", "b.zip", "a.zip"])
dumps = st.integers(min_value=1, max_value=3)
level3 = st.lists(
    st.tuples(st.sampled_from(["x.log", "x.log", "y.log"]), dumps), min_size=1, max_size=3
)
level2 = st.lists(st.tuples(names, st.one_of(dumps, level3)), min_size=1, max_size=3)
trees = st.lists(st.tuples(names, st.one_of(dumps, level2)), min_size=1, max_size=4)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=trees)
def test_nested_zips_with_the_same_names_are_all_read(
    tmp_path_factory: pytest.TempPathFactory, tree: Tree
) -> None:
    path = tmp_path_factory.mktemp("nested") / "bundle.zip"
    # Rename every leaf of the top level to a .zip-holding name so the outer zip is a tree.
    path.write_bytes(build(tree))
    before = set(_tempfiles.registered())
    analysis = analyze_paths([str(path)])
    read = {source.name: source for source in analysis.sources if source.kind == "wevtutil-text"}
    expected = [events for events, depth in leaves(tree) if depth <= 3]
    assert sorted(source.records_read for source in read.values()) == sorted(expected)
    assert all(source.status == "ok" for source in read.values()), [
        s.messages for s in read.values()
    ]
    assert not any("File exists" in " ".join(s.messages) for s in analysis.sources)
    # Every temporary folder is gone once the analysis is done.
    assert set(_tempfiles.registered()) == before


def _nested_bundle(folder: Path, count: int) -> tuple[Path, int, BundleLimits]:
    """A bundle holding one zip of ``count`` text dumps; what it inflates to, once; limits
    that this just fits."""
    members = [(f"dump{index:02d}.log", text_dump(30)) for index in range(count)]
    inner = zip_bytes(members)
    path = folder / "bundle.zip"
    path.write_bytes(zip_bytes([("inner.zip", inner)]))
    payload = len(inner) + sum(len(data) for _, data in members)
    return path, payload, BundleLimits(max_total_bytes=payload + 1, ratio_floor=1 << 40)


def test_a_nested_zip_counts_once_towards_the_bundle_limit(tmp_path: Path) -> None:
    # 40 members of 20 KiB each in one nested zip: inflated once it is 800 KiB plus itself;
    # counted again for every member it would be over 16 MiB.
    path, payload, limits = _nested_bundle(tmp_path, 40)
    found = discover([str(path)], limits=limits)
    for source in found.sources:
        stats = source.new_stats()
        list(read_events(source, stats, None))
        assert stats.status == "ok", stats.messages
    (bundle,) = found.bundles
    assert bundle.inflated == payload


def test_the_bundle_limit_through_the_command_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path, _, limits = _nested_bundle(tmp_path, 30)
    monkeypatch.setattr(analyze_module, "discover", partial(discover, limits=limits))
    code, out, err = run(capsys, "analyze", str(path), "--json", "-")
    assert code in (0, 1), err
    sources = json.loads(out)["sources"]
    dumps = [source for source in sources if source["kind"] == "wevtutil-text"]
    assert len(dumps) == 30 and all(source["status"] == "ok" for source in dumps)
    messages = [message for source in sources for message in source["messages"]]
    assert not any("the limit" in message for message in messages), messages


@pytest.mark.parametrize("through", ["library", "command line"])
def test_the_central_directory_is_read_once_for_all_members(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    through: str,
) -> None:
    members = [(f"x/{index:04d}.log", text_dump(1)) for index in range(300)]
    members.append(("AfterRegAdd_AzureMFA.txt", REGISTRY.format(note="x").encode()))
    inner = zip_bytes(members[:100])
    path = tmp_path / "bundle.zip"
    path.write_bytes(zip_bytes([*members[100:], ("inner.zip", inner)]))
    opened: list[str] = []
    real = zipfile.ZipFile.__init__

    def counting(self: zipfile.ZipFile, file: Any, *args: Any, **kwargs: Any) -> None:
        opened.append(str(file))
        real(self, file, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "__init__", counting)
    if through == "library":
        analysis = analyze_paths([str(path)])
        sources = [(s.kind, s.records_read) for s in analysis.sources]
    else:
        code, out, err = run(capsys, "analyze", str(path), "--json", "-")
        assert code in (0, 1), err
        sources = [(s["kind"], s["records_read"]) for s in json.loads(out)["sources"]]
    assert sum(1 for kind, read in sources if kind == "wevtutil-text" and read) == 300
    # Listing opens the bundle and unpacks the inner zip once; reading does it once more.
    assert len(opened) <= 4, opened


@pytest.fixture
def no_space(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(stream: Any, target: Path) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(bundle_io, "_copy", full)


def evtx_bundle(tmp_path: Path, first: list[tuple[str, bytes]] | None = None) -> Path:
    samples = Path(__file__).resolve().parents[1] / "samples" / "mixed"
    members = [*(first or []), *((p.name, p.read_bytes()) for p in sorted(samples.glob("*.evtx")))]
    path = tmp_path / "bundle.zip"
    path.write_bytes(zip_bytes(members))
    return path


def test_a_bundle_that_yields_nothing_names_the_full_temporary_folder(
    no_space: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = evtx_bundle(tmp_path)
    with pytest.raises(NothingToAnalyseError) as caught:
        analyze_paths([str(path)])
    message = str(caught.value)
    assert "cannot unpack (No space left on device)" in message
    assert "free space in the temporary folder" in message
    assert "support bundle with" not in message
    code, _, err = run(capsys, "analyze", str(path))
    assert code == 2
    assert "No space left on device" in err and "support bundle with" not in err


def test_a_bundle_with_damaged_entries_names_the_damage(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = evtx_bundle(tmp_path, [("readme.txt", b"collected by the help desk\n")])
    data = bytearray(path.read_bytes())
    # Break the local header of every member after the first (a note, not a log): the
    # central directory still lists them.
    start = 4
    while (found := data.find(b"PK\x03\x04", start)) >= 0:
        data[found : found + 4] = b"PK\x09\x09"
        start = found + 4
    path.write_bytes(bytes(data))
    code, _, err = run(capsys, "analyze", str(path))
    assert code == 2
    assert "damaged inside the bundle (Bad magic number for file header)" in err
    assert "support bundle with" not in err


def test_a_bundle_whose_central_directory_is_cut_names_that(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = evtx_bundle(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"PK\x01\x02") + 10])
    code, _, err = run(capsys, "analyze", str(path))
    assert code == 2
    assert "not a readable zip" in err and "cut short or damaged" in err


def test_registry_dump_members_are_read_through_the_open_archive(tmp_path: Path) -> None:
    dump = REGISTRY.format(note="x").encode()
    path = tmp_path / "bundle.zip"
    path.write_bytes(zip_bytes([("AfterRegAdd_AzureMFA.txt", dump), ("x.log", text_dump(1))]))
    found = discover([str(path)])
    (source,) = found.registry_dumps
    assert source_bytes(source) == dump
    (bundle,) = found.bundles
    assert bundle.pending == 1  # the text dump is still to be read: the archive stays open
    found.close()
    assert bundle.reader is None
