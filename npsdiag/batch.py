"""Review many collected cases at once: one report per case, one index for all of them.

``npsdiag batch ./collected/ -o review/`` finds the *cases* in its inputs (the rule is
:func:`find_cases`; docs/batch.md has it with examples), analyses each one with
:func:`npsdiag.analyze.analyze_paths`, writes ``review/<case-id>/report.{html,json,md}``
and then the index (:mod:`npsdiag.batch_index`).

Cases run in worker processes (``concurrent.futures.ProcessPoolExecutor`` with the
``spawn`` start method on every platform, so behaviour on Linux matches Windows, and
no worker inherits the threads of a progress bar). One broken case never stops the
batch: an error becomes a failed case with a one-line reason, and a worker process
that dies (a crash in a native reader, the OOM killer) costs only the case it was
reading: the cases that were in flight are re-run one at a time in a fresh worker, and
the one that kills its worker again is recorded as failed. ``workers=1`` runs in this
process, which is easier to debug but cannot survive a crash of the reader.

The library never prints. Progress goes through ``on_progress`` (the command draws a
bar from it); the result is a :class:`BatchResult`, and :func:`summary_line` words it.
Outputs are deterministic: no wall-clock value is written anywhere, so the same input
gives the same bytes (``CaseSummary.seconds`` exists for benchmarks and is never written).
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import multiprocessing
import os
import re
import shlex
import signal
import stat
import sys
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from npsdiag.errors import (
    BundleError,
    InputError,
    NothingToAnalyseError,
    NpsdiagError,
    UsageError,
)
from npsdiag.model import SourceKind
from npsdiag.report._view import (
    DEFAULT_MAX_EVIDENCE,
    DEFAULT_MAX_INCIDENTS,
    DEFAULT_MAX_USER_ATTEMPTS,
)

if TYPE_CHECKING:
    from npsdiag.catalog import Catalog
    from npsdiag.model import Analysis, SourceStats
    from npsdiag.report import ReportOptions

__all__ = [
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

#: The reports written for every case read: (format name in ``REPORTS``, file name).
REPORT_FILES: tuple[tuple[str, str], ...] = (
    ("html", "report.html"),
    ("json", "report.json"),
    ("markdown", "report.md"),
)

#: Severity order of the catalog, worst first (used to rank cases and causes).
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}

#: File kinds that make a folder hold "logs directly" (see :func:`find_cases`).
_LOG_KINDS = frozenset(
    {
        SourceKind.EVTX,
        SourceKind.XML,
        SourceKind.WEVTUTIL_TEXT,
        SourceKind.REGQUERY,
        SourceKind.TRACE,
    }
)
_SNIFF_BYTES = 4096
_GLOB_CHARS = frozenset("*?[")
_SLUG_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_SLUG_LIMIT = 60
# Device names that Windows refuses as folder names, whatever the extension.
_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{digit}" for digit in range(10)}
    | {f"lpt{digit}" for digit in range(10)}
)
_REASON_LIMIT = 300
#: How often the parent wakes up to read the workers' progress counters.
_POLL_SECONDS = 0.1
_READ_STATUSES = frozenset({"ok", "partial"})
#: ProcessPoolExecutor refuses more workers than this on Windows.
_WINDOWS_MAX_WORKERS = 61


# ------------------------------------------------------------------------------ data


@dataclass(frozen=True, slots=True)
class Case:
    """One case: what one ``analyze_paths`` call reads.

    Attributes:
        case_id: unique, file-system-safe id; the case's folder under the output folder.
        name: the folder or file name the case was found as.
        path: the case's path as found from the inputs (shown in the index).
        kind: ``folder`` (a child folder), ``zip`` (a .zip bundle), ``files`` (the log
            files lying directly in an input folder) or ``file`` (a single input file).
        inputs: the paths given to :func:`~npsdiag.analyze.analyze_paths`.
    """

    case_id: str
    name: str
    path: str
    kind: str
    inputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IgnoredEntry:
    """Something in the inputs that is not a case, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class CaseCause:
    """One catalog entry found in one case (problems with the same entry merged)."""

    entry_id: str
    family: str
    title: str
    severity: str
    users: int
    incidents: int


@dataclass(frozen=True, slots=True)
class CaseFamily:
    """One cause family in one case: distinct users and incidents over its entries."""

    family: str
    users: int
    incidents: int


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """What the index needs to know about one case (small: it crosses process borders).

    Attributes:
        case: the case.
        status: ``ok`` (read and reported) or ``failed``.
        failure_kind: for a failed case, a short label for the summary line
            (``unusable zip``, ``nothing readable``, ``bad bundle``, ``unreadable input``,
            ``worker crashed``, ``cannot write report``, ``error``, ``internal error``).
        reason: for a failed case, one line saying why.
        server: the computer most events came from, when any event named one.
        problems: number of ranked problems.
        top_entry_id, top_title, top_severity: the first (worst) problem, or None.
        causes: per catalog entry, in the analysis' problem order.
        families: per cause family, sorted by family.
        affected_users: persons with a failed attempt (``npsdiag.counts``).
        incidents: authentication attempts analysed (notices not included).
        failed_incidents: incidents whose outcome was a failure.
        verdict: the case's ``npsdiag.model.Verdict`` (``no-evidence`` when its logs hold
            no sign-in attempt), or None for a failed case.
        start, end: the data's time span (UTC ISO 8601, as in the reports), or None.
        files: inputs accounted for (bundle members included).
        files_read: inputs read completely or partly.
        events_read: records read over all inputs.
        records_failed: records that could not be decoded.
        reports: the report files written, relative to the output folder, in
            :data:`REPORT_FILES` order.
        seconds: wall-clock time of the case; for benchmarks, never written to a file.
    """

    case: Case
    status: str
    failure_kind: str | None = None
    reason: str | None = None
    server: str | None = None
    problems: int = 0
    top_entry_id: str | None = None
    top_title: str | None = None
    top_severity: str | None = None
    causes: tuple[CaseCause, ...] = ()
    families: tuple[CaseFamily, ...] = ()
    affected_users: int = 0
    verdict: str | None = None
    incidents: int = 0
    failed_incidents: int = 0
    start: str | None = None
    end: str | None = None
    files: int = 0
    files_read: int = 0
    events_read: int = 0
    records_failed: int = 0
    reports: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the case was read and its reports written."""
        return self.status == "ok"


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """Counters reported after each file and each case (for a progress bar)."""

    cases_total: int
    cases_done: int
    cases_failed: int
    files_done: int
    events_read: int


ProgressCallback = Callable[[BatchProgress], None]


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Everything one batch run did.

    Attributes:
        output: the output folder.
        inputs: the inputs as given.
        cases: one summary per case, in case order (see :func:`find_cases`).
        ignored: entries of input folders that were not cases.
        redacted: whether every analysis went through the redactor.
        index_files: the index files written (``index.html`` first).
    """

    output: Path
    inputs: tuple[str, ...]
    cases: tuple[CaseSummary, ...]
    ignored: tuple[IgnoredEntry, ...]
    redacted: bool
    index_files: tuple[Path, ...] = ()

    @property
    def read(self) -> int:
        """Cases read and reported."""
        return sum(1 for case in self.cases if case.ok)

    @property
    def failed(self) -> int:
        """Cases that could not be read or reported."""
        return sum(1 for case in self.cases if not case.ok)

    @property
    def problems(self) -> int:
        """Problems over all cases."""
        return sum(case.problems for case in self.cases)

    @property
    def cases_with_problems(self) -> int:
        """Cases with at least one problem."""
        return sum(1 for case in self.cases if case.problems)

    def failure_kinds(self) -> list[tuple[str, int]]:
        """Failed cases per failure kind, most frequent first, then by kind."""
        tally = Counter(case.failure_kind or "failed" for case in self.cases if not case.ok)
        return sorted(tally.items(), key=lambda item: (-item[1], item[0]))


# ------------------------------------------------------------------------ finding cases


def case_slug(name: str) -> str:
    """A file-system-safe, lower-case id for a case name.

    ``.zip`` is dropped; accents are folded to ASCII; anything but letters, digits, ``_``
    and ``-`` becomes ``-`` (dots too, so no id can be ``..`` or end in a dot, which
    Windows refuses). Empty results become ``case``; Windows device names get ``-case``.

    Example: ``20250512_081000_NpsLogging.zip`` gives ``20250512_081000_npslogging``.
    """
    stem = name[:-4] if name.lower().endswith(".zip") else name
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    slug = _SLUG_UNSAFE.sub("-", folded.lower()).strip("-_")
    slug = slug[:_SLUG_LIMIT].rstrip("-_") or "case"
    if slug in _RESERVED_NAMES:
        slug += "-case"
    return slug


def _unique_ids(names: Sequence[str]) -> list[str]:
    """Slug every name; a repeated slug gets ``-2``, ``-3``... in case order."""
    used: set[str] = set()
    ids: list[str] = []
    for name in names:
        base = case_slug(name)
        candidate = base
        number = 2
        while candidate in used:
            candidate = f"{base}-{number}"
            number += 1
        used.add(candidate)
        ids.append(candidate)
    return ids


@dataclass(frozen=True, slots=True)
class _Found:
    name: str
    path: Path
    kind: str
    inputs: tuple[Path, ...]


def find_cases(inputs: Sequence[str]) -> tuple[list[Case], list[IgnoredEntry]]:
    """Find the cases in the inputs.

    The rule (docs/batch.md has examples):

    * an input *file* is one case (a ``.zip`` bundle, or any single export);
    * in an input *folder*, every immediate child folder is one case (read whole,
      recursively) and every immediate child ``.zip`` (by name or by content) is one case;
    * the files lying directly in an input folder are one more case, named after the
      folder, when at least one of them is an event log (an ``.evtx``, an XML export, a
      ``wevtutil`` text dump, a ``REG QUERY`` dump or a trace, recognised by content):
      that is how an unpacked bundle or a folder of exports given as input is read;
      otherwise they are listed as ignored;
    * names starting with ``.`` are skipped silently; the same path reached twice
      counts once.

    Order: inputs as given; inside a folder the loose-files case first, then children
    by case-folded name. Ids are :func:`case_slug` of the names, made unique in that order.

    Args:
        inputs: files, folders or glob patterns (expanded here, as ``analyze`` does,
            because Windows shells pass them literally).

    Returns:
        The cases and the ignored entries.

    Raises:
        UsageError: an input does not exist or a pattern matches nothing.
        NothingToAnalyseError: the inputs hold no case at all.
    """
    found: list[_Found] = []
    ignored: list[IgnoredEntry] = []
    seen: dict[str, str] = {}
    for text in inputs:
        for path in _expand(text):
            for candidate in _cases_of(path, ignored):
                key = _identity(candidate.inputs)
                if key in seen:
                    ignored.append(
                        IgnoredEntry(str(candidate.path), f"the same as case '{seen[key]}'")
                    )
                    continue
                seen[key] = str(candidate.path)
                found.append(candidate)
    if not found:
        where = ", ".join(inputs) or "(no input)"
        first = f": {ignored[0].path}: {ignored[0].reason}" if ignored else ""
        raise NothingToAnalyseError(
            f"no case found in {where}{first}",
            hint="give folders that hold one folder or .zip bundle per case",
        )
    ids = _unique_ids([item.name for item in found])
    cases = [
        Case(
            case_id=case_id,
            name=item.name,
            path=str(item.path),
            kind=item.kind,
            inputs=tuple(str(path) for path in item.inputs),
        )
        for case_id, item in zip(ids, found, strict=True)
    ]
    return cases, ignored


def _expand(text: str) -> list[Path]:
    literal = Path(text)
    if _exists(literal):
        return [literal]
    candidates = [text]
    if os.sep == "/" and "\\" in text:
        converted = text.replace("\\", "/")
        if _exists(Path(converted)):
            return [Path(converted)]
        candidates.append(converted)
    if any(char in _GLOB_CHARS for char in text):
        for pattern in candidates:
            # glob.glob, not Path.glob: the pattern may be absolute or hold a drive letter.
            matches = sorted(glob.glob(pattern, recursive=True))  # noqa: PTH207
            if matches:
                return [Path(match) for match in matches]
        raise UsageError(
            f"the pattern '{text}' matches nothing",
            hint="check the folder and the pattern (quote patterns on POSIX shells)",
        )
    raise UsageError(f"no such file or folder: '{text}'", hint="check the path")


def _cases_of(path: Path, ignored: list[IgnoredEntry]) -> list[_Found]:
    if not path.is_dir():
        kind = "zip" if _is_zip(path) else "file"
        return [_Found(_display_name(path), path, kind, (path,))]
    try:
        children = sorted(
            (child for child in path.iterdir() if not child.name.startswith(".")),
            key=lambda child: (child.name.casefold(), child.name),
        )
    except OSError as error:
        raise UsageError(
            f"cannot list the folder '{path}': {error.strerror or error}",
            hint="run as a user who may read it",
        ) from None
    loose: list[Path] = []
    has_log = False
    nested: list[_Found] = []
    for child in children:
        if child.is_dir():
            nested.append(_Found(child.name, child, "folder", (child,)))
            continue
        kind = _sniff(child)
        if kind == SourceKind.ZIP or child.suffix.lower() == ".zip":
            nested.append(_Found(child.name, child, "zip", (child,)))
            continue
        loose.append(child)
        has_log = has_log or kind in _LOG_KINDS
    found: list[_Found] = []
    if has_log:
        found.append(_Found(_display_name(path), path, "files", tuple(loose)))
    else:
        ignored.extend(
            IgnoredEntry(str(child), "not a folder, a .zip or an event log") for child in loose
        )
    found.extend(nested)
    if not found and not loose:
        ignored.append(IgnoredEntry(str(path), "the folder is empty"))
    return found


def _display_name(path: Path) -> str:
    return path.name or path.absolute().name or str(path)


def _sniff(path: Path) -> str:
    from npsdiag.sources.discover import sniff

    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return SourceKind.UNKNOWN
        with open(path, "rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError:
        # Unreadable here means unreadable for the case too; it will say so there.
        return SourceKind.UNKNOWN
    return sniff(head, path.name)[0] if head else SourceKind.UNKNOWN


def _is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or _sniff(path) == SourceKind.ZIP


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _identity(paths: Iterable[Path]) -> str:
    return "\0".join(os.path.normcase(os.path.realpath(path)) for path in paths)


# ------------------------------------------------------------------------ output folder


def check_output(output: Path, inputs: Sequence[str]) -> None:
    """Refuse an output folder that overlaps an input.

    An output folder inside an input folder would be read as a case by the next run,
    and an input inside the output folder could be overwritten by a case's reports.

    Raises:
        UsageError: the output is an input, lies inside one, contains one, or is a file.
    """
    if output.exists() and not output.is_dir():
        raise UsageError(f"the output '{output}' is not a folder", hint="give a folder with -o")
    target = Path(os.path.realpath(output))
    for text in inputs:
        for path in _expand(text):
            source = Path(os.path.realpath(path))
            if target == source or source in target.parents:
                raise UsageError(
                    f"the output folder '{output}' is inside the input '{path}'",
                    hint="write the review elsewhere, e.g. -o review next to the input folder",
                )
            if target in source.parents:
                raise UsageError(
                    f"the input '{path}' is inside the output folder '{output}'",
                    hint="write the review to a folder of its own, e.g. -o review",
                )


def _case_folder(output: Path, case_id: str) -> Path:
    """The case's folder under ``output``, emptied of the files a previous run wrote there.

    Only npsdiag's own report files (and their ``.partial`` leftovers) are removed, so
    anything else an engineer put there stays. A link or a file in the folder's place is
    refused, so no report can be written outside the output folder.

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
    for _, file_name in REPORT_FILES:
        for stale in (folder / file_name, _partial(folder / file_name)):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    return folder


def _discard_reports(folder: Path) -> None:
    """Remove a case's report files (and the folder, when nothing else is in it)."""
    if folder.is_symlink() or not folder.is_dir():
        return
    for _, file_name in REPORT_FILES:
        for path in (folder / file_name, _partial(folder / file_name)):
            with contextlib.suppress(OSError):
                path.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n``) to a temporary name, then rename it into place.

    A report is thus either complete or absent, even when a worker is stopped in the
    middle; a link at ``path`` is replaced, never followed.

    Raises:
        UsageError: the file cannot be written.
    """
    partial = _partial(path)
    try:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        with open(partial, "x", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        partial.replace(path)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise UsageError(
            f"cannot write '{path}': {error.strerror or error}",
            hint="check that the output folder is writable and has space",
        ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


# ----------------------------------------------------------------------------- redaction


def load_redactor() -> Callable[[Analysis], Analysis]:
    """The ``--redact`` hook: ``npsdiag.redact.redact_analysis``.

    Imported by name so that this module does not depend on the redaction module at
    import time.

    Raises:
        UsageError: this build has no redaction module.
    """
    try:
        module = importlib.import_module("npsdiag.redact")
        redactor = module.redact_analysis
    except (ImportError, AttributeError):
        raise UsageError(
            "--redact is not available in this version of npsdiag",
            hint="run without --redact, or update npsdiag",
        ) from None
    return cast("Callable[[Analysis], Analysis]", redactor)


# ------------------------------------------------------------------------- one case


@dataclass(frozen=True, slots=True)
class _Task:
    index: int
    case: Case
    output: str
    redact: bool
    #: The command line that runs the batch, shown in the case's reports; None: a line
    #: that analyses this case alone (a batch run from Python has no command line).
    command_line: str | None = None
    #: Where the case's HTML report links back to (the index), if anywhere.
    index_link: str | None = None


@dataclass(slots=True)
class _WorkerState:
    catalog: Catalog
    options: ReportOptions
    redactor: Callable[[Analysis], Analysis] | None
    #: (shared counters, this worker's slot) in a worker process; None in-process.
    counters: tuple[Any, int] | None = None


_STATE: _WorkerState | None = None


def _make_state(
    catalog: Catalog | None, redact: bool, max_evidence: int, max_incidents: int
) -> _WorkerState:
    from npsdiag.catalog import load_catalog
    from npsdiag.report import ReportOptions, guidance_from_entries

    loaded = catalog if catalog is not None else load_catalog()
    return _WorkerState(
        catalog=loaded,
        options=ReportOptions(
            guidance=guidance_from_entries(loaded.entries),
            max_evidence=max_evidence,
            max_incidents=max_incidents,
            # "list everything" covers the users' attempts too
            max_user_attempts=0 if max_incidents == 0 else DEFAULT_MAX_USER_ATTEMPTS,
        ),
        redactor=load_redactor() if redact else None,
    )


def _init_worker(
    catalog: Catalog | None,
    redact: bool,
    max_evidence: int,
    max_incidents: int,
    claimed: Any,
    values: Any,
) -> None:
    """Set up a worker process: Ctrl+C is the parent's to handle, not the worker's.

    ``claimed`` and ``values`` are the :class:`_LiveCounters` of the pool; the worker
    takes the next free slot (the only moment it takes a lock).
    """
    global _STATE
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STATE = _make_state(catalog, redact, max_evidence, max_incidents)
    with claimed.get_lock():
        slot = int(claimed.value)
        claimed.value = slot + 1
    if 2 * slot + 1 < len(values):
        _STATE.counters = (values, slot)


def _worker_ready() -> None:
    """A task that only makes the pool start a worker process (see ``_run_pool``)."""


def _worker_task(task: _Task) -> CaseSummary:
    """Run one case in a worker process (module level, so ``spawn`` can pickle it)."""
    if _STATE is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker used without _init_worker")
    state = _STATE
    counters = state.counters

    def on_source(stats: SourceStats) -> None:
        if counters is not None:
            values, slot = counters
            # This worker is the only writer of its slot: no lock is needed.
            values[2 * slot] += 1
            values[2 * slot + 1] += stats.records_read

    return _run_case(task, state, on_source)


def _run_case(
    task: _Task, state: _WorkerState, on_source: Callable[[SourceStats], None]
) -> CaseSummary:
    """Analyse one case and write its reports; any error becomes a failed summary."""
    started = time.perf_counter()
    case = task.case
    folder: Path | None = None
    try:
        from npsdiag.analyze import analyze_paths
        from npsdiag.report import REPORTS, evidence_mode

        output = Path(task.output)
        folder = _case_folder(output, case.case_id)
        command = task.command_line or _case_command(case, task, state)
        analysis = analyze_paths(
            list(case.inputs),
            catalog=state.catalog,
            command_line=command,
            on_source=on_source,
            evidence=evidence_mode(name for name, _file in REPORT_FILES),
        )
        try:
            if state.redactor is not None:
                original, analysis = analysis, state.redactor(analysis)
                if original.evidence is not None:
                    original.evidence.close()
            written: list[str] = []
            options = replace(state.options, index_link=task.index_link)
            for format_name, file_name in REPORT_FILES:
                text = REPORTS[format_name].render(analysis, options)
                write_text_atomic(folder / file_name, text)
                written.append(f"{case.case_id}/{file_name}")
        finally:
            if analysis.evidence is not None:
                analysis.evidence.close()
        summary = summarise(case, analysis, state.catalog)
        return replace(summary, reports=tuple(written), seconds=time.perf_counter() - started)
    except Exception as error:  # one broken case never stops the batch
        if folder is not None:
            _discard_reports(folder)
        return failed_summary(
            case, _failure_kind(case, error), one_line(error), time.perf_counter() - started
        )


def _case_command(case: Case, task: _Task, state: _WorkerState) -> str:
    """A command line that analyses this case alone, as its reports were made."""
    command = "npsdiag analyze " + " ".join(shlex.quote(path) for path in case.inputs)
    if task.redact:
        command += " --redact"
    # The line reproduces this case's reports, and the limits shape the HTML and
    # Markdown ones.
    if state.options.max_evidence != DEFAULT_MAX_EVIDENCE:
        command += f" --evidence {state.options.max_evidence}"
    if state.options.max_incidents != DEFAULT_MAX_INCIDENTS:
        command += f" --incidents {state.options.max_incidents}"
    return command


def _failure_kind(case: Case, error: BaseException) -> str:
    if isinstance(error, NothingToAnalyseError):
        # For a bundle the reason is the zip itself: damaged, unsafe, over a limit, or
        # holding no log; the one-line reason says which.
        return "unusable zip" if case.kind == "zip" else "nothing readable"
    if isinstance(error, BundleError):
        return "bad bundle"
    if isinstance(error, InputError):
        return "unreadable input"
    if isinstance(error, UsageError):
        return "cannot write report"
    if isinstance(error, NpsdiagError):
        return "error"
    return "internal error"


def one_line(error: BaseException) -> str:
    """The error as one line of at most 300 characters; non-npsdiag errors name their type."""
    text = str(error) if isinstance(error, NpsdiagError) else f"{type(error).__name__}: {error}"
    text = " ".join(text.split()) or type(error).__name__
    if len(text) > _REASON_LIMIT:
        text = text[: _REASON_LIMIT - 3] + "..."
    return text


def failed_summary(case: Case, kind: str, reason: str, seconds: float = 0.0) -> CaseSummary:
    """The summary of a case that could not be read or reported."""
    return CaseSummary(
        case=case, status="failed", failure_kind=kind, reason=reason, seconds=seconds
    )


def summarise(case: Case, analysis: Analysis, catalog: Catalog | None = None) -> CaseSummary:
    """Boil one analysis down to the index's needs (counts only: no user names).

    Args:
        case: the case analysed.
        analysis: its analysis (already redacted when redaction is on).
        catalog: used to name entry families; without it the family is the id's first
            two dotted parts, which is the catalog's own rule.
    """
    from npsdiag.counts import count_analysis
    from npsdiag.report._view import format_time

    causes: dict[str, tuple[str, str, str, str, set[str], set[str]]] = {}
    family_users: dict[str, set[str]] = {}
    family_incidents: dict[str, set[str]] = {}
    for problem in analysis.problems:
        entry = catalog.find(problem.entry_id) if catalog is not None else None
        family = entry.family if entry is not None else ".".join(problem.entry_id.split(".")[:2])
        problem_users = {user for user in problem.users if user}
        keys = set(problem.incident_keys)
        if problem.entry_id not in causes:
            causes[problem.entry_id] = (
                problem.entry_id,
                family,
                problem.title,
                problem.severity,
                set(),
                set(),
            )
        causes[problem.entry_id][4].update(problem_users)
        causes[problem.entry_id][5].update(keys)
        family_users.setdefault(family, set()).update(problem_users)
        family_incidents.setdefault(family, set()).update(keys)
    top = analysis.problems[0] if analysis.problems else None
    sources = analysis.sources
    # The reports' own counts (npsdiag.counts), so the index agrees with every case report.
    counts = count_analysis(analysis)
    return CaseSummary(
        case=case,
        status="ok",
        server=_server_name(analysis),
        problems=len(analysis.problems),
        top_entry_id=top.entry_id if top else None,
        top_title=top.title if top else None,
        top_severity=top.severity if top else None,
        causes=tuple(
            CaseCause(entry_id, family, title, severity, len(hit), len(keys))
            for entry_id, family, title, severity, hit, keys in causes.values()
        ),
        families=tuple(
            CaseFamily(family, len(family_users[family]), len(family_incidents[family]))
            for family in sorted(family_users)
        ),
        affected_users=counts.affected_users,
        incidents=counts.attempts,
        failed_incidents=counts.failed_attempts,
        start=format_time(counts.start),
        end=format_time(counts.end),
        verdict=analysis.verdict,
        files=len(sources),
        files_read=sum(1 for source in sources if source.status in _READ_STATUSES),
        events_read=sum(source.records_read for source in sources),
        records_failed=sum(source.records_failed for source in sources),
    )


def _server_name(analysis: Analysis) -> str | None:
    """The computer named by most evidence events (ties: the first name in sort order)."""
    tally: Counter[str] = Counter()
    for incident in (*analysis.incidents, *analysis.notices):
        for finding in incident.findings:
            if finding.event.computer:
                tally[finding.event.computer] += 1
    if not tally:
        return None
    return min(tally.items(), key=lambda item: (-item[1], item[0]))[0]


# ------------------------------------------------------------------------- the batch


def default_workers() -> int:
    """The CPUs this process may use (the affinity mask where the platform has one)."""
    counter = getattr(os, "process_cpu_count", None)  # Python >= 3.13
    if counter is not None:
        return max(1, int(counter() or 1))
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class _Tracker:
    """Counts progress and forwards it to the caller's callback."""

    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self.total = total
        self.callback = callback
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


class _LiveCounters:
    """Files and events read so far by a pool's workers, in shared memory.

    Each worker owns one slot (files, events) and is its only writer, so nothing takes a
    lock while cases run: a worker that dies in the middle of an update cannot block the
    others or the parent, as it could with a queue or pipe shared by all of them (left
    locked, or holding half a message).
    """

    def __init__(self, context: Any, slots: int) -> None:
        self.claimed: Any = context.Value("i", 0)
        self.values: Any = context.Array("q", 2 * slots, lock=False)

    def totals(self) -> tuple[int, int]:
        values = list(self.values)
        return sum(values[0::2]), sum(values[1::2])


class _PoolRunner:
    """Runs tasks in spawned worker processes and survives a worker that dies."""

    def __init__(
        self,
        workers: int,
        catalog: Catalog | None,
        redact: bool,
        max_evidence: int,
        max_incidents: int,
        tracker: _Tracker,
    ) -> None:
        self._workers = workers
        self._catalog = catalog
        self._redact = redact
        self._max_evidence = max_evidence
        self._max_incidents = max_incidents
        self._tracker = tracker
        self._context = multiprocessing.get_context("spawn")
        self._executor: ProcessPoolExecutor | None = None
        self._counters: _LiveCounters | None = None
        # Files and events counted by the pools that have already ended.
        self._base = (0, 0)
        self._started: set[int] = set()

    def run(
        self, tasks: Sequence[_Task], results: dict[int, CaseSummary], started: set[int]
    ) -> None:
        """Run ``tasks``; summaries land in ``results`` by task index as they arrive.

        ``started`` receives the index of every task handed to a worker.
        """
        self._started = started
        pending = deque(tasks)
        try:
            while pending:
                suspects = self._run_pool(pending, self._workers, results)
                # A worker died: one of the cases in flight killed it, or it was killed
                # from outside. Re-run each alone, so that only the culprit is failed.
                for task in suspects:
                    alone = deque([task])
                    if self._run_pool(alone, 1, results):
                        summary = failed_summary(
                            task.case,
                            "worker crashed",
                            "the worker process reading this case stopped abruptly "
                            "(a crash, or killed for lack of memory); "
                            "run `npsdiag analyze` on it alone with --debug",
                        )
                        results[task.index] = summary
                        self._tracker.case_done(summary)
        except BaseException:
            self._stop()
            raise

    def _run_pool(
        self, pending: deque[_Task], workers: int, results: dict[int, CaseSummary]
    ) -> list[_Task]:
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
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(
                self._catalog,
                self._redact,
                self._max_evidence,
                self._max_incidents,
                counters.claimed,
                counters.values,
            ),
        )
        in_flight: dict[Future[CaseSummary], _Task] = {}
        broken: list[_Task] = []
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
            # Ctrl+C (or a bug here): do not wait for the cases being read.
            self._stop()
            raise
        self._shutdown()
        return broken

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
        """Stop now (Ctrl+C): drop queued cases and end the workers in the middle of one."""
        executor = self._executor
        self._executor = None
        if executor is not None:
            terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
            if callable(terminate):
                terminate()
            else:
                # No public way before 3.14; the workers ignore SIGINT, so end them here.
                processes: dict[int, Any] = dict(getattr(executor, "_processes", None) or {})
                executor.shutdown(wait=False, cancel_futures=True)
                for process in processes.values():
                    with contextlib.suppress(Exception):
                        process.terminate()
                for process in processes.values():
                    with contextlib.suppress(Exception):
                        process.join(5)
        self._counters = None


def run_batch(
    inputs: Sequence[str],
    output: str | os.PathLike[str],
    *,
    workers: int | None = None,
    redact: bool = False,
    max_evidence: int = DEFAULT_MAX_EVIDENCE,
    max_incidents: int = DEFAULT_MAX_INCIDENTS,
    catalog: Catalog | None = None,
    on_progress: ProgressCallback | None = None,
    write_index: bool = True,
    command_line: str | None = None,
) -> BatchResult:
    """Analyse every case in ``inputs`` and write one report set per case and the index.

    Args:
        inputs: folders, .zip bundles or patterns (see :func:`find_cases`).
        output: the output folder (created if missing). Only the folders of this run's
            cases and the index files are written; a case's old reports are removed
            before it runs, other folders are left alone.
        workers: worker processes (None: :func:`default_workers`; never more than there
            are cases); 1 runs every case in this process.
        redact: pass every analysis through ``npsdiag.redact.redact_analysis`` before
            anything is written.
        max_evidence: evidence events each case's HTML report lists per incident
            (``ReportOptions.max_evidence``; 0 lists all). The JSON reports hold all.
        max_incidents: incidents (and notices) each case's HTML and Markdown reports list
            (``ReportOptions.max_incidents``; 0 lists all). The JSON reports list all.
        catalog: the catalog to match against (the shipped one by default).
        on_progress: called after each file and each case.
        write_index: write ``index.html``, ``index.csv``, ``index.json`` and
            ``causes.csv`` at the end (and link each case's HTML report to it).
        command_line: the command that runs this batch, shown in every case report as
            the command that made it; None shows a command that analyses the case alone.

    Returns:
        What was done; ``cases`` in case order.

    Raises:
        UsageError: an input is missing, the output overlaps an input, ``workers`` < 1,
            ``max_evidence`` or ``max_incidents`` < 0, or redaction is unavailable.
        NothingToAnalyseError: the inputs hold no case.
        KeyboardInterrupt: the run was interrupted; finished cases keep their reports,
            no index is written.
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
    target = Path(output)
    check_output(target, inputs)
    if redact:
        load_redactor()  # fail before any work when redaction is unavailable
    cases, ignored = find_cases(inputs)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create '{target}': {error.strerror or error}") from None
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
        _Task(index, case, str(target), redact, command_line, index_link)
        for index, case in enumerate(cases)
    ]
    tracker = _Tracker(len(cases), on_progress)
    tracker.emit()
    results: dict[int, CaseSummary] = {}
    started: set[int] = set()
    try:
        if count <= 1:
            state = _make_state(catalog, redact, max_evidence, max_incidents)
            for task in tasks:
                started.add(task.index)
                summary = _run_case(
                    task, state, lambda stats: tracker.source_done(stats.records_read)
                )
                results[task.index] = summary
                tracker.case_done(summary)
        else:
            # Largest cases first, so that no worker is left with a big one at the end
            # while the others idle; results are kept by case index, so order never shows.
            ordered = sorted(tasks, key=lambda task: (-_case_size(task.case), task.index))
            runner = _PoolRunner(count, catalog, redact, max_evidence, max_incidents, tracker)
            runner.run(ordered, results, started)
    except BaseException:
        # Interrupted: a case stopped half-way may have written some of its reports; drop
        # them. Cases that never started keep whatever an earlier run left.
        for task in tasks:
            if task.index in started and task.index not in results:
                _discard_reports(target / task.case.case_id)
        raise
    result = BatchResult(
        output=target,
        inputs=tuple(inputs),
        cases=tuple(results[task.index] for task in tasks),
        ignored=tuple(ignored),
        redacted=redact,
    )
    if write_index:
        from npsdiag.batch_index import write_index as write_index_files

        result = replace(result, index_files=tuple(write_index_files(result)))
    return result


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
