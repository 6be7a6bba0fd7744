"""Find the cases in the inputs of ``npsdiag batch``, and keep its output out of them.

The rule is :func:`find_cases` (docs/batch.md has it with examples). A link inside an input
folder that leads out of it is not followed (what it points to is not part of the collection),
and a folder that a batch has written into (its lock file or its ``index.json`` tell) is never
a case: an output folder put inside an input is refused by :func:`check_output`, and one that
got there anyway is listed as not a case rather than read.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from npsdiag.errors import NothingToAnalyseError, UsageError
from npsdiag.model import SourceKind

__all__ = [
    "LOCK_FILE",
    "Case",
    "IgnoredEntry",
    "case_slug",
    "check_output",
    "expand",
    "find_cases",
    "is_batch_output",
    "overlap",
]

#: File kinds that make a folder hold "logs directly" (see :func:`find_cases`).
_LOG_KINDS = frozenset(
    {
        SourceKind.EVTX,
        SourceKind.XML,
        SourceKind.WEVTUTIL_TEXT,
        SourceKind.REGQUERY,
        SourceKind.TRACE,
    }
)
_SNIFF_BYTES = 4096
#: The lock file a running batch holds in its output folder (a name starting with ".", which
#: case finding skips).
LOCK_FILE = ".npsdiag-batch.lock"
_OUTPUT_REASON = "an npsdiag batch output folder (it holds its index or lock); not read"
_GLOB_CHARS = frozenset("*?[")
_SLUG_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_SLUG_LIMIT = 60
# Device names that Windows refuses as folder names, whatever the extension.
_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{digit}" for digit in range(10)}
    | {f"lpt{digit}" for digit in range(10)}
)


@dataclass(frozen=True, slots=True)
class Case:
    """One case: what one ``analyze_paths`` call reads.

    Attributes:
        case_id: unique, file-system-safe id; the case's folder under the output folder.
        name: the folder or file name the case was found as.
        path: the case's path as found from the inputs (shown in the index).
        kind: ``folder`` (a child folder), ``zip`` (a .zip bundle), ``files`` (the log
            files lying directly in an input folder) or ``file`` (a single input file).
        inputs: the paths given to :func:`~npsdiag.analyze.analyze_paths`.
    """

    case_id: str
    name: str
    path: str
    kind: str
    inputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IgnoredEntry:
    """Something in the inputs that is not a case, and why."""

    path: str
    reason: str


def case_slug(name: str) -> str:
    """A file-system-safe, lower-case id for a case name.

    ``.zip`` is dropped; accents are folded to ASCII; anything but letters, digits, ``_``
    and ``-`` becomes ``-`` (dots too, so no id can be ``..`` or end in a dot, which
    Windows refuses). Empty results become ``case``; Windows device names get ``-case``.

    Example: ``20250512_081000_NpsLogging.zip`` gives ``20250512_081000_npslogging``.
    """
    stem = name[:-4] if name.lower().endswith(".zip") else name
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    slug = _SLUG_UNSAFE.sub("-", folded.lower()).strip("-_")
    slug = slug[:_SLUG_LIMIT].rstrip("-_") or "case"
    if slug in _RESERVED_NAMES:
        slug += "-case"
    return slug


def _unique_ids(names: Sequence[str]) -> list[str]:
    """Slug every name; a repeated slug gets ``-2``, ``-3``... in case order."""
    used: set[str] = set()
    ids: list[str] = []
    for name in names:
        base = case_slug(name)
        candidate = base
        number = 2
        while candidate in used:
            candidate = f"{base}-{number}"
            number += 1
        used.add(candidate)
        ids.append(candidate)
    return ids


@dataclass(frozen=True, slots=True)
class _Found:
    name: str
    path: Path
    kind: str
    inputs: tuple[Path, ...]


def find_cases(inputs: Sequence[str]) -> tuple[list[Case], list[IgnoredEntry]]:
    """Find the cases in the inputs.

    The rule (docs/batch.md has examples):

    * an input *file* is one case (a ``.zip`` bundle, or any single export);
    * in an input *folder*, every immediate child folder is one case (read whole,
      recursively) and every immediate child ``.zip`` (by name or by content) is one case;
    * the files lying directly in an input folder are one more case, named after the
      folder, when at least one of them is an event log (an ``.evtx``, an XML export, a
      ``wevtutil`` text dump, a ``REG QUERY`` dump or a trace, recognised by content):
      that is how an unpacked bundle or a folder of exports given as input is read;
      otherwise they are listed as ignored;
    * names starting with ``.`` are skipped silently; the same path reached twice
      counts once.

    Order: inputs as given; inside a folder the loose-files case first, then children
    by case-folded name. Ids are :func:`case_slug` of the names, made unique in that order.

    Args:
        inputs: files, folders or glob patterns (expanded here, as ``analyze`` does,
            because Windows shells pass them literally).

    Returns:
        The cases and the ignored entries.

    Raises:
        UsageError: an input does not exist or a pattern matches nothing.
        NothingToAnalyseError: the inputs hold no case at all.
    """
    found: list[_Found] = []
    ignored: list[IgnoredEntry] = []
    seen: dict[str, str] = {}
    for text in inputs:
        for path in expand(text):
            for candidate in _cases_of(path, ignored):
                key = _identity(candidate.inputs)
                if key in seen:
                    ignored.append(
                        IgnoredEntry(str(candidate.path), f"the same as case '{seen[key]}'")
                    )
                    continue
                seen[key] = str(candidate.path)
                found.append(candidate)
    if not found:
        where = ", ".join(inputs) or "(no input)"
        first = f": {ignored[0].path}: {ignored[0].reason}" if ignored else ""
        raise NothingToAnalyseError(
            f"no case found in {where}{first}",
            hint="give folders that hold one folder or .zip bundle per case",
        )
    ids = _unique_ids([item.name for item in found])
    cases = [
        Case(
            case_id=case_id,
            name=item.name,
            path=str(item.path),
            kind=item.kind,
            inputs=tuple(str(path) for path in item.inputs),
        )
        for case_id, item in zip(ids, found, strict=True)
    ]
    return cases, ignored


def expand(text: str) -> list[Path]:
    literal = Path(text)
    if _exists(literal):
        return [literal]
    candidates = [text]
    if os.sep == "/" and "\\" in text:
        converted = text.replace("\\", "/")
        if _exists(Path(converted)):
            return [Path(converted)]
        candidates.append(converted)
    if any(char in _GLOB_CHARS for char in text):
        for pattern in candidates:
            # glob.glob, not Path.glob: the pattern may be absolute or hold a drive letter.
            matches = sorted(glob.glob(pattern, recursive=True))  # noqa: PTH207
            if matches:
                return [Path(match) for match in matches]
        raise UsageError(
            f"the pattern '{text}' matches nothing",
            hint="check the folder and the pattern (quote patterns on POSIX shells)",
        )
    raise UsageError(f"no such file or folder: '{text}'", hint="check the path")


def _cases_of(path: Path, ignored: list[IgnoredEntry]) -> list[_Found]:
    if not path.is_dir():
        kind = "zip" if _is_zip(path) else "file"
        return [_Found(_display_name(path), path, kind, (path,))]
    if is_batch_output(path):
        ignored.append(IgnoredEntry(str(path), _OUTPUT_REASON))
        return []
    try:
        children = sorted(
            (child for child in path.iterdir() if not child.name.startswith(".")),
            key=lambda child: (child.name.casefold(), child.name),
        )
    except OSError as error:
        raise UsageError(
            f"cannot list the folder '{path}': {error.strerror or error}",
            hint="run as a user who may read it",
        ) from None
    inside = Path(os.path.realpath(path))
    loose: list[Path] = []
    has_log = False
    nested: list[_Found] = []
    passed_over = 0
    for child in children:
        if child.is_symlink() and not _within(Path(os.path.realpath(child)), inside):
            ignored.append(
                IgnoredEntry(str(child), "a link to outside the input folder; not followed")
            )
            passed_over += 1
            continue
        if child.is_dir():
            if is_batch_output(child):
                ignored.append(IgnoredEntry(str(child), _OUTPUT_REASON))
                passed_over += 1
                continue
            nested.append(_Found(child.name, child, "folder", (child,)))
            continue
        kind = _sniff(child)
        if kind == SourceKind.ZIP or child.suffix.lower() == ".zip":
            nested.append(_Found(child.name, child, "zip", (child,)))
            continue
        loose.append(child)
        has_log = has_log or kind in _LOG_KINDS
    found: list[_Found] = []
    if has_log:
        found.append(_Found(_display_name(path), path, "files", tuple(loose)))
    else:
        ignored.extend(
            IgnoredEntry(str(child), "not a folder, a .zip or an event log") for child in loose
        )
    found.extend(nested)
    if not found and not loose and not passed_over:
        ignored.append(IgnoredEntry(str(path), "the folder is empty"))
    return found


def is_batch_output(folder: Path) -> bool:
    """Whether ``folder`` is where an ``npsdiag batch`` wrote: its lock file, or an
    ``index.json`` of the batch index format."""
    if (folder / LOCK_FILE).exists():
        return True
    index = folder / "index.json"
    try:
        with open(index, encoding="utf-8", errors="replace") as stream:
            head = stream.read(4096)
    except OSError:
        return False
    return '"format": "npsdiag-batch-index"' in head


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _display_name(path: Path) -> str:
    return path.name or path.absolute().name or str(path)


def _sniff(path: Path) -> str:
    from npsdiag.sources.discover import sniff

    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return SourceKind.UNKNOWN
        with open(path, "rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError:
        # Unreadable here means unreadable for the case too; it will say so there.
        return SourceKind.UNKNOWN
    return sniff(head, path.name)[0] if head else SourceKind.UNKNOWN


def _is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or _sniff(path) == SourceKind.ZIP


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _identity(paths: Iterable[Path]) -> str:
    return "\0".join(os.path.normcase(os.path.realpath(path)) for path in paths)


def check_output(output: Path, inputs: Sequence[str]) -> None:
    """Refuse an output folder that overlaps an input.

    An output folder inside an input folder would be read as a case by the next run,
    and an input inside the output folder could be overwritten by a case's reports. Both
    where the paths lead (links resolved) and where they are written (links not resolved)
    are compared, so an output reached through a link inside an input is refused too.

    Raises:
        UsageError: the output is an input, lies inside one, contains one, or is a file.
    """
    if output.exists() and not output.is_dir():
        raise UsageError(f"the output '{output}' is not a folder", hint="give a folder with -o")
    targets = _both(output)
    for text in inputs:
        for path in expand(text):
            sources = _both(path)
            if any(_within(target, source) for target in targets for source in sources):
                raise UsageError(
                    f"the output folder '{output}' is inside the input '{path}'",
                    hint="write the review elsewhere, e.g. -o review next to the input folder",
                )
            if any(_within(source, target) for target in targets for source in sources):
                raise UsageError(
                    f"the input '{path}' is inside the output folder '{output}'",
                    hint="write the review to a folder of its own, e.g. -o review",
                )


def overlap(first: Path, second: Path) -> bool:
    """Whether one of two folders is, or lies inside, the other (as written or resolved)."""
    return any(
        _within(one, two) or _within(two, one) for one in _both(first) for two in _both(second)
    )


def _both(path: Path) -> set[Path]:
    """Where a path is as written (absolute, links kept) and where it leads (links resolved)."""
    return {Path(os.path.normpath(path.absolute())), Path(os.path.realpath(path))}
