"""Find sensitive values in a string by their shape: the detectors of redaction.

Every pattern is bounded and anchored the way :mod:`npsdiag._patterns` is, so hostile text
costs a few linear passes. :func:`pattern_spans` gives what every detector finds in one string
(``(start, end, role, value)``), :func:`choose` picks the spans to rewrite, and :func:`detect`
is the public view of the same detectors (``npsdiag.redact.detect``).
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from npsdiag import _patterns as pat
from npsdiag._redact_rules import (
    ANCHOR_LIMIT,
    DNS,
    DOMAIN,
    EMPTY,
    FILE_EXTENSIONS,
    GUID,
    HOST,
    IP,
    IPV4_RE,
    KEPT_CONTAINERS,
    KEPT_GUIDS,
    KEPT_ISSUERS,
    KEPT_PROFILE_FOLDERS,
    LABEL_ROLES,
    MAC,
    NAME,
    NOT_SURNAMES,
    OBJECT,
    PHONE,
    PRIORITY,
    PROTECTED_WORDS,
    QUOTES,
    SECTION_LABELS,
    SID,
    TENANT,
    THUMBPRINT,
    UNC,
    USER,
    is_tld,
    kept_email,
    kept_host,
    kept_ip,
    kept_ipv4,
    parse_ip,
)

_Span = tuple[int, int, str, str]  # start, end, role, value


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

#: Certificate thumbprints: SHA-1 (40 hex digits) and SHA-256 (64), bare or in pairs.
_THUMBPRINT_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{40}"
    r"|(?:[0-9A-Fa-f]{2}[ :]){31}[0-9A-Fa-f]{2}|(?:[0-9A-Fa-f]{2}[ :]){19}[0-9A-Fa-f]{2})"
    r"(?![0-9A-Za-z])"
)
MAC_RE = re.compile(
    r"(?<![0-9A-Za-z:.-])(?:[0-9A-Fa-f]{2}([-:])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})"
    r"(?![0-9A-Za-z]|[-:.][0-9A-Fa-f])"
)

BARE_MAC_RE = re.compile(r"[0-9A-Fa-f]{12}")
#: Twelve hex digits alone in free text, with a letter and a digit among them (a number of
#: twelve digits is more often a count or an id than a MAC address).
_BARE_MAC_TEXT_RE = re.compile(
    r"(?<![\w.:-])(?=[0-9A-Fa-f]{0,11}[A-Fa-f])(?=[0-9A-Fa-f]{0,11}[0-9])[0-9A-Fa-f]{12}(?![\w.-])"
)
#: Phone numbers: international (``+``, then groups split by a space, dot, dash or a
#: parenthesised area code; or 8 to 15 digits in one run) or North American (3-3-4 digits,
#: area code and exchange starting 2-9), never inside a word, a number, a time or a path.
#: Every group is bounded and every split needs a separator, so there is nothing to backtrack.
_PHONE_RE = re.compile(
    r"(?<![\w+.:/\\-])"
    r"(?:\+\d{1,3}(?:[ .-]?\(\d{1,4}\)|[ .-]\d{1,8}){1,6}|\+\d{8,15}"
    r"|\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]?\d{4})"
    r"(?!\w|[.:/\\-]\w|[ .-]?\d)"
)
#: Words just before a bare number that make it a code, not a phone number.
_NUMBER_CONTEXT_RE = re.compile(
    r"(?:code|error|hresult|status|result|record|handle|id|0x|number of)\W{0,3}\Z", re.I
)
#: A UNC path: ``\\server\share`` and the folders after it. A folder name may hold spaces
#: before words that start with a capital or a digit (``\\FS01\home\Alice Smith``); a
#: lower-case word after a space is the sentence going on, and so are ``;`` and ``,``.
_PATH_PART = r"[^\\/\s:*?\"<>|;,]{1,255}(?: [A-Z0-9][^\\/\s:*?\"<>|;,]{0,254}){0,4}"
UNC_RE = re.compile(
    r"(?<![\w\\])\\\\([A-Za-z0-9][A-Za-z0-9.-]{0,253})\\([^\\/\s:*?\"<>|]{1,80})"
    rf"((?:\\{_PATH_PART}){{0,32}})"
)
#: Parts of an X.500 name (certificate subjects and issuers, LDAP paths) that name someone:
#: ``CN=`` (not a GUID: that is a tenant) and ``O=``, up to five words, and ``DC=`` labels.
_DN_PART_RE = re.compile(
    r"(?<![\w-])(?:(CN|O)\s{0,4}=\s{0,4}(?![{]?[0-9A-Fa-f]{8}-)"
    r"([^\s,;/+=\"<>\\]{1,64}(?: [^\s,;/+=\"<>\\]{1,64}){0,4})"
    r"|(DC)\s{0,4}=\s{0,4}([A-Za-z0-9-]{1,63}))",
    re.IGNORECASE,
)
#: Microsoft Graph and Azure AD Graph URLs, whose paths hold object ids of users and devices.
_GRAPH_URL_RE = re.compile(
    r"https?://(graph\.microsoft\.(?:com|us|de)|dod-graph\.microsoft\.us"
    r"|graph\.windows\.net|(?:microsoft)?graph\.chinacloudapi\.cn)(/[^\s'\"<>]{0,2048})",
    re.IGNORECASE,
)
#: A word right after a name: its surname when capitalised, in the texts that write them.
_SURNAME_RE = re.compile(r" ([^\W\d_](?:[^\W\d_]|['\u2019-]){1,30})(?![\w@\\/])")

_LOCAL_CHARS = r"A-Za-z0-9._%+*!#$&=?^{|}~-"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"

_EMAIL_RE = re.compile(
    rf"(?<![{_LOCAL_CHARS}])([{_LOCAL_CHARS}]{{1,256}})@({_LABEL}(?:\.{_LABEL}){{0,16}})"
)


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


# ---------------------------------------------------------------------------------------------
# Public detection
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Detection:
    """One sensitive value found by the pattern detectors.

    Attributes:
        kind: ``email``, ``ipv4``, ``ipv6``, ``mac``, ``phone``, ``sid``, ``thumbprint``,
            ``tenant``, ``object`` (an id in a Graph URL), ``unc``, ``name`` (``CN=``, ``O=``),
            ``domain`` (``DC=``) or ``dns``.
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
    addresses other than loopback and unspecified ones, MAC addresses (bare twelve hex digits
    too), phone numbers, account SIDs, certificate thumbprints, GUIDs in tenant positions and
    in Graph URLs, UNC paths, names in X.500 names and DNS names outside Microsoft's
    domains. Overlapping finds are all listed.
    """
    found: list[Detection] = []
    for match in _EMAIL_RE.finditer(text):
        if not kept_email(match.group(2)):
            found.append(Detection("email", match.group(0), match.start(), match.end()))
    for start, end, value in _ipv4_spans(text):
        found.append(Detection("ipv4", value, start, end))
    for start, end, value in _ipv6_spans(text):
        found.append(Detection("ipv6", value, start, end))
    for match in MAC_RE.finditer(text):
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
    for match in _BARE_MAC_TEXT_RE.finditer(text):
        found.append(Detection("mac", match.group(0), match.start(), match.end()))
    for match in UNC_RE.finditer(text):
        found.append(Detection("unc", match.group(0), match.start(), match.end()))
    kinds = {PHONE: "phone", NAME: "name", DOMAIN: "domain", OBJECT: "object", TENANT: "tenant"}
    for start, end, role, value in (*_phone_spans(text), *_dn_spans(text), *_graph_spans(text)):
        found.append(Detection(kinds[role], value, start, end))
    found = list({(item.start, item.end, item.kind): item for item in found}.values())
    found.sort(key=lambda item: (item.start, item.end, item.kind))
    return found


def pattern_spans(text: str, *, config: bool, prose: bool) -> list[_Span]:
    """What the pattern detectors find in ``text`` (collected values are searched separately).

    Args:
        text: any string.
        config: a configuration finding's value: every GUID is a tenant id.
        prose: text npsdiag wrote: message shapes (``for User X``) are not searched.
    """
    # Each detector runs only when a character its every match needs is present.
    spans: list[_Span] = []
    lower = _guard_text(text)
    if "-" in text:
        guid_role = TENANT if config else GUID
        for match in _GUID_RE.finditer(text):
            if match.group(1).lower() not in KEPT_GUIDS:
                spans.append((match.start(1), match.end(1), guid_role, match.group(1)))
        if any(word in lower for word in _TENANT_CONTEXT_WORDS):
            for match in _TENANT_CONTEXT_RE.finditer(text):
                if match.group(1).lower() not in KEPT_GUIDS:
                    spans.append((match.start(1), match.end(1), TENANT, match.group(1)))
        if "-1-" in text:
            for match in _SID_RE.finditer(text):
                spans.append((match.start(), match.end(), SID, match.group(0)))
    if len(text) >= 40:
        for match in _THUMBPRINT_RE.finditer(text):
            spans.append((match.start(), match.end(), THUMBPRINT, match.group(0)))
    if "-" in text or ":" in text or "." in text:
        for match in MAC_RE.finditer(text):
            spans.append((match.start(), match.end(), MAC, match.group(0)))
    if "@" in text:
        for match in _EMAIL_RE.finditer(text):
            if not kept_email(match.group(2)):
                spans.append((match.start(), match.end(), USER, match.group(0)))
    if "." in text:
        spans.extend((start, end, IP, value) for start, end, value in _ipv4_spans(text))
        spans.extend((start, end, DNS, value) for start, end, value in _dns_spans(text))
    if text.count(":") >= 2:
        spans.extend((start, end, IP, value) for start, end, value in _ipv6_spans(text))
    if not prose:
        spans.extend(_anchor_spans(text, lower))
        if ":" in text:
            spans.extend(_label_spans(text))
        if "domain" in lower:
            spans.extend(_phrase_spans(text, lower))
    if config:
        spans.extend(_forest_spans(text))
    if len(text) >= 10:
        spans.extend(_phone_spans(text))
    if len(text) >= 12:
        for match in _BARE_MAC_TEXT_RE.finditer(text):
            spans.append((match.start(), match.end(), MAC, match.group(0)))
    if "\\\\" in text:
        for match in UNC_RE.finditer(text):
            spans.append((match.start(), match.end(), UNC, match.group(0)))
    if "=" in text:
        spans.extend(_dn_spans(text))
    if "graph." in lower:
        spans.extend(_graph_spans(text))
    return spans


def with_surnames(text: str, chosen: list[_Span]) -> list[_Span]:
    """``chosen`` with each user name that a capitalised word follows extended over it.

    Texts that quote display names (AADSTS messages) write ``alice Smith`` where the name
    collected is ``alice``: the word after it is the surname, unless it is a word of the
    product's messages (``Trace``, ``The``, ``Does`` ...). Only names without ``@`` or ``\\``
    are extended, and never over the next span.
    """
    extended: list[_Span] = []
    for index, (start, end, role, value) in enumerate(chosen):
        if role == USER and "@" not in value and "\\" not in value:
            match = _SURNAME_RE.match(text, end)
            limit = chosen[index + 1][0] if index + 1 < len(chosen) else len(text)
            word = match.group(1) if match is not None else ""
            if (
                match is not None
                and match.end() <= limit
                and word[0].isupper()
                and not word.isupper()  # MFA, ID: an acronym, not a name
                and word.lower() not in NOT_SURNAMES
                and word.lower() not in PROTECTED_WORDS
            ):
                end = match.end()
                value = text[start:end]
        extended.append((start, end, role, value))
    return extended


# ---------------------------------------------------------------------------------------------
# Pattern helpers
# ---------------------------------------------------------------------------------------------


def _ipv4_spans(text: str) -> Iterable[tuple[int, int, str]]:
    for match in IPV4_RE.finditer(text):
        octets = [int(part) for part in match.group(0).split(".")]
        if all(octet <= 255 for octet in octets) and not kept_ipv4(octets):
            yield match.start(), match.end(), match.group(0)


def _ipv6_spans(text: str) -> Iterable[tuple[int, int, str]]:
    for match in _IPV6_RUN_RE.finditer(text):
        run = match.group(0)
        if run.count(":") < 2:
            continue
        found = _ipv6_in_run(run)
        if found is None:
            continue
        offset, value = found
        address = parse_ip(value)
        if address is not None and not kept_ip(address):
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
        if candidate.count(":") >= 2 and isinstance(parse_ip(candidate), ipaddress.IPv6Address):
            return offset, candidate
    return None


def _dns_spans(text: str) -> Iterable[tuple[int, int, str]]:
    for match in _DNS_RE.finditer(text):
        name = match.group(1)
        labels = name.split(".")
        while len(labels) > 2 and labels[-1].lower() in FILE_EXTENSIONS:
            labels.pop()
        if not is_tld(labels[-1]):
            continue
        name = ".".join(labels)
        if kept_host(name.lower()):
            continue
        yield match.start(1), match.start(1) + len(name), name


def _guard_text(text: str) -> str:
    """``text`` lower-cased for literal guards of case-insensitive patterns.

    Python's case-insensitive matching also takes ``İ ı ſ K`` for ``i i s k``; mapping them
    the same way keeps a guard from skipping text its pattern would match.
    """
    lower = text.lower()
    if lower.isascii():
        return lower
    return lower.replace("\u0307", "").replace("\u0131", "i").replace("\u017f", "s")


def _phone_spans(text: str) -> Iterable[_Span]:
    for match in _PHONE_RE.finditer(text):
        value = match.group(0)
        if value.startswith("+"):
            if not 8 <= sum(char.isdigit() for char in value) <= 15:
                continue
        elif value.isdigit() and _NUMBER_CONTEXT_RE.search(
            text, max(0, match.start() - 24), match.start()
        ):
            continue  # "error code 2147942405": a number, not a phone
        yield match.start(), match.end(), PHONE, value


def _dn_spans(text: str) -> Iterable[_Span]:
    """``CN=First Last``, ``O=Contoso Ltd`` and ``DC=contoso`` in X.500 names."""
    for match in _DN_PART_RE.finditer(text):
        if match.group(4) is not None:  # DC=label
            if not is_tld(match.group(4).lower()):
                yield match.start(4), match.end(4), DOMAIN, match.group(4)
            continue
        start, end = match.start(2), match.end(2)
        while end > start and text[end - 1] in ".:":
            end -= 1
        value = text[start:end]
        lower = value.lower()
        if not value or lower in PROTECTED_WORDS or lower in EMPTY:
            continue
        first = lower.split()[0]
        if first in KEPT_ISSUERS or (match.group(1).upper() == "CN" and lower in KEPT_CONTAINERS):
            continue
        if "." in value and " " not in value:
            continue  # a DNS name: the DNS detector rewrites it as a host or domain
        yield start, end, NAME, value


def _graph_spans(text: str) -> Iterable[_Span]:
    """Object ids in Microsoft Graph URLs (``/users/<id>``); in Azure AD Graph, whose first
    path segment is the tenant, that one is the tenant."""
    for url in _GRAPH_URL_RE.finditer(text):
        path = url.start(2)
        azure_ad = url.group(1).lower() == "graph.windows.net"
        for match in _GUID_RE.finditer(text, path, url.end(2)):
            guid = match.group(1)
            if guid.lower() in KEPT_GUIDS:
                continue
            first = not text[path + 1 : match.start(1)].strip("{")
            role = TENANT if azure_ad and first else OBJECT
            yield match.start(1), match.end(1), role, guid


# ---------------------------------------------------------------------------------------------
# Span helpers
# ---------------------------------------------------------------------------------------------


def choose(found: list[_Span], known: list[_Span]) -> list[_Span]:
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
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0]), PRIORITY.get(s[2], 10)))
    chosen: list[_Span] = []
    end = -1
    for span in spans:
        if span[1] <= span[0]:
            continue
        if span[0] >= end:
            chosen.append(span)
            end = span[1]
        elif span[1] > end and (span[2] in _SWALLOWED or (span[2] == USER and "@" in span[3])):
            # An address that starts inside the chosen span and runs past it
            # ("S-1-5-21-0-0-1.0.0.0") is swallowed whole: cutting it would leave its
            # tail to join the pseudonym's digits into a new address.
            start, _end, role, value = chosen[-1]
            chosen[-1] = (start, span[1], role, value)
            end = span[1]
    return chosen


#: Roles whose tail must never survive next to a pseudonym (with e-mail addresses).
_SWALLOWED = frozenset({IP, MAC})


def _overlaps(span: _Span, taken: list[tuple[int, int]], starts: list[int]) -> bool:
    """Whether ``span`` overlaps one of ``taken`` (sorted, non-overlapping)."""
    index = bisect.bisect_right(starts, span[0]) - 1
    for neighbour in (index, index + 1):
        if 0 <= neighbour < len(taken):
            start, end = taken[neighbour]
            if span[0] < end and start < span[1]:
                return True
    return False


def after_domain(text: str, start: int, end: int) -> _Span | None:
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
    return start, stop, USER, text[start:stop]


def _anchor_spans(text: str, lower: str) -> list[_Span]:
    """The user after ``for User`` / ``for the user`` (as the extractor reads it), the name
    in a Graph ``Resource '...' does not exist``, and the folder after ``Users\\``."""
    spans: list[_Span] = []
    if "for" in lower and "user" in lower:
        for count, anchor in enumerate(pat.USER_ANCHOR.finditer(text)):
            if count >= ANCHOR_LIMIT:
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
                    spans.append((start, end, USER, text[start:end]))
                    break
    if "resource" in lower:
        for match in _RESOURCE_RE.finditer(text):
            start, end = _trimmed(text, match.start(1), match.end(1))
            if end > start:
                spans.append((start, end, USER, text[start:end]))
    if "users" in lower or "home" in lower:
        for match in _PROFILE_RE.finditer(text):
            if match.group(1).lower() not in KEPT_PROFILE_FOLDERS:
                spans.append((match.start(1), match.end(1), USER, match.group(1)))
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
        if label in SECTION_LABELS:
            role = HOST if section == "Client Machine" else USER
        else:
            found = LABEL_ROLES.get(label)
            if found is None:
                continue
            role = found
        stop = labels[index + 1].start() if index + 1 < len(labels) else len(text)
        newline = text.find("\n", match.end(), stop)
        start, end = _trimmed(text, match.end(), newline if newline >= 0 else stop)
        if end > start and text[start:end].lower() not in EMPTY:
            spans.append((start, end, role, text[start:end]))
    return spans


def _phrase_spans(text: str, lower: str) -> list[_Span]:
    """``domain controller DC01.contoso.com`` and ``for domain CONTOSO`` (System 4400-4402)."""
    spans: list[_Span] = []
    for pattern, role, needs in (
        (_DC_PHRASE_RE, HOST, "controller"),
        (_DOMAIN_PHRASE_RE, DOMAIN, "for"),
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
            spans.append((position, position + len(piece), DOMAIN, piece))
        position += len(piece)
    return spans


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in QUOTES):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in QUOTES):
        end -= 1
    return start, end
