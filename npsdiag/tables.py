"""Reference tables that ship with the catalog: Entra sign-in codes and known event ids.

Catalog entries (``catalog/*.yaml``) explain causes. These tables only name things, so that
npsdiag can say what a code or an event id is even where no entry explains it:

* ``catalog/tables/aadsts.yaml``: every AADSTS code of Microsoft's public error-code reference,
  with its symbolic name (a product string) or, where the reference gives none, a short
  meaning in the project's own words;
* ``catalog/tables/events.yaml``: the event ids npsdiag reads, per log and source, with what
  each one is and the catalog entries that explain it (``npsdiag explain 6273``).

Both are validated strictly by ``npsdiag catalog check`` (unknown and duplicate keys, bad
codes, entries that do not exist); field meanings are documented in catalog/README.md.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npsdiag._yaml_keys import repeated_keys

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = [
    "AADSTS_FILE",
    "EVENTS_FILE",
    "TABLES_DIR",
    "AadstsCode",
    "KnownEvent",
    "Tables",
    "read_tables",
    "unknown_entries",
]

#: The folder, inside a catalog folder, that holds the tables.
TABLES_DIR = "tables"
AADSTS_FILE = "aadsts.yaml"
EVENTS_FILE = "events.yaml"

#: Reports one problem: file, where in it (or None), message.
Report = Callable[[str, "str | None", str], None]

_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]{0,127}$")
_URL = re.compile(r"^https://[^\s/]+\.[^\s/]+(?:/\S*)?$")
_ENTRY_ID = re.compile(r"^[a-z][a-z0-9]*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*){1,2}$")
_AADSTS_KEYS = ("name", "meaning")
_AADSTS_TOP_KEYS = ("source", "lookup", "codes")
_EVENT_KEYS = ("id", "log", "source", "what", "entries", "hint")
_EVENTS_TOP_KEYS = ("source", "events")


def _words(name: str) -> str:
    """``InvalidUserNameOrPassword`` -> ``invalid user name or password``."""
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name.replace("_", " "))
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", spaced)
    return " ".join(spaced.split()).lower()


@dataclass(frozen=True, slots=True)
class AadstsCode:
    """One row of the AADSTS table.

    Attributes:
        code: ``AADSTS50126``.
        name: the reference's symbolic name (``InvalidUserNameOrPassword``), or None.
        meaning: a short meaning in the project's words, where the reference gives no name.
        lookup: Microsoft's live lookup page for the code.
    """

    code: str
    name: str | None
    meaning: str | None
    lookup: str

    def describe(self) -> str:
        """``InvalidUserNameOrPassword (invalid user name or password)``, or the meaning."""
        if self.name and self.meaning:
            return f"{self.name}: {self.meaning}"
        if self.name:
            return f"{self.name} ({_words(self.name)})"
        return self.meaning or ""


@dataclass(frozen=True, slots=True)
class KnownEvent:
    """An event id npsdiag reads, as ``npsdiag explain <id>`` describes it."""

    event_id: int
    log: str
    source: str
    what: str
    entries: tuple[str, ...] = ()
    hint: str | None = None


@dataclass(frozen=True)
class Tables:
    """The loaded tables; empty ones when a catalog folder has none."""

    aadsts_codes: Mapping[str, AadstsCode] = field(default_factory=dict)
    events: tuple[KnownEvent, ...] = ()
    aadsts_source: str | None = None
    events_source: str | None = None
    files: tuple[str, ...] = ()

    def aadsts(self, code: str) -> AadstsCode | None:
        """The row of ``AADSTS<n>``, or None."""
        return self.aadsts_codes.get(code)

    def events_with_id(self, event_id: int) -> tuple[KnownEvent, ...]:
        """Every known event with this id (one id can mean different events per source)."""
        return tuple(event for event in self.events if event.event_id == event_id)


def read_tables(root: Traversable | Path | None, label: str, report: Report) -> Tables:
    """Read and validate the tables under ``root`` (a catalog folder); missing files are fine.

    Args:
        root: the catalog folder, or None for no tables.
        label: how files are named in messages (``catalog`` for the shipped one).
        report: called for every error found.
    """
    if root is None:
        return Tables()
    folder = root / TABLES_DIR
    if not folder.is_dir():
        return Tables()
    files: list[str] = []
    aadsts: Mapping[str, AadstsCode] = {}
    aadsts_source = None
    events: tuple[KnownEvent, ...] = ()
    events_source = None
    data = _read(folder, AADSTS_FILE, label, files, report)
    if data is not None:
        aadsts, aadsts_source = _aadsts(data, files[-1], report)
    data = _read(folder, EVENTS_FILE, label, files, report)
    if data is not None:
        events, events_source = _events(data, files[-1], report)
    return Tables(
        aadsts_codes=dict(aadsts),
        events=events,
        aadsts_source=aadsts_source,
        events_source=events_source,
        files=tuple(files),
    )


def _read(
    folder: Traversable | Path, file: str, label: str, files: list[str], report: Report
) -> Any:
    """The parsed table ``file`` (appending its name to ``files``), or None when absent or bad."""
    path = folder / file
    if not path.is_file():
        return None
    name = f"{label}/{TABLES_DIR}/{file}"
    files.append(name)
    return _load(path, name, report)


def unknown_entries(tables: Tables, ids: Iterable[str], report: Report) -> None:
    """Report every event that names an entry id missing from ``ids`` (or its family)."""
    known = set(ids)
    families = {".".join(entry_id.split(".")[:2]) for entry_id in known}
    name = next((file for file in tables.files if file.endswith(EVENTS_FILE)), EVENTS_FILE)
    for event in tables.events:
        for entry_id in event.entries:
            if entry_id not in known and entry_id not in families:
                report(name, f"event {event.event_id} ({event.source})", f"no entry '{entry_id}'")


def _load(path: Traversable | Path, name: str, report: Report) -> Any:
    import yaml  # imported here: the CLI's --help must not pay for it

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        report(name, None, f"cannot read the file: {error}")
        return None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            report(name, None, "the file is empty")
            return None
        for _, line in repeated_keys(node):
            report(name, f"line {line}", "duplicate key")
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        report(name, where, f"not valid YAML: {getattr(error, 'problem', None) or error}")
        return None
    finally:
        loader.dispose()


def _top(data: Any, keys: tuple[str, ...], name: str, report: Report) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        report(name, None, f"the top level must be a mapping with keys {', '.join(keys)}")
        return None
    for key in data:
        if key not in keys:
            report(name, None, f"unknown key '{key}' (expected one of: {', '.join(keys)})")
    source = data.get("source")
    if not isinstance(source, str) or not _URL.match(source):
        report(name, None, "'source' must be the https URL the table was built from")
    return data


def _aadsts(data: Any, name: str, report: Report) -> tuple[dict[str, AadstsCode], str | None]:
    top = _top(data, _AADSTS_TOP_KEYS, name, report)
    if top is None:
        return {}, None
    lookup = top.get("lookup")
    if not isinstance(lookup, str) or not _URL.match(lookup):
        report(name, None, "'lookup' must be an https URL to which a code number is appended")
        lookup = ""
    codes = top.get("codes")
    if not isinstance(codes, dict) or not codes:
        report(name, None, "'codes' must map code numbers to {name, meaning}")
        return {}, top.get("source")
    rows: dict[str, AadstsCode] = {}
    for number, row in codes.items():
        where = f"code {number}"
        if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
            report(name, where, "a code must be a positive number (the digits after AADSTS)")
            continue
        if not isinstance(row, dict) or not row:
            report(name, where, "must map 'name' and/or 'meaning' to text")
            continue
        unknown = [key for key in row if key not in _AADSTS_KEYS]
        for key in unknown:
            report(name, where, f"unknown key '{key}' (expected one of: name, meaning)")
        symbol = row.get("name")
        meaning = row.get("meaning")
        if symbol is not None and not (isinstance(symbol, str) and _NAME.match(symbol)):
            report(name, where, f"name '{symbol}' must be a symbolic name such as InvalidClient")
            continue
        if meaning is not None and not (isinstance(meaning, str) and meaning.strip()):
            report(name, where, "meaning must be a non-empty text")
            continue
        if symbol is None and meaning is None:
            report(name, where, "needs a 'name' or a 'meaning'")
            continue
        if unknown:
            continue
        code = f"AADSTS{number}"
        rows[code] = AadstsCode(
            code, symbol, meaning.strip() if meaning else None, f"{lookup}{number}"
        )
    return rows, top.get("source")


def _events(data: Any, name: str, report: Report) -> tuple[tuple[KnownEvent, ...], str | None]:
    top = _top(data, _EVENTS_TOP_KEYS, name, report)
    if top is None:
        return (), None
    raw_events = top.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        report(name, None, "'events' must be a list of events")
        return (), top.get("source")
    events: list[KnownEvent] = []
    seen: set[tuple[int, str]] = set()
    for position, raw in enumerate(raw_events, start=1):
        where = f"event #{position}"
        if not isinstance(raw, dict):
            report(name, where, "an event must be a mapping")
            continue
        problems = [key for key in raw if key not in _EVENT_KEYS]
        for key in problems:
            report(name, where, f"unknown key '{key}' (expected one of: {', '.join(_EVENT_KEYS)})")
        event_id = raw.get("id")
        if isinstance(event_id, bool) or not isinstance(event_id, int) or event_id < 0:
            report(name, where, "'id' must be a non-negative event id")
            continue
        where = f"event {event_id}"
        texts = {key: raw.get(key) for key in ("log", "source", "what")}
        bad = [key for key, value in texts.items() if not isinstance(value, str) or not value]
        for key in bad:
            report(name, where, f"'{key}' must be a non-empty text")
        entries = raw.get("entries", [])
        if not isinstance(entries, list) or not all(
            isinstance(item, str) and _ENTRY_ID.match(item) for item in entries
        ):
            report(name, where, "'entries' must be a list of catalog entry ids")
            continue
        hint = raw.get("hint")
        if hint is not None and (not isinstance(hint, str) or not hint.strip()):
            report(name, where, "'hint' must be a non-empty text")
            continue
        key = (event_id, str(texts["source"]).lower())
        if key in seen:
            report(name, where, f"listed twice for source {texts['source']}")
            continue
        seen.add(key)
        if problems or bad:
            continue
        events.append(
            KnownEvent(
                event_id=event_id,
                log=str(texts["log"]),
                source=str(texts["source"]),
                what=str(texts["what"]).strip(),
                entries=tuple(entries),
                hint=hint.strip() if hint else None,
            )
        )
    return tuple(events), top.get("source")
