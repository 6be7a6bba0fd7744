"""Benchmark ``npsdiag analyze`` end to end against the bare parser loop, and its memory.

Inputs, all built in a temporary folder (never in the repository) and reused when present:

* **few relevant**: a large .evtx made of the CRC-valid 64 KiB chunks of the public corpus
  under a fresh file header (``make_big`` of ``bench_read.py``), 10 MiB and 200 MiB. Nothing
  in the corpus concerns NPS, so this measures the cost of reading past records; a second
  200 MiB file takes every 100th chunk from the Security log of the sample below instead
  (NPS events 6272-6274), so that about 1 % of the records go through the whole pipeline.
* **all relevant**: the AuthZOptCh log that ``npsdiag samples mixed DIR --events N`` writes
  (N = 200,000 gives about 80,000 records), where every record becomes an Event, a Finding
  and part of an incident.

For each input it prints the CPU time (``time.process_time``, best of interleaved rounds) of
``for r in evtx.PyEvtxParser(path).records_json(): pass`` and of
``npsdiag.analyze.analyze_paths([path])`` with the catalog loaded beforehand, and their
ratio. For the all-relevant log it also times the stages (reading, reading + extraction,
diagnosis of the findings) and two floors: the bare loop plus decoding each message string
with ``json``, and that plus building each Event. Peak memory is the resident set size of a
child process that runs ``analyze_paths`` on one file; ``npsdiag --help`` is timed as a
command, against an empty ``python -c pass``.

Usage::

    python benchmarks/bench_analyze.py              # 10 + 200 MiB, 200,000 events, 3 rounds
    python benchmarks/bench_analyze.py --quick      # 10 + 50 MiB, 50,000 events, 2 rounds
    python benchmarks/bench_analyze.py --folder /var/tmp/bench --rounds 5
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from json.decoder import scanstring  # type: ignore[attr-defined]  # public, not in the stub
from pathlib import Path
from typing import Any

import evtx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import (  # the sibling benchmark builds the big files
    CHUNK_SIZE,
    CORPUS,
    HEADER_SIZE,
    file_header,
    make_big,
    valid_chunks,
)

from npsdiag.analyze import analyze_paths
from npsdiag.catalog import load_catalog
from npsdiag.diagnose import diagnose
from npsdiag.extract import extract, is_relevant
from npsdiag.model import Event, Finding
from npsdiag.sources import Source, read_events

_MESSAGE_KEY = '"#text":"'
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def extension_log(folder: Path, events: int) -> Path:
    """The AuthZOptCh .evtx of ``npsdiag samples mixed`` scaled to ``events``; reused."""
    target = folder / f"mixed-{events}"
    found = sorted(target.glob("*_AuthZOptCh.evtx"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "npsdiag",
                "samples",
                "mixed",
                str(target),
                "--events",
                f"{events}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        found = sorted(target.glob("*_AuthZOptCh.evtx"))
    if not found:
        raise SystemExit(f"`npsdiag samples mixed` wrote no AuthZOptCh log in {target}")
    return found[0]


def make_sprinkled(target: Path, mebibytes: int, relevant_log: Path, every: int) -> Path:
    """Like ``make_big``, but every ``every``-th chunk comes from ``relevant_log``; reused."""
    chunk_count = mebibytes * 16
    if target.is_file() and target.stat().st_size == HEADER_SIZE + chunk_count * CHUNK_SIZE:
        return target
    corpus = [chunk for path in sorted(CORPUS.rglob("*.evtx")) for chunk in valid_chunks(path)]
    relevant = list(valid_chunks(relevant_log))
    if not corpus or not relevant:
        raise SystemExit(f"no usable chunks under {CORPUS} or in {relevant_log}")
    with open(target, "wb") as stream:
        stream.write(file_header(chunk_count))
        for index in range(chunk_count):
            if index % every == every - 1:
                stream.write(relevant[(index // every) % len(relevant)])
            else:
                stream.write(corpus[index % len(corpus)])
    return target


# ---------------------------------------------------------------------------------------------
# Timed runs
# ---------------------------------------------------------------------------------------------


def bare_loop(path: Path) -> int:
    count = 0
    for _ in evtx.PyEvtxParser(str(path)).records_json():
        count += 1
    return count


def decode_messages(path: Path) -> int:
    """The bare loop plus decoding the first ``#text`` string of each record with json."""
    count = 0
    for record in evtx.PyEvtxParser(str(path)).records_json():
        if record is None:
            break
        text = record["data"]
        at = text.find(_MESSAGE_KEY)
        if at >= 0:
            scanstring(text, at + len(_MESSAGE_KEY))
            count += 1
    return count


def decode_and_build(path: Path) -> list[Event]:
    """``decode_messages`` plus one Event per message, kept as analyze keeps its findings."""
    events = []
    for record in evtx.PyEvtxParser(str(path)).records_json():
        if record is None:
            break
        text = record["data"]
        at = text.find(_MESSAGE_KEY)
        if at >= 0:
            message = scanstring(text, at + len(_MESSAGE_KEY))[0]
            events.append(Event(_EPOCH, "", "", 1, 4, "", 1, {}, (message,), None, "", None, None))
    return events


def read_only(path: Path) -> int:
    source = Source(name=str(path), path=path, kind="evtx", size=path.stat().st_size)
    count = 0
    for _ in read_events(source, source.new_stats(), is_relevant):
        count += 1
    return count


def read_and_extract(path: Path) -> list[Finding]:
    source = Source(name=str(path), path=path, kind="evtx", size=path.stat().st_size)
    findings = []
    for event in read_events(source, source.new_stats(), is_relevant):
        finding = extract(event)
        if finding is not None:
            findings.append(finding)
    return findings


def best_cpu(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best CPU seconds of each run, the runs interleaved round by round."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            gc.collect()
            start = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - start)
    return best


def time_few_relevant(path: Path, rounds: int) -> dict[str, Any]:
    catalog = load_catalog()
    analysis = analyze_paths([str(path)], catalog=catalog)
    timings = best_cpu(
        {
            "bare records_json loop": lambda: bare_loop(path),
            "analyze_paths": lambda: analyze_paths([str(path)], catalog=catalog),
        },
        rounds,
    )
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "records": sum(stats.records_read for stats in analysis.sources),
        "relevant": sum(stats.records_relevant for stats in analysis.sources),
        "seconds": timings,
    }


def time_all_relevant(path: Path, rounds: int) -> dict[str, Any]:
    catalog = load_catalog()
    analysis = analyze_paths([str(path)], catalog=catalog)
    counts = {
        "records": sum(stats.records_read for stats in analysis.sources),
        "relevant": sum(stats.records_relevant for stats in analysis.sources),
        "incidents": len(analysis.incidents),
    }
    # Nothing large stays alive while timing: every live object makes each full garbage
    # collection of the timed run longer.
    del analysis
    timings = best_cpu(
        {
            "bare records_json loop": lambda: bare_loop(path),
            "  + json decode of the message": lambda: decode_messages(path),
            "  + one Event per message, kept": lambda: decode_and_build(path),
            "read_events (is_relevant)": lambda: read_only(path),
            "read_events + extract, kept": lambda: read_and_extract(path),
            "analyze_paths": lambda: analyze_paths([str(path)], catalog=catalog),
        },
        rounds,
    )
    findings = read_and_extract(path)
    timings.update(
        best_cpu({"diagnose (findings given)": lambda: diagnose(findings, catalog)}, rounds)
    )
    return {"file": path.name, "bytes": path.stat().st_size, **counts, "seconds": timings}


# ---------------------------------------------------------------------------------------------
# Memory and start-up
# ---------------------------------------------------------------------------------------------


def child_memory(path: Path) -> dict[str, Any]:
    """In a fresh process: analyse one file, report the peak resident set size."""
    catalog = load_catalog()
    import npsdiag.sources.evtx  # noqa: F401  # imported before measuring: not reading

    before = peak_rss_mib()
    analysis = analyze_paths([str(path)], catalog=catalog)
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "records": sum(stats.records_read for stats in analysis.sources),
        "relevant": sum(stats.records_relevant for stats in analysis.sources),
        "rss_before_mib": round(before, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB.

    Linux's ``VmHWM`` belongs to the current program image; ``ru_maxrss`` (used elsewhere)
    also counts the parent's pages a forked child held before ``exec``.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def memory(path: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(path)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def startup(rounds: int) -> dict[str, float]:
    """Best wall time of ``npsdiag --help`` and of an empty interpreter, in seconds."""
    script = Path(sys.executable).with_name("npsdiag")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "npsdiag"]
    runs = {
        "npsdiag --help": [*command, "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, argv in runs.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def print_times(title: str, result: dict[str, Any]) -> None:
    seconds: dict[str, float] = result["seconds"]
    bare = seconds["bare records_json loop"]
    records = max(result["records"], 1)
    print(
        f"\n{title}: {result['file']}, {result['bytes'] / (1 << 20):.0f} MiB, "
        f"{result['records']:,} records, {result['relevant']:,} relevant"
    )
    print(f"  {'run':<34} {'CPU s':>8} {'x bare':>7} {'µs/record':>10}")
    for name, value in seconds.items():
        print(f"  {name:<34} {value:>8.3f} {value / bare:>7.2f} {value / records * 1e6:>10.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer rounds")
    parser.add_argument("--rounds", type=int, help="interleaved rounds, best kept (3; 2 quick)")
    parser.add_argument(
        "--folder",
        type=Path,
        default=Path(tempfile.gettempdir()) / "npsdiag-bench",
        help="where the inputs are built and kept (a temporary folder by default)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)

    if options.child:
        print(json.dumps(child_memory(options.child)))
        return 0
    rounds = options.rounds or (2 if options.quick else 3)
    small, large = (10, 50) if options.quick else (10, 200)
    events = 50_000 if options.quick else 200_000
    options.folder.mkdir(parents=True, exist_ok=True)
    small_path = make_big(options.folder / f"npsdiag-bench-{small}MiB.evtx", small)
    large_path = make_big(options.folder / f"npsdiag-bench-{large}MiB.evtx", large)
    extension = extension_log(options.folder, events)
    security = extension.with_name("Security.evtx")
    sprinkled = make_sprinkled(
        options.folder / f"npsdiag-bench-{large}MiB-1pct.evtx", large, security, 100
    )

    # Memory first, while this process is small: a child started by fork inherits the
    # parent's peak in ru_maxrss on some systems.
    memories = [memory(small_path), memory(large_path), memory(extension)]
    results: dict[str, Any] = {
        "few_relevant": time_few_relevant(large_path, rounds),
        "one_percent_chunks_relevant": time_few_relevant(sprinkled, rounds),
        "all_relevant": time_all_relevant(extension, rounds),
        "memory": memories,
        "startup_seconds": startup(max(rounds, 5)),
    }
    if options.json:
        print(json.dumps(results, indent=2))
        return 0
    print_times("Few relevant records", results["few_relevant"])
    print_times(
        "1 chunk in 100 from a Security log of NPS events", results["one_percent_chunks_relevant"]
    )
    print_times("Every record relevant", results["all_relevant"])
    print("\nPeak resident memory of analyze_paths in a child process")
    for item in results["memory"]:
        print(
            f"  {item['file']:<34} {item['bytes'] / (1 << 20):>6.0f} MiB "
            f"{item['records']:>9,} records {item['relevant']:>7,} relevant "
            f"{item['peak_rss_mib']:>7.1f} MiB (at start {item['rss_before_mib']:.1f})"
        )
    print("\nStart-up (wall time, best of runs)")
    for name, value in results["startup_seconds"].items():
        print(f"  {name:<34} {value * 1000:>8.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
