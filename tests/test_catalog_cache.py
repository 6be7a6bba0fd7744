"""The validated catalog kept between runs (npsdiag.catalog_cache)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from npsdiag.catalog_cache import cache_folder, cached


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "cache"
    monkeypatch.setenv("NPSDIAG_CACHE_DIR", str(target))
    return target


def test_built_once_then_loaded(folder: Path) -> None:
    calls: list[int] = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"entries": 239}

    inputs = [("catalog/a.yaml", b"- id: a\n")]
    assert cached("thing", inputs, build) == {"entries": 239}
    assert cached("thing", inputs, build) == {"entries": 239}
    assert len(calls) == 1
    (stored,) = folder.glob("thing-*.pickle")
    assert stored.stat().st_mode & 0o077 == 0 or os.name == "nt"


def test_changed_data_builds_anew_and_drops_the_old_cache(folder: Path) -> None:
    first = cached("thing", [("a", b"1")], lambda: "one")
    second = cached("thing", [("a", b"2")], lambda: "two")
    assert (first, second) == ("one", "two")
    assert len(list(folder.glob("thing-*.pickle"))) == 1


def test_a_damaged_cache_is_rebuilt(folder: Path) -> None:
    cached("thing", [("a", b"1")], lambda: "one")
    (stored,) = folder.glob("thing-*.pickle")
    stored.write_bytes(b"not a pickle")
    assert cached("thing", [("a", b"1")], lambda: "rebuilt") == "rebuilt"


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_cache_others_may_write_is_not_trusted(folder: Path) -> None:
    cached("thing", [("a", b"1")], lambda: "one")
    (stored,) = folder.glob("thing-*.pickle")
    stored.chmod(0o666)
    assert cached("thing", [("a", b"1")], lambda: "fresh") == "fresh"


def test_caching_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NPSDIAG_CACHE_DIR", "off")
    assert cache_folder() is None
    calls: list[int] = []
    for _ in range(2):
        cached("thing", [], lambda: calls.append(1))
    assert len(calls) == 2


def test_an_unwritable_folder_never_fails_a_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("NPSDIAG_CACHE_DIR", str(blocker / "cache"))
    assert cached("thing", [], lambda: "built") == "built"


def test_the_shipped_catalog_comes_back_equal(folder: Path) -> None:
    from npsdiag.catalog import _load_shipped, check_catalog

    _load_shipped.cache_clear()
    first = _load_shipped()
    _load_shipped.cache_clear()
    second = _load_shipped()  # from the pickle
    _load_shipped.cache_clear()
    assert list(folder.glob("catalog-*.pickle"))
    fresh = check_catalog(None).catalog
    assert fresh is not None
    assert [entry.id for entry in second.entries] == [entry.id for entry in fresh.entries]
    assert second.entries == fresh.entries and first.entries == fresh.entries
