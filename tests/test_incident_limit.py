"""The incident limit (``--incidents N``): HTML and Markdown list at most N incidents.

What must hold: the choice takes turns over the ranked problems (the undiagnosed failures
as one more), then the rest, earliest first; the page keeps its time order and says what
it left out; counts, problems, users, the timeline and NPS decisions still cover every
incident; nothing links to an incident the page does not list; affected users list at
most ``max_user_attempts`` attempts with true counts; JSON, CSV and the terminal do not
change. The option reaches ``analyze`` and ``batch`` (worker processes included).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.analyze import analyze_paths
from npsdiag.batch import run_batch
from npsdiag.catalog import Catalog, load_catalog
from npsdiag.cli import main
from npsdiag.commands.analyze import DEFAULT_INCIDENTS
from npsdiag.errors import UsageError
from npsdiag.model import (
    Analysis,
    Diagnosis,
    Event,
    Finding,
    FindingKind,
    Incident,
    Problem,
    SourceKind,
    SourceStats,
)
from npsdiag.report import ReportOptions, guidance_from_entries, render_report
from npsdiag.report._view import (
    DEFAULT_MAX_INCIDENTS,
    DEFAULT_MAX_USER_ATTEMPTS,
    FAILED_OUTCOMES,
    PAGE_MAX_INCIDENTS,
    attempts_shown,
    incidents_shown,
    notices_shown,
    sorted_incidents,
)
from tests.cli_runner import run
from tests.html_checks import without_our_script

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
T0 = datetime(2026, 1, 14, 9, 0, tzinfo=timezone.utc)
LOG = r"C:\export\AuthZOptCh.evtx"
SECURITY_LOG = r"C:\export\Security.evtx"

NOT_FOUND = "ext.response.user-not-found"
NO_ANSWER = "ext.challenge.no-answer"


# ----------------------------------------------------------------------------- helpers


def _incident(
    key: str,
    minute: float,
    outcome: str = "rejected",
    *,
    user: str | None = None,
    entry: str | None = None,
    denied: bool = False,
) -> Incident:
    """One incident at T0 + ``minute``; ``denied`` adds NPS's 6273 to its evidence."""
    when = T0 + timedelta(minutes=minute)
    name = user if user is not None else f"{key}@contoso.com"
    event = Event(
        time=when,
        channel="AuthZOptCh",
        provider="Microsoft-AzureMfa-AuthZ",
        event_id=1,
        level=4,
        computer="NPS01",
        record_id=int(minute * 100),
        fields={},
        data=(),
        message=f"attempt {key} by {name}: {outcome}",
        origin=LOG,
    )
    findings = [Finding(event=event, kind=FindingKind.REJECTED, user=name)]
    if denied:
        denial = Event(
            time=when + timedelta(seconds=1),
            channel="Security",
            provider="Microsoft-Windows-Security-Auditing",
            event_id=6273,
            level=0,
            computer="NPS01",
            record_id=int(minute * 100) + 1,
            fields={"SubjectUserName": name, "Reason": "16"},
            data=(),
            message=None,
            origin=SECURITY_LOG,
        )
        findings.append(
            Finding(event=denial, kind=FindingKind.NPS_DENIED, user=name, reason_code=16)
        )
    diagnosis = None
    if entry is not None:
        diagnosis = Diagnosis(entry, f"title of {entry}", "ext", "high", "high", "because")
    return Incident(
        key=key,
        user=name,
        start=when,
        end=when + timedelta(seconds=2),
        outcome=outcome,
        findings=findings,
        diagnosis=diagnosis,
        codes=("Code",) if outcome in FAILED_OUTCOMES else (),
    )


def _problem(entry: str, keys: Sequence[str], rank_title: str = "") -> Problem:
    return Problem(
        entry_id=entry,
        title=rank_title or f"title of {entry}",
        category="ext",
        severity="high",
        confidence="high",
        scope="server",
        users=[],
        incident_keys=list(keys),
        start=T0,
        end=T0 + timedelta(hours=1),
        because="because",
    )


def _analysis(
    incidents: list[Incident], problems: list[Problem], notices: list[Incident] | None = None
) -> Analysis:
    return Analysis(
        problems=problems,
        incidents=incidents,
        notices=notices or [],
        sources=[SourceStats(name=LOG, kind=SourceKind.EVTX, records_read=len(incidents))],
        unknown_codes=[],
        version="0.1.0",
        command_line="npsdiag analyze C:\\export",
    )


def _take_order(incidents: Sequence[Incident], problems: Sequence[Problem]) -> list[str]:
    """The keys in the order the selection takes them, read off successive limits.

    Also checks that a larger limit only ever adds to a smaller one's choice.
    """
    order: list[int] = []
    previous: set[int] = set()
    for limit in range(1, len(incidents)):
        now = set(incidents_shown(incidents, problems, limit))
        assert previous < now and len(now) == limit
        (added,) = now - previous
        order.append(added)
        previous = now
    order += sorted(set(range(len(incidents))) - previous)
    return [incidents[index].key for index in order]


def _links(page: str) -> list[str]:
    """Every in-page link target; fails when one has no element with that id."""
    document = lxml.html.document_fromstring(page)
    ids = document.xpath("//@id")
    assert len(ids) == len(set(ids)), "duplicate ids"
    targets = [href[1:] for href in document.xpath("//@href") if href.startswith("#")]
    # The raw text as well, so that no href the parser might drop goes unchecked.
    raw = re.findall(r'href="#([^"]*)"', page)
    assert sorted(raw) == sorted(targets)
    missing = sorted(set(targets) - set(ids))
    assert not missing, f"links without a target: {missing[:10]}"
    return targets


def _articles(page: str, section: str = "incidents") -> list[str]:
    document = lxml.html.document_fromstring(page)
    return [
        str(article.get("id")) for article in document.xpath(f"//section[@id='{section}']//article")
    ]


def _svg(page: str) -> str:
    return page[page.index("<svg") : page.index("</svg>")]


# --------------------------------------------------------------------- the choice


def test_the_defaults() -> None:
    import npsdiag.report

    assert DEFAULT_MAX_INCIDENTS == DEFAULT_INCIDENTS == ReportOptions().max_incidents == 200
    assert DEFAULT_MAX_USER_ATTEMPTS == ReportOptions().max_user_attempts == 10
    assert npsdiag.report.DEFAULT_MAX_INCIDENTS == DEFAULT_MAX_INCIDENTS
    assert npsdiag.report.DEFAULT_MAX_USER_ATTEMPTS == DEFAULT_MAX_USER_ATTEMPTS


@pytest.mark.parametrize("field", ["max_incidents", "max_user_attempts"])
def test_a_negative_limit_is_a_usage_error(field: str) -> None:
    with pytest.raises(UsageError, match="0 or more"):
        ReportOptions(**{field: -1})  # type: ignore[arg-type]


def test_takes_turns_over_problems_then_undiagnosed_failures_then_the_rest() -> None:
    incidents = sorted_incidents(
        [
            _incident("s1", 0, "accepted"),
            _incident("a1", 1),
            _incident("b1", 2, "no-answer"),
            _incident("c1", 3),
            _incident("u1", 4, "error"),
            _incident("a2", 5),
            _incident("b2", 6, "no-answer"),
            _incident("s2", 7, "accepted"),
            _incident("u2", 8, "discarded"),
            _incident("a3", 9),
            _incident("s3", 10, "ignored"),
        ]
    )
    problems = [
        _problem("p1", ["a1", "a2", "a3"]),
        _problem("p2", ["b2", "b1"]),  # the problem's own key order does not matter
        _problem("p3", ["c1"]),
    ]
    assert _take_order(incidents, problems) == [
        "a1", "b1", "c1", "u1",  # the earliest of each, undiagnosed failures last
        "a2", "b2", "u2",  # then the second of each
        "a3",
        "s1", "s2", "s3",  # then the rest, earliest first
    ]  # fmt: skip
    # Listed in the report's order, whatever the order they were chosen in.
    assert incidents_shown(incidents, problems, 5) == [1, 2, 3, 4, 5]


def test_early_undiagnosed_failures_wait_for_their_turn() -> None:
    incidents = sorted_incidents(
        [_incident("u0", 0, "error"), _incident("p1-first", 5), _incident("p2-first", 6)]
    )
    problems = [_problem("p1", ["p1-first"]), _problem("p2", ["p2-first"])]
    assert incidents_shown(incidents, problems, 2) == [1, 2]
    assert incidents_shown(incidents, problems, 1) == [1]


def test_an_incident_of_two_problems_counts_once() -> None:
    incidents = sorted_incidents(
        [_incident("x1", 1), _incident("x2", 2), _incident("y1", 3), _incident("y2", 4)]
    )
    problems = [_problem("p1", ["x1", "x2"]), _problem("p2", ["x1", "y1", "y2"])]
    # Problem 2 meets x1 taken already and takes its next one in the same turn.
    assert _take_order(incidents, problems) == ["x1", "y1", "x2", "y2"]


def test_accepted_incidents_of_a_problem_take_part_in_the_turns() -> None:
    incidents = sorted_incidents(
        [
            _incident("late-retry-1", 1, "accepted"),
            _incident("other-ok", 2, "accepted"),
            _incident("late-retry-2", 3, "accepted"),
            _incident("lost", 4, "no-answer"),
        ]
    )
    problems = [_problem("timeout", ["late-retry-1", "late-retry-2"])]
    assert _take_order(incidents, problems) == ["late-retry-1", "lost", "late-retry-2", "other-ok"]


def test_without_problems_failures_come_first() -> None:
    incidents = sorted_incidents(
        [_incident("ok1", 0, "accepted"), _incident("f1", 1), _incident("f2", 2, "unknown")]
    )
    assert _take_order(incidents, []) == ["f1", "f2", "ok1"]


def test_unknown_and_repeated_keys_and_empty_problems_are_harmless() -> None:
    incidents = sorted_incidents([_incident("a", 1), _incident("b", 2), _incident("c", 3)])
    problems = [
        _problem("empty", []),
        _problem("ghost", ["nowhere"]),
        _problem("p", ["c", "c", "nowhere"]),
    ]
    assert _take_order(incidents, problems) == ["c", "a", "b"]


def test_zero_or_a_large_limit_lists_everything() -> None:
    incidents = sorted_incidents([_incident(f"k{n}", n) for n in range(7)])
    problems = [_problem("p", ["k3"])]
    for limit in (0, 7, 8, 1000):
        assert list(incidents_shown(incidents, problems, limit)) == list(range(7))
    assert list(incidents_shown([], problems, 5)) == []


_OUTCOMES = st.sampled_from(["rejected", "no-answer", "error", "accepted", "ignored"])


@settings(max_examples=300, deadline=None)
@given(
    outcomes=st.lists(_OUTCOMES, max_size=40),
    memberships=st.lists(st.lists(st.integers(0, 45), max_size=12), max_size=6),
    limit=st.integers(0, 50),
)
def test_selection_properties(
    outcomes: list[str], memberships: list[list[int]], limit: int
) -> None:
    incidents = sorted_incidents(
        [_incident(f"k{index}", index, outcome) for index, outcome in enumerate(outcomes)]
    )
    problems = [
        _problem(f"p{number}", [f"k{index}" for index in members])  # may name unknown keys
        for number, members in enumerate(memberships)
    ]
    chosen = list(incidents_shown(incidents, problems, limit))
    total = len(incidents)
    assert len(chosen) == (total if limit == 0 else min(limit, total))
    assert len(set(chosen)) == len(chosen)
    assert chosen == sorted(chosen) and all(0 <= index < total for index in chosen)
    if limit == 0 or limit >= len(problems):
        for problem in problems:
            members = [i for i, x in enumerate(incidents) if x.key in problem.incident_keys]
            if members:
                assert members[0] in chosen, problem.entry_id
    # Nothing outside the problems that did not fail is chosen before every failure.
    in_problems = {key for problem in problems for key in problem.incident_keys}
    chosen_set = set(chosen)
    rest = [
        index
        for index, incident in enumerate(incidents)
        if incident.outcome not in FAILED_OUTCOMES and incident.key not in in_problems
    ]
    if chosen_set & set(rest):
        failures = [i for i, x in enumerate(incidents) if x.outcome in FAILED_OUTCOMES]
        assert set(failures) <= chosen_set
        # ... and the rest is taken earliest first.
        taken = sorted(chosen_set & set(rest))
        assert taken == rest[: len(taken)]
    if 0 < limit < total:
        assert chosen_set <= set(incidents_shown(incidents, problems, limit + 1))


def test_notices_take_turns_over_their_kinds() -> None:
    notices = sorted_incidents(
        [
            *[_incident(f"flood{n}", n, "notice", entry="flood") for n in range(6)],
            _incident("rare", 3.5, "notice", entry="rare"),
            _incident("coded1", 4.5, "notice"),
            _incident("coded2", 5.5, "notice"),
        ]
    )
    chosen = [notices[index].key for index in notices_shown(notices, 5)]
    assert chosen == ["flood0", "flood1", "rare", "coded1", "coded2"]
    assert list(notices_shown(notices, 0)) == list(range(len(notices)))


def test_attempts_take_turns_over_kinds_failures_first() -> None:
    attempts = [
        _incident("ok0", 0, "accepted"),
        *[_incident(f"nf{n}", 1 + n, "rejected", entry=NOT_FOUND) for n in range(8)],
        _incident("na", 9.5, "no-answer", entry=NO_ANSWER),
        *[_incident(f"ok{n}", 10 + n, "accepted") for n in range(1, 5)],
    ]
    chosen = [attempts[index].key for index in attempts_shown(attempts, 5)]
    # Taken as nf0, na, ok0 (each kind of failure, then the successes), nf1, ok1; listed
    # in time order.
    assert chosen == ["ok0", "nf0", "nf1", "na", "ok1"]
    assert [attempts[index].key for index in attempts_shown(attempts, 2)] == ["nf0", "na"]
    assert list(attempts_shown(attempts, 0)) == list(range(len(attempts)))


# ------------------------------------------------------------------- a synthetic case


def _case() -> Analysis:
    """Alice fails 24 times (user not found, each denied by NPS) and signs in 6 times;
    Bob's 10 challenges go unanswered; Carol fails 3 times undiagnosed; Dave only signs
    in (12 times). 15 notices of one kind and one of another."""
    incidents: list[Incident] = []
    minute = 0.0
    for number in range(30):
        minute += 1
        if number % 5 == 4:
            incidents.append(_incident(f"alice-ok-{number}", minute, "accepted", user="alice"))
        else:
            incidents.append(
                _incident(f"alice-{number}", minute, user="alice", entry=NOT_FOUND, denied=True)
            )
    for number in range(10):
        incidents.append(
            _incident(f"bob-{number}", 3.3 + 3 * number, "no-answer", user="bob", entry=NO_ANSWER)
        )
    for number in range(3):
        incidents.append(_incident(f"carol-{number}", 7.7 + 5 * number, "error", user="carol"))
    for number in range(12):
        incidents.append(_incident(f"dave-{number}", 0.5 + 2 * number, "accepted", user="dave"))
    keys = [incident.key for incident in incidents]
    problems = [
        _problem(NOT_FOUND, [key for key in keys if key.startswith("alice-") and "ok" not in key]),
        _problem(NO_ANSWER, [key for key in keys if key.startswith("bob-")]),
    ]
    problems[0].users, problems[1].users = ["alice"], ["bob"]
    notices = [_incident(f"notice-{n}", 2 * n + 0.1, "notice", entry="flood") for n in range(15)]
    notices.append(_incident("notice-rare", 29.1, "notice", entry="rare"))
    return _analysis(incidents, problems, notices)


CASE_INCIDENTS = 55
CASE_FAILED = 24 + 10 + 3


def test_html_lists_the_chosen_incidents_in_time_order_with_their_usual_anchors() -> None:
    analysis = _case()
    page = render_report("html", analysis, ReportOptions(max_incidents=8))
    everything = render_report("html", analysis, ReportOptions(max_incidents=0))
    listed = _articles(page)
    assert len(listed) == 8
    all_anchors = _articles(everything)
    assert len(all_anchors) == CASE_INCIDENTS
    # A subsequence of the full page, anchors and all: the page is not reordered.
    assert [anchor for anchor in all_anchors if anchor in listed] == listed
    ordered = sorted_incidents(analysis.incidents)
    expected = incidents_shown(ordered, analysis.problems, 8)
    assert listed == [f"incident-{index + 1}" for index in expected]
    users = [ordered[index].user for index in expected]
    # Four turns of (alice's problem, bob's problem, carol's undiagnosed failures) ...
    assert users.count("alice") == 3 and users.count("bob") == 3 and users.count("carol") == 2
    assert "dave" not in users  # ... and no success while failures are left.


def test_html_says_what_it_left_out_and_keeps_true_counts() -> None:
    page = render_report("html", _case(), ReportOptions(max_incidents=8))
    document = lxml.html.document_fromstring(page)
    notes = [p.text_content() for p in document.xpath("//p[contains(@class, 'limit-note')]")]
    assert notes == [
        "Showing 8 of 55 incidents: the earliest of every problem first (taking turns, with "
        "the failures no problem explains as one more), then the other attempts. The CSV "
        "(--csv) and JSON (--json) reports list every incident.",
        "Showing 8 of 16 notices: the earliest of every kind first, taking turns. The JSON "
        "report (--json) lists every notice.",
    ]
    heading = document.xpath("//h2[@id='incidents-title']")[0].text_content()
    assert heading == "Incidents (8 of 55 listed)"
    cards = document.xpath("//section[@id='summary']//li")
    assert f"{CASE_FAILED} failed of {CASE_INCIDENTS} attempts" in cards[1].text_content()
    assert "Show 8 of 16 notices" in page
    assert "16 benign notices" in cards[3].text_content()
    # The rare notice kind is listed although 15 of the other came first.
    assert "title of rare" in " ".join(
        article.text_content() for article in document.xpath("//section[@id='notices']//article")
    )
    outcomes = document.xpath("//section[@id='summary']/p")[0].text_content()
    assert outcomes == "Outcomes: 24 rejected, 3 error, 10 no-answer, 18 accepted."


def test_no_problems_note() -> None:
    analysis = _case()
    analysis.problems = []
    page = render_report("html", analysis, ReportOptions(max_incidents=4))
    assert (
        "Showing 4 of 55 incidents: failures first, then the other attempts, earliest first. "
        "The CSV (--csv) and JSON (--json) reports list every incident." in page
    )
    _links(page)


def test_problems_link_only_to_listed_incidents_and_count_the_rest() -> None:
    page = render_report("html", _case(), ReportOptions(max_incidents=8))
    document = lxml.html.document_fromstring(page)
    problem = document.xpath("//article[@id='problem-1']")[0]
    links = [href for href in problem.xpath(".//a/@href") if href.startswith("#incident-")]
    assert len(links) == 3
    assert set(links) <= {f"#{anchor}" for anchor in _articles(page)}
    assert problem.xpath(".//details/summary")[0].text_content() == "Incidents (24)"
    more = problem.xpath(".//p[contains(@class, 'more-incidents')]")[0].text_content()
    assert more == (
        "and 21 more not listed in this report; the CSV (--csv) and JSON (--json) reports "
        "list every incident."
    )
    # The problem's own facts still count every incident.
    assert "24 incidents" in problem.text_content()
    _links(page)


def test_users_keep_true_counts_list_capped_attempts_and_link_only_listed_ones() -> None:
    page = render_report("html", _case(), ReportOptions(max_incidents=8, max_user_attempts=4))
    document = lxml.html.document_fromstring(page)
    listed = set(_articles(page))
    groups = document.xpath("//section[@id='users']//tbody")
    names = [group.xpath("./tr/th")[0].text_content() for group in groups]
    assert [name.split(":")[0] for name in names] == ["alice", "bob", "carol"]
    assert "24 failed, 6 succeeded" in names[0] and "10 failed, 0 succeeded" in names[1]
    alice = groups[0]
    rows = alice.xpath("./tr[starts-with(@class, 'outcome-')]")
    assert len(rows) == 4
    # The kinds take turns: failures, a success, failures again.
    assert [row.get("class") for row in rows].count("outcome-accepted") >= 1
    note = alice.xpath("./tr[@class='more-attempts']")[0].text_content()
    shown_failed = sum(1 for row in rows if row.get("class") != "outcome-accepted")
    assert note == (
        f"and 26 more attempts ({24 - shown_failed} failed, {6 - (4 - shown_failed)} "
        "succeeded); the CSV (--csv) and JSON (--json) reports list every attempt."
    )
    for row in rows:
        time_cell = row.xpath("./td")[0]
        href = time_cell.xpath("./a/@href")
        if href:
            assert href[0][1:] in listed
        else:
            assert time_cell.xpath(".//time")  # plain text, still with its time
    assert any(not row.xpath("./td[1]/a") for row in rows)  # some attempt is not listed
    carol = groups[2]
    assert not carol.xpath("./tr[@class='more-attempts']")
    assert "or 4 of them for a user with more" in page
    _links(page)


def test_timeline_counts_every_incident_and_links_only_listed_ones() -> None:
    analysis = _case()
    limited = render_report("html", analysis, ReportOptions(max_incidents=8))
    everything = render_report("html", analysis, ReportOptions(max_incidents=0))

    def unlinked(svg: str) -> str:
        return re.sub(r"</?a[^>]*>", "", svg)

    # The same bars and marks, only fewer of them are links.
    assert unlinked(_svg(limited)) == unlinked(_svg(everything))
    document = lxml.html.document_fromstring(limited)
    marks = document.xpath("//svg/g[@class='row-nps-denied']//path")
    assert len(marks) == 24
    linked = document.xpath("//svg/g[@class='row-nps-denied']/a/@href")
    assert 0 < len(linked) < 24
    assert {href[1:] for href in linked} <= set(_articles(limited))
    assert "Marks of incidents this report does not list lead nowhere." in limited
    assert "lead nowhere" not in everything
    _links(limited)
    _links(everything)


def test_zero_lists_every_incident_notice_and_attempt_without_notes() -> None:
    options = ReportOptions(max_incidents=0, max_user_attempts=0)
    page = render_report("html", _case(), options)
    assert len(_articles(page)) == CASE_INCIDENTS
    assert len(_articles(page, "notices")) == 16
    for marker in ("limit-note", "more-incidents", "more-attempts", "Showing", "lead nowhere"):
        assert marker not in without_our_script(page)
    rows = lxml.html.document_fromstring(page).xpath("//section[@id='users']//tbody/tr/td[1]")
    assert len(rows) == CASE_FAILED + 6  # every attempt of the three affected users, linked
    assert all(cell.xpath("./a") for cell in rows)
    _links(page)


def test_a_case_within_the_limits_is_unchanged() -> None:
    analysis = _case()
    within = ReportOptions(max_incidents=CASE_INCIDENTS + 1, max_user_attempts=30)
    unlimited = ReportOptions(max_incidents=0, max_user_attempts=0)
    for name in ("html", "markdown"):
        assert render_report(name, analysis, within) == render_report(name, analysis, unlimited)


# ---------------------------------------------------------------------------- Markdown


def test_markdown_lists_the_same_incidents_and_capped_attempts() -> None:
    analysis = _case()
    text = render_report("markdown", analysis, ReportOptions(max_incidents=8, max_user_attempts=4))
    incidents = text.split("## Incidents (55)\n\n", 1)[1].split("\n\n## ", 1)[0]
    lines = incidents.splitlines()
    assert lines[0] == (
        "Showing 8 of 55 incidents: the earliest of every problem first (taking turns, with "
        "the failures no problem explains as one more), then the other attempts. The CSV "
        "(--csv) and JSON (--json) reports list every incident."
    )
    rows = [line for line in lines if line.startswith("| 2026-")]
    ordered = sorted_incidents(analysis.incidents)
    expected = [ordered[index] for index in incidents_shown(ordered, analysis.problems, 8)]
    assert [row.split(" | ")[1] for row in rows] == [incident.user for incident in expected]
    users = text.split("## Affected users (3)\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert "| and 26 more attempts (" in users
    assert len([line for line in users.splitlines() if line.startswith("| ")]) == (
        2 + 4 + 1 + 4 + 1 + 3  # header, alice and her note, bob and his, carol
    )
    assert "**55** attempts" in text


# ----------------------------------------------------------------------- other formats


@pytest.mark.parametrize("name", ["json", "csv", "terminal"])
def test_other_formats_do_not_depend_on_the_limits(name: str) -> None:
    analysis = _case()
    reports = {
        render_report(name, analysis, ReportOptions(max_incidents=limit, max_user_attempts=limit))
        for limit in (0, 1, 8)
    }
    assert len(reports) == 1


def test_json_and_csv_list_everything() -> None:
    analysis = _case()
    options = ReportOptions(max_incidents=1, max_user_attempts=1)
    document = json.loads(render_report("json", analysis, options))
    assert len(document["incidents"]) == CASE_INCIDENTS and len(document["notices"]) == 16
    assert [len(user["attempts"]) for user in document["users"]] == [30, 10, 3]
    rows = list(csv.reader(io.StringIO(render_report("csv", analysis, options))))
    assert len(rows) == 1 + CASE_INCIDENTS


# ------------------------------------------------------- generated and shipped cases


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def big_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``npsdiag samples mixed --events 4000``: ~1,400 incidents over six problems."""
    folder = tmp_path_factory.mktemp("incidents") / "mixed"
    with pytest.raises(SystemExit) as done:
        main(["samples", "mixed", str(folder), "--events", "4000"])
    assert done.value.code in (0, None)
    return folder


@pytest.fixture(scope="module")
def big_analysis(big_case: Path, catalog: Catalog) -> Analysis:
    analysis = analyze_paths([str(big_case)], catalog=catalog, command_line="npsdiag analyze X")
    assert len(analysis.incidents) > 1000 and len(analysis.problems) >= 4
    return analysis


def _options(
    catalog: Catalog,
    incidents: int = DEFAULT_MAX_INCIDENTS,
    attempts: int = DEFAULT_MAX_USER_ATTEMPTS,
) -> ReportOptions:
    return ReportOptions(
        guidance=guidance_from_entries(catalog.entries),
        max_incidents=incidents,
        max_user_attempts=attempts,
    )


@pytest.mark.parametrize("limit", [DEFAULT_MAX_INCIDENTS, 7, 0])
def test_every_link_resolves_on_a_large_generated_case(
    big_analysis: Analysis, catalog: Catalog, limit: int
) -> None:
    page = render_report("html", big_analysis, _options(catalog, limit))
    targets = _links(page)
    listed = _articles(page)
    assert len(listed) == (len(big_analysis.incidents) if limit == 0 else limit)
    # Links do go to incidents (so the check above means something) ...
    assert any(target.startswith("incident-") for target in targets)
    # ... and to no incident left out.
    assert {t for t in targets if t.startswith("incident-")} <= set(listed)
    if limit:
        # Every problem's earliest incident is among the listed ones.
        ordered = sorted_incidents(big_analysis.incidents)
        keys = {ordered[int(anchor.split("-")[1]) - 1].key for anchor in listed}
        for problem in big_analysis.problems:
            members = set(problem.incident_keys)
            earliest = next((i.key for i in ordered if i.key in members), None)
            assert earliest is None or earliest in keys, problem.entry_id


@pytest.mark.parametrize("sample", sorted(path.name for path in SAMPLES.iterdir() if path.is_dir()))
def test_every_link_resolves_on_the_shipped_samples(catalog: Catalog, sample: str) -> None:
    analysis = analyze_paths([str(SAMPLES / sample)], catalog=catalog, command_line="x")
    for incidents, attempts in ((DEFAULT_MAX_INCIDENTS, DEFAULT_MAX_USER_ATTEMPTS), (2, 1), (0, 0)):
        page = render_report("html", analysis, _options(catalog, incidents, attempts))
        _links(page)
        total = len(analysis.incidents)
        assert len(_articles(page)) == (min(total, incidents) if incidents else total)


def test_page_size_is_bounded_by_the_limits(big_analysis: Analysis, catalog: Catalog) -> None:
    full = render_report("html", big_analysis, _options(catalog, 0, 0))
    default = render_report("html", big_analysis, _options(catalog))
    half = render_report("html", big_analysis, _options(catalog, 100))
    # The incidents listed are most of the page: 200 of ~1,400 is well under a third, and
    # halving the limit takes off close to half of what the incidents take.
    assert len(default) < 0.3 * len(full)
    articles = len(default) - len(half)
    assert articles > 0.3 * len(half)
    # The per-user tables and problem lists no longer grow with the case: what is left
    # once the listed incidents are taken away is small.
    document = lxml.html.document_fromstring(default)
    users = lxml.html.tostring(document.xpath("//section[@id='users']")[0])
    problems = lxml.html.tostring(document.xpath("//section[@id='problems']")[0])
    assert len(users) < 60_000 and len(problems) < 80_000
    markdown = render_report("markdown", big_analysis, _options(catalog))
    markdown_full = render_report("markdown", big_analysis, _options(catalog, 0, 0))
    assert len(markdown) < 0.25 * len(markdown_full)


# ------------------------------------------------------------------------ the commands


def test_analyze_option_limits_html_and_markdown_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, big_case: Path
) -> None:
    html, markdown, data, table = (
        tmp_path / name for name in ("r.html", "r.md", "r.json", "r.csv")
    )
    code, _out, err = run(
        capsys, "analyze", str(big_case), "--html", str(html), "--markdown", str(markdown),
        "--json", str(data), "--csv", str(table), "--incidents", "5", "-q",
    )  # fmt: skip
    assert code in (0, 1), err
    page = html.read_text(encoding="utf-8")
    document = json.loads(data.read_text(encoding="utf-8"))
    total = len(document["incidents"])
    assert total > 1000 and document["summary"]["incidents"] == total
    assert len(_articles(page)) == 5 and len(_articles(page, "notices")) <= 5
    assert f"Showing 5 of {total:,} incidents" in page
    _links(page)
    text = markdown.read_text(encoding="utf-8")
    section = text.split(f"## Incidents ({total})\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert section.startswith(f"Showing 5 of {total:,} incidents")
    assert len([line for line in section.splitlines() if line.startswith("| 20")]) == 5
    rows = list(csv.reader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert len(rows) == 1 + total


def test_analyze_default_is_two_hundred(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, big_case: Path
) -> None:
    html = tmp_path / "report.html"
    code, _out, err = run(capsys, "analyze", str(big_case), "--html", str(html), "-q")
    assert code in (0, 1), err
    assert len(_articles(html.read_text(encoding="utf-8"))) == 200


@pytest.mark.parametrize("command", ["analyze", "batch"])
def test_a_negative_limit_is_refused_on_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    extra = ["-o", str(tmp_path / "review")] if command == "batch" else []
    code, out, err = run(capsys, command, str(SAMPLES / "healthy"), *extra, "--incidents", "-1")
    assert code == 2
    assert "--incidents" in err and out == ""
    assert not (tmp_path / "review").exists()


def test_run_batch_refuses_a_negative_limit(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--incidents must be 0 or more"):
        run_batch([str(SAMPLES / "healthy")], tmp_path / "review", max_incidents=-3)
    assert not (tmp_path / "review").exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_batch_option_reaches_every_case_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, workers: str
) -> None:
    collected = tmp_path / "collected"
    for name in ("mixed", "no-mfa-method"):
        shutil.copytree(SAMPLES / name, collected / name)
    output = tmp_path / "review"
    code, _out, err = run(
        capsys, "batch", str(collected), "-o", str(output), "--workers", workers,
        "--incidents", "3", "--no-progress",
    )  # fmt: skip
    assert code in (0, 1), err
    for case in ("mixed", "no-mfa-method"):
        page = (output / case / "report.html").read_text(encoding="utf-8")
        text = (output / case / "report.md").read_text(encoding="utf-8")
        document = json.loads((output / case / "report.json").read_text(encoding="utf-8"))
        total = len(document["incidents"])
        assert total > 3
        assert len(_articles(page)) == 3
        assert f"Showing 3 of {total:,} incidents" in page and f"Showing 3 of {total:,}" in text
        _links(page)
        # The reports' command line reproduces them, limit included.
        # The command that ran, the limit with it.
        assert " --incidents 3" in document["tool"]["command_line"]


def test_batch_default_keeps_the_command_line_short(tmp_path: Path) -> None:
    collected = tmp_path / "collected"
    shutil.copytree(SAMPLES / "mixed", collected / "mixed")
    result = run_batch([str(collected)], tmp_path / "review", workers=1, write_index=False)
    assert result.read == 1
    document = json.loads((tmp_path / "review" / "mixed" / "report.json").read_text("utf-8"))
    assert "--incidents" not in document["tool"]["command_line"]
    page = (tmp_path / "review" / "mixed" / "report.html").read_text(encoding="utf-8")
    assert len(_articles(page)) == min(200, len(document["incidents"]))


@pytest.mark.parametrize("command", ["analyze", "batch"])
def test_incidents_zero_lists_every_attempt_of_every_user_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, big_case: Path, command: str
) -> None:
    pages = {}
    for limit in ("200", "0"):
        if command == "analyze":
            html = tmp_path / f"report-{limit}.html"
            args = ["analyze", str(big_case), "--html", str(html), "-q"]
        else:
            output = tmp_path / f"review-{limit}"
            html = output / big_case.name / "report.html"
            args = ["batch", str(big_case.parent), "-o", str(output), "--no-progress"]
        code, _out, err = run(capsys, *args, "--incidents", limit, "--evidence", "1")
        assert code in (0, 1), err
        pages[limit] = html.read_text(encoding="utf-8")
    assert "more attempts" in pages["200"]  # some user of the case has more than 10
    assert "more attempts" not in pages["0"]


def test_all_incidents_on_a_page_stop_at_the_page_limit() -> None:
    """``--incidents 0`` on a huge case gives a usable page and says where the rest is."""
    total = PAGE_MAX_INCIDENTS + 250
    incidents = [_incident(f"k{index}", index * 0.01) for index in range(total)]
    analysis = _analysis(incidents, [])
    options = ReportOptions(max_incidents=0, max_user_attempts=0)
    page = render_report("html", analysis, options)
    assert len(_articles(page)) == PAGE_MAX_INCIDENTS
    assert f"Showing {PAGE_MAX_INCIDENTS:,} of {total:,} incidents" in page
    markdown = render_report("markdown", analysis, options)
    assert f"Showing {PAGE_MAX_INCIDENTS:,} of {total:,} incidents" in markdown
    # The data reports hold everything.
    assert len(json.loads(render_report("json", analysis, options))["incidents"]) == total
