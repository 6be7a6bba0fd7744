"""The HTML report: one self-contained page to attach to a ticket.

No network and no script: inline CSS, an inline SVG timeline, ``<details>`` for the
evidence. The page is rendered from ``templates/report.html.j2`` with autoescaping on
(never by string concatenation), and every string has first been through
:func:`~npsdiag.report._view.display_text`, so hostile event text shows as text. A
Content-Security-Policy meta tag forbids scripts and remote loads as a second line.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from npsdiag.model import Analysis, Incident
from npsdiag.report._view import (
    FAILED_OUTCOMES,
    ReportOptions,
    ReportView,
    build_view,
    display_text,
    sorted_incidents,
)

if TYPE_CHECKING:
    import jinja2

__all__ = ["render"]

_TEMPLATE = "report.html.j2"

# Timeline geometry (SVG user units; the SVG scales to the page width).
_WIDTH = 960
_PLOT_LEFT = 250
_PLOT_RIGHT = 945
_TOP = 12
_ROW_HEIGHT = 34
_BAR_SPACE = 24
_AXIS_SPACE = 40
_MAX_BUCKETS = 48
_MAX_TICKS = 6
_LABEL_CHARS = 34

#: Bucket sizes in seconds, smallest first, with their names for the axis caption.
_BUCKETS = (
    (60, "1 minute"),
    (300, "5 minutes"),
    (900, "15 minutes"),
    (1800, "30 minutes"),
    (3600, "1 hour"),
    (3 * 3600, "3 hours"),
    (6 * 3600, "6 hours"),
    (12 * 3600, "12 hours"),
    (86400, "1 day"),
    (7 * 86400, "7 days"),
    (30 * 86400, "30 days"),
)


@dataclass(frozen=True, slots=True)
class TimelineBar:
    """One bucket of one row."""

    x: str
    y: str
    width: str
    height: str
    title: str


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One row: a problem, or the failures no problem explains."""

    label: str
    full_label: str
    total: int
    anchor: str | None
    kind: str  # "problem" or "other"
    label_y: str
    baseline_y: str
    bars: tuple[TimelineBar, ...]


@dataclass(frozen=True, slots=True)
class TimelineTick:
    """One axis label at a bucket boundary."""

    x: str
    label: str
    anchor: str  # SVG text-anchor, so the first and last labels stay inside the figure


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything the template needs to draw the SVG."""

    width: int
    height: int
    plot_left: int
    plot_right: int
    axis_y: str
    label_y: str
    rows: tuple[TimelineRow, ...]
    ticks: tuple[TimelineTick, ...]
    bucket_name: str
    start: str
    end: str
    description: str


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def _number(value: float) -> str:
    """SVG coordinates with one decimal, so output is stable across platforms."""
    return f"{value:.1f}"


def _pick_bucket(first: int, last: int) -> tuple[int, str]:
    for seconds, name in _BUCKETS:
        count = (last - (first - first % seconds)) // seconds + 1
        if count <= _MAX_BUCKETS:
            return seconds, name
    days = math.ceil((last - first) / _MAX_BUCKETS / 86400) + 1
    return days * 86400, f"{days} days"


def _short_label(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 3] + "..."


def _axis_time(when: datetime, bucket: int) -> str:
    return when.strftime("%Y-%m-%d" if bucket >= 86400 else "%Y-%m-%d %H:%M")


def build_timeline(analysis: Analysis, view: ReportView) -> Timeline | None:
    """Bucket incidents over time: one row per problem, one for unexplained failures.

    Returns:
        The timeline, or None when there is nothing to plot.
    """
    by_key: dict[str, Incident] = {}
    for incident in sorted_incidents((*analysis.incidents, *analysis.notices)):
        by_key.setdefault(incident.key, incident)
    explained: set[str] = set()
    series: list[tuple[str, str, str | None, str, list[datetime]]] = []
    for problem, problem_view in zip(analysis.problems, view.problems, strict=True):
        keys = [key for key in dict.fromkeys(problem.incident_keys) if key in by_key]
        explained.update(keys)
        times = [_utc(by_key[key].start) for key in keys]
        label = f"{problem_view.rank}. {problem_view.title}"
        series.append((label, label, problem_view.anchor, "problem", times))
    others = [
        _utc(incident.start)
        for incident in analysis.incidents
        if incident.outcome in FAILED_OUTCOMES and incident.key not in explained
    ]
    if others:
        label = "Failures without a problem"
        series.append((label, label, "incidents", "other", others))
    series = [entry for entry in series if entry[4]]
    if not series:
        return None

    all_times = [when for entry in series for when in entry[4]]
    first = math.floor(min(all_times).timestamp())
    last = math.floor(max(all_times).timestamp())
    bucket, bucket_name = _pick_bucket(first, last)
    origin = first - first % bucket
    buckets = (last - origin) // bucket + 1
    plot_width = _PLOT_RIGHT - _PLOT_LEFT
    bucket_width = plot_width / buckets
    counts = [[0] * buckets for _ in series]
    for row_counts, entry in zip(counts, series, strict=True):
        for when in entry[4]:
            row_counts[(math.floor(when.timestamp()) - origin) // bucket] += 1
    highest = max(max(row_counts) for row_counts in counts)

    def bucket_time(index: int) -> datetime:
        return datetime.fromtimestamp(origin + index * bucket, tz=timezone.utc)

    rows: list[TimelineRow] = []
    for row_index, (entry, row_counts) in enumerate(zip(series, counts, strict=True)):
        label, full_label, anchor, kind, times = entry
        baseline = _TOP + (row_index + 1) * _ROW_HEIGHT
        bars: list[TimelineBar] = []
        for index, count in enumerate(row_counts):
            if not count:
                continue
            height = max(2.0, _BAR_SPACE * count / highest)
            start_text = _axis_time(bucket_time(index), 0)
            end_text = _axis_time(bucket_time(index + 1), 0)
            bars.append(
                TimelineBar(
                    x=_number(_PLOT_LEFT + index * bucket_width + 0.5),
                    y=_number(baseline - height),
                    width=_number(max(bucket_width - 1.0, 1.0)),
                    height=_number(height),
                    title=f"{full_label}: {count} from {start_text} to {end_text} UTC",
                )
            )
        rows.append(
            TimelineRow(
                label=_short_label(label),
                full_label=full_label,
                total=len(times),
                anchor=anchor,
                kind=kind,
                label_y=_number(baseline - 8),
                baseline_y=_number(baseline),
                bars=tuple(bars),
            )
        )
    step = max(1, math.ceil(buckets / _MAX_TICKS))
    ticks = tuple(
        TimelineTick(
            x=_number(_PLOT_LEFT + index * bucket_width),
            label=_axis_time(bucket_time(index), bucket),
            anchor="start" if index == 0 else "end" if index == buckets else "middle",
        )
        for index in range(0, buckets + 1, step)
    )
    axis_y = _TOP + len(rows) * _ROW_HEIGHT + 4
    start = _axis_time(bucket_time(0), 0)
    end = _axis_time(bucket_time(buckets), 0)
    return Timeline(
        width=_WIDTH,
        height=axis_y + _AXIS_SPACE,
        plot_left=_PLOT_LEFT,
        plot_right=_PLOT_RIGHT,
        axis_y=_number(axis_y),
        label_y=_number(axis_y + 16),
        rows=tuple(rows),
        ticks=ticks,
        bucket_name=bucket_name,
        start=start,
        end=end,
        description=(
            f"Incidents per {bucket_name} from {start} to {end} UTC, one row per problem"
            + (" and one for failures no problem explains" if others else "")
            + "."
        ),
    )


def _is_link(reference: str) -> bool:
    return reference.startswith(("https://", "http://"))


#: Values that get their own CSS class; anything else (it may be hostile) gets "other".
_CSS_WORDS = frozenset(
    {"critical", "high", "medium", "low", "info", *FAILED_OUTCOMES, "accepted", "ignored"}
    | {"notice", "ok", "partial", "unreadable", "skipped", "listed"}
)


def _css_class(value: str) -> str:
    """A CSS class for a severity, outcome or status; unknown values share one class."""
    return value if value in _CSS_WORDS else "other"


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("npsdiag.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.tests["link"] = _is_link
    environment.filters["css_class"] = _css_class
    return environment


def _counts(values: Sequence[str]) -> list[tuple[str, int]]:
    tally: dict[str, int] = {}
    for value in values:
        tally[value] = tally.get(value, 0) + 1
    return sorted(tally.items())


def render(analysis: Analysis, options: ReportOptions) -> str:
    """Render ``analysis`` as one self-contained HTML page."""
    view = build_view(analysis, options, display_text)
    template = _environment().get_template(_TEMPLATE)
    page = template.render(
        view=view,
        timeline=build_timeline(analysis, view),
        options=options,
        source_statuses=_counts([source.status for source in view.sources]),
    )
    return page.rstrip("\n") + "\n"
