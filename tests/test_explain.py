"""``npsdiag explain``: codes, event ids, reason and error codes, pasted text, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from npsdiag.catalog import Catalog, load_catalog
from npsdiag.errors import UsageError
from npsdiag.explain import explain_text
from tests.cli_runner import run


@pytest.fixture(autouse=True)
def _wide_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wording tests read whole sentences: a screen wide enough not to wrap them."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _ids(result: dict[str, Any]) -> list[str]:
    return [match["id"] for match in result["matches"]]


@pytest.mark.parametrize(
    ("text", "best"),
    [
        ("AADSTS700027", "ext.ests-token-error.aadsts700027"),
        ("AADSTS7000112", "ext.ests-token-error.aadsts7000112"),
        ("ESTS_TOKEN_ERROR", "ext.ests-token-error"),
        ("ESTS_TOKEN_ERROR AADSTS90038", "ext.ests-token-error.aadsts90038"),
        ("UserNotFound", "ext.user-not-found"),
        ("reason code 48", "nps.reason-48"),
        ("Reason Code: 48", "nps.reason-48"),
        ("reason 65", "nps.reason-65"),
        ("error 812", "vpn.policy-refused"),
        ("23003", "rdg.cap-denied.error-23003"),
        ("691", "vpn.credentials-refused"),
    ],
)
def test_a_bare_code_or_number_finds_its_entry(catalog: Catalog, text: str, best: str) -> None:
    result = explain_text(text, catalog)
    assert result["known"]
    assert _ids(result)[0] == best


def test_an_event_id_is_an_event_id(catalog: Catalog) -> None:
    result = explain_text("6273", catalog)
    assert result["known"] and not result["harmless"]
    (event,) = result["events"]
    assert (event["event_id"], event["log"]) == (6273, "Security")
    assert "reason code" in event["hint"].lower()
    assert {"id": "nps.reason-21", "title": catalog.get("nps.reason-21").title} in event["entries"]
    # No NPS reason code 6273 exists, so no "unknown reason" guess is offered.
    assert result["matches"] == []
    labelled = explain_text("event id 6273", catalog)
    assert labelled["events"] == result["events"]


def test_a_number_with_several_meanings_lists_each(catalog: Catalog) -> None:
    result = explain_text("18", catalog)
    assert [(e["event_id"], e["source"]) for e in result["events"]] == [(18, "NPS")]
    assert _ids(result) == ["nps.reason-18"]
    zero = explain_text("0", catalog)
    assert "nps.reason-0" in _ids(zero) and "vpn.no-answer" in _ids(zero)
    # One reading is a failure, so the number as a whole is not called harmless.
    assert not zero["harmless"]
    assert explain_text("event 18", catalog)["matches"] == []
    assert explain_text("reason code 18", catalog)["events"] == []


def test_an_unknown_reason_code_asked_for_is_answered_by_the_fallback(catalog: Catalog) -> None:
    result = explain_text("reason code 4242", catalog)
    assert not result["known"]
    assert _ids(result) == ["nps.unknown-reason"]
    assert result["matches"][0]["confidence"] == "low"
    assert not explain_text("4242", catalog)["known"]


def test_an_aadsts_code_without_an_entry_is_named_from_the_table(catalog: Catalog) -> None:
    result = explain_text("AADSTS50126", catalog)
    assert result["known"] and result["matches"] == []
    name = result["found"]["aadsts_names"]["AADSTS50126"]
    assert name.startswith("InvalidUserNameOrPassword (invalid user name or password)")
    assert "https://login.microsoftonline.com/error?code=50126" in name
    # Inside an extension message the family entry answers, and the code is named too.
    text = (
        "NPS Extension for Azure MFA: CID: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d :Exception in "
        "Authentication Ext for User alice :: ErrorCode:: ESTS_TOKEN_ERROR Msg:: Unable to get "
        "Azure AD access token. [Reason:AADSTS90033: A transient error has occurred.]"
    )
    inside = explain_text(text, catalog)
    assert _ids(inside)[0] == "ext.ests-token-error"
    assert inside["found"]["aadsts_names"]["AADSTS90033"].startswith("MsodsServiceUnavailable")


def test_unknown_text_is_not_said_to_be_the_extensions(catalog: Catalog) -> None:
    for text, what in (
        ("NOT_A_REAL_CODE_AT_ALL", "a code, without the message around it"),
        ("the printer is out of paper", "text that is none of the events npsdiag reads"),
    ):
        result = explain_text(text, catalog)
        assert not result["known"] and result["matches"] == []
        assert result["found"]["kind"] == "text"
        assert result["found"]["recognised_as"] == what
    extension = explain_text("ErrorCode:: NPSDIAG_TEST_UNLISTED_CODE Msg:: x", catalog)
    assert _ids(extension) == ["ext.unknown-code"]
    assert extension["found"]["recognised_as"].startswith("a message of the NPS extension")


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_text_is_a_usage_error(catalog: Catalog, text: str) -> None:
    with pytest.raises(UsageError, match="empty"):
        explain_text(text, catalog)


def test_a_harmless_message_is_harmless(catalog: Catalog) -> None:
    text = (
        'The user "alice@contoso.com", on client computer "192.168.178.1:57250", has initiated '
        "an outbound connection. This connection may not be authenticated yet."
    )
    result = explain_text(text, catalog)
    assert result["known"] and result["harmless"]
    assert _ids(result)[0] == "rdg.connection-initiated"


# ---------------------------------------------------------------------------------------------
# Through the command line


def test_exit_codes_and_wording(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "AADSTS700027")
    assert code == 0 and "ext.ests-token-error.aadsts700027" in out
    code, out, _ = run(capsys, "explain", "6273")
    assert code == 0
    assert "Event 6273 (Security, Microsoft-Windows-Security-Auditing)" in out
    code, out, _ = run(capsys, "explain", "the printer is out of paper")
    assert code == 1
    assert "does not recognise it as a message of the NPS extension" in out
    assert "extension logged" not in out
    code, out, err = run(capsys, "explain", "  ")
    assert code == 2 and out == ""
    assert err.strip() == (
        "npsdiag: error: nothing to explain: the text is empty (pass an event message, a code "
        "such as UserNotFound, or an event id like 6273)"
    )
    text = "User alice@contoso.com local AD Dial-In property is unchecked. This may result in"
    code, out, _ = run(capsys, "explain", text)
    assert code == 0
    assert "harmless notice, not a fault" in out


def test_steps_are_printed_with_their_kind(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "reason code 65")
    assert code == 0
    assert "1. (fix) Open Active Directory Users and Computers" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "--json", "error code 0")
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"schema_version", "known", "harmless", "found", "events", "matches"}
    assert result["found"] == {"kind": "number", "number": 0}
    assert _ids(result) == ["vpn.no-answer"]
    match = result["matches"][0]
    assert len(match["steps"]) == len(match["step_kinds"])


def test_text_from_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = "pam_radius_auth: All RADIUS servers failed to respond.\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(line))
    code, out, _ = run(capsys, "explain", "-")
    assert code == 0 and "radius.pam-no-response" in out


# ---------------------------------------------------------------------------------------------
# Messages as people paste them (tests/data/pasted-messages.yaml)


def _pasted() -> list[dict[str, str]]:
    import yaml

    path = Path(__file__).parent / "data" / "pasted-messages.yaml"
    items: list[dict[str, str]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return items


@pytest.mark.parametrize("item", _pasted(), ids=lambda item: item["expect"])
def test_pasted_messages_name_their_cause(catalog: Catalog, item: dict[str, str]) -> None:
    assert item["source"].startswith("https://")
    result = explain_text(item["text"], catalog)
    expect = item["expect"]
    if expect.startswith("event:"):
        assert [e["event_id"] for e in result["events"]] == [int(expect[6:])]
        return
    assert _ids(result)[0] == expect
