"""Benchmark ``npsdiag`` as users run it: the command as a subprocess, every report included.

Each measurement starts a fresh process (start-up included) and records its wall time and its
peak resident set size (read from ``getrusage`` of a small wrapper process that only waits for
that one command). The reference is the bare parser loop over the same files, also run as a
command (``python -c "for r in evtx.PyEvtxParser(f).records_json(): pass"``), so the ratio is
what a user sees. Inputs are built in a folder outside the repository and reused:

* ``startup``: one tiny sample .evtx with ``--json`` (target 0.2 s).
* ``few-relevant``: a 200 MiB log of the public corpus's chunks with every 100th chunk from
  the Security log of ``npsdiag samples mixed`` (NPS events): target 1.3 x the bare loop.
* ``mixed``: the five .evtx of ``npsdiag samples mixed DIR --events 200000``, terminal only
  (target 6 x) and with ``--html --json --csv --markdown`` (target 10 x, 600 MB).
* ``million``: ``--events 1000000`` of the same scenario, all reports: peak RSS (target 1 GB).
* ``batch``: 20 cases of a 10 MiB Security log each, ``--workers 1`` against ``--workers 2``
  (target 1.7 x).

Usage::

    python benchmarks/bench_command.py                      # everything, 3 rounds
    python benchmarks/bench_command.py startup mixed --rounds 5
    python benchmarks/bench_command.py --folder /var/tmp/bench --json results.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_analyze import make_sprinkled  # the sibling builds the big files

ROOT = Path(__file__).resolve().parents[1]
#: The console script users run (pip's launcher, start-up included), beside this Python.
_SCRIPT = Path(sys.executable).parent / "npsdiag"
NPSDIAG = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "npsdiag"]
#: Runs one command and prints its wall seconds and peak RSS (KiB) as JSON on stderr's last line.
_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "peak_kib": peak, "code": done.returncode}))
"""
_BARE = """
import evtx, sys
for f in sys.argv[1:]:
    for r in evtx.PyEvtxParser(f).records_json():
        pass
"""


def measure(command: Sequence[str]) -> dict[str, float]:
    """Wall time and peak RSS of ``command`` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] not in (0, 1, 3):
        raise SystemExit(f"{' '.join(command)} exited with {result['code']}")
    return result


def best(command: Sequence[str], rounds: int) -> dict[str, float]:
    """The fastest of ``rounds`` runs (the least disturbed), with the largest peak seen."""
    runs = [measure(command) for _ in range(rounds)]
    return {
        "wall": min(run["wall"] for run in runs),
        "peak_mib": max(run["peak_kib"] for run in runs) / 1024,
    }


def bare(files: Sequence[Path], rounds: int) -> dict[str, float]:
    return best([sys.executable, "-c", _BARE, *map(str, files)], rounds)


def scenario(folder: Path, events: int) -> list[Path]:
    target = folder / f"mixed-{events}"
    if not sorted(target.glob("*.evtx")):
        subprocess.run(
            [*NPSDIAG, "samples", "mixed", str(target), "--events", str(events)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for bundle in target.glob("*.zip"):
            bundle.unlink()  # the five .evtx are the case, as users export them
    return sorted(target.glob("*.evtx"))


def reports(folder: Path) -> list[str]:
    out = folder / "reports"
    out.mkdir(exist_ok=True)
    return [
        "--html", str(out / "r.html"), "--json", str(out / "r.json"),
        "--csv", str(out / "r.csv"), "--markdown", str(out / "r.md"),
    ]  # fmt: skip


def bench_startup(folder: Path, rounds: int) -> dict[str, object]:
    tiny = sorted((ROOT / "samples" / "healthy").glob("*_AuthZOptCh.evtx"))[0]
    command = [*NPSDIAG, "analyze", str(tiny), "--json", str(folder / "tiny.json")]
    measure(command)  # the first run builds the catalog cache, as a user's first run does
    return {
        "target_s": 0.2,
        **best(command, rounds),
        "python_c_pass": best([sys.executable, "-c", "pass"], rounds),
    }


def bench_few_relevant(folder: Path, rounds: int) -> dict[str, object]:
    security = next(path for path in scenario(folder, 200_000) if path.name == "Security.evtx")
    big = make_sprinkled(folder / "sprinkled-200.evtx", 200, security, 100)
    loop = bare([big], rounds)
    run = best([*NPSDIAG, "analyze", str(big), "--json", str(folder / "few.json")], rounds)
    return {"target_ratio": 1.3, "bare": loop, "npsdiag": run, "ratio": run["wall"] / loop["wall"]}


def bench_mixed(folder: Path, rounds: int, events: int = 200_000) -> dict[str, object]:
    files = scenario(folder, events)
    loop = bare(files, rounds)
    terminal = best([*NPSDIAG, "analyze", *map(str, files)], rounds)
    everything = best([*NPSDIAG, "analyze", *map(str, files), *reports(folder)], rounds)
    sizes = {path.name: path.stat().st_size for path in (folder / "reports").iterdir()}
    return {
        "events": events,
        "bare": loop,
        "terminal": terminal,
        "terminal_ratio": terminal["wall"] / loop["wall"],
        "all_reports": everything,
        "all_reports_ratio": everything["wall"] / loop["wall"],
        "report_bytes": sizes,
        "targets": {"terminal_ratio": 6, "all_reports_ratio": 10, "peak_mib": 600},
    }


def bench_million(folder: Path) -> dict[str, object]:
    files = scenario(folder, 1_000_000)
    run = best([*NPSDIAG, "analyze", *map(str, files), *reports(folder)], 1)
    return {"target_peak_mib": 1024, **run}


def bench_batch(folder: Path, rounds: int, cases: int = 20) -> dict[str, object]:
    security = next(path for path in scenario(folder, 200_000) if path.name == "Security.evtx")
    inputs = folder / "batch-cases"
    if not inputs.is_dir():
        inputs.mkdir()
        for number in range(cases):
            case = inputs / f"case-{number:02d}"
            case.mkdir()
            make_sprinkled(case / "Security.evtx", 10, security, 4)
    results: dict[str, object] = {}
    for workers in (1, 2):
        out = Path(tempfile.mkdtemp(prefix="npsdiag-batch-bench-", dir=folder))
        try:
            command = [*NPSDIAG, "batch", str(inputs), "-o", str(out), "--workers", str(workers)]
            runs = []
            for _ in range(rounds):
                shutil.rmtree(out)
                runs.append(measure(command))
            results[f"workers_{workers}"] = min(run["wall"] for run in runs)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    one, two = results["workers_1"], results["workers_2"]
    assert isinstance(one, float) and isinstance(two, float)
    return {"target_speedup": 1.7, **results, "speedup": one / two}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", default=["startup", "few", "mixed", "batch", "million"])
    parser.add_argument(
        "--folder", type=Path, default=Path(tempfile.gettempdir()) / "npsdiag-bench"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    runs = {
        "startup": lambda: bench_startup(args.folder, args.rounds),
        "few": lambda: bench_few_relevant(args.folder, args.rounds),
        "mixed": lambda: bench_mixed(args.folder, args.rounds),
        "batch": lambda: bench_batch(args.folder, args.rounds),
        "million": lambda: bench_million(args.folder),
    }
    return run_and_report(args.which, runs, args.json)


def run_and_report(
    which: Sequence[str], runs: dict[str, Callable[[], object]], json_path: Path | None
) -> int:
    """Run the benchmarks named in ``which``, print each result, and write them all to
    ``json_path`` when given (shared with ``bench_cluster.py``)."""
    results = {}
    for name in which:
        started = time.perf_counter()
        results[name] = runs[name]()
        print(
            f"{name} ({time.perf_counter() - started:.0f} s): {json.dumps(results[name], indent=1)}"
        )
    if json_path:
        json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
