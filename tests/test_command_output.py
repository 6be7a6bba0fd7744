"""What ``npsdiag analyze`` does around the analysis: report paths, writing, progress."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from npsdiag._progress import AnalyzeProgress
from npsdiag.model import SourceKind, SourceStats
from tests.cli_runner import run

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "cert-expired"


@pytest.mark.parametrize("option", ["--html", "--json", "--jsonl", "--markdown", "--csv"])
def test_a_report_path_is_checked_before_any_input_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str
) -> None:
    target = tmp_path / "missing-folder" / "report.out"
    # The input does not exist either: only a check made first can name the report folder.
    code, _out, err = run(capsys, "analyze", str(tmp_path / "no-such-input"), option, str(target))
    assert code == 2
    assert f"{option} {target}: the folder {target.parent} does not exist" in err
    code, _out, err = run(capsys, "analyze", str(SAMPLE), option, str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_an_unwritable_folder_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root every folder is writable; the check asks the operating system, so ask it to say no.
    import npsdiag.report._output as output

    monkeypatch.setattr(output.os, "access", lambda *_args: False)
    code, _out, err = run(capsys, "analyze", str(SAMPLE), "--html", str(tmp_path / "r.html"))
    assert code == 2 and "is not writable" in err


def test_reports_replace_old_ones_whole(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("an older, longer report " * 1000, encoding="utf-8")
    code, _out, _err = run(capsys, "analyze", str(SAMPLE), "--json", str(target), "-q")
    assert code == 1
    assert json.loads(target.read_text(encoding="utf-8"))["schema_version"] == 3
    assert [path.name for path in tmp_path.iterdir()] == ["r.json"]  # no temporary left


def test_jsonl_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "analyze", str(SAMPLE), "--jsonl", "-")
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["type"] == "report" and lines[0]["verdict"] == "problems"
    kinds = {line["type"] for line in lines}
    assert {"problem", "incident", "user", "source"} <= kinds
    incident = next(line for line in lines if line["type"] == "incident")
    assert incident["evidence"][0]["event"]["channel"]  # events inline


def test_no_progress_when_standard_error_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _out, err = run(capsys, "analyze", str(SAMPLE), "--json", "-")
    assert code == 1 and err == ""


def test_the_progress_display_follows_files_and_phases() -> None:
    screen = io.StringIO()
    with AnalyzeProgress(stream=screen, delay=0.0) as display:
        data = io.BytesIO(b"x" * 1000)
        display.begin(r"C:\NPS\Security.evtx", 1000, 1, 2, 3000)
        display.follow(data)  # type: ignore[arg-type]
        data.seek(500)
        stats = SourceStats(name="Security.evtx", kind=SourceKind.EVTX, records_read=1234)
        display.end(stats)
        display.phase("diagnosing 1,234 events")
        import time

        time.sleep(0.5)  # the display refreshes in the background
    shown = screen.getvalue()
    assert "reading Security.evtx" in shown or "diagnosing 1,234 events" in shown
    assert "file 1 of 2" in shown and "1,234 records" in shown
