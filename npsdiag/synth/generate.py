"""Turn a :class:`~npsdiag.synth.scenario.Scenario` into the event records of every log.

One call to :func:`generate` yields the events of all five logs (the three extension
channels, Security and System) in time order, each tagged with its log and carrying
its final EventRecordID. Generation streams: attempts are produced in start-time
order and their events pass through a small heap, so memory depends on how many
attempts overlap, never on how many events are written.

What the generator models (the diagnosis relies on these links holding):

* every RADIUS request that reaches the extension leaves extension events and then,
  a few milliseconds later, one Security event for the same user and RADIUS client;
* the extension's rejections and OTP failures end in 6273 reason 21; a successful
  second factor ends in 6272; a primary (AD/policy) failure is logged by the extension
  as "AccessReject, ignoring request" and ends in 6273 with that failure's reason;
* a request still in progress when the RADIUS client's timeout expires is
  retransmitted, and NPS logs each retransmission as a 6274 discard; a request that
  was discarded (the extension threw) is processed again when retransmitted;
* service starts log the IP_WHITELIST notice (only when that value is absent) and an
  LDAP connection (System 4400).

Choices not backed by a published sample are marked "(inferred)" where they are made.
Everything random comes from ``random.Random`` seeded by the scenario; no wall clock.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from npsdiag.synth import messages
from npsdiag.synth.records import EventRecord, Sid, Value
from npsdiag.synth.scenario import NasClient, Scenario, TrafficItem, User, radius_name

__all__ = [
    "AUTHN_OPT",
    "AUTHZ_ADMIN",
    "AUTHZ_OPT",
    "EXTENSION_LOGS",
    "LOGS",
    "SECURITY",
    "SECURITY_FIELDS",
    "SYSTEM",
    "GeneratedEvent",
    "count_events",
    "generate",
    "records_for",
]

AUTHN_OPT = "AuthNOptCh"
AUTHZ_OPT = "AuthZOptCh"
AUTHZ_ADMIN = "AuthZAdminCh"
SECURITY = "Security"
SYSTEM = "System"
#: Every log the generator writes, in a fixed order.
LOGS = (AUTHN_OPT, AUTHZ_OPT, AUTHZ_ADMIN, SECURITY, SYSTEM)
#: The extension's own channels (the ones the support bundle exports as .evtx).
EXTENSION_LOGS = (AUTHN_OPT, AUTHZ_OPT, AUTHZ_ADMIN)

_AUTHZ_PROVIDER = "Microsoft-AzureMfa-AuthZ"
_SECURITY_PROVIDER = "Microsoft-Windows-Security-Auditing"
_SECURITY_GUID = uuid.UUID("54849625-5478-4994-A5BA-3E3B0328C30D")
_SCHANNEL_GUID = uuid.UUID("1F678132-5938-4686-9FDC-C8FF68F15C85")
_NPS_TASK = 12552
_AUDIT_SUCCESS = 0x8020000000000000
_AUDIT_FAILURE = 0x8010000000000000
_CLASSIC = 0x0080000000000000
# (inferred) Manifest channels take keyword bits from the top: the Admin channel is
# 0x80..., the Operational channel 0x40... No exported extension XML was published.
_CHANNEL_KEYWORDS = {AUTHZ_ADMIN: 0x8000000000000000, AUTHZ_OPT: 0x4000000000000000}
_NETWORK_SERVICE = "S-1-5-20"
_SYSTEM_SID = "S-1-5-18"
_NULL_SID = "S-1-0-0"
# Windows levels: 1 Critical, 2 Error, 3 Warning, 4 Information. Event 3 is Critical
# (Fortinet forum header); the others follow their message kind (inferred).
_LEVEL_BY_ID = {1: 4, 2: 2, 3: 1, 4: 3}
# Legacy (classic) providers put the severity in EventID/@Qualifiers.
_QUALIFIERS = {4: 16384, 3: 32768, 2: 49152}

#: The named EventData fields of 6273/6274, in document order (facts §3.2).
SECURITY_FIELDS = (
    "SubjectUserSid",
    "SubjectUserName",
    "SubjectDomainName",
    "FullyQualifiedSubjectUserName",
    "SubjectMachineSID",
    "SubjectMachineName",
    "FullyQualifiedSubjectMachineName",
    "MachineInventory",
    "CalledStationID",
    "CallingStationID",
    "NASIPv4Address",
    "NASIPv6Address",
    "NASIdentifier",
    "NASPortType",
    "NASPort",
    "ClientName",
    "ClientIPAddress",
    "ProxyPolicyName",
    "NetworkPolicyName",
    "AuthenticationProvider",
    "AuthenticationServer",
    "AuthenticationType",
    "EAPType",
    "AccountSessionIdentifier",
)
_LOGGING_RESULT = "Accounting information was written to the local log file."
_AUTH_TYPES = {"pap": "PAP", "mschapv2": "MS-CHAPv2", "eap": "PEAP"}
_EAP_TYPE = "Microsoft: Secured password (EAP-MSCHAP v2)"
# Reasons decided before a network policy matched show no policy name.
_NO_POLICY_REASONS = frozenset({7, 8, 16, 33, 34, 35, 36, 48, 49})
# (inferred) The reason code of 6274 discards is not documented; 9 says what happens:
# the extension filters the request (duplicates, or a request it could not process).
_DISCARD_REASON = 9
# Windows' TCP connect timeout with its default retries, as HTTP_CONNECT_ERROR waits it.
_CONNECT_TIMEOUT = 21.0


@dataclass(frozen=True, slots=True)
class GeneratedEvent:
    """One generated event and the log it belongs to."""

    log: str
    record: EventRecord


# ------------------------------------------------------------------------------ world


@dataclass(frozen=True, slots=True)
class _World:
    """Per-scenario constants drawn once from the seed."""

    scenario: Scenario
    domain_sid: str
    user_rids: dict[str, int]
    user_devices: dict[str, tuple[str, str]]  # user -> (public IP, MAC)
    called_stations: dict[str, str]
    ias_pid: int
    lsass_pid: int
    ias_threads: tuple[int, ...]
    lsass_threads: tuple[int, ...]
    dcs: tuple[str, ...]
    first_ids: dict[str, int]
    thumbprint: str
    whitelist: frozenset[str]
    mfa_url: str
    sts_url: str

    def user_sid(self, user: User) -> str:
        return f"{self.domain_sid}-{self.user_rids[user.name]}"


def _make_world(scenario: Scenario) -> _World:
    rng = random.Random(f"{scenario.seed}/world")
    domain_sid = "S-1-5-21-" + "-".join(str(rng.randint(10**9, 4 * 10**9)) for _ in range(3))
    rids = {
        user.name: 1100 + index * 7 + rng.randint(0, 6) for index, user in enumerate(scenario.users)
    }
    devices = {
        user.name: (
            f"203.0.113.{rng.randint(2, 254)}"
            if index % 2
            else f"198.51.100.{rng.randint(2, 254)}",
            "-".join(f"{rng.randint(0, 255):02X}" for _ in range(6)),
        )
        for index, user in enumerate(scenario.users)
    }
    called = {}
    for nas in scenario.nas_clients:
        mac = "-".join(f"{rng.randint(0, 255):02X}" for _ in range(6))
        if nas.port_type == "Wireless - IEEE 802.11":
            called[nas.name] = f"{mac}:{scenario.netbios_domain}-WIFI"
        elif nas.port_type == "Ethernet":
            called[nas.name] = mac
        else:
            called[nas.name] = "-"
    whitelist_value = scenario.registry.get("IP_WHITELIST") or ""
    host = (
        scenario.registry.get("AZURE_MFA_RESOURCE_HOSTNAME") or "adnotifications.windowsazure.com"
    )
    path = scenario.registry.get("AZURE_MFA_TARGET_PATH") or ""
    return _World(
        scenario=scenario,
        domain_sid=domain_sid,
        user_rids=rids,
        user_devices=devices,
        called_stations=called,
        ias_pid=rng.randint(900, 4000) & ~3,
        lsass_pid=rng.randint(560, 800) & ~3,
        ias_threads=tuple(rng.randint(1000, 9000) & ~3 for _ in range(6)),
        lsass_threads=tuple(rng.randint(600, 9000) & ~3 for _ in range(4)),
        dcs=(f"DC01.{scenario.dns_domain}", f"DC02.{scenario.dns_domain}"),
        first_ids={
            AUTHN_OPT: 1,
            AUTHZ_OPT: 1,
            AUTHZ_ADMIN: 1,
            SECURITY: rng.randint(1_000_000, 9_000_000),
            SYSTEM: rng.randint(10_000, 90_000),
        },
        thumbprint="".join(rng.choice("0123456789ABCDEF") for _ in range(40)),
        whitelist=frozenset(ip.strip() for ip in whitelist_value.split(";") if ip.strip()),
        mfa_url=f"https://{host}/{path}",
        sts_url=scenario.registry.get("STS_URL") or "https://login.microsoftonline.com/",
    )


# ------------------------------------------------------------------------ attempt log


_Pending = tuple[datetime, str, EventRecord]


class _Attempt:
    """Collects the events of one RADIUS transaction (and its retransmissions)."""

    __slots__ = ("events", "rng", "world")

    def __init__(self, world: _World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.events: list[_Pending] = []

    # --- helpers ------------------------------------------------------------------

    def ms(self, low: float, high: float) -> timedelta:
        """A random delay between ``low`` and ``high`` milliseconds (microsecond grain)."""
        return timedelta(microseconds=self.rng.randint(int(low * 1000), int(high * 1000)))

    def seconds(self, low: float, high: float) -> timedelta:
        return timedelta(microseconds=self.rng.randint(int(low * 1e6), int(high * 1e6)))

    def guid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def trace_id(self) -> uuid.UUID:
        # Token-service trace ids end in a zero byte (every published sample does).
        return uuid.UUID(int=(self.rng.getrandbits(128) & ~0xFF), version=4)

    # --- records ------------------------------------------------------------------

    def extension(self, log: str, event_id: int, time: datetime, text: str) -> None:
        world = self.world
        self.events.append(
            (
                time,
                log,
                EventRecord(
                    provider=_AUTHZ_PROVIDER,
                    event_id=event_id,
                    time=time,
                    channel=log,
                    computer=world.scenario.fqdn,
                    data=(text,),
                    level=_LEVEL_BY_ID[event_id],
                    keywords=_CHANNEL_KEYWORDS[log],
                    process_id=world.ias_pid,
                    thread_id=self.rng.choice(world.ias_threads),
                    user_sid=_NETWORK_SERVICE,
                ),
            )
        )

    def system(self, event_id: int, time: datetime, data: tuple[str, ...], level: int) -> None:
        world = self.world
        self.events.append(
            (
                time,
                SYSTEM,
                EventRecord(
                    provider="NPS",
                    event_id=event_id,
                    qualifiers=_QUALIFIERS[level],
                    time=time,
                    channel=SYSTEM,
                    computer=world.scenario.fqdn,
                    data=data,
                    level=level,
                    keywords=_CLASSIC,
                    process_id=world.ias_pid,
                    thread_id=self.rng.choice(world.ias_threads),
                ),
            )
        )

    def schannel(self, time: datetime) -> None:
        world = self.world
        self.events.append(
            (
                time,
                SYSTEM,
                EventRecord(
                    provider="Schannel",
                    provider_guid=_SCHANNEL_GUID,
                    event_id=36871,
                    time=time,
                    channel=SYSTEM,
                    computer=world.scenario.fqdn,
                    # (inferred) Field names and values as commonly reported for this event.
                    data=(("Type", "client"), ("ErrorState", "10013")),
                    level=2,
                    keywords=0x8000000000000000,
                    process_id=world.lsass_pid,
                    thread_id=self.rng.choice(world.lsass_threads),
                    user_sid=_SYSTEM_SID,
                ),
            )
        )

    def security(
        self, event_id: int, time: datetime, request: _Request, reason: int | None
    ) -> None:
        world = self.world
        self.events.append(
            (
                time,
                SECURITY,
                EventRecord(
                    provider=_SECURITY_PROVIDER,
                    provider_guid=_SECURITY_GUID,
                    event_id=event_id,
                    version=1,
                    level=0,
                    task=_NPS_TASK,
                    opcode=0,
                    keywords=_AUDIT_SUCCESS if event_id == 6272 else _AUDIT_FAILURE,
                    time=time,
                    channel=SECURITY,
                    computer=world.scenario.fqdn,
                    data=_security_data(world, request, event_id, reason),
                    process_id=world.lsass_pid,
                    thread_id=self.rng.choice(world.lsass_threads),
                ),
            )
        )


@dataclass(frozen=True, slots=True)
class _Request:
    """What one RADIUS request carries, as NPS and the extension see it."""

    user: User
    nas: NasClient
    name: str  # User-Name as sent
    calling: str
    called: str
    port: int
    duplicate: bool = False  # a retransmission NPS discards while the original is in progress
    retransmitted: bool = False  # a copy of the last request of the exchange, sent again


def _security_data(
    world: _World, request: _Request, event_id: int, reason: int | None
) -> tuple[tuple[str, Value], ...]:
    scenario = world.scenario
    user, nas = request.user, request.nas
    unknown_account = reason in (7, 8)
    policy = "-" if (reason in _NO_POLICY_REASONS or request.duplicate) else nas.network_policy
    values: list[Value] = [
        Sid(_NULL_SID if unknown_account else world.user_sid(user)),
        request.name,
        scenario.netbios_domain,
        "-" if unknown_account else f"{scenario.netbios_domain}\\{user.sam}",
        Sid(_NULL_SID),
        "-",
        "-",
        "-",
        request.called,
        request.calling,
        nas.ip if nas.sends_nas_ip else "-",
        "-",
        nas.nas_identifier or "-",
        nas.port_type,
        request.port,
        nas.name,
        nas.ip,
        "-" if reason == 49 else nas.request_policy,
        policy,
        "Windows",
        scenario.fqdn,
        _AUTH_TYPES[nas.protocol],
        _EAP_TYPE if nas.protocol == "eap" else "-",
        "-",
    ]
    fields: list[tuple[str, Value]] = list(zip(SECURITY_FIELDS, values, strict=True))
    if event_id == 6272:
        fields += [
            ("QuarantineState", "Full Access"),
            ("QuarantineSessionIdentifier", "-"),
            ("LoggingResult", _LOGGING_RESULT),
        ]
    else:
        assert reason is not None
        fields += [
            ("ReasonCode", reason),
            ("Reason", messages.reason_text(reason)),
            ("LoggingResult", _LOGGING_RESULT),
        ]
    return tuple(fields)


# ------------------------------------------------------------------------- outcomes


_Process = Callable[[_Attempt, _Request, datetime], tuple[datetime, bool]]


class _Flows:
    """Builds the events of each traffic outcome; one instance per traffic item."""

    def __init__(self, world: _World, item: TrafficItem) -> None:
        self.world = world
        self.item = item
        self.options = item.options
        scenario = world.scenario
        self.nas = scenario.nas(item.nas) if item.nas else None
        self.eap_notices = scenario.noise.eap_challenge_notices

    # --- shared steps -------------------------------------------------------------

    def request(self, attempt: _Attempt, user: User) -> _Request:
        assert self.nas is not None
        ip, mac = self.world.user_devices[user.name]
        wireless = self.nas.port_type in ("Wireless - IEEE 802.11", "Ethernet")
        port = 0 if wireless else attempt.rng.randint(1, 65535)
        return _Request(
            user=user,
            nas=self.nas,
            name=radius_name(user, self.world.scenario.netbios_domain),
            calling=mac if wireless else ip,
            called=self.world.called_stations[self.nas.name],
            port=port,
        )

    def primary(self, attempt: _Attempt, request: _Request, start: datetime) -> datetime:
        """EAP round trips (each an AccessChallenge the extension ignores), then AD."""
        time = start
        if request.nas.protocol == "eap" and not request.retransmitted:
            for _ in range(attempt.rng.randint(4, 8)):
                time += attempt.ms(15, 70)
                if self.eap_notices:
                    attempt.extension(
                        AUTHZ_OPT,
                        1,
                        time,
                        messages.ignoring_request(request.name, "AccessChallenge"),
                    )
        return time + attempt.ms(8, 60)

    def preamble(self, attempt: _Attempt, request: _Request, time: datetime) -> datetime:
        """Notices the extension logs when it starts on an accepted request."""
        nas = request.nas
        if not nas.sends_nas_ip and not nas.nas_identifier:
            time += attempt.ms(1, 4)
            attempt.extension(AUTHZ_OPT, 4, time, messages.nas_attributes_missing())
        if self.world.whitelist and not nas.sends_nas_ip:
            time += attempt.ms(1, 4)
            attempt.extension(AUTHZ_ADMIN, 4, time, messages.ip_whitelist_warning())
        return time + attempt.ms(1, 5)

    def transaction(
        self, attempt: _Attempt, request: _Request, start: datetime, process: _Process
    ) -> None:
        """Run ``process`` and model the client's retransmissions around it.

        ``process`` returns when it finished and whether NPS answered. While a request
        is being processed, each retransmission is a duplicate NPS discards (6274); a
        retransmission after a discard (no answer) is processed again from scratch.
        """
        nas = request.nas
        done, answered = process(attempt, request, start)
        duplicate = replace(request, duplicate=True)
        for retry in range(1, nas.retries + 1):
            sent = start + timedelta(seconds=nas.timeout * retry)
            if sent < done:
                attempt.security(6274, sent + attempt.ms(2, 12), duplicate, _DISCARD_REASON)
            elif answered:
                return
            else:
                done, answered = process(attempt, replace(request, retransmitted=True), sent)

    def finish(
        self,
        attempt: _Attempt,
        request: _Request,
        time: datetime,
        event_id: int,
        reason: int | None,
    ) -> datetime:
        end = time + attempt.ms(2, 15)
        attempt.security(event_id, end, request, reason)
        return end

    # --- outcome processes (return (finished, answered)) -------------------------

    def accepted(
        self, attempt: _Attempt, request: _Request, start: datetime, delay: timedelta | None
    ) -> tuple[datetime, bool]:
        time = self.primary(attempt, request, start)
        if request.nas.sends_nas_ip and request.nas.ip in self.world.whitelist:
            return self.finish(attempt, request, time, 6272, None), True  # MFA skipped
        time = self.preamble(attempt, request, time)
        cid = attempt.guid()
        user = request.user
        if user.method in ("totp", "sms") and request.nas.protocol == "pap":
            time += attempt.ms(300, 900)
            attempt.extension(
                AUTHZ_OPT, 1, time, messages.challenge_requested(request.name, cid, attempt.guid())
            )
            # The code arrives in a second request that carries the challenge's State.
            time += attempt.seconds(8, 35) + attempt.ms(200, 700)
        elif delay is not None:
            time = start + delay
        else:
            low, high = (12.0, 30.0) if user.method == "phone" else (4.0, 20.0)
            # A healthy approval finishes before the client gives up.
            limit = request.nas.timeout * (request.nas.retries + 1) - 1.0
            high = max(min(high, limit), 1.5)
            time += attempt.seconds(min(low, high - 0.5), high)
        attempt.extension(AUTHZ_OPT, 1, time, messages.access_accepted(request.name, cid))
        return self.finish(attempt, request, time, 6272, None), True

    def rejected(
        self, attempt: _Attempt, request: _Request, start: datetime, response: str
    ) -> tuple[datetime, bool]:
        time = self.preamble(attempt, request, self.primary(attempt, request, start))
        time += attempt.ms(250, 1200)
        text = messages.access_rejected(
            request.name, attempt.guid(), response, upn=request.user.upn
        )
        attempt.extension(AUTHZ_OPT, 1, time, text)
        return self.finish(attempt, request, time, 6273, 21), True

    def otp(self, attempt: _Attempt, request: _Request, start: datetime) -> tuple[datetime, bool]:
        time = self.preamble(attempt, request, self.primary(attempt, request, start))
        cid = attempt.guid()
        time += attempt.ms(300, 900)
        attempt.extension(
            AUTHZ_OPT, 1, time, messages.challenge_requested(request.name, cid, attempt.guid())
        )
        outcome = self.item.outcome
        if outcome == "otp_no_answer":
            # A non-PAP client cannot carry the code: NPS rejects right away.
            return self.finish(attempt, request, time, 6273, 21), True
        if outcome == "request_missing_code":
            time += attempt.ms(50, 400)  # the client answers the challenge without a code
            shown = None if self.options.obfuscated_cid else cid
            attempt.extension(
                AUTHZ_ADMIN, 3, time, messages.request_missing_code(request.name, shown)
            )
            return self.finish(attempt, request, time, 6273, 21), True
        # wrong_code: the user types a code, and it is not the right one.
        time += attempt.seconds(8, 35) + attempt.ms(200, 700)
        response = (
            "OathCodeIncorrect"
            if request.user.method == "totp"
            else "SMSAuthFailedWrongCodeEntered"
        )
        text = messages.access_rejected(request.name, cid, response, upn=request.user.upn)
        attempt.extension(AUTHZ_OPT, 1, time, text)
        return self.finish(attempt, request, time, 6273, 21), True

    def primary_failure(
        self, attempt: _Attempt, request: _Request, start: datetime
    ) -> tuple[datetime, bool]:
        time = self.primary(attempt, request, start) + attempt.ms(1, 4)
        attempt.extension(
            AUTHZ_OPT, 1, time, messages.ignoring_request(request.name, "AccessReject")
        )
        return self.finish(attempt, request, time, 6273, self.options.reason), True

    def failure(
        self, attempt: _Attempt, request: _Request, start: datetime
    ) -> tuple[datetime, bool]:
        """Exceptions (AuthZAdminCh event 3) and how NPS ends the request."""
        world = self.world
        scenario = world.scenario
        time = self.preamble(attempt, request, self.primary(attempt, request, start))
        cid = attempt.guid()
        outcome = self.item.outcome
        options = self.options
        if outcome == "ests_token_error":
            time += attempt.ms(150, 800)
            text = messages.ests_token_error(
                request.name,
                cid,
                aadsts=options.aadsts,
                wording=options.wording,
                trace_id=attempt.trace_id(),
                correlation_id=attempt.guid(),
                timestamp=time,
                client_id=scenario.registry.get("CLIENT_ID") or "",
                tenant=scenario.tenant_id,
                thumbprint=world.thumbprint,
                double_space=options.wording == "adal" and attempt.rng.random() < 0.5,
            )
        elif outcome == "https_communication_error":
            if options.schannel:
                attempt.schannel(time + attempt.ms(5, 30))
            time += attempt.ms(60, 300)
            text = messages.https_communication_error(request.name, cid, world.mfa_url)
        elif outcome == "http_connect_error":
            if options.schannel:
                attempt.schannel(time + attempt.ms(5, 30))
            time += timedelta(seconds=_CONNECT_TIMEOUT) + attempt.ms(0, 300)
            text = messages.http_connect_error(request.name, cid, world.mfa_url)
        else:  # alternate_login_id_error
            time += attempt.ms(20, 200)
            text = messages.alternate_login_id_error(request.name, cid, options.variant)
        attempt.extension(AUTHZ_ADMIN, 3, time, text)
        if options.nps_result == "reject":
            return self.finish(attempt, request, time, 6273, 21), True
        return self.finish(attempt, request, time, 6274, _DISCARD_REASON), False

    # --- entry point --------------------------------------------------------------

    def expand(self, attempt: _Attempt, start: datetime, user: User | None) -> None:
        outcome = self.item.outcome
        if outcome == "unknown_radius_client":
            ip = self.options.ip or ""
            attempt.system(13, start + attempt.ms(0, 3), (ip,), 3)
            return
        nas = self.nas
        assert nas is not None
        if outcome == "shared_secret_mismatch":
            # No answer goes back, so the client retransmits and every copy fails the same way.
            for retry in range(nas.retries + 1):
                sent = start + timedelta(seconds=nas.timeout * retry)
                attempt.system(18, sent + attempt.ms(0, 3), (nas.ip,), 3)
            return
        assert user is not None
        request = self.request(attempt, user)
        process: _Process
        if outcome == "success":
            process = partial(self.accepted, delay=None)
        elif outcome == "client_timeout":
            delay = self.options.approve_after or self._late_delay(attempt, nas)
            process = partial(self.accepted, delay=delay)
        elif outcome in _REJECT_RESPONSES:
            response = _REJECT_RESPONSES[outcome]
            process = partial(self.rejected, response=response)
        elif outcome in ("otp_no_answer", "request_missing_code", "wrong_code"):
            process = self.otp
        elif outcome == "primary_auth_failure":
            process = self.primary_failure
        else:
            process = self.failure
        self.transaction(attempt, request, start, process)

    def _late_delay(self, attempt: _Attempt, nas: NasClient) -> timedelta:
        total = nas.timeout * (nas.retries + 1)
        if self.options.final == "failure":
            return attempt.seconds(total + 3.0, total + 25.0)
        return attempt.seconds(nas.timeout * 1.2, max(total - 1.0, nas.timeout * 1.2 + 0.1))


_REJECT_RESPONSES = {
    "user_not_found": "UserNotFound",
    "bec_access_denied": "BecAccessDenied",
    "no_default_method": "NoDefaultAuthenticationMethodIsConfigured",
    "proof_data_not_found": "ProofDataNotFound",
}


# ---------------------------------------------------------------------- scheduling


def _sorted_uniform(rng: random.Random, count: int, low: float, high: float) -> Iterator[float]:
    """``count`` uniform points in [low, high) in ascending order, generated one by one.

    Each next point is the minimum of the remaining ones (Bentley & Saxe, 1980), so no
    list of all points is ever built.
    """
    position = 0.0
    for remaining in range(count, 0, -1):
        position += (1.0 - position) * (1.0 - rng.random() ** (1.0 / remaining))
        yield low + position * (high - low)


_Start = tuple[datetime, int, int]  # (time, stream index, sequence in stream)


def _item_starts(scenario: Scenario, index: int, item: TrafficItem) -> Iterator[_Start]:
    rng = random.Random(f"{scenario.seed}/traffic/{index}/times")
    low = item.start.total_seconds()
    high = item.end.total_seconds()
    for sequence, offset in enumerate(_sorted_uniform(rng, item.count, low, high)):
        yield scenario.start + timedelta(microseconds=round(offset * 1e6)), index, sequence


def _noise_starts(scenario: Scenario) -> Iterator[_Start]:
    noise = scenario.noise
    marks = [(offset, 0) for offset in noise.service_starts]
    marks += [(offset, 1) for offset in noise.dc_unresponsive]
    marks += [(offset, 2) for offset in noise.dc_unavailable]
    for sequence, (offset, kind) in enumerate(sorted(marks)):
        yield scenario.start + offset, -1 - kind, sequence


def _expand_noise(world: _World, attempt: _Attempt, start: datetime, kind: int) -> None:
    scenario = world.scenario
    if kind == 0:  # the NPS service (re)started
        if scenario.registry.get("IP_WHITELIST") is None:
            attempt.extension(
                AUTHZ_OPT, 2, start + attempt.ms(400, 2500), messages.ip_whitelist_not_initialised()
            )
        attempt.system(
            4400, start + attempt.ms(2600, 4000), (world.dcs[0], scenario.netbios_domain), 4
        )
    elif kind == 1:
        attempt.system(4401, start, (world.dcs[0], scenario.netbios_domain), 3)
    else:
        attempt.system(4402, start, (scenario.netbios_domain,), 2)


def generate(scenario: Scenario, *, max_events: int | None = None) -> Iterator[GeneratedEvent]:
    """Yield every event of ``scenario`` in time order, with final EventRecordIDs.

    Events later than the scenario's end (``start + duration``, when the logs were
    collected) are left out, as an export taken at that moment would.

    Args:
        scenario: the validated scenario.
        max_events: stop after this many events (all logs together).
    """
    world = _make_world(scenario)
    flows = [_Flows(world, item) for item in scenario.traffic]
    expand_rngs = [random.Random(f"{scenario.seed}/traffic/{i}/events") for i in range(len(flows))]
    user_pickers = [_user_picker(scenario, i, item) for i, item in enumerate(scenario.traffic)]
    noise_rng = random.Random(f"{scenario.seed}/noise")
    streams: list[Iterable[_Start]] = [_noise_starts(scenario)]
    streams += [_item_starts(scenario, i, item) for i, item in enumerate(scenario.traffic)]
    next_ids = dict(world.first_ids)
    pending: list[tuple[datetime, int, str, EventRecord]] = []
    sequence = 0
    emitted = 0
    end = scenario.end

    def drain(until: datetime | None) -> Iterator[GeneratedEvent]:
        nonlocal emitted
        while pending and (until is None or pending[0][0] <= until):
            time, _, log, record = heapq.heappop(pending)
            if time > end or (max_events is not None and emitted >= max_events):
                continue
            record_id = next_ids[log]
            next_ids[log] = record_id + 1
            emitted += 1
            yield GeneratedEvent(log, replace(record, record_id=record_id))

    for start, stream, _ in heapq.merge(*streams):
        if max_events is not None and emitted >= max_events:
            return
        # Every later attempt starts at or after ``start``, so earlier events are final.
        yield from drain(start)
        if stream < 0:
            attempt = _Attempt(world, noise_rng)
            _expand_noise(world, attempt, start, -1 - stream)
        else:
            attempt = _Attempt(world, expand_rngs[stream])
            flows[stream].expand(attempt, start, user_pickers[stream](attempt.rng))
        for time, log, record in attempt.events:
            heapq.heappush(pending, (time, sequence, log, record))
            sequence += 1
    yield from drain(None)


def _user_picker(
    scenario: Scenario, index: int, item: TrafficItem
) -> Callable[[random.Random], User | None]:
    """Every listed user gets one of the first requests, then users are drawn at random."""
    users = [scenario.user(name) for name in item.users]
    if not users:
        return lambda rng: None
    order = list(users)
    random.Random(f"{scenario.seed}/traffic/{index}/users").shuffle(order)
    state = {"next": 0}

    def pick(rng: random.Random) -> User | None:
        position = state["next"]
        state["next"] = position + 1
        if position < len(order):
            return order[position]
        return rng.choice(users)

    return pick


def records_for(
    scenario: Scenario, log: str, *, max_events: int | None = None
) -> Iterator[EventRecord]:
    """The records of one log, in order (a filtered :func:`generate`)."""
    for event in generate(scenario, max_events=max_events):
        if event.log == log:
            yield event.record


def count_events(scenario: Scenario) -> Counter[str]:
    """How many events each log of ``scenario`` receives."""
    return Counter(event.log for event in generate(scenario))
