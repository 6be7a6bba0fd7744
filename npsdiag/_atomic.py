"""Write a file so that it is complete or absent, never cut short.

A report is written to a temporary file next to it (``.report.html.<random>.partial``, in the
same folder so that the rename stays on one file system), flushed to disk, and renamed over
the target in one step. A full disk, a quota, Ctrl+C or SIGTERM in the middle leave the
previous file (or none) and no half-written one: the temporary file is removed on the way out,
or by :mod:`npsdiag._tempfiles` when the process is ended by a signal.

A link at the target is replaced, never followed. A target that is not a regular file (a
terminal, a pipe, ``/dev/stdout``) cannot be renamed over: it is written directly.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from npsdiag import _tempfiles

__all__ = ["PARTIAL_SUFFIX", "open_text_atomic", "partial_files", "write_text_atomic"]

#: How the temporary files end (``.<name>.<random>.partial``).
PARTIAL_SUFFIX = ".partial"


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path``, all of it or nothing.

    Returns:
        The path written.

    Raises:
        OSError: the file cannot be written (the folder is missing, not writable, full);
            ``path`` is then as it was before.
    """
    with open_text_atomic(path) as stream:
        stream.write(text)
    return Path(path)


@contextlib.contextmanager
def open_text_atomic(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text stream (UTF-8, ``\\n`` line ends) whose content replaces ``path`` whole, or not
    at all, when the block ends: for a report written element by element.

    Raises:
        OSError: the file cannot be written (the folder is missing, not writable, full);
            ``path`` is then as it was before.
    """
    target = Path(path)
    with contextlib.suppress(OSError):
        if not stat.S_ISREG(target.stat().st_mode):
            with open(target, "w", encoding="utf-8", newline="\n") as direct:
                yield direct
            return
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o666)
    _tempfiles.register(temporary, folder=False)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
            stream.flush()
            # On disk before the rename: a full disk shows up here, not as a short file later.
            os.fsync(stream.fileno())
        temporary.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    finally:
        _tempfiles.unregister(temporary)


def partial_files(path: Path) -> list[Path]:
    """Temporary files an interrupted write of ``path`` may have left (for clean-ups)."""
    return sorted(path.parent.glob(f".{_glob_escape(path.name)}.*{PARTIAL_SUFFIX}"))


def _glob_escape(name: str) -> str:
    return "".join(f"[{char}]" if char in "*?[" else char for char in name)
