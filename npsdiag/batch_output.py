"""The output folder of ``npsdiag batch``: one run at a time, case folders, report files.

Two runs writing into one folder would remove each other's reports and write an index that
contradicts the files, so a run holds :class:`OutputLock` for as long as it writes: a second
run is refused with a message naming the first one's process. The lock is the operating
system's (``flock``, or ``msvcrt.locking`` on Windows) on ``OUTPUT/.npsdiag-batch.lock``; the
system releases it when the process ends, however it ends, so a crash leaves no stale lock.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from npsdiag import _atomic
from npsdiag.batch_find import LOCK_FILE
from npsdiag.errors import UsageError

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

__all__ = ["REPORT_FILES", "OutputLock", "case_folder", "discard_reports", "write_text_atomic"]

#: The reports written for every case read: (format name in ``REPORTS``, file name).
REPORT_FILES: tuple[tuple[str, str], ...] = (
    ("html", "report.html"),
    ("json", "report.json"),
    ("markdown", "report.md"),
)


class OutputLock:
    """The output folder of one run; a second run into it is refused while this one holds it.

    Example::

        with OutputLock(Path("review")):
            ...  # write case reports and the index
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_FILE
        self._stream: BinaryIO | None = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, or refuse.

        Raises:
            UsageError: another run holds it (the message names its process), or the lock
                file cannot be made.
        """
        try:
            stream = open(self.path, "a+b")  # noqa: SIM115 - held until release()
        except OSError as error:
            raise UsageError(
                f"cannot write into '{self.folder}': {error.strerror or error}",
                hint="give an output folder you may write to",
            ) from None
        try:
            _lock(stream)
        except OSError:
            holder = _holder(self.path)
            stream.close()
            raise UsageError(
                f"another npsdiag batch{holder} is writing to '{self.folder}'",
                hint="wait for it to end, or give another output folder with -o",
            ) from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"{os.getpid()}\n".encode("ascii"))
        stream.flush()
        self._stream = stream

    def release(self) -> None:
        """Let go of the lock (the file stays: removing it could race with a waiting run)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(OSError):
                _unlock(stream)
            stream.close()


def _lock(stream: BinaryIO) -> None:
    if sys.platform == "win32":
        stream.seek(0)
        msvcrt.locking(stream.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock(stream: BinaryIO) -> None:
    if sys.platform == "win32":
        stream.seek(0)
        msvcrt.locking(stream.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(stream.fileno(), fcntl.LOCK_UN)


def _holder(path: Path) -> str:
    """`` (process N)`` for the run holding the lock, when its file says."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""
    return f" (process {text})" if text.isdigit() else ""


def case_folder(output: Path, case_id: str) -> Path:
    """The case's folder under ``output``, emptied of the files a previous run wrote there.

    Only npsdiag's own report files (and the temporary files of an interrupted write) are
    removed, so anything else an engineer put there stays. A link or a file in the folder's
    place is refused, so no report can be written outside the output folder.

    Raises:
        UsageError: the folder is a link or a file, or cannot be created.
    """
    folder = output / case_id
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise UsageError(
            f"'{folder}' is a link or a file, not a case folder",
            hint="remove it and run again",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create '{folder}': {error.strerror or error}") from None
    if Path(os.path.realpath(folder)).parent != Path(os.path.realpath(output)):
        raise UsageError(f"'{folder}' leads outside the output folder", hint="remove it")
    _remove_reports(folder)
    return folder


def discard_reports(folder: Path) -> None:
    """Remove a case's report files (and the folder, when nothing else is in it)."""
    if folder.is_symlink() or not folder.is_dir():
        return
    _remove_reports(folder)
    with contextlib.suppress(OSError):
        folder.rmdir()


def _remove_reports(folder: Path) -> None:
    for _, file_name in REPORT_FILES:
        report = folder / file_name
        for path in (report, *_atomic.partial_files(report)):
            with contextlib.suppress(OSError):
                path.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n``) whole or not at all (:mod:`npsdiag._atomic`).

    A report is thus either complete or absent, even when a worker is stopped in the
    middle; a link at ``path`` is replaced, never followed.

    Raises:
        UsageError: the file cannot be written.
    """
    try:
        _atomic.write_text_atomic(path, text)
    except OSError as error:
        raise UsageError(
            f"cannot write '{path}': {error.strerror or error}",
            hint="check that the output folder is writable and has space",
        ) from None
