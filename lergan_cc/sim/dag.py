"""The instructions of DAG generators as closures: ``vadd``, ``insert``/``extract`` (concat), ``pad``,
``upsample``, ``inorm`` and ``dropout``, each with its gradient (``docs/ISA.md``).

Arrays are ``(batch, channels, spatial...)``; every per-sample axis is ``1 + axis``. The kernels are
plain numpy and keep nothing between calls; a pad's gradient is the transpose of its gather, built per
axis from ``np.pad`` of the positions themselves, so every mode numpy pads with has its exact gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lergan_cc.fsm.values import Ref
from lergan_cc.sim.kernels import moments
from lergan_cc.sim.machine import Machine, Step
from lergan_cc.sim.periph import by_samples


def _n(v: Any) -> str:
    assert isinstance(v, Ref)
    return v.name


def _ints(v: Any) -> list[int]:
    return [int(x) for x in v]


# ---- kernels ------------------------------------------------------------------------------------------
def pad(x: np.ndarray, before: list[int], after: list[int], mode: str, value: float) -> np.ndarray:
    widths = [(0, 0), *zip(before, after, strict=True)]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.float32(value))
    return np.pad(x, widths, mode=mode)  # type: ignore[call-overload]  # mode is one of numpy's (ISA enum)


def pad_sources(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For every position of a padded axis of length ``n``: the input position it holds, or -1 (a constant)."""
    if mode == "constant":
        return np.pad(np.arange(n), (before, after), mode="constant", constant_values=-1)
    return np.pad(np.arange(n), (before, after), mode=mode)  # type: ignore[call-overload]  # as above


def pad_grad(dy: np.ndarray, before: list[int], after: list[int], mode: str) -> np.ndarray:
    """Axis by axis, each padded position's gradient added to the position it holds (the pad's transpose)."""
    out = dy
    for a, (b, e) in enumerate(zip(before, after, strict=True)):
        axis = 1 + a
        n = out.shape[axis] - b - e
        if b == e == 0:
            continue
        src = pad_sources(n, b, e, mode)
        scatter = (src[:, None] == np.arange(n)[None, :]).astype(dy.dtype)  # (padded, n), rows of constants 0
        out = np.moveaxis(np.moveaxis(out, axis, -1) @ scatter, -1, axis)
    return np.ascontiguousarray(out)


def upsample(x: np.ndarray, scales: list[int]) -> np.ndarray:
    for a, s in enumerate(scales):
        x = np.repeat(x, s, axis=2 + a)
    return x


def upsample_grad(dy: np.ndarray, scales: list[int]) -> np.ndarray:
    """Each input position: the sum of the block of ``dy`` its value was copied to."""
    b, c, *spatial = dy.shape
    split = [d for size, s in zip(spatial, scales, strict=True) for d in (size // s, s)]
    return dy.reshape(b, c, *split).sum(axis=tuple(range(3, 2 + 2 * len(scales), 2)))


def _spatial(x: np.ndarray) -> tuple[int, ...]:
    return tuple(range(2, x.ndim))


def _channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def instancenorm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    ax = _spatial(x)
    mean, var = moments(x, ax, keepdims=True)
    y = (x - mean) / np.sqrt(var + np.float32(eps)) * _channel(scale, x.ndim) + _channel(bias, x.ndim)
    return y.astype(x.dtype)


def instancenorm_grad(x: np.ndarray, dy: np.ndarray, scale: np.ndarray, eps: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx, and the per-sample dscale, dbias ``(batch, channels)`` of instance norm."""
    ax = _spatial(x)
    n = math.prod(x.shape[2:])
    mean, var = moments(x, ax, keepdims=True)
    inv = 1.0 / np.sqrt(var + np.float32(eps))
    xhat = (x - mean) * inv
    dbias, dscale = dy.sum(axis=ax), (dy * xhat).sum(axis=ax)
    dx = _channel(scale, x.ndim) * inv / n * (n * dy - dbias.reshape(*dbias.shape, *(1,) * len(ax))
                                              - xhat * dscale.reshape(*dscale.shape, *(1,) * len(ax)))
    return dx.astype(x.dtype), dscale, dbias


def dropout_mask(shape: tuple[int, ...], ratio: float, seed: int, iteration: int, key: int) -> np.ndarray:
    """keep / (1 - ratio), keep ~ Bernoulli(1 - ratio): ``numpy.random.default_rng([seed, iteration, key])``'s
    ``random(shape) >= ratio`` (docs/onnx.md: one mask per layer and training iteration)."""
    rng = np.random.default_rng([seed % 2**32, iteration, key % 2**32])
    keep = rng.random(shape) >= ratio
    return keep.astype(np.float32) / np.float32(1.0 - ratio)


# ---- closures -----------------------------------------------------------------------------------------
def _same(m: Machine, *names: str) -> tuple[int, ...]:
    shapes = {m.full_shape(n) for n in names}
    if len(shapes) != 1:
        raise ValueError(" and ".join(f"%{n} {list(m.full_shape(n))}" for n in names) + " differ in shape")
    return shapes.pop()


def _vadd(o: dict[str, Any], m: Machine) -> Step:
    dst, a, b = _n(o["dst"]), _n(o["a"]), _n(o["b"])
    _same(m, dst, a, b)
    return lambda mm: mm.put(dst, by_samples(np.add, mm.bufs[a], mm.bufs[b]))


def _part(o: dict[str, Any], m: Machine, whole: str, part: str) -> tuple[slice, ...]:
    """The index of ``part`` inside ``whole`` along ``axis`` from ``at`` (insert, extract)."""
    axis, at = 1 + int(o["axis"]), int(o["at"])
    big, small = m.full_shape(whole), m.full_shape(part)
    if len(big) != len(small) or not 1 <= axis < len(big):
        raise ValueError(f"axis {axis - 1} of %{part} {list(small)} in %{whole} {list(big)}")
    if any(a != b for i, (a, b) in enumerate(zip(big, small, strict=True)) if i != axis) \
            or at < 0 or at + small[axis] > big[axis]:
        raise ValueError(f"%{part} {list(small)} at {at} on axis {axis - 1} is not a part of %{whole} {list(big)}")
    return (slice(None),) * axis + (slice(at, at + small[axis]),)


def _insert(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    where = _part(o, m, dst, src)

    def run(mm: Machine) -> None:
        out = np.array(mm.bufs[dst], copy=True)  # its other parts are kept; never write into a shared array
        out[where] = mm.bufs[src]
        mm.put(dst, out)
    return run


def _extract(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    where = _part(o, m, src, dst)
    return lambda mm: mm.put(dst, mm.bufs[src][where])


def _padding(o: dict[str, Any], m: Machine, small: str, big: str) -> tuple[list[int], list[int], str]:
    before, after, mode = _ints(o["before"]), _ints(o["after"]), str(o["mode"])
    s, b = m.full_shape(small), m.full_shape(big)
    want = (s[0], *(d + p + q for d, p, q in zip(s[1:], before, after, strict=True))) \
        if len(before) == len(after) == len(s) - 1 else None
    if want != b or min(before + after, default=0) < 0:
        raise ValueError(f"%{small} {list(s)} padded by {before}/{after} is not %{big} {list(b)}")
    if mode != "constant" and 0 in s:
        raise ValueError(f"a {mode} pad of the empty %{small}")
    return before, after, mode


def _pad(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    before, after, mode = _padding(o, m, src, dst)
    value = float(o["value"])
    return lambda mm: mm.put(dst, pad(mm.bufs[src], before, after, mode, value))


def _pad_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    before, after, mode = _padding(o, m, dst, src)
    return lambda mm: mm.put(dst, pad_grad(mm.bufs[src], before, after, mode))


def _scaled(o: dict[str, Any], m: Machine, small: str, big: str) -> list[int]:
    scales = _ints(o["scales"])
    s, b = m.full_shape(small), m.full_shape(big)
    want = (*s[:2], *(d * k for d, k in zip(s[2:], scales, strict=True))) if len(scales) == len(s) - 2 else None
    if want != b or min(scales, default=1) < 1:
        raise ValueError(f"%{small} {list(s)} upsampled by {scales} is not %{big} {list(b)}")
    return scales


def _upsample(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    scales = _scaled(o, m, src, dst)
    return lambda mm: mm.put(dst, upsample(mm.bufs[src], scales))


def _upsample_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, src = _n(o["dst"]), _n(o["src"])
    scales = _scaled(o, m, dst, src)
    return lambda mm: mm.put(dst, upsample_grad(mm.bufs[src], scales))


def _inorm(o: dict[str, Any], m: Machine) -> Step:
    dst, src, scale, bias, eps = _n(o["dst"]), _n(o["src"]), _n(o["scale"]), _n(o["bias"]), float(o["eps"])
    _same(m, dst, src)
    return lambda mm: mm.put(dst, instancenorm(mm.bufs[src], mm.params[scale], mm.params[bias], eps))


def _inorm_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, x, dy, scale, eps = _n(o["dst"]), _n(o["x"]), _n(o["dy"]), _n(o["scale"]), float(o["eps"])
    if ("dscale" in o) != ("dbias" in o):
        raise ValueError("give both dscale and dbias, or neither")
    _same(m, dst, x, dy)
    grads = [_n(o[k]) for k in ("dscale", "dbias") if k in o]

    def run(mm: Machine) -> None:
        dx, *per_sample = instancenorm_grad(mm.bufs[x], mm.bufs[dy], mm.params[scale], eps)
        mm.put(dst, dx)
        for name, values in zip(grads, per_sample, strict=False):
            for target, samples in mm.sums(name):  # each partial sum adds its shard's samples
                target += values[samples].sum(axis=0)
    return run


def _dropout(o: dict[str, Any], m: Machine) -> Step:
    dst, src, mask, ratio, seed = _n(o["dst"]), _n(o["src"]), _n(o["mask"]), float(o["ratio"]), int(o["seed"])
    shape = _same(m, dst, src, mask)
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"ratio {ratio} is not in [0, 1)")

    def run(mm: Machine) -> None:
        keep = dropout_mask(shape, ratio, mm.host.seed, mm.host.iteration, seed)
        mm.put(mask, keep)
        mm.put(dst, by_samples(np.multiply, mm.bufs[src], keep))
    return run


def _dropout_grad(o: dict[str, Any], m: Machine) -> Step:
    dst, dy, mask = _n(o["dst"]), _n(o["dy"]), _n(o["mask"])
    _same(m, dst, dy, mask)
    return lambda mm: mm.put(dst, by_samples(np.multiply, mm.bufs[dy], mm.bufs[mask]))


COMPILERS: dict[str, Callable[[dict[str, Any], Machine], Step]] = {
    "vadd": _vadd, "insert": _insert, "extract": _extract, "pad": _pad, "pad_grad": _pad_grad,
    "upsample": _upsample, "upsample_grad": _upsample_grad, "inorm": _inorm, "inorm_grad": _inorm_grad,
    "dropout": _dropout, "dropout_grad": _dropout_grad,
}
