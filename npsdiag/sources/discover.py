"""Find the inputs of a run and recognise each file by its content.

``npsdiag analyze`` accepts any mix of files, folders and glob patterns. Patterns are
expanded here, not by the shell, because ``cmd.exe`` and PowerShell hand ``C:\\NPS\\*.evtx``
to the program literally. Every input ends up either as a :class:`Source` that a reader
can stream events from, or as a :class:`~npsdiag.model.SourceStats` in
:attr:`Discovery.skipped` that says, in one line, what the input was and what to do next.
One bad input never stops the others; only :meth:`Discovery.require_readable` raises, and
only when nothing at all is left to read.

Recognition looks at the first bytes, never at the name alone: an export renamed to
``.txt`` is still read, and a text file named ``.evtx`` is reported as what it is.

A support bundle (``.zip``) is expanded here too: each file inside becomes a source of its own,
named ``bundle.zip!member``, recognised by content like any other file
(:mod:`npsdiag.sources.bundle`). A folder laid out like an unpacked bundle is one case as well.
"""

from __future__ import annotations

import codecs
import glob
import os
import re
import stat
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from npsdiag.errors import NothingToAnalyseError
from npsdiag.model import SourceKind, SourceStats
from npsdiag.sources._encoding import decode, text_encoding
from npsdiag.sources.hostfacts import HOST_FACT_KINDS, host_fact_kind
from npsdiag.sources.regquery import looks_like_regquery

if TYPE_CHECKING:
    from npsdiag.sources.bundle import BundleInfo, BundleLimits, Member

__all__ = [
    "CONTENT_PREVIEW",
    "NOT_READ_YET",
    "READABLE_KINDS",
    "Discovery",
    "Source",
    "classify_head",
    "discover",
    "hide_content",
    "sniff",
    "text_encoding",
    "why_nothing",
    "xml_root_name",
]

#: Kinds that :func:`npsdiag.sources.read_events` can stream events from. A support bundle
#: (``zip``) is not among them: it is expanded into sources of these kinds while discovering.
READABLE_KINDS = frozenset({SourceKind.EVTX, SourceKind.XML, SourceKind.WEVTUTIL_TEXT})

#: Kinds that are recognised but not read by this version, with the note shown for them.
#: This is the single place that decides what happens to a recognised-but-unread kind:
#: when a reader for one of them lands, remove it here and add it to READABLE_KINDS.
#: Registry dumps are still collected, in :attr:`Discovery.registry_dumps`, for the
#: configuration check.
NOT_READ_YET: dict[str, str] = {}

#: How much of a file is read to recognise it.
_SNIFF_BYTES = 4096
_EVTX_MAGIC = b"ElfFile\x00"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with members / an empty archive
_CAB_MAGIC = b"MSCF"
_TRACE_SUFFIXES = (".etl", ".cab")
_GLOB_CHARS = frozenset("*?[")
_EXPORT_HINT = "export the channel with `wevtutil epl AuthZOptCh x.evtx` and pass the .evtx file"
#: What the health-check script names its files; a folder holding one is an unpacked bundle.
_BUNDLE_LAYOUT = re.compile(
    r"(?:.+_(?:AuthNOptCh|AuthZOptCh|AuthZAdminCh)\.evtx|NPS_EventLog\.log"
    r"|(?:Before|After)RegAdd_(?:AzureMFA|AuthSrv)\.txt)",
    re.IGNORECASE,
)
_EVENT_LOG_NAME = "nps_eventlog.log"
_REGISTRY_DUMP_NAME = re.compile(r"(?:Before|After)RegAdd_(?:AzureMFA|AuthSrv)\.txt", re.I)
_CRC_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Source:
    """One input that a reader can stream events from.

    Attributes:
        name: how reports name the input (the path as found, or ``bundle.zip!member``).
        path: where the bytes are: the file, or for a bundle member the bundle's ``.zip``.
        kind: a :class:`~npsdiag.model.SourceKind` value, decided by content.
        size: size in bytes when discovered (for a member, its uncompressed size).
        member: where inside the bundle the bytes are; None for a file on disk.
        bundle: the case the input belongs to (a bundle, or a folder laid out like one);
            readers record the server names they see into it.
        notes: file-level notes found while discovering (a renamed member), added to the
            input's accounting when it is read.
    """

    name: str
    path: Path
    kind: str
    size: int
    member: Member | None = None
    bundle: BundleInfo | None = None
    notes: tuple[str, ...] = ()

    def new_stats(self) -> SourceStats:
        """A fresh accounting record for reading this source."""
        return SourceStats(name=self.name, kind=self.kind, size=self.size)


@dataclass(slots=True)
class Discovery:
    """What :func:`discover` found.

    Attributes:
        sources: inputs to read, in a deterministic order (inputs as given; inside a
            folder or pattern, sorted by path).
        skipped: inputs that will not be read, each with its status and a one-line reason:
            ``skipped`` (not an event export, empty, pattern matched nothing), ``listed``
            (recognised, kept for the inventory, never decoded, e.g. ``.etl``) or
            ``unreadable`` (missing, permission denied).
        bundles: every case found: a support bundle (``.zip``, nested ones included as their
            own entries) or a folder laid out like an unpacked one, with its server name.
        registry_dumps: ``REG QUERY`` dumps (files and bundle members) for the configuration
            check; :func:`npsdiag.sources.source_bytes` gives their bytes. They are also
            accounted for in ``skipped``.
        host_facts: what ``npsdiag collect`` gathers besides logs (certificate listing,
            auditpol output, extension version, the collection's manifest;
            :mod:`npsdiag.sources.hostfacts`), for the configuration check, which reads and
            accounts for them (:mod:`npsdiag.facts`).
    """

    sources: list[Source] = field(default_factory=list)
    skipped: list[SourceStats] = field(default_factory=list)
    bundles: list[BundleInfo] = field(default_factory=list)
    registry_dumps: list[Source] = field(default_factory=list)
    host_facts: list[Source] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        """True when at least one input can be read."""
        return bool(self.sources)

    def require_readable(self) -> list[Source]:
        """Return the sources, or raise when there is nothing to read.

        Raises:
            NothingToAnalyseError: no input is a readable event export; the message names
                the first skipped input, its reason, and how many more there were.
        """
        if self.sources:
            return self.sources
        if not self.skipped:
            raise NothingToAnalyseError(
                "nothing to analyse: no input was given",
                hint="pass .evtx exports, a folder or a pattern such as C:\\NPS\\*.evtx",
            )
        raise NothingToAnalyseError(f"nothing to analyse: {why_nothing(self.skipped)}")

    def close(self) -> None:
        """Let go of the archives kept open for reading bundle members (any number of times).

        Reading every source and registry dump does it on the way; call this, or use the
        discovery as a context manager, when reading may stop early.
        """
        from npsdiag.sources.bundle_io import close_reader

        for bundle in self.bundles:
            close_reader(bundle)

    def __enter__(self) -> Discovery:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


#: Causes before symptoms: an input that could not be read says why; a bundle's own listing
#: line ("support bundle with 3 files") says nothing about why none of them was read.
_CAUSE_RANK = {"unreadable": 0, "partial": 1, "skipped": 2}
_CAUSES_SHOWN = 3


def why_nothing(accounts: Sequence[SourceStats]) -> str:
    """Why none of ``accounts`` could be read, in one line: the causes, most telling first.

    Inputs that could not be read come first (a damaged zip, a full temporary folder, a
    missing file), then skipped ones; ``listed`` lines (a bundle, a trace) only when nothing
    else is there. The same cause met by many inputs (every member of one bundle) is given
    once; at most three causes are given, then how many more inputs there were.
    """
    ranked = [account for account in accounts if account.status in _CAUSE_RANK]
    ranked.sort(key=lambda account: _CAUSE_RANK[account.status])  # stable: input order
    if not ranked:
        ranked = list(accounts)
    causes: list[str] = []
    seen: set[str] = set()
    for account in ranked:
        text = account.messages[0] if account.messages else f"{account.name}: {account.status}"
        if account.name not in text:
            text = f"{account.name}: {text}"
        cause = text.replace(account.name, "")
        if cause in seen or len(causes) == _CAUSES_SHOWN:
            continue
        seen.add(cause)
        causes.append(text)
    more = len(accounts) - len(causes)
    tail = f" (and {more} more input{'s' if more != 1 else ''} not readable)" if more else ""
    return "; ".join(causes) + tail


def discover(inputs: Sequence[str], *, limits: BundleLimits | None = None) -> Discovery:
    """Expand files, folders and glob patterns, and recognise every file by content.

    Args:
        inputs: what the user typed: paths, folders, or patterns (``*``, ``?``, ``[...]``,
            recursive ``**``). Backslashes work as separators on every platform; on POSIX
            they are treated as separators only when the literal path does not exist.
        limits: the safety limits for support bundles (the defaults of
            :class:`~npsdiag.sources.bundle.BundleLimits` when None).

    Returns:
        The readable sources and the accounting of everything else. Never raises for a
        bad input; the same file reached twice is kept once, and a bundle member with the
        same content as a file given too (a folder holding both the bundle and the files it
        was made from) is read once, from the file.
    """
    found = Discovery()
    seen: set[str] = set()
    for text in inputs:
        for path, case in _expand(text, found):
            key = _identity(path)
            if key in seen:
                continue
            seen.add(key)
            _classify(path, found, case, limits)
    if found.bundles:
        _drop_copies(found)
    return found


def classify_head(head: bytes, name: str, size: int) -> tuple[str, str]:
    """Recognise a file (or bundle member) from its first bytes, its name and its size.

    :func:`sniff`, plus what only the health-check script's layout tells: its
    ``NPS_EventLog.log`` holding no text is still its dump of the Security log (which had no
    NPS event), and its ``*RegAdd_*.txt`` dumps are empty when the key was missing.

    Returns:
        ``(kind, note)`` as :func:`sniff`; the note of an empty input says why it is empty.
    """
    base = PurePath(name.replace("\\", "/")).name
    blank = size == 0 or _is_blank_text(head)
    if blank and _REGISTRY_DUMP_NAME.fullmatch(base):
        return SourceKind.REGQUERY, NOT_READ_YET.get(SourceKind.REGQUERY, "")
    if blank and base.lower() == _EVENT_LOG_NAME:
        # The script's dump of a Security log without NPS events: read (it says something).
        return SourceKind.WEVTUTIL_TEXT, ""
    if size == 0:
        return SourceKind.UNKNOWN, (
            "empty file (0 bytes); export the channel again (`wevtutil epl AuthZOptCh x.evtx`)"
        )
    return sniff(head, base)


def sniff(head: bytes, name: str) -> tuple[str, str]:
    """Recognise a file from its first bytes.

    Args:
        head: the first bytes of the file (4 KiB is plenty).
        name: the file name, used only for trace files (``.etl`` has no fixed magic) and
            to word the note of an unrecognised file.

    Returns:
        ``(kind, note)``: a :class:`~npsdiag.model.SourceKind` value, and for anything not
        readable, a one-line description of what it looked like and the next step.
    """
    suffix = PurePath(name).suffix.lower()
    if head.startswith(_EVTX_MAGIC):
        return SourceKind.EVTX, ""
    if head.startswith(_ZIP_MAGICS):
        return SourceKind.ZIP, "support bundle (.zip): every file inside is recognised and read"
    if head.startswith(_CAB_MAGIC) or suffix in _TRACE_SUFFIXES:
        return SourceKind.TRACE, "trace file: listed in the inventory, not decoded"
    text = _decode_head(head)
    if text is not None:
        stripped = text.lstrip()
        if stripped.startswith("<"):
            root = xml_root_name(stripped)
            if root in ("Events", "Event"):
                return SourceKind.XML, ""
            what = f"an XML document with root <{root}>" if root else "XML or HTML text"
            return SourceKind.UNKNOWN, f"{what}, not an event export: {_EXPORT_HINT}"
        if stripped.startswith("Event[0]:"):
            return SourceKind.WEVTUTIL_TEXT, ""
        fact = host_fact_kind(stripped)
        if fact is not None:
            return fact, ""
        if stripped.upper().startswith("HKEY_LOCAL_MACHINE\\") or looks_like_regquery(head):
            return SourceKind.REGQUERY, NOT_READ_YET.get(SourceKind.REGQUERY, "")
    return SourceKind.UNKNOWN, _unknown_note(head, text, suffix)


def _expand(text: str, found: Discovery) -> Iterator[tuple[Path, BundleInfo | None]]:
    """Yield the files one input stands for, each with the unpacked bundle it lies in (if
    any); account for dead ends."""
    literal = Path(text)
    if _exists(literal):
        yield from _expand_existing(literal, found)
        return
    candidates = [text]
    if os.sep == "/" and "\\" in text:
        # A Windows-style path typed on POSIX: retry with "/" once the literal failed.
        candidates.append(text.replace("\\", "/"))
        converted = Path(candidates[-1])
        if _exists(converted):
            yield from _expand_existing(converted, found)
            return
    if any(char in _GLOB_CHARS for char in text):
        for pattern in candidates:
            # glob.glob, not Path.glob: the pattern may be absolute or hold a drive letter.
            matches = sorted(glob.glob(pattern, recursive=True))  # noqa: PTH207
            if matches:
                for match in matches:
                    yield from _expand_existing(Path(match), found)
                return
        found.skipped.append(
            _account(
                text,
                SourceKind.UNKNOWN,
                "skipped",
                f"{text}: the pattern matches no file; check the folder and the pattern "
                "(npsdiag expands patterns itself, so quote them on POSIX shells)",
            )
        )
        return
    found.skipped.append(
        _account(
            text,
            SourceKind.UNKNOWN,
            "unreadable",
            f"{text}: no such file or folder; check the path",
        )
    )


def _expand_existing(path: Path, found: Discovery) -> Iterator[tuple[Path, BundleInfo | None]]:
    if not path.is_dir():
        yield path, None
        return
    before = len(found.skipped)
    walked = _walk(path, found)
    if not walked and len(found.skipped) == before:
        found.skipped.append(
            _account(
                str(path),
                SourceKind.UNKNOWN,
                "skipped",
                f"{path}: the folder holds no file; point at the folder with the exports",
            )
        )
    case = _folder_case(path, walked, found)
    for file in walked:
        yield file, case


def _folder_case(folder: Path, files: list[Path], found: Discovery) -> BundleInfo | None:
    """A case for a folder laid out like an unpacked bundle (the health-check's file names)."""
    if not any(_BUNDLE_LAYOUT.fullmatch(file.name) for file in files):
        return None
    from npsdiag.sources.bundle import BundleInfo

    case = BundleInfo(name=str(folder), kind="folder")
    for file in files:
        case.note_member_name(file.name)
    found.bundles.append(case)
    return case


def _walk(folder: Path, found: Discovery) -> list[Path]:
    """Every file under ``folder``, sorted by path components (stable on every platform)."""

    def on_error(error: OSError) -> None:
        name = error.filename or str(folder)
        found.skipped.append(
            _account(
                str(name),
                SourceKind.UNKNOWN,
                "unreadable",
                f"{name}: cannot list the folder ({_reason(error)}); "
                "run as a user who may read it, or copy the files elsewhere",
            )
        )

    inside = Path(os.path.realpath(folder))
    files: list[Path] = []
    # Links to folders are never walked into (a link loop cannot make the walk endless), and
    # a link to a file is read only when the file is inside the folder: what lies outside
    # is not what was handed over (notes.txt -> /etc/shadow).
    for root, folders, names in os.walk(folder, onerror=on_error, followlinks=False):
        for name in folders:
            path = Path(root) / name
            if path.is_symlink():
                found.skipped.append(
                    _account(
                        str(path), SourceKind.UNKNOWN, "skipped", _link_note(path, inside, "folder")
                    )
                )
        for name in names:
            path = Path(root) / name
            if path.is_symlink() and not _within(Path(os.path.realpath(path)), inside):
                found.skipped.append(
                    _account(
                        str(path), SourceKind.UNKNOWN, "skipped", _link_note(path, inside, "file")
                    )
                )
                continue
            files.append(path)
    return sorted(files, key=lambda path: path.relative_to(folder).parts)


def _link_note(path: Path, inside: Path, what: str) -> str:
    where = "inside" if _within(Path(os.path.realpath(path)), inside) else "outside"
    return (
        f"{path}: a link to a {what} {where} the folder; not followed "
        f"(pass the {what} itself to read it)"
    )


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _classify(
    path: Path, found: Discovery, case: BundleInfo | None, limits: BundleLimits | None
) -> None:
    name = str(path)
    try:
        info = path.stat()
    except OSError as error:
        found.skipped.append(
            _account(name, SourceKind.UNKNOWN, "unreadable", _cannot_read(name, error))
        )
        return
    if not stat.S_ISREG(info.st_mode):
        found.skipped.append(
            _account(
                name,
                SourceKind.UNKNOWN,
                "skipped",
                f"{name}: not a regular file (device, pipe or socket); pass the export file",
            )
        )
        return
    head = b""
    if info.st_size:
        try:
            with open(path, "rb") as stream:
                head = stream.read(_SNIFF_BYTES)
        except OSError as error:
            found.skipped.append(
                _account(
                    name,
                    SourceKind.UNKNOWN,
                    "unreadable",
                    _cannot_read(name, error),
                    size=info.st_size,
                )
            )
            return
    kind, note = classify_head(head, path.name, info.st_size)
    if kind == SourceKind.ZIP:
        from npsdiag.sources.bundle import add_bundle

        add_bundle(path, info.st_size, found, limits)
        return
    source = Source(name=name, path=path, kind=kind, size=info.st_size, bundle=case)
    if kind in READABLE_KINDS:
        found.sources.append(source)
        return
    if kind == SourceKind.REGQUERY:
        # Read by the configuration check (npsdiag.analyze), which accounts for it.
        found.registry_dumps.append(source)
        return
    if kind in HOST_FACT_KINDS:
        # Read by npsdiag.facts for the configuration check, which accounts for it.
        found.host_facts.append(source)
        return
    status = "listed" if kind == SourceKind.TRACE else "skipped"
    found.skipped.append(_account(name, kind, status, f"{name}: {note}", size=info.st_size))


def _drop_copies(found: Discovery) -> None:
    """Read a bundle member once when a file given too has the same content.

    The health-check script leaves its files next to the bundle it zips them into, so
    ``npsdiag analyze C:\\NPS`` meets every file twice. A member whose size, kind and CRC-32
    equal those of a file on disk is not read; its accounting names the file that is.
    """
    files: dict[tuple[int, str], list[Source]] = {}
    for source in (*found.sources, *found.registry_dumps, *found.host_facts):
        if source.member is None:
            files.setdefault((source.size, source.kind), []).append(source)
    if not files:
        return
    checksums: dict[Path, int | None] = {}
    copies: dict[str, Source] = {}
    for source in (*found.sources, *found.registry_dumps, *found.host_facts):
        if source.member is None:
            continue
        base = source.name.rpartition("!")[2].rpartition("/")[2].casefold()
        # A file of the same name first, so that the note names the file it was made from.
        candidates = sorted(
            files.get((source.size, source.kind), ()),
            key=lambda file: file.path.name.casefold() != base,
        )
        for file in candidates:
            if file.path not in checksums:
                checksums[file.path] = _crc32(file.path)
            if checksums[file.path] == source.member.crc:
                copies[source.name] = file
                break
    if not copies:
        return
    for source in (*found.sources, *found.registry_dumps):
        if source.name in copies and source.bundle is not None:
            source.bundle.pending -= 1  # never read: not waited for
    found.sources = [source for source in found.sources if source.name not in copies]
    found.registry_dumps = [s for s in found.registry_dumps if s.name not in copies]
    found.host_facts = [s for s in found.host_facts if s.name not in copies]
    accounted = {stats.name: stats for stats in found.skipped}
    for name, file in copies.items():
        message = f"{name}: same content as {file.name}, which is read; not read twice"
        stats = accounted.get(name)
        if stats is not None:  # a registry dump: its entry is already there
            stats.messages = [message]
            continue
        found.skipped.append(_account(name, file.kind, "skipped", message, size=file.size))


def _crc32(path: Path) -> int | None:
    checksum = 0
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(_CRC_BLOCK), b""):
                checksum = zlib.crc32(block, checksum)
    except OSError:
        return None
    return checksum


def _is_blank_text(head: bytes) -> bool:
    """True for a byte-order mark and white space only (what Out-File writes for no output)."""
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    return not head.replace(b"\x00", b"").strip()


def _account(
    name: str, kind: str, status: str, message: str, *, size: int | None = None
) -> SourceStats:
    return SourceStats(name=name, kind=kind, size=size, status=status, messages=[message])


def _cannot_read(name: str, error: OSError) -> str:
    if isinstance(error, PermissionError):
        return (
            f"{name}: permission denied; run as a user who may read it "
            "(exports of AuthZ channels often need an elevated prompt), or copy it elsewhere"
        )
    return f"{name}: cannot read ({_reason(error)}); check the path and try again"


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system
        return False


def _identity(path: Path) -> str:
    """One key per file, however it was reached (relative, absolute, via a pattern)."""
    try:
        resolved = os.path.realpath(path)
    except (OSError, ValueError):
        resolved = str(path.absolute())
    return os.path.normcase(resolved)


def _decode_head(head: bytes) -> str | None:
    """The head as text if it looks like text (decoded as its reader will)."""
    encoding = text_encoding(head)
    if encoding is None:
        return None
    if encoding.startswith("utf-16"):
        head = head[: len(head) - len(head) % 2]
    return decode(head, encoding)


def xml_root_name(text: str) -> str:
    """The local name of the first element, skipping the XML declaration, processing
    instructions, comments, CDATA, a DOCTYPE (with its internal subset) and stray end tags."""
    position = 0
    while True:
        start = text.find("<", position)
        if start < 0:
            return ""
        if text.startswith("<?", start):
            end = text.find("?>", start)
        elif text.startswith("<!--", start):
            end = text.find("-->", start)
        elif text.startswith("<![CDATA[", start):
            end = text.find("]]>", start)
        elif text.startswith("<!", start):
            end = text.find(">", start)
            subset = text.find("[", start, end if end >= 0 else len(text))
            if subset >= 0:  # <!DOCTYPE x [ ... ]>: the subset may hold ">"
                closing = text.find("]", subset)
                end = text.find(">", closing) if closing >= 0 else -1
        elif text.startswith("</", start):
            end = text.find(">", start)
        else:
            name = []
            for char in text[start + 1 :]:
                if char.isspace() or char in "/>":
                    break
                name.append(char)
            return "".join(name).rpartition(":")[2]
        if end < 0:
            return ""
        position = end + 1


#: What a note quotes of a file that is not a log (its first characters or bytes, the name of
#: its XML root): such a file can hold anything, so a redacted report must not show it.
CONTENT_PREVIEW = re.compile(
    r"(?P<what>text|binary data) starting with "
    r"(?:'(?:[^'\\]|\\.){0,200}'|\"(?:[^\"\\]|\\.){0,200}\"|[0-9A-F]{2}(?: [0-9A-F]{2}){0,7})"
    r"|(?P<root>with root|first element is) <[^<>]{0,200}>"
)


def hide_content(message: str) -> str:
    """``message`` without the content of an unrecognised file it quotes (for ``--redact``)."""

    def hidden(match: re.Match[str]) -> str:
        if match.group("what"):
            return f"{match.group('what')} (content not shown: --redact)"
        return f"{match.group('root')} <...> (not shown: --redact)"

    return CONTENT_PREVIEW.sub(hidden, message)


def _unknown_note(head: bytes, text: str | None, suffix: str) -> str:
    if text is not None:
        first_line = text.lstrip().splitlines()[0] if text.strip() else ""
        preview = "".join(char if char.isprintable() else "?" for char in first_line[:40])
        looked = f"text starting with {preview!r}" if preview else "blank text"
    else:
        looked = "binary data starting with " + " ".join(f"{byte:02X}" for byte in head[:8])
    if suffix == ".evtx":
        return f"named .evtx but has no EVTX header ({looked}); {_EXPORT_HINT}"
    return f"not an event log export ({looked}); {_EXPORT_HINT}"
