"""The error catalog: the shipped data, strict validation, matching and the ``catalog`` commands."""

from __future__ import annotations

import dataclasses
import importlib.resources
import importlib.util
import json
import re
import shutil
import textwrap
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import npsdiag.catalog as catalog_module
import npsdiag.catalog_model as catalog_model
from npsdiag.catalog import (
    CATEGORIES,
    DETECTORS,
    ENTRY_KEYS,
    RESPONSE_STATES,
    RULE_KEYS,
    SCOPES,
    SEVERITIES,
    SOURCES,
    STEP_KINDS,
    UNKNOWN_CODE_ID,
    Catalog,
    CatalogEntry,
    MatchRule,
    Step,
    check_catalog,
    code_to_kebab,
    load_catalog,
)
from npsdiag.errors import CatalogError, UsageError
from npsdiag.model import Event, Finding, FindingKind

REPO = Path(__file__).resolve().parents[1]
CATALOG_DIR = REPO / "catalog"
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"
SEED_PAGE = REFERENCE_DIR / "seed-nps-extension-errors-2018.md"
HAS_EXTRACTOR = importlib.util.find_spec("npsdiag.extract") is not None

#: Every code of the 2018 errors page, typed out so the test still runs without the reference.
CODES_2018 = (
    "CONTACT_SUPPORT",
    "CLIENT_CERT_INSTALL_ERROR",
    "ESTS_TOKEN_ERROR",
    "HTTPS_COMMUNICATION_ERROR",
    "HTTP_CONNECT_ERROR",
    "REGISTRY_CONFIG_ERROR",
    "REQUEST_FORMAT_ERROR",
    "REQUEST_MISSING_CODE",
    "USERNAME_CANONICALIZATION_ERROR",
    "ALTERNATE_LOGIN_ID_ERROR",
    "AccessDenied",
    "AuthenticationMethodNotConfigured",
    "AuthenticationMethodNotSupported",
    "BecAccessDenied",
    "InvalidFormat",
    "StrongAuthenticationServiceInvalidParameter",
    "InvalidSession",
    "NoDefaultAuthenticationMethodIsConfigured",
    "OathCodePinIncorrect",
    "ProofDataNotFound",
    "SMSAuthFailedWrongCodePinEntered",
    "TenantIsBlocked",
    "UserNotFound",
    "OathCodeIncorrect",
    "SMSAuthFailedMaxAllowedCodeRetryReached",
    "SMSAuthFailedWrongCodeEntered",
    "InvalidParameter",
    "InternalError",
    "VersionNotSupported",
    "MFAPinNotSetup",
)
#: Codes the current revision of the page (and the advanced-configuration page) added.
CODES_CURRENT = (
    "AuthenticationThrottled",
    "AuthenticationMethodLimitReached",
    "IP_WHITE_LIST_WARNING",
)
#: Codes with several documented messages: each message gets its own entry.
MESSAGES = {
    "ALTERNATE_LOGIN_ID_ERROR": (
        "Error: userObjectSid lookup failed",
        "Error: Alternate LoginId lookup failed",
        "Error: Alternate LoginId value is empty",
    ),
    "InvalidParameter": (
        "Request must not be null",
        "ObjectId must not be null or empty for ReplicationScope:{0}",
        "The length of CompanyName \\{0}\\ is longer than the maximum allowed length {1}",
        "UserPrincipalName must not be null or empty",
        "The provided TenantId is not in correct format",
        "SessionId must not be null or empty",
        "Could not resolve any ProofData from request or Msods. The ProofData is unKnown",
    ),
}
#: Ids other modules refer to; they must exist and never be renamed.
SYMPTOM_IDS = (
    "ext.challenge-no-answer",
    "ext.primary-auth-rejected",
    "ext.access-challenge-ignored",
    "ext.ip-whitelist-not-initialised",
    "ext.nas-attributes-missing",
    "ext.ip-white-list-warning",
    "ext.unknown-code",
)
#: Every file of the shipped catalog, in reading order.
SHIPPED_FILES = (
    "catalog/aadsts.yaml",
    "catalog/client.yaml",
    "catalog/config.yaml",
    "catalog/extension.yaml",
    "catalog/healthcheck.yaml",
    "catalog/host.yaml",
    "catalog/nps.yaml",
    "catalog/setup.yaml",
    "catalog/symptoms.yaml",
    "catalog/system.yaml",
    "catalog/tables/aadsts.yaml",
    "catalog/tables/events.yaml",
)
#: The entries the diagnosis raises from a pattern over many events, by detector name.
DETECTOR_ENTRIES = {
    "repeated-discards": "nps.client-timeout",
    "no-nps-decisions": "nps.auditing-off",
}

# A minimal valid entry, as YAML, for the validation tests.
VALID_ENTRY = """\
- id: ext.sample-error
  title: Sample error
  category: configuration
  severity: high
  scope: server
  match:
    code: SAMPLE_ERROR
  cause: Something is wrong.
  steps:
    - fix: Fix it.
  collect:
    - The log.
  references:
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension-errors
  examples:
    - 'ErrorCode:: SAMPLE_ERROR Msg:: broken'
  source: facts
"""

# A minimal valid detector entry: no match rule, no examples.
DETECTOR_ENTRY = """\
- id: nps.sample-pattern
  title: Sample pattern
  category: configuration
  severity: high
  scope: server
  detector: repeated-discards
  cause: Something repeats.
  steps:
    - fix: Fix it.
  references:
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension
  source: facts
"""


# ---------------------------------------------------------------------------------------------
# Helpers


def _event(text: str, *, event_id: int = 1) -> Event:
    return Event(
        time=datetime(2026, 1, 14, 9, 0, tzinfo=timezone.utc),
        channel="AuthZAdminCh",
        provider="Microsoft-AzureMfa-AuthZ",
        event_id=event_id,
        level=2,
        computer="NPS01.contoso.local",
        record_id=1,
        fields={},
        data=(text,),
        message=None,
        origin="test.evtx",
    )


def _untyped_event(text: str) -> Event:
    """Rendered text that lost its header (a text dump): no channel, provider or event id.

    NPS Security and System texts arrive like this; the extractor recognises them by wording.
    """
    return Event(
        time=datetime(2026, 1, 14, 9, 0, tzinfo=timezone.utc),
        channel="",
        provider="",
        event_id=0,
        level=None,
        computer="NPS01.contoso.local",
        record_id=1,
        fields={},
        data=(),
        message=text,
        origin="test.txt",
    )


def _finding(
    kind: str = FindingKind.EXCEPTION,
    *,
    codes: tuple[str, ...] = (),
    detail: str | None = None,
    text: str = "",
    aadsts: tuple[str, ...] = (),
    response_state: str | None = None,
    reason_code: int | None = None,
    event_id: int = 1,
) -> Finding:
    return Finding(
        event=_event(text, event_id=event_id),
        kind=kind,
        codes=codes,
        detail=detail,
        aadsts=aadsts,
        response_state=response_state,
        reason_code=reason_code,
    )


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _errors(folder: Path, name: str, text: str) -> tuple[str, ...]:
    return check_catalog([_write(folder, name, text)]).errors


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog()


def _shipped_ids() -> list[str]:
    # Parametrisation happens at collection; a broken catalog must fail the tests, not collection.
    # Check entries (catalog/config.yaml) have REG QUERY snippets as examples, not event texts;
    # tests/test_configlint.py proves those through the real parser and evaluator.
    result = check_catalog()
    if result.catalog is None:
        return ["<catalog invalid>"]
    # Detector entries have no rules; their examples (if any) only describe the pattern. Fact
    # checks (catalog/host.yaml) have collected files as examples: tests/test_factcheck.py.
    return [
        entry.id
        for entry in result.catalog
        if entry.check is None and entry.detector is None and entry.fact_check is None
    ]


# ---------------------------------------------------------------------------------------------
# The shipped data


def test_shipped_catalog_is_valid_and_lint_clean() -> None:
    result = check_catalog()
    assert result.errors == ()
    assert result.warnings == ()
    assert result.files == SHIPPED_FILES
    assert result.catalog is not None and len(result.catalog) >= 50


def test_load_catalog_is_cached_and_sorted(shipped: Catalog) -> None:
    assert load_catalog() is load_catalog()
    ids = [entry.id for entry in shipped.entries]
    assert ids == sorted(ids)


@pytest.mark.parametrize("code", CODES_2018 + CODES_CURRENT)
def test_every_documented_code_has_an_entry(shipped: Catalog, code: str) -> None:
    assert code in shipped.codes
    generic = shipped.by_code(code)[0]
    assert code_to_kebab(code) in generic.id or len(generic.codes) > 1, generic.id


@pytest.mark.parametrize(("code", "message"), [(c, m) for c, ms in MESSAGES.items() for m in ms])
def test_each_message_of_a_multi_message_code_has_its_own_entry(
    shipped: Catalog, code: str, message: str
) -> None:
    matches = shipped.match(_finding(FindingKind.REJECTED, codes=(code,), detail=message))
    best = matches[0].entry
    assert best.id.startswith(f"ext.{code_to_kebab(code)}."), best.id
    assert matches[0].specificity == 2
    # The family entry matches the code alone and ranks below the refinement.
    assert f"ext.{code_to_kebab(code)}" in [match.entry.id for match in matches[1:]]


def test_each_message_refinement_is_distinct(shipped: Catalog) -> None:
    for code, messages in MESSAGES.items():
        winners = {
            shipped.match(_finding(codes=(code,), detail=message))[0].entry.id
            for message in messages
        }
        assert len(winners) == len(messages), code


def test_message_texts_of_the_current_revision_are_covered(shipped: Catalog) -> None:
    texts = {
        "ext.primary-auth-rejected": "with response state AccessReject, ignoring request",
        "ext.access-challenge-ignored": "with response state AccessChallenge, ignoring request",
        "ext.challenge-no-answer": "Challenge requested in Authentication Ext for User",
    }
    for entry_id, text in texts.items():
        entry = shipped.find(entry_id)
        assert entry is not None
        assert any(text in example for example in entry.examples)


@pytest.mark.skipif(not SEED_PAGE.exists(), reason="shared reference pages are not available")
def test_every_code_row_of_the_2018_page_is_covered(shipped: Catalog) -> None:
    rows: list[tuple[list[str], str]] = []
    for line in SEED_PAGE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| **"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        codes = re.findall(r"\*\*([A-Za-z_]+)\*\*", cells[0])
        rows.append((codes, cells[1] if len(cells) > 2 else ""))
    page_codes = {code for codes, _ in rows for code in codes}
    assert len(page_codes) >= 30
    assert page_codes <= set(shipped.codes), page_codes - set(shipped.codes)
    assert page_codes <= set(CODES_2018)
    # Every message of a code that has several messages selects a refinement of that code.
    for codes, message in rows:
        if codes[0] in MESSAGES and message:
            best = shipped.match(_finding(codes=(codes[0],), detail=message))[0]
            assert best.specificity == 2, (codes[0], message)


@pytest.mark.parametrize("entry_id", SYMPTOM_IDS)
def test_symptom_ids_exist(shipped: Catalog, entry_id: str) -> None:
    assert shipped.find(entry_id) is not None


def test_benign_entries_are_the_ones_documented_as_benign(shipped: Catalog) -> None:
    benign = {entry.id for entry in shipped.entries if entry.benign}
    assert {
        "ext.access-challenge-ignored",
        "ext.ip-whitelist-not-initialised",
        "ext.nas-attributes-missing",
        "ext.oath-code-incorrect",
        "ext.sms-auth-failed-wrong-code-entered",
    } <= benign
    assert "ext.registry-config-error" not in benign
    assert "ext.ip-white-list-warning" not in benign


@pytest.mark.parametrize("entry_id", _shipped_ids())
def test_examples_match_their_entry_through_the_real_extractor(entry_id: str) -> None:
    if not HAS_EXTRACTOR:
        pytest.skip("npsdiag.extract is not available yet")
    from npsdiag.extract import extract, finding_from_text

    catalog = load_catalog()
    entry = catalog.find(entry_id)
    assert entry is not None
    # Extension texts arrive in an extension channel; NPS Security, System and client-side texts
    # arrive as rendered text without an extension channel, and would be misread as extension
    # messages if wrapped in one. Texts that are no event at all (script output, a gateway's log
    # line, a sentence quoted from an event: kind "text" when pasted) only ever arrive pasted.
    wrap = _event if entry_id.startswith("ext.") else _untyped_event
    for example in entry.examples:
        findings = [finding_from_text(example)]
        if findings[0].kind != FindingKind.TEXT:
            findings.append(extract(wrap(example)))
        for finding in findings:
            assert finding is not None
            matches = catalog.match(finding)
            assert matches, f"{entry_id}: example matched nothing: {example[:80]}"
            assert matches[0].entry.id == entry_id, (
                f"{entry_id}: best match is {matches[0].entry.id} for {example[:80]}"
            )


# ---------------------------------------------------------------------------------------------
# Matching, proven with hand-built findings


def test_bare_code_matches_the_family_entry(shipped: Catalog) -> None:
    matches = shipped.match(
        _finding(codes=("REQUEST_MISSING_CODE",), detail="Request is missing OTP")
    )
    assert [match.entry.id for match in matches] == ["ext.request-missing-code"]
    assert matches[0].specificity == 1
    assert matches[0].rule.code == "REQUEST_MISSING_CODE"


def test_aadsts_refinement_beats_the_bare_code(shipped: Catalog) -> None:
    finding = _finding(codes=("ESTS_TOKEN_ERROR",), aadsts=("AADSTS700027",))
    matches = shipped.match(finding)
    assert [m.entry.id for m in matches] == [
        "ext.ests-token-error.aadsts700027",
        "ext.ests-token-error",
    ]
    assert [m.specificity for m in matches] == [2, 1]


def test_unexplained_aadsts_falls_back_to_the_family(shipped: Catalog) -> None:
    finding = _finding(codes=("ESTS_TOKEN_ERROR",), aadsts=("AADSTS50000",))
    assert [m.entry.id for m in shipped.match(finding)] == ["ext.ests-token-error"]


def test_message_is_searched_in_the_event_text_when_detail_is_missing(shipped: Catalog) -> None:
    text = "ErrorCode:: ALTERNATE_LOGIN_ID_ERROR Msg:: Error: ALTERNATE LOGINID VALUE IS EMPTY"
    finding = _finding(codes=("ALTERNATE_LOGIN_ID_ERROR",), text=text)
    assert shipped.match(finding)[0].entry.id == "ext.alternate-login-id-error.value-empty"


def test_ip_whitelist_notice_beats_the_generic_registry_error(shipped: Catalog) -> None:
    detail = "Neither registry entry not default value found for key: IP_WHITELIST"
    finding = _finding(FindingKind.NOTICE, codes=("REGISTRY_CONFIG_ERROR",), detail=detail)
    matches = shipped.match(finding)
    assert [m.entry.id for m in matches] == [
        "ext.ip-whitelist-not-initialised",
        "ext.registry-config-error",
    ]
    other_key = _finding(
        codes=("REGISTRY_CONFIG_ERROR",), detail=detail.replace("IP_WHITELIST", "STS_URL")
    )
    assert shipped.match(other_key)[0].entry.id == "ext.registry-config-error"


def test_user_not_found_has_a_refinement_for_the_graph_message(shipped: Catalog) -> None:
    graph = "MSODS Graph call returned user not found error. GraphError"
    assert shipped.match(_finding(codes=("UserNotFound",), detail=graph))[0].entry.id == (
        "ext.user-not-found.not-in-entra"
    )
    plain = "The specified user was not found"
    assert shipped.match(_finding(codes=("UserNotFound",), detail=plain))[0].entry.id == (
        "ext.user-not-found"
    )


def test_kind_and_response_state_select_symptoms(shipped: Catalog) -> None:
    reject = _finding(FindingKind.IGNORED, response_state="AccessReject")
    challenge = _finding(FindingKind.IGNORED, response_state="AccessChallenge")
    asked = _finding(FindingKind.CHALLENGE)
    assert [m.entry.id for m in shipped.match(reject)] == ["ext.primary-auth-rejected"]
    assert [m.entry.id for m in shipped.match(challenge)] == ["ext.access-challenge-ignored"]
    assert [m.entry.id for m in shipped.match(asked)] == ["ext.challenge-no-answer"]


def test_codes_are_exact_and_case_sensitive(shipped: Catalog) -> None:
    # ext.accepted has no entry and no fallback of its own, so only the code can match. (An
    # NPS denial would now fall back to nps.unknown-reason whatever its codes.)
    lower = _finding(FindingKind.ACCEPTED, codes=("usernotfound",))
    assert shipped.match(lower) == []
    assert shipped.unknown_codes(lower) == ("usernotfound",)
    exact = _finding(FindingKind.ACCEPTED, codes=("UserNotFound",))
    assert [m.entry.id for m in shipped.match(exact)] == ["ext.user-not-found"]


def test_unknown_code_falls_back_and_is_reported(shipped: Catalog) -> None:
    finding = _finding(codes=("BRAND_NEW_ERROR",), detail="something new")
    matches = shipped.match(finding)
    assert [m.entry.id for m in matches] == [UNKNOWN_CODE_ID]
    assert matches[0].rule.fallback
    assert shipped.unknown_codes(finding) == ("BRAND_NEW_ERROR",)
    known_and_new = _finding(codes=("ESTS_TOKEN_ERROR", "BRAND_NEW_ERROR"))
    assert [m.entry.id for m in shipped.match(known_and_new)] == ["ext.ests-token-error"]
    assert shipped.unknown_codes(known_and_new) == ("BRAND_NEW_ERROR",)


def test_unrecognised_extension_message_falls_back(shipped: Catalog) -> None:
    finding = _finding(FindingKind.EXT_OTHER, text="NPS Extension for Azure MFA: something odd")
    assert [m.entry.id for m in shipped.match(finding)] == [UNKNOWN_CODE_ID]


def test_extension_successes_have_no_entry_and_nps_events_match_nps_entries(
    shipped: Catalog,
) -> None:
    assert shipped.match(_finding(FindingKind.ACCEPTED)) == []
    denied = shipped.match(_finding(FindingKind.NPS_DENIED, reason_code=16))
    assert [m.entry.id for m in denied] == ["nps.reason-16"]
    granted = shipped.match(_finding(FindingKind.NPS_GRANTED))
    assert [m.entry.id for m in granted] == ["nps.granted"]


def test_find_get_and_by_code(shipped: Catalog) -> None:
    assert shipped.find("ext.nope") is None
    with pytest.raises(UsageError, match=r"no catalog entry with id 'ext\.nope'"):
        shipped.get("ext.nope")
    assert shipped.get("ext.ests-token-error").family == "ext.ests-token-error"
    refinement = shipped.get("ext.ests-token-error.aadsts700027")
    assert refinement.family == "ext.ests-token-error"
    by_code = [entry.id for entry in shipped.by_code("InvalidParameter")]
    assert by_code[0] == "ext.invalid-parameter"
    assert len(by_code) == 8


def _custom_catalog(tmp_path: Path, text: str) -> Catalog:
    return load_catalog([_write(tmp_path, "custom.yaml", text)])


def _entry_yaml(entry_id: str, match: str, category: str = "configuration") -> str:
    return (
        f"- id: {entry_id}\n  title: t\n  category: {category}\n  severity: low\n"
        f"  scope: user\n  match:\n{textwrap.indent(textwrap.dedent(match), '    ')}"
        "  cause: c\n  steps: [{fix: s}]\n  references: [https://example.com/x]\n"
        "  examples: [x]\n  source: facts\n"
    )


def test_ties_are_broken_by_id_and_best_rule_wins(tmp_path: Path) -> None:
    text = (
        _entry_yaml("ext.zulu", "code: X_ERROR\n")
        + _entry_yaml("ext.alpha", "code: X_ERROR\n")
        + _entry_yaml("ext.multi", "- code: X_ERROR\n- code: X_ERROR\n  message: 'boom'\n")
    )
    catalog = _custom_catalog(tmp_path, text)
    matches = catalog.match(_finding(codes=("X_ERROR",), detail="boom"))
    assert [(m.entry.id, m.specificity) for m in matches] == [
        ("ext.multi", 2),
        ("ext.alpha", 1),
        ("ext.zulu", 1),
    ]
    assert matches[0].rule.message == "boom"


def test_event_id_and_reason_code_rules(tmp_path: Path) -> None:
    text = _entry_yaml("nps.6273.reason-16", "kind: nps.denied\nevent_id: 6273\nreason_code: 16\n")
    catalog = _custom_catalog(tmp_path, text)
    hit = _finding(FindingKind.NPS_DENIED, reason_code=16, event_id=6273)
    assert [m.specificity for m in catalog.match(hit)] == [3]
    assert catalog.match(_finding(FindingKind.NPS_DENIED, reason_code=16, event_id=6274)) == []
    assert catalog.match(_finding(FindingKind.NPS_DENIED, reason_code=21, event_id=6273)) == []


def test_match_rule_specificity_ignores_fallback() -> None:
    assert MatchRule(kind="ext.exception", fallback=True).specificity == 1
    assert MatchRule(code="A", message="b", aadsts="AADSTS1").specificity == 3
    assert MatchRule(code="A", message="x").to_dict() == {"code": "A", "message": "x"}


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), codes=st.lists(st.text(max_size=20), max_size=3))
def test_matching_never_raises_on_arbitrary_text(text: str, codes: list[str]) -> None:
    catalog = load_catalog()
    for kind in (FindingKind.EXCEPTION, FindingKind.REJECTED, FindingKind.EXT_OTHER):
        matches = catalog.match(_finding(kind, codes=tuple(codes), detail=text, text=text))
        assert matches, "an extension finding always gets an entry (at worst the fallback)"


def test_code_to_kebab() -> None:
    assert code_to_kebab("ESTS_TOKEN_ERROR") == "ests-token-error"
    assert (
        code_to_kebab("SMSAuthFailedWrongCodePinEntered")
        == "sms-auth-failed-wrong-code-pin-entered"
    )
    assert code_to_kebab("MFAPinNotSetup") == "mfa-pin-not-setup"
    assert code_to_kebab("NoDefaultAuthenticationMethodIsConfigured") == (
        "no-default-authentication-method-is-configured"
    )


# ---------------------------------------------------------------------------------------------
# Validation: every problem is an error naming file and entry, and all of them are collected


def test_minimal_entry_is_valid(tmp_path: Path) -> None:
    result = check_catalog([_write(tmp_path, "ok.yaml", VALID_ENTRY)])
    assert result.errors == ()
    assert result.catalog is not None
    entry = result.catalog.get("ext.sample-error")
    assert isinstance(entry, CatalogEntry)
    assert entry.file == str(tmp_path / "ok.yaml")
    assert entry.steps == ("Fix it.",)


def test_unknown_key_names_file_entry_and_expected_keys(tmp_path: Path) -> None:
    text = VALID_ENTRY.replace("  steps:", "  stpes:")
    errors = _errors(tmp_path, "extension.yaml", text)
    path = tmp_path / "extension.yaml"
    assert (
        f"{path}: entry 'ext.sample-error': unknown key 'stpes' (expected one of: "
        + ", ".join(ENTRY_KEYS)
        + ")"
    ) in errors
    assert f"{path}: entry 'ext.sample-error': missing required key 'steps'" in errors


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    text = VALID_ENTRY.replace("  severity: high\n", "  severity: high\n  severity: low\n")
    errors = _errors(tmp_path, "dup.yaml", text)
    assert len(errors) == 1
    assert re.search(r"entry 'ext.sample-error': duplicate key 'severity' \(line 5\)", errors[0])


def test_duplicate_key_inside_a_match_rule_is_an_error(tmp_path: Path) -> None:
    text = VALID_ENTRY.replace(
        "    code: SAMPLE_ERROR\n", "    code: SAMPLE_ERROR\n    code: OTHER\n"
    )
    errors = _errors(tmp_path, "dup.yaml", text)
    assert any("duplicate key 'code'" in error for error in errors)


def test_duplicate_ids_across_files_name_the_first_file(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", VALID_ENTRY)
    second = _write(tmp_path, "b.yaml", VALID_ENTRY)
    result = check_catalog([tmp_path])
    assert result.errors == (
        f"{second}: entry 'ext.sample-error': duplicate id (first defined in {first})",
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("category: configuration", "category: config", "category 'config' is not allowed"),
        ("severity: high", "severity: urgent", "severity 'urgent' is not allowed"),
        ("scope: server", "scope: tenant", "scope 'tenant' is not allowed"),
        ("source: facts", "source: blog", "source 'blog' is not allowed"),
        ("code: SAMPLE_ERROR", "message: '(unclosed'", "message is not a valid regular expression"),
        ("code: SAMPLE_ERROR", "kind: ext.bogus", "kind 'ext.bogus' is not a finding kind"),
        ("code: SAMPLE_ERROR", "aadsts: '700027'", "aadsts '700027' must look like AADSTS700027"),
        ("code: SAMPLE_ERROR", "response_state: Reject", "response_state 'Reject' is not allowed"),
        ("code: SAMPLE_ERROR", "event_id: -1", "event_id '-1' must be a non-negative integer"),
        ("code: SAMPLE_ERROR", "reason_code: true", "reason_code 'True' must be a non-negative"),
        (
            "code: SAMPLE_ERROR",
            "code: 'SAMPLE ERROR'",
            "code 'SAMPLE ERROR' must be a product code",
        ),
        (
            "code: SAMPLE_ERROR",
            "kind: ext.exception\n    fallback: 'yes'",
            "fallback 'yes' must be",
        ),
        ("code: SAMPLE_ERROR", "fallback: true", "a fallback rule needs at least one other key"),
        ("code: SAMPLE_ERROR", "stpes: x", "match rule 1: unknown key 'stpes'"),
        ("match:\n    code: SAMPLE_ERROR", "match: {}", "match rule 1: is empty"),
        ("match:\n    code: SAMPLE_ERROR", "match: []", "match must be a rule"),
        ("id: ext.sample-error", "id: Ext.Sample_Error", "must be lower-case dotted kebab-case"),
        ("    - fix: Fix it.", "    - Fix it.", "'steps' item 1 has no kind: write it as"),
        ("    - fix: Fix it.", "    - repair: Fix it.", "kind 'repair' is not allowed"),
        ("    - fix: Fix it.", "    - Fix: it", "kind 'Fix' is not allowed"),
        ("    - fix: Fix it.", "    - {fix: a, check: b}", "must be one '<kind>: <text>' pair"),
        ("    - fix: Fix it.", "    - fix: ''", "must be a non-empty text after 'fix:'"),
        ("    - fix: Fix it.", "    - [fix, it]", "must be one '<kind>: <text>' pair"),
        ("  steps:\n    - fix: Fix it.", "  steps: fix", "'steps' must be a list"),
        ("  - fix: Fix it.", "  []", "steps must not be empty for a 'configuration' entry"),
        ("  - https://learn", "  - http://learn", "reference 'http://learn.microsoft.com/entra"),
        ("    - 'ErrorCode:: SAMPLE_ERROR Msg:: broken'", "    []", "examples must hold at least"),
        ("title: Sample error", "title: [a, b]", "'title' must be a non-empty string"),
    ],
)
def test_bad_values_are_reported(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in VALID_ENTRY
    errors = _errors(tmp_path, "bad.yaml", VALID_ENTRY.replace(old, new))
    assert errors, f"no error for {new!r}"
    assert any(expected in error for error in errors), errors
    assert all(error.startswith(f"{tmp_path / 'bad.yaml'}: ") for error in errors)


def test_steps_carry_their_kinds(tmp_path: Path) -> None:
    text = VALID_ENTRY.replace(
        "    - fix: Fix it.\n",
        "    - check: Look first.\n    - fix: Fix it.\n    - collect: Keep the log.\n"
        "    - escalate: 'Then call: support.'\n",
    )
    result = check_catalog([_write(tmp_path, "kinds.yaml", text)])
    assert result.errors == () and result.catalog is not None
    entry = result.catalog.get("ext.sample-error")
    assert entry.steps == ("Look first.", "Fix it.", "Keep the log.", "Then call: support.")
    assert entry.step_kinds == ("check", "fix", "collect", "escalate")
    assert entry.typed_steps[1] == Step("fix", "Fix it.")
    assert entry.fixes == ("Fix it.",)
    assert entry.to_dict()["step_kinds"] == ["check", "fix", "collect", "escalate"]


def test_step_kinds_must_fit_the_steps() -> None:
    entry = load_catalog().get("ext.ests-token-error")
    with pytest.raises(ValueError, match="step kinds"):
        dataclasses.replace(entry, step_kinds=entry.step_kinds[:-1])


@pytest.mark.parametrize(
    ("category", "kinds", "warning"),
    [
        ("configuration", ("check",), "no 'fix' step"),
        ("user", ("check", "collect"), "no 'fix' step"),
        ("needs-support", ("check",), "neither 'fix' nor 'escalate'"),
    ],
)
def test_entries_without_a_fix_are_linted(
    tmp_path: Path, category: str, kinds: tuple[str, ...], warning: str
) -> None:
    steps = "".join(f"    - {kind}: Step {n}.\n" for n, kind in enumerate(kinds))
    text = VALID_ENTRY.replace("    - fix: Fix it.\n", steps).replace(
        "category: configuration", f"category: {category}"
    )
    result = check_catalog([_write(tmp_path, "lint.yaml", text)])
    assert result.errors == ()
    assert any(warning in line for line in result.warnings), result.warnings


def test_every_shipped_failure_entry_says_how_to_fix_it(shipped: Catalog) -> None:
    for entry in shipped:
        if entry.category in ("configuration", "user"):
            assert entry.fixes, entry.id
        if entry.category == "needs-support":
            assert {"fix", "escalate"} & set(entry.step_kinds), entry.id


def test_benign_entries_may_omit_steps(tmp_path: Path) -> None:
    text = VALID_ENTRY.replace("category: configuration", "category: not-an-error")
    text = text.replace("  steps:\n    - fix: Fix it.\n", "  steps: []\n")
    assert _errors(tmp_path, "benign.yaml", text) == ()


def test_errors_are_collected_across_entries_and_files(tmp_path: Path) -> None:
    broken_one = VALID_ENTRY.replace("severity: high", "severity: urgent").replace(
        "https://learn", "ftp://learn"
    )
    broken_two = VALID_ENTRY.replace("ext.sample-error", "ext.other-error").replace(
        "category: configuration", "category: nope"
    )
    _write(tmp_path, "a.yaml", broken_one + broken_two)
    _write(tmp_path, "b.yaml", "- id: ext.third\n  title: t\n")
    result = check_catalog([tmp_path])
    assert result.catalog is None
    joined = "\n".join(result.errors)
    assert "entry 'ext.sample-error': severity 'urgent'" in joined
    assert "entry 'ext.sample-error': reference 'ftp://" in joined
    assert "entry 'ext.other-error': category 'nope'" in joined
    assert "b.yaml: entry 'ext.third': missing required key 'category'" in joined
    assert len(result.errors) >= 4 + 8  # b.yaml misses nine required keys


def test_entry_without_id_is_named_by_position_and_line(tmp_path: Path) -> None:
    text = VALID_ENTRY + "- title: no id here\n"
    errors = _errors(tmp_path, "x.yaml", text)
    assert any("entry #2 (line 18): missing required key 'id'" in error for error in errors)


def test_file_level_problems(tmp_path: Path) -> None:
    syntax = _errors(tmp_path, "syntax.yaml", "- id: [unclosed\n")
    assert len(syntax) == 1 and "not valid YAML" in syntax[0] and "line" in syntax[0]
    mapping = _errors(tmp_path, "mapping.yaml", "id: ext.x\n")
    assert mapping == (f"{tmp_path / 'mapping.yaml'}: the top level must be a list of entries",)
    empty = check_catalog([_write(tmp_path, "empty.yaml", "# nothing yet\n")])
    assert empty.errors == () and any("holds no entries" in w for w in empty.warnings)
    missing = check_catalog([tmp_path / "missing.yaml"])
    assert missing.errors == (f"{tmp_path / 'missing.yaml'}: no such file or folder",)
    folder = tmp_path / "no-yaml"
    folder.mkdir()
    assert "no catalog files" in check_catalog([folder]).errors[0]


def test_load_catalog_raises_catalog_error_with_every_problem(tmp_path: Path) -> None:
    text = VALID_ENTRY.replace("severity: high", "severity: urgent").replace(
        "scope: server", "scope: x"
    )
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(CatalogError, match="severity 'urgent'") as caught:
        load_catalog([path])
    assert caught.value.problems == list(check_catalog([path]).errors)
    assert len(caught.value.problems) == 2


def test_lint_warnings_do_not_block_loading(tmp_path: Path) -> None:
    text = VALID_ENTRY.replace("id: ext.sample-error", "id: ext.misnamed")
    text = text.replace("category: configuration", "category: needs-support")
    text = text.replace("  collect:\n    - The log.\n", "")
    text = text.replace("'ErrorCode:: SAMPLE_ERROR Msg:: broken'", "'nothing relevant'")
    text += VALID_ENTRY.replace("ext.sample-error", "ext.orphan.refinement").replace(
        "SAMPLE_ERROR", "ORPHAN"
    )
    result = check_catalog([_write(tmp_path, "lint.yaml", text)])
    assert result.errors == ()
    assert result.catalog is not None
    joined = "\n".join(result.warnings)
    assert "entry 'ext.misnamed': id does not follow the code: expected ext.sample-error" in joined
    assert "entry 'ext.misnamed': needs-support entry without a 'collect' list" in joined
    assert "entry 'ext.misnamed': example 1 does not show what any match rule looks for" in joined
    assert "entry 'ext.orphan.refinement': refinement without a family entry 'ext.orphan'" in joined


def test_shipped_catalog_loads_from_the_wheel_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside an installed wheel the data sits in npsdiag/_catalog_data (pyproject force-include).
    package = tmp_path / "npsdiag"
    shutil.copytree(CATALOG_DIR, package / "_catalog_data")
    (package / "_catalog_data" / "symptoms.yaml").unlink()
    monkeypatch.setattr(importlib.resources, "files", lambda _name: package)
    result = check_catalog()
    assert result.files == tuple(name for name in SHIPPED_FILES if "symptoms" not in name)
    assert result.catalog is not None
    assert result.catalog.find("ext.ests-token-error") is not None
    assert result.catalog.find("nps.granted") is not None
    assert result.catalog.find("ext.unknown-code") is None


def test_pyproject_ships_the_catalog_inside_the_package() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"catalog" = "npsdiag/_catalog_data"' in text


# ---------------------------------------------------------------------------------------------
# Detector entries: patterns over many events, raised by the diagnosis, never matched


def test_detector_entry_is_valid_without_rules_or_examples(tmp_path: Path) -> None:
    rule_entry = _entry_yaml("nps.one-discard", "kind: nps.discarded\nevent_id: 6274\n")
    result = check_catalog([_write(tmp_path, "d.yaml", DETECTOR_ENTRY + rule_entry)])
    assert (result.errors, result.warnings) == ((), ())
    assert result.catalog is not None
    entry = result.catalog.get("nps.sample-pattern")
    assert (entry.detector, entry.rules, entry.check, entry.examples) == (
        "repeated-discards",
        (),
        None,
        (),
    )
    assert result.catalog.detectors() == {"repeated-discards": entry}
    assert entry.to_dict()["detector"] == "repeated-discards"
    assert entry.to_dict()["match"] == []
    assert result.catalog.get("nps.one-discard").to_dict()["detector"] is None
    # A 6274 matches the ordinary entry only, never the detector entry.
    discard = _finding(FindingKind.NPS_DISCARDED, reason_code=9, event_id=6274)
    assert [m.entry.id for m in result.catalog.match(discard)] == ["nps.one-discard"]


def test_detector_examples_are_descriptive_and_not_linted(tmp_path: Path) -> None:
    text = DETECTOR_ENTRY + "  examples:\n    - 'Nothing any rule would look for.'\n"
    result = check_catalog([_write(tmp_path, "d.yaml", text)])
    assert (result.errors, result.warnings) == ((), ())
    assert result.catalog is not None
    entry = result.catalog.get("nps.sample-pattern")
    assert entry.examples == ("Nothing any rule would look for.",)
    assert result.catalog.match(_finding(FindingKind.NPS_DISCARDED, text=entry.examples[0])) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "detector: repeated-discards",
            "detector: slow-clients",
            "detector 'slow-clients' is unknown (known detectors: repeated-discards, "
            "no-nps-decisions)",
        ),
        ("detector: repeated-discards", "detector: [repeated-discards]", "is unknown (known"),
        (
            "  detector: repeated-discards\n",
            "  detector: repeated-discards\n  match:\n    kind: nps.discarded\n",
            "has both 'match' and 'detector': an entry either matches findings",
        ),
        (
            "  detector: repeated-discards\n",
            "  detector: repeated-discards\n  check:\n    key: azuremfa\n    when: missing\n",
            "has both 'check' and 'detector'",
        ),
        (
            "  detector: repeated-discards\n",
            "  detector: repeated-discards\n  match: {kind: nps.discarded}\n"
            "  check: {key: azuremfa, when: missing}\n",
            "has 'match', 'check', 'detector'",
        ),
        (
            "  detector: repeated-discards\n",
            "",
            "missing required key 'match' (or 'check' for a configuration check) or 'detector'",
        ),
        ("  source: facts", "  examples: []\n  source: facts", "examples, when given, must hold"),
    ],
)
def test_bad_detector_entries_are_reported(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in DETECTOR_ENTRY
    errors = _errors(tmp_path, "bad.yaml", DETECTOR_ENTRY.replace(old, new))
    assert any(expected in error for error in errors), errors
    assert all(
        error.startswith(f"{tmp_path / 'bad.yaml'}: entry 'nps.sample-pattern': ")
        for error in errors
    )


def test_a_detector_is_named_by_one_entry_only(tmp_path: Path) -> None:
    second = DETECTOR_ENTRY.replace("nps.sample-pattern", "nps.other-pattern")
    path = _write(tmp_path, "d.yaml", DETECTOR_ENTRY + second)
    assert check_catalog([path]).errors == (
        f"{path}: entry 'nps.other-pattern': detector 'repeated-discards' is already named by "
        f"entry 'nps.sample-pattern' ({path})",
    )


def test_every_detector_has_a_one_line_description() -> None:
    assert tuple(DETECTORS) == ("repeated-discards", "no-nps-decisions")
    for name, description in DETECTORS.items():
        assert description.strip() == description and "\n" not in description, name
    assert "6274" in DETECTORS["repeated-discards"]
    assert "6272/6273" in DETECTORS["no-nps-decisions"]


def test_shipped_detectors_map_to_their_entries(shipped: Catalog) -> None:
    detectors = shipped.detectors()
    assert {name: entry.id for name, entry in detectors.items()} == DETECTOR_ENTRIES
    assert detectors is not shipped.detectors()  # callers may not change the catalog's own
    detector_ids = set(DETECTOR_ENTRIES.values())
    assert {entry.id for entry in shipped if entry.detector is not None} == detector_ids
    for reason in (None, 9, 999):
        discard = _finding(FindingKind.NPS_DISCARDED, reason_code=reason, event_id=6274)
        ids = [m.entry.id for m in shipped.match(discard)]
        assert ids and not set(ids) & detector_ids


# ---------------------------------------------------------------------------------------------
# Documentation and schema stay in step with the validator


def test_readme_documents_every_field_and_value() -> None:
    readme = (CATALOG_DIR / "README.md").read_text(encoding="utf-8")
    values = CATEGORIES + SEVERITIES + SCOPES + SOURCES + RESPONSE_STATES + ENTRY_KEYS + RULE_KEYS
    values += tuple(DETECTORS) + tuple(STEP_KINDS)
    missing = [value for value in values if f"`{value}`" not in readme]
    assert missing == []
    for severity in SEVERITIES:
        assert re.search(rf"^\| `{severity}` \| \S", readme, re.MULTILINE), severity


def test_schema_enums_match_the_validator() -> None:
    schema = json.loads((CATALOG_DIR / "schema.json").read_text(encoding="utf-8"))
    entry = schema["$defs"]["entry"]
    rule = schema["$defs"]["rule"]
    assert tuple(entry["properties"]) == ENTRY_KEYS
    assert tuple(rule["properties"]) == RULE_KEYS
    assert tuple(entry["properties"]["category"]["enum"]) == CATEGORIES
    assert tuple(entry["properties"]["severity"]["enum"]) == SEVERITIES
    assert tuple(entry["properties"]["scope"]["enum"]) == SCOPES
    assert tuple(entry["properties"]["source"]["enum"]) == SOURCES
    assert tuple(rule["properties"]["response_state"]["enum"]) == RESPONSE_STATES
    assert set(rule["properties"]["kind"]["enum"]) == set(catalog_module._KINDS)
    assert entry["properties"]["id"]["pattern"] == catalog_module._ID_PATTERN.pattern
    assert tuple(entry["properties"]["detector"]["enum"]) == tuple(DETECTORS)
    step = schema["$defs"]["step"]
    assert tuple(step["propertyNames"]["enum"]) == tuple(STEP_KINDS)
    assert entry["properties"]["steps"]["items"] == {"$ref": "#/$defs/step"}


def test_shipped_yaml_validates_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads((CATALOG_DIR / "schema.json").read_text(encoding="utf-8"))
    for path in sorted(CATALOG_DIR.glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


def test_schema_takes_exactly_one_of_match_check_and_detector() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads((CATALOG_DIR / "schema.json").read_text(encoding="utf-8"))
    assert schema["$defs"]["entry"]["oneOf"] == [
        {"required": ["match"]},
        {"required": ["check"]},
        {"required": ["detector"]},
    ]
    detector = yaml.safe_load(DETECTOR_ENTRY)[0]
    rule = yaml.safe_load(VALID_ENTRY)[0]
    jsonschema.validate([detector], schema)  # examples are optional for a detector entry
    rule_without_examples = {key: value for key, value in rule.items() if key != "examples"}
    bad = (
        {**detector, "match": {"kind": "nps.discarded"}},
        {**detector, "detector": "slow-clients"},
        {key: value for key, value in detector.items() if key != "detector"},
        rule_without_examples,
    )
    for entry in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate([entry], schema)


def test_docs_page_names_every_command() -> None:
    page = (REPO / "docs" / "catalog.md").read_text(encoding="utf-8")
    for command in ("npsdiag catalog list", "npsdiag catalog show", "npsdiag catalog check"):
        assert command in page


# ---------------------------------------------------------------------------------------------
# The ``catalog`` commands


@pytest.fixture
def cli() -> Iterator[tuple[CliRunner, typer.Typer]]:
    from npsdiag.cli import app
    from npsdiag.commands import catalog as catalog_commands

    catalog_commands.register(app)
    yield CliRunner(), app


def test_register_is_idempotent(cli: tuple[CliRunner, typer.Typer]) -> None:
    from npsdiag.commands import catalog as catalog_commands

    _, app = cli
    catalog_commands.register(app)
    names = [group.name for group in app.registered_groups]
    assert names.count("catalog") == 1


def test_list_prints_every_entry_and_a_count(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    # Wide enough for one line per entry.
    result = runner.invoke(app, ["catalog", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    count = len(load_catalog())
    assert lines[0].split() == ["ID", "SEVERITY", "CATEGORY", "TITLE"]
    assert lines[-1] == f"{count} entries"
    assert len(lines) == count + 2
    assert any(line.startswith("ext.ests-token-error ") and "critical" in line for line in lines)


def test_list_fits_a_narrow_terminal(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    result = runner.invoke(app, ["catalog", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    # Each title goes under its id, indented, whole.
    title = next(entry.title for entry in load_catalog().entries if len(entry.title) < 70)
    assert f"    {title}" in lines


def test_list_filters_by_category(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    result = runner.invoke(app, ["catalog", "list", "--category", "not-an-error", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data and {item["category"] for item in data} == {"not-an-error"}
    assert [item["id"] for item in data] == sorted(item["id"] for item in data)
    assert isinstance(data[0]["match"], list)
    bad = runner.invoke(app, ["catalog", "list", "--category", "urgent"])
    assert bad.exit_code == 2
    assert "'urgent' is not a category" in bad.output


def test_show_by_id_and_by_code(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    by_id = runner.invoke(app, ["catalog", "show", "ext.ests-token-error.aadsts7000112"])
    assert by_id.exit_code == 0, by_id.output
    assert by_id.stdout.startswith("ext.ests-token-error.aadsts7000112  ")
    for heading in ("Matches when:", "Likely cause:", "Next steps:", "References:", "Examples:"):
        assert heading in by_id.stdout
    assert "code ESTS_TOKEN_ERROR and aadsts AADSTS7000112" in by_id.stdout
    by_code = runner.invoke(app, ["catalog", "show", "ALTERNATE_LOGIN_ID_ERROR"])
    assert by_code.stdout.startswith("ext.alternate-login-id-error  ")
    assert "ext.alternate-login-id-error.value-empty" in by_code.stdout.split("Related entries:")[1]
    folded = runner.invoke(app, ["catalog", "show", "usernotfound", "--json"])
    data = json.loads(folded.stdout)
    assert data["id"] == "ext.user-not-found"
    assert data["related"] == ["ext.user-not-found.not-in-entra"]


def test_show_a_detector_entry(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    shown = runner.invoke(app, ["catalog", "show", "nps.client-timeout"])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert "detector: repeated-discards" in lines[2]
    expected = f"Raised by the diagnosis when: {DETECTORS['repeated-discards']}"
    assert expected in lines
    assert "Matches when:" not in shown.stdout and "Fires when:" not in shown.stdout
    assert "Examples:" in shown.stdout  # its example is kept as a description
    silent = runner.invoke(app, ["catalog", "show", "nps.auditing-off"])
    assert f"Raised by the diagnosis when: {DETECTORS['no-nps-decisions']}" in silent.stdout
    assert "Next steps:" in silent.stdout and "Examples:" not in silent.stdout
    data = json.loads(runner.invoke(app, ["catalog", "show", "nps.auditing-off", "--json"]).stdout)
    assert (data["detector"], data["match"], data["examples"]) == ("no-nps-decisions", [], [])


def test_show_unknown_id_is_a_usage_error(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    result = runner.invoke(app, ["catalog", "show", "NO_SUCH_CODE"])
    assert isinstance(result.exception, UsageError)
    assert "no catalog entry or code 'NO_SUCH_CODE'" in str(result.exception)


def test_check_shipped_catalog_passes(cli: tuple[CliRunner, typer.Typer]) -> None:
    runner, app = cli
    result = runner.invoke(app, ["catalog", "check"])
    assert result.exit_code == 0, result.output
    count, files = len(load_catalog()), len(SHIPPED_FILES)
    assert result.stdout == f"catalog OK: {count} entries in {files} files, 0 warnings\n"


def test_check_prints_every_error_and_exits_1(
    cli: tuple[CliRunner, typer.Typer], tmp_path: Path
) -> None:
    runner, app = cli
    bad = VALID_ENTRY.replace("  steps:", "  stpes:").replace("severity: high", "severity: hot")
    path = _write(tmp_path, "extension.yaml", bad)
    fine = VALID_ENTRY.replace("ext.sample-error", "ext.fine-error").replace("SAMPLE", "FINE")
    good = _write(tmp_path, "good.yaml", fine)
    result = runner.invoke(app, ["catalog", "check", str(path), str(good)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    where = f"error: {path}: entry 'ext.sample-error': "
    assert lines[0] == where + f"unknown key 'stpes' (expected one of: {', '.join(ENTRY_KEYS)})"
    assert lines[1] == where + "missing required key 'steps'"
    assert lines[2].startswith(where + "severity 'hot' is not allowed")
    assert sum(line.startswith("error: ") for line in lines) == 3
    assert lines[-1] == "catalog check failed: 3 errors, 0 warnings in 2 files"


def test_check_a_folder_with_warnings_passes(
    cli: tuple[CliRunner, typer.Typer], tmp_path: Path
) -> None:
    runner, app = cli
    _write(tmp_path, "a.yaml", VALID_ENTRY.replace("id: ext.sample-error", "id: ext.renamed"))
    result = runner.invoke(app, ["catalog", "check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("warning: ")
    assert result.stdout.splitlines()[-1] == "catalog OK: 1 entry in 1 file, 1 warning"


# ---------------------------------------------------------------------------------------------
# Matching is planned once per match key: proven against the direct algorithm


def _direct_match(catalog: Catalog, finding: Finding) -> list[tuple[str, int, MatchRule]]:
    """Every rule offered to the finding, in the order matching has always offered them."""
    candidates: list[tuple[CatalogEntry, MatchRule]] = []
    fallbacks: list[tuple[CatalogEntry, MatchRule]] = []
    codeless: list[tuple[CatalogEntry, MatchRule]] = []
    by_code: dict[str, list[tuple[CatalogEntry, MatchRule]]] = {}
    for entry in catalog.entries:
        if entry.detector is not None:
            continue
        for rule in entry.rules:
            if rule.fallback:
                fallbacks.append((entry, rule))
            elif rule.code is not None:
                by_code.setdefault(rule.code, []).append((entry, rule))
            else:
                codeless.append((entry, rule))
    for kind in (finding.kind, None):
        candidates += [c for c in codeless if c[1].reason_code is None and c[1].kind == kind]
    if finding.reason_code is not None:
        for kind in (finding.kind, None):
            candidates += [
                c for c in codeless if c[1].reason_code == finding.reason_code and c[1].kind == kind
            ]
    for code in dict.fromkeys(finding.codes):
        candidates += by_code.get(code, [])

    def best_of(offered: list[tuple[CatalogEntry, MatchRule]]) -> dict[str, tuple[int, MatchRule]]:
        best: dict[str, tuple[int, MatchRule]] = {}
        for entry, rule in offered:
            if _direct_holds(rule, finding) and (
                entry.id not in best or rule.specificity > best[entry.id][0]
            ):
                best[entry.id] = (rule.specificity, rule)
        return best

    best = best_of(candidates) or best_of(fallbacks)
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    return [(entry_id, specificity, rule) for entry_id, (specificity, rule) in ranked]


def _fresh_catalog() -> Catalog:
    catalog = check_catalog().catalog
    assert catalog is not None
    return catalog


def _direct_holds(rule: MatchRule, finding: Finding) -> bool:
    """Every key of the rule, checked the plain way (full regex search, no needle)."""
    if rule.pattern is not None:
        texts = (finding.detail or "", finding.event.text)
        if not any(re.search(rule.pattern.pattern, t, re.IGNORECASE) for t in texts):
            return False
    return (
        (rule.kind is None or finding.kind == rule.kind)
        and (rule.code is None or rule.code in finding.codes)
        and (rule.aadsts is None or rule.aadsts in finding.aadsts)
        and (rule.response_state is None or finding.response_state == rule.response_state)
        and (rule.event_id is None or finding.event.event_id == rule.event_id)
        and (rule.reason_code is None or finding.reason_code == rule.reason_code)
        and (rule.error_code is None or finding.error_code == rule.error_code)
    )


def _planned(catalog: Catalog, finding: Finding) -> list[tuple[str, int, MatchRule]]:
    return [(m.entry.id, m.specificity, m.rule) for m in catalog.match(finding)]


def _sample_findings() -> list[Finding]:
    from npsdiag.extract import extract, is_relevant
    from npsdiag.model import SourceStats
    from npsdiag.sources import discover, read_events

    samples = Path(__file__).parents[1] / "samples"
    findings: list[Finding] = []
    for source in discover([str(samples)]).sources:
        if source.kind != "evtx":
            continue
        stats = SourceStats(name=source.name, kind=source.kind, size=source.size)
        for event in read_events(source, stats, is_relevant):
            finding = extract(event)
            if finding is not None:
                findings.append(finding)
    return findings


def test_planned_matching_equals_direct_matching_on_every_sample_and_example() -> None:
    from npsdiag.extract import extract, finding_from_text

    catalog = _fresh_catalog()  # nothing planned yet
    findings = _sample_findings()
    for entry in catalog:
        if entry.check is not None or entry.detector is not None or entry.fact_check is not None:
            continue
        wrap = _event if entry.id.startswith("ext.") else _untyped_event
        for example in entry.examples:
            findings += [f for f in (finding_from_text(example), extract(wrap(example))) if f]
    assert len(findings) > 1000
    kinds = {f.kind for f in findings}
    assert {FindingKind.CHALLENGE, FindingKind.NPS_DENIED, FindingKind.EXCEPTION} <= kinds
    for finding in findings:
        expected = _direct_match(catalog, finding)
        assert _planned(catalog, finding) == expected  # plans the key (or reuses it)
        assert _planned(catalog, finding) == expected  # reuses the plan


_KINDS = [
    FindingKind.EXCEPTION,
    FindingKind.REJECTED,
    FindingKind.IGNORED,
    FindingKind.NPS_DENIED,
    FindingKind.CHALLENGE,
    FindingKind.NOTICE,
    FindingKind.EXT_OTHER,
]
_CODES = st.sampled_from(
    ["ESTS_TOKEN_ERROR", "ALTERNATE_LOGIN_ID_ERROR", "InvalidParameter", "UserNotFound",
     "REQUEST_MISSING_CODE", "AuthenticationMethodNotConfigured", "NOT_A_CODE_WE_KNOW"]
)  # fmt: skip
_TEXTS = st.sampled_from(
    ["", "Request is missing OTP", "AADSTS700027: Client assertion failed",
     "Error: userObjectSid lookup failed", "AADSTS7000215 invalid client secret",
     "The user name or password is incorrect", "ldap lookup failed for the forest",
     "IP WHITELIST IS BEING IGNORED", "ip whitelist not initialized",
     "Radius request is missing NAS Identifier and Nas IpAddress attribute",
     # non-ASCII: the Kelvin sign matches "k" case-insensitively, lower-casing keeps it
     "IP Whitelist is being ignored \u212a", "User\u017fObjectSid lookup failed",
     "Alternate LoginId loo\u212aup failed"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(_KINDS),
    codes=st.lists(_CODES, max_size=3).map(tuple),
    aadsts=st.lists(st.sampled_from(["AADSTS700027", "AADSTS50034", "AADSTS1"]), max_size=2).map(
        tuple
    ),
    response_state=st.sampled_from([None, "AccessReject", "AccessChallenge"]),
    reason_code=st.sampled_from([None, 9, 16, 21, 48, 65, 999]),
    text=_TEXTS,
    detail=st.sampled_from([None, "Request is missing OTP", "no detail"]),
    event_id=st.sampled_from([1, 3, 6273]),
)
def test_planned_matching_equals_direct_matching_on_generated_findings(
    shipped: Catalog,
    kind: str,
    codes: tuple[str, ...],
    aadsts: tuple[str, ...],
    response_state: str | None,
    reason_code: int | None,
    text: str,
    detail: str | None,
    event_id: int,
) -> None:
    finding = _finding(
        kind,
        codes=codes,
        detail=detail,
        text=text,
        aadsts=aadsts,
        response_state=response_state,
        reason_code=reason_code,
        event_id=event_id,
    )
    assert _planned(shipped, finding) == _direct_match(shipped, finding)


def test_same_key_with_other_text_is_matched_on_its_own_text(shipped: Catalog) -> None:
    # One code, two meanings told apart by the message: the plan must not remember the text.
    first = _finding(codes=("REQUEST_MISSING_CODE",), detail="Request is missing OTP")
    second = _finding(codes=("REQUEST_MISSING_CODE",), detail="something else entirely")
    assert catalog_model.match_key(first) == catalog_model.match_key(second)
    assert _planned(shipped, first) == _direct_match(shipped, first)
    assert _planned(shipped, second) == _direct_match(shipped, second)


def test_full_plan_memo_starts_over(monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = _fresh_catalog()
    monkeypatch.setattr(catalog_model, "_MAX_PLANS", 3)
    findings = [_finding(codes=(f"UNKNOWN_CODE_{n}",)) for n in range(10)]
    for finding in findings:
        assert _planned(catalog, finding) == _direct_match(catalog, finding)
        assert len(catalog._plans) <= 3
