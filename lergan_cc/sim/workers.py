"""The simulator's worker threads: one per core, sharing out GEMMs, gathers and large copies.

numpy releases the GIL inside BLAS calls, ``take``, copies and ufunc loops, so plain threads run
them in parallel; the driver holds OpenBLAS to one thread meanwhile (its own threads, on a machine
other processes share, wait for each other at every barrier).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_local = threading.local()
_pool: ThreadPoolExecutor | None = None
_workers = 0


def workers() -> int:
    """Threads the simulator uses: one per core it may run on (``set_workers`` overrides)."""
    global _workers
    if not _workers:
        _workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return _workers


def set_workers(n: int) -> None:
    """Use ``n`` threads (0: one per core)."""
    global _workers, _pool
    _workers = max(0, n)
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None


def run_all(jobs: Sequence[Callable[..., object]], *args: object) -> list[object]:
    """Call every job (with ``args``) and return their results in order: this thread and ``workers() - 1``
    worker threads (numpy releases the GIL in take, copies and BLAS calls) each take the next job not
    taken yet until none is left, so ``workers()`` threads run at any time. (Handing the first job to this
    thread and the others to a pool of ``workers()`` threads ran one more thread than cores, and left a
    core idle at the end: 4 equal jobs on 2 cores took 2.5 job-times instead of 2.)"""
    global _pool
    helpers = min(workers(), len(jobs)) - 1
    if helpers < 1:
        return [job(*args) for job in jobs]
    if _pool is None:
        _pool = ThreadPoolExecutor(workers(), thread_name_prefix="lergan-sim")
    results: list[object] = [None] * len(jobs)
    todo = iter(range(len(jobs)))
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            results[i] = jobs[i](*args)

    started = [_pool.submit(drain) for _ in range(helpers)]
    error: BaseException | None = None
    try:
        drain()
    except BaseException as e:  # the helpers finish what they took before it is raised
        error = e
    for f in started:
        if not f.cancel():  # a helper that has not started finds nothing left: it need not run
            failed = f.exception()  # one that has is finishing a job it took: wait for it
            error = error or failed
    if error is not None:
        raise error
    return results


def split(n: int, parts: int) -> list[slice]:
    step = -(-n // parts)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def scratch(shape: tuple[int, ...]) -> np.ndarray:
    """A float32 work array of ``shape`` reused by this thread (no fresh pages to fault in per GEMM)."""
    n = math.prod(shape)
    buf = getattr(_local, "buf", None)
    if buf is None or buf.size < n:
        buf = _local.buf = np.empty(max(n, 1 << 20), dtype=np.float32)
    return buf[:n].reshape(shape)
