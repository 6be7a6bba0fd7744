"""Damaged XML exports: every event is read or counted as failed, whatever the damage.

The exports are built here from generated events, damaged in generated ways: inside events
(lost end tags, undefined entities, NUL characters, nesting deeper than lxml allows or deeper
than Python's recursion limit), between events (DOCTYPE, stray tags, comments and CDATA that
hold ``<Event``), around events (``<Events>`` nested in ``<Events>``, unknown wrappers).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npsdiag.model import SourceStats
from npsdiag.sources import discover, read_events
from npsdiag.sources._xml_segments import Segmenter
from tests.cli_runner import run
from tests.test_source_xml import event_xml

READ, FAILED = "read", "failed"

# Damage done to one event's text, and what becomes of the event.
EVENT_DAMAGE: dict[str, tuple[Callable[[str], str], str]] = {
    "none": (lambda text: text, READ),
    "lost </System>": (lambda text: text.replace("</System>", "", 1), FAILED),
    "lost </EventData>": (lambda text: text.replace("</EventData>", "", 1), FAILED),
    "lost </Event>": (lambda text: text[: text.rindex("</Event>")], FAILED),
    "mismatched end tag": (lambda text: text.replace("</Data>", "</Dat>", 1), FAILED),
    "undefined entity": (lambda text: text.replace("<Data>", "<Data>&nobody;", 1), FAILED),
    "NUL character": (lambda text: text.replace("<Data>", "<Data>\x00", 1), FAILED),
    "no System": (
        lambda text: text.replace("<System>", "<Sys>").replace("</System>", "</Sys>"),
        FAILED,
    ),
    "nested 3,000 deep": (
        lambda text: text.replace("</EventData>", "</EventData>" + _deep(3000), 1),
        FAILED,
    ),
    "nested 1,500 deep": (
        lambda text: text.replace("</EventData>", "</EventData>" + _deep(1500), 1),
        READ,
    ),
    "unbound prefix": (
        lambda text: text.replace("<EventID", "<x:EventID").replace("</EventID>", "</x:EventID>"),
        READ,
    ),
}

# Damage between two events: no event is lost by it.
GAPS = {
    "none": "",
    "DOCTYPE": "<!DOCTYPE Events [<!ENTITY e '<Event>'> <!ELEMENT x ANY>]>",
    "stray end tag": "</Foo>",
    "stray </Event>": "</Event>",
    "comment holding an event": "<!-- <Event><System/></Event> -->",
    "CDATA holding an event": "<![CDATA[<Event></Event>]]>",
    "processing instruction": "<?npsdiag <Event>?>",
    "XML declaration again": "<?xml version='1.0'?>",
    "text with markup characters": "a < b & c",
    "unknown element": "<Note>see <b>this</b></Note>",
}


def _deep(levels: int) -> str:
    return "<UserData>" + "<a>" * levels + "x" + "</a>" * levels + "</UserData>"


def _read(path: Path) -> tuple[list[int | None], SourceStats]:
    (source,) = discover([str(path)]).sources
    stats = source.new_stats()
    events = list(read_events(source, stats, None))
    return [event.record_id for event in events], stats


def _build(
    damages: list[str], gaps: list[str], wrappers: list[int], layout: str
) -> tuple[str, list[int], list[int]]:
    """The export text, the record ids that must be read, the lines of the failed events."""
    parts: list[str] = []
    readable: list[int] = []
    failed_lines: list[int] = []
    line = 2 if layout == "document" else 1
    for index, damage in enumerate(damages):
        record = index + 1
        damaged, outcome = EVENT_DAMAGE[damage]
        open_wrappers = "<Events>" * wrappers[index]
        close_wrappers = "</Events>" * wrappers[index]
        text = damaged(event_xml(record, second=index % 60))
        parts.append(f"{GAPS[gaps[index]]}\n{open_wrappers}{text}{close_wrappers}")
        line += 1
        if outcome == READ:
            readable.append(record)
        else:
            failed_lines.append(line)
    body = "".join(parts) + "\n"
    if layout == "document":
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Events>{body}</Events>\n',
            readable,
            failed_lines,
        )
    return body, readable, failed_lines


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    count=st.integers(min_value=1, max_value=12),
    layout=st.sampled_from(["document", "sequence"]),
)
def test_every_event_is_read_or_counted_as_failed(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, count: int, layout: str
) -> None:
    damages = data.draw(
        st.lists(st.sampled_from(sorted(EVENT_DAMAGE)), min_size=count, max_size=count)
    )
    gaps = data.draw(st.lists(st.sampled_from(sorted(GAPS)), min_size=count, max_size=count))
    if "lost </Event>" in damages:
        # A stray end tag after an event that lost its own is that event's end tag: the file
        # is well-formed again, with the events between inside the first (see the test of
        # events inside events). Not damage to count, so not generated here.
        first = damages.index("lost </Event>")
        gaps = [
            "none" if gap == "stray </Event>" and position > first else gap
            for position, gap in enumerate(gaps)
        ]
    if layout == "sequence" and gaps[0] in ("text with markup characters", "unknown element"):
        gaps[0] = "none"  # a file that starts with prose or another element is no export
    wrappers = data.draw(st.lists(st.integers(0, 3), min_size=count, max_size=count))
    text, readable, failed_lines = _build(damages, gaps, wrappers, layout)
    path = tmp_path_factory.mktemp("xml") / "export.xml"
    path.write_text(text, encoding="utf-8")
    read, stats = _read(path)
    assert read == readable, (damages, gaps, wrappers)
    assert stats.records_read == len(readable)
    assert stats.records_failed == len(failed_lines), stats.messages
    shown = [message for message in stats.messages if message.startswith("event at line")]
    # Five messages at most, the file's own note among them.
    assert [int(message.split()[3].rstrip(":")) for message in shown] == failed_lines[: len(shown)]
    assert len(shown) >= min(len(failed_lines), 4)
    clean = all(d == "none" for d in damages) and all(g == "none" for g in gaps)
    if clean or failed_lines:
        assert stats.status == ("ok" if clean else "partial" if readable else "unreadable")


def test_an_unknown_entity_is_named_at_its_line(tmp_path: Path) -> None:
    events = [event_xml(i) for i in range(1, 11)]
    events[6] = events[6].replace("<Data>", "<Data>&foo;")
    path = tmp_path / "entity.xml"
    path.write_text('<?xml version="1.0"?>\n<Events>\n' + "\n".join(events) + "\n</Events>\n")
    read, stats = _read(path)
    assert read == [1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert stats.messages[0].startswith(f"{path}: malformed XML at line 9: Entity 'foo' not")
    assert stats.messages[1].startswith("event at line 9: damaged XML, not read (line 9:")


def test_a_doctype_before_the_events_is_ignored_not_refused(tmp_path: Path) -> None:
    laughs = "".join(
        f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10 if n else "lol"}">' for n in range(10)
    )
    events = [event_xml(1), event_xml(2, data="<Data>&l9;</Data>"), event_xml(3)]
    path = tmp_path / "laughs.xml"
    path.write_text(
        f"<?xml version='1.0'?><!DOCTYPE Events [{laughs}]>\n<Events>{''.join(events)}</Events>"
    )
    read, stats = _read(path)
    assert read == [1, 3]
    assert (stats.records_failed, stats.status) == (1, "partial")
    assert any("DOCTYPE declaration (line 1)" in message for message in stats.messages)


def test_events_nested_in_events_elements_are_all_read(tmp_path: Path) -> None:
    events = [event_xml(i) for i in range(1, 6)]
    first, rest = "".join(events[:2]), "".join(events[2:])
    text = f"<Events><Events>{first}</Events><Events><Events>{rest}</Events></Events></Events>"
    path = tmp_path / "nested.xml"
    path.write_text(text)
    read, stats = _read(path)
    assert read == [1, 2, 3, 4, 5]
    assert stats.status == "ok"


def test_events_inside_an_event_are_events_of_their_own(tmp_path: Path) -> None:
    # A lost end tag, then a stray one after two more events: well-formed XML in which events
    # 2 and 3 lie inside event 1. No export is written so; none of the three is lost.
    first = event_xml(1)[: event_xml(1).rindex("</Event>")]
    nested_in_data = event_xml(5).replace(
        "</EventData>", f"</EventData><UserData>{event_xml(6)}</UserData>"
    )
    inside = f"{first}{event_xml(2)}{event_xml(3)}</Event>"
    text = f"<Events>{inside}{event_xml(4)}{nested_in_data}</Events>"
    path = tmp_path / "nested.xml"
    path.write_text(text)
    read, stats = _read(path)
    assert sorted(read) == [1, 2, 3, 4, 5, 6]
    assert (stats.records_failed, stats.status) == (0, "ok")


def test_an_event_open_when_damage_strikes_inside_it_is_counted(tmp_path: Path) -> None:
    outer = event_xml(1)[: event_xml(1).rindex("</Event>")]
    broken = event_xml(3).replace("</System>", "", 1)
    text = f"<Events>\n{outer}\n{event_xml(2)}\n{broken}\n</Event>\n{event_xml(4)}\n</Events>\n"
    path = tmp_path / "open.xml"
    path.write_text(text)
    read, stats = _read(path)
    # 2 ended before the damage (read), 1 was open around it, 3 holds it; 4 comes after.
    assert sorted(read) == [2, 4]
    assert stats.records_failed == 2
    assert [m.split(":")[0] for m in stats.messages[1:3]] == ["event at line 2", "event at line 4"]


def test_user_data_deeper_than_the_recursion_limit_is_read(tmp_path: Path) -> None:
    deep = event_xml(1).replace("</EventData>", "</EventData>" + _deep(1900), 1)
    path = tmp_path / "deep.xml"
    path.write_text(f"<Events>{deep}{event_xml(2)}</Events>")
    read, stats = _read(path)
    assert read == [1, 2]
    assert stats.status == "ok"


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 4096])
def test_segments_do_not_depend_on_chunk_boundaries(chunk: int) -> None:
    text, _, _ = _build(
        ["none", "lost </Event>", "none", "lost </System>", "none"],
        ["none", "DOCTYPE", "comment holding an event", "CDATA holding an event", "stray end tag"],
        [0, 1, 2, 0, 1],
        "document",
    )
    whole = Segmenter()
    expected = [*whole.feed(text), *whole.close()]
    pieces = Segmenter()
    found = [
        segment
        for start in range(0, len(text), chunk)
        for segment in pieces.feed(text[start : start + chunk])
    ]
    found += list(pieces.close())
    assert found == expected
    assert [segment.complete for segment in found] == [True, False, True, True, True]
    assert pieces.doctypes == whole.doctypes == [3]


def test_damaged_export_through_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text, readable, failed_lines = _build(
        ["none", "lost </System>", "none", "nested 3,000 deep", "none", "none"],
        ["none", "none", "DOCTYPE", "none", "stray end tag", "none"],
        [0, 0, 1, 2, 0, 0],
        "document",
    )
    path = tmp_path / "damaged.xml"
    path.write_text(text)
    code, out, err = run(capsys, "analyze", str(path), "--json", "-")
    assert code in (0, 1), err
    (source,) = json.loads(out)["sources"]
    assert (source["records_read"], source["records_failed"]) == (len(readable), len(failed_lines))
    assert source["status"] == "partial"
