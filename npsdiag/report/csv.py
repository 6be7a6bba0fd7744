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

from npsdiag.model import Analysis
from npsdiag.report._view import IncidentView, ReportOptions, display_text, stream_view

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


def _row(incident: IncidentView) -> list[str]:
    diagnosis = incident.diagnosis
    cells = [
        incident.start,
        incident.end,
        incident.user or "",
        incident.outcome,
        incident.cid or "",
        ";".join(incident.codes),
        diagnosis.entry_id if diagnosis else "",
        diagnosis.title if diagnosis else "",
        diagnosis.category if diagnosis else "",
        diagnosis.severity if diagnosis else "",
        diagnosis.confidence if diagnosis else "",
        str(incident.evidence_count),
        ";".join(incident.origins),
    ]
    return [neutralise_formula(cell) for cell in cells]


def write(analysis: Analysis, options: ReportOptions, stream: TextIO) -> None:
    """Write the incidents of ``analysis`` as CSV (header row first), row by row."""
    _view, builder = stream_view(analysis, options, display_text, evidence=False)  # none shown
    writer = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for incident in builder.iter_incidents():
        writer.writerow(_row(incident))


def render(analysis: Analysis, options: ReportOptions) -> str:
    """The CSV report as one string (see :func:`write`)."""
    buffer = io.StringIO()
    write(analysis, options, buffer)
    return buffer.getvalue()
