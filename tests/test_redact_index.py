"""The literal index of redaction finds what a search of every value at every word finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag._redact_index import WORD, LiteralIndex


def _direct(literals: dict[str, str], text: str) -> list[tuple[int, int, str]]:
    """The definition: at each word, the values starting with it, longest first, then by text;
    the first that is there and stands as a whole word."""
    lower = text.lower()
    by_word: dict[str, list[tuple[str, int]]] = {}
    for value in literals:
        word = WORD.search(value)
        if word is not None:
            by_word.setdefault(word.group(0), []).append((value, word.start()))
    found = []
    for word in WORD.finditer(lower):
        for value, offset in sorted(
            by_word.get(word.group(0), []), key=lambda v: (-len(v[0]), v[0])
        ):
            start = word.start() - offset
            end = start + len(value)
            if start < 0 or lower[start:end] != value:
                continue
            if (start > 0 and text[start - 1].isalnum()) or (
                end < len(text) and text[end].isalnum()
            ):
                continue
            found.append((start, end, literals[value]))
            break
    return found


alphabet = st.sampled_from(list("ab1.-@ \\"))
values = st.dictionaries(
    st.text(alphabet, min_size=2, max_size=7).map(str.lower),
    st.sampled_from(["user", "ip", "host"]),
    max_size=12,
)


@settings(max_examples=500, deadline=None)
@given(literals=values, text=st.text(st.sampled_from(list("aAbB1.-@ \\x")), max_size=60))
def test_index_finds_what_the_direct_search_finds(literals: dict[str, str], text: str) -> None:
    index = LiteralIndex.build(literals)
    assert list(index.find(text, text.lower())) == _direct(literals, text)


def test_many_values_sharing_a_first_word() -> None:
    literals = {f"10.0.{i // 256}.{i % 256}": "ip" for i in range(20_000)}
    index = LiteralIndex.build(literals)
    text = " ".join(f"10.0.{i // 256}.{i % 256}" for i in range(0, 20_000, 7))
    found = list(index.find(text, text))
    assert len(found) == len(range(0, 20_000, 7))
    # Each word of the text tries the few lengths recorded for "10", not 20,000 values.
    assert len(index.shapes["10"]) <= 8
