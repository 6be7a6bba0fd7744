"""Counted words for messages: ``1 attempt``, ``2 attempts``, never ``attempt(s)``."""

from __future__ import annotations

__all__ = ["noun", "plural"]


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 attempt``, ``2 attempts``, ``1,234 entries`` (``many`` when adding s is wrong)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def noun(count: int, word: str, many: str | None = None) -> str:
    """The word alone, in the form ``count`` takes: ``client`` or ``clients``."""
    return word if count == 1 else (many or word + "s")
