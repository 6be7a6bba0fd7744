"""The record description the EVTX writer consumes.

A :class:`EventRecord` is everything Windows puts into one event: the full
``<System>`` block plus ``<EventData>`` as either named ``<Data Name=...>``
fields (Security 6273 style) or unnamed ``<Data>`` values (the extension's
message events). Values are typed the way Windows types substitutions; plain
``str`` and ``int`` pick the natural type, the wrappers below force another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


class HexInt32(int):
    """An unsigned 32-bit integer rendered as 0x... (substitution type 0x14)."""


class HexInt64(int):
    """An unsigned 64-bit integer rendered as 0x... (substitution type 0x15)."""


class UInt8(int):
    """An unsigned 8-bit integer (substitution type 0x04)."""


class UInt16(int):
    """An unsigned 16-bit integer (substitution type 0x06)."""


class UInt64(int):
    """An unsigned 64-bit integer (substitution type 0x0a)."""


class Int32(int):
    """A signed 32-bit integer (substitution type 0x07)."""


class Sid(str):
    """A security identifier such as ``S-1-5-20`` (substitution type 0x13)."""


class Binary(bytes):
    """Opaque binary data, rendered as upper-case hex (substitution type 0x0e)."""


#: What may appear as a substitution value. ``int`` without a wrapper is UInt32
#: (type 0x08); ``datetime`` is FILETIME (0x11); ``uuid.UUID`` is GUID (0x0f);
#: ``None`` is the NULL type (an optional element or attribute is then omitted).
Value = str | int | datetime | uuid.UUID | bytes | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event to write.

    Attributes:
        provider: ``Provider/@Name``.
        provider_guid: ``Provider/@Guid`` or None to omit the attribute.
        event_id: ``EventID`` text.
        time: ``TimeCreated/@SystemTime``; must be timezone-aware (converted to UTC).
        channel: ``Channel``.
        computer: ``Computer``.
        data: ``EventData`` content: a sequence of ``(name, value)`` pairs for named
            ``<Data Name=...>`` fields, or a sequence of bare values for unnamed
            ``<Data>`` elements. Empty means an empty ``<EventData/>``.
        qualifiers: ``EventID/@Qualifiers`` or None to omit it.
        version, level, task, opcode, keywords: the ``System`` values of those names.
        record_id: ``EventRecordID``; None lets the writer number records 1, 2, ...
        activity_id: ``Correlation/@ActivityID`` or None to omit it.
        process_id, thread_id: ``Execution`` attributes.
        user_sid: ``Security/@UserID`` or None to omit it.
    """

    provider: str
    event_id: int
    time: datetime
    channel: str
    computer: str
    data: Sequence[tuple[str, Value]] | Sequence[Value] = ()
    provider_guid: uuid.UUID | None = None
    qualifiers: int | None = None
    version: int = 0
    level: int = 4
    task: int = 0
    opcode: int = 0
    keywords: int = 0x8000000000000000
    record_id: int | None = None
    activity_id: uuid.UUID | None = None
    process_id: int = 0
    thread_id: int = 0
    user_sid: str | None = None

    @property
    def named(self) -> bool:
        """True when ``data`` holds ``(name, value)`` pairs."""
        return bool(self.data) and all(
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
            for item in self.data
        )
