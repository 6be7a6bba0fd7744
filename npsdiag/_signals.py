"""Stop cleanly when asked to: SIGTERM and SIGHUP as well as Ctrl+C.

By default SIGTERM and SIGHUP end a Python process on the spot: no ``finally`` block runs, so
the temporary folders of bundle members and half-written reports stay behind, and the worker
processes of ``npsdiag batch`` go on without their parent.

* The command line (:func:`stopping_on_signals`) turns them into :class:`Terminated`, an
  exception like ``KeyboardInterrupt``: everything unwinds as for Ctrl+C (temporary paths
  removed, workers stopped, no index written), and ``npsdiag`` exits with 128 + the signal's
  number (143 for SIGTERM, 129 for SIGHUP), as a shell reports a process killed by it.
* A batch worker process (:func:`install_worker_handlers`) removes its temporary paths and
  ends at once: its parent decides what becomes of its case. It ignores Ctrl+C, which is its
  parent's to handle, and on Linux the kernel tells it when its parent dies, however the
  parent died (``prctl(PR_SET_PDEATHSIG)``), so no worker outlives a killed batch.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

from npsdiag import _tempfiles

__all__ = ["STOP_SIGNALS", "Terminated", "install_worker_handlers", "stopping_on_signals"]

#: The signals that ask npsdiag to stop, besides SIGINT (Ctrl+C).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_PR_SET_PDEATHSIG = 1


class Terminated(BaseException):
    """The process was asked to stop by a signal.

    A ``BaseException``, like ``KeyboardInterrupt``, so that the ``except Exception`` that
    keeps one bad case or file from stopping a run does not swallow it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.name}")

    @property
    def exit_code(self) -> int:
        """What a shell reports for a process this signal ended."""
        return 128 + self.signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread.

    The handlers in place before come back on the way out. Outside the main thread (where
    Python cannot set handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _raise_terminated) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


#: The batch's scratch folder, as the worker was told it.
_scratch: list[str | None] = [None]


def _end_worker(signum: int, frame: FrameType | None) -> None:
    _tempfiles.remove_all()
    os._exit(128 + signum)


def _orphaned(signum: int, frame: FrameType | None) -> None:
    # The batch died without a word (killed): nobody else is left to remove its scratch
    # folder. (Its own SIGTERM cannot say so: getppid() may still name it while its other
    # threads are dying, so the kernel's notice comes as a signal of its own.)
    _tempfiles.remove_all()
    if _scratch[0] is not None:
        shutil.rmtree(_scratch[0], ignore_errors=True)
    os._exit(128 + signum)


def install_worker_handlers(parent: int | None = None, scratch: str | None = None) -> None:
    """In a batch worker process: end at once on SIGTERM and SIGHUP (after removing this
    process's temporary paths), ignore SIGINT, and end when the parent ``parent`` dies.

    On Linux the kernel tells a worker of its parent's death with SIGUSR1
    (``prctl(PR_SET_PDEATHSIG)``); the worker then also removes the batch's ``scratch``
    folder, which the dead parent can no longer do.
    """
    _scratch[0] = scratch
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in STOP_SIGNALS:
        signal.signal(number, _end_worker)
    if sys.platform.startswith("linux"):
        signal.signal(signal.SIGUSR1, _orphaned)
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGUSR1), 0, 0, 0)
        if parent is not None and os.getppid() != parent:
            # The parent died before the line above could ask to be told.
            _orphaned(int(signal.SIGUSR1), None)
