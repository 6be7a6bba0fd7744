"""Get the bytes of support bundle members out safely: metered, checked, archives opened once.

Every byte inflated out of a bundle goes through :class:`Metered`, which stops at the
bundle's limits (:class:`~npsdiag.sources.bundle_case.BundleLimits`) on the bytes actually
inflated, whatever the headers declared, and charges them to the bundle once per member or
nested archive (:meth:`~npsdiag.sources.bundle_case.BundleInfo.charge`).

While a bundle's members are read one after the other, the archives on their way stay open
(:class:`_OpenArchives`): the bundle's central directory is read once, not once per member,
and a nested zip is unpacked once for all the members read from it in a row. They are
closed when the last member found for reading has been read (``BundleInfo.pending``), and in
any case when the process ends (their folder is registered with :mod:`npsdiag._tempfiles`).

An ``.evtx`` or XML member is unpacked into a private temporary folder (mode 0700) under a
name npsdiag chooses, read, and removed with the folder; a text dump is streamed out of the
zip. A member's own name is never used as a path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from npsdiag._tempfiles import private_folder
from npsdiag.errors import BundleError
from npsdiag.model import Event, SourceKind, SourceStats
from npsdiag.sources.bundle_case import BundleInfo, BundleLimits, Member

if TYPE_CHECKING:
    from npsdiag.sources import Relevance
    from npsdiag.sources.discover import Source
    from npsdiag.sources.text import ByteStream

__all__ = [
    "NEXT_STEP",
    "ZIP_ERRORS",
    "Metered",
    "close_reader",
    "damaged",
    "done_reading",
    "open_source",
    "over_ratio",
    "read_member",
    "reason",
    "size_text",
    "source_bytes",
    "unpack",
]

_MIB = 1 << 20
_GIB = 1 << 30
_COPY_BLOCK = _MIB
#: What zipfile raises on damaged archives (it is not consistent about it).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)
#: What ends the reading of a member (readers run inside, so nothing broader).
_READ_ERRORS = (OSError, BundleError, *ZIP_ERRORS)
NEXT_STEP = "copy the bundle again or ask for a new one"


# ---------------------------------------------------------------------------------------------
# Reading members
# ---------------------------------------------------------------------------------------------


def read_member(source: Source, stats: SourceStats, relevant: Relevance | None) -> Iterator[Event]:
    """Stream the events of one bundle member, counting into ``stats``.

    A text dump is streamed out of the zip; an ``.evtx`` or XML member is unpacked into a
    private temporary folder, read by its reader, and removed. Damage (a checksum mismatch,
    broken compressed data), a full temporary folder and limits reached while inflating end
    the member with a one-line message; events read before stay. Nothing here raises for bad
    input.

    Args:
        source: a member found by :func:`npsdiag.sources.bundle.add_bundle`.
        stats: filled while reading.
        relevant: the reader's pre-filter (see :func:`npsdiag.sources.read_events`).

    Yields:
        The member's relevant events, in file order.
    """
    from npsdiag.sources import read_events
    from npsdiag.sources.discover import Source

    member = source.member
    if member is None:
        raise ValueError(f"{source.name} is not a bundle member")
    bundle = source.bundle or BundleInfo(name=str(source.path), kind="zip")
    try:
        if source.kind == SourceKind.WEVTUTIL_TEXT:
            from npsdiag.sources.text import read_text_stream

            with (
                _open_member(member, source.name, bundle) as stream,
                _closing(read_text_stream(stream, source.name, stats, relevant)) as events,
            ):
                for event in events:
                    bundle.note_computer(event.computer)
                    yield event
        else:
            with private_folder() as folder:
                target = folder / f"member.{source.kind}"
                with _open_member(member, source.name, bundle) as stream:
                    size = _copy(stream, target)  # zipfile checks the CRC at the end
                local = Source(name=source.name, path=target, kind=source.kind, size=size)
                # Closed before the folder goes, so that the reader has let go of the file
                # (Windows cannot remove a file that is open), also when reading stops early.
                with _closing(read_events(local, stats, relevant)) as events:
                    for event in events:
                        bundle.note_computer(event.computer)
                        yield event
    except _READ_ERRORS as error:
        stats.status = "partial" if stats.records_read else "unreadable"
        stats.messages.append(damaged(source.name, error))
    finally:
        stats.messages.extend(source.notes)
        done_reading(bundle)


def open_source(source: Source) -> contextlib.AbstractContextManager[ByteStream]:
    """A binary stream of an input's bytes, wherever they are (a file, a bundle member).

    Raises:
        OSError: the file cannot be read.
        BundleError: the member is damaged or over a limit.
    """
    if source.member is None:
        return open(source.path, "rb")
    bundle = source.bundle or BundleInfo(name=str(source.path), kind="zip")
    return _open_member_checked(source.member, source.name, bundle)


def source_bytes(source: Source, limit: int = 16 * _MIB) -> bytes:
    """The bytes of a small input (a ``REG QUERY`` dump), at most ``limit`` + 1 of them.

    Reading one byte more than ``limit`` lets the caller tell that the input is too large.
    A member is read to its end when it is smaller, so that its checksum is checked.

    Raises:
        OSError: the file cannot be read.
        BundleError: the member is damaged or over a limit.
    """
    chunks = []
    left = limit + 1
    with open_source(source) as stream:
        while left > 0:
            block = stream.read(min(left, _COPY_BLOCK))
            if not block:
                break
            chunks.append(block)
            left -= len(block)
    return b"".join(chunks)


def done_reading(bundle: BundleInfo) -> None:
    """One member found for reading has been read: close the archives kept open for the
    bundle's members once none is left to read."""
    bundle.pending -= 1
    if bundle.pending <= 0:
        close_reader(bundle)


def close_reader(bundle: BundleInfo) -> None:
    """Close the archives kept open for reading the bundle's members, if any."""
    reader: _OpenArchives | None = bundle.reader
    bundle.reader = None
    if reader is not None:
        reader.close()


class Metered:
    """A member's stream that measures what it inflates and stops at the limits.

    The header's sizes are checked before a member is opened; this checks the real bytes, so
    that an archive whose headers lie is stopped all the same. The bytes are charged to the
    bundle under ``chain``, the member's (or nested archive's) place in it.
    """

    def __init__(
        self,
        raw: IO[bytes],
        name: str,
        compressed: int,
        bundle: BundleInfo,
        chain: tuple[int, ...],
    ) -> None:
        self.raw = raw
        self.name = name
        self.compressed = compressed
        self.bundle = bundle
        self.chain = chain
        self.count = 0

    def read(self, size: int, /) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        self.bundle.charge(self.chain, self.count)
        limits = self.bundle.limits
        if self.count > limits.max_member_bytes:
            raise BundleError(
                f"{self.name}: inflates to more than {size_text(limits.max_member_bytes)}, the "
                "limit for one file; not read further: unzip it yourself and pass it"
            )
        if over_ratio(self.count, self.compressed, limits):
            raise BundleError(
                f"{self.name}: inflates to more than {limits.max_ratio} times its compressed "
                "size (a zip bomb?); not read further: unzip it yourself if you trust it"
            )
        if self.bundle.inflated > limits.max_total_bytes:
            raise BundleError(
                f"{self.name}: the bundle inflates to more than "
                f"{size_text(limits.max_total_bytes)}, the limit; not read further: unzip it "
                "yourself and pass the files you need"
            )
        return data


def over_ratio(inflated: int, compressed: int, limits: BundleLimits) -> bool:
    """Whether ``inflated`` bytes out of ``compressed`` ones exceed the ratio limit."""
    return inflated > limits.ratio_floor and inflated > limits.max_ratio * max(compressed, 1)


def unpack(
    archive: zipfile.ZipFile,
    entry: zipfile.ZipInfo,
    target: Path,
    name: str,
    bundle: BundleInfo,
    chain: tuple[int, ...],
) -> int:
    """Inflate ``entry`` into the new file ``target``, metered; the size written."""
    with archive.open(entry) as raw:
        return _copy(Metered(raw, name, entry.compress_size, bundle, chain), target)


# ---------------------------------------------------------------------------------------------
# Archives kept open between members
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Level:
    chain: tuple[int, ...]  # the nested archive's place in the bundle
    archive: zipfile.ZipFile
    path: Path


class _OpenArchives:
    """The bundle's archive and the nested archives on the way to the member read last."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._outer: zipfile.ZipFile | None = None
        self._levels: list[_Level] = []
        self._folder: contextlib.ExitStack | None = None
        self._folder_path: Path | None = None

    def archive_of(self, member: Member, name: str, bundle: BundleInfo) -> zipfile.ZipFile:
        """The innermost archive holding ``member``; what is on its way is opened (and the
        nested archives unpacked) only when it is not open already."""
        if member.archive != self.path:
            raise BundleError(f"{name}: the bundle changed while it was read; run npsdiag again")
        if self._outer is None:
            self._outer = zipfile.ZipFile(self.path)
        wanted = member.chain[:-1]
        kept = 0
        while kept < len(self._levels) and self._levels[kept].chain == wanted[: kept + 1]:
            kept += 1
        self._close_levels(kept)
        archive = self._levels[-1].archive if self._levels else self._outer
        for level in range(len(self._levels), len(wanted)):
            chain = wanted[: level + 1]
            entry = entry_at(archive, chain[-1], member.filenames[level], name)
            target = self._private() / f"archive-{'-'.join(str(i) for i in chain)}.zip"
            try:
                unpack(archive, entry, target, name, bundle, chain)
                archive = zipfile.ZipFile(target)
            except BaseException:
                with contextlib.suppress(OSError):
                    target.unlink()
                raise
            self._levels.append(_Level(chain, archive, target))
        return archive

    def close(self) -> None:
        self._close_levels(0)
        if self._outer is not None:
            self._outer.close()
            self._outer = None
        if self._folder is not None:
            self._folder.close()
            self._folder = None
            self._folder_path = None

    def _private(self) -> Path:
        if self._folder_path is None:
            self._folder = contextlib.ExitStack()
            self._folder_path = self._folder.enter_context(private_folder())
        return self._folder_path

    def _close_levels(self, keep: int) -> None:
        while len(self._levels) > keep:
            level = self._levels.pop()
            level.archive.close()
            with contextlib.suppress(OSError):
                level.path.unlink()


def entry_at(archive: zipfile.ZipFile, index: int, filename: str, name: str) -> zipfile.ZipInfo:
    """The entry at ``index``, checked to be the one listed before."""
    entries = archive.infolist()
    if index >= len(entries) or entries[index].filename != filename:
        raise BundleError(f"{name}: the bundle changed while it was read; run npsdiag again")
    return entries[index]


@contextlib.contextmanager
def _closing(events: Iterator[Event]) -> Iterator[Iterator[Event]]:
    """The events, closed on the way out when they are a generator."""
    try:
        yield events
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


@contextlib.contextmanager
def _open_member(member: Member, name: str, bundle: BundleInfo) -> Iterator[Metered]:
    """Open a member through the bundle's open archives."""
    if bundle.reader is None:
        bundle.reader = _OpenArchives(member.archive)
    reader: _OpenArchives = bundle.reader
    archive = reader.archive_of(member, name, bundle)
    entry = entry_at(archive, member.chain[-1], member.filenames[-1], name)
    with archive.open(entry) as raw:
        yield Metered(raw, name, entry.compress_size, bundle, member.chain)


@contextlib.contextmanager
def _open_member_checked(member: Member, name: str, bundle: BundleInfo) -> Iterator[Metered]:
    """:func:`_open_member` with zip errors turned into BundleError; one member less to read
    once it is closed."""
    try:
        with _open_member(member, name, bundle) as stream:
            yield stream
    except ZIP_ERRORS as error:
        raise BundleError(damaged(name, error)) from None
    finally:
        done_reading(bundle)


def _copy(stream: Metered, target: Path) -> int:
    """Write a stream to a new file that only this user may read; the size written."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    written = 0
    with os.fdopen(os.open(target, flags, 0o600), "wb") as out:
        while block := stream.read(_COPY_BLOCK):
            out.write(block)
            written += len(block)
    return written


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------


def damaged(name: str, error: BaseException) -> str:
    """One line for a member that could not be read, naming the cause and the next step."""
    if isinstance(error, BundleError):
        return str(error)
    text = str(error)
    if isinstance(error, zipfile.BadZipFile) and "CRC" in text:
        return f"{name}: damaged inside the bundle (checksum mismatch); {NEXT_STEP}"
    if isinstance(error, OSError) and not isinstance(error, zipfile.BadZipFile):
        return (
            f"{name}: cannot unpack ({error.strerror or type(error).__name__}); free space in "
            f"the temporary folder ({tempfile.gettempdir()}), or unzip the bundle yourself "
            "and pass the files"
        )
    if isinstance(error, RuntimeError) and "encrypted" in text:
        return f"{name}: encrypted: ask for an unencrypted bundle"
    return f"{name}: damaged inside the bundle ({reason(error)}); {NEXT_STEP}"


def reason(error: BaseException) -> str:
    """The error's text on one printable line of at most 120 characters."""
    text = " ".join(str(error).split())
    text = "".join(char if char.isprintable() else "?" for char in text)[:120]
    return text or type(error).__name__


def size_text(count: int) -> str:
    """A byte count for people: GiB, MiB or bytes."""
    if count >= _GIB:
        return f"{count / _GIB:.1f} GiB"
    if count >= _MIB:
        return f"{count / _MIB:.1f} MiB"
    return f"{count:,} bytes"
