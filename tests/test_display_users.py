"""The affected users of a problem: the key index gives what testing every person does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.diagnose import _display_users

T0 = datetime(2026, 1, 14, tzinfo=timezone.utc)


def _direct(incidents: Sequence[Any]) -> list[str]:
    """The definition: a person is found by testing every person met so far, in order."""
    people: list[tuple[set[str], str]] = []
    for incident in incidents:
        if not incident.user:
            continue
        keys = {key for finding in incident.findings for key in finding.identity_keys}
        for known, _name in people:
            if known & keys:
                known |= keys
                break
        else:
            people.append((keys, incident.user))
    return sorted({name for _keys, name in people}, key=lambda u: (u.lower(), u))


def _incident(user: str | None, key_sets: list[list[str]]) -> Any:
    findings = [SimpleNamespace(identity_keys=tuple(keys)) for keys in key_sets]
    return SimpleNamespace(user=user, findings=findings)


keys = st.lists(st.sampled_from("abcdefgh"), max_size=3)
incidents = st.lists(
    st.builds(
        _incident,
        st.one_of(st.none(), st.sampled_from(["Alice", "alice", "BOB", "carol", "dave"])),
        st.lists(keys, max_size=3),
    ),
    max_size=25,
)


@settings(max_examples=400, deadline=None)
@given(incidents=incidents)
def test_display_users_equals_the_direct_definition(incidents: list[Any]) -> None:
    assert _display_users(incidents) == _direct(incidents)


def test_ten_thousand_distinct_users() -> None:
    many = [_incident(f"user{index}", [[f"user{index}"]]) for index in range(10_000)]
    assert len(_display_users(many)) == 10_000
