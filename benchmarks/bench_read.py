"""Benchmark the .evtx reader against the bare parser loop, and check that memory stays flat.

Builds large inputs from the real corpus (never inside the repository): it takes the
CRC-valid 64 KiB chunks of the corpus files, keeps the well-filled ones, and concatenates them,
repeating, under a freshly written 4096-byte file header with the right chunk count and CRC.

Usage::

    python benchmarks/bench_read.py                       # 100 MiB file in /tmp, full report
    python benchmarks/bench_read.py --size 25 --rounds 3
    python benchmarks/bench_read.py --file some.evtx      # time an existing file
    python benchmarks/bench_read.py --memory 25 100       # peak memory at two sizes

Times are CPU seconds of this process (``time.process_time``), the best of ``--rounds``
interleaved runs, so other load on the machine disturbs them as little as possible. Ratios are
against ``for r in evtx.PyEvtxParser(path).records_json(): pass`` over the same file.
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import evtx

from npsdiag.extract import is_relevant
from npsdiag.model import SourceStats
from npsdiag.sources import Source, read_events

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
HEADER_SIZE = 4096
CHUNK_SIZE = 65536
MIN_FILL = 50_000  # keep chunks whose records fill more than this many bytes


def valid_chunks(path: Path) -> Iterator[bytes]:
    """The chunks of ``path`` whose header and record checksums are both right."""
    data = path.read_bytes()
    for offset in range(HEADER_SIZE, len(data) - CHUNK_SIZE + 1, CHUNK_SIZE):
        chunk = data[offset : offset + CHUNK_SIZE]
        if chunk[:8] != b"ElfChnk\x00":
            continue
        header_crc = struct.unpack_from("<I", chunk, 124)[0]
        if zlib.crc32(chunk[:120] + chunk[128:512]) != header_crc:
            continue
        free = struct.unpack_from("<I", chunk, 48)[0]
        if not 512 <= free <= CHUNK_SIZE:
            continue
        if zlib.crc32(chunk[512:free]) != struct.unpack_from("<I", chunk, 52)[0]:
            continue
        if free >= MIN_FILL:
            yield chunk


def file_header(chunk_count: int) -> bytes:
    """A 4096-byte EVTX file header for ``chunk_count`` chunks, with its CRC32."""
    header = bytearray(HEADER_SIZE)
    # magic, first chunk, last chunk, next record id, header size, minor, major,
    # header block size, chunk count
    struct.pack_into(
        "<8sQQQIHHHH",
        header,
        0,
        b"ElfFile\x00",
        0,
        chunk_count - 1,
        1,
        128,
        1,
        3,
        4096,
        chunk_count,
    )
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    return bytes(header)


def make_big(target: Path, mebibytes: int) -> Path:
    """Write a ``mebibytes`` MiB .evtx made of real corpus chunks; reuse it if present."""
    chunk_count = mebibytes * 16
    if chunk_count > 0xFFFF:
        raise SystemExit("at most 4095 MiB: the header counts chunks in 16 bits")
    if target.is_file() and target.stat().st_size == HEADER_SIZE + chunk_count * CHUNK_SIZE:
        return target
    chunks = [chunk for path in sorted(CORPUS.rglob("*.evtx")) for chunk in valid_chunks(path)]
    if not chunks:
        raise SystemExit(f"no usable chunks under {CORPUS}")
    with open(target, "wb") as stream:
        stream.write(file_header(chunk_count))
        for index in range(chunk_count):
            stream.write(chunks[index % len(chunks)])
    return target


def bare_loop(path: Path) -> int:
    count = 0
    for _ in evtx.PyEvtxParser(str(path)).records_json():
        count += 1
    return count


def reader(path: Path, relevant: Callable[[str, str, int], bool] | None) -> SourceStats:
    source = Source(name=str(path), path=path, kind="evtx", size=path.stat().st_size)
    stats = source.new_stats()
    for _ in read_events(source, stats, relevant):
        pass
    return stats


def best_cpu(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best CPU time of each run, the runs interleaved round by round."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - start)
    return best


def time_file(path: Path, rounds: int) -> dict[str, object]:
    filtered = reader(path, is_relevant)
    everything = reader(path, None)
    timings = best_cpu(
        {
            "bare records_json loop": lambda: bare_loop(path),
            "read_events, filter is_relevant": lambda: reader(path, is_relevant),
            "read_events, everything relevant": lambda: reader(path, None),
        },
        rounds,
    )
    bare = timings["bare records_json loop"]
    return {
        "file": str(path),
        "bytes": path.stat().st_size,
        "records": everything.records_read,
        "relevant with is_relevant": filtered.records_relevant,
        "cpu_seconds": {name: round(value, 3) for name, value in timings.items()},
        "ratio_to_bare": {name: round(value / bare, 2) for name, value in timings.items()},
    }


def child_memory(path: Path, relevant: bool) -> dict[str, object]:
    """Run in a fresh process: read one file, report peak RSS and Python heap peak."""
    import npsdiag.sources.evtx  # noqa: F401  # imported first: its import is not reading

    tracemalloc.start()
    stats = reader(path, is_relevant if relevant else None)
    _, peak = tracemalloc.get_traced_memory()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "file": str(path),
        "bytes": path.stat().st_size,
        "records": stats.records_read,
        "relevant": stats.records_relevant,
        "peak_rss_mib": round(rss_kib / 1024, 1),
        "python_heap_peak_mib": round(peak / (1 << 20), 2),
    }


def memory(sizes: list[int], folder: Path) -> list[dict[str, object]]:
    results = []
    for size in sizes:
        path = make_big(folder / f"npsdiag-bench-{size}MiB.evtx", size)
        for relevant in (True, False):
            command = [sys.executable, __file__, "--child", str(path)]
            if relevant:
                command.append("--child-filter")
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            result = json.loads(output)
            result["mode"] = "filter is_relevant" if relevant else "everything relevant"
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, help="time this .evtx instead of a built one")
    parser.add_argument("--size", type=int, default=100, help="MiB of the built file (100)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs, best kept (5)")
    parser.add_argument(
        "--memory", type=int, nargs="*", metavar="MIB", help="peak memory at these sizes"
    )
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-filter", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)

    if options.child:
        print(json.dumps(child_memory(options.child, options.child_filter)))
        return 0
    if options.memory is not None:
        sizes = options.memory or [25, 100]
        print(json.dumps(memory(sizes, options.folder), indent=2))
        return 0
    path = options.file or make_big(
        options.folder / f"npsdiag-bench-{options.size}MiB.evtx", options.size
    )
    print(json.dumps(time_file(path, options.rounds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
