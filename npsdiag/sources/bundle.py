"""Read a support bundle (``.zip``) as one case: every file inside is recognised and read.

Microsoft's health-check script for the NPS extension zips ``C:\\NPS`` into
``<yyyyMMdd_HHmmss>_NpsLogging.zip``: the three extension channels as ``.evtx``,
``NPS_EventLog.log`` (Security 6272/6273/6274 as ``wevtutil`` text), four ``REG QUERY`` dumps and
``.etl``/``.cab`` traces. Engineers also zip folders by hand, nest zips, or unpack them.

While discovering (:func:`add_bundle`), the bundle's central directory is listed and the first
bytes of each member are read to recognise it by content, exactly as a file on disk. Each member
becomes its own input named ``bundle.zip!member/path``: event exports become
:class:`~npsdiag.sources.Source` objects that say where inside the bundle their bytes are;
everything else is accounted for with a status and a one-line note. A zip inside the bundle is
opened the same way (its members are named ``bundle.zip!inner.zip!member``).

While reading (:func:`read_member`), a text dump is streamed straight out of the zip. The
``.evtx`` and XML readers need a real file (the EVTX parser seeks, and checks the file's size),
so such a member is unpacked into a private temporary folder (mode 0700, created by
:func:`tempfile.mkdtemp`) under a name npsdiag chooses, read, and removed with the folder
as soon as its events are read. A member's own name is never used as a path.

Nothing here trusts the archive: sizes and ratios are checked against the header before a
member is opened and measured again while it is inflated; names pointing outside the bundle,
encrypted members, damaged data and archives over the limits become notes, never exceptions.
The limits are :class:`BundleLimits` (``docs/bundles.md`` explains each).

References:
    - PKWARE APPNOTE.TXT (general purpose bit 0 = encrypted, bit 6 = strong encryption).
    - Azure-Samples/azure-mfa-nps-extension-health-check, ``MFA_NPS_Troubleshooter.ps1``.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

from npsdiag._words import plural
from npsdiag.errors import BundleError
from npsdiag.model import Event, SourceKind, SourceStats
from npsdiag.sources.discover import (
    READABLE_KINDS,
    Discovery,
    Source,
    classify_head,
)
from npsdiag.sources.hostfacts import HOST_FACT_KINDS

if TYPE_CHECKING:
    from npsdiag.sources import Relevance
    from npsdiag.sources.text import ByteStream

__all__ = [
    "MAX_COMPRESSION_RATIO",
    "MAX_DEPTH",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_TOTAL_BYTES",
    "RATIO_CHECK_FLOOR",
    "BundleInfo",
    "BundleLimits",
    "Member",
    "add_bundle",
    "open_source",
    "read_member",
    "source_bytes",
]

_MIB = 1 << 20
_GIB = 1 << 30

#: Most bytes all members of one bundle (nested zips included) may inflate to.
MAX_TOTAL_BYTES = 4 * _GIB
#: Most bytes one member may inflate to.
MAX_MEMBER_BYTES = 2 * _GIB
#: Most uncompressed bytes per compressed byte, for members larger than RATIO_CHECK_FLOOR.
MAX_COMPRESSION_RATIO = 200
#: Members up to this size are never refused for their ratio (tiny members compress well).
RATIO_CHECK_FLOOR = _MIB
#: Levels of archives opened, the bundle itself counting as 1.
MAX_DEPTH = 3
#: Most entries one archive may list.
MAX_MEMBERS = 10_000

_SNIFF_BYTES = 4096
_COPY_BLOCK = _MIB
_ENCRYPTED = 0x1
_STRONG_ENCRYPTION = 0x40
_DRIVE = re.compile(r"\A[A-Za-z]:")
_COMPUTER_FROM_NAME = re.compile(r"(.+)_(?:AuthNOptCh|AuthZOptCh|AuthZAdminCh)\.evtx", re.I)
_NAME_PLACEHOLDER = "%computername%"
#: What zipfile raises on damaged archives (it is not consistent about it).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)
#: ... and around code that runs only zipfile, what a crafted archive can also provoke.
_OPEN_ERRORS = (OSError, *_ZIP_ERRORS, ValueError, RuntimeError, struct.error, OverflowError)
#: What ends the reading of a member (readers run inside, so nothing broader).
_READ_ERRORS = (OSError, BundleError, *_ZIP_ERRORS)
_NEXT_STEP = "copy the bundle again or ask for a new one"


@dataclass(frozen=True, slots=True)
class BundleLimits:
    """Safety limits for support bundles; each can be set by keyword (tests use small ones).

    Attributes:
        max_total_bytes: most bytes one bundle's members may inflate to, all together.
        max_member_bytes: most bytes one member may inflate to.
        max_ratio: most uncompressed bytes per compressed byte ...
        ratio_floor: ... for members larger than this many bytes.
        max_depth: levels of archives opened, the bundle itself counting as 1.
        max_members: most entries one archive may list.
    """

    max_total_bytes: int = MAX_TOTAL_BYTES
    max_member_bytes: int = MAX_MEMBER_BYTES
    max_ratio: int = MAX_COMPRESSION_RATIO
    ratio_floor: int = RATIO_CHECK_FLOOR
    max_depth: int = MAX_DEPTH
    max_members: int = MAX_MEMBERS


@dataclass(eq=False, slots=True)
class BundleInfo:
    """One case: a support bundle, or a folder laid out like an unpacked one.

    Attributes:
        name: how reports name it (the path of the ``.zip`` or the folder; a nested zip is
            ``outer.zip!inner.zip``).
        kind: ``zip`` or ``folder``.
        limits: the limits it is read under.
        files: how many files it holds (nested archives' files included).
        name_computers: server names read from file names (``<COMPUTER>_AuthZOptCh.evtx``).
        event_computers: the ``Computer`` of each event read from it, counted.
        inflated: bytes inflated out of it so far (recognising and reading), measured.
        declared: uncompressed bytes its headers declare (nested archives included).
    """

    name: str
    kind: str
    limits: BundleLimits = field(default_factory=BundleLimits)
    files: int = 0
    name_computers: Counter[str] = field(default_factory=Counter)
    event_computers: Counter[str] = field(default_factory=Counter)
    inflated: int = 0
    declared: int = 0

    @property
    def server(self) -> str | None:
        """The NPS server the case comes from, or None when nothing names it.

        File names give the NetBIOS name; the events give the full name. The full name is
        preferred when its first label is the name the files give.
        """
        named = _most_common(self.name_computers)
        if named is None:
            return _most_common(self.event_computers)
        for computer, _ in sorted(self.event_computers.items(), key=lambda i: (-i[1], i[0])):
            if computer.split(".")[0].casefold() == named.casefold():
                return computer
        return named

    @property
    def computers(self) -> list[str]:
        """Every server name seen (files and events), sorted; more than one server in one
        case is worth a look."""
        names = {name.casefold(): name for name in self.name_computers}
        for computer in self.event_computers:
            names.setdefault(computer.split(".")[0].casefold(), computer)
        return sorted(names.values(), key=str.casefold)

    def note_member_name(self, name: str) -> None:
        """Record the server a file name gives (``NPS01_AuthZOptCh.evtx``), if any."""
        match = _COMPUTER_FROM_NAME.fullmatch(PurePosixPath(name).name)
        if match is not None and match.group(1).casefold() != _NAME_PLACEHOLDER:
            self.name_computers[match.group(1)] += 1

    def note_computer(self, computer: str) -> None:
        """Record the ``Computer`` of an event read from this case."""
        if computer:
            self.event_computers[computer] += 1


@dataclass(frozen=True, slots=True)
class Member:
    """Where a member's bytes are.

    Attributes:
        archive: the bundle's ``.zip`` on disk.
        chain: the member's position in each archive's list of entries, outermost first; more
            than one position means it lies in a nested zip.
        filenames: the entries' names as stored, to check that the archive did not change.
        crc: the member's CRC-32 as its header gives it.
        compressed: its compressed size.
    """

    archive: Path
    chain: tuple[int, ...]
    filenames: tuple[str, ...]
    crc: int
    compressed: int


# ---------------------------------------------------------------------------------------------
# Discovering
# ---------------------------------------------------------------------------------------------


def add_bundle(
    path: Path, size: int, found: Discovery, limits: BundleLimits | None = None
) -> BundleInfo:
    """List a support bundle into ``found``: one source or account per member.

    Never raises for bad input: a bundle that cannot be opened, or is over a limit, is one
    ``unreadable`` account naming it and the next step.

    Args:
        path: the ``.zip`` file.
        size: its size in bytes.
        found: the discovery to add to (sources, accounts, registry dumps, the case).
        limits: the safety limits (defaults when None).

    Returns:
        The case, also appended to ``found.bundles``.
    """
    info = BundleInfo(name=str(path), kind="zip", limits=limits or BundleLimits())
    found.bundles.append(info)
    with contextlib.ExitStack() as stack:
        try:
            archive = stack.enter_context(zipfile.ZipFile(path))
        except _OPEN_ERRORS as error:
            found.skipped.append(
                _account(
                    info.name, SourceKind.ZIP, "unreadable", _not_a_zip(info.name, error), size
                )
            )
            return info
        _Lister(path, info, found, stack).list_archive(archive, info.name, (), (), 1, size)
    return info


class _Lister:
    """Lists one bundle, nested archives included, into a Discovery."""

    def __init__(
        self, path: Path, info: BundleInfo, found: Discovery, stack: contextlib.ExitStack
    ) -> None:
        self.path = path
        self.info = info
        self.limits = info.limits
        self.found = found
        self.stack = stack  # keeps nested archives and their private folder until the end
        self.folder: Path | None = None
        self.names: set[str] = set()

    def list_archive(
        self,
        archive: zipfile.ZipFile,
        shown: str,
        chain: tuple[int, ...],
        filenames: tuple[str, ...],
        depth: int,
        size: int,
        notes: list[str] | None = None,
    ) -> None:
        entries = archive.infolist()
        problem = self._archive_problem(entries)
        if problem is not None:
            self.found.skipped.append(
                _account(shown, SourceKind.ZIP, "unreadable", f"{shown}: {problem}", size, notes)
            )
            return
        files = [(index, entry) for index, entry in enumerate(entries) if not _is_folder(entry)]
        self.info.declared += sum(entry.file_size for _, entry in files)
        self.info.files += len(files)
        if not files:
            self.found.skipped.append(
                _account(
                    shown,
                    SourceKind.ZIP,
                    "skipped",
                    f"{shown}: the bundle holds no file; make it again once the health-check "
                    "script has collected the logs (C:\\NPS)",
                    size,
                    notes,
                )
            )
            return
        for _, entry in files:
            self.info.note_member_name(_clean_name(entry.filename)[0])
        if chain:
            what = f"a zip inside the bundle, with {plural(len(files), 'file')}"
        else:
            server = self.info.server
            about = f"; server {server} (from file names)" if server else ""
            what = f"support bundle with {plural(len(files), 'file')}, read as one case{about}"
        self.found.skipped.append(
            _account(
                shown,
                SourceKind.ZIP,
                "listed",
                f"{shown}: {what}; each file is listed as {shown}!<file>",
                size,
                notes,
            )
        )
        for index, entry in files:
            where = ((*chain, index), (*filenames, entry.filename))
            self._member(archive, shown, *where, entry, depth)

    def _archive_problem(self, entries: list[zipfile.ZipInfo]) -> str | None:
        limits = self.limits
        if len(entries) > limits.max_members:
            return (
                f"lists {len(entries):,} entries, more than the limit of {limits.max_members:,}; "
                "unzip it yourself and pass the files you need"
            )
        declared = self.info.declared + sum(entry.file_size for entry in entries)
        if declared > limits.max_total_bytes:
            return (
                f"would unpack to {_size(declared)}, more than the limit of "
                f"{_size(limits.max_total_bytes)}; unzip it yourself and pass the files you need"
            )
        return None

    def _member(
        self,
        archive: zipfile.ZipFile,
        prefix: str,
        chain: tuple[int, ...],
        filenames: tuple[str, ...],
        entry: zipfile.ZipInfo,
        depth: int,
    ) -> None:
        path, renamed = _clean_name(entry.filename)
        name = self._unique(f"{prefix}!{path}")
        notes: list[str] = []
        if renamed:
            notes.append(
                f"{name}: the name stored in the bundle, {_shown(entry.filename)!r}, points "
                "outside the bundle; shown here without that part and never used as a path"
            )
        elif name != f"{prefix}!{path}":
            notes.append(
                f"{name}: the bundle holds another file of the same name; this one is shown "
                "with a number added"
            )
        size = entry.file_size
        refusal = _refusal(entry, self.limits)
        if refusal is not None:
            self.found.skipped.append(
                _account(name, SourceKind.UNKNOWN, "unreadable", f"{name}: {refusal}", size, notes)
            )
            return
        member = Member(self.path, chain, filenames, entry.CRC, entry.compress_size)
        try:
            head = self._head(archive, entry, name, member) if size else b""
        except (BundleError, *_OPEN_ERRORS) as error:
            self.found.skipped.append(
                _account(name, SourceKind.UNKNOWN, "unreadable", _damaged(name, error), size, notes)
            )
            return
        kind, note = classify_head(head, PurePosixPath(name.rpartition("!")[2]).name, size)
        if kind == SourceKind.ZIP:
            self._nested(archive, entry, name, chain, filenames, depth, notes)
            return
        source = Source(
            name=name,
            path=self.path,
            kind=kind,
            size=size,
            member=member,
            bundle=self.info,
            notes=tuple(notes),
        )
        if kind in READABLE_KINDS:
            self.found.sources.append(source)
            return
        if kind == SourceKind.REGQUERY:
            # Read by the configuration check (npsdiag.analyze), which accounts for it.
            self.found.registry_dumps.append(source)
            return
        if kind in HOST_FACT_KINDS:
            # What `npsdiag collect` gathers besides logs; npsdiag.facts reads and accounts.
            self.found.host_facts.append(source)
            return
        status = "listed" if kind == SourceKind.TRACE else "skipped"
        if kind == SourceKind.UNKNOWN and note.startswith("not an event log export"):
            # The advice to export a channel is for files given by hand, not bundle members.
            note = f"not analysed: {note.split('; ')[0]}"
        self.found.skipped.append(_account(name, kind, status, f"{name}: {note}", size, notes))

    def _head(
        self, archive: zipfile.ZipFile, entry: zipfile.ZipInfo, name: str, member: Member
    ) -> bytes:
        with archive.open(entry) as raw:
            stream = _Metered(raw, name, member.compressed, self.info)
            return stream.read(_SNIFF_BYTES)

    def _nested(
        self,
        archive: zipfile.ZipFile,
        entry: zipfile.ZipInfo,
        name: str,
        chain: tuple[int, ...],
        filenames: tuple[str, ...],
        depth: int,
        notes: list[str],
    ) -> None:
        if depth >= self.limits.max_depth:
            self.found.skipped.append(
                _account(
                    name,
                    SourceKind.ZIP,
                    "skipped",
                    f"{name}: a zip nested more than {self.limits.max_depth} levels deep is "
                    "not opened; unzip it and pass its files",
                    entry.file_size,
                    notes,
                )
            )
            return
        if self.folder is None:
            self.folder = self.stack.enter_context(_private_folder())
        target = self.folder / f"archive-{len(chain)}-{chain[-1]}.zip"
        try:
            _unpack(archive, entry, target, name, self.info)
            inner = self.stack.enter_context(zipfile.ZipFile(target))
        except (BundleError, *_OPEN_ERRORS) as error:
            message = str(error) if isinstance(error, BundleError) else _not_a_zip(name, error)
            self.found.skipped.append(
                _account(name, SourceKind.ZIP, "unreadable", message, entry.file_size, notes)
            )
            return
        self.list_archive(inner, name, chain, filenames, depth + 1, entry.file_size, notes)

    def _unique(self, name: str) -> str:
        """The name, with `` (2)``, `` (3)`` ... before the extension if already taken."""
        candidate = name
        number = 1
        while candidate.casefold() in self.names:
            number += 1
            stem, dot, extension = name.rpartition(".")
            if not dot or "!" in extension or "/" in extension:
                candidate = f"{name} ({number})"
            else:
                candidate = f"{stem} ({number}).{extension}"
        self.names.add(candidate.casefold())
        return candidate


def _refusal(entry: zipfile.ZipInfo, limits: BundleLimits) -> str | None:
    """Why a member is not opened at all, from its header, or None."""
    if entry.flag_bits & (_ENCRYPTED | _STRONG_ENCRYPTION):
        return "encrypted: ask for an unencrypted bundle (or unzip it with its password)"
    if entry.file_size > limits.max_member_bytes:
        return (
            f"{_size(entry.file_size)} uncompressed, more than the limit of "
            f"{_size(limits.max_member_bytes)} for one file; unzip it yourself and pass it"
        )
    if _over_ratio(entry.file_size, entry.compress_size, limits):
        ratio = entry.file_size // max(entry.compress_size, 1)
        return (
            f"compressed {ratio:,}:1, more than the limit of {limits.max_ratio}:1 (a zip "
            "bomb?); not unpacked: unzip it yourself if you trust it and pass the file"
        )
    if entry.compress_type not in _METHODS:
        return (
            f"compressed with method {entry.compress_type}, which npsdiag cannot unpack; "
            "unzip the bundle with Windows and zip it again (Send to > Compressed folder)"
        )
    return None


_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


def _over_ratio(inflated: int, compressed: int, limits: BundleLimits) -> bool:
    return inflated > limits.ratio_floor and inflated > limits.max_ratio * max(compressed, 1)


def _is_folder(entry: zipfile.ZipInfo) -> bool:
    # Windows PowerShell 5.1 writes backslashes; a folder entry ends in one of them.
    return entry.filename.endswith(("/", "\\")) and entry.file_size == 0


def _clean_name(stored: str) -> tuple[str, bool]:
    """The member's path for reports (forward slashes, nothing pointing outside the bundle),
    and whether anything had to be removed for that."""
    text = stored.replace("\\", "/")
    drive = _DRIVE.match(text)
    renamed = drive is not None or text.startswith("/")
    if drive is not None:
        text = text[drive.end() :]
    parts = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            renamed = True
            continue
        parts.append(_shown(part))
    return ("/".join(parts) or "(unnamed)"), renamed


def _shown(text: str) -> str:
    """Untrusted text made printable for a one-line message."""
    return "".join(char if char.isprintable() else "?" for char in text)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def read_member(source: Source, stats: SourceStats, relevant: Relevance | None) -> Iterator[Event]:
    """Stream the events of one bundle member, counting into ``stats``.

    A text dump is streamed out of the zip; an ``.evtx`` or XML member is unpacked into a
    private temporary folder, read by its reader, and removed. Damage (a checksum mismatch,
    broken compressed data) and limits reached while inflating end the member with a
    one-line message; events read before stay. Nothing here raises for bad input.

    Args:
        source: a member found by :func:`add_bundle` (``source.member`` is set).
        stats: filled while reading.
        relevant: the reader's pre-filter (see :func:`npsdiag.sources.read_events`).

    Yields:
        The member's relevant events, in file order.
    """
    from npsdiag.sources import read_events

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
            with _private_folder() as folder:
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
        stats.messages.append(_damaged(source.name, error))
    finally:
        stats.messages.extend(source.notes)


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


class _Metered:
    """A member's stream that measures what it inflates and stops at the limits.

    The header's sizes are checked before a member is opened; this checks the real bytes, so
    that an archive whose headers lie is stopped all the same.
    """

    def __init__(self, raw: IO[bytes], name: str, compressed: int, bundle: BundleInfo) -> None:
        self.raw = raw
        self.name = name
        self.compressed = compressed
        self.bundle = bundle
        self.count = 0

    def read(self, size: int, /) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        self.bundle.inflated += len(data)
        limits = self.bundle.limits
        if self.count > limits.max_member_bytes:
            raise BundleError(
                f"{self.name}: inflates to more than {_size(limits.max_member_bytes)}, the "
                "limit for one file; not read further: unzip it yourself and pass it"
            )
        if _over_ratio(self.count, self.compressed, limits):
            raise BundleError(
                f"{self.name}: inflates to more than {limits.max_ratio} times its compressed "
                "size (a zip bomb?); not read further: unzip it yourself if you trust it"
            )
        if self.bundle.inflated > limits.max_total_bytes:
            raise BundleError(
                f"{self.name}: the bundle inflates to more than "
                f"{_size(limits.max_total_bytes)}, the limit; not read further: unzip it "
                "yourself and pass the files you need"
            )
        return data


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
def _open_member(member: Member, name: str, bundle: BundleInfo) -> Iterator[_Metered]:
    """Open a member, unpacking the nested archives on its way into a private folder."""
    with contextlib.ExitStack() as stack:
        archive = stack.enter_context(zipfile.ZipFile(member.archive))
        folder: Path | None = None
        for level, index in enumerate(member.chain[:-1]):
            entry = _entry(archive, index, member.filenames[level], name)
            if folder is None:
                folder = stack.enter_context(_private_folder())
            target = folder / f"archive-{level}.zip"
            _unpack(archive, entry, target, name, bundle)
            archive = stack.enter_context(zipfile.ZipFile(target))
        entry = _entry(archive, member.chain[-1], member.filenames[-1], name)
        raw = stack.enter_context(archive.open(entry))
        yield _Metered(raw, name, entry.compress_size, bundle)


@contextlib.contextmanager
def _open_member_checked(member: Member, name: str, bundle: BundleInfo) -> Iterator[_Metered]:
    """:func:`_open_member` with zip errors turned into BundleError."""
    try:
        with _open_member(member, name, bundle) as stream:
            yield stream
    except _ZIP_ERRORS as error:
        raise BundleError(_damaged(name, error)) from None


def _entry(archive: zipfile.ZipFile, index: int, filename: str, name: str) -> zipfile.ZipInfo:
    entries = archive.infolist()
    if index >= len(entries) or entries[index].filename != filename:
        raise BundleError(f"{name}: the bundle changed while it was read; run npsdiag again")
    return entries[index]


def _unpack(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, target: Path, name: str, bundle: BundleInfo
) -> int:
    with archive.open(entry) as raw:
        return _copy(_Metered(raw, name, entry.compress_size, bundle), target)


def _copy(stream: _Metered, target: Path) -> int:
    """Write a stream to a new file that only this user may read; the size written."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    written = 0
    with os.fdopen(os.open(target, flags, 0o600), "wb") as out:
        while block := stream.read(_COPY_BLOCK):
            out.write(block)
            written += len(block)
    return written


@contextlib.contextmanager
def _private_folder() -> Iterator[Path]:
    """A temporary folder only this user may enter, removed with everything in it."""
    with tempfile.TemporaryDirectory(prefix="npsdiag-") as folder:
        path = Path(folder)
        path.chmod(0o700)  # mkdtemp makes it so already; say it where it matters
        yield path


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------


def _account(
    name: str,
    kind: str,
    status: str,
    message: str,
    size: int | None,
    notes: list[str] | None = None,
) -> SourceStats:
    return SourceStats(
        name=name, kind=kind, size=size, status=status, messages=[message, *(notes or ())]
    )


def _not_a_zip(name: str, error: BaseException) -> str:
    if isinstance(error, OSError) and not isinstance(error, zipfile.BadZipFile):
        return f"{name}: cannot read ({error.strerror or type(error).__name__}); check the path"
    return f"{name}: not a readable zip ({_reason(error)}: cut short or damaged); {_NEXT_STEP}"


def _damaged(name: str, error: BaseException) -> str:
    if isinstance(error, BundleError):
        return str(error)
    text = str(error)
    if isinstance(error, zipfile.BadZipFile) and "CRC" in text:
        return f"{name}: damaged inside the bundle (checksum mismatch); {_NEXT_STEP}"
    if isinstance(error, OSError) and not isinstance(error, zipfile.BadZipFile):
        return (
            f"{name}: cannot unpack ({error.strerror or type(error).__name__}); free space in "
            "the temporary folder, or unzip the bundle yourself and pass the files"
        )
    if isinstance(error, RuntimeError) and "encrypted" in text:
        return f"{name}: encrypted: ask for an unencrypted bundle"
    return f"{name}: damaged inside the bundle ({_reason(error)}); {_NEXT_STEP}"


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = _shown(text)[:120]
    return text or type(error).__name__


def _size(count: int) -> str:
    if count >= _GIB:
        return f"{count / _GIB:.1f} GiB"
    if count >= _MIB:
        return f"{count / _MIB:.1f} MiB"
    return f"{count:,} bytes"


def _most_common(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
