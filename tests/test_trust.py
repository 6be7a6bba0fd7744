"""Answers you can trust on real-world exports.

Wrong or partial exports must not read as "healthy", a conclusion drawn without the log
that holds the cause must say so, the most specific evidence decides a diagnosis, every
count means the same thing in every format, and inventory is not failure.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import lxml.html
import pytest

from npsdiag.analyze import analyze_paths
from npsdiag.catalog import load_catalog
from npsdiag.diagnose import diagnose
from npsdiag.report import REPORTS, ReportOptions, guidance_from_entries, render_report
from npsdiag.synth.scenario import shipped_names
from tests.cli_runner import run
from tests.test_diagnose import CID_A, _challenge, _rejected, _security

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CORPUS = ROOT.parent / "shared" / "corpus"
CORPUS_LOGS = CORPUS / "omerbenamram+evtx" / "samples"


def _words(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- wrong logs


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
@pytest.mark.parametrize(
    "name", ["sysmon.evtx", "system.evtx", "Application_no_crc32.evtx", "security.evtx"]
)
def test_real_logs_without_nps_events_cannot_tell(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    report = tmp_path / "r.json"
    code, out, _err = run(capsys, "analyze", str(CORPUS_LOGS / name), "--json", str(report))
    assert code == 3
    text = _words(out)
    assert "Cannot tell: the inputs hold no NPS or NPS extension event at all." in text
    assert "No problems found" not in text
    assert "wevtutil epl AuthZOptCh" in text and "wevtutil epl AuthZAdminCh" in text
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["verdict"] == "no-evidence"
    statuses = {log["role"]: log["status"] for log in document["coverage"]["logs"]}
    assert statuses["extension"] == "missing" and statuses["extension-admin"] == "missing"


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_a_log_of_another_channel_is_named_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "analyze", str(CORPUS_LOGS / "sysmon.evtx"))
    assert code == 3
    assert "Microsoft-Windows-Sysmon/Operational log: holds no NPS or extension event" in _words(
        out
    )


def test_an_empty_authnoptch_export_cannot_tell(capsys: pytest.CaptureFixture[str]) -> None:
    (empty,) = (SAMPLES / "healthy").glob("*_AuthNOptCh.evtx")
    code, out, _err = run(capsys, "analyze", str(empty))
    assert code == 3
    text = _words(out)
    assert "an empty AuthNOptCh export: this channel is usually empty" in text
    assert "Cannot tell" in text


def test_an_evtx_cut_inside_its_first_chunk_is_never_nothing_wrong(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (source,) = (SAMPLES / "cert-expired").glob("*_AuthZAdminCh.evtx")
    data = source.read_bytes()
    for cut in (4_097, 5_000, 20_000, 60_000):
        target = tmp_path / f"cut-{cut}.evtx"
        target.write_bytes(data[:cut])
        report = tmp_path / f"cut-{cut}.json"
        code, out, err = run(capsys, "analyze", str(target), "--json", str(report))
        if code == 2:  # nothing at all could be read: a usage-level error naming the file
            assert target.name in err
            continue
        assert code == 3, (cut, out)
        document = json.loads(report.read_text(encoding="utf-8"))
        assert document["verdict"] == "no-evidence"
        assert document["summary"]["sources_not_fully_read"] == 1
        assert "Not read in full (1)" in out


def test_healthy_logs_still_say_no_problems(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "analyze", str(SAMPLES / "healthy"))
    assert code == 0
    assert "No problems found." in out and "Cannot tell" not in out


# --------------------------------------------------------------------------- missing sources


def test_security_only_points_to_the_extension_logs_never_a_timeout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    code, out, _err = run(
        capsys, "analyze", str(SAMPLES / "cert-expired" / "Security.evtx"), "--json", str(report)
    )
    assert code == 1
    document = json.loads(report.read_text(encoding="utf-8"))
    ids = [problem["entry_id"] for problem in document["problems"]]
    assert "nps.client-timeout" not in ids
    top = document["problems"][0]
    assert top["entry_id"] in ("nps.reason-9", "nps.reason-21")
    assert top["confidence"] != "high"
    assert {log["role"] for log in top["missing_logs"]} == {"extension", "extension-admin"}
    assert "wevtutil epl AuthZAdminCh" in _words(out)


def test_without_the_admin_channel_a_challenge_conclusion_is_weaker(tmp_path: Path) -> None:
    for path in (SAMPLES / "otp-non-pap").glob("*.evtx"):
        if "AuthZAdminCh" not in path.name:
            shutil.copy(path, tmp_path / path.name)
    full = analyze_paths([str(SAMPLES / "otp-non-pap")])
    partial = analyze_paths([str(tmp_path)])
    assert full.problems[0].entry_id == partial.problems[0].entry_id == "ext.challenge-no-answer"
    assert full.problems[0].missing == []
    assert partial.problems[0].missing == ["extension-admin"]
    assert partial.problems[0].confidence == "medium"
    assert "concluded without AuthZAdminCh" in partial.problems[0].because


# --------------------------------------------------------------------------- most specific wins


@pytest.mark.parametrize("response", ["OathCodeIncorrect", "AuthenticationThrottled"])
def test_the_extensions_own_answer_beats_nps_pointer(response: str) -> None:
    catalog = load_catalog()
    user = "ada@contoso.com"
    findings = [
        _challenge(0, CID_A, user),
        _rejected(20, CID_A, user, code=response),
        _security(20.01, 6273, user, "CONTOSO\\ada", reason=21),
    ]
    result = diagnose(findings, catalog)
    (attempt,) = result.incidents
    assert attempt.diagnosis is not None
    assert attempt.diagnosis.entry_id != "nps.reason-21"
    assert attempt.diagnosis.entry_id == catalog.match(findings[1])[0].entry.id
    assert attempt.failed  # the user did not get in, even if nothing needs fixing


# --------------------------------------------------------------------------- inventory


@pytest.mark.parametrize("name", shipped_names())
def test_inventory_is_not_failure(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    analysis = analyze_paths([str(SAMPLES / name)])
    assert not [source.name for source in analysis.sources if source.lost]
    assert any(source.inventory for source in analysis.sources)  # the bundle container
    html = REPORTS["html"].render(analysis, ReportOptions())
    document = lxml.html.document_fromstring(html)
    (files_card,) = [
        card for card in document.xpath("//li[contains(@class, 'card')]")
        if "read completely" in card.text_content()
    ]  # fmt: skip
    assert "alert" not in files_card.get("class", "")
    terminal = REPORTS["terminal"].render(analysis, ReportOptions())
    assert "Not read in full (0)" in terminal


# ---------------------------------------------------------------- one count, every format


def _counts_from_terminal(text: str) -> dict[str, int]:
    flat = _words(text)
    head = re.search(
        r"(No|\d+) problems?[^.]* found\. (\d+) attempts?.*?, (\d+) users? "
        r"\((\d+) with a failed attempt\)",
        flat,
    )
    assert head, flat[:300]
    counts = {
        "problems": 0 if head.group(1) == "No" else int(head.group(1)),
        "attempts": int(head.group(2)),
        "users": int(head.group(3)),
        "affected": int(head.group(4)),
    }
    section = re.search(r"Affected users \((\d+)\)", flat)
    if section:
        counts["affected_section"] = int(section.group(1))
    return counts


def _counts_from_markdown(text: str) -> dict[str, int]:
    flat = _words(text)
    head = re.search(
        r"\*\*(\d+)\*\* problems, \*\*(\d+)\*\* attempts.*?\*\*(\d+)\*\* users \((\d+) with",
        flat,
    )
    assert head, flat[:400]
    section = re.search(r"## Affected users \((\d+)\)", flat)
    assert section
    return {
        "problems": int(head.group(1)),
        "attempts": int(head.group(2)),
        "users": int(head.group(3)),
        "affected": int(head.group(4)),
        "affected_section": int(section.group(1)),
    }


def _counts_from_html(text: str) -> dict[str, int]:
    document = lxml.html.document_fromstring(text)
    cards = [_words(card.text_content()) for card in document.xpath("//ul[@class='cards']/li")]
    problems = int(next(c for c in cards if "problem" in c).split()[0])
    failed_card = next(c for c in cards if "failed of" in c)
    failed, attempts = re.match(r"(\d+) failed of (\d+) attempt", failed_card).groups()  # type: ignore[union-attr]
    users_card = next(c for c in cards if "with a failed attempt" in c)
    affected, users = re.match(r"(\d+) of (\d+) user", users_card).groups()  # type: ignore[union-attr]
    section = _words(document.xpath("//h2[@id='users-title']")[0].text_content())
    return {
        "problems": problems,
        "attempts": int(attempts),
        "failed": int(failed),
        "users": int(users),
        "affected": int(affected),
        "affected_section": int(re.search(r"\((\d+)\)", section).group(1)),  # type: ignore[union-attr]
    }


@pytest.mark.parametrize("name", shipped_names())
def test_every_format_counts_alike(name: str) -> None:
    catalog = load_catalog()
    analysis = analyze_paths([str(SAMPLES / name)], catalog=catalog)
    options = ReportOptions(guidance=guidance_from_entries(catalog.entries))
    document = json.loads(render_report("json", analysis, options))
    summary = document["summary"]
    expected = {
        "problems": summary["problems"],
        "attempts": summary["incidents"],
        "failed": summary["failed_incidents"],
        "users": summary["users"],
        "affected": summary["affected_users"],
        "affected_section": len(document["users"]),
    }
    assert expected["affected"] == expected["affected_section"]
    failed_outcomes = {"rejected", "error", "no-answer", "timed-out", "discarded", "unknown"}
    assert expected["failed"] == sum(
        count for outcome, count in summary["outcomes"].items() if outcome in failed_outcomes
    )
    # Every user a problem names failed, and is named as in the affected users.
    affected_names = {user["name"] for user in document["users"]}
    for problem in document["problems"]:
        assert set(problem["users"]) <= affected_names, (problem["entry_id"], problem["users"])

    terminal = _counts_from_terminal(render_report("terminal", analysis, options))
    markdown = _counts_from_markdown(render_report("markdown", analysis, options))
    html = _counts_from_html(render_report("html", analysis, options))
    for rendered in (terminal, markdown, html):
        for key, value in rendered.items():
            assert value == expected[key], (name, key, rendered, expected)
    rows = list(csv.DictReader(io.StringIO(render_report("csv", analysis, options))))
    assert len(rows) == expected["attempts"]
    assert sum(row["outcome"] in failed_outcomes for row in rows) == expected["failed"]


def test_the_batch_index_counts_like_the_case_reports(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cases = tmp_path / "cases"
    for name in ("client-timeout", "mixed", "cert-expired", "local-time-dump"):
        shutil.copytree(SAMPLES / name, cases / name)
    out = tmp_path / "review"
    code, _out, err = run(capsys, "batch", str(cases), "-o", str(out), "--workers", "1")
    assert code == 1, err
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    for case in index["cases"]:
        report = json.loads((out / case["reports"]["json"]).read_text(encoding="utf-8"))
        summary = report["summary"]
        assert case["affected_users"] == summary["affected_users"] == len(report["users"])
        assert case["incidents"] == summary["incidents"]
        assert case["failed_incidents"] == summary["failed_incidents"]
        assert case["verdict"] == report["verdict"]


# --------------------------------------------------------------------------- failures a user sees


def test_granted_after_the_client_gave_up_is_a_failure() -> None:
    analysis = analyze_paths([str(SAMPLES / "client-timeout")])
    late = [incident for incident in analysis.incidents if incident.outcome == "timed-out"]
    assert len(late) == 7  # the scenario's "final: failure" attempts
    assert all(incident.failed for incident in late)
    (problem,) = analysis.problems
    assert problem.entry_id == "nps.client-timeout"
    assert sorted(problem.incident_keys) == sorted(incident.key for incident in late)
    people = {incident.person for incident in late}
    assert sorted(problem.users, key=str.lower) == sorted(people, key=lambda p: (p or "").lower())
    assert len(problem.users) == 3


def test_a_problem_names_only_users_who_failed() -> None:
    analysis = analyze_paths([str(SAMPLES / "mixed")])
    (timeout,) = [p for p in analysis.problems if p.entry_id == "nps.client-timeout"]
    # Every RD Gateway attempt with resends still succeeded: a warning naming nobody.
    assert timeout.users == [] and timeout.severity == "low"
    assert "no sign-in failed yet" in timeout.because
