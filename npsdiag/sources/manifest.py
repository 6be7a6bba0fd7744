"""The manifest of a bundle made by ``npsdiag collect``: what it gathered, what not, and why.

``npsdiag collect`` writes ``manifest.json`` into every bundle, also (above all) when it could
not gather everything: a channel that does not exist on the server, a prompt that was not
elevated, a program that is missing. ``npsdiag analyze`` reads it back and shows every missing
item in the report's per-file accounting, as a line of its own with the reason::

    {
      "schema": "npsdiag/collect-manifest/1",
      "tool": "npsdiag 0.1.0",
      "computer": "NPS01",
      "collected": "2026-01-14T09:30:12Z",
      "since": "24h",
      "window_start": "2026-01-13T09:30:12Z",
      "elevated": true,
      "items": [
        {"file": "NPS01_AuthZOptCh.evtx", "kind": "evtx", "what": "...", "status": "collected",
         "command": ["wevtutil", "epl", "AuthZOptCh", "...", "/q:...", "/ow:true"],
         "reason": "", "size": 69632},
        {"file": "NPS01_Security_NPS.evtx", "kind": "evtx", "what": "...", "status": "missing",
         "command": [...], "reason": "wevtutil: access is denied (exit code 5) ...", "size": null}
      ],
      "notes": ["..."]
    }

This module is the single definition of the layout: the collection writes it with
:func:`manifest_json` and the analysis reads it with :func:`parse_manifest`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from npsdiag.errors import FactsReadError
from npsdiag.sources._json_doc import JsonObject, load_document
from npsdiag.sources.hostfacts import MANIFEST_SCHEMA

__all__ = ["COLLECTED", "MISSING", "Manifest", "ManifestItem", "manifest_json", "parse_manifest"]

#: Item statuses.
COLLECTED = "collected"
MISSING = "missing"
_STATUSES = (COLLECTED, MISSING)


@dataclass(frozen=True, slots=True)
class ManifestItem:
    """One thing the collection tried to gather.

    Attributes:
        file: the file name in the bundle (where it is, or would have been).
        kind: the kind of file (``evtx``, ``regquery``, ``certificates`` ...).
        what: what it is, in words.
        status: ``collected`` or ``missing``.
        command: the program and arguments that were run (never a secret).
        reason: for a missing item why; for a collected one, anything worth knowing ("").
        size: bytes written (None when missing).
    """

    file: str
    kind: str
    what: str
    status: str
    command: tuple[str, ...] = ()
    reason: str = ""
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    """A whole manifest.

    Attributes:
        tool: ``npsdiag <version>`` that collected.
        computer: the server's name.
        collected: when the collection started (UTC).
        since: the time window as given (``24h``).
        window_start: the oldest event time asked for (UTC).
        elevated: whether the prompt was elevated (None when it could not be told).
        items: every item, in collection order.
        notes: one line each about the run as a whole (not elevated ...).
        problems: items of a read manifest that could not be read (left out).
    """

    tool: str
    computer: str
    collected: datetime | None
    since: str
    window_start: datetime | None
    elevated: bool | None
    items: tuple[ManifestItem, ...]
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def missing(self) -> tuple[ManifestItem, ...]:
        """The items that could not be gathered."""
        return tuple(item for item in self.items if item.status == MISSING)


def manifest_json(manifest: Manifest) -> str:
    """The manifest as the JSON text a bundle holds (UTF-8, stable key order)."""
    document = {
        "schema": MANIFEST_SCHEMA,
        "tool": manifest.tool,
        "computer": manifest.computer,
        "collected": _time(manifest.collected),
        "since": manifest.since,
        "window_start": _time(manifest.window_start),
        "elevated": manifest.elevated,
        "items": [
            {
                "file": item.file,
                "kind": item.kind,
                "what": item.what,
                "status": item.status,
                "command": list(item.command),
                "reason": item.reason,
                "size": item.size,
            }
            for item in manifest.items
        ],
        "notes": list(manifest.notes),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def parse_manifest(data: bytes, name: str) -> Manifest:
    """Read a manifest; an item that is not what it should be is left out with a problem line.

    Raises:
        FactsReadError: the file is not a manifest at all.
    """
    document = load_document(data, name, MANIFEST_SCHEMA)
    problems: list[str] = []
    items = document.each("items", _item, problems)
    return Manifest(
        tool=document.text("tool"),
        computer=document.text("computer").strip(),
        collected=document.time("collected"),
        since=document.text("since"),
        window_start=document.time("window_start"),
        elevated=document.flag("elevated"),
        items=tuple(items),
        notes=document.texts("notes") or (),
        problems=tuple(problems),
    )


def _item(item: JsonObject) -> ManifestItem:
    status = item.text("status")
    file = item.text("file").strip()
    if status not in _STATUSES or not file:
        raise FactsReadError(f"{item.where}: expected a file and a status (collected or missing)")
    return ManifestItem(
        file=file,
        kind=item.text("kind"),
        what=item.text("what"),
        status=status,
        command=item.texts("command") or (),
        reason=item.text("reason"),
        size=item.number("size"),
    )


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
