"""Benchmark ``npsdiag batch --scheduler`` on a local Dask cluster, as users run it.

Starts a real scheduler (``dask scheduler``) and N workers (``dask worker --nthreads 1``) on
127.0.0.1 as subprocesses, runs the ``npsdiag batch`` command against them as a subprocess,
and records its wall time, the batch process's peak RSS (``getrusage`` of a wrapper, as in
``bench_command.py``) and the cluster's peak RSS (scheduler, workers and the case hosts they
start, summed, sampled every 50 ms with psutil, which distributed installs). Compared with 1
and 2 workers on the 20 cases of 10 MiB that ``bench_command.py batch`` builds (target:
2 workers >= 1.6 x one worker on a 2-core machine), next to the local pool (``--workers 1``
and ``2``) measured in the same rounds.

``costs`` measures what docs/batch.md's sizing rests on, each as a command: one case with
``npsdiag analyze`` (three reports), the same with ``npsdiag batch --workers 1`` with and
without ``--dataset``, per case and per MiB of input; and a dense case (the 177 MiB of
``npsdiag samples mixed --events 200000``, every record an NPS or extension event).

Usage::

    python benchmarks/bench_command.py batch --folder /var/tmp/bench --rounds 1  # the cases
    python benchmarks/bench_cluster.py --folder /var/tmp/bench
    python benchmarks/bench_cluster.py costs --folder /var/tmp/bench --json costs.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_command import NPSDIAG, ROOT, measure, run_and_report, scenario

BIN = Path(sys.executable).parent


class _RssSampler:
    """Peak of the summed RSS of some process trees (and of the largest single process)."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.peak_total = 0
        self.peak_single = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for root in self.roots:
                try:
                    parent = psutil.Process(root)
                    processes = [parent, *parent.children(recursive=True)]
                except psutil.Error:
                    continue
                for process in processes:
                    try:
                        rss = process.memory_info().rss
                    except psutil.Error:
                        continue
                    total += rss
                    self.peak_single = max(self.peak_single, rss)
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(0.05)


@contextmanager
def local_cluster(folder: Path, workers: int) -> Iterator[tuple[str, list[int]]]:
    """A scheduler and ``workers`` single-thread workers on 127.0.0.1; yields the address
    and the process ids to watch."""
    scheduler_file = folder / f"scheduler-{workers}.json"
    scheduler_file.unlink(missing_ok=True)
    logs = open(folder / f"cluster-{workers}.log", "w")  # noqa: SIM115
    common = {"stdout": logs, "stderr": subprocess.STDOUT}
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", ":0", "--scheduler-file", str(scheduler_file)],
        **common,
    )  # fmt: skip
    started = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = [
            str(BIN / "dask"), "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
            "--no-dashboard", "--memory-limit", "0",
        ]  # fmt: skip
        for _ in range(workers):
            started.append(subprocess.Popen(worker, **common))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address, [process.pid for process in started]
    finally:
        for process in reversed(started):
            process.terminate()
        for process in reversed(started):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()


def _warm_up(folder: Path, address: str) -> None:
    """One small batch first: the cluster a batch meets is a running one, whose workers
    have imported npsdiag and settled, not one still starting."""
    samples = folder / "warm-up"
    if not samples.is_dir():
        samples.mkdir()
        for name in ("healthy", "mixed"):
            shutil.copytree(ROOT / "samples" / name, samples / name)
    out = Path(tempfile.mkdtemp(prefix="npsdiag-warm-up-", dir=folder))
    try:
        measure([*NPSDIAG, "batch", str(samples), "-o", str(out), "--scheduler", address])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    time.sleep(1)


#: A pure-Python CPU loop: what two processes at once get out of this machine's two cores.
_SPIN = "total = 0\nfor number in range(20_000_000):\n    total += number"


def _ceiling() -> float:
    """The machine's own speedup of 2 processes over 1, at this moment: the same two CPU
    loops one after the other, then at once. A batch cannot beat it; on a shared virtual
    machine it moves from round to round (a neighbour's load, steal time)."""
    spin = [sys.executable, "-c", _SPIN]
    start = time.perf_counter()
    for _ in range(2):
        subprocess.run(spin, check=True)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    both = [subprocess.Popen(spin) for _ in range(2)]
    for process in both:
        process.wait()
    return serial / (time.perf_counter() - start)


def bench_cluster(folder: Path, rounds: int) -> dict[str, object]:
    """1 and 2 workers, on the cluster and with the local pool (``--workers``), one run of
    each per round, in turn (a shared machine's load drifts: no configuration gets all the
    quiet moments); the fastest run of each is kept, and the median is reported too. Each
    round also measures the machine's own 2-process speedup (:func:`_ceiling`)."""
    inputs = folder / "batch-cases"
    if not inputs.is_dir():
        raise SystemExit(f"{inputs} is missing: run `bench_command.py batch --folder {folder}`")
    runs: dict[str, list[dict[str, float]]] = {}
    ceilings: list[float] = []
    out = Path(tempfile.mkdtemp(prefix="npsdiag-cluster-bench-", dir=folder))
    batch = [*NPSDIAG, "batch", str(inputs), "-o", str(out)]
    try:
        for _ in range(rounds):
            ceilings.append(_ceiling())
            for workers in (1, 2):
                with local_cluster(folder, workers) as (address, pids):
                    _warm_up(folder, address)
                    shutil.rmtree(out, ignore_errors=True)
                    with _RssSampler(pids) as sampler:
                        run = measure([*batch, "--scheduler", address])
                    runs.setdefault(f"cluster_{workers}", []).append(
                        {
                            "wall": run["wall"],
                            "batch_peak_mib": run["peak_kib"] / 1024,
                            "cluster_peak_mib": sampler.peak_total / 2**20,
                            "largest_process_mib": sampler.peak_single / 2**20,
                        }
                    )
                shutil.rmtree(out, ignore_errors=True)
                run = measure([*batch, "--workers", str(workers)])
                runs.setdefault(f"local_{workers}", []).append(
                    {"wall": run["wall"], "batch_peak_mib": run["peak_kib"] / 1024}
                )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    results: dict[str, object] = {"target_speedup": 1.6, "machine_ceilings": ceilings}
    for name, measured in runs.items():
        walls = sorted(r["wall"] for r in measured)
        fastest = min(measured, key=lambda item: item["wall"])
        results[name] = {**fastest, "median_wall": walls[len(walls) // 2], "walls": walls}
    for kind in ("cluster", "local"):
        one, two = runs[f"{kind}_1"], runs[f"{kind}_2"]
        results[f"{kind}_speedup"] = min(r["wall"] for r in one) / min(r["wall"] for r in two)
        medians = [sorted(r["wall"] for r in side)[len(side) // 2] for side in (one, two)]
        results[f"{kind}_speedup_of_medians"] = medians[0] / medians[1]
    return results


def bench_costs(folder: Path, rounds: int) -> dict[str, object]:
    """Per-case costs as commands, on one of the 10 MiB cases."""
    case = folder / "batch-cases" / "case-00"
    size = sum(path.stat().st_size for path in case.rglob("*") if path.is_file())
    work = Path(tempfile.mkdtemp(prefix="npsdiag-costs-", dir=folder))
    try:
        single = work / "one"
        single.mkdir()
        shutil.copytree(case, single / case.name)
        reports = [
            "--html", str(work / "r.html"), "--json", str(work / "r.json"),
            "--markdown", str(work / "r.md"),
        ]  # fmt: skip
        startup = _best([*NPSDIAG, "--version"], rounds)
        analyze = _best([*NPSDIAG, "analyze", str(case), *reports], rounds)
        batch = _best(
            [*NPSDIAG, "batch", str(single), "-o", str(work / "b"), "--workers", "1"], rounds
        )
        dataset = _best(
            [*NPSDIAG, "batch", str(single), "-o", str(work / "d"), "--workers", "1",
             "--dataset", str(work / "fleet")],
            rounds,
        )  # fmt: skip
        # A dense case: every record an NPS or extension event (the worst per MiB).
        dense_files = scenario(folder, 200_000)
        dense = dense_files[0].parent
        dense_size = sum(path.stat().st_size for path in dense_files)
        dense_batch = _best(
            [*NPSDIAG, "batch", str(dense), "-o", str(work / "db"), "--workers", "1"], 1
        )
        dense_dataset = _best(
            [*NPSDIAG, "batch", str(dense), "-o", str(work / "dd"), "--workers", "1",
             "--dataset", str(work / "dense-fleet")],
            1,
        )  # fmt: skip
        return {
            "dense_case_mib": dense_size / 2**20,
            "dense_batch_one_case": dense_batch,
            "dense_batch_one_case_dataset": dense_dataset,
            "dense_seconds_per_mib": (dense_batch["wall"] - startup["wall"]) / (dense_size / 2**20),
            "case_mib": size / 2**20,
            "npsdiag_version_s": startup,
            "analyze_three_reports": analyze,
            "batch_one_case": batch,
            "batch_one_case_dataset": dataset,
            "seconds_per_mib": (batch["wall"] - startup["wall"]) / (size / 2**20),
            "dataset_seconds": dataset["wall"] - batch["wall"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _best(command: list[str], rounds: int) -> dict[str, float]:
    runs = [measure(command) for _ in range(rounds)]
    return {
        "wall": min(run["wall"] for run in runs),
        "peak_mib": max(run["peak_kib"] for run in runs) / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", default=["cluster"], choices=["cluster", "costs"])
    parser.add_argument(
        "--folder", type=Path, default=Path(tempfile.gettempdir()) / "npsdiag-bench"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    runs = {
        "cluster": lambda: bench_cluster(args.folder, args.rounds),
        "costs": lambda: bench_costs(args.folder, args.rounds),
    }
    return run_and_report(args.which, runs, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
