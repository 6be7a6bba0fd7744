"""Review many collected cases at once: one report per case, one index for all of them.

``npsdiag batch ./collected/ -o review/`` finds the *cases* in its inputs (the rule is
:func:`find_cases`; docs/batch.md has it with examples), analyses each one with
:func:`npsdiag.analyze.analyze_paths`, writes ``review/<case-id>/report.{html,json,md}``
and then the index (:mod:`npsdiag.batch_index`).

One broken case never stops the batch: an error becomes a failed case with a one-line
reason, a worker process that dies costs only the case it was reading, and a case that
stalls costs only itself (the per-case time limit). Cases run in worker processes
(:mod:`npsdiag.batch_pool`); ``workers=1`` runs them in this process, which is easier to
debug but cannot survive a crash of the reader. One run at a time writes into an output
folder (:class:`npsdiag.batch_output.OutputLock`).

Modules: :mod:`npsdiag.batch_find` finds the cases (and keeps the output out of them),
:mod:`npsdiag.batch_case` runs one, :mod:`npsdiag.batch_pool` runs many in worker processes,
:mod:`npsdiag.batch_output` owns the output folder, :mod:`npsdiag.batch_index` writes the index.

The library never prints. Progress goes through ``on_progress`` (the command draws a
bar from it); the result is a :class:`BatchResult`, and :func:`summary_line` words it.
Outputs are deterministic: no wall-clock value is written anywhere, so the same input
gives the same bytes (``CaseSummary.seconds`` exists for benchmarks and is never written).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from npsdiag._tempfiles import private_folder
from npsdiag.batch_case import (
    Task,
    discard_case_outputs,
    load_redactor,
    make_state,
    run_case,
)
from npsdiag.batch_find import Case, IgnoredEntry, case_slug, check_output, find_cases, overlap
from npsdiag.batch_output import REPORT_FILES, OutputLock, discard_reports
from npsdiag.batch_pool import PoolRunner, PoolSettings, Runner
from npsdiag.batch_result import (
    BatchProgress,
    BatchResult,
    CaseCause,
    CaseFamily,
    CaseSummary,
    ProgressCallback,
)
from npsdiag.errors import UsageError
from npsdiag.report._view import DEFAULT_MAX_EVIDENCE, DEFAULT_MAX_INCIDENTS

if TYPE_CHECKING:
    from npsdiag.catalog import Catalog

__all__ = [
    "DEFAULT_CASE_TIMEOUT",
    "REPORT_FILES",
    "BatchProgress",
    "BatchResult",
    "Case",
    "CaseCause",
    "CaseFamily",
    "CaseSummary",
    "IgnoredEntry",
    "ProgressCallback",
    "case_slug",
    "check_output",
    "default_workers",
    "find_cases",
    "load_redactor",
    "run_batch",
    "summary_line",
]

#: Seconds one case may take by default (``--case-timeout``): far more than a large real case
#: needs (a 4 GiB bundle reads in a few minutes), little enough that one stalled case does not
#: hold up a night's batch.
DEFAULT_CASE_TIMEOUT = 1800.0

#: ProcessPoolExecutor refuses more workers than this on Windows.
_WINDOWS_MAX_WORKERS = 61


def default_workers() -> int:
    """The CPUs this process may use (the affinity mask where the platform has one)."""
    counter = getattr(os, "process_cpu_count", None)  # Python >= 3.13
    if counter is not None:
        return max(1, int(counter() or 1))
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class _Tracker:
    """Counts progress and forwards it to the caller's callback; tells ``on_case`` of every
    finished case first."""

    def __init__(
        self,
        total: int,
        callback: ProgressCallback | None,
        on_case: Callable[[CaseSummary], None] | None = None,
    ) -> None:
        self.total = total
        self.callback = callback
        self.on_case = on_case
        self.done = 0
        self.failed = 0
        self.files = 0
        self.events = 0

    def source_done(self, records_read: int) -> None:
        self.files += 1
        self.events += records_read
        self.emit()

    def live(self, files: int, events: int) -> None:
        """Take new totals read from the workers' counters (reported when they change)."""
        if (files, events) != (self.files, self.events):
            self.files, self.events = files, events
            self.emit()

    def case_done(self, summary: CaseSummary) -> None:
        if self.on_case is not None:
            self.on_case(summary)
        self.done += 1
        self.failed += 0 if summary.ok else 1
        self.emit()

    def emit(self) -> None:
        if self.callback is not None:
            self.callback(
                BatchProgress(
                    cases_total=self.total,
                    cases_done=self.done,
                    cases_failed=self.failed,
                    files_done=self.files,
                    events_read=self.events,
                )
            )


def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    workers: int | None = None,
    redact: bool = False,
    max_evidence: int = DEFAULT_MAX_EVIDENCE,
    max_incidents: int = DEFAULT_MAX_INCIDENTS,
    case_timeout: float | None = DEFAULT_CASE_TIMEOUT,
    catalog: Catalog | None = None,
    on_progress: ProgressCallback | None = None,
    write_index: bool = True,
    command_line: str | None = None,
    scheduler: str | None = None,
    dataset: str | os.PathLike[str] | None = None,
) -> BatchResult:
    """Analyse every case in ``inputs`` and write one report set per case and the index.

    Args:
        inputs: folders, .zip bundles or patterns (see :func:`find_cases`).
        output: the output folder (created if missing). Only the folders of this run's
            cases and the index files are written; a case's old reports are removed
            before it runs, other folders are left alone. One run at a time may write
            into it.
        workers: worker processes (None: :func:`default_workers`; never more than there
            are cases); 1 runs every case in this process.
        redact: pass every analysis through ``npsdiag.redact.redact_analysis`` before
            anything is written.
        max_evidence: evidence events each case's HTML report lists per incident
            (``ReportOptions.max_evidence``; 0 lists all). The JSON reports hold all.
        max_incidents: incidents (and notices) each case's HTML and Markdown reports list
            (``ReportOptions.max_incidents``; 0 lists all). The JSON reports list all.
        case_timeout: seconds one case may take before it is stopped and recorded as
            ``timed out`` (None or 0: no limit); see docs/batch.md for how it is enforced.
        catalog: the catalog to match against (the shipped one by default).
        on_progress: called after each file and each case.
        write_index: write ``index.html``, ``index.csv``, ``index.json`` and
            ``causes.csv`` at the end (and link each case's HTML report to it).
        command_line: the command that runs this batch, shown in every case report as
            the command that made it; None shows a command that analyses the case alone.
        scheduler: run the cases on the Dask cluster of this scheduler
            (``tcp://host:8786``) instead of worker processes here; its workers must see
            the inputs, ``output`` and ``dataset`` at the same paths
            (:mod:`npsdiag.batch_cluster`). Needs the ``cluster`` extra.
        dataset: also write every case into this fleet dataset folder (Parquet, one
            partition per case; :mod:`npsdiag.fleet_dataset`). Needs the ``dataset`` extra.

    Returns:
        What was done; ``cases`` in case order.

    Raises:
        UsageError: an input is missing, the output (or dataset) overlaps an input or
            another run is writing into it, ``workers`` < 1, ``max_evidence``,
            ``max_incidents`` or ``case_timeout`` < 0, ``workers`` with ``scheduler``,
            redaction is unavailable, or the extra a ``scheduler`` or ``dataset`` needs is
            not installed.
        ClusterError: the cluster cannot run the batch (unreachable, no worker, a worker
            that cannot see the paths or runs another npsdiag).
        DatasetError: the ``cases`` table of the dataset cannot be written.
        NothingToAnalyseError: the inputs hold no case.
        KeyboardInterrupt: the run was interrupted (``npsdiag._signals.Terminated`` for
            SIGTERM and SIGHUP); finished cases keep their reports, no index is written,
            no worker is left running.
    """
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1 (got {workers})")
    if max_evidence < 0:
        raise UsageError(
            f"--evidence must be 0 or more (got {max_evidence})", hint="0 lists every event"
        )
    if max_incidents < 0:
        raise UsageError(
            f"--incidents must be 0 or more (got {max_incidents})",
            hint="0 lists every incident",
        )
    if case_timeout is not None and case_timeout < 0:
        raise UsageError(
            f"--case-timeout must be 0 or more seconds (got {case_timeout:g})",
            hint="0 gives every case all the time it needs",
        )
    if scheduler is not None and workers is not None:
        raise UsageError(
            "--workers and --scheduler cannot be used together",
            hint="the cluster's workers decide how many cases run at once",
        )
    limit = case_timeout or None
    # As text from here on: the index records the inputs as given, and JSON has no paths.
    given = [os.fspath(item) for item in inputs]
    target = Path(output)
    check_output(target, given)
    store = Path(dataset) if dataset is not None else None
    if store is not None:
        from npsdiag.fleet_dataset import require_pyarrow

        require_pyarrow()
        check_output(store, given)
        if overlap(store, target):
            raise UsageError(
                f"the dataset folder '{store}' and the output folder '{target}' overlap",
                hint="keep the dataset in a folder of its own, e.g. --dataset fleet",
            )
    if scheduler is not None:
        from npsdiag.batch_cluster import require_distributed

        require_distributed()
    if redact:
        load_redactor()  # fail before any work when redaction is unavailable
    cases, ignored = find_cases(given)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create '{target}': {error.strerror or error}") from None
    with OutputLock(target), _dataset_lock(store):
        if store is not None:
            from npsdiag.fleet_dataset import prepare_dataset

            prepare_dataset(store)
        if write_index:
            from npsdiag.batch_index import remove_index

            # An index left from an earlier run would link reports this run replaces.
            remove_index(target)
        if catalog is None:
            from npsdiag.catalog import load_catalog

            # Loaded (and validated) here once, so a bad catalog stops the run before any
            # worker starts, and every worker matches against the very same entries.
            catalog = load_catalog()
        count = min(workers if workers is not None else default_workers(), len(cases))
        if sys.platform == "win32":
            count = min(count, _WINDOWS_MAX_WORKERS)
        # Case reports sit in <output>/<case-id>/, the index in <output>/.
        index_link = "../index.html" if write_index else None
        tasks = [
            Task(
                index,
                case,
                str(target),
                redact,
                command_line=command_line,
                index_link=index_link,
                dataset=None if store is None else str(store),
            )
            for index, case in enumerate(cases)
        ]
        tracker = _Tracker(len(cases), on_progress, _case_recorder(tasks, store, redact))
        tracker.emit()
        results: dict[int, CaseSummary] = {}
        started: set[int] = set()
        try:
            if scheduler is not None:
                from npsdiag.batch_cluster import ClusterRunner
                from npsdiag.batch_host import HostSettings

                runner: Runner = ClusterRunner(
                    scheduler,
                    HostSettings(catalog, redact, max_evidence, max_incidents, limit),
                    tracker,
                )
                runner.run(_by_size(tasks), results, started)
            elif count <= 1:
                state = make_state(catalog, redact, max_evidence, max_incidents, time_limit=limit)
                for task in tasks:
                    started.add(task.index)
                    summary = run_case(
                        task, state, lambda stats: tracker.source_done(stats.records_read)
                    )
                    results[task.index] = summary
                    tracker.case_done(summary)
            else:
                # The workers make their temporary folders in here, so that even one that
                # had to be killed leaves nothing once the batch is over.
                with private_folder() as scratch:
                    settings = PoolSettings(
                        catalog=catalog,
                        redact=redact,
                        max_evidence=max_evidence,
                        max_incidents=max_incidents,
                        time_limit=limit,
                        scratch=str(scratch),
                        parent=os.getpid(),
                    )
                    runner = PoolRunner(count, settings, tracker)
                    runner.run(_by_size(tasks), results, started)
        except BaseException:
            # Interrupted: a case stopped half-way may have written some of its reports
            # (and dataset partitions); drop them. Cases that never started keep whatever
            # an earlier run left.
            for task in tasks:
                if task.index in started and task.index not in results:
                    discard_case_outputs(task, row=True)
            raise
        result = BatchResult(
            output=target,
            inputs=tuple(given),
            cases=tuple(results[task.index] for task in tasks),
            ignored=tuple(ignored),
            redacted=redact,
        )
        if write_index:
            from npsdiag.batch_index import write_index as write_index_files

            result = replace(result, index_files=tuple(write_index_files(result)))
    return result


def _dataset_lock(store: Path | None) -> contextlib.AbstractContextManager[object]:
    """One run at a time writes into a dataset folder too (created here when missing)."""
    if store is None:
        return contextlib.nullcontext()
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create '{store}': {error.strerror or error}") from None
    return OutputLock(store)


def _case_recorder(
    tasks: Sequence[Task], store: Path | None, redact: bool
) -> Callable[[CaseSummary], None]:
    """What happens in this process when a case is over, whoever ran it."""
    by_id = {task.case.case_id: task for task in tasks}

    def record(summary: CaseSummary) -> None:
        if not summary.ok:
            # A case whose worker died or was ended may have left some reports behind.
            discard_reports(Path(by_id[summary.case.case_id].output) / summary.case.case_id)
        if store is not None:
            from npsdiag.fleet_dataset import write_case_row

            write_case_row(store, summary, redact)

    return record


def _by_size(tasks: Sequence[Task]) -> list[Task]:
    """Largest cases first, so that no worker is left with a big one at the end while the
    others idle; results are kept by case index, so the order never shows."""
    return sorted(tasks, key=lambda task: (-_case_size(task.case), task.index))


def _case_size(case: Case) -> int:
    """Bytes on disk of a case's inputs: a cheap estimate of how long it takes."""
    total = 0
    for text in case.inputs:
        path = Path(text)
        with contextlib.suppress(OSError):
            if not path.is_dir():
                total += path.stat().st_size
                continue
            for root, _, names in os.walk(path):
                for name in names:
                    with contextlib.suppress(OSError):
                        total += (Path(root) / name).stat().st_size
    return total


def summary_line(result: BatchResult, index_path: str | None = None) -> str:
    """One line for the end of a run.

    Example: ``22 cases: 20 read, 2 failed (1 bad bundle, 1 nothing readable); 31
    problems in 14 cases; index: review/index.html``.
    """
    total = len(result.cases)
    parts = [f"{total} case{'s' if total != 1 else ''}: {result.read} read"]
    if result.failed:
        kinds = ", ".join(f"{count} {kind}" for kind, count in result.failure_kinds())
        parts[0] += f", {result.failed} failed ({kinds})"
    if result.problems:
        with_problems = result.cases_with_problems
        parts.append(
            f"{result.problems} problem{'s' if result.problems != 1 else ''} in "
            f"{with_problems} case{'s' if with_problems != 1 else ''}"
        )
    elif result.read:
        parts.append("no problems found")
    if index_path is not None:
        parts.append(f"index: {index_path}")
    return "; ".join(parts)
