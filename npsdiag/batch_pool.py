"""Run the cases of ``npsdiag batch`` in worker processes that cannot take the batch down.

Cases run in worker processes (``concurrent.futures.ProcessPoolExecutor`` with the ``spawn``
start method on every platform, so behaviour on Linux matches Windows, and no worker inherits
the threads of a progress bar).

* **A worker that dies** (a crash in a native reader, the OOM killer) costs only the case it
  was reading: the cases that were in flight are re-run one at a time in a fresh worker, and
  the one that kills its worker again is recorded as failed.
* **A case that takes too long** ends itself at the time limit where the platform has an
  alarm clock (``SIGALRM``), inside its worker, which goes on with the next case. A case the
  alarm cannot stop (stuck inside a native call) is ended from here a grace period later:
  its worker is stopped, the case is recorded as ``timed out``, and the other cases in flight
  are queued again.
* **Stopping** (Ctrl+C, SIGTERM, SIGHUP in the parent): queued cases are dropped and every
  worker is ended. Workers remove their temporary folders when told to end, and all of them
  make those folders inside one scratch folder of the batch, which the parent removes
  afterwards, so a worker that had to be killed leaves nothing either. A worker whose parent
  dies ends itself (:func:`npsdiag._signals.install_worker_handlers`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from npsdiag._signals import install_worker_handlers
from npsdiag.batch_case import (
    CaseSummary,
    Task,
    WorkerState,
    crashed_summary,
    failed_summary,
    make_state,
    one_line,
    run_case,
    timed_out_summary,
)

if TYPE_CHECKING:
    from npsdiag.catalog import Catalog
    from npsdiag.model import SourceStats

__all__ = ["PoolRunner", "PoolSettings", "Runner", "Tracker", "hard_limit"]

#: How often the parent wakes up to read the workers' counters and watch the time.
_POLL_SECONDS = 0.1
#: How long a worker told to end may take before it is killed.
_END_GRACE_SECONDS = 5.0
# What each worker's slot of the shared counters holds.
_FILES, _EVENTS, _TASK, _PID = range(4)
_SLOT = 4

_STATE: WorkerState | None = None


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """What every worker is started with.

    Attributes:
        catalog: the catalog to match against (loaded once by the parent).
        redact: pass every analysis through the redactor.
        max_evidence, max_incidents: the report limits.
        time_limit: seconds a case may take (None: no limit).
        scratch: the folder the workers make their temporary folders in.
        parent: the batch's process id (a worker ends when it is gone).
    """

    catalog: Catalog | None
    redact: bool
    max_evidence: int
    max_incidents: int
    time_limit: float | None
    scratch: str | None
    parent: int


class Tracker(Protocol):
    """What the runner reports progress to (``npsdiag.batch``'s tracker)."""

    def case_done(self, summary: CaseSummary) -> None: ...
    def live(self, files: int, events: int) -> None: ...


class Runner(Protocol):
    """Runs the tasks of a batch somewhere: :class:`PoolRunner` (worker processes here) or
    ``npsdiag.batch_cluster.ClusterRunner`` (a Dask cluster)."""

    def run(
        self, tasks: Sequence[Task], results: dict[int, CaseSummary], started: set[int]
    ) -> None: ...


def hard_limit(time_limit: float) -> float:
    """When the parent ends a worker whose case ignores its time limit."""
    return time_limit + max(10.0, time_limit / 10)


def _init_worker(settings: PoolSettings, claimed: Any, values: Any) -> None:
    """Set up a worker process: signals, temporary folder, the catalog, its counter slot.

    ``claimed`` and ``values`` are the :class:`_LiveCounters` of the pool; the worker
    takes the next free slot (the only moment it takes a lock).
    """
    global _STATE
    install_worker_handlers(settings.parent, settings.scratch)
    if settings.scratch is not None:
        tempfile.tempdir = settings.scratch
    _STATE = make_state(
        settings.catalog,
        settings.redact,
        settings.max_evidence,
        settings.max_incidents,
        time_limit=settings.time_limit,
    )
    with claimed.get_lock():
        slot = int(claimed.value)
        claimed.value = slot + 1
    if _SLOT * slot + _PID < len(values):
        values[_SLOT * slot + _PID] = os.getpid()
        _STATE.counters = (values, slot)


def _worker_ready() -> None:
    """A task that only makes the pool start a worker process (see ``_run_pool``)."""


def _worker_task(task: Task) -> CaseSummary:
    """Run one case in a worker process (module level, so ``spawn`` can pickle it)."""
    if _STATE is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker used without _init_worker")
    state = _STATE
    counters = state.counters

    def on_source(stats: SourceStats) -> None:
        if counters is not None:
            values, slot = counters
            # This worker is the only writer of its slot: no lock is needed.
            values[_SLOT * slot + _FILES] += 1
            values[_SLOT * slot + _EVENTS] += stats.records_read

    if counters is not None:
        counters[0][_SLOT * counters[1] + _TASK] = task.index + 1
    try:
        return run_case(task, state, on_source)
    finally:
        if counters is not None:
            counters[0][_SLOT * counters[1] + _TASK] = 0


class _LiveCounters:
    """Per worker: files and events read so far, the case it is reading, its process id.

    In shared memory. Each worker owns one slot and is its only writer, so nothing takes a
    lock while cases run: a worker that dies in the middle of an update cannot block the
    others or the parent, as it could with a queue or pipe shared by all of them (left
    locked, or holding half a message).
    """

    def __init__(self, context: Any, slots: int) -> None:
        self.claimed: Any = context.Value("i", 0)
        self.values: Any = context.Array("q", _SLOT * slots, lock=False)

    def totals(self) -> tuple[int, int]:
        values = list(self.values)
        return sum(values[_FILES::_SLOT]), sum(values[_EVENTS::_SLOT])

    def running(self) -> list[tuple[int, int, int]]:
        """``(slot, task index, process id)`` of every worker reading a case now."""
        values = list(self.values)
        return [
            (slot, values[base + _TASK] - 1, values[base + _PID])
            for slot, base in enumerate(range(0, len(values), _SLOT))
            if values[base + _TASK]
        ]


class PoolRunner:
    """Runs tasks in spawned worker processes and survives a worker that dies or stalls."""

    def __init__(self, workers: int, settings: PoolSettings, tracker: Tracker) -> None:
        self._workers = workers
        self._settings = settings
        self._tracker = tracker
        self._context = multiprocessing.get_context("spawn")
        self._executor: ProcessPoolExecutor | None = None
        self._counters: _LiveCounters | None = None
        # Files and events counted by the pools that have already ended.
        self._base = (0, 0)
        self._started: set[int] = set()
        # Cases whose worker was ended for the time limit, and when each running case began.
        self._expired: set[int] = set()
        self._since: dict[int, tuple[int, float]] = {}

    def run(
        self, tasks: Sequence[Task], results: dict[int, CaseSummary], started: set[int]
    ) -> None:
        """Run ``tasks``; summaries land in ``results`` by task index as they arrive.

        ``started`` receives the index of every task handed to a worker.
        """
        self._started = started
        pending = deque(tasks)
        try:
            while pending:
                suspects = self._run_pool(pending, self._workers, results)
                innocent = self._settle_expired(suspects, results)
                if len(innocent) < len(suspects):
                    # The pool broke because a stalled case's worker was ended here: the
                    # other cases in flight did nothing wrong and simply run again.
                    pending.extendleft(reversed(innocent))
                    continue
                # A worker died: one of the cases in flight killed it, or it was killed
                # from outside. Re-run each alone, so that only the culprit is failed.
                for task in innocent:
                    alone = deque([task])
                    broken = self._run_pool(alone, 1, results)
                    if broken and not self._settle_expired(broken, results):
                        continue
                    if broken:
                        summary = crashed_summary(task.case)
                        results[task.index] = summary
                        self._tracker.case_done(summary)
        except BaseException:
            self._stop()
            raise

    def _settle_expired(self, tasks: Sequence[Task], results: dict[int, CaseSummary]) -> list[Task]:
        """Record the tasks ended for the time limit as timed out; return the others."""
        others = []
        for task in tasks:
            if task.index in self._expired and task.index not in results:
                limit = self._settings.time_limit or 0.0
                summary = timed_out_summary(task.case, limit, hard_limit(limit))
                results[task.index] = summary
                self._tracker.case_done(summary)
            elif task.index not in results:
                others.append(task)
        return others

    def _run_pool(
        self, pending: deque[Task], workers: int, results: dict[int, CaseSummary]
    ) -> list[Task]:
        """Run tasks from ``pending`` until it is empty or the pool breaks.

        At most ``workers`` tasks are in flight, so that when a worker dies the suspects
        are only the cases actually being read.

        Returns:
            The tasks in flight when the pool broke (empty when all went well).
        """
        # Slots for twice the workers: the pool never starts more processes than
        # max_workers, so this is headroom, not a limit anyone should reach.
        counters = _LiveCounters(self._context, 2 * workers)
        self._counters = counters
        self._since = {}
        if self._settings.scratch is not None:
            # A worker told of its parent's death by mistake (a stray SIGUSR1) removes it.
            Path(self._settings.scratch).mkdir(mode=0o700, parents=True, exist_ok=True)
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(self._settings, counters.claimed, counters.values),
        )
        in_flight: dict[Future[CaseSummary], Task] = {}
        broken: list[Task] = []
        try:
            # Start every worker now, with tasks that cannot fail: the pool starts a
            # process inside submit() when none is idle, and a process started while
            # the pool is being torn down after a crash is never stopped, so shutting
            # down would wait for it forever (CPython 3.11). With all workers started
            # first, no later submit() starts one.
            with contextlib.suppress(BrokenProcessPool):  # seen again at the next submit
                for _ in range(workers):
                    self._executor.submit(_worker_ready)
            while (pending or in_flight) and not broken:
                while pending and len(in_flight) < workers:
                    task = pending.popleft()
                    try:
                        future = self._executor.submit(_worker_task, task)
                    except BrokenProcessPool:
                        # The pool broke since the last result. This task never ran, but
                        # running it alone like the suspects costs little, and when every
                        # new worker dies at once (it cannot even start) that is what
                        # ends the run instead of starting pool after pool.
                        broken.append(task)
                        break
                    self._started.add(task.index)
                    in_flight[future] = task
                if broken:
                    break
                done, _ = wait(in_flight, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                self._report_live()
                self._watch_time({task.index for task in in_flight.values()})
                for future in sorted(done, key=lambda item: in_flight[item].index):
                    task = in_flight.pop(future)
                    try:
                        summary = future.result()
                    except BrokenProcessPool:
                        broken.append(task)
                        continue
                    except Exception as error:  # e.g. a result that failed to unpickle
                        summary = failed_summary(task.case, "internal error", one_line(error))
                    results[task.index] = summary
                    self._tracker.case_done(summary)
            if broken:
                broken.extend(in_flight.values())
                broken.sort(key=lambda task: task.index)
        except BaseException:
            # Ctrl+C, SIGTERM (or a bug here): do not wait for the cases being read.
            self._stop()
            raise
        self._shutdown()
        return broken

    def _watch_time(self, in_flight: set[int]) -> None:
        """End the worker of a case that has gone on past the hard time limit."""
        limit = self._settings.time_limit
        if limit is None or self._counters is None or self._executor is None:
            return
        now = time.monotonic()
        running = self._counters.running()
        seen_slots = set()
        for slot, index, pid in running:
            seen_slots.add(slot)
            known = self._since.get(slot)
            if known is None or known[0] != index:
                self._since[slot] = (index, now)
                continue
            overdue = now - known[1] > hard_limit(limit)
            if overdue and index in in_flight and index not in self._expired:
                self._expired.add(index)
                self._end_worker(pid)
        for slot in set(self._since) - seen_slots:
            del self._since[slot]

    def _end_worker(self, pid: int) -> None:
        """Stop one worker: told to end (it removes its temporary folders), then killed."""
        executor = self._executor
        processes: dict[int, Any] = dict(getattr(executor, "_processes", None) or {})
        process = processes.get(pid)
        if process is None:
            return
        with contextlib.suppress(Exception):
            process.terminate()
            process.join(_END_GRACE_SECONDS)
            if process.is_alive():
                process.kill()

    def _report_live(self) -> None:
        if self._counters is None:
            return
        files, events = self._counters.totals()
        self._tracker.live(self._base[0] + files, self._base[1] + events)

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._retire_counters()

    def _retire_counters(self) -> None:
        if self._counters is not None:
            self._report_live()
            files, events = self._counters.totals()
            self._base = (self._base[0] + files, self._base[1] + events)
            self._counters = None

    def _stop(self) -> None:
        """Stop now: drop queued cases and end the workers in the middle of one."""
        executor = self._executor
        self._executor = None
        if executor is not None:
            processes: dict[int, Any] = dict(getattr(executor, "_processes", None) or {})
            terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
            if callable(terminate):
                terminate()
            else:
                # No public way before 3.14; the workers ignore SIGINT, so end them here:
                # SIGTERM lets each remove its temporary folders before it goes.
                executor.shutdown(wait=False, cancel_futures=True)
                for process in processes.values():
                    with contextlib.suppress(Exception):
                        process.terminate()
            deadline = time.monotonic() + _END_GRACE_SECONDS
            for process in processes.values():
                with contextlib.suppress(Exception):
                    process.join(max(0.0, deadline - time.monotonic()))
                    if process.is_alive():
                        process.kill()
                        process.join(_END_GRACE_SECONDS)
        self._counters = None
