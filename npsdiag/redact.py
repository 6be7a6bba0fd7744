"""Pseudonymise an :class:`~npsdiag.model.Analysis` so its reports can leave the organisation.

:func:`redact_analysis` returns a new Analysis in which every user name, e-mail address,
domain, computer and RADIUS client name, IP and MAC address, station id, tenant id,
certificate thumbprint and account SID is replaced by a stable pseudonym (``user-1``,
``DOMAIN-1\\user-1``, ``user-1@domain-1.example``, ``host-1.domain-1.example``, ``ip-1``,
``tenant-1`` ...). The same value gives the same pseudonym everywhere in one analysis, so
incidents, problems and evidence stay linkable; what diagnosis needs and is not personal
(codes, AADSTS codes, reason codes, event ids, channels, providers, Microsoft endpoints,
well-known ids, correlation ids, times) is kept. docs/redaction.md describes every rule.

How it works: two passes over the same deterministic traversal of the analysis (problems as
ranked, incidents and notices in report order, sources by name, configuration findings,
unknown codes, command line).

1. *Collect*: values in known positions (a finding's user, a 6273's ``SubjectDomainName``, an
   event's computer, a configuration ``TENANT_ID`` ...) and values the text detectors find in
   every string (e-mail addresses, IP addresses, DNS names, ``for User X`` ...) are recorded
   with the place they first appear. Pseudonyms are then numbered in that order, so
   redacted reports of the same data are identical and diffable.
2. *Rewrite*: every string is rebuilt with the detectors again plus a search for every value
   collected anywhere (so ``fgrant`` is replaced inside an incident key or a file name too).

Every pattern is bounded and anchored the way :mod:`npsdiag._patterns` is, so hostile text
costs a few linear passes.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from npsdiag import _patterns as pat
from npsdiag._redact_index import WORD as _WORD_RE
from npsdiag._redact_index import LiteralIndex
from npsdiag.extract import user_key
from npsdiag.model import Analysis, Diagnosis, Event, Finding, Incident, Problem, SourceStats
from npsdiag.report._view import sorted_incidents

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "KEPT_FIELDS",
    "KEPT_GUIDS",
    "KEPT_HOST_SUFFIXES",
    "Detection",
    "detect",
    "redact_analysis",
]


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
_KEPT_PRINCIPALS = frozenset(
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
_KEPT_PRINCIPAL_DOMAINS = frozenset({"nt authority", "builtin", "nt service", "iis apppool"})

#: Folders under ``Users`` / ``home`` that are nobody's.
_KEPT_PROFILE_FOLDERS = frozenset({"public", "default", "default user", "all users", "shared"})

#: Words of the product's messages (and of the pseudonyms themselves). A user, domain, host or
#: client whose *whole* name is one of them is still replaced where it is named (a user field,
#: ``for User X``, ``Account Name:``) but not searched for in free text, where replacing every
#: "administrator" or "NPS" would garble the messages while hiding nobody.
_PROTECTED_WORDS = _words(
    """
    a an and the for of in on to is at by or with not no yes none null true false unknown nps
    ias extension azure mfa entra microsoft windows radius vpn wifi wlan eap pap user users
    username account name domain domains client clients server servers service host hosts
    computer machine device network policy security system local default public admin
    administrator administrators guest test access accepted rejected challenge success error
    errors exception request response state message msg code errorcode cid reason event log
    data auth authn authz authentication authorization tenant example ip ip6 mac sid
    thumbprint station guid
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
_FILE_EXTENSIONS = frozenset(
    {"evtx", "evt", "xml", "txt", "log", "zip", "etl", "cab", "json", "csv", "html", "md"}
)

# ---------------------------------------------------------------------------------------------
# Detectors (bounded, anchored at the start of a run)
# ---------------------------------------------------------------------------------------------

_GUID_RE = re.compile(rf"(?<![0-9A-Za-z-])\{{?({pat.GUID})\}}?(?![0-9A-Za-z])")
_TENANT_CONTEXT_RE = re.compile(
    r"(?:\b(?:tenant|directory)(?:[ _-]{0,2}id)?\b['\"]?\s{0,8}"
    r"(?:[:=]|REG_[A-Z_]{1,20})?\s{0,8}['\"\[{(]?\s{0,4}"
    r"|\bCN\s{0,4}=\s{0,4}\{?"
    r"|(?:login\.microsoftonline\.(?:com|us|de)|login\.chinacloudapi\.cn|login\.windows\.net"
    r"|sts\.windows\.net|login\.partner\.microsoftonline\.cn)/\{?)"
    rf"({pat.GUID})(?![0-9A-Za-z])",
    re.IGNORECASE,
)
_SID_RE = re.compile(
    r"(?<![0-9A-Za-z-])S-1-(?:5-21|12-1)(?:-\d{1,10}){3,5}(?![0-9A-Za-z]|-\d)", re.I
)
_THUMBPRINT_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{40}|(?:[0-9A-Fa-f]{2}[ :]){19}[0-9A-Fa-f]{2})(?![0-9A-Za-z])"
)
_MAC_RE = re.compile(
    r"(?<![0-9A-Za-z:.-])(?:[0-9A-Fa-f]{2}([-:])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})"
    r"(?![0-9A-Za-z]|[-:.][0-9A-Fa-f])"
)
_BARE_MAC_RE = re.compile(r"[0-9A-Fa-f]{12}")
_LOCAL_CHARS = r"A-Za-z0-9._%+*!#$&=?^{|}~-"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE = re.compile(
    rf"(?<![{_LOCAL_CHARS}])([{_LOCAL_CHARS}]{{1,256}})@({_LABEL}(?:\.{_LABEL}){{0,16}})"
)
_IPV4_RE = re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9]|\.\d)")
#: A run that may hold an IPv6 address: not inside a word ("intialized::" is not one), but
#: possibly right after a label's colon ("address:2001:db8::1").
_IPV6_RUN_RE = re.compile(r"(?:(?<![0-9A-Za-z_:.])|(?<=[A-Za-z]:))[0-9A-Fa-f:.]{2,64}")
_DNS_RE = re.compile(
    rf"(?<![A-Za-z0-9.@-])((?:{_LABEL}\.){{1,126}}[A-Za-z]{{2,63}})(?![A-Za-z0-9-]|\.[A-Za-z0-9])"
)
_DC_PHRASE_RE = re.compile(
    r"\bdomain\s{1,4}controller\s{1,4}(?!(?:available|for|is|was|in)\b)([^\s,;:'\"()]{1,255})",
    re.IGNORECASE,
)
#: Words one of which every match of _TENANT_CONTEXT_RE holds (lower case).
_TENANT_CONTEXT_WORDS = ("tenant", "directory", "cn", "login.", "sts.")
_DOMAIN_PHRASE_RE = re.compile(r"\bfor\s{1,4}domain\s{1,4}([^\s,;:'\"()]{1,255})", re.IGNORECASE)
_RESOURCE_RE = re.compile(r"\bResource\s{1,4}'([^'\r\n]{1,256})'\s{1,4}does\s{1,4}not", re.I)
_PROFILE_RE = re.compile(r"[\\/](?:users|home)[\\/]([^\\/\s:*?\"<>|]{1,64})", re.IGNORECASE)
#: The account part after a known ``DOMAIN\``.
_ACCOUNT_AFTER_DOMAIN_RE = re.compile(r"[^\s\\/:*?\"<>|,;'`()\[\]{}=]{1,104}")
_SPLIT_LIST_RE = re.compile(r"([;,\s]+)")
_FOREST_RE = re.compile(r"(?:[A-Za-z0-9-]{1,63}\.){1,16}[A-Za-z][A-Za-z0-9-]{0,62}")

#: Longest value searched for in free text: names are far shorter, and a hostile value as
#: long as the text would make the search quadratic.
_LITERAL_MAX = 256
#: Anchors tried per string; real messages have one, hostile text could have thousands.
_ANCHOR_LIMIT = 64
_QUOTES = "'\"`"
#: Values NPS writes for "nothing".
_EMPTY = frozenset({"", "-", "n/a", "null sid"})

# Roles: how a value found in a position or by a detector is rewritten.
_TEXT = "text"
_USER = "user"
_USER_KEY = "user-key"
_DOMAIN = "domain"
_NETBIOS = "netbios"
_HOST = "host"
_CLIENT = "client"
_IP = "ip"
_STATION = "station"
_TENANT = "tenant"
_GUID = "guid"
_SID = "sid"
_THUMBPRINT = "thumbprint"
_MAC = "mac"
_DNS = "dns"
_CONFIG = "config"
_PROSE = "prose"

# Tie-break between detectors that claim the same span (lower wins).
_PRIORITY = {
    _TENANT: 0,
    _USER: 1,
    _DOMAIN: 2,
    _HOST: 2,
    _CLIENT: 2,
    _STATION: 2,
    _SID: 3,
    _THUMBPRINT: 4,
    _MAC: 5,
    _IP: 6,
    _GUID: 7,
    _DNS: 8,
    _NETBIOS: 9,
    _USER_KEY: 9,
}

# Field names (EventData names, DTS accounting names) by role; compared lower-cased on the
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
    "Problem": _words("entry_id category severity confidence scope start end"),
    "Incident": _words("start end outcome cid codes"),
    "Diagnosis": _words("entry_id category severity confidence key_evidence"),
    "Finding": _words(
        "kind codes cid state aadsts trace_id correlation_id response_state reason_code"
    ),
    "Event": _words("time channel provider event_id level record_id qualifiers keywords"),
    "SourceStats": _words(
        "kind size records_read records_relevant records_failed first_time last_time status"
    ),
}

#: NPS System events whose unnamed data are (domain controller, domain) or (domain,).
_DC_EVENT_IDS = frozenset({4400, 4401, 4402})

# Labels of a rendered 6272-6280 (or a wevtutil text header) and the role of their value;
# "Account Name" names the user only in the "User:" section.
_LABEL_ROLES = {
    "Account Domain": _DOMAIN,
    "Client Friendly Name": _CLIENT,
    "Client IP Address": _IP,
    "NAS IPv4 Address": _IP,
    "NAS IPv6 Address": _IP,
    "NAS Identifier": _HOST,
    "Called Station Identifier": _STATION,
    "Calling Station Identifier": _STATION,
    "Authentication Server": _HOST,
    "Computer": _HOST,
    "User": _USER,
}
_SECTION_LABELS = {"Account Name", "Fully Qualified Account Name"}


# ---------------------------------------------------------------------------------------------
# Public detection (used by the tests and available to callers that check their own text)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Detection:
    """One sensitive value found by the pattern detectors.

    Attributes:
        kind: ``email``, ``ipv4``, ``ipv6``, ``mac``, ``sid``, ``thumbprint``, ``tenant`` or
            ``dns``.
        value: the text as found.
        start: offset of the first character.
        end: offset after the last character.
    """

    kind: str
    value: str
    start: int
    end: int


def detect(text: str) -> list[Detection]:
    """Find the sensitive values the pattern detectors recognise in ``text``, in text order.

    Only patterns are used (no knowledge of the analysis): e-mail addresses, IPv4 and IPv6
    addresses other than loopback and unspecified ones, MAC addresses, account SIDs,
    certificate thumbprints, GUIDs in tenant positions and DNS names outside Microsoft's
    domains. Overlapping finds are all listed.
    """
    found: list[Detection] = []
    for match in _EMAIL_RE.finditer(text):
        if not _kept_email(match.group(2)):
            found.append(Detection("email", match.group(0), match.start(), match.end()))
    for start, end, value in _ipv4_spans(text):
        found.append(Detection("ipv4", value, start, end))
    for start, end, value in _ipv6_spans(text):
        found.append(Detection("ipv6", value, start, end))
    for match in _MAC_RE.finditer(text):
        found.append(Detection("mac", match.group(0), match.start(), match.end()))
    for match in _SID_RE.finditer(text):
        found.append(Detection("sid", match.group(0), match.start(), match.end()))
    for match in _THUMBPRINT_RE.finditer(text):
        found.append(Detection("thumbprint", match.group(0), match.start(), match.end()))
    for match in _TENANT_CONTEXT_RE.finditer(text):
        if match.group(1).lower() not in KEPT_GUIDS:
            found.append(Detection("tenant", match.group(1), match.start(1), match.end(1)))
    for start, end, value in _dns_spans(text):
        found.append(Detection("dns", value, start, end))
    found.sort(key=lambda item: (item.start, item.end, item.kind))
    return found


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def redact_analysis(analysis: Analysis) -> Analysis:
    """Return a copy of ``analysis`` with personal and tenant data replaced by pseudonyms.

    Pure: ``analysis`` and everything it holds are left untouched; the result shares no
    mutable object with it. The same input value gets the same pseudonym everywhere in the
    result, and pseudonyms are numbered in order of first appearance, so two runs over the
    same analysis give identical results.

    Args:
        analysis: the result of one run (``npsdiag.analyze.analyze_paths``).

    Returns:
        The redacted analysis, ready for any report renderer.
    """
    redactor = _Redactor()
    redactor.collect(analysis)
    return redactor.rewrite(analysis)


# ---------------------------------------------------------------------------------------------
# Pattern helpers
# ---------------------------------------------------------------------------------------------


def _ipv4_spans(text: str) -> Iterable[tuple[int, int, str]]:
    for match in _IPV4_RE.finditer(text):
        octets = [int(part) for part in match.group(0).split(".")]
        if all(octet <= 255 for octet in octets) and not _kept_ipv4(octets):
            yield match.start(), match.end(), match.group(0)


def _kept_ipv4(octets: Sequence[int]) -> bool:
    return octets[0] == 127 or all(o == 0 for o in octets) or all(o == 255 for o in octets)


def _ipv6_spans(text: str) -> Iterable[tuple[int, int, str]]:
    for match in _IPV6_RUN_RE.finditer(text):
        run = match.group(0)
        if run.count(":") < 2:
            continue
        found = _ipv6_in_run(run)
        if found is None:
            continue
        offset, value = found
        address = _parse_ip(value)
        if address is not None and not _kept_ip(address):
            start = match.start() + offset
            yield start, start + len(value), value


def _ipv6_in_run(run: str) -> tuple[int, str] | None:
    """The IPv6 address in a run of hex, colons and dots, trimming what surrounds it."""
    candidates = [(0, run)]
    stripped = run.strip(":.")
    candidates.append((run.find(stripped), stripped))
    first_colon = run.find(":")
    if 0 < first_colon < len(run) - 1:
        rest = run[first_colon + 1 :].rstrip(":.")
        candidates.append((first_colon + 1, rest))
    for offset, candidate in candidates:
        if candidate.count(":") >= 2 and isinstance(_parse_ip(candidate), ipaddress.IPv6Address):
            return offset, candidate
    return None


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    candidate = value.strip().strip("[]")
    if not candidate or len(candidate) > 64:
        return None
    if _IPV4_RE.fullmatch(candidate):
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


def _kept_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return _kept_ipv4([int(part) for part in str(address).split(".")])
    return address.is_loopback or address.is_unspecified


def _dns_spans(text: str) -> Iterable[tuple[int, int, str]]:
    for match in _DNS_RE.finditer(text):
        name = match.group(1)
        labels = name.split(".")
        while len(labels) > 2 and labels[-1].lower() in _FILE_EXTENSIONS:
            labels.pop()
        if not _is_tld(labels[-1]):
            continue
        name = ".".join(labels)
        if _kept_host(name.lower()):
            continue
        yield match.start(1), match.start(1) + len(name), name


def _is_tld(label: str) -> bool:
    lower = label.lower()
    if lower in _GENERIC_TLDS or lower in _NON_ROUTABLE_TLDS:
        return True
    return (
        len(lower) == 2 and lower.isascii() and lower.isalpha() and lower not in _NOT_COUNTRY_TLDS
    )


def _kept_host(name: str) -> bool:
    """Whether a lower-cased DNS name is Microsoft's, reserved, or not a name at all."""
    return len(name) <= 255 and _kept_host_name(name)


@functools.lru_cache(maxsize=4096)
def _kept_host_name(name: str) -> bool:
    name = name.rstrip(".")
    if name in _KEPT_DOTTED:
        return True
    if _cloud_domain(name):
        return False
    labels = name.rsplit(".", _KEPT_SUFFIX_LABELS)
    return any(".".join(labels[-count:]) in _KEPT_SUFFIX_SET for count in range(1, len(labels) + 1))


def _cloud_domain(name: str) -> bool:
    """Whether a lower-cased name is a Microsoft cloud domain that holds customer hosts."""
    name = name.rstrip(".")
    return any(name == suffix or name.endswith("." + suffix) for suffix in _CUSTOMER_SUFFIXES)


def _kept_email(domain: str) -> bool:
    """Addresses at reserved documentation domains (and at the pseudonyms' own)."""
    return _kept_host(domain.lower()) or domain.lower() == "domain"


def _guard_text(text: str) -> str:
    """``text`` lower-cased for literal guards of case-insensitive patterns.

    Python's case-insensitive matching also takes ``İ ı ſ K`` for ``i i s k``; mapping them
    the same way keeps a guard from skipping text its pattern would match.
    """
    lower = text.lower()
    if lower.isascii():
        return lower
    return lower.replace("\u0307", "").replace("\u0131", "i").replace("\u017f", "s")


# ---------------------------------------------------------------------------------------------
# The redactor
# ---------------------------------------------------------------------------------------------

_Position = tuple[int, int]
_D = TypeVar("_D", bound="DataclassInstance")
_Span = tuple[int, int, str, str]  # start, end, role, value


class _Redactor:
    """Collects values, numbers them, then rewrites the analysis (one instance per run)."""

    def __init__(self) -> None:
        self._frozen = False
        self._string_index = 0
        self._offset = 0
        # (namespace, key) -> first position; frozen into numbers.
        self._first: dict[tuple[str, str], _Position] = {}
        self._numbers: dict[tuple[str, str], int] = {}
        self._next_number: dict[str, int] = {}
        # Users: union-find over identity keys, then "1", "1b" ... per key.
        self._user_parent: dict[str, str] = {}
        self._user_labels: dict[str, str] = {}
        # DNS names found in free text: decided (host or domain) once everything is known.
        self._pending_dns: dict[str, _Position] = {}
        self._dns_as_host: dict[str, bool] = {}
        self._resolving_dns = False
        self._domain_sweep = False
        self._dns_domains: set[str] = set()
        self._tenants: set[str] = set()
        self._literals: dict[str, tuple[str, _Position]] = {}
        self._index = LiteralIndex.build({})
        self._cache: dict[tuple[str, str], str] = {}
        self._events: dict[int, Event] = {}
        self._findings: dict[int, Finding] = {}
        self._by_role = self._handlers()
        self._pattern_spans: dict[tuple[str, bool, bool], tuple[_Span, ...]] = {}

    # -- passes ---------------------------------------------------------------------------

    def collect(self, analysis: Analysis) -> None:
        """Record every value with its first position, then number them."""
        self._rebuild(analysis)
        # A second, light sweep looks for ``DOMAIN\\name`` with every domain the first one
        # collected, so a name is found in free text even where only a message named DOMAIN.
        self._build_index()
        if any(role == _NETBIOS for role, _position in self._literals.values()):
            self._domain_sweep = True
            self._rebuild(analysis)
            self._domain_sweep = False
        self._freeze()

    def rewrite(self, analysis: Analysis) -> Analysis:
        """Build the redacted copy (after :meth:`collect`)."""
        return self._rebuild(analysis)

    def _freeze(self) -> None:
        self._resolving_dns = True
        for name, position in sorted(self._pending_dns.items(), key=lambda item: item[1]):
            self._string_index, self._offset = position
            self._dns(name)
        self._resolving_dns = False
        groups: dict[str, list[str]] = {}
        for key in self._user_parent:
            groups.setdefault(self._find(key), []).append(key)
        people = sorted(
            (sorted(keys, key=lambda k: (self._first[("user", k)], k)) for keys in groups.values()),
            key=lambda keys: (self._first[("user", keys[0])], keys[0]),
        )
        for number, keys in enumerate(people, start=1):
            for index, key in enumerate(keys):
                self._user_labels[key] = f"{number}{_letters(index)}"
        self._next_number["user"] = len(people)
        by_namespace: dict[str, list[tuple[_Position, str]]] = {}
        for (namespace, key), position in self._first.items():
            if namespace == "client" and ("host", key) in self._first:
                continue  # met as a client before it was known as a host: it is the host
            if namespace != "user":
                by_namespace.setdefault(namespace, []).append((position, key))
        for namespace, items in by_namespace.items():
            items.sort()
            for number, (_position, key) in enumerate(items, start=1):
                self._numbers[(namespace, key)] = number
            self._next_number[namespace] = len(items)
        self._frozen = True
        self._cache.clear()
        self._build_index()

    # -- numbering --------------------------------------------------------------------------

    def _number(self, namespace: str, key: str) -> int:
        if not self._frozen:
            position = (self._string_index, self._offset)
            known = self._first.get((namespace, key))
            if known is None or position < known:
                self._first[(namespace, key)] = position
            return 0
        number = self._numbers.get((namespace, key))
        if number is None:
            # Not met while collecting (cannot happen for values of the analysis itself);
            # numbered after the others so it still gets a pseudonym of its own.
            number = self._next_number.get(namespace, 0) + 1
            self._next_number[namespace] = number
            self._numbers[(namespace, key)] = number
        return number

    def _find(self, key: str) -> str:
        root = key
        while self._user_parent[root] != root:
            root = self._user_parent[root]
        while self._user_parent[key] != root:
            self._user_parent[key], key = root, self._user_parent[key]
        return root

    def _user_token(self, key: str) -> str:
        if not self._frozen:
            self._user_parent.setdefault(key, key)
            self._number("user", key)
            return "user-0"
        label = self._user_labels.get(key)
        if label is None:
            number = self._next_number.get("user", 0) + 1
            self._next_number["user"] = number
            label = self._user_labels[key] = str(number)
        return f"user-{label}"

    def _link_users(self, keys: Sequence[str]) -> None:
        if self._frozen or len(keys) < 2:
            return
        for key in keys:
            self._user_token(key)
        first = self._find(keys[0])
        for key in keys[1:]:
            root = self._find(key)
            if root != first:
                self._user_parent[root] = first

    def _literal(self, text: str, role: str) -> None:
        """Remember a value for the free-text search (collect pass only)."""
        if self._frozen:
            return
        lower = text.strip().lower()
        if not 2 <= len(lower) <= _LITERAL_MAX or lower in _PROTECTED_WORDS:
            return
        if not _WORD_RE.search(lower):
            return
        if lower.isdigit() and len(lower) < 6:
            return  # a short number would match counts and event ids in every sentence
        position = (self._string_index, self._offset)
        known = self._literals.get(lower)
        if known is None or position < known[1]:
            self._literals[lower] = (role, position)

    def _build_index(self) -> None:
        self._index = LiteralIndex.build(
            {text: role for text, (role, _position) in self._literals.items()}
        )

    # -- roles ------------------------------------------------------------------------------

    def _apply(self, role: str, value: str) -> str:
        """Rewrite ``value`` as a value of ``role`` (and, while collecting, record it)."""
        cache_key = (role, value)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        result = self._apply_uncached(role, value)
        self._cache[cache_key] = result
        return result

    def _handlers(self) -> dict[str, Callable[[str], str]]:
        return {
            _TEXT: self._text,
            _CONFIG: self._config_text,
            _PROSE: self._prose,
            _USER: self._user,
            _USER_KEY: self._user_key,
            _DOMAIN: self._domain,
            _NETBIOS: self._netbios,
            _HOST: self._host,
            _CLIENT: self._client,
            _IP: self._ip,
            _STATION: self._station,
            _TENANT: self._tenant,
            _GUID: self._guid,
            _SID: lambda v: f"sid-{self._number('sid', v.upper())}",
            _THUMBPRINT: self._thumbprint,
            _MAC: self._mac,
            _DNS: self._dns,
        }

    def _apply_uncached(self, role: str, value: str) -> str:
        handler = self._by_role.get(role)
        return value if handler is None else handler(value)

    def _user(self, value: str) -> str:
        name = value.strip().strip(_QUOTES).strip()
        lower = name.lower()
        if lower in _EMPTY or lower in _KEPT_PRINCIPALS:
            return value
        prefix, separator, rest = name.rpartition("\\")
        if separator and prefix.lower() in _KEPT_PRINCIPAL_DOMAINS:
            return value
        key = user_key(name)
        local, at, suffix = rest.rpartition("@") if "@" in rest else (rest, "", "")
        if key is None:
            if at:
                # Masked (******@contoso.com) or a placeholder: nobody to name, but the
                # domain is still the customer's.
                out = f"{local}@{self._domain_part(suffix, upn=True)}"
                return f"{self._domain_part(prefix, upn=False)}\\{out}" if separator else out
            if separator:
                return f"{self._domain_part(prefix, upn=False)}\\{self._text(rest)}"
            # "-", "******" or a placeholder such as <USERNAME>: nobody is named, but the
            # text is still searched (without reading it as a user again).
            return self._rewrite_spans(value, config=False, whole_user=False)
        self._literal(name, _USER)
        self._literal(key, _USER)
        out = self._user_token(key)
        if at:
            out += "@" + self._domain_part(suffix, upn=True)
        if separator:
            out = f"{self._domain_part(prefix, upn=False)}\\{out}"
        return out

    def _user_key(self, value: str) -> str:
        key = value.strip().lower()
        if key in _EMPTY or key in _KEPT_PRINCIPALS:
            return value
        self._literal(key, _USER)
        return self._user_token(key)

    def _domain(self, value: str) -> str:
        return self._domain_part(value, upn=False)

    def _domain_part(self, value: str, *, upn: bool) -> str:
        """A domain as written: ``CONTOSO`` -> ``DOMAIN-1``, ``contoso.com`` -> ``domain-1.example``

        (``upn`` writes a single-label domain in lower case, as it stands after an ``@``).
        """
        name = value.strip().rstrip(".")
        lower = name.lower()
        if not name or lower in _EMPTY:
            return value
        if "." not in name:
            return self._netbios(name) if not upn else self._netbios(name).lower()
        if _kept_host(lower) or _parse_ip(name) is not None:
            return value if _parse_ip(name) is None else self._ip(name)
        body, suffix = _dns_split(lower)
        self._dns_domains.add(lower)
        self._literal(lower, _DOMAIN)
        if "." not in body:
            self._literal(body, _NETBIOS)
        return f"domain-{self._number('domain', body)}{suffix}"

    def _netbios(self, value: str) -> str:
        name = value.strip()
        lower = name.lower()
        if not name or lower in _EMPTY:
            return value
        if "." in name:
            return self._domain_part(name, upn=False)
        self._literal(lower, _NETBIOS)
        return f"DOMAIN-{self._number('domain', lower)}"

    def _host(self, value: str) -> str:
        name = value.strip()
        lower = name.lower()
        if not name or lower in _EMPTY or _kept_host(lower):
            return value
        if _parse_ip(name) is not None:
            return self._ip(name)
        prefix, separator, rest = name.rpartition("\\")
        if separator:
            return f"{self._netbios(prefix)}\\{self._host(rest)}"
        first, dot, domain = name.partition(".")
        if not dot:
            return self._host_label(name)
        self._literal(lower, _HOST)
        if _kept_host(domain.lower()) or _cloud_domain(domain.lower()):
            return f"{self._host_label(first)}.{domain}"  # a VM in a Microsoft cloud domain
        if "." not in domain.rstrip(".") and _is_tld(domain.rstrip(".")):
            return f"{self._host_label(first)}.{domain}"
        return f"{self._host_label(first)}.{self._domain_part(domain, upn=True)}"

    def _host_label(self, label: str) -> str:
        base = label.rstrip("$")
        dollars = label[len(base) :]
        if not base:
            return label
        self._literal(base, _HOST)
        return f"host-{self._number('host', base.lower())}{dollars}"

    def _client(self, value: str) -> str:
        name = value.strip()
        lower = name.lower()
        if not name or lower in _EMPTY:
            return value
        if _parse_ip(name) is not None:
            return self._ip(name)
        if ("host", lower) in self._first:
            return self._host(name)  # a RADIUS client named like a host keeps one pseudonym
        self._literal(lower, _CLIENT)
        return f"client-{self._number('client', lower)}"

    def _ip(self, value: str) -> str:
        address = _parse_ip(value)
        if address is None:
            return self._text(value)
        if _kept_ip(address):
            return value
        self._literal(value.strip(), _IP)
        if isinstance(address, ipaddress.IPv6Address):
            mapped = address.ipv4_mapped
            if mapped is not None:
                return f"::ffff:{self._ip(str(mapped))}"
            return f"ip6-{self._number('ip6', address.compressed)}"
        return f"ip-{self._number('ip4', str(address))}"

    def _station(self, value: str) -> str:
        """Called/Calling-Station-Id: a MAC (maybe with ``:SSID``), an IP or a phone number."""
        name = value.strip()
        if not name or name.lower() in _EMPTY:
            return value
        if _parse_ip(name) is not None:
            return self._ip(name)
        mac = _MAC_RE.match(name)
        if mac is not None:
            return self._mac(mac.group(0)) + self._text(name[mac.end() :])
        if _BARE_MAC_RE.fullmatch(name):
            return self._mac(name)
        self._literal(name, _STATION)
        return f"station-{self._number('station', name.lower())}"

    def _mac(self, value: str) -> str:
        self._literal(value, _MAC)
        digits = re.sub(r"[^0-9A-Fa-f]", "", value).upper()
        return f"mac-{self._number('mac', digits)}"

    def _thumbprint(self, value: str) -> str:
        digits = re.sub(r"[^0-9A-Fa-f]", "", value).upper()
        return f"thumbprint-{self._number('thumbprint', digits)}"

    def _tenant(self, value: str) -> str:
        guid = value.strip().strip("{}").lower()
        if guid in KEPT_GUIDS:
            return value
        if not self._frozen:
            self._tenants.add(guid)
        return f"tenant-{self._number('tenant', guid)}"

    def _guid(self, value: str) -> str:
        guid = value.strip().strip("{}").lower()
        # Correlation ids, states, trace ids: random per request, needed to quote to support.
        if guid in self._tenants:
            return self._tenant(value)
        return value

    def _dns(self, value: str) -> str:
        """A DNS name found in free text: a known domain, else a host in a domain."""
        name = value.rstrip(".")
        lower = name.lower()
        if not self._frozen and not self._resolving_dns:
            position = (self._string_index, self._offset)
            known = self._pending_dns.get(lower)
            if known is None or position < known:
                self._pending_dns[lower] = position
            return value
        as_host = self._dns_as_host.get(lower)
        if as_host is None:
            # Decided once (while numbering) and remembered, so every occurrence agrees.
            rest = lower.partition(".")[2]
            as_host = lower not in self._dns_domains and (
                lower.count(".") >= 2 or rest in self._dns_domains
            )
            self._dns_as_host[lower] = as_host
        return self._host(name) if as_host else self._domain_part(name, upn=True)

    # -- free text ----------------------------------------------------------------------------

    def _text(self, text: str) -> str:
        return self._rewrite_spans(text, config=False)

    def _prose(self, text: str) -> str:
        return self._rewrite_spans(text, config=False, prose=True)

    def _config_text(self, text: str) -> str:
        return self._rewrite_spans(text, config=True)

    def _rewrite_spans(
        self, text: str, *, config: bool, prose: bool = False, whole_user: bool = True
    ) -> str:
        """Rewrite every span the detectors find in ``text``.

        Args:
            text: any string.
            config: a configuration finding's value: every GUID is a tenant id.
            prose: text npsdiag wrote (titles, reasons): only patterns and collected values
                are searched, not the message shapes (``for User X``), which its wording
                could imitate.
            whole_user: False when ``text`` itself is being rewritten as a user name, so a
                span covering all of it is not read as a user again.
        """
        if not text:
            return text
        if self._domain_sweep and "\\" not in text:
            return text
        # What the patterns find does not depend on what was collected: found once, used by
        # every pass.
        cache_key = (text, config, prose)
        cached = self._pattern_spans.get(cache_key)
        if cached is None:
            cached = self._pattern_spans[cache_key] = tuple(
                self._spans(text, config=config, prose=prose)
            )
        found = list(cached)
        known = self._known_spans(text)
        if self._domain_sweep:
            # Only ``DOMAIN\\name`` is new in this sweep; it is chosen as the rewrite will.
            known = [span for span in known if span[2] == _USER]
        if not whole_user:
            found = [s for s in found if not (s[2] == _USER and s[0] == 0 and s[1] == len(text))]
            known = [s for s in known if not (s[2] == _USER and s[0] == 0 and s[1] == len(text))]
        chosen = _choose(found, known)
        if not chosen:
            return text
        pieces: list[str] = []
        last = 0
        outer = self._offset
        for start, end, role, value in chosen:
            pieces.append(text[last:start])
            self._offset = outer + start
            pieces.append(self._apply(role, value))
            last = end
        pieces.append(text[last:])
        self._offset = outer
        return "".join(pieces)

    def _spans(self, text: str, *, config: bool, prose: bool) -> list[_Span]:
        """What the pattern detectors find (collected values are searched separately)."""
        # Each detector runs only when a character its every match needs is present.
        spans: list[_Span] = []
        lower = _guard_text(text)
        if "-" in text:
            guid_role = _TENANT if config else _GUID
            for match in _GUID_RE.finditer(text):
                if match.group(1).lower() not in KEPT_GUIDS:
                    spans.append((match.start(1), match.end(1), guid_role, match.group(1)))
            if any(word in lower for word in _TENANT_CONTEXT_WORDS):
                for match in _TENANT_CONTEXT_RE.finditer(text):
                    if match.group(1).lower() not in KEPT_GUIDS:
                        spans.append((match.start(1), match.end(1), _TENANT, match.group(1)))
            if "-1-" in text:
                for match in _SID_RE.finditer(text):
                    spans.append((match.start(), match.end(), _SID, match.group(0)))
        if len(text) >= 40:
            for match in _THUMBPRINT_RE.finditer(text):
                spans.append((match.start(), match.end(), _THUMBPRINT, match.group(0)))
        if "-" in text or ":" in text or "." in text:
            for match in _MAC_RE.finditer(text):
                spans.append((match.start(), match.end(), _MAC, match.group(0)))
        if "@" in text:
            for match in _EMAIL_RE.finditer(text):
                if not _kept_email(match.group(2)):
                    spans.append((match.start(), match.end(), _USER, match.group(0)))
        if "." in text:
            spans.extend((start, end, _IP, value) for start, end, value in _ipv4_spans(text))
            spans.extend((start, end, _DNS, value) for start, end, value in _dns_spans(text))
        if text.count(":") >= 2:
            spans.extend((start, end, _IP, value) for start, end, value in _ipv6_spans(text))
        if not prose:
            spans.extend(_anchor_spans(text, lower))
            if ":" in text:
                spans.extend(_label_spans(text))
            if "domain" in lower:
                spans.extend(_phrase_spans(text, lower))
        if config:
            spans.extend(_forest_spans(text))
        return spans

    def _known_spans(self, text: str) -> list[_Span]:
        """Every collected value, wherever it stands as a whole word (case-insensitive)."""
        if not self._index:
            return []
        spans: list[_Span] = []
        lower = text.lower()
        if len(lower) != len(text):  # a character whose lower case is longer: search as is
            lower = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)
        for start, end, role in self._index.find(text, lower):
            if role == _NETBIOS:
                account = _after_domain(text, start, end)
                if account is not None:
                    spans.append(account)
            spans.append((start, end, role, text[start:end]))
        return spans

    # -- traversal ------------------------------------------------------------------------------

    def _s(self, role: str, value: str) -> str:
        self._string_index += 1
        self._offset = 0
        return self._apply(role, value)

    def _opt(self, role: str, value: str | None) -> str | None:
        return None if value is None else self._s(role, value)

    def _replace(self, item: _D, kept: frozenset[str], **changes: object) -> _D:
        """``dataclasses.replace`` that also rewrites string fields nobody listed.

        A field added to the model later is redacted as free text until it gets a rule of
        its own, rather than passed through unseen.
        """
        for spec in dataclasses.fields(item):
            name = spec.name
            if name in changes or name in kept or not spec.init:
                continue  # fields outside __init__ are caches the new object builds anew
            value = getattr(item, name)
            if isinstance(value, str):
                changes[name] = self._s(_TEXT, value)
            elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                changes[name] = type(value)(self._s(_TEXT, v) for v in value)
        return dataclasses.replace(item, **changes)

    def _rebuild(self, analysis: Analysis) -> Analysis:
        self._string_index = 0
        self._events = {}
        self._findings = {}
        if not self._frozen:
            self._cache = {}
        problems = [self._problem(problem) for problem in analysis.problems]
        incidents = self._in_report_order(analysis.incidents)
        notices = self._in_report_order(analysis.notices)
        order = sorted(range(len(analysis.sources)), key=lambda i: _source_key(analysis.sources[i]))
        sources: list[SourceStats | None] = [None] * len(analysis.sources)
        for index in order:
            sources[index] = self._source(analysis.sources[index])
        config = [self._config_row(row) for row in analysis.config_findings]
        unknown = [self._s(_TEXT, code) for code in analysis.unknown_codes]
        command_line = self._s(_TEXT, analysis.command_line)
        return self._replace(
            analysis,
            KEPT_FIELDS["Analysis"],
            problems=problems,
            incidents=incidents,
            notices=notices,
            sources=[source for source in sources if source is not None],
            unknown_codes=unknown,
            command_line=command_line,
            config_findings=config,
        )

    def _in_report_order(self, incidents: Sequence[Incident]) -> list[Incident]:
        rebuilt = {
            id(incident): self._incident(incident) for incident in sorted_incidents(incidents)
        }
        return [rebuilt[id(incident)] for incident in incidents]

    def _problem(self, problem: Problem) -> Problem:
        users = [self._s(_USER, user) for user in problem.users]
        return self._replace(
            problem,
            KEPT_FIELDS["Problem"],
            title=self._s(_PROSE, problem.title),
            users=sorted(users, key=lambda user: (user.lower(), user)),
            incident_keys=[self._s(_TEXT, key) for key in problem.incident_keys],
            because=self._s(_PROSE, problem.because),
        )

    def _incident(self, incident: Incident) -> Incident:
        return self._replace(
            incident,
            KEPT_FIELDS["Incident"],
            key=self._s(_TEXT, incident.key),
            user=self._opt(_USER, incident.user),
            findings=[self._finding(finding) for finding in incident.findings],
            diagnosis=self._diagnosis(incident.diagnosis),
        )

    def _diagnosis(self, diagnosis: Diagnosis | None) -> Diagnosis | None:
        if diagnosis is None:
            return None
        return self._replace(
            diagnosis,
            KEPT_FIELDS["Diagnosis"],
            title=self._s(_PROSE, diagnosis.title),
            because=self._s(_PROSE, diagnosis.because),
        )

    def _finding(self, finding: Finding) -> Finding:
        done = self._findings.get(id(finding))
        if done is not None:
            return done
        keys = [key.strip().lower() for key in finding.identity_keys if key and key.strip()]
        self._link_users(keys)
        rebuilt = self._replace(
            finding,
            KEPT_FIELDS["Finding"],
            event=self._event(finding.event),
            user=self._opt(_USER, finding.user),
            user_key=self._opt(_USER_KEY, finding.user_key),
            user_aliases=tuple(self._s(_USER_KEY, alias) for alias in finding.user_aliases),
            client_ip=self._opt(_IP, finding.client_ip),
            client_name=self._opt(_CLIENT, finding.client_name),
            nas_ip=self._opt(_IP, finding.nas_ip),
            detail=self._opt(_TEXT, finding.detail),
        )
        self._findings[id(finding)] = rebuilt
        return rebuilt

    def _event(self, event: Event) -> Event:
        done = self._events.get(id(event))
        if done is not None:
            return done
        # The server first: it is the host every event names, so it becomes host-1.
        computer = self._s(_HOST, event.computer)
        origin = self._s(_TEXT, event.origin)
        fields: dict[str, str] = {}
        for name, value in event.fields.items():
            new_name = self._s(_TEXT, name)
            while new_name in fields:  # two names that became one pseudonym: keep both
                new_name += "'"
            fields[new_name] = self._s(_field_role(name), value)
        data_roles = _data_roles(event)
        data = tuple(
            self._s(data_roles[i] if i < len(data_roles) else _TEXT, value)
            for i, value in enumerate(event.data)
        )
        rebuilt = self._replace(
            event,
            KEPT_FIELDS["Event"],
            computer=computer,
            origin=origin,
            fields=fields,
            data=data,
            message=self._opt(_TEXT, event.message),
        )
        self._events[id(event)] = rebuilt
        return rebuilt

    def _source(self, source: SourceStats) -> SourceStats:
        return self._replace(
            source,
            KEPT_FIELDS["SourceStats"],
            name=self._s(_TEXT, source.name),
            messages=[self._s(_TEXT, message) for message in source.messages],
        )

    def _config_row(self, row: Mapping[str, str]) -> Mapping[str, str]:
        # Every GUID of a configuration finding is a tenant id (TENANT_ID, CN=<tenant>) or the
        # application id, which is kept.
        return {
            self._s(_CONFIG, str(key)): self._s(_CONFIG, str(value)) for key, value in row.items()
        }


# ---------------------------------------------------------------------------------------------
# Span helpers
# ---------------------------------------------------------------------------------------------


def _choose(found: list[_Span], known: list[_Span]) -> list[_Span]:
    """Non-overlapping spans, in text order.

    What the patterns found comes first (leftmost, then longest, then by detector priority);
    collected values only fill the gaps, so a short value can never cut an address or a
    name a pattern recognised in two.
    """
    chosen = _leftmost_longest(found)
    if known:
        taken = [(start, end) for start, end, _role, _value in chosen]
        starts = [start for start, _end in taken]
        free = [span for span in known if not _overlaps(span, taken, starts)]
        chosen = sorted(chosen + _leftmost_longest(free))
    return chosen


def _leftmost_longest(spans: list[_Span]) -> list[_Span]:
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0]), _PRIORITY.get(s[2], 10)))
    chosen: list[_Span] = []
    end = -1
    for span in spans:
        if span[0] >= end and span[1] > span[0]:
            chosen.append(span)
            end = span[1]
    return chosen


def _overlaps(span: _Span, taken: list[tuple[int, int]], starts: list[int]) -> bool:
    """Whether ``span`` overlaps one of ``taken`` (sorted, non-overlapping)."""
    index = bisect.bisect_right(starts, span[0]) - 1
    for neighbour in (index, index + 1):
        if 0 <= neighbour < len(taken):
            start, end = taken[neighbour]
            if span[0] < end and start < span[1]:
                return True
    return False


def _after_domain(text: str, start: int, end: int) -> _Span | None:
    """``DOMAIN\\account`` for a known domain; not inside a path (``C:\\Cases\\CONTOSO\\x``)."""
    if end >= len(text) or text[end] != "\\" or (start > 0 and text[start - 1] in "\\/"):
        return None
    account = _ACCOUNT_AFTER_DOMAIN_RE.match(text, end + 1)
    if account is None:
        return None
    stop = account.end()
    while stop > end + 1 and text[stop - 1] == ".":
        stop -= 1
    if stop == end + 1:
        return None
    return start, stop, _USER, text[start:stop]


def _anchor_spans(text: str, lower: str) -> list[_Span]:
    """The user after ``for User`` / ``for the user`` (as the extractor reads it), the name
    in a Graph ``Resource '...' does not exist``, and the folder after ``Users\\``."""
    spans: list[_Span] = []
    if "for" in lower and "user" in lower:
        for count, anchor in enumerate(pat.USER_ANCHOR.finditer(text)):
            if count >= _ANCHOR_LIMIT:
                break
            for pattern in (pat.USER, pat.USER_TOKEN):
                match = pattern.match(text, anchor.end())
                if match is None:
                    continue
                start, end = _trimmed(text, match.start(1), match.end(1))
                if pattern is pat.USER_TOKEN:
                    while end > start and text[end - 1] == ".":
                        end -= 1
                if end > start:
                    spans.append((start, end, _USER, text[start:end]))
                    break
    if "resource" in lower:
        for match in _RESOURCE_RE.finditer(text):
            start, end = _trimmed(text, match.start(1), match.end(1))
            if end > start:
                spans.append((start, end, _USER, text[start:end]))
    if "users" in lower or "home" in lower:
        for match in _PROFILE_RE.finditer(text):
            if match.group(1).lower() not in _KEPT_PROFILE_FOLDERS:
                spans.append((match.start(1), match.end(1), _USER, match.group(1)))
    return spans


def _label_spans(text: str) -> list[_Span]:
    """Values of a rendered 6272-6280 (``Account Name: ...``) by what their label names."""
    if ":" not in text:
        return []
    labels = list(pat.NPS_TEXT_LABEL.finditer(text))
    spans: list[_Span] = []
    section: str | None = None
    for index, match in enumerate(labels):
        label = " ".join(match.group(1).split())
        if label in pat.NPS_TEXT_SECTIONS:
            section = label
        if label in _SECTION_LABELS:
            role = _HOST if section == "Client Machine" else _USER
        else:
            found = _LABEL_ROLES.get(label)
            if found is None:
                continue
            role = found
        stop = labels[index + 1].start() if index + 1 < len(labels) else len(text)
        newline = text.find("\n", match.end(), stop)
        start, end = _trimmed(text, match.end(), newline if newline >= 0 else stop)
        if end > start and text[start:end].lower() not in _EMPTY:
            spans.append((start, end, role, text[start:end]))
    return spans


def _phrase_spans(text: str, lower: str) -> list[_Span]:
    """``domain controller DC01.contoso.com`` and ``for domain CONTOSO`` (System 4400-4402)."""
    spans: list[_Span] = []
    for pattern, role, needs in (
        (_DC_PHRASE_RE, _HOST, "controller"),
        (_DOMAIN_PHRASE_RE, _DOMAIN, "for"),
    ):
        if needs not in lower:
            continue
        for match in pattern.finditer(text):
            start, end = match.start(1), match.end(1)
            while end > start and text[end - 1] == ".":
                end -= 1
            value = text[start:end]
            # A host or domain name, not a word of a sentence ("domain controller did not").
            if value and ("." in value or any(c.isdigit() for c in value) or value.isupper()):
                spans.append((start, end, role, value))
    return spans


def _forest_spans(text: str) -> list[_Span]:
    """LDAP_LOOKUP_FORESTS-style lists (``contoso.com;fabrikam``) when a value is only that."""
    stripped = text.strip()
    if not stripped or not re.fullmatch(r"[A-Za-z0-9.\-]+(?:[;,\s]+[A-Za-z0-9.\-]+)+", stripped):
        return []
    spans: list[_Span] = []
    position = 0
    for piece in _SPLIT_LIST_RE.split(text):
        if _FOREST_RE.fullmatch(piece):
            spans.append((position, position + len(piece), _DOMAIN, piece))
        position += len(piece)
    return spans


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in _QUOTES):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _QUOTES):
        end -= 1
    return start, end


def _dns_split(name: str) -> tuple[str, str]:
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


def _letters(index: int) -> str:
    """The letter after a person's number: none for the first name form, then b, c ..."""
    if index == 0:
        return ""
    if index < 26:
        return chr(ord("a") + index)
    return f"-{index + 1}"


def _field_role(name: str) -> str:
    leaf = pat.FIELD_PATH_SEPARATORS.split(name)[-1].lower()
    if leaf in _USER_FIELDS:
        return _USER
    if leaf in _DOMAIN_FIELDS:
        return _DOMAIN
    if leaf in _HOST_FIELDS:
        return _HOST
    if leaf in _CLIENT_FIELDS:
        return _CLIENT
    if leaf in _IP_FIELDS:
        return _IP
    if leaf in _STATION_FIELDS:
        return _STATION
    return _TEXT


def _data_roles(event: Event) -> tuple[str, ...]:
    if event.provider.lower() in pat.NPS_SYSTEM_PROVIDERS and event.event_id in _DC_EVENT_IDS:
        return (_DOMAIN,) if len(event.data) == 1 else (_HOST, _DOMAIN)
    return ()


def _source_key(source: SourceStats) -> tuple[str, str]:
    return source.name, source.kind
