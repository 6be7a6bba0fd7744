"""Scenario schema, message shapes and generator invariants (no files written)."""

from __future__ import annotations

import copy
import re
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import npsdiag.synth.scenario as scenario_module
from npsdiag.errors import ScenarioError
from npsdiag.synth import messages
from npsdiag.synth.bundle import (
    bundle_name,
    evtx_name,
    reg_query_text,
    registry_dumps,
    wevtutil_text,
)
from npsdiag.synth.generate import (
    AUTHZ_ADMIN,
    AUTHZ_OPT,
    LOGS,
    SECURITY,
    SECURITY_FIELDS,
    SYSTEM,
    GeneratedEvent,
    count_events,
    generate,
)
from npsdiag.synth.scenario import (
    OUTCOMES,
    Scenario,
    format_duration,
    load_scenario,
    load_shipped,
    parse_duration,
    parse_scenario,
    scale_traffic,
    shipped_names,
    shipped_path,
)

SHIPPED = shipped_names()
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _events(name: str) -> list[GeneratedEvent]:
    return list(generate(load_shipped(name)))


@pytest.fixture(scope="module")
def shipped_events() -> dict[str, list[GeneratedEvent]]:
    return {name: _events(name) for name in SHIPPED}


def _base() -> dict[str, Any]:
    """A small valid scenario as YAML data, for tests to break."""
    return {
        "name": "unit",
        "title": "Unit test scenario",
        "description": "A small scenario.",
        "seed": 7,
        "computer": "NPS01",
        "domain": {"netbios": "CONTOSO", "dns": "contoso.com"},
        "tenant_id": "3f6d1b2e-8c4a-4e7b-9a51-2d7c6e0f9b84",
        "start": "2025-03-04T08:00:00Z",
        "duration": "1h",
        "users": [
            {"name": "alice", "upn": "alice@contoso.com", "form": "upn", "method": "push"},
            {"name": "bob", "upn": "bob@contoso.com", "form": "netbios", "method": "totp"},
            {"name": "carl", "upn": "carl@contoso.com", "form": "bare", "method": "none"},
        ],
        "nas_clients": [
            {"name": "vpn", "ip": "10.0.0.1", "protocol": "pap", "timeout": 10, "retries": 2},
            {"name": "wifi", "ip": "10.0.0.2", "protocol": "eap"},
        ],
        "traffic": [
            {"outcome": "success", "users": ["alice", "bob"], "nas": "vpn", "count": 4},
        ],
        "expected": {"top_problem": None, "users": [], "diagnosis": "Nothing is wrong."},
    }


def _problems(data: object, source: str = "scenarios/x.yaml") -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, source)
    return str(caught.value).splitlines()


# ------------------------------------------------------------------------------ schema


def test_base_fixture_is_valid() -> None:
    scenario = parse_scenario(_base(), "unit.yaml")
    assert scenario.fqdn == "NPS01.contoso.com"
    assert scenario.end == datetime(2025, 3, 4, 9, 0, tzinfo=timezone.utc)
    assert scenario.user("bob").sam == "bob"  # defaults to the UPN's local part
    assert scenario.registry.get("CLIENT_CERT_IDENTIFIER") == (
        "CN=3f6d1b2e-8c4a-4e7b-9a51-2d7c6e0f9b84, OU=Microsoft NPS Extension"
    )
    assert scenario.registry.get("REQUIRE_USER_MATCH") == "TRUE"
    assert scenario.registry.extension_loaded


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_shipped(name)
    assert scenario.name == name == shipped_path(name).stem
    failing_users = {
        user for item in scenario.traffic if item.outcome != "success" for user in item.users
    }
    assert set(scenario.expected.users) <= failing_users
    assert scenario.expected.diagnosis


def test_required_scenarios_are_shipped() -> None:
    outcomes = {item.outcome for name in SHIPPED for item in load_shipped(name).traffic}
    assert outcomes == set(OUTCOMES), set(OUTCOMES) - outcomes
    assert len(SHIPPED) >= 10
    assert load_shipped("healthy").expected.top_problem is None
    cert = load_shipped("cert-expired")
    assert {item.outcome for item in cert.traffic} == {"ests_token_error"}


def test_unknown_user_names_file_and_key_path() -> None:
    data = _base()
    data["traffic"] += [
        {"outcome": "success", "users": ["alice"], "nas": "vpn", "count": 1},
        {"outcome": "success", "users": ["bob", "zed"], "nas": "vpn", "count": 1},
    ]
    assert "scenarios/x.yaml: traffic[2].users: unknown user 'zed'" in _problems(data)


def test_all_problems_are_collected() -> None:
    data = _base()
    data["colour"] = "blue"
    data["seed"] = -1
    data["users"][0]["emial"] = "x"
    data["nas_clients"][0]["protocol"] = "chap"
    data["traffic"][0]["count"] = 0
    problems = _problems(data)
    assert len(problems) == 5, problems
    assert any("(top level): unknown key 'colour'" in line for line in problems)
    assert any("seed: -1 is out of range" in line for line in problems)
    assert any("users[0]: unknown key 'emial'" in line for line in problems)
    assert any("nas_clients[0].protocol: invalid value 'chap'" in line for line in problems)
    assert any("traffic[0].count: 0 is out of range" in line for line in problems)
    assert all(line.startswith("scenarios/x.yaml: ") for line in problems)


def _with(change: Any) -> dict[str, Any]:
    data = _base()
    change(data)
    return data


IMPOSSIBLE = {
    "window after the end": (
        lambda d: d["traffic"][0].update(window=["10m", "2h"]),
        "traffic[0].window: ends at 2h, after the scenario's duration 1h",
    ),
    "empty window": (
        lambda d: d["traffic"][0].update(window=["30m", "30m"]),
        "traffic[0].window: the window must end after it starts",
    ),
    "success without a method": (
        lambda d: d["traffic"][0].update(users=["carl"]),
        "traffic[0].users: 'carl' has no MFA method",
    ),
    "totp on a non-PAP client": (
        lambda d: d["traffic"][0].update(nas="wifi", users=["bob"]),
        "traffic[0].users: 'bob' uses totp, which a eap client cannot answer",
    ),
    "otp_no_answer on PAP": (
        lambda d: d["traffic"].append(
            {"outcome": "otp_no_answer", "users": ["bob"], "nas": "vpn", "count": 1}
        ),
        "traffic[1].nas: otp_no_answer needs a non-PAP client",
    ),
    "wrong_code for a push user": (
        lambda d: d["traffic"].append(
            {"outcome": "wrong_code", "users": ["alice"], "nas": "vpn", "count": 1}
        ),
        "traffic[1].users: wrong_code needs users with method totp or sms",
    ),
    "unknown client that is configured": (
        lambda d: d["traffic"].append(
            {"outcome": "unknown_radius_client", "count": 1, "options": {"ip": "10.0.0.1"}}
        ),
        "traffic[1].options.ip: 10.0.0.1 is a configured RADIUS client",
    ),
    "alternate login id without the attribute": (
        lambda d: d["traffic"].append(
            {"outcome": "alternate_login_id_error", "users": ["alice"], "nas": "vpn", "count": 1}
        ),
        "alternate_login_id_error needs LDAP_ALTERNATE_LOGINID_ATTRIBUTE",
    ),
    "timeout shorter than the approval": (
        lambda d: d["traffic"].append(
            {
                "outcome": "client_timeout",
                "users": ["alice"],
                "nas": "vpn",
                "count": 1,
                "options": {"approve_after": "5s"},
            }
        ),
        "traffic[1].options.approve_after: must exceed the client's timeout of 10s",
    ),
    "option of another outcome": (
        lambda d: d["traffic"][0].update(options={"aadsts": 700027}),
        "traffic[0].options: unknown key 'aadsts'",
    ),
    "unknown AADSTS code": (
        lambda d: d["traffic"].append(
            {
                "outcome": "ests_token_error",
                "users": ["alice"],
                "nas": "vpn",
                "count": 1,
                "options": {"aadsts": 12345},
            }
        ),
        "traffic[1].options.aadsts: invalid value '12345'",
    ),
    "extension not loaded": (
        lambda d: d.update(registry={"auth_srv": {"AuthorizationDLLs": None}}),
        "traffic[0].outcome: success needs the extension, but AuthSrv does not load it",
    ),
    "whitelisted client cannot fail MFA": (
        lambda d: (
            d.update(registry={"azure_mfa": {"IP_WHITELIST": "10.0.0.1"}}),
            d["traffic"].append(
                {"outcome": "user_not_found", "users": ["alice"], "nas": "vpn", "count": 1}
            ),
        ),
        "traffic[1].nas: vpn is in IP_WHITELIST",
    ),
    "both count and rate": (
        lambda d: d["traffic"][0].update(rate="10/h"),
        "traffic[0]: give exactly one of 'count' and 'rate'",
    ),
    "bad tenant": (lambda d: d.update(tenant_id="contoso"), "tenant_id: not a GUID"),
    "local start time": (
        lambda d: d.update(start="2025-03-04T08:00:00+01:00"),
        "start: the time must be UTC",
    ),
    "duplicate user": (
        lambda d: d["users"].append({"name": "alice", "upn": "a2@contoso.com"}),
        "users[3].name: duplicate user 'alice'",
    ),
    "shared address": (
        lambda d: d["nas_clients"].append({"name": "x", "ip": "10.0.0.2", "protocol": "pap"}),
        "nas_clients[2].ip: two RADIUS clients share the address 10.0.0.2",
    ),
    "expected unknown user": (
        lambda d: d["expected"].update(top_problem="ext.user-not-found", users=["nobody"]),
        "expected.users[0]: unknown user 'nobody'",
    ),
    "bad catalog id": (
        lambda d: d["expected"].update(top_problem="UserNotFound"),
        "expected.top_problem: invalid value 'UserNotFound'",
    ),
    "registry boolean": (
        lambda d: d.update(registry={"azure_mfa": {"REQUIRE_USER_MATCH": True}}),
        "registry.azure_mfa.REQUIRE_USER_MATCH: write registry strings in quotes",
    ),
    "users on a packet NPS drops": (
        lambda d: d["traffic"].append(
            {"outcome": "shared_secret_mismatch", "users": ["alice"], "nas": "vpn", "count": 1}
        ),
        "traffic[1].users: shared_secret_mismatch never reaches the user check",
    ),
}


@pytest.mark.parametrize("case", sorted(IMPOSSIBLE))
def test_impossible_values_are_rejected(case: str) -> None:
    change, expected = IMPOSSIBLE[case]
    problems = _problems(_with(change))
    assert any(expected in line for line in problems), problems


def test_yaml_file_problems(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    text = yaml.safe_dump(_base(), sort_keys=False)
    path.write_text(text + "seed: 8\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"dup\.yaml: line \d+: duplicate key 'seed'"):
        load_scenario(path)
    path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="cannot read the scenario file"):
        load_scenario(tmp_path / "missing.yaml")


def test_upper_case_registry_strings_stay_strings(tmp_path: Path) -> None:
    text = yaml.safe_dump(_base(), sort_keys=False)
    text += (
        "registry:\n  azure_mfa:\n    REQUIRE_USER_MATCH: TRUE\n"
        "    OVERRIDE_NUMBER_MATCHING_WITH_OTP: no\n"
    )
    path = tmp_path / "reg.yaml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.registry.get("REQUIRE_USER_MATCH") == "TRUE"
    assert scenario.registry.get("OVERRIDE_NUMBER_MATCHING_WITH_OTP") == "no"


def test_users_all_rate_and_windows() -> None:
    data = _base()
    data["traffic"] = [
        {
            "outcome": "user_not_found",
            "users": "all",
            "nas": "vpn",
            "rate": "30/h",
            "window": ["10m", "40m"],
        },
    ]
    scenario = parse_scenario(data)
    item = scenario.traffic[0]
    assert item.users == ("alice", "bob", "carl")
    assert item.count == 15
    assert (item.start, item.end) == (timedelta(minutes=10), timedelta(minutes=40))


def test_unknown_shipped_name_lists_valid_names() -> None:
    with pytest.raises(ScenarioError) as caught:
        shipped_path("nope")
    assert "unknown scenario 'nope'" in str(caught.value)
    assert "healthy" in str(caught.value) and "mixed" in str(caught.value)


@given(st.integers(min_value=0, max_value=31 * 86400))
def test_duration_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("bad", ["", "5x", "h", "-5", -5, True, 1.5, "1h-5m"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


# ---------------------------------------------------------------------------- messages


CID = uuid.UUID("32e83cbf-484d-49aa-9adb-71528f5eb94d")
STATE = uuid.UUID("300c9d6c-7734-4165-83d3-212e73aee286")


def test_challenge_matches_the_published_sample() -> None:
    text = messages.challenge_requested("******@domain.com", CID, STATE)
    assert text == (
        "NPS Extension for Azure MFA: CID: 32e83cbf-484d-49aa-9adb-71528f5eb94d : Challenge "
        "requested in Authentication Ext for User ******@domain.com with state "
        "300c9d6c-7734-4165-83d3-212e73aee286"
    )


def test_access_rejected_user_not_found_shape() -> None:
    text = messages.access_rejected("CONTOSO\\bob", CID, "UserNotFound", upn="bob@contoso.com")
    assert re.fullmatch(
        rf"NPS Extension for Azure MFA: CID: {GUID} : Access Rejected for user CONTOSO\\bob with "
        r"Azure MFA response: UserNotFound and message: MSODS Graph call returned user not found "
        r"error\. GraphError,SAS\.Shared\.GraphProvider\.Exceptions\.GraphUserNotFoundException: "
        r"\[Code:Request_ResourceNotFound\] \[Message:Resource 'bob@contoso\.com' does not exist "
        r"or one of its queried reference-property objects are not present\.\]",
        text,
    )


def test_access_accepted_mirrors_rejected() -> None:
    text = messages.access_accepted("alice", CID)
    assert re.fullmatch(
        rf"NPS Extension for Azure MFA: CID: {GUID} : Access Accepted for user alice with Azure "
        r"MFA response: (\w+) and message: .+",
        text,
    )


def test_exception_shapes_and_obfuscated_cid() -> None:
    text = messages.request_missing_code("USername", None)
    assert text == (
        "NPS Extension for Azure MFA: CID: <> :Exception in Authentication Ext for User USername "
        ":: ErrorCode:: REQUEST_MISSING_CODE Msg:: Request is missing OTP Enter ERROR_CODE @ "
        "https://go.microsoft.com/fwlink/?linkid=846827 for detailed troubleshooting steps."
    )
    for variant, message in messages.ALTERNATE_LOGIN_ID_MESSAGES.items():
        text = messages.alternate_login_id_error("bob", CID, variant)
        assert f":: ErrorCode:: ALTERNATE_LOGIN_ID_ERROR Msg:: {message} Enter ERROR_CODE" in text
    for builder, code in (
        (messages.https_communication_error, "HTTPS_COMMUNICATION_ERROR"),
        (messages.http_connect_error, "HTTP_CONNECT_ERROR"),
    ):
        text = builder("bob", CID, "https://adnotifications.windowsazure.com/x")
        assert text.startswith(f"NPS Extension for Azure MFA: CID: {CID} :Exception in ")
        assert f"ErrorCode:: {code} Msg:: " in text


def _ests(wording: str, code: int, double: bool = False) -> str:
    return messages.ests_token_error(
        "Domain\\username",
        CID,
        aadsts=code,
        wording=wording,
        trace_id=uuid.UUID("c5379bf7-9e15-49d0-9541-547b68c95d00"),
        correlation_id=uuid.UUID("e3dfe056-fbdd-4b4b-8852-2d55991e97be"),
        timestamp=datetime(2019, 10, 17, 20, 48, 29, tzinfo=timezone.utc),
        client_id="981f26a1-7f43-403b-a875-f8b09b8cd720",
        tenant="6b1d7f3a-2e9c-4a58-8d06-c4a1e5f9b372",
        thumbprint="AB" * 20,
        double_space=double,
    )


def test_adal_ests_token_error_reproduces_the_published_text() -> None:
    text = _ests("adal", 7000112)
    assert text == (
        "NPS Extension for Azure MFA: CID: 32e83cbf-484d-49aa-9adb-71528f5eb94d :Exception in "
        "Authentication Ext for User Domain\\username :: ErrorCode:: CID "
        ":32e83cbf-484d-49aa-9adb-71528f5eb94d ESTS_TOKEN_ERROR Msg:: Verify the client "
        "certificate is properly enrolled in Azure against your tenant and the server can access "
        "URL in Registry STS_URL. Error authenticating to eSTS: ErrorCode:: ESTS_TOKEN_ERROR "
        "Msg:: Error in retreiving token details from request handle: -895352831 "
        "AADSTS7000112: Application '981f26a1-7f43-403b-a875-f8b09b8cd720'(Azure Multi-Factor "
        "Auth Client) is disabled.\r\nTrace ID: c5379bf7-9e15-49d0-9541-547b68c95d00\r\n"
        "Correlation ID: e3dfe056-fbdd-4b4b-8852-2d55991e97be\r\nTimestamp: 2019-10-17 "
        "20:48:29Z Enter ERROR_CODE @ https://go.microsoft.com/fwlink/?linkid=846827 for "
        "detailed troubleshooting steps. Enter ERROR_CODE @ "
        "https://go.microsoft.com/fwlink/?linkid=846827 for detailed troubleshooting steps."
    )
    assert _ests("adal", 700023, double=True).startswith("NPS Extension for Azure MFA:  CID:")
    assert "request handle: -895352823 AADSTS700023:" in _ests("adal", 700023)


@pytest.mark.parametrize("code", sorted(messages.AADSTS_CODES))
def test_msal_ests_token_error_is_one_line(code: int) -> None:
    text = _ests("msal", code)
    assert "\n" not in text and "\r" not in text
    assert text.count(str(CID)) == 1
    assert (
        f"ESTS_TOKEN_ERROR Msg:: Unable to get Azure AD access token. [Reason:AADSTS{code}: "
        in text
    )
    assert re.search(
        rf"Trace ID: {GUID} Correlation ID: {GUID} Timestamp: [0-9: -]+Z\]\[Code:\d+\]", text
    )
    assert "{" not in text  # every placeholder filled


def test_product_typos_are_kept() -> None:
    assert "intialized" in messages.ip_whitelist_not_initialised()
    assert "Neither registry entry not default value" in messages.ip_whitelist_not_initialised()
    assert "atleast" in messages.nas_attributes_missing()
    assert "retreiving" in _ests("adal", 700027)


def test_ignoring_request_has_the_prefix_on_its_own_line() -> None:
    text = messages.ignoring_request("username", "AccessReject")
    first, second = text.split("\r\n")
    assert first == "NPS Extension for Azure MFA: "
    assert second == (
        "NPS Extension for Azure MFA only performs Secondary Auth for Radius requests in "
        "AccessAccept State. Request received for User username with response state "
        "AccessReject, ignoring request."
    )


@given(
    user=st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
    ).filter(lambda text: text.strip() == text),
    cid=st.uuids(),
    state=st.uuids(),
)
def test_challenge_round_trips(user: str, cid: uuid.UUID, state: uuid.UUID) -> None:
    text = messages.challenge_requested(user, cid, state)
    match = re.fullmatch(
        rf"NPS Extension for Azure MFA: CID: ({GUID}) : Challenge requested in Authentication "
        rf"Ext for User (.+) with state ({GUID})",
        text,
        re.DOTALL,
    )
    assert match is not None
    assert (uuid.UUID(match.group(1)), match.group(2), uuid.UUID(match.group(3))) == (
        cid,
        user,
        state,
    )


def test_reason_texts() -> None:
    assert messages.reason_text(21) == (
        "An NPS extension dynamic link library (DLL) that is installed on the NPS server "
        "rejected the connection request."
    )
    assert messages.reason_text(7) == "The specified domain does not exist."
    with pytest.raises(KeyError):
        messages.reason_text(999)


def test_system_messages() -> None:
    assert messages.system_message("NPS", 13, ["10.0.0.9"]) == (
        "A RADIUS message was received from the invalid RADIUS client IP address 10.0.0.9."
    )
    assert "Message-Authenticator attribute that is not valid" in messages.system_message(
        "NPS", 18, ["10.0.0.9"]
    )
    assert "10013" in messages.system_message("Schannel", 36871, ["client", "10013"])


# -------------------------------------------------------------------------- generator


def _pairs(event: GeneratedEvent) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [
        item for item in event.record.data if isinstance(item, tuple)
    ]
    assert len(pairs) == len(event.record.data)
    return pairs


def _named(event: GeneratedEvent) -> dict[str, str]:
    return {name: str(value) for name, value in _pairs(event)}


def _text(event: GeneratedEvent) -> str:
    return str(event.record.data[0]) if event.record.data else ""


@pytest.mark.parametrize("name", SHIPPED)
def test_generation_is_deterministic(
    name: str, shipped_events: dict[str, list[GeneratedEvent]]
) -> None:
    assert _events(name) == shipped_events[name]


@pytest.mark.parametrize("name", SHIPPED)
def test_logs_are_ordered_numbered_and_inside_the_scenario(
    name: str, shipped_events: dict[str, list[GeneratedEvent]]
) -> None:
    scenario = load_shipped(name)
    events = shipped_events[name]
    assert events, name
    times = [event.record.time for event in events]
    assert times == sorted(times)
    assert scenario.start <= times[0] and times[-1] <= scenario.end - timedelta(minutes=1)
    for log in LOGS:
        ids = [event.record.record_id or 0 for event in events if event.log == log]
        if ids:
            assert ids == list(range(ids[0], ids[0] + len(ids))), log
    for event in events:
        record = event.record
        assert record.channel == event.log
        assert record.computer == scenario.fqdn
        assert record.time.tzinfo is not None


@pytest.mark.parametrize("name", SHIPPED)
def test_security_events_follow_the_real_schema(
    name: str, shipped_events: dict[str, list[GeneratedEvent]]
) -> None:
    for event in shipped_events[name]:
        if event.log != SECURITY:
            continue
        record = event.record
        assert record.provider == "Microsoft-Windows-Security-Auditing"
        assert str(record.provider_guid).upper() == "54849625-5478-4994-A5BA-3E3B0328C30D"
        assert (record.task, record.level, record.opcode, record.version) == (12552, 0, 0, 1)
        names = [field for field, _ in _pairs(event)]
        assert names[:24] == list(SECURITY_FIELDS)
        if record.event_id == 6272:
            assert record.keywords == 0x8020000000000000
            assert names[24:] == ["QuarantineState", "QuarantineSessionIdentifier", "LoggingResult"]
        else:
            assert record.event_id in (6273, 6274)
            assert record.keywords == 0x8010000000000000
            assert names[24:] == ["ReasonCode", "Reason", "LoggingResult"]
            fields = _named(event)
            assert fields["Reason"] == messages.reason_text(int(fields["ReasonCode"]))


def _preceding(events: list[GeneratedEvent], index: int, window: timedelta) -> list[GeneratedEvent]:
    time = events[index].record.time
    return [
        event
        for event in events[:index]
        if event.log in (AUTHZ_OPT, AUTHZ_ADMIN) and time - event.record.time <= window
    ]


@pytest.mark.parametrize("name", SHIPPED)
def test_nps_events_agree_with_the_extension(
    name: str, shipped_events: dict[str, list[GeneratedEvent]]
) -> None:
    """Same user, shortly before: 6272 after Access Accepted, 6273/21 after a rejection,
    6273/other after the AccessReject notice."""
    events = shipped_events[name]
    scenario = load_shipped(name)
    whitelist = scenario.registry.get("IP_WHITELIST")
    for index, event in enumerate(events):
        if event.log != SECURITY or event.record.event_id == 6274:
            continue
        fields = _named(event)
        user = fields["SubjectUserName"]
        before = [_text(other) for other in _preceding(events, index, timedelta(seconds=1))]
        if event.record.event_id == 6272:
            if whitelist and fields["ClientIPAddress"] in whitelist:
                continue
            assert any(f"Access Accepted for user {user} " in text for text in before), (
                name,
                index,
            )
        elif fields["ReasonCode"] == "21":
            assert any(
                f"for user {user} with" in text or f"for User {user} " in text for text in before
            ), (name, index)
        else:
            assert any(
                f"User {user} with response state AccessReject" in text for text in before
            ), (name, index)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_extension_request_ends_in_a_security_event(
    name: str, shipped_events: dict[str, list[GeneratedEvent]]
) -> None:
    events = shipped_events[name]
    for index, event in enumerate(events):
        text = _text(event)
        if event.log not in (AUTHZ_OPT, AUTHZ_ADMIN) or "CID:" not in text:
            continue
        time = event.record.time
        later = [
            other
            for other in events[index:]
            if other.log == SECURITY
            and timedelta(0) <= other.record.time - time <= timedelta(minutes=1)
        ]
        assert later, (name, index, text[:80])


def test_outcome_specific_evidence(shipped_events: dict[str, list[GeneratedEvent]]) -> None:
    def texts(name: str, log: str) -> list[str]:
        return [_text(event) for event in shipped_events[name] if event.log == log]

    cert = texts("cert-expired", AUTHZ_ADMIN)
    assert cert and all(
        "ErrorCode:: ESTS_TOKEN_ERROR" in text and "AADSTS700027" in text for text in cert
    )
    assert all(
        event.record.level == 1 and event.record.event_id == 3
        for event in shipped_events["cert-expired"]
        if event.log == AUTHZ_ADMIN
    )
    assert not any(
        event.record.event_id == 6272
        for event in shipped_events["cert-expired"]
        if event.log == SECURITY
    )
    tls_system = [event for event in shipped_events["connectivity-tls"] if event.log == SYSTEM]
    assert any(
        event.record.provider == "Schannel" and event.record.event_id == 36871
        for event in tls_system
    )
    assert any("CID: <> :Exception" in text for text in texts("otp-non-pap", AUTHZ_ADMIN))
    mixed_system = Counter(
        event.record.event_id for event in shipped_events["mixed"] if event.log == SYSTEM
    )
    assert mixed_system[13] == 3 and mixed_system[18] >= 3 and mixed_system[4401] == 1
    healthy = shipped_events["healthy"]
    assert {event.record.event_id for event in healthy if event.log == SECURITY} == {6272}
    healthy_notices = texts("healthy", AUTHZ_OPT)
    assert any("IP Whitelist not intialized" in text for text in healthy_notices)
    assert any("missing NAS Identifier" in text for text in healthy_notices)
    assert any("response state AccessChallenge" in text for text in healthy_notices)
    legacy = texts("sp-disabled", AUTHZ_ADMIN)
    assert any("IP_WHITE_LIST_WARNING" in text for text in legacy)
    adal = [text for text in legacy if "ESTS_TOKEN_ERROR" in text]
    assert adal and all("AADSTS7000112" in text and "\r\nTrace ID: " in text for text in adal)
    assert all(text.count(re.findall(GUID, text)[0]) == 2 for text in adal)  # CID twice
    timeouts = Counter(
        _named(event)["ReasonCode"]
        for event in shipped_events["client-timeout"]
        if event.log == SECURITY and event.record.event_id == 6274
    )
    assert timeouts["9"] >= 10


def test_max_events_and_scaling() -> None:
    scenario = load_shipped("mixed")
    assert sum(1 for _ in generate(scenario, max_events=25)) == 25
    base = count_events(scenario)
    bigger = scale_traffic(scenario, 3)
    assert [item.count for item in bigger.traffic] == [item.count * 3 for item in scenario.traffic]
    assert sum(count_events(bigger).values()) > 2 * sum(base.values())


# A property test over small random scenarios: whatever the combination, loading either
# succeeds and generation keeps its invariants, or it fails with a ScenarioError.

_OUTCOME_OPTIONS: dict[str, dict[str, Any]] = {
    "ests_token_error": {"aadsts": 700023, "wording": "adal"},
    "primary_auth_failure": {"reason": 65},
    "client_timeout": {"final": "failure"},
    "unknown_radius_client": {"ip": "10.9.9.9"},
    "alternate_login_id_error": {"variant": "empty"},
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from(sorted(OUTCOMES)),
            st.lists(
                st.sampled_from(["alice", "bob", "carl"]), min_size=1, max_size=3, unique=True
            ),
            st.sampled_from(["vpn", "wifi"]),
            st.integers(min_value=1, max_value=6),
        ),
        min_size=1,
        max_size=4,
    ),
    seed=st.integers(min_value=0, max_value=2**32),
    alternate=st.booleans(),
)
def test_random_scenarios_validate_or_generate(
    items: list[tuple[str, list[str], str, int]], seed: int, alternate: bool
) -> None:
    data = _base()
    data["seed"] = seed
    if alternate:
        data["registry"] = {"azure_mfa": {"LDAP_ALTERNATE_LOGINID_ATTRIBUTE": "mail"}}
    data["traffic"] = []
    for outcome, users, nas, count in items:
        entry: dict[str, Any] = {"outcome": outcome, "count": count, "window": ["0s", "50m"]}
        if outcome != "unknown_radius_client":
            entry["nas"] = nas
        if outcome not in ("unknown_radius_client", "shared_secret_mismatch"):
            entry["users"] = users
        if outcome in _OUTCOME_OPTIONS:
            entry["options"] = copy.deepcopy(_OUTCOME_OPTIONS[outcome])
        data["traffic"].append(entry)
    try:
        scenario = parse_scenario(data, "random.yaml")
    except ScenarioError as error:
        assert all(line.startswith("random.yaml: ") for line in str(error).splitlines())
        return
    events = list(generate(scenario))
    times = [event.record.time for event in events]
    assert times == sorted(times)
    assert all(scenario.start <= time <= scenario.end for time in times)
    assert events == list(generate(scenario))
    security = [event for event in events if event.log == SECURITY]
    assert all(event.record.event_id in (6272, 6273, 6274) for event in security)


# ------------------------------------------------------------------------ text dumps


def _scenario() -> Scenario:
    return load_shipped("alternate-login-id")


def test_reg_query_dump_format() -> None:
    dumps = registry_dumps(_scenario())
    assert sorted(dumps) == [
        "AfterRegAdd_AuthSrv.txt",
        "AfterRegAdd_AzureMFA.txt",
        "BeforeRegAdd_AuthSrv.txt",
        "BeforeRegAdd_AzureMFA.txt",
    ]
    before = dumps["BeforeRegAdd_AzureMFA.txt"]
    lines = before.split("\r\n")
    assert lines[0] == "" and lines[1] == "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa"
    assert lines[-2:] == ["", ""]  # blank line, then the final CRLF
    assert "\n" not in before.replace("\r\n", "")
    assert "    VERBOSE_LOG    REG_SZ    FALSE" in lines
    assert "    LDAP_LOOKUP_FORESTS    REG_SZ    proseware.com contoso.com" in lines
    assert "    VERBOSE_LOG    REG_SZ    TRUE" in dumps["AfterRegAdd_AzureMFA.txt"].split("\r\n")
    assert dumps["BeforeRegAdd_AuthSrv.txt"] == dumps["AfterRegAdd_AuthSrv.txt"]
    assert (
        "    AuthorizationDLLs    REG_MULTI_SZ    "
        "C:\\Program Files\\Microsoft\\AzureMfa\\Extensions\\MfaNpsAuthzExt.dll"
    ) in dumps["BeforeRegAdd_AuthSrv.txt"]


def test_reg_query_value_kinds() -> None:
    from npsdiag.synth.scenario import RegValue

    text = reg_query_text(
        "HKEY_LOCAL_MACHINE\\X",
        [
            RegValue("A", "REG_DWORD", 1),
            RegValue("B", "REG_MULTI_SZ", ("x", "y")),
            RegValue("C", "REG_SZ", ""),
        ],
    )
    assert (
        text == "\r\nHKEY_LOCAL_MACHINE\\X\r\n    A    REG_DWORD    0x1\r\n"
        "    B    REG_MULTI_SZ    x\\0y\r\n    C    REG_SZ    \r\n\r\n"
    )


def test_wevtutil_block(shipped_events: dict[str, list[GeneratedEvent]]) -> None:
    event = next(
        event
        for event in shipped_events["primary-auth-failure"]
        if event.log == SECURITY and event.record.event_id == 6273
    )
    block = wevtutil_text(4, event.record)
    lines = block.split("\r\n")
    assert lines[:13] == [
        "Event[4]:",
        "  Log Name: Security",
        "  Source: Microsoft-Windows-Security-Auditing",
        lines[3],
        "  Event ID: 6273",
        "  Task: Network Policy Server",
        "  Level: Information",
        "  Opcode: Info",
        "  Keyword: Audit Failure",
        "  User: N/A",
        "  User Name: N/A",
        "  Computer: NPS04.adatum.com",
        "  Description:",
    ]
    assert re.fullmatch(r"  Date: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", lines[3])
    assert lines[13] == "Network Policy Server denied access to a user."
    assert "\tReason Code:\t\t\t" + _named(event)["ReasonCode"] in lines
    assert lines[-2:] == ["", ""]


def test_file_names() -> None:
    scenario = _scenario()
    assert evtx_name(scenario, "AuthZOptCh") == "NPS07_AuthZOptCh.evtx"
    assert evtx_name(scenario, "Security") == "Security.evtx"
    assert bundle_name(scenario) == "20260119_111500_NpsLogging.zip"


# ------------------------------------------------------------------------------ docs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "samples.md"


def test_docs_example_is_a_valid_scenario() -> None:
    text = DOCS.read_text("utf-8")
    match = re.search(r"## Example\n\n```yaml\n(.*?)```", text, re.DOTALL)
    assert match, "docs/samples.md lost its example"
    scenario = parse_scenario(yaml.safe_load(match.group(1)), "docs/samples.md")
    assert scenario.expected.top_problem == "ext.user-not-found"
    assert list(generate(scenario))


def test_docs_name_every_key_and_outcome() -> None:
    text = DOCS.read_text("utf-8")
    # Top-level keys come from the schema itself, so a new key cannot go undocumented.
    keys = {
        *scenario_module._TOP_KEYS_REQUIRED,
        *scenario_module._TOP_KEYS_OPTIONAL,
        "upn",
        "sam",
        "form",
        "method",
        "ip",
        "protocol",
        "timeout",
        "retries",
        "port_type",
        "nas_identifier",
        "sends_nas_ip",
        "network_policy",
        "request_policy",
        "outcome",
        "count",
        "rate",
        "window",
        "options",
        "service_starts",
        "dc_unresponsive",
        "dc_unavailable",
        "eap_challenge_notices",
        "top_problem",
        "other_problems",
        "diagnosis",
        "azure_mfa",
        "auth_srv",
    }
    options = {option for names in OUTCOMES.values() for option in names}
    for word in sorted(keys | options | set(OUTCOMES)):
        assert f"`{word}`" in text, word
