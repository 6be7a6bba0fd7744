"""The HTML report: one self-contained page to attach to a ticket.

The diagnosis comes first: every problem with its fix (linking to its card), the
configuration faults with theirs, or "cannot tell" with the logs to export. No network:
inline CSS, an inline SVG timeline (with each bar's count written above it), ``<details>``
for the evidence, and one inline script (``templates/report.js``: search, filter and sort
the incidents and users) that the page's Content-Security-Policy allows by its SHA-256
hash and nothing else; without it the page shows everything. The layout reflows on a
phone (tables become labelled blocks), and prints the diagnosis on page 1 and the file
inventory, compact, at the end.

The timeline has one bar row per problem, one for failures no problem explains, and one
mark row per kind of NPS decision (6272 granted, 6273 denied, 6274 discarded), each kind
with its own shape, so the extension's failures and NPS's answers line up. The page lists
at most ``ReportOptions.max_incidents`` incidents and as many notices (the earliest of
every problem first, see :func:`~npsdiag.report._view.incidents_shown`), at most
``ReportOptions.max_user_attempts`` attempts per affected user, and at most
``ReportOptions.max_evidence`` evidence events per incident (the one its diagnosis rests
on and the earliest others), and says so wherever it leaves some out; counts, problems,
users and the timeline use every incident and event, and only listed incidents are
linked to. The page is rendered from ``templates/report.html.j2`` with autoescaping on
(never by string concatenation), and every string has first been through
:func:`~npsdiag.report._view.display_text`, so hostile event text shows as text.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from npsdiag.model import Analysis, Finding, FindingKind, Incident, as_utc
from npsdiag.report._findings import config_causes
from npsdiag.report._text import time_window
from npsdiag.report._view import (
    FAILED_OUTCOMES,
    NPS_DECISIONS,
    PAGE_MAX_EVIDENCE,
    PAGE_MAX_INCIDENTS,
    PAGE_MAX_USER_ATTEMPTS,
    ReportOptions,
    ReportView,
    build_view,
    display_text,
    format_time,
    page_limit,
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
_MARK_SIZE = 5.0
_LEGEND_SPACE = 28
_LEGEND_STEP = 170
#: A decision row draws one mark per decision up to this many; beyond, one mark per
#: bucket that says how many it stands for (thousands of marks would be unreadable).
_MAX_MARKS = 200

#: NPS decision rows, in drawing order: finding kind, row kind (CSS class), shape, label.
_DECISION_ROWS = (
    (FindingKind.NPS_GRANTED, "nps-granted", "circle", "NPS 6272 granted"),
    (FindingKind.NPS_DENIED, "nps-denied", "cross", "NPS 6273 denied"),
    (FindingKind.NPS_DISCARDED, "nps-discarded", "triangle", "NPS 6274 discarded"),
)

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
    """One bucket of one row, with its count written above it (readable without hover)."""

    x: str
    y: str
    width: str
    height: str
    title: str
    count: int = 0
    label_x: str = ""
    label_y: str = ""


@dataclass(frozen=True, slots=True)
class TimelineMark:
    """One NPS decision (or one bucket of them) drawn as a shape."""

    path: str
    title: str
    anchor: str | None  # the incident holding the decision, when the mark is one decision


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One row: a problem, the failures no problem explains, or one kind of NPS decision."""

    label: str
    full_label: str
    total: int
    anchor: str | None
    kind: str  # "problem", "other", "nps-granted", "nps-denied" or "nps-discarded"
    label_y: str
    baseline_y: str
    bars: tuple[TimelineBar, ...]
    marks: tuple[TimelineMark, ...] = ()


@dataclass(frozen=True, slots=True)
class LegendItem:
    """One shape of the legend and what it stands for."""

    kind: str
    path: str
    label: str
    x: str  # where the label starts


@dataclass(frozen=True, slots=True)
class TimelineTick:
    """One axis label at a bucket boundary."""

    x: str
    label: str
    anchor: str  # SVG text-anchor, so the first and last labels stay inside the figure
    date: str = ""  # shown under the label where the date changes ("" elsewhere)


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything the template needs to draw the SVG."""

    width: int
    height: int
    plot_left: int
    plot_right: int
    axis_y: str
    label_y: str
    date_y: str
    rows: tuple[TimelineRow, ...]
    ticks: tuple[TimelineTick, ...]
    bucket_name: str
    start: str
    end: str
    description: str
    legend: tuple[LegendItem, ...] = ()
    legend_y: str = ""
    bucketed_marks: bool = False  # some decision row has one mark per bucket, not per event
    unlinked_marks: bool = False  # some single-decision mark has no link (incident not listed)


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


def _mark_path(shape: str, x: float, y: float) -> str:
    """SVG path data of a decision mark centred on (x, y): circle, X-shaped cross or triangle.

    Every shape is filled (no stroke-only lines), so each has an area to hover for its title.
    """
    size = _MARK_SIZE
    if shape == "circle":
        return (
            f"M{_number(x - size)} {_number(y)}"
            f"a{_number(size)} {_number(size)} 0 1 0 {_number(2 * size)} 0"
            f"a{_number(size)} {_number(size)} 0 1 0 {_number(-2 * size)} 0Z"
        )
    if shape == "cross":
        arm = 1.6  # half the thickness of each bar of the X
        plus = (
            (-arm, -size), (arm, -size), (arm, -arm), (size, -arm), (size, arm), (arm, arm),
            (arm, size), (-arm, size), (-arm, arm), (-size, arm), (-size, -arm), (-arm, -arm),
        )  # fmt: skip
        # A plus sign turned by 45 degrees is an X.
        root = math.sqrt(0.5)
        points = [(x + (px - py) * root, y + (px + py) * root) for px, py in plus]
        return "M" + "L".join(f"{_number(px)} {_number(py)}" for px, py in points) + "Z"
    return (
        f"M{_number(x)} {_number(y - size)}L{_number(x + size)} {_number(y + size * 0.8)}"
        f"L{_number(x - size)} {_number(y + size * 0.8)}Z"
    )


@dataclass(frozen=True, slots=True)
class _Decision:
    when: datetime
    finding: Finding
    anchor: str | None  # None when the report does not list the incident


def _decisions(analysis: Analysis, listed: frozenset[str]) -> dict[str, list[_Decision]]:
    """Every NPS decision in the incidents' evidence, by finding kind, in time order.

    Every incident counts, listed or not; a decision links to its incident only when
    ``listed`` (the anchors of the listed incidents) holds it.
    """
    found: dict[str, list[_Decision]] = {}
    seen: set[int] = set()
    for index, incident in enumerate(sorted_incidents(analysis.incidents), start=1):
        anchor: str | None = f"incident-{index}"
        if anchor not in listed:
            anchor = None
        for finding in incident.findings:
            # One event can be evidence of two incidents; it is still one decision.
            if finding.kind not in NPS_DECISIONS or id(finding) in seen:
                continue
            seen.add(id(finding))
            decision = _Decision(as_utc(finding.event.time), finding, anchor)
            found.setdefault(finding.kind, []).append(decision)
    for decisions in found.values():
        decisions.sort(key=lambda decision: decision.when)  # stable: incident order on ties
    return found


def _decision_title(label: str, decision: _Decision) -> str:
    finding = decision.finding
    user = display_text(finding.user) if finding.user else "(no user)"
    title = f"{label} at {format_time(decision.when)}: {user}"
    if finding.reason_code is not None and finding.kind != FindingKind.NPS_GRANTED:
        title += f", reason {finding.reason_code}"
    return title


@dataclass(frozen=True, slots=True)
class _Axis:
    """The time axis: ``count`` buckets of ``bucket`` seconds from ``origin`` (UTC seconds)."""

    origin: int
    bucket: int
    count: int
    name: str

    @classmethod
    def spanning(cls, times: Sequence[datetime]) -> _Axis:
        first = math.floor(min(times).timestamp())
        last = math.floor(max(times).timestamp())
        bucket, name = _pick_bucket(first, last)
        origin = first - first % bucket
        return cls(origin, bucket, (last - origin) // bucket + 1, name)

    @property
    def bucket_width(self) -> float:
        return (_PLOT_RIGHT - _PLOT_LEFT) / self.count

    def index(self, when: datetime) -> int:
        return (math.floor(when.timestamp()) - self.origin) // self.bucket

    def x(self, when: datetime) -> float:
        """Where ``when`` falls on the plot, to the second and below."""
        seconds = when.timestamp() - self.origin
        return _PLOT_LEFT + seconds / (self.count * self.bucket) * (_PLOT_RIGHT - _PLOT_LEFT)

    def time(self, index: int) -> datetime:
        return datetime.fromtimestamp(self.origin + index * self.bucket, tz=timezone.utc)

    def span(self, index: int) -> str:
        start, end = self.time(index), self.time(index + 1)
        return f"from {_axis_time(start, 0)} to {_axis_time(end, 0)}"

    def ticks(self) -> tuple[TimelineTick, ...]:
        step = max(1, math.ceil(self.count / _MAX_TICKS))
        ticks: list[TimelineTick] = []
        shown_date = ""
        for index in range(0, self.count + 1, step):
            when = self.time(index)
            anchor = "start" if index == 0 else "end" if index == self.count else "middle"
            x = _number(_PLOT_LEFT + index * self.bucket_width)
            if self.bucket >= 86400:
                ticks.append(TimelineTick(x, _axis_time(when, self.bucket), anchor))
                continue
            # "YYYY-MM-DD HH:MM" labels collide at six ticks: HH:MM on the axis, and the
            # date on a line below, only where it changes.
            date = when.strftime("%Y-%m-%d")
            ticks.append(
                TimelineTick(x, when.strftime("%H:%M"), anchor, "" if date == shown_date else date)
            )
            shown_date = date
        return tuple(ticks)


#: One bar row before layout: label, link target, kind, incident start times.
_Series = tuple[str, str | None, str, list[datetime]]


def _bar_series(analysis: Analysis, view: ReportView) -> list[_Series]:
    """One series per problem, then the failures no problem explains; empty ones dropped."""
    by_key: dict[str, Incident] = {}
    for incident in sorted_incidents((*analysis.incidents, *analysis.notices)):
        by_key.setdefault(incident.key, incident)
    explained: set[str] = set()
    series: list[_Series] = []
    for problem, problem_view in zip(analysis.problems, view.problems, strict=True):
        keys = [key for key in dict.fromkeys(problem.incident_keys) if key in by_key]
        explained.update(keys)
        times = [as_utc(by_key[key].start) for key in keys]
        series.append(
            (f"{problem_view.rank}. {problem_view.title}", problem_view.anchor, "problem", times)
        )
    others = [
        as_utc(incident.start)
        for incident in analysis.incidents
        if incident.outcome in FAILED_OUTCOMES and incident.key not in explained
    ]
    series.append(("Failures without a problem", "incidents", "other", others))
    return [entry for entry in series if entry[3]]


def _bar_row(entry: _Series, baseline: float, axis: _Axis, highest: int) -> TimelineRow:
    label, anchor, kind, times = entry
    counts = [0] * axis.count
    for when in times:
        counts[axis.index(when)] += 1
    bars: list[TimelineBar] = []
    for index, count in enumerate(counts):
        if not count:
            continue
        height = max(2.0, _BAR_SPACE * count / highest)
        bars.append(
            TimelineBar(
                x=_number(_PLOT_LEFT + index * axis.bucket_width + 0.5),
                y=_number(baseline - height),
                width=_number(max(axis.bucket_width - 1.0, 1.0)),
                height=_number(height),
                title=f"{label}: {count} {axis.span(index)} UTC",
                count=count,
                label_x=_number(_PLOT_LEFT + (index + 0.5) * axis.bucket_width),
                label_y=_number(baseline - height - 2),
            )
        )
    return TimelineRow(
        label=_short_label(label),
        full_label=label,
        total=len(times),
        anchor=anchor,
        kind=kind,
        label_y=_number(baseline - 8),
        baseline_y=_number(baseline),
        bars=tuple(bars),
    )


def _decision_row(
    decisions: Sequence[_Decision], kind: str, shape: str, label: str, baseline: float, axis: _Axis
) -> TimelineRow:
    """Marks of one kind of NPS decision: one per decision, or one per bucket if too many."""
    centre = baseline - _BAR_SPACE / 2
    marks: list[TimelineMark] = []
    if len(decisions) <= _MAX_MARKS:
        for decision in decisions:
            path = _mark_path(shape, axis.x(decision.when), centre)
            marks.append(TimelineMark(path, _decision_title(label, decision), decision.anchor))
    else:
        per_bucket = [0] * axis.count
        for decision in decisions:
            per_bucket[axis.index(decision.when)] += 1
        for index, count in enumerate(per_bucket):
            if count:
                path = _mark_path(shape, _PLOT_LEFT + (index + 0.5) * axis.bucket_width, centre)
                marks.append(TimelineMark(path, f"{label}: {count} {axis.span(index)} UTC", None))
    return TimelineRow(
        label=_short_label(label),
        full_label=label,
        total=len(decisions),
        anchor=None,
        kind=kind,
        label_y=_number(baseline - 8),
        baseline_y=_number(baseline),
        bars=(),
        marks=tuple(marks),
    )


def build_timeline(analysis: Analysis, view: ReportView) -> Timeline | None:
    """Bucket incidents over time and mark NPS's decisions.

    Rows: one per problem and one for unexplained failures (bars: incidents per bucket),
    then one per kind of NPS decision found in the evidence (a mark per decision, or per
    bucket beyond :data:`_MAX_MARKS`).

    Returns:
        The timeline, or None when there is nothing to plot.
    """
    series = _bar_series(analysis, view)
    found = _decisions(analysis, frozenset(incident.anchor for incident in view.incidents))
    decision_kinds = [entry for entry in _DECISION_ROWS if entry[0] in found]
    if not series and not decision_kinds:
        return None
    times = [when for entry in series for when in entry[3]]
    times += [decision.when for decisions in found.values() for decision in decisions]
    axis = _Axis.spanning(times)
    highest = 1
    for entry in series:
        per_bucket: dict[int, int] = {}
        for when in entry[3]:
            index = axis.index(when)
            per_bucket[index] = per_bucket.get(index, 0) + 1
        highest = max(highest, *per_bucket.values())
    rows = [
        _bar_row(entry, _TOP + number * _ROW_HEIGHT, axis, highest)
        for number, entry in enumerate(series, start=1)
    ]
    for finding_kind, kind, shape, label in decision_kinds:
        baseline = _TOP + (len(rows) + 1) * _ROW_HEIGHT
        rows.append(_decision_row(found[finding_kind], kind, shape, label, baseline, axis))
    axis_y = _TOP + len(rows) * _ROW_HEIGHT + 4
    legend_y = axis_y + _AXIS_SPACE + 12
    legend = tuple(
        LegendItem(
            kind=kind,
            path=_mark_path(shape, _PLOT_LEFT + index * _LEGEND_STEP + _MARK_SIZE, legend_y - 4),
            label=label,
            x=_number(_PLOT_LEFT + index * _LEGEND_STEP + 2 * _MARK_SIZE + 6),
        )
        for index, (_finding_kind, kind, shape, label) in enumerate(decision_kinds)
    )
    start = _axis_time(axis.time(0), 0)
    end = _axis_time(axis.time(axis.count), 0)
    parts = ["one row per problem"] if any(entry[2] == "problem" for entry in series) else []
    if any(entry[2] == "other" for entry in series):
        parts.append("one row for failures no problem explains")
    if decision_kinds:
        kinds = ", ".join(label.removeprefix("NPS ") for *_rest, label in decision_kinds)
        parts.append(f"one row of marks per kind of NPS decision ({kinds})")
    return Timeline(
        width=_WIDTH,
        height=axis_y + _AXIS_SPACE + (_LEGEND_SPACE if legend else 0),
        plot_left=_PLOT_LEFT,
        plot_right=_PLOT_RIGHT,
        axis_y=_number(axis_y),
        label_y=_number(axis_y + 16),
        date_y=_number(axis_y + 30),
        rows=tuple(rows),
        ticks=axis.ticks(),
        bucket_name=axis.name,
        start=start,
        end=end,
        description=f"Incidents per {axis.name} from {start} to {end} UTC: "
        + "; ".join(parts)
        + ".",
        legend=legend,
        legend_y=_number(legend_y),
        bucketed_marks=any(len(found[entry[0]]) > _MAX_MARKS for entry in decision_kinds),
        unlinked_marks=any(
            decision.anchor is None
            for decisions in found.values()
            if len(decisions) <= _MAX_MARKS
            for decision in decisions
        ),
    )


def _is_link(reference: str) -> bool:
    return reference.startswith(("https://", "http://"))


#: Values that get their own CSS class; anything else (it may be hostile) gets "other".
_CSS_WORDS = frozenset(
    {"critical", "high", "medium", "low", "info", *FAILED_OUTCOMES, "accepted", "ignored"}
    | {"notice", "ok", "partial", "unreadable", "skipped", "listed", "granted", "denied"}
    | {"fix", "check", "collect", "escalate", "cause", "problems", "healthy", "no-evidence"}
)


def _css_class(value: str) -> str:
    """A CSS class for a severity, outcome or status; unknown values share one class."""
    return value if value in _CSS_WORDS else "other"


def new_environment() -> jinja2.Environment:
    """A jinja2 environment for the package's templates: autoescape on, strict undefined.

    Every HTML output (this report, the batch index) starts from this one, so that escaping
    is decided in one place.
    """
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("npsdiag.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    environment = new_environment()
    environment.tests["link"] = _is_link
    environment.filters["css_class"] = _css_class
    environment.filters["window"] = lambda pair: time_window(*pair)
    environment.filters["thousands"] = lambda number: f"{number:,}"
    return environment


@functools.lru_cache(maxsize=1)
def page_script() -> tuple[str, str]:
    """The page's one script (``templates/report.js``) and its CSP source, ``'sha256-...'``.

    The Content-Security-Policy allows this exact text and no other script: an injected one
    (which autoescaping already prevents) would not run.
    """
    from importlib.resources import files

    text = files("npsdiag.report").joinpath("templates/report.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return text, f"'sha256-{digest}'"


def _counts(values: Sequence[str]) -> list[tuple[str, int]]:
    tally: dict[str, int] = {}
    for value in values:
        tally[value] = tally.get(value, 0) + 1
    return sorted(tally.items())


def render(analysis: Analysis, options: ReportOptions) -> str:
    """Render ``analysis`` as one self-contained HTML page."""
    # Only the listed incidents, attempts and evidence go into the view; the timeline reads
    # the analysis itself, so its bars and NPS decisions come from every incident and event.
    view = build_view(
        analysis,
        options,
        display_text,
        evidence_limit=page_limit(options.max_evidence, PAGE_MAX_EVIDENCE),
        incident_limit=page_limit(options.max_incidents, PAGE_MAX_INCIDENTS),
        attempt_limit=page_limit(options.max_user_attempts, PAGE_MAX_USER_ATTEMPTS),
    )
    from markupsafe import Markup

    template = _environment().get_template(_TEMPLATE)
    script, script_source = page_script()
    first_of_entry: dict[str, int] = {}
    for problem in view.problems:
        first_of_entry.setdefault(problem.entry_id, problem.rank)
    page = template.render(
        view=view,
        timeline=build_timeline(analysis, view),
        max_marks=_MAX_MARKS,
        options=options,
        source_statuses=_counts([source.status for source in view.sources]),
        causes=config_causes(view.config_findings),
        first_of_entry=first_of_entry,
        # The script is the package's own file, inserted verbatim: its hash is in the CSP.
        script=Markup(script),
        script_source=script_source,
    )
    return page.rstrip("\n") + "\n"
