"""A process that reads cases for someone else: one case at a time, and expendable.

A Dask worker runs its tasks in threads, where nothing can stop a case that hangs (no alarm
clock outside the main thread, no way to end a thread) and a crash of a native reader takes
the whole worker, and every case it was reading, with it. So each worker thread of
``npsdiag batch --scheduler`` hands its cases to a *host*: a child process started with
``python -m npsdiag.batch_host``, which runs :func:`npsdiag.batch_case.run_case` in its main
thread, with the case's time limit on its own alarm clock, and is ended from outside when the
alarm cannot stop the case. A host lives for as many cases as its thread runs (the catalog
is loaded once), and is replaced when it dies or is ended.

The two talk over the child's standard input and output: length-prefixed pickles (the
child's own ``print``\\ s, if any, go to standard error). Child to parent: ``("ready",
None)`` once set up, ``("source", records_read)`` after each input, ``("done",
CaseSummary)`` at the end of a case.

Pickles are read only from the other end of a private pipe, between processes of one user
running the same installed npsdiag.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from npsdiag.batch_case import CaseSummary, Task
    from npsdiag.catalog import Catalog

__all__ = ["CaseHost", "HostDied", "HostSettings", "HostTimedOut", "main"]

_HEADER = struct.Struct("<Q")
#: How long a host told to end may take before it is killed.
_END_GRACE_SECONDS = 5.0
#: How often a thread waiting for a case looks whether it was asked to stop.
_POLL_SECONDS = 0.25
_EOF = ("eof", None)


@dataclass(frozen=True, slots=True)
class HostSettings:
    """What every host of one batch is started with (pickled once by the batch).

    Attributes:
        catalog: the catalog to match against (the batch's, so every host matches against
            the very same entries).
        redact: pass every analysis through the redactor.
        max_evidence, max_incidents: the report limits.
        time_limit: seconds a case may take (None: no limit); the host's own alarm.
    """

    catalog: Catalog | None
    redact: bool
    max_evidence: int
    max_incidents: int
    time_limit: float | None


class HostDied(Exception):
    """The host process ended while (or before) reading a case."""


class HostTimedOut(Exception):
    """The case went on past the hard limit and its host was ended."""


def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next message, or :data:`_EOF` when the other end is gone."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return _EOF
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return _EOF
    return pickle.loads(data)


class CaseHost:
    """The parent's handle on one host process (used by one thread at a time).

    Args:
        settings: a pickled :class:`HostSettings`.
        cwd: the folder relative inputs and outputs are resolved in (the batch's own
            working folder, which must be visible here at the same path).
        sys_path: the module search path the host starts with (this process's own).
    """

    def __init__(self, settings: bytes, cwd: str, sys_path: list[str] | None = None) -> None:
        self._scratch = tempfile.mkdtemp(prefix="npsdiag-host-")
        self._messages: queue.Queue[Any] = queue.Queue()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "npsdiag.batch_host"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._input = self._process.stdin
        self._reader = threading.Thread(
            target=self._read, args=(self._process.stdout,), daemon=True
        )
        self._reader.start()
        hello = {
            "sys_path": list(sys.path if sys_path is None else sys_path),
            "cwd": cwd,
            "parent": os.getpid(),
            "scratch": self._scratch,
        }
        try:
            _send(self._input, hello)
            _send(self._input, settings)
        except OSError:
            pass  # the host died at once: the first case says so

    @property
    def pid(self) -> int:
        """The host's process id."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        """Whether the host process is still running."""
        return self._process.poll() is None

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            message = _receive(stream)
            self._messages.put(message)
            if message is _EOF or message == _EOF:
                return

    def run(
        self, task: Task, hard_limit: float | None, on_source: Callable[[int], None]
    ) -> CaseSummary:
        """Run one case in the host and return its summary.

        Args:
            task: the case.
            hard_limit: seconds after which the host is ended if the case has not finished
                (the host's own alarm ends it at the time limit before that); None: none.
            on_source: called with the records read after each input.

        Raises:
            HostDied: the host ended without finishing the case (a crash, killed from
                outside, or :meth:`stop`).
            HostTimedOut: the case went on past ``hard_limit``; the host was ended.
        """
        try:
            _send(self._input, task)
        except OSError:
            self.close()
            raise HostDied from None
        deadline = None if hard_limit is None else time.monotonic() + hard_limit
        while True:
            wait = _POLL_SECONDS
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
            try:
                kind, value = self._messages.get(timeout=wait)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    self.close()
                    raise HostTimedOut from None
                continue
            if kind == "source":
                on_source(int(value))
            elif kind == "done":
                summary: CaseSummary = value
                return summary
            elif kind == "eof":
                self.close()
                raise HostDied

    def stop(self) -> None:
        """Tell the host to end now (from any thread); :meth:`close` waits for it."""
        with contextlib.suppress(OSError):
            self._process.terminate()

    def close(self) -> None:
        """End the host and remove its scratch folder; waits at most a few seconds."""
        process = self._process
        with contextlib.suppress(OSError):
            self._input.close()
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.terminate()
            try:
                process.wait(_END_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    process.kill()
                process.wait()
        shutil.rmtree(self._scratch, ignore_errors=True)


# -------------------------------------------------------------------------- the host


def main() -> int:
    """The host process: set up from the first two messages, then run cases until EOF."""
    # The protocol owns the original standard input and output; anything printed by
    # mistake goes to standard error instead of corrupting a message.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    hello = _receive(requests)
    if hello == _EOF:
        return 0
    for entry in reversed(hello["sys_path"]):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    from npsdiag._signals import install_worker_handlers

    install_worker_handlers(int(hello["parent"]), hello["scratch"])
    tempfile.tempdir = hello["scratch"]
    with contextlib.suppress(OSError):
        os.chdir(hello["cwd"])
    blob = _receive(requests)
    if blob == _EOF:
        return 0
    settings: HostSettings = pickle.loads(blob)

    from npsdiag.batch_case import make_state, run_case

    state = make_state(
        settings.catalog,
        settings.redact,
        settings.max_evidence,
        settings.max_incidents,
        time_limit=settings.time_limit,
    )
    _send(replies, ("ready", None))
    while True:
        task = _receive(requests)
        if task == _EOF:
            return 0
        summary = run_case(
            task, state, lambda stats: _send(replies, ("source", stats.records_read))
        )
        _send(replies, ("done", summary))


if __name__ == "__main__":
    raise SystemExit(main())
