"""What the inputs covered, and what each missing log means for the diagnosis.

A diagnosis is only as good as the logs behind it. With only the Security log, NPS says "an
extension rejected the request" (reason 21) and nothing more; the extension's own logs say
why. This module decides, from the per-input accounting, which of the logs npsdiag uses were
given (whatever the files are called: the channels of their records decide), and names, for
every conclusion, the logs it rests on, so that a conclusion drawn without them is marked and
says what to export.

Roles, in report order:

- ``extension``: the extension's operational channels (AuthZOptCh, AuthNOptCh).
- ``extension-admin``: the extension's admin channel (AuthZAdminCh): its errors.
- ``security``: the Security log's NPS events 6272-6280: what NPS decided.
- ``system``: the System log's NPS and Schannel events.
- ``registry``: ``REG QUERY`` dumps of the extension's keys (configuration check).
- ``traces``: ``.etl`` traces (listed, never decoded; shown only when given).
- ``client``: the RADIUS client's own logs: RD Gateway operational, the VPN client's
  Application log (RasClient), an RRAS server's RemoteAccess events (shown only when given).

References:
    - https://learn.microsoft.com/entra/identity/authentication/howto-mfa-nps-extension-errors
      (the three channels Microsoft support asks for)
    - https://learn.microsoft.com/windows/security/threat-protection/auditing/audit-network-policy-server
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from npsdiag.model import Coverage, Finding, LogCoverage, SourceKind, SourceStats

__all__ = [
    "CLIENT",
    "EXTENSION",
    "EXTENSION_ADMIN",
    "REGISTRY",
    "ROLES",
    "SECURITY",
    "SYSTEM",
    "TRACES",
    "compute_coverage",
    "export_hint",
    "needs",
    "role_label",
]

EXTENSION = "extension"
EXTENSION_ADMIN = "extension-admin"
SECURITY = "security"
SYSTEM = "system"
REGISTRY = "registry"
TRACES = "traces"
CLIENT = "client"


@dataclass(frozen=True, slots=True)
class _Role:
    name: str
    label: str
    holds: str
    missing: str
    export: str


_ROLES: tuple[_Role, ...] = (
    _Role(
        EXTENSION,
        "AuthZOptCh (the extension's answers)",
        "what the extension answered for each request: challenges, approvals, and rejections "
        "with the MFA service's response",
        "what the extension answered is not known: NPS's 'rejected by an extension' (reason "
        "21) and discards (reason 9) cannot be explained",
        r"wevtutil epl AuthZOptCh C:\NPS\AuthZOptCh.evtx /ow:true",
    ),
    _Role(
        EXTENSION_ADMIN,
        "AuthZAdminCh (the extension's errors)",
        "the extension's own errors: certificate and service principal (ESTS_TOKEN_ERROR), "
        "connectivity, configuration",
        "errors of the extension itself (certificate, connectivity, configuration) are not known",
        r"wevtutil epl AuthZAdminCh C:\NPS\AuthZAdminCh.evtx /ow:true",
    ),
    _Role(
        SECURITY,
        "Security 6272-6280 (NPS's decisions)",
        "what NPS decided for each request: granted (6272), denied with a reason code (6273), "
        "discarded (6274)",
        "NPS's own decisions are not known: failures before MFA (wrong password, no matching "
        "network policy) cannot be named, and no attempt can be confirmed as granted",
        r'wevtutil epl Security C:\NPS\NPS_Security.evtx /q:"*[System[(EventID>=6272 and '
        r'EventID<=6280)]]" /ow:true',
    ),
    _Role(
        SYSTEM,
        "System (NPS and Schannel events)",
        "requests NPS refused before the extension (unknown RADIUS client 13, shared secret "
        "17/18), domain controllers (4400-4402) and TLS failures (Schannel 36871)",
        "requests refused before they reach the extension (unknown RADIUS client, wrong shared "
        "secret) and TLS failures are not visible",
        r"wevtutil epl System C:\NPS\System.evtx /ow:true",
    ),
    _Role(
        REGISTRY,
        "Registry (the extension's settings)",
        "the extension's configuration, checked for known faults",
        "the extension's configuration cannot be checked",
        r'REG QUERY "HKLM\SOFTWARE\Microsoft\AzureMfa" > C:\NPS\AzureMfa.txt',
    ),
    _Role(
        TRACES,
        "Traces (.etl)",
        "listed only: npsdiag does not decode traces",
        "",
        "",
    ),
    _Role(
        CLIENT,
        "RADIUS client (RD Gateway, VPN client, RRAS)",
        "what the RADIUS client saw of each attempt (the gateway's or the VPN client's "
        "errors), joined to the NPS server's evidence of the same attempt",
        "",
        "",
    ),
)
_BY_NAME = {role.name: role for role in _ROLES}
#: Roles listed in the report even when not given (traces are shown only when present).
ROLES: tuple[str, ...] = tuple(role.name for role in _ROLES)
_ALWAYS_SHOWN = frozenset(ROLES) - {TRACES, CLIENT}
#: Finding kinds of the RADIUS client's logs (npsdiag/extract_client.py), by prefix.
_CLIENT_PREFIXES = ("rdg.", "vpn.", "ras.")

#: Channel (last path part, lower case) -> role.
_CHANNEL_ROLES = {
    "microsoft-windows-terminalservices-gateway/operational": CLIENT,
    "authzoptch": EXTENSION,
    "authnoptch": EXTENSION,
    "authzadminch": EXTENSION_ADMIN,
    "security": SECURITY,
    "system": SYSTEM,
}
#: When an input holds no record at all, only its name can tell what it was meant to be.
_NAME_ROLES = (
    (re.compile(r"authzadminch", re.IGNORECASE), EXTENSION_ADMIN),
    # Not AuthNOptCh: that channel is usually empty, so an empty export of it says nothing
    # about what the extension answered.
    (re.compile(r"authzoptch", re.IGNORECASE), EXTENSION),
    (re.compile(r"security|nps_eventlog", re.IGNORECASE), SECURITY),
    (re.compile(r"system", re.IGNORECASE), SYSTEM),
)
_EVENT_KINDS = frozenset({SourceKind.EVTX, SourceKind.XML, SourceKind.WEVTUTIL_TEXT})

#: What each conclusion rests on besides the evidence that raised it: the logs that could
#: show a different or more precise cause. Keyed by catalog entry id.
_NEEDS: dict[str, tuple[str, ...]] = {
    # NPS only says "an extension DLL rejected (21) or discarded (9) it": the why is in the
    # extension's own channels.
    "nps.reason-21": (EXTENSION, EXTENSION_ADMIN),
    "nps.reason-9": (EXTENSION, EXTENSION_ADMIN),
    # A challenge with no answer may be followed by an error in the admin channel
    # (REQUEST_MISSING_CODE) that names the cause exactly.
    "ext.challenge-no-answer": (EXTENSION_ADMIN,),
    # "AccessReject, ignoring request": NPS's 6273 reason code names the first-factor failure.
    "ext.primary-auth-rejected": (SECURITY,),
    # Repeated discards are a client timeout only if the extension did not fail itself.
    "nps.client-timeout": (EXTENSION, EXTENSION_ADMIN),
}


def role_label(role: str) -> str:
    """The log's name as an admin knows it."""
    found = _BY_NAME.get(role)
    return found.label if found is not None else role


def export_hint(role: str) -> str:
    """The command that exports a log of ``role`` on the NPS server ("" when none is needed)."""
    found = _BY_NAME.get(role)
    return found.export if found is not None else ""


def needs(entry_id: str) -> tuple[str, ...]:
    """The logs a conclusion (a catalog entry) rests on besides its own evidence."""
    return _NEEDS.get(entry_id, ())


def _channel_role(channel: str) -> str | None:
    name = channel.replace("\\", "/").lower()
    return _CHANNEL_ROLES.get(name) or _CHANNEL_ROLES.get(name.rpartition("/")[2])


def _roles_of(stats: SourceStats) -> list[str]:
    """The roles an input plays, from its records' channels, else from its name."""
    if stats.kind == SourceKind.REGQUERY:
        return [REGISTRY] if not stats.inventory else []
    if stats.kind == SourceKind.TRACE:
        return [TRACES]
    if stats.kind not in _EVENT_KINDS or stats.inventory:
        return []
    roles = [role for channel in stats.channels if (role := _channel_role(channel))]
    if roles or stats.channels:
        return list(dict.fromkeys(roles))
    base = stats.name.replace("\\", "/").rpartition("/")[2].rpartition("!")[2]
    return [role for pattern, role in _NAME_ROLES if pattern.search(base)][:1]


def compute_coverage(sources: Sequence[SourceStats], findings: Iterable[Finding]) -> Coverage:
    """Which logs the inputs covered, from the read accounting and the events used.

    Args:
        sources: the accounting of every input.
        findings: the findings the analysis used (copies of one event counted once).

    Returns:
        The coverage, one entry per role (traces only when given).
    """
    events: dict[str, int] = {}
    evidence = False
    # A VPN client's Application log or an RRAS server's System log is the client's side only
    # by what it holds, not by its channel.
    client_inputs: set[str] = set()
    for finding in findings:
        evidence = True
        if finding.kind.startswith(_CLIENT_PREFIXES):
            played: str | None = CLIENT
            client_inputs.add(finding.event.origin)
        else:
            played = _channel_role(finding.event.channel)
            if played is None and finding.kind.startswith("ext."):
                played = EXTENSION
        if played is not None:
            events[played] = events.get(played, 0) + 1
    files: dict[str, list[SourceStats]] = {}
    other_logs: list[tuple[str, str]] = []
    for stats in sources:
        roles = _roles_of(stats)
        if stats.name in client_inputs and CLIENT not in roles:
            roles = [*roles, CLIENT]
        for name in roles:
            files.setdefault(name, []).append(stats)
        if roles or stats.kind not in _EVENT_KINDS or stats.inventory:
            continue
        if stats.channels:
            channels = ", ".join(stats.channels[:3]) + (" ..." if len(stats.channels) > 3 else "")
            other_logs.append((stats.name, f"a {channels} log: holds no NPS or extension event"))
        elif not stats.records_read and not stats.lost:
            other_logs.append((stats.name, _nameless_note(stats.name)))
    logs: list[LogCoverage] = []
    for role in _ROLES:
        given = files.get(role.name, [])
        if not given and role.name not in _ALWAYS_SHOWN:
            continue
        logs.append(_log(role, given, events.get(role.name, 0)))
    return Coverage(logs=logs, other_logs=other_logs, evidence=evidence)


def _log(role: _Role, given: Sequence[SourceStats], events: int) -> LogCoverage:
    names = [stats.name for stats in given]
    records = sum(stats.records_read for stats in given)
    if role.name == REGISTRY:
        records = sum(1 for stats in given if not stats.lost)
    if not given:
        status = "missing"
        note = f"not given: {role.missing}. Export it: {role.export}"
    elif records == 0 and all(stats.lost for stats in given):
        status = "unreadable"
        note = f"given but nothing could be read: {role.missing}. Export it again: {role.export}"
    elif records == 0 and role.name != TRACES:
        status = "empty"
        note = f"given, but holds no record; {_empty_meaning(role.name)}"
    else:
        status = "read"
        note = role.holds
        if role.name == SECURITY and events == 0:
            note = (
                "read, but holds no NPS event: NPS auditing may be off (check with "
                'auditpol /get /subcategory:"Network Policy Server"), or the export does not '
                "cover the time of the failures"
            )
    return LogCoverage(
        role=role.name,
        label=role.label,
        files=names,
        records=records,
        events=events,
        status=status,
        note=note,
    )


def _nameless_note(name: str) -> str:
    if "authnoptch" in name.lower():
        return (
            "an empty AuthNOptCh export: this channel is usually empty; the extension logs its "
            "answers in AuthZOptCh and its errors in AuthZAdminCh"
        )
    return "an event log export that holds no record"


def _empty_meaning(role: str) -> str:
    if role == EXTENSION:
        return "the extension handled no request in the exported time"
    if role == EXTENSION_ADMIN:
        return "the extension logged no error in the exported time"
    if role == SECURITY:
        return "NPS logged no event: is NPS auditing on, and does the export cover the failures?"
    return "nothing of this log was exported"
