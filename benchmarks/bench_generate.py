"""Benchmark the sample generator on a large event count (not run by the tests).

Usage::

    python benchmarks/bench_generate.py                       # 1,000,000 events, scenario 'mixed'
    python benchmarks/bench_generate.py --events 200000 --scenario healthy
    python benchmarks/bench_generate.py --bundle --keep out/   # also the support bundle zip

It times two things separately: producing the event records alone (the generator),
and writing the five .evtx files from them (generator + EVTX writer, one pass).
With ``--bundle`` the second step also renders NPS_EventLog.log and zips the bundle,
as ``npsdiag samples NAME OUT --events N`` does. Prints file sizes and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from npsdiag.synth.bundle import evtx_name, write_folder
from npsdiag.synth.generate import LOGS, count_events, generate
from npsdiag.synth.scenario import load_shipped, scale_traffic


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--scenario", default="mixed")
    parser.add_argument("--bundle", action="store_true", help="also write the bundle zip")
    parser.add_argument("--keep", type=Path, help="write here and keep the files")
    args = parser.parse_args()

    base = load_shipped(args.scenario)
    base_total = sum(count_events(base).values())
    scenario = scale_traffic(base, args.events / base_total * 1.05)  # as `npsdiag samples` does

    started = time.perf_counter()
    produced = sum(1 for _ in generate(scenario, max_events=args.events))
    generate_seconds = time.perf_counter() - started

    out = args.keep or Path(tempfile.mkdtemp(prefix="npsdiag-bench-"))
    try:
        started = time.perf_counter()
        written = write_folder(scenario, out, max_events=args.events, bundle=args.bundle)
        write_seconds = time.perf_counter() - started
        rate = produced / generate_seconds
        print(f"scenario {args.scenario}, {produced:,} events")
        print(f"generate only:        {generate_seconds:8.1f} s  {rate:10,.0f} events/s")
        label = "generate+write+zip:" if args.bundle else "generate+write evtx:"
        print(f"{label:<21} {write_seconds:8.1f} s  {produced / write_seconds:10,.0f} events/s")
        events_by_file = {evtx_name(scenario, log): written.counts.get(log, 0) for log in LOGS}
        total = 0
        for path in written.files:
            size = path.stat().st_size
            total += size
            events = events_by_file.get(path.name)
            shown = f"{events:,} events" if events is not None else ""
            print(f"  {path.name:<36} {size:>15,} bytes  {shown}")
        print(f"  {'total':<36} {total:>15,} bytes")
        print(f"peak RSS {_peak_rss_mib():.0f} MiB")
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
