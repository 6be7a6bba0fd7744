"""Benchmark ``npsdiag batch``: one worker against two on a folder of generated bundles.

Usage::

    python benchmarks/bench_batch.py                      # 22 bundles, 1 vs 2 workers
    python benchmarks/bench_batch.py --cases 30 --events 4000 --rounds 3
    python benchmarks/bench_batch.py --keep /tmp/collected  # keep (and reuse) the bundles

The bundles are support-bundle zips written by the sample generator (what ``npsdiag
samples NAME DIR/x.zip --events N`` writes), cycling through the shipped scenarios with
event counts spread between half and the full ``--events`` so that cases differ in size
as real ones do. Each configuration runs the whole batch (analysis, three reports per
case and the index) into a fresh output folder; the time is wall-clock, the best of
``--rounds`` interleaved runs, and includes starting the worker processes. The outputs
of every run are compared byte for byte, since the worker count must not change them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from npsdiag.batch import BatchResult, default_workers, run_batch
from npsdiag.synth.bundle import write_bundle
from npsdiag.synth.generate import count_events
from npsdiag.synth.scenario import load_shipped, scale_traffic, shipped_names


def make_bundles(folder: Path, cases: int, events: int) -> list[Path]:
    """Write ``cases`` bundle zips into ``folder`` (reused when already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = shipped_names()
    written: list[Path] = []
    for index in range(cases):
        name = names[index % len(names)]
        count = events // 2 + (events // 2) * (index % 5) // 4  # half to full --events
        target = folder / f"case{index + 1:02d}-{name}.zip"
        if not target.exists():
            scenario = load_shipped(name)
            base = max(sum(count_events(scenario).values()), 1)
            # A little headroom so random variation does not leave the total short.
            write_bundle(scale_traffic(scenario, count / base * 1.05), target, max_events=count)
        written.append(target)
    return written


def digest(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file under ``folder``, by relative path."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (the workers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def timed_run(
    collected: Path, output: Path, workers: int
) -> tuple[float, float, BatchResult, dict[str, str]]:
    """Wall-clock and CPU seconds of one whole batch, its result and its output digest."""
    shutil.rmtree(output, ignore_errors=True)
    cpu = _cpu_seconds()
    started = time.perf_counter()
    result = run_batch([str(collected)], output, workers=workers)
    elapsed = time.perf_counter() - started
    return elapsed, _cpu_seconds() - cpu, result, digest(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=22, help="bundles to generate")
    parser.add_argument("--events", type=int, default=2500, help="events of the largest bundle")
    parser.add_argument("--rounds", type=int, default=2, help="runs per configuration")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", type=Path, help="write the bundles here and keep them")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="npsdiag-bench-batch-"))
    collected = args.keep if args.keep is not None else work / "collected"
    try:
        started = time.perf_counter()
        bundles = make_bundles(collected, args.cases, args.events)
        sizes = [path.stat().st_size for path in bundles]
        print(
            f"{len(bundles)} bundles in {collected}: {sum(sizes) / 1e6:.1f} MB "
            f"({min(sizes) / 1e6:.2f}-{max(sizes) / 1e6:.2f} MB each), "
            f"ready in {time.perf_counter() - started:.1f} s"
        )
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        print(
            f"CPUs available: {default_workers()} (os.cpu_count() = {os.cpu_count()}); "
            f"load average before: {load}"
        )
        best: dict[int, float] = {}
        reference_tree: dict[str, str] | None = None
        differences: list[str] = []
        last: dict[int, BatchResult] = {}
        for round_number in range(args.rounds):
            for workers in args.workers:
                elapsed, cpu, result, tree = timed_run(
                    collected, work / f"review-{workers}", workers
                )
                if reference_tree is None:
                    reference_tree = tree
                elif tree != reference_tree:
                    names = sorted(set(tree) ^ set(reference_tree)) or [
                        name for name in sorted(tree) if tree[name] != reference_tree[name]
                    ]
                    differences.append(
                        f"round {round_number + 1}, {workers} worker(s): " + ", ".join(names[:5])
                    )
                last[workers] = result
                best[workers] = min(best.get(workers, elapsed), elapsed)
                print(
                    f"round {round_number + 1}: {workers} worker(s): {elapsed:6.2f} s wall, "
                    f"{cpu:6.2f} s CPU"
                )
        base = min(args.workers)
        reference = last[base]
        seconds = [case.seconds for case in reference.cases]
        events = sum(case.events_read for case in reference.cases)
        report_bytes = sum(
            path.stat().st_size
            for path in (work / f"review-{base}").rglob("report.*")
            if path.is_file()
        )
        print(
            f"cases: {reference.read} read, {reference.failed} failed; {events:,} events; "
            f"per case {statistics.mean(seconds):.2f} s mean "
            f"({min(seconds):.2f}-{max(seconds):.2f} s) with {base} worker; "
            f"reports {report_bytes / 1e6:.0f} MB"
        )
        for workers in args.workers:
            speedup = best[base] / best[workers]
            print(
                f"best of {args.rounds}: {workers} worker(s) {best[workers]:6.2f} s, "
                f"speed-up x{speedup:.2f}"
            )
        if differences:
            # Also happens when npsdiag's code is edited while the benchmark runs: the
            # spawned workers import the new code, the in-process run keeps the old.
            print("OUTPUTS DIFFER: " + "; ".join(differences))
            sys.exit(1)
        print("outputs identical across all runs")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":  # required: worker processes are spawned and re-import this file
    main()
