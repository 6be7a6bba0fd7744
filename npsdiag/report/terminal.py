"""The terminal report: what an admin reads first, at 2 a.m.

The first screen is the answer: a two-line summary, then a compact table of the problems
(title, severity, users, when) with the fix under each, the configuration faults found (as
causes, with their fix), or "cannot tell" with the logs to export. The details follow: each
problem in full (why, every step with its kind, the logs it was concluded without), the logs
given, the affected users with their first attempts, the failed attempts (successful ones are
counted, not listed), notices as a count, what could not be read. A few closing lines repeat
where to start, so that the screen left after a run still shows the answer.

Rendered with rich into a string, at ``ReportOptions.width`` columns, with ANSI colours only
when ``ReportOptions.color`` (the command decides both from the console, ``npsdiag._screen``);
the renderer itself never looks at the environment. Every piece of event text goes in as a
``Text`` object (never as markup) after :func:`~npsdiag.report._view.display_text`, so text
such as ``[bold]`` or an ANSI escape prints literally. Times are shown to the second
(``2026-01-14T09:30:12Z``), or to the minute in the problem table; the other formats carry
the microseconds.
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
from npsdiag.report._findings import ConfigCause, config_causes
from npsdiag.report._text import plural, time_window
from npsdiag.report._view import (
    FAILED_OUTCOMES,
    NOT_DIAGNOSED,
    NOTHING_TO_DIAGNOSE,
    AttemptView,
    IncidentView,
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
#: How the first thing under a problem is labelled, by step kind (catalog_steps.STEP_KINDS).
_LEAD_LABELS = {
    "fix": ("Fix: ", "bold green"),
    "cause": ("Cause: ", "bold"),
    "found": ("Found: ", "bold"),
}
#: The kind of each step in the details (catalog_steps.STEP_KINDS).
_KIND_STYLES = {"fix": "green", "check": "yellow", "collect": "yellow", "escalate": "magenta"}
#: Longest user, code or file name shown in one cell; the other reports carry it whole.
_NAME_LIMIT = 60
#: Widest code cell of the per-user view (the incident table shows codes in full width).
_ATTEMPT_CODE_WIDTH = 18
#: Narrowest diagnosis cell of the per-user view, and how far other cells shrink for it.
_CAUSE_WIDTH = 24
_SQUEEZED_WIDTH = 8
#: From this width on, the failed attempts table has a code column.
_WIDE = 100
#: Narrowest title column of the problem table.
_TITLE_WIDTH = 20


def _seconds(timestamp: str) -> str:
    """``2026-01-14T09:30:12.345678Z`` -> ``2026-01-14T09:30:12Z`` (truncated, not rounded)."""
    return timestamp[:19] + "Z" if len(timestamp) >= 19 else timestamp


def _span(start: str, end: str) -> str:
    if _seconds(start) == _seconds(end):
        return f"at {_seconds(start)}"
    return f"{_seconds(start)} to {_seconds(end)}"


def _cell(text: str) -> Text:
    return Text(shorten(text, _NAME_LIMIT))


# ----------------------------------------------------------------------- the first screen


def _header(view: ReportView) -> list[RenderableType]:
    summary = view.summary
    line = Text(f"npsdiag {view.version}", style="bold")
    if view.servers:
        line.append(f" · {', '.join(view.servers)}")
    if summary.start and summary.end:
        line.append(f" · {time_window(summary.start, summary.end)} UTC")
    lines: list[RenderableType] = [line, _verdict_line(view)]
    if view.times_note is not None:
        lines.append(Text(f"Except: {view.times_note}", style="yellow"))
    for clock in view.clocks:
        if clock.method != "unknown":
            lines.append(Text(f"Clock: {clock.sentence}", style="dim"))
    return lines


def _verdict_line(view: ReportView) -> Text:
    """``4 problems found. 13 attempts (2 rejected, ...), 11 users (10 with a failed attempt).``"""
    summary = view.summary
    text = Text()
    if summary.verdict == "no-evidence":
        text.append("Cannot tell", style="bold yellow")
        text.append(": the inputs hold no sign-in attempt.")
        return text
    found = []
    if view.problems:
        found.append(plural(len(view.problems), "problem"))
    causes = _causes(view)
    if causes:
        found.append(plural(len(causes), "configuration fault"))
    if found:
        text.append(" and ".join(found) + " found.", style="bold red")
    else:
        text.append("No problems found.", style="bold green")
    text.append(f" {plural(summary.incidents, 'attempt')}")
    if summary.outcomes:
        text.append(" (" + ", ".join(f"{n:,} {name}" for name, n in summary.outcomes) + ")")
    text.append(f", {plural(summary.users, 'user')} ({summary.affected_users:,} with a failed")
    text.append(" attempt).")
    return text


def _causes(view: ReportView) -> list[ConfigCause]:
    """Configuration findings that are faults (not the ``not-an-error`` ones), in order."""
    return [cause for cause in config_causes(view.config_findings) if cause.fault]


def _lead(kind: str, text: str) -> Text:
    # Without a fix the first step leads, whatever its kind ("Next: Check that ...").
    label, style = _LEAD_LABELS.get(kind, ("Next: ", "bold yellow"))
    line = Text()
    line.append(label, style=style)
    line.append(text)
    return line


def _hanging(text: Text, indent: int, width: int) -> RenderableType:
    """``text`` with its continuation lines under its first word after the label."""
    label = text.plain.split(" ", 1)[0] + " "
    grid = Table.grid()
    grid.add_column(no_wrap=True, width=len(label))
    grid.add_column(width=max(width - indent - len(label), 10))
    grid.add_row(text[: len(label)], text[len(label) :])
    return Padding(grid, (0, 0, 0, indent))


def _problem_table(view: ReportView, options: ReportOptions) -> list[RenderableType]:
    """One row per problem (title, severity, users, when) and its fix under it."""
    problems = view.problems
    rank_width = len(str(len(problems))) + 1
    users = [f"{len(problem.users):,}" for problem in problems]
    windows = [time_window(problem.start, problem.end) for problem in problems]
    widths = [
        rank_width,
        0,  # the title takes what is left
        max(len("Severity"), *(len(problem.severity) for problem in problems)),
        max(len("Users"), *(len(count) for count in users)),
        max(len("When (UTC)"), *(len(window) for window in windows)),
    ]
    # Four one-space gaps; the window wraps before the title gets narrower than this.
    rest = options.width - sum(widths) - 4
    if rest < _TITLE_WIDTH:
        widths[4] = max(len("When (UTC)"), widths[4] - (_TITLE_WIDTH - rest))
        rest = options.width - sum(widths) - 4
    widths[1] = max(rest, 10)

    def grid() -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, width=widths[0])
        table.add_column(width=widths[1])
        table.add_column(no_wrap=True, width=widths[2])
        table.add_column(no_wrap=True, width=widths[3], justify="right")
        table.add_column(width=widths[4])
        return table

    head = grid()
    head.add_row(
        *(Text(name, style="bold") for name in ("#", "Problem", "Severity", "Users", "When (UTC)"))
    )
    parts: list[RenderableType] = [Text(""), head]
    indent = rank_width + 1
    for problem, count, window in zip(problems, users, windows, strict=True):
        row = grid()
        row.add_row(
            Text(f"{problem.rank}."),
            Text(problem.title, style="bold"),
            Text(problem.severity, style=_SEVERITY_STYLES.get(problem.severity, "")),
            Text(count),
            Text(window),
        )
        parts.append(row)
        lead = problem.lead
        if lead is not None:
            parts.append(_hanging(_lead(*lead), indent, options.width))
        if problem.missing:
            labels = ", ".join(label for _role, label, _export in problem.missing)
            note = Text(f"Concluded without {labels} (how to export it: below).", style="dim")
            parts.append(Padding(note, (0, 0, 0, indent)))
        parts.append(Text(""))
    parts.pop()  # no blank line after the last problem
    return parts


def _cause_rows(view: ReportView, options: ReportOptions) -> list[RenderableType]:
    """The configuration faults, each as a cause with its fix."""
    causes = _causes(view)
    if not causes:
        return []
    heading = "Configuration fault" if len(causes) == 1 else "Configuration faults"
    parts: list[RenderableType] = [Text(""), Text(f"{heading} ({len(causes)})", style="bold")]
    for cause in causes:
        title = Text("- ")
        title.append(shorten(cause.title, 300), style="bold")
        if cause.severity:
            title.append(f"  {cause.severity}", style=_SEVERITY_STYLES.get(cause.severity, ""))
        parts.append(Padding(title, (0, 0, 0, 1)))
        if cause.found:
            parts.append(_hanging(_lead("found", shorten(cause.found, 300)), 3, options.width))
        if cause.fix:
            parts.append(_hanging(_lead("fix", cause.fix), 3, options.width))
    return parts


def _no_evidence(view: ReportView) -> list[RenderableType]:
    """What to say instead of "no problems" when the inputs hold no sign-in attempt."""
    text = Text("Cannot tell: ", style="bold yellow")
    if any(log.events for log in view.coverage):
        text.append("the inputs hold no sign-in attempt, only notices.")
    else:
        text.append("the inputs hold no NPS or NPS extension event at all.")
    parts: list[RenderableType] = [Text(""), text]
    missing = view.missing_logs
    if missing:
        parts.append(Text("Export these logs on the NPS server and run npsdiag on them:"))
        for log in missing:
            export = log.note.rpartition("Export it: ")[2] if "Export it: " in log.note else ""
            parts.append(Padding(Text(log.label, style="bold"), (0, 0, 0, 2)))
            if export:
                parts.append(Padding(Text(export), (0, 0, 0, 4)))
    return parts


def _answer(view: ReportView, options: ReportOptions) -> list[RenderableType]:
    parts: list[RenderableType] = _header(view)
    if view.summary.verdict == "no-evidence":
        parts += _no_evidence(view)
    if view.problems:
        parts += _problem_table(view, options)
    parts += _cause_rows(view, options)
    return parts


# ------------------------------------------------------------------------------ details


def _problem_details(problem: ProblemView, options: ReportOptions) -> RenderableType:
    title = Table.grid(padding=(0, 1))
    title.add_column(no_wrap=True)
    title.add_column()
    title.add_row(Text(f"{problem.rank}.", style="bold"), Text(problem.title, style="bold"))
    facts = Text()
    facts.append(f"severity {problem.severity}", style=_SEVERITY_STYLES.get(problem.severity, ""))
    facts.append(f", confidence {problem.confidence}, scope {problem.scope}, ")
    facts.append(plural(len(problem.incidents), "incident"))
    facts.append(f", {problem.entry_id}", style="dim")
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
    if problem.cause and (problem.lead or ("", ""))[0] != "cause":
        details.add_row("Cause", Text(problem.cause))
    lead = problem.lead
    if lead is not None and lead[0] != "cause":
        steps = Table.grid(padding=(0, 1))
        steps.add_column(no_wrap=True)
        steps.add_column(no_wrap=True)
        steps.add_column()
        for number, (kind, step) in enumerate(problem.typed_steps, start=1):
            kind_label = Text(kind or "step", style=_KIND_STYLES.get(kind, ""))
            steps.add_row(Text(f"{number}."), kind_label, Text(step))
        details.add_row("Steps", steps)
    more_text = f"npsdiag catalog show {problem.entry_id}"
    extra = []
    if problem.collect:
        extra.append(plural(len(problem.collect), "item") + " to collect for support")
    if problem.references:
        extra.append(plural(len(problem.references), "reference"))
    if extra:
        details.add_row("More", Text(f"{' and '.join(extra)}: {more_text}"))
    return Group(title, Padding(Group(facts, details), (0, 0, 0, 3)))


def _section(title: str) -> list[RenderableType]:
    return [Text(""), Rule(title, align="left", style="dim")]


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
            detail = Text(f"{log.label}: {plural(log.events, 'event')} used")
            if log.role == "security" and not log.events:
                detail.append(f"; {log.note}", style="yellow")
            grid.add_row(Text("given", style="green"), detail)
        else:
            style = "yellow" if log.status == "empty" else "red"
            grid.add_row(Text(log.status, style=style), Text(f"{log.label}: {log.note}"))
    for name, note in view.other_logs:
        grid.add_row(Text("other", style="dim"), Text(f"{shorten(name, 120)}: {note}"))
    return [*_section("Logs given"), Padding(grid, (0, 0, 0, 2))]


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
        _cell(", ".join(attempt.codes) or "-"),
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


def _elsewhere(options: ReportOptions, formats: str) -> str:
    """Where the rest of a cut list is: the HTML report of this run, else how to get one."""
    if options.html_report is not None:
        return f"in {options.html_report}"
    return f"(write them all with {formats})"


def _users(view: ReportView, options: ReportOptions) -> list[RenderableType]:
    """Each affected user with their first attempts; the other formats list every attempt."""
    users = view.users
    total = view.summary.affected_users
    parts = _section(f"Affected users ({total})")
    if not users:
        parts.append(Text("No user has a failed attempt."))
        return parts
    attempt_limit = max(options.max_terminal_attempts, 0)
    parts.append(
        Text("Time (UTC), outcome, codes, NPS decision (Security event, reason), diagnosis", "dim")
    )
    widths = _attempt_widths(users, attempt_limit, options.width)
    for user in users:
        heading = _user_heading(user)
        if heading.cell_len > options.width:
            # Name on one line, counts and times under it, rather than wrapped at column 0.
            name, _, facts = heading.plain.partition(": ")
            parts.append(heading[: len(name)])
            parts.append(Padding(Text(facts), (0, 0, 0, 3)))
        else:
            parts.append(heading)
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
    hidden_users = total - len(users)
    if hidden_users:
        where = _elsewhere(options, "--html FILE or --json FILE")
        parts.append(Text(f"... and {plural(hidden_users, 'more affected user')} {where}", "dim"))
    return parts


def _failed(view: ReportView, options: ReportOptions) -> list[RenderableType]:
    """The failed attempts, one line each; the successful ones are counted, not listed."""
    summary = view.summary
    failed = [incident for incident in view.incidents if incident.failed]
    total = summary.failed_incidents
    parts = _section(f"Failed attempts ({total:,} of {summary.incidents:,})")
    succeeded = summary.incidents - total
    if not total:
        parts.append(Text(f"None failed. Not listed: {_others(view, succeeded)}."))
        return parts
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True, expand=True
    )
    # One line per incident, whatever the width: long cells end in an ellipsis (the
    # problem number in "#" leads to the full title above; other reports carry all text).
    # Below 100 columns the codes give way to the diagnosis (the users above show them).
    codes = options.width >= _WIDE
    table.add_column("Time (UTC)", no_wrap=True)
    table.add_column("User", no_wrap=True, overflow="ellipsis", max_width=26 if codes else 22)
    table.add_column("Outcome", no_wrap=True)
    if codes:
        table.add_column("Code", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("#", no_wrap=True)
    table.add_column("Diagnosis", no_wrap=True, overflow="ellipsis", ratio=1, min_width=16)
    limit = max(options.max_terminal_incidents, 0)
    for incident in failed[:limit]:
        row = _incident_row(incident)
        table.add_row(*(row if codes else row[:3] + row[4:]))
    parts.append(table)
    hidden = total - min(limit, len(failed))
    if hidden:
        where = _elsewhere(options, "--html FILE or --csv FILE")
        parts.append(Text(f"... and {plural(hidden, 'more failed attempt')} {where}", "dim"))
    if succeeded:
        parts.append(Text(f"Not listed: {_others(view, succeeded)}.", "dim"))
    return parts


def _others(view: ReportView, count: int) -> str:
    """``38 attempts that did not fail (37 accepted, 1 ignored)``."""
    outcomes = ", ".join(
        f"{number:,} {outcome}"
        for outcome, number in view.summary.outcomes
        if outcome not in FAILED_OUTCOMES
    )
    return f"{plural(count, 'attempt')} that did not fail" + (f" ({outcomes})" if outcomes else "")


def _incident_row(incident: IncidentView) -> list[Text]:
    return [
        Text(_seconds(incident.start)),
        _cell(incident.user or "-"),
        Text(incident.outcome, style=_OUTCOME_STYLES.get(incident.outcome, "")),
        _cell(", ".join(incident.codes) or "-"),
        Text(",".join(str(reference.rank) for reference in incident.problems)),
        _cause_text(incident.cause, incident.diagnosis is not None),
    ]


def _notices(view: ReportView) -> list[RenderableType]:
    if not view.notices:
        return []
    kinds: dict[str, int] = {}
    for notice in view.notices:
        label = notice.diagnosis.title if notice.diagnosis else ", ".join(notice.codes) or "notice"
        kinds[label] = kinds.get(label, 0) + 1
    breakdown = "; ".join(f"{count} x {label}" for label, count in sorted(kinds.items()))
    text = Text(plural(view.summary.notices, "benign notice"), style="bold")
    text.append(f": {breakdown}")
    return [Text(""), text]


def _unread(view: ReportView) -> list[RenderableType]:
    unread = view.unread_sources
    parts = _section(f"Not read in full ({len(unread)})")
    listed = view.listed_sources
    inventory = (
        f" ({plural(len(listed), 'more input')} listed, not read on purpose: bundle containers, "
        "traces, copies, other files)"
        if listed
        else ""
    )
    if not unread:
        read = len(view.sources) - len(listed)
        everything = "The input was" if read == 1 else f"All {read} inputs were"
        parts.append(Text(f"{everything} read completely{inventory}."))
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


def _configuration(view: ReportView) -> list[RenderableType]:
    """Every configuration finding in full: the faults above, and the notes."""
    if not view.config_findings:
        return []
    parts = _section(f"Configuration findings ({len(view.config_findings)})")
    for pairs, cause in zip(view.config_findings, config_causes(view.config_findings), strict=True):
        title = Text(shorten(cause.title, 300), style="bold")
        facts = [
            f"{name}: {shorten(text, 300)}" for name, text in pairs if name != "title" and text
        ]
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        for fact in facts:
            name, _, text = fact.partition(": ")
            grid.add_row(name, Text(text))
        parts += [title, Padding(grid, (0, 0, 0, 3))]
    return parts


def _extras(view: ReportView) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if view.unknown_codes:
        codes = ", ".join(shorten(code, _NAME_LIMIT) for code in view.unknown_codes)
        text = Text(f"Unknown codes ({len(view.unknown_codes)}): ", style="bold")
        text.append(codes)
        parts += [Text(""), text]
    parts += [Text(""), Text(f"Command: {shorten(view.command_line, 300)}", style="dim")]
    return parts


def _in_short(view: ReportView, options: ReportOptions) -> list[RenderableType]:
    """The last lines: where to start, so the screen left after a run shows the answer."""
    parts = _section("In short")
    if view.problems:
        first = view.problems[0]
        line = Text(_verdict_line(view).plain.split(".", 1)[0] + ". ")
        line.append(f"Start with problem {first.rank} ({first.severity}): ")
        line.append(first.title, style="bold")
        parts.append(line)
        if first.lead is not None:
            parts.append(_hanging(_lead(*first.lead), 0, options.width))
        if len(view.problems) > 1:
            parts.append(Text("Every problem's fix is at the top of this report.", style="dim"))
    elif _causes(view):
        first_cause = _causes(view)[0]
        line = Text("Configuration fault: ")
        line.append(first_cause.title, style="bold")
        parts.append(line)
        if first_cause.fix:
            parts.append(_hanging(_lead("fix", first_cause.fix), 0, options.width))
    elif view.summary.verdict == "no-evidence":
        parts.append(Text("Cannot tell: export the logs listed at the top and run npsdiag again."))
    else:
        parts.append(_verdict_line(view))
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
    parts = _answer(view, options)
    if view.problems:
        parts += _section("Problems in detail")
        for problem in view.problems:
            parts += [_problem_details(problem, options), Text("")]
        parts.pop()
    parts += _coverage(view)
    if view.summary.incidents:
        parts += _users(view, options)
        parts += _failed(view, options)
    parts += _notices(view)
    parts += _unread(view)
    parts += _configuration(view)
    parts += _extras(view)
    parts += _in_short(view, options)
    for part in parts:
        console.print(part)
    # rich pads table cells with spaces; trailing blanks only make diffs noisy.
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(lines).rstrip("\n") + "\n"
