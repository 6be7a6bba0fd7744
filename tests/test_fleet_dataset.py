"""``npsdiag batch --dataset``: the Parquet fleet dataset, read back with DuckDB and pandas."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from npsdiag.batch import BatchProgress, run_batch
from npsdiag.errors import UsageError
from npsdiag.fleet_schema import MANIFEST, SCHEMA_VERSION, TABLES
from tests.cli_runner import run
from tests.test_batch import SAMPLES, make_collection, tree, user_names

pq = pytest.importorskip("pyarrow.parquet", reason="the dataset extra (pyarrow) is not installed")
duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed")

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "fleet-dataset.md"
#: Samples whose data covers timeouts, AADSTS codes, configuration findings, UPN domains.
CASES = ("cert-expired", "client-timeout", "healthy", "sp-disabled", "user-not-in-entra")
DATA_TABLES = ("incidents", "events", "problems", "config_findings", "sources")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(collection, output, dataset) of one local run with two workers."""
    root = tmp_path_factory.mktemp("fleet")
    collected = make_collection(root, samples=CASES)
    output, dataset = root / "review", root / "fleet"
    run_batch([str(collected)], output, workers=2, dataset=dataset)
    return collected, output, dataset


def _connect(dataset: Path) -> object:
    con = duckdb.connect()
    for table in TABLES:
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet("
            f"'{dataset.as_posix()}/{table}/*/*.parquet', hive_partitioning = true)"
        )
    return con


def _index(output: Path) -> dict[str, dict[str, object]]:
    document = json.loads((output / "index.json").read_text(encoding="utf-8"))
    return {case["case_id"]: case for case in document["cases"]}


def test_layout_schema_and_version(batch: tuple[Path, Path, Path]) -> None:
    _, output, dataset = batch
    manifest = json.loads((dataset / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == "npsdiag-fleet-dataset"
    assert manifest["schema_version"] == SCHEMA_VERSION
    read = {case for case, row in _index(output).items() if row["status"] == "ok"}
    every = set(_index(output))
    for table, columns in TABLES.items():
        folders = {path.name for path in (dataset / table).iterdir()}
        assert folders == {f"case_id={case}" for case in (every if table == "cases" else read)}
        for folder in (dataset / table).iterdir():
            assert [path.name for path in folder.iterdir()] == ["part-0.parquet"]
            schema = pq.read_schema(folder / "part-0.parquet")
            assert schema.names == [column.name for column in columns]
            assert schema.metadata[b"npsdiag.fleet.schema_version"] == b"1"
            assert schema.metadata[b"npsdiag.fleet.table"] == table.encode()
    start = pq.read_table(dataset / "incidents").schema.field("start").type
    assert str(start) == "timestamp[us, tz=UTC]"


def test_duckdb_counts_equal_the_index(batch: tuple[Path, Path, Path]) -> None:
    _, output, dataset = batch
    con = _connect(dataset)
    index = _index(output)
    rows = con.execute(  # type: ignore[attr-defined]
        """
        SELECT c.case_id, c.status, c.failure_kind, c.problems, c.affected_users,
               c.incidents, c.failed_incidents, c.events_read,
               (SELECT count(*) FROM incidents i WHERE i.case_id = c.case_id AND NOT is_notice),
               (SELECT count(*) FROM incidents i
                WHERE i.case_id = c.case_id AND NOT is_notice AND failed),
               (SELECT count(DISTINCT person) FROM incidents i
                WHERE i.case_id = c.case_id AND NOT is_notice AND failed),
               (SELECT count(*) FROM problems p WHERE p.case_id = c.case_id),
               (SELECT coalesce(sum(records_read), 0) FROM sources s
                WHERE s.case_id = c.case_id),
               (SELECT count(*) FROM events e WHERE e.case_id = c.case_id),
               (SELECT coalesce(sum(events), 0) FROM incidents i WHERE i.case_id = c.case_id)
        FROM cases c ORDER BY c.case_id
        """
    ).fetchall()
    assert [row[0] for row in rows] == sorted(index)
    for row in rows:
        case = index[row[0]]
        assert row[1:8] == (
            case["status"],
            case["failure_kind"],
            case["problems"],
            case["affected_users"],
            case["incidents"],
            case["failed_incidents"],
            case["events_read"],
        )
        if case["status"] == "ok":
            assert row[8:13] == (
                case["incidents"],
                case["failed_incidents"],
                case["affected_users"],
                case["problems"],
                case["events_read"],
            )
            assert row[13] == row[14] > 0
    # The problems of the cases are the index's causes.
    causes = con.execute(  # type: ignore[attr-defined]
        "SELECT entry_id, count(DISTINCT case_id) FROM problems GROUP BY entry_id"
    ).fetchall()
    document = json.loads((output / "index.json").read_text(encoding="utf-8"))
    assert sorted(causes) == sorted((row["entry_id"], row["cases"]) for row in document["causes"])


def test_pandas_reads_the_same_counts(batch: tuple[Path, Path, Path]) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    _, output, dataset = batch
    hive = ds.partitioning(pa.schema([("case_id", pa.string())]), flavor="hive")
    incidents = pd.read_parquet(dataset / "incidents", partitioning=hive)
    attempts = incidents[~incidents.is_notice]
    counted = attempts.groupby("case_id", observed=True).size().to_dict()
    affected = (
        attempts[attempts.failed].groupby("case_id", observed=True).person.nunique().to_dict()
    )
    for case_id, case in _index(output).items():
        if case["status"] == "ok":
            assert counted.get(case_id, 0) == case["incidents"]
            assert affected.get(case_id, 0) == case["affected_users"]
    assert str(attempts.start.dt.tz) == "UTC"


def test_the_documented_queries_run(batch: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Every SQL and Python block of docs/fleet-dataset.md runs against a real dataset."""
    _, _, dataset = batch
    text = DOC.read_text(encoding="utf-8")
    place = dataset.as_posix()
    blocks = re.findall(r"```sql\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 5
    con = duckdb.connect()
    results = []
    for block in blocks:
        for statement in block.split(";"):
            if statement.strip():
                done = con.execute(statement.replace("'fleet/", f"'{place}/"))
                if statement.strip().upper().startswith("SELECT"):
                    results.append(done.fetchall())
    top, by_tenant, affected, timeouts, _counts = results
    assert any(row[1] == "ext.ests-token-error.aadsts700027" for row in top)
    assert ("fabrikam.com", "AADSTS700027") in {(row[0], row[1]) for row in by_tenant}
    assert affected and all(row[1] > 0 for row in affected)
    assert timeouts and timeouts[0][1] > 0

    python = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    pandas_block = next(block for block in python if "read_parquet" in block)
    names: dict[str, object] = {}
    exec(pandas_block.replace('f"fleet/', f'f"{place}/'), names)  # our own docs
    assert len(names["causes"]) == len(top)  # type: ignore[arg-type]
    assert int(names["timeouts"].sum()) == sum(row[1] for row in timeouts)  # type: ignore[attr-defined]


def test_documented_columns_are_the_schema() -> None:
    text = DOC.read_text(encoding="utf-8")
    for table, columns in TABLES.items():
        section = text.split(f"### `{table}`", 1)[1].split("\n### ", 1)[0]
        documented = re.findall(r"^\| `([a-z_]+)` \| ([a-z0-9<>,]+) \|", section, re.MULTILINE)
        assert documented == [(column.name, column.type) for column in columns], table


def test_same_bytes_in_process_and_with_workers(
    batch: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    collected, _, dataset = batch
    again = tmp_path / "fleet"
    run_batch([str(collected)], tmp_path / "review", workers=1, dataset=again)
    assert tree(again) == tree(dataset)


def test_a_case_run_again_replaces_its_partition(tmp_path: Path) -> None:
    first = tmp_path / "one"
    first.mkdir()
    shutil.copytree(SAMPLES / "healthy", first / "ticket-1")
    shutil.copytree(SAMPLES / "cert-expired", first / "ticket-2")
    dataset = tmp_path / "fleet"
    run_batch([str(first)], tmp_path / "r1", workers=1, dataset=dataset)
    # A second collection: ticket-2 again (now another case's logs), ticket-3 new, and
    # ticket-1 not in it at all.
    second = tmp_path / "two"
    second.mkdir()
    shutil.copytree(SAMPLES / "client-timeout", second / "ticket-2")
    shutil.copytree(SAMPLES / "mixed", second / "ticket-3")
    (second / "ticket-4.zip").write_bytes(b"PK\x03\x04 not a zip")
    run_batch([str(second)], tmp_path / "r2", workers=1, dataset=dataset)
    con = _connect(dataset)
    rows = con.execute(  # type: ignore[attr-defined]
        "SELECT case_id, path, status FROM cases ORDER BY case_id"
    ).fetchall()
    assert [(row[0], Path(row[1]).parent.name, row[2]) for row in rows] == [
        ("ticket-1", "one", "ok"),
        ("ticket-2", "two", "ok"),
        ("ticket-3", "two", "ok"),
        ("ticket-4", "two", "failed"),
    ]
    entries = con.execute(  # type: ignore[attr-defined]
        "SELECT DISTINCT entry_id FROM problems WHERE case_id = 'ticket-2'"
    ).fetchall()
    assert "ext.ests-token-error.aadsts700027" not in {row[0] for row in entries}
    assert not (dataset / "incidents" / "case_id=ticket-4").exists()

    # The case fails now: its data partitions go, its row says why.
    shutil.rmtree(second / "ticket-3")
    (second / "ticket-3").mkdir()
    run_batch([str(second)], tmp_path / "r3", workers=1, dataset=dataset)
    assert not (dataset / "events" / "case_id=ticket-3").exists()
    status = con.execute(  # type: ignore[attr-defined]
        "SELECT status, failure_kind FROM cases WHERE case_id = 'ticket-3'"
    ).fetchall()
    assert status == [("failed", "nothing readable")]


def test_an_interrupted_case_leaves_no_partition(tmp_path: Path) -> None:
    collected = tmp_path / "collected"
    collected.mkdir()
    shutil.copytree(SAMPLES / "healthy", collected / "a-healthy")
    shutil.copytree(SAMPLES / "mixed", collected / "b-mixed")
    dataset = tmp_path / "fleet"
    # An earlier run of b-mixed, whose partitions the interrupted run has begun replacing.
    run_batch([str(collected)], tmp_path / "before", workers=1, dataset=dataset)

    first_done: list[int] = []

    def interrupt(progress: BatchProgress) -> None:
        if progress.cases_done == 1 and not first_done:
            first_done.append(progress.files_done)
        elif first_done and progress.files_done >= first_done[0] + 2:  # inside b-mixed
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch([str(collected)], tmp_path / "review", workers=1, dataset=dataset,
                  on_progress=interrupt)  # fmt: skip
    for table in TABLES:
        assert (dataset / table / "case_id=a-healthy" / "part-0.parquet").is_file()
        assert not (dataset / table / "case_id=b-mixed").exists()
    assert not list(dataset.rglob("*.partial"))


def test_redacted_dataset_names_nobody(tmp_path: Path) -> None:
    collected = make_collection(tmp_path, samples=("cert-expired", "user-not-in-entra"))
    dataset = tmp_path / "fleet"
    run_batch([str(collected)], tmp_path / "review", workers=1, redact=True, dataset=dataset)
    names = user_names(("cert-expired", "user-not-in-entra"))
    con = _connect(dataset)
    for table in TABLES:
        for row in con.execute(f"SELECT * FROM {table}").fetchall():  # type: ignore[attr-defined]
            text = json.dumps(row, default=str).lower()
            leaked = [
                name
                for name in names
                if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", text)
            ]
            assert leaked == [], (table, leaked)
    redacted = con.execute("SELECT DISTINCT redacted FROM cases").fetchall()  # type: ignore[attr-defined]
    assert redacted == [(True,)]


def test_undecodable_text_is_written_as_its_escape() -> None:
    import pyarrow as pa

    from npsdiag.fleet_dataset import _arrow_schema, _table

    schema = _arrow_schema("sources", pa)
    columns: dict[str, list[object]] = {column.name: [None] for column in TABLES["sources"]}
    columns["name"] = ["logs/\udcff.evtx"]
    columns["channels"] = [["Security\udc80"]]
    columns["size"] = [2**64 - 1]  # a damaged record's number past 64 bits
    table = _table(columns, schema, pa)
    assert table.column("size").to_pylist() == [None]
    assert table.column("name").to_pylist() == ["logs/\\udcff.evtx"]
    assert table.column("channels").to_pylist() == [["Security\\udc80"]]


def test_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    collected = make_collection(tmp_path, samples=("healthy",))
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="not an npsdiag fleet dataset"):
        run_batch([str(collected)], tmp_path / "r", workers=1, dataset=other)
    with pytest.raises(UsageError, match="overlap"):
        run_batch([str(collected)], tmp_path / "r", workers=1, dataset=tmp_path / "r" / "fleet")
    with pytest.raises(UsageError, match="inside the input"):
        run_batch([str(collected)], tmp_path / "r", workers=1, dataset=collected / "fleet")
    old = tmp_path / "old"
    old.mkdir()
    (old / MANIFEST).write_text(
        json.dumps({"format": "npsdiag-fleet-dataset", "schema_version": 99}), encoding="utf-8"
    )
    with pytest.raises(UsageError, match="schema version 99"):
        run_batch([str(collected)], tmp_path / "r", workers=1, dataset=old)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(UsageError, match=re.escape("pip install 'npsdiag[dataset]'")):
        run_batch([str(collected)], tmp_path / "r", workers=1, dataset=tmp_path / "new")


def test_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    collected = make_collection(tmp_path, samples=("healthy", "cert-expired"))
    dataset = tmp_path / "fleet"
    code, out, err = run(
        capsys, "batch", str(collected), "-o", str(tmp_path / "review"), "--dataset", str(dataset)
    )
    assert code == 1, err
    assert out.startswith("4 cases: 2 read, 2 failed")
    assert (dataset / "cases" / "case_id=healthy" / "part-0.parquet").is_file()
    code, _, err = run(
        capsys, "batch", str(collected), "-o", str(tmp_path / "r2"), "--dataset",
        str(collected / "x"),
    )  # fmt: skip
    assert code == 2
    assert err.count("\n") == 1 and "inside the input" in err


def test_a_big_case_is_written_in_slices_with_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import npsdiag.fleet_dataset as fleet

    collected = tmp_path / "collected"
    collected.mkdir()
    shutil.copytree(SAMPLES / "mixed", collected / "mixed")
    run_batch([str(collected)], tmp_path / "r1", workers=1, dataset=tmp_path / "whole")
    monkeypatch.setattr(fleet, "_BATCH_ROWS", 7)
    monkeypatch.setattr(fleet, "_GROUP_ROWS", 20)
    run_batch([str(collected)], tmp_path / "r2", workers=1, dataset=tmp_path / "sliced")
    for table in ("incidents", "events"):
        part = f"{table}/case_id=mixed/part-0.parquet"
        whole, sliced = (
            pq.ParquetFile(tmp_path / "whole" / part),
            pq.ParquetFile(tmp_path / "sliced" / part),
        )
        assert whole.metadata.num_row_groups == 1
        groups = [
            sliced.metadata.row_group(i).num_rows for i in range(sliced.metadata.num_row_groups)
        ]
        assert len(groups) > 2 and all(rows == 21 for rows in groups[:-1])
        assert sliced.read().equals(whole.read())
