"""Run the cases of ``npsdiag batch`` on an existing Dask distributed cluster (``--scheduler``).

The batch (the *client*) finds the cases, holds the output folder's lock and writes the
index, as in a local run; each case is one Dask task. Decisions (docs/batch.md has them for
users):

* **Shared paths, not shipped bytes.** Workers read the cases and write the reports (and
  the fleet dataset's partitions) straight into the folders the batch was given, at the
  same paths: bundles of gigabytes would otherwise travel through the scheduler's
  connections, and reports as well. Before any case runs, every worker proves it sees the
  output folder (a file the client has just written there), can write into it and the
  dataset folder, and sees every case's inputs; otherwise the run stops with one line
  naming the worker and the path (:class:`npsdiag.errors.ClusterError`). Relative paths are
  resolved in the batch's working folder, which must exist on the workers too.
* **Same isolation as the local pool.** A worker thread runs its cases in a child process
  (:class:`npsdiag.batch_host.CaseHost`): a crash costs only that case (it is tried once
  more in a fresh process, as the local pool tries it alone, then recorded as ``worker
  crashed``), the time limit ends a case inside its host, and the thread ends a host that
  ignores it at :func:`npsdiag.batch_pool.hard_limit`. The Dask worker itself never runs
  npsdiag's analysis, so it is never left with a wedged thread.
* **Same bytes.** The hosts run :func:`npsdiag.batch_case.run_case` with the batch's own
  catalog (pickled once, sent to every worker with ``scatter``), in the batch's working
  folder, so reports and index are byte for byte those of a local run; the workers'
  npsdiag version must be the batch's.
* **Stopping.** Ctrl+C (or SIGTERM, SIGHUP) tells every worker to end this batch's hosts
  and start none of its cases, waits for that, cancels the futures and closes the
  connection; the batch then removes what the cases being read had written, and writes no
  index. The cluster itself is left running.

``distributed`` is imported only here, and this module only when ``--scheduler`` is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import queue
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npsdiag import __version__
from npsdiag.batch_case import (
    CaseSummary,
    Task,
    crashed_summary,
    discard_case_outputs,
    failed_summary,
    one_line,
    timed_out_summary,
)
from npsdiag.batch_host import CaseHost, HostDied, HostSettings, HostTimedOut
from npsdiag.batch_pool import Tracker, hard_limit
from npsdiag.errors import ClusterError, UsageError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["EXTRA_HINT", "ClusterRunner", "check_worker", "require_distributed"]

#: What to install for ``--scheduler``.
EXTRA_HINT = "pip install 'npsdiag[cluster]'"
_CONNECT_SECONDS = 20.0
_WORKERS_SECONDS = 20.0
_POLL_SECONDS = 0.1
#: At most this often a task reports the files and events its case has read.
_PROGRESS_SECONDS = 0.5
_MARKER = ".npsdiag-cluster-check-"


def require_distributed() -> None:
    """Fail early, as a usage error, when ``dask.distributed`` (the ``cluster`` extra) is
    missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(
            "--scheduler needs dask.distributed, which is not installed", hint=EXTRA_HINT
        ) from None


# ----------------------------------------------------------------------- worker side


class _WorkerBatches:
    """What one Dask worker process knows of the batches it runs cases for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: (batch token, thread id) -> the host that thread runs its cases in.
        self.hosts: dict[tuple[str, int], CaseHost] = {}
        #: (batch token, thread id) -> the task index being read there.
        self.running: dict[tuple[str, int], int] = {}
        #: Batches told to stop: none of their cases may start any more.
        self.stopped: set[str] = set()


_BATCHES = _WorkerBatches()


def _host(key: tuple[str, int], settings: bytes, cwd: str) -> CaseHost:
    with _BATCHES.lock:
        host = _BATCHES.hosts.get(key)
    if host is not None and host.alive:
        return host
    if host is not None:
        host.close()
    host = CaseHost(settings, cwd)
    with _BATCHES.lock:
        _BATCHES.hosts[key] = host
    return host


def _drop_host(key: tuple[str, int]) -> None:
    with _BATCHES.lock:
        host = _BATCHES.hosts.pop(key, None)
    if host is not None:
        host.close()


def _progress(topic: str, index: int) -> tuple[Any, Any]:
    """A callback counting the files and events of one case, and a function that sends the
    counts to the batch (through the scheduler's event log) at most every half second."""
    from distributed import get_worker

    worker = get_worker()
    counts = [0, 0, 0.0]

    def send(force: bool = False) -> None:
        now = time.monotonic()
        if force or now - counts[2] >= _PROGRESS_SECONDS:
            counts[2] = now
            with contextlib.suppress(Exception):  # progress is never worth a failed case
                worker.log_event(topic, {"case": index, "files": counts[0], "events": counts[1]})

    def on_source(records: int) -> None:
        counts[0] += 1
        counts[1] += records
        send()

    return on_source, send


def run_case_on_worker(
    task: Task, settings: bytes, token: str, cwd: str, time_limit: float | None
) -> CaseSummary | None:
    """The Dask task of one case: run it in this thread's host process.

    Returns:
        The case's summary, or None when the batch was stopped before or while it ran.
    """
    key = (token, threading.get_ident())
    with _BATCHES.lock:
        if token in _BATCHES.stopped:
            return None
        _BATCHES.running[key] = task.index
    on_source, send = _progress(f"npsdiag-batch-{token}", task.index)
    send(force=True)  # the batch now knows this case started
    hard = None if time_limit is None else hard_limit(time_limit)
    try:
        for _attempt in range(2):
            host = _host(key, settings, cwd)
            try:
                return host.run(task, hard, on_source)
            except HostTimedOut:
                _drop_host(key)
                discard_case_outputs(task)
                limit = time_limit or 0.0
                return timed_out_summary(task.case, limit, hard_limit(limit))
            except HostDied:
                _drop_host(key)
                if token in _BATCHES.stopped:
                    return None
                # Once more in a fresh process: only a case that kills it again is failed.
        discard_case_outputs(task)
        return crashed_summary(task.case)
    finally:
        send(force=True)
        with _BATCHES.lock:
            _BATCHES.running.pop(key, None)


async def stop_batch(token: str) -> list[int]:
    """On a worker: start no more case of batch ``token``, end its hosts and wait for them.

    Returns:
        The task indexes that were being read when asked.
    """
    with _BATCHES.lock:
        _BATCHES.stopped.add(token)
        running = sorted(index for (owner, _), index in _BATCHES.running.items() if owner == token)
        hosts = [host for (owner, _), host in _BATCHES.hosts.items() if owner == token]
    for host in hosts:
        host.stop()
    # Waiting for them off the worker's event loop, which must go on answering the scheduler.
    await asyncio.get_running_loop().run_in_executor(None, _close_all, hosts)
    return running


def end_batch(token: str) -> None:
    """On a worker, at the end of batch ``token``: end its idle hosts."""
    with _BATCHES.lock:
        keys = [key for key in _BATCHES.hosts if key[0] == token]
        hosts = [_BATCHES.hosts.pop(key) for key in keys]
    _close_all(hosts)


def _close_all(hosts: Sequence[CaseHost]) -> None:
    for host in hosts:
        host.close()


def check_worker(
    marker: str, token: str, writable: Sequence[str], inputs: Sequence[str], cwd: str
) -> dict[str, Any]:
    """On a worker, before a batch: what it cannot see or do of what the batch needs.

    Args:
        marker: a file the batch has just written into its output folder, holding ``token``
            (a folder of the same name on the worker's own disk would not hold it).
        writable: folders the worker's hosts must be able to write into.
        inputs: every case's inputs, as the batch sees them.
        cwd: the batch's working folder (relative paths are resolved there).

    Returns:
        ``{"version": npsdiag's version here, "problems": [one line each]}``.
    """
    problems: list[str] = []

    def place(path: str) -> Path:
        return Path(cwd) / path

    try:
        seen = place(marker).read_text(encoding="utf-8").strip()
    except OSError:
        seen = ""
    if seen != token:
        problems.append(f"does not see the output folder '{Path(marker).parent}'")
    for folder in writable:
        probe = place(folder) / f"{_MARKER}{secrets.token_hex(4)}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            problems.append(f"cannot write into '{folder}' ({error.strerror or error})")
    missing = [path for path in inputs if not place(path).exists()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        problems.append(f"does not see '{missing[0]}'{more}")
    return {"version": __version__, "problems": problems}


# ----------------------------------------------------------------------- client side


class ClusterRunner:
    """Runs tasks on a Dask cluster; same contract as :class:`npsdiag.batch_pool.PoolRunner`.

    Args:
        address: the scheduler (``tcp://host:8786``).
        settings: what every host is started with.
        tracker: told of every finished case and of files and events read.
    """

    def __init__(self, address: str, settings: HostSettings, tracker: Tracker) -> None:
        self._address = address
        self._settings = settings
        self._tracker = tracker
        self._token = secrets.token_hex(8)
        self._cwd = str(Path.cwd())
        self._events: queue.SimpleQueue[dict[str, int]] = queue.SimpleQueue()
        self._counts: dict[int, tuple[int, int]] = {}

    def run(
        self, tasks: Sequence[Task], results: dict[int, CaseSummary], started: set[int]
    ) -> None:
        """Run ``tasks`` (in priority order); summaries land in ``results`` by task index.

        ``started`` receives the index of every task a worker began (as far as the batch
        learns of it: on stopping, the workers say which cases they were reading).

        Raises:
            ClusterError: the scheduler cannot be reached, has no worker, a worker cannot
                see the paths or runs another npsdiag version, or the scheduler is lost.
        """
        if not tasks:
            return
        _quiet_distributed()
        client = self._connect()
        futures: dict[Any, Task] = {}
        topic = f"npsdiag-batch-{self._token}"
        try:
            self._check_workers(client, tasks)
            client.subscribe_topic(topic, self._on_event)
            blob = pickle.dumps(self._settings, protocol=pickle.HIGHEST_PROTOCOL)
            settings = client.scatter(blob, broadcast=True, hash=False)
            for position, task in enumerate(tasks):
                future = client.submit(
                    run_case_on_worker,
                    task,
                    settings,
                    self._token,
                    self._cwd,
                    self._settings.time_limit,
                    key=f"npsdiag-case-{self._token}-{task.index}",
                    priority=len(tasks) - position,
                    pure=False,
                )
                futures[future] = task
            self._collect(client, futures, results, started)
        except BaseException:
            self._stop(client, futures, started)
            raise
        finally:
            with contextlib.suppress(Exception):
                client.run(end_batch, self._token)
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(topic)
            with contextlib.suppress(Exception):
                client.close(timeout=10)

    def _connect(self) -> Client:
        from distributed import Client

        try:
            return Client(self._address, timeout=_CONNECT_SECONDS, set_as_default=False)
        except Exception as error:  # OSError, TimeoutError, ValueError for a bad address
            raise ClusterError(
                f"cannot reach the Dask scheduler at '{self._address}': {one_line(error)}",
                hint="check the address (tcp://HOST:8786) and that the scheduler runs",
            ) from None

    def _check_workers(self, client: Client, tasks: Sequence[Task]) -> None:
        try:
            client.wait_for_workers(1, timeout=_WORKERS_SECONDS)
        except Exception:
            raise ClusterError(
                f"the Dask scheduler at '{self._address}' has no worker",
                hint="start workers with `dask worker " + self._address + "`",
            ) from None
        output = tasks[0].output
        marker = str(Path(output) / f"{_MARKER}{self._token}")
        writable = [output, *{task.dataset for task in tasks if task.dataset is not None}]
        inputs = sorted({path for task in tasks for path in task.case.inputs})
        try:
            Path(marker).write_text(self._token, encoding="utf-8")
        except OSError as error:
            raise UsageError(
                f"cannot write into '{output}': {error.strerror or error}",
                hint="give an output folder you may write to",
            ) from None
        try:
            answers = client.run(check_worker, marker, self._token, writable, inputs, self._cwd)
        except Exception as error:
            raise ClusterError(
                f"cannot check the workers of '{self._address}': {one_line(error)}",
                hint="check that npsdiag is installed on every worker",
            ) from None
        finally:
            with contextlib.suppress(OSError):
                Path(marker).unlink()
        for worker, answer in sorted(answers.items()):
            if answer["version"] != __version__:
                raise ClusterError(
                    f"worker {worker} runs npsdiag {answer['version']}, this is {__version__}",
                    hint="install the same npsdiag on the workers",
                )
            if answer["problems"]:
                raise ClusterError(
                    f"worker {worker} {'; '.join(answer['problems'])}",
                    hint="the workers must see the inputs and the output and dataset "
                    "folders at the paths this machine uses (a shared file system)",
                )

    def _on_event(self, event: tuple[float, dict[str, int]]) -> None:
        # Called on the client's event loop thread: hand over to the batch's thread.
        self._events.put(event[1])

    def _drain_events(self, started: set[int]) -> None:
        changed = False
        while True:
            try:
                message = self._events.get_nowait()
            except queue.Empty:
                break
            index = int(message["case"])
            started.add(index)
            self._counts[index] = (int(message["files"]), int(message["events"]))
            changed = True
        if changed:
            files = sum(count[0] for count in self._counts.values())
            events = sum(count[1] for count in self._counts.values())
            self._tracker.live(files, events)

    def _collect(
        self,
        client: Client,
        futures: dict[Any, Task],
        results: dict[int, CaseSummary],
        started: set[int],
    ) -> None:
        from distributed import as_completed

        finished = as_completed(list(futures), loop=client.loop)
        remaining = len(futures)
        while remaining:
            self._drain_events(started)
            if not finished.has_ready():
                time.sleep(_POLL_SECONDS)
                continue
            for future in sorted(finished.next_batch(block=False), key=lambda f: futures[f].index):
                task = futures[future]
                remaining -= 1
                summary = self._summary(future, task)
                results[task.index] = summary
                self._tracker.case_done(summary)
        self._drain_events(started)

    def _summary(self, future: Any, task: Task) -> CaseSummary:
        from distributed import KilledWorker

        try:
            summary = future.result()
        except KilledWorker:
            # The Dask worker itself died with this case, again and again: it is the case.
            return crashed_summary(task.case)
        except asyncio.CancelledError:
            raise ClusterError(
                f"the Dask scheduler at '{self._address}' dropped the batch's tasks",
                hint="check that the scheduler is still running, then run again",
            ) from None
        except Exception as error:  # a result that failed to arrive, a bug on the worker
            return failed_summary(task.case, "internal error", one_line(error))
        if not isinstance(summary, CaseSummary):
            return failed_summary(task.case, "internal error", "the worker returned no result")
        return summary

    def _stop(self, client: Client, futures: dict[Any, Task], started: set[int]) -> None:
        """Stop the batch on every worker, then drop its queued tasks."""
        with contextlib.suppress(BaseException):
            answers = client.run(stop_batch, self._token)
            for running in answers.values():
                started.update(running)
        with contextlib.suppress(BaseException):
            client.cancel(list(futures), force=True)
        with contextlib.suppress(BaseException):
            self._drain_events(started)


def _quiet_distributed() -> None:
    """Keep the client's log lines about closing connections off the batch's terminal."""
    import logging

    for name in ("distributed", "distributed.client", "distributed.batched"):
        logging.getLogger(name).setLevel(logging.ERROR)
