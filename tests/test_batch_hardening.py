"""``npsdiag batch`` against what can go wrong around it: two runs into one folder, a case that
stalls, an output folder reached through a link inside the input, links leading out of the
collection."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import signal
import time
from pathlib import Path

import pytest

from npsdiag.batch import DEFAULT_CASE_TIMEOUT, run_batch
from npsdiag.batch_find import LOCK_FILE, check_output, find_cases
from npsdiag.batch_output import OutputLock
from npsdiag.catalog import Catalog, load_catalog
from npsdiag.commands.batch import DEFAULT_CASE_TIMEOUT as COMMAND_DEFAULT
from npsdiag.errors import UsageError
from npsdiag.model import Finding
from tests.cli_runner import run

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


class _StallCatalog(Catalog):
    """The shipped catalog, except that a case named "stall-me" never finishes matching.

    "stall-me" sleeps (an alarm can end it); "wedge-me" also blocks the alarm signal, as a
    native call that never returns would, so that only its worker's end can stop it.
    """

    def match(self, finding: Finding) -> list:  # type: ignore[type-arg]
        origin = finding.event.origin
        if "wedge-me" in origin:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(600)
        if "stall-me" in origin:
            time.sleep(600)
        return super().match(finding)


def _collection(root: Path, *stalled: str) -> Path:
    collected = root / "collected"
    collected.mkdir()
    shutil.copytree(SAMPLES / "healthy", collected / "healthy")
    shutil.copytree(SAMPLES / "cert-expired", collected / "cert-expired")
    for name in stalled:
        shutil.copytree(SAMPLES / "healthy", collected / name)
    return collected


def test_the_default_time_limit_is_the_commands() -> None:
    assert DEFAULT_CASE_TIMEOUT == COMMAND_DEFAULT


needs_alarm = pytest.mark.skipif(
    not hasattr(signal, "SIGALRM"), reason="the soft time limit needs an alarm clock (POSIX)"
)


@needs_alarm
@pytest.mark.parametrize("workers", [1, 2])
def test_a_stalled_case_costs_only_itself(tmp_path: Path, workers: int) -> None:
    collected = _collection(tmp_path, "stall-me")
    started = time.monotonic()
    result = run_batch(
        [str(collected)],
        tmp_path / "review",
        workers=workers,
        # Long enough for the other cases on a busy machine (a worker's start-up included).
        case_timeout=4,
        catalog=_StallCatalog(load_catalog().entries),
    )
    assert time.monotonic() - started < 60
    by_id = {case.case.case_id: case for case in result.cases}
    assert by_id["stall-me"].failure_kind == "timed out"
    assert "--case-timeout" in (by_id["stall-me"].reason or "")
    assert by_id["healthy"].ok and by_id["cert-expired"].ok
    assert not (tmp_path / "review" / "stall-me").exists()
    assert multiprocessing.active_children() == []


@needs_alarm
@pytest.mark.slow
def test_a_case_the_alarm_cannot_stop_is_ended_by_the_batch(tmp_path: Path) -> None:
    collected = _collection(tmp_path, "wedge-me")
    result = run_batch(
        [str(collected)],
        tmp_path / "review",
        workers=2,
        # Long enough for the other cases on a busy machine (a worker's start-up included).
        case_timeout=4,
        catalog=_StallCatalog(load_catalog().entries),
    )
    by_id = {case.case.case_id: case for case in result.cases}
    assert by_id["wedge-me"].failure_kind == "timed out"
    # The cases in flight when its worker was ended ran again, in full.
    assert by_id["healthy"].ok and by_id["cert-expired"].ok
    assert (tmp_path / "review" / "healthy" / "report.html").is_file()
    assert multiprocessing.active_children() == []


def test_a_negative_time_limit_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--case-timeout"):
        run_batch([str(_collection(tmp_path))], tmp_path / "review", case_timeout=-1)


def test_a_second_run_into_the_same_folder_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    collected = _collection(tmp_path)
    output = tmp_path / "review"
    output.mkdir()
    with OutputLock(output):
        with pytest.raises(UsageError, match=r"another npsdiag batch .* is writing to"):
            run_batch([str(collected)], output, workers=1)
        code, _, err = run(capsys, "batch", str(collected), "-o", str(output), "--workers", "1")
        assert code == 2
        assert "another npsdiag batch" in err and "give another output folder" in err
    # Once the first run is over (or dead: the system drops its lock), the next one runs.
    result = run_batch([str(collected)], output, workers=1)
    assert result.read == 2
    assert (output / LOCK_FILE).exists()
    # The lock file is no case, and the output folder is none either.
    assert [case.case_id for case in find_cases([str(collected)])[0]] == [
        "cert-expired",
        "healthy",
    ]


def test_an_output_reached_through_a_link_inside_the_input_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    collected = _collection(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (collected / "out").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UsageError, match="is inside the input"):
        check_output(collected / "out", [str(collected)])
    code, _, err = run(capsys, "batch", str(collected), "-o", str(collected / "out"))
    assert code == 2 and "is inside the input" in err
    # And the other way round: an output folder whose link leads into the input.
    (tmp_path / "review-link").symlink_to(collected / "healthy", target_is_directory=True)
    with pytest.raises(UsageError):
        check_output(tmp_path / "review-link", [str(collected)])


def test_an_output_folder_inside_the_input_is_never_read_as_a_case(tmp_path: Path) -> None:
    collected = _collection(tmp_path)
    run_batch([str(collected / "healthy")], tmp_path / "first", workers=1)
    shutil.copytree(tmp_path / "first", collected / "review-copied-here")
    cases, ignored = find_cases([str(collected)])
    assert [case.case_id for case in cases] == ["cert-expired", "healthy"]
    assert any(
        entry.path.endswith("review-copied-here") and "output folder" in entry.reason
        for entry in ignored
    )


def test_links_out_of_the_collection_are_not_followed(tmp_path: Path) -> None:
    collected = _collection(tmp_path)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    shutil.copytree(SAMPLES / "healthy", secret / "private-case")
    (collected / "linked-case").symlink_to(secret / "private-case", target_is_directory=True)
    (collected / "shadow.txt").symlink_to(secret / "shadow")
    (collected / "healthy" / "notes.txt").symlink_to(secret / "shadow")
    result = run_batch([str(collected)], tmp_path / "review", workers=1, redact=True)
    assert [case.case.case_id for case in result.cases] == ["cert-expired", "healthy"]
    reasons = {Path(entry.path).name: entry.reason for entry in result.ignored}
    assert "outside the input folder" in reasons["linked-case"]
    assert "outside the input folder" in reasons["shadow.txt"]
    report = json.loads((tmp_path / "review" / "healthy" / "report.json").read_text())
    notes = [s for s in report["sources"] if s["name"].endswith("notes.txt")]
    assert notes and "not followed" in notes[0]["messages"][0]
    everything = "".join(path.read_text() for path in (tmp_path / "review").rglob("*.*"))
    assert "root:" not in everything
