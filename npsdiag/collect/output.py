"""Where ``npsdiag collect`` writes its bundle, checked before anything is collected.

``-o`` names either the bundle (a path ending in ``.zip``) or the folder it goes into
(created when missing). The default folder is ``C:\\NPS`` on Windows, where Microsoft's
health-check script leaves its bundles too, and the current folder elsewhere. The bundle is
first written under a hidden temporary name in the same folder, reserved before collecting
(which proves the folder is writable), and renamed into place only when it is complete: an
interrupted run leaves no half-written bundle with the real name.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from npsdiag.errors import CollectError

__all__ = ["OutputTarget", "bundle_file_name", "default_folder", "reserve_output", "write_zip"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class OutputTarget:
    """The bundle's final path and the reserved temporary file beside it."""

    bundle: Path
    partial: Path

    def discard(self) -> None:
        """Remove the temporary file (after a failure or an interruption)."""
        self.partial.unlink(missing_ok=True)


def bundle_file_name(computer: str, started: datetime) -> str:
    """``<COMPUTER>_<yyyyMMdd_HHmmss>_NpsLogging.zip`` (UTC), like the health-check script's
    ``<yyyyMMdd_HHmmss>_NpsLogging.zip`` with the server's name in front."""
    safe = _UNSAFE.sub("-", computer).strip("-.") or "server"
    return f"{safe}_{started.strftime('%Y%m%d_%H%M%S')}_NpsLogging.zip"


def default_folder(windows: bool, environ: dict[str, str] | None = None) -> Path:
    """``%SystemDrive%\\NPS`` on Windows, the current folder elsewhere."""
    if not windows:
        return Path.cwd()
    drive = (environ if environ is not None else dict(os.environ)).get("SystemDrive", "C:")
    return Path(f"{drive}\\NPS")


def reserve_output(target: Path, file_name: str, *, force: bool) -> OutputTarget:
    """Decide the bundle's path and reserve its temporary file.

    Args:
        target: ``-o`` as given (a ``.zip`` path, or a folder), or the default folder.
        file_name: the bundle's name when ``target`` is a folder.
        force: replace an existing bundle of the same name.

    Raises:
        CollectError: the folder cannot be created or written, the bundle exists (without
            ``force``), or the path is a folder where a file is wanted.
    """
    bundle = target if target.suffix.lower() == ".zip" else target / file_name
    folder = bundle.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CollectError(
            f"cannot create the output folder {folder}: {error.strerror or error}",
            hint="choose another place with -o",
        ) from None
    if bundle.is_dir():
        raise CollectError(f"{bundle} is a folder", hint="give -o a folder or a .zip file name")
    if bundle.exists() and not force:
        raise CollectError(
            f"{bundle} already exists", hint="add --force to replace it, or choose another -o"
        )
    partial = folder / f".{bundle.name}.{os.getpid()}.partial"
    try:
        with open(partial, "xb"):
            pass
    except OSError as error:
        raise CollectError(
            f"cannot write into {folder}: {error.strerror or error}",
            hint="run from an elevated prompt, or choose a folder you may write with -o",
        ) from None
    return OutputTarget(bundle=bundle, partial=partial)


def write_zip(output: OutputTarget, files: Iterable[tuple[str, Path]], when: datetime) -> None:
    """Zip ``(name, path)`` pairs into the reserved file, then rename it to the bundle.

    Raises:
        CollectError: the bundle cannot be written (disk full, file locked ...).
    """
    stamp = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    try:
        with zipfile.ZipFile(output.partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, path in files:
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with open(path, "rb") as source, archive.open(info, "w") as member:
                    while block := source.read(1 << 20):
                        member.write(block)
        output.partial.replace(output.bundle)
    except OSError as error:
        output.discard()
        raise CollectError(
            f"cannot write the bundle {output.bundle}: {error.strerror or error}",
            hint="free some disk space or choose another -o, then collect again",
        ) from None
