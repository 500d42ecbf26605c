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
    """Call every job (with ``args``), the first in this thread and the rest on the worker threads
    (numpy releases the GIL in take, copies and BLAS calls), and wait for all of them."""
    global _pool
    if len(jobs) <= 1 or workers() == 1:
        return [job(*args) for job in jobs]
    if _pool is None:
        _pool = ThreadPoolExecutor(workers(), thread_name_prefix="lergan-sim")
    futures = [_pool.submit(job, *args) for job in jobs[1:]]
    first = jobs[0](*args)
    return [first, *(f.result() for f in futures)]


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
