"""A user's attempts are written one at a time: the pieces must make the very object that
encoding the whole user at once would, in the JSON report and in JSON Lines."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.report._view_types import AttemptView, NpsDecisionView, UserView
from npsdiag.report.json import (
    _attempt,
    _encode_line,
    _line,
    _user_chunks,
    _user_fields,
)

# Any text, lone surrogates and the line breaks JSON Lines must escape included.
_TEXT = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()) | st.sampled_from("\u2028\x85\ud800"),
    max_size=12,
)

_DECISION = st.builds(
    NpsDecisionView,
    event_id=st.sampled_from([6272, 6273, 6274]),
    verdict=_TEXT,
    reason_code=st.none() | st.integers(0, 300),
    time=_TEXT,
)
_ATTEMPT = st.builds(
    AttemptView,
    anchor=st.none() | _TEXT,
    incident_key=_TEXT,
    user=st.none() | _TEXT,
    start=_TEXT,
    outcome=_TEXT,
    diagnosis_id=st.none() | _TEXT,
    title=st.none() | _TEXT,
    codes=st.tuples(_TEXT),
    nps_decision=st.none() | _DECISION,
)


def _user(attempts: tuple[AttemptView, ...], name: str) -> UserView:
    return UserView(
        anchor="user-1",
        name=name,
        other_names=(name + "\u2029",),
        identity_keys=(name.casefold(),),
        failed=len(attempts),
        succeeded=0,
        first_time="2026-01-01T00:00:00Z",
        last_time="2026-01-01T00:00:01Z",
        attempts=attempts,
        attempt_count=len(attempts),
    )


@settings(max_examples=200, deadline=None)
@given(attempts=st.lists(_ATTEMPT, max_size=6).map(tuple), name=_TEXT)
def test_pieces_equal_the_whole_object(attempts: tuple[AttemptView, ...], name: str) -> None:
    user = _user(attempts, name)
    whole = {"attempts": [_attempt(attempt) for attempt in attempts], **_user_fields(user)}
    pieces = "".join(_user_chunks(_user_fields(user), iter(attempts), _line))
    assert pieces == _line(whole)
    lines = "".join(
        _user_chunks({"type": "user", **_user_fields(user)}, iter(attempts), _encode_line)
    )
    assert lines == _encode_line({"type": "user", **whole})
    # One line, whatever the text held, and valid JSON.
    assert len(lines.splitlines()) == 1
    assert json.loads(lines)["type"] == "user"
