"""No input crashes a run: what used to raise is read, and an unexpected error in a reader
costs only its file, which says so; every other input still gets its report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npsdiag.sources import xml as xml_module
from tests.cli_runner import run
from tests.test_source_xml import as_document, event_xml


def _nested(levels: int, inner: str = "x") -> str:
    return "<a>" * levels + inner + "</a>" * levels


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    # lxml refuses more than 2,048 levels in all; the few levels of the elements around the
    # nested ones make the band just under that depend on where the event is parsed.
    levels=st.one_of(st.integers(900, 2000), st.integers(2100, 2600)),
    where=st.sampled_from(["UserData", "EventData", "Data"]),
)
def test_deeply_nested_events_never_crash_the_run(
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    levels: int,
    where: str,
) -> None:
    if where == "UserData":
        deep = event_xml(2, section=f"<UserData>{_nested(levels)}</UserData>")
    elif where == "EventData":
        deep = event_xml(2, section=f"<EventData>{_nested(levels)}</EventData>")
    else:
        deep = event_xml(2, data=f"<Data>{_nested(levels)}</Data>")
    folder = tmp_path_factory.mktemp("deep")
    (folder / "deep.xml").write_text(as_document(event_xml(1), deep, event_xml(3)))
    (folder / "other.xml").write_text(as_document(event_xml(4), event_xml(5)))
    code, out, err = run(capsys, "analyze", str(folder), "--json", "-")
    assert code in (0, 1), err
    sources = {Path(item["name"]).name: item for item in json.loads(out)["sources"]}
    assert sources["other.xml"]["records_read"] == 2
    deep_source = sources["deep.xml"]
    assert deep_source["records_read"] + deep_source["records_failed"] == 3
    assert deep_source["records_failed"] == (1 if levels > 2048 else 0)


@pytest.mark.parametrize("error", [RecursionError, MemoryError, ValueError, KeyError])
def test_an_unexpected_reader_error_costs_only_its_file(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    error: type[Exception],
) -> None:
    original = xml_module.event_from_element

    def explode_on_record_3(element: Any, origin: str) -> Any:
        event = original(element, origin)
        if event.record_id == 3 and origin.endswith("bad.xml"):
            raise error("simulated reader bug")
        return event

    monkeypatch.setattr(xml_module, "event_from_element", explode_on_record_3)
    (tmp_path / "bad.xml").write_text(as_document(*(event_xml(i) for i in range(1, 6))))
    (tmp_path / "good.xml").write_text(as_document(event_xml(10), event_xml(11)))
    code, out, err = run(capsys, "analyze", str(tmp_path), "--json", "-")
    assert code in (0, 1), err
    sources = {Path(item["name"]).name: item for item in json.loads(out)["sources"]}
    assert sources["good.xml"]["records_read"] == 2
    bad = sources["bad.xml"]
    assert (bad["status"], bad["records_read"]) == ("partial", 2)
    assert any(
        f"unexpected error ({error.__name__}: " in message and "please report" in message
        for message in bad["messages"]
    )


def test_closing_early_is_not_an_error(tmp_path: Path) -> None:
    from npsdiag.sources import discover, read_events

    path = tmp_path / "x.xml"
    path.write_text(as_document(*(event_xml(i) for i in range(1, 6))))
    (source,) = discover([str(path)]).sources
    stats = source.new_stats()
    events: Iterator[Any] = read_events(source, stats, None)
    next(events)
    events.close()  # type: ignore[attr-defined]
    assert not any("unexpected" in message for message in stats.messages)


# --- one name repeated many times ------------------------------------------------------------


def _direct_add(fields: dict[str, str], name: str, value: str) -> None:
    """The definition: the first free suffix, counting up from 1."""
    if name not in fields:
        fields[name] = value
        return
    index = 1
    while f"{name}_{index}" in fields:
        index += 1
    fields[f"{name}_{index}"] = value


@settings(max_examples=300, deadline=None)
@given(names=st.lists(st.sampled_from(["A", "B", "A_1", "A_3", "A_2_1", "B_10"]), max_size=60))
def test_add_field_keeps_every_value_under_a_name_of_its_own(names: list[str]) -> None:
    from npsdiag.sources import add_field

    fields: dict[str, str] = {}
    direct: dict[str, str] = {}
    for position, name in enumerate(names):
        add_field(fields, name, str(position))
        _direct_add(direct, name, str(position))
    assert sorted(fields.values(), key=int) == [str(i) for i in range(len(names))]
    if not any("_" in name for name in names):  # names taken in order: the same as counting
        assert fields == direct


def test_thirty_thousand_data_of_one_name_through_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = "".join(f"<Data Name='A'>v{index}</Data>" for index in range(30_000))
    event = event_xml(
        1,
        provider="Microsoft-Windows-Security-Auditing",
        channel="Security",
        event_id=6273,
        data=f"<Data Name='SubjectUserName'>alice</Data>{data}",
    )
    path = tmp_path / "many.xml"
    path.write_text(as_document(event))
    code, out, err = run(capsys, "analyze", str(path), "--json", "-")
    assert code in (0, 1), err
    document = json.loads(out)
    fields = document["events"][document["incidents"][0]["evidence"][0]["event"]]["fields"]
    assert fields["A"] == "v0" and fields["A_29999"] == "v29999"
    assert len([name for name in fields if name == "A" or name.startswith("A_")]) == 30_000
