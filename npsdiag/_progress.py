"""The progress bar of ``npsdiag batch``, drawn with rich on standard error.

The only module besides the terminal layer that imports rich (pyproject allows it):
the batch library reports :class:`~npsdiag.batch.BatchProgress` through a callback,
and this bar turns the counters into cases done/total, files done, events per second
and an estimate of the time left. Nothing here is ever written to a report.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

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
    from npsdiag.batch import BatchProgress

__all__ = ["BatchProgressBar"]


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
