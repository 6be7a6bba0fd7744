"""The progress displays of ``npsdiag batch`` and ``npsdiag analyze``, drawn with rich on
standard error.

The only module besides the terminal layer that imports rich (pyproject allows it): the
batch library reports :class:`~npsdiag.batch.BatchProgress` through a callback, and its bar
turns the counters into cases done/total, files done, events per second and an estimate of
the time left; ``analyze`` reports each input it reads (:class:`npsdiag.analyze.ReadProgress`).
Nothing here is ever written to a report.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from npsdiag.batch_result import BatchProgress
    from npsdiag.model import SourceStats

__all__ = ["AnalyzeProgress", "BatchProgressBar"]


class BatchProgressBar:
    """A context manager whose :meth:`update` is a ``run_batch`` progress callback.

    Example::

        with BatchProgressBar(total=len(cases)) as bar:
            run_batch(inputs, output, on_progress=bar.update)
    """

    def __init__(self, total: int = 0, *, stream: TextIO | None = None) -> None:
        """Prepare the bar (nothing is drawn before ``__enter__``).

        Args:
            total: cases expected (updated from the first progress report anyway).
            stream: where to draw; standard error by default.
        """
        self._console = Console(file=stream if stream is not None else sys.stderr)
        self._progress = Progress(
            TextColumn("[bold]cases"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"),
            TextColumn("{task.fields[files]} files"),
            TextColumn("{task.fields[rate]} events/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self._console,
            transient=True,
        )
        self._task: TaskID = self._progress.add_task(
            "cases", total=total or None, failed="", files=0, rate="0"
        )
        self._started = time.monotonic()

    def __enter__(self) -> BatchProgressBar:
        self._started = time.monotonic()
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, progress: BatchProgress) -> None:
        """Show the latest counters (a ``run_batch`` ``on_progress`` callback)."""
        elapsed = max(time.monotonic() - self._started, 1e-6)
        self._progress.update(
            self._task,
            total=progress.cases_total,
            completed=progress.cases_done,
            failed=f"({progress.cases_failed} failed)" if progress.cases_failed else "",
            files=f"{progress.files_done:,}",
            rate=f"{progress.events_read / elapsed:,.0f}",
        )


class AnalyzeProgress:
    """The progress of ``npsdiag analyze`` on standard error: file, bytes, records, phase.

    It shows only when the run lasts: the display starts after ``delay`` seconds, so a
    small case prints nothing. While an .evtx is read, a background thread asks the open
    file how far the parser got (``tell()``), which costs the reader nothing per record.
    The display is transient: nothing is left on the screen once the report is printed.
    Implements :class:`npsdiag.analyze.ReadProgress`.
    """

    def __init__(self, *, stream: TextIO | None = None, delay: float = 1.0) -> None:
        # The command makes one only for a terminal; a stream given here is drawn on as one.
        self._console = Console(
            file=stream if stream is not None else sys.stderr,
            force_terminal=True if stream is not None else None,
        )
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[files]}"),
            TextColumn("{task.fields[records]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
        )
        self._task: TaskID = self._progress.add_task("reading", total=None, files="", records="")
        self._delay = delay
        self._lock = threading.Lock()
        self._done_bytes = 0
        self._records = 0
        self._stream: BinaryIO | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = False
        self._size = 0

    def __enter__(self) -> AnalyzeProgress:
        self._thread = threading.Thread(target=self._run, name="npsdiag-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop and take the display off the screen (before the report is printed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._shown:
            self._progress.stop()
            self._shown = False

    def _run(self) -> None:
        if self._stop.wait(self._delay):
            return
        self._progress.start()
        self._shown = True
        while not self._stop.wait(0.2):
            with self._lock:
                stream = self._stream
                done = self._done_bytes
            position = 0
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    position = stream.tell()
            self._progress.update(self._task, completed=done + position)

    # -- npsdiag.analyze.ReadProgress

    def begin(self, name: str, size: int | None, number: int, count: int, total: int) -> None:
        shown = name.replace("\\", "/").rpartition("/")[2]
        with self._lock:
            self._stream = None
        self._progress.update(
            self._task,
            description=f"reading {shown[-40:]}",
            total=total or None,
            files=f"file {number:,} of {count:,}",
            records=f"{self._records:,} records",
        )
        self._size = size or 0

    def follow(self, stream: BinaryIO) -> None:
        with self._lock:
            self._stream = stream

    def end(self, stats: SourceStats) -> None:
        with self._lock:
            self._stream = None
            self._done_bytes += self._size
            self._records += stats.records_read + stats.records_failed
        self._progress.update(
            self._task, completed=self._done_bytes, records=f"{self._records:,} records"
        )

    def phase(self, text: str) -> None:
        self._progress.update(self._task, description=text)
