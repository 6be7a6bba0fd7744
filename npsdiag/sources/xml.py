"""Stream Events out of XML event exports.

Two layouts exist and both are read the same way: Event Viewer's "Save as XML" writes one
``<Events>`` document, ``wevtutil qe <channel> /f:xml`` writes bare ``<Event>`` elements one
after the other with no root at all. Either may carry ``<RenderingInfo>`` (the rendered
message), may start with a byte-order mark and may be UTF-16.

The file is parsed incrementally with lxml: it is decoded, stripped of its XML declaration and
fed, chunk by chunk, inside a synthetic root element, so a rootless sequence is well-formed
and neither layout is ever held in memory whole; each ``Event`` is cleared once converted.
The parser resolves no entities, fetches nothing from the network and accepts huge text nodes
(rendered messages can be megabytes). Names are matched on their local part, so the usual
``http://schemas.microsoft.com/win/2004/08/events/event`` namespace, another one, or none all
work.

Every ``Event`` element is an event, however deep the elements around it (``<Events>``
inside ``<Events>``) are nested. One inside another (which the event schema never allows, and
which a lost end tag followed by a stray one produces) is an event of its own, read before the
one around it, not that one's data.

Any error lxml reports, fatal or not, ends the strict pass; the events it completed are kept.
The rest of the file is then cut into one slice per event by their tags alone
(:mod:`npsdiag.sources._xml_segments`) and each slice is parsed on its own, so damage (a lost
end tag, a stray tag or DOCTYPE between events, nesting deeper than lxml allows, an undefined
entity) costs only the event it lies in: every event is either read or counted as failed, and
the message names the line of the first error. A DOCTYPE before the events is never a reason
to refuse the file: it is ignored (no entity is ever expanded) and the events are read one by
one.

References:
    - Event schema: https://learn.microsoft.com/windows/win32/wes/eventschema-schema
    - ``docs/inputs.md`` for the accounting rules.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator
from typing import Any, BinaryIO
from xml.sax.saxutils import quoteattr

from lxml import etree

from npsdiag.model import Event, SourceStats
from npsdiag.sources import (
    RecordError,
    Relevance,
    Source,
    add_field,
    one_line,
    parse_event_time,
)
from npsdiag.sources._encoding import incremental_decoder, text_encoding
from npsdiag.sources._xml_segments import MAX_EVENT_CHARS, Segment, Segmenter
from npsdiag.sources.discover import xml_root_name

__all__ = ["event_from_element", "read_xml"]

_READ_SIZE = 1 << 16
_ROOT_OPEN = b"<npsdiag-export>"
_ROOT_CLOSE = b"</npsdiag-export>"
_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>", re.IGNORECASE)
_EVENT_LOCAL_NAMES = ("Event", "Events")
_SEGMENT_ROOT = "npsdiag-event"


def read_xml(source: Source, stats: SourceStats, relevant: Relevance | None) -> Iterator[Event]:
    """Stream the relevant events of one XML export and account for every event.

    Args:
        source: an input of kind ``xml``.
        stats: filled while reading; final when the iterator is exhausted or closed.
        relevant: ``(channel, provider, event_id) -> bool``, asked before an event is
            converted in full; ``None`` converts every event.

    Yields:
        Events in file order.
    """
    reader = _Reader(source, stats, relevant)
    try:
        yield from reader.read()
    finally:
        stats.finish()


class _Damage(Exception):
    """The strict pass met an error: where, what lxml said, and whether it was fatal (a
    non-fatal error, such as a namespace prefix declared nowhere, loses nothing)."""

    def __init__(self, line: int, message: str, fatal: bool) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.fatal = fatal


class _Reader:
    """One file: the strict pass, then (on damage) the event-by-event recovery."""

    def __init__(self, source: Source, stats: SourceStats, relevant: Relevance | None) -> None:
        self.source = source
        self.stats = stats
        self.relevant = relevant
        self.seen = 0  # events the strict pass converted (read or failed)

    def read(self) -> Iterator[Event]:
        try:
            encoding, root, doctype = self._sniff()
        except OSError as error:
            self._unreadable(f"cannot read ({error.strerror or type(error).__name__})")
            return
        if root not in _EVENT_LOCAL_NAMES:
            what = f"<{root}>" if root else "no element"
            self._unreadable(
                f"XML whose first element is {what}, not an event export; "
                "export with `wevtutil qe AuthZOptCh /f:xml > x.xml` or as .evtx"
            )
            return
        try:
            if doctype:
                # lxml would stop at the declaration: every event is read on its own instead.
                yield from self._recover(encoding)
                return
            try:
                for element in self._strict(encoding):
                    self.seen += 1
                    event = self._convert(element, element.sourceline or 0)
                    if event is not None:
                        yield event
            except _Damage as damage:
                what = "malformed XML" if damage.fatal else "XML error"
                self.stats.messages.append(
                    f"{self.source.name}: {what} at line {damage.line}: "
                    f"{one_line(damage.message)}; the events after it are read one by one"
                )
                yield from self._recover(encoding)
                if damage.fatal and self.stats.status == "ok":
                    # Damage between events: no event lost, but the file is not what was written.
                    self.stats.status = "partial"
        except OSError as error:
            self.stats.status = "partial" if self.stats.records_read else "unreadable"
            self.stats.messages.append(
                f"{self.source.name}: reading stopped ({error.strerror or type(error).__name__})"
            )

    def _strict(self, encoding: str) -> Iterator[Any]:
        """Every Event element as it ends (one inside another before it), each complete.

        Raises:
            _Damage: lxml reported an error; events completed in the same chunk are not
                yielded (the recovery reads them).
        """
        parser = etree.XMLPullParser(
            events=("start", "end"),
            tag="{*}Event",
            recover=False,
            huge_tree=True,
            resolve_entities=False,
            no_network=True,
            remove_comments=True,
            remove_pis=True,
        )
        depth = 0  # Event elements open around the one that ends
        etree.clear_error_log()
        with open(self.source.path, "rb") as stream:
            chunks = ((_ROOT_OPEN,), _utf8_chunks(stream, encoding), (None,))
            for chunk in itertools.chain.from_iterable(chunks):
                try:
                    if chunk is None:
                        parser.feed(_ROOT_CLOSE)
                        parser.close()
                    else:
                        parser.feed(chunk)
                except etree.XMLSyntaxError as error:
                    # The exception names the last error, often a consequence of the first;
                    # the thread's log, cleared at the start, holds them all.
                    raise _first_error(error.error_log, error) from None
                for action, element in parser.read_events():
                    if action == "start":
                        depth += 1
                        continue
                    depth -= 1
                    yield element

    def _recover(self, encoding: str) -> Iterator[Event]:
        """Read every event not read yet on its own (see ``_xml_segments``)."""
        segmenter = Segmenter(skip=self.seen)
        with open(self.source.path, "rb") as stream:
            for chunk in _text_chunks(stream, encoding):
                for segment in segmenter.feed(chunk):
                    event = self._segment(segment)
                    if event is not None:
                        yield event
            for segment in segmenter.close():
                event = self._segment(segment)
                if event is not None:
                    yield event
        if segmenter.doctypes:
            lines = ", ".join(str(line) for line in segmenter.doctypes[:5])
            self.stats.messages.append(
                f"{self.source.name}: a DOCTYPE declaration (line {lines}), which event exports "
                "never have, was ignored: no entity is expanded, nothing is fetched"
            )

    def _segment(self, segment: Segment) -> Event | None:
        """Parse one event's text alone; count it as failed when it does not parse."""
        where = f"event at line {segment.line}"
        if segment.lost:
            self.stats.note_error(f"{where}: damaged XML (the error is inside it), not read")
            return None
        if segment.oversized:
            self.stats.note_error(
                f"{where}: more than {MAX_EVENT_CHARS >> 20} MiB of text without its end tag; "
                "not read"
            )
            return None
        declarations = "".join(
            f" xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in segment.namespaces
        )
        # The wrapper shares the event's first line, so lxml's line numbers stay the file's
        # once the segment's own line is added.
        text = f"<{_SEGMENT_ROOT}{declarations}>{segment.text}</{_SEGMENT_ROOT}>"
        # Recover mode only so that a non-fatal error (a prefix declared nowhere) does not
        # raise; any fatal error makes the event damaged, as in the strict pass.
        parser = etree.XMLParser(
            recover=True,
            huge_tree=True,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            remove_comments=True,
            remove_pis=True,
        )
        damage: _Damage | None = None
        try:
            root = etree.fromstring(text.encode("utf-8"), parser)
        except etree.XMLSyntaxError as error:  # recover mode can still give up
            root, damage = None, _first_error(parser.error_log, error)
        else:
            if len(parser.error_log):
                damage = _first_error(parser.error_log, None)
        if root is None or (damage is not None and damage.fatal):
            damage = damage or _Damage(1, "no element", True)
            line = segment.line + max(damage.line, 1) - 1
            self.stats.note_error(
                f"{where}: damaged XML, not read (line {line}: {one_line(damage.message, 160)})"
            )
            return None
        element = _child(root, "Event")
        if element is None:  # pragma: no cover - a segment always starts with <Event
            self.stats.note_error(f"{where}: damaged XML, not read")
            return None
        return self._convert(element, segment.line + (element.sourceline or 1) - 1)

    def _convert(self, element: Any, line: int) -> Event | None:
        """Count one Event element; return it as an Event when relevant and readable."""
        where = f"event at line {line}"
        try:
            try:
                system = _system(element)
                channel, provider, event_id = _identity(system)
            except RecordError as error:
                self.stats.note_error(f"{where}: {one_line(str(error))}")
                return None
            time = _time_text(system)
            if time is not None:
                with contextlib.suppress(RecordError):  # checked again when converting
                    self.stats.note_time(parse_event_time(time))
            if self.relevant is not None and not self.relevant(channel, provider, event_id):
                self.stats.records_read += 1
                return None
            try:
                event = event_from_element(element, self.source.name)
            except RecordError as error:
                self.stats.note_error(f"{where}: {one_line(str(error))}")
                return None
        finally:
            _release(element)
        self.stats.records_read += 1
        self.stats.records_relevant += 1
        return event

    def _sniff(self) -> tuple[str, str, bool]:
        """The file's encoding, the local name of its first element, and whether a DOCTYPE
        comes before it."""
        with open(self.source.path, "rb") as stream:
            head = stream.read(4096)
        encoding = text_encoding(head) or "utf-8"
        text = incremental_decoder(encoding).decode(head)
        text = _DECLARATION.sub("", text.lstrip("\ufeff"), count=1)
        root = xml_root_name(text)
        before = text[: text.find("<" + root)] if root else text
        return encoding, root, "<!DOCTYPE" in before

    def _unreadable(self, reason: str) -> None:
        self.stats.status = "unreadable"
        self.stats.messages.append(f"{self.source.name}: {reason}")


def _first_error(log: Any, error: etree.XMLSyntaxError | None) -> _Damage:
    """The first fatal error lxml logged, else its first error (an exception names the last
    one, often a consequence of the first)."""
    errors = [entry for entry in log if entry.level >= etree.ErrorLevels.ERROR]
    fatal = [entry for entry in errors if entry.level >= etree.ErrorLevels.FATAL]
    first = (fatal or errors or [None])[0]
    if first is not None:
        return _Damage(first.line, first.message, bool(fatal))
    if error is not None:
        return _Damage(error.lineno or 0, error.msg or str(error), True)
    return _Damage(0, "malformed XML", True)


def event_from_element(element: Any, origin: str) -> Event:
    """Build an Event from one ``<Event>`` element of an XML export (any namespace).

    Args:
        element: the lxml element.
        origin: what the report calls the input.

    Raises:
        RecordError: the event lacks what every event has (System, an EventID, a time).
    """
    system = _system(element)
    channel, provider, event_id = _identity(system)
    time_text = _time_text(system)
    if not time_text:
        raise RecordError("the event has no TimeCreated/@SystemTime")
    fields: dict[str, str] = {}
    data: list[str] = []
    message: str | None = None
    for part in element:
        name = _local(part)
        if name == "EventData":
            _event_data(part, fields, data)
        elif name == "UserData":
            for child in part:
                if isinstance(child.tag, str):
                    _leaves(child, fields)
        elif name == "RenderingInfo":
            rendered = _child(part, "Message")
            if rendered is not None:
                message = _all_text(rendered)
    event_id_element = system.get("EventID")
    keywords = _text_of(system, "Keywords")
    return Event(
        time=parse_event_time(time_text),
        channel=channel,
        provider=provider,
        event_id=event_id,
        level=_int(_text_of(system, "Level")),
        computer=_text_of(system, "Computer"),
        record_id=_int(_text_of(system, "EventRecordID")),
        fields=fields,
        data=tuple(data),
        message=message,
        origin=origin,
        qualifiers=_int(event_id_element.get("Qualifiers"))
        if event_id_element is not None
        else None,
        keywords=keywords or None,
    )


def _system(element: Any) -> dict[str, Any]:
    """The children of ``<System>`` by local name (the first of each name)."""
    system = _child(element, "System")
    if system is None:
        raise RecordError("the event has no System element")
    children: dict[str, Any] = {}
    for child in system:
        children.setdefault(_local(child), child)
    return children


def _identity(system: dict[str, Any]) -> tuple[str, str, int]:
    """(channel, provider, event_id): what relevance is decided on."""
    provider_element = system.get("Provider")
    provider = provider_element.get("Name", "") if provider_element is not None else ""
    event_id = _int(_text_of(system, "EventID"))
    if event_id is None:
        raise RecordError("the event has no usable EventID")
    return _text_of(system, "Channel"), provider, event_id


def _time_text(system: dict[str, Any]) -> str | None:
    created = system.get("TimeCreated")
    value = created.get("SystemTime") if created is not None else None
    return value if isinstance(value, str) else None


def _text_of(system: dict[str, Any], name: str) -> str:
    child = system.get(name)
    return _all_text(child) if child is not None else ""


def _event_data(section: Any, fields: dict[str, str], data: list[str]) -> None:
    if section.text and section.text.strip():
        data.append(section.text)  # text directly inside <EventData>
    for item in section:
        if not isinstance(item.tag, str):
            continue
        name = item.get("Name")
        if _local(item) == "Data":
            if name is None:
                data.append(_all_text(item))
            else:
                add_field(fields, name, _all_text(item))
        else:
            add_field(fields, _local(item), _all_text(item))
        if item.tail and item.tail.strip():
            data.append(item.tail)


def _leaves(element: Any, fields: dict[str, str]) -> None:
    """``Leaf`` for the text of every element without children, ``Element@Attr`` for
    attributes (namespace declarations are not attributes in lxml), in document order.

    Walked with a stack, not by recursion: lxml lets elements nest 2,048 deep, deeper than
    Python's recursion limit.
    """
    stack = [element]
    while stack:
        node = stack.pop()
        name = _local(node)
        for attribute, value in node.attrib.items():
            add_field(fields, f"{name}@{etree.QName(attribute).localname}", value)
        children = [child for child in node if isinstance(child.tag, str)]
        if not children:
            add_field(fields, name, node.text or "")
            continue
        if node.text and node.text.strip():
            add_field(fields, name, node.text)
        stack.extend(reversed(children))


def _release(element: Any) -> None:
    """Free a converted element (memory stays flat).

    A top-level event goes with the siblings before it (events already converted); an event
    inside another is taken out of it, and nothing else, so that the other event's own
    elements stay for its conversion and it does not hold this one as data.
    """
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is None:
        return
    if next(element.iterancestors("{*}Event"), None) is not None:
        parent.remove(element)
        return
    while element.getprevious() is not None:
        del parent[0]


def _text_chunks(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """The file as text, without BOM or XML declaration (the synthetic root comes first).

    Bytes that are not text in the encoding never stop reading: in UTF-8, a byte that is not
    part of a character is read as Windows-1252 (what an editor saving in the ANSI code page
    leaves), see :func:`npsdiag.sources._encoding.decoder`.
    """
    decoder = incremental_decoder(encoding)
    started = False
    pending = ""
    while True:
        block = stream.read(_READ_SIZE)
        text = decoder.decode(block, final=not block)
        if not started:
            pending += text
            if len(pending) < 256 and block:
                continue  # the declaration may straddle the first read
            pending = _DECLARATION.sub("", pending.lstrip("\ufeff"), count=1)
            text, started = pending, True
        if text:
            yield text
        if not block:
            return


def _utf8_chunks(stream: BinaryIO, encoding: str) -> Iterator[bytes]:
    """:func:`_text_chunks` as UTF-8, what lxml is fed."""
    for text in _text_chunks(stream, encoding):
        yield text.encode("utf-8", errors="surrogatepass")


def _local(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    # A prefix lxml could not bind (declared nowhere) stays in the tag: drop it too.
    return tag.rpartition("}")[2].rpartition(":")[2]


def _child(element: Any, name: str) -> Any:
    for child in element:
        if _local(child) == name:
            return child
    return None


def _all_text(element: Any) -> str:
    if len(element) == 0:
        return str(element.text or "")
    return "".join(element.itertext())


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    value = text.strip()
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None
