"""Configuration checks: the catalog's check language, the shipped rules, and the evaluator."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import textwrap
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.catalog import (
    CHECK_DUMPS,
    CHECK_KEYS,
    CHECK_WHEN,
    REGISTRY_KEYS,
    SEVERITIES,
    Catalog,
    ConfigCheck,
    check_catalog,
    load_catalog,
)
from npsdiag.configlint import (
    AFTER,
    BEFORE,
    UNLABELLED,
    ConfigFinding,
    DumpIdentity,
    check_configuration,
    effective_values,
    example_dumps,
    example_problems,
    identify_dump,
)
from npsdiag.errors import UsageError
from npsdiag.sources.regquery import RegistryDump, parse_regquery

REPO = Path(__file__).resolve().parents[1]
CATALOG_DIR = REPO / "catalog"
CONFIG_FILE = CATALOG_DIR / "config.yaml"
SAMPLE_BUNDLES = sorted(REPO.glob("samples/*/*_NpsLogging.zip"))
AZUREMFA = REGISTRY_KEYS["azuremfa"]
AUTHSRV = REGISTRY_KEYS["authsrv"]
AUTHZ_DLL = "C:\\Program Files\\Microsoft\\AzureMfa\\Extensions\\MfaNpsAuthzExt.dll"
AUTHN_DLL = "C:\\Program Files\\Microsoft\\AzureMfa\\Extensions\\MfaNpsAuthnExt.dll"
FINDING_KEYS = (
    "id",
    "title",
    "category",
    "severity",
    "key",
    "value",
    "data",
    "evidence",
    "fix",
    "source",
)

#: A commercial-cloud install as the setup script leaves it (the healthy sample's values).
HEALTHY: dict[str, str] = {
    "AZURE_MFA_HOSTNAME": "strongauthenticationservice.auth.microsoft.com",
    "AZURE_MFA_RESOURCE_HOSTNAME": "adnotifications.windowsazure.com",
    "AZURE_MFA_TARGET_PATH": "StrongAuthenticationService.svc/Connector",
    "CLIENT_ID": "981f26a1-7f43-403b-a875-f8b09b8cd720",
    "STS_URL": "https://login.microsoftonline.com/",
    "REQUIRE_USER_MATCH": "TRUE",
    "VERBOSE_LOG": "FALSE",
    "CLIENT_CERT_IDENTIFIER": "CN=3f6d1b2e-8c4a-4e7b-9a51-2d7c6e0f9b84, OU=Microsoft NPS Extension",
    "TENANT_ID": "3f6d1b2e-8c4a-4e7b-9a51-2d7c6e0f9b84",
}
DLLS: dict[str, tuple[str, str]] = {
    "AuthorizationDLLs": ("REG_MULTI_SZ", AUTHZ_DLL),
    "ExtensionDLLs": ("REG_MULTI_SZ", AUTHN_DLL),
}


# ---------------------------------------------------------------------------------------------
# Helpers


def _text(key: str, values: Mapping[str, str | tuple[str, str]]) -> str:
    lines = ["", key]
    for name, value in values.items():
        kind, data = value if isinstance(value, tuple) else ("REG_SZ", value)
        lines.append(f"    {name}    {kind}    {data}")
    return "\r\n".join([*lines, "", ""])


def _dump(name: str, key: str, values: Mapping[str, str | tuple[str, str]]) -> RegistryDump:
    return parse_regquery(_text(key, values).encode("utf-16"), name)


def _bundle(
    before: Mapping[str, str | tuple[str, str]] | None = None,
    after: Mapping[str, str | tuple[str, str]] | None = None,
    *,
    authsrv: Mapping[str, str | tuple[str, str]] | None = None,
    authsrv_after: Mapping[str, str | tuple[str, str]] | None = None,
) -> list[RegistryDump]:
    """The four dumps of a health-check bundle; "after" defaults to before + VERBOSE_LOG TRUE."""
    before = dict(HEALTHY if before is None else before)
    after = {**before, "VERBOSE_LOG": "TRUE"} if after is None else after
    authsrv = DLLS if authsrv is None else authsrv
    return [
        _dump("BeforeRegAdd_AzureMFA.txt", AZUREMFA, before),
        _dump("AfterRegAdd_AzureMFA.txt", AZUREMFA, after),
        _dump("BeforeRegAdd_AuthSrv.txt", AUTHSRV, authsrv),
        _dump(
            "AfterRegAdd_AuthSrv.txt", AUTHSRV, authsrv if authsrv_after is None else authsrv_after
        ),
    ]


def _empty(name: str) -> RegistryDump:
    """What the script writes for a key that does not exist: a BOM and a line break."""
    return parse_regquery("\r\n".encode("utf-16"), name)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _ids(findings: list[ConfigFinding]) -> list[tuple[str, str]]:
    return [(finding.id, finding.value) for finding in findings]


def _with(**changes: str | None) -> dict[str, str]:
    values = dict(HEALTHY)
    for name, data in changes.items():
        if data is None:
            values.pop(name, None)
        else:
            values[name] = data
    return values


def _sample_dumps(bundle: Path) -> list[RegistryDump]:
    with zipfile.ZipFile(bundle) as archive:
        return [
            parse_regquery(archive.read(name), f"{bundle.name}!{name}")
            for name in sorted(archive.namelist())
            if "RegAdd" in name
        ]


def _config_ids() -> list[str]:
    result = check_catalog()
    return [entry.id for entry in result.catalog.checks] if result.catalog else ["<invalid>"]


# ---------------------------------------------------------------------------------------------
# The shipped rules


def test_config_file_is_valid_lint_clean_and_all_checks() -> None:
    result = check_catalog([CONFIG_FILE])
    assert result.errors == ()
    assert result.warnings == ()
    assert result.catalog is not None
    entries = result.catalog.entries
    assert len(entries) >= 20
    assert all(entry.check is not None and not entry.rules for entry in entries)
    assert all(entry.id.startswith("config.") and entry.scope == "server" for entry in entries)
    assert result.catalog.checks == entries


def test_shipped_catalog_keeps_checks_apart_from_match_entries(catalog: Catalog) -> None:
    checks = catalog.checks
    assert {entry.file for entry in checks} == {"catalog/config.yaml"}
    assert all(entry.check is None for entry in catalog.entries if entry not in checks)


@pytest.mark.parametrize("entry_id", _config_ids())
def test_every_example_triggers_its_entry(catalog: Catalog, entry_id: str) -> None:
    entry = catalog.get(entry_id)
    assert entry.examples
    for example in entry.examples:
        findings = check_configuration(example_dumps(entry, example), catalog)
        assert entry_id in [finding.id for finding in findings], example
    assert example_problems(entry) == []


def test_entries_cite_the_facts_pages(catalog: Catalog) -> None:
    allowed = (
        "https://learn.microsoft.com/entra/identity/authentication/",
        "https://learn.microsoft.com/troubleshoot/windows-server/networking/",
        "https://github.com/Azure-Samples/azure-mfa-nps-extension-health-check",
    )
    for entry in catalog.checks:
        assert entry.references
        assert all(url.startswith(allowed) for url in entry.references), entry.id


def test_required_values_are_the_documented_ones(catalog: Catalog) -> None:
    missing: dict[str, set[str]] = {}
    for entry in catalog.checks:
        check = entry.check
        assert check is not None
        if check.when == "missing":
            missing[entry.id] = set(check.values)
    assert missing["config.setup-value-missing"] == {"TENANT_ID", "CLIENT_CERT_IDENTIFIER"}
    assert missing["config.service-value-missing"] == {
        "AZURE_MFA_HOSTNAME",
        "AZURE_MFA_TARGET_PATH",
        "CLIENT_ID",
        "STS_URL",
    }
    assert missing["config.resource-hostname-missing"] == {"AZURE_MFA_RESOURCE_HOSTNAME"}
    assert missing["config.mfa-dlls-missing"] == {"AuthorizationDLLs", "ExtensionDLLs"}
    # Optional values are never required.
    optional = {"IP_WHITELIST", "LDAP_LOOKUP_FORESTS", "REQUIRE_USER_MATCH", "VERBOSE_LOG"}
    assert not optional & set().union(*missing.values())


def test_a_clean_bundle_triggers_nothing(catalog: Catalog) -> None:
    # VERBOSE_LOG flips FALSE -> TRUE between the dumps, as the script does: not a change.
    assert check_configuration(_bundle(), catalog) == []


@pytest.mark.skipif(not SAMPLE_BUNDLES, reason="samples/ is not available")
def test_every_sample_gives_the_expected_findings(catalog: Catalog) -> None:
    expected = {
        "alternate-login-id": [("config.ldap-lookup-forests-separator", "LDAP_LOOKUP_FORESTS")],
        "sp-disabled": [("config.old-mfa-hostname", "AZURE_MFA_HOSTNAME")],
    }
    assert len(SAMPLE_BUNDLES) >= 10
    for bundle in SAMPLE_BUNDLES:
        dumps = _sample_dumps(bundle)
        assert len(dumps) == 4
        findings = check_configuration(dumps, catalog)
        assert _ids(findings) == expected.get(bundle.parent.name, []), bundle.parent.name


@pytest.mark.skipif(not SAMPLE_BUNDLES, reason="samples/ is not available")
def test_alternate_login_id_sample_flags_the_forest_list(catalog: Catalog) -> None:
    bundle = next(path for path in SAMPLE_BUNDLES if path.parent.name == "alternate-login-id")
    [finding] = check_configuration(_sample_dumps(bundle), catalog)
    member = f"{bundle.name}!AfterRegAdd_AzureMFA.txt"
    assert finding.as_dict() == {
        "id": "config.ldap-lookup-forests-separator",
        "title": "LDAP_LOOKUP_FORESTS separates forests with spaces or commas",
        "category": "configuration",
        "severity": "high",
        "key": AZUREMFA,
        "value": "LDAP_LOOKUP_FORESTS",
        "data": "proseware.com contoso.com",
        "evidence": f"{member}:14: LDAP_LOOKUP_FORESTS    REG_SZ    proseware.com contoso.com",
        "fix": catalog.get("config.ldap-lookup-forests-separator").steps[0],
        "source": member,
    }
    values = effective_values(_sample_dumps(bundle))
    assert values["LDAP_LOOKUP_FORESTS"] == "proseware.com contoso.com"
    assert values["VERBOSE_LOG"] == "TRUE"  # the after dump: the script turned it on


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"TENANT_ID": None}, [("config.setup-value-missing", "TENANT_ID")]),
        (
            {"CLIENT_ID": None, "STS_URL": None},
            [
                ("config.service-value-missing", "CLIENT_ID"),
                ("config.service-value-missing", "STS_URL"),
            ],
        ),
        (
            {"AZURE_MFA_RESOURCE_HOSTNAME": None},
            [("config.resource-hostname-missing", "AZURE_MFA_RESOURCE_HOSTNAME")],
        ),
        # Empty is reported as empty, not also as "not a GUID" or "another cloud".
        ({"TENANT_ID": ""}, [("config.required-value-empty", "TENANT_ID")]),
        ({"STS_URL": "  "}, [("config.required-value-empty", "STS_URL")]),
        ({"TENANT_ID": "contoso.onmicrosoft.com"}, [("config.tenant-id-not-guid", "TENANT_ID")]),
        ({"TENANT_ID": "3F6D1B2E-8C4A-4E7B-9A51-2D7C6E0F9B84"}, []),
        (
            {"TENANT_ID": " 3f6d1b2e-8c4a-4e7b-9a51-2d7c6e0f9b84"},
            [("config.tenant-id-not-guid", "TENANT_ID")],
        ),
        ({"CLIENT_ID": "981F26A1-7F43-403B-A875-F8B09B8CD720"}, []),
        ({"CLIENT_ID": HEALTHY["TENANT_ID"]}, [("config.client-id-not-documented", "CLIENT_ID")]),
        (
            {"AZURE_MFA_TARGET_PATH": "Connector"},
            [("config.target-path-unexpected", "AZURE_MFA_TARGET_PATH")],
        ),
        (
            {"AZURE_MFA_HOSTNAME": "adnotifications.windowsazure.com"},
            [("config.old-mfa-hostname", "AZURE_MFA_HOSTNAME")],
        ),
        ({"REQUIRE_USER_MATCH": "FALSE"}, []),
        (
            {"REQUIRE_USER_MATCH": "false"},
            [("config.require-user-match-case", "REQUIRE_USER_MATCH")],
        ),
        (
            {"REQUIRE_USER_MATCH": "TRUE "},
            [("config.require-user-match-case", "REQUIRE_USER_MATCH")],
        ),
        ({"REQUIRE_USER_MATCH": ""}, [("config.require-user-match-case", "REQUIRE_USER_MATCH")]),
        ({"OVERRIDE_NUMBER_MATCHING_WITH_OTP": "TRUE"}, []),
        (
            {"OVERRIDE_NUMBER_MATCHING_WITH_OTP": "True"},
            [("config.override-number-matching-case", "OVERRIDE_NUMBER_MATCHING_WITH_OTP")],
        ),
        ({"LDAP_FORCE_GLOBAL_CATALOG": "FALSE"}, []),
        (
            {"LDAP_FORCE_GLOBAL_CATALOG": "false"},
            [("config.ldap-force-global-catalog-case", "LDAP_FORCE_GLOBAL_CATALOG")],
        ),
        # Its registry type is not documented: a DWORD is not judged.
        ({"LDAP_FORCE_GLOBAL_CATALOG": ("REG_DWORD", "0x1")}, []),
        ({"LDAP_LOOKUP_FORESTS": "proseware.com"}, []),
        ({"LDAP_LOOKUP_FORESTS": "proseware.com;contoso.com"}, []),
        ({"LDAP_LOOKUP_FORESTS": "proseware.com; contoso.com"}, []),
        (
            {"LDAP_LOOKUP_FORESTS": "proseware.com , contoso.com"},
            [("config.ldap-lookup-forests-separator", "LDAP_LOOKUP_FORESTS")],
        ),
        ({"IP_WHITELIST": ""}, []),
        ({"IP_WHITELIST": "10.0.0.1;10.0.0.2;fe80::1"}, []),
        ({"IP_WHITELIST": "10.0.0.1 10.0.0.2"}, [("config.ip-whitelist-format", "IP_WHITELIST")]),
        ({"IP_WHITELIST": "10.0.0.0/8"}, [("config.ip-whitelist-format", "IP_WHITELIST")]),
        # Values npsdiag has no rule about are left alone.
        ({"LDAP_ALTERNATE_LOGINID_ATTRIBUTE": "mail", "SOMETHING_ELSE": "x y,z"}, []),
    ],
)
def test_rules_on_the_extension_key(
    catalog: Catalog,
    changes: dict[str, str | tuple[str, str] | None],
    expected: list[tuple[str, str]],
) -> None:
    values: dict[str, str | tuple[str, str]] = dict(HEALTHY)
    for name, data in changes.items():
        if data is None:
            values.pop(name)
        else:
            values[name] = data
    assert _ids(check_configuration(_bundle(values), catalog)) == expected


@pytest.mark.parametrize(
    ("sts", "mfa", "resource", "fires"),
    [
        ("https://login.microsoftonline.us/", "strongauthenticationservice.auth.microsoft.us",
         "adnotifications.windowsazure.us", False),
        ("https://login.chinacloudapi.cn/", "strongauthenticationservice.auth.microsoft.cn",
         "adnotifications.windowsazure.cn", False),
        ("HTTPS://LOGIN.MICROSOFTONLINE.COM/", "StrongAuthenticationService.auth.microsoft.com",
         "adnotifications.windowsazure.com", False),
        # The facts give the trailing slash as the default but no failure without it.
        ("https://login.microsoftonline.com", "strongauthenticationservice.auth.microsoft.com",
         "adnotifications.windowsazure.com", False),
        ("https://login.microsoftonline.us/", "strongauthenticationservice.auth.microsoft.com",
         "adnotifications.windowsazure.com", True),
        ("https://login.microsoftonline.com/", "strongauthenticationservice.auth.microsoft.us",
         "adnotifications.windowsazure.com", True),
        ("https://login.microsoftonline.com/", "strongauthenticationservice.auth.microsoft.com",
         "adnotifications.windowsazure.cn", True),
        ("https://login.example.com/", "strongauthenticationservice.auth.microsoft.com",
         "adnotifications.windowsazure.com", True),
    ],
)  # fmt: skip
def test_cloud_consistency(
    catalog: Catalog, sts: str, mfa: str, resource: str, fires: bool
) -> None:
    values = _with(STS_URL=sts, AZURE_MFA_HOSTNAME=mfa, AZURE_MFA_RESOURCE_HOSTNAME=resource)
    ids = [finding.id for finding in check_configuration(_bundle(values), catalog)]
    assert ("config.cloud-mismatch" in ids) is fires


def test_cloud_mismatch_names_every_value_and_its_cloud(catalog: Catalog) -> None:
    values = _with(STS_URL="https://login.microsoftonline.us/", AZURE_MFA_RESOURCE_HOSTNAME=None)
    findings = check_configuration(_bundle(values), catalog)
    [mismatch] = [finding for finding in findings if finding.id == "config.cloud-mismatch"]
    # In the order the check names them; the missing resource host is left to its own check.
    assert mismatch.value == "STS_URL, AZURE_MFA_HOSTNAME"
    assert mismatch.data == (
        "STS_URL https://login.microsoftonline.us/ (usgov); "
        "AZURE_MFA_HOSTNAME strongauthenticationservice.auth.microsoft.com (public)"
    )
    assert mismatch.evidence == (
        "AfterRegAdd_AzureMFA.txt:6: STS_URL    REG_SZ    https://login.microsoftonline.us/ | "
        "AfterRegAdd_AzureMFA.txt:3: AZURE_MFA_HOSTNAME    REG_SZ    "
        "strongauthenticationservice.auth.microsoft.com"
    )
    assert "config.resource-hostname-missing" in [finding.id for finding in findings]
    unknown = check_configuration(_bundle(_with(STS_URL="https://sts.contoso.com/")), catalog)
    assert "STS_URL https://sts.contoso.com/ (no known group)" in unknown[0].data
    # The old host name is a public-cloud value: only the low-severity note fires.
    old = _with(AZURE_MFA_HOSTNAME="adnotifications.windowsazure.com")
    assert _ids(check_configuration(_bundle(old), catalog)) == [
        ("config.old-mfa-hostname", "AZURE_MFA_HOSTNAME")
    ]
    assert catalog.get("config.old-mfa-hostname").severity == "low"


# ---------------------------------------------------------------------------------------------
# NPS's parameters key


@pytest.mark.parametrize(
    ("authsrv", "expected"),
    [
        (DLLS, []),
        # Other products' DLLs may sit beside the extension's, in any order.
        (
            {
                "AuthorizationDLLs": ("REG_MULTI_SZ", f"C:\\Other\\a.dll\\0{AUTHZ_DLL}"),
                "ExtensionDLLs": ("REG_MULTI_SZ", f"{AUTHN_DLL}\\0C:\\Other\\b.dll"),
            },
            [],
        ),
        (
            {
                "AuthorizationDLLs": ("REG_MULTI_SZ", AUTHZ_DLL.lower()),
                "ExtensionDLLs": ("REG_MULTI_SZ", AUTHN_DLL.upper()),
            },
            [],
        ),
        (
            {"ExtensionDLLs": DLLS["ExtensionDLLs"]},
            [("config.mfa-dlls-missing", "AuthorizationDLLs")],
        ),
        (
            {},
            [
                ("config.mfa-dlls-missing", "AuthorizationDLLs"),
                ("config.mfa-dlls-missing", "ExtensionDLLs"),
            ],
        ),
        # Swapped, and blanked (the "NPS without MFA" test left undone).
        (
            {
                "AuthorizationDLLs": ("REG_MULTI_SZ", AUTHN_DLL),
                "ExtensionDLLs": ("REG_MULTI_SZ", AUTHZ_DLL),
            },
            [
                ("config.authorization-dll-path", "AuthorizationDLLs"),
                ("config.extension-dll-path", "ExtensionDLLs"),
            ],
        ),
        (
            {"AuthorizationDLLs": ("REG_MULTI_SZ", ""), "ExtensionDLLs": ("REG_MULTI_SZ", "")},
            [
                ("config.authorization-dll-path", "AuthorizationDLLs"),
                ("config.extension-dll-path", "ExtensionDLLs"),
            ],
        ),
        # A path that merely contains the documented one is not it.
        (
            {
                "AuthorizationDLLs": ("REG_MULTI_SZ", AUTHZ_DLL + ".bak"),
                "ExtensionDLLs": DLLS["ExtensionDLLs"],
            },
            [("config.authorization-dll-path", "AuthorizationDLLs")],
        ),
    ],
)
def test_rules_on_the_nps_key(
    catalog: Catalog,
    authsrv: dict[str, str | tuple[str, str]],
    expected: list[tuple[str, str]],
) -> None:
    findings = check_configuration(_bundle(authsrv=authsrv), catalog)
    assert _ids(findings) == expected


# ---------------------------------------------------------------------------------------------
# Missing keys


def test_extension_key_missing_before_the_script_created_it(catalog: Catalog) -> None:
    # The script's REG ADD creates the key: the after dump holds VERBOSE_LOG only.
    dumps = _bundle(after={"VERBOSE_LOG": "TRUE"})
    dumps[0] = _empty("BeforeRegAdd_AzureMFA.txt")
    findings = check_configuration(dumps, catalog)
    assert _ids(findings) == [
        ("config.azuremfa-key-missing", ""),
        ("config.setup-value-missing", "CLIENT_CERT_IDENTIFIER"),
        ("config.setup-value-missing", "TENANT_ID"),
        ("config.service-value-missing", "AZURE_MFA_HOSTNAME"),
        ("config.service-value-missing", "AZURE_MFA_TARGET_PATH"),
        ("config.service-value-missing", "CLIENT_ID"),
        ("config.service-value-missing", "STS_URL"),
        ("config.resource-hostname-missing", "AZURE_MFA_RESOURCE_HOSTNAME"),
    ]
    key_missing = findings[0]
    assert key_missing.key == AZUREMFA
    assert key_missing.source == "BeforeRegAdd_AzureMFA.txt"
    assert key_missing.evidence.startswith("BeforeRegAdd_AzureMFA.txt: no key at all")
    assert findings[1].evidence == (
        f"AfterRegAdd_AzureMFA.txt:2: {AZUREMFA} has no CLIENT_CERT_IDENTIFIER value"
    )
    # The VERBOSE_LOG the script added is not a change.
    assert "config.changed" not in [finding.id for finding in findings]


def test_missing_key_evidence_quotes_reg_or_the_other_key(catalog: Catalog) -> None:
    error = parse_regquery(
        b"\r\nERROR: The system was unable to find the specified registry key or value.\r\n",
        "AfterRegAdd_AuthSrv.txt",
    )
    findings = check_configuration([error], catalog)
    assert _ids(findings) == [("config.authsrv-key-missing", "")]
    assert findings[0].evidence == (
        "AfterRegAdd_AuthSrv.txt:2: "
        "ERROR: The system was unable to find the specified registry key or value."
    )
    # A dump named for the extension's key that holds another, unknown key.
    other = _dump("BeforeRegAdd_AzureMFA.txt", "HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso", {"A": "1"})
    [finding] = check_configuration([other], catalog)
    assert finding.id == "config.azuremfa-key-missing"
    assert finding.evidence == (
        f"BeforeRegAdd_AzureMFA.txt: holds HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso but not {AZUREMFA}"
    )


def test_value_checks_skip_a_dump_without_the_key(catalog: Catalog) -> None:
    # No AzureMfa dump at all: nothing about that key is reported.
    dumps = [_dump("BeforeRegAdd_AuthSrv.txt", AUTHSRV, DLLS)]
    assert check_configuration(dumps, catalog) == []
    assert check_configuration([], catalog) == []


# ---------------------------------------------------------------------------------------------
# Before, after and what changed


def test_verbose_log_is_judged_on_the_before_dump_only(catalog: Catalog) -> None:
    left_on = _bundle(_with(VERBOSE_LOG="TRUE"))
    assert _ids(check_configuration(left_on, catalog)) == [
        ("config.verbose-log-left-on", "VERBOSE_LOG")
    ]
    assert check_configuration(left_on, catalog)[0].source == "BeforeRegAdd_AzureMFA.txt"
    lower = _bundle(_with(VERBOSE_LOG="true"))
    assert _ids(check_configuration(lower, catalog)) == [("config.verbose-log-case", "VERBOSE_LOG")]
    # Only the after dump: the script's TRUE is expected, whatever it was before.
    after_only = [_dump("AfterRegAdd_AzureMFA.txt", AZUREMFA, _with(VERBOSE_LOG="TRUE"))]
    assert check_configuration(after_only, catalog) == []
    # A dump named neither way (someone ran REG QUERY by hand) stands for the before state.
    manual = [_dump("azuremfa-now.txt", AZUREMFA, _with(VERBOSE_LOG="TRUE"))]
    assert _ids(check_configuration(manual, catalog)) == [
        ("config.verbose-log-left-on", "VERBOSE_LOG")
    ]


def test_other_checks_read_the_newest_dump(catalog: Catalog) -> None:
    # Fixed during the collection: the after dump is what counts, and the change is reported.
    dumps = _bundle(_with(LDAP_LOOKUP_FORESTS="a.com b.com"), None)
    dumps[1] = _dump("AfterRegAdd_AzureMFA.txt", AZUREMFA, _with(LDAP_LOOKUP_FORESTS="a.com;b.com"))
    assert _ids(check_configuration(dumps, catalog)) == [("config.changed", "LDAP_LOOKUP_FORESTS")]


def test_changes_between_before_and_after(catalog: Catalog) -> None:
    before = _with(IP_WHITELIST="10.0.0.1", STS_URL="https://login.microsoftonline.com/")
    after: dict[str, str | tuple[str, str]] = {
        **_with(STS_URL="https://login.microsoftonline.com", VERBOSE_LOG="TRUE"),
        "LDAP_ALTERNATE_LOGINID_ATTRIBUTE": "mail",
        "REQUIRE_USER_MATCH": ("REG_DWORD", "0x1"),
    }
    findings = check_configuration(
        _bundle(before, after, authsrv_after={"ExtensionDLLs": DLLS["ExtensionDLLs"]}), catalog
    )
    changed = [finding for finding in findings if finding.id == "config.changed"]
    assert [(finding.key, finding.value, finding.data) for finding in changed] == [
        (AUTHSRV, "AuthorizationDLLs", f'"{AUTHZ_DLL}" -> (not set)'),
        (AZUREMFA, "IP_WHITELIST", '"10.0.0.1" -> (not set)'),
        (AZUREMFA, "LDAP_ALTERNATE_LOGINID_ATTRIBUTE", '(not set) -> "mail"'),
        (AZUREMFA, "REQUIRE_USER_MATCH", 'REG_SZ "TRUE" -> REG_DWORD "0x1"'),
        (
            AZUREMFA,
            "STS_URL",
            '"https://login.microsoftonline.com/" -> "https://login.microsoftonline.com"',
        ),
    ]
    assert all(
        finding.category == "not-an-error" and finding.severity == "info" for finding in changed
    )
    sts = changed[-1]
    assert sts.source == "AfterRegAdd_AzureMFA.txt"
    assert sts.evidence == (
        "BeforeRegAdd_AzureMFA.txt:7: STS_URL    REG_SZ    https://login.microsoftonline.com/ | "
        "AfterRegAdd_AzureMFA.txt:7: STS_URL    REG_SZ    https://login.microsoftonline.com"
    )
    assert changed[1].evidence.endswith("| AfterRegAdd_AzureMFA.txt: (not set)")
    # VERBOSE_LOG, flipped by the script, is never a change.
    assert "VERBOSE_LOG" not in [finding.value for finding in changed]
    # The problems of the newest dump are reported next to the changes, worst first.
    assert [finding.id for finding in findings][:2] == [
        "config.mfa-dlls-missing",
        "config.require-user-match-case",
    ]


def test_changes_need_both_a_before_and_an_after_dump(catalog: Catalog) -> None:
    one = _dump("azuremfa-1.txt", AZUREMFA, HEALTHY)
    two = _dump("azuremfa-2.txt", AZUREMFA, _with(CLIENT_ID=None))
    # Two unlabelled dumps: no order between them, so no change; the last one counts.
    assert _ids(check_configuration([one, two], catalog)) == [
        ("config.service-value-missing", "CLIENT_ID")
    ]
    assert check_configuration([two, one], catalog) == []


def test_value_names_compare_without_letter_case(catalog: Catalog) -> None:
    before = _with(VERBOSE_LOG=None, REQUIRE_USER_MATCH=None)
    before["require_user_match"] = "true"
    after = dict(before)
    after["Require_User_Match"] = after.pop("require_user_match")
    findings = check_configuration(_bundle(before, after), catalog)
    # Same value, same data: no change; the rule still finds it by name.
    assert _ids(findings) == [("config.require-user-match-case", "Require_User_Match")]


# ---------------------------------------------------------------------------------------------
# Which dump is which


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("BeforeRegAdd_AzureMFA.txt", _text(AZUREMFA, {}), DumpIdentity(BEFORE, ("azuremfa",))),
        ("c:\\nps\\AfterRegAdd_AuthSrv.txt", "", DumpIdentity(AFTER, ("authsrv",))),
        ("x.zip!BeforeRegAdd_AuthSrv.txt", "", DumpIdentity(BEFORE, ("authsrv",))),
        ("bundle/after/BeforeRegAdd_AzureMFA.txt", "", DumpIdentity(BEFORE, ("azuremfa",))),
        # The content wins over a misleading name.
        ("BeforeRegAdd_AzureMFA.txt", _text(AUTHSRV, {}), DumpIdentity(BEFORE, ("authsrv",))),
        (
            "registry.txt",
            _text(AZUREMFA, {}) + _text(AUTHSRV.replace("HKEY_LOCAL_MACHINE", "HKLM"), {}),
            DumpIdentity(UNLABELLED, ("azuremfa", "authsrv")),
        ),
        ("before-and-after.txt", "", DumpIdentity(UNLABELLED, ())),
        ("notes.txt", _text("HKEY_CURRENT_USER\\Software", {}), DumpIdentity(UNLABELLED, ())),
    ],
)
def test_identify_dump(name: str, text: str, expected: DumpIdentity) -> None:
    assert identify_dump(parse_regquery(text.encode(), name)) == expected


def test_a_dump_of_both_keys_serves_both(catalog: Catalog) -> None:
    text = _text(AZUREMFA, _with(TENANT_ID="x")) + _text(AUTHSRV, {})
    findings = check_configuration([parse_regquery(text.encode(), "all.txt")], catalog)
    assert _ids(findings) == [
        ("config.mfa-dlls-missing", "AuthorizationDLLs"),
        ("config.mfa-dlls-missing", "ExtensionDLLs"),
        ("config.tenant-id-not-guid", "TENANT_ID"),
    ]


# ---------------------------------------------------------------------------------------------
# Findings: flat, deterministic


def test_findings_are_flat_strings_in_a_fixed_order(catalog: Catalog) -> None:
    values = _with(
        TENANT_ID="x", REQUIRE_USER_MATCH="no", IP_WHITELIST="1.1.1.1/8", VERBOSE_LOG="TRUE"
    )
    dumps = _bundle(values, authsrv={"ExtensionDLLs": DLLS["ExtensionDLLs"]})
    findings = check_configuration(dumps, catalog)
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}
    keys = [(rank[finding.severity], finding.id, finding.value) for finding in findings]
    assert keys == sorted(keys)
    assert [finding.severity for finding in findings] == [
        "critical",
        "high",
        "high",
        "medium",
        "low",
    ]
    for finding in findings:
        data = finding.as_dict()
        assert tuple(data) == FINDING_KEYS
        assert all(isinstance(value, str) for value in data.values())
        assert data["fix"] == catalog.get(finding.id).fixes[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        findings[0].id = "x"  # type: ignore[misc]
    shuffled = list(dumps)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert check_configuration(shuffled, catalog) == findings


@settings(max_examples=150, deadline=None)
@given(
    data=st.dictionaries(
        keys=st.sampled_from(sorted({*HEALTHY, "IP_WHITELIST", "LDAP_LOOKUP_FORESTS"})),
        values=st.text(
            alphabet=st.characters(
                min_codepoint=0x20, max_codepoint=0x17F, exclude_characters="\x7f"
            ),
            max_size=40,
        ),
    )
)
def test_any_data_gives_findings_never_errors(data: dict[str, str]) -> None:
    catalog = load_catalog()
    findings = check_configuration(_bundle(_with(**data)), catalog)
    assert all(isinstance(finding, ConfigFinding) for finding in findings)
    assert {finding.id for finding in findings} <= {entry.id for entry in catalog.checks}


# ---------------------------------------------------------------------------------------------
# effective_values


def test_effective_values() -> None:
    dumps = _bundle(authsrv=DLLS)
    values = effective_values(dumps)
    assert list(values) == list(HEALTHY)
    assert values["VERBOSE_LOG"] == "TRUE"
    assert effective_values(dumps, "authsrv") == {
        "AuthorizationDLLs": AUTHZ_DLL,
        "ExtensionDLLs": AUTHN_DLL,
    }
    assert effective_values([]) == {}
    assert effective_values([_empty("BeforeRegAdd_AzureMFA.txt")]) == {}
    with pytest.raises(UsageError, match="unknown registry key 'hklm'"):
        effective_values(dumps, "hklm")


# ---------------------------------------------------------------------------------------------
# The rule language is data: validation, custom rules, documentation


CHECK_ENTRY = """\
- id: config.sample-check
  title: Sample check
  category: configuration
  severity: medium
  scope: server
  check:
    key: azuremfa
    value: SAMPLE_VALUE
    matches: '^bad$'
  cause: Something is wrong.
  steps:
    - fix: Fix it.
  references:
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension
  examples:
    - |
      HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa
          SAMPLE_VALUE    REG_SZ    bad
  source: facts
"""


def _write(folder: Path, text: str, name: str = "custom.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _check_block(body: str) -> str:
    block = "  check:\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return re.sub(r"  check:\n(?:    .*\n)+", lambda _: block, CHECK_ENTRY, count=1)


def test_a_custom_check_is_evaluated_from_data(tmp_path: Path) -> None:
    custom = load_catalog([_write(tmp_path, CHECK_ENTRY)])
    entry = custom.get("config.sample-check")
    assert entry.check == ConfigCheck(keys=("azuremfa",), values=("SAMPLE_VALUE",), matches="^bad$")
    assert entry.rules == ()
    assert custom.checks == (entry,)
    hit = _bundle(_with(SAMPLE_VALUE="bad"))
    assert _ids(check_configuration(hit, custom)) == [("config.sample-check", "SAMPLE_VALUE")]
    # Case-sensitive unless the pattern says otherwise.
    assert check_configuration(_bundle(_with(SAMPLE_VALUE="BAD")), custom) == []
    assert check_configuration(_bundle(), custom) == []


def test_check_entries_in_json_and_words(catalog: Catalog) -> None:
    entry = catalog.get("config.changed")
    data = entry.to_dict()
    assert data["match"] == []
    assert data["check"] == {
        "key": ["azuremfa", "authsrv"],
        "when": "changed",
        "ignore": ["VERBOSE_LOG"],
    }
    json.dumps(data)
    assert catalog.get("nps.granted").to_dict()["check"] is None
    cloud = catalog.get("config.cloud-mismatch").to_dict()["check"]
    assert set(cloud) == {"key", "consistent"}
    assert set(cloud["consistent"]) == {"public", "usgov", "china"}
    described = {check.id: check.check.describe() for check in catalog.checks if check.check}
    assert described["config.changed"] == (
        "azuremfa or authsrv: any value (except VERBOSE_LOG) differs between the before and "
        "after dumps"
    )
    assert described["config.azuremfa-key-missing"] == (
        "azuremfa: the key is missing from the before dump"
    )
    assert described["config.tenant-id-not-guid"].startswith(
        "azuremfa: TENANT_ID is present in the newest dump and matches \\S and does not match"
    )
    assert described["config.cloud-mismatch"] == (
        "azuremfa: STS_URL, AZURE_MFA_HOSTNAME, AZURE_MFA_RESOURCE_HOSTNAME do not all belong "
        "to one of public, usgov, china (in the newest dump)"
    )
    assert described["config.mfa-dlls-missing"] == (
        "authsrv: AuthorizationDLLs or ExtensionDLLs is missing from the newest dump"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("key: azuremfa\nvalue: A\nstpes: x\n", "check: unknown key 'stpes' (expected one of: "),
        ("value: A\n", "check: missing required key 'key'"),
        ("key: registry\nvalue: A\n", "check: key 'registry' is not allowed"),
        ("key: [azuremfa, azuremfa]\nwhen: missing\n", "check: 'key' names 'azuremfa' twice"),
        ("key: azuremfa\nvalue: [A, a]\n", "check: 'value' names 'a' twice"),
        ("key: azuremfa\nvalue: []\n", "check: 'value' must be a name or a non-empty list"),
        ("key: azuremfa\nvalue: [A, 3]\n", "check: 'value' holds '3', which is not a name"),
        ('key: azuremfa\nvalue: "A\\tB"\n', "is not a registry value name"),
        ("key: azuremfa\nvalue: A\nwhen: absent\n", "check: when 'absent' is not allowed"),
        ("key: azuremfa\nvalue: A\ndump: oldest\n", "check: dump 'oldest' is not allowed"),
        ("key: azuremfa\nvalue: A\nmatches: '(unclosed'\n", "check: matches is not a valid"),
        ("key: azuremfa\nvalue: A\nnot_matches: ''\n", "check: not_matches must be a non-empty"),
        ("key: azuremfa\n", "check: when: present needs a 'value'"),
        (
            "key: azuremfa\nvalue: A\nwhen: missing\nmatches: x\n",
            "check: 'matches' tests the data of a present value",
        ),
        (
            "key: azuremfa\nwhen: changed\ndump: before\n",
            "check: 'dump' does not apply to when: changed",
        ),
        ("key: azuremfa\nvalue: A\nignore: [B]\n", "check: 'ignore' only applies to when: changed"),
        (
            "key: azuremfa\nvalue: A\nwhen: changed\nignore: [B]\n",
            "check: 'ignore' only applies to when: changed without 'value'",
        ),
        (
            "key: azuremfa\nconsistent: {a: {X: x}}\n",
            "check: consistent must map two or more group names",
        ),
        (
            "key: azuremfa\nconsistent: {a: {X: x}, b: {Y: y}}\n",
            "check: consistent: group 'b' must name the same values as the first group",
        ),
        (
            "key: azuremfa\nconsistent: {Public: {X: x}, b: {X: y}}\n",
            "check: consistent: group name 'Public' must be lower-case kebab-case",
        ),
        (
            "key: azuremfa\nconsistent: {a: {X: x}, b: {X: '[bad'}}\n",
            "check: consistent: group 'b': the pattern for X is not a valid regular expression",
        ),
        (
            "key: azuremfa\nconsistent: {a: {X: x}, b: []}\n",
            "check: consistent: group 'b' must map value names to regular expressions",
        ),
        (
            "key: azuremfa\nvalue: A\nconsistent: {a: {X: x}, b: {X: y}}\n",
            "check: 'value' cannot be combined with 'consistent'",
        ),
        (
            "key: azuremfa\nwhen: missing\nconsistent: {a: {X: x}, b: {X: y}}\n",
            "check: 'consistent' compares present values: remove 'when: missing'",
        ),
    ],
)
def test_bad_checks_are_reported(tmp_path: Path, body: str, expected: str) -> None:
    text = _check_block(body)
    errors = check_catalog([_write(tmp_path, text, "bad.yaml")]).errors
    assert any(expected in error for error in errors), errors
    prefix = f"{tmp_path / 'bad.yaml'}: entry 'config.sample-check': "
    assert all(error.startswith(prefix) for error in errors), errors


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  check:\n",
            "  match:\n    code: SAMPLE\n  check:\n",
            "has both 'match' and 'check'",
        ),
        (
            "  check:\n    key: azuremfa\n    value: SAMPLE_VALUE\n    matches: '^bad$'\n",
            "",
            "missing required key 'match' (or 'check' for a configuration check)",
        ),
        (
            "  check:\n    key: azuremfa\n    value: SAMPLE_VALUE\n    matches: '^bad$'\n",
            "  check: [azuremfa]\n",
            "check must be a mapping",
        ),
        ("scope: server", "scope: user", "scope 'user' does not fit a configuration check"),
        (
            "  examples:\n    - |\n",
            "  examples: []\n  unused:\n    - |\n",
            "examples must hold at least one REG QUERY snippet",
        ),
    ],
)
def test_bad_check_entries_are_reported(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in CHECK_ENTRY
    text = CHECK_ENTRY.replace(old, new)
    errors = check_catalog([_write(tmp_path, text, "bad.yaml")]).errors
    assert any(expected in error for error in errors), errors


def test_examples_that_do_not_trigger_are_lint_warnings(tmp_path: Path) -> None:
    quiet = CHECK_ENTRY.replace("SAMPLE_VALUE    REG_SZ    bad", "SAMPLE_VALUE    REG_SZ    fine")
    result = check_catalog([_write(tmp_path, quiet)])
    assert result.errors == ()
    assert result.warnings == (
        f"{tmp_path / 'custom.yaml'}: entry 'config.sample-check': "
        "example 1 does not trigger the check",
    )
    garbage = CHECK_ENTRY.replace("    SAMPLE_VALUE    REG_SZ    bad", "SAMPLE_VALUE = bad")
    [warning] = check_catalog([_write(tmp_path, garbage)]).warnings
    assert "example 1 is not REG QUERY output: AfterRegAdd_AzureMFA.txt: line 2: expected" in (
        warning
    )


def test_example_dumps_follow_the_check(catalog: Catalog) -> None:
    before = example_dumps(catalog.get("config.verbose-log-left-on"), "HKLM\\SOFTWARE\\X\n")
    assert [dump.name for dump in before] == ["BeforeRegAdd_AzureMFA.txt"]
    snippet = _text(AUTHSRV, DLLS)
    changed = example_dumps(catalog.get("config.changed"), snippet)
    assert [dump.name for dump in changed] == [
        "BeforeRegAdd_AzureMFA.txt",
        "AfterRegAdd_AzureMFA.txt",
    ]
    assert changed[0].keys == {AUTHSRV: {}}
    with pytest.raises(UsageError, match="is not a configuration check"):
        example_dumps(catalog.get("nps.granted"), snippet)


def test_readme_and_schema_document_the_check_language() -> None:
    readme = (CATALOG_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration checks", 1)[1].split("\n## ", 1)[0]
    for word in (*CHECK_KEYS, *CHECK_WHEN, *CHECK_DUMPS, *REGISTRY_KEYS):
        assert f"`{word}`" in section, word
    assert "`config.yaml`" in readme
    schema = json.loads((CATALOG_DIR / "schema.json").read_text(encoding="utf-8"))
    check = schema["$defs"]["check"]
    assert tuple(check["properties"]) == CHECK_KEYS
    assert tuple(check["properties"]["when"]["enum"]) == CHECK_WHEN
    assert tuple(check["properties"]["dump"]["enum"]) == CHECK_DUMPS
    assert tuple(check["properties"]["key"]["oneOf"][0]["enum"]) == tuple(REGISTRY_KEYS)
    assert schema["$defs"]["entry"]["oneOf"] == [
        {"required": ["match"]},
        {"required": ["check"]},
        {"required": ["detector"]},
    ]


def test_schema_accepts_the_config_file_and_rejects_both_or_neither() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads((CATALOG_DIR / "schema.json").read_text(encoding="utf-8"))
    entries = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))
    jsonschema.validate(entries, schema)
    both = {**entries[0], "match": {"code": "X"}}
    neither = {key: value for key, value in entries[0].items() if key != "check"}
    for bad in (both, neither):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate([bad], schema)


def test_user_docs_name_every_check(catalog: Catalog) -> None:
    page = (REPO / "docs" / "config-check.md").read_text(encoding="utf-8")
    for entry in catalog.checks:
        assert f"| `{entry.id}` | {entry.severity} |" in page, entry.id
    for name in ("BeforeRegAdd_AzureMFA.txt", "AfterRegAdd_AuthSrv.txt", "check_configuration"):
        assert name in page


def test_explains_links_a_check_to_the_entries_it_explains(tmp_path: Path) -> None:
    linked = CHECK_ENTRY.replace(
        "  check:\n", "  explains: [ext.alternate-login-id-error]\n  check:\n"
    )
    entry = load_catalog([_write(tmp_path, linked)]).get("config.sample-check")
    assert entry.explains == ("ext.alternate-login-id-error",)
    assert entry.to_dict()["explains"] == ["ext.alternate-login-id-error"]
    shipped = load_catalog().get("config.ldap-lookup-forests-separator")
    assert "ext.alternate-login-id-error" in shipped.explains


def test_explains_is_refused_outside_configuration_checks(tmp_path: Path) -> None:
    misplaced = """\
        - id: ext.sample-code
          title: Sample
          category: user
          severity: low
          scope: user
          match: {code: SAMPLE_CODE}
          explains: [ext.user-not-found]
          cause: A sample.
          steps: [{check: Nothing.}]
          references: [https://learn.microsoft.com/]
          examples: ['ErrorCode:: SAMPLE_CODE Msg:: sample']
          source: npsdiag
        """
    result = check_catalog([_write(tmp_path, misplaced)])
    assert any("explains is only for configuration checks" in e for e in result.errors)
