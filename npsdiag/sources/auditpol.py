"""Read ``auditpol /get`` output: is NPS auditing on?

NPS writes its decisions (6272 granted, 6273 denied, 6274 discarded ...) to the Security log
only when the audit subcategory "Network Policy Server" is on for success and failure. Without
them a diagnosis loses NPS's reason codes, so the collection saves the subcategory's setting:

* ``auditpol /get /subcategory:{0CCE9243-69AE-11D9-BED3-505054503030} /r`` (what
  ``npsdiag collect`` runs: the GUID works in every language, ``/r`` prints CSV)::

      Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting

      NPS01,System,Network Policy Server,{0CCE9243-69AE-11D9-BED3-505054503030},No Auditing,

* ``auditpol /get /subcategory:"Network Policy Server"`` typed by hand (a table)::

      System audit policy
      Category/Subcategory                      Setting
      Logon/Logoff
        Network Policy Server                   Success and Failure

Settings are read in English ("Success", "Failure", "Success and Failure", "No Auditing");
another language's words are kept as they are, with success and failure unknown.

References:
    - https://learn.microsoft.com/windows-server/administration/windows-commands/auditpol-get
    - https://learn.microsoft.com/windows/security/threat-protection/auditing/audit-network-policy-server
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from npsdiag.errors import FactsReadError
from npsdiag.sources._json_doc import decode_text
from npsdiag.sources.hostfacts import NPS_AUDIT_GUID

__all__ = ["AuditPolicy", "AuditSetting", "parse_auditpol"]

#: An audit policy listing of every subcategory is a few kilobytes.
MAX_AUDITPOL_BYTES = 1024 * 1024
NPS_SUBCATEGORY = "Network Policy Server"

#: English settings as (success, failure).
_SETTINGS: dict[str, tuple[bool, bool]] = {
    "success and failure": (True, True),
    "success": (True, False),
    "failure": (False, True),
    "no auditing": (False, False),
}
_TABLE_ROW = re.compile(r"^\s+(?P<name>\S.*?)\s{2,}(?P<setting>\S.*?)\s*$")


@dataclass(frozen=True, slots=True)
class AuditSetting:
    """One subcategory's setting.

    Attributes:
        subcategory: its name as printed.
        guid: its GUID (``/r`` output only; "" in the table).
        setting: the setting as printed (``Success and Failure``).
        success, failure: whether success and failure events are audited; None when the
            setting's words are not known (another language).
        line: 1-based line number.
    """

    subcategory: str
    guid: str
    setting: str
    success: bool | None
    failure: bool | None
    line: int

    @property
    def is_nps(self) -> bool:
        """True for the "Network Policy Server" subcategory."""
        if self.guid:
            return self.guid.upper() == NPS_AUDIT_GUID
        return self.subcategory.casefold() == NPS_SUBCATEGORY.casefold()


@dataclass(frozen=True, slots=True)
class AuditPolicy:
    """What one ``auditpol /get`` output says.

    Attributes:
        name: the file it was read from.
        computer: the machine name of the ``/r`` output ("" in the table).
        settings: every subcategory row, in file order.
    """

    name: str
    computer: str
    settings: tuple[AuditSetting, ...]

    @property
    def nps(self) -> AuditSetting | None:
        """The "Network Policy Server" row, if the output has one."""
        return next((setting for setting in self.settings if setting.is_nps), None)


def parse_auditpol(data: bytes, name: str) -> AuditPolicy:
    """Parse ``auditpol /get`` output in ``/r`` (CSV) or table form.

    Raises:
        FactsReadError: too large, or neither form.
    """
    if len(data) > MAX_AUDITPOL_BYTES:
        raise FactsReadError(f"{name}: {len(data):,} bytes, too large for auditpol output")
    lines = decode_text(data).splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if "," in first:
        return _csv(lines, name)
    return _table(lines, name)


def _csv(lines: list[str], name: str) -> AuditPolicy:
    rows = list(csv.reader(lines))
    settings: list[AuditSetting] = []
    computer = ""
    for number, row in enumerate(rows, start=1):
        if len(row) < 5 or not row[3].strip().startswith("{"):
            continue  # the header, blank lines
        computer = computer or row[0].strip()
        settings.append(_setting(row[2].strip(), row[3].strip(), row[4].strip(), number))
    if not settings:
        raise FactsReadError(
            f"{name}: no subcategory row in this CSV; expected the output of "
            f"auditpol /get /subcategory:{NPS_AUDIT_GUID} /r"
        )
    return AuditPolicy(name=name, computer=computer, settings=tuple(settings))


def _table(lines: list[str], name: str) -> AuditPolicy:
    settings: list[AuditSetting] = []
    header_seen = False
    for number, line in enumerate(lines, start=1):
        if not header_seen:
            header_seen = line.strip().casefold().startswith("category/subcategory")
            continue
        match = _TABLE_ROW.match(line)
        if match is not None:
            settings.append(_setting(match["name"], "", match["setting"], number))
    if not settings:
        raise FactsReadError(
            f"{name}: not auditpol output (no 'Category/Subcategory  Setting' table)",
            hint='save the output of auditpol /get /subcategory:"Network Policy Server"',
        )
    return AuditPolicy(name=name, computer="", settings=tuple(settings))


def _setting(subcategory: str, guid: str, setting: str, line: int) -> AuditSetting:
    success, failure = _SETTINGS.get(setting.casefold(), (None, None))
    return AuditSetting(subcategory, guid, setting, success, failure, line)
