"""The executors: the same small sweep gives the same bytes from the local pool, from Dask on a
LocalCluster of 2 worker processes, and from the cache; killing a Dask worker mid-sweep loses nothing;
Ctrl-C stops a sweep cleanly and keeps what finished in the cache.

The Dask tests skip when ``dask.distributed`` is not installed (CI installs it: it is in the test extra).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from lergan_cc.bench import cache, executors, task
from lergan_cc.bench.sweep import driver, points, spec
from lergan_cc.cli import lergan_bench
from tests.test_sweep import SMALL, write_sweep

HAVE_DASK = importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="dask.distributed is not installed (pip install -e '.[dask]')")
TIMING = ("seconds", "compile_s", "simulate_s")  # wall times measured by whoever ran the task


def local_cluster(workers: int = 2) -> Any:
    import logging

    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                        silence_logs=logging.ERROR)


def records(cache_dir: Path) -> dict[str, dict[str, Any]]:
    """Every cached record, without the wall times."""
    return {p.stem: {k: v for k, v in json.loads(p.read_text()).items() if k not in TIMING}
            for p in cache_dir.glob("*.json")}


def run_sweep(path: Path, out: Path, cache_dir: Path, *extra: str) -> dict[str, Any]:
    argv = ["--sweep", str(path), "--out", str(out), "--cache-dir", str(cache_dir), "--no-plots", *extra]
    assert lergan_bench.main(argv) == 0
    return json.loads((out / "sweep.json").read_text())


@needs_dask
def test_local_dask_and_cache_give_the_same_bytes(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, SMALL)
    local = run_sweep(path, tmp_path / "local", tmp_path / "c-local", "--jobs", "2")  # first: it forks this process
    bench = ["--models", str(tmp_path / "tiny.lergan"), "--configs", "3d-zfdr", "--batch", "4", "--no-plots"]
    assert lergan_bench.main([*bench, "--out", str(tmp_path / "b-local"), "--cache-dir", str(tmp_path / "cb1")]) == 0
    with local_cluster() as cluster:
        dask = run_sweep(path, tmp_path / "dask", tmp_path / "c-dask", "--executor", "dask", "--scheduler",
                         cluster.scheduler_address)
        assert lergan_bench.main([*bench, "--out", str(tmp_path / "b-dask"), "--cache-dir", str(tmp_path / "cb2"),
                                  "--executor", "dask", "--scheduler", cluster.scheduler_address]) == 0
    # the paper's evaluation (no --sweep) runs on Dask as well
    assert (tmp_path / "b-local" / "results.csv").read_bytes() == (tmp_path / "b-dask" / "results.csv").read_bytes()
    again = run_sweep(path, tmp_path / "again", tmp_path / "c-local", "--jobs", "2")
    assert local["meta"]["runs"]["computed"] == dask["meta"]["runs"]["computed"] == 12
    assert again["meta"]["runs"] == {"distinct": 12, "cached": 12, "computed": 0, "failed": 0}
    csv = {name: (tmp_path / name / "sweep.csv").read_bytes() for name in ("local", "dask", "again")}
    assert csv["local"] == csv["dask"] == csv["again"]
    assert local["results"] == dask["results"] == again["results"]
    assert local["pareto"] == dask["pareto"] == again["pareto"]
    assert records(tmp_path / "c-local") == records(tmp_path / "c-dask")  # workers' records, byte for byte


class KillOnFirstResult:
    """A progress display that SIGKILLs a worker busy with tasks when the first result arrives."""

    def __init__(self, client: Any) -> None:
        self.client, self.lost, self.results = client, [], 0

    def cached(self, t: task.Task, record: dict[str, Any]) -> None:
        raise AssertionError("nothing is cached in this test")

    def running(self, count: int) -> None:
        pass

    def done(self, t: task.Task, record: dict[str, Any]) -> None:
        self.results += 1
        if self.lost:
            return
        busy = {w: keys for w, keys in self.client.processing().items() if keys}
        worker, keys = next(iter(busy.items()))
        pid = self.client.run(os.getpid, workers=[worker])[worker]
        os.kill(pid, signal.SIGKILL)
        self.lost = [str(k).removeprefix("lergan-point-") for k in keys]


@needs_dask
def test_killing_a_worker_mid_sweep_loses_nothing(tmp_path: Path) -> None:
    sweep = spec.load(str(write_sweep(tmp_path, SMALL)))
    tasks = list(driver.plan(sweep, points.design(sweep), False).values())
    store = cache.Cache(tmp_path / "c")
    with local_cluster() as cluster, executors.Dask(cluster.scheduler_address, 2) as dask:
        killer = KillOnFirstResult(dask.client)  # one client in this process: the executor's
        got = executors.execute(tasks, store, dask, killer)
    assert killer.lost, "a worker was killed while it held tasks"
    assert killer.results == len(tasks) == len(got) == 12
    assert all(r["ok"] for r in got.values()), [r.get("error") for r in got.values()]
    by_key = {t.key: t for t in tasks}
    for key in killer.lost[:2]:  # what the dead worker held was recomputed elsewhere, identically
        again = task.run_task(by_key[key])
        assert {k: v for k, v in again.items() if k not in TIMING} == \
            {k: v for k, v in got[key].items() if k not in TIMING}
    assert len(list((tmp_path / "c").glob("*.json"))) == 12


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's background job would start with it ignored


@pytest.mark.parametrize("executor", ["local", pytest.param("dask", marks=needs_dask)])
def test_ctrl_c_stops_cleanly_and_keeps_what_finished(tmp_path: Path, executor: str) -> None:
    path = write_sweep(tmp_path, SMALL)
    cache_dir, out = tmp_path / "c", tmp_path / "out"
    proc = subprocess.Popen(["lergan-bench", "--sweep", str(path), "--out", str(out), "--cache-dir", str(cache_dir),
                             "--executor", executor, "--jobs", "2", "--no-plots"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while not list(cache_dir.glob("*.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    children = _children(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "lergan-bench: interrupted" and "Traceback" not in err
    assert not out.exists()  # no partial outputs
    kept = {p.stem for p in cache_dir.glob("*.json")}
    assert 1 <= len(kept) < 12
    sweep = spec.load(str(path))
    keys = {t.key for t in driver.plan(sweep, points.design(sweep), False).values()}
    assert kept <= keys  # the next run finds them
    assert all(json.loads((cache_dir / f"{k}.json").read_text())["ok"] for k in kept)
    gone_by = time.monotonic() + 15  # a loaded machine may take a while to reap them
    while [pid for pid in children if _alive(pid)] and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "worker processes outlived the interrupted run"


def _children(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:
        return []
    return [c.pid for c in psutil.Process(pid).children(recursive=True)]


def _alive(pid: int) -> bool:
    try:
        import psutil

        return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (ImportError, Exception):
        return False


@needs_dask
def test_unreachable_scheduler_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(executors.Dask, "CONNECT_TIMEOUT", "1s")
    path = write_sweep(tmp_path, SMALL)
    argv = ["--sweep", str(path), "--out", str(tmp_path / "o"), "--executor", "dask", "--scheduler",
            f"tcp://127.0.0.1:{port}", "--no-cache"]
    assert lergan_bench.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"lergan-bench: error: --scheduler tcp://127.0.0.1:{port}: "
                                               "cannot connect"), err
    assert not (tmp_path / "o").exists()
