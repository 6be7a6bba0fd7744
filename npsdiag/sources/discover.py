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
"""

from __future__ import annotations

import codecs
import contextlib
import glob
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from npsdiag.errors import NothingToAnalyseError
from npsdiag.model import SourceKind, SourceStats

__all__ = [
    "NOT_READ_YET",
    "READABLE_KINDS",
    "Discovery",
    "Source",
    "discover",
    "sniff",
    "text_encoding",
]

#: Kinds that :func:`npsdiag.sources.read_events` can stream events from.
READABLE_KINDS = frozenset({SourceKind.EVTX, SourceKind.XML})

#: Kinds that are recognised but not read by this version, with the note shown for them.
#: This is the single place that decides what happens to a recognised-but-unread kind:
#: when a reader for one of them lands, remove it here and add it to READABLE_KINDS.
NOT_READ_YET: dict[str, str] = {
    SourceKind.ZIP: "support bundles (.zip) are not analysed yet by this version",
    SourceKind.WEVTUTIL_TEXT: (
        "wevtutil text dumps are not analysed yet by this version: "
        "export the channel as .evtx instead (`wevtutil epl AuthZOptCh x.evtx`)"
    ),
    SourceKind.REGQUERY: "registry dumps (REG QUERY output) are not analysed yet by this version",
}

#: How much of a file is read to recognise it.
_SNIFF_BYTES = 4096
_EVTX_MAGIC = b"ElfFile\x00"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with members / an empty archive
_CAB_MAGIC = b"MSCF"
_TRACE_SUFFIXES = (".etl", ".cab")
_GLOB_CHARS = frozenset("*?[")
_DECLARED_ENCODING = re.compile(rb"""\A\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_EXPORT_HINT = "export the channel with `wevtutil epl AuthZOptCh x.evtx` and pass the .evtx file"


@dataclass(frozen=True, slots=True)
class Source:
    """One input that a reader can stream events from.

    Attributes:
        name: how reports name the input (the path as found, or ``bundle.zip!member``).
        path: where the bytes are.
        kind: a :class:`~npsdiag.model.SourceKind` value, decided by content.
        size: size in bytes when discovered.
    """

    name: str
    path: Path
    kind: str
    size: int

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
    """

    sources: list[Source] = field(default_factory=list)
    skipped: list[SourceStats] = field(default_factory=list)

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
        first = self.skipped[0]
        reason = first.messages[0] if first.messages else first.status
        more = len(self.skipped) - 1
        tail = f" (and {more} more input{'s' if more != 1 else ''} not readable)" if more else ""
        raise NothingToAnalyseError(f"nothing to analyse: {reason}{tail}")


def discover(inputs: Sequence[str]) -> Discovery:
    """Expand files, folders and glob patterns, and recognise every file by content.

    Args:
        inputs: what the user typed: paths, folders, or patterns (``*``, ``?``, ``[...]``,
            recursive ``**``). Backslashes work as separators on every platform; on POSIX
            they are treated as separators only when the literal path does not exist.

    Returns:
        The readable sources and the accounting of everything else. Never raises for a
        bad input; the same file reached twice is kept once.
    """
    found = Discovery()
    seen: set[str] = set()
    for text in inputs:
        for path in _expand(text, found):
            key = _identity(path)
            if key in seen:
                continue
            seen.add(key)
            _classify(path, found)
    return found


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
        return SourceKind.ZIP, NOT_READ_YET[SourceKind.ZIP]
    if head.startswith(_CAB_MAGIC) or suffix in _TRACE_SUFFIXES:
        return SourceKind.TRACE, "trace file: listed in the inventory, not decoded"
    text = _decode_head(head)
    if text is not None:
        stripped = text.lstrip()
        if stripped.startswith("<"):
            root = _xml_root_name(stripped)
            if root in ("Events", "Event"):
                return SourceKind.XML, ""
            what = f"an XML document with root <{root}>" if root else "XML or HTML text"
            return SourceKind.UNKNOWN, f"{what}, not an event export: {_EXPORT_HINT}"
        if stripped.startswith("Event[0]:"):
            return SourceKind.WEVTUTIL_TEXT, NOT_READ_YET[SourceKind.WEVTUTIL_TEXT]
        if stripped.upper().startswith("HKEY_LOCAL_MACHINE\\"):
            return SourceKind.REGQUERY, NOT_READ_YET[SourceKind.REGQUERY]
    return SourceKind.UNKNOWN, _unknown_note(head, text, suffix)


def _expand(text: str, found: Discovery) -> Iterator[Path]:
    """Yield the files one input stands for; account for dead ends."""
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


def _expand_existing(path: Path, found: Discovery) -> Iterator[Path]:
    if not path.is_dir():
        yield path
        return
    walked = _walk(path, found)
    if not walked:
        found.skipped.append(
            _account(
                str(path),
                SourceKind.UNKNOWN,
                "skipped",
                f"{path}: the folder holds no file; point at the folder with the exports",
            )
        )
    yield from walked


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

    files: list[Path] = []
    # Symlinked folders are not followed, so a link loop cannot make the walk endless.
    for root, _, names in os.walk(folder, onerror=on_error, followlinks=False):
        files.extend(Path(root) / name for name in names)
    return sorted(files, key=lambda path: path.relative_to(folder).parts)


def _classify(path: Path, found: Discovery) -> None:
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
    if info.st_size == 0:
        found.skipped.append(
            _account(
                name,
                SourceKind.UNKNOWN,
                "skipped",
                f"{name}: empty file (0 bytes); export the channel again "
                "(`wevtutil epl AuthZOptCh x.evtx`)",
                size=0,
            )
        )
        return
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
    kind, note = sniff(head, path.name)
    if kind in READABLE_KINDS:
        found.sources.append(Source(name=name, path=path, kind=kind, size=info.st_size))
        return
    status = "listed" if kind == SourceKind.TRACE else "skipped"
    found.skipped.append(_account(name, kind, status, f"{name}: {note}", size=info.st_size))


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


def text_encoding(head: bytes) -> str | None:
    """The codec that decodes ``head`` as text, or None when it looks binary.

    Knows UTF-8 and UTF-16 with or without a byte-order mark (Windows tools write UTF-16
    when redirected), and the encoding an XML declaration names.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:512]
    if len(sample) >= 4:
        # UTF-16 without a BOM: ASCII text leaves every other byte zero.
        odd_zeros = sample[1::2].count(0)
        even_zeros = sample[0::2].count(0)
        half = len(sample) // 2
        if odd_zeros > half * 0.8 and even_zeros < half * 0.2:
            return "utf-16-le"
        if even_zeros > half * 0.8 and odd_zeros < half * 0.2:
            return "utf-16-be"
    if b"\x00" in sample:
        return None
    encoding = "utf-8"
    declared = _DECLARED_ENCODING.match(head)
    if declared is not None:
        name = declared[1].decode("ascii").lower()
        with contextlib.suppress(LookupError):
            if not codecs.lookup(name).name.startswith("utf-16"):
                encoding = name
    try:
        text = head.decode(encoding)
    except UnicodeDecodeError as error:
        # The head may end in the middle of a character; anything earlier is not text.
        if error.start < len(head) - 4:
            return None
        text = head[: error.start].decode(encoding)
    controls = sum(1 for char in text[:512] if ord(char) < 32 and char not in "\r\n\t\f")
    return encoding if controls <= len(text[:512]) // 20 else None


def _decode_head(head: bytes) -> str | None:
    """The head as text if it looks like text."""
    encoding = text_encoding(head)
    if encoding is None:
        return None
    if encoding.startswith("utf-16"):
        head = head[: len(head) - len(head) % 2]
    return head.decode(encoding, errors="replace")


def _xml_root_name(text: str) -> str:
    """The local name of the first element, skipping the XML declaration, comments, DOCTYPE."""
    position = 0
    while True:
        start = text.find("<", position)
        if start < 0:
            return ""
        if text.startswith("<?", start):
            end = text.find("?>", start)
        elif text.startswith("<!--", start):
            end = text.find("-->", start)
        elif text.startswith("<!", start):
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
