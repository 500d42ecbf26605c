"""Seeded initial weights: normal(0, 0.02) float32 values, drawn block by block on every core.

A tensor's values come from its own stream, numpy's PCG64 seeded by ``[seed, crc32(name)]``: uniform
float32 pairs ``(u, v)`` (``Generator.random``: 24-bit multiples of 2**-24 in [0, 1)), turned into two
normals by Box-Muller, ``r = sqrt(-2·σ²·ln(1 - u))``, value ``2i`` = ``r·cos(2π·v)``, value ``2i + 1`` =
``r·sin(2π·v)``, in float32 (numpy's vectorised log, sin and cos: 4x faster than numpy's float32
ziggurat, ``Generator.standard_normal``). |values| stay below 5.8 σ (the largest ``-ln(1 - u)`` is
``24·ln 2``). The values do not depend on how a tensor is cut into blocks, nor on the threads: a block
starting at value ``2i`` starts its stream ``i`` steps on (``PCG64.advance``; each 64-bit step gives the
two uniforms of one pair).

Blocks of :data:`BLOCK` values are the unit of work: :func:`blocks` hands out every block of a list of
tensors in order, drawn ahead on worker threads into a few reused buffers, so a sidecar is written
without the tensors ever being whole in memory (fresh memory costs more than the drawing: a 144 MB
array's page faults took 0.4 s of system time on the 2-core machine); :meth:`Normal.array` draws a
whole tensor.
"""

from __future__ import annotations

import math
import os
import threading
import zlib
from collections import deque
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

SIGMA = 0.02
BLOCK = 1 << 18  # values per block (even, so that every block but a tensor's last starts a pair)
_PARALLEL = 1 << 20  # fewer values than this are drawn on the calling thread
_TWO_PI = np.float32(2 * math.pi)
_SCALE = np.float32(-2 * SIGMA * SIGMA)
_scratch = threading.local()


@dataclass(frozen=True)
class Normal:
    """A tensor of seeded normal(0, :data:`SIGMA`) float32 values, not drawn yet."""

    name: str
    shape: tuple[int, ...]
    seed: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def spans(self) -> list[tuple[int, int]]:
        """(start, count) of each block, in order."""
        return [(start, min(BLOCK, self.size - start)) for start in range(0, self.size, BLOCK)]

    def array(self) -> np.ndarray:
        """The whole tensor (its blocks drawn on every core)."""
        out = np.empty(self.shape, dtype=np.float32)
        flat = out.reshape(-1)
        jobs = [(flat[start:start + n], start) for start, n in self.spans()]
        workers = _workers(self.size)
        if workers < 2:
            for part, start in jobs:
                fill(part, self, start)
            return out
        with ThreadPoolExecutor(workers) as pool:
            for done in [pool.submit(fill, part, self, start) for part, start in jobs]:
                done.result()
        return out


def fill(out: np.ndarray, t: Normal, start: int) -> np.ndarray:
    """``out`` (1-D float32) := values ``start`` … ``start + len(out) - 1`` of ``t`` (``start`` even)."""
    assert start % 2 == 0 and out.ndim == 1 and out.dtype == np.float32
    bits = np.random.PCG64(np.random.SeedSequence([t.seed, zlib.crc32(t.name.encode())]))
    bits.advance(start // 2)
    n = out.size
    pairs = (n + 1) // 2
    u, r, angle, trig = _buffers(pairs)
    np.random.Generator(bits).random(out=u, dtype=np.float32)
    np.subtract(np.float32(1), u[0::2], out=r)
    np.log(r, out=r)
    np.multiply(r, _SCALE, out=r)
    np.sqrt(r, out=r)
    np.multiply(u[1::2], _TWO_PI, out=angle)
    np.cos(angle, out=trig)
    np.multiply(trig, r, out=out[0::2])
    np.sin(angle, out=trig)
    odd = n - pairs
    np.multiply(trig[:odd], r[:odd], out=out[1::2])
    return out


def _buffers(pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This thread's scratch arrays (uniforms, radii, angles, cos/sin), allocated once per thread."""
    if getattr(_scratch, "u", None) is None or _scratch.u.size < 2 * pairs:
        size = max(pairs, BLOCK // 2)
        _scratch.u = np.empty(2 * size, dtype=np.float32)
        _scratch.rest = np.empty((3, size), dtype=np.float32)
    rest = _scratch.rest
    return _scratch.u[:2 * pairs], rest[0, :pairs], rest[1, :pairs], rest[2, :pairs]


def blocks(tensors: list[Normal]) -> Generator[np.ndarray, None, None]:
    """Every block of ``tensors`` in order (as :meth:`Normal.spans`), each a 1-D float32 array that stays
    valid until the next one is asked for; drawn ahead on one worker thread per core."""
    jobs = [(t, start, n) for t in tensors for start, n in t.spans()]
    workers = _workers(sum(t.size for t in tensors))
    if workers < 2:
        buf = np.empty(min(BLOCK, max((n for _, _, n in jobs), default=0)), dtype=np.float32)
        for t, start, n in jobs:
            yield fill(buf[:n], t, start)
        return
    free = [np.empty(BLOCK, dtype=np.float32) for _ in range(2 * workers + 1)]
    pending: deque[tuple[Future[np.ndarray], np.ndarray]] = deque()
    todo = iter(jobs)
    with ThreadPoolExecutor(workers) as pool:

        def submit() -> None:
            job = next(todo, None)
            if job is not None:
                t, start, n = job
                buf = free.pop()
                pending.append((pool.submit(fill, buf[:n], t, start), buf))

        for _ in range(len(free)):
            submit()
        while pending:
            done, buf = pending.popleft()
            yield done.result()
            free.append(buf)
            submit()


def _workers(values: int) -> int:
    return 1 if values < _PARALLEL else min(os.cpu_count() or 1, 8)
