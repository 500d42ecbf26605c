"""Batch and instance norm on the machine's channels-last memory against float64 arithmetic.

The norms reduce over axes that are not the contiguous one in the machine's layout, where numpy sums
naively: a float32 mean of a channel far from zero (mean 3, deviation 0.05) was then off enough for
``x - mean`` to put errors of ~10^-4 into the normalised values (found by
tests/test_dag_inference.py's random models against onnx.reference). ``kernels.moments`` sums in
float64; what is left is float32 rounding.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lergan_cc.sim.dag import instancenorm
from lergan_cc.sim.kernels import batchnorm, batchnorm_grad
from lergan_cc.sim.periph import bn_by_rows, bn_grad_by_rows
from tests.conftest import three_parts

EPS32 = float(np.finfo(np.float32).eps)


def channels_last(rng: np.random.Generator, shape: tuple[int, ...], offset: float, spread: float) -> np.ndarray:
    """``(B, C, spatial...)`` values whose memory runs channels-last, as the machine keeps activations."""
    b, c, *spatial = shape
    x = (rng.standard_normal((b, *spatial, c)) * spread + offset * (1 + rng.random(c))).astype(np.float32)
    return np.moveaxis(x, -1, 1)


def normalised(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    x64 = x.astype(np.float64)
    return (x64 - x64.mean(axis=axes, keepdims=True)) / np.sqrt(x64.var(axis=axes, keepdims=True) + eps)


def error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


def bound(x: np.ndarray, want: np.ndarray, axes: tuple[int, ...]) -> float:
    """What float32 itself costs: the mean's own rounding (an ulp of the values), divided by the smallest
    deviation, relative to the largest normalised value; eight times that, plus 10^-6. Naive float32 sums
    of N values are off by ~sqrt(N) ulps: over this bound from N = 64 on."""
    spread = float(np.sqrt(x.astype(np.float64).var(axis=axes).min() + 1e-5))
    return 8 * EPS32 * float(np.abs(x).max()) / spread / float(np.abs(want).max()) + 1e-6


shapes = st.tuples(st.integers(8, 32), st.integers(1, 8), st.integers(8, 24), st.integers(8, 24))


@settings(max_examples=20, deadline=None)
@given(shapes, st.floats(0.0, 10.0), st.floats(0.01, 1.0), st.integers(0, 2**16))
def test_batchnorm_is_float32_accurate(shape: tuple[int, ...], offset: float, spread: float, seed: int) -> None:
    x = channels_last(np.random.default_rng(seed), shape, offset, spread)
    ones, zeros = np.ones(shape[1], np.float32), np.zeros(shape[1], np.float32)
    got, want = batchnorm(x, ones, zeros, ones, ones, 1e-5, True), normalised(x, (0, 2, 3), 1e-5)
    assert error(got, want) < bound(x, want, (0, 2, 3))


@settings(max_examples=20, deadline=None)
@given(shapes, st.floats(0.0, 10.0), st.floats(0.01, 1.0), st.integers(0, 2**16))
def test_instancenorm_is_float32_accurate(shape: tuple[int, ...], offset: float, spread: float, seed: int) -> None:
    b, c, h, w = shape
    x = channels_last(np.random.default_rng(seed), (b, c, 4 * h, 4 * w), offset, spread)
    ones, zeros = np.ones(c, np.float32), np.zeros(c, np.float32)
    want = normalised(x, (2, 3), 1e-5)
    assert error(instancenorm(x, ones, zeros, 1e-5), want) < bound(x, want, (2, 3))


def test_the_case_that_found_it() -> None:
    """Channels of mean 3-6 and deviation 0.05 over 64 x 32 x 32 samples: 1.1e-4 with float32 sums."""
    x = channels_last(np.random.default_rng(0), (64, 8, 32, 32), 3.0, 0.05)
    ones, zeros = np.ones(8, np.float32), np.zeros(8, np.float32)
    got, want = batchnorm(x, ones, zeros, ones, ones, 1e-5, True), normalised(x, (0, 2, 3), 1e-5)
    assert error(got, want) < 1e-5 < bound(x, want, (0, 2, 3))


def _groups(batch: int, shards: int) -> list[slice]:
    edges = np.linspace(0, batch, min(shards, batch) + 1).astype(int)
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


@settings(max_examples=20, deadline=None)
@given(shapes, st.integers(1, 3), st.floats(0.0, 10.0), st.floats(0.01, 1.0), st.integers(0, 2**16))
def test_the_bn_instruction_by_rows_is_float32_accurate(shape: tuple[int, ...], shards: int, offset: float,
                                                        spread: float, seed: int) -> None:
    """The ``bn`` instruction on channels-last memory splits the rows between the threads (periph.bn_by_rows);
    each group of samples (``sync=shard``) against float64, as the kernel is above."""
    rng = np.random.default_rng(seed)
    x = channels_last(rng, shape, offset, spread)
    scale, bias = (rng.random(shape[1]) + 0.5).astype(np.float32), rng.standard_normal(shape[1]).astype(np.float32)
    out = np.empty_like(x)
    groups = _groups(shape[0], shards)
    with three_parts():
        bn_by_rows(x, out, scale, bias, 1e-5, groups)
    for s in groups:
        want = normalised(x[s], (0, 2, 3), 1e-5)
        got = (out[s] - bias.reshape(1, -1, 1, 1)) / scale.reshape(1, -1, 1, 1)
        assert error(got, want) < 2 * bound(x[s], want, (0, 2, 3))


@settings(max_examples=20, deadline=None)
@given(shapes, st.integers(1, 3), st.floats(0.0, 10.0), st.floats(0.01, 1.0), st.integers(0, 2**16))
@example((28, 1, 9, 16), 3, 0.875, 0.5, 555)  # the kernel's float32 sum lucky (xhat_rounding)
def test_the_bn_gradient_by_rows_is_as_accurate_as_the_kernel(shape: tuple[int, ...], shards: int, offset: float,
                                                              spread: float, seed: int) -> None:
    """``bn_grad`` by rows (periph.bn_grad_by_rows: dbias and dscale summed in float64) against the closed-form
    gradient in float64, no worse than the kernel's float32 sums."""
    rng = np.random.default_rng(seed)
    x = channels_last(rng, shape, offset, spread)
    dy = channels_last(rng, shape, 0.0, 1.0)
    scale = (rng.random(shape[1]) + 0.5).astype(np.float32)
    groups = _groups(shape[0], shards)
    dx, ds, db = np.empty_like(x), np.empty((len(groups), shape[1]), np.float32), np.empty((len(groups), shape[1]),
                                                                                         np.float32)
    with three_parts():
        bn_grad_by_rows(x, dy, dx, scale, 1e-5, groups, ds, db)
    for g, s in enumerate(groups):
        want = closed_form_bn_grad(x[s], dy[s], scale, 1e-5)
        kernel = batchnorm_grad(x[s], dy[s], scale, 1e-5)
        floors = (0.0, xhat_rounding(x[s], dy[s], 1e-5) / float(np.abs(want[1]).max()), 0.0)
        for got, old, ref, floor in zip((dx[s], ds[g], db[g]), kernel, want, floors, strict=True):
            assert error(got, ref) <= 1.5 * error(old, ref) + 2 * floor + 1e-6


def xhat_rounding(x: np.ndarray, dy: np.ndarray, eps: float) -> float:
    """What rounding x-hat to float32 costs dscale = sum(dy x-hat), whatever the sum: the largest, over the
    channels, of |sum dy (x-hat in float32 - x-hat)|. Both ways share that error; the kernel's float32 sum
    adds noise that can, by chance, cancel part of it (hypothesis found such a case: one channel, its
    dscale 0.32 out of terms of ~1, the kernel's error 5.5e-6 and the float64 sum's 2.0e-5 of it)."""
    x64, ax = x.astype(np.float64), (0, 2, 3)
    mean, var = x64.mean(axis=ax, keepdims=True), x64.var(axis=ax, keepdims=True)
    exact = normalised(x, ax, eps)
    inv32 = np.float32(1) / np.sqrt(var.astype(np.float32) + np.float32(eps))
    rounded = (x - mean.astype(np.float32)) * inv32
    return float(np.abs((dy.astype(np.float64) * (rounded.astype(np.float64) - exact)).sum(axis=ax)).max())


def closed_form_bn_grad(x: np.ndarray, dy: np.ndarray, scale: np.ndarray, eps: float) -> tuple[np.ndarray, ...]:
    """dx, dscale, dbias of batch norm with batch statistics, in float64."""
    x64, dy64, ax = x.astype(np.float64), dy.astype(np.float64), (0, 2, 3)
    n = x.size // x.shape[1]
    inv = 1 / np.sqrt(x64.var(axis=ax, keepdims=True) + eps)
    xhat = (x64 - x64.mean(axis=ax, keepdims=True)) * inv
    dbias, dscale = dy64.sum(axis=ax), (dy64 * xhat).sum(axis=ax)
    c = (1, -1, 1, 1)  # a per-channel vector against (B, C, H, W)
    dx = scale.reshape(c) * inv / n * (n * dy64 - dbias.reshape(c) - xhat * dscale.reshape(c))
    return dx, dscale, dbias
