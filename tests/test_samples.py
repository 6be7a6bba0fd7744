"""The committed samples/: reproducible, readable by two parsers, laid out like a real bundle.

The samples are regenerated with ``npsdiag samples --all samples``; these tests run the
same command into a temporary folder and compare.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from pathlib import Path

import pytest

from npsdiag.cli import main
from npsdiag.synth.bundle import bundle_name, evtx_name
from npsdiag.synth.generate import EXTENSION_LOGS, LOGS, SECURITY, generate
from npsdiag.synth.scenario import load_shipped, shipped_names, shipped_path
from tests.evtx_parsers import expected_record, read_with_evtx_rs, read_with_libevtx

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SHIPPED = shipped_names()
ONE_MB = 1_000_000


def _exit_code(*args: str) -> int:
    """Run the console entry point and return its exit code."""
    try:
        main(list(args))
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = _exit_code(*args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("regenerated") / "samples"
    assert _exit_code("samples", "--all", str(out)) == 0
    return out


def _readme_zlib() -> str:
    match = re.search(r"written with zlib ([0-9.]+)", (SAMPLES / "README.md").read_text("utf-8"))
    assert match, "samples/README.md must name the zlib build"
    return match.group(1)


def _zip_members(data: bytes) -> list[tuple[str, tuple[int, ...], bytes]]:
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, info.date_time, archive.read(info)) for info in archive.infolist()]


def test_regeneration_matches_the_committed_samples(regenerated: Path) -> None:
    committed, fresh = _tree(SAMPLES), _tree(regenerated)
    assert sorted(committed) == sorted(fresh)
    same_zlib = _readme_zlib() == zlib.ZLIB_RUNTIME_VERSION
    for name, data in committed.items():
        if name.endswith(".zip") and not same_zlib:
            # Another zlib compresses differently; what is inside must still match.
            assert _zip_members(data) == _zip_members(fresh[name]), name
        elif name == "README.md" and not same_zlib:
            continue  # names the zlib build and the zips' md5
        else:
            assert data == fresh[name], f"{name} differs: run `npsdiag samples --all samples`"


def test_regeneration_is_byte_identical_run_to_run(regenerated: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert _exit_code("samples", "--all", str(again)) == 0
    assert _tree(again) == _tree(regenerated)


@pytest.mark.parametrize("name", SHIPPED)
def test_sample_folder_layout_and_size(name: str) -> None:
    scenario = load_shipped(name)
    folder = SAMPLES / name
    expected = {evtx_name(scenario, log) for log in LOGS} | {bundle_name(scenario)}
    assert {path.name for path in folder.iterdir()} == expected
    assert sum(path.stat().st_size for path in folder.iterdir()) < ONE_MB


def _read_both(path: Path) -> list[dict[str, object]]:
    rs_records, rs_errors = read_with_evtx_rs(path)
    lib_records, lib_errors = read_with_libevtx(path)
    assert rs_errors == [] and lib_errors == [], (path, rs_errors, lib_errors)
    assert rs_records == lib_records, path
    return rs_records


@pytest.mark.parametrize("name", SHIPPED)
def test_both_parsers_read_every_record(name: str, tmp_path: Path) -> None:
    scenario = load_shipped(name)
    expected: dict[str, list[dict[str, object]]] = {log: [] for log in LOGS}
    for event in generate(scenario):
        assert event.record.record_id is not None
        expected[event.log].append(expected_record(event.record, event.record.record_id))
    for log in LOGS:
        assert _read_both(SAMPLES / name / evtx_name(scenario, log)) == expected[log], log
    with zipfile.ZipFile(SAMPLES / name / bundle_name(scenario)) as archive:
        for log in EXTENSION_LOGS:
            member = evtx_name(scenario, log)
            path = tmp_path / member
            path.write_bytes(archive.read(member))
            assert path.read_bytes() == (SAMPLES / name / member).read_bytes()
            assert _read_both(path) == expected[log]


@pytest.mark.parametrize("name", SHIPPED)
def test_bundle_zip_is_laid_out_like_the_health_check_output(name: str) -> None:
    scenario = load_shipped(name)
    computer = scenario.computer
    with zipfile.ZipFile(SAMPLES / name / bundle_name(scenario)) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert names == sorted(
            [
                "AfterRegAdd_AuthSrv.txt",
                "AfterRegAdd_AzureMFA.txt",
                "BeforeRegAdd_AuthSrv.txt",
                "BeforeRegAdd_AzureMFA.txt",
                "NPS_EventLog.log",
                f"{computer}_AuthNOptCh.evtx",
                f"{computer}_AuthZAdminCh.evtx",
                f"{computer}_AuthZOptCh.evtx",
            ]
        )
        for info in infos:
            assert info.date_time == scenario.end.timetuple()[:6]
            assert info.compress_type == zipfile.ZIP_DEFLATED
        for member in names:
            if not member.endswith((".log", ".txt")):
                continue
            data = archive.read(member)
            assert data[:2] == b"\xff\xfe", member  # UTF-16LE byte order mark
            text = data[2:].decode("utf-16-le")
            assert "\n" not in text.replace("\r\n", ""), f"{member}: bare LF"
            assert text.endswith("\r\n")
        log = archive.read("NPS_EventLog.log")[2:].decode("utf-16-le")
    security = [event.record for event in generate(scenario) if event.log == SECURITY]
    headers = re.findall(r"^Event\[(\d+)\]:\r$", log, re.MULTILINE)
    assert [int(index) for index in headers] == list(range(len(security)))
    ids = re.findall(r"^  Event ID: (\d+)\r$", log, re.MULTILINE)
    assert [int(value) for value in ids] == [record.event_id for record in security]
    users = re.findall(r"^\tAccount Name:\t\t\t(.*)\r$", log, re.MULTILINE)[::2]
    assert users == [dict(record.data)["SubjectUserName"] for record in security]  # type: ignore[arg-type]


def test_readme_lists_every_file_with_its_md5() -> None:
    readme = (SAMPLES / "README.md").read_text("utf-8")
    assert "npsdiag samples --all samples" in readme
    rows = re.findall(
        r"^\| `([^`]+)` \| [-\d]+ \| ([\d,]+) \| `([0-9a-f]{32})` \|$", readme, re.MULTILINE
    )
    files = {
        path.relative_to(SAMPLES).as_posix()
        for path in SAMPLES.rglob("*")
        if path.is_file() and path.name != "README.md"
    }
    assert {row[0] for row in rows} == files
    for relative, size, md5 in rows:
        data = (SAMPLES / relative).read_bytes()
        assert int(size.replace(",", "")) == len(data)
        assert hashlib.md5(data).hexdigest() == md5
    for name in SHIPPED:
        scenario = load_shipped(name)
        assert f"## {name}: " in readme
        if scenario.expected.top_problem:
            assert f"- top problem: `{scenario.expected.top_problem}`" in readme


# ---------------------------------------------------------------------------------- CLI


def test_cli_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "samples", "--list")
    assert code == 0
    for name in SHIPPED:
        assert re.search(
            rf"^{re.escape(name)} +{re.escape(load_shipped(name).title)}$", out, re.MULTILINE
        )


def test_cli_unknown_name_lists_valid_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(capsys, "samples", "no-such-scenario", str(tmp_path / "x"))
    assert code == 2 and out == ""
    assert "unknown scenario 'no-such-scenario'" in err
    assert all(name in err for name in SHIPPED)
    assert not (tmp_path / "x").exists()


def test_cli_zip_output_is_the_bundle_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "out" / "bundle.zip"
    code, _, _ = _run(capsys, "samples", "otp-non-pap", str(target))
    assert code == 0
    assert [path.name for path in target.parent.iterdir()] == ["bundle.zip"]
    scenario = load_shipped("otp-non-pap")
    assert target.read_bytes() == (SAMPLES / "otp-non-pap" / bundle_name(scenario)).read_bytes()


def test_cli_scenario_file_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = shipped_path("healthy").read_text("utf-8")
    bad.write_text(
        text.replace("count: 28", "count: 28\n    colour: red").replace("seed: 1101", "seed: x"),
        "utf-8",
    )
    code, out, err = _run(capsys, "samples", "--scenario-file", str(bad), str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert f"{bad}: seed: expected an integer" in err
    assert f"{bad}: traffic[0]: unknown key 'colour'" in err


def test_cli_scenario_file_writes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = shipped_path("primary-auth-failure")
    code, out, _ = _run(capsys, "samples", "--scenario-file", str(source), str(tmp_path / "mine"))
    assert code == 0 and "primary-auth-failure:" in out
    for path in (SAMPLES / "primary-auth-failure").iterdir():
        assert (tmp_path / "mine" / path.name).read_bytes() == path.read_bytes()


def test_cli_events_scales_to_exactly_n(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(
        capsys, "samples", "cert-expired", str(tmp_path / "big"), "--events", "1500"
    )
    assert code == 0 and "cert-expired: 1500 events" in out
    scenario = load_shipped("cert-expired")
    total = sum(len(_read_both(tmp_path / "big" / evtx_name(scenario, log))) for log in LOGS)
    assert total == 1500


@pytest.mark.parametrize(
    "args",
    [
        ("samples", "--all", "x", "healthy"),
        ("samples", "--list", "healthy"),
        ("samples", "healthy"),
        ("samples", "--events", "0", "healthy", "x"),
    ],
)
def test_cli_usage_errors(capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    code, _, err = _run(capsys, *args)
    assert code == 2 and err
