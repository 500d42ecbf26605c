"""The numbers the hardware computes, vectorised over batch, channels and loop nests.

Nothing here knows about zero-free reshaping: a crossbar matrix is what ``write`` cut out,
an ``mmv`` gathers through the affine window it is given. The gather is
:func:`lergan_cc.zerofree.executor.gather` (the reference executor's piece).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lergan_cc.zerofree.executor import gather

LOG_FLOOR = -100.0  # log clamp of the probability-form losses (as torch.nn.BCELoss)


# ---- crossbar programming -----------------------------------------------------------------------------
def _select(arr: np.ndarray, lead: int, taps: list[list[int]]) -> np.ndarray:
    return arr[(slice(None),) * lead + np.ix_(*taps)] if taps else arr


def weight_matrix(w: np.ndarray, layout: str, groups: int, taps: list[list[int]]) -> np.ndarray:
    """``(groups, rows, cols)``: rows = (input channel of the group, taps...), cols = outputs of the group."""
    if layout == "dense":
        return w.reshape(1, *w.shape)
    if layout == "dense_t":
        return w.T.reshape(1, w.shape[1], w.shape[0])
    if layout == "tconv":  # (C, M/g, K...)
        c, mg = w.shape[0], w.shape[1]
        sel = _select(w.reshape(groups, c // groups, mg, *w.shape[2:]), 3, taps)
    else:  # sconv (M, C/g, K...)
        m, cg = w.shape[0], w.shape[1]
        sel = np.moveaxis(_select(w.reshape(groups, m // groups, cg, *w.shape[2:]), 3, taps), 1, 2)
    mg = sel.shape[2]
    return np.moveaxis(sel, 2, -1).reshape(groups, -1, mg)


def grad_matrix(dy: np.ndarray, groups: int, taps: list[list[int]]) -> np.ndarray:
    """``(batch, groups, taps, cols)``: one matrix per sample, the output gradient at the tap positions."""
    b, m = dy.shape[0], dy.shape[1]
    sel = _select(dy.reshape(b, groups, m // groups, *dy.shape[2:]), 3, taps)
    return np.moveaxis(sel, 2, -1).reshape(b, groups, -1, m // groups)


# ---- MMV ----------------------------------------------------------------------------------------------
def window_grids(starts: list[int], counts: list[int], a: list[int], seqs: list[list[int]]) -> tuple[np.ndarray, ...]:
    return tuple(ai * np.arange(n)[:, None] + np.asarray(s)[None, :] for n, ai, s in zip(counts, a, seqs, strict=True))


def mmv_forward(xs: np.ndarray, mat: np.ndarray, rank: int) -> np.ndarray:
    """``xs (B, C, p..., t...)`` times ``mat (g, C/g*T, M/g)`` -> ``(B, M, p...)``."""
    b, c = xs.shape[:2]
    counts = xs.shape[2:2 + rank]
    p, t = math.prod(counts), math.prod(xs.shape[2 + rank:])
    g, rows, mg = mat.shape
    if rows != (c // g) * t or c % g:
        raise ValueError(f"matrix {mat.shape} does not fit {c} channels x {t} taps")
    v = xs.reshape(b, g, c // g, p, t).transpose(0, 1, 3, 2, 4).reshape(b, g, p, rows)
    out = np.matmul(v, mat)
    return out.transpose(0, 1, 3, 2).reshape(b, g * mg, *counts)


def mmv_wgrad(xs: np.ndarray, mat: np.ndarray, rank: int, layout: str) -> np.ndarray:
    """Per-sample matrices ``(B, g, T, M/g)``, summed over samples -> weight layout ``mck`` or ``cmk``."""
    b, c = xs.shape[:2]
    counts = xs.shape[2:2 + rank]
    p, t = math.prod(counts), math.prod(xs.shape[2 + rank:])
    _, g, taps, mg = mat.shape
    if taps != t or c % g or mat.shape[0] != b:
        raise ValueError(f"gradient matrix {mat.shape} does not fit {c} channels x {t} taps")
    cg = c // g
    v = xs.reshape(b, g, cg, p, t).transpose(1, 2, 3, 0, 4).reshape(g, cg * p, b * t)
    d = mat.transpose(1, 0, 2, 3).reshape(g, b * t, mg)
    out = np.matmul(v, d).reshape(g, cg, p, mg)
    if layout == "mck":
        return out.transpose(0, 3, 1, 2).reshape(g * mg, cg, *counts)
    return out.transpose(0, 1, 3, 2).reshape(g * cg, mg, *counts)


def gather_window(x: np.ndarray, grids: tuple[np.ndarray, ...]) -> np.ndarray:
    return gather(x, grids) if grids else x


# ---- buffers and peripherals --------------------------------------------------------------------------
def zpad(src: np.ndarray, out: np.ndarray, stride: list[int], before: list[int]) -> np.ndarray:
    """``src`` spread into the zeros ``out``: input i of axis a lands at ``before[a] + stride[a] * i``
    (positions outside ``out`` dropped); strided slices on both sides."""
    src_idx, dst_idx = [], []
    for a, (s, b0) in enumerate(zip(stride, before, strict=True)):
        n_in, n_out = src.shape[2 + a], out.shape[2 + a]
        if s < 1:
            raise ValueError(f"zpad stride {s} on axis {a}: expected a positive integer")
        first = max(0, -(b0 // s)) if b0 < 0 else 0  # the first i with b0 + s*i >= 0
        last = min(n_in, (n_out - 1 - b0) // s + 1) if n_out - 1 - b0 >= 0 else 0  # one past the last in range
        if last <= first:
            return out
        src_idx.append(slice(first, last))
        dst_idx.append(slice(b0 + s * first, b0 + s * (last - 1) + 1, s))
    out[(slice(None), slice(None), *dst_idx)] = src[(slice(None), slice(None), *src_idx)]
    return out


def _leaky_relu(x: np.ndarray, a: float, out: np.ndarray) -> np.ndarray:
    """max(x, a x) for 0 <= a <= 1: the same numbers as where(x > 0, x, a x) in two passes."""
    if not 0.0 <= a <= 1.0:
        np.copyto(out, np.where(x > 0, x, x * np.float32(a)))
        return out
    np.multiply(x, np.float32(a), out=out)
    return np.maximum(x, out, out=out)


def _leaky_relu_grad(y: np.ndarray, dy: np.ndarray, a: float, out: np.ndarray) -> np.ndarray:
    """dy x (1 where y > 0, else a): a dy, then dy where y > 0 (dy x 1 is dy)."""
    np.multiply(dy, np.float32(a), out=out)
    np.copyto(out, dy, where=y > 0)
    return out


def _sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.copyto(out, np.exp(-np.logaddexp(0.0, -x)))
    return out


def _tanh_grad(y: np.ndarray, dy: np.ndarray, out: np.ndarray) -> np.ndarray:
    """dy (1 - y y), in that order."""
    np.multiply(y, y, out=out)
    np.subtract(1, out, out=out)
    return np.multiply(dy, out, out=out)


def _sigmoid_grad(y: np.ndarray, dy: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(dy y) (1 - y), in that order."""
    np.subtract(1, y, out=out)
    return np.multiply(np.multiply(dy, y), out, out=out)


# The activations and their gradients, each written into ``out`` (an array of the input's shape and dtype):
# the peripherals' threads write their part of the batch in place, no temporary of the whole part.
ACT: dict[str, Callable[[np.ndarray, float, np.ndarray], np.ndarray]] = {
    "relu": lambda x, a, out: np.maximum(x, 0, out=out),
    "leaky_relu": _leaky_relu,
    "tanh": lambda x, a, out: np.tanh(x, out=out),
    "sigmoid": lambda x, a, out: _sigmoid(x, out),
}
ACT_GRAD: dict[str, Callable[[np.ndarray, np.ndarray, float, np.ndarray], np.ndarray]] = {  # from the output y
    "relu": lambda y, dy, a, out: np.multiply(dy, y > 0, out=out),
    "leaky_relu": _leaky_relu_grad,
    "tanh": lambda y, dy, a, out: _tanh_grad(y, dy, out),
    "sigmoid": lambda y, dy, a, out: _sigmoid_grad(y, dy, out),
}


def _channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _axes(x: np.ndarray) -> tuple[int, ...]:
    return (0, *range(2, x.ndim))


def moments(x: np.ndarray, axes: tuple[int, ...], keepdims: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance over ``axes``, summed in float64, returned in ``x``'s dtype.

    The machine keeps activations channels-last, so the axes a norm reduces are not the contiguous one and
    numpy sums them one after the other, not pairwise: over a channel of mean 3 and deviation 0.05 a
    float32 mean is then off by ~10^-5 of itself, which ``x - mean`` turns into errors of 10^-4 of the
    normalised values (a test against onnx.reference found it; summed in float64: ~5 x 10^-7)."""
    d = x.astype(np.float64)  # one cast, then in place: 2x a float32 reduction's time, 3x less than dtype=float64
    mean = d.mean(axis=axes, keepdims=True)
    d -= mean
    np.square(d, out=d)
    var = d.mean(axis=axes)
    if keepdims:
        var = var.reshape(mean.shape)
    else:
        mean = mean.reshape(var.shape)
    return mean.astype(x.dtype), var.astype(x.dtype)


def channel_rows(x: np.ndarray) -> np.ndarray | None:
    """The (samples x positions, channels) matrix of a ``(B, C, spatial...)`` array whose memory is
    channels-last, as a view (None for any other memory order)."""
    last = np.moveaxis(x, 1, -1)
    return last.reshape(-1, x.shape[1]) if last.flags.c_contiguous else None


def row_sums(rows: np.ndarray, other: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per channel (column), in float64: the sum of ``rows`` and of its products with ``other`` (default:
    itself, the sum of squares)."""
    return (np.add.reduce(rows, axis=0, dtype=np.float64),
            np.einsum("ij,ij->j", rows, rows if other is None else other, dtype=np.float64))


def moments_of_sums(sums: list[tuple[np.ndarray, np.ndarray]], n: int, dtype: np.dtype[Any]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance from :func:`row_sums` of parts of ``n`` rows in all. E[x^2] - E[x]^2 loses
    ~10^-16 (mean / deviation)^2 of the variance in float64: nothing a float32 result shows (a mean
    10^4 deviations from zero costs 10^-8)."""
    mean = np.sum([s for s, _ in sums], axis=0) / n
    square = np.sum([q for _, q in sums], axis=0) / n
    return mean.astype(dtype), np.maximum(square - mean * mean, 0.0).astype(dtype)


def normalise_rows(rows: np.ndarray, out: np.ndarray, mean: np.ndarray, gain: np.ndarray,
                   bias: np.ndarray | None = None) -> None:
    """``out = (rows - mean) * gain (+ bias)`` in place: the float32 operations of :func:`batchnorm`."""
    np.subtract(rows, mean, out=out)
    out *= gain
    if bias is not None:
        out += bias


def batchnorm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray, mean: np.ndarray, var: np.ndarray, eps: float,
              batch_stats: bool) -> np.ndarray:
    if batch_stats:
        mean, var = moments(x, _axes(x))
    inv = 1.0 / np.sqrt(var + np.float32(eps))
    return ((x - _channel(mean, x.ndim)) * _channel(inv * scale, x.ndim) + _channel(bias, x.ndim)).astype(x.dtype)


def batchnorm_grad(x: np.ndarray, dy: np.ndarray, scale: np.ndarray, eps: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx, dscale, dbias of batch-statistics batch norm."""
    ax = _axes(x)
    n = x.size // x.shape[1]
    mean, var = moments(x, ax)
    inv = 1.0 / np.sqrt(var + np.float32(eps))
    xhat = (x - _channel(mean, x.ndim)) * _channel(inv, x.ndim)
    dbias, dscale = dy.sum(axis=ax), (dy * xhat).sum(axis=ax)
    dx = _channel(scale * inv / n, x.ndim) * (n * dy - _channel(dbias, x.ndim) - xhat * _channel(dscale, x.ndim))
    return dx.astype(x.dtype), dscale, dbias


def batchnorm_param_grads(x: np.ndarray, dy: np.ndarray, eps: float, shards: list[slice]
                          ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """dscale, dbias of each shard's samples, normalised with the statistics of the whole batch."""
    ax = _axes(x)
    mean, var = moments(x, ax)
    xhat = (x - _channel(mean, x.ndim)) * _channel(1.0 / np.sqrt(var + np.float32(eps)), x.ndim)
    return [(dy[s] * xhat[s]).sum(axis=ax) for s in shards], [dy[s].sum(axis=ax) for s in shards]


# ---- host: the GAN losses (Eq. 1, 2) -------------------------------------------------------------------
def _bce(d: np.ndarray, target: int, form: str) -> np.ndarray:
    """Per element -(t log D + (1-t) log(1-D)); ``logit``: D = sigmoid(d) in the stable softplus form."""
    d64 = d.astype(np.float64)
    if form == "logit":
        return np.logaddexp(0.0, -d64) if target else np.logaddexp(0.0, d64)
    with np.errstate(divide="ignore"):
        p = np.log(d64) if target else np.log1p(-d64)
    return -np.maximum(p, LOG_FLOOR)


def _bce_grad(d: np.ndarray, target: int, form: str) -> np.ndarray:
    d64 = d.astype(np.float64)
    if form == "logit":
        s = np.exp(-np.logaddexp(0.0, -d64))
        return s - 1.0 if target else s
    tiny = np.finfo(np.float64).tiny
    return -1.0 / np.maximum(d64, tiny) if target else 1.0 / np.maximum(1.0 - d64, tiny)


# term -> (target, sign) per --g-loss; the generator term follows the run-time choice.
TERMS = {
    ("real", None): (1, 1.0), ("fake", None): (0, 1.0),
    ("gen", "saturating"): (0, -1.0), ("gen", "nonsaturating"): (1, 1.0),
}


def loss_term(d: np.ndarray, term: str, form: str, g_loss: str) -> float:
    target, sign = TERMS[(term, g_loss if term == "gen" else None)]
    return float(sign * _bce(d, target, form).mean())


def loss_term_grad(d: np.ndarray, term: str, form: str, g_loss: str) -> np.ndarray:
    target, sign = TERMS[(term, g_loss if term == "gen" else None)]
    return (sign * _bce_grad(d, target, form) / d.size).astype(np.float32)
