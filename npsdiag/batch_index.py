"""The index of a batch run: ``index.html``, ``index.csv``, ``index.json`` and ``causes.csv``.

The index ranks the cases (worst first, :func:`rank_cases`) and counts which causes
are most common across them (:func:`cause_tables`, with pandas, imported only there).
It is built from :class:`~npsdiag.batch.CaseSummary` values, which hold counts and
catalog ids but never a user name, so a redacted batch has a redacted index.

Everything is deterministic: rows are sorted on complete keys, JSON keys are sorted,
and nothing depends on the clock, the worker count or the order cases finished in.
Text from the file system or from events (case names, server names, failure reasons)
goes through the reports' own cleaning (:func:`~npsdiag.report._view.display_text`
for HTML and CSV, :func:`~npsdiag.report._view.json_text` for JSON); the HTML page is
rendered from ``report/templates/index.html.j2`` with autoescaping on, and CSV cells
that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npsdiag import __version__
from npsdiag.batch_output import REPORT_FILES, write_text_atomic
from npsdiag.batch_result import SEVERITY_RANK, CaseSummary

if TYPE_CHECKING:
    import jinja2

    from npsdiag.batch_result import BatchResult

__all__ = [
    "CASE_COLUMNS",
    "CAUSE_COLUMNS",
    "INDEX_FILES",
    "INDEX_FORMAT",
    "INDEX_FORMAT_VERSION",
    "IndexData",
    "build_index",
    "cause_tables",
    "rank_cases",
    "remove_index",
    "render_causes_csv",
    "render_index_csv",
    "render_index_html",
    "render_index_json",
    "write_index",
]

#: Files written to the output folder, ``index.html`` first.
INDEX_FILES = ("index.html", "index.csv", "index.json", "causes.csv")

#: ``format`` and ``format_version`` of ``index.json`` (docs/batch.md describes it).
INDEX_FORMAT = "npsdiag-batch-index"
INDEX_FORMAT_VERSION = 2

#: Columns of ``index.csv``; never reorder (append new columns at the end).
CASE_COLUMNS = (
    "rank",
    "case_id",
    "name",
    "path",
    "kind",
    "status",
    "failure_kind",
    "reason",
    "server",
    "problems",
    "top_problem_id",
    "top_problem_title",
    "top_problem_severity",
    "affected_users",
    "incidents",
    "failed_incidents",
    "start",
    "end",
    "files",
    "files_read",
    "events_read",
    "records_failed",
    "report",
    "verdict",
)

#: Columns of ``causes.csv``.
CAUSE_COLUMNS = ("rank", "entry_id", "family", "title", "severity", "cases", "users", "incidents")

_TEMPLATE = "index.html.j2"
_CSS_WORDS = frozenset({*SEVERITY_RANK, "ok", "failed"})


@dataclass(frozen=True, slots=True)
class IndexData:
    """The index as plain data: the JSON document; HTML and CSV are views of it."""

    document: dict[str, Any]


def remove_index(output: Path) -> None:
    """Remove the index files of an earlier run (and their ``.partial`` leftovers)."""
    for name in INDEX_FILES:
        for path in (output / name, output / f".{name}.partial"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _severity_rank(severity: str | None) -> int:
    return SEVERITY_RANK.get(severity, -1) if severity is not None else -2


def rank_cases(cases: Iterable[CaseSummary]) -> list[CaseSummary]:
    """Cases worst first.

    Read cases come first, by the severity of their top problem (cases without a
    problem last), then affected users, then incidents (both most first), then case
    id; failed cases follow, by case id.
    """

    def key(summary: CaseSummary) -> tuple[int, int, int, int, str]:
        if not summary.ok:
            return (1, 0, 0, 0, summary.case.case_id)
        return (
            0,
            -_severity_rank(summary.top_severity),
            -summary.affected_users,
            -summary.incidents,
            summary.case.case_id,
        )

    return sorted(cases, key=key)


def cause_tables(
    cases: Sequence[CaseSummary],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Cross-case counts per catalog entry and per entry family.

    ``cases`` is the number of cases a cause appears in; ``users`` and ``incidents``
    add up each case's distinct affected users and incidents (the same person seen in
    two bundles counts twice: bundles of different servers or customers cannot be
    told apart, and redacted names differ between cases anyway).

    Returns:
        ``(causes, families)``: lists of row dicts, most common first (cases, then
        users, then incidents, all descending, then id); ``rank`` numbers them from 1.
    """
    import pandas as pd

    cause_records = [
        {
            "case_id": summary.case.case_id,
            "entry_id": cause.entry_id,
            "family": cause.family,
            "title": cause.title,
            "severity": cause.severity,
            "users": cause.users,
            "incidents": cause.incidents,
        }
        for summary in cases
        if summary.ok
        for cause in summary.causes
    ]
    if not cause_records:
        return [], []
    family_records = [
        {
            "case_id": summary.case.case_id,
            "family": family.family,
            "users": family.users,
            "incidents": family.incidents,
        }
        for summary in cases
        if summary.ok
        for family in summary.families
    ]
    entries = pd.DataFrame(cause_records)
    by_entry = (
        entries.groupby("entry_id", sort=True)
        .agg(
            family=("family", "first"),
            title=("title", "first"),
            severity=("severity", "first"),
            cases=("case_id", "nunique"),
            users=("users", "sum"),
            incidents=("incidents", "sum"),
        )
        .reset_index()
        .sort_values(
            by=["cases", "users", "incidents", "entry_id"],
            ascending=[False, False, False, True],
            kind="stable",
        )
    )
    entries["severity_rank"] = entries["severity"].map(lambda value: SEVERITY_RANK.get(value, -1))
    per_family = entries.groupby("family", sort=True).agg(
        entries=("entry_id", "nunique"), severity_rank=("severity_rank", "max")
    )
    by_family = (
        pd.DataFrame(family_records, columns=["case_id", "family", "users", "incidents"])
        .groupby("family", sort=True)
        .agg(
            cases=("case_id", "nunique"),
            users=("users", "sum"),
            incidents=("incidents", "sum"),
        )
        .join(per_family, how="left")
        .reset_index()
        .sort_values(
            by=["cases", "users", "incidents", "family"],
            ascending=[False, False, False, True],
            kind="stable",
        )
    )
    names = {rank: name for name, rank in SEVERITY_RANK.items()}
    causes = [
        {
            "rank": rank,
            "entry_id": str(row["entry_id"]),
            "family": str(row["family"]),
            "title": str(row["title"]),
            "severity": str(row["severity"]),
            "cases": int(row["cases"]),
            "users": int(row["users"]),
            "incidents": int(row["incidents"]),
        }
        for rank, row in enumerate(by_entry.to_dict("records"), start=1)
    ]
    families = [
        {
            "rank": rank,
            "family": str(row["family"]),
            "entries": int(row["entries"]),
            "worst_severity": names.get(int(row["severity_rank"]), "unknown"),
            "cases": int(row["cases"]),
            "users": int(row["users"]),
            "incidents": int(row["incidents"]),
        }
        for rank, row in enumerate(by_family.to_dict("records"), start=1)
    ]
    return causes, families


def _case_record(rank: int, summary: CaseSummary) -> dict[str, Any]:
    case = summary.case
    # summary.reports follows REPORT_FILES; a failed case has none.
    formats = [name for name, _ in REPORT_FILES]
    reports = dict(zip(formats, summary.reports, strict=False))
    return {
        "rank": rank,
        "case_id": case.case_id,
        "name": case.name,
        "path": case.path,
        "kind": case.kind,
        "status": summary.status,
        "failure_kind": summary.failure_kind,
        "reason": summary.reason,
        "server": summary.server,
        "problems": summary.problems,
        "top_problem": (
            {
                "entry_id": summary.top_entry_id,
                "title": summary.top_title,
                "severity": summary.top_severity,
            }
            if summary.top_entry_id is not None
            else None
        ),
        "causes": [cause.entry_id for cause in summary.causes],
        "verdict": summary.verdict,
        "affected_users": summary.affected_users,
        "incidents": summary.incidents,
        "failed_incidents": summary.failed_incidents,
        "start": summary.start,
        "end": summary.end,
        "files": summary.files,
        "files_read": summary.files_read,
        "events_read": summary.events_read,
        "records_failed": summary.records_failed,
        "report": reports.get("html"),
        "reports": reports,
    }


def build_index(result: BatchResult) -> IndexData:
    """Rank the cases, count the causes and assemble the index document."""
    ranked = rank_cases(result.cases)
    causes, families = cause_tables(ranked)
    failed: dict[str, int] = dict(result.failure_kinds())
    document: dict[str, Any] = {
        "format": INDEX_FORMAT,
        "format_version": INDEX_FORMAT_VERSION,
        "tool": {"name": "npsdiag", "version": __version__},
        "redacted": result.redacted,
        "inputs": list(result.inputs),
        "totals": {
            "cases": len(result.cases),
            "read": result.read,
            "failed": result.failed,
            "failed_by_kind": failed,
            "cases_with_problems": result.cases_with_problems,
            "problems": result.problems,
            "affected_users": sum(case.affected_users for case in result.cases),
            "incidents": sum(case.incidents for case in result.cases),
            "events_read": sum(case.events_read for case in result.cases),
            "records_failed": sum(case.records_failed for case in result.cases),
        },
        "cases": [_case_record(rank, summary) for rank, summary in enumerate(ranked, start=1)],
        "causes": causes,
        "families": families,
        "ignored": [
            {"path": entry.path, "reason": entry.reason}
            for entry in sorted(result.ignored, key=lambda entry: (entry.path, entry.reason))
        ],
    }
    return IndexData(document)


def _clean(value: Any, text: Callable[[str], str]) -> Any:
    """Apply a text policy to every string (keys included) of a JSON-like value."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        return {text(str(key)): _clean(item, text) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item, text) for item in value]
    return value


def render_index_json(index: IndexData) -> str:
    """``index.json``: the document, keys sorted, two-space indent, UTF-8 text."""
    from npsdiag.report._view import json_text

    return json.dumps(_clean(index.document, json_text), indent=2, sort_keys=True) + "\n"


def _csv_text(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    from npsdiag.report._view import display_text
    from npsdiag.report.csv import neutralise_formula

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            ["" if cell is None else neutralise_formula(display_text(str(cell))) for cell in row]
        )
    return buffer.getvalue()


def render_index_csv(index: IndexData) -> str:
    """``index.csv``: one row per case, in rank order, columns :data:`CASE_COLUMNS`."""
    rows = []
    for case in index.document["cases"]:
        top = case["top_problem"] or {}
        values = {
            **case,
            "top_problem_id": top.get("entry_id"),
            "top_problem_title": top.get("title"),
            "top_problem_severity": top.get("severity"),
        }
        rows.append([values[column] for column in CASE_COLUMNS])
    return _csv_text(rows, CASE_COLUMNS)


def render_causes_csv(index: IndexData) -> str:
    """``causes.csv``: one row per catalog entry found, most common first."""
    rows = [[cause[column] for column in CAUSE_COLUMNS] for cause in index.document["causes"]]
    return _csv_text(rows, CAUSE_COLUMNS)


def _css_class(value: object) -> str:
    text = str(value)
    return text if text in _CSS_WORDS else "other"


def _minutes(value: str | None) -> str:
    """``2025-05-12T08:10:00.000000Z`` as ``2025-05-12 08:10`` for the table."""
    if not value:
        return ""
    return value[:16].replace("T", " ")


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    from npsdiag.report.html import new_environment

    environment = new_environment()
    environment.filters["css_class"] = _css_class
    environment.filters["minutes"] = _minutes
    return environment


def render_index_html(index: IndexData) -> str:
    """``index.html``: one self-contained page (inline CSS, no script, no network)."""
    from npsdiag.report._view import display_text

    document = _clean(index.document, display_text)
    page = _environment().get_template(_TEMPLATE).render(index=document)
    return page.rstrip("\n") + "\n"


def write_index(result: BatchResult) -> list[Path]:
    """Write the four index files into ``result.output``.

    Returns:
        The paths written, :data:`INDEX_FILES` order.

    Raises:
        UsageError: a file cannot be written.
    """
    index = build_index(result)
    renderers = (render_index_html, render_index_csv, render_index_json, render_causes_csv)
    written: list[Path] = []
    for name, render in zip(INDEX_FILES, renderers, strict=True):
        path = result.output / name
        write_text_atomic(path, render(index))
        written.append(path)
    return written
