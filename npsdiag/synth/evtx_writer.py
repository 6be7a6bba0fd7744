"""Write Windows XML Event Log (.evtx) files from :class:`EventRecord` values.

The writer streams: it keeps one 64 KiB chunk in memory, writes each chunk when
the next record no longer fits, and rewrites the 4 KiB file header on close.
Records are stored the way Windows stores them: a Binary XML fragment header
followed by a template instance whose definition is written inline on the
template's first use in a chunk and referenced by offset afterwards. See
``docs/evtx-writer.md`` for the layout, the limits and how the output is proven.

Example:
    >>> from datetime import datetime, timezone
    >>> import io
    >>> record = EventRecord(
    ...     provider="Microsoft-AzureMfa-AuthZ", event_id=1, channel="AuthZOptCh",
    ...     computer="nps01", time=datetime(2024, 5, 1, tzinfo=timezone.utc), data=("text",))
    >>> write_evtx(io.BytesIO(), [record])
    1

References:
    - [MS-EVEN6] Windows XML Event Log: BinXml.
    - libyal libevtx, "Windows XML Event Log (EVTX) format": file header, chunk
      header, event record, common string and template pointer tables.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from npsdiag.errors import EvtxWriteError
from npsdiag.synth._binxml import (
    FRAGMENT_HEADER,
    TOKEN_TEMPLATE_INSTANCE,
    FragmentBuilder,
    NameTable,
    Shape,
    Template,
    ValueEncoder,
    template_for,
)
from npsdiag.synth.records import EventRecord

__all__ = [
    "CHUNK_SIZE",
    "FILE_HEADER_SIZE",
    "MAX_RECORD_SIZE",
    "EvtxWriter",
    "write_evtx",
]

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
# Records end at least 8 bytes before the chunk does: libevtx silently skips a chunk
# whose free space offset is 65536, and no Windows log in the public corpus fills a
# chunk beyond 65528.
_RECORDS_END = CHUNK_SIZE - 8
#: The largest record that fits in an otherwise empty chunk.
MAX_RECORD_SIZE = _RECORDS_END - CHUNK_HEADER_SIZE
MAX_CHUNKS = 0xFFFF  # the file header counts chunks in 16 bits
# The file header stores the id after the last one in 64 bits, so that one must fit.
MAX_RECORD_ID = 0xFFFFFFFFFFFFFFFE

_FILE_SIGNATURE = b"ElfFile\x00"
_CHUNK_SIGNATURE = b"ElfChnk\x00"
_RECORD_SIGNATURE = 0x00002A2A
_HEADER_SIZE_FIELD = 128
_MINOR_VERSION = 1
_MAJOR_VERSION = 3
_FILE_FLAG_DIRTY = 0x1
# Every chunk of every Windows log in the public corpus has flags 1 (bit 4 marks
# "no CRC32", seen only in a deliberately odd sample), so chunks carry 1 too.
_CHUNK_FLAGS = 0x1
_RECORD_HEADER = struct.Struct("<IIQQ")  # signature, size, record id, written time
_RECORD_OVERHEAD = _RECORD_HEADER.size + 4  # + trailing size copy
# Fragment header + template instance header (token, 0x01, template id, definition offset).
_INSTANCE_HEADER_SIZE = len(FRAGMENT_HEADER) + 10
# The document ends with an end-of-file token after the template instance, as in
# Windows' records (libevtx reads one and fails on whatever byte it finds instead).
_EOF = b"\x00"


class _Chunk:
    """The chunk being filled: its bytes, its string and template tables, its record range."""

    __slots__ = (
        "buffer",
        "count",
        "first_id",
        "first_number",
        "instance_prefixes",
        "last_id",
        "last_offset",
        "names",
        "template_heads",
    )

    def __init__(self, first_number: int) -> None:
        self.buffer = bytearray(CHUNK_HEADER_SIZE)
        self.names = NameTable()
        self.template_heads = [0] * 32
        # Template -> fragment header + instance header referencing its definition.
        self.instance_prefixes: dict[Template, bytes] = {}
        self.first_number = first_number
        self.count = 0
        self.first_id = 0
        self.last_id = 0
        self.last_offset = 0

    def finish(self) -> bytes:
        """Return the complete 64 KiB chunk: header, tables, records, zero-filled free space."""
        free_offset = len(self.buffer)
        data = self.buffer + bytes(CHUNK_SIZE - free_offset)
        # An empty chunk (a file without records) claims records 0..0 with its last
        # record offset 0: libevtx reads no record from it and flags a first number
        # above the last one as corruption.
        first_number = self.first_number if self.count else 0
        last_number = self.first_number + self.count - 1 if self.count else 0
        struct.pack_into(
            "<8sQQQQIIII",
            data,
            0,
            _CHUNK_SIGNATURE,
            first_number,
            last_number,
            self.first_id,
            self.last_id,
            _HEADER_SIZE_FIELD,
            self.last_offset,
            free_offset,
            zlib.crc32(data[CHUNK_HEADER_SIZE:free_offset]),
        )
        struct.pack_into("<I", data, 120, _CHUNK_FLAGS)
        struct.pack_into("<64I", data, 128, *self.names.heads)
        struct.pack_into("<32I", data, 384, *self.template_heads)
        header_crc = zlib.crc32(data[128:CHUNK_HEADER_SIZE], zlib.crc32(data[:120]))
        struct.pack_into("<I", data, 124, header_crc)
        return bytes(data)


class _Placement:
    """A record encoded for one chunk, not yet committed to it."""

    __slots__ = ("binxml", "builder", "definition_offset", "prefix", "size")

    def __init__(
        self,
        binxml: bytes,
        size: int,
        prefix: bytes,
        builder: FragmentBuilder | None,
        definition_offset: int,
    ) -> None:
        self.binxml = binxml
        self.size = size
        self.prefix = prefix
        self.builder = builder
        self.definition_offset = definition_offset


def _place(chunk: _Chunk, template: Template, values: bytes) -> _Placement:
    """Lay a record out for the end of ``chunk`` (its template inline when new there)."""
    prefix = chunk.instance_prefixes.get(template)
    builder = None
    definition_offset = 0
    if prefix is None:
        # The definition follows the instance header directly; parsers recognise an
        # inline definition by its offset pointing right there.
        definition_offset = len(chunk.buffer) + _RECORD_HEADER.size + _INSTANCE_HEADER_SIZE
        builder = FragmentBuilder(chunk.names, definition_offset)
        definition = builder.template_definition(template, chunk.template_heads[template.bucket])
        prefix = FRAGMENT_HEADER + struct.pack(
            "<BBII", TOKEN_TEMPLATE_INSTANCE, 0x01, template.template_id, definition_offset
        )
        binxml = prefix + definition + values + _EOF
    else:
        binxml = prefix + values + _EOF
    # Windows pads every record to a multiple of 8 bytes (zeros before the size copy).
    size = (len(binxml) + _RECORD_OVERHEAD + 7) & ~7
    return _Placement(binxml, size, prefix, builder, definition_offset)


class EvtxWriter:
    """Stream :class:`EventRecord` values into an .evtx file.

    The stream must be binary, writable and seekable; the file starts at the
    stream's position when the writer is created. A provisional header marked
    dirty is written at once and replaced by the final one in :meth:`close`, so a
    file whose writing failed half-way is never mistaken for a complete one.

    A record that cannot be encoded raises :class:`EvtxWriteError` before anything
    of it reaches the chunk; the writer stays usable for further records.

    Args:
        stream: where to write the file.

    Raises:
        EvtxWriteError: the stream is not seekable.
    """

    def __init__(self, stream: BinaryIO) -> None:
        try:
            seekable = stream.seekable()
        except (AttributeError, OSError, ValueError):
            seekable = False
        if not seekable:
            raise EvtxWriteError("EVTX output needs a seekable binary stream (a file or BytesIO)")
        self._stream = stream
        self._origin = stream.tell()
        self._encoder = ValueEncoder()
        self._templates: dict[Shape, Template] = {}
        self._chunk: _Chunk | None = None
        self._chunks_written = 0
        self._records_written = 0
        self._last_id = 0
        self._closed = False
        self._write_file_header(_FILE_FLAG_DIRTY)

    @property
    def records_written(self) -> int:
        """How many records have been accepted so far."""
        return self._records_written

    @property
    def chunks_written(self) -> int:
        """How many chunks are complete (the chunk being filled is not counted)."""
        return self._chunks_written

    def write(self, record: EventRecord) -> int:
        """Add one record and return the EventRecordID it was given.

        ``record.record_id`` None means "previous id + 1" (1 for the first record).
        Explicit ids must be greater than every id written before, so that chunk and
        file headers describe ascending ranges the way Windows writes them.

        Raises:
            EvtxWriteError: the record cannot be encoded (the message says which
                record and why) or the writer is closed.
        """
        if self._closed:
            raise EvtxWriteError("cannot write to an EVTX writer that is closed")
        number = self._records_written + 1
        record_id = self._record_id(record, number)
        what = f"record {number} (EventRecordID {record_id})"
        shape, values, filetime = self._encoder.encode(record, record_id, what)
        template = self._templates.get(shape)
        if template is None:
            template = template_for(shape)
            self._templates[shape] = template

        chunk = self._chunk
        if chunk is None:
            chunk = _Chunk(first_number=number)
        placement = _place(chunk, template, values)
        if len(chunk.buffer) + placement.size > _RECORDS_END:
            fresh = _Chunk(first_number=number)
            placement = _place(fresh, template, values)
            if CHUNK_HEADER_SIZE + placement.size > _RECORDS_END:
                raise EvtxWriteError(
                    f"{what}: needs {placement.size} bytes, but a chunk holds at most "
                    f"{MAX_RECORD_SIZE} bytes of records; shorten its strings"
                )
            if chunk.count:
                self._flush(chunk)
            chunk = fresh
        if chunk.count == 0 and self._chunks_written >= MAX_CHUNKS:
            raise EvtxWriteError(f"{what}: an EVTX file holds at most {MAX_CHUNKS} chunks")
        self._commit(chunk, template, placement, record_id, filetime)
        self._chunk = chunk
        self._records_written = number
        self._last_id = record_id
        return record_id

    def close(self) -> None:
        """Write the last chunk and the final file header. Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._chunk is not None and self._chunk.count:
            self._flush(self._chunk)
        elif self._chunks_written == 0:
            # Windows logs always hold at least one chunk; libevtx calls a file
            # without any corrupted.
            self._flush(_Chunk(first_number=0))
        self._chunk = None
        self._write_file_header(0)
        self._stream.flush()

    def abandon(self) -> None:
        """Stop without finishing: the file keeps its provisional header marked dirty."""
        self._closed = True
        self._chunk = None

    def __enter__(self) -> EvtxWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()

    # --- internals ---------------------------------------------------------------------------

    def _record_id(self, record: EventRecord, number: int) -> int:
        wanted = getattr(record, "record_id", None)
        if wanted is None:
            record_id = self._last_id + 1
        elif isinstance(wanted, bool) or not isinstance(wanted, int):
            raise EvtxWriteError(f"record {number}: record_id must be an int, not {wanted!r}")
        elif wanted <= self._last_id:
            raise EvtxWriteError(
                f"record {number}: record_id {wanted} is not greater than the previous "
                f"EventRecordID {self._last_id}; ids must ascend"
            )
        else:
            record_id = wanted
        if not 1 <= record_id <= MAX_RECORD_ID:
            raise EvtxWriteError(
                f"record {number}: record_id {record_id} is out of range (1..{MAX_RECORD_ID})"
            )
        return record_id

    def _commit(
        self,
        chunk: _Chunk,
        template: Template,
        placement: _Placement,
        record_id: int,
        filetime: int,
    ) -> None:
        offset = len(chunk.buffer)
        size = placement.size
        buffer = chunk.buffer
        buffer += _RECORD_HEADER.pack(_RECORD_SIGNATURE, size, record_id, filetime)
        buffer += placement.binxml
        buffer += bytes(size - _RECORD_OVERHEAD - len(placement.binxml))
        buffer += struct.pack("<I", size)
        if placement.builder is not None:
            placement.builder.commit()
            chunk.template_heads[template.bucket] = placement.definition_offset
            chunk.instance_prefixes[template] = placement.prefix
        if chunk.count == 0:
            chunk.first_id = record_id
        chunk.count += 1
        chunk.last_id = record_id
        chunk.last_offset = offset

    def _flush(self, chunk: _Chunk) -> None:
        data = chunk.finish()
        try:
            self._stream.seek(self._origin + FILE_HEADER_SIZE + self._chunks_written * CHUNK_SIZE)
            self._stream.write(data)
        except BaseException:
            self.abandon()
            raise
        self._chunks_written += 1

    def _write_file_header(self, flags: int) -> None:
        chunks = self._chunks_written
        header = bytearray(FILE_HEADER_SIZE)
        struct.pack_into(
            "<8sQQQIHHHH",
            header,
            0,
            _FILE_SIGNATURE,
            0,  # first chunk number
            max(chunks - 1, 0),  # last chunk number
            self._last_id + 1,  # next record identifier
            _HEADER_SIZE_FIELD,
            _MINOR_VERSION,
            _MAJOR_VERSION,
            FILE_HEADER_SIZE,
            chunks,
        )
        struct.pack_into("<I", header, 120, flags)
        struct.pack_into("<I", header, 124, zlib.crc32(header[:120]))
        end = self._origin + FILE_HEADER_SIZE + chunks * CHUNK_SIZE
        try:
            self._stream.seek(self._origin)
            self._stream.write(header)
            self._stream.seek(end)
        except BaseException:
            self.abandon()
            raise


def write_evtx(
    target: str | os.PathLike[str] | BinaryIO,
    records: Iterable[EventRecord],
) -> int:
    """Write ``records`` to ``target`` as one .evtx file and return how many were written.

    A path target is written to a temporary file beside it and renamed into place
    only when every record was written, so a refused record leaves no file behind.
    A stream target is left with its provisional (dirty) header on failure.

    Raises:
        EvtxWriteError: a record cannot be encoded, or the path cannot be written.
    """
    if isinstance(target, (str, os.PathLike)):
        path = Path(target)
        partial = path.with_name(f".{path.name}.partial")
        try:
            with open(partial, "wb") as stream:
                count = _write_all(stream, records)
            partial.replace(path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise EvtxWriteError(f"cannot write {path}: {error.strerror or error}") from error
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return count
    return _write_all(target, records)


def _write_all(stream: BinaryIO, records: Iterable[EventRecord]) -> int:
    with EvtxWriter(stream) as writer:
        for record in records:
            writer.write(record)
    return writer.records_written
