"""Writing a report file so that a reader never sees half of it.

A report is written to a temporary file in the same folder and renamed over the target once
complete; if writing fails (a full disk, a closed pipe, Ctrl-C), the temporary file is
removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

__all__ = ["atomic_text"]


def _umask() -> int:
    # There is no way to read the umask without setting it; set it back at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_text(target: Path) -> Iterator[TextIO]:
    """A text stream (UTF-8, ``\\n`` newlines) that replaces ``target`` when the block ends.

    Raises:
        OSError: the folder cannot be written; nothing is left behind.
    """
    handle, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".partial", dir=target.parent or "."
    )
    temporary = Path(name)
    try:
        # mkstemp makes the file private (0600); a report gets the usual permissions.
        if hasattr(os, "fchmod"):
            os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
        temporary.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def check_target(target: Path, option: str) -> None:
    """Refuse, before any work, a report path that cannot be written.

    The folder must exist and be writable, and the path must not be a folder: finding
    out after twenty minutes of reading would lose that work.

    Raises:
        UsageError: the report could not be written there; the message says why.
    """
    from npsdiag.errors import UsageError

    folder = target.parent if str(target.parent) else Path()
    if target.is_dir():
        raise UsageError(
            f"{option} {target}: is a folder", hint="give the report's file name, e.g. report.html"
        )
    if not folder.is_dir():
        raise UsageError(
            f"{option} {target}: the folder {folder} does not exist", hint="create it first"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"{option} {target}: the folder {folder} is not writable",
            hint="choose another folder, or run as a user who may write there",
        )
