"""Where tasks run: a local process pool (default) or a Dask cluster; the client alone writes the cache.

Both executors run :func:`task.run_task` and hand each record back to the client process, which
stores it in the content-addressed cache as it arrives — so workers share no files, a worker that
dies loses nothing but the task it was running (Dask reschedules it on another worker), and Ctrl-C
keeps every record that finished. ``dask.distributed`` is imported only by :class:`Dask`: the base
install does not need it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, Protocol

from lergan_cc.bench import cache
from lergan_cc.bench.task import Task, run_task
from lergan_cc.errors import LerganError

Results = Iterator[tuple[Task, dict[str, Any]]]


class Executor(Protocol):
    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def map(self, tasks: list[Task]) -> Results:
        """Yield (task, record) as tasks finish, heaviest submitted first."""
        ...

    def running(self) -> int:
        """Tasks being computed right now (for the progress bar)."""
        ...


class Progress(Protocol):
    def cached(self, task: Task, record: dict[str, Any]) -> None: ...

    def done(self, task: Task, record: dict[str, Any]) -> None: ...

    def running(self, count: int) -> None: ...


def execute(tasks: list[Task], store: cache.Cache, executor: Executor, progress: Progress,
            keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Every task's record by key: from the cache when there, else computed by ``executor`` and stored.

    ``keep`` trims what is returned (the cache gets the whole record): a sweep of 10⁴ runs keeps the
    numbers it tabulates, not 10⁴ full reports.
    """
    keep = keep or (lambda r: r)
    records: dict[str, dict[str, Any]] = {}
    todo: dict[str, Task] = {}
    for t in tasks:
        if t.key in records or t.key in todo:
            continue
        hit = store.get(t.key)
        if hit is None:
            todo[t.key] = t
        else:
            records[t.key] = keep(hit)
            progress.cached(t, hit)
    for t, record in executor.map(list(todo.values())):
        records[t.key] = keep(record)
        if not record.get("internal"):  # a bug or a lost worker is reported, never cached
            store.put(t.key, record)
        progress.running(executor.running())
        progress.done(t, record)
    return records


def failure(t: Task, error: str) -> dict[str, Any]:
    """The record of a task that did not come back (an internal error: not cached, rerun next time)."""
    return {"model": t.model, "config": t.config, "flags": list(t.flags), "ok": False, "internal": True,
            "error": error}


def _heaviest_first(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=lambda t: t.weight, reverse=True)


def worker_signals() -> None:
    """Pool workers leave Ctrl-C to the client, which cancels and stops them (no traceback per worker), and
    die quietly when it terminates them: the handlers they were forked with (``lergan_cc.outputs`` turns
    SIGTERM into an exception, for the client's clean-up) are the client's, not theirs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def fork_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` forked processes that leave Ctrl-C and SIGTERM handling to this one."""
    return ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), initializer=worker_signals)


class Local:
    """``workers`` forked processes on this machine (in-process for one worker: what tests patch)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: set[Future[dict[str, Any]]] = set()
        self._children: list[multiprocessing.process.BaseProcess] = []
        self._left = 0

    def __enter__(self) -> Local:
        if self.workers > 1:
            before = set(multiprocessing.active_children())
            self._pool = fork_pool(self.workers)
            self._pool.submit(int).result()  # fork every worker now, before any progress thread starts
            self._children = [p for p in multiprocessing.active_children() if p not in before]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is None:
            return
        if exc[0] is not None:  # interrupted or failed: drop queued tasks, stop the running ones
            for f in self._pending:
                f.cancel()
            for p in self._children:
                p.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def map(self, tasks: list[Task]) -> Results:
        if self._pool is None:
            left = len(tasks)
            for t in _heaviest_first(tasks):
                record = run_task(t)
                left -= 1
                self._left = left
                yield t, record
            return
        futures = {self._pool.submit(run_task, t): t for t in _heaviest_first(tasks)}
        self._pending = set(futures)
        for f in as_completed(futures):
            self._pending.discard(f)
            try:
                record = f.result()
            except Exception as e:  # the pool broke (a worker was killed): report, keep going
                record = failure(futures[f], f"internal error: {type(e).__name__}: {e}")
            yield futures[f], record

    def running(self) -> int:
        return min(len(self._pending), self.workers) if self._pool else min(1, self._left)


class Dask:
    """A Dask cluster: the one at ``scheduler`` (``tcp://HOST:PORT``), or a ``LocalCluster`` of
    ``workers`` single-threaded worker processes started for this run."""

    POLL_S = 0.5  # how often the running count is asked of the scheduler
    CONNECT_TIMEOUT = "20s"

    def __init__(self, scheduler: str | None, workers: int) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise LerganError("--executor dask needs dask.distributed: pip install -e \".[dask]\"") from None
        self.scheduler, self.workers = scheduler, workers
        self.client: Any = None
        self._cluster: Any = None
        self._pending: dict[str, Any] = {}  # future key -> future
        self._running, self._asked = 0, 0.0

    def __enter__(self) -> Dask:
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            # CRITICAL: a worker losing its scheduler as the run ends (Ctrl-C) logs tracebacks at ERROR;
            # what goes wrong in a run reaches the user as a failed or re-run task, in one line
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=logging.CRITICAL)
            self.client = Client(self._cluster)
        else:
            try:
                self.client = Client(self.scheduler, timeout=self.CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as e:
                raise LerganError(f"--scheduler {self.scheduler}: cannot connect: {e}") from None
        try:
            self._check_workers()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _check_workers(self) -> None:
        """Every connected worker must run the client's compiler (tasks check it again: workers may join later)."""
        mine = cache.source_digest()
        try:
            digests = self.client.run(cache.source_digest)
        except Exception as e:  # e.g. a worker without lergan_cc cannot even unpickle the call
            raise LerganError(f"dask workers cannot run lergan_cc: {type(e).__name__}: {e}") from None
        for address, digest in digests.items():
            if digest != mine:
                raise LerganError(f"dask worker {address} runs another lergan_cc (source digest {digest[:12]}, "
                                  f"this client's {mine[:12]}): install the same version on every worker")

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # the shutdown's own complaints
        with contextlib.suppress(Exception):
            if self._pending:
                self.client.cancel(list(self._pending.values()), force=True)
        with contextlib.suppress(Exception):
            self.client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()

    def map(self, tasks: list[Task]) -> Results:
        from distributed import as_completed as dask_completed

        ordered = _heaviest_first(tasks)  # submission order is the scheduler's tie-break
        futures = self.client.map(run_task, ordered, key=[f"lergan-point-{t.key}" for t in ordered])
        by_key = {}
        for f, t in zip(futures, ordered, strict=True):
            by_key[f.key], self._pending[f.key] = t, f
        for f in dask_completed(list(self._pending.values())):
            t = by_key[f.key]
            try:
                record = f.result()
            except Exception as e:  # KilledWorker: its workers died more often than the scheduler allows
                record = failure(t, f"internal error: {type(e).__name__}: {e}")
            f.release()
            del self._pending[f.key]
            yield t, record

    def running(self) -> int:
        """Tasks on workers (capped at their threads), asked of the scheduler at most every POLL_S."""
        now = time.monotonic()
        if now - self._asked >= self.POLL_S:
            self._asked = now
            with contextlib.suppress(Exception):
                busy = sum(len(keys) for keys in self.client.processing().values())
                self._running = min(busy, sum(self.client.nthreads().values()))
        return min(self._running, len(self._pending))


def create(name: str, workers: int, scheduler: str | None) -> Executor:
    if name == "dask":
        return Dask(scheduler, workers)
    return Local(workers)


def run(tasks: list[Task], store: cache.Cache, name: str, workers: int, scheduler: str | None,
        keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> tuple[dict[str, dict[str, Any]], Any]:
    """:func:`execute` on a new executor, with a progress display (started after the pool forks); the
    records by key, and the display's final counts (``progress.Counts``)."""
    from lergan_cc.bench import progress

    unique = list({t.key: t for t in tasks}.values())
    if all(store.has(t.key) for t in unique):  # all cached: no pool to fork, no cluster to start
        name, workers = "local", 1
    with create(name, workers, scheduler) as executor, progress.create(len(unique)) as shown:
        return execute(unique, store, executor, shown, keep), shown.counts
