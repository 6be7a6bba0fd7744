"""The schema of the fleet dataset (``npsdiag batch --dataset DIR``), as plain data.

Six tables, each a folder of Parquet files partitioned by case (hive layout:
``DIR/<table>/case_id=<id>/part-0.parquet``). The column lists below are the documented
schema (docs/fleet-dataset.md lists the same columns; a test keeps them equal); the
Arrow types are built from them only where pyarrow is imported
(:mod:`npsdiag.fleet_dataset`), so this module imports nothing heavy.

:data:`SCHEMA_VERSION` changes when a column changes meaning, type or disappears; new
columns may be added at the end of a table without a change.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "DATASET_FORMAT",
    "MANIFEST",
    "PARTITION_KEY",
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "manifest",
]

#: Version of the columns below (also in every file's metadata and in ``dataset.json``).
SCHEMA_VERSION = 1
#: ``format`` of ``dataset.json``.
DATASET_FORMAT = "npsdiag-fleet-dataset"
#: The file at the dataset's root that names its format and schema version.
MANIFEST = "dataset.json"
#: The hive partition key: the case's id, as in the batch index (never a column in a file).
PARTITION_KEY = "case_id"


class Column(NamedTuple):
    """One column: its name, its type (``string``, ``int64``, ``bool``, ``timestamp``,
    ``list<string>``, ``map<string,string>``) and what it holds."""

    name: str
    type: str
    doc: str


def _columns(*rows: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*row) for row in rows)


_INCIDENT_LINK = (
    ("incident_index", "int64", "position of the incident in the case (incidents table)"),
    ("incident_key", "string", "the incident's key (a CID, else user and time)"),
    ("is_notice", "bool", "true for a configuration notice, false for a sign-in attempt"),
)

#: Table name -> columns, in file order. ``case_id`` comes from the partition folder.
TABLES: dict[str, tuple[Column, ...]] = {
    # Written last for each case, by the batch itself: a case's row here means that all
    # of its other partitions are complete and come from the same run.
    "cases": _columns(
        ("schema_version", "int64", "schema version of this row (1)"),
        ("name", "string", "the case's file or folder name"),
        ("path", "string", "the case's path as found (as the inputs were typed)"),
        ("kind", "string", "folder, zip, files or file"),
        ("status", "string", "ok or failed"),
        ("failure_kind", "string", "for a failed case: unusable zip, timed out, ..."),
        ("reason", "string", "for a failed case: one line saying why"),
        ("server", "string", "the computer named by most evidence events"),
        ("verdict", "string", "problems, healthy or no-evidence (null for a failed case)"),
        ("problems", "int64", "problems found"),
        ("top_problem_id", "string", "catalog id of the worst problem"),
        ("top_problem_severity", "string", "its severity"),
        ("top_problem_title", "string", "its title"),
        ("affected_users", "int64", "persons with a failed attempt"),
        ("incidents", "int64", "sign-in attempts (notices not counted)"),
        ("failed_incidents", "int64", "failed attempts"),
        ("start", "timestamp", "first time in the case's data (UTC)"),
        ("end", "timestamp", "last time in the case's data (UTC)"),
        ("files", "int64", "inputs accounted for (bundle members included)"),
        ("files_read", "int64", "inputs read completely or partly"),
        ("events_read", "int64", "records read"),
        ("records_failed", "int64", "records that could not be decoded"),
        (
            "tenant_domain",
            "string",
            "the UPN domain most of the case's attempts name "
            "(an NPS server's extension serves one tenant)",
        ),
        ("redacted", "bool", "whether the case went through --redact"),
        ("npsdiag_version", "string", "the npsdiag that wrote the row"),
    ),
    "incidents": _columns(
        ("incident_index", "int64", "position in the case: attempts in time order, then notices"),
        ("incident_key", "string", "the incident's key (a CID, else user and time)"),
        ("is_notice", "bool", "true for a configuration notice, false for a sign-in attempt"),
        ("start", "timestamp", "first event (UTC)"),
        ("end", "timestamp", "last event (UTC)"),
        ("outcome", "string", "accepted, rejected, error, no-answer, timed-out, ..."),
        ("failed", "bool", "the attempt failed (rejected, error, no-answer, timed-out, ...)"),
        ("user", "string", "the user as the events name them"),
        ("person", "string", "the person (every spelling of one account counted once)"),
        ("user_domain", "string", "domain of the user's UPN, when the events give one"),
        ("cid", "string", "the extension's correlation id"),
        ("codes", "list<string>", "error codes of the extension (ESTS_TOKEN_ERROR ...)"),
        ("aadsts", "list<string>", "AADSTS codes in the evidence, in order of appearance"),
        ("entry_id", "string", "catalog id of the diagnosis"),
        ("title", "string", "title of the diagnosis"),
        ("category", "string", "category of the diagnosis"),
        ("severity", "string", "severity of the diagnosis"),
        ("confidence", "string", "high, medium or low"),
        ("because", "string", "what the diagnosis rests on"),
        ("client_name", "string", "RADIUS client (gateway, VPN server) as NPS names it"),
        ("client_ip", "string", "the RADIUS client's address"),
        ("nas_ip", "string", "the NAS address the client sent"),
        ("reason_code", "int64", "NPS reason code of the decision"),
        ("server", "string", "computer of the first evidence event"),
        ("events", "int64", "evidence events (rows in the events table)"),
    ),
    "events": _columns(
        *_INCIDENT_LINK,
        ("position", "int64", "position of the event in its incident's evidence"),
        ("key_evidence", "bool", "the event the diagnosis rests on"),
        ("time", "timestamp", "TimeCreated (UTC)"),
        ("computer", "string", "System/Computer"),
        ("channel", "string", "System/Channel"),
        ("provider", "string", "System/Provider/@Name"),
        ("event_id", "int64", "System/EventID"),
        ("level", "int64", "System/Level"),
        ("record_id", "int64", "System/EventRecordID"),
        ("origin", "string", "the file (or zip!member) the record came from"),
        ("kind", "string", "what the event says (ext.rejected, nps.denied, ...)"),
        ("user", "string", "user named by the event"),
        ("cid", "string", "the extension's correlation id"),
        ("codes", "list<string>", "error codes"),
        ("aadsts", "list<string>", "AADSTS codes"),
        ("reason_code", "int64", "NPS reason code"),
        ("client_name", "string", "RADIUS client name"),
        ("client_ip", "string", "RADIUS client address"),
        ("nas_ip", "string", "NAS address"),
        ("error_code", "int64", "numeric error of a gateway or VPN client event"),
        ("detail", "string", "the extension's message detail"),
        ("message", "string", "rendered message, when the export carried one"),
        ("data", "list<string>", "unnamed EventData values"),
        ("fields", "map<string,string>", "named EventData and UserData values"),
    ),
    "problems": _columns(
        ("rank", "int64", "1 = worst (severity, scope, users)"),
        ("entry_id", "string", "catalog id"),
        ("family", "string", "cause family (the id's first two parts)"),
        ("title", "string", "title"),
        ("category", "string", "configuration, user, connectivity, ..."),
        ("severity", "string", "critical, high, medium, low, info"),
        ("confidence", "string", "high, medium or low"),
        ("scope", "string", "server or user"),
        ("users", "int64", "distinct users named"),
        ("user_names", "list<string>", "the users"),
        ("incidents", "int64", "incidents it explains"),
        ("incident_keys", "list<string>", "their keys"),
        ("start", "timestamp", "first incident (UTC)"),
        ("end", "timestamp", "last incident (UTC)"),
        ("because", "string", "what it rests on"),
        ("missing", "list<string>", "logs whose absence weakens it"),
    ),
    "config_findings": _columns(
        ("position", "int64", "order in the case's report"),
        ("id", "string", "catalog id of the check"),
        ("title", "string", "title"),
        ("category", "string", "category (not-an-error for harmless values)"),
        ("severity", "string", "severity"),
        ("statement", "string", "the check's sentence (checks of collected facts)"),
        ("key", "string", "registry key, or fact table"),
        ("value", "string", "registry value name, or fact"),
        ("data", "string", "the value found"),
        ("evidence", "string", "where it was read"),
        ("fix", "string", "what to change"),
        ("source", "string", "the input it was read from"),
        ("extra", "map<string,string>", "any other key of the finding"),
    ),
    "sources": _columns(
        ("position", "int64", "order in the case's report (by name)"),
        ("name", "string", "the input (file, or zip!member)"),
        ("kind", "string", "evtx, xml, wevtutil-text, regquery, trace, zip, unknown"),
        ("size", "int64", "bytes"),
        ("status", "string", "ok, partial, unreadable, skipped or listed"),
        ("records_read", "int64", "records read"),
        ("records_relevant", "int64", "records npsdiag used"),
        ("records_failed", "int64", "records that could not be decoded"),
        ("first_time", "timestamp", "first record (UTC)"),
        ("last_time", "timestamp", "last record (UTC)"),
        ("channels", "list<string>", "channels of the records read"),
        ("messages", "list<string>", "what went wrong reading it (first few)"),
        ("zoneless_times", "int64", "records whose time carried no time zone"),
    ),
}


def manifest() -> dict[str, object]:
    """The content of ``dataset.json``: format, schema version, tables and their columns."""
    return {
        "format": DATASET_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "partitioning": {"flavor": "hive", "key": PARTITION_KEY, "type": "string"},
        "tables": {
            name: [{"name": c.name, "type": c.type, "doc": c.doc} for c in columns]
            for name, columns in TABLES.items()
        },
    }
