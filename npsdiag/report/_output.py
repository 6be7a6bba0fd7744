"""Report paths checked before any work (writing them whole is :mod:`npsdiag._atomic`)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["check_target"]


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
