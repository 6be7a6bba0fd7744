"""What redaction keeps and how it names what it replaces: the rules, as data.

Shared by the detectors (:mod:`npsdiag._redact_detect`) and the redactor (:mod:`npsdiag.redact`):
the hosts, ids and principals that are kept, the roles a value can have (each rewritten its own
way), which event field or rendered label holds which role, and the checks on names (a kept
host, a top-level domain, a Microsoft cloud domain). ``docs/redaction.md`` describes them.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping, Sequence

from npsdiag import _patterns as pat
from npsdiag.model import Event


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ---------------------------------------------------------------------------------------------
# What is kept
# ---------------------------------------------------------------------------------------------

#: Hosts (and their subdomains) of Microsoft and public infrastructure: named in messages and
#: registry values as endpoints, needed to diagnose connectivity, and not the customer's.
KEPT_HOST_SUFFIXES = (
    "microsoft.com",
    "microsoft.us",
    "microsoft.cn",
    "microsoftonline.com",
    "microsoftonline.us",
    "microsoftonline.de",
    "microsoftonline-p.com",
    "windowsazure.com",
    "windowsazure.us",
    "windowsazure.cn",
    "windows.net",
    "azure.com",
    "azure.us",
    "azure.cn",
    "azure.net",
    "chinacloudapi.cn",
    "microsoftazuread-sso.com",
    "msauth.net",
    "msftauth.net",
    "msocsp.com",
    "live.com",
    "office.com",
    "office365.com",
    "aka.ms",
    "digicert.com",
    # Reserved for documentation (RFC 2606): never a real customer.
    "example.com",
    "example.net",
    "example.org",
    "example",
    "invalid",
    "test",
    "localhost",
)

#: Microsoft domains under which the customer names its own hosts: those labels are replaced.
_CUSTOMER_SUFFIXES = (
    "cloudapp.azure.com",
    "cloudapp.net",
    "azurewebsites.net",
    "core.windows.net",
    "trafficmanager.net",
    "cloudapp.usgovcloudapi.net",
    "chinacloudapp.cn",
)

_KEPT_SUFFIX_SET = frozenset(KEPT_HOST_SUFFIXES)

_KEPT_SUFFIX_LABELS = max(suffix.count(".") + 1 for suffix in KEPT_HOST_SUFFIXES)

#: Well-known GUIDs that are never a tenant: the extension's application id ("Azure
#: Multi-Factor Auth Client"), Microsoft Graph and Azure AD Graph, the nil GUID, and the
#: provider GUIDs of the extension's traces and of Security auditing.
KEPT_GUIDS = frozenset(
    {
        "981f26a1-7f43-403b-a875-f8b09b8cd720",
        "00000003-0000-0000-c000-000000000000",
        "00000002-0000-0000-c000-000000000000",
        "00000000-0000-0000-0000-000000000000",
        "7237ed00-e119-430b-ab0f-c63360c8ee81",
        "ec2e6d3a-c958-4c76-8ea4-0262520886ff",
        "54849625-5478-4994-a5ba-3e3b0328c30d",
    }
)

#: Dotted names in .NET exception texts that would otherwise read as DNS names.
_KEPT_DOTTED = frozenset({"system.net", "system.io", "msal.net", "adal.net", "asp.net", "ado.net"})

#: Principals Windows prints in user positions that name nobody.
KEPT_PRINCIPALS = frozenset(
    {
        "system",
        "network service",
        "local service",
        "anonymous logon",
        "n/a",
        "null sid",
        "nobody",
        "everyone",
    }
)

KEPT_PRINCIPAL_DOMAINS = frozenset({"nt authority", "builtin", "nt service", "iis apppool"})

#: Folders under ``Users`` / ``home`` that are nobody's.
KEPT_PROFILE_FOLDERS = frozenset({"public", "default", "default user", "all users", "shared"})

#: Shares every Windows server has: named in paths, they say nothing about anyone.
KEPT_SHARES = frozenset({"admin$", "ipc$", "print$", "sysvol", "netlogon"})

#: First words of certificate subject and issuer names that are not the customer's (public
#: certificate authorities, Microsoft's own certificates): kept in ``CN=`` and ``O=``.
KEPT_ISSUERS = frozenset(
    {"microsoft", "azure", "digicert", "baltimore", "globalsign", "entrust", "sectigo", "isrg"}
)

#: Containers of every Active Directory (``CN=Users,DC=...``): kept in ``CN=``.
KEPT_CONTAINERS = frozenset(
    {
        "users",
        "computers",
        "builtin",
        "system",
        "configuration",
        "schema",
        "services",
        "domain controllers",
        "program data",
        "foreignsecurityprincipals",
        "managed service accounts",
        "public key services",
        "aia",
        "cdp",
        "enrollment services",
        "certification authorities",
        "ntauthcertificates",
    }
)

#: Capitalised words that follow a name in product messages without being a surname.
NOT_SURNAMES = _words(
    """
    the trace correlation timestamp msg message error code with does did has had is was
    were are from at in on to and or not no id azure microsoft mfa entra aadsts please
    """
)

#: Words of the product's messages (and of the pseudonyms themselves). A user, domain, host or
#: client whose *whole* name is one of them is still replaced where it is named (a user field,
#: ``for User X``, ``Account Name:``) but not searched for in free text, where replacing every
#: "administrator" or "NPS" would garble the messages while hiding nobody.
PROTECTED_WORDS = _words(
    """
    a an and the for of in on to is at by or with not no yes none null true false unknown nps
    ias extension azure mfa entra microsoft windows radius vpn wifi wlan eap pap user users
    username account name domain domains client clients server servers service host hosts
    computer machine device network policy security system local default public admin
    administrator administrators guest test access accepted rejected challenge success error
    errors exception request response state message msg code errorcode cid reason event log
    data auth authn authz authentication authorization tenant example ip ip6 mac sid
    thumbprint station guid phone share path object
    """
)

#: Last labels accepted as a top-level domain for a DNS name found in free text. All
#: two-letter country codes count except the few that are common file extensions.
_GENERIC_TLDS = _words(
    """
    com net org edu gov mil int info biz name pro io ai app dev cloud online site tech xyz top
    shop blog global eu asia
    """
)

_NON_ROUTABLE_TLDS = frozenset(
    {"local", "lan", "internal", "corp", "home", "localdomain", "intranet", "private"}
)

_NOT_COUNTRY_TLDS = frozenset({"md", "py", "cs", "js", "ps", "sh", "db", "gz", "xz", "rb", "so"})

#: File extensions a name may carry after a host name (``nps01.contoso.com.evtx``).
FILE_EXTENSIONS = frozenset(
    {"evtx", "evt", "xml", "txt", "log", "zip", "etl", "cab", "json", "csv", "html", "md"}
)

#: Longest value searched for in free text: names are far shorter, and a hostile value as
#: long as the text would make the search quadratic.
LITERAL_MAX = 256

#: Anchors tried per string; real messages have one, hostile text could have thousands.
ANCHOR_LIMIT = 64

QUOTES = "'\"`"

#: Values NPS writes for "nothing".
EMPTY = frozenset({"", "-", "n/a", "null sid"})

#: A dotted quad (each part checked to be at most 255 where it is used).
IPV4_RE = re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9]|\.\d)")

# Roles: how a value found in a position or by a detector is rewritten.
TEXT = "text"

USER = "user"

USER_KEY = "user-key"

DOMAIN = "domain"

NETBIOS = "netbios"

HOST = "host"

CLIENT = "client"

IP = "ip"

STATION = "station"

TENANT = "tenant"

GUID = "guid"

SID = "sid"

THUMBPRINT = "thumbprint"

MAC = "mac"

DNS = "dns"

CONFIG = "config"

PROSE = "prose"
PHONE = "phone"
UNC = "unc"
SHARE = "share"
PATH = "path"
NAME = "name"
OBJECT = "object"

# Tie-break between detectors that claim the same span (lower wins).
PRIORITY = {
    TENANT: 0,
    OBJECT: 0,
    UNC: 1,
    USER: 1,
    SHARE: 2,
    PATH: 2,
    DOMAIN: 2,
    HOST: 2,
    CLIENT: 2,
    STATION: 2,
    NAME: 2,
    SID: 3,
    THUMBPRINT: 4,
    MAC: 5,
    IP: 6,
    PHONE: 6,
    GUID: 7,
    DNS: 8,
    NETBIOS: 9,
    USER_KEY: 9,
}

# Field names (EventData names, DTS accounting names) by role; compared lower-cased on the
# leaf of the name.
# leaf of the name.
_USER_FIELDS = _words(
    """
    subjectusername fullyqualifiedsubjectusername targetusername username user-name
    sam-account-name fully-qualifed-user-name fully-qualified-user-name
    """
)

_DOMAIN_FIELDS = _words("subjectdomainname targetdomainname")

_HOST_FIELDS = _words(
    """
    subjectmachinename fullyqualifiedsubjectmachinename nasidentifier nas-identifier
    authenticationserver computer-name computername workstationname
    """
)

_CLIENT_FIELDS = _words("clientname client-friendly-name")

_IP_FIELDS = _words(
    """
    nasipv4address nasipv6address clientipaddress client-ip-address nas-ip-address
    framed-ip-address
    """
)

_STATION_FIELDS = _words("calledstationid callingstationid called-station-id calling-station-id")

#: Fields of the model kept as they are: codes, ids, channel and provider names, times and
#: counts. Every other string field is redacted (one without a rule of its own as free text).
KEPT_FIELDS: Mapping[str, frozenset[str]] = {
    "Analysis": _words("version"),
    "Problem": _words("entry_id category severity confidence scope start end missing"),
    "Incident": _words("start end outcome cid codes"),
    "Diagnosis": _words("entry_id category severity confidence key_evidence"),
    "Finding": _words(
        "kind codes cid state aadsts trace_id correlation_id response_state reason_code"
    ),
    "Event": _words("time channel provider event_id level record_id qualifiers keywords"),
    "SourceStats": _words(
        "kind size records_read records_relevant records_failed first_time last_time status "
        "channels zoneless_times"
    ),
    "LogCoverage": _words("role label records events status"),
    "ClockNote": _words("records method offsets"),
}

#: NPS System events whose unnamed data are (domain controller, domain) or (domain,).
_DC_EVENT_IDS = frozenset({4400, 4401, 4402})

# Labels of a rendered 6272-6280 (or a wevtutil text header) and the role of their value;
# "Account Name" names the user only in the "User:" section.
# "Account Name" names the user only in the "User:" section.
LABEL_ROLES = {
    "Account Domain": DOMAIN,
    "Client Friendly Name": CLIENT,
    "Client IP Address": IP,
    "NAS IPv4 Address": IP,
    "NAS IPv6 Address": IP,
    "NAS Identifier": HOST,
    "Called Station Identifier": STATION,
    "Calling Station Identifier": STATION,
    "Authentication Server": HOST,
    "Computer": HOST,
    "User": USER,
}

SECTION_LABELS = {"Account Name", "Fully Qualified Account Name"}


# ---------------------------------------------------------------------------------------------
# Checks on names
# ---------------------------------------------------------------------------------------------


def kept_ipv4(octets: Sequence[int]) -> bool:
    return octets[0] == 127 or all(o == 0 for o in octets) or all(o == 255 for o in octets)


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    candidate = value.strip().strip("[]")
    if not candidate or len(candidate) > 64:
        return None
    if IPV4_RE.fullmatch(candidate):
        octets = [int(part) for part in candidate.split(".")]
        if all(octet <= 255 for octet in octets):
            return ipaddress.IPv4Address(".".join(str(octet) for octet in octets))
        return None
    if ":" not in candidate:
        return None
    try:
        return ipaddress.IPv6Address(candidate.split("%", 1)[0])
    except ValueError:
        return None


def kept_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return kept_ipv4([int(part) for part in str(address).split(".")])
    return address.is_loopback or address.is_unspecified


def is_tld(label: str) -> bool:
    lower = label.lower()
    if lower in _GENERIC_TLDS or lower in _NON_ROUTABLE_TLDS:
        return True
    return (
        len(lower) == 2 and lower.isascii() and lower.isalpha() and lower not in _NOT_COUNTRY_TLDS
    )


def kept_host(name: str) -> bool:
    """Whether a lower-cased DNS name is Microsoft's, reserved, or not a name at all."""
    return len(name) <= 255 and _kept_host_name(name)


@functools.lru_cache(maxsize=4096)
def _kept_host_name(name: str) -> bool:
    name = name.rstrip(".")
    if name in _KEPT_DOTTED:
        return True
    if cloud_domain(name):
        return False
    labels = name.rsplit(".", _KEPT_SUFFIX_LABELS)
    return any(".".join(labels[-count:]) in _KEPT_SUFFIX_SET for count in range(1, len(labels) + 1))


def cloud_domain(name: str) -> bool:
    """Whether a lower-cased name is a Microsoft cloud domain that holds customer hosts."""
    name = name.rstrip(".")
    return any(name == suffix or name.endswith("." + suffix) for suffix in _CUSTOMER_SUFFIXES)


def kept_email(domain: str) -> bool:
    """Addresses at reserved documentation domains (and at the pseudonyms' own)."""
    return kept_host(domain.lower()) or domain.lower() == "domain"


def dns_split(name: str) -> tuple[str, str]:
    """(body, kept suffix) of a lower-cased DNS domain: the body is what gets numbered.

    The suffix keeps what helps a diagnosis without naming anyone: ``.local`` and the other
    non-routable suffixes (a UPN suffix Entra ID cannot know), ``.onmicrosoft`` (the tenant's
    initial domain); every other suffix becomes ``.example``.
    """
    labels = [label for label in name.split(".") if label]
    if len(labels) >= 3 and labels[-2] == "onmicrosoft":
        return ".".join(labels[:-2]), ".onmicrosoft.example"
    if len(labels) < 2:
        return name, ""
    if labels[-1] in _NON_ROUTABLE_TLDS:
        return ".".join(labels[:-1]), "." + labels[-1]
    return ".".join(labels[:-1]), ".example"


def letters(index: int) -> str:
    """The letter after a person's number: none for the first name form, then b, c ..."""
    if index == 0:
        return ""
    if index < 26:
        return chr(ord("a") + index)
    return f"-{index + 1}"


def field_role(name: str) -> str:
    leaf = pat.FIELD_PATH_SEPARATORS.split(name)[-1].lower()
    if leaf in _USER_FIELDS:
        return USER
    if leaf in _DOMAIN_FIELDS:
        return DOMAIN
    if leaf in _HOST_FIELDS:
        return HOST
    if leaf in _CLIENT_FIELDS:
        return CLIENT
    if leaf in _IP_FIELDS:
        return IP
    if leaf in _STATION_FIELDS:
        return STATION
    return TEXT


def data_roles(event: Event) -> tuple[str, ...]:
    if event.provider.lower() in pat.NPS_SYSTEM_PROVIDERS and event.event_id in _DC_EVENT_IDS:
        return (DOMAIN,) if len(event.data) == 1 else (HOST, DOMAIN)
    return ()
