"""Links inside a folder being analysed are never followed out of it, and a redacted report
never quotes the content of a file that is not a log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from npsdiag.sources import discover
from tests.cli_runner import run

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SECRET = "root:*:19000:0:99999:7:::"


@pytest.fixture
def case(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow").write_text(SECRET + "\n")
    (outside / "private").mkdir()
    shutil.copy(SAMPLES / "mixed" / "Security.evtx", outside / "private" / "Security.evtx")
    folder = tmp_path / "case"
    shutil.copytree(SAMPLES / "healthy", folder)
    (folder / "notes.txt").symlink_to(outside / "shadow")
    (folder / "more").symlink_to(outside / "private", target_is_directory=True)
    (folder / "again.evtx").symlink_to(folder / "Security.evtx")  # inside: same file, read once
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    return folder


def test_links_out_of_the_folder_are_accounted_not_followed(case: Path) -> None:
    found = discover([str(case)])
    names = {Path(source.name).name for source in found.sources}
    assert "notes.txt" not in names and "Security.evtx" in names
    assert not any("private" in source.name for source in found.sources)
    notes = {Path(stats.name).name: stats for stats in found.skipped}
    assert "a link to a file outside the folder; not followed" in notes["notes.txt"].messages[0]
    assert "a link to a folder outside the folder" in notes["more"].messages[0]
    assert "a link to a folder inside the folder" in notes["loop"].messages[0]
    assert all(SECRET not in message for stats in found.skipped for message in stats.messages)


@pytest.mark.parametrize("redact", [False, True])
def test_through_the_command_line(
    capsys: pytest.CaptureFixture[str], case: Path, tmp_path: Path, redact: bool
) -> None:
    report = tmp_path / "r.json"
    arguments = ["analyze", str(case), "--json", str(report), "-q"]
    code, _, err = run(capsys, *arguments, *(["--redact"] if redact else []))
    assert code in (0, 1), err
    text = report.read_text(encoding="utf-8")
    assert SECRET not in text and "root:" not in text
    sources = {Path(item["name"]).name: item for item in json.loads(text)["sources"]}
    assert sources["notes.txt"]["status"] == "skipped"
    assert "not followed" in sources["notes.txt"]["messages"][0]


def test_a_redacted_report_hides_what_an_unrecognised_file_starts_with(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "case"
    shutil.copytree(SAMPLES / "healthy", folder)
    (folder / "passwords.txt").write_text("hunter2 is the admin password\n")
    (folder / "blob.bin").write_bytes(bytes(range(256)))
    (folder / "config.xml").write_text("<secretsettings/>")
    report = tmp_path / "r.json"
    code, _, err = run(capsys, "analyze", str(folder), "--json", str(report), "--redact", "-q")
    assert code in (0, 1), err
    text = report.read_text(encoding="utf-8")
    assert "hunter2" not in text and "00 01 02 03" not in text and "secretsettings" not in text
    assert text.count("not shown: --redact") >= 3
