"""The case a support bundle is: its safety limits, its accounting, where its members are.

Plain data shared by the listing of a bundle (:mod:`npsdiag.sources.bundle`) and the reading
of its members (:mod:`npsdiag.sources.bundle_io`); ``docs/bundles.md`` explains the limits.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

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

_COMPUTER_FROM_NAME = re.compile(r"(.+)_(?:AuthNOptCh|AuthZOptCh|AuthZAdminCh)\.evtx", re.I)
_NAME_PLACEHOLDER = "%computername%"


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
        inflated: bytes inflated out of it so far (recognising and reading), measured, each
            member and nested archive counted once however often it is inflated (see
            :meth:`charge`).
        declared: uncompressed bytes its headers declare (nested archives included).
        charged: the bytes :attr:`inflated` counts for each member or nested archive, by its
            chain (see :class:`Member`).
        pending: members found for reading and not read yet; the archives kept open for
            reading them are closed when it falls to 0.
        reader: the archives kept open while its members are read (owned by
            :mod:`npsdiag.sources.bundle_io`).
    """

    name: str
    kind: str
    limits: BundleLimits = field(default_factory=BundleLimits)
    files: int = 0
    name_computers: Counter[str] = field(default_factory=Counter)
    event_computers: Counter[str] = field(default_factory=Counter)
    inflated: int = 0
    declared: int = 0
    charged: dict[tuple[int, ...], int] = field(default_factory=dict, repr=False)
    pending: int = 0
    reader: Any = field(default=None, repr=False)

    def charge(self, chain: tuple[int, ...], count: int) -> None:
        """Count ``count`` bytes inflated from the member or archive at ``chain``.

        The same bytes inflated again (its first 4 KiB while recognising it, then all of it;
        a nested zip unpacked again to read its members) are not counted twice: a member
        counts for the most of it ever inflated at once.
        """
        before = self.charged.get(chain, 0)
        if count > before:
            self.charged[chain] = count
            self.inflated += count - before

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


def _most_common(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
