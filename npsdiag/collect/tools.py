"""Find and run the Windows programs ``npsdiag collect`` uses.

The collection runs elevated, so it never looks programs up on ``PATH`` or in the current
folder (where anyone who can drop a ``wevtutil.exe`` would be run as administrator): it runs
them from the Windows system folder, ``%SystemRoot%\\System32`` (``Sysnative`` from a 32-bit
Python on 64-bit Windows, so that ``reg`` sees the 64-bit registry and the extension's key).

The one exception is the documented override :data:`TOOLS_ENV`: when
``NPSDIAG_COLLECT_TOOLS`` names a folder, every program is taken from that folder instead,
and the collection also runs on systems other than Windows. The test suite uses it to run
the collection on Linux with stand-in programs; nothing else should.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from npsdiag.errors import CollectError

__all__ = ["TOOLS_ENV", "ToolRun", "Toolbox", "elevation"]

#: Take the Windows programs from this folder (and allow other systems): for tests.
TOOLS_ENV = "NPSDIAG_COLLECT_TOOLS"
#: Where each program lives under the Windows system folder.
_SYSTEM_PATHS: dict[str, tuple[str, ...]] = {
    "wevtutil": ("wevtutil.exe",),
    "reg": ("reg.exe",),
    "auditpol": ("auditpol.exe",),
    "whoami": ("whoami.exe",),
    "powershell": ("WindowsPowerShell", "v1.0", "powershell.exe"),
}
#: Mandatory integrity levels of an elevated token: High, System.
_ELEVATED_LABELS = ("S-1-16-12288", "S-1-16-16384")
_MEDIUM_LABELS = ("S-1-16-8192", "S-1-16-8448")
_MESSAGE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class ToolRun:
    """What one run of a program gave.

    Attributes:
        program: the program's short name (``wevtutil``).
        args: its arguments.
        returncode: the exit code; None when it could not be run or was stopped.
        stdout, stderr: what it wrote.
        failure: why it could not be run or finish ("" when it ran to the end).
    """

    program: str
    args: tuple[str, ...]
    returncode: int | None
    stdout: bytes
    stderr: bytes
    failure: str = ""

    @property
    def ok(self) -> bool:
        """True when the program ran and exited with 0."""
        return self.returncode == 0

    @property
    def command(self) -> tuple[str, ...]:
        """The command as the manifest shows it (program name, then arguments)."""
        return (self.program, *self.args)

    def message(self) -> str:
        """The program's own words, on one line: stderr, else stdout (for failures)."""
        for stream in (self.stderr, self.stdout):
            text = _decode(stream)
            if text.strip():
                flat = " ".join(text.split())
                return flat if len(flat) <= _MESSAGE_LIMIT else flat[: _MESSAGE_LIMIT - 1] + "…"
        return ""

    def describe_failure(self) -> str:
        """Why the run failed, in one line (exit code and the program's message)."""
        if self.failure:
            return self.failure
        said = self.message()
        return f"{self.program} exited with code {self.returncode}" + (f": {said}" if said else "")


class Toolbox:
    """The programs of one machine, and how to run them."""

    def __init__(self, folder: Path, *, override: bool) -> None:
        self.folder = folder
        self.override = override

    @classmethod
    def for_this_machine(
        cls, environ: Mapping[str, str] | None = None, platform: str | None = None
    ) -> Toolbox:
        """The system folder on Windows, or the :data:`TOOLS_ENV` folder when it is set.

        Raises:
            CollectError: not Windows and no override: the collection runs on the NPS server.
        """
        environ = os.environ if environ is None else environ
        platform = sys.platform if platform is None else platform
        override = environ.get(TOOLS_ENV, "").strip()
        if override:
            return cls(Path(override), override=True)
        if platform != "win32":
            raise CollectError(
                f"npsdiag collect runs on the Windows NPS server, and this is {platform}",
                hint="run it there in an elevated prompt, or collect the logs by hand as "
                "docs/admin-guide.md shows and analyse them here",
            )
        root = Path(environ.get("SystemRoot") or environ.get("windir") or "C:\\Windows")
        # A 32-bit Python sees SysWOW64 as System32; Sysnative is the real one.
        native = root / "Sysnative"
        return cls(native if native.is_dir() else root / "System32", override=False)

    def find(self, program: str) -> Path | None:
        """Where ``program`` is, or None when it is not there."""
        if self.override:
            candidates = [self.folder / program, self.folder / f"{program}.exe"]
        else:
            candidates = [self.folder.joinpath(*_SYSTEM_PATHS.get(program, (f"{program}.exe",)))]
        return next((path for path in candidates if path.is_file()), None)

    def run(self, program: str, args: Sequence[str], timeout: float) -> ToolRun:
        """Run ``program`` with ``args``; never raises for the program's own failures."""
        arguments = tuple(args)
        path = self.find(program)
        if path is None:
            where = self.folder if self.override else f"{self.folder} (the Windows system folder)"
            return ToolRun(program, arguments, None, b"", b"", f"{program} not found in {where}")
        try:
            # A fixed program from the system folder (or the override), arguments as a list.
            done = subprocess.run(
                [str(path), *arguments],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            return ToolRun(
                program,
                arguments,
                None,
                expired.stdout or b"",
                expired.stderr or b"",
                f"{program} did not finish within {timeout:.0f} seconds and was stopped",
            )
        except OSError as error:
            reason = error.strerror or type(error).__name__
            return ToolRun(program, arguments, None, b"", b"", f"{program} cannot run: {reason}")
        return ToolRun(program, arguments, done.returncode, done.stdout, done.stderr)


def elevation(toolbox: Toolbox) -> tuple[bool | None, str]:
    """Whether this process runs elevated, from ``whoami /groups``'s integrity level.

    Returns:
        ``(True, "")``, ``(False, "")``, or ``(None, why it could not be told)``.
    """
    run = toolbox.run("whoami", ("/groups", "/fo", "csv", "/nh"), timeout=60)
    if not run.ok:
        return None, run.describe_failure()
    text = _decode(run.stdout).upper()
    if any(label in text for label in _ELEVATED_LABELS):
        return True, ""
    if any(label in text for label in _MEDIUM_LABELS):
        return False, ""
    return None, "whoami /groups shows no integrity level"


def _decode(data: bytes) -> str:
    from npsdiag.sources._json_doc import decode_text

    return decode_text(data)
