"""The terminal report: what an admin reads first, at 2 a.m.

Order: one summary, the ranked problems (each with its cause and first next step), the
affected users (each with their first attempts), the incident table, benign notices as a
count, then the files that could not be read.
Rendered with rich into a string; every piece of event text goes in as a ``Text``
object (never as markup) after :func:`~npsdiag.report._view.display_text`, so text
such as ``[bold]`` or an ANSI escape prints literally. Times are shown to the second
(``2026-01-14T09:30:12Z``); the other formats carry the microseconds.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from npsdiag.model import Analysis
from npsdiag.report._view import (
    NOT_DIAGNOSED,
    NOTHING_TO_DIAGNOSE,
    AttemptView,
    ProblemView,
    ReportOptions,
    ReportView,
    UserView,
    build_view,
    display_text,
    shorten,
)

__all__ = ["render"]

_SEVERITY_STYLES = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
_OUTCOME_STYLES = {
    "rejected": "red",
    "error": "red",
    "no-answer": "yellow",
    "timed-out": "red",
    "discarded": "yellow",
    "accepted": "green",
}
_VERDICT_STYLES = {"granted": "green", "denied": "red", "discarded": "yellow"}
#: Longest user, code or file name shown in one cell; the other reports carry it whole.
_NAME_LIMIT = 60
#: Widest code cell of the per-user view (the incident table shows codes in full width).
_ATTEMPT_CODE_WIDTH = 18
#: Narrowest diagnosis cell of the per-user view, and how far other cells shrink for it.
_CAUSE_WIDTH = 24
_SQUEEZED_WIDTH = 8


def _seconds(timestamp: str) -> str:
    """``2026-01-14T09:30:12.345678Z`` -> ``2026-01-14T09:30:12Z`` (truncated, not rounded)."""
    return timestamp[:19] + "Z" if len(timestamp) >= 19 else timestamp


def _span(start: str, end: str) -> str:
    if _seconds(start) == _seconds(end):
        return f"at {_seconds(start)}"
    return f"{_seconds(start)} to {_seconds(end)}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _header(view: ReportView) -> RenderableType:
    summary = view.summary
    headline = Text(f"npsdiag {view.version}", style="bold")
    counts = Text()
    counts.append(_plural(summary.problems, "problem"), style="bold")
    counts.append(", ")
    counts.append(_plural(summary.incidents, "attempt"), style="bold")
    if summary.outcomes:
        counts.append(" (" + ", ".join(f"{n} {name}" for name, n in summary.outcomes) + ")")
    counts.append(", ")
    counts.append(_plural(summary.users, "user"), style="bold")
    counts.append(f" ({summary.affected_users} with a failed attempt)")
    lines: list[RenderableType] = [headline, counts]
    if summary.start and summary.end:
        zone = "UTC" if view.times_note is None else f"UTC, except: {view.times_note}"
        lines.append(
            Text(f"Data from {_seconds(summary.start)} to {_seconds(summary.end)} ({zone})")
        )
    for clock in view.clocks:
        if clock.method != "unknown":
            lines.append(Text(f"Clock: {clock.sentence}", style="dim"))
    if view.servers:
        lines.append(Text(f"Server: {', '.join(view.servers)}"))
    lines.append(Text(f"Command: {shorten(view.command_line, 300)}", style="dim"))
    return Group(*lines)


def _no_evidence(view: ReportView) -> list[RenderableType]:
    """What to say instead of "no problems" when the inputs hold no sign-in attempt."""
    text = Text("Cannot tell: ", style="bold yellow")
    if any(log.events for log in view.coverage):
        text.append("the inputs hold no sign-in attempt, only notices.")
    else:
        text.append("the inputs hold no NPS or NPS extension event at all.")
    parts: list[RenderableType] = [text]
    missing = view.missing_logs
    if missing:
        parts.append(Text("Export these logs on the NPS server and run npsdiag on them:"))
        for log in missing:
            export = log.note.rpartition("Export it: ")[2] if "Export it: " in log.note else ""
            line = Text(f"  {log.label}")
            if export:
                line.append(f": {export}", style="bold")
            parts.append(line)
    return parts


def _coverage(view: ReportView) -> list[RenderableType]:
    """One row per log npsdiag uses: given (and how much) or missing (and how to export).

    When nothing could be told, the missing logs were just listed with their export
    commands; they are not repeated.
    """
    logs = view.coverage
    if view.summary.verdict == "no-evidence":
        logs = tuple(log for log in logs if log not in view.missing_logs)
    if not logs and not view.other_logs:
        return []
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for log in logs:
        if log.status == "read":
            detail = Text(f"{log.label}: {log.events:,} events used")
            if log.role == "security" and not log.events:
                detail.append(f"; {log.note}", style="yellow")
            grid.add_row(Text("given", style="green"), detail)
        else:
            style = "yellow" if log.status == "empty" else "red"
            grid.add_row(Text(log.status, style=style), Text(f"{log.label}: {log.note}"))
    for name, note in view.other_logs:
        grid.add_row(Text("other", style="dim"), Text(f"{shorten(name, 120)}: {note}"))
    return [Text(""), Rule("Logs given", align="left"), Padding(grid, (0, 0, 0, 2))]


def _problem(problem: ProblemView, options: ReportOptions) -> RenderableType:
    title = Text(f"{problem.rank}. ", style="bold")
    title.append(problem.title, style="bold")
    facts = Text()
    facts.append(f"severity {problem.severity}", style=_SEVERITY_STYLES.get(problem.severity, ""))
    facts.append(f", confidence {problem.confidence}, scope {problem.scope}, ")
    facts.append(_plural(len(problem.incidents), "incident"))
    details = Table.grid(padding=(0, 1))
    details.add_column(style="dim", no_wrap=True)
    details.add_column()
    shown, more = problem.users_preview(options.preview_users)
    users = ", ".join(shorten(user, _NAME_LIMIT) for user in shown) or "none recorded"
    if more:
        users += f" and {more} more"
    details.add_row("Users", Text(f"({len(problem.users)}) {users}"))
    details.add_row("When", Text(_span(problem.start, problem.end)))
    details.add_row("Why", Text(problem.because))
    for _role, label, export in problem.missing:
        missing = Text(f"{label}: ", style="yellow")
        missing.append(export)
        details.add_row("Not given", missing)
    if problem.steps:
        details.add_row("Next step", Text(problem.steps[0]))
        if len(problem.steps) > 1:
            details.add_row("", Text(f"(and {len(problem.steps) - 1} more in the HTML report)"))
    elif problem.cause:
        # No step to act on: the cause is the next best thing to read at the console.
        details.add_row("Cause", Text(problem.cause))
    return Group(title, Padding(Group(facts, details), (0, 0, 0, 3)))


def _cause_text(cause: str, diagnosed: bool) -> Text:
    if diagnosed:
        return Text(cause)
    # "not diagnosed" (a failure nobody explained) and "-" (nothing failed) are not titles.
    return Text(cause, style="dim" if cause in (NOT_DIAGNOSED, NOTHING_TO_DIAGNOSE) else "")


def _user_heading(user: UserView) -> Text:
    heading = Text(shorten(user.name, _NAME_LIMIT), style="bold")
    if user.other_names:
        others = ", ".join(shorten(name, _NAME_LIMIT) for name in user.other_names)
        heading.append(f" (also {others})", style="dim")
    heading.append(f": {user.failed} failed, {user.succeeded} succeeded, ")
    heading.append(_span(user.first_time, user.last_time))
    return heading


def _attempt_row(attempt: AttemptView) -> list[Text]:
    decision = attempt.nps_decision
    nps = Text("-", style="dim")
    if decision is not None:
        # Compact: "6273 denied (16)"; the other reports spell out "reason 16".
        label = f"{decision.event_id} {decision.verdict}"
        if decision.reason_code is not None and decision.verdict != "granted":
            label += f" ({decision.reason_code})"
        nps = Text(label, style=_VERDICT_STYLES.get(decision.verdict, ""))
    return [
        Text(_seconds(attempt.start)),
        Text(attempt.outcome, style=_OUTCOME_STYLES.get(attempt.outcome, "")),
        Text(shorten(", ".join(attempt.codes) or "-", _NAME_LIMIT)),
        nps,
        _cause_text(attempt.cause, attempt.title is not None),
    ]


def _attempt_widths(users: Sequence[UserView], limit: int, width: int) -> list[int]:
    """Widths of the time, outcome, code and NPS columns, the same for every user.

    The diagnosis keeps at least :data:`_CAUSE_WIDTH` columns: codes give way first, then
    the NPS decision, each down to :data:`_SQUEEZED_WIDTH`.
    """
    rows = [_attempt_row(attempt) for user in users for attempt in user.attempts[:limit]]
    widths = [max((row[index].cell_len for row in rows), default=1) for index in range(4)]
    widths[2] = min(widths[2], _ATTEMPT_CODE_WIDTH)
    # Indent, four one-space gaps, and the diagnosis.
    excess = 3 + 4 + sum(widths) + _CAUSE_WIDTH - width
    for index in (2, 3):
        give = min(max(excess, 0), max(widths[index] - _SQUEEZED_WIDTH, 0))
        widths[index] -= give
        excess -= give
    return widths


def _users(view: ReportView, options: ReportOptions) -> list[RenderableType]:
    """Each affected user with their first attempts; the other formats list every attempt."""
    users = view.users
    total = view.summary.affected_users
    parts: list[RenderableType] = [Rule(f"Affected users ({total})", align="left")]
    if not users:
        parts.append(Text("No user has a failed attempt."))
        return parts
    attempt_limit = max(options.max_terminal_attempts, 0)
    shown = users
    parts.append(
        Text("Time (UTC), outcome, codes, NPS decision (Security event, reason), diagnosis", "dim")
    )
    widths = _attempt_widths(shown, attempt_limit, options.width)
    for user in shown:
        parts.append(_user_heading(user))
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, width=widths[0])
        grid.add_column(no_wrap=True, width=widths[1])
        grid.add_column(no_wrap=True, overflow="ellipsis", width=widths[2])
        grid.add_column(no_wrap=True, overflow="ellipsis", width=widths[3])
        grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        for attempt in user.attempts[:attempt_limit]:
            grid.add_row(*_attempt_row(attempt))
        if user.attempts[:attempt_limit]:
            parts.append(Padding(grid, (0, 0, 0, 3)))
        hidden = user.attempt_count - min(attempt_limit, len(user.attempts))
        if hidden:
            more = Text(f"and {hidden} more (the last ending at {_seconds(user.last_time)})")
            parts.append(Padding(more, (0, 0, 0, 3), style="dim"))
    hidden_users = total - len(shown)
    if hidden_users:
        parts.append(
            Text(f"... and {hidden_users} more affected users (see the HTML or JSON report)", "dim")
        )
    return parts


def _incidents(view: ReportView, options: ReportOptions) -> list[RenderableType]:
    total = view.summary.incidents
    parts: list[RenderableType] = [Rule(f"Incidents ({total})", align="left")]
    if not view.incidents:
        parts.append(Text("No incidents."))
        return parts
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True, expand=True
    )
    # One line per incident, whatever the width: long cells end in an ellipsis (the
    # problem number in "#" leads to the full title above; other reports carry all text).
    table.add_column("Time (UTC)", no_wrap=True)
    table.add_column("User", no_wrap=True, overflow="ellipsis", max_width=26)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Code", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("#", no_wrap=True)
    table.add_column("Diagnosis", no_wrap=True, overflow="ellipsis", ratio=1, min_width=22)
    limit = max(options.max_terminal_incidents, 0)
    for incident in view.incidents[:limit]:
        table.add_row(
            Text(_seconds(incident.start)),
            Text(shorten(incident.user or "-", _NAME_LIMIT)),
            Text(incident.outcome, style=_OUTCOME_STYLES.get(incident.outcome, "")),
            Text(shorten(", ".join(incident.codes) or "-", _NAME_LIMIT)),
            Text(",".join(str(reference.rank) for reference in incident.problems)),
            _cause_text(incident.cause, incident.diagnosis is not None),
        )
    parts.append(table)
    hidden = total - min(limit, len(view.incidents))
    if hidden:
        parts.append(
            Text(f"... and {hidden} more incidents (see the HTML, JSON or CSV report)", "dim")
        )
    return parts


def _notices(view: ReportView) -> list[RenderableType]:
    if not view.notices:
        return []
    kinds: dict[str, int] = {}
    for notice in view.notices:
        label = notice.diagnosis.title if notice.diagnosis else ", ".join(notice.codes) or "notice"
        kinds[label] = kinds.get(label, 0) + 1
    breakdown = "; ".join(f"{count} x {label}" for label, count in sorted(kinds.items()))
    text = Text(_plural(len(view.notices), "benign notice"), style="bold")
    text.append(f": {breakdown}")
    return [Text(""), text]


def _unread(view: ReportView) -> list[RenderableType]:
    unread = view.unread_sources
    parts: list[RenderableType] = [
        Text(""),
        Rule(f"Not read in full ({len(unread)})", align="left"),
    ]
    listed = view.listed_sources
    inventory = (
        f" ({_plural(len(listed), 'more input')} listed, not read on purpose: bundle containers, "
        "traces, copies, other files)"
        if listed
        else ""
    )
    if not unread:
        read = len(view.sources) - len(listed)
        parts.append(Text(f"All {_plural(read, 'input')} read completely{inventory}."))
        return parts
    for source in unread:
        detail = Text(f"{source.status} ({source.kind})", style="yellow")
        detail.append(f": read {source.records_read}, failed {source.records_failed}")
        if source.messages:
            more = len(source.messages) - 1
            detail.append(f"; {shorten(source.messages[0], 200)}")
            if more:
                detail.append(f" (and {more} more)", style="dim")
        parts.append(Text(shorten(source.name, 200), overflow="fold"))
        parts.append(Padding(detail, (0, 0, 0, 3)))
    if inventory:
        parts.append(Text(inventory.strip(" ()").capitalize() + ".", style="dim"))
    return parts


def _extras(view: ReportView) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if view.unknown_codes:
        codes = ", ".join(shorten(code, _NAME_LIMIT) for code in view.unknown_codes)
        text = Text(f"Unknown codes ({len(view.unknown_codes)}): ", style="bold")
        text.append(codes)
        parts += [Text(""), text]
    if view.config_findings:
        parts += [Text(""), Text(f"Configuration findings ({len(view.config_findings)})", "bold")]
        for finding in view.config_findings:
            pairs = ", ".join(f"{key}: {shorten(value, 200)}" for key, value in finding)
            parts.append(Padding(Text(pairs), (0, 0, 0, 2)))
    return parts


def render(analysis: Analysis, options: ReportOptions) -> str:
    """Render ``analysis`` for the console (ANSI colours only when ``options.color``)."""
    # Views only for what the console shows: the first incidents, users and attempts.
    view = build_view(
        analysis,
        options,
        display_text,
        evidence=False,
        incident_limit=max(options.max_terminal_incidents, 1),
        attempt_limit=max(options.max_terminal_attempts, 1),
        user_limit=max(options.max_terminal_users, 1),
    )
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=options.width,
        color_system="standard" if options.color else None,
        force_terminal=options.color,
        force_jupyter=False,
        force_interactive=False,
        no_color=not options.color,
        markup=False,
        emoji=False,
        highlight=False,
        legacy_windows=False,
        # An empty environment: COLUMNS, NO_COLOR or FORCE_COLOR must not change a report.
        _environ={},
    )
    parts: list[RenderableType] = [
        _header(view),
        Text(""),
        Rule(f"Problems ({len(view.problems)})", align="left"),
    ]
    if view.summary.verdict == "no-evidence":
        parts += _no_evidence(view)
    elif not view.problems:
        parts.append(Text("No problems found."))
    for problem in view.problems:
        parts.append(_problem(problem, options))
    parts += _coverage(view)
    if view.summary.incidents:
        parts.append(Text(""))
        parts += _users(view, options)
        parts.append(Text(""))
        parts += _incidents(view, options)
    parts += _notices(view)
    parts += _unread(view)
    parts += _extras(view)
    for part in parts:
        console.print(part)
    # rich pads table cells with spaces; trailing blanks only make diffs noisy.
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(lines).rstrip("\n") + "\n"
