"""The validated catalog kept between runs, so that every run does not parse the YAML again.

Parsing and validating the catalog (some 240 entries, a table of Entra codes) takes most of a
second; unpickling the result takes a hundredth of that. The cache is keyed by a hash of every
catalog file's bytes, the npsdiag version and the Python version, so any change to the data
or the code builds it anew. It lives in the user's cache folder (``%LOCALAPPDATA%\\npsdiag`` on
Windows, ``$XDG_CACHE_HOME/npsdiag`` or ``~/.cache/npsdiag`` elsewhere; ``NPSDIAG_CACHE_DIR``
overrides, and ``NPSDIAG_CACHE_DIR=off`` disables it). A cache that cannot be read or written
is simply not used: it never changes an answer or fails a run.

A pickle runs code when loaded, so a cache file is only trusted when this user owns it and
nobody else may write it (on POSIX), like the folder it is in.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from npsdiag import __version__

__all__ = ["cache_folder", "cached"]

T = TypeVar("T")

#: Bumped when the pickled objects change shape in a way the version does not show.
_FORMAT = 2  # 2: the catalog model moved to npsdiag.catalog_model


def cache_folder() -> Path | None:
    """Where npsdiag keeps its cache, or None when caching is off."""
    configured = os.environ.get("NPSDIAG_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "no") else Path(configured)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) / "npsdiag" / "Cache" if base else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "npsdiag"


def cached(name: str, inputs: Iterable[tuple[str, bytes]], build: Callable[[], T]) -> T:
    """``build()``'s result, from the cache when ``inputs`` did not change.

    Args:
        name: what is cached (part of the file name).
        inputs: ``(name, bytes)`` of every file the result is made from.
        build: makes the result when the cache has none; its result is stored.
    """
    digest = hashlib.sha256(f"{_FORMAT}\0{__version__}\0{sys.version}\0".encode())
    for label, data in inputs:
        digest.update(label.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(len(data).to_bytes(8, "little") + data)
    folder = cache_folder()
    if folder is None:
        return build()
    target = folder / f"{name}-{digest.hexdigest()[:32]}.pickle"
    found = _load(target)
    if found is not None:
        return found  # type: ignore[return-value]  # what build() stored under this key
    result = build()
    _store(folder, target, result)
    return result


def _trusted(path: Path) -> bool:
    """Only a file this user owns and nobody else may write is unpickled (POSIX)."""
    if not hasattr(os, "getuid"):
        return True  # Windows: the per-user LOCALAPPDATA folder is the user's own
    with contextlib.suppress(OSError):
        for item in (path, path.parent):
            info = item.stat()
            if info.st_uid != os.getuid() or info.st_mode & 0o022:
                return False
        return True
    return False


def _load(path: Path) -> object | None:
    if not path.is_file() or not _trusted(path):
        return None
    try:
        with path.open("rb") as stream:
            loaded: object = pickle.load(stream)
            return loaded
    except Exception:  # a damaged or foreign cache file is rebuilt, never an error
        return None


def _store(folder: Path, target: Path, result: object) -> None:
    with contextlib.suppress(OSError, pickle.PicklingError, RecursionError, TypeError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
        try:
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(result, stream, protocol=pickle.HIGHEST_PROTOCOL)
            Path(name).replace(target)
        finally:
            Path(name).unlink(missing_ok=True)
        # Older caches of the same name are of older data: remove them.
        stem = target.name.split("-")[0]
        for old in folder.glob(f"{stem}-*.pickle"):
            if old != target:
                old.unlink(missing_ok=True)
