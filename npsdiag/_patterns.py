"""Compiled patterns and constant sets used by :mod:`npsdiag.extract`.

Event text is untrusted and may be huge, so every pattern here is written to stay linear in the
length of its input: each one starts at a literal anchor (a keyword, or a character class guarded
by a look-behind so only the first character of a run can start a match), and every quantifier
that can run over attacker-controlled text is bounded (``{0,N}``). A hostile 1 MB message therefore
costs a few passes over the text, never a square of it.

The literal texts matched here (typos included, e.g. "intialized") are the product's own strings as
quoted in the project's reference notes; see docs/extraction.md for the shapes and their sources.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# --------------------------------------------------------------------------------------------
# Source classification (used by is_relevant; sets only, no regex)
# --------------------------------------------------------------------------------------------

#: Extension channels as ``wevtutil epl`` names them. Tree-style names such as
#: ``Microsoft-AzureMfa-AuthZ/AuthZAdminCh`` or ``AzureMfa/AuthZ/AuthZOptCh`` are reduced to their
#: last path component before the lookup.
EXTENSION_CHANNELS = frozenset({"authnoptch", "authzoptch", "authzadminch"})

#: Provider prefix of the extension (``Microsoft-AzureMfa-AuthZ``; the AuthN name is presumed).
EXTENSION_PROVIDER_PREFIX = "microsoft-azuremfa"

#: Short source names some exports show for the extension providers ("Source AuthZ").
EXTENSION_PROVIDERS_SHORT = frozenset({"authn", "authz"})

SECURITY_AUDITING_PROVIDER = "microsoft-windows-security-auditing"

#: Security log, subcategory "Network Policy Server" (6272 granted ... 6280 unlocked).
NPS_SECURITY_IDS = frozenset(range(6272, 6281))

#: System log NPS events: 13 unknown client, 17/18 Message-Authenticator, 4400-4402 domain
#: controllers. Windows Server 2008 and later log them as provider "NPS", older IAS as "IAS".
NPS_SYSTEM_PROVIDERS = frozenset({"nps", "ias"})
NPS_SYSTEM_IDS = frozenset({13, 17, 18, 4400, 4401, 4402})
NPS_UNKNOWN_CLIENT_IDS = frozenset({13})
NPS_AUTHENTICATOR_IDS = frozenset({17, 18})
NPS_DOMAIN_CONTROLLER_IDS = frozenset({4400, 4401, 4402})

#: Schannel writes ``Provider Name="Schannel"``; the manifest-style name is accepted as well.
SCHANNEL_PROVIDERS = frozenset({"schannel", "microsoft-windows-schannel"})
SCHANNEL_TLS_ID = 36871

# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------

_HEX = "[0-9A-Fa-f]"
GUID = rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
#: A GUID value, optionally in braces, that does not run on into more letters or digits.
_GUID_VALUE = rf"\{{?({GUID})\}}?(?![0-9A-Za-z-])"

# --------------------------------------------------------------------------------------------
# Extension messages
# --------------------------------------------------------------------------------------------

#: Wording only the extension uses: enough to read an event from any other source as an
#: extension message.
EXTENSION_STRONG_MARKER = re.compile(
    r"NPS\s{1,4}Extension\s{1,4}for\b"
    r"|ErrorCode\s{0,8}::"
    r"|Azure\s{1,4}MFA\s{1,4}response\s{0,8}:"
    r"|IP_WHITE_LIST_WARNING",
    re.IGNORECASE,
)

#: Looser wording, trusted only for text without a provider (pasted, or a dump that lost its
#: header), where a message may have been copied without its ``NPS Extension for ...`` prefix.
_EXTENSION_LOOSE_WORDING = (
    r"\bCID\s{0,8}:"
    r"|\bMsg\s{0,8}::"
    r"|\bChallenge\s{1,8}requested\s{1,8}in\b"
    r"|\bException\s{1,8}in\s{1,8}Auth"
    r"|\bAccess\s{1,8}(?:Accepted|Rejected)\s{1,8}for\s{1,8}user\b"
    r"|only\s{1,8}performs\s{1,8}Secondary\s{1,8}Auth"
    r"|IP\s{0,4}White\s{0,4}list\s{1,8}not\s{1,8}in[a-z]{0,4}ialized"
)
EXTENSION_MARKER = re.compile(
    EXTENSION_STRONG_MARKER.pattern + "|" + _EXTENSION_LOOSE_WORDING, re.IGNORECASE
)

#: ``CID: <guid> :`` and the old second form ``ErrorCode:: CID :<guid> CODE``. Obfuscated values
#: (``<>``, ``<guid>``, ``xxxx``) do not match, which is what makes them come out as None.
CID = re.compile(rf"\bCID\s{{0,8}}:\s{{0,8}}{_GUID_VALUE}", re.IGNORECASE)

#: ``with state <guid>`` (the RADIUS State of a challenge); not ``with response state``.
STATE = re.compile(rf"\bwith\s{{1,8}}state\s{{1,8}}{_GUID_VALUE}", re.IGNORECASE)

#: ``with response state AccessReject`` (the NPS decision the extension was handed).
RESPONSE_STATE = re.compile(r"\bresponse\s{1,8}state\s{1,8}(Access[A-Za-z]{1,32})", re.IGNORECASE)

#: Token-request failures quote Entra's trace and correlation ids; they are not the CID.
TRACE_ID = re.compile(rf"\bTrace\s{{0,4}}ID\s{{0,8}}:\s{{0,8}}{_GUID_VALUE}", re.IGNORECASE)
CORRELATION_ID = re.compile(
    rf"\bCorrelation\s{{0,4}}ID\s{{0,8}}:\s{{0,8}}{_GUID_VALUE}", re.IGNORECASE
)

#: Entra sign-in error codes such as ``AADSTS7000112``.
#: Written as "AADSTS, not preceded by a letter or digit" with the look-behind after the
#: literal (it spans the literal too), which lets the engine jump from one "AADSTS" to the
#: next instead of testing a look-behind at every character.
AADSTS = re.compile(r"AADSTS(?<![A-Za-z0-9]AADSTS)\d{1,10}(?!\d)")

_TOKEN = r"([A-Za-z][A-Za-z0-9_]{0,127})\b"

#: Code position 1: after ``ErrorCode::``, skipping the old ``CID :<guid>`` insert. The code must
#: not itself be a label (``Msg::``), hence the look-ahead for a colon.
CODE_AFTER_ERRORCODE = re.compile(
    r"ErrorCode\s{0,8}::\s{0,8}(?:CID\s{0,8}:\s{0,8}\S{0,80}?\s{1,8})?" + _TOKEN + r"(?!\s{0,8}:)",
    re.IGNORECASE,
)

#: Code position 2: after ``Azure MFA response:`` (the MFA service's answer, CamelCase).
CODE_AFTER_RESPONSE = re.compile(
    r"Azure\s{1,4}MFA\s{1,4}response\s{0,8}:\s{0,8}" + _TOKEN, re.IGNORECASE
)

#: An UPPER_SNAKE word not preceded by a letter, digit or underscore. The look-behind comes
#: after the first letter and spans it (``.`` is that letter): the same condition, but the
#: engine can skip to the next capital instead of testing a look-behind at every character.
_UPPER_SNAKE = r"([A-Z](?<![A-Za-z0-9_].)[A-Z0-9]*(?:_[A-Z0-9]+)+)"

#: Code position 3: an UPPER_SNAKE token right before ``Msg::`` (abridged texts that lost their
#: ``ErrorCode::`` label, e.g. ``ESTS_TOKEN_ERROR Msg:: Unable to get ...``).
CODE_BEFORE_MSG = re.compile(_UPPER_SNAKE + r"\s{1,8}Msg\s{0,8}::")

#: Code position 4: an UPPER_SNAKE token used as a label, ``IP_WHITE_LIST_WARNING::IP ...``.
CODE_LABEL = re.compile(_UPPER_SNAKE + r"::")

#: The four code positions, in the order above (extract tries each with its own guard).
CODE_PATTERNS = (CODE_AFTER_ERRORCODE, CODE_AFTER_RESPONSE, CODE_BEFORE_MSG, CODE_LABEL)

#: Words that sit in a code position only because a label was left empty.
NOT_CODES = frozenset({"cid", "msg", "errorcode"})

#: Where the free-text part of a message starts.
DETAIL_START = re.compile(r"Msg\s{0,8}::|\band\s{1,8}message\s{0,8}:", re.IGNORECASE)

#: The help-link sentence the extension appends (sometimes twice); noise in a detail.
BOILERPLATE = re.compile(
    r"Enter\s{1,8}ERROR_CODE\s{0,8}@\s{0,8}\S{0,2048}\s{1,8}for\s{1,8}detailed\s{1,8}"
    r"troubleshooting\s{1,8}steps\.?",
    re.IGNORECASE,
)

#: ``NPS Extension for Azure MFA:`` and a leading ``CID: ... :``, stripped from a notice's body.
LEADING_PREFIX = re.compile(r"\s{0,64}NPS\s{1,4}Extension\s{1,4}for\s{1,4}[^\r\n:]{0,60}:", re.I)
#: A leading ``IP_WHITE_LIST_WARNING::`` label: the code is already in ``codes``.
LEADING_CODE_LABEL = re.compile(r"\s{0,64}" + _UPPER_SNAKE + "::")
LEADING_CID = re.compile(r"\s{0,64}CID\s{0,8}:\s{0,8}\S{0,80}?\s{0,8}:(?!:)", re.IGNORECASE)

#: Where a user name is introduced: ``for User``, ``for user``, ``for the user``.
USER_ANCHOR = re.compile(r"\bfor\s{1,8}(?:the\s{1,8})?user\s{1,8}", re.IGNORECASE)

#: At most this many anchors are tried. Real messages have one; without the cap, a text made of
#: nothing but "for User " repeated would cost 256 steps per repetition.
USER_ANCHOR_LIMIT = 8

#: The user after an anchor, in the shapes the extension writes: ``for User X ::``, ``for user X
#: with Azure MFA response``, ``for User X with state``, ``Request received for User X with
#: response state``. Names may contain spaces, so the name is the shortest run (one line, at most
#: 256 characters, no colon) followed by ``::`` or ``with``. Applied with ``match`` at an anchor's
#: end.
USER = re.compile(r"[`'\"]?([^\r\n:]{1,256}?)[`'\"]?(?=\s{0,16}::|\s{1,16}with\s)")

#: Otherwise (the documentation's ``for User X.`` and ``for the user `X`.``, or a shape not seen
#: yet) the name is one token: no whitespace, quotes, colon, comma or semicolon; a trailing
#: full stop is dropped by the caller.
USER_TOKEN = re.compile(r"[`'\"]?([^\s:`'\",;]{1,256})")

# Kind markers, tested in this order (the first that matches decides).
KIND_EXCEPTION = re.compile(r"\bException\s{1,8}in\s{1,8}Auth", re.IGNORECASE)
KIND_REJECTED = re.compile(
    r"\bAccess\s{1,8}(?:Rejected|Denied)\s{1,8}for\s{1,8}user\b", re.IGNORECASE
)
KIND_ACCEPTED = re.compile(r"\bAccess\s{1,8}Accepted\s{1,8}for\s{1,8}user\b", re.IGNORECASE)
KIND_CHALLENGE = re.compile(r"\bChallenge\s{1,8}requested\b", re.IGNORECASE)
KIND_IGNORED = re.compile(
    r"only\s{1,8}performs\s{1,8}Secondary\s{1,8}Auth|\bignoring\s{1,8}request\b", re.IGNORECASE
)
KIND_NOTICE = re.compile(
    r"IP\s{0,4}White\s{0,4}list\s{1,8}not\s{1,8}in[a-z]{0,4}ialized"
    r"|IP_WHITE_LIST_WARNING"
    r"|IP\s{0,4}White\s{0,4}list\s{1,8}is\s{1,8}being\s{1,8}ignored"
    r"|missing\s{1,8}NAS\s{1,8}Identifier",
    re.IGNORECASE,
)


class Guard(NamedTuple):
    """Literal facts about a case-insensitive pattern, in lower case, that let a search be
    skipped or started late (``extract._lowered`` says when testing them on the lower-cased
    text is exact).

    Every match of the pattern begins with one of ``starts`` (a ``\\b`` or look-behind before it
    takes no characters) and contains, for each group in ``needs``, at least one of the
    group's literals.
    """

    starts: tuple[str, ...]
    needs: tuple[tuple[str, ...], ...] = ()


CID_GUARD = Guard(("cid",))
STATE_GUARD = Guard(("with",), (("state",),))
RESPONSE_STATE_GUARD = Guard(("response",), (("state",), ("access",)))
TRACE_ID_GUARD = Guard(("trace",))
CORRELATION_ID_GUARD = Guard(("correlation",))
DETAIL_START_GUARD = Guard(("msg", "and"), (("msg", "message"),))
USER_ANCHOR_GUARD = Guard(("for",), (("user",),))
BOILERPLATE_GUARD = Guard(("enter",), (("error_code",),))
CODE_AFTER_ERRORCODE_GUARD = Guard(("errorcode",), (("::",),))
CODE_AFTER_RESPONSE_GUARD = Guard(("azure",), (("mfa",), ("response",)))
KIND_EXCEPTION_GUARD = Guard(("exception",), (("auth",),))
KIND_REJECTED_GUARD = Guard(("access",), (("rejected", "denied"), ("user",)))
KIND_ACCEPTED_GUARD = Guard(("access",), (("accepted",), ("user",)))
KIND_CHALLENGE_GUARD = Guard(("challenge",), (("requested",),))
KIND_IGNORED_GUARD = Guard(("only", "ignoring"), (("secondary", "request"),))
KIND_NOTICE_GUARD = Guard(("ip", "missing"), (("white", "nas"),))

#: What every match of the (case-sensitive) AADSTS pattern begins with.
AADSTS_START = "AADSTS"

# --------------------------------------------------------------------------------------------
# The commonest extension messages, word for word
# --------------------------------------------------------------------------------------------

#: A user name that cannot take part in any pattern above: no whitespace (every phrase has
#: some), no colon (every label has one), no quote, comma or semicolon (what USER and
#: USER_TOKEN strip or stop at), at most 128 characters (USER reads up to 256).
_PLAIN_USER = r"([^\s:'\"`,;]{1,128})"
_PLAIN_GUID = rf"({GUID})"

#: The three messages a healthy server writes most (challenge, accepted, ignored), exactly as
#: the extension writes them, with only the CID, user, state and response state varying.
#: ``extract`` gives a text that matches this in full, and holds no "AADSTS", its Finding
#: directly; ``extract._known_finding`` shows, pattern by pattern, that this Finding is the
#: one the general rules give. A change to the patterns above must be checked against it.
KNOWN_MESSAGE = re.compile(
    r"NPS Extension for Azure MFA: (?:"
    rf"CID: {_PLAIN_GUID} : (?:"
    rf"Challenge requested in Authentication Ext for User {_PLAIN_USER} with state {_PLAIN_GUID}"
    rf"|Access Accepted for user {_PLAIN_USER} with Azure MFA response: Success "
    r"and message: Success)"
    r"|\r\nNPS Extension for Azure MFA only performs Secondary Auth for Radius requests in "
    rf"AccessAccept State\. Request received for User {_PLAIN_USER} with response state "
    r"(AccessReject|AccessChallenge|AccessAccept), ignoring request\.)"
)

#: Canonical spelling of the three RADIUS outcomes named in ``response state``.
RESPONSE_STATES = {
    "accessreject": "AccessReject",
    "accesschallenge": "AccessChallenge",
    "accessaccept": "AccessAccept",
}

# --------------------------------------------------------------------------------------------
# Pasted text (``npsdiag explain``)
# --------------------------------------------------------------------------------------------

#: One identifier-like word: a bare code the user typed.
BARE_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")
#: Shapes a code has when it sits among other words: UPPER_SNAKE or CamelCase.
CODE_SHAPE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+")
BARE_AADSTS = re.compile(r"AADSTS\d{1,10}")
BARE_NUMBER = re.compile(r"\d{1,5}")
#: Separators between words the user typed.
WORD_SEPARATORS = re.compile(r"[\s,;]+")

#: Separators a reader may put between a UserData path and its leaf name.
FIELD_PATH_SEPARATORS = re.compile(r"[/.:]")

# --------------------------------------------------------------------------------------------
# NPS Security events rendered as text (wevtutil /f:text, Event Viewer copy)
# --------------------------------------------------------------------------------------------

#: Labels of the 6272-6280 text rendering and the wevtutil header, longest first where one is a
#: prefix of another. Values run from a label to the next label or the end of the line, which
#: covers both the one-label-per-line dump and a copy flattened onto one line.
NPS_TEXT_LABELS = (
    "Fully Qualified Account Name",
    "Account Name",
    "Account Domain",
    "Account Session Identifier",
    "Security ID",
    "Client Machine",
    "Client Friendly Name",
    "Client IP Address",
    "OS-Version",
    "Called Station Identifier",
    "Calling Station Identifier",
    "NAS IPv4 Address",
    "NAS IPv6 Address",
    "NAS Identifier",
    "NAS Port-Type",
    "NAS Port",
    "NAS",
    "RADIUS Client",
    "Authentication Details",
    "Authentication Provider",
    "Authentication Server",
    "Authentication Type",
    "Connection Request Policy Name",
    "Proxy Policy Name",
    "Network Policy Name",
    "EAP Type",
    "Logging Results",
    "Reason Code",
    "Reason",
    "Quarantine Information",
    "Quarantine State",
    "Extended Quarantine State",
    "Quarantine Session Identifier",
    "Quarantine Help URL",
    "System Health Validator Result",
    "Session Identifier",
    "Result",
    "User",
    "Log Name",
    "Source",
    "Date",
    "Event ID",
    "Task Category",
    "Level",
    "Keywords",
    "Computer",
    "Description",
)
NPS_TEXT_LABEL = re.compile(
    r"(?<![A-Za-z0-9-])("
    + "|".join(r"[ \t]{1,4}".join(map(re.escape, label.split(" "))) for label in NPS_TEXT_LABELS)
    + r")[ \t]{0,8}:"
)

#: Section headings of that rendering; "Account Name" means the user only inside "User:".
NPS_TEXT_SECTIONS = frozenset(
    {"User", "Client Machine", "NAS", "RADIUS Client", "Authentication Details"}
)

#: Text label -> EventData name, and whether the label only counts inside the "User:" section.
NPS_TEXT_FIELDS = {
    "Fully Qualified Account Name": ("FullyQualifiedSubjectUserName", True),
    "Account Name": ("SubjectUserName", True),
    "Account Domain": ("SubjectDomainName", True),
    "NAS IPv4 Address": ("NASIPv4Address", False),
    "NAS IPv6 Address": ("NASIPv6Address", False),
    "Client Friendly Name": ("ClientName", False),
    "Client IP Address": ("ClientIPAddress", False),
    "Reason Code": ("ReasonCode", False),
    "Reason": ("Reason", False),
}

#: Headlines of the NPS Security events, for text that arrives without an event id.
NPS_GRANTED_TEXT = re.compile(r"Network\s{1,4}Policy\s{1,4}Server\s{1,4}granted", re.I)
NPS_DENIED_TEXT = re.compile(r"Network\s{1,4}Policy\s{1,4}Server\s{1,4}denied", re.I)
NPS_DISCARDED_TEXT = re.compile(
    r"Network\s{1,4}Policy\s{1,4}Server\s{1,4}discarded\s{1,4}the\s{1,4}request", re.I
)
NPS_OTHER_TEXT = re.compile(
    r"Network\s{1,4}Policy\s{1,4}Server\s{1,4}(?:discarded|quarantined|locked|unlocked)", re.I
)
NPS_REASON_CODE_TEXT = re.compile(r"\bReason\s{1,4}Code\s{0,8}:", re.I)

# --------------------------------------------------------------------------------------------
# System events
# --------------------------------------------------------------------------------------------

SYS_UNKNOWN_CLIENT_TEXT = re.compile(r"invalid\s{1,4}RADIUS\s{1,4}client", re.I)
SYS_AUTHENTICATOR_TEXT = re.compile(r"Message[\s-]{1,4}Authenticator\s{1,4}attribute", re.I)
SYS_DOMAIN_CONTROLLER_TEXT = re.compile(
    r"no\s{1,4}domain\s{1,4}controller\s{1,4}available"
    r"|Domain\s{1,4}controller\s{1,4}\S{1,255}\s{1,4}for\s{1,4}domain"
    r"|LDAP\s{1,4}connection\s{1,4}with\s{1,4}domain\s{1,4}controller",
    re.I,
)
SYS_TLS_TEXT = re.compile(r"fatal\s{1,4}error\s{1,4}occurred\s{1,4}while\s{1,4}creating", re.I)

#: ``RADIUS client 10.0.0.1`` / ``RADIUS client IP address 10.0.0.1``: the address that follows.
RADIUS_CLIENT_ADDRESS = re.compile(
    r"RADIUS\s{1,4}client(?:\s{1,4}IP\s{1,4}address)?\s{1,8}([0-9A-Fa-f:.]{2,45})", re.I
)
IPV4 = re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
IPV6 = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])")
