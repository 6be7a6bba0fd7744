"""A fixed Analysis for the report tests, and the deliberate golden-file regeneration.

The analysis describes one morning on one NPS server: a server-wide token problem that
hits seven users, one user missing from Entra ID, one unanswered challenge (during which
NPS discarded a resent request, 6274), a wrong password (the extension ignores the
AccessReject, NPS denies with reason 16), two accepted sign-ins, one unknown code, two
benign notices and six inputs in every read state. One person appears under two name
forms: ``CONTOSO\\carol`` in the token error and ``carol@contoso.com`` in the wrong
password; their findings share the identity key ``carol``, so the per-user view shows
one user. Alice fails, then signs in once the morning is over (6272).

Message texts of the extension are the product's own strings (typos included); the
CLIENT_CERT_IDENTIFIER text is made up, because no verbatim sample is known. Identity
keys are normalised as the extractor does it (lower case, no domain, no ``@suffix``).

Regenerate the golden files on purpose, never inside a normal test run::

    python -m tests.report_fixtures --regen
    # or: NPSDIAG_REGEN_GOLDEN=1 python -m pytest tests/test_reports.py
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from npsdiag.coverage import compute_coverage
from npsdiag.model import (
    Analysis,
    Diagnosis,
    Event,
    Finding,
    FindingKind,
    Incident,
    Problem,
    SourceKind,
    SourceStats,
)
from npsdiag.report import REPORTS, Guidance, ReportOptions, write_report

GOLDEN_DIR = Path(__file__).parent / "golden"
REGEN_VARIABLE = "NPSDIAG_REGEN_GOLDEN"

AUTHZ = "Microsoft-AzureMfa-AuthZ"
SECURITY = "Microsoft-Windows-Security-Auditing"
COMPUTER = "NPS01.contoso.local"
BASE = datetime(2026, 1, 14, 9, 0, 0, tzinfo=timezone.utc)

ADMIN_LOG = r"C:\export\AuthZAdminCh.evtx"
BUNDLE = r"C:\export\nps01-bundle.zip"
OPTIONAL_LOG = BUNDLE + "!NPS/AuthZOptCh.evtx"
SECURITY_LOG = BUNDLE + "!NPS/Security.evtx"

ESTS_ENTRY = "ext.ests-token-error.certificate"
NOT_FOUND_ENTRY = "ext.response.user-not-found"
NO_ANSWER_ENTRY = "ext.challenge.no-answer"
WRONG_PASSWORD_ENTRY = "nps.reason-16"
WHITELIST_ENTRY = "ext.notice.ip-whitelist-missing"
NAS_ENTRY = "ext.notice.nas-attributes-missing"

ESTS_USERS = (
    "alice@contoso.com",
    "bob@contoso.com",
    r"CONTOSO\carol",
    "dave@contoso.com",
    "erin@contoso.com",
    "frank@contoso.com",
    "grace@contoso.com",
)


def golden_path(name: str) -> Path:
    """The golden file of report format ``name``."""
    return GOLDEN_DIR / f"report{REPORTS[name].suffix}"


def _at(minutes: float) -> datetime:
    return BASE + timedelta(minutes=minutes)


def _key(user: str) -> str:
    """The identity key of ``user``: what ``CONTOSO\\carol`` and ``carol@contoso.com`` share."""
    return user.rpartition("\\")[2].partition("@")[0].lower()


def _event(
    minutes: float,
    event_id: int,
    message: str | None,
    origin: str,
    *,
    channel: str = "AuthZAdminCh",
    provider: str = AUTHZ,
    level: int | None = 1,
    record_id: int | None = None,
    fields: Mapping[str, str] | None = None,
    data: Sequence[str] = (),
    keywords: str | None = None,
) -> Event:
    return Event(
        time=_at(minutes),
        channel=channel,
        provider=provider,
        event_id=event_id,
        level=level,
        computer=COMPUTER,
        record_id=record_id,
        fields=dict(fields or {}),
        data=tuple(data),
        message=message,
        origin=origin,
        keywords=keywords,
    )


def _ests_message(cid: str, user: str, minutes: float) -> str:
    when = _at(minutes).strftime("%Y-%m-%d %H:%M:%SZ")
    return (
        f"NPS Extension for Azure MFA: CID: {cid} :Exception in Authentication Ext for User "
        f"{user} :: ErrorCode:: CID :{cid} ESTS_TOKEN_ERROR Msg:: Verify the client certificate is "
        "properly enrolled in Azure against your tenant and the server can access URL in Registry "
        "STS_URL. Error authenticating to eSTS: ErrorCode:: ESTS_TOKEN_ERROR Msg:: Error in "
        "retreiving token details from request handle: -895352823 AADSTS700027: Client assertion "
        "contains an invalid signature. [Reason - The key was not found.]\n"
        "Trace ID: 5e4c2a9b-1f0d-4a57-9b1e-2d1c0f8e7a61\n"
        "Correlation ID: 0b6f4a8e-3c2d-4e1f-8a9b-7c6d5e4f3a21\n"
        f"Timestamp: {when} Enter ERROR_CODE @ https://go.microsoft.com/fwlink/?linkid=846827 "
        "for detailed troubleshooting steps."
    )


def _security(
    minutes: float,
    event_id: int,
    user: str,
    reason_code: int | None = None,
    reason: str | None = None,
    *,
    resolved: str | None = None,
) -> Event:
    """A Security 6272/6273/6274 for ``user`` (as sent; ``resolved`` is NPS's DOMAIN\\sam)."""
    fields = {
        "SubjectUserName": user,
        "FullyQualifiedSubjectUserName": resolved or "-",
        "CallingStationID": "203.0.113.50",
        "NASIPv4Address": "10.0.0.20",
        "ClientName": "vpn-gw-01",
        "ClientIPAddress": "10.0.0.20",
        "NetworkPolicyName": "VPN users",
        "AuthenticationProvider": "Windows",
    }
    if reason_code is not None:
        fields["ReasonCode"] = str(reason_code)
        fields["Reason"] = reason or ""
    return _event(
        minutes,
        event_id,
        None,
        SECURITY_LOG,
        channel="Security",
        provider=SECURITY,
        level=0,
        record_id=88000 + int(minutes * 10),
        keywords="0x8020000000000000" if event_id == 6272 else "0x8010000000000000",
        fields=fields,
    )


def _security_denied(minutes: float, user: str, reason_code: int, reason: str) -> Event:
    return _security(minutes, 6273, user, reason_code, reason)


def _nps_finding(event: Event, kind: str, user: str, reason_code: int | None) -> Finding:
    resolved = event.fields.get("FullyQualifiedSubjectUserName", "-")
    aliases = (_key(resolved),) if resolved != "-" and _key(resolved) != _key(user) else ()
    return Finding(
        event=event,
        kind=kind,
        user=user,
        user_key=_key(user),
        reason_code=reason_code,
        client_ip="10.0.0.20",
        client_name="vpn-gw-01",
        nas_ip="10.0.0.20",
        user_aliases=aliases,
    )


def _incidents() -> tuple[list[Incident], list[Problem]]:
    ests = Diagnosis(
        entry_id=ESTS_ENTRY,
        title="The extension cannot get a token from Entra ID (client certificate)",
        category="configuration",
        severity="critical",
        confidence="high",
        because="ESTS_TOKEN_ERROR with AADSTS700027: the certificate the extension signs with "
        "is not registered for the tenant.",
    )
    incidents: list[Incident] = []
    for index, user in enumerate(ESTS_USERS):
        minutes = 2 + index * 7.5
        cid = f"6da75e38-6bbf-4616-84df-fa65b4c790{index:02d}"
        findings = [
            Finding(
                event=_event(
                    minutes,
                    3,
                    _ests_message(cid, user, minutes),
                    ADMIN_LOG,
                    record_id=1200 + index,
                ),
                kind=FindingKind.EXCEPTION,
                codes=("ESTS_TOKEN_ERROR",),
                cid=cid,
                user=user,
                user_key=_key(user),
                aadsts=("AADSTS700027",),
                trace_id="5e4c2a9b-1f0d-4a57-9b1e-2d1c0f8e7a61",
                correlation_id="0b6f4a8e-3c2d-4e1f-8a9b-7c6d5e4f3a21",
            )
        ]
        if index == 0:
            findings.append(
                Finding(
                    event=_security_denied(
                        minutes + 0.01,
                        user,
                        21,
                        "An NPS extension dynamic "
                        "link library (DLL) that is installed on the NPS "
                        "server rejected the connection request.",
                    ),
                    kind=FindingKind.NPS_DENIED,
                    user=user,
                    user_key=_key(user),
                    reason_code=21,
                    client_ip="10.0.0.20",
                    client_name="vpn-gw-01",
                    nas_ip="10.0.0.20",
                )
            )
        incidents.append(
            Incident(
                key=cid,
                user=user,
                start=_at(minutes),
                end=_at(minutes + 0.01 if index == 0 else minutes),
                outcome="error",
                findings=findings,
                diagnosis=ests,
                cid=cid,
                codes=("ESTS_TOKEN_ERROR",),
            )
        )

    not_found_cid = "430ef057-7941-44ff-a0b1-240e7d74cedc"
    not_found_message = (
        f"NPS Extension for Azure MFA: CID: {not_found_cid} : Access Rejected for user "
        "heidi@contoso.com with Azure MFA response: UserNotFound and message: MSODS Graph call "
        "returned user not found error. GraphError,SAS.Shared.GraphProvider.Exceptions."
        "GraphUserNotFoundException: [Code:Request_ResourceNotFound] [Message:Resource "
        "heidi@contoso.com' does not exist or one of its queried reference-property objects are "
        "not present.]"
    )
    incidents.append(
        Incident(
            key=not_found_cid,
            user="heidi@contoso.com",
            start=_at(20),
            end=_at(20.02),
            outcome="rejected",
            findings=[
                Finding(
                    event=_event(
                        20,
                        1,
                        not_found_message,
                        OPTIONAL_LOG,
                        channel="AuthZOptCh",
                        level=4,
                        record_id=311,
                    ),
                    kind=FindingKind.REJECTED,
                    codes=("UserNotFound",),
                    cid=not_found_cid,
                    user="heidi@contoso.com",
                    user_key="heidi",
                    detail="MSODS Graph call returned user not found error.",
                ),
                Finding(
                    event=_security_denied(
                        20.02,
                        "heidi@contoso.com",
                        21,
                        "An NPS extension "
                        "dynamic link library (DLL) that is installed on the "
                        "NPS server rejected the connection request.",
                    ),
                    kind=FindingKind.NPS_DENIED,
                    user="heidi@contoso.com",
                    user_key="heidi",
                    reason_code=21,
                    client_ip="10.0.0.20",
                    client_name="vpn-gw-01",
                    nas_ip="10.0.0.20",
                ),
            ],
            diagnosis=Diagnosis(
                entry_id=NOT_FOUND_ENTRY,
                title="User not found in Entra ID",
                category="user",
                severity="medium",
                confidence="high",
                because="Entra ID answered UserNotFound for the name NPS sent.",
            ),
            cid=not_found_cid,
            codes=("UserNotFound",),
        )
    )

    challenge_cid = "32e83cbf-484d-49aa-9adb-71528f5eb94d"
    challenge_message = (
        f"NPS Extension for Azure MFA: CID: {challenge_cid} : Challenge requested in "
        "Authentication Ext for User ivan@contoso.com with state "
        "300c9d6c-7734-4165-83d3-212e73aee286"
    )
    incidents.append(
        Incident(
            key=challenge_cid,
            user="ivan@contoso.com",
            start=_at(31),
            end=_at(31.08),
            outcome="no-answer",
            findings=[
                Finding(
                    event=_event(
                        31,
                        1,
                        challenge_message,
                        OPTIONAL_LOG,
                        channel="AuthZOptCh",
                        level=4,
                        record_id=318,
                    ),
                    kind=FindingKind.CHALLENGE,
                    cid=challenge_cid,
                    user="ivan@contoso.com",
                    user_key="ivan",
                    state="300c9d6c-7734-4165-83d3-212e73aee286",
                ),
                # The VPN server resent the request while the extension waited for Ivan;
                # NPS dropped the copy (the reason of a 6274 here is the generator's too).
                _nps_finding(
                    _security(
                        31.08,
                        6274,
                        "ivan@contoso.com",
                        9,
                        "An NPS extension dynamic link library (DLL) that is installed on the "
                        "NPS server discarded the connection request.",
                        resolved="CONTOSO\\ivan",
                    ),
                    FindingKind.NPS_DISCARDED,
                    "ivan@contoso.com",
                    9,
                ),
            ],
            diagnosis=Diagnosis(
                entry_id=NO_ANSWER_ENTRY,
                title="Challenge sent but never answered",
                category="user",
                severity="low",
                confidence="medium",
                because="The extension asked for a one-time code and no second request followed.",
            ),
            cid=challenge_cid,
        )
    )

    incidents.append(
        Incident(
            key="judy@contoso.com|2026-01-14T09:40:00Z",
            user="judy@contoso.com",
            start=_at(40),
            end=_at(40),
            outcome="accepted",
            findings=[
                Finding(
                    event=_event(
                        40,
                        6272,
                        "Network Policy Server granted access to a user.",
                        SECURITY_LOG,
                        channel="Security",
                        provider=SECURITY,
                        level=0,
                        record_id=88400,
                        keywords="0x8020000000000000",
                        fields={"SubjectUserName": "judy@contoso.com", "ClientName": "vpn-gw-01"},
                    ),
                    kind=FindingKind.NPS_GRANTED,
                    user="judy@contoso.com",
                    user_key="judy",
                    client_name="vpn-gw-01",
                )
            ],
        )
    )

    unknown_cid = "b1d2c3e4-0000-4aaa-8bbb-cccccccccccc"
    incidents.append(
        Incident(
            key=unknown_cid,
            user="kim@contoso.com",
            start=_at(52),
            end=_at(52),
            outcome="error",
            findings=[
                Finding(
                    event=_event(
                        52,
                        3,
                        f"NPS Extension for Azure MFA: CID: {unknown_cid} :Exception in "
                        "Authentication Ext for User kim@contoso.com :: ErrorCode:: "
                        "CLIENT_CERT_IDENTIFIER Msg:: (synthetic text for the report tests)",
                        ADMIN_LOG,
                        record_id=1240,
                    ),
                    kind=FindingKind.EXCEPTION,
                    codes=("CLIENT_CERT_IDENTIFIER",),
                    cid=unknown_cid,
                    user="kim@contoso.com",
                    user_key="kim",
                )
            ],
            cid=unknown_cid,
            codes=("CLIENT_CERT_IDENTIFIER",),
        )
    )

    wrong_password_key = "carol@contoso.com|2026-01-14T09:54:00Z"
    ignoring_message = (
        "NPS Extension for Azure MFA: \r\nNPS Extension for Azure MFA only performs Secondary "
        "Auth for Radius requests in AccessAccept State. Request received for User "
        "carol@contoso.com with response state AccessReject, ignoring request."
    )
    wrong_password = Diagnosis(
        entry_id=WRONG_PASSWORD_ENTRY,
        title="Wrong user name or password",
        category="user",
        severity="medium",
        confidence="high",
        because="NPS reason code 16 in the Security event.",
    )
    incidents.append(
        Incident(
            key=wrong_password_key,
            user="carol@contoso.com",
            start=_at(54),
            end=_at(54.01),
            outcome="rejected",
            findings=[
                Finding(
                    event=_event(
                        54,
                        1,
                        ignoring_message,
                        OPTIONAL_LOG,
                        channel="AuthZOptCh",
                        level=4,
                        record_id=340,
                    ),
                    kind=FindingKind.IGNORED,
                    user="carol@contoso.com",
                    user_key="carol",
                    response_state="AccessReject",
                ),
                _nps_finding(
                    _security(
                        54.01,
                        6273,
                        "carol@contoso.com",
                        16,
                        "Authentication failed due to a user credentials mismatch. Either the "
                        "user name provided does not match an existing user account or the "
                        "password was incorrect.",
                        resolved="CONTOSO\\carol",
                    ),
                    FindingKind.NPS_DENIED,
                    "carol@contoso.com",
                    16,
                ),
            ],
            diagnosis=wrong_password,
        )
    )

    incidents.append(
        Incident(
            key="alice@contoso.com|2026-01-14T09:56:00Z",
            user="alice@contoso.com",
            start=_at(56),
            end=_at(56),
            outcome="accepted",
            findings=[
                _nps_finding(
                    _security(56, 6272, "alice@contoso.com", resolved="CONTOSO\\alice"),
                    FindingKind.NPS_GRANTED,
                    "alice@contoso.com",
                    None,
                )
            ],
        )
    )

    problems = [
        Problem(
            entry_id=ESTS_ENTRY,
            title=ests.title,
            category="configuration",
            severity="critical",
            confidence="high",
            scope="server",
            users=list(ESTS_USERS),
            incident_keys=[incident.key for incident in incidents[:7]],
            start=incidents[0].start,
            end=incidents[6].end,
            because="Every user who reached the extension between 09:02 and 09:47 failed with "
            "ESTS_TOKEN_ERROR (AADSTS700027), so the fault is on the server, not with the users.",
        ),
        Problem(
            entry_id=NOT_FOUND_ENTRY,
            title="User not found in Entra ID",
            category="user",
            severity="medium",
            confidence="high",
            scope="user",
            users=["heidi@contoso.com"],
            incident_keys=[not_found_cid],
            start=_at(20),
            end=_at(20.02),
            because="Entra ID answered UserNotFound for heidi@contoso.com.",
        ),
        Problem(
            entry_id=WRONG_PASSWORD_ENTRY,
            title=wrong_password.title,
            category="user",
            severity="medium",
            confidence="high",
            scope="user",
            users=["carol@contoso.com"],
            incident_keys=[wrong_password_key],
            start=_at(54),
            end=_at(54.01),
            because="NPS denied carol@contoso.com with reason code 16 (credentials mismatch) "
            "before the extension was asked for MFA.",
        ),
        Problem(
            entry_id=NO_ANSWER_ENTRY,
            title="Challenge sent but never answered",
            category="user",
            severity="low",
            confidence="medium",
            scope="user",
            users=["ivan@contoso.com"],
            incident_keys=[challenge_cid],
            start=_at(31),
            end=_at(31.08),
            because="A challenge was sent to ivan@contoso.com and no answer came back.",
        ),
    ]
    return incidents, problems


def _notices() -> list[Incident]:
    whitelist = (
        "NPS Extension for Azure MFA: IP Whitelist not intialized::  ErrorCode:: "
        "REGISTRY_CONFIG_ERROR Msg:: Neither registry entry not default value found for key: "
        "IP_WHITELIST"
    )
    nas = (
        "NPS Extension for Azure MFA: Radius request is missing NAS Identifier and Nas IpAddress "
        "attribute.Populating atleast one of these fields is recommended.This is not an error."
    )
    return [
        Incident(
            key="notice|ip-whitelist|2026-01-14T08:59:30Z",
            user=None,
            start=_at(-0.5),
            end=_at(-0.5),
            outcome="notice",
            findings=[
                Finding(
                    event=_event(
                        -0.5,
                        2,
                        whitelist,
                        OPTIONAL_LOG,
                        channel="AuthZOptCh",
                        level=3,
                        record_id=301,
                    ),
                    kind=FindingKind.NOTICE,
                    codes=("REGISTRY_CONFIG_ERROR",),
                )
            ],
            diagnosis=Diagnosis(
                entry_id=WHITELIST_ENTRY,
                title="IP_WHITELIST registry value not set",
                category="not-an-error",
                severity="info",
                confidence="high",
                because="Logged at service start when the optional IP_WHITELIST value is absent.",
            ),
            codes=("REGISTRY_CONFIG_ERROR",),
        ),
        Incident(
            key="notice|nas-attributes|2026-01-14T09:10:00Z",
            user=None,
            start=_at(10),
            end=_at(10),
            outcome="notice",
            findings=[
                Finding(
                    event=_event(
                        10, 4, nas, OPTIONAL_LOG, channel="AuthZOptCh", level=3, record_id=305
                    ),
                    kind=FindingKind.NOTICE,
                )
            ],
            diagnosis=Diagnosis(
                entry_id=NAS_ENTRY,
                title="RADIUS client sends no NAS identifier or NAS IP",
                category="not-an-error",
                severity="info",
                confidence="high",
                because="The RADIUS request carried neither attribute; the extension says so "
                "and carries on.",
            ),
        ),
    ]


def _sources() -> list[SourceStats]:
    admin = SourceStats(
        name=ADMIN_LOG, kind=SourceKind.EVTX, size=1_052_672, records_read=412, records_relevant=8
    )
    admin.note_time(_at(-180))
    admin.note_time(_at(52))
    optional = SourceStats(
        name=OPTIONAL_LOG, kind=SourceKind.EVTX, size=69_632, records_read=57, records_relevant=4
    )
    optional.note_time(_at(-120))
    optional.note_time(_at(55))
    optional.note_error("record 41: chunk 2 checksum mismatch, record skipped")
    optional.note_error("record 42: chunk 2 checksum mismatch, record skipped")
    optional.finish()
    security = SourceStats(
        name=SECURITY_LOG,
        kind=SourceKind.EVTX,
        size=20_975_616,
        records_read=31_877,
        records_relevant=3,
    )
    security.note_time(_at(-600))
    security.note_time(_at(59))
    system = SourceStats(name=r"C:\export\System.evtx", kind=SourceKind.EVTX, size=4096)
    system.note_error("file header signature is not 'ElfFile'; not an EVTX file or truncated")
    system.finish()
    trace = SourceStats(
        name=BUNDLE + "!NPS/NPSExtension.etl",
        kind=SourceKind.TRACE,
        size=8_388_608,
        status="listed",
        messages=["ETW trace files are listed, not decoded"],
    )
    notes = SourceStats(
        name=BUNDLE + "!notes.docx",
        kind=SourceKind.UNKNOWN,
        size=18_211,
        status="skipped",
        messages=["not a recognised input"],
    )
    for source in (admin, security):
        source.finish()
    admin.channels = ["AuthZAdminCh"]
    optional.channels = ["AuthZOptCh"]
    security.channels = ["Security"]
    return [admin, optional, security, system, trace, notes]


def build_analysis() -> Analysis:
    """The fixed analysis every golden file is rendered from."""
    incidents, problems = _incidents()
    notices = _notices()
    sources = _sources()
    findings = [finding for item in (*incidents, *notices) for finding in item.findings]
    return Analysis(
        problems=problems,
        incidents=incidents,
        notices=notices,
        sources=sources,
        coverage=compute_coverage(sources, findings),
        unknown_codes=["CLIENT_CERT_IDENTIFIER"],
        version="0.1.0",
        command_line=r"npsdiag analyze C:\export --html report.html",
        servers=["NPS01.contoso.com"],
        config_findings=[
            {
                "check": "registry.ip-whitelist",
                "status": "missing",
                "detail": "IP_WHITELIST is not set; the extension logs a notice at each start.",
            }
        ],
    )


def build_options() -> ReportOptions:
    """Options for the golden files: default layout plus guidance for the four problems."""
    return ReportOptions(
        guidance={
            ESTS_ENTRY: Guidance(
                cause="Before it can ask for MFA, the extension signs in to Entra ID with a "
                "client certificate. Entra ID refused that certificate, so every MFA request "
                "on this server fails until the certificate is fixed.",
                steps=(
                    "Run the extension's configuration script again on this server so that a "
                    "fresh certificate is created and registered for the tenant.",
                    "Check that the certificate in the computer store matches the one "
                    "registered for the tenant (thumbprint and validity dates).",
                    "Restart the NPS service and retry one sign-in.",
                ),
                kinds=("fix", "check", "fix"),
                collect=(
                    "The AuthZAdminCh log after one failed sign-in.",
                    "The certificate list of the local computer store.",
                ),
                references=(
                    "https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension-errors",
                ),
            ),
            NOT_FOUND_ENTRY: Guidance(
                steps=(
                    "Check that the account exists in Entra ID and is synchronised.",
                    "Compare the name NPS sent with the user principal name in Entra ID.",
                ),
                kinds=("check", "check"),
                references=(
                    "https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension-errors",
                ),
            ),
            WRONG_PASSWORD_ENTRY: Guidance(
                cause="The directory refused the password (or found no account for the name "
                "as typed), so NPS denied the request before MFA was attempted.",
                steps=(
                    "Have the user type the password again and check the account for lockout.",
                    "Remove passwords saved on the user's devices if the failures repeat.",
                ),
                # The fix comes second: reports lead with it all the same.
                kinds=("check", "fix"),
            ),
            NO_ANSWER_ENTRY: Guidance(
                steps=("Ask the user whether a prompt or code arrived, and when.",),
                kinds=("check",),
            ),
        }
    )


#: The terminal report as a person sees it: at 80 and 120 columns, without and with colour.
TERMINAL_SCREENS = ((80, False), (80, True), (120, False), (120, True))


def terminal_golden_path(width: int, color: bool) -> Path:
    """The golden file of the terminal report at ``width`` columns (``.ansi`` in colour)."""
    return GOLDEN_DIR / f"terminal-{width}.{'ansi' if color else 'txt'}"


def terminal_options(width: int, color: bool) -> ReportOptions:
    """:func:`build_options` laid out for one screen."""
    return replace(build_options(), width=width, color=color)


def regenerate() -> list[Path]:
    """Rewrite every golden file from the fixture; returns the paths written."""
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    analysis = build_analysis()
    options = build_options()
    written = [write_report(name, analysis, golden_path(name), options) for name in REPORTS]
    for width, color in TERMINAL_SCREENS:
        path = terminal_golden_path(width, color)
        written.append(write_report("terminal", analysis, path, terminal_options(width, color)))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.report_fixtures --regen`` rewrites the golden files."""
    parser = argparse.ArgumentParser(prog="python -m tests.report_fixtures")
    parser.add_argument("--regen", action="store_true", help="rewrite tests/golden/report.*")
    arguments = parser.parse_args(argv)
    if not arguments.regen:
        parser.print_help()
        return 2
    for path in regenerate():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
