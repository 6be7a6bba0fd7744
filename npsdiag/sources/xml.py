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

A syntax error stops the strict pass. The file is then parsed again in lxml's recover mode:
events after the damage are kept when they come out whole, the damaged event is counted as
failed, and if recovery yields nothing more, everything read before the error is kept.

References:
    - Event schema: https://learn.microsoft.com/windows/win32/wes/eventschema-schema
    - ``docs/inputs.md`` for the accounting rules.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

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
from npsdiag.sources.discover import text_encoding

__all__ = ["event_from_element", "read_xml"]

_READ_SIZE = 1 << 16
_ROOT_OPEN = b"<npsdiag-export>"
_ROOT_CLOSE = b"</npsdiag-export>"
_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(r"<\s*(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_EVENT_LOCAL_NAMES = ("Event", "Events")


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


class _Reader:
    """One pass over one file, and the accounting shared by the strict and recover passes."""

    def __init__(self, source: Source, stats: SourceStats, relevant: Relevance | None) -> None:
        self.source = source
        self.stats = stats
        self.relevant = relevant
        self.seen = 0  # Event elements met in the strict pass (converted or failed)

    def read(self) -> Iterator[Event]:
        try:
            encoding, root = self._sniff()
        except OSError as error:
            self._unreadable(f"cannot read ({error.strerror or type(error).__name__})")
            return
        if root == "!DOCTYPE":
            self._unreadable(
                "declares a DOCTYPE, which event exports never do; not read "
                "(entities are never expanded): export the channel again"
            )
            return
        if root not in _EVENT_LOCAL_NAMES:
            what = f"<{root}>" if root else "no element"
            self._unreadable(
                f"XML whose first element is {what}, not an event export; "
                "export with `wevtutil qe AuthZOptCh /f:xml > x.xml` or as .evtx"
            )
            return
        try:
            for element in self._elements(encoding, recover=False):
                self.seen += 1
                event = self._convert(element)
                if event is not None:
                    yield event
        except etree.XMLSyntaxError as error:
            yield from self._recover(encoding, error)
        except OSError as error:
            self.stats.status = "partial" if self.stats.records_read else "unreadable"
            self.stats.messages.append(
                f"{self.source.name}: reading stopped ({error.strerror or type(error).__name__})"
            )

    def _recover(self, encoding: str, error: etree.XMLSyntaxError) -> Iterator[Event]:
        """Parse again leniently and keep the whole events that follow the damage."""
        line = error.lineno or 0
        self.stats.messages.append(
            f"{self.source.name}: malformed XML at line {line}: {one_line(error.msg or str(error))}"
        )
        damaged = False
        index = 0
        with contextlib.suppress(etree.XMLSyntaxError, OSError):
            # Recovery goes as far as it can; everything read up to there is kept.
            for element in self._elements(encoding, recover=True):
                index += 1
                if index <= self.seen:
                    _release(element)  # read in the strict pass already
                elif index == self.seen + 1 and (element.sourceline or 0) <= line:
                    damaged = True  # the event the error fell in, as lxml patched it up
                    _release(element)
                else:
                    event = self._convert(element)
                    if event is not None:
                        yield event
        if damaged:
            self.stats.note_error(f"event at line {line}: damaged XML, not read")
        elif not self.stats.records_read and not self.stats.records_failed:
            self.stats.status = "unreadable"
        elif self.stats.status == "ok":
            # No event was cut: the damage lies outside the events (e.g. a missing end tag).
            self.stats.status = "partial"

    def _convert(self, element: Any) -> Event | None:
        """Count one Event element; return it as an Event when relevant and readable."""
        where = f"event at line {element.sourceline}"
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

    def _elements(self, encoding: str, *, recover: bool) -> Iterator[Any]:
        """Top-level Event elements in file order, each complete when yielded."""
        parser = etree.XMLPullParser(
            events=("end",),
            tag="{*}Event",
            recover=recover,
            huge_tree=True,
            resolve_entities=False,
            no_network=True,
            remove_comments=True,
            remove_pis=True,
        )
        with open(self.source.path, "rb") as stream:
            try:
                parser.feed(_ROOT_OPEN)
                for chunk in _utf8_chunks(stream, encoding):
                    parser.feed(chunk)
                    yield from _top_events(parser)
                parser.feed(_ROOT_CLOSE)
                parser.close()
            except etree.XMLSyntaxError:
                # Events completed before the error, in the same chunk, still count.
                yield from _top_events(parser)
                raise
            yield from _top_events(parser)

    def _sniff(self) -> tuple[str, str]:
        """The file's encoding and the local name of its first element."""
        with open(self.source.path, "rb") as stream:
            head = stream.read(4096)
        encoding = text_encoding(head) or "utf-8"
        text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head)
        text = _DECLARATION.sub("", text.lstrip("\ufeff"), count=1)
        position = 0
        while True:  # skip comments, processing instructions and a DOCTYPE
            start = text.find("<", position)
            if start < 0:
                return encoding, ""
            if text.startswith("<!DOCTYPE", start):
                return encoding, "!DOCTYPE"
            if text.startswith(("<!--", "<?", "<!"), start):
                closer = "-->" if text.startswith("<!--", start) else ">"
                end = text.find(closer, start)
                if end < 0:
                    return encoding, ""
                position = end + len(closer)
                continue
            match = _FIRST_ELEMENT.match(text, start)
            return encoding, match[1] if match else ""

    def _unreadable(self, reason: str) -> None:
        self.stats.status = "unreadable"
        self.stats.messages.append(f"{self.source.name}: {reason}")


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
    attributes (namespace declarations are not attributes in lxml)."""
    name = _local(element)
    for attribute, value in element.attrib.items():
        add_field(fields, f"{name}@{etree.QName(attribute).localname}", value)
    children = [child for child in element if isinstance(child.tag, str)]
    if not children:
        add_field(fields, name, element.text or "")
        return
    if element.text and element.text.strip():
        add_field(fields, name, element.text)
    for child in children:
        _leaves(child, fields)


def _top_events(parser: Any) -> Iterator[Any]:
    """The Event elements that just ended and sit at the top level (not nested)."""
    for _, element in parser.read_events():
        parent = element.getparent()
        if parent is None:
            continue
        grandparent = parent.getparent()
        # Top level: directly in the synthetic root, or in <Events> directly in it.
        if grandparent is None or (_local(parent) == "Events" and grandparent.getparent() is None):
            yield element


def _release(element: Any) -> None:
    """Free a converted element and the siblings before it (memory stays flat)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _utf8_chunks(stream: BinaryIO, encoding: str) -> Iterator[bytes]:
    """The file as UTF-8, without BOM or XML declaration (the synthetic root comes first)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
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
            yield text.encode("utf-8")
        if not block:
            return


def _local(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


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
