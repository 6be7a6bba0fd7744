"""``npsdiag analyze`` and ``explain`` end to end: samples, exit codes, bad input, corpus."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import evtx
import pytest

from npsdiag.analyze import analyze_paths
from npsdiag.errors import NothingToAnalyseError
from npsdiag.extract import user_key
from npsdiag.synth.scenario import load_shipped, shipped_names
from tests.cli_runner import run
from tests.html_checks import without_our_script

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CORPUS = ROOT.parent / "shared" / "corpus"


def _family(entry_id: str) -> str:
    return ".".join(entry_id.split(".")[:2])


@pytest.mark.parametrize("name", shipped_names())
def test_each_sample_gets_the_diagnosis_its_readme_promises(name: str) -> None:
    scenario = load_shipped(name)
    expected = scenario.expected
    analysis = analyze_paths([str(SAMPLES / name)])
    ids = [problem.entry_id for problem in analysis.problems]
    if expected.top_problem is None:
        assert ids == []
        return
    assert ids, f"{name}: no problem found"
    top = analysis.problems[0]
    # A refinement (ext.ests-token-error.aadsts700027) is a match of its family.
    assert top.entry_id == expected.top_problem or _family(top.entry_id) == expected.top_problem
    people = {user.name: user for user in scenario.users}
    shown = {user_key(shown_user) for shown_user in top.users}
    for wanted in expected.users:
        person = people[wanted]
        assert {user_key(person.upn), user_key(person.sam)} & shown, (name, wanted, top.users)
    others = {problem.entry_id for problem in analysis.problems[1:]}
    for other in expected.other_problems:
        assert other in others or other in {_family(o) for o in others}, (name, other, others)


def test_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "analyze", "-q", str(SAMPLES / "healthy"))[0] == 0
    assert run(capsys, "analyze", "-q", str(SAMPLES / "cert-expired"))[0] == 1
    code, _, err = run(capsys, "analyze", str(tmp_path / "nothing-*.evtx"))
    assert code == 2
    assert "nothing-*.evtx" in err
    code, _, err = run(capsys, "analyze", "--bogus-option", str(SAMPLES / "healthy"))
    assert code == 2
    assert "bogus" in err


def test_reports_are_written_and_deterministic(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outputs = {}
    for round_ in ("a", "b"):
        folder = tmp_path / round_
        folder.mkdir()
        code, out, _ = run(
            capsys,
            "analyze",
            str(SAMPLES / "mixed"),
            "--html",
            str(folder / "r.html"),
            "--json",
            str(folder / "r.json"),
            "--markdown",
            str(folder / "r.md"),
            "--csv",
            str(folder / "r.csv"),
        )
        assert code == 1
        assert "Code requested, but no answer came back" in out
        # The command line each report shows is the one that ran, with its own folder.
        outputs[round_] = {
            p.name: p.read_bytes().replace(str(folder).encode(), b"OUT") for p in folder.iterdir()
        }
    assert outputs["a"] == outputs["b"]
    report = json.loads(outputs["a"]["r.json"])
    assert report["schema_version"] == 3
    assert report["problems"][0]["entry_id"] == "ext.challenge-no-answer"
    html = outputs["a"]["r.html"].decode()
    assert "<script" not in without_our_script(html).lower()
    # One self-contained file: nothing is loaded from elsewhere.
    assert not re.search(r"<(?:script|link|img|iframe)[^>]*(?:src|href)=", html, re.I)


def test_json_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "analyze", str(SAMPLES / "cert-expired"), "--json", "-")
    assert code == 1
    assert json.loads(out)["problems"][0]["entry_id"].startswith("ext.ests-token-error")


def test_windows_style_glob_and_backslashes(capsys: pytest.CaptureFixture[str]) -> None:
    pattern = str(SAMPLES / "cert-expired").replace(os.sep, "\\") + "\\*.evtx"
    code, out, _ = run(capsys, "analyze", pattern)
    assert code == 1
    assert "ESTS" in out or "certificate" in out


def test_bad_files_are_listed_and_the_run_goes_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = SAMPLES / "user-not-in-entra"
    (tmp_path / "empty.evtx").write_bytes(b"")
    (tmp_path / "notes.evtx").write_text("not an event log", encoding="utf-8")
    (tmp_path / "random.bin").write_bytes(os.urandom(5000))
    truncated = (
        (good / "NPS02_AuthZOptCh.evtx")
        if (good / "NPS02_AuthZOptCh.evtx").exists()
        else next(good.glob("*AuthZOptCh.evtx"))
    )
    (tmp_path / "truncated.evtx").write_bytes(truncated.read_bytes()[:5000])
    code, _, _ = run(
        capsys, "analyze", str(good), str(tmp_path), "--json", str(tmp_path / "r.json")
    )
    assert code == 1
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    by_name = {Path(s["name"]).name: s for s in report["sources"]}
    for bad in ("empty.evtx", "notes.evtx", "random.bin", "truncated.evtx"):
        assert bad in by_name, bad
        assert by_name[bad]["status"] != "ok", by_name[bad]
        assert by_name[bad]["messages"], by_name[bad]
    assert report["problems"][0]["entry_id"].startswith("ext.user-not-found")


def test_nothing_readable_is_an_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.evtx"
    bad.write_bytes(b"")
    with pytest.raises(NothingToAnalyseError, match=r"x\.evtx"):
        analyze_paths([str(bad)])


def test_explain_a_code_and_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "UserNotFound")
    assert code == 0
    assert "ext.user-not-found" in out
    text = (
        "NPS Extension for Azure MFA: CID: 430ef057-7941-44ff-a0b1-240e7d74cedc : Access Rejected "
        "for user bob@contoso.com with Azure MFA response: UserNotFound and message: MSODS Graph "
        "call returned user not found error."
    )
    code, out, _ = run(capsys, "explain", text, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["found"]["cid"] == "430ef057-7941-44ff-a0b1-240e7d74cedc"
    assert result["found"]["user"] == "bob@contoso.com"
    assert result["matches"][0]["id"].startswith("ext.user-not-found")
    code, out, _ = run(capsys, "explain", "NOT_A_REAL_CODE_AT_ALL")
    assert code == 1
    assert "not in the catalog" in out


def test_help_does_not_import_heavy_modules() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from npsdiag.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('evtx', 'lxml', 'jinja2', 'pandas', 'rich', 'yaml')\n"
        "heavy = [name for name in heavy if name in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "HEAVY:"


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_real_corpus_reads_without_crash_and_invents_nothing() -> None:
    files = sorted(CORPUS.rglob("*.evtx"))
    analysis = analyze_paths([str(CORPUS)])
    assert analysis.problems == []
    assert analysis.incidents == []
    by_name = {Path(s.name).resolve(): s for s in analysis.sources}
    for path in files:
        stats = by_name[path.resolve()]
        if path.stat().st_size == 0:
            assert stats.status == "unreadable"
            continue
        ok = failed = 0
        for _record in _iterate(path):
            if _record is None:
                failed += 1
            else:
                ok += 1
        assert stats.records_read == ok, path
        assert stats.records_failed <= failed, path


def _iterate(path: Path):  # type: ignore[no-untyped-def]
    parser = evtx.PyEvtxParser(str(path))
    records = parser.records_json()
    while True:
        try:
            yield next(records)
        except StopIteration:
            return
        except RuntimeError:
            yield None


def test_the_same_export_read_twice_is_counted_once(tmp_path: Path) -> None:
    import shutil

    once = analyze_paths([str(SAMPLES / "otp-non-pap")])
    for path in (SAMPLES / "otp-non-pap").glob("*.evtx"):
        shutil.copy(path, tmp_path / path.name)
        shutil.copy(path, tmp_path / f"copy-of-{path.name}")
    twice = analyze_paths([str(tmp_path)])
    assert [(i.key, i.outcome, len(i.findings)) for i in twice.incidents] == [
        (i.key, i.outcome, len(i.findings)) for i in once.incidents
    ]
    notes = [m for s in twice.sources for m in s.messages if "are copies of events read from" in m]
    assert notes


def test_bundle_is_one_case_with_its_configuration_faults() -> None:
    (bundle,) = (SAMPLES / "alternate-login-id").glob("*_NpsLogging.zip")
    analysis = analyze_paths([str(bundle)])
    assert analysis.servers and analysis.servers[0].upper().startswith("NPS07")
    ids = [finding["id"] for finding in analysis.config_findings]
    assert "config.ldap-lookup-forests-separator" in ids
    top = analysis.problems[0]
    assert top.entry_id == "ext.alternate-login-id-error.lookup-failed"
    # The registry and the events agree: the problem names the faulty value.
    assert "config.ldap-lookup-forests-separator" in top.because
    assert "proseware.com contoso.com" in top.because
    assert top.confidence == "high"
    kinds = {source.kind for source in analysis.sources}
    assert {"evtx", "wevtutil-text", "regquery"} <= kinds


def test_each_sample_bundle_gets_the_same_top_problem_as_its_folder() -> None:
    for name in shipped_names():
        (bundle,) = (SAMPLES / name).glob("*_NpsLogging.zip")
        from_bundle = analyze_paths([str(bundle)]).problems
        expected = load_shipped(name).expected.top_problem
        if expected is None:
            assert from_bundle == [], name
            continue
        if expected.startswith("sys."):
            continue  # System events are not in the bundle (the script does not collect them)
        assert from_bundle, name
        top = from_bundle[0].entry_id
        assert top == expected or _family(top) == expected, (name, top)


def test_redact_through_the_cli_leaves_no_user_name(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = load_shipped("user-not-in-entra")
    code, out, _ = run(
        capsys, "analyze", str(SAMPLES / "user-not-in-entra"), "--redact", "--json", "-"
    )
    assert code == 1
    json.loads(out)
    lowered = out.lower()
    for user in scenario.users:
        assert user.upn.lower() not in lowered, user.upn
        assert user.sam.lower() not in lowered, user.sam
    assert scenario.dns_domain.lower() not in lowered
    assert scenario.computer.lower() not in lowered


def test_an_event_viewer_xml_export_is_analysed_through_the_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    message = (
        "NPS Extension for Azure MFA: CID: 430ef057-7941-44ff-a0b1-240e7d74cedc : Access Rejected "
        "for user bob@contoso.com with Azure MFA response: UserNotFound and message: MSODS Graph "
        "call returned user not found error."
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<Events>\n'
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Microsoft-AzureMfa-AuthZ"/><EventID>1</EventID><Level>4</Level>'
        '<TimeCreated SystemTime="2026-01-14T09:30:12.000000Z"/><EventRecordID>7</EventRecordID>'
        "<Channel>AuthZOptCh</Channel><Computer>NPS01.contoso.com</Computer></System>"
        f"<EventData><Data>{message}</Data></EventData></Event>\n</Events>\n"
    )
    export = tmp_path / "exported.xml"
    export.write_text(xml, encoding="utf-8")
    code, out, _ = run(capsys, "analyze", str(export), "--json", "-")
    assert code == 1
    report = json.loads(out)
    assert report["problems"][0]["entry_id"].startswith("ext.user-not-found")
    assert report["problems"][0]["users"] == ["bob@contoso.com"]


@pytest.mark.parametrize("name", ["mixed", "primary-auth-failure", "client-timeout"])
def test_the_json_names_the_evidence_event_each_diagnosis_rests_on(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, out, err = run(capsys, "analyze", str(SAMPLES / name), "--json", "-", "-q")
    assert code == 1, err
    diagnosed = 0
    document = json.loads(out)
    for incident in document["incidents"] + document["notices"]:
        diagnosis = incident["diagnosis"]
        if diagnosis is None:
            continue
        diagnosed += 1
        event = document["events"][incident["evidence"][diagnosis["key_evidence"]]["event"]]
        # ``because`` ends with where the deciding event was read: "(<origin> event <id>)".
        assert diagnosis["because"].endswith(f"({event['origin']} event {event['event_id']})")
    assert diagnosed >= 2
