"""Read the small JSON documents ``npsdiag collect`` writes, without trusting them.

The certificate listing and the extension version come from PowerShell on the server, the
manifest from npsdiag itself; any of them may have been edited, cut short or replaced by
the time they are analysed. Everything here turns such damage into one
:class:`~npsdiag.errors.FactsReadError` line that names the file, and gives typed access to
the members so that a wrong type is a message, never a crash.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TypeVar

from npsdiag.errors import FactsReadError

__all__ = ["JsonObject", "decode_text", "load_document"]

_T = TypeVar("_T")

#: No listing npsdiag writes comes near this; a larger file is not one of them.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


def decode_text(data: bytes) -> str:
    """Text as Windows tools write it: UTF-8 or UTF-16 (with or without a byte-order mark),
    else the ANSI code page (Windows-1252), which decodes any byte."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    sample = data[:512]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 2 * 0.8:
        return data.decode("utf-16-le", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_document(data: bytes, name: str, schema: str) -> JsonObject:
    """Parse one document and check that it is of ``schema``.

    Raises:
        FactsReadError: too large, not JSON, not an object, or another schema.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise FactsReadError(
            f"{name}: {len(data):,} bytes, too large for a file npsdiag collect writes",
            hint="collect again",
        )
    try:
        value = json.loads(decode_text(data))
    except (ValueError, RecursionError) as error:
        where = f" at line {error.lineno}" if isinstance(error, json.JSONDecodeError) else ""
        raise FactsReadError(
            f"{name}: not valid JSON{where} (cut short or edited?)", hint="collect again"
        ) from None
    if not isinstance(value, dict):
        raise FactsReadError(f"{name}: expected a JSON object at the top", hint="collect again")
    document = JsonObject(value, name)
    found = document.text("schema")
    if found != schema:
        raise FactsReadError(
            f"{name}: schema {found!r}, expected {schema!r}",
            hint="analyse it with the npsdiag version that collected it",
        )
    return document


class JsonObject:
    """A JSON object whose members are read with their expected type.

    A member of the wrong type raises :class:`FactsReadError` naming where it is
    (``certificates.json: certificates[2].not_after``); a missing or null member reads as
    empty (``""``, ``None``, ``()``), because PowerShell writes null for what it could not find.
    """

    __slots__ = ("_value", "where")

    def __init__(self, value: Mapping[str, object], where: str) -> None:
        self._value = value
        self.where = where

    def _member(self, key: str, kinds: tuple[type, ...], what: str) -> object:
        value = self._value.get(key)
        if value is None:
            return None
        # bool is an int in Python; JSON keeps them apart and so do we.
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if wrong_bool or not isinstance(value, kinds):
            raise FactsReadError(f"{self.where}.{key}: expected {what}, found {_shown(value)}")
        return value

    def given(self, key: str) -> bool:
        """True when the member exists and is not null."""
        return self._value.get(key) is not None

    def text(self, key: str) -> str:
        """A string member ("" when missing or null)."""
        value = self._member(key, (str,), "a string")
        return value if isinstance(value, str) else ""

    def flag(self, key: str) -> bool | None:
        """A true/false member (None when missing or null)."""
        value = self._member(key, (bool,), "true or false")
        return value if isinstance(value, bool) else None

    def number(self, key: str) -> int | None:
        """An integer member (None when missing or null)."""
        value = self._member(key, (int,), "an integer")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def time(self, key: str) -> datetime | None:
        """An ISO 8601 time member as UTC (None when missing, null or empty)."""
        text = self.text(key)
        if not text:
            return None
        from npsdiag.sources import RecordError, parse_event_time

        try:
            return parse_event_time(text)
        except RecordError as error:
            raise FactsReadError(f"{self.where}.{key}: {error}") from None

    def child(self, key: str) -> JsonObject | None:
        """An object member (None when missing or null)."""
        value = self._member(key, (dict,), "an object")
        return JsonObject(value, f"{self.where}.{key}") if isinstance(value, dict) else None

    def texts(self, key: str) -> tuple[str, ...] | None:
        """A list of strings (None when missing or null; a lone string counts as a list)."""
        value = self._member(key, (list, str), "a list of strings")
        if value is None:
            return None
        items = [value] if isinstance(value, str) else value
        assert isinstance(items, list)
        if not all(isinstance(item, str) for item in items):
            raise FactsReadError(f"{self.where}.{key}: expected a list of strings")
        return tuple(str(item) for item in items)

    def children(self, key: str) -> Iterator[JsonObject | FactsReadError]:
        """The objects of a list member, each as an object or as the error it is.

        PowerShell 5.1 writes a one-element array as the element itself, so a lone object
        counts as a list of one. A member that is not an object is yielded as an error, so the
        caller can count it and go on.
        """
        value = self._member(key, (list, dict), "a list of objects")
        if value is None:
            return
        items = [value] if isinstance(value, dict) else value
        assert isinstance(items, list)
        for index, item in enumerate(items):
            where = f"{self.where}.{key}[{index}]"
            if isinstance(item, dict):
                yield JsonObject(item, where)
            else:
                yield FactsReadError(f"{where}: expected an object, found {_shown(item)}")

    def each(
        self,
        key: str,
        build: Callable[[JsonObject], _T],
        problems: list[str],
        limit: int = 10_000,
    ) -> list[_T]:
        """``build`` applied to every object of a list member; a bad one is left out with a
        line in ``problems`` and the others are kept."""
        built: list[_T] = []
        for index, item in enumerate(self.children(key)):
            if index >= limit:
                problems.append(f"{self.where}.{key}: more than {limit:,} entries; rest not read")
                break
            try:
                if isinstance(item, FactsReadError):
                    raise item
                built.append(build(item))
            except FactsReadError as error:
                problems.append(str(error))
        return built


def _shown(value: object) -> str:
    """A short JSON rendering of a value, for messages."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:39] + "…"
