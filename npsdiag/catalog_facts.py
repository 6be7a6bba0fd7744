"""Catalog checks over the facts ``npsdiag collect`` gathers on the server.

A configuration ``check`` normally reads registry dumps (``key: azuremfa``, see
:mod:`npsdiag.catalog`). A check with ``facts:`` instead reads one of the fact tables that
:mod:`npsdiag.facts` builds from a collected bundle: the certificates of the computer's store,
the NPS audit policy, the installed extension. Each table has rows of named string fields
(:data:`FACT_TABLES`); a check fires for every row where each field in ``where`` fits its
pattern (``when: present``), or once when no row does (``when: missing``), and says what it
found in a sentence made from its ``says`` template::

    check:
      facts: certificate
      where:
        extension: '^yes$'
        state: '^expired$'
      says: client certificate {thumbprint} ({subject}) expired on {not_after}

This module is the vocabulary and its validation; it imports nothing from the catalog so
that the catalog can import it. The rule language is documented in catalog/README.md
("Checks over collected facts"); :mod:`npsdiag.factcheck` evaluates the checks.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = [
    "FACT_CHECK_KEYS",
    "FACT_TABLES",
    "FACT_WHEN",
    "FactCheck",
    "FactTableSpec",
    "is_fact_check",
    "validate_fact_check",
]


@dataclass(frozen=True, slots=True)
class FactTableSpec:
    """What one fact table holds.

    Attributes:
        what: what a row is, in words (for messages and ``catalog show``).
        row_fields: the fields every row has, with what each means.
        table_fields: fields of the table as a whole (every row has them too).
    """

    what: str
    row_fields: Mapping[str, str]
    table_fields: Mapping[str, str]

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field a check may name, row fields first."""
        return (*self.row_fields, *self.table_fields)


#: The fact tables and their fields (documented in catalog/README.md). Values are strings;
#: yes/no fields are ``yes`` or ``no`` (``unknown`` where the listing could not tell).
FACT_TABLES: Mapping[str, FactTableSpec] = MappingProxyType(
    {
        "certificate": FactTableSpec(
            what="a certificate of the computer's Personal store (LocalMachine\\My)",
            row_fields=MappingProxyType(
                {
                    "thumbprint": "SHA-1 thumbprint, upper-case hex",
                    "subject": "subject as Windows prints it (CN=..., OU=...)",
                    "issuer": "issuer as Windows prints it",
                    "not_before": "start of validity, UTC (2024-05-01T08:10:00Z)",
                    "not_after": "end of validity, UTC",
                    "state": "expired, not-yet-valid, expiring (under 30 days left), valid "
                    "or unknown, at the time of the listing",
                    "days_left": "whole days from the listing to not_after (negative when expired)",
                    "extension": "yes when the extension may use it (CLIENT_CERT_IDENTIFIER "
                    "names it, or its subject is CN=<TENANT_ID> or OU=Microsoft NPS Extension), "
                    "no, or unknown (no registry values listed)",
                    "identified": "yes when CLIENT_CERT_IDENTIFIER names it (by subject or "
                    "thumbprint), else no",
                    "private_key": "yes when the store holds its private key, else no",
                    "network_service": "read, no-access (no rule lets NETWORK SERVICE read the "
                    "key), denied (a rule denies it), no-key, or unknown",
                    "client_auth": "yes when it may be used for client authentication (the "
                    "Client Authentication purpose, any purpose, or no purpose list), else no",
                },
            ),
            table_fields=MappingProxyType(
                {
                    "tenant_id": "TENANT_ID as the listing read it (empty when missing)",
                    "client_cert_identifier": "CLIENT_CERT_IDENTIFIER as the listing read it",
                    "collected": "when the listing was made, UTC",
                    "store": "the store listed (LocalMachine\\My)",
                    "certificates": "how many certificates the store holds",
                }
            ),
        ),
        "auditing": FactTableSpec(
            what="the audit setting of the Network Policy Server subcategory",
            row_fields=MappingProxyType(
                {
                    "subcategory": "the subcategory's name as auditpol prints it",
                    "setting": "the setting as auditpol prints it (Success and Failure ...)",
                    "success": "yes when success events (6272, 6278) are audited, no, or "
                    "unknown (a setting in another language)",
                    "failure": "yes when failure events (6273, 6274) are audited, no, or unknown",
                }
            ),
            table_fields=MappingProxyType({"computer": "the machine name auditpol printed"}),
        ),
        "extension": FactTableSpec(
            what="the NPS extension as installed (one row)",
            row_fields=MappingProxyType(
                {
                    "installed": "yes when Programs and Features lists it or its DLLs are "
                    "there, else no",
                    "name": "the product name Programs and Features shows",
                    "version": "the product version, else the authorization DLL's file version",
                    "file_version": "the file version of MfaNpsAuthzExt.dll (empty when absent)",
                }
            ),
            table_fields=MappingProxyType({}),
        ),
    }
)
#: Every key a fact check may carry.
FACT_CHECK_KEYS: tuple[str, ...] = ("facts", "where", "when", "says")
#: ``present``: one finding per row that fits; ``missing``: one finding when no row fits.
FACT_WHEN: tuple[str, ...] = ("present", "missing")
_FORMATTER = string.Formatter()


def is_fact_check(value: object) -> bool:
    """True when a ``check`` block is about collected facts (it names ``facts``)."""
    return isinstance(value, Mapping) and "facts" in value


@dataclass(frozen=True)
class FactCheck:
    """A validated check over one fact table (field meanings: catalog/README.md).

    Attributes:
        table: the table read (a key of :data:`FACT_TABLES`).
        where: ``(field, pattern)`` pairs; patterns are case-sensitive ``re.search``
            expressions, like the registry checks'.
        when: ``present`` or ``missing``.
        says: the sentence a finding states, with ``{field}`` placeholders.
    """

    table: str
    where: tuple[tuple[str, str], ...]
    when: str
    says: str

    @property
    def spec(self) -> FactTableSpec:
        """The table's vocabulary."""
        return FACT_TABLES[self.table]

    @property
    def row_conditions(self) -> tuple[tuple[str, str], ...]:
        """The conditions on row fields (for ``missing``: what no row may fit)."""
        return tuple(pair for pair in self.where if pair[0] in self.spec.row_fields)

    @property
    def table_conditions(self) -> tuple[tuple[str, str], ...]:
        """The conditions on table fields (for ``missing``: when the check applies at all)."""
        return tuple(pair for pair in self.where if pair[0] in self.spec.table_fields)

    def fits(self, fields: Mapping[str, str], conditions: tuple[tuple[str, str], ...]) -> bool:
        """True when every condition's pattern is found in its field's value."""
        return all(
            _compiled(pattern).search(fields.get(name, "")) is not None
            for name, pattern in conditions
        )

    def statement(self, fields: Mapping[str, str]) -> str:
        """``says`` with its placeholders filled from ``fields``."""
        return self.says.format_map({name: fields.get(name, "") for name in self.spec.fields})

    def to_dict(self) -> dict[str, Any]:
        """The check as written in YAML (the default ``when`` left out)."""
        data: dict[str, Any] = {"facts": self.table}
        if self.where:
            data["where"] = dict(self.where)
        if self.when != "present":
            data["when"] = self.when
        data["says"] = self.says
        return data

    def describe(self) -> str:
        """One line saying when the check fires, for ``npsdiag catalog show``."""
        rows = " and ".join(f"{name} matches {pattern}" for name, pattern in self.row_conditions)
        given = " and ".join(f"{name} matches {pattern}" for name, pattern in self.table_conditions)
        facts = f"the {self.table} facts"
        if self.when == "missing":
            what = f"no row of {facts} has {rows}" if rows else f"{facts} have no row"
            return f"{what}{f' (when {given})' if given else ''}"
        conditions = " and ".join(part for part in (rows, given) if part)
        return f"a row of {facts} has {conditions}"


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class _Problems:
    """Reports each problem of one check block (prefixed ``check:``) and counts them."""

    def __init__(self, error: Callable[[str], None]) -> None:
        self.error = error
        self.count = 0

    def __call__(self, message: str) -> None:
        self.count += 1
        self.error(f"check: {message}")


def validate_fact_check(value: Mapping[Any, Any], error: Callable[[str], None]) -> FactCheck | None:
    """Validate a ``check`` block with ``facts``; report every problem through ``error``."""
    bad = _Problems(error)
    for key in value:
        if key not in FACT_CHECK_KEYS:
            known = ", ".join(FACT_CHECK_KEYS)
            bad(f"unknown key '{key}' in a facts check (expected one of: {known})")
    table = value.get("facts")
    spec = FACT_TABLES.get(table) if isinstance(table, str) else None
    if spec is None:
        bad(f"facts '{table}' is not a fact table (expected one of: {', '.join(FACT_TABLES)})")
    when = value.get("when", "present")
    if when not in FACT_WHEN:
        known = ", ".join(FACT_WHEN)
        bad(f"when '{when}' is not allowed in a facts check (expected one of: {known})")
    where = _where(value.get("where", {}), spec, bad)
    says = value.get("says")
    if not isinstance(says, str) or not says.strip() or "\n" in says.strip():
        bad("says must be one line of text: the sentence a finding states")
    elif spec is not None:
        allowed = spec.fields if when == "present" else tuple(spec.table_fields)
        _check_template(says, allowed, when, bad)
    if when == "present" and spec is not None and not any(f in spec.row_fields for f, _ in where):
        bad("when: present needs a 'where' condition on a row field (which rows fire)")
    if bad.count:
        return None
    assert isinstance(table, str) and isinstance(says, str)
    return FactCheck(table=table, where=where, when=str(when), says=says.strip())


def _where(
    raw: object, spec: FactTableSpec | None, bad: Callable[[str], None]
) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        bad("where must map field names to regular expressions")
        return ()
    pairs: list[tuple[str, str]] = []
    for name, pattern in raw.items():
        if spec is not None and name not in spec.fields:
            bad(f"where: '{name}' is not a field of this table (fields: {', '.join(spec.fields)})")
            continue
        if not isinstance(pattern, str) or not pattern:
            bad(f"where: the pattern for {name} must be a non-empty regular expression")
            continue
        try:
            re.compile(pattern)
        except re.error as failure:
            bad(f"where: the pattern for {name} is not a valid regular expression: {failure}")
            continue
        pairs.append((str(name), pattern))
    return tuple(pairs)


def _check_template(
    says: str, allowed: tuple[str, ...], when: object, bad: Callable[[str], None]
) -> None:
    """Only plain ``{field}`` placeholders naming allowed fields."""
    try:
        parts = list(_FORMATTER.parse(says))
    except ValueError as failure:
        bad(f"says is not a valid template ({failure}); write literal braces as {{{{ and }}}}")
        return
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if spec or conversion or name not in allowed:
            hint = "table fields only, since no row fits" if when == "missing" else "fields"
            named = ", ".join(allowed)
            bad(f"says: '{{{name}}}' is not a placeholder of this check ({hint}: {named})")
