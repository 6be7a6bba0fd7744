"""Inputs of a run: find them, recognise them, and stream Events out of them.

Public API:

* :func:`discover` turns what the user typed (files, folders, glob patterns) into a
  :class:`Discovery`: the :class:`Source` objects to read and the accounting of every input
  that will not be read.
* :func:`read_events` streams :class:`~npsdiag.model.Event` objects out of one source,
  whatever its kind and wherever it lies (a file, or a member of a support bundle), counting
  into a :class:`~npsdiag.model.SourceStats`.
* :func:`source_bytes` / :func:`open_source` give the bytes of any input, bundle members
  included (the configuration check reads ``REG QUERY`` dumps with them).

The readers (``evtx``, ``xml``, ``text``) import their heavy parsers only when a file of their
kind is read, so importing this package stays cheap. ``docs/inputs.md`` describes what is
accepted, how it is recognised, what is skipped and why, and how every file is accounted for;
``docs/bundles.md`` describes support bundles.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import BinaryIO

from npsdiag.errors import InputError
from npsdiag.model import Event, SourceKind, SourceStats
from npsdiag.sources.bundle import BundleInfo, BundleLimits, open_source, source_bytes
from npsdiag.sources.discover import (
    NOT_READ_YET,
    READABLE_KINDS,
    Discovery,
    Source,
    discover,
    sniff,
)

__all__ = [
    "NOT_READ_YET",
    "READABLE_KINDS",
    "BundleInfo",
    "BundleLimits",
    "Discovery",
    "RecordError",
    "Relevance",
    "Source",
    "discover",
    "open_source",
    "parse_event_time",
    "read_events",
    "sniff",
    "source_bytes",
]

#: The cheap pre-filter a reader applies before decoding a record in full:
#: ``(channel, provider, event_id) -> bool``. ``None`` means every record is wanted.
Relevance = Callable[[str, str, int], bool]


def read_events(
    source: Source,
    stats: SourceStats,
    relevant: Relevance | None = None,
    follow: Callable[[BinaryIO], None] | None = None,
) -> Iterator[Event]:
    """Stream the events of one source, counting what was read into ``stats``.

    Relevance is decided from the channel, provider and event id before a record is decoded
    in full; irrelevant records are counted (``records_read``, first and last time) but never
    become Events. Bad records are counted in ``records_failed`` and reading goes on; a file
    that cannot be opened ends with ``stats.status == "unreadable"`` and a message. Nothing
    here raises for bad input.

    Args:
        source: what :func:`discover` found.
        stats: the accounting to fill (``source.new_stats()`` gives a fresh one). It is final
            once the iterator is exhausted (or closed).
        relevant: the pre-filter, e.g. :func:`npsdiag.extract.is_relevant`; ``None`` keeps
            every record.
        follow: given the open file while an .evtx on disk is read, so that a progress
            display can ask how far the reader got; other inputs do not call it.

    Yields:
        One Event per relevant record, in file order.
    """
    if source.kind not in READABLE_KINDS:
        stats.status = "skipped"
        stats.messages.append(
            f"{source.name}: inputs of kind {source.kind!r} are not read by this version"
        )
        return iter(())
    if source.member is not None:
        from npsdiag.sources.bundle import read_member

        return _guarded(read_member(source, stats, relevant), source, stats)
    events = _read_file(source, stats, relevant, follow)
    if source.bundle is not None:
        events = _noting_computers(events, source.bundle)
    return _guarded(events, source, stats)


def _guarded(events: Iterator[Event], source: Source, stats: SourceStats) -> Iterator[Event]:
    """The events, with any unexpected error of a reader turned into this file's accounting.

    Readers count bad input themselves; this is the net under them, so that a reader's bug
    met on hostile input (a RecursionError, a MemoryError) costs one file, not the run.
    :class:`~npsdiag.errors.InputError` is the caller's, as documented.
    """
    try:
        yield from events
    except InputError:
        raise
    except Exception as error:
        stats.status = "partial" if stats.records_read else "unreadable"
        stats.messages.append(
            f"{source.name}: reading stopped by an unexpected error ({type(error).__name__}: "
            f"{one_line(str(error), 120)}); the events before it are kept; please report "
            "this, with the file if you may share it"
        )


def _read_file(
    source: Source,
    stats: SourceStats,
    relevant: Relevance | None,
    follow: Callable[[BinaryIO], None] | None = None,
) -> Iterator[Event]:
    """The reader of a file on disk, by its (readable) kind."""
    if source.kind == SourceKind.EVTX:
        from npsdiag.sources.evtx import read_evtx

        return read_evtx(source, stats, relevant, follow)
    if source.kind == SourceKind.XML:
        from npsdiag.sources.xml import read_xml

        return read_xml(source, stats, relevant)
    from npsdiag.sources.text import read_wevtutil_text

    return read_wevtutil_text(source, stats, relevant)


def _noting_computers(events: Iterator[Event], bundle: BundleInfo) -> Iterator[Event]:
    """Pass events through, recording their server names into the case they belong to."""
    for event in events:
        bundle.note_computer(event.computer)
        yield event


# ---------------------------------------------------------------------------------------------
# Helpers shared by the readers
# ---------------------------------------------------------------------------------------------


class RecordError(ValueError):
    """One record cannot become an Event; the message says why, in one line."""


_ISO_TIME = re.compile(
    r"\s*(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?"
    r"\s*(Z|UTC|[+-]\d\d:?\d\d)?(?:\s*UTC)?\s*$",
    re.IGNORECASE,
)
_MESSAGE_LIMIT = 240


def parse_event_time(text: str) -> datetime:
    """Parse an event time as a timezone-aware UTC datetime.

    Accepts what exports write: ``2024-05-01T10:00:00.1234567Z`` (Windows, 100 ns),
    ``...000000Z`` (the evtx package, µs), with or without a fraction, with ``Z``, ``UTC``
    or a numeric offset. A time without a zone is taken as UTC, as exports write UTC. Digits
    past microseconds are cut, not rounded, so the same instant always gives the same value.

    Raises:
        RecordError: the text is not such a time.
    """
    match = _ISO_TIME.match(text)
    if match is None:
        raise RecordError(f"time {one_line(text, 40)!r} is not an ISO 8601 time")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        when = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            micro,
            tzinfo=timezone.utc,
        )
        if zone and zone.upper() not in ("Z", "UTC"):
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            when = when - offset if zone[0] == "+" else when + offset
    except (ValueError, OverflowError) as error:
        raise RecordError(f"time {one_line(text, 40)!r} is out of range ({error})") from None
    return when


def one_line(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    """``text`` on one line, control characters made visible, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    flat = "".join(char if char.isprintable() else "?" for char in flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def add_field(fields: dict[str, str], name: str, value: str) -> None:
    """Store a named value; a repeated name gets ``_1``, ``_2`` ... so no value is lost.

    The free suffix is found by doubling and then halving, not by trying 1, 2, 3 ... in turn:
    an event repeating one name 30,000 times costs 15 look-ups per value, not 15,000. Suffixes
    are taken in order, so the names are the same as a count would give; a value literally
    named ``X_7`` among repeated ``X`` only makes the search land on another free suffix.
    """
    if name not in fields:
        fields[name] = value
        return
    high = 1
    while f"{name}_{high}" in fields:
        high *= 2
    low = high // 2  # taken; 0 when high is 1 and there is nothing below to search
    while high - low > 1:
        middle = (low + high) // 2
        if f"{name}_{middle}" in fields:
            low = middle
        else:
            high = middle
    fields[f"{name}_{high}"] = value
