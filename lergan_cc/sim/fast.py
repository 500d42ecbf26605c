"""The crossbar arithmetic in BLAS-friendly layouts (one ungrouped matrix: the common case).

The ISA's matrices have rows (input channel, taps); here they are kept with rows (taps, channel)
so that the streamed operand can be gathered from a channels-last view of its buffer,
``(B, positions [+ 1 zero slot], C)``, straight into one contiguous ``(B * P, T * C)`` matrix: every
MMV of a loop nest and of the whole batch is then one GEMM (in batch chunks that bound the
gathered copy), and a weight-gradient nest is one GEMM against dy's ``(B * T, M)`` rows. The
machine keeps activations channels-last in memory (``(B, C, spatial...)`` views of
``(B, spatial..., C)`` arrays), so streaming a buffer copies nothing and a GEMM's result rows land
in the destination as contiguous rows. The math is the ISA's, reordered; ``kernels`` keeps the
literal form for grouped matrices.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np

GATHER_BYTES = 48 << 20  # the largest gathered operand one GEMM takes (larger: split over the batch)


def flat_window(counts: list[int], a: list[int], seqs: list[list[int]], sizes: tuple[int, ...]
                ) -> tuple[np.ndarray, bool]:
    """``(P, T)`` flat positions read by the loop nest (out-of-range reads -> the zero slot
    ``prod(sizes)``), and whether any read is out of range."""
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
        return np.ascontiguousarray(w.transpose(*spatial, 0, 1))
    if layout == "sconv":  # (M, C, K...)
        return np.ascontiguousarray(w.transpose(*spatial, 1, 0))
    if layout == "dense":  # (in, units)
        return w
    return np.ascontiguousarray(w.T)  # dense_t


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
    return np.ascontiguousarray(select(wt, 0, taps)).reshape(-1, wt.shape[-1])


def grad_rows(dy: np.ndarray, taps: list[list[int]]) -> np.ndarray:
    """dy ``(B, M, spatial...)`` at the tap positions as ``(B * T, M)`` rows (sample-major): the
    matrices of all samples."""
    m = dy.shape[1]
    return np.ascontiguousarray(select(np.moveaxis(dy, 1, -1), 1, taps)).reshape(-1, m)


def batch_chunk(batch: int, per_sample: int) -> int:
    """Samples per GEMM so that the gathered operand stays under GATHER_BYTES."""
    return max(1, min(batch, GATHER_BYTES // max(per_sample, 1)))


def mmv_forward(x: np.ndarray, idx: np.ndarray, mat: np.ndarray, chunk: int
                ) -> Iterator[tuple[slice, np.ndarray]]:
    """Every position of the nest, every sample, ``chunk`` samples per GEMM: ``(samples, (B_c * P, M))``."""
    b = x.shape[0]
    for b0 in range(0, b, chunk):
        part = x[b0:b0 + chunk]
        v = np.take(part, idx, axis=1).reshape(part.shape[0] * idx.shape[0], -1)  # take: ~10x faster than x[:, idx]
        yield slice(b0, b0 + part.shape[0]), v @ mat


def mmv_wgrad(x: np.ndarray, idx: np.ndarray, rows: np.ndarray, chunk: int) -> np.ndarray:
    """Sum over samples of (gathered operand)^T x dy: ``(P * C, M)`` rows (position, channel)."""
    b, c = x.shape[0], x.shape[2]
    p, t = idx.shape
    out = None
    for b0 in range(0, b, chunk):
        part = x[b0:b0 + chunk]
        n = part.shape[0]
        v = np.take(part, idx.T, axis=1).reshape(n * t, p * c)  # rows (sample, tap), columns (position, channel)
        prod = v.T @ rows[b0 * t:(b0 + n) * t]
        out = prod if out is None else np.add(out, prod, out=out)
    assert out is not None
    return out
