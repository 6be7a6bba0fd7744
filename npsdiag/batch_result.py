"""What a batch and its cases come to: the summaries that cross process borders, the
progress counters and the batch's result.

A module of its own, below :mod:`npsdiag.batch` and :mod:`npsdiag.batch_case`, so that the
index writer and the fleet dataset can name these types without importing the modules that
run a batch (which import them in turn).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from npsdiag.batch_find import Case, IgnoredEntry

__all__ = [
    "SEVERITY_RANK",
    "BatchProgress",
    "BatchResult",
    "CaseCause",
    "CaseFamily",
    "CaseSummary",
    "ProgressCallback",
]

#: Severity order of the catalog, worst first (used to rank cases and causes).
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


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
            ``worker crashed``, ``timed out``, ``cannot write report``,
            ``cannot write dataset``, ``error``, ``internal error``).
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
        tenant_domain: the UPN domain most of the case's attempts name (the fleet
            dataset's ``cases.tenant_domain``), or None.
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
    tenant_domain: str | None = None

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
