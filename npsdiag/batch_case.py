"""Run one case of ``npsdiag batch``: analyse it, redact it, write its reports, summarise it.

Used in the batch's own process (``--workers 1``) and in its worker processes
(:mod:`npsdiag.batch_pool`). Any error becomes a failed :class:`CaseSummary` with a short kind
and a one-line reason; only interrupts (Ctrl+C, SIGTERM) go through.
"""

from __future__ import annotations

import contextlib
import importlib
import shlex
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

from npsdiag.batch_find import Case
from npsdiag.batch_output import REPORT_FILES, case_folder, discard_reports
from npsdiag.batch_result import SEVERITY_RANK, CaseCause, CaseFamily, CaseSummary
from npsdiag.errors import (
    BundleError,
    DatasetError,
    InputError,
    NothingToAnalyseError,
    NpsdiagError,
    UsageError,
)
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
    "SEVERITY_RANK",
    "CaseCause",
    "CaseFamily",
    "CaseSummary",
    "CaseTimedOut",
    "Task",
    "WorkerState",
    "crashed_summary",
    "discard_case_outputs",
    "failed_summary",
    "load_redactor",
    "make_state",
    "one_line",
    "run_case",
    "summarise",
    "time_limit",
    "timed_out_summary",
]

_REASON_LIMIT = 300
_READ_STATUSES = frozenset({"ok", "partial"})


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


@dataclass(frozen=True, slots=True)
class Task:
    """One case to run: its position in the batch, where its reports go, what to do."""

    index: int
    case: Case
    output: str
    redact: bool
    #: The command line that runs the batch, shown in the case's reports; None: a line
    #: that analyses this case alone (a batch run from Python has no command line).
    command_line: str | None = None
    #: Where the case's HTML report links back to (the index), if anywhere.
    index_link: str | None = None
    #: The fleet dataset folder (``--dataset``), or None.
    dataset: str | None = None


@dataclass(slots=True)
class WorkerState:
    catalog: Catalog
    options: ReportOptions
    redactor: Callable[[Analysis], Analysis] | None
    #: (shared counters, this worker's slot) in a worker process; None in-process.
    counters: tuple[Any, int] | None = None
    #: Seconds a case may take; None: no limit.
    time_limit: float | None = None


def make_state(
    catalog: Catalog | None,
    redact: bool,
    max_evidence: int,
    max_incidents: int,
    *,
    time_limit: float | None = None,
) -> WorkerState:
    from npsdiag.catalog import load_catalog
    from npsdiag.report import ReportOptions, guidance_from_entries

    loaded = catalog if catalog is not None else load_catalog()
    return WorkerState(
        catalog=loaded,
        options=ReportOptions(
            guidance=guidance_from_entries(loaded.entries),
            max_evidence=max_evidence,
            max_incidents=max_incidents,
            # "list everything" covers the users' attempts too
            max_user_attempts=0 if max_incidents == 0 else DEFAULT_MAX_USER_ATTEMPTS,
        ),
        redactor=load_redactor() if redact else None,
        time_limit=time_limit,
    )


class CaseTimedOut(Exception):
    """A case reached its time limit (raised inside it by the alarm of :func:`time_limit`)."""


#: Whether the alarm may end the case now: only while one runs, so that an alarm arriving
#: just as a case ends never reaches the code around it.
_armed: list[bool] = [False]


def _alarm(signum: int, frame: FrameType | None) -> None:
    if _armed[0]:
        _armed[0] = False
        raise CaseTimedOut


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CaseTimedOut` inside the block when it runs longer than ``seconds``.

    Uses the process's real-time alarm (``SIGALRM``), so it works in the main thread of a
    POSIX process only; elsewhere (Windows, another thread) it does nothing and the limit is
    the parent's to enforce by ending the worker. It cannot interrupt a native call that
    never returns to Python: that is the parent's to end too.
    """
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    _armed[0] = True
    signal.setitimer(signal.ITIMER_REAL, float(seconds or 0))
    try:
        yield
    finally:
        _armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def timed_out_summary(
    case: Case, limit: float, stopped_after: float, seconds: float = 0.0
) -> CaseSummary:
    """The summary of a case stopped at the time limit."""
    return failed_summary(
        case,
        "timed out",
        f"still running after {stopped_after:,.0f} s, past the time limit of {limit:,.0f} s "
        "(--case-timeout); analyse it alone with `npsdiag analyze`, or give it more time",
        seconds,
    )


def run_case(
    task: Task, state: WorkerState, on_source: Callable[[SourceStats], None]
) -> CaseSummary:
    """Analyse one case and write its reports; any error becomes a failed summary.

    With a time limit, the case ends itself when it is reached (where an alarm clock exists,
    see :func:`time_limit`) and gets a ``timed out`` summary; its reports are removed.
    """
    started = time.perf_counter()
    case = task.case
    try:
        with time_limit(state.time_limit):
            return _analyse_and_write(task, state, on_source, started)
    except CaseTimedOut:
        discard_case_outputs(task)
        limit = state.time_limit or 0.0
        return timed_out_summary(case, limit, limit, time.perf_counter() - started)
    except Exception as error:  # one broken case never stops the batch
        discard_case_outputs(task)
        return failed_summary(
            case, _failure_kind(case, error), one_line(error), time.perf_counter() - started
        )


def discard_case_outputs(task: Task, *, row: bool = False) -> None:
    """Remove what a case stopped half-way may have written: its reports, and its data
    partitions in the fleet dataset (its ``cases`` row too with ``row``)."""
    discard_reports(Path(task.output) / task.case.case_id)
    if task.dataset is not None:
        from npsdiag.fleet_dataset import DATA_TABLES, discard_case

        tables = ("cases", *DATA_TABLES) if row else DATA_TABLES
        discard_case(Path(task.dataset), task.case.case_id, tables)


def _analyse_and_write(
    task: Task, state: WorkerState, on_source: Callable[[SourceStats], None], started: float
) -> CaseSummary:
    from npsdiag._atomic import open_text_atomic
    from npsdiag.analyze import analyze_paths
    from npsdiag.report import REPORTS, evidence_mode

    case = task.case
    folder = case_folder(Path(task.output), case.case_id)
    if task.dataset is not None:
        from npsdiag.fleet_dataset import discard_case

        # Its row in ``cases`` first: no row may claim partitions this run replaces.
        discard_case(Path(task.dataset), case.case_id)
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
            with open_text_atomic(folder / file_name) as stream:
                REPORTS[format_name].write(analysis, stream, options)
            written.append(f"{case.case_id}/{file_name}")
        if task.dataset is not None:
            from npsdiag.fleet_dataset import write_case

            # From the analysis the reports show: redacted when they are.
            write_case(Path(task.dataset), case.case_id, analysis, state.catalog)
    finally:
        if analysis.evidence is not None:
            analysis.evidence.close()
    summary = summarise(case, analysis, state.catalog)
    return replace(summary, reports=tuple(written), seconds=time.perf_counter() - started)


def _case_command(case: Case, task: Task, state: WorkerState) -> str:
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
    if isinstance(error, DatasetError):
        return "cannot write dataset"
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


def crashed_summary(case: Case) -> CaseSummary:
    """The summary of a case whose worker process died under it, twice."""
    return failed_summary(
        case,
        "worker crashed",
        "the worker process reading this case stopped abruptly "
        "(a crash, or killed for lack of memory); "
        "run `npsdiag analyze` on it alone with --debug",
    )


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
        tenant_domain=_tenant_domain(analysis),
    )


def _tenant_domain(analysis: Analysis) -> str | None:
    """The UPN domain named by most attempts (ties: the first in sort order)."""
    from npsdiag._names import upn_domain

    tally: Counter[str] = Counter()
    for incident in analysis.incidents:
        names = (incident.user, incident.person, *(f.user for f in incident.findings))
        domain = upn_domain(names)
        if domain is not None:
            tally[domain] += 1
    if not tally:
        return None
    return min(tally.items(), key=lambda item: (-item[1], item[0]))[0]


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
