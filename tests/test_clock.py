"""Clock alignment: inputs whose times carry no zone are lined up with the UTC ones.

Unit tests build findings in memory (a "dump" read as if its local times were UTC, beside
UTC exports) and check the offset found, where a daylight-saving change is placed, and
when npsdiag refuses to guess. The CLI tests run the shipped ``local-time-dump`` sample,
whose bundle holds a wevtutil text dump in Europe/Berlin time across the end of summer time.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.analyze import analyze_paths
from npsdiag.clock import MIN_AGREEING, align_clocks, format_offset, parse_offset_rule
from npsdiag.errors import UsageError
from npsdiag.extract import extract
from npsdiag.model import Event, Finding, SourceKind, SourceStats
from tests.cli_runner import run

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "local-time-dump"
T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=timezone.utc)
PREFIX = "NPS Extension for Azure MFA: "


def _nps(when: datetime, user: str, event_id: int = 6272, reason: int | None = None) -> Finding:
    fields = {
        "SubjectUserName": f"{user}@contoso.com",
        "FullyQualifiedSubjectUserName": f"CONTOSO\\{user}",
        "ClientName": "VPN01",
        "ClientIPAddress": "10.0.0.5",
        "CallingStationID": f"198.51.100.{len(user)}",
    }
    if reason is not None:
        fields["ReasonCode"] = str(reason)
    event = Event(
        time=when,
        channel="Security",
        provider="Microsoft-Windows-Security-Auditing",
        event_id=event_id,
        level=0,
        computer="NPS01.contoso.com",
        record_id=None,
        fields=fields,
        data=(),
        message=None,
        origin="dump.log",
    )
    finding = extract(event)
    assert finding is not None
    return finding


def _accepted(when: datetime, user: str) -> Finding:
    event = Event(
        time=when,
        channel="AuthZOptCh",
        provider="Microsoft-AzureMfa-AuthZ",
        event_id=1,
        level=4,
        computer="NPS01.contoso.com",
        record_id=1,
        fields={},
        data=(
            PREFIX + "CID: 11111111-1111-4111-8111-111111111111 : Access Accepted for user "
            f"{user}@contoso.com",
        ),
        message=None,
        origin="AuthZOptCh.evtx",
    )
    finding = extract(event)
    assert finding is not None
    return finding


def _copy(finding: Finding, shift: timedelta) -> Finding:
    """The same event as a text dump shows it: the local wall clock read as UTC."""
    event = finding.event
    moved = Event(
        time=event.time + shift,
        channel=event.channel,
        provider=event.provider,
        event_id=event.event_id,
        level=event.level,
        computer=event.computer,
        record_id=None,
        fields=dict(event.fields),
        data=event.data,
        message=None,
        origin="dump.log",
    )
    copied = extract(moved)
    assert copied is not None
    return copied


def _stats(name: str, zoneless: int) -> SourceStats:
    stats = SourceStats(name=name, kind=SourceKind.WEVTUTIL_TEXT if zoneless else SourceKind.EVTX)
    stats.zoneless_times = zoneless
    return stats


USERS = ("ada", "ben", "cy", "di", "ed", "flo", "gus", "hal")


def _attempts(count: int, spacing: timedelta = timedelta(minutes=7)) -> list[datetime]:
    return [T0 + spacing * index for index in range(count)]


# ------------------------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("+01:00", 3600),
        ("-05:30", -19800),
        ("+0545", 20700),
        ("UTC", 0),
        ("UTC+02:00", 7200),
        ("+9", 32400),
    ],
)
def test_fixed_offsets_parse(text: str, seconds: int) -> None:
    rule = parse_offset_rule(text)
    assert rule.offset == timedelta(seconds=seconds)
    assert rule.pattern is None and rule.zone is None


def test_a_zone_name_and_a_pattern_parse() -> None:
    rule = parse_offset_rule("NPS_EventLog.log=Europe/Berlin")
    assert rule.pattern == "NPS_EventLog.log" and rule.zone is not None
    assert rule.applies_to(r"C:\NPS\bundle.zip!NPS_EventLog.log")
    assert not rule.applies_to("Security.evtx")


@pytest.mark.parametrize("text", ["+01:07", "+15:00", "Mars/Olympus_Mons", "soon", ""])
def test_bad_offsets_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--utc-offset"):
        parse_offset_rule(text)


def test_format_offset() -> None:
    assert format_offset(timedelta(hours=1)) == "UTC+01:00"
    assert format_offset(timedelta(hours=-5, minutes=-30)) == "UTC-05:30"
    assert format_offset(timedelta(0)) == "UTC+00:00"


# ------------------------------------------------------------------------------ inference


def test_copies_of_utc_events_give_the_offset() -> None:
    utc = [_nps(when, USERS[i % 8]) for i, when in enumerate(_attempts(10))]
    dump = [_copy(finding, timedelta(hours=1)) for finding in utc]
    (note,) = align_clocks([(_stats("Security.evtx", 0), utc), (_stats("dump.log", 10), dump)])
    assert note.method == "inferred"
    assert note.offsets == [(None, timedelta(hours=1))]
    assert "10 events also found in a UTC export" in note.evidence
    assert [f.event.time for f in dump] == [f.event.time for f in utc]


def test_nps_decisions_next_to_extension_events_give_the_offset() -> None:
    answers = [_accepted(when, USERS[i % 8]) for i, when in enumerate(_attempts(6))]
    # NPS logs its decision a few milliseconds to seconds after the extension's answer.
    dump = [
        _nps(when + timedelta(hours=-4, seconds=0.2 + i), USERS[i % 8])
        for i, when in enumerate(_attempts(6))
    ]
    (note,) = align_clocks([(_stats("AuthZOptCh.evtx", 0), answers), (_stats("dump.log", 6), dump)])
    assert note.method == "inferred" and note.offsets == [(None, timedelta(hours=-4))]
    assert "6 NPS decisions next to the extension's event" in note.evidence
    assert dump[0].event.time == answers[0].event.time + timedelta(seconds=0.2)


def test_too_few_events_are_not_enough() -> None:
    utc = [_nps(when, "ada") for when in _attempts(MIN_AGREEING - 1)]
    dump = [_copy(finding, timedelta(hours=2)) for finding in utc]
    before = [f.event.time for f in dump]
    (note,) = align_clocks([(_stats("Security.evtx", 0), utc), (_stats("dump.log", 2), dump)])
    assert note.method == "unknown" and note.offsets == []
    assert "--utc-offset" in note.evidence
    assert [f.event.time for f in dump] == before  # nothing was moved


def test_no_utc_source_at_all_says_so() -> None:
    dump = [_nps(when, "ada") for when in _attempts(5)]
    (note,) = align_clocks([(_stats("dump.log", 5), dump)])
    assert note.method == "unknown"
    assert "no event of it was also found in an input with UTC times" in note.evidence


def test_disagreeing_evidence_is_not_guessed() -> None:
    utc = [_nps(when, USERS[i]) for i, when in enumerate(_attempts(8))]
    # Half the copies an hour off, half two hours off, interleaved: no single offset.
    dump = [_copy(finding, timedelta(hours=1 if i % 2 else 2)) for i, finding in enumerate(utc)]
    (note,) = align_clocks([(_stats("Security.evtx", 0), utc), (_stats("dump.log", 8), dump)])
    assert note.method == "unknown"
    assert "do not agree" in note.evidence


@pytest.mark.parametrize("newest_first", [False, True])
def test_a_daylight_saving_change_inside_the_dump(newest_first: bool) -> None:
    # Autumn: +02:00 until 01:00 UTC, then +01:00; the local clock jumps back an hour.
    change = datetime(2025, 10, 26, 1, 0, tzinfo=timezone.utc)
    times = [change + timedelta(minutes=11 * k - 66) for k in range(12)]
    utc = [_nps(when, USERS[i % 8]) for i, when in enumerate(times)]
    dump = [
        _copy(finding, timedelta(hours=2 if finding.event.time < change else 1)) for finding in utc
    ]
    if newest_first:  # wevtutil qe /rd:true
        utc.reverse()
        dump.reverse()
    (note,) = align_clocks([(_stats("Security.evtx", 0), utc), (_stats("dump.log", 12), dump)])
    assert note.method == "inferred"
    offsets = [offset for _start, offset in note.offsets]
    expected = (
        [timedelta(hours=1), timedelta(hours=2)]
        if newest_first
        else [
            timedelta(hours=2),
            timedelta(hours=1),
        ]
    )
    assert offsets == expected
    assert "daylight saving" in note.evidence
    assert sorted(f.event.time for f in dump) == sorted(f.event.time for f in utc)


def test_a_given_offset_wins_over_inference() -> None:
    utc = [_nps(when, USERS[i]) for i, when in enumerate(_attempts(6))]
    dump = [_copy(finding, timedelta(hours=1)) for finding in utc]
    rule = parse_offset_rule("+03:00")
    (note,) = align_clocks(
        [(_stats("Security.evtx", 0), utc), (_stats("dump.log", 6), dump)], [rule]
    )
    assert note.method == "given" and note.offsets == [(None, timedelta(hours=3))]
    assert dump[0].event.time == utc[0].event.time - timedelta(hours=2)


def test_a_given_zone_knows_its_daylight_saving() -> None:
    change = datetime(2025, 10, 26, 1, 0, tzinfo=timezone.utc)
    # 01:00 and 01:30 CEST, then 03:10 and 03:40 CET, and 02:20 local, which happens twice.
    utc = [_nps(change + timedelta(minutes=m), "ada") for m in (-120, -90, 70, 100, -40)]
    dump = [
        _copy(finding, timedelta(hours=2 if finding.event.time < change else 1)) for finding in utc
    ]
    rule = parse_offset_rule("Europe/Berlin")
    (note,) = align_clocks([(_stats("dump.log", 5), dump)], [rule])
    assert note.method == "given"
    assert [offset for _start, offset in note.offsets] == [timedelta(hours=2), timedelta(hours=1)]
    assert [f.event.time for f in dump][:4] == [f.event.time for f in utc][:4]
    # In the repeated hour a zone alone cannot tell: the first (summer) reading is taken.
    assert dump[4].event.time == utc[4].event.time


@settings(max_examples=60, deadline=None)
@given(
    quarter=st.integers(min_value=-48, max_value=56),
    count=st.integers(min_value=MIN_AGREEING, max_value=30),
    spacing=st.integers(min_value=20, max_value=4000),
)
def test_any_real_offset_is_recovered_exactly(quarter: int, count: int, spacing: int) -> None:
    shift = timedelta(minutes=15 * quarter)
    utc = [
        _nps(when, USERS[i % 8])
        for i, when in enumerate(_attempts(count, timedelta(seconds=spacing)))
    ]
    dump = [_copy(finding, shift) for finding in utc]
    (note,) = align_clocks([(_stats("Security.evtx", 0), utc), (_stats("dump.log", count), dump)])
    assert note.offsets == [(None, shift)], note.evidence
    assert [f.event.time for f in dump] == [f.event.time for f in utc]


# ------------------------------------------------------------------------------ analyze and CLI


def _bundle() -> Path:
    (bundle,) = SAMPLE.glob("*_NpsLogging.zip")
    return bundle


def test_a_bundle_with_a_local_time_dump_gives_one_incident_per_attempt() -> None:
    analysis = analyze_paths([str(_bundle())])
    (clock,) = analysis.clocks
    assert clock.method == "inferred"
    assert [offset for _start, offset in clock.offsets] == [timedelta(hours=2), timedelta(hours=1)]
    assert clock.offsets[1][0] is not None
    assert abs(clock.offsets[1][0] - datetime(2025, 10, 26, 1, tzinfo=timezone.utc)) < timedelta(
        minutes=30
    )
    # Every NPS decision joined its attempt: no incident is NPS-only.
    assert all(any(f.kind.startswith("ext.") for f in i.findings) for i in analysis.incidents)
    no_answer = [i for i in analysis.incidents if i.outcome == "no-answer"]
    assert no_answer and all(
        any(f.kind == "nps.denied" and f.reason_code == 21 for f in i.findings) for i in no_answer
    )
    assert analysis.problems[0].entry_id == "ext.challenge-no-answer"
    assert analysis.problems[0].confidence == "high"
    # The data span is the scenario's night, not an hour or two longer.
    assert max(i.end for i in analysis.incidents) <= datetime(
        2025, 10, 26, 2, 30, tzinfo=timezone.utc
    )


def test_without_alignment_the_same_bundle_splits_attempts() -> None:
    """What the stage prevents: read as UTC, decisions fall away from their attempts."""
    aligned = analyze_paths([str(_bundle())])
    as_utc = analyze_paths([str(_bundle())], utc_offsets=[parse_offset_rule("UTC")])
    assert len(as_utc.incidents) > len(aligned.incidents)
    assert as_utc.clocks[0].method == "given"


def test_the_folder_reads_each_event_once_and_keeps_the_evtx_copy() -> None:
    analysis = analyze_paths([str(SAMPLE)])
    security = [f for i in analysis.incidents for f in i.findings if f.event.channel == "Security"]
    assert security and all(f.event.origin.endswith("Security.evtx") for f in security)
    notes = [m for s in analysis.sources for m in s.messages if "are copies of events" in m]
    assert notes and "NPS_EventLog.log" not in notes[0].split("read from")[1]
    (clock,) = analysis.clocks
    assert "also found in a UTC export" in clock.evidence


def test_cli_states_the_offset_in_every_format(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    json_path, md, html = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.html"
    code, out, _err = run(
        capsys, "analyze", str(_bundle()), "--json", str(json_path), "--markdown", str(md),
        "--html", str(html),
    )  # fmt: skip
    assert code == 1
    assert "read as UTC+02:00, then UTC+01:00 from 2025-10-26T01:" in out
    document = json.loads(json_path.read_text(encoding="utf-8"))
    (clock,) = document["clocks"]
    assert [o["utc_offset"] for o in clock["offsets"]] == ["UTC+02:00", "UTC+01:00"]
    assert clock["method"] == "inferred" and clock["offsets"][0]["from"] is None
    assert "read as UTC+02:00" in md.read_text(encoding="utf-8")
    assert "read as UTC+02:00" in html.read_text(encoding="utf-8")


def test_cli_utc_offset_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    json_path = tmp_path / "r.json"
    code, _out, _err = run(
        capsys, "analyze", str(_bundle()), "--utc-offset", "NPS_EventLog.log=Europe/Berlin",
        "--json", str(json_path), "-q",
    )  # fmt: skip
    assert code == 1
    (clock,) = json.loads(json_path.read_text(encoding="utf-8"))["clocks"]
    assert clock["method"] == "given" and "Europe/Berlin" in clock["evidence"]
    code, _out, err = run(capsys, "analyze", str(_bundle()), "--utc-offset", "+01:07")
    assert code == 2 and "--utc-offset" in err


def test_cli_says_when_no_offset_could_be_found(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The dump alone: nothing in UTC to compare with.
    import zipfile

    with zipfile.ZipFile(_bundle()) as archive:
        (tmp_path / "NPS_EventLog.log").write_bytes(archive.read("NPS_EventLog.log"))
    code, out, _err = run(capsys, "analyze", str(tmp_path / "NPS_EventLog.log"))
    assert code in (0, 1)
    assert "server's local clock (no time zone, offset unknown)" in " ".join(out.split())
