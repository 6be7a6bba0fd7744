"""Write the fleet dataset of ``npsdiag batch --dataset DIR``: Parquet, one partition per case.

Each case's (redacted, when ``--redact``) analysis becomes rows of five tables (incidents,
events, problems, config_findings, sources), written by whoever analysed the case (the
batch's worker process, or a cluster worker), and one row of ``cases``, written by the batch
itself from the case's summary once the case is over. Layout and columns:
:mod:`npsdiag.fleet_schema` and docs/fleet-dataset.md.

**Replacing a case.** A case's old partitions go when it starts (``cases`` first), exactly
like its old reports, and its new ones are written whole: every file goes to a hidden
temporary name (``.part-0.parquet.<random>.partial``, which Parquet readers skip) and is
renamed into place once all five are complete; the ``cases`` row comes last. So a case with a
row in ``cases`` has all its other partitions, from the same run; a case stopped half-way
has none (the batch removes what it may have renamed, as it removes its reports).

pyarrow is imported only here and only when a dataset is written (the ``dataset`` extra).
Rows are in the analysis' own order (incidents in time order, then notices; problems by
rank; sources by name), so the same case gives the same bytes every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npsdiag import __version__, _atomic, _tempfiles
from npsdiag._names import upn_domain
from npsdiag.errors import DatasetError, UsageError
from npsdiag.fleet_schema import (
    DATASET_FORMAT,
    MANIFEST,
    PARTITION_KEY,
    SCHEMA_VERSION,
    TABLES,
    manifest,
)
from npsdiag.model import FAILED_OUTCOMES, as_utc

if TYPE_CHECKING:
    from npsdiag.batch_result import CaseSummary
    from npsdiag.catalog import Catalog
    from npsdiag.model import Analysis, Finding, Incident

__all__ = [
    "DATA_TABLES",
    "EXTRA_HINT",
    "discard_case",
    "partition_folder",
    "prepare_dataset",
    "require_pyarrow",
    "write_case",
    "write_case_row",
]

#: The tables written from a case's analysis (``cases`` is written from its summary).
DATA_TABLES = ("incidents", "events", "problems", "config_findings", "sources")
#: What to install for ``--dataset``.
EXTRA_HINT = "pip install 'npsdiag[dataset]'"
_PART = "part-0.parquet"
#: Rows of the incidents and events tables built as Python objects at a time: a huge case
#: is converted in slices, so that its rows are never all in memory as objects at once...
_BATCH_ROWS = 4_096
#: ... and written in row groups of this many rows (Arrow's compact columns until then).
_GROUP_ROWS = 16_384
_COMPRESSION = "zstd"
_METADATA_VERSION = b"npsdiag.fleet.schema_version"
_METADATA_TABLE = b"npsdiag.fleet.table"


def require_pyarrow() -> None:
    """Fail early, as a usage error, when pyarrow (the ``dataset`` extra) is missing."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UsageError(
            "--dataset needs pyarrow, which is not installed", hint=EXTRA_HINT
        ) from None


def prepare_dataset(root: Path) -> None:
    """Make ``root`` a dataset folder (or check that it is one) before any case runs.

    Raises:
        UsageError: pyarrow is missing, ``root`` holds something else, or a dataset of
            another format or schema version.
    """
    require_pyarrow()
    path = root / MANIFEST
    if path.is_file():
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read '{path}': {error}") from None
        if not isinstance(found, dict) or found.get("format") != DATASET_FORMAT:
            raise UsageError(
                f"'{root}' is not an npsdiag fleet dataset", hint="give another --dataset folder"
            )
        if found.get("schema_version") != SCHEMA_VERSION:
            raise UsageError(
                f"'{root}' holds a fleet dataset of schema version "
                f"{found.get('schema_version')}; this npsdiag writes version {SCHEMA_VERSION}",
                hint="give a new --dataset folder",
            )
    elif root.is_dir() and any(not path.name.startswith(".") for path in root.iterdir()):
        raise UsageError(
            f"'{root}' is not empty and is not an npsdiag fleet dataset",
            hint="give a new or empty --dataset folder",
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        _atomic.write_text_atomic(path, json.dumps(manifest(), indent=2, sort_keys=True) + "\n")
    except OSError as error:
        raise UsageError(f"cannot write '{path}': {error.strerror or error}") from None


def partition_folder(root: Path, table: str, case_id: str) -> Path:
    """``root/<table>/case_id=<case_id>`` (case ids hold only ``a-z0-9_-``: no escaping)."""
    return root / table / f"{PARTITION_KEY}={case_id}"


def discard_case(root: Path, case_id: str, tables: Sequence[str] = ("cases", *DATA_TABLES)) -> None:
    """Remove a case's partitions (``cases`` first, so no row claims a half case)."""
    for table in tables:
        folder = partition_folder(root, table, case_id)
        if folder.is_symlink():
            with contextlib.suppress(OSError):
                folder.unlink()
            continue
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def write_case(root: Path, case_id: str, analysis: Analysis, catalog: Catalog | None) -> None:
    """Write the five data tables of one case (staged, then renamed into place together).

    Raises:
        DatasetError: a file cannot be written; nothing of the case is left behind.
    """
    import pyarrow as pa

    builders: list[tuple[str, Callable[[], Iterator[dict[str, list[Any]]]]]] = [
        ("incidents", lambda: _incident_rows(analysis)),
        ("events", lambda: _event_rows(analysis)),
        ("problems", lambda: iter([_problem_rows(analysis, catalog)])),
        ("config_findings", lambda: iter([_config_rows(analysis)])),
        ("sources", lambda: iter([_source_rows(analysis)])),
    ]
    staged: list[tuple[Path, Path]] = []
    try:
        for table, rows in builders:
            folder = partition_folder(root, table, case_id)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / _PART
            staged.append((_write_staged(target, table, rows(), pa), target))
        for temporary, target in staged:
            temporary.replace(target)
            _tempfiles.unregister(temporary)
    except OSError as error:
        for temporary, _ in staged:
            with contextlib.suppress(OSError):
                temporary.unlink()
            _tempfiles.unregister(temporary)
        discard_case(root, case_id, DATA_TABLES)
        raise DatasetError(
            f"cannot write the fleet dataset of case '{case_id}' under '{root}': "
            f"{error.strerror or error}",
            hint="check that the --dataset folder is writable and has space",
        ) from None


def write_case_row(root: Path, summary: CaseSummary, redacted: bool) -> None:
    """Write the ``cases`` row of one finished case (ok or failed).

    A failed case keeps no data partition: whatever its worker may have renamed into place
    before it died goes first.

    Raises:
        DatasetError: the file cannot be written.
    """
    import pyarrow as pa

    case = summary.case
    if not summary.ok:
        discard_case(root, case.case_id, DATA_TABLES)
    row: dict[str, list[Any]] = {
        "schema_version": [SCHEMA_VERSION],
        "name": [case.name],
        "path": [case.path],
        "kind": [case.kind],
        "status": [summary.status],
        "failure_kind": [summary.failure_kind],
        "reason": [summary.reason],
        "server": [summary.server],
        "verdict": [summary.verdict],
        "problems": [summary.problems],
        "top_problem_id": [summary.top_entry_id],
        "top_problem_severity": [summary.top_severity],
        "top_problem_title": [summary.top_title],
        "affected_users": [summary.affected_users],
        "incidents": [summary.incidents],
        "failed_incidents": [summary.failed_incidents],
        "start": [_parse_time(summary.start)],
        "end": [_parse_time(summary.end)],
        "files": [summary.files],
        "files_read": [summary.files_read],
        "events_read": [summary.events_read],
        "records_failed": [summary.records_failed],
        "tenant_domain": [summary.tenant_domain],
        "redacted": [redacted],
        "npsdiag_version": [__version__],
    }
    folder = partition_folder(root, "cases", case.case_id)
    target = folder / _PART
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = _write_staged(target, "cases", iter([row]), pa)
        temporary.replace(target)
        _tempfiles.unregister(temporary)
    except OSError as error:
        raise DatasetError(
            f"cannot write '{target}': {error.strerror or error}",
            hint="check that the --dataset folder is writable and has space",
        ) from None


# ------------------------------------------------------------------------------ writing


def _arrow_schema(table: str, pa: Any) -> Any:
    types = {
        "string": pa.string(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "list<string>": pa.list_(pa.string()),
        "map<string,string>": pa.map_(pa.string(), pa.string()),
    }
    fields = [pa.field(column.name, types[column.type]) for column in TABLES[table]]
    return pa.schema(
        fields,
        metadata={_METADATA_VERSION: str(SCHEMA_VERSION).encode(), _METADATA_TABLE: table},
    )


def _write_staged(
    target: Path, table: str, batches: Iterator[dict[str, list[Any]]], pa: Any
) -> Path:
    """Write the rows to a hidden temporary file next to ``target``; return its path."""
    import pyarrow.parquet as pq

    schema = _arrow_schema(table, pa)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}{_atomic.PARTIAL_SUFFIX}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    _tempfiles.register(temporary, folder=False)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            with pq.ParquetWriter(stream, schema, compression=_COMPRESSION) as writer:
                pending: list[Any] = []
                rows = 0
                for batch in batches:
                    if batch[schema.names[0]]:
                        pending.append(_table(batch, schema, pa))
                        rows += pending[-1].num_rows
                    if rows >= _GROUP_ROWS:
                        writer.write_table(pa.concat_tables(pending))
                        pending, rows = [], 0
                if pending:
                    writer.write_table(pa.concat_tables(pending))
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        _tempfiles.unregister(temporary)
        raise
    return temporary


def _table(columns: dict[str, list[Any]], schema: Any, pa: Any) -> Any:
    arrays = []
    for field in schema:
        values = columns[field.name]
        try:
            arrays.append(pa.array(values, type=field.type))
        except UnicodeEncodeError:
            # Undecodable bytes of a file name arrive as lone surrogates, which UTF-8 (and
            # so Parquet) cannot hold: written as their escapes, as the reports show them.
            arrays.append(pa.array([_clean(value) for value in values], type=field.type))
        except (OverflowError, pa.ArrowException):
            if not pa.types.is_integer(field.type):
                raise
            # A damaged record may carry a number past 64 bits (a record id): unknown here.
            arrays.append(pa.array([_int64(value) for value in values], type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_clean(item) for item in value)
    return value


def _int64(value: Any) -> int | None:
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    return None


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=timezone.utc)


def _utc(when: datetime | None) -> datetime | None:
    return None if when is None else as_utc(when)


# ------------------------------------------------------------------------------- rows


def _empty(table: str) -> dict[str, list[Any]]:
    return {column.name: [] for column in TABLES[table]}


def _items(analysis: Analysis) -> Iterator[tuple[int, Incident, bool]]:
    """Every incident, then every notice, with its position in the case."""
    position = 0
    for items, notice in ((analysis.incidents, False), (analysis.notices, True)):
        for incident in items:
            yield position, incident, notice
            position += 1


def _first_values(findings: Sequence[Finding]) -> tuple[Any, Any, Any, Any, Any]:
    """The first client name, client address, NAS address, reason code and computer the
    findings give (one pass: a dense case has hundreds of thousands of incidents)."""
    name = client = nas = reason = computer = None
    for finding in findings:
        if name is None and finding.client_name:
            name = finding.client_name
        if client is None and finding.client_ip:
            client = finding.client_ip
        if nas is None and finding.nas_ip:
            nas = finding.nas_ip
        if reason is None and finding.reason_code is not None:
            reason = finding.reason_code
        if computer is None and finding.event.computer:
            computer = finding.event.computer
    return name, client, nas, reason, computer


def _user_domain(incident: Incident) -> str | None:
    return upn_domain((incident.user, incident.person, *(f.user for f in incident.findings)))


def _aadsts(findings: Sequence[Finding]) -> list[str]:
    return list(dict.fromkeys(code for finding in findings for code in finding.aadsts))


def _in_slices(table: str, records: Iterable[Sequence[Any]]) -> Iterator[dict[str, list[Any]]]:
    """``records`` (one value per column of ``table``, in order) as column lists, in slices
    of at most :data:`_BATCH_ROWS` rows (the last one possibly empty)."""
    rows = _empty(table)
    # Bound appends: one per value of hundreds of thousands of rows.
    add = [rows[column.name].append for column in TABLES[table]]
    count = 0
    for values in records:
        for append, value in zip(add, values, strict=True):
            append(value)
        count += 1
        if count == _BATCH_ROWS:
            yield rows
            rows = _empty(table)
            add = [rows[column.name].append for column in TABLES[table]]
            count = 0
    yield rows


def _incident_rows(analysis: Analysis) -> Iterator[dict[str, list[Any]]]:
    """The incidents table in slices of at most :data:`_BATCH_ROWS` rows."""
    return _in_slices("incidents", _incident_values(analysis))


def _incident_values(analysis: Analysis) -> Iterator[tuple[Any, ...]]:
    for position, incident, notice in _items(analysis):
        findings = incident.findings
        diagnosis = incident.diagnosis
        name, client, nas, reason, computer = _first_values(findings)
        yield (
            position,
            incident.key,
            notice,
            _utc(incident.start),
            _utc(incident.end),
            incident.outcome,
            incident.outcome in FAILED_OUTCOMES,
            incident.user,
            incident.person,
            _user_domain(incident),
            incident.cid,
            list(incident.codes),
            _aadsts(findings),
            diagnosis.entry_id if diagnosis else None,
            diagnosis.title if diagnosis else None,
            diagnosis.category if diagnosis else None,
            diagnosis.severity if diagnosis else None,
            diagnosis.confidence if diagnosis else None,
            diagnosis.because if diagnosis else None,
            name,
            client,
            nas,
            reason,
            computer,
            len(findings),
        )


def _event_rows(analysis: Analysis) -> Iterator[dict[str, list[Any]]]:
    """The events table in slices of at most :data:`_BATCH_ROWS` rows."""
    return _in_slices("events", _event_values(analysis))


def _event_values(analysis: Analysis) -> Iterator[tuple[Any, ...]]:
    for index, incident, notice in _items(analysis):
        key = incident.diagnosis.key_evidence if incident.diagnosis else None
        for position, finding in enumerate(incident.findings):
            event = analysis.full_event(finding.event)
            yield (
                index,
                incident.key,
                notice,
                position,
                key == position,
                as_utc(event.time),
                event.computer,
                event.channel,
                event.provider,
                event.event_id,
                event.level,
                event.record_id,
                event.origin,
                finding.kind,
                finding.user,
                finding.cid,
                list(finding.codes),
                list(finding.aadsts),
                finding.reason_code,
                finding.client_name,
                finding.client_ip,
                finding.nas_ip,
                finding.error_code,
                finding.detail,
                event.message,
                list(event.data),
                list(event.fields.items()),
            )


def _problem_rows(analysis: Analysis, catalog: Catalog | None) -> dict[str, list[Any]]:
    rows = _empty("problems")
    for rank, problem in enumerate(analysis.problems, start=1):
        entry = catalog.find(problem.entry_id) if catalog is not None else None
        family = entry.family if entry is not None else ".".join(problem.entry_id.split(".")[:2])
        users = [user for user in problem.users if user]
        values = {
            "rank": rank,
            "entry_id": problem.entry_id,
            "family": family,
            "title": problem.title,
            "category": problem.category,
            "severity": problem.severity,
            "confidence": problem.confidence,
            "scope": problem.scope,
            "users": len(set(users)),
            "user_names": users,
            "incidents": len(problem.incident_keys),
            "incident_keys": list(problem.incident_keys),
            "start": as_utc(problem.start),
            "end": as_utc(problem.end),
            "because": problem.because,
            "missing": list(problem.missing),
        }
        for name, value in values.items():
            rows[name].append(value)
    return rows


_CONFIG_KEYS = tuple(column.name for column in TABLES["config_findings"][1:-1])


def _config_rows(analysis: Analysis) -> dict[str, list[Any]]:
    rows = _empty("config_findings")
    for position, finding in enumerate(analysis.config_findings):
        rows["position"].append(position)
        for name in _CONFIG_KEYS:
            rows[name].append(finding.get(name))
        rows["extra"].append(
            [(key, value) for key, value in finding.items() if key not in _CONFIG_KEYS]
        )
    return rows


def _source_rows(analysis: Analysis) -> dict[str, list[Any]]:
    rows = _empty("sources")
    for position, source in enumerate(analysis.sources):
        values = {
            "position": position,
            "name": source.name,
            "kind": source.kind,
            "size": source.size,
            "status": source.status,
            "records_read": source.records_read,
            "records_relevant": source.records_relevant,
            "records_failed": source.records_failed,
            "first_time": _utc(source.first_time),
            "last_time": _utc(source.last_time),
            "channels": list(source.channels),
            "messages": list(source.messages),
            "zoneless_times": source.zoneless_times,
        }
        for name, value in values.items():
            rows[name].append(value)
    return rows
