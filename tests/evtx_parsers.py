"""Read .evtx files with two independent parsers into comparable, normalised records.

Tests use this to prove that a file is valid and says exactly what was written:

* :func:`read_with_evtx_rs` uses ``evtx`` (pyevtx-rs) with checksum validation and
  its JSON output;
* :func:`read_with_libevtx` uses ``pyevtx`` (libevtx-python) and parses each record's
  ``xml_string`` with lxml;
* :func:`expected_record` turns an :class:`~npsdiag.synth.records.EventRecord` into
  the normalised record both readers should return for it.

Each reader returns ``(records, errors)``; ``errors`` holds one line per problem the
parser reported (a record it could not render, a bad checksum, recovered slack
records, XML it produced that does not parse). A valid file gives ``errors == []``.

A normalised record is a plain dict with these keys (see :data:`FIELDS`)::

    event_record_id  int
    time             str   UTC ISO 8601 with exactly 6 fraction digits and "Z"
                           (evtx-rs renders microseconds; libevtx's 100 ns digits
                           are truncated to match)
    provider         str
    provider_guid    str | None   upper case, no braces
    event_id         int
    qualifiers       int | None
    version, level, task, opcode, keywords   int
    channel, computer                        str
    activity_id      str | None   upper case, no braces
    process_id, thread_id                    int
    user_sid         str | None
    data             list[tuple[str, str]] for named <Data Name=...> fields,
                     list[str] for unnamed <Data> values ([] for empty EventData)

Data values are the rendered text passed through :func:`canonical_value`, which
only reconciles the two parsers' spellings of the same typed value:

* libevtx pads hex integers to their width (``0x0000001f``); evtx-rs does not
  (``0x1f``). Lower-case ``0x`` + exactly 8 or 16 hex digits becomes ``0x%x``.
* libevtx wraps GUIDs in braces; evtx-rs does not. ``{GUID}`` loses the braces.
* libevtx prints FILETIMEs with 9 fraction digits; 7 to 9 digits are cut to 6.
* An empty string and a NULL both render as an empty element: both become ``""``.

The rules apply to every value on both sides (and in :func:`expected_record`), so a
plain string that happens to look like one of those forms is compared in its
canonical form; nothing else is rewritten.

Known libevtx defects, which normalisation does not hide (evtx-rs gets both right);
:func:`expected_libevtx_record` predicts them so tests notice if they change:

* a negative Int32 ``v`` is printed as minus the low 31 bits of its two's
  complement: -5 as ``-2147483643``, -1 as ``-2147483647``;
* element text that is exactly one line feed (a Data value, Channel or Computer)
  is rendered as an empty element.
"""

from __future__ import annotations

import json
import re
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

from npsdiag.synth.records import Binary, EventRecord, HexInt32, HexInt64, Int32, Sid, Value

__all__ = [
    "FIELDS",
    "canonical_time",
    "canonical_value",
    "expected_libevtx_record",
    "expected_record",
    "read_with_evtx_rs",
    "read_with_libevtx",
]

#: The keys of a normalised record, in a fixed order.
FIELDS = (
    "event_record_id",
    "time",
    "provider",
    "provider_guid",
    "event_id",
    "qualifiers",
    "version",
    "level",
    "task",
    "opcode",
    "keywords",
    "channel",
    "computer",
    "activity_id",
    "process_id",
    "thread_id",
    "user_sid",
    "data",
)

NormalisedRecord = dict[str, Any]

_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
_PADDED_HEX = re.compile(r"0x(?:[0-9a-f]{8}|[0-9a-f]{16})", re.ASCII)
_BRACED_GUID = re.compile(r"\{([0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12})\}")
_LONG_FILETIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})\d{1,3}Z", re.ASCII)
_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", re.ASCII)


def canonical_value(text: str | None) -> str:
    """Return the comparison form of one rendered Data value (see the module notes)."""
    if text is None:
        return ""
    if _PADDED_HEX.fullmatch(text):
        return f"0x{int(text, 16):x}"
    match = _BRACED_GUID.fullmatch(text)
    if match:
        return match.group(1).upper()
    match = _LONG_FILETIME.fullmatch(text)
    if match:
        return match.group(1) + "Z"
    return text


def canonical_time(text: str) -> str:
    """Normalise a rendered ``SystemTime`` to 6 fraction digits (truncating, as evtx-rs does)."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"unexpected SystemTime {text!r}")
    fraction = (match.group(2) or "")[:6].ljust(6, "0")
    return f"{match.group(1)}.{fraction}Z"


def _canonical_guid(text: str | None) -> str | None:
    if text is None:
        return None
    return text.strip("{}").upper()


# --- evtx-rs -------------------------------------------------------------------------------


def read_with_evtx_rs(path: str | Path) -> tuple[list[NormalisedRecord], list[str]]:
    """Read ``path`` with pyevtx-rs (checksums validated) via its JSON output.

    Recoverable per-record problems arrive as ``RuntimeWarning`` (``skip_errors``);
    anything else ends the read. Both become lines in ``errors``.
    """
    import evtx

    records: list[NormalisedRecord] = []
    errors: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser = evtx.PyEvtxParser(
                str(path), number_of_threads=1, validate_checksums=True, skip_errors=True
            )
            for raw in parser.records_json():
                if not isinstance(raw, dict):
                    errors.append(f"evtx-rs: unexpected record object {raw!r}")
                    continue
                try:
                    records.append(_from_evtx_rs(raw))
                except (KeyError, TypeError, ValueError) as error:
                    errors.append(
                        f"evtx-rs record {raw.get('event_record_id')}: unexpected JSON: {error!r}"
                    )
        except (OSError, RuntimeError) as error:
            errors.append(f"evtx-rs: {error}")
    errors.extend(f"evtx-rs: {warning.message}" for warning in caught)
    return records, errors


def _attributes(node: Any) -> dict[str, Any]:
    if isinstance(node, dict):
        attributes = node.get("#attributes")
        if isinstance(attributes, dict):
            return attributes
    return {}


def _text(node: Any) -> Any:
    return node.get("#text") if isinstance(node, dict) else node


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _JsonObject(dict[str, Any]):
    """A JSON object that also keeps its key/value pairs in order, duplicates included."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def _from_evtx_rs(raw: dict[str, Any]) -> NormalisedRecord:
    event = json.loads(raw["data"], object_pairs_hook=_JsonObject)["Event"]
    system = event["System"]
    provider = _attributes(system.get("Provider"))
    event_id = system["EventID"]
    qualifiers = _attributes(event_id).get("Qualifiers")
    user_sid = _attributes(system.get("Security")).get("UserID")
    return {
        "event_record_id": int(system["EventRecordID"]),
        "time": canonical_time(_attributes(system["TimeCreated"])["SystemTime"]),
        "provider": _json_text(provider.get("Name")),
        "provider_guid": _canonical_guid(provider.get("Guid")),
        "event_id": int(_text(event_id)),
        "qualifiers": None if qualifiers is None else int(qualifiers),
        "version": int(system["Version"]),
        "level": int(system["Level"]),
        "task": int(system["Task"]),
        "opcode": int(system["Opcode"]),
        "keywords": int(system["Keywords"], 16),
        "channel": _json_text(system.get("Channel")),
        "computer": _json_text(system.get("Computer")),
        "activity_id": _canonical_guid(_attributes(system.get("Correlation")).get("ActivityID")),
        "process_id": int(_attributes(system["Execution"])["ProcessID"]),
        "thread_id": int(_attributes(system["Execution"])["ThreadID"]),
        "user_sid": None if user_sid is None else str(user_sid),
        "data": _evtx_rs_data(event.get("EventData")),
    }


def _evtx_rs_data(event_data: Any) -> list[tuple[str, str]] | list[str]:
    """Turn evtx-rs' EventData JSON back into named pairs or unnamed values.

    evtx-rs writes unnamed ``<Data>`` values as ``{"Data": {"#text": value or [values]}}``
    and named ones as ``{name: value, ...}`` in document order, repeating a key when
    a name repeats (so the pairs, not the dict, are read).
    """
    if not event_data:
        return []
    pairs = event_data.pairs
    if len(pairs) == 1 and pairs[0][0] == "Data" and isinstance(pairs[0][1], dict):
        text = pairs[0][1].get("#text")
        values = text if isinstance(text, list) else [text]
        return [canonical_value(_json_text(value)) for value in values]
    return [(name, canonical_value(_json_text(value))) for name, value in pairs]


# --- libevtx -------------------------------------------------------------------------------

# XML 1.0 cannot carry these characters even as references, and its parsers turn
# CR, LF and TAB inside attributes into spaces (and CR LF into LF in text). libevtx
# writes them raw, so before parsing they are swapped for private-use stand-ins
# (U+E000 escapes itself), and swapped back in every text and attribute value.
_ESCAPE = "\ue000"
_STAND_INS = {
    **{chr(code): chr(0xE100 + code) for code in range(0x20)},
    "\ufffe": "\ue1fe",
    "\uffff": "\ue1ff",
    _ESCAPE: "\ue120",
}
_ORIGINALS = {stand_in: original for original, stand_in in _STAND_INS.items()}
_RAW_CHARS = re.compile("[\x00-\x1f\ufffe\uffff\ue000]")


def _protect(xml: str) -> str:
    # Whitespace outside the root element must stay plain, so it is stripped first.
    return _RAW_CHARS.sub(lambda match: _ESCAPE + _STAND_INS[match.group()], xml.strip())


def _restore(text: str | None) -> str | None:
    if text is None or _ESCAPE not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        out.append(_ORIGINALS[next(chars)] if char == _ESCAPE else char)
    return "".join(out)


def read_with_libevtx(path: str | Path) -> tuple[list[NormalisedRecord], list[str]]:
    """Read ``path`` with libevtx-python, parsing each record's XML with lxml."""
    import pyevtx
    from lxml import etree

    records: list[NormalisedRecord] = []
    errors: list[str] = []
    log = pyevtx.file()
    try:
        log.open(str(path))
    except OSError as error:
        return [], [f"libevtx: cannot open: {error}"]
    try:
        if log.is_corrupted():
            errors.append("libevtx: file is flagged corrupted")
        if log.number_of_recovered_records:
            errors.append(
                f"libevtx: recovered {log.number_of_recovered_records} record(s) from slack space"
            )
        for index in range(log.number_of_records):
            try:
                xml = log.get_record(index).xml_string
            except OSError as error:
                errors.append(f"libevtx record {index}: {error}")
                continue
            try:
                root = etree.fromstring(_protect(xml).encode("utf-8"))
                records.append(_from_libevtx(root))
            except (etree.XMLSyntaxError, KeyError, TypeError, ValueError) as error:
                errors.append(f"libevtx record {index}: unreadable XML: {error!r}")
    finally:
        log.close()
    return records, errors


def _from_libevtx(root: Any) -> NormalisedRecord:
    system = root.find(f"{_NS}System")

    def child(name: str) -> Any:
        node = system.find(f"{_NS}{name}")
        if node is None:
            raise KeyError(name)
        return node

    def text(name: str) -> str:
        return _restore(child(name).text) or ""

    def attribute(name: str, attr: str) -> str | None:
        return _restore(child(name).get(attr))

    qualifiers = attribute("EventID", "Qualifiers")
    return {
        "event_record_id": int(text("EventRecordID")),
        "time": canonical_time(attribute("TimeCreated", "SystemTime") or ""),
        "provider": attribute("Provider", "Name") or "",
        "provider_guid": _canonical_guid(attribute("Provider", "Guid")),
        "event_id": int(text("EventID")),
        "qualifiers": None if qualifiers is None else int(qualifiers),
        "version": int(text("Version")),
        "level": int(text("Level")),
        "task": int(text("Task")),
        "opcode": int(text("Opcode")),
        "keywords": int(text("Keywords"), 16),
        "channel": text("Channel"),
        "computer": text("Computer"),
        "activity_id": _canonical_guid(attribute("Correlation", "ActivityID")),
        "process_id": int(attribute("Execution", "ProcessID") or ""),
        "thread_id": int(attribute("Execution", "ThreadID") or ""),
        "user_sid": attribute("Security", "UserID"),
        "data": _libevtx_data(root.find(f"{_NS}EventData")),
    }


def _libevtx_data(event_data: Any) -> list[tuple[str, str]] | list[str]:
    if event_data is None:
        return []
    items = event_data.findall(f"{_NS}Data")
    if any(item.get("Name") is not None for item in items):
        return [
            (_restore(item.get("Name")) or "", canonical_value(_restore(item.text)))
            for item in items
        ]
    return [canonical_value(_restore(item.text)) for item in items]


# --- expectations --------------------------------------------------------------------------


def _pairs(record: EventRecord) -> list[tuple[str, Value]]:
    return [cast("tuple[str, Value]", item) for item in record.data]


def _expected_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Sid):
        return str(value)
    if isinstance(value, str):
        return canonical_value(value)
    if isinstance(value, (HexInt32, HexInt64)):
        return f"0x{int(value):x}"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    if isinstance(value, (bytes, Binary)):
        return bytes(value).hex().upper()
    raise TypeError(f"no expectation for {type(value).__name__}")


def expected_record(record: EventRecord, record_id: int) -> NormalisedRecord:
    """Return the normalised record that reading ``record`` back should give.

    Args:
        record: what was written.
        record_id: the EventRecordID the writer returned for it.
    """
    if record.named:
        data: list[tuple[str, str]] | list[str] = [
            (name, _expected_value(value)) for name, value in _pairs(record)
        ]
    else:
        data = [_expected_value(value) for value in record.data]
    return {
        "event_record_id": record_id,
        "time": record.time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "provider": record.provider,
        "provider_guid": _canonical_guid(
            None if record.provider_guid is None else str(record.provider_guid)
        ),
        "event_id": record.event_id,
        "qualifiers": record.qualifiers,
        "version": record.version,
        "level": record.level,
        "task": record.task,
        "opcode": record.opcode,
        "keywords": record.keywords,
        "channel": record.channel,
        "computer": record.computer,
        "activity_id": _canonical_guid(
            None if record.activity_id is None else str(record.activity_id)
        ),
        "process_id": record.process_id,
        "thread_id": record.thread_id,
        "user_sid": record.user_sid,
        "data": data,
    }


def _libevtx_text(text: str) -> str:
    """libevtx drops one leading U+FEFF from every string (it reads it as a byte-order mark)."""
    return text[1:] if text.startswith("\ufeff") else text


def _libevtx_value(value: object) -> str:
    if isinstance(value, Int32) and value < 0:
        magnitude = (int(value) & 0x7FFFFFFF) or 0x80000000
        return f"-{magnitude}"
    if isinstance(value, str) and not isinstance(value, Sid):
        value = _libevtx_text(value)
        if value == "\n":
            return ""
        return value
    return _expected_value(value)


def expected_libevtx_record(record: EventRecord, record_id: int) -> NormalisedRecord:
    """Like :func:`expected_record`, with libevtx's known defects applied."""
    expected = expected_record(record, record_id)
    for key in ("provider", "channel", "computer"):
        expected[key] = _libevtx_text(expected[key])
        if expected[key] == "\n":
            expected[key] = ""
    if record.named:
        expected["data"] = [
            (_libevtx_text(name), _libevtx_value(value)) for name, value in _pairs(record)
        ]
    else:
        expected["data"] = [_libevtx_value(value) for value in record.data]
    return expected
