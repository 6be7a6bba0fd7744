"""Stream Events out of ``wevtutil qe <log> /f:text`` dumps.

Microsoft's health-check script for the NPS extension saves the Security events 6272, 6273 and
6274 this way (``NPS_EventLog.log`` in its bundle). Every event is a block::

    Event[0]:
      Log Name: Security
      Source: Microsoft-Windows-Security-Auditing
      Date: 2026-01-14T09:30:12.345
      Event ID: 6273
      Task: Network Policy Server
      Level: Information
      Opcode: Info
      Keyword: Audit Failure
      User: N/A
      User Name: N/A
      Computer: NPS01.contoso.com
      Description:
    Network Policy Server denied access to a user.
    ...

The header lines become the Event's System values; the rendered description, up to the next
``Event[n]:`` line, becomes ``Event.message``. For NPS's own Security events (6272-6280) the
description's ``Label: value`` lines are also read into ``Event.fields`` under the names the
event's XML uses (``Account Name`` under ``User:`` is ``SubjectUserName``, ``Reason Code`` is
``ReasonCode`` ...), so that an event from a text dump is used exactly like one from an
``.evtx`` export.

What a dump does not carry stays empty: ``record_id`` (the ``n`` of ``Event[n]`` is the position
in the dump), ``qualifiers``, unnamed data. ``keywords`` is filled for the two audit keywords
only (their masks are fixed); ``level`` from the level's name.

Times: recent Windows prints ``Date:`` in UTC with a ``Z``; older ``wevtutil`` prints the
server's local time without a zone. A time without a zone is read as if it were UTC and counted
in ``SourceStats.zoneless_times``; ``npsdiag.clock`` then finds the server's offset from events
seen in a UTC input too (or takes it from ``--utc-offset``) and shifts the times.

The file is read as a stream, in blocks: UTF-16 with a byte-order mark (Windows PowerShell's
``Out-File`` and ``>``), UTF-16 without one, UTF-8 with or without one, and Windows-1252
(``cmd.exe`` redirections) line by line where a line is not UTF-8. Bytes that none of these
decode (a NUL, a byte Windows-1252 leaves undefined, broken UTF-16) never stop the file: they
are read as U+FFFD, the file is ``partial`` and a note names the first such line. A dump
written in another language than English (its header labels are translated, e.g.
``Protokollname:``) stops the file with a message naming the line; events read before stay,
and the rest of the run goes on.

References:
    - https://learn.microsoft.com/windows-server/administration/windows-commands/wevtutil
    - Azure-Samples/azure-mfa-nps-extension-health-check, ``MFA_NPS_Troubleshooter.ps1``
    - ``docs/inputs.md`` and ``docs/bundles.md`` for the accounting rules.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from npsdiag.errors import TextDumpError
from npsdiag.model import Event, SourceStats
from npsdiag.sources import RecordError, Relevance, Source, one_line, parse_event_time

__all__ = [
    "HEADER_LABELS",
    "NPS_TEXT_FIELDS",
    "ByteStream",
    "parse_wevtutil_text",
    "read_text_stream",
    "read_wevtutil_text",
]


class ByteStream(Protocol):
    """What the reader needs of its input: ``read(n)`` giving at most ``n`` bytes, ``b""`` at
    the end (an open file, a zip member, ``io.BytesIO``)."""

    def read(self, size: int, /) -> bytes: ...


#: Header labels wevtutil writes (English), mapped to what they become.
HEADER_LABELS = frozenset(
    {
        "Log Name",
        "Source",
        "Date",
        "Event ID",
        "Task",
        "Level",
        "Opcode",
        "Keyword",
        "User",
        "User Name",
        "Computer",
        "Description",
    }
)

#: Description labels of NPS's Security events, by section, mapped to the XML field names.
#: The same label means different fields in different sections ("Account Name" is the user
#: under "User:" and the client machine under "Client Machine:").
NPS_TEXT_FIELDS: Mapping[str, Mapping[str, str]] = {
    "User": {
        "Security ID": "SubjectUserSid",
        "Account Name": "SubjectUserName",
        "Account Domain": "SubjectDomainName",
        "Fully Qualified Account Name": "FullyQualifiedSubjectUserName",
    },
    "Client Machine": {
        "Security ID": "SubjectMachineSID",
        "Account Name": "SubjectMachineName",
        "Fully Qualified Account Name": "FullyQualifiedSubjectMachineName",
        "OS-Version": "MachineInventory",
        "Called Station Identifier": "CalledStationID",
        "Calling Station Identifier": "CallingStationID",
    },
    "NAS": {
        "NAS IPv4 Address": "NASIPv4Address",
        "NAS IPv6 Address": "NASIPv6Address",
        "NAS Identifier": "NASIdentifier",
        "NAS Port-Type": "NASPortType",
        "NAS Port": "NASPort",
    },
    "RADIUS Client": {
        "Client Friendly Name": "ClientName",
        "Client IP Address": "ClientIPAddress",
    },
    "Authentication Details": {
        "Connection Request Policy Name": "ProxyPolicyName",
        "Proxy Policy Name": "ProxyPolicyName",
        "Network Policy Name": "NetworkPolicyName",
        "Authentication Provider": "AuthenticationProvider",
        "Authentication Server": "AuthenticationServer",
        "Authentication Type": "AuthenticationType",
        "EAP Type": "EAPType",
        "Account Session Identifier": "AccountSessionIdentifier",
        "Logging Results": "LoggingResult",
        "Reason Code": "ReasonCode",
        "Reason": "Reason",
    },
    "Quarantine Information": {
        "Result": "QuarantineState",
        "Extended Result": "ExtendedQuarantineState",
        "Session Identifier": "QuarantineSessionIdentifier",
        "Help URL": "QuarantineHelpURL",
        "System Health Validator Result(s)": "QuarantineSystemHealthResult",
    },
}

#: Event ids whose description is read into fields: NPS's Security audit events.
_NPS_EVENT_IDS = range(6272, 6281)
#: Labels that name one field whatever the section (used before the first section heading, as
#: in a copy without headings); ambiguous labels count as the user's, as NPS lists it first.
_ANY_SECTION: dict[str, str] = {}
for _section in reversed(list(NPS_TEXT_FIELDS.values())):
    _ANY_SECTION.update(_section)
_ANY_SECTION.update(NPS_TEXT_FIELDS["User"])

#: Level names as wevtutil prints them. Audit events (keyword "Audit Success/Failure") are
#: written with level 0, which wevtutil also prints as "Information".
_LEVELS = {"critical": 1, "error": 2, "warning": 3, "information": 4, "verbose": 5}
_AUDIT_KEYWORDS = {"audit success": "0x8020000000000000", "audit failure": "0x8010000000000000"}

#: Labels every English header has; a header with none of them but other labels is translated.
_CORE_LABELS = frozenset({"Log Name", "Date", "Event ID"})

_EVENT_START = re.compile(r"Event\[(\d{1,12})\]:?[ \t]*\Z")
_HEADER_LINE = re.compile(r"[ \t]*([^:\t]{1,60}?)[ \t]*:[ \t]?(.*)\Z", re.DOTALL)
_LABEL_LINE = re.compile(r"[ \t]*([A-Za-z][A-Za-z0-9 ()/-]{0,60}?)[ \t]*:[ \t]*(.*?)[ \t]*\Z")
_HAS_ZONE = re.compile(r"(?:Z|UTC|[+-]\d\d:?\d\d)\s*\Z", re.IGNORECASE)

_BLOCK = 1 << 20
_SNIFF_BYTES = 4096
#: No real line comes near this; a longer one means the file is not a text dump.
_MAX_LINE_BYTES = 64 << 20
_EXPORT_HINT = "export the log as .evtx instead (`wevtutil epl Security x.evtx`)"
_REPLACEMENT = "\ufffd"


@dataclass(slots=True)
class _Block:
    """One ``Event[n]:`` block while it is being read."""

    line: int
    header: dict[str, str] = field(default_factory=dict)
    unknown: list[tuple[int, str]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    in_body: bool = False
    wanted: bool = True
    decided: bool = False


def read_wevtutil_text(
    source: Source, stats: SourceStats, relevant: Relevance | None
) -> Iterator[Event]:
    """Stream the relevant events of one wevtutil text dump file.

    Args:
        source: an input of kind ``wevtutil-text``.
        stats: filled while reading; final when the iterator is exhausted or closed.
        relevant: ``(channel, provider, event_id) -> bool``, asked once an event's header is
            read and before its description is kept; ``None`` keeps every event.

    Yields:
        Events in file order.
    """
    try:
        with open(source.path, "rb") as stream:
            yield from read_text_stream(stream, source.name, stats, relevant)
    except OSError as error:
        stats.status = "partial" if stats.records_read else "unreadable"
        stats.messages.append(
            f"{source.name}: cannot read ({error.strerror or type(error).__name__}); "
            "check the path and that you may read it"
        )


def read_text_stream(
    stream: ByteStream, name: str, stats: SourceStats, relevant: Relevance | None
) -> Iterator[Event]:
    """Stream the relevant events of a wevtutil text dump from any byte stream.

    Bad input never raises: a damaged event is counted in ``records_failed``; undecodable
    bytes or a dump in another language end the file with a message naming the line, and the
    events read before are kept. Errors of the stream itself (a damaged zip member) are the
    caller's to catch; ``stats`` is settled before they propagate.

    Args:
        stream: the dump's bytes.
        name: how messages and ``Event.origin`` name the dump.
        stats: filled while reading.
        relevant: the pre-filter (see :func:`read_wevtutil_text`).

    Yields:
        Events in file order.
    """
    reader = _Reader(name, stats, relevant)
    try:
        yield from reader.read(stream)
    except TextDumpError as error:
        reader.abandon()
        stats.status = "partial" if stats.records_read or stats.records_failed else "unreadable"
        stats.messages.append(str(error))
    except Exception:
        reader.abandon()  # the stream failed (a damaged zip member): the caller says why
        raise
    finally:
        reader.close()


def parse_wevtutil_text(
    data: bytes, name: str = "<text>", relevant: Relevance | None = None
) -> tuple[list[Event], SourceStats]:
    """Read a whole dump held in memory (tests, pasted text).

    Returns:
        The events and the accounting of the dump.
    """
    import io

    stats = SourceStats(name=name, kind="wevtutil-text", size=len(data))
    events = list(read_text_stream(io.BytesIO(data), name, stats, relevant))
    return events, stats


class _Reader:
    """One pass over one dump: the block being read and the file's accounting."""

    def __init__(self, name: str, stats: SourceStats, relevant: Relevance | None) -> None:
        self.name = name
        self.stats = stats
        self.relevant = relevant
        self.block: _Block | None = None
        self.zoneless = 0
        self.seen_start = False
        self.seen_text = False
        self.stopped = False
        self.closed = False
        self.damage = _Damage()

    def read(self, stream: ByteStream) -> Iterator[Event]:
        for number, line in _lines(stream, self.name, self.damage):
            if not self.seen_text and line.strip():
                self.seen_text = True
            start = _EVENT_START.match(line)
            if start is not None:
                event = self._end_block()
                if event is not None:
                    yield event
                self.block = _Block(line=number)
                self.seen_start = True
                continue
            block = self.block
            if block is None:
                continue  # text before the first event: nothing wevtutil writes there
            if block.in_body:
                if block.wanted:
                    block.body.append(line)
                continue
            self._header_line(block, number, line)
        event = self._end_block()
        if event is not None:
            yield event

    def _header_line(self, block: _Block, number: int, line: str) -> None:
        if not line.strip():
            return
        match = _HEADER_LINE.match(line)
        indented = line[:1] in (" ", "\t")
        label = match.group(1).strip() if match is not None else ""
        if match is None or (label not in HEADER_LABELS and not indented):
            # Not a header line: the description starts without its "Description:" line.
            self._decide(block)
            block.in_body = True
            if block.wanted:
                block.body.append(line)
            return
        value = match.group(2)
        if label == "Description":
            self._decide(block)
            block.in_body = True
            if block.wanted and value.strip():
                block.body.append(value.strip())
        elif label in HEADER_LABELS:
            block.header.setdefault(label, value.strip())
        else:
            block.unknown.append((number, label))

    def _decide(self, block: _Block) -> None:
        """Ask the pre-filter once the header is read; fail on a translated header."""
        if block.decided:
            return
        block.decided = True
        if block.unknown and not block.header.keys() & _CORE_LABELS:
            self.block = None  # the file is refused as a whole: no event of it is counted
            line, label = block.unknown[0]
            raise TextDumpError(
                f"{self.name}: line {line}: header label {one_line(label, 40)!r} is not one "
                "that wevtutil writes in English (a dump from a Windows in another language?); "
                f"{_EXPORT_HINT}, or make the dump on an English system"
            )
        identity = _identity(block)
        if identity is not None and self.relevant is not None:
            block.wanted = self.relevant(*identity)

    def _end_block(self) -> Event | None:
        block = self.block
        self.block = None
        if block is None:
            return None
        self._decide(block)
        try:
            channel, provider, event_id, time = self._system(block)
        except RecordError as error:
            self.stats.note_error(f"event at line {block.line}: {error}")
            return None
        self.stats.records_read += 1
        self.stats.note_time(time)
        if not block.wanted:
            return None
        self.stats.records_relevant += 1
        header = block.header
        keyword = header.get("Keyword", "")
        audit_mask = _AUDIT_KEYWORDS.get(keyword.lower())
        level = _LEVELS.get(header.get("Level", "").lower())
        if audit_mask is not None and level == _LEVELS["information"]:
            level = 0
        body = _trim(block.body)
        return Event(
            time=time,
            channel=channel,
            provider=provider,
            event_id=event_id,
            level=level,
            computer=header.get("Computer", ""),
            record_id=None,
            fields=_nps_fields(body) if event_id in _NPS_EVENT_IDS else {},
            data=(),
            message="\n".join(body) if body else None,
            origin=self.name,
            qualifiers=None,
            keywords=audit_mask,
        )

    def _system(self, block: _Block) -> tuple[str, str, int, datetime]:
        """Channel, provider, event id and time of a block; RecordError when unusable."""
        header = block.header
        raw_id = header.get("Event ID")
        if raw_id is None:
            raise RecordError("no 'Event ID:' line in its header")
        event_id = _int(raw_id)
        if event_id is None:
            raise RecordError(f"Event ID {one_line(raw_id, 40)!r} is not a number")
        date = header.get("Date")
        if date is None:
            raise RecordError("no 'Date:' line in its header")
        time = parse_event_time(date)
        if not _HAS_ZONE.search(date):
            self.zoneless += 1
        return header.get("Log Name", ""), header.get("Source", ""), event_id, time

    def abandon(self) -> None:
        """Count the event being read when the file stopped as failed (its end is lost)."""
        self.stopped = True
        if self.block is not None:
            self.stats.note_error(
                f"event at line {self.block.line}: not read to its end (the file stops there)"
            )
            self.block = None

    def close(self) -> None:
        """Settle the accounting (once), whether reading ended, failed or was abandoned."""
        if self.closed:
            return
        self.closed = True
        stats = self.stats
        if stats.records_failed > stats.MAX_MESSAGES:
            hidden = stats.records_failed - stats.MAX_MESSAGES
            stats.messages.append(f"{hidden} more event errors not listed")
        damage = self.damage
        if damage.first:
            stats.messages.append(
                f"{self.name}: line {damage.first}"
                + (f" and {damage.lines - 1} more" if damage.lines > 1 else "")
                + f" held bytes that are not {damage.what}: they were read with U+FFFD in their "
                "place; copy the file again if the events there matter"
            )
            if stats.status == "ok":
                stats.status = "partial"
        # What the times mean is settled later, against the other inputs (npsdiag.clock).
        stats.zoneless_times = self.zoneless
        if self.stopped:
            pass  # what was not read says nothing about the dump
        elif not self.seen_text and stats.status == "ok":
            # What wevtutil writes when the query matches nothing; the health-check script's
            # NPS_EventLog.log is such a dump when NPS auditing is off.
            stats.messages.append(
                f"{self.name}: holds no event: the query matched nothing (for NPS_EventLog.log: "
                "the Security log had no NPS event 6272/6273/6274; check that NPS auditing is "
                'on with `auditpol /get /subcategory:"Network Policy Server"`)'
            )
        elif not self.seen_start and stats.status == "ok":
            stats.status = "unreadable"
            stats.messages.append(
                f"{self.name}: no 'Event[0]:' line: not a wevtutil text dump; {_EXPORT_HINT}"
            )
        stats.finish()


def _identity(block: _Block) -> tuple[str, str, int] | None:
    event_id = _int(block.header.get("Event ID", ""))
    if event_id is None:
        return None
    return block.header.get("Log Name", ""), block.header.get("Source", ""), event_id


def _int(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or len(text) > 10:  # isdigit() also rejects signs and spaces
        return None
    try:
        return int(text)
    except ValueError:  # digits of other scripts pass isdigit() but not every int()
        return None


def _trim(lines: list[str]) -> list[str]:
    """The description without the blank lines wevtutil puts between events."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = 0
    while start < end and not lines[start].strip():
        start += 1
    return lines[start:end]


def _nps_fields(lines: list[str]) -> dict[str, str]:
    """Read the ``Label: value`` lines of a rendered 6272-6280 into XML field names."""
    fields: dict[str, str] = {}
    section: str | None = None
    for line in lines:
        match = _LABEL_LINE.match(line)
        if match is None:
            continue
        label = " ".join(match.group(1).split())
        value = match.group(2)
        if label in NPS_TEXT_FIELDS and not value:
            section = label
            continue
        names = NPS_TEXT_FIELDS[section] if section is not None else _ANY_SECTION
        field_name = names.get(label)
        if field_name is not None and field_name not in fields:
            fields[field_name] = value
    return fields


# ---------------------------------------------------------------------------------------------
# Lines out of bytes
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Damage:
    """Lines whose bytes were not text and were read with U+FFFD in their place."""

    first: int = 0  # the first such line (0: none)
    lines: int = 0  # how many lines (UTF-16: blocks) held such bytes
    what: str = ""  # what the bytes were not


def _lines(stream: ByteStream, name: str, damage: _Damage) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of the whole stream, line ends removed; numbers from 1.

    Blocks are cut at line ends, decoded, and split. Bytes that are not text (a NUL, a byte
    Windows-1252 leaves undefined, broken UTF-16) never stop the stream: they become U+FFFD
    and are counted in ``damage``. A line longer than the limit, or a UTF-16 file cut in the
    middle of a character, ends the stream with a TextDumpError naming the line, after every
    line before it was given.
    """
    head = stream.read(_BLOCK)
    while 0 < len(head) < _SNIFF_BYTES:  # a stream may give little at a time
        more = stream.read(_BLOCK)
        if not more:
            break
        head += more
    encoding, skip = _encoding(head)
    terminator = {"utf-16-le": b"\n\x00", "utf-16-be": b"\x00\n"}.get(encoding, b"\n")
    wide = len(terminator) == 2
    pending = head[skip:]
    fresh = len(pending)  # bytes at the end of pending not searched for a line end yet
    at_end = not head
    number = 0
    while True:
        if at_end:
            cut = len(pending)
        else:
            # Only the new bytes can hold a line end: the older ones held none after the cut.
            since = max(0, len(pending) - fresh - len(terminator) + 1)
            cut = _last_line_end(pending, terminator, wide, since)
            fresh = 0
        if cut:
            block, pending = pending[:cut], pending[cut:]
            error: TextDumpError | None = None
            if wide and len(block) % 2:
                block = block[:-1]
                error = TextDumpError(
                    f"{name}: line {number + _count_lines(block, encoding) + 1}: the file ends "
                    "in the middle of a UTF-16 character (cut short?); copy the file again"
                )
            text = _decode_block(block, encoding, number, damage)
            lines = text.split("\n")
            if error is not None or not at_end or lines[-1] == "":
                # The text ends with a line end (nothing after it yet), or with the line that
                # holds the error, which is not given.
                lines.pop()
            for line in lines:
                number += 1
                yield number, line[:-1] if line.endswith("\r") else line
            if error is not None:
                raise error
        elif len(pending) > _MAX_LINE_BYTES:
            raise TextDumpError(
                f"{name}: line {number + 1} is longer than {_MAX_LINE_BYTES:,} bytes: not a "
                f"wevtutil text dump; {_EXPORT_HINT}"
            )
        if at_end:
            return
        more = stream.read(_BLOCK)
        at_end = not more
        pending += more
        fresh = len(more)


def _encoding(head: bytes) -> tuple[str, int]:
    """``(codec, bytes of byte-order mark)``; "8bit" means UTF-8, else Windows-1252 per line."""
    if head.startswith(codecs.BOM_UTF8):
        return "8bit", len(codecs.BOM_UTF8)
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    sample = head[:_SNIFF_BYTES]
    half = len(sample) // 2
    if half >= 2:
        # UTF-16 without a byte-order mark: ASCII text leaves every other byte zero.
        odd_zeros = sample[1::2].count(0)
        even_zeros = sample[0::2].count(0)
        if odd_zeros > half * 0.8 and even_zeros < half * 0.2:
            return "utf-16-le", 0
        if even_zeros > half * 0.8 and odd_zeros < half * 0.2:
            return "utf-16-be", 0
    return "8bit", 0


def _last_line_end(data: bytes, terminator: bytes, wide: bool, since: int) -> int:
    """Where the last complete line of ``data`` ends (0 when there is none after ``since``)."""
    position = data.rfind(terminator, since)
    if wide:
        # In UTF-16 a line end starts at an even offset; "\n\x00" elsewhere straddles two
        # characters.
        while position >= 0 and position % 2:
            position = data.rfind(terminator, since, position + 1)
    return position + len(terminator) if position >= 0 else 0


def _count_lines(block: bytes, encoding: str) -> int:
    """Line ends in a block that decoded cleanly up to its end (for an error's line)."""
    codec = encoding if encoding != "8bit" else "latin-1"
    return block.decode(codec, "replace").count("\n")


def _decode_block(block: bytes, encoding: str, lines_before: int, damage: _Damage) -> str:
    """The block as text; bytes that are not text become U+FFFD and are noted in ``damage``."""
    if encoding != "8bit":
        try:
            return block.decode(encoding)
        except UnicodeDecodeError as error:
            good = block[: error.start].decode(encoding, "replace")
            _note(damage, lines_before + good.count("\n") + 1, f"{encoding.upper()} text")
            return block.decode(encoding, "replace")
    if b"\x00" not in block:
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError:
            pass
    # Not all UTF-8: decide line by line (cmd.exe writes the ANSI code page, Windows-1252).
    parts: list[str] = []
    for offset, raw in enumerate(block.split(b"\n")):
        bad = raw.count(0)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", "replace")
            bad += text.count(_REPLACEMENT)
        if bad:
            _note(damage, lines_before + offset + 1, "text (NUL, or undefined in Windows-1252)")
            text = text.replace("\x00", _REPLACEMENT)
        parts.append(text)
    return "\n".join(parts)


def _note(damage: _Damage, line: int, what: str) -> None:
    if not damage.first:
        damage.first, damage.what = line, what
    damage.lines += 1
