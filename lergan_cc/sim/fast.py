"""The crossbar arithmetic in BLAS-friendly layouts (one ungrouped matrix: the common case).

The ISA's matrices have rows (input channel, taps); here they are kept with rows (taps, channel)
so that the streamed operand can be gathered from a channels-last copy of its buffer,
``(B, positions + 1 zero slot, C)``, straight into one contiguous ``(B * P, T * C)`` matrix: every
MMV of a loop nest and of the whole batch is then one GEMM, and a weight-gradient nest is one
GEMM against dy's ``(B * T, M)`` rows. The math is the ISA's, reordered; ``kernels`` keeps the
literal form for grouped matrices.
"""

from __future__ import annotations

import math

import numpy as np


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


def channels_last(x: np.ndarray) -> np.ndarray:
    """``(B, C, spatial...)`` -> ``(B, positions + 1, C)`` with a zero last position."""
    b, c = x.shape[:2]
    out = np.zeros((b, math.prod(x.shape[2:]) + 1, c), dtype=x.dtype)
    out[:, :-1] = x.reshape(b, c, -1).transpose(0, 2, 1)
    return out


def transposed_weight(w: np.ndarray, layout: str) -> np.ndarray:
    """The ONNX weight as ``(K..., C, M)``: the crossbar rows (taps, channel) are then a plain cut."""
    n = w.ndim - 2
    spatial = tuple(range(2, 2 + n))
    if layout == "tconv":  # (C, M, K...)
        return np.ascontiguousarray(w.transpose(*spatial, 0, 1))
    if layout == "sconv":  # (M, C, K...)
        return np.ascontiguousarray(w.transpose(*spatial, 1, 0))
    if layout == "dense":  # (in, units)
        return w
    return np.ascontiguousarray(w.T)  # dense_t


def select(a: np.ndarray, first: int, taps: list[list[int]]) -> np.ndarray:
    """``a`` restricted to ``taps[i]`` along axis ``first + i`` (np.take per axis; whole axes kept as views)."""
    for i, t in enumerate(taps):
        if list(t) != list(range(a.shape[first + i])):
            a = np.take(a, t, axis=first + i)
    return a


def weight_rows(wt: np.ndarray, taps: list[list[int]]) -> np.ndarray:
    """Rows (taps, channel) x columns (outputs) of the taps ``taps`` of a transposed weight."""
    return np.ascontiguousarray(select(wt, 0, taps)).reshape(-1, wt.shape[-1])


def grad_rows(dy: np.ndarray, taps: list[list[int]]) -> np.ndarray:
    """dy at the tap positions as ``(B * T, M)`` rows (sample-major): the matrices of all samples."""
    b, m = dy.shape[:2]
    sel = select(dy, 2, taps)
    return np.ascontiguousarray(sel.reshape(b, m, -1).transpose(0, 2, 1)).reshape(-1, m)


def mmv_forward(xcl: np.ndarray, idx: np.ndarray, mat: np.ndarray, counts: list[int]) -> np.ndarray:
    """Every position of the nest, every sample: ``(B, M, counts...)`` (a transposed view)."""
    b = xcl.shape[0]
    v = np.take(xcl, idx, axis=1).reshape(b * idx.shape[0], -1)  # take: ~10x faster than x[:, idx]
    out = (v @ mat).reshape(b, *counts, mat.shape[1])
    return np.moveaxis(out, -1, 1)


def mmv_wgrad(xcl: np.ndarray, idx: np.ndarray, rows: np.ndarray, counts: list[int], layout: str) -> np.ndarray:
    """Sum over samples of (gathered operand)^T x dy: ``(M, C, counts...)`` (mck) or ``(C, M, ...)`` (cmk)."""
    b, c = xcl.shape[0], xcl.shape[2]
    p, t = idx.shape
    v = np.take(xcl, idx.T, axis=1).reshape(b * t, p * c)  # rows (sample, tap), columns (position, channel)
    out = (v.T @ rows).reshape(*counts, c, rows.shape[1])
    n = len(counts)
    order = (n + 1, n, *range(n)) if layout == "mck" else (n, n + 1, *range(n))
    return out.transpose(order)
