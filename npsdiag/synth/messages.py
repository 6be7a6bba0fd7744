"""Message texts of the NPS extension, NPS and Schannel, in the shapes the products log them.

Every function returns one event's text. Product strings are reproduced as logged,
typos included ("intialized", "retreiving", "atleast", "Neither ... not"), because the
diagnosis matches them verbatim. Each builder names where its shape comes from; a
builder whose shape is not backed by a published sample says so with ``(inferred)``.

References:
    - /work/shared/reference/nps-extension-facts.md, sections 2 (extension texts),
      3.1-3.3 (Security 6272/6273/6274 templates and reason codes) and 3.4 (System).
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension-errors
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

__all__ = [
    "AADSTS_CODES",
    "ACCESS_REJECT_MESSAGES",
    "ALTERNATE_LOGIN_ID_MESSAGES",
    "FWLINK_TAIL",
    "PREFIX",
    "REASON_TEXTS",
    "access_accepted",
    "access_rejected",
    "alternate_login_id_error",
    "challenge_requested",
    "ests_token_error",
    "exception",
    "http_connect_error",
    "https_communication_error",
    "ignoring_request",
    "ip_whitelist_not_initialised",
    "ip_whitelist_warning",
    "nas_attributes_missing",
    "reason_text",
    "render_security_message",
    "request_missing_code",
    "schannel_36871",
    "system_message",
]

#: Every extension message starts with this prefix (facts §2).
PREFIX = "NPS Extension for Azure MFA:"

#: The closing sentence of the extension's exception texts (facts §2.3).
FWLINK_TAIL = (
    "Enter ERROR_CODE @ https://go.microsoft.com/fwlink/?linkid=846827 "
    "for detailed troubleshooting steps."
)

# Line breaks inside multi-line product texts. The token service's error descriptions
# (Trace ID / Correlation ID / Timestamp) and the "ignoring request" notice span lines;
# Windows components write CRLF.
_CRLF = "\r\n"


def _cid_part(cid: uuid.UUID | None) -> str:
    # ``CID: <>`` is how a published REQUEST_MISSING_CODE sample shows a hidden CID
    # (facts §2.3); tests of the extractor need that form too.
    return "CID: <>" if cid is None else f"CID: {cid}"


# --------------------------------------------------------------------------- AuthZOptCh


def challenge_requested(user: str, cid: uuid.UUID, state: uuid.UUID) -> str:
    """AuthZOptCh event 1: the extension asks the RADIUS client for a one-time code.

    Shape: Microsoft Q&A 2074636 (facts §2.1).
    """
    return (
        f"{PREFIX} CID: {cid} : Challenge requested in Authentication Ext for User {user} "
        f"with state {state}"
    )


#: Response code -> message text used after ``and message:`` in Access Rejected events.
#: UserNotFound carries the service's Graph text seen in the wild (facts §2.2); the other
#: texts are the wording of Microsoft's error table (facts §2.6) because no in-the-wild
#: sample of them was published (inferred: real events may carry a longer service text).
ACCESS_REJECT_MESSAGES: Mapping[str, str] = {
    "UserNotFound": (
        "MSODS Graph call returned user not found error. GraphError,"
        "SAS.Shared.GraphProvider.Exceptions.GraphUserNotFoundException: "
        "[Code:Request_ResourceNotFound] [Message:Resource '{upn}' does not exist or one of "
        "its queried reference-property objects are not present.]"
    ),
    "BecAccessDenied": (
        "MSODS Bec call returned access denied, probably the username is not defined in the tenant"
    ),
    "NoDefaultAuthenticationMethodIsConfigured": (
        "No default authentication method was configured for the user"
    ),
    "ProofDataNotFound": "Proof data was not configured for the specified authentication method.",
    "AuthenticationMethodNotConfigured": (
        "The specified authentication method was not configured for the user"
    ),
    "OathCodeIncorrect": "Wrong code entered\\OATH Code Incorrect",
    "SMSAuthFailedWrongCodeEntered": "Wrong code entered/Text Message OTP Incorrect",
    "InvalidSession": "The specified session is invalid or may have expired",
}


def access_rejected(user: str, cid: uuid.UUID, response: str, *, upn: str) -> str:
    """AuthZOptCh event 1: the MFA service refused the second factor.

    Shape: martin.rublik.eu (facts §2.2). ``upn`` fills the Graph text of UserNotFound,
    which names the cloud identity the extension looked up.
    """
    message = ACCESS_REJECT_MESSAGES[response].format(upn=upn)
    return (
        f"{PREFIX} CID: {cid} : Access Rejected for user {user} with Azure MFA response: "
        f"{response} and message: {message}"
    )


def access_accepted(user: str, cid: uuid.UUID) -> str:
    """AuthZOptCh event 1: the second factor succeeded.

    (inferred) No verbatim "Access Accepted" line was published; the shape mirrors Access
    Rejected, as a SIEM parser that handles both outcomes implies (facts §2.2).
    """
    return (
        f"{PREFIX} CID: {cid} : Access Accepted for user {user} with Azure MFA response: "
        "Success and message: Success"
    )


def ignoring_request(user: str, state: str) -> str:
    """Notice logged when NPS hands the extension a request it will not process.

    ``state`` is ``AccessReject`` (primary authentication failed) or ``AccessChallenge``
    (an EAP round trip is still in progress). Shape: [ERRORS-DOC] and azure-docs#111710
    (facts §2.5), including the prefix on its own line.
    """
    return (
        f"{PREFIX} {_CRLF}NPS Extension for Azure MFA only performs Secondary Auth for Radius "
        f"requests in AccessAccept State. Request received for User {user} with response state "
        f"{state}, ignoring request."
    )


def ip_whitelist_not_initialised() -> str:
    """AuthZ event 2 at service start when IP_WHITELIST does not exist (azure-docs#57289)."""
    return (
        f"{PREFIX} IP Whitelist not intialized::  ErrorCode:: REGISTRY_CONFIG_ERROR Msg:: "
        "Neither registry entry not default value found for key: IP_WHITELIST"
    )


def nas_attributes_missing() -> str:
    """AuthZ event 4 when a request carries neither NAS-Identifier nor NAS-IP-Address."""
    return (
        f"{PREFIX} Radius request is missing NAS Identifier and Nas IpAddress attribute."
        "Populating atleast one of these fields is recommended.This is not an error."
    )


def ip_whitelist_warning() -> str:
    """AuthZ event 4 when IP_WHITELIST is set but the request has no NAS-IP-Address.

    In-the-wild wording from opnsense/core#6112 (the documentation words it slightly
    differently).
    """
    return (
        f"{PREFIX} IP_WHITE_LIST_WARNING::IP Whitelist is being ignored as source IP is missing "
        "in RADIUS request in NasIpAddress attribute."
    )


# ------------------------------------------------------------------------- AuthZAdminCh


def exception(user: str, cid: uuid.UUID | None, code: str, message: str) -> str:
    """AuthZAdminCh event 3 (Critical): ``Exception in Authentication Ext`` with one CID.

    Shape: Fortinet forum REQUEST_MISSING_CODE sample and Q&A 2108544 (facts §2.3).
    ``cid=None`` renders the obfuscated ``CID: <>`` form.
    """
    return (
        f"{PREFIX} {_cid_part(cid)} :Exception in Authentication Ext for User {user} :: "
        f"ErrorCode:: {code} Msg:: {message} {FWLINK_TAIL}"
    )


def request_missing_code(user: str, cid: uuid.UUID | None) -> str:
    """REQUEST_MISSING_CODE: the second request of a challenge carried no code."""
    return exception(user, cid, "REQUEST_MISSING_CODE", "Request is missing OTP")


#: Message variants of ALTERNATE_LOGIN_ID_ERROR (Microsoft's error table, facts §2.6).
ALTERNATE_LOGIN_ID_MESSAGES: Mapping[str, str] = {
    "sid_lookup": "Error: userObjectSid lookup failed",
    "lookup": "Error: Alternate LoginId lookup failed",
    "empty": "Error: Alternate LoginId value is empty",
}


def alternate_login_id_error(user: str, cid: uuid.UUID, variant: str) -> str:
    """ALTERNATE_LOGIN_ID_ERROR with one of the documented messages (shape inferred)."""
    return exception(user, cid, "ALTERNATE_LOGIN_ID_ERROR", ALTERNATE_LOGIN_ID_MESSAGES[variant])


def https_communication_error(user: str, cid: uuid.UUID, url: str) -> str:
    """HTTPS_COMMUNICATION_ERROR.

    (inferred) No in-the-wild text of this code was published; the ``Msg::`` part is the
    generator's own wording naming the service URL built from the registry.
    """
    return exception(
        user, cid, "HTTPS_COMMUNICATION_ERROR", f"Failed to receive a response from {url}"
    )


def http_connect_error(user: str, cid: uuid.UUID, url: str) -> str:
    """HTTP_CONNECT_ERROR.

    (inferred) As for HTTPS_COMMUNICATION_ERROR, the ``Msg::`` part is the generator's
    own wording.
    """
    return exception(user, cid, "HTTP_CONNECT_ERROR", f"Failed to connect to {url}")


#: AADSTS codes the generator can put inside ESTS_TOKEN_ERROR, with the token service's
#: text. 7000112 and 700023 are quoted from azure-docs#40977 and a virtual-dba.com post,
#: 700027 from Q&A 2108544, 90038 from a government-cloud write-up that ends at the cloud
#: name (the final full stop is inferred). ``{client_id}``, ``{tenant}`` and ``{thumbprint}``
#: are filled in.
AADSTS_CODES: Mapping[int, str] = {
    7000112: "Application '{client_id}'(Azure Multi-Factor Auth Client) is disabled.",
    700023: (
        "Client assertion audience claim does not match Realm issuer. Review the documentation "
        "at https://docs.microsoft.com/azure/active-directory/develop/"
        "active-directory-certificate-credentials ."
    ),
    700027: (
        "The certificate with identifier used to sign the client assertion is not registered on "
        "application. [Reason - The key was not found., Thumbprint of key used by client: "
        "'{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph "
        "to see configured keys for app Id '{client_id}'. Review the documentation at "
        "https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding "
        "service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?"
        "view=graph-rest-1.0&tabs=http to build a query request URL, such as "
        "'https://graph.microsoft.com/beta/applications/{client_id}']. Alternatively, SNI may be "
        "configured on the app. Please ensure that client assertion is being sent with the x5c "
        "claim in the JWT header using MSAL's WithSendX5C() method so that Azure Active "
        "Directory can validate the certificate being used."
    ),
    90038: (
        "Tenant '{tenant}' request is being redirected to the National Cloud 'MicrosoftOnline.COM'."
    ),
}

# The ADAL-era texts carry a negative "request handle"; these two values are the ones
# seen with 7000112 and 700023 (facts §2.3).
_REQUEST_HANDLES: Mapping[int, int] = {7000112: -895352831, 700023: -895352823}

# The MSAL-era text ends its reason with this code (Q&A 2108544).
_MSAL_CODE = 3399614473


def ests_token_error(
    user: str,
    cid: uuid.UUID,
    *,
    aadsts: int,
    wording: str,
    trace_id: uuid.UUID,
    correlation_id: uuid.UUID,
    timestamp: datetime,
    client_id: str,
    tenant: str,
    thumbprint: str,
    double_space: bool = False,
) -> str:
    """ESTS_TOKEN_ERROR in the ADAL-era (``wording="adal"``) or MSAL-era (``"msal"``) form.

    The ADAL-era text names the CID twice, spans several lines (Trace ID, Correlation ID,
    Timestamp) and repeats the closing sentence (azure-docs#40977). The MSAL-era text
    keeps everything on one line inside ``[Reason:...][Code:n]`` (Q&A 2108544).
    ``double_space`` reproduces the two spaces after the prefix seen in one ADAL sample.

    Raises:
        KeyError: ``aadsts`` is not in :data:`AADSTS_CODES`.
        ValueError: ``wording`` is neither ``adal`` nor ``msal``.
    """
    detail = AADSTS_CODES[aadsts].format(client_id=client_id, tenant=tenant, thumbprint=thumbprint)
    stamp = timestamp.strftime("%Y-%m-%d %H:%M:%S") + "Z"
    gap = "  " if double_space else " "
    if wording == "adal":
        handle = _REQUEST_HANDLES.get(aadsts, -895352831)
        return (
            f"{PREFIX}{gap}CID: {cid} :Exception in Authentication Ext for User {user} :: "
            f"ErrorCode:: CID :{cid} ESTS_TOKEN_ERROR Msg:: Verify the client certificate is "
            "properly enrolled in Azure against your tenant and the server can access URL in "
            "Registry STS_URL. Error authenticating to eSTS: ErrorCode:: ESTS_TOKEN_ERROR Msg:: "
            f"Error in retreiving token details from request handle: {handle} AADSTS{aadsts}: "
            f"{detail}{_CRLF}Trace ID: {trace_id}{_CRLF}Correlation ID: {correlation_id}{_CRLF}"
            f"Timestamp: {stamp} {FWLINK_TAIL} {FWLINK_TAIL}"
        )
    if wording == "msal":
        return (
            f"{PREFIX}{gap}CID: {cid} :Exception in Authentication Ext for User {user} :: "
            "ErrorCode:: ESTS_TOKEN_ERROR Msg:: Unable to get Azure AD access token. "
            f"[Reason:AADSTS{aadsts}: {detail} Trace ID: {trace_id} Correlation ID: "
            f"{correlation_id} Timestamp: {stamp}][Code:{_MSAL_CODE}] {FWLINK_TAIL}"
        )
    raise ValueError(f"unknown ESTS_TOKEN_ERROR wording {wording!r}")


# ------------------------------------------------------------------------------ System


def system_message(provider: str, event_id: int, data: Sequence[str]) -> str:
    """Rendered text of the System events the generator writes (for docs and tests).

    Shapes: NPS 13/18/4400-4402 from [NPS-TS], azure-docs#47176 and #57289 (facts §3.4);
    Schannel 36871 from :func:`schannel_36871`.

    Raises:
        KeyError: the event is not one the generator writes.
    """
    if provider == "Schannel":
        return schannel_36871(data[0], data[1])
    texts = {
        13: "A RADIUS message was received from the invalid RADIUS client IP address {0}.",
        18: (
            "An Access-Request message was received from RADIUS client {0} with a "
            "Message-Authenticator attribute that is not valid."
        ),
        4400: "A LDAP connection with domain controller {0} for domain {1} is established.",
        4401: "Domain controller {0} for domain {1} is not responsive. NPS switches to other DCs.",
        4402: "There is no domain controller available for domain {0}.",
    }
    return texts[event_id].format(*data)


def schannel_36871(kind: str, error_state: str) -> str:
    """Schannel 36871 text (inferred from common public reports; not in the facts file)."""
    return (
        f"A fatal error occurred while creating a TLS {kind} credential. "
        f"The internal error state is {error_state}."
    )


# ---------------------------------------------------------------------------- Security

#: NPS reason code -> the text NPS puts in the ``Reason`` field. 7 and 21 are texts seen in
#: real events (facts §3.2/§3.3); 9 follows 21's "NPS extension" wording by analogy
#: (inferred). The others are Microsoft's reason-code table wording, cut after the first
#: sentence where the table goes on with remediation; real events may word them differently,
#: which is why the diagnosis matches the numeric code.
REASON_TEXTS: Mapping[int, str] = {
    0: (
        "The connection request was successfully authenticated and authorized by Network "
        "Policy Server."
    ),
    1: "The connection request failed due to a Network Policy Server error.",
    3: (
        "The Remote Authentication Dial-In User Service (RADIUS) Access-Request message that "
        "NPS received from the network access server was malformed."
    ),
    7: "The specified domain does not exist.",
    8: (
        "The user account that is specified in the User-Name attribute of the RADIUS message "
        "does not exist."
    ),
    9: (
        "An NPS extension dynamic link library (DLL) that is installed on the NPS server "
        "discarded the connection request."
    ),
    16: (
        "Authentication failed due to a user credentials mismatch. Either the user name "
        "provided does not match an existing user account or the password was incorrect."
    ),
    21: (
        "An NPS extension dynamic link library (DLL) that is installed on the NPS server "
        "rejected the connection request."
    ),
    22: (
        "Network Policy Server was unable to negotiate the use of an Extensible Authentication "
        "Protocol (EAP) type with the client computer."
    ),
    33: "The user that is attempting to connect to the network must change their password.",
    34: "The user account that is specified in the RADIUS Access-Request message is disabled.",
    35: "The user account that is specified in the RADIUS Access-Request message is expired.",
    36: (
        "The user's authentication attempts have exceeded the maximum allowed number of failed "
        "attempts specified by the Account lockout threshold setting in Account Lockout Policy "
        "in Group Policy."
    ),
    48: (
        "The connection request did not match a configured network policy, so the connection "
        "request was denied by Network Policy Server."
    ),
    49: (
        "The connection request did not match a configured connection request policy, so the "
        "connection request was denied by Network Policy Server."
    ),
    65: (
        "The Network Access Permission setting in the dial-in properties of the user account is "
        "set to Deny access to the user."
    ),
    66: (
        "Authentication failed. Either the client computer attempted to use an authentication "
        "method that is not enabled on the matching network policy or the client computer "
        "attempted to authenticate as Guest, but guest authentication is not enabled."
    ),
}


def reason_text(code: int) -> str:
    """The ``Reason`` text for an NPS reason code.

    Raises:
        KeyError: the code is not one the generator writes.
    """
    return REASON_TEXTS[code]


# Labels and tab runs of the rendered Security messages: the 2008 templates of 6272/6274
# (facts §3.1) with the newer labels of the real 6273 of facts §3.2 ("Connection Request
# Policy Name", "Logging Results").
_USER_BLOCK = (
    ("User:", None),
    ("\tSecurity ID:\t\t\t", "SubjectUserSid"),
    ("\tAccount Name:\t\t\t", "SubjectUserName"),
    ("\tAccount Domain:\t\t\t", "SubjectDomainName"),
    ("\tFully Qualified Account Name:\t", "FullyQualifiedSubjectUserName"),
    ("", None),
    ("Client Machine:", None),
    ("\tSecurity ID:\t\t\t", "SubjectMachineSID"),
    ("\tAccount Name:\t\t\t", "SubjectMachineName"),
    ("\tFully Qualified Account Name:\t", "FullyQualifiedSubjectMachineName"),
    ("\tOS-Version:\t\t\t", "MachineInventory"),
    ("\tCalled Station Identifier:\t\t", "CalledStationID"),
    ("\tCalling Station Identifier:\t\t", "CallingStationID"),
    ("", None),
    ("NAS:", None),
    ("\tNAS IPv4 Address:\t\t", "NASIPv4Address"),
    ("\tNAS IPv6 Address:\t\t", "NASIPv6Address"),
    ("\tNAS Identifier:\t\t\t", "NASIdentifier"),
    ("\tNAS Port-Type:\t\t\t", "NASPortType"),
    ("\tNAS Port:\t\t\t", "NASPort"),
    ("", None),
    ("RADIUS Client:", None),
    ("\tClient Friendly Name:\t\t", "ClientName"),
    ("\tClient IP Address:\t\t\t", "ClientIPAddress"),
    ("", None),
    ("Authentication Details:", None),
    ("\tConnection Request Policy Name:\t", "ProxyPolicyName"),
    ("\tNetwork Policy Name:\t\t", "NetworkPolicyName"),
    ("\tAuthentication Provider:\t\t", "AuthenticationProvider"),
    ("\tAuthentication Server:\t\t", "AuthenticationServer"),
    ("\tAuthentication Type:\t\t", "AuthenticationType"),
    ("\tEAP Type:\t\t\t", "EAPType"),
    ("\tAccount Session Identifier:\t\t", "AccountSessionIdentifier"),
    ("\tLogging Results:\t\t\t", "LoggingResult"),
)

_HEADLINES: Mapping[int, str] = {
    6272: "Network Policy Server granted access to a user.",
    6273: "Network Policy Server denied access to a user.",
    6274: "Network Policy Server discarded the request for a user.",
}


def render_security_message(event_id: int, fields: Mapping[str, str]) -> list[str]:
    """Render a 6272/6273/6274 event the way Windows formats its message, one line per item.

    Args:
        event_id: 6272, 6273 or 6274.
        fields: the event's named EventData values as strings.

    Returns:
        The message lines (tabs kept, no line terminators).

    Raises:
        KeyError: unknown event id or a missing field.
    """
    lines = [_HEADLINES[event_id], ""]
    if event_id != 6272:
        lines += ["Contact the Network Policy Server administrator for more information.", ""]
    lines += [label if name is None else label + fields[name] for label, name in _USER_BLOCK]
    if event_id == 6272:
        lines += [
            "",
            "Quarantine Information:",
            "\tResult:\t\t\t\t" + fields["QuarantineState"],
            "\tSession Identifier:\t\t\t" + fields["QuarantineSessionIdentifier"],
        ]
    else:
        lines += [
            "\tReason Code:\t\t\t" + fields["ReasonCode"],
            "\tReason:\t\t\t\t" + fields["Reason"],
        ]
    return lines
