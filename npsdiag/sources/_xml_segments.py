"""Cut the text of a damaged XML export into one slice per event, without parsing it whole.

When lxml finds an error in an export, everything after it is suspect as a tree: a missing end
tag makes every following event a child of the damaged one, a stray end tag closes the
document early. The events themselves are usually whole. This module finds them by their tags
alone, so that each can be parsed on its own and the damage costs only the event it is in.

An *event* is every ``Event`` element (any namespace prefix), as for the strict pass. The text
is scanned with a few regular expressions for the markup that
matters: ``<Event`` and ``</Event>`` tags, comments, CDATA sections, processing instructions
and declarations (whose text may hold anything, ``<Event`` included), and, between events,
other start tags (for the namespace prefixes they declare). Everything else is copied into the
slice it lies in, or dropped between events.

Two modes:

* *skipping* (the events the strict pass has read already): Event elements nest as XML says,
  and each end tag is one event the strict pass read, in the same order (its prefix of the
  file was clean). An event still open when the last of them ends began before the damage
  and did not end before it: it is damaged, and given as a ``lost`` segment;
* *recovering* (everything after): an ``Event`` start tag met inside an event ends that event
  (its end tag is missing) and starts the next one, so one lost end tag costs one event, not
  the rest of the file.

The scan is linear in the text: each character is looked at a bounded number of times, a
pending token carries at most a few hundred characters (or one tag of at most
:data:`MAX_TAG_CHARS`) into the next chunk, and slices are kept as lists of pieces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["MAX_EVENT_CHARS", "MAX_TAG_CHARS", "Segment", "Segmenter"]

#: The longest slice kept in recovery; a longer one (an event whose end tag never comes) is
#: counted as failed without being kept in memory.
MAX_EVENT_CHARS = 64 << 20
#: The longest start tag looked at as one token; a longer one counts as damage.
MAX_TAG_CHARS = 64 << 10
#: Characters a token needs at most before the regular expressions can recognise it.
_LOOKAHEAD = 256

_NAME = r"[A-Za-z_][\w.\-]{0,100}"
_EVENT_TAG = rf"(?P<close>/)?(?P<event>(?:{_NAME}:)?Event)(?=[\s/>])"
_SPECIAL = r"(?P<comment>!--)|(?P<cdata>!\[CDATA\[)|(?P<pi>\?)|(?P<doctype>!DOCTYPE)|(?P<decl>!)"
#: Markup that matters inside an event.
_INSIDE = re.compile(rf"<(?:{_SPECIAL}|{_EVENT_TAG})")
#: ... and between events, where other start tags may declare namespace prefixes.
_OUTSIDE = re.compile(rf"<(?:{_SPECIAL}|{_EVENT_TAG}|(?P<other>{_NAME}(?::{_NAME})?)(?=[\s/>]))")
#: The rest of a tag after its name, up to its ``>``: attributes, whose quoted values may hold
#: ``>`` but never ``<`` (in damaged text the next tag starts there).
_TAG_BODY = re.compile(r"(?:[^<>\"']|\"[^\"<]*\"|'[^'<]*')*")
_PREFIX_DECLARATION = re.compile(r"""\sxmlns:([A-Za-z_][\w.\-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_DOCTYPE_SUBSET_END = re.compile(r"\]\s*>")
_TERMINATORS = {"comment": "-->", "cdata": "]]>", "pi": "?>", "decl": ">"}


@dataclass(frozen=True, slots=True)
class Segment:
    """The text of one event, as found.

    Attributes:
        text: from its ``<Event`` start tag to the end of its ``</Event>`` end tag (or to
            where the event stopped); empty when ``oversized``.
        line: the line of its first character in the file.
        complete: ended by its own end tag (False: cut by the next event or the end of file).
        oversized: longer than :data:`MAX_EVENT_CHARS` without an end tag; not kept.
        namespaces: the prefixes declared around it, ``(prefix, uri)``, for parsing it alone.
        lost: an event the strict pass saw begin but not end (the damage is in it); no text.
    """

    text: str
    line: int
    complete: bool
    oversized: bool = False
    namespaces: tuple[tuple[str, str], ...] = ()
    lost: bool = False


@dataclass(slots=True)
class _Open:
    line: int
    pieces: list[str] = field(default_factory=list)
    size: int = 0
    oversized: bool = False


class Segmenter:
    """Feed decoded text chunk by chunk; get the slices of the events as they end.

    Example::

        segmenter = Segmenter(skip=3)        # the first 3 events were read already
        for chunk in chunks:
            for segment in segmenter.feed(chunk):
                ...
        for segment in segmenter.close():
            ...
        segmenter.doctypes                   # lines of DOCTYPE declarations met
    """

    def __init__(self, *, skip: int = 0) -> None:
        self.skip = skip
        self.doctypes: list[int] = []
        self._carry = ""  # text not scanned yet (an unfinished token)
        self._line = 1  # line of the first character of _carry
        self._within: str | None = None  # terminator of the comment/CDATA/PI being passed
        self._doctype_subset = False  # inside a DOCTYPE's [...] internal subset
        self._opened: list[int] = []  # lines of the Event elements open while skipping
        self._open: _Open | None = None  # the event being cut out (recovering)
        self._namespaces: dict[str, str] = {}

    def feed(self, text: str) -> Iterator[Segment]:
        """Scan ``text`` (the next chunk); yield the events it completes."""
        return self._scan(self._carry + text, final=False)

    def close(self) -> Iterator[Segment]:
        """End of the file: yield the event still open, if any."""
        yield from self._scan(self._carry, final=True)
        if self._open is not None:
            yield self._emit(complete=False)

    # -- scanning -------------------------------------------------------------------------

    def _scan(self, buffer: str, *, final: bool) -> Iterator[Segment]:
        self._carry = ""
        done = 0  # buffer[:done] is scanned and accounted for (lines, the open event's text)
        while True:
            if self._within is not None:
                end = self._terminator(buffer, done)
                if end < 0:
                    keep = 0 if final else len(self._within) - 1
                    done = self._advance(buffer, done, len(buffer) - keep)
                    self._carry = buffer[done:]
                    return
                self._within = None
                done = self._advance(buffer, done, end)
                continue
            pattern = _OUTSIDE if self._open is None and not self._opened else _INSIDE
            match = pattern.search(buffer, done)
            if match is None:
                safe = len(buffer) if final else len(buffer) - _LOOKAHEAD
                done = self._advance(buffer, done, safe)
                self._carry = buffer[done:]
                return
            start = match.start()
            if not final and start > len(buffer) - _LOOKAHEAD:
                # Too close to the end to tell "<!-" from "<!--" or "<Even" from "<Event".
                done = self._advance(buffer, done, start)
                self._carry = buffer[done:]
                return
            kind = match.lastgroup
            if kind in _TERMINATORS or kind == "doctype":
                done = self._advance(buffer, done, start)
                if kind == "doctype":
                    self.doctypes.append(self._line)
                    self._doctype_subset = True
                    self._within = "doctype"
                else:
                    self._within = _TERMINATORS[str(kind)]
                done = self._advance(buffer, done, match.end())
                continue
            tag = _tag_end(buffer, match.end(), start, final=final)
            if tag is None:  # the tag may go on in the next chunk
                done = self._advance(buffer, done, start)
                self._carry = buffer[done:]
                return
            end, empty = tag
            done = self._advance(buffer, done, start)
            if kind == "other":
                self._declare(buffer[match.end() : end])
                done = self._advance(buffer, done, end)
            elif match.group("close") is not None:
                done = self._advance(buffer, done, end)
                yield from self._end_tag()
            else:
                yield from self._start_tag(empty)
                done = self._advance(buffer, done, end)
                if empty:
                    yield from self._empty_end()

    def _terminator(self, buffer: str, position: int) -> int:
        """Where the comment, CDATA, PI or declaration being passed ends (-1: not yet)."""
        if self._within != "doctype":
            index = buffer.find(self._within or "", position)
            return index + len(self._within or "") if index >= 0 else -1
        # A DOCTYPE ends at the first ">" unless an internal subset "[...]" starts first.
        if self._doctype_subset:
            bracket = buffer.find("[", position)
            closer = buffer.find(">", position)
            if closer >= 0 and (bracket < 0 or closer < bracket):
                self._doctype_subset = False
                return closer + 1
            if bracket < 0:
                return -1
            self._doctype_subset = False
            position = bracket + 1
        subset_end = _DOCTYPE_SUBSET_END.search(buffer, position)
        return subset_end.end() if subset_end is not None else -1

    def _advance(self, buffer: str, done: int, to: int) -> int:
        """Account for ``buffer[done:to]``: count its lines, copy it into the open event."""
        if to <= done:
            return done
        piece = buffer[done:to]
        self._line += piece.count("\n")
        current = self._open
        if current is not None and not current.oversized:
            current.size += len(piece)
            if current.size > MAX_EVENT_CHARS:
                current.oversized = True
                current.pieces.clear()
            else:
                current.pieces.append(piece)
        return to

    # -- tags -----------------------------------------------------------------------------

    def _start_tag(self, empty: bool) -> Iterator[Segment]:
        if self.skip:
            if not empty:
                self._opened.append(self._line)
            return
        if self._open is not None:
            # Recovering: an event inside an event means the first lost its end tag.
            yield self._emit(complete=False)
        self._open = _Open(line=self._line)

    def _empty_end(self) -> Iterator[Segment]:
        """After ``<Event/>``: a whole event in one tag."""
        if self.skip:
            yield from self._skipped()
            return
        if self._open is not None:
            yield self._emit(complete=True)

    def _end_tag(self) -> Iterator[Segment]:
        if self.skip:
            if self._opened:
                self._opened.pop()
                yield from self._skipped()
            return
        if self._open is not None:
            yield self._emit(complete=True)
        # An end tag between events is damage outside any event: nothing to count.

    def _skipped(self) -> Iterator[Segment]:
        """One event the strict pass read has ended; after the last, recovering starts, and
        the events still open are the damaged ones."""
        self.skip -= 1
        if self.skip:
            return
        for line in self._opened:
            yield Segment(text="", line=line, complete=False, lost=True)
        self._opened.clear()

    def _emit(self, *, complete: bool) -> Segment:
        current = self._open
        assert current is not None
        self._open = None
        return Segment(
            text="" if current.oversized else "".join(current.pieces),
            line=current.line,
            complete=complete,
            oversized=current.oversized,
            namespaces=tuple(sorted(self._namespaces.items())),
        )

    def _declare(self, attributes: str) -> None:
        for match in _PREFIX_DECLARATION.finditer(attributes):
            self._namespaces[match.group(1)] = match.group(2) or match.group(3) or ""


def _tag_end(buffer: str, body: int, start: int, *, final: bool) -> tuple[int, bool] | None:
    """``(end, empty)`` of the tag whose name ends at ``body``; None when the buffer may stop
    inside it. A tag cut by ``<``, a stray quote or the end of the file ends where it stops."""
    stop = _TAG_BODY.match(buffer, body).end()  # type: ignore[union-attr]  # always matches
    if stop < len(buffer):
        character = buffer[stop]
        if character == ">":
            return stop + 1, stop > body and buffer[stop - 1] == "/"
        if character in "\"'" and not final and len(buffer) - start < MAX_TAG_CHARS:
            later = buffer[stop + 1 :]
            if character not in later and "<" not in later:
                return None  # a quoted value that goes on in the next chunk
        return stop, False
    if final or len(buffer) - start >= MAX_TAG_CHARS:
        return stop, False
    return None
