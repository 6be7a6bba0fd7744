"""Find collected values in free text, as whole words, in time linear in the text.

Redaction collects every value it replaces (user names, domains, IP addresses ...) and then
searches every string for each of them, case-insensitively and as whole words. Trying every
value at every word would cost values x words: 20,000 IP addresses all starting with ``10``
make each ``10`` in a text a 20,000-way test. Instead each value is known by its *shape*, the
first word in it, where that word starts and how long the value is: at a word of the text only
the few lengths and offsets recorded for that word are tried, each one a dictionary look-up of
the text's slice. The first match is the one a search of all values in order of length (then
text) would give; ``tests/test_redact_index.py`` checks that against the direct search.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["WORD", "LiteralIndex"]

#: What a word is for the search (letters and digits of any script).
WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class LiteralIndex:
    """Collected values (lower-cased) and the role each is rewritten with.

    Attributes:
        roles: value -> (role, where its first word starts inside it).
        shapes: first word -> (length, offset) of the values starting so, longest first.
    """

    roles: Mapping[str, tuple[str, int]]
    shapes: Mapping[str, tuple[tuple[int, int], ...]]

    @classmethod
    def build(cls, literals: Mapping[str, str]) -> LiteralIndex:
        """Index ``{lower-cased value: role}``; values without a word are left out."""
        roles: dict[str, tuple[str, int]] = {}
        shapes: dict[str, set[tuple[int, int]]] = {}
        for text, role in literals.items():
            word = WORD.search(text)
            if word is None:
                continue
            roles[text] = (role, word.start())
            shapes.setdefault(word.group(0), set()).add((len(text), word.start()))
        ordered = {
            word: tuple(sorted(found, key=lambda s: (-s[0], s[1])))
            for word, found in shapes.items()
        }
        return cls(roles, ordered)

    def __bool__(self) -> bool:
        return bool(self.roles)

    def find(self, text: str, lower: str) -> Iterator[tuple[int, int, str]]:
        """``(start, end, role)`` of the longest value at each word of ``lower`` that stands as
        a whole word in ``text`` (no letter or digit right before or after it); among values of
        the same length, the first in text order.

        Args:
            text: the string searched.
            lower: ``text`` lower-cased, of the same length.
        """
        for word in WORD.finditer(lower):
            shapes = self.shapes.get(word.group(0))
            if not shapes:
                continue
            best: tuple[str, int, str] | None = None
            best_length = 0
            for length, offset in shapes:
                if length < best_length:
                    break
                start = word.start() - offset
                if start < 0:
                    continue
                candidate = lower[start : start + length]
                found = self.roles.get(candidate)
                if found is None or found[1] != offset or len(candidate) != length:
                    continue
                if _is_alnum(text, start - 1) or _is_alnum(text, start + length):
                    continue
                if best is None or candidate < best[0]:
                    best, best_length = (candidate, start, found[0]), length
            if best is not None:
                yield best[1], best[1] + best_length, best[2]


def _is_alnum(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isalnum()
