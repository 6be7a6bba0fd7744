"""The evidence limit (``--evidence N``): HTML lists at most N events per incident.

What must hold: the event the diagnosis rests on is always listed, the rest are the
earliest, order is kept, the page says what it left out, counts and everything derived
from the evidence (origins, timeline, NPS decisions) use every event, and the JSON
report stays complete. The option reaches ``analyze`` and ``batch`` (worker processes
included).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npsdiag.batch import run_batch
from npsdiag.cli import main
from npsdiag.commands.analyze import DEFAULT_EVIDENCE
from npsdiag.errors import UsageError
from npsdiag.model import (
    Analysis,
    Diagnosis,
    Event,
    Finding,
    FindingKind,
    Incident,
    SourceKind,
    SourceStats,
)
from npsdiag.report import DEFAULT_MAX_EVIDENCE, ReportOptions, render_report
from npsdiag.report._view import PAGE_MAX_EVIDENCE, evidence_shown
from tests.cli_runner import run
from tests.html_checks import OUR_SCRIPT, without_our_script

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
T0 = datetime(2026, 1, 14, 9, 0, tzinfo=timezone.utc)
MAIN_LOG = r"C:\export\AuthZOptCh.evtx"
OTHER_LOG = r"C:\export\bundle.zip!NPS\Security.evtx"
#: The big incident: 40 events; the 6273 denial is number 21, the diagnosis rests on 34.
TOTAL = 40
DENIAL = 20
KEY = 33


# ----------------------------------------------------------------------------- helpers


def _event(index: int, *, event_id: int = 1, origin: str = MAIN_LOG, text: str = "") -> Event:
    return Event(
        time=T0 + timedelta(seconds=index),
        channel="AuthZOptCh",
        provider="Microsoft-AzureMfa-AuthZ",
        event_id=event_id,
        level=4,
        computer="NPS01",
        record_id=1000 + index,
        fields={},
        data=(),
        message=text or f"event number {index + 1} of the big incident",
        origin=origin,
    )


def _big_incident(key: int | None = KEY, total: int = TOTAL) -> Incident:
    findings = [
        Finding(event=_event(index), kind=FindingKind.CHALLENGE, user="alice@contoso.com")
        for index in range(total)
    ]
    if total > DENIAL:
        # Only in a left-out event: NPS's denial and the second origin.
        findings[DENIAL] = Finding(
            event=_event(DENIAL, event_id=6273, origin=OTHER_LOG, text="NPS denied access"),
            kind=FindingKind.NPS_DENIED,
            user="alice@contoso.com",
            user_key="alice",
            reason_code=16,
        )
    diagnosis = None
    if key is not None:
        findings[key] = Finding(
            event=_event(key, text="THE KEY EVENT: Access Rejected"),
            kind=FindingKind.REJECTED,
            user="alice@contoso.com",
            codes=("UserNotFound",),
        )
        diagnosis = Diagnosis(
            entry_id="ext.response.user-not-found",
            title="User not found in Entra ID",
            category="ext",
            severity="high",
            confidence="high",
            because="the extension said UserNotFound",
            key_evidence=key,
        )
    return Incident(
        key="big",
        user="alice@contoso.com",
        start=T0,
        end=T0 + timedelta(seconds=max(total - 1, 0)),
        outcome="rejected",
        findings=findings,
        diagnosis=diagnosis,
        codes=("UserNotFound",),
    )


def _analysis(incident: Incident, notices: list[Incident] | None = None) -> Analysis:
    return Analysis(
        problems=[],
        incidents=[incident],
        notices=notices or [],
        sources=[SourceStats(name=MAIN_LOG, kind=SourceKind.EVTX, records_read=TOTAL)],
        unknown_codes=[],
        version="0.1.0",
        command_line="npsdiag analyze C:\\export",
    )


def _evidence_items(page: str, anchor: str = "incident-1") -> list[Any]:
    document = lxml.html.document_fromstring(page)
    return list(document.xpath(f"//article[@id='{anchor}']//ol[@class='evidence']/li"))


def _texts(items: list[Any]) -> list[str]:
    return [item.xpath("./pre")[0].text_content().strip() for item in items]


def _times(items: list[Any]) -> list[str]:
    return [item.xpath(".//time")[0].get("datetime") for item in items]


def _summary(page: str, anchor: str = "incident-1") -> str:
    document = lxml.html.document_fromstring(page)
    return str(document.xpath(f"//article[@id='{anchor}']//summary")[0].text_content())


# ------------------------------------------------------------------------- the choice


def test_the_default_is_ten_everywhere() -> None:
    assert DEFAULT_MAX_EVIDENCE == DEFAULT_EVIDENCE == ReportOptions().max_evidence == 10


def test_evidence_shown_keeps_all_when_within_the_limit_or_unlimited() -> None:
    incident = _big_incident()
    assert evidence_shown(incident, 0) == list(range(TOTAL))
    assert evidence_shown(incident, TOTAL) == list(range(TOTAL))
    assert evidence_shown(incident, TOTAL + 5) == list(range(TOTAL))


def test_evidence_shown_puts_a_late_key_event_in_place_of_the_last_early_one() -> None:
    assert evidence_shown(_big_incident(), 10) == [*range(9), KEY]
    assert evidence_shown(_big_incident(), 1) == [KEY]


def test_evidence_shown_takes_the_earliest_when_the_key_is_among_them() -> None:
    assert evidence_shown(_big_incident(key=3), 10) == list(range(10))
    assert evidence_shown(_big_incident(key=None), 10) == list(range(10))


def test_evidence_shown_ignores_a_key_that_points_nowhere() -> None:
    incident = _big_incident()
    assert incident.diagnosis is not None
    for wrong in (TOTAL, TOTAL + 7, -1):
        incident.diagnosis.key_evidence = wrong
        assert evidence_shown(incident, 5) == list(range(5))


@given(
    total=st.integers(0, 60),
    limit=st.integers(0, 70),
    key=st.one_of(st.none(), st.integers(-3, 65)),
)
def test_evidence_shown_properties(total: int, limit: int, key: int | None) -> None:
    incident = _big_incident(key=None, total=total)
    if key is not None:
        incident.diagnosis = Diagnosis("e", "t", "c", "high", "high", "b", key_evidence=key)
    chosen = evidence_shown(incident, limit)
    count = total if limit == 0 else min(total, limit)
    if key is not None and count <= key < total:
        # The key event comes after the earliest ones: it takes the last place.
        assert chosen == [*range(count - 1), key]
    else:
        # No key, a key among the earliest, or one pointing nowhere: the earliest.
        assert chosen == list(range(count))


def test_a_negative_limit_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="0 or more"):
        ReportOptions(max_evidence=-1)


# ------------------------------------------------------------------------------- HTML


def test_html_lists_n_events_with_the_late_key_event_in_order() -> None:
    page = render_report("html", _analysis(_big_incident()), ReportOptions(max_evidence=10))
    items = _evidence_items(page)
    assert len(items) == 10
    texts = _texts(items)
    assert texts[:9] == [f"event number {index + 1} of the big incident" for index in range(9)]
    assert texts[9] == "THE KEY EVENT: Access Rejected"
    times = _times(items)
    assert times == sorted(times)
    # Numbered by their place in the whole evidence, so number 34 reads as number 34.
    assert [item.get("value") for item in items] == [None] * 9 + [str(KEY + 1)]
    document = lxml.html.document_fromstring(page)
    note = document.xpath("//article[@id='incident-1']//p[contains(@class, 'evidence-note')]")
    assert [element.text_content() for element in note] == [
        f"Showing 10 of {TOTAL} evidence events (the first 9 and number {KEY + 1}, the one "
        "the diagnosis rests on); the JSON report (--json) holds all of them."
    ]


def test_html_says_first_n_when_the_key_event_is_early() -> None:
    page = render_report("html", _analysis(_big_incident(key=2)), ReportOptions(max_evidence=4))
    items = _evidence_items(page)
    assert len(items) == 4
    assert _texts(items)[2] == "THE KEY EVENT: Access Rejected"
    assert f"Showing the first 4 of {TOTAL} evidence events; the JSON report" in page
    assert "value=" not in page.split('id="incident-1"')[1]


def test_html_counts_and_origins_stay_the_true_totals() -> None:
    page = render_report("html", _analysis(_big_incident()), ReportOptions(max_evidence=3))
    # The second file only holds a left-out event, and is named all the same.
    assert _summary(page) == f"Evidence: {TOTAL} events from {MAIN_LOG}, {OTHER_LOG}"
    assert OTHER_LOG not in " ".join(_texts(_evidence_items(page)))


def test_html_timeline_and_nps_decision_use_every_event() -> None:
    analysis = _analysis(_big_incident())
    limited = render_report("html", analysis, ReportOptions(max_evidence=3))
    everything = render_report("html", analysis, ReportOptions(max_evidence=0))
    assert "NPS denied access" not in limited  # the denial's event is not listed ...
    document = lxml.html.document_fromstring(limited)
    marks = document.xpath("//svg/g[@class='row-nps-denied']//path/title")
    # ... yet its mark is on the timeline and it is the attempt's NPS decision.
    assert [mark.text_content() for mark in marks] == [
        "NPS 6273 denied at 2026-01-14T09:00:20.000000Z: alice@contoso.com, reason 16"
    ]
    users = document.xpath("//section[@id='users']")[0].text_content()
    assert "6273 denied, reason 16" in users

    def svg(page: str) -> str:
        return page[page.index("<svg") : page.index("</svg>")]

    assert svg(limited) == svg(everything)


def test_zero_shows_every_event_and_no_note() -> None:
    page = render_report("html", _analysis(_big_incident()), ReportOptions(max_evidence=0))
    items = _evidence_items(page)
    assert len(items) == TOTAL
    assert _texts(items)[KEY] == "THE KEY EVENT: Access Rejected"
    assert "NPS denied access" in page
    page = without_our_script(page)
    assert "evidence-note" not in page and "Showing" not in page


def test_an_incident_within_the_limit_is_unchanged() -> None:
    analysis = _analysis(_big_incident(key=5, total=10))
    limited = render_report("html", analysis, ReportOptions(max_evidence=10))
    assert limited == render_report("html", analysis, ReportOptions(max_evidence=0))
    assert len(_evidence_items(limited)) == 10


def test_page_size_no_longer_grows_with_one_incidents_evidence() -> None:
    options = ReportOptions(max_evidence=10)
    small = render_report("html", _analysis(_big_incident(total=TOTAL)), options)
    huge = render_report("html", _analysis(_big_incident(total=4000)), options)
    everything = render_report(
        "html", _analysis(_big_incident(total=4000)), ReportOptions(max_evidence=0)
    )
    # Same ten events listed; only the counts and the key event's number differ.
    assert len(huge) - len(small) < 100
    # The page's own stylesheet and script are the same ~12 KB on every page.
    style = lxml.html.document_fromstring(small).xpath("//style/text()")
    frame = len(OUR_SCRIPT) + sum(len(text) for text in style)
    assert len(huge) - frame < 0.1 * (len(everything) - frame)


def test_all_evidence_on_a_page_stops_at_the_page_limit() -> None:
    """``--evidence 0`` asks for all; a page still holds no more than a browser can use."""
    everything = render_report(
        "html",
        _analysis(_big_incident(total=PAGE_MAX_EVIDENCE + 300)),
        ReportOptions(max_evidence=0),
    )
    assert len(_evidence_items(everything)) == PAGE_MAX_EVIDENCE
    assert f"of {PAGE_MAX_EVIDENCE + 300} evidence events" in everything
    assert "the JSON report (--json) holds all of them" in everything


def test_notices_are_limited_too() -> None:
    notice = _big_incident(key=None)
    notice.key, notice.outcome = "notice", "notice"
    page = render_report(
        "html", _analysis(_big_incident(), [notice]), ReportOptions(max_evidence=2)
    )
    assert len(_evidence_items(page, "notice-1")) == 2
    assert f"Showing the first 2 of {TOTAL} evidence events" in page


# --------------------------------------------------------------------- other formats


@pytest.mark.parametrize("name", ["json", "csv", "markdown", "terminal"])
def test_other_formats_do_not_depend_on_the_limit(name: str) -> None:
    analysis = _analysis(_big_incident())
    reports = {
        render_report(name, analysis, ReportOptions(max_evidence=limit)) for limit in (0, 1, 10)
    }
    assert len(reports) == 1


def test_json_holds_every_event_whatever_the_limit() -> None:
    analysis = _analysis(_big_incident())
    document = json.loads(render_report("json", analysis, ReportOptions(max_evidence=1)))
    evidence = document["incidents"][0]["evidence"]
    assert len(evidence) == TOTAL
    events = [document["events"][item["event"]] for item in evidence]
    assert [event["record_id"] for event in events] == [1000 + i for i in range(TOTAL)]
    assert document["incidents"][0]["origins"] == [MAIN_LOG, OTHER_LOG]


def test_csv_counts_every_event() -> None:
    text = render_report("csv", _analysis(_big_incident()), ReportOptions(max_evidence=1))
    header, row = text.splitlines()[:2]
    column = header.split(",").index("evidence_count")
    assert row.split(",")[column] == str(TOTAL)


# ------------------------------------------------------------------------ the commands


@pytest.fixture(scope="module")
def big_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated case whose evidence is mostly in large incidents (up to ~500 events).

    ``npsdiag samples no-mfa-method --events 1000``: users retrying again and again, the
    shape of case that made reports too big to attach.
    """
    folder = tmp_path_factory.mktemp("evidence") / "no-mfa-method"
    with pytest.raises(SystemExit) as done:
        main(["samples", "no-mfa-method", str(folder), "--events", "1000"])
    assert done.value.code in (0, None)
    return folder


def _listed_per_incident(page: str) -> list[int]:
    document = lxml.html.document_fromstring(page)
    return [
        len(article.xpath(".//ol[@class='evidence']/li"))
        for article in document.xpath("//article[contains(@class, 'incident')]")
    ]


def test_analyze_option_limits_html_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, big_case: Path
) -> None:
    pages: dict[int, str] = {}
    for limit in (3, 0):
        html, data = tmp_path / f"{limit}.html", tmp_path / f"{limit}.json"
        code, _out, err = run(
            capsys, "analyze", str(big_case), "--html", str(html), "--json", str(data),
            "--evidence", str(limit), "--incidents", "0", "-q",
        )  # fmt: skip
        assert code in (0, 1), err
        pages[limit] = html.read_text(encoding="utf-8")
        document = json.loads(data.read_text(encoding="utf-8"))
        totals = [len(item["evidence"]) for item in (*document["incidents"], *document["notices"])]
        assert max(totals) > 3  # the case does have incidents over the limit
        expected = totals if limit == 0 else [min(total, limit) for total in totals]
        assert _listed_per_incident(pages[limit]) == expected
        assert pages[limit].count("evidence-note") == sum(
            1 for total in totals if total > limit and limit
        )
    # The size check: every left-out event takes its whole block out of the page (this
    # case's blocks are ~800 bytes), and here that is over a quarter of the page.
    left_out = sum(totals) - sum(min(total, 3) for total in totals)
    assert left_out > 500
    assert len(pages[0]) - len(pages[3]) > 500 * left_out
    assert len(pages[3]) < 0.8 * len(pages[0])
    assert f"Showing the first 3 of {max(totals)} evidence events" in pages[3]


def test_analyze_default_is_ten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, big_case: Path
) -> None:
    html = tmp_path / "report.html"
    code, _out, err = run(capsys, "analyze", str(big_case), "--html", str(html), "-q")
    assert code in (0, 1), err
    listed = _listed_per_incident(html.read_text(encoding="utf-8"))
    assert max(listed) == 10


@pytest.mark.parametrize("command", ["analyze", "batch"])
def test_a_negative_limit_is_refused_on_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, big_case: Path, command: str
) -> None:
    extra = ["-o", str(tmp_path / "review")] if command == "batch" else []
    code, out, err = run(capsys, command, str(big_case), *extra, "--evidence", "-1")
    assert code == 2
    assert "--evidence" in err and out == ""
    assert not (tmp_path / "review").exists()


def test_run_batch_refuses_a_negative_limit(tmp_path: Path, big_case: Path) -> None:
    with pytest.raises(UsageError, match="--evidence must be 0 or more"):
        run_batch([str(big_case)], tmp_path / "review", max_evidence=-2)
    assert not (tmp_path / "review").exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_batch_option_reaches_every_case_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, workers: str
) -> None:
    collected = tmp_path / "collected"
    for name in ("no-mfa-method", "healthy"):
        shutil.copytree(SAMPLES / name, collected / name)
    output = tmp_path / "review"
    code, _out, err = run(
        capsys, "batch", str(collected), "-o", str(output), "--workers", workers,
        "--evidence", "2", "--no-progress",
    )  # fmt: skip
    assert code in (0, 1), err
    for case in ("no-mfa-method", "healthy"):
        page = (output / case / "report.html").read_text(encoding="utf-8")
        document = json.loads((output / case / "report.json").read_text(encoding="utf-8"))
        totals = [len(item["evidence"]) for item in (*document["incidents"], *document["notices"])]
        assert max(totals) > 2
        assert _listed_per_incident(page) == [min(total, 2) for total in totals]
        # The reports' command line reproduces them, limit included.
        # The command that ran, the limit with it.
        assert " --evidence 2" in document["tool"]["command_line"]


def test_batch_default_keeps_the_command_line_short(tmp_path: Path) -> None:
    collected = tmp_path / "collected"
    shutil.copytree(SAMPLES / "healthy", collected / "healthy")
    result = run_batch([str(collected)], tmp_path / "review", workers=1, write_index=False)
    assert result.read == 1
    document = json.loads((tmp_path / "review" / "healthy" / "report.json").read_text("utf-8"))
    assert "--evidence" not in document["tool"]["command_line"]
    page = (tmp_path / "review" / "healthy" / "report.html").read_text(encoding="utf-8")
    assert max(_listed_per_incident(page)) == 10
