"""Turn what ``npsdiag collect`` gathered on the server into fact tables, and account for it.

The files are parsed by the readers in ``npsdiag/sources/`` (certificate listing, auditpol
output, extension version, manifest); this module says what they mean for the NPS extension
and lays it out as the tables the catalog's fact checks read (:data:`FACT_TABLES`
in :mod:`npsdiag.catalog_facts`):

* a certificate is the extension's when ``CLIENT_CERT_IDENTIFIER`` names it (by subject or
  thumbprint), when its subject's CN is ``TENANT_ID``, or when it carries the setup script's
  ``OU=Microsoft NPS Extension``; it is expired when its end date lies before the listing;
* NETWORK SERVICE (the account NPS runs the extension as) can read a private key when a rule
  of the key file allows reading to it or to a group it belongs to (Everyone, Authenticated
  Users, Users, SERVICE) and no such rule denies it;
* the manifest's missing items become accounting lines of their own, so every report says
  what the bundle lacks and why.

Every input gets one :class:`~npsdiag.model.SourceStats`, like any other file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePath

from npsdiag._words import plural
from npsdiag.errors import InputError
from npsdiag.model import SourceStats
from npsdiag.sources import Source, source_bytes
from npsdiag.sources.auditpol import AuditPolicy, parse_auditpol
from npsdiag.sources.certificates import Certificate, CertificateListing, parse_certificates
from npsdiag.sources.extension_info import ExtensionInfo, parse_extension_info
from npsdiag.sources.hostfacts import AUDITPOL, CERTIFICATES, COLLECT_MANIFEST, EXTENSION_INFO
from npsdiag.sources.manifest import Manifest, parse_manifest

__all__ = [
    "FactRow",
    "FactTable",
    "HostFacts",
    "auditing_table",
    "certificate_table",
    "extension_table",
    "read_host_facts",
]

#: The well-known SIDs whose read access NETWORK SERVICE has: itself, Everyone,
#: Authenticated Users, BUILTIN\\Users and SERVICE (every service's token holds it).
NETWORK_SERVICE_SIDS = frozenset({"S-1-5-20", "S-1-1-0", "S-1-5-11", "S-1-5-32-545", "S-1-5-6"})
#: FileSystemRights bits that let an account read a key file: ReadData, GENERIC_READ,
#: GENERIC_ALL (FullControl and Read include ReadData).
READ_RIGHTS = 0x1 | 0x80000000 | 0x10000000
#: Client Authentication, and "any purpose".
CLIENT_AUTH_USAGES = frozenset({"1.3.6.1.5.5.7.3.2", "2.5.29.37.0"})
#: The setup script's certificates carry this organisational unit.
SETUP_SCRIPT_OU = "ou=microsoft nps extension"
#: Less time than this before expiry makes a certificate "expiring".
EXPIRING_DAYS = 30

_THUMBPRINT = re.compile(r"[0-9A-F]{40}")
_AROUND_EQUALS = re.compile(r"\s*=\s*")


@dataclass(frozen=True, slots=True)
class FactRow:
    """One row of a fact table.

    Attributes:
        fields: the row's fields (the table's fields included), all strings.
        key: what the row is about, as a finding names it
            (``Cert:\\LocalMachine\\My\\<thumbprint>``).
        evidence: where it comes from and what it shows, one line.
    """

    fields: dict[str, str]
    key: str
    evidence: str


@dataclass(frozen=True, slots=True)
class FactTable:
    """The rows one collected file gives.

    Attributes:
        table: which table (a key of ``FACT_TABLES``).
        source: the file the rows come from.
        fields: the table's own fields.
        rows: the rows, in file order.
        key: what the table as a whole is about (for findings about no row fitting).
        summary: one line describing the whole table (the evidence of such findings).
    """

    table: str
    source: str
    fields: dict[str, str]
    rows: tuple[FactRow, ...]
    key: str
    summary: str


@dataclass(slots=True)
class HostFacts:
    """Everything read from collected fact files: the tables, and the manifests."""

    tables: list[FactTable] = field(default_factory=list)
    manifests: list[Manifest] = field(default_factory=list)


def read_host_facts(sources: Sequence[Source], accounts: list[SourceStats]) -> HostFacts:
    """Read every collected fact file; append one accounting line per file to ``accounts``.

    A file that cannot be read is ``unreadable`` with a message naming it; entries of a file
    that are not what they should be are failed records, and the rest is used. For a
    manifest, every item the collection could not gather gets an accounting line of its own
    (status ``skipped``) naming the file it would have been and why it is missing.
    """
    facts = HostFacts()
    for source in sources:
        stats = source.new_stats()
        stats.messages.extend(source.notes)
        try:
            read = _READERS[source.kind](source, source_bytes(source))
        except (InputError, OSError) as error:
            stats.status = "unreadable"
            text = str(error) if source.name in str(error) else f"{source.name}: {error}"
            stats.messages.append(text)
        else:
            # No time span is noted: a listing's moment is not a time the logs cover.
            stats.records_read = read.entries + len(read.problems)
            for problem in read.problems:
                stats.note_error(problem)
            stats.records_relevant = read.relevant
            stats.messages.extend(read.notes)
            facts.tables.extend(read.tables)
            facts.manifests.extend(read.manifests)
            accounts.extend(read.not_collected)
        stats.finish()
        accounts.append(stats)
    return facts


@dataclass(slots=True)
class _Read:
    """What one fact file gave: its entries for the accounting, and its facts."""

    entries: int
    problems: Sequence[str]
    relevant: int
    notes: list[str] = field(default_factory=list)
    tables: list[FactTable] = field(default_factory=list)
    manifests: list[Manifest] = field(default_factory=list)
    not_collected: list[SourceStats] = field(default_factory=list)


def _read_certificates(source: Source, data: bytes) -> _Read:
    listing = parse_certificates(data, source.name)
    table = certificate_table(listing)
    usable = sum(1 for row in table.rows if row.fields["extension"] == "yes")
    notes = [
        f"{source.name}: {plural(len(listing.certificates), 'certificate')} in {listing.store} "
        f"listed "
        f"at {_iso(listing.collected) or 'an unknown time'}, {usable} the extension may use"
    ]
    if listing.collected is None:
        notes.append(f"{source.name}: the listing has no collection time; expiry cannot be judged")
    return _Read(len(listing.certificates), listing.problems, usable, notes, [table])


def _read_auditpol(source: Source, data: bytes) -> _Read:
    policy = parse_auditpol(data, source.name)
    table = auditing_table(policy)
    notes = (
        []
        if table.rows
        else [
            f"{source.name}: no line for the Network Policy Server subcategory; run "
            'auditpol /get /subcategory:"Network Policy Server"'
        ]
    )
    return _Read(len(policy.settings), (), len(table.rows), notes, [table])


def _read_extension(source: Source, data: bytes) -> _Read:
    info = parse_extension_info(data, source.name)
    entries = len(info.products) + len(info.files)
    return _Read(entries, info.problems, entries, tables=[extension_table(info)])


def _read_manifest(source: Source, data: bytes) -> _Read:
    manifest = parse_manifest(data, source.name)
    if source.bundle is not None and manifest.computer:
        source.bundle.note_computer(manifest.computer)
    notes = [_manifest_summary(source.name, manifest)]
    notes += [f"{source.name}: {note}" for note in manifest.notes]
    missing = []
    for item in manifest.missing:
        name = _beside(source, item.file)
        reason = item.reason or "no reason recorded"
        missing.append(
            SourceStats(
                name=name,
                kind=item.kind or "unknown",
                status="skipped",
                messages=[f"{name}: not collected: {reason}"],
            )
        )
    collected = len(manifest.items) - len(manifest.missing)
    return _Read(
        len(manifest.items),
        manifest.problems,
        collected,
        notes,
        manifests=[manifest],
        not_collected=missing,
    )


def _beside(source: Source, file: str) -> str:
    """The name a file next to ``source`` has: where the bundle would have held it."""
    outer, bang, inner = source.name.rpartition("!")
    if bang:
        folder, slash, _ = inner.rpartition("/")
        return f"{outer}!{folder}/{file}" if slash else f"{outer}!{file}"
    return str(PurePath(source.name).with_name(file))


def _manifest_summary(name: str, manifest: Manifest) -> str:
    when = _iso(manifest.collected) or "an unknown time"
    window = f", events since {_iso(manifest.window_start)} ({manifest.since})"
    elevated = {True: "elevated", False: "NOT elevated", None: "elevation unknown"}
    missing = len(manifest.missing)
    gathered = f"{len(manifest.items) - missing} of {len(manifest.items)} items collected"
    return (
        f"{name}: collected by {manifest.tool or 'npsdiag collect'} on "
        f"{manifest.computer or 'an unnamed server'} at {when}"
        f"{window if manifest.window_start else ''} ({elevated[manifest.elevated]}); {gathered}"
        + (f", {missing} missing (listed as not collected)" if missing else "")
    )


_READERS: dict[str, Callable[[Source, bytes], _Read]] = {
    CERTIFICATES: _read_certificates,
    AUDITPOL: _read_auditpol,
    EXTENSION_INFO: _read_extension,
    COLLECT_MANIFEST: _read_manifest,
}


# ---------------------------------------------------------------------------------------------
# Tables


def certificate_table(listing: CertificateListing) -> FactTable:
    """The ``certificate`` table of one listing."""
    collected = _iso(listing.collected)
    table_fields = {
        "tenant_id": listing.tenant_id,
        "client_cert_identifier": listing.client_cert_identifier,
        "collected": collected,
        "store": listing.store,
        "certificates": str(len(listing.certificates)),
    }
    rows = tuple(
        _certificate_row(listing, certificate, table_fields) for certificate in listing.certificates
    )
    return FactTable(
        table="certificate",
        source=listing.name,
        fields=table_fields,
        rows=rows,
        key=f"Cert:\\{listing.store}",
        summary=(
            f"{listing.name}: {plural(len(rows), 'certificate')} in {listing.store} at "
            f"{collected or 'an unknown time'}; TENANT_ID {listing.tenant_id or '(not set)'}, "
            f"CLIENT_CERT_IDENTIFIER {listing.client_cert_identifier or '(not set)'}"
        ),
    )


def _certificate_row(
    listing: CertificateListing, certificate: Certificate, table_fields: dict[str, str]
) -> FactRow:
    state, days_left = _validity(certificate, listing.collected)
    identified = _identified(certificate, listing.client_cert_identifier)
    fields = {
        "thumbprint": certificate.thumbprint,
        "subject": certificate.subject,
        "issuer": certificate.issuer,
        "not_before": _iso(certificate.not_before),
        "not_after": _iso(certificate.not_after),
        "state": state,
        "days_left": days_left,
        "extension": _extension_uses(certificate, listing, identified),
        "identified": "yes" if identified else "no",
        "private_key": "yes" if certificate.has_private_key else "no",
        "network_service": network_service_access(certificate),
        "client_auth": _client_auth(certificate),
        **table_fields,
    }
    evidence = (
        f"{listing.name}: certificate {certificate.thumbprint}, subject {certificate.subject!r}, "
        f"issuer {certificate.issuer!r}, valid {fields['not_before'] or '?'} to "
        f"{fields['not_after'] or '?'} ({state} at {fields['collected'] or '?'}), private key: "
        f"{fields['private_key']}, NETWORK SERVICE: {fields['network_service']}"
    )
    if certificate.key_error:
        evidence += f" ({certificate.key_error})"
    key = f"Cert:\\{listing.store}\\{certificate.thumbprint}"
    return FactRow(fields=fields, key=key, evidence=evidence)


def _validity(certificate: Certificate, at: datetime | None) -> tuple[str, str]:
    if at is None or certificate.not_after is None:
        return "unknown", ""
    days = math.floor((certificate.not_after - at).total_seconds() / 86400)
    if certificate.not_after <= at:
        return "expired", str(days)
    if certificate.not_before is not None and certificate.not_before > at:
        return "not-yet-valid", str(days)
    return ("expiring" if days < EXPIRING_DAYS else "valid"), str(days)


def _identified(certificate: Certificate, identifier: str) -> bool:
    """True when CLIENT_CERT_IDENTIFIER names this certificate, by thumbprint or subject."""
    if not identifier:
        return False
    squeezed = "".join(char for char in identifier if char.isalnum()).upper()
    if _THUMBPRINT.fullmatch(squeezed):
        return squeezed == certificate.thumbprint
    return _dn(identifier) == _dn(certificate.subject)


def _extension_uses(certificate: Certificate, listing: CertificateListing, identified: bool) -> str:
    subject = _dn(certificate.subject)
    if identified or SETUP_SCRIPT_OU in subject.split(","):
        return "yes"
    tenant = listing.tenant_id.strip().strip("{}").casefold()
    if tenant and f"cn={tenant}" in subject.split(","):
        return "yes"
    return "no" if tenant or listing.client_cert_identifier else "unknown"


def network_service_access(certificate: Certificate) -> str:
    """Whether NETWORK SERVICE may read the private key: ``read``, ``denied``,
    ``no-access``, ``no-key`` or ``unknown``."""
    if not certificate.has_private_key:
        return "no-key"
    if certificate.key_access is None:
        return "unknown"
    reading = [
        rule
        for rule in certificate.key_access
        if rule.sid in NETWORK_SERVICE_SIDS and rule.rights & READ_RIGHTS
    ]
    if any(not rule.allow for rule in reading):
        return "denied"
    return "read" if reading else "no-access"


def _client_auth(certificate: Certificate) -> str:
    if certificate.usages is None:
        return "yes"
    return "yes" if CLIENT_AUTH_USAGES & set(certificate.usages) else "no"


def auditing_table(policy: AuditPolicy) -> FactTable:
    """The ``auditing`` table: the Network Policy Server row of one auditpol output."""
    table_fields = {"computer": policy.computer}
    rows = tuple(
        FactRow(
            fields={
                "subcategory": setting.subcategory,
                "setting": setting.setting,
                "success": _yes_no(setting.success),
                "failure": _yes_no(setting.failure),
                **table_fields,
            },
            key=f"Audit policy: {setting.subcategory}",
            evidence=f"{policy.name}:{setting.line}: {setting.subcategory}: {setting.setting}",
        )
        for setting in policy.settings
        if setting.is_nps
    )
    return FactTable(
        table="auditing",
        source=policy.name,
        fields=table_fields,
        rows=rows,
        key="Audit policy: Network Policy Server",
        summary=f"{policy.name}: {plural(len(policy.settings), 'subcategory line')}",
    )


def extension_table(info: ExtensionInfo) -> FactTable:
    """The ``extension`` table: one row saying whether and which version is installed."""
    product = info.products[0] if info.products else None
    authz = next((f for f in info.files if f.path.casefold().endswith("mfanpsauthzext.dll")), None)
    file_version = authz.version if authz is not None else ""
    version = (product.version if product else "") or file_version
    shown_files = "; ".join(
        f"{file.path.rpartition(chr(92))[2] or file.path} {file.version or 'not found'}"
        for file in info.files
    )
    listed = (
        f"{product.name} {product.version} in Programs and Features"
        if product
        else "no entry in Programs and Features"
    )
    row = FactRow(
        fields={
            "installed": "yes" if info.installed else "no",
            "name": product.name if product else "",
            "version": version,
            "file_version": file_version,
        },
        key="NPS extension",
        evidence=(f"{info.name}: {listed}" + (f"; {shown_files}" if shown_files else "")),
    )
    return FactTable(
        table="extension",
        source=info.name,
        fields={},
        rows=(row,),
        key="NPS extension",
        summary=row.evidence,
    )


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else "yes" if value else "no"


def _dn(name: str) -> str:
    """A distinguished name compared loosely: case, and spaces around commas and equals."""
    return ",".join(_AROUND_EQUALS.sub("=", part.strip()) for part in name.split(",")).casefold()


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
