"""Collected facts: the readers, the fact tables, the catalog's fact checks and their findings."""

from __future__ import annotations

import codecs
import json
import textwrap
import zipfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.analyze import analyze_paths
from npsdiag.catalog import Catalog, check_catalog, load_catalog
from npsdiag.catalog_facts import FACT_CHECK_KEYS, FACT_TABLES, FactCheck
from npsdiag.errors import FactsReadError
from npsdiag.factcheck import check_facts, example_problems, example_tables
from npsdiag.facts import (
    HostFacts,
    auditing_table,
    certificate_table,
    extension_table,
    network_service_access,
)
from npsdiag.sources import discover
from npsdiag.sources.auditpol import parse_auditpol
from npsdiag.sources.certificates import parse_certificates
from npsdiag.sources.discover import sniff
from npsdiag.sources.extension_info import parse_extension_info
from npsdiag.sources.hostfacts import (
    AUDITPOL,
    CERTIFICATES,
    COLLECT_MANIFEST,
    EXTENSION_INFO,
    host_fact_kind,
)
from npsdiag.sources.manifest import (
    COLLECTED,
    MISSING,
    Manifest,
    ManifestItem,
    manifest_json,
    parse_manifest,
)
from tests.test_configlint import FINDING_KEYS

REPO = Path(__file__).resolve().parents[1]
HOST_FILE = REPO / "catalog" / "host.yaml"
TENANT = "9b2c4e71-5d3a-4f08-b6e2-1a7c3d95e0f4"
SUBJECT = f"CN={TENANT}, OU=Microsoft NPS Extension"
THUMB = "3F2A9C6B1D7E4F80A5B2C3D4E5F60718293A4B5C"
OTHER = "5C4B3A291807F6E5D4C3B2A5084F7E1D6B9C2A3F"
READ = 131209  # FileSystemRights.Read
FULL = 2032127  # FileSystemRights.FullControl
GENERIC_READ = -2147483648  # GENERIC_READ as PowerShell prints the int32
AUDITPOL_HEADER = "Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting"
AUDITPOL_CSV = (
    AUDITPOL_HEADER + ",Exclusion Setting\r\n"
    "\r\n"
    "NPS01,System,Network Policy Server,{{0CCE9243-69AE-11D9-BED3-505054503030}},{setting},\r\n"
)


def certificate(**fields: Any) -> dict[str, Any]:
    """A listed certificate: the setup script's, valid, NETWORK SERVICE may read its key."""
    base: dict[str, Any] = {
        "thumbprint": THUMB,
        "subject": SUBJECT,
        "issuer": SUBJECT,
        "not_before": "2024-04-30T09:00:00.0000000Z",
        "not_after": "2026-04-30T09:00:00.0000000Z",
        "has_private_key": True,
        "enhanced_key_usages": None,
        "private_key": {
            "storage": "csp",
            "error": None,
            "access": [{"sid": "S-1-5-20", "type": "Allow", "rights": READ}],
        },
    }
    base.update(fields)
    return base


def listing(*certificates: dict[str, Any], **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": "npsdiag/certificates/1",
        "collected": "2025-05-12T08:10:00.0000000Z",
        "store": "LocalMachine\\My",
        "azure_mfa": {"tenant_id": TENANT, "client_cert_identifier": SUBJECT},
        "certificates": list(certificates),
    }
    document.update(fields)
    return document


def data(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=4).encode("ascii")


def rows(document: Mapping[str, Any]) -> list[dict[str, str]]:
    table = certificate_table(parse_certificates(data(document), "certificates.json"))
    return [row.fields for row in table.rows]


def fired(catalog: Catalog, document: Mapping[str, Any]) -> list[tuple[str, str]]:
    facts = HostFacts(
        tables=[certificate_table(parse_certificates(data(document), "certificates.json"))]
    )
    return [(f.id, f.statement) for f in check_facts(facts, catalog)]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# ---------------------------------------------------------------------------------------------
# Recognition


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (json.dumps(listing()), CERTIFICATES),
        ('{\r\n    "schema":  "npsdiag/extension/1",\r\n    "products": []}', EXTENSION_INFO),
        ('{"schema": "npsdiag/collect-manifest/1"}', COLLECT_MANIFEST),
        (AUDITPOL_CSV.format(setting="Success"), AUDITPOL),
        ("System audit policy\r\nCategory/Subcategory  Setting\r\n", AUDITPOL),
        # A localised /r header: the subcategory's GUID still says what it is.
        (
            "Computername,Richtlinienziel,Unterkategorie,GUID der Unterkategorie,x,y\r\n"
            "NPS01,System,Netzwerkrichtlinienserver,{0CCE9243-69AE-11D9-BED3-505054503030},"
            "Erfolg und Fehler,\r\n",
            AUDITPOL,
        ),
    ],
)
def test_collected_files_are_recognised_by_content(text: str, kind: str) -> None:
    assert host_fact_kind(text) == kind
    for encoded in (text.encode("utf-8"), codecs.BOM_UTF16_LE + text.encode("utf-16-le")):
        assert sniff(encoded, "renamed.txt") == (kind, "")


@pytest.mark.parametrize(
    "text",
    ['{"schema": "other/thing/1"}', '{"name": "x"}', "[1, 2]", "Machine,Name\r\n1,2\r\n"],
)
def test_other_json_and_csv_are_not_collected_facts(text: str) -> None:
    assert host_fact_kind(text) is None
    assert sniff(text.encode("utf-8"), "x.json")[0] == "unknown"


def test_discovery_files_collected_facts_apart_and_a_bundle_member_too(tmp_path: Path) -> None:
    (tmp_path / "certificates.json").write_bytes(data(listing(certificate())))
    bundle = tmp_path / "sub" / "bundle.zip"
    bundle.parent.mkdir()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("auditpol.csv", AUDITPOL_CSV.format(setting="Success and Failure"))
    found = discover([str(tmp_path)])
    kinds = sorted((source.kind, source.name.rpartition("/")[2]) for source in found.host_facts)
    assert kinds == [(AUDITPOL, "bundle.zip!auditpol.csv"), (CERTIFICATES, "certificates.json")]
    assert found.sources == [] and found.registry_dumps == []


def test_a_fact_file_next_to_its_bundle_copy_is_read_once(tmp_path: Path) -> None:
    text = AUDITPOL_CSV.format(setting="No Auditing")
    (tmp_path / "auditpol.csv").write_text(text, encoding="utf-8", newline="")
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        archive.writestr("auditpol.csv", text.encode("utf-8"))
    found = discover([str(tmp_path)])
    assert [source.name for source in found.host_facts] == [str(tmp_path / "auditpol.csv")]
    assert any("same content as" in s.messages[0] for s in found.skipped)


# ---------------------------------------------------------------------------------------------
# Readers


def test_certificate_listing_is_read_with_its_context() -> None:
    parsed = parse_certificates(data(listing(certificate())), "certificates.json")
    assert parsed.collected == datetime(2025, 5, 12, 8, 10, tzinfo=timezone.utc)
    assert (parsed.tenant_id, parsed.client_cert_identifier) == (TENANT, SUBJECT)
    (only,) = parsed.certificates
    assert only.thumbprint == THUMB and only.subject == SUBJECT
    assert only.not_after == datetime(2026, 4, 30, 9, tzinfo=timezone.utc)
    assert only.key_storage == "csp" and only.key_access is not None
    assert parsed.problems == ()


def test_powershell_quirks_are_accepted() -> None:
    # A lone certificate written as an object, a lone usage as a string, a thumbprint with
    # spaces and the invisible mark certificate dialogs add when copied.
    document = listing()
    document["certificates"] = certificate(
        thumbprint="\u200e3f 2a 9c 6b 1d 7e 4f 80 a5 b2 c3 d4 e5 f6 07 18 29 3a 4b 5c",
        enhanced_key_usages="1.3.6.1.5.5.7.3.2",
    )
    (only,) = parse_certificates(data(document), "c.json").certificates
    assert only.thumbprint == THUMB
    assert only.usages == ("1.3.6.1.5.5.7.3.2",)


def test_a_bad_certificate_entry_is_left_out_and_the_rest_kept() -> None:
    document = listing(certificate(), certificate(thumbprint=""), certificate(not_after="soon"), 7)
    parsed = parse_certificates(data(document), "c.json")
    assert len(parsed.certificates) == 1
    assert len(parsed.problems) == 3
    assert all(problem.startswith("c.json.certificates[") for problem in parsed.problems)


def test_unreadable_key_rules_leave_the_certificate_with_unknown_access() -> None:
    rules = {"storage": "cng", "error": None, "access": [{"sid": "nobody", "rights": 1}]}
    (only,) = parse_certificates(data(listing(certificate(private_key=rules))), "c").certificates
    assert only.key_access is None and "expected a SID" in only.key_error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"schema": "npsdiag/certificates/1", "certificates": [', "not valid JSON at line 1"),
        (b"[]", "expected a JSON object"),
        (b'{"schema": "npsdiag/extension/1"}', "schema 'npsdiag/extension/1'"),
        (b'{"schema": "npsdiag/certificates/1", "collected": 5}', "collected: expected a string"),
        (b'{"schema": "npsdiag/certificates/1", "certificates": true}', "expected a list"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_a_broken_listing_is_one_line_naming_the_file(content: bytes, message: str) -> None:
    with pytest.raises(FactsReadError) as raised:
        parse_certificates(content, "bundle.zip!certificates.json")
    assert message in str(raised.value)
    assert str(raised.value).startswith("bundle.zip!certificates.json")
    assert "\n" not in str(raised.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_any_bytes_are_a_listing_or_one_error(blob: bytes) -> None:
    for parse in (parse_certificates, parse_extension_info, parse_manifest, parse_auditpol):
        try:
            parse(blob, "x")
        except FactsReadError as error:
            assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("setting", "success", "failure"),
    [
        ("Success and Failure", True, True),
        ("Success", True, False),
        ("Failure", False, True),
        ("No Auditing", False, False),
        ("Erfolg und Fehler", None, None),
    ],
)
def test_auditpol_csv_settings(setting: str, success: bool, failure: bool) -> None:
    policy = parse_auditpol(AUDITPOL_CSV.format(setting=setting).encode("cp1252"), "a.csv")
    assert policy.computer == "NPS01"
    nps = policy.nps
    assert nps is not None and nps.setting == setting
    assert (nps.success, nps.failure) == (success, failure)


def test_auditpol_table_typed_by_hand_in_utf16() -> None:
    text = (
        "System audit policy\r\n"
        "Category/Subcategory                      Setting\r\n"
        "Logon/Logoff\r\n"
        "  Logon                                   Success\r\n"
        "  Network Policy Server                   Success and Failure\r\n"
    )
    policy = parse_auditpol(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "a.txt")
    assert [s.subcategory for s in policy.settings] == ["Logon", "Network Policy Server"]
    assert policy.nps is not None and policy.nps.line == 5
    assert (policy.nps.success, policy.nps.failure) == (True, True)
    with pytest.raises(FactsReadError, match="not auditpol output"):
        parse_auditpol(b"hello\r\nworld\r\n", "a.txt")


def test_extension_info_reads_products_and_files() -> None:
    document = {
        "schema": "npsdiag/extension/1",
        "collected": "2025-05-12T08:10:00Z",
        "products": {"name": "NPS Extension For Azure MFA", "version": "1.2.2893.1"},
        "files": [
            {"path": "C:\\Program Files\\Microsoft\\AzureMfa\\Extensions\\MfaNpsAuthzExt.dll"},
            {"path": "C:\\x\\MfaNpsAuthnExt.dll", "version": "1.2.2893.1"},
            "junk",
        ],
    }
    info = parse_extension_info(data(document), "extension.json")
    assert info.installed and info.products[0].version == "1.2.2893.1"
    assert [f.version for f in info.files] == ["", "1.2.2893.1"]
    assert info.problems == ('extension.json.files[2]: expected an object, found "junk"',)
    row = extension_table(info).rows[0].fields
    assert row == {
        "installed": "yes",
        "name": "NPS Extension For Azure MFA",
        "version": "1.2.2893.1",
        "file_version": "",
    }


def test_manifest_round_trip() -> None:
    manifest = Manifest(
        tool="npsdiag 0.1.0",
        computer="NPS01",
        collected=datetime(2026, 1, 14, 9, 30, 12, tzinfo=timezone.utc),
        since="24h",
        window_start=datetime(2026, 1, 13, 9, 30, 12, tzinfo=timezone.utc),
        elevated=False,
        items=(
            ManifestItem("NPS01_AuthZOptCh.evtx", "evtx", "AuthZOptCh", COLLECTED, ("a",), "", 3),
            ManifestItem("auditpol.csv", "auditpol", "audit", MISSING, ("auditpol",), "denied"),
        ),
        notes=("not elevated",),
    )
    text = manifest_json(manifest)
    assert parse_manifest(text.encode("utf-8"), "m.json") == manifest
    assert [item.file for item in manifest.missing] == ["auditpol.csv"]


# ---------------------------------------------------------------------------------------------
# What the facts mean


@pytest.mark.parametrize(
    ("access", "expected"),
    [
        ([{"sid": "S-1-5-20", "type": "Allow", "rights": READ}], "read"),
        ([{"sid": "S-1-5-11", "type": "Allow", "rights": GENERIC_READ}], "read"),
        ([{"sid": "S-1-5-32-545", "type": "Allow", "rights": 268435456}], "read"),
        ([{"sid": "S-1-5-18", "type": "Allow", "rights": FULL}], "no-access"),
        ([{"sid": "S-1-5-20", "type": "Allow", "rights": 0x100000}], "no-access"),
        (
            [
                {"sid": "S-1-5-20", "type": "Allow", "rights": READ},
                {"sid": "S-1-1-0", "type": "Deny", "rights": READ},
            ],
            "denied",
        ),
        ([], "no-access"),
        (None, "unknown"),
    ],
)
def test_network_service_access(access: list[dict[str, Any]] | None, expected: str) -> None:
    key = {"storage": "csp", "error": None, "access": access}
    (only,) = parse_certificates(data(listing(certificate(private_key=key))), "c").certificates
    assert network_service_access(only) == expected


def test_no_private_key_is_no_key() -> None:
    (row,) = rows(listing(certificate(has_private_key=False, private_key=None)))
    assert (row["private_key"], row["network_service"]) == ("no", "no-key")


@pytest.mark.parametrize(
    ("not_before", "not_after", "state", "days"),
    [
        ("2023-04-30T09:00:00Z", "2025-04-30T09:00:00Z", "expired", "-12"),
        ("2025-04-30T09:00:00Z", "2025-06-01T09:00:00Z", "expiring", "20"),
        ("2025-04-30T09:00:00Z", "2027-06-01T09:00:00Z", "valid", "750"),
        ("2025-06-01T09:00:00Z", "2027-06-01T09:00:00Z", "not-yet-valid", "750"),
    ],
)
def test_validity_is_judged_at_the_listing_time(
    not_before: str, not_after: str, state: str, days: str
) -> None:
    (row,) = rows(listing(certificate(not_before=not_before, not_after=not_after)))
    assert (row["state"], row["days_left"]) == (state, days)


def test_validity_is_unknown_without_a_listing_time() -> None:
    (row,) = rows(listing(certificate(), collected=None))
    assert row["state"] == "unknown"


@pytest.mark.parametrize(
    ("identifier", "subject", "tenant", "extension", "identified"),
    [
        (SUBJECT, SUBJECT, TENANT, "yes", "yes"),
        (f"cn = {TENANT.upper()},ou=microsoft nps extension", SUBJECT, TENANT, "yes", "yes"),
        (THUMB.lower(), "CN=custom", TENANT, "yes", "yes"),
        (" ".join(THUMB[i : i + 2] for i in range(0, 40, 2)), "CN=custom", "", "yes", "yes"),
        (OTHER, f"CN={TENANT}", TENANT, "yes", "no"),  # the tenant's CN still counts
        (OTHER, "CN=web01.fabrikam.com", TENANT, "no", "no"),
        ("", "CN=web01.fabrikam.com", "", "unknown", "no"),
        ("", SUBJECT, "", "yes", "no"),  # the setup script's OU
    ],
)
def test_which_certificates_the_extension_may_use(
    identifier: str, subject: str, tenant: str, extension: str, identified: str
) -> None:
    settings_ = {"tenant_id": tenant, "client_cert_identifier": identifier}
    (row,) = rows(listing(certificate(subject=subject), azure_mfa=settings_))
    assert (row["extension"], row["identified"]) == (extension, identified)


@pytest.mark.parametrize(
    ("usages", "expected"),
    [(None, "yes"), (["1.3.6.1.5.5.7.3.2"], "yes"), (["2.5.29.37.0"], "yes"), ([], "no")],
)
def test_client_authentication_purpose(usages: list[str] | None, expected: str) -> None:
    (row,) = rows(listing(certificate(enhanced_key_usages=usages)))
    assert row["client_auth"] == expected


def test_every_table_row_has_exactly_the_documented_fields() -> None:
    cert = certificate_table(parse_certificates(data(listing(certificate())), "c"))
    audit = auditing_table(parse_auditpol(AUDITPOL_CSV.format(setting="x").encode(), "a"))
    ext = extension_table(parse_extension_info(b'{"schema": "npsdiag/extension/1"}', "e"))
    for table in (cert, audit, ext):
        spec = FACT_TABLES[table.table]
        assert set(table.fields) == set(spec.table_fields)
        for row in table.rows:
            assert set(row.fields) == set(spec.fields), table.table
            assert all(isinstance(value, str) for value in row.fields.values())
    assert ext.rows[0].fields["installed"] == "no"


# ---------------------------------------------------------------------------------------------
# The shipped fact checks


def _fact_ids() -> list[str]:
    result = check_catalog()
    return [e.id for e in result.catalog.fact_checks] if result.catalog else ["<invalid>"]


def test_host_file_is_valid_lint_clean_and_all_fact_checks() -> None:
    result = check_catalog([HOST_FILE])
    assert result.errors == () and result.warnings == ()
    assert result.catalog is not None
    entries = result.catalog.entries
    assert len(entries) >= 10
    assert all(e.fact_check is not None and e.check is None and not e.rules for e in entries)
    assert all(e.id.startswith("config.") and e.scope == "server" for e in entries)
    assert result.catalog.fact_checks == entries
    assert result.catalog.checks == ()


@pytest.mark.parametrize("entry_id", _fact_ids())
def test_every_example_triggers_its_fact_check(catalog: Catalog, entry_id: str) -> None:
    entry = catalog.get(entry_id)
    assert entry.examples
    for example in entry.examples:
        facts = HostFacts(tables=example_tables(entry, example))
        assert entry_id in [finding.id for finding in check_facts(facts, catalog)], example
    assert example_problems(entry) == []


def test_user_docs_name_every_fact_check(catalog: Catalog) -> None:
    page = (REPO / "docs" / "config-check.md").read_text(encoding="utf-8")
    for entry in catalog.fact_checks:
        assert f"| `{entry.id}` | {entry.severity} |" in page, entry.id


def test_an_expired_certificate_is_stated_with_thumbprint_and_date(catalog: Catalog) -> None:
    expired = certificate(not_after="2025-04-30T09:00:00Z", not_before="2023-04-30T09:00:00Z")
    found = fired(catalog, listing(expired))
    assert (
        "config.client-cert-expired",
        f"client certificate {THUMB} ({SUBJECT}) expired on 2025-04-30T09:00:00Z",
    ) in found
    assert (
        "config.client-cert-none-valid",
        f"no valid client certificate for tenant {TENANT} in LocalMachine\\My "
        "(certificates listed: 1)",
    ) in found


def test_a_valid_certificate_beside_an_expired_one(catalog: Catalog) -> None:
    expired = certificate(not_after="2025-04-30T09:00:00Z", not_before="2023-04-30T09:00:00Z")
    renewed = certificate(thumbprint=OTHER)
    ids = [entry_id for entry_id, _ in fired(catalog, listing(expired, renewed))]
    assert ids == ["config.client-cert-expired"]


def test_a_healthy_store_fires_nothing(catalog: Catalog) -> None:
    unrelated = certificate(thumbprint=OTHER, subject="CN=web", not_after="2020-01-01T00:00:00Z")
    assert fired(catalog, listing(certificate(), unrelated)) == []


def test_network_service_finding_names_the_certificate(catalog: Catalog) -> None:
    key = {
        "storage": "cng",
        "error": None,
        "access": [{"sid": "S-1-5-18", "type": "Allow", "rights": FULL}],
    }
    assert fired(catalog, listing(certificate(private_key=key))) == [
        (
            "config.client-cert-key-not-readable",
            f"NETWORK SERVICE cannot read the private key of client certificate {THUMB} "
            f"({SUBJECT})",
        )
    ]


def test_without_registry_values_nothing_is_claimed_about_the_tenant(catalog: Catalog) -> None:
    document = listing(
        certificate(subject="CN=custom", not_after="2020-01-01T00:00:00Z"),
        azure_mfa=None,
    )
    assert fired(catalog, document) == []


def test_auditing_findings_state_the_setting(catalog: Catalog) -> None:
    def ids(setting: str) -> list[tuple[str, str]]:
        table = auditing_table(parse_auditpol(AUDITPOL_CSV.format(setting=setting).encode(), "a"))
        return [(f.id, f.statement) for f in check_facts(HostFacts(tables=[table]), catalog)]

    assert ids("No Auditing") == [
        (
            "config.nps-auditing-off",
            "NPS auditing is off (Network Policy Server: No Auditing): no 6272/6273 will be logged",
        )
    ]
    assert [i for i, _ in ids("Success")] == ["config.nps-auditing-failures-off"]
    assert [i for i, _ in ids("Failure")] == ["config.nps-auditing-successes-off"]
    assert ids("Success and Failure") == []
    assert ids("Erfolg und Fehler") == []  # unknown words claim nothing


def test_a_finding_row_has_the_configuration_finding_fields(catalog: Catalog) -> None:
    expired = certificate(not_after="2025-04-30T09:00:00Z", not_before="2023-04-30T09:00:00Z")
    facts = HostFacts(
        tables=[certificate_table(parse_certificates(data(listing(expired)), "b.zip!c.json"))]
    )
    row = check_facts(facts, catalog)[0].as_dict()
    # A configuration finding's fields, with the statement after the severity.
    assert list(row) == [*FINDING_KEYS[:4], "statement", *FINDING_KEYS[4:]]
    assert row["id"] == "config.client-cert-none-valid"  # critical first
    assert row["key"] == "Cert:\\LocalMachine\\My" and row["source"] == "b.zip!c.json"
    assert row["data"].startswith("no row with extension ~ ^yes$")
    second = check_facts(facts, catalog)[1].as_dict()
    assert second["key"] == f"Cert:\\LocalMachine\\My\\{THUMB}"
    assert second["data"] == "extension=yes; state=expired"
    assert THUMB in second["evidence"] and "valid 2023-04-30T09:00:00Z to" in second["evidence"]


def test_findings_flow_into_the_analysis_and_explain_the_problem(tmp_path: Path) -> None:
    expired = certificate(not_after="2025-04-30T09:00:00Z", not_before="2023-04-30T09:00:00Z")
    (tmp_path / "certificates.json").write_bytes(data(listing(expired)))
    sample = REPO / "samples" / "cert-expired"
    analysis = analyze_paths([str(sample / "NPS-MFA01_AuthZAdminCh.evtx"), str(tmp_path)])
    ids = [row["id"] for row in analysis.config_findings]
    assert ids == ["config.client-cert-none-valid", "config.client-cert-expired"]
    (problem,) = analysis.problems
    assert problem.entry_id.startswith("ext.ests-token-error")
    assert f"client certificate {THUMB} ({SUBJECT}) expired on 2025-04-30T09:00:00Z" in (
        problem.because
    )
    assert problem.confidence == "high"
    listed = next(s for s in analysis.sources if s.name.endswith("certificates.json"))
    assert (listed.kind, listed.status, listed.records_read) == (CERTIFICATES, "ok", 1)
    assert listed.first_time is None  # a listing's moment is not a time the logs cover


def test_a_broken_fact_file_is_unreadable_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "certificates.json").write_bytes(b'{"schema": "npsdiag/certificates/1", "cer')
    sample = REPO / "samples" / "cert-expired" / "NPS-MFA01_AuthZAdminCh.evtx"
    analysis = analyze_paths([str(sample), str(tmp_path)])
    (broken,) = [s for s in analysis.sources if s.name.endswith("certificates.json")]
    assert broken.status == "unreadable"
    assert broken.messages == [
        f"{tmp_path / 'certificates.json'}: not valid JSON at line 1 "
        "(cut short or edited?) (collect again)"
    ]
    assert analysis.problems


# ---------------------------------------------------------------------------------------------
# The rule language


FACT_ENTRY = """\
- id: config.sample-fact
  title: Sample fact check
  category: configuration
  severity: medium
  scope: server
  check:
    facts: certificate
    where:
      state: '^expired$'
    says: certificate {thumbprint} expired
  explains: [ext.ests-token-error]
  cause: Something is wrong.
  steps:
    - fix: Fix it.
  references:
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension
  examples:
    - '{"schema": "npsdiag/certificates/1", "collected": "2025-05-12T08:10:00Z",
       "certificates": [{"thumbprint": "AB", "not_after": "2025-01-01T00:00:00Z"}]}'
  source: facts
"""


def _write(folder: Path, text: str) -> Path:
    path = folder / "custom.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_custom_fact_check_is_data(tmp_path: Path) -> None:
    custom = load_catalog([_write(tmp_path, FACT_ENTRY)])
    entry = custom.get("config.sample-fact")
    assert entry.fact_check == FactCheck(
        table="certificate",
        where=(("state", "^expired$"),),
        when="present",
        says="certificate {thumbprint} expired",
    )
    assert entry.check is None and entry.explains == ("ext.ests-token-error",)
    assert entry.to_dict()["check"] == {
        "facts": "certificate",
        "where": {"state": "^expired$"},
        "says": "certificate {thumbprint} expired",
    }
    assert (
        entry.fact_check.describe() == "a row of the certificate facts has state matches ^expired$"
    )
    assert [
        (f.id, f.statement)
        for f in check_facts(HostFacts(tables=example_tables(entry, entry.examples[0])), custom)
    ] == [("config.sample-fact", "certificate AB expired")]


@pytest.mark.parametrize(
    ("replace", "with_", "error"),
    [
        ("facts: certificate", "facts: printer", "facts 'printer' is not a fact table"),
        ("      state: '^expired$'", "      colour: 'red'", "'colour' is not a field"),
        ("      state: '^expired$'", "      state: '('", "not a valid regular expression"),
        ("    says: certificate {thumbprint} expired", "    says: '{thumbprint!r}'", "placeholder"),
        ("    says: certificate {thumbprint} expired", "    says: '{owner}'", "'{owner}'"),
        ("    says: certificate {thumbprint} expired", "    says: '{'", "not a valid template"),
        ("    says: certificate {thumbprint} expired", "    sayz: x", "unknown key 'sayz'"),
        ("      state: '^expired$'", "      tenant_id: '.'", "needs a 'where' condition on a row"),
        ("    facts: certificate", "    facts: certificate\n    when: never", "when 'never'"),
        (
            "    facts: certificate",
            "    facts: certificate\n    when: missing",
            "'{thumbprint}' is not a placeholder of this check (table fields only",
        ),
    ],
)
def test_bad_fact_checks_are_errors(tmp_path: Path, replace: str, with_: str, error: str) -> None:
    text = textwrap.dedent(FACT_ENTRY)
    assert replace in text
    result = check_catalog([_write(tmp_path, text.replace(replace, with_, 1))])
    assert result.catalog is None
    assert any(error in line for line in result.errors), result.errors
    assert all(line.startswith(f"{tmp_path / 'custom.yaml'}: entry") for line in result.errors)


def test_an_example_that_does_not_trigger_is_a_warning(tmp_path: Path) -> None:
    quiet = textwrap.dedent(FACT_ENTRY).replace("2025-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    result = check_catalog([_write(tmp_path, quiet)])
    assert result.errors == ()
    assert any("example 1 does not trigger the check" in w for w in result.warnings)
    broken = textwrap.dedent(FACT_ENTRY).replace('"schema": "npsdiag/certificates/1", ', "")
    result = check_catalog([_write(tmp_path, broken)])
    assert any("example 1 is not a certificate file" in w for w in result.warnings)


def test_fact_check_keys_are_documented() -> None:
    readme = (REPO / "catalog" / "README.md").read_text(encoding="utf-8")
    for key in FACT_CHECK_KEYS:
        assert f"| `{key}` |" in readme, key
    for table, spec in FACT_TABLES.items():
        assert f"`{table}`" in readme
        for name in spec.fields:
            assert f"`{name}`" in readme, (table, name)


def test_schema_knows_the_fact_check_language() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads((REPO / "catalog" / "schema.json").read_text(encoding="utf-8"))
    fact = schema["$defs"]["fact_check"]
    assert tuple(fact["properties"]) == FACT_CHECK_KEYS
    assert tuple(fact["properties"]["facts"]["enum"]) == tuple(FACT_TABLES)
    entries = yaml.safe_load(HOST_FILE.read_text(encoding="utf-8"))
    jsonschema.validate(entries, schema)
    mixed = {**entries[0], "check": {**entries[0]["check"], "key": "azuremfa"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([mixed], schema)
