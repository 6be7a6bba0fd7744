"""The Markdown report: a compact summary to paste into a ticket.

Untrusted text never becomes Markdown or HTML syntax: inline text has Markdown's
punctuation backslash-escaped, table cells also turn line breaks into ``<br>``, and
code blocks use a fence longer than any backtick run inside them. Evidence text and
long cells are cut with an explicit ``... (N more characters)``.

Like the HTML report, it lists at most ``ReportOptions.max_incidents`` incidents (the
earliest of every problem first) and ``ReportOptions.max_user_attempts`` attempts per
affected user, saying so where it leaves some out; the counts cover everything.
"""

from __future__ import annotations

import re

from npsdiag.model import Analysis
from npsdiag.report._view import (
    PAGE_MAX_INCIDENTS,
    PAGE_MAX_USER_ATTEMPTS,
    AttemptView,
    IncidentView,
    ProblemView,
    ReportOptions,
    ReportView,
    UserView,
    build_view,
    display_text,
    page_limit,
    shorten,
)

__all__ = ["code_block", "code_span", "escape_cell", "escape_inline", "render"]

# What can start Markdown or HTML syntax inside one line. CommonMark lets any ASCII
# punctuation be backslash-escaped; escaping only what matters keeps pasted text readable:
# a backslash only before punctuation (so DOMAIN\user stays as is), an underscore only
# at a word edge (intraword underscores never emphasise, so ESTS_TOKEN_ERROR stays).
_INLINE_SPECIAL = re.compile(
    r"\\(?=[!-/:-@\[-`{-~]|$)|[`*\[\]<>|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])"
)
_BACKTICK_RUN = re.compile(r"`+")

#: Incidents linked from one problem before "and N more".
_MAX_PROBLEM_INCIDENTS = 10


def _escape_match(match: re.Match[str]) -> str:
    return "\\" + match.group()


def escape_inline(text: str) -> str:
    """Escape ``text`` for use inside one Markdown line (line breaks become spaces)."""
    flat = " ".join(text.splitlines()) if "\n" in text else text
    return _INLINE_SPECIAL.sub(_escape_match, flat)


def escape_cell(text: str, limit: int) -> str:
    """Escape ``text`` for one table cell: shortened, escaped, line breaks as ``<br>``."""
    lines = shorten(text, limit).split("\n")
    return "<br>".join(_INLINE_SPECIAL.sub(_escape_match, line) for line in lines)


def code_span(text: str) -> str:
    """Wrap ``text`` in a code span whose delimiter is longer than any backtick run inside."""
    flat = " ".join(text.splitlines()) if "\n" in text else text
    longest = max((len(run) for run in _BACKTICK_RUN.findall(flat)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    return f"{fence}{padding}{flat}{padding}{fence}"


def code_block(text: str, info: str = "text") -> str:
    """Wrap ``text`` in a fenced code block that nothing inside can close."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _users(problem: ProblemView, limit: int) -> str:
    shown, more = problem.users_preview(limit)
    if not shown:
        return "none recorded"
    listed = ", ".join(escape_inline(user) for user in shown)
    return f"{listed} and {more} more" if more else listed


def _summary(view: ReportView) -> list[str]:
    summary = view.summary
    outcomes = ", ".join(f"{count} {escape_inline(outcome)}" for outcome, count in summary.outcomes)
    attempts = f"**{summary.incidents}** attempts" + (f" ({outcomes})" if outcomes else "")
    lines = [
        "## Summary",
        "",
        f"- **{summary.problems}** problems, {attempts}, **{summary.users}** users "
        f"({summary.affected_users} with a failed attempt)",
    ]
    if summary.start and summary.end:
        note = view.times_note
        zone = "UTC" if note is None else f"UTC, except: {escape_inline(note)}"
        lines.append(f"- Data from {summary.start} to {summary.end} ({zone})")
    lines += [f"- Clock: {escape_inline(clock.sentence)}" for clock in view.clocks]
    lines.append(f"- {_plural(summary.notices, 'benign notice')}")
    read = summary.sources - summary.sources_listed
    lines.append(
        f"- {_plural(read, 'input')} read, {summary.sources_not_fully_read} not fully read; "
        f"{summary.sources_listed} more listed, not read on purpose (bundle containers, "
        "traces, copies, other files)"
    )
    if summary.unknown_codes:
        lines.append(f"- {_plural(summary.unknown_codes, 'unknown code')}")
    return lines


def _no_evidence(view: ReportView) -> list[str]:
    if any(log.events for log in view.coverage):
        what = "the inputs hold no sign-in attempt, only notices."
    else:
        what = "the inputs hold no NPS or NPS extension event at all."
    lines = [f"**Cannot tell:** {what}", ""]
    missing = view.missing_logs
    if missing:
        lines += ["Export these logs on the NPS server and run npsdiag on them:", ""]
        lines += [f"- {escape_inline(log.label)}: {escape_inline(log.note)}" for log in missing]
        lines.append("")
    return lines


def _coverage(view: ReportView, options: ReportOptions) -> list[str]:
    if not view.coverage and not view.other_logs:
        return []
    lines = [
        "## Logs given",
        "",
        "| Log | Status | Events used | Files | Note |",
        "| --- | --- | --- | --- | --- |",
    ]
    limit = options.max_cell_text * 3
    for log in view.coverage:
        cells = [log.label, log.status, str(log.events), ", ".join(log.files), log.note]
        lines.append("| " + " | ".join(escape_cell(cell, limit) for cell in cells) + " |")
    for name, note in view.other_logs:
        cells = ["(not used)", "other", "0", name, note]
        lines.append("| " + " | ".join(escape_cell(cell, limit) for cell in cells) + " |")
    lines.append("")
    return lines


def _sample_evidence(problem: ProblemView, view: ReportView, options: ReportOptions) -> list[str]:
    anchors = {incident.anchor: incident for incident in (*view.incidents, *view.notices)}
    for reference in problem.incidents:
        incident = anchors.get(reference.anchor or "")
        if incident is None or not incident.findings:
            continue
        finding = incident.findings[0]
        event = finding.event
        source = (
            f"{escape_inline(event.origin)}, {escape_inline(event.channel or event.provider)} "
            f"event {event.event_id} at {event.time}"
        )
        return [
            f"Sample evidence ({source}):",
            "",
            code_block(shorten(event.text, options.max_markdown_text)),
            "",
        ]
    return []


def _lead(problem: ProblemView) -> list[str]:
    """The fix (else the first step) in bold, right under the title."""
    lead = problem.lead
    if lead is None or lead[0] == "cause":
        return []
    label = "Fix" if lead[0] == "fix" else "Next"
    return [f"**{label}:** {escape_inline(lead[1])}", ""]


def _problem(problem: ProblemView, view: ReportView, options: ReportOptions) -> list[str]:
    lines = [
        f"### {problem.rank}. {escape_inline(problem.title)}",
        "",
        f"Severity **{escape_inline(problem.severity)}**, confidence "
        f"**{escape_inline(problem.confidence)}**, scope {escape_inline(problem.scope)}, "
        f"category {escape_inline(problem.category)}, entry {code_span(problem.entry_id)}",
        "",
        *_lead(problem),
        f"- Users ({len(problem.users)}): {_users(problem, options.preview_users)}",
        f"- When: {problem.start} to {problem.end} (UTC), "
        f"{_plural(len(problem.incidents), 'incident')}",
    ]
    if problem.cause:
        lines.append(f"- Cause: {escape_inline(problem.cause)}")
    lines.append(f"- Why: {escape_inline(problem.because)}")
    lines += [
        f"- Not given: {escape_inline(label)}; export it with {code_span(export)}"
        for _role, label, export in problem.missing
    ]
    lines.append("")
    if problem.steps:
        lines += ["Next steps:", ""]
        lines += [
            f"{number}. {f'({kind}) ' if kind else ''}{escape_inline(step)}"
            for number, (kind, step) in enumerate(problem.typed_steps, 1)
        ]
        lines.append("")
    if problem.collect:
        lines += ["Data to collect:", ""]
        lines += [f"- {escape_inline(item)}" for item in problem.collect]
        lines.append("")
    if problem.references:
        lines += ["References:", ""]
        lines += [f"- {escape_inline(link)}" for link in problem.references]
        lines.append("")
    lines += _sample_evidence(problem, view, options)
    return lines


def _incident_row(incident: IncidentView, limit: int) -> str:
    diagnosis = incident.diagnosis
    if diagnosis is not None:
        explained = f"{diagnosis.title} ({diagnosis.entry_id})"
    else:
        explained = incident.cause
    cells = [
        incident.start,
        incident.user or "",
        incident.outcome,
        ", ".join(incident.codes),
        explained,
        ", ".join(f"#{reference.rank}" for reference in incident.problems),
    ]
    return "| " + " | ".join(escape_cell(cell, limit) for cell in cells) + " |"


def _attempt_row(user: str, attempt: AttemptView, limit: int) -> str:
    if attempt.title is not None and attempt.diagnosis_id is not None:
        explained = f"{attempt.title} ({attempt.diagnosis_id})"
    else:
        explained = attempt.cause
    decision = attempt.nps_decision
    cells = [
        user,
        attempt.start,
        attempt.outcome,
        explained,
        ", ".join(attempt.codes),
        decision.label if decision is not None else "",
    ]
    return "| " + " | ".join(escape_cell(cell, limit) for cell in cells) + " |"


def _user_cell(user: UserView) -> str:
    name = user.name
    if user.other_names:
        name += " (also " + ", ".join(user.other_names) + ")"
    return f"{name}\n{user.failed} failed, {user.succeeded} succeeded"


def _affected_users(view: ReportView, options: ReportOptions) -> list[str]:
    """One table, the user named on their first attempt only, so it stays compact."""
    lines = [f"## Affected users ({len(view.users)})", ""]
    if not view.users:
        return [*lines, "No user has a failed attempt.", ""]
    if any(user.attempts_note for user in view.users):
        which = (
            f"every attempt, or {options.max_user_attempts} of them for a user with more "
            "(the earliest of each kind of failure first, taking turns, then the others)"
        )
    else:
        which = "every attempt"
    lines += [
        f"Users with at least one failed attempt, most failures first, with {which}. "
        "One user is one person, whatever form of the name the logs used.",
        "",
        "| User | Start (UTC) | Outcome | Diagnosis | Codes | NPS decision |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for user in view.users:
        for index, attempt in enumerate(user.attempts):
            cell = _user_cell(user) if index == 0 else ""
            lines.append(_attempt_row(cell, attempt, options.max_cell_text))
        note = user.attempts_note
        if note:
            lines.append(f"|  | {escape_cell(note, len(note))} |  |  |  |  |")
    lines.append("")
    return lines


def _incidents(view: ReportView, options: ReportOptions) -> list[str]:
    lines = [f"## Incidents ({view.summary.incidents})", ""]
    if not view.incidents:
        return [*lines, "No incidents.", ""]
    note = view.incidents_note
    if note:
        lines += [escape_inline(note), ""]
    lines += [
        "| Start (UTC) | User | Outcome | Codes | Diagnosis | Problem |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [_incident_row(incident, options.max_cell_text) for incident in view.incidents]
    lines.append("")
    return lines


def _unread(view: ReportView, options: ReportOptions) -> list[str]:
    unread = view.unread_sources
    lines = [f"## Files not fully read ({len(unread)})", ""]
    if not unread:
        return [*lines, "Every input was read completely.", ""]
    lines += [
        "| File | Kind | Status | Read | Failed | First message |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    limit = options.max_cell_text
    for source in unread:
        cells = [
            source.name,
            source.kind,
            source.status,
            str(source.records_read),
            str(source.records_failed),
            source.messages[0] if source.messages else "",
        ]
        lines.append("| " + " | ".join(escape_cell(cell, limit) for cell in cells) + " |")
    lines.append("")
    return lines


def render(analysis: Analysis, options: ReportOptions) -> str:
    """Render ``analysis`` as compact Markdown for a ticket."""
    # Evidence is not listed per incident here (only one sample per problem), so only the
    # incidents and attempts are limited.
    view = build_view(
        analysis,
        options,
        display_text,
        incident_limit=page_limit(options.max_incidents, PAGE_MAX_INCIDENTS),
        attempt_limit=page_limit(options.max_user_attempts, PAGE_MAX_USER_ATTEMPTS),
    )
    lines = [
        "# npsdiag report",
        "",
        *([f"Server: {escape_inline(', '.join(view.servers))}", ""] if view.servers else []),
        f"npsdiag {escape_inline(view.version)}, command line:",
        "",
        code_block(view.command_line, "console"),
        "",
        *_summary(view),
        "",
        f"## Problems ({len(view.problems)})",
        "",
    ]
    if view.summary.verdict == "no-evidence":
        lines += _no_evidence(view)
    elif not view.problems:
        lines += ["No problems found.", ""]
    for problem in view.problems:
        lines += _problem(problem, view, options)
        shown = problem.incidents[:_MAX_PROBLEM_INCIDENTS]
        if shown:
            listed = ", ".join(escape_inline(reference.label) for reference in shown)
            more = len(problem.incidents) - len(shown)
            suffix = f" and {more} more" if more else ""
            lines += [f"Incidents: {listed}{suffix}", ""]
    lines += _coverage(view, options)
    lines += _affected_users(view, options)
    lines += _incidents(view, options)
    lines += _unread(view, options)
    if view.unknown_codes:
        lines += [f"## Unknown codes ({len(view.unknown_codes)})", ""]
        lines += [
            f"- {code_span(shorten(code, options.max_cell_text))}" for code in view.unknown_codes
        ]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
