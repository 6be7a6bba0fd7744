"""``npsdiag batch``: case discovery, parallel runs, failures, index, determinism, safety."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from npsdiag.batch import (
    BatchProgress,
    BatchResult,
    Case,
    CaseCause,
    CaseFamily,
    CaseSummary,
    case_slug,
    check_output,
    find_cases,
    run_batch,
    summary_line,
)
from npsdiag.batch_find import LOCK_FILE
from npsdiag.batch_index import (
    CASE_COLUMNS,
    INDEX_FILES,
    build_index,
    cause_tables,
    rank_cases,
    render_index_html,
)
from npsdiag.catalog import Catalog, load_catalog
from npsdiag.errors import NothingToAnalyseError, UsageError
from npsdiag.model import Finding
from npsdiag.synth.scenario import load_shipped
from tests.cli_runner import run

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
#: The sample scenarios copied into the test collection (one of each kind of outcome).
SAMPLE_CASES = ("cert-expired", "healthy", "mixed", "user-not-in-entra")
#: A zip that starts like one and then is garbage (a truncated download).
CORRUPT_ZIP = b"PK\x03\x04" + bytes(range(256)) * 8


# ----------------------------------------------------------------------------- helpers


def make_collection(root: Path, samples: tuple[str, ...] = SAMPLE_CASES) -> Path:
    """A collected/ folder: sample copies, a corrupt zip, an empty folder, a stray note."""
    collected = root / "collected"
    collected.mkdir(parents=True)
    for name in samples:
        shutil.copytree(SAMPLES / name, collected / name)
    (collected / "broken.zip").write_bytes(CORRUPT_ZIP)
    (collected / "empty").mkdir()
    (collected / "notes.txt").write_text("ticket numbers\n", encoding="utf-8")
    (collected / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return collected


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative POSIX path, with its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.hrefs.append(value)


def links_of(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    return parser


def user_names(scenarios: tuple[str, ...]) -> set[str]:
    """Every spelling of every sample user: id, UPN, its local part, sAMAccountName."""
    names: set[str] = set()
    for name in scenarios:
        for user in load_shipped(name).users:
            names.update({user.name, user.upn, user.upn.split("@")[0], user.sam})
    return {name.lower() for name in names if len(name) >= 3}


#: A second copy of a sample under another name, so that causes repeat across cases.
COPY_NAME, COPY_ID = "Cert Expired (copy)", "cert-expired-copy"


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    collected = make_collection(tmp_path_factory.mktemp("batch"))
    shutil.copytree(SAMPLES / "cert-expired", collected / COPY_NAME)
    return collected


@pytest.fixture(scope="module")
def two_workers(collection: Path) -> tuple[BatchResult, Path]:
    output = collection.parent / "review-a"
    return run_batch([str(collection)], output, workers=2), output


# --------------------------------------------------------------------------- case rule


def test_case_slug() -> None:
    assert case_slug("20250512_081000_NpsLogging.zip") == "20250512_081000_npslogging"
    assert case_slug("Contoso NPS01 (ticket #42)") == "contoso-nps01-ticket-42"
    assert case_slug("nps01.contoso.com") == "nps01-contoso-com"
    assert case_slug("Café Zürich") == "cafe-zurich"
    assert case_slug("..") == "case"
    assert case_slug("___") == "case"
    assert case_slug("CON") == "con-case"
    assert case_slug("lpt1.zip") == "lpt1-case"
    assert len(case_slug("x" * 200)) == 60


def test_find_cases_rule(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "b-case").mkdir()
    (root / "B-Case.zip").write_bytes(CORRUPT_ZIP)
    (root / "renamed.bin").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # a zip by content
    (root / "Security.evtx").write_bytes((SAMPLES / "healthy" / "Security.evtx").read_bytes())
    (root / "readme.txt").write_text("hello\n", encoding="utf-8")
    (root / ".hidden").mkdir()
    cases, ignored = find_cases([str(root)])
    assert [(case.case_id, case.kind, case.name) for case in cases] == [
        ("in", "files", "in"),  # the loose files, first
        ("b-case", "folder", "b-case"),
        ("b-case-2", "zip", "B-Case.zip"),
        ("renamed-bin", "zip", "renamed.bin"),
    ]
    # The loose-files case reads every loose file, so its report accounts for the note too.
    assert cases[0].inputs == (str(root / "readme.txt"), str(root / "Security.evtx"))
    assert ignored == []


def test_find_cases_collection_without_loose_logs(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "one").mkdir()
    (root / "notes.txt").write_text("not a log\n", encoding="utf-8")
    bundle = tmp_path / "single.zip"
    bundle.write_bytes(CORRUPT_ZIP)
    (tmp_path / "void").mkdir()
    inputs = [str(root), str(bundle), str(tmp_path / "void"), str(tmp_path / "*.zip")]
    cases, ignored = find_cases(inputs)
    assert [(case.case_id, case.kind) for case in cases] == [("one", "folder"), ("single", "zip")]
    assert sorted((Path(entry.path).name, entry.reason) for entry in ignored) == [
        ("notes.txt", "not a folder, a .zip or an event log"),
        ("single.zip", f"the same as case '{bundle}'"),
        ("void", "the folder is empty"),
    ]


def test_find_cases_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or folder"):
        find_cases([str(tmp_path / "missing")])
    with pytest.raises(UsageError, match="matches nothing"):
        find_cases([str(tmp_path / "*.zip")])
    (tmp_path / "void").mkdir()
    with pytest.raises(NothingToAnalyseError, match="no case found"):
        find_cases([str(tmp_path / "void")])


def test_patterns_are_expanded(tmp_path: Path) -> None:
    for name in ("b.zip", "a.zip", "c.txt"):
        (tmp_path / name).write_bytes(CORRUPT_ZIP)
    cases, _ = find_cases([str(tmp_path / "*.zip")])
    assert [case.case_id for case in cases] == ["a", "b"]


def test_output_must_not_overlap_the_inputs(tmp_path: Path) -> None:
    collected = tmp_path / "collected"
    (collected / "case").mkdir(parents=True)
    with pytest.raises(UsageError, match="inside the input"):
        check_output(collected / "review", [str(collected)])
    with pytest.raises(UsageError, match="inside the input"):
        check_output(collected, [str(collected)])
    with pytest.raises(UsageError, match="inside the output"):
        check_output(tmp_path, [str(collected)])
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="not a folder"):
        check_output(tmp_path / "file", [str(collected)])
    check_output(tmp_path / "review", [str(collected)])  # a sibling is fine


# ---------------------------------------------------------------------- a whole batch


def test_every_case_is_reported_and_linked(two_workers: tuple[BatchResult, Path]) -> None:
    result, output = two_workers
    by_id = {summary.case.case_id: summary for summary in result.cases}
    assert sorted(by_id) == sorted(["broken", "empty", COPY_ID, *SAMPLE_CASES])
    assert by_id[COPY_ID].case.name == COPY_NAME
    for name in SAMPLE_CASES:
        summary = by_id[name]
        assert summary.ok, summary.reason
        assert summary.events_read > 0
        for file_name in ("report.html", "report.json", "report.md"):
            assert (output / name / file_name).is_file()
        # The index agrees with the case's own report.
        report = json.loads((output / name / "report.json").read_text(encoding="utf-8"))
        totals = report["summary"]
        assert (summary.problems, summary.incidents, summary.failed_incidents) == (
            totals["problems"],
            totals["incidents"],
            totals["failed_incidents"],
        )
        assert (summary.start, summary.end) == (
            totals["time_span"]["start"],
            totals["time_span"]["end"],
        )
        problems = report["problems"]
        assert summary.top_entry_id == (problems[0]["entry_id"] if problems else None)
        assert summary.affected_users == len({user for p in problems for user in p["users"]})
        assert summary.events_read == sum(source["records_read"] for source in report["sources"])
    for name in ("broken", "empty"):
        assert not by_id[name].ok
        assert not (output / name).exists()
    assert by_id["broken"].reason and "broken.zip" in by_id["broken"].reason
    assert by_id["empty"].failure_kind == "nothing readable"
    assert by_id["broken"].failure_kind == "unusable zip"
    assert sorted(path.name for path in result.index_files) == sorted(INDEX_FILES)

    page = (output / "index.html").read_text(encoding="utf-8")
    found = links_of(page)
    assert not found.tags & {"script", "link", "img", "iframe"}
    case_links = [href for href in found.hrefs if "/" in href]
    for name in SAMPLE_CASES:
        assert f"{name}/report.html" in case_links
    for href in found.hrefs:
        if href.startswith("#"):
            assert f'id="{href[1:]}"' in page, href
            continue
        assert not href.startswith(("http:", "https:", "/", "file:")), href
        assert (output / href.split("#")[0]).is_file(), href
    # Failed cases are listed with their reasons.
    assert "broken.zip" in page
    assert "nothing readable" in page
    assert "notes.txt" in page


def test_index_ranks_cases_worst_first(two_workers: tuple[BatchResult, Path]) -> None:
    _, output = two_workers
    document = json.loads((output / "index.json").read_text(encoding="utf-8"))
    cases = document["cases"]
    assert [case["rank"] for case in cases] == list(range(1, len(cases) + 1))
    statuses = [case["status"] for case in cases]
    assert statuses == sorted(statuses, key=lambda status: status != "ok")  # failed last
    severity = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
    read = [case for case in cases if case["status"] == "ok"]
    keys = [
        (
            -severity.get((case["top_problem"] or {}).get("severity") or "", -1),
            -case["affected_users"],
            -case["incidents"],
            case["case_id"],
        )
        for case in read
    ]
    assert keys == sorted(keys)
    assert read[-1]["case_id"] == "healthy"
    assert read[-1]["top_problem"] is None
    totals = document["totals"]
    assert (totals["cases"], totals["read"], totals["failed"]) == (7, 5, 2)
    assert totals["problems"] == sum(case["problems"] for case in cases)
    assert document["format"] == "npsdiag-batch-index"
    assert [entry["path"].endswith("notes.txt") for entry in document["ignored"]] == [True]

    with open(output / "index.csv", encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == CASE_COLUMNS
    assert [row["case_id"] for row in rows] == [case["case_id"] for case in cases]
    failed = {row["case_id"]: row for row in rows if row["status"] == "failed"}
    assert set(failed) == {"broken", "empty"}
    assert all(row["reason"] for row in failed.values())


def test_cross_case_counts(two_workers: tuple[BatchResult, Path]) -> None:
    result, output = two_workers
    document = json.loads((output / "index.json").read_text(encoding="utf-8"))
    expected: dict[str, list[int]] = {}
    for summary in result.cases:
        for cause in summary.causes:
            counts = expected.setdefault(cause.entry_id, [0, 0, 0])
            counts[0] += 1
            counts[1] += cause.users
            counts[2] += cause.incidents
    got = {
        row["entry_id"]: [row["cases"], row["users"], row["incidents"]]
        for row in document["causes"]
    }
    assert got == expected
    copied = next(case for case in result.cases if case.case.case_id == COPY_ID)
    assert copied.top_entry_id is not None
    assert got[copied.top_entry_id][0] == 2  # the sample and its copy
    order = [
        (-row["cases"], -row["users"], -row["incidents"], row["entry_id"])
        for row in document["causes"]
    ]
    assert order == sorted(order)
    families = {row["family"] for row in document["families"]}
    assert families == {entry.split(".")[0] + "." + entry.split(".")[1] for entry in expected}
    with open(output / "causes.csv", encoding="utf-8", newline="") as stream:
        assert [row["entry_id"] for row in csv.DictReader(stream)] == [
            row["entry_id"] for row in document["causes"]
        ]


def test_same_bytes_every_run_and_any_worker_count(
    collection: Path, two_workers: tuple[BatchResult, Path], tmp_path: Path
) -> None:
    _, first = two_workers
    again = run_batch([str(collection)], tmp_path / "again", workers=2)
    alone = run_batch([str(collection)], tmp_path / "alone", workers=1)
    reference = tree(first)
    assert reference == tree(tmp_path / "again")
    assert reference == tree(tmp_path / "alone")
    assert [case.case.case_id for case in again.cases] == [
        case.case.case_id for case in alone.cases
    ]


def test_cli_summary_line_and_exit_codes(
    capsys: pytest.CaptureFixture[str], collection: Path, tmp_path: Path
) -> None:
    output = tmp_path / "review"
    code, out, err = run(capsys, "batch", str(collection), "-o", str(output), "--workers", "2")
    assert code == 1
    totals = json.loads((output / "index.json").read_text(encoding="utf-8"))["totals"]
    assert totals["problems"] > 3
    assert out == (
        "7 cases: 5 read, 2 failed (1 nothing readable, 1 unusable zip); "
        f"{totals['problems']} problems in 4 cases; index: {output / 'index.html'}\n"
    )
    assert err == ""  # no progress bar when stderr is not a terminal

    healthy = tmp_path / "healthy-only"
    make_collection(healthy, samples=("healthy",))
    for extra in ("broken.zip", "notes.txt", ".DS_Store"):
        (healthy / "collected" / extra).unlink()
    (healthy / "collected" / "empty").rmdir()
    code, out, _ = run(capsys, "batch", str(healthy / "collected"), "-o", str(tmp_path / "h"))
    assert code == 0, out
    assert out.startswith("1 case: 1 read; no problems found; index: ")

    broken = tmp_path / "broken-only"
    broken.mkdir()
    (broken / "a.zip").write_bytes(CORRUPT_ZIP)
    code, out, _ = run(capsys, "batch", str(broken), "-o", str(tmp_path / "b"))
    assert code == 2
    assert out.startswith("1 case: 0 read, 1 failed (")
    assert (tmp_path / "b" / "index.html").is_file()  # the index says why

    code, _, err = run(capsys, "batch", str(collection), "-o", str(collection / "review"))
    assert code == 2
    assert "inside the input" in err
    code, _, err = run(capsys, "batch", str(tmp_path / "missing"), "-o", str(tmp_path / "m"))
    assert code == 2
    assert "missing" in err
    code, _, _ = run(capsys, "batch", str(collection), "-o", str(tmp_path / "w"), "--workers", "0")
    assert code == 2
    code, _, err = run(capsys, "batch", str(tmp_path / "broken-only"))
    assert code == 2
    assert "--output" in err


def test_rerun_replaces_only_the_cases_it_runs(tmp_path: Path) -> None:
    collected = make_collection(tmp_path, samples=("healthy",))
    output = tmp_path / "review"
    (output / "old-case").mkdir(parents=True)
    (output / "old-case" / "report.html").write_text("earlier run", encoding="utf-8")
    (output / "healthy").mkdir()
    (output / "healthy" / "my-notes.txt").write_text("mine", encoding="utf-8")
    (output / "healthy" / "report.html").write_text("stale", encoding="utf-8")
    (output / "broken").mkdir()
    (output / "broken" / "report.html").write_text(
        "stale from a run that read it", encoding="utf-8"
    )
    run_batch([str(collected)], output, workers=1)
    assert (output / "old-case" / "report.html").read_text(encoding="utf-8") == "earlier run"
    assert (output / "healthy" / "my-notes.txt").read_text(encoding="utf-8") == "mine"
    assert "stale" not in (output / "healthy" / "report.html").read_text(encoding="utf-8")
    # A case that now fails loses its old reports: the index must not point at them.
    assert not (output / "broken" / "report.html").exists()
    assert "old-case" not in (output / "index.html").read_text(encoding="utf-8")


def test_inputs_given_as_paths_from_python(tmp_path: Path) -> None:
    collected = make_collection(tmp_path, samples=("healthy",))
    output = tmp_path / "review"
    result = run_batch([collected], output, workers=1)
    assert result.inputs == (str(collected),)
    index = json.loads((output / "index.json").read_text(encoding="utf-8"))
    assert index["inputs"] == [str(collected)]


def test_a_case_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    collected = make_collection(tmp_path, samples=("healthy",))
    output = tmp_path / "review"
    output.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        (output / "healthy").symlink_to(elsewhere, target_is_directory=True)
    except OSError:
        pytest.skip("cannot create symbolic links here")
    result = run_batch([str(collected)], output, workers=1)
    healthy = next(case for case in result.cases if case.case.case_id == "healthy")
    assert not healthy.ok
    assert healthy.reason and "link" in healthy.reason
    assert list(elsewhere.iterdir()) == []


def test_hostile_case_names_are_escaped(tmp_path: Path) -> None:
    collected = tmp_path / "collected"
    hostile = collected / '<img src=x onerror="alert(1)"> \u202e.zip'
    collected.mkdir()
    hostile.write_bytes(CORRUPT_ZIP)
    (collected / "=cmd|calc").mkdir()
    result = run_batch([str(collected)], tmp_path / "review", workers=1)
    assert {case.case.case_id for case in result.cases} == {"img-src-x-onerror-alert-1", "cmd-calc"}
    page = (tmp_path / "review" / "index.html").read_text(encoding="utf-8")
    assert "<img" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "\u202e" not in page
    with open(tmp_path / "review" / "index.csv", encoding="utf-8", newline="") as stream:
        names = [row["name"] for row in csv.DictReader(stream)]
    assert "'=cmd|calc" in names


# ---------------------------------------------------------------------- failure paths


class _TrapCatalog(Catalog):
    """The shipped catalog, except that matching a finding from a marked case misbehaves.

    It is pickled into the worker processes with the batch, so it reaches them the way
    a real crash would: from inside the analysis of one case.
    """

    def match(self, finding: Finding) -> list:  # type: ignore[type-arg]
        origin = finding.event.origin
        if "crash-me" in origin:
            os._exit(3)  # the worker process dies without a word, like a native crash
        if "raise-me" in origin:
            raise RuntimeError("a bug in the analysis")
        return super().match(finding)


def _trap_catalog() -> _TrapCatalog:
    return _TrapCatalog(load_catalog().entries)


def test_a_crashing_worker_costs_only_its_case(tmp_path: Path) -> None:
    collected = make_collection(tmp_path, samples=("healthy", "mixed", "cert-expired"))
    shutil.copytree(SAMPLES / "mixed", collected / "crash-me")
    shutil.copytree(SAMPLES / "mixed", collected / "raise-me")
    result = run_batch([str(collected)], tmp_path / "review", workers=2, catalog=_trap_catalog())
    by_id = {case.case.case_id: case for case in result.cases}
    assert by_id["crash-me"].failure_kind == "worker crashed"
    assert by_id["raise-me"].failure_kind == "internal error"
    assert by_id["raise-me"].reason == "RuntimeError: a bug in the analysis"
    for name in ("healthy", "mixed", "cert-expired"):
        assert by_id[name].ok, by_id[name].reason
        assert (tmp_path / "review" / name / "report.html").is_file()
    document = json.loads((tmp_path / "review" / "index.json").read_text(encoding="utf-8"))
    assert document["totals"]["failed_by_kind"] == {
        "internal error": 1,
        "nothing readable": 1,
        "unusable zip": 1,
        "worker crashed": 1,
    }
    assert multiprocessing.active_children() == []


def test_an_exception_in_process_is_one_failed_case(tmp_path: Path) -> None:
    collected = tmp_path / "collected"
    collected.mkdir()
    shutil.copytree(SAMPLES / "healthy", collected / "healthy")
    shutil.copytree(SAMPLES / "healthy", collected / "raise-me")
    result = run_batch([str(collected)], tmp_path / "review", workers=1, catalog=_trap_catalog())
    assert [(case.case.case_id, case.status) for case in result.cases] == [
        ("healthy", "ok"),
        ("raise-me", "failed"),
    ]


def test_interrupt_stops_workers_and_writes_no_index(tmp_path: Path) -> None:
    collected = make_collection(tmp_path, samples=SAMPLE_CASES)
    output = tmp_path / "review"
    seen: list[BatchProgress] = []

    def interrupt(progress: BatchProgress) -> None:
        seen.append(progress)
        if progress.cases_done >= 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch([str(collected)], output, workers=2, on_progress=interrupt)
    assert multiprocessing.active_children() == []
    assert not any((output / name).exists() for name in INDEX_FILES)
    # Finished cases keep all their reports; a case stopped half-way keeps none. (The lock
    # file of the run stays: the system released the lock itself.)
    for folder in output.iterdir():
        if folder.name == LOCK_FILE:
            continue
        assert sorted(path.name for path in folder.iterdir()) == [
            "report.html",
            "report.json",
            "report.md",
        ]
    assert seen[-1].cases_done < seen[-1].cases_total


def test_interrupt_in_process_drops_the_half_written_case(tmp_path: Path) -> None:
    collected = make_collection(tmp_path, samples=("healthy",))
    shutil.copytree(SAMPLES / "mixed", collected / "zz-later")
    output = tmp_path / "review"
    old = output / "zz-later"
    old.mkdir(parents=True)
    (old / "report.html").write_text("from an earlier run", encoding="utf-8")

    def interrupt(progress: BatchProgress) -> None:
        if progress.files_done >= 3:  # inside "healthy" ("broken" and "empty" read 1 file)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch([str(collected)], output, workers=1, on_progress=interrupt)
    assert not (output / "healthy").exists()
    # A case that never started keeps what an earlier run left.
    assert (old / "report.html").read_text(encoding="utf-8") == "from an earlier run"


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_is_reported(tmp_path: Path, workers: int) -> None:
    collected = make_collection(tmp_path, samples=("healthy", "mixed"))
    seen: list[BatchProgress] = []
    result = run_batch(
        [str(collected)], tmp_path / "review", workers=workers, on_progress=seen.append
    )
    last = seen[-1]
    assert (last.cases_total, last.cases_done, last.cases_failed) == (4, 4, 2)
    # Progress counts the event files as they are read (registry dumps are not reported).
    assert 0 < last.events_read <= sum(case.events_read for case in result.cases)
    assert last.files_done >= 10
    for field in ("cases_done", "files_done", "events_read"):
        values = [getattr(progress, field) for progress in seen]
        assert values == sorted(values), field


def test_progress_bar_draws_from_the_callback() -> None:
    from npsdiag._progress import BatchProgressBar

    stream = io.StringIO()
    with BatchProgressBar(stream=stream) as bar:
        bar.update(BatchProgress(5, 2, 1, 12, 3400))
        bar.update(BatchProgress(5, 5, 1, 30, 9000))
    # Not a terminal: rich draws nothing live, and nothing may leak into stdout either.
    assert "Traceback" not in stream.getvalue()


# --------------------------------------------------------------------------- redaction


def test_redact(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    collected = make_collection(tmp_path, samples=SAMPLE_CASES)
    output = tmp_path / "review"
    code, out, err = run(capsys, "batch", str(collected), "-o", str(output), "--redact")
    try:
        import npsdiag.redact  # noqa: F401
    except ImportError:
        assert code == 2
        assert "--redact is not available" in err
        assert not output.exists()
        return
    assert code == 1, err
    names = user_names(SAMPLE_CASES)
    files = tree(output)
    assert set(INDEX_FILES) <= set(files)
    assert sum(name.endswith("report.json") for name in files) == len(SAMPLE_CASES)
    for path, data in files.items():
        text = data.decode("utf-8").lower()
        leaked = sorted(
            name
            for name in names
            if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", text) is not None
        )
        assert leaked == [], (path, leaked)
    document = json.loads(files["index.json"])
    assert document["redacted"] is True
    assert "index:" in out


# --------------------------------------------------------------------- pure functions


def _summary(case_id: str, severity: str | None, users: int, incidents: int) -> CaseSummary:
    causes = (
        (CaseCause(f"ext.{case_id}", f"ext.{case_id}", "t", severity, users, incidents),)
        if severity
        else ()
    )
    return CaseSummary(
        case=Case(case_id, case_id, case_id, "folder", (case_id,)),
        status="ok",
        problems=len(causes),
        top_entry_id=causes[0].entry_id if causes else None,
        top_title="t" if causes else None,
        top_severity=severity,
        causes=causes,
        affected_users=users,
        incidents=incidents,
    )


def test_rank_cases() -> None:
    failed = CaseSummary(case=Case("a", "a", "a", "zip", ("a",)), status="failed", reason="x")
    cases = [
        failed,
        _summary("quiet", None, 0, 9),
        _summary("medium-many", "medium", 50, 1),
        _summary("high-few", "high", 1, 1),
        _summary("high-more", "high", 2, 1),
        _summary("high-more-incidents", "high", 2, 7),
        _summary("odd", "bogus", 100, 100),
    ]
    ranked = [case.case.case_id for case in rank_cases(cases)]
    assert ranked == [
        "high-more-incidents",
        "high-more",
        "high-few",
        "medium-many",
        "odd",
        "quiet",
        "a",
    ]


def test_cause_tables_count_cases_users_and_families() -> None:
    def case(case_id: str, *causes: tuple[str, int, int]) -> CaseSummary:
        rows = tuple(
            CaseCause(entry, ".".join(entry.split(".")[:2]), entry.upper(), "high", users, hits)
            for entry, users, hits in causes
        )
        families: dict[str, tuple[int, int]] = {}
        for row in rows:
            users, hits = families.get(row.family, (0, 0))
            families[row.family] = (max(users, row.users), hits + row.incidents)
        return CaseSummary(
            case=Case(case_id, case_id, case_id, "folder", (case_id,)),
            status="ok",
            problems=len(rows),
            causes=rows,
            families=tuple(CaseFamily(name, *counts) for name, counts in sorted(families.items())),
        )

    cases = [
        case("one", ("ext.a.x", 2, 3), ("ext.a.y", 1, 1), ("nps.reason-16", 1, 1)),
        case("two", ("ext.a.x", 5, 5)),
        case("three", ("nps.reason-16", 4, 4)),
        CaseSummary(case=Case("bad", "bad", "bad", "zip", ("bad",)), status="failed"),
    ]
    causes, families = cause_tables(cases)
    assert [(row["entry_id"], row["cases"], row["users"], row["incidents"]) for row in causes] == [
        ("ext.a.x", 2, 7, 8),
        ("nps.reason-16", 2, 5, 5),
        ("ext.a.y", 1, 1, 1),
    ]
    assert [row["rank"] for row in causes] == [1, 2, 3]
    assert [(row["family"], row["entries"], row["cases"], row["users"]) for row in families] == [
        ("ext.a", 2, 2, 7),
        ("nps.reason-16", 1, 2, 5),
    ]
    assert cause_tables([]) == ([], [])


def test_summary_line_wording(tmp_path: Path) -> None:
    ok = _summary("a", "high", 3, 4)
    quiet = _summary("b", None, 0, 0)
    bad = CaseSummary(
        case=Case("c", "c", "c", "zip", ("c",)), status="failed", failure_kind="bad bundle"
    )
    none = CaseSummary(
        case=Case("d", "d", "d", "zip", ("d",)), status="failed", failure_kind="nothing readable"
    )
    result = BatchResult(tmp_path, ("x",), (ok, quiet, bad, none, none), (), False)
    assert summary_line(result, "review/index.html") == (
        "5 cases: 2 read, 3 failed (2 nothing readable, 1 bad bundle); "
        "1 problem in 1 case; index: review/index.html"
    )
    assert summary_line(BatchResult(tmp_path, ("x",), (quiet,), (), False)) == (
        "1 case: 1 read; no problems found"
    )


def test_index_html_is_self_contained(tmp_path: Path) -> None:
    result = BatchResult(tmp_path, ("x",), (_summary("a", "high", 3, 4),), (), False)
    page = render_index_html(build_index(result))
    found = links_of(page)
    assert "script" not in found.tags
    assert "default-src 'none'" in page
    assert all(not href.startswith(("http:", "https:", "//")) for href in found.hrefs)
