"""NPS's own evidence in the catalog: every reason code, 6272/6274, and the System events.

The entries live in catalog/nps.yaml and catalog/system.yaml. Every example goes through the real
extractor, and every reason code is also checked with a typed Security event (named EventData and
no rendered message), which is how most exported .evtx files arrive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import pytest

from npsdiag.catalog import DETECTORS, Catalog, CatalogEntry, Match, check_catalog, load_catalog
from npsdiag.extract import extract, finding_from_text
from npsdiag.model import Event, Finding, FindingKind

REPO = Path(__file__).resolve().parents[1]
NPS_FILE = REPO / "catalog" / "nps.yaml"
SYSTEM_FILE = REPO / "catalog" / "system.yaml"
FACTS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "nps-extension-facts.md"

#: Every code of Microsoft's NPS reason-code table (facts section 3.3), typed out so the test
#: still runs without the reference notes. The table has intentional gaps (no 11-15, 19, ...).
REASON_CODES: tuple[int, ...] = (
    *range(11),
    16,
    17,
    18,
    20,
    21,
    22,
    23,
    *range(32, 39),
    48,
    49,
    *range(64, 71),
    72,
    73,
    80,
    96,
    97,
    112,
    113,
    *range(115, 119),
    *range(256, 303),
)
#: Codes whose table wording says the request was dropped, not refused: 6274 only.
DISCARDED_ONLY = frozenset({9, 97, 115, 262, 266})
#: Server-side failures that can end in a refusal (6273) or a drop (6274).
DENIED_OR_DISCARDED = frozenset({1, 3, 6, 10, 80, 113, 116, 117, 118, 260, 271})
#: One cause for every user of the server: policy and infrastructure.
SERVER_SCOPE = frozenset({1, 2, 3, 4, 5, 6, 10, 32, 48, 49, 66, 113, 261, 271})
#: Causes that lie with each user's account.
USER_SCOPE = frozenset({7, 8, 16, 17, 33, 34, 35, 36, 37, 38, 64, 65, 67, 72})
#: First-factor and policy failures: NPS refused before the extension was asked.
FIRST_FACTOR = frozenset({7, 8, 16, 48, 49, 65, 66})
#: Entries the diagnosis raises from a pattern over many events, by detector name: they have no
#: match rule, so no single finding is ever explained by them.
DETECTOR_ENTRIES = {
    "repeated-discards": "nps.client-timeout",
    "no-nps-decisions": "nps.auditing-off",
}

_KIND_IDS = {FindingKind.NPS_DENIED: 6273, FindingKind.NPS_DISCARDED: 6274}


# ---------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _own_entries() -> list[CatalogEntry]:
    # Read at collection time; an invalid file fails the validity test instead of collection.
    result = check_catalog([NPS_FILE, SYSTEM_FILE])
    return list(result.catalog) if result.catalog else []


def _event(
    *,
    channel: str,
    provider: str,
    event_id: int,
    fields: Mapping[str, str] | None = None,
    data: tuple[str, ...] = (),
    message: str | None = None,
) -> Event:
    return Event(
        time=datetime(2026, 1, 14, 9, 0, tzinfo=timezone.utc),
        channel=channel,
        provider=provider,
        event_id=event_id,
        level=0,
        computer="NPS01.contoso.local",
        record_id=1,
        fields=dict(fields or {}),
        data=data,
        message=message,
        origin="test.evtx",
    )


def _security_event(
    event_id: int, reason_code: int | None = None, reason: str = "-", *, message: str | None = None
) -> Event:
    """A Security 6272-6274 as an .evtx reader delivers it: named EventData (facts 3.2)."""
    fields = {
        "SubjectUserSid": "S-1-5-21-1-2-3-1104",
        "SubjectUserName": "alice@contoso.com",
        "SubjectDomainName": "CONTOSO",
        "FullyQualifiedSubjectUserName": "CONTOSO\\alice",
        "NASIPv4Address": "10.0.0.10",
        "ClientName": "vpn-gateway",
        "ClientIPAddress": "10.0.0.10",
        "ProxyPolicyName": "Use Windows authentication for all users",
        "NetworkPolicyName": "VPN users",
        "AuthenticationType": "PAP",
    }
    if reason_code is not None:
        fields["ReasonCode"] = str(reason_code)
        fields["Reason"] = reason
    return _event(
        channel="Security",
        provider="Microsoft-Windows-Security-Auditing",
        event_id=event_id,
        fields=fields,
        message=message,
    )


def _single(catalog: Catalog, finding: Finding) -> list[Match]:
    """The matches that explain one finding, proven free of detector entries."""
    matches = catalog.match(finding)
    assert not [match.entry.id for match in matches if match.entry.detector is not None]
    return matches


def _extracted(event: Event) -> Finding:
    finding = extract(event)
    assert finding is not None
    return finding


# ---------------------------------------------------------------------------------------------
# Validity


def test_own_files_are_valid_and_lint_clean() -> None:
    result = check_catalog([NPS_FILE, SYSTEM_FILE])
    assert result.errors == ()
    assert result.warnings == ()
    assert result.catalog is not None
    ids = [entry.id for entry in result.catalog]
    # 92 reason codes, granted, discarded, client timeout, auditing off, unknown reason; 7 System
    # entries.
    assert sum(entry_id.startswith("nps.") for entry_id in ids) == len(REASON_CODES) + 5
    assert sum(entry_id.startswith("sys.") for entry_id in ids) == 7


def test_shipped_catalog_has_no_issue_with_these_files() -> None:
    # Duplicate ids across files only show up when the whole catalog is checked.
    result = check_catalog()
    own = [
        line
        for line in result.errors + result.warnings
        if "nps.yaml" in line or "system.yaml" in line
    ]
    assert own == []
    assert result.catalog is not None
    assert {"nps.granted", "sys.tls-disabled"} <= {entry.id for entry in result.catalog}


def test_entries_sit_in_the_file_of_their_family() -> None:
    for entry in _own_entries():
        expected = "nps.yaml" if entry.id.startswith("nps.") else "system.yaml"
        assert entry.file.endswith(expected), entry.id


# ---------------------------------------------------------------------------------------------
# The reason-code table


def test_reason_code_list_has_every_code_once() -> None:
    assert len(REASON_CODES) == len(set(REASON_CODES)) == 92
    assert list(REASON_CODES) == sorted(REASON_CODES)


def _table_codes(text: str) -> list[int]:
    """The code column of the reason-code block of facts section 3.3 (ranges expanded)."""
    section = text.split("### 3.3", 1)[1].split("### 3.4", 1)[0]
    block = section.split("```", 2)[1]
    codes: list[int] = []
    for line in block.splitlines():
        found = re.match(r"(\d+)(?:-(\d+))?\s", line)
        if found:
            first = int(found.group(1))
            last = int(found.group(2) or first)
            codes.extend(range(first, last + 1))
    return codes


@pytest.mark.skipif(not FACTS.exists(), reason="shared reference notes are not available")
def test_every_code_of_the_reference_table_is_covered(catalog: Catalog) -> None:
    codes = _table_codes(FACTS.read_text(encoding="utf-8"))
    assert len(codes) >= 90
    assert set(codes) == set(REASON_CODES)
    missing = [code for code in codes if catalog.find(f"nps.reason-{code}") is None]
    assert missing == []


def _expected_kinds(code: int) -> set[str]:
    if code == 0:
        return {FindingKind.NPS_GRANTED}
    if code in DISCARDED_ONLY:
        return {FindingKind.NPS_DISCARDED}
    if code in DENIED_OR_DISCARDED:
        return {FindingKind.NPS_DENIED, FindingKind.NPS_DISCARDED}
    return {FindingKind.NPS_DENIED}


@pytest.mark.parametrize("code", REASON_CODES)
def test_every_reason_code_has_its_entry(catalog: Catalog, code: int) -> None:
    entry = catalog.find(f"nps.reason-{code}")
    assert entry is not None
    assert entry.file.endswith("nps.yaml")
    event_rules = [rule for rule in entry.rules if rule.kind != FindingKind.TEXT]
    # Events are matched on the number only: the Reason text differs between Windows versions.
    assert all(rule.reason_code == code for rule in event_rules)
    assert all(rule.message is None and not rule.fallback for rule in event_rules)
    assert {rule.kind for rule in event_rules} == _expected_kinds(code)
    assert len(event_rules) == len(_expected_kinds(code))
    # A Reason line pasted on its own, with no event around it, is known by its wording.
    pasted = [rule for rule in entry.rules if rule.kind == FindingKind.TEXT]
    assert all(rule.message and rule.reason_code is None for rule in pasted)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Reason: An NPS extension dynamic link library (DLL) that is installed on the NPS server "
         "rejected the connection request.", 21),
        ("An IAS extension dynamic link library (DLL) that is installed on the NPS server "
         "rejected the connection request.", 21),
        ("An NPS extension dynamic link library (DLL) that is installed on the NPS server "
         "discarded the connection request.", 9),
        ("The revocation function was unable to check revocation for the certificate.", 258),
        ("Reason: The specified domain does not exist.", 7),
    ],
)  # fmt: skip
def test_pasted_reason_lines_in_either_wording(catalog: Catalog, text: str, code: int) -> None:
    from npsdiag.extract import finding_from_text

    assert catalog.match(finding_from_text(text))[0].entry.id == f"nps.reason-{code}"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (code, kind)
        for code in REASON_CODES
        if code != 0  # 6272 prints no reason code; 0 is covered by the pasted form below
        for kind in sorted(_expected_kinds(code))
    ],
)
def test_typed_security_event_is_explained_by_its_reason_entry(
    catalog: Catalog, code: int, kind: str
) -> None:
    event_id = _KIND_IDS[kind]
    finding = _extracted(_security_event(event_id, code, "A reason text in any wording."))
    assert (finding.kind, finding.reason_code) == (kind, code)
    matches = _single(catalog, finding)
    assert matches[0].entry.id == f"nps.reason-{code}"
    assert matches[0].specificity == 2
    # Repeated discards are the diagnosis's to find: one 6274 never selects nps.client-timeout.
    assert "nps.client-timeout" not in [match.entry.id for match in matches]


@pytest.mark.parametrize("code", [0, 16, 21, 48, 271])
def test_a_bare_number_is_read_as_a_reason_code(catalog: Catalog, code: int) -> None:
    finding = finding_from_text(str(code))
    assert catalog.match(finding)[0].entry.id == f"nps.reason-{code}"


# ---------------------------------------------------------------------------------------------
# Examples, through the real extractor


@pytest.mark.parametrize("entry", _own_entries(), ids=lambda entry: entry.id)
def test_examples_match_their_entry_through_the_extractor(
    catalog: Catalog, entry: CatalogEntry
) -> None:
    assert entry.examples or entry.detector is not None
    for example in entry.examples:
        finding = finding_from_text(example)
        matches = catalog.match(finding)
        assert matches, f"{entry.id}: example matched nothing: {example[:80]}"
        if entry.detector is not None:
            # A detector entry's example shows one event of the pattern; neither pasted nor as
            # a typed 6274 does that event select the entry (only the diagnosis raises it).
            assert entry.id not in [match.entry.id for match in matches]
            typed = _extracted(_security_event(6274, message=example))
            assert entry.id not in [match.entry.id for match in catalog.match(typed)]
            continue
        assert matches[0].entry.id == entry.id, (
            f"{entry.id}: best match is {matches[0].entry.id} for {example[:80]}"
        )


@pytest.mark.parametrize(
    "entry",
    # nps.reason-0's example is the pasted reason lines alone, without the user block.
    [
        entry
        for entry in _own_entries()
        if entry.id.startswith("nps.") and entry.id != "nps.reason-0"
    ],
    ids=lambda entry: entry.id,
)
def test_nps_examples_read_as_nps_events_with_a_user(entry: CatalogEntry) -> None:
    for example in entry.examples:
        finding = finding_from_text(example)
        if finding.kind == FindingKind.TEXT:
            # A Reason line pasted on its own: no event, no user (the test above covers it).
            continue
        assert finding.kind.startswith("nps.")
        assert finding.user == "CONTOSO\\alice"
        assert finding.user_key == "alice"
        assert finding.client_ip == "10.0.0.10"


# ---------------------------------------------------------------------------------------------
# Granted, discarded, repeated discards, unknown codes


def test_granted_and_plain_discards_are_benign(catalog: Catalog) -> None:
    for entry_id in ("nps.granted", "nps.reason-0", "nps.discarded"):
        entry = catalog.get(entry_id)
        assert entry.benign and entry.severity == "info", entry_id
    granted = _extracted(_security_event(6272))
    assert [match.entry.id for match in catalog.match(granted)] == ["nps.granted"]
    discard = _extracted(_security_event(6274))
    assert [match.entry.id for match in _single(catalog, discard)] == ["nps.discarded"]


def test_client_timeout_is_left_to_the_diagnosis(catalog: Catalog) -> None:
    entry = catalog.get("nps.client-timeout")
    assert (entry.category, entry.severity, entry.scope) == ("configuration", "high", "server")
    assert entry.detector == "repeated-discards"
    assert entry.rules == ()
    assert entry.check is None
    steps = " ".join(entry.steps)
    assert "60 seconds" in steps and "remoteauthtimeout" in steps and "30-60" in steps
    assert catalog.detectors()["repeated-discards"] is entry
    assert entry.to_dict()["detector"] == "repeated-discards" and entry.to_dict()["match"] == []


@pytest.mark.parametrize(
    "event",
    [
        _security_event(6274, 9, "discarded"),
        _security_event(6274),
        _security_event(6274, 999, "Something new."),
        _security_event(6273, 16, "wrong password"),
    ],
    ids=["6274-reason-9", "6274-no-reason", "6274-unknown-reason", "6273-reason-16"],
)
def test_no_single_nps_event_selects_a_detector_entry(catalog: Catalog, event: Event) -> None:
    ids = [match.entry.id for match in catalog.match(_extracted(event))]
    assert ids  # every discard and denial is explained by an ordinary entry
    assert not set(ids) & set(DETECTOR_ENTRIES.values())


def test_each_detector_is_named_by_its_nps_entry(catalog: Catalog) -> None:
    detectors = catalog.detectors()
    assert {name: entry.id for name, entry in detectors.items()} == DETECTOR_ENTRIES
    assert set(detectors) == set(DETECTORS)
    for name, entry in detectors.items():
        assert entry.detector == name and entry.rules == () and entry.file.endswith("nps.yaml")


def test_auditing_off_says_how_to_turn_nps_auditing_on(catalog: Catalog) -> None:
    entry = catalog.get("nps.auditing-off")
    assert (entry.category, entry.severity, entry.scope) == ("configuration", "medium", "server")
    assert (entry.detector, entry.rules, entry.source) == ("no-nps-decisions", (), "facts")
    assert "Network Policy Server" in entry.cause and "6273" in entry.cause
    steps = entry.steps
    get = 'auditpol /get /subcategory:"Network Policy Server"'
    set_ = 'auditpol /set /subcategory:"Network Policy Server" /success:enable /failure:enable'
    where = [next(i for i, step in enumerate(steps) if text in step) for text in (get, set_)]
    assert where[0] < where[1]  # look first, then switch it on
    assert "export" in steps[-1] and "Reproduce" in steps[-1]
    assert set(entry.references) == {
        "https://learn.microsoft.com/windows/security/threat-protection/auditing/audit-network-policy-server",
        "https://learn.microsoft.com/troubleshoot/windows-server/networking/troubleshoot-network-policy-server",
    }


def test_unknown_reason_code_is_never_dropped(catalog: Catalog) -> None:
    denied = _extracted(_security_event(6273, 999, "Something new."))
    matches = catalog.match(denied)
    assert [match.entry.id for match in matches] == ["nps.unknown-reason"]
    assert matches[0].rule.fallback
    no_code = _extracted(_security_event(6273))
    assert [match.entry.id for match in catalog.match(no_code)] == ["nps.unknown-reason"]
    pasted = finding_from_text("Reason Code: 999\nReason: Something new.")
    assert catalog.match(pasted)[0].entry.id == "nps.unknown-reason"
    # A discard with an unknown code is caught by the generic discard entry, whose kind-only
    # rule cannot say "without a reason code"; the fallback never gets to run for it.
    discard = _extracted(_security_event(6274, 999, "Something new."))
    assert [match.entry.id for match in _single(catalog, discard)] == ["nps.discarded"]


# ---------------------------------------------------------------------------------------------
# Categories, severities, scopes and what the texts must say


@pytest.mark.parametrize("code", sorted(SERVER_SCOPE))
def test_policy_and_infrastructure_causes_are_server_wide(catalog: Catalog, code: int) -> None:
    assert catalog.get(f"nps.reason-{code}").scope == "server"


@pytest.mark.parametrize("code", sorted(USER_SCOPE))
def test_account_causes_are_per_user(catalog: Catalog, code: int) -> None:
    entry = catalog.get(f"nps.reason-{code}")
    assert (entry.scope, entry.category) == ("user", "user")


def test_severities_follow_the_impact(catalog: Catalog) -> None:
    def severity(code: int) -> str:
        return catalog.get(f"nps.reason-{code}").severity

    assert {severity(code) for code in (4, 5, 10, 32, 261)} == {"critical"}
    assert {severity(code) for code in (16, 21, 34, 65)} == {"medium"}
    assert catalog.get("nps.reason-0").category == "not-an-error"
    # No error entry is marked as harmless, and every needs-support entry says what to collect.
    for entry in _own_entries():
        assert (entry.severity == "info") == entry.benign, entry.id
        if entry.category == "needs-support":
            assert entry.collect, entry.id


@pytest.mark.parametrize("code", sorted(FIRST_FACTOR))
def test_first_factor_failures_say_mfa_was_not_reached(catalog: Catalog, code: int) -> None:
    cause = catalog.get(f"nps.reason-{code}").cause
    assert "before the MFA extension was involved" in cause


def test_reason_21_points_to_the_extension_events(catalog: Catalog) -> None:
    entry = catalog.get("nps.reason-21")
    assert "extension's own events" in entry.cause
    steps = " ".join(entry.steps)
    for channel in ("AuthZOptCh", "AuthZAdminCh"):
        assert channel in steps
    assert "ext.challenge-no-answer" in steps


# ---------------------------------------------------------------------------------------------
# System events


@pytest.mark.parametrize(
    ("provider", "event_id", "data", "expected"),
    [
        ("NPS", 13, ("10.0.0.23",), "sys.unknown-radius-client"),
        ("NPS", 17, ("10.0.0.10",), "sys.message-authenticator-missing"),
        ("NPS", 18, ("10.0.0.10",), "sys.shared-secret-mismatch"),
        ("IAS", 18, ("10.0.0.10",), "sys.shared-secret-mismatch"),
        ("NPS", 4400, ("DC01.contoso.local", "CONTOSO"), "sys.domain-controller-connected"),
        ("NPS", 4401, ("DC02.contoso.local", "CONTOSO"), "sys.domain-controller-unresponsive"),
        ("NPS", 4402, ("CONTOSO.LOCAL",), "sys.no-domain-controller"),
        ("Schannel", 36871, ("client", "10013"), "sys.tls-disabled"),
    ],
)
def test_typed_system_event_without_message_is_explained(
    catalog: Catalog, provider: str, event_id: int, data: tuple[str, ...], expected: str
) -> None:
    event = _event(channel="System", provider=provider, event_id=event_id, data=data)
    matches = catalog.match(_extracted(event))
    assert [match.entry.id for match in matches] == [expected]


def test_system_entries_choose_honest_categories(catalog: Catalog) -> None:
    assert catalog.get("sys.domain-controller-connected").benign
    assert catalog.get("sys.no-domain-controller").severity == "critical"
    assert catalog.get("sys.tls-disabled").severity == "critical"
    for entry_id in ("sys.unknown-radius-client", "sys.shared-secret-mismatch"):
        entry = catalog.get(entry_id)
        assert (entry.category, entry.scope) == ("configuration", "server")
