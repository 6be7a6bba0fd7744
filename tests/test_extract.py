"""Tests for npsdiag.extract: every documented message shape, every layout, hostile input.

Message texts marked "verbatim" are copied from the project's reference notes (product strings,
typos included); the rest are built here to exercise one rule each.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npsdiag.extract import extract, finding_from_text, is_relevant, user_key
from npsdiag.model import Event, Finding, FindingKind

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)

AUTHZ = "Microsoft-AzureMfa-AuthZ"
SECURITY = "Microsoft-Windows-Security-Auditing"


def make_event(
    *,
    channel: str = "AuthZOptCh",
    provider: str = AUTHZ,
    event_id: int = 1,
    fields: Mapping[str, str] | None = None,
    data: tuple[str, ...] = (),
    message: str | None = None,
) -> Event:
    """An Event as a reader would build it; only the parts under test vary."""
    return Event(
        time=WHEN,
        channel=channel,
        provider=provider,
        event_id=event_id,
        level=4,
        computer="NPS01.contoso.com",
        record_id=42,
        fields=dict(fields or {}),
        data=data,
        message=message,
        origin="test.evtx",
    )


PREFIX = "NPS Extension for Azure MFA:"


def in_layout(text: str, layout: str, **where: object) -> Event:
    """The same extension text stored the ways exports store it."""
    if layout == "message":
        return make_event(message=text, **where)  # type: ignore[arg-type]
    if layout == "one-data":
        return make_event(data=(text,), **where)  # type: ignore[arg-type]
    if layout == "several-data":
        # Split after the product prefix, as a manifest with two insertion strings would.
        head, sep, tail = text.partition(PREFIX)
        if not sep:
            head, sep, tail = text.partition(" Msg:: ")
        pieces = (head + sep, tail) if sep else (text,)
        return make_event(data=tuple(piece for piece in pieces if piece), **where)  # type: ignore[arg-type]
    if layout == "named-data":
        return make_event(fields={"Message": text}, **where)  # type: ignore[arg-type]
    if layout == "userdata":
        return make_event(fields={"EventXML/Param1": text}, **where)  # type: ignore[arg-type]
    raise AssertionError(layout)


LAYOUTS = ("message", "one-data", "several-data", "named-data", "userdata")


def must_extract(event: Event) -> Finding:
    finding = extract(event)
    assert finding is not None
    return finding


# --------------------------------------------------------------------------------------------
# Verbatim extension messages (reference notes, section 2)
# --------------------------------------------------------------------------------------------

CHALLENGE = (
    "NPS Extension for Azure MFA: CID: 32e83cbf-484d-49aa-9adb-71528f5eb94d : Challenge requested"
    " in Authentication Ext for User ******@domain.com with state"
    " 300c9d6c-7734-4165-83d3-212e73aee286"
)
CHALLENGE_DOC_OLD = (
    "NPS Extension for Azure MFA: Challenge requested in Authentication Ext for User npstesting_ap."
)
CHALLENGE_DOC_NEW = (
    "NPS extension for Azure MFA: Challenge requested in the Authentication extension for the user"
    " `npstesting_ap`."
)
REJECTED = (
    "NPS Extension for Azure MFA: CID: 430ef057-7941-44ff-a0b1-240e7d74cedc : Access Rejected for"
    " user <USERNAME> with Azure MFA response: UserNotFound and message: MSODS Graph call returned"
    " user not found error. GraphError,SAS.Shared.GraphProvider.Exceptions."
    "GraphUserNotFoundException: [Code:Request_ResourceNotFound] [Message:Resource <USERNAME>' does"
    " not exist or one of its queried reference-property objects are not present.]"
)
ESTS_OLD = (
    "NPS Extension for Azure MFA: CID: 341b704d-03f1-4ba6-ae92-eb19ae2f2bf3 :Exception in"
    " Authentication Ext for User myusername :: ErrorCode:: CID"
    " :341b704d-03f1-4ba6-ae92-eb19ae2f2bf3 ESTS_TOKEN_ERROR Msg:: Verify the client certificate"
    " is properly enrolled in Azure against your tenant and the server can access URL in Registry"
    " STS_URL. Error authenticating to eSTS: ErrorCode:: ESTS_TOKEN_ERROR Msg:: Error in retreiving"
    " token details from request handle: -895352831 AADSTS7000112: Application"
    " '981f26a1-7f43-403b-a875-f8b09b8cd720'(Azure Multi-Factor Auth Client) is disabled.\n"
    "Trace ID: c5379bf7-9e15-49d0-9541-547b68c95d00\n"
    "Correlation ID: e3dfe056-fbdd-4b4b-8852-2d55991e97be\n"
    "Timestamp: 2019-10-17 20:48:29Z Enter ERROR_CODE @"
    " https://go.microsoft.com/fwlink/?linkid=846827 for detailed troubleshooting steps. Enter"
    " ERROR_CODE @ https://go.microsoft.com/fwlink/?linkid=846827 for detailed troubleshooting"
    " steps."
)
ESTS_DOMAIN_USER = (
    "NPS Extension for Azure MFA: CID: 6da75e38-6bbf-4616-84df-fa65b4c7905c :Exception in"
    " Authentication Ext for User Domain\\username :: ErrorCode:: CID"
    " :6da75e38-6bbf-4616-84df-fa65b4c7905c ESTS_TOKEN_ERROR Msg:: Verify the client certificate"
    " is properly enrolled in Azure against your tenant and the server can access URL in Registry"
    " STS_URL. Error authenticating to eSTS: ErrorCode:: ESTS_TOKEN_ERROR Msg:: Error in retreiving"
    " token details from reques[t handle ...]"
)
ESTS_GOV = (
    "ESTS_TOKEN_ERROR Msg:: Unable to get Azure AD access token. [Reason:AADSTS90038: Tenant 'ID'"
    " request is being redirected to the National Cloud 'MicrosoftOnline.COM'"
)
MISSING_CODE = (
    "NPS Extension for Azure MFA: CID: <> :Exception in Authentication Ext for User USername ::"
    " ErrorCode:: REQUEST_MISSING_CODE Msg:: Request is missing OTP Enter ERROR_CODE @"
    " [link][/link] for detailed troubleshooting steps."
)
FORTINET_HEADER = (
    "Log Name: AuthZAdminCh Source: Microsoft-AzureMfa-AuthZ Date: 22/06/2020 09:46:16 Event ID: 3"
    " Level: Critical User: NETWORK SERVICE Computer: Servername Description: " + MISSING_CODE
)
WHITELIST = (
    "NPS Extension for Azure MFA: IP Whitelist not intialized::  ErrorCode:: REGISTRY_CONFIG_ERROR"
    " Msg:: Neither registry entry not default value found for key: IP_WHITELIST"
)
NAS_MISSING = (
    "NPS Extension for Azure MFA: Radius request is missing NAS Identifier and Nas IpAddress"
    " attribute.Populating atleast one of these fields is recommended.This is not an error."
)
WHITELIST_WARNING = (
    "IP_WHITE_LIST_WARNING::IP Whitelist is being ignored as the source IP is missing in the RADIUS"
    " request NasIpAddress attribute."
)
IGNORED_REJECT = (
    "NPS Extension for Azure MFA only performs Secondary Auth for Radius requests in AccessAccept"
    " State. Request received for User username with response state AccessReject, ignoring"
    " request."
)
IGNORED_CHALLENGE = (
    "NPS Extension for Azure MFA: \n"
    "NPS Extension for Azure MFA only performs Secondary Auth for Radius requests in AccessAccept"
    " State. Request received for User username with response state AccessChallenge, ignoring"
    " request."
)

#: text -> the Finding attributes it must produce (everything not listed must be empty).
EXPECTED: dict[str, dict[str, object]] = {
    CHALLENGE: {
        "kind": FindingKind.CHALLENGE,
        "cid": "32e83cbf-484d-49aa-9adb-71528f5eb94d",
        "user": "******@domain.com",
        "state": "300c9d6c-7734-4165-83d3-212e73aee286",
    },
    CHALLENGE_DOC_OLD: {
        "kind": FindingKind.CHALLENGE,
        "user": "npstesting_ap",
        "user_key": "npstesting_ap",
    },
    CHALLENGE_DOC_NEW: {
        "kind": FindingKind.CHALLENGE,
        "user": "npstesting_ap",
        "user_key": "npstesting_ap",
    },
    REJECTED: {
        "kind": FindingKind.REJECTED,
        "codes": ("UserNotFound",),
        "cid": "430ef057-7941-44ff-a0b1-240e7d74cedc",
        "user": "<USERNAME>",
        "detail": REJECTED.partition("and message: ")[2],
    },
    ESTS_OLD: {
        "kind": FindingKind.EXCEPTION,
        "codes": ("ESTS_TOKEN_ERROR",),
        "cid": "341b704d-03f1-4ba6-ae92-eb19ae2f2bf3",
        "user": "myusername",
        "user_key": "myusername",
        "aadsts": ("AADSTS7000112",),
        "trace_id": "c5379bf7-9e15-49d0-9541-547b68c95d00",
        "correlation_id": "e3dfe056-fbdd-4b4b-8852-2d55991e97be",
        "detail": (
            "Verify the client certificate is properly enrolled in Azure against your tenant and"
            " the server can access URL in Registry STS_URL. Error authenticating to eSTS:"
            " ErrorCode:: ESTS_TOKEN_ERROR Msg:: Error in retreiving token details from request"
            " handle: -895352831 AADSTS7000112: Application"
            " '981f26a1-7f43-403b-a875-f8b09b8cd720'(Azure Multi-Factor Auth Client) is"
            " disabled.\nTrace ID: c5379bf7-9e15-49d0-9541-547b68c95d00\n"
            "Correlation ID: e3dfe056-fbdd-4b4b-8852-2d55991e97be\n"
            "Timestamp: 2019-10-17 20:48:29Z"
        ),
    },
    ESTS_DOMAIN_USER: {
        "kind": FindingKind.EXCEPTION,
        "codes": ("ESTS_TOKEN_ERROR",),
        "cid": "6da75e38-6bbf-4616-84df-fa65b4c7905c",
        "user": "Domain\\username",
        "user_key": "username",
        "detail": ESTS_DOMAIN_USER.partition("Msg:: ")[2],
    },
    ESTS_GOV: {
        "kind": FindingKind.EXT_OTHER,
        "codes": ("ESTS_TOKEN_ERROR",),
        "aadsts": ("AADSTS90038",),
        "detail": ESTS_GOV.partition("Msg:: ")[2],
    },
    MISSING_CODE: {
        "kind": FindingKind.EXCEPTION,
        "codes": ("REQUEST_MISSING_CODE",),
        "user": "USername",
        "user_key": "username",
        "detail": "Request is missing OTP",
    },
    WHITELIST: {
        "kind": FindingKind.NOTICE,
        "codes": ("REGISTRY_CONFIG_ERROR",),
        "detail": "Neither registry entry not default value found for key: IP_WHITELIST",
    },
    NAS_MISSING: {
        "kind": FindingKind.NOTICE,
        "detail": NAS_MISSING.partition(PREFIX + " ")[2],
    },
    WHITELIST_WARNING: {
        "kind": FindingKind.NOTICE,
        "codes": ("IP_WHITE_LIST_WARNING",),
        "detail": WHITELIST_WARNING.partition("::")[2],
    },
    IGNORED_REJECT: {
        "kind": FindingKind.IGNORED,
        "user": "username",
        "user_key": "username",
        "response_state": "AccessReject",
    },
    IGNORED_CHALLENGE: {
        "kind": FindingKind.IGNORED,
        "user": "username",
        "user_key": "username",
        "response_state": "AccessChallenge",
    },
}

#: Every Finding attribute that extension extraction may fill, with its empty value.
EXTENSION_ATTRIBUTES: dict[str, object] = {
    "codes": (),
    "cid": None,
    "user": None,
    "user_key": None,
    "state": None,
    "aadsts": (),
    "trace_id": None,
    "correlation_id": None,
    "detail": None,
    "response_state": None,
    "reason_code": None,
    "client_ip": None,
    "client_name": None,
    "nas_ip": None,
    "user_aliases": (),
}


def assert_finding(finding: Finding, expected: Mapping[str, object]) -> None:
    assert finding.kind == expected["kind"]
    for name, empty in EXTENSION_ATTRIBUTES.items():
        assert getattr(finding, name) == expected.get(name, empty), name


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("text", list(EXPECTED), ids=lambda text: text[29:70])
def test_reference_messages_in_every_layout(text: str, layout: str) -> None:
    event = in_layout(text, layout, channel="AuthZAdminCh", event_id=3)
    finding = must_extract(event)
    assert finding.event is event
    expected = dict(EXPECTED[text])
    if layout == "several-data" and "detail" in expected:
        # Joining the pieces turns the space at the split into a line break, which a detail
        # starting right there keeps; compare such details with whitespace collapsed.
        assert " ".join((finding.detail or "").split()) == " ".join(str(expected["detail"]).split())
        expected["detail"] = finding.detail
    assert_finding(finding, expected)


@pytest.mark.parametrize("text", list(EXPECTED), ids=lambda text: text[29:70])
def test_reference_messages_pasted(text: str) -> None:
    finding = finding_from_text(text)
    assert_finding(finding, EXPECTED[text])
    assert finding.event.origin == "<pasted>"
    assert (finding.event.channel, finding.event.provider, finding.event.event_id) == ("", "", 0)


def test_fortinet_copy_with_event_viewer_header() -> None:
    finding = finding_from_text(FORTINET_HEADER)
    assert finding.kind == FindingKind.EXCEPTION
    assert finding.codes == ("REQUEST_MISSING_CODE",)
    assert finding.user == "USername"
    assert finding.cid is None
    assert finding.detail == "Request is missing OTP"


def test_trace_and_correlation_ids_are_not_the_cid() -> None:
    finding = must_extract(make_event(message=ESTS_OLD))
    assert len({finding.cid, finding.trace_id, finding.correlation_id}) == 3
    assert "Enter ERROR_CODE" not in (finding.detail or "")


def test_boilerplate_removed_but_not_the_rest() -> None:
    text = (
        f"{PREFIX} CID: 11111111-2222-3333-4444-555555555555 :Exception in Authentication Ext"
        " for User bob :: ErrorCode:: HTTP_CONNECT_ERROR Msg:: Unable to connect. Enter"
        " ERROR_CODE @ https://go.microsoft.com/fwlink/?linkid=846827 for detailed"
        " troubleshooting steps."
    )
    assert must_extract(make_event(message=text)).detail == "Unable to connect."


def test_generic_rendering_falls_back_to_data() -> None:
    generic = "The description for Event ID 1 from source Microsoft-AzureMfa-AuthZ cannot be found."
    finding = must_extract(make_event(message=generic, data=(CHALLENGE,)))
    assert finding.kind == FindingKind.CHALLENGE
    assert finding.cid == "32e83cbf-484d-49aa-9adb-71528f5eb94d"


def test_unrecognised_extension_message_is_kept() -> None:
    text = f"{PREFIX} CID: 11111111-2222-3333-4444-555555555555 : Something new happened"
    finding = must_extract(make_event(message=text))
    assert finding.kind == FindingKind.EXT_OTHER
    assert finding.cid == "11111111-2222-3333-4444-555555555555"
    assert finding.detail == "Something new happened"


def test_extension_event_with_no_text_still_yields_a_finding() -> None:
    finding = must_extract(make_event())
    assert finding.kind == FindingKind.EXT_OTHER
    assert finding.detail is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"{PREFIX} Access Accepted for user alice@contoso.com with Azure MFA response: Success",
         FindingKind.ACCEPTED),
        (f"{PREFIX} Access Denied for user alice with Azure MFA response: X", FindingKind.REJECTED),
        (f"{PREFIX} Challenge requested in Authentication Ext for User a", FindingKind.CHALLENGE),
    ],
)  # fmt: skip
def test_kinds(text: str, kind: str) -> None:
    assert must_extract(make_event(message=text)).kind == kind


# --------------------------------------------------------------------------------------------
# CIDs, users, codes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fragment", "cid"),
    [
        ("CID: <> :", None),
        ("CID: <guid> :", None),
        ("CID: xxxx :", None),
        ("CID: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx :", None),
        ("CID: 32E83CBF-484D-49AA-9ADB-71528F5EB94D :", "32e83cbf-484d-49aa-9adb-71528f5eb94d"),
        ("CID: {32e83cbf-484d-49aa-9adb-71528f5eb94d} :", "32e83cbf-484d-49aa-9adb-71528f5eb94d"),
        ("CID:32e83cbf-484d-49aa-9adb-71528f5eb94d:", "32e83cbf-484d-49aa-9adb-71528f5eb94d"),
        ("CID: 32e83cbf-484d-49aa-9adb-71528f5eb94dff :", None),
        ("CID: <> : ErrorCode:: CID :32e83cbf-484d-49aa-9adb-71528f5eb94d FOO_BAR Msg:: x",
         "32e83cbf-484d-49aa-9adb-71528f5eb94d"),
    ],
)  # fmt: skip
def test_cid_forms(fragment: str, cid: str | None) -> None:
    text = f"{PREFIX} {fragment}Exception in Authentication Ext for User bob :: ErrorCode:: A_B"
    assert must_extract(make_event(message=text)).cid == cid


def test_cid_twice_keeps_the_first() -> None:
    text = (
        f"{PREFIX} CID: 11111111-1111-1111-1111-111111111111 : ErrorCode:: CID"
        " :22222222-2222-2222-2222-222222222222 X_Y Msg:: z"
    )
    assert must_extract(make_event(message=text)).cid == "11111111-1111-1111-1111-111111111111"


@pytest.mark.parametrize(
    ("tail", "user", "key"),
    [
        ("Exception in Authentication Ext for User alice@contoso.com :: ErrorCode:: X_Y",
         "alice@contoso.com", "alice"),
        ("Exception in Authentication Ext for User CONTOSO\\Alice :: ErrorCode:: X_Y",
         "CONTOSO\\Alice", "alice"),
        ("Exception in Authentication Ext for User alice :: ErrorCode:: X_Y", "alice", "alice"),
        ("Access Rejected for user ******@domain.com with Azure MFA response: UserNotFound",
         "******@domain.com", None),
        ("Access Rejected for user John Smith with Azure MFA response: UserNotFound",
         "John Smith", "john smith"),
        ("Challenge requested in Authentication Ext for User bob@x.org with state "
         "300c9d6c-7734-4165-83d3-212e73aee286", "bob@x.org", "bob"),
        ("only performs Secondary Auth for Radius requests in AccessAccept State. Request "
         "received for User CONTOSO\\bob with response state AccessReject, ignoring request.",
         "CONTOSO\\bob", "bob"),
        ("Challenge requested in Authentication Ext for User carol", "carol", "carol"),
        ("Access Accepted for user dave, more text", "dave", "dave"),
        ("Access Accepted for user eve.adams. Next sentence", "eve.adams", "eve.adams"),
        ("Access Accepted for user 'frank'", "frank", "frank"),
        ("Access Rejected for user CONTOSO\\Gina Lo with Azure MFA response: X",
         "CONTOSO\\Gina Lo", "gina lo"),
        ("Exception in Authentication Ext for User  :: ErrorCode:: X_Y", None, None),
    ],
)  # fmt: skip
def test_user_forms(tail: str, user: str | None, key: str | None) -> None:
    finding = must_extract(make_event(message=f"{PREFIX} CID: <> :{tail}"))
    assert (finding.user, finding.user_key) == (user, key)


def test_user_not_taken_from_the_free_text() -> None:
    text = (
        f"{PREFIX} CID: <> :Exception in Authentication Ext ErrorCode:: X_Y Msg:: no method for"
        " the user alice with phone"
    )
    assert must_extract(make_event(message=text)).user is None


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("ErrorCode:: FOO_BAR Msg:: something", ("FOO_BAR",)),
        ("Access Rejected for user a with Azure MFA response: SomethingNew and message: m",
         ("SomethingNew",)),
        ("ErrorCode:: SomethingCamel Msg:: x", ("SomethingCamel",)),
        ("ErrorCode:: B_B Msg:: ErrorCode:: A_A Msg:: ErrorCode:: B_B", ("B_B", "A_A")),
        ("ErrorCode:: Msg:: nothing given", ()),
        ("ErrorCode:: CID :<> X_Y Msg:: old form with obfuscated cid", ("X_Y",)),
        ("NEW_WARNING::Something changed", ("NEW_WARNING",)),
        ("Enter ERROR_CODE @ https://x for detailed troubleshooting steps.", ()),
    ],
)  # fmt: skip
def test_codes_in_code_positions(text: str, codes: tuple[str, ...]) -> None:
    assert must_extract(make_event(message=f"{PREFIX} {text}")).codes == codes


def test_aadsts_codes_in_order_once() -> None:
    text = (
        f"{PREFIX} ErrorCode:: ESTS_TOKEN_ERROR Msg:: AADSTS700027 then AADSTS700023, AADSTS700027"
    )
    assert must_extract(make_event(message=text)).aadsts == ("AADSTS700027", "AADSTS700023")


def test_detail_is_capped() -> None:
    text = f"{PREFIX} ErrorCode:: X_Y Msg:: " + "word " * 5000
    detail = must_extract(make_event(message=text)).detail
    assert detail is not None
    assert len(detail) <= 4002
    assert detail.endswith("…")


def test_extension_wording_from_another_source() -> None:
    event = make_event(channel="Application", provider="SomeForwarder", message=CHALLENGE)
    assert must_extract(event).kind == FindingKind.CHALLENGE


def test_generic_wording_from_another_source_is_not_extension() -> None:
    event = make_event(
        channel="Application",
        provider="MySQL",
        message="Access denied for user 'root'@'localhost' (using password: YES)",
    )
    assert extract(event) is None


# --------------------------------------------------------------------------------------------
# NPS Security events
# --------------------------------------------------------------------------------------------

#: The 6273 EventData of Microsoft Q&A 2617618 (reference notes 3.2), in document order.
FIELDS_6273 = {
    "SubjectUserSid": "S-1-0-0",
    "SubjectUserName": "abusby",
    "SubjectDomainName": "K12.TX.US",
    "FullyQualifiedSubjectUserName": "K12.TX.US\\abusby",
    "SubjectMachineSID": "S-1-0-0",
    "SubjectMachineName": "-",
    "FullyQualifiedSubjectMachineName": "-",
    "MachineInventory": "-",
    "CalledStationID": "00-19-92-0C-E4-E9:NISD_Testing",
    "CallingStationID": "B8-E8-56-A8-D4-D9",
    "NASIPv4Address": "10.250.1.15",
    "NASIPv6Address": "-",
    "NASIdentifier": "-",
    "NASPortType": "Wireless - IEEE 802.11",
    "NASPort": "0",
    "ClientName": "Testing Access Point",
    "ClientIPAddress": "10.250.1.15",
    "ProxyPolicyName": "BlueSocket Wireless Connections",
    "NetworkPolicyName": "-",
    "AuthenticationProvider": "Windows",
    "AuthenticationServer": "ADMIN-PDC.nederland.k12.tx.us",
    "AuthenticationType": "PEAP",
    "EAPType": "Microsoft: Secured password (EAP-MSCHAP v2)",
    "AccountSessionIdentifier": "-",
    "ReasonCode": "7",
    "Reason": "The specified domain does not exist.",
    "LoggingResult": "Accounting information was written to the local log file.",
}

#: The same event as Event Viewer / wevtutil renders it (verbatim, reference notes 3.2).
TEXT_6273 = """Log Name:      Security
Source:        Microsoft-Windows-Security-Auditing
Date:          3/7/2014 12:55:51 PM
Event ID:      6273
Task Category: Network Policy Server
Level:         Information
Keywords:      Audit Failure
User:          N/A
Computer:      ADMIN-PDC.nederland.k12.tx.us
Description:
Network Policy Server denied access to a user.
Contact the Network Policy Server administrator for more information.
User:
Security ID: NULL SID
Account Name: abusby
Account Domain: K12.TX.US
Fully Qualified Account Name: K12.TX.US\\abusby
Client Machine:
Security ID: NULL SID
Account Name:
Fully Qualified Account Name:
OS-Version:
Called Station Identifier: 00-19-92-0C-E4-E9:NISD_Testing
Calling Station Identifier: B8-E8-56-A8-D4-D9
NAS:
NAS IPv4 Address: 10.250.1.15
NAS IPv6 Address:
NAS Identifier:
NAS Port-Type: Wireless - IEEE 802.11
NAS Port: 0
RADIUS Client:
Client Friendly Name: Testing Access Point
Client IP Address: 10.250.1.15
Authentication Details:
Connection Request Policy Name: BlueSocket Wireless Connections
Network Policy Name:
Authentication Provider: Windows
Authentication Server: ADMIN-PDC.nederland.k12.tx.us
Authentication Type: PEAP
EAP Type: Microsoft: Secured password (EAP-MSCHAP v2)
Account Session Identifier:
Logging Results: Accounting information was written to the local log file.
Reason Code: 7
Reason: The specified domain does not exist."""

EXPECTED_6273 = {
    "kind": FindingKind.NPS_DENIED,
    "user": "K12.TX.US\\abusby",
    "user_key": "abusby",
    "reason_code": 7,
    "client_ip": "10.250.1.15",
    "client_name": "Testing Access Point",
    "nas_ip": "10.250.1.15",
    "detail": "The specified domain does not exist.",
}


def security_event(event_id: int = 6273, **kwargs: object) -> Event:
    return make_event(channel="Security", provider=SECURITY, event_id=event_id, **kwargs)  # type: ignore[arg-type]


def test_6273_from_named_fields() -> None:
    assert_finding(must_extract(security_event(fields=FIELDS_6273)), EXPECTED_6273)


def test_6273_from_wevtutil_text() -> None:
    assert_finding(must_extract(security_event(message=TEXT_6273)), EXPECTED_6273)


def test_6273_from_tab_indented_text() -> None:
    tabbed = TEXT_6273.replace(": ", ":\t\t").replace("\nSecurity ID", "\n\tSecurity ID")
    assert_finding(must_extract(security_event(message=tabbed)), EXPECTED_6273)


def test_6273_from_text_flattened_onto_one_line() -> None:
    flat = " ".join(TEXT_6273.split("\n"))
    assert_finding(must_extract(security_event(message=flat)), EXPECTED_6273)


def test_6273_pasted() -> None:
    assert_finding(finding_from_text(TEXT_6273), EXPECTED_6273)


def test_6273_from_unnamed_data_by_position() -> None:
    finding = must_extract(security_event(data=tuple(FIELDS_6273.values())))
    assert_finding(finding, EXPECTED_6273)


def test_6273_fields_under_a_userdata_path_and_other_case() -> None:
    fields = {f"EventData/{name.lower()}": value for name, value in FIELDS_6273.items()}
    assert_finding(must_extract(security_event(fields=fields)), EXPECTED_6273)


def test_6273_first_of_two_keys_giving_one_name_wins_in_every_layout() -> None:
    # A name given twice (a path and a case variant) is read from the first key; the layout
    # memo must not let one field order answer for another.
    first = {"EventData/reasoncode": "16", **FIELDS_6273}
    second = {**FIELDS_6273, "EventData/reasoncode": "16"}
    for _ in range(2):  # the second round reads the memo
        assert must_extract(security_event(fields=first)).reason_code == 16
        assert (
            must_extract(security_event(fields=second)).reason_code == EXPECTED_6273["reason_code"]
        )


def test_6273_layout_memo_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    import npsdiag.extract as extract_module

    monkeypatch.setattr(extract_module, "_MAX_LAYOUTS", 2)
    for extra in range(6):
        fields = {**FIELDS_6273, f"Extra{extra}": "x"}
        assert_finding(must_extract(security_event(fields=fields)), EXPECTED_6273)
        assert len(extract_module._WANTED_KEYS) <= 2


def test_nps_user_without_qualified_name() -> None:
    fields = dict(FIELDS_6273, FullyQualifiedSubjectUserName="-")
    finding = must_extract(security_event(fields=fields))
    assert (finding.user, finding.user_key) == ("K12.TX.US\\abusby", "abusby")
    fields = dict(fields, SubjectDomainName="-", SubjectUserName="alice@contoso.com")
    finding = must_extract(security_event(fields=fields))
    assert (finding.user, finding.user_key) == ("alice@contoso.com", "alice")


def test_nps_user_section_only() -> None:
    text = (
        "Network Policy Server denied access to a user.\nUser:\nSecurity ID: NULL SID\n"
        "Account Name: -\nClient Machine:\nAccount Name: HOST01$\nReason Code: 16\n"
    )
    finding = must_extract(security_event(message=text))
    assert finding.user is None
    assert finding.reason_code == 16


def test_nps_code_21_and_unknown_codes() -> None:
    text = (
        "Reason Code: 21\nReason: An NPS extension dynamic link library (DLL) that is installed"
        " on the NPS server rejected the connection request."
    )
    finding = must_extract(security_event(message=text))
    assert finding.reason_code == 21
    assert finding.detail is not None and finding.detail.startswith("An NPS extension")
    unknown = must_extract(security_event(fields=dict(FIELDS_6273, ReasonCode="9999")))
    assert unknown.reason_code == 9999
    hexa = must_extract(security_event(fields=dict(FIELDS_6273, ReasonCode="0x15")))
    assert hexa.reason_code == 21
    garbage = must_extract(security_event(fields=dict(FIELDS_6273, ReasonCode="n/a-ish")))
    assert garbage.reason_code is None


def test_nas_ipv6_used_when_no_ipv4() -> None:
    fields = dict(FIELDS_6273, NASIPv4Address="-", NASIPv6Address="2001:db8::1")
    assert must_extract(security_event(fields=fields)).nas_ip == "2001:db8::1"


@pytest.mark.parametrize(
    ("event_id", "kind"),
    [
        (6272, FindingKind.NPS_GRANTED),
        (6273, FindingKind.NPS_DENIED),
        (6274, FindingKind.NPS_DISCARDED),
        *((event_id, FindingKind.NPS_OTHER) for event_id in range(6275, 6281)),
    ],
)
def test_nps_kinds_by_event_id(event_id: int, kind: str) -> None:
    assert must_extract(security_event(event_id, fields=FIELDS_6273)).kind == kind


def test_other_security_events_are_ignored() -> None:
    assert extract(security_event(4624, fields={"TargetUserName": "bob"})) is None
    assert extract(security_event(6271, fields=FIELDS_6273)) is None


# --------------------------------------------------------------------------------------------
# System events
# --------------------------------------------------------------------------------------------


def system_event(event_id: int, provider: str = "NPS", **kwargs: object) -> Event:
    return make_event(channel="System", provider=provider, event_id=event_id, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event", "kind", "client_ip"),
    [
        (system_event(13, message="A RADIUS message was received from the invalid RADIUS client"
                      " IP address 10.150.9.250"), FindingKind.SYS_UNKNOWN_CLIENT, "10.150.9.250"),
        (system_event(13, data=("10.150.9.250",)), FindingKind.SYS_UNKNOWN_CLIENT, "10.150.9.250"),
        (system_event(13, provider="IAS", data=("2001:DB8::5",)),
         FindingKind.SYS_UNKNOWN_CLIENT, "2001:db8::5"),
        (system_event(18, message="An Access-Request message was received from RADIUS client"
                      " 192.0.2.7 with a Message-Authenticator attribute that is not valid."),
         FindingKind.SYS_AUTHENTICATOR, "192.0.2.7"),
        (system_event(17, message="An Access-Request message was received from RADIUS client"
                      " 192.0.2.8 without a Message-Authenticator attribute when a"
                      " Message-Authenticator attribute is required."),
         FindingKind.SYS_AUTHENTICATOR, "192.0.2.8"),
        (system_event(4400, message="A LDAP connection with domain controller DC01.domain.com for"
                      " domain DOMAIN is established."), FindingKind.SYS_DOMAIN_CONTROLLER, None),
        (system_event(4401, message="Domain controller dc2 for domain X is not responsive. NPS"
                      " switches to other DCs."), FindingKind.SYS_DOMAIN_CONTROLLER, None),
        (system_event(4402, data=("K12.TX.US",)), FindingKind.SYS_DOMAIN_CONTROLLER, None),
        (system_event(36871, provider="Schannel", message="A fatal error occurred while creating"
                      " a TLS client credential. The internal error state is 10013."),
         FindingKind.SYS_TLS, None),
        (system_event(36871, provider="Microsoft-Windows-Schannel"), FindingKind.SYS_TLS, None),
    ],
)  # fmt: skip
def test_system_events(event: Event, kind: str, client_ip: str | None) -> None:
    finding = must_extract(event)
    assert finding.kind == kind
    assert finding.client_ip == client_ip
    assert finding.detail == (event.text.strip() or None)


def test_4402_detail_is_the_text() -> None:
    message = "There is no domain controller available for domain K12.TX.US."
    assert must_extract(system_event(4402, message=message)).detail == message


@pytest.mark.parametrize(
    "event",
    [
        system_event(4, message="NPS started"),
        system_event(13, provider="Service Control Manager", message="10.0.0.1"),
        system_event(36870, provider="Schannel"),
    ],
)
def test_other_system_events_are_ignored(event: Event) -> None:
    assert extract(event) is None


# --------------------------------------------------------------------------------------------
# is_relevant, user_key, finding_from_text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "provider", "event_id", "relevant"),
    [
        ("AuthZOptCh", "", 1, True),
        ("AuthNOptCh", "", 1, True),
        ("AuthZAdminCh", "", 3, True),
        ("authzadminch", "", 3, True),
        ("Microsoft-AzureMfa-AuthZ/AuthZAdminCh", "", 3, True),
        ("Microsoft-AzureMFA-AuthN/AuthNOptCh", "", 1, True),
        ("AzureMfa/AuthZ/AuthZOptCh", "", 1, True),
        ("AzureMfa\\AuthZ\\AuthZOptCh", "", 1, True),
        ("", "Microsoft-AzureMfa-AuthZ", 2, True),
        ("Application", "Microsoft-AzureMFA-AuthN", 7, True),
        ("", "AuthZ", 4, True),
        ("Security", SECURITY, 6272, True),
        ("Security", SECURITY, 6280, True),
        ("Security", SECURITY.lower(), 6273, True),
        ("Security", "", 6273, True),
        ("Security", SECURITY, 6271, False),
        ("Security", SECURITY, 6281, False),
        ("Security", SECURITY, 4624, False),
        ("System", "Other", 6273, False),
        ("System", "NPS", 13, True),
        ("System", "IAS", 18, True),
        ("System", "NPS", 17, True),
        ("System", "NPS", 4400, True),
        ("System", "NPS", 4401, True),
        ("System", "NPS", 4402, True),
        ("System", "NPS", 4403, False),
        ("System", "NPS", 14, False),
        ("System", "Service Control Manager", 13, False),
        ("System", "", 13, False),
        ("System", "Schannel", 36871, True),
        ("System", "Microsoft-Windows-Schannel", 36871, True),
        ("System", "Schannel", 36870, False),
        ("System", "NPS", 36871, False),
        ("Application", "Application Error", 1000, False),
        ("AuthZOptChX", "", 1, False),
        ("", "", 0, False),
    ],
)
def test_is_relevant(channel: str, provider: str, event_id: int, relevant: bool) -> None:
    assert is_relevant(channel, provider, event_id) is relevant


@pytest.mark.parametrize(
    ("user", "key"),
    [
        ("DOMAIN\\alice", "alice"),
        ("alice@contoso.com", "alice"),
        ("alice", "alice"),
        ("ALICE", "alice"),
        ("  'Alice@Contoso.com' ", "alice"),
        ('"CONTOSO\\Bob"', "bob"),
        ("`bob`", "bob"),
        ("CONTOSO\\alice@contoso.com", "alice"),
        ("host/pc01.contoso.com", "host/pc01.contoso.com"),
        ("John Smith", "john smith"),
        ("-", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("******@domain.com", None),
        ("<USERNAME>", None),
        ("DOMAIN\\", None),
        ("@contoso.com", None),
    ],
)
def test_user_key(user: str | None, key: str | None) -> None:
    assert user_key(user) == key


@pytest.mark.parametrize(
    ("text", "kind", "codes", "aadsts", "reason_code"),
    [
        ("ESTS_TOKEN_ERROR", FindingKind.TEXT, ("ESTS_TOKEN_ERROR",), (), None),
        ("  UserNotFound\n", FindingKind.TEXT, ("UserNotFound",), (), None),
        ("somecode", FindingKind.TEXT, ("somecode",), (), None),
        ("IP_WHITE_LIST_WARNING", FindingKind.NOTICE, ("IP_WHITE_LIST_WARNING",), (), None),
        ("ESTS_TOKEN_ERROR AADSTS7000112", FindingKind.TEXT, ("ESTS_TOKEN_ERROR",),
         ("AADSTS7000112",), None),
        ("AADSTS700027", FindingKind.TEXT, (), ("AADSTS700027",), None),
        ("21", FindingKind.NPS_DENIED, (), (), 21),
        ("0", FindingKind.NPS_GRANTED, (), (), 0),
        ("Reason Code: 48", FindingKind.NPS_DENIED, (), (), 48),
        ("Reason Code: 0", FindingKind.NPS_GRANTED, (), (), 0),
        ("the user could not sign in", FindingKind.TEXT, (), (), None),
    ],
)  # fmt: skip
def test_finding_from_text_bare_input(
    text: str, kind: str, codes: tuple[str, ...], aadsts: tuple[str, ...], reason_code: int | None
) -> None:
    finding = finding_from_text(text)
    assert (finding.kind, finding.codes, finding.aadsts, finding.reason_code) == (
        kind,
        codes,
        aadsts,
        reason_code,
    )


def test_finding_from_text_keeps_prose_as_detail() -> None:
    finding = finding_from_text("  the user could not sign in  ")
    assert finding.detail == "the user could not sign in"
    assert finding.event.message == "  the user could not sign in  "


@pytest.mark.parametrize(
    ("text", "kind", "client_ip"),
    [
        ("A RADIUS message was received from the invalid RADIUS client IP address 10.1.2.3.",
         FindingKind.SYS_UNKNOWN_CLIENT, "10.1.2.3"),
        ("An Access-Request message was received from RADIUS client 10.9.9.9 with a message"
         " authenticator attribute that isn't valid", FindingKind.SYS_AUTHENTICATOR, "10.9.9.9"),
        ("There is no domain controller available for domain K12.TX.US.",
         FindingKind.SYS_DOMAIN_CONTROLLER, None),
        ("A fatal error occurred while creating a TLS client credential. The internal error state"
         " is 10013.", FindingKind.SYS_TLS, None),
        ("Network Policy Server discarded the request for a user.", FindingKind.NPS_DISCARDED,
         None),
        ("Network Policy Server granted access to a user.", FindingKind.NPS_GRANTED, None),
        ("Network Policy Server locked the user account due to repeated failed authentication"
         " attempts.", FindingKind.NPS_OTHER, None),
    ],
)  # fmt: skip
def test_finding_from_text_recognises_nps_and_system_wording(
    text: str, kind: str, client_ip: str | None
) -> None:
    finding = finding_from_text(text)
    assert (finding.kind, finding.client_ip) == (kind, client_ip)


# --------------------------------------------------------------------------------------------
# Properties and hostile input
# --------------------------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        PREFIX, "CID:", " : ", "ErrorCode::", "Msg::", "for User ", " with state ", "::",
        "Azure MFA response:", "and message:", "Trace ID:", "Correlation ID:", "AADSTS",
        "Exception in Authentication Ext", "Access Rejected for user", "Reason Code:",
        "Account Name:", "User:", "Client IP Address:", "RADIUS client ", "\n", "\t", "<>", "-",
        "32e83cbf-484d-49aa-9adb-71528f5eb94d", "Enter ERROR_CODE @ x for detailed troubleshooting"
        " steps.", "response state AccessReject", "ignoring request", "1.2.3.4", "fe80::1",
    ]
)  # fmt: skip
HOSTILE_TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=20)), max_size=30).map("".join)
SOURCES = st.sampled_from(
    [
        ("AuthZOptCh", AUTHZ, 1),
        ("AuthZAdminCh", AUTHZ, 3),
        ("Security", SECURITY, 6273),
        ("Security", SECURITY, 6272),
        ("System", "NPS", 13),
        ("System", "NPS", 4402),
        ("System", "Schannel", 36871),
        ("", "", 0),
        ("Application", "Other", 1),
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=HOSTILE_TEXT,
    source=SOURCES,
    layout=st.sampled_from(LAYOUTS),
    extra=st.lists(st.text(max_size=30), max_size=4),
)
def test_extract_never_raises(
    text: str, source: tuple[str, str, int], layout: str, extra: list[str]
) -> None:
    channel, provider, event_id = source
    event = in_layout(text, layout, channel=channel, provider=provider, event_id=event_id)
    if extra:
        event = make_event(
            channel=channel,
            provider=provider,
            event_id=event_id,
            fields={f"F{index}": value for index, value in enumerate(extra)},
            data=(text, *extra),
            message=None,
        )
    finding = extract(event)
    assert finding is None or finding.event is event
    if finding is not None:
        assert finding.cid is None or finding.cid == finding.cid.lower()
        assert finding.user_key == user_key(finding.user)


@settings(max_examples=300)
@given(text=HOSTILE_TEXT)
def test_finding_from_text_never_raises(text: str) -> None:
    finding = finding_from_text(text)
    assert finding.event.origin == "<pasted>"


WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@given(
    guid=st.uuids(),
    upper=st.booleans(),
    before=WORDS.filter(lambda text: "cid" not in text.lower()),
    after=WORDS,
)
def test_guid_in_cid_position_is_the_cid(
    guid: uuid.UUID, upper: bool, before: str, after: str
) -> None:
    value = str(guid).upper() if upper else str(guid)
    text = f"{PREFIX} {before} CID: {value} : {after}"
    assert must_extract(make_event(message=text)).cid == str(guid)


CODE = st.one_of(
    st.from_regex(r"[A-Z][A-Z0-9]{0,8}(_[A-Z0-9]{1,8}){1,4}", fullmatch=True),
    st.from_regex(r"[A-Z][a-z0-9]{1,8}([A-Z][a-z0-9]{0,8}){1,4}", fullmatch=True),
).filter(lambda code: code.lower() not in {"cid", "msg", "errorcode"})


@given(code=CODE, before=WORDS, after=WORDS)
def test_code_in_errorcode_position_is_in_codes(code: str, before: str, after: str) -> None:
    text = f"{PREFIX} {before} ErrorCode:: {code} Msg:: {after}"
    assert code in must_extract(make_event(message=text)).codes


@given(user=WORDS)
def test_user_key_is_normalised(user: str) -> None:
    key = user_key(user)
    assert key is None or (key == key.lower() and "\\" not in key and key == key.strip())


MEGABYTE = 1_000_000
HOSTILE_UNITS = [
    "for User ",
    "A_",
    "ErrorCode:: CID :",
    "CID: ",
    " ",
    "Enter ERROR_CODE @ ",
    "1.2.3.",
    "Account Name: ",
    "::",
    "x" * 3000 + " ",
]


@pytest.mark.parametrize("unit", HOSTILE_UNITS, ids=lambda unit: repr(unit[:20]))
def test_one_megabyte_message_is_fast(unit: str) -> None:
    body = unit * (MEGABYTE // len(unit))
    events = [
        make_event(message=PREFIX + body),
        security_event(message=body),
        system_event(13, message=body),
    ]
    for event in events:
        started = time.perf_counter()
        extract(event)
        assert time.perf_counter() - started < 3.0
    started = time.perf_counter()
    finding_from_text(body)
    assert time.perf_counter() - started < 3.0


def test_nps_alias_is_the_name_as_sent() -> None:
    fields = dict(
        FIELDS_6273,
        SubjectUserName="Alice.Smith@contoso.com",
        SubjectDomainName="CONTOSO",
        FullyQualifiedSubjectUserName="CONTOSO\\asmith",
    )
    finding = must_extract(security_event(fields=fields))
    assert (finding.user, finding.user_key) == ("CONTOSO\\asmith", "asmith")
    assert finding.user_aliases == ("alice.smith",)
    assert finding.identity_keys == ("asmith", "alice.smith")


def test_nps_alias_not_repeated_when_equal() -> None:
    assert must_extract(security_event(fields=FIELDS_6273)).user_aliases == ()
