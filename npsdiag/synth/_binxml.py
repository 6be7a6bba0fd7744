"""Binary XML encoding for the EVTX writer: names, templates and typed values.

This module knows how one event looks as Windows Binary XML and nothing about
files; of chunks it only knows the offsets it is handed. The writer asks it for:

* the template of a record shape (:func:`template_for`), built once per shape;
* the bytes of a template definition laid out at a given chunk offset, with
  element and attribute names written inline on their first use in the chunk
  and referenced by offset afterwards (:class:`FragmentBuilder`);
* the typed substitution values of one record (:meth:`ValueEncoder.encode`),
  the only per-record work once a template is defined in a chunk.

References:
    - [MS-EVEN6] BinXml grammar: tokens, substitutions, value types.
    - libyal libevtx, "Windows XML Event Log (EVTX) format": NameString layout,
      template definition header, common string and template pointer tables.
    - The ``System`` layout (optional substitutions, their index order, dependency
      ids, literal ``Data/@Name`` text) copies what Windows writes in real Security
      logs; the public corpus in ``shared/corpus`` was read to confirm it.
"""

from __future__ import annotations

import json
import re
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import cast

from npsdiag.errors import EvtxWriteError
from npsdiag.synth.records import (
    EventRecord,
    HexInt32,
    HexInt64,
    Int32,
    Sid,
    UInt8,
    UInt16,
    UInt64,
    Value,
)

__all__ = [
    "FRAGMENT_HEADER",
    "LATEST_TIME",
    "TOKEN_TEMPLATE_INSTANCE",
    "FragmentBuilder",
    "NameTable",
    "Shape",
    "Template",
    "ValueEncoder",
    "encode_filetime",
    "encode_sid",
    "encode_value",
    "name_hash",
    "template_for",
]

# --- tokens ([MS-EVEN6] 3.1.4.7) -------------------------------------------------------------
TOKEN_EOF = 0x00
TOKEN_OPEN_START = 0x01
TOKEN_OPEN_START_ATTRS = 0x41
TOKEN_CLOSE_START = 0x02
TOKEN_CLOSE_EMPTY = 0x03
TOKEN_END_ELEMENT = 0x04
TOKEN_VALUE = 0x05
TOKEN_ATTRIBUTE = 0x06
TOKEN_ATTRIBUTE_MORE = 0x46  # 0x06 with the "another attribute follows" bit
TOKEN_TEMPLATE_INSTANCE = 0x0C
TOKEN_NORMAL_SUBST = 0x0D
TOKEN_OPTIONAL_SUBST = 0x0E
FRAGMENT_HEADER = b"\x0f\x01\x01\x00"  # token 0x0f, major 1, minor 1, flags 0

# --- substitution value types ---------------------------------------------------------------
TYPE_NULL = 0x00
TYPE_STRING = 0x01
TYPE_UINT8 = 0x04
TYPE_UINT16 = 0x06
TYPE_INT32 = 0x07
TYPE_UINT32 = 0x08
TYPE_UINT64 = 0x0A
TYPE_BINARY = 0x0E
TYPE_GUID = 0x0F
TYPE_FILETIME = 0x11
TYPE_SID = 0x13
TYPE_HEXINT32 = 0x14
TYPE_HEXINT64 = 0x15

NO_DEPENDENCY = 0xFFFF
MAX_SUBST_BYTES = 0xFFFF  # a value descriptor holds its size in 16 bits
MAX_LITERAL_CHARS = 0xFFFF  # a value-text token holds its length in 16 bits
EVENT_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"

# Substitution indices of the <System> values. 0-12 are the indices Windows uses for
# manifest-based events; Windows puts RelatedActivityID at 13, which a record cannot
# carry, so the values Windows writes at 14-16 (provider name, provider GUID,
# channel) move down by one and Computer, literal text in Windows' templates, follows.
IDX_LEVEL = 0
IDX_OPCODE = 1
IDX_TASK = 2
IDX_EVENT_ID = 3
IDX_QUALIFIERS = 4
IDX_KEYWORDS = 5
IDX_SYSTEM_TIME = 6
IDX_ACTIVITY_ID = 7
IDX_PROCESS_ID = 8
IDX_THREAD_ID = 9
IDX_RECORD_ID = 10
IDX_VERSION = 11
IDX_USER_ID = 12
IDX_PROVIDER_NAME = 13
IDX_PROVIDER_GUID = 14
IDX_CHANNEL = 15
IDX_COMPUTER = 16
FIRST_DATA_INDEX = 17

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
# evtx-rs (npsdiag's reader) renders times through a type that ends here; later
# FILETIMEs make it fail the whole record, so they are refused.
LATEST_TIME = datetime(9999, 12, 30, 22, 0, 0, 999999, tzinfo=timezone.utc)
_TEMPLATE_NAMESPACE = uuid.UUID("6f1d8a52-2c1e-5b8e-9a57-4e5044494147")
_SID_PATTERN = re.compile(r"S-1-(0|[1-9][0-9]*)((?:-(?:0|[1-9][0-9]*))*)")
_MAX_SID_SUBAUTHORITIES = 15


def name_hash(name: str) -> int:
    """Return the 16-bit NameString hash Windows stores for ``name``.

    The hash runs over UTF-16 code units: ``h = h * 65599 + unit`` modulo 2**32;
    the low 16 bits are stored, and ``hash % 64`` picks the common-string bucket.
    """
    value = 0
    encoded = name.encode("utf-16-le", "surrogatepass")
    for (unit,) in struct.iter_unpack("<H", encoded):
        value = (value * 65599 + unit) & 0xFFFFFFFF
    return value & 0xFFFF


def _guid_bucket(guid_le: bytes) -> int:
    """Template-table bucket: the NameString hash over the GUID's eight 16-bit words, mod 32.

    Checked against the template tables of real Windows logs (2781 of 2794 entries in
    the public corpus match; the rest sit in damaged chunks).
    """
    value = 0
    for (word,) in struct.iter_unpack("<H", guid_le):
        value = (value * 65599 + word) & 0xFFFFFFFF
    return value % 32


# --- values --------------------------------------------------------------------------------


def _utf16(text: str, what: str) -> bytes:
    """Encode a string for EVTX, refusing what no parser can give back."""
    if "\x00" in text:
        raise EvtxWriteError(
            f"{what}: contains U+0000; Windows event strings are NUL-terminated and parsers "
            "cut the text there"
        )
    try:
        return text.encode("utf-16-le")
    except UnicodeEncodeError as error:
        raise EvtxWriteError(
            f"{what}: character {error.start} is a lone surrogate "
            f"(U+{ord(text[error.start]):04X}) that UTF-16 cannot encode"
        ) from None


def _check_attribute_text(text: object, what: str) -> None:
    """Refuse provider and Data names that libevtx cannot render.

    Both are XML attribute values. libevtx writes an empty attribute value without
    its closing quote, does not escape ``"`` in attribute values, and fails the
    whole record on a value that is exactly a line feed. It also drops one leading
    U+FEFF from every string, so a name of just U+FEFF is empty to it. Windows never
    writes such names: they come from manifests, where they are identifiers.
    """
    if not isinstance(text, str):
        raise EvtxWriteError(f"{what}: expected str, got {type(text).__name__}")
    shown = text[1:] if text.startswith("\ufeff") else text
    if not shown:
        raise EvtxWriteError(f"{what}: must not be empty (libevtx renders it as broken XML)")
    if '"' in text:
        raise EvtxWriteError(
            f"{what}: {text[:60]!r} contains '\"', which libevtx writes unescaped into XML"
        )
    if shown == "\n":
        raise EvtxWriteError(f"{what}: a name that is just a line feed fails libevtx")


def _check_int(value: object, low: int, high: int, what: str, field: str, type_name: str) -> int:
    """Return ``value`` if it is an int within ``low..high``; otherwise refuse it."""
    if isinstance(value, int) and not isinstance(value, bool):
        if low <= value <= high:
            return value
        raise EvtxWriteError(
            f"{what}: {field} {value} is out of range for {type_name} ({low}..{high})"
        )
    raise EvtxWriteError(f"{what}: {field} must be an int, not {type(value).__name__}")


def encode_filetime(moment: datetime, what: str) -> int:
    """Convert an aware datetime to a FILETIME (100 ns ticks since 1601-01-01 UTC)."""
    if not isinstance(moment, datetime):
        raise EvtxWriteError(f"{what}: expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EvtxWriteError(f"{what}: datetime {moment.isoformat()} is naive; give it a timezone")
    if moment > LATEST_TIME:
        raise EvtxWriteError(
            f"{what}: {moment.isoformat()} is after {LATEST_TIME.isoformat()}, the last time "
            "evtx-rs can render"
        )
    delta = moment - _FILETIME_EPOCH
    ticks = (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    if ticks < 0:
        raise EvtxWriteError(f"{what}: {moment.isoformat()} is before 1601-01-01, FILETIME's epoch")
    return ticks


def encode_sid(text: str, what: str) -> bytes:
    """Encode ``S-1-<authority>-<sub>...`` (decimal, no leading zeros) as a binary SID."""
    match = _SID_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise EvtxWriteError(f"{what}: {text!r} is not a SID of the form S-1-<authority>-<sub>...")
    authority = int(match.group(1))
    subs = [int(part) for part in match.group(2).split("-")[1:]]
    if authority >= 1 << 48:
        raise EvtxWriteError(f"{what}: SID authority {authority} does not fit in 48 bits")
    if len(subs) > _MAX_SID_SUBAUTHORITIES:
        raise EvtxWriteError(f"{what}: SID has {len(subs)} sub-authorities, at most 15 allowed")
    for sub in subs:
        if sub > 0xFFFFFFFF:
            raise EvtxWriteError(f"{what}: SID sub-authority {sub} does not fit in 32 bits")
    return (
        bytes((1, len(subs))) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs)
    )


def _substitution_string(text: object, what: str) -> bytes:
    """Encode a string substitution value (no terminating NUL, at most 65535 bytes)."""
    if not isinstance(text, str):
        raise EvtxWriteError(f"{what}: expected str, got {type(text).__name__}")
    encoded = _utf16(text, what)
    if len(encoded) > MAX_SUBST_BYTES:
        raise EvtxWriteError(
            f"{what}: string is {len(encoded)} bytes in UTF-16, more than the "
            f"{MAX_SUBST_BYTES} bytes a substitution can hold"
        )
    return encoded


def to_guid(value: object, what: str) -> uuid.UUID:
    """Accept a :class:`uuid.UUID` or GUID text (with or without braces)."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise EvtxWriteError(f"{what}: {value!r} is not a GUID")


def encode_value(value: Value, what: str) -> tuple[int, bytes]:
    """Return ``(substitution type, bytes)`` for one EventData value."""
    # Wrapper classes subclass int/str/bytes, so they are tested before the plain types.
    if value is None:
        # libevtx cannot substitute a NULL into element content (it fails the record) and
        # an optional substitution makes it drop the whole <Data>, shifting unnamed
        # values, while evtx-rs keeps it. Every renderer shows NULL and "" alike, as an
        # empty element, so None is written as an empty string.
        return TYPE_STRING, b""
    if isinstance(value, Sid):
        return TYPE_SID, encode_sid(value, what)
    if isinstance(value, str):
        return TYPE_STRING, _substitution_string(value, what)
    if isinstance(value, int):
        return _encode_int(value, what)
    if isinstance(value, datetime):
        return TYPE_FILETIME, struct.pack("<Q", encode_filetime(value, what))
    if isinstance(value, uuid.UUID):
        return TYPE_GUID, value.bytes_le
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if len(data) > MAX_SUBST_BYTES:
            raise EvtxWriteError(
                f"{what}: binary value is {len(data)} bytes, more than the "
                f"{MAX_SUBST_BYTES} bytes a substitution can hold"
            )
        return TYPE_BINARY, data
    raise EvtxWriteError(
        f"{what}: {type(value).__name__} is not an event value type "
        "(use str, int or a records.py wrapper, datetime, uuid.UUID, bytes or None)"
    )


_INT_KINDS: tuple[tuple[type[int], int, str, int, int], ...] = (
    (HexInt32, TYPE_HEXINT32, "<I", 0, 0xFFFFFFFF),
    (HexInt64, TYPE_HEXINT64, "<Q", 0, 0xFFFFFFFFFFFFFFFF),
    (UInt8, TYPE_UINT8, "<B", 0, 0xFF),
    (UInt16, TYPE_UINT16, "<H", 0, 0xFFFF),
    (UInt64, TYPE_UINT64, "<Q", 0, 0xFFFFFFFFFFFFFFFF),
    (Int32, TYPE_INT32, "<i", -(1 << 31), (1 << 31) - 1),
)


def _encode_int(value: int, what: str) -> tuple[int, bytes]:
    for kind, type_code, fmt, low, high in _INT_KINDS:
        if isinstance(value, kind):
            _check_int(value, low, high, what, "value", kind.__name__)
            return type_code, struct.pack(fmt, value)
    _check_int(value, 0, 0xFFFFFFFF, what, "value", "UInt32 (plain int)")
    return TYPE_UINT32, struct.pack("<I", value)


# --- templates -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Literal:
    text: str


@dataclass(frozen=True, slots=True)
class _Subst:
    index: int
    value_type: int
    optional: bool


_Content = _Literal | _Subst


@dataclass(frozen=True, slots=True)
class _Element:
    name: str
    attributes: tuple[tuple[str, _Content], ...] = ()
    children: tuple[_Element | _Content, ...] = ()
    dependency: int = NO_DEPENDENCY


def _opt(index: int, value_type: int) -> _Subst:
    return _Subst(index, value_type, optional=True)


def _value_element(name: str, index: int, value_type: int) -> _Element:
    # Windows names the optional substitution an element depends on; it is never NULL here.
    return _Element(name, children=(_opt(index, value_type),), dependency=index)


_SYSTEM = _Element(
    "System",
    children=(
        _Element(
            "Provider",
            attributes=(
                ("Name", _opt(IDX_PROVIDER_NAME, TYPE_STRING)),
                ("Guid", _opt(IDX_PROVIDER_GUID, TYPE_GUID)),
            ),
        ),
        _Element(
            "EventID",
            attributes=(("Qualifiers", _opt(IDX_QUALIFIERS, TYPE_UINT16)),),
            children=(_opt(IDX_EVENT_ID, TYPE_UINT16),),
            dependency=IDX_EVENT_ID,
        ),
        _value_element("Version", IDX_VERSION, TYPE_UINT8),
        _value_element("Level", IDX_LEVEL, TYPE_UINT8),
        _value_element("Task", IDX_TASK, TYPE_UINT16),
        _value_element("Opcode", IDX_OPCODE, TYPE_UINT8),
        _value_element("Keywords", IDX_KEYWORDS, TYPE_HEXINT64),
        _Element("TimeCreated", attributes=(("SystemTime", _opt(IDX_SYSTEM_TIME, TYPE_FILETIME)),)),
        _value_element("EventRecordID", IDX_RECORD_ID, TYPE_UINT64),
        _Element("Correlation", attributes=(("ActivityID", _opt(IDX_ACTIVITY_ID, TYPE_GUID)),)),
        _Element(
            "Execution",
            attributes=(
                ("ProcessID", _opt(IDX_PROCESS_ID, TYPE_UINT32)),
                ("ThreadID", _opt(IDX_THREAD_ID, TYPE_UINT32)),
            ),
        ),
        _value_element("Channel", IDX_CHANNEL, TYPE_STRING),
        _value_element("Computer", IDX_COMPUTER, TYPE_STRING),
        _Element("Security", attributes=(("UserID", _opt(IDX_USER_ID, TYPE_SID)),)),
    ),
)


@dataclass(frozen=True, slots=True, eq=False)  # identity: one object per shape, cheap to hash
class Template:
    """One template: a record shape with a deterministic GUID.

    Attributes:
        guid: template GUID (uuid5 over the shape, so output is reproducible).
        guid_le: the GUID as stored on disk (mixed-endian).
        template_id: the first 32 bits of ``guid_le``, as Windows writes it in instances.
        bucket: index in the chunk's 32-entry template pointer table.
        root: the ``<Event>`` element tree with literal text and substitutions.
    """

    guid: uuid.UUID
    guid_le: bytes
    template_id: int
    bucket: int
    root: _Element


#: The shape of a record: (provider, channel, named?, (name-or-None, value type) per Data).
Shape = tuple[str, str, bool, tuple[tuple[str | None, int], ...]]


def template_for(shape: Shape) -> Template:
    """Build the template of a record shape.

    ``System`` values are all substitutions, so one template serves every record of
    the same provider, channel and EventData layout; a None Qualifiers, ActivityID,
    UserID or provider GUID is a NULL optional substitution, which parsers render by
    leaving the attribute out (as Windows does), not a different template.
    """
    _provider, _channel, named, fields = shape
    data_elements = []
    for offset, (name, value_type) in enumerate(fields):
        content = _Subst(FIRST_DATA_INDEX + offset, value_type, optional=False)
        if named:
            assert name is not None
            data_elements.append(
                _Element("Data", attributes=(("Name", _Literal(name)),), children=(content,))
            )
        else:
            data_elements.append(_Element("Data", children=(content,)))
    root = _Element(
        "Event",
        attributes=(("xmlns", _Literal(EVENT_NAMESPACE)),),
        children=(_SYSTEM, _Element("EventData", children=tuple(data_elements))),
    )
    # ASCII-only JSON keeps the GUID stable across Python versions (repr() is not).
    guid = uuid.uuid5(_TEMPLATE_NAMESPACE, json.dumps(shape, ensure_ascii=True))
    guid_le = guid.bytes_le
    (template_id,) = struct.unpack_from("<I", guid_le)
    return Template(guid, guid_le, template_id, _guid_bucket(guid_le), root)


# --- per-chunk name table and fragment emission ----------------------------------------------


class NameTable:
    """The NameStrings already written in one chunk (name -> chunk offset) and bucket heads."""

    __slots__ = ("heads", "offsets")

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}
        self.heads: list[int] = [0] * 64


class FragmentBuilder:
    """Emits template-definition bytes at a known chunk offset.

    New names are kept apart (:attr:`new_names`) until the caller commits the record,
    so a record that turns out not to fit leaves the chunk's tables untouched.
    """

    __slots__ = ("base", "buffer", "names", "new_heads", "new_names")

    def __init__(self, names: NameTable, base: int) -> None:
        self.names = names
        self.base = base
        self.buffer = bytearray()
        self.new_names: dict[str, int] = {}
        self.new_heads: dict[int, int] = {}

    def commit(self) -> None:
        """Record the names written by this builder in the chunk's table."""
        self.names.offsets.update(self.new_names)
        for bucket, offset in self.new_heads.items():
            self.names.heads[bucket] = offset

    def _name_ref(self, name: str) -> None:
        offset = self.names.offsets.get(name)
        if offset is None:
            offset = self.new_names.get(name)
        if offset is not None:
            self.buffer += struct.pack("<I", offset)
            return
        # First use in this chunk: the offset points just past itself, where the
        # NameString follows, and the string joins the head of its hash bucket.
        offset = self.base + len(self.buffer) + 4
        hashed = name_hash(name)
        bucket = hashed % 64
        previous = self.new_heads.get(bucket, self.names.heads[bucket])
        encoded = _utf16(name, f"element or attribute name {name!r}")
        self.buffer += struct.pack("<IIHH", offset, previous, hashed, len(encoded) // 2)
        self.buffer += encoded + b"\x00\x00"
        self.new_names[name] = offset
        self.new_heads[bucket] = offset

    def _content(self, content: _Content) -> None:
        if isinstance(content, _Literal):
            encoded = _utf16(content.text, f"text {content.text[:40]!r}")
            self.buffer += struct.pack("<BBH", TOKEN_VALUE, TYPE_STRING, len(encoded) // 2)
            self.buffer += encoded
        else:
            token = TOKEN_OPTIONAL_SUBST if content.optional else TOKEN_NORMAL_SUBST
            self.buffer += struct.pack("<BHB", token, content.index, content.value_type)

    def _element(self, element: _Element) -> None:
        buffer = self.buffer
        start = len(buffer)
        token = TOKEN_OPEN_START_ATTRS if element.attributes else TOKEN_OPEN_START
        buffer += struct.pack("<BHI", token, element.dependency, 0)
        self._name_ref(element.name)
        if element.attributes:
            list_at = len(buffer)
            buffer += b"\x00\x00\x00\x00"
            last = len(element.attributes) - 1
            for position, (name, content) in enumerate(element.attributes):
                buffer.append(TOKEN_ATTRIBUTE_MORE if position < last else TOKEN_ATTRIBUTE)
                self._name_ref(name)
                self._content(content)
            struct.pack_into("<I", buffer, list_at, len(buffer) - list_at - 4)
        if element.children:
            buffer.append(TOKEN_CLOSE_START)
            for child in element.children:
                if isinstance(child, _Element):
                    self._element(child)
                else:
                    self._content(child)
            buffer.append(TOKEN_END_ELEMENT)
        elif element.attributes:
            buffer.append(TOKEN_CLOSE_EMPTY)
        else:
            # Windows writes an empty attribute-less element (e.g. <EventData/>) as open + end.
            buffer.append(TOKEN_CLOSE_START)
            buffer.append(TOKEN_END_ELEMENT)
        # Data size: everything after token, dependency id and the size field itself.
        struct.pack_into("<I", buffer, start + 3, len(buffer) - start - 7)

    def template_definition(self, template: Template, next_offset: int) -> bytes:
        """Return the inline definition (next-offset, GUID, size, fragment) of ``template``."""
        self.buffer += struct.pack("<I", next_offset) + template.guid_le + b"\x00\x00\x00\x00"
        fragment_start = len(self.buffer)
        self.buffer += FRAGMENT_HEADER
        self._element(template.root)
        self.buffer.append(TOKEN_EOF)
        struct.pack_into("<I", self.buffer, 20, len(self.buffer) - fragment_start)
        return bytes(self.buffer)


# --- per-record values ---------------------------------------------------------------------


class ValueEncoder:
    """Encodes the substitution array of records, caching the strings that repeat.

    Provider names, channels, computers and SIDs recur in almost every record, so
    their encodings are memoised (bounded) to keep the per-record cost to packing.
    """

    _CACHE_LIMIT = 4096

    def __init__(self) -> None:
        self._strings: dict[str, bytes] = {}
        self._providers: dict[str, bytes] = {}
        self._sids: dict[str, bytes] = {}
        self._names: set[str] = set()

    def _check_name(self, name: str, what: str) -> None:
        """Validate a ``Data/@Name``, which becomes literal text in the template."""
        if name in self._names:
            return
        _check_attribute_text(name, what)
        encoded = _utf16(name, what)
        if len(encoded) // 2 > MAX_LITERAL_CHARS:
            raise EvtxWriteError(
                f"{what}: name is {len(encoded) // 2} UTF-16 units long, more than the "
                f"{MAX_LITERAL_CHARS} a text token can hold"
            )
        if len(self._names) < self._CACHE_LIMIT:
            self._names.add(name)

    def _string(self, text: object, what: str) -> bytes:
        encoded = self._strings.get(text) if isinstance(text, str) else None
        if encoded is None:
            encoded = _substitution_string(text, what)
            if len(self._strings) < self._CACHE_LIMIT:
                self._strings[text] = encoded  # type: ignore[index]
        return encoded

    def _provider(self, text: object, what: str) -> bytes:
        encoded = self._providers.get(text) if isinstance(text, str) else None
        if encoded is None:
            _check_attribute_text(text, what)
            encoded = _substitution_string(text, what)
            if len(self._providers) < self._CACHE_LIMIT:
                self._providers[text] = encoded  # type: ignore[index]
        return encoded

    def _sid(self, text: object, what: str) -> bytes:
        encoded = self._sids.get(text) if isinstance(text, str) else None
        if encoded is None:
            encoded = encode_sid(text, what)  # type: ignore[arg-type]
            if len(self._sids) < self._CACHE_LIMIT:
                self._sids[text] = encoded  # type: ignore[index]
        return encoded

    def encode(self, record: EventRecord, record_id: int, what: str) -> tuple[Shape, bytes, int]:
        """Return ``(shape, value block, filetime)`` for one record.

        The value block is the template-instance tail: value count, one
        ``(size, type, 0)`` descriptor per value, then the values, in substitution
        index order. A None Qualifiers, ActivityID, UserID or provider GUID is a
        NULL value (type 0, size 0).

        Raises:
            EvtxWriteError: a value cannot be encoded; ``what`` starts the message.
        """
        if not isinstance(record, EventRecord):
            raise EvtxWriteError(f"{what}: expected an EventRecord, got {type(record).__name__}")
        check = _check_int
        filetime = encode_filetime(record.time, f"{what}: time")
        qualifiers = record.qualifiers
        qualifier_bytes = (
            b""
            if qualifiers is None
            else struct.pack("<H", check(qualifiers, 0, 0xFFFF, what, "qualifiers", "UInt16"))
        )
        activity_bytes = (
            b""
            if record.activity_id is None
            else to_guid(record.activity_id, f"{what}: activity_id").bytes_le
        )
        sid_bytes = (
            b"" if record.user_sid is None else self._sid(record.user_sid, f"{what}: user_sid")
        )
        guid_bytes = (
            b""
            if record.provider_guid is None
            else to_guid(record.provider_guid, f"{what}: provider_guid").bytes_le
        )
        provider = self._provider(record.provider, f"{what}: provider")
        channel = self._string(record.channel, f"{what}: channel")
        computer = self._string(record.computer, f"{what}: computer")
        # Indices 0-12 are fixed-size except Qualifiers (4), ActivityID (7) and UserID
        # (12), which are empty when NULL; they are packed in index order.
        parts = [
            struct.pack(
                "<BBHH",
                check(record.level, 0, 0xFF, what, "level", "UInt8"),
                check(record.opcode, 0, 0xFF, what, "opcode", "UInt8"),
                check(record.task, 0, 0xFFFF, what, "task", "UInt16"),
                check(record.event_id, 0, 0xFFFF, what, "event_id", "UInt16"),
            ),
            qualifier_bytes,
            struct.pack(
                "<QQ",
                check(record.keywords, 0, 0xFFFFFFFFFFFFFFFF, what, "keywords", "HexInt64"),
                filetime,
            ),
            activity_bytes,
            struct.pack(
                "<IIQB",
                check(record.process_id, 0, 0xFFFFFFFF, what, "process_id", "UInt32"),
                check(record.thread_id, 0, 0xFFFFFFFF, what, "thread_id", "UInt32"),
                record_id,
                check(record.version, 0, 0xFF, what, "version", "UInt8"),
            ),
            sid_bytes,
            provider,
            guid_bytes,
            channel,
            computer,
        ]
        sizes = [1, 1, 2, 2, len(qualifier_bytes), 8, 8, len(activity_bytes), 4, 4, 8, 1]
        sizes += [len(sid_bytes), len(provider), len(guid_bytes), len(channel), len(computer)]
        types = [
            TYPE_UINT8,
            TYPE_UINT8,
            TYPE_UINT16,
            TYPE_UINT16,
            TYPE_NULL if qualifiers is None else TYPE_UINT16,
            TYPE_HEXINT64,
            TYPE_FILETIME,
            TYPE_NULL if record.activity_id is None else TYPE_GUID,
            TYPE_UINT32,
            TYPE_UINT32,
            TYPE_UINT64,
            TYPE_UINT8,
            TYPE_NULL if record.user_sid is None else TYPE_SID,
            TYPE_STRING,
            TYPE_NULL if record.provider_guid is None else TYPE_GUID,
            TYPE_STRING,
            TYPE_STRING,
        ]

        named = record.named
        fields: list[tuple[str | None, int]] = []
        items: Sequence[object] = record.data
        if isinstance(items, (str, bytes)):
            raise EvtxWriteError(
                f"{what}: data must be a sequence of values or (name, value) pairs"
            )
        for position, item in enumerate(items, start=1):
            name: str | None = None
            value: Value
            if named:
                field_name, value = cast("tuple[str, Value]", item)
                label = f"{what}: Data {field_name!r}"
                self._check_name(field_name, label)
                name = field_name
            else:
                value = cast("Value", item)
                label = f"{what}: Data #{position}"
            value_type, encoded = encode_value(value, label)
            fields.append((name, value_type))
            types.append(value_type)
            sizes.append(len(encoded))
            parts.append(encoded)

        count = len(types)
        descriptors = struct.pack("<I" + "HBx" * count, count, *_interleave(sizes, types))
        shape: Shape = (record.provider, record.channel, named, tuple(fields))
        return shape, descriptors + b"".join(parts), filetime


def _interleave(sizes: list[int], types: list[int]) -> list[int]:
    merged: list[int] = [0] * (2 * len(sizes))
    merged[0::2] = sizes
    merged[1::2] = types
    return merged
