"""What ``npsdiag collect`` asks Windows for: event log queries, registry keys, audit policy.

Pure functions and constants, shared by the collection and by the tests that keep the admin
guide's hand-typed commands equal to what the collection runs.

The event queries are Windows Event Log XPath (the subset ``wevtutil epl /q:`` accepts), with
a time window ``TimeCreated[timediff(@SystemTime) <= N]`` in milliseconds before now:

* the extension's channels: everything in the window (they are small);
* Security: NPS's events 6272-6280 only, never the whole log (it is often several GB);
* System: exactly the providers and event ids the diagnosis reads
  (:func:`npsdiag.extract.is_relevant`: NPS/IAS 13, 17, 18, 4400-4402; Schannel 36871).

References:
    - https://learn.microsoft.com/windows/win32/wes/consuming-events (XPath, timediff)
    - https://learn.microsoft.com/windows-server/administration/windows-commands/wevtutil
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from npsdiag import _patterns as pat
from npsdiag.errors import UsageError
from npsdiag.sources.hostfacts import NPS_AUDIT_GUID

__all__ = [
    "AUDITPOL_ARGS",
    "DEFAULT_SINCE",
    "EXTENSION_CHANNELS",
    "MAX_SINCE",
    "REGISTRY_KEYS",
    "channel_query",
    "event_id_condition",
    "parse_since",
    "security_query",
    "system_query",
    "time_condition",
]

#: The extension's channels, as ``wevtutil`` names them.
EXTENSION_CHANNELS: tuple[str, ...] = ("AuthNOptCh", "AuthZOptCh", "AuthZAdminCh")
#: The registry keys dumped, as ``reg query`` takes them (the configuration check's keys).
REGISTRY_KEYS: dict[str, str] = {
    "AzureMFA": "HKLM\\SOFTWARE\\Microsoft\\AzureMfa",
    "AuthSrv": "HKLM\\SYSTEM\\CurrentControlSet\\Services\\AuthSrv\\Parameters",
}
#: ``auditpol`` arguments: the NPS subcategory by GUID (any language), as CSV.
AUDITPOL_ARGS: tuple[str, ...] = ("/get", f"/subcategory:{NPS_AUDIT_GUID}", "/r")
#: The default time window.
DEFAULT_SINCE = "24h"
#: The longest window accepted (longer than any event log keeps on a busy NPS server).
MAX_SINCE = timedelta(days=366)

#: Provider names as the System log spells them, for the lower-cased names the diagnosis uses.
PROVIDER_NAMES: dict[str, str] = {
    "nps": "NPS",
    "ias": "IAS",
    "schannel": "Schannel",
    "microsoft-windows-schannel": "Microsoft-Windows-Schannel",
}
_SINCE_PART = re.compile(r"(\d+)([mhdw])")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_UNIT["w"] = timedelta(weeks=1)


def parse_since(text: str) -> timedelta:
    """Read a time window such as ``30m``, ``24h``, ``7d``, ``2w`` or ``1d12h``.

    Raises:
        UsageError: anything else, a window under a minute, or one over :data:`MAX_SINCE`.
    """
    squeezed = text.strip().lower()
    parts = _SINCE_PART.findall(squeezed)
    if not parts or "".join(number + unit for number, unit in parts) != squeezed:
        raise UsageError(
            f"--since {text!r} is not a time window",
            hint="write it like 30m, 24h, 7d or 1d12h (minutes, hours, days, weeks)",
        )
    window = sum((int(number) * _UNIT[unit] for number, unit in parts), timedelta())
    if window < timedelta(minutes=1) or window > MAX_SINCE:
        raise UsageError(f"--since {text!r} must be between 1 minute and {MAX_SINCE.days} days")
    return window


def milliseconds(window: timedelta) -> int:
    """The window as the whole milliseconds ``timediff`` compares with."""
    return int(window.total_seconds() * 1000)


def time_condition(window: timedelta) -> str:
    """``TimeCreated[timediff(@SystemTime) <= N]``: events no older than ``window``."""
    return f"TimeCreated[timediff(@SystemTime) <= {milliseconds(window)}]"


def event_id_condition(event_ids: Iterable[int]) -> str:
    """``EventID`` tests for a set of ids, runs of three or more consecutive ids as a range."""
    ids = sorted(set(event_ids))
    tests: list[str] = []
    start = 0
    for index in range(1, len(ids) + 1):
        if index == len(ids) or ids[index] != ids[index - 1] + 1:
            low, high = ids[start], ids[index - 1]
            if high - low >= 2:
                tests.append(f"EventID>={low} and EventID<={high}")
            else:
                tests.extend(f"EventID={number}" for number in range(low, high + 1))
            start = index
    if len(tests) == 1:
        return f"({tests[0]})"
    return "(" + " or ".join(f"({test})" if " and " in test else test for test in tests) + ")"


def channel_query(window: timedelta) -> str:
    """Every event of a channel in the window."""
    return f"*[System[{time_condition(window)}]]"


def security_query(window: timedelta) -> str:
    """NPS's Security events 6272-6280 in the window."""
    ids = event_id_condition(pat.NPS_SECURITY_IDS)
    return f"*[System[{ids} and {time_condition(window)}]]"


def system_query(window: timedelta) -> str:
    """The System events the diagnosis reads (NPS/IAS and Schannel) in the window."""
    nps = _providers(pat.NPS_SYSTEM_PROVIDERS)
    tls = _providers(pat.SCHANNEL_PROVIDERS)
    chosen = (
        f"({nps} and {event_id_condition(pat.NPS_SYSTEM_IDS)})"
        f" or ({tls} and {event_id_condition({pat.SCHANNEL_TLS_ID})})"
    )
    return f"*[System[({chosen}) and {time_condition(window)}]]"


def _providers(names: Iterable[str]) -> str:
    spelled = sorted(PROVIDER_NAMES[name] for name in names)
    return "(" + " or ".join(f"Provider[@Name='{name}']" for name in spelled) + ")"
