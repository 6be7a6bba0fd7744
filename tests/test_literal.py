"""The literal every match of a catalog pattern contains (npsdiag._literal)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag._literal import required_literal
from npsdiag.catalog import load_catalog


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        ("IP Whitelist is being ignored", "ip whitelist is being ignored"),
        # an optional letter ends the run before it
        ("IP Whitelist not in?itiali[sz]ed", "ip whitelist not i"),
        ("key:\\s*IP_WHITELIST\\b", "ip_whitelist"),
        ("The length of CompanyName .* is longer than", "the length of companyname "),
        # branches with a common start: the start is required, the rest is not
        ("Authenticator attribute that (?:is not|isn't) valid", "authenticator attribute that is"),
        ("user not found error|GraphUserNotFoundException", None),
        ("(?x) verbose pattern", None),
        ("abc", None),  # too short to pay off
        ("[unclosed", None),  # not a pattern
        ("caf\u00e9 au lait", " au lait"),  # ASCII only
    ],
)
def test_required_literal(pattern: str, literal: str | None) -> None:
    assert required_literal(pattern) == literal


def _catalog_patterns() -> list[str]:
    return sorted(
        {rule.message for entry in load_catalog() for rule in entry.rules if rule.message}
    )


def test_most_catalog_patterns_have_a_literal() -> None:
    patterns = _catalog_patterns()
    with_literal = [p for p in patterns if required_literal(p)]
    assert len(with_literal) >= len(patterns) * 3 // 4


_PIECES = st.sampled_from(
    [" ", "x", ":", "IP", "ip", "Whitelist", "WHITELIST", "is being", "ignored", "not ",
     "initialised", "intialized", "key:", "IP_WHITELIST", "Message", "-", "Authenticator",
     "attribute that", " isn't ", " is not ", "valid", "lookup failed", "Alternate LoginId",
     "userObjectSid", "\t", "\n", "missing NAS Identifier and Nas IpAddress attribute"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    pattern=st.sampled_from(_catalog_patterns()),
    pieces=st.lists(_PIECES, max_size=12),
    cut=st.integers(min_value=0, max_value=60),
)
def test_an_ascii_match_always_contains_the_literal(
    pattern: str, pieces: list[str], cut: int
) -> None:
    # Texts built from the pattern's own words (and the pattern itself, cut or whole) hit
    # the boundaries where a wrong literal would show.
    text = "".join(pieces) + pattern.replace("\\s*", " ").replace("\\b", "")[:cut]
    literal = required_literal(pattern)
    if literal is not None and re.search(pattern, text, re.IGNORECASE):
        assert literal in text.lower()
