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
costs a few linear passes, and collected values are searched by shape
(:mod:`npsdiag._redact_index`), so their number does not multiply the time either.

Modules: the rules (what is kept, roles, field names) are :mod:`npsdiag._redact_rules`, the
detectors that find values by their shape :mod:`npsdiag._redact_detect`; this module numbers
and rewrites.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from npsdiag._redact_detect import (
    BARE_MAC_RE,
    MAC_RE,
    UNC_RE,
    Detection,
    after_domain,
    choose,
    detect,
    pattern_spans,
    with_surnames,
)
from npsdiag._redact_index import WORD, LiteralIndex
from npsdiag._redact_rules import (
    CLIENT,
    CONFIG,
    DNS,
    DOMAIN,
    EMPTY,
    GUID,
    HOST,
    IP,
    KEPT_FIELDS,
    KEPT_GUIDS,
    KEPT_HOST_SUFFIXES,
    KEPT_PRINCIPAL_DOMAINS,
    KEPT_PRINCIPALS,
    KEPT_SHARES,
    LITERAL_MAX,
    MAC,
    NAME,
    NETBIOS,
    OBJECT,
    PATH,
    PHONE,
    PROSE,
    PROTECTED_WORDS,
    QUOTES,
    SHARE,
    SID,
    STATION,
    TENANT,
    TEXT,
    THUMBPRINT,
    UNC,
    USER,
    USER_KEY,
    cloud_domain,
    dns_split,
    is_tld,
    kept_host,
    kept_ip,
    letters,
    parse_ip,
)
from npsdiag._redact_walk import AnalysisWalk
from npsdiag.evidence import MEMORY, EvidenceStore
from npsdiag.extract import user_key
from npsdiag.model import Analysis

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

#: Dots and digits right after a replaced value (see ``_Redactor._rewrite_spans``).
_DOTTED_TAIL = re.compile(r"(?:\.\d+)+")


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
# The redactor
# ---------------------------------------------------------------------------------------------

_Position = tuple[int, int]

_D = TypeVar("_D", bound="DataclassInstance")

_Span = tuple[int, int, str, str]  # start, end, role, value


class _Redactor(AnalysisWalk):
    """Collects values, numbers them, then rewrites the analysis (one instance per run)."""

    def __init__(self) -> None:
        super().__init__()
        self._frozen = False
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
        self._objects: set[str] = set()
        self._literals: dict[str, tuple[str, _Position]] = {}
        self._index = LiteralIndex.build({})
        self._cache: dict[tuple[str, str], str] = {}
        self._by_role = self._handlers()
        self._pattern_spans: dict[tuple[str, bool, bool], tuple[_Span, ...]] = {}

    # -- passes ---------------------------------------------------------------------------

    def collect(self, analysis: Analysis) -> None:
        """Record every value with its first position, then number them."""
        self._rebuild(analysis)
        # A second, light sweep looks for ``DOMAIN\\name`` with every domain the first one
        # collected, so a name is found in free text even where only a message named DOMAIN.
        self._build_index()
        if any(role == NETBIOS for role, _position in self._literals.values()):
            self._domain_sweep = True
            self._rebuild(analysis)
            self._domain_sweep = False
        self._freeze()

    def rewrite(self, analysis: Analysis) -> Analysis:
        """Build the redacted copy (after :meth:`collect`).

        Its events' payloads go to a store of their own, kept as the original's was.
        """
        redacted = self._rebuild(analysis)
        source = analysis.evidence
        store = EvidenceStore(source.mode if source is not None else MEMORY)
        for item in (*redacted.incidents, *redacted.notices):
            for finding in item.findings:
                store.release(finding.event)
        redacted.evidence = store
        return redacted

    def _start_pass(self) -> None:
        if not self._frozen:
            self._cache = {}

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
                self._user_labels[key] = f"{number}{letters(index)}"
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
        if not 2 <= len(lower) <= LITERAL_MAX or lower in PROTECTED_WORDS:
            return
        if not WORD.search(lower):
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
            TEXT: self._text,
            CONFIG: self._config_text,
            PROSE: self._prose,
            USER: self._user,
            USER_KEY: self._user_key,
            DOMAIN: self._domain,
            NETBIOS: self._netbios,
            HOST: self._host,
            CLIENT: self._client,
            IP: self._ip,
            STATION: self._station,
            TENANT: self._tenant,
            GUID: self._guid,
            SID: lambda v: f"sid-{self._number('sid', v.upper())}",
            THUMBPRINT: self._thumbprint,
            MAC: self._mac,
            DNS: self._dns,
            PHONE: self._phone,
            UNC: self._unc,
            SHARE: self._share,
            PATH: self._path,
            NAME: self._name,
            OBJECT: self._object,
        }

    def _apply_uncached(self, role: str, value: str) -> str:
        handler = self._by_role.get(role)
        return value if handler is None else handler(value)

    def _user(self, value: str) -> str:
        name = value.strip().strip(QUOTES).strip()
        lower = name.lower()
        if lower in EMPTY or lower in KEPT_PRINCIPALS:
            return value
        prefix, separator, rest = name.rpartition("\\")
        if separator and prefix.lower() in KEPT_PRINCIPAL_DOMAINS:
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
        self._literal(name, USER)
        self._literal(key, USER)
        out = self._user_token(key)
        if at:
            out += "@" + self._domain_part(suffix, upn=True)
        if separator:
            out = f"{self._domain_part(prefix, upn=False)}\\{out}"
        return out

    def _user_key(self, value: str) -> str:
        key = value.strip().lower()
        if key in EMPTY or key in KEPT_PRINCIPALS:
            return value
        self._literal(key, USER)
        return self._user_token(key)

    def _domain(self, value: str) -> str:
        return self._domain_part(value, upn=False)

    def _domain_part(self, value: str, *, upn: bool) -> str:
        """A domain as written: ``CONTOSO`` -> ``DOMAIN-1``, ``contoso.com`` -> ``domain-1.example``

        (``upn`` writes a single-label domain in lower case, as it stands after an ``@``).
        """
        name = value.strip().rstrip(".")
        lower = name.lower()
        if not name or lower in EMPTY:
            return value
        if "." not in name:
            return self._netbios(name) if not upn else self._netbios(name).lower()
        if kept_host(lower) or parse_ip(name) is not None:
            return value if parse_ip(name) is None else self._ip(name)
        body, suffix = dns_split(lower)
        self._dns_domains.add(lower)
        self._literal(lower, DOMAIN)
        if "." not in body:
            self._literal(body, NETBIOS)
        return f"domain-{self._number('domain', body)}{suffix}"

    def _netbios(self, value: str) -> str:
        name = value.strip()
        lower = name.lower()
        if not name or lower in EMPTY:
            return value
        if "." in name:
            return self._domain_part(name, upn=False)
        self._literal(lower, NETBIOS)
        return f"DOMAIN-{self._number('domain', lower)}"

    def _host(self, value: str) -> str:
        name = value.strip()
        lower = name.lower()
        if not name or lower in EMPTY or kept_host(lower):
            return value
        if parse_ip(name) is not None:
            return self._ip(name)
        prefix, separator, rest = name.rpartition("\\")
        if separator:
            return f"{self._netbios(prefix)}\\{self._host(rest)}"
        first, dot, domain = name.partition(".")
        if not dot:
            return self._host_label(name)
        self._literal(lower, HOST)
        if kept_host(domain.lower()) or cloud_domain(domain.lower()):
            return f"{self._host_label(first)}.{domain}"  # a VM in a Microsoft cloud domain
        if "." not in domain.rstrip(".") and is_tld(domain.rstrip(".")):
            return f"{self._host_label(first)}.{domain}"
        return f"{self._host_label(first)}.{self._domain_part(domain, upn=True)}"

    def _host_label(self, label: str) -> str:
        base = label.rstrip("$")
        dollars = label[len(base) :]
        if not base:
            return label
        self._literal(base, HOST)
        return f"host-{self._number('host', base.lower())}{dollars}"

    def _client(self, value: str) -> str:
        name = value.strip()
        lower = name.lower()
        if not name or lower in EMPTY:
            return value
        if parse_ip(name) is not None:
            return self._ip(name)
        if ("host", lower) in self._first:
            return self._host(name)  # a RADIUS client named like a host keeps one pseudonym
        self._literal(lower, CLIENT)
        return f"client-{self._number('client', lower)}"

    def _ip(self, value: str) -> str:
        address = parse_ip(value)
        if address is None:
            return self._text(value)
        written = value.strip()
        if "%" in written:
            # A zone after an IPv6 address (fe80::1%12): the address and the zone each on
            # their own, so that nothing written after the "%" is kept because of the address.
            head, _, zone = written.partition("%")
            return f"{self._ip(head)}%{self._text(zone)}"
        bare = written.strip("[]")
        cut = bare.rfind(":") + 1
        if isinstance(address, ipaddress.IPv6Address) and parse_ip(bare[cut:]) is not None:
            # An IPv4 address written inside an IPv6 one (::ffff:10.0.1.20, ::0.0.0.1): the
            # dotted quad is what a reader sees, so it is what is kept or replaced.
            return bare[:cut] + self._ip(bare[cut:])
        if kept_ip(address):
            return value
        self._literal(value.strip(), IP)
        if isinstance(address, ipaddress.IPv6Address):
            return f"ip6-{self._number('ip6', address.compressed)}"
        return f"ip-{self._number('ip4', str(address))}"

    def _station(self, value: str) -> str:
        """Called/Calling-Station-Id: a MAC (maybe with ``:SSID``), an IP or a phone number."""
        name = value.strip()
        if not name or name.lower() in EMPTY:
            return value
        if parse_ip(name) is not None:
            return self._ip(name)
        mac = MAC_RE.match(name)
        if mac is not None:
            return self._mac(mac.group(0)) + self._text(name[mac.end() :])
        if BARE_MAC_RE.fullmatch(name):
            return self._mac(name)
        self._literal(name, STATION)
        return f"station-{self._number('station', name.lower())}"

    def _mac(self, value: str) -> str:
        self._literal(value, MAC)
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
        if guid in self._objects:
            return self._object(value)
        return value

    def _object(self, value: str) -> str:
        """The id of a user, device or group in the directory (a Graph URL names them)."""
        guid = value.strip().strip("{}").lower()
        if guid in KEPT_GUIDS:
            return value
        if guid in self._tenants:
            return self._tenant(value)
        if not self._frozen:
            self._objects.add(guid)
        return f"object-{self._number('object', guid)}"

    def _phone(self, value: str) -> str:
        digits = "".join(char for char in value if char.isdigit())
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]  # +1 425 ... and 425 ... are the same North American number
        self._literal(value, PHONE)
        return f"phone-{self._number('phone', digits)}"

    def _unc(self, value: str) -> str:
        """``\\\\server\\share\\folders``: the server as a host, the share and the folders
        after it (a home folder is named after its user) as pseudonyms of their own."""
        match = UNC_RE.fullmatch(value)
        if match is None:  # pragma: no cover - spans of this role are UNC_RE's matches
            return self._path(value)
        server, share, rest = match.groups()
        out = f"\\\\{self._host(server)}\\{self._share(share)}"
        folders = rest.strip("\\")
        return out + f"\\{self._path(folders)}" if folders else out

    def _share(self, share: str) -> str:
        lower = share.lower()
        if lower in KEPT_SHARES or (len(lower) == 2 and lower[0].isalpha() and lower[1] == "$"):
            return share
        self._literal(share, SHARE)
        return f"share-{self._number('share', lower)}"

    def _path(self, folders: str) -> str:
        """The folders of a UNC path after its share, as one pseudonym."""
        self._literal(folders, PATH)
        return f"path-{self._number('path', folders.strip().lower())}"

    def _name(self, value: str) -> str:
        """A name in an X.500 name (``CN=First Last``, ``O=Contoso Ltd``)."""
        self._literal(value, NAME)
        return f"name-{self._number('name', value.strip().lower())}"

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
                pattern_spans(text, config=config, prose=prose)
            )
        found = list(cached)
        known = self._known_spans(text)
        if self._domain_sweep:
            # Only ``DOMAIN\\name`` is new in this sweep; it is chosen as the rewrite will.
            known = [span for span in known if span[2] == USER]
        if not whole_user:
            found = [s for s in found if not (s[2] == USER and s[0] == 0 and s[1] == len(text))]
            known = [s for s in known if not (s[2] == USER and s[0] == 0 and s[1] == len(text))]
        chosen = choose(found, known)
        if not chosen:
            return text
        if not prose and "aadsts" in text.lower():
            chosen = self._surnames(text, chosen)
        pieces: list[str] = []
        last = 0
        outer = self._offset
        for start, end, role, value in chosen:
            pieces.append(text[last:start])
            self._offset = outer + start
            replacement = self._apply(role, value)
            pieces.append(replacement)
            last = end
            if replacement[-1:].isdigit():
                # "S-1-5-21-0-0-0000.2.0.0" must not become "sid-1.2.0.0": a dotted run of
                # digits after a pseudonym's number would read as an address.
                tail = _DOTTED_TAIL.match(text, end)
                if tail is not None:
                    last = tail.end()
        pieces.append(text[last:])
        self._offset = outer
        return "".join(pieces)

    def _surnames(self, text: str, chosen: list[_Span]) -> list[_Span]:
        """``chosen`` with surnames after user names (see ``with_surnames``); a name and the
        same name with its surname are one person (``user-1``, ``user-1b``)."""
        extended = with_surnames(text, chosen)
        if not self._frozen:
            for before, after in zip(chosen, extended, strict=True):
                if before != after:
                    keys = [user_key(before[3]), user_key(after[3])]
                    self._link_users([key.strip().lower() for key in keys if key])
        return extended

    def _known_spans(self, text: str) -> list[_Span]:
        """Every collected value, wherever it stands as a whole word (case-insensitive)."""
        if not self._index:
            return []
        spans: list[_Span] = []
        lower = text.lower()
        if len(lower) != len(text):  # a character whose lower case is longer: search as is
            lower = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)
        for start, end, role in self._index.find(text, lower):
            if role == NETBIOS:
                account = after_domain(text, start, end)
                if account is not None:
                    spans.append(account)
            spans.append((start, end, role, text[start:end]))
        return spans
