"""Diagnosis engine: grouping, joins across logs, outcomes, symptom rules and ranking.

Events are built in memory and go through the real extractor and the shipped catalog,
so these tests pin behaviour end to end without files.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from npsdiag.catalog import load_catalog
from npsdiag.diagnose import NPS_JOIN_WINDOW, SESSION_LIFETIME, diagnose
from npsdiag.extract import extract
from npsdiag.model import Event, Finding

T0 = datetime(2026, 1, 14, 9, 0, 0, tzinfo=timezone.utc)
PREFIX = "NPS Extension for Azure MFA: "
CID_A = "11111111-1111-4111-8111-111111111111"
CID_B = "22222222-2222-4222-8222-222222222222"
CID_C = "33333333-3333-4333-8333-333333333333"
STATE = "44444444-4444-4444-8444-444444444444"


def _ext(seconds: float, text: str, channel: str = "AuthZOptCh", event_id: int = 1) -> Finding:
    event = Event(
        time=T0 + timedelta(seconds=seconds),
        channel=channel,
        provider="Microsoft-AzureMfa-AuthZ",
        event_id=event_id,
        level=4,
        computer="NPS01.contoso.com",
        record_id=int(seconds * 1000),
        fields={},
        data=(PREFIX + text,),
        message=None,
        origin="test.evtx",
    )
    finding = extract(event)
    assert finding is not None
    return finding


def _security(
    seconds: float, event_id: int, sent: str, resolved: str, reason: int | None = None
) -> Finding:
    fields = {
        "SubjectUserSid": "S-1-0-0",
        "SubjectUserName": sent,
        "SubjectDomainName": "CONTOSO",
        "FullyQualifiedSubjectUserName": resolved,
        "ClientName": "VPN01",
        "ClientIPAddress": "10.0.0.5",
        "NASIPv4Address": "10.0.0.5",
    }
    if reason is not None:
        fields["ReasonCode"] = str(reason)
        fields["Reason"] = "rendered text varies"
    event = Event(
        time=T0 + timedelta(seconds=seconds),
        channel="Security",
        provider="Microsoft-Windows-Security-Auditing",
        event_id=event_id,
        level=0,
        computer="NPS01.contoso.com",
        record_id=int(seconds * 1000) + 1,
        fields=fields,
        data=(),
        message=None,
        origin="Security.evtx",
    )
    finding = extract(event)
    assert finding is not None
    return finding


def _accepted(seconds: float, cid: str, user: str) -> Finding:
    return _ext(
        seconds,
        f"CID: {cid} : Access Accepted for user {user} with Azure MFA response: Success "
        "and message: Success",
    )


def _rejected(seconds: float, cid: str, user: str, code: str = "UserNotFound") -> Finding:
    return _ext(
        seconds,
        f"CID: {cid} : Access Rejected for user {user} with Azure MFA response: {code} "
        "and message: MSODS Graph call returned user not found error.",
    )


def _challenge(seconds: float, cid: str, user: str) -> Finding:
    return _ext(
        seconds,
        f"CID: {cid} : Challenge requested in Authentication Ext for User {user} "
        f"with state {STATE}",
    )


def _ests(seconds: float, cid: str, user: str, aadsts: str = "AADSTS700027") -> Finding:
    return _ext(
        seconds,
        f"CID: {cid} :Exception in Authentication Ext for User {user} :: ErrorCode:: "
        "ESTS_TOKEN_ERROR Msg:: Verify the client certificate is properly enrolled in Azure "
        f"against your tenant and the server can access URL in Registry STS_URL. {aadsts}: "
        "Client assertion contains an invalid signature.",
        channel="AuthZAdminCh",
        event_id=3,
    )


def _ignored(seconds: float, user: str, state: str = "AccessReject") -> Finding:
    return _ext(
        seconds,
        "NPS Extension for Azure MFA only performs Secondary Auth for Radius requests in "
        f"AccessAccept State. Request received for User {user} with response state {state}, "
        "ignoring request.",
    )


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def test_events_sharing_a_cid_are_one_incident(catalog) -> None:  # type: ignore[no-untyped-def]
    result = diagnose(
        [_challenge(0, CID_A, "alice@contoso.com"), _accepted(20, CID_A, "alice@contoso.com")],
        catalog,
    )
    assert len(result.incidents) == 1
    incident = result.incidents[0]
    assert incident.outcome == "accepted"
    assert incident.diagnosis is None
    assert result.problems == []


@pytest.mark.parametrize(
    ("sent", "resolved"),
    [
        ("alice@contoso.com", "CONTOSO\\alice"),  # UPN prefix equals the account name
        ("alice.wong@contoso.com", "CONTOSO\\awong"),  # it does not: the as-sent name joins
        ("CONTOSO\\alice", "CONTOSO\\alice"),
        ("alice", "CONTOSO\\alice"),
    ],
)
def test_nps_decision_joins_the_extension_attempt_whatever_the_name_form(  # type: ignore[no-untyped-def]
    catalog, sent, resolved
) -> None:
    user = sent
    result = diagnose(
        [_rejected(0, CID_A, user), _security(0.02, 6273, sent, resolved, reason=21)], catalog
    )
    assert len(result.incidents) == 1
    kinds = [f.kind for f in result.incidents[0].findings]
    assert kinds == ["ext.rejected", "nps.denied"]


def test_clock_skew_within_the_window_still_joins(catalog) -> None:  # type: ignore[no-untyped-def]
    skew = NPS_JOIN_WINDOW.total_seconds() - 5
    result = diagnose(
        [
            _rejected(0, CID_A, "bob@contoso.com"),
            _security(skew, 6273, "bob@contoso.com", "CONTOSO\\bob", 21),
        ],
        catalog,
    )
    assert len(result.incidents) == 1


def test_skew_beyond_the_window_does_not_join(catalog) -> None:  # type: ignore[no-untyped-def]
    late = NPS_JOIN_WINDOW.total_seconds() + 30
    result = diagnose(
        [
            _rejected(0, CID_A, "bob@contoso.com"),
            _security(late, 6273, "bob@contoso.com", "CONTOSO\\bob", 21),
        ],
        catalog,
    )
    assert len(result.incidents) == 2


def test_ambiguous_join_is_not_forced(catalog) -> None:  # type: ignore[no-untyped-def]
    # Two attempts of the same user 0.3 s apart; the NPS event sits between them.
    findings = [
        _rejected(0.0, CID_A, "carol@contoso.com"),
        _rejected(0.3, CID_B, "carol@contoso.com"),
        _security(0.15, 6273, "carol@contoso.com", "CONTOSO\\carol", 21),
    ]
    result = diagnose(findings, catalog)
    alone = [i for i in result.incidents if all(f.kind.startswith("nps.") for f in i.findings)]
    assert len(alone) == 1
    diagnosis = alone[0].diagnosis
    assert diagnosis is not None
    assert "(ambiguous)" in diagnosis.because


def test_challenge_without_answer_then_reason_21_is_high_confidence(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _challenge(0, CID_A, "dave@contoso.com"),
        _security(0.5, 6273, "dave@contoso.com", "CONTOSO\\dave", 21),
    ]
    result = diagnose(findings, catalog)
    assert [i.outcome for i in result.incidents] == ["no-answer"]
    top = result.problems[0]
    assert top.entry_id == "ext.challenge-no-answer"
    assert top.confidence == "high"


def test_challenge_answered_later_by_the_same_user_is_not_a_failure(catalog) -> None:  # type: ignore[no-untyped-def]
    answer_after = SESSION_LIFETIME.total_seconds() - 10
    result = diagnose(
        [
            _challenge(0, CID_A, "erin@contoso.com"),
            _accepted(answer_after, CID_B, "erin@contoso.com"),
        ],
        catalog,
    )
    assert [i.outcome for i in result.incidents] == ["accepted"]
    assert result.problems == []


def test_primary_failure_is_diagnosed_by_the_nps_reason_not_the_echo(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _ignored(0, "frank@contoso.com"),
        _security(0.01, 6273, "frank@contoso.com", "CONTOSO\\frank", reason=16),
    ]
    result = diagnose(findings, catalog)
    assert result.problems[0].entry_id == "nps.reason-16"
    assert result.incidents[0].outcome == "rejected"


def test_echo_alone_is_still_diagnosed(catalog) -> None:  # type: ignore[no-untyped-def]
    result = diagnose([_ignored(0, "frank@contoso.com")], catalog)
    assert result.problems[0].entry_id == "ext.primary-auth-rejected"


def test_every_user_failing_the_same_way_is_one_server_problem(catalog) -> None:  # type: ignore[no-untyped-def]
    users = ["ann@contoso.com", "CONTOSO\\ben", "cat"]
    cids = [CID_A, CID_B, CID_C]
    findings = [
        _ests(i * 60, cid, user) for i, (cid, user) in enumerate(zip(cids, users, strict=True))
    ]
    result = diagnose(findings, catalog)
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert problem.entry_id == "ext.ests-token-error.aadsts700027"
    assert problem.scope == "server"
    assert sorted(problem.users) == sorted(users)
    assert problem.start == T0
    assert problem.end == T0 + timedelta(seconds=120)


def test_reason_9_discards_behind_extension_errors_are_not_a_problem_of_their_own(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _ests(0, CID_A, "ann@contoso.com"),
        _security(0.01, 6274, "ann@contoso.com", "CONTOSO\\ann", reason=9),
    ]
    result = diagnose(findings, catalog)
    assert [p.entry_id for p in result.problems] == ["ext.ests-token-error.aadsts700027"]


def test_repeated_discards_while_the_user_answers_mean_client_timeout(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _challenge(0, CID_A, "gina@contoso.com"),
        _security(5, 6274, "gina@contoso.com", "CONTOSO\\gina", reason=9),
        _security(10, 6274, "gina@contoso.com", "CONTOSO\\gina", reason=9),
        _accepted(25, CID_A, "gina@contoso.com"),
        _security(25.01, 6272, "gina@contoso.com", "CONTOSO\\gina"),
    ]
    result = diagnose(findings, catalog)
    assert [p.entry_id for p in result.problems] == ["nps.client-timeout"]
    assert result.problems[0].users == ["gina@contoso.com"]


def test_a_single_discard_is_not_a_timeout(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _accepted(0, CID_A, "gina@contoso.com"),
        _security(3, 6274, "gina@contoso.com", "CONTOSO\\gina", reason=9),
    ]
    assert diagnose(findings, catalog).problems == []


def test_benign_notices_are_never_problems(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _ext(
            0,
            "IP Whitelist not intialized::  ErrorCode:: REGISTRY_CONFIG_ERROR Msg:: Neither "
            "registry entry not default value found for key: IP_WHITELIST",
            event_id=2,
        ),
        _ext(
            1,
            "Radius request is missing NAS Identifier and Nas IpAddress attribute.Populating "
            "atleast one of these fields is recommended.This is not an error.",
            event_id=4,
        ),
        _ignored(2, "hank@contoso.com", state="AccessChallenge"),
    ]
    result = diagnose(findings, catalog)
    assert result.problems == []
    assert result.incidents == []
    assert len(result.notices) == 3


def test_unknown_codes_are_kept_and_listed(catalog) -> None:  # type: ignore[no-untyped-def]
    finding = _ext(
        0,
        f"CID: {CID_A} :Exception in Authentication Ext for User ivy :: ErrorCode:: "
        "BRAND_NEW_FAILURE Msg:: something new",
        channel="AuthZAdminCh",
        event_id=3,
    )
    result = diagnose([finding], catalog)
    assert result.unknown_codes == ["BRAND_NEW_FAILURE"]
    diagnosis = result.incidents[0].diagnosis
    assert diagnosis is not None
    assert diagnosis.entry_id == "ext.unknown-code"
    assert diagnosis.confidence == "low"


def test_order_of_input_does_not_change_the_result(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _challenge(0, CID_A, "dave@contoso.com"),
        _security(0.5, 6273, "dave@contoso.com", "CONTOSO\\dave", 21),
        _ests(60, CID_B, "ann@contoso.com"),
        _rejected(90, CID_C, "zed@contoso.com"),
    ]
    forward = diagnose(findings, catalog)
    backward = diagnose(list(reversed(findings)), catalog)
    assert [(i.key, i.outcome) for i in forward.incidents] == [
        (i.key, i.outcome) for i in backward.incidents
    ]
    assert [p.entry_id for p in forward.problems] == [p.entry_id for p in backward.problems]


def test_server_wide_failure_between_successes_is_described_as_an_outage(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _accepted(0, CID_A, "ann@contoso.com"),
        _ests(100, CID_B, "ben@contoso.com"),
        _ests(200, CID_C, "cat@contoso.com"),
        _accepted(300, "55555555-5555-4555-8555-555555555555", "ann@contoso.com"),
    ]
    problem = diagnose(findings, catalog).problems[0]
    assert "outage: no sign-in succeeded from 2026-01-14T09:01:40Z to 2026-01-14T09:03:20Z" in (
        problem.because
    )
    assert "last success before: 2026-01-14T09:00:00Z" in problem.because
    assert "first success after: 2026-01-14T09:05:00Z" in problem.because


def test_a_success_inside_the_window_is_not_an_outage(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _ests(100, CID_B, "ben@contoso.com"),
        _accepted(150, CID_A, "ann@contoso.com"),
        _ests(200, CID_C, "cat@contoso.com"),
    ]
    assert "outage" not in diagnose(findings, catalog).problems[0].because


def test_unknown_nps_reason_codes_are_listed(catalog) -> None:  # type: ignore[no-untyped-def]
    result = diagnose([_security(0, 6273, "zoe@contoso.com", "CONTOSO\\zoe", reason=4242)], catalog)
    assert result.unknown_codes == ["NPS reason code 4242"]
    diagnosis = result.incidents[0].diagnosis
    assert diagnosis is not None
    assert diagnosis.entry_id == "nps.unknown-reason"


def test_extension_decisions_without_any_nps_decision_mean_auditing_is_off(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [_accepted(0, CID_A, "ann@contoso.com"), _rejected(60, CID_B, "ben@contoso.com")]
    ids = [p.entry_id for p in diagnose(findings, catalog, security_exported=True).problems]
    assert "nps.auditing-off" in ids
    # Without a Security export nothing can be said about auditing.
    assert "nps.auditing-off" not in [p.entry_id for p in diagnose(findings, catalog).problems]
    # One NPS decision is enough to show that auditing works.
    with_nps = [*findings, _security(0.01, 6272, "ann@contoso.com", "CONTOSO\\ann")]
    ids = [p.entry_id for p in diagnose(with_nps, catalog, security_exported=True).problems]
    assert "nps.auditing-off" not in ids


def test_an_answered_challenge_is_diagnosed_by_its_answer(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _challenge(0, CID_A, "ada@contoso.com"),
        _rejected(20, CID_A, "ada@contoso.com", code="OathCodeIncorrect"),
    ]
    result = diagnose(findings, catalog)
    # A mistyped code is the user's slip, not a fault: no problem, never "no answer"; but
    # the user did not get in, so it stays a failed attempt.
    assert result.problems == []
    assert result.notices == []
    (attempt,) = result.incidents
    assert attempt.outcome == "rejected" and attempt.failed
    assert attempt.diagnosis is not None
    assert attempt.diagnosis.entry_id == "ext.oath-code-incorrect"


# ---------------------------------------------------------------------------------------------
# The RADIUS client's side: RD Gateway, Windows VPN client, RRAS events join the same attempt


def _client(seconds: float, provider: str, event_id: int, **values: str) -> Finding:
    """A client-side event as Windows writes it: RD Gateway leaves, RasClient data."""
    fields: dict[str, str] = {}
    data: tuple[str, ...] = ()
    if provider == "Microsoft-Windows-TerminalServices-Gateway":
        fields = {"Username": values["user"], "IpAddress": "203.0.113.7"}
        fields["ErrorCode"] = values.get("code", "0")
        channel = "Microsoft-Windows-TerminalServices-Gateway/Operational"
    else:
        data = ("{B4000371-A67F-452F-AA4C-3125AA9CFC78}", values["user"], "Contoso VPN")
        data += (values.get("code", "0"),)
        channel = "Application"
    event = Event(
        time=T0 + timedelta(seconds=seconds),
        channel=channel,
        provider=provider,
        event_id=event_id,
        level=2,
        computer="GW01.contoso.com",
        record_id=int(seconds * 1000) + 2,
        fields=fields,
        data=data,
        message=None,
        origin="gateway.evtx",
    )
    finding = extract(event)
    assert finding is not None
    return finding


_RDG = "Microsoft-Windows-TerminalServices-Gateway"


def test_gateway_denial_joins_the_challenge_it_could_not_answer(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _challenge(0, CID_A, "alice@contoso.com"),
        _security(0.3, 6273, "CONTOSO\\alice", "CONTOSO\\alice", reason=21),
        # The gateway logs its refusal from another machine, a little later.
        _client(4, _RDG, 201, user="CONTOSO\\alice", code="23003"),
    ]
    result = diagnose(findings, catalog)
    assert len(result.incidents) == 1
    kinds = [f.kind for f in result.incidents[0].findings]
    assert kinds == ["ext.challenge", "nps.denied", "rdg.denied"]
    # The extension's evidence names the cause; the gateway's code only echoes it.
    assert [p.entry_id for p in result.problems] == ["ext.challenge-no-answer"]


def test_gateway_and_security_logs_alone_reach_the_nps_reason(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _security(0, 6273, "CONTOSO\\bob", "CONTOSO\\bob", reason=16),
        _client(2, _RDG, 201, user="CONTOSO\\bob", code="23003"),
    ]
    result = diagnose(findings, catalog)
    assert len(result.incidents) == 1
    assert result.incidents[0].outcome == "rejected"
    assert [p.entry_id for p in result.problems] == ["nps.reason-16"]


def test_vpn_client_failure_joins_the_extension_error_within_its_window(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _ests(0, CID_A, "CONTOSO\\carol"),
        _security(0.2, 6274, "CONTOSO\\carol", "CONTOSO\\carol"),
        # The client gives up after its own timeout, well past NPS's join window.
        _client(150, "RasClient", 20221, user="CONTOSO\\carol", code="0"),
    ]
    result = diagnose(findings, catalog)
    assert len(result.incidents) == 1
    assert result.problems[0].entry_id == "ext.ests-token-error.aadsts700027"


def test_gateway_events_alone_point_to_the_nps_side(catalog) -> None:  # type: ignore[no-untyped-def]
    findings = [
        _client(0, _RDG, 312, user="dave@contoso.com"),
        _client(5, _RDG, 201, user="CONTOSO\\dave", code="23003"),
        _client(600, _RDG, 200, user="CONTOSO\\erin"),
    ]
    result = diagnose(findings, catalog)
    assert [p.entry_id for p in result.problems] == ["rdg.cap-denied.error-23003"]
    assert [i.outcome for i in result.incidents] == ["rejected", "accepted"]
    assert [n.diagnosis.entry_id for n in result.notices if n.diagnosis] == [
        "rdg.connection-initiated"
    ]


def test_client_events_beyond_their_window_stay_apart(catalog) -> None:  # type: ignore[no-untyped-def]
    from npsdiag.diagnose import CLIENT_JOIN_WINDOW

    late = CLIENT_JOIN_WINDOW.total_seconds() + 30
    findings = [
        _security(0, 6273, "CONTOSO\\fred", "CONTOSO\\fred", reason=16),
        _client(late, "RasClient", 20227, user="CONTOSO\\fred", code="691"),
    ]
    result = diagnose(findings, catalog)
    assert len(result.incidents) == 2
