"""Temporary files and folders that never outlive npsdiag, however it is stopped.

Every temporary path npsdiag makes (a private folder for a bundle member, the half-written
temporary file of a report) is registered here while it exists. The context managers remove
it on the way out, as usual; :func:`remove_all` removes whatever is still registered, and runs

* at interpreter exit (``atexit``), for paths whose owner never got to clean up (a generator
  left unfinished);
* from the signal handlers of :mod:`npsdiag._signals`, before a worker process ends itself on
  SIGTERM, where no ``finally`` block will run.

Nothing here prints or raises on cleanup: a path that cannot be removed is left, and one that
is gone already is fine.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PREFIX", "private_folder", "register", "registered", "remove_all", "unregister"]

#: How every temporary folder npsdiag makes starts (``npsdiag-xxxxxxxx``).
PREFIX = "npsdiag-"

#: Live temporary paths: path -> True for a folder, False for a file. A dict keeps their
#: order; a signal handler only reads a copy of its keys.
_live: dict[str, bool] = {}


def register(path: str | os.PathLike[str], *, folder: bool) -> None:
    """Remember a temporary path until :func:`unregister` (or :func:`remove_all`)."""
    _live[os.fspath(path)] = folder


def unregister(path: str | os.PathLike[str]) -> None:
    """Forget a path its owner has removed (or kept on purpose, such as a renamed report)."""
    _live.pop(os.fspath(path), None)


def registered() -> list[str]:
    """The paths registered now, oldest first (for tests and diagnostics)."""
    return list(_live)


def remove_all() -> None:
    """Remove every registered path, newest first; never raises."""
    for path in reversed(list(_live)):
        folder = _live.pop(path, None)
        if folder is None:
            continue
        with contextlib.suppress(OSError):
            if folder:
                shutil.rmtree(path, ignore_errors=True)
            else:
                Path(path).unlink()


atexit.register(remove_all)


@contextlib.contextmanager
def private_folder() -> Iterator[Path]:
    """A temporary folder only this user may enter, removed with everything in it.

    Made by :func:`tempfile.mkdtemp` (mode 0700) in the system's temporary folder, named
    ``npsdiag-...``, and registered while it exists.
    """
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    register(path, folder=True)
    try:
        path.chmod(0o700)  # mkdtemp makes it so already; say it where it matters
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        unregister(path)
