"""Stopping ``npsdiag`` by signal leaves nothing behind: no ``npsdiag-*`` temporary folder,
no half-written report, no worker process.

Each test runs the real command as a subprocess on inputs built here (support bundles whose
XML member takes a few seconds to read), waits until the work it wants to interrupt is under
way (a member unpacked into the temporary folder), sends the signal, and looks at what is left.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_source_xml import as_document, event_xml

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="sends POSIX signals, reads /proc"
)

NPSDIAG = [sys.executable, "-m", "npsdiag"]


def slow_bundle(path: Path, events: int = 40_000) -> Path:
    """A bundle whose XML member (every event relevant) takes seconds to read."""
    export = as_document(*(event_xml(index, second=index % 60) for index in range(events)))
    buffer = io.BytesIO()
    # Stored, not deflated: the repeated text would compress past the zip-bomb ratio.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("AuthZOptCh.xml", export)
    path.write_bytes(buffer.getvalue())
    return path


def start(arguments: list[str], tmp: Path, mark: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "TMPDIR": str(tmp), "NPSDIAG_TEST_MARK": mark}
    return subprocess.Popen(
        [*NPSDIAG, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def wait_for(condition: Callable[[], bool], seconds: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what or "the work to interrupt never started")
        time.sleep(0.05)


def members_unpacked(tmp: Path, count: int = 1) -> Callable[[], bool]:
    return lambda: len(list(tmp.rglob("member.xml"))) >= count


def marked_processes(mark: str) -> list[int]:
    """Processes started with our mark in their environment (the command and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"NPSDIAG_TEST_MARK={mark}".encode() in environment.split(b"\0"):
            found.append(int(entry.name))
    return found


def leftovers(tmp: Path) -> list[str]:
    return sorted(str(path.relative_to(tmp)) for path in tmp.rglob("*"))


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_analyze_stopped_by_a_signal_removes_its_temporary_folders(
    tmp_path: Path, signum: int, code: int
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    bundle = slow_bundle(tmp_path / "bundle.zip")
    report = tmp_path / "r.html"
    process = start(["analyze", str(bundle), "--html", str(report)], tmp, uuid.uuid4().hex)
    wait_for(members_unpacked(tmp))
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert leftovers(tmp) == []
    assert not report.exists()
    assert list(tmp_path.glob(".r.html.*")) == []


def _collection(root: Path) -> Path:
    collected = root / "collected"
    collected.mkdir()
    for name in ("a", "b", "c"):
        slow_bundle(collected / f"{name}.zip", events=25_000)
    return collected


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)]
)
def test_batch_stopped_by_a_signal_stops_its_workers_and_cleans_up(
    tmp_path: Path, signum: int, code: int
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    collected = _collection(tmp_path)
    output = tmp_path / "review"
    mark = uuid.uuid4().hex
    process = start(
        ["batch", str(collected), "-o", str(output), "--workers", "2", "--no-progress"],
        tmp,
        mark,
    )
    wait_for(members_unpacked(tmp, 2))
    assert len(marked_processes(mark)) >= 3  # the batch and its two workers
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "batch stopped" in err
    wait_for(lambda: not marked_processes(mark), 15, "a worker outlived the batch")
    assert leftovers(tmp) == []
    assert not (output / "index.html").exists()


def test_workers_end_when_the_batch_is_killed(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    collected = _collection(tmp_path)
    mark = uuid.uuid4().hex
    process = start(
        ["batch", str(collected), "-o", str(tmp_path / "review"), "--workers", "2"],
        tmp,
        mark,
    )
    wait_for(members_unpacked(tmp, 2))
    process.kill()  # SIGKILL: the batch itself can do nothing
    process.communicate(timeout=60)
    wait_for(lambda: not marked_processes(mark), 15, "a worker outlived the batch")
    # The workers removed what they had made, and the scratch folder of the dead batch.
    wait_for(lambda: leftovers(tmp) == [], 15, f"left behind: {leftovers(tmp)}")
