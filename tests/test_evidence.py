"""The evidence store: events' payloads out of memory while a case is diagnosed."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npsdiag.analyze import analyze_paths
from npsdiag.catalog import load_catalog
from npsdiag.evidence import DROP, MEMORY, SPILL, EvidenceStore
from npsdiag.model import Event
from npsdiag.report import ReportOptions, guidance_from_entries, render_report
from tests.cli_runner import run

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=timezone.utc)


def _event(fields: dict[str, str], data: tuple[str, ...], message: str | None) -> Event:
    return Event(
        time=T0,
        channel="Security",
        provider="Microsoft-Windows-Security-Auditing",
        event_id=6273,
        level=0,
        computer="NPS01",
        record_id=7,
        fields=fields,
        data=data,
        message=message,
        origin="Security.evtx",
        qualifiers=None,
        keywords="0x8010000000000000",
    )


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=80, deadline=None)
@given(
    fields=st.dictionaries(_TEXT, _TEXT, max_size=8),
    data=st.lists(_TEXT, max_size=4).map(tuple),
    message=st.none() | _TEXT,
)
def test_a_spilled_event_comes_back_whole(
    fields: dict[str, str], data: tuple[str, ...], message: str | None
) -> None:
    with EvidenceStore(SPILL) as store:
        events = [_event(dict(fields), data, message) for _ in range(3)]
        for event in events:
            store.release(event)
            assert event.ref is not None and event.ref >= 0
            assert dict(event.fields) == {} and event.data == () and event.message is None
        for event in reversed(events):  # any order, by offset
            whole = store.full(event)
            assert (dict(whole.fields), whole.data, whole.message) == (fields, data, message)
            assert (whole.time, whole.record_id, whole.keywords) == (T0, 7, "0x8010000000000000")


def test_a_big_message_and_writes_after_reads() -> None:
    big = "x" * 3_000_000
    with EvidenceStore(SPILL) as store:
        first = _event({}, (), big)
        store.release(first)
        assert store.full(first).message == big
        second = _event({"A": "b"}, (), "small")
        store.release(second)  # writing again after a read
        assert store.full(second).fields == {"A": "b"}
        assert store.full(first).message == big


def test_dropped_and_memory_modes() -> None:
    dropped = EvidenceStore(DROP)
    event = _event({"A": "b"}, ("c",), "m")
    dropped.release(event)
    assert event.ref == -1 and dropped.full(event) is event and not dropped.restorable
    kept = EvidenceStore(MEMORY)
    event = _event({"A": "b"}, ("c",), "m")
    kept.release(event)
    assert event.ref is None and kept.full(event) is event and event.fields == {"A": "b"}


def test_a_closed_store_cannot_restore() -> None:
    store = EvidenceStore(SPILL)
    event = _event({"A": "b"}, (), None)
    store.release(event)
    store.close()
    assert store.full(event) is event and not store.restorable


@pytest.mark.parametrize("name", ["mixed", "local-time-dump", "cert-expired"])
def test_every_report_is_the_same_whether_evidence_is_spilled_or_kept(name: str) -> None:
    catalog = load_catalog()
    options = ReportOptions(guidance=guidance_from_entries(catalog.entries), max_evidence=0)
    kept = analyze_paths([str(SAMPLES / name)], catalog=catalog)
    spilled = analyze_paths([str(SAMPLES / name)], catalog=catalog, evidence=SPILL)
    try:
        events = [f.event for i in (*spilled.incidents, *spilled.notices) for f in i.findings]
        assert events and all(event.ref is not None and not event.fields for event in events)
        for report in ("json", "jsonl", "html", "markdown", "csv", "terminal"):
            assert render_report(report, spilled, options) == render_report(report, kept, options)
    finally:
        assert spilled.evidence is not None
        spilled.evidence.close()


def test_the_cli_writes_whole_events_from_the_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    code, _out, _err = run(capsys, "analyze", str(SAMPLES / "mixed"), "--json", str(report), "-q")
    assert code == 1
    document = json.loads(report.read_text(encoding="utf-8"))
    nps = [event for event in document["events"] if event["channel"] == "Security"]
    assert nps and all(event["fields"].get("SubjectUserName") for event in nps)
    assert report.stat().st_mode & 0o044  # the usual permissions, not a private temp file


def test_a_full_temporary_folder_keeps_the_payloads_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Writing the store can fail (a full disk): the evidence is kept, never lost."""

    class Full:
        def seek(self, *_args: object) -> None:
            return None

        def write(self, _data: bytes) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            return None

        def close(self) -> None:
            raise OSError(28, "No space left on device")

    store = EvidenceStore(SPILL)
    monkeypatch.setattr(store, "_handle", lambda: Full())
    events = [_event({"A": str(n)}, ("d",), f"message {n}") for n in range(5)]
    for event in events:
        store.release(event)
    assert all(not event.fields for event in events)  # pending, not written yet
    restored = [store.full(event) for event in events]  # the write fails here
    assert [event.fields for event in restored] == [{"A": str(n)} for n in range(5)]
    assert store.mode == MEMORY
    later = _event({"B": "c"}, (), "kept")
    store.release(later)
    assert later.fields == {"B": "c"} and later.ref is None
    store.close()  # its failing close is not an error
