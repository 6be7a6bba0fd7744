"""The CSV report: one row per incident, fixed columns, safe to open in a spreadsheet.

Cells are cleaned like every displayed text (no control or bidi characters), and any
cell that a spreadsheet would read as a formula (starting with ``= + - @`` or TAB/CR)
gets a leading apostrophe, because user names and codes come from event text.
Lines end with ``\\n``; fields are quoted only when needed.
"""

from __future__ import annotations

import csv
import io
from typing import TextIO

from npsdiag.model import Analysis, Incident
from npsdiag.report._view import ReportOptions, display_text, format_time, sorted_incidents

__all__ = ["COLUMNS", "neutralise_formula", "render", "write"]

#: Column order of the CSV report; never reorder (append new columns at the end).
COLUMNS = (
    "start",
    "end",
    "user",
    "outcome",
    "cid",
    "codes",
    "diagnosis_id",
    "title",
    "category",
    "severity",
    "confidence",
    "evidence_count",
    "origins",
)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(cell: str) -> str:
    """Prefix an apostrophe when a spreadsheet would evaluate ``cell`` as a formula."""
    if cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def _row(incident: Incident) -> list[str]:
    """One incident's cells, straight from the model, each cleaned for display."""
    diagnosis = incident.diagnosis
    text = display_text
    cells = [
        format_time(incident.start) or "",
        format_time(incident.end) or "",
        text(incident.user) if incident.user else "",
        text(incident.outcome),
        text(incident.cid) if incident.cid else "",
        ";".join(text(code) for code in incident.codes),
        text(diagnosis.entry_id) if diagnosis else "",
        text(diagnosis.title) if diagnosis else "",
        text(diagnosis.category) if diagnosis else "",
        text(diagnosis.severity) if diagnosis else "",
        text(diagnosis.confidence) if diagnosis else "",
        str(len(incident.findings)),
        ";".join(sorted({text(finding.event.origin) for finding in incident.findings})),
    ]
    return [neutralise_formula(cell) for cell in cells]


def write(analysis: Analysis, options: ReportOptions, stream: TextIO) -> None:
    """Write the incidents of ``analysis`` as CSV (header row first), row by row."""
    writer = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for incident in sorted_incidents(analysis.incidents):
        writer.writerow(_row(incident))


def render(analysis: Analysis, options: ReportOptions) -> str:
    """The CSV report as one string (see :func:`write`)."""
    buffer = io.StringIO()
    write(analysis, options, buffer)
    return buffer.getvalue()
