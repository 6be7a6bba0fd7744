"""Measure the EVTX writer: records per second and bytes for N small records.

The records look like the extension's operational events (one unnamed Data
string with a CID and a user) interleaved with Security 6273-style records with
27 named fields, so both template kinds and the per-chunk template re-definition
are exercised. Nothing is kept in memory but the writer's one chunk.

Usage:
    python benchmarks/bench_writer.py --events 1000000 [--out FILE] [--verify]

``--verify`` reads the file back with evtx-rs (checksums validated) and checks
the record count; it is not part of the timing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from npsdiag.synth.evtx_writer import EvtxWriter
from npsdiag.synth.generate import SECURITY_FIELDS
from npsdiag.synth.records import EventRecord, Sid

_START = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
_SECURITY_GUID = uuid.UUID("54849625-5478-4994-A5BA-3E3B0328C30D")
#: The 6273 layout of a real export (facts §3.2): the shared fields, then the reason.
_FIELDS_6273 = [*SECURITY_FIELDS, "ReasonCode", "Reason", "LoggingResult"]


def _records(count: int) -> Iterator[EventRecord]:
    for index in range(count):
        moment = _START + timedelta(milliseconds=37 * index)
        if index % 10 == 9:
            values: list[str] = ["-"] * len(_FIELDS_6273)
            values[1] = f"user{index % 500}"
            values[24] = "16"
            data = [(name, value) for name, value in zip(_FIELDS_6273, values, strict=True)]
            data[0] = ("SubjectUserSid", Sid("S-1-5-21-1-2-3-1104"))
            yield EventRecord(
                provider="Microsoft-Windows-Security-Auditing",
                provider_guid=_SECURITY_GUID,
                event_id=6273,
                version=1,
                level=0,
                task=12552,
                keywords=0x8010000000000000,
                channel="Security",
                computer="nps01.contoso.com",
                time=moment,
                process_id=612,
                thread_id=1480,
                data=data,
            )
        else:
            cid = uuid.UUID(int=index)
            yield EventRecord(
                provider="Microsoft-AzureMfa-AuthZ",
                event_id=1,
                level=4,
                channel="AuthZOptCh",
                computer="nps01.contoso.com",
                time=moment,
                process_id=2312,
                thread_id=4410,
                user_sid="S-1-5-20",
                data=[
                    f"NPS Extension for Azure MFA: CID: {cid} : Challenge requested in "
                    f"Authentication Ext for User user{index % 500}@contoso.com with state {cid}"
                ],
            )


def main() -> None:
    """Run the benchmark and print one line of results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="records to write")
    parser.add_argument("--out", type=Path, help="output file (default: a temporary file)")
    parser.add_argument("--verify", action="store_true", help="read back with evtx-rs")
    args = parser.parse_args()

    out = args.out
    cleanup = out is None
    if out is None:
        handle, name = tempfile.mkstemp(suffix=".evtx")
        os.close(handle)
        out = Path(name)
    try:
        started = time.perf_counter()
        with open(out, "wb") as stream, EvtxWriter(stream) as writer:
            for record in _records(args.events):
                writer.write(record)
        elapsed = time.perf_counter() - started
        size = out.stat().st_size
        print(
            f"events={args.events} seconds={elapsed:.2f} "
            f"records_per_second={args.events / elapsed:,.0f} "
            f"bytes={size:,} bytes_per_record={size / max(args.events, 1):.1f} "
            f"chunks={writer.chunks_written}"
        )
        if args.verify:
            import evtx

            parsed = sum(
                1 for _ in evtx.PyEvtxParser(str(out), validate_checksums=True).records_json()
            )
            print(f"verified: evtx-rs read {parsed} records")
            if parsed != args.events:
                raise SystemExit(f"expected {args.events} records, read {parsed}")
    finally:
        if cleanup:
            out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
