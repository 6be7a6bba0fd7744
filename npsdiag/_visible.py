"""Make untrusted text safe to print to a terminal.

File names and event text reach standard error in error messages. A file name can hold an
escape sequence (OSC 52 sets the clipboard, ``ESC c`` clears the screen), right-to-left
overrides that make ``txt.exe`` read ``exe.txt``, or bytes that are not text at all. Every
character that is not printable (controls, C1 controls, DEL, format characters such as the
bidirectional overrides and zero-width spaces, surrogates standing for undecodable bytes,
unassigned and private-use characters, line and paragraph separators) is shown as its Python
escape: ``\\x1b``, ``\\u202e``, ``\\udcff``. Printable text, backslashes included, is kept.
"""

from __future__ import annotations

__all__ = ["visible", "visible_lines"]


def visible(text: str) -> str:
    """``text`` on one line, every non-printable character shown as an escape."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def visible_lines(text: str) -> str:
    """:func:`visible` for each line of ``text``; the line ends are kept."""
    return "\n".join(visible(line) for line in text.split("\n"))
