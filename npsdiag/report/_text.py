"""The text policies of the reports: how untrusted text, times and counts are written.

Event text is hostile input. JSON keeps every character (only lone surrogates, which cannot
be encoded as UTF-8, become U+FFFD, :func:`json_text`); the display formats also make control
and bidirectional-override characters visible (:func:`display_text`) so that no event can
restyle a terminal, reorder a line, or hide text.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from npsdiag._words import plural

__all__ = [
    "TIME_FORMAT",
    "display_text",
    "format_time",
    "json_text",
    "plural",
    "shorten",
    "time_window",
]

#: The one timestamp format of every report (UTC, microseconds, ``Z`` suffix).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

#: Characters that reorder text (bidirectional embeddings, overrides, isolates, marks).
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

# C0 controls except TAB and LF, DEL, C1 controls (0x9B is a one-byte CSI in some
# terminals), bidi controls, Unicode line separators and lone surrogates.
_UNSAFE_DISPLAY = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI_CONTROLS + "\u2028\u2029\ud800-\udfff]"
)
_SURROGATES = re.compile("[\ud800-\udfff]")


def _display_replacement(match: re.Match[str]) -> str:
    character = match.group()
    code = ord(character)
    if code < 0x20:
        # Control Pictures block: U+2400 + code shows e.g. ESC as a visible symbol.
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if character in "\u2028\u2029":
        return "\n"
    if character in _BIDI_CONTROLS:
        return f"<U+{code:04X}>"
    return "\ufffd"  # C1 controls and lone surrogates


def display_text(text: str) -> str:
    """Make untrusted text safe to show: nothing invisible, nothing that restyles or reorders.

    Line endings become ``\\n``; TAB and LF are kept; other C0 controls become their
    Control Pictures symbol (ESC shows as U+241B); C1 controls and lone surrogates
    become U+FFFD; bidirectional controls are spelled out as ``<U+202E>``.

    Args:
        text: Any string, possibly hostile.

    Returns:
        The cleaned string (the same object when nothing needed cleaning).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Printable ASCII (no control character at all) needs nothing; two tests in C settle
    # that common case before the regular expression.
    if (text.isascii() and text.isprintable()) or _UNSAFE_DISPLAY.search(text) is None:
        return text
    return _UNSAFE_DISPLAY.sub(_display_replacement, text)


def json_text(text: str) -> str:
    """Keep every character except lone surrogates, which UTF-8 cannot encode."""
    if text.isascii() or _SURROGATES.search(text) is None:
        return text
    return _SURROGATES.sub("\ufffd", text)


def shorten(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    kept = max(limit, 0)
    return f"{text[:kept]}... ({len(text) - kept} more characters)"


def format_time(when: datetime | None) -> str | None:
    """Format a datetime as UTC ISO 8601 with microseconds, or None."""
    if when is None:
        return None
    # isoformat with fixed microseconds is TIME_FORMAT, and several times faster than strftime.
    if when.tzinfo is timezone.utc:  # every reader's times: cut the "+00:00"
        return when.isoformat(timespec="microseconds")[:-6] + "Z"
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when.isoformat(timespec="microseconds") + "Z"


def time_window(start: str, end: str) -> str:
    """Two report times as a window to the minute: ``2026-01-14 09:00 to 09:45``."""
    first, last = start[:16].replace("T", " "), end[:16].replace("T", " ")
    if first == last:
        return first
    if first[:10] == last[:10]:
        return f"{first} to {last[11:]}"
    return f"{first} to {last}"
