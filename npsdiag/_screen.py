"""How wide the console is and whether it shows colour, decided once per command.

The renderers never look at the environment (a report is the same wherever it is rendered);
the commands ask here and pass the answer on (``ReportOptions.width`` and ``.color``).

Width: ``COLUMNS`` when set, else the terminal's own width, else :data:`DEFAULT_WIDTH` (a file
or a pipe), always within :data:`MIN_WIDTH` and :data:`MAX_WIDTH`.

Colour, first rule that applies: ``--no-color``, then ``NO_COLOR`` (any non-empty value,
https://no-color.org) turn it off; ``FORCE_COLOR`` (any value but empty, ``0`` or ``false``)
turns it on, even into a file; otherwise colour only on a terminal that is not ``TERM=dumb``
(on Windows, one whose console accepts ANSI sequences).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

__all__ = ["DEFAULT_WIDTH", "MAX_WIDTH", "MIN_WIDTH", "Screen", "screen_of", "wrap"]

#: Width of the text when the output is not a terminal (a file, a pipe, a CI log).
DEFAULT_WIDTH = 100
#: Narrower than this, tables cannot keep one line per row: the text is laid out this wide.
MIN_WIDTH = 40
#: Wider than this, lines are too long to read.
MAX_WIDTH = 200


@dataclass(frozen=True, slots=True)
class Screen:
    """Where the text goes: its width in columns and whether it may carry ANSI colours."""

    width: int
    color: bool


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed, or a stream without a file
        return False


def _width(stream: TextIO, environ: Mapping[str, str]) -> int:
    columns = environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        width = int(columns)
    elif _is_terminal(stream):
        try:
            width = os.get_terminal_size(stream.fileno()).columns or DEFAULT_WIDTH
        except (AttributeError, ValueError, OSError):
            width = DEFAULT_WIDTH
    else:
        width = DEFAULT_WIDTH
    return max(MIN_WIDTH, min(width, MAX_WIDTH))


def _windows_ansi(stream: TextIO) -> bool:  # pragma: no cover - Windows only
    """Switch the console to ANSI sequences (Windows 10 and later); False when it refuses."""
    import ctypes

    enable_virtual_terminal_processing = 0x0004
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.GetStdHandle(-11 if stream is sys.stdout else -12)
    mode = ctypes.c_uint32()
    if not kernel32.GetConsoleMode(handle, ctypes.byref(mode)):
        return False
    if mode.value & enable_virtual_terminal_processing:
        return True
    return bool(kernel32.SetConsoleMode(handle, mode.value | enable_virtual_terminal_processing))


def _color(stream: TextIO, environ: Mapping[str, str], no_color: bool, platform: str) -> bool:
    if no_color or environ.get("NO_COLOR", ""):
        return False
    if environ.get("FORCE_COLOR", "").strip().lower() not in ("", "0", "false"):
        return True
    if not _is_terminal(stream) or environ.get("TERM", "") == "dumb":
        return False
    if platform == "win32":  # pragma: no cover - Windows only
        return _windows_ansi(stream)
    return True


def screen_of(
    stream: TextIO,
    *,
    no_color: bool = False,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
) -> Screen:
    """The width and colour for text written to ``stream`` (see the module's rules).

    Args:
        stream: where the text goes (standard output, usually).
        no_color: the command's ``--no-color``.
        environ: the environment (``os.environ`` when None).
        platform: ``sys.platform`` when None.
    """
    env = os.environ if environ is None else environ
    return Screen(
        width=_width(stream, env),
        color=_color(stream, env, no_color, sys.platform if platform is None else platform),
    )


def wrap(text: str, width: int, indent: str = "", hanging: str | None = None) -> str:
    """``text`` wrapped to ``width`` columns: the first line after ``indent``, the others
    after ``hanging`` (``indent`` when None). Long words (paths, URLs) are kept whole."""
    import textwrap

    return textwrap.fill(
        text,
        width=max(width, len(indent) + 10),
        initial_indent=indent,
        subsequent_indent=indent if hanging is None else hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )
