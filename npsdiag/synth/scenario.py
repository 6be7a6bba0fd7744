"""Scenario files: load a declarative YAML description of what happened on an NPS server.

A scenario is data, not code: the users, the RADIUS clients, the registry, the traffic
(how many requests of which outcome, from whom, when) and what a correct diagnosis says.
:func:`load_scenario` validates it strictly and reports every problem at once, each named
by file and key path, e.g. ``scenarios/x.yaml: traffic[2].users: unknown user 'bob'``.
The full reference of keys and values is docs/samples.md.
"""

from __future__ import annotations

import ipaddress
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from npsdiag.errors import ScenarioError
from npsdiag.synth.messages import AADSTS_CODES, ALTERNATE_LOGIN_ID_MESSAGES, REASON_TEXTS

__all__ = [
    "FORMS",
    "METHODS",
    "OUTCOMES",
    "PROTOCOLS",
    "Expected",
    "NasClient",
    "Noise",
    "RegValue",
    "Registry",
    "Scenario",
    "TrafficItem",
    "TrafficOptions",
    "User",
    "format_duration",
    "load_scenario",
    "load_shipped",
    "parse_duration",
    "parse_scenario",
    "radius_name",
    "scale_traffic",
    "shipped_names",
    "shipped_path",
]

#: How a user name appears in RADIUS requests.
FORMS = ("upn", "netbios", "bare")
#: A user's default MFA method (``none`` = nothing registered).
METHODS = ("push", "phone", "totp", "sms", "none")
#: RADIUS authentication protocols of a client.
PROTOCOLS = ("pap", "mschapv2", "eap")
#: NAS-Port-Type values as NPS renders them.
PORT_TYPES = ("Virtual", "Wireless - IEEE 802.11", "Ethernet", "Async")

#: Traffic outcomes and the options each accepts (with defaults applied at load).
OUTCOMES: Mapping[str, tuple[str, ...]] = {
    "success": (),
    "ests_token_error": ("aadsts", "wording", "nps_result"),
    "user_not_found": (),
    "bec_access_denied": (),
    "no_default_method": (),
    "proof_data_not_found": (),
    "otp_no_answer": (),
    "request_missing_code": ("obfuscated_cid",),
    "primary_auth_failure": ("reason",),
    "client_timeout": ("final", "approve_after"),
    "https_communication_error": ("schannel", "nps_result"),
    "http_connect_error": ("schannel", "nps_result"),
    "alternate_login_id_error": ("variant",),
    "wrong_code": (),
    "unknown_radius_client": ("ip",),
    "shared_secret_mismatch": (),
}

# Outcomes that never reach the extension (NPS drops the packet first).
_NO_USER_OUTCOMES = frozenset({"unknown_radius_client", "shared_secret_mismatch"})
_NO_NAS_OUTCOMES = frozenset({"unknown_radius_client"})
# Outcomes that need the user to be asked for a one-time code.
_OTP_OUTCOMES = frozenset({"otp_no_answer", "request_missing_code", "wrong_code"})
# Outcomes produced by the extension (impossible when the extension is not loaded).
_EXTENSION_OUTCOMES = frozenset(OUTCOMES) - _NO_USER_OUTCOMES - {"primary_auth_failure"}
#: Reason codes a primary (AD / policy) failure can carry: every known code except the
#: success code and the extension's own codes.
PRIMARY_REASONS = tuple(sorted(set(REASON_TEXTS) - {0, 1, 3, 9, 21}))

_AZURE_MFA_KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\AzureMfa"
_AUTHSRV_KEY = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\AuthSrv\\Parameters"
_EXT_DIR = "C:\\Program Files\\Microsoft\\AzureMfa\\Extensions\\"

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_COMPUTER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
_NETBIOS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
_DNS_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")
_SAM_RE = re.compile(r"^[^\s@\\/\"\[\]:;|=+*?<>,]{1,20}$")
_REGNAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
_PROBLEM_ID_RE = re.compile(r"^(ext|nps|sys)\.[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)?$")
_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_RATE_RE = re.compile(r"^(\d+(?:\.\d+)?)/(s|m|h)$")
_MAX_DURATION = timedelta(days=31)


# ------------------------------------------------------------------------------ model


@dataclass(frozen=True, slots=True)
class User:
    """A directory user.

    Attributes:
        name: the id traffic items refer to.
        upn: user principal name (the cloud identity).
        sam: sAMAccountName.
        form: how the RADIUS client sends the name: ``upn``, ``netbios`` (DOMAIN\\sam) or
            ``bare`` (sam).
        method: default MFA method: push, phone, totp, sms or none.
    """

    name: str
    upn: str
    sam: str
    form: str
    method: str


@dataclass(frozen=True, slots=True)
class NasClient:
    """A RADIUS client (VPN gateway, RD Gateway, access point).

    Attributes:
        name: friendly name as configured in NPS.
        ip: client IPv4 address.
        protocol: pap, mschapv2 or eap (PEAP with EAP-MSCHAPv2).
        timeout: seconds the client waits before retransmitting.
        retries: retransmissions before the client gives up.
        port_type: NAS-Port-Type as NPS renders it.
        nas_identifier: NAS-Identifier attribute, or None when not sent.
        sends_nas_ip: whether NAS-IP-Address is sent.
        network_policy: network policy that grants this client's users.
        request_policy: connection request policy name.
    """

    name: str
    ip: str
    protocol: str
    timeout: int
    retries: int
    port_type: str
    nas_identifier: str | None
    sends_nas_ip: bool
    network_policy: str
    request_policy: str


@dataclass(frozen=True, slots=True)
class RegValue:
    """One registry value: ``kind`` is REG_SZ, REG_DWORD or REG_MULTI_SZ."""

    name: str
    kind: str
    data: str | int | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Registry:
    """The two registry keys the health-check script dumps, values in storage order."""

    azure_mfa: tuple[RegValue, ...]
    auth_srv: tuple[RegValue, ...]
    azure_mfa_key: str = _AZURE_MFA_KEY
    auth_srv_key: str = _AUTHSRV_KEY

    def get(self, name: str) -> str | None:
        """The AzureMfa value ``name`` as text, or None when absent."""
        for value in self.azure_mfa:
            if value.name == name:
                data = value.data
                return ";".join(data) if isinstance(data, tuple) else str(data)
        return None

    @property
    def extension_loaded(self) -> bool:
        """True when NPS is configured to load the extension DLLs."""
        names = {value.name: value.data for value in self.auth_srv}
        return bool(names.get("AuthorizationDLLs")) and bool(names.get("ExtensionDLLs"))


@dataclass(frozen=True, slots=True)
class TrafficOptions:
    """Outcome options, defaults applied (only the ones of the item's outcome matter)."""

    aadsts: int = 700027
    wording: str = "msal"
    nps_result: str = "discard"
    obfuscated_cid: bool = False
    reason: int = 16
    final: str = "success"
    approve_after: timedelta | None = None
    schannel: bool = False
    variant: str = "lookup"
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class TrafficItem:
    """A batch of RADIUS requests with one outcome.

    Attributes:
        outcome: one of :data:`OUTCOMES`.
        users: names of the users sending the requests (empty for outcomes without users).
        count: number of requests (attempts) in the window.
        nas: name of the RADIUS client, or None (unknown_radius_client).
        start, end: window as offsets from the scenario start.
        options: outcome options.
    """

    outcome: str
    users: tuple[str, ...]
    count: int
    nas: str | None
    start: timedelta
    end: timedelta
    options: TrafficOptions


@dataclass(frozen=True, slots=True)
class Noise:
    """Events not tied to one RADIUS request.

    Attributes:
        service_starts: offsets at which the NPS service (re)started.
        dc_unresponsive: offsets of System 4401 (a domain controller stopped answering).
        dc_unavailable: offsets of System 4402 (no domain controller at all).
        eap_challenge_notices: log the extension's AccessChallenge notice for every
            intermediate EAP round trip.
    """

    service_starts: tuple[timedelta, ...] = ()
    dc_unresponsive: tuple[timedelta, ...] = ()
    dc_unavailable: tuple[timedelta, ...] = ()
    eap_challenge_notices: bool = True


@dataclass(frozen=True, slots=True)
class Expected:
    """What a correct diagnosis of the scenario says.

    Attributes:
        top_problem: catalog id of the most important problem, None when healthy.
        users: users affected by the top problem.
        other_problems: further catalog ids a diagnosis should also report.
        diagnosis: one paragraph for samples/README.md.
    """

    top_problem: str | None
    users: tuple[str, ...]
    other_problems: tuple[str, ...]
    diagnosis: str


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario; see docs/samples.md for the meaning of every key."""

    name: str
    title: str
    description: str
    seed: int
    computer: str
    netbios_domain: str
    dns_domain: str
    tenant_id: str
    start: datetime
    duration: timedelta
    users: tuple[User, ...]
    nas_clients: tuple[NasClient, ...]
    registry: Registry
    traffic: tuple[TrafficItem, ...]
    noise: Noise
    expected: Expected
    source: str = field(default="<scenario>", compare=False)
    #: IANA time zone of the server's clock: the bundle's wevtutil text dump then prints
    #: local times without a zone, as older Windows does; None prints UTC with a ``Z``.
    local_time_zone: str | None = None

    @property
    def end(self) -> datetime:
        """When the logs were collected: start + duration."""
        return self.start + self.duration

    @property
    def fqdn(self) -> str:
        """The NPS server's DNS name, as it appears in ``Computer``."""
        return f"{self.computer}.{self.dns_domain}"

    def user(self, name: str) -> User:
        """The user called ``name``."""
        return next(user for user in self.users if user.name == name)

    def nas(self, name: str) -> NasClient:
        """The RADIUS client called ``name``."""
        return next(nas for nas in self.nas_clients if nas.name == name)


# ----------------------------------------------------------------------------- values


def parse_duration(value: object) -> timedelta:
    """Parse ``90``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1h30m"`` or ``"1d"`` into a timedelta.

    Raises:
        ValueError: not a duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as '15m', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value}")
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value.strip())
        if match and any(match.groups()):
            days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise ValueError(f"expected a duration such as '90s', '15m', '2h' or '1h30m', got {value!r}")


def format_duration(value: timedelta) -> str:
    """Render a duration the way scenario files write it (``1h30m``, ``45s``, ``0s``)."""
    total = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, total = divmod(total, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(
            f"expected an ISO 8601 UTC time such as '2025-03-04T08:00:00Z', got {value!r}"
        )
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() != timedelta(0):
        raise ValueError(f"the time must be UTC (end it with 'Z'): {value!r}")
    return parsed.astimezone(timezone.utc)


# ------------------------------------------------------------------------------ YAML


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that keeps TRUE/No/on as strings and records duplicate keys.

    Registry values are case-sensitive strings in the product (``TRUE``, not ``True``),
    so only lower-case ``true``/``false`` are booleans here; timestamps stay strings so
    that their validation says what is wrong.
    """

    duplicates: list[str]


_StrictLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            loader.duplicates.append(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _load_yaml(text: str, source: str) -> tuple[object, list[str]]:
    loader = _StrictLoader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as error:
        raise ScenarioError(f"{source}: not valid YAML: {error}") from None
    finally:
        loader.dispose()
    return data, [f"{source}: {problem}" for problem in loader.duplicates]


# ------------------------------------------------------------------------- validation


class _Checker:
    """Collects problems as ``<source>: <path>: <what>`` lines."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {path}: {message}")

    def mapping(
        self, value: object, path: str, required: Sequence[str], optional: Sequence[str]
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping, got {_kind(value)}")
            return None
        allowed = list(required) + list(optional)
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                self.add(path, f"unknown key {key!r} (expected one of: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.add(path, f"missing key {key!r}")
        return {key: item for key, item in value.items() if key in allowed}

    def text(self, value: object, path: str, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"expected a non-empty string, got {_kind(value)}")
            return ""
        if pattern is not None and not pattern.match(value):
            self.add(path, f"invalid value {value!r}")
        return value

    def choice(self, value: object, path: str, allowed: Sequence[str]) -> str:
        if value not in allowed:
            self.add(path, f"invalid value {value!r} (expected one of: {', '.join(allowed)})")
            return allowed[0]
        return str(value)

    def integer(self, value: object, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"expected an integer, got {_kind(value)}")
            return low
        if not low <= value <= high:
            self.add(path, f"{value} is out of range ({low}..{high})")
            return low
        return value

    def boolean(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            self.add(path, f"expected true or false, got {_kind(value)}")
            return False
        return value

    def duration(self, value: object, path: str) -> timedelta:
        try:
            return parse_duration(value)
        except ValueError as error:
            self.add(path, str(error))
            return timedelta(0)

    def string_list(self, value: object, path: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.add(path, f"expected a list of strings, got {_kind(value)}")
            return []
        return list(value)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TOP_KEYS_REQUIRED = (
    "name",
    "title",
    "description",
    "seed",
    "computer",
    "domain",
    "tenant_id",
    "start",
    "duration",
    "users",
    "nas_clients",
    "traffic",
    "expected",
)
_TOP_KEYS_OPTIONAL = ("registry", "noise", "local_time_zone")


def _default_azure_mfa(tenant_id: str) -> list[RegValue]:
    # Storage order of a fresh install plus the configuration script (facts §4);
    # REG QUERY lists values in this order, not sorted.
    values = [
        ("AZURE_MFA_HOSTNAME", "strongauthenticationservice.auth.microsoft.com"),
        ("AZURE_MFA_RESOURCE_HOSTNAME", "adnotifications.windowsazure.com"),
        ("AZURE_MFA_TARGET_PATH", "StrongAuthenticationService.svc/Connector"),
        ("CLIENT_ID", "981f26a1-7f43-403b-a875-f8b09b8cd720"),
        ("STS_URL", "https://login.microsoftonline.com/"),
        ("REQUIRE_USER_MATCH", "TRUE"),
        ("VERBOSE_LOG", "FALSE"),
        ("CLIENT_CERT_IDENTIFIER", f"CN={tenant_id}, OU=Microsoft NPS Extension"),
        ("TENANT_ID", tenant_id),
    ]
    return [RegValue(name, "REG_SZ", data) for name, data in values]


def _default_auth_srv() -> list[RegValue]:
    return [
        RegValue("AuthorizationDLLs", "REG_MULTI_SZ", (_EXT_DIR + "MfaNpsAuthzExt.dll",)),
        RegValue("ExtensionDLLs", "REG_MULTI_SZ", (_EXT_DIR + "MfaNpsAuthnExt.dll",)),
    ]


def _reg_values(
    check: _Checker, overrides: object, path: str, defaults: list[RegValue]
) -> tuple[RegValue, ...]:
    if overrides is None:
        return tuple(defaults)
    if not isinstance(overrides, dict):
        check.add(path, f"expected a mapping of value names, got {_kind(overrides)}")
        return tuple(defaults)
    values = list(defaults)
    for name, data in overrides.items():
        where = f"{path}.{name}"
        if not isinstance(name, str) or not _REGNAME_RE.match(name):
            check.add(where, "a registry value name uses letters, digits and '_' only")
            continue
        index = next((i for i, value in enumerate(values) if value.name == name), None)
        if data is None:  # remove a default value
            if index is None:
                check.add(where, "cannot remove a value that does not exist")
            else:
                del values[index]
            continue
        if isinstance(data, bool):
            check.add(where, "write registry strings in quotes or upper case, e.g. 'TRUE'")
            continue
        value: RegValue
        if isinstance(data, str):
            value = RegValue(name, "REG_SZ", data)
        elif isinstance(data, int):
            value = RegValue(name, "REG_DWORD", check.integer(data, where, 0, 0xFFFFFFFF))
        elif isinstance(data, list) and all(isinstance(item, str) for item in data):
            value = RegValue(name, "REG_MULTI_SZ", tuple(data))
        else:
            check.add(where, f"expected a string, integer or list of strings, got {_kind(data)}")
            continue
        if index is None:
            values.append(value)
        else:
            values[index] = value
    return tuple(values)


def _parse_users(check: _Checker, raw: object) -> tuple[User, ...]:
    if not isinstance(raw, list) or not raw:
        check.add("users", "expected a non-empty list of users")
        return ()
    users: list[User] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        path = f"users[{index}]"
        data = check.mapping(item, path, ("name", "upn"), ("sam", "form", "method"))
        if data is None:
            continue
        name = check.text(data.get("name"), f"{path}.name")
        if name in seen:
            check.add(f"{path}.name", f"duplicate user {name!r}")
        seen.add(name)
        upn = check.text(data.get("upn"), f"{path}.upn")
        if upn and (upn.count("@") != 1 or upn.startswith("@") or upn.endswith("@")):
            check.add(f"{path}.upn", f"not a user principal name: {upn!r}")
        sam = data.get("sam", upn.split("@", 1)[0] if upn else "")
        sam = check.text(sam, f"{path}.sam", _SAM_RE)
        form = check.choice(data.get("form", "upn"), f"{path}.form", FORMS)
        method = check.choice(data.get("method", "push"), f"{path}.method", METHODS)
        users.append(User(name, upn, sam, form, method))
    return tuple(users)


_POLICY_DEFAULTS = {
    "Virtual": "Virtual Private Network (VPN) Connections",
    "Wireless - IEEE 802.11": "Secure Wireless Connections",
    "Ethernet": "Secure Wired (Ethernet) Connections",
    "Async": "Connections to other access servers",
}


def _parse_nas(check: _Checker, raw: object) -> tuple[NasClient, ...]:
    if not isinstance(raw, list) or not raw:
        check.add("nas_clients", "expected a non-empty list of RADIUS clients")
        return ()
    clients: list[NasClient] = []
    names: set[str] = set()
    ips: set[str] = set()
    for index, item in enumerate(raw):
        path = f"nas_clients[{index}]"
        data = check.mapping(
            item,
            path,
            ("name", "ip", "protocol"),
            (
                "timeout",
                "retries",
                "port_type",
                "nas_identifier",
                "sends_nas_ip",
                "network_policy",
                "request_policy",
            ),
        )
        if data is None:
            continue
        name = check.text(data.get("name"), f"{path}.name")
        if name in names:
            check.add(f"{path}.name", f"duplicate RADIUS client {name!r}")
        names.add(name)
        ip = check.text(data.get("ip"), f"{path}.ip")
        if ip:
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                check.add(f"{path}.ip", f"not an IPv4 address: {ip!r}")
            if ip in ips:
                check.add(f"{path}.ip", f"two RADIUS clients share the address {ip}")
            ips.add(ip)
        protocol = check.choice(data.get("protocol"), f"{path}.protocol", PROTOCOLS)
        timeout = check.integer(data.get("timeout", 30), f"{path}.timeout", 1, 600)
        retries = check.integer(data.get("retries", 3), f"{path}.retries", 0, 10)
        default_port = "Wireless - IEEE 802.11" if protocol == "eap" else "Virtual"
        port_type = check.choice(
            data.get("port_type", default_port), f"{path}.port_type", PORT_TYPES
        )
        identifier = data.get("nas_identifier")
        if identifier is not None:
            identifier = check.text(identifier, f"{path}.nas_identifier")
        sends_ip = check.boolean(data.get("sends_nas_ip", True), f"{path}.sends_nas_ip")
        policy = check.text(
            data.get("network_policy", _POLICY_DEFAULTS[port_type]), f"{path}.network_policy"
        )
        request_policy = check.text(
            data.get("request_policy", "Use Windows authentication for all users"),
            f"{path}.request_policy",
        )
        clients.append(
            NasClient(
                name,
                ip,
                protocol,
                timeout,
                retries,
                port_type,
                identifier,
                sends_ip,
                policy,
                request_policy,
            )
        )
    return tuple(clients)


def _parse_options(check: _Checker, outcome: str, raw: object, path: str) -> TrafficOptions:
    if raw is None:
        raw = {}
    allowed = OUTCOMES.get(outcome, ())
    data = check.mapping(raw, path, (), allowed)
    if data is None:
        return TrafficOptions()
    values: dict[str, Any] = {}
    if "aadsts" in data:
        codes = [str(code) for code in AADSTS_CODES]
        values["aadsts"] = int(check.choice(str(data["aadsts"]), f"{path}.aadsts", codes))
    if "wording" in data:
        values["wording"] = check.choice(data["wording"], f"{path}.wording", ("adal", "msal"))
    if "nps_result" in data:
        values["nps_result"] = check.choice(
            data["nps_result"], f"{path}.nps_result", ("discard", "reject")
        )
    if "obfuscated_cid" in data:
        values["obfuscated_cid"] = check.boolean(data["obfuscated_cid"], f"{path}.obfuscated_cid")
    if "reason" in data:
        reasons = [str(code) for code in PRIMARY_REASONS]
        values["reason"] = int(check.choice(str(data["reason"]), f"{path}.reason", reasons))
    if "final" in data:
        values["final"] = check.choice(data["final"], f"{path}.final", ("success", "failure"))
    if "approve_after" in data:
        values["approve_after"] = check.duration(data["approve_after"], f"{path}.approve_after")
    if "schannel" in data:
        values["schannel"] = check.boolean(data["schannel"], f"{path}.schannel")
    elif outcome == "http_connect_error":
        values["schannel"] = True
    if "variant" in data:
        variants = list(ALTERNATE_LOGIN_ID_MESSAGES)
        values["variant"] = check.choice(data["variant"], f"{path}.variant", variants)
    if "ip" in data:
        ip = check.text(data["ip"], f"{path}.ip")
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            check.add(f"{path}.ip", f"not an IPv4 address: {ip!r}")
        values["ip"] = ip
    if outcome in ("request_missing_code", "alternate_login_id_error") and "nps_result" not in data:
        values["nps_result"] = "reject"
    return TrafficOptions(**values)


def _parse_rate(check: _Checker, value: object, path: str, window: timedelta) -> int:
    match = _RATE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        check.add(path, f"expected a rate such as '30/h', '2/m' or '1/s', got {_kind(value)}")
        return 1
    per_second = float(match.group(1)) / {"s": 1, "m": 60, "h": 3600}[match.group(2)]
    count = round(per_second * window.total_seconds())
    if count < 1:
        check.add(path, f"rate {value!r} gives no request in a window of {format_duration(window)}")
    return max(count, 1)


def _parse_traffic(check: _Checker, raw: object, duration: timedelta) -> tuple[TrafficItem, ...]:
    if not isinstance(raw, list) or not raw:
        check.add("traffic", "expected a non-empty list of traffic items")
        return ()
    items: list[TrafficItem] = []
    for index, entry in enumerate(raw):
        path = f"traffic[{index}]"
        data = check.mapping(
            entry, path, ("outcome",), ("users", "count", "rate", "nas", "window", "options")
        )
        if data is None:
            continue
        outcome = check.choice(data.get("outcome"), f"{path}.outcome", tuple(OUTCOMES))
        users_raw = data.get("users", [])
        if users_raw == "all":
            users: tuple[str, ...] = ("*",)
        else:
            users = tuple(check.string_list(users_raw, f"{path}.users"))
        nas = data.get("nas")
        if nas is not None:
            nas = check.text(nas, f"{path}.nas")
        start, end = timedelta(0), duration
        if "window" in data:
            window = data["window"]
            if isinstance(window, list) and len(window) == 2:
                start = check.duration(window[0], f"{path}.window[0]")
                end = check.duration(window[1], f"{path}.window[1]")
                if start >= end:
                    check.add(f"{path}.window", "the window must end after it starts")
                if end > duration:
                    check.add(
                        f"{path}.window",
                        f"ends at {format_duration(end)}, after the scenario's duration "
                        f"{format_duration(duration)}",
                    )
            else:
                check.add(f"{path}.window", "expected [start, end], e.g. ['0m', '45m']")
        if ("count" in data) == ("rate" in data):
            check.add(path, "give exactly one of 'count' and 'rate'")
            count = 1
        elif "count" in data:
            count = check.integer(data["count"], f"{path}.count", 1, 10_000_000)
        else:
            count = _parse_rate(check, data["rate"], f"{path}.rate", max(end - start, timedelta(0)))
        options = _parse_options(check, outcome, data.get("options"), f"{path}.options")
        items.append(TrafficItem(outcome, users, count, nas, start, end, options))
    return tuple(items)


def _parse_offsets(
    check: _Checker, raw: object, path: str, duration: timedelta
) -> tuple[timedelta, ...]:
    if not isinstance(raw, list):
        check.add(path, f"expected a list of offsets such as ['0s', '40m'], got {_kind(raw)}")
        return ()
    offsets = []
    for index, value in enumerate(raw):
        offset = check.duration(value, f"{path}[{index}]")
        if offset > duration:
            check.add(f"{path}[{index}]", "is after the end of the scenario")
        offsets.append(offset)
    return tuple(sorted(offsets))


def _parse_noise(check: _Checker, raw: object, duration: timedelta) -> Noise:
    if raw is None:
        return Noise()
    data = check.mapping(
        raw,
        "noise",
        (),
        ("service_starts", "dc_unresponsive", "dc_unavailable", "eap_challenge_notices"),
    )
    if data is None:
        return Noise()
    return Noise(
        service_starts=_parse_offsets(
            check, data.get("service_starts", []), "noise.service_starts", duration
        ),
        dc_unresponsive=_parse_offsets(
            check, data.get("dc_unresponsive", []), "noise.dc_unresponsive", duration
        ),
        dc_unavailable=_parse_offsets(
            check, data.get("dc_unavailable", []), "noise.dc_unavailable", duration
        ),
        eap_challenge_notices=check.boolean(
            data.get("eap_challenge_notices", True), "noise.eap_challenge_notices"
        ),
    )


def _parse_expected(check: _Checker, raw: object) -> Expected:
    data = check.mapping(
        raw, "expected", ("top_problem", "users", "diagnosis"), ("other_problems",)
    )
    if data is None:
        return Expected(None, (), (), "")
    top = data.get("top_problem")
    if top is not None:
        top = check.text(top, "expected.top_problem", _PROBLEM_ID_RE)
    users = tuple(check.string_list(data.get("users", []), "expected.users"))
    others = tuple(check.string_list(data.get("other_problems", []), "expected.other_problems"))
    for index, other in enumerate(others):
        if not _PROBLEM_ID_RE.match(other):
            check.add(f"expected.other_problems[{index}]", f"invalid catalog id {other!r}")
    if top is None and users:
        check.add("expected.users", "a scenario without a top problem has no affected users")
    diagnosis = check.text(data.get("diagnosis"), "expected.diagnosis")
    return Expected(top, users, others, " ".join(diagnosis.split()))


def _cross_check(check: _Checker, scenario: Scenario) -> Scenario:
    """Check references and combinations that cannot happen; resolve ``users: all``."""
    user_names = {user.name for user in scenario.users}
    nas_by_name = {nas.name: nas for nas in scenario.nas_clients}
    nas_ips = {nas.ip for nas in scenario.nas_clients}
    whitelist = {
        ip.strip() for ip in (scenario.registry.get("IP_WHITELIST") or "").split(";") if ip.strip()
    }
    alt_attribute = (scenario.registry.get("LDAP_ALTERNATE_LOGINID_ATTRIBUTE") or "").strip()
    otp_override_off = scenario.registry.get("OVERRIDE_NUMBER_MATCHING_WITH_OTP") == "FALSE"
    items = []
    for index, item in enumerate(scenario.traffic):
        path = f"traffic[{index}]"
        users = item.users
        if users == ("*",):
            users = tuple(user.name for user in scenario.users)
        for name in users:
            if name not in user_names:
                check.add(f"{path}.users", f"unknown user {name!r}")
        users = tuple(name for name in users if name in user_names)
        item = replace(item, users=users)
        items.append(item)
        if item.outcome in _NO_USER_OUTCOMES:
            if item.users:
                check.add(
                    f"{path}.users", f"{item.outcome} never reaches the user check; remove 'users'"
                )
        elif not item.users:
            check.add(f"{path}.users", f"{item.outcome} needs at least one user")
        if item.outcome in _NO_NAS_OUTCOMES:
            if item.nas is not None:
                check.add(
                    f"{path}.nas",
                    "an unknown RADIUS client is not one of nas_clients; use options.ip",
                )
            ip = item.options.ip
            if ip is None:
                check.add(f"{path}.options", "unknown_radius_client needs options.ip")
            elif ip in nas_ips:
                check.add(f"{path}.options.ip", f"{ip} is a configured RADIUS client")
            continue
        if item.nas is None:
            check.add(path, "missing key 'nas'")
            continue
        nas = nas_by_name.get(item.nas)
        if nas is None:
            check.add(f"{path}.nas", f"unknown RADIUS client {item.nas!r}")
            continue
        if item.outcome in _EXTENSION_OUTCOMES and not scenario.registry.extension_loaded:
            check.add(
                f"{path}.outcome",
                f"{item.outcome} needs the extension, but AuthSrv does not load it",
            )
        whitelisted = nas.sends_nas_ip and nas.ip in whitelist
        if whitelisted and item.outcome in _EXTENSION_OUTCOMES - {"success"}:
            check.add(
                f"{path}.nas",
                f"{nas.name} is in IP_WHITELIST, so the extension skips MFA and "
                f"{item.outcome} cannot happen",
            )
        methods = {name: scenario.user(name).method for name in item.users}
        if item.outcome in _OTP_OUTCOMES:
            for name, method in methods.items():
                if method not in ("totp", "sms"):
                    check.add(
                        f"{path}.users",
                        f"{item.outcome} needs users with method totp or sms; "
                        f"{name!r} has {method}",
                    )
        if item.outcome == "otp_no_answer" and nas.protocol == "pap":
            check.add(
                f"{path}.nas", "otp_no_answer needs a non-PAP client (PAP can answer the challenge)"
            )
        if item.outcome == "wrong_code" and nas.protocol != "pap":
            check.add(
                f"{path}.nas", "wrong_code needs a PAP client (only PAP carries a one-time code)"
            )
        if item.outcome in ("success", "client_timeout") and not whitelisted:
            for name, method in methods.items():
                if method == "none":
                    check.add(
                        f"{path}.users",
                        f"{name!r} has no MFA method (method: none), "
                        f"so {item.outcome} cannot succeed",
                    )
                elif method in ("totp", "sms") and nas.protocol != "pap" and not otp_override_off:
                    check.add(
                        f"{path}.users",
                        f"{name!r} uses {method}, which a {nas.protocol} client cannot answer "
                        "(set OVERRIDE_NUMBER_MATCHING_WITH_OTP to 'FALSE' or use a PAP client)",
                    )
        if item.outcome == "client_timeout":
            for name, method in methods.items():
                if method not in ("push", "phone"):
                    check.add(
                        f"{path}.users",
                        f"client_timeout waits for an approval; {name!r} has method {method} "
                        "(use push or phone)",
                    )
            approve = item.options.approve_after
            total = timedelta(seconds=nas.timeout * (nas.retries + 1))
            if approve is not None:
                if approve <= timedelta(seconds=nas.timeout):
                    check.add(
                        f"{path}.options.approve_after",
                        f"must exceed the client's timeout of {nas.timeout}s, or nothing times out",
                    )
                elif item.options.final == "success" and approve >= total:
                    check.add(
                        f"{path}.options.approve_after",
                        f"with final: success it must be under {int(total.total_seconds())}s, "
                        "when the client gives up",
                    )
                elif item.options.final == "failure" and approve < total:
                    check.add(
                        f"{path}.options.approve_after",
                        f"with final: failure it must be at least {int(total.total_seconds())}s, "
                        "when the client gives up",
                    )
            elif nas.retries == 0 and item.options.final == "success":
                check.add(
                    f"{path}.nas", "final: success needs a client that retransmits (retries > 0)"
                )
        if item.outcome == "alternate_login_id_error" and not alt_attribute:
            check.add(
                f"{path}.outcome",
                "alternate_login_id_error needs LDAP_ALTERNATE_LOGINID_ATTRIBUTE "
                "in registry.azure_mfa",
            )
    for index, name in enumerate(scenario.expected.users):
        if name not in user_names:
            check.add(f"expected.users[{index}]", f"unknown user {name!r}")
    return replace(scenario, traffic=tuple(items))


def parse_scenario(data: object, source: str = "<scenario>") -> Scenario:
    """Validate already-loaded YAML data and build a :class:`Scenario`.

    Args:
        data: the YAML document as Python objects.
        source: how to name the file in problems.

    Raises:
        ScenarioError: listing every problem found, one per line.
    """
    return _parse(data, source, [])


def _parse(data: object, source: str, problems: list[str]) -> Scenario:
    check = _Checker(source)
    check.problems.extend(problems)
    top = check.mapping(data, "(top level)", _TOP_KEYS_REQUIRED, _TOP_KEYS_OPTIONAL)
    if top is None:
        raise ScenarioError("\n".join(check.problems))
    name = check.text(top.get("name"), "name", _NAME_RE)
    title = check.text(top.get("title"), "title")
    description = check.text(top.get("description"), "description")
    seed = check.integer(top.get("seed"), "seed", 0, 2**63 - 1)
    computer = check.text(top.get("computer"), "computer", _COMPUTER_RE)
    domain = check.mapping(top.get("domain"), "domain", ("netbios", "dns"), ()) or {}
    netbios = check.text(domain.get("netbios"), "domain.netbios", _NETBIOS_RE).upper()
    dns = check.text(domain.get("dns"), "domain.dns", _DNS_RE).lower()
    tenant_raw = check.text(top.get("tenant_id"), "tenant_id")
    try:
        tenant_id = str(uuid.UUID(tenant_raw))
    except ValueError:
        if tenant_raw:
            check.add("tenant_id", f"not a GUID: {tenant_raw!r}")
        tenant_id = "00000000-0000-0000-0000-000000000000"
    try:
        start = _parse_time(top.get("start"))
    except ValueError as error:
        check.add("start", str(error))
        start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    duration = check.duration(top.get("duration"), "duration")
    if duration <= timedelta(0) or duration > _MAX_DURATION:
        check.add("duration", f"must be more than 0s and at most {format_duration(_MAX_DURATION)}")
        duration = max(min(duration, _MAX_DURATION), timedelta(seconds=1))
    users = _parse_users(check, top.get("users"))
    nas_clients = _parse_nas(check, top.get("nas_clients"))
    registry_raw = top.get("registry") or {}
    registry_data = check.mapping(registry_raw, "registry", (), ("azure_mfa", "auth_srv")) or {}
    registry = Registry(
        _reg_values(
            check,
            registry_data.get("azure_mfa"),
            "registry.azure_mfa",
            _default_azure_mfa(tenant_id),
        ),
        _reg_values(check, registry_data.get("auth_srv"), "registry.auth_srv", _default_auth_srv()),
    )
    traffic = _parse_traffic(check, top.get("traffic"), duration)
    noise = _parse_noise(check, top.get("noise"), duration)
    expected = _parse_expected(check, top.get("expected"))
    local_time_zone = _parse_time_zone(check, top.get("local_time_zone"))
    scenario = Scenario(
        name,
        title,
        " ".join(description.split()),
        seed,
        computer.upper(),
        netbios,
        dns,
        tenant_id,
        start,
        duration,
        users,
        nas_clients,
        registry,
        traffic,
        noise,
        expected,
        source,
        local_time_zone,
    )
    scenario = _cross_check(check, scenario)
    if check.problems:
        raise ScenarioError("\n".join(check.problems))
    return scenario


def _parse_time_zone(check: _Checker, raw: object) -> str | None:
    if raw is None:
        return None
    name = check.text(raw, "local_time_zone")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        check.add("local_time_zone", f"not a known IANA time zone: {name!r}")
        return None
    return name


def load_scenario(path: str | Path, *, source: str | None = None) -> Scenario:
    """Load and validate a scenario file.

    Args:
        path: the YAML file.
        source: how problems name the file (default: ``path`` as given).

    Raises:
        ScenarioError: the file cannot be read, is not YAML, or is invalid (every problem
            is listed, one per line).
    """
    label = source if source is not None else str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{label}: cannot read the scenario file: {error}") from None
    data, duplicates = _load_yaml(text, label)
    return _parse(data, label, duplicates)


# -------------------------------------------------------------------------- shipped


def _scenario_dir() -> Path:
    return Path(str(resources.files("npsdiag.synth") / "scenarios"))


def shipped_names() -> list[str]:
    """Names of the scenarios shipped inside the package, sorted."""
    return sorted(path.stem for path in _scenario_dir().glob("*.yaml"))


def shipped_path(name: str) -> Path:
    """Path of the shipped scenario ``name``.

    Raises:
        ScenarioError: no shipped scenario has that name (the message lists them).
    """
    path = _scenario_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ScenarioError(
            f"unknown scenario {name!r}",
            hint=f"valid names: {', '.join(shipped_names())}",
        )
    return path


def load_shipped(name: str) -> Scenario:
    """Load the shipped scenario ``name`` (problems name it ``scenarios/<name>.yaml``)."""
    return load_scenario(shipped_path(name), source=f"scenarios/{name}.yaml")


def scale_traffic(scenario: Scenario, factor: float) -> Scenario:
    """Multiply every traffic item's request count by ``factor`` (at least one request each).

    Windows and noise stay as they are, so the request rate grows with the factor.
    """
    items = tuple(
        replace(item, count=max(1, math.ceil(item.count * factor))) for item in scenario.traffic
    )
    return replace(scenario, traffic=items)


def radius_name(user: User, netbios_domain: str) -> str:
    """The User-Name a RADIUS client sends for ``user``."""
    if user.form == "upn":
        return user.upn
    if user.form == "netbios":
        return f"{netbios_domain}\\{user.sam}"
    return user.sam
