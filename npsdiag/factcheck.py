"""Evaluate the catalog's checks over collected facts (certificates, auditing, extension).

Each check with ``facts:`` (:class:`~npsdiag.catalog_facts.FactCheck`) reads one table that
:mod:`npsdiag.facts` built from a file ``npsdiag collect`` gathered. Its findings are
configuration findings like the registry checks' (:mod:`npsdiag.configlint`), with one more
field, ``statement``: the sentence the check's ``says`` template makes of the row, such as
``client certificate 3F2A... (CN=9b2c..., OU=Microsoft NPS Extension) expired on
2025-04-30T23:59:59Z``. When a check ``explains`` a problem, the diagnosis adds that sentence
to the problem (:func:`npsdiag.diagnose.link_configuration`).

Nothing here reads files or prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from npsdiag.catalog_facts import FactCheck
from npsdiag.catalog_model import SEVERITIES, Catalog, CatalogEntry
from npsdiag.configlint import ConfigFinding, check_configuration, entry_finding
from npsdiag.errors import FactsReadError, UsageError
from npsdiag.facts import FactTable, HostFacts, auditing_table, certificate_table, extension_table
from npsdiag.sources.auditpol import parse_auditpol
from npsdiag.sources.certificates import parse_certificates
from npsdiag.sources.extension_info import parse_extension_info
from npsdiag.sources.regquery import RegistryDump

__all__ = [
    "FactFinding",
    "check_facts",
    "configuration_findings",
    "example_problems",
    "example_tables",
]


@dataclass(frozen=True, slots=True)
class FactFinding:
    """One fact check that fired: a configuration finding plus the sentence it states.

    Attributes:
        finding: the fields every configuration finding has (:class:`ConfigFinding`): the
            entry's id, title, category and severity; ``key``, what it is about
            (``Cert:\\LocalMachine\\My\\<thumbprint>``, ``Audit policy: Network Policy
            Server``, ``NPS extension``); ``value``, the fields the check tested; ``data``,
            their values (``extension=yes; state=expired``); ``evidence``, the file and the
            row; ``fix``, the entry's first step; ``source``, the file.
        statement: the check's sentence, filled from the row (or the table).
    """

    finding: ConfigFinding
    statement: str

    @property
    def id(self) -> str:
        """The catalog entry's id."""
        return self.finding.id

    def as_dict(self) -> dict[str, str]:
        """The finding as flat string keys (what reports show), the statement after the
        severity."""
        row = self.finding.as_dict()
        head = ("id", "title", "category", "severity")
        return {
            **{key: row[key] for key in head},
            "statement": self.statement,
            **{key: value for key, value in row.items() if key not in head},
        }


def check_facts(facts: HostFacts, catalog: Catalog) -> list[FactFinding]:
    """Evaluate every fact check of ``catalog`` against every table read.

    Returns:
        The findings, worst first, then by id, key and source.
    """
    return _sorted(_run(facts.tables, catalog.fact_checks))


def configuration_findings(
    dumps: Sequence[RegistryDump], facts: HostFacts, catalog: Catalog
) -> list[dict[str, str]]:
    """The registry checks' and the fact checks' findings as report rows, worst first."""
    rows = [finding.as_dict() for finding in check_configuration(dumps, catalog)]
    rows += [finding.as_dict() for finding in check_facts(facts, catalog)]
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}
    # Stable: each list is already in its own order, which this keeps within a severity and id.
    return sorted(rows, key=lambda row: (rank.get(row["severity"], len(rank)), row["id"]))


def example_tables(entry: CatalogEntry, example: str) -> list[FactTable]:
    """The table one ``examples`` text of a fact check stands for (the file, pasted).

    Raises:
        UsageError: ``entry`` has no fact check.
        FactsReadError: the text is not a file of the check's table.
    """
    check = _require(entry)
    data = example.encode("utf-8")
    if check.table == "certificate":
        return [certificate_table(parse_certificates(data, "certificates.json"))]
    if check.table == "auditing":
        return [auditing_table(parse_auditpol(data, "auditpol.csv"))]
    return [extension_table(parse_extension_info(data, "extension.json"))]


def example_problems(entry: CatalogEntry) -> list[str]:
    """Why examples of a fact check fail to trigger it (empty when every one does)."""
    problems: list[str] = []
    for number, example in enumerate(entry.examples, start=1):
        try:
            tables = example_tables(entry, example)
        except FactsReadError as error:
            problems.append(f"example {number} is not a {_require(entry).table} file: {error}")
            continue
        if not _run(tables, (entry,)):
            problems.append(f"example {number} does not trigger the check")
    return problems


def _require(entry: CatalogEntry) -> FactCheck:
    if entry.fact_check is None:
        raise UsageError(f"catalog entry '{entry.id}' is not a check over collected facts")
    return entry.fact_check


def _run(tables: Sequence[FactTable], entries: Sequence[CatalogEntry]) -> list[FactFinding]:
    findings: list[FactFinding] = []
    for entry in entries:
        check = _require(entry)
        for table in tables:
            if table.table == check.table:
                findings.extend(_evaluate(entry, check, table))
    return findings


def _evaluate(entry: CatalogEntry, check: FactCheck, table: FactTable) -> list[FactFinding]:
    tested = check.row_conditions
    value = ", ".join(name for name, _ in tested)
    if check.when == "missing":
        if not check.fits(table.fields, check.table_conditions) or any(
            check.fits(row.fields, tested) for row in table.rows
        ):
            return []
        wanted = " and ".join(f"{name} ~ {pattern}" for name, pattern in tested) or "any row"
        about = [(table.fields, table.key, f"no row with {wanted}", table.summary)]
    else:
        about = [
            (
                row.fields,
                row.key,
                "; ".join(f"{name}={row.fields.get(name, '')}" for name, _ in tested),
                row.evidence,
            )
            for row in table.rows
            if check.fits(row.fields, check.where)
        ]
    return [
        FactFinding(
            entry_finding(entry, key, value, data, evidence, table.source),
            check.statement(fields),
        )
        for fields, key, data, evidence in about
    ]


def _sorted(findings: list[FactFinding]) -> list[FactFinding]:
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(
        findings,
        key=lambda f: (
            rank.get(f.finding.severity, len(rank)),
            f.id,
            f.finding.key,
            f.finding.source,
            f.statement,
        ),
    )
