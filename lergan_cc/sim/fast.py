"""The crossbar arithmetic in BLAS-friendly layouts (one ungrouped matrix: the common case).

The ISA's matrices have rows (input channel, taps); here they are kept with rows (taps, channel)
so that the streamed operand can be gathered from a channels-last view of its buffer,
``(B, positions [+ 1 zero slot], C)``, straight into one contiguous ``(B * P, T * C)`` matrix: every
MMV of a loop nest and of the whole batch is then one GEMM (in batch chunks that bound the
gathered copy, shared out over :mod:`lergan_cc.sim.workers`), and a weight-gradient nest is one
GEMM against dy's ``(B * T, M)`` rows. The machine keeps activations channels-last in memory
(``(B, C, spatial...)`` views of ``(B, spatial..., C)`` arrays), so streaming a buffer copies
nothing and a GEMM's result rows land in the destination as contiguous rows. The math is the ISA's,
reordered; ``kernels`` keeps the literal form for grouped matrices.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from functools import partial

import numpy as np

from lergan_cc.sim.workers import run_all, scratch, split, workers

GATHER_BYTES = 24 << 20  # the largest gathered operand one GEMM takes (larger: split over the batch)
PARALLEL_COPY_BYTES = 4 << 20  # a copy at least this large is shared out over the threads
MIN_ROWS = 256  # GEMM rows (or columns) per thread below which splitting a GEMM does not pay


def flat_window(counts: list[int], a: list[int], seqs: list[list[int]], sizes: tuple[int, ...]
                ) -> tuple[np.ndarray, bool]:
    """``(P, T)`` flat positions read by the loop nest (out-of-range reads -> the zero slot
    ``prod(sizes)``), and whether any read is out of range. Kept per distinct window (a program's
    runs and its kinds' replicas share them); the array is read-only."""
    return _flat_window(tuple(counts), tuple(a), tuple(tuple(q) for q in seqs), tuple(sizes))


@functools.lru_cache(maxsize=4096)
def _flat_window(counts: tuple[int, ...], a: tuple[int, ...], seqs: tuple[tuple[int, ...], ...],
                 sizes: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    n = len(counts)
    flat = np.zeros([1] * (2 * n), dtype=np.int64)
    ok = np.ones([1] * (2 * n), dtype=bool)
    stride = 1
    for ax in range(n - 1, -1, -1):
        grid = a[ax] * np.arange(counts[ax])[:, None] + np.asarray(seqs[ax])[None, :]
        shape = [1] * (2 * n)
        shape[ax], shape[n + ax] = grid.shape
        g = grid.reshape(shape)
        flat = flat + g * stride
        ok = ok & (g >= 0) & (g < sizes[ax])
        stride *= sizes[ax]
    flat, ok = np.broadcast_arrays(flat, ok)
    p, t = math.prod(counts), math.prod(len(s) for s in seqs)
    out = np.where(ok, flat, stride).reshape(p, t)
    out.flags.writeable = False
    return out, not bool(ok.all())


def channels_last_order(ndim: int) -> tuple[int, ...]:
    """The memory order of a ``(B, C, spatial...)`` buffer kept channels-last."""
    return (0, *range(2, ndim), 1)


def zeros(shape: tuple[int, ...], order: tuple[int, ...] | None) -> np.ndarray:
    """Zeros of logical ``shape`` whose memory runs in axis order ``order`` (None: C order)."""
    if order is None:
        return np.zeros(shape, dtype=np.float32)
    phys = np.zeros([shape[i] for i in order], dtype=np.float32)
    return phys.transpose(np.argsort(order))


def channels_last(x: np.ndarray, zero_slot: bool) -> tuple[np.ndarray, bool]:
    """``(B, C, spatial...)`` as ``(B, positions [+ 1 zero position], C)``, and whether that took a copy
    (none for a buffer already channels-last in memory and no zero slot)."""
    b, c = x.shape[:2]
    n = math.prod(x.shape[2:])
    view = np.moveaxis(x, 1, -1)
    if not zero_slot:
        if view.flags.c_contiguous:
            return view.reshape(b, n, c), False
        return np.ascontiguousarray(view).reshape(b, n, c), True
    out = np.empty((b, n + 1, c), dtype=x.dtype)
    out[:, :n].reshape(view.shape)[...] = view
    out[:, n] = 0
    return out, True


def transposed_weight(w: np.ndarray, layout: str) -> np.ndarray:
    """The ONNX weight as ``(K..., C, M)``: the crossbar rows (taps, channel) are then a plain cut
    (no copy when the weight already lies that way in memory, as updated weights do)."""
    n = w.ndim - 2
    spatial = tuple(range(2, 2 + n))
    if layout == "tconv":  # (C, M, K...)
        view = w.transpose(*spatial, 0, 1)
    elif layout == "sconv":  # (M, C, K...)
        view = w.transpose(*spatial, 1, 0)
    elif layout == "dense":  # (in, units)
        return w
    else:  # dense_t
        view = w.T
    return view if view.flags.c_contiguous else copy_blocked(view, np.empty(view.shape, dtype=view.dtype))


def copy_blocked(src: np.ndarray, out: np.ndarray, block_bytes: int = 1 << 20) -> np.ndarray:
    """``out[...] = src`` a block of ``src``'s outermost memory axis at a time: a transposing copy whose
    source block stays in cache (2-4x faster than one ``np.ascontiguousarray`` of a weight), the blocks
    shared out over the worker threads."""
    live = [abs(st) if n > 1 else 0 for st, n in zip(src.strides, src.shape, strict=True)]
    if not live:
        out[...] = src
        return out
    axis = int(np.argmax(live))
    per = max(1, block_bytes // max(1, live[axis]))
    blocks = [slice(start, start + per) for start in range(0, src.shape[axis], per)]
    groups = [blocks[g] for g in split(len(blocks), workers())] if len(blocks) > 1 else [blocks]
    run_all([partial(_copy_blocks, src, out, axis, group) for group in groups])
    return out


def _copy_blocks(src: np.ndarray, out: np.ndarray, axis: int, blocks: list[slice]) -> None:
    for block in blocks:
        index = (slice(None),) * axis + (block,)
        out[index] = src[index]


def _index(taps: list[int]) -> slice | list[int]:
    """A tap list as a slice when it is an increasing progression (a view, not a copy)."""
    if len(taps) == 1:
        return slice(taps[0], taps[0] + 1)
    step = taps[1] - taps[0]
    if step > 0 and all(b - a == step for a, b in itertools.pairwise(taps)):
        return slice(taps[0], taps[-1] + 1, step)
    return list(taps)


def select(a: np.ndarray, first: int, taps: list[list[int]]) -> np.ndarray:
    """``a`` restricted to ``taps[i]`` along axis ``first + i`` (strided views where the taps allow)."""
    for i, t in enumerate(taps):
        if list(t) == list(range(a.shape[first + i])):
            continue
        ix = _index(list(t))
        a = a[(slice(None),) * (first + i) + (ix,)] if isinstance(ix, slice) else np.take(a, ix, axis=first + i)
    return a


def weight_rows(wt: np.ndarray, taps: list[list[int]]) -> np.ndarray:
    """Rows (taps, channel) x columns (outputs) of the taps ``taps`` of a transposed weight."""
    return contiguous(select(wt, 0, taps)).reshape(-1, wt.shape[-1])


def grad_rows(dy: np.ndarray, taps: list[list[int]]) -> np.ndarray:
    """dy ``(B, M, spatial...)`` at the tap positions as ``(B * T, M)`` rows (sample-major): the
    matrices of all samples."""
    m = dy.shape[1]
    return contiguous(select(np.moveaxis(dy, 1, -1), 1, taps)).reshape(-1, m)


def contiguous(a: np.ndarray) -> np.ndarray:
    """``np.ascontiguousarray(a)``, a large copy shared out over the worker threads by its first axis."""
    if a.flags.c_contiguous:
        return a
    out = np.empty(a.shape, dtype=a.dtype)
    if a.nbytes < PARALLEL_COPY_BYTES or a.shape[0] < 2:
        out[...] = a
        return out
    run_all([partial(_copy_part, a, out, part) for part in split(a.shape[0], workers())])
    return out


def _copy_part(a: np.ndarray, out: np.ndarray, part: slice) -> None:
    out[part] = a[part]


def batch_chunk(batch: int, per_sample: int) -> int:
    """Samples per GEMM so that the gathered operand stays under GATHER_BYTES."""
    return max(1, min(batch, GATHER_BYTES // max(per_sample, 1)))


def forward(x: np.ndarray, idx: np.ndarray, mat: np.ndarray, chunk: int,
            store: Callable[[slice, slice, np.ndarray], None]) -> None:
    """Every position of the nest, every sample: ``store(samples, columns, (samples * P, columns))``.

    Work is split over the worker threads by samples (each thread gathers and multiplies its own)
    or, when there are too few GEMM rows for that, by the matrix's columns."""
    b, (p, t), c = x.shape[0], idx.shape, x.shape[2]
    m, jobs = mat.shape[1], []
    if taps_first_pays(x.shape[1], p, t, c, m):
        run_all([partial(_forward_taps_first, x, idx, mat, s, store) for s in split(b, workers())])
        return
    for chunk_samples in split(b, max(1, -(-b // chunk))):
        n = chunk_samples.stop - chunk_samples.start
        if n * p >= 2 * MIN_ROWS and workers() > 1:
            jobs += [partial(_forward_rows, x, idx, mat, s, store) for s in _split_within(chunk_samples, workers())]
        elif m >= 2 * MIN_ROWS and workers() > 1:
            v = np.empty((n, p, t, c), dtype=np.float32)
            run_all([partial(_gather, x, idx, v, s) for s in split(n, workers())], chunk_samples.start)
            v2 = v.reshape(n * p, t * c)
            jobs += [partial(_forward_cols, v2, mat, chunk_samples, cols, store) for cols in split(m, workers())]
        else:
            jobs.append(partial(_forward_rows, x, idx, mat, chunk_samples, store))
    run_all(jobs)


def taps_first_pays(n: int, p: int, t: int, c: int, m: int) -> bool:
    """Whether multiplying every input position by every tap's rows first, then summing the products the
    window reads, moves less than gathering the window: a matrix with few columns (a 3-channel image's last
    T-CONV) over about as many input positions as results. The gathered operand has ``p * t * c`` values;
    the products ``n * t * m`` values at ``n * t * c * m`` multiplications (the window's own count is
    ``p * t * c * m``)."""
    return t > 1 and m <= 16 and n * m * 4 <= p * c and n <= 2 * p


def _forward_taps_first(x: np.ndarray, idx: np.ndarray, mat: np.ndarray, samples: slice,
                        store: Callable[[slice, slice, np.ndarray], None]) -> None:
    """``store`` of the window's products, as ``sum_t (x @ rows_t)[idx[:, t]]``: one GEMM of every input
    position against every tap's rows ``(C, T * M)``, then ``t`` gathers of ``M``-wide rows. The zero slot
    of ``x`` gives zero products, so out-of-range reads still add nothing."""
    n, (p, t), c, m = samples.stop - samples.start, idx.shape, x.shape[2], mat.shape[1]
    if n == 0:
        return
    per_tap = mat.reshape(t, c, m).transpose(1, 0, 2).reshape(c, t * m)
    products = (x[samples].reshape(n * x.shape[1], c) @ per_tap).reshape(n, x.shape[1], t, m)
    out = products[:, idx[:, 0], 0]
    for k in range(1, t):
        out += products[:, idx[:, k], k]
    store(samples, slice(0, m), out.reshape(n * p, m))


def _split_within(s: slice, parts: int) -> list[slice]:
    return [slice(s.start + q.start, s.start + q.stop) for q in split(s.stop - s.start, parts)]


def _forward_rows(x: np.ndarray, idx: np.ndarray, mat: np.ndarray, samples: slice,
                  store: Callable[[slice, slice, np.ndarray], None]) -> None:
    n, (p, t), c = samples.stop - samples.start, idx.shape, x.shape[2]
    v = scratch((n, p, t, c))
    np.take(x[samples], idx, axis=1, out=v, mode="clip")  # ~10x faster than x[:, idx]; indices are in range
    store(samples, slice(0, mat.shape[1]), v.reshape(n * p, t * c) @ mat)


def _forward_cols(v: np.ndarray, mat: np.ndarray, samples: slice, cols: slice,
                  store: Callable[[slice, slice, np.ndarray], None]) -> None:
    store(samples, cols, v @ mat[:, cols])


def wgrad(x: np.ndarray, idx: np.ndarray, rows: np.ndarray, chunk: int) -> np.ndarray:
    """Sum over samples of (gathered operand)^T x dy: ``(P * C, M)`` rows (position, channel).

    The gather is split over the worker threads by samples, the GEMM by its larger output side."""
    b, c = x.shape[0], x.shape[2]
    p, t = idx.shape
    m = rows.shape[1]
    if scatter_pays(idx, x.shape[1], m) and (np.count_nonzero(idx == x.shape[1] - 1) < 2 or not x[:, -1].any()):
        return _wgrad_scattered(x, idx, rows)
    out = np.empty((p * c, m), dtype=np.float32)
    for k, samples in enumerate(split(b, max(1, -(-b // chunk)))):
        n = samples.stop - samples.start
        v = scratch((n, t, p, c))  # rows (sample, tap), columns (position, channel)
        run_all([partial(_gather, x, idx.T, v, s) for s in split(n, workers())], samples.start)
        v2, d = v.reshape(n * t, p * c), rows[samples.start * t:samples.stop * t]
        target = out if k == 0 else np.empty_like(out)
        if p * c >= m:
            run_all([partial(_matmul_into, v2[:, r].T, d, target[r]) for r in split(p * c, workers())])
        else:
            run_all([partial(_matmul_cols, v2.T, d, target, cols) for cols in split(m, workers())])
        if k:
            out += target
    return out


def scatter_pays(idx: np.ndarray, n: int, m: int) -> bool:
    """Whether placing dy's rows at the input positions each tap reads (no two taps reading one input, but
    for the last position, the zero slot of a padded operand: the caller checks that it holds zeros) and
    multiplying the whole operand, ungathered, costs less than gathering the window: the window reads most
    of the input (``n <= 5/4 t``) at one position (a weight-gradient kind whose result is one tap of the
    kernel), and dy is narrow (``m <= 16``, a 3-channel image's gradient: measured 2x faster there, and no
    faster at 128-256 columns, where placing dy moves as much as the gather)."""
    p, t = idx.shape
    if p != 1 or m > 16 or 4 * n > 5 * t:
        return False
    inside = idx[0][idx[0] < n - 1]
    return len(np.unique(inside)) == len(inside)


def _wgrad_scattered(x: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x^T D`` with ``D[s, idx[0, t]] = dy[s, t]``: the same sum as the gathered product (each input
    position read by at most one tap; reads of the zero slot multiply zeros either way)."""
    b, n, c = x.shape
    t, m = idx.shape[1], rows.shape[1]
    placed = np.zeros((b, n, m), dtype=np.float32)
    placed[:, idx[0]] = rows.reshape(b, t, m)
    parts = split(c, workers()) if c * m >= 2 * MIN_ROWS else [slice(0, c)]
    out = np.empty((c, m), dtype=np.float32)
    flat, d = x.reshape(b * n, c), placed.reshape(b * n, m)
    run_all([partial(_matmul_into, flat[:, part].T, d, out[part]) for part in parts])
    return out


def _gather(x: np.ndarray, idx: np.ndarray, out: np.ndarray, part: slice, offset: int = 0) -> None:
    np.take(x[offset + part.start:offset + part.stop], idx, axis=1, out=out[part], mode="clip")


def _matmul_into(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    np.matmul(a, b, out=out)


def _matmul_cols(a: np.ndarray, b: np.ndarray, out: np.ndarray, cols: slice) -> None:
    out[:, cols] = a @ b[:, cols]
