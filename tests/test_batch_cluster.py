"""``npsdiag batch --scheduler``: a real Dask scheduler and two workers on 127.0.0.1.

The cluster (``distributed.LocalCluster``, worker processes) is started once for the module
and stopped at its end. Outputs must be the local run's, byte for byte; a case that crashes
or hangs costs only itself; stopping leaves no half case and no host process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from npsdiag.batch import BatchProgress, run_batch
from npsdiag.batch_case import Task, make_state
from npsdiag.batch_find import find_cases
from npsdiag.batch_host import CaseHost, HostDied, HostSettings, HostTimedOut
from npsdiag.batch_index import INDEX_FILES
from npsdiag.catalog import Catalog, load_catalog
from npsdiag.errors import ClusterError, UsageError
from npsdiag.model import Finding
from tests.cli_runner import run
from tests.test_batch import SAMPLE_CASES, SAMPLES, make_collection, tree

try:
    import distributed
except ImportError:  # the cluster extra is not installed
    distributed = None
try:
    import pyarrow
except ImportError:  # the dataset extra is not installed
    pyarrow = None

needs_cluster = pytest.mark.skipif(
    distributed is None, reason="the cluster extra (dask.distributed) is not installed"
)
needs_dataset = pytest.mark.skipif(pyarrow is None, reason="the dataset extra is not installed")
needs_alarm = pytest.mark.skipif(
    not hasattr(signal, "SIGALRM"), reason="the soft time limit needs an alarm clock (POSIX)"
)


class _TrapCatalog(Catalog):
    """The shipped catalog, except that a marked case crashes, raises, stalls or wedges.

    Pickled with the batch, it reaches the case hosts on the workers the way a real
    crash or hang would: from inside the analysis of one case.
    """

    def match(self, finding: Finding) -> list:  # type: ignore[type-arg]
        origin = finding.event.origin
        if "crash-me" in origin:
            os._exit(3)
        if "raise-me" in origin:
            raise RuntimeError("a bug in the analysis")
        if "wedge-me" in origin:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(600)
        if "stall-me" in origin:
            time.sleep(600)
        return super().match(finding)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a scheduler with two single-thread worker processes on 127.0.0.1."""
    if distributed is None:
        pytest.skip("the cluster extra (dask.distributed) is not installed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=0,
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def _host_count(address: str) -> int:
    """Case hosts still running on the cluster's workers."""
    from npsdiag import batch_cluster

    def count() -> int:
        return sum(1 for host in batch_cluster._BATCHES.hosts.values() if host.alive)

    with distributed.Client(address, set_as_default=False) as client:
        return sum(client.run(count).values())


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_collection(tmp_path_factory.mktemp("cluster"), samples=SAMPLE_CASES)


@needs_cluster
@needs_dataset
def test_outputs_equal_the_local_run_byte_for_byte(
    scheduler: str, collection: Path, tmp_path: Path
) -> None:
    local = run_batch(
        [str(collection)], tmp_path / "local", workers=2, dataset=tmp_path / "local-fleet"
    )
    seen: list[BatchProgress] = []
    remote = run_batch(
        [str(collection)],
        tmp_path / "cluster",
        scheduler=scheduler,
        dataset=tmp_path / "cluster-fleet",
        on_progress=seen.append,
    )
    assert [replace(case, seconds=0.0) for case in remote.cases] == [
        replace(case, seconds=0.0) for case in local.cases
    ]
    assert tree(tmp_path / "cluster") == tree(tmp_path / "local")
    assert tree(tmp_path / "cluster-fleet") == tree(tmp_path / "local-fleet")
    assert set(INDEX_FILES) <= set(tree(tmp_path / "cluster"))
    last = seen[-1]
    assert (last.cases_total, last.cases_done) == (6, 6)
    assert last.files_done > 10 and last.events_read > 0
    for field in ("cases_done", "files_done", "events_read"):
        values = [getattr(progress, field) for progress in seen]
        assert values == sorted(values), field
    assert _host_count(scheduler) == 0


@needs_cluster
def test_cli_through_the_cluster(
    capsys: pytest.CaptureFixture[str], scheduler: str, collection: Path, tmp_path: Path
) -> None:
    code, local_out, _ = run(
        capsys, "batch", str(collection), "-o", str(tmp_path / "r"), "--workers", "2"
    )
    shutil.rmtree(tmp_path / "r")
    code, out, err = run(
        capsys, "batch", str(collection), "-o", str(tmp_path / "r"), "--scheduler", scheduler
    )
    assert code == 1
    assert out == local_out
    assert err == ""  # no progress bar off a terminal, and no log lines of the client


@needs_cluster
@needs_alarm
def test_a_crashed_or_stalled_case_costs_only_itself(scheduler: str, tmp_path: Path) -> None:
    collected = tmp_path / "collected"
    collected.mkdir()
    for name in ("healthy", "cert-expired"):
        shutil.copytree(SAMPLES / name, collected / name)
    for name in ("crash-me", "raise-me", "stall-me"):
        shutil.copytree(SAMPLES / "healthy", collected / name)
    started = time.monotonic()
    result = run_batch(
        [str(collected)],
        tmp_path / "review",
        scheduler=scheduler,
        case_timeout=3,
        catalog=_TrapCatalog(load_catalog().entries),
    )
    assert time.monotonic() - started < 90
    by_id = {case.case.case_id: case for case in result.cases}
    assert by_id["crash-me"].failure_kind == "worker crashed"
    assert by_id["raise-me"].failure_kind == "internal error"
    assert by_id["raise-me"].reason == "RuntimeError: a bug in the analysis"
    assert by_id["stall-me"].failure_kind == "timed out"
    assert "--case-timeout" in (by_id["stall-me"].reason or "")
    for name in ("healthy", "cert-expired"):
        assert by_id[name].ok, by_id[name].reason
        assert (tmp_path / "review" / name / "report.html").is_file()
    for name in ("crash-me", "raise-me", "stall-me"):
        assert not (tmp_path / "review" / name).exists()
    document = json.loads((tmp_path / "review" / "index.json").read_text(encoding="utf-8"))
    assert document["totals"]["failed_by_kind"] == {
        "internal error": 1,
        "timed out": 1,
        "worker crashed": 1,
    }
    assert _host_count(scheduler) == 0


@needs_cluster
@needs_dataset
def test_stopping_cancels_the_cases_and_leaves_no_half_case(
    scheduler: str, collection: Path, tmp_path: Path
) -> None:
    output, dataset = tmp_path / "review", tmp_path / "fleet"

    def interrupt(progress: BatchProgress) -> None:
        if progress.cases_done >= 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(
            [str(collection)], output, scheduler=scheduler, dataset=dataset,
            on_progress=interrupt,
        )  # fmt: skip
    assert not any((output / name).exists() for name in INDEX_FILES)
    for folder in output.iterdir():
        if folder.is_dir():
            assert sorted(path.name for path in folder.iterdir()) == [
                "report.html",
                "report.json",
                "report.md",
            ]
    with_row = {path.name for path in (dataset / "cases").iterdir()}
    for table in ("incidents", "events", "problems", "sources"):
        folder = dataset / table
        assert {path.name for path in folder.iterdir()} <= with_row if folder.exists() else True
    assert not list(tmp_path.rglob("*.partial"))
    assert _host_count(scheduler) == 0
    # The cluster is still there for the next batch.
    again = run_batch([str(collection)], tmp_path / "again", scheduler=scheduler)
    assert again.read == 4


@needs_cluster
def test_a_worker_that_cannot_see_a_path_stops_the_run(
    capsys: pytest.CaptureFixture[str],
    scheduler: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collected = make_collection(tmp_path, samples=("healthy",))
    import npsdiag.batch

    def elsewhere(inputs: list[str]) -> object:
        cases, ignored = find_cases(inputs)
        hidden = replace(cases[0], case_id="hidden", inputs=("/nonexistent/hidden",))
        return [*cases, hidden], ignored

    monkeypatch.setattr(npsdiag.batch, "find_cases", elsewhere)
    code, out, err = run(
        capsys, "batch", str(collected), "-o", str(tmp_path / "r"), "--scheduler", scheduler
    )
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert re.search(r"worker tcp://127\.0\.0\.1:\d+ does not see '/nonexistent/hidden'", err)
    assert "shared file system" in err
    assert not list((tmp_path / "r").glob(".npsdiag-cluster-check-*"))


@needs_cluster
def test_another_npsdiag_on_the_workers_is_refused(
    scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import npsdiag.batch_cluster

    collected = make_collection(tmp_path, samples=("healthy",))
    monkeypatch.setattr(npsdiag.batch_cluster, "__version__", "99.0")
    with pytest.raises(ClusterError, match=r"runs npsdiag \S+, this is 99\.0"):
        run_batch([str(collected)], tmp_path / "r", scheduler=scheduler)


@needs_cluster
def test_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import npsdiag.batch_cluster

    collected = make_collection(tmp_path, samples=("healthy",))
    with pytest.raises(UsageError, match="cannot be used together"):
        run_batch([str(collected)], tmp_path / "r", workers=2, scheduler="tcp://127.0.0.1:1")
    monkeypatch.setattr(npsdiag.batch_cluster, "_CONNECT_SECONDS", 1.0)
    code, _, err = run(
        capsys, "batch", str(collected), "-o", str(tmp_path / "r"), "--scheduler",
        "tcp://127.0.0.1:9",
    )  # fmt: skip
    assert code == 2
    assert err.startswith("npsdiag: error: cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'")
    assert err.count("\n") == 1


def test_without_the_extra_the_option_says_what_to_install(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collected = make_collection(tmp_path, samples=("healthy",))
    monkeypatch.setitem(sys.modules, "distributed", None)
    code, out, err = run(
        capsys, "batch", str(collected), "-o", str(tmp_path / "r"), "--scheduler",
        "tcp://127.0.0.1:8786",
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert err == (
        "npsdiag: error: --scheduler needs dask.distributed, which is not installed "
        "(pip install 'npsdiag[cluster]')\n"
    )
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------- the case host alone


def _host_task(tmp_path: Path, name: str) -> Task:
    collected = tmp_path / "collected"
    collected.mkdir(exist_ok=True)
    shutil.copytree(SAMPLES / "healthy", collected / name)
    (case,) = (case for case in find_cases([str(collected)])[0] if case.case_id == name)
    return Task(0, case, str(tmp_path / "review"), False)


def _settings(time_limit: float | None) -> bytes:
    import pickle

    catalog = _TrapCatalog(load_catalog().entries)
    return pickle.dumps(HostSettings(catalog, False, 10, 200, time_limit))


@needs_alarm
def test_the_host_runs_cases_and_survives_nothing_it_should_not(tmp_path: Path) -> None:
    (tmp_path / "review").mkdir()
    host = CaseHost(_settings(None), str(tmp_path))
    try:
        files: list[int] = []
        good = host.run(_host_task(tmp_path, "healthy"), 60, files.append)
        assert good.ok and len(files) > 5
        # The same host, the next case: same summary as in this process.
        state = make_state(_TrapCatalog(load_catalog().entries), False, 10, 200)
        from npsdiag.batch_case import run_case

        here = run_case(_host_task(tmp_path, "healthy-2"), state, lambda stats: None)
        there = host.run(_host_task(tmp_path, "healthy-3"), 60, lambda records: None)
        assert (here.incidents, here.problems, here.events_read) == (
            there.incidents,
            there.problems,
            there.events_read,
        )
        with pytest.raises(HostDied):
            host.run(_host_task(tmp_path, "crash-me"), 60, lambda records: None)
        assert not host.alive
    finally:
        host.close()


@needs_alarm
def test_the_host_is_ended_when_the_alarm_cannot_stop_its_case(tmp_path: Path) -> None:
    (tmp_path / "review").mkdir()
    host = CaseHost(_settings(1.0), str(tmp_path))
    try:
        started = time.monotonic()
        with pytest.raises(HostTimedOut):
            host.run(_host_task(tmp_path, "wedge-me"), 3.0, lambda records: None)
        assert time.monotonic() - started < 20
        assert not host.alive
    finally:
        host.close()
