"""The longest literal text that every match of a regular expression contains.

Catalog rules search event texts with case-insensitive patterns, and most patterns are a
phrase with a few optional letters. Python's regex engine cannot skip ahead in a
case-insensitive search, so a search over a thousand-character NPS event costs about as much
as reading it character by character. ``needle in text.lower()`` is far cheaper and, when it
fails, proves the search would fail too (see :func:`required_literal` for when that holds).
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any

# The parser behind ``re``: renamed in Python 3.11, same parse tree; typed loosely because
# it is not a public module.
_sre_parse: Any = importlib.import_module(
    "re._parser" if sys.version_info >= (3, 11) else "sre_parse"
)

__all__ = ["required_literal"]

#: Shorter literals reject too little text to pay for the lower-casing.
MIN_LENGTH = 4


def required_literal(pattern: str) -> str | None:
    """A lower-case ASCII text contained in every match of ``pattern``, or None.

    The result is the longest run of plain characters among the pattern's top-level items
    (a sequence: each item must match, in order, for the pattern to match). Groups,
    classes, repeats, alternations, escapes other than literal characters and anchors end
    a run. Only ASCII letters, digits, spaces and punctuation are taken, so for a text that
    is itself ASCII, ``re.search(pattern, text, re.IGNORECASE)`` finding a match implies
    ``literal in text.lower()``. For non-ASCII text case-insensitive matching equates
    characters that lower-casing does not (K and the Kelvin sign), so callers must only
    use the literal on ASCII text.

    Args:
        pattern: a regular expression as written in the catalog (compiled IGNORECASE).

    Returns:
        The literal in lower case, or None when no run of :data:`MIN_LENGTH` characters
        is required (or the pattern uses inline flags, which could change what a literal
        means).
    """
    try:
        parsed = _sre_parse.parse(pattern, re.IGNORECASE)
    except re.error:
        return None
    if parsed.state.flags & ~(re.IGNORECASE | re.UNICODE):
        return None  # verbose or other inline flags: do not second-guess the parser
    literal_op = _sre_parse.LITERAL
    best = ""
    run: list[str] = []
    items: list[tuple[Any, Any]] = list(parsed)
    for op, value in items:
        if op is literal_op and 0x20 <= value < 0x7F:
            run.append(chr(value))
            continue
        best = max(best, "".join(run), key=len)
        run = []
    best = max(best, "".join(run), key=len)
    return best.lower() if len(best) >= MIN_LENGTH else None
