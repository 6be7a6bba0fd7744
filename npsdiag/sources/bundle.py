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

While reading (:func:`read_member`, in :mod:`npsdiag.sources.bundle_io`), a text dump is
streamed straight out of the zip. The ``.evtx`` and XML readers need a real file (the EVTX
parser seeks, and checks the file's size), so such a member is unpacked into a private
temporary folder (mode 0700, created by :func:`tempfile.mkdtemp`) under a name npsdiag
chooses, read, and removed with the folder as soon as its events are read. A member's own
name is never used as a path, nor is a nested zip's: each is unpacked under a name made of its
place in the bundle, so two nested zips never meet in the temporary folder.

The limits and the case's accounting are :mod:`npsdiag.sources.bundle_case`; this module lists
a bundle and re-exports what callers use from both.

Nothing here trusts the archive: sizes and ratios are checked against the header before a
member is opened and measured again while it is inflated; names pointing outside the bundle,
encrypted members, damaged data and archives over the limits become notes, never exceptions.
The limits are :class:`BundleLimits` (``docs/bundles.md`` explains each). Each member and
nested zip counts once towards the total, however often it is inflated.

References:
    - PKWARE APPNOTE.TXT (general purpose bit 0 = encrypted, bit 6 = strong encryption).
    - Azure-Samples/azure-mfa-nps-extension-health-check, ``MFA_NPS_Troubleshooter.ps1``.
"""

from __future__ import annotations

import contextlib
import re
import struct
import zipfile
from pathlib import Path, PurePosixPath

from npsdiag._tempfiles import private_folder
from npsdiag._words import plural
from npsdiag.errors import BundleError
from npsdiag.model import SourceKind, SourceStats
from npsdiag.sources.bundle_case import (
    MAX_COMPRESSION_RATIO,
    MAX_DEPTH,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    RATIO_CHECK_FLOOR,
    BundleInfo,
    BundleLimits,
    Member,
)
from npsdiag.sources.bundle_io import (
    NEXT_STEP,
    ZIP_ERRORS,
    Metered,
    damaged,
    open_source,
    over_ratio,
    read_member,
    reason,
    size_text,
    source_bytes,
    unpack,
)
from npsdiag.sources.discover import (
    READABLE_KINDS,
    Discovery,
    Source,
    classify_head,
)
from npsdiag.sources.hostfacts import HOST_FACT_KINDS

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

_SNIFF_BYTES = 4096
_ENCRYPTED = 0x1
_STRONG_ENCRYPTION = 0x40
_DRIVE = re.compile(r"\A[A-Za-z]:")
#: ... and around code that runs only zipfile, what a crafted archive can also provoke.
_OPEN_ERRORS = (OSError, *ZIP_ERRORS, ValueError, RuntimeError, struct.error, OverflowError)


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
                f"would unpack to {size_text(declared)}, more than the limit of "
                f"{size_text(limits.max_total_bytes)}; unzip it yourself and pass the files "
                "you need"
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
                _account(name, SourceKind.UNKNOWN, "unreadable", damaged(name, error), size, notes)
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
            self.info.pending += 1
            return
        if kind == SourceKind.REGQUERY:
            # Read by the configuration check (npsdiag.analyze), which accounts for it.
            self.found.registry_dumps.append(source)
            self.info.pending += 1
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
            stream = Metered(raw, name, member.compressed, self.info, member.chain)
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
            self.folder = self.stack.enter_context(private_folder())
        # Named after its place in the bundle: unique, and never the name it was stored under.
        target = self.folder / f"archive-{'-'.join(str(index) for index in chain)}.zip"
        try:
            unpack(archive, entry, target, name, self.info, chain)
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
            f"{size_text(entry.file_size)} uncompressed, more than the limit of "
            f"{size_text(limits.max_member_bytes)} for one file; unzip it yourself and pass it"
        )
    if over_ratio(entry.file_size, entry.compress_size, limits):
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
    return f"{name}: not a readable zip ({reason(error)}: cut short or damaged); {NEXT_STEP}"
