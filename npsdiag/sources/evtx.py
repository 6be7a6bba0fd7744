"""Stream Events out of Windows XML Event Log (.evtx) files.

The file is parsed by the ``evtx`` package (pyevtx-rs) on one thread, so order and counts are
the same on every run. Each record arrives as a JSON string. Relevance is decided on that raw
string, before any decoding: a few ``str.find`` calls locate the record's time and channel,
and the text from the provider name to the time (provider, EventID, level, task, keywords) is
the key of a small per-file cache of decisions. Only relevant records are decoded, and then
only their ``EventData``/``UserData`` part goes through :mod:`json`. Irrelevant records still
count: ``records_read`` and the first/last time cover every record of the file.

Damage is counted, never fatal. The parser raises one ``RuntimeError`` per bad record or chunk
and then carries on with the next, so a bad record costs that record only. Errors that report
a chunk whose header is all zeros (space Windows left unused, or wiped) are counted apart, in
one note, not as failed records. A file cut short inside a chunk is marked ``partial``.

References:
    - [MS-EVEN6] Windows XML Event Log (EVTX) and Binary XML.
    - libyal libevtx, "Windows XML Event Log (EVTX) format" (file header, chunk layout).
    - ``docs/inputs.md`` for the accounting rules.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from json.decoder import scanstring  # type: ignore[attr-defined]  # public, not in the stub
from json.scanner import make_scanner
from typing import Any, BinaryIO, NamedTuple

from evtx import PyEvtxParser

from npsdiag._words import plural
from npsdiag.model import Event, SourceStats
from npsdiag.sources import (
    RecordError,
    Relevance,
    Source,
    add_field,
    one_line,
    parse_event_time,
)

__all__ = ["event_from_json", "read_evtx"]

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
_CHUNK_MAGIC = b"ElfChnk\x00"

#: How every record rendered by the evtx package begins, up to the provider name.
_PREFIX = (
    '{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},'
    '"System":{"Provider":{"#attributes":{"Name":"'
)
_NAME_AT = len(_PREFIX)
_TIME_KEY = '"SystemTime":"'
_CHANNEL_KEY = '"Channel":'
_COMPUTER_AFTER = ',"Computer":'
_RECORD_ID_KEY = '"}},"EventRecordID":'
#: ``EventID`` as a number, a quoted number, or ``{"#attributes":{"Qualifiers":Q},"#text":N}``.
_EVENT_ID_VALUE = re.compile(
    r'(?:\{"#attributes":\{(?:"Qualifiers":"?(\d+)"?)?\},"#text":)?"?(\d+)"?[,}]'
)
_NUMBER_VALUE = re.compile(r'"?(\d+)"?[,}]')
#: The time text of the evtx package (``2024-05-01T10:00:00.123456Z``): fixed width, so
#: comparing the text compares the instants.
_CANONICAL_TIME_LENGTH = 27
#: A FILETIME of zero: the writer had no time. Not a time of the log; the event takes the
#: record header's time instead.
_NO_TIME = "1601-01-01T00:00:00.000000Z"
_UNSET = "\uffff"  # sorts after every time text

_RECORD_NUMBER = re.compile(r"Failed to parse record number (\d+)")
_CHUNK_NUMBER = re.compile(r"Failed to parse chunk number (\d+)")
_ZEROED_MAGIC = re.compile(r"found `\[\s*0,\s*0,\s*0,\s*0,\s*0,\s*0,\s*0,\s*0\s*\]`")
_PARSER_NOISE = (
    "An error occurred while trying to deserialize evtx stream.: ",
    "Failed to parse chunk header: ",
)


class _Head(NamedTuple):
    """The System values that the cache key fixes, decoded once per key."""

    channel: str
    provider: str
    event_id: int
    qualifiers: int | None
    level: int | None
    keywords: str | None


class _Decision(NamedTuple):
    """A pre-filter decision.

    ``token`` is the raw channel value plus the ``,"Computer":`` that follows it: a later
    record with the same key shares the decision only if its text has the same token at the
    channel. ``computer_offset`` is where the Computer value starts, from the channel value.
    """

    token: str
    wanted: bool
    head: _Head
    computer_offset: int
    cacheable: bool


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook: a repeated name keeps every value (``Name``, ``Name_1``, ...)."""
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    result = {}
    for name, value in pairs:
        add_field(result, name, value)
    return result


#: Numbers stay as written (Windows shows the digits, not a Python number); a repeated
#: name keeps every value.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_int=str, parse_float=str)
#: The decoder's C scanner: decodes the JSON value at an index and returns it with its end.
_scan = make_scanner(_DECODER)  # type: ignore[arg-type]  # the stub names a narrower type
#: The same giving every object as its list of (name, value) pairs, all in C: the cheap way
#: to see whether a name repeats.
_scan_pairs = make_scanner(
    json.JSONDecoder(object_pairs_hook=list, parse_int=str, parse_float=str)  # type: ignore[arg-type]
)
_PLAIN_KEYS = frozenset({"Data", "#text", "#attributes"})
#: What follows System when EventData holds one unnamed <Data> only, up to after its text's
#: opening quote.
_ONE_DATA = 'EventData":{"Data":{"#text":"'
#: Decodes the JSON string whose opening quote is just before the index (in C); strict, as
#: the decoder above is.
_scan_string: Callable[[str, int], tuple[str, int]] = scanstring
_ONLY_STR = frozenset({str})
_from_iso = datetime.fromisoformat


def read_evtx(
    source: Source,
    stats: SourceStats,
    relevant: Relevance | None,
    follow: Callable[[BinaryIO], None] | None = None,
) -> Iterator[Event]:
    """Stream the relevant events of one .evtx file and account for every record.

    Args:
        source: an input of kind ``evtx``.
        stats: filled while reading; final when the iterator is exhausted or closed.
        relevant: ``(channel, provider, event_id) -> bool``, asked once per distinct record
            layout before decoding; ``None`` decodes every record.
        follow: given the open file the parser reads from, so that a progress display can
            ask how far it got (``tell()``) without a cost per record; None lets the parser
            open the file itself.

    Yields:
        Events in file order.
    """
    stream: BinaryIO | None = None
    if follow is not None:
        try:
            stream = source.path.open("rb")
        except OSError:
            stream = None  # the parser reports the failure below
        else:
            follow(stream)
    try:
        yield from _read(source, stats, relevant, stream)
    finally:
        if stream is not None:
            stream.close()


def _read(
    source: Source, stats: SourceStats, relevant: Relevance | None, stream: BinaryIO | None
) -> Iterator[Event]:
    try:
        parser = PyEvtxParser(
            stream if stream is not None else str(source.path), number_of_threads=1
        )
    except (OSError, RuntimeError, ValueError) as error:
        stats.status = "unreadable"
        stats.messages.append(
            f"{source.name}: cannot open as an EVTX file ({one_line(_clean(str(error)))}); "
            "export the channel again (`wevtutil epl AuthZOptCh x.evtx`)"
        )
        return
    origin = source.name
    next_record = parser.records_json().__next__
    cache: dict[str, tuple[str, bool, _Head, int]] = {}
    # The key and decision of the last record decided through the cache. Consecutive records
    # often share a layout; checking that one first skips finding the time and hashing a key
    # of a few hundred characters. The first key is a raw NUL, which JSON text never holds.
    recent_key = "\x00"
    recent: tuple[str, bool, _Head, int] | None = None

    read = 0
    wanted = 0
    errors = 0
    zeroed_chunks: list[int] = []
    first_text = _UNSET
    last_text = ""
    error_budget = source.size // 24 + 1000  # no file holds more records than this
    try:
        while True:
            try:
                record = next_record()
            except StopIteration:
                break
            except RuntimeError as error:
                errors += 1
                chunk = _zeroed_chunk(str(error))
                if chunk is not None:
                    zeroed_chunks.append(chunk)
                else:
                    stats.note_error(_record_error(str(error), read + stats.records_failed))
                if errors > error_budget:
                    stats.messages.append(
                        f"{source.name}: reading stopped after {errors} errors; "
                        "the file is badly damaged: export it again"
                    )
                    break
                continue
            if record is None:  # the iterator's declared "no more" value
                break

            text: str = record["data"]
            # Records whose text from the provider name to the time is the same, and whose
            # channel text is the same, share one decision (see _decide for the checks).
            if text.startswith(recent_key, _NAME_AT):
                # A key ends with the first time key after the name, so this is where the
                # search below would find the time.
                key = recent_key
                time_at = _NAME_AT + len(key)
                cached = recent
            else:
                time_at = text.find(_TIME_KEY, _NAME_AT) + 14
                key = text[_NAME_AT:time_at]
                cached = cache.get(key)
                if cached is not None:
                    recent_key, recent = key, cached
            channel_at = text.find(_CHANNEL_KEY, time_at) + 10
            if cached is None or not text.startswith(cached[0], channel_at):
                decision = _decide(text, time_at, channel_at, relevant)
                if decision is None:
                    # Not the usual layout: decode in full and decide on the decoded values.
                    event = _odd_record(text, record, origin, stats)
                    if event is None:
                        continue
                    read += 1
                    if relevant is None or relevant(event.channel, event.provider, event.event_id):
                        wanted += 1
                        yield event
                    continue
                cached = (decision.token, decision.wanted, decision.head, decision.computer_offset)
                if decision.cacheable:
                    cache[key] = cached
                    recent_key, recent = key, cached

            # The time is compared as text: the evtx package writes every FILETIME in one
            # fixed-width form, which sorts like the instant it names. Only a text that would
            # move the span is checked for that form (other forms are parsed).
            when = text[time_at : time_at + _CANONICAL_TIME_LENGTH]
            if when > last_text:
                if text.startswith('Z"', time_at + _CANONICAL_TIME_LENGTH - 1):
                    last_text = when
                    if first_text == _UNSET and when != _NO_TIME:
                        first_text = when  # the first time seen
                else:
                    _note_other_time(text, time_at, stats)
            elif when < first_text:
                if text.startswith('Z"', time_at + _CANONICAL_TIME_LENGTH - 1):
                    if when != _NO_TIME:
                        first_text = when
                else:
                    _note_other_time(text, time_at, stats)

            read += 1
            if not cached[1]:
                continue
            try:
                event = _fast_event(
                    text,
                    cached[2],
                    when,
                    time_at,
                    channel_at + cached[3],
                    record["timestamp"],
                    origin,
                )
            except ValueError as error:  # RecordError or bad JSON
                read -= 1
                stats.note_error(
                    f"record {record['event_record_id']}: cannot be used ({one_line(str(error))})"
                )
                continue
            wanted += 1
            yield event
    finally:
        stats.records_read += read
        stats.records_relevant += wanted
        if first_text != _UNSET:
            stats.note_time(parse_event_time(first_text))
            stats.note_time(parse_event_time(last_text))
        _finish(source, stats, zeroed_chunks)


def _note_other_time(text: str, time_at: int, stats: SourceStats) -> None:
    """Note a time not in the fixed-width form (forwarded events keep the sender's text)."""
    other = text[time_at : text.find('"', time_at)]
    with contextlib.suppress(RecordError):  # a time that cannot be read only loses the span
        stats.note_time(parse_event_time(other))


def _decide(
    text: str, time_at: int, channel_at: int, relevant: Relevance | None
) -> _Decision | None:
    """Decode the System values of a record in the usual layout and ask ``relevant``.

    Returns None when the record is not in the usual layout (the caller then decodes it in
    full), e.g. when the ``"Channel":`` found lies outside System because System has none.
    """
    if time_at == 13 or channel_at == 9 or not text.startswith(_PREFIX):
        return None  # no time or no channel found (find gave -1), or another layout
    if text.find('"EventData":', _NAME_AT, channel_at) >= 0:
        return None
    if text.find('"UserData":', _NAME_AT, channel_at) >= 0:
        return None
    event_id_at = text.find('"EventID":', _NAME_AT, time_at)
    if event_id_at < 0:
        return None
    match = _EVENT_ID_VALUE.match(text, event_id_at + 10)
    if match is None:
        return None
    provider, _ = _string_value(text, _NAME_AT - 1)
    channel, channel_end = _string_value(text, channel_at)
    head = _Head(
        channel=channel,
        provider=provider,
        event_id=int(match[2]),
        qualifiers=int(match[1]) if match[1] else None,
        level=_number_after(text, '"Level":', event_id_at, time_at),
        keywords=_string_after(text, '"Keywords":', event_id_at, time_at),
    )
    wanted = relevant is None or relevant(head.channel, head.provider, head.event_id)
    if text.startswith(_COMPUTER_AFTER, channel_end):
        token = text[channel_at : channel_end + len(_COMPUTER_AFTER)]
        return _Decision(token, wanted, head, len(token), cacheable=True)
    # Computer is not where it usually is: decide for this record only.
    computer_at = text.find('"Computer":', channel_end)
    offset = computer_at + 11 - channel_at if computer_at >= 0 else channel_end - channel_at
    return _Decision("", wanted, head, offset, cacheable=False)


def _fast_event(
    text: str,
    head: _Head,
    when: str,
    time_at: int,
    computer_at: int,
    header_time: str,
    origin: str,
) -> Event:
    """Build the Event of a relevant record in the usual layout.

    ``time_at`` and ``computer_at`` are where the time and the Computer value start.
    """
    if text.startswith('Z"', time_at + 26) and when != _NO_TIME:
        time = _from_iso(when[:-1] + "+00:00")
        at = time_at + _CANONICAL_TIME_LENGTH + 20
    else:
        when = text[time_at : text.find('"', time_at)]
        time = parse_event_time(when if when and when != _NO_TIME else header_time)
        at = time_at + len(when) + 20
    # EventRecordID follows TimeCreated: "SystemTime":"<time>"}},"EventRecordID":<n>,
    if text.startswith(_RECORD_ID_KEY, at - 20):
        raw = text[at : text.find(",", at)]
        record_id = int(raw) if raw.isdigit() else _optional_int(raw.strip('"'))
    else:
        record_id = _number_after(text, '"EventRecordID":', time_at, computer_at)
    computer, after = _string_value(text, computer_at)
    # System ends with Security, whose values cannot hold '},"' (a quote inside a JSON string
    # is escaped), so the first '},"' after Computer closes System and names what follows.
    after = text.find('},"', after) + 3
    fields: dict[str, str] = {}
    values: tuple[str, ...] | None = None
    if text.startswith(_ONE_DATA, after):
        # One unnamed <Data> and nothing else, the layout of every extension message: the
        # string is decoded alone, in C, instead of the section twice through the scanners.
        try:
            value, end = _scan_string(text, after + len(_ONE_DATA))
            if text.startswith("}}}}", end):  # Data, EventData, Event and the root close
                values = (value,)
        except ValueError:  # the general path below decodes it again and reports it
            pass
    if values is None:
        data: list[str] = []
        if text.startswith('EventData":{', after):
            section = after + 11
            pairs = _scan_pairs(text, section)[0]
            plain = dict(pairs)
            # The common shape (only named values, all text, no name twice) is used as
            # decoded; anything else is decoded again into the general form.
            if (
                len(plain) == len(pairs)
                and _PLAIN_KEYS.isdisjoint(plain)
                and set(map(type, plain.values())) <= _ONLY_STR
            ):
                fields = plain
            else:
                _event_data(_scan(text, section)[0], fields, data)
        elif text.startswith('UserData":{', after):
            _user_data(_scan(text, after + 10)[0], fields)
        elif not text.startswith('EventData":null}}', after):
            # Not the layout above (no section, or more after System): decode it all.
            return event_from_json(_DECODER.decode(text), header_time, origin)
        values = tuple(data)
    return Event(
        time,
        head.channel,
        head.provider,
        head.event_id,
        head.level,
        computer,
        record_id,
        fields,
        values,
        None,
        origin,
        head.qualifiers,
        head.keywords,
    )


def _odd_record(
    text: str, record: Mapping[str, Any], origin: str, stats: SourceStats
) -> Event | None:
    """Decode a record that is not in the usual layout in full; None (and counted as
    failed) when it cannot be an Event."""
    try:
        event = event_from_json(_DECODER.decode(text), record["timestamp"], origin)
    except ValueError as error:  # RecordError or bad JSON
        stats.note_error(
            f"record {record['event_record_id']}: cannot be used ({one_line(str(error))})"
        )
        return None
    if not _is_no_time(text):
        stats.note_time(event.time)
    return event


def event_from_json(document: Any, header_time: str, origin: str) -> Event:
    """Build an Event from one record as the evtx package renders it in JSON.

    Args:
        document: the decoded JSON of one record.
        header_time: the record header's time, used when ``TimeCreated`` is missing or zero.
        origin: what the report calls the input.

    Raises:
        RecordError: the record lacks what every event has (System, an EventID, a time).
    """
    event = document.get("Event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise RecordError("the record has no Event element")
    system = event.get("System")
    if not isinstance(system, dict):
        raise RecordError("the record has no System element")
    raw_id = system.get("EventID")
    qualifiers: int | None = None
    if isinstance(raw_id, dict):
        qualifiers = _optional_int(_attributes(raw_id).get("Qualifiers"))
        raw_id = raw_id.get("#text")
    event_id = _optional_int(raw_id)
    if event_id is None:
        raise RecordError(f"the record has no usable EventID ({one_line(str(raw_id), 40)!r})")
    time_text = _text(_attributes(system.get("TimeCreated")).get("SystemTime"))
    if not time_text or time_text == _NO_TIME:
        time_text = header_time
    fields: dict[str, str] = {}
    data: list[str] = []
    event_data = event.get("EventData")
    if isinstance(event_data, dict):
        _event_data(event_data, fields, data)
    user_data = event.get("UserData")
    if isinstance(user_data, dict):
        _user_data(user_data, fields)
    keywords = _text(system.get("Keywords"))
    return Event(
        time=parse_event_time(time_text),
        channel=_text(system.get("Channel")),
        provider=_text(_attributes(system.get("Provider")).get("Name")),
        event_id=event_id,
        level=_optional_int(system.get("Level")),
        computer=_text(system.get("Computer")),
        record_id=_optional_int(system.get("EventRecordID")),
        fields=fields,
        data=tuple(data),
        message=None,
        origin=origin,
        qualifiers=qualifiers,
        keywords=keywords or None,
    )


def _event_data(section: Mapping[str, Any], fields: dict[str, str], data: list[str]) -> None:
    for name, value in section.items():
        if value.__class__ is str and name != "#text":  # the common case first
            fields[name] = value
            continue
        if name == "#attributes":
            continue  # attributes of <EventData> itself are not data
        if name == "#text":
            # Text directly inside <EventData>, between its elements.
            data.extend(item for item in _texts(value) if item.strip())
        elif name == "Data" and isinstance(value, dict):
            # <Data> without Name: the evtx package gathers their texts, in order, under
            # "#text" (a string for one, a list for several).
            data.extend(_texts(value.get("#text")))
        else:
            fields[name] = _text(value)


def _user_data(section: Mapping[str, Any], fields: dict[str, str]) -> None:
    for name, value in section.items():
        if name != "#attributes":
            _leaves(name, value, fields)


def _leaves(name: str, value: Any, fields: dict[str, str]) -> None:
    """Add every leaf under a UserData element: ``Leaf`` for its text, ``Element@Attr`` for
    attributes (namespace declarations skipped)."""
    if not isinstance(value, dict):
        for item in _texts(value) or [""]:
            add_field(fields, name, item)
        return
    leaf = True
    for key, child in value.items():
        if key == "#attributes":
            if isinstance(child, dict):
                for attribute, attribute_value in child.items():
                    if attribute != "xmlns" and not attribute.startswith("xmlns:"):
                        add_field(fields, f"{name}@{attribute}", _text(attribute_value))
        elif key == "#text":
            for item in _texts(child):
                add_field(fields, name, item)
            leaf = False
        else:
            _leaves(key, child, fields)
            leaf = False
    if leaf:  # an element with attributes only: its (empty) text is a leaf too
        add_field(fields, name, "")


def _text(value: Any) -> str:
    """A JSON value as the text Windows shows for it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return _text(value.get("#text"))
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [_text(item) for item in value]
    return [_text(value)]


def _attributes(value: Any) -> Mapping[str, Any]:
    if isinstance(value, dict):
        attributes = value.get("#attributes")
        if isinstance(attributes, dict):
            return attributes
    return {}


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            return None
    return None


def _string_value(text: str, start: int) -> tuple[str, int]:
    """The JSON string at ``start`` (its opening quote) and the index after it.

    ``null`` or any other non-string gives ``""``.
    """
    if text.startswith("null", start):
        return "", start + 4
    if text[start] != '"':
        return "", start
    end = text.find('"', start + 1)
    value = text[start + 1 : end]
    if "\\" not in value:
        return value, end + 1
    # An escape inside: let the JSON decoder find the real end and unescape.
    decoded, after = _DECODER.raw_decode(text, start)
    return (decoded if isinstance(decoded, str) else ""), after


def _string_after(text: str, key: str, start: int, end: int) -> str | None:
    at = text.find(key, start, end)
    if at < 0:
        return None
    return _string_value(text, at + len(key))[0] or None


def _number_after(text: str, key: str, start: int, end: int) -> int | None:
    at = text.find(key, start, end)
    if at < 0:
        return None
    match = _NUMBER_VALUE.match(text, at + len(key))
    return int(match[1]) if match is not None else None


def _is_no_time(text: str) -> bool:
    at = text.find(_TIME_KEY)
    return at < 0 or text.startswith(_NO_TIME, at + len(_TIME_KEY))


def _zeroed_chunk(message: str) -> int | None:
    """The chunk number when the error reports a chunk whose header is all zeros."""
    chunk = _CHUNK_NUMBER.search(message)
    if chunk is not None and _ZEROED_MAGIC.search(message):
        return int(chunk[1])
    return None


def _record_error(message: str, before: int) -> str:
    """One line naming the record (or chunk) and the parser's reason.

    ``before`` is how many records came before it; it names the record when the parser's
    message does not.
    """
    record = _RECORD_NUMBER.search(message)
    chunk = _CHUNK_NUMBER.search(message)
    if record is not None:
        where = f"record {record[1]}"
    elif chunk is not None:
        where = f"chunk {chunk[1]}"
    elif before:
        where = f"record {before + 1} in file order"
    else:
        where = "first record"
    return f"{where}: cannot be decoded ({one_line(_clean(message), 180)})"


def _clean(message: str) -> str:
    """The parser's message without its generic prefixes."""
    text = message
    prefix = _RECORD_NUMBER.match(text) or _CHUNK_NUMBER.match(text)
    if prefix is not None:
        text = text[prefix.end() :].lstrip(": ")
    for noise in _PARSER_NOISE:
        text = text.replace(noise, "")
    return text


def _finish(source: Source, stats: SourceStats, zeroed_chunks: list[int]) -> None:
    """Add the file-level notes once reading is over, then settle the status."""
    if stats.records_failed > stats.MAX_MESSAGES:
        hidden = stats.records_failed - stats.MAX_MESSAGES
        stats.messages.append(f"{hidden} more record errors not listed")
    if zeroed_chunks:
        numbers = ", ".join(str(number) for number in zeroed_chunks[:10])
        more = ", ..." if len(zeroed_chunks) > 10 else ""
        stats.messages.append(
            f"{plural(len(zeroed_chunks), 'chunk')} with an all-zero header skipped "
            f"(chunk {numbers}{more}): space Windows left unused or wiped, "
            "not counted as failed records"
        )
    tail = (source.size - FILE_HEADER_SIZE) % CHUNK_SIZE if source.size > FILE_HEADER_SIZE else 0
    if tail:
        stats.messages.append(
            f"{source.name}: the file ends {tail} bytes into a chunk, so it was cut short "
            "(an interrupted copy?); records in that last chunk are not read: copy the "
            "export again"
        )
        if stats.status == "ok":
            stats.status = "partial"
    if not stats.records_read and not stats.records_failed and not _has_chunk(source):
        stats.status = "unreadable"
        stats.messages.append(
            f"{source.name}: no event chunk after the EVTX file header: the file is damaged "
            "or incomplete; export the channel again"
        )
    stats.finish()


def _has_chunk(source: Source) -> bool:
    """True when at least one 64 KiB slot after the file header starts like a chunk."""
    try:
        with open(source.path, "rb") as stream:
            offset = FILE_HEADER_SIZE
            while True:
                stream.seek(offset)
                magic = stream.read(len(_CHUNK_MAGIC))
                if len(magic) < len(_CHUNK_MAGIC):
                    return False
                if magic == _CHUNK_MAGIC:
                    return True
                offset += CHUNK_SIZE
    except OSError:
        return False
