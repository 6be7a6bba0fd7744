"""Where the bulk of the evidence lives while a case is diagnosed: out of memory.

An NPS Security event carries some thirty named values (2-3 KB as Python objects); the
diagnosis needs none of them once the extractor has read the user, the reason code and the
client. So right after extraction, the event's payload (``fields``, ``data``, ``message``)
leaves the Event, which keeps only what grouping, ordering and reports need to place it (time,
channel, provider, id, computer, record id, origin). Memory then grows with the number of
relevant events by a few hundred bytes each, not by kilobytes.

What happens to the payload is decided by the reports to be written:

- ``spill``: written to an unnamed temporary file (``marshal``, read back by offset) for the
  reports that show evidence (HTML, JSON, JSON Lines, Markdown); :meth:`EvidenceStore.full`
  returns the whole event again, one at a time, when a report renders it;
- ``drop``: thrown away, when no report shows an evidence event (terminal, CSV);
- ``memory``: kept on the Event (an analysis built in memory, tests, ``explain``).

The temporary file has no name on POSIX and is deleted on close on Windows, so an interrupted
run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import marshal
import struct
import tempfile
from collections.abc import Mapping
from typing import IO

from npsdiag.model import Event

__all__ = ["DROP", "MEMORY", "SPILL", "EvidenceStore"]

SPILL = "spill"
DROP = "drop"
MEMORY = "memory"

#: What a payload-less event holds instead of its fields (shared; nothing writes to it, and a
#: plain dict keeps events picklable).
_NO_FIELDS: Mapping[str, str] = {}
_LENGTH = struct.Struct("<I")
#: Payloads are written in batches of about this many bytes.
_BATCH = 1 << 20


class EvidenceStore:
    """The payloads of the events of one analysis.

    Args:
        mode: :data:`SPILL`, :data:`DROP` or :data:`MEMORY` (see the module's description).
    """

    def __init__(self, mode: str = MEMORY) -> None:
        if mode not in (SPILL, DROP, MEMORY):
            raise ValueError(f"unknown evidence mode {mode!r}")
        self.mode = mode
        self._file: IO[bytes] | None = None
        #: Where the next payload goes in the file, pending ones included.
        self._end = 0
        #: Payloads not written yet, with their events: written a megabyte at a time, and
        #: given back to their events if writing fails (a full temporary folder).
        self._pending: list[tuple[Event, bytes]] = []
        self._pending_bytes = 0

    @property
    def restorable(self) -> bool:
        """Whether :meth:`full` gives events back with their payload."""
        return self.mode != DROP

    def release(self, event: Event) -> None:
        """Move ``event``'s payload out of memory (or drop it), as the mode says."""
        if self.mode == MEMORY or event.ref is not None:
            return
        if self.mode == SPILL:
            blob = marshal.dumps((dict(event.fields), event.data, event.message))
            record = _LENGTH.pack(len(blob)) + blob
            self._pending.append((event, record))
            self._pending_bytes += len(record)
            event.ref = self._end
            self._end += len(record)
        else:
            event.ref = -1
        event.fields = _NO_FIELDS
        event.data = ()
        event.message = None
        event._text = None
        if self._pending_bytes >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        """Write the pending payloads; if the disk refuses, give them back to their events."""
        if not self._pending:
            return
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        start = pending[0][0].ref or 0
        try:
            handle = self._handle()
            handle.seek(start)
            handle.write(b"".join(record for _event, record in pending))
            handle.flush()
        except OSError:
            # The temporary folder is full or gone: keep these and later payloads in memory
            # rather than lose evidence a report will show (correct, only bigger).
            for event, record in pending:
                event.fields, event.data, event.message = marshal.loads(record[_LENGTH.size :])
                event.ref = None
            self.mode = MEMORY

    def full(self, event: Event) -> Event:
        """``event`` with its payload: itself when it still has it, else a restored copy.

        A dropped payload cannot be restored: the event comes back as it is.
        """
        if self._pending:
            self._flush()
        ref = event.ref
        if ref is None or ref < 0 or self._file is None:
            return event
        handle = self._file
        handle.seek(ref)
        (length,) = _LENGTH.unpack(handle.read(_LENGTH.size))
        fields, data, message = marshal.loads(handle.read(length))
        return Event(
            time=event.time,
            channel=event.channel,
            provider=event.provider,
            event_id=event.event_id,
            level=event.level,
            computer=event.computer,
            record_id=event.record_id,
            fields=fields,
            data=data,
            message=message,
            origin=event.origin,
            qualifiers=event.qualifiers,
            keywords=event.keywords,
        )

    def _handle(self) -> IO[bytes]:
        if self._file is None:
            # Lives as long as the store; close() deletes it.
            self._file = tempfile.TemporaryFile(prefix="npsdiag-evidence-")  # noqa: SIM115
        return self._file

    def close(self) -> None:
        """Delete the temporary file (events can no longer be restored)."""
        self._pending, self._pending_bytes = [], 0
        if self._file is not None:
            with contextlib.suppress(OSError):  # its content is thrown away anyway
                self._file.close()
            self._file = None
        self.mode = DROP

    def __enter__(self) -> EvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
