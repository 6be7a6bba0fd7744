"""Stand-ins for the Windows programs ``npsdiag collect`` runs, for tests on any system.

:func:`install` writes ``wevtutil``, ``reg``, ``auditpol``, ``whoami`` and ``powershell`` into
a folder as small Python programs that behave like the real ones on an NPS server described
by a :class:`Server`: they print what the real programs print (REG QUERY text, auditpol's
CSV, whoami's groups, the certificate listing as JSON), write real ``.evtx`` files made with
npsdiag's EVTX writer, fail the way the real ones fail (a channel that does not exist, access
denied without elevation), and record every call with its arguments in ``calls.jsonl`` so
that tests can check what was asked for. ``NPSDIAG_COLLECT_TOOLS`` pointing at the folder
makes the collection use them.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from npsdiag.sources.regquery import MISSING_KEY_MESSAGE

AZURE_MFA_KEY = "HKLM\\SOFTWARE\\Microsoft\\AzureMfa"
AUTHSRV_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\AuthSrv\\Parameters"
TOOLS = ("wevtutil", "reg", "auditpol", "whoami", "powershell")
#: What `wevtutil el` lists on an NPS server with the extension (a few of the many).
CHANNELS = (
    "Application",
    "AuthNOptCh",
    "AuthZAdminCh",
    "AuthZOptCh",
    "HardwareEvents",
    "Microsoft-Windows-Kernel-Boot/Operational",
    "Security",
    "Setup",
    "System",
)


@dataclass
class Server:
    """The NPS server the stand-ins pretend to run on.

    Attributes:
        evtx: channel -> a real .evtx file to hand out as the export of that channel.
        channels: what ``wevtutil el`` lists.
        registry: ``reg query`` key -> its output; None makes the key missing.
        audit_setting: the "Network Policy Server" subcategory's setting.
        elevated: without elevation Security exports and auditpol fail as on Windows.
        certificates, extension: the JSON documents the PowerShell scripts print (None: the
            script fails).
        missing: programs left out of the folder.
    """

    evtx: dict[str, str]
    registry: dict[str, str | None]
    channels: list[str] = field(default_factory=lambda: list(CHANNELS))
    audit_setting: str = "Success and Failure"
    elevated: bool = True
    certificates: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None
    missing: list[str] = field(default_factory=list)
    computer: str = "NPS-MFA01"


_PROGRAM = r"""
import base64, json, shutil, sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOL = Path(sys.argv[0]).name
ARGS = sys.argv[1:]
SERVER = json.loads((HERE / "server.json").read_text(encoding="utf-8"))
MISSING_KEY = __MISSING_KEY__


def record(**extra):
    with open(HERE / "calls.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps({"program": TOOL, "args": ARGS, **extra}) + "\n")


def fail(message, code):
    sys.stderr.write(message + "\r\n")
    sys.exit(code)


def wevtutil():
    record()
    if ARGS == ["el"]:
        sys.stdout.write("".join(name + "\r\n" for name in SERVER["channels"]))
        return
    if len(ARGS) < 3 or ARGS[0] != "epl":
        fail("The parameter is incorrect.", 87)
    channel, target = ARGS[1], ARGS[2]
    if channel not in SERVER["channels"]:
        fail(f"Failed to export log {channel}. The specified channel could not be found.", 15007)
    if channel == "Security" and not SERVER["elevated"]:
        fail(f"Failed to export log {channel}. Access is denied.", 5)
    if Path(target).exists() and "/ow:true" not in [arg.lower() for arg in ARGS]:
        fail(f"Failed to export log {channel}. The file exists.", 80)
    shutil.copyfile(SERVER["evtx"][channel], target)


def reg():
    record()
    key = ARGS[1]
    text = SERVER["registry"].get(key)
    if text is None:
        fail(MISSING_KEY, 1)
    sys.stdout.buffer.write(text.encode("cp1252"))


def auditpol():
    record()
    if not SERVER["elevated"]:
        sys.stdout.write("Error 0x00000522 occurred:\r\n")
        sys.stdout.write("A required privilege is not held by the client.\r\n")
        sys.exit(1)
    sys.stdout.write(
        "Machine Name,Policy Target,Subcategory,Subcategory GUID,"
        "Inclusion Setting,Exclusion Setting\r\n"
        "\r\n"
        f"{SERVER['computer']},System,Network Policy Server,"
        "{0CCE9243-69AE-11D9-BED3-505054503030}," + SERVER["audit_setting"] + ",\r\n"
    )


def whoami():
    record()
    label = "S-1-16-12288" if SERVER["elevated"] else "S-1-16-8192"
    level = "High" if SERVER["elevated"] else "Medium"
    sys.stdout.write(
        '"Everyone","Well-known group","S-1-1-0","Mandatory group, Enabled group"\r\n'
        '"BUILTIN\\Administrators","Alias","S-1-5-32-544","Group used for deny only"\r\n'
        f'"Mandatory Label\\{level} Mandatory Level","Label","{label}",""\r\n'
    )


def powershell():
    script = base64.b64decode(ARGS[ARGS.index("-EncodedCommand") + 1]).decode("utf-16-le")
    record(script=script)
    if "npsdiag/certificates/1" in script:
        document = SERVER["certificates"]
    elif "npsdiag/extension/1" in script:
        document = SERVER["extension"]
    else:
        fail("npsdiag: unexpected script", 1)
    if document is None:
        fail("npsdiag: Access is denied.", 1)
    sys.stdout.write(json.dumps(document, indent=4, ensure_ascii=True) + "\r\n")


PROGRAMS = {"wevtutil": wevtutil, "reg": reg, "auditpol": auditpol, "whoami": whoami}
PROGRAMS["powershell"] = powershell
PROGRAMS[TOOL]()
"""


def install(folder: Path, server: Server) -> Path:
    """Write the stand-ins for ``server`` into ``folder``; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.json").write_text(json.dumps(asdict(server)), encoding="utf-8")
    program = f"#!{sys.executable}\n" + _PROGRAM.replace(
        "__MISSING_KEY__", repr(MISSING_KEY_MESSAGE)
    )
    for tool in TOOLS:
        path = folder / tool
        if tool in server.missing:
            path.unlink(missing_ok=True)
            continue
        path.write_text(program, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def calls(folder: Path) -> list[dict[str, Any]]:
    """Every call the stand-ins received, in order."""
    log = folder / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def environment(folder: Path, computer: str = "NPS-MFA01") -> dict[str, str]:
    """The environment that makes ``npsdiag collect`` use the stand-ins in ``folder``."""
    return {**os.environ, "NPSDIAG_COLLECT_TOOLS": str(folder), "COMPUTERNAME": computer}
