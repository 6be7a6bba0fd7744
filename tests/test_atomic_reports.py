"""Reports are written whole or not at all: a full disk or an interruption never leaves a
truncated report, and never a temporary file."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from npsdiag import _atomic, _tempfiles
from npsdiag._atomic import partial_files, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
EVTX = ROOT / "samples" / "mixed" / "NPS-HUB_AuthZOptCh.evtx"
NPSDIAG = [sys.executable, "-m", "npsdiag"]


def _limited(limit: int) -> None:
    """In the child: files may grow to ``limit`` bytes (a full disk, as far as it can tell)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize("limit", [1, 4096, 8192, 65536])
@pytest.mark.parametrize("before", [None, "an older report\n"])
def test_a_full_disk_never_leaves_a_truncated_report(
    tmp_path: Path, limit: int, before: str | None
) -> None:
    report = tmp_path / "r.html"
    if before is not None:
        report.write_text(before)
    done = subprocess.run(
        [*NPSDIAG, "analyze", str(EVTX), "--html", str(report), "-q"],
        capture_output=True,
        text=True,
        preexec_fn=lambda: _limited(limit),
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "cannot write the html report" in done.stderr
    assert "File too large" in done.stderr
    if before is None:
        assert not report.exists()
    else:
        assert report.read_text() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == (["r.html"] if before else [])


def test_a_report_that_fits_replaces_the_old_one(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text("old\n")
    done = subprocess.run(
        [*NPSDIAG, "analyze", str(EVTX), "--json", str(report), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert report.read_text().startswith("{")
    assert [path.name for path in tmp_path.iterdir()] == ["r.json"]


def test_an_interrupted_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.md"
    target.write_text("old\n")

    def interrupted(self: Path, other: Path) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(target, "new\n" * 1000)
    assert target.read_text() == "old\n"
    assert partial_files(target) == []
    assert _tempfiles.registered() == []


def test_links_are_replaced_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep\n")
    link = tmp_path / "report.md"
    link.symlink_to(elsewhere)
    write_text_atomic(link, "report\n")
    assert elsewhere.read_text() == "keep\n"
    assert not link.is_symlink() and link.read_text() == "report\n"


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_a_device_is_written_directly() -> None:
    assert write_text_atomic("/dev/null", "x\n") == Path("/dev/null")


def test_partial_files_finds_leftovers_by_name_only(tmp_path: Path) -> None:
    target = tmp_path / "report[1].html"
    leftover = tmp_path / f".report[1].html.abcd1234{_atomic.PARTIAL_SUFFIX}"
    leftover.write_text("")
    (tmp_path / ".other.html.abcd1234.partial").write_text("")
    assert partial_files(target) == [leftover]
